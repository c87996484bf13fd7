//! 数字化评价: what parents think of what they studied, the certificates they earn and (as #16
//! grows) the evaluation of every organization level. Ratings (`ratings`: 1–5 stars and a
//! comment, once per person and course or live lecture, changeable) and certificates
//! (`certificates`: rules, the issuing job, verification and revocation) are here; a lesson's
//! quiz is the catalog's (`catalog::QuizView`), since it is part of the lesson.
//!
//! This crate reads the other domains (who may see a course, who took part in a lecture, what
//! was watched) through their public services; none of them depends on it. It reads no
//! configuration and binds no sockets.
#![forbid(unsafe_code)]

use std::sync::Arc;

use platform::http::ApiRouter;
use platform::{Clock, Db};

pub mod certificates;
pub mod dashboard;
mod error;
pub mod ratings;

pub use error::{EvaluationError, EvaluationResult};

/// The evaluation service: the state of its routes and of the certificate job.
#[derive(Clone, Debug)]
pub struct Evaluation {
    db: Db,
    clock: Arc<dyn Clock>,
    jobs: platform::jobs::Jobs,
    catalog: catalog::Catalog,
    media: media::Media,
    live: live_session::Live,
    /// Where users reach the service (the verification links in texts).
    public_url: Option<String>,
    /// The gateway that texts members their certificates, when one is configured.
    texts: Option<Arc<dyn platform::texts::TextGateway>>,
    /// Seal images.
    store: Arc<dyn platform::store::ObjectStore>,
    /// The CJK font certificates are drawn in; without it their files answer 503.
    font: Option<Arc<ab_glyph::FontVec>>,
    /// The configured study terms; none: the school semesters.
    terms: Arc<Vec<platform::terms::Period>>,
}

/// The domains the evaluation reads.
#[derive(Clone, Debug)]
pub struct Domains {
    pub catalog: catalog::Catalog,
    pub media: media::Media,
    pub live: live_session::Live,
}

impl Evaluation {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        jobs: platform::jobs::Jobs,
        store: Arc<dyn platform::store::ObjectStore>,
        domains: Domains,
    ) -> Self {
        Self {
            store,
            font: None,
            terms: Arc::default(),
            db,
            clock,
            jobs,
            catalog: domains.catalog,
            media: domains.media,
            live: domains.live,
            public_url: None,
            texts: None,
        }
    }

    /// Evaluates by these terms (the configured ones; none: the school semesters).
    pub fn with_terms(mut self, terms: Arc<Vec<platform::terms::Period>>) -> Self {
        self.terms = terms;
        self
    }

    /// Links in texts start with this URL.
    pub fn with_public_url(mut self, url: Option<String>) -> Self {
        self.public_url = url.map(|u| u.trim_end_matches('/').to_owned());
        self
    }

    /// Draws certificates in this font (a file or collection's bytes; [`certificates::render::load_font`]).
    pub fn with_font(mut self, bytes: Vec<u8>) -> Result<Self, String> {
        self.font = Some(Arc::new(certificates::render::load_font(bytes)?));
        Ok(self)
    }

    /// Texts members their certificates through this gateway.
    pub fn with_texts(mut self, texts: Arc<dyn platform::texts::TextGateway>) -> Self {
        self.texts = Some(texts);
        self
    }
}

/// The evaluation API routes.
pub fn router(evaluation: Evaluation) -> ApiRouter {
    ratings::router()
        .merge(certificates::router())
        .merge(dashboard::router())
        .with_state(evaluation)
}

/// A deleted account's ratings and certificates go with it.
#[async_trait::async_trait]
impl platform::accounts::AccountEraser for Evaluation {
    async fn erase(&self, user: platform::ids::UserId) -> platform::ApiResult<()> {
        ratings::erase(&self.db, user).await?;
        Ok(certificates::erase(&self.db, user).await?)
    }
}
