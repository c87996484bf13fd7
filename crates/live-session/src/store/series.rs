//! The queries of series: the row, its occurrences as briefs, creating one with its planned
//! occurrences, an edit that re-plans future dates under an optimistic version, and stopping.

use platform::ids::{OrgId, UserId};
use platform::{Db, Timestamp, with_db};
use serde::Serialize;
use utoipa::ToSchema;

use crate::lifecycle::LiveState;
use crate::{OccurrenceId, SeriesId};

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct OccurrenceBrief {
    pub id: OccurrenceId,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    #[sqlx(try_from = "String")]
    pub state: LiveState,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct SeriesRow {
    pub id: SeriesId,
    pub expert_id: UserId,
    pub title: String,
    pub description: String,
    pub lecturer: String,
    pub rrule: String,
    pub exceptions: String,
    pub first_start: Timestamp,
    pub duration_min: i32,
    pub capacity: i32,
    pub scope_org_id: Option<OrgId>,
    pub threshold: f64,
    pub version: i32,
    /// The series' replay course, once the first replay made it.
    pub replay_course_id: Option<uuid::Uuid>,
    /// JSON array of age-stage codes; `[]`: every stage.
    pub age_stages: String,
    /// `online` (a livestream) or `offline` (an activity, `crate::activities`).
    pub format: String,
}

impl SeriesRow {
    pub(crate) fn stages(&self) -> Vec<String> {
        serde_json::from_str(&self.age_stages).unwrap_or_default()
    }
}

const SERIES_COLUMNS: &str = "id, expert_id, title, description, lecturer, rrule, exceptions, first_start, \
                              duration_min, capacity, scope_org_id, threshold, version, replay_course_id, age_stages, format";

/// A series: bind `(id, expert, created_by, title, description, lecturer, rrule, exceptions,
/// first_start, duration_min, capacity, scope_org_id, threshold, now, age_stages, format)`.
pub(crate) const INSERT_SERIES: &str = "INSERT INTO live_series (id, expert_id, created_by, title, description, \
                                        lecturer, rrule, exceptions, first_start, duration_min, capacity, \
                                        scope_org_id, threshold, version, created_at, updated_at, age_stages, \
                                        format) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                                        1, $14, $14, $15, $16)";

/// Runs [`INSERT_SERIES`] on `$tx` with a series' fields (`$f`: [`SeriesFields`]) bound, on
/// either backend: the one home of that statement's binds (series and activities insert it).
macro_rules! insert_series {
    ($tx:expr, $id:expr, $expert:expr, $created_by:expr, $f:expr, $scope:expr, $now:expr, $format:expr) => {
        sqlx::query($crate::store::series::INSERT_SERIES)
            .bind($id)
            .bind($expert)
            .bind($created_by)
            .bind($f.title)
            .bind($f.description)
            .bind($f.lecturer)
            .bind($f.rrule)
            .bind(&$f.exceptions_json)
            .bind($f.first_start)
            .bind($f.duration_min)
            .bind($f.capacity)
            .bind($scope)
            .bind($f.threshold)
            .bind($now)
            .bind($f.stages_json)
            .bind($format)
            .execute(&mut *$tx)
            .await
    };
}
pub(crate) use insert_series;

/// A scheduled occurrence: bind `(id, series, starts_at, ends_at, now)`.
pub(crate) const INSERT_OCCURRENCE: &str = "INSERT INTO live_occurrences (id, series_id, starts_at, ends_at, state, created_at, \
                                 updated_at) VALUES ($1, $2, $3, $4, 'scheduled', $5, $5)";

/// The checked fields of a series as its row stores them (exceptions and stages as JSON).
pub(crate) struct SeriesFields<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub lecturer: &'a str,
    pub rrule: &'a str,
    pub exceptions_json: String,
    pub first_start: Timestamp,
    pub duration_min: i32,
    pub capacity: i32,
    pub threshold: f64,
    pub stages_json: &'a str,
}

pub(crate) async fn series(db: &Db, id: SeriesId) -> Result<Option<SeriesRow>, sqlx::Error> {
    let sql = format!("SELECT {SERIES_COLUMNS} FROM live_series WHERE id = $1");
    with_db!(db, |pool| sqlx::query_as::<_, SeriesRow>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await)
}

pub(crate) async fn occurrences_of(db: &Db, series: SeriesId) -> Result<Vec<OccurrenceBrief>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, OccurrenceBrief>(
        "SELECT id, starts_at, ends_at, state FROM live_occurrences WHERE series_id = $1 ORDER BY starts_at",
    )
    .bind(series)
    .fetch_all(pool)
    .await)
}

/// Inserts a series (version 1) and one scheduled occurrence per start, in one transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert(
    db: &Db,
    id: SeriesId,
    expert: UserId,
    created_by: UserId,
    f: &SeriesFields<'_>,
    scope_org_id: Option<OrgId>,
    starts: &[Timestamp],
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let dur_ms = i64::from(f.duration_min) * 60_000;
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        insert_series!(tx, id, expert, created_by, f, scope_org_id, now, "online")?;
        for at in starts {
            sqlx::query(INSERT_OCCURRENCE)
                .bind(OccurrenceId::new())
                .bind(id)
                .bind(*at)
                .bind(Timestamp(at.0 + dur_ms))
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok::<(), sqlx::Error>(())
    })
}

/// Updates a series at version `version` and re-plans its future scheduled occurrences to
/// `wanted` (kept, cancelled, created, or scheduled again), in one transaction. Returns the rows
/// updated: 0 when the version was stale (nothing changed).
pub(crate) async fn update(
    db: &Db,
    id: SeriesId,
    version: i32,
    f: &SeriesFields<'_>,
    existing: &[OccurrenceBrief],
    wanted: &[Timestamp],
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    let dur_ms = i64::from(f.duration_min) * 60_000;
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let n = sqlx::query(
            "UPDATE live_series SET title = $2, description = $3, lecturer = $4, rrule = $5, exceptions = $6,
               first_start = $7, duration_min = $8, capacity = $9, threshold = $10, version = version + 1, \
             updated_at = $11,
               age_stages = $13
             WHERE id = $1 AND version = $12",
        )
        .bind(id)
        .bind(f.title)
        .bind(f.description)
        .bind(f.lecturer)
        .bind(f.rrule)
        .bind(&f.exceptions_json)
        .bind(f.first_start)
        .bind(f.duration_min)
        .bind(f.capacity)
        .bind(f.threshold)
        .bind(now)
        .bind(version)
        .bind(f.stages_json)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            // Future scheduled occurrences follow the new rule; the past and the live stay.
            for o in existing
                .iter()
                .filter(|o| o.state == LiveState::Scheduled && o.starts_at > now)
            {
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
                sqlx::query(INSERT_OCCURRENCE)
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
                .filter(|o| o.state == LiveState::Cancelled && wanted.contains(&o.starts_at))
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
    })
}

/// Cancels every future scheduled occurrence of a series and bumps its version, in one
/// transaction; returns the cancelled ones.
pub(crate) async fn stop(db: &Db, id: SeriesId, now: Timestamp) -> Result<Vec<OccurrenceId>, sqlx::Error> {
    with_db!(db, |pool| {
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
    })
}
