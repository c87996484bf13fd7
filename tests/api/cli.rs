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

/// A database for the CLI: an SQLite file in the data folder (default), or a fresh PostgreSQL
/// database (dropped with the guard). No server runs on it, so nothing but the CLI touches it.
async fn database_env(backend: Backend) -> (Vec<(String, String)>, Option<e2e::PgDatabase>) {
    match backend {
        Backend::Sqlite => (Vec::new(), None),
        Backend::Postgres => {
            let db = e2e::PgDatabase::create().await;
            (
                vec![("PARENTSCHOOL__DATABASE__URL".to_owned(), db.url.clone())],
                Some(db),
            )
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

#[test]
fn configuration_layers_and_errors() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = dir.path().join("prod.toml");
    std::fs::write(
        &cfg,
        "[database]\nurl = \"postgres://ps:hunter2@db.internal/ps\"\n[auth]\njwt_secret \
         = \"0123456789abcdef0123456789abcdef-secret\"\n",
    )
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

    // The example production file's placeholder secrets are refused until replaced.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/production.toml");
    let example = example.to_string_lossy().into_owned();
    let (ok, _, err) = run(dir.path(), &[], &["--config", &example, "print-config"]);
    assert!(
        !ok && err.contains("auth.jwt_secret is still the example placeholder"),
        "{err}"
    );
    let real = ("PARENTSCHOOL__AUTH__JWT_SECRET", "kJ2v9Qx7Lm4Rt8Wz1Yb6Nc3Hd5Fg0Ps2");
    let (ok, _, err) = run(dir.path(), &[real], &["--config", &example, "print-config"]);
    assert!(
        !ok && err.contains("live.turn_secret is still the example placeholder"),
        "{err}"
    );
    let turn = ("PARENTSCHOOL__LIVE__TURN_SECRET", "Zx8Cv7Bn6Mq5Wr4Et3Yu2Io1");
    let (ok, _, err) = run(dir.path(), &[real, turn], &["--config", &example, "print-config"]);
    assert!(ok, "{err}");
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

/// `kill -9` in the middle of a transcode, then a restart: the job resumes and finishes, with one
/// set of renditions and no partial objects left behind.
async fn kill_during_transcode(backend: Backend) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (db_env, _keep) = database_env(backend).await;
    let data = dir.path().join("data");
    let data_arg = data.to_string_lossy().into_owned();
    let mut env: Vec<(String, String)> = db_env;
    env.push(("PARENTSCHOOL__MEDIA__JOB_LEASE_SECONDS".into(), "3".into()));
    env.push(("PARENTSCHOOL__AUTH__JWT_SECRET".into(), e2e::TEST_JWT_SECRET.into()));
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (ok, _, err) = run(
        dir.path(),
        &env_ref,
        &[
            "--data-dir",
            &data_arg,
            "user",
            "add",
            "--phone",
            "13700000001",
            "--password",
            "Change-me-2026",
            "--role",
            "curator",
        ],
    );
    assert!(ok, "{err}");

    let clip = e2e::test_clip(dir.path(), 8, "1280x720");
    let bytes = std::fs::read(&clip).unwrap_or_default();

    let start = || {
        let mut cmd = Command::new(binary());
        cmd.current_dir(dir.path())
            .args(["--data-dir", &data_arg, "serve", "--listen", "127.0.0.1:0"])
            .env_remove("RUST_LOG");
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let mut child = cmd
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
        let url = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("server did not start"));
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap_or_default().to_owned();
            }
        };
        (child, url)
    };
    let client = reqwest::Client::new();
    let (mut first, url) = start();
    let login: serde_json::Value = client
        .post(format!("{url}/api/v1/auth/login"))
        .json(&serde_json::json!({"phone": "13700000001", "password": "Change-me-2026"}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let token = e2e::token_of(&login);
    let up: serde_json::Value = client
        .post(format!("{url}/api/v1/uploads"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"filename": "lecture.mp4", "size": bytes.len()}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let id = up["id"].as_str().unwrap_or_default().to_owned();
    let chunk = up["chunk_size"].as_u64().unwrap_or(1) as usize;
    for (n, part) in bytes.chunks(chunk).enumerate() {
        let r = client
            .put(format!("{url}/api/v1/uploads/{id}/chunks/{n}"))
            .bearer_auth(&token)
            .body(part.to_vec())
            .send()
            .await;
        assert!(r.map(|r| r.status().is_success()).unwrap_or(false));
    }
    let done: serde_json::Value = client
        .post(format!("{url}/api/v1/uploads/{id}/complete"))
        .bearer_auth(&token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let asset = done["asset_id"].as_str().unwrap_or_else(|| panic!("{done}")).to_owned();
    let get = |url: String| {
        let (client, token, asset) = (client.clone(), token.clone(), asset.clone());
        async move {
            client
                .get(format!("{url}/api/v1/assets/{asset}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .json::<serde_json::Value>()
                .await
                .unwrap_or_default()
        }
    };
    // Wait until ffmpeg is well under way, then kill the whole server without warning.
    let mut state = serde_json::Value::Null;
    for _ in 0..600 {
        state = get(url.clone()).await;
        if state["progress"].as_i64().unwrap_or(0) >= 5 || state["state"] != "processing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        state["state"], "processing",
        "the transcode finished before it could be interrupted: {state}"
    );
    let killed = Command::new("kill")
        .args(["-KILL", &first.id().to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(killed);
    let _ = first.wait();

    let (mut second, url) = start();
    let mut ready = serde_json::Value::Null;
    for _ in 0..1200 {
        ready = get(url.clone()).await;
        if ready["state"] != "processing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready["state"], "ready", "{ready}");
    let names: Vec<&str> = ready["renditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["360p", "540p", "720p", "audio"],
        "one set of renditions: {ready}"
    );
    // One rendition prefix, the source, and nothing half-written in the store.
    let asset_dir = data.join("objects/assets").join(&asset);
    let mut entries: Vec<String> = std::fs::read_dir(&asset_dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(
        entries.iter().any(|e| e == "source") && entries.iter().any(|e| e.starts_with("hls-")),
        "{entries:?}"
    );
    let tmp_left = std::fs::read_dir(data.join("objects/.tmp"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(tmp_left, 0, "no temporary objects left");
    let scratch = std::fs::read_dir(data.join("work"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(&asset))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(scratch, 0, "scratch space removed");
    let _ = Command::new("kill").args(["-TERM", &second.id().to_string()]).status();
    let _ = second.wait();
}

/// `media upload` appends a lesson whose video the running server transcodes; the catalog
/// import uploads `video_path` files once (a re-run reuses them) and refuses files that are not
/// media, with their line.
async fn media_cli(backend: Backend) {
    let app = e2e::TestApp::spawn(backend).await;
    let org = app.org("浙江省妇联", "province", None).await;
    let curator = app.user_with_role("13700000001", "curator", Some(&org)).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let clip = dir.path().join("第二讲.mp4");
    std::fs::rename(e2e::test_clip(dir.path(), 2, "320x180"), &clip).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("notes.mp4"), "not a video at all\n".repeat(20)).unwrap_or_else(|e| panic!("{e}"));
    let (status, course) = app.post("/api/v1/courses", Some(&curator), serde_json::json!({"title": "好好说话", "age_stages": ["6-12"], "lessons": [{"title": "第一讲", "duration_s": 60}]})).await;
    assert_eq!(status, 201, "{course}");
    let course_id = course["id"].as_str().unwrap_or_default().to_owned();
    let url = app.database_url();
    let env = [("PARENTSCHOOL__DATABASE__URL", url.as_str())];
    let data_dir = app.data_dir.to_string_lossy().into_owned();
    let clip_arg = clip.to_string_lossy().into_owned();
    let (ok, out, err) = run(
        dir.path(),
        &env,
        &[
            "--data-dir",
            &data_dir,
            "media",
            "upload",
            &clip_arg,
            "--course",
            &course_id,
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("第 2 节"), "{out}");
    let (_, course) = app.get(&format!("/api/v1/courses/{course_id}"), Some(&curator)).await;
    assert_eq!(course["lessons"][1]["title"], "第二讲");
    assert_eq!(course["lessons"][1]["duration_s"], 2);
    let asset = course["lessons"][1]["asset_id"].as_str().unwrap_or_default().to_owned();
    let mut state = serde_json::Value::Null;
    for _ in 0..600 {
        state = app.get(&format!("/api/v1/assets/{asset}"), Some(&curator)).await.1;
        if state["state"] != "processing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        state["state"], "ready",
        "the server's worker transcoded the CLI's upload: {state}"
    );

    let csv = "external_id,title,age_stages,lesson_title,lesson_video_path\n\
               V1,有视频的课,6-12,第一讲,第二讲.mp4\nV2,坏视频,6-12,第一讲,notes.mp4\n";
    let manifest = dir.path().join("videos.csv");
    std::fs::write(&manifest, csv).unwrap_or_else(|e| panic!("{e}"));
    let manifest_arg = manifest.to_string_lossy().into_owned();
    let args = [
        "--data-dir",
        data_dir.as_str(),
        "catalog",
        "import",
        manifest_arg.as_str(),
        "--org",
        org.as_str(),
    ];
    let (ok, out, _) = run(dir.path(), &env, &args);
    assert!(!ok);
    assert!(
        out.contains("新建 created 1") && out.contains("第 3 行") && out.contains("notes.mp4"),
        "{out}"
    );
    let (_, page) = app
        .get("/api/v1/courses?q=%E6%9C%89%E8%A7%86%E9%A2%91", Some(&curator))
        .await; // 有视频
    let imported = page["items"][0]["id"].as_str().unwrap_or_default().to_owned();
    let (_, full) = app.get(&format!("/api/v1/courses/{imported}"), Some(&curator)).await;
    assert_eq!(
        full["lessons"][0]["asset_id"],
        asset.as_str(),
        "the same bytes are the same asset: {full}"
    );
    let (ok, out, _) = run(dir.path(), &env, &args);
    assert!(!ok && out.contains("更新 updated 1"), "{out}");
    let (_, again) = app.get(&format!("/api/v1/courses/{imported}"), Some(&curator)).await;
    assert_eq!(again["lessons"][0]["asset_id"], asset.as_str());
    app.stop().await;
}

e2e::on_both_databases!(admin_commands, catalog_import, kill_during_transcode, media_cli);
