//! The HTTP handlers of favourites: extract, call the catalog, answer. No SQL here.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::AuthUser;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json, Page, PageQuery, Path, Query};
use utoipa_axum::routes;

use super::FavouriteState;
use crate::{Catalog, CourseId, CourseSummary};

pub(crate) fn router() -> ApiRouter<Catalog> {
    ApiRouter::new()
        .routes(routes!(list_favourites))
        .routes(routes!(get_favourite, put_favourite, delete_favourite))
}

/// Whether the caller keeps the course (404 when they may not see it).
#[utoipa::path(get, path = "/api/v1/me/favourites/{id}", tag = "me", params(("id" = CourseId, Path)),
    responses((status = 200, body = FavouriteState), (status = 404)), security(("bearer" = [])))]
async fn get_favourite(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
) -> ApiResult<Json<FavouriteState>> {
    Ok(Json(cat.favourite(&auth, id).await?))
}

/// Keeps a course (收藏); again is the same.
#[utoipa::path(put, path = "/api/v1/me/favourites/{id}", tag = "me", params(("id" = CourseId, Path)),
    responses((status = 200, body = FavouriteState), (status = 404)), security(("bearer" = [])))]
async fn put_favourite(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
) -> ApiResult<Json<FavouriteState>> {
    Ok(Json(cat.keep(&auth, id).await?))
}

/// No longer keeps a course (取消收藏); a course not kept is no error.
#[utoipa::path(delete, path = "/api/v1/me/favourites/{id}", tag = "me", params(("id" = CourseId, Path)),
    responses((status = 204)), security(("bearer" = [])))]
async fn delete_favourite(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
) -> ApiResult<StatusCode> {
    cat.unkeep(&auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The courses the caller keeps and may still see, the latest kept first.
#[utoipa::path(get, path = "/api/v1/me/favourites", tag = "me", params(PageQuery),
    responses((status = 200, body = Page<CourseSummary>), (status = 422)), security(("bearer" = [])))]
async fn list_favourites(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<CourseSummary>>> {
    Ok(Json(cat.kept(&auth, &page).await?))
}
