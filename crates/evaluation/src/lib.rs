//! 数字化评价: what parents think of what they studied, and (as #16 grows) the certificates
//! they earn and the evaluation of every organization level. Ratings (`ratings`: 1–5 stars and
//! a comment, once per person and course or live lecture, changeable) are here; a lesson's quiz
//! is the catalog's (`catalog::QuizView`), since it is part of the lesson.
//!
//! This crate reads the other domains (who may see a course, who took part in a lecture, what
//! was watched) through their public services; none of them depends on it. It reads no
//! configuration and binds no sockets.
#![forbid(unsafe_code)]

use std::sync::Arc;

use platform::http::ApiRouter;
use platform::{Clock, Db};

mod error;
pub mod ratings;

pub use error::{EvaluationError, EvaluationResult};

/// The evaluation service: the state of its routes.
#[derive(Clone, Debug)]
pub struct Evaluation {
    db: Db,
    clock: Arc<dyn Clock>,
    catalog: catalog::Catalog,
    media: media::Media,
    live: live_session::Live,
}

impl Evaluation {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        catalog: catalog::Catalog,
        media: media::Media,
        live: live_session::Live,
    ) -> Self {
        Self {
            db,
            clock,
            catalog,
            media,
            live,
        }
    }
}

/// The evaluation API routes.
pub fn router(evaluation: Evaluation) -> ApiRouter {
    ratings::router().with_state(evaluation)
}

/// A deleted account's ratings go with it.
#[async_trait::async_trait]
impl platform::accounts::AccountEraser for Evaluation {
    async fn erase(&self, user: platform::ids::UserId) -> platform::ApiResult<()> {
        Ok(ratings::erase(&self.db, user).await?)
    }
}
