//! Loads [`Settings`] in layers: built-in defaults → `config/default.toml` (when present in the
//! working directory) → the file given with `--config` → `PARENTSCHOOL__SECTION__KEY` environment
//! variables → command-line overrides. Unknown keys are errors that name the key and its source.
//!
//! [`Settings`] is the whole configuration: the platform's sections (`platform::config`), each
//! domain's own (`media::MediaSettings`, `live_session::LiveSettings`, which validate
//! themselves) and the study terms.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use live_session::LiveSettings;
use media::MediaSettings;
use platform::config::{
    AuthSettings, DatabaseSettings, LogSettings, MetricsSettings, S3Settings, Secret, ServerSettings, StorageSettings,
};
use serde::{Deserialize, Serialize};

/// Command-line values that override every file and variable.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
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
    pub certificates: CertificateSettings,
    /// Study terms (学期) for study-time reports and evaluations; empty means the Chinese school semesters
    /// (spring from 1 February, autumn from 1 August).
    pub terms: Vec<TermSettings>,
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
            certificates: CertificateSettings::default(),
            terms: Vec::new(),
        }
    }
}

/// How certificates are drawn.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct CertificateSettings {
    /// A font file or collection with Chinese glyphs (Simplified Chinese is picked from a
    /// collection); without it, certificate images answer 503.
    pub font_path: PathBuf,
}

impl Default for CertificateSettings {
    fn default() -> Self {
        Self {
            // Debian's fonts-noto-cjk (the README's set-up installs it).
            font_path: PathBuf::from("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
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
    /// The term as a period (from its first day's midnight to the midnight after its last, in
    /// China time), or why it is not one.
    pub fn period(&self) -> Result<platform::terms::Period, String> {
        let (from, to) = self.dates()?;
        platform::terms::configured(&self.name, from, to).ok_or_else(|| format!("term {:?} has no end", self.name))
    }

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
        abs(&mut self.certificates.font_path);
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

pub fn load(overrides: &Overrides) -> anyhow::Result<Settings> {
    let mut figment = Figment::from(Serialized::defaults(Settings::default()));
    let default_file = Path::new("config/default.toml");
    if default_file.is_file() {
        figment = figment.merge(Toml::file(default_file));
    }
    if let Some(file) = &overrides.config_file {
        if !file.is_file() {
            bail!("config file {} does not exist", file.display());
        }
        figment = figment.merge(Toml::file(file));
    }
    figment = figment.merge(Env::prefixed("PARENTSCHOOL__").split("__"));
    if let Some(dir) = &overrides.data_dir {
        figment = figment.merge(("data_dir", dir));
    }
    if let Some(listen) = &overrides.listen {
        figment = figment.merge(("server.listen", listen));
    }
    let settings: Settings = figment.extract().map_err(|e| {
        let all: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!("invalid configuration: {}", all.join("; "))
    })?;
    let mut settings = settings;
    let cwd = std::env::current_dir().context("could not read the working directory")?;
    settings.resolve_paths(&cwd);
    if settings.storage.backend == platform::config::StorageBackend::S3 {
        aws_credentials(
            &mut settings.storage.s3,
            |k| std::env::var(k).ok().filter(|v| !v.is_empty()),
            std::env::var_os("HOME").map(PathBuf::from),
        );
    }
    validate(&settings)?;
    Ok(settings)
}

/// Completes missing S3 credentials the way AWS tools look for them: the environment
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), then the shared
/// credentials file (`AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`, profile
/// `AWS_PROFILE` or `default`). Keys in the configuration win.
fn aws_credentials(s3: &mut S3Settings, env: impl Fn(&str) -> Option<String>, home: Option<PathBuf>) {
    if s3.access_key_id.is_some() && s3.secret_access_key.is_some() {
        return;
    }
    let found = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Some((id, secret, env("AWS_SESSION_TOKEN"))),
        _ => {
            let file = env("AWS_SHARED_CREDENTIALS_FILE")
                .map(PathBuf::from)
                .or_else(|| home.map(|h| h.join(".aws/credentials")));
            let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
            file.and_then(|f| std::fs::read_to_string(f).ok())
                .and_then(|text| profile_keys(&text, &profile))
        }
    };
    if let Some((id, secret, token)) = found {
        s3.access_key_id = Some(id);
        s3.secret_access_key = Some(Secret::new(secret));
        s3.session_token = token.map(Secret::new);
    }
}

/// `aws_access_key_id`, `aws_secret_access_key` and `aws_session_token` of one profile of an
/// INI-style credentials file.
fn profile_keys(text: &str, profile: &str) -> Option<(String, String, Option<String>)> {
    let (mut section, mut id, mut secret, mut token) = (String::new(), None, None, None);
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_owned();
        } else if section == profile {
            if let Some((k, v)) = line.split_once('=') {
                let v = v.trim().to_owned();
                match k.trim() {
                    "aws_access_key_id" => id = Some(v),
                    "aws_secret_access_key" => secret = Some(v),
                    "aws_session_token" => token = Some(v),
                    _ => {}
                }
            }
        }
    }
    Some((id?, secret?, token))
}

/// An example value copied from `deploy/` or the docs, not a secret.
fn is_placeholder(secret: &str) -> bool {
    let s = secret.to_ascii_lowercase().replace(['-', '_', ' '], "");
    s.contains("changeme")
}

fn validate(s: &Settings) -> anyhow::Result<()> {
    if let Some(secret) = &s.auth.jwt_secret {
        if secret.expose().len() < 32 {
            bail!("auth.jwt_secret must be at least 32 bytes long");
        }
    }
    for (key, secret) in [
        ("auth.jwt_secret", &s.auth.jwt_secret),
        ("live.turn_secret", &s.live.turn_secret),
    ] {
        if secret.as_ref().is_some_and(|v| is_placeholder(v.expose())) {
            bail!("{key} is still the example placeholder: generate one, e.g. with `head -c 48 /dev/urandom | base64`");
        }
    }
    // Each domain checks its own section; the service refuses to start with what they refuse.
    s.media.clone().validate().map_err(anyhow::Error::msg)?;
    s.live.clone().validate().map_err(anyhow::Error::msg)?;
    // A deployment rule on top: chunks are S3 multipart parts, which must be 5 MiB or more
    // (tests use smaller chunks on stores that do not care, through `build`).
    if s.media.chunk_size_bytes < 5 * 1024 * 1024 {
        bail!("media.chunk_size_bytes must be at least 5 MiB (5242880), as S3 multipart uploads require");
    }
    let mut terms = s
        .terms
        .iter()
        .map(|t| t.dates().map(|d| (d, &t.name)))
        .collect::<Result<Vec<_>, String>>()
        .map_err(anyhow::Error::msg)?;
    terms.sort();
    if let Some(w) = terms.windows(2).find(|w| w[1].0.0 <= w[0].0.1) {
        bail!("terms {:?} and {:?} overlap", w[0].1, w[1].1);
    }
    if s.storage.backend == platform::config::StorageBackend::S3 && s.storage.s3.bucket.is_empty() {
        bail!("storage.s3.bucket must be set when storage.backend is \"s3\"");
    }
    platform::http::TrustedProxies::parse(&s.server.trusted_proxies)
        .map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}"))?;
    s.server.listen.parse::<std::net::SocketAddr>().with_context(|| {
        format!(
            "server.listen {:?} is not an address such as 127.0.0.1:8080",
            s.server.listen
        )
    })?;
    Ok(())
}

/// The effective settings as TOML, secrets masked and the database URL's password hidden.
pub fn render_masked(s: &Settings) -> anyhow::Result<String> {
    let mut value = toml::Value::try_from(s)?;
    if let Some(db) = value.get_mut("database").and_then(toml::Value::as_table_mut) {
        db.insert("url".into(), toml::Value::String(mask_url_password(&s.database_url())));
    }
    Ok(toml::to_string_pretty(&value)?)
}

/// `postgres://user:secret@host/db` → `postgres://user:********@host/db`.
pub fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:********@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `config/default.toml` documents every key with its default: read alone, it must give
    /// exactly `Settings::default()`, so the two cannot drift apart.
    #[test]
    fn the_default_file_is_the_defaults() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml");
        let from_file: Settings = Figment::new()
            .merge(Toml::file_exact(&file))
            .extract()
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let as_json = |s: &Settings| serde_json::to_value(s).unwrap_or_default();
        assert_eq!(as_json(&from_file), as_json(&Settings::default()));
        // And it names every key that has a default.
        fn keys(prefix: &str, v: &figment::value::Value, out: &mut Vec<String>) {
            match v {
                figment::value::Value::Dict(_, d) if !d.is_empty() => {
                    for (k, v) in d {
                        keys(&format!("{prefix}{k}."), v, out);
                    }
                }
                _ => out.push(prefix.trim_end_matches('.').to_owned()),
            }
        }
        let (mut documented, mut defaults) = (Vec::new(), Vec::new());
        let file_value: figment::value::Value = Figment::new()
            .merge(Toml::file_exact(&file))
            .extract()
            .unwrap_or_else(|e| panic!("{e}"));
        let default_value: figment::value::Value = Figment::from(Serialized::defaults(Settings::default()))
            .extract()
            .unwrap_or_else(|e| panic!("{e}"));
        keys("", &file_value, &mut documented);
        keys("", &default_value, &mut defaults);
        // Keys without a value by default are documented as comments (`# key = …`, `# [[terms]]`).
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let commented = |key: &str| {
            let last = key.rsplit('.').next().unwrap_or(key);
            text.lines().any(|l| {
                let l = l.trim_start_matches(['#', ' ']);
                l.strip_prefix(last).is_some_and(|r| r.trim_start().starts_with('=')) || l == format!("[[{last}]]")
            })
        };
        let missing: Vec<&String> = defaults
            .iter()
            .filter(|k| !documented.contains(k) && !commented(k))
            .collect();
        assert!(missing.is_empty(), "config/default.toml does not name {missing:?}");
    }

    #[test]
    fn masks_only_the_password() {
        assert_eq!(
            mask_url_password("postgres://ps:pw@db:5432/ps"),
            "postgres://ps:********@db:5432/ps"
        );
        assert_eq!(mask_url_password("postgres://ps@db/ps"), "postgres://ps@db/ps");
        assert_eq!(mask_url_password("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn s3_credentials_follow_the_aws_chain() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
        };
        // The environment.
        let mut s3 = S3Settings::default();
        aws_credentials(
            &mut s3,
            env(&[("AWS_ACCESS_KEY_ID", "AKENV"), ("AWS_SECRET_ACCESS_KEY", "envsecret")]),
            None,
        );
        assert_eq!(s3.access_key_id.as_deref(), Some("AKENV"));
        // The shared credentials file, named profile.
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(dir.path().join(".aws")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join(".aws/credentials"),
            "[default]\naws_access_key_id = AKDEF\naws_secret_access_key = \
             d\n\n[oss]\naws_access_key_id=AKOSS\naws_secret_access_key=o\naws_session_token=t\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut s3 = S3Settings::default();
        aws_credentials(&mut s3, env(&[("AWS_PROFILE", "oss")]), Some(dir.path().to_owned()));
        assert_eq!(s3.access_key_id.as_deref(), Some("AKOSS"));
        assert_eq!(s3.session_token.as_ref().map(|t| t.expose()), Some("t"));
        let mut s3 = S3Settings::default();
        aws_credentials(&mut s3, env(&[]), Some(dir.path().to_owned()));
        assert_eq!(s3.access_key_id.as_deref(), Some("AKDEF"));
        // Configured keys win.
        let mut s3 = S3Settings {
            access_key_id: Some("AKCONF".into()),
            secret_access_key: Some(Secret::new("c")),
            ..S3Settings::default()
        };
        aws_credentials(
            &mut s3,
            env(&[("AWS_ACCESS_KEY_ID", "AKENV"), ("AWS_SECRET_ACCESS_KEY", "e")]),
            None,
        );
        assert_eq!(s3.access_key_id.as_deref(), Some("AKCONF"));
    }
}

#[cfg(test)]
mod path_tests {
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
