//! What wraps every request: the client address behind trusted proxies, security headers,
//! metrics, and problem+json for unknown routes and methods.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::Settings;
use axum::extract::{ConnectInfo, Extension, MatchedPath, Request};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use platform::error::{ApiError, msg};
use platform::http::ClientIp;

use crate::web;

pub(super) fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// Unknown `/api` routes are problem+json 404s; other GETs serve the web app so that deep links
/// shared in group chats open.
pub(super) async fn fallback(Extension(web): Extension<web::WebApp>, method: Method, uri: Uri) -> Response {
    if !is_api(uri.path()) && (method == Method::GET || method == Method::HEAD) {
        return web.serve(uri.path()).await;
    }
    ApiError::not_found(
        "route_not_found",
        msg(
            format!("没有这个接口：{} {}", method, uri.path()),
            format!("No such endpoint: {} {}", method, uri.path()),
        ),
    )
    .into_response()
}

pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        msg(
            format!("{} 不支持 {} 方法。", uri.path(), method),
            format!("{} does not support {}.", uri.path(), method),
        ),
    )
    .into_response()
}

pub(super) async fn client_ip(
    trust_proxy: bool,
    proxies: Arc<platform::http::TrustedProxies>,
    mut req: Request,
    next: Next,
) -> Response {
    let ip = match req.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(peer) => {
            let forwarded = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
            platform::http::client_address(peer.0.ip(), forwarded, trust_proxy, &proxies).to_string()
        }
        None => "unknown".to_owned(),
    };
    req.extensions_mut().insert(ClientIp(ip));
    next.run(req).await
}

/// Headers every response carries: a Content-Security-Policy that allows only this origin's
/// scripts (and media blobs for the player; the bucket's origin when segments are served from
/// it), no framing by other sites, no MIME sniffing, and no Referer with signed URLs to others.
pub(super) struct SecurityHeaders {
    csp: HeaderValue,
}

impl SecurityHeaders {
    pub(super) fn new(settings: &Settings) -> Self {
        let bucket = (settings.storage.backend == platform::config::StorageBackend::S3
            && settings.storage.s3.presigned_delivery)
            .then(|| settings.storage.s3.endpoint.as_deref().and_then(origin_of))
            .flatten()
            .map(|o| format!(" {o}"))
            .unwrap_or_default();
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: \
             blob:{bucket}; \
             media-src 'self' blob:{bucket}; connect-src 'self'{bucket}; font-src 'self'; object-src 'none'; \
             base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
        );
        Self {
            csp: HeaderValue::from_str(&csp)
                .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'; frame-ancestors 'self'")),
        }
    }
}

/// `https://oss.example.com/anything` → `https://oss.example.com`.
pub(super) fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest
        .split('/')
        .next()
        .filter(|h| !h.is_empty() && !h.contains(['\'', ';', ' ']))?;
    Some(format!("{scheme}://{host}"))
}

pub(super) async fn security_headers(security: Arc<SecurityHeaders>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert_with(|| security.csp.clone());
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("SAMEORIGIN"));
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("same-origin"));
    res
}

pub(super) async fn record_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    res
}
