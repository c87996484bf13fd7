//! The web app: static files embedded in the binary (or served from `server.web_dir` while
//! developing). Every GET that is not an API route or an asset gets `index.html`, so deep links
//! open the app.

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
