//! Fixed-window rate limits kept in the database (`rate_limits`), so that every node counts the
//! same attempts and a restart forgets nothing: the one home for "at most `limit` tries per
//! window per bucket" (logins, registrations, join codes, WHEP offers).

mod store;

use crate::error::{ApiError, ApiResult};
use crate::{Db, Timestamp};

/// Counts one attempt in `bucket`'s window of `window_ms` at `now`; past `limit` in the window,
/// 429 with `Retry-After`. One statement (an upsert), so concurrent attempts each count.
pub async fn hit(db: &Db, bucket: &str, limit: u32, window_ms: i64, now: Timestamp) -> ApiResult<()> {
    let window_ms = window_ms.max(1000);
    let expired_before = now.0 - window_ms;
    let (window_start, hits) = store::count_hit(db, bucket, now, expired_before).await?;
    if rand::random::<u8>() == 0 {
        // Now and then, forget buckets whose window has passed.
        store::forget_expired(db, expired_before).await?;
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
    store::forget(db, bucket).await?;
    Ok(())
}
