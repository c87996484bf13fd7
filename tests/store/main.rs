//! Store-level tests: the domain services straight on a fresh database, SQLite and PostgreSQL
//! alike, without starting the server. A changed query is checked here in seconds; the HTTP
//! suites (`tests/api`) check the same rules end to end.

use std::sync::Arc;

use e2e::{Backend, PgDatabase};
use platform::accounts::{Accounts, NewUser};
use platform::auth::{AuthUser, TokenKeys};
use platform::config::AuthSettings;
use platform::ids::{OrgId, UserId};
use platform::validate::{OrgKind, Role};
use platform::{Clock, Db, SystemClock};

mod catalog_store;
mod live_store;
mod media_store;
mod platform_store;

/// A fresh, migrated database and the services over it.
pub struct TestDb {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

impl TestDb {
    pub async fn open(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (url, pg) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.path().join("store.db").display()), None),
            Backend::Postgres => {
                let pg = PgDatabase::create().await;
                (pg.url.clone(), Some(pg))
            }
        };
        let db = Db::connect(&url, 5, std::time::Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| panic!("{backend:?}: {e}"));
        db.migrate().await.unwrap_or_else(|e| panic!("{backend:?}: {e}"));
        Self {
            db,
            clock: Arc::new(SystemClock),
            dir,
            _pg: pg,
        }
    }

    pub fn accounts(&self) -> Accounts {
        let keys = Arc::new(TokenKeys::new(
            e2e::TEST_JWT_SECRET.as_bytes(),
            "parentschool",
            "parentschool",
            900,
        ));
        Accounts::new(self.db.clone(), self.clock.clone(), keys, AuthSettings::default())
    }

    pub async fn org(&self, name: &str, kind: OrgKind, parent: Option<OrgId>) -> OrgId {
        platform::orgs::create_org(&self.db, self.clock.now(), name, kind, parent)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .id
    }

    /// A user of `role` who is a member of `org`.
    pub async fn user(&self, phone: &str, role: Role, org: Option<OrgId>) -> AuthUser {
        let id: UserId = self
            .accounts()
            .create_user(NewUser {
                phone: phone.into(),
                password: "store-test-pass-1".into(),
                display_name: "测试用户".into(),
                role,
                org,
                must_change_password: false,
                privacy_consent: true,
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        AuthUser { id, role }
    }
}

/// Declares `async fn name(t: &TestDb)` once and runs it on both databases.
#[macro_export]
macro_rules! on_both {
    ($(async fn $name:ident($t:ident: &TestDb) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($t: &$crate::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(&$crate::TestDb::open(e2e::Backend::Sqlite).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(&$crate::TestDb::open(e2e::Backend::Postgres).await).await;
            }
        }
    )*};
}
