//! Live HLS delivery and heartbeats: the signed URL, the playlist built at most once a second
//! per occurrence, pieces from the object store, and the players' heartbeats that open, keep
//! and end HLS viewers' sessions (their attendance). The playlist text and the sessions'
//! bookkeeping are in [`crate::hls`].

use std::sync::Arc;

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

use super::Rooms;
use super::access::Watcher;
use crate::hls::{HEARTBEAT_SECONDS, URL_HOUR, WINDOW, live_playlist};
use crate::lifecycle::LiveState;
use crate::sfu::SessionId;
use crate::{LiveError, LiveResult};
use crate::{OccurrenceId, store};

impl Rooms {
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
pub(crate) fn delivery_router(rooms: Rooms) -> Router {
    Router::new()
        .route("/live-hls/{occ}/{exp}/{sig}/index.m3u8", get(playlist))
        .route("/live-hls/{occ}/{exp}/{sig}/{run}/{file}", get(piece))
        .with_state(rooms)
}

async fn playlist(
    State(rooms): State<Rooms>,
    axum::extract::Path((occ, exp, sig)): axum::extract::Path<(String, i64, String)>,
) -> Response {
    let Ok(occ) = occ.parse::<OccurrenceId>() else {
        return forbidden_url();
    };
    if !rooms.hls_url_valid(occ, exp, &sig) {
        return forbidden_url();
    }
    match rooms.playlist(occ).await {
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
    State(rooms): State<Rooms>,
    axum::extract::Path((occ, exp, sig, run, file)): axum::extract::Path<(String, i64, String, u32, String)>,
) -> Response {
    let Ok(occ) = occ.parse::<OccurrenceId>() else {
        return forbidden_url();
    };
    if !rooms.hls_url_valid(occ, exp, &sig) {
        return forbidden_url();
    }
    let valid = file == "init.mp4"
        || file
            .strip_suffix(".m4s")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let Some(setup) = rooms.rec.as_ref().filter(|_| valid) else {
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

pub(crate) fn router() -> ApiRouter<Rooms> {
    ApiRouter::new().routes(routes!(heartbeat))
}

/// A live HLS player's heartbeat (every 10 s while playing): its viewer's attendance, like
/// WebRTC viewing. The first opens a session; `leaving` ends it at once.
#[utoipa::path(post, path = "/api/v1/live/occurrences/{id}/hls-heartbeats", tag = "live",
    params(("id" = OccurrenceId, Path)), request_body = HeartbeatRequest,
    responses((status = 200, body = HeartbeatView), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
async fn heartbeat(
    State(rooms): State<Rooms>,
    watcher: Watcher,
    Path(id): Path<OccurrenceId>,
    Json(req): Json<HeartbeatRequest>,
) -> ApiResult<Json<HeartbeatView>> {
    let auth = rooms.watcher_user(id, watcher).await?;
    let (occ, series) = rooms.audience.occurrence_with_series(id).await?;
    if !rooms.audience.may_watch(&auth, id, &series).await? {
        return Err(LiveError::OccurrenceNotFound.into());
    }
    let now = rooms.clock.now();
    let state = occ.state;
    let known = req.session.and_then(|s| {
        rooms
            .hls
            .sessions
            .lock()
            .ok()
            .and_then(|m| m.get(&s).copied())
            .filter(|v| v.0 == id && v.1 == auth.id)
            .map(|_| s)
    });
    if req.leaving || !matches!(state, LiveState::Live | LiveState::Paused) {
        if let Some(s) = known {
            rooms.hls.sessions.lock().unwrap_or_else(|p| p.into_inner()).remove(&s);
            rooms.attendance.leave(s, now);
            rooms.publish_viewers(id);
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
            if let Some(v) = rooms.hls.sessions.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&s) {
                v.2 = now.0;
            }
            s
        }
        None => {
            let s = SessionId::new();
            // A user's newer player replaces their oldest (checked and claimed under one lock).
            let replaced = {
                let mut sessions = rooms.hls.sessions.lock().unwrap_or_else(|p| p.into_inner());
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
                rooms.attendance.leave(old, Timestamp(last));
            }
            rooms.attendance.join(id, auth.id, s, now);
            rooms.publish_viewers(id);
            s
        }
    };
    Ok(Json(HeartbeatView {
        session,
        interval_s: HEARTBEAT_SECONDS,
    }))
}
