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
use crate::validate::OrgKind;
use crate::{db_execute, with_db};

/// An organization as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct OrgView {
    pub id: OrgId,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub kind: OrgKind,
    pub parent_id: Option<OrgId>,
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
}

impl OrgRow {
    pub(crate) fn view(&self) -> OrgView {
        OrgView {
            id: self.id,
            name: self.name.clone(),
            kind: self.kind,
            parent_id: self.parent_id,
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
    with_db!(db, |pool| sqlx::query_as::<_, OrgRow>(
        "SELECT id, name, kind, parent_id, path, join_code FROM organizations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await)
}

/// The organizations `user` belongs to, root-first.
pub(super) async fn memberships(db: &Db, user: UserId) -> Result<Vec<OrgView>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, OrgView>(
        "SELECT o.id, o.name, o.kind, o.parent_id FROM memberships m JOIN organizations o ON o.id = m.org_id
         WHERE m.user_id = $1 ORDER BY o.path",
    )
    .bind(user)
    .fetch_all(pool)
    .await)
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

pub(super) async fn insert_org(
    db: &Db,
    id: OrgId,
    parent: Option<OrgId>,
    kind: OrgKind,
    name: &str,
    path: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO organizations (id, parent_id, kind, name, path, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        id,
        parent,
        kind.as_str(),
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
        let mut qb = sqlx::QueryBuilder::new(
            "SELECT id, name, kind, parent_id, path, join_code FROM organizations WHERE path > ",
        );
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
