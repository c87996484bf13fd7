//! The HTTP handlers of certificates: extract, call the service, answer. No SQL here.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use platform::auth::AuthUser;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json, Page, PageQuery, Path, Query};
use platform::ids::OrgId;
use utoipa_axum::routes;

use super::files::Format;
use super::rules::RuleInput;
use super::{CertificateView, RevocationInput, RuleView, RunView, Verification};
use crate::{Evaluation, EvaluationError};

pub(crate) fn router() -> ApiRouter<Evaluation> {
    ApiRouter::new()
        .routes(routes!(create_rule, list_rules))
        .routes(routes!(run_rule))
        .routes(routes!(rule_certificates))
        .routes(routes!(my_certificates))
        .routes(routes!(verify))
        .routes(routes!(revoke))
        .routes(routes!(certificate_file))
        .routes(routes!(get_seal, put_seal, delete_seal))
}

/// Where users reach the service, from the request (when no public URL is configured).
fn request_base(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(String::new, |h| format!("http://{h}"))
}

/// The certificate as a picture (`CODE.png`, to share) or a PDF (`CODE.pdf`, to print), drawn on
/// the server with the holder's name, the hours, the issuer's seal and a QR code of its
/// verification link: for its holder and the staff in scope.
#[utoipa::path(get, path = "/api/v1/certificates/{file}", tag = "evaluation",
    params(("file" = String, Path, description = "The code and `.png` or `.pdf`")),
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 404), (status = 503)),
    security(("bearer" = [])))]
async fn certificate_file(
    State(e): State<Evaluation>,
    auth: AuthUser,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> ApiResult<Response> {
    let (code, format) = Format::split(&file).ok_or(EvaluationError::CertificateNotFound)?;
    let (bytes, name) = e.certificate_file(&auth, code, format, &request_base(&headers)).await?;
    let mut res = (
        [
            (header::CONTENT_TYPE, format.content_type()),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        bytes,
    )
        .into_response();
    if let Some(v) = platform::http::content_disposition("inline", &name) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// The organization's seal image (staff who manage it).
#[utoipa::path(get, path = "/api/v1/organizations/{id}/seal", tag = "evaluation", params(("id" = OrgId, Path)),
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 403), (status = 404)),
    security(("bearer" = [])))]
async fn get_seal(State(e): State<Evaluation>, auth: AuthUser, Path(id): Path<OrgId>) -> ApiResult<Response> {
    let bytes = e.seal(&auth, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        bytes,
    )
        .into_response())
}

/// Uploads the organization's seal (公章) as a PNG (at most 1 MB, a transparent background looks
/// best); certificates it issues carry it from then on.
#[utoipa::path(put, path = "/api/v1/organizations/{id}/seal", tag = "evaluation", params(("id" = OrgId, Path)),
    request_body(content = Vec<u8>, content_type = "image/png"),
    responses((status = 204), (status = 403), (status = 404), (status = 422)), security(("bearer" = [])))]
async fn put_seal(
    State(e): State<Evaluation>,
    auth: AuthUser,
    Path(id): Path<OrgId>,
    body: bytes::Bytes,
) -> ApiResult<StatusCode> {
    e.set_seal(&auth, id, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the organization's seal.
#[utoipa::path(delete, path = "/api/v1/organizations/{id}/seal", tag = "evaluation", params(("id" = OrgId, Path)),
    responses((status = 204), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn delete_seal(State(e): State<Evaluation>, auth: AuthUser, Path(id): Path<OrgId>) -> ApiResult<StatusCode> {
    e.delete_seal(&auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct RulesQuery {
    /// An organization the caller manages: its rules and those of organizations below it.
    pub org_id: OrgId,
}

/// Defines a certificate rule for an organization the caller manages (curators, admins); its
/// first run is queued at once.
#[utoipa::path(post, path = "/api/v1/certificate-rules", tag = "evaluation", request_body = RuleInput,
    responses((status = 201, body = RuleView), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
async fn create_rule(
    State(e): State<Evaluation>,
    auth: AuthUser,
    Json(input): Json<RuleInput>,
) -> ApiResult<(StatusCode, Json<RuleView>)> {
    Ok((StatusCode::CREATED, Json(e.create_rule(&auth, input).await?)))
}

/// The certificate rules of an organization subtree, newest first.
#[utoipa::path(get, path = "/api/v1/certificate-rules", tag = "evaluation", params(RulesQuery),
    responses((status = 200, body = Vec<RuleView>), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn list_rules(
    State(e): State<Evaluation>,
    auth: AuthUser,
    Query(q): Query<RulesQuery>,
) -> ApiResult<Json<Vec<RuleView>>> {
    Ok(Json(e.rules(&auth, q.org_id).await?))
}

/// Checks the members against the rule again now and issues to those who meet it (a job).
#[utoipa::path(post, path = "/api/v1/certificate-rules/{id}/runs", tag = "evaluation",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 202, body = RunView), (status = 404)), security(("bearer" = [])))]
async fn run_rule(
    State(e): State<Evaluation>,
    auth: AuthUser,
    Path(id): Path<uuid::Uuid>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    Ok((StatusCode::ACCEPTED, Json(e.run_rule(&auth, id).await?)))
}

/// The certificates a rule issued, in issue order (staff in scope).
#[utoipa::path(get, path = "/api/v1/certificate-rules/{id}/certificates", tag = "evaluation",
    params(("id" = uuid::Uuid, Path), PageQuery),
    responses((status = 200, body = Page<CertificateView>), (status = 404)), security(("bearer" = [])))]
async fn rule_certificates(
    State(e): State<Evaluation>,
    auth: AuthUser,
    Path(id): Path<uuid::Uuid>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<CertificateView>>> {
    Ok(Json(e.issued(&auth, id, &page).await?))
}

/// 我的证书: the caller's certificates, newest first.
#[utoipa::path(get, path = "/api/v1/me/certificates", tag = "me",
    responses((status = 200, body = Vec<CertificateView>)), security(("bearer" = [])))]
async fn my_certificates(State(e): State<Evaluation>, auth: AuthUser) -> ApiResult<Json<Vec<CertificateView>>> {
    Ok(Json(e.my_certificates(&auth).await?))
}

/// Checks a certificate by its code (public): the holder's name masked, what and by whom, and
/// whether it is valid or revoked.
#[utoipa::path(get, path = "/api/v1/certificates/verify/{code}", tag = "evaluation",
    params(("code" = String, Path)), responses((status = 200, body = Verification), (status = 404)))]
async fn verify(State(e): State<Evaluation>, Path(code): Path<String>) -> ApiResult<Json<Verification>> {
    Ok(Json(e.verify(&code).await?))
}

/// Revokes a certificate with a reason (staff who manage the issuing organization).
#[utoipa::path(post, path = "/api/v1/certificates/{code}/revocation", tag = "evaluation",
    params(("code" = String, Path)), request_body = RevocationInput,
    responses((status = 200, body = Verification), (status = 403), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = [])))]
async fn revoke(
    State(e): State<Evaluation>,
    auth: AuthUser,
    Path(code): Path<String>,
    Json(input): Json<RevocationInput>,
) -> ApiResult<Json<Verification>> {
    Ok(Json(e.revoke(&auth, &code, input).await?))
}
