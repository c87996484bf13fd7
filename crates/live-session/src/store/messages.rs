//! The queries of chat and questions: the per-user gap claimed in one conditional upsert, the
//! minute's count, inserting, reading one or a room's list as [`MessageView`]s, one vote per
//! user, and moderation. `kind` is `chat` or `question`, as stored.

use platform::error::ResultExt;
use platform::ids::UserId;
use platform::{Db, Timestamp, db_execute, with_db};

use crate::model::{MessageId, MessageView};
use crate::{LiveError, LiveResult, OccurrenceId};

/// The columns of a `MessageView`; `$voter` is the caller (for `voted`).
fn message_select(voter: &str) -> String {
    format!(
        "SELECT m.id, m.user_id, u.display_name AS author, m.text, m.votes, m.answered, m.answered_at, m.hidden,
                m.created_at, EXISTS (SELECT 1 FROM live_question_votes v WHERE v.question_id = m.id \
         AND v.user_id = {voter}) AS voted
         FROM live_messages m JOIN users u ON u.id = m.user_id"
    )
}

/// Claims the rate bucket when its window started at or before `gap_start` (one statement: of
/// messages sent at once only one passes); whether it was claimed.
pub(crate) async fn claim_gap(
    db: &Db,
    bucket: &str,
    now: Timestamp,
    gap_start: Timestamp,
) -> Result<bool, sqlx::Error> {
    Ok(db_execute!(
        db,
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1)
         ON CONFLICT (bucket) DO UPDATE SET window_start = excluded.window_start, hits = rate_limits.hits + 1
         WHERE rate_limits.window_start <= $3",
        bucket,
        now,
        gap_start,
    )? == 1)
}

/// Messages of `kind` `user` sent after `since`.
pub(crate) async fn sent_since(db: &Db, user: UserId, since: Timestamp, kind: &str) -> Result<i64, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM live_messages WHERE user_id = $1 AND created_at > $2 AND kind = $3",
    )
    .bind(user)
    .bind(since)
    .bind(kind)
    .fetch_one(pool)
    .await)
}

/// When the bucket's current window started.
pub(crate) async fn window_start(db: &Db, bucket: &str) -> Result<Option<Timestamp>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar(
        "SELECT window_start FROM rate_limits WHERE bucket = $1",
    )
    .bind(bucket)
    .fetch_optional(pool)
    .await)
}

pub(crate) async fn insert(
    db: &Db,
    mid: MessageId,
    occ: OccurrenceId,
    user: UserId,
    kind: &str,
    text: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO live_messages (id, occurrence_id, user_id, kind, text, created_at) VALUES \
         ($1, $2, $3, $4, $5, $6)",
        mid,
        occ,
        user,
        kind,
        text,
        now
    )?;
    Ok(())
}

/// One message of `occ` as `voter` sees it.
pub(crate) async fn message(
    db: &Db,
    occ: OccurrenceId,
    kind: &str,
    mid: MessageId,
    voter: UserId,
) -> Result<Option<MessageView>, sqlx::Error> {
    let sql = format!(
        "{} WHERE m.id = $1 AND m.occurrence_id = $2 AND m.kind = $3",
        message_select("$4")
    );
    with_db!(db, |pool| sqlx::query_as::<_, MessageView>(&sql)
        .bind(mid)
        .bind(occ)
        .bind(kind)
        .bind(voter)
        .fetch_optional(pool)
        .await)
}

/// Up to 500 messages of `occ` in `order` (hidden ones only for `manager`).
pub(crate) async fn list(
    db: &Db,
    occ: OccurrenceId,
    kind: &str,
    voter: UserId,
    manager: bool,
    order: &str,
) -> Result<Vec<MessageView>, sqlx::Error> {
    let sql = format!(
        "{} WHERE m.occurrence_id = $1 AND m.kind = $2 AND ($4 OR NOT m.hidden) ORDER BY {order} LIMIT 500",
        message_select("$3")
    );
    with_db!(db, |pool| sqlx::query_as::<_, MessageView>(&sql)
        .bind(occ)
        .bind(kind)
        .bind(voter)
        .bind(manager)
        .fetch_all(pool)
        .await)
}

/// `user`'s vote for a question and its count, in one transaction; 409 for a second vote.
pub(crate) async fn vote(db: &Db, question: MessageId, user: UserId, now: Timestamp) -> LiveResult<()> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let inserted =
            sqlx::query("INSERT INTO live_question_votes (question_id, user_id, created_at) VALUES ($1, $2, $3)")
                .bind(question)
                .bind(user)
                .bind(now)
                .execute(&mut *tx)
                .await
                .on_constraint("live_question_votes", || LiveError::AlreadyVoted);
        if let Err(e) = inserted {
            tx.rollback().await?;
            return Err(e);
        }
        sqlx::query("UPDATE live_messages SET votes = votes + 1 WHERE id = $1")
            .bind(question)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<(), LiveError>(())
    })
}

/// Stores a moderation: answered (and when), hidden (and by whom).
pub(crate) async fn moderate(
    db: &Db,
    mid: MessageId,
    answered: bool,
    answered_at: Option<Timestamp>,
    hidden: bool,
    by: UserId,
) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "UPDATE live_messages SET answered = $2, answered_at = $3, hidden = $4, hidden_by = CASE \
         WHEN $4 THEN $5 ELSE NULL END WHERE id = $1",
        mid,
        answered,
        answered_at,
        hidden,
        by
    )?;
    Ok(())
}
