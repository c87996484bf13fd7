//! Live events for open pages: the occurrence's state, viewer count, chat messages and
//! questions, on per-occurrence broadcast channels of this node. A user keeps at most
//! [`crate::slots::SESSIONS_PER_USER`] streams per occurrence on a node: a newer one ends the
//! oldest. The streams themselves (Server-Sent Events, with their tickets) are the rooms'.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use platform::ids::UserId;
use serde::Serialize;
use tokio::sync::broadcast;
use utoipa::ToSchema;

use crate::OccurrenceId;
use crate::lifecycle::LiveState;

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
pub(crate) struct StreamSlot {
    streams: Arc<Mutex<StreamMap>>,
    key: (OccurrenceId, UserId),
    id: u64,
    pub(crate) end: Arc<tokio::sync::Notify>,
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
    pub(crate) fn open_stream(&self, occ: OccurrenceId, user: UserId, now_ms: i64) -> StreamSlot {
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

    pub(crate) fn subscribe(&self, occ: OccurrenceId) -> Option<broadcast::Receiver<LiveEvent>> {
        let mut map = self.channels.lock().ok()?;
        Some(map.entry(occ).or_insert_with(|| broadcast::channel(64).0).subscribe())
    }
}
