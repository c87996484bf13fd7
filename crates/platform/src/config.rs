//! Configuration types with their built-in defaults. Only the `server` binary reads files and
//! environment variables into them; every struct rejects unknown keys so that a typo in a config
//! file is an error naming the key rather than a silently ignored setting.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, Serializer};

/// A secret value: never printed by `Debug`, masked when serialized (`print-config`).
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(********)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("********")
    }
}

/// Everything the service can be told.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Where the SQLite file, the local object store and generated keys live.
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub storage: StorageSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    pub metrics: MetricsSettings,
    pub media: MediaSettings,
    pub live: LiveSettings,
    /// Study terms (学期) for study-time reports; empty means the Chinese school semesters
    /// (spring from 1 February, autumn from 1 August).
    pub terms: Vec<TermSettings>,
}

/// Live sessions: WebRTC media, attendance, the live state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveSettings {
    /// An occurrence whose publisher is gone this long ends by itself.
    pub publisher_grace_seconds: u64,
    /// Open attendance intervals are written at least this often (at most 10).
    pub attendance_flush_seconds: u64,
    /// Tickets for the live events stream and embedded WHEP players live this long.
    pub ticket_seconds: u64,
    /// Local UDP addresses WebRTC media binds to (one socket per connection on an ephemeral
    /// port of each; their addresses are the ICE host candidates). `0.0.0.0:0` stands for every
    /// non-loopback interface; tests use `127.0.0.1:0`.
    pub media_addrs: Vec<String>,
    /// A viewer waits this long for the publisher's first media before WHEP answers 503.
    pub publisher_media_wait_seconds: u64,
    /// Longest chat message or question, in characters.
    pub message_max_chars: usize,
    /// Words masked with ＊ in chat messages and questions.
    pub word_filter: Vec<String>,
    /// Mask contact details (WeChat ids, QQ numbers, phone numbers, links) in chat messages and
    /// questions: parents of minors are a target for strangers' "add me" lures. On by default.
    pub contact_filter: bool,
    /// WebRTC viewers per occurrence on a node (0: no limit); more watch through live HLS.
    pub webrtc_viewer_limit: usize,
    /// A WebRTC viewer whose media has not connected this many seconds after its answer frees
    /// its slot (an offer that never finishes ICE holds nothing for long).
    pub viewer_connect_seconds: u64,
    /// WHEP offers one user may make per minute (reconnects included).
    pub whep_offers_per_minute: u32,
    /// One UDP port for all WebRTC media (ICE UDP mux), so a firewall needs one rule; 0 binds
    /// a socket per connection on `media_addrs` instead.
    pub udp_port: u16,
    /// The address clients reach the UDP port at (the host candidate), e.g. the public IP;
    /// by default the first non-loopback address (or 127.0.0.1 when `media_addrs` is loopback).
    pub udp_public_ip: Option<String>,
    /// STUN servers handed to clients (`stun:host:port`).
    pub stun_urls: Vec<String>,
    /// TURN servers handed to clients with time-limited credentials (`turn:host:3478?transport=udp`).
    pub turn_urls: Vec<String>,
    /// The TURN REST shared secret (coturn's `static-auth-secret`).
    pub turn_secret: Option<Secret>,
    /// How long TURN credentials are valid.
    pub turn_credential_seconds: u64,
    /// Record lectures and publish the replay (needs ffmpeg).
    pub recording: bool,
    /// Target length of live HLS segments (and of the pieces a crash may lose).
    pub hls_segment_seconds: u64,
    /// Reminders go out this many minutes before each enrolled lecture.
    pub reminder_minutes: Vec<u32>,
    /// How often due reminders are looked for.
    pub reminder_check_seconds: u64,
    /// Reminders and "replay ready" notices are posted here as JSON (SMS or WeChat gateways);
    /// without it they are written to the log.
    pub notify_webhook_url: Option<String>,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            publisher_grace_seconds: 600,
            attendance_flush_seconds: 5,
            ticket_seconds: 600,
            media_addrs: vec!["0.0.0.0:0".into()],
            publisher_media_wait_seconds: 5,
            message_max_chars: 300,
            word_filter: Vec::new(),
            contact_filter: true,
            webrtc_viewer_limit: 300,
            viewer_connect_seconds: 10,
            whep_offers_per_minute: 20,
            udp_port: 0,
            udp_public_ip: None,
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_credential_seconds: 12 * 3600,
            recording: true,
            hls_segment_seconds: 2,
            reminder_minutes: vec![24 * 60, 30],
            reminder_check_seconds: 30,
            notify_webhook_url: None,
        }
    }
}

/// One study term: `from` and `to` are dates (`YYYY-MM-DD`, both included) in China time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TermSettings {
    pub name: String,
    pub from: String,
    pub to: String,
}

impl TermSettings {
    /// The term's first and last day, or why they are not dates in order.
    pub fn dates(&self) -> Result<(time::Date, time::Date), String> {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        let parse = |s: &str| {
            time::Date::parse(s, &fmt)
                .map_err(|_| format!("term {:?}: {s:?} is not a date such as 2026-09-01", self.name))
        };
        let (from, to) = (parse(&self.from)?, parse(&self.to)?);
        if to < from {
            return Err(format!("term {:?} ends before it starts", self.name));
        }
        Ok((from, to))
    }
}

impl Settings {
    /// The database URL: the configured one, or an SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite://{}", self.data_dir.join("parentschool.db").display()),
        }
    }

    /// Scratch space for transcoding.
    pub fn media_work_dir(&self) -> PathBuf {
        self.media
            .work_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("work"))
    }

    /// The root of the local object store.
    pub fn local_store_dir(&self) -> PathBuf {
        self.storage
            .local_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("objects"))
    }

    /// Makes every configured path absolute against `base` (the working directory at start-up):
    /// the data dir, the store, the work dir, the web dir and an SQLite URL's file. Child
    /// processes (ffmpeg) run in folders of their own, so a relative path handed to them would
    /// name another file; after this, every path derived from the settings is absolute.
    pub fn resolve_paths(&mut self, base: &Path) {
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        abs(&mut self.data_dir);
        for p in [
            &mut self.storage.local_dir,
            &mut self.media.work_dir,
            &mut self.server.web_dir,
        ]
        .into_iter()
        .flatten()
        {
            abs(p);
        }
        if let Some(url) = &self.database.url {
            if let Some(resolved) = absolute_sqlite_url(url.expose(), base) {
                self.database.url = Some(Secret::new(resolved));
            }
        }
    }
}

/// `sqlite://rel/x.db?mode=rwc` → `sqlite:///base/rel/x.db?mode=rwc`; `None` when the URL is
/// not SQLite, is in memory or is already absolute.
fn absolute_sqlite_url(url: &str, base: &Path) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path.is_empty() || path.starts_with(':') || Path::new(path).is_absolute() {
        return None;
    }
    let mut out = format!("sqlite://{}", base.join(path).display());
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Some(out)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address of the HTTP listener (API, web app, health).
    pub listen: String,
    /// The URL users reach the service at (behind a reverse proxy); printed at start-up.
    pub public_url: Option<String>,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted reverse proxy).
    pub trust_proxy_headers: bool,
    /// Addresses or CIDR blocks of the reverse proxies in front of the server. The client is the
    /// rightmost `X-Forwarded-For` entry that is not one of them (a client can prepend anything,
    /// never append). Empty: the connecting peer is the one proxy, and the rightmost entry is
    /// the client. A peer that is not listed (when the list is set) is itself the client.
    pub trusted_proxies: Vec<String>,
    /// Largest accepted JSON request body, in bytes.
    pub max_body_bytes: usize,
    /// Serve the web app from this folder instead of the embedded copy (development).
    pub web_dir: Option<PathBuf>,
    /// Seconds to let in-flight requests finish on shutdown.
    pub shutdown_grace_seconds: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            trust_proxy_headers: false,
            trusted_proxies: Vec::new(),
            max_body_bytes: 1024 * 1024,
            web_dir: None,
            shutdown_grace_seconds: 20,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST:PORT/DB`; default: an SQLite file in
    /// the data directory.
    pub url: Option<Secret>,
    pub max_connections: u32,
    /// Longest wait for a pooled connection, in milliseconds: while the database is
    /// unreachable, requests get a 503 after this instead of hanging.
    pub acquire_timeout_ms: u64,
    /// Apply pending migrations when the server starts.
    pub migrate_on_start: bool,
}

impl DatabaseSettings {
    pub fn acquire_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.acquire_timeout_ms.max(1))
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            acquire_timeout_ms: 2000,
            migrate_on_start: true,
        }
    }
}

/// Where objects (videos, covers, recordings) are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// A directory on this machine.
    Local,
    /// Any S3-compatible service.
    S3,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// `local` (a directory) or `s3` (any S3-compatible service).
    pub backend: StorageBackend,
    /// Root of the local store; default `<data_dir>/objects`.
    pub local_dir: Option<PathBuf>,
    pub s3: S3Settings,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Local,
            local_dir: None,
            s3: S3Settings::default(),
        }
    }
}

/// An S3-compatible bucket (AWS S3, MinIO, Ceph, Aliyun OSS, Tencent COS, …).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Settings {
    /// e.g. `https://oss-cn-hangzhou.aliyuncs.com`; unset for AWS itself.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    /// Prepended to every object key (e.g. `parentschool/`).
    pub key_prefix: String,
    /// Path-style addressing (`endpoint/bucket/key`), which most self-hosted services need.
    pub path_style: bool,
    /// Credentials; when unset the server takes them from the standard AWS places
    /// (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, then the shared
    /// credentials file's `AWS_PROFILE` or `default` profile).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
    /// Answer segment requests with redirects to presigned URLs instead of proxying the bytes.
    /// The bucket must then allow the site's origin in its CORS rules (players fetch segments
    /// with CORS), so it is off by default.
    pub presigned_delivery: bool,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: "us-east-1".into(),
            bucket: String::new(),
            key_prefix: String::new(),
            path_style: true,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            presigned_delivery: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// HMAC key for access tokens (at least 32 bytes). When unset, one is generated and kept in
    /// `<data_dir>/jwt-secret`; several nodes must share a configured one.
    pub jwt_secret: Option<Secret>,
    pub issuer: String,
    pub audience: String,
    pub access_token_ttl_seconds: u64,
    pub refresh_token_ttl_days: u64,
    pub password_min_length: usize,
    /// Login attempts allowed per phone number within `login_window_seconds`.
    pub login_attempts_per_phone: u32,
    /// Login and registration attempts allowed per client address within the window.
    pub login_attempts_per_ip: u32,
    pub login_window_seconds: u64,
    /// The privacy notice version a registering user consents to.
    pub privacy_notice_version: String,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            issuer: "parentschool".into(),
            audience: "parentschool-api".into(),
            access_token_ttl_seconds: 15 * 60,
            refresh_token_ttl_days: 30,
            password_min_length: 8,
            login_attempts_per_phone: 10,
            login_attempts_per_ip: 100,
            login_window_seconds: 15 * 60,
            privacy_notice_version: "2026-11".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A `tracing` filter such as `info` or `parentschool=debug,tower_http=info`.
    pub level: String,
    /// `pretty` for a terminal, `json` for log collectors.
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Pretty,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Address of the Prometheus `/metrics` listener; off when unset.
    pub listen: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            storage: StorageSettings::default(),
            auth: AuthSettings::default(),
            log: LogSettings::default(),
            metrics: MetricsSettings::default(),
            media: MediaSettings::default(),
            live: LiveSettings::default(),
            terms: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSettings {
    /// Largest accepted upload, in bytes (default 4 GiB).
    pub max_upload_bytes: u64,
    /// Upload chunk size in bytes (at least 5 MiB, so S3 multipart works).
    pub chunk_size_bytes: u64,
    /// Unfinished uploads are removed this long after their last chunk.
    pub upload_ttl_hours: u64,
    /// Longest accepted video, in seconds (default 4 hours).
    pub max_duration_seconds: u64,
    /// The `ffmpeg` and `ffprobe` programs.
    pub ffmpeg: String,
    pub ffprobe: String,
    /// Scratch space for transcoding (default `<data_dir>/work`).
    pub work_dir: Option<PathBuf>,
    /// HLS segment length in seconds (keyframes are placed on these boundaries).
    pub segment_seconds: u32,
    /// x264 preset: faster presets trade size for speed.
    pub x264_preset: String,
    /// Run the transcoding worker inside `serve` (else run `parentschool worker` elsewhere).
    pub worker_in_serve: bool,
    /// Transcode attempts before a job is given up.
    pub max_attempts: i32,
    /// Seconds a worker's claim on a job lasts without renewal: after a crash, the job is
    /// resumed this long after the worker's last heartbeat.
    pub job_lease_seconds: u64,
    /// Strict study credit: recorded time is credited only for ranges whose segments this user's
    /// playback URL fetched from this service (segments are then always served here, never
    /// through presigned store URLs, and each fetch is written down). Off by default: the
    /// wall-clock budget alone limits credit.
    pub strict_credit: bool,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            max_upload_bytes: 4 * 1024 * 1024 * 1024,
            chunk_size_bytes: 8 * 1024 * 1024,
            upload_ttl_hours: 48,
            max_duration_seconds: 4 * 3600,
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            work_dir: None,
            segment_seconds: 4,
            x264_preset: "veryfast".into(),
            worker_in_serve: true,
            max_attempts: 4,
            job_lease_seconds: 30,
            strict_credit: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_become_absolute_against_the_working_directory() {
        let mut s = Settings::default();
        s.storage.local_dir = Some("store".into());
        s.media.work_dir = Some("/scratch".into());
        s.database.url = Some(Secret::new("sqlite://db/x.db?mode=rwc"));
        s.resolve_paths(Path::new("/srv/ps"));
        assert_eq!(s.data_dir, Path::new("/srv/ps/data"));
        assert_eq!(s.local_store_dir(), Path::new("/srv/ps/store"));
        assert_eq!(s.media_work_dir(), Path::new("/scratch"));
        assert_eq!(s.database_url(), "sqlite:///srv/ps/db/x.db?mode=rwc");

        let mut s = Settings::default();
        s.resolve_paths(Path::new("/srv/ps"));
        assert_eq!(s.database_url(), "sqlite:///srv/ps/data/parentschool.db");
        assert_eq!(s.media_work_dir(), Path::new("/srv/ps/data/work"));
        assert_eq!(s.local_store_dir(), Path::new("/srv/ps/data/objects"));
        for url in ["sqlite::memory:", "sqlite:///abs/x.db", "postgres://u@h/db"] {
            assert_eq!(absolute_sqlite_url(url, Path::new("/srv")), None, "{url}");
        }
        assert_eq!(
            absolute_sqlite_url("sqlite:rel.db", Path::new("/srv")).as_deref(),
            Some("sqlite:///srv/rel.db")
        );
    }
}
