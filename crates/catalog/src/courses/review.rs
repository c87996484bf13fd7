//! The review workflow (draft → in review → published → archived, and back to draft with a
//! reason) and its audit trail.

use platform::error::msg;
use platform::ids::UserId;

use super::*;
use crate::Catalog;
use crate::{CatalogError, CatalogResult};

impl Catalog {
    /// Applies a review transition after checking who may make it; records it in the trail.
    pub(crate) async fn transition(
        &self,
        actor: &Actor,
        row: &CourseRow,
        to: Status,
        comment: &str,
    ) -> CatalogResult<()> {
        use Status::*;
        let from = row.status();
        let comment = comment.trim();
        if comment.chars().count() > 500 {
            return Err(CatalogError::field(
                "comment",
                msg(
                    "意见不能超过 500 个字符。",
                    "The comment must have at most 500 characters.",
                ),
            ));
        }
        if !matches!(
            (from, to),
            (Draft, InReview)
                | (InReview, Published)
                | (InReview | Published | Archived, Draft)
                | (Published, Archived)
        ) {
            return Err(CatalogError::InvalidTransition { from, to });
        }
        if to == Draft && comment.is_empty() {
            return Err(CatalogError::field(
                "comment",
                msg(
                    "退回草稿时请填写原因。",
                    "Give a reason when sending a course back to draft.",
                ),
            ));
        }
        let curator = match actor {
            Actor::Importer => true,
            Actor::User(u) => self.manages_path(u, &row.owner_path).await?,
        };
        let author = actor.user_id().is_some() && row.author_id == actor.user_id();
        let allowed = match (from, to) {
            (Draft, InReview) => curator || author,
            // An author may withdraw their own submission.
            (InReview, Draft) => curator || author,
            _ => curator,
        };
        if !allowed {
            return Err(CatalogError::ForbiddenTransition);
        }
        if to == Published && row.lesson_count == 0 {
            return Err(CatalogError::CourseHasNoLessons);
        }
        let now = self.clock.now();
        if !self
            .record_transition(row.id, from, to, actor.user_id(), comment, now)
            .await?
        {
            return Err(CatalogError::CourseVersionConflict);
        }
        Ok(())
    }

    /// The review trail of a course, oldest first. Imported steps have no actor: 批量导入.
    pub(crate) async fn review_trail(&self, id: CourseId) -> CatalogResult<Vec<ReviewEvent>> {
        let rows = self.review_rows(id).await?;
        Ok(rows
            .into_iter()
            .map(|r| ReviewEvent {
                from: Status::parse(&r.from_status).unwrap_or(Status::Draft),
                to: Status::parse(&r.to_status).unwrap_or(Status::Draft),
                actor_id: r.actor_id.unwrap_or(UserId(uuid::Uuid::nil())),
                actor_name: r.actor_name.unwrap_or_else(|| "批量导入".into()),
                comment: r.comment,
                at: r.created_at,
            })
            .collect())
    }
}
