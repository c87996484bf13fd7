//! One peer connection: its codecs (H.264 and VP8, Opus), its event handler, and the SDP answer
//! once ICE gathering is done.

use std::sync::Arc;
use std::time::Duration;

use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceGatheringState,
    RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder, register_default_interceptors,
};

use super::*;

/// Events a peer connection's handler passes on (callbacks run on the connection's driver and
/// must not block: they only feed channels).
pub(super) struct Handler {
    pub(super) gathering: watch::Sender<RTCIceGatheringState>,
    pub(super) state: watch::Sender<RTCPeerConnectionState>,
    pub(super) tracks: mpsc::UnboundedSender<Arc<dyn TrackRemote>>,
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

pub(super) fn codec(mime: &str, clock_rate: u32, channels: u16, fmtp: &str, feedback: bool) -> RTCRtpCodec {
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
pub(super) fn media_engine() -> Result<MediaEngine, SfuError> {
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
    pub(super) async fn peer(&self) -> Result<(Peer, mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>), SfuError> {
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
    pub(super) async fn answer(peer: &Peer, offer: String) -> Result<String, SfuError> {
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
}
