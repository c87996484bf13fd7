//! Media through the HTTP API with real ffmpeg: resumable uploads, validation, transcoding.

use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e::{Backend, TestApp, assert_problem, raw};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CHUNK: u64 = 64 * 1024;

pub(crate) fn clip(dir: &Path, seconds: u32, size: &str) -> PathBuf {
    e2e::test_clip(dir, seconds, size)
}

pub(crate) async fn spawn(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| s.media.chunk_size_bytes = CHUNK).await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn put_chunk(app: &TestApp, token: &str, id: &str, n: usize, bytes: Vec<u8>) -> (StatusCode, Value) {
    let (status, _, text) = raw(
        app,
        Method::PUT,
        &format!("/api/v1/uploads/{id}/chunks/{n}"),
        &[
            ("authorization", &format!("Bearer {token}")),
            ("content-type", "application/octet-stream"),
        ],
        Some(bytes),
    )
    .await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Uploads `bytes` in chunks and completes; returns the asset id.
async fn upload(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> String {
    let (status, up) = app
        .post(
            "/api/v1/uploads",
            Some(token),
            json!({"filename": name, "size": bytes.len(), "content_type": "video/mp4"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let id = up["id"].as_str().unwrap_or_default().to_owned();
    let size = up["chunk_size"].as_u64().unwrap_or(CHUNK) as usize;
    for (n, chunk) in bytes.chunks(size).enumerate() {
        let (status, body) = put_chunk(app, token, &id, n, chunk.to_vec()).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (status, done) = app
        .post(
            &format!("/api/v1/uploads/{id}/complete"),
            Some(token),
            json!({"sha256": hex(&Sha256::digest(bytes))}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    done["asset_id"].as_str().unwrap_or_default().to_owned()
}

/// Polls the asset until it leaves `processing`.
async fn settled(app: &TestApp, token: &str, id: &str) -> Value {
    for _ in 0..600 {
        let (status, asset) = app.get(&format!("/api/v1/assets/{id}"), Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert!((0..=100).contains(&asset["progress"].as_i64().unwrap_or(-1)), "{asset}");
        if asset["state"] != "processing" {
            return asset;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("asset {id} still processing after 60 s");
}

async fn upload_flow(backend: Backend, s3: bool) {
    let app = if s3 {
        TestApp::spawn_with_s3(backend, |s| s.media.chunk_size_bytes = CHUNK).await
    } else {
        spawn(backend).await
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let curator = app.user_with_role("13700000001", "curator", None).await;
    let other = app.user_with_role("13700000002", "expert", None).await;
    let parent = e2e::token_of(&app.register("13812345678", "abc12345x").await);
    let bytes = std::fs::read(clip(dir.path(), 3, "426x240")).unwrap_or_default();
    assert!(bytes.len() as u64 > 2 * CHUNK, "the clip spans several chunks");

    let (status, body) = app
        .post(
            "/api/v1/uploads",
            Some(&parent),
            json!({"filename": "a.mp4", "size": 10}),
        )
        .await;
    assert_problem(status, &body, 403, "forbidden_role");
    let (status, body) = app
        .post(
            "/api/v1/uploads",
            Some(&curator),
            json!({"filename": "empty.mp4", "size": 0}),
        )
        .await;
    assert_problem(status, &body, 422, "validation_failed");

    let (status, up) = app
        .post(
            "/api/v1/uploads",
            Some(&curator),
            json!({"filename": "讲座.mp4", "size": bytes.len(), "content_type": "video/mp4"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let id = up["id"].as_str().unwrap_or_default().to_owned();
    let chunks: Vec<Vec<u8>> = bytes.chunks(CHUNK as usize).map(<[u8]>::to_vec).collect();
    assert_eq!(up["chunks"], chunks.len());
    assert_eq!(up["chunk_size"], CHUNK);

    // Out of order, a retried chunk, bad sizes and numbers, someone else's upload.
    for n in (1..chunks.len()).rev() {
        let (status, body) = put_chunk(&app, &curator, &id, n, chunks[n].clone()).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (status, body) = put_chunk(&app, &curator, &id, 0, vec![1, 2, 3]).await;
    assert_problem(status, &body, 422, "wrong_chunk_size");
    let (status, body) = put_chunk(&app, &curator, &id, chunks.len(), chunks[0].clone()).await;
    assert_problem(status, &body, 422, "validation_failed");
    let (status, body) = put_chunk(&app, &other, &id, 0, chunks[0].clone()).await;
    assert_problem(status, &body, 403, "not_your_upload");
    let (status, body) = app
        .post(&format!("/api/v1/uploads/{id}/complete"), Some(&curator), json!({}))
        .await;
    let body = assert_problem(status, &body, 409, "upload_incomplete");
    assert_eq!(body["missing"], json!([0]));
    let (_, status_body) = app.get(&format!("/api/v1/uploads/{id}"), Some(&curator)).await;
    assert_eq!(status_body["received"].as_array().map(Vec::len), Some(chunks.len() - 1));
    // Chunk 0 sent wrong (right size, wrong bytes), then again right: the retry replaces it.
    let mut garbage = chunks[0].clone();
    garbage.reverse();
    let (status, _) = put_chunk(&app, &curator, &id, 0, garbage).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let sha = hex(&Sha256::digest(&bytes));
    let (status, body) = app
        .post(
            &format!("/api/v1/uploads/{id}/complete"),
            Some(&curator),
            json!({"sha256": sha}),
        )
        .await;
    assert_problem(status, &body, 422, "checksum_mismatch");
    let (status, _) = put_chunk(&app, &curator, &id, 0, chunks[0].clone()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, done) = app
        .post(
            &format!("/api/v1/uploads/{id}/complete"),
            Some(&curator),
            json!({"sha256": sha}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    let asset = done["asset_id"].as_str().unwrap_or_default().to_owned();
    let (status, body) = app
        .post(&format!("/api/v1/uploads/{id}/complete"), Some(&curator), json!({}))
        .await;
    let body = assert_problem(status, &body, 409, "upload_completed");
    assert_eq!(body["asset_id"], asset.as_str());

    let ready = settled(&app, &curator, &asset).await;
    assert_eq!(ready["state"], "ready", "{ready}");
    assert_eq!(ready["progress"], 100);
    let duration = ready["duration_s"].as_f64().unwrap_or(0.0);
    assert!((2.5..=3.5).contains(&duration), "{ready}");
    let names: Vec<&str> = ready["renditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["240p", "audio"], "a 240-line source is not upscaled: {ready}");
    // Another user's asset is not theirs to see (curators and admins may).
    let (status, _) = app.get(&format!("/api/v1/assets/{asset}"), Some(&other)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn broken_files_fail_with_reasons(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.media.chunk_size_bytes = CHUNK;
        s.media.max_duration_seconds = 4;
    })
    .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let curator = app.user_with_role("13700000001", "curator", None).await;
    let good = std::fs::read(clip(dir.path(), 2, "320x180")).unwrap_or_default();
    let long = std::fs::read(clip(dir.path(), 6, "160x90")).unwrap_or_default();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "作业.mp4",
            "这不是视频，只是改了扩展名的文本文件。\n".repeat(50).into_bytes(),
            "不是可识别",
        ),
        ("截断.mp4", good[..good.len() * 6 / 10].to_vec(), "不完整"),
        ("太长.mp4", long, "超过上限"),
    ];
    // Text that ffmpeg would read as a playlist or a concat list naming another file on disk
    // (here: another upload's stored source) is refused, not transcoded and served.
    let victim = upload(&app, &curator, "别人的.mp4", &good).await;
    assert_eq!(settled(&app, &curator, &victim).await["state"], "ready");
    // The victim's rendition playlist, as the local store keeps it.
    let mut stack = vec![app.data_dir.join(format!("objects/assets/{victim}"))];
    let mut stored = None;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "index.m3u8") {
                stored = Some(path);
            }
        }
    }
    let stored = stored.unwrap_or_else(|| panic!("no rendition playlist of {victim} in the store"));
    let dir = stored.parent().map(Path::to_path_buf).unwrap_or_default();
    let playlist = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"file://{}\"\n\
         #EXTINF:2.0,\nfile://{}\n#EXT-X-ENDLIST\n",
        dir.join("init.mp4").display(),
        dir.join("seg_00000.m4s").display()
    );
    let concat = format!("ffconcat version 1.0\nfile '{}'\n", dir.join("init.mp4").display());
    let mut cases = cases;
    cases.push(("播放列表.mp4", playlist.into_bytes(), "不是可识别"));
    cases.push(("拼接.mp4", concat.into_bytes(), "不是可识别"));
    for (name, bytes, reason) in cases {
        let asset = upload(&app, &curator, name, &bytes).await;
        let done = settled(&app, &curator, &asset).await;
        assert_eq!(done["state"], "failed", "{name}: {done}");
        assert!(
            done["error"].as_str().is_some_and(|e| e.contains(reason)),
            "{name}: {done}"
        );
        assert_eq!(done["renditions"], json!([]));
    }
    let asset = upload(&app, &curator, "好.mp4", &good).await;
    assert_eq!(settled(&app, &curator, &asset).await["state"], "ready");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_and_transcode_sqlite() {
    upload_flow(Backend::Sqlite, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_and_transcode_sqlite_s3() {
    upload_flow(Backend::Sqlite, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_and_transcode_postgres_s3() {
    upload_flow(Backend::Postgres, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_and_transcode_postgres() {
    upload_flow(Backend::Postgres, false).await;
}

/// Without ffmpeg the server still starts, says so in `/readyz`, and uploads end with a clear
/// error instead of hanging in processing.
async fn without_ffmpeg(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.media.chunk_size_bytes = CHUNK;
        s.media.ffmpeg = "/nonexistent/ffmpeg".into();
    })
    .await;
    let (status, ready) = app.get("/readyz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["ffmpeg"], "missing", "{ready}");
    let curator = app.user_with_role("13700000001", "curator", None).await;
    let asset = upload(&app, &curator, "讲座.mp4", b"whatever bytes").await;
    let done = settled(&app, &curator, &asset).await;
    assert_eq!(done["state"], "failed");
    assert!(done["error"].as_str().is_some_and(|e| e.contains("ffmpeg")), "{done}");
    app.stop().await;
}

/// Rights over an asset follow the catalog's scope rule, not a role: a curator of another county
/// can neither read an asset's metadata, nor replace or delete its captions, nor play a draft
/// that uses it; the curator whose subtree owns the course can, without having uploaded it.
async fn media_rights_follow_the_catalog_scope(backend: Backend) {
    let app = spawn(backend).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let province = app.org("浙江省妇联", "province", None).await;
    let city = app.org("杭州市妇联", "city", Some(&province)).await;
    let county_a = app.org("西湖区妇联", "county", Some(&city)).await;
    let county_b = app.org("上城区妇联", "county", Some(&city)).await;
    let expert = app.user_with_role("13600000001", "expert", Some(&county_a)).await;
    let curator_a = app.user_with_role("13700000001", "curator", Some(&county_a)).await;
    let curator_b = app.user_with_role("13700000002", "curator", Some(&county_b)).await;
    let bytes = std::fs::read(clip(dir.path(), 2, "426x240")).unwrap_or_default();
    let asset = upload(&app, &expert, "讲座.mp4", &bytes).await;
    assert_eq!(settled(&app, &expert, &asset).await["state"], "ready");
    let (status, course) = app
        .post("/api/v1/courses", Some(&expert), json!({"title": "草稿课", "age_stages": ["6-12"], "lessons": [{"title": "第一讲", "asset_id": asset, "duration_s": 2}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{course}");

    let srt = b"1\r\n00:00:00,200 --> 00:00:01,500\r\n\xe4\xbd\xa0\xe5\xa5\xbd\r\n".to_vec();
    let caption = format!("/api/v1/assets/{asset}/captions/zh");
    let put = |token: String| {
        let (caption, srt) = (caption.clone(), srt.clone());
        let app = &app;
        async move {
            let auth = format!("Bearer {token}");
            raw(app, Method::PUT, &caption, &[("authorization", &auth)], Some(srt))
                .await
                .0
        }
    };
    // Out of scope: as if the asset did not exist.
    for path in [
        format!("/api/v1/assets/{asset}"),
        format!("/api/v1/assets/{asset}/playback"),
    ] {
        let (status, body) = app.get(&path, Some(&curator_b)).await;
        assert_problem(status, &body, 404, "asset_not_found");
    }
    assert_eq!(put(curator_b.clone()).await, StatusCode::NOT_FOUND);
    // In scope: the county's curator reviews the expert's course and manages its video.
    for path in [
        format!("/api/v1/assets/{asset}"),
        format!("/api/v1/assets/{asset}/playback"),
    ] {
        let (status, body) = app.get(&path, Some(&curator_a)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    assert!(put(curator_a.clone()).await.is_success());
    let (status, _) = app.call(Method::DELETE, &caption, Some(&curator_b), Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the other county cannot delete captions");
    let (status, _) = app.call(Method::DELETE, &caption, Some(&curator_a), Value::Null).await;
    assert!(status.is_success(), "{status}");

    // Another expert cannot put the asset into a draft of their own (and so cannot watch it).
    let other = app.user_with_role("13600000002", "expert", Some(&county_a)).await;
    let lesson = json!([{"title": "借来的", "asset_id": asset, "duration_s": 2}]);
    let (status, body) = app
        .post(
            "/api/v1/courses",
            Some(&other),
            json!({"title": "别人的视频", "age_stages": ["6-12"], "lessons": lesson}),
        )
        .await;
    let body = assert_problem(status, &body, 422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "lessons[0].asset_id", "{body}");
    let (status, body) = app.get(&format!("/api/v1/assets/{asset}/playback"), Some(&other)).await;
    assert_problem(status, &body, 404, "asset_not_found");
    // Nor by editing a draft; the curator of the owning county may reuse it in another course.
    let (status, own) = app
        .post(
            "/api/v1/courses",
            Some(&other),
            json!({"title": "自己的课", "age_stages": ["6-12"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{own}");
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/courses/{}", own["id"].as_str().unwrap_or_default()),
            Some(&other),
            json!({"lessons": lesson, "version": own["version"]}),
        )
        .await;
    assert_problem(status, &body, 422, "validation_failed");
    let (status, body) = app
        .post(
            "/api/v1/courses",
            Some(&curator_a),
            json!({"title": "精选", "age_stages": ["6-12"], "lessons": lesson}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Keeping the asset in the course it is already in needs no further right.
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/courses/{}", course["id"].as_str().unwrap_or_default()),
            Some(&expert),
            json!({"title": "草稿课（修订）", "version": course["version"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.stop().await;
}

/// A transcode that keeps failing the same way (here: every HLS packaging, through an ffmpeg
/// wrapper) says why on the asset while it retries, and ends `failed` with that reason after
/// the last attempt, never `processing` for ever.
async fn repeated_failures_are_reported(backend: Backend) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let wrapper = dir.path().join("ffmpeg");
    std::fs::write(
        &wrapper,
        "#!/bin/sh
for a in \"$@\"; do [ \"$a\" = hls ] && { echo 'No space left on device' >&2; exit 1; \
         }; done
exec ffmpeg \"$@\"
",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
    let good = std::fs::read(clip(dir.path(), 2, "320x180")).unwrap_or_default();
    for max_attempts in [2, 1] {
        let ffmpeg = wrapper.display().to_string();
        let app = TestApp::spawn_with(backend, |s| {
            s.media.chunk_size_bytes = CHUNK;
            s.media.ffmpeg = ffmpeg;
            s.media.max_attempts = max_attempts;
        })
        .await;
        let curator = app.user_with_role("13700000001", "curator", None).await;
        let asset = upload(&app, &curator, "讲座.mp4", &good).await;
        let mut seen = Value::Null;
        for _ in 0..300 {
            let (_, a) = app.get(&format!("/api/v1/assets/{asset}"), Some(&curator)).await;
            if !a["error"].is_null() {
                seen = a;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let error = seen["error"].as_str().unwrap_or_default();
        assert!(error.contains("No space left on device"), "the cause is shown: {seen}");
        if max_attempts == 2 {
            // The first of two attempts failed: still processing, and it says so.
            assert_eq!(seen["state"], "processing", "{seen}");
            assert!(error.starts_with("转码失败，正在重试（第 1 次）"), "{seen}");
        } else {
            assert_eq!(seen["state"], "failed", "{seen}");
            assert!(error.contains("已尝试 1 次仍未成功"), "{seen}");
            assert_eq!(seen["renditions"], json!([]));
        }
        app.stop().await;
    }
}

/// Signed playback: who may get a URL, and how the bytes are served (Range, ETag, caching,
/// tampered and expired signatures).
async fn playback(backend: Backend) {
    let app = spawn(backend).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let province = app.org("浙江省妇联", "province", None).await;
    let school_a = app.org("西湖小学", "school", Some(&province)).await;
    let other_province = app.org("江苏省妇联", "province", None).await;
    let curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
    let parent_in = app.user_with_role("13800000001", "parent", Some(&school_a)).await;
    let parent_out = app.user_with_role("13800000002", "parent", Some(&other_province)).await;
    let bytes = std::fs::read(clip(dir.path(), 2, "426x240")).unwrap_or_default();
    let asset = upload(&app, &curator, "讲座.mp4", &bytes).await;
    assert_eq!(settled(&app, &curator, &asset).await["state"], "ready");

    // Parents may watch once a course they can see uses the asset.
    let path = format!("/api/v1/assets/{asset}/playback");
    let (status, _) = app.get(&path, Some(&parent_in)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, course) = app
        .post("/api/v1/courses", Some(&curator), json!({"title": "好好说话", "age_stages": ["6-12"], "lessons": [{"title": "第一讲", "asset_id": asset, "duration_s": 2}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{course}");
    for to in ["in_review", "published"] {
        app.post(
            &format!(
                "/api/v1/courses/{}/transitions",
                course["id"].as_str().unwrap_or_default()
            ),
            Some(&curator),
            json!({"to": to}),
        )
        .await;
    }
    let (status, pb) = app.get(&path, Some(&parent_in)).await;
    assert_eq!(status, StatusCode::OK, "{pb}");
    let (status, _) = app.get(&path, Some(&parent_out)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let url = pb["url"].as_str().unwrap_or_default().to_owned();
    assert!(
        url.starts_with(&format!("/media/{asset}/")) && url.ends_with("/master.m3u8"),
        "{pb}"
    );
    let (status, headers, master) = raw(&app, Method::GET, &url, &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/vnd.apple.mpegurl")
    );
    assert!(
        master.contains("240p/index.m3u8")
            && master.contains("audio/index.m3u8")
            && master.contains("RESOLUTION=426x240"),
        "{master}"
    );
    let base = url.trim_end_matches("master.m3u8").to_owned();
    captions(&app, &asset, &curator, &parent_in, &url, &base).await;
    let (status, _, media_playlist) = raw(&app, Method::GET, &format!("{base}240p/index.m3u8"), &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        media_playlist.contains("init.mp4")
            && media_playlist.contains("seg_00000.m4s")
            && media_playlist.contains("#EXT-X-ENDLIST"),
        "{media_playlist}"
    );

    let seg = format!("{base}240p/seg_00000.m4s");
    let (status, headers, _) = raw(&app, Method::GET, &seg, &[], None).await;
    assert_eq!(status, StatusCode::OK);
    let size: u64 = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(size > 100);
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(
        headers.get("accept-ranges").and_then(|v| v.to_str().ok()),
        Some("bytes")
    );
    let etag = headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (status, headers, body) = raw(&app, Method::GET, &seg, &[("range", "bytes=0-99")], None).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        headers.get("content-range").and_then(|v| v.to_str().ok()),
        Some(format!("bytes 0-99/{size}").as_str())
    );
    assert_eq!(headers.get("content-length").and_then(|v| v.to_str().ok()), Some("100"));
    let _ = body;
    let (status, headers, _) = raw(&app, Method::GET, &seg, &[("range", &format!("bytes={size}-"))], None).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        headers.get("content-range").and_then(|v| v.to_str().ok()),
        Some(format!("bytes */{size}").as_str())
    );
    let (status, _, _) = raw(&app, Method::GET, &seg, &[("if-none-match", &etag)], None).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    // Tampered and expired signatures.
    let parts: Vec<&str> = url.split('/').collect(); // ["", "media", asset, user, exp, sig, "master.m3u8"]
    let mut tampered = parts.clone();
    // Change the first character of the signature (to one it surely is not).
    let first = if parts[5].starts_with('A') { "B" } else { "A" };
    let bad_sig = format!("{first}{}", &parts[5][1..]);
    tampered[5] = &bad_sig;
    let (status, _, text) = raw(&app, Method::GET, &tampered.join("/"), &[], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    let past = time::OffsetDateTime::now_utc().unix_timestamp() - 10;
    let signer = media::playback::url_signer(e2e::TEST_JWT_SECRET.as_bytes());
    let (asset_id, user_id) = (
        parts[2].parse().unwrap_or_else(|e| panic!("{e}")),
        parts[3].parse().unwrap_or_else(|e| panic!("{e}")),
    );
    let expired = format!(
        "/media/{}/{}/{past}/{}/master.m3u8",
        parts[2],
        parts[3],
        media::playback::sign(&signer, asset_id, user_id, past)
    );
    let (status, _, text) = raw(&app, Method::GET, &expired, &[], None).await;
    let problem: Value = serde_json::from_str(&text).unwrap_or_default();
    assert_problem(status, &problem, 403, "playback_url_invalid");
    app.stop().await;
}

/// Captions: SRT or WebVTT per language, refused when broken, offered as HLS subtitles.
async fn captions(app: &TestApp, asset: &str, curator: &str, parent: &str, master_url: &str, base: &str) {
    let put = |token: &str, lang: &str, body: &str| {
        let (path, auth, body) = (
            format!("/api/v1/assets/{asset}/captions/{lang}"),
            format!("Bearer {token}"),
            body.as_bytes().to_vec(),
        );
        async move {
            let (status, _, text) = raw(app, Method::PUT, &path, &[("authorization", &auth)], Some(body)).await;
            (status, serde_json::from_str::<Value>(&text).unwrap_or(Value::Null))
        }
    };
    let srt = "1\r\n00:00:00,200 --> 00:00:01,500\r\n孩子，我们聊聊\r\n\r\n2\r\n00:00:01,500 --> \
               00:00:02,000\r\n好的\r\n";
    let (status, body) = put(parent, "zh", srt).await;
    assert_problem(status, &body, 404, "asset_not_found");
    let (status, body) = put(curator, "zh", "这不是字幕，只是一段话。").await;
    assert_problem(status, &body, 422, "caption_invalid");
    let (status, body) = put(curator, "zh", "1\n00:00:01,000 --> 00:00:xx,000\n坏\n").await;
    assert_problem(status, &body, 422, "caption_invalid");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains('2')), "{body}");
    let (status, body) = put(curator, "中文", srt).await;
    assert_problem(status, &body, 422, "validation_failed");
    let (status, body) = put(curator, "zh", srt).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["label"].as_str(), body["cues"].as_i64()), (Some("中文"), Some(2)));
    let (status, list) = app
        .get(&format!("/api/v1/assets/{asset}/captions"), Some(curator))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");

    let (status, _, master) = raw(app, Method::GET, master_url, &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        master.contains("#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"中文\",LANGUAGE=\"zh\"")
            && master.contains("SUBTITLES=\"subs\"")
            && master.contains("240p/index.m3u8"),
        "{master}"
    );
    let (status, _, playlist) = raw(app, Method::GET, &format!("{base}subs/zh.m3u8"), &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        playlist.contains("zh.vtt") && playlist.contains("#EXT-X-ENDLIST"),
        "{playlist}"
    );
    let (status, headers, vtt) = raw(app, Method::GET, &format!("{base}subs/zh.vtt"), &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/vtt; charset=utf-8")
    );
    assert!(
        vtt.starts_with("WEBVTT\n") && vtt.contains("00:00:00.200 --> 00:00:01.500\n孩子，我们聊聊"),
        "{vtt}"
    );
    let (status, _, _) = raw(app, Method::GET, &format!("{base}subs/en.vtt"), &[], None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Replacing keeps one track; deleting removes it from the master playlist.
    let (status, body) = put(curator, "zh", "WEBVTT\n\n00:00.000 --> 00:01.000\n新版\n").await;
    assert_eq!((status, body["cues"].as_i64()), (StatusCode::OK, Some(1)), "{body}");
    let (_, _, vtt) = raw(app, Method::GET, &format!("{base}subs/zh.vtt"), &[], None).await;
    assert!(vtt.contains("新版") && !vtt.contains("孩子"), "{vtt}");
    let (status, _, _) = raw(
        app,
        Method::DELETE,
        &format!("/api/v1/assets/{asset}/captions/zh"),
        &[("authorization", &format!("Bearer {curator}"))],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, master) = raw(app, Method::GET, master_url, &[], None).await;
    assert!(!master.contains("SUBTITLES"), "{master}");
    // The browser test uploads captions again to check the player's toggle.
}

/// Study time: the union of played ranges, no credit for seeking ahead, never faster than twice
/// the wall clock across tabs, completion at 90 %, and "my learning" per course and term.
async fn study_time(backend: Backend) {
    let app = spawn(backend).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let province = app.org("浙江省妇联", "province", None).await;
    let other = app.org("江苏省妇联", "province", None).await;
    let curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
    let parent = app.user_with_role("13800000001", "parent", Some(&province)).await;
    let outsider = app.user_with_role("13800000002", "parent", Some(&other)).await;
    let bytes = std::fs::read(clip(dir.path(), 4, "320x180")).unwrap_or_default();
    let asset = upload(&app, &curator, "讲座.mp4", &bytes).await;
    let ready = settled(&app, &curator, &asset).await;
    let duration = ready["duration_s"].as_f64().unwrap_or(0.0);
    let (_, course) = app
        .post("/api/v1/courses", Some(&curator), json!({"title": "陪伴的力量", "age_stages": ["3-6"], "lessons": [{"title": "第一讲", "asset_id": asset, "duration_s": 4}, {"title": "第二讲（待上传）", "duration_s": 600}]}))
        .await;
    let course_id = course["id"].as_str().unwrap_or_default().to_owned();
    for to in ["in_review", "published"] {
        app.post(
            &format!("/api/v1/courses/{course_id}/transitions"),
            Some(&curator),
            json!({"to": to}),
        )
        .await;
    }
    let path = format!("/api/v1/assets/{asset}/progress");
    let report = |segments: Value, position: f64, session: &str| json!({"session_id": session, "segments": segments, "position_s": position});
    let (s1, s2) = (uuid::Uuid::now_v7().to_string(), uuid::Uuid::now_v7().to_string());

    // Bad reports.
    for (segments, field) in [
        (json!([[-1.0, 1.0]]), "segments[0]"),
        (json!([[2.0, 1.0]]), "segments[0]"),
        (json!([[0.0, 2.0], [1.0, 3.0]]), "segments[1]"),
        (json!([[0.0, duration + 30.0]]), "segments[0]"),
    ] {
        let (status, body) = app.post(&path, Some(&parent), report(segments, 0.0, &s1)).await;
        let body = assert_problem(status, &body, 422, "validation_failed");
        assert_eq!(body["errors"][0]["field"], field, "{body}");
    }
    let (status, _) = app
        .post(&path, Some(&outsider), report(json!([[0.0, 1.0]]), 1.0, &s1))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Playback starts the session; two tabs report at once: together they are credited at
    // most twice the time that has passed.
    let started = std::time::Instant::now();
    let (status, _) = app
        .get(&format!("/api/v1/assets/{asset}/playback"), Some(&parent))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, a) = app
        .post(
            &path,
            Some(&parent),
            report(json!([[0.0, duration / 2.0]]), duration / 2.0, &s1),
        )
        .await;
    let (_, b) = app
        .post(
            &path,
            Some(&parent),
            report(json!([[duration / 2.0, duration]]), duration, &s2),
        )
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let credited = a["credited_s"].as_f64().unwrap_or(0.0) + b["credited_s"].as_f64().unwrap_or(0.0);
    assert!(
        credited <= 2.0 * elapsed + 0.01,
        "credited {credited} s in {elapsed} s: {a} {b}"
    );
    let watched = b["watched_s"].as_f64().unwrap_or(-1.0);
    assert!(
        (watched - credited.min(duration)).abs() < 0.0015,
        "watched {watched} s is what was credited: {b}"
    );

    // Seeking to the end credits only what was played there.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let (_, seek) = app
        .post(
            &path,
            Some(&parent),
            report(json!([[duration - 0.5, duration]]), duration, &s1),
        )
        .await;
    assert!(seek["credited_s"].as_f64().unwrap_or(9.0) <= 0.5 + 1e-9, "{seek}");
    // Having watched it through (over enough wall time), it is complete; replays add nothing.
    let (_, full) = app
        .post(&path, Some(&parent), report(json!([[0.0, duration]]), 1.5, &s1))
        .await;
    assert_eq!(full["completed"], true, "{full}");
    assert!(
        (full["watched_s"].as_f64().unwrap_or(0.0) - duration).abs() < 0.01,
        "{full}"
    );
    let (_, again) = app
        .post(&path, Some(&parent), report(json!([[0.0, duration]]), 2.0, &s1))
        .await;
    assert_eq!(again["credited_s"], 0.0, "{again}");
    let (_, resume) = app.get(&path, Some(&parent)).await;
    assert_eq!(
        resume["position_s"], 2.0,
        "resume where the last report left off: {resume}"
    );

    let (status, learning) = app.get("/api/v1/me/learning", Some(&parent)).await;
    assert_eq!(status, StatusCode::OK, "{learning}");
    assert_eq!(learning["courses"][0]["title"], "陪伴的力量", "{learning}");
    assert_eq!(learning["courses"][0]["lessons_completed"], 1);
    // A parent's first week #9: the course's lessons all count, not only the watched ones.
    assert_eq!(learning["courses"][0]["lesson_count"], 2, "{learning}");
    assert!(
        (learning["total_s"].as_f64().unwrap_or(0.0) - duration).abs() < 0.01,
        "{learning}"
    );
    assert_eq!(
        learning["current_term"]["credited_s"], learning["total_s"],
        "{learning}"
    );
    assert!(
        learning["current_term"]["name"]
            .as_str()
            .is_some_and(|n| n.ends_with("学期"))
    );
    let (_, none) = app.get("/api/v1/me/learning", Some(&outsider)).await;
    assert_eq!(none["total_s"], 0.0);

    // Curators see their subtree's members with their study time; others may not look.
    let (status, report) = app
        .get(&format!("/api/v1/organizations/{province}/learning"), Some(&curator))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let members = report["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(members.len(), 1, "only parents and experts of the subtree: {report}");
    assert!(
        (members[0]["credited_s"].as_f64().unwrap_or(0.0) - duration).abs() < 0.01,
        "{report}"
    );
    assert_eq!(members[0]["lessons_completed"], 1);
    assert_eq!(members[0]["phone"], "138****0001");
    // The same report as CSV for Excel: BOM, Chinese header, masked phone, minutes.
    let (status, headers, csv) = raw(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{province}/learning.csv"),
        &[("authorization", &format!("Bearer {curator}"))],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    assert!(
        headers
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("attachment;")),
        "{headers:?}"
    );
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "\u{feff}姓名,手机号,所在组织,课程学习（分钟）,直播学习（分钟）,线下活动（分钟）,完成课时"
    );
    assert_eq!(
        lines[1],
        format!(
            "parent 13800000001,138****0001,浙江省妇联,{:.1},0.0,0.0,1",
            duration / 60.0
        )
    );
    assert_eq!(lines.len(), 3, "{csv}");
    let (status, _, _) = raw(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{province}/learning.csv"),
        &[("authorization", &format!("Bearer {parent}"))],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .get(&format!("/api/v1/organizations/{other}/learning"), Some(&curator))
        .await;
    assert_problem(status, &body, 403, "out_of_scope");
    let (status, _) = app
        .get(&format!("/api/v1/organizations/{province}/learning"), Some(&parent))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .get(
            &format!("/api/v1/organizations/{province}/learning?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z"),
            Some(&curator),
        )
        .await;
    assert_problem(status, &body, 422, "validation_failed");
    app.stop().await;
}

/// On S3, playlists come from the server and segments redirect to presigned store URLs, which
/// honour Range.
async fn playback_from_s3(backend: Backend) {
    let app = TestApp::spawn_with_s3(backend, |s| s.media.chunk_size_bytes = CHUNK).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let curator = app.user_with_role("13700000001", "curator", None).await;
    let bytes = std::fs::read(clip(dir.path(), 2, "426x240")).unwrap_or_default();
    let asset = upload(&app, &curator, "讲座.mp4", &bytes).await;
    assert_eq!(settled(&app, &curator, &asset).await["state"], "ready");
    let (_, pb) = app
        .get(&format!("/api/v1/assets/{asset}/playback"), Some(&curator))
        .await;
    let url = pb["url"].as_str().unwrap_or_default().to_owned();
    let (status, _, master) = raw(&app, Method::GET, &url, &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(master.contains("240p/index.m3u8"), "{master}");
    let seg = format!("{}240p/seg_00000.m4s", url.trim_end_matches("master.m3u8"));
    let (status, headers, _) = raw(&app, Method::GET, &seg, &[], None).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(location.contains("X-Amz-Signature"), "{location}");
    let res = reqwest::Client::new()
        .get(&location)
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.unwrap_or_default().len(), 100);
    app.stop().await;
}

/// Uploads left unfinished past `media.upload_ttl_hours` are removed with their chunks.
async fn abandoned_uploads(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.media.chunk_size_bytes = CHUNK;
        s.media.upload_ttl_hours = 0;
    })
    .await;
    let curator = app.user_with_role("13700000001", "curator", None).await;
    let (_, up) = app
        .post(
            "/api/v1/uploads",
            Some(&curator),
            json!({"filename": "半途而废.mp4", "size": CHUNK * 2}),
        )
        .await;
    let id = up["id"].as_str().unwrap_or_default().to_owned();
    let (status, _) = put_chunk(&app, &curator, &id, 0, vec![7u8; CHUNK as usize]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let handle = app.handle().await;
    assert_eq!(
        handle.store.list(&format!("uploads/{id}/")).await.map(|v| v.len()).ok(),
        Some(1)
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    let removed = handle.media.clean_up_uploads().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(removed >= 1);
    assert_eq!(
        handle.store.list(&format!("uploads/{id}/")).await.map(|v| v.len()).ok(),
        Some(0)
    );
    let (_, status_body) = app.get(&format!("/api/v1/uploads/{id}"), Some(&curator)).await;
    assert_eq!(status_body["state"], "aborted", "{status_body}");
    let (status, body) = put_chunk(&app, &curator, &id, 1, vec![7u8; CHUNK as usize]).await;
    assert_problem(status, &body, 409, "upload_closed");
    handle.db.close().await;
    app.stop().await;
}

/// A published course with one lesson on a fresh upload of `seconds`; returns the asset id and
/// its duration in seconds.
pub(crate) async fn published_lesson(app: &TestApp, curator: &str, dir: &Path, seconds: u32) -> (String, f64) {
    let (asset, duration, _) = published_course(app, curator, dir, seconds).await;
    (asset, duration)
}

/// [`published_lesson`], with the course's id too.
pub(crate) async fn published_course(app: &TestApp, curator: &str, dir: &Path, seconds: u32) -> (String, f64, String) {
    let bytes = std::fs::read(clip(dir, seconds, "320x180")).unwrap_or_default();
    let asset = upload(app, curator, "讲座.mp4", &bytes).await;
    let ready = settled(app, curator, &asset).await;
    assert_eq!(ready["state"], "ready", "{ready}");
    let (status, course) = app
        .post("/api/v1/courses", Some(curator), json!({"title": "陪伴的力量", "age_stages": ["3-6"], "lessons": [{"title": "第一讲", "asset_id": asset, "duration_s": seconds}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{course}");
    for to in ["in_review", "published"] {
        let (status, body) = app
            .post(
                &format!(
                    "/api/v1/courses/{}/transitions",
                    course["id"].as_str().unwrap_or_default()
                ),
                Some(curator),
                json!({"to": to}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let id = course["id"].as_str().unwrap_or_default().to_owned();
    (asset, ready["duration_s"].as_f64().unwrap_or(0.0), id)
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Trust #6: one wall-clock budget over recorded and live time. A parent with two lectures live
/// at once and a third paused, and a lesson playing in another tab, earns no more than the wall
/// clock allows: the two live lectures count once, the paused one not at all, and the lesson
/// gets nothing the lectures already took.
async fn live_and_recorded_share_one_budget(backend: Backend) {
    let app = spawn(backend).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let province = app.org("浙江省妇联", "province", None).await;
    let school = app.org("西湖小学", "school", Some(&province)).await;
    let curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
    let expert = app.user_with_role("13600000001", "expert", Some(&school)).await;
    let parent = app.user_with_role("13800000001", "parent", Some(&school)).await;
    let other = app.user_with_role("13800000002", "parent", Some(&school)).await;
    let (asset, duration) = published_lesson(&app, &curator, dir.path(), 4).await;
    let starts = (time::OffsetDateTime::now_utc() + time::Duration::days(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut occs = Vec::new();
    for title in ["讲座甲", "讲座乙", "讲座丙"] {
        let (status, created) = app
            .post(
                "/api/v1/live/series",
                Some(&expert),
                json!({"title": title, "rrule": "FREQ=WEEKLY;COUNT=1",
                "starts_at": starts, "duration_minutes": 45, "capacity": 100, "scope_org_id": school}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let occ: live_session::OccurrenceId = created["occurrences"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        occs.push(occ);
    }
    let id_of = |v: Value| -> platform::ids::UserId {
        v["id"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let user = id_of(app.get("/api/v1/me", Some(&parent)).await.1);
    let other_user = id_of(app.get("/api/v1/me", Some(&other)).await.1);

    // The lesson's playback opens the budget; the lectures began 20 s before.
    let (status, _) = app
        .get(&format!("/api/v1/assets/{asset}/playback"), Some(&parent))
        .await;
    assert_eq!(status, StatusCode::OK);
    let opened = now_ms();
    let handle = app.handle().await;
    let before = opened - 20_000;
    // The set-up the API cannot do without WebRTC publishers: two lectures live, one paused.
    for occ in &occs[..2] {
        platform::db_execute!(
            &handle.db,
            "UPDATE live_occurrences SET state = 'live', live_since = $2, went_live_at = $2 WHERE \
             id \
             = $1",
            *occ,
            before
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    platform::db_execute!(
        &handle.db,
        "UPDATE live_occurrences SET state = 'paused', live_ms = 5000, went_live_at = $2, \
         paused_at = $3 WHERE id = $1",
        occs[2],
        before,
        before + 5000
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let att = handle.live.attendance();
    for occ in &occs {
        att.join(
            *occ,
            user,
            live_session::sfu::SessionId::new(),
            platform::Timestamp(before),
        );
    }
    att.join(
        occs[2],
        other_user,
        live_session::sfu::SessionId::new(),
        platform::Timestamp(before),
    );
    tokio::time::sleep(Duration::from_millis(3000)).await;
    att.flush(platform::Timestamp(now_ms()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let path = format!("/api/v1/assets/{asset}/progress");
    let (status, lesson) = app
        .post(
            &path,
            Some(&parent),
            json!({"session_id": uuid::Uuid::now_v7(), "segments": [[0.0, duration]], "position_s": duration}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{lesson}");
    let wall = (now_ms() - opened) as f64 / 1000.0;
    let (_, learning) = app.get("/api/v1/me/learning", Some(&parent)).await;
    let live = learning["live_s"].as_f64().unwrap_or(-1.0);
    let recorded = lesson["credited_s"].as_f64().unwrap_or(-1.0);
    assert!(
        live > 0.0 && live <= wall + 0.01,
        "live {live} s in {wall} s of wall clock: {learning}"
    );
    assert!(
        recorded + 2.0 * live <= 2.0 * wall + 0.02,
        "recorded {recorded} s + live {live} s outran {wall} s: {learning}"
    );
    assert!(
        (learning["total_s"].as_f64().unwrap_or(-1.0) - (live + recorded)).abs() < 0.002,
        "{learning}"
    );
    let titles: Vec<&str> = learning["live"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        ["讲座甲"],
        "the second lecture at the same time and the paused one earn nothing: {learning}"
    );
    let (_, theirs) = app.get("/api/v1/me/learning", Some(&other)).await;
    assert_eq!(theirs["live_s"], 0.0, "a paused lecture earns nothing: {theirs}");

    // The lecture goes on, and the budget comes back at the wall clock's pace.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    att.flush(platform::Timestamp(now_ms()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let wall = (now_ms() - opened) as f64 / 1000.0;
    let (_, learning) = app.get("/api/v1/me/learning", Some(&parent)).await;
    let later = learning["live_s"].as_f64().unwrap_or(-1.0);
    assert!(
        later > live && later + recorded / 2.0 <= wall + 0.01,
        "live {later} s, recorded {recorded} s in {wall} s: {learning}"
    );
    handle.db.close().await;
    app.stop().await;
}

/// Trust #6, strict mode: recorded time is credited only for ranges whose segments this user's
/// playback URL fetched; a report of playback that never fetched anything earns nothing.
async fn strict_credit_needs_fetched_segments(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.media.chunk_size_bytes = CHUNK;
        s.media.strict_credit = true;
    })
    .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let province = app.org("浙江省妇联", "province", None).await;
    let curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
    let parent = app.user_with_role("13800000001", "parent", Some(&province)).await;
    let (asset, duration) = published_lesson(&app, &curator, dir.path(), 10).await;
    let (status, pb) = app
        .get(&format!("/api/v1/assets/{asset}/playback"), Some(&parent))
        .await;
    assert_eq!(status, StatusCode::OK, "{pb}");
    let base = pb["url"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches("master.m3u8")
        .to_owned();
    // Enough wall clock for the whole video at double speed: only the fetches limit the credit.
    tokio::time::sleep(Duration::from_millis((duration * 500.0) as u64 + 300)).await;
    let path = format!("/api/v1/assets/{asset}/progress");
    let report = |to: f64| json!({"session_id": uuid::Uuid::now_v7(), "segments": [[0.0, to]], "position_s": to});
    let (status, none) = app.post(&path, Some(&parent), report(duration)).await;
    assert_eq!(status, StatusCode::OK, "{none}");
    assert_eq!(none["credited_s"], 0.0, "nothing was fetched: {none}");

    // The first segment of one rendition (the player's playlist says how long it is).
    let (status, _, playlist) = raw(&app, Method::GET, &format!("{base}180p/index.m3u8"), &[], None).await;
    assert_eq!(status, StatusCode::OK, "{playlist}");
    let first: f64 = playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXTINF:"))
        .and_then(|d| d.trim_end_matches(',').parse().ok())
        .unwrap_or(0.0);
    assert!(first > 0.5 && first < duration - 1.0, "{playlist}");
    let (status, _, _) = raw(&app, Method::GET, &format!("{base}180p/seg_00000.m4s"), &[], None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, some) = app.post(&path, Some(&parent), report(duration)).await;
    assert!(
        (some["credited_s"].as_f64().unwrap_or(-1.0) - first).abs() < 0.01,
        "only the fetched {first} s: {some}"
    );
    // Another user's URL fetching the rest credits nothing to this one.
    let (_, theirs) = app
        .get(&format!("/api/v1/assets/{asset}/playback"), Some(&curator))
        .await;
    let their_base = theirs["url"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches("master.m3u8")
        .to_owned();
    let (status, _, _) = raw(&app, Method::GET, &format!("{their_base}180p/seg_00001.m4s"), &[], None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, again) = app.post(&path, Some(&parent), report(duration)).await;
    assert_eq!(again["credited_s"], 0.0, "{again}");
    app.stop().await;
}

/// A parent's first week #9: one video used in three courses counts in the course it was
/// watched in, not in all three; 继续学习 returns to that lesson, and a report without a lesson
/// (an older player) still counts everywhere, as before.
async fn one_video_in_three_courses(backend: Backend) {
    let app = spawn(backend).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let province = app.org("浙江省妇联", "province", None).await;
    let curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
    let parent = app.user_with_role("13800000001", "parent", Some(&province)).await;
    let other = app.user_with_role("13800000002", "parent", Some(&province)).await;
    let (asset, duration) = published_lesson(&app, &curator, dir.path(), 4).await;
    let mut courses = Vec::new();
    for title in ["亲子沟通", "情绪管理", "家校共育"] {
        let (status, c) = app
            .post("/api/v1/courses", Some(&curator), json!({"title": title, "age_stages": ["6-12"], "lessons": [{"title": "共用的一讲", "asset_id": asset, "duration_s": 4}, {"title": "第二讲", "duration_s": 600}]}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        let id = c["id"].as_str().unwrap_or_default().to_owned();
        for to in ["in_review", "published"] {
            app.post(
                &format!("/api/v1/courses/{id}/transitions"),
                Some(&curator),
                json!({"to": to}),
            )
            .await;
        }
        courses.push((id, c["lessons"][0]["id"].as_str().unwrap_or_default().to_owned()));
    }
    let path = format!("/api/v1/assets/{asset}/progress");
    app.get(&format!("/api/v1/assets/{asset}/playback"), Some(&parent))
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Half of it, on the second course's page.
    let (status, body) = app
        .post(&path, Some(&parent), json!({"session_id": uuid::Uuid::now_v7(), "segments": [[0.0, duration / 2.0]], "position_s": duration / 2.0, "lesson_id": courses[1].1}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, learning) = app.get("/api/v1/me/learning", Some(&parent)).await;
    let titles: Vec<&str> = learning["courses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["title"].as_str())
        .collect();
    assert_eq!(titles, ["情绪管理"], "only the course it was watched in: {learning}");
    assert_eq!(learning["courses"][0]["lesson_count"], 2, "{learning}");
    assert_eq!(learning["resume"]["course_id"], courses[1].0.as_str(), "{learning}");
    assert_eq!(learning["resume"]["lesson_id"], courses[1].1.as_str(), "{learning}");
    assert_eq!(learning["resume"]["position_s"], body["position_s"], "{learning}");
    // Study time is the asset's, counted once whichever page played it.
    let (_, again) = app
        .post(&path, Some(&parent), json!({"session_id": uuid::Uuid::now_v7(), "segments": [[0.0, duration / 2.0]], "position_s": duration / 2.0, "lesson_id": courses[2].1}))
        .await;
    assert_eq!(again["credited_s"], 0.0, "{again}");
    let (_, learning) = app.get("/api/v1/me/learning", Some(&parent)).await;
    let titles: Vec<&str> = learning["courses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["title"].as_str())
        .collect();
    assert_eq!(titles, ["家校共育", "情绪管理"], "the most recent first: {learning}");
    assert_eq!(learning["resume"]["course_id"], courses[2].0.as_str(), "{learning}");

    // Another parent's report with no lesson (an older player): every course using it.
    app.get(&format!("/api/v1/assets/{asset}/playback"), Some(&other)).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (status, _) = app
        .post(
            &path,
            Some(&other),
            json!({"session_id": uuid::Uuid::now_v7(), "segments": [[0.0, 1.0]], "position_s": 1.0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, theirs) = app.get("/api/v1/me/learning", Some(&other)).await;
    assert_eq!(theirs["courses"].as_array().map(Vec::len), Some(4), "{theirs}");
    assert!(theirs["resume"].is_null(), "no lesson to return to: {theirs}");
    app.stop().await;
}

/// A parent's first week #8: transcoding progress moves while it runs (stored at most once a
/// second, not only with the lease's heartbeat), never backwards, and ends at 100 with ready.
async fn transcoding_progress_moves(backend: Backend) {
    let app = spawn(backend).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let province = app.org("浙江省妇联", "province", None).await;
    let curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
    // Shorter to transcode than the lease's heartbeat (10 s), which alone used to store it.
    let bytes = std::fs::read(clip(dir.path(), 12, "960x540")).unwrap_or_default();
    let id = upload(&app, &curator, "讲座.mp4", &bytes).await;
    let mut seen = Vec::new();
    let ready = loop {
        let (_, asset) = app.get(&format!("/api/v1/assets/{id}"), Some(&curator)).await;
        if asset["state"] != "processing" {
            break asset;
        }
        seen.push(asset["progress"].as_i64().unwrap_or(-1));
        assert!(seen.len() < 3000, "still processing after 5 minutes: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (ready["state"].as_str(), ready["progress"].as_i64()),
        (Some("ready"), Some(100)),
        "{ready}"
    );
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "never backwards: {seen:?}");
    let between: std::collections::BTreeSet<i64> = seen.iter().copied().filter(|p| (3..100).contains(p)).collect();
    assert!(
        between.len() >= 2,
        "in-between values were shown while it ran: {seen:?}"
    );
    app.stop().await;
}

/// The course editor's video picker lists the caller's own transcoded uploads only, by file
/// name, the latest first, page by page.
async fn the_video_picker_lists_ones_own_uploads(backend: Backend) {
    let app = spawn(backend).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let province = app.org("浙江省妇联", "province", None).await;
    let curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
    let expert = app.user_with_role("13600000001", "expert", Some(&province)).await;
    let bytes = std::fs::read(clip(dir.path(), 2, "320x180")).unwrap_or_default();
    for (token, name) in [
        (&curator, "第一讲.mp4"),
        (&curator, "第二讲.mp4"),
        (&expert, "专家讲座.mp4"),
    ] {
        let id = upload(&app, token, name, &bytes).await;
        assert_eq!(settled(&app, token, &id).await["state"], "ready");
    }
    let names = |v: &Value| {
        v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["filename"].as_str().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    let (_, mine) = app.get("/api/v1/me/videos", Some(&curator)).await;
    assert_eq!(names(&mine), ["第二讲.mp4", "第一讲.mp4"], "{mine}");
    let (_, first) = app.get("/api/v1/me/videos?limit=1", Some(&curator)).await;
    let cursor = first["next_cursor"].as_str().unwrap_or_default().to_owned();
    let (_, second) = app
        .get(&format!("/api/v1/me/videos?limit=1&cursor={cursor}"), Some(&curator))
        .await;
    assert_eq!(
        (names(&first), names(&second)),
        (vec!["第二讲.mp4".to_owned()], vec!["第一讲.mp4".to_owned()])
    );
    let (_, found) = app.get("/api/v1/me/videos?q=%E4%B8%80", Some(&curator)).await;
    assert_eq!(names(&found), ["第一讲.mp4"], "{found}");
    let (_, theirs) = app.get("/api/v1/me/videos", Some(&expert)).await;
    assert_eq!(names(&theirs), ["专家讲座.mp4"], "{theirs}");
    app.stop().await;
}

e2e::on_both_databases!(
    broken_files_fail_with_reasons,
    media_rights_follow_the_catalog_scope,
    repeated_failures_are_reported,
    without_ffmpeg,
    playback,
    study_time,
    one_video_in_three_courses,
    transcoding_progress_moves,
    the_video_picker_lists_ones_own_uploads,
    live_and_recorded_share_one_budget,
    strict_credit_needs_fetched_segments,
    playback_from_s3,
    abandoned_uploads
);
