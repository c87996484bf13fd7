//! Live benchmarks.
//!
//! `attendance`: 5,000 simulated viewers join and leave one occurrence over a minute (a fifth of
//! them reconnect once), through the same recorder the SFU feeds, flushed every 5 s as the server
//! does. Reports the statements and time per flush, and checks that nothing is lost: every
//! interval is stored and every viewer's attended time equals the union computed here.
//!
//! `fanout`: one publisher (~500 kbit/s VP8 + Opus) and N WHEP subscribers from `live-load`, a
//! separate process on loopback, for each N: the server's CPU per subscriber (and the per-core
//! capacity it implies), RSS per subscriber, lost packets, and late joiners' time to their first
//! keyframe. The server is this process; the load tool shares the two cores.
//!
//! `cargo build --release -p bench && target/release/live-bench attendance [--viewers 5000]
//! [--seconds 60] [--database-url postgres://…/EMPTY_DB]`;
//! `target/release/live-bench fanout [--viewers 50,100,200,400] [--seconds 10]` (run it in a
//! network namespace with only loopback: `unshare -n sh -c 'ip link set lo up; …'`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use platform::config::{Secret, Settings};
use platform::ids::UserId;
use platform::{Timestamp, with_db};
use rand::Rng;

#[derive(Parser, Debug)]
enum Cmd {
    /// Attendance recording under 5,000 viewers.
    Attendance {
        #[arg(long, default_value_t = 5000)]
        viewers: usize,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// SFU fan-out to N subscribers.
    Fanout {
        #[arg(long, value_delimiter = ',', default_values_t = [50, 100, 200, 400])]
        viewers: Vec<usize>,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 500)]
        bitrate_kbps: u64,
    },
}

fn now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cmd::parse() {
        Cmd::Attendance {
            viewers,
            seconds,
            database_url,
        } => attendance(viewers, seconds, database_url).await,
        Cmd::Fanout {
            viewers,
            seconds,
            bitrate_kbps,
        } => fanout(viewers, seconds, bitrate_kbps).await,
    }
}

async fn attendance(viewers: usize, seconds: u64, database_url: Option<String>) -> anyhow::Result<()> {
    let bench = Bench::start(|s| {
        if let Some(url) = &database_url {
            s.database.url = Some(Secret::new(url.clone()));
        }
    })
    .await?;
    let db = bench.db.clone();
    let backend = db.backend();
    // A second instance on the same database records attendance for this benchmark alone (the
    // serving one's loop flushes its own recorder). Viewers are inserted in bulk: hashing 5,000
    // passwords would measure argon2, not attendance.
    let recorder = server::build(bench.settings.clone()).await?;
    let users: Vec<UserId> = (0..viewers).map(|_| UserId::new()).collect();
    for (c, chunk) in users.chunks(500).enumerate() {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, '家长', 'parent', 0)", i * 2 + 1, i * 2 + 2))
            .collect();
        let sql = format!(
            "INSERT INTO users (id, phone, display_name, role, created_at) VALUES {}",
            values.join(", ")
        );
        with_db!(&db, pool => {
            let mut q = sqlx::query(&sql);
            for (i, u) in chunk.iter().enumerate() {
                q = q.bind(*u).bind(format!("+86139{:08}", c * 500 + i));
            }
            q.execute(pool).await.map(|_| ())
        })?;
    }
    let occ: live_session::OccurrenceId = bench.occurrence("基准直播", 2).await?.parse()?;
    // The recorder the SFU feeds, driven directly (no WebRTC in the way).
    let att = recorder.live.attendance().clone();

    // The plan: each viewer joins in the first half, leaves in the second; a fifth reconnect.
    let span_ms = seconds as i64 * 1000;
    let mut rng = rand::thread_rng();
    let mut events: Vec<(i64, bool, usize, live_session::sfu::SessionId)> = Vec::new();
    for (i, _) in users.iter().enumerate() {
        let join = rng.gen_range(0..span_ms / 2);
        let leave = rng.gen_range(span_ms / 2..span_ms);
        let s = live_session::sfu::SessionId::new();
        events.push((join, true, i, s));
        events.push((leave, false, i, s));
        if i % 5 == 0 {
            let back = rng.gen_range(join..leave);
            let s2 = live_session::sfu::SessionId::new();
            events.push((back, true, i, s2));
            events.push((rng.gen_range(back..=leave), false, i, s2));
        }
    }
    events.sort_by_key(|e| e.0);
    let started = Instant::now();
    let t0 = now();
    let mut expected: HashMap<UserId, Vec<(i64, i64)>> = HashMap::new();
    let mut open: HashMap<live_session::sfu::SessionId, i64> = HashMap::new();
    let mut flushes: Vec<(Duration, live_session::attendance::Flushed)> = Vec::new();
    let mut next_flush = 5000i64;
    let mut i = 0;
    while i < events.len() || (started.elapsed().as_millis() as i64) < span_ms {
        let elapsed = started.elapsed().as_millis() as i64;
        while i < events.len() && events[i].0 <= elapsed {
            let (_, join, u, s) = events[i];
            let at = Timestamp(t0.0 + events[i].0);
            if join {
                att.join(occ, users[u], s, at);
                open.insert(s, at.0);
            } else {
                att.leave(s, at);
                if let Some(from) = open.remove(&s) {
                    expected.entry(users[u]).or_default().push((from, at.0));
                }
            }
            i += 1;
        }
        if elapsed >= next_flush {
            let f0 = Instant::now();
            let f = att.flush(now()).await?;
            flushes.push((f0.elapsed(), f));
            next_flush += 5000;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let f0 = Instant::now();
    let f = att.flush(now()).await?;
    flushes.push((f0.elapsed(), f));

    // Nothing lost: every interval stored and closed, and each union as computed here.
    let (rows, closed): (i64, i64) = with_db!(&db, pool => sqlx::query_as(
        "SELECT COUNT(*), COUNT(left_at) FROM live_attendance WHERE occurrence_id = $1",
    )
    .bind(occ)
    .fetch_one(pool)
    .await)?;
    let stored = att.attended_ms(occ).await?;
    let mismatches = expected
        .iter()
        .filter(|(u, spans)| {
            let want = platform::intervals::total(&platform::intervals::normalise(spans.to_vec()));
            stored.get(u).copied() != Some(want)
        })
        .count();
    let joins: usize = flushes.iter().map(|(_, f)| f.joins).sum();
    let statements: usize = flushes.iter().map(|(_, f)| f.statements).sum();
    let mut times: Vec<Duration> = flushes.iter().map(|(d, _)| *d).collect();
    times.sort();
    println!("\n## Attendance recording ({backend}, {viewers} viewers over {seconds} s, flush every 5 s)\n");
    println!(
        "| viewers | connections | flushes | statements | rows stored / closed | p50 flush ms | max flush ms | users with a wrong total |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {viewers} | {joins} | {} | {statements} | {rows} / {closed} | {:.1} | {:.1} | {mismatches} |",
        flushes.len(),
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    );
    anyhow::ensure!(
        rows as usize == joins && closed == rows && mismatches == 0,
        "attendance was lost"
    );
    bench.stop().await
}

/// CPU seconds this process has used (user + system).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // After the command name: state is field 0; utime and stime are fields 11 and 12.
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident memory of this process in MiB.
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn fanout(counts: Vec<usize>, seconds: u64, bitrate_kbps: u64) -> anyhow::Result<()> {
    let bench = Bench::start(|s| s.live.media_addrs = vec!["127.0.0.1:0".into()]).await?;
    let (base, token, client) = (bench.base.clone(), bench.token.clone(), bench.client.clone());
    let load = std::env::current_exe()?.with_file_name("live-load");
    anyhow::ensure!(
        load.exists(),
        "build the load tool first: cargo build --release -p bench"
    );
    let mut rows = Vec::new();
    for (i, n) in counts.iter().enumerate() {
        // A fresh occurrence per run (the expert watches through the same token: managers may).
        let occ = bench.occurrence(&format!("扇出 {n}"), 2 + i as i64 * 7).await?;
        let rss0 = rss_mib();
        let (cpu0, t0) = (cpu_seconds(), Instant::now());
        let mut child = tokio::process::Command::new(&load)
            .args(["--base", &base, "--occ", &occ, "--token", &token])
            .args(["--viewers", &n.to_string(), "--seconds", &seconds.to_string()])
            .args(["--bitrate-kbps", &bitrate_kbps.to_string(), "--late-joiners", "20"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let mut out = child.stdout.take().context("stdout")?;
        let mut peak = rss0;
        let reading = tokio::spawn(async move {
            let mut s = String::new();
            tokio::io::AsyncReadExt::read_to_string(&mut out, &mut s)
                .await
                .map(|_| s)
        });
        while child.try_wait()?.is_none() {
            peak = peak.max(rss_mib());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (cpu, wall) = (cpu_seconds() - cpu0, t0.elapsed().as_secs_f64());
        let report: serde_json::Value = serde_json::from_str(reading.await??.trim()).context("load tool output")?;
        let connected = report["connected"].as_u64().unwrap_or(0) as f64;
        let per_sub = cpu / wall / connected.max(1.0) * 100.0;
        rows.push(format!(
            "| {n} | {} | {:.1} % | {:.3} % | {:.0} | {:.2} | {} ({:.2} %) | {:.0} / {:.0} |",
            report["connected"],
            cpu / wall * 100.0,
            per_sub,
            100.0 / per_sub.max(1e-9),
            (peak - rss0).max(0.0) / connected.max(1.0),
            report["lost_packets_total"],
            report["loss_ratio"].as_f64().unwrap_or(0.0) * 100.0,
            report["late_join_first_keyframe_ms"]["p50"]
                .as_f64()
                .unwrap_or(f64::NAN),
            report["late_join_first_keyframe_ms"]["p95"]
                .as_f64()
                .unwrap_or(f64::NAN),
        ));
        eprintln!("{n} viewers: {report}");
        // End it so the next run starts from an empty SFU.
        client
            .post(format!("{base}/api/v1/live/occurrences/{occ}/end"))
            .bearer_auth(&token)
            .send()
            .await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    println!(
        "\n## SFU fan-out (release, {bitrate_kbps} kbit/s VP8 + Opus, {seconds} s steady state + set-up, 20 late joiners)\n"
    );
    println!(
        "| subscribers | connected | server CPU (of one core) | CPU per subscriber | subscribers per core | RSS MiB per subscriber | lost packets | late joiner first keyframe p50 / p95 ms |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!("{r}");
    }
    bench.stop().await
}

/// The real server on `127.0.0.1:0` with a province, a school and an expert in it, logged in.
struct Bench {
    base: String,
    token: String,
    client: reqwest::Client,
    db: platform::Db,
    school: platform::ids::OrgId,
    settings: Settings,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Bench {
    async fn start(tweak: impl FnOnce(&mut Settings)) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut settings = Settings {
            data_dir: dir.path().join("data"),
            ..Settings::default()
        };
        settings.auth.jwt_secret = Some(Secret::new("bench-secret-0123456789abcdef0123456789"));
        settings.log.level = "error".into();
        tweak(&mut settings);
        let app = server::build(settings.clone()).await?;
        let db = app.db.clone();
        let err = |e: platform::ApiError| anyhow::anyhow!("{e}");
        let province = platform::orgs::create_org(
            &db,
            app.accounts.now(),
            "浙江省妇联",
            platform::validate::OrgKind::Province,
            None,
        )
        .await
        .map_err(err)?;
        let school = platform::orgs::create_org(
            &db,
            app.accounts.now(),
            "西湖小学",
            platform::validate::OrgKind::School,
            Some(province.id),
        )
        .await
        .map_err(err)?;
        app.accounts
            .create_user(platform::accounts::NewUser {
                phone: "13600000001".into(),
                password: "bench-pass-1".into(),
                display_name: "专家".into(),
                role: platform::validate::Role::Expert,
                org: Some(school.id),
                must_change_password: false,
                privacy_consent: true,
            })
            .await
            .map_err(err)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        }));
        let client = reqwest::Client::new();
        let login: serde_json::Value = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"phone": "13600000001", "password": "bench-pass-1"}))
            .send()
            .await?
            .json()
            .await?;
        let token = login["access_token"].as_str().context("login")?.to_owned();
        Ok(Self {
            base,
            token,
            client,
            db,
            school: school.id,
            settings,
            stop,
            serving,
            _dir: dir,
        })
    }

    /// A one-off lecture `days` days ahead for the school; its occurrence id.
    async fn occurrence(&self, title: &str, days: i64) -> anyhow::Result<String> {
        let day = time::OffsetDateTime::now_utc().date() + time::Duration::days(days);
        let series: serde_json::Value = self
            .client
            .post(format!("{}/api/v1/live/series", self.base))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({"title": title, "rrule": "FREQ=WEEKLY;COUNT=1",
                "starts_at": format!("{day}T19:30:00+08:00"), "duration_minutes": 60, "capacity": 100000,
                "scope_org_id": self.school}))
            .send()
            .await?
            .json()
            .await?;
        Ok(series["occurrences"][0]["id"].as_str().context("series")?.to_owned())
    }

    async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.serving.await??;
        Ok(())
    }
}
