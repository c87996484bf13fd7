//! The account queries: users by id and phone, a new user checked and inserted, the admin count
//! and the revocation stamps other nodes load.

use super::*;
use crate::auth::{self};
use crate::error::{FieldError, ResultExt};
use crate::error::{PlatformError, PlatformResult};
use crate::ids::{OrgId, UserId};
use crate::orgs::{self};
use crate::validate::{self, PhoneNumber, Role};
use crate::with_db;

impl Accounts {
    pub(crate) async fn user_by_id(&self, id: UserId) -> PlatformResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL");
        Ok(with_db!(&self.db, |pool| sqlx::query_as::<_, UserRow>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?)
    }

    pub(crate) async fn user_by_phone(&self, phone: &PhoneNumber) -> PlatformResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE phone = $1 AND deleted_at IS NULL");
        Ok(with_db!(&self.db, |pool| sqlx::query_as::<_, UserRow>(&sql)
            .bind(phone.as_str())
            .fetch_optional(pool)
            .await)?)
    }

    /// Validates and creates a user (used by registration, staff and the CLI). Returns 409
    /// `phone_taken` for a number already registered.
    pub async fn create_user(&self, new: NewUser) -> PlatformResult<UserId> {
        let (phone, display_name) = self.check_new_user(&new).map_err(PlatformError::Invalid)?;
        self.insert_user(new, phone, display_name).await
    }

    /// Every field error of a new account at once, or its parsed phone and name.
    pub(super) fn check_new_user(&self, new: &NewUser) -> Result<(PhoneNumber, String), Vec<FieldError>> {
        let mut errors = Vec::new();
        let phone = PhoneNumber::parse(&new.phone)
            .map_err(|m| {
                errors.push(FieldError {
                    field: "phone".into(),
                    message: m,
                })
            })
            .ok();
        errors.extend(validate::field_errors(
            "password",
            validate::password_problems(&new.password, self.cfg.password_min_length, phone.as_ref()),
        ));
        let display_name = validate::name(&new.display_name, 32)
            .map_err(|m| {
                errors.push(FieldError {
                    field: "display_name".into(),
                    message: m,
                })
            })
            .ok();
        match (phone, display_name, errors.is_empty()) {
            (Some(phone), Some(display_name), true) => Ok((phone, display_name)),
            _ => Err(errors),
        }
    }

    pub(super) async fn insert_user(
        &self,
        new: NewUser,
        phone: PhoneNumber,
        display_name: String,
    ) -> PlatformResult<UserId> {
        if let Some(org) = new.org {
            orgs::require_org(&self.db, org).await?;
        }
        let hash = auth::hash_password_blocking(new.password).await?;
        let id = UserId::new();
        let now = self.now();
        let (consent_version, consent_at) = if new.privacy_consent {
            (Some(self.cfg.privacy_notice_version.clone()), Some(now))
        } else {
            (None, None)
        };
        with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO users (id, phone, password_hash, display_name, role, must_change_password,
                                    privacy_notice_version, privacy_consent_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(id)
            .bind(phone.as_str())
            .bind(&hash)
            .bind(&display_name)
            .bind(new.role.as_str())
            .bind(new.must_change_password)
            .bind(consent_version)
            .bind(consent_at)
            .bind(now)
            .execute(&mut *tx)
            .await
            .on_constraint("users_phone", || PlatformError::PhoneTaken)?;
            if let Some(org) = new.org {
                sqlx::query("INSERT INTO memberships (user_id, org_id, created_at, via) VALUES ($1, $2, $3, $4)")
                    .bind(id)
                    .bind(org)
                    .bind(now)
                    .bind(orgs::Via::Created.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(id)
    }

    /// Brings this node's list of voided access tokens up to date (every few seconds).
    pub async fn load_revocations(&self) -> PlatformResult<usize> {
        Ok(self.keys.load_revocations(&self.db, self.now()).await?)
    }
}

/// Ends every session of a user (bind the user and now), inside the caller's transaction.
pub(super) const REVOKE_SESSIONS_SQL: &str =
    "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL";

/// What it takes to create a user.
#[derive(Debug)]
pub struct NewUser {
    pub phone: String,
    pub password: String,
    pub display_name: String,
    pub role: Role,
    pub org: Option<OrgId>,
    pub must_change_password: bool,
    pub privacy_consent: bool,
}

impl Accounts {
    /// How many active admins exist (the server prints set-up help when there are none).
    pub async fn admin_count(&self) -> PlatformResult<i64> {
        Ok(with_db!(&self.db, |pool| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND deleted_at IS NULL",
        )
        .fetch_one(pool)
        .await)?)
    }
}
