//! The live state of an occurrence as a sans-IO state machine: events and `now` in, the new
//! state (or a refusal) out. scheduled → live ⇄ paused → ended. Going live is the first publish
//! (early or late); losing the publisher or its WHIP `DELETE` only pauses; the occurrence ends
//! when the expert ends it or when it has stayed paused for the grace period.

use platform::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiveState {
    Scheduled,
    Live,
    Paused,
    Ended,
    /// Removed from the series by an edit; enrolments are kept for the record.
    Cancelled,
}

impl LiveState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Live => "live",
            Self::Paused => "paused",
            Self::Ended => "ended",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "live" => Self::Live,
            "paused" => Self::Paused,
            "ended" => Self::Ended,
            "cancelled" => Self::Cancelled,
            _ => Self::Scheduled,
        }
    }
}

/// Rows decode their state column straight into the enum (`#[sqlx(try_from = "String")]`).
impl TryFrom<String> for LiveState {
    type Error = platform::validate::UnknownValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.as_str() {
            "scheduled" => Ok(Self::Scheduled),
            "live" => Ok(Self::Live),
            "paused" => Ok(Self::Paused),
            "ended" => Ok(Self::Ended),
            "cancelled" => Ok(Self::Cancelled),
            _ => Err(platform::validate::UnknownValue(s)),
        }
    }
}

/// What the database keeps of an occurrence's live life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    pub state: LiveState,
    /// Time spent live before `live_since` (closed live periods).
    pub live_ms: i64,
    /// Start of the current live period.
    pub live_since: Option<Timestamp>,
    /// When the publisher went away (while paused).
    pub paused_at: Option<Timestamp>,
    pub went_live_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A publisher connected (WHIP).
    Publish,
    /// The publisher left (WHIP `DELETE`) or its connection failed.
    PublisherGone,
    /// The expert or a curator ended the occurrence.
    End,
    /// Time passed: a pause longer than the grace period ends the occurrence.
    Tick { grace_ms: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    AlreadyEnded,
    Cancelled,
}

impl Lifecycle {
    pub fn scheduled() -> Self {
        Self {
            state: LiveState::Scheduled,
            live_ms: 0,
            live_since: None,
            paused_at: None,
            went_live_at: None,
            ended_at: None,
        }
    }

    /// Total live time up to `now`.
    pub fn live_ms_at(&self, now: Timestamp) -> i64 {
        self.live_ms + self.live_since.map_or(0, |s| (now.0 - s.0).max(0))
    }

    fn close_live_period(&mut self, now: Timestamp) {
        self.live_ms = self.live_ms_at(now);
        self.live_since = None;
    }

    /// Applies `event` at `now`: `Ok(true)` when the state changed, `Ok(false)` when the event
    /// changes nothing (e.g. a tick within the grace period).
    pub fn apply(&mut self, event: Event, now: Timestamp) -> Result<bool, Refusal> {
        use Event::*;
        use LiveState::*;
        match (self.state, event) {
            (Cancelled, _) => Err(Refusal::Cancelled),
            (Ended, Publish) => Err(Refusal::AlreadyEnded),
            (Ended, _) => Ok(false),
            (Scheduled | Paused, Publish) => {
                self.state = Live;
                self.live_since = Some(now);
                self.paused_at = None;
                self.went_live_at.get_or_insert(now);
                Ok(true)
            }
            (Live, Publish) => Ok(false),
            (Live, PublisherGone) => {
                self.close_live_period(now);
                self.state = Paused;
                self.paused_at = Some(now);
                Ok(true)
            }
            (Scheduled | Paused, PublisherGone) => Ok(false),
            (_, End) => {
                self.close_live_period(now);
                self.state = Ended;
                self.paused_at = None;
                self.ended_at = Some(now);
                Ok(true)
            }
            (Paused, Tick { grace_ms }) if self.paused_at.is_some_and(|p| now.0 - p.0 >= grace_ms) => {
                self.state = Ended;
                // Ended when the publisher was lost, not when the grace ran out.
                self.ended_at = self.paused_at.take();
                Ok(true)
            }
            (_, Tick { .. }) => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: i64 = 600_000;

    #[test]
    fn live_pause_resume_end() {
        let mut l = Lifecycle::scheduled();
        assert_eq!(l.apply(Event::PublisherGone, Timestamp(0)), Ok(false));
        assert_eq!(l.apply(Event::Publish, Timestamp(1_000)), Ok(true));
        assert_eq!(l.went_live_at, Some(Timestamp(1_000)));
        assert_eq!(l.apply(Event::Publish, Timestamp(1_500)), Ok(false));
        assert_eq!(l.apply(Event::PublisherGone, Timestamp(61_000)), Ok(true));
        assert_eq!((l.state, l.live_ms), (LiveState::Paused, 60_000));
        assert_eq!(l.apply(Event::Tick { grace_ms: GRACE }, Timestamp(120_000)), Ok(false));
        assert_eq!(l.apply(Event::Publish, Timestamp(121_000)), Ok(true));
        assert_eq!(l.went_live_at, Some(Timestamp(1_000)), "the first go-live is kept");
        assert_eq!(l.live_ms_at(Timestamp(131_000)), 70_000);
        assert_eq!(l.apply(Event::End, Timestamp(181_000)), Ok(true));
        assert_eq!(
            (l.state, l.live_ms, l.ended_at),
            (LiveState::Ended, 120_000, Some(Timestamp(181_000)))
        );
        assert_eq!(l.apply(Event::Publish, Timestamp(200_000)), Err(Refusal::AlreadyEnded));
        assert_eq!(l.apply(Event::End, Timestamp(200_000)), Ok(false));
    }

    #[test]
    fn a_lost_publisher_ends_after_the_grace_period() {
        let mut l = Lifecycle::scheduled();
        let _ = l.apply(Event::Publish, Timestamp(0));
        let _ = l.apply(Event::PublisherGone, Timestamp(30_000));
        assert_eq!(
            l.apply(Event::Tick { grace_ms: GRACE }, Timestamp(30_000 + GRACE - 1)),
            Ok(false)
        );
        assert_eq!(
            l.apply(Event::Tick { grace_ms: GRACE }, Timestamp(30_000 + GRACE)),
            Ok(true)
        );
        assert_eq!(
            (l.state, l.ended_at, l.live_ms),
            (LiveState::Ended, Some(Timestamp(30_000)), 30_000)
        );
    }

    #[test]
    fn cancelled_refuses_everything() {
        let mut l = Lifecycle {
            state: LiveState::Cancelled,
            ..Lifecycle::scheduled()
        };
        assert_eq!(l.apply(Event::Publish, Timestamp(0)), Err(Refusal::Cancelled));
    }
}
