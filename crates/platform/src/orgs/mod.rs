//! The organization tree (province → city → county federation → school → class; a
//! municipality's districts and 省直管县 sit right under the province), with 教联体 partner
//! units (museums, hospitals, police, libraries…) under a region, each linked to the cities,
//! counties and schools it serves. Join codes, and the tree's side of the scope rule
//! (`crate::scope`): a curator's powers cover the subtrees of the organizations they belong to;
//! admins cover everything. The queries (and the row types they return) are in `store`.

use axum::extract::State;

use crate::auth::AuthUser;
use crate::db::Db;
use crate::error::msg;
use crate::error::{PlatformError, PlatformResult};
use crate::ids::{OrgId, UserId};
use crate::scope::Scope;
use crate::validate::{self, OrgKind, PartnerType};

mod routes;
mod store;

pub use routes::*;
pub(crate) use store::{ORG_COLUMNS, OrgRow};
pub use store::{OrgView, SubtreeMember};

/// What the tree's routes need: the database and the clock. Any state that gives one
/// (`FromRef`) can serve them; the accounts' state does.
#[derive(Clone, Debug)]
pub struct Orgs {
    pub db: Db,
    pub clock: std::sync::Arc<dyn crate::Clock>,
}

impl Orgs {
    pub fn now(&self) -> crate::Timestamp {
        self.clock.now()
    }
}

pub(crate) async fn org_row(db: &Db, id: OrgId) -> PlatformResult<Option<OrgRow>> {
    Ok(store::org(db, id).await?)
}

/// 404 unless the organization exists.
pub async fn require_org(db: &Db, id: OrgId) -> PlatformResult<()> {
    org_row(db, id).await?.map(|_| ()).ok_or(PlatformError::OrgNotFound)
}

/// The organizations a user belongs to, root-first.
pub async fn memberships(db: &Db, user: UserId) -> PlatformResult<Vec<OrgView>> {
    Ok(store::memberships(db, user).await?)
}

/// Whether `user` manages organization `org` (the rule of [`Scope::manages`]).
async fn manages_org(db: &Db, user: &AuthUser, org: &OrgRow) -> PlatformResult<bool> {
    Ok(Scope::load(db, Some(user)).await?.manages(&org.path))
}

/// 404 when the organization does not exist, 403 when `user` does not manage it
/// ([`Scope::manages`]).
pub async fn require_scope(db: &Db, user: &AuthUser, org: OrgId) -> PlatformResult<()> {
    let row = org_row(db, org).await?.ok_or(PlatformError::OrgNotFound)?;
    if manages_org(db, user, &row).await? {
        Ok(())
    } else {
        Err(PlatformError::OrgOutOfScope)
    }
}

/// Whether `target` belongs to an organization that `staff` manages ([`Scope::manages`]).
pub async fn user_in_scope_of(db: &Db, staff: &AuthUser, target: UserId) -> PlatformResult<bool> {
    member_in_scope(db, staff, target, false).await
}

/// Whether `target` belongs to an organization that `staff` manages by their own consent (a
/// join code, an accepted invitation) or because staff created the account there. Only then may
/// staff act for them, e.g. reset their password.
pub async fn user_in_scope_by_consent(db: &Db, staff: &AuthUser, target: UserId) -> PlatformResult<bool> {
    member_in_scope(db, staff, target, true).await
}

async fn member_in_scope(db: &Db, staff: &AuthUser, target: UserId, consent: bool) -> PlatformResult<bool> {
    let scope = Scope::load(db, Some(staff)).await?;
    let paths = store::member_org_paths(db, target, consent).await?;
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

/// Creates an organization below `parent` (a root when `None`) after checking the tree shape.
pub async fn create_org(
    db: &Db,
    now: crate::Timestamp,
    name: &str,
    kind: OrgKind,
    parent: Option<OrgId>,
) -> PlatformResult<OrgView> {
    create_org_of_type(db, now, name, kind, None, parent).await
}

/// [`create_org`] with a partner unit's type (required for partners, refused for the rest).
pub async fn create_org_of_type(
    db: &Db,
    now: crate::Timestamp,
    name: &str,
    kind: OrgKind,
    partner_type: Option<PartnerType>,
    parent: Option<OrgId>,
) -> PlatformResult<OrgView> {
    match (kind, partner_type) {
        (OrgKind::Partner, None) => {
            return Err(PlatformError::field(
                "partner_type",
                msg(
                    "请选择成员单位的类型（博物馆/科技馆、医院/卫生院、公安/派出所、图书馆、体育场馆、社区/街道、高校/研究机构、其他）。",
                    "Choose the partner unit's type.",
                ),
            ));
        }
        (OrgKind::Partner, Some(_)) | (_, None) => {}
        (_, Some(_)) => {
            return Err(PlatformError::field(
                "partner_type",
                msg("只有教联体成员单位才有类型。", "Only partner units have a type."),
            ));
        }
    }
    let name = validate::name(name, 64).map_err(|m| PlatformError::field("name", m))?;
    let parent_row = match parent {
        Some(p) => Some(org_row(db, p).await?.ok_or_else(|| {
            PlatformError::field(
                "parent_id",
                msg("上级组织不存在。", "The parent organization does not exist."),
            )
        })?),
        None => None,
    };
    let parent_kind = parent_row.as_ref().map(|p| p.kind);
    if !kind.may_have_parent(parent_kind) {
        return Err(PlatformError::field(
            "parent_id",
            msg(
                format!(
                    "“{}”不能建在“{}”之下（省 → 市 → 县/区 → 学校 → 班级；直辖市的区、省直管县可直接建在省级之下；成员单位建在省、市或县/区之下）。",
                    kind_zh(kind),
                    parent_kind.map_or("顶层", kind_zh)
                ),
                format!(
                    "A {} cannot be placed under {} (province → city → county → school → class; a \
                     county may sit right under a province; partners under a province, city or \
                     county).",
                    kind.as_str(),
                    parent_kind.map_or("the top level", OrgKind::as_str)
                ),
            ),
        ));
    }
    let id = OrgId::new();
    let path = format!("{}{id}/", parent_row.as_ref().map_or("/", |p| p.path.as_str()));
    store::insert_org(db, id, parent, kind, partner_type, &name, &path, now).await?;
    Ok(OrgView {
        id,
        name,
        kind,
        parent_id: parent,
        partner_type,
    })
}

fn kind_zh(kind: OrgKind) -> &'static str {
    match kind {
        OrgKind::Province => "省级",
        OrgKind::City => "市级",
        OrgKind::County => "县/区级",
        OrgKind::School => "学校",
        OrgKind::Class => "班级",
        OrgKind::Partner => "教联体成员单位",
    }
}

/// The organizations partner `partner` serves (404 unless it exists, 422 unless a partner).
pub async fn served_by(db: &Db, partner: OrgId) -> PlatformResult<Vec<OrgView>> {
    let row = org_row(db, partner).await?.ok_or(PlatformError::OrgNotFound)?;
    if row.kind != OrgKind::Partner {
        return Err(PlatformError::NotAPartner);
    }
    Ok(store::served_by(db, partner).await?)
}

/// The partner units serving the organization at `path` or one of its ancestors.
pub async fn partners_serving(db: &Db, path: &str) -> PlatformResult<Vec<OrgView>> {
    Ok(store::partners_serving(db, path).await?)
}

/// Sets what partner `partner` serves, for `user`: they must manage the partner and every
/// organization in `served`, each a city, county or school. Returns the new set.
pub async fn set_served(
    db: &Db,
    now: crate::Timestamp,
    user: &AuthUser,
    partner: OrgId,
    served: &[OrgId],
) -> PlatformResult<Vec<OrgView>> {
    require_scope(db, user, partner).await?;
    let row = org_row(db, partner).await?.ok_or(PlatformError::OrgNotFound)?;
    if row.kind != OrgKind::Partner {
        return Err(PlatformError::NotAPartner);
    }
    if served.len() > 500 {
        return Err(PlatformError::field(
            "org_ids",
            msg("一次最多 500 个组织。", "At most 500 organizations at once."),
        ));
    }
    let scope = Scope::load(db, Some(user)).await?;
    let mut ids: Vec<OrgId> = Vec::new();
    for (i, id) in served.iter().enumerate() {
        let field = format!("org_ids[{i}]");
        let Some(o) = org_row(db, *id).await? else {
            return Err(PlatformError::field(
                &field,
                msg("组织不存在。", "The organization does not exist."),
            ));
        };
        if !o.kind.may_be_served() {
            return Err(PlatformError::field(
                &field,
                msg(
                    format!("成员单位只能服务市、县/区或学校，“{}”是{}。", o.name, kind_zh(o.kind)),
                    format!(
                        "A partner serves cities, counties or schools; “{}” is a {}.",
                        o.name,
                        o.kind.as_str()
                    ),
                ),
            ));
        }
        if !scope.manages(&o.path) {
            return Err(PlatformError::OrgOutOfScope);
        }
        if !ids.contains(id) {
            ids.push(*id);
        }
    }
    store::set_served(db, partner, &ids, now).await?;
    Ok(store::served_by(db, partner).await?)
}

/// 8 characters, no look-alikes: easy to read out in a parents' group chat.
fn new_join_code() -> String {
    crate::ids::readable_code(8)
}

/// The name of an organization (404 when it does not exist).
pub async fn org_name(db: &Db, id: OrgId) -> PlatformResult<String> {
    org_row(db, id).await?.map(|r| r.name).ok_or(PlatformError::OrgNotFound)
}

/// The materialised path of an organization (404 when it does not exist).
pub async fn org_path(db: &Db, id: OrgId) -> PlatformResult<String> {
    org_row(db, id).await?.map(|r| r.path).ok_or(PlatformError::OrgNotFound)
}

/// Parents and experts belonging to `org` or below it, ordered by user id, a page at a time
/// (`after`: the last user id of the previous page). A user in several organizations of the
/// subtree appears once, with the first of them.
pub async fn subtree_members(
    db: &Db,
    org: OrgId,
    after: Option<UserId>,
    limit: i64,
) -> PlatformResult<Vec<SubtreeMember>> {
    let path = org_path(db, org).await?;
    // Rows are per membership: leave room for users in several organizations of the subtree.
    let rows = store::subtree_memberships(db, &path, after, limit.saturating_mul(4).saturating_add(4)).await?;
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

/// The organizations right under `org` (its child units: the cities of a province, the schools
/// of a county, the classes of a school), by name, each with its path; partner units aside.
pub async fn child_units(db: &Db, org: OrgId) -> PlatformResult<Vec<(OrgView, String)>> {
    Ok(store::children(db, org)
        .await?
        .iter()
        .map(|r| (r.view(), r.path.clone()))
        .collect())
}

/// The parents of the subtree at `path`, each once, with the path of the first of their
/// organizations there (the evaluation sorts them into child units by it).
pub async fn subtree_parents(db: &Db, path: &str) -> PlatformResult<Vec<(UserId, String)>> {
    let mut rows = store::subtree_parents(db, path).await?;
    rows.dedup_by_key(|r| r.0);
    Ok(rows)
}

/// Pushes ` AND {column} IN (the users belonging to the subtree at path)`, unless `path` is
/// `None` (everyone): limits a scan of per-user rows to an organization's members.
pub fn push_members_under<'a, DB>(qb: &mut sqlx::QueryBuilder<'a, DB>, column: &str, path: Option<&str>)
where
    DB: sqlx::Database,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
{
    let Some(path) = path else { return };
    qb.push(format!(
        " AND {column} IN (SELECT m.user_id FROM memberships m JOIN organizations o ON o.id = m.org_id \
         WHERE o.path LIKE "
    ));
    qb.push_bind(format!("{path}%"));
    qb.push(")");
}
