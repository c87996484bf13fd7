//! The HTTP handlers of quizzes: extract, call the catalog, answer. No SQL here.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use platform::auth::AuthUser;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json, Path};
use utoipa_axum::routes;

use super::{AttemptInput, AttemptResult, QuizInput, QuizView};
use crate::{Catalog, LessonId};

pub(crate) fn router() -> ApiRouter<Catalog> {
    ApiRouter::new()
        .routes(routes!(get_quiz, put_quiz))
        .routes(routes!(post_attempt))
}

/// The lesson's quiz (课后小测) with the caller's attempts; the answer key only for the course's
/// editors.
#[utoipa::path(get, path = "/api/v1/lessons/{id}/quiz", tag = "catalog", params(("id" = LessonId, Path)),
    responses((status = 200, body = QuizView), (status = 404)), security(("bearer" = [])))]
async fn get_quiz(State(cat): State<Catalog>, auth: AuthUser, Path(id): Path<LessonId>) -> ApiResult<Json<QuizView>> {
    Ok(Json(cat.quiz(&auth, id).await?))
}

/// Saves the lesson's quiz (the course's editors); no questions removes it (204).
#[utoipa::path(put, path = "/api/v1/lessons/{id}/quiz", tag = "catalog", params(("id" = LessonId, Path)),
    request_body = QuizInput,
    responses((status = 200, body = QuizView), (status = 204), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
async fn put_quiz(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<LessonId>,
    Json(input): Json<QuizInput>,
) -> ApiResult<Response> {
    Ok(match cat.put_quiz(&auth, id, input).await? {
        Some(view) => Json(view).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Answers the quiz: marked on the server, recorded, and passed at the pass mark.
#[utoipa::path(post, path = "/api/v1/lessons/{id}/quiz/attempts", tag = "catalog", params(("id" = LessonId, Path)),
    request_body = AttemptInput,
    responses((status = 200, body = AttemptResult), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = [])))]
async fn post_attempt(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<LessonId>,
    Json(input): Json<AttemptInput>,
) -> ApiResult<Json<AttemptResult>> {
    Ok(Json(cat.attempt_quiz(&auth, id, input).await?))
}
