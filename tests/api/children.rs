//! 我的孩子: a nickname and a birth month or grade, nothing more; the stage computed from them;
//! the home page's rows by the children's stages (own school's lists first, then the region's),
//! search by "我的孩子", and removal at any time (and with the account).

use e2e::{TestApp, assert_problem, both_databases, token_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// `(year, month)` `months` months before this month in China (negative: ahead).
fn months_ago(months: i32) -> (i32, u8) {
    let now =
        time::OffsetDateTime::now_utc().to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC));
    let total = now.year() * 12 + i32::from(u8::from(now.month())) - 1 - months;
    (
        total.div_euclid(12),
        u8::try_from(total.rem_euclid(12) + 1).unwrap_or(1),
    )
}

async fn add(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, child) = app.post("/api/v1/me/children", Some(token), body).await;
    assert_eq!(status, StatusCode::CREATED, "{child}");
    child
}

fn titles(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["title"].as_str().map(str::to_owned))
        .collect()
}

async fn published_course(app: &TestApp, curator: &str, title: &str, stage: &str, scope: &str) -> String {
    let (status, c) = app
        .post(
            "/api/v1/courses",
            Some(curator),
            json!({"title": title, "age_stages": [stage], "scope_org_id": scope, "owner_org_id": scope,
                   "lessons": [{"title": "第一讲", "duration_s": 600}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let id = c["id"].as_str().unwrap_or_default().to_owned();
    for to in ["in_review", "published"] {
        let (status, body) = app
            .post(
                &format!("/api/v1/courses/{id}/transitions"),
                Some(curator),
                json!({"to": to}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{to}: {body}");
    }
    id
}

async fn list(app: &TestApp, curator: &str, title: &str, scope: &str, courses: &[&str]) {
    let (status, l) = app
        .post(
            "/api/v1/lists",
            Some(curator),
            json!({"title": title, "year": 2026, "theme": "家庭教育", "scope_org_id": scope, "owner_org_id": scope}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{l}");
    let id = l["id"].as_str().unwrap_or_default();
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/api/v1/lists/{id}/items"),
            Some(curator),
            json!({"course_ids": courses, "version": l["version"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

both_databases! {
    async fn a_parent_adds_children_by_birth_month_or_grade_and_removes_them(app) {
        let parent = token_of(&app.register("13812345678", "abc12345x").await);
        let other = token_of(&app.register("13812345679", "abc12345x").await);

        // The stage is computed from the month: one month short of three is still 0–3.
        let (y, m) = months_ago(35);
        let baby = add(app, &parent, json!({"nickname": "小宝", "birth_year": y, "birth_month": m})).await;
        assert_eq!((baby["stage"].as_str(), baby["stage_label"].as_str()), (Some("0-3"), Some("0–3 岁")), "{baby}");
        let (y, m) = months_ago(36);
        let three = add(app, &parent, json!({"nickname": "二宝", "birth_year": y, "birth_month": m})).await;
        assert_eq!(three["stage"], "3-6", "{three}");
        let (y, m) = months_ago(-5);
        let due = add(app, &parent, json!({"nickname": "三宝", "birth_year": y, "birth_month": m})).await;
        assert_eq!((due["stage"].as_str(), due["stage_label"].as_str()), (Some("prenatal"), Some("孕期")), "{due}");
        let pupil = add(app, &parent, json!({"nickname": "大宝", "grade": 7})).await;
        assert_eq!(
            (pupil["stage"].as_str(), pupil["grade"].as_i64(), pupil["grade_label"].as_str()),
            (Some("12-15"), Some(7), Some("初一")),
            "{pupil}"
        );
        assert!(pupil["birth_year"].is_null(), "{pupil}");

        // Only a nickname and one of the two; no names, nothing else.
        let (y, m) = months_ago(60);
        for (body, field) in [
            (json!({"nickname": "", "grade": 1}), "nickname"),
            (json!({"nickname": "一二三四五六七八九十一二三四五六七八九十一", "grade": 1}), "nickname"),
            (json!({"nickname": "宝", "grade": 1, "birth_year": y, "birth_month": m}), "grade"),
            (json!({"nickname": "宝"}), "birth_year"),
            (json!({"nickname": "宝", "birth_year": y}), "birth_month"),
            (json!({"nickname": "宝", "birth_year": y, "birth_month": 13}), "birth_month"),
            (json!({"nickname": "宝", "birth_year": months_ago(-11).0, "birth_month": months_ago(-11).1}), "birth_year"),
            (json!({"nickname": "宝", "birth_year": months_ago(216).0, "birth_month": months_ago(216).1}), "birth_year"),
            (json!({"nickname": "宝", "grade": 13}), "grade"),
            (json!({"nickname": "宝", "grade": -3}), "grade"),
        ] {
            let (status, p) = app.post("/api/v1/me/children", Some(&parent), body.clone()).await;
            let p = assert_problem(status, &p, 422, "validation_failed");
            assert_eq!(p["errors"][0]["field"], field, "{body} → {p}");
            assert!(!p["errors"][0]["detail"].as_str().unwrap_or_default().is_ascii(), "Chinese by default: {p}");
        }
        let (status, p) = app
            .post("/api/v1/me/children", Some(&parent), json!({"nickname": "宝", "grade": 1, "name": "张小明"}))
            .await;
        assert_problem(status, &p, 422, "invalid_body");
        let (status, p) = app.post("/api/v1/me/children", None, json!({"nickname": "宝", "grade": 1})).await;
        assert_problem(status, &p, 401, "unauthenticated");

        let (_, mine) = app.get("/api/v1/me/children", Some(&parent)).await;
        let names: Vec<&str> = mine.as_array().into_iter().flatten().filter_map(|c| c["nickname"].as_str()).collect();
        assert_eq!(names, ["小宝", "二宝", "三宝", "大宝"], "in the order added: {mine}");

        // Each parent's own only; removal at once.
        let id = baby["id"].as_str().unwrap_or_default();
        let (status, body) = app.get(&format!("/api/v1/me/children/{id}"), Some(&other)).await;
        assert_problem(status, &body, 404, "child_not_found");
        let (status, body) = app.call(Method::DELETE, &format!("/api/v1/me/children/{id}"), Some(&other), json!(null)).await;
        assert_problem(status, &body, 404, "child_not_found");
        let (status, _) = app.call(Method::DELETE, &format!("/api/v1/me/children/{id}"), Some(&parent), json!(null)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app.get(&format!("/api/v1/me/children/{id}"), Some(&parent)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, mine) = app.get("/api/v1/me/children", Some(&parent)).await;
        assert_eq!(mine.as_array().map(Vec::len), Some(3));

        // At most ten.
        for i in 0..7 {
            add(app, &parent, json!({"nickname": format!("宝{i}"), "grade": 1})).await;
        }
        let (status, p) = app.post("/api/v1/me/children", Some(&parent), json!({"nickname": "十一", "grade": 1})).await;
        assert_problem(status, &p, 422, "validation_failed");

        // Deleting the account deletes the children with it.
        let (_, me) = app.get("/api/v1/me", Some(&parent)).await;
        let user: platform::ids::UserId = me["id"].as_str().unwrap_or_default().parse().unwrap_or_else(|e| panic!("{e}"));
        let (status, body) = app.call(Method::DELETE, "/api/v1/me", Some(&parent), json!({"password": "abc12345x"})).await;
        assert!(status.is_success(), "{status} {body}");
        let handle = app.handle().await;
        let left: i64 = platform::with_db!(&handle.db, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM children WHERE user_id = $1")
            .bind(user)
            .fetch_one(pool)
            .await)
        .unwrap_or_else(|e| panic!("{e}"));
        handle.db.close().await;
        assert_eq!(left, 0);
    }

    async fn the_home_page_recommends_by_the_childrens_stages_own_school_first(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let county = app.org("西湖区妇联", "county", Some(&province)).await;
        let school = app.org("西湖小学", "school", Some(&county)).await;
        let class = app.org("三年级二班", "class", Some(&school)).await;
        let province_curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
        let school_curator = app.user_with_role("13700000002", "curator", Some(&school)).await;
        let parent = app.user_with_role("13800000001", "parent", Some(&class)).await;
        let childless = app.user_with_role("13800000002", "parent", Some(&class)).await;

        let region = published_course(app, &province_curator, "省级：沟通的艺术", "6-12", &province).await;
        let newest = published_course(app, &province_curator, "省级：新课", "6-12", &province).await;
        let _ = newest;
        let toddler = published_course(app, &province_curator, "省级：幼小衔接", "3-6", &province).await;
        let ours = published_course(app, &school_curator, "校级：作业不拖拉", "6-12", &school).await;
        let ours_small = published_course(app, &school_curator, "校级：入园焦虑", "3-6", &school).await;
        let _teen = published_course(app, &province_curator, "省级：青春期", "12-15", &province).await;
        list(app, &province_curator, "浙江省 2026 年度优秀课程", &province, &[&toddler, &region]).await;
        list(app, &school_curator, "西湖小学家长必修", &school, &[&ours_small, &ours]).await;

        let (status, none) = app.get("/api/v1/me/recommendations", Some(&childless)).await;
        assert_eq!(status, StatusCode::OK, "{none}");
        assert_eq!(none["rows"], json!([]));

        add(app, &parent, json!({"nickname": "哥哥", "grade": 3})).await;
        let (y, m) = months_ago(48);
        add(app, &parent, json!({"nickname": "妹妹", "birth_year": y, "birth_month": m})).await;
        let (status, rec) = app.get("/api/v1/me/recommendations", Some(&parent)).await;
        assert_eq!(status, StatusCode::OK, "{rec}");
        let rows = rec["rows"].as_array().cloned().unwrap_or_default();
        assert_eq!(rows.len(), 2, "a row per child: {rec}");
        assert_eq!((rows[0]["nickname"].as_str(), rows[0]["stage"].as_str()), (Some("哥哥"), Some("6-12")));
        // The school's list first, the province's next, then the newest other course.
        assert_eq!(titles(&rows[0]["courses"]), ["校级：作业不拖拉", "省级：沟通的艺术", "省级：新课"], "{rec}");
        assert_eq!(rows[0]["courses"][0]["list_title"], "西湖小学家长必修");
        assert_eq!(rows[0]["courses"][1]["list_title"], "浙江省 2026 年度优秀课程");
        assert!(rows[0]["courses"][2]["list_title"].is_null());
        assert_eq!((rows[1]["nickname"].as_str(), rows[1]["stage"].as_str()), (Some("妹妹"), Some("3-6")));
        assert_eq!(titles(&rows[1]["courses"]), ["校级：入园焦虑", "省级：幼小衔接"], "{rec}");

        // Search by 我的孩子: the courses of either child's stage, none of the teenager's.
        let (status, found) = app.get("/api/v1/courses?age_stage=mine&limit=50", Some(&parent)).await;
        assert_eq!(status, StatusCode::OK, "{found}");
        let mut got = titles(&found["items"]);
        got.sort();
        let mut want = vec!["校级：作业不拖拉", "省级：沟通的艺术", "省级：新课", "校级：入园焦虑", "省级：幼小衔接"];
        want.sort();
        assert_eq!(got, want);
        let (_, found) = app.get("/api/v1/courses?age_stage=mine", Some(&childless)).await;
        assert_eq!(found["items"], json!([]), "no child, no stage: {found}");
        let (status, body) = app.get("/api/v1/courses?age_stage=mine", None).await;
        assert_problem(status, &body, 422, "validation_failed");
    }
}
