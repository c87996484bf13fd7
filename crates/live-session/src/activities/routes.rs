//! The activity endpoints: create and read, enrol (the live lectures' enrolment), the host's
//! rotating code and list, a parent's check-in with a code, and the host's check-in by hand.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use platform::auth::AuthUser;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json, Path, Query};
use serde::Deserialize;
use utoipa_axum::routes;

use super::*;
use crate::{EnrolRequest, EnrolResult, Live};

pub(crate) fn router() -> ApiRouter<Live> {
    ApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(get_activity))
        .routes(routes!(enrol))
        .routes(routes!(check_in_code))
        .routes(routes!(check_in, check_ins))
        .routes(routes!(check_in_by_hand))
}

/// Create an offline activity (experts and curators of the host, for an audience they address).
#[utoipa::path(post, path = "/api/v1/activities", tag = "activities", request_body = NewActivity,
    responses((status = 201, body = ActivityView), (status = 403), (status = 422)), security(("bearer" = [])))]
async fn create(
    State(live): State<Live>,
    auth: AuthUser,
    Json(req): Json<NewActivity>,
) -> ApiResult<(StatusCode, Json<ActivityView>)> {
    Ok((StatusCode::CREATED, Json(live.activities.create(&auth, req).await?)))
}

#[utoipa::path(get, path = "/api/v1/activities/{id}", tag = "activities", params(("id" = OccurrenceId, Path)),
    responses((status = 200, body = ActivityView), (status = 404)), security(("bearer" = [])))]
async fn get_activity(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
) -> ApiResult<Json<ActivityView>> {
    let (a, host) = live.activities.visible(&auth, id).await?;
    Ok(Json(live.activities.view(&auth, a, host).await?))
}

/// Enrol (报名): yourself with `{}`; staff with `{"user_ids":[…]}` or `{"class_id"}`. Beyond the
/// seats, parents wait in line.
#[utoipa::path(post, path = "/api/v1/activities/{id}/enrolments", tag = "activities",
    params(("id" = OccurrenceId, Path)), request_body = EnrolRequest,
    responses((status = 200, body = EnrolResult), (status = 403), (status = 404), (status = 409)), security(("bearer" = [])))]
async fn enrol(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
    Json(req): Json<EnrolRequest>,
) -> ApiResult<Json<EnrolResult>> {
    live.activities.visible(&auth, id).await?;
    Ok(Json(live.enrol(&auth, id, req).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CodeQuery {
    /// `in` (签到, default) or `out` (签退).
    pub purpose: Option<Purpose>,
}

/// The code the host's check-in screen shows as a QR code now (host staff); a new one every 30 s.
#[utoipa::path(get, path = "/api/v1/activities/{id}/check-in-code", tag = "activities",
    params(("id" = OccurrenceId, Path), CodeQuery),
    responses((status = 200, body = CheckInCode), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn check_in_code(
    State(live): State<Live>,
    auth: AuthUser,
    headers: HeaderMap,
    Path(id): Path<OccurrenceId>,
    Query(q): Query<CodeQuery>,
) -> ApiResult<Json<CheckInCode>> {
    let base = live.base_url(&headers);
    let purpose = q.purpose.unwrap_or(Purpose::In);
    Ok(Json(live.activities.code(&auth, id, purpose, &base).await?))
}

/// Check in or out with the scanned code (a parent at the venue).
#[utoipa::path(post, path = "/api/v1/activities/{id}/check-ins", tag = "activities",
    params(("id" = OccurrenceId, Path)), request_body = CheckInRequest,
    responses((status = 201, body = CheckInResult), (status = 403), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = [])))]
async fn check_in(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
    Json(req): Json<CheckInRequest>,
) -> ApiResult<(StatusCode, Json<CheckInResult>)> {
    Ok((
        StatusCode::CREATED,
        Json(live.activities.check_in(&auth, id, req).await?),
    ))
}

/// Who has checked in and out (host staff): the check-in screen's live count.
#[utoipa::path(get, path = "/api/v1/activities/{id}/check-ins", tag = "activities",
    params(("id" = OccurrenceId, Path)),
    responses((status = 200, body = CheckInList), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn check_ins(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
) -> ApiResult<Json<CheckInList>> {
    Ok(Json(live.activities.list(&auth, id).await?))
}

/// Check a member in (or out) by hand (host staff; recorded as manual, with who did it).
#[utoipa::path(put, path = "/api/v1/activities/{id}/check-ins/{user_id}", tag = "activities",
    params(("id" = OccurrenceId, Path), ("user_id" = UserId, Path)), request_body = ManualCheckIn,
    responses((status = 200, body = CheckInResult), (status = 403), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = [])))]
async fn check_in_by_hand(
    State(live): State<Live>,
    auth: AuthUser,
    Path((id, member)): Path<(OccurrenceId, UserId)>,
    Json(req): Json<ManualCheckIn>,
) -> ApiResult<Json<CheckInResult>> {
    let purpose = req.purpose.unwrap_or(Purpose::In);
    Ok(Json(
        live.activities.check_in_by_hand(&auth, id, member, purpose).await?,
    ))
}
