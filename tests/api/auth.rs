//! Registration, login, refresh rotation with reuse detection, logout, password change and
//! reset, account deletion.

use e2e::{assert_problem, both_databases, token_of};
use reqwest::{Method, StatusCode};
use serde_json::json;

both_databases! {
    // Trust #8: the new password and the end of the old sessions are one transaction. A fault
    // injected into the second statement (a trigger refusing to revoke refresh tokens) must
    // leave the old password in force, not a new password with the old sessions still open.
    async fn a_password_change_that_fails_halfway_changes_nothing(app) {
        let reg = app.register("13812345678", "abc12345x").await;
        let token = token_of(&reg);
        let refresh = reg["refresh_token"].as_str().unwrap_or_default().to_owned();
        let handle = app.handle().await;
        let (create, drop): (&[&str], &[&str]) = match app.backend {
            e2e::Backend::Sqlite => (
                &["CREATE TRIGGER fail_revoke BEFORE UPDATE ON refresh_tokens BEGIN SELECT RAISE(ABORT, \
                   'injected fault'); END"],
                &["DROP TRIGGER fail_revoke"],
            ),
            e2e::Backend::Postgres => (
                &[
                    "CREATE FUNCTION fail_revoke() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected \
                     fault'; END $$ LANGUAGE plpgsql",
                    "CREATE TRIGGER fail_revoke BEFORE UPDATE ON refresh_tokens FOR EACH STATEMENT EXECUTE \
                     FUNCTION fail_revoke()",
                ],
                &["DROP TRIGGER fail_revoke ON refresh_tokens", "DROP FUNCTION fail_revoke()"],
            ),
        };
        for sql in create {
            platform::db_execute!(&handle.db, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        let (status, body) = app
            .post("/api/v1/me/password", Some(&token), json!({"current_password": "abc12345x", "new_password": "new12345pass"}))
            .await;
        assert!(status.is_server_error(), "the injected fault fails the change: {status} {body}");
        for sql in drop {
            platform::db_execute!(&handle.db, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        handle.db.close().await;
        // Nothing changed: the old password logs in, the new one does not, the old refresh
        // token still works.
        let (status, _) = app.post("/api/v1/auth/login", None, json!({"phone": "13812345678", "password": "new12345pass"})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the new password was not stored");
        app.login("13812345678", "abc12345x").await;
        let (status, body) = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": refresh})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn register_login_and_me(app) {
        let reg = app.register("13812345678", "abc12345x").await;
        assert_eq!(reg["user"]["role"], "parent");
        assert_eq!(reg["user"]["phone"], "+8613812345678");
        assert_eq!(reg["expires_in"], 900);
        assert!(reg["refresh_token"].is_string());

        // The +86 form logs in to the same account; the body has the register shape.
        let login = app.login("+8613812345678", "abc12345x").await;
        assert_eq!(login["user"]["id"], reg["user"]["id"]);
        let keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
            k.sort();
            k
        };
        assert_eq!(keys(&login), keys(&reg));

        let (status, me) = app.get("/api/v1/me", Some(&token_of(&login))).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["id"], reg["user"]["id"]);
        assert_eq!(me["display_name"], "测试家长");
        assert_eq!(me["role"], "parent");
        assert_eq!(me["organizations"], json!([]));

        let (status, body) = app.post("/api/v1/auth/login", None, json!({"phone": "13812345678", "password": "wrong1234"})).await;
        assert_problem(status, &body, 401, "invalid_credentials");
        let (status, body) = app.post("/api/v1/auth/login", None, json!({"phone": "13900000000", "password": "abc12345x"})).await;
        assert_problem(status, &body, 401, "invalid_credentials");
    }

    async fn registration_rules_each_have_a_message(app) {
        let (status, body) = app
            .post("/api/v1/auth/register", None, json!({"phone": "12345", "password": "short", "display_name": " "}))
            .await;
        let body = assert_problem(status, &body, 422, "validation_failed");
        let fields: Vec<&str> = body["errors"].as_array().into_iter().flatten().filter_map(|e| e["field"].as_str()).collect();
        assert!(fields.contains(&"phone") && fields.contains(&"display_name"), "{body}");
        assert!(fields.contains(&"accept_privacy_notice"), "consent was not given: {body}");
        assert_eq!(fields.iter().filter(|f| **f == "password").count(), 2, "length and letters+digits: {body}");
        for e in body["errors"].as_array().into_iter().flatten() {
            assert!(e["detail"].as_str().is_some_and(|d| !d.is_empty()), "{e}");
        }

        app.register("13812345678", "abc12345x").await;
        let (status, body) = app
            .post("/api/v1/auth/register", None, json!({"phone": "+86 138 1234 5678", "password": "abc12345y", "display_name": "又一个", "accept_privacy_notice": true}))
            .await;
        assert_problem(status, &body, 409, "phone_taken");

        let (status, body) = app
            .post("/api/v1/auth/register", None, json!({"phone": "13912345678", "password": "abc12345x", "display_name": "甲", "accept_privacy_notice": false}))
            .await;
        assert_problem(status, &body, 422, "validation_failed");
        // Consent is explicit: leaving the answer out is not consent, and nothing is recorded.
        let (status, body) = app
            .post("/api/v1/auth/register", None, json!({"phone": "13912345678", "password": "abc12345x", "display_name": "甲"}))
            .await;
        let body = assert_problem(status, &body, 422, "validation_failed");
        assert_eq!(body["errors"][0]["field"], "accept_privacy_notice", "{body}");
        // Nothing half-written: the refused registrations left no account behind.
        let (status, body) = app.post("/api/v1/auth/login", None, json!({"phone": "13912345678", "password": "abc12345x"})).await;
        assert_problem(status, &body, 401, "invalid_credentials");
    }

    async fn refresh_rotates_and_reuse_revokes_the_family(app) {
        let reg = app.register("13812345678", "abc12345x").await;
        let first = reg["refresh_token"].as_str().unwrap_or_default().to_owned();

        let (status, second) = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": first})).await;
        assert_eq!(status, StatusCode::OK, "{second}");
        let second_token = second["refresh_token"].as_str().unwrap_or_default().to_owned();
        assert_ne!(second_token, first);
        assert_eq!(second["user"]["id"], reg["user"]["id"]);
        let (status, _) = app.get("/api/v1/me", Some(&token_of(&second))).await;
        assert_eq!(status, StatusCode::OK);

        // Two tabs refreshing with the same token at once: the second gets a sibling, and the
        // login goes on in both.
        let (status, tab2) = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": first})).await;
        assert_eq!(status, StatusCode::OK, "{tab2}");
        let tab2_token = tab2["refresh_token"].as_str().unwrap_or_default().to_owned();
        assert_ne!(tab2_token, second_token);

        // Once the family moved on, presenting an old token again revokes the whole family,
        // including the newer tokens.
        let (status, third) = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": second_token})).await;
        assert_eq!(status, StatusCode::OK, "{third}");
        let (status, body) = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": first})).await;
        assert_problem(status, &body, 401, "refresh_token_reused");
        for newer in [&third["refresh_token"], &json!(tab2_token)] {
            let (status, body) = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": newer})).await;
            assert_problem(status, &body, 401, "invalid_refresh_token");
        }

        // Another login is a separate family and still works.
        let other = app.login("13812345678", "abc12345x").await;
        let (status, _) = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": other["refresh_token"]})).await;
        assert_eq!(status, StatusCode::OK);

        let (status, body) = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": "not-a-token"})).await;
        assert_problem(status, &body, 401, "invalid_refresh_token");
    }

    async fn logout_revokes_the_refresh_token(app) {
        let reg = app.register("13812345678", "abc12345x").await;
        let (status, _) = app.post("/api/v1/auth/logout", None, json!({"refresh_token": reg["refresh_token"]})).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": reg["refresh_token"]})).await;
        assert_problem(status, &body, 401, "invalid_refresh_token");
        // Logging out twice is harmless.
        let (status, _) = app.post("/api/v1/auth/logout", None, json!({"refresh_token": reg["refresh_token"]})).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }

    async fn change_password_and_curator_reset(app) {
        let county = app.org("北京市妇联", "province", None).await;
        let school = app.org("实验小学", "school", Some(&county)).await;
        let curator = app.user_with_role("13700000001", "curator", Some(&county)).await;
        let reg = app.register("13812345678", "abc12345x").await;
        let parent = token_of(&reg);
        let parent_id = reg["user"]["id"].as_str().unwrap_or_default().to_owned();

        let (status, body) = app
            .post("/api/v1/me/password", Some(&parent), json!({"current_password": "nope12345", "new_password": "xyz98765a"}))
            .await;
        assert_problem(status, &body, 422, "validation_failed");
        let (status, body) = app
            .post("/api/v1/me/password", Some(&parent), json!({"current_password": "abc12345x", "new_password": "xyz98765a"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // Old refresh tokens end with a password change.
        let (status, _) = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": reg["refresh_token"]})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        app.login("13812345678", "xyz98765a").await;

        // The curator cannot reset a user outside their scope…
        let path = format!("/api/v1/users/{parent_id}/password-reset");
        let (status, body) = app.post(&path, Some(&curator), json!(null)).await;
        assert_problem(status, &body, 403, "out_of_scope");
        // …but can once the parent joined a school in scope.
        let (status, code) = app.post(&format!("/api/v1/organizations/{school}/join-code"), Some(&curator), json!(null)).await;
        assert_eq!(status, StatusCode::CREATED, "{code}");
        let parent = token_of(&app.login("13812345678", "xyz98765a").await);
        let (status, joined) = app.post("/api/v1/me/organizations", Some(&parent), json!({"join_code": code["join_code"]})).await;
        assert_eq!(status, StatusCode::OK, "{joined}");
        let (status, reset) = app.post(&path, Some(&curator), json!(null)).await;
        assert_eq!(status, StatusCode::OK, "{reset}");
        let temporary = reset["temporary_password"].as_str().unwrap_or_default().to_owned();

        // The old password is gone; the temporary one only lets the user change it.
        let (status, _) = app.post("/api/v1/auth/login", None, json!({"phone": "13812345678", "password": "xyz98765a"})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let login = app.login("13812345678", &temporary).await;
        assert_eq!(login["user"]["must_change_password"], true);
        let limited = token_of(&login);
        let (status, body) = app.get(&format!("/api/v1/organizations/{school}"), Some(&limited)).await;
        assert_problem(status, &body, 403, "password_change_required");
        let (status, _) = app.get("/api/v1/me", Some(&limited)).await;
        assert_eq!(status, StatusCode::OK);
        let (status, changed) = app
            .post("/api/v1/me/password", Some(&limited), json!({"current_password": temporary, "new_password": "fresh2026pw"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["user"]["must_change_password"], false);
        let (status, _) = app.get(&format!("/api/v1/organizations/{school}"), Some(&token_of(&changed))).await;
        assert_eq!(status, StatusCode::OK);
    }

    async fn account_deletion_erases_personal_data(app) {
        let reg = app.register("13812345678", "abc12345x").await;
        let token = token_of(&reg);
        let (status, body) = app.call(Method::DELETE, "/api/v1/me", Some(&token), json!({"password": "wrong1234"})).await;
        assert_problem(status, &body, 422, "validation_failed");
        let (status, _) = app.call(Method::DELETE, "/api/v1/me", Some(&token), json!({"password": "abc12345x"})).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        // The access token is void at once, on every route (not only those that load the user).
        let (status, body) = app.get("/api/v1/me", Some(&token)).await;
        assert_problem(status, &body, 401, "token_revoked");
        let (status, body) = app.get("/api/v1/me/learning", Some(&token)).await;
        assert_problem(status, &body, 401, "token_revoked");
        let (status, _) = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": reg["refresh_token"]})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = app.post("/api/v1/auth/login", None, json!({"phone": "13812345678", "password": "abc12345x"})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // The number is free again for a new account.
        app.register("13812345678", "abc12345z").await;
    }
}

/// A parent's first week #14: 忘记密码 by SMS code through the notifier gateway. The same answer
/// for any number (a text only to registered ones); a wrong code uses a try and the fifth voids
/// it; the right code sets the password, ends the old sessions and signs in, once.
async fn a_forgotten_password_is_reset_by_sms_code(backend: e2e::Backend) {
    let (hook, seen) = e2e::gateway().await;
    let app = e2e::TestApp::spawn_with(backend, |s| s.live.notify_webhook_url = Some(hook.clone())).await;
    let (_, options) = app.get("/api/v1/auth/password-reset", None).await;
    assert_eq!(options["sms"], true, "{options}");
    let reg = app.register("13812345678", "abc12345x").await;
    let old_refresh = reg["refresh_token"].as_str().unwrap_or_default().to_owned();
    let texts = || seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    // The six digits of the text (which also says "10 分钟").
    let code_in = |text: &serde_json::Value| {
        text["text"]
            .as_str()
            .unwrap_or_default()
            .split(|c: char| !c.is_ascii_digit())
            .find(|t| t.len() == 6)
            .unwrap_or_default()
            .to_owned()
    };
    let wait_for = |n: usize| {
        let seen = seen.clone();
        async move {
            for _ in 0..40 {
                if seen.lock().unwrap_or_else(|p| p.into_inner()).len() >= n {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };
    // An unregistered number gets the same answer, and no text.
    let (status, unknown) = app
        .post(
            "/api/v1/auth/password-reset/code",
            None,
            json!({"phone": "13900000000"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{unknown}");
    let (status, sent) = app
        .post(
            "/api/v1/auth/password-reset/code",
            None,
            json!({"phone": "138 1234 5678"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    assert_eq!(unknown, sent);
    wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let got = texts();
    assert_eq!(got.len(), 1, "{got:?}");
    let (key, text) = &got[0];
    assert_eq!(text["id"], key.as_str());
    assert_eq!(
        (text["kind"].as_str(), text["phone"].as_str()),
        (Some("password_reset_code"), Some("+8613812345678"))
    );
    let code = code_in(text);
    assert_eq!(code.len(), 6, "{text}");
    let reset = |code: &str, password: &str| json!({"phone": "13812345678", "code": code, "new_password": password});
    // A weak password is refused before the code is looked at (the code stays usable).
    let (status, weak) = app.post("/api/v1/auth/password-reset", None, reset(&code, "123")).await;
    let weak = assert_problem(status, &weak, 422, "validation_failed");
    assert_eq!(weak["errors"][0]["field"], "new_password", "{weak}");
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let (status, problem) = app
        .post("/api/v1/auth/password-reset", None, reset(wrong, "New-pass-2026"))
        .await;
    let problem = assert_problem(status, &problem, 422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "code", "{problem}");
    let (status, done) = app
        .post("/api/v1/auth/password-reset", None, reset(&code, "New-pass-2026"))
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done["access_token"].is_string(), "signed in: {done}");
    // Once only; the old password and the old sessions are gone; the new one works.
    let (status, _) = app
        .post("/api/v1/auth/password-reset", None, reset(&code, "Other-pass-2026"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .post("/api/v1/auth/refresh", None, json!({"refresh_token": old_refresh}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"phone": "13812345678", "password": "abc12345x"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.login("13812345678", "New-pass-2026").await;

    // Five wrong tries void a code: the right one no longer works after them.
    app.post(
        "/api/v1/auth/password-reset/code",
        None,
        json!({"phone": "13812345678"}),
    )
    .await;
    wait_for(2).await;
    let code = code_in(&texts()[1].1);
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..5 {
        app.post("/api/v1/auth/password-reset", None, reset(wrong, "Third-pass-2026"))
            .await;
    }
    let (status, _) = app
        .post("/api/v1/auth/password-reset", None, reset(&code, "Third-pass-2026"))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the code is void after five wrong tries"
    );
    // Requests per number are limited.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            app.post(
                "/api/v1/auth/password-reset/code",
                None,
                json!({"phone": "13812345678"}),
            )
            .await
            .0,
        );
    }
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    app.stop().await;
}

/// Without a gateway, the web app is told to send people to their school's staff.
async fn without_a_gateway_staff_reset_passwords(backend: e2e::Backend) {
    let app = e2e::TestApp::spawn(backend).await;
    let (_, options) = app.get("/api/v1/auth/password-reset", None).await;
    assert_eq!(options["sms"], false, "{options}");
    let (status, problem) = app
        .post(
            "/api/v1/auth/password-reset/code",
            None,
            json!({"phone": "13812345678"}),
        )
        .await;
    assert_problem(status, &problem, 409, "sms_unavailable");
    app.stop().await;
}

e2e::on_both_databases!(
    a_forgotten_password_is_reset_by_sms_code,
    without_a_gateway_staff_reset_passwords
);
