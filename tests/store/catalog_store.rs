//! The catalog's stores: import (insert, then update by external id), listing and Chinese
//! search under the visibility rule, and which lessons use an asset.

use catalog::import::{Entry, ManifestCourse, ManifestLesson};
use catalog::{Catalog, CatalogError, CourseQuery, ListInput};
use platform::http::PageQuery;

use super::*;

fn course(external_id: &str, title: &str, stage: &str, asset: &str) -> Entry {
    Entry {
        line: 2,
        course: ManifestCourse {
            external_id: external_id.into(),
            title: title.into(),
            summary: "面向家长的家庭教育课程。".into(),
            lecturer: "王老师".into(),
            age_stages: vec![stage.into()],
            topics: vec!["心理健康".into()],
            year: Some(2026),
            lessons: vec![
                ManifestLesson {
                    title: "第一讲".into(),
                    duration_s: 600,
                    asset_id: Some(asset.into()),
                    ..ManifestLesson::default()
                },
                ManifestLesson {
                    title: "第二讲".into(),
                    duration_s: 900,
                    ..ManifestLesson::default()
                },
            ],
            ..ManifestCourse::default()
        },
    }
}

async fn catalog(t: &TestDb) -> Catalog {
    let store = platform::store::LocalStore::open(t.dir.path().join("objects"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Catalog::new(t.db.clone(), Arc::new(store), t.clock.clone())
}

fn query(q: Option<&str>, stage: Option<&str>) -> CourseQuery {
    CourseQuery {
        q: q.map(str::to_owned),
        age_stage: stage.map(str::to_owned),
        topic: None,
        year: None,
        list: None,
        fits_list: None,
        status: None,
        cursor: None,
        limit: None,
    }
}

on_both! {
    async fn import_then_search_under_the_visibility_rule(t: &TestDb) {
        let province = t.org("浙江省妇联", OrgKind::Province, None).await;
        let school = t.org("西湖小学", OrgKind::School, Some(province)).await;
        let other = t.org("湖滨小学", OrgKind::School, Some(province)).await;
        let parent = t.user("13800000001", Role::Parent, Some(school)).await;
        let stranger = t.user("13800000002", Role::Parent, Some(other)).await;
        let cat = catalog(t).await;

        let entries = vec![
            course("c-1", "亲子沟通技巧", "6-12", "00000000-0000-7000-8000-000000000001"),
            course("c-2", "青春期的情绪管理", "12-15", "00000000-0000-7000-8000-000000000002"),
        ];
        let report = cat
            .import(school, true, entries, |_| Err("no covers".into()), |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((report.created, report.updated, report.failed.len()), (2, 0, 0), "{:?}", report.failed);

        // A member of the school finds a two-character word inside a title, and the age filter.
        let found = cat.find_courses(Some(&parent), &query(Some("沟通"), None)).await.unwrap_or_else(|e| panic!("{e}"));
        let titles: Vec<&str> = found.items.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(titles, ["亲子沟通技巧"]);
        let teens = cat.find_courses(Some(&parent), &query(None, Some("12-15"))).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(teens.items.iter().map(|c| c.title.as_str()).collect::<Vec<_>>(), ["青春期的情绪管理"]);

        // Courses scoped to the school are seen by nobody outside it, signed in or not.
        let theirs = cat.find_courses(Some(&stranger), &query(None, None)).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(theirs.items.is_empty(), "{:?}", theirs.items);
        let anonymous = cat.find_courses(None, &query(Some("沟通"), None)).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(anonymous.items.is_empty());

        // Importing the same external id again updates the course in place.
        let again = vec![course("c-1", "亲子沟通的技巧", "6-12", "00000000-0000-7000-8000-000000000001")];
        let report = cat
            .import(school, true, again, |_| Err("no covers".into()), |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((report.created, report.updated), (0, 1));
        let all = cat.find_courses(Some(&parent), &query(None, None)).await.unwrap_or_else(|e| panic!("{e}"));
        let mut titles: Vec<&str> = all.items.iter().map(|c| c.title.as_str()).collect();
        titles.sort_unstable();
        assert_eq!(titles, ["亲子沟通的技巧", "青春期的情绪管理"]);

        // Which lessons use an asset: the first lesson of the course, with its course.
        let uses = cat
            .lessons_for_assets(&["00000000-0000-7000-8000-000000000001".to_owned()])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(uses.len(), 1);
        assert_eq!((uses[0].lesson_title.as_str(), uses[0].position), ("第一讲", 1));
        assert_eq!((uses[0].course_title.as_str(), uses[0].course_lesson_count), ("亲子沟通的技巧", 2));
    }

    async fn a_duplicate_external_id_in_one_import_is_refused_whole(t: &TestDb) {
        let province = t.org("浙江省妇联", OrgKind::Province, None).await;
        let school = t.org("西湖小学", OrgKind::School, Some(province)).await;
        let cat = catalog(t).await;
        let entries = vec![
            course("dup", "家庭阅读", "3-6", "00000000-0000-7000-8000-000000000003"),
            course("dup", "家庭阅读（二）", "3-6", "00000000-0000-7000-8000-000000000004"),
        ];
        let report = cat
            .import(school, false, entries, |_| Err("no covers".into()), |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((report.created, report.failed.len()), (0, 2), "{:?}", report.failed);
    }

    async fn a_list_keeps_its_order_and_refuses_a_stale_version(t: &TestDb) {
        let province = t.org("浙江省妇联", OrgKind::Province, None).await;
        let school = t.org("西湖小学", OrgKind::School, Some(province)).await;
        let curator = t.user("13600000001", Role::Curator, Some(school)).await;
        let parent = t.user("13600000002", Role::Parent, Some(school)).await;
        let cat = catalog(t).await;
        let entries = vec![
            course("l-1", "好习惯养成", "6-12", "00000000-0000-7000-8000-000000000011"),
            course("l-2", "家庭阅读指导", "6-12", "00000000-0000-7000-8000-000000000012"),
        ];
        cat.import(school, true, entries, |_| Err("no covers".into()), |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<_> = cat
            .find_courses(Some(&parent), &query(None, None))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .items
            .into_iter()
            .map(|c| (c.title, c.id))
            .collect();
        let id_of = |title: &str| ids.iter().find(|(t, _)| t == title).map(|(_, id)| *id).unwrap_or_else(|| panic!("{title}"));

        let list = cat
            .create_list(
                &curator,
                ListInput {
                    title: Some("2026 年度推荐课程".into()),
                    year: Some(2026),
                    theme: None,
                    description: None,
                    visibility: None,
                    scope_org_id: None,
                    owner_org_id: Some(school),
                    published_from: None,
                    published_until: None,
                    version: None,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let order = [id_of("家庭阅读指导"), id_of("好习惯养成")];
        let list = cat
            .replace_list_items(&curator, list.id, list.version, &order)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(list.courses.iter().map(|c| c.title.as_str()).collect::<Vec<_>>(), ["家庭阅读指导", "好习惯养成"]);

        // The version read before that change is stale now: nothing changes.
        let stale = cat.replace_list_items(&curator, list.id, list.version - 1, &order[..1]).await;
        assert!(matches!(stale, Err(CatalogError::ListVersionConflict)), "{stale:?}");

        // A parent of the school sees it on the home page, in order; a parent may not edit it.
        let page = PageQuery { cursor: None, limit: None };
        let home = cat.find_lists(Some(&parent), &page).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(home.items.len(), 1);
        assert_eq!(home.items[0].course_count, 2);
        assert!(!home.items[0].editable);
        let theirs = cat.replace_list_items(&parent, list.id, list.version, &order).await;
        assert!(matches!(theirs, Err(CatalogError::ListNotEditable)), "{theirs:?}");
    }
}
