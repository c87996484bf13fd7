//! Passwords and roles: a user changes their own; staff reset a parent's only where the parent
//! joined by consent or was created by the school, and set roles within what they manage.

use super::store;
use super::*;
use crate::auth::{self, AuthUser};
use crate::error::msg;
use crate::error::{PlatformError, PlatformResult};
use crate::ids::UserId;
use crate::orgs::{self};
use crate::validate::{self, PhoneNumber, Role};

impl Accounts {
    /// A new password and the end of every session signed in with the old one, in one
    /// transaction: never a changed password with the old sessions still alive.
    pub(crate) async fn set_password(&self, id: UserId, hash: &str, must_change: bool) -> PlatformResult<()> {
        let now = self.now();
        store::set_password(&self.db, id, hash, must_change, now).await?;
        // Access tokens issued before now stop working too (here at once, elsewhere within
        // seconds).
        self.keys.revoke(id, now, false);
        Ok(())
    }

    pub async fn change_password(&self, id: UserId, req: ChangePasswordRequest) -> PlatformResult<AuthResponse> {
        let user = self.user_by_id(id).await?.ok_or(PlatformError::UserNotFound)?;
        let hash = user.password_hash.clone().unwrap_or_default();
        if !auth::verify_password_blocking(req.current_password, hash).await? {
            return Err(PlatformError::field(
                "current_password",
                msg("当前密码不正确。", "The current password is wrong."),
            ));
        }
        let phone = user.phone.as_deref().and_then(|p| PhoneNumber::parse(p).ok());
        let problems = validate::password_problems(&req.new_password, self.cfg.password_min_length, phone.as_ref());
        if !problems.is_empty() {
            return Err(PlatformError::Invalid(validate::field_errors("new_password", problems)));
        }
        let new_hash = auth::hash_password_blocking(req.new_password).await?;
        self.set_password(id, &new_hash, false).await?;
        let user = self.user_by_id(id).await?.ok_or(PlatformError::UserNotFound)?;
        self.issue_pair(&user).await
    }

    /// Whether `actor` may manage `target`: admins anyone; curators parents and experts who
    /// belong to an organization in their subtree.
    pub(crate) async fn may_manage_user(&self, actor: &AuthUser, target: &UserRow) -> PlatformResult<bool> {
        match actor.role {
            Role::Admin => Ok(true),
            Role::Curator if matches!(target.role(), Role::Parent | Role::Expert) => {
                orgs::user_in_scope_of(&self.db, actor, target.id).await
            }
            _ => Ok(false),
        }
    }

    /// Sets a one-time password that must be changed at next login and ends every session.
    /// Curators may do so only for parents and experts who joined their subtree by consent or
    /// whose account staff created there: never for someone merely put on a list.
    pub async fn reset_password(&self, actor: &AuthUser, target: UserId) -> PlatformResult<String> {
        let user = self.user_by_id(target).await?.ok_or(PlatformError::UserNotFound)?;
        let allowed = match actor.role {
            Role::Admin => true,
            Role::Curator if matches!(user.role(), Role::Parent | Role::Expert) => {
                orgs::user_in_scope_by_consent(&self.db, actor, user.id).await?
            }
            _ => false,
        };
        if !allowed {
            return Err(PlatformError::UserOutOfScope);
        }
        let temporary = temporary_password();
        let hash = auth::hash_password_blocking(temporary.clone()).await?;
        self.set_password(target, &hash, true).await?;
        Ok(temporary)
    }

    pub async fn set_role(&self, target: UserId, role: Role) -> PlatformResult<()> {
        let n = store::set_role(&self.db, target, role).await?;
        if n == 0 {
            Err(PlatformError::UserNotFound)
        } else {
            Ok(())
        }
    }
}

/// 12 characters from an alphabet without look-alikes; always has letters and digits.
pub(super) fn temporary_password() -> String {
    use rand::Rng;
    pub(super) const LETTERS: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    pub(super) const DIGITS: &[u8] = b"23456789";
    let mut rng = rand::rngs::OsRng;
    let mut out: Vec<u8> = (0..10).map(|_| LETTERS[rng.gen_range(0..LETTERS.len())]).collect();
    out.insert(rng.gen_range(0..out.len()), DIGITS[rng.gen_range(0..DIGITS.len())]);
    out.insert(rng.gen_range(0..out.len()), DIGITS[rng.gen_range(0..DIGITS.len())]);
    String::from_utf8_lossy(&out).into_owned()
}
