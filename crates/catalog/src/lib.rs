//! Catalog: courses and their ordered lessons, the review workflow (draft → in review →
//! published → archived, and back to draft with a reason), visibility scopes, curated yearly
//! lists, cover images, bulk import and Chinese full-text search.
//!
//! A lesson refers to a media asset by id only: this crate never depends on `media`. It never
//! reads configuration or binds sockets; the server hands it the database, the object store (for
//! cover images) and the clock.
#![forbid(unsafe_code)]

use std::sync::Arc;

use platform::http::ApiRouter;
use platform::store::ObjectStore;
use platform::{Clock, Db};

mod courses;
mod error;
mod favourites;
pub mod import;
mod lists;
mod model;
mod quizzes;
pub mod replays;
pub mod search;

pub use courses::{CourseQuery, CourseStanding};
pub use error::{CatalogError, CatalogResult};
pub use lists::{RecommendationRow, Recommendations, RecommendedCourse};
pub use model::*;
pub use quizzes::{AttemptInput, AttemptResult, Question, QuestionKind, QuestionView, QuizInput, QuizView};

/// The catalog service: the state of its routes and the entry point of the importer.
#[derive(Clone, Debug)]
pub struct Catalog {
    db: Db,
    store: Arc<dyn ObjectStore>,
    clock: Arc<dyn Clock>,
    /// Who may put a media asset into a lesson (the server asks media); without it, editors may
    /// only keep the assets their courses already have.
    asset_rights: Option<Arc<dyn AssetRights>>,
}

impl Catalog {
    pub fn new(db: Db, store: Arc<dyn ObjectStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            store,
            clock,
            asset_rights: None,
        }
    }

    pub fn with_asset_rights(mut self, rights: Arc<dyn AssetRights>) -> Self {
        self.asset_rights = Some(rights);
        self
    }
}

/// Whether a user may put an asset into a lesson of a course they edit (besides the assets the
/// course already has). The server implements it with media (its uploader, admins) and the
/// catalog (curators managing a course that already uses it): this crate knows no uploads.
#[async_trait::async_trait]
pub trait AssetRights: Send + Sync + std::fmt::Debug {
    async fn may_use(&self, user: &platform::auth::AuthUser, asset: &str) -> CatalogResult<bool>;
}

/// The catalog's API routes.
pub fn router(catalog: Catalog) -> ApiRouter {
    courses::router()
        .merge(lists::router())
        .merge(favourites::router())
        .merge(quizzes::router())
        .with_state(catalog)
}
