//! Media's identifiers, at the bottom of the crate so that everything (errors included) may name
//! them.

platform::new_id!(
    /// A media asset.
    AssetId
);

platform::new_id!(
    /// A resumable upload.
    UploadId
);
