//! The web app: static files embedded in the binary (or served from `server.web_dir` while
//! developing). Every GET that is not an API route or an asset gets `index.html`, so deep links
//! open the app.
//!
//! The app (`crates/server/web/`) has no build step and no framework, about 50 KB of modules:
//! - `js/app.js`: the one routing table (history routing), the parents' bottom tab bar and the
//!   staff's top bar with 菜单, and the parent pages (home with the join card and the next
//!   lecture, search with age chips, lists, courses, 我的学习, 加入学校/班级 and `/join/{code}`,
//!   login and register coming back to `?next=`, 忘记密码, privacy pages);
//! - `js/endpoints.js`: every API path the app calls, in one place (an API test checks each
//!   against the OpenAPI document);
//! - `js/api.js` (tokens, one refresh retry on 401, an expired login said in plain words) and
//!   `js/ui.js` (`h`, toasts, required fields and field errors beside the inputs);
//! - `js/hls.js`: the one HLS engine (MSE / ManagedMediaSource, native HLS where neither exists)
//!   with a recorded feed for lessons and a live feed for the room;
//! - `js/player.js`: the lesson player around it (quality, speed, captions, resume, played
//!   ranges reported every 15 s, on pause and on leaving);
//! - `js/live.js` (the schedule and the room: WHEP or live HLS, questions and chat) and
//!   `js/live-studio.js` (直播管理: series, going live from the browser, reports);
//! - `js/activities.js` (线下活动: the activity, the host's check-in screen with its rotating QR
//!   code and live count, and the page the code opens on a parent's phone);
//! - `js/family.js` (我的孩子, and the home page's 为你推荐 rows by the children's stages) and
//!   `js/orgs.js` (组织架构: the managed tree, partner units and what they serve);
//! - `js/studio.js` (review queue, course and list editors, resumable uploads with progress,
//!   captions, 学习报表, join posters) and `js/pickers.js` (organization and expert pickers that
//!   search on the server, so no form asks for an id).
//!
//! Simplified Chinese, mobile-first from 360 px, 44 px touch targets, 16 px inputs.

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

/// Where the web app's files come from.
#[derive(Clone, Debug)]
pub struct WebApp {
    dir: Option<Arc<PathBuf>>,
}

impl WebApp {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir: dir.map(Arc::new) }
    }

    async fn load(&self, name: &str) -> Option<Vec<u8>> {
        match &self.dir {
            Some(dir) => {
                if name.split('/').any(|seg| seg.is_empty() || seg.starts_with('.')) {
                    return None;
                }
                tokio::fs::read(dir.join(name)).await.ok()
            }
            None => Assets::get(name).map(|f| f.data.into_owned()),
        }
    }

    /// The file at `path`, or the app shell for unknown paths.
    pub async fn serve(&self, path: &str) -> Response {
        let name = path.trim_start_matches('/');
        if !name.is_empty() && name != "index.html" {
            if let Some(bytes) = self.load(name).await {
                let mime = mime_guess::from_path(name).first_or_octet_stream();
                return (
                    [
                        (
                            header::CONTENT_TYPE,
                            HeaderValue::from_str(mime.as_ref())
                                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                        ),
                        (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
                    ],
                    bytes,
                )
                    .into_response();
            }
        }
        match self.load("index.html").await {
            Some(bytes) => (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=utf-8"),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                ],
                bytes,
            )
                .into_response(),
            None => (StatusCode::NOT_FOUND, "web app missing").into_response(),
        }
    }
}
