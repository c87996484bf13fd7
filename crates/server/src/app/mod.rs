//! Composition of the HTTP app: `build()` opens the database and the object store and assembles
//! the routers and middleware; `App::serve(listener, shutdown)` runs it until `shutdown`
//! resolves. Tests bind `127.0.0.1:0` and call the same two functions.
//!
//! Middleware, outermost first: request id → trace span → propagated id → problem rendering in
//! the caller's language → panic catcher → metrics → extensions (`TokenKeys`, the web app) →
//! client address → body limit. Unknown `/api/…` routes are a 404 problem, a wrong method a 405
//! problem, any other GET the web app. `serve` also runs, unless `media.worker_in_serve` is off,
//! the job worker (transcoding, replays) and upload clean-up, and always the live loop
//! ([`live_session::Live::run`]) with reminders and replay notices beside it.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::Settings;
use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Extension, Request};
use axum::middleware::{self};
use axum::response::IntoResponse;
use platform::accounts::Accounts;
use platform::auth::TokenKeys;
use platform::error::{ApiError, render_problems};
use platform::store::{LocalStore, ObjectStore};
use platform::{Clock, Db, SystemClock};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::web;

mod bridges;
mod layers;
mod ops;

use bridges::*;
use layers::*;
pub use ops::*;

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
    pub evaluation: evaluation::Evaluation,
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
    let store: Arc<dyn ObjectStore> = match settings.storage.backend {
        platform::config::StorageBackend::S3 => {
            Arc::new(media::s3::S3Store::new(&settings.storage.s3).context("could not configure the S3 object store")?)
        }
        platform::config::StorageBackend::Local => {
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
    .map_err(anyhow::Error::msg)?
    .with_presigned_delivery(
        settings.storage.backend == platform::config::StorageBackend::S3 && settings.storage.s3.presigned_delivery,
    );
    let catalog = unrestricted_catalog.clone().with_asset_rights(Arc::new(MediaRights {
        media: media.clone(),
        catalog: unrestricted_catalog,
    }));

    let public_url = settings.server.public_url.clone();
    let (live, live_events) =
        live_session::Live::new(db.clone(), clock.clone(), settings.live.clone(), public_url, &secret)
            .map_err(anyhow::Error::msg)?;
    // One gateway for notices and text messages: with it, 忘记密码 sends SMS codes too.
    // And for certificates, texted to their holders.
    let mut text_gateway: Option<Arc<dyn platform::texts::TextGateway>> = None;
    let (notifier, accounts): (Arc<dyn live_session::Notifier>, Accounts) = match &settings.live.notify_webhook_url {
        Some(url) => {
            let gateway = Arc::new(live_session::WebhookNotifier::new(url.clone())?);
            text_gateway = Some(gateway.clone());
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
    // The configured terms (checked at start-up), for reports and evaluations.
    let terms: Arc<Vec<platform::terms::Period>> =
        Arc::new(settings.terms.iter().filter_map(|t| t.period().ok()).collect());
    let evaluation = evaluation::Evaluation::new(
        db.clone(),
        clock.clone(),
        jobs.clone(),
        store.clone(),
        evaluation::Domains {
            catalog: catalog.clone(),
            media: media.clone(),
            live: live.clone(),
        },
    )
    .with_public_url(settings.server.public_url.clone())
    .with_terms(terms.clone());
    let evaluation = match std::fs::read(&settings.certificates.font_path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| evaluation.clone().with_font(bytes))
    {
        Ok(with_font) => with_font,
        Err(e) => {
            tracing::warn!(
                font = %settings.certificates.font_path.display(),
                "certificates cannot be drawn ({e}): install fonts-noto-cjk or set certificates.font_path"
            );
            evaluation
        }
    };
    let evaluation = match &text_gateway {
        Some(gateway) => evaluation.with_texts(gateway.clone()),
        None => evaluation,
    };
    // Deleting an account also frees its seats, erases its chat text, its favourites, quiz
    // attempts and ratings.
    let accounts = accounts.with_erasers(vec![
        Arc::new(live.clone()),
        Arc::new(catalog.clone()),
        Arc::new(evaluation.clone()),
    ]);
    let access: Arc<dyn media::AssetAccess> = Arc::new(CatalogAccess(catalog.clone()));
    let openapi_json = Arc::new(OnceLock::new());
    let ops = Ops {
        db: db.clone(),
        store: store.clone(),
        media: media.clone(),
        openapi_json: openapi_json.clone(),
    };
    let api = platform::router(accounts.clone())
        .merge(catalog::router(catalog.clone()))
        .merge(media::router(media.clone(), access.clone(), &secret))
        .merge(live_session::router(live.clone()))
        .merge(evaluation::router(evaluation.clone()))
        .merge({
            let learning = crate::learning::Learning {
                catalog: catalog.clone(),
                media: media.clone(),
                live: live.clone(),
                terms: terms.clone(),
            };
            crate::learning::router(learning.clone()).merge(crate::record::router(learning))
        })
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
        evaluation,
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
        let handlers: Vec<Arc<dyn platform::jobs::JobHandler>> = vec![
            Arc::new(self.media.transcoder()),
            Arc::new(self.live.replay_job()),
            Arc::new(self.evaluation.certificate_job()),
        ];
        let worker = format!("{}-{}", hostname(), uuid::Uuid::now_v7().simple());
        let jobs = platform::jobs::run_worker(
            self.jobs.clone(),
            handlers,
            worker,
            Duration::from_millis(500),
            stop.clone(),
        );
        let media = self.media.clone();
        let mut stop_cleanup = stop.clone();
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
        // Certificate rules whose period is open (or just over) are checked again every ten
        // minutes, so members who meet one later get theirs.
        let evaluation = self.evaluation.clone();
        let mut stop_sweep = stop.clone();
        let sweep = async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(600)) => {}
                    _ = stop_sweep.changed() => return,
                }
                if let Err(e) = evaluation.sweep_rules().await {
                    tracing::warn!(error = %e, "certificate sweep failed");
                }
            }
        };
        tokio::spawn(async move {
            tokio::join!(jobs, cleanup, sweep);
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
