//! The README's first steps, taken as a newcomer takes them: the real `parentschool` binary in a
//! fresh working directory, with no `--data-dir`, no config file and no `PARENTSCHOOL__`
//! variables, so everything lands in the default relative `data` folder. The first set-up's CLI
//! commands (`org add`, `user add`, `catalog import` with a video), then `serve`: a video
//! uploaded through the HTTP API and the imported one both become `ready`, and ffmpeg, a real
//! HLS client, decodes the signed master playlist. (The live lecture whose replay becomes
//! playable in such a folder is the WebRTC browser test's SQLite run.)

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PASSWORD: &str = "Change-me-2026";

fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("parentschool"))
        .unwrap_or_default();
    assert!(
        bin.is_file(),
        "{} not built: run `cargo build --workspace --all-targets` first (scripts/test does)",
        bin.display()
    );
    bin
}

/// The binary as a newcomer runs it: in `cwd`, with nothing of ours in the environment.
fn command(cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(binary());
    cmd.current_dir(cwd).args(args).env_remove("RUST_LOG");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PARENTSCHOOL") {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn cli(cwd: &Path, args: &[&str]) -> String {
    let out = command(cwd, args)
        .output()
        .unwrap_or_else(|e| panic!("parentschool {args:?}: {e}"));
    assert!(
        out.status.success(),
        "parentschool {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `serve`, stopped on drop. Only the listen address is given: tests run side by side.
struct Serve {
    child: Child,
    base: String,
}

impl Serve {
    fn start(cwd: &Path) -> Self {
        let mut child = command(cwd, &["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("serve: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut printed = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                printed.push_str(&line);
                printed.push('\n');
                if let Some(url) = line.split("listening on ").nth(1) {
                    let url = url.split_whitespace().next().unwrap_or_default().to_owned();
                    let _ = tx.send(Ok((url, printed.clone())));
                }
            }
            let _ = tx.send(Err(printed));
        });
        let (base, printed) = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(found)) => found,
            Ok(Err(printed)) => panic!("serve exited before listening:\n{printed}"),
            Err(e) => panic!("serve did not start: {e}"),
        };
        // It names the folder it uses, resolved against where it was started.
        let data = cwd.join("data");
        assert!(printed.contains(&data.display().to_string()), "{printed}");
        Self { child, base }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let res = req.send().await.unwrap_or_else(|e| panic!("request failed: {e}"));
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.send(self.http.get(format!("{}{path}", self.base)).bearer_auth(token))
            .await
    }

    async fn login(&self, phone: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"phone": phone, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {phone}: {body}");
        e2e::token_of(&body)
    }

    /// Uploads a file through the resumable upload API (the studio's path) and returns the asset.
    async fn upload(&self, token: &str, bytes: &[u8]) -> String {
        let (status, up) = self
            .post(
                "/api/v1/uploads",
                Some(token),
                json!({"filename": "第二讲.mp4", "size": bytes.len(), "content_type": "video/mp4"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{up}");
        let id = up["id"].as_str().unwrap_or_default().to_owned();
        let size = up["chunk_size"].as_u64().unwrap_or(8 << 20) as usize;
        for (n, chunk) in bytes.chunks(size).enumerate() {
            let res = self
                .http
                .put(format!("{}/api/v1/uploads/{id}/chunks/{n}", self.base))
                .bearer_auth(token)
                .header("content-type", "application/octet-stream")
                .body(chunk.to_vec())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(res.status(), StatusCode::NO_CONTENT);
        }
        let sha: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
        let (status, done) = self
            .post(
                &format!("/api/v1/uploads/{id}/complete"),
                Some(token),
                json!({ "sha256": sha }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{done}");
        done["asset_id"].as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the asset is `ready`; a failure or three minutes of processing fail the test.
    async fn ready(&self, token: &str, asset: &str) -> Value {
        for _ in 0..900 {
            let (status, a) = self.get(&format!("/api/v1/assets/{asset}"), token).await;
            assert_eq!(status, StatusCode::OK, "{a}");
            match a["state"].as_str() {
                Some("ready") => return a,
                Some("processing") => tokio::time::sleep(Duration::from_millis(200)).await,
                _ => panic!("asset {asset} did not become ready: {a}"),
            }
        }
        panic!("asset {asset} still processing after three minutes");
    }

    /// ffmpeg plays the signed master playlist end to end and decodes every video frame.
    async fn decodes(&self, token: &str, asset: &str, seconds: f64) {
        let (status, pb) = self.get(&format!("/api/v1/assets/{asset}/playback"), token).await;
        assert_eq!(status, StatusCode::OK, "{pb}");
        let url = pb["url"].as_str().unwrap_or_default();
        let url = if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_owned()
        };
        let out = tokio::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-v", "error", "-i", &url])
            .args(["-map", "0:v:0", "-f", "null", "-progress", "pipe:1", "-"])
            .output()
            .await
            .unwrap_or_else(|e| panic!("ffmpeg: {e}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "ffmpeg could not play {url}: {stderr}"
        );
        let progress = String::from_utf8_lossy(&out.stdout);
        let frames: f64 = progress
            .lines()
            .filter_map(|l| l.strip_prefix("frame="))
            .next_back()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0);
        // 25 frames a second in the source: all of them, give or take a segment's rounding.
        assert!(
            frames >= seconds * 25.0 * 0.9,
            "ffmpeg decoded {frames} frames of {url}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_first_steps_work_in_a_fresh_folder_without_flags() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cwd = home.path();

    // The README's first set-up, in the folder the server will run in.
    let province = cli(cwd, &["org", "add", "--name", "浙江省妇联", "--kind", "province"]);
    assert!(uuid::Uuid::parse_str(&province).is_ok(), "{province}");
    cli(
        cwd,
        &[
            "user",
            "add",
            "--phone",
            "13800000000",
            "--password",
            PASSWORD,
            "--role",
            "admin",
        ],
    );
    cli(
        cwd,
        &[
            "user",
            "add",
            "--phone",
            "13700000001",
            "--password",
            PASSWORD,
            "--role",
            "curator",
            "--org",
            &province,
        ],
    );
    assert!(cwd.join("data/parentschool.db").is_file(), "the database is in ./data");
    let config = cli(cwd, &["print-config"]);
    let data = cwd.join("data");
    assert!(
        config.contains(&format!("data_dir = \"{}\"", data.display())),
        "print-config shows the resolved data dir:\n{config}"
    );

    // `catalog import` with a video beside the manifest, named relative to it.
    std::fs::create_dir_all(cwd.join("2025")).unwrap_or_else(|e| panic!("{e}"));
    let made = e2e::test_clip(&cwd.join("2025"), 4, "640x360");
    std::fs::rename(&made, cwd.join("2025/第一讲.mp4")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        cwd.join("2025/课程.csv"),
        "编号,标题,简介,主讲人,年龄段,主题,课时标题,视频文件\n\
         K1,亲子沟通入门,学会倾听,王老师,6-12,亲子沟通,第一讲,第一讲.mp4\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    cli(
        cwd,
        &["catalog", "import", "2025/课程.csv", "--org", &province, "--publish"],
    );
    assert!(
        !cwd.join("2025/data").exists(),
        "nothing is written beside the manifest"
    );

    let server = Serve::start(cwd);
    let client = Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    let curator = client.login("13700000001").await;

    // The imported lesson's video is transcoded by the server and plays.
    let (status, list) = client.get("/api/v1/courses?q=亲子沟通", &curator).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let course_id = list["items"][0]["id"].as_str().unwrap_or_default().to_owned();
    let (status, course) = client.get(&format!("/api/v1/courses/{course_id}"), &curator).await;
    assert_eq!(status, StatusCode::OK, "{course}");
    let imported = course["lessons"][0]["asset_id"].as_str().unwrap_or_default().to_owned();
    assert!(!imported.is_empty(), "the import attached the video: {course}");
    client.ready(&curator, &imported).await;
    client.decodes(&curator, &imported, 4.0).await;

    // A video uploaded through the HTTP API, as the studio does.
    let bytes = std::fs::read(e2e::test_clip(cwd, 6, "960x540")).unwrap_or_else(|e| panic!("{e}"));
    let uploaded = client.upload(&curator, &bytes).await;
    let asset = client.ready(&curator, &uploaded).await;
    assert!(asset["error"].is_null(), "{asset}");
    client.decodes(&curator, &uploaded, 6.0).await;

    // Objects and scratch space stayed inside ./data.
    assert!(cwd.join("data/objects").is_dir());
    drop(server);
}
