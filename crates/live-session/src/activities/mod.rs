//! 线下活动: offline activities (专题讲座, 亲子活动, 社会实践, 家长会…) held by a school, a
//! district or a 教联体 partner unit, with a place, a time, seats and the 学时 they credit.
//! Each is a series of format `offline` with one occurrence whose id is the activity's, so
//! enrolment with its waitlist, reminders and the calendar are the live lectures' own. On the
//! day the host's screen shows a rotating code (`crate::checkin`); a parent scanning it is
//! checked in (and out, where the activity asks for it), or the host checks them in by hand.
//! Credit goes to those checked in (and out). Routes in `routes`, queries in
//! `store::activities`.

mod credits;
mod routes;

use std::sync::Arc;

use platform::auth::AuthUser;
use platform::error::{FieldError, msg};
use platform::ids::{OrgId, UserId};
use platform::scope::Scope;
use platform::signing::Signer;
use platform::validate::Role;
use platform::{Clock, Db, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audience::Audience;
use crate::checkin::{self, Purpose, Verdict};
use crate::model::EnrolmentState;
use crate::series::plan::text;
use crate::store;
use crate::store::activities::{ActivityFields, ActivityRow};
use crate::store::series::SeriesFields;
use crate::{ActivityError, LiveError, LiveResult, OccurrenceId};

pub use credits::{AttendedActivity, OfflineCredits};
pub(crate) use routes::router;

/// Check-in opens this long before the start and stays open this long after the end.
const WINDOW_MS: i64 = 30 * 60_000;

/// The kinds of offline activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// 专题讲座
    Lecture,
    /// 亲子活动
    ParentChild,
    /// 社会实践
    SocialPractice,
    /// 家长会
    ParentsMeeting,
    /// 其他
    Other,
}

impl ActivityKind {
    const ALL: [Self; 5] = [
        Self::Lecture,
        Self::ParentChild,
        Self::SocialPractice,
        Self::ParentsMeeting,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lecture => "lecture",
            Self::ParentChild => "parent_child",
            Self::SocialPractice => "social_practice",
            Self::ParentsMeeting => "parents_meeting",
            Self::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Lecture => "专题讲座",
            Self::ParentChild => "亲子活动",
            Self::SocialPractice => "社会实践",
            Self::ParentsMeeting => "家长会",
            Self::Other => "其他活动",
        }
    }

    fn parse(s: &str) -> Self {
        Self::ALL.into_iter().find(|k| k.as_str() == s).unwrap_or(Self::Other)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActivity {
    pub title: String,
    pub kind: ActivityKind,
    pub description: Option<String>,
    /// Where: the hall, the address.
    pub place: String,
    /// Map coordinates (WGS-84), both or neither.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// Seats; beyond them parents wait in line.
    pub capacity: i32,
    /// Who may come: members of this organization and below (`null`: everyone, province staff only).
    pub scope_org_id: Option<OrgId>,
    /// The school, district or partner unit holding it.
    pub host_org_id: OrgId,
    /// 学时 credited to those who attend, in minutes.
    pub credit_minutes: i32,
    /// Whether attending also needs 签退 (default: no).
    pub requires_check_out: Option<bool>,
    /// Whether only enrolled parents may check in (default: yes).
    pub requires_enrolment: Option<bool>,
}

/// An activity as the caller sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityView {
    pub id: OccurrenceId,
    pub title: String,
    pub kind: ActivityKind,
    pub kind_label: &'static str,
    pub description: String,
    pub place: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub capacity: i32,
    pub enrolled: i64,
    pub waitlisted: i64,
    pub scope_org_id: Option<OrgId>,
    pub host_org_id: OrgId,
    pub credit_minutes: i32,
    pub requires_check_out: bool,
    pub requires_enrolment: bool,
    /// Whether the caller is the host's staff (opens the check-in screen).
    pub is_host: bool,
    /// The caller's own seat and check-ins.
    pub my_enrolment: Option<EnrolmentState>,
    pub my_check_in: Option<Timestamp>,
    pub my_check_out: Option<Timestamp>,
}

/// What the host's screen shows as a QR code.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInCode {
    pub code: String,
    /// The page a phone camera opens: it signs the parent in if needed and checks them in.
    pub url: String,
    /// When the screen shows the next code (this one is still taken for two minutes).
    pub expires_at: Timestamp,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInRequest {
    pub code: String,
    pub purpose: Purpose,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualCheckIn {
    /// `in` (default) or `out`.
    pub purpose: Option<Purpose>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInResult {
    pub purpose: Purpose,
    pub at: Timestamp,
    /// Whether the activity's 学时 are now credited (checked in, and out where it asks).
    pub credited: bool,
    pub credit_minutes: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInEntry {
    pub user_id: UserId,
    pub display_name: String,
    pub purpose: Purpose,
    pub at: Timestamp,
    /// `code` or `manual`.
    pub method: String,
    /// Who checked them in by hand.
    pub by_user: Option<UserId>,
}

/// An enrolled (or waitlisted) member, for checking in by hand: a name, no phone number.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolledMember {
    pub user_id: UserId,
    pub display_name: String,
    pub state: EnrolmentState,
    pub checked_in_at: Option<Timestamp>,
    pub checked_out_at: Option<Timestamp>,
}

/// The host's live count and list.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInList {
    pub enrolled: i64,
    pub checked_in: usize,
    pub checked_out: usize,
    /// Every check-in and check-out, in time order.
    pub items: Vec<CheckInEntry>,
    /// The enrolment list, in line order, with each member's check-ins.
    pub members: Vec<EnrolledMember>,
}

/// The activities service: what it needs of the live schedule is the database, the clock, the
/// audience rule and a signer of its own for check-in codes.
#[derive(Clone, Debug)]
pub(crate) struct Activities {
    pub(crate) db: Db,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audience: Audience,
    pub(crate) signer: Signer,
}

impl Activities {
    pub(crate) async fn row(&self, id: OccurrenceId) -> LiveResult<ActivityRow> {
        store::activities::activity(&self.db, id)
            .await?
            .ok_or(ActivityError::NotFound.into())
    }

    /// The host's staff: admins, the staff member who created it, curators managing the host
    /// organization, and its own experts and curators.
    pub(crate) async fn is_host(&self, user: &AuthUser, a: &ActivityRow) -> LiveResult<bool> {
        if user.role == Role::Admin || user.id == a.host_user_id {
            return Ok(true);
        }
        let path = platform::orgs::org_path(&self.db, a.host_org_id).await?;
        let scope = Scope::load(&self.db, Some(user)).await?;
        Ok(scope.manages(&path) || (user.role != Role::Parent && scope.member_paths().contains(&path)))
    }

    /// The activity for `user`: host staff and its audience see it; to others it does not exist.
    pub(crate) async fn visible(&self, user: &AuthUser, id: OccurrenceId) -> LiveResult<(ActivityRow, bool)> {
        let a = self.row(id).await?;
        let host = self.is_host(user, &a).await?;
        if !host && !self.audience.in_audience(user.id, a.scope_org_id).await? {
            return Err(ActivityError::NotFound.into());
        }
        Ok((a, host))
    }

    pub(crate) async fn create(&self, user: &AuthUser, req: NewActivity) -> LiveResult<ActivityView> {
        user.require_role(&[Role::Expert, Role::Curator, Role::Admin])?;
        let scope = Scope::load(&self.db, Some(user)).await?;
        let host_path = platform::orgs::org_path(&self.db, req.host_org_id).await.map_err(|_| {
            LiveError::field(
                "host_org_id",
                msg("主办单位不存在。", "The host organization does not exist."),
            )
        })?;
        if !scope.is_admin() && !scope.reaches(&host_path) {
            return Err(LiveError::AudienceOutOfScope);
        }
        self.audience.check_aim(&scope, req.scope_org_id).await?;
        let now = self.clock.now();
        let mut errors: Vec<FieldError> = Vec::new();
        let title = text("title", &req.title, 100, true).map_err(|e| errors.push(e)).ok();
        let description = text("description", req.description.as_deref().unwrap_or(""), 2000, false)
            .map_err(|e| errors.push(e))
            .ok();
        let place = text("place", &req.place, 200, true).map_err(|e| errors.push(e)).ok();
        let field = |f: &str, zh: &str, en: &str| FieldError::new(f, msg(zh.to_owned(), en.to_owned()));
        if req.ends_at.0 <= req.starts_at.0 {
            errors.push(field(
                "ends_at",
                "结束时间要晚于开始时间。",
                "The end must come after the start.",
            ));
        } else if req.ends_at.0 - req.starts_at.0 > 7 * 86_400_000 {
            errors.push(field(
                "ends_at",
                "一场活动最长 7 天。",
                "An activity lasts at most 7 days.",
            ));
        }
        if req.ends_at.0 <= now.0 {
            errors.push(field(
                "ends_at",
                "活动的结束时间已经过去。",
                "The activity would be over already.",
            ));
        }
        if !(1..=100_000).contains(&req.capacity) {
            errors.push(field("capacity", "名额应为 1–100000。", "Capacity is 1–100000."));
        }
        if !(0..=1440).contains(&req.credit_minutes) {
            errors.push(field(
                "credit_minutes",
                "学时应为 0–1440 分钟。",
                "Credit is 0–1440 minutes.",
            ));
        }
        match (req.latitude, req.longitude) {
            (None, None) => {}
            (Some(la), Some(lo)) if (-90.0..=90.0).contains(&la) && (-180.0..=180.0).contains(&lo) => {}
            _ => errors.push(field(
                "latitude",
                "地图坐标需要同时填写纬度（−90 到 90）和经度（−180 到 180）。",
                "Give both latitude (−90 to 90) and longitude (−180 to 180).",
            )),
        }
        let (Some(title), Some(description), Some(place), true) = (title, description, place, errors.is_empty()) else {
            return Err(LiveError::Invalid(errors));
        };
        let host_name = platform::orgs::org_name(&self.db, req.host_org_id).await?;
        let id = OccurrenceId::new();
        let minutes = ((req.ends_at.0 - req.starts_at.0) / 60_000).max(1) as i32;
        store::activities::insert(
            &self.db,
            id,
            user.id,
            user.id,
            &SeriesFields {
                title: &title,
                description: &description,
                lecturer: &host_name,
                rrule: "FREQ=WEEKLY;COUNT=1",
                exceptions_json: "[]".into(),
                first_start: req.starts_at,
                duration_min: minutes,
                capacity: req.capacity,
                threshold: 0.0,
                stages_json: "[]",
            },
            req.ends_at,
            req.scope_org_id,
            &ActivityFields {
                kind: req.kind.as_str(),
                place: &place,
                latitude: req.latitude,
                longitude: req.longitude,
                host_org_id: req.host_org_id,
                credit_minutes: req.credit_minutes,
                requires_check_out: req.requires_check_out.unwrap_or(false),
                requires_enrolment: req.requires_enrolment.unwrap_or(true),
            },
            now,
        )
        .await?;
        let (a, host) = self.visible(user, id).await?;
        self.view(user, a, host).await
    }

    pub(crate) async fn view(&self, user: &AuthUser, a: ActivityRow, is_host: bool) -> LiveResult<ActivityView> {
        let counts = store::occurrences::enrolment_counts(&self.db, a.id).await?;
        let count = |s: &str| counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
        let mine = self.audience.enrolment_of(a.id, user.id).await?.map(|e| e.state);
        let checks = store::activities::check_ins(&self.db, a.id).await?;
        let my = |p: Purpose| {
            checks
                .iter()
                .find(|c| c.user_id == user.id && c.purpose == p)
                .map(|c| c.at)
        };
        Ok(ActivityView {
            id: a.id,
            kind: ActivityKind::parse(&a.kind),
            kind_label: ActivityKind::parse(&a.kind).label(),
            title: a.title,
            description: a.description,
            place: a.place,
            latitude: a.latitude,
            longitude: a.longitude,
            starts_at: a.starts_at,
            ends_at: a.ends_at,
            capacity: a.capacity,
            enrolled: count("enrolled"),
            waitlisted: count("waitlisted"),
            scope_org_id: a.scope_org_id,
            host_org_id: a.host_org_id,
            credit_minutes: a.credit_minutes,
            requires_check_out: a.requires_check_out,
            requires_enrolment: a.requires_enrolment,
            is_host,
            my_enrolment: mine,
            my_check_in: my(Purpose::In),
            my_check_out: my(Purpose::Out),
        })
    }

    /// The code the host's screen shows now.
    pub(crate) async fn code(
        &self,
        user: &AuthUser,
        id: OccurrenceId,
        purpose: Purpose,
        base: &str,
    ) -> LiveResult<CheckInCode> {
        let (a, host) = self.visible(user, id).await?;
        if !host {
            return Err(ActivityError::NotHost.into());
        }
        if purpose == Purpose::Out && !a.requires_check_out {
            return Err(ActivityError::NoCheckOut.into());
        }
        let (code, until) = checkin::code_at(&self.signer, id, purpose, self.clock.now().unix_seconds());
        let url = format!(
            "{base}/activities/{id}/check-in?purpose={}&code={code}",
            purpose.as_str()
        );
        Ok(CheckInCode {
            code,
            url,
            expires_at: Timestamp::from_unix_seconds(until),
        })
    }

    /// A parent checks in (or out) with the code they scanned.
    pub(crate) async fn check_in(
        &self,
        user: &AuthUser,
        id: OccurrenceId,
        req: CheckInRequest,
    ) -> LiveResult<CheckInResult> {
        let (a, _) = self.visible(user, id).await?;
        let now = self.clock.now();
        match checkin::verdict(&self.signer, id, req.purpose, now.unix_seconds(), &req.code) {
            Verdict::Valid => {}
            Verdict::Expired => return Err(ActivityError::CodeExpired.into()),
            Verdict::Foreign => return Err(ActivityError::CodeForeign.into()),
        }
        self.record(&a, user.id, req.purpose, None, now).await
    }

    /// The host checks `member` in (or out) by hand; again is the same.
    pub(crate) async fn check_in_by_hand(
        &self,
        user: &AuthUser,
        id: OccurrenceId,
        member: UserId,
        purpose: Purpose,
    ) -> LiveResult<CheckInResult> {
        let (a, host) = self.visible(user, id).await?;
        if !host {
            return Err(ActivityError::NotHost.into());
        }
        if !self.audience.in_audience(member, a.scope_org_id).await? {
            return Err(ActivityError::NotInAudience.into());
        }
        match self.record(&a, member, purpose, Some(user.id), self.clock.now()).await {
            Err(LiveError::Activity(ActivityError::AlreadyCheckedIn { .. })) => self.result(&a, member, purpose).await,
            other => other,
        }
    }

    /// The rules every check-in passes, then the row.
    async fn record(
        &self,
        a: &ActivityRow,
        member: UserId,
        purpose: Purpose,
        by: Option<UserId>,
        now: Timestamp,
    ) -> LiveResult<CheckInResult> {
        if now.0 < a.starts_at.0 - WINDOW_MS || now.0 > a.ends_at.0 + WINDOW_MS {
            return Err(ActivityError::Closed.into());
        }
        if purpose == Purpose::Out && !a.requires_check_out {
            return Err(ActivityError::NoCheckOut.into());
        }
        if a.requires_enrolment
            && !self
                .audience
                .enrolment_of(a.id, member)
                .await?
                .is_some_and(|e| e.state == EnrolmentState::Enrolled)
        {
            return Err(ActivityError::NeedsEnrolment.into());
        }
        let checks = store::activities::check_ins(&self.db, a.id).await?;
        let has = |p: Purpose| checks.iter().any(|c| c.user_id == member && c.purpose == p);
        if purpose == Purpose::Out && !has(Purpose::In) {
            return Err(ActivityError::NotCheckedIn.into());
        }
        if !store::activities::check_in(&self.db, a.id, member, purpose, now, by).await? {
            return Err(ActivityError::AlreadyCheckedIn {
                out: purpose == Purpose::Out,
            }
            .into());
        }
        self.result(a, member, purpose).await
    }

    async fn result(&self, a: &ActivityRow, member: UserId, purpose: Purpose) -> LiveResult<CheckInResult> {
        let checks = store::activities::check_ins(&self.db, a.id).await?;
        let at = |p: Purpose| {
            checks
                .iter()
                .find(|c| c.user_id == member && c.purpose == p)
                .map(|c| c.at)
        };
        let credited = at(Purpose::In).is_some() && (!a.requires_check_out || at(Purpose::Out).is_some());
        Ok(CheckInResult {
            purpose,
            at: at(purpose).unwrap_or(self.clock.now()),
            credited,
            credit_minutes: a.credit_minutes,
        })
    }

    /// Who has checked in and out, for the host's screen.
    pub(crate) async fn list(&self, user: &AuthUser, id: OccurrenceId) -> LiveResult<CheckInList> {
        let (a, host) = self.visible(user, id).await?;
        if !host {
            return Err(ActivityError::NotHost.into());
        }
        let counts = store::occurrences::enrolment_counts(&self.db, a.id).await?;
        let items: Vec<CheckInEntry> = store::activities::check_ins(&self.db, a.id)
            .await?
            .into_iter()
            .map(|c| CheckInEntry {
                user_id: c.user_id,
                display_name: c.display_name,
                purpose: c.purpose,
                at: c.at,
                method: c.method,
                by_user: c.by_user,
            })
            .collect();
        let at = |u: UserId, p: Purpose| items.iter().find(|c| c.user_id == u && c.purpose == p).map(|c| c.at);
        let members = store::activities::enrolled_names(&self.db, a.id)
            .await?
            .into_iter()
            .map(|(user_id, display_name, state)| EnrolledMember {
                checked_in_at: at(user_id, Purpose::In),
                checked_out_at: at(user_id, Purpose::Out),
                user_id,
                display_name,
                state: EnrolmentState::parse(&state),
            })
            .collect();
        Ok(CheckInList {
            enrolled: counts.iter().find(|(k, _)| k == "enrolled").map_or(0, |(_, n)| *n),
            checked_in: items.iter().filter(|c| c.purpose == Purpose::In).count(),
            checked_out: items.iter().filter(|c| c.purpose == Purpose::Out).count(),
            items,
            members,
        })
    }
}
