//! Reminders before enrolled lectures and "replay ready" notices, through a [`Notifier`]: the
//! log, or a webhook that an SMS or WeChat gateway sits behind. Each notice is claimed in the
//! database before it is sent (a unique row per kind, occurrence, user and offset), so no node
//! sends it twice, across restarts too; a claim whose sending failed is retried later with the
//! same id, which the gateway gets as `Idempotency-Key` to drop duplicates of its own.

use std::time::Duration;

use std::sync::Arc;

use platform::ids::UserId;
use platform::{Clock, Db, Timestamp};
use serde::Serialize;

use crate::LiveResult;
use crate::audience::Audience;
pub use crate::model::NoticeKind;
use crate::{OccurrenceId, store};

/// A notice for one user.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Notice {
    /// Stable across retries: the gateway's idempotency key.
    pub id: uuid::Uuid,
    pub kind: NoticeKind,
    pub occurrence_id: OccurrenceId,
    pub user_id: UserId,
    /// The user's phone number (gateways text it).
    pub phone: Option<String>,
    pub title: String,
    pub starts_at: Timestamp,
    /// Minutes before the start (reminders).
    pub minutes_before: i32,
    /// The page to open.
    pub url: String,
    /// The text to send, in Chinese.
    pub text: String,
}

/// Sends notices. Implementations must be safe to call again with the same notice.
#[async_trait::async_trait]
pub trait Notifier: Send + Sync + std::fmt::Debug {
    async fn send(&self, notice: &Notice) -> anyhow::Result<()>;
}

/// Writes notices to the log (the default without a gateway).
#[derive(Debug, Default)]
pub struct LogNotifier;

#[async_trait::async_trait]
impl Notifier for LogNotifier {
    async fn send(&self, n: &Notice) -> anyhow::Result<()> {
        tracing::info!(id = %n.id, kind = %n.kind, user = %n.user_id, occ = %n.occurrence_id, text = %n.text, "notice");
        Ok(())
    }
}

/// Posts each notice as JSON to a gateway, with `Idempotency-Key: <notice id>`; any 2xx is
/// accepted.
#[derive(Debug)]
pub struct WebhookNotifier {
    url: String,
    http: reqwest::Client,
}

impl WebhookNotifier {
    pub fn new(url: String) -> anyhow::Result<Self> {
        Ok(Self {
            url,
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?,
        })
    }
}

#[async_trait::async_trait]
impl Notifier for WebhookNotifier {
    async fn send(&self, n: &Notice) -> anyhow::Result<()> {
        let res = self
            .http
            .post(&self.url)
            .header("Idempotency-Key", n.id.to_string())
            .json(n)
            .send()
            .await?;
        if !res.status().is_success() {
            anyhow::bail!("the gateway answered {}", res.status());
        }
        Ok(())
    }
}

/// The same gateway takes text messages to one person (password reset codes), with the same
/// `Idempotency-Key` convention; their JSON has `kind`, `user_id`, `phone` and `text`.
#[async_trait::async_trait]
impl platform::texts::TextGateway for WebhookNotifier {
    async fn send_text(&self, m: &platform::texts::TextMessage) -> anyhow::Result<()> {
        let res = self
            .http
            .post(&self.url)
            .header("Idempotency-Key", m.id.to_string())
            .json(m)
            .send()
            .await?;
        if !res.status().is_success() {
            anyhow::bail!("the gateway answered {}", res.status());
        }
        Ok(())
    }
}

/// The offset (minutes) whose reminder is due `minutes_left` before the start: the smallest
/// offset already reached, so a parent who enrols late gets one timely reminder rather than
/// every earlier one at once.
pub fn due_offset(offsets: &[u32], minutes_left: i64) -> Option<u32> {
    offsets
        .iter()
        .copied()
        .filter(|&o| o > 0 && i64::from(o) >= minutes_left)
        .min()
}

/// Reminders and notices, through the notifier.
#[derive(Clone, Debug)]
pub(crate) struct Notices {
    pub(crate) db: Db,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audience: Audience,
    /// Minutes before a lecture when reminders go out.
    pub(crate) reminder_minutes: Vec<u32>,
    /// Where users reach the service (links in notices).
    pub(crate) public_url: Option<String>,
    pub(crate) notifier: Arc<dyn Notifier>,
}

/// A claim not confirmed as sent after this long is tried again.
const RETRY_AFTER_MS: i64 = 5 * 60_000;

impl Notices {
    /// Claims and sends the reminders that are due, then retries stale claims; returns how
    /// many were sent. Safe on every node at once (each node runs it every few seconds).
    pub async fn sweep_reminders(&self) -> LiveResult<usize> {
        let offsets = self.reminder_minutes.clone();
        let Some(&max) = offsets.iter().max() else {
            return Ok(0);
        };
        let now = self.clock.now();
        let horizon = Timestamp(now.0 + i64::from(max) * 60_000);
        let due = store::notices::due(&self.db, now, horizon).await?;
        let mut sent = 0;
        for d in due {
            let left = (d.starts_at.0 - now.0) / 60_000;
            let Some(offset) = due_offset(&offsets, left) else {
                continue;
            };
            if let Some(id) = self
                .claim(NoticeKind::Reminder, d.occurrence_id, d.user_id, offset as i32, now)
                .await?
            {
                sent += usize::from(
                    self.deliver(id, NoticeKind::Reminder, d.occurrence_id, d.user_id, offset as i32)
                        .await,
                );
            }
        }
        sent += self.retry_stale(now).await?;
        Ok(sent)
    }

    /// Tells everyone enrolled in `occ` that its replay can be watched.
    pub(crate) async fn notify_replay_ready(&self, occ: OccurrenceId) -> LiveResult<()> {
        self.notify_enrolled(NoticeKind::ReplayReady, occ).await
    }

    /// Tells everyone enrolled or waitlisted in `occ` that it was cancelled (the series was
    /// stopped, or its rule no longer has that date).
    pub(crate) async fn notify_cancelled(&self, occ: OccurrenceId) -> LiveResult<()> {
        self.notify_enrolled(NoticeKind::Cancelled, occ).await
    }

    /// One notice of `kind` to each parent with a seat (for cancellations, a waitlist place too).
    async fn notify_enrolled(&self, kind: NoticeKind, occ: OccurrenceId) -> LiveResult<()> {
        let users = store::notices::recipients(&self.db, occ, kind == NoticeKind::Cancelled).await?;
        let now = self.clock.now();
        for user in users {
            if let Some(id) = self.claim(kind, occ, user, 0, now).await? {
                self.deliver(id, kind, occ, user, 0).await;
            }
        }
        Ok(())
    }

    /// Inserts the notice's row; `None` when it exists (another node or an earlier run has it).
    async fn claim(
        &self,
        kind: NoticeKind,
        occ: OccurrenceId,
        user: UserId,
        offset: i32,
        now: Timestamp,
    ) -> LiveResult<Option<uuid::Uuid>> {
        let id = uuid::Uuid::now_v7();
        let claimed = store::notices::claim(&self.db, id, kind, occ, user, offset, now).await?;
        Ok(claimed.then_some(id))
    }

    /// Claims whose sending failed (or whose node died) are re-claimed and sent again.
    async fn retry_stale(&self, now: Timestamp) -> LiveResult<usize> {
        let stale = store::notices::stale(&self.db, Timestamp(now.0 - RETRY_AFTER_MS)).await?;
        let mut sent = 0;
        for p in stale {
            // Re-claim: only one node wins the update.
            let won = store::notices::reclaim(&self.db, p.id, now, Timestamp(now.0 - RETRY_AFTER_MS)).await?;
            if won {
                sent += usize::from(
                    self.deliver(p.id, p.kind, p.occurrence_id, p.user_id, p.offset_minutes)
                        .await,
                );
            }
        }
        Ok(sent)
    }

    /// Sends a claimed notice and records the outcome; returns whether it was sent.
    async fn deliver(&self, id: uuid::Uuid, kind: NoticeKind, occ: OccurrenceId, user: UserId, offset: i32) -> bool {
        let notice = match self.notice(id, kind, occ, user, offset).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(%occ, error = %e, "could not prepare a notice");
                return false;
            }
        };
        let outcome = self.notifier.send(&notice).await;
        let now = self.clock.now();
        let write = match &outcome {
            Ok(()) => store::notices::mark_sent(&self.db, id, now).await,
            Err(e) => store::notices::mark_failed(&self.db, id, format!("{e:#}")).await,
        };
        if let Err(e) = write {
            tracing::warn!(%id, error = %e, "could not record a notice's outcome");
        }
        match outcome {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(%id, %occ, error = %e, "a notice was not sent; it is retried later");
                false
            }
        }
    }

    async fn notice(
        &self,
        id: uuid::Uuid,
        kind: NoticeKind,
        occ: OccurrenceId,
        user: UserId,
        offset: i32,
    ) -> LiveResult<Notice> {
        let (row, series) = self.audience.occurrence_with_series(occ).await?;
        let phone = store::notices::phone(&self.db, user).await?;
        let base = self.public_url.as_deref().unwrap_or("").trim_end_matches('/');
        let when = crate::recurrence::china_time(row.starts_at);
        // An offline activity is told as one: where, and to check in there.
        let place = if series.format == "offline" {
            store::activities::activity(&self.db, occ).await?.map(|a| a.place)
        } else {
            None
        };
        let (url, text) = if let Some(place) = place {
            if kind == NoticeKind::Cancelled {
                (
                    format!("{base}/live"),
                    format!("【家长学堂】您报名的活动“{}”（{when}）已取消。", series.title),
                )
            } else {
                (
                    format!("{base}/activities/{occ}"),
                    format!(
                        "【家长学堂】您报名的活动“{}”将于 {when} 在{place}开始，到场后请扫码签到。",
                        series.title
                    ),
                )
            }
        } else if kind == NoticeKind::ReplayReady {
            (
                format!("{base}/live/{occ}"),
                format!(
                    "【家长学堂】“{}”（{when}）的回放已经可以观看，观看同样计入学时。",
                    series.title
                ),
            )
        } else if kind == NoticeKind::Cancelled {
            (
                format!("{base}/live"),
                format!(
                    "【家长学堂】您报名的直播“{}”（{when}）已取消，请留意其他场次。",
                    series.title
                ),
            )
        } else {
            (
                format!("{base}/live/{occ}"),
                format!(
                    "【家长学堂】您报名的直播“{}”将于 {when} 开始，请准时进入直播间。",
                    series.title
                ),
            )
        };
        Ok(Notice {
            id,
            kind,
            occurrence_id: occ,
            user_id: user,
            phone,
            title: series.title,
            starts_at: row.starts_at,
            minutes_before: offset,
            url,
            text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_reached_offset_is_due() {
        let offsets = [1440, 30];
        assert_eq!(due_offset(&offsets, 2000), None);
        assert_eq!(due_offset(&offsets, 1440), Some(1440));
        assert_eq!(due_offset(&offsets, 600), Some(1440));
        // Enrolled late: only the 30-minute reminder, not the day-before one as well.
        assert_eq!(due_offset(&offsets, 29), Some(30));
        assert_eq!(due_offset(&offsets, 0), Some(30));
        assert_eq!(due_offset(&[], 10), None);
        assert_eq!(due_offset(&[0], 0), None);
    }
}
