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
                &["CREATE TRIGGER fail_revoke BEFORE UPDATE ON refresh_tokens BEGIN SELECT RAISE(ABORT, 'injected fault'); END"],
                &["DROP TRIGGER fail_revoke"],
            ),
            e2e::Backend::Postgres => (
                &[
                    "CREATE FUNCTION fail_revoke() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql",
                    "CREATE TRIGGER fail_revoke BEFORE UPDATE ON refresh_tokens FOR EACH STATEMENT EXECUTE FUNCTION fail_revoke()",
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
