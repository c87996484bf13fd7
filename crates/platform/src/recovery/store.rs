//! The queries of password-reset codes (`password_reset_codes`, one per phone number): store a
//! new code over the old, read it, spend a wrong try, and claim it once.

use crate::{Db, Timestamp, db_execute, with_db};

/// A stored code: its hash, when it was made, when it expires and the tries left.
pub(super) type StoredCode = (String, Timestamp, Timestamp, i32);

/// Stores a new code for `phone`, replacing any earlier one.
pub(super) async fn put_code(
    db: &Db,
    phone: &str,
    code_hash: String,
    now: Timestamp,
    expires_at: Timestamp,
    tries: i32,
) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO password_reset_codes (phone, code_hash, created_at, expires_at, tries_left) \
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (phone) DO UPDATE SET code_hash = excluded.code_hash, created_at = excluded.created_at,
           expires_at = excluded.expires_at, tries_left = excluded.tries_left",
        phone,
        code_hash,
        now,
        expires_at,
        tries
    )?;
    Ok(())
}

pub(super) async fn code(db: &Db, phone: &str) -> Result<Option<StoredCode>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT code_hash, created_at, expires_at, tries_left FROM password_reset_codes WHERE phone = $1",
    )
    .bind(phone)
    .fetch_optional(pool)
    .await)
}

/// Uses up one try of `phone`'s code, then deletes the code if no try is left or it has expired
/// at `now` (two statements, in this order).
pub(super) async fn spend_try(db: &Db, phone: &str, now: Timestamp) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "UPDATE password_reset_codes SET tries_left = tries_left - 1 WHERE phone = $1",
        phone
    )?;
    db_execute!(
        db,
        "DELETE FROM password_reset_codes WHERE phone = $1 AND (tries_left <= 0 OR expires_at <= $2)",
        phone,
        now
    )?;
    Ok(())
}

/// Deletes `phone`'s code if it is still the one hashed `code_hash`; the rows deleted (1: this
/// caller claimed it).
pub(super) async fn claim_code(db: &Db, phone: &str, code_hash: String) -> Result<u64, sqlx::Error> {
    db_execute!(
        db,
        "DELETE FROM password_reset_codes WHERE phone = $1 AND code_hash = $2",
        phone,
        code_hash
    )
}
