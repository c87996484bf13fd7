//! The queries of resumable uploads, one named function each: the upload and its chunks, the
//! completion claim, and the transactions that create an asset with its transcoding job (from a
//! completed upload, or from a file ingested whole), so the asset and its job appear together
//! or not at all.

use platform::ids::{JobId, UserId};
use platform::jobs::Jobs;
use platform::{Db, Timestamp, db_execute, with_db};

use crate::TRANSCODE;
use crate::ids::{AssetId, UploadId};
use crate::states::UploadState;

#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct UploadRow {
    pub(super) id: UploadId,
    pub(super) user_id: UserId,
    pub(super) filename: String,
    pub(super) content_type: String,
    pub(super) size: i64,
    pub(super) chunk_size: i64,
    pub(super) chunk_count: i32,
    #[sqlx(try_from = "String")]
    pub(super) state: UploadState,
    pub(super) asset_id: Option<AssetId>,
    pub(super) expires_at: Timestamp,
}

/// A new upload, open for chunks.
pub(super) struct NewUploadRow<'a> {
    pub(super) id: UploadId,
    pub(super) user: UserId,
    pub(super) filename: &'a str,
    pub(super) content_type: &'a str,
    pub(super) size: i64,
    pub(super) chunk_size: i64,
    pub(super) chunks: i32,
    pub(super) now: Timestamp,
    pub(super) expires: Timestamp,
}

/// A new asset, processing, with the transcoding job that makes it ready.
pub(super) struct NewAsset<'a> {
    pub(super) id: AssetId,
    pub(super) owner: Option<UserId>,
    pub(super) filename: &'a str,
    pub(super) content_type: &'a str,
    pub(super) size: i64,
    pub(super) sha256: &'a str,
    pub(super) source_key: &'a str,
    pub(super) job: JobId,
    /// The job's payload (JSON).
    pub(super) payload: &'a str,
    pub(super) max_attempts: i32,
    pub(super) now: Timestamp,
}

pub(super) async fn upload(db: &Db, id: UploadId) -> Result<Option<UploadRow>, sqlx::Error> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, UploadRow>(
            "SELECT id, user_id, filename, content_type, size, chunk_size, chunk_count, state, \
             asset_id, expires_at FROM uploads WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await
    })
}

/// The numbers of the chunks stored, in order.
pub(super) async fn received(db: &Db, id: UploadId) -> Result<Vec<i32>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, i32>(
        "SELECT n FROM upload_chunks WHERE upload_id = $1 ORDER BY n"
    )
    .bind(id)
    .fetch_all(pool)
    .await)
}

pub(super) async fn insert(db: &Db, u: &NewUploadRow<'_>) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO uploads (id, user_id, filename, content_type, size, chunk_size, chunk_count, state, \
         created_at, updated_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $8, $9)",
        u.id,
        u.user,
        u.filename,
        u.content_type,
        u.size,
        u.chunk_size,
        u.chunks,
        u.now,
        u.expires,
    )?;
    Ok(())
}

/// Records chunk `n` (again replaces it) and extends the upload's life, in one transaction.
pub(super) async fn save_chunk(
    db: &Db,
    id: UploadId,
    n: i32,
    size: i64,
    sha256: &str,
    now: Timestamp,
    expires: Timestamp,
) -> Result<(), sqlx::Error> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO upload_chunks (upload_id, n, size, sha256, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (upload_id, n) DO UPDATE SET size = excluded.size, sha256 = \
             excluded.sha256, created_at = excluded.created_at",
        )
        .bind(id)
        .bind(n)
        .bind(size)
        .bind(sha256)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE uploads SET updated_at = $2, expires_at = $3 WHERE id = $1")
            .bind(id)
            .bind(now)
            .bind(expires)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Reopens the completions left `completing` since before `before` (a crash interrupted them).
pub(super) async fn reopen_stale(db: &Db, before: Timestamp) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "UPDATE uploads SET state = 'open' WHERE state = 'completing' AND updated_at < $1",
        before
    )?;
    Ok(())
}

/// The open uploads past their expiry at `now`, with their chunk counts.
pub(super) async fn expired(db: &Db, now: Timestamp) -> Result<Vec<(UploadId, i32)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, (UploadId, i32)>(
        "SELECT id, chunk_count FROM uploads WHERE state = 'open' AND expires_at < $1",
    )
    .bind(now)
    .fetch_all(pool)
    .await)
}

/// Aborts an upload: its chunk rows go and it is marked aborted, in one transaction.
pub(super) async fn abort(db: &Db, id: UploadId, now: Timestamp) -> Result<(), sqlx::Error> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query("DELETE FROM upload_chunks WHERE upload_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE uploads SET state = 'aborted', updated_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Claims the completion of an open upload; returns the rows changed (1: claimed).
pub(super) async fn claim(db: &Db, id: UploadId, now: Timestamp) -> Result<u64, sqlx::Error> {
    db_execute!(
        db,
        "UPDATE uploads SET state = 'completing', updated_at = $2 WHERE id = $1 AND state = 'open'",
        id,
        now
    )
}

/// Gives a claimed completion back (the upload is open again).
pub(super) async fn reopen(db: &Db, id: UploadId) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "UPDATE uploads SET state = 'open' WHERE id = $1 AND state = 'completing'",
        id
    )?;
    Ok(())
}

/// Completes upload `id` as asset `a`, in one transaction: the asset, its transcoding job, the
/// upload marked completed, and its chunk rows gone.
pub(super) async fn complete(db: &Db, id: UploadId, a: &NewAsset<'_>) -> Result<(), sqlx::Error> {
    insert_asset(db, a, Some(id)).await
}

/// An asset with these bytes (by SHA-256) that has not failed, the oldest first.
pub(super) async fn asset_with_sha256(db: &Db, sha256: &str) -> Result<Option<AssetId>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, AssetId>(
        "SELECT id FROM assets WHERE sha256 = $1 AND state <> 'failed' ORDER BY id LIMIT 1",
    )
    .bind(sha256)
    .fetch_optional(pool)
    .await)
}

/// Creates asset `a` and its transcoding job in one transaction (a file ingested whole).
pub(super) async fn create_asset(db: &Db, a: &NewAsset<'_>) -> Result<(), sqlx::Error> {
    insert_asset(db, a, None).await
}

/// The asset, its transcoding job and, for a completed upload, the upload marked completed and
/// its chunk rows gone: one transaction.
async fn insert_asset(db: &Db, a: &NewAsset<'_>, upload: Option<UploadId>) -> Result<(), sqlx::Error> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO assets (id, owner_id, state, filename, content_type, size, sha256, \
             source_key, job_id, created_at, updated_at)
                 VALUES ($1, $2, 'processing', $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(a.id)
        .bind(a.owner)
        .bind(a.filename)
        .bind(a.content_type)
        .bind(a.size)
        .bind(a.sha256)
        .bind(a.source_key)
        .bind(a.job)
        .bind(a.now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(Jobs::INSERT_SQL)
            .bind(a.job)
            .bind(TRANSCODE)
            .bind(a.payload)
            .bind(a.max_attempts)
            .bind(a.now)
            .execute(&mut *tx)
            .await?;
        if let Some(id) = upload {
            sqlx::query("UPDATE uploads SET state = 'completed', asset_id = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(a.id)
                .bind(a.now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM upload_chunks WHERE upload_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}
