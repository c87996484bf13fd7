//! 我的孩子: `GET`/`POST /api/v1/me/children`, `GET`/`DELETE /api/v1/me/children/{id}`. Each
//! parent sees and removes only their own.

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::routes;

use super::*;
use crate::accounts::Accounts;
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::http::{ApiRouter, Json, Path};

pub(crate) fn router() -> ApiRouter<Accounts> {
    ApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(get_one, remove))
}

/// The caller's children with their age stages now.
#[utoipa::path(get, path = "/api/v1/me/children", tag = "me",
    responses((status = 200, body = Vec<ChildView>)), security(("bearer" = [])))]
async fn list(State(acc): State<Accounts>, auth: AuthUser) -> ApiResult<Json<Vec<ChildView>>> {
    Ok(Json(children_of(&acc.db, auth.id, acc.now()).await?))
}

/// Add a child: a nickname and a birth (or due) year and month, or a grade.
#[utoipa::path(post, path = "/api/v1/me/children", tag = "me", request_body = ChildInput,
    responses((status = 201, body = ChildView), (status = 422)), security(("bearer" = [])))]
async fn add(
    State(acc): State<Accounts>,
    auth: AuthUser,
    Json(input): Json<ChildInput>,
) -> ApiResult<(StatusCode, Json<ChildView>)> {
    let child = add_child(&acc.db, auth.id, acc.now(), input).await?;
    Ok((StatusCode::CREATED, Json(child)))
}

#[utoipa::path(get, path = "/api/v1/me/children/{id}", tag = "me", params(("id" = ChildId, Path)),
    responses((status = 200, body = ChildView), (status = 404)), security(("bearer" = [])))]
async fn get_one(State(acc): State<Accounts>, auth: AuthUser, Path(id): Path<ChildId>) -> ApiResult<Json<ChildView>> {
    Ok(Json(child(&acc.db, auth.id, id, acc.now()).await?))
}

/// Remove a child's data at once.
#[utoipa::path(delete, path = "/api/v1/me/children/{id}", tag = "me", params(("id" = ChildId, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
async fn remove(State(acc): State<Accounts>, auth: AuthUser, Path(id): Path<ChildId>) -> ApiResult<StatusCode> {
    remove_child(&acc.db, auth.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
