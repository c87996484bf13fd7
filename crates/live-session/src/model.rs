//! The types the live modules share, below them all: the rows and views that more than one
//! module reads or sends, and the not-found error for an occurrence. Nothing here touches the
//! database or the network.

use platform::Timestamp;
use platform::ids::UserId;
use serde::Serialize;
use utoipa::ToSchema;

use crate::lifecycle::{Lifecycle, LiveState};
use crate::{OccurrenceId, SeriesId};

platform::new_id!(
    /// A chat message or question.
    MessageId
);

/// A chat message or a question.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct MessageView {
    pub id: MessageId,
    #[serde(skip)]
    pub user_id: UserId,
    pub author: String,
    pub text: String,
    pub votes: i32,
    pub answered: bool,
    pub answered_at: Option<Timestamp>,
    pub hidden: bool,
    pub created_at: Timestamp,
    /// The caller voted for it (questions).
    #[sqlx(default)]
    pub voted: bool,
}

/// Where a user stands for one lecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EnrolmentState {
    Enrolled,
    Waitlisted,
    Cancelled,
}

impl EnrolmentState {
    /// As stored in `live_enrolments.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enrolled => "enrolled",
            Self::Waitlisted => "waitlisted",
            Self::Cancelled => "cancelled",
        }
    }

    /// From `live_enrolments.state`; anything else is no seat.
    pub fn parse(s: &str) -> Self {
        match s {
            "enrolled" => Self::Enrolled,
            "waitlisted" => Self::Waitlisted,
            _ => Self::Cancelled,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Enrolment {
    pub user_id: UserId,
    pub state: EnrolmentState,
    /// 1 for the first in line; only while waitlisted.
    pub waitlist_position: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct OccurrenceRow {
    pub id: OccurrenceId,
    pub series_id: SeriesId,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    #[sqlx(try_from = "String")]
    pub state: LiveState,
    pub live_ms: i64,
    pub live_since: Option<Timestamp>,
    pub paused_at: Option<Timestamp>,
    pub went_live_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub replay_course_id: Option<uuid::Uuid>,
    pub replay_lesson_id: Option<uuid::Uuid>,
    pub replay_asset_id: Option<uuid::Uuid>,
}

impl OccurrenceRow {
    pub(crate) fn lifecycle(&self) -> Lifecycle {
        Lifecycle {
            state: self.state,
            live_ms: self.live_ms,
            live_since: self.live_since,
            paused_at: self.paused_at,
            went_live_at: self.went_live_at,
            ended_at: self.ended_at,
        }
    }
}

/// One stored piece of a recording, as a playlist lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Piece {
    pub seq: i32,
    pub run: i32,
    pub duration_ms: i32,
}

/// A room's message: chat, or a question (votes, answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Chat,
    Question,
}

impl MessageKind {
    /// As stored in `live_messages.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Question => "question",
        }
    }

    /// From `live_messages.kind` (a CHECK constraint admits only the two).
    pub fn parse(s: &str) -> Self {
        if s == "question" { Self::Question } else { Self::Chat }
    }
}

/// What a notice tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A lecture the user is enrolled in starts soon.
    Reminder,
    /// The replay of a lecture the user was enrolled in can be watched.
    ReplayReady,
    /// A lecture the user had a seat or place in line for was cancelled.
    Cancelled,
}

impl NoticeKind {
    /// As stored in `live_notifications.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reminder => "reminder",
            Self::ReplayReady => "replay_ready",
            Self::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for NoticeKind {
    type Error = platform::validate::UnknownValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.as_str() {
            "reminder" => Ok(Self::Reminder),
            "replay_ready" => Ok(Self::ReplayReady),
            "cancelled" => Ok(Self::Cancelled),
            _ => Err(platform::validate::UnknownValue(s)),
        }
    }
}
