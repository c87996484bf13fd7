//! The command line: `serve` (default), `migrate`, `user add`, `org add`, `print-config`.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use platform::Db;
use platform::accounts::NewUser;
use platform::ids::OrgId;
use platform::validate::{OrgKind, Role};
use tokio::net::TcpListener;

use crate::settings::{self, Overrides};

/// ParentSchool (家长学堂): online parent school service.
#[derive(Debug, Parser)]
#[command(name = "parentschool", version, about)]
struct Cli {
    /// A TOML config file layered over the defaults and config/default.toml.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Folder for the SQLite file, the local object store and generated keys (default ./data).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Run only the background jobs (transcoding), e.g. on another machine sharing the database
    /// and the object store.
    Worker,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the organization tree.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage the catalog.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Print the effective configuration with secrets masked.
    PrintConfig,
}

#[derive(Debug, Subcommand)]
enum CatalogCommand {
    /// Import courses from a CSV (UTF-8 or GBK/GB18030) or JSON manifest. Re-running updates the
    /// same courses (keyed by external_id). Exits with status 1 when any row failed.
    Import {
        /// The manifest file.
        file: PathBuf,
        /// The organization that owns the imported courses.
        #[arg(long, value_name = "ORG_ID")]
        org: OrgId,
        /// Publish the imported courses at once (else they stay drafts for review).
        #[arg(long)]
        publish: bool,
    },
}

#[derive(Debug, Args, Default)]
struct ServeArgs {
    /// Listen address, e.g. 0.0.0.0:8080 (overrides server.listen).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user and print their id.
    Add {
        #[arg(long)]
        phone: String,
        #[arg(long)]
        password: String,
        #[arg(long, value_parser = ["parent", "expert", "curator", "admin"])]
        role: String,
        /// Organization the user joins.
        #[arg(long, value_name = "ORG_ID")]
        org: Option<OrgId>,
        /// Display name (default: by role, e.g. 管理员).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Create an organization and print its id.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["province", "city", "county", "school", "class"])]
        kind: String,
        #[arg(long, value_name = "ORG_ID")]
        parent: Option<OrgId>,
    },
}

/// Parses `args` and runs the command.
pub async fn run(args: impl IntoIterator<Item = OsString>) -> anyhow::Result<()> {
    let cli = Cli::parse_from(args);
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    let overrides = Overrides {
        config_file: cli.config,
        data_dir: cli.data_dir,
        listen: match &command {
            Command::Serve(a) => a.listen.clone(),
            _ => None,
        },
    };
    let settings = settings::load(&overrides)?;
    match command {
        Command::PrintConfig => {
            print!("{}", settings::render_masked(&settings)?);
            Ok(())
        }
        Command::Migrate => {
            let db = Db::connect(&settings.database_url(), 1)
                .await
                .context("could not open the database")?;
            db.migrate().await.context("migration failed")?;
            println!("数据库迁移完成 / migrations applied ({})", db.backend());
            db.close().await;
            Ok(())
        }
        Command::User(UserCommand::Add {
            phone,
            password,
            role,
            org,
            name,
        }) => {
            let app = crate::build(settings).await?;
            let role = Role::parse(&role).context("unknown role")?;
            let display_name = name.unwrap_or_else(|| {
                match role {
                    Role::Admin => "管理员",
                    Role::Curator => "工作人员",
                    Role::Expert => "专家",
                    Role::Parent => "家长",
                }
                .to_owned()
            });
            let id = app
                .accounts
                .create_user(NewUser {
                    phone,
                    password,
                    display_name,
                    role,
                    org,
                    must_change_password: false,
                    privacy_consent: false,
                })
                .await
                .map_err(|e| cli_error(&e))?;
            println!("{id}");
            Ok(())
        }
        Command::Org(OrgCommand::Add { name, kind, parent }) => {
            let app = crate::build(settings).await?;
            let kind = OrgKind::parse(&kind).context("unknown kind")?;
            let org = platform::orgs::create_org(&app.db, app.accounts.now(), &name, kind, parent)
                .await
                .map_err(|e| cli_error(&e))?;
            println!("{}", org.id);
            Ok(())
        }
        Command::Catalog(CatalogCommand::Import { file, org, publish }) => import(settings, &file, org, publish).await,
        Command::Worker => worker(settings).await,
        Command::Serve(_) => serve(settings).await,
    }
}

/// An API error as a one-line CLI message (with every invalid field).
fn cli_error(e: &platform::ApiError) -> anyhow::Error {
    let mut text = e.message.zh.to_string();
    for f in &e.errors {
        text.push_str(&format!("\n  {}: {}", f.field, f.message.zh));
    }
    anyhow::anyhow!(text)
}

async fn import(
    settings: platform::config::Settings,
    file: &std::path::Path,
    org: OrgId,
    publish: bool,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("could not read {}", file.display()))?;
    let (entries, mut failed) = catalog::import::parse(&bytes);
    let app = crate::build(settings).await?;
    let bar = indicatif::ProgressBar::new(entries.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} 导入中 [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let base = file.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let cover = |path: &str| -> Result<bytes::Bytes, String> {
        let p = base.join(path);
        std::fs::read(&p).map(bytes::Bytes::from).map_err(|e| e.to_string())
    };
    let report = app
        .catalog
        .import(org, publish, entries, cover, |done| bar.set_position(done as u64))
        .await
        .map_err(|e| cli_error(&e))?;
    bar.finish_and_clear();
    failed.extend(report.failed);
    failed.sort_by_key(|e| e.line);
    println!(
        "导入完成 / imported: 新建 created {}, 更新 updated {}, 失败 failed {}",
        report.created,
        report.updated,
        failed.len()
    );
    for e in &failed {
        let ext = e.external_id.as_deref().map(|x| format!(" [{x}]")).unwrap_or_default();
        println!("  第 {} 行 / line {}{}: {}", e.line, e.line, ext, e.reason);
    }
    app.db.close().await;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "{} 行导入失败 / {} rows failed",
            failed.len(),
            failed.len()
        ))
    }
}

async fn worker(settings: platform::config::Settings) -> anyhow::Result<()> {
    crate::telemetry::init_tracing(&settings.log);
    let app = crate::build(settings).await?;
    warn_without_ffmpeg(&app).await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let workers = app.spawn_workers(rx);
    println!(
        "家长学堂后台任务已启动 / ParentSchool worker running (database: {})",
        app.db.backend()
    );
    shutdown_signal().await;
    let _ = stop.send(true);
    let _ = workers.await;
    app.db.close().await;
    Ok(())
}

async fn warn_without_ffmpeg(app: &crate::App) {
    if app.media.ffmpeg_version().await.is_none() {
        println!(
            "警告：未找到 ffmpeg/ffprobe，上传的视频将无法转码（Debian: apt-get install ffmpeg）。\nWarning: ffmpeg/ffprobe not found; uploaded videos cannot be transcoded."
        );
        tracing::warn!(ffmpeg = %app.settings.media.ffmpeg, "ffmpeg not found");
    }
}

async fn serve(settings: platform::config::Settings) -> anyhow::Result<()> {
    crate::telemetry::init_tracing(&settings.log);
    let listen = settings.server.listen.clone();
    let metrics_listen = settings.metrics.listen.clone();
    let public_url = settings.server.public_url.clone();
    let data_dir = settings.data_dir.clone();
    let app = crate::build(settings).await?;
    let listener = TcpListener::bind(&listen)
        .await
        .with_context(|| format!("could not listen on {listen}"))?;
    let addr = listener.local_addr()?;
    if let Some(metrics_addr) = metrics_listen {
        let handle = crate::telemetry::init_metrics()?;
        let metrics_listener = TcpListener::bind(&metrics_addr)
            .await
            .with_context(|| format!("could not listen on {metrics_addr}"))?;
        println!(
            "Prometheus 指标 / metrics: http://{}/metrics",
            metrics_listener.local_addr()?
        );
        let router = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || std::future::ready(handle.render())),
        );
        tokio::spawn(async move { axum::serve(metrics_listener, router).await });
    }
    if app
        .accounts
        .admin_count()
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?
        == 0
    {
        println!(
            "还没有管理员账号。创建一个 / No admin yet; create one with:\n  parentschool --data-dir {} user add --phone 13800000000 --password 'Change-me-2026' --role admin",
            data_dir.display()
        );
    }
    warn_without_ffmpeg(&app).await;
    let url = public_url.unwrap_or_else(|| format!("http://{addr}"));
    println!(
        "家长学堂已启动 / ParentSchool is listening on {url}  (database: {}, data: {})",
        app.db.backend(),
        data_dir.display()
    );
    tracing::info!(%addr, "listening");
    app.serve(listener, shutdown_signal()).await
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
