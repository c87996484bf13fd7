//! Live sessions II through the API: stream keys as WHIP Bearer tokens, ICE servers with TURN
//! REST credentials checked by a real coturn, reminders claimed once across nodes with an
//! `Idempotency-Key`, live HLS (signed playlist and pieces) and HLS heartbeats as attendance.
//! Media itself (recording, replay, the WebRTC limit, publisher replacement) is covered by the
//! WebRTC browser test.

use std::sync::Arc;
use std::time::Duration;

use e2e::{Backend, TestApp, assert_problem, both_databases, on_both_databases, raw};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A week or two ahead, Thursday 19:30 China time.
fn next_thursday() -> String {
    let now =
        time::OffsetDateTime::now_utc().to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC));
    let mut d = now.date() + time::Duration::days(7);
    while d.weekday() != time::Weekday::Thursday {
        d += time::Duration::days(1);
    }
    format!("{d}T19:30:00+08:00")
}

/// A series of `count` lectures by a new expert for a new school; returns (expert token,
/// school, occurrence ids).
async fn lectures(app: &TestApp, count: u32) -> (String, String, Vec<String>) {
    let province = app.org("浙江省妇联", "province", None).await;
    let school = app.org("西湖小学", "school", Some(&province)).await;
    let expert = app.user_with_role("13600000001", "expert", Some(&school)).await;
    let (status, created) = app
        .post(
            "/api/v1/live/series",
            Some(&expert),
            json!({"title": "青春期亲子沟通", "description": "每周四晚", "rrule": format!("FREQ=WEEKLY;COUNT={count}"),
                "starts_at": next_thursday(), "duration_minutes": 60, "capacity": 100, "scope_org_id": school}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let occs = created["occurrences"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| o["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    (expert, school, occs)
}

async fn whip(app: &TestApp, occ: &str, bearer: &str) -> (StatusCode, Value) {
    let auth = format!("Bearer {bearer}");
    let (status, _, text) = raw(
        app,
        Method::POST,
        &format!("/api/v1/live/occurrences/{occ}/whip"),
        &[("authorization", &auth), ("content-type", "application/sdp")],
        Some(b"not an offer".to_vec()),
    )
    .await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

both_databases! {
    async fn stream_keys_work_as_whip_bearer_tokens_until_revoked(app) {
        let (expert, school, occs) = lectures(app, 2).await;
        let parent = app.user_with_role("13800000001", "parent", Some(&school)).await;
        let (a, b) = (&occs[0], &occs[1]);
        let path = format!("/api/v1/live/occurrences/{a}/stream-key");

        // Only the expert (or an admin) gets one.
        let (status, body) = app.post(&path, Some(&parent), json!({})).await;
        assert_problem(status, &body, 403, "not_the_expert");
        let (status, key) = app.post(&path, Some(&expert), json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        let stream_key = key["stream_key"].as_str().unwrap_or_default().to_owned();
        assert!(stream_key.starts_with("psk_") && stream_key.len() > 40, "{key}");
        assert!(key["whip_url"].as_str().unwrap_or_default().ends_with(&format!("/api/v1/live/occurrences/{a}/whip")), "{key}");

        // The key is accepted as the Bearer token: the request gets as far as the SDP check.
        let (status, body) = whip(app, a, &stream_key).await;
        assert_problem(status, &body, 400, "sdp_invalid");
        // Not for another occurrence of the same series.
        let (status, body) = whip(app, b, &stream_key).await;
        assert_problem(status, &body, 403, "stream_key_other_occurrence");

        // A new key replaces the old one at once.
        let (_, again) = app.post(&path, Some(&expert), json!({})).await;
        let new_key = again["stream_key"].as_str().unwrap_or_default().to_owned();
        assert_ne!(new_key, stream_key);
        let (status, body) = whip(app, a, &stream_key).await;
        assert_problem(status, &body, 401, "stream_key_invalid");
        let (status, body) = whip(app, a, &new_key).await;
        assert_problem(status, &body, 400, "sdp_invalid");

        // Revoked: refused; revoking twice says there is none.
        let (status, _) = app.call(Method::DELETE, &path, Some(&expert), Value::Null).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = whip(app, a, &new_key).await;
        assert_problem(status, &body, 401, "stream_key_invalid");
        let (status, body) = app.call(Method::DELETE, &path, Some(&expert), Value::Null).await;
        assert_problem(status, &body, 404, "stream_key_not_found");
        // A stream key cannot stop someone else's session either.
        let auth = format!("Bearer {new_key}");
        let (status, _, text) = raw(app, Method::DELETE, &format!("/api/v1/live/occurrences/{a}/whip/01a22750-0000-7000-8000-000000000000"),
            &[("authorization", &auth)], None).await;
        assert_problem(status, &serde_json::from_str(&text).unwrap_or(Value::Null), 401, "stream_key_invalid");

        // An ended lecture gets no key; the occurrence shows neither replay nor HLS yet.
        let (status, _) = app.post(&format!("/api/v1/live/occurrences/{b}/end"), Some(&expert), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = app.post(&format!("/api/v1/live/occurrences/{b}/stream-key"), Some(&expert), json!({})).await;
        assert_problem(status, &body, 409, "occurrence_ended");
        let (_, occ) = app.get(&format!("/api/v1/live/occurrences/{a}"), Some(&expert)).await;
        assert!(occ["replay"].is_null() && occ["hls_url"].is_null(), "{occ}");
    }

    async fn live_hls_and_its_heartbeats_count_as_attendance(app) {
        let (expert, school, occs) = lectures(app, 1).await;
        let occ = &occs[0];
        let parent = app.user_with_role("13800000001", "parent", Some(&school)).await;
        let stranger = app.user_with_role("13800000002", "parent", Some(&school)).await;
        let (status, _) = app.post(&format!("/api/v1/live/occurrences/{occ}/enrolments"), Some(&parent), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let beats = format!("/api/v1/live/occurrences/{occ}/hls-heartbeats");

        // Not live: no heartbeats.
        let (status, body) = app.post(&beats, Some(&parent), json!({})).await;
        assert_problem(status, &body, 409, "not_live");

        // Live, with two recorded pieces of two runs in the store (as the recorder leaves them).
        let handle = app.handle().await;
        let id: live_session::OccurrenceId = occ.parse().unwrap_or_else(|e| panic!("{e}"));
        let now = platform::Timestamp(time::OffsetDateTime::now_utc().unix_timestamp() * 1000);
        platform::db_execute!(&handle.db, "UPDATE live_occurrences SET state = 'live', live_since = $2, went_live_at = $2 WHERE \
                                           id \
                                           = $1", id, now)
            .unwrap_or_else(|e| panic!("{e}"));
        platform::db_execute!(&handle.db, "INSERT INTO live_recordings (occurrence_id, state, runs, created_at, updated_at) \
                                           VALUES \
                                           ($1, 'recording', 2, $2, $2)", id, now)
            .unwrap_or_else(|e| panic!("{e}"));
        for (seq, run) in [(1, 1), (2, 2)] {
            platform::db_execute!(&handle.db, "INSERT INTO live_segments (occurrence_id, seq, run, duration_ms, started_at, \
                                               created_at) VALUES ($1, $2, $3, 2000, $4, $4)",
                id, seq, run, now).unwrap_or_else(|e| panic!("{e}"));
        }
        handle.store.put_bytes(&format!("live/{occ}/2/2.m4s"), bytes::Bytes::from_static(b"piece two")).await.unwrap_or_else(|e| panic!("{e}"));

        // The parent's occurrence has a signed live playlist; a stranger's does not.
        let (_, view) = app.get(&format!("/api/v1/live/occurrences/{occ}"), Some(&parent)).await;
        let hls = view["hls_url"].as_str().unwrap_or_else(|| panic!("no hls_url in {view}")).to_owned();
        let (_, other) = app.get(&format!("/api/v1/live/occurrences/{occ}"), Some(&stranger)).await;
        assert!(other["hls_url"].is_null(), "{other}");
        let (status, headers, playlist) = raw(app, Method::GET, &hls, &[], None).await;
        assert_eq!(status, StatusCode::OK, "{playlist}");
        assert_eq!(headers["content-type"], "application/vnd.apple.mpegurl");
        assert_eq!(headers["cache-control"], "public, max-age=1");
        assert!(playlist.contains("#EXT-X-MAP:URI=\"1/init.mp4\"\n#EXTINF:2.000,\n1/1.m4s\n#EXT-X-DISCONTINUITY\n\
                                   #EXT-X-MAP:URI=\"2/init.mp4\"\n#EXTINF:2.000,\n2/2.m4s"), "{playlist}");
        assert!(!playlist.contains("ENDLIST"));
        let base = hls.trim_end_matches("index.m3u8");
        let (status, headers, body) = raw(app, Method::GET, &format!("{base}2/2.m4s"), &[], None).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "piece two"));
        assert!(headers["cache-control"].to_str().unwrap_or_default().contains("immutable"));
        let (status, _, _) = raw(app, Method::GET, &format!("{base}1/1.m4s"), &[], None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = raw(app, Method::GET, &format!("{base}2/..%2F..%2Fsecret"), &[], None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // A tampered signature is refused.
        let (status, _, _) = raw(app, Method::GET, &hls.replacen("/index.m3u8", "x/index.m3u8", 1), &[], None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Heartbeats: only people who may watch; the first opens a session, the last closes it.
        let (status, body) = app.post(&beats, Some(&stranger), json!({})).await;
        assert_problem(status, &body, 404, "occurrence_not_found");
        let (status, first) = app.post(&beats, Some(&parent), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        assert_eq!(first["interval_s"], 10);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (_, again) = app.post(&beats, Some(&parent), json!({"session": first["session"]})).await;
        assert_eq!(again["session"], first["session"]);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (status, _) = app.post(&beats, Some(&parent), json!({"session": first["session"], "leaving": true})).await;
        assert_eq!(status, StatusCode::OK);

        // The report counts about three seconds for the parent (flushed within a few seconds).
        let mut minutes = 0.0;
        for _ in 0..40 {
            let (_, report) = app.get(&format!("/api/v1/live/occurrences/{occ}/attendance"), Some(&expert)).await;
            let row = report["people"].as_array().into_iter().flatten().find(|p| p["phone"] == "138****0001").cloned().unwrap_or_default();
            minutes = row["minutes"].as_f64().unwrap_or(0.0);
            if minutes > 0.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!((0.05..=0.1).contains(&minutes), "{minutes}");

        // Ended: the playlist is closed, heartbeats are refused.
        let (status, _) = app.post(&format!("/api/v1/live/occurrences/{occ}/end"), Some(&expert), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let (_, _, playlist) = raw(app, Method::GET, &hls, &[], None).await;
        for _ in 0..10 {
            if playlist.contains("#EXT-X-ENDLIST") { break; }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let (_, _, playlist) = raw(app, Method::GET, &hls, &[], None).await;
        assert!(playlist.ends_with("#EXT-X-ENDLIST\n"), "{playlist}");
        let (status, body) = app.post(&beats, Some(&parent), json!({})).await;
        assert_problem(status, &body, 409, "not_live");
        handle.db.close().await;
    }
}

/// A real coturn (Debian package `coturn`) on loopback with TURN REST auth; stopped on drop.
struct Coturn {
    port: u16,
    child: std::process::Child,
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Coturn {
    fn start(secret: &str) -> Self {
        let port = 30_000 + rand::random::<u16>() % 20_000;
        let relay = 40_000 + rand::random::<u16>() % 20_000;
        let child = std::process::Command::new("turnserver")
            .args([
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                &format!("--listening-port={port}"),
                &format!("--min-port={relay}"),
                &format!("--max-port={}", relay + 50),
                "--use-auth-secret",
                &format!("--static-auth-secret={secret}"),
                "--realm=parentschool",
                "--no-tls",
                "--no-dtls",
                "--no-cli",
                "--allow-loopback-peers",
                "--no-stdout-log",
                "--log-file=/dev/null",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("coturn (turnserver) is required for the TURN test: {e}"));
        std::thread::sleep(Duration::from_millis(700));
        Self { port, child }
    }

    /// Whether coturn allocates a relay with these credentials and relays through it.
    fn accepts(&self, username: &str, credential: &str) -> bool {
        std::process::Command::new("turnutils_uclient")
            .args([
                "-y",
                "-n",
                "2",
                "-u",
                username,
                "-w",
                credential,
                "-p",
                &self.port.to_string(),
                "127.0.0.1",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("turnutils_uclient (coturn) is required: {e}"))
            .success()
    }
}

async fn turn_credentials_are_accepted_by_coturn(backend: Backend) {
    let secret = format!("test-secret-{}", rand::random::<u64>());
    let coturn = Coturn::start(&secret);
    let turn_url = format!("turn:127.0.0.1:{}?transport=udp", coturn.port);
    let app = TestApp::spawn_with(backend, |s| {
        s.live.stun_urls = vec!["stun:127.0.0.1:3478".into()];
        s.live.turn_urls = vec![turn_url.clone()];
        s.live.turn_secret = Some(platform::config::Secret::new(secret.clone()));
        s.live.turn_credential_seconds = 600;
    })
    .await;
    let (status, body) = app.get("/api/v1/live/ice-servers", None).await;
    assert_problem(status, &body, 401, "unauthenticated");
    // A fresh account gets STUN but no relay until it may watch a lecture.
    let (_, school, occs) = lectures(&app, 1).await;
    let parent = app.user_with_role("13800000001", "parent", Some(&school)).await;
    let (status, ice) = app.get("/api/v1/live/ice-servers", Some(&parent)).await;
    assert_eq!(status, StatusCode::OK, "{ice}");
    assert_eq!(
        ice["ice_servers"],
        json!([{"urls": ["stun:127.0.0.1:3478"]}]),
        "no TURN before enrolling"
    );
    let (status, seat) = app
        .post(
            &format!("/api/v1/live/occurrences/{}/enrolments", occs[0]),
            Some(&parent),
            json!({}),
        )
        .await;
    assert!(status.is_success(), "{seat}");
    let (status, ice) = app.get("/api/v1/live/ice-servers", Some(&parent)).await;
    assert_eq!(status, StatusCode::OK, "{ice}");
    assert_eq!(ice["ice_servers"][0], json!({"urls": ["stun:127.0.0.1:3478"]}));
    let turn = &ice["ice_servers"][1];
    assert_eq!(turn["urls"], json!([turn_url]));
    let (username, credential) = (
        turn["username"].as_str().unwrap_or_default(),
        turn["credential"].as_str().unwrap_or_default(),
    );
    // `<expiry>:<user id>`, ten minutes ahead.
    let (expiry, _) = username.split_once(':').unwrap_or_else(|| panic!("{username}"));
    let left = expiry.parse::<i64>().unwrap_or(0) - time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((590..=600).contains(&left), "{left}");
    assert!(coturn.accepts(username, credential), "coturn refused the credentials");
    // A tampered password, or the credentials of another username, are refused.
    assert!(!coturn.accepts(username, &format!("x{credential}")));
    assert!(!coturn.accepts(&format!("{expiry}:someone-else"), credential));
    app.stop().await;
}

/// A parent's first week #13: staff stop a series from the studio. Its future lectures are
/// cancelled and everyone with a seat or a waitlist place is told once; only those who manage
/// the series may; a date dropped by an edit is cancelled and told the same way. The series'
/// age stages are checked and kept (its replay course gets them).
async fn a_stopped_series_tells_its_parents(backend: Backend) {
    let (hook, seen) = e2e::gateway().await;
    let app = TestApp::spawn_with(backend, |s| s.live.notify_webhook_url = Some(hook.clone())).await;
    let province = app.org("浙江省妇联", "province", None).await;
    let school = app.org("西湖小学", "school", Some(&province)).await;
    let expert = app.user_with_role("13600000001", "expert", Some(&school)).await;
    let other_expert = app.user_with_role("13600000002", "expert", Some(&school)).await;
    let body = |stages: Value| {
        json!({"title": "青春期亲子沟通", "rrule": "FREQ=WEEKLY;COUNT=3", "starts_at": next_thursday(),
        "duration_minutes": 60, "capacity": 1, "scope_org_id": school, "age_stages": stages})
    };
    let (status, problem) = app
        .post("/api/v1/live/series", Some(&expert), body(json!(["teen"])))
        .await;
    let problem = assert_problem(status, &problem, 422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "age_stages", "{problem}");
    let (status, series) = app
        .post("/api/v1/live/series", Some(&expert), body(json!(["15-18", "12-15"])))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{series}");
    assert_eq!(series["age_stages"], json!(["12-15", "15-18"]), "{series}");
    let id = series["id"].as_str().unwrap_or_default().to_owned();
    let occ = |i: usize| series["occurrences"][i]["id"].as_str().unwrap_or_default().to_owned();
    let a = app.user_with_role("13800000001", "parent", Some(&school)).await;
    let b = app.user_with_role("13800000002", "parent", Some(&school)).await;
    for p in [&a, &b] {
        for i in [0, 2] {
            let (status, e) = app
                .post(
                    &format!("/api/v1/live/occurrences/{}/enrolments", occ(i)),
                    Some(p),
                    json!({}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{e}");
        }
    }
    // An edit that drops the last date cancels it and tells both (seat and waitlist).
    let (status, edited) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/live/series/{id}"),
            Some(&expert),
            json!({"version": series["version"], "rrule": "FREQ=WEEKLY;COUNT=2"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(
        edited["age_stages"],
        json!(["12-15", "15-18"]),
        "an edit keeps the stages: {edited}"
    );
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/live/series/{id}"),
            Some(&other_expert),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not theirs to stop");
    let (status, stopped) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/live/series/{id}"),
            Some(&expert),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    let states: Vec<&str> = stopped["occurrences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["state"].as_str())
        .collect();
    assert_eq!(states, ["cancelled"; 3], "{stopped}");
    let (_, schedule) = app.get("/api/v1/live/occurrences", Some(&a)).await;
    assert_eq!(schedule.as_array().map(Vec::len), Some(0), "{schedule}");
    // Stopping again tells no one twice.
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/live/series/{id}"),
            Some(&expert),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..40 {
        if seen.lock().unwrap_or_else(|p| p.into_inner()).len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut told: Vec<(String, String)> = got
        .iter()
        .map(|(_, n)| {
            (
                n["occurrence_id"].as_str().unwrap_or_default().to_owned(),
                n["phone"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    told.sort();
    let mut want = vec![
        (occ(0), "+8613800000001".to_owned()),
        (occ(0), "+8613800000002".to_owned()),
        (occ(2), "+8613800000001".to_owned()),
        (occ(2), "+8613800000002".to_owned()),
    ];
    want.sort();
    assert_eq!(told, want, "{got:?}");
    assert!(
        got.iter()
            .all(|(_, n)| n["kind"] == "cancelled" && n["text"].as_str().is_some_and(|t| t.contains("已取消"))),
        "{got:?}"
    );
    app.stop().await;
}

/// Reminders: due ones are claimed in the database and posted once to the gateway with an
/// `Idempotency-Key`, however many nodes look.
async fn reminders_are_sent_once(backend: Backend) {
    let (hook, seen) = e2e::gateway().await;
    let app = TestApp::spawn_with(backend, |s| {
        s.live.notify_webhook_url = Some(hook.clone());
        s.live.reminder_check_seconds = 1;
    })
    .await;
    let (_, school, occs) = lectures(&app, 1).await;
    let occ = &occs[0];
    let parent = app.user_with_role("13800000001", "parent", Some(&school)).await;
    let (status, _) = app
        .post(
            &format!("/api/v1/live/occurrences/{occ}/enrolments"),
            Some(&parent),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The lecture now starts in 20 minutes: the 30-minute reminder is due (not the day-before one).
    let handle = app.handle().await;
    let id: live_session::OccurrenceId = occ.parse().unwrap_or_else(|e| panic!("{e}"));
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    platform::db_execute!(
        &handle.db,
        "UPDATE live_occurrences SET starts_at = $2, ends_at = $3 WHERE id = $1",
        id,
        now + 20 * 60_000,
        now + 80 * 60_000
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..40 {
        if !seen.lock().unwrap_or_else(|p| p.into_inner()).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Another node sweeping at the same time finds nothing left to send.
    let other = handle.live.clone().with_notifier(Arc::new(
        live_session::WebhookNotifier::new(hook.clone()).unwrap_or_else(|e| panic!("{e}")),
    ));
    assert_eq!(other.sweep_reminders().await.unwrap_or_else(|e| panic!("{e}")), 0);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let (key, body) = &got[0];
    assert_eq!(body["id"], key.as_str());
    assert_eq!(body["kind"], "reminder");
    assert_eq!(body["minutes_before"], 30);
    assert_eq!(body["phone"], "+8613800000001");
    assert_eq!(body["occurrence_id"], occ.as_str());
    assert!(
        body["text"].as_str().unwrap_or_default().contains("青春期亲子沟通"),
        "{body}"
    );
    assert!(
        body["url"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&format!("/live/{occ}")),
        "{body}"
    );
    handle.db.close().await;
    app.stop().await;
}

on_both_databases!(
    turn_credentials_are_accepted_by_coturn,
    reminders_are_sent_once,
    a_stopped_series_tells_its_parents
);
