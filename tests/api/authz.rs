//! The authorization matrix: every operation of the OpenAPI document, run as each kind of actor
//! against objects of one scope, compared with the table in `tests/api/authz.md`.
//!
//! The world: a province with two schools, S1 (with class C1) and S2 (with class C2), and a
//! second, unrelated province X. The objects under test belong to S1: the owning expert's
//! course, asset, upload and lecture series; the curator in scope manages S1; the parent in
//! scope is in C1. The actors "out of scope" belong to S2 (C2). Rows marked with `·` try nested
//! ids of another owner or scope (a message of another lecture, an asset of another expert, …).
//!
//! A new route without a row fails the test, and so does a row without a route. To see what the
//! table should say after a deliberate change, run with `PARENTSCHOOL_AUTHZ_WRITE=1`: the test
//! then writes what it observed to `target/authz-observed.md` (and still fails on differences),
//! for a reviewer to compare with the table.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};

use e2e::{TestApp, both_databases, str_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const TABLE: &str = include_str!("authz.md");

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Actor {
    Anonymous,
    ParentIn,
    ParentOut,
    ExpertOwn,
    ExpertOther,
    CuratorIn,
    CuratorOut,
    Admin,
}

const ACTORS: [Actor; 8] = [
    Actor::Anonymous,
    Actor::ParentIn,
    Actor::ParentOut,
    Actor::ExpertOwn,
    Actor::ExpertOther,
    Actor::CuratorIn,
    Actor::CuratorOut,
    Actor::Admin,
];

const HEADER: &str = "| operation | anonymous | parent in scope | parent out of scope | owning expert | \
                      other \
                      expert | curator in scope | curator out of scope | admin |";

enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

struct Req {
    method: Method,
    path: String,
    body: Body,
    /// Run by the admin afterwards, so that one cell's success does not change the next cell's
    /// world (e.g. leaving an organization joined).
    undo: Option<(Method, String, Value)>,
}

fn req(method: Method, path: impl Into<String>, body: Body) -> Req {
    Req {
        method,
        path: path.into(),
        body,
        undo: None,
    }
}

struct Person {
    token: String,
    id: String,
    phone: String,
}

struct World {
    people: BTreeMap<Actor, Person>,
    s1: String,
    c1: String,
    x: String,
    x_school: String,
    partner: String,
    /// A child each of the parents in and out of scope added.
    children: (String, String),
    /// An offline activity of S1 for S1, starting in ten minutes, the parent in scope enrolled.
    activity: String,
    /// A certificate rule of S1, and the certificate it issued to the parent in scope.
    rule: String,
    certificate: String,
    course: String,
    /// The course's lesson, with a quiz.
    lesson: String,
    cover_file: String,
    asset: String,
    asset_other: String,
    upload: String,
    list: String,
    series: String,
    occ: String,
    occ_chat: String,
    occ_questions: String,
    occ_other: String,
    message: String,
    question: String,
    message_other: String,
    question_other: String,
    calendar: String,
    phones: AtomicU32,
}

impl World {
    /// The child the parent in or out of scope added (`another` gives only those two).
    fn child_of(&self, a: Actor) -> &str {
        if a == Actor::ParentIn {
            &self.children.0
        } else {
            &self.children.1
        }
    }

    fn token(&self, a: Actor) -> Option<&str> {
        self.people.get(&a).map(|p| p.token.as_str())
    }

    fn t(&self, a: Actor) -> &str {
        self.token(a).unwrap_or_default()
    }

    fn id(&self, a: Actor) -> &str {
        self.people
            .get(&a)
            .map_or("00000000-0000-7000-8000-000000000000", |p| p.id.as_str())
    }

    fn fresh_phone(&self) -> String {
        format!("135{:08}", self.phones.fetch_add(1, Ordering::Relaxed))
    }
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";
const SRT: &str = "1\r\n00:00:00,200 --> 00:00:01,500\r\n孩子，我们聊聊\r\n";
const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
                     a=rtpmap:96 VP8/90000\r\n";
const NO_SUCH: &str = "00000000-0000-7000-8000-000000000000";

fn next_week() -> String {
    let now =
        time::OffsetDateTime::now_utc().to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC));
    format!("{}T19:30:00+08:00", now.date() + time::Duration::days(7))
}

fn must(status: StatusCode, body: &Value, what: &str) {
    assert!(status.is_success(), "set-up: {what}: {status} {body}");
}

async fn upload(app: &TestApp, token: &str, bytes: &[u8]) -> String {
    let (status, up) = app
        .post(
            "/api/v1/uploads",
            Some(token),
            json!({"filename": "讲座.mp4", "size": bytes.len(), "content_type": "video/mp4"}),
        )
        .await;
    must(status, &up, "upload");
    let id = str_of(&up, "id");
    let size = up["chunk_size"].as_u64().unwrap_or(1 << 20) as usize;
    for (n, chunk) in bytes.chunks(size).enumerate() {
        let (status, _, text) = e2e::raw(
            app,
            Method::PUT,
            &format!("/api/v1/uploads/{id}/chunks/{n}"),
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", "application/octet-stream"),
            ],
            Some(chunk.to_vec()),
        )
        .await;
        assert!(status.is_success(), "set-up: chunk: {status} {text}");
    }
    let (status, done) = app
        .post(&format!("/api/v1/uploads/{id}/complete"), Some(token), json!({}))
        .await;
    must(status, &done, "complete");
    str_of(&done, "asset_id")
}

async fn series(app: &TestApp, w_token: &str, scope: &str, count: u32) -> (String, Vec<String>) {
    let (status, s) = app
        .post(
            "/api/v1/live/series",
            Some(w_token),
            json!({"title": "家庭教育讲座", "rrule": format!("FREQ=WEEKLY;COUNT={count}"), "starts_at": next_week(),
                   "duration_minutes": 60, "capacity": 100, "scope_org_id": scope}),
        )
        .await;
    must(status, &s, "series");
    let occs = s["occurrences"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| str_of(o, "id"))
        .collect();
    (str_of(&s, "id"), occs)
}

async fn go_live(app: &TestApp, occs: &[&str]) {
    let handle = app.handle().await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    for occ in occs {
        let id: live_session::OccurrenceId = occ.parse().unwrap_or_else(|e| panic!("{e}"));
        platform::db_execute!(
            &handle.db,
            "UPDATE live_occurrences SET state = 'live', live_since = $2, went_live_at = $2 WHERE \
             id \
             = $1",
            id,
            now
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    handle.db.close().await;
}

async fn world(app: &TestApp) -> World {
    let province = app.org("浙江省妇联", "province", None).await;
    let s1 = app.org("西湖小学", "school", Some(&province)).await;
    let c1 = app.org("一年级一班", "class", Some(&s1)).await;
    let s2 = app.org("上城小学", "school", Some(&province)).await;
    let c2 = app.org("一年级二班", "class", Some(&s2)).await;
    let x = app.org("江苏省妇联", "province", None).await;
    let x_school = app.org("南京小学", "school", Some(&x)).await;
    // A museum of the province (a partner unit): no actor belongs to it, only the admin
    // manages it.
    let partner = app.partner("浙江省博物馆", "museum", &province).await;
    let mut people = BTreeMap::new();
    for (actor, phone, role, org) in [
        (Actor::ParentIn, "13800000001", "parent", Some(&c1)),
        (Actor::ParentOut, "13800000002", "parent", Some(&c2)),
        (Actor::ExpertOwn, "13600000001", "expert", Some(&s1)),
        (Actor::ExpertOther, "13600000002", "expert", Some(&s2)),
        (Actor::CuratorIn, "13700000001", "curator", Some(&s1)),
        (Actor::CuratorOut, "13700000002", "curator", Some(&s2)),
        (Actor::Admin, "13900000001", "admin", None),
    ] {
        let token = app.user_with_role(phone, role, org.map(String::as_str)).await;
        let (_, me) = app.get("/api/v1/me", Some(&token)).await;
        people.insert(
            actor,
            Person {
                id: str_of(&me, "id"),
                token,
                phone: phone.to_owned(),
            },
        );
    }
    let t = |a: Actor| people[&a].token.clone();

    // Live first (chat has a per-user gap; the transcode below leaves it time to pass).
    let (series_id, occs) = series(app, &t(Actor::ExpertOwn), &s1, 3).await;
    let (_, other) = series(app, &t(Actor::ExpertOther), &s2, 1).await;
    go_live(app, &[&occs[1], &occs[2], &other[0]]).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/live/series/{series_id}/enrolments"),
            Some(&t(Actor::ParentIn)),
            json!({}),
        )
        .await;
    must(status, &body, "enrol");
    let (status, body) = app
        .post(
            &format!("/api/v1/live/occurrences/{}/enrolments", other[0]),
            Some(&t(Actor::ParentOut)),
            json!({}),
        )
        .await;
    must(status, &body, "enrol elsewhere");
    // Chat allows one message per user every 2 s: wait out the gap between set-up messages.
    let post = |occ: &str, kind: &str, who: Actor, text: &str| {
        let (path, token, text) = (
            format!("/api/v1/live/occurrences/{occ}/{kind}"),
            t(who),
            text.to_owned(),
        );
        async move {
            for _ in 0..50 {
                let (status, body) = app.post(&path, Some(&token), json!({"text": text})).await;
                if status != StatusCode::TOO_MANY_REQUESTS {
                    must(status, &body, &path);
                    return str_of(&body, "id");
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            panic!("set-up: {path} stayed rate-limited");
        }
    };
    let message = post(&occs[1], "messages", Actor::ParentIn, "老师好").await;
    let message_other = post(&other[0], "messages", Actor::ParentOut, "大家好").await;
    let question = post(&occs[2], "questions", Actor::ParentIn, "孩子沉迷手机怎么办？").await;
    let question_other = post(&other[0], "questions", Actor::ParentOut, "作业拖拉怎么办？").await;
    let (status, link) = app.get("/api/v1/live/calendar", Some(&t(Actor::ParentIn))).await;
    must(status, &link, "calendar");
    let calendar = str_of(&link, "url");
    let mut kids = Vec::new();
    for who in [Actor::ParentIn, Actor::ParentOut] {
        let (status, child) = app
            .post(
                "/api/v1/me/children",
                Some(&t(who)),
                json!({"nickname": "大宝", "grade": 1}),
            )
            .await;
        must(status, &child, "child");
        kids.push(str_of(&child, "id"));
    }
    let children = (kids[0].clone(), kids[1].clone());
    let soon = time::OffsetDateTime::now_utc() + time::Duration::minutes(10);
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let (status, a) = app
        .post(
            "/api/v1/activities",
            Some(&t(Actor::CuratorIn)),
            json!({"title": "亲子阅读会", "kind": "parent_child", "place": "学校礼堂", "starts_at": fmt(soon),
                   "ends_at": fmt(soon + time::Duration::hours(2)), "capacity": 100, "scope_org_id": s1,
                   "host_org_id": s1, "credit_minutes": 90}),
        )
        .await;
    must(status, &a, "activity");
    let activity = str_of(&a, "id");
    let (status, e) = app
        .post(
            &format!("/api/v1/activities/{activity}/enrolments"),
            Some(&t(Actor::ParentIn)),
            json!({}),
        )
        .await;
    must(status, &e, "activity enrolment");
    // The parent in scope was checked in by hand, so may rate it.
    let (status, e) = app
        .call(
            Method::PUT,
            &format!(
                "/api/v1/activities/{activity}/check-ins/{}",
                people[&Actor::ParentIn].id
            ),
            Some(&t(Actor::CuratorIn)),
            json!({}),
        )
        .await;
    must(status, &e, "activity check-in");
    // A certificate rule of S1 (an hour offline), which the parent in scope met.
    let (status, r) = app
        .post(
            "/api/v1/certificate-rules",
            Some(&t(Actor::CuratorIn)),
            json!({"name": "线下学习证书", "scope_org_id": s1, "from": fmt(soon - time::Duration::days(1)),
                   "to": fmt(soon + time::Duration::days(1)), "min_offline_hours": 1}),
        )
        .await;
    must(status, &r, "certificate rule");
    let rule = str_of(&r, "id");
    let mut certificate = String::new();
    for _ in 0..200 {
        let (_, mine) = app.get("/api/v1/me/certificates", Some(&t(Actor::ParentIn))).await;
        certificate = str_of(&mine[0], "code");
        if !certificate.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!certificate.is_empty(), "set-up: no certificate issued");
    let (status, _, text) = e2e::raw(
        app,
        Method::PUT,
        &format!("/api/v1/organizations/{s1}/seal"),
        &[
            ("authorization", &format!("Bearer {}", t(Actor::CuratorIn))),
            ("content-type", "image/png"),
        ],
        Some(e2e::seal_png()),
    )
    .await;
    assert!(status.is_success(), "set-up: seal: {status} {text}");

    // Media: the owning expert's asset (transcoded, with captions) in a published course.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let clip = std::fs::read(e2e::test_clip(dir.path(), 2, "160x90")).unwrap_or_default();
    let asset = upload(app, &t(Actor::ExpertOwn), &clip).await;
    let asset_other = upload(app, &t(Actor::ExpertOther), &clip).await;
    let (status, open) = app
        .post(
            "/api/v1/uploads",
            Some(&t(Actor::ExpertOwn)),
            json!({"filename": "a.mp4", "size": 10}),
        )
        .await;
    must(status, &open, "open upload");
    for _ in 0..600 {
        let (_, a) = app
            .get(&format!("/api/v1/assets/{asset}"), Some(&t(Actor::ExpertOwn)))
            .await;
        if a["state"] != "processing" {
            assert_eq!(a["state"], "ready", "set-up: the asset: {a}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, _, text) = e2e::raw(
        app,
        Method::PUT,
        &format!("/api/v1/assets/{asset}/captions/zh"),
        &[("authorization", &format!("Bearer {}", t(Actor::ExpertOwn)))],
        Some(SRT.as_bytes().to_vec()),
    )
    .await;
    assert!(status.is_success(), "set-up: captions: {status} {text}");
    let (status, c) = app
        .post(
            "/api/v1/courses",
            Some(&t(Actor::ExpertOwn)),
            json!({"title": "陪伴的力量", "age_stages": ["6-12"],
            "lessons": [{"title": "第一讲", "asset_id": asset, "duration_s": 2}]}),
        )
        .await;
    must(status, &c, "course");
    let course = str_of(&c, "id");
    let (status, _, text) = e2e::raw(
        app,
        Method::PUT,
        &format!("/api/v1/courses/{course}/cover"),
        &[
            ("authorization", &format!("Bearer {}", t(Actor::ExpertOwn))),
            ("content-type", "image/png"),
        ],
        Some(PNG.to_vec()),
    )
    .await;
    assert!(status.is_success(), "set-up: cover: {status} {text}");
    let cover: Value = serde_json::from_str(&text).unwrap_or_default();
    let cover_file = str_of(&cover, "cover_url")
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    for to in ["in_review", "published"] {
        let (status, body) = app
            .post(
                &format!("/api/v1/courses/{course}/transitions"),
                Some(&t(Actor::CuratorIn)),
                json!({"to": to}),
            )
            .await;
        must(status, &body, to);
    }
    // The lesson has a quiz; the parent in scope watched a second of it, so may rate the course.
    let (_, c) = app
        .get(&format!("/api/v1/courses/{course}"), Some(&t(Actor::CuratorIn)))
        .await;
    let lesson = str_of(&c["lessons"][0], "id");
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/api/v1/lessons/{lesson}/quiz"),
            Some(&t(Actor::CuratorIn)),
            quiz(),
        )
        .await;
    must(status, &body, "quiz");
    let (status, body) = app
        .get(&format!("/api/v1/assets/{asset}/playback"), Some(&t(Actor::ParentIn)))
        .await;
    must(status, &body, "playback");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/assets/{asset}/progress"),
            Some(&t(Actor::ParentIn)),
            json!({"session_id": uuid::Uuid::now_v7().to_string(), "segments": [[0.0, 1.0]], "position_s": 1.0}),
        )
        .await;
    must(status, &body, "progress");
    let (status, l) = app
        .post(
            "/api/v1/lists",
            Some(&t(Actor::CuratorIn)),
            json!({"title": "2026 年度推荐", "year": 2026, "owner_org_id": s1, "scope_org_id": s1}),
        )
        .await;
    must(status, &l, "list");
    let list = str_of(&l, "id");
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/api/v1/lists/{list}/items"),
            Some(&t(Actor::CuratorIn)),
            json!({"course_ids": [course], "version": l["version"]}),
        )
        .await;
    must(status, &body, "list items");

    World {
        people,
        s1,
        c1,
        x,
        x_school,
        partner,
        children,
        activity,
        rule,
        certificate,
        course,
        lesson,
        cover_file,
        asset,
        asset_other,
        upload: str_of(&open, "id"),
        list,
        series: series_id,
        occ: occs[0].clone(),
        occ_chat: occs[1].clone(),
        occ_questions: occs[2].clone(),
        occ_other: other[0].clone(),
        message,
        question,
        message_other,
        question_other,
        calendar,
        phones: AtomicU32::new(0),
    }
}

fn quiz() -> Value {
    json!({"questions": [{"text": "陪伴最重要的是？", "kind": "single", "options": ["时间", "用心"], "answer": [1]}]})
}

/// A fresh draft course by the owning expert.
async fn draft(app: &TestApp, w: &World) -> String {
    let (status, c) = app
        .post(
            "/api/v1/courses",
            Some(w.t(Actor::ExpertOwn)),
            json!({"title": "新课草稿", "age_stages": ["3-6"]}),
        )
        .await;
    must(status, &c, "draft");
    str_of(&c, "id")
}

/// A fresh parent the curator in scope created in C1 (so staff may act for them).
async fn member(app: &TestApp, w: &World) -> String {
    let (status, u) = app
        .post(
            "/api/v1/users",
            Some(w.t(Actor::CuratorIn)),
            json!({"phone": w.fresh_phone(), "password": "pass1234word",
            "display_name": "新家长", "role": "parent", "org_id": w.c1}),
        )
        .await;
    must(status, &u, "member");
    str_of(&u, "id")
}

/// The actor's own invitation to province X (from the admin); `NO_SUCH` for anonymous.
async fn own_invitation(app: &TestApp, w: &World, actor: Actor) -> String {
    let Some(person) = w.people.get(&actor) else {
        return NO_SUCH.to_owned();
    };
    app.post(
        &format!("/api/v1/organizations/{}/members", w.x),
        w.token(Actor::Admin),
        json!({"phone": person.phone}),
    )
    .await;
    let (_, mine) = app.get("/api/v1/me/invitations", Some(&person.token)).await;
    mine.as_array()
        .into_iter()
        .flatten()
        .find(|i| i["organization"]["id"] == w.x.as_str())
        .map_or_else(|| NO_SUCH.to_owned(), |i| str_of(i, "id"))
}

/// A fresh child of `actor` (a dud id for the anonymous visitor).
async fn own_child(app: &TestApp, w: &World, actor: Actor) -> String {
    let Some(person) = w.people.get(&actor) else {
        return NO_SUCH.to_owned();
    };
    let (status, child) = app
        .post(
            "/api/v1/me/children",
            Some(&person.token),
            json!({"nickname": "小宝", "grade": 3}),
        )
        .await;
    must(status, &child, "child");
    str_of(&child, "id")
}

/// Someone other than `actor`, with a phone to invite.
fn another(actor: Actor) -> Actor {
    if actor == Actor::ParentOut {
        Actor::ParentIn
    } else {
        Actor::ParentOut
    }
}

/// The event-stream ticket `actor` gets for `occ` (a dud when they get none).
async fn ticket(app: &TestApp, w: &World, actor: Actor, occ: &str) -> String {
    let (_, t) = app
        .post(
            &format!("/api/v1/live/occurrences/{occ}/tickets"),
            w.token(actor),
            json!({}),
        )
        .await;
    t["ticket"].as_str().unwrap_or("pst.none").to_owned()
}

async fn version(app: &TestApp, w: &World, path: &str) -> Value {
    let (_, body) = app.get(path, w.token(Actor::Admin)).await;
    body["version"].clone()
}

/// The request of row `key` as `actor`, with any fresh objects it needs.
async fn request(app: &TestApp, w: &World, key: &str, actor: Actor) -> Req {
    use Body::{Json, None as Empty, Raw};
    let get = |p: String| req(Method::GET, p, Empty);
    let (s1, asset, course, occ, chat, qs) = (&w.s1, &w.asset, &w.course, &w.occ, &w.occ_chat, &w.occ_questions);
    match key {
        "GET /api/openapi.json" => get("/api/openapi.json".into()),
        "GET /healthz" => get("/healthz".into()),
        "GET /readyz" => get("/readyz".into()),
        "GET /api/v1/age-stages" => get("/api/v1/age-stages".into()),
        // Accounts
        "POST /api/v1/auth/register" => req(
            Method::POST,
            "/api/v1/auth/register",
            Json(json!({"phone": w.fresh_phone(),
            "password": "abc12345x", "display_name": "家长", "accept_privacy_notice": true})),
        ),
        "POST /api/v1/auth/login" => req(
            Method::POST,
            "/api/v1/auth/login",
            Json(json!({"phone": w.fresh_phone(), "password": "abc12345x"})),
        ),
        "POST /api/v1/auth/refresh" => req(
            Method::POST,
            "/api/v1/auth/refresh",
            Json(json!({"refresh_token": "not-a-token"})),
        ),
        "GET /api/v1/auth/password-reset" => get("/api/v1/auth/password-reset".into()),
        "POST /api/v1/auth/password-reset/code" => req(
            Method::POST,
            "/api/v1/auth/password-reset/code",
            Json(json!({"phone": w.fresh_phone()})),
        ),
        "POST /api/v1/auth/password-reset" => req(
            Method::POST,
            "/api/v1/auth/password-reset",
            Json(json!({"phone": w.fresh_phone(), "code": "000000", "new_password": "New-pass-2026"})),
        ),
        "POST /api/v1/auth/logout" => req(
            Method::POST,
            "/api/v1/auth/logout",
            Json(json!({"refresh_token": "not-a-token"})),
        ),
        "GET /api/v1/me" => get("/api/v1/me".into()),
        "DELETE /api/v1/me" => req(
            Method::DELETE,
            "/api/v1/me",
            Json(json!({"password": "not-my-password"})),
        ),
        "POST /api/v1/me/password" => req(
            Method::POST,
            "/api/v1/me/password",
            Json(json!({"current_password": "not-my-password", "new_password": "newpass1234"})),
        ),
        "GET /api/v1/me/learning" => get("/api/v1/me/learning".into()),
        "GET /api/v1/me/favourites" => get("/api/v1/me/favourites".into()),
        "GET /api/v1/me/videos" => get("/api/v1/me/videos?q=".into()),
        "GET /api/v1/me/favourites/{id}" => get(format!("/api/v1/me/favourites/{course}")),
        "PUT /api/v1/me/favourites/{id}" => req(Method::PUT, format!("/api/v1/me/favourites/{course}"), Empty),
        "DELETE /api/v1/me/favourites/{id}" => req(Method::DELETE, format!("/api/v1/me/favourites/{course}"), Empty),
        "GET /api/v1/me/children" => get("/api/v1/me/children".into()),
        "GET /api/v1/me/recommendations" => get("/api/v1/me/recommendations".into()),
        "GET /api/v1/me/record" => get("/api/v1/me/record".into()),
        "GET /api/v1/me/record.csv" => get("/api/v1/me/record.csv?year=2026".into()),
        "POST /api/v1/me/children" => req(
            Method::POST,
            "/api/v1/me/children",
            Json(json!({"nickname": "小宝", "birth_year": 2019, "birth_month": 9})),
        ),
        "GET /api/v1/me/children/{id}" => {
            let id = own_child(app, w, actor).await;
            get(format!("/api/v1/me/children/{id}"))
        }
        "GET /api/v1/me/children/{id} · another's child" => {
            get(format!("/api/v1/me/children/{}", w.child_of(another(actor))))
        }
        "DELETE /api/v1/me/children/{id}" => {
            let id = own_child(app, w, actor).await;
            req(Method::DELETE, format!("/api/v1/me/children/{id}"), Empty)
        }
        "DELETE /api/v1/me/children/{id} · another's child" => req(
            Method::DELETE,
            format!("/api/v1/me/children/{}", w.child_of(another(actor))),
            Empty,
        ),
        "GET /api/v1/me/invitations" => get("/api/v1/me/invitations".into()),
        "POST /api/v1/me/invitations/{id}/accept" => {
            let id = own_invitation(app, w, actor).await;
            Req {
                undo: Some((
                    Method::DELETE,
                    format!("/api/v1/organizations/{}/members/{}", w.x, w.id(actor)),
                    Value::Null,
                )),
                ..req(
                    Method::POST,
                    format!("/api/v1/me/invitations/{id}/accept"),
                    Json(json!({})),
                )
            }
        }
        "POST /api/v1/me/invitations/{id}/accept · another's invitation" => {
            let id = own_invitation(app, w, another(actor)).await;
            req(
                Method::POST,
                format!("/api/v1/me/invitations/{id}/accept"),
                Json(json!({})),
            )
        }
        "DELETE /api/v1/me/invitations/{id}" => {
            let id = own_invitation(app, w, actor).await;
            req(Method::DELETE, format!("/api/v1/me/invitations/{id}"), Empty)
        }
        "DELETE /api/v1/me/invitations/{id} · another's invitation" => {
            let id = own_invitation(app, w, another(actor)).await;
            req(Method::DELETE, format!("/api/v1/me/invitations/{id}"), Empty)
        }
        "POST /api/v1/me/organizations" => {
            let (status, code) = app
                .post(
                    &format!("/api/v1/organizations/{}/join-code", w.x_school),
                    w.token(Actor::Admin),
                    json!(null),
                )
                .await;
            must(status, &code, "join code");
            Req {
                undo: Some((
                    Method::DELETE,
                    format!("/api/v1/organizations/{}/members/{}", w.x_school, w.id(actor)),
                    Value::Null,
                )),
                ..req(
                    Method::POST,
                    "/api/v1/me/organizations",
                    Json(json!({"join_code": code["join_code"]})),
                )
            }
        }
        "POST /api/v1/users" => req(
            Method::POST,
            "/api/v1/users",
            Json(json!({"phone": w.fresh_phone(), "password": "pass1234word",
            "display_name": "新家长", "role": "parent", "org_id": w.c1})),
        ),
        "PATCH /api/v1/users/{id}" => {
            let id = member(app, w).await;
            req(
                Method::PATCH,
                format!("/api/v1/users/{id}"),
                Json(json!({"role": "expert"})),
            )
        }
        "POST /api/v1/users/{id}/password-reset" => {
            let id = member(app, w).await;
            req(
                Method::POST,
                format!("/api/v1/users/{id}/password-reset"),
                Json(json!({})),
            )
        }
        // Offline activities
        "POST /api/v1/activities" => {
            let soon = time::OffsetDateTime::now_utc() + time::Duration::days(3);
            let fmt = |t: time::OffsetDateTime| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            };
            req(
                Method::POST,
                "/api/v1/activities",
                Json(
                    json!({"title": "家长会", "kind": "parents_meeting", "place": "三楼会议室", "starts_at": fmt(soon),
                            "ends_at": fmt(soon + time::Duration::hours(1)), "capacity": 50, "scope_org_id": s1,
                            "host_org_id": s1, "credit_minutes": 60}),
                ),
            )
        }
        "GET /api/v1/activities/{id}" => get(format!("/api/v1/activities/{}", w.activity)),
        "POST /api/v1/activities/{id}/enrolments" => req(
            Method::POST,
            format!("/api/v1/activities/{}/enrolments", w.activity),
            Json(json!({})),
        ),
        "GET /api/v1/activities/{id}/check-in-code" => {
            get(format!("/api/v1/activities/{}/check-in-code?purpose=in", w.activity))
        }
        "POST /api/v1/activities/{id}/check-ins" => req(
            Method::POST,
            format!("/api/v1/activities/{}/check-ins", w.activity),
            Json(json!({"code": "1.not-a-code", "purpose": "in"})),
        ),
        "GET /api/v1/activities/{id}/check-ins" => get(format!("/api/v1/activities/{}/check-ins", w.activity)),
        "PUT /api/v1/activities/{id}/check-ins/{user_id}" => req(
            Method::PUT,
            format!("/api/v1/activities/{}/check-ins/{}", w.activity, w.id(Actor::ParentIn)),
            Json(json!({})),
        ),
        // Quizzes and ratings
        "GET /api/v1/lessons/{id}/quiz" => get(format!("/api/v1/lessons/{}/quiz", w.lesson)),
        "PUT /api/v1/lessons/{id}/quiz" => req(Method::PUT, format!("/api/v1/lessons/{}/quiz", w.lesson), Json(quiz())),
        "POST /api/v1/lessons/{id}/quiz/attempts" => req(
            Method::POST,
            format!("/api/v1/lessons/{}/quiz/attempts", w.lesson),
            Json(json!({"answers": [[1]]})),
        ),
        "GET /api/v1/courses/{id}/rating" => get(format!("/api/v1/courses/{course}/rating")),
        "PUT /api/v1/courses/{id}/rating" => req(
            Method::PUT,
            format!("/api/v1/courses/{course}/rating"),
            Json(json!({"stars": 5, "comment": "很实用"})),
        ),
        "GET /api/v1/courses/{id}/ratings" => get(format!("/api/v1/courses/{course}/ratings")),
        "GET /api/v1/live/occurrences/{id}/rating" => get(format!("/api/v1/live/occurrences/{}/rating", w.activity)),
        "PUT /api/v1/live/occurrences/{id}/rating" => req(
            Method::PUT,
            format!("/api/v1/live/occurrences/{}/rating", w.activity),
            Json(json!({"stars": 4})),
        ),
        "GET /api/v1/live/occurrences/{id}/ratings" => get(format!("/api/v1/live/occurrences/{}/ratings", w.activity)),
        "POST /api/v1/certificate-rules" => req(
            Method::POST,
            "/api/v1/certificate-rules",
            Json(
                json!({"name": "结业证书", "scope_org_id": s1, "from": "2026-09-01T00:00:00+08:00",
                        "to": "2027-01-31T00:00:00+08:00", "min_hours": 10}),
            ),
        ),
        "GET /api/v1/certificate-rules" => get(format!("/api/v1/certificate-rules?org_id={s1}")),
        "POST /api/v1/certificate-rules/{id}/runs" => req(
            Method::POST,
            format!("/api/v1/certificate-rules/{}/runs", w.rule),
            Json(json!({})),
        ),
        "GET /api/v1/certificate-rules/{id}/certificates" => {
            get(format!("/api/v1/certificate-rules/{}/certificates", w.rule))
        }
        "GET /api/v1/me/certificates" => get("/api/v1/me/certificates".into()),
        "GET /api/v1/certificates/verify/{code}" => get(format!("/api/v1/certificates/verify/{}", w.certificate)),
        "POST /api/v1/certificates/{code}/revocation" => req(
            Method::POST,
            format!("/api/v1/certificates/{}/revocation", w.certificate),
            Json(json!({"reason": " "})),
        ),
        "GET /api/v1/certificates/{file}" => get(format!("/api/v1/certificates/{}.png", w.certificate)),
        "GET /api/v1/organizations/{id}/seal" => get(format!("/api/v1/organizations/{s1}/seal")),
        "PUT /api/v1/organizations/{id}/seal" => req(
            Method::PUT,
            format!("/api/v1/organizations/{s1}/seal"),
            Raw("image/png", e2e::seal_png()),
        ),
        "DELETE /api/v1/organizations/{id}/seal" => {
            req(Method::DELETE, format!("/api/v1/organizations/{s1}/seal"), Empty)
        }
        "GET /api/v1/organizations/{id}/evaluation" => get(format!("/api/v1/organizations/{s1}/evaluation")),
        "GET /api/v1/organizations/{id}/evaluation.csv" => get(format!("/api/v1/organizations/{s1}/evaluation.csv")),
        "GET /api/v1/organizations/{id}/indicators" => get(format!("/api/v1/organizations/{s1}/indicators")),
        "PUT /api/v1/organizations/{id}/indicators" => req(
            Method::PUT,
            format!("/api/v1/organizations/{s1}/indicators"),
            Json(json!({"coverage_hours": 1, "items": [{"measure": "coverage", "target": 0.8, "weight": 1}]})),
        ),
        // Organizations
        "GET /api/v1/organizations" => get("/api/v1/organizations".into()),
        "GET /api/v1/experts" => get("/api/v1/experts?q=".into()),
        "GET /api/v1/qr.svg" => get("/api/v1/qr.svg?text=https%3A%2F%2Fjiazhang.example.cn%2Fjoin%2F7K2QMX".into()),
        "POST /api/v1/organizations" => req(
            Method::POST,
            "/api/v1/organizations",
            Json(json!({"name": "新班级", "kind": "class", "parent_id": s1})),
        ),
        "GET /api/v1/organizations/{id}" => get(format!("/api/v1/organizations/{s1}")),
        "POST /api/v1/organizations/{id}/join-code" => req(
            Method::POST,
            format!("/api/v1/organizations/{s1}/join-code"),
            Json(json!(null)),
        ),
        "GET /api/v1/organizations/{id}/serves" => get(format!("/api/v1/organizations/{}/serves", w.partner)),
        "PUT /api/v1/organizations/{id}/serves" => req(
            Method::PUT,
            format!("/api/v1/organizations/{}/serves", w.partner),
            Json(json!({"org_ids": [s1]})),
        ),
        "GET /api/v1/organizations/{id}/members" => get(format!("/api/v1/organizations/{s1}/members")),
        "POST /api/v1/organizations/{id}/members" => {
            let phone = &w.people[&Actor::ParentOut].phone;
            req(
                Method::POST,
                format!("/api/v1/organizations/{s1}/members"),
                Json(json!({"phone": phone})),
            )
        }
        "DELETE /api/v1/organizations/{id}/members/{user_id}" => {
            let id = member(app, w).await;
            req(
                Method::DELETE,
                format!("/api/v1/organizations/{}/members/{id}", w.c1),
                Empty,
            )
        }
        "DELETE /api/v1/organizations/{id}/members/{user_id} · a member of another class" => req(
            Method::DELETE,
            format!("/api/v1/organizations/{}/members/{}", w.c1, w.id(Actor::ParentOut)),
            Empty,
        ),
        "GET /api/v1/organizations/{id}/learning" => get(format!("/api/v1/organizations/{s1}/learning")),
        "GET /api/v1/organizations/{id}/learning.csv" => get(format!("/api/v1/organizations/{s1}/learning.csv")),
        // Catalog
        "GET /api/v1/courses" => get("/api/v1/courses".into()),
        "POST /api/v1/courses" => req(
            Method::POST,
            "/api/v1/courses",
            Json(json!({"title": "新课", "age_stages": ["3-6"]})),
        ),
        "GET /api/v1/courses/{id}" => get(format!("/api/v1/courses/{course}")),
        "GET /api/v1/courses/{id} · a draft" => get(format!("/api/v1/courses/{}", draft(app, w).await)),
        "PATCH /api/v1/courses/{id}" => {
            let id = draft(app, w).await;
            req(
                Method::PATCH,
                format!("/api/v1/courses/{id}"),
                Json(json!({"title": "改过的标题"})),
            )
        }
        "PATCH /api/v1/courses/{id} · a lesson with another expert's asset" => {
            let id = draft(app, w).await;
            Req {
                // Where it is allowed (the admin), the asset is taken out again: it stays in no course.
                undo: Some((Method::PATCH, format!("/api/v1/courses/{id}"), json!({"lessons": []}))),
                ..req(
                    Method::PATCH,
                    format!("/api/v1/courses/{id}"),
                    Json(json!({"lessons": [{"title": "借来的", "asset_id": w.asset_other, "duration_s": 2}]})),
                )
            }
        }
        "PUT /api/v1/courses/{id}/cover" => {
            let id = draft(app, w).await;
            req(
                Method::PUT,
                format!("/api/v1/courses/{id}/cover"),
                Raw("image/png", PNG.to_vec()),
            )
        }
        "GET /api/v1/courses/{id}/cover/{file}" => get(format!("/api/v1/courses/{course}/cover/{}", w.cover_file)),
        "GET /api/v1/courses/{id}/reviews" => get(format!("/api/v1/courses/{course}/reviews")),
        "POST /api/v1/courses/{id}/transitions" => {
            let id = draft(app, w).await;
            req(
                Method::POST,
                format!("/api/v1/courses/{id}/transitions"),
                Json(json!({"to": "in_review"})),
            )
        }
        "GET /api/v1/topics" => get("/api/v1/topics".into()),
        "POST /api/v1/topics" => req(
            Method::POST,
            "/api/v1/topics",
            Json(json!({"name": format!("主题{}", w.phones.fetch_add(1, Ordering::Relaxed))})),
        ),
        "GET /api/v1/lists" => get("/api/v1/lists".into()),
        "POST /api/v1/lists" => req(
            Method::POST,
            "/api/v1/lists",
            Json(json!({"title": "新清单", "year": 2026, "owner_org_id": s1, "scope_org_id": s1})),
        ),
        "GET /api/v1/lists/{id}" => get(format!("/api/v1/lists/{}", w.list)),
        "PATCH /api/v1/lists/{id}" => {
            let v = version(app, w, &format!("/api/v1/lists/{}", w.list)).await;
            req(
                Method::PATCH,
                format!("/api/v1/lists/{}", w.list),
                Json(json!({"description": "年度推荐", "version": v})),
            )
        }
        "PUT /api/v1/lists/{id}/items" => {
            let v = version(app, w, &format!("/api/v1/lists/{}", w.list)).await;
            req(
                Method::PUT,
                format!("/api/v1/lists/{}/items", w.list),
                Json(json!({"course_ids": [course], "version": v})),
            )
        }
        // Media
        "GET /api/v1/assets/{id}" => get(format!("/api/v1/assets/{asset}")),
        "GET /api/v1/assets/{id}/playback" => get(format!("/api/v1/assets/{asset}/playback")),
        "GET /api/v1/assets/{id}/playback · another expert's asset in no course" => {
            get(format!("/api/v1/assets/{}/playback", w.asset_other))
        }
        "GET /api/v1/assets/{id}/captions" => get(format!("/api/v1/assets/{asset}/captions")),
        "PUT /api/v1/assets/{id}/captions/{lang}" => req(
            Method::PUT,
            format!("/api/v1/assets/{asset}/captions/en"),
            Raw("text/plain", SRT.into()),
        ),
        "DELETE /api/v1/assets/{id}/captions/{lang}" => {
            let (status, _, text) = e2e::raw(
                app,
                Method::PUT,
                &format!("/api/v1/assets/{asset}/captions/fr"),
                &[("authorization", &format!("Bearer {}", w.t(Actor::ExpertOwn)))],
                Some(SRT.as_bytes().to_vec()),
            )
            .await;
            assert!(status.is_success(), "set-up: captions: {status} {text}");
            req(Method::DELETE, format!("/api/v1/assets/{asset}/captions/fr"), Empty)
        }
        "GET /api/v1/assets/{id}/progress" => get(format!("/api/v1/assets/{asset}/progress")),
        "POST /api/v1/assets/{id}/progress" => req(
            Method::POST,
            format!("/api/v1/assets/{asset}/progress"),
            Json(json!({"session_id": uuid::Uuid::now_v7(), "segments": [[0.0, 1.0]], "position_s": 1.0})),
        ),
        "POST /api/v1/uploads" => req(
            Method::POST,
            "/api/v1/uploads",
            Json(json!({"filename": "b.mp4", "size": 10})),
        ),
        "GET /api/v1/uploads/{id}" => get(format!("/api/v1/uploads/{}", w.upload)),
        "PUT /api/v1/uploads/{id}/chunks/{n}" => req(
            Method::PUT,
            format!("/api/v1/uploads/{}/chunks/0", w.upload),
            Raw("application/octet-stream", vec![0; 10]),
        ),
        "POST /api/v1/uploads/{id}/complete" => {
            let (status, up) = app
                .post(
                    "/api/v1/uploads",
                    w.token(Actor::ExpertOwn),
                    json!({"filename": "c.mp4", "size": 10}),
                )
                .await;
            must(status, &up, "upload");
            req(
                Method::POST,
                format!("/api/v1/uploads/{}/complete", str_of(&up, "id")),
                Json(json!({})),
            )
        }
        // Live
        "POST /api/v1/live/series" => req(
            Method::POST,
            "/api/v1/live/series",
            Json(json!({"title": "新系列", "rrule": "FREQ=WEEKLY;COUNT=1",
            "starts_at": next_week(), "duration_minutes": 60, "capacity": 50, "scope_org_id": s1, "expert_id": w.id(Actor::ExpertOwn)})),
        ),
        "GET /api/v1/live/series/{id}" => get(format!("/api/v1/live/series/{}", w.series)),
        "PATCH /api/v1/live/series/{id}" => {
            let v = version(app, w, &format!("/api/v1/live/series/{}", w.series)).await;
            req(
                Method::PATCH,
                format!("/api/v1/live/series/{}", w.series),
                Json(json!({"description": "每周一讲", "version": v})),
            )
        }
        "DELETE /api/v1/live/series/{id}" => {
            let (id, _) = series(app, w.t(Actor::ExpertOwn), s1, 2).await;
            req(Method::DELETE, format!("/api/v1/live/series/{id}"), Empty)
        }
        "POST /api/v1/live/series/{id}/enrolments" => {
            let (id, _) = series(app, w.t(Actor::ExpertOwn), s1, 1).await;
            req(
                Method::POST,
                format!("/api/v1/live/series/{id}/enrolments"),
                Json(json!({})),
            )
        }
        "DELETE /api/v1/live/series/{id}/enrolments/me" => {
            let (id, _) = series(app, w.t(Actor::ExpertOwn), s1, 1).await;
            app.post(
                &format!("/api/v1/live/series/{id}/enrolments"),
                w.token(actor),
                json!({}),
            )
            .await;
            req(Method::DELETE, format!("/api/v1/live/series/{id}/enrolments/me"), Empty)
        }
        "GET /api/v1/live/occurrences" => get("/api/v1/live/occurrences".into()),
        "GET /api/v1/live/occurrences/{id}" => get(format!("/api/v1/live/occurrences/{occ}")),
        "POST /api/v1/live/occurrences/{id}/end" => {
            let (_, occs) = series(app, w.t(Actor::ExpertOwn), s1, 1).await;
            go_live(app, &[&occs[0]]).await;
            req(
                Method::POST,
                format!("/api/v1/live/occurrences/{}/end", occs[0]),
                Json(json!({})),
            )
        }
        "GET /api/v1/live/occurrences/{id}/enrolments" => get(format!("/api/v1/live/occurrences/{occ}/enrolments")),
        "POST /api/v1/live/occurrences/{id}/enrolments" => {
            let (_, occs) = series(app, w.t(Actor::ExpertOwn), s1, 1).await;
            let body = if matches!(actor, Actor::CuratorIn | Actor::CuratorOut | Actor::Admin) {
                json!({"user_ids": [w.id(Actor::ParentIn)]})
            } else {
                json!({})
            };
            req(
                Method::POST,
                format!("/api/v1/live/occurrences/{}/enrolments", occs[0]),
                Json(body),
            )
        }
        "DELETE /api/v1/live/occurrences/{id}/enrolments/me" => {
            let (_, occs) = series(app, w.t(Actor::ExpertOwn), s1, 1).await;
            app.post(
                &format!("/api/v1/live/occurrences/{}/enrolments", occs[0]),
                w.token(actor),
                json!({}),
            )
            .await;
            req(
                Method::DELETE,
                format!("/api/v1/live/occurrences/{}/enrolments/me", occs[0]),
                Empty,
            )
        }
        "GET /api/v1/live/occurrences/{id}/attendance" => get(format!("/api/v1/live/occurrences/{chat}/attendance")),
        "GET /api/v1/live/occurrences/{id}/attendance.csv" => {
            get(format!("/api/v1/live/occurrences/{chat}/attendance.csv"))
        }
        "POST /api/v1/live/occurrences/{id}/tickets" => req(
            Method::POST,
            format!("/api/v1/live/occurrences/{chat}/tickets"),
            Json(json!({})),
        ),
        // The event stream's credential is a ticket, asked for as the actor.
        "GET /api/v1/live/occurrences/{id}/events" => {
            let ticket = ticket(app, w, actor, chat).await;
            get(format!("/api/v1/live/occurrences/{chat}/events?ticket={ticket}"))
        }
        "GET /api/v1/live/occurrences/{id}/events · a ticket for another lecture" => {
            let ticket = ticket(app, w, actor, chat).await;
            get(format!(
                "/api/v1/live/occurrences/{}/events?ticket={ticket}",
                w.occ_other
            ))
        }
        "POST /api/v1/live/occurrences/{id}/hls-heartbeats" => req(
            Method::POST,
            format!("/api/v1/live/occurrences/{chat}/hls-heartbeats"),
            Json(json!({})),
        ),
        "GET /api/v1/live/occurrences/{id}/messages" => get(format!("/api/v1/live/occurrences/{chat}/messages")),
        "POST /api/v1/live/occurrences/{id}/messages" => req(
            Method::POST,
            format!("/api/v1/live/occurrences/{chat}/messages"),
            Json(json!({"text": "谢谢老师"})),
        ),
        "PATCH /api/v1/live/occurrences/{id}/messages/{mid}" => req(
            Method::PATCH,
            format!("/api/v1/live/occurrences/{chat}/messages/{}", w.message),
            Json(json!({"hidden": false})),
        ),
        "PATCH /api/v1/live/occurrences/{id}/messages/{mid} · a message of another lecture" => req(
            Method::PATCH,
            format!("/api/v1/live/occurrences/{chat}/messages/{}", w.message_other),
            Json(json!({"hidden": true})),
        ),
        "GET /api/v1/live/occurrences/{id}/questions" => get(format!("/api/v1/live/occurrences/{qs}/questions")),
        "POST /api/v1/live/occurrences/{id}/questions" => req(
            Method::POST,
            format!("/api/v1/live/occurrences/{qs}/questions"),
            Json(json!({"text": "怎样陪孩子读书？"})),
        ),
        "PATCH /api/v1/live/occurrences/{id}/questions/{qid}" => req(
            Method::PATCH,
            format!("/api/v1/live/occurrences/{qs}/questions/{}", w.question),
            Json(json!({"answered": true})),
        ),
        "PATCH /api/v1/live/occurrences/{id}/questions/{qid} · a question of another lecture" => req(
            Method::PATCH,
            format!("/api/v1/live/occurrences/{qs}/questions/{}", w.question_other),
            Json(json!({"answered": true})),
        ),
        "POST /api/v1/live/occurrences/{id}/questions/{qid}/votes" => req(
            Method::POST,
            format!("/api/v1/live/occurrences/{qs}/questions/{}/votes", w.question),
            Json(json!({})),
        ),
        "POST /api/v1/live/occurrences/{id}/questions/{qid}/votes · a question of another lecture" => req(
            Method::POST,
            format!("/api/v1/live/occurrences/{qs}/questions/{}/votes", w.question_other),
            Json(json!({})),
        ),
        "POST /api/v1/live/occurrences/{id}/stream-key" => req(
            Method::POST,
            format!("/api/v1/live/occurrences/{occ}/stream-key"),
            Json(json!({})),
        ),
        "DELETE /api/v1/live/occurrences/{id}/stream-key" => req(
            Method::DELETE,
            format!("/api/v1/live/occurrences/{occ}/stream-key"),
            Empty,
        ),
        "POST /api/v1/live/occurrences/{id}/whip" => req(
            Method::POST,
            format!("/api/v1/live/occurrences/{occ}/whip"),
            Raw("application/sdp", OFFER.into()),
        ),
        "DELETE /api/v1/live/occurrences/{id}/whip/{session}" => req(
            Method::DELETE,
            format!("/api/v1/live/occurrences/{occ}/whip/{NO_SUCH}"),
            Empty,
        ),
        "POST /api/v1/live/occurrences/{id}/whep" => req(
            Method::POST,
            format!("/api/v1/live/occurrences/{chat}/whep"),
            Raw("application/sdp", OFFER.into()),
        ),
        "DELETE /api/v1/live/occurrences/{id}/whep/{session}" => req(
            Method::DELETE,
            format!("/api/v1/live/occurrences/{chat}/whep/{NO_SUCH}"),
            Empty,
        ),
        "OPTIONS /api/v1/live/occurrences/{id}/whip" => {
            req(Method::OPTIONS, format!("/api/v1/live/occurrences/{occ}/whip"), Empty)
        }
        "OPTIONS /api/v1/live/occurrences/{id}/whip/{session}" => req(
            Method::OPTIONS,
            format!("/api/v1/live/occurrences/{occ}/whip/{NO_SUCH}"),
            Empty,
        ),
        "OPTIONS /api/v1/live/occurrences/{id}/whep" => {
            req(Method::OPTIONS, format!("/api/v1/live/occurrences/{occ}/whep"), Empty)
        }
        "OPTIONS /api/v1/live/occurrences/{id}/whep/{session}" => req(
            Method::OPTIONS,
            format!("/api/v1/live/occurrences/{chat}/whep/{NO_SUCH}"),
            Empty,
        ),
        "GET /api/v1/live/calendar" => get("/api/v1/live/calendar".into()),
        "GET /api/v1/live/calendar/{user}/{file}" => get(w.calendar.clone()),
        "GET /api/v1/live/calendar/{user}/{file} · another user's id" => {
            get(w.calendar.replace(w.id(Actor::ParentIn), w.id(Actor::ParentOut)))
        }
        "GET /api/v1/live/ice-servers" => get("/api/v1/live/ice-servers".into()),
        "GET /api/v1/live/replays/{asset_id}" => get(format!("/api/v1/live/replays/{asset}")),
        other => panic!("no request for row {other:?}: add one to tests/api/authz.rs"),
    }
}

/// Sends `r` as `token`; only the status matters (an event stream is not read).
async fn send(app: &TestApp, r: &Req, token: Option<&str>) -> StatusCode {
    let mut b = app.client.request(r.method.clone(), app.url(&r.path));
    if let Some(t) = token {
        b = b.bearer_auth(t);
    }
    b = match &r.body {
        Body::None => b,
        Body::Json(v) => b.json(v),
        Body::Raw(ct, bytes) => b.header("content-type", *ct).body(bytes.clone()),
    };
    match b.send().await {
        Ok(res) => res.status(),
        Err(e) => panic!("{} {}: {e}", r.method, r.path),
    }
}

/// The table's rows: operation key → the expected status per actor.
fn table() -> BTreeMap<String, Vec<String>> {
    let mut rows = BTreeMap::new();
    let mut header_seen = false;
    for line in TABLE.lines() {
        let line = line.trim();
        if line == HEADER {
            header_seen = true;
            continue;
        }
        if !header_seen || !line.starts_with('|') || line.starts_with("|---") {
            continue;
        }
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().trim_matches('`').to_owned())
            .collect();
        assert_eq!(
            cells.len(),
            1 + ACTORS.len(),
            "authz.md: a row needs {} cells: {line}",
            1 + ACTORS.len()
        );
        let key = cells[0].clone();
        assert!(
            rows.insert(key.clone(), cells[1..].to_vec()).is_none(),
            "authz.md: {key} twice"
        );
    }
    assert!(header_seen, "authz.md: the header line is missing or changed");
    rows
}

fn base_key(key: &str) -> &str {
    key.split(" · ").next().unwrap_or(key)
}

both_databases! {
    async fn every_operation_answers_each_actor_as_the_table_says(app) {
        let (status, doc) = app.get("/api/openapi.json", None).await;
        assert_eq!(status, StatusCode::OK);
        let mut documented = BTreeSet::new();
        for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
            for method in ops.as_object().into_iter().flatten().map(|(m, _)| m) {
                documented.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
        let rows = table();
        let covered: BTreeSet<String> = rows.keys().map(|k| base_key(k).to_owned()).collect();
        let missing: Vec<_> = documented.difference(&covered).collect();
        let stale: Vec<_> = covered.difference(&documented).collect();
        assert!(missing.is_empty(), "documented operations without a row in tests/api/authz.md: {missing:#?}");
        assert!(stale.is_empty(), "rows in tests/api/authz.md for operations no longer documented: {stale:#?}");

        let w = world(app).await;
        let mut observed: Vec<(String, Vec<String>)> = Vec::new();
        let mut wrong = Vec::new();
        // In the table's order, which keeps the chat rows apart (a per-user gap applies).
        let order: Vec<String> = TABLE
            .lines()
            .filter_map(|l| l.trim().strip_prefix('|').and_then(|l| l.split('|').next()).map(|k| k.trim().trim_matches('`').to_owned()))
            .filter(|k| rows.contains_key(k))
            .collect();
        for key in order {
            if key.starts_with("POST /api/v1/live/occurrences/{id}/questions") && !key.contains("votes") {
                // Each actor posted a chat message just before: let the per-user gap pass.
                tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
            }
            let mut got = Vec::new();
            for actor in ACTORS {
                let r = request(app, &w, &key, actor).await;
                let status = send(app, &r, w.token(actor)).await;
                if let Some((m, p, body)) = &r.undo {
                    app.call(m.clone(), p, w.token(Actor::Admin), body.clone()).await;
                }
                got.push(status.as_u16().to_string());
            }
            for (i, actor) in ACTORS.iter().enumerate() {
                if rows[&key][i] != got[i] {
                    wrong.push(format!("{key} as {actor:?}: expected {}, got {}", rows[&key][i], got[i]));
                }
            }
            observed.push((key, got));
        }
        if std::env::var_os("PARENTSCHOOL_AUTHZ_WRITE").is_some() {
            let mut out = format!("{HEADER}\n|---|---|---|---|---|---|---|---|---|\n");
            for (key, got) in &observed {
                out.push_str(&format!("| `{key}` | {} |\n", got.join(" | ")));
            }
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/authz-observed.md");
            std::fs::write(&path, out).unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(wrong.is_empty(), "{} cells differ from tests/api/authz.md ({:?}):\n{}", wrong.len(), app.backend, wrong.join("\n"));
    }
}
