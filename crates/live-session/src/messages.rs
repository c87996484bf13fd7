//! Questions and chat during a live occurrence: parents (and staff) who may watch send chat
//! messages and questions; questions get one vote per user; the expert and curators mark
//! questions answered (the time becomes a chapter mark of the replay) and hide messages. A word
//! filter masks configured words; a length limit and per-user rates keep the room usable.
//! Every change reaches open pages as a live event.

use axum::extract::State;
use axum::http::StatusCode;
use platform::Timestamp;
use platform::auth::AuthUser;
use platform::error::{ApiResult, msg};
use platform::http::{ApiRouter, Json, Path};
use platform::ids::UserId;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use std::sync::Arc;

use platform::{Clock, Db};

use crate::audience::Audience;
use crate::events::{Events, LiveEvent};
use crate::lifecycle::LiveState;
use crate::model::{MessageId, MessageKind as Kind, MessageView};
use crate::{LiveError, LiveResult};
use crate::{OccurrenceId, store};

/// Chat and questions of the rooms.
#[derive(Clone, Debug)]
pub(crate) struct Messages {
    pub(crate) db: Db,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audience: Audience,
    /// Every change reaches open pages.
    pub(crate) events: Events,
    pub(crate) max_chars: usize,
    /// Phone numbers and WeChat ids are masked.
    pub(crate) contact_filter: bool,
    pub(crate) word_filter: Arc<Vec<String>>,
}

/// At most this many messages (chat and questions together) per user and minute.
const PER_MINUTE: i64 = 10;
/// At least this long between two messages of one user.
const MIN_GAP_MS: i64 = 2_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    pub text: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagePatch {
    /// Questions only; the expert or staff.
    pub answered: Option<bool>,
    /// The expert or staff.
    pub hidden: Option<bool>,
}

fn not_found(kind: Kind) -> LiveError {
    match kind {
        Kind::Question => LiveError::QuestionNotFound,
        Kind::Chat => LiveError::MessageNotFound,
    }
}

/// Masks every occurrence of a filtered word with ＊ (one per character), case-insensitively
/// for Latin letters.
pub fn mask(text: &str, words: &[String]) -> String {
    let mut out = text.to_owned();
    for w in words.iter().map(|w| w.trim()).filter(|w| !w.is_empty()) {
        let lower = out.to_lowercase();
        let needle = w.to_lowercase();
        if lower.len() != out.len() {
            // Case folding changed byte lengths: fall back to exact matches.
            out = out.replace(w, &"＊".repeat(w.chars().count()));
            continue;
        }
        let mut result = String::with_capacity(out.len());
        let mut i = 0;
        while let Some(pos) = lower[i..].find(&needle) {
            result.push_str(&out[i..i + pos]);
            result.push_str(&"＊".repeat(w.chars().count()));
            i += pos + needle.len();
        }
        result.push_str(&out[i..]);
        out = result;
    }
    out
}

/// What people write for others to read (chat, questions, rating comments) after the filters:
/// contact details masked when `contacts` (`live.contact_filter`), then the word list.
pub fn filtered(text: &str, contacts: bool, words: &[String]) -> String {
    let t = if contacts {
        crate::contact::mask_contacts(text)
    } else {
        text.to_owned()
    };
    mask(&t, words)
}

impl Messages {
    fn check_text(&self, text: &str) -> LiveResult<String> {
        let t = text.trim();
        if t.is_empty() {
            return Err(LiveError::field(
                "text",
                msg("内容不能为空。", "The text must not be empty."),
            ));
        }
        let max = self.max_chars;
        if t.chars().count() > max {
            return Err(LiveError::field(
                "text",
                msg(format!("内容最多 {max} 个字。"), format!("At most {max} characters.")),
            ));
        }
        if t.chars().any(|c| c.is_control()) {
            return Err(LiveError::field(
                "text",
                msg("内容不能包含控制字符或换行。", "No control characters or line breaks."),
            ));
        }
        Ok(filtered(t, self.contact_filter, &self.word_filter))
    }

    /// The occurrence must be live or paused, and the caller may watch it.
    async fn room_member(&self, auth: &AuthUser, id: OccurrenceId) -> LiveResult<bool> {
        let (occ, series) = self.audience.occurrence_with_series(id).await?;
        if !self.audience.may_watch(auth, id, &series).await? {
            return Err(if self.audience.in_audience(auth.id, series.scope_org_id).await? {
                LiveError::NotEnrolled { to_watch: false }
            } else {
                LiveError::OccurrenceNotFound
            });
        }
        if !matches!(occ.state, LiveState::Live | LiveState::Paused) {
            return Err(LiveError::RoomClosed);
        }
        self.audience.manages(auth, &series).await
    }

    /// One message per gap and `PER_MINUTE` a minute, counted apart for chat and for questions
    /// (a question right after a chat line is fine).
    async fn rate_limit(&self, user: UserId, kind: Kind, now: Timestamp) -> LiveResult<()> {
        // The gap is claimed in one statement (a conditional upsert: the row lock on
        // PostgreSQL, the single writer on SQLite), so of messages sent at once only one passes.
        let bucket = format!("live-{}:{user}", kind.as_str());
        let claimed = store::messages::claim_gap(&self.db, &bucket, now, Timestamp(now.0 - MIN_GAP_MS)).await?;
        let wait_ms = if claimed {
            // At most one message per gap gets here, so the count cannot race.
            let count = store::messages::sent_since(&self.db, user, Timestamp(now.0 - 60_000), kind.as_str()).await?;
            if count < PER_MINUTE {
                return Ok(());
            }
            60_000
        } else {
            let last = store::messages::window_start(&self.db, &bucket).await?;
            last.map_or(MIN_GAP_MS, |l| (MIN_GAP_MS - (now.0 - l.0)).clamp(1, MIN_GAP_MS))
        };
        let seconds = ((wait_ms + 999) / 1000) as u64;
        Err(LiveError::TooFast { seconds })
    }

    async fn post(&self, auth: &AuthUser, id: OccurrenceId, kind: Kind, text: &str) -> LiveResult<MessageView> {
        self.room_member(auth, id).await?;
        let text = self.check_text(text)?;
        let now = self.clock.now();
        self.rate_limit(auth.id, kind, now).await?;
        let mid = MessageId::new();
        store::messages::insert(&self.db, mid, id, auth.id, kind.as_str(), &text, now).await?;
        let view = self.message(auth, id, kind, mid).await?;
        self.publish_message(id, kind, &view);
        Ok(view)
    }

    async fn message(&self, auth: &AuthUser, id: OccurrenceId, kind: Kind, mid: MessageId) -> LiveResult<MessageView> {
        let row = store::messages::message(&self.db, id, kind.as_str(), mid, auth.id).await?;
        row.ok_or_else(|| not_found(kind))
    }

    fn publish_message(&self, id: OccurrenceId, kind: Kind, m: &MessageView) {
        // Everyone in the room hears of a change; a hidden message's text goes to nobody (staff
        // read it from the list).
        let mut m = m.clone();
        if m.hidden {
            m.text.clear();
        }
        let event = match kind {
            Kind::Chat => LiveEvent::Message { message: m },
            Kind::Question => LiveEvent::Question { question: m },
        };
        self.events.publish(id, event);
    }

    async fn list(&self, auth: &AuthUser, id: OccurrenceId, kind: Kind) -> LiveResult<Vec<MessageView>> {
        let (_, series) = self.audience.occurrence_with_series(id).await?;
        let manager = self.audience.manages(auth, &series).await?;
        if !manager && !self.audience.in_audience(auth.id, series.scope_org_id).await? {
            return Err(LiveError::OccurrenceNotFound);
        }
        let order = match kind {
            Kind::Question => "m.answered, m.votes DESC, m.created_at",
            Kind::Chat => "m.created_at DESC",
        };
        Ok(store::messages::list(&self.db, id, kind.as_str(), auth.id, manager, order).await?)
    }

    async fn vote(&self, auth: &AuthUser, id: OccurrenceId, qid: MessageId) -> LiveResult<MessageView> {
        self.room_member(auth, id).await?;
        let q = self.message(auth, id, Kind::Question, qid).await?;
        if q.hidden {
            return Err(LiveError::QuestionHidden);
        }
        let now = self.clock.now();
        store::messages::vote(&self.db, qid, auth.id, now).await?;
        let view = self.message(auth, id, Kind::Question, qid).await?;
        self.publish_message(id, Kind::Question, &view);
        Ok(view)
    }

    async fn moderate(
        &self,
        auth: &AuthUser,
        id: OccurrenceId,
        kind: Kind,
        mid: MessageId,
        p: MessagePatch,
    ) -> LiveResult<MessageView> {
        let (_, series) = self.audience.occurrence_with_series(id).await?;
        if !self.audience.manages(auth, &series).await? {
            return Err(LiveError::NotSeriesManager { to_end: false });
        }
        let current = self.message(auth, id, kind, mid).await?;
        if p.answered.is_some() && kind == Kind::Chat {
            return Err(LiveError::field(
                "answered",
                msg("聊天消息不能标记为已回答。", "Only questions can be answered."),
            ));
        }
        let now = self.clock.now();
        let answered = p.answered.unwrap_or(current.answered);
        let answered_at = match (current.answered, answered) {
            (false, true) => Some(now),
            (_, false) => None,
            (true, true) => current.answered_at,
        };
        let hidden = p.hidden.unwrap_or(current.hidden);
        store::messages::moderate(&self.db, mid, answered, answered_at, hidden, auth.id).await?;
        let view = self.message(auth, id, kind, mid).await?;
        self.publish_message(id, kind, &view);
        Ok(view)
    }
}

pub(crate) fn router() -> ApiRouter<Messages> {
    ApiRouter::new()
        .routes(routes!(list_questions, ask))
        .routes(routes!(moderate_question))
        .routes(routes!(vote))
        .routes(routes!(list_messages, chat))
        .routes(routes!(moderate_message))
}

/// Questions, unanswered first by votes (hidden ones only for the expert and staff).
#[utoipa::path(get, path = "/api/v1/live/occurrences/{id}/questions", tag = "live", params(("id" = OccurrenceId, Path)),
    responses((status = 200, body = Vec<MessageView>), (status = 404)), security(("bearer" = [])))]
async fn list_questions(
    State(messages): State<Messages>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
) -> ApiResult<Json<Vec<MessageView>>> {
    Ok(Json(messages.list(&auth, id, Kind::Question).await?))
}

/// Ask a question (while live; enrolees and staff).
#[utoipa::path(post, path = "/api/v1/live/occurrences/{id}/questions", tag = "live", params(("id" = OccurrenceId, Path)),
    request_body = NewMessage,
    responses((status = 201, body = MessageView), (status = 403), (status = 409), (status = 422), (status = 429)), security(("bearer" = [])))]
async fn ask(
    State(messages): State<Messages>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
    Json(req): Json<NewMessage>,
) -> ApiResult<(StatusCode, Json<MessageView>)> {
    Ok((
        StatusCode::CREATED,
        Json(messages.post(&auth, id, Kind::Question, &req.text).await?),
    ))
}

/// Vote for a question (once per user).
#[utoipa::path(post, path = "/api/v1/live/occurrences/{id}/questions/{qid}/votes", tag = "live",
    params(("id" = OccurrenceId, Path), ("qid" = MessageId, Path)),
    responses((status = 201, body = MessageView), (status = 404), (status = 409)), security(("bearer" = [])))]
async fn vote(
    State(messages): State<Messages>,
    auth: AuthUser,
    Path((id, qid)): Path<(OccurrenceId, MessageId)>,
) -> ApiResult<(StatusCode, Json<MessageView>)> {
    Ok((StatusCode::CREATED, Json(messages.vote(&auth, id, qid).await?)))
}

/// Mark a question answered, or hide it (the expert and staff).
#[utoipa::path(patch, path = "/api/v1/live/occurrences/{id}/questions/{qid}", tag = "live",
    params(("id" = OccurrenceId, Path), ("qid" = MessageId, Path)), request_body = MessagePatch,
    responses((status = 200, body = MessageView), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn moderate_question(
    State(messages): State<Messages>,
    auth: AuthUser,
    Path((id, qid)): Path<(OccurrenceId, MessageId)>,
    Json(p): Json<MessagePatch>,
) -> ApiResult<Json<MessageView>> {
    Ok(Json(messages.moderate(&auth, id, Kind::Question, qid, p).await?))
}

/// Chat messages, newest first.
#[utoipa::path(get, path = "/api/v1/live/occurrences/{id}/messages", tag = "live", params(("id" = OccurrenceId, Path)),
    responses((status = 200, body = Vec<MessageView>), (status = 404)), security(("bearer" = [])))]
async fn list_messages(
    State(messages): State<Messages>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
) -> ApiResult<Json<Vec<MessageView>>> {
    Ok(Json(messages.list(&auth, id, Kind::Chat).await?))
}

/// Send a chat message (while live; enrolees and staff).
#[utoipa::path(post, path = "/api/v1/live/occurrences/{id}/messages", tag = "live", params(("id" = OccurrenceId, Path)),
    request_body = NewMessage,
    responses((status = 201, body = MessageView), (status = 403), (status = 409), (status = 422), (status = 429)), security(("bearer" = [])))]
async fn chat(
    State(messages): State<Messages>,
    auth: AuthUser,
    Path(id): Path<OccurrenceId>,
    Json(req): Json<NewMessage>,
) -> ApiResult<(StatusCode, Json<MessageView>)> {
    Ok((
        StatusCode::CREATED,
        Json(messages.post(&auth, id, Kind::Chat, &req.text).await?),
    ))
}

/// Hide a chat message (the expert and staff).
#[utoipa::path(patch, path = "/api/v1/live/occurrences/{id}/messages/{mid}", tag = "live",
    params(("id" = OccurrenceId, Path), ("mid" = MessageId, Path)), request_body = MessagePatch,
    responses((status = 200, body = MessageView), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn moderate_message(
    State(messages): State<Messages>,
    auth: AuthUser,
    Path((id, mid)): Path<(OccurrenceId, MessageId)>,
    Json(p): Json<MessagePatch>,
) -> ApiResult<Json<MessageView>> {
    Ok(Json(messages.moderate(&auth, id, Kind::Chat, mid, p).await?))
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn filtered_words_are_masked() {
        let words = vec!["广告".to_owned(), "spam".to_owned(), " ".to_owned()];
        assert_eq!(
            mask("加微信看广告，SPAM spam", &words),
            "加微信看＊＊，＊＊＊＊ ＊＊＊＊"
        );
        assert_eq!(mask("老师好", &words), "老师好");
    }
}
