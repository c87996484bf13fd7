//! Enrolment (报名): a parent in the audience enrols in one occurrence or the whole series;
//! beyond capacity they wait in line and are promoted in order when someone cancels; staff
//! enrol a class or a member list at once. Each occurrence's row is locked (an UPDATE) at the
//! start of every change, so concurrent enrolments never overfill it on PostgreSQL either.

use axum::extract::State;
use platform::auth::AuthUser;
use platform::error::msg;
use platform::ids::{OrgId, UserId};
use platform::validate::Role;
use platform::{Timestamp, with_db};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::{Enrolment, EnrolmentState, OccurrenceRow};
use crate::{Live, OccurrenceId, SeriesId};
use crate::{LiveError, LiveResult};

mod erase;
mod routes;

pub use routes::*;

/// Moves the first waitlisted users into free seats (inside the caller's transaction `tx`),
/// holding the occurrence's row lock first, as every change of its seats does, and reading the
/// capacity under it: concurrent promotions (a series edit, cancellations) count the seats one
/// after the other against the capacity that is committed, never one read before an edit.
async fn promote<DB>(tx: &mut sqlx::Transaction<'_, DB>, occ: OccurrenceId, now: Timestamp) -> sqlx::Result<()>
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

/// Most users one staff request may enrol.
const MAX_BATCH: usize = 2000;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// Staff: enrol these users.
    pub user_ids: Option<Vec<UserId>>,
    /// Staff: enrol every parent of this class (or any organization) and below.
    pub class_id: Option<OrgId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolResult {
    /// The caller's own enrolment (self-enrolment), or the first of a batch.
    pub state: EnrolmentState,
    pub waitlist_position: Option<i64>,
    /// Batch enrolments: one entry per user, plus users skipped as outside the audience.
    pub results: Vec<Enrolment>,
    pub skipped_out_of_scope: Vec<UserId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesEnrolResult {
    /// Per future occurrence of the series.
    pub occurrences: Vec<OccurrenceEnrolment>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OccurrenceEnrolment {
    pub occurrence_id: OccurrenceId,
    pub starts_at: Timestamp,
    pub state: EnrolmentState,
    pub waitlist_position: Option<i64>,
}

impl Live {
    /// The waitlist position of `user` (1-based), or `None` when not waitlisted.
    pub(crate) async fn enrolment_of(&self, occ: OccurrenceId, user: UserId) -> LiveResult<Option<Enrolment>> {
        let row: Option<(String, i64)> = with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT state, seq FROM live_enrolments WHERE occurrence_id = $1 AND user_id = $2",
        )
        .bind(occ)
        .bind(user)
        .fetch_optional(pool)
        .await)?;
        let Some((state, seq)) = row else {
            return Ok(None);
        };
        let state = EnrolmentState::parse(&state);
        let position = if state == EnrolmentState::Waitlisted {
            let ahead: i64 = with_db!(&self.db, |pool| {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM live_enrolments WHERE occurrence_id = $1 AND state = 'waitlisted' \
                     AND seq < $2",
                )
                .bind(occ)
                .bind(seq)
                .fetch_one(pool)
                .await
            })?;
            Some(ahead + 1)
        } else {
            None
        };
        Ok(Some(Enrolment {
            user_id: user,
            state,
            waitlist_position: position,
        }))
    }

    /// Enrols `users` in one occurrence in one transaction: already enrolled or waitlisted
    /// users keep their place; the rest are enrolled while seats remain, then waitlisted.
    pub(crate) async fn enrol(
        &self,
        occ: &OccurrenceRow,
        capacity: i32,
        users: &[UserId],
        by: UserId,
    ) -> LiveResult<()> {
        let now = self.clock.now();
        with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            // Lock the occurrence: enrolments of it run one after the other. Enrolment stays
            // open until the lecture ends: before its start with a waitlist, after it (walk-in)
            // while seats are free.
            let open: Option<Timestamp> = sqlx::query_scalar(
                "UPDATE live_occurrences SET updated_at = $2 WHERE id = $1
                   AND (state IN ('live', 'paused') OR (state = 'scheduled' AND ends_at > $2))
                 RETURNING starts_at",
            )
            .bind(occ.id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(starts_at) = open else {
                tx.rollback().await?;
                return Err(LiveError::EnrolmentClosed);
            };
            let walk_in = starts_at <= now;
            let mut turned_away = 0usize;
            let mut enrolled: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM live_enrolments WHERE occurrence_id = $1 AND state = 'enrolled'",
            )
            .bind(occ.id)
            .fetch_one(&mut *tx)
            .await?;
            let mut seq: i64 =
                sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM live_enrolments WHERE occurrence_id = $1")
                    .bind(occ.id)
                    .fetch_one(&mut *tx)
                    .await?;
            for user in users {
                let current: Option<String> =
                    sqlx::query_scalar("SELECT state FROM live_enrolments WHERE occurrence_id = $1 AND user_id = $2")
                        .bind(occ.id)
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
                .bind(occ.id)
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

    /// Cancels `user`'s enrolment and promotes the first in line into a freed seat.
    pub(crate) async fn cancel(&self, occ: OccurrenceId, user: UserId) -> LiveResult<bool> {
        let now = self.clock.now();
        with_db!(&self.db, |pool| {
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

    /// Promotes waitlisted users of every open occurrence of a series into free seats and enrols
    /// whole-series enrolees in occurrences they are not in yet (after an edit).
    pub(crate) async fn fill_series(&self, series: SeriesId) -> LiveResult<()> {
        let s = self.series_row(series).await?;
        let now = self.clock.now();
        let occs = self.open_occurrences(series, now).await?;
        let users: Vec<UserId> = with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT user_id FROM live_series_enrolments WHERE series_id = $1 ORDER BY created_at, user_id",
        )
        .bind(series)
        .fetch_all(pool)
        .await)?;
        for o in &occs {
            with_db!(&self.db, |pool| {
                let mut tx = pool.begin().await?;
                promote(&mut tx, o.id, now).await?;
                tx.commit().await?;
                Ok::<(), sqlx::Error>(())
            })?;
            let missing: Vec<UserId> = {
                let have: Vec<UserId> = with_db!(&self.db, |pool| sqlx::query_scalar(
                    "SELECT user_id FROM live_enrolments WHERE occurrence_id = $1",
                )
                .bind(o.id)
                .fetch_all(pool)
                .await)?;
                users.iter().copied().filter(|u| !have.contains(u)).collect()
            };
            if !missing.is_empty() {
                match self.enrol(o, s.capacity, &missing, s.expert_id).await {
                    Ok(()) => {}
                    // It started meanwhile: nothing to fill.
                    Err(LiveError::EnrolmentClosed | LiveError::LectureFull) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Users of `org`'s subtree who are parents (a class enrolment).
    async fn class_parents(&self, org: OrgId) -> LiveResult<Vec<UserId>> {
        let path = platform::orgs::org_path(&self.db, org).await?;
        Ok(with_db!(&self.db, |pool| {
            sqlx::query_scalar::<_, UserId>(
                "SELECT DISTINCT u.id FROM users u JOIN memberships m ON m.user_id = u.id JOIN \
                 organizations o ON o.id = m.org_id
             WHERE o.path LIKE $1 AND u.role = 'parent' AND u.deleted_at IS NULL ORDER BY u.id LIMIT $2",
            )
            .bind(format!("{path}%"))
            .bind(MAX_BATCH as i64 + 1)
            .fetch_all(pool)
            .await
        })?)
    }

    async fn enrol_request(&self, auth: &AuthUser, id: OccurrenceId, req: EnrolRequest) -> LiveResult<EnrolResult> {
        let (occ, series) = self.occurrence_with_series(id).await?;
        let batch = req.user_ids.is_some() || req.class_id.is_some();
        if !batch {
            if !self.in_audience(auth.id, series.scope_org_id).await? {
                return Err(LiveError::OccurrenceNotForYou);
            }
            if let Some(e) = self
                .enrolment_of(id, auth.id)
                .await?
                .filter(|e| e.state != EnrolmentState::Cancelled)
            {
                return Err(LiveError::AlreadyEnrolled {
                    state: e.state,
                    waitlist_position: e.waitlist_position,
                });
            }
            self.enrol(&occ, series.capacity, &[auth.id], auth.id).await?;
            let mine = self.enrolment_of(id, auth.id).await?;
            return Ok(EnrolResult {
                state: mine.as_ref().map_or(EnrolmentState::Cancelled, |e| e.state),
                waitlist_position: mine.as_ref().and_then(|e| e.waitlist_position),
                results: mine.into_iter().collect(),
                skipped_out_of_scope: Vec::new(),
            });
        }
        // Staff: curators (and admins) covering the users, for a lecture they can see (manage
        // or belong to the audience of); to others it does not exist, as for `GET`.
        auth.require_role(&[Role::Curator, Role::Admin])?;
        if !self.manages(auth, &series).await? && !self.in_audience(auth.id, series.scope_org_id).await? {
            return Err(LiveError::OccurrenceNotFound);
        }
        let mut users = Vec::new();
        if let Some(class) = req.class_id {
            platform::orgs::require_scope(&self.db, auth, class).await?;
            users.extend(self.class_parents(class).await?);
        }
        for u in req.user_ids.unwrap_or_default() {
            if !users.contains(&u) {
                users.push(u);
            }
        }
        if users.len() > MAX_BATCH {
            return Err(LiveError::field(
                "user_ids",
                msg(
                    format!("一次最多为 {MAX_BATCH} 人报名。"),
                    format!("At most {MAX_BATCH} users per request."),
                ),
            ));
        }
        let (mut ok, mut skipped) = (Vec::new(), Vec::new());
        for u in users {
            let in_reach = platform::orgs::user_in_scope_of(&self.db, auth, u).await?;
            if in_reach && self.in_audience(u, series.scope_org_id).await? {
                ok.push(u);
            } else {
                skipped.push(u);
            }
        }
        self.enrol(&occ, series.capacity, &ok, auth.id).await?;
        let mut results = Vec::new();
        for u in ok {
            results.extend(self.enrolment_of(id, u).await?);
        }
        Ok(EnrolResult {
            state: results.first().map_or(EnrolmentState::Cancelled, |e| e.state),
            waitlist_position: results.first().and_then(|e| e.waitlist_position),
            results,
            skipped_out_of_scope: skipped,
        })
    }
}
