//! Authentication: password hashing (argon2id), short-lived access tokens (JWT, HS256 pinned,
//! `iss`/`aud`/`exp` checked), opaque refresh tokens (only their SHA-256 is stored), and the
//! [`AuthUser`] extractor. The server puts an `Arc<TokenKeys>` into every request's extensions,
//! so any crate's handler can take an `AuthUser` without knowing the server's state type.

mod store;

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;
use crate::error::{ApiError, msg};
use crate::ids::UserId;
use crate::validate::Role;

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(anyhow::anyhow!("argon2 hashing failed: {e}")))
}

/// Whether `password` matches the PHC `hash`. A malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// Runs [`hash_password`] off the async executor (it takes tens of milliseconds by design).
pub async fn hash_password_blocking(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)?
}

/// Runs [`verify_password`] off the async executor.
pub async fn verify_password_blocking(password: String, hash: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(ApiError::internal)
}

/// A hash that takes as long to verify as a real one, so that an unknown phone number and a
/// wrong password cost the same time.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not-a-real-password-0").unwrap_or_default())
}

/// 32 random bytes, URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a refresh token.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: UserId,
    pub role: Role,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// When it was issued, in Unix milliseconds (sessions ended within the same second as a
    /// token was issued still tell which came first).
    #[serde(default)]
    pub ims: i64,
    /// Set after a password reset: only changing the password is allowed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pwc: bool,
}

/// Signs and checks access tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    pub access_ttl_seconds: u64,
    /// Users whose earlier access tokens no longer count (password changed or reset, account
    /// deleted), kept for one token lifetime: the stored `users.sessions_revoked_at`, marked at
    /// once on the node that revoked and read by every node every few seconds
    /// ([`TokenKeys::load_revocations`]).
    revoked: std::sync::RwLock<std::collections::HashMap<UserId, Revocation>>,
}

/// Access tokens of a user issued before `at_ms` (Unix milliseconds) are void; all of them once
/// the account is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    pub at_ms: i64,
    pub deleted: bool,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8], issuer: &str, audience: &str, access_ttl_seconds: u64) -> Self {
        // Only HS256 is ever accepted: `none`, other HMAC sizes and RSA/EC tokens are rejected
        // before any signature check, which rules out algorithm-confusion attacks.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            access_ttl_seconds,
            revoked: std::sync::RwLock::default(),
        }
    }

    /// Voids `user`'s access tokens issued before `now` on this node at once (the database row
    /// tells the other nodes).
    pub fn revoke(&self, user: UserId, now: Timestamp, deleted: bool) {
        let mut m = self.revoked.write().unwrap_or_else(|p| p.into_inner());
        m.insert(user, Revocation { at_ms: now.0, deleted });
    }

    /// Reads the revocations of the last token lifetime from `users` (every node, every few
    /// seconds); older ones are forgotten, since the tokens they void have expired anyway.
    pub async fn load_revocations(&self, db: &crate::Db, now: Timestamp) -> Result<usize, sqlx::Error> {
        let since = now.0 - i64::try_from(self.access_ttl_seconds).unwrap_or(900).saturating_add(60) * 1000;
        let rows = store::revocations_since(db, since).await?;
        let mut m = self.revoked.write().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, r| r.at_ms >= since);
        for (user, at, deleted) in &rows {
            let r = Revocation {
                at_ms: *at,
                deleted: *deleted,
            };
            let e = m.entry(*user).or_insert(r);
            e.at_ms = e.at_ms.max(r.at_ms);
            e.deleted |= r.deleted;
        }
        Ok(rows.len())
    }

    fn is_revoked(&self, c: &Claims) -> bool {
        self.revoked
            .read()
            .map(|m| {
                let issued = if c.ims > 0 { c.ims } else { c.iat.saturating_mul(1000) };
                m.get(&c.sub).is_some_and(|r| r.deleted || issued < r.at_ms)
            })
            .unwrap_or(false)
    }

    pub fn issue(
        &self,
        user: UserId,
        role: Role,
        must_change_password: bool,
        now: Timestamp,
    ) -> Result<String, ApiError> {
        let iat = now.unix_seconds();
        let claims = Claims {
            sub: user,
            role,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat,
            exp: iat + i64::try_from(self.access_ttl_seconds).unwrap_or(900),
            ims: now.0,
            pwc: must_change_password,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(ApiError::internal)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => ApiError::unauthorized(
                        "token_expired",
                        msg(
                            "登录已过期，请刷新令牌或重新登录。",
                            "The access token has expired; refresh it or log in again.",
                        ),
                    ),
                    _ => invalid_token(),
                }
            })?;
        if self.is_revoked(&claims) {
            return Err(ApiError::unauthorized(
                "token_revoked",
                msg(
                    "登录已失效（密码已修改或账号已注销），请重新登录。",
                    "This sign-in was ended (password changed or account deleted); log in again.",
                ),
            ));
        }
        Ok(claims)
    }
}

fn invalid_token() -> ApiError {
    ApiError::unauthorized(
        "invalid_token",
        msg(
            "登录凭证无效，请重新登录。",
            "The access token is invalid; log in again.",
        ),
    )
}

/// The signed-in caller, from `Authorization: Bearer <access token>`.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub id: UserId,
    pub role: Role,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn require_role(&self, allowed: &[Role]) -> Result<(), ApiError> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "forbidden_role",
                msg("你的账号角色无权进行此操作。", "Your role may not do this."),
            ))
        }
    }
}

/// Like [`AuthUser`] but also admits a user who must change a reset password (for the
/// password-change endpoint and `GET /me`).
#[derive(Debug, Clone, Copy)]
pub struct AuthUserPendingPassword {
    pub user: AuthUser,
    pub must_change_password: bool,
}

fn claims_from_parts(parts: &Parts) -> Result<Claims, ApiError> {
    let keys = parts
        .extensions
        .get::<Arc<TokenKeys>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("TokenKeys missing from request extensions")))?;
    let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized(
            "unauthenticated",
            msg("请先登录。", "Log in first (send Authorization: Bearer <token>)."),
        )
    })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(invalid_token)?;
    keys.verify(token)
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUserPendingPassword {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let claims = claims_from_parts(parts)?;
        Ok(Self {
            user: AuthUser {
                id: claims.sub,
                role: claims.role,
            },
            must_change_password: claims.pwc,
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let claims = claims_from_parts(parts)?;
        if claims.pwc {
            return Err(ApiError::forbidden(
                "password_change_required",
                msg(
                    "请先修改临时密码。",
                    "Change the temporary password first (POST /api/v1/me/password).",
                ),
            ));
        }
        Ok(AuthUser {
            id: claims.sub,
            role: claims.role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_round_trip() {
        let h = hash_password("abc12345").unwrap_or_default();
        assert!(verify_password("abc12345", &h));
        assert!(!verify_password("abc12346", &h));
        assert!(!verify_password("abc12345", "not a hash"));
    }

    #[test]
    fn tokens_verify_and_reject_other_keys() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", "iss", "aud", 900);
        let other = TokenKeys::new(b"fedcba9876543210fedcba9876543210", "iss", "aud", 900);
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        let id = UserId::new();
        let t = keys.issue(id, Role::Parent, false, now).unwrap_or_default();
        assert_eq!(keys.verify(&t).map(|c| c.sub).ok(), Some(id));
        assert!(other.verify(&t).is_err());
        let old = keys
            .issue(id, Role::Parent, false, now.plus_seconds(-3600))
            .unwrap_or_default();
        assert_eq!(keys.verify(&old).err().map(|e| e.code), Some("token_expired"));
    }
}

/// The caller when signed in, `None` when anonymous. A present but invalid token is still an
/// error: silently treating it as anonymous would hide content without saying why.
#[derive(Debug, Clone, Copy)]
pub struct MaybeAuth(pub Option<AuthUser>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(AUTHORIZATION) {
            Ok(Self(Some(AuthUser::from_request_parts(parts, state).await?)))
        } else {
            Ok(Self(None))
        }
    }
}
