//! 评价看板 through the API on a seeded tree: a county with two schools, one with a class and a
//! family of its own. Families study at offline activities, rate them and earn certificates;
//! the test works out every figure itself from what it seeded and compares: members, coverage,
//! average and median hours, participation, certificates, ratings, the composite score by the
//! default indicators and by the county's own (inherited by its schools), the ranks, the CSV.

use std::time::Duration;

use e2e::{assert_problem, at, both_databases, str_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The seeded study of one family: offline hours, stars given, certificates.
struct Seeded {
    hours: f64,
    stars: Vec<i64>,
    certificates: i64,
}

/// What the test expects of a group of families, computed here.
fn expected(fs: &[&Seeded], coverage_hours: f64) -> Value {
    let n = fs.len() as f64;
    let mut hours: Vec<f64> = fs.iter().map(|f| f.hours).collect();
    hours.sort_by(f64::total_cmp);
    let median = if hours.len() % 2 == 1 {
        hours[hours.len() / 2]
    } else {
        (hours[hours.len() / 2 - 1] + hours[hours.len() / 2]) / 2.0
    };
    let stars: Vec<i64> = fs.iter().flat_map(|f| f.stars.clone()).collect();
    json!({
        "members": fs.len(),
        "active": fs.iter().filter(|f| f.hours > 0.0).count(),
        "coverage": fs.iter().filter(|f| f.hours >= coverage_hours).count() as f64 / n,
        "avg_hours": hours.iter().sum::<f64>() / n,
        "median_hours": median,
        "live_rate": 0.0,
        "offline_rate": fs.iter().filter(|f| f.hours > 0.0).count() as f64 / n,
        "certificates": fs.iter().map(|f| f.certificates).sum::<i64>(),
        "avg_rating": if stars.is_empty() { Value::Null } else { json!(stars.iter().sum::<i64>() as f64 / stars.len() as f64) },
    })
}

/// The default composite: coverage ÷ 80 % (40), hours ÷ 6 (30), live ÷ 50 % (15), offline ÷ 30 % (15).
fn default_score(e: &Value) -> f64 {
    let part = |key: &str, target: f64, weight: f64| weight * (e[key].as_f64().unwrap_or(0.0) / target).min(1.0);
    part("coverage", 0.8, 40.0)
        + part("avg_hours", 6.0, 30.0)
        + part("live_rate", 0.5, 15.0)
        + part("offline_rate", 0.3, 15.0)
}

fn close(got: &Value, want: &Value, what: &str) {
    for (k, w) in want.as_object().into_iter().flatten() {
        let g = &got[k];
        match (g.as_f64(), w.as_f64()) {
            (Some(g), Some(w)) => assert!((g - w).abs() < 0.006, "{what}.{k}: got {g}, want {w}"),
            _ => assert_eq!(g, w, "{what}.{k}"),
        }
    }
}

both_databases! {
    async fn the_dashboard_shows_what_the_families_did_unit_by_unit(app) {
        let province = app.org("浙江省妇联", "province", None).await;
        let county = app.org("西湖区妇联", "county", Some(&province)).await;
        let a = app.org("西湖小学", "school", Some(&county)).await;
        let a1 = app.org("三年级一班", "class", Some(&a)).await;
        let b = app.org("文一小学", "school", Some(&county)).await;
        let other = app.org("上城区妇联", "county", Some(&province)).await;
        let curator = app.user_with_role("13700000001", "curator", Some(&county)).await;
        let stranger = app.user_with_role("13700000002", "curator", Some(&other)).await;
        let fam = |phone: &'static str, org: String| async move { app.user_with_role(phone, "parent", Some(&org)).await };
        let pa1 = fam("13800000001", a1.clone()).await;
        let pa2 = fam("13800000002", a1.clone()).await;
        let _pa3 = fam("13800000003", a.clone()).await;
        let pb1 = fam("13800000004", b.clone()).await;
        let _pb2 = fam("13800000005", b.clone()).await;

        // Offline study, checked in by hand: a1 90 + 30 minutes, a2 90, b1 60.
        let activity = |scope: String, minutes: i64| {
            json!({"title": "家长课堂", "kind": "lecture", "place": "礼堂", "starts_at": at(10), "ends_at": at(70),
                   "capacity": 50, "scope_org_id": scope, "host_org_id": scope, "credit_minutes": minutes})
        };
        let mut acts = Vec::new();
        for (scope, minutes, who) in [
            (a.clone(), 90, vec![&pa1, &pa2]),
            (a.clone(), 30, vec![&pa1]),
            (b.clone(), 60, vec![&pb1]),
        ] {
            let (status, x) = app.post("/api/v1/activities", Some(&curator), activity(scope, minutes)).await;
            assert_eq!(status, StatusCode::CREATED, "{x}");
            let id = str_of(&x, "id");
            for p in who {
                app.post(&format!("/api/v1/activities/{id}/enrolments"), Some(p), json!({})).await;
                let user = str_of(&app.get("/api/v1/me", Some(p)).await.1, "id");
                let (status, c) = app.call(Method::PUT, &format!("/api/v1/activities/{id}/check-ins/{user}"), Some(&curator), json!({})).await;
                assert!(status.is_success(), "{c}");
            }
            acts.push(id);
        }
        for (p, act, stars) in [(&pa1, &acts[0], 4), (&pa2, &acts[0], 2), (&pb1, &acts[2], 5)] {
            let (status, r) = app.call(Method::PUT, &format!("/api/v1/live/occurrences/{act}/rating"), Some(p), json!({"stars": stars})).await;
            assert_eq!(status, StatusCode::OK, "{r}");
        }
        // Certificates for 1.5 hours offline: a1 and a2.
        let (status, r) = app
            .post("/api/v1/certificate-rules", Some(&curator),
                  json!({"name": "线下学习证书", "scope_org_id": county, "from": at(-60), "to": at(600), "min_offline_hours": 1.5}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        for _ in 0..200 {
            let (_, rules) = app.get(&format!("/api/v1/certificate-rules?org_id={county}"), Some(&curator)).await;
            if rules[0]["issued"] == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seeded = [
            Seeded { hours: 2.0, stars: vec![4], certificates: 1 },
            Seeded { hours: 1.5, stars: vec![2], certificates: 1 },
            Seeded { hours: 0.0, stars: vec![], certificates: 0 },
            Seeded { hours: 1.0, stars: vec![5], certificates: 0 },
            Seeded { hours: 0.0, stars: vec![], certificates: 0 },
        ];

        // The county: one row per school, by the default indicators.
        let path = format!("/api/v1/organizations/{county}/evaluation");
        let (status, v) = app.get(&path, Some(&curator)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["indicators_from"], Value::Null, "{v}");
        assert!(str_of(&v, "formula").starts_with("综合得分 = [40 × min(覆盖率 ÷ 80%, 1)"), "{v}");
        let rows = v["rows"].as_array().cloned().unwrap_or_default();
        assert_eq!(rows.iter().map(|r| str_of(r, "name")).collect::<Vec<_>>(), ["文一小学", "西湖小学"], "{v}");
        let want_a = expected(&[&seeded[0], &seeded[1], &seeded[2]], 1.0);
        let want_b = expected(&[&seeded[3], &seeded[4]], 1.0);
        close(&rows[1]["measures"], &want_a, "西湖小学");
        close(&rows[0]["measures"], &want_b, "文一小学");
        close(&v["total"]["measures"], &expected(&seeded.iter().collect::<Vec<_>>(), 1.0), "西湖区");
        let (score_a, score_b) = (default_score(&want_a), default_score(&want_b));
        assert!((rows[1]["score"].as_f64().unwrap_or(-1.0) - score_a).abs() < 0.06, "{} vs {score_a}", rows[1]["score"]);
        assert!((rows[0]["score"].as_f64().unwrap_or(-1.0) - score_b).abs() < 0.06, "{} vs {score_b}", rows[0]["score"]);
        assert_eq!((rows[1]["rank"].as_i64(), rows[0]["rank"].as_i64()), (Some(1), Some(2)), "{v}");
        // The trend: four terms, oldest first, ending with this one.
        let trend = rows[1]["trend"].as_array().cloned().unwrap_or_default();
        assert_eq!(trend.len(), 4, "{v}");
        assert_eq!((trend[3]["term"].clone(), trend[3]["score"].clone()), (v["term"]["name"].clone(), rows[1]["score"].clone()));
        assert_eq!(trend[0]["score"], 0.0, "nothing was studied terms ago");

        // The county's own indicators, inherited by the school: coverage at 2 hours, target 50 %.
        let own = json!({"coverage_hours": 2, "items": [{"measure": "coverage", "target": 0.5, "weight": 1}]});
        let ind = format!("/api/v1/organizations/{county}/indicators");
        let (status, p) = app.call(Method::PUT, &ind, Some(&curator), json!({"coverage_hours": 0, "items": []})).await;
        let p = assert_problem(status, &p, 422, "validation_failed");
        assert_eq!(p["errors"][0]["field"], "coverage_hours", "{p}");
        let (status, p) = app.call(Method::PUT, &ind, Some(&stranger), own.clone()).await;
        assert_problem(status, &p, 403, "out_of_scope");
        let (status, p) = app.call(Method::PUT, &ind, Some(&pa1), own.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
        let (status, i) = app.call(Method::PUT, &ind, Some(&curator), own).await;
        assert_eq!((status, i["inherited_from"].as_str()), (StatusCode::OK, Some(county.as_str())), "{i}");
        let (_, i) = app.get(&format!("/api/v1/organizations/{a}/indicators"), Some(&curator)).await;
        assert_eq!(i["inherited_from"].as_str(), Some(county.as_str()), "{i}");

        // The school: its class, and its own family.
        let (status, s) = app.get(&format!("/api/v1/organizations/{a}/evaluation?term={}", v["term"]["name"].as_str().unwrap_or_default()), Some(&curator)).await;
        assert_eq!(status, StatusCode::OK, "{s}");
        let rows = s["rows"].as_array().cloned().unwrap_or_default();
        assert_eq!(rows.iter().map(|r| str_of(r, "name")).collect::<Vec<_>>(), ["三年级一班", "西湖小学（直属）"], "{s}");
        assert_eq!((rows[0]["org_id"].as_str(), rows[1]["org_id"].clone()), (Some(a1.as_str()), Value::Null), "{s}");
        close(&rows[0]["measures"], &expected(&[&seeded[0], &seeded[1]], 2.0), "三年级一班");
        // Covered at 2 hours: one of two in the class (50 %: the full score), none of the own.
        assert_eq!((rows[0]["score"].as_f64(), rows[1]["score"].as_f64()), (Some(100.0), Some(0.0)), "{s}");
        assert_eq!(s["formula"], "综合得分 = [1 × min(覆盖率 ÷ 50%, 1)] ÷ 1 × 100；覆盖指本学期学时达到 2 小时的家庭", "{s}");

        // The CSV, for Excel.
        let (status, headers, csv) = e2e::raw(app, Method::GET, &format!("/api/v1/organizations/{county}/evaluation.csv"), &[("authorization", &format!("Bearer {curator}"))], None).await;
        assert_eq!(status, StatusCode::OK, "{csv}");
        assert!(headers.get("content-type").and_then(|h| h.to_str().ok()).unwrap_or_default().starts_with("text/csv"));
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(lines[0], "单位,家庭数,活跃家庭,覆盖率,人均学时,学时中位数,直播参与率,线下参与率,发证数,平均评分,综合得分,排名");
        assert!(lines[2].starts_with("西湖小学,3,2,33.3%,1.17,1.50,0.0%,66.7%,2,3.00,"), "{csv}");
        assert!(lines[3].starts_with("西湖区妇联,5,3,"), "{csv}");

        // Wrong ways.
        let (status, p) = app.get(&format!("{path}?term=1999 年春季学期"), Some(&curator)).await;
        let p = assert_problem(status, &p, 422, "validation_failed");
        assert_eq!(p["errors"][0]["field"], "term", "{p}");
        let (status, p) = app.get(&path, Some(&stranger)).await;
        assert_problem(status, &p, 403, "out_of_scope");
        let (status, _) = app.get(&path, Some(&pa1)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}
