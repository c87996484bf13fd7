//! Enrolment (报名): a parent in the audience enrols in one occurrence or the whole series;
//! beyond capacity they wait in line and are promoted in order when someone cancels; staff
//! enrol a class or a member list at once. Each occurrence's row is locked (an UPDATE) at the
//! start of every change, so concurrent enrolments never overfill it on PostgreSQL either.

use axum::extract::State;
use platform::Timestamp;
use platform::auth::AuthUser;
use platform::error::msg;
use platform::ids::{OrgId, UserId};
use platform::validate::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::{Enrolment, EnrolmentState, OccurrenceRow};
use crate::schedule::Schedule;
use crate::store;
use crate::{LiveError, LiveResult};
use crate::{OccurrenceId, SeriesId};

mod erase;
mod routes;

pub use routes::*;

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

impl Schedule {
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
        store::enrolments::enrol(&self.db, occ.id, capacity, users, by, now).await
    }

    /// Cancels `user`'s enrolment and promotes the first in line into a freed seat.
    pub(crate) async fn cancel(&self, occ: OccurrenceId, user: UserId) -> LiveResult<bool> {
        let now = self.clock.now();
        store::enrolments::cancel(&self.db, occ, user, now).await
    }

    /// Promotes waitlisted users of every open occurrence of a series into free seats and enrols
    /// whole-series enrolees in occurrences they are not in yet (after an edit).
    pub(crate) async fn fill_series(&self, series: SeriesId) -> LiveResult<()> {
        let s = self.audience.series_row(series).await?;
        let now = self.clock.now();
        let occs = self.open_occurrences(series, now).await?;
        let users = store::enrolments::series_enrolees(&self.db, series).await?;
        for o in &occs {
            store::enrolments::promote_waiting(&self.db, o.id, now).await?;
            let missing: Vec<UserId> = {
                let have = store::enrolments::users_of(&self.db, o.id).await?;
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

    /// The users holding or waiting for a seat of `occ`, in line order, with their state.
    pub(crate) async fn seats(&self, occ: OccurrenceId) -> LiveResult<Vec<(UserId, String)>> {
        Ok(store::enrolments::seats(&self.db, occ).await?)
    }

    /// Enrols `user` in the whole series (again is the same); its open lectures follow.
    pub(crate) async fn join_series(&self, series: SeriesId, user: UserId, now: Timestamp) -> LiveResult<()> {
        Ok(store::enrolments::enrol_series(&self.db, series, user, now).await?)
    }

    /// Ends `user`'s whole-series enrolment (their seats are cancelled one by one).
    pub(crate) async fn leave_series(&self, series: SeriesId, user: UserId) -> LiveResult<()> {
        Ok(store::enrolments::leave_series(&self.db, series, user).await?)
    }

    /// Users of `org`'s subtree who are parents (a class enrolment).
    async fn class_parents(&self, org: OrgId) -> LiveResult<Vec<UserId>> {
        let path = platform::orgs::org_path(&self.db, org).await?;
        Ok(store::enrolments::parents_under(&self.db, &path, MAX_BATCH as i64 + 1).await?)
    }

    pub(crate) async fn enrol_request(
        &self,
        auth: &AuthUser,
        id: OccurrenceId,
        req: EnrolRequest,
    ) -> LiveResult<EnrolResult> {
        let (occ, series) = self.audience.occurrence_with_series(id).await?;
        let batch = req.user_ids.is_some() || req.class_id.is_some();
        if !batch {
            if !self.audience.in_audience(auth.id, series.scope_org_id).await? {
                return Err(LiveError::OccurrenceNotForYou);
            }
            if let Some(e) = self
                .audience
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
            let mine = self.audience.enrolment_of(id, auth.id).await?;
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
        if !self.audience.manages(auth, &series).await?
            && !self.audience.in_audience(auth.id, series.scope_org_id).await?
        {
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
            if in_reach && self.audience.in_audience(u, series.scope_org_id).await? {
                ok.push(u);
            } else {
                skipped.push(u);
            }
        }
        self.enrol(&occ, series.capacity, &ok, auth.id).await?;
        let mut results = Vec::new();
        for u in ok {
            results.extend(self.audience.enrolment_of(id, u).await?);
        }
        Ok(EnrolResult {
            state: results.first().map_or(EnrolmentState::Cancelled, |e| e.state),
            waitlist_position: results.first().and_then(|e| e.waitlist_position),
            results,
            skipped_out_of_scope: skipped,
        })
    }
}
