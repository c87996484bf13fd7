//! Forwarding: each viewer leg rewrites sequence numbers and timestamps so that a new publisher
//! (or a restart) continues the stream the viewer already decodes.

use std::sync::Arc;

use tokio::sync::{broadcast, watch};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;

use super::*;

/// Packets a viewer leg may fall behind by before it skips ahead.
pub(super) const LEG_BUFFER: usize = 512;

/// Keeps a leg's RTP sequence numbers and timestamps continuous when its source changes (a new
/// publisher replaced a stale one): the viewer's decoder sees one stream with a gap in time.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Continuity {
    pub(super) seq_off: u16,
    pub(super) ts_off: u32,
    /// Last sequence number and timestamp sent, and when (ms).
    pub(super) last: Option<(u16, u32, i64)>,
    /// The next packet is the first of a new source.
    pub(super) switching: bool,
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
pub(super) async fn forward(
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
}
