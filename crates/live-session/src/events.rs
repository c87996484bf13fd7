//! Live events for open pages, as Server-Sent Events: the occurrence's state, viewer count,
//! chat messages and questions.
//! `EventSource` cannot send an `Authorization` header, so a page first asks for a short-lived
//! ticket scoped to one occurrence (HMAC-signed, no table) and opens
//! `…/events?ticket=…`. The same ticket works as the Bearer token of WHEP for players embedded
//! elsewhere. On connect the stream starts with the current state; a comment every 15 s keeps
//! proxies from closing it, and the state is re-read then so a node that did not see a
//! change (another node handled it) still tells its viewers. A user keeps at most
//! [`crate::slots::SESSIONS_PER_USER`] streams per occurrence on a node: a newer one ends the oldest.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use platform::Timestamp;
use platform::auth::AuthUser;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json, Path, Query};
use platform::ids::UserId;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::LiveError;
use crate::lifecycle::LiveState;
use crate::{Live, OccurrenceId};

/// What open pages are told.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    State {
        state: LiveState,
    },
    Viewers {
        count: usize,
    },
    /// A chat message was sent or changed (hidden).
    Message {
        message: crate::model::MessageView,
    },
    /// A question was asked or changed (votes, answered, hidden).
    Question {
        question: crate::model::MessageView,
    },
}

/// Per-occurrence broadcast channels of this node.
#[derive(Debug, Default, Clone)]
pub struct Events {
    channels: Arc<Mutex<HashMap<OccurrenceId, broadcast::Sender<LiveEvent>>>>,
    /// Open streams per occurrence and user: `(stream, opened_ms, told to end)`.
    streams: Arc<Mutex<StreamMap>>,
}

type StreamMap = HashMap<(OccurrenceId, UserId), Vec<(u64, i64, Arc<tokio::sync::Notify>)>>;

/// An open stream's place among its user's; leaving it (the stream ends) frees the place.
struct StreamSlot {
    streams: Arc<Mutex<StreamMap>>,
    key: (OccurrenceId, UserId),
    id: u64,
    end: Arc<tokio::sync::Notify>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut m = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = m.get_mut(&self.key) {
            v.retain(|(id, _, _)| *id != self.id);
            if v.is_empty() {
                m.remove(&self.key);
            }
        }
    }
}

impl Events {
    pub fn publish(&self, occ: OccurrenceId, event: LiveEvent) {
        if let Ok(mut map) = self.channels.lock() {
            if let Some(tx) = map.get(&occ) {
                if tx.send(event).is_err() {
                    // Nobody listens any more.
                    map.remove(&occ);
                }
            }
        }
    }

    /// Takes a stream place for `user`, ending their oldest stream beyond the per-user limit.
    fn open_stream(&self, occ: OccurrenceId, user: UserId, now_ms: i64) -> StreamSlot {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let end = Arc::new(tokio::sync::Notify::new());
        let mut m = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let mine = m.entry((occ, user)).or_default();
        let held: Vec<(u64, UserId, i64)> = mine.iter().map(|(k, t, _)| (*k, user, *t)).collect();
        let replaced = crate::slots::admit(&held, user, 0).unwrap_or_default();
        mine.retain(|(k, _, told)| {
            let go = replaced.contains(k);
            if go {
                told.notify_one();
            }
            !go
        });
        mine.push((id, now_ms, end.clone()));
        StreamSlot {
            streams: self.streams.clone(),
            key: (occ, user),
            id,
            end,
        }
    }

    fn subscribe(&self, occ: OccurrenceId) -> Option<broadcast::Receiver<LiveEvent>> {
        let mut map = self.channels.lock().ok()?;
        Some(map.entry(occ).or_insert_with(|| broadcast::channel(64).0).subscribe())
    }
}

/// A short-lived credential for one occurrence and one user.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ticket {
    pub ticket: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TicketQuery {
    pub ticket: String,
}

impl Live {
    pub(crate) fn issue_ticket(&self, occ: OccurrenceId, user: UserId) -> Ticket {
        let exp = self.clock.now().unix_seconds() + self.cfg.ticket_seconds as i64;
        let sig = self.signer.sign_until(&format!("ticket/{occ}/{user}"), exp);
        Ticket {
            ticket: format!("pst.{user}.{exp}.{sig}"),
            expires_at: Timestamp::from_unix_seconds(exp),
        }
    }

    /// The user a ticket was issued to, if it is valid for `occ` now.
    pub(crate) fn check_ticket(&self, occ: OccurrenceId, ticket: &str) -> Option<UserId> {
        let mut parts = ticket.strip_prefix("pst.")?.split('.');
        let (user, exp, sig) = (parts.next()?, parts.next()?, parts.next()?);
        let (user, exp): (UserId, i64) = (user.parse().ok()?, exp.parse().ok()?);
        let now = self.clock.now().unix_seconds();
        self.signer
            .verify_until(&format!("ticket/{occ}/{user}"), exp, now, sig)
            .then_some(user)
    }
}

fn bad_ticket() -> LiveError {
    LiveError::TicketInvalid { for_events: true }
}

pub(crate) fn router() -> ApiRouter<Live> {
    ApiRouter::new().routes(routes!(ticket)).routes(routes!(events))
}

/// A ticket for the live events stream (and WHEP from embedded players), valid a few minutes.
#[utoipa::path(post, path = "/api/v1/live/occurrences/{id}/tickets", tag = "live", params(("id" = OccurrenceId, Path)),
    responses((status = 200, body = Ticket), (status = 404)), security(("bearer" = [])))]
async fn ticket(State(live): State<Live>, auth: AuthUser, Path(id): Path<OccurrenceId>) -> ApiResult<Json<Ticket>> {
    let (_, s) = live.occurrence_with_series(id).await?;
    if !live.manages(&auth, &s).await? && !live.in_audience(auth.id, s.scope_org_id).await? {
        return Err(LiveError::OccurrenceNotFound.into());
    }
    Ok(Json(live.issue_ticket(id, auth.id)))
}

/// Server-Sent Events of one occurrence: `state` and `viewers` events (JSON data).
#[utoipa::path(get, path = "/api/v1/live/occurrences/{id}/events", tag = "live",
    params(("id" = OccurrenceId, Path), TicketQuery),
    responses((status = 200, content_type = "text/event-stream", body = LiveEvent), (status = 401), (status = 404)))]
async fn events(
    State(live): State<Live>,
    Path(id): Path<OccurrenceId>,
    Query(q): Query<TicketQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let user = live.check_ticket(id, &q.ticket).ok_or_else(bad_ticket)?;
    let occ = live.occurrence_row(id).await?;
    let slot = live.events.open_stream(id, user, live.clock.now().0);
    let rx = live
        .events
        .subscribe(id)
        .ok_or_else(|| LiveError::Internal(anyhow::anyhow!("events lock poisoned")))?;
    let first = LiveEvent::State {
        state: LiveState::parse(&occ.state),
    };
    let viewers = LiveEvent::Viewers {
        count: live.viewer_total(id),
    };
    struct S {
        live: Live,
        id: OccurrenceId,
        rx: broadcast::Receiver<LiveEvent>,
        pending: Vec<LiveEvent>,
        last_state: Option<LiveState>,
        slot: StreamSlot,
    }
    let init = S {
        live: live.clone(),
        id,
        rx,
        pending: vec![viewers, first],
        last_state: None,
        slot,
    };
    let stream = futures::stream::unfold(init, |mut s| async move {
        loop {
            if let Some(e) = s.pending.pop() {
                if let LiveEvent::State { state } = &e {
                    if s.last_state == Some(*state) {
                        continue;
                    }
                    s.last_state = Some(*state);
                }
                let ev = SseEvent::default()
                    .event(match e {
                        LiveEvent::State { .. } => "state",
                        LiveEvent::Viewers { .. } => "viewers",
                        LiveEvent::Message { .. } => "message",
                        LiveEvent::Question { .. } => "question",
                    })
                    .json_data(&e)
                    .unwrap_or_default();
                return Some((Ok(ev), s));
            }
            let end = s.slot.end.clone();
            let next = tokio::select! {
                // A newer stream of the same user took this one's place.
                _ = end.notified() => return None,
                next = tokio::time::timeout(Duration::from_secs(15), s.rx.recv()) => next,
            };
            match next {
                Ok(Ok(e)) => s.pending.push(e),
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                // Quiet for a while: re-read the state (another node may have changed it).
                Err(_) => {
                    if let Ok(occ) = s.live.occurrence_row(s.id).await {
                        s.pending.push(LiveEvent::State {
                            state: LiveState::parse(&occ.state),
                        });
                    }
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
