//! Membership: joining by code, staff invitations by phone (accepted or declined by the user),
//! the member list, and leaving. How a membership came about is kept ([`Via`](crate::orgs::Via)).
//! The handlers are here; their queries are in `store`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::accounts::Accounts;
use crate::auth::AuthUser;
use crate::clock::Timestamp;
use crate::error::{ApiError, ApiResult, msg};
use crate::error::{PlatformError, PlatformResult};
use crate::http::{ApiRouter, ClientIp, Json, Page, PageQuery, Path, Query};
use crate::ids::{InvitationId, OrgId, UserId};
use crate::orgs::{OrgView, Via, org_row, paginate, require_scope};
use crate::validate::{PhoneNumber, Role};

mod store;

/// Join-code attempts per account within the login window.
pub(crate) const JOIN_ATTEMPTS: u32 = 10;

/// How long an invitation stays open.
pub(crate) const INVITATION_DAYS: i64 = 14;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    pub join_code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// Phone number to invite; the user joins by accepting the invitation in the app.
    pub phone: String,
}

/// The same answer whether or not the number is registered.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationSent {
    /// Always `invited`.
    pub status: &'static str,
    /// Masked as `138****5678`.
    pub phone: String,
    #[schema(value_type = i64)]
    pub expires_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: InvitationId,
    pub organization: OrgView,
    /// The display name of the staff member who invited.
    pub invited_by: String,
    #[schema(value_type = i64)]
    pub expires_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct MemberView {
    pub id: UserId,
    pub display_name: String,
    /// Masked as `138****5678`.
    pub phone: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
}

pub(crate) fn router() -> ApiRouter<Accounts> {
    ApiRouter::new()
        .routes(routes!(join))
        .routes(routes!(list_members, add_member))
        .routes(routes!(my_invitations))
        .routes(routes!(accept_invitation))
        .routes(routes!(decline_invitation))
        .routes(routes!(remove_member))
}

/// Join a school or class with the code its staff shared.
#[utoipa::path(post, path = "/api/v1/me/organizations", tag = "me", request_body = JoinRequest,
    responses((status = 200, body = OrgView), (status = 404, description = "join_code_not_found"), (status = 429)), security(("bearer" = [])))]
async fn join(
    State(acc): State<Accounts>,
    auth: AuthUser,
    ClientIp(ip): ClientIp,
    Json(req): Json<JoinRequest>,
) -> ApiResult<Json<OrgView>> {
    // Codes are short enough to type: guessing is limited per account and per address.
    acc.rate_limit(&format!("join-user:{}", auth.id), JOIN_ATTEMPTS).await?;
    acc.rate_limit(&format!("join-ip:{ip}"), acc.cfg.login_attempts_per_ip)
        .await?;
    let code = req.join_code.trim().to_ascii_uppercase();
    if code.is_empty() {
        return Err(PlatformError::field("join_code", msg("请填写加入码。", "Enter the join code.")).into());
    }
    let row = store::org_by_join_code(&acc.db, &code).await?;
    let row = row.ok_or_else(|| PlatformError::JoinCodeNotFound)?;
    store::add_membership(&acc.db, auth.id, row.id, Via::JoinCode, acc.now()).await?;
    Ok(Json(row.view()))
}

/// Direct members of an organization (curators in scope), phone numbers masked.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/members", tag = "organizations",
    params(("id" = OrgId, Path), PageQuery), responses((status = 200, body = Page<MemberView>), (status = 403)),
    security(("bearer" = [])))]
async fn list_members(
    State(acc): State<Accounts>,
    auth: AuthUser,
    Path(id): Path<OrgId>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<MemberView>>> {
    require_scope(&acc.db, &auth, id).await?;
    let limit = page.limit()?;
    let after: Option<UserId> = match page.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            c.parse()
                .map_err(|_| ApiError::invalid_field("cursor", msg("分页游标无效。", "Invalid cursor.")))?,
        ),
    };
    let rows = store::members(&acc.db, id, after, i64::from(limit) + 1).await?;
    Ok(Json(paginate(
        rows,
        limit,
        |r| r.id.to_string(),
        |r| MemberView {
            id: r.id,
            display_name: r.display_name.clone(),
            phone: r
                .phone
                .as_deref()
                .and_then(|p| PhoneNumber::parse(p).ok())
                .map(|p| p.masked())
                .unwrap_or_default(),
            role: r.role,
        },
    )))
}

/// Invite a phone number to an organization in scope. The user joins only by accepting in the
/// app; the answer is the same whether or not the number is registered.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/members", tag = "organizations", params(("id" = OrgId, Path)),
    request_body = AddMemberRequest, responses((status = 202, body = InvitationSent), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
async fn add_member(
    State(acc): State<Accounts>,
    auth: AuthUser,
    Path(id): Path<OrgId>,
    Json(req): Json<AddMemberRequest>,
) -> ApiResult<(StatusCode, Json<InvitationSent>)> {
    require_scope(&acc.db, &auth, id).await?;
    let phone = PhoneNumber::parse(&req.phone).map_err(|m| PlatformError::field("phone", m))?;
    let now = acc.now();
    let expires_at = now.plus_seconds(INVITATION_DAYS * 86_400);
    // A repeated invitation is renewed, not duplicated.
    store::put_invitation(&acc.db, id, phone.as_str(), auth.id, now, expires_at).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(InvitationSent {
            status: "invited",
            phone: phone.masked(),
            expires_at,
        }),
    ))
}

/// Invitations waiting for the caller (matched by their phone number).
#[utoipa::path(get, path = "/api/v1/me/invitations", tag = "me",
    responses((status = 200, body = Vec<InvitationView>)), security(("bearer" = [])))]
async fn my_invitations(State(acc): State<Accounts>, auth: AuthUser) -> ApiResult<Json<Vec<InvitationView>>> {
    let rows = store::open_invitations(&acc.db, auth.id, acc.now()).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| InvitationView {
                id: r.id,
                organization: OrgView {
                    id: r.org_id,
                    name: r.name,
                    kind: r.kind,
                    parent_id: r.parent_id,
                    partner_type: r.partner_type,
                },
                invited_by: r.invited_by_name,
                expires_at: r.expires_at,
            })
            .collect(),
    ))
}

/// The caller's open invitation `id`: (invitation, organization).
async fn open_invitation(acc: &Accounts, auth: &AuthUser, id: InvitationId) -> PlatformResult<OrgId> {
    let org = store::open_invitation_org(&acc.db, id, auth.id, acc.now()).await?;
    org.ok_or(PlatformError::InvitationNotFound)
}

/// Accept an invitation: the caller joins the organization.
#[utoipa::path(post, path = "/api/v1/me/invitations/{id}/accept", tag = "me", params(("id" = InvitationId, Path)),
    responses((status = 200, body = OrgView), (status = 404, description = "invitation_not_found")), security(("bearer" = [])))]
async fn accept_invitation(
    State(acc): State<Accounts>,
    auth: AuthUser,
    Path(id): Path<InvitationId>,
) -> ApiResult<Json<OrgView>> {
    let org = open_invitation(&acc, &auth, id).await?;
    store::add_membership(&acc.db, auth.id, org, Via::Invitation, acc.now()).await?;
    store::delete_invitation(&acc.db, id).await?;
    let row = org_row(&acc.db, org).await?.ok_or(PlatformError::OrgNotFound)?;
    Ok(Json(row.view()))
}

/// Decline an invitation.
#[utoipa::path(delete, path = "/api/v1/me/invitations/{id}", tag = "me", params(("id" = InvitationId, Path)),
    responses((status = 204), (status = 404, description = "invitation_not_found")), security(("bearer" = [])))]
async fn decline_invitation(
    State(acc): State<Accounts>,
    auth: AuthUser,
    Path(id): Path<InvitationId>,
) -> ApiResult<StatusCode> {
    open_invitation(&acc, &auth, id).await?;
    store::delete_invitation(&acc.db, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a member from an organization in scope.
#[utoipa::path(delete, path = "/api/v1/organizations/{id}/members/{user_id}", tag = "organizations",
    params(("id" = OrgId, Path), ("user_id" = UserId, Path)), responses((status = 204), (status = 403)), security(("bearer" = [])))]
async fn remove_member(
    State(acc): State<Accounts>,
    auth: AuthUser,
    Path((id, user)): Path<(OrgId, UserId)>,
) -> ApiResult<StatusCode> {
    require_scope(&acc.db, &auth, id).await?;
    if let Some(target) = acc.user_by_id(user).await? {
        if !acc.may_manage_user(&auth, &target).await? {
            return Err(PlatformError::UserOutOfScope.into());
        }
    }
    store::remove_membership(&acc.db, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}
