//! The scope rule's SQL: the one query that loads an actor's membership paths, and the
//! [`Scope`] conditions rendered into a [`QueryBuilder`] for list queries (so a page is filtered
//! before it is limited). The in-memory answers they must agree with are in the parent module.

use sqlx::{Database, QueryBuilder};

use super::Scope;
use crate::ids::UserId;
use crate::validate::Role;
use crate::{Db, with_db};

/// The paths of the organizations `user` belongs to (by any membership), in tree order.
pub(super) async fn member_paths(db: &Db, user: UserId) -> Result<Vec<String>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, String>(
        "SELECT o.path FROM memberships m JOIN organizations o ON o.id = m.org_id WHERE \
         m.user_id = $1 ORDER BY o.path",
    )
    .bind(user)
    .fetch_all(pool)
    .await)
}

/// In one query: the paths of the organizations `user` belongs to (`false`) and of those the
/// partner units among them serve (`true`), in tree order.
pub(super) async fn member_and_served_paths(db: &Db, user: UserId) -> Result<Vec<(String, bool)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, (String, bool)>(
        "SELECT o.path, FALSE FROM memberships m JOIN organizations o ON o.id = m.org_id WHERE m.user_id = $1
         UNION ALL
         SELECT s.path, TRUE FROM memberships m JOIN organization_serves os ON os.partner_id = m.org_id
           JOIN organizations s ON s.id = os.served_id WHERE m.user_id = $1
         ORDER BY 1",
    )
    .bind(user)
    .fetch_all(pool)
    .await)
}

impl Scope {
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

impl Scope {
    /// Pushes "a 教联体 partner unit owns the object (`owner_column`, a path) and its audience
    /// (`scope_column`) lies in what the actor, a curator, manages": the curators of the
    /// organizations a partner serves see its content, unpublished too, in their review queue.
    /// Nothing for other roles (admins see everything anyway).
    pub fn push_partner_content<'a, DB>(&self, qb: &mut QueryBuilder<'a, DB>, scope_column: &str, owner_column: &str)
    where
        DB: Database,
        String: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
    {
        if self.role() != Some(Role::Curator) || self.member.is_empty() {
            qb.push("1 = 0");
            return;
        }
        qb.push(format!(
            "(EXISTS (SELECT 1 FROM organizations po WHERE po.path = {owner_column} AND po.kind = 'partner') AND "
        ));
        self.push_manages(qb, scope_column);
        qb.push(")");
    }
}

/// Pushes "`path` is the organization in `ancestor_column` or lies below it" ([`within`](super::within) in SQL).
pub fn push_within<'a, DB>(qb: &mut QueryBuilder<'a, DB>, path: String, ancestor_column: &str)
where
    DB: Database,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
{
    qb.push("(");
    qb.push_bind(path);
    qb.push(format!(" LIKE {ancestor_column} || '%')"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthUser;

    fn scope(role: Role, member: &[&str]) -> Scope {
        let user = AuthUser {
            id: UserId::new(),
            role,
        };
        Scope::of(&user, member.iter().map(|s| (*s).to_owned()).collect())
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
