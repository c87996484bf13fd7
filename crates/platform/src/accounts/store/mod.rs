//! The account queries: users by id and phone, a new user inserted with their first membership
//! (one transaction; a phone number taken is [`PlatformError::PhoneTaken`]), roles, a new
//! password that ends every session, an account's personal data erased, and the counts the
//! server asks for. The refresh tokens' queries are in `tokens`.

mod tokens;

pub(super) use tokens::*;

use crate::Timestamp;
use crate::db::Db;
use crate::error::ResultExt;
use crate::error::{PlatformError, PlatformResult};
use crate::ids::{OrgId, UserId};
use crate::orgs::Via;
use crate::validate::Role;
use crate::{db_execute, with_db};

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: UserId,
    pub phone: Option<String>,
    pub password_hash: Option<String>,
    pub display_name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub must_change_password: bool,
}

impl UserRow {
    pub(crate) fn role(&self) -> Role {
        self.role
    }
}

const USER_COLUMNS: &str = "id, phone, password_hash, display_name, role, must_change_password";

/// Ends every session of a user (bind the user and now), inside the caller's transaction.
const REVOKE_SESSIONS_SQL: &str = "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL";

/// A checked new account as it is stored, with the organization it is created in.
pub(super) struct NewUserRow<'a> {
    pub(super) id: UserId,
    pub(super) phone: &'a str,
    pub(super) password_hash: &'a str,
    pub(super) display_name: &'a str,
    pub(super) role: Role,
    pub(super) must_change_password: bool,
    pub(super) privacy_notice_version: Option<String>,
    pub(super) privacy_consent_at: Option<Timestamp>,
    pub(super) created_at: Timestamp,
    pub(super) org: Option<OrgId>,
}

/// The active (not deleted) user `id`.
pub(super) async fn user_by_id(db: &Db, id: UserId) -> Result<Option<UserRow>, sqlx::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL");
    with_db!(db, |pool| sqlx::query_as::<_, UserRow>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await)
}

/// The active (not deleted) user with the phone number `phone` (normalised).
pub(super) async fn user_by_phone(db: &Db, phone: &str) -> Result<Option<UserRow>, sqlx::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE phone = $1 AND deleted_at IS NULL");
    with_db!(db, |pool| sqlx::query_as::<_, UserRow>(&sql)
        .bind(phone)
        .fetch_optional(pool)
        .await)
}

/// Inserts the user and, when they are created in an organization, their membership there
/// (`created`), in one transaction; 409 `phone_taken` for a number already registered.
pub(super) async fn insert_user(db: &Db, new: NewUserRow<'_>) -> PlatformResult<()> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, phone, password_hash, display_name, role, must_change_password,
                                privacy_notice_version, privacy_consent_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(new.id)
        .bind(new.phone)
        .bind(new.password_hash)
        .bind(new.display_name)
        .bind(new.role.as_str())
        .bind(new.must_change_password)
        .bind(new.privacy_notice_version)
        .bind(new.privacy_consent_at)
        .bind(new.created_at)
        .execute(&mut *tx)
        .await
        .on_constraint("users_phone", || PlatformError::PhoneTaken)?;
        if let Some(org) = new.org {
            sqlx::query("INSERT INTO memberships (user_id, org_id, created_at, via) VALUES ($1, $2, $3, $4)")
                .bind(new.id)
                .bind(org)
                .bind(new.created_at)
                .bind(Via::Created.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// How many active admins exist.
pub(super) async fn admin_count(db: &Db) -> Result<i64, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND deleted_at IS NULL",
    )
    .fetch_one(pool)
    .await)
}

/// The display name of `id` when it is an active expert account.
pub(super) async fn expert_name(db: &Db, id: UserId) -> Result<Option<String>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, String>(
        "SELECT display_name FROM users WHERE id = $1 AND role = 'expert' AND deleted_at IS NULL",
    )
    .bind(id)
    .fetch_optional(pool)
    .await)
}

pub(super) async fn display_name(db: &Db, id: UserId) -> Result<Option<String>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, String>(
        "SELECT display_name FROM users WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(pool)
    .await)
}

/// Sets the role of the active user `target`; the rows changed (0: no such user).
pub(super) async fn set_role(db: &Db, target: UserId, role: Role) -> Result<u64, sqlx::Error> {
    db_execute!(
        db,
        "UPDATE users SET role = $2 WHERE id = $1 AND deleted_at IS NULL",
        target,
        role.as_str()
    )
}

/// A new password hash and the end of every session signed in with the old one, in one
/// transaction (the revocation stamped `now`).
pub(super) async fn set_password(
    db: &Db,
    id: UserId,
    hash: &str,
    must_change: bool,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "UPDATE users SET password_hash = $2, must_change_password = $3, sessions_revoked_at = $4 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(hash)
        .bind(must_change)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(REVOKE_SESSIONS_SQL)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Deletes account `id` at `now`, in one transaction: the invitations to its phone and every
/// membership go, phone, password and name are erased, and every session ends.
pub(super) async fn delete_account(db: &Db, id: UserId, now: Timestamp) -> Result<(), sqlx::Error> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        // Invitations to the phone, and every membership: the account leaves every school.
        sqlx::query("DELETE FROM org_invitations WHERE phone = (SELECT phone FROM users WHERE id = $1)")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM memberships WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        // The children's nicknames and birth months go with the account.
        sqlx::query("DELETE FROM children WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE users SET phone = NULL, password_hash = NULL, display_name = $2, deleted_at = $3, \
             sessions_revoked_at = $3
             WHERE id = $1",
        )
        .bind(id)
        .bind("已注销用户")
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(REVOKE_SESSIONS_SQL)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Marks deleted account `id` fully erased at `now`.
pub(super) async fn mark_erased(db: &Db, id: UserId, now: Timestamp) -> Result<(), sqlx::Error> {
    db_execute!(db, "UPDATE users SET erased_at = $2 WHERE id = $1", id, now)?;
    Ok(())
}

/// Deleted accounts not yet marked erased.
pub(super) async fn unerased_accounts(db: &Db) -> Result<Vec<UserId>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar(
        "SELECT id FROM users WHERE deleted_at IS NOT NULL AND erased_at IS NULL",
    )
    .fetch_all(pool)
    .await)
}
