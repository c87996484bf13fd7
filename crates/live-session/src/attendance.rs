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
use platform::study::Budget;
use platform::{Db, Timestamp};

use crate::OccurrenceId;
use crate::sfu::SessionId;
use crate::store;
use crate::store::attendance::{BATCH, Join, Lectures};

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
            let rows = store::attendance::live_since(&self.db, chunk).await?;
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
        statements +=
            store::attendance::spend(&self.db, &users, now, |chunk, budgets| grant(chunk, budgets, now)).await?;
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
        out.statements = store::attendance::write(&self.db, joins, leaves, open, now).await?;
        Ok(out)
    }

    /// Every user's attended milliseconds in an occurrence (union of their intervals; an open
    /// interval counts up to its last flush, or `now` if still connected here).
    pub async fn attended_ms(&self, occ: OccurrenceId) -> Result<HashMap<UserId, i64>, sqlx::Error> {
        let rows = store::attendance::intervals(&self.db, occ).await?;
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
        let rows = store::attendance::credits_of(&self.db, user).await?;
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
        store::attendance::credited_between(&self.db, user, from, to).await
    }

    /// Live credit per user in each of `periods`, from one scan, for the members of the
    /// subtree at `under` (`None`: everyone): `(user, period index, ms)`.
    pub async fn credited_in_periods(
        &self,
        periods: &[(Timestamp, Timestamp)],
        under: Option<&str>,
    ) -> Result<Vec<(UserId, usize, i64)>, sqlx::Error> {
        Ok(store::attendance::credited_in_periods(&self.db, periods, under)
            .await?
            .into_iter()
            .filter_map(|(u, p, ms)| Some((u, usize::try_from(p?).ok()?, ms)))
            .collect())
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
            let rows = store::attendance::totals_for(&self.db, chunk, from, to).await?;
            out.extend(rows);
        }
        out.retain(|_, ms| *ms > 0);
        Ok(out)
    }
}

/// The budgets and credits of one chunk of users at `now`: each user's budget accrues from the
/// start of their earliest window, then pays for the live windows of their lectures.
fn grant(chunk: &[(UserId, Lectures)], rows: &HashMap<UserId, Budget>, now: Timestamp) -> store::attendance::Grant {
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
        let windows: Vec<Vec<platform::intervals::Span>> = lectures.iter().map(|(_, s)| s.clone()).collect();
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
    (budgets, credits)
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
