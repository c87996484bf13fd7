//! A PostgreSQL outage while requests come in: every request that needs the database gets a 503
//! problem+json with `Retry-After` (a pool acquire timeout, never a hang and never a 500),
//! `/readyz` says 503 too, and the server recovers by itself when the database is back. The test
//! runs a PostgreSQL server of its own, stopped and started mid-way; the shared one is never
//! touched. (SQLite is a file in the server's own folder: it has no outage of this kind.)

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use e2e::{Backend, TestApp, token_of};
use reqwest::StatusCode;
use serde_json::Value;

/// A throwaway PostgreSQL cluster on a free loopback port, removed on drop.
struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl OwnPostgres {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|dirs| {
                let mut v: Vec<PathBuf> = dirs.flatten().map(|d| d.path().join("bin")).collect();
                v.sort();
                v.into_iter().rev().find(|b| b.join("initdb").is_file())
            })
            .unwrap_or_else(|| panic!("the PostgreSQL server binaries (Debian package postgresql) are required"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if as_postgres {
            let ok = Command::new("chown")
                .arg("postgres")
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown postgres {}", dir.path().display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let pg = Self {
            dir,
            bin,
            port,
            as_postgres,
        };
        pg.run(
            "initdb",
            &["-D", &pg.data(), "--auth=trust", "-U", "postgres", "--no-sync"],
        );
        pg.up();
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn up(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.run("pg_ctl", &["-D", &self.data(), "-l", &log, "-o", &opts, "-w", "start"]);
    }

    /// A clean but abrupt stop: open connections are terminated.
    fn down(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .output()
        } else {
            Command::new(&exe).args(args).output()
        };
    }
}

/// Status, `Retry-After` and body of a request; a request still unanswered after 10 s (five
/// times the pool's acquire timeout) is a hang and fails the test.
async fn send(client: &reqwest::Client, req: reqwest::RequestBuilder) -> (StatusCode, Option<String>, Value) {
    let req = req
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = req.url().to_string();
    let res = client
        .execute(req)
        .await
        .unwrap_or_else(|e| panic!("{url} did not answer (a hang, not a fast 503): {e}"));
    let status = res.status();
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let kind = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        assert_eq!(kind, "application/problem+json", "{url}: {status} {body}");
    }
    (status, retry_after, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_fail_fast_while_postgres_is_down_and_recover_after() {
    let pg = OwnPostgres::start();
    let url = pg.url();
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        s.database.url = Some(platform::config::Secret::new(url));
    })
    .await;
    let token = token_of(&app.register("13812340001", "abc12345x").await);
    let client = app.client.clone();
    let requests = |client: &reqwest::Client| {
        vec![
            ("me", client.get(app.url("/api/v1/me")).bearer_auth(&token)),
            (
                "login",
                client
                    .post(app.url("/api/v1/auth/login"))
                    .json(&serde_json::json!({"phone": "13812340001", "password": "abc12345x"})),
            ),
            ("courses", client.get(app.url("/api/v1/courses"))),
            (
                "my learning",
                client.get(app.url("/api/v1/me/learning")).bearer_auth(&token),
            ),
            ("readyz", client.get(app.url("/readyz"))),
        ]
    };
    for (name, req) in requests(&client) {
        let (status, _, body) = send(&client, req).await;
        assert_eq!(status, StatusCode::OK, "{name} before the outage: {body}");
    }

    // Traffic goes on throughout: nothing may hang or answer 500, whatever the timing.
    let stop = Arc::new(AtomicBool::new(false));
    let background = {
        let (client, stop, me) = (client.clone(), stop.clone(), app.url("/api/v1/me"));
        let token = token.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let (status, _, body) = send(&client, client.get(&me).bearer_auth(&token)).await;
                assert!(
                    status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
                    "during the outage: {status} {body}"
                );
                seen.push(status);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            seen
        })
    };

    pg.down();
    for (name, req) in requests(&client) {
        let started = std::time::Instant::now();
        let (status, retry_after, body) = send(&client, req).await;
        // For the record (`--nocapture`); speed is not asserted.
        eprintln!("{name} while down: {status} after {:?}", started.elapsed());
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{name} while down: {body}");
        assert!(
            retry_after
                .as_deref()
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|s| s > 0),
            "{name}: Retry-After missing"
        );
        let code = body["code"].as_str().unwrap_or_default();
        let expected = if name == "readyz" {
            "not_ready"
        } else {
            "database_unavailable"
        };
        assert_eq!(code, expected, "{name}: {body}");
        if name == "readyz" {
            // Anonymous callers learn that the database is unavailable, not why.
            let checks = serde_json::json!({"database": "unavailable", "object_store": "ok"});
            assert_eq!(body["checks"], checks, "{body}");
        }
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains("稍后")),
            "{name}: {body}"
        );
    }

    pg.up();
    // Back without a restart of the server: the pool connects again by itself.
    let mut ready = false;
    for _ in 0..40 {
        let (status, _, _) = send(&client, client.get(app.url("/readyz"))).await;
        if status == StatusCode::OK {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ready, "/readyz did not recover after PostgreSQL came back");
    for (name, req) in requests(&client) {
        let (status, _, body) = send(&client, req).await;
        assert_eq!(status, StatusCode::OK, "{name} after the outage: {body}");
    }
    stop.store(true, Ordering::Relaxed);
    let seen = background.await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        seen.contains(&StatusCode::SERVICE_UNAVAILABLE),
        "the background traffic saw the outage"
    );
    assert_eq!(seen.last(), Some(&StatusCode::OK), "the background traffic recovered");
}
