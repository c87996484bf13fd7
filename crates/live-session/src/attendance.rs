//! Attendance: one interval per viewer connection, `[joined_at, left_at)`. Joins, leaves and
//! the "still here" mark of open intervals are queued in memory and written in batches every
//! `live.attendance_flush_seconds` (≤ 10 s): a crash loses at most that much, an open interval
//! ends at its last `seen_until`, and thousands of viewers cost a few statements per flush.
//! Reports take the union of a user's intervals (reconnects merge), so minutes are never
//! counted twice, and compare it with the time the occurrence was actually live.
//!
//! Study credit for live time is earned at each flush, from the user's one budget
//! (`platform::study`, shared with recorded lessons): only while the lecture is live (not
//! paused), each wall-clock instant once across all the lectures the user has open, and never
//! faster than the budget allows. It is logged in `live_credits`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use platform::ids::UserId;
use platform::study::{self, Budget};
use platform::{Db, Timestamp, with_db};

use crate::OccurrenceId;
use crate::sfu::SessionId;

/// A user's live lectures of one flush, each with the windows it was live while connected.
type Lectures = Vec<(OccurrenceId, Vec<platform::intervals::Span>)>;

/// `head VALUES ($1, …), (…)` for `rows` rows of `cols` placeholders each.
fn insert_sql(head: &str, rows: usize, cols: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let cells: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    format!("{head} VALUES {}", values.join(", "))
}

/// Rows per multi-row statement.
const BATCH: usize = 200;

#[derive(Debug, Clone, Copy)]
struct Join {
    id: uuid::Uuid,
    occ: OccurrenceId,
    user: UserId,
    at: Timestamp,
}

#[derive(Debug, Default)]
struct Pending {
    joins: Vec<Join>,
    leaves: Vec<(uuid::Uuid, Timestamp)>,
    /// Open intervals by session.
    open: HashMap<SessionId, Join>,
    /// Connections that ended since the last flush, with their end: still to be credited.
    ended: Vec<(Join, Timestamp)>,
}

/// What one flush wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    pub joins: usize,
    pub leaves: usize,
    pub open: usize,
    pub statements: usize,
}

#[derive(Debug, Clone)]
pub struct Attendance {
    db: Db,
    pending: Arc<Mutex<Pending>>,
}

impl Attendance {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            pending: Arc::default(),
        }
    }

    /// A viewer's media connected.
    pub fn join(&self, occ: OccurrenceId, user: UserId, session: SessionId, at: Timestamp) {
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let join = Join {
            id: uuid::Uuid::now_v7(),
            occ,
            user,
            at,
        };
        p.open.insert(session, join);
        p.joins.push(join);
    }

    /// A viewer left (at `at`).
    pub fn leave(&self, session: SessionId, at: Timestamp) {
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(join) = p.open.remove(&session) {
            p.leaves.push((join.id, at));
            p.ended.push((join, at));
        }
    }

    /// Writes what is queued and marks every open interval as seen until `now`. On a database
    /// error nothing queued is lost: it is written by the next flush.
    pub async fn flush(&self, now: Timestamp) -> Result<Flushed, sqlx::Error> {
        let (joins, leaves, open, ended) = {
            let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            (
                std::mem::take(&mut p.joins),
                std::mem::take(&mut p.leaves),
                p.open.values().copied().collect::<Vec<_>>(),
                std::mem::take(&mut p.ended),
            )
        };
        let open_ids: Vec<uuid::Uuid> = open.iter().map(|j| j.id).collect();
        let written = self.write(&joins, &leaves, &open_ids, now).await;
        let mut p_err = None;
        let result = match written {
            Ok(mut f) => {
                // Connections of this flush: the open ones up to now, the ended ones to their end.
                let mut conns: Vec<(Join, Timestamp)> = open.iter().map(|j| (*j, now)).collect();
                conns.extend(ended.iter().copied());
                match self.credit(&conns, now).await {
                    Ok(statements) => {
                        f.statements += statements;
                        Ok(f)
                    }
                    // Attendance is written; the ended connections wait for the next credit.
                    Err(e) => {
                        p_err = Some(ended);
                        Err(e)
                    }
                }
            }
            Err(e) => {
                let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                let mut j = joins;
                j.append(&mut p.joins);
                p.joins = j;
                let mut l = leaves;
                l.append(&mut p.leaves);
                p.leaves = l;
                p_err = Some(ended);
                Err(e)
            }
        };
        if let Some(mut e) = p_err {
            let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            e.append(&mut p.ended);
            p.ended = e;
        }
        result
    }

    /// Credits live study time for `conns` (connection, end) from each user's budget: the part
    /// of each connection during which its lecture is live now. Returns the statements run.
    async fn credit(&self, conns: &[(Join, Timestamp)], now: Timestamp) -> Result<usize, sqlx::Error> {
        let mut occs: Vec<OccurrenceId> = conns.iter().map(|(j, _)| j.occ).collect();
        occs.sort_unstable();
        occs.dedup();
        if occs.is_empty() {
            return Ok(0);
        }
        let mut statements = 0;
        // When each lecture's current live period began; paused, ended or scheduled ones earn nothing.
        let mut live_since: HashMap<OccurrenceId, Timestamp> = HashMap::new();
        for chunk in occs.chunks(BATCH * 2) {
            let sql = format!(
                "SELECT id, live_since FROM live_occurrences WHERE state = 'live' AND live_since IS NOT \
                 NULL AND id IN ({})",
                (1..=chunk.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let rows: Vec<(OccurrenceId, Timestamp)> = with_db!(&self.db, |pool| {
                let mut q = sqlx::query_as(&sql);
                for o in chunk {
                    q = q.bind(*o);
                }
                q.fetch_all(pool).await
            })?;
            statements += 1;
            live_since.extend(rows);
        }
        // Per user, per lecture (the one joined first first, so time shared by two lectures goes
        // to the earlier one): the live windows.
        let mut conns = conns.to_vec();
        conns.sort_unstable_by_key(|(j, _)| (j.at, j.occ));
        let mut per_user: HashMap<UserId, Lectures> = HashMap::new();
        for (j, end) in &conns {
            let Some(since) = live_since.get(&j.occ) else {
                continue;
            };
            let span = (j.at.0.max(since.0), end.0.min(now.0));
            if span.0 >= span.1 {
                continue;
            }
            let lectures = per_user.entry(j.user).or_default();
            match lectures.iter_mut().find(|(o, _)| *o == j.occ) {
                Some((_, spans)) => spans.push(span),
                None => lectures.push((j.occ, vec![span])),
            }
        }
        if per_user.is_empty() {
            return Ok(statements);
        }
        let mut users: Vec<(UserId, Lectures)> = per_user.into_iter().collect();
        users.sort_unstable_by_key(|(u, _)| *u);
        with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            for chunk in users.chunks(BATCH) {
                let sql = study::lock_many_sql(chunk.len());
                let mut q = sqlx::query_as::<_, (UserId, i64, Timestamp, Timestamp)>(&sql);
                for (user, _) in chunk {
                    q = q.bind(*user);
                }
                let rows: HashMap<UserId, Budget> = q
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .map(|(u, a, l, v)| (u, Budget::from((a, l, v))))
                    .collect();
                let mut budgets = Vec::with_capacity(chunk.len());
                let mut credits: Vec<(UserId, OccurrenceId, i64)> = Vec::new();
                for (user, lectures) in chunk {
                    let since = lectures
                        .iter()
                        .flat_map(|(_, s)| s.iter().map(|s| s.0))
                        .min()
                        .unwrap_or(now.0);
                    let mut budget = rows
                        .get(user)
                        .copied()
                        .unwrap_or_default()
                        .accrue(Timestamp(since), now);
                    let windows: Vec<Vec<platform::intervals::Span>> =
                        lectures.iter().map(|(_, s)| s.clone()).collect();
                    let granted = budget.spend_live(&windows, now);
                    budgets.push((*user, budget));
                    credits.extend(
                        lectures
                            .iter()
                            .zip(granted)
                            .filter(|(_, g)| *g > 0)
                            .map(|((o, _), g)| (*user, *o, g)),
                    );
                }
                let sql = study::store_many_sql(budgets.len());
                let mut q = sqlx::query(&sql);
                for (user, b) in &budgets {
                    q = q.bind(*user).bind(b.allowance_ms).bind(b.last_at).bind(b.live_until);
                }
                q.execute(&mut *tx).await?;
                statements += 2;
                if !credits.is_empty() {
                    let sql = insert_sql(
                        "INSERT INTO live_credits (id, user_id, occurrence_id, credited_ms, earned_at)",
                        credits.len(),
                        5,
                    );
                    let mut q = sqlx::query(&sql);
                    for (user, occ, ms) in &credits {
                        q = q.bind(uuid::Uuid::now_v7()).bind(*user).bind(*occ).bind(*ms).bind(now);
                    }
                    q.execute(&mut *tx).await?;
                    statements += 1;
                }
            }
            tx.commit().await?;
            Ok::<(), sqlx::Error>(())
        })?;
        Ok(statements)
    }

    async fn write(
        &self,
        joins: &[Join],
        leaves: &[(uuid::Uuid, Timestamp)],
        open: &[uuid::Uuid],
        now: Timestamp,
    ) -> Result<Flushed, sqlx::Error> {
        let mut out = Flushed {
            joins: joins.len(),
            leaves: leaves.len(),
            open: open.len(),
            statements: 0,
        };
        if joins.is_empty() && leaves.is_empty() && open.is_empty() {
            return Ok(out);
        }
        with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            for chunk in joins.chunks(BATCH) {
                let sql = insert_sql(
                    "INSERT INTO live_attendance (id, occurrence_id, user_id, joined_at, seen_until)",
                    chunk.len(),
                    5,
                );
                let mut q = sqlx::query(&sql);
                for j in chunk {
                    q = q.bind(j.id).bind(j.occ).bind(j.user).bind(j.at).bind(now.max(j.at));
                }
                q.execute(&mut *tx).await?;
                out.statements += 1;
            }
            for chunk in leaves.chunks(BATCH) {
                // UPDATE … FROM (VALUES …) differs between the two; a CASE works on both.
                let mut sql = String::from("UPDATE live_attendance SET left_at = CASE id");
                for i in 0..chunk.len() {
                    sql.push_str(&format!(" WHEN ${} THEN ${}", i * 2 + 1, i * 2 + 2));
                }
                sql.push_str(" END, seen_until = CASE id");
                for i in 0..chunk.len() {
                    sql.push_str(&format!(" WHEN ${} THEN ${}", i * 2 + 1, i * 2 + 2));
                }
                sql.push_str(" END WHERE id IN (");
                sql.push_str(
                    &(0..chunk.len())
                        .map(|i| format!("${}", i * 2 + 1))
                        .collect::<Vec<_>>()
                        .join(", "),
                );
                sql.push(')');
                let mut q = sqlx::query(&sql);
                for (id, at) in chunk {
                    q = q.bind(*id).bind(*at);
                }
                q.execute(&mut *tx).await?;
                out.statements += 1;
            }
            for chunk in open.chunks(BATCH * 2) {
                let sql = format!(
                    "UPDATE live_attendance SET seen_until = $1 WHERE left_at IS NULL AND id IN ({})",
                    (0..chunk.len())
                        .map(|i| format!("${}", i + 2))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let mut q = sqlx::query(&sql).bind(now);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.execute(&mut *tx).await?;
                out.statements += 1;
            }
            tx.commit().await?;
            Ok::<(), sqlx::Error>(())
        })?;
        Ok(out)
    }

    /// Every user's attended milliseconds in an occurrence (union of their intervals; an open
    /// interval counts up to its last flush, or `now` if still connected here).
    pub async fn attended_ms(&self, occ: OccurrenceId) -> Result<HashMap<UserId, i64>, sqlx::Error> {
        let rows: Vec<(UserId, Timestamp, Timestamp, Option<Timestamp>)> = with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT user_id, joined_at, seen_until, left_at FROM live_attendance WHERE occurrence_id = $1",
        )
        .bind(occ)
        .fetch_all(pool)
        .await)?;
        let mut spans: HashMap<UserId, Vec<platform::intervals::Span>> = HashMap::new();
        for (user, joined, seen, left) in rows {
            spans.entry(user).or_default().push((joined.0, left.unwrap_or(seen).0));
        }
        Ok(spans
            .into_iter()
            .map(|(u, s)| (u, platform::intervals::total(&platform::intervals::normalise(s))))
            .collect())
    }

    /// The live lectures a user earned study time in, with the time credited (from the credit
    /// log), in start order.
    pub async fn user_credits(&self, user: UserId) -> Result<Vec<AttendedOccurrence>, sqlx::Error> {
        let rows: Vec<(OccurrenceId, String, Timestamp, i64)> = with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT c.occurrence_id, s.title, o.starts_at, CAST(SUM(c.credited_ms) AS BIGINT) FROM live_credits c
             JOIN live_occurrences o ON o.id = c.occurrence_id JOIN live_series s ON s.id = o.series_id
             WHERE c.user_id = $1 GROUP BY c.occurrence_id, s.title, o.starts_at ORDER BY o.starts_at",
        )
        .bind(user)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(occurrence_id, title, starts_at, attended_ms)| AttendedOccurrence {
                occurrence_id,
                title,
                starts_at,
                attended_ms,
            })
            .collect())
    }

    /// Live study time a user earned in `[from, to)` (terms), from the credit log.
    pub async fn credited_between(&self, user: UserId, from: Timestamp, to: Timestamp) -> Result<i64, sqlx::Error> {
        with_db!(&self.db, |pool| {
            sqlx::query_scalar::<_, i64>(
                "SELECT CAST(COALESCE(SUM(credited_ms), 0) AS BIGINT) FROM live_credits WHERE user_id = \
                 $1 AND earned_at >= $2 AND earned_at < $3",
            )
            .bind(user)
            .bind(from)
            .bind(to)
            .fetch_one(pool)
            .await
        })
    }

    /// Live study time earned in `[from, to)` per user (an organization's report).
    pub async fn totals_for(
        &self,
        users: &[UserId],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<HashMap<UserId, i64>, sqlx::Error> {
        let mut out: HashMap<UserId, i64> = HashMap::new();
        for chunk in users.chunks(500) {
            let sql = format!(
                "SELECT user_id, CAST(SUM(credited_ms) AS BIGINT) FROM live_credits
                 WHERE earned_at >= $1 AND earned_at < $2 AND user_id IN ({}) GROUP BY user_id",
                (0..chunk.len())
                    .map(|i| format!("${}", i + 3))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let rows: Vec<(UserId, i64)> = with_db!(&self.db, |pool| {
                let mut q = sqlx::query_as(&sql).bind(from).bind(to);
                for u in chunk {
                    q = q.bind(*u);
                }
                q.fetch_all(pool).await
            })?;
            out.extend(rows);
        }
        out.retain(|_, ms| *ms > 0);
        Ok(out)
    }
}

/// A live lecture a user earned study time in.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AttendedOccurrence {
    pub occurrence_id: OccurrenceId,
    pub title: String,
    pub starts_at: Timestamp,
    /// Study time credited for it: connected while it was live, within the user's budget.
    pub attended_ms: i64,
}
