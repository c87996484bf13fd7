//! The review workflow's queries: a status change with its trail entry, and the trail.

use platform::ids::UserId;
use platform::{Timestamp, with_db};

use crate::{Catalog, CatalogResult, CourseId, Status};

/// One step of a course's review trail as stored (no actor: imported).
#[derive(sqlx::FromRow)]
pub(crate) struct ReviewRow {
    pub(crate) from_status: String,
    pub(crate) to_status: String,
    pub(crate) actor_id: Option<UserId>,
    pub(crate) actor_name: Option<String>,
    pub(crate) comment: String,
    pub(crate) created_at: Timestamp,
}

impl Catalog {
    /// Moves course `id` from `from` to `to` and records the step, in one transaction; false
    /// (nothing changed) when the course is no longer at `from`.
    pub(crate) async fn record_transition(
        &self,
        id: CourseId,
        from: Status,
        to: Status,
        actor: Option<UserId>,
        comment: &str,
        now: Timestamp,
    ) -> CatalogResult<bool> {
        Ok(with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE courses SET status = $2, version = version + 1, updated_at = $3, \
                 published_at = CASE WHEN $2 = 'published' THEN $3 ELSE published_at END \
                 WHERE id = $1 AND status = $4",
            )
            .bind(id)
            .bind(to.as_str())
            .bind(now)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO review_events (id, course_id, from_status, to_status, actor_id, comment, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(id)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(actor)
            .bind(comment)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            true
        }))
    }

    /// The review trail of course `id`, oldest first, with the actors' names.
    pub(crate) async fn review_rows(&self, id: CourseId) -> CatalogResult<Vec<ReviewRow>> {
        Ok(with_db!(&self.db, |pool| {
            sqlx::query_as::<_, ReviewRow>(
                "SELECT r.from_status, r.to_status, r.actor_id, u.display_name AS actor_name, r.comment, \
                 r.created_at FROM review_events r LEFT JOIN users u ON u.id = r.actor_id \
                 WHERE r.course_id = $1 ORDER BY r.created_at, r.id",
            )
            .bind(id)
            .fetch_all(pool)
            .await
        })?)
    }
}
