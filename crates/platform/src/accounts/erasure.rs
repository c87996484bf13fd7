//! Deleting an account: personal data erased here and by every registered [`AccountEraser`],
//! finished at the next start when interrupted.

use super::store;
use super::*;
use crate::auth::{self};
use crate::error::msg;
use crate::error::{PlatformError, PlatformResult};
use crate::ids::UserId;

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
        store::delete_account(&self.db, id, now).await?;
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
        store::mark_erased(&self.db, id, self.now()).await?;
        Ok(())
    }

    /// Erases deleted accounts that were not fully erased (run at start-up).
    pub async fn erase_pending(&self) -> PlatformResult<usize> {
        let ids = store::unerased_accounts(&self.db).await?;
        for id in &ids {
            self.erase(*id).await?;
        }
        Ok(ids.len())
    }
}
