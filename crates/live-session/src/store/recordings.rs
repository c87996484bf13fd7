//! The queries of recording and replays: the recording row and its runs, the stored pieces,
//! queueing the replay job with the claim of the row, attaching the replay to the series and
//! the occurrence, the recordings left by a dead node, and what a replay page shows.

use platform::ids::{JobId, UserId};
use platform::jobs::Jobs;
use platform::{Db, Timestamp, db_execute, with_db};

use crate::model::Piece;
use crate::{OccurrenceId, SeriesId};

/// Creates the recording row (once) and returns its state.
pub(crate) async fn open(db: &Db, occ: OccurrenceId, now: Timestamp) -> Result<Option<String>, sqlx::Error> {
    with_db!(db, |pool| {
        sqlx::query(
            "INSERT INTO live_recordings (occurrence_id, state, runs, created_at, updated_at)
             VALUES ($1, 'recording', 0, $2, $2) ON CONFLICT (occurrence_id) DO NOTHING",
        )
        .bind(occ)
        .bind(now)
        .execute(pool)
        .await?;
        sqlx::query_scalar("SELECT state FROM live_recordings WHERE occurrence_id = $1")
            .bind(occ)
            .fetch_optional(pool)
            .await
    })
}

/// Counts a new run of the recorder and returns its number.
pub(crate) async fn next_run(db: &Db, occ: OccurrenceId, now: Timestamp) -> Result<i32, sqlx::Error> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE live_recordings SET runs = runs + 1, updated_at = $2 WHERE occurrence_id = $1")
            .bind(occ)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let run: i32 = sqlx::query_scalar("SELECT runs FROM live_recordings WHERE occurrence_id = $1")
            .bind(occ)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<i32, sqlx::Error>(run)
    })
}

/// The number the next piece of `occ` gets.
pub(crate) async fn next_seq(db: &Db, occ: OccurrenceId) -> Result<i32, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, i32>(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM live_segments WHERE occurrence_id = $1",
    )
    .bind(occ)
    .fetch_one(pool)
    .await)
}

/// One stored piece of the recording.
pub(crate) struct NewSegment {
    pub occ: OccurrenceId,
    pub seq: i32,
    pub run: i32,
    pub duration_ms: i32,
    pub started_at: i64,
}

pub(crate) async fn insert_segment(db: &Db, s: &NewSegment, now: Timestamp) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO live_segments (occurrence_id, seq, run, duration_ms, started_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        s.occ,
        s.seq,
        s.run,
        s.duration_ms,
        s.started_at,
        now
    )?;
    Ok(())
}

/// How many pieces `occ` has, and when the newest was stored.
pub(crate) async fn piece_count(db: &Db, occ: OccurrenceId) -> Result<(i64, Option<i64>), sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT COUNT(*), MAX(created_at) FROM live_segments WHERE occurrence_id = $1",
    )
    .bind(occ)
    .fetch_one(pool)
    .await)
}

/// A recording without pieces becomes `empty`.
pub(crate) async fn mark_empty(db: &Db, occ: OccurrenceId, now: Timestamp) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "UPDATE live_recordings SET state = 'empty', updated_at = $2 WHERE occurrence_id = $1 AND state = \
         'recording'",
        occ,
        now
    )?;
    Ok(())
}

/// Claims the recording (`recording` → `queued`) and, when this call claimed it, inserts the
/// replay job, in one transaction; whether it was claimed.
pub(crate) async fn queue_replay(
    db: &Db,
    occ: OccurrenceId,
    job: JobId,
    kind: &str,
    payload: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE live_recordings SET state = 'queued', updated_at = $2 WHERE occurrence_id = $1 AND state = \
             'recording'",
        )
        .bind(occ)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 1 {
            sqlx::query(Jobs::INSERT_SQL)
                .bind(job)
                .bind(kind)
                .bind(payload)
                .bind(5)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok::<bool, sqlx::Error>(claimed == 1)
    })
}

/// The recordings whose replay is transcoding, with their asset.
pub(crate) async fn processing(db: &Db) -> Result<Vec<(OccurrenceId, Option<media::AssetId>)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT occurrence_id, asset_id FROM live_recordings WHERE state = 'processing'",
    )
    .fetch_all(pool)
    .await)
}

/// `processing` → `state`; whether this call moved it.
pub(crate) async fn finish(db: &Db, occ: OccurrenceId, state: &str, now: Timestamp) -> Result<bool, sqlx::Error> {
    let n = db_execute!(
        db,
        "UPDATE live_recordings SET state = $2, updated_at = $3 WHERE occurrence_id = $1 AND state = \
         'processing'",
        occ,
        state,
        now
    )?;
    Ok(n == 1)
}

/// Keeps the error of a replay attempt (and fails the recording on the last attempt).
pub(crate) async fn record_error(
    db: &Db,
    occ: OccurrenceId,
    error: &str,
    last_attempt: bool,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    db_execute!(
        db,
        "UPDATE live_recordings SET error = $2, state = CASE WHEN $3 THEN 'failed' ELSE state END, \
         updated_at = $4 WHERE occurrence_id = $1",
        occ,
        error,
        last_attempt,
        now
    )
}

/// The replay's asset: `None` without a recording, `Some(None)` before it was ingested.
pub(crate) async fn asset_of(db: &Db, occ: OccurrenceId) -> Result<Option<Option<media::AssetId>>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar(
        "SELECT asset_id FROM live_recordings WHERE occurrence_id = $1",
    )
    .bind(occ)
    .fetch_optional(pool)
    .await)
}

/// The pieces of `occ` as (seq, run, duration ms), in order.
pub(crate) async fn pieces(db: &Db, occ: OccurrenceId) -> Result<Vec<(i32, i32, i32)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT seq, run, duration_ms FROM live_segments WHERE occurrence_id = $1 ORDER BY seq",
    )
    .bind(occ)
    .fetch_all(pool)
    .await)
}

pub(crate) async fn set_asset(
    db: &Db,
    occ: OccurrenceId,
    asset: media::AssetId,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "UPDATE live_recordings SET asset_id = $2, updated_at = $3 WHERE occurrence_id = $1",
        occ,
        asset,
        now
    )?;
    Ok(())
}

/// Where the replay went: the series' replay course (the first one stays), the occurrence's
/// lesson and asset, and the recording `queued` → `processing`, in one transaction.
pub(crate) async fn attach_replay(
    db: &Db,
    series: SeriesId,
    occ: OccurrenceId,
    course: uuid::Uuid,
    lesson: uuid::Uuid,
    asset: media::AssetId,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE live_series SET replay_course_id = $2 WHERE id = $1 AND replay_course_id IS NULL")
            .bind(series)
            .bind(course)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE live_occurrences SET replay_course_id = $2, replay_lesson_id = $3, replay_asset_id = $4, \
             updated_at = $5 WHERE id = $1",
        )
        .bind(occ)
        .bind(course)
        .bind(lesson)
        .bind(asset)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE live_recordings SET state = 'processing', updated_at = $2 WHERE occurrence_id = \
             $1 AND state = 'queued'",
        )
        .bind(occ)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok::<(), sqlx::Error>(())
    })
}

/// Each viewer's connections to `occ`: user, joined, left (or last seen).
pub(crate) async fn viewer_spans(db: &Db, occ: OccurrenceId) -> Result<Vec<(UserId, i64, i64)>, sqlx::Error> {
    with_db!(db, |pool| {
        sqlx::query_as(
            "SELECT user_id, joined_at, COALESCE(left_at, seen_until) FROM live_attendance WHERE \
             occurrence_id = $1",
        )
        .bind(occ)
        .fetch_all(pool)
        .await
    })
}

/// The pieces of `occ` as (wall-clock start, duration ms), in order.
pub(crate) async fn segments(db: &Db, occ: OccurrenceId) -> Result<Vec<(i64, i32)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT started_at, duration_ms FROM live_segments WHERE occurrence_id = $1 ORDER BY seq",
    )
    .bind(occ)
    .fetch_all(pool)
    .await)
}

/// Recordings still `recording` whose lecture has ended (their node died).
pub(crate) async fn orphaned(db: &Db) -> Result<Vec<OccurrenceId>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar(
        "SELECT r.occurrence_id FROM live_recordings r JOIN live_occurrences o ON o.id = r.occurrence_id
          WHERE r.state = 'recording' AND o.state = 'ended'",
    )
    .fetch_all(pool)
    .await)
}

/// The occurrence whose replay is `asset`.
pub(crate) async fn occurrence_of_replay(db: &Db, asset: uuid::Uuid) -> Result<Option<OccurrenceId>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar(
        "SELECT id FROM live_occurrences WHERE replay_asset_id = $1",
    )
    .bind(asset)
    .fetch_optional(pool)
    .await)
}

/// One message of a replay page: kind, author, text, answered, answered at, sent at.
pub(crate) type ReplayMessage = (String, String, String, bool, Option<Timestamp>, Timestamp);

/// Up to 5,000 visible messages of `occ`, oldest first.
pub(crate) async fn replay_messages(db: &Db, occ: OccurrenceId) -> Result<Vec<ReplayMessage>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT m.kind, u.display_name, m.text, m.answered, m.answered_at, m.created_at
       FROM live_messages m JOIN users u ON u.id = m.user_id
      WHERE m.occurrence_id = $1 AND NOT m.hidden ORDER BY m.created_at LIMIT 5000",
    )
    .bind(occ)
    .fetch_all(pool)
    .await)
}

/// Pieces of `occ` while it is being recorded (0 before the first, or when not recording).
pub(crate) async fn live_pieces(db: &Db, occ: OccurrenceId) -> Result<i64, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM live_recordings r WHERE r.occurrence_id = $1 AND r.state = 'recording'
           AND EXISTS (SELECT 1 FROM live_segments s WHERE s.occurrence_id = r.occurrence_id)",
    )
    .bind(occ)
    .fetch_one(pool)
    .await)
}

/// The newest `window` pieces of `occ` (newest first) and its live state.
pub(crate) async fn window(
    db: &Db,
    occ: OccurrenceId,
    window: i64,
) -> Result<(Vec<Piece>, Option<String>), sqlx::Error> {
    with_db!(db, |pool| {
        let pieces: Vec<Piece> = sqlx::query_as(
            "SELECT seq, run, duration_ms FROM live_segments WHERE occurrence_id = $1 ORDER BY seq \
             DESC LIMIT $2",
        )
        .bind(occ)
        .bind(window)
        .fetch_all(pool)
        .await?;
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM live_occurrences WHERE id = $1")
            .bind(occ)
            .fetch_optional(pool)
            .await?;
        Ok::<_, sqlx::Error>((pieces, state))
    })
}

/// Runs of `occ` that ended before piece `seq` of run `run` (the playlist's discontinuities).
pub(crate) async fn runs_before(db: &Db, occ: OccurrenceId, seq: i32, run: i32) -> Result<i64, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar(
        "SELECT COUNT(DISTINCT run) FROM live_segments WHERE occurrence_id = $1 AND seq < $2 AND run < $3",
    )
    .bind(occ)
    .bind(seq)
    .bind(run)
    .fetch_one(pool)
    .await)
}
