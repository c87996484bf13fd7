//! live-load: the load tool of the fan-out benchmark (`live-bench fanout` runs it as a separate
//! process), for a WHIP/WHEP WebRTC SFU (webrtc 0.21, async layer over `rtc`).
//!
//! One publisher (WHIP, sendonly Opus + VP8 with synthetic media) and N subscribers (WHEP,
//! recvonly), all bound to 127.0.0.1. Measures delivered packets, sequence-number loss and the
//! time for late joiners to see their first VP8 keyframe. Prints one JSON object on stdout;
//! everything else goes to stderr.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use clap::Parser;
use rand::Rng;
use tokio::sync::{Mutex, Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
    register_default_interceptors,
};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};

use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::interceptor::{Attribute, Interceptor, Packet as ChainPacket, Slot, StreamInfo, TaggedPacket};
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};

/// Timeout for every network step (HTTP request, ICE gathering, connection).
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// Subscribers set up concurrently.
const SETUP_CONCURRENCY: usize = 16;
/// Largest RTP payload we emit (keeps the whole packet, with header and any header
/// extensions the interceptors add, within 1200 bytes).
const MAX_RTP_PAYLOAD: usize = 1160;
const OPUS_PT: u8 = 111;
const VP8_PT: u8 = 96;
const VIDEO_FPS: u64 = 25;
const KEYFRAME_INTERVAL_FRAMES: u64 = 2 * VIDEO_FPS;

#[derive(Parser, Debug, Clone)]
#[command(name = "live-load", about = "WHIP/WHEP SFU fan-out load tool")]
struct Args {
    /// Server base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    base: String,
    /// Occurrence id
    #[arg(long)]
    occ: String,
    /// Bearer token of the publisher (and of every viewer without `--viewer-tokens-file`)
    #[arg(long)]
    token: String,
    /// Viewers' bearer tokens, one per line; viewer `i` (late joiners counted after the
    /// steady-state viewers) uses line `i / 2`, so each account holds two sessions, the most
    /// one user may
    #[arg(long)]
    viewer_tokens_file: Option<std::path::PathBuf>,
    /// Number of steady-state viewers
    #[arg(long)]
    viewers: usize,
    /// Steady-state duration in seconds (after all viewers are set up)
    #[arg(long)]
    seconds: u64,
    /// Publisher video bitrate
    #[arg(long, default_value_t = 500)]
    bitrate_kbps: u64,
    /// Viewers joining one by one (every 200 ms) to measure time to first keyframe
    #[arg(long, default_value_t = 20)]
    late_joiners: usize,
}

macro_rules! log {
    ($($t:tt)*) => {{
        eprintln!("[{:>8.3}] {}", START.elapsed().as_secs_f64(), format!($($t)*));
    }};
}

static START: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

// ============================================================================================
// Interceptor that lets inbound PLI/FIR reach the application (TrackLocal::poll).
// ============================================================================================
#[derive(Default)]
struct KeyframeRequestForwarder {
    read_q: VecDeque<TaggedPacket>,
    write_q: VecDeque<TaggedPacket>,
}

fn is_keyframe_request(p: &dyn rtc::rtcp::Packet) -> bool {
    let any = p.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

impl rtc::sansio::Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequestForwarder {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> std::result::Result<(), Self::Error> {
        if let ChainPacket::Rtcp(pkts) = &msg.message.packet {
            let keep: Vec<Box<dyn rtc::rtcp::Packet>> = pkts
                .iter()
                .filter(|p| is_keyframe_request(p.as_ref()))
                .cloned()
                .collect();
            if keep.is_empty() {
                return Ok(());
            }
            msg.message.packet = ChainPacket::Rtcp(keep);
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read_q.push_back(msg);
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read_q.pop_front()
    }
    fn handle_write(&mut self, msg: TaggedPacket) -> std::result::Result<(), Self::Error> {
        self.write_q.push_back(msg);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write_q.pop_front()
    }
}

impl Interceptor for KeyframeRequestForwarder {
    fn bind_local_stream(&mut self, _: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _: &StreamInfo) {}
}

// ============================================================================================
// Peer connections
// ============================================================================================
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
    pc: Arc<dyn PeerConnection>,
    gathering: watch::Receiver<RTCIceGatheringState>,
    state: watch::Receiver<RTCPeerConnectionState>,
    tracks: Mutex<mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>>,
}

fn codec(mime: &str, clock_rate: u32, channels: u16, fmtp: &str, video: bool) -> RTCRtpCodec {
    let fb = |t: &str, p: &str| RTCPFeedback {
        typ: t.into(),
        parameter: p.into(),
    };
    RTCRtpCodec {
        mime_type: mime.into(),
        clock_rate,
        channels,
        sdp_fmtp_line: fmtp.into(),
        rtcp_feedback: if video {
            vec![fb("nack", ""), fb("nack", "pli"), fb("ccm", "fir")]
        } else {
            Vec::new()
        },
    }
}

fn opus_codec() -> RTCRtpCodec {
    codec(MIME_TYPE_OPUS, 48000, 2, "minptime=10;useinbandfec=1", false)
}

fn vp8_codec() -> RTCRtpCodec {
    codec(MIME_TYPE_VP8, 90000, 0, "", true)
}

async fn new_peer() -> Result<Peer> {
    let mut me = MediaEngine::default();
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: opus_codec(),
            payload_type: OPUS_PT,
        },
        RtpCodecKind::Audio,
    )
    .map_err(|e| anyhow!("register opus: {e}"))?;
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: vp8_codec(),
            payload_type: VP8_PT,
        },
        RtpCodecKind::Video,
    )
    .map_err(|e| anyhow!("register vp8: {e}"))?;
    let registry = register_default_interceptors(Registry::new(), &mut me)
        .map_err(|e| anyhow!("interceptors: {e}"))?
        .with(Slot::from(14_000), KeyframeRequestForwarder::default());
    let se = SettingEngineBuilder::new()
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .with_network_types(vec![NetworkType::Udp4])
        .build();
    let (g_tx, g_rx) = watch::channel(RTCIceGatheringState::New);
    let (s_tx, s_rx) = watch::channel(RTCPeerConnectionState::New);
    let (t_tx, t_rx) = mpsc::unbounded_channel();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(me)
        .with_setting_engine(se)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(Handler {
            gathering: g_tx,
            state: s_tx,
            tracks: t_tx,
        }))
        .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
        .build()
        .await
        .map_err(|e| anyhow!("build peer connection: {e}"))?;
    Ok(Peer {
        pc: Arc::new(pc),
        gathering: g_rx,
        state: s_rx,
        tracks: Mutex::new(t_rx),
    })
}

impl Peer {
    /// Non-trickle offer: create, set local, wait for gathering to complete.
    async fn offer(&self) -> Result<String> {
        let offer = self
            .pc
            .create_offer(None)
            .await
            .map_err(|e| anyhow!("create_offer: {e}"))?;
        self.pc
            .set_local_description(offer)
            .await
            .map_err(|e| anyhow!("set_local_description: {e}"))?;
        let mut g = self.gathering.clone();
        tokio::time::timeout(STEP_TIMEOUT, g.wait_for(|s| *s == RTCIceGatheringState::Complete))
            .await
            .context("ICE gathering timed out")?
            .map_err(|_| anyhow!("peer connection gone during gathering"))?;
        Ok(self.pc.local_description().await.context("no local description")?.sdp)
    }

    async fn set_answer(&self, sdp: String) -> Result<()> {
        let desc = RTCSessionDescription::answer(sdp).map_err(|e| anyhow!("bad answer: {e}"))?;
        self.pc
            .set_remote_description(desc)
            .await
            .map_err(|e| anyhow!("set_remote_description: {e}"))
    }

    async fn wait_connected(&self) -> Result<()> {
        let mut s = self.state.clone();
        let st = tokio::time::timeout(
            STEP_TIMEOUT,
            s.wait_for(|s| {
                matches!(
                    s,
                    RTCPeerConnectionState::Connected | RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
                )
            }),
        )
        .await
        .context("connection timed out")?
        .map_err(|_| anyhow!("peer connection gone"))?;
        match *st {
            RTCPeerConnectionState::Connected => Ok(()),
            other => bail!("connection {other}"),
        }
    }

    async fn close(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.pc.close()).await;
    }
}

// ============================================================================================
// WHIP / WHEP over HTTP
// ============================================================================================
#[derive(Clone)]
struct Http {
    client: reqwest::Client,
    base: reqwest::Url,
    occ: String,
    token: String,
}

impl Http {
    /// The same endpoints as viewer `i` of `tokens` (the publisher's token when there are none).
    fn viewer(&self, tokens: &[String], i: usize) -> Self {
        let mut http = self.clone();
        if !tokens.is_empty() {
            http.token = tokens[(i / 2) % tokens.len()].clone();
        }
        http
    }

    /// POST an SDP offer to `whip` or `whep`; returns (answer SDP, absolute session URL).
    async fn post_offer(&self, endpoint: &str, offer: String) -> Result<(String, reqwest::Url)> {
        let url = self
            .base
            .join(&format!("api/v1/live/occurrences/{}/{endpoint}", self.occ))
            .context("bad URL")?;
        let res = tokio::time::timeout(
            STEP_TIMEOUT,
            self.client
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/sdp")
                .bearer_auth(&self.token)
                .body(offer)
                .send(),
        )
        .await
        .with_context(|| format!("POST {endpoint} timed out"))?
        .with_context(|| format!("POST {endpoint}"))?;
        let status = res.status();
        let location = res
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = tokio::time::timeout(STEP_TIMEOUT, res.text())
            .await
            .with_context(|| format!("{endpoint} body timed out"))??;
        if status != reqwest::StatusCode::CREATED {
            bail!(
                "{endpoint}: HTTP {status}: {}",
                body.chars().take(300).collect::<String>()
            );
        }
        let location = location.with_context(|| format!("{endpoint}: 201 without Location"))?;
        // The server answers with an absolute path; resolve it against the request URL.
        let session = url.join(&location).context("bad Location")?;
        Ok((body, session))
    }

    /// Best-effort DELETE of a session.
    async fn delete(&self, session: &reqwest::Url) -> bool {
        match tokio::time::timeout(
            STEP_TIMEOUT,
            self.client.delete(session.clone()).bearer_auth(&self.token).send(),
        )
        .await
        {
            Ok(Ok(r)) if r.status().is_success() => true,
            Ok(Ok(r)) => {
                log!("DELETE {session}: HTTP {}", r.status());
                false
            }
            Ok(Err(e)) => {
                log!("DELETE {session}: {e}");
                false
            }
            Err(_) => {
                log!("DELETE {session}: timed out");
                false
            }
        }
    }
}

// ============================================================================================
// Publisher
// ============================================================================================
#[derive(Default)]
struct PubStats {
    video_sent: AtomicU64,
    audio_sent: AtomicU64,
    keyframe_requests: AtomicU64,
    keyframe_wanted: AtomicBool,
    stop: AtomicBool,
}

struct Publisher {
    peer: Peer,
    session: reqwest::Url,
    tasks: JoinSet<()>,
}

fn new_local_track(kind: RtpCodecKind, codec: RTCRtpCodec) -> (u32, Arc<TrackLocalStaticRTP>) {
    let ssrc: u32 = rand::random();
    let name = if kind == RtpCodecKind::Audio { "audio" } else { "video" };
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "fanout-load".to_owned(),
        format!("fanout-{name}"),
        format!("fanout-{name}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    )));
    (ssrc, track)
}

async fn start_publisher(http: &Http, stats: Arc<PubStats>, bitrate_kbps: u64) -> Result<Publisher> {
    let peer = new_peer().await?;
    match publisher_inner(&peer, http, stats, bitrate_kbps).await {
        Ok((session, tasks)) => Ok(Publisher { peer, session, tasks }),
        Err(e) => {
            peer.close().await;
            Err(e)
        }
    }
}

async fn publisher_inner(
    peer: &Peer,
    http: &Http,
    stats: Arc<PubStats>,
    bitrate_kbps: u64,
) -> Result<(reqwest::Url, JoinSet<()>)> {
    let mut sends = Vec::new();
    for (kind, codec) in [(RtpCodecKind::Audio, opus_codec()), (RtpCodecKind::Video, vp8_codec())] {
        let mime = codec.mime_type.clone();
        let (ssrc, track) = new_local_track(kind, codec);
        let tr = peer
            .pc
            .add_transceiver_from_track(
                Arc::clone(&track) as Arc<dyn TrackLocal>,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Sendonly,
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| anyhow!("add_transceiver_from_track: {e}"))?;
        let sender = tr
            .sender()
            .await
            .map_err(|e| anyhow!("sender: {e}"))?
            .context("transceiver without sender")?;
        sends.push((kind, mime, ssrc, track, sender));
    }
    let offer = peer.offer().await?;
    let (answer, session) = http.post_offer("whip", offer).await?;
    log!("WHIP session {session}");
    let connected = async {
        peer.set_answer(answer).await?;
        peer.wait_connected().await
    }
    .await;
    if let Err(e) = connected {
        http.delete(&session).await;
        return Err(e.context("publisher connection"));
    }

    let mut tasks = JoinSet::new();
    for (kind, mime, ssrc, track, sender) in sends {
        let params = sender
            .get_parameters()
            .await
            .map_err(|e| anyhow!("get_parameters: {e}"))?;
        let pt = params
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(&mime))
            .map(|c| c.payload_type)
            .with_context(|| format!("{mime} not negotiated by the server"))?;
        log!("publisher sending {kind} ssrc={ssrc} pt={pt}");

        // Keyframe requests (PLI/FIR) about this sent track.
        let t = Arc::clone(&track);
        let st = Arc::clone(&stats);
        tasks.spawn(async move {
            while let Some(ev) = t.poll().await {
                let TrackLocalEvent::OnRtcpPacket(pkts) = ev else {
                    continue;
                };
                let n = pkts.iter().filter(|p| is_keyframe_request(p.as_ref())).count() as u64;
                if n > 0 {
                    st.keyframe_requests.fetch_add(n, Ordering::Relaxed);
                    st.keyframe_wanted.store(true, Ordering::Relaxed);
                }
            }
        });

        let st = Arc::clone(&stats);
        if kind == RtpCodecKind::Audio {
            tasks.spawn(send_audio(track, pt, ssrc, st));
        } else {
            tasks.spawn(send_video(track, pt, ssrc, st, bitrate_kbps));
        }
    }
    Ok((session, tasks))
}

fn rtp_packet(pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool, payload: Vec<u8>) -> rtp::Packet {
    rtp::Packet {
        header: rtp::header::Header {
            version: 2,
            marker,
            payload_type: pt,
            sequence_number: seq,
            timestamp: ts,
            ssrc,
            ..Default::default()
        },
        payload: Bytes::from(payload),
    }
}

/// 50 packets/s of ~80-byte Opus-like payloads, 20 ms (960 ticks at 48 kHz) apart.
async fn send_audio(track: Arc<TrackLocalStaticRTP>, pt: u8, ssrc: u32, st: Arc<PubStats>) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let (mut seq, mut ts): (u16, u32) = (rand::random(), rand::random());
    while !st.stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let mut payload = vec![0u8; 80];
        rand::thread_rng().fill(&mut payload[..]);
        payload[0] = 0x78; // TOC: config 15 (hybrid FB 20 ms), mono, one frame
        if track
            .write_rtp(rtp_packet(pt, seq, ts, ssrc, false, payload))
            .await
            .is_err()
        {
            break;
        }
        st.audio_sent.fetch_add(1, Ordering::Relaxed);
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(960);
    }
}

/// VP8 frame header: the 3-byte frame tag (P bit = lowest bit of the first byte, 0 for a
/// keyframe), then for keyframes the start code and a 640x360 size.
fn vp8_frame_header(key: bool, frame_len: usize) -> Vec<u8> {
    let first_part = (frame_len.min(0x7_FFFF) / 2) as u32;
    let tag: u32 = u32::from(!key) | (1 << 4) | (first_part << 5); // version 0, show_frame 1
    let mut v = vec![tag as u8, (tag >> 8) as u8, (tag >> 16) as u8];
    if key {
        v.extend_from_slice(&[0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01]);
    }
    v
}

/// 25 fps VP8-like frames totalling `bitrate_kbps` (keyframes 4x a delta frame), every 2 s a
/// keyframe and one on the next frame after any PLI/FIR.
async fn send_video(track: Arc<TrackLocalStaticRTP>, pt: u8, ssrc: u32, st: Arc<PubStats>, bitrate_kbps: u64) {
    let avg_frame = (bitrate_kbps * 1000 / 8 / VIDEO_FPS).max(64) as usize;
    // One 4x keyframe + (GOP-1) deltas average to avg_frame.
    let delta_len = (avg_frame as u64 * KEYFRAME_INTERVAL_FRAMES / (KEYFRAME_INTERVAL_FRAMES + 3)).max(32) as usize;
    let key_len = delta_len * 4;
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / VIDEO_FPS));
    let (mut seq, mut ts): (u16, u32) = (rand::random(), rand::random());
    let mut since_key = KEYFRAME_INTERVAL_FRAMES; // first frame is a keyframe
    'frames: while !st.stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let requested = st.keyframe_wanted.swap(false, Ordering::Relaxed);
        let key = requested || since_key >= KEYFRAME_INTERVAL_FRAMES;
        since_key = if key { 1 } else { since_key + 1 };
        let len = if key { key_len } else { delta_len };
        let mut frame = vp8_frame_header(key, len);
        let hdr = frame.len();
        frame.resize(len.max(hdr), 0);
        rand::thread_rng().fill(&mut frame[hdr..]);

        let chunk = MAX_RTP_PAYLOAD - 1; // 1-byte payload descriptor
        let n = frame.len().div_ceil(chunk);
        for (i, part) in frame.chunks(chunk).enumerate() {
            let mut payload = Vec::with_capacity(part.len() + 1);
            // VP8 payload descriptor: X=0 R=0 N=0 S=start-of-partition PID=0.
            payload.push(if i == 0 { 0x10 } else { 0x00 });
            payload.extend_from_slice(part);
            if track
                .write_rtp(rtp_packet(pt, seq, ts, ssrc, i + 1 == n, payload))
                .await
                .is_err()
            {
                break 'frames;
            }
            st.video_sent.fetch_add(1, Ordering::Relaxed);
            seq = seq.wrapping_add(1);
        }
        ts = ts.wrapping_add((90_000 / VIDEO_FPS) as u32);
    }
}

// ============================================================================================
// Subscribers
// ============================================================================================
#[derive(Default, Clone, Copy)]
struct TrackStats {
    packets: u64,
    bytes: u64,
    /// Extended (wrap-corrected) sequence numbers.
    first_ext: i64,
    min_ext: i64,
    max_ext: i64,
    last_ext: i64,
    seen: bool,
}

impl TrackStats {
    fn add(&mut self, seq: u16, bytes: usize) {
        self.packets += 1;
        self.bytes += bytes as u64;
        let ext = if self.seen {
            let last16 = (self.last_ext & 0xFFFF) as u16;
            let delta = seq.wrapping_sub(last16) as i16;
            self.last_ext + i64::from(delta)
        } else {
            self.seen = true;
            self.first_ext = i64::from(seq) + (1 << 20); // room below for reordering
            self.min_ext = self.first_ext;
            self.max_ext = self.first_ext;
            self.first_ext
        };
        self.min_ext = self.min_ext.min(ext);
        self.max_ext = self.max_ext.max(ext);
        // Follow the stream forward; a late (reordered) packet does not move the reference.
        if ext > self.last_ext || self.packets == 1 {
            self.last_ext = ext;
        }
    }

    /// highest - lowest + 1 - received (never negative: retransmitted duplicates).
    fn lost(&self) -> u64 {
        if !self.seen {
            return 0;
        }
        let expected = (self.max_ext - self.min_ext + 1) as u64;
        expected.saturating_sub(self.packets)
    }
}

#[derive(Default)]
struct SubStats {
    audio: StdMutex<TrackStats>,
    video: StdMutex<TrackStats>,
    /// Publisher's video-sent counter when this viewer connected.
    video_sent_at_connect: AtomicU64,
}

struct Subscriber {
    peer: Peer,
    /// The endpoints as this viewer (its own token ends its own session).
    http: Http,
    session: reqwest::Url,
    stats: Arc<SubStats>,
}

/// Whether a VP8 RTP payload starts a keyframe (S=1, PID=0, P bit of the payload header 0).
fn is_vp8_keyframe_start(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else { return false };
    if b0 & 0x10 == 0 || b0 & 0x07 != 0 {
        return false;
    }
    let mut i = 1;
    if b0 & 0x80 != 0 {
        let Some(&x) = p.get(i) else { return false };
        i += 1;
        if x & 0x80 != 0 {
            let Some(&pid) = p.get(i) else { return false };
            i += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1;
        }
        if x & 0x30 != 0 {
            i += 1;
        }
    }
    p.get(i).is_some_and(|h| h & 0x01 == 0)
}

/// Sets up one subscriber. `first_key` (late joiners) receives the arrival time of the first
/// keyframe packet.
async fn start_subscriber(
    http: &Http,
    pub_stats: &Arc<PubStats>,
    first_key: Option<watch::Sender<Option<Instant>>>,
    posted_at: Option<&StdMutex<Option<Instant>>>,
) -> Result<Subscriber> {
    let peer = new_peer().await?;
    let mut session = None;
    let res = subscriber_inner(&peer, http, pub_stats, first_key, posted_at, &mut session).await;
    match res {
        Ok(stats) => Ok(Subscriber {
            peer,
            http: http.clone(),
            session: session.expect("session set on success"),
            stats,
        }),
        Err(e) => {
            if let Some(s) = &session {
                http.delete(s).await;
            }
            peer.close().await;
            Err(e)
        }
    }
}

async fn subscriber_inner(
    peer: &Peer,
    http: &Http,
    pub_stats: &Arc<PubStats>,
    first_key: Option<watch::Sender<Option<Instant>>>,
    posted_at: Option<&StdMutex<Option<Instant>>>,
    session_out: &mut Option<reqwest::Url>,
) -> Result<Arc<SubStats>> {
    for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
        peer.pc
            .add_transceiver_from_kind(
                kind,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Recvonly,
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| anyhow!("add_transceiver_from_kind: {e}"))?;
    }
    let offer = peer.offer().await?;

    let stats = Arc::new(SubStats::default());
    // Track readers start before the answer so no early packet is missed.
    let mut tracks_rx = std::mem::replace(&mut *peer.tracks.lock().await, mpsc::unbounded_channel().1);
    let reader_stats = Arc::clone(&stats);
    tokio::spawn(async move {
        let first_key = first_key.map(Arc::new);
        while let Some(track) = tracks_rx.recv().await {
            let kind = track.kind().await;
            let st = Arc::clone(&reader_stats);
            let fk = first_key.clone();
            tokio::spawn(async move {
                let mut key_seen = false;
                while let Some(ev) = track.poll().await {
                    match ev {
                        TrackRemoteEvent::OnRtpPacket(pkt) => {
                            let len = pkt.payload.len();
                            if kind == RtpCodecKind::Video {
                                if !key_seen && is_vp8_keyframe_start(&pkt.payload) {
                                    key_seen = true;
                                    if let Some(fk) = &fk {
                                        fk.send_if_modified(|v| {
                                            if v.is_none() {
                                                *v = Some(Instant::now());
                                                true
                                            } else {
                                                false
                                            }
                                        });
                                    }
                                }
                                st.video
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .add(pkt.header.sequence_number, len);
                            } else {
                                st.audio
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .add(pkt.header.sequence_number, len);
                            }
                        }
                        TrackRemoteEvent::OnEnded => break,
                        _ => {}
                    }
                }
            });
        }
    });

    if let Some(p) = posted_at {
        *p.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }
    let (answer, session) = http.post_offer("whep", offer).await?;
    *session_out = Some(session);
    peer.set_answer(answer).await?;
    peer.wait_connected().await?;
    stats
        .video_sent_at_connect
        .store(pub_stats.video_sent.load(Ordering::Relaxed), Ordering::Relaxed);
    Ok(stats)
}

// ============================================================================================
// Main
// ============================================================================================
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// DELETE every session and close every peer connection, 16 at a time.
async fn teardown(subs: Vec<Subscriber>) {
    let sem = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    let mut set = JoinSet::new();
    for s in subs {
        let sem = Arc::clone(&sem);
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            s.http.delete(&s.session).await;
            s.peer.close().await;
        });
    }
    while set.join_next().await.is_some() {}
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let _ = *START;
    let args = Args::parse();
    match run(args).await {
        Ok(out) => println!("{out}"),
        Err(e) => {
            log!("fatal: {e:#}");
            std::process::exit(1);
        }
    }
}

async fn run(args: Args) -> Result<serde_json::Value> {
    let base = if args.base.ends_with('/') {
        args.base.clone()
    } else {
        format!("{}/", args.base)
    };
    let http = Http {
        client: reqwest::Client::builder()
            .timeout(STEP_TIMEOUT)
            .connect_timeout(STEP_TIMEOUT)
            .build()?,
        base: reqwest::Url::parse(&base).context("--base is not a URL")?,
        occ: args.occ.clone(),
        token: args.token.clone(),
    };
    let viewer_tokens: Arc<Vec<String>> = Arc::new(match &args.viewer_tokens_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    });

    // 1. Publisher.
    let pub_stats = Arc::new(PubStats::default());
    let mut publisher = start_publisher(&http, Arc::clone(&pub_stats), args.bitrate_kbps)
        .await
        .context("publisher")?;
    log!("publisher connected");
    // Let the server see both tracks before the first viewer asks for them.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 2. N subscribers, SETUP_CONCURRENCY at a time.
    let setup_start = Instant::now();
    let sem = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    let mut set = JoinSet::new();
    for i in 0..args.viewers {
        let (http, ps, sem) = (http.viewer(&viewer_tokens, i), Arc::clone(&pub_stats), Arc::clone(&sem));
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let r = start_subscriber(&http, &ps, None, None).await;
            if let Err(e) = &r {
                log!("viewer {i} failed: {e:#}");
            }
            r
        });
    }
    let mut subs = Vec::new();
    let mut failed = 0usize;
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok(s)) => subs.push(s),
            Ok(Err(_)) => failed += 1,
            Err(e) => {
                log!("viewer task panicked: {e}");
                failed += 1;
            }
        }
    }
    let setup_seconds = setup_start.elapsed().as_secs_f64();
    log!(
        "{} viewers connected, {failed} failed, setup {setup_seconds:.2} s; steady state {} s",
        subs.len(),
        args.seconds
    );

    // 3. Steady state, with late joiners after ~3 s.
    let steady_end = tokio::time::Instant::now() + Duration::from_secs(args.seconds);
    let late = {
        let (http, ps, n) = (http.clone(), Arc::clone(&pub_stats), args.late_joiners);
        let (tokens, first) = (Arc::clone(&viewer_tokens), args.viewers);
        tokio::spawn(async move { late_joiners(http, ps, n, tokens, first).await })
    };
    tokio::time::sleep_until(steady_end).await;
    let (late_ms, late_failed, late_subs) = match late.await {
        Ok(v) => v,
        Err(e) => {
            log!("late-joiner task failed: {e}");
            (Vec::new(), args.late_joiners, Vec::new())
        }
    };

    // 4. Stop the media, let in-flight packets arrive, snapshot, then tear down.
    pub_stats.stop.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let video_sent = pub_stats.video_sent.load(Ordering::Relaxed);
    let audio_sent = pub_stats.audio_sent.load(Ordering::Relaxed);
    let (mut rv, mut ra, mut lost, mut expected_sum) = (0u64, 0u64, 0u64, 0u64);
    for s in &subs {
        let a = *s.stats.audio.lock().unwrap_or_else(|p| p.into_inner());
        let v = *s.stats.video.lock().unwrap_or_else(|p| p.into_inner());
        ra += a.packets;
        rv += v.packets;
        lost += a.lost() + v.lost();
        expected_sum += video_sent.saturating_sub(s.stats.video_sent_at_connect.load(Ordering::Relaxed));
    }
    let received_bytes: u64 = subs
        .iter()
        .map(|s| {
            s.stats.audio.lock().map(|a| a.bytes).unwrap_or(0) + s.stats.video.lock().map(|v| v.bytes).unwrap_or(0)
        })
        .sum();
    let connected = subs.len();
    log!(
        "received {rv} video + {ra} audio packets ({received_bytes} payload bytes), lost \
         {lost}; \
         tearing down"
    );

    teardown(subs).await;
    teardown(late_subs).await;
    http.delete(&publisher.session).await;
    publisher.peer.close().await;
    publisher.tasks.abort_all();

    let total = rv + ra + lost;
    let mut sorted = late_ms.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let p = |q| percentile(&sorted, q).map(round3);
    Ok(serde_json::json!({
        "viewers": args.viewers,
        "connected": connected,
        "failed": failed,
        "publisher_video_packets_sent": video_sent,
        "publisher_audio_packets_sent": audio_sent,
        "keyframe_requests_received": pub_stats.keyframe_requests.load(Ordering::Relaxed),
        "received_video_packets_total": rv,
        "received_audio_packets_total": ra,
        "lost_packets_total": lost,
        "loss_ratio": if total == 0 { 0.0 } else { lost as f64 / total as f64 },
        "expected_per_viewer_video": if connected == 0 { 0 } else { expected_sum / connected as u64 },
        "late_join_first_keyframe_ms": {
            "p50": p(50.0),
            "p95": p(95.0),
            "n": sorted.len(),
            "failed": late_failed,
        },
        "setup_seconds": round3(setup_seconds),
    }))
}

/// Connects `n` viewers one every 200 ms (after 3 s), each measuring WHEP POST -> first
/// keyframe packet. Returns (latencies ms, failures, the connected subscribers).
async fn late_joiners(
    http: Http,
    ps: Arc<PubStats>,
    n: usize,
    tokens: Arc<Vec<String>>,
    first: usize,
) -> (Vec<f64>, usize, Vec<Subscriber>) {
    if n == 0 {
        return (Vec::new(), 0, Vec::new());
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    log!("starting {n} late joiners");
    let mut set = JoinSet::new();
    for i in 0..n {
        let (http, ps) = (http.viewer(&tokens, first + i), Arc::clone(&ps));
        set.spawn(async move {
            let (tx, mut rx) = watch::channel(None::<Instant>);
            let posted = StdMutex::new(None::<Instant>);
            let sub = match start_subscriber(&http, &ps, Some(tx), Some(&posted)).await {
                Ok(s) => s,
                Err(e) => {
                    log!("late joiner {i} failed: {e:#}");
                    return (None, None);
                }
            };
            let Some(t0) = *posted.lock().unwrap_or_else(|p| p.into_inner()) else {
                return (None, Some(sub));
            };
            match tokio::time::timeout(STEP_TIMEOUT, rx.wait_for(|v| v.is_some())).await {
                Ok(Ok(v)) => {
                    let at = v.expect("checked is_some");
                    (Some(at.duration_since(t0).as_secs_f64() * 1000.0), Some(sub))
                }
                _ => {
                    log!("late joiner {i}: no keyframe within {STEP_TIMEOUT:?}");
                    (None, Some(sub))
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (mut ms, mut failed, mut subs) = (Vec::new(), 0, Vec::new());
    while let Some(r) = set.join_next().await {
        match r {
            Ok((lat, sub)) => {
                match lat {
                    Some(l) => ms.push(l),
                    None => failed += 1,
                }
                subs.extend(sub);
            }
            Err(_) => failed += 1,
        }
    }
    log!("late joiners done: {} measured, {failed} failed", ms.len());
    (ms, failed, subs)
}
