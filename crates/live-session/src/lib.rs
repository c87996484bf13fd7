//! Live sessions: weekly expert series and their occurrences, enrolment with waitlists, the
//! WHIP/WHEP SFU built on the `webrtc` crate, live events for open pages, and attendance.
//!
//! Recurrence, the live state and SDP checks are pure (`recurrence`, `lifecycle`, `sdp`,
//! `ics`); the SFU (`sfu`) forwards media and reports what happens as events, which
//! [`Live::run`] turns into state changes, attendance and page events. It may depend on `media`
//! (the next issue records into it) but never on `catalog` or `server`, reads no configuration
//! and binds media sockets only on the addresses the server gives it.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use platform::auth::AuthUser;
use platform::http::ApiRouter;
use platform::{Clock, Db};
use tokio::sync::mpsc;

mod activities;
pub mod attendance;
mod audience;
pub mod checkin;
pub mod contact;
mod enrolment;
mod error;
pub mod events;
pub mod hls;
pub mod ice;
pub mod ics;
pub mod lifecycle;
pub mod messages;
mod model;
mod node;
pub mod notify;
mod occurrences;
pub mod recording;
pub mod recurrence;
mod rooms;
mod schedule;
pub mod sdp;
mod series;
mod settings;
pub mod sfu;
mod signalling;
pub mod slots;
mod store;
pub mod udp_mux;

use audience::Audience;
use messages::Messages;
use notify::Notices;
use recording::Recording;
use rooms::Rooms;
use schedule::Schedule;

pub use activities::{ActivityKind, ActivityView, AttendedActivity, NewActivity, OfflineCredits};
pub use attendance::{Attendance, AttendedOccurrence};
pub use enrolment::{EnrolRequest, EnrolResult};
pub use error::{ActivityError, LiveError, LiveResult};
pub use events::{Events, LiveEvent};
pub use notify::{LogNotifier, Notice, Notifier, WebhookNotifier};
pub use recording::{RecordingSetup, Replay, ReplayJob, ReplayPublisher};
pub use series::{NewSeries, SeriesPatch, SeriesView};
pub use settings::LiveSettings;
pub use sfu::{Sfu, SfuConfig, SfuEvent};

/// What [`Live::occurrence_standing`] tells of an occurrence for one user.
#[derive(Debug, Clone)]
pub struct OccurrenceStanding {
    /// The series' title.
    pub title: String,
    pub starts_at: platform::Timestamp,
    pub took_part: bool,
    pub manages: bool,
}

platform::new_id!(
    /// A weekly series of live lectures.
    SeriesId
);
platform::new_id!(
    /// One live lecture of a series.
    OccurrenceId
);

/// The live-session service: the services it is made of, wired together. Each holds only
/// what it needs; what crosses them (an occurrence ending closes its room and queues its
/// replay; a changed series tells its parents) is decided here.
#[derive(Clone, Debug)]
pub struct Live {
    db: Db,
    clock: Arc<dyn Clock>,
    cfg: Arc<LiveSettings>,
    /// Where users reach the service (calendar feeds, WHIP URLs); without it, links follow the
    /// request's host.
    public_url: Option<String>,
    audience: Audience,
    schedule: Schedule,
    messages: Messages,
    notices: Notices,
    rooms: Rooms,
    recording: Recording,
    activities: activities::Activities,
}

impl Live {
    /// The service and the SFU's event receiver, which [`Live::run`] consumes; settings out of
    /// range are refused ([`LiveSettings::validate`]).
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        settings: LiveSettings,
        public_url: Option<String>,
        secret: &[u8],
    ) -> Result<(Self, mpsc::UnboundedReceiver<SfuEvent>), String> {
        let settings = settings.validate()?;
        let (sfu, rx) = Sfu::new(SfuConfig {
            udp_addrs: settings.media_addrs.clone(),
            media_wait: Duration::from_secs(settings.publisher_media_wait_seconds),
            viewer_limit: settings.webrtc_viewer_limit,
            connect_timeout: Duration::from_secs(settings.viewer_connect_seconds),
            mux: None,
        });
        let signer = platform::signing::Signer::new(secret, "parentschool live v1");
        let audience = Audience::new(db.clone());
        let events = Events::default();
        Ok((
            Self {
                schedule: Schedule {
                    db: db.clone(),
                    clock: clock.clone(),
                    audience: audience.clone(),
                    events: events.clone(),
                    signer: signer.clone(),
                },
                messages: Messages {
                    db: db.clone(),
                    clock: clock.clone(),
                    audience: audience.clone(),
                    events: events.clone(),
                    max_chars: settings.message_max_chars,
                    contact_filter: settings.contact_filter,
                    word_filter: Arc::new(settings.word_filter.clone()),
                },
                notices: Notices {
                    db: db.clone(),
                    clock: clock.clone(),
                    audience: audience.clone(),
                    reminder_minutes: settings.reminder_minutes.clone(),
                    public_url: public_url.clone(),
                    notifier: Arc::new(LogNotifier),
                },
                rooms: Rooms {
                    db: db.clone(),
                    clock: clock.clone(),
                    audience: audience.clone(),
                    sfu: sfu.clone(),
                    events,
                    attendance: Attendance::new(db.clone()),
                    hls: hls::HlsViewers::default(),
                    signer,
                    ice: Arc::new(ice::IceConfig::from_settings(&settings)),
                    rec: None,
                    ticket_seconds: settings.ticket_seconds,
                },
                recording: Recording {
                    db: db.clone(),
                    clock: clock.clone(),
                    audience: audience.clone(),
                    sfu,
                    rec: None,
                    recorders: recording::Recorders::default(),
                    hls_segment_seconds: settings.hls_segment_seconds,
                },
                activities: activities::Activities {
                    db: db.clone(),
                    clock: clock.clone(),
                    audience: audience.clone(),
                    signer: platform::signing::Signer::new(secret, "parentschool activities v1"),
                },
                audience,
                db,
                clock,
                cfg: Arc::new(settings),
                public_url,
            },
            rx,
        ))
    }

    /// Where users reach the service: the configured public URL, else the request's host.
    pub(crate) fn base_url(&self, headers: &axum::http::HeaderMap) -> String {
        if let Some(u) = &self.public_url {
            return u.trim_end_matches('/').to_owned();
        }
        headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map_or_else(String::new, |h| format!("http://{h}"))
    }

    /// Records lectures (live HLS and replays) with this setup.
    pub fn with_recording(mut self, setup: RecordingSetup) -> Self {
        let setup = Some(Arc::new(setup));
        self.rooms.rec = setup.clone();
        self.recording.rec = setup;
        self
    }

    /// Sends all WebRTC media through one shared UDP port (bound by the server).
    pub fn with_udp_mux(mut self, mux: Arc<udp_mux::UdpMux>) -> Self {
        let sfu = self.rooms.sfu.clone().with_mux(mux);
        self.recording.sfu = sfu.clone();
        self.rooms.sfu = sfu;
        self
    }

    /// Sends reminders and notices through `notifier` (the log by default).
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notices.notifier = notifier;
        self
    }

    /// The routes that serve live HLS under signed URLs (outside `/api`).
    pub fn delivery_router(&self) -> axum::Router {
        rooms::delivery_router(self.rooms.clone())
    }

    /// The job handler that makes replays (run by the server's workers).
    pub fn replay_job(&self) -> ReplayJob {
        self.recording.replay_job()
    }

    /// Claims and sends the reminders that are due, then retries stale claims; returns how
    /// many were sent (the background loop runs it every few seconds).
    pub async fn sweep_reminders(&self) -> LiveResult<usize> {
        self.notices.sweep_reminders().await
    }

    /// `text` after the filters of live messages ([`messages::filtered`]: contacts and the
    /// word list), for what else people write for others to read (rating comments).
    pub fn filter_text(&self, text: &str) -> String {
        messages::filtered(text, self.cfg.contact_filter, &self.cfg.word_filter)
    }

    /// What a rating of occurrence `occ` needs to know for `user`: its title, whether they
    /// took part (live study time credited, or a check-in to the activity) and whether they
    /// manage its series (and so see its ratings). 404 when they may not see it.
    pub async fn occurrence_standing(&self, user: &AuthUser, occ: OccurrenceId) -> LiveResult<OccurrenceStanding> {
        let (row, series) = self.audience.occurrence_with_series(occ).await?;
        let manages = self.audience.manages(user, &series).await?;
        if !manages && !self.audience.in_audience(user.id, series.scope_org_id).await? {
            return Err(LiveError::OccurrenceNotFound);
        }
        let live = self.attendance().user_credits(user.id).await?;
        let offline = self.offline().user_credits(user.id).await?;
        let took_part = live.iter().any(|a| a.occurrence_id == occ && a.attended_ms > 0)
            || offline.iter().any(|a| a.activity_id == occ);
        Ok(OccurrenceStanding {
            title: series.title.clone(),
            starts_at: row.starts_at,
            took_part,
            manages,
        })
    }

    /// The attendance recorder (benchmarks drive it directly).
    pub fn attendance(&self) -> &Attendance {
        &self.rooms.attendance
    }

    /// Creates an offline activity (`POST /api/v1/activities`).
    pub async fn create_activity(&self, user: &AuthUser, req: NewActivity) -> LiveResult<ActivityView> {
        self.activities.create(user, req).await
    }

    /// The host checks `member` in or out by hand (`PUT /api/v1/activities/{id}/check-ins/{user}`).
    pub async fn check_in_by_hand(
        &self,
        user: &AuthUser,
        activity: OccurrenceId,
        member: platform::ids::UserId,
        purpose: checkin::Purpose,
    ) -> LiveResult<bool> {
        Ok(self
            .activities
            .check_in_by_hand(user, activity, member, purpose)
            .await?
            .credited)
    }

    /// Offline activities' study time (check-ins).
    pub fn offline(&self) -> OfflineCredits {
        OfflineCredits { db: self.db.clone() }
    }

    /// Applies a live-state event and stores it; an occurrence that ended closes its room and
    /// queues its replay ([`Live::on_ended`]).
    pub(crate) async fn transition(
        &self,
        id: OccurrenceId,
        event: lifecycle::Event,
    ) -> LiveResult<(lifecycle::Lifecycle, bool)> {
        let result = self.schedule.transition(id, event).await?;
        if result.1 && result.0.state == lifecycle::LiveState::Ended {
            self.on_ended(id).await;
        }
        Ok(result)
    }

    /// What happens once an occurrence has ended, on whichever node ended it: its room closes
    /// (viewers and the recorder see it go), HLS viewers leave, and the replay is queued unless
    /// this node's recorder is still storing the last pieces (it queues it when done).
    pub(crate) async fn on_ended(&self, occ: OccurrenceId) {
        self.rooms.sfu.close_room(occ).await;
        self.rooms.close_hls_sessions(occ);
        if let Err(e) = self.recording.queue_replay_if_ended(occ, false).await {
            tracing::warn!(%occ, error = %e, "could not queue the replay");
        }
    }

    /// Ends occurrences paused for longer than the grace period (a lost publisher that did not
    /// come back). Returns the ended ones; safe to run on every node.
    pub async fn end_abandoned(&self) -> LiveResult<Vec<OccurrenceId>> {
        let grace = self.cfg.publisher_grace_seconds as i64 * 1000;
        let mut ended = Vec::new();
        for id in self.schedule.abandoned(grace).await? {
            if let Ok((_, true)) = self.transition(id, lifecycle::Event::Tick { grace_ms: grace }).await {
                ended.push(id);
            }
        }
        Ok(ended)
    }

    /// One occurrence as `user` sees it, with the signed live HLS playlist while they may watch
    /// and it can be watched.
    pub(crate) async fn view(
        &self,
        user: &AuthUser,
        occ: model::OccurrenceRow,
        s: &store::series::SeriesRow,
    ) -> LiveResult<occurrences::OccurrenceView> {
        let mut v = self.schedule.view(user, occ, s).await?;
        let may_watch = v.may_manage
            || v.my_enrolment
                .as_ref()
                .is_some_and(|e| e.state == model::EnrolmentState::Enrolled);
        if may_watch && self.rooms.hls_available(v.id, v.state).await? {
            v.hls_url = Some(self.rooms.hls_url(v.id));
        }
        Ok(v)
    }

    /// Creates a weekly series with its occurrences (experts for themselves; curators and
    /// admins for an expert), aimed at an audience within the creator's reach.
    pub async fn create_series(&self, user: &AuthUser, req: NewSeries) -> LiveResult<SeriesView> {
        self.schedule.create_series(user, req).await
    }

    /// Enrols the caller in one occurrence, or (staff) a class or a list of users; beyond the
    /// capacity they wait in line.
    pub async fn enrol(&self, user: &AuthUser, occ: OccurrenceId, req: EnrolRequest) -> LiveResult<EnrolResult> {
        self.schedule.enrol_request(user, occ, req).await
    }

    /// Cancels the caller's seat or place in line before the lecture starts; the first in line
    /// takes a freed seat.
    pub async fn cancel_enrolment(&self, user: &AuthUser, occ: OccurrenceId) -> LiveResult<()> {
        // 404 for an occurrence that does not exist.
        self.audience.occurrence_with_series(occ).await?;
        if !self.schedule.cancel(occ, user.id).await? {
            return Err(LiveError::EnrolmentNotFound);
        }
        Ok(())
    }

    /// Edits a series: the dropped lectures' parents are told, whole-series enrolees join the
    /// new ones and a larger capacity promotes waitlists.
    pub async fn edit_series(&self, user: &AuthUser, id: SeriesId, p: SeriesPatch) -> LiveResult<SeriesView> {
        for occ in self.schedule.edit_series(user, id, p).await? {
            self.notices.notify_cancelled(occ).await?;
        }
        self.schedule.fill_series(id).await?;
        self.schedule.series_view(self.audience.series_row(id).await?).await
    }

    /// Stops a series and tells the parents of every lecture it cancelled.
    pub async fn stop_series(&self, user: &AuthUser, id: SeriesId) -> LiveResult<SeriesView> {
        for occ in self.schedule.stop_series(user, id).await? {
            self.notices.notify_cancelled(occ).await?;
        }
        self.schedule.series_view(self.audience.series_row(id).await?).await
    }
}

/// The live-session API routes.
pub fn router(live: Live) -> ApiRouter {
    let rooms = rooms::router().with_state(live.rooms.clone());
    series::router()
        .merge(occurrences::router())
        .merge(enrolment::router())
        .merge(signalling::router())
        .merge(activities::router())
        .with_state(live.clone())
        .merge(rooms)
        .merge(messages::router().with_state(live.messages.clone()))
        .merge(recording::router().with_state(live.recording.clone()))
}
