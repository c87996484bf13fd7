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

use platform::http::ApiRouter;
use platform::{Clock, Db, Timestamp};
use tokio::sync::{mpsc, watch};

pub mod attendance;
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
pub mod notify;
mod occurrences;
pub mod recording;
pub mod recurrence;
mod reports;
pub mod sdp;
mod series;
mod settings;
pub mod sfu;
mod signalling;
pub mod slots;
mod store;
pub mod udp_mux;

pub use attendance::{Attendance, AttendedOccurrence};
pub use enrolment::EnrolRequest;
pub use error::{LiveError, LiveResult};
pub use events::{Events, LiveEvent};
pub use notify::{LogNotifier, Notice, Notifier, WebhookNotifier};
pub use recording::{RecordingSetup, Replay, ReplayJob, ReplayPublisher};
pub use series::{NewSeries, SeriesPatch};
pub use settings::LiveSettings;
pub use sfu::{Sfu, SfuConfig, SfuEvent};

platform::new_id!(
    /// A weekly series of live lectures.
    SeriesId
);
platform::new_id!(
    /// One live lecture of a series.
    OccurrenceId
);

/// The live-session service: state of its routes and of its background loop.
#[derive(Clone, Debug)]
pub struct Live {
    db: Db,
    clock: Arc<dyn Clock>,
    cfg: Arc<LiveSettings>,
    /// Where users reach the service (links in calendar feeds, WHIP URLs, notices); without it,
    /// links follow the request's host.
    public_url: Option<String>,
    ice: Arc<ice::IceConfig>,
    /// Signs tickets and calendar URLs (derived from the service secret).
    /// Signs HLS URLs, event-stream tickets and calendar links.
    signer: platform::signing::Signer,
    sfu: Sfu,
    events: Events,
    attendance: Attendance,
    /// Recording and live HLS (off without ffmpeg or when configured off).
    rec: Option<Arc<RecordingSetup>>,
    recorders: recording::Recorders,
    hls: hls::HlsViewers,
    notifier: Arc<dyn Notifier>,
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
        Ok((
            Self {
                attendance: Attendance::new(db.clone()),
                db,
                clock,
                ice: Arc::new(ice::IceConfig::from_settings(&settings)),
                cfg: Arc::new(settings),
                public_url,
                signer: platform::signing::Signer::new(secret, "parentschool live v1"),
                sfu,
                events: Events::default(),
                rec: None,
                recorders: recording::Recorders::default(),
                hls: hls::HlsViewers::default(),
                notifier: Arc::new(LogNotifier),
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
        self.rec = Some(Arc::new(setup));
        self
    }

    /// Sends all WebRTC media through one shared UDP port (bound by the server).
    pub fn with_udp_mux(mut self, mux: Arc<udp_mux::UdpMux>) -> Self {
        self.sfu = self.sfu.with_mux(mux);
        self
    }

    /// Sends reminders and notices through `notifier` (the log by default).
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// The routes that serve live HLS under signed URLs (outside `/api`).
    pub fn delivery_router(&self) -> axum::Router {
        hls::delivery_router(self.clone())
    }

    /// What happens once an occurrence has ended, on whichever node ended it: its room closes
    /// (viewers and the recorder see it go), HLS viewers leave, and the replay is queued unless
    /// this node's recorder is still storing the last pieces (it queues it when done).
    pub(crate) async fn on_ended(&self, occ: OccurrenceId) {
        self.sfu.close_room(occ).await;
        self.close_hls_sessions(occ);
        if let Err(e) = self.queue_replay_if_ended(occ, false).await {
            tracing::warn!(%occ, error = %e, "could not queue the replay");
        }
    }

    /// Recordings of lectures that ended while no recorder was running (a node died): their
    /// replay is queued now.
    async fn queue_orphaned_replays(&self) -> LiveResult<()> {
        let ended = store::recordings::orphaned(&self.db).await?;
        for occ in ended {
            self.queue_replay_if_ended(occ, false).await?;
        }
        Ok(())
    }

    /// The attendance recorder (benchmarks drive it directly).
    pub fn attendance(&self) -> &Attendance {
        &self.attendance
    }

    /// The background work of a node: SFU events become live-state changes, attendance and page
    /// events; attendance is flushed every few seconds; abandoned occurrences end after the
    /// grace period. Returns when `shutdown` turns true, after a last flush.
    pub async fn run(self, mut sfu_events: mpsc::UnboundedReceiver<SfuEvent>, mut shutdown: watch::Receiver<bool>) {
        // Publishers do not survive a restart: lectures this node had live are paused (the
        // expert publishes again, or the grace period ends them).
        if let Err(e) = self.pause_orphaned().await {
            tracing::warn!(error = %e, "could not pause lectures left live by a restart");
        }
        let mut flush = tokio::time::interval(Duration::from_secs(self.cfg.attendance_flush_seconds));
        let mut grace = tokio::time::interval(Duration::from_secs(15));
        let mut hls_expiry = tokio::time::interval(Duration::from_secs(5));
        // Notices and replays wait on gateways and the store: they run beside this loop, which
        // must keep up with SFU events and flushes.
        tokio::spawn(self.clone().notices_and_replays(shutdown.clone()));
        loop {
            tokio::select! {
                _ = hls_expiry.tick() => self.expire_hls_sessions(),
                Some(ev) = sfu_events.recv() => self.on_sfu_event(ev).await,
                _ = flush.tick() => {
                    if let Err(e) = self.attendance.flush(self.clock.now()).await {
                        tracing::warn!(error = %e, "attendance flush failed; retrying at the next tick");
                    }
                }
                _ = grace.tick() => {
                    match self.end_abandoned().await {
                        Ok(ended) => for occ in ended {
                            self.sfu.close_room(occ).await;
                            tracing::info!(%occ, "occurrence ended: the publisher did not come back");
                        },
                        Err(e) => tracing::warn!(error = %e, "could not end abandoned occurrences"),
                    }
                }
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        let _ = self.attendance.flush(self.clock.now()).await;
                        return;
                    }
                }
            }
        }
    }

    /// Reminders, replays to queue (lectures that ended while no recorder ran) and replays that
    /// finished transcoding (their notices), until `shutdown`.
    async fn notices_and_replays(self, mut shutdown: watch::Receiver<bool>) {
        let mut reminders = tokio::time::interval(Duration::from_secs(self.cfg.reminder_check_seconds));
        let mut replays = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = reminders.tick() => match self.sweep_reminders().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(sent = n, "reminders sent"),
                    Err(e) => tracing::warn!(error = %e, "could not send reminders"),
                },
                _ = replays.tick() => {
                    if let Err(e) = self.queue_orphaned_replays().await {
                        tracing::warn!(error = %e, "could not queue replays of ended lectures");
                    }
                    if let Err(e) = self.finish_replays().await {
                        tracing::warn!(error = %e, "could not check replays");
                    }
                }
                _ = shutdown.changed() => if *shutdown.borrow() { return },
            }
        }
    }

    /// Pauses occurrences marked live without a publisher here (after a restart).
    async fn pause_orphaned(&self) -> LiveResult<()> {
        let live = store::occurrences::live(&self.db).await?;
        for occ in live.into_iter().filter(|o| !self.sfu.has_publisher(*o)) {
            self.transition(occ, lifecycle::Event::PublisherGone).await?;
            tracing::info!(%occ, "paused: its publisher did not survive the restart");
        }
        Ok(())
    }

    async fn on_sfu_event(&self, ev: SfuEvent) {
        let now = self.clock.now();
        tracing::debug!(?ev, "sfu event");
        match ev {
            SfuEvent::PublisherLost { occ, .. } => {
                if let Err(e) = self.transition(occ, lifecycle::Event::PublisherGone).await {
                    tracing::warn!(%occ, error = %e, "could not pause after the publisher was lost");
                }
            }
            SfuEvent::ViewerJoined { occ, session, user } => {
                self.attendance.join(occ, user, session, now);
                self.publish_viewers(occ);
            }
            SfuEvent::ViewerLeft {
                occ,
                session,
                gone_at_ms,
            } => {
                let at = gone_at_ms.map_or(now, |ms| Timestamp(ms.min(now.0)));
                self.attendance.leave(session, at);
                self.publish_viewers(occ);
            }
        }
    }
}

/// The live-session API routes.
pub fn router(live: Live) -> ApiRouter {
    series::router()
        .merge(occurrences::router())
        .merge(enrolment::router())
        .merge(events::router())
        .merge(signalling::router())
        .merge(reports::router())
        .merge(messages::router())
        .merge(hls::router())
        .merge(recording::router())
        .merge(ice::router())
        .with_state(live)
}
