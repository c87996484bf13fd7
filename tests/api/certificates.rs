//! 结业证书 through the API: a curator defines a rule for their school (an hour of study, of
//! which an hour offline, and the course of a list with its quiz passed); the job issues a
//! certificate to the parent who meets it and not to the one who does not, once, and texts
//! them; anyone can verify the code and sees the name masked; staff in scope revoke it with a
//! reason, and the verification then says revoked.

use std::time::Duration;

use e2e::{Backend, TestApp, assert_problem, at, on_both_databases, str_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn me(app: &TestApp, token: &str) -> String {
    str_of(&app.get("/api/v1/me", Some(token)).await.1, "id")
}

/// Polls the caller's certificates until there are `n`.
async fn certificates(app: &TestApp, token: &str, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let (status, list) = app.get("/api/v1/me/certificates", Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let items = list.as_array().cloned().unwrap_or_default();
        if items.len() >= n {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no certificate after 20 s");
}

/// GETs a file with the token and checks its type.
async fn file(app: &TestApp, token: &str, path: &str, content_type: &str) -> Vec<u8> {
    let (status, headers, body) =
        e2e::raw_bytes(app, Method::GET, path, &[("authorization", &format!("Bearer {token}"))]).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some(content_type)
    );
    body
}

/// The state of the job a run answered with, once it is done (or after 20 s).
async fn job_state(app: &TestApp, run: &Value) -> String {
    let handle = app.handle().await;
    let job = str_of(run, "job_id").parse().unwrap_or_else(|e| panic!("{e}"));
    let mut state = String::new();
    for _ in 0..200 {
        state = handle
            .jobs
            .status(job)
            .await
            .ok()
            .flatten()
            .map(|s| s.0)
            .unwrap_or_default();
        if state == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    handle.db.close().await;
    state
}

/// What Debian's zbarimg reads from a picture's QR code.
fn zbarimg(path: &std::path::Path) -> String {
    let out = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("zbarimg (Debian's zbar-tools) is needed: {e}"));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// What Debian's tesseract reads from a picture in Simplified Chinese, without spaces.
fn ocr(path: &std::path::Path) -> String {
    let out = std::process::Command::new("tesseract")
        .arg(path)
        .args(["-", "-l", "chi_sim"])
        .output()
        .unwrap_or_else(|e| panic!("tesseract (Debian's tesseract-ocr, tesseract-ocr-chi-sim) is needed: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// No tofu: the default font has a glyph for every character of a certificate with a rare
/// name, and the drawing reports those it has none for.
#[test]
fn the_certificate_font_draws_every_character() {
    let path = server::Settings::default().certificates.font_path;
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (install fonts-noto-cjk)", path.display()));
    let font = evaluation::certificates::render::load_font(bytes).unwrap_or_else(|e| panic!("{e}"));
    let card = |name| evaluation::certificates::render::Card {
        title: "2026 年秋季学期“好家长”家庭教育学习证书（第 3 期）",
        name,
        hours: 12.5,
        issuer: "重庆市渝中区新凤小学家长学校",
        date: "2026 年 12 月 7 日",
        code: "7CJ9SB3PJTY2",
        url: "https://jiazhang.example.cn/verify/7CJ9SB3PJTY2",
        revoked: true,
        seal: None,
    };
    let drawn = evaluation::certificates::render::draw(&font, &card("龚鑫淼·欧阳娜娜 Zoë"));
    assert_eq!(drawn.missing, Vec::<char>::new());
    let drawn = evaluation::certificates::render::draw(&font, &card("乐乐妈妈🌸"));
    assert_eq!(drawn.missing, vec!['🌸']);
}

on_both_databases!(a_rule_issues_certificates_once_that_anyone_verifies_and_staff_revoke);

async fn a_rule_issues_certificates_once_that_anyone_verifies_and_staff_revoke(backend: Backend) {
    let (hook, seen) = e2e::gateway().await;
    let app = TestApp::spawn_with(backend, |s| s.live.notify_webhook_url = Some(hook.clone())).await;
    let province = app.org("浙江省妇联", "province", None).await;
    let school = app.org("西湖小学", "school", Some(&province)).await;
    let class = app.org("三年级二班", "class", Some(&school)).await;
    let other = app.org("江苏省妇联", "province", None).await;
    let curator = app.user_with_role("13700000001", "curator", Some(&school)).await;
    let stranger = app.user_with_role("13700000002", "curator", Some(&other)).await;
    let p1 = app.user_with_role("13800000001", "parent", Some(&class)).await;
    let p2 = app.user_with_role("13800000002", "parent", Some(&class)).await;

    // A list of one course whose lesson has a quiz; the first parent passes it.
    let (status, c) = app
        .post(
            "/api/v1/courses",
            Some(&curator),
            json!({"title": "好家长必修课", "age_stages": ["6-12"], "owner_org_id": school, "scope_org_id": school,
                   "lessons": [{"title": "第一讲", "duration_s": 600}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let course = str_of(&c, "id");
    for to in ["in_review", "published"] {
        app.post(
            &format!("/api/v1/courses/{course}/transitions"),
            Some(&curator),
            json!({"to": to}),
        )
        .await;
    }
    let lesson = str_of(
        &app.get(&format!("/api/v1/courses/{course}"), Some(&curator)).await.1["lessons"][0],
        "id",
    );
    // The course requires passing it (完成课程须通过).
    let quiz = json!({"required": true, "questions": [{"text": "陪伴最重要的是？", "kind": "single", "options": ["时间", "用心"], "answer": [1]}]});
    let (status, q) = app
        .call(
            Method::PUT,
            &format!("/api/v1/lessons/{lesson}/quiz"),
            Some(&curator),
            quiz,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{q}");
    let (_, r) = app
        .post(
            &format!("/api/v1/lessons/{lesson}/quiz/attempts"),
            Some(&p1),
            json!({"answers": [[1]]}),
        )
        .await;
    assert_eq!(r["passed"], true, "{r}");
    let (_, r) = app
        .post(
            &format!("/api/v1/lessons/{lesson}/quiz/attempts"),
            Some(&p2),
            json!({"answers": [[0]]}),
        )
        .await;
    assert_eq!(r["passed"], false, "{r}");
    let (status, l) = app
        .post(
            "/api/v1/lists",
            Some(&curator),
            json!({"title": "2026 必修课", "year": 2026, "owner_org_id": school, "scope_org_id": school}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{l}");
    let list = str_of(&l, "id");
    app.call(
        Method::PUT,
        &format!("/api/v1/lists/{list}/items"),
        Some(&curator),
        json!({"course_ids": [course], "version": l["version"]}),
    )
    .await;

    // Both parents were at an offline activity (an hour, checked in by hand).
    let (status, a) = app
        .post(
            "/api/v1/activities",
            Some(&curator),
            json!({"title": "家长课堂", "kind": "lecture", "place": "学校礼堂", "starts_at": at(10), "ends_at": at(70),
                   "capacity": 10, "scope_org_id": school, "host_org_id": school, "credit_minutes": 60}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let activity = str_of(&a, "id");
    for p in [&p1, &p2] {
        app.post(&format!("/api/v1/activities/{activity}/enrolments"), Some(p), json!({}))
            .await;
        let id = me(&app, p).await;
        let (status, c) = app
            .call(
                Method::PUT,
                &format!("/api/v1/activities/{activity}/check-ins/{id}"),
                Some(&curator),
                json!({}),
            )
            .await;
        assert!(status.is_success(), "{c}");
    }

    let rule = json!({"name": "2026 年秋季学期家长学校结业证书", "scope_org_id": school, "from": at(-60), "to": at(24 * 60),
                      "min_hours": 1, "min_offline_hours": 1, "list_id": list, "min_courses": 1, "require_quizzes": true});
    // Wrong ways, each said.
    let (status, p) = app.post("/api/v1/certificate-rules", Some(&p1), rule.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
    let (status, p) = app
        .post("/api/v1/certificate-rules", Some(&stranger), rule.clone())
        .await;
    assert_problem(status, &p, 403, "out_of_scope");
    for (patch, field) in [
        (json!({"name": " "}), "name"),
        (json!({"to": at(-120)}), "to"),
        (json!({"min_hours": -2}), "min_hours"),
        (json!({"list_id": null}), "list_id"),
    ] {
        let mut body = rule.clone();
        for (k, v) in patch.as_object().into_iter().flatten() {
            body[k] = v.clone();
        }
        let (status, p) = app.post("/api/v1/certificate-rules", Some(&curator), body).await;
        let p = assert_problem(status, &p, 422, "validation_failed");
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    }

    // The rule's first run issues to the parent who meets it, and only to them.
    let (status, r) = app
        .post("/api/v1/certificate-rules", Some(&curator), rule.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let rule_id = str_of(&r, "id");
    assert_eq!(
        (r["min_hours"].as_f64(), r["min_courses"].as_i64()),
        (Some(1.0), Some(1)),
        "{r}"
    );
    let mine = certificates(&app, &p1, 1).await;
    let cert = &mine[0];
    let code = str_of(cert, "code");
    assert_eq!(code.len(), 12, "{cert}");
    assert_eq!(
        (
            cert["title"].as_str(),
            cert["name"].as_str(),
            cert["hours"].as_f64(),
            cert["issuer"].as_str(),
            cert["revoked"].as_bool()
        ),
        (
            Some("2026 年秋季学期家长学校结业证书"),
            Some("parent 13800000001"),
            Some(1.0),
            Some("西湖小学"),
            Some(false)
        ),
        "{cert}"
    );
    // Checked again: still one each, and none for the parent who failed the quiz.
    let (status, run) = app
        .post(
            &format!("/api/v1/certificate-rules/{rule_id}/runs"),
            Some(&curator),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let state = job_state(&app, &run).await;
    assert_eq!(state, "done");
    assert_eq!(certificates(&app, &p1, 1).await.len(), 1);
    assert_eq!(certificates(&app, &p2, 0).await.len(), 0);
    let (status, p) = app
        .get(&format!("/api/v1/certificate-rules?org_id={province}"), Some(&curator))
        .await;
    assert_problem(status, &p, 403, "out_of_scope");
    let (status, p) = app
        .get(&format!("/api/v1/certificate-rules?org_id={other}"), Some(&curator))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
    let (_, rules) = app
        .get(&format!("/api/v1/certificate-rules?org_id={school}"), Some(&curator))
        .await;
    assert_eq!(
        (rules[0]["id"].as_str(), rules[0]["issued"].as_i64()),
        (Some(rule_id.as_str()), Some(1)),
        "{rules}"
    );
    let (_, issued) = app
        .get(
            &format!("/api/v1/certificate-rules/{rule_id}/certificates"),
            Some(&curator),
        )
        .await;
    assert_eq!(issued["items"][0]["code"].as_str(), Some(code.as_str()), "{issued}");
    let (status, p) = app
        .get(
            &format!("/api/v1/certificate-rules/{rule_id}/certificates"),
            Some(&stranger),
        )
        .await;
    assert_problem(status, &p, 404, "certificate_rule_not_found");

    // The holder was texted once, with the code.
    let texts: Vec<Value> = seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(_, b)| b.clone())
        .filter(|b| b["kind"] == "certificate_issued")
        .collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0]["text"].as_str().unwrap_or_default().contains(&code),
        "{texts:?}"
    );
    assert_eq!(texts[0]["phone"], "+8613800000001", "{texts:?}");

    // A rule that does not ask for quizzes still needs the one the course requires: the parent
    // who failed it has no certificate of this rule either.
    let (status, r2) = app
        .post(
            "/api/v1/certificate-rules",
            Some(&curator),
            json!({"name": "必修课结业证书", "scope_org_id": school, "from": at(-60), "to": at(24 * 60), "list_id": list}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r2}");
    let both = certificates(&app, &p1, 2).await;
    assert_eq!(both[0]["title"], "必修课结业证书", "{both:?}");
    let (status, run) = app
        .post(
            &format!("/api/v1/certificate-rules/{}/runs", str_of(&r2, "id")),
            Some(&curator),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    job_state(&app, &run).await;
    assert_eq!(certificates(&app, &p2, 0).await.len(), 0);

    // The holder's picture and PDF: Chinese in the font, the seal, a QR code of the link.
    let (status, p) = app
        .call(
            Method::PUT,
            &format!("/api/v1/organizations/{school}/seal"),
            Some(&curator),
            json!({}),
        )
        .await;
    assert_problem(status, &p, 422, "unsupported_image");
    let (status, _, text) = e2e::raw(
        &app,
        Method::PUT,
        &format!("/api/v1/organizations/{school}/seal"),
        &[
            ("authorization", &format!("Bearer {curator}")),
            ("content-type", "image/png"),
        ],
        Some(e2e::seal_png()),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    let png = file(&app, &p1, &format!("/api/v1/certificates/{code}.png"), "image/png").await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("certificate.png");
    std::fs::write(&path, &png).unwrap_or_else(|e| panic!("{e}"));
    if let Some(keep) = std::env::var_os("PARENTSCHOOL_KEEP_CERTIFICATE") {
        let _ = std::fs::copy(&path, keep);
    }
    let decoded = zbarimg(&path);
    assert!(
        decoded.ends_with(&format!("/verify/{code}")),
        "the QR code reads {decoded:?}"
    );
    let read = ocr(&path);
    for said in [
        "2026年秋季学期家长学校结业证书",
        "在西湖小学完成规定的家庭教育学习",
        "累计学时1.0小时",
        &code,
    ] {
        assert!(read.contains(said), "OCR of the certificate lacks {said:?}: {read}");
    }
    let pdf = file(
        &app,
        &curator,
        &format!("/api/v1/certificates/{}.pdf", code.to_lowercase()),
        "application/pdf",
    )
    .await;
    assert!(pdf.starts_with(b"%PDF-1.4") && pdf.ends_with(b"%%EOF\n"), "not a PDF");
    let (status, p) = app.get(&format!("/api/v1/certificates/{code}.png"), Some(&p2)).await;
    assert_problem(status, &p, 404, "certificate_not_found");

    // Anyone verifies it, as typed; the name is masked.
    let verify = format!("/api/v1/certificates/verify/{}", code.to_lowercase());
    let (status, v) = app.get(&verify, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["valid"].as_bool(), v["name"].as_str()),
        (Some("valid"), Some(true), Some("p*****************")),
        "{v}"
    );
    let (status, p) = app.get("/api/v1/certificates/verify/AAAABBBBCCCC", None).await;
    assert_problem(status, &p, 404, "certificate_not_found");

    // Revocation: the issuer's staff, with a reason; once.
    let revoke = format!("/api/v1/certificates/{code}/revocation");
    let (status, p) = app.post(&revoke, Some(&p1), json!({"reason": "我自己不想要了"})).await;
    assert_problem(status, &p, 403, "out_of_scope");
    let (status, p) = app.post(&revoke, Some(&stranger), json!({"reason": "越权"})).await;
    assert_problem(status, &p, 404, "certificate_not_found");
    let (status, p) = app.post(&revoke, Some(&curator), json!({"reason": " "})).await;
    assert_problem(status, &p, 422, "validation_failed");
    let (status, v) = app
        .post(&revoke, Some(&curator), json!({"reason": "学时记录有误"}))
        .await;
    assert_eq!((status, v["status"].as_str()), (StatusCode::OK, Some("revoked")), "{v}");
    let (status, p) = app.post(&revoke, Some(&curator), json!({"reason": "再次撤销"})).await;
    assert_problem(status, &p, 409, "certificate_revoked");
    let (_, v) = app.get(&verify, None).await;
    assert_eq!(
        (v["valid"].as_bool(), v["revoked_reason"].as_str()),
        (Some(false), Some("学时记录有误")),
        "{v}"
    );
    let mine = certificates(&app, &p1, 2).await;
    let revoked: Vec<bool> = mine.iter().map(|c| c["revoked"] == true).collect();
    assert_eq!(
        revoked,
        [false, true],
        "only the first certificate was revoked: {mine:?}"
    );

    // A deleted account takes its certificates with it.
    let (status, d) = app
        .call(
            Method::DELETE,
            "/api/v1/me",
            Some(&p1),
            json!({"password": "pass1234word"}),
        )
        .await;
    assert!(status.is_success(), "{d}");
    let (status, p) = app.get(&verify, None).await;
    assert_problem(status, &p, 404, "certificate_not_found");
    app.stop().await;
}
