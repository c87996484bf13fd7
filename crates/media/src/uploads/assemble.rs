//! Finishing an upload: its chunks checked and joined, the file stored as the asset's source, and
//! transcoding queued; the same path for files ingested from disk (import, CLI).

use futures::StreamExt;
use platform::auth::AuthUser;
use platform::error::msg;
use platform::ids::{JobId, UserId};
use sha2::{Digest, Sha256};

use super::*;
use crate::Media;
use crate::assets::AssetId;
use crate::states::UploadState;
use crate::{Closed, MediaError, MediaResult};

impl Media {
    /// Assembles the chunks into the source object, checks the checksum, then creates the asset
    /// and its transcoding job in one transaction.
    pub(crate) async fn complete(&self, user: &AuthUser, id: UploadId, req: CompleteRequest) -> MediaResult<AssetId> {
        let row = self.own_upload(user, id).await?;
        match (row.state, row.asset_id) {
            (UploadState::Completed, Some(asset)) => {
                return Err(MediaError::UploadCompleted { asset });
            }
            (UploadState::Open, _) => {}
            _ => {
                return Err(MediaError::UploadClosed(Closed::CompletingOrCancelled));
            }
        }
        let received = self.received(id).await?;
        let missing: Vec<i32> = (0..row.chunk_count)
            .filter(|n| received.binary_search(n).is_err())
            .collect();
        if !missing.is_empty() {
            return Err(MediaError::UploadIncomplete { missing });
        }
        let wanted = match req.sha256.as_deref().map(str::trim) {
            Some(s) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => Some(s.to_ascii_lowercase()),
            Some(_) => {
                return Err(MediaError::field(
                    "sha256",
                    msg("SHA-256 应为 64 位十六进制。", "sha256 must be 64 hex digits."),
                ));
            }
            None => None,
        };
        // Claim the completion so two concurrent calls cannot both assemble.
        let now = self.clock.now();
        let claimed = store::claim(&self.db, id, now).await?;
        if claimed != 1 {
            return Err(MediaError::UploadClosed(Closed::Completing));
        }
        let asset = AssetId::new();
        let source_key = format!("assets/{asset}/source");
        let result = self.assemble(&row, &source_key).await;
        let digest = match result {
            Ok(d) => d,
            Err(e) => {
                let _ = self.store.delete(&source_key).await;
                self.reopen(id).await?;
                return Err(e);
            }
        };
        if wanted.as_ref().is_some_and(|w| *w != digest) {
            let _ = self.store.delete(&source_key).await;
            self.reopen(id).await?;
            return Err(MediaError::ChecksumMismatch);
        }
        let job = JobId::new();
        let payload = serde_json::json!({ "asset_id": asset }).to_string();
        let max_attempts = self.cfg.max_attempts;
        let new = NewAsset {
            id: asset,
            owner: Some(user.id),
            filename: &row.filename,
            content_type: &row.content_type,
            size: row.size,
            sha256: &digest,
            source_key: &source_key,
            job,
            payload: &payload,
            max_attempts,
            now,
        };
        store::complete(&self.db, id, &new).await?;
        for n in 0..row.chunk_count {
            // Leftovers are only wasted space; the periodic clean-up removes them too.
            let _ = self.store.delete(&chunk_key(id, n)).await;
        }
        Ok(asset)
    }

    /// Gives a failed completion back to the uploader (chunks can be re-sent, then completed).
    pub(super) async fn reopen(&self, id: UploadId) -> MediaResult<()> {
        store::reopen(&self.db, id).await?;
        Ok(())
    }

    /// Streams the chunks, in order, into one object; returns its SHA-256.
    pub(super) async fn assemble(&self, row: &UploadRow, key: &str) -> MediaResult<String> {
        let store = self.store.clone();
        let (id, count) = (row.id, row.chunk_count);
        let hasher = std::sync::Arc::new(std::sync::Mutex::new(Sha256::new()));
        let h = hasher.clone();
        let stream = futures::stream::iter(0..count)
            .then(move |n| {
                let store = store.clone();
                async move {
                    store
                        .get(&chunk_key(id, n), None)
                        .await
                        .map(|o| o.body)
                        .map_err(std::io::Error::other)
                }
            })
            .map(|r| match r {
                Ok(body) => body.boxed(),
                Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
            })
            .flatten()
            .map(move |chunk| {
                if let Ok(bytes) = &chunk {
                    if let Ok(mut h) = h.lock() {
                        h.update(bytes);
                    }
                }
                chunk
            })
            .boxed();
        let meta = self.store.put(key, stream).await?;
        if i64::try_from(meta.size).ok() != Some(row.size) {
            return Err(MediaError::Internal(anyhow::anyhow!(
                "assembled {} bytes, expected {}",
                meta.size,
                row.size
            )));
        }
        let digest = hasher
            .lock()
            .map(|h| hex(&h.clone().finalize()))
            .map_err(|_| MediaError::Internal(anyhow::anyhow!("hasher poisoned")))?;
        Ok(digest)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Media {
    /// Stores a whole file as a new asset and queues its transcoding (the CLI and the bulk
    /// import use this; browsers use resumable uploads). A file whose SHA-256 matches an asset
    /// that is not failed is not stored again: that asset is returned, so re-imports do not
    /// duplicate videos.
    pub async fn ingest_file(
        &self,
        owner: Option<UserId>,
        path: &std::path::Path,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> MediaResult<AssetId> {
        let io = |e: std::io::Error| {
            MediaError::field(
                "file",
                msg(format!("无法读取文件：{e}"), format!("Could not read the file: {e}")),
            )
        };
        let size = tokio::fs::metadata(path).await.map_err(io)?.len();
        if size == 0 {
            return Err(MediaError::field(
                "file",
                msg("文件是空的（0 字节）。", "The file is empty."),
            ));
        }
        // Hash first (cheap next to transcoding) to find an asset with the same bytes.
        let mut file = tokio::fs::File::open(path).await.map_err(io)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut file, &mut buf).await.map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let digest = hex(&hasher.finalize());
        let existing: Option<AssetId> = store::asset_with_sha256(&self.db, &digest).await?;
        if let Some(id) = existing {
            progress(size);
            return Ok(id);
        }
        let asset = AssetId::new();
        let source_key = format!("assets/{asset}/source");
        let file = tokio::fs::File::open(path).await.map_err(io)?;
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let progress = std::sync::Arc::new(progress);
        let body = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20)
            .map(move |chunk| {
                if let Ok(c) = &chunk {
                    let total = sent.fetch_add(c.len() as u64, std::sync::atomic::Ordering::Relaxed) + c.len() as u64;
                    progress(total);
                }
                chunk
            })
            .boxed();
        self.store.put(&source_key, body).await?;
        let filename = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| "video".into());
        let now = self.clock.now();
        let job = JobId::new();
        let payload = serde_json::json!({ "asset_id": asset }).to_string();
        let max_attempts = self.cfg.max_attempts;
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        let new = NewAsset {
            id: asset,
            owner,
            filename: &filename,
            content_type: "application/octet-stream",
            size,
            sha256: &digest,
            source_key: &source_key,
            job,
            payload: &payload,
            max_attempts,
            now,
        };
        store::create_asset(&self.db, &new).await?;
        Ok(asset)
    }
}
