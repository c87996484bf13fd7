//! The replay view of an occurrence: the replay lesson with its chat and chapters.

use platform::{ApiResult, Timestamp};

use super::*;
use crate::LiveError;
use crate::{OccurrenceId, store};

/// A replay's chat and chapters, placed on the replay's timeline.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReplayView {
    pub occurrence_id: OccurrenceId,
    pub title: String,
    pub starts_at: Timestamp,
    /// Answered questions, where the expert marked them (seconds into the replay).
    pub chapters: Vec<ReplayItem>,
    /// Chat messages and questions as they were sent, oldest first.
    pub messages: Vec<ReplayItem>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReplayItem {
    pub at_s: f64,
    pub kind: crate::model::MessageKind,
    pub author: String,
    pub text: String,
}

pub(crate) fn router() -> platform::http::ApiRouter<Recording> {
    platform::http::ApiRouter::new().routes(utoipa_axum::routes!(replay_view))
}

/// The chat and chapters to show beside a replay (its asset id; 404 for other assets).
#[utoipa::path(get, path = "/api/v1/live/replays/{asset_id}", tag = "live", params(("asset_id" = uuid::Uuid, Path)),
    responses((status = 200, body = ReplayView), (status = 404)), security(("bearer" = [])))]
pub(super) async fn replay_view(
    axum::extract::State(recording): axum::extract::State<Recording>,
    auth: platform::auth::AuthUser,
    platform::http::Path(asset): platform::http::Path<uuid::Uuid>,
) -> ApiResult<platform::http::Json<ReplayView>> {
    let not_found = || platform::ApiError::from(LiveError::ReplayNotFound);
    let occ = store::recordings::occurrence_of_replay(&recording.db, asset).await?;
    let occ = occ.ok_or_else(not_found)?;
    let (row, series) = recording.audience.occurrence_with_series(occ).await?;
    if !recording.audience.manages(&auth, &series).await?
        && !recording.audience.in_audience(auth.id, series.scope_org_id).await?
    {
        return Err(not_found());
    }
    let segments = recording.replay_segments(occ).await?;
    let rows = store::recordings::replay_messages(&recording.db, occ).await?;
    let at = |t: Timestamp| replay_offset(&segments, t.0) as f64 / 1000.0;
    let mut chapters: Vec<ReplayItem> = rows
        .iter()
        .filter_map(
            |(kind, author, text, answered, answered_at, _)| match (kind.as_str(), answered, answered_at) {
                ("question", true, Some(t)) => Some(ReplayItem {
                    at_s: at(*t),
                    kind: crate::model::MessageKind::parse(kind),
                    author: author.clone(),
                    text: text.clone(),
                }),
                _ => None,
            },
        )
        .collect();
    chapters.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    let messages = rows
        .into_iter()
        .map(|(kind, author, text, _, _, created)| ReplayItem {
            at_s: at(created),
            kind: crate::model::MessageKind::parse(&kind),
            author,
            text,
        })
        .collect();
    Ok(platform::http::Json(ReplayView {
        occurrence_id: occ,
        title: series.title,
        starts_at: row.starts_at,
        chapters,
        messages,
    }))
}
