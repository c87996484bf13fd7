//! The states of an asset and of an upload, as the API shows them and the tables store them
//! (each table's CHECK constraint admits exactly these).

use platform::validate::UnknownValue;
use serde::Serialize;
use utoipa::ToSchema;

/// Where an asset is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AssetState {
    /// Its upload is not complete yet.
    Uploading,
    /// Being transcoded.
    Processing,
    /// Playable.
    Ready,
    Failed,
}

impl AssetState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uploading => "uploading",
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }
}

impl TryFrom<String> for AssetState {
    type Error = UnknownValue;
    fn try_from(s: String) -> Result<Self, UnknownValue> {
        Ok(match s.as_str() {
            "uploading" => Self::Uploading,
            "processing" => Self::Processing,
            "ready" => Self::Ready,
            "failed" => Self::Failed,
            _ => return Err(UnknownValue(s)),
        })
    }
}

/// Where a resumable upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UploadState {
    /// Taking chunks.
    Open,
    /// Its chunks are being joined into the asset's source.
    Completing,
    Completed,
    Aborted,
}

impl UploadState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Completing => "completing",
            Self::Completed => "completed",
            Self::Aborted => "aborted",
        }
    }
}

impl TryFrom<String> for UploadState {
    type Error = UnknownValue;
    fn try_from(s: String) -> Result<Self, UnknownValue> {
        Ok(match s.as_str() {
            "open" => Self::Open,
            "completing" => Self::Completing,
            "completed" => Self::Completed,
            "aborted" => Self::Aborted,
            _ => return Err(UnknownValue(s)),
        })
    }
}
