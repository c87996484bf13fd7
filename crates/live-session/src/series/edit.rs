//! Changing a series after it was created: an edit re-plans future dates (keeping enrolments
//! where a date stays, cancelling the dropped ones with a notice), and stopping cancels them all.

use platform::auth::AuthUser;
use platform::{Timestamp, with_db};

use super::*;
use crate::{Live, OccurrenceId, SeriesId};
use crate::{LiveError, LiveResult};

impl Live {
    pub(super) async fn edit_series(&self, user: &AuthUser, id: SeriesId, p: SeriesPatch) -> LiveResult<SeriesView> {
        let s = self.series_row(id).await?;
        if !self.manages(user, &s).await? {
            return Err(LiveError::SeriesNotFound);
        }
        if p.version != s.version {
            return Err(LiveError::SeriesVersionConflict);
        }
        let mut errors = Vec::new();
        let mut field = |name: &str, new: Option<String>, old: String, max: usize, required: bool| match new {
            None => old,
            Some(v) => text(name, &v, max, required).unwrap_or_else(|e| {
                errors.push(e);
                old
            }),
        };
        let title = field("title", p.title, s.title.clone(), 100, true);
        let description = field("description", p.description, s.description.clone(), 2000, false);
        let lecturer = field("lecturer", p.lecturer, s.lecturer.clone(), 100, true);
        let capacity = p.capacity.unwrap_or(s.capacity);
        let threshold = p.attendance_threshold.unwrap_or(s.threshold);
        errors.extend(check_numbers(capacity, threshold));
        if !errors.is_empty() {
            return Err(LiveError::Invalid(errors));
        }
        let rrule = p.rrule.unwrap_or_else(|| s.rrule.clone());
        let exceptions = p
            .exceptions
            .unwrap_or_else(|| serde_json::from_str(&s.exceptions).unwrap_or_default());
        let first = p.starts_at.unwrap_or(s.first_start);
        let plan = plan(&rrule, &exceptions, first, p.duration_minutes.unwrap_or(s.duration_min))?;
        let stages = match &p.age_stages {
            Some(codes) => stages_json(codes)?,
            None => s.age_stages.clone(),
        };
        let now = self.clock.now();
        let dur_ms = i64::from(plan.duration_min) * 60_000;
        let wanted: Vec<Timestamp> = plan.starts.iter().map(|t| ts(*t)).filter(|t| *t > now).collect();
        let existing = self.occurrences_of(id).await?;
        let dropped: Vec<OccurrenceId> = existing
            .iter()
            .filter(|o| o.state == "scheduled" && o.starts_at > now && !wanted.contains(&o.starts_at))
            .map(|o| o.id)
            .collect();
        let changed = with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE live_series SET title = $2, description = $3, lecturer = $4, rrule = $5, exceptions = $6,
                   first_start = $7, duration_min = $8, capacity = $9, threshold = $10, version = version + 1, \
                 updated_at = $11,
                   age_stages = $13
                 WHERE id = $1 AND version = $12",
            )
            .bind(id)
            .bind(&title)
            .bind(&description)
            .bind(&lecturer)
            .bind(rrule.trim())
            .bind(serde_json::to_string(&plan.exceptions).unwrap_or_else(|_| "[]".into()))
            .bind(first)
            .bind(plan.duration_min)
            .bind(capacity)
            .bind(threshold)
            .bind(now)
            .bind(p.version)
            .bind(&stages)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                // Future scheduled occurrences follow the new rule; the past and the live stay.
                for o in existing.iter().filter(|o| o.state == "scheduled" && o.starts_at > now) {
                    let keep = wanted.contains(&o.starts_at);
                    sqlx::query(
                        "UPDATE live_occurrences SET state = CASE WHEN $2 THEN 'scheduled' ELSE 'cancelled' END,
                           ends_at = starts_at + $3, updated_at = $4 WHERE id = $1",
                    )
                    .bind(o.id)
                    .bind(keep)
                    .bind(dur_ms)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                for at in wanted.iter().filter(|t| !existing.iter().any(|o| o.starts_at == **t)) {
                    sqlx::query(
                        "INSERT INTO live_occurrences (id, series_id, starts_at, ends_at, state, created_at, \
                         updated_at)
                         VALUES ($1, $2, $3, $4, 'scheduled', $5, $5)",
                    )
                    .bind(OccurrenceId::new())
                    .bind(id)
                    .bind(*at)
                    .bind(Timestamp(at.0 + dur_ms))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                // A cancelled future occurrence that the rule brings back is scheduled again.
                for o in existing
                    .iter()
                    .filter(|o| o.state == "cancelled" && wanted.contains(&o.starts_at))
                {
                    sqlx::query(
                        "UPDATE live_occurrences SET state = 'scheduled', ends_at = starts_at + $2, \
                         updated_at = $3 WHERE id = $1",
                    )
                    .bind(o.id)
                    .bind(dur_ms)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(n)
        })?;
        if changed == 0 {
            return Err(LiveError::SeriesVersionConflict);
        }
        for occ in dropped {
            self.notify_cancelled(occ).await?;
        }
        // Whole-series enrolees join the new occurrences; a larger capacity promotes waitlists.
        self.fill_series(id).await?;
        self.series_view(self.series_row(id).await?).await
    }

    /// Stops a series: every future scheduled lecture is cancelled and those enrolled or
    /// waitlisted are told; past lectures, a live one, and their records stay.
    pub(super) async fn stop_series(&self, user: &AuthUser, id: SeriesId) -> LiveResult<SeriesView> {
        let s = self.series_row(id).await?;
        if !self.manages(user, &s).await? {
            return Err(LiveError::SeriesNotFound);
        }
        let now = self.clock.now();
        let dropped: Vec<OccurrenceId> = with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            let ids: Vec<OccurrenceId> = sqlx::query_scalar(
                "UPDATE live_occurrences SET state = 'cancelled', updated_at = $3
                  WHERE series_id = $1 AND state = 'scheduled' AND starts_at > $2 RETURNING id",
            )
            .bind(id)
            .bind(now)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            sqlx::query("UPDATE live_series SET version = version + 1, updated_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(ids)
        })?;
        for occ in dropped {
            self.notify_cancelled(occ).await?;
        }
        self.series_view(self.series_row(id).await?).await
    }
}
