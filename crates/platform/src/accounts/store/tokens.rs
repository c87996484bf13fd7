//! The refresh tokens' queries: a new token of a family stored (only its hash), a token
//! rotated in one transaction (claimed once, a sibling for two tabs within the grace, or its
//! whole family revoked on reuse), and a family revoked at logout.

use crate::Timestamp;
use crate::auth;
use crate::db::Db;
use crate::ids::{TokenFamilyId, UserId};
use crate::{db_execute, with_db};

/// What presenting a refresh token came to.
pub(crate) enum Rotation {
    /// A new token (`String`, not yet hashed) of the same family for the user.
    Rotated(UserId, String),
    /// Presented again after its use: the whole family is revoked.
    Reused,
    Revoked,
    Expired,
    Unknown,
}

/// Stores the refresh token hashed `token_hash` of `user`'s `family`, valid until `expires`.
pub(crate) async fn insert_refresh(
    db: &Db,
    token_hash: String,
    user: UserId,
    family: TokenFamilyId,
    now: Timestamp,
    expires: Timestamp,
) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO refresh_tokens (token_hash, user_id, family_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
        token_hash,
        user,
        family,
        now,
        expires,
    )?;
    Ok(())
}

/// Rotates the token hashed `hash` at `now`, in one transaction: an unused token is claimed
/// atomically (of two concurrent uses only one rotates) and a successor valid until `expires`
/// is stored; a used one gets a sibling when it was first used at most `grace_ms` ago and
/// nothing newer of its family has been used (two tabs); otherwise its family is revoked.
pub(crate) async fn rotate_refresh(
    db: &Db,
    hash: &str,
    now: Timestamp,
    expires: Timestamp,
    grace_ms: i64,
) -> Result<Rotation, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Stored {
        user_id: UserId,
        family_id: TokenFamilyId,
        expires_at: Timestamp,
        used_at: Option<Timestamp>,
        revoked_at: Option<Timestamp>,
    }
    Ok(with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let stored: Option<Stored> = sqlx::query_as(
            "SELECT user_id, family_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE \
             token_hash = $1",
        )
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match stored {
            None => Rotation::Unknown,
            Some(s) if s.revoked_at.is_some() => Rotation::Revoked,
            Some(s) if s.expires_at <= now => Rotation::Expired,
            Some(s) => {
                // Claim the token atomically: of two concurrent uses only one rotates.
                let claimed = if s.used_at.is_none() {
                    sqlx::query(
                        "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS \
                         NULL AND revoked_at IS NULL",
                    )
                    .bind(hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1
                } else {
                    false
                };
                // Two tabs refreshing at once present the same token: the later one within
                // a few seconds, while nothing newer of the family has been used, gets a
                // sibling instead of ending the login.
                let sibling = !claimed && {
                    let used_at = s.used_at.unwrap_or(now);
                    let later: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM refresh_tokens WHERE family_id = $1 AND used_at > $2")
                            .bind(s.family_id)
                            .bind(used_at)
                            .fetch_one(&mut *tx)
                            .await?;
                    later == 0 && now.0 - used_at.0 <= grace_ms
                };
                if claimed || sibling {
                    let next = auth::random_token();
                    sqlx::query(
                        "INSERT INTO refresh_tokens (token_hash, user_id, family_id, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(auth::token_hash(&next))
                    .bind(s.user_id)
                    .bind(s.family_id)
                    .bind(now)
                    .bind(expires)
                    .execute(&mut *tx)
                    .await?;
                    Rotation::Rotated(s.user_id, next)
                } else {
                    // A token presented twice was stolen or replayed: end the whole family.
                    sqlx::query(
                        "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
                    )
                    .bind(s.family_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    Rotation::Reused
                }
            }
        };
        tx.commit().await?;
        outcome
    }))
}

/// Revokes at `now` the family of the token hashed `token_hash` (none when it is unknown).
pub(crate) async fn revoke_family_of(db: &Db, token_hash: String, now: Timestamp) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "UPDATE refresh_tokens SET revoked_at = $2
         WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL",
        token_hash,
        now,
    )?;
    Ok(())
}
