//! Accounts: registration with consent to the privacy notice, login with per-phone and
//! per-address rate limits, refresh-token rotation with reuse detection, logout, password change
//! and reset, account deletion that keeps anonymised study records, and admin/curator user
//! management. The organization tree and scope rules live in [`crate::orgs`].

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::auth::{self, AuthUser, AuthUserPendingPassword, TokenKeys};
use crate::clock::{Clock, Timestamp};
use crate::config::AuthSettings;
use crate::db::Db;
use crate::error::{ApiError, ApiResult, FieldError, ResultExt, msg};
use crate::http::{ApiRouter, ClientIp, Json, Path};
use crate::ids::{OrgId, TokenFamilyId, UserId};
use crate::orgs::{self, OrgView};
use crate::validate::{self, PhoneNumber, Role};
use crate::{db_execute, with_db};

/// The accounts service; also the state of the accounts and organizations routers.
#[derive(Clone, Debug)]
pub struct Accounts {
    pub(crate) db: Db,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) keys: Arc<TokenKeys>,
    pub(crate) cfg: Arc<AuthSettings>,
    /// What other services keep of a user, to erase when the account is deleted.
    erasers: Arc<Vec<Arc<dyn AccountEraser>>>,
    /// The text-message gateway for reset codes (`recovery`), when one is configured.
    pub(crate) texts: Option<Arc<dyn crate::recovery::TextGateway>>,
}

/// A service that keeps something of a user beyond the account (seats, chat text) and erases
/// it when the account is deleted. Must be idempotent.
#[async_trait::async_trait]
pub trait AccountEraser: Send + Sync + std::fmt::Debug {
    async fn erase(&self, user: UserId) -> ApiResult<()>;
}

/// A user as the API shows it to themself or to an admin.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: UserId,
    pub phone: Option<String>,
    pub display_name: String,
    pub role: Role,
    pub must_change_password: bool,
    pub organizations: Vec<OrgView>,
}

/// The body of register, login, refresh and password change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    pub user: UserView,
    /// JWT for `Authorization: Bearer`, valid `expires_in` seconds.
    pub access_token: String,
    /// Opaque, single use: exchange it at `/api/v1/auth/refresh` for a new pair.
    pub refresh_token: String,
    pub expires_in: u64,
    pub token_type: &'static str,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: UserId,
    pub phone: Option<String>,
    pub password_hash: Option<String>,
    pub display_name: String,
    pub role: String,
    pub must_change_password: bool,
}

impl UserRow {
    pub(crate) fn role(&self) -> Role {
        // The CHECK constraint admits only the four roles.
        Role::parse(&self.role).unwrap_or(Role::Parent)
    }
}

const USER_COLUMNS: &str = "id, phone, password_hash, display_name, role, must_change_password";

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized(
        "invalid_credentials",
        msg("手机号或密码错误。", "Wrong phone number or password."),
    )
}

fn user_not_found() -> ApiError {
    ApiError::not_found("user_not_found", msg("用户不存在。", "No such user."))
}

/// The display name of `id` when it is an active expert account, the one answer to "may this
/// user lecture" (a course's lecturer, a live series' expert); `None` for anyone else.
pub async fn expert_name(db: &Db, id: UserId) -> ApiResult<Option<String>> {
    Ok(with_db!(db, |pool| sqlx::query_scalar::<_, String>(
        "SELECT display_name FROM users WHERE id = $1 AND role = 'expert' AND deleted_at IS NULL",
    )
    .bind(id)
    .fetch_optional(pool)
    .await)?)
}

impl Accounts {
    pub fn new(db: Db, clock: Arc<dyn Clock>, keys: Arc<TokenKeys>, cfg: AuthSettings) -> Self {
        Self {
            db,
            clock,
            keys,
            cfg: Arc::new(cfg),
            erasers: Arc::default(),
            texts: None,
        }
    }

    /// The same service, erasing with `erasers` what others keep of a deleted account.
    pub fn with_erasers(mut self, erasers: Vec<Arc<dyn AccountEraser>>) -> Self {
        self.erasers = Arc::new(erasers);
        self
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub(crate) async fn user_by_id(&self, id: UserId) -> ApiResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL");
        Ok(with_db!(&self.db, |pool| sqlx::query_as::<_, UserRow>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?)
    }

    pub(crate) async fn user_by_phone(&self, phone: &PhoneNumber) -> ApiResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE phone = $1 AND deleted_at IS NULL");
        Ok(with_db!(&self.db, |pool| sqlx::query_as::<_, UserRow>(&sql)
            .bind(phone.as_str())
            .fetch_optional(pool)
            .await)?)
    }

    /// Validates and creates a user (used by registration, staff and the CLI). Returns 409
    /// `phone_taken` for a number already registered.
    pub async fn create_user(&self, new: NewUser) -> ApiResult<UserId> {
        let (phone, display_name) = self.check_new_user(&new).map_err(ApiError::validation)?;
        self.insert_user(new, phone, display_name).await
    }

    /// Every field error of a new account at once, or its parsed phone and name.
    fn check_new_user(&self, new: &NewUser) -> Result<(PhoneNumber, String), Vec<FieldError>> {
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

    async fn insert_user(&self, new: NewUser, phone: PhoneNumber, display_name: String) -> ApiResult<UserId> {
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
            .on_constraint("users_phone", || {
                ApiError::conflict(
                    "phone_taken",
                    msg(
                        "该手机号已注册，请直接登录。",
                        "This phone number is already registered; log in instead.",
                    ),
                )
            })?;
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

    /// The user with their organizations.
    pub async fn view(&self, id: UserId) -> ApiResult<UserView> {
        let row = self.user_by_id(id).await?.ok_or_else(|| {
            ApiError::unauthorized(
                "account_gone",
                msg("该账号已不存在，请重新登录。", "This account no longer exists."),
            )
        })?;
        Ok(UserView {
            id: row.id,
            phone: row.phone.clone(),
            display_name: row.display_name.clone(),
            role: row.role(),
            must_change_password: row.must_change_password,
            organizations: orgs::memberships(&self.db, id).await?,
        })
    }

    /// Starts a new refresh-token family for a fresh login.
    pub(crate) async fn issue_pair(&self, user: &UserRow) -> ApiResult<AuthResponse> {
        let refresh = auth::random_token();
        let now = self.now();
        let family = TokenFamilyId::new();
        self.store_refresh(&refresh, user.id, family, now).await?;
        self.respond(user, refresh, now).await
    }

    async fn store_refresh(&self, token: &str, user: UserId, family: TokenFamilyId, now: Timestamp) -> ApiResult<()> {
        let expires =
            now.plus_seconds(i64::try_from(self.cfg.refresh_token_ttl_days * 86_400).unwrap_or(i64::MAX / 2000));
        db_execute!(
            &self.db,
            "INSERT INTO refresh_tokens (token_hash, user_id, family_id, created_at, expires_at) \
             VALUES ($1, $2, $3, \
             $4, $5)",
            auth::token_hash(token),
            user,
            family,
            now,
            expires,
        )?;
        Ok(())
    }

    async fn respond(&self, user: &UserRow, refresh_token: String, now: Timestamp) -> ApiResult<AuthResponse> {
        let access_token = self.keys.issue(user.id, user.role(), user.must_change_password, now)?;
        Ok(AuthResponse {
            user: self.view(user.id).await?,
            access_token,
            refresh_token,
            expires_in: self.keys.access_ttl_seconds,
            token_type: "Bearer",
        })
    }

    /// Counts one attempt in a fixed-window bucket (`auth.login_window_seconds`); 429 with
    /// `Retry-After` past `limit`.
    pub async fn rate_limit(&self, bucket: &str, limit: u32) -> ApiResult<()> {
        let window_ms = i64::try_from(self.cfg.login_window_seconds.max(1)).unwrap_or(900) * 1000;
        crate::limits::hit(&self.db, bucket, limit, window_ms, self.now()).await
    }

    async fn clear_rate_limit(&self, bucket: &str) -> ApiResult<()> {
        crate::limits::clear(&self.db, bucket).await
    }

    pub async fn register(&self, req: RegisterRequest, ip: &str) -> ApiResult<AuthResponse> {
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
            return Err(ApiError::validation(errors));
        }
        let (phone, display_name) = checked.map_err(ApiError::validation)?;
        let id = self.insert_user(new, phone, display_name).await?;
        let user = self.user_by_id(id).await?.ok_or_else(user_not_found)?;
        self.issue_pair(&user).await
    }

    pub async fn login(&self, req: LoginRequest, ip: &str) -> ApiResult<AuthResponse> {
        let phone = PhoneNumber::parse(&req.phone).map_err(|m| ApiError::invalid_field("phone", m))?;
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
            _ => Err(invalid_credentials()),
        }
    }

    /// Rotates a refresh token. A token presented again is a theft or a replay and ends its
    /// whole family, except within [`REFRESH_REUSE_GRACE_MS`] of its first use while its
    /// successor is unused (two tabs of one browser refreshing at the same moment).
    pub async fn refresh(&self, token: &str) -> ApiResult<AuthResponse> {
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
        let invalid = || {
            ApiError::unauthorized(
                "invalid_refresh_token",
                msg(
                    "刷新令牌无效，请重新登录。",
                    "The refresh token is invalid; log in again.",
                ),
            )
        };
        match outcome {
            Outcome::Rotated(user_id, next) => {
                let user = self.user_by_id(user_id).await?.ok_or_else(invalid)?;
                self.respond(&user, next, now).await
            }
            Outcome::Reused => Err(ApiError::unauthorized(
                "refresh_token_reused",
                msg(
                    "该刷新令牌已使用过，为安全起见此登录已失效，请重新登录。",
                    "This refresh token was already used; for safety the login has been revoked. Log in \
                     again.",
                ),
            )),
            Outcome::Expired => Err(ApiError::unauthorized(
                "refresh_token_expired",
                msg(
                    "登录已过期，请重新登录。",
                    "The refresh token has expired; log in again.",
                ),
            )),
            Outcome::Revoked | Outcome::Unknown => Err(invalid()),
        }
    }

    /// Revokes the family of `token`. Unknown tokens are ignored (logout is idempotent).
    pub async fn logout(&self, token: &str) -> ApiResult<()> {
        db_execute!(
            &self.db,
            "UPDATE refresh_tokens SET revoked_at = $2
             WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1) AND \
             revoked_at IS NULL",
            auth::token_hash(token),
            self.now(),
        )?;
        Ok(())
    }

    /// A new password and the end of every session signed in with the old one, in one
    /// transaction: never a changed password with the old sessions still alive.
    pub(crate) async fn set_password(&self, id: UserId, hash: &str, must_change: bool) -> ApiResult<()> {
        let now = self.now();
        with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE users SET password_hash = $2, must_change_password = $3, sessions_revoked_at = \
                 $4 \
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
        // Access tokens issued before now stop working too (here at once, elsewhere within
        // seconds).
        self.keys.revoke(id, now, false);
        Ok(())
    }

    pub async fn change_password(&self, id: UserId, req: ChangePasswordRequest) -> ApiResult<AuthResponse> {
        let user = self.user_by_id(id).await?.ok_or_else(user_not_found)?;
        let hash = user.password_hash.clone().unwrap_or_default();
        if !auth::verify_password_blocking(req.current_password, hash).await? {
            return Err(ApiError::invalid_field(
                "current_password",
                msg("当前密码不正确。", "The current password is wrong."),
            ));
        }
        let phone = user.phone.as_deref().and_then(|p| PhoneNumber::parse(p).ok());
        let problems = validate::password_problems(&req.new_password, self.cfg.password_min_length, phone.as_ref());
        if !problems.is_empty() {
            return Err(ApiError::validation(validate::field_errors("new_password", problems)));
        }
        let new_hash = auth::hash_password_blocking(req.new_password).await?;
        self.set_password(id, &new_hash, false).await?;
        let user = self.user_by_id(id).await?.ok_or_else(user_not_found)?;
        self.issue_pair(&user).await
    }

    /// Deletes the caller's account: personal data (phone, name, password) is erased, study
    /// records stay attached to the now anonymous id.
    pub async fn delete_account(&self, id: UserId, password: String) -> ApiResult<()> {
        let user = self.user_by_id(id).await?.ok_or_else(user_not_found)?;
        if !auth::verify_password_blocking(password, user.password_hash.unwrap_or_default()).await? {
            return Err(ApiError::invalid_field(
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
                "UPDATE users SET phone = NULL, password_hash = NULL, display_name = $2, deleted_at = \
                 $3, \
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
    async fn erase(&self, id: UserId) -> ApiResult<()> {
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

    /// Brings this node's list of voided access tokens up to date (every few seconds).
    pub async fn load_revocations(&self) -> ApiResult<usize> {
        Ok(self.keys.load_revocations(&self.db, self.now()).await?)
    }

    /// Erases deleted accounts that were not fully erased (run at start-up).
    pub async fn erase_pending(&self) -> ApiResult<usize> {
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

    /// Whether `actor` may manage `target`: admins anyone; curators parents and experts who
    /// belong to an organization in their subtree.
    pub(crate) async fn may_manage_user(&self, actor: &AuthUser, target: &UserRow) -> ApiResult<bool> {
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
    pub async fn reset_password(&self, actor: &AuthUser, target: UserId) -> ApiResult<String> {
        let user = self.user_by_id(target).await?.ok_or_else(user_not_found)?;
        let allowed = match actor.role {
            Role::Admin => true,
            Role::Curator if matches!(user.role(), Role::Parent | Role::Expert) => {
                orgs::user_in_scope_by_consent(&self.db, actor, user.id).await?
            }
            _ => false,
        };
        if !allowed {
            return Err(out_of_scope_user());
        }
        let temporary = temporary_password();
        let hash = auth::hash_password_blocking(temporary.clone()).await?;
        self.set_password(target, &hash, true).await?;
        Ok(temporary)
    }

    pub async fn set_role(&self, target: UserId, role: Role) -> ApiResult<()> {
        let n = db_execute!(
            &self.db,
            "UPDATE users SET role = $2 WHERE id = $1 AND deleted_at IS NULL",
            target,
            role.as_str()
        )?;
        if n == 0 { Err(user_not_found()) } else { Ok(()) }
    }
}

/// Ends every session of a user (bind the user and now), inside the caller's transaction.
const REVOKE_SESSIONS_SQL: &str = "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL";

/// How long after a refresh token's first use a second use still counts as the same browser.
pub const REFRESH_REUSE_GRACE_MS: i64 = 10_000;

pub(crate) fn out_of_scope_user() -> ApiError {
    ApiError::forbidden(
        "out_of_scope",
        msg("该用户不在你的管理范围内。", "This user is outside your scope."),
    )
}

/// 12 characters from an alphabet without look-alikes; always has letters and digits.
fn temporary_password() -> String {
    use rand::Rng;
    const LETTERS: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    let mut rng = rand::rngs::OsRng;
    let mut out: Vec<u8> = (0..10).map(|_| LETTERS[rng.gen_range(0..LETTERS.len())]).collect();
    out.insert(rng.gen_range(0..out.len()), DIGITS[rng.gen_range(0..DIGITS.len())]);
    out.insert(rng.gen_range(0..out.len()), DIGITS[rng.gen_range(0..DIGITS.len())]);
    String::from_utf8_lossy(&out).into_owned()
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Mainland mobile number, `13812345678` or `+8613812345678`.
    pub phone: String,
    pub password: String,
    pub display_name: String,
    /// Consent to the privacy notice: must be `true` (consent is never assumed).
    #[serde(default)]
    pub accept_privacy_notice: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub phone: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The current password, to confirm.
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub phone: String,
    pub password: String,
    pub display_name: String,
    pub role: Role,
    /// The organization the user joins; required for curators, who create users only in scope.
    pub org_id: Option<OrgId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    pub id: UserId,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub role: Option<Role>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetResponse {
    /// Give this to the user; it works once and must be changed at the next login.
    pub temporary_password: String,
}

/// Routes of accounts and organizations.
pub fn router(accounts: Accounts) -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me, delete_me))
        .routes(routes!(change_password))
        .routes(routes!(create_user))
        .routes(routes!(update_user))
        .routes(routes!(reset_password))
        .merge(orgs::router())
        .merge(crate::qr::router())
        .merge(crate::recovery::router())
        .with_state(accounts)
}

/// Register a parent account.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = AuthResponse), (status = 409, description = "phone_taken"), (status = 422), (status = 429)))]
async fn register(
    State(acc): State<Accounts>,
    ClientIp(ip): ClientIp,
    Json(req): Json<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<AuthResponse>)> {
    Ok((StatusCode::CREATED, Json(acc.register(req, &ip).await?)))
}

/// Log in with phone and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = AuthResponse), (status = 401, description = "invalid_credentials"), (status = 429)))]
async fn login(
    State(acc): State<Accounts>,
    ClientIp(ip): ClientIp,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<AuthResponse>> {
    Ok(Json(acc.login(req, &ip).await?))
}

/// Exchange a refresh token for a new token pair (the old refresh token is used up).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = AuthResponse), (status = 401)))]
async fn refresh(State(acc): State<Accounts>, Json(req): Json<RefreshRequest>) -> ApiResult<Json<AuthResponse>> {
    Ok(Json(acc.refresh(&req.refresh_token).await?))
}

/// End the login the refresh token belongs to.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest, responses((status = 204)))]
async fn logout(State(acc): State<Accounts>, Json(req): Json<RefreshRequest>) -> ApiResult<StatusCode> {
    acc.logout(&req.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", responses((status = 200, body = UserView), (status = 401)),
    security(("bearer" = [])))]
async fn me(State(acc): State<Accounts>, auth: AuthUserPendingPassword) -> ApiResult<Json<UserView>> {
    Ok(Json(acc.view(auth.user.id).await?))
}

/// Delete the signed-in account (personal data erased, anonymous study records kept).
#[utoipa::path(delete, path = "/api/v1/me", tag = "me", request_body = DeleteAccountRequest,
    responses((status = 204), (status = 422)), security(("bearer" = [])))]
async fn delete_me(
    State(acc): State<Accounts>,
    auth: AuthUserPendingPassword,
    Json(req): Json<DeleteAccountRequest>,
) -> ApiResult<StatusCode> {
    acc.delete_account(auth.user.id, req.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change the password (required after a reset); returns a fresh token pair.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "me", request_body = ChangePasswordRequest,
    responses((status = 200, body = AuthResponse), (status = 422)), security(("bearer" = [])))]
async fn change_password(
    State(acc): State<Accounts>,
    auth: AuthUserPendingPassword,
    Json(req): Json<ChangePasswordRequest>,
) -> ApiResult<Json<AuthResponse>> {
    Ok(Json(acc.change_password(auth.user.id, req).await?))
}

/// Create a user: admins any role anywhere; curators parents and experts in their scope.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUserRequest,
    responses((status = 201, body = CreatedUser), (status = 403), (status = 409)), security(("bearer" = [])))]
async fn create_user(
    State(acc): State<Accounts>,
    auth: AuthUser,
    Json(req): Json<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<CreatedUser>)> {
    auth.require_role(&[Role::Admin, Role::Curator])?;
    if auth.role == Role::Curator {
        if !matches!(req.role, Role::Parent | Role::Expert) {
            return Err(ApiError::forbidden(
                "forbidden_role",
                msg(
                    "馆员只能创建家长或专家账号。",
                    "Curators may only create parents and experts.",
                ),
            ));
        }
        let org = req.org_id.ok_or_else(|| {
            ApiError::invalid_field(
                "org_id",
                msg("请选择用户所属的组织。", "Choose the organization the user belongs to."),
            )
        })?;
        orgs::require_scope(&acc.db, &auth, org).await?;
    }
    let id = acc
        .create_user(NewUser {
            phone: req.phone,
            password: req.password,
            display_name: req.display_name,
            role: req.role,
            org: req.org_id,
            must_change_password: true,
            privacy_consent: false,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedUser { id })))
}

/// Change a user's role (admins only).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UpdateUserRequest,
    params(("id" = UserId, Path)), responses((status = 204), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn update_user(
    State(acc): State<Accounts>,
    auth: AuthUser,
    Path(id): Path<UserId>,
    Json(req): Json<UpdateUserRequest>,
) -> ApiResult<StatusCode> {
    auth.require_role(&[Role::Admin])?;
    if let Some(role) = req.role {
        acc.set_role(id, role).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Reset a member's password to a one-time temporary password.
#[utoipa::path(post, path = "/api/v1/users/{id}/password-reset", tag = "users",
    params(("id" = UserId, Path)), responses((status = 200, body = PasswordResetResponse), (status = 403), (status = 404)),
    security(("bearer" = [])))]
async fn reset_password(
    State(acc): State<Accounts>,
    auth: AuthUser,
    Path(id): Path<UserId>,
) -> ApiResult<Json<PasswordResetResponse>> {
    auth.require_role(&[Role::Admin, Role::Curator])?;
    Ok(Json(PasswordResetResponse {
        temporary_password: acc.reset_password(&auth, id).await?,
    }))
}

impl Accounts {
    /// How many active admins exist (the server prints set-up help when there are none).
    pub async fn admin_count(&self) -> ApiResult<i64> {
        Ok(with_db!(&self.db, |pool| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND deleted_at IS NULL",
        )
        .fetch_one(pool)
        .await)?)
    }
}
