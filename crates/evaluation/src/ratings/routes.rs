//! The HTTP handlers of ratings: extract, call the service, answer. No SQL here.

use axum::extract::State;
use catalog::CourseId;
use live_session::OccurrenceId;
use platform::auth::AuthUser;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json, PageQuery, Path, Query};
use utoipa_axum::routes;

use super::{MyRating, RatingInput, RatingView, Ratings, Target};
use crate::Evaluation;

pub(crate) fn router() -> ApiRouter<Evaluation> {
    ApiRouter::new()
        .routes(routes!(get_course_rating, put_course_rating))
        .routes(routes!(course_ratings))
        .routes(routes!(get_occurrence_rating, put_occurrence_rating))
        .routes(routes!(occurrence_ratings))
}

/// The caller's rating of a course, and whether they may rate it (they watched one of its
/// lessons).
#[utoipa::path(get, path = "/api/v1/courses/{id}/rating", tag = "evaluation", params(("id" = CourseId, Path)),
    responses((status = 200, body = MyRating), (status = 404)), security(("bearer" = [])))]
async fn get_course_rating(
    State(e): State<Evaluation>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
) -> ApiResult<Json<MyRating>> {
    Ok(Json(e.my_rating(&auth, Target::Course(id)).await?))
}

/// Rates a course 1–5 with an optional comment (again: changes the rating).
#[utoipa::path(put, path = "/api/v1/courses/{id}/rating", tag = "evaluation", params(("id" = CourseId, Path)),
    request_body = RatingInput,
    responses((status = 200, body = RatingView), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
async fn put_course_rating(
    State(e): State<Evaluation>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
    Json(input): Json<RatingInput>,
) -> ApiResult<Json<RatingView>> {
    Ok(Json(e.rate(&auth, Target::Course(id), input).await?))
}

/// A course's ratings: the average, the spread and the comments (its author or lecturer, the
/// staff in scope).
#[utoipa::path(get, path = "/api/v1/courses/{id}/ratings", tag = "evaluation", params(("id" = CourseId, Path), PageQuery),
    responses((status = 200, body = Ratings), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn course_ratings(
    State(e): State<Evaluation>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Ratings>> {
    Ok(Json(e.ratings(&auth, Target::Course(id), &page).await?))
}

/// The caller's rating of a live lecture or activity, and whether they may rate it (they took
/// part).
#[utoipa::path(get, path = "/api/v1/live/occurrences/{id}/rating", tag = "evaluation",
    params(("id" = OccurrenceId, Path)),
    responses((status = 200, body = MyRating), (status = 404)), security(("bearer" = [])))]
async fn get_occurrence_rating(
    State(e): State<Evaluation>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
) -> ApiResult<Json<MyRating>> {
    Ok(Json(e.my_rating(&auth, Target::Occurrence(id)).await?))
}

/// Rates a live lecture or activity one took part in, 1–5 with an optional comment.
#[utoipa::path(put, path = "/api/v1/live/occurrences/{id}/rating", tag = "evaluation",
    params(("id" = OccurrenceId, Path)), request_body = RatingInput,
    responses((status = 200, body = RatingView), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
async fn put_occurrence_rating(
    State(e): State<Evaluation>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
    Json(input): Json<RatingInput>,
) -> ApiResult<Json<RatingView>> {
    Ok(Json(e.rate(&auth, Target::Occurrence(id), input).await?))
}

/// A live lecture's or activity's ratings (its expert, the staff who manage its series).
#[utoipa::path(get, path = "/api/v1/live/occurrences/{id}/ratings", tag = "evaluation",
    params(("id" = OccurrenceId, Path), PageQuery),
    responses((status = 200, body = Ratings), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn occurrence_ratings(
    State(e): State<Evaluation>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Ratings>> {
    Ok(Json(e.ratings(&auth, Target::Occurrence(id), &page).await?))
}
