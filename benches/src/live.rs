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
//! keyframe. The server is this process; the load tool shares the two cores. The viewers are
//! enrolled parents of the school, two sessions each (the most one user may hold), whose tokens
//! the load tool reads from a file.
//!
//! `mux`: the same fan-out through a socket per peer and through the one shared UDP port, in
//! one run.
//!
//! `chat`: the service as its own process, N listeners on a live lecture's events stream and
//! parents posting chat messages at a rate through the API; delivery latency (the send time is
//! in the text) and the server's CPU, against a bare axum SSE broadcast server in the same run.
//!
//! `cargo build --release -p bench -p server && target/release/live-bench attendance
//! [--viewers 5000] [--seconds 60] [--database-url postgres://…/EMPTY_DB]`;
//! `target/release/live-bench fanout [--viewers 50,100,200,400] [--seconds 10] [--udp-mux]` and
//! `target/release/live-bench mux [--viewers 100,300]` (run them in a network namespace with only
//! loopback: `unshare -n sh -c 'ip link set lo up; …'`);
//! `target/release/live-bench chat [--listeners 2000] [--rate 20] [--seconds 20]` (needs
//! `ulimit -n` above twice the listeners).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use platform::config::Secret;
use platform::ids::UserId;
use platform::{Timestamp, with_db};
use rand::Rng;
use server::Settings;

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
        /// All media through one shared UDP port (ICE UDP mux) instead of a socket per peer.
        #[arg(long)]
        udp_mux: bool,
    },
    /// The same fan-out through per-peer sockets and through the one shared UDP port, in one run.
    Mux {
        #[arg(long, value_delimiter = ',', default_values_t = [100, 300])]
        viewers: Vec<usize>,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 500)]
        bitrate_kbps: u64,
    },
    /// Chat fan-out: listeners on the live events stream, messages per second through the API.
    Chat {
        #[arg(long, default_value_t = 2000)]
        listeners: usize,
        #[arg(long, default_value_t = 20)]
        rate: u64,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// The reference of `chat`: a bare axum SSE broadcast server (run by `chat` itself).
    #[command(hide = true)]
    ChatReference {
        #[arg(long)]
        port: u16,
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
            udp_mux,
        } => {
            let rows = fanout(&viewers, seconds, bitrate_kbps, udp_mux).await?;
            println!(
                "\n## SFU fan-out (release, {bitrate_kbps} kbit/s VP8 + Opus, {seconds} s steady state \
                 + \
                 set-up, 20 late joiners{})\n",
                if udp_mux { ", one UDP port" } else { "" }
            );
            println!("{FANOUT_HEADER}");
            for r in rows {
                println!("| {} |", r.join(" | "));
            }
            Ok(())
        }
        Cmd::Mux {
            viewers,
            seconds,
            bitrate_kbps,
        } => {
            let per_peer = fanout(&viewers, seconds, bitrate_kbps, false).await?;
            let muxed = fanout(&viewers, seconds, bitrate_kbps, true).await?;
            println!(
                "\n## Fan-out through one UDP port vs a socket per peer (release, {bitrate_kbps} \
                 kbit/s, \
                 {seconds} s)\n"
            );
            println!("| sockets {}", FANOUT_HEADER.split('\n').next().unwrap_or(""));
            println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            for (label, rows) in [("per peer", per_peer), ("one UDP port", muxed)] {
                for r in rows {
                    println!("| {label} | {} |", r.join(" | "));
                }
            }
            Ok(())
        }
        Cmd::Chat {
            listeners,
            rate,
            seconds,
        } => chat(listeners, rate, seconds).await,
        Cmd::ChatReference { port } => chat_reference(port).await,
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
        with_db!(&db, |pool| {
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
    let (rows, closed): (i64, i64) = with_db!(&db, |pool| sqlx::query_as(
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
    println!(
        "\n## Attendance recording ({backend}, {viewers} viewers over {seconds} s, flush every \
         5 \
         s)\n"
    );
    println!(
        "| viewers | connections | flushes | statements | rows stored / closed | p50 flush ms | \
         max flush ms | users with a wrong total |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {viewers} | {joins} | {} | {statements} | {rows} / {closed} | {:.1} | {:.1} | \
         {mismatches} |",
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
    cpu_seconds_in("/proc/self/stat")
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

const FANOUT_HEADER: &str = "| subscribers | connected | server CPU (of one core) | CPU per subscriber | \
                             subscribers \
                             per core | RSS MiB per subscriber | lost packets | late joiner first keyframe p50 / \
                             p95 \
                             ms |\n|---:|---:|---:|---:|---:|---:|---:|---:|";

/// Viewers joining during the steady state, each timed to its first keyframe.
const LATE_JOINERS: usize = 20;

/// One fan-out run per count; the table rows.
async fn fanout(counts: &[usize], seconds: u64, bitrate_kbps: u64, udp_mux: bool) -> anyhow::Result<Vec<Vec<String>>> {
    let mut bench = Bench::start(|s| {
        s.live.media_addrs = vec!["127.0.0.1:0".into()];
        // The SFU alone (the synthetic VP8 frames are no video for ffmpeg to record), with no
        // WebRTC viewer limit.
        s.live.recording = false;
        s.live.webrtc_viewer_limit = 0;
        // Every viewer's parent logs in from this one address.
        s.auth.login_attempts_per_ip = 1_000_000;
        if udp_mux {
            s.live.udp_port = 40_000 + rand::random::<u16>() % 20_000;
            s.live.udp_public_ip = Some("127.0.0.1".into());
        }
    })
    .await?;
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
        // Viewers are enrolled parents, two sessions each (the most one user may hold), so the
        // late joiners too get a session of their own instead of replacing a viewer's.
        let viewer_tokens = bench.enrolled_parents(&occ, (n + LATE_JOINERS).div_ceil(2)).await?;
        let tokens_file = bench._dir.path().join(format!("viewer-tokens-{i}"));
        std::fs::write(&tokens_file, viewer_tokens.join("\n"))?;
        let rss0 = rss_mib();
        let (cpu0, t0) = (cpu_seconds(), Instant::now());
        let mut child = tokio::process::Command::new(&load)
            .args(["--base", &base, "--occ", &occ, "--token", &token])
            .arg("--viewer-tokens-file")
            .arg(&tokens_file)
            .args(["--viewers", &n.to_string(), "--seconds", &seconds.to_string()])
            .args(["--bitrate-kbps", &bitrate_kbps.to_string()])
            .args(["--late-joiners", &LATE_JOINERS.to_string()])
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
        rows.push(vec![
            n.to_string(),
            report["connected"].to_string(),
            format!("{:.1} %", cpu / wall * 100.0),
            format!("{per_sub:.3} %"),
            format!("{:.0}", 100.0 / per_sub.max(1e-9)),
            format!("{:.2}", (peak - rss0).max(0.0) / connected.max(1.0)),
            format!(
                "{} ({:.2} %)",
                report["lost_packets_total"],
                report["loss_ratio"].as_f64().unwrap_or(0.0) * 100.0
            ),
            format!(
                "{:.0} / {:.0}",
                report["late_join_first_keyframe_ms"]["p50"]
                    .as_f64()
                    .unwrap_or(f64::NAN),
                report["late_join_first_keyframe_ms"]["p95"]
                    .as_f64()
                    .unwrap_or(f64::NAN)
            ),
        ]);
        eprintln!("{n} viewers: {report}");
        // End it so the next run starts from an empty SFU.
        client
            .post(format!("{base}/api/v1/live/occurrences/{occ}/end"))
            .bearer_auth(&token)
            .send()
            .await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    bench.stop().await?;
    Ok(rows)
}

/// The real server on `127.0.0.1:0` with a province, a school and an expert in it, logged in.
struct Bench {
    base: String,
    token: String,
    client: reqwest::Client,
    db: platform::Db,
    accounts: platform::accounts::Accounts,
    school: platform::ids::OrgId,
    /// Parents of the school made so far, logged in: their access tokens.
    parents: Vec<String>,
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
        let (db, accounts) = (app.db.clone(), app.accounts.clone());
        let province = platform::orgs::create_org(
            &db,
            app.accounts.now(),
            "浙江省妇联",
            platform::validate::OrgKind::Province,
            None,
        )
        .await?;
        let school = platform::orgs::create_org(
            &db,
            app.accounts.now(),
            "西湖小学",
            platform::validate::OrgKind::School,
            Some(province.id),
        )
        .await?;
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
            .await?;
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
            accounts,
            school: school.id,
            parents: Vec::new(),
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

    /// `n` parents of the school enrolled in `occ`, made and logged in as needed: their tokens.
    async fn enrolled_parents(&mut self, occ: &str, n: usize) -> anyhow::Result<Vec<String>> {
        while self.parents.len() < n {
            let phone = format!("137{:08}", self.parents.len());
            self.accounts
                .create_user(platform::accounts::NewUser {
                    phone: phone.clone(),
                    password: "bench-pass-1".into(),
                    display_name: format!("家长{}", self.parents.len()),
                    role: platform::validate::Role::Parent,
                    org: Some(self.school),
                    must_change_password: false,
                    privacy_consent: true,
                })
                .await?;
            let login: serde_json::Value = self
                .client
                .post(format!("{}/api/v1/auth/login", self.base))
                .json(&serde_json::json!({"phone": phone, "password": "bench-pass-1"}))
                .send()
                .await?
                .json()
                .await?;
            self.parents
                .push(login["access_token"].as_str().context("parent login")?.to_owned());
        }
        let tokens = self.parents[..n].to_vec();
        for t in &tokens {
            let res = self
                .client
                .post(format!("{}/api/v1/live/occurrences/{occ}/enrolments", self.base))
                .bearer_auth(t)
                .json(&serde_json::json!({}))
                .send()
                .await?;
            anyhow::ensure!(res.status().is_success(), "enrolment: {}", res.status());
        }
        Ok(tokens)
    }

    async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.serving.await??;
        Ok(())
    }
}

/// CPU seconds (user + system) of another process.
fn cpu_seconds_of(pid: u32) -> f64 {
    cpu_seconds_in(&format!("/proc/{pid}/stat"))
}

/// User + system CPU seconds from a `/proc/…/stat` file.
fn cpu_seconds_in(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // After the command name: state is field 0; utime and stime are fields 11 and 12.
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Starts a server process and waits until it listens; returns it and its base URL.
async fn spawn_listening(mut cmd: tokio::process::Command) -> anyhow::Result<(tokio::process::Child, String)> {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(i) = line.find("http://") {
                let url: String = line[i..].chars().take_while(|c| !c.is_whitespace()).collect();
                return Ok::<_, anyhow::Error>(url);
            }
        }
        anyhow::bail!("the server exited before listening")
    })
    .await??;
    // Keep draining its output.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, base))
}

/// A send time as letters (`a`–`j` for 0–9): the contact filter masks long digit runs as phone
/// numbers, and the message must reach listeners as it was sent.
fn stamp(ms: i64) -> String {
    ms.to_string().bytes().map(|b| char::from(b - b'0' + b'a')).collect()
}

fn unstamp(s: &str) -> Option<i64> {
    s.bytes()
        .map(|b| char::from(b - b'a' + b'0'))
        .collect::<String>()
        .parse()
        .ok()
}

/// One chat fan-out measurement against a running server: `listeners` event streams at
/// `events_urls` (listener `i` opens the `i`-th, round robin: one user may hold only
/// `SESSIONS_PER_USER` streams); `send(i)` posts message `i` (its text carries the send time).
async fn chat_run<F, Fut>(
    label: &str,
    pid: u32,
    events_urls: Vec<String>,
    listeners: usize,
    rate: u64,
    seconds: u64,
    send: F,
) -> anyhow::Result<String>
where
    F: Fn(usize, String) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<f64>();
    let mut streams = Vec::new();
    let connected = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for i in 0..listeners {
        let url = events_urls[i % events_urls.len()].clone();
        let (client, tx, connected) = (client.clone(), tx.clone(), connected.clone());
        streams.push(tokio::spawn(async move {
            let Ok(mut res) = client.get(&url).send().await else {
                return;
            };
            if !res.status().is_success() {
                return;
            }
            connected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut carry = String::new();
            while let Ok(Some(chunk)) = res.chunk().await {
                carry.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(i) = carry.find("bench ") {
                    let stamp: String = carry[i + 6..].chars().take_while(|c| ('a'..='j').contains(c)).collect();
                    if stamp.len() < 13 {
                        break;
                    }
                    if let Some(sent) = unstamp(&stamp) {
                        let _ = tx.send((now().0 - sent) as f64);
                    }
                    carry.drain(..i + 6 + stamp.len());
                }
                if carry.len() > 4096 {
                    let keep = carry.len() - 64;
                    carry.drain(..keep);
                }
            }
        }));
    }
    drop(tx);
    for _ in 0..100 {
        if connected.load(std::sync::atomic::Ordering::Relaxed) >= listeners {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connected = connected.load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let send = std::sync::Arc::new(send);
    let total = (rate * seconds) as usize;
    let (cpu0, t0) = (cpu_seconds_of(pid), Instant::now());
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    let mut posts = Vec::new();
    let mut refused = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for i in 0..total {
        tick.tick().await;
        let (send, refused) = (send.clone(), refused.clone());
        posts.push(tokio::spawn(async move {
            if !send(i, format!("bench {}", stamp(now().0))).await {
                refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    for p in posts {
        let _ = p.await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu, wall) = (cpu_seconds_of(pid) - cpu0, t0.elapsed().as_secs_f64());
    for s in streams {
        s.abort();
    }
    let mut lat = Vec::new();
    while let Ok(l) = rx.try_recv() {
        lat.push(l);
    }
    lat.sort_by(f64::total_cmp);
    let refused = std::sync::Arc::get_mut(&mut refused).map_or(0, |r| *r.get_mut());
    let sent = total - refused;
    Ok(format!(
        "| {label} | {connected} | {:.1} | {} of {} ({:.1} %) | {:.0} | {:.0} | {:.0} | {:.1} % |",
        sent as f64 / seconds as f64,
        lat.len(),
        sent * connected,
        lat.len() as f64 * 100.0 / (sent * connected).max(1) as f64,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0),
        cpu / wall * 100.0
    ))
}

/// Chat fan-out: the service (its own process) with `listeners` on the live events stream of a
/// live lecture while parents post `rate` chat messages a second through the API; against a
/// bare axum SSE broadcast server doing only the fan-out, in the same run.
async fn chat(listeners: usize, rate: u64, seconds: u64) -> anyhow::Result<()> {
    let bin = std::env::current_exe()?.with_file_name("parentschool");
    anyhow::ensure!(
        bin.exists(),
        "build the server first: cargo build --release -p server -p bench"
    );
    // Each parent may post ten messages a minute: enough of them for the rate, and some spare;
    // and each may hold two event streams: enough of them for the listeners.
    let posters = (rate as usize * 6 + 10)
        .max(20)
        .max(listeners.div_ceil(live_session::slots::SESSIONS_PER_USER));
    let dir = tempfile::tempdir()?;
    let secret = "bench-secret-0123456789abcdef0123456789";
    let mut settings = Settings {
        data_dir: dir.path().join("data"),
        ..Settings::default()
    };
    settings.auth.jwt_secret = Some(Secret::new(secret));
    settings.log.level = "error".into();
    settings.live.recording = false;
    // Set-up through the library on the server's data: a school, the expert and the parents.
    let (school, users) = {
        let app = server::build(settings.clone()).await?;
        let now = app.accounts.now();
        let province =
            platform::orgs::create_org(&app.db, now, "浙江省妇联", platform::validate::OrgKind::Province, None).await?;
        let school = platform::orgs::create_org(
            &app.db,
            now,
            "西湖小学",
            platform::validate::OrgKind::School,
            Some(province.id),
        )
        .await?;
        let mut users = Vec::new();
        for i in 0..=posters {
            let phone = format!("138{:08}", i);
            app.accounts
                .create_user(platform::accounts::NewUser {
                    phone: phone.clone(),
                    password: "bench-pass-1".into(),
                    display_name: format!("家长{i}"),
                    role: if i == 0 {
                        platform::validate::Role::Expert
                    } else {
                        platform::validate::Role::Parent
                    },
                    org: Some(school.id),
                    must_change_password: false,
                    privacy_consent: true,
                })
                .await?;
            users.push(phone);
        }
        app.db.close().await;
        (school.id, users)
    };
    let mut cmd = tokio::process::Command::new(&bin);
    cmd.args([
        "--data-dir",
        &settings.data_dir.display().to_string(),
        "serve",
        "--listen",
        "127.0.0.1:0",
    ])
    .env("PARENTSCHOOL__AUTH__JWT_SECRET", secret)
    .env("PARENTSCHOOL__AUTH__LOGIN_ATTEMPTS_PER_IP", "1000000")
    .env("PARENTSCHOOL__LIVE__RECORDING", "false")
    .env("RUST_LOG", "error");
    let (server, base) = spawn_listening(cmd).await?;
    let pid = server.id().context("server pid")?;
    let client = reqwest::Client::new();
    let login = |phone: String| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let v: serde_json::Value = client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&serde_json::json!({"phone": phone, "password": "bench-pass-1"}))
                .send()
                .await?
                .json()
                .await?;
            v["access_token"].as_str().map(str::to_owned).context("login")
        }
    };
    let expert = login(users[0].clone()).await?;
    let day = time::OffsetDateTime::now_utc().date() + time::Duration::days(2);
    let series: serde_json::Value = client
        .post(format!("{base}/api/v1/live/series"))
        .bearer_auth(&expert)
        .json(&serde_json::json!({"title": "聊天扇出", "rrule": "FREQ=WEEKLY;COUNT=1",
            "starts_at": format!("{day}T19:30:00+08:00"), "duration_minutes": 60, "capacity": 100000, "scope_org_id": school}))
        .send()
        .await?
        .json()
        .await?;
    let occ = series["occurrences"][0]["id"].as_str().context("series")?.to_owned();
    let mut tokens = Vec::new();
    for phone in &users[1..] {
        let t = login(phone.clone()).await?;
        let res = client
            .post(format!("{base}/api/v1/live/occurrences/{occ}/enrolments"))
            .bearer_auth(&t)
            .json(&serde_json::json!({}))
            .send()
            .await?;
        anyhow::ensure!(res.status().is_success(), "enrolment: {}", res.status());
        tokens.push(t);
    }
    // Live without a publisher (chat is open while live): set in the database.
    {
        let db = platform::Db::connect(&settings.database_url(), 1, settings.database.acquire_timeout()).await?;
        let id: live_session::OccurrenceId = occ.parse()?;
        platform::db_execute!(
            &db,
            "UPDATE live_occurrences SET state = 'live', live_since = $2, went_live_at = $2 WHERE \
             id \
             = $1",
            id,
            now()
        )?;
        db.close().await;
    }
    // One events URL per enrolled parent (a ticket is a user's), so no user exceeds the limit.
    let mut events = Vec::new();
    for t in &tokens {
        let ticket: serde_json::Value = client
            .post(format!("{base}/api/v1/live/occurrences/{occ}/tickets"))
            .bearer_auth(t)
            .json(&serde_json::json!({}))
            .send()
            .await?
            .json()
            .await?;
        events.push(format!(
            "{base}/api/v1/live/occurrences/{occ}/events?ticket={}",
            ticket["ticket"].as_str().context("ticket")?
        ));
    }
    let tokens = std::sync::Arc::new(tokens);
    let post_url = format!("{base}/api/v1/live/occurrences/{occ}/messages");
    let ours = {
        let client = client.clone();
        chat_run(
            "ParentSchool (API, checks, database, SSE)",
            pid,
            events,
            listeners,
            rate,
            seconds,
            move |i, text| {
                let (client, url, token) = (client.clone(), post_url.clone(), tokens[i % tokens.len()].clone());
                async move {
                    client
                        .post(url)
                        .bearer_auth(token)
                        .json(&serde_json::json!({"text": text}))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                }
            },
        )
        .await?
    };
    drop(server);

    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    cmd.args(["chat-reference", "--port", &port.to_string()]);
    let (reference, rbase) = spawn_listening(cmd).await?;
    let rpid = reference.id().context("reference pid")?;
    let reference_row = {
        let client = client.clone();
        let send_url = format!("{rbase}/send");
        chat_run(
            "bare axum SSE broadcast",
            rpid,
            vec![format!("{rbase}/events")],
            listeners,
            rate,
            seconds,
            move |_, text| {
                let (client, url) = (client.clone(), send_url.clone());
                async move {
                    client
                        .post(url)
                        .body(text)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                }
            },
        )
        .await?
    };
    drop(reference);
    println!(
        "\n## Chat fan-out (release, {listeners} listeners, {rate} messages/s for {seconds} s, \
         loopback)\n"
    );
    println!(
        "| server | listeners connected | messages/s accepted | deliveries | p50 ms | p99 ms | \
         max ms | server CPU (of one core) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    println!("{ours}");
    println!("{reference_row}");
    Ok(())
}

/// The reference of `chat`: `POST /send` broadcasts its body as a `message` event to every
/// `GET /events` stream, nothing else.
async fn chat_reference(port: u16) -> anyhow::Result<()> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let (tx, _) = tokio::sync::broadcast::channel::<String>(1024);
    let events_tx = tx.clone();
    let app = axum::Router::new()
        .route(
            "/events",
            axum::routing::get(move || {
                let rx = events_tx.subscribe();
                async move {
                    let stream = futures::stream::unfold(rx, |mut rx| async move {
                        loop {
                            match rx.recv().await {
                                Ok(text) => {
                                    let data = serde_json::json!({"message": {"text": text}}).to_string();
                                    return Some((
                                        Ok::<_, std::convert::Infallible>(Event::default().event("message").data(data)),
                                        rx,
                                    ));
                                }
                                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                                Err(_) => return None,
                            }
                        }
                    });
                    Sse::new(stream).keep_alive(KeepAlive::default())
                }
            }),
        )
        .route(
            "/send",
            axum::routing::post(move |body: String| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(body);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("reference listening on http://127.0.0.1:{port}");
    axum::serve(listener, app).await?;
    Ok(())
}
