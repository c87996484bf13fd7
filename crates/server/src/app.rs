//! Composition of the HTTP app: `build()` opens the database and the object store and assembles
//! the routers and middleware; `App::serve(listener, shutdown)` runs it until `shutdown`
//! resolves. Tests bind `127.0.0.1:0` and call the same two functions.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Extension, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use platform::accounts::{self, Accounts};
use platform::auth::TokenKeys;
use platform::config::Settings;
use platform::error::{ApiError, msg, render_problems};
use platform::http::{ApiRouter, ClientIp, Json};
use platform::store::{LocalStore, ObjectStore};
use platform::{Clock, Db, SystemClock};
use serde::Serialize;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::web;

/// The assembled service, ready to serve.
pub struct App {
    router: Router,
    pub settings: Settings,
    pub db: Db,
    pub accounts: Accounts,
    pub catalog: catalog::Catalog,
    pub media: media::Media,
    pub jobs: platform::jobs::Jobs,
    pub store: Arc<dyn ObjectStore>,
    pub live: live_session::Live,
    /// The SFU's events, consumed by the live loop that `serve` starts.
    live_events: Arc<std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<live_session::SfuEvent>>>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("db", &self.db.backend())
            .finish_non_exhaustive()
    }
}

/// Opens the database (applying migrations unless told not to) and the object store, and builds
/// the router.
pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let url = settings.database_url();
    let db = Db::connect(
        &url,
        settings.database.max_connections,
        settings.database.acquire_timeout(),
    )
    .await
    .with_context(|| {
        format!(
            "could not open the database {}",
            crate::settings::mask_url_password(&url)
        )
    })?;
    if settings.database.migrate_on_start {
        db.migrate().await.context("could not apply database migrations")?;
    }
    let store: Arc<dyn ObjectStore> = match settings.storage.backend.as_str() {
        "s3" => {
            Arc::new(media::s3::S3Store::new(&settings.storage.s3).context("could not configure the S3 object store")?)
        }
        _ => {
            let store_dir = settings.local_store_dir();
            Arc::new(
                LocalStore::open(&store_dir)
                    .await
                    .with_context(|| format!("could not open the object store at {}", store_dir.display()))?,
            )
        }
    };
    let secret = jwt_secret(&settings)?;
    let keys = Arc::new(TokenKeys::new(
        &secret,
        &settings.auth.issuer,
        &settings.auth.audience,
        settings.auth.access_token_ttl_seconds,
    ));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let accounts = Accounts::new(db.clone(), clock.clone(), keys.clone(), settings.auth.clone());
    let unrestricted_catalog = catalog::Catalog::new(db.clone(), store.clone(), clock.clone());
    let jobs = platform::jobs::Jobs::new(
        db.clone(),
        clock.clone(),
        Duration::from_secs(settings.media.job_lease_seconds),
    );
    let media = media::Media::new(
        db.clone(),
        store.clone(),
        clock.clone(),
        jobs.clone(),
        settings.media.clone(),
        settings.media_work_dir(),
    )
    .with_presigned_delivery(settings.storage.backend == "s3" && settings.storage.s3.presigned_delivery);
    let catalog = unrestricted_catalog.clone().with_asset_rights(Arc::new(MediaRights {
        media: media.clone(),
        catalog: unrestricted_catalog,
    }));

    let public_url = settings.server.public_url.clone();
    let (live, live_events) = live_session::Live::new(db.clone(), clock.clone(), &settings.live, public_url, &secret);
    // One gateway for notices and text messages: with it, 忘记密码 sends SMS codes too.
    let (notifier, accounts): (Arc<dyn live_session::Notifier>, Accounts) = match &settings.live.notify_webhook_url {
        Some(url) => {
            let gateway = Arc::new(live_session::WebhookNotifier::new(url.clone())?);
            (gateway.clone(), accounts.with_texts(gateway))
        }
        None => (Arc::new(live_session::LogNotifier), accounts),
    };
    let live = live.with_notifier(notifier);
    let live = if settings.live.udp_port != 0 {
        let public_ip = match &settings.live.udp_public_ip {
            Some(ip) => ip
                .parse::<std::net::IpAddr>()
                .with_context(|| format!("live.udp_public_ip {ip:?} is not an IP address"))?,
            None => local_ip(&settings.live.media_addrs),
        };
        let mux = live_session::udp_mux::UdpMux::bind(
            SocketAddr::from(([0, 0, 0, 0], settings.live.udp_port)),
            SocketAddr::new(public_ip, settings.live.udp_port),
        )
        .await
        .with_context(|| format!("could not bind the WebRTC media port udp/{}", settings.live.udp_port))?;
        live.with_udp_mux(mux)
    } else {
        live
    };
    let live = if settings.live.recording {
        live.with_recording(live_session::RecordingSetup {
            store: store.clone(),
            media: media.clone(),
            ffmpeg: settings.media.ffmpeg.clone(),
            work_dir: settings.media_work_dir(),
            replays: Arc::new(CatalogReplays {
                catalog: catalog.clone(),
                db: db.clone(),
            }),
        })
    } else {
        live
    };
    // Deleting an account also frees its seats, erases its chat text and its favourites.
    let accounts = accounts.with_erasers(vec![Arc::new(live.clone()), Arc::new(catalog.clone())]);
    let access: Arc<dyn media::AssetAccess> = Arc::new(CatalogAccess(catalog.clone()));
    let openapi_json = Arc::new(OnceLock::new());
    let ops = Ops {
        db: db.clone(),
        store: store.clone(),
        media: media.clone(),
        openapi_json: openapi_json.clone(),
    };
    let api = accounts::router(accounts.clone())
        .merge(catalog::router(catalog.clone()))
        .merge(media::router(media.clone(), access.clone(), &secret))
        .merge(live_session::router(live.clone()))
        .merge(crate::learning::router(crate::learning::Learning {
            catalog: catalog.clone(),
            media: media.clone(),
            live: live.clone(),
            terms: std::sync::Arc::new(settings.terms.clone()),
        }))
        .merge(ops_router(ops));
    let (api, doc) = api.into_inner().split_for_parts();
    let _ = openapi_json.set(
        openapi_document(doc)
            .to_pretty_json()
            .context("could not render the OpenAPI document")?,
    );

    let web = web::WebApp::new(settings.server.web_dir.clone());
    let security = Arc::new(SecurityHeaders::new(&settings));
    let trust_proxy = settings.server.trust_proxy_headers;
    let proxies = Arc::new(
        platform::http::TrustedProxies::parse(&settings.server.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}"))?,
    );
    let router = api
        .merge(media::delivery_router(media.clone(), access, &secret))
        .merge(live.delivery_router())
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!("http", method = %req.method(), path = req.uri().path(), request_id = id)
                }))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(middleware::from_fn(move |req, next| {
                    security_headers(security.clone(), req, next)
                }))
                .layer(middleware::from_fn(render_problems))
                .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
                    ApiError::internal(anyhow::anyhow!("handler panicked")).into_response()
                }))
                .layer(middleware::from_fn(record_metrics))
                .layer(Extension(keys))
                .layer(Extension(web))
                .layer(middleware::from_fn(move |req, next| {
                    client_ip(trust_proxy, proxies.clone(), req, next)
                }))
                .layer(DefaultBodyLimit::max(settings.server.max_body_bytes)),
        );
    Ok(App {
        router,
        settings,
        db,
        accounts,
        catalog,
        media,
        jobs,
        store,
        live,
        live_events: Arc::new(std::sync::Mutex::new(Some(live_events))),
    })
}

impl App {
    /// The router, for callers that drive it without a socket.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves on `listener` until `shutdown` resolves, then lets in-flight requests finish (up to
    /// `server.shutdown_grace_seconds`) and closes the database pool.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let grace = Duration::from_secs(self.settings.server.shutdown_grace_seconds);
        let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
        let (workers_stop, workers_rx) = tokio::sync::watch::channel(false);
        let workers = if self.settings.media.worker_in_serve {
            Some(self.spawn_workers(workers_rx.clone()))
        } else {
            None
        };
        // Access tokens voided on other nodes (password changes, deleted accounts) stop working
        // here within seconds; deletions a crash interrupted are finished.
        let accounts = self.accounts.clone();
        let mut revocations_stop = workers_rx.clone();
        tokio::spawn(async move {
            match accounts.erase_pending().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(accounts = n, "finished erasing deleted accounts"),
                Err(e) => tracing::warn!(error = %e, "could not finish erasing deleted accounts"),
            }
            loop {
                if let Err(e) = accounts.load_revocations().await {
                    tracing::warn!(error = %e, "could not read revoked sessions; retrying");
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = revocations_stop.changed() => return,
                }
            }
        });
        let live_loop = self
            .live_events
            .lock()
            .ok()
            .and_then(|mut rx| rx.take())
            .map(|rx| tokio::spawn(self.live.clone().run(rx, workers_rx)));
        let server = axum::serve(
            listener,
            self.router.clone().into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = workers_stop.send(true);
            let _ = stopped_tx.send(());
        });
        let serving = tokio::spawn(async move { server.await });
        tokio::pin!(serving);
        tokio::select! {
            result = &mut serving => result??,
            _ = async {
                let _ = stopped_rx.await;
                tokio::time::sleep(grace).await;
            } => tracing::warn!("in-flight requests did not finish within {grace:?}; stopping anyway"),
        }
        if let Some(workers) = workers {
            let _ = tokio::time::timeout(grace, workers).await;
        }
        if let Some(live_loop) = live_loop {
            // Its last act is writing the open attendance intervals.
            let _ = tokio::time::timeout(grace, live_loop).await;
        }
        self.db.close().await;
        Ok(())
    }

    /// Runs the background work (the job queue and clean-ups) until `stop` turns `true`.
    pub fn spawn_workers(&self, stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        let handlers: Vec<Arc<dyn platform::jobs::JobHandler>> =
            vec![Arc::new(self.media.transcoder()), Arc::new(self.live.replay_job())];
        let worker = format!("{}-{}", hostname(), uuid::Uuid::now_v7().simple());
        let jobs = platform::jobs::run_worker(
            self.jobs.clone(),
            handlers,
            worker,
            Duration::from_millis(500),
            stop.clone(),
        );
        let media = self.media.clone();
        let mut stop_cleanup = stop;
        let cleanup = async move {
            loop {
                match media.clean_up_uploads().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "removed abandoned uploads"),
                    Err(e) => tracing::warn!(error = %e, "upload clean-up failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(600)) => {}
                    _ = stop_cleanup.changed() => return,
                }
            }
        };
        tokio::spawn(async move {
            tokio::join!(jobs, cleanup);
        })
    }
}

/// The address browsers reach this machine at, when none is configured: the one the default
/// route leaves from (no packet is sent), or loopback when media is loopback-only or there is
/// no route.
fn local_ip(media_addrs: &[String]) -> std::net::IpAddr {
    let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
    if media_addrs.iter().all(|a| a.starts_with("127.")) {
        return loopback;
    }
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:9")?;
            s.local_addr()
        })
        .map_or(loopback, |a| a.ip())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "node".into())
}

/// The access-token key: configured, or generated once and kept in the data directory.
fn jwt_secret(settings: &Settings) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &settings.auth.jwt_secret {
        return Ok(secret.expose().as_bytes().to_vec());
    }
    let path = settings.data_dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let trimmed = existing.trim();
        if trimmed.len() >= 32 {
            return Ok(trimmed.as_bytes().to_vec());
        }
    }
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("could not create {}", settings.data_dir.display()))?;
    let secret = platform::auth::random_token() + &platform::auth::random_token();
    write_private(&path, &secret).with_context(|| format!("could not write {}", path.display()))?;
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    opts.open(path)?.write_all(contents.as_bytes())
}

fn openapi_document(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    doc.info.title = "ParentSchool 家长学堂 API".into();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.info.description = Some(
        "Errors are RFC 9457 application/problem+json with a stable `code`; messages follow \
         Accept-Language (Chinese \
         by default)."
            .into(),
    );
    doc.components.get_or_insert_with(Default::default).add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    doc
}

/// Media asks the catalog whether a user may watch an asset: the composition lives here, since
/// neither domain crate may depend on the other.
#[derive(Debug)]
struct CatalogAccess(catalog::Catalog);

#[async_trait::async_trait]
impl media::AssetAccess for CatalogAccess {
    async fn may_watch(&self, user: &platform::auth::AuthUser, asset: media::AssetId) -> platform::ApiResult<bool> {
        self.0.lesson_asset_visible(user, &asset.to_string()).await
    }

    async fn may_manage(&self, user: &platform::auth::AuthUser, asset: media::AssetId) -> platform::ApiResult<bool> {
        self.0.lesson_asset_managed(user, &asset.to_string()).await
    }
}

/// Who may put an asset into a lesson: its uploader, admins, and curators managing a course
/// that already uses it (the catalog's side of the rule, composed here with media's).
#[derive(Debug)]
struct MediaRights {
    media: media::Media,
    catalog: catalog::Catalog,
}

#[async_trait::async_trait]
impl catalog::AssetRights for MediaRights {
    async fn may_use(&self, user: &platform::auth::AuthUser, asset: &str) -> platform::ApiResult<bool> {
        let Ok(id) = asset.parse::<media::AssetId>() else {
            return Ok(false);
        };
        Ok(self.media.uploader(id).await? == Some(user.id) || self.catalog.lesson_asset_managed(user, asset).await?)
    }
}

/// Publishes live replays as lessons (the catalog side of `live_session::ReplayPublisher`).
#[derive(Debug)]
struct CatalogReplays {
    catalog: catalog::Catalog,
    db: Db,
}

#[async_trait::async_trait]
impl live_session::ReplayPublisher for CatalogReplays {
    async fn attach(&self, r: &live_session::Replay) -> anyhow::Result<(uuid::Uuid, uuid::Uuid)> {
        let fallback_owner = platform::orgs::memberships(&self.db, r.expert_id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .first()
            .map(|o| o.id);
        let course = catalog::replays::ReplayCourse {
            course_id: r.replay_course_id.map(catalog::CourseId),
            title: r.series_title.clone(),
            summary: r.description.clone(),
            lecturer: r.lecturer.clone(),
            scope_org_id: r.scope_org_id,
            fallback_owner,
            age_stages: r.age_stages.clone(),
        };
        let title = format!("{} 直播回放", live_session::recurrence::china_time(r.starts_at));
        let (course, lesson) = self
            .catalog
            .attach_replay(&course, &title, &r.asset_id.to_string(), r.duration_s)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok((course.0, lesson.0))
    }
}

#[derive(Clone)]
struct Ops {
    db: Db,
    store: Arc<dyn ObjectStore>,
    media: media::Media,
    openapi_json: Arc<OnceLock<String>>,
}

fn ops_router(ops: Ops) -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(openapi))
        .with_state(ops)
}

#[derive(Serialize, ToSchema)]
struct Health {
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
struct Readiness {
    status: &'static str,
    database: String,
    object_store: String,
    /// `ffmpeg` version, or "missing": the service runs without it, but uploads then fail.
    ffmpeg: String,
}

const READY_TIMEOUT: Duration = Duration::from_millis(1500);

/// The database and the object store answer.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, body = Readiness), (status = 503)))]
async fn readyz(State(ops): State<Ops>) -> Response {
    // No longer than a request waits for the database: a probe must answer before it times out.
    let (db, store) = tokio::join!(
        tokio::time::timeout(READY_TIMEOUT, ops.db.ping()),
        tokio::time::timeout(READY_TIMEOUT, ops.store.check())
    );
    // Callers (anonymous load balancers) learn only ok or unavailable; the cause is logged.
    let check = |name: &str, r: Result<Result<(), String>, tokio::time::error::Elapsed>| match r {
        Ok(Ok(())) => "ok",
        Ok(Err(e)) => {
            tracing::warn!(check = name, error = %e, "readiness check failed");
            "unavailable"
        }
        Err(_) => {
            tracing::warn!(check = name, "readiness check timed out");
            "unavailable"
        }
    };
    let database = check("database", db.map(|r| r.map_err(|e| e.to_string()))).to_owned();
    let object_store = check("object_store", store.map(|r| r.map_err(|e| e.to_string()))).to_owned();
    let ffmpeg = ops.media.ffmpeg_version().await.unwrap_or_else(|| "missing".into());
    if database == "ok" && object_store == "ok" {
        Json(Readiness {
            status: "ready",
            database,
            object_store,
            ffmpeg,
        })
        .into_response()
    } else {
        tracing::warn!(database, object_store, "not ready");
        ApiError::unavailable(
            "not_ready",
            msg(
                "服务尚未就绪，请稍后再试。",
                "The service is not ready; try again shortly.",
            ),
        )
        .with_extra(
            "checks",
            serde_json::json!({ "database": database, "object_store": object_store }),
        )
        .into_response()
    }
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations", responses((status = 200, content_type = "application/json")))]
async fn openapi(State(ops): State<Ops>) -> Response {
    let body = ops.openapi_json.get().cloned().unwrap_or_default();
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// Unknown `/api` routes are problem+json 404s; other GETs serve the web app so that deep links
/// shared in group chats open.
async fn fallback(Extension(web): Extension<web::WebApp>, method: Method, uri: Uri) -> Response {
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

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
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

async fn client_ip(
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
struct SecurityHeaders {
    csp: HeaderValue,
}

impl SecurityHeaders {
    fn new(settings: &Settings) -> Self {
        let bucket = (settings.storage.backend == "s3" && settings.storage.s3.presigned_delivery)
            .then(|| settings.storage.s3.endpoint.as_deref().and_then(origin_of))
            .flatten()
            .map(|o| format!(" {o}"))
            .unwrap_or_default();
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src \
             'self' \
             data: \
             blob:{bucket}; \
             media-src 'self' blob:{bucket}; connect-src 'self'{bucket}; font-src 'self'; \
             object-src \
             'none'; \
             base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
        );
        Self {
            csp: HeaderValue::from_str(&csp)
                .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'; frame-ancestors 'self'")),
        }
    }
}

/// `https://oss.example.com/anything` → `https://oss.example.com`.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest
        .split('/')
        .next()
        .filter(|h| !h.is_empty() && !h.contains(['\'', ';', ' ']))?;
    Some(format!("{scheme}://{host}"))
}

async fn security_headers(security: Arc<SecurityHeaders>, req: Request, next: Next) -> Response {
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

async fn record_metrics(req: Request, next: Next) -> Response {
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
