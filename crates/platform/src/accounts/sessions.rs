//! Sessions: registration and login answer an access token and a refresh token; refreshing
//! rotates the refresh token, and reusing an old one revokes its whole family (after a short
//! grace for two tabs).

use super::store::{self, Rotation};
use super::*;
use crate::auth::{self};
use crate::clock::Timestamp;
use crate::error::{FieldError, msg};
use crate::error::{PlatformError, PlatformResult};
use crate::ids::{TokenFamilyId, UserId};
use crate::validate::{PhoneNumber, Role};

impl Accounts {
    /// Starts a new refresh-token family for a fresh login.
    pub(crate) async fn issue_pair(&self, user: &UserRow) -> PlatformResult<AuthResponse> {
        let refresh = auth::random_token();
        let now = self.now();
        let family = TokenFamilyId::new();
        self.store_refresh(&refresh, user.id, family, now).await?;
        self.respond(user, refresh, now).await
    }

    pub(super) async fn store_refresh(
        &self,
        token: &str,
        user: UserId,
        family: TokenFamilyId,
        now: Timestamp,
    ) -> PlatformResult<()> {
        let expires =
            now.plus_seconds(i64::try_from(self.cfg.refresh_token_ttl_days * 86_400).unwrap_or(i64::MAX / 2000));
        store::insert_refresh(&self.db, auth::token_hash(token), user, family, now, expires).await?;
        Ok(())
    }

    pub(super) async fn respond(
        &self,
        user: &UserRow,
        refresh_token: String,
        now: Timestamp,
    ) -> PlatformResult<AuthResponse> {
        let access_token = self.keys.issue(user.id, user.role(), user.must_change_password, now)?;
        Ok(AuthResponse {
            user: self.view(user.id).await?,
            access_token,
            refresh_token,
            expires_in: self.keys.access_ttl_seconds,
            token_type: "Bearer",
        })
    }

    pub async fn register(&self, req: RegisterRequest, ip: &str) -> PlatformResult<AuthResponse> {
        self.rate_limit(&format!("register-ip:{ip}"), self.cfg.login_attempts_per_ip)
            .await?;
        let new = NewUser {
            phone: req.phone,
            password: req.password,
            display_name: req.display_name,
            role: Role::Parent,
            org: None,
            must_change_password: false,
            privacy_consent: true,
        };
        // Consent is explicit: a missing answer is no consent. Reported with the other fields.
        let checked = self.check_new_user(&new);
        if req.accept_privacy_notice != Some(true) {
            let mut errors = checked.err().unwrap_or_default();
            errors.push(FieldError {
                field: "accept_privacy_notice".into(),
                message: msg(
                    "注册需要阅读并同意隐私政策。",
                    "Registration requires reading and accepting the privacy notice.",
                ),
            });
            return Err(PlatformError::Invalid(errors));
        }
        let (phone, display_name) = checked.map_err(PlatformError::Invalid)?;
        let id = self.insert_user(new, phone, display_name).await?;
        let user = self.user_by_id(id).await?.ok_or(PlatformError::UserNotFound)?;
        self.issue_pair(&user).await
    }

    pub async fn login(&self, req: LoginRequest, ip: &str) -> PlatformResult<AuthResponse> {
        let phone = PhoneNumber::parse(&req.phone).map_err(|m| PlatformError::field("phone", m))?;
        self.rate_limit(&format!("login-ip:{ip}"), self.cfg.login_attempts_per_ip)
            .await?;
        // Wrong passwords are counted per phone number *and address*: an attacker who knows a
        // number is slowed down at their address (and by the per-address limit over all
        // numbers) but cannot keep the owner out from theirs.
        let phone_bucket = format!("login-phone:{}@{ip}", phone.as_str());
        self.rate_limit(&phone_bucket, self.cfg.login_attempts_per_phone)
            .await?;
        let user = self.user_by_phone(&phone).await?;
        let hash = user
            .as_ref()
            .and_then(|u| u.password_hash.clone())
            .unwrap_or_else(|| auth::dummy_hash().to_owned());
        let matches = auth::verify_password_blocking(req.password, hash).await?;
        match user {
            Some(user) if matches => {
                self.clear_rate_limit(&phone_bucket).await?;
                self.issue_pair(&user).await
            }
            _ => Err(PlatformError::InvalidCredentials),
        }
    }

    /// Rotates a refresh token. A token presented again is a theft or a replay and ends its
    /// whole family, except within [`REFRESH_REUSE_GRACE_MS`] of its first use while its
    /// successor is unused (two tabs of one browser refreshing at the same moment).
    pub async fn refresh(&self, token: &str) -> PlatformResult<AuthResponse> {
        let now = self.now();
        let hash = auth::token_hash(token);
        let expires = now.plus_seconds(i64::try_from(self.cfg.refresh_token_ttl_days * 86_400).unwrap_or(0));
        let outcome = store::rotate_refresh(&self.db, &hash, now, expires, REFRESH_REUSE_GRACE_MS).await?;
        let invalid = || PlatformError::RefreshTokenInvalid;
        match outcome {
            Rotation::Rotated(user_id, next) => {
                let user = self.user_by_id(user_id).await?.ok_or_else(invalid)?;
                self.respond(&user, next, now).await
            }
            Rotation::Reused => Err(PlatformError::RefreshTokenReused),
            Rotation::Expired => Err(PlatformError::RefreshTokenExpired),
            Rotation::Revoked | Rotation::Unknown => Err(invalid()),
        }
    }

    /// Revokes the family of `token`. Unknown tokens are ignored (logout is idempotent).
    pub async fn logout(&self, token: &str) -> PlatformResult<()> {
        store::revoke_family_of(&self.db, auth::token_hash(token), self.now()).await?;
        Ok(())
    }
}

/// How long after a refresh token's first use a second use still counts as the same browser.
pub const REFRESH_REUSE_GRACE_MS: i64 = 10_000;
