//! Playback: a short-lived signed URL per user and asset for the master playlist; every playlist,
//! segment and poster below it is served from the object store under the same signature, with
//! HTTP Range (206, 416), `ETag` and long cache headers for the immutable segments. The player
//! asks for a new URL when one expires (403), so a lecture paused at noon resumes in the evening.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use platform::Timestamp;
use platform::auth::AuthUser;
use platform::error::{ApiError, ApiResult};
use platform::http::{ApiRouter, Json, Path};
use platform::ids::UserId;
use platform::intervals::Span;
use platform::signing::Signer;
use platform::store::{ByteRange, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::Media;
use crate::assets::AssetId;
use crate::states::AssetState;
use crate::{MediaError, MediaResult};

mod store;

/// Decides what a user may do with an asset besides its uploader and admins. The server
/// implements it from the catalog's scope rule (media knows no courses): watch when a lesson
/// using the asset belongs to a course the user can see; manage (captions, metadata) when it
/// belongs to a course the user may edit.
#[async_trait::async_trait]
pub trait AssetAccess: Send + Sync + std::fmt::Debug {
    async fn may_watch(&self, user: &AuthUser, asset: AssetId) -> MediaResult<bool>;
    async fn may_manage(&self, user: &AuthUser, asset: AssetId) -> MediaResult<bool>;
}

/// The signer of playback URLs: its own key, derived from the service secret (so it is never the
/// token key itself).
pub fn url_signer(secret: &[u8]) -> Signer {
    Signer::new(secret, "parentschool media url v1")
}

/// The signature of a playback URL: asset, user and expiry.
pub fn sign(signer: &Signer, asset: AssetId, user: UserId, expires_s: i64) -> String {
    signer.sign_until(&format!("{asset}/{user}"), expires_s)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlaybackView {
    /// Signed URL of the HLS master playlist.
    pub url: String,
    pub expires_at: Timestamp,
    /// Signed URL of the poster image, when there is one.
    pub poster_url: Option<String>,
    pub duration_s: Option<f64>,
}

#[derive(Clone, Debug)]
pub(crate) struct Playback {
    /// With its `AssetAccess`: who may watch is decided there.
    pub media: Media,
    pub signer: Signer,
    /// Rendition prefixes of ready assets. A ready asset's prefix never changes, so this is a
    /// cache of immutable facts (bounded; cleared when full), not state: it spares a database
    /// round trip on every segment request.
    pub prefixes: Arc<std::sync::Mutex<std::collections::HashMap<AssetId, String>>>,
}

const PREFIX_CACHE: usize = 10_000;

impl Playback {
    pub(crate) fn new(media: Media, secret: &[u8]) -> Self {
        Self {
            media,
            signer: url_signer(secret),
            prefixes: Arc::default(),
        }
    }

    async fn ready_prefix(&self, asset: AssetId) -> Result<Option<String>, sqlx::Error> {
        if let Some(p) = self.prefixes.lock().ok().and_then(|m| m.get(&asset).cloned()) {
            return Ok(Some(p));
        }
        let prefix = store::ready_prefix(&self.media.db, asset).await?;
        if let (Some(p), Ok(mut cache)) = (&prefix, self.prefixes.lock()) {
            if cache.len() >= PREFIX_CACHE {
                cache.clear();
            }
            cache.insert(asset, p.clone());
        }
        Ok(prefix)
    }
}

/// `(rendition, number)` of a media segment path such as `540p/seg_00003.m4s`.
pub(crate) fn segment_of(path: &str) -> Option<(&str, i32)> {
    let (rendition, file) = path.split_once('/')?;
    let n = file.strip_prefix("seg_")?.strip_suffix(".m4s")?;
    if rendition.is_empty() || rendition.contains('/') || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((rendition, n.parse().ok()?))
}

/// The time range of each segment of a VOD media playlist, by segment number, in ms.
pub(crate) fn segment_times(playlist: &str) -> Vec<(i32, Span)> {
    let mut out = Vec::new();
    let (mut at, mut pending) = (0f64, None::<f64>);
    for line in playlist.lines().map(str::trim) {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            pending = d
                .split(',')
                .next()
                .and_then(|d| d.trim().parse::<f64>().ok())
                .filter(|d| d.is_finite() && *d >= 0.0);
        } else if !line.is_empty() && !line.starts_with('#') {
            if let Some(d) = pending.take() {
                if let Some((_, n)) = segment_of(&format!("r/{line}")) {
                    out.push((n, ((at * 1000.0).round() as i64, ((at + d) * 1000.0).round() as i64)));
                }
                at += d;
            }
        }
    }
    out
}

impl Playback {
    /// Strict credit: the ranges of `asset` whose segments (in any rendition) `user`'s playback
    /// URL fetched from us.
    pub(crate) async fn fetched_ranges(&self, user: UserId, asset: AssetId) -> MediaResult<Vec<Span>> {
        let fetched: Vec<(String, i32)> = store::fetched_segments(&self.media.db, user, asset).await?;
        let Some(prefix) = self.ready_prefix(asset).await? else {
            return Ok(Vec::new());
        };
        let mut spans = Vec::new();
        let mut renditions: Vec<&str> = fetched.iter().map(|(r, _)| r.as_str()).collect();
        renditions.dedup();
        for r in renditions {
            let text = match self.media.store.get_bytes(&format!("{prefix}/{r}/index.m3u8")).await {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(StoreError::NotFound(_)) | Err(StoreError::InvalidKey(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            let times = segment_times(&text);
            for (_, n) in fetched.iter().filter(|(x, _)| x == r) {
                if let Some((_, span)) = times.iter().find(|(m, _)| m == n) {
                    spans.push(*span);
                }
            }
        }
        Ok(platform::intervals::normalise(spans))
    }
}

pub(crate) fn api_router(pb: Playback) -> ApiRouter {
    ApiRouter::new().routes(routes!(playback)).with_state(pb)
}

/// Routes that serve the media bytes (outside `/api`, signed instead of token-authenticated, so
/// players and CDNs can fetch them without headers).
pub(crate) fn delivery_router(pb: Playback) -> Router {
    Router::new()
        .route(
            "/media/{asset}/{user}/{expires}/{sig}/{*path}",
            get(deliver).head(deliver),
        )
        .with_state(pb)
}

/// A signed URL for the master playlist (users who may watch the asset).
#[utoipa::path(get, path = "/api/v1/assets/{id}/playback", tag = "media", params(("id" = AssetId, Path)),
    responses((status = 200, body = PlaybackView), (status = 404), (status = 409)), security(("bearer" = [])))]
async fn playback(
    State(pb): State<Playback>,
    auth: AuthUser,
    Path(id): Path<AssetId>,
) -> ApiResult<Json<PlaybackView>> {
    let row = pb.media.asset(id).await?.ok_or(MediaError::AssetNotFound)?;
    if !pb.media.may_watch(&auth, &row).await? {
        return Err(MediaError::AssetNotFound.into());
    }
    if row.state != AssetState::Ready {
        return Err(MediaError::AssetNotReady { playing: true }.into());
    }
    pb.open_session(auth.id).await?;
    let now = pb.media.clock.now();
    let duration_s = row.duration_ms.map(|ms| ms as f64 / 1000.0);
    let expires = now.plus_seconds(duration_s.unwrap_or(0.0).ceil() as i64 + 3600);
    let exp = expires.unix_seconds();
    let base = format!("/media/{id}/{}/{exp}/{}", auth.id, sign(&pb.signer, id, auth.id, exp));
    let has_poster = row.height.is_some();
    Ok(Json(PlaybackView {
        url: format!("{base}/master.m3u8"),
        expires_at: Timestamp::from_unix_seconds(exp),
        poster_url: has_poster.then(|| format!("{base}/poster.jpg")),
        duration_s,
    }))
}

fn forbidden_url() -> Response {
    MediaError::PlaybackUrlInvalid.into_response()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("m3u8") => "application/vnd.apple.mpegurl",
        Some("m4s") => "video/iso.segment",
        Some("mp4") => "video/mp4",
        Some("jpg") => "image/jpeg",
        Some("vtt") => "text/vtt; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n`. Several ranges are answered with the whole object.
fn parse_range(value: &str, size: u64) -> Option<Result<ByteRange, ()>> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    Some(match (a.is_empty(), b.is_empty()) {
        (true, false) => match b.parse::<u64>() {
            Ok(0) | Err(_) => Err(()),
            Ok(n) => Ok(ByteRange {
                start: size.saturating_sub(n),
                end: None,
            }),
        },
        (false, _) => match (
            a.parse::<u64>(),
            if b.is_empty() { Ok(u64::MAX) } else { b.parse::<u64>() },
        ) {
            (Ok(start), Ok(end)) if end >= start => Ok(ByteRange {
                start,
                end: (end != u64::MAX).then_some(end),
            }),
            _ => Err(()),
        },
        (true, true) => Err(()),
    })
}

async fn deliver(
    State(pb): State<Playback>,
    axum::extract::Path((asset, user, expires, sig, path)): axum::extract::Path<(String, String, i64, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let (Ok(asset), Ok(user)) = (asset.parse::<AssetId>(), user.parse::<UserId>()) else {
        return forbidden_url();
    };
    let now = pb.media.clock.now().unix_seconds();
    if !pb.signer.verify_until(&format!("{asset}/{user}"), expires, now, &sig) {
        return forbidden_url();
    }
    if path.split('/').any(|s| s.is_empty() || s.starts_with('.')) {
        return MediaError::AssetNotFound.into_response();
    }
    let prefix = match pb.ready_prefix(asset).await {
        Ok(Some(p)) => p,
        Ok(None) => return MediaError::AssetNotFound.into_response(),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    // Captions are added after transcoding: the master playlist gains their subtitle group and
    // the `subs/` paths map to the caption objects (short-cached, since a language's captions
    // can be replaced).
    let mut short_cache = path == "master.m3u8";
    let key = match captioned(&pb, asset, &prefix, &path).await {
        Ok(Captioned::Playlist(text)) => return text_response(text, &path, &method, &headers),
        Ok(Captioned::Object(key)) => {
            short_cache = true;
            key
        }
        Ok(Captioned::NotFound) => return MediaError::AssetNotFound.into_response(),
        Ok(Captioned::Plain) => format!("{prefix}/{path}"),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    // Strict credit: a segment fetched through this user's URL is what makes its range count.
    let strict = pb.media.cfg.strict_credit;
    if strict {
        if let Some((rendition, segment)) = segment_of(&path) {
            let recorded = store::record_fetch(&pb.media.db, user, asset, rendition, segment).await;
            if let Err(e) = recorded {
                return ApiError::internal(e).into_response();
            }
        }
    }
    // Segments and init files can come straight from the store (S3, a CDN in front of it);
    // playlists stay here so their relative URLs keep pointing at this signed path.
    if pb.media.presigned_delivery && !strict && !path.ends_with(".m3u8") {
        match pb
            .media
            .store
            .presign_get(&key, std::time::Duration::from_secs(3600))
            .await
        {
            Ok(Some(url)) => {
                let mut res = StatusCode::FOUND.into_response();
                if let Ok(v) = HeaderValue::from_str(&url) {
                    res.headers_mut().insert(header::LOCATION, v);
                }
                res.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=600"));
                return res;
            }
            Ok(None) => {}
            Err(e) => return ApiError::internal(e).into_response(),
        }
    }
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(v) => match parse_range(v, u64::MAX) {
            None => None,
            Some(Ok(r)) => Some(r),
            Some(Err(())) => Some(ByteRange {
                start: u64::MAX,
                end: None,
            }),
        },
    };
    // Suffix ranges (`bytes=-n`) need the size first; everything else opens the file once.
    let suffix = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().starts_with("bytes=-"));
    let range = if suffix {
        match pb.media.store.head(&key).await {
            Ok(meta) => headers
                .get(header::RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_range(v, meta.size))
                .and_then(Result::ok),
            Err(StoreError::NotFound(_)) | Err(StoreError::InvalidKey(_)) => {
                return MediaError::AssetNotFound.into_response();
            }
            Err(e) => return ApiError::internal(e).into_response(),
        }
    } else {
        range
    };
    let obj = match pb.media.store.get(&key, range).await {
        Ok(o) => o,
        Err(StoreError::NotFound(_)) | Err(StoreError::InvalidKey(_)) => {
            return MediaError::AssetNotFound.into_response();
        }
        Err(StoreError::RangeNotSatisfiable { size, .. }) => {
            let mut res = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            res.headers_mut()
                .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return res;
        }
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let meta = obj.meta.clone();
    // Objects under a rendition prefix never change: the key and size identify the bytes.
    let etag = format!(
        "\"{}\"",
        &URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{key}:{}", meta.size)))[..22]
    );
    let cache = if short_cache {
        SHORT_CACHE
    } else if path.ends_with(".m3u8") {
        "public, max-age=3600"
    } else {
        "public, max-age=31536000, immutable"
    };
    let base_headers = |res: &mut Response| {
        let h = res.headers_mut();
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&path)));
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        let mut res = StatusCode::NOT_MODIFIED.into_response();
        base_headers(&mut res);
        return res;
    }
    let (start, end) = obj.range;
    let len = if meta.size == 0 { 0 } else { end - start + 1 };
    let mut res = if method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from_stream(obj.body))
    };
    base_headers(&mut res);
    res.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if range.is_some() {
        *res.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{}", meta.size)) {
            res.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    res
}

/// Playlists that change when captions do.
const SHORT_CACHE: &str = "public, max-age=60";

enum Captioned {
    /// Not a caption path: serve the stored object.
    Plain,
    /// A playlist written here (the master with subtitles, or a subtitle playlist).
    Playlist(String),
    /// The WebVTT object of a caption track.
    Object(String),
    NotFound,
}

async fn captioned(pb: &Playback, asset: AssetId, prefix: &str, path: &str) -> Result<Captioned, anyhow::Error> {
    let sub = path.strip_prefix("subs/");
    if path != "master.m3u8" && sub.is_none() {
        return Ok(Captioned::Plain);
    }
    let tracks = pb.media.caption_keys(asset).await?;
    if let Some(sub) = sub {
        let (lang, ext) = sub.rsplit_once('.').unwrap_or((sub, ""));
        let Some(track) = tracks.into_iter().find(|t| t.lang == lang) else {
            return Ok(Captioned::NotFound);
        };
        return Ok(match ext {
            "vtt" => Captioned::Object(track.object_key),
            "m3u8" => {
                let duration = pb.media.asset(asset).await?.and_then(|a| a.duration_ms).unwrap_or(0);
                Captioned::Playlist(crate::captions::subtitle_playlist(lang, duration as f64 / 1000.0))
            }
            _ => Captioned::NotFound,
        });
    }
    if tracks.is_empty() {
        return Ok(Captioned::Plain);
    }
    let master = pb.media.store.get_bytes(&format!("{prefix}/master.m3u8")).await?;
    let tracks: Vec<(String, String)> = tracks.into_iter().map(|t| (t.lang, t.label)).collect();
    Ok(Captioned::Playlist(crate::captions::with_subtitles(
        &String::from_utf8_lossy(&master),
        &tracks,
    )))
}

/// A playlist made on the fly, with an `ETag` of its text.
fn text_response(text: String, path: &str, method: &Method, headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", &URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))[..22]);
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else if *method == Method::HEAD {
        let mut r = Response::new(Body::empty());
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
        r
    } else {
        Response::new(Body::from(text))
    };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(SHORT_CACHE));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(
            parse_range("bytes=0-99", 1000),
            Some(Ok(ByteRange {
                start: 0,
                end: Some(99)
            }))
        );
        assert_eq!(
            parse_range("bytes=900-", 1000),
            Some(Ok(ByteRange { start: 900, end: None }))
        );
        assert_eq!(
            parse_range("bytes=-100", 1000),
            Some(Ok(ByteRange { start: 900, end: None }))
        );
        assert_eq!(parse_range("bytes=5-1", 1000), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), None);
        assert_eq!(parse_range("items=0-1", 1000), None);
    }

    #[test]
    fn signatures_bind_asset_user_and_expiry() {
        let signer = url_signer(b"secret");
        let (a, u) = (AssetId::new(), UserId::new());
        let s = sign(&signer, a, u, 100);
        let message = format!("{a}/{u}");
        assert!(signer.verify_until(&message, 100, 0, &s));
        assert!(!signer.verify_until(&message, 101, 0, &s));
        assert!(!signer.verify_until(&format!("{a}/{}", UserId::new()), 100, 0, &s));
        assert!(!url_signer(b"other").verify_until(&message, 100, 0, &s));
    }
}
