//! Login attempts are limited per phone number and per client address, with `Retry-After`.

use e2e::{Backend, TestApp, assert_problem, both_databases, raw};
use reqwest::{Method, StatusCode};
use serde_json::json;

both_databases! {
    async fn login_attempts_are_limited_per_phone(app) {
        app.register("13812345678", "abc12345x").await;
        for _ in 0..10 {
            let (status, _) = app.post("/api/v1/auth/login", None, json!({"phone": "13812345678", "password": "wrong1234"})).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        // The 11th attempt is refused even with the right password.
        let body = json!({"phone": "13812345678", "password": "abc12345x"}).to_string().into_bytes();
        let (status, headers, text) =
            raw(app, Method::POST, "/api/v1/auth/login", &[("content-type", "application/json")], Some(body)).await;
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_problem(status, &parsed, 429, "rate_limited");
        let retry: u64 = headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
        assert!((1..=900).contains(&retry), "Retry-After {retry}");
        // Another phone number is not affected.
        app.register("13912345678", "abc12345x").await;
        app.login("13912345678", "abc12345x").await;
    }
}

async fn login_attempts_are_limited_per_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.auth.login_attempts_per_ip = 5).await;
    for i in 0..5 {
        let (status, _) = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"phone": format!("1380000000{i}"), "password": "wrong1234"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"phone": "13800000009", "password": "wrong1234"}),
        )
        .await;
    assert_problem(status, &body, 429, "rate_limited");
    app.stop().await;
}

e2e::on_both_databases!(login_attempts_are_limited_per_address);
