//! Health, readiness, request ids and the OpenAPI document.

use e2e::{both_databases, raw, token_of};
use reqwest::{Method, StatusCode};
use serde_json::Value;

both_databases! {
    async fn health_and_readiness(app) {
        let (status, body) = app.get("/healthz", None).await;
        assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
        let (status, body) = app.get("/readyz", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["database"], "ok");
        assert_eq!(body["object_store"], "ok");
        // A caller's request id is kept.
        let (_, headers, _) = raw(app, Method::GET, "/healthz", &[("x-request-id", "abc-123")], None).await;
        assert_eq!(headers.get("x-request-id").and_then(|v| v.to_str().ok()), Some("abc-123"));
    }

    async fn pages_and_answers_carry_security_headers(app) {
        for path in ["/", "/courses/x", "/api/v1/courses", "/api/v1/nope", "/js/app.js"] {
            let (_, headers, _) = raw(app, Method::GET, path, &[], None).await;
            let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let csp = get("content-security-policy");
            for directive in ["script-src 'self'", "frame-ancestors 'self'", "object-src 'none'", "media-src 'self' blob:"] {
                assert!(csp.contains(directive), "{path}: {directive} missing from {csp:?}");
            }
            assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
            assert_eq!(get("x-frame-options"), "SAMEORIGIN", "{path}");
            assert_eq!(get("referrer-policy"), "same-origin", "{path}");
        }
    }

    async fn openapi_documents_every_api_route(app) {
        let (status, doc) = app.get("/api/openapi.json", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", doc["openapi"]);
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        for expected in [
            "/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout",
            "/api/v1/me", "/api/v1/me/password", "/api/v1/me/organizations", "/api/v1/organizations",
            "/api/v1/organizations/{id}", "/api/v1/organizations/{id}/join-code", "/api/v1/organizations/{id}/members",
            "/api/v1/organizations/{id}/members/{user_id}", "/api/v1/users", "/api/v1/users/{id}",
            "/api/v1/users/{id}/password-reset", "/api/openapi.json", "/healthz", "/readyz",
        ] {
            assert!(paths.contains_key(expected), "{expected} missing from the OpenAPI document");
        }
        // Every documented operation is routed: none answers "no such endpoint" or "wrong method".
        let token = token_of(&app.register("13812345678", "abc12345x").await);
        let id = uuid::Uuid::now_v7().to_string();
        let mut checked = 0;
        for (path, ops) in &paths {
            let concrete = path.replace("{id}", &id).replace("{user_id}", &id);
            for method in ops.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
                let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap_or(Method::GET);
                let (_, body) = app.call(m.clone(), &concrete, Some(&token), Value::Null).await;
                assert_ne!(body["code"], "route_not_found", "{m} {path}");
                assert_ne!(body["code"], "method_not_allowed", "{m} {path}");
                checked += 1;
            }
        }
        assert!(checked >= 20, "only {checked} operations documented");
    }

    async fn the_web_app_calls_only_documented_paths(app) {
        // Every path the web app builds (js/endpoints.js, its one home for API paths) is an
        // operation of the OpenAPI document: a renamed route cannot leave the app calling a 404.
        let (_, doc) = app.get("/api/openapi.json", None).await;
        let documented: Vec<Vec<String>> = doc["paths"]
            .as_object()
            .map(|o| o.keys().map(|k| segments(k)).collect())
            .unwrap_or_default();
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/server/web/js/endpoints.js");
        let js = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut built = 0;
        for line in js.lines() {
            let Some(start) = line.find("`/api/") else { continue };
            let Some(len) = line[start + 1..].find('`') else { continue };
            let template = line[start + 1..start + 1 + len].replace("${query}", "");
            let wanted = segments(&template);
            let found = documented.iter().any(|d| {
                d.len() == wanted.len()
                    && d.iter().zip(&wanted).all(|(a, b)| a == b || is_param(a) || is_param(b))
            });
            assert!(found, "js/endpoints.js builds {template}, which the OpenAPI document does not have");
            built += 1;
        }
        assert!(built >= 50, "only {built} paths read from js/endpoints.js");
    }
}

/// The segments of a path, `${…}` and `{…}` alike standing for a parameter.
fn segments(path: &str) -> Vec<String> {
    path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn is_param(segment: &str) -> bool {
    segment.starts_with('{') || segment.starts_with("${")
}
