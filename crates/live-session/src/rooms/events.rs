//! Event streams of open pages, as Server-Sent Events, and the tickets that open them:
//! `EventSource` cannot send an `Authorization` header, so a page first asks for a short-lived
//! ticket scoped to one occurrence (HMAC-signed, no table) and opens `…/events?ticket=…`. The
//! same ticket works as the Bearer token of WHEP for players embedded elsewhere. On connect the
//! stream starts with the current state; a comment every 15 s keeps proxies from closing it,
//! and the state is re-read then so a node that did not see a change still tells its viewers.

use std::convert::Infallible;
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

use super::Rooms;
use crate::LiveError;
use crate::OccurrenceId;
use crate::events::{LiveEvent, StreamSlot};
use crate::lifecycle::LiveState;

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

impl Rooms {
    pub(crate) fn issue_ticket(&self, occ: OccurrenceId, user: UserId) -> Ticket {
        let exp = self.clock.now().unix_seconds() + self.ticket_seconds as i64;
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

pub(crate) fn router() -> ApiRouter<Rooms> {
    ApiRouter::new().routes(routes!(ticket)).routes(routes!(events))
}

/// A ticket for the live events stream (and WHEP from embedded players), valid a few minutes.
#[utoipa::path(post, path = "/api/v1/live/occurrences/{id}/tickets", tag = "live", params(("id" = OccurrenceId, Path)),
    responses((status = 200, body = Ticket), (status = 404)), security(("bearer" = [])))]
async fn ticket(State(rooms): State<Rooms>, auth: AuthUser, Path(id): Path<OccurrenceId>) -> ApiResult<Json<Ticket>> {
    let (_, s) = rooms.audience.occurrence_with_series(id).await?;
    if !rooms.audience.manages(&auth, &s).await? && !rooms.audience.in_audience(auth.id, s.scope_org_id).await? {
        return Err(LiveError::OccurrenceNotFound.into());
    }
    Ok(Json(rooms.issue_ticket(id, auth.id)))
}

/// Server-Sent Events of one occurrence: `state` and `viewers` events (JSON data).
#[utoipa::path(get, path = "/api/v1/live/occurrences/{id}/events", tag = "live",
    params(("id" = OccurrenceId, Path), TicketQuery),
    responses((status = 200, content_type = "text/event-stream", body = LiveEvent), (status = 401), (status = 404)))]
async fn events(
    State(rooms): State<Rooms>,
    Path(id): Path<OccurrenceId>,
    Query(q): Query<TicketQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let user = rooms.check_ticket(id, &q.ticket).ok_or_else(bad_ticket)?;
    let occ = rooms.audience.occurrence_row(id).await?;
    let slot = rooms.events.open_stream(id, user, rooms.clock.now().0);
    let rx = rooms
        .events
        .subscribe(id)
        .ok_or_else(|| LiveError::Internal(anyhow::anyhow!("events lock poisoned")))?;
    let first = LiveEvent::State { state: occ.state };
    let viewers = LiveEvent::Viewers {
        count: rooms.viewer_total(id),
    };
    struct S {
        rooms: Rooms,
        id: OccurrenceId,
        rx: broadcast::Receiver<LiveEvent>,
        pending: Vec<LiveEvent>,
        last_state: Option<LiveState>,
        slot: StreamSlot,
    }
    let init = S {
        rooms: rooms.clone(),
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
                    if let Ok(occ) = s.rooms.audience.occurrence_row(s.id).await {
                        s.pending.push(LiveEvent::State { state: occ.state });
                    }
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
