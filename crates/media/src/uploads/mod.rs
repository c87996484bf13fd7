//! Resumable uploads: create, send numbered chunks in any order (a chunk may be sent again),
//! ask which are stored, complete with an optional SHA-256. Chunks live in the object store
//! until completion assembles them into the asset's source object; nothing is half-written:
//! the asset and its transcoding job appear in one transaction after the source is complete.

use axum::extract::State;
use platform::Timestamp;
use platform::auth::AuthUser;
use platform::error::msg;
use platform::validate::{self};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::Media;
use crate::assets::AssetId;
use crate::states::UploadState;

mod assemble;
mod routes;
mod store;

pub use crate::ids::UploadId;
use crate::{Closed, MediaError, MediaResult};
use assemble::*;
pub use routes::*;
use store::{NewAsset, NewUploadRow, UploadRow};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUpload {
    pub filename: String,
    /// Bytes.
    pub size: i64,
    #[serde(default)]
    pub content_type: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    pub id: UploadId,
    pub filename: String,
    pub size: i64,
    /// Every chunk but the last has exactly this many bytes.
    pub chunk_size: i64,
    /// Number of chunks, numbered from 0.
    pub chunks: i32,
    /// Chunks stored so far.
    pub received: Vec<i32>,
    pub state: UploadState,
    pub asset_id: Option<AssetId>,
    pub expires_at: Timestamp,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// Hex SHA-256 of the whole file; checked when given.
    pub sha256: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Completed {
    pub asset_id: AssetId,
}

fn chunk_key(id: UploadId, n: i32) -> String {
    format!("uploads/{id}/{n:06}")
}

impl Media {
    async fn upload(&self, id: UploadId) -> MediaResult<Option<UploadRow>> {
        Ok(store::upload(&self.db, id).await?)
    }

    /// The caller's upload; someone else's is refused.
    async fn own_upload(&self, user: &AuthUser, id: UploadId) -> MediaResult<UploadRow> {
        let row = self.upload(id).await?.ok_or(MediaError::UploadNotFound)?;
        if row.user_id != user.id {
            return Err(MediaError::NotYourUpload);
        }
        Ok(row)
    }

    async fn received(&self, id: UploadId) -> MediaResult<Vec<i32>> {
        Ok(store::received(&self.db, id).await?)
    }

    async fn view(&self, row: UploadRow) -> MediaResult<UploadView> {
        Ok(UploadView {
            received: self.received(row.id).await?,
            id: row.id,
            filename: row.filename,
            size: row.size,
            chunk_size: row.chunk_size,
            chunks: row.chunk_count,
            state: row.state,
            asset_id: row.asset_id,
            expires_at: row.expires_at,
        })
    }

    fn expiry(&self, now: Timestamp) -> Timestamp {
        now.plus_seconds(i64::try_from(self.cfg.upload_ttl_hours * 3600).unwrap_or(i64::MAX / 2000))
    }

    pub(crate) async fn create_upload(&self, user: &AuthUser, req: NewUpload) -> MediaResult<UploadView> {
        let filename = validate::name(&req.filename, 255).map_err(|m| MediaError::field("filename", m))?;
        let max = i64::try_from(self.cfg.max_upload_bytes).unwrap_or(i64::MAX);
        if req.size <= 0 {
            return Err(MediaError::field(
                "size",
                msg("文件是空的（0 字节），请选择视频文件。", "The file is empty (0 bytes)."),
            ));
        }
        if req.size > max {
            return Err(MediaError::field(
                "size",
                msg(
                    format!("文件太大：最大 {} MB。", max / 1024 / 1024),
                    format!("The file is too large: at most {} MB.", max / 1024 / 1024),
                ),
            ));
        }
        let content_type = if req.content_type.trim().is_empty() {
            "application/octet-stream".to_owned()
        } else {
            req.content_type.trim().to_owned()
        };
        if content_type.len() > 100 {
            return Err(MediaError::field(
                "content_type",
                msg("文件类型无效。", "Invalid content type."),
            ));
        }
        let chunk_size = i64::try_from(self.cfg.chunk_size_bytes).unwrap_or(i64::MAX);
        let chunks = i32::try_from((req.size + chunk_size - 1) / chunk_size)
            .map_err(|_| MediaError::field("size", msg("文件太大。", "Too large.")))?;
        let id = UploadId::new();
        let now = self.clock.now();
        let expires = self.expiry(now);
        let new = NewUploadRow {
            id,
            user: user.id,
            filename: &filename,
            content_type: &content_type,
            size: req.size,
            chunk_size,
            chunks,
            now,
            expires,
        };
        store::insert(&self.db, &new).await?;
        Ok(UploadView {
            id,
            filename,
            size: req.size,
            chunk_size,
            chunks,
            received: Vec::new(),
            state: UploadState::Open,
            asset_id: None,
            expires_at: expires,
        })
    }

    pub(crate) async fn put_chunk(&self, user: &AuthUser, id: UploadId, n: i32, body: bytes::Bytes) -> MediaResult<()> {
        let row = self.own_upload(user, id).await?;
        if row.state != UploadState::Open {
            return Err(MediaError::UploadClosed(Closed::ForChunks));
        }
        if n < 0 || n >= row.chunk_count {
            return Err(MediaError::field(
                "n",
                msg(
                    format!("分片编号超出范围：应为 0 到 {}。", row.chunk_count - 1),
                    format!("Chunk number out of range: use 0 to {}.", row.chunk_count - 1),
                ),
            ));
        }
        let expected = if n == row.chunk_count - 1 {
            row.size - row.chunk_size * i64::from(row.chunk_count - 1)
        } else {
            row.chunk_size
        };
        if body.len() as i64 != expected {
            return Err(MediaError::WrongChunkSize {
                n,
                expected,
                got: body.len(),
            });
        }
        let digest = hex(&Sha256::digest(&body));
        let size = body.len() as i64;
        self.store.put_bytes(&chunk_key(id, n), body).await?;
        let now = self.clock.now();
        store::save_chunk(&self.db, id, n, size, &digest, now, self.expiry(now)).await?;
        Ok(())
    }

    /// Removes uploads left unfinished past their expiry, with their chunks, and reopens
    /// completions interrupted by a crash. Returns how many uploads were removed.
    pub async fn clean_up_uploads(&self) -> MediaResult<usize> {
        let now = self.clock.now();
        store::reopen_stale(&self.db, now.plus_seconds(-600)).await?;
        let expired: Vec<(UploadId, i32)> = store::expired(&self.db, now).await?;
        for (id, count) in &expired {
            for n in 0..*count {
                let _ = self.store.delete(&chunk_key(*id, n)).await;
            }
            store::abort(&self.db, *id, now).await?;
        }
        Ok(expired.len())
    }
}
