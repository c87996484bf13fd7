//! WHEP: a viewer's offer gets a leg per publisher track, with the codec parameters the
//! publisher sent.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rtc::peer_connection::configuration::media_engine::MIME_TYPE_H264;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::peer_connection::RTCPeerConnectionState;
use webrtc::rtp_transceiver::RtpSender;

use super::*;
use crate::OccurrenceId;

impl Sfu {
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
    pub(super) async fn answer_viewer(
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
    pub(super) async fn remove_viewer(&self, occ: OccurrenceId, session: SessionId) -> bool {
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
}

/// The SSRC of our leg and the payload type the viewer negotiated for the publisher's codec.
pub(super) async fn leg_params(sender: &Arc<dyn RtpSender>, codec: &RTCRtpCodec) -> Option<(u32, u8)> {
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

pub(super) fn fmtp_value<'a>(fmtp: &'a str, key: &str) -> Option<&'a str> {
    fmtp.split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmtp_values() {
        let f = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";
        assert_eq!(fmtp_value(f, "profile-level-id"), Some("42e01f"));
        assert_eq!(fmtp_value(f, "PACKETIZATION-MODE"), Some("1"));
        assert_eq!(fmtp_value("", "profile-level-id"), None);
    }
}
