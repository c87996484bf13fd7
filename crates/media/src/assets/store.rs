//! The queries of assets, one named function each: an asset's row, and a user's ready videos
//! for the course editor's picker. (An asset is created by its upload's store and marked ready
//! or failed by the transcoder's, in their own transactions.)

use platform::ids::{JobId, UserId};
use platform::{Db, Timestamp, with_db};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ids::AssetId;
use crate::states::AssetState;

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct AssetRow {
    pub id: AssetId,
    pub owner_id: Option<UserId>,
    #[sqlx(try_from = "String")]
    pub state: AssetState,
    pub filename: String,
    pub size: i64,
    pub source_key: Option<String>,
    pub duration_ms: Option<i64>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub renditions: String,
    pub error: Option<String>,
    pub job_id: Option<JobId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const ASSET_COLUMNS: &str = "id, owner_id, state, filename, size, source_key, duration_ms, width, height, \
                             renditions, error, job_id, created_at, updated_at";

/// One of the caller's videos, for the course editor's picker.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct VideoChoice {
    pub id: AssetId,
    pub filename: String,
    pub duration_ms: Option<i64>,
    pub created_at: Timestamp,
}

pub(super) async fn asset(db: &Db, id: AssetId) -> Result<Option<AssetRow>, sqlx::Error> {
    let sql = format!("SELECT {ASSET_COLUMNS} FROM assets WHERE id = $1");
    with_db!(db, |pool| sqlx::query_as::<_, AssetRow>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await)
}

/// Up to `limit` ready videos `owner` uploaded, the latest first, after `after`; those whose file
/// name contains `name` when it is not empty (it must hold no `LIKE` wildcards).
pub(super) async fn ready_videos(
    db: &Db,
    owner: UserId,
    name: &str,
    after: Option<AssetId>,
    limit: i64,
) -> Result<Vec<VideoChoice>, sqlx::Error> {
    with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new(
            "SELECT id, filename, duration_ms, created_at FROM assets WHERE state = 'ready' AND owner_id = ",
        );
        qb.push_bind(owner);
        if !name.is_empty() {
            qb.push(" AND filename LIKE ");
            qb.push_bind(format!("%{name}%"));
        }
        if let Some(a) = after {
            qb.push(" AND id < ");
            qb.push_bind(a);
        }
        qb.push(" ORDER BY id DESC LIMIT ");
        qb.push_bind(limit);
        qb.build_query_as::<VideoChoice>().fetch_all(pool).await
    })
}
