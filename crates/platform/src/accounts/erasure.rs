//! Deleting an account: personal data erased here and by every registered [`AccountEraser`],
//! finished at the next start when interrupted.

use super::*;
use crate::auth::{self};
use crate::error::msg;
use crate::error::{PlatformError, PlatformResult};
use crate::ids::UserId;
use crate::{db_execute, with_db};

impl Accounts {
    /// Deletes the caller's account: personal data (phone, name, password) is erased, study
    /// records stay attached to the now anonymous id.
    pub async fn delete_account(&self, id: UserId, password: String) -> PlatformResult<()> {
        let user = self.user_by_id(id).await?.ok_or(PlatformError::UserNotFound)?;
        if !auth::verify_password_blocking(password, user.password_hash.unwrap_or_default()).await? {
            return Err(PlatformError::field(
                "password",
                msg("密码不正确。", "The password is wrong."),
            ));
        }
        let now = self.now();
        with_db!(&self.db, |pool| {
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
        self.keys.revoke(id, now, true);
        self.erase(id).await
    }

    /// What other parts keep of a deleted account (seats, chat text) is erased by their
    /// erasers, then the account is marked erased. Idempotent: [`Accounts::erase_pending`]
    /// finishes what a crash or a dead dependency interrupted.
    pub(super) async fn erase(&self, id: UserId) -> PlatformResult<()> {
        for e in self.erasers.iter() {
            e.erase(id).await?;
        }
        db_execute!(
            &self.db,
            "UPDATE users SET erased_at = $2 WHERE id = $1",
            id,
            self.now()
        )?;
        Ok(())
    }

    /// Erases deleted accounts that were not fully erased (run at start-up).
    pub async fn erase_pending(&self) -> PlatformResult<usize> {
        let ids: Vec<UserId> = with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT id FROM users WHERE deleted_at IS NOT NULL AND erased_at IS NULL",
        )
        .fetch_all(pool)
        .await)?;
        for id in &ids {
            self.erase(*id).await?;
        }
        Ok(ids.len())
    }
}
