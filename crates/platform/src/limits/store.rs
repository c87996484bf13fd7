//! The rate-limit queries over `rate_limits`: count one attempt in a bucket's window (one
//! upsert, so concurrent attempts each count), forget windows that have passed, forget a bucket.

use crate::{Db, Timestamp, db_execute, with_db};

/// Counts one attempt in `bucket` at `now`: a window that started at or before `expired_before`
/// starts again at `now`. Returns the window's start and its attempts so far.
pub(super) async fn count_hit(
    db: &Db,
    bucket: &str,
    now: Timestamp,
    expired_before: i64,
) -> Result<(i64, i32), sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1)
         ON CONFLICT (bucket) DO UPDATE SET
           hits = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits.hits + 1 END,
           window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 ELSE rate_limits.window_start END
         RETURNING window_start, hits",
    )
    .bind(bucket)
    .bind(now.0)
    .bind(expired_before)
    .fetch_one(pool)
    .await)
}

/// Forgets every bucket whose window started at or before `expired_before`.
pub(super) async fn forget_expired(db: &Db, expired_before: i64) -> Result<(), sqlx::Error> {
    db_execute!(db, "DELETE FROM rate_limits WHERE window_start <= $1", expired_before)?;
    Ok(())
}

/// Forgets `bucket`.
pub(super) async fn forget(db: &Db, bucket: &str) -> Result<(), sqlx::Error> {
    db_execute!(db, "DELETE FROM rate_limits WHERE bucket = $1", bucket)?;
    Ok(())
}
