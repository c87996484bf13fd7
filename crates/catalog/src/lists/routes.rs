//! The HTTP handlers of curated lists: extract, call the catalog, answer. No SQL here.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use platform::auth::{AuthUser, MaybeAuth};
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json, Page, PageQuery, Path, Query, cached_json};
use utoipa_axum::routes;

use crate::Catalog;
use crate::model::*;

pub(crate) fn router() -> ApiRouter<Catalog> {
    ApiRouter::new()
        .routes(routes!(index, create))
        .routes(routes!(get_list, update))
        .routes(routes!(put_items))
        .routes(routes!(recommendations))
}

/// 为你推荐: a row of courses per child in an age stage, the parent's own school's lists first,
/// then the region's.
#[utoipa::path(get, path = "/api/v1/me/recommendations", tag = "me",
    responses((status = 200, body = super::Recommendations)), security(("bearer" = [])))]
async fn recommendations(State(cat): State<Catalog>, auth: AuthUser) -> ApiResult<Json<super::Recommendations>> {
    Ok(Json(cat.recommendations(&auth).await?))
}

/// The curated lists the caller may see, newest first, each with its first courses (the home page).
#[utoipa::path(get, path = "/api/v1/lists", tag = "catalog", params(PageQuery),
    responses((status = 200, body = Page<ListView>), (status = 304)))]
async fn index(
    State(cat): State<Catalog>,
    MaybeAuth(viewer): MaybeAuth,
    headers: HeaderMap,
    Query(page): Query<PageQuery>,
) -> ApiResult<Response> {
    let lists = cat.find_lists(viewer.as_ref(), &page).await?;
    Ok(cached_json(&headers, &lists, viewer.is_some()))
}

/// Create a curated list (curators and admins).
#[utoipa::path(post, path = "/api/v1/lists", tag = "catalog", request_body = ListInput,
    responses((status = 201, body = ListView), (status = 403), (status = 422)), security(("bearer" = [])))]
async fn create(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Json(input): Json<ListInput>,
) -> ApiResult<(StatusCode, Json<ListView>)> {
    Ok((StatusCode::CREATED, Json(cat.create_list(&auth, input).await?)))
}

/// One curated list with every course the caller may see, in order.
#[utoipa::path(get, path = "/api/v1/lists/{id}", tag = "catalog", params(("id" = ListId, Path)),
    responses((status = 200, body = ListView), (status = 304), (status = 404)))]
async fn get_list(
    State(cat): State<Catalog>,
    MaybeAuth(viewer): MaybeAuth,
    headers: HeaderMap,
    Path(id): Path<ListId>,
) -> ApiResult<Response> {
    let view = cat.full_list(viewer.as_ref(), id).await?;
    Ok(cached_json(&headers, &view, viewer.is_some()))
}

/// Edit a list's fields (send `version` to guard against concurrent edits).
#[utoipa::path(patch, path = "/api/v1/lists/{id}", tag = "catalog", params(("id" = ListId, Path)), request_body = ListInput,
    responses((status = 200, body = ListView), (status = 403), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn update(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<ListId>,
    Json(input): Json<ListInput>,
) -> ApiResult<Json<ListView>> {
    Ok(Json(cat.update_list(&auth, id, input).await?))
}

/// Replace the list's courses with this ordered list (409 `version_conflict` when `version` is stale).
#[utoipa::path(put, path = "/api/v1/lists/{id}/items", tag = "catalog", params(("id" = ListId, Path)), request_body = ListItemsRequest,
    responses((status = 200, body = ListView), (status = 403), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn put_items(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<ListId>,
    Json(req): Json<ListItemsRequest>,
) -> ApiResult<Json<ListView>> {
    Ok(Json(
        cat.replace_list_items(&auth, id, req.version, &req.course_ids).await?,
    ))
}
