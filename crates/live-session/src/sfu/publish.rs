//! WHIP: a publisher's offer becomes the room's tracks; a dropped publisher is replaced.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::broadcast;
use webrtc::media_stream::track_remote::TrackRemoteEvent;
use webrtc::peer_connection::RTCPeerConnectionState;

use super::*;
use crate::OccurrenceId;

impl Sfu {
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
        if !room.publisher_replaceable(unix_ms()) {
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
            if slot.as_ref().is_some_and(|p| !p.stale(&room, unix_ms())) {
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
    pub(super) async fn drop_publisher(&self, occ: OccurrenceId, session: Option<SessionId>) -> bool {
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
}
