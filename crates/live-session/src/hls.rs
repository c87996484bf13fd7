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

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use platform::Timestamp;
use platform::error::{ApiError, ApiResult};
use platform::http::{ApiRouter, Json, Path};
use platform::ids::UserId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::lifecycle::LiveState;
use crate::sfu::SessionId;
use crate::signalling::Watcher;
use crate::{Live, OccurrenceId, store};
use crate::{LiveError, LiveResult};

/// Pieces listed in the live playlist (a sliding window; players start near its end).
const WINDOW: i64 = 12;
/// Players send a heartbeat this often…
pub const HEARTBEAT_SECONDS: u64 = 10;
/// …and a session not heard from for this long has left (at its last heartbeat).
pub const HEARTBEAT_TIMEOUT_MS: i64 = 30_000;
/// Signed live URLs expire at the end of the hour after next: everyone in an hour gets the same
/// URL (cache hits), valid one to two hours; players ask for a new one on 403.
const URL_HOUR: i64 = 3600;

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
type HlsSession = (OccurrenceId, UserId, i64);
/// A playlist built at (ms).
type BuiltPlaylist = (i64, Arc<String>);

/// HLS sessions of this node, and the playlists it built.
#[derive(Debug, Default, Clone)]
pub(crate) struct HlsViewers {
    sessions: Arc<Mutex<HashMap<SessionId, HlsSession>>>,
    playlists: Arc<Mutex<HashMap<OccurrenceId, BuiltPlaylist>>>,
}

impl HlsViewers {
    pub(crate) fn count(&self, occ: OccurrenceId) -> usize {
        self.sessions
            .lock()
            .map(|m| m.values().filter(|v| v.0 == occ).count())
            .unwrap_or(0)
    }

    /// Sessions not heard from for too long: removed, with their last heartbeat.
    fn expire(&self, now_ms: i64) -> Vec<(SessionId, OccurrenceId, i64)> {
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
    fn close(&self, occ: OccurrenceId) -> Vec<(SessionId, i64)> {
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

impl Live {
    /// The signed URL of the live playlist (for those who may watch).
    pub(crate) fn hls_url(&self, occ: OccurrenceId) -> String {
        let exp = (self.clock.now().unix_seconds() / URL_HOUR + 2) * URL_HOUR;
        let sig = self.signer.sign_until(&format!("hls/{occ}"), exp);
        format!("/live-hls/{occ}/{exp}/{sig}/index.m3u8")
    }

    fn hls_url_valid(&self, occ: OccurrenceId, exp: i64, sig: &str) -> bool {
        self.signer
            .verify_until(&format!("hls/{occ}"), exp, self.clock.now().unix_seconds(), sig)
    }

    /// Whether live HLS can be watched now: live or paused, recording, with a piece stored.
    pub(crate) async fn hls_available(&self, occ: OccurrenceId, state: LiveState) -> LiveResult<bool> {
        if self.rec.is_none() || !matches!(state, LiveState::Live | LiveState::Paused) {
            return Ok(false);
        }
        let n = store::recordings::live_pieces(&self.db, occ).await?;
        Ok(n > 0)
    }

    async fn playlist(&self, occ: OccurrenceId) -> LiveResult<Arc<String>> {
        let now = self.clock.now().0;
        if let Some((at, text)) = self.hls.playlists.lock().ok().and_then(|m| m.get(&occ).cloned()) {
            if now - at < 1000 {
                return Ok(text);
            }
        }
        let (mut pieces, state) = store::recordings::window(&self.db, occ, WINDOW).await?;
        let state = state.ok_or(LiveError::OccurrenceNotFound)?;
        pieces.reverse();
        let discontinuities: i64 = match pieces.first() {
            Some(first) => store::recordings::runs_before(&self.db, occ, first.seq, first.run).await?,
            None => 0,
        };
        let ended = matches!(LiveState::parse(&state), LiveState::Ended | LiveState::Cancelled);
        let text = Arc::new(live_playlist(&pieces, discontinuities, ended));
        if let Ok(mut m) = self.hls.playlists.lock() {
            if m.len() > 1000 {
                m.clear();
            }
            m.insert(occ, (now, text.clone()));
        }
        Ok(text)
    }

    /// Ends HLS sessions not heard from in time (called every few seconds).
    pub(crate) fn expire_hls_sessions(&self) {
        for (session, occ, last) in self.hls.expire(self.clock.now().0) {
            self.attendance.leave(session, Timestamp(last));
            self.publish_viewers(occ);
        }
    }

    /// Ends the HLS sessions of an occurrence that ended.
    pub(crate) fn close_hls_sessions(&self, occ: OccurrenceId) {
        for (session, last) in self.hls.close(occ) {
            self.attendance.leave(session, Timestamp(last));
        }
    }

    /// How many watch on this node: WebRTC viewers and live HLS players.
    pub(crate) fn viewer_total(&self, occ: OccurrenceId) -> usize {
        self.sfu.viewer_count(occ) + self.hls.count(occ)
    }

    /// Tells open pages how many watch (WebRTC and HLS on this node).
    pub(crate) fn publish_viewers(&self, occ: OccurrenceId) {
        self.events.publish(
            occ,
            crate::LiveEvent::Viewers {
                count: self.viewer_total(occ),
            },
        );
    }
}

fn forbidden_url() -> Response {
    LiveError::PlaybackUrlInvalid.into_response()
}

/// The signed live HLS routes (outside `/api`, like VOD delivery).
pub(crate) fn delivery_router(live: Live) -> Router {
    Router::new()
        .route("/live-hls/{occ}/{exp}/{sig}/index.m3u8", get(playlist))
        .route("/live-hls/{occ}/{exp}/{sig}/{run}/{file}", get(piece))
        .with_state(live)
}

async fn playlist(
    State(live): State<Live>,
    axum::extract::Path((occ, exp, sig)): axum::extract::Path<(String, i64, String)>,
) -> Response {
    let Ok(occ) = occ.parse::<OccurrenceId>() else {
        return forbidden_url();
    };
    if !live.hls_url_valid(occ, exp, &sig) {
        return forbidden_url();
    }
    match live.playlist(occ).await {
        Ok(text) => {
            let mut res = (StatusCode::OK, text.as_str().to_owned()).into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/vnd.apple.mpegurl"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=1"));
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            res
        }
        Err(e) => e.into_response(),
    }
}

async fn piece(
    State(live): State<Live>,
    axum::extract::Path((occ, exp, sig, run, file)): axum::extract::Path<(String, i64, String, u32, String)>,
) -> Response {
    let Ok(occ) = occ.parse::<OccurrenceId>() else {
        return forbidden_url();
    };
    if !live.hls_url_valid(occ, exp, &sig) {
        return forbidden_url();
    }
    let valid = file == "init.mp4"
        || file
            .strip_suffix(".m4s")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let Some(setup) = live.rec.as_ref().filter(|_| valid) else {
        return not_found();
    };
    match setup.store.get(&format!("live/{occ}/{run}/{file}"), None).await {
        Ok(obj) => {
            let mut res = Response::new(Body::from_stream(obj.body));
            let h = res.headers_mut();
            let ct = if file.ends_with(".mp4") {
                "video/mp4"
            } else {
                "video/iso.segment"
            };
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            if let Ok(v) = HeaderValue::from_str(&obj.meta.size.to_string()) {
                h.insert(header::CONTENT_LENGTH, v);
            }
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400, immutable"),
            );
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            res
        }
        Err(platform::store::StoreError::NotFound(_)) => not_found(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

fn not_found() -> Response {
    LiveError::LivePieceNotFound.into_response()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// The session of earlier heartbeats; omitted on the first.
    pub session: Option<SessionId>,
    /// The player stopped (page hidden or closed).
    #[serde(default)]
    pub leaving: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HeartbeatView {
    pub session: SessionId,
    /// Send the next heartbeat within this many seconds.
    pub interval_s: u64,
}

pub(crate) fn router() -> ApiRouter<Live> {
    ApiRouter::new().routes(routes!(heartbeat))
}

/// A live HLS player's heartbeat (every 10 s while playing): its viewer's attendance, like
/// WebRTC viewing. The first opens a session; `leaving` ends it at once.
#[utoipa::path(post, path = "/api/v1/live/occurrences/{id}/hls-heartbeats", tag = "live",
    params(("id" = OccurrenceId, Path)), request_body = HeartbeatRequest,
    responses((status = 200, body = HeartbeatView), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
async fn heartbeat(
    State(live): State<Live>,
    watcher: Watcher,
    Path(id): Path<OccurrenceId>,
    Json(req): Json<HeartbeatRequest>,
) -> ApiResult<Json<HeartbeatView>> {
    let auth = live.watcher_user(id, watcher).await?;
    let (occ, series) = live.occurrence_with_series(id).await?;
    if !live.may_watch(&auth, id, &series).await? {
        return Err(LiveError::OccurrenceNotFound.into());
    }
    let now = live.clock.now();
    let state = LiveState::parse(&occ.state);
    let known = req.session.and_then(|s| {
        live.hls
            .sessions
            .lock()
            .ok()
            .and_then(|m| m.get(&s).copied())
            .filter(|v| v.0 == id && v.1 == auth.id)
            .map(|_| s)
    });
    if req.leaving || !matches!(state, LiveState::Live | LiveState::Paused) {
        if let Some(s) = known {
            live.hls.sessions.lock().unwrap_or_else(|p| p.into_inner()).remove(&s);
            live.attendance.leave(s, now);
            live.publish_viewers(id);
        }
        if !matches!(state, LiveState::Live | LiveState::Paused) {
            return Err(LiveError::NotLiveNow.into());
        }
        return Ok(Json(HeartbeatView {
            session: known.unwrap_or_else(SessionId::new),
            interval_s: HEARTBEAT_SECONDS,
        }));
    }
    let session = match known {
        Some(s) => {
            if let Some(v) = live.hls.sessions.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&s) {
                v.2 = now.0;
            }
            s
        }
        None => {
            let s = SessionId::new();
            // A user's newer player replaces their oldest (checked and claimed under one lock).
            let replaced = {
                let mut sessions = live.hls.sessions.lock().unwrap_or_else(|p| p.into_inner());
                let held: Vec<(SessionId, UserId, i64)> = sessions
                    .iter()
                    .filter(|(_, v)| v.0 == id && v.1 == auth.id)
                    .map(|(k, v)| (*k, v.1, v.2))
                    .collect();
                let replaced = crate::slots::admit(&held, auth.id, 0).unwrap_or_default();
                let replaced: Vec<(SessionId, i64)> = replaced
                    .into_iter()
                    .filter_map(|k| sessions.remove(&k).map(|v| (k, v.2)))
                    .collect();
                sessions.insert(s, (id, auth.id, now.0));
                replaced
            };
            for (old, last) in replaced {
                live.attendance.leave(old, Timestamp(last));
            }
            live.attendance.join(id, auth.id, s, now);
            live.publish_viewers(id);
            s
        }
    };
    Ok(Json(HeartbeatView {
        session,
        interval_s: HEARTBEAT_SECONDS,
    }))
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
