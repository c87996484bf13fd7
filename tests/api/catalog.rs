//! Catalog through the HTTP API: review workflow, scopes, search, lists, caching, covers.

use e2e::{TestApp, assert_problem, both_databases, raw};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A province with two counties, a curator for the province, one per county, an expert and a
/// parent in county A's school, a parent in county B.
struct World {
    county_b: String,
    province_curator: String,
    curator_a: String,
    curator_b: String,
    expert_a: String,
    parent_a: String,
    parent_b: String,
}

async fn world(app: &TestApp) -> World {
    let province = app.org("浙江省妇联", "province", None).await;
    let city = app.org("杭州市妇联", "city", Some(&province)).await;
    let county_a = app.org("西湖区妇联", "county", Some(&city)).await;
    let county_b = app.org("上城区妇联", "county", Some(&city)).await;
    let school_a = app.org("西湖小学", "school", Some(&county_a)).await;
    let school_b = app.org("上城小学", "school", Some(&county_b)).await;
    World {
        province_curator: app.user_with_role("13700000001", "curator", Some(&province)).await,
        curator_a: app.user_with_role("13700000002", "curator", Some(&county_a)).await,
        curator_b: app.user_with_role("13700000003", "curator", Some(&county_b)).await,
        expert_a: app.user_with_role("13600000001", "expert", Some(&school_a)).await,
        parent_a: app.user_with_role("13800000001", "parent", Some(&school_a)).await,
        parent_b: app.user_with_role("13800000002", "parent", Some(&school_b)).await,
        county_b,
    }
}

fn lesson(title: &str) -> Value {
    json!({"title": title, "duration_s": 600})
}

/// Creates a course as `token` and returns its JSON.
async fn course(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, body) = app.post("/api/v1/courses", Some(token), body).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn publish(app: &TestApp, curator: &str, id: &str) {
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
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect()
}

fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["title"].as_str().map(str::to_owned))
        .collect()
}

both_databases! {
    async fn review_workflow_and_visibility(app) {
        let w = world(app).await;
        // An expert writes a draft for their school; nobody else sees it yet.
        let draft = course(app, &w.expert_a, json!({
            "title": "如何与青春期孩子沟通", "summary": "倾听、共情与规则。", "age_stages": ["12-15"],
            "topics": ["亲子沟通"], "tags": ["青春期"], "lecturer": {"name": "李老师", "title": "华东师范大学 教授"},
            "lessons": [lesson("第一讲"), lesson("第二讲")]
        })).await;
        let id = draft["id"].as_str().unwrap_or_default().to_owned();
        assert_eq!(draft["status"], "draft");
        assert_eq!(draft["version"], 1);
        assert_eq!(draft["lessons"].as_array().map(Vec::len), Some(2));
        assert_eq!(draft["editable"], true);
        let path = format!("/api/v1/courses/{id}");
        let (status, _) = app.get(&path, Some(&w.parent_a)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // The expert submits; the curator of the other county may not publish it, nor may the expert.
        let tr = format!("/api/v1/courses/{id}/transitions");
        let (status, body) = app.post(&tr, Some(&w.expert_a), json!({"to": "in_review"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = app.post(&tr, Some(&w.expert_a), json!({"to": "published"})).await;
        assert_problem(status, &body, 403, "forbidden_transition");
        let (status, body) = app.post(&tr, Some(&w.curator_b), json!({"to": "published"})).await;
        assert_problem(status, &body, 404, "course_not_found");
        // Sending back needs a reason; a bad jump is a conflict.
        let (status, body) = app.post(&tr, Some(&w.curator_a), json!({"to": "draft"})).await;
        assert_problem(status, &body, 422, "validation_failed");
        let (status, body) = app.post(&tr, Some(&w.curator_a), json!({"to": "archived"})).await;
        assert_problem(status, &body, 409, "invalid_transition");
        let (status, body) = app.post(&tr, Some(&w.curator_a), json!({"to": "draft", "comment": "请补充第二讲的字幕"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _) = app.post(&tr, Some(&w.expert_a), json!({"to": "in_review"})).await;
        assert_eq!(status, StatusCode::OK);
        // The province curator covers the county too.
        let (status, body) = app.post(&tr, Some(&w.province_curator), json!({"to": "published", "comment": "通过"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "published");

        // Parents in scope see it; out of scope and anonymous do not.
        let (status, seen) = app.get(&path, Some(&w.parent_a)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(seen["editable"], false);
        let (status, _) = app.get(&path, Some(&w.parent_b)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app.get(&path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // The trail has who, when and the comment; the author sees it, other parents do not.
        let (status, trail) = app.get(&format!("/api/v1/courses/{id}/reviews"), Some(&w.curator_a)).await;
        assert_eq!(status, StatusCode::OK, "{trail}");
        let steps: Vec<(String, String)> = trail.as_array().into_iter().flatten()
            .map(|e| (e["from"].as_str().unwrap_or_default().to_owned(), e["to"].as_str().unwrap_or_default().to_owned())).collect();
        assert_eq!(steps.len(), 4, "{trail}");
        assert_eq!(trail[1]["comment"], "请补充第二讲的字幕");
        assert!(trail[3]["actor_name"].as_str().is_some_and(|n| n.contains("curator")), "{trail}");
        let (status, _) = app.get(&format!("/api/v1/courses/{id}/reviews"), Some(&w.parent_a)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Authors edit drafts only; curators in scope edit any time.
        let (status, body) = app.call(Method::PATCH, &path, Some(&w.expert_a), json!({"summary": "x"})).await;
        assert_problem(status, &body, 403, "forbidden_edit");
        let (status, edited) = app.call(Method::PATCH, &path, Some(&w.curator_a), json!({"summary": "倾听与共情", "version": seen["version"]})).await;
        assert_eq!(status, StatusCode::OK, "{edited}");
        let (status, body) = app.call(Method::PATCH, &path, Some(&w.curator_a), json!({"summary": "旧版本", "version": seen["version"]})).await;
        assert_problem(status, &body, 409, "version_conflict");

        // Public visibility: only province-level curators (and admins).
        let (status, body) = app.call(Method::PATCH, &path, Some(&w.curator_a), json!({"visibility": "public"})).await;
        assert_problem(status, &body, 403, "public_not_allowed");
        let (status, body) = app.call(Method::PATCH, &path, Some(&w.province_curator), json!({"visibility": "public"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _) = app.get(&path, None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = app.get(&path, Some(&w.parent_b)).await;
        assert_eq!(status, StatusCode::OK);

        // A course without lessons cannot be published.
        let empty = course(app, &w.curator_a, json!({"title": "空课程", "age_stages": ["3-6"]})).await;
        let etr = format!("/api/v1/courses/{}/transitions", empty["id"].as_str().unwrap_or_default());
        app.post(&etr, Some(&w.curator_a), json!({"to": "in_review"})).await;
        let (status, body) = app.post(&etr, Some(&w.curator_a), json!({"to": "published"})).await;
        assert_problem(status, &body, 422, "course_has_no_lessons");

        // Scoping to another county is refused for a county curator.
        let (status, body) = app.post("/api/v1/courses", Some(&w.curator_a), json!({"title": "越界", "age_stages": ["3-6"], "scope_org_id": w.county_b})).await;
        assert_problem(status, &body, 403, "out_of_scope");
        let (status, body) = app.post("/api/v1/courses", Some(&w.parent_a), json!({"title": "家长写课", "age_stages": ["3-6"]})).await;
        assert_problem(status, &body, 403, "forbidden_role");

        // The external ids replays were once found by are reserved: a course cannot claim the
        // one a series' replays would go to, on creation or by an edit.
        let claim = format!("live-replay-{}", uuid::Uuid::now_v7());
        let (status, body) = app
            .post("/api/v1/courses", Some(&w.curator_a), json!({"title": "冒名回放", "age_stages": ["3-6"], "external_id": claim}))
            .await;
        let body = assert_problem(status, &body, 422, "validation_failed");
        assert_eq!(body["errors"][0]["field"], "external_id", "{body}");
        let (status, body) = app
            .call(Method::PATCH, &format!("/api/v1/courses/{}", empty["id"].as_str().unwrap_or_default()), Some(&w.curator_a), json!({"external_id": claim, "version": empty["version"]}))
            .await;
        assert_problem(status, &body, 422, "validation_failed");
    }

    async fn bad_course_input_writes_nothing(app) {
        let w = world(app).await;
        for (body, field) in [
            (json!({"title": "", "age_stages": ["3-6"]}), "title"),
            (json!({"title": "长".repeat(300), "age_stages": ["3-6"]}), "title"),
            (json!({"title": "好课", "age_stages": ["7-9"]}), "age_stages"),
            (json!({"title": "好课", "age_stages": []}), "age_stages"),
            (json!({"title": "好课", "age_stages": ["3-6"], "topics": ["不存在的主题"]}), "topics"),
            (json!({"title": "好课", "age_stages": ["3-6"], "year": 1999}), "year"),
            (json!({"title": "好课", "age_stages": ["3-6"], "lessons": [{"title": "", "duration_s": 5}]}), "lessons[0].title"),
        ] {
            let (status, problem) = app.post("/api/v1/courses", Some(&w.curator_a), body.clone()).await;
            let problem = assert_problem(status, &problem, 422, "validation_failed");
            assert!(problem["errors"].as_array().into_iter().flatten().any(|e| e["field"] == field), "{field}: {problem}");
        }
        let (status, body) = app.post("/api/v1/courses", Some(&w.curator_a), json!({"title": "好课", "age_stages": ["3-6"], "colour": "red"})).await;
        assert_problem(status, &body, 422, "invalid_body");
        let (_, mine) = app.get("/api/v1/courses", Some(&w.curator_a)).await;
        assert_eq!(mine["items"], json!([]), "nothing half-written: {mine}");
    }

    async fn chinese_search_ranks_filters_and_pages(app) {
        let w = world(app).await;
        let c = &w.province_curator;
        let mut made = Vec::new();
        for (title, summary, stages, topics, year) in [
            ("亲子沟通的十个技巧", "日常对话练习。", vec!["6-12"], vec!["亲子沟通"], 2025),
            ("青春期心理", "如何与孩子有效沟通，缓解考试焦虑。", vec!["12-15"], vec!["心理健康"], 2025),
            ("安全教育：防溺水", "暑期安全。", vec!["6-12", "12-15"], vec!["安全教育"], 2024),
            ("少玩手机的好习惯", "手机使用约定与沟通。", vec!["6-12"], vec!["学习习惯"], 2025),
        ] {
            let body = course(app, c, json!({"title": title, "summary": summary, "age_stages": stages, "topics": topics,
                "year": year, "visibility": "public", "lessons": [lesson("一")]})).await;
            let id = body["id"].as_str().unwrap_or_default().to_owned();
            publish(app, c, &id).await;
            made.push(id);
        }
        // Two-character words found anywhere; the title match ranks first.
        let (status, page) = app.get("/api/v1/courses?q=%E6%B2%9F%E9%80%9A", None).await; // 沟通
        assert_eq!(status, StatusCode::OK, "{page}");
        let found = titles(&page);
        assert_eq!(found.first().map(String::as_str), Some("亲子沟通的十个技巧"), "{found:?}");
        assert_eq!(found.len(), 3, "{found:?}");
        for (q, want) in [("焦虑", vec!["青春期心理"]), ("手机", vec!["少玩手机的好习惯"]), ("防溺水", vec!["安全教育：防溺水"]), ("考试焦虑", vec!["青春期心理"])] {
            let (_, page) = app.get(&format!("/api/v1/courses?q={}", urlencode(q)), None).await;
            assert_eq!(titles(&page), want, "{q}");
        }
        // A phrase must occur as such, not just its bigrams.
        let (_, page) = app.get(&format!("/api/v1/courses?q={}", urlencode("沟通焦虑")), None).await;
        assert_eq!(titles(&page), Vec::<String>::new());
        // Filters.
        let (_, page) = app.get(&format!("/api/v1/courses?q={}&age_stage=12-15", urlencode("沟通")), None).await;
        assert_eq!(titles(&page), ["青春期心理"]);
        let (_, page) = app.get(&format!("/api/v1/courses?topic={}", urlencode("安全教育")), None).await;
        assert_eq!(titles(&page), ["安全教育：防溺水"]);
        let (_, page) = app.get("/api/v1/courses?year=2024", None).await;
        assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
        // Cursor pagination over search results visits everything once.
        let (_, first) = app.get(&format!("/api/v1/courses?q={}&limit=2", urlencode("沟通")), None).await;
        assert_eq!(ids(&first).len(), 2);
        let cursor = first["next_cursor"].as_str().unwrap_or_default().to_owned();
        let (_, second) = app.get(&format!("/api/v1/courses?q={}&limit=2&cursor={cursor}", urlencode("沟通")), None).await;
        assert_eq!(ids(&second).len(), 1);
        assert!(second["next_cursor"].is_null());
        // A write is searchable as soon as it returns.
        let body = course(app, c, json!({"title": "隔代教养", "summary": "祖辈如何与父母沟通分工", "age_stages": ["0-3"], "visibility": "public", "lessons": [lesson("一")]})).await;
        publish(app, c, body["id"].as_str().unwrap_or_default()).await;
        let (_, page) = app.get(&format!("/api/v1/courses?q={}", urlencode("分工")), None).await;
        assert_eq!(titles(&page), ["隔代教养"]);
        let (_, edited) = app.call(Method::PATCH, &format!("/api/v1/courses/{}", body["id"].as_str().unwrap_or_default()), Some(c), json!({"summary": "祖辈参与"})).await;
        assert_eq!(edited["summary"], "祖辈参与");
        let (_, page) = app.get(&format!("/api/v1/courses?q={}", urlencode("分工")), None).await;
        assert_eq!(titles(&page), Vec::<String>::new());

        // Bad queries.
        let long = "沟".repeat(1000);
        for (q, field) in [(long.as_str(), "q"), ("？！。。", "q")] {
            let (status, body) = app.get(&format!("/api/v1/courses?q={}", urlencode(q)), None).await;
            let body = assert_problem(status, &body, 422, "validation_failed");
            assert_eq!(body["errors"][0]["field"], field);
        }
        let (status, body) = app.get("/api/v1/courses?age_stage=9-99", None).await;
        assert_problem(status, &body, 422, "validation_failed");
        let (status, body) = app.get(&format!("/api/v1/courses?topic={}", urlencode("火星")), None).await;
        assert_problem(status, &body, 422, "validation_failed");
        let (status, body) = app.get("/api/v1/courses?year=abc", None).await;
        assert_problem(status, &body, 422, "invalid_query");
        let (status, body) = app.get("/api/v1/courses?cursor=%%%", None).await;
        assert!(status == 422 || status == 400, "{body}");
        let _ = made;
    }

    async fn curated_lists(app) {
        let w = world(app).await;
        let mut courses = Vec::new();
        for title in ["家风家教一", "家风家教二", "家风家教三"] {
            let body = course(app, &w.curator_a, json!({"title": title, "age_stages": ["6-12"], "lessons": [lesson("一")]})).await;
            let id = body["id"].as_str().unwrap_or_default().to_owned();
            publish(app, &w.curator_a, &id).await;
            courses.push(id);
        }
        let draft = course(app, &w.curator_a, json!({"title": "草稿课", "age_stages": ["6-12"]})).await;
        let other = course(app, &w.curator_b, json!({"title": "上城课", "age_stages": ["6-12"], "lessons": [lesson("一")]})).await;
        publish(app, &w.curator_b, other["id"].as_str().unwrap_or_default()).await;

        let (status, list) = app.post("/api/v1/lists", Some(&w.curator_a), json!({"title": "2025 年度家庭教育优秀课程", "year": 2025, "theme": "家风"})).await;
        assert_eq!(status, StatusCode::CREATED, "{list}");
        let id = list["id"].as_str().unwrap_or_default().to_owned();
        let items = format!("/api/v1/lists/{id}/items");
        let (status, list) = app.call(Method::PUT, &items, Some(&w.curator_a), json!({"course_ids": [courses[2], courses[0], courses[1]], "version": 1})).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["version"], 2);
        let order: Vec<&str> = list["courses"].as_array().into_iter().flatten().filter_map(|c| c["title"].as_str()).collect();
        assert_eq!(order, ["家风家教三", "家风家教一", "家风家教二"]);

        // Stale version, unpublished and out-of-scope items.
        let (status, body) = app.call(Method::PUT, &items, Some(&w.curator_a), json!({"course_ids": [courses[0]], "version": 1})).await;
        assert_problem(status, &body, 409, "version_conflict");
        let (status, body) = app.call(Method::PUT, &items, Some(&w.curator_a), json!({"course_ids": [courses[0], draft["id"]], "version": 2})).await;
        let body = assert_problem(status, &body, 422, "invalid_list_item");
        assert_eq!(body["errors"][0]["field"], "course_ids[1]");
        let (status, body) = app.call(Method::PUT, &items, Some(&w.province_curator), json!({"course_ids": [other["id"]], "version": 2})).await;
        assert_problem(status, &body, 422, "invalid_list_item");
        let (_, unchanged) = app.get(&format!("/api/v1/lists/{id}"), Some(&w.curator_a)).await;
        assert_eq!(unchanged["course_count"], 3, "nothing half-written");
        let (status, body) = app.call(Method::PUT, &items, Some(&w.curator_b), json!({"course_ids": [], "version": 2})).await;
        assert_eq!(status.as_u16(), 404, "{body}");

        // The parent in scope finds it on the home page, in order; the other parent does not.
        let (status, home) = app.get("/api/v1/lists", Some(&w.parent_a)).await;
        assert_eq!(status, StatusCode::OK, "{home}");
        assert_eq!(home["items"][0]["title"], "2025 年度家庭教育优秀课程");
        assert_eq!(home["items"][0]["courses"][0]["title"], "家风家教三");
        let (_, home_b) = app.get("/api/v1/lists", Some(&w.parent_b)).await;
        assert_eq!(home_b["items"], json!([]));
        let (_, in_list) = app.get(&format!("/api/v1/courses?list={id}"), Some(&w.parent_a)).await;
        assert_eq!(ids(&in_list).len(), 3);

        // A publish window in the future hides it from parents but not from its curators.
        let (status, body) = app.call(Method::PATCH, &format!("/api/v1/lists/{id}"), Some(&w.curator_a),
            json!({"published_from": "2099-01-01T00:00:00+08:00", "version": 2})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, home) = app.get("/api/v1/lists", Some(&w.parent_a)).await;
        assert_eq!(home["items"], json!([]));
        let (_, mine) = app.get("/api/v1/lists", Some(&w.curator_a)).await;
        assert_eq!(mine["items"].as_array().map(Vec::len), Some(1));
        let (status, body) = app.call(Method::PATCH, &format!("/api/v1/lists/{id}"), Some(&w.curator_a),
            json!({"published_until": "2098-01-01T00:00:00+08:00"})).await;
        assert_problem(status, &body, 422, "validation_failed");
        let (status, body) = app.post("/api/v1/lists", Some(&w.parent_a), json!({"title": "x"})).await;
        assert_problem(status, &body, 403, "forbidden_role");
    }

    async fn catalog_gets_are_cacheable(app) {
        let w = world(app).await;
        let body = course(app, &w.province_curator, json!({"title": "公开课", "age_stages": ["0-3"], "visibility": "public", "lessons": [lesson("一")]})).await;
        let id = body["id"].as_str().unwrap_or_default().to_owned();
        publish(app, &w.province_curator, &id).await;
        for path in [format!("/api/v1/courses/{id}"), "/api/v1/courses".to_owned(), "/api/v1/topics".to_owned(), "/api/v1/lists".to_owned()] {
            let (status, headers, _) = raw(app, Method::GET, &path, &[], None).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            let etag = headers.get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            assert!(!etag.is_empty(), "{path}");
            assert_eq!(headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("public, max-age=60"));
            let (status, _, text) = raw(app, Method::GET, &path, &[("if-none-match", &etag)], None).await;
            assert_eq!(status, StatusCode::NOT_MODIFIED, "{path}");
            assert!(text.is_empty());
        }
        // Personalised answers are private; a change gives a new ETag.
        let (_, h1, _) = raw(app, Method::GET, &format!("/api/v1/courses/{id}"), &[("authorization", &format!("Bearer {}", w.parent_a))], None).await;
        assert_eq!(h1.get("cache-control").and_then(|v| v.to_str().ok()), Some("private, no-cache"));
        let (_, before, _) = raw(app, Method::GET, &format!("/api/v1/courses/{id}"), &[], None).await;
        app.call(Method::PATCH, &format!("/api/v1/courses/{id}"), Some(&w.province_curator), json!({"summary": "新的简介"})).await;
        let (_, after, _) = raw(app, Method::GET, &format!("/api/v1/courses/{id}"), &[], None).await;
        assert_ne!(before.get("etag"), after.get("etag"));
    }

    async fn covers_and_topics(app) {
        let w = world(app).await;
        let body = course(app, &w.curator_a, json!({"title": "有封面的课", "age_stages": ["3-6"]})).await;
        let id = body["id"].as_str().unwrap_or_default().to_owned();
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82".to_vec();
        let auth = format!("Bearer {}", w.curator_a);
        let (status, _, text) = raw(app, Method::PUT, &format!("/api/v1/courses/{id}/cover"), &[("authorization", &auth), ("content-type", "image/png")], Some(png.clone())).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let view: Value = serde_json::from_str(&text).unwrap_or_default();
        let url = view["cover_url"].as_str().unwrap_or_default().to_owned();
        assert!(url.starts_with(&format!("/api/v1/courses/{id}/cover/")), "{view}");
        let (status, headers, _) = raw(app, Method::GET, &url, &[], None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers.get("content-type").and_then(|v| v.to_str().ok()), Some("image/png"));
        let (status, _, text) = raw(app, Method::PUT, &format!("/api/v1/courses/{id}/cover"), &[("authorization", &auth)], Some(b"not an image".to_vec())).await;
        let problem: Value = serde_json::from_str(&text).unwrap_or_default();
        assert_problem(status, &problem, 422, "unsupported_image");

        let (_, topics) = app.get("/api/v1/topics", None).await;
        assert!(topics.as_array().is_some_and(|t| t.iter().any(|x| x["name"] == "亲子沟通")), "{topics}");
        let (status, _) = app.post("/api/v1/topics", Some(&w.curator_a), json!({"name": "隔代教育"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, body) = app.post("/api/v1/topics", Some(&w.curator_a), json!({"name": "隔代教育"})).await;
        assert_problem(status, &body, 409, "topic_exists");
        let (status, body) = app.post("/api/v1/topics", Some(&w.parent_a), json!({"name": "家长主题"})).await;
        assert_problem(status, &body, 403, "forbidden_role");
        course(app, &w.curator_a, json!({"title": "新主题课", "age_stages": ["3-6"], "topics": ["隔代教育"]})).await;
        let (_, stages) = app.get("/api/v1/age-stages", None).await;
        assert_eq!(stages[0]["code"], "prenatal");
        assert_eq!(stages[0]["label"], "孕期");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// A parent's first week #7: the list editor is offered only courses the list may take
// (published, seen by everyone who sees the list), the rule `PUT …/items` applies.
both_databases! {
    async fn the_list_editor_is_offered_only_courses_that_fit(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let city = app.org("杭州市妇联", "city", Some(&province)).await;
        let county = app.org("西湖区妇联", "county", Some(&city)).await;
        let school = app.org("西湖小学", "school", Some(&county)).await;
        let curator = app.user_with_role("13700000002", "curator", Some(&county)).await;
        let mut ids = Vec::new();
        for (title, scope) in [("全区都能看的课", &county), ("只有西湖小学能看的课", &school)] {
            let c = course(app, &curator, json!({"title": title, "age_stages": ["3-6"], "scope_org_id": scope, "lessons": [lesson("第一讲")]})).await;
            let id = c["id"].as_str().unwrap_or_default().to_owned();
            publish(app, &curator, &id).await;
            ids.push(id);
        }
        let (status, list) = app.post("/api/v1/lists", Some(&curator), json!({"title": "西湖区推荐", "year": 2026, "owner_org_id": county, "scope_org_id": county})).await;
        assert_eq!(status, StatusCode::CREATED, "{list}");
        let list_id = list["id"].as_str().unwrap_or_default();
        let (status, page) = app.get(&format!("/api/v1/courses?fits_list={list_id}"), Some(&curator)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(titles(&page), ["全区都能看的课"], "the school-only course is not offered");
        // What it leaves out is what saving would refuse.
        let (status, body) = app
            .call(Method::PUT, &format!("/api/v1/lists/{list_id}/items"), Some(&curator), json!({"course_ids": [ids[1]], "version": list["version"]}))
            .await;
        assert_problem(status, &body, 422, "invalid_list_item");
        // A list nobody may see gives 404, as elsewhere.
        let outsider = app.user_with_role("13800000009", "parent", None).await;
        let (status, _) = app.get(&format!("/api/v1/courses?fits_list={list_id}"), Some(&outsider)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

// A parent's first week: 收藏. A parent keeps courses they may see (another school's is the same
// 404 as a missing one), the latest first, page by page; a course that leaves their scope drops
// out of the list and comes back with it; deleting the account deletes them.
both_databases! {
    async fn favourites_follow_what_the_parent_may_see(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let school = app.org("西湖小学", "school", Some(&province)).await;
        let other = app.org("别的小学", "school", Some(&province)).await;
        let curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
        let parent = app.user_with_role("13800000001", "parent", Some(&school)).await;
        let mut ids = Vec::new();
        for (title, scope) in [("亲子沟通", &school), ("情绪管理", &school), ("家校共育", &school), ("别校的课", &other)] {
            let c = course(app, &curator, json!({"title": title, "age_stages": ["6-12"], "scope_org_id": scope, "lessons": [lesson("第一讲")]})).await;
            let id = c["id"].as_str().unwrap_or_default().to_owned();
            publish(app, &curator, &id).await;
            ids.push(id);
        }
        let fav = |id: &str| format!("/api/v1/me/favourites/{id}");
        let (status, state) = app.get(&fav(&ids[0]), Some(&parent)).await;
        assert_eq!((status, state["favourite"].clone()), (StatusCode::OK, json!(false)), "{state}");
        for id in &ids[..3] {
            let (status, state) = app.call(Method::PUT, &fav(id), Some(&parent), Value::Null).await;
            assert_eq!(state["favourite"], true, "{status} {state}");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // Again is the same; another school's course is not there to keep.
        let (status, _) = app.call(Method::PUT, &fav(&ids[0]), Some(&parent), Value::Null).await;
        assert_eq!(status, StatusCode::OK);
        let (status, problem) = app.call(Method::PUT, &fav(&ids[3]), Some(&parent), Value::Null).await;
        assert_problem(status, &problem, 404, "course_not_found");
        // The latest first, two to a page.
        let (_, first) = app.get("/api/v1/me/favourites?limit=2", Some(&parent)).await;
        assert_eq!(titles(&first), ["家校共育", "情绪管理"], "{first}");
        let cursor = first["next_cursor"].as_str().unwrap_or_default().to_owned();
        let (_, second) = app.get(&format!("/api/v1/me/favourites?limit=2&cursor={cursor}"), Some(&parent)).await;
        assert_eq!(titles(&second), ["亲子沟通"], "{second}");
        assert!(second["next_cursor"].is_null(), "{second}");
        let (status, _) = app.get("/api/v1/me/favourites?cursor=nonsense", Some(&parent)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        // Archived: out of the list; published again: back.
        let (status, _) = app.post(&format!("/api/v1/courses/{}/transitions", ids[1]), Some(&curator), json!({"to": "archived"})).await;
        assert_eq!(status, StatusCode::OK);
        let (_, list) = app.get("/api/v1/me/favourites", Some(&parent)).await;
        assert_eq!(titles(&list), ["家校共育", "亲子沟通"], "{list}");
        for to in ["draft", "in_review", "published"] {
            let (status, body) = app.post(&format!("/api/v1/courses/{}/transitions", ids[1]), Some(&curator), json!({"to": to, "comment": "重新上架"})).await;
            assert_eq!(status, StatusCode::OK, "{to}: {body}");
        }
        let (_, list) = app.get("/api/v1/me/favourites", Some(&parent)).await;
        assert_eq!(titles(&list), ["家校共育", "情绪管理", "亲子沟通"], "{list}");
        let (status, _) = app.call(Method::DELETE, &fav(&ids[2]), Some(&parent), Value::Null).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, list) = app.get("/api/v1/me/favourites", Some(&parent)).await;
        assert_eq!(titles(&list), ["情绪管理", "亲子沟通"], "{list}");
        // Deleting the account deletes its favourites.
        let (status, body) = app.call(Method::DELETE, "/api/v1/me", Some(&parent), json!({"password": "pass1234word"})).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let handle = app.handle().await;
        let left: i64 = platform::with_db!(&handle.db, |pool| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM course_favourites").fetch_one(pool).await)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(left, 0);
        handle.db.close().await;
    }
}
