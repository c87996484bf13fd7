//! Catalog: courses and their ordered lessons, the review workflow (draft → in review →
//! published → archived), visibility scopes, curated yearly lists, and Chinese full-text search.
//!
//! A lesson refers to a media asset by id only: this crate never depends on `media`. It never
//! reads configuration or binds sockets; the server hands it the database, the object store (for
//! cover images) and its settings. The routes arrive with the catalog issue.
#![forbid(unsafe_code)]

use platform::http::ApiRouter;

/// The catalog's API routes (none yet).
pub fn router() -> ApiRouter {
    ApiRouter::new()
}
