//! The resumable-upload endpoints.

use axum::http::StatusCode;
use platform::auth::AuthUser;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json, Path, RawBody};
use platform::validate::Role;
use utoipa_axum::routes;

use super::*;
use crate::Media;
use crate::MediaResult;

pub(crate) fn router(chunk_limit: usize) -> ApiRouter<Media> {
    ApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(status))
        .routes(routes!(complete))
        .merge(
            ApiRouter::new()
                .routes(routes!(put_chunk))
                .layer(axum::extract::DefaultBodyLimit::max(chunk_limit)),
        )
}

pub(super) fn may_upload(user: &AuthUser) -> MediaResult<()> {
    Ok(user.require_role(&[Role::Expert, Role::Curator, Role::Admin])?)
}

/// Start a resumable upload (experts, curators, admins).
#[utoipa::path(post, path = "/api/v1/uploads", tag = "media", request_body = NewUpload,
    responses((status = 201, body = UploadView), (status = 422)), security(("bearer" = [])))]
pub(super) async fn create(
    State(media): State<Media>,
    auth: AuthUser,
    Json(req): Json<NewUpload>,
) -> ApiResult<(StatusCode, Json<UploadView>)> {
    may_upload(&auth)?;
    Ok((StatusCode::CREATED, Json(media.create_upload(&auth, req).await?)))
}

/// Send chunk `n` (raw bytes); sending a chunk again replaces it.
#[utoipa::path(put, path = "/api/v1/uploads/{id}/chunks/{n}", tag = "media",
    params(("id" = UploadId, Path), ("n" = i32, Path)), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 204), (status = 403), (status = 409), (status = 422)), security(("bearer" = [])))]
pub(super) async fn put_chunk(
    State(media): State<Media>,
    auth: AuthUser,
    Path((id, n)): Path<(UploadId, i32)>,
    RawBody(body): RawBody,
) -> ApiResult<StatusCode> {
    media.put_chunk(&auth, id, n, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which chunks are stored (to resume after a reload or a restart).
#[utoipa::path(get, path = "/api/v1/uploads/{id}", tag = "media", params(("id" = UploadId, Path)),
    responses((status = 200, body = UploadView), (status = 403), (status = 404)), security(("bearer" = [])))]
pub(super) async fn status(
    State(media): State<Media>,
    auth: AuthUser,
    Path(id): Path<UploadId>,
) -> ApiResult<Json<UploadView>> {
    let row = media.own_upload(&auth, id).await?;
    Ok(Json(media.view(row).await?))
}

/// Finish the upload: the file is checked and queued for transcoding.
#[utoipa::path(post, path = "/api/v1/uploads/{id}/complete", tag = "media", params(("id" = UploadId, Path)),
    request_body = CompleteRequest,
    responses((status = 201, body = Completed), (status = 409), (status = 422)), security(("bearer" = [])))]
pub(super) async fn complete(
    State(media): State<Media>,
    auth: AuthUser,
    Path(id): Path<UploadId>,
    Json(req): Json<CompleteRequest>,
) -> ApiResult<(StatusCode, Json<Completed>)> {
    let asset_id = media.complete(&auth, id, req).await?;
    Ok((StatusCode::CREATED, Json(Completed { asset_id })))
}
