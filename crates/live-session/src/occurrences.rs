//! Occurrences: the schedule a user sees (their audience's lectures and their enrolments), one
//! occurrence's detail, ending it, the live-state transitions stored through the sans-IO
//! [`Lifecycle`], and the per-parent iCalendar feed under a secret URL.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use platform::Timestamp;
use platform::auth::AuthUser;
use platform::error::{ApiResult, msg};
use platform::http::{ApiRouter, Json, Path, Query};
use platform::ids::{OrgId, UserId};
use platform::scope::Scope;
use platform::validate::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::lifecycle::{Event, Lifecycle, LiveState};
use crate::model::{Enrolment, EnrolmentState, OccurrenceRow};
use crate::schedule::Schedule;
use crate::series::SeriesRow;
use crate::store;
use crate::store::occurrences::TransitionError;
use crate::{Live, OccurrenceId, SeriesId};
use crate::{LiveError, LiveResult};

/// One occurrence as a user sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OccurrenceView {
    pub id: OccurrenceId,
    pub series_id: SeriesId,
    pub title: String,
    pub description: String,
    pub lecturer: String,
    pub expert_id: UserId,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// scheduled, live, paused, ended or cancelled.
    pub state: LiveState,
    pub capacity: i32,
    pub enrolled: i64,
    pub waitlisted: i64,
    /// Minutes the occurrence has been live so far.
    pub live_minutes: f64,
    pub scope_org_id: Option<OrgId>,
    /// The caller's enrolment, if any.
    pub my_enrolment: Option<Enrolment>,
    /// The caller may go live, end it and see its reports.
    pub may_manage: bool,
    /// The recording as a lesson, once the replay exists.
    pub replay: Option<ReplayRef>,
    /// The signed live HLS playlist while the lecture is live (for viewers beyond the WebRTC
    /// limit and networks where WebRTC cannot connect).
    pub hls_url: Option<String>,
    /// `online` (a livestream) or `offline` (a 线下活动: its page is `/activities/{id}`), so
    /// one schedule shows both.
    pub format: String,
}

/// Where the replay of an occurrence is.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReplayRef {
    pub course_id: uuid::Uuid,
    pub lesson_id: uuid::Uuid,
    pub asset_id: uuid::Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ScheduleQuery {
    /// Default: 1 day ago.
    pub from: Option<Timestamp>,
    /// Default: 60 days after `from`; at most 180 days after it.
    pub to: Option<Timestamp>,
    /// Only occurrences the caller is enrolled or waitlisted in.
    pub mine: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarLink {
    /// A secret iCalendar URL to subscribe to in a phone's calendar (webcal works too).
    pub url: String,
}

impl Schedule {
    /// The series' occurrences still open for enrolment: live or paused, or scheduled and not
    /// past their scheduled end (a lecture whose start has passed still takes walk-ins).
    pub(crate) async fn open_occurrences(&self, series: SeriesId, now: Timestamp) -> LiveResult<Vec<OccurrenceRow>> {
        Ok(store::occurrences::open(&self.db, series, now).await?)
    }

    pub(crate) async fn view(&self, user: &AuthUser, occ: OccurrenceRow, s: &SeriesRow) -> LiveResult<OccurrenceView> {
        let counts = store::occurrences::enrolment_counts(&self.db, occ.id).await?;
        let count = |st: &str| counts.iter().find(|(s, _)| s == st).map_or(0, |(_, n)| *n);
        let now = self.clock.now();
        let state = occ.state;
        let my_enrolment = self.audience.enrolment_of(occ.id, user.id).await?;
        let may_manage = self.audience.manages(user, s).await?;
        let replay = match (occ.replay_course_id, occ.replay_lesson_id, occ.replay_asset_id) {
            (Some(course_id), Some(lesson_id), Some(asset_id)) => Some(ReplayRef {
                course_id,
                lesson_id,
                asset_id,
            }),
            _ => None,
        };
        Ok(OccurrenceView {
            id: occ.id,
            series_id: s.id,
            title: s.title.clone(),
            description: s.description.clone(),
            lecturer: s.lecturer.clone(),
            expert_id: s.expert_id,
            starts_at: occ.starts_at,
            ends_at: occ.ends_at,
            state,
            capacity: s.capacity,
            enrolled: count("enrolled"),
            waitlisted: count("waitlisted"),
            live_minutes: (occ.lifecycle().live_ms_at(now) as f64 / 60_000.0 * 10.0).round() / 10.0,
            scope_org_id: s.scope_org_id,
            my_enrolment,
            may_manage,
            replay,
            // The rooms fill it in (`Live::view`).
            hls_url: None,
            format: s.format.clone(),
        })
    }

    /// Applies a live-state event to an occurrence and stores the result; the row is locked for
    /// the read-modify-write. Returns the new lifecycle and whether it changed.
    pub(crate) async fn transition(&self, id: OccurrenceId, event: Event) -> LiveResult<(Lifecycle, bool)> {
        let now = self.clock.now();
        let result = store::occurrences::transition(&self.db, id, now, |l| l.apply(event, now))
            .await
            .map_err(|e| match e {
                TransitionError::NotFound => LiveError::OccurrenceNotFound,
                TransitionError::Refused(r) => LiveError::Refused(r),
                TransitionError::Db(e) => e.into(),
            })?;
        if result.1 {
            self.events
                .publish(id, crate::events::LiveEvent::State { state: result.0.state });
        }
        Ok(result)
    }

    /// Occurrences paused for longer than `grace_ms` (a lost publisher that did not come back).
    pub(crate) async fn abandoned(&self, grace_ms: i64) -> LiveResult<Vec<OccurrenceId>> {
        let now = self.clock.now();
        Ok(store::occurrences::paused_since(&self.db, Timestamp(now.0 - grace_ms)).await?)
    }

    /// Up to `limit` occurrences starting in `[from, to)` that `auth` may enrol in, watch or
    /// manage, by start; who sees a series is decided in SQL, before the limit.
    pub(crate) async fn visible_between(
        &self,
        auth: &AuthUser,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> LiveResult<Vec<OccurrenceRow>> {
        let scope = Scope::load(&self.db, Some(auth)).await?;
        let expert = (auth.role == Role::Expert).then_some(auth.id);
        Ok(store::occurrences::schedule(&self.db, &scope, expert, from, to, limit).await?)
    }

    /// The lectures of `user`'s calendar feed that end after `since`.
    pub(crate) async fn calendar_rows(
        &self,
        user: UserId,
        since: Timestamp,
    ) -> LiveResult<Vec<store::occurrences::CalendarRow>> {
        Ok(store::occurrences::calendar(&self.db, user, since).await?)
    }

    /// Occurrences marked live (after a restart: their publishers did not survive).
    pub(crate) async fn live_now(&self) -> LiveResult<Vec<OccurrenceId>> {
        Ok(store::occurrences::live(&self.db).await?)
    }

    fn calendar_sig(&self, user: UserId) -> String {
        self.signer.sign_short(&format!("calendar/{user}"), CALENDAR_SIG_BYTES)
    }
}

/// Calendar links are typed into calendar apps: a shorter signature than URLs get.
const CALENDAR_SIG_BYTES: usize = 18;

pub(crate) fn router() -> ApiRouter<Live> {
    ApiRouter::new()
        .routes(routes!(schedule))
        .routes(routes!(get_occurrence))
        .routes(routes!(end_occurrence))
        .routes(routes!(calendar_link))
        .routes(routes!(calendar_feed))
}

/// Occurrences in one schedule answer; a narrower `from`/`to` shows the rest.
const SCHEDULE_LIMIT: u32 = 500;

/// The schedule: occurrences in a period that the caller may enrol in, watch or manage.
#[utoipa::path(get, path = "/api/v1/live/occurrences", tag = "live", params(ScheduleQuery),
    responses((status = 200, body = Vec<OccurrenceView>), (status = 422)), security(("bearer" = [])))]
async fn schedule(
    State(live): State<Live>,
    auth: AuthUser,
    Query(q): Query<ScheduleQuery>,
) -> ApiResult<Json<Vec<OccurrenceView>>> {
    let now = live.clock.now();
    let from = q.from.unwrap_or(Timestamp(now.0 - 86_400_000));
    let to = q.to.unwrap_or(Timestamp(from.0 + 60 * 86_400_000));
    if to <= from || to.0 - from.0 > 180 * 86_400_000 {
        return Err(LiveError::field(
            "to",
            msg(
                "结束时间须晚于开始时间，且跨度不超过 180 天。",
                "to must be after from, at most 180 days later.",
            ),
        )
        .into());
    }
    // Who sees a series is decided in SQL, before the limit, by the caller's scope: the
    // audience (everyone for an unscoped series, else those who see its organization) and those
    // who manage it (its expert; staff managing its organization). A busy platform's other
    // lectures never push the caller's out of the page.
    let rows = live.schedule.visible_between(&auth, from, to, SCHEDULE_LIMIT).await?;
    let mut series: std::collections::HashMap<SeriesId, SeriesRow> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for occ in rows {
        if !series.contains_key(&occ.series_id) {
            let s = live.audience.series_row(occ.series_id).await?;
            series.insert(s.id, s);
        }
        let Some(s) = series.get(&occ.series_id) else {
            continue;
        };
        let v = live.view(&auth, occ, s).await?;
        if q.mine == Some(true)
            && v.my_enrolment
                .as_ref()
                .is_none_or(|e| e.state == EnrolmentState::Cancelled)
        {
            continue;
        }
        out.push(v);
    }
    Ok(Json(out))
}

/// One occurrence (its audience and those who manage it).
#[utoipa::path(get, path = "/api/v1/live/occurrences/{id}", tag = "live", params(("id" = OccurrenceId, Path)),
    responses((status = 200, body = OccurrenceView), (status = 404)), security(("bearer" = [])))]
async fn get_occurrence(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
) -> ApiResult<Json<OccurrenceView>> {
    let (occ, s) = live.audience.occurrence_with_series(id).await?;
    if !live.audience.manages(&auth, &s).await? && !live.audience.in_audience(auth.id, s.scope_org_id).await? {
        return Err(LiveError::OccurrenceNotFound.into());
    }
    Ok(Json(live.view(&auth, occ, &s).await?))
}

/// End the occurrence (its expert, curators in scope, admins); viewers are told at once.
#[utoipa::path(post, path = "/api/v1/live/occurrences/{id}/end", tag = "live", params(("id" = OccurrenceId, Path)),
    responses((status = 200, body = OccurrenceView), (status = 404), (status = 409)), security(("bearer" = [])))]
async fn end_occurrence(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
) -> ApiResult<Json<OccurrenceView>> {
    let (_, s) = live.audience.occurrence_with_series(id).await?;
    if !live.audience.manages(&auth, &s).await? {
        return Err(
            if auth.role == Role::Parent || !live.audience.in_audience(auth.id, s.scope_org_id).await? {
                LiveError::OccurrenceNotFound.into()
            } else {
                LiveError::NotSeriesManager { to_end: true }.into()
            },
        );
    }
    live.transition(id, Event::End).await?;
    live.rooms.sfu.close_room(id).await;
    let occ = live.audience.occurrence_row(id).await?;
    Ok(Json(live.view(&auth, occ, &s).await?))
}

/// The caller's secret calendar URL (their enrolled lectures, with reminders).
#[utoipa::path(get, path = "/api/v1/live/calendar", tag = "live",
    responses((status = 200, body = CalendarLink)), security(("bearer" = [])))]
async fn calendar_link(State(live): State<Live>, auth: AuthUser) -> ApiResult<Json<CalendarLink>> {
    Ok(Json(CalendarLink {
        url: format!(
            "/api/v1/live/calendar/{}/{}.ics",
            auth.id,
            live.schedule.calendar_sig(auth.id)
        ),
    }))
}

/// A parent's iCalendar feed (no login: the URL is the secret).
#[utoipa::path(get, path = "/api/v1/live/calendar/{user}/{file}", tag = "live",
    params(("user" = UserId, Path), ("file" = String, Path, description = "`{signature}.ics`")),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 404)))]
async fn calendar_feed(
    State(live): State<Live>,
    Path((user, file)): Path<(UserId, String)>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let base = live.base_url(&headers);
    let sig = file.strip_suffix(".ics").unwrap_or_default();
    if !live
        .schedule
        .signer
        .verify_short(&format!("calendar/{user}"), CALENDAR_SIG_BYTES, sig)
    {
        return Err(LiveError::CalendarNotFound.into());
    }
    let since = Timestamp(live.clock.now().0 - 30 * 86_400_000);
    let rows = live.schedule.calendar_rows(user, since).await?;
    let events: Vec<crate::ics::Event> = rows
        .into_iter()
        .map(
            |(id, starts, ends, state, title, lecturer, description, place)| match place {
                // An offline activity: where, who holds it, and its page.
                Some(place) => crate::ics::Event {
                    uid: format!("{id}@parentschool"),
                    starts_at: starts.to_offset_date_time(),
                    ends_at: ends.to_offset_date_time(),
                    summary: format!("活动：{title}"),
                    description: format!("主办：{lecturer}\n{description}"),
                    url: format!("{base}/activities/{id}"),
                    cancelled: state == "cancelled",
                    location: Some(place),
                },
                None => crate::ics::Event {
                    uid: format!("{id}@parentschool"),
                    starts_at: starts.to_offset_date_time(),
                    ends_at: ends.to_offset_date_time(),
                    summary: format!("直播：{title}"),
                    description: format!("主讲：{lecturer}\n{description}"),
                    url: format!("{base}/live/{id}"),
                    cancelled: state == "cancelled",
                    location: None,
                },
            },
        )
        .collect();
    let body = crate::ics::calendar("家长学堂直播", &events, live.clock.now().to_offset_date_time());
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    *res.status_mut() = StatusCode::OK;
    Ok(res)
}
