//! 教联体 partner units and China's real divisions: a municipality's districts right under it,
//! partners of a type under a region, what they serve, and their staff publishing courses and
//! lectures to those audiences and nowhere else.

use e2e::{TestApp, assert_problem, both_databases};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn next_week() -> String {
    let now =
        time::OffsetDateTime::now_utc().to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC));
    format!("{}T19:30:00+08:00", now.date() + time::Duration::days(7))
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

async fn create(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    app.post("/api/v1/organizations", Some(token), body).await
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["name"].as_str().map(str::to_owned))
        .collect()
}

both_databases! {
    async fn a_municipality_holds_districts_and_partners_sit_under_a_region(app) {
        let admin = app.user_with_role("13700000009", "admin", None).await;
        // 重庆市 is a province-level municipality: 渝中区 sits right under it.
        let (status, cq) = create(app, &admin, json!({"name": "重庆市妇联", "kind": "province"})).await;
        assert_eq!(status, StatusCode::CREATED, "{cq}");
        let (status, yz) = create(app, &admin, json!({"name": "渝中区妇联", "kind": "county", "parent_id": id_of(&cq)})).await;
        assert_eq!(status, StatusCode::CREATED, "{yz}");
        assert_eq!(yz["kind"], "county");
        assert!(yz.get("partner_type").is_none(), "{yz}");
        let (status, school) = create(app, &admin, json!({"name": "新凤小学", "kind": "school", "parent_id": id_of(&yz)})).await;
        assert_eq!(status, StatusCode::CREATED, "{school}");
        // The other rules stay: no city under a county, no county under a county.
        for (kind, parent) in [("city", id_of(&yz)), ("county", id_of(&yz)), ("class", id_of(&yz))] {
            let (status, body) = create(app, &admin, json!({"name": "错层", "kind": kind, "parent_id": parent})).await;
            let p = assert_problem(status, &body, 422, "validation_failed");
            assert_eq!(p["errors"][0]["field"], "parent_id", "{p}");
        }

        // A partner unit has a type, under a province, city or county.
        let (status, museum) = create(
            app,
            &admin,
            json!({"name": "重庆中国三峡博物馆", "kind": "partner", "partner_type": "museum", "parent_id": id_of(&cq)}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{museum}");
        assert_eq!(museum["partner_type"], "museum");
        let (status, body) = create(app, &admin, json!({"name": "无类型", "kind": "partner", "parent_id": id_of(&yz)})).await;
        let p = assert_problem(status, &body, 422, "validation_failed");
        assert_eq!(p["errors"][0]["field"], "partner_type", "{p}");
        assert!(p["errors"][0]["detail"].as_str().unwrap_or_default().contains("类型"), "{p}");
        let (status, body) = create(
            app,
            &admin,
            json!({"name": "学校", "kind": "school", "partner_type": "library", "parent_id": id_of(&yz)}),
        )
        .await;
        assert_problem(status, &body, 422, "validation_failed");
        let (status, body) = create(
            app,
            &admin,
            json!({"name": "馆", "kind": "partner", "partner_type": "zoo", "parent_id": id_of(&yz)}),
        )
        .await;
        assert_problem(status, &body, 422, "invalid_body");
        for parent in [id_of(&school), id_of(&museum)] {
            let (status, body) = create(
                app,
                &admin,
                json!({"name": "馆", "kind": "partner", "partner_type": "library", "parent_id": parent}),
            )
            .await;
            assert_problem(status, &body, 422, "validation_failed");
        }
        let (status, body) = create(app, &admin, json!({"name": "班", "kind": "class", "parent_id": id_of(&museum)})).await;
        assert_problem(status, &body, 422, "validation_failed");
    }

    async fn partners_serve_schools_and_their_staff_publish_there_and_nowhere_else(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let city = app.org("杭州市妇联", "city", Some(&province)).await;
        let county = app.org("西湖区妇联", "county", Some(&city)).await;
        let other_county = app.org("上城区妇联", "county", Some(&city)).await;
        let served = app.org("西湖小学", "school", Some(&county)).await;
        let served_class = app.org("三年级二班", "class", Some(&served)).await;
        let unserved = app.org("文三街小学", "school", Some(&county)).await;
        let elsewhere = app.org("上城小学", "school", Some(&other_county)).await;
        let county_curator = app.user_with_role("13700000001", "curator", Some(&county)).await;
        let other_curator = app.user_with_role("13700000002", "curator", Some(&other_county)).await;

        // The county's curator adds a police station under the county and links its schools.
        let (status, police) = create(
            app,
            &county_curator,
            json!({"name": "西湖派出所", "kind": "partner", "partner_type": "police", "parent_id": county}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{police}");
        let police = id_of(&police);
        let serves = format!("/api/v1/organizations/{police}/serves");
        let (status, body) = app.call(Method::PUT, &serves, Some(&county_curator), json!({"org_ids": [served, served]})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(names(&body["organizations"]), ["西湖小学"], "a repeated id counts once: {body}");
        // Not a class, not another partner, not outside what the curator manages; unknown ids
        // name their place.
        let (status, body) = app.call(Method::PUT, &serves, Some(&county_curator), json!({"org_ids": [served, served_class]})).await;
        let p = assert_problem(status, &body, 422, "validation_failed");
        assert_eq!(p["errors"][0]["field"], "org_ids[1]", "{p}");
        let (status, body) = app.call(Method::PUT, &serves, Some(&county_curator), json!({"org_ids": [police]})).await;
        assert_problem(status, &body, 422, "validation_failed");
        let (status, body) = app.call(Method::PUT, &serves, Some(&county_curator), json!({"org_ids": [elsewhere]})).await;
        assert_problem(status, &body, 403, "out_of_scope");
        let (status, body) = app
            .call(Method::PUT, &serves, Some(&county_curator), json!({"org_ids": ["00000000-0000-7000-8000-000000000000"]}))
            .await;
        let p = assert_problem(status, &body, 422, "validation_failed");
        assert_eq!(p["errors"][0]["field"], "org_ids[0]", "{p}");
        let (status, body) = app.call(Method::PUT, &serves, Some(&other_curator), json!({"org_ids": []})).await;
        assert_problem(status, &body, 403, "out_of_scope");
        let (status, body) = app
            .call(Method::PUT, &format!("/api/v1/organizations/{served}/serves"), Some(&county_curator), json!({"org_ids": []}))
            .await;
        assert_problem(status, &body, 422, "not_a_partner");
        // A refused change left the set as it was.
        let (_, body) = app.get(&serves, Some(&county_curator)).await;
        assert_eq!(names(&body["organizations"]), ["西湖小学"], "{body}");

        // The tree shows both sides.
        let (_, detail) = app.get(&format!("/api/v1/organizations/{police}"), Some(&county_curator)).await;
        assert_eq!(detail["partner_type"], "police");
        assert_eq!(names(&detail["serves"]), ["西湖小学"], "{detail}");
        let (_, detail) = app.get(&format!("/api/v1/organizations/{served_class}"), Some(&county_curator)).await;
        assert_eq!(names(&detail["served_by"]), ["西湖派出所"], "a class sees who serves its school: {detail}");
        let (_, detail) = app.get(&format!("/api/v1/organizations/{unserved}"), Some(&county_curator)).await;
        assert_eq!(names(&detail["served_by"]), Vec::<String>::new(), "{detail}");

        // The station's officer (an expert) and its curator publish to the school they serve.
        let officer = app.user_with_role("13600000001", "expert", Some(&police)).await;
        let station_curator = app.user_with_role("13700000003", "curator", Some(&police)).await;
        let (_, me) = app.get("/api/v1/me", Some(&officer)).await;
        let officer_id = me["id"].as_str().unwrap_or_default().to_owned();
        let series = |scope: &str| {
            json!({"title": "校园安全讲座", "rrule": "FREQ=WEEKLY;COUNT=1", "starts_at": next_week(),
                   "duration_minutes": 60, "capacity": 100, "scope_org_id": scope, "expert_id": officer_id})
        };
        for (who, token) in [("expert", &officer), ("curator", &station_curator)] {
            for ok in [&served, &served_class, &police] {
                let (status, body) = app.post("/api/v1/live/series", Some(token), series(ok)).await;
                assert_eq!(status, StatusCode::CREATED, "{who} → {ok}: {body}");
            }
            for no in [&unserved, &county, &elsewhere] {
                let (status, body) = app.post("/api/v1/live/series", Some(token), series(no)).await;
                assert_problem(status, &body, 403, "out_of_scope");
            }
            let (status, body) = app
                .post("/api/v1/live/series", Some(token), {
                    let mut s = series(&served);
                    s["scope_org_id"] = Value::Null;
                    s
                })
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{who} → everyone: {body}");
        }

        // A course of the station for the served school: its curator publishes it, and the
        // school's parents see it while another school's do not.
        let course = |scope: &str| {
            json!({"title": "防诈骗家长课", "age_stages": ["6-12"], "scope_org_id": scope,
                   "lessons": [{"title": "第一讲", "duration_s": 600}]})
        };
        let (status, body) = app.post("/api/v1/courses", Some(&officer), course(&unserved)).await;
        assert_problem(status, &body, 403, "out_of_scope");
        let (status, body) = app.post("/api/v1/courses", Some(&station_curator), course(&elsewhere)).await;
        assert_problem(status, &body, 403, "out_of_scope");
        let (status, body) = app
            .post("/api/v1/courses", Some(&station_curator), {
                let mut c = course(&served);
                c["visibility"] = json!("public");
                c
            })
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "only province staff publish to everyone: {body}");
        let (status, c) = app.post("/api/v1/courses", Some(&officer), course(&served)).await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        let id = id_of(&c);
        assert_eq!(c["owner_org_id"], police.as_str(), "{c}");
        let (status, body) = app
            .post(&format!("/api/v1/courses/{id}/transitions"), Some(&officer), json!({"to": "in_review"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // The served school's curator sees it in their review queue; another school's does not.
        let school_curator = app.user_with_role("13700000004", "curator", Some(&served)).await;
        let unserved_curator = app.user_with_role("13700000005", "curator", Some(&unserved)).await;
        let queue = |token: String| {
            let app = &app;
            async move {
                let (status, body) = app.get("/api/v1/courses?status=in_review", Some(&token)).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                body["items"].as_array().into_iter().flatten().filter_map(|c| c["title"].as_str().map(str::to_owned)).collect::<Vec<_>>()
            }
        };
        assert_eq!(queue(school_curator.clone()).await, ["防诈骗家长课"]);
        assert_eq!(queue(county_curator.clone()).await, ["防诈骗家长课"], "the county manages the station");
        assert_eq!(queue(unserved_curator).await, Vec::<String>::new());
        let (status, _) = app.get(&format!("/api/v1/courses/{id}"), Some(&school_curator)).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = app
            .post(&format!("/api/v1/courses/{id}/transitions"), Some(&station_curator), json!({"to": "published"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let parent_in = app.user_with_role("13800000001", "parent", Some(&served_class)).await;
        let parent_out = app.user_with_role("13800000002", "parent", Some(&unserved)).await;
        let (status, _) = app.get(&format!("/api/v1/courses/{id}"), Some(&parent_in)).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = app.get(&format!("/api/v1/courses/{id}"), Some(&parent_out)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Serving is not managing: the station's curator cannot see the school's members.
        let (status, body) = app.get(&format!("/api/v1/organizations/{served}/members"), Some(&station_curator)).await;
        assert_problem(status, &body, 403, "out_of_scope");

        // Once the link goes, so does the right to publish there.
        let (status, _) = app.call(Method::PUT, &serves, Some(&county_curator), json!({"org_ids": []})).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = app.post("/api/v1/live/series", Some(&officer), series(&served)).await;
        assert_problem(status, &body, 403, "out_of_scope");
    }
}
