//! Live sessions: series and occurrences, enrolment with a waitlist, the calendar feed, the live
//! state, WHIP/WHEP refusals and attendance reports (media itself is covered by the browser
//! test).

use e2e::{TestApp, assert_problem, both_databases, raw};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Next week's Thursday 19:30 in China time, as RFC 3339.
fn next_thursday() -> String {
    let now =
        time::OffsetDateTime::now_utc().to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC));
    let mut d = now.date() + time::Duration::days(7);
    while d.weekday() != time::Weekday::Thursday {
        d += time::Duration::days(1);
    }
    format!("{d}T19:30:00+08:00")
}

async fn me(app: &TestApp, token: &str) -> String {
    let (_, me) = app.get("/api/v1/me", Some(token)).await;
    me["id"].as_str().unwrap_or_default().to_owned()
}

async fn sdp_post(app: &TestApp, path: &str, token: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let auth = format!("Bearer {token}");
    let (status, _, text) = raw(
        app,
        Method::POST,
        path,
        &[("authorization", &auth), ("content-type", content_type)],
        Some(body),
    )
    .await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A busy platform: other schools' lectures fill the period, and a parent still sees their own
/// school's lecture (the audience is filtered before the schedule's limit).
async fn the_schedule_filters_before_its_limit(backend: e2e::Backend) {
    let app = &TestApp::spawn(backend).await;
    let fmt = |days: i64| {
        let d = time::OffsetDateTime::now_utc()
            .to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC))
            .date()
            + time::Duration::days(days);
        format!("{d}T19:30:00+08:00")
    };
    let province = app.org("浙江省妇联", "province", None).await;
    let busy = app.org("别的小学", "school", Some(&province)).await;
    let ours = app.org("新凤小学", "school", Some(&province)).await;
    let busy_expert = app.user_with_role("13600000001", "expert", Some(&busy)).await;
    for n in 0..6 {
        let (status, body) = app
            .post(
                "/api/v1/live/series",
                Some(&busy_expert),
                json!({"title": format!("每日课堂 {n}"), "rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;COUNT=100",
                "starts_at": fmt(1), "duration_minutes": 30, "capacity": 100, "scope_org_id": busy}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let expert = app.user_with_role("13600000002", "expert", Some(&ours)).await;
    let (status, body) = app
        .post(
            "/api/v1/live/series",
            Some(&expert),
            json!({"title": "期末家长课", "rrule": "FREQ=WEEKLY;COUNT=1",
            "starts_at": fmt(120), "duration_minutes": 60, "capacity": 100, "scope_org_id": ours}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let parent = app.user_with_role("13800000001", "parent", Some(&ours)).await;
    let now = time::OffsetDateTime::now_utc();
    let rfc = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let path = format!(
        "/api/v1/live/occurrences?from={}&to={}",
        rfc(now),
        rfc(now + time::Duration::days(179))
    );
    let (status, list) = app.get(&path, Some(&parent)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let titles: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["title"].as_str())
        .collect();
    assert_eq!(titles, ["期末家长课"], "only and surely the parent's own lecture");
    // The busy school's staff see theirs, up to the limit.
    let (_, theirs) = app.get(&path, Some(&busy_expert)).await;
    assert_eq!(theirs.as_array().map(Vec::len), Some(500));
}

both_databases! {
    async fn series_enrolment_waitlist_and_calendar(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let school = app.org("西湖小学", "school", Some(&province)).await;
        let class = app.org("三年级二班", "class", Some(&school)).await;
        let elsewhere = app.org("江苏省妇联", "province", None).await;
        let expert = app.user_with_role("13600000001", "expert", Some(&school)).await;
        let curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
        let parents = [
            app.user_with_role("13800000001", "parent", Some(&class)).await,
            app.user_with_role("13800000002", "parent", Some(&class)).await,
            app.user_with_role("13800000003", "parent", Some(&school)).await,
            app.user_with_role("13800000004", "parent", Some(&school)).await,
        ];
        let outsider = app.user_with_role("13800000009", "parent", Some(&elsewhere)).await;
        let start = next_thursday();
        let series = json!({"title": "青春期亲子沟通", "description": "每周四晚", "rrule": "FREQ=WEEKLY;BYDAY=TH;COUNT=3",
            "starts_at": start, "duration_minutes": 60, "capacity": 2, "scope_org_id": school});

        // Bad series: each with a clear answer.
        for (patch, code) in [
            (json!({"rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;UNTIL=20301231"}), "validation_failed"),
            (json!({"rrule": "FREQ=DAILY;COUNT=3"}), "validation_failed"),
            (json!({"rrule": "FREQ=WEEKLY;BYDAY=TH,FR;COUNT=4", "duration_minutes": 1500}), "validation_failed"),
            (json!({"capacity": 0}), "validation_failed"),
        ] {
            let mut body = series.clone();
            for (k, v) in patch.as_object().into_iter().flatten() {
                body[k] = v.clone();
            }
            let (status, problem) = app.post("/api/v1/live/series", Some(&expert), body).await;
            assert_problem(status, &problem, 422, code);
        }
        let (status, problem) = app.post("/api/v1/live/series", Some(&parents[0]), series.clone()).await;
        assert_problem(status, &problem, 403, "forbidden_role");
        let (status, problem) = app.post("/api/v1/live/series", Some(&curator), series.clone()).await;
        assert_problem(status, &problem, 422, "validation_failed");

        let (status, created) = app.post("/api/v1/live/series", Some(&expert), series.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let occs = created["occurrences"].as_array().cloned().unwrap_or_default();
        assert_eq!(occs.len(), 3, "{created}");
        assert_eq!(occs[0]["starts_at"].as_str().map(|s| s.replace(".000", "")), Some(
            time::OffsetDateTime::parse(&start, &time::format_description::well_known::Rfc3339)
                .map(|t| t.to_offset(time::UtcOffset::UTC).format(&time::format_description::well_known::Rfc3339).unwrap_or_default())
                .unwrap_or_default()
        ));
        assert!(occs.iter().all(|o| o["state"] == "scheduled"));
        let occ = occs[0]["id"].as_str().unwrap_or_default().to_owned();
        let enrol = format!("/api/v1/live/occurrences/{occ}/enrolments");

        // Two seats, then a waitlist in order; double enrolment and outsiders are refused.
        let (_, a) = app.post(&enrol, Some(&parents[0]), json!({})).await;
        assert_eq!((a["state"].as_str(), a["waitlist_position"].as_i64()), (Some("enrolled"), None), "{a}");
        let (_, b) = app.post(&enrol, Some(&parents[1]), json!({})).await;
        assert_eq!(b["state"], "enrolled");
        let (_, c) = app.post(&enrol, Some(&parents[2]), json!({})).await;
        assert_eq!((c["state"].as_str(), c["waitlist_position"].as_i64()), (Some("waitlisted"), Some(1)), "{c}");
        let (_, d) = app.post(&enrol, Some(&parents[3]), json!({})).await;
        assert_eq!(d["waitlist_position"], 2);
        let (status, problem) = app.post(&enrol, Some(&parents[0]), json!({})).await;
        assert_problem(status, &problem, 409, "already_enrolled");
        let (status, problem) = app.post(&enrol, Some(&outsider), json!({})).await;
        assert_problem(status, &problem, 403, "out_of_scope");
        let (status, problem) = app.post(&enrol, Some(&parents[0]), json!({"class_id": class})).await;
        assert_problem(status, &problem, 403, "forbidden_role");

        // A cancellation promotes the first in line.
        let (status, _) = app.call(Method::DELETE, &format!("{enrol}/me"), Some(&parents[0]), Value::Null).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, view) = app.get(&format!("/api/v1/live/occurrences/{occ}"), Some(&parents[2])).await;
        assert_eq!(view["my_enrolment"]["state"], "enrolled", "{view}");
        assert_eq!((view["enrolled"].as_i64(), view["waitlisted"].as_i64()), (Some(2), Some(1)));
        let (_, view) = app.get(&format!("/api/v1/live/occurrences/{occ}"), Some(&parents[3])).await;
        assert_eq!(view["my_enrolment"]["waitlist_position"], 1, "{view}");
        let (status, problem) = app.call(Method::DELETE, &format!("{enrol}/me"), Some(&parents[0]), Value::Null).await;
        assert_problem(status, &problem, 404, "enrolment_not_found");
        let (status, _) = app.get(&format!("/api/v1/live/occurrences/{occ}"), Some(&outsider)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // A curator enrols a whole class in the second occurrence; the expert sees the list.
        let occ2 = occs[1]["id"].as_str().unwrap_or_default().to_owned();
        let (status, res) = app.post(&format!("/api/v1/live/occurrences/{occ2}/enrolments"), Some(&curator), json!({"class_id": class})).await;
        assert_eq!(status, StatusCode::OK, "{res}");
        assert_eq!(res["results"].as_array().map(Vec::len), Some(2), "{res}");
        let outsider_id = me(app, &outsider).await;
        let (_, res) = app.post(&format!("/api/v1/live/occurrences/{occ2}/enrolments"), Some(&curator), json!({"user_ids": [outsider_id]})).await;
        assert_eq!(res["skipped_out_of_scope"].as_array().map(Vec::len), Some(1), "{res}");
        let (_, list) = app.get(&format!("/api/v1/live/occurrences/{occ2}/enrolments"), Some(&expert)).await;
        assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");

        // The whole series: every occurrence, and the schedule shows them as mine.
        let series_id = created["id"].as_str().unwrap_or_default().to_owned();
        let (status, all) = app.post(&format!("/api/v1/live/series/{series_id}/enrolments"), Some(&parents[3]), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{all}");
        assert_eq!(all["occurrences"].as_array().map(Vec::len), Some(3), "{all}");
        let (_, mine) = app.get("/api/v1/live/occurrences?mine=true", Some(&parents[3])).await;
        assert_eq!(mine.as_array().map(Vec::len), Some(3), "{mine}");
        let (_, none) = app.get("/api/v1/live/occurrences", Some(&outsider)).await;
        assert_eq!(none.as_array().map(Vec::len), Some(0), "{none}");

        // The calendar feed under a secret URL.
        let (_, link) = app.get("/api/v1/live/calendar", Some(&parents[2])).await;
        let url = link["url"].as_str().unwrap_or_default().to_owned();
        let (status, headers, ics) = raw(app, Method::GET, &url, &[], None).await;
        assert_eq!(status, StatusCode::OK, "{ics}");
        assert!(headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/calendar")));
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.contains(&format!("UID:{occ}@parentschool")) && ics.contains("SUMMARY:直播：青春期亲子沟通"), "{ics}");
        let (status, _, _) = raw(app, Method::GET, &url.replace(".ics", "x.ics"), &[], None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Editing: one occurrence fewer; the dropped future one is cancelled, enrolments kept.
        let (status, edited) = app.call(Method::PATCH, &format!("/api/v1/live/series/{series_id}"), Some(&expert),
            json!({"version": 1, "rrule": "FREQ=WEEKLY;BYDAY=TH;COUNT=2", "capacity": 3})).await;
        assert_eq!(status, StatusCode::OK, "{edited}");
        let states: Vec<&str> = edited["occurrences"].as_array().into_iter().flatten().filter_map(|o| o["state"].as_str()).collect();
        assert_eq!(states, ["scheduled", "scheduled", "cancelled"], "{edited}");
        // The larger capacity promotes the waitlist.
        let (_, view) = app.get(&format!("/api/v1/live/occurrences/{occ}"), Some(&parents[3])).await;
        assert_eq!(view["my_enrolment"]["state"], "enrolled", "{view}");
        let (status, problem) = app.call(Method::PATCH, &format!("/api/v1/live/series/{series_id}"), Some(&expert), json!({"version": 1, "title": "旧版本"})).await;
        assert_problem(status, &problem, 409, "version_conflict");
    }

    async fn live_state_whip_whep_refusals_and_reports(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let school = app.org("西湖小学", "school", Some(&province)).await;
        let other_school = app.org("上城小学", "school", Some(&province)).await;
        let expert = app.user_with_role("13600000001", "expert", Some(&school)).await;
        let other_expert = app.user_with_role("13600000002", "expert", Some(&school)).await;
        let admin = app.user_with_role("13700000009", "admin", None).await;
        let parent = app.user_with_role("13800000001", "parent", Some(&school)).await;
        let stranger = app.user_with_role("13800000002", "parent", Some(&school)).await;
        let (_, created) = app.post("/api/v1/live/series", Some(&expert), json!({"title": "安全教育", "rrule": "FREQ=WEEKLY;COUNT=2",
            "starts_at": next_thursday(), "duration_minutes": 45, "capacity": 100, "scope_org_id": school})).await;
        let occ = created["occurrences"][0]["id"].as_str().unwrap_or_default().to_owned();
        let occ2 = created["occurrences"][1]["id"].as_str().unwrap_or_default().to_owned();
        app.post(&format!("/api/v1/live/occurrences/{occ}/enrolments"), Some(&parent), json!({})).await;
        let whip = format!("/api/v1/live/occurrences/{occ}/whip");
        let whep = format!("/api/v1/live/occurrences/{occ}/whep");
        let offer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
                     a=rtpmap:96 VP8/90000\r\n";

        // Before going live: viewers are told it has not started.
        let (status, problem) = sdp_post(app, &whep, &parent, "application/sdp", offer.into()).await;
        assert_problem(status, &problem, 409, "not_live_yet");
        let (status, problem) = sdp_post(app, &whep, &stranger, "application/sdp", offer.into()).await;
        assert_problem(status, &problem, 403, "not_enrolled");
        // Publishing: only the series' expert; hostile SDP is refused before any WebRTC work.
        let (status, problem) = sdp_post(app, &whip, &parent, "application/sdp", offer.into()).await;
        assert_problem(status, &problem, 403, "not_the_expert");
        let (status, problem) = sdp_post(app, &whip, &other_expert, "application/sdp", offer.into()).await;
        assert_problem(status, &problem, 403, "not_the_expert");
        let (status, problem) = sdp_post(app, &whip, &expert, "text/plain", offer.into()).await;
        assert_problem(status, &problem, 415, "sdp_content_type");
        let (status, problem) = sdp_post(app, &whip, &expert, "application/sdp", b"garbage".to_vec()).await;
        assert_problem(status, &problem, 400, "sdp_invalid");
        let (status, problem) = sdp_post(app, &whip, &expert, "application/sdp", vec![b'v'; 1_000_000]).await;
        assert_problem(status, &problem, 413, "sdp_too_large");
        let (status, problem) = sdp_post(app, &whip, &expert, "application/sdp", "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\n".into()).await;
        assert_problem(status, &problem, 400, "sdp_no_media");
        let vp9 = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nm=video 9 UDP/TLS/RTP/SAVPF 98\r\na=rtpmap:98 \
                   VP9/90000\r\n";
        let (status, problem) = sdp_post(app, &whip, &expert, "application/sdp", vp9.into()).await;
        assert_problem(status, &problem, 415, "sdp_unsupported_codecs");
        let many = format!("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\n{}", "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n".repeat(50));
        let (status, problem) = sdp_post(app, &whip, &expert, "application/sdp", many.into()).await;
        assert_problem(status, &problem, 400, "sdp_too_many_media");

        // Other origins (OBS, browser tools) may call WHIP/WHEP: preflight and exposed Location.
        let (status, headers, _) = raw(app, Method::OPTIONS, &whip, &[("origin", "https://obs.example"),
            ("access-control-request-method", "POST"), ("access-control-request-headers", "authorization,content-type")], None).await;
        assert!(status.is_success(), "{status}");
        assert_eq!(headers.get("access-control-allow-origin").and_then(|v| v.to_str().ok()), Some("*"));
        assert!(headers.get("access-control-allow-headers").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("authorization")), "{headers:?}");
        let auth = format!("Bearer {parent}");
        let (_, headers, _) = raw(app, Method::POST, &whep, &[("origin", "https://obs.example"), ("authorization", &auth), ("content-type", "application/sdp")], Some(offer.into())).await;
        assert_eq!(headers.get("access-control-allow-origin").and_then(|v| v.to_str().ok()), Some("*"), "problems carry CORS too");

        // Tickets are bound to one occurrence.
        let (status, ticket) = app.post(&format!("/api/v1/live/occurrences/{occ}/tickets"), Some(&parent), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{ticket}");
        let t = ticket["ticket"].as_str().unwrap_or_default().to_owned();
        let (status, headers, _) = raw(app, Method::GET, &format!("/api/v1/live/occurrences/{occ2}/events?ticket={t}"), &[], None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}");
        let (status, problem) = sdp_post(app, &format!("/api/v1/live/occurrences/{occ2}/whep"), &t, "application/sdp", offer.into()).await;
        assert_problem(status, &problem, 401, "ticket_invalid");
        let (status, problem) = app.post(&format!("/api/v1/live/occurrences/{occ}/tickets"), Some(&app.user_with_role("13800000003", "parent", Some(&other_school)).await), json!({})).await;
        assert_problem(status, &problem, 404, "occurrence_not_found");

        // Ending: parents may not; the expert may; afterwards nobody publishes or watches.
        let (status, _) = app.post(&format!("/api/v1/live/occurrences/{occ}/end"), Some(&parent), json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, ended) = app.post(&format!("/api/v1/live/occurrences/{occ}/end"), Some(&expert), json!({})).await;
        assert_eq!((status, ended["state"].as_str()), (StatusCode::OK, Some("ended")), "{ended}");
        let (status, problem) = sdp_post(app, &whip, &expert, "application/sdp", offer.into()).await;
        assert_problem(status, &problem, 409, "occurrence_ended");
        let (status, problem) = sdp_post(app, &whep, &parent, "application/sdp", offer.into()).await;
        assert_problem(status, &problem, 409, "occurrence_ended");

        // The report of an occurrence nobody watched: enrolled, not attended; CSV for Excel.
        let (status, report) = app.get(&format!("/api/v1/live/occurrences/{occ}/attendance"), Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!((report["enrolled"].as_i64(), report["attended"].as_i64()), (Some(1), Some(0)), "{report}");
        assert_eq!(report["people"][0]["phone"], "138****0001");
        let auth = format!("Bearer {expert}");
        let (status, headers, csv) = raw(app, Method::GET, &format!("/api/v1/live/occurrences/{occ}/attendance.csv"), &[("authorization", &auth)], None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers.get("content-type").and_then(|v| v.to_str().ok()), Some("text/csv; charset=utf-8"));
        assert!(csv.starts_with("\u{feff}姓名,手机号,所在组织,报名状态,观看时长（分钟）,是否出勤\r\n") && csv.contains("138****0001,西湖小学,已报名,0.0,否"), "{csv}");
        let (status, _) = app.get(&format!("/api/v1/live/occurrences/{occ}/attendance"), Some(&parent)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

both_databases! {
    async fn attendance_is_batched_merged_and_counts_as_study_time(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let school = app.org("西湖小学", "school", Some(&province)).await;
        let expert = app.user_with_role("13600000001", "expert", Some(&school)).await;
        let curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
        let parent = app.user_with_role("13800000001", "parent", Some(&school)).await;
        let (_, created) = app.post("/api/v1/live/series", Some(&expert), json!({"title": "安全教育", "rrule": "FREQ=WEEKLY;COUNT=1",
            "starts_at": next_thursday(), "duration_minutes": 45, "capacity": 100, "scope_org_id": school})).await;
        let occ: live_session::OccurrenceId = created["occurrences"][0]["id"].as_str().unwrap_or_default().parse().unwrap_or_else(|e| panic!("{e}"));
        let user: platform::ids::UserId = me(app, &parent).await.parse().unwrap_or_else(|e| panic!("{e}"));
        let starts: platform::Timestamp = serde_json::from_value(created["occurrences"][0]["starts_at"].clone()).unwrap_or_else(|e| panic!("{e}"));

        // Two connections of one parent (a phone reconnecting), overlapping by 30 s, and one
        // still open at the last flush (its end is the flush time). The lecture is live from
        // its start (set-up the API cannot do without a WebRTC publisher).
        let handle = app.handle().await;
        platform::db_execute!(&handle.db, "UPDATE live_occurrences SET state = 'live', live_since = $2, went_live_at = $2 WHERE \
                                           id \
                                           = $1", occ, starts)
            .unwrap_or_else(|e| panic!("{e}"));
        let att = handle.live.attendance();
        let (s1, s2, s3) = (live_session::sfu::SessionId::new(), live_session::sfu::SessionId::new(), live_session::sfu::SessionId::new());
        let t = |s: i64| platform::Timestamp(starts.0 + s * 1000);
        att.join(occ, user, s1, t(0));
        att.join(occ, user, s2, t(60));
        let first = att.flush(t(70)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((first.joins, first.open), (2, 2), "{first:?}");
        att.leave(s1, t(90));
        att.leave(s2, t(150));
        att.join(occ, user, s3, t(200));
        let second = att.flush(t(230)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((second.joins, second.leaves, second.open), (1, 2, 1), "{second:?}");
        // Attendance (joins, leaves, open marks) and credit (live lectures, budgets locked and
        // stored, credits logged): a fixed number of statements, however many viewers.
        assert!(second.statements <= 7, "writes are batched: {second:?}");
        // Union: [0, 150) + [200, 230) = 180 s.
        let (_, learning) = app.get("/api/v1/me/learning", Some(&parent)).await;
        assert_eq!(learning["live_s"], 180.0, "{learning}");
        assert_eq!(learning["live"][0]["title"], "安全教育");
        assert_eq!(learning["total_s"], 180.0);
        let (_, report) = app.get(&format!("/api/v1/organizations/{province}/learning?from=2020-01-01T00:00:00Z&to=2040-01-01T00:00:00Z"), Some(&curator)).await;
        let row = report["items"].as_array().into_iter().flatten().find(|i| i["phone"] == "138****0001").cloned().unwrap_or_default();
        assert_eq!(row["live_s"], 180.0, "{report}");
        handle.db.close().await;
    }
}

both_databases! {
    async fn questions_votes_answers_and_chat(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let school = app.org("西湖小学", "school", Some(&province)).await;
        let expert = app.user_with_role("13600000001", "expert", Some(&school)).await;
        let curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
        let a = app.user_with_role("13800000001", "parent", Some(&school)).await;
        let b = app.user_with_role("13800000002", "parent", Some(&school)).await;
        let stranger = app.user_with_role("13800000003", "parent", Some(&school)).await;
        let (_, created) = app.post("/api/v1/live/series", Some(&expert), json!({"title": "网络安全", "rrule": "FREQ=WEEKLY;COUNT=1",
            "starts_at": next_thursday(), "duration_minutes": 60, "capacity": 100, "scope_org_id": school})).await;
        let occ = created["occurrences"][0]["id"].as_str().unwrap_or_default().to_owned();
        for p in [&a, &b] {
            app.post(&format!("/api/v1/live/occurrences/{occ}/enrolments"), Some(p), json!({})).await;
        }
        let questions = format!("/api/v1/live/occurrences/{occ}/questions");
        let messages = format!("/api/v1/live/occurrences/{occ}/messages");
        let (status, problem) = app.post(&questions, Some(&a), json!({"text": "孩子沉迷手机怎么办？"})).await;
        assert_problem(status, &problem, 409, "not_live");

        // Set-up the API cannot do without a WebRTC publisher: the lecture is live.
        let handle = app.handle().await;
        let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        let id: live_session::OccurrenceId = occ.parse().unwrap_or_else(|e| panic!("{e}"));
        platform::db_execute!(&handle.db, "UPDATE live_occurrences SET state = 'live', live_since = $2, went_live_at = $2 WHERE \
                                           id \
                                           = $1", id, now)
            .unwrap_or_else(|e| panic!("{e}"));
        handle.db.close().await;

        let (status, q) = app.post(&questions, Some(&a), json!({"text": "  孩子沉迷手机怎么办？ "})).await;
        assert_eq!(status, StatusCode::CREATED, "{q}");
        assert_eq!((q["text"].as_str(), q["votes"].as_i64(), q["answered"].as_bool()), (Some("孩子沉迷手机怎么办？"), Some(0), Some(false)));
        let qid = q["id"].as_str().unwrap_or_default().to_owned();
        // Bad input: empty, too long, control characters, too fast, not enrolled.
        let (status, problem) = app.post(&questions, Some(&b), json!({"text": "   "})).await;
        assert_problem(status, &problem, 422, "validation_failed");
        let (status, problem) = app.post(&questions, Some(&b), json!({"text": "问".repeat(5000)})).await;
        assert_problem(status, &problem, 422, "validation_failed");
        let (status, problem) = app.post(&questions, Some(&b), json!({"text": "你好\u{0007}"})).await;
        assert_problem(status, &problem, 422, "validation_failed");
        // Chat and questions are limited apart: a chat line right after a question passes,
        // a second one at once does not.
        let (status, body) = app.post(&messages, Some(&a), json!({"text": "又是我"})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, problem) = app.post(&messages, Some(&a), json!({"text": "又是我呀"})).await;
        assert_problem(status, &problem, 429, "rate_limited");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains("发言太频繁")), "{problem}");
        let (status, problem) = app.post(&questions, Some(&stranger), json!({"text": "我能问吗"})).await;
        assert_problem(status, &problem, 403, "not_enrolled");

        // One vote per user; the list orders by votes; hidden questions take no votes.
        let vote = format!("{questions}/{qid}/votes");
        let (status, voted) = app.post(&vote, Some(&b), json!({})).await;
        assert_eq!((status, voted["votes"].as_i64(), voted["voted"].as_bool()), (StatusCode::CREATED, Some(1), Some(true)), "{voted}");
        let (status, problem) = app.post(&vote, Some(&b), json!({})).await;
        assert_problem(status, &problem, 409, "already_voted");
        let (status, q2) = app.post(&questions, Some(&b), json!({"text": "青春期叛逆怎么沟通？"})).await;
        assert_eq!(status, StatusCode::CREATED, "{q2}");
        let (_, list) = app.get(&questions, Some(&a)).await;
        assert_eq!(list[0]["id"].as_str(), Some(qid.as_str()), "most votes first: {list}");

        // Only the expert or staff answer and hide.
        let (status, problem) = app.call(Method::PATCH, &format!("{questions}/{qid}"), Some(&a), json!({"answered": true})).await;
        assert_problem(status, &problem, 403, "not_series_manager");
        let (status, answered) = app.call(Method::PATCH, &format!("{questions}/{qid}"), Some(&expert), json!({"answered": true})).await;
        assert_eq!((status, answered["answered"].as_bool()), (StatusCode::OK, Some(true)), "{answered}");
        assert!(answered["answered_at"].is_string(), "{answered}");
        let q2id = q2["id"].as_str().unwrap_or_default().to_owned();
        // A parent's open room hears that the question was hidden, but not its text.
        let (_, ticket) = app.post(&format!("/api/v1/live/occurrences/{occ}/tickets"), Some(&a), json!({})).await;
        let t = ticket["ticket"].as_str().unwrap_or_default().to_owned();
        let mut events = app
            .client
            .get(app.url(&format!("/api/v1/live/occurrences/{occ}/events?ticket={t}")))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(events.status(), StatusCode::OK);
        let (status, _) = app.call(Method::PATCH, &format!("{questions}/{q2id}"), Some(&curator), json!({"hidden": true})).await;
        assert_eq!(status, StatusCode::OK);
        let mut heard = String::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !heard.contains(&q2id) && std::time::Instant::now() < deadline {
            match tokio::time::timeout(std::time::Duration::from_secs(10), events.chunk()).await {
                Ok(Ok(Some(bytes))) => heard.push_str(&String::from_utf8_lossy(&bytes)),
                _ => break,
            }
        }
        assert!(heard.contains(&q2id), "the hide reached the room: {heard}");
        assert!(!heard.contains("叛逆"), "a hidden question's text is not broadcast: {heard}");
        drop(events);
        let (status, problem) = app.post(&format!("{questions}/{q2id}/votes"), Some(&a), json!({})).await;
        assert_problem(status, &problem, 409, "question_hidden");
        let (_, list) = app.get(&questions, Some(&a)).await;
        assert_eq!(list.as_array().map(Vec::len), Some(1), "parents do not see hidden questions: {list}");
        let (_, list) = app.get(&questions, Some(&expert)).await;
        assert_eq!(list.as_array().map(Vec::len), Some(2));

        // Chat, with the word filter of the configuration (none here) and hiding.
        let (status, m) = app.post(&messages, Some(&curator), json!({"text": "老师讲得真好"})).await;
        assert_eq!(status, StatusCode::CREATED, "{m}");
        let (status, problem) = app.call(Method::PATCH, &format!("{messages}/{}", m["id"].as_str().unwrap_or_default()), Some(&expert), json!({"answered": true})).await;
        assert_problem(status, &problem, 422, "validation_failed");
        let (_, chat) = app.get(&messages, Some(&a)).await;
        assert_eq!(chat[0]["text"], "老师讲得真好", "{chat}");
        assert_eq!(chat[0]["author"], "curator 13700000001");
        // Messages sent at the same moment by one user: one passes the rate limit, the others
        // are refused (no check-then-insert race).
        let sends = (0..5).map(|n| app.post(&messages, Some(&expert), json!({"text": format!("同时发送 {n}")})));
        let statuses: Vec<StatusCode> = futures::future::join_all(sends).await.into_iter().map(|(s, _)| s).collect();
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    }
}

e2e::on_both_databases!(the_schedule_filters_before_its_limit);

// Trust #4: one user holds at most two sessions per lecture. A third live HLS player or event
// stream replaces the oldest, and WHEP offers are rate-limited per user.
both_databases! {
    async fn viewer_sessions_are_limited_per_user(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let school = app.org("西湖小学", "school", Some(&province)).await;
        let expert = app.user_with_role("13600000001", "expert", Some(&school)).await;
        let parent = app.user_with_role("13800000001", "parent", Some(&school)).await;
        let other = app.user_with_role("13800000002", "parent", Some(&school)).await;
        let (_, created) = app.post("/api/v1/live/series", Some(&expert), json!({"title": "安全教育", "rrule": "FREQ=WEEKLY;COUNT=1",
            "starts_at": next_thursday(), "duration_minutes": 45, "capacity": 100, "scope_org_id": school})).await;
        let occ = created["occurrences"][0]["id"].as_str().unwrap_or_default().to_owned();
        for p in [&parent, &other] {
            let (status, body) = app.post(&format!("/api/v1/live/occurrences/{occ}/enrolments"), Some(p), json!({})).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        // Set-up the API cannot do without a WebRTC publisher: the lecture is live.
        let handle = app.handle().await;
        let id: live_session::OccurrenceId = occ.parse().unwrap_or_else(|e| panic!("{e}"));
        let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        platform::db_execute!(&handle.db, "UPDATE live_occurrences SET state = 'live', live_since = $2, went_live_at = $2 WHERE \
                                           id \
                                           = $1", id, now)
            .unwrap_or_else(|e| panic!("{e}"));

        // HLS players: three of one parent, one of another; the parent's first gives way.
        let beats = format!("/api/v1/live/occurrences/{occ}/hls-heartbeats");
        let mut mine = Vec::new();
        for _ in 0..3 {
            let (status, beat) = app.post(&beats, Some(&parent), json!({})).await;
            assert_eq!(status, StatusCode::OK, "{beat}");
            mine.push(beat["session"].as_str().unwrap_or_default().to_owned());
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let (status, _) = app.post(&beats, Some(&other), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        // The room's viewer count (what a newly opened page is told first).
        let (_, ticket) = app.post(&format!("/api/v1/live/occurrences/{occ}/tickets"), Some(&expert), json!({})).await;
        let t = ticket["ticket"].as_str().unwrap_or_default().to_owned();
        let mut studio = app.client.get(app.url(&format!("/api/v1/live/occurrences/{occ}/events?ticket={t}"))).send().await.unwrap_or_else(|e| panic!("{e}"));
        let mut heard = String::new();
        while !heard.contains("event: viewers") || !heard[heard.find("event: viewers").unwrap_or(0)..].contains('}') {
            match tokio::time::timeout(std::time::Duration::from_secs(5), studio.chunk()).await {
                Ok(Ok(Some(bytes))) => heard.push_str(&String::from_utf8_lossy(&bytes)),
                _ => break,
            }
        }
        assert!(heard.contains("\"count\":3"), "two of the parent's players and the other parent's: {heard}");
        drop(studio);
        let (_, later) = app.post(&beats, Some(&parent), json!({"session": mine[2]})).await;
        assert_eq!(later["session"].as_str(), Some(mine[2].as_str()), "the newest goes on: {later}");
        let (_, first) = app.post(&beats, Some(&parent), json!({"session": mine[0]})).await;
        assert_ne!(first["session"].as_str(), Some(mine[0].as_str()), "the oldest was replaced: {first}");

        // Event streams: a third of the same user ends the first; another user's is untouched.
        let (_, ticket) = app.post(&format!("/api/v1/live/occurrences/{occ}/tickets"), Some(&parent), json!({})).await;
        let t = ticket["ticket"].as_str().unwrap_or_default().to_owned();
        let open = || async {
            let res = app.client.get(app.url(&format!("/api/v1/live/occurrences/{occ}/events?ticket={t}"))).send().await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(res.status(), StatusCode::OK);
            res
        };
        // Reads a stream until it ends (true) or stays open for `wait`.
        async fn ends(res: &mut reqwest::Response, wait: std::time::Duration) -> bool {
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                match tokio::time::timeout_at(deadline, res.chunk()).await {
                    Ok(Ok(Some(_))) => continue,
                    Ok(_) => return true,
                    Err(_) => return false,
                }
            }
        }
        let mut s1 = open().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let mut s2 = open().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let mut s3 = open().await;
        assert!(ends(&mut s1, std::time::Duration::from_secs(5)).await, "the oldest stream ended");
        assert!(!ends(&mut s2, std::time::Duration::from_millis(500)).await, "the second stays");
        assert!(!ends(&mut s3, std::time::Duration::from_millis(500)).await, "the newest stays");

        // WHEP offers: a parent gets a few a minute (each costs a peer connection).
        let whep = format!("/api/v1/live/occurrences/{occ}/whep");
        let offer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
                     a=rtpmap:96 VP8/90000\r\na=recvonly\r\n";
        let mut statuses = Vec::new();
        for _ in 0..21 {
            statuses.push(sdp_post(app, &whep, &parent, "application/sdp", offer.into()).await);
        }
        assert!(statuses[..20].iter().all(|(s, _)| *s != StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
        let (status, problem) = &statuses[20];
        assert_problem(*status, problem, 429, "rate_limited");
        let (status, _) = sdp_post(app, &whep, &other, "application/sdp", offer.into()).await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "another user is not limited by the first");
        handle.db.close().await;
    }
}

// Trust #8: a series edit that frees seats and cancellations at the same moment promote
// the waitlist one after the other (the occurrence's lock): never past the capacity.
both_databases! {
    async fn seat_changes_at_once_keep_the_capacity(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let school = app.org("西湖小学", "school", Some(&province)).await;
        let expert = app.user_with_role("13600000001", "expert", Some(&school)).await;
        let mut parents = Vec::new();
        for n in 0..8 {
            parents.push(app.user_with_role(&format!("1380000010{n}"), "parent", Some(&school)).await);
        }
        for round in 0..4 {
            let (_, created) = app.post("/api/v1/live/series", Some(&expert), json!({"title": format!("第 {round} 期"), "rrule": "FREQ=WEEKLY;COUNT=1",
                "starts_at": next_thursday(), "duration_minutes": 45, "capacity": 1, "scope_org_id": school})).await;
            let series = created["id"].as_str().unwrap_or_default().to_owned();
            let occ = created["occurrences"][0]["id"].as_str().unwrap_or_default().to_owned();
            let enrol = format!("/api/v1/live/occurrences/{occ}/enrolments");
            for p in &parents {
                let (status, body) = app.post(&enrol, Some(p), json!({})).await;
                assert_eq!(status, StatusCode::OK, "{body}");
            }
            // At once: the capacity goes up to 3 and the two first seat holders and the next in
            // line cancel, each freeing a seat the waitlist fills.
            let (series_path, mine) = (format!("/api/v1/live/series/{series}"), format!("{enrol}/me"));
            let edit = app.call(Method::PATCH, &series_path, Some(&expert), json!({"version": 1, "capacity": 3}));
            let cancels = parents[..3].iter().map(|p| app.call(Method::DELETE, &mine, Some(p), Value::Null));
            let (edited, cancelled) = futures::join!(edit, futures::future::join_all(cancels));
            assert_eq!(edited.0, StatusCode::OK, "{}", edited.1);
            assert!(cancelled.iter().all(|(s, _)| *s == StatusCode::NO_CONTENT), "{cancelled:?}");
            let (_, view) = app.get(&format!("/api/v1/live/occurrences/{occ}"), Some(&expert)).await;
            assert_eq!((view["enrolled"].as_i64(), view["waitlisted"].as_i64()), (Some(3), Some(2)), "round {round}: {view}");
        }
    }
}

// Trust #8: a deleted account leaves nothing behind: its seat goes to the first in line, it
// leaves its school, its chat text is erased, and its access token stops working at once. A
// password change voids the access tokens issued before it, not the new ones.
both_databases! {
    async fn a_deleted_account_leaves_nothing_behind(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let school = app.org("西湖小学", "school", Some(&province)).await;
        let expert = app.user_with_role("13600000001", "expert", Some(&school)).await;
        let curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
        let (_, created) = app.post("/api/v1/live/series", Some(&expert), json!({"title": "安全教育", "rrule": "FREQ=WEEKLY;COUNT=1",
            "starts_at": next_thursday(), "duration_minutes": 45, "capacity": 1, "scope_org_id": school})).await;
        let occ = created["occurrences"][0]["id"].as_str().unwrap_or_default().to_owned();
        let series = created["id"].as_str().unwrap_or_default().to_owned();
        // A parent who registered and joined the school by its code; another waits for a seat.
        let reg = app.register("13812345678", "abc12345x").await;
        let leaving = reg["access_token"].as_str().unwrap_or_default().to_owned();
        let leaving_id = reg["user"]["id"].as_str().unwrap_or_default().to_owned();
        let (_, code) = app.post(&format!("/api/v1/organizations/{school}/join-code"), Some(&curator), json!({})).await;
        let (status, joined) = app.post("/api/v1/me/organizations", Some(&leaving), json!({"join_code": code["join_code"]})).await;
        assert!(status.is_success(), "{joined}");
        let waiting = app.user_with_role("13800000002", "parent", Some(&school)).await;
        let enrol = format!("/api/v1/live/occurrences/{occ}/enrolments");
        let (_, seat) = app.post(&format!("/api/v1/live/series/{series}/enrolments"), Some(&leaving), json!({})).await;
        assert_eq!(seat["occurrences"][0]["state"], "enrolled", "{seat}");
        let (_, line) = app.post(&enrol, Some(&waiting), json!({})).await;
        assert_eq!(line["state"], "waitlisted", "{line}");
        // It speaks in the lecture (set-up the API cannot do without a publisher: it is live).
        let handle = app.handle().await;
        let id: live_session::OccurrenceId = occ.parse().unwrap_or_else(|e| panic!("{e}"));
        let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        platform::db_execute!(&handle.db, "UPDATE live_occurrences SET state = 'live', live_since = $2, went_live_at = $2 WHERE \
                                           id \
                                           = $1", id, now)
            .unwrap_or_else(|e| panic!("{e}"));
        let (status, said) = app.post(&format!("/api/v1/live/occurrences/{occ}/messages"), Some(&leaving), json!({"text": "我家孩子在三年级二班"})).await;
        assert_eq!(status, StatusCode::CREATED, "{said}");
        platform::db_execute!(&handle.db, "UPDATE live_occurrences SET state = 'scheduled', live_since = NULL, went_live_at = \
                                           NULL \
                                           WHERE id = $1", id)
            .unwrap_or_else(|e| panic!("{e}"));

        // A password change voids the tokens issued before it, not the new pair.
        let (status, changed) = app.post("/api/v1/me/password", Some(&leaving), json!({"current_password": "abc12345x", "new_password": "abc12345y"})).await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        let (status, body) = app.get("/api/v1/me", Some(&leaving)).await;
        assert_problem(status, &body, 401, "token_revoked");
        let leaving = changed["access_token"].as_str().unwrap_or_default().to_owned();
        let (status, _) = app.get("/api/v1/me", Some(&leaving)).await;
        assert_eq!(status, StatusCode::OK);

        let (status, _) = app.call(Method::DELETE, "/api/v1/me", Some(&leaving), json!({"password": "abc12345y"})).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = app.get(&format!("/api/v1/live/occurrences/{occ}"), Some(&leaving)).await;
        assert_problem(status, &body, 401, "token_revoked");
        let (_, view) = app.get(&format!("/api/v1/live/occurrences/{occ}"), Some(&waiting)).await;
        assert_eq!(view["my_enrolment"]["state"], "enrolled", "the seat went to the first in line: {view}");
        assert_eq!((view["enrolled"].as_i64(), view["waitlisted"].as_i64()), (Some(1), Some(0)), "{view}");
        let (_, members) = app.get(&format!("/api/v1/organizations/{school}/members"), Some(&curator)).await;
        assert!(!members.to_string().contains(&leaving_id), "it left the school: {members}");
        let texts: Vec<String> = platform::with_db!(&handle.db, |pool| sqlx::query_scalar::<_, String>("SELECT text FROM live_messages")
            .fetch_all(pool).await).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(texts, [""], "its chat text is erased");
        let left: i64 = platform::with_db!(&handle.db, |pool| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM live_series_enrolments")
            .fetch_one(pool).await).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(left, 0, "no whole-series enrolment either");
        handle.db.close().await;
    }
}

// A parent's first week #2: enrolment stays open until the lecture ends. Late-comers walk in
// while seats are free, even before the expert has gone live; cancelling closes at the start.
both_databases! {
    async fn late_comers_walk_in_until_the_lecture_ends(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let school = app.org("西湖小学", "school", Some(&province)).await;
        let expert = app.user_with_role("13600000001", "expert", Some(&school)).await;
        let early = app.user_with_role("13800000001", "parent", Some(&school)).await;
        let late = app.user_with_role("13800000002", "parent", Some(&school)).await;
        let later = app.user_with_role("13800000003", "parent", Some(&school)).await;
        let (_, created) = app.post("/api/v1/live/series", Some(&expert), json!({"title": "亲子阅读", "rrule": "FREQ=WEEKLY;COUNT=1",
            "starts_at": next_thursday(), "duration_minutes": 60, "capacity": 2, "scope_org_id": school})).await;
        let occ = created["occurrences"][0]["id"].as_str().unwrap_or_default().to_owned();
        let enrol = format!("/api/v1/live/occurrences/{occ}/enrolments");
        let (status, body) = app.post(&enrol, Some(&early), json!({})).await;
        assert!(status.is_success(), "{body}");

        // The start passed five minutes ago; the expert has not gone live yet.
        let handle = app.handle().await;
        let id: live_session::OccurrenceId = occ.parse().unwrap_or_else(|e| panic!("{e}"));
        let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        platform::db_execute!(&handle.db, "UPDATE live_occurrences SET starts_at = $2, ends_at = $3 WHERE id = $1", id, now - 300_000, now + 3_300_000)
            .unwrap_or_else(|e| panic!("{e}"));
        let (status, body) = app.post(&enrol, Some(&late), json!({})).await;
        assert!(status.is_success(), "a late-comer walks in: {body}");
        assert_eq!(body["state"], "enrolled", "{body}");
        let (status, problem) = app.post(&enrol, Some(&later), json!({})).await;
        assert_problem(status, &problem, 409, "lecture_full");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains("名额已满")), "{problem}");
        let (status, problem) = app.call(Method::DELETE, &format!("{enrol}/me"), Some(&early), Value::Null).await;
        assert_problem(status, &problem, 409, "enrolment_closed");

        // Live: still open (a seat frees only by capacity, which the expert may raise).
        platform::db_execute!(&handle.db, "UPDATE live_occurrences SET state = 'live', live_since = $2, went_live_at = $2 WHERE \
                                           id \
                                           = $1", id, now)
            .unwrap_or_else(|e| panic!("{e}"));
        let (_, s) = app.get(&format!("/api/v1/live/series/{}", created["id"].as_str().unwrap_or_default()), Some(&expert)).await;
        let (status, body) = app
            .call(Method::PATCH, &format!("/api/v1/live/series/{}", created["id"].as_str().unwrap_or_default()), Some(&expert), json!({"version": s["version"], "capacity": 3}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = app.post(&enrol, Some(&later), json!({})).await;
        assert!(status.is_success() && body["state"] == "enrolled", "walk-in during the lecture: {body}");
        let (_, view) = app.get(&format!("/api/v1/live/occurrences/{occ}"), Some(&later)).await;
        assert_eq!(view["my_enrolment"]["state"], "enrolled", "{view}");

        // Ended: closed.
        let (status, _) = app.post(&format!("/api/v1/live/occurrences/{occ}/end"), Some(&expert), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let stranger = app.user_with_role("13800000004", "parent", Some(&school)).await;
        let (status, problem) = app.post(&enrol, Some(&stranger), json!({})).await;
        assert_problem(status, &problem, 409, "enrolment_closed");
        handle.db.close().await;
    }
}

// A parent's first week #12: contact details are masked in chat and questions by default, and
// stay masked in what the replay shows.
both_databases! {
    async fn contact_details_are_masked_in_chat_and_questions(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let school = app.org("西湖小学", "school", Some(&province)).await;
        let expert = app.user_with_role("13600000001", "expert", Some(&school)).await;
        let parent = app.user_with_role("13800000001", "parent", Some(&school)).await;
        let (_, created) = app.post("/api/v1/live/series", Some(&expert), json!({"title": "网络安全", "rrule": "FREQ=WEEKLY;COUNT=1",
            "starts_at": next_thursday(), "duration_minutes": 60, "capacity": 100, "scope_org_id": school})).await;
        let occ = created["occurrences"][0]["id"].as_str().unwrap_or_default().to_owned();
        app.post(&format!("/api/v1/live/occurrences/{occ}/enrolments"), Some(&parent), json!({})).await;
        let handle = app.handle().await;
        let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        let id: live_session::OccurrenceId = occ.parse().unwrap_or_else(|e| panic!("{e}"));
        platform::db_execute!(&handle.db, "UPDATE live_occurrences SET state = 'live', live_since = $2, went_live_at = $2 WHERE \
                                           id \
                                           = $1", id, now)
            .unwrap_or_else(|e| panic!("{e}"));
        handle.db.close().await;
        let (status, m) = app.post(&format!("/api/v1/live/occurrences/{occ}/messages"), Some(&parent), json!({"text": "加我微信 abc123 领资料"})).await;
        assert_eq!(status, StatusCode::CREATED, "{m}");
        assert_eq!(m["text"], "加我微信 ＊＊＊＊＊＊ 领资料");
        let (status, q) = app.post(&format!("/api/v1/live/occurrences/{occ}/questions"), Some(&parent), json!({"text": "能加QQ 12345678 细聊吗？"})).await;
        assert_eq!(status, StatusCode::CREATED, "{q}");
        assert_eq!(q["text"], "能加QQ ＊＊＊＊＊＊＊＊ 细聊吗？");
        let (_, list) = app.get(&format!("/api/v1/live/occurrences/{occ}/messages"), Some(&expert)).await;
        assert!(!list.to_string().contains("abc123"), "nothing stored unmasked: {list}");
    }
}
