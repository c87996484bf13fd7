//! The command line: `serve` (default), `migrate`, `user add`, `org add`, `print-config`.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use platform::accounts::NewUser;
use platform::ids::OrgId;
use platform::validate::{OrgKind, Role};
use platform::{ApiError, Db};
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
    /// Manage media.
    #[command(subcommand)]
    Media(MediaCommand),
    /// Print the effective configuration with secrets masked.
    PrintConfig,
}

#[derive(Debug, Subcommand)]
enum MediaCommand {
    /// Upload a video file and append it as a lesson of a course; it is transcoded in the
    /// background by a running server or worker.
    Upload {
        file: PathBuf,
        /// The course the lesson is added to.
        #[arg(long, value_name = "COURSE_ID")]
        course: catalog::CourseId,
        /// Lesson title (default: the file name).
        #[arg(long)]
        title: Option<String>,
    },
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
        #[arg(long, value_parser = ["province", "city", "county", "school", "class", "partner"])]
        kind: String,
        #[arg(long, value_name = "ORG_ID")]
        parent: Option<OrgId>,
        /// A partner unit's type (with `--kind partner`).
        #[arg(long, value_parser = ["museum", "hospital", "police", "library", "sports", "community", "university", "other"])]
        partner_type: Option<String>,
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
            let db = Db::connect(&settings.database_url(), 1, settings.database.acquire_timeout())
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
            let app = build_for_tool(settings).await?;
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
                .map_err(cli_error)?;
            println!("{id}");
            Ok(())
        }
        Command::Org(OrgCommand::Add {
            name,
            kind,
            parent,
            partner_type,
        }) => {
            let app = build_for_tool(settings).await?;
            let kind = OrgKind::parse(&kind).context("unknown kind")?;
            let partner_type = partner_type
                .map(|t| platform::validate::PartnerType::parse(&t).context("unknown partner type"))
                .transpose()?;
            let org =
                platform::orgs::create_org_of_type(&app.db, app.accounts.now(), &name, kind, partner_type, parent)
                    .await
                    .map_err(cli_error)?;
            println!("{}", org.id);
            Ok(())
        }
        Command::Catalog(CatalogCommand::Import { file, org, publish }) => import(settings, &file, org, publish).await,
        Command::Worker => worker(settings).await,
        Command::Media(MediaCommand::Upload { file, course, title }) => {
            media_upload(settings, &file, course, title).await
        }
        Command::Serve(_) => serve(settings).await,
    }
}

/// An API error as a one-line CLI message (with every invalid field).
fn cli_error(e: impl Into<platform::ApiError>) -> anyhow::Error {
    let e = e.into();
    let mut text = e.message.zh.to_string();
    for f in &e.errors {
        text.push_str(&format!("\n  {}: {}", f.field, f.message.zh));
    }
    anyhow::anyhow!(text)
}

/// Probes a video with ffprobe: its duration in whole seconds, or why it is not playable.
async fn probe_duration(app: &crate::App, path: &std::path::Path) -> Result<i32, String> {
    let p = media::probe::probe(&app.settings.media.ffprobe, path).await?;
    Ok(p.duration_s.round() as i32)
}

fn bytes_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{bar:30}}] {{bytes}}/{{total_bytes}} {{bytes_per_sec}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

async fn media_upload(
    settings: crate::Settings,
    file: &std::path::Path,
    course: catalog::CourseId,
    title: Option<String>,
) -> anyhow::Result<()> {
    let app = build_for_tool(settings).await?;
    let duration = probe_duration(&app, file)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let size = std::fs::metadata(file)
        .with_context(|| format!("could not read {}", file.display()))?
        .len();
    let bar = bytes_bar(size, "上传中");
    let b = bar.clone();
    let asset = app
        .media
        .ingest_file(None, file, move |n| b.set_position(n))
        .await
        .map_err(cli_error)?;
    bar.finish_and_clear();
    let title = title.unwrap_or_else(|| {
        file.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "新课时".into())
    });
    let position = app
        .catalog
        .append_lesson(course, &title, &asset.to_string(), duration)
        .await
        .map_err(cli_error)?;
    println!(
        "已上传为第 {position} 节课 / uploaded as lesson {position}: asset {asset}（转码在服务器后台进行 / \
         transcoding in the background）"
    );
    app.db.close().await;
    Ok(())
}

/// Uploads the `video_path` files of an import's lessons and fills in their asset ids (and
/// durations, when missing). Entries whose video cannot be read or is not media are reported
/// as failed rows and left out.
async fn ingest_import_videos(
    app: &crate::App,
    base: &std::path::Path,
    entries: Vec<catalog::import::Entry>,
    failed: &mut Vec<catalog::import::RowError>,
) -> Vec<catalog::import::Entry> {
    let mut kept = Vec::with_capacity(entries.len());
    'entries: for mut entry in entries {
        for lesson in &mut entry.course.lessons {
            let Some(rel) = lesson.video_path.clone().filter(|_| lesson.asset_id.is_none()) else {
                continue;
            };
            let path = base.join(&rel);
            let fail = |reason: String| catalog::import::RowError {
                line: entry.line,
                external_id: Some(entry.course.external_id.clone()),
                reason,
            };
            match probe_duration(app, &path).await {
                Ok(d) if lesson.duration_s == 0 => lesson.duration_s = d,
                Ok(_) => {}
                Err(e) => {
                    failed.push(fail(format!("视频“{rel}”：{e}")));
                    continue 'entries;
                }
            }
            match app.media.ingest_file(None, &path, |_| {}).await {
                Ok(asset) => lesson.asset_id = Some(asset.to_string()),
                Err(e) => {
                    failed.push(fail(format!("视频“{rel}”上传失败：{}", ApiError::from(e).message.zh)));
                    continue 'entries;
                }
            }
        }
        kept.push(entry);
    }
    kept
}

async fn import(settings: crate::Settings, file: &std::path::Path, org: OrgId, publish: bool) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("could not read {}", file.display()))?;
    let (entries, mut failed) = catalog::import::parse(&bytes);
    let app = build_for_tool(settings).await?;
    let base = file.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let entries = ingest_import_videos(&app, &base, entries, &mut failed).await;
    let bar = indicatif::ProgressBar::new(entries.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} 导入中 [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let cover = |path: &str| -> Result<bytes::Bytes, String> {
        let p = base.join(path);
        std::fs::read(&p).map(bytes::Bytes::from).map_err(|e| e.to_string())
    };
    let report = app
        .catalog
        .import(org, publish, entries, cover, |done| bar.set_position(done as u64))
        .await
        .map_err(cli_error)?;
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

/// The service as a command-line tool or the worker uses it: everything but the WebRTC media
/// port, which only `serve` binds (a tool run beside a serving node would find it taken).
async fn build_for_tool(mut settings: crate::Settings) -> anyhow::Result<crate::App> {
    settings.live.udp_port = 0;
    crate::build(settings).await
}

async fn worker(settings: crate::Settings) -> anyhow::Result<()> {
    crate::telemetry::init_tracing(&settings.log);
    let app = build_for_tool(settings).await?;
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
            "警告：未找到 ffmpeg/ffprobe，上传的视频将无法转码（Debian: apt-get install ffmpeg）。\nWarning: \
             ffmpeg/ffprobe not found; uploaded videos cannot be transcoded."
        );
        tracing::warn!(ffmpeg = %app.settings.media.ffmpeg, "ffmpeg not found");
    }
}

async fn serve(settings: crate::Settings) -> anyhow::Result<()> {
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
            "还没有管理员账号。创建一个 / No admin yet; create one with:\n  parentschool --data-dir {} user add \
             --phone 13800000000 --password 'Change-me-2026' --role admin",
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
