//! Live HLS for large audiences: the recording's pieces (`recording`) served as a live HLS
//! playlist under a signed URL: pieces are immutable and cacheable for a day, the playlist for
//! a second. The URL is signed per occurrence and hour (not per viewer), so every viewer asks
//! for the same URLs and an HTTP CDN in front serves them from its cache; who watches is known
//! from the heartbeats. The playlist text is the same for everyone, so a node builds it at most
//! once a second per occurrence.
//!
//! HLS viewers' attendance comes from player heartbeats: the first one opens a session (counted
//! like a WebRTC viewer), later ones keep it open, and a session not heard from for
//! [`HEARTBEAT_TIMEOUT_MS`] ends at the last heartbeat.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use platform::ids::UserId;

use crate::OccurrenceId;
use crate::sfu::SessionId;

/// Pieces listed in the live playlist (a sliding window; players start near its end).
pub(crate) const WINDOW: i64 = 12;
/// Players send a heartbeat this often…
pub const HEARTBEAT_SECONDS: u64 = 10;
/// …and a session not heard from for this long has left (at its last heartbeat).
pub const HEARTBEAT_TIMEOUT_MS: i64 = 30_000;
/// Signed live URLs expire at the end of the hour after next: everyone in an hour gets the same
/// URL (cache hits), valid one to two hours; players ask for a new one on 403.
pub(crate) const URL_HOUR: i64 = 3600;

pub use crate::model::Piece;

/// The live playlist of the last pieces (newest last). `discontinuities` is the number of run
/// changes before the first listed piece; `ended` closes the playlist.
pub fn live_playlist(pieces: &[Piece], discontinuities: i64, ended: bool) -> String {
    let target = pieces
        .iter()
        .map(|p| (i64::from(p.duration_ms) + 999) / 1000)
        .max()
        .unwrap_or(2)
        .max(1);
    let mut s = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-INDEPENDENT-SEGMENTS\n\
         #EXT-X-MEDIA-SEQUENCE:{}\n#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuities}\n",
        pieces.first().map_or(1, |p| p.seq)
    );
    let mut run = None;
    for p in pieces {
        if run != Some(p.run) {
            if run.is_some() {
                s.push_str("#EXT-X-DISCONTINUITY\n");
            }
            s.push_str(&format!("#EXT-X-MAP:URI=\"{}/init.mp4\"\n", p.run));
            run = Some(p.run);
        }
        s.push_str(&format!(
            "#EXTINF:{:.3},\n{}/{}.m4s\n",
            f64::from(p.duration_ms) / 1000.0,
            p.run,
            p.seq
        ));
    }
    if ended {
        s.push_str("#EXT-X-ENDLIST\n");
    }
    s
}

/// An HLS session: its occurrence, its viewer and their last heartbeat (ms).
pub(crate) type HlsSession = (OccurrenceId, UserId, i64);
/// A playlist built at (ms).
pub(crate) type BuiltPlaylist = (i64, Arc<String>);

/// HLS sessions of this node, and the playlists it built.
#[derive(Debug, Default, Clone)]
pub(crate) struct HlsViewers {
    pub(crate) sessions: Arc<Mutex<HashMap<SessionId, HlsSession>>>,
    pub(crate) playlists: Arc<Mutex<HashMap<OccurrenceId, BuiltPlaylist>>>,
}

impl HlsViewers {
    pub(crate) fn count(&self, occ: OccurrenceId) -> usize {
        self.sessions
            .lock()
            .map(|m| m.values().filter(|v| v.0 == occ).count())
            .unwrap_or(0)
    }

    /// Sessions not heard from for too long: removed, with their last heartbeat.
    pub(crate) fn expire(&self, now_ms: i64) -> Vec<(SessionId, OccurrenceId, i64)> {
        let Ok(mut m) = self.sessions.lock() else {
            return Vec::new();
        };
        let gone: Vec<_> = m
            .iter()
            .filter(|(_, v)| now_ms - v.2 > HEARTBEAT_TIMEOUT_MS)
            .map(|(k, v)| (*k, v.0, v.2))
            .collect();
        for g in &gone {
            m.remove(&g.0);
        }
        gone
    }

    /// Every session of an occurrence (it ended).
    pub(crate) fn close(&self, occ: OccurrenceId) -> Vec<(SessionId, i64)> {
        let Ok(mut m) = self.sessions.lock() else {
            return Vec::new();
        };
        let gone: Vec<_> = m.iter().filter(|(_, v)| v.0 == occ).map(|(k, v)| (*k, v.2)).collect();
        for g in &gone {
            m.remove(&g.0);
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(seq: i32, run: i32, ms: i32) -> Piece {
        Piece {
            seq,
            run,
            duration_ms: ms,
        }
    }

    #[test]
    fn playlist_with_runs_and_end() {
        let text = live_playlist(&[p(7, 1, 2000), p(8, 2, 2100), p(9, 2, 1500)], 3, false);
        assert!(text.starts_with("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:3\n"));
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n"));
        assert!(text.contains(
            "#EXT-X-MAP:URI=\"1/init.mp4\"\n#EXTINF:2.000,\n1/7.m4s\n#EXT-X-DISCONTINUITY\n\
             #EXT-X-MAP:URI=\"2/init.mp4\"\n#EXTINF:2.100,\n2/8.m4s\n#EXTINF:1.500,\n2/9.m4s\n"
        ));
        assert!(!text.contains("ENDLIST"));
        assert!(live_playlist(&[p(1, 1, 2000)], 0, true).ends_with("#EXT-X-ENDLIST\n"));
        assert!(live_playlist(&[], 0, false).contains("#EXT-X-MEDIA-SEQUENCE:1\n"));
    }
}
