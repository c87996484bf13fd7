//! Fixed-window rate limits kept in the database (`rate_limits`), so that every node counts the
//! same attempts and a restart forgets nothing: the one home for "at most `limit` tries per
//! window per bucket" (logins, registrations, join codes, WHEP offers).

use crate::error::{ApiError, ApiResult};
use crate::{Db, Timestamp, db_execute, with_db};

/// Counts one attempt in `bucket`'s window of `window_ms` at `now`; past `limit` in the window,
/// 429 with `Retry-After`. One statement (an upsert), so concurrent attempts each count.
pub async fn hit(db: &Db, bucket: &str, limit: u32, window_ms: i64, now: Timestamp) -> ApiResult<()> {
    let window_ms = window_ms.max(1000);
    let expired_before = now.0 - window_ms;
    let (window_start, hits): (i64, i32) = with_db!(db, |pool| sqlx::query_as(
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
    .await)?;
    if rand::random::<u8>() == 0 {
        // Now and then, forget buckets whose window has passed.
        db_execute!(db, "DELETE FROM rate_limits WHERE window_start <= $1", expired_before)?;
    }
    if u32::try_from(hits).unwrap_or(u32::MAX) > limit {
        let retry_ms = (window_start + window_ms - now.0).max(1000);
        return Err(ApiError::too_many_requests(
            u64::try_from((retry_ms + 999) / 1000).unwrap_or(1),
        ));
    }
    Ok(())
}

/// Forgets `bucket` (a successful login clears its failures).
pub async fn clear(db: &Db, bucket: &str) -> ApiResult<()> {
    db_execute!(db, "DELETE FROM rate_limits WHERE bucket = $1", bucket)?;
    Ok(())
}
