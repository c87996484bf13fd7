//! Test support for the cross-crate suites: start the real server on `127.0.0.1:0` over a fresh
//! database (an SQLite file in a temp folder, or a new PostgreSQL database per test) and talk to
//! it over HTTP.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use platform::config::Secret;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use server::Settings;
use tokio::sync::oneshot;

/// The access-token key every test server uses, so tests can forge tokens.
pub const TEST_JWT_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The server under test.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub data_dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pg_database: Option<String>,
    s3: Option<S3Server>,
    _dir: Arc<tempfile::TempDir>,
}

/// The PostgreSQL server the tests create their databases on.
pub fn pg_admin_url() -> String {
    std::env::var("PARENTSCHOOL_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn pg_url_for(database: &str) -> String {
    let admin = pg_admin_url();
    match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{database}"),
        None => admin,
    }
}

async fn create_pg_database() -> anyhow::Result<String> {
    use sqlx::Connection;
    let name = format!("ps_test_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(&pg_admin_url())
        .await
        .with_context(|| format!("PostgreSQL is required for the tests at {}", pg_admin_url()))?;
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(name)
}

fn drop_pg_database(name: String) {
    // Drop runs outside any runtime we may block: do it on a thread of its own.
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        rt.block_on(async {
            use sqlx::Connection;
            if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
                let _ = conn.close().await;
            }
        });
    })
    .join();
}

/// Defaults plus the test signing key and a short shutdown grace.
fn base_settings(data_dir: PathBuf) -> Settings {
    let mut settings = Settings {
        data_dir,
        ..Settings::default()
    };
    settings.auth.jwt_secret = Some(Secret::new(TEST_JWT_SECRET));
    settings.server.shutdown_grace_seconds = 2;
    // WebRTC media stays on loopback.
    settings.live.media_addrs = vec!["127.0.0.1:0".into()];
    settings
}

/// A fresh PostgreSQL database, dropped with this guard.
pub struct PgDatabase {
    pub url: String,
    name: String,
}

impl PgDatabase {
    pub async fn create() -> Self {
        let name = create_pg_database().await.unwrap_or_else(|e| panic!("{e:#}"));
        Self {
            url: pg_url_for(&name),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        drop_pg_database(std::mem::take(&mut self.name));
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts a server whose settings `tweak` may adjust. Panics (failing the test) when the
    /// server cannot start: a test must never be skipped silently.
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> Self {
        match Self::try_spawn(backend, tweak).await {
            Ok(app) => app,
            Err(e) => panic!("could not start the test server on {backend:?}: {e:#}"),
        }
    }

    async fn try_spawn(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> anyhow::Result<Self> {
        // PARENTSCHOOL_TEST_LOG=debug shows the servers' logs (5xx causes included).
        if let Ok(filter) = std::env::var("PARENTSCHOOL_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let dir = Arc::new(tempfile::tempdir()?);
        let mut settings = base_settings(dir.path().join("data"));
        let pg_database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let name = create_pg_database().await?;
                settings.database.url = Some(Secret::new(pg_url_for(&name)));
                settings.database.max_connections = 5;
                Some(name)
            }
        };
        tweak(&mut settings);
        let data_dir = settings.data_dir.clone();
        let app = server::build(settings).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        }));
        Ok(Self {
            base,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            backend,
            data_dir,
            shutdown: Some(tx),
            task: Some(task),
            pg_database,
            s3: None,
            _dir: dir,
        })
    }

    /// The database URL the server uses.
    pub fn database_url(&self) -> String {
        match &self.pg_database {
            Some(db) => pg_url_for(db),
            None => format!("sqlite://{}", self.data_dir.join("parentschool.db").display()),
        }
    }

    /// Like [`spawn_with`](Self::spawn_with), with the object store on a real S3-compatible
    /// server started for this test.
    pub async fn spawn_with_s3(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> Self {
        let s3 = S3Server::start().await;
        let s3_settings = s3.settings();
        let mut app = Self::spawn_with(backend, |s| {
            s.storage.backend = platform::config::StorageBackend::S3;
            s.storage.s3 = s3_settings;
            tweak(s);
        })
        .await;
        app.s3 = Some(s3);
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a JSON request (no body when `body` is `Value::Null`) and returns status and JSON
    /// body (`Value::Null` when empty or not JSON).
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if !body.is_null() {
            req = req.json(&body);
        }
        let res = match req.send().await {
            Ok(r) => r,
            Err(e) => panic!("request to {path} failed: {e}"),
        };
        let status = res.status();
        let bytes = res.bytes().await.unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, Value::Null).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, body).await
    }

    /// Registers a parent and returns the register body.
    pub async fn register(&self, phone: &str, password: &str) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/auth/register",
                None,
                serde_json::json!({"phone": phone, "password": password, "display_name": "测试家长", "accept_privacy_notice": true}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {phone}: {body}");
        body
    }

    /// Logs in and returns the login body.
    pub async fn login(&self, phone: &str, password: &str) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/auth/login",
                None,
                serde_json::json!({"phone": phone, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {phone}: {body}");
        body
    }

    /// Creates a user with any role straight through the service (as the CLI does) and returns
    /// an access token for them.
    pub async fn user_with_role(&self, phone: &str, role: &str, org: Option<&str>) -> String {
        let app = self.handle().await;
        let org = org.map(|o| o.parse().unwrap_or_else(|e| panic!("bad org id {o}: {e}")));
        let role = platform::validate::Role::parse(role).unwrap_or_else(|| panic!("bad role {role}"));
        app.accounts
            .create_user(platform::accounts::NewUser {
                phone: phone.into(),
                password: "pass1234word".into(),
                display_name: format!("{} {phone}", role.as_str()),
                role,
                org,
                must_change_password: false,
                privacy_consent: false,
            })
            .await
            .unwrap_or_else(|e| panic!("create {role:?}: {e}"));
        app.db.close().await;
        token_of(&self.login(phone, "pass1234word").await)
    }

    /// Creates an organization through the service and returns its id.
    pub async fn org(&self, name: &str, kind: &str, parent: Option<&str>) -> String {
        let app = self.handle().await;
        let kind = platform::validate::OrgKind::parse(kind).unwrap_or_else(|| panic!("bad kind {kind}"));
        let parent = parent.map(|p| p.parse().unwrap_or_else(|e| panic!("bad org id {p}: {e}")));
        let org = platform::orgs::create_org(&app.db, app.accounts.now(), name, kind, parent)
            .await
            .unwrap_or_else(|e| panic!("create org {name}: {e}"));
        app.db.close().await;
        org.id.to_string()
    }

    /// Creates a 教联体 partner unit of `partner_type` under `parent` through the service and
    /// returns its id.
    pub async fn partner(&self, name: &str, partner_type: &str, parent: &str) -> String {
        let app = self.handle().await;
        let ty =
            platform::validate::PartnerType::parse(partner_type).unwrap_or_else(|| panic!("bad type {partner_type}"));
        let parent = parent.parse().unwrap_or_else(|e| panic!("bad org id {parent}: {e}"));
        let org = platform::orgs::create_org_of_type(
            &app.db,
            app.accounts.now(),
            name,
            platform::validate::OrgKind::Partner,
            Some(ty),
            Some(parent),
        )
        .await
        .unwrap_or_else(|e| panic!("create partner {name}: {e}"));
        app.db.close().await;
        org.id.to_string()
    }

    /// A second handle on the same database and data folder, for set-up the API does not offer
    /// (the CLI's powers).
    pub async fn handle(&self) -> server::App {
        let mut settings = base_settings(self.data_dir.clone());
        settings.database.max_connections = 1;
        if let Some(s3) = &self.s3 {
            settings.storage.backend = platform::config::StorageBackend::S3;
            settings.storage.s3 = s3.settings();
        }
        if let Some(db) = &self.pg_database {
            settings.database.url = Some(Secret::new(pg_url_for(db)));
        }
        server::build(settings)
            .await
            .unwrap_or_else(|e| panic!("admin handle: {e:#}"))
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("server failed: {e:#}"),
                Err(e) => panic!("server task failed: {e}"),
            }
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(name) = self.pg_database.take() {
            drop_pg_database(name);
        }
    }
}

/// The string at `key` of a JSON object (an id in a response body), or "" when absent.
pub fn str_of(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

/// The RFC 3339 time `minutes` from now (negative: ago), as request bodies carry times.
pub fn at(minutes: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::minutes(minutes))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The access token of a register/login body.
pub fn token_of(body: &Value) -> String {
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token in {body}"))
        .to_owned()
}

/// Declares tests that each run twice, on SQLite and on PostgreSQL:
/// `both_databases! { async fn name(app) { … } }` gives `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_databases {
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: &$crate::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::TestApp::spawn($crate::Backend::Sqlite).await;
                run(&app).await;
                app.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = $crate::TestApp::spawn($crate::Backend::Postgres).await;
                run(&app).await;
                app.stop().await;
            }
        }
    )*};
}

/// Runs `async fn name(backend: Backend)` functions as two tests each, `name::sqlite` and
/// `name::postgres`: `on_both_databases!(name, other_name);`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::Backend::Postgres).await;
            }
        }
    )*};
}

/// A generated test clip (ffmpeg `testsrc2` + `sine`) of `seconds` at `size` (e.g. `426x240`),
/// written into `dir`.
pub fn test_clip(dir: &std::path::Path, seconds: u32, size: &str) -> PathBuf {
    let out = dir.join(format!("clip-{seconds}-{size}.mp4"));
    let ok = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={size}:rate=25:duration={seconds}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:duration={seconds}"))
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest"])
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("ffmpeg is required for the media tests: {e}"))
        .success();
    assert!(ok, "ffmpeg could not make the test clip");
    out
}

/// Asserts a problem+json answer with the given status and code; returns the body.
pub fn assert_problem(status: StatusCode, body: &Value, want_status: u16, want_code: &str) -> Value {
    assert_eq!(status.as_u16(), want_status, "status for {body}");
    assert_eq!(body["code"], want_code, "code in {body}");
    assert_eq!(body["status"], want_status, "status field in {body}");
    for field in ["type", "title", "detail", "request_id"] {
        assert!(body[field].is_string(), "{field} missing in {body}");
    }
    body.clone()
}

/// Sends a raw request and returns status, headers and body text.
pub async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let (status, headers, bytes) = raw_with_body(app, method, path, headers, body).await;
    (status, headers, String::from_utf8_lossy(&bytes).into_owned())
}

/// A raw request without a body, answered with bytes (a picture, a PDF).
pub async fn raw_bytes(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    raw_with_body(app, method, path, headers, None).await
}

async fn raw_with_body(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = app.client.request(method, app.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let res = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("request to {path} failed: {e}"));
    let status = res.status();
    let headers = res.headers().clone();
    (
        status,
        headers,
        res.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
    )
}

/// A real S3-compatible server (`s3s-fs`) on loopback with a fresh bucket, stopped on drop.
/// The binary comes from `PARENTSCHOOL_S3S_FS` or the `PATH` (the test command installs it).
pub struct S3Server {
    pub endpoint: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl S3Server {
    pub async fn start() -> Self {
        let bin = std::env::var("PARENTSCHOOL_S3S_FS").unwrap_or_else(|_| "s3s-fs".into());
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let bucket = "parentschool-test".to_owned();
        std::fs::create_dir_all(dir.path().join(&bucket)).unwrap_or_else(|e| panic!("{e}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let (access_key, secret_key) = (
            "AKIDPARENTSCHOOLTEST".to_owned(),
            "parentschool-test-secret-key-0123456789".to_owned(),
        );
        let child = std::process::Command::new(&bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--access-key",
                &access_key,
                "--secret-key",
                &secret_key,
            ])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("the S3 tests need s3s-fs ({bin}): {e}; scripts/test installs it"));
        // Up to 30 s for a debug build on a busy machine; a server that never answers is named.
        let mut up = false;
        for _ in 0..1200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                up = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert!(up, "s3s-fs ({bin}) did not answer on 127.0.0.1:{port} within 30 s");
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket,
            access_key,
            secret_key,
            child,
            _dir: dir,
        }
    }

    /// Storage settings pointing at this server.
    pub fn settings(&self) -> platform::config::S3Settings {
        platform::config::S3Settings {
            endpoint: Some(self.endpoint.clone()),
            region: "us-east-1".into(),
            bucket: self.bucket.clone(),
            key_prefix: "ps/".into(),
            path_style: true,
            access_key_id: Some(self.access_key.clone()),
            secret_access_key: Some(Secret::new(self.secret_key.clone())),
            presigned_delivery: true,
            ..platform::config::S3Settings::default()
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub type Seen = Arc<std::sync::Mutex<Vec<(String, Value)>>>;

/// A notice gateway on a random port: its URL, and the notices posted to it with their
/// `Idempotency-Key`.
pub async fn gateway() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let router = {
        let seen = seen.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                    let seen = seen.clone();
                    async move {
                        let key = headers
                            .get("idempotency-key")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        seen.lock().unwrap_or_else(|p| p.into_inner()).push((key, body));
                        axum::http::StatusCode::ACCEPTED
                    }
                },
            ),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let hook = format!(
        "http://{}/hook",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (hook, seen)
}

/// A 64 × 64 red ring with a transparent middle, as a PNG.
pub fn seal_png() -> Vec<u8> {
    let mut rgba = Vec::new();
    for y in 0..64i32 {
        for x in 0..64i32 {
            let d = ((x - 32).pow(2) + (y - 32).pow(2)) as f64;
            let ring = (26.0..31.0).contains(&d.sqrt());
            rgba.extend_from_slice(&[0xd0, 0x20, 0x20, if ring { 255 } else { 0 }]);
        }
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, 64, 64);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().unwrap_or_else(|e| panic!("{e}"));
    w.write_image_data(&rgba).unwrap_or_else(|e| panic!("{e}"));
    drop(w);
    out
}
