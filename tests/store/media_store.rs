//! The media stores: a file ingested once per content (its asset and transcoding job made in one
//! go), watched spans seeded into one union without credit, and the credit log summed per user
//! in a time window. Nothing here needs ffmpeg: assets stay processing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use media::{AssetId, Media, MediaError, MediaSettings};
use platform::Timestamp;
use platform::jobs::Jobs;

use super::*;

async fn media(t: &TestDb) -> Media {
    let store = platform::store::LocalStore::open(t.dir.path().join("objects"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let jobs = Jobs::new(t.db.clone(), t.clock.clone(), Duration::from_secs(60));
    Media::new(
        t.db.clone(),
        Arc::new(store),
        t.clock.clone(),
        jobs,
        MediaSettings::default(),
        t.dir.path().join("work"),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A file of `bytes` named `name` in the test's folder.
fn file(t: &TestDb, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = t.dir.path().join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
    path
}

async fn ingest(m: &Media, owner: Option<UserId>, path: &std::path::Path) -> AssetId {
    m.ingest_file(owner, path, |_| {})
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Logs a credit of `ms` for `user` on `asset` at `at` (what a progress report writes; reports
/// come over HTTP, see tests/api).
async fn credit(t: &TestDb, user: UserId, asset: AssetId, ms: i64, at: i64) {
    platform::with_db!(&t.db, |pool| sqlx::query(
        "INSERT INTO study_credits (id, user_id, asset_id, session_id, credited_ms, earned_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(user)
    .bind(asset)
    .bind(uuid::Uuid::now_v7())
    .bind(ms)
    .bind(Timestamp(at))
    .execute(pool)
    .await
    .map(|_| ()))
    .unwrap_or_else(|e| panic!("{e}"));
}

on_both! {
    async fn a_file_is_ingested_once_per_content(t: &TestDb) {
        let expert = t.user("13500000001", Role::Expert, None).await;
        let m = media(t).await;
        let bytes = b"not a video yet: the transcoder decides that later";
        let first = ingest(&m, Some(expert.id), &file(t, "第一讲.mp4", bytes)).await;

        // The same bytes under another name, by someone else: the asset that has them.
        let reported = Arc::new(AtomicU64::new(0));
        let seen = reported.clone();
        let again = m
            .ingest_file(None, &file(t, "copy.mp4", bytes), move |n| seen.store(n, Ordering::Relaxed))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, first);
        assert_eq!(reported.load(Ordering::Relaxed), bytes.len() as u64, "a found file counts as sent");

        assert_eq!(m.uploader(first).await.unwrap_or_else(|e| panic!("{e}")), Some(expert.id));
        let view = m.asset_view(first).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((view.state.as_str(), view.progress, view.filename.as_str()), ("processing", 0, "第一讲.mp4"));
        assert_eq!((view.size, view.duration_s, view.renditions.len()), (bytes.len() as i64, None, 0));
        assert_eq!(m.processing_count().await.unwrap_or_else(|e| panic!("{e}")), 1);

        // Other bytes make another asset; an empty file none.
        let other = ingest(&m, None, &file(t, "第二讲.mp4", b"other bytes")).await;
        assert_ne!(other, first);
        assert_eq!(m.uploader(other).await.unwrap_or_else(|e| panic!("{e}")), None);
        assert_eq!(m.processing_count().await.unwrap_or_else(|e| panic!("{e}")), 2);
        let empty = m.ingest_file(None, &file(t, "empty.mp4", b""), |_| {}).await;
        assert!(matches!(empty, Err(MediaError::Invalid(_))), "{empty:?}");
        let missing = m.asset_view(AssetId::new()).await;
        assert!(matches!(missing, Err(MediaError::AssetNotFound)), "{missing:?}");
        assert_eq!(m.clean_up_uploads().await.unwrap_or_else(|e| panic!("{e}")), 0);
    }

    async fn seeded_spans_make_one_union_and_credit_nothing(t: &TestDb) {
        let parent = t.user("13500000002", Role::Parent, None).await;
        let other = t.user("13500000003", Role::Parent, None).await;
        let m = media(t).await;
        let asset = ingest(&m, None, &file(t, "回放.mp4", b"a replay")).await;

        m.seed_watched(parent.id, asset, &[(0, 10_000)]).await.unwrap_or_else(|e| panic!("{e}"));
        m.seed_watched(parent.id, asset, &[(5_000, 20_000), (30_000, 40_000)])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mine = m.progress_of(parent.id).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mine.len(), 1);
        let p = &mine[0];
        assert_eq!((p.asset_id, p.watched_ms, p.position_ms), (asset, 30_000, 0), "0–20 s and 30–40 s");
        assert_eq!((p.duration_ms, p.completed_at), (None, None));

        // Seeding again what is already in the union changes nothing.
        m.seed_watched(parent.id, asset, &[(12_000, 18_000)]).await.unwrap_or_else(|e| panic!("{e}"));
        let mine = m.progress_of(parent.id).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mine[0].watched_ms, 30_000);

        // Nobody else's progress, no lesson named, nothing credited.
        assert!(m.progress_of(other.id).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
        assert!(m.places_of(parent.id).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
        let credited = m.credited_between(parent.id, Timestamp(0), Timestamp(i64::MAX)).await;
        assert_eq!(credited.unwrap_or_else(|e| panic!("{e}")), 0);
    }

    async fn credits_are_summed_per_user_in_their_window(t: &TestDb) {
        let a = t.user("13500000004", Role::Parent, None).await.id;
        let b = t.user("13500000005", Role::Parent, None).await.id;
        let c = t.user("13500000006", Role::Parent, None).await.id;
        let m = media(t).await;
        let asset = ingest(&m, None, &file(t, "课.mp4", b"a lesson")).await;
        credit(t, a, asset, 1_000, 1_000_000).await;
        credit(t, a, asset, 2_000, 2_000_000).await;
        credit(t, b, asset, 500, 1_500_000).await;

        let between = |user, from, to| {
            let m = m.clone();
            async move {
                let ms = m.credited_between(user, Timestamp(from), Timestamp(to)).await;
                ms.unwrap_or_else(|e| panic!("{e}"))
            }
        };
        assert_eq!(between(a, 1_000_000, 2_000_000).await, 1_000, "from is in the window, to is not");
        assert_eq!(between(a, 0, 3_000_000).await, 3_000);
        assert_eq!(between(c, 0, 3_000_000).await, 0);

        let totals = |users: Vec<UserId>, from, to| {
            let m = m.clone();
            async move {
                let out = m.totals_for(&users, Timestamp(from), Timestamp(to)).await;
                out.unwrap_or_else(|e| panic!("{e}"))
            }
        };
        let all = totals(vec![a, b, c], 0, 3_000_000).await;
        assert_eq!((all.get(&a), all.get(&b), all.get(&c)), (Some(&(3_000, 0)), Some(&(500, 0)), None));
        let later = totals(vec![a, b], 1_500_000, 3_000_000).await;
        assert_eq!((later.get(&a), later.get(&b)), (Some(&(2_000, 0)), Some(&(500, 0))));
        assert!(totals(Vec::new(), 0, 3_000_000).await.is_empty());
    }
}
