//! Login attempts are limited per phone number (at an address) and per client address, with
//! `Retry-After`; the client address behind a proxy is the one the proxy saw.

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

/// Behind a proxy that appends to `X-Forwarded-For` (nginx's `$proxy_add_x_forwarded_for`), a
/// client that writes its own entries on the left still counts as the address the proxy saw;
/// and an attacker who knows a phone number cannot lock its owner out from another address.
async fn forwarded_addresses_and_the_owner(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.server.trust_proxy_headers = true;
        s.auth.login_attempts_per_ip = 5;
        s.auth.login_attempts_per_phone = 3;
    })
    .await;
    app.register("13812345678", "abc12345x").await;
    let login = |forwarded: String, phone: String, password: &'static str| {
        let body = json!({"phone": phone, "password": password}).to_string().into_bytes();
        let app = &app;
        async move {
            let (status, _, text) = raw(
                app,
                Method::POST,
                "/api/v1/auth/login",
                &[("content-type", "application/json"), ("x-forwarded-for", &forwarded)],
                Some(body),
            )
            .await;
            (
                status,
                serde_json::from_str::<serde_json::Value>(&text).unwrap_or_default(),
            )
        }
    };
    // A fresh made-up address on the left of every attempt does not reset the per-address count.
    for i in 0..5 {
        let (status, _) = login(
            format!("6.6.6.{i}, 203.0.113.66"),
            format!("1390000000{i}"),
            "wrong1234",
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = login("6.6.6.99, 203.0.113.66".into(), "13900000009".into(), "wrong1234").await;
    assert_problem(status, &body, 429, "rate_limited");

    // Wrong passwords for the owner's number from another address…
    for _ in 0..3 {
        let (status, _) = login("203.0.113.77".into(), "13812345678".into(), "wrong1234").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = login("203.0.113.77".into(), "13812345678".into(), "abc12345x").await;
    assert_problem(status, &body, 429, "rate_limited");
    // …do not keep the owner out from theirs.
    let (status, body) = login("198.51.100.8".into(), "13812345678".into(), "abc12345x").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.stop().await;
}

e2e::on_both_databases!(forwarded_addresses_and_the_owner);
