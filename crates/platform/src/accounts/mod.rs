//! Accounts: registration with consent to the privacy notice, login with per-phone and
//! per-address rate limits, refresh-token rotation with reuse detection, logout, password change
//! and reset, account deletion that keeps anonymised study records, and admin/curator user
//! management. The organization tree and scope rules live in [`crate::orgs`]. The queries are
//! in `store`; the services (`users`, `sessions`, `passwords`, `erasure`) and the handlers
//! (`routes`) call them.

use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::TokenKeys;
use crate::clock::{Clock, Timestamp};
use crate::config::AuthSettings;
use crate::db::Db;
use crate::error::{PlatformError, PlatformResult};
use crate::ids::UserId;
use crate::orgs::{self, OrgView};
use crate::validate::Role;

mod erasure;
mod passwords;
mod routes;
mod sessions;
mod store;
mod users;

pub use routes::*;
pub use sessions::*;
pub(crate) use store::UserRow;
pub use users::NewUser;

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
    pub(crate) texts: Option<Arc<dyn crate::texts::TextGateway>>,
}

/// A service that keeps something of a user beyond the account (seats, chat text) and erases
/// it when the account is deleted. Must be idempotent.
#[async_trait::async_trait]
pub trait AccountEraser: Send + Sync + std::fmt::Debug {
    async fn erase(&self, user: UserId) -> crate::ApiResult<()>;
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

/// The display name of `id` when it is an active expert account, the one answer to "may this
/// user lecture" (a course's lecturer, a live series' expert); `None` for anyone else.
pub async fn expert_name(db: &Db, id: UserId) -> PlatformResult<Option<String>> {
    Ok(store::expert_name(db, id).await?)
}

/// The display name of user `id` (404 when there is none).
pub async fn display_name(db: &Db, id: UserId) -> PlatformResult<String> {
    store::display_name(db, id).await?.ok_or(PlatformError::UserNotFound)
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

    /// The user with their organizations.
    pub async fn view(&self, id: UserId) -> PlatformResult<UserView> {
        let row = self.user_by_id(id).await?.ok_or(PlatformError::AccountGone)?;
        Ok(UserView {
            id: row.id,
            phone: row.phone.clone(),
            display_name: row.display_name.clone(),
            role: row.role(),
            must_change_password: row.must_change_password,
            organizations: orgs::memberships(&self.db, id).await?,
        })
    }

    /// Counts one attempt in a fixed-window bucket (`auth.login_window_seconds`); 429 with
    /// `Retry-After` past `limit`.
    pub async fn rate_limit(&self, bucket: &str, limit: u32) -> PlatformResult<()> {
        let window_ms = i64::try_from(self.cfg.login_window_seconds.max(1)).unwrap_or(900) * 1000;
        Ok(crate::limits::hit(&self.db, bucket, limit, window_ms, self.now()).await?)
    }

    async fn clear_rate_limit(&self, bucket: &str) -> PlatformResult<()> {
        Ok(crate::limits::clear(&self.db, bucket).await?)
    }
}

/// The organization tree's routes run on the accounts' state.
impl axum::extract::FromRef<Accounts> for orgs::Orgs {
    fn from_ref(acc: &Accounts) -> Self {
        orgs::Orgs {
            db: acc.db.clone(),
            clock: acc.clock.clone(),
        }
    }
}
