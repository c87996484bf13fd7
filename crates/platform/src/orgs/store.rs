//! The queries of the organization tree: organizations by id and page, a new organization, the
//! memberships of a user (all, or those that came by consent), the members of a subtree, the
//! experts a curator may pick, and join codes. Named functions over a pool returning rows; the
//! tree-shape and scope rules stay in the service, and come in as a [`Scope`] where a list is
//! filtered.

use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::Timestamp;
use crate::db::Db;
use crate::ids::{OrgId, UserId};
use crate::scope::Scope;
use crate::validate::{OrgKind, PartnerType};
use crate::{db_execute, with_db};

/// The columns an [`OrgRow`] is read from.
pub(crate) const ORG_COLUMNS: &str = "id, name, kind, parent_id, path, join_code, partner_type";

/// An organization as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct OrgView {
    pub id: OrgId,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub kind: OrgKind,
    pub parent_id: Option<OrgId>,
    /// A partner unit's type (partners only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_type: Option<PartnerType>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct OrgRow {
    pub(crate) id: OrgId,
    pub(crate) name: String,
    #[sqlx(try_from = "String")]
    pub(crate) kind: OrgKind,
    pub(crate) parent_id: Option<OrgId>,
    pub(crate) path: String,
    pub(crate) join_code: Option<String>,
    pub(crate) partner_type: Option<PartnerType>,
}

impl OrgRow {
    pub(crate) fn view(&self) -> OrgView {
        OrgView {
            id: self.id,
            name: self.name.clone(),
            kind: self.kind,
            parent_id: self.parent_id,
            partner_type: self.partner_type,
        }
    }
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

/// An expert of the organizations a curator manages, with the first of their organizations.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct ExpertRow {
    pub(super) id: UserId,
    pub(super) display_name: String,
    pub(super) phone: Option<String>,
    pub(super) org_name: String,
}

pub(super) async fn org(db: &Db, id: OrgId) -> Result<Option<OrgRow>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, OrgRow>(&format!(
        "SELECT {ORG_COLUMNS} FROM organizations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await)
}

/// The organizations `user` belongs to, root-first.
pub(super) async fn memberships(db: &Db, user: UserId) -> Result<Vec<OrgView>, sqlx::Error> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, OrgView>(
            "SELECT o.id, o.name, o.kind, o.parent_id, o.partner_type
         FROM memberships m JOIN organizations o ON o.id = m.org_id
         WHERE m.user_id = $1 ORDER BY o.path",
        )
        .bind(user)
        .fetch_all(pool)
        .await
    })
}

/// The paths of the organizations `target` belongs to; with `consent`, only by a join code, an
/// accepted invitation or an account staff created there.
pub(super) async fn member_org_paths(db: &Db, target: UserId, consent: bool) -> Result<Vec<String>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, String>(
        "SELECT t.path FROM memberships tm JOIN organizations t ON t.id = tm.org_id
         WHERE tm.user_id = $1 AND ($2 = 0 OR tm.via IN ('join_code', 'invitation', 'created'))",
    )
    .bind(target)
    .bind(i64::from(consent))
    .fetch_all(pool)
    .await)
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_org(
    db: &Db,
    id: OrgId,
    parent: Option<OrgId>,
    kind: OrgKind,
    partner_type: Option<PartnerType>,
    name: &str,
    path: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO organizations (id, parent_id, kind, partner_type, name, path, created_at) VALUES ($1, $2, \
         $3, $4, $5, $6, $7)",
        id,
        parent,
        kind.as_str(),
        partner_type.map(PartnerType::as_str),
        name,
        path,
        now,
    )?;
    Ok(())
}

/// Up to `rows` memberships of parents and experts in the subtree at `path`, by user id after
/// `after` (a user in several organizations of the subtree has a row for each).
pub(super) async fn subtree_memberships(
    db: &Db,
    path: &str,
    after: Option<UserId>,
    rows: i64,
) -> Result<Vec<SubtreeMember>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, SubtreeMember>(
        "SELECT u.id AS user_id, u.display_name, u.phone, o.id AS org_id, o.name AS org_name
         FROM users u JOIN memberships m ON m.user_id = u.id JOIN organizations o ON o.id = m.org_id
         WHERE o.path LIKE $1 AND u.deleted_at IS NULL AND u.role IN ('parent', 'expert') AND \
         ($2 IS NULL OR u.id > $2)
         ORDER BY u.id, o.path LIMIT $3",
    )
    .bind(format!("{path}%"))
    .bind(after)
    .bind(rows)
    .fetch_all(pool)
    .await)
}

/// At most 20 experts of organizations `scope` manages, by name; when `name_like` is given,
/// only those whose name matches it (or whose phone matches `phone_like`, when given too).
pub(super) async fn experts(
    db: &Db,
    scope: &Scope,
    name_like: Option<String>,
    phone_like: Option<String>,
) -> Result<Vec<ExpertRow>, sqlx::Error> {
    with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new(
            "SELECT u.id, u.display_name, u.phone, MIN(o.name) AS org_name FROM users u
               JOIN memberships m ON m.user_id = u.id JOIN organizations o ON o.id = m.org_id
              WHERE u.role = 'expert' AND u.deleted_at IS NULL AND ",
        );
        scope.push_manages(&mut qb, "o.path");
        if let Some(name) = &name_like {
            qb.push(" AND (u.display_name LIKE ");
            qb.push_bind(name.clone());
            if let Some(phone) = &phone_like {
                qb.push(" OR u.phone LIKE ");
                qb.push_bind(phone.clone());
            }
            qb.push(")");
        }
        qb.push(" GROUP BY u.id, u.display_name, u.phone ORDER BY u.display_name, u.id LIMIT 20");
        qb.build_query_as::<ExpertRow>().fetch_all(pool).await
    })
}

/// Up to `rows` organizations `scope` manages whose path sorts after `after`, in tree order;
/// when `name_like` is given, only those whose name matches it.
pub(super) async fn managed_orgs(
    db: &Db,
    scope: &Scope,
    after: &str,
    name_like: Option<String>,
    rows: i64,
) -> Result<Vec<OrgRow>, sqlx::Error> {
    with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new(format!("SELECT {ORG_COLUMNS} FROM organizations WHERE path > "));
        qb.push_bind(after);
        qb.push(" AND ");
        scope.push_manages(&mut qb, "path");
        if let Some(name) = &name_like {
            qb.push(" AND name LIKE ");
            qb.push_bind(name.clone());
        }
        qb.push(" ORDER BY path LIMIT ");
        qb.push_bind(rows);
        qb.build_query_as::<OrgRow>().fetch_all(pool).await
    })
}

/// Sets the join code of organization `id`; `false` when another organization has that code.
pub(super) async fn set_join_code(db: &Db, id: OrgId, code: &str) -> Result<bool, sqlx::Error> {
    match db_execute!(db, "UPDATE organizations SET join_code = $2 WHERE id = $1", id, code) {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e),
    }
}

/// The organizations partner `partner` serves, in tree order.
pub(super) async fn served_by(db: &Db, partner: OrgId) -> Result<Vec<OrgView>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, OrgView>(
        "SELECT o.id, o.name, o.kind, o.parent_id, o.partner_type FROM organization_serves s
           JOIN organizations o ON o.id = s.served_id WHERE s.partner_id = $1 ORDER BY o.path",
    )
    .bind(partner)
    .fetch_all(pool)
    .await)
}

/// The partners serving organization `served` itself or one of its ancestors (whose path is a
/// prefix of `served_path`), in tree order.
pub(super) async fn partners_serving(db: &Db, served_path: &str) -> Result<Vec<OrgView>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, OrgView>(
        "SELECT DISTINCT p.id, p.name, p.kind, p.parent_id, p.partner_type, p.path FROM organization_serves s
           JOIN organizations o ON o.id = s.served_id JOIN organizations p ON p.id = s.partner_id
          WHERE $1 LIKE o.path || '%' ORDER BY p.path",
    )
    .bind(served_path)
    .fetch_all(pool)
    .await)
}

/// Replaces the set partner `partner` serves with `served`, in one transaction.
pub(super) async fn set_served(db: &Db, partner: OrgId, served: &[OrgId], now: Timestamp) -> Result<(), sqlx::Error> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query("DELETE FROM organization_serves WHERE partner_id = $1")
            .bind(partner)
            .execute(&mut *tx)
            .await?;
        for id in served {
            sqlx::query("INSERT INTO organization_serves (partner_id, served_id, created_at) VALUES ($1, $2, $3)")
                .bind(partner)
                .bind(*id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    })
}

/// The organizations right under `parent` (not partner units), by name.
pub(super) async fn children(db: &Db, parent: OrgId) -> Result<Vec<OrgRow>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, OrgRow>(&format!(
        "SELECT {ORG_COLUMNS} FROM organizations WHERE parent_id = $1 AND kind <> 'partner' ORDER BY name, id"
    ))
    .bind(parent)
    .fetch_all(pool)
    .await)
}

/// Every parent belonging to the subtree at `path`, with the path of each organization they
/// belong to there (one row per membership).
pub(super) async fn subtree_parents(db: &Db, path: &str) -> Result<Vec<(UserId, String)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, (UserId, String)>(
        "SELECT u.id, o.path FROM users u JOIN memberships m ON m.user_id = u.id \
         JOIN organizations o ON o.id = m.org_id \
         WHERE o.path LIKE $1 AND u.deleted_at IS NULL AND u.role = 'parent' ORDER BY u.id, o.path"
    )
    .bind(format!("{path}%"))
    .fetch_all(pool)
    .await)
}
