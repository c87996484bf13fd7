//! The enrolment endpoints: a lecture, a whole series, the staff's list, and cancelling.

use axum::http::StatusCode;
use platform::auth::AuthUser;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json, Path};
use utoipa_axum::routes;

use super::*;
use crate::LiveError;
use crate::lifecycle::LiveState;
use crate::{Live, OccurrenceId, SeriesId};

pub(crate) fn router() -> ApiRouter<Live> {
    ApiRouter::new()
        .routes(routes!(enrol_occurrence, list_enrolments))
        .routes(routes!(cancel_mine))
        .routes(routes!(enrol_series))
        .routes(routes!(cancel_series))
}

/// Enrol: yourself with `{}`; staff with `{"user_ids":[…]}` or `{"class_id"}`.
#[utoipa::path(post, path = "/api/v1/live/occurrences/{id}/enrolments", tag = "live",
    params(("id" = OccurrenceId, Path)), request_body = EnrolRequest,
    responses((status = 200, body = EnrolResult), (status = 403), (status = 404), (status = 409)), security(("bearer" = [])))]
pub(super) async fn enrol_occurrence(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
    Json(req): Json<EnrolRequest>,
) -> ApiResult<Json<EnrolResult>> {
    Ok(Json(live.enrol(&auth, id, req).await?))
}

/// Who is enrolled and waitlisted (those who manage the series).
#[utoipa::path(get, path = "/api/v1/live/occurrences/{id}/enrolments", tag = "live",
    params(("id" = OccurrenceId, Path)),
    responses((status = 200, body = Vec<Enrolment>), (status = 404)), security(("bearer" = [])))]
pub(super) async fn list_enrolments(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
) -> ApiResult<Json<Vec<Enrolment>>> {
    let (_, series) = live.audience.occurrence_with_series(id).await?;
    if !live.audience.manages(&auth, &series).await? {
        return Err(LiveError::OccurrenceNotFound.into());
    }
    let rows = live.schedule.seats(id).await?;
    let mut line = 0;
    Ok(Json(
        rows.into_iter()
            .map(|(user_id, state)| {
                let state = EnrolmentState::parse(&state);
                let waitlist_position = (state == EnrolmentState::Waitlisted).then(|| {
                    line += 1;
                    line
                });
                Enrolment {
                    user_id,
                    state,
                    waitlist_position,
                }
            })
            .collect(),
    ))
}

/// Cancel your enrolment (until the start); the first in line gets the seat.
#[utoipa::path(delete, path = "/api/v1/live/occurrences/{id}/enrolments/me", tag = "live",
    params(("id" = OccurrenceId, Path)),
    responses((status = 204), (status = 404), (status = 409)), security(("bearer" = [])))]
pub(super) async fn cancel_mine(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
) -> ApiResult<StatusCode> {
    live.cancel_enrolment(&auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enrol yourself in every future occurrence of a series (and those added later).
#[utoipa::path(post, path = "/api/v1/live/series/{id}/enrolments", tag = "live",
    params(("id" = SeriesId, Path)),
    responses((status = 200, body = SeriesEnrolResult), (status = 403), (status = 404)), security(("bearer" = [])))]
pub(super) async fn enrol_series(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<SeriesId>,
) -> ApiResult<Json<SeriesEnrolResult>> {
    let s = live.audience.series_row(id).await?;
    if !live.audience.in_audience(auth.id, s.scope_org_id).await? {
        return Err(LiveError::SeriesNotForYou.into());
    }
    let now = live.clock.now();
    live.schedule.join_series(id, auth.id, now).await?;
    let mut out = Vec::new();
    for o in live.schedule.open_occurrences(id, now).await? {
        match live.schedule.enrol(&o, s.capacity, &[auth.id], auth.id).await {
            Ok(()) => {}
            // It started meanwhile: reported below as it stands.
            Err(LiveError::EnrolmentClosed | LiveError::LectureFull) => {}
            Err(e) => return Err(e.into()),
        }
        let mine = live.audience.enrolment_of(o.id, auth.id).await?;
        out.push(OccurrenceEnrolment {
            occurrence_id: o.id,
            starts_at: o.starts_at,
            state: mine.as_ref().map_or(EnrolmentState::Cancelled, |e| e.state),
            waitlist_position: mine.and_then(|e| e.waitlist_position),
        });
    }
    Ok(Json(SeriesEnrolResult { occurrences: out }))
}

/// Leave a whole series: future occurrences are cancelled for you.
#[utoipa::path(delete, path = "/api/v1/live/series/{id}/enrolments/me", tag = "live",
    params(("id" = SeriesId, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub(super) async fn cancel_series(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<SeriesId>,
) -> ApiResult<StatusCode> {
    // 404 for a series that does not exist.
    live.audience.series_row(id).await?;
    let now = live.clock.now();
    live.schedule.leave_series(id, auth.id).await?;
    for o in live.schedule.open_occurrences(id, now).await? {
        // Seats in lectures that have begun are history.
        if o.state == LiveState::Scheduled && o.starts_at > now {
            let _ = live.schedule.cancel(o.id, auth.id).await?;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
