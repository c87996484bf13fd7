//! Resumable uploads: create, send numbered chunks in any order (a chunk may be sent again),
//! ask which are stored, complete with an optional SHA-256. Chunks live in the object store
//! until completion assembles them into the asset's source object; nothing is half-written:
//! the asset and its transcoding job appear in one transaction after the source is complete.

use axum::extract::State;
use axum::http::StatusCode;
use futures::StreamExt;
use platform::auth::AuthUser;
use platform::error::{ApiError, ApiResult, msg};
use platform::http::{ApiRouter, Json, Path, RawBody};
use platform::ids::{JobId, UserId};
use platform::jobs::Jobs;
use platform::validate::{self, Role};
use platform::{Timestamp, db_execute, with_db};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::assets::AssetId;
use crate::{Media, TRANSCODE};

platform::new_id!(
    /// A resumable upload.
    UploadId
);

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
    /// open, completing, completed or aborted.
    pub state: String,
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

#[derive(Debug, Clone, sqlx::FromRow)]
struct UploadRow {
    id: UploadId,
    user_id: UserId,
    filename: String,
    content_type: String,
    size: i64,
    chunk_size: i64,
    chunk_count: i32,
    state: String,
    asset_id: Option<AssetId>,
    expires_at: Timestamp,
}

fn upload_not_found() -> ApiError {
    ApiError::not_found(
        "upload_not_found",
        msg("上传任务不存在或已过期。", "No such upload, or it has expired."),
    )
}

fn chunk_key(id: UploadId, n: i32) -> String {
    format!("uploads/{id}/{n:06}")
}

impl Media {
    async fn upload(&self, id: UploadId) -> ApiResult<Option<UploadRow>> {
        Ok(with_db!(&self.db, |pool| {
            sqlx::query_as::<_, UploadRow>(
                "SELECT id, user_id, filename, content_type, size, chunk_size, chunk_count, state, \
                 asset_id, expires_at \
                 FROM uploads WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
        })?)
    }

    /// The caller's upload; someone else's is refused.
    async fn own_upload(&self, user: &AuthUser, id: UploadId) -> ApiResult<UploadRow> {
        let row = self.upload(id).await?.ok_or_else(upload_not_found)?;
        if row.user_id != user.id {
            return Err(ApiError::forbidden(
                "not_your_upload",
                msg("这不是你的上传任务。", "This upload belongs to someone else."),
            ));
        }
        Ok(row)
    }

    async fn received(&self, id: UploadId) -> ApiResult<Vec<i32>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_scalar::<_, i32>(
            "SELECT n FROM upload_chunks WHERE upload_id = $1 ORDER BY n"
        )
        .bind(id)
        .fetch_all(pool)
        .await)?)
    }

    async fn view(&self, row: UploadRow) -> ApiResult<UploadView> {
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

    pub(crate) async fn create_upload(&self, user: &AuthUser, req: NewUpload) -> ApiResult<UploadView> {
        let filename = validate::name(&req.filename, 255).map_err(|m| ApiError::invalid_field("filename", m))?;
        let max = i64::try_from(self.cfg.max_upload_bytes).unwrap_or(i64::MAX);
        if req.size <= 0 {
            return Err(ApiError::invalid_field(
                "size",
                msg("文件是空的（0 字节），请选择视频文件。", "The file is empty (0 bytes)."),
            ));
        }
        if req.size > max {
            return Err(ApiError::invalid_field(
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
            return Err(ApiError::invalid_field(
                "content_type",
                msg("文件类型无效。", "Invalid content type."),
            ));
        }
        let chunk_size = i64::try_from(self.cfg.chunk_size_bytes.max(1)).unwrap_or(i64::MAX);
        let chunks = i32::try_from((req.size + chunk_size - 1) / chunk_size)
            .map_err(|_| ApiError::invalid_field("size", msg("文件太大。", "Too large.")))?;
        let id = UploadId::new();
        let now = self.clock.now();
        let expires = self.expiry(now);
        db_execute!(
            &self.db,
            "INSERT INTO uploads (id, user_id, filename, content_type, size, chunk_size, \
             chunk_count, state, \
             created_at, updated_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $8, $9)",
            id,
            user.id,
            &filename,
            &content_type,
            req.size,
            chunk_size,
            chunks,
            now,
            expires,
        )?;
        Ok(UploadView {
            id,
            filename,
            size: req.size,
            chunk_size,
            chunks,
            received: Vec::new(),
            state: "open".into(),
            asset_id: None,
            expires_at: expires,
        })
    }

    pub(crate) async fn put_chunk(&self, user: &AuthUser, id: UploadId, n: i32, body: bytes::Bytes) -> ApiResult<()> {
        let row = self.own_upload(user, id).await?;
        if row.state != "open" {
            return Err(ApiError::conflict(
                "upload_closed",
                msg(
                    "上传已完成或已取消，不能再发送分片。",
                    "The upload is finished or cancelled.",
                ),
            ));
        }
        if n < 0 || n >= row.chunk_count {
            return Err(ApiError::invalid_field(
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
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "wrong_chunk_size",
                msg(
                    format!("分片 {n} 应为 {expected} 字节，收到 {} 字节。", body.len()),
                    format!("Chunk {n} must have {expected} bytes, got {}.", body.len()),
                ),
            ));
        }
        let digest = hex(&Sha256::digest(&body));
        let size = body.len() as i64;
        self.store.put_bytes(&chunk_key(id, n), body).await?;
        let now = self.clock.now();
        with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO upload_chunks (upload_id, n, size, sha256, created_at) VALUES ($1, $2, $3, \
                 $4, $5)
                 ON CONFLICT (upload_id, n) DO UPDATE SET size = excluded.size, sha256 = \
                 excluded.sha256, created_at \
                 = excluded.created_at",
            )
            .bind(id)
            .bind(n)
            .bind(size)
            .bind(&digest)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE uploads SET updated_at = $2, expires_at = $3 WHERE id = $1")
                .bind(id)
                .bind(now)
                .bind(self.expiry(now))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Assembles the chunks into the source object, checks the checksum, then creates the asset
    /// and its transcoding job in one transaction.
    pub(crate) async fn complete(&self, user: &AuthUser, id: UploadId, req: CompleteRequest) -> ApiResult<AssetId> {
        let row = self.own_upload(user, id).await?;
        match (row.state.as_str(), row.asset_id) {
            ("completed", Some(asset)) => {
                return Err(ApiError::conflict(
                    "upload_completed",
                    msg("该上传已经完成。", "This upload is already complete."),
                )
                .with_extra("asset_id", serde_json::json!(asset)));
            }
            ("open", _) => {}
            _ => {
                return Err(ApiError::conflict(
                    "upload_closed",
                    msg(
                        "上传正在处理或已取消。",
                        "The upload is being completed or was cancelled.",
                    ),
                ));
            }
        }
        let received = self.received(id).await?;
        let missing: Vec<i32> = (0..row.chunk_count)
            .filter(|n| received.binary_search(n).is_err())
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::conflict(
                "upload_incomplete",
                msg(
                    format!("还有 {} 个分片未上传。", missing.len()),
                    format!("{} chunks are missing.", missing.len()),
                ),
            )
            .with_extra("missing", serde_json::json!(missing)));
        }
        let wanted = match req.sha256.as_deref().map(str::trim) {
            Some(s) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => Some(s.to_ascii_lowercase()),
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "sha256",
                    msg("SHA-256 应为 64 位十六进制。", "sha256 must be 64 hex digits."),
                ));
            }
            None => None,
        };
        // Claim the completion so two concurrent calls cannot both assemble.
        let now = self.clock.now();
        let claimed = db_execute!(
            &self.db,
            "UPDATE uploads SET state = 'completing', updated_at = $2 WHERE id = $1 AND state = \
             'open'",
            id,
            now
        )?;
        if claimed != 1 {
            return Err(ApiError::conflict(
                "upload_closed",
                msg("上传正在处理中。", "The upload is being completed."),
            ));
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
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "checksum_mismatch",
                msg(
                    "文件校验失败：收到的内容与 SHA-256 不一致，请重新上传有问题的分片。",
                    "Checksum mismatch: the received bytes do not match the SHA-256.",
                ),
            ));
        }
        let job = JobId::new();
        let payload = serde_json::json!({ "asset_id": asset }).to_string();
        let max_attempts = self.cfg.max_attempts.max(1);
        with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO assets (id, owner_id, state, filename, content_type, size, sha256, \
                 source_key, job_id, \
                 created_at, updated_at)
                 VALUES ($1, $2, 'processing', $3, $4, $5, $6, $7, $8, $9, $9)",
            )
            .bind(asset)
            .bind(user.id)
            .bind(&row.filename)
            .bind(&row.content_type)
            .bind(row.size)
            .bind(&digest)
            .bind(&source_key)
            .bind(job)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(Jobs::INSERT_SQL)
                .bind(job)
                .bind(TRANSCODE)
                .bind(&payload)
                .bind(max_attempts)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE uploads SET state = 'completed', asset_id = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(asset)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM upload_chunks WHERE upload_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        for n in 0..row.chunk_count {
            // Leftovers are only wasted space; the periodic clean-up removes them too.
            let _ = self.store.delete(&chunk_key(id, n)).await;
        }
        Ok(asset)
    }

    /// Gives a failed completion back to the uploader (chunks can be re-sent, then completed).
    async fn reopen(&self, id: UploadId) -> ApiResult<()> {
        db_execute!(
            &self.db,
            "UPDATE uploads SET state = 'open' WHERE id = $1 AND state = 'completing'",
            id
        )?;
        Ok(())
    }

    /// Streams the chunks, in order, into one object; returns its SHA-256.
    async fn assemble(&self, row: &UploadRow, key: &str) -> ApiResult<String> {
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
            return Err(ApiError::internal(anyhow::anyhow!(
                "assembled {} bytes, expected {}",
                meta.size,
                row.size
            )));
        }
        let digest = hasher
            .lock()
            .map(|h| hex(&h.clone().finalize()))
            .map_err(|_| ApiError::internal(anyhow::anyhow!("hasher poisoned")))?;
        Ok(digest)
    }

    /// Removes uploads left unfinished past their expiry, with their chunks, and reopens
    /// completions interrupted by a crash. Returns how many uploads were removed.
    pub async fn clean_up_uploads(&self) -> ApiResult<usize> {
        let now = self.clock.now();
        db_execute!(
            &self.db,
            "UPDATE uploads SET state = 'open' WHERE state = 'completing' AND updated_at < $1",
            now.plus_seconds(-600)
        )?;
        let expired: Vec<(UploadId, i32)> = with_db!(&self.db, |pool| sqlx::query_as::<_, (UploadId, i32)>(
            "SELECT id, chunk_count FROM uploads WHERE state = 'open' AND expires_at < $1",
        )
        .bind(now)
        .fetch_all(pool)
        .await)?;
        for (id, count) in &expired {
            for n in 0..*count {
                let _ = self.store.delete(&chunk_key(*id, n)).await;
            }
            with_db!(&self.db, |pool| {
                let mut tx = pool.begin().await?;
                sqlx::query("DELETE FROM upload_chunks WHERE upload_id = $1")
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE uploads SET state = 'aborted', updated_at = $2 WHERE id = $1")
                    .bind(*id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            });
        }
        Ok(expired.len())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn router(chunk_limit: usize) -> ApiRouter<Media> {
    ApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(status))
        .routes(routes!(complete))
        .merge(
            ApiRouter::new()
                .routes(routes!(put_chunk))
                .layer(axum::extract::DefaultBodyLimit::max(chunk_limit)),
        )
}

fn may_upload(user: &AuthUser) -> ApiResult<()> {
    user.require_role(&[Role::Expert, Role::Curator, Role::Admin])
}

/// Start a resumable upload (experts, curators, admins).
#[utoipa::path(post, path = "/api/v1/uploads", tag = "media", request_body = NewUpload,
    responses((status = 201, body = UploadView), (status = 422)), security(("bearer" = [])))]
async fn create(
    State(media): State<Media>,
    auth: AuthUser,
    Json(req): Json<NewUpload>,
) -> ApiResult<(StatusCode, Json<UploadView>)> {
    may_upload(&auth)?;
    Ok((StatusCode::CREATED, Json(media.create_upload(&auth, req).await?)))
}

/// Send chunk `n` (raw bytes); sending a chunk again replaces it.
#[utoipa::path(put, path = "/api/v1/uploads/{id}/chunks/{n}", tag = "media",
    params(("id" = UploadId, Path), ("n" = i32, Path)), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 204), (status = 403), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn put_chunk(
    State(media): State<Media>,
    auth: AuthUser,
    Path((id, n)): Path<(UploadId, i32)>,
    RawBody(body): RawBody,
) -> ApiResult<StatusCode> {
    media.put_chunk(&auth, id, n, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which chunks are stored (to resume after a reload or a restart).
#[utoipa::path(get, path = "/api/v1/uploads/{id}", tag = "media", params(("id" = UploadId, Path)),
    responses((status = 200, body = UploadView), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn status(State(media): State<Media>, auth: AuthUser, Path(id): Path<UploadId>) -> ApiResult<Json<UploadView>> {
    let row = media.own_upload(&auth, id).await?;
    Ok(Json(media.view(row).await?))
}

/// Finish the upload: the file is checked and queued for transcoding.
#[utoipa::path(post, path = "/api/v1/uploads/{id}/complete", tag = "media", params(("id" = UploadId, Path)),
    request_body = CompleteRequest,
    responses((status = 201, body = Completed), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn complete(
    State(media): State<Media>,
    auth: AuthUser,
    Path(id): Path<UploadId>,
    Json(req): Json<CompleteRequest>,
) -> ApiResult<(StatusCode, Json<Completed>)> {
    let asset_id = media.complete(&auth, id, req).await?;
    Ok((StatusCode::CREATED, Json(Completed { asset_id })))
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
    ) -> ApiResult<AssetId> {
        let io = |e: std::io::Error| {
            ApiError::invalid_field(
                "file",
                msg(format!("无法读取文件：{e}"), format!("Could not read the file: {e}")),
            )
        };
        let size = tokio::fs::metadata(path).await.map_err(io)?.len();
        if size == 0 {
            return Err(ApiError::invalid_field(
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
        let existing: Option<AssetId> = with_db!(&self.db, |pool| sqlx::query_scalar::<_, AssetId>(
            "SELECT id FROM assets WHERE sha256 = $1 AND state <> 'failed' ORDER BY id LIMIT 1",
        )
        .bind(&digest)
        .fetch_optional(pool)
        .await)?;
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
        let max_attempts = self.cfg.max_attempts.max(1);
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO assets (id, owner_id, state, filename, content_type, size, sha256, \
                 source_key, job_id, \
                 created_at, updated_at)
                 VALUES ($1, $2, 'processing', $3, $4, $5, $6, $7, $8, $9, $9)",
            )
            .bind(asset)
            .bind(owner)
            .bind(&filename)
            .bind("application/octet-stream")
            .bind(size)
            .bind(&digest)
            .bind(&source_key)
            .bind(job)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(Jobs::INSERT_SQL)
                .bind(job)
                .bind(TRANSCODE)
                .bind(&payload)
                .bind(max_attempts)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(asset)
    }
}
