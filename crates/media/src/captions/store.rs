//! The queries of caption tracks, one named function each: an asset's tracks (for the player
//! and for the editor), saving a track (one per language) and removing one.

use platform::{Db, Timestamp, db_execute, with_db};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ids::AssetId;

/// One caption track of an asset.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct CaptionView {
    /// Language tag (BCP 47), e.g. `zh`, `zh-Hans`, `en`.
    pub lang: String,
    /// Name shown in the player's caption menu.
    pub label: String,
    /// Number of cues.
    pub cues: i32,
    pub updated_at: Timestamp,
}

/// Where a caption track's WebVTT object is.
#[derive(sqlx::FromRow)]
pub(crate) struct CaptionKey {
    pub lang: String,
    pub label: String,
    pub object_key: String,
}

/// The caption tracks of `asset` with their objects, in language order.
pub(super) async fn keys(db: &Db, asset: AssetId) -> Result<Vec<CaptionKey>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, CaptionKey>(
        "SELECT lang, label, object_key FROM asset_captions WHERE asset_id = $1 ORDER BY lang",
    )
    .bind(asset)
    .fetch_all(pool)
    .await)
}

/// The caption tracks of `asset`, in language order.
pub(super) async fn tracks(db: &Db, asset: AssetId) -> Result<Vec<CaptionView>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, CaptionView>(
        "SELECT lang, label, cues, updated_at FROM asset_captions WHERE asset_id = $1 ORDER BY lang",
    )
    .bind(asset)
    .fetch_all(pool)
    .await)
}

/// Saves the track of `lang`, replacing one of the same language (its object is the caller's to
/// delete).
pub(super) async fn save(
    db: &Db,
    asset: AssetId,
    lang: &str,
    label: &str,
    key: &str,
    cues: i32,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO asset_captions (asset_id, lang, label, object_key, cues, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) \
         ON CONFLICT (asset_id, lang) DO UPDATE SET label = excluded.label, object_key = excluded.object_key, \
         cues = excluded.cues, updated_at = excluded.updated_at",
        asset,
        lang,
        label,
        key,
        cues,
        now
    )
}

pub(super) async fn delete(db: &Db, asset: AssetId, lang: &str) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "DELETE FROM asset_captions WHERE asset_id = $1 AND lang = $2",
        asset,
        lang
    )?;
    Ok(())
}
