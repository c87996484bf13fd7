//! Attendance reports of an occurrence for those who manage it: every enrolee (and anyone else
//! who watched) with minutes attended and attended/not attended against the series' threshold
//! of the time it was actually live, grouped by organization (school, class), as JSON for the
//! charts and as CSV for Excel.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use platform::Timestamp;
use platform::auth::AuthUser;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json, Path};
use platform::ids::{OrgId, UserId};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::Rooms;
use crate::model::EnrolmentState;
use crate::{LiveError, LiveResult};
use crate::{OccurrenceId, store};

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonAttendance {
    pub user_id: UserId,
    pub display_name: String,
    /// Masked, e.g. 138****5678.
    pub phone: String,
    pub org_id: Option<OrgId>,
    pub org_name: String,
    pub enrolment: Standing,
    pub minutes: f64,
    pub attended: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgAttendance {
    pub org_id: Option<OrgId>,
    pub org_name: String,
    pub enrolled: usize,
    pub attended: usize,
    pub minutes: f64,
}

/// Where a person stood for the lecture: their enrolment, or `none` (watched without
/// enrolling, e.g. staff).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    Enrolled,
    Waitlisted,
    Cancelled,
    None,
}

impl Standing {
    /// As the CSV export says it.
    fn label(self) -> &'static str {
        match self {
            Self::Enrolled => "已报名",
            Self::Waitlisted => "候补",
            Self::Cancelled => "已取消",
            Self::None => "未报名",
        }
    }
}

impl From<EnrolmentState> for Standing {
    fn from(s: EnrolmentState) -> Self {
        match s {
            EnrolmentState::Enrolled => Self::Enrolled,
            EnrolmentState::Waitlisted => Self::Waitlisted,
            EnrolmentState::Cancelled => Self::Cancelled,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceReport {
    pub occurrence_id: OccurrenceId,
    pub title: String,
    pub starts_at: Timestamp,
    pub state: crate::lifecycle::LiveState,
    /// Minutes the occurrence was actually live.
    pub live_minutes: f64,
    /// Share of the live time that counts as attended.
    pub threshold: f64,
    pub enrolled: usize,
    pub attended: usize,
    pub by_org: Vec<OrgAttendance>,
    pub people: Vec<PersonAttendance>,
}

impl Rooms {
    async fn report(&self, auth: &AuthUser, id: OccurrenceId) -> LiveResult<AttendanceReport> {
        let (occ, series) = self.audience.occurrence_with_series(id).await?;
        if !self.audience.manages(auth, &series).await? {
            return Err(LiveError::OccurrenceNotFound);
        }
        let live_ms = occ.lifecycle().live_ms_at(self.clock.now());
        let minutes = self.attendance.attended_ms(id).await?;
        let enrolments = store::enrolments::states(&self.db, id).await?;
        let mut people: BTreeMap<UserId, Standing> = enrolments
            .into_iter()
            .map(|(u, s)| (u, EnrolmentState::parse(&s).into()))
            .collect();
        for u in minutes.keys() {
            people.entry(*u).or_insert(Standing::None);
        }
        // Each person with their first organization (in tree order).
        let mut out = Vec::new();
        for (user, enrolment) in people {
            let row = store::people::name_and_phone(&self.db, user).await?;
            let Some((display_name, phone)) = row else {
                continue;
            };
            let org = store::people::first_org(&self.db, user).await?;
            let ms = minutes.get(&user).copied().unwrap_or(0).min(live_ms.max(0));
            out.push(PersonAttendance {
                user_id: user,
                display_name,
                phone: phone
                    .as_deref()
                    .and_then(|p| platform::validate::PhoneNumber::parse(p).ok())
                    .map(|p| p.masked())
                    .unwrap_or_default(),
                org_id: org.as_ref().map(|(id, _)| *id),
                org_name: org.map(|(_, n)| n).unwrap_or_default(),
                enrolment,
                minutes: (ms as f64 / 6_000.0).round() / 10.0,
                attended: live_ms > 0 && ms as f64 >= series.threshold * live_ms as f64,
            });
        }
        out.sort_by(|a, b| a.org_name.cmp(&b.org_name).then(a.display_name.cmp(&b.display_name)));
        let mut by_org: Vec<OrgAttendance> = Vec::new();
        for p in &out {
            let i = match by_org.iter().position(|o| o.org_id == p.org_id) {
                Some(i) => i,
                None => {
                    by_org.push(OrgAttendance {
                        org_id: p.org_id,
                        org_name: p.org_name.clone(),
                        enrolled: 0,
                        attended: 0,
                        minutes: 0.0,
                    });
                    by_org.len() - 1
                }
            };
            let o = &mut by_org[i];
            o.enrolled += usize::from(p.enrolment == Standing::Enrolled);
            o.attended += usize::from(p.attended);
            o.minutes += p.minutes;
        }
        Ok(AttendanceReport {
            occurrence_id: id,
            title: series.title,
            starts_at: occ.starts_at,
            state: occ.state,
            live_minutes: (live_ms as f64 / 6_000.0).round() / 10.0,
            threshold: series.threshold,
            enrolled: out.iter().filter(|p| p.enrolment == Standing::Enrolled).count(),
            attended: out.iter().filter(|p| p.attended).count(),
            by_org,
            people: out,
        })
    }
}

pub(crate) fn router() -> ApiRouter<Rooms> {
    ApiRouter::new()
        .routes(routes!(attendance))
        .routes(routes!(attendance_csv))
}

/// Attendance of an occurrence (its expert, curators in scope, admins).
#[utoipa::path(get, path = "/api/v1/live/occurrences/{id}/attendance", tag = "live", params(("id" = OccurrenceId, Path)),
    responses((status = 200, body = AttendanceReport), (status = 404)), security(("bearer" = [])))]
async fn attendance(
    State(rooms): State<Rooms>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
) -> ApiResult<Json<AttendanceReport>> {
    Ok(Json(rooms.report(&auth, id).await?))
}

/// The same as CSV for Excel (UTF-8 with BOM, masked phone numbers).
#[utoipa::path(get, path = "/api/v1/live/occurrences/{id}/attendance.csv", tag = "live", params(("id" = OccurrenceId, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404)), security(("bearer" = [])))]
async fn attendance_csv(
    State(rooms): State<Rooms>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
) -> ApiResult<Response> {
    let r = rooms.report(&auth, id).await?;
    let rows: Vec<Vec<String>> = r
        .people
        .iter()
        .map(|p| {
            vec![
                p.display_name.clone(),
                p.phone.clone(),
                p.org_name.clone(),
                p.enrolment.label().to_owned(),
                format!("{:.1}", p.minutes),
                if p.attended { "是" } else { "否" }.to_owned(),
            ]
        })
        .collect();
    Ok(platform::http::csv_download(
        &format!("直播出勤-{}.csv", r.starts_at.to_rfc3339().get(..10).unwrap_or("")),
        &["姓名", "手机号", "所在组织", "报名状态", "观看时长（分钟）", "是否出勤"],
        &rows,
    ))
}
