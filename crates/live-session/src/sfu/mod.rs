//! The SFU: one room per live occurrence, one publisher (WHIP) and any number of viewers
//! (WHEP), on the `webrtc` crate. The publisher's RTP is forwarded to every viewer without
//! transcoding: each publisher track feeds a broadcast channel; each viewer leg reads it and
//! rewrites SSRC and payload type to the leg's own (and drops header extensions the leg did not
//! negotiate), or the stack drops the packets silently. A viewer that falls behind skips ahead
//! (and asks for a keyframe) instead of stalling anyone; a joining viewer triggers a PLI to the
//! publisher so the first picture comes at once. NACK/retransmission and receiver reports come
//! from the crate's default interceptors. Peer connections are closed explicitly (on failure,
//! on `DELETE`, when the room closes): dropping one does not free its socket.
//!
//! The SFU knows nothing of enrolment or attendance: it reports what happens as [`SfuEvent`]s.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::OccurrenceId;

mod forward;
mod peer;
mod publish;
mod room;
mod subscribe;

pub(crate) use forward::*;
pub(crate) use room::*;

platform::new_id!(
    /// A WHIP or WHEP session (the resource under `Location`).
    SessionId
);

/// What happened in a room, for the domain to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SfuEvent {
    /// The publisher's connection failed or closed (not after an explicit unpublish).
    PublisherLost { occ: OccurrenceId, session: SessionId },
    /// A viewer's media is connected.
    ViewerJoined {
        occ: OccurrenceId,
        session: SessionId,
        user: platform::ids::UserId,
    },
    /// A viewer left (`DELETE`, failure, or the room closed); `gone_at_ms` is when it was last
    /// known connected (Unix ms), so a vanished phone is not credited the ICE timeout.
    ViewerLeft {
        occ: OccurrenceId,
        session: SessionId,
        gone_at_ms: Option<i64>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SfuError {
    #[error("a publisher is already live")]
    PublisherActive,
    #[error("no publisher media yet")]
    NoMedia,
    #[error("no such session")]
    NoSession,
    #[error("the room has as many WebRTC viewers as it may")]
    Full,
    #[error("a newer session of the same viewer took the slot")]
    Replaced,
    #[error("the offer offers no codec we forward ({0})")]
    Codecs(String),
    #[error("webrtc: {0}")]
    WebRtc(String),
    #[error("ICE gathering did not finish")]
    Gathering,
}

fn rtc_err(e: impl std::fmt::Display) -> SfuError {
    SfuError::WebRtc(e.to_string())
}

/// Network settings of the SFU's peer connections.
#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// Local UDP addresses to bind per connection (`127.0.0.1:0`, `0.0.0.0:0`).
    pub udp_addrs: Vec<String>,
    /// How long a viewer waits for the publisher's first packets.
    pub media_wait: Duration,
    /// WebRTC viewers per room (0: no limit); more watch through live HLS.
    pub viewer_limit: usize,
    /// A viewer whose media has not connected this long after its answer frees its slot.
    pub connect_timeout: Duration,
    /// One shared UDP port for every connection (else a socket per connection on `udp_addrs`).
    pub mux: Option<Arc<crate::udp_mux::UdpMux>>,
}

/// The rooms of this node.
#[derive(Clone)]
pub struct Sfu {
    cfg: Arc<SfuConfig>,
    rooms: Arc<Mutex<HashMap<OccurrenceId, Arc<Room>>>>,
    events: mpsc::UnboundedSender<SfuEvent>,
}

impl std::fmt::Debug for Sfu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sfu").field("rooms", &self.room_count()).finish()
    }
}

impl Sfu {
    /// The SFU and the receiver of its events (the domain consumes them).
    pub fn new(cfg: SfuConfig) -> (Self, mpsc::UnboundedReceiver<SfuEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self {
                cfg: Arc::new(cfg),
                rooms: Arc::default(),
                events: tx,
            },
            rx,
        )
    }

    /// The same SFU with every new connection on the shared port `mux` (before any room opens).
    pub fn with_mux(self, mux: Arc<crate::udp_mux::UdpMux>) -> Self {
        let mut cfg = (*self.cfg).clone();
        cfg.mux = Some(mux);
        Self {
            cfg: Arc::new(cfg),
            ..self
        }
    }

    fn room_count(&self) -> usize {
        self.rooms.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Viewers connected to the occurrence on this node.
    pub fn viewer_count(&self, occ: OccurrenceId) -> usize {
        self.existing_room(occ)
            .map_or(0, |r| r.viewer_count.load(Ordering::Relaxed))
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
