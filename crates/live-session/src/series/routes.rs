//! The series endpoints.

use axum::http::StatusCode;
use platform::auth::AuthUser;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json, Path};
use utoipa_axum::routes;

use super::*;
use crate::LiveError;
use crate::{Live, SeriesId};

pub(crate) fn router() -> ApiRouter<Live> {
    ApiRouter::new()
        .routes(routes!(create_series))
        .routes(routes!(get_series, patch_series, stop_series))
}

/// Create a weekly series; its occurrences are created at once.
#[utoipa::path(post, path = "/api/v1/live/series", tag = "live", request_body = NewSeries,
    responses((status = 201, body = SeriesView), (status = 403), (status = 422)), security(("bearer" = [])))]
pub(super) async fn create_series(
    State(live): State<Live>,
    auth: AuthUser,
    Json(req): Json<NewSeries>,
) -> ApiResult<(StatusCode, Json<SeriesView>)> {
    Ok((StatusCode::CREATED, Json(live.create_series(&auth, req).await?)))
}

/// A series with all its occurrences (anyone in its audience, and those who manage it).
#[utoipa::path(get, path = "/api/v1/live/series/{id}", tag = "live", params(("id" = SeriesId, Path)),
    responses((status = 200, body = SeriesView), (status = 404)), security(("bearer" = [])))]
pub(super) async fn get_series(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<SeriesId>,
) -> ApiResult<Json<SeriesView>> {
    let s = live.audience.series_row(id).await?;
    if !live.audience.manages(&auth, &s).await? && !live.audience.in_audience(auth.id, s.scope_org_id).await? {
        return Err(LiveError::SeriesNotFound.into());
    }
    Ok(Json(live.schedule.series_view(s).await?))
}

/// Stops the series: its future scheduled lectures are cancelled and their enrolled and
/// waitlisted parents told; past lectures and their records stay.
#[utoipa::path(delete, path = "/api/v1/live/series/{id}", tag = "live",
    params(("id" = SeriesId, Path)),
    responses((status = 200, body = SeriesView), (status = 404)), security(("bearer" = [])))]
pub(super) async fn stop_series(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<SeriesId>,
) -> ApiResult<Json<SeriesView>> {
    Ok(Json(live.stop_series(&auth, id).await?))
}

/// Edit a series: future scheduled occurrences follow; past, live and ended ones stay.
#[utoipa::path(patch, path = "/api/v1/live/series/{id}", tag = "live", params(("id" = SeriesId, Path)),
    request_body = SeriesPatch,
    responses((status = 200, body = SeriesView), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub(super) async fn patch_series(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<SeriesId>,
    Json(p): Json<SeriesPatch>,
) -> ApiResult<Json<SeriesView>> {
    Ok(Json(live.edit_series(&auth, id, p).await?))
}
