//! Attendance: one interval per viewer connection, `[joined_at, left_at)`. Joins, leaves and
//! the "still here" mark of open intervals are queued in memory and written in batches every
//! `live.attendance_flush_seconds` (≤ 10 s): a crash loses at most that much, an open interval
//! ends at its last `seen_until`, and thousands of viewers cost a few statements per flush.
//! Reports take the union of a user's intervals (reconnects merge), so minutes are never
//! counted twice, and compare it with the time the occurrence was actually live.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use platform::ids::UserId;
use platform::{Db, Timestamp, with_db};

use crate::OccurrenceId;
use crate::sfu::SessionId;

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
    open: HashMap<SessionId, uuid::Uuid>,
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
        let id = uuid::Uuid::now_v7();
        p.open.insert(session, id);
        p.joins.push(Join { id, occ, user, at });
    }

    /// A viewer left (at `at`).
    pub fn leave(&self, session: SessionId, at: Timestamp) {
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = p.open.remove(&session) {
            p.leaves.push((id, at));
        }
    }

    /// Writes what is queued and marks every open interval as seen until `now`. On a database
    /// error nothing queued is lost: it is written by the next flush.
    pub async fn flush(&self, now: Timestamp) -> Result<Flushed, sqlx::Error> {
        let (joins, leaves, open) = {
            let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            (
                std::mem::take(&mut p.joins),
                std::mem::take(&mut p.leaves),
                p.open.values().copied().collect::<Vec<_>>(),
            )
        };
        let result = self.write(&joins, &leaves, &open, now).await;
        if result.is_err() {
            let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let mut j = joins;
            j.append(&mut p.joins);
            p.joins = j;
            let mut l = leaves;
            l.append(&mut p.leaves);
            p.leaves = l;
        }
        result
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
        with_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            for chunk in joins.chunks(BATCH) {
                let values: Vec<String> = (0..chunk.len())
                    .map(|i| format!("(${}, ${}, ${}, ${}, ${})", i * 5 + 1, i * 5 + 2, i * 5 + 3, i * 5 + 4, i * 5 + 5))
                    .collect();
                let sql = format!(
                    "INSERT INTO live_attendance (id, occurrence_id, user_id, joined_at, seen_until) VALUES {}",
                    values.join(", ")
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
                sql.push_str(&(0..chunk.len()).map(|i| format!("${}", i * 2 + 1)).collect::<Vec<_>>().join(", "));
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
                    (0..chunk.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ")
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
        let rows: Vec<(UserId, Timestamp, Timestamp, Option<Timestamp>)> = with_db!(&self.db, pool => sqlx::query_as(
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

    /// A user's attended milliseconds per occurrence that started in `[from, to)`, with the
    /// series title and the start, in start order.
    pub async fn user_minutes(
        &self,
        user: UserId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<AttendedOccurrence>, sqlx::Error> {
        let rows: Vec<(OccurrenceId, String, Timestamp, Timestamp, Timestamp, Option<Timestamp>)> = with_db!(&self.db, pool => sqlx::query_as(
            "SELECT a.occurrence_id, s.title, o.starts_at, a.joined_at, a.seen_until, a.left_at FROM live_attendance a
             JOIN live_occurrences o ON o.id = a.occurrence_id JOIN live_series s ON s.id = o.series_id
             WHERE a.user_id = $1 AND o.starts_at >= $2 AND o.starts_at < $3 ORDER BY o.starts_at",
        )
        .bind(user)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await)?;
        let mut out: Vec<(AttendedOccurrence, Vec<platform::intervals::Span>)> = Vec::new();
        for (occ, title, starts_at, joined, seen, left) in rows {
            let span = (joined.0, left.unwrap_or(seen).0);
            match out.iter_mut().find(|(a, _)| a.occurrence_id == occ) {
                Some((_, spans)) => spans.push(span),
                None => out.push((
                    AttendedOccurrence {
                        occurrence_id: occ,
                        title,
                        starts_at,
                        attended_ms: 0,
                    },
                    vec![span],
                )),
            }
        }
        Ok(out
            .into_iter()
            .map(|(mut a, spans)| {
                a.attended_ms = platform::intervals::total(&platform::intervals::normalise(spans));
                a
            })
            .collect())
    }

    /// Attended milliseconds per user over occurrences that started in `[from, to)`.
    pub async fn totals_for(
        &self,
        users: &[UserId],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<HashMap<UserId, i64>, sqlx::Error> {
        let mut out: HashMap<UserId, i64> = HashMap::new();
        for chunk in users.chunks(500) {
            let sql = format!(
                "SELECT a.user_id, a.occurrence_id, a.joined_at, a.seen_until, a.left_at FROM live_attendance a
                 JOIN live_occurrences o ON o.id = a.occurrence_id
                 WHERE o.starts_at >= $1 AND o.starts_at < $2 AND a.user_id IN ({})",
                (0..chunk.len())
                    .map(|i| format!("${}", i + 3))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let rows: Vec<(UserId, OccurrenceId, Timestamp, Timestamp, Option<Timestamp>)> = with_db!(&self.db, pool => {
                let mut q = sqlx::query_as(&sql).bind(from).bind(to);
                for u in chunk {
                    q = q.bind(*u);
                }
                q.fetch_all(pool).await
            })?;
            // Unions per user and occurrence (reconnects merge), then summed per user.
            let mut per: HashMap<(UserId, OccurrenceId), Vec<platform::intervals::Span>> = HashMap::new();
            for (user, occ, joined, seen, left) in rows {
                per.entry((user, occ))
                    .or_default()
                    .push((joined.0, left.unwrap_or(seen).0));
            }
            for ((user, _), s) in per {
                *out.entry(user).or_default() += platform::intervals::total(&platform::intervals::normalise(s));
            }
        }
        out.retain(|_, ms| *ms > 0);
        Ok(out)
    }
}

/// A live lecture a user attended.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AttendedOccurrence {
    pub occurrence_id: OccurrenceId,
    pub title: String,
    pub starts_at: Timestamp,
    pub attended_ms: i64,
}
