//! The account endpoints: register, login, refresh, logout, me, password, deletion, and the staff's
//! user management.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::*;
use crate::auth::{AuthUser, AuthUserPendingPassword};
use crate::error::PlatformError;
use crate::error::{ApiError, ApiResult, msg};
use crate::http::{ApiRouter, ClientIp, Json, Path};
use crate::ids::{OrgId, UserId};
use crate::orgs::{self};
use crate::validate::Role;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Mainland mobile number, `13812345678` or `+8613812345678`.
    pub phone: String,
    pub password: String,
    pub display_name: String,
    /// Consent to the privacy notice: must be `true` (consent is never assumed).
    #[serde(default)]
    pub accept_privacy_notice: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub phone: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The current password, to confirm.
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub phone: String,
    pub password: String,
    pub display_name: String,
    pub role: Role,
    /// The organization the user joins; required for curators, who create users only in scope.
    pub org_id: Option<OrgId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    pub id: UserId,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub role: Option<Role>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetResponse {
    /// Give this to the user; it works once and must be changed at the next login.
    pub temporary_password: String,
}

/// The account routes (composed with the others in [`crate::router`]).
pub(crate) fn routes() -> ApiRouter<Accounts> {
    ApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me, delete_me))
        .routes(routes!(change_password))
        .routes(routes!(create_user))
        .routes(routes!(update_user))
        .routes(routes!(reset_password))
}

/// Register a parent account.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = AuthResponse), (status = 409, description = "phone_taken"), (status = 422), (status = 429)))]
pub(super) async fn register(
    State(acc): State<Accounts>,
    ClientIp(ip): ClientIp,
    Json(req): Json<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<AuthResponse>)> {
    Ok((StatusCode::CREATED, Json(acc.register(req, &ip).await?)))
}

/// Log in with phone and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = AuthResponse), (status = 401, description = "invalid_credentials"), (status = 429)))]
pub(super) async fn login(
    State(acc): State<Accounts>,
    ClientIp(ip): ClientIp,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<AuthResponse>> {
    Ok(Json(acc.login(req, &ip).await?))
}

/// Exchange a refresh token for a new token pair (the old refresh token is used up).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = AuthResponse), (status = 401)))]
pub(super) async fn refresh(
    State(acc): State<Accounts>,
    Json(req): Json<RefreshRequest>,
) -> ApiResult<Json<AuthResponse>> {
    Ok(Json(acc.refresh(&req.refresh_token).await?))
}

/// End the login the refresh token belongs to.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest, responses((status = 204)))]
pub(super) async fn logout(State(acc): State<Accounts>, Json(req): Json<RefreshRequest>) -> ApiResult<StatusCode> {
    acc.logout(&req.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", responses((status = 200, body = UserView), (status = 401)),
    security(("bearer" = [])))]
pub(super) async fn me(State(acc): State<Accounts>, auth: AuthUserPendingPassword) -> ApiResult<Json<UserView>> {
    Ok(Json(acc.view(auth.user.id).await?))
}

/// Delete the signed-in account (personal data erased, anonymous study records kept).
#[utoipa::path(delete, path = "/api/v1/me", tag = "me", request_body = DeleteAccountRequest,
    responses((status = 204), (status = 422)), security(("bearer" = [])))]
pub(super) async fn delete_me(
    State(acc): State<Accounts>,
    auth: AuthUserPendingPassword,
    Json(req): Json<DeleteAccountRequest>,
) -> ApiResult<StatusCode> {
    acc.delete_account(auth.user.id, req.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change the password (required after a reset); returns a fresh token pair.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "me", request_body = ChangePasswordRequest,
    responses((status = 200, body = AuthResponse), (status = 422)), security(("bearer" = [])))]
pub(super) async fn change_password(
    State(acc): State<Accounts>,
    auth: AuthUserPendingPassword,
    Json(req): Json<ChangePasswordRequest>,
) -> ApiResult<Json<AuthResponse>> {
    Ok(Json(acc.change_password(auth.user.id, req).await?))
}

/// Create a user: admins any role anywhere; curators parents and experts in their scope.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUserRequest,
    responses((status = 201, body = CreatedUser), (status = 403), (status = 409)), security(("bearer" = [])))]
pub(super) async fn create_user(
    State(acc): State<Accounts>,
    auth: AuthUser,
    Json(req): Json<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<CreatedUser>)> {
    auth.require_role(&[Role::Admin, Role::Curator])?;
    if auth.role == Role::Curator {
        if !matches!(req.role, Role::Parent | Role::Expert) {
            return Err(PlatformError::CuratorCreatesParentsAndExperts.into());
        }
        let org = req.org_id.ok_or_else(|| {
            ApiError::invalid_field(
                "org_id",
                msg("请选择用户所属的组织。", "Choose the organization the user belongs to."),
            )
        })?;
        orgs::require_scope(&acc.db, &auth, org).await?;
    }
    let id = acc
        .create_user(NewUser {
            phone: req.phone,
            password: req.password,
            display_name: req.display_name,
            role: req.role,
            org: req.org_id,
            must_change_password: true,
            privacy_consent: false,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedUser { id })))
}

/// Change a user's role (admins only).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UpdateUserRequest,
    params(("id" = UserId, Path)), responses((status = 204), (status = 403), (status = 404)), security(("bearer" = [])))]
pub(super) async fn update_user(
    State(acc): State<Accounts>,
    auth: AuthUser,
    Path(id): Path<UserId>,
    Json(req): Json<UpdateUserRequest>,
) -> ApiResult<StatusCode> {
    auth.require_role(&[Role::Admin])?;
    if let Some(role) = req.role {
        acc.set_role(id, role).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Reset a member's password to a one-time temporary password.
#[utoipa::path(post, path = "/api/v1/users/{id}/password-reset", tag = "users",
    params(("id" = UserId, Path)), responses((status = 200, body = PasswordResetResponse), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub(super) async fn reset_password(
    State(acc): State<Accounts>,
    auth: AuthUser,
    Path(id): Path<UserId>,
) -> ApiResult<Json<PasswordResetResponse>> {
    auth.require_role(&[Role::Admin, Role::Curator])?;
    Ok(Json(PasswordResetResponse {
        temporary_password: acc.reset_password(&auth, id).await?,
    }))
}
