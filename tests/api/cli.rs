//! The `parentschool` binary: the first README command on a fresh folder, administration
//! subcommands on both databases, configuration layering and errors.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use e2e::Backend;

/// The server binary that `cargo test` built beside this test binary.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let bin = dir.join("parentschool");
    assert!(
        bin.is_file(),
        "{} not built: run `cargo build --workspace --all-targets` first (scripts/test does)",
        bin.display()
    );
    bin
}

fn run(cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(binary());
    cmd.current_dir(cwd).args(args).env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run parentschool {args:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A database for the CLI: an SQLite file (default) or a fresh PostgreSQL database.
async fn database_env(backend: Backend) -> (Vec<(String, String)>, Option<e2e::TestApp>) {
    match backend {
        Backend::Sqlite => (Vec::new(), None),
        Backend::Postgres => {
            // Borrow a fresh database from a test app (dropped with it).
            let app = e2e::TestApp::spawn(Backend::Postgres).await;
            let url = app.database_url();
            (vec![("PARENTSCHOOL__DATABASE__URL".to_owned(), url)], Some(app))
        }
    }
}

async fn admin_commands(backend: Backend) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (env, _keep) = database_env(backend).await;
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (ok, out, err) = run(dir.path(), &env, &["migrate"]);
    assert!(ok, "migrate: {err}");
    assert!(out.contains("migrations applied"), "{out}");

    let (ok, province, err) = run(
        dir.path(),
        &env,
        &["org", "add", "--name", "广东省妇联", "--kind", "province"],
    );
    assert!(ok, "org add: {err}");
    let province = province.trim().to_owned();
    assert!(uuid::Uuid::parse_str(&province).is_ok(), "{province}");
    let (ok, _, err) = run(
        dir.path(),
        &env,
        &["org", "add", "--name", "班级", "--kind", "class", "--parent", &province],
    );
    assert!(!ok);
    assert!(err.contains("不能建在"), "{err}");

    let (ok, id, err) = run(
        dir.path(),
        &env,
        &[
            "user",
            "add",
            "--phone",
            "13800000000",
            "--password",
            "Change-me-2026",
            "--role",
            "curator",
            "--org",
            &province,
        ],
    );
    assert!(ok, "user add: {err}");
    assert!(uuid::Uuid::parse_str(id.trim()).is_ok(), "{id}");
    let (ok, _, err) = run(
        dir.path(),
        &env,
        &[
            "user",
            "add",
            "--phone",
            "13800000000",
            "--password",
            "Change-me-2026",
            "--role",
            "admin",
        ],
    );
    assert!(!ok);
    assert!(err.contains("已注册"), "{err}");
    let (ok, _, err) = run(
        dir.path(),
        &env,
        &["user", "add", "--phone", "12", "--password", "short", "--role", "admin"],
    );
    assert!(!ok);
    assert!(err.contains("phone") && err.contains("password"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_sqlite() {
    admin_commands(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_postgres() {
    admin_commands(Backend::Postgres).await;
}

#[test]
fn configuration_layers_and_errors() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = dir.path().join("prod.toml");
    std::fs::write(&cfg, "[database]\nurl = \"postgres://ps:hunter2@db.internal/ps\"\n[auth]\njwt_secret = \"0123456789abcdef0123456789abcdef-secret\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let cfg_arg = cfg.to_string_lossy().into_owned();
    let (ok, out, err) = run(
        dir.path(),
        &[("PARENTSCHOOL__SERVER__LISTEN", "0.0.0.0:9000")],
        &["--config", &cfg_arg, "print-config"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("postgres://ps:********@db.internal/ps"), "{out}");
    assert!(
        !out.contains("hunter2") && !out.contains("-secret"),
        "secrets leaked: {out}"
    );
    assert!(out.contains("listen = \"0.0.0.0:9000\""), "env layer: {out}");

    std::fs::write(&cfg, "[database]\nurll = \"x\"\n").unwrap_or_else(|e| panic!("{e}"));
    let (ok, _, err) = run(dir.path(), &[], &["--config", &cfg_arg, "print-config"]);
    assert!(!ok);
    assert!(err.contains("urll"), "unknown key must be named: {err}");
    let (ok, _, err) = run(dir.path(), &[("PARENTSCHOOL__SERVER__LISTN", "x")], &["print-config"]);
    assert!(!ok);
    assert!(err.contains("listn"), "unknown env key must be named: {err}");
    let (ok, _, err) = run(dir.path(), &[], &["--config", "/nonexistent.toml", "print-config"]);
    assert!(!ok);
    assert!(err.contains("does not exist"), "{err}");
}

/// The README's first command, from an empty folder: creates ./data with the SQLite file and the
/// object store, serves, and stops cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_from_an_empty_folder_and_stop_on_sigterm() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(binary())
        .current_dir(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PARENTSCHOOL__METRICS__LISTEN", "127.0.0.1:0")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut url = None;
    let mut metrics_url = None;
    let mut saw_admin_hint = false;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        saw_admin_hint |= line.contains("user add");
        if let Some(rest) = line.split("metrics: ").nth(1) {
            metrics_url = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(rest) = line.split("listening on ").nth(1) {
            url = rest.split_whitespace().next().map(str::to_owned);
            break;
        }
    }
    let url = url.unwrap_or_else(|| panic!("the server did not print its URL"));
    assert!(saw_admin_hint, "first start must say how to create an admin");
    let health: serde_json::Value = reqwest::get(format!("{url}/healthz"))
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(health["status"], "ok");
    assert!(dir.path().join("data/parentschool.db").is_file());
    assert!(dir.path().join("data/objects").is_dir());

    // Prometheus metrics on their own listener count the request above.
    let metrics_url = metrics_url.unwrap_or_else(|| panic!("the metrics listener was not announced"));
    let metrics = reqwest::get(&metrics_url)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(
        metrics.contains("http_requests_total") && metrics.contains("route=\"/healthz\""),
        "{metrics}"
    );

    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(killed);
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}

/// `catalog import`: GBK CSV and JSON, bad rows reported by line while good ones land,
/// idempotent re-runs, exit status.
async fn catalog_import(backend: Backend) {
    let app = e2e::TestApp::spawn(backend).await;
    let org = app.org("浙江省妇联", "province", None).await;
    let curator = app.user_with_role("13700000001", "curator", Some(&org)).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";
    std::fs::write(dir.path().join("cover.png"), png).unwrap_or_else(|e| panic!("{e}"));
    let csv = "编号,标题,简介,主讲人,年龄段,主题,封面,课时标题,课时时长\n\
               K1,亲子沟通入门,学会倾听,王老师,6–12 岁,亲子沟通,cover.png,第一讲,10:00\n\
               ,,,,,,,第二讲,12:30\n\
               K2,心理健康,识别焦虑,李老师,火星岁,心理健康,,第一讲,300\n\
               K3,安全教育,防溺水,张老师,6-12,安全教育,,第一讲,300\n";
    let gbk = encoding_rs::GBK.encode(csv).0.into_owned();
    let file = dir.path().join("2025.csv");
    std::fs::write(&file, gbk).unwrap_or_else(|e| panic!("{e}"));
    let url = app.database_url();
    let env = [("PARENTSCHOOL__DATABASE__URL", url.as_str())];
    let data_dir = app.data_dir.to_string_lossy().into_owned();
    let file_arg = file.to_string_lossy().into_owned();
    let args = [
        "--data-dir",
        data_dir.as_str(),
        "catalog",
        "import",
        file_arg.as_str(),
        "--org",
        org.as_str(),
        "--publish",
    ];
    let (ok, out, _) = run(dir.path(), &env, &args);
    assert!(!ok, "a failed row makes the exit status non-zero");
    assert!(out.contains("新建 created 2") && out.contains("失败 failed 1"), "{out}");
    assert!(
        out.contains("第 4 行") && out.contains("[K2]") && out.contains("火星"),
        "{out}"
    );

    // Imported, published, with cover and lessons, and searchable.
    let (_, page) = app.get("/api/v1/courses?q=%E5%80%BE%E5%90%AC", Some(&curator)).await; // 倾听
    assert_eq!(page["items"][0]["title"], "亲子沟通入门", "{page}");
    assert_eq!(page["items"][0]["status"], "published");
    assert_eq!(page["items"][0]["lesson_count"], 2);
    assert_eq!(page["items"][0]["total_duration_s"], 1350);
    assert!(page["items"][0]["cover_url"].is_string());

    // Re-running with the row fixed updates rather than duplicates.
    let fixed = csv.replace("火星岁", "12-15").replace("学会倾听", "学会倾听与表达");
    std::fs::write(&file, fixed.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let (ok, out, err) = run(dir.path(), &env, &args);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("新建 created 1") && out.contains("更新 updated 2") && out.contains("失败 failed 0"),
        "{out}"
    );
    let (_, all) = app.get("/api/v1/courses", Some(&curator)).await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(3), "{all}");

    // Duplicate keys in one JSON manifest are refused, the rest imported.
    let json = r#"[{"external_id": "J1", "title": "甲", "age_stages": ["0-3"]},
                   {"external_id": "J1", "title": "乙", "age_stages": ["0-3"]},
                   {"external_id": "J2", "title": "丙", "age_stages": ["0-3"]}]"#;
    let jfile = dir.path().join("more.json");
    std::fs::write(&jfile, json).unwrap_or_else(|e| panic!("{e}"));
    let jarg = jfile.to_string_lossy().into_owned();
    let (ok, out, _) = run(
        dir.path(),
        &env,
        &[
            "--data-dir",
            data_dir.as_str(),
            "catalog",
            "import",
            jarg.as_str(),
            "--org",
            org.as_str(),
        ],
    );
    assert!(!ok);
    assert!(
        out.contains("新建 created 1") && out.contains("失败 failed 2") && out.contains("重复"),
        "{out}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_import_sqlite() {
    catalog_import(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_import_postgres() {
    catalog_import(Backend::Postgres).await;
}
