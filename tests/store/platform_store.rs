//! The platform's stores: the organization tree, memberships, the scope rule read from them,
//! and a phone number registered once.

use platform::PlatformError;
use platform::scope::Scope;

use super::*;

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
}
