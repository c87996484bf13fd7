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
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::{broadcast, mpsc, watch};
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
    register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::OccurrenceId;

platform::new_id!(
    /// A WHIP or WHEP session (the resource under `Location`).
    SessionId
);

/// Packets a viewer leg may fall behind by before it skips ahead.
const LEG_BUFFER: usize = 512;

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

/// Events a peer connection's handler passes on (callbacks run on the connection's driver and
/// must not block: they only feed channels).
struct Handler {
    gathering: watch::Sender<RTCIceGatheringState>,
    state: watch::Sender<RTCPeerConnectionState>,
    tracks: mpsc::UnboundedSender<Arc<dyn TrackRemote>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, s: RTCIceGatheringState) {
        let _ = self.gathering.send(s);
    }
    async fn on_connection_state_change(&self, s: RTCPeerConnectionState) {
        let _ = self.state.send(s);
    }
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.tracks.send(track);
    }
}

struct Peer {
    /// The shared port's public address, for the answer's candidates (muxed connections).
    public: Option<std::net::SocketAddr>,
    pc: Arc<dyn PeerConnection>,
    gathering: watch::Receiver<RTCIceGatheringState>,
    state: watch::Receiver<RTCPeerConnectionState>,
}

/// A publisher track and the channel its packets fan out through (to viewer legs and the
/// recorder).
pub(crate) struct PubTrack {
    pub(crate) kind: RtpCodecKind,
    pub(crate) codec: RTCRtpCodec,
    media_ssrc: u32,
    remote: Arc<dyn TrackRemote>,
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

struct Publisher {
    session: SessionId,
    pc: Arc<dyn PeerConnection>,
    state: watch::Receiver<RTCPeerConnectionState>,
}

struct Viewer {
    /// `None` while the slot is reserved and the answer is being made.
    pc: Option<Arc<dyn PeerConnection>>,
    user: platform::ids::UserId,
    /// When the session was opened (Unix ms): the oldest of a user's gives way first.
    opened_ms: i64,
    /// Its media connected (it is counted and was reported as joined).
    joined: Arc<std::sync::atomic::AtomicBool>,
}

struct Room {
    publisher: Mutex<Option<Publisher>>,
    tracks: watch::Sender<Vec<Arc<PubTrack>>>,
    /// Which kinds the publisher's offer carries (so viewers wait for all of them).
    expected: Mutex<(bool, bool)>,
    viewers: Mutex<HashMap<SessionId, Viewer>>,
    viewer_count: AtomicUsize,
    /// When the publisher's last packet arrived (Unix ms): a silent publisher is stale.
    last_media_ms: AtomicI64,
}

/// A publisher that sent nothing for this long (or whose connection dropped) may be replaced
/// by a new one: its network dropped and the expert publishes again.
/// (A new publisher counts as sending from its `POST`.)
const STALE_PUBLISHER_MS: i64 = 3_000;

impl Publisher {
    fn stale(&self, room: &Room) -> bool {
        matches!(
            *self.state.borrow(),
            RTCPeerConnectionState::Disconnected | RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
        ) || unix_ms() - room.last_media_ms.load(Ordering::Relaxed) > STALE_PUBLISHER_MS
    }
}

impl Room {
    fn publisher_replaceable(&self) -> bool {
        self.publisher
            .lock()
            .map(|p| p.as_ref().is_none_or(|p| p.stale(self)))
            .unwrap_or(false)
    }

    /// The current publisher track of a kind other than `not` (waits for one; `None` once the
    /// room is gone).
    async fn next_track(
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

fn codec(mime: &str, clock_rate: u32, channels: u16, fmtp: &str, feedback: bool) -> RTCRtpCodec {
    use rtc::rtp_transceiver::rtp_sender::RTCPFeedback;
    let fb = |t: &str, p: &str| RTCPFeedback {
        typ: t.into(),
        parameter: p.into(),
    };
    RTCRtpCodec {
        mime_type: mime.into(),
        clock_rate,
        channels,
        sdp_fmtp_line: fmtp.into(),
        rtcp_feedback: if feedback {
            vec![fb("nack", ""), fb("nack", "pli"), fb("ccm", "fir"), fb("goog-remb", "")]
        } else {
            Vec::new()
        },
    }
}

/// Opus, H.264 (the profiles browsers offer, packetization mode 1) and VP8.
fn media_engine() -> Result<MediaEngine, SfuError> {
    let mut me = MediaEngine::default();
    let mut add = |pt: u8, c: RTCRtpCodec, kind: RtpCodecKind| {
        me.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: c,
                payload_type: pt,
            },
            kind,
        )
        .map_err(rtc_err)
    };
    add(
        111,
        codec(MIME_TYPE_OPUS, 48000, 2, "minptime=10;useinbandfec=1", false),
        RtpCodecKind::Audio,
    )?;
    for (pt, profile) in [(102, "42e01f"), (104, "42001f"), (106, "4d001f"), (108, "64001f")] {
        add(
            pt,
            codec(
                MIME_TYPE_H264,
                90000,
                0,
                &format!("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id={profile}"),
                true,
            ),
            RtpCodecKind::Video,
        )?;
    }
    add(96, codec(MIME_TYPE_VP8, 90000, 0, "", true), RtpCodecKind::Video)?;
    Ok(me)
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

    fn room(&self, occ: OccurrenceId) -> Arc<Room> {
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

    fn existing_room(&self, occ: OccurrenceId) -> Option<Arc<Room>> {
        self.rooms.lock().ok()?.get(&occ).cloned()
    }

    /// Viewers connected to the occurrence on this node.
    pub fn viewer_count(&self, occ: OccurrenceId) -> usize {
        self.existing_room(occ)
            .map_or(0, |r| r.viewer_count.load(Ordering::Relaxed))
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

    async fn peer(&self) -> Result<(Peer, mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>), SfuError> {
        let mut me = media_engine()?;
        let registry = register_default_interceptors(Registry::new(), &mut me).map_err(rtc_err)?;
        let mut se = SettingEngineBuilder::new();
        let mut runtime = None;
        if let Some(mux) = &self.cfg.mux {
            // The ufrag routes the connection's datagrams on the shared port.
            let ufrag = crate::udp_mux::new_ufrag();
            se = se.with_ice_credentials(ufrag.clone(), platform::auth::random_token());
            runtime = Some(Arc::new(crate::udp_mux::MuxRuntime::new(mux.clone(), ufrag)));
        }
        let se = se
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_network_types(vec![NetworkType::Udp4])
            // Notice a vanished peer within half a minute. Browsers check consent every few
            // seconds (RFC 7675), so "disconnected" must allow for more than one missed check.
            .with_ice_timeouts(
                Some(Duration::from_secs(10)),
                Some(Duration::from_secs(20)),
                Some(Duration::from_secs(2)),
            )
            .build();
        let (g_tx, g_rx) = watch::channel(RTCIceGatheringState::New);
        let (s_tx, s_rx) = watch::channel(RTCPeerConnectionState::New);
        let (t_tx, t_rx) = mpsc::unbounded_channel();
        let mut builder = PeerConnectionBuilder::new();
        let udp_addrs = match runtime {
            Some(rt) => {
                builder = builder.with_runtime(rt);
                // The placeholder each muxed connection binds (see `udp_mux`).
                vec!["127.0.0.1:0".to_owned()]
            }
            None => self.cfg.udp_addrs.clone(),
        };
        let pc = builder
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(me)
            .with_setting_engine(se)
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(Handler {
                gathering: g_tx,
                state: s_tx,
                tracks: t_tx,
            }))
            .with_udp_addrs(udp_addrs)
            .build()
            .await
            .map_err(rtc_err)?;
        Ok((
            Peer {
                public: self.cfg.mux.as_ref().map(|m| m.public_addr()),
                pc: Arc::new(pc),
                gathering: g_rx,
                state: s_rx,
            },
            t_rx,
        ))
    }

    /// Answers an offer without trickle ICE (the answer carries every candidate).
    async fn answer(peer: &Peer, offer: String) -> Result<String, SfuError> {
        let desc = RTCSessionDescription::offer(offer).map_err(rtc_err)?;
        peer.pc.set_remote_description(desc).await.map_err(rtc_err)?;
        let answer = peer.pc.create_answer(None).await.map_err(rtc_err)?;
        peer.pc.set_local_description(answer).await.map_err(rtc_err)?;
        let mut g = peer.gathering.clone();
        tokio::time::timeout(
            Duration::from_secs(5),
            g.wait_for(|s| *s == RTCIceGatheringState::Complete),
        )
        .await
        .map_err(|_| SfuError::Gathering)?
        .map_err(|_| SfuError::Gathering)?;
        let sdp = peer.pc.local_description().await.ok_or(SfuError::Gathering)?.sdp;
        Ok(match peer.public {
            Some(public) => crate::udp_mux::rewrite_candidates(&sdp, public),
            None => sdp,
        })
    }

    /// WHIP: takes the publisher's offer (checked by `sdp::inspect` first), answers it, and
    /// starts fanning out its tracks. One publisher per room.
    pub async fn publish(
        &self,
        occ: OccurrenceId,
        offer: String,
        audio: bool,
        video: bool,
    ) -> Result<(SessionId, String), SfuError> {
        let room = self.room(occ);
        if !room.publisher_replaceable() {
            return Err(SfuError::PublisherActive);
        }
        let (peer, mut tracks_rx) = self.peer().await?;
        let answer = match Self::answer(&peer, offer).await {
            Ok(a) => a,
            Err(e) => {
                let _ = peer.pc.close().await;
                return Err(e);
            }
        };
        if !answer.lines().any(|l| l.starts_with("a=rtpmap:")) {
            let _ = peer.pc.close().await;
            return Err(SfuError::Codecs("nothing negotiated".into()));
        }
        let session = SessionId::new();
        let replaced = {
            let mut slot = room.publisher.lock().unwrap_or_else(|p| p.into_inner());
            if slot.as_ref().is_some_and(|p| !p.stale(&room)) {
                None
            } else {
                Some(slot.replace(Publisher {
                    session,
                    pc: peer.pc.clone(),
                    state: peer.state.clone(),
                }))
            }
        };
        let Some(stale) = replaced else {
            let _ = peer.pc.close().await;
            return Err(SfuError::PublisherActive);
        };
        *room.expected.lock().unwrap_or_else(|p| p.into_inner()) = (audio, video);
        room.last_media_ms.store(unix_ms(), Ordering::Relaxed);
        // Viewers' legs and the recorder follow the room's tracks: they wait for the new
        // publisher's tracks and carry on with a fresh keyframe.
        room.tracks.send_replace(Vec::new());
        if let Some(old) = stale {
            tracing::info!(%occ, old = %old.session, new = %session, "a new publisher replaced a stale one");
            tokio::spawn(async move {
                let _ = old.pc.close().await;
            });
        }
        // Tracks appear with their first packet: each gets a reader feeding its channel.
        let reader_room = room.clone();
        tokio::spawn(async move {
            while let Some(track) = tracks_rx.recv().await {
                let kind = track.kind().await;
                let Some(media_ssrc) = track.ssrcs().await.first().copied() else {
                    continue;
                };
                let Some(codec) = track.codec(media_ssrc).await else {
                    continue;
                };
                let t = Arc::new(PubTrack {
                    kind,
                    codec,
                    media_ssrc,
                    remote: track.clone(),
                    tx: broadcast::channel(LEG_BUFFER).0,
                });
                // A late track of a publisher that was replaced meanwhile is not this room's.
                let current = reader_room
                    .publisher
                    .lock()
                    .map(|p| p.as_ref().is_some_and(|p| p.session == session))
                    .unwrap_or(false);
                if !current {
                    break;
                }
                reader_room.tracks.send_modify(|v| v.push(t.clone()));
                let room = reader_room.clone();
                tokio::spawn(async move {
                    while let Some(ev) = t.remote.poll().await {
                        match ev {
                            // No receivers is fine: nobody watches yet.
                            TrackRemoteEvent::OnRtpPacket(pkt) => {
                                room.last_media_ms.store(unix_ms(), Ordering::Relaxed);
                                let _ = t.tx.send(pkt);
                            }
                            TrackRemoteEvent::OnEnded => break,
                            _ => {}
                        }
                    }
                });
            }
        });
        // A failed or closed publisher connection pauses the occurrence.
        let (sfu, mut state) = (self.clone(), peer.state.clone());
        tokio::spawn(async move {
            while state.changed().await.is_ok() {
                let s = *state.borrow_and_update();
                if matches!(s, RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed) {
                    if sfu.drop_publisher(occ, Some(session)).await {
                        let _ = sfu.events.send(SfuEvent::PublisherLost { occ, session });
                    }
                    break;
                }
            }
        });
        Ok((session, answer))
    }

    /// Closes the publisher's connection (`session`: only if it is that one). Returns whether
    /// one was closed.
    async fn drop_publisher(&self, occ: OccurrenceId, session: Option<SessionId>) -> bool {
        let Some(room) = self.existing_room(occ) else {
            return false;
        };
        let gone = {
            let mut slot = room.publisher.lock().unwrap_or_else(|p| p.into_inner());
            match slot.as_ref() {
                Some(p) if session.is_none_or(|s| s == p.session) => slot.take(),
                _ => None,
            }
        };
        let Some(p) = gone else {
            return false;
        };
        room.tracks.send_replace(Vec::new());
        let _ = p.pc.close().await;
        true
    }

    /// WHIP `DELETE`: the publisher stops (the occurrence pauses; viewers stay connected).
    pub async fn unpublish(&self, occ: OccurrenceId, session: SessionId) -> Result<(), SfuError> {
        if self.drop_publisher(occ, Some(session)).await {
            Ok(())
        } else {
            Err(SfuError::NoSession)
        }
    }

    /// WHEP: answers a viewer's (recvonly) offer with one leg per publisher track and starts
    /// forwarding once the viewer's connection is up.
    pub async fn subscribe(
        &self,
        occ: OccurrenceId,
        user: platform::ids::UserId,
        offer: String,
    ) -> Result<(SessionId, String), SfuError> {
        let room = self.existing_room(occ).ok_or(SfuError::NoMedia)?;
        // The slot is claimed under the room's lock, with the check: of offers arriving at
        // once only as many as fit get one. A user's newer session replaces their oldest.
        let session = SessionId::new();
        let replaced = {
            let mut viewers = room.viewers.lock().unwrap_or_else(|p| p.into_inner());
            let held: Vec<(SessionId, platform::ids::UserId, i64)> =
                viewers.iter().map(|(k, v)| (*k, v.user, v.opened_ms)).collect();
            let replaced = crate::slots::admit(&held, user, self.cfg.viewer_limit).ok_or(SfuError::Full)?;
            viewers.insert(
                session,
                Viewer {
                    pc: None,
                    user,
                    opened_ms: unix_ms(),
                    joined: Arc::new(std::sync::atomic::AtomicBool::new(false)),
                },
            );
            replaced
        };
        for old in replaced {
            if self.remove_viewer(occ, old).await {
                let _ = self.events.send(SfuEvent::ViewerLeft {
                    occ,
                    session: old,
                    gone_at_ms: None,
                });
            }
        }
        let result = self.answer_viewer(&room, occ, session, user, offer).await;
        if result.is_err() {
            room.viewers.lock().unwrap_or_else(|p| p.into_inner()).remove(&session);
        }
        result
    }

    /// The rest of [`Self::subscribe`], for the slot `session` reserved in `room`.
    async fn answer_viewer(
        &self,
        room: &Arc<Room>,
        occ: OccurrenceId,
        session: SessionId,
        user: platform::ids::UserId,
        offer: String,
    ) -> Result<(SessionId, String), SfuError> {
        // Wait for the publisher's tracks (they appear with its first packets).
        let (want_audio, want_video) = *room.expected.lock().unwrap_or_else(|p| p.into_inner());
        let mut tracks_rx = room.tracks.subscribe();
        let ready = |v: &Vec<Arc<PubTrack>>| {
            let has = |k| v.iter().any(|t| t.kind == k);
            !v.is_empty() && (!want_audio || has(RtpCodecKind::Audio)) && (!want_video || has(RtpCodecKind::Video))
        };
        let tracks = match tokio::time::timeout(self.cfg.media_wait, tracks_rx.wait_for(ready)).await {
            Ok(Ok(v)) => v.clone(),
            _ => {
                let v = room.tracks.borrow().clone();
                if v.is_empty() {
                    return Err(SfuError::NoMedia);
                }
                v
            }
        };
        let (peer, _) = self.peer().await?;
        let mut legs = Vec::new();
        for t in &tracks {
            let local = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
                format!("ps-{occ}"),
                format!(
                    "{}-{session}",
                    if t.kind == RtpCodecKind::Audio {
                        "audio"
                    } else {
                        "video"
                    }
                ),
                "parentschool".into(),
                t.kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(rand::random::<u32>()),
                        ..Default::default()
                    },
                    codec: t.codec.clone(),
                    ..Default::default()
                }],
            )));
            let sender = match peer.pc.add_track(local.clone() as Arc<dyn TrackLocal>).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = peer.pc.close().await;
                    return Err(rtc_err(e));
                }
            };
            legs.push((t.clone(), local, sender));
        }
        let answer = match Self::answer(&peer, offer).await {
            Ok(a) => a,
            Err(e) => {
                let _ = peer.pc.close().await;
                return Err(e);
            }
        };
        // Every leg must have its codec on this connection, or the viewer would get nothing.
        let mut params = Vec::new();
        for (t, local, sender) in legs {
            match leg_params(&sender, &t.codec).await {
                Some((ssrc, pt)) => params.push((t, local, ssrc, pt)),
                None if t.kind == RtpCodecKind::Video => {
                    let _ = peer.pc.close().await;
                    return Err(SfuError::Codecs(t.codec.mime_type.clone()));
                }
                None => {}
            }
        }
        // The slot may have been taken over meanwhile by a newer session of the same user.
        let joined = {
            let mut viewers = room.viewers.lock().unwrap_or_else(|p| p.into_inner());
            match viewers.get_mut(&session) {
                Some(v) => {
                    v.pc = Some(peer.pc.clone());
                    Some(v.joined.clone())
                }
                None => None,
            }
        };
        let Some(joined) = joined else {
            let _ = peer.pc.close().await;
            return Err(SfuError::Replaced);
        };
        let room_tracks = room.tracks.subscribe();
        let (sfu, mut state) = (self.clone(), peer.state.clone());
        tokio::spawn(async move {
            let mut connected_since: Option<i64> = None;
            let mut disconnected_at: Option<i64> = None;
            let mut forwarding = Vec::new();
            // A viewer that never connects (an offer whose ICE never finishes) frees its slot.
            let deadline = tokio::time::Instant::now() + sfu.cfg.connect_timeout;
            loop {
                let changed = if connected_since.is_none() {
                    match tokio::time::timeout_at(deadline, state.changed()).await {
                        Ok(changed) => changed,
                        Err(_) => {
                            tracing::debug!(%occ, %session, "viewer did not connect in time; slot freed");
                            break;
                        }
                    }
                } else {
                    state.changed().await
                };
                if changed.is_err() {
                    break;
                }
                let s = *state.borrow_and_update();
                let now_ms = unix_ms();
                tracing::debug!(%occ, %session, state = %s, "viewer connection");
                match s {
                    RTCPeerConnectionState::Connected => {
                        disconnected_at = None;
                        if connected_since.is_none() {
                            connected_since = Some(now_ms);
                            joined.store(true, Ordering::Relaxed);
                            for (t, local, ssrc, pt) in &params {
                                forwarding.push(tokio::spawn(forward(
                                    room_tracks.clone(),
                                    t.clone(),
                                    local.clone(),
                                    *ssrc,
                                    *pt,
                                )));
                                t.request_keyframe().await;
                            }
                            if let Some(room) = sfu.existing_room(occ) {
                                room.viewer_count.fetch_add(1, Ordering::Relaxed);
                            }
                            let _ = sfu.events.send(SfuEvent::ViewerJoined { occ, session, user });
                        }
                    }
                    RTCPeerConnectionState::Disconnected => {
                        disconnected_at.get_or_insert(now_ms);
                    }
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => break,
                    _ => {}
                }
            }
            for f in forwarding {
                f.abort();
            }
            // Whoever removes the viewer reports it (here, or `unsubscribe`, or `close_room`).
            if sfu.remove_viewer(occ, session).await {
                let _ = sfu.events.send(SfuEvent::ViewerLeft {
                    occ,
                    session,
                    gone_at_ms: disconnected_at,
                });
            }
        });
        Ok((session, answer))
    }

    /// Removes and closes a viewer; whoever removes it reports the leave.
    async fn remove_viewer(&self, occ: OccurrenceId, session: SessionId) -> bool {
        let Some(room) = self.existing_room(occ) else {
            return false;
        };
        let Some(v) = room.viewers.lock().unwrap_or_else(|p| p.into_inner()).remove(&session) else {
            return false;
        };
        if v.joined.load(Ordering::Relaxed) {
            room.viewer_count.fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(pc) = v.pc {
            let _ = pc.close().await;
        }
        true
    }

    /// WHEP `DELETE`: the viewer leaves (`user`: only their own session; `None` for staff).
    pub async fn unsubscribe(
        &self,
        occ: OccurrenceId,
        session: SessionId,
        user: Option<platform::ids::UserId>,
    ) -> Result<(), SfuError> {
        let room = self.existing_room(occ).ok_or(SfuError::NoSession)?;
        let owned = room
            .viewers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&session)
            .is_some_and(|v| user.is_none_or(|u| u == v.user));
        // Removed before closing: the viewer's own task then finds it gone and stays silent, so
        // the leave is reported once, at this moment.
        if !owned || !self.remove_viewer(occ, session).await {
            return Err(SfuError::NoSession);
        }
        let _ = self.events.send(SfuEvent::ViewerLeft {
            occ,
            session,
            gone_at_ms: None,
        });
        Ok(())
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

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The SSRC of our leg and the payload type the viewer negotiated for the publisher's codec.
async fn leg_params(sender: &Arc<dyn RtpSender>, codec: &RTCRtpCodec) -> Option<(u32, u8)> {
    let params = sender.get_parameters().await.ok()?;
    let ssrc = params.encodings.first()?.rtp_coding_parameters.ssrc?;
    let pt = params
        .rtp_parameters
        .codecs
        .iter()
        .find(|c| {
            c.rtp_codec.mime_type.eq_ignore_ascii_case(&codec.mime_type)
                && (!codec.mime_type.eq_ignore_ascii_case(MIME_TYPE_H264)
                    || fmtp_value(&c.rtp_codec.sdp_fmtp_line, "profile-level-id")
                        == fmtp_value(&codec.sdp_fmtp_line, "profile-level-id"))
        })
        .or_else(|| {
            params
                .rtp_parameters
                .codecs
                .iter()
                .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(&codec.mime_type))
        })?
        .payload_type;
    Some((ssrc, pt))
}

fn fmtp_value<'a>(fmtp: &'a str, key: &str) -> Option<&'a str> {
    fmtp.split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Keeps a leg's RTP sequence numbers and timestamps continuous when its source changes (a new
/// publisher replaced a stale one): the viewer's decoder sees one stream with a gap in time.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Continuity {
    seq_off: u16,
    ts_off: u32,
    /// Last sequence number and timestamp sent, and when (ms).
    last: Option<(u16, u32, i64)>,
    /// The next packet is the first of a new source.
    switching: bool,
}

impl Continuity {
    /// The next packets come from another source.
    pub(crate) fn switch(&mut self) {
        self.switching = true;
    }

    /// Rewrites one packet's sequence number and timestamp; `now_ms` and `clock_rate` place
    /// the new source's first packet after the old source's last one.
    pub(crate) fn apply(&mut self, seq: u16, ts: u32, now_ms: i64, clock_rate: u32) -> (u16, u32) {
        if self.switching {
            self.switching = false;
            if let Some((last_seq, last_ts, at)) = self.last {
                let gap = ((now_ms - at).max(1) as u64 * u64::from(clock_rate) / 1000) as u32;
                self.seq_off = last_seq.wrapping_add(1).wrapping_sub(seq);
                self.ts_off = last_ts.wrapping_add(gap.max(1)).wrapping_sub(ts);
            }
        }
        let out = (seq.wrapping_add(self.seq_off), ts.wrapping_add(self.ts_off));
        self.last = Some((out.0, out.1, now_ms));
        out
    }
}

/// Forwards a room's publisher track of one kind to one viewer leg until the leg closes,
/// following the room to a new publisher's track when one replaces the old.
async fn forward(
    mut tracks: watch::Receiver<Vec<Arc<PubTrack>>>,
    first: Arc<PubTrack>,
    local: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    pt: u8,
) {
    let (kind, mime) = (first.kind, first.codec.mime_type.clone());
    let mut t = first;
    let mut seq = Continuity::default();
    loop {
        let mut rx = t.tx.subscribe();
        loop {
            tokio::select! {
                r = rx.recv() => match r {
                    Ok(mut pkt) => {
                        let (s, ts) = seq.apply(pkt.header.sequence_number, pkt.header.timestamp, unix_ms(), t.codec.clock_rate);
                        pkt.header.sequence_number = s;
                        pkt.header.timestamp = ts;
                        pkt.header.ssrc = ssrc;
                        pkt.header.payload_type = pt;
                        pkt.header.extension = false;
                        pkt.header.extensions.clear();
                        pkt.header.extensions_padding = 0;
                        if local.write_rtp(pkt).await.is_err() {
                            return;
                        }
                    }
                    // Fell behind: skip to the present and get a fresh keyframe to decode from.
                    Err(broadcast::error::RecvError::Lagged(_)) => t.request_keyframe().await,
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                changed = tracks.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if !tracks.borrow_and_update().iter().any(|x| Arc::ptr_eq(x, &t)) {
                        break;
                    }
                }
            }
        }
        // The publisher went away: wait for the next one's track (the leg cannot change codec).
        let next = loop {
            match Room::next_track(&mut tracks, kind, Some(&t)).await {
                None => return,
                Some(n) if n.codec.mime_type.eq_ignore_ascii_case(&mime) => break n,
                Some(n) => {
                    tracing::info!(codec = %n.codec.mime_type, "the new publisher's codec differs; the leg waits");
                    // Wait for the tracks to change again.
                    if tracks.changed().await.is_err() {
                        return;
                    }
                }
            }
        };
        t = next;
        seq.switch();
        t.request_keyframe().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuity_across_sources() {
        let mut c = Continuity::default();
        assert_eq!(c.apply(100, 9000, 1_000, 90_000), (100, 9000));
        assert_eq!(c.apply(101, 12_000, 1_033, 90_000), (101, 12_000));
        // A new publisher starts with its own random numbers, half a second later.
        c.switch();
        let (s, ts) = c.apply(60_000, 4_000_000_000, 1_533, 90_000);
        assert_eq!(s, 102);
        assert_eq!(ts, 12_000 + 45_000);
        // Wrapping sequence numbers and timestamps keep counting on.
        let (s2, ts2) = c.apply(60_001, 4_000_003_000, 1_566, 90_000);
        assert_eq!((s2, ts2), (103, 12_000 + 45_000 + 3_000));
        let mut w = Continuity::default();
        w.apply(u16::MAX, u32::MAX, 0, 48_000);
        w.switch();
        assert_eq!(w.apply(7, 7, 20, 48_000), (0, 959));
    }

    #[test]
    fn fmtp_values() {
        let f = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";
        assert_eq!(fmtp_value(f, "profile-level-id"), Some("42e01f"));
        assert_eq!(fmtp_value(f, "PACKETIZATION-MODE"), Some("1"));
        assert_eq!(fmtp_value("", "profile-level-id"), None);
    }
}
