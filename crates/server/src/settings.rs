//! Loads [`Settings`] in layers: built-in defaults → `config/default.toml` (when present in the
//! working directory) → the file given with `--config` → `PARENTSCHOOL__SECTION__KEY` environment
//! variables → command-line overrides. Unknown keys are errors that name the key and its source.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use platform::config::Settings;

/// Command-line values that override every file and variable.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
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
    validate(&settings)?;
    Ok(settings)
}

fn validate(s: &Settings) -> anyhow::Result<()> {
    if let Some(secret) = &s.auth.jwt_secret {
        if secret.expose().len() < 32 {
            bail!("auth.jwt_secret must be at least 32 bytes long");
        }
    }
    if !matches!(s.log.format.as_str(), "pretty" | "json") {
        bail!("log.format must be \"pretty\" or \"json\", not {:?}", s.log.format);
    }
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
    match s.storage.backend.as_str() {
        "local" => {}
        "s3" if s.storage.s3.bucket.is_empty() => bail!("storage.s3.bucket must be set when storage.backend is \"s3\""),
        "s3" => {}
        other => bail!("storage.backend {other:?} is not supported: use \"local\" or \"s3\""),
    }
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

    #[test]
    fn masks_only_the_password() {
        assert_eq!(
            mask_url_password("postgres://ps:pw@db:5432/ps"),
            "postgres://ps:********@db:5432/ps"
        );
        assert_eq!(mask_url_password("postgres://ps@db/ps"), "postgres://ps@db/ps");
        assert_eq!(mask_url_password("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
