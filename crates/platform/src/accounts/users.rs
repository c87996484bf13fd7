//! Users: a new account checked (every field error at once) and created, users looked up by id
//! and phone, the admin count and the revocation stamps other nodes load. The queries are in
//! `store`.

use super::*;
use crate::auth::{self};
use crate::error::FieldError;
use crate::error::{PlatformError, PlatformResult};
use crate::ids::{OrgId, UserId};
use crate::orgs::{self};
use crate::validate::{self, PhoneNumber, Role};

impl Accounts {
    pub(crate) async fn user_by_id(&self, id: UserId) -> PlatformResult<Option<UserRow>> {
        Ok(store::user_by_id(&self.db, id).await?)
    }

    pub(crate) async fn user_by_phone(&self, phone: &PhoneNumber) -> PlatformResult<Option<UserRow>> {
        Ok(store::user_by_phone(&self.db, phone.as_str()).await?)
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
        let row = store::NewUserRow {
            id,
            phone: phone.as_str(),
            password_hash: &hash,
            display_name: &display_name,
            role: new.role,
            must_change_password: new.must_change_password,
            privacy_notice_version: consent_version,
            privacy_consent_at: consent_at,
            created_at: now,
            org: new.org,
        };
        store::insert_user(&self.db, row).await?;
        Ok(id)
    }

    /// Brings this node's list of voided access tokens up to date (every few seconds).
    pub async fn load_revocations(&self) -> PlatformResult<usize> {
        Ok(self.keys.load_revocations(&self.db, self.now()).await?)
    }
}

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
        Ok(store::admin_count(&self.db).await?)
    }
}
