//! The HTTP handlers of certificates: extract, call the service, answer. No SQL here.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::AuthUser;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json, Page, PageQuery, Path, Query};
use platform::ids::OrgId;
use utoipa_axum::routes;

use super::rules::RuleInput;
use super::{CertificateView, RevocationInput, RuleView, RunView, Verification};
use crate::Evaluation;

pub(crate) fn router() -> ApiRouter<Evaluation> {
    ApiRouter::new()
        .routes(routes!(create_rule, list_rules))
        .routes(routes!(run_rule))
        .routes(routes!(rule_certificates))
        .routes(routes!(my_certificates))
        .routes(routes!(verify))
        .routes(routes!(revoke))
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
