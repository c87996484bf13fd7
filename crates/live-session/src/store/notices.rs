//! The queries of notices: reminders due before a horizon, the parents of a lecture, a claim
//! row per kind, occurrence, user and offset (inserted once across nodes), stale claims taken
//! again, the recorded outcome, and the phone a gateway texts.

use platform::ids::UserId;
use platform::{Db, Timestamp, db_execute, with_db};

use crate::OccurrenceId;
use crate::model::NoticeKind;

#[derive(sqlx::FromRow)]
pub(crate) struct Due {
    pub occurrence_id: OccurrenceId,
    pub user_id: UserId,
    pub starts_at: Timestamp,
}

#[derive(sqlx::FromRow)]
pub(crate) struct Pending {
    pub id: uuid::Uuid,
    #[sqlx(try_from = "String")]
    pub kind: NoticeKind,
    pub occurrence_id: OccurrenceId,
    pub user_id: UserId,
    pub offset_minutes: i32,
}

/// Enrolled seats of scheduled lectures that start in `(now, horizon]`.
pub(crate) async fn due(db: &Db, now: Timestamp, horizon: Timestamp) -> Result<Vec<Due>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT e.occurrence_id, e.user_id, o.starts_at FROM live_enrolments e
           JOIN live_occurrences o ON o.id = e.occurrence_id
          WHERE e.state = 'enrolled' AND o.state = 'scheduled' AND o.starts_at > $1 AND o.starts_at <= $2",
    )
    .bind(now)
    .bind(horizon)
    .fetch_all(pool)
    .await)
}

/// The users of `occ` with a seat, and with `waitlisted` also those in line.
pub(crate) async fn recipients(db: &Db, occ: OccurrenceId, waitlisted: bool) -> Result<Vec<UserId>, sqlx::Error> {
    let states = if waitlisted {
        "('enrolled', 'waitlisted')"
    } else {
        "('enrolled')"
    };
    let sql = format!("SELECT user_id FROM live_enrolments WHERE occurrence_id = $1 AND state IN {states}");
    with_db!(db, |pool| sqlx::query_scalar(&sql).bind(occ).fetch_all(pool).await)
}

/// Inserts the notice's claim; whether this call inserted it.
pub(crate) async fn claim(
    db: &Db,
    id: uuid::Uuid,
    kind: NoticeKind,
    occ: OccurrenceId,
    user: UserId,
    offset: i32,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let n = db_execute!(
        db,
        "INSERT INTO live_notifications (id, kind, occurrence_id, user_id, offset_minutes, \
         claimed_at, attempts, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 1, $6) ON CONFLICT (kind, occurrence_id, user_id, offset_minutes) DO \
         NOTHING",
        id,
        kind.as_str(),
        occ,
        user,
        offset,
        now
    )?;
    Ok(n == 1)
}

/// Up to 100 unsent claims made before `before` (under 10 attempts), oldest first.
pub(crate) async fn stale(db: &Db, before: Timestamp) -> Result<Vec<Pending>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT id, kind, occurrence_id, user_id, offset_minutes FROM live_notifications
          WHERE sent_at IS NULL AND claimed_at < $1 AND attempts < 10 ORDER BY claimed_at LIMIT 100",
    )
    .bind(before)
    .fetch_all(pool)
    .await)
}

/// Claims a stale notice again; whether this node won it.
pub(crate) async fn reclaim(db: &Db, id: uuid::Uuid, now: Timestamp, before: Timestamp) -> Result<bool, sqlx::Error> {
    let n = db_execute!(
        db,
        "UPDATE live_notifications SET claimed_at = $2, attempts = attempts + 1
          WHERE id = $1 AND sent_at IS NULL AND claimed_at < $3",
        id,
        now,
        before
    )?;
    Ok(n == 1)
}

pub(crate) async fn mark_sent(db: &Db, id: uuid::Uuid, now: Timestamp) -> Result<u64, sqlx::Error> {
    db_execute!(
        db,
        "UPDATE live_notifications SET sent_at = $2, last_error = NULL WHERE id = $1",
        id,
        now
    )
}

pub(crate) async fn mark_failed(db: &Db, id: uuid::Uuid, error: String) -> Result<u64, sqlx::Error> {
    db_execute!(
        db,
        "UPDATE live_notifications SET last_error = $2 WHERE id = $1",
        id,
        error
    )
}

pub(crate) async fn phone(db: &Db, user: UserId) -> Result<Option<String>, sqlx::Error> {
    Ok(with_db!(db, |pool| sqlx::query_scalar::<_, Option<String>>(
        "SELECT phone FROM users WHERE id = $1",
    )
    .bind(user)
    .fetch_optional(pool)
    .await)?
    .flatten())
}
