//! Configuration types with their built-in defaults. Only the `server` binary reads files and
//! environment variables into them; every struct rejects unknown keys so that a typo in a config
//! file is an error naming the key rather than a silently ignored setting.

use std::path::PathBuf;

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
