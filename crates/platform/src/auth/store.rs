//! The one query of authentication: the revocation stamps (`users.sessions_revoked_at`) every
//! node loads every few seconds, so that access tokens voided on one node stop working on all.

use crate::ids::UserId;
use crate::{Db, with_db};

/// Users whose sessions were revoked at or after `since` (Unix milliseconds): each with the
/// stamp and whether the account is deleted.
pub(super) async fn revocations_since(db: &Db, since: i64) -> Result<Vec<(UserId, i64, bool)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT id, sessions_revoked_at, deleted_at IS NOT NULL FROM users WHERE sessions_revoked_at >= $1",
    )
    .bind(since)
    .fetch_all(pool)
    .await)
}
