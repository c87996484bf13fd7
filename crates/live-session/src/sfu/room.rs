//! A room per occurrence: its publisher's tracks, its viewers, and who may replace a publisher
//! that went quiet.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RtpCodecKind};
use tokio::sync::{broadcast, watch};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{PeerConnection, RTCIceGatheringState, RTCPeerConnectionState};

use super::*;
use crate::OccurrenceId;

pub(super) struct Peer {
    /// The shared port's public address, for the answer's candidates (muxed connections).
    pub(super) public: Option<std::net::SocketAddr>,
    pub(super) pc: Arc<dyn PeerConnection>,
    pub(super) gathering: watch::Receiver<RTCIceGatheringState>,
    pub(super) state: watch::Receiver<RTCPeerConnectionState>,
}

/// A publisher track and the channel its packets fan out through (to viewer legs and the
/// recorder).
pub(crate) struct PubTrack {
    pub(crate) kind: RtpCodecKind,
    pub(crate) codec: RTCRtpCodec,
    pub(super) media_ssrc: u32,
    pub(super) remote: Arc<dyn TrackRemote>,
    pub(crate) tx: broadcast::Sender<rtp::Packet>,
}

impl PubTrack {
    pub(crate) async fn request_keyframe(&self) {
        if self.kind == RtpCodecKind::Video {
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: self.media_ssrc,
            };
            // Bounded: a write to a publisher whose connection just closed may never finish.
            let _ = tokio::time::timeout(Duration::from_millis(500), self.remote.write_rtcp(vec![Box::new(pli)])).await;
        }
    }
}

pub(super) struct Publisher {
    pub(super) session: SessionId,
    pub(super) pc: Arc<dyn PeerConnection>,
    pub(super) state: watch::Receiver<RTCPeerConnectionState>,
}

pub(super) struct Viewer {
    /// `None` while the slot is reserved and the answer is being made.
    pub(super) pc: Option<Arc<dyn PeerConnection>>,
    pub(super) user: platform::ids::UserId,
    /// When the session was opened (Unix ms): the oldest of a user's gives way first.
    pub(super) opened_ms: i64,
    /// Its media connected (it is counted and was reported as joined).
    pub(super) joined: Arc<std::sync::atomic::AtomicBool>,
}

pub(super) struct Room {
    pub(super) publisher: Mutex<Option<Publisher>>,
    pub(super) tracks: watch::Sender<Vec<Arc<PubTrack>>>,
    /// Which kinds the publisher's offer carries (so viewers wait for all of them).
    pub(super) expected: Mutex<(bool, bool)>,
    pub(super) viewers: Mutex<HashMap<SessionId, Viewer>>,
    pub(super) viewer_count: AtomicUsize,
    /// When the publisher's last packet arrived (Unix ms): a silent publisher is stale.
    pub(super) last_media_ms: AtomicI64,
}

/// A publisher that sent nothing for this long (or whose connection dropped) may be replaced
/// by a new one: its network dropped and the expert publishes again.
/// (A new publisher counts as sending from its `POST`.)
pub(super) const STALE_PUBLISHER_MS: i64 = 3_000;

/// Whether a publisher whose connection is in `state` and whose last packet arrived at
/// `last_media_ms` may be replaced at `now_ms` (time is passed in, so this is a pure rule).
pub(super) fn publisher_stale(state: RTCPeerConnectionState, last_media_ms: i64, now_ms: i64) -> bool {
    matches!(
        state,
        RTCPeerConnectionState::Disconnected | RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
    ) || now_ms - last_media_ms > STALE_PUBLISHER_MS
}

impl Publisher {
    pub(super) fn stale(&self, room: &Room, now_ms: i64) -> bool {
        publisher_stale(*self.state.borrow(), room.last_media_ms.load(Ordering::Relaxed), now_ms)
    }
}

impl Room {
    pub(super) fn publisher_replaceable(&self, now_ms: i64) -> bool {
        self.publisher
            .lock()
            .map(|p| p.as_ref().is_none_or(|p| p.stale(self, now_ms)))
            .unwrap_or(false)
    }

    /// The current publisher track of a kind other than `not` (waits for one; `None` once the
    /// room is gone).
    pub(super) async fn next_track(
        tracks: &mut watch::Receiver<Vec<Arc<PubTrack>>>,
        kind: RtpCodecKind,
        not: Option<&Arc<PubTrack>>,
    ) -> Option<Arc<PubTrack>> {
        let pick = |v: &Vec<Arc<PubTrack>>| {
            v.iter()
                .find(|t| t.kind == kind && not.is_none_or(|n| !Arc::ptr_eq(n, t)))
                .cloned()
        };
        let found = tracks.wait_for(|v| pick(v).is_some()).await.ok()?;
        pick(&found)
    }
}

impl Sfu {
    pub(super) fn room(&self, occ: OccurrenceId) -> Arc<Room> {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        rooms
            .entry(occ)
            .or_insert_with(|| {
                Arc::new(Room {
                    publisher: Mutex::new(None),
                    tracks: watch::channel(Vec::new()).0,
                    expected: Mutex::new((false, false)),
                    viewers: Mutex::default(),
                    viewer_count: AtomicUsize::new(0),
                    last_media_ms: AtomicI64::new(0),
                })
            })
            .clone()
    }

    pub(super) fn existing_room(&self, occ: OccurrenceId) -> Option<Arc<Room>> {
        self.rooms.lock().ok()?.get(&occ).cloned()
    }

    /// The room's publisher tracks as they come and go (empty between publishers and once the
    /// room closed); `None` when there is no room.
    pub(crate) fn tracks(&self, occ: OccurrenceId) -> Option<watch::Receiver<Vec<Arc<PubTrack>>>> {
        self.existing_room(occ).map(|r| r.tracks.subscribe())
    }

    /// The kinds (audio, video) the current publisher's offer carries.
    pub(crate) fn expected_kinds(&self, occ: OccurrenceId) -> (bool, bool) {
        self.existing_room(occ).map_or((false, false), |r| {
            *r.expected.lock().unwrap_or_else(|p| p.into_inner())
        })
    }

    /// Whether the occurrence has a room on this node (it closes when the lecture ends).
    pub fn room_open(&self, occ: OccurrenceId) -> bool {
        self.existing_room(occ).is_some()
    }

    /// Whether a publisher is connected to the occurrence on this node.
    pub fn has_publisher(&self, occ: OccurrenceId) -> bool {
        self.existing_room(occ)
            .is_some_and(|r| r.publisher.lock().map(|p| p.is_some()).unwrap_or(false))
    }

    /// Ends a room: the publisher and every viewer are disconnected.
    pub async fn close_room(&self, occ: OccurrenceId) {
        let Some(room) = self.rooms.lock().ok().and_then(|mut r| r.remove(&occ)) else {
            return;
        };
        // Legs and the recorder see the tracks go and find the room gone.
        room.tracks.send_replace(Vec::new());
        if let Some(p) = room.publisher.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let pc = p.pc;
            tokio::spawn(async move {
                let _ = pc.close().await;
            });
        }
        let viewers: Vec<(SessionId, Viewer)> =
            room.viewers.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
        room.viewer_count.store(0, Ordering::Relaxed);
        for (session, v) in viewers {
            if let Some(pc) = v.pc {
                let _ = pc.close().await;
            }
            let _ = self.events.send(SfuEvent::ViewerLeft {
                occ,
                session,
                gone_at_ms: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publisher_is_stale_when_silent_or_disconnected() {
        let live = RTCPeerConnectionState::Connected;
        assert!(!publisher_stale(live, 10_000, 10_000 + STALE_PUBLISHER_MS));
        assert!(publisher_stale(live, 10_000, 10_001 + STALE_PUBLISHER_MS));
        for dropped in [
            RTCPeerConnectionState::Disconnected,
            RTCPeerConnectionState::Failed,
            RTCPeerConnectionState::Closed,
        ] {
            assert!(publisher_stale(dropped, 10_000, 10_000));
        }
        assert!(!publisher_stale(RTCPeerConnectionState::Connecting, 10_000, 10_500));
    }
}
