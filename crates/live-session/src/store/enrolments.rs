//! The queries of enrolments: one user's row and place in line, enrolling a batch into one
//! occurrence under its row lock, cancelling with promotion of the next in line, whole-series
//! enrolments, a class's parents, and what an erased account gives up.

use platform::ids::UserId;
use platform::{Db, Timestamp, db_execute, with_db};

use crate::model::EnrolmentState;
use crate::{LiveError, LiveResult, OccurrenceId, SeriesId};

/// Moves the first waitlisted users into free seats (inside the caller's transaction `tx`),
/// holding the occurrence's row lock first, as every change of its seats does, and reading the
/// capacity under it: concurrent promotions (a series edit, cancellations) count the seats one
/// after the other against the capacity that is committed, never one read before an edit.
pub(crate) async fn promote<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    occ: OccurrenceId,
    now: Timestamp,
) -> sqlx::Result<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> OccurrenceId: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Timestamp: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (i32,): for<'r> sqlx::FromRow<'r, DB::Row>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    sqlx::query("UPDATE live_occurrences SET updated_at = updated_at WHERE id = $1")
        .bind(occ)
        .execute(&mut **tx)
        .await?;
    let capacity: i32 = sqlx::query_scalar(
        "SELECT s.capacity FROM live_series s JOIN live_occurrences o ON o.series_id = s.id WHERE o.id = $1",
    )
    .bind(occ)
    .fetch_one(&mut **tx)
    .await?;
    let enrolled: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM live_enrolments WHERE occurrence_id = $1 AND state = 'enrolled'")
            .bind(occ)
            .fetch_one(&mut **tx)
            .await?;
    let free = i64::from(capacity) - enrolled;
    if free > 0 {
        sqlx::query(
            "UPDATE live_enrolments SET state = 'enrolled', updated_at = $3 \
             WHERE occurrence_id = $1 AND user_id IN ( \
               SELECT user_id FROM live_enrolments WHERE occurrence_id = $1 AND state = 'waitlisted' \
               ORDER BY seq LIMIT $2)",
        )
        .bind(occ)
        .bind(free)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The state and line number (`seq`) of `user`'s enrolment in `occ`.
pub(crate) async fn state_of(db: &Db, occ: OccurrenceId, user: UserId) -> Result<Option<(String, i64)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT state, seq FROM live_enrolments WHERE occurrence_id = $1 AND user_id = $2",
    )
    .bind(occ)
    .bind(user)
    .fetch_optional(pool)
    .await)
}

/// How many wait in line for `occ` before line number `seq`.
pub(crate) async fn waiting_before(db: &Db, occ: OccurrenceId, seq: i64) -> Result<i64, sqlx::Error> {
    with_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM live_enrolments WHERE occurrence_id = $1 AND state = 'waitlisted' \
             AND seq < $2",
        )
        .bind(occ)
        .bind(seq)
        .fetch_one(pool)
        .await
    })
}

/// Enrols `users` in `occ` in one transaction, holding its row lock: users already enrolled
/// or waitlisted keep their place; the rest are enrolled while seats remain, then waitlisted
/// (after the start, turned away). 409 when it is closed, or full after its start for all.
pub(crate) async fn enrol(
    db: &Db,
    occ: OccurrenceId,
    capacity: i32,
    users: &[UserId],
    by: UserId,
    now: Timestamp,
) -> LiveResult<()> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        // Lock the occurrence: enrolments of it run one after the other. Enrolment stays
        // open until the lecture ends: before its start with a waitlist, after it (walk-in)
        // while seats are free.
        let open: Option<Timestamp> = sqlx::query_scalar(
            "UPDATE live_occurrences SET updated_at = $2 WHERE id = $1
               AND (state IN ('live', 'paused') OR (state = 'scheduled' AND ends_at > $2))
             RETURNING starts_at",
        )
        .bind(occ)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(starts_at) = open else {
            tx.rollback().await?;
            return Err(LiveError::EnrolmentClosed);
        };
        let walk_in = starts_at <= now;
        let mut turned_away = 0usize;
        let mut enrolled: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM live_enrolments WHERE occurrence_id = $1 AND state = 'enrolled'")
                .bind(occ)
                .fetch_one(&mut *tx)
                .await?;
        let mut seq: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM live_enrolments WHERE occurrence_id = $1")
                .bind(occ)
                .fetch_one(&mut *tx)
                .await?;
        for user in users {
            let current: Option<String> =
                sqlx::query_scalar("SELECT state FROM live_enrolments WHERE occurrence_id = $1 AND user_id = $2")
                    .bind(occ)
                    .bind(*user)
                    .fetch_optional(&mut *tx)
                    .await?;
            if current
                .as_deref()
                .map(EnrolmentState::parse)
                .is_some_and(|s| s != EnrolmentState::Cancelled)
            {
                continue;
            }
            if walk_in && enrolled >= i64::from(capacity) {
                // Nobody cancels once it has started: a waitlist would never move.
                turned_away += 1;
                continue;
            }
            seq += 1;
            let state = if enrolled < i64::from(capacity) {
                EnrolmentState::Enrolled
            } else {
                EnrolmentState::Waitlisted
            };
            enrolled += i64::from(state == EnrolmentState::Enrolled);
            sqlx::query(
                "INSERT INTO live_enrolments (occurrence_id, user_id, state, seq, enrolled_by, created_at, \
                 updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)
                 ON CONFLICT (occurrence_id, user_id) DO UPDATE SET state = excluded.state, seq = excluded.seq,
                   enrolled_by = excluded.enrolled_by, updated_at = excluded.updated_at",
            )
            .bind(occ)
            .bind(*user)
            .bind(state.as_str())
            .bind(seq)
            .bind(by)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        if turned_away > 0 && turned_away == users.len() {
            tx.rollback().await?;
            return Err(LiveError::LectureFull);
        }
        tx.commit().await?;
        Ok::<(), LiveError>(())
    })
}

/// Cancels `user`'s enrolment in `occ` (while it has not started) and promotes the first in
/// line into a freed seat, in one transaction; whether there was one to cancel.
pub(crate) async fn cancel(db: &Db, occ: OccurrenceId, user: UserId, now: Timestamp) -> LiveResult<bool> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let open: Option<i64> = sqlx::query_scalar(
            "UPDATE live_occurrences SET updated_at = $2 WHERE id = $1 AND state = 'scheduled' AND \
             starts_at > $2
             RETURNING starts_at",
        )
        .bind(occ)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if open.is_none() {
            tx.rollback().await?;
            return Err(LiveError::CancelClosed);
        }
        let n = sqlx::query(
            "UPDATE live_enrolments SET state = 'cancelled', updated_at = $3
             WHERE occurrence_id = $1 AND user_id = $2 AND state IN ('enrolled', 'waitlisted')",
        )
        .bind(occ)
        .bind(user)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        promote(&mut tx, occ, now).await?;
        tx.commit().await?;
        Ok::<bool, LiveError>(n == 1)
    })
}

/// Promotes the first in line of `occ` into free seats, in a transaction of its own.
pub(crate) async fn promote_waiting(db: &Db, occ: OccurrenceId, now: Timestamp) -> Result<(), sqlx::Error> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        promote(&mut tx, occ, now).await?;
        tx.commit().await?;
        Ok::<(), sqlx::Error>(())
    })
}

/// Who enrolled in the whole series, first come first.
pub(crate) async fn series_enrolees(db: &Db, series: SeriesId) -> Result<Vec<UserId>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar(
        "SELECT user_id FROM live_series_enrolments WHERE series_id = $1 ORDER BY created_at, user_id",
    )
    .bind(series)
    .fetch_all(pool)
    .await)
}

/// Everyone with a row for `occ`, in any state.
pub(crate) async fn users_of(db: &Db, occ: OccurrenceId) -> Result<Vec<UserId>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar(
        "SELECT user_id FROM live_enrolments WHERE occurrence_id = $1",
    )
    .bind(occ)
    .fetch_all(pool)
    .await)
}

/// Up to `limit` parents of the organizations under `path` (a class enrolment).
pub(crate) async fn parents_under(db: &Db, path: &str, limit: i64) -> Result<Vec<UserId>, sqlx::Error> {
    with_db!(db, |pool| {
        sqlx::query_scalar::<_, UserId>(
            "SELECT DISTINCT u.id FROM users u JOIN memberships m ON m.user_id = u.id JOIN \
             organizations o ON o.id = m.org_id
         WHERE o.path LIKE $1 AND u.role = 'parent' AND u.deleted_at IS NULL ORDER BY u.id LIMIT $2",
        )
        .bind(format!("{path}%"))
        .bind(limit)
        .fetch_all(pool)
        .await
    })
}

/// The users holding or waiting for a seat of `occ`, in line order, with their state.
pub(crate) async fn seats(db: &Db, occ: OccurrenceId) -> Result<Vec<(UserId, String)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT user_id, state FROM live_enrolments WHERE occurrence_id = $1 AND state <> 'cancelled' ORDER BY seq",
    )
    .bind(occ)
    .fetch_all(pool)
    .await)
}

pub(crate) async fn enrol_series(db: &Db, series: SeriesId, user: UserId, now: Timestamp) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO live_series_enrolments (series_id, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO \
         NOTHING",
        series,
        user,
        now
    )?;
    Ok(())
}

pub(crate) async fn leave_series(db: &Db, series: SeriesId, user: UserId) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "DELETE FROM live_series_enrolments WHERE series_id = $1 AND user_id = $2",
        series,
        user
    )?;
    Ok(())
}

/// The lectures to come in which `user` holds or waits for a seat.
pub(crate) async fn upcoming_of(db: &Db, user: UserId, now: Timestamp) -> Result<Vec<OccurrenceId>, sqlx::Error> {
    with_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT e.occurrence_id FROM live_enrolments e JOIN live_occurrences o ON o.id = e.occurrence_id
         WHERE e.user_id = $1 AND e.state IN ('enrolled', 'waitlisted') AND o.state = 'scheduled' AND \
             o.starts_at > $2",
        )
        .bind(user)
        .bind(now)
        .fetch_all(pool)
        .await
    })
}

/// An erased account's whole-series enrolments end and its chat and question text goes (the
/// messages stay, hidden, for the counts).
pub(crate) async fn erase_traces(db: &Db, user: UserId) -> Result<(), sqlx::Error> {
    db_execute!(db, "DELETE FROM live_series_enrolments WHERE user_id = $1", user)?;
    db_execute!(
        db,
        "UPDATE live_messages SET text = '', hidden = $2 WHERE user_id = $1",
        user,
        true
    )?;
    Ok(())
}

/// Every enrolment of `occ` with its state (cancelled ones too).
pub(crate) async fn states(db: &Db, occ: OccurrenceId) -> Result<Vec<(UserId, String)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT user_id, state FROM live_enrolments WHERE occurrence_id = $1",
    )
    .bind(occ)
    .fetch_all(pool)
    .await)
}

/// Seats `user` holds in lectures that have not ended.
pub(crate) async fn active_seats(db: &Db, user: UserId) -> Result<i64, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM live_enrolments e JOIN live_occurrences o ON o.id = e.occurrence_id
         WHERE e.user_id = $1 AND e.state = 'enrolled' AND o.state IN ('scheduled', 'live', 'paused')",
    )
    .bind(user)
    .fetch_one(pool)
    .await)
}
