//! Assets: what an upload becomes — processing, then ready (with HLS renditions) or failed (with
//! a reason a curator understands).

use axum::extract::State;
use platform::Timestamp;
use platform::auth::AuthUser;
use platform::error::{ApiError, ApiResult, msg};
use platform::http::{ApiRouter, Json, Path};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::Media;
use crate::states::AssetState;
use crate::{MediaError, MediaResult};

mod store;

pub use crate::ids::AssetId;
pub(crate) use store::AssetRow;
pub use store::VideoChoice;

/// One rendition of the HLS ladder.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Rendition {
    /// `360p`, `720p`, … or `audio`.
    pub name: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// Peak bits per second, as in the master playlist.
    pub bandwidth: i64,
    pub codecs: String,
}

/// An asset as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetView {
    pub id: AssetId,
    pub state: AssetState,
    /// Percent of the processing done (0–100).
    pub progress: i32,
    pub filename: String,
    pub size: i64,
    pub duration_s: Option<f64>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub renditions: Vec<Rendition>,
    /// Why processing failed, in words for a curator.
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Media {
    pub(crate) async fn asset(&self, id: AssetId) -> MediaResult<Option<AssetRow>> {
        Ok(store::asset(&self.db, id).await?)
    }

    /// Who uploaded the asset (`None` when it does not exist or came from the system).
    pub async fn uploader(&self, id: AssetId) -> MediaResult<Option<platform::ids::UserId>> {
        Ok(self.asset(id).await?.and_then(|a| a.owner_id))
    }

    /// The asset, when `auth` may manage it (its uploader, and those the catalog's scope rule —
    /// admins included — lets edit a course that uses it); others get the same 404 as for a missing asset.
    pub(crate) async fn managed_asset(&self, auth: &AuthUser, id: AssetId) -> MediaResult<AssetRow> {
        let row = self.asset(id).await?.ok_or(MediaError::AssetNotFound)?;
        let allowed = row.owner_id == Some(auth.id)
            || match &self.access {
                Some(access) => access.may_manage(auth, id).await?,
                None => false,
            };
        if !allowed {
            return Err(MediaError::AssetNotFound);
        }
        Ok(row)
    }

    /// Whether `auth` may watch the asset: its uploader, and those the catalog lets see a course
    /// that uses it (the catalog's scope rule, curators' subtrees included).
    pub(crate) async fn may_watch(&self, auth: &AuthUser, row: &AssetRow) -> MediaResult<bool> {
        Ok(row.owner_id == Some(auth.id)
            || match &self.access {
                Some(access) => access.may_watch(auth, row.id).await?,
                None => false,
            })
    }

    /// The asset's public state, with the transcoding job's progress while processing.
    pub async fn asset_view(&self, id: AssetId) -> MediaResult<AssetView> {
        let row = self.asset(id).await?.ok_or(MediaError::AssetNotFound)?;
        let progress = match (row.state, row.job_id) {
            (AssetState::Ready, _) => 100,
            (AssetState::Processing, Some(job)) => self.jobs.status(job).await?.map_or(0, |(_, p, _, _)| p),
            _ => 0,
        };
        Ok(AssetView {
            id: row.id,
            state: row.state,
            progress,
            filename: row.filename.clone(),
            size: row.size,
            duration_s: row.duration_ms.map(|ms| ms as f64 / 1000.0),
            width: row.width,
            height: row.height,
            renditions: serde_json::from_str(&row.renditions).unwrap_or_default(),
            error: row.error.clone(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

pub(crate) fn router() -> ApiRouter<Media> {
    ApiRouter::new().routes(routes!(get_asset)).routes(routes!(my_videos))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct VideoQuery {
    /// Part of the file name.
    pub q: Option<String>,
    pub cursor: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<u32>,
}

/// The caller's transcoded videos, the latest first, by file name: the course editor's
/// 选择已上传的视频, so one upload can serve several lessons and courses.
#[utoipa::path(get, path = "/api/v1/me/videos", tag = "media", params(VideoQuery),
    responses((status = 200, body = platform::http::Page<VideoChoice>), (status = 422)), security(("bearer" = [])))]
async fn my_videos(
    State(media): State<Media>,
    auth: AuthUser,
    platform::http::Query(q): platform::http::Query<VideoQuery>,
) -> ApiResult<Json<platform::http::Page<VideoChoice>>> {
    let limit = platform::http::PageQuery {
        cursor: None,
        limit: q.limit,
    }
    .limit()?;
    let after: Option<AssetId> = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            c.parse()
                .map_err(|_| ApiError::invalid_field("cursor", msg("分页游标无效。", "Invalid cursor.")))?,
        ),
    };
    let name =
        q.q.map(|t| {
            t.trim()
                .chars()
                .take(50)
                .collect::<String>()
                .replace(['%', '_', '\\'], "")
        })
        .unwrap_or_default();
    let mut rows: Vec<VideoChoice> =
        store::ready_videos(&media.db, auth.id, &name, after, i64::from(limit) + 1).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|r| r.id.to_string())
    } else {
        None
    };
    Ok(Json(platform::http::Page {
        items: rows,
        next_cursor,
    }))
}

/// An asset's state and processing progress (its uploader, curators and admins).
#[utoipa::path(get, path = "/api/v1/assets/{id}", tag = "media", params(("id" = AssetId, Path)),
    responses((status = 200, body = AssetView), (status = 404)), security(("bearer" = [])))]
async fn get_asset(State(media): State<Media>, auth: AuthUser, Path(id): Path<AssetId>) -> ApiResult<Json<AssetView>> {
    media.managed_asset(&auth, id).await?;
    Ok(Json(media.asset_view(id).await?))
}
