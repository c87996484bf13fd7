//! The organization tree (province → city → county federation → school → class), memberships,
//! join codes, and the scope rule every domain uses: a curator's powers cover the subtrees of the
//! organizations they belong to; admins cover everything.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::accounts::{Accounts, out_of_scope_user};
use crate::auth::AuthUser;
use crate::clock::Timestamp;
use crate::db::Db;
use crate::error::{ApiError, ApiResult, msg};
use crate::http::{ApiRouter, ClientIp, Json, Page, PageQuery, Path, Query};
use crate::ids::{InvitationId, OrgId, UserId};
use crate::scope::Scope;
use crate::validate::{self, OrgKind, PhoneNumber, Role};
use crate::{db_execute, with_db};

/// An organization as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct OrgView {
    pub id: OrgId,
    pub name: String,
    #[schema(value_type = OrgKind)]
    pub kind: String,
    pub parent_id: Option<OrgId>,
}

#[derive(Debug, sqlx::FromRow)]
struct OrgRow {
    id: OrgId,
    name: String,
    kind: String,
    parent_id: Option<OrgId>,
    path: String,
    join_code: Option<String>,
}

impl OrgRow {
    fn view(&self) -> OrgView {
        OrgView {
            id: self.id,
            name: self.name.clone(),
            kind: self.kind.clone(),
            parent_id: self.parent_id,
        }
    }
}

fn org_not_found() -> ApiError {
    ApiError::not_found("organization_not_found", msg("组织不存在。", "No such organization."))
}

fn org_out_of_scope() -> ApiError {
    ApiError::forbidden(
        "out_of_scope",
        msg("该组织不在你的管理范围内。", "This organization is outside your scope."),
    )
}

async fn org_row(db: &Db, id: OrgId) -> ApiResult<Option<OrgRow>> {
    Ok(with_db!(db, |pool| sqlx::query_as::<_, OrgRow>(
        "SELECT id, name, kind, parent_id, path, join_code FROM organizations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await)?)
}

/// 404 unless the organization exists.
pub async fn require_org(db: &Db, id: OrgId) -> ApiResult<()> {
    org_row(db, id).await?.map(|_| ()).ok_or_else(org_not_found)
}

/// The organizations a user belongs to, root-first.
pub async fn memberships(db: &Db, user: UserId) -> ApiResult<Vec<OrgView>> {
    Ok(with_db!(db, |pool| sqlx::query_as::<_, OrgView>(
        "SELECT o.id, o.name, o.kind, o.parent_id FROM memberships m JOIN organizations o ON \
         o.id = m.org_id
         WHERE m.user_id = $1 ORDER BY o.path",
    )
    .bind(user)
    .fetch_all(pool)
    .await)?)
}

/// Whether `user` manages organization `org` (the rule of [`Scope::manages`]).
async fn manages_org(db: &Db, user: &AuthUser, org: &OrgRow) -> ApiResult<bool> {
    Ok(Scope::load(db, Some(user)).await?.manages(&org.path))
}

/// 404 when the organization does not exist, 403 when `user` does not manage it
/// ([`Scope::manages`]).
pub async fn require_scope(db: &Db, user: &AuthUser, org: OrgId) -> ApiResult<()> {
    let row = org_row(db, org).await?.ok_or_else(org_not_found)?;
    if manages_org(db, user, &row).await? {
        Ok(())
    } else {
        Err(org_out_of_scope())
    }
}

/// Whether `target` belongs to an organization that `staff` manages ([`Scope::manages`]).
pub async fn user_in_scope_of(db: &Db, staff: &AuthUser, target: UserId) -> ApiResult<bool> {
    member_in_scope(db, staff, target, false).await
}

/// Whether `target` belongs to an organization that `staff` manages by their own consent (a
/// join code, an accepted invitation) or because staff created the account there. Only then may
/// staff act for them, e.g. reset their password.
pub async fn user_in_scope_by_consent(db: &Db, staff: &AuthUser, target: UserId) -> ApiResult<bool> {
    member_in_scope(db, staff, target, true).await
}

async fn member_in_scope(db: &Db, staff: &AuthUser, target: UserId, consent: bool) -> ApiResult<bool> {
    let scope = Scope::load(db, Some(staff)).await?;
    let paths: Vec<String> = with_db!(db, |pool| sqlx::query_scalar::<_, String>(
        "SELECT t.path FROM memberships tm JOIN organizations t ON t.id = tm.org_id
         WHERE tm.user_id = $1 AND ($2 = 0 OR tm.via IN ('join_code', 'invitation', 'created'))",
    )
    .bind(target)
    .bind(i64::from(consent))
    .fetch_all(pool)
    .await)?;
    Ok(paths.iter().any(|p| scope.manages(p)))
}

/// How a membership came about (`memberships.via`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The user entered the organization's join code.
    JoinCode,
    /// The user accepted a staff member's invitation.
    Invitation,
    /// Staff (or the CLI) created the account in the organization.
    Created,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JoinCode => "join_code",
            Self::Invitation => "invitation",
            Self::Created => "created",
        }
    }
}

/// Join-code attempts per account within the login window.
const JOIN_ATTEMPTS: u32 = 10;

/// How long an invitation stays open.
const INVITATION_DAYS: i64 = 14;

/// Creates an organization below `parent` (a root when `None`) after checking the tree shape.
pub async fn create_org(
    db: &Db,
    now: crate::Timestamp,
    name: &str,
    kind: OrgKind,
    parent: Option<OrgId>,
) -> ApiResult<OrgView> {
    let name = validate::name(name, 64).map_err(|m| ApiError::invalid_field("name", m))?;
    let parent_row = match parent {
        Some(p) => Some(org_row(db, p).await?.ok_or_else(|| {
            ApiError::invalid_field(
                "parent_id",
                msg("上级组织不存在。", "The parent organization does not exist."),
            )
        })?),
        None => None,
    };
    let parent_kind = parent_row.as_ref().and_then(|p| OrgKind::parse(&p.kind));
    if !kind.may_have_parent(parent_kind) {
        return Err(ApiError::invalid_field(
            "parent_id",
            msg(
                format!(
                    "“{}”不能建在“{}”之下（省 → 市 → 县/区 → 学校 → 班级）。",
                    kind_zh(kind),
                    parent_kind.map_or("顶层", kind_zh)
                ),
                format!(
                    "A {} cannot be placed under {} (province → city → county → school → class).",
                    kind.as_str(),
                    parent_kind.map_or("the top level", OrgKind::as_str)
                ),
            ),
        ));
    }
    let id = OrgId::new();
    let path = format!("{}{id}/", parent_row.as_ref().map_or("/", |p| p.path.as_str()));
    db_execute!(
        db,
        "INSERT INTO organizations (id, parent_id, kind, name, path, created_at) VALUES ($1, \
         $2, \
         $3, $4, $5, $6)",
        id,
        parent,
        kind.as_str(),
        &name,
        &path,
        now,
    )?;
    Ok(OrgView {
        id,
        name,
        kind: kind.as_str().to_owned(),
        parent_id: parent,
    })
}

fn kind_zh(kind: OrgKind) -> &'static str {
    match kind {
        OrgKind::Province => "省级",
        OrgKind::City => "市级",
        OrgKind::County => "县/区级",
        OrgKind::School => "学校",
        OrgKind::Class => "班级",
    }
}

/// 8 characters, no look-alikes: easy to read out in a parents' group chat.
fn new_join_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..8)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    pub name: String,
    pub kind: OrgKind,
    pub parent_id: Option<OrgId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgDetail {
    #[serde(flatten)]
    pub org: OrgView,
    /// Shown to curators in scope (schools and classes only).
    pub join_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JoinCodeResponse {
    pub join_code: String,
}

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
    #[schema(value_type = Role)]
    pub role: String,
}

pub(crate) fn router() -> ApiRouter<Accounts> {
    ApiRouter::new()
        .routes(routes!(list_orgs, create))
        .routes(routes!(get_org))
        .routes(routes!(rotate_join_code))
        .routes(routes!(join))
        .routes(routes!(list_members, add_member))
        .routes(routes!(my_invitations))
        .routes(routes!(accept_invitation))
        .routes(routes!(decline_invitation))
        .routes(routes!(remove_member))
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
async fn find_experts(
    State(acc): State<Accounts>,
    auth: AuthUser,
    Query(q): Query<ExpertQuery>,
) -> ApiResult<Json<Vec<ExpertView>>> {
    auth.require_role(&[Role::Admin, Role::Curator])?;
    let scope = Scope::load(&acc.db, Some(&auth)).await?;
    let text = q.q.unwrap_or_default().trim().chars().take(20).collect::<String>();
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let name = format!("%{}%", text.replace(['%', '_', '\\'], ""));
    #[derive(sqlx::FromRow)]
    struct Row {
        id: UserId,
        display_name: String,
        phone: Option<String>,
        org_name: String,
    }
    let rows: Vec<Row> = with_db!(&acc.db, |pool| {
        let mut qb = sqlx::QueryBuilder::new(
            "SELECT u.id, u.display_name, u.phone, MIN(o.name) AS org_name FROM users u
               JOIN memberships m ON m.user_id = u.id JOIN organizations o ON o.id = m.org_id
              WHERE u.role = 'expert' AND u.deleted_at IS NULL AND ",
        );
        scope.push_manages(&mut qb, "o.path");
        if !text.is_empty() {
            qb.push(" AND (u.display_name LIKE ");
            qb.push_bind(name.clone());
            if digits.len() >= 4 && digits.len() == text.len() {
                qb.push(" OR u.phone LIKE ");
                qb.push_bind(format!("%{digits}%"));
            }
            qb.push(")");
        }
        qb.push(" GROUP BY u.id, u.display_name, u.phone ORDER BY u.display_name, u.id LIMIT 20");
        qb.build_query_as::<Row>().fetch_all(pool).await
    })?;
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
async fn list_orgs(
    State(acc): State<Accounts>,
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
    let rows: Vec<OrgRow> = with_db!(&acc.db, |pool| {
        let mut qb = sqlx::QueryBuilder::new(
            "SELECT id, name, kind, parent_id, path, join_code FROM organizations WHERE path > ",
        );
        qb.push_bind(&after);
        qb.push(" AND ");
        scope.push_manages(&mut qb, "path");
        if let Some(name) = &name {
            qb.push(" AND name LIKE ");
            qb.push_bind(format!("%{name}%"));
        }
        qb.push(" ORDER BY path LIMIT ");
        qb.push_bind(i64::from(limit) + 1);
        qb.build_query_as::<OrgRow>().fetch_all(pool).await
    })?;
    Ok(Json(paginate(rows, limit, |r| r.path.clone(), OrgRow::view)))
}

fn paginate<R, T>(mut rows: Vec<R>, limit: u32, cursor: impl Fn(&R) -> String, view: impl Fn(&R) -> T) -> Page<T> {
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
async fn create(
    State(acc): State<Accounts>,
    auth: AuthUser,
    Json(req): Json<CreateOrgRequest>,
) -> ApiResult<(StatusCode, Json<OrgView>)> {
    auth.require_role(&[Role::Admin, Role::Curator])?;
    match req.parent_id {
        Some(parent) => require_scope(&acc.db, &auth, parent).await?,
        None if auth.is_admin() => {}
        None => return Err(org_out_of_scope()),
    }
    let org = create_org(&acc.db, acc.now(), &req.name, req.kind, req.parent_id).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

/// One organization (members see it; curators in scope also see its join code).
#[utoipa::path(get, path = "/api/v1/organizations/{id}", tag = "organizations", params(("id" = OrgId, Path)),
    responses((status = 200, body = OrgDetail), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn get_org(State(acc): State<Accounts>, auth: AuthUser, Path(id): Path<OrgId>) -> ApiResult<Json<OrgDetail>> {
    let row = org_row(&acc.db, id).await?.ok_or_else(org_not_found)?;
    let manages = manages_org(&acc.db, &auth, &row).await?;
    if !manages && !memberships(&acc.db, auth.id).await?.iter().any(|o| o.id == id) {
        return Err(org_out_of_scope());
    }
    Ok(Json(OrgDetail {
        org: row.view(),
        join_code: if manages { row.join_code.clone() } else { None },
    }))
}

/// Create or rotate the join code of a school or class (the old code stops working).
#[utoipa::path(post, path = "/api/v1/organizations/{id}/join-code", tag = "organizations", params(("id" = OrgId, Path)),
    responses((status = 201, body = JoinCodeResponse), (status = 403), (status = 422)), security(("bearer" = [])))]
async fn rotate_join_code(
    State(acc): State<Accounts>,
    auth: AuthUser,
    Path(id): Path<OrgId>,
) -> ApiResult<(StatusCode, Json<JoinCodeResponse>)> {
    require_scope(&acc.db, &auth, id).await?;
    let row = org_row(&acc.db, id).await?.ok_or_else(org_not_found)?;
    if !OrgKind::parse(&row.kind).is_some_and(OrgKind::has_join_code) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "join_code_not_applicable",
            msg(
                "只有学校和班级可以设置加入码。",
                "Only schools and classes have join codes.",
            ),
        ));
    }
    // A collision with another organization's code is astronomically rare; retry once anyway.
    for _ in 0..3 {
        let code = new_join_code();
        let result = db_execute!(
            &acc.db,
            "UPDATE organizations SET join_code = $2 WHERE id = $1",
            id,
            &code
        );
        match result {
            Ok(_) => {
                return Ok((StatusCode::CREATED, Json(JoinCodeResponse { join_code: code })));
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal(anyhow::anyhow!("could not find a free join code")))
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
        return Err(ApiError::invalid_field(
            "join_code",
            msg("请填写加入码。", "Enter the join code."),
        ));
    }
    let row: Option<OrgRow> = with_db!(&acc.db, |pool| sqlx::query_as::<_, OrgRow>(
        "SELECT id, name, kind, parent_id, path, join_code FROM organizations WHERE join_code = \
         $1",
    )
    .bind(&code)
    .fetch_optional(pool)
    .await)?;
    let row = row.ok_or_else(|| {
        ApiError::not_found(
            "join_code_not_found",
            msg(
                "加入码无效或已更换，请向老师确认。",
                "Unknown or rotated join code; ask the school.",
            ),
        )
    })?;
    add_membership(&acc.db, auth.id, row.id, Via::JoinCode, acc.now()).await?;
    Ok(Json(row.view()))
}

/// Adds a membership; joining again by consent upgrades one of unknown origin.
async fn add_membership(db: &Db, user: UserId, org: OrgId, via: Via, now: Timestamp) -> ApiResult<()> {
    db_execute!(
        db,
        "INSERT INTO memberships (user_id, org_id, created_at, via) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, org_id) DO UPDATE SET via = excluded.via WHERE memberships.via = \
         'unknown'",
        user,
        org,
        now,
        via.as_str(),
    )?;
    Ok(())
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
    #[derive(sqlx::FromRow)]
    struct Row {
        id: UserId,
        display_name: String,
        phone: Option<String>,
        role: String,
    }
    let rows: Vec<Row> = with_db!(&acc.db, |pool| sqlx::query_as::<_, Row>(
        "SELECT u.id, u.display_name, u.phone, u.role FROM memberships m JOIN users u ON u.id = \
         m.user_id
         WHERE m.org_id = $1 AND u.deleted_at IS NULL AND ($2 IS NULL OR u.id > $2) ORDER BY \
         u.id LIMIT $3",
    )
    .bind(id)
    .bind(after)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await)?;
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
            role: r.role.clone(),
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
    let phone = PhoneNumber::parse(&req.phone).map_err(|m| ApiError::invalid_field("phone", m))?;
    let now = acc.now();
    let expires_at = now.plus_seconds(INVITATION_DAYS * 86_400);
    // A repeated invitation is renewed, not duplicated.
    db_execute!(
        &acc.db,
        "INSERT INTO org_invitations (id, org_id, phone, invited_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, \
         $5, $6)
         ON CONFLICT (org_id, phone) DO UPDATE SET invited_by = excluded.invited_by, created_at \
         = \
         excluded.created_at, expires_at = excluded.expires_at",
        InvitationId::new(),
        id,
        phone.as_str(),
        auth.id,
        now,
        expires_at,
    )?;
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
    #[derive(sqlx::FromRow)]
    struct Row {
        id: InvitationId,
        org_id: OrgId,
        name: String,
        kind: String,
        parent_id: Option<OrgId>,
        invited_by_name: String,
        expires_at: Timestamp,
    }
    let rows: Vec<Row> = with_db!(&acc.db, |pool| {
        sqlx::query_as::<_, Row>(
            "SELECT i.id, o.id AS org_id, o.name, o.kind, o.parent_id, s.display_name AS \
             invited_by_name, i.expires_at
         FROM org_invitations i JOIN users u ON u.phone = i.phone JOIN organizations o ON o.id \
             = \
             i.org_id
              JOIN users s ON s.id = i.invited_by
         WHERE u.id = $1 AND u.deleted_at IS NULL AND i.expires_at > $2
           AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.org_id = \
             i.org_id AND m.via <> \
             'unknown')
         ORDER BY i.created_at DESC LIMIT 50",
        )
        .bind(auth.id)
        .bind(acc.now())
        .fetch_all(pool)
        .await
    })?;
    Ok(Json(
        rows.into_iter()
            .map(|r| InvitationView {
                id: r.id,
                organization: OrgView {
                    id: r.org_id,
                    name: r.name,
                    kind: r.kind,
                    parent_id: r.parent_id,
                },
                invited_by: r.invited_by_name,
                expires_at: r.expires_at,
            })
            .collect(),
    ))
}

/// The caller's open invitation `id`: (invitation, organization).
async fn open_invitation(acc: &Accounts, auth: &AuthUser, id: InvitationId) -> ApiResult<OrgId> {
    let org: Option<OrgId> = with_db!(&acc.db, |pool| sqlx::query_scalar::<_, OrgId>(
        "SELECT i.org_id FROM org_invitations i JOIN users u ON u.phone = i.phone
         WHERE i.id = $1 AND u.id = $2 AND u.deleted_at IS NULL AND i.expires_at > $3",
    )
    .bind(id)
    .bind(auth.id)
    .bind(acc.now())
    .fetch_optional(pool)
    .await)?;
    org.ok_or_else(|| {
        ApiError::not_found(
            "invitation_not_found",
            msg(
                "没有这条邀请，或邀请已过期，请向老师确认。",
                "No such invitation, or it has expired; ask the school.",
            ),
        )
    })
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
    add_membership(&acc.db, auth.id, org, Via::Invitation, acc.now()).await?;
    db_execute!(&acc.db, "DELETE FROM org_invitations WHERE id = $1", id)?;
    let row = org_row(&acc.db, org).await?.ok_or_else(org_not_found)?;
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
    db_execute!(&acc.db, "DELETE FROM org_invitations WHERE id = $1", id)?;
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
            return Err(out_of_scope_user());
        }
    }
    db_execute!(
        &acc.db,
        "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2",
        id,
        user
    )?;
    Ok(StatusCode::NO_CONTENT)
}

/// The materialised path of an organization (404 when it does not exist).
pub async fn org_path(db: &Db, id: OrgId) -> ApiResult<String> {
    org_row(db, id).await?.map(|r| r.path).ok_or_else(org_not_found)
}

/// A member of an organization subtree, for reports.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct SubtreeMember {
    pub user_id: UserId,
    pub display_name: String,
    #[serde(skip)]
    pub phone: Option<String>,
    pub org_id: OrgId,
    pub org_name: String,
}

/// Parents and experts belonging to `org` or below it, ordered by user id, a page at a time
/// (`after`: the last user id of the previous page). A user in several organizations of the
/// subtree appears once, with the first of them.
pub async fn subtree_members(db: &Db, org: OrgId, after: Option<UserId>, limit: i64) -> ApiResult<Vec<SubtreeMember>> {
    let path = org_path(db, org).await?;
    let rows: Vec<SubtreeMember> = with_db!(db, |pool| sqlx::query_as::<_, SubtreeMember>(
        "SELECT u.id AS user_id, u.display_name, u.phone, o.id AS org_id, o.name AS org_name
         FROM users u JOIN memberships m ON m.user_id = u.id JOIN organizations o ON o.id = \
         m.org_id
         WHERE o.path LIKE $1 AND u.deleted_at IS NULL AND u.role IN ('parent', 'expert') AND \
         ($2 IS NULL OR u.id > $2)
         ORDER BY u.id, o.path LIMIT $3",
    )
    .bind(format!("{path}%"))
    .bind(after)
    // Rows are per membership: leave room for users in several organizations of the subtree.
    .bind(limit.saturating_mul(4).saturating_add(4))
    .fetch_all(pool)
    .await)?;
    let mut out: Vec<SubtreeMember> = Vec::new();
    for r in rows {
        if out.last().is_some_and(|l| l.user_id == r.user_id) {
            continue;
        }
        if out.len() as i64 >= limit {
            break;
        }
        out.push(r);
    }
    Ok(out)
}
