//! Media benchmarks, each against a reference measured in the same run:
//! 1. segment serving: `wrk` with 100 connections fetching a 720p HLS segment (a 64 KiB Range
//!    and the whole file) through our signed URL, and the same file from nginx (Debian package);
//! 2. progress ingestion: played-range reports per second from 32 concurrent viewers, next to
//!    the trivial `/healthz` handler;
//! 0. (first) transcoding: a generated 720p clip through our job against the same ffmpeg
//!    commands (`media::plan`) run by hand.
//!
//! `cargo run --release -p bench --bin media-bench -- [--seconds 5] [--database-url postgres://…]`
//! (needs `ffmpeg`, `nginx` and `wrk`: `apt-get install ffmpeg nginx wrk`).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use platform::config::Secret;
use server::Settings;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long, default_value = "nginx")]
    nginx: String,
    /// Length of the clip for the transcoding benchmark (0 skips it).
    #[arg(long, default_value_t = 60)]
    clip_seconds: u64,
}

struct Wrk {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    mbps: f64,
}

fn ms(s: &str) -> f64 {
    let s = s.trim();
    if let Some(v) = s.strip_suffix("us") {
        v.parse::<f64>().unwrap_or(0.0) / 1000.0
    } else if let Some(v) = s.strip_suffix("ms") {
        v.parse().unwrap_or(0.0)
    } else if let Some(v) = s.strip_suffix('s') {
        v.parse::<f64>().unwrap_or(0.0) * 1000.0
    } else {
        0.0
    }
}

fn wrk(url: &str, range: Option<&str>, seconds: u64) -> anyhow::Result<Wrk> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c100", &format!("-d{seconds}s"), "--latency"]);
    if let Some(r) = range {
        cmd.args(["-H", &format!("Range: {r}")]);
    }
    let out = cmd.arg(url).output().context("wrk is needed: apt-get install wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(str::trim).map(str::to_owned))
            .unwrap_or_default()
    };
    let transfer = field("Transfer/sec:");
    let mbps = if let Some(v) = transfer.strip_suffix("MB") {
        v.parse::<f64>().unwrap_or(0.0) * 8.0
    } else if let Some(v) = transfer.strip_suffix("GB") {
        v.parse::<f64>().unwrap_or(0.0) * 8000.0
    } else if let Some(v) = transfer.strip_suffix("KB") {
        v.parse::<f64>().unwrap_or(0.0) * 8.0 / 1000.0
    } else {
        0.0
    };
    if text.contains("Non-2xx") {
        bail!("wrk saw errors for {url}:\n{text}");
    }
    Ok(Wrk {
        rps: field("Requests/sec:").parse().unwrap_or(0.0),
        p50_ms: ms(&field("50%")),
        p99_ms: ms(&field("99%")),
        mbps,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The transcoder's phase timings (`RUST_LOG=media=debug` for more).
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "media=info".into()))
        .with_writer(std::io::stderr)
        .init();
    let dir = tempfile::tempdir()?;
    let mut settings = Settings {
        data_dir: dir.path().join("data"),
        ..Settings::default()
    };
    settings.auth.jwt_secret = Some(Secret::new("bench-secret-0123456789abcdef0123456789"));
    settings.auth.login_attempts_per_ip = 1_000_000;
    settings.database.max_connections = 16;
    if let Some(url) = &args.database_url {
        settings.database.url = Some(Secret::new(url.clone()));
    }
    let media_cfg = settings.media.clone();
    let app = server::build(settings).await?;
    let app_media = app.media.clone();
    let backend = app.db.backend();
    let objects = dir.path().join("data/objects");
    let org = platform::orgs::create_org(
        &app.db,
        app.accounts.now(),
        "浙江省妇联",
        platform::validate::OrgKind::Province,
        None,
    )
    .await?;
    let viewers = 32usize;
    for i in 0..=viewers {
        // The publisher is an admin: the clips are ingested by the system (no uploader), and
        // only admins may use such an asset before a course does.
        let role = if i == 0 {
            platform::validate::Role::Admin
        } else {
            platform::validate::Role::Parent
        };
        app.accounts
            .create_user(platform::accounts::NewUser {
                phone: format!("1380000{i:04}"),
                password: "bench-pass-1".into(),
                display_name: "bench".into(),
                role,
                org: Some(org.id),
                must_change_password: false,
                privacy_consent: true,
            })
            .await?;
    }
    let clip = dir.path().join("clip.mp4");
    make_clip(&clip, 20, 1000)?;
    let asset = app.media.ingest_file(None, &clip, |_| {}).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let catalog = app.catalog.clone();
    let db = app.db.clone();
    let serving = tokio::spawn(app.serve(listener, async move {
        let _ = rx.await;
    }));
    let client = reqwest::Client::new();
    let login = |phone: String| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let body: serde_json::Value = client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&serde_json::json!({"phone": phone, "password": "bench-pass-1"}))
                .send()
                .await?
                .json()
                .await?;
            body["access_token"].as_str().map(str::to_owned).context("login failed")
        }
    };
    let curator = login("13800000000".into()).await?;
    // Wait for the transcode, then publish a course using the asset so parents may watch it.
    let t0 = Instant::now();
    wait_ready(&client, &base, &curator, &asset.to_string()).await?;
    eprintln!("transcoded 20 s of 720p in {:.1} s", t0.elapsed().as_secs_f64());

    // 0. Transcoding: the job pipeline against the very same ffmpeg commands run by hand.
    if args.clip_seconds > 0 {
        let long = dir.path().join("long.mp4");
        make_clip(&long, args.clip_seconds, 400)?;
        let info = media::probe::probe(&media_cfg.ffprobe, &long)
            .await
            .map_err(anyhow::Error::msg)?;
        let out = dir.path().join("by-hand");
        let plan = media::plan(&media_cfg, &long, &out, &info);
        // Two rounds, alternating, so a noisy neighbour hurts both sides alike; the best of each.
        let (mut by_hand, mut job) = (f64::MAX, f64::MAX);
        for round in 0..2 {
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir_all(&out)?;
            let t = Instant::now();
            let ok = Command::new(&media_cfg.ffmpeg)
                .args(&plan.encode)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()?
                .success();
            anyhow::ensure!(ok, "ffmpeg encode failed");
            for (folder, package) in &plan.package {
                std::fs::create_dir_all(folder)?;
                let ok = Command::new(&media_cfg.ffmpeg)
                    .current_dir(folder)
                    .args(package)
                    .status()?
                    .success();
                anyhow::ensure!(ok, "ffmpeg packaging failed");
            }
            let hand = t.elapsed().as_secs_f64();
            // Another tone each round, so the upload is not deduplicated.
            let copy = dir.path().join(format!("long-{round}.mp4"));
            make_clip(&copy, args.clip_seconds, 500 + 100 * round)?;
            let t = Instant::now();
            let asset = app_media.ingest_file(None, &copy, |_| {}).await?;
            wait_ready(&client, &base, &curator, &asset.to_string()).await?;
            let ours = t.elapsed().as_secs_f64();
            eprintln!("round {round}: by hand {hand:.1} s, job {ours:.1} s");
            by_hand = by_hand.min(hand);
            job = job.min(ours);
        }
        let secs = args.clip_seconds as f64;
        println!(
            "\n## Transcoding ({} s of 1280x720 testsrc2 + sine, ladder {}, preset {})\n",
            args.clip_seconds,
            plan.outputs
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join("/"),
            media_cfg.x264_preset
        );
        println!("| path (best of 2 alternating rounds) | wall s | × real time | overhead |");
        println!("|---|---:|---:|---:|");
        println!(
            "| same ffmpeg commands by hand | {by_hand:.1} | {:.2} | |",
            secs / by_hand
        );
        println!(
            "| our job (upload to store → ready) | {job:.1} | {:.2} | {:+.1} % |",
            secs / job,
            100.0 * (job - by_hand) / by_hand
        );
    }
    let course: serde_json::Value = client
        .post(format!("{base}/api/v1/courses"))
        .bearer_auth(&curator)
        .json(&serde_json::json!({"title": "基准课程", "age_stages": ["6-12"], "lessons": [{"title": "一", "asset_id": asset.to_string(), "duration_s": 20}]}))
        .send()
        .await?
        .json()
        .await?;
    let cid = course["id"].as_str().context("course")?.to_owned();
    for to in ["in_review", "published"] {
        client
            .post(format!("{base}/api/v1/courses/{cid}/transitions"))
            .bearer_auth(&curator)
            .json(&serde_json::json!({"to": to}))
            .send()
            .await?;
    }
    let _ = catalog;

    // 1. Segment serving, ours vs nginx on the same files.
    let pb: serde_json::Value = client
        .get(format!("{base}/api/v1/assets/{asset}/playback"))
        .bearer_auth(&curator)
        .send()
        .await?
        .json()
        .await?;
    let seg_path = format!(
        "{}720p/seg_00001.m4s",
        pb["url"].as_str().context("url")?.trim_end_matches("master.m3u8")
    );
    let ours = format!("{base}{seg_path}");
    let prefix = std::fs::read_dir(objects.join("assets").join(asset.to_string()))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("hls-"))
        .context("no rendition prefix")?;
    let seg_file = objects
        .join("assets")
        .join(asset.to_string())
        .join(&prefix)
        .join("720p/seg_00001.m4s");
    let seg_size = std::fs::metadata(&seg_file)?.len();
    let nginx_port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off; worker_processes 1; pid {pid}; error_log {err};\n\
             events {{ worker_connections 1024; }}\n\
             http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;\n\
             types {{ video/iso.segment m4s; }}\n\
             server {{ listen 127.0.0.1:{nginx_port}; root {root}; location / {{ add_header \
             Cache-Control \"public, max-age=31536000, immutable\"; }} }} }}\n",
            pid = dir.path().join("nginx.pid").display(),
            err = dir.path().join("nginx-error.log").display(),
            root = objects.display(),
        ),
    )?;
    let mut nginx = Command::new(&args.nginx)
        .args(["-c"])
        .arg(&conf)
        .args(["-p"])
        .arg(dir.path())
        .spawn()
        .context("nginx is needed: apt-get install nginx")?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let theirs = format!("http://127.0.0.1:{nginx_port}/assets/{asset}/{prefix}/720p/seg_00001.m4s");
    println!(
        "\n## Segment serving ({backend}, local store, {} KiB segment, wrk -t2 -c100, {} s \
         each)\n",
        seg_size / 1024,
        args.seconds
    );
    println!(
        "| request | server | req/s | p50 ms | p99 ms | Mbit/s | ours/nginx req/s | ours/nginx \
         p99 |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for (label, range) in [("Range: bytes=0-65535", Some("bytes=0-65535")), ("whole segment", None)] {
        let n = wrk(&theirs, range, args.seconds)?;
        let o = wrk(&ours, range, args.seconds)?;
        println!(
            "| {label} | nginx | {:.0} | {:.2} | {:.2} | {:.0} | | |",
            n.rps, n.p50_ms, n.p99_ms, n.mbps
        );
        println!(
            "| {label} | ParentSchool | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} |",
            o.rps,
            o.p50_ms,
            o.p99_ms,
            o.mbps,
            o.rps / n.rps,
            o.p99_ms / n.p99_ms.max(0.001)
        );
    }
    // A graceful stop, so the worker process goes too.
    let _ = Command::new(&args.nginx)
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(dir.path())
        .args(["-s", "stop"])
        .status();
    let _ = nginx.wait();

    // 2. Progress ingestion: each viewer reports a new 15 s window of played time.
    let mut tokens = Vec::new();
    for i in 1..=viewers {
        let t = login(format!("1380000{i:04}")).await?;
        client
            .get(format!("{base}/api/v1/assets/{asset}/playback"))
            .bearer_auth(&t)
            .send()
            .await?;
        tokens.push(t);
    }
    let tokens = Arc::new(tokens);
    let run = |progress: bool| {
        let (client, base, tokens) = (client.clone(), base.clone(), tokens.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(args.seconds);
            let started = Instant::now();
            let tasks: Vec<_> = (0..viewers)
                .map(|w| {
                    let (client, base, tokens) = (client.clone(), base.clone(), tokens.clone());
                    tokio::spawn(async move {
                        let session = uuid::Uuid::now_v7();
                        let mut lat = Vec::new();
                        let mut k = 0u32;
                        while Instant::now() < deadline {
                            let t = Instant::now();
                            let res = if progress {
                                let from = f64::from(k % 19);
                                client
                                    .post(format!("{base}/api/v1/assets/{asset}/progress"))
                                    .bearer_auth(&tokens[w])
                                    .json(&serde_json::json!({"session_id": session, "segments": [[from, from + 1.0]], "position_s": from + 1.0}))
                                    .send()
                                    .await
                            } else {
                                client.get(format!("{base}/healthz")).send().await
                            };
                            if res.map(|r| r.status().is_success()).unwrap_or(false) {
                                lat.push(t.elapsed());
                            }
                            k += 1;
                        }
                        lat
                    })
                })
                .collect();
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap_or_default());
            }
            all.sort();
            let pct = |p: f64| {
                all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                    .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
            };
            (all.len() as f64 / started.elapsed().as_secs_f64(), pct(0.5), pct(0.99))
        }
    };
    let (hr, hp50, hp99) = run(false).await;
    let (pr, pp50, pp99) = run(true).await;
    println!(
        "\n## Progress ingestion ({backend}, {viewers} concurrent viewers, {} s each)\n",
        args.seconds
    );
    println!("| request | req/s | p50 ms | p99 ms | vs trivial |");
    println!("|---|---:|---:|---:|---:|");
    println!("| trivial JSON handler (`/healthz`) | {hr:.0} | {hp50:.2} | {hp99:.2} | 100 % |");
    println!(
        "| `POST /api/v1/assets/{{id}}/progress` | {pr:.0} | {pp50:.2} | {pp99:.2} | {:.1} % |",
        100.0 * pr / hr
    );

    let _ = tx.send(());
    serving.await??;
    db.close().await;
    Ok(())
}

/// A generated 720p clip with a `tone` Hz sine, `secs` long.
fn make_clip(clip: &std::path::Path, secs: u64, tone: u64) -> anyhow::Result<()> {
    let ok = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            format!("testsrc2=size=1280x720:rate=25:duration={secs}").as_str(),
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            format!("sine=frequency={tone}:duration={secs}").as_str(),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .arg(clip)
        .status()?
        .success();
    anyhow::ensure!(ok, "ffmpeg failed");
    Ok(())
}

/// Polls the asset until it is ready.
async fn wait_ready(client: &reqwest::Client, base: &str, token: &str, asset: &str) -> anyhow::Result<()> {
    loop {
        let a: serde_json::Value = client
            .get(format!("{base}/api/v1/assets/{asset}"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        match a["state"].as_str() {
            Some("ready") => return Ok(()),
            Some("failed") => bail!("transcode failed: {a}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
