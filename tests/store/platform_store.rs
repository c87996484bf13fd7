//! The platform's stores: the organization tree, memberships, the scope rule read from them,
//! partner units and what they serve, children, a
//! phone number registered once, refresh-token rotation and revocation, the job queue's leases
//! and retries, members in reports and after deletion, and rate-limit windows. Time-driven rules
//! run on a [`ManualClock`].

use std::sync::atomic::{AtomicI64, Ordering};

use platform::accounts::{ChangePasswordRequest, LoginRequest};
use platform::jobs::{JobError, Jobs};
use platform::scope::Scope;
use platform::{PlatformError, Timestamp};

use super::*;

/// A clock that moves only when told.
#[derive(Debug)]
struct ManualClock(AtomicI64);

impl ManualClock {
    fn new() -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(SystemClock.now().0)))
    }

    fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// The accounts service over `t`'s database on `clock`.
fn accounts_at(t: &TestDb, clock: Arc<ManualClock>) -> Accounts {
    let keys = Arc::new(TokenKeys::new(
        e2e::TEST_JWT_SECRET.as_bytes(),
        "parentschool",
        "parentschool",
        900,
    ));
    Accounts::new(t.db.clone(), clock, keys, AuthSettings::default())
}

fn login(phone: &str) -> LoginRequest {
    LoginRequest {
        phone: phone.into(),
        password: "store-test-pass-1".into(),
    }
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

on_both! {
    async fn the_tree_memberships_and_scope_agree(t: &TestDb) {
        let province = t.org("浙江省妇联", OrgKind::Province, None).await;
        let school = t.org("西湖小学", OrgKind::School, Some(province)).await;
        let class = t.org("三年级二班", OrgKind::Class, Some(school)).await;
        let other = t.org("湖滨小学", OrgKind::School, Some(province)).await;
        let parent = t.user("13900000001", Role::Parent, Some(class)).await;
        let curator = t.user("13900000002", Role::Curator, Some(school)).await;

        let mine = platform::orgs::memberships(&t.db, parent.id).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mine.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["三年级二班"]);

        let path = |id| {
            let db = t.db.clone();
            async move { platform::orgs::org_path(&db, id).await.unwrap_or_else(|e| panic!("{e}")) }
        };
        let (p_province, p_school, p_class, p_other) = (path(province).await, path(school).await, path(class).await, path(other).await);

        // A parent sees what is scoped to their class and everything above it, nothing beside.
        let scope = Scope::load_member(&t.db, parent.id).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(scope.sees(Some(&p_class)) && scope.sees(Some(&p_school)) && scope.sees(Some(&p_province)));
        assert!(!scope.sees(Some(&p_other)));
        assert!(scope.sees(None));
        assert!(!scope.manages(&p_class), "parents manage nothing");

        // A curator manages their subtree and nothing beside it.
        let scope = Scope::load(&t.db, Some(&curator)).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(scope.manages(&p_school) && scope.manages(&p_class));
        assert!(!scope.manages(&p_other) && !scope.manages(&p_province));
    }

    async fn a_partner_unit_addresses_what_it_serves_and_its_children_stay_its_own(t: &TestDb) {
        let province = t.org("重庆市妇联", OrgKind::Province, None).await;
        let district = t.org("渝中区妇联", OrgKind::County, Some(province)).await;
        let school = t.org("新凤小学", OrgKind::School, Some(district)).await;
        let other = t.org("人和街小学", OrgKind::School, Some(district)).await;
        let museum = ok(platform::orgs::create_org_of_type(
            &t.db,
            t.clock.now(),
            "重庆自然博物馆",
            OrgKind::Partner,
            Some(platform::validate::PartnerType::Museum),
            Some(district),
        )
        .await)
        .id;
        let curator = t.user("13900000002", Role::Curator, Some(district)).await;
        let guide = t.user("13900000003", Role::Expert, Some(museum)).await;
        let served = ok(platform::orgs::set_served(&t.db, t.clock.now(), &curator, museum, &[school, school]).await);
        assert_eq!(served.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["新凤小学"]);
        let path = |id| {
            let db = t.db.clone();
            async move { ok(platform::orgs::org_path(&db, id).await) }
        };
        let scope = ok(Scope::load(&t.db, Some(&guide)).await);
        assert!(scope.addresses(&path(school).await) && scope.addresses(&path(museum).await));
        assert!(!scope.addresses(&path(other).await) && !scope.addresses(&path(district).await));
        assert!(!scope.manages(&path(school).await));
        let serving = ok(platform::orgs::partners_serving(&t.db, &path(school).await).await);
        assert_eq!(serving.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["重庆自然博物馆"]);
        // Emptied, the link is gone in the store too.
        ok(platform::orgs::set_served(&t.db, t.clock.now(), &curator, museum, &[]).await);
        assert!(!ok(Scope::load(&t.db, Some(&guide)).await).addresses(&path(school).await));

        // A parent's children: their own, in the order added; removed one by one.
        let parent = t.user("13900000004", Role::Parent, Some(school)).await;
        let stranger = t.user("13900000005", Role::Parent, Some(school)).await;
        let kid = |nickname: &str, grade| platform::children::ChildInput {
            nickname: nickname.into(),
            birth_year: None,
            birth_month: None,
            grade: Some(grade),
        };
        let a = ok(platform::children::add_child(&t.db, parent.id, t.clock.now(), kid("大宝", 8)).await);
        ok(platform::children::add_child(&t.db, parent.id, t.clock.now(), kid("二宝", 2)).await);
        let stages = ok(platform::children::stages_of(&t.db, parent.id, t.clock.now()).await);
        assert_eq!(stages, [platform::stages::AgeStage::Primary, platform::stages::AgeStage::Junior]);
        let gone = platform::children::remove_child(&t.db, stranger.id, a.id).await;
        assert!(matches!(gone, Err(PlatformError::ChildNotFound)), "{gone:?}");
        ok(platform::children::remove_child(&t.db, parent.id, a.id).await);
        let left = ok(platform::children::children_of(&t.db, parent.id, t.clock.now()).await);
        assert_eq!(left.iter().map(|c| c.nickname.as_str()).collect::<Vec<_>>(), ["二宝"]);
    }

    async fn a_phone_number_is_registered_once(t: &TestDb) {
        let province = t.org("浙江省妇联", OrgKind::Province, None).await;
        let school = t.org("西湖小学", OrgKind::School, Some(province)).await;
        t.user("13700000001", Role::Parent, Some(school)).await;
        let again = t
            .accounts()
            .create_user(NewUser {
                phone: "137 0000 0001".into(),
                password: "store-test-pass-2".into(),
                display_name: "另一个人".into(),
                role: Role::Parent,
                org: None,
                must_change_password: false,
                privacy_consent: true,
            })
            .await;
        assert!(matches!(again, Err(PlatformError::PhoneTaken)), "{again:?}");
    }

    async fn refresh_tokens_rotate_and_a_reused_one_ends_its_family(t: &TestDb) {
        let clock = ManualClock::new();
        let acc = accounts_at(t, clock.clone());
        t.user("13600000001", Role::Parent, None).await;
        let a = ok(acc.login(login("13600000001"), "10.0.0.1").await).refresh_token;
        let b = ok(acc.refresh(&a).await).refresh_token;
        // A second tab presents the same token a second later: it gets a sibling.
        clock.advance_ms(1000);
        let c = ok(acc.refresh(&a).await).refresh_token;
        assert!(a != b && b != c);
        clock.advance_ms(1000);
        let d = ok(acc.refresh(&c).await).refresh_token;
        // Now something newer of the family was used: the old token again is a replay, and the
        // whole family ends.
        let again = acc.refresh(&a).await;
        assert!(matches!(again, Err(PlatformError::RefreshTokenReused)), "{again:?}");
        for token in [&b, &d] {
            let r = acc.refresh(token).await;
            assert!(matches!(r, Err(PlatformError::RefreshTokenInvalid)), "{r:?}");
        }
        let unknown = acc.refresh("no-such-token").await;
        assert!(matches!(unknown, Err(PlatformError::RefreshTokenInvalid)), "{unknown:?}");
    }

    async fn logout_a_new_password_and_time_end_sessions(t: &TestDb) {
        let clock = ManualClock::new();
        let acc = accounts_at(t, clock.clone());
        let user = t.user("13600000002", Role::Parent, None).await;
        let first = ok(acc.login(login("13600000002"), "10.0.0.2").await).refresh_token;
        let second = ok(acc.login(login("13600000002"), "10.0.0.2").await).refresh_token;
        ok(acc.logout(&first).await);
        ok(acc.logout("no-such-token").await);
        let r = acc.refresh(&first).await;
        assert!(matches!(r, Err(PlatformError::RefreshTokenInvalid)), "{r:?}");
        // The other login lives on until the password changes.
        let second = ok(acc.refresh(&second).await).refresh_token;
        let changed = ok(acc
            .change_password(
                user.id,
                ChangePasswordRequest {
                    current_password: "store-test-pass-1".into(),
                    new_password: "store-test-pass-9".into(),
                },
            )
            .await);
        let r = acc.refresh(&second).await;
        assert!(matches!(r, Err(PlatformError::RefreshTokenInvalid)), "{r:?}");
        let fresh = ok(acc.refresh(&changed.refresh_token).await).refresh_token;
        // Past its lifetime a refresh token has expired.
        clock.advance_ms(31 * 86_400_000);
        let r = acc.refresh(&fresh).await;
        assert!(matches!(r, Err(PlatformError::RefreshTokenExpired)), "{r:?}");
    }

    async fn jobs_are_leased_once_retried_after_a_backoff_and_end(t: &TestDb) {
        let clock = ManualClock::new();
        let jobs = Jobs::new(t.db.clone(), clock.clone(), std::time::Duration::from_secs(30));
        let a = ok(jobs.enqueue("store-a", &serde_json::json!({ "n": 1 }), 2).await);
        let b = ok(jobs.enqueue("store-b", &serde_json::json!({}), 5).await);
        assert!(ok(jobs.claim("w1", &[]).await).is_none());
        let job = ok(jobs.claim("w1", &["store-a"]).await).unwrap_or_else(|| panic!("no job"));
        assert_eq!((job.id, job.attempts, job.payload["n"].as_i64()), (a, 1, Some(1)));
        assert!(ok(jobs.claim("w2", &["store-a"]).await).is_none(), "the lease holds");
        assert!(!ok(jobs.heartbeat(a, "w2", 10).await), "only the owner renews");
        assert!(ok(jobs.heartbeat(a, "w1", 40).await));
        assert_eq!(ok(jobs.status(a).await), Some(("running".into(), 40, None, 1)));

        // A failure is retried after the backoff, not before.
        assert!(!ok(jobs.fail(&job, "w1", &JobError::Retry("disk full".into())).await));
        assert_eq!(ok(jobs.status(a).await), Some(("queued".into(), 40, Some("disk full".into()), 1)));
        assert!(ok(jobs.claim("w2", &["store-a"]).await).is_none());
        clock.advance_ms(31_000);
        let job = ok(jobs.claim("w2", &["store-a"]).await).unwrap_or_else(|| panic!("no retry"));
        assert_eq!(job.attempts, 2);
        // A worker whose lease ran out loses the job to another.
        clock.advance_ms(31_000);
        let taken = ok(jobs.claim("w3", &["store-a"]).await).unwrap_or_else(|| panic!("no takeover"));
        assert_eq!((taken.id, taken.attempts), (a, 3));
        assert!(!ok(jobs.heartbeat(a, "w2", 50).await));
        ok(jobs.complete(a, "w2").await);
        assert_eq!(ok(jobs.status(a).await).map(|s| s.0), Some("running".into()), "not w2's any more");
        ok(jobs.complete(a, "w3").await);
        assert_eq!(ok(jobs.status(a).await), Some(("done".into(), 100, Some("disk full".into()), 3)));

        // A fatal failure ends the job at once.
        let job = ok(jobs.claim("w1", &["store-a", "store-b"]).await).unwrap_or_else(|| panic!("no job b"));
        assert_eq!(job.id, b);
        assert!(ok(jobs.fail(&job, "w1", &JobError::Fatal("bad input".into())).await));
        assert_eq!(ok(jobs.status(b).await).map(|s| s.0), Some("dead".into()));
        assert!(ok(jobs.claim("w1", &["store-a", "store-b"]).await).is_none());
    }

    async fn members_show_in_reports_and_scope_until_the_account_is_deleted(t: &TestDb) {
        let province = t.org("浙江省妇联", OrgKind::Province, None).await;
        let school = t.org("西湖小学", OrgKind::School, Some(province)).await;
        let class = t.org("三年级二班", OrgKind::Class, Some(school)).await;
        let other = t.org("湖滨小学", OrgKind::School, Some(province)).await;
        let curator = t.user("13500000001", Role::Curator, Some(school)).await;
        let parent = t.user("13500000002", Role::Parent, Some(class)).await;
        let expert = t.user("13500000003", Role::Expert, Some(class)).await;
        t.user("13500000004", Role::Parent, Some(other)).await;

        let members = ok(platform::orgs::subtree_members(&t.db, school, None, 10).await);
        let mut want = vec![parent.id, expert.id];
        want.sort();
        assert_eq!(members.iter().map(|m| m.user_id).collect::<Vec<_>>(), want, "curators are not listed");
        let first = ok(platform::orgs::subtree_members(&t.db, school, None, 1).await);
        let next = ok(platform::orgs::subtree_members(&t.db, school, Some(first[0].user_id), 1).await);
        assert_eq!((first.len(), next.len(), next[0].user_id), (1, 1, want[1]));

        // Created in the class by staff: in the curator's scope, by consent too.
        assert!(ok(platform::orgs::user_in_scope_of(&t.db, &curator, parent.id).await));
        assert!(ok(platform::orgs::user_in_scope_by_consent(&t.db, &curator, parent.id).await));
        let outsider = t.user("13500000005", Role::Curator, Some(other)).await;
        assert!(!ok(platform::orgs::user_in_scope_of(&t.db, &outsider, parent.id).await));

        let acc = t.accounts();
        ok(acc.delete_account(parent.id, "store-test-pass-1".into()).await);
        assert!(ok(platform::orgs::memberships(&t.db, parent.id).await).is_empty());
        let members = ok(platform::orgs::subtree_members(&t.db, school, None, 10).await);
        assert_eq!(members.iter().map(|m| m.user_id).collect::<Vec<_>>(), [expert.id]);
        assert!(!ok(platform::orgs::user_in_scope_of(&t.db, &curator, parent.id).await));
        assert_eq!(ok(acc.erase_pending().await), 0, "the deletion was erased at once");
        let login = acc.login(login("13500000002"), "10.0.0.3").await;
        assert!(matches!(login, Err(PlatformError::InvalidCredentials)), "{login:?}");
    }

    async fn rate_limits_count_per_bucket_in_a_window(t: &TestDb) {
        let now = t.clock.now();
        let hit = |bucket: &'static str, at: Timestamp| {
            let db = t.db.clone();
            async move { platform::limits::hit(&db, bucket, 2, 60_000, at).await }
        };
        ok(hit("store-a", now).await);
        ok(hit("store-a", now).await);
        let third = hit("store-a", now).await.err().unwrap_or_else(|| panic!("a third try passed"));
        assert_eq!((third.status.as_u16(), third.retry_after), (429, Some(60)));
        ok(hit("store-b", now).await);
        // A new window starts once the old one has passed, and a clear forgets at once.
        ok(hit("store-a", now.plus_seconds(61)).await);
        ok(hit("store-a", now.plus_seconds(61)).await);
        assert!(hit("store-a", now.plus_seconds(61)).await.is_err());
        ok(platform::limits::clear(&t.db, "store-a").await);
        ok(hit("store-a", now.plus_seconds(61)).await);
    }
}
