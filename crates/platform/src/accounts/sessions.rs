//! Sessions: registration and login answer an access token and a refresh token; refreshing
//! rotates the refresh token, and reusing an old one revokes its whole family (after a short
//! grace for two tabs).

use super::*;
use crate::auth::{self};
use crate::clock::Timestamp;
use crate::error::{FieldError, msg};
use crate::error::{PlatformError, PlatformResult};
use crate::ids::{TokenFamilyId, UserId};
use crate::validate::{PhoneNumber, Role};
use crate::{db_execute, with_db};

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
        db_execute!(
            &self.db,
            "INSERT INTO refresh_tokens (token_hash, user_id, family_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
            auth::token_hash(token),
            user,
            family,
            now,
            expires,
        )?;
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
        #[derive(sqlx::FromRow)]
        struct Stored {
            user_id: UserId,
            family_id: TokenFamilyId,
            expires_at: Timestamp,
            used_at: Option<Timestamp>,
            revoked_at: Option<Timestamp>,
        }
        enum Outcome {
            Rotated(UserId, String),
            Reused,
            Revoked,
            Expired,
            Unknown,
        }
        let now = self.now();
        let hash = auth::token_hash(token);
        let outcome = with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            let stored: Option<Stored> = sqlx::query_as(
                "SELECT user_id, family_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE \
                 token_hash = $1",
            )
            .bind(&hash)
            .fetch_optional(&mut *tx)
            .await?;
            let outcome = match stored {
                None => Outcome::Unknown,
                Some(s) if s.revoked_at.is_some() => Outcome::Revoked,
                Some(s) if s.expires_at <= now => Outcome::Expired,
                Some(s) => {
                    // Claim the token atomically: of two concurrent uses only one rotates.
                    let claimed = if s.used_at.is_none() {
                        sqlx::query(
                            "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS \
                             NULL AND revoked_at IS NULL",
                        )
                        .bind(&hash)
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
                        let later: i64 = sqlx::query_scalar(
                            "SELECT COUNT(*) FROM refresh_tokens WHERE family_id = $1 AND used_at > $2",
                        )
                        .bind(s.family_id)
                        .bind(used_at)
                        .fetch_one(&mut *tx)
                        .await?;
                        later == 0 && now.0 - used_at.0 <= REFRESH_REUSE_GRACE_MS
                    };
                    if claimed || sibling {
                        let next = auth::random_token();
                        let expires =
                            now.plus_seconds(i64::try_from(self.cfg.refresh_token_ttl_days * 86_400).unwrap_or(0));
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
                        Outcome::Rotated(s.user_id, next)
                    } else {
                        // A token presented twice was stolen or replayed: end the whole family.
                        sqlx::query(
                            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
                        )
                        .bind(s.family_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        Outcome::Reused
                    }
                }
            };
            tx.commit().await?;
            outcome
        });
        let invalid = || PlatformError::RefreshTokenInvalid;
        match outcome {
            Outcome::Rotated(user_id, next) => {
                let user = self.user_by_id(user_id).await?.ok_or_else(invalid)?;
                self.respond(&user, next, now).await
            }
            Outcome::Reused => Err(PlatformError::RefreshTokenReused),
            Outcome::Expired => Err(PlatformError::RefreshTokenExpired),
            Outcome::Revoked | Outcome::Unknown => Err(invalid()),
        }
    }

    /// Revokes the family of `token`. Unknown tokens are ignored (logout is idempotent).
    pub async fn logout(&self, token: &str) -> PlatformResult<()> {
        db_execute!(
            &self.db,
            "UPDATE refresh_tokens SET revoked_at = $2
             WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL",
            auth::token_hash(token),
            self.now(),
        )?;
        Ok(())
    }
}

/// How long after a refresh token's first use a second use still counts as the same browser.
pub const REFRESH_REUSE_GRACE_MS: i64 = 10_000;
