//! The organization tree, join codes, member management and curator scoping.

use e2e::{assert_problem, both_databases, token_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

both_databases! {
    async fn curator_of_one_county_cannot_touch_another(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let city = app.org("杭州市妇联", "city", Some(&province)).await;
        let county_a = app.org("西湖区妇联", "county", Some(&city)).await;
        let county_b = app.org("上城区妇联", "county", Some(&city)).await;
        let school_b = app.org("上城实验小学", "school", Some(&county_b)).await;
        let curator_a = app.user_with_role("13700000001", "curator", Some(&county_a)).await;
        let curator_b = app.user_with_role("13700000002", "curator", Some(&county_b)).await;
        let admin = app.user_with_role("13700000009", "admin", None).await;

        // A curator builds inside their county…
        let (status, school_a) = app
            .post("/api/v1/organizations", Some(&curator_a), json!({"name": "西湖小学", "kind": "school", "parent_id": county_a}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{school_a}");
        let school_a = school_a["id"].as_str().unwrap_or_default().to_owned();
        let (status, class_a) = app
            .post("/api/v1/organizations", Some(&curator_a), json!({"name": "三年级二班", "kind": "class", "parent_id": school_a}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{class_a}");

        // …but not in the other county, nor at the top, nor in the wrong shape.
        let (status, body) = app
            .post("/api/v1/organizations", Some(&curator_a), json!({"name": "越界小学", "kind": "school", "parent_id": county_b}))
            .await;
        assert_problem(status, &body, 403, "out_of_scope");
        let (status, body) = app.post("/api/v1/organizations", Some(&curator_a), json!({"name": "新省", "kind": "province"})).await;
        assert_problem(status, &body, 403, "out_of_scope");
        let (status, body) = app
            .post("/api/v1/organizations", Some(&curator_a), json!({"name": "班级", "kind": "class", "parent_id": county_a}))
            .await;
        assert_problem(status, &body, 422, "validation_failed");
        let (status, body) = app.post("/api/v1/organizations", Some(&admin), json!({"name": "城市", "kind": "city"})).await;
        assert_problem(status, &body, 422, "validation_failed");
        let (status, body) = app
            .post("/api/v1/organizations", Some(&curator_a), json!({"name": "x", "kind": "galaxy", "parent_id": county_a}))
            .await;
        assert_problem(status, &body, 422, "invalid_body");

        for (method, path) in [
            (Method::POST, format!("/api/v1/organizations/{school_b}/join-code")),
            (Method::GET, format!("/api/v1/organizations/{school_b}/members")),
            (Method::GET, format!("/api/v1/organizations/{county_b}")),
        ] {
            let (status, body) = app.call(method, &path, Some(&curator_a), json!(null)).await;
            assert_problem(status, &body, 403, "out_of_scope");
        }

        // Listing shows each curator their own subtree only; admins see everything.
        let names = |body: &serde_json::Value| -> Vec<String> {
            body["items"].as_array().into_iter().flatten().filter_map(|o| o["name"].as_str().map(str::to_owned)).collect()
        };
        let (_, list_a) = app.get("/api/v1/organizations", Some(&curator_a)).await;
        assert_eq!(names(&list_a), ["西湖区妇联", "西湖小学", "三年级二班"], "{list_a}");
        let (_, list_b) = app.get("/api/v1/organizations", Some(&curator_b)).await;
        assert_eq!(names(&list_b), ["上城区妇联", "上城实验小学"], "{list_b}");
        let (_, all) = app.get("/api/v1/organizations?limit=4", Some(&admin)).await;
        assert_eq!(names(&all).len(), 4);
        let cursor = all["next_cursor"].as_str().unwrap_or_default().to_owned();
        let (_, rest) = app.get(&format!("/api/v1/organizations?limit=4&cursor={cursor}"), Some(&admin)).await;
        assert_eq!(names(&rest).len(), 3, "{rest}");
        assert!(rest["next_cursor"].is_null());

        // A parent manages nothing.
        let parent = token_of(&app.register("13812345678", "abc12345x").await);
        let (status, body) = app.get("/api/v1/organizations", Some(&parent)).await;
        assert_problem(status, &body, 403, "forbidden_role");
        let (status, body) = app.post(&format!("/api/v1/organizations/{school_a}/join-code"), Some(&parent), json!(null)).await;
        assert_problem(status, &body, 403, "out_of_scope");
    }

    async fn parents_join_with_codes_and_curators_manage_members(app) {
        let province = app.org("江苏省妇联", "province", None).await;
        let school = app.org("南京路小学", "school", Some(&province)).await;
        let class = app.org("一年级一班", "class", Some(&school)).await;
        let curator = app.user_with_role("13700000001", "curator", Some(&school)).await;

        let (status, body) = app.post(&format!("/api/v1/organizations/{province}/join-code"), Some(&curator), json!(null)).await;
        assert_problem(status, &body, 403, "out_of_scope");
        let (status, first) = app.post(&format!("/api/v1/organizations/{class}/join-code"), Some(&curator), json!(null)).await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        let (status, second) = app.post(&format!("/api/v1/organizations/{class}/join-code"), Some(&curator), json!(null)).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_ne!(first["join_code"], second["join_code"]);

        let parent = token_of(&app.register("13812345678", "abc12345x").await);
        // The rotated-away code no longer works.
        let (status, body) = app.post("/api/v1/me/organizations", Some(&parent), json!({"join_code": first["join_code"]})).await;
        assert_problem(status, &body, 404, "join_code_not_found");
        let code = second["join_code"].as_str().unwrap_or_default().to_lowercase();
        let (status, joined) = app.post("/api/v1/me/organizations", Some(&parent), json!({"join_code": code})).await;
        assert_eq!(status, StatusCode::OK, "{joined}");
        assert_eq!(joined["name"], "一年级一班");
        // Guessing codes is limited: ten tries, then 429 even with the right code.
        let guesser = token_of(&app.register("13812349999", "abc12345x").await);
        for n in 0..10 {
            let (status, body) = app.post("/api/v1/me/organizations", Some(&guesser), json!({"join_code": format!("ZZZZ{n:04}")})).await;
            assert_problem(status, &body, 404, "join_code_not_found");
        }
        let (status, body) = app.post("/api/v1/me/organizations", Some(&guesser), json!({"join_code": code})).await;
        assert_problem(status, &body, 429, "rate_limited");
        // Joining twice is harmless.
        let (status, _) = app.post("/api/v1/me/organizations", Some(&parent), json!({"join_code": code})).await;
        assert_eq!(status, StatusCode::OK);
        let (_, me) = app.get("/api/v1/me", Some(&parent)).await;
        assert_eq!(me["organizations"][0]["name"], "一年级一班", "{me}");
        assert_eq!(me["organizations"].as_array().map(Vec::len), Some(1));

        let (status, members) = app.get(&format!("/api/v1/organizations/{class}/members"), Some(&curator)).await;
        assert_eq!(status, StatusCode::OK, "{members}");
        assert_eq!(members["items"][0]["phone"], "138****5678");
        let parent_id = members["items"][0]["id"].as_str().unwrap_or_default().to_owned();

        let (status, _) = app
            .call(Method::DELETE, &format!("/api/v1/organizations/{class}/members/{parent_id}"), Some(&curator), json!(null))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, members) = app.get(&format!("/api/v1/organizations/{class}/members"), Some(&curator)).await;
        assert_eq!(members["items"], json!([]));

        // Adding by phone is an invitation the parent accepts (see `staff_add_by_phone_only_with_consent`).
        let (status, sent) = app
            .post(&format!("/api/v1/organizations/{school}/members"), Some(&curator), json!({"phone": "+8613812345678"}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
        let (_, members) = app.get(&format!("/api/v1/organizations/{school}/members"), Some(&curator)).await;
        let listed = members["items"].as_array().cloned().unwrap_or_default();
        assert!(listed.iter().all(|m| m["phone"] != "138****5678"), "not a member before accepting: {members}");

        // Curators create parents and experts in scope, not admins.
        let (status, body) = app
            .post("/api/v1/users", Some(&curator), json!({"phone": "13600000001", "password": "abc12345x", "display_name": "王老师", "role": "expert", "org_id": school}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = app
            .post("/api/v1/users", Some(&curator), json!({"phone": "13600000002", "password": "abc12345x", "display_name": "坏人", "role": "admin", "org_id": school}))
            .await;
        assert_problem(status, &body, 403, "forbidden_role");
        let (status, body) = app
            .post("/api/v1/users", Some(&curator), json!({"phone": "13600000003", "password": "abc12345x", "display_name": "越界", "role": "parent", "org_id": province}))
            .await;
        assert_problem(status, &body, 403, "out_of_scope");
        // A staff-created account starts with a password to change.
        let login = app.login("13600000001", "abc12345x").await;
        assert_eq!(login["user"]["must_change_password"], true);
    }

    async fn the_lecturer_picker_offers_experts_in_scope(app) {
        // A parent's first week #8: a curator creating a series picks the expert by name or
        // phone, among the experts of what they manage, and never types a user id.
        let province = app.org("浙江省妇联", "province", None).await;
        let school = app.org("新凤小学", "school", Some(&province)).await;
        let elsewhere = app.org("江苏省妇联", "province", None).await;
        let far = app.org("别省小学", "school", Some(&elsewhere)).await;
        app.user_with_role("13600000001", "expert", Some(&school)).await;
        app.user_with_role("13600000002", "expert", Some(&far)).await;
        let parent = app.user_with_role("13800000001", "parent", Some(&school)).await;
        let curator = app.user_with_role("13700000001", "curator", Some(&province)).await;
        let names = |v: &Value| v.as_array().into_iter().flatten()
            .map(|e| format!("{} {} {}", e["display_name"].as_str().unwrap_or(""), e["phone"].as_str().unwrap_or(""), e["org_name"].as_str().unwrap_or("")))
            .collect::<Vec<_>>();
        let one = vec!["expert 13600000001 136****0001 新凤小学".to_owned()];
        for q in ["", "expert", "0001", "1360000"] {
            let (status, found) = app.get(&format!("/api/v1/experts?q={q}"), Some(&curator)).await;
            assert_eq!(status, StatusCode::OK, "{found}");
            assert_eq!(names(&found), one, "q={q}: {found}");
        }
        let (_, none) = app.get("/api/v1/experts?q=0002", Some(&curator)).await;
        assert_eq!(names(&none), Vec::<String>::new(), "another province's expert: {none}");
        let (status, _) = app.get("/api/v1/experts", Some(&parent)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // The organization pickers search what the caller manages by name.
        let org_names = |v: &Value| v["items"].as_array().into_iter().flatten()
            .filter_map(|o| o["name"].as_str().map(str::to_owned)).collect::<Vec<_>>();
        let (_, found) = app.get("/api/v1/organizations?q=%E5%B0%8F%E5%AD%A6", Some(&curator)).await;
        assert_eq!(org_names(&found), ["新凤小学"], "小学 within the province only: {found}");
        let (_, all) = app.get("/api/v1/organizations?q=", Some(&curator)).await;
        assert_eq!(org_names(&all), ["浙江省妇联", "新凤小学"], "{all}");
    }

    async fn staff_add_by_phone_only_with_consent(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let school = app.org("新凤小学", "school", Some(&province)).await;
        let class = app.org("三年级一班", "class", Some(&school)).await;
        let other_school = app.org("别的小学", "school", Some(&province)).await;
        let curator = app.user_with_role("13700000001", "curator", Some(&class)).await;
        let other_curator = app.user_with_role("13700000002", "curator", Some(&other_school)).await;
        let reg = app.register("13812345678", "abc12345x").await;
        let (parent, parent_id) = (token_of(&reg), reg["user"]["id"].as_str().unwrap_or_default().to_owned());
        let stranger = token_of(&app.register("13812340000", "abc12345x").await);
        let reset = format!("/api/v1/users/{parent_id}/password-reset");

        // The takeover that was: add any registered parent by phone, then reset their password.
        let (status, sent) = app
            .post(&format!("/api/v1/organizations/{class}/members"), Some(&curator), json!({"phone": "13812345678"}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
        let (status, body) = app.post(&reset, Some(&curator), json!(null)).await;
        assert_problem(status, &body, 403, "out_of_scope");
        let (_, me) = app.get("/api/v1/me", Some(&parent)).await;
        assert_eq!(me["organizations"], json!([]), "an invitation is not a membership: {me}");

        // Registered or not, the answer is the same: a phone number reveals nothing.
        let (status, unknown) = app
            .post(&format!("/api/v1/organizations/{class}/members"), Some(&curator), json!({"phone": "13999999999"}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{unknown}");
        let shape = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
        assert_eq!(shape(&sent), shape(&unknown));
        assert_eq!((sent["status"].as_str(), unknown["status"].as_str()), (Some("invited"), Some("invited")));
        // Out of scope, as before.
        let (status, body) = app
            .post(&format!("/api/v1/organizations/{class}/members"), Some(&other_curator), json!({"phone": "13812345678"}))
            .await;
        assert_problem(status, &body, 403, "out_of_scope");

        // Only the invited parent sees and answers the invitation.
        let (status, mine) = app.get("/api/v1/me/invitations", Some(&parent)).await;
        assert_eq!(status, StatusCode::OK, "{mine}");
        assert_eq!(mine.as_array().map(Vec::len), Some(1), "{mine}");
        assert_eq!(mine[0]["organization"]["name"], "三年级一班");
        let invitation = mine[0]["id"].as_str().unwrap_or_default().to_owned();
        let (_, theirs) = app.get("/api/v1/me/invitations", Some(&stranger)).await;
        assert_eq!(theirs, json!([]));
        let accept = format!("/api/v1/me/invitations/{invitation}/accept");
        let (status, body) = app.post(&accept, Some(&stranger), json!({})).await;
        assert_problem(status, &body, 404, "invitation_not_found");
        let (status, body) = app.call(Method::DELETE, &format!("/api/v1/me/invitations/{invitation}"), Some(&stranger), json!(null)).await;
        assert_problem(status, &body, 404, "invitation_not_found");

        // Accepted: a member by consent, whose password staff in scope may now reset.
        let (status, joined) = app.post(&accept, Some(&parent), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{joined}");
        assert_eq!(joined["name"], "三年级一班");
        let (_, me) = app.get("/api/v1/me", Some(&parent)).await;
        assert_eq!(me["organizations"][0]["name"], "三年级一班", "{me}");
        let (status, body) = app.post(&accept, Some(&parent), json!({})).await;
        assert_problem(status, &body, 404, "invitation_not_found");
        let (status, body) = app.post(&reset, Some(&other_curator), json!(null)).await;
        assert_problem(status, &body, 403, "out_of_scope");
        let (status, body) = app.post(&reset, Some(&curator), json!(null)).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // Declined: gone, and nothing joined.
        let (status, body) = app
            .post(&format!("/api/v1/organizations/{school}/members"), Some(&curator), json!({"phone": "13812340000"}))
            .await;
        assert_problem(status, &body, 403, "out_of_scope");
        let school_curator = app.user_with_role("13700000003", "curator", Some(&school)).await;
        let (status, _) = app
            .post(&format!("/api/v1/organizations/{school}/members"), Some(&school_curator), json!({"phone": "13812340000"}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let (_, theirs) = app.get("/api/v1/me/invitations", Some(&stranger)).await;
        let declined = theirs[0]["id"].as_str().unwrap_or_default().to_owned();
        let (status, _) = app.call(Method::DELETE, &format!("/api/v1/me/invitations/{declined}"), Some(&stranger), json!(null)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, theirs) = app.get("/api/v1/me/invitations", Some(&stranger)).await;
        assert_eq!(theirs, json!([]));
        let (_, me) = app.get("/api/v1/me", Some(&stranger)).await;
        assert_eq!(me["organizations"], json!([]));
    }

    async fn admins_change_roles(app) {
        let admin = app.user_with_role("13700000009", "admin", None).await;
        let reg = app.register("13812345678", "abc12345x").await;
        let id = reg["user"]["id"].as_str().unwrap_or_default().to_owned();
        let (status, body) = app.call(Method::PATCH, &format!("/api/v1/users/{id}"), Some(&token_of(&reg)), json!({"role": "admin"})).await;
        assert_problem(status, &body, 403, "forbidden_role");
        let (status, _) = app.call(Method::PATCH, &format!("/api/v1/users/{id}"), Some(&admin), json!({"role": "expert"})).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let login = app.login("13812345678", "abc12345x").await;
        assert_eq!(login["user"]["role"], "expert");
        let (status, body) = app
            .call(Method::PATCH, &format!("/api/v1/users/{}", uuid::Uuid::now_v7()), Some(&admin), json!({"role": "expert"}))
            .await;
        assert_problem(status, &body, 404, "user_not_found");
    }
}
