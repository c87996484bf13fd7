//! The one rule for "may this actor see / manage this object", used by catalog, media and live.
//!
//! Organizations form a tree whose nodes carry materialised paths (`/<root>/<district>/<school>/`,
//! always ending in `/`, so that one path is a prefix of another exactly when it is an ancestor or
//! the node itself). Objects carry the path of the organization they are *scoped to* (who may see
//! them; `None`: everyone) and of the one that *owns* them (who may manage them).
//!
//! - **sees**: an object scoped to organization `o` is seen by the members of `o` and of every
//!   organization below it, i.e. when `o`'s path is a prefix of one of the viewer's membership
//!   paths. Unscoped objects are seen by everyone, anonymous visitors included. Admins see all.
//! - **reaches**: a path inside one of the actor's subtrees (one of their membership paths is a
//!   prefix of it), whatever their role. Experts may aim a lecture at what they reach.
//! - **manages**: admins manage everything; curators manage what their subtrees own (reach);
//!   parents and experts manage nothing by scope (experts manage what they authored, which each
//!   domain checks against its own author column).
//! - **publishes to everyone**: admins and curators of a top-level (province) organization.
//!
//! A [`Scope`] is loaded once per request ([`Scope::load`]) and answers in memory; its
//! `push_*` methods render the same rules as SQL conditions for list queries, so a page is
//! filtered before it is limited.

use sqlx::{Database, QueryBuilder};

use crate::auth::AuthUser;
use crate::ids::UserId;
use crate::validate::Role;
use crate::{Db, PlatformResult, with_db};

/// What an actor's organizations let them see and manage.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// `None` for anonymous visitors.
    actor: Option<(UserId, Role)>,
    /// The paths of the organizations the actor belongs to (by any membership).
    member: Vec<String>,
}

impl Scope {
    /// Nobody signed in: sees unscoped objects only, manages nothing.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// The actor's scope, from their memberships (one query; none for anonymous visitors).
    pub async fn load(db: &Db, actor: Option<&AuthUser>) -> PlatformResult<Self> {
        let Some(user) = actor else {
            return Ok(Self::anonymous());
        };
        Ok(Self::of(user, member_paths(db, user.id).await?))
    }

    /// The scope of user `id` as a member only (no role: sees by membership, manages nothing),
    /// for questions about someone other than the caller, e.g. "is this parent in the audience".
    pub async fn load_member(db: &Db, id: UserId) -> PlatformResult<Self> {
        let member = member_paths(db, id).await?;
        Ok(Self { actor: None, member })
    }

    /// A scope from known membership paths (tests, and callers that already have them).
    pub fn of(user: &AuthUser, member: Vec<String>) -> Self {
        Self {
            actor: Some((user.id, user.role)),
            member,
        }
    }

    pub fn user_id(&self) -> Option<UserId> {
        self.actor.map(|(id, _)| id)
    }

    pub fn role(&self) -> Option<Role> {
        self.actor.map(|(_, r)| r)
    }

    pub fn is_admin(&self) -> bool {
        self.role() == Some(Role::Admin)
    }

    /// The paths of the actor's own organizations.
    pub fn member_paths(&self) -> &[String] {
        &self.member
    }

    /// Whether an object scoped to `scope_path` (`None`: everyone) is seen by the actor.
    pub fn sees(&self, scope_path: Option<&str>) -> bool {
        match scope_path {
            None => true,
            Some(_) if self.is_admin() => true,
            Some(path) => self.member.iter().any(|m| within(m, path)),
        }
    }

    /// Whether `path` lies inside one of the actor's subtrees (any role).
    pub fn reaches(&self, path: &str) -> bool {
        self.is_admin() || self.member.iter().any(|m| within(path, m))
    }

    /// Whether the actor manages objects owned by (or organizations at) `path`.
    pub fn manages(&self, path: &str) -> bool {
        match self.role() {
            Some(Role::Admin) => true,
            Some(Role::Curator) => self.reaches(path),
            _ => false,
        }
    }

    /// Whether the actor may make an object visible to everyone.
    pub fn publishes_to_everyone(&self) -> bool {
        match self.role() {
            Some(Role::Admin) => true,
            Some(Role::Curator) => self.member.iter().any(|m| depth(m) == 1),
            _ => false,
        }
    }

    /// The ancestors-or-self of the actor's organizations: an object scoped to any of them is seen.
    fn seen_paths(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for path in &self.member {
            let mut prefix = String::from("/");
            for seg in path.split('/').filter(|s| !s.is_empty()) {
                prefix.push_str(seg);
                prefix.push('/');
                if !out.contains(&prefix) {
                    out.push(prefix.clone());
                }
            }
        }
        out
    }

    /// Pushes "[`sees`](Self::sees) the object whose scope path is `column`" (a `NULL` column
    /// meaning everyone), as one parenthesised SQL condition.
    pub fn push_sees<'a, DB>(&self, qb: &mut QueryBuilder<'a, DB>, column: &str)
    where
        DB: Database,
        String: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
    {
        qb.push(format!("({column} IS NULL"));
        if self.is_admin() {
            qb.push(" OR 1 = 1");
        } else {
            let seen = self.seen_paths();
            if !seen.is_empty() {
                qb.push(format!(" OR {column} IN ("));
                let mut sep = qb.separated(", ");
                for p in seen {
                    sep.push_bind(p);
                }
                qb.push(")");
            }
        }
        qb.push(")");
    }

    /// Pushes "[`manages`](Self::manages) what `column` (an owner or organization path) names".
    pub fn push_manages<'a, DB>(&self, qb: &mut QueryBuilder<'a, DB>, column: &str)
    where
        DB: Database,
        String: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
    {
        match self.role() {
            Some(Role::Admin) => {
                qb.push("1 = 1");
            }
            Some(Role::Curator) if !self.member.is_empty() => {
                qb.push("(");
                for (i, p) in self.member.iter().enumerate() {
                    if i > 0 {
                        qb.push(" OR ");
                    }
                    qb.push(format!("{column} LIKE "));
                    qb.push_bind(format!("{p}%"));
                }
                qb.push(")");
            }
            _ => {
                qb.push("1 = 0");
            }
        }
    }
}

async fn member_paths(db: &Db, user: UserId) -> PlatformResult<Vec<String>> {
    Ok(with_db!(db, |pool| sqlx::query_scalar::<_, String>(
        "SELECT o.path FROM memberships m JOIN organizations o ON o.id = m.org_id WHERE \
         m.user_id = $1 ORDER BY o.path",
    )
    .bind(user)
    .fetch_all(pool)
    .await)?)
}

/// Pushes "`path` is the organization in `ancestor_column` or lies below it" ([`within`] in SQL).
pub fn push_within<'a, DB>(qb: &mut QueryBuilder<'a, DB>, path: String, ancestor_column: &str)
where
    DB: Database,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
{
    qb.push("(");
    qb.push_bind(path);
    qb.push(format!(" LIKE {ancestor_column} || '%')"));
}

/// Whether the organization at `path` is `ancestor` or lies below it (paths end in `/`; one that
/// does not is no organization's and contains nothing).
pub fn within(path: &str, ancestor: &str) -> bool {
    ancestor.ends_with('/') && path.starts_with(ancestor)
}

fn depth(path: &str) -> usize {
    path.split('/').filter(|s| !s.is_empty()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(role: Role, member: &[&str]) -> Scope {
        let user = AuthUser {
            id: UserId::new(),
            role,
        };
        Scope::of(&user, member.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn members_see_their_organizations_and_what_is_scoped_above_them() {
        let parent = scope(Role::Parent, &["/p/d/s1/c1/"]);
        for seen in ["/p/", "/p/d/", "/p/d/s1/", "/p/d/s1/c1/"] {
            assert!(parent.sees(Some(seen)), "{seen}");
        }
        for unseen in ["/p/d/s1/c2/", "/p/d/s2/", "/q/", "/p/d/s"] {
            assert!(!parent.sees(Some(unseen)), "{unseen}");
        }
        assert!(parent.sees(None));
        assert!(Scope::anonymous().sees(None));
        assert!(!Scope::anonymous().sees(Some("/p/")));
        assert!(scope(Role::Admin, &[]).sees(Some("/q/")));
    }

    #[test]
    fn curators_manage_their_subtrees_only() {
        let curator = scope(Role::Curator, &["/p/d/s1/"]);
        assert!(curator.manages("/p/d/s1/"));
        assert!(curator.manages("/p/d/s1/c1/"));
        assert!(!curator.manages("/p/d/"));
        assert!(
            !curator.manages("/p/d/s10/"),
            "a sibling whose id starts alike is not inside"
        );
        assert!(!curator.manages("/p/d/s2/"));
        // Reach is not management for other roles.
        let expert = scope(Role::Expert, &["/p/d/s1/"]);
        assert!(expert.reaches("/p/d/s1/c1/"));
        assert!(!expert.manages("/p/d/s1/c1/"));
        assert!(!scope(Role::Parent, &["/p/"]).manages("/p/"));
        assert!(scope(Role::Admin, &[]).manages("/anything/"));
    }

    #[test]
    fn only_admins_and_province_curators_publish_to_everyone() {
        assert!(scope(Role::Admin, &[]).publishes_to_everyone());
        assert!(scope(Role::Curator, &["/p/"]).publishes_to_everyone());
        assert!(!scope(Role::Curator, &["/p/d/"]).publishes_to_everyone());
        assert!(!scope(Role::Expert, &["/p/"]).publishes_to_everyone());
    }

    #[test]
    fn the_sql_conditions_name_the_same_paths() {
        let curator = scope(Role::Curator, &["/p/d/s1/"]);
        let mut qb = QueryBuilder::<sqlx::Sqlite>::new("");
        curator.push_sees(&mut qb, "c.scope_path");
        qb.push(" AND ");
        curator.push_manages(&mut qb, "c.owner_path");
        assert_eq!(
            qb.sql(),
            "(c.scope_path IS NULL OR c.scope_path IN (?, ?, ?)) AND (c.owner_path LIKE ?)"
        );
        let mut qb = QueryBuilder::<sqlx::Sqlite>::new("");
        scope(Role::Parent, &[]).push_manages(&mut qb, "x");
        Scope::anonymous().push_sees(&mut qb, "y");
        assert_eq!(qb.sql(), "1 = 0(y IS NULL)");
    }

    /// The SQL the scope renders selects exactly the rows its in-memory answers accept, for any
    /// tree, role and memberships (evaluated on SQLite; PostgreSQL runs the same conditions in
    /// the HTTP suites).
    #[test]
    fn the_sql_and_the_memory_answers_agree() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let pool = rt
            .block_on(sqlx::SqlitePool::connect("sqlite::memory:"))
            .unwrap_or_else(|e| panic!("{e}"));
        let roles = [Role::Parent, Role::Expert, Role::Curator, Role::Admin];
        // A tree of up to 12 nodes (each node's parent comes before it), a role and memberships.
        let case = (
            proptest::collection::vec(proptest::option::of(0usize..12), 1..12),
            0usize..4,
            proptest::collection::vec(0usize..12, 0..4),
        );
        let mut runner = TestRunner::new(Config {
            cases: 200,
            ..Config::default()
        });
        runner
            .run(&case, |(parents, role, members)| {
                // Names that are prefixes of one another, as ids can be ("1" and "10").
                const NAMES: [&str; 12] = ["1", "10", "1a", "2", "20", "12", "3", "30", "4", "40", "5", "50"];
                let mut paths: Vec<String> = Vec::new();
                for (i, p) in parents.iter().enumerate() {
                    let path = match p.filter(|p| *p < i) {
                        Some(p) => format!("{}{}/", paths[p], NAMES[i]),
                        None => format!("/{}/", NAMES[i]),
                    };
                    paths.push(path);
                }
                let member: Vec<String> = members.iter().filter_map(|m| paths.get(*m).cloned()).collect();
                let scope = Scope::of(
                    &AuthUser {
                        id: UserId::new(),
                        role: roles[role],
                    },
                    member,
                );
                let rows: Vec<Option<String>> = paths.iter().cloned().map(Some).chain([None]).collect();
                let (sees, manages) = rt.block_on(async {
                    let mut out = (Vec::new(), Vec::new());
                    for (which, target) in [(0, &mut out.0), (1, &mut out.1)] {
                        let mut qb = QueryBuilder::<sqlx::Sqlite>::new("SELECT p FROM (");
                        for (i, r) in rows.iter().enumerate() {
                            qb.push(if i == 0 { "SELECT " } else { " UNION ALL SELECT " });
                            qb.push_bind(r.clone());
                            qb.push(" AS p");
                        }
                        qb.push(") WHERE ");
                        if which == 0 {
                            scope.push_sees(&mut qb, "p");
                        } else {
                            qb.push("p IS NOT NULL AND ");
                            scope.push_manages(&mut qb, "p");
                        }
                        let got: Vec<Option<String>> = qb
                            .build_query_scalar()
                            .fetch_all(&pool)
                            .await
                            .unwrap_or_else(|e| panic!("{e}"));
                        *target = got;
                    }
                    out
                });
                let want_sees: Vec<Option<String>> =
                    rows.iter().filter(|r| scope.sees(r.as_deref())).cloned().collect();
                let want_manages: Vec<Option<String>> =
                    paths.iter().filter(|p| scope.manages(p)).cloned().map(Some).collect();
                prop_assert_eq!(sees, want_sees);
                prop_assert_eq!(manages, want_manages);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
