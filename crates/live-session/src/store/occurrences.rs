//! The queries of occurrences: one row, those open for enrolment, enrolment counts, the locked
//! read-modify-write of the live state, the schedule a scope sees, and a parent's calendar rows.

use platform::ids::UserId;
use platform::scope::Scope;
use platform::{Db, Timestamp, db_execute, with_db};

use crate::lifecycle::{Lifecycle, Refusal};
use crate::model::OccurrenceRow;
use crate::{OccurrenceId, SeriesId};

const OCC_COLUMNS: &str = "id, series_id, starts_at, ends_at, state, live_ms, live_since, paused_at, \
    went_live_at, ended_at, replay_course_id, replay_lesson_id, replay_asset_id";

pub(crate) async fn occurrence(db: &Db, id: OccurrenceId) -> Result<Option<OccurrenceRow>, sqlx::Error> {
    let sql = format!("SELECT {OCC_COLUMNS} FROM live_occurrences WHERE id = $1");
    with_db!(db, |pool| sqlx::query_as::<_, OccurrenceRow>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await)
}

/// The series' occurrences that are live or paused, or scheduled and not past their end.
pub(crate) async fn open(db: &Db, series: SeriesId, now: Timestamp) -> Result<Vec<OccurrenceRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {OCC_COLUMNS} FROM live_occurrences WHERE series_id = $1
         AND (state IN ('live', 'paused') OR (state = 'scheduled' AND ends_at > $2)) ORDER BY starts_at"
    );
    with_db!(db, |pool| sqlx::query_as::<_, OccurrenceRow>(&sql)
        .bind(series)
        .bind(now)
        .fetch_all(pool)
        .await)
}

/// How many enrolments of each state the occurrence has.
pub(crate) async fn enrolment_counts(db: &Db, occ: OccurrenceId) -> Result<Vec<(String, i64)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT state, COUNT(*) FROM live_enrolments WHERE occurrence_id = $1 GROUP BY state",
    )
    .bind(occ)
    .fetch_all(pool)
    .await)
}

/// Why a transition was not stored.
pub(crate) enum TransitionError {
    NotFound,
    Refused(Refusal),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for TransitionError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e)
    }
}

/// Locks the occurrence's row, lets `apply` change its lifecycle, and stores the result when it
/// changed, in one transaction. Returns the new lifecycle and whether it changed.
pub(crate) async fn transition(
    db: &Db,
    id: OccurrenceId,
    now: Timestamp,
    apply: impl Fn(&mut Lifecycle) -> Result<bool, Refusal>,
) -> Result<(Lifecycle, bool), TransitionError> {
    let sql = format!("SELECT {OCC_COLUMNS} FROM live_occurrences WHERE id = $1");
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE live_occurrences SET updated_at = updated_at WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let Some(row) = sqlx::query_as::<_, OccurrenceRow>(&sql)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.rollback().await?;
            return Err(TransitionError::NotFound);
        };
        let mut l = row.lifecycle();
        let changed = match apply(&mut l) {
            Ok(c) => c,
            Err(r) => {
                tx.rollback().await?;
                return Err(TransitionError::Refused(r));
            }
        };
        if changed {
            sqlx::query(
                "UPDATE live_occurrences SET state = $2, live_ms = $3, live_since = $4, paused_at = $5,
                   went_live_at = $6, ended_at = $7, updated_at = $8 WHERE id = $1",
            )
            .bind(id)
            .bind(l.state.as_str())
            .bind(l.live_ms)
            .bind(l.live_since)
            .bind(l.paused_at)
            .bind(l.went_live_at)
            .bind(l.ended_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok((l, changed))
    })
}

/// Occurrences paused at or before `cutoff`.
pub(crate) async fn paused_since(db: &Db, cutoff: Timestamp) -> Result<Vec<OccurrenceId>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar(
        "SELECT id FROM live_occurrences WHERE state = 'paused' AND paused_at <= $1",
    )
    .bind(cutoff)
    .fetch_all(pool)
    .await)
}

/// Up to `limit` occurrences starting in `[from, to)`, not cancelled, of series whose audience
/// `scope` sees or manages, or (`expert`) that the caller lectures; by start.
pub(crate) async fn schedule(
    db: &Db,
    scope: &Scope,
    expert: Option<UserId>,
    from: Timestamp,
    to: Timestamp,
    limit: u32,
) -> Result<Vec<OccurrenceRow>, sqlx::Error> {
    let columns = OCC_COLUMNS
        .split(", ")
        .map(|c| format!("o.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new(format!(
            "SELECT {columns} FROM live_occurrences o JOIN live_series s ON s.id = o.series_id
             LEFT JOIN organizations so ON so.id = s.scope_org_id WHERE o.starts_at >= "
        ));
        qb.push_bind(from);
        qb.push(" AND o.starts_at < ");
        qb.push_bind(to);
        qb.push(" AND o.state <> 'cancelled' AND (");
        scope.push_sees(&mut qb, "so.path");
        qb.push(" OR ");
        scope.push_manages(&mut qb, "so.path");
        if let Some(expert) = expert {
            qb.push(" OR s.expert_id = ");
            qb.push_bind(expert);
        }
        qb.push(format!(") ORDER BY o.starts_at LIMIT {limit}"));
        qb.build_query_as::<OccurrenceRow>().fetch_all(pool).await
    })
}

/// One lecture (or offline activity, with its place) of a parent's calendar.
pub(crate) type CalendarRow = (
    OccurrenceId,
    Timestamp,
    Timestamp,
    String,
    String,
    String,
    String,
    Option<String>,
);

/// The lectures `user` is enrolled in that end after `since`: id, start, end, state, title,
/// lecturer and description; at most 500, by start.
pub(crate) async fn calendar(db: &Db, user: UserId, since: Timestamp) -> Result<Vec<CalendarRow>, sqlx::Error> {
    with_db!(db, |pool| {
        sqlx::query_as(
            "SELECT o.id, o.starts_at, o.ends_at, o.state, s.title, s.lecturer, s.description, a.place
         FROM live_enrolments e JOIN live_occurrences o ON o.id = e.occurrence_id JOIN live_series s ON s.id = \
             o.series_id
              LEFT JOIN activities a ON a.occurrence_id = o.id
         WHERE e.user_id = $1 AND e.state = 'enrolled' AND o.ends_at > $2 ORDER BY o.starts_at LIMIT 500",
        )
        .bind(user)
        .bind(since)
        .fetch_all(pool)
        .await
    })
}

/// Occurrences marked live (on any node).
pub(crate) async fn live(db: &Db) -> Result<Vec<OccurrenceId>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar(
        "SELECT id FROM live_occurrences WHERE state = 'live'",
    )
    .fetch_all(pool)
    .await)
}

/// The occurrence whose stream key hashes to `hash`.
pub(crate) async fn by_stream_key(db: &Db, hash: &str) -> Result<Option<OccurrenceId>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar(
        "SELECT id FROM live_occurrences WHERE stream_key_hash = $1",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await)
}

/// Sets (or with `None` revokes) the stream key's hash; the rows changed (revoking: 0 when
/// there was none).
pub(crate) async fn set_stream_key(
    db: &Db,
    id: OccurrenceId,
    hash: Option<&str>,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    match hash {
        Some(hash) => db_execute!(
            db,
            "UPDATE live_occurrences SET stream_key_hash = $2, updated_at = $3 WHERE id = $1",
            id,
            hash,
            now
        ),
        None => db_execute!(
            db,
            "UPDATE live_occurrences SET stream_key_hash = NULL, updated_at = $2 WHERE id = $1 AND stream_key_hash IS \
             NOT NULL",
            id,
            now
        ),
    }
}
