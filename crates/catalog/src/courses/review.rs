//! The review workflow (draft → in review → published → archived, and back to draft with a
//! reason) and its audit trail.

use platform::error::msg;
use platform::ids::UserId;
use platform::{Timestamp, with_db};

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
        with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE courses SET status = $2, version = version + 1, updated_at = $3,
                    published_at = CASE WHEN $2 = 'published' THEN $3 ELSE published_at END
                 WHERE id = $1 AND status = $4",
            )
            .bind(row.id)
            .bind(to.as_str())
            .bind(now)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(CatalogError::CourseVersionConflict);
            }
            sqlx::query(
                "INSERT INTO review_events (id, course_id, from_status, to_status, actor_id, comment, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(row.id)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(actor.user_id())
            .bind(comment)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The review trail of a course, oldest first. Imported steps have no actor: 批量导入.
    pub(crate) async fn review_trail(&self, id: CourseId) -> CatalogResult<Vec<ReviewEvent>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            from_status: String,
            to_status: String,
            actor_id: Option<UserId>,
            actor_name: Option<String>,
            comment: String,
            created_at: Timestamp,
        }
        let rows: Vec<Row> = with_db!(&self.db, |pool| {
            sqlx::query_as::<_, Row>(
                "SELECT r.from_status, r.to_status, r.actor_id, u.display_name AS actor_name, r.comment, \
                 r.created_at FROM review_events r LEFT JOIN users u ON u.id = r.actor_id \
                 WHERE r.course_id = $1 ORDER BY r.created_at, r.id",
            )
            .bind(id)
            .fetch_all(pool)
            .await
        })?;
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
