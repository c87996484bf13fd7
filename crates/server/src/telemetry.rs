//! Logging and metrics set-up: the one place a tracing subscriber and a metrics recorder are
//! installed.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use platform::config::LogSettings;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG`, when set, wins over `log.level`.
pub fn init_tracing(cfg: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = if cfg.format == platform::config::LogFormat::Json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// Installs the Prometheus recorder; returns the handle that renders `/metrics`.
pub fn init_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full("http_request_duration_seconds".into()),
            &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0],
        )?
        .install_recorder()?;
    Ok(handle)
}
