//! The queries of the transcoding job, one named function each: what an attempt writes on its
//! asset (ready with its renditions, or the reason it failed), and how many assets are still
//! processing. Both writes apply only to an asset still processing, so a late attempt never
//! overwrites the outcome of another.

use platform::{Db, Timestamp, db_execute, with_db};

use crate::assets::Rendition;
use crate::ids::AssetId;

/// Notes a failed attempt on `asset` while it is processing: its new `state` (still processing
/// while retries remain, or failed) and the `reason`. Returns the rows changed.
pub(super) async fn note_failure(
    db: &Db,
    asset: AssetId,
    state: &str,
    reason: &str,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    db_execute!(
        db,
        "UPDATE assets SET state = $2, error = $3, updated_at = $4 WHERE id = $1 AND state = 'processing'",
        asset,
        state,
        reason,
        now,
    )
}

/// What a successful attempt made of an asset.
pub(super) struct Transcoded<'a> {
    /// Where the renditions are in the store.
    pub(super) prefix: &'a str,
    pub(super) duration_ms: i64,
    pub(super) width: Option<i32>,
    pub(super) height: Option<i32>,
    pub(super) renditions: &'a [Rendition],
}

/// Marks `asset` ready with what the attempt made, when it is still processing; returns the rows
/// changed (0: another attempt won meanwhile).
pub(super) async fn mark_ready(
    db: &Db,
    asset: AssetId,
    done: &Transcoded<'_>,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    db_execute!(
        db,
        "UPDATE assets SET state = 'ready', hls_prefix = $2, duration_ms = $3, width = $4, height = $5, \
         renditions = $6,
                progress = 100, error = NULL, updated_at = $7
             WHERE id = $1 AND state = 'processing'",
        asset,
        done.prefix,
        done.duration_ms,
        done.width,
        done.height,
        serde_json::to_string(done.renditions).unwrap_or_else(|_| "[]".into()),
        now,
    )
}

/// How many assets are processing.
pub(super) async fn processing_count(db: &Db) -> Result<i64, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM assets WHERE state = 'processing'"
    )
    .fetch_one(pool)
    .await)
}
