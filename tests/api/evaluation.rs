//! 数字化评价 through the API: a lesson's quiz keeps its key on the server and marks attempts;
//! parents rate what they studied (a course they watched, an activity they checked in to), once
//! and changeably, through the word filter; the expert's and curators' view of the ratings.

use std::time::Duration;

use e2e::{Backend, TestApp, assert_problem, at, both_databases, on_both_databases, str_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A published course of two lessons without video; returns the course and its lesson ids.
async fn course(app: &TestApp, curator: &str) -> (String, Vec<String>) {
    let (status, c) = app
        .post(
            "/api/v1/courses",
            Some(curator),
            json!({"title": "读懂孩子的情绪", "age_stages": ["6-12"],
                   "lessons": [{"title": "第一讲", "duration_s": 600}, {"title": "第二讲", "duration_s": 600}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let id = str_of(&c, "id");
    for to in ["in_review", "published"] {
        let (status, b) = app
            .post(
                &format!("/api/v1/courses/{id}/transitions"),
                Some(curator),
                json!({"to": to}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{b}");
    }
    let (_, c) = app.get(&format!("/api/v1/courses/{id}"), Some(curator)).await;
    let lessons = c["lessons"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| str_of(l, "id"))
        .collect();
    (id, lessons)
}

fn quiz() -> Value {
    json!({"pass_percent": 60, "questions": [
        {"text": "孩子发脾气时，家长首先应该？", "kind": "single", "options": ["立刻批评", "先接纳情绪", "不理睬"], "answer": [1]},
        {"text": "哪些做法有助于情绪表达？", "kind": "multiple", "options": ["说出感受", "画情绪脸谱", "压抑不说"], "answer": [0, 1]},
        {"text": "情绪没有好坏之分。", "kind": "single", "options": ["对", "错"], "answer": [0]}
    ]})
}

both_databases! {
    async fn a_lessons_quiz_keeps_its_key_and_marks_attempts(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let school = app.org("西湖小学", "school", Some(&province)).await;
        let other = app.org("江苏省妇联", "province", None).await;
        let curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
        let stranger = app.user_with_role("13700000002", "curator", Some(&other)).await;
        let parent = app.user_with_role("13800000001", "parent", Some(&school)).await;
        let outsider = app.user_with_role("13800000009", "parent", Some(&other)).await;
        let (course_id, lessons) = course(app, &curator).await;
        let path = format!("/api/v1/lessons/{}/quiz", lessons[0]);

        let (status, p) = app.get(&path, Some(&parent)).await;
        assert_problem(status, &p, 404, "quiz_not_found");
        // Only the course's editors save it; every wrong field is named.
        let (status, p) = app.call(Method::PUT, &path, Some(&parent), quiz()).await;
        assert_problem(status, &p, 403, "forbidden_edit");
        let (status, p) = app.call(Method::PUT, &path, Some(&stranger), quiz()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
        let mut bad = quiz();
        bad["questions"][0]["answer"] = json!([0, 1]);
        bad["questions"][1]["options"] = json!(["说出感受"]);
        bad["questions"][2]["answer"] = json!([5]);
        let (status, p) = app.call(Method::PUT, &path, Some(&curator), bad).await;
        let p = assert_problem(status, &p, 422, "validation_failed");
        let fields: Vec<&str> = p["errors"].as_array().into_iter().flatten().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(fields, ["questions[0].answer", "questions[1].options", "questions[1].answer", "questions[2].answer"], "{p}");
        let (status, saved) = app.call(Method::PUT, &path, Some(&curator), quiz()).await;
        assert_eq!((status, saved["version"].as_i64(), saved["required"].as_bool()), (StatusCode::OK, Some(1), Some(false)), "{saved}");
        assert_eq!(saved["questions"][1]["answer"], json!([0, 1]), "editors see the key: {saved}");

        // The course page tells which lessons have one.
        let (_, c) = app.get(&format!("/api/v1/courses/{course_id}"), Some(&parent)).await;
        assert_eq!((c["lessons"][0]["quiz"].as_bool(), c["lessons"][1]["quiz"].as_bool()), (Some(true), Some(false)), "{c}");

        // The parent sees no key, anywhere in the answer.
        let (status, q) = app.get(&path, Some(&parent)).await;
        assert_eq!(status, StatusCode::OK, "{q}");
        assert!(q["questions"].as_array().into_iter().flatten().all(|q| q.get("answer").is_none()), "{q}");
        assert_eq!((q["attempts"].as_i64(), q["passed"].as_bool(), q["editable"].as_bool()), (Some(0), Some(false), Some(false)), "{q}");
        let (status, p) = app.get(&path, Some(&outsider)).await;
        assert_problem(status, &p, 404, "lesson_not_found");

        // Attempts: marked on the server; a multiple choice needs exactly its key.
        let attempts = format!("{path}/attempts");
        for (answers, field) in [(json!([[1], [0]]), "answers"), (json!([[1], [0, 7], [0]]), "answers[1]")] {
            let (status, p) = app.post(&attempts, Some(&parent), json!({"answers": answers})).await;
            let p = assert_problem(status, &p, 422, "validation_failed");
            assert_eq!(p["errors"][0]["field"], field, "{p}");
        }
        let (status, r) = app.post(&attempts, Some(&parent), json!({"answers": [[1], [0], [0]], "version": 1})).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert_eq!((r["score"].as_i64(), r["passed"].as_bool(), r["correct"].clone()), (Some(67), Some(true), json!([true, false, true])), "{r}");
        let (_, r) = app.post(&attempts, Some(&parent), json!({"answers": [[0], [1, 0], [1]]})).await;
        assert_eq!((r["score"].as_i64(), r["passed"].as_bool(), r["attempts"].as_i64()), (Some(33), Some(false), Some(2)), "{r}");
        let (_, q) = app.get(&path, Some(&parent)).await;
        assert_eq!((q["attempts"].as_i64(), q["best_score"].as_i64(), q["passed"].as_bool()), (Some(2), Some(67), Some(true)), "{q}");

        // A changed quiz refuses answers to the old one; no questions removes it.
        let (_, saved) = app.call(Method::PUT, &path, Some(&curator), quiz()).await;
        assert_eq!(saved["version"].as_i64(), Some(2), "{saved}");
        let (status, p) = app.post(&attempts, Some(&parent), json!({"answers": [[1], [0, 1], [0]], "version": 1})).await;
        assert_problem(status, &p, 409, "quiz_changed");
        let (status, _) = app.call(Method::PUT, &path, Some(&curator), json!({"questions": []})).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, p) = app.post(&attempts, Some(&parent), json!({"answers": []})).await;
        assert_problem(status, &p, 404, "quiz_not_found");
    }
}

/// Opens playback of `asset` for `token` and reports the first second watched.
async fn watch_a_second(app: &TestApp, token: &str, asset: &str) {
    let (status, body) = app.get(&format!("/api/v1/assets/{asset}/playback"), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let session = uuid::Uuid::now_v7().to_string();
    let (status, body) = app
        .post(
            &format!("/api/v1/assets/{asset}/progress"),
            Some(token),
            json!({"session_id": session, "segments": [[0.0, 1.0]], "position_s": 1.0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

on_both_databases!(parents_rate_what_they_studied_and_staff_in_scope_read_it);

async fn parents_rate_what_they_studied_and_staff_in_scope_read_it(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.live.word_filter = vec!["笨蛋".into()]).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let province = app.org("浙江省妇联", "province", None).await;
    let school = app.org("西湖小学", "school", Some(&province)).await;
    let other = app.org("江苏省妇联", "province", None).await;
    let curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
    let stranger = app.user_with_role("13700000002", "curator", Some(&other)).await;
    let p1 = app.user_with_role("13800000001", "parent", Some(&school)).await;
    let p2 = app.user_with_role("13800000002", "parent", Some(&school)).await;
    let outsider = app.user_with_role("13800000009", "parent", Some(&other)).await;
    let (asset, _, course_id) = crate::media::published_course(&app, &curator, dir.path(), 3).await;
    let mine = format!("/api/v1/courses/{course_id}/rating");

    // Before watching: may not rate yet.
    let (status, r) = app.get(&mine, Some(&p1)).await;
    assert_eq!(
        (status, r["may_rate"].as_bool(), r["rating"].clone()),
        (StatusCode::OK, Some(false), Value::Null),
        "{r}"
    );
    let (status, p) = app.call(Method::PUT, &mine, Some(&p1), json!({"stars": 5})).await;
    assert_problem(status, &p, 403, "not_studied");
    let (status, p) = app.call(Method::PUT, &mine, Some(&outsider), json!({"stars": 5})).await;
    assert_problem(status, &p, 404, "course_not_found");

    watch_a_second(&app, &p1, &asset).await;
    watch_a_second(&app, &p2, &asset).await;
    for (body, field) in [
        (json!({"stars": 0}), "stars"),
        (json!({"stars": 4, "comment": "好".repeat(301)}), "comment"),
    ] {
        let (status, p) = app.call(Method::PUT, &mine, Some(&p1), body).await;
        let p = assert_problem(status, &p, 422, "validation_failed");
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    }
    let (status, r) = app
        .call(
            Method::PUT,
            &mine,
            Some(&p1),
            json!({"stars": 2, "comment": "讲得像笨蛋一样慢"}),
        )
        .await;
    assert_eq!((status, r["stars"].as_i64()), (StatusCode::OK, Some(2)), "{r}");
    assert_eq!(r["comment"], "讲得像＊＊一样慢", "the word filter applies: {r}");
    // Once: rating again changes it.
    let (_, r) = app
        .call(
            Method::PUT,
            &mine,
            Some(&p1),
            json!({"stars": 4, "comment": "第二遍听懂了，很实用"}),
        )
        .await;
    assert_eq!(r["stars"].as_i64(), Some(4), "{r}");
    app.call(Method::PUT, &mine, Some(&p2), json!({"stars": 5})).await;
    let (_, r) = app.get(&mine, Some(&p1)).await;
    assert_eq!(
        (r["may_rate"].as_bool(), r["rating"]["stars"].as_i64()),
        (Some(true), Some(4)),
        "{r}"
    );

    // Staff in scope read them; parents and staff elsewhere do not.
    let all = format!("/api/v1/courses/{course_id}/ratings");
    let (status, s) = app.get(&all, Some(&curator)).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(
        (s["count"].as_i64(), s["average"].as_f64(), s["stars"].clone()),
        (Some(2), Some(4.5), json!([0, 0, 0, 1, 1])),
        "{s}"
    );
    let items = s["page"]["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2, "{s}");
    assert_eq!(
        (
            items[1]["comment"].as_str(),
            items[1]["rater"].as_str().map(|r| r.ends_with('*'))
        ),
        (Some("第二遍听懂了，很实用"), Some(true)),
        "{s}"
    );
    let (status, p) = app.get(&all, Some(&p1)).await;
    assert_problem(status, &p, 403, "out_of_scope");
    let (status, p) = app.get(&all, Some(&stranger)).await;
    assert_problem(status, &p, 404, "course_not_found");
    let (_, page) = app.get(&format!("{all}?limit=1"), Some(&curator)).await;
    let next = page["page"]["next_cursor"].as_str().unwrap_or_default().to_owned();
    let (_, rest) = app.get(&format!("{all}?limit=1&cursor={next}"), Some(&curator)).await;
    assert_eq!(
        (
            page["page"]["items"][0]["stars"].as_i64(),
            rest["page"]["items"][0]["stars"].as_i64(),
            rest["page"]["next_cursor"].clone()
        ),
        (Some(5), Some(4), Value::Null),
        "{page} {rest}"
    );

    // An activity: rated by those checked in.
    let (status, a) = app
        .post(
            "/api/v1/activities",
            Some(&curator),
            json!({"title": "亲子阅读会", "kind": "parent_child", "description": "", "place": "学校图书馆",
                   "starts_at": at(10), "ends_at": at(70), "capacity": 10, "scope_org_id": school,
                   "host_org_id": school, "credit_minutes": 60, "requires_check_out": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let id = str_of(&a, "id");
    for p in [&p1, &p2] {
        let (status, e) = app
            .post(&format!("/api/v1/activities/{id}/enrolments"), Some(p), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{e}");
    }
    let p1_id = str_of(&app.get("/api/v1/me", Some(&p1)).await.1, "id");
    let (status, c) = app
        .call(
            Method::PUT,
            &format!("/api/v1/activities/{id}/check-ins/{p1_id}"),
            Some(&curator),
            json!({}),
        )
        .await;
    assert!(status.is_success(), "{c}");
    let rate = format!("/api/v1/live/occurrences/{id}/rating");
    let (status, p) = app.call(Method::PUT, &rate, Some(&p2), json!({"stars": 3})).await;
    assert_problem(status, &p, 403, "not_studied");
    let (status, r) = app
        .call(
            Method::PUT,
            &rate,
            Some(&p1),
            json!({"stars": 5, "comment": "孩子很喜欢"}),
        )
        .await;
    assert_eq!((status, r["stars"].as_i64()), (StatusCode::OK, Some(5)), "{r}");
    let (status, p) = app.call(Method::PUT, &rate, Some(&outsider), json!({"stars": 3})).await;
    assert_problem(status, &p, 404, "occurrence_not_found");
    let (status, s) = app
        .get(&format!("/api/v1/live/occurrences/{id}/ratings"), Some(&curator))
        .await;
    assert_eq!(
        (status, s["count"].as_i64(), s["title"].as_str()),
        (StatusCode::OK, Some(1), Some("亲子阅读会")),
        "{s}"
    );
    let (status, p) = app
        .get(&format!("/api/v1/live/occurrences/{id}/ratings"), Some(&p1))
        .await;
    assert_problem(status, &p, 403, "out_of_scope");

    // Deleting the account takes the ratings with it.
    let (status, d) = app
        .call(
            Method::DELETE,
            "/api/v1/me",
            Some(&p2),
            json!({"password": "pass1234word"}),
        )
        .await;
    assert!(status.is_success(), "{d}");
    let (_, s) = app.get(&all, Some(&curator)).await;
    assert_eq!(s["count"].as_i64(), Some(1), "{s}");
    app.stop().await;
}

on_both_databases!(my_learning_says_which_required_quizzes_are_left);

/// 我的学习 tells a parent who watched a course that requires passing its quiz (完成课程须通过)
/// that the quiz is still to pass, and stops saying so once they pass it; a quiz that is not
/// required is not counted.
async fn my_learning_says_which_required_quizzes_are_left(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let province = app.org("浙江省妇联", "province", None).await;
    let curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
    let parent = app.user_with_role("13800000001", "parent", Some(&province)).await;
    let (asset, _, course_id) = crate::media::published_course(&app, &curator, dir.path(), 3).await;
    let (_, c) = app.get(&format!("/api/v1/courses/{course_id}"), Some(&curator)).await;
    let quiz_path = format!("/api/v1/lessons/{}/quiz", str_of(&c["lessons"][0], "id"));
    watch_a_second(&app, &parent, &asset).await;
    let left = |l: &Value| l["courses"][0]["quizzes_to_pass"].as_i64();

    let (status, saved) = app.call(Method::PUT, &quiz_path, Some(&curator), quiz()).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let (status, l) = app.get("/api/v1/me/learning", Some(&parent)).await;
    assert_eq!((status, left(&l)), (StatusCode::OK, Some(0)), "not required: {l}");

    let mut required = quiz();
    required["required"] = json!(true);
    app.call(Method::PUT, &quiz_path, Some(&curator), required).await;
    let (_, l) = app.get("/api/v1/me/learning", Some(&parent)).await;
    assert_eq!(left(&l), Some(1), "{l}");
    let attempts = format!("{quiz_path}/attempts");
    let (_, r) = app
        .post(&attempts, Some(&parent), json!({"answers": [[0], [0], [1]]}))
        .await;
    assert_eq!(r["passed"], false, "{r}");
    let (_, l) = app.get("/api/v1/me/learning", Some(&parent)).await;
    assert_eq!(left(&l), Some(1), "a failed attempt leaves it to pass: {l}");
    let (_, r) = app
        .post(&attempts, Some(&parent), json!({"answers": [[1], [0, 1], [0]]}))
        .await;
    assert_eq!(r["passed"], true, "{r}");
    let (_, l) = app.get("/api/v1/me/learning", Some(&parent)).await;
    assert_eq!(left(&l), Some(0), "{l}");
    app.stop().await;
}
