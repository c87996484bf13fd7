//! Shared foundations of ParentSchool.
//!
//! Owns what every domain crate needs and nothing domain-specific: the configuration *types*
//! (the `server` binary reads files and env vars into them), the database handle and migrations
//! for SQLite and PostgreSQL, ids and timestamps, the clock, the RFC 9457 error type and its
//! rendering, authentication (passwords, access and refresh tokens, the `AuthUser` extractor),
//! accounts and the organization tree (with the curator scope rules), and the object-store trait
//! with its local-directory implementation.
//!
//! It must not read env vars or files on its own initiative, install a tracing subscriber or bind
//! sockets: the server hands it settings and paths.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod auth;
pub mod children;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod ids;
pub mod intervals;
pub mod jobs;
pub mod limits;
pub mod membership;
pub mod orgs;
pub mod qr;
pub mod recovery;
pub mod scope;
pub mod signing;
pub mod stages;
pub mod store;
pub mod study;
pub mod terms;
pub mod texts;
pub mod validate;

pub use clock::{Clock, SystemClock, Timestamp};
pub use db::Db;
pub use error::{ApiError, ApiResult, PlatformError, PlatformResult};

/// The routes of accounts, the organization tree, membership, children, password recovery and QR codes,
/// on the accounts' state.
pub fn router(accounts: accounts::Accounts) -> http::ApiRouter {
    accounts::routes()
        .merge(orgs::router())
        .merge(membership::router())
        .merge(children::router())
        .merge(qr::router())
        .merge(recovery::router())
        .with_state(accounts)
}
