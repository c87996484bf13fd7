//! 线下活动 through the API: staff create an activity for an audience they address; parents
//! enrol (the live lectures' seats and waitlist); on the day the host's code checks them in and
//! out, every wrong way says why in Chinese, and the host checks a parent in by hand.

use std::time::Duration;

use e2e::{Backend, TestApp, assert_problem, at, both_databases, on_both_databases, str_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn activity(scope: &str, host: &str, start_in_minutes: i64) -> Value {
    json!({"title": "亲子自然观察", "kind": "parent_child", "description": "带孩子认识身边的植物。",
           "place": "学校礼堂", "latitude": 29.56, "longitude": 106.55,
           "starts_at": at(start_in_minutes), "ends_at": at(start_in_minutes + 120), "capacity": 2,
           "scope_org_id": scope, "host_org_id": host, "credit_minutes": 90, "requires_check_out": true})
}

async fn me(app: &TestApp, token: &str) -> String {
    str_of(&app.get("/api/v1/me", Some(token)).await.1, "id")
}

/// A code for `id` signed with the test server's secret, `steps_ago` steps of 30 s back.
fn old_code(id: &str, purpose: live_session::checkin::Purpose, steps_ago: i64) -> String {
    let signer = platform::signing::Signer::new(e2e::TEST_JWT_SECRET.as_bytes(), "parentschool activities v1");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let occ = id.parse().unwrap_or_else(|e| panic!("{e}"));
    live_session::checkin::code_at(
        &signer,
        occ,
        purpose,
        now - steps_ago * live_session::checkin::STEP_SECONDS,
    )
    .0
}

both_databases! {
    async fn a_parent_checks_in_and_out_with_the_hosts_code_and_wrong_ways_say_why(app) {
        let province = app.org("重庆市妇联", "province", None).await;
        let district = app.org("渝中区妇联", "county", Some(&province)).await;
        let school = app.org("新凤小学", "school", Some(&district)).await;
        let class = app.org("三年级二班", "class", Some(&school)).await;
        let other = app.org("人和街小学", "school", Some(&district)).await;
        let curator = app.user_with_role("13700000001", "curator", Some(&school)).await;
        let p1 = app.user_with_role("13800000001", "parent", Some(&class)).await;
        let p2 = app.user_with_role("13800000002", "parent", Some(&class)).await;
        let p3 = app.user_with_role("13800000003", "parent", Some(&class)).await;
        let outsider = app.user_with_role("13800000009", "parent", Some(&other)).await;

        // Created for an audience the curator manages, by a host they reach.
        let (status, a) = app.post("/api/v1/activities", Some(&curator), activity(&school, &school, 10)).await;
        assert_eq!(status, StatusCode::CREATED, "{a}");
        assert_eq!((a["kind_label"].as_str(), a["is_host"].as_bool()), (Some("亲子活动"), Some(true)), "{a}");
        let id = str_of(&a, "id");
        for (patch, field) in [
            (json!({"ends_at": at(5)}), "ends_at"),
            (json!({"capacity": 0}), "capacity"),
            (json!({"credit_minutes": -1}), "credit_minutes"),
            (json!({"latitude": 29.5, "longitude": null}), "latitude"),
            (json!({"place": " "}), "place"),
        ] {
            let mut body = activity(&school, &school, 10);
            for (k, v) in patch.as_object().into_iter().flatten() {
                body[k] = v.clone();
            }
            let (status, p) = app.post("/api/v1/activities", Some(&curator), body).await;
            let p = assert_problem(status, &p, 422, "validation_failed");
            assert_eq!(p["errors"][0]["field"], field, "{p}");
        }
        let (status, p) = app.post("/api/v1/activities", Some(&curator), activity(&other, &school, 10)).await;
        assert_problem(status, &p, 403, "out_of_scope");
        let (status, p) = app.post("/api/v1/activities", Some(&curator), activity(&school, &other, 10)).await;
        assert_problem(status, &p, 403, "out_of_scope");
        let (status, p) = app.post("/api/v1/activities", Some(&p1), activity(&school, &school, 10)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
        let mut bad = activity(&school, &school, 10);
        bad["kind"] = json!("party");
        let (status, p) = app.post("/api/v1/activities", Some(&curator), bad).await;
        assert_problem(status, &p, 422, "invalid_body");

        // Outside the audience it does not exist.
        let (status, p) = app.get(&format!("/api/v1/activities/{id}"), Some(&outsider)).await;
        assert_problem(status, &p, 404, "activity_not_found");

        // Two seats, then the waitlist.
        let enrol = format!("/api/v1/activities/{id}/enrolments");
        for (who, want) in [(&p1, "enrolled"), (&p2, "enrolled"), (&p3, "waitlisted")] {
            let (status, e) = app.post(&enrol, Some(who), json!({})).await;
            assert_eq!((status, e["state"].as_str()), (StatusCode::OK, Some(want)), "{e}");
        }
        let (status, p) = app.post(&enrol, Some(&outsider), json!({})).await;
        assert_problem(status, &p, 404, "activity_not_found");

        // The host's screen: a code and the URL a phone camera opens.
        let code_path = format!("/api/v1/activities/{id}/check-in-code?purpose=in");
        let (status, p) = app.get(&code_path, Some(&p1)).await;
        assert_problem(status, &p, 403, "not_activity_host");
        let (status, c) = app.get(&code_path, Some(&curator)).await;
        assert_eq!(status, StatusCode::OK, "{c}");
        let code = str_of(&c, "code");
        assert!(str_of(&c, "url").contains(&format!("/activities/{id}/check-in?purpose=in&code={code}")), "{c}");
        let (_, out) = app.get(&format!("/api/v1/activities/{id}/check-in-code?purpose=out"), Some(&curator)).await;
        let out_code = str_of(&out, "code");

        let check = format!("/api/v1/activities/{id}/check-ins");
        let (status, p) = app.post(&check, Some(&p3), json!({"code": code, "purpose": "in"})).await;
        assert_problem(status, &p, 403, "not_enrolled");
        let (status, p) = app.post(&check, Some(&p2), json!({"code": out_code, "purpose": "out"})).await;
        assert_problem(status, &p, 409, "not_checked_in");
        let (status, p) = app
            .post(&check, Some(&p1), json!({"code": old_code(&id, live_session::checkin::Purpose::In, 5), "purpose": "in"}))
            .await;
        let p = assert_problem(status, &p, 422, "check_in_code_expired");
        assert!(str_of(&p, "detail").contains("最新的二维码"), "{p}");
        let (status, p) = app.post(&check, Some(&p1), json!({"code": out_code, "purpose": "in"})).await;
        assert_problem(status, &p, 422, "check_in_code_invalid");
        let (status, r) = app.post(&check, Some(&p1), json!({"code": code, "purpose": "in"})).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        assert_eq!(r["credited"], false, "this activity asks for 签退 too: {r}");
        let (status, p) = app.post(&check, Some(&p1), json!({"code": code, "purpose": "in"})).await;
        let p = assert_problem(status, &p, 409, "already_checked_in");
        assert_eq!(str_of(&p, "detail"), "你已经签到过了。");
        let (status, r) = app.post(&check, Some(&p1), json!({"code": out_code, "purpose": "out"})).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        assert_eq!((r["credited"].as_bool(), r["credit_minutes"].as_i64()), (Some(true), Some(90)), "{r}");
        let (status, p) = app.post(&check, Some(&outsider), json!({"code": code, "purpose": "in"})).await;
        assert_problem(status, &p, 404, "activity_not_found");

        // A code of another activity is refused; one that has not begun is closed.
        let (_, later) = app.post("/api/v1/activities", Some(&curator), activity(&school, &school, 3 * 24 * 60)).await;
        let later_id = str_of(&later, "id");
        app.post(&format!("/api/v1/activities/{later_id}/enrolments"), Some(&p1), json!({})).await;
        let (status, p) = app.post(&format!("/api/v1/activities/{later_id}/check-ins"), Some(&p1), json!({"code": code, "purpose": "in"})).await;
        assert_problem(status, &p, 422, "check_in_code_invalid");
        let (_, later_code) = app.get(&format!("/api/v1/activities/{later_id}/check-in-code"), Some(&curator)).await;
        let (status, p) = app
            .post(&format!("/api/v1/activities/{later_id}/check-ins"), Some(&p1), json!({"code": later_code["code"], "purpose": "in"}))
            .await;
        assert_problem(status, &p, 422, "check_in_closed");

        // By hand, from the enrolment list: recorded as manual, by whom; again is the same.
        let p2_id = me(app, &p2).await;
        let by_hand = format!("/api/v1/activities/{id}/check-ins/{p2_id}");
        for _ in 0..2 {
            let (status, r) = app.call(Method::PUT, &by_hand, Some(&curator), json!({})).await;
            assert_eq!(status, StatusCode::OK, "{r}");
        }
        let (status, p) = app.call(Method::PUT, &by_hand, Some(&p1), json!({})).await;
        assert_problem(status, &p, 403, "not_activity_host");
        let outsider_id = me(app, &outsider).await;
        let (status, p) = app
            .call(Method::PUT, &format!("/api/v1/activities/{id}/check-ins/{outsider_id}"), Some(&curator), json!({}))
            .await;
        assert_problem(status, &p, 403, "out_of_scope");

        // The host's live count.
        let (status, list) = app.get(&check, Some(&curator)).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!((list["enrolled"].as_i64(), list["checked_in"].as_i64(), list["checked_out"].as_i64()), (Some(2), Some(2), Some(1)), "{list}");
        let curator_id = me(app, &curator).await;
        let manual: Vec<&Value> = list["items"].as_array().into_iter().flatten().filter(|i| i["method"] == "manual").collect();
        assert_eq!(manual.len(), 1, "{list}");
        assert_eq!((manual[0]["user_id"].as_str(), manual[0]["by_user"].as_str()), (Some(p2_id.as_str()), Some(curator_id.as_str())));
        let (status, p) = app.get(&check, Some(&p1)).await;
        assert_problem(status, &p, 403, "not_activity_host");

        // Credit: 90 minutes for the parent who checked in and out; none for the one checked in
        // by hand but not out (this activity asks for both). In 我的学习, the record and the
        // school's report alike, each as its own column.
        let (_, learning) = app.get("/api/v1/me/learning", Some(&p1)).await;
        assert_eq!((learning["offline_s"].as_f64(), learning["total_s"].as_f64()), (Some(5400.0), Some(5400.0)), "{learning}");
        assert_eq!(learning["offline"][0]["title"], "亲子自然观察");
        assert_eq!(learning["current_term"]["offline_s"].as_f64(), Some(5400.0), "{learning}");
        let (_, none) = app.get("/api/v1/me/learning", Some(&p2)).await;
        assert_eq!(none["offline_s"].as_f64(), Some(0.0), "{none}");
        let (status, record) = app.get("/api/v1/me/record", Some(&p1)).await;
        assert_eq!(status, StatusCode::OK, "{record}");
        assert_eq!(record["total"]["offline_s"].as_f64(), Some(5400.0), "{record}");
        assert_eq!(record["total"]["total_s"].as_f64(), Some(5400.0));
        let item = &record["items"][0];
        assert_eq!((item["kind"].as_str(), item["kind_label"].as_str(), item["source"].as_str()), (Some("offline"), Some("线下活动"), Some("亲子活动 · 学校礼堂")), "{record}");
        assert_eq!(record["years"][0]["totals"]["offline_s"].as_f64(), Some(5400.0));
        assert_eq!(record["years"][0]["terms"][0]["totals"]["offline_s"].as_f64(), Some(5400.0));
        let school_year = record["years"][0]["school_year"].as_i64().unwrap_or_default();
        let (_, other_year) = app.get(&format!("/api/v1/me/record?year={}", school_year - 1), Some(&p1)).await;
        assert_eq!(other_year["items"], json!([]));
        let (status, _, csv) = e2e::raw(app, Method::GET, "/api/v1/me/record.csv", &[("authorization", &format!("Bearer {p1}"))], None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(csv.contains("线下活动,亲子自然观察,亲子活动 · 学校礼堂,90.0"), "{csv}");
        let (_, report) = app.get(&format!("/api/v1/organizations/{school}/learning"), Some(&curator)).await;
        let row = |name: &str| report["items"].as_array().into_iter().flatten().find(|m| m["display_name"].as_str().is_some_and(|n| n.ends_with(name))).cloned().unwrap_or_default();
        assert_eq!(row("13800000001")["offline_s"].as_f64(), Some(5400.0), "{report}");
        assert_eq!(row("13800000002")["offline_s"].as_f64(), Some(0.0), "{report}");
        let (_, _, csv) = e2e::raw(app, Method::GET, &format!("/api/v1/organizations/{school}/learning.csv"), &[("authorization", &format!("Bearer {curator}"))], None).await;
        assert!(csv.lines().next().is_some_and(|h| h.contains("线下活动（分钟）")), "{csv}");
        // The parent's own view; no live stream for an offline activity.
        let (_, mine) = app.get(&format!("/api/v1/activities/{id}"), Some(&p1)).await;
        assert!(mine["my_check_in"].is_string() && mine["my_check_out"].is_string(), "{mine}");
        assert_eq!(mine["my_enrolment"], "enrolled");
        let admin = app.user_with_role("13700000009", "admin", None).await;
        let (status, _, body) = e2e::raw(
            app,
            Method::POST,
            &format!("/api/v1/live/occurrences/{id}/whip"),
            &[("authorization", &format!("Bearer {admin}")), ("content-type", "application/sdp")],
            Some(b"v=0\r\n".to_vec()),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body.contains("offline_activity"), "{body}");
        // The record is the parent's, not the school's: leaving the class keeps it.
        let p1_id = me(app, &p1).await;
        let (status, _) = app.call(Method::DELETE, &format!("/api/v1/organizations/{class}/members/{p1_id}"), Some(&curator), json!(null)).await;
        assert!(status.is_success(), "{status}");
        let (_, kept) = app.get("/api/v1/me/record", Some(&p1)).await;
        assert_eq!(kept["total"]["offline_s"].as_f64(), Some(5400.0), "{kept}");

    }

    async fn a_partner_unit_hosts_activities_for_the_schools_it_serves(app) {
        let province = app.org("重庆市妇联", "province", None).await;
        let district = app.org("渝中区妇联", "county", Some(&province)).await;
        let served = app.org("新凤小学", "school", Some(&district)).await;
        let unserved = app.org("人和街小学", "school", Some(&district)).await;
        let museum = app.partner("重庆自然博物馆", "museum", &district).await;
        let district_curator = app.user_with_role("13700000001", "curator", Some(&district)).await;
        let (status, _) = app
            .call(Method::PUT, &format!("/api/v1/organizations/{museum}/serves"), Some(&district_curator), json!({"org_ids": [served]}))
            .await;
        assert_eq!(status, StatusCode::OK);
        let guide = app.user_with_role("13600000001", "expert", Some(&museum)).await;
        let (status, a) = app.post("/api/v1/activities", Some(&guide), activity(&served, &museum, 60)).await;
        assert_eq!(status, StatusCode::CREATED, "{a}");
        let (status, p) = app.post("/api/v1/activities", Some(&guide), activity(&unserved, &museum, 60)).await;
        assert_problem(status, &p, 403, "out_of_scope");
        let (status, p) = app.post("/api/v1/activities", Some(&guide), activity(&served, &served, 60)).await;
        assert_problem(status, &p, 403, "out_of_scope");
        // The museum's guide is host staff: they open the check-in screen.
        let (status, c) = app.get(&format!("/api/v1/activities/{}/check-in-code", str_of(&a, "id")), Some(&guide)).await;
        assert_eq!(status, StatusCode::OK, "{c}");
    }
}

on_both_databases!(an_activity_is_reminded_by_the_notifier_and_sits_in_the_calendar);

/// The live lectures' reminder and calendar, told as an activity: where, and to check in.
async fn an_activity_is_reminded_by_the_notifier_and_sits_in_the_calendar(backend: Backend) {
    let (hook, seen) = e2e::gateway().await;
    let app = TestApp::spawn_with(backend, |s| {
        s.live.notify_webhook_url = Some(hook.clone());
        s.live.reminder_check_seconds = 1;
    })
    .await;
    let province = app.org("重庆市妇联", "province", None).await;
    let school = app.org("新凤小学", "school", Some(&province)).await;
    let curator = app.user_with_role("13700000001", "curator", Some(&school)).await;
    let parent = app.user_with_role("13800000001", "parent", Some(&school)).await;
    // Starting in 20 minutes: the 30-minute reminder is due.
    let (status, a) = app
        .post("/api/v1/activities", Some(&curator), activity(&school, &school, 20))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let id = str_of(&a, "id");
    let (status, _) = app
        .post(&format!("/api/v1/activities/{id}/enrolments"), Some(&parent), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut text = String::new();
    for _ in 0..40 {
        if let Some((_, body)) = seen.lock().unwrap_or_else(|p| p.into_inner()).first() {
            text = format!(
                "{} {}",
                body["text"].as_str().unwrap_or_default(),
                body["url"].as_str().unwrap_or_default()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        text.contains("您报名的活动“亲子自然观察”") && text.contains("在学校礼堂开始") && text.contains("扫码签到"),
        "{text}"
    );
    assert!(text.ends_with(&format!("/activities/{id}")), "{text}");

    let (_, link) = app.get("/api/v1/live/calendar", Some(&parent)).await;
    let (status, _, ics) = e2e::raw(&app, Method::GET, link["url"].as_str().unwrap_or_default(), &[], None).await;
    assert_eq!(status, StatusCode::OK, "{ics}");
    let unfolded = ics.replace("\r\n ", "");
    assert!(
        unfolded.contains("SUMMARY:活动：亲子自然观察") && unfolded.contains("LOCATION:学校礼堂"),
        "{ics}"
    );
    assert!(unfolded.contains(&format!("/activities/{id}")), "{ics}");
    app.stop().await;
}
