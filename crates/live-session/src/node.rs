//! The background work of a node: SFU events become live-state changes, attendance and page
//! events; attendance is flushed every few seconds; abandoned occurrences end after the grace
//! period; reminders are sent and replays queued and finished beside that loop.

use std::time::Duration;

use platform::Timestamp;
use tokio::sync::{mpsc, watch};

use crate::{Live, LiveResult, SfuEvent, lifecycle};

impl Live {
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
                _ = hls_expiry.tick() => self.rooms.expire_hls_sessions(),
                Some(ev) = sfu_events.recv() => self.on_sfu_event(ev).await,
                _ = flush.tick() => {
                    if let Err(e) = self.rooms.attendance.flush(self.clock.now()).await {
                        tracing::warn!(error = %e, "attendance flush failed; retrying at the next tick");
                    }
                }
                _ = grace.tick() => {
                    match self.end_abandoned().await {
                        Ok(ended) => for occ in ended {
                            self.rooms.sfu.close_room(occ).await;
                            tracing::info!(%occ, "occurrence ended: the publisher did not come back");
                        },
                        Err(e) => tracing::warn!(error = %e, "could not end abandoned occurrences"),
                    }
                }
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        let _ = self.rooms.attendance.flush(self.clock.now()).await;
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
                _ = reminders.tick() => match self.notices.sweep_reminders().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(sent = n, "reminders sent"),
                    Err(e) => tracing::warn!(error = %e, "could not send reminders"),
                },
                _ = replays.tick() => {
                    if let Err(e) = self.recording.queue_orphaned_replays().await {
                        tracing::warn!(error = %e, "could not queue replays of ended lectures");
                    }
                    if let Err(e) = self.recording.finish_replays(&self.notices).await {
                        tracing::warn!(error = %e, "could not check replays");
                    }
                }
                _ = shutdown.changed() => if *shutdown.borrow() { return },
            }
        }
    }

    /// Pauses occurrences marked live without a publisher here (after a restart).
    async fn pause_orphaned(&self) -> LiveResult<()> {
        let live = self.schedule.live_now().await?;
        for occ in live.into_iter().filter(|o| !self.rooms.sfu.has_publisher(*o)) {
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
                self.rooms.attendance.join(occ, user, session, now);
                self.rooms.publish_viewers(occ);
            }
            SfuEvent::ViewerLeft {
                occ,
                session,
                gone_at_ms,
            } => {
                let at = gone_at_ms.map_or(now, |ms| Timestamp(ms.min(now.0)));
                self.rooms.attendance.leave(session, at);
                self.rooms.publish_viewers(occ);
            }
        }
    }
}
