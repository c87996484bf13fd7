//! 忘记密码 by SMS code, through the text-message gateway when one is configured (the notifier
//! gateway, `live.notify_webhook_url`); without one, the web app says to ask the school's staff,
//! who reset passwords in the studio.
//!
//! A code is 6 digits, valid 10 minutes, with 5 tries; a new request replaces the old code.
//! Requests are limited per phone number and per address, and answer the same whether the
//! number is registered or not (the text is sent only to a registered, active account, in the
//! background). A right code sets the new password through `set_password` (every old session
//! ends) and signs in.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::accounts::{Accounts, AuthResponse};
use crate::auth;
use crate::error::ApiResult;
use crate::error::{PlatformError, PlatformResult};
use crate::http::{ApiRouter, ClientIp, Json};
use crate::texts::{TextGateway, TextMessage};
use crate::validate::{self, PhoneNumber};

mod store;

/// How long a code is valid.
pub const CODE_TTL_MS: i64 = 10 * 60_000;
/// Wrong tries before a code is void.
pub const CODE_TRIES: i32 = 5;
/// Code requests per phone number in the login window.
const REQUESTS_PER_PHONE: u32 = 3;

#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryOptions {
    /// Whether a code can be sent by SMS here; otherwise the school's staff reset passwords.
    pub sms: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    pub phone: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSent {
    /// Seconds the code stays valid.
    pub expires_in: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeReset {
    pub phone: String,
    /// The 6 digits of the text message.
    pub code: String,
    pub new_password: String,
}

fn code_hash(phone: &str, code: &str, created_at: i64) -> String {
    auth::token_hash(&format!("password-reset:{phone}:{created_at}:{code}"))
}

pub(crate) fn router() -> ApiRouter<Accounts> {
    ApiRouter::new()
        .routes(routes!(options))
        .routes(routes!(request_code))
        .routes(routes!(reset_with_code))
}

impl Accounts {
    /// The same service, sending texts (reset codes) through `gateway`.
    pub fn with_texts(mut self, gateway: Arc<dyn TextGateway>) -> Self {
        self.texts = Some(gateway);
        self
    }

    async fn send_code(&self, req: CodeRequest, ip: &str) -> PlatformResult<CodeSent> {
        let gateway = self.texts.clone().ok_or(PlatformError::SmsUnavailable)?;
        let phone = PhoneNumber::parse(&req.phone).map_err(|m| PlatformError::field("phone", m))?;
        self.rate_limit(&format!("reset-code-ip:{ip}"), self.cfg.login_attempts_per_ip)
            .await?;
        self.rate_limit(&format!("reset-code-phone:{}", phone.as_str()), REQUESTS_PER_PHONE)
            .await?;
        let sent = CodeSent {
            expires_in: u64::try_from(CODE_TTL_MS / 1000).unwrap_or(600),
        };
        let Some(user) = self.user_by_phone(&phone).await? else {
            return Ok(sent);
        };
        let code = {
            use rand::Rng;
            format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000))
        };
        let now = self.now();
        store::put_code(
            &self.db,
            phone.as_str(),
            code_hash(phone.as_str(), &code, now.0),
            now,
            crate::Timestamp(now.0 + CODE_TTL_MS),
            CODE_TRIES,
        )
        .await?;
        let message = TextMessage {
            id: uuid::Uuid::now_v7(),
            kind: "password_reset_code",
            user_id: user.id,
            phone: phone.as_str().to_owned(),
            text: format!("【家长学堂】你的验证码是 {code}，10 分钟内有效，用于重置密码。如非本人操作，请忽略。"),
        };
        // In the background: the answer is the same, and as quick, for unregistered numbers.
        tokio::spawn(async move {
            if let Err(e) = gateway.send_text(&message).await {
                tracing::warn!(id = %message.id, error = %format!("{e:#}"), "a password reset code was not sent");
            }
        });
        Ok(sent)
    }

    async fn reset_with_code(&self, req: CodeReset, ip: &str) -> PlatformResult<AuthResponse> {
        if self.texts.is_none() {
            return Err(PlatformError::SmsUnavailable);
        }
        let phone = PhoneNumber::parse(&req.phone).map_err(|m| PlatformError::field("phone", m))?;
        self.rate_limit(&format!("reset-ip:{ip}"), self.cfg.login_attempts_per_ip)
            .await?;
        let problems = validate::password_problems(&req.new_password, self.cfg.password_min_length, Some(&phone));
        if !problems.is_empty() {
            return Err(PlatformError::Invalid(validate::field_errors("new_password", problems)));
        }
        let now = self.now();
        let stored = store::code(&self.db, phone.as_str()).await?;
        let Some((hash, created_at, expires_at, tries_left)) = stored else {
            return Err(PlatformError::WrongCode);
        };
        let code = req.code.trim();
        if expires_at <= now || tries_left <= 0 || code_hash(phone.as_str(), code, created_at.0) != hash {
            // A wrong try uses one up; the last one voids the code.
            store::spend_try(&self.db, phone.as_str(), now).await?;
            return Err(PlatformError::WrongCode);
        }
        // Used once: claimed by deleting it, so two requests with the same code cannot both win.
        let claimed = store::claim_code(&self.db, phone.as_str(), hash).await?;
        let user = match (claimed, self.user_by_phone(&phone).await?) {
            (1, Some(user)) => user,
            _ => return Err(PlatformError::WrongCode),
        };
        let new_hash = auth::hash_password_blocking(req.new_password).await?;
        self.set_password(user.id, &new_hash, false).await?;
        let user = self.user_by_id(user.id).await?.ok_or(PlatformError::WrongCode)?;
        self.issue_pair(&user).await
    }
}

/// How a forgotten password can be reset here: by SMS code, or by the school's staff.
#[utoipa::path(get, path = "/api/v1/auth/password-reset", tag = "auth", responses((status = 200, body = RecoveryOptions)))]
async fn options(State(acc): State<Accounts>) -> Json<RecoveryOptions> {
    Json(RecoveryOptions {
        sms: acc.texts.is_some(),
    })
}

/// Sends a reset code by SMS to a registered number (the same answer for any number).
#[utoipa::path(post, path = "/api/v1/auth/password-reset/code", tag = "auth", request_body = CodeRequest,
    responses((status = 202, body = CodeSent), (status = 409, description = "sms_unavailable"), (status = 422), (status = 429)))]
async fn request_code(
    State(acc): State<Accounts>,
    ClientIp(ip): ClientIp,
    Json(req): Json<CodeRequest>,
) -> ApiResult<(StatusCode, Json<CodeSent>)> {
    Ok((StatusCode::ACCEPTED, Json(acc.send_code(req, &ip).await?)))
}

/// Sets a new password with the code from the text message, and signs in.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = CodeReset,
    responses((status = 200, body = AuthResponse), (status = 409, description = "sms_unavailable"), (status = 422), (status = 429)))]
async fn reset_with_code(
    State(acc): State<Accounts>,
    ClientIp(ip): ClientIp,
    Json(req): Json<CodeReset>,
) -> ApiResult<Json<AuthResponse>> {
    Ok(Json(acc.reset_with_code(req, &ip).await?))
}
