//! Who may see, manage and watch a lecture: the rows of a series and an occurrence (404 when
//! missing), management by role and scope, the audience by organization, and a user's seat.
//! Every live service asks these questions; they sit below the services and above the store.

use platform::Db;
use platform::auth::AuthUser;
use platform::ids::{OrgId, UserId};
use platform::scope::Scope;
use platform::validate::Role;

use crate::model::{Enrolment, EnrolmentState, OccurrenceRow};
use crate::store;
use crate::store::series::SeriesRow;
use crate::{LiveError, LiveResult, OccurrenceId, SeriesId};

/// The access questions over the database.
#[derive(Clone, Debug)]
pub(crate) struct Audience {
    db: Db,
}

impl Audience {
    /// Whether the actor of `scope` may aim a lecture or an activity at `org` (`None`:
    /// everyone): an audience they address ([`Scope::addresses`]: experts their organizations
    /// and below, staff what they manage, a partner unit's people also what it serves), and
    /// everyone only for province staff.
    pub(crate) async fn check_aim(&self, scope: &Scope, org: Option<OrgId>) -> LiveResult<()> {
        match org {
            None if !scope.publishes_to_everyone() => Err(LiveError::field(
                "scope_org_id",
                platform::error::msg(
                    "请选择面向的组织（面向所有人限省级工作人员）。",
                    "Choose the audience organization (everyone: province staff only).",
                ),
            )),
            None => Ok(()),
            Some(org) => {
                let path = platform::orgs::org_path(&self.db, org).await?;
                if scope.addresses(&path) {
                    Ok(())
                } else {
                    Err(LiveError::AudienceOutOfScope)
                }
            }
        }
    }

    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }

    pub(crate) async fn series_row(&self, id: SeriesId) -> LiveResult<SeriesRow> {
        store::series::series(&self.db, id)
            .await?
            .ok_or(LiveError::SeriesNotFound)
    }

    /// Whether `user` manages the series: its expert, those who [manage](Scope::manages) its
    /// audience organization, and for an unscoped series those who publish to everyone.
    pub(crate) async fn manages(&self, user: &AuthUser, s: &SeriesRow) -> LiveResult<bool> {
        if user.role == Role::Expert {
            return Ok(s.expert_id == user.id);
        }
        let scope = Scope::load(&self.db, Some(user)).await?;
        Ok(match s.scope_org_id {
            Some(org) => scope.manages(&platform::orgs::org_path(&self.db, org).await?),
            None => scope.publishes_to_everyone(),
        })
    }

    /// Whether `user` belongs to the series' audience (an organization scope they
    /// [see](Scope::sees); `None`: everyone).
    pub(crate) async fn in_audience(&self, user: UserId, scope: Option<OrgId>) -> LiveResult<bool> {
        let Some(org) = scope else {
            return Ok(true);
        };
        let path = platform::orgs::org_path(&self.db, org).await?;
        Ok(Scope::load_member(&self.db, user).await?.sees(Some(&path)))
    }

    pub(crate) async fn occurrence_row(&self, id: OccurrenceId) -> LiveResult<OccurrenceRow> {
        store::occurrences::occurrence(&self.db, id)
            .await?
            .ok_or(LiveError::OccurrenceNotFound)
    }

    pub(crate) async fn occurrence_with_series(&self, id: OccurrenceId) -> LiveResult<(OccurrenceRow, SeriesRow)> {
        let occ = self.occurrence_row(id).await?;
        let series = self.series_row(occ.series_id).await?;
        Ok((occ, series))
    }

    /// Whether `user` may watch: enrolled, or managing the series (experts, curators in scope).
    pub(crate) async fn may_watch(&self, user: &AuthUser, occ: OccurrenceId, series: &SeriesRow) -> LiveResult<bool> {
        if self.manages(user, series).await? {
            return Ok(true);
        }
        Ok(self
            .enrolment_of(occ, user.id)
            .await?
            .is_some_and(|e| e.state == EnrolmentState::Enrolled))
    }

    /// The waitlist position of `user` (1-based), or `None` when not waitlisted.
    pub(crate) async fn enrolment_of(&self, occ: OccurrenceId, user: UserId) -> LiveResult<Option<Enrolment>> {
        let row = store::enrolments::state_of(&self.db, occ, user).await?;
        let Some((state, seq)) = row else {
            return Ok(None);
        };
        let state = EnrolmentState::parse(&state);
        let position = if state == EnrolmentState::Waitlisted {
            let ahead = store::enrolments::waiting_before(&self.db, occ, seq).await?;
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
}
