//! What live sessions read about users and their organizations (owned by the platform's
//! tables): a watcher's role, a report's name and phone, and a person's first organization.

use platform::ids::{OrgId, UserId};
use platform::{Db, with_db};

/// The role of a user not deleted.
pub(crate) async fn role(db: &Db, user: UserId) -> Result<Option<String>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar(
        "SELECT role FROM users WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(user)
    .fetch_optional(pool)
    .await)
}

/// A user's display name and phone.
pub(crate) async fn name_and_phone(db: &Db, user: UserId) -> Result<Option<(String, Option<String>)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT display_name, phone FROM users WHERE id = $1",
    )
    .bind(user)
    .fetch_optional(pool)
    .await)
}

/// The user's first organization in tree order.
pub(crate) async fn first_org(db: &Db, user: UserId) -> Result<Option<(OrgId, String)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT o.id, o.name FROM memberships m JOIN organizations o ON o.id = m.org_id
         WHERE m.user_id = $1 ORDER BY o.path LIMIT 1",
    )
    .bind(user)
    .fetch_optional(pool)
    .await)
}
