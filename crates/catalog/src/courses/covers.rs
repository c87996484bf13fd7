//! Cover images: sniffed, stored under a content-addressed key, served for a year.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;
use crate::Catalog;
use crate::{CatalogError, CatalogResult};

pub(super) const MAX_COVER_BYTES: usize = 5 * 1024 * 1024;

pub(crate) fn image_kind(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("jpg", "image/jpeg"))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("png", "image/png"))
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(("webp", "image/webp"))
    } else {
        None
    }
}

impl Catalog {
    /// Stores a cover image under a content-addressed key and points the course at it.
    pub(crate) async fn set_cover(&self, id: CourseId, body: bytes::Bytes) -> CatalogResult<()> {
        let (ext, _) = image_kind(&body).ok_or(CatalogError::UnsupportedImage)?;
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&body);
        let key = format!("covers/{id}/{}.{ext}", URL_SAFE_NO_PAD.encode(&digest[..12]));
        self.store.put_bytes(&key, body).await?;
        let old = self.cover_key(id).await?;
        self.set_cover_key(id, &key, self.clock.now()).await?;
        if let Some(old) = old.filter(|o| *o != key) {
            // The course no longer points at it; a failure here only leaves an orphan object.
            let _ = self.store.delete(&old).await;
        }
        Ok(())
    }
}
