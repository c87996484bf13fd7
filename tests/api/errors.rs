//! Every failure is RFC 9457 problem+json: malformed JSON, wrong content type, oversized bodies,
//! unknown routes, wrong methods; in Chinese by default and English on request; with the
//! request id that is also in `X-Request-Id`. Unknown non-API GETs serve the web app.

use e2e::{TestApp, assert_problem, both_databases, raw};
use reqwest::{Method, StatusCode};
use serde_json::Value;

async fn problem(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> (StatusCode, Value) {
    let (status, h, text) = raw(app, method, path, headers, body).await;
    assert_eq!(
        h.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{path}: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"));
    let header_id = h.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!(body["request_id"], header_id, "request id in body and header");
    (status, body)
}

both_databases! {
    async fn bad_requests_get_problem_details(app) {
        let json_ct = [("content-type", "application/json")];
        let (s, b) = problem(app, Method::POST, "/api/v1/auth/login", &json_ct, Some(b"{\"phone\": ".to_vec())).await;
        assert_problem(s, &b, 400, "malformed_json");
        let (s, b) = problem(app, Method::POST, "/api/v1/auth/login", &[("content-type", "text/plain")], Some(b"{}".to_vec())).await;
        assert_problem(s, &b, 415, "unsupported_media_type");
        let (s, b) = problem(app, Method::POST, "/api/v1/auth/login", &json_ct, Some(b"{\"phone\": 5}".to_vec())).await;
        assert_problem(s, &b, 422, "invalid_body");
        let (s, b) = problem(app, Method::POST, "/api/v1/auth/login", &json_ct, Some(b"{\"phone\":\"13812345678\",\"password\":\"x\",\"extra\":1}".to_vec())).await;
        assert_problem(s, &b, 422, "invalid_body");
        // A parent's first week #6: a body of the wrong shape names the field in Chinese, for
        // the form to show beside the input (English on request), never serde's words.
        let expert = app.user_with_role("13600000001", "expert", None).await;
        let auth = format!("Bearer {expert}");
        let series = r#"{"title":"讲座","rrule":"FREQ=WEEKLY;COUNT=1","starts_at":"2026-12-03T19:30","duration_minutes":60,"capacity":10}"#.as_bytes();
        let (s, b) = problem(app, Method::POST, "/api/v1/live/series", &[("content-type", "application/json"), ("authorization", &auth)], Some(series.to_vec())).await;
        assert_problem(s, &b, 422, "invalid_body");
        assert_eq!(b["errors"][0]["field"], "starts_at", "{b}");
        let detail = b["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with("开始时间格式不正确") && !detail.contains("deserialize"), "{b}");
        let (_, b) = problem(app, Method::POST, "/api/v1/live/series", &[("content-type", "application/json"), ("authorization", &auth), ("accept-language", "en")],
            Some(r#"{"title":"讲座","rrule":"FREQ=WEEKLY;COUNT=1","duration_minutes":60,"capacity":10}"#.as_bytes().to_vec())).await;
        assert_eq!((b["errors"][0]["field"].as_str(), b["detail"].as_str()), (Some("starts_at"), Some("starts_at is required.")), "{b}");
        // The server answers 413 without reading the rest and closes that connection: send it on
        // a client of its own so the shared pool does not reuse the closed connection.
        let big = format!("{{\"phone\":\"{}\",\"password\":\"x\"}}", "1".repeat(2 * 1024 * 1024));
        let res = reqwest::Client::new()
            .post(app.url("/api/v1/auth/login"))
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .unwrap_or_else(|e| panic!("oversized request: {e}"));
        assert_eq!(res.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/problem+json"));
        let s = res.status();
        let b: Value = res.json().await.unwrap_or_default();
        assert_problem(s, &b, 413, "payload_too_large");
        let (s, b) = problem(app, Method::GET, "/api/v1/no-such-thing", &[], None).await;
        assert_problem(s, &b, 404, "route_not_found");
        let (s, b) = problem(app, Method::DELETE, "/api/v1/auth/login", &[], None).await;
        assert_problem(s, &b, 405, "method_not_allowed");
        let (s, b) = problem(app, Method::GET, "/api/v1/organizations/not-a-uuid", &[("authorization", "Bearer x")], None).await;
        assert_eq!(s, 401, "{b}");
        let (s, b) = problem(app, Method::POST, "/no/such/page", &[], None).await;
        assert_problem(s, &b, 404, "route_not_found");

        // Chinese by default, English on request.
        let login = br#"{"phone":"13812345678","password":"wrong1234"}"#.to_vec();
        let (_, zh) = problem(app, Method::POST, "/api/v1/auth/login", &json_ct, Some(login.clone())).await;
        assert_eq!(zh["detail"], "手机号或密码错误。");
        let (_, en) = problem(app, Method::POST, "/api/v1/auth/login", &[("content-type", "application/json"), ("accept-language", "en-US,en;q=0.9")], Some(login)).await;
        assert_eq!(en["detail"], "Wrong phone number or password.");
        assert_eq!(en["title"], "Unauthorized");
    }

    async fn unknown_pages_serve_the_web_app(app) {
        for path in ["/", "/courses/123", "/live/abc?from=group"] {
            let (status, headers, text) = raw(app, Method::GET, path, &[], None).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html")));
            assert!(text.contains("家长学堂"), "{path}");
        }
        let (status, headers, _) = raw(app, Method::GET, "/app.css", &[], None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/css")));
    }
}
