//! The queries of playback, one named function each: where a ready asset's renditions are, and
//! (strict credit) which segments a user's playback URL fetched.

use platform::ids::UserId;
use platform::{Db, db_execute, with_db};

use crate::ids::AssetId;

/// The rendition prefix of `asset`, when it is ready (and has one).
pub(super) async fn ready_prefix(db: &Db, asset: AssetId) -> Result<Option<String>, sqlx::Error> {
    let prefix: Option<Option<String>> = with_db!(db, |pool| sqlx::query_scalar::<_, Option<String>>(
        "SELECT hls_prefix FROM assets WHERE id = $1 AND state = 'ready'",
    )
    .bind(asset)
    .fetch_optional(pool)
    .await)?;
    Ok(prefix.flatten())
}

/// The `(rendition, segment)` pairs of `asset` that `user` fetched, in that order.
pub(super) async fn fetched_segments(db: &Db, user: UserId, asset: AssetId) -> Result<Vec<(String, i32)>, sqlx::Error> {
    with_db!(db, |pool| {
        sqlx::query_as(
            "SELECT rendition, segment FROM segment_fetches WHERE user_id = $1 AND asset_id = $2 \
             ORDER BY rendition, segment",
        )
        .bind(user)
        .bind(asset)
        .fetch_all(pool)
        .await
    })
}

/// Notes that `user` fetched `segment` of `rendition` of `asset` (again is the same).
pub(super) async fn record_fetch(
    db: &Db,
    user: UserId,
    asset: AssetId,
    rendition: &str,
    segment: i32,
) -> Result<u64, sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO segment_fetches (user_id, asset_id, rendition, segment) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
        user,
        asset,
        rendition,
        segment,
    )
}
