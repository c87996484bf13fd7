//! The organization endpoints: the tree (create, read, list and search by name), join codes,
//! what a partner unit serves, and the lecturer picker's expert search; membership's are in
//! `crate::membership`.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::*;
use crate::auth::AuthUser;
use crate::error::PlatformError;
use crate::error::{ApiError, ApiResult};
use crate::http::{ApiRouter, Json, Page, PageQuery, Path, Query};
use crate::ids::{OrgId, UserId};
use crate::scope::Scope;
use crate::validate::{OrgKind, PartnerType, PhoneNumber, Role};
use axum::extract::FromRef;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    pub name: String,
    pub kind: OrgKind,
    pub parent_id: Option<OrgId>,
    /// Required for `"kind": "partner"`, refused for the other kinds.
    pub partner_type: Option<PartnerType>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgDetail {
    #[serde(flatten)]
    pub org: OrgView,
    /// Shown to curators in scope (schools and classes only).
    pub join_code: Option<String>,
    /// What a partner unit serves (partners only; empty for the rest).
    pub serves: Vec<OrgView>,
    /// The partner units serving this organization or one above it (not for partners).
    pub served_by: Vec<OrgView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServesRequest {
    /// The cities, counties and schools the partner serves (replaces the set; at most 500).
    pub org_ids: Vec<OrgId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServesResponse {
    pub organizations: Vec<OrgView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JoinCodeResponse {
    pub join_code: String,
}

/// The tree's routes, on any state that can give [`Orgs`].
pub(crate) fn router<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Orgs: FromRef<S>,
{
    ApiRouter::new()
        .routes(routes!(list_orgs, create))
        .routes(routes!(get_org))
        .routes(routes!(rotate_join_code))
        .routes(routes!(get_serves, put_serves))
        .routes(routes!(find_experts))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExpertQuery {
    /// Part of the name, or of the phone number (at least 4 digits).
    pub q: Option<String>,
}

/// An expert a curator may choose as a lecturer.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct ExpertView {
    pub id: UserId,
    pub display_name: String,
    /// Masked as `136****0001`.
    pub phone: String,
    /// The organization the expert belongs to (the first, by name).
    pub org_name: String,
}

/// Experts of the organizations the caller manages (admins: all), by name or phone, for the
/// lecturer picker: the studio never asks for a user id. At most 20, by name.
#[utoipa::path(get, path = "/api/v1/experts", tag = "organizations", params(ExpertQuery),
    responses((status = 200, body = Vec<ExpertView>), (status = 403)), security(("bearer" = [])))]
pub(super) async fn find_experts(
    State(acc): State<Orgs>,
    auth: AuthUser,
    Query(q): Query<ExpertQuery>,
) -> ApiResult<Json<Vec<ExpertView>>> {
    auth.require_role(&[Role::Admin, Role::Curator])?;
    let scope = Scope::load(&acc.db, Some(&auth)).await?;
    let text = q.q.unwrap_or_default().trim().chars().take(20).collect::<String>();
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let name = format!("%{}%", text.replace(['%', '_', '\\'], ""));
    let name_like = (!text.is_empty()).then_some(name);
    let phone_like = (digits.len() >= 4 && digits.len() == text.len()).then(|| format!("%{digits}%"));
    let rows = store::experts(&acc.db, &scope, name_like, phone_like).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| ExpertView {
                id: r.id,
                display_name: r.display_name,
                phone: r
                    .phone
                    .as_deref()
                    .and_then(|p| PhoneNumber::parse(p).ok())
                    .map(|p| p.masked())
                    .unwrap_or_default(),
                org_name: r.org_name,
            })
            .collect(),
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct OrgListQuery {
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1–100 (default 20).
    pub limit: Option<u32>,
    /// Part of the name (the studio's organization pickers search with it).
    pub q: Option<String>,
}

/// Organizations the caller manages (admins: all; curators: their subtrees), in tree order,
/// optionally only those whose name contains `q`.
#[utoipa::path(get, path = "/api/v1/organizations", tag = "organizations", params(OrgListQuery),
    responses((status = 200, body = Page<OrgView>), (status = 403)), security(("bearer" = [])))]
pub(super) async fn list_orgs(
    State(acc): State<Orgs>,
    auth: AuthUser,
    Query(q): Query<OrgListQuery>,
) -> ApiResult<Json<Page<OrgView>>> {
    auth.require_role(&[Role::Admin, Role::Curator])?;
    let limit = PageQuery {
        cursor: None,
        limit: q.limit,
    }
    .limit()?;
    let after = q.cursor.unwrap_or_default();
    let name =
        q.q.map(|t| {
            t.trim()
                .chars()
                .take(50)
                .collect::<String>()
                .replace(['%', '_', '\\'], "")
        })
        .filter(|t| !t.is_empty());
    let scope = Scope::load(&acc.db, Some(&auth)).await?;
    let name_like = name.map(|name| format!("%{name}%"));
    let rows = store::managed_orgs(&acc.db, &scope, &after, name_like, i64::from(limit) + 1).await?;
    Ok(Json(paginate(rows, limit, |r| r.path.clone(), OrgRow::view)))
}

pub(crate) fn paginate<R, T>(
    mut rows: Vec<R>,
    limit: u32,
    cursor: impl Fn(&R) -> String,
    view: impl Fn(&R) -> T,
) -> Page<T> {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(&cursor) } else { None };
    Page {
        items: rows.iter().map(view).collect(),
        next_cursor,
    }
}

/// Create an organization: admins anywhere, curators inside their subtrees.
#[utoipa::path(post, path = "/api/v1/organizations", tag = "organizations", request_body = CreateOrgRequest,
    responses((status = 201, body = OrgView), (status = 403), (status = 422)), security(("bearer" = [])))]
pub(super) async fn create(
    State(acc): State<Orgs>,
    auth: AuthUser,
    Json(req): Json<CreateOrgRequest>,
) -> ApiResult<(StatusCode, Json<OrgView>)> {
    auth.require_role(&[Role::Admin, Role::Curator])?;
    match req.parent_id {
        Some(parent) => require_scope(&acc.db, &auth, parent).await?,
        None if auth.is_admin() => {}
        None => return Err(PlatformError::OrgOutOfScope.into()),
    }
    let org = create_org_of_type(&acc.db, acc.now(), &req.name, req.kind, req.partner_type, req.parent_id).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

/// One organization (members see it; curators in scope also see its join code).
#[utoipa::path(get, path = "/api/v1/organizations/{id}", tag = "organizations", params(("id" = OrgId, Path)),
    responses((status = 200, body = OrgDetail), (status = 403), (status = 404)), security(("bearer" = [])))]
pub(super) async fn get_org(
    State(acc): State<Orgs>,
    auth: AuthUser,
    Path(id): Path<OrgId>,
) -> ApiResult<Json<OrgDetail>> {
    let row = org_row(&acc.db, id).await?.ok_or(PlatformError::OrgNotFound)?;
    let manages = manages_org(&acc.db, &auth, &row).await?;
    if !manages && !memberships(&acc.db, auth.id).await?.iter().any(|o| o.id == id) {
        return Err(PlatformError::OrgOutOfScope.into());
    }
    let (serves, served_by) = if row.kind == OrgKind::Partner {
        (store::served_by(&acc.db, id).await?, Vec::new())
    } else {
        (Vec::new(), partners_serving(&acc.db, &row.path).await?)
    };
    Ok(Json(OrgDetail {
        org: row.view(),
        join_code: if manages { row.join_code.clone() } else { None },
        serves,
        served_by,
    }))
}

/// What a partner unit serves (its members and the curators managing it).
#[utoipa::path(get, path = "/api/v1/organizations/{id}/serves", tag = "organizations", params(("id" = OrgId, Path)),
    responses((status = 200, body = ServesResponse), (status = 403), (status = 404), (status = 422)), security(("bearer" = [])))]
pub(super) async fn get_serves(
    State(acc): State<Orgs>,
    auth: AuthUser,
    Path(id): Path<OrgId>,
) -> ApiResult<Json<ServesResponse>> {
    let row = org_row(&acc.db, id).await?.ok_or(PlatformError::OrgNotFound)?;
    if !manages_org(&acc.db, &auth, &row).await? && !memberships(&acc.db, auth.id).await?.iter().any(|o| o.id == id) {
        return Err(PlatformError::OrgOutOfScope.into());
    }
    Ok(Json(ServesResponse {
        organizations: served_by(&acc.db, id).await?,
    }))
}

/// Set what a partner unit serves: curators who manage the partner and each organization it
/// is to serve (cities, counties, schools). Its experts and curators then publish to those.
#[utoipa::path(put, path = "/api/v1/organizations/{id}/serves", tag = "organizations", params(("id" = OrgId, Path)),
    request_body = ServesRequest,
    responses((status = 200, body = ServesResponse), (status = 403), (status = 404), (status = 422)), security(("bearer" = [])))]
pub(super) async fn put_serves(
    State(acc): State<Orgs>,
    auth: AuthUser,
    Path(id): Path<OrgId>,
    Json(req): Json<ServesRequest>,
) -> ApiResult<Json<ServesResponse>> {
    auth.require_role(&[Role::Admin, Role::Curator])?;
    Ok(Json(ServesResponse {
        organizations: set_served(&acc.db, acc.now(), &auth, id, &req.org_ids).await?,
    }))
}

/// Create or rotate the join code of a school or class (the old code stops working).
#[utoipa::path(post, path = "/api/v1/organizations/{id}/join-code", tag = "organizations", params(("id" = OrgId, Path)),
    responses((status = 201, body = JoinCodeResponse), (status = 403), (status = 422)), security(("bearer" = [])))]
pub(super) async fn rotate_join_code(
    State(acc): State<Orgs>,
    auth: AuthUser,
    Path(id): Path<OrgId>,
) -> ApiResult<(StatusCode, Json<JoinCodeResponse>)> {
    require_scope(&acc.db, &auth, id).await?;
    let row = org_row(&acc.db, id).await?.ok_or(PlatformError::OrgNotFound)?;
    if !row.kind.has_join_code() {
        return Err(PlatformError::JoinCodeNotApplicable.into());
    }
    // A collision with another organization's code is astronomically rare; retry once anyway.
    for _ in 0..3 {
        let code = new_join_code();
        if store::set_join_code(&acc.db, id, &code).await? {
            return Ok((StatusCode::CREATED, Json(JoinCodeResponse { join_code: code })));
        }
    }
    Err(ApiError::internal(anyhow::anyhow!("could not find a free join code")))
}
