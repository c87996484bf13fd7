//! The queries of watch progress and study credits, one named function each, so the service and
//! its handlers never touch a pool. A report is written in one transaction that holds the user's
//! study-budget row lock (`platform::study`): what it credits is decided by the rule the service
//! passes in, run under that lock on what is stored.

use platform::ids::UserId;
use platform::intervals::{Span, normalise, total};
use platform::study::{self, Budget};
use platform::{Db, Timestamp, with_db};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ids::AssetId;

/// One asset's progress for one user.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct AssetProgress {
    pub asset_id: AssetId,
    pub watched_ms: i64,
    pub position_ms: i64,
    pub duration_ms: Option<i64>,
    pub completed_at: Option<Timestamp>,
}

/// Where a user watched an asset: a lesson, and when last.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WatchPlace {
    pub asset_id: AssetId,
    pub lesson_id: uuid::Uuid,
    pub last_at: Timestamp,
}

/// `(user, number)` rows of a per-user aggregate.
pub(super) type PerUser = Vec<(UserId, i64)>;

/// What a report played, besides its ranges.
pub(super) struct Played {
    /// The player's viewing session (logged with each credit).
    pub(super) session: uuid::Uuid,
    /// The lesson whose page played the asset.
    pub(super) lesson: Option<uuid::Uuid>,
    /// Where playback is now, in ms.
    pub(super) position_ms: i64,
}

/// What is stored of a user's watching of an asset when a report comes in.
pub(super) struct Watched {
    /// The union of the ranges played so far (empty the first time).
    pub(super) union: Vec<Span>,
    pub(super) completed_at: Option<Timestamp>,
}

/// What a report leaves: the budget after it, the new union and what it credited.
pub(super) struct Credited {
    pub(super) budget: Budget,
    pub(super) union: Vec<Span>,
    /// Total of `union`, in ms.
    pub(super) watched: i64,
    /// What this report added, in ms.
    pub(super) credited: i64,
    pub(super) completed_at: Option<Timestamp>,
}

/// Brings `user`'s study budget through `change` under its row lock, in one transaction.
pub(super) async fn update_budget(
    db: &Db,
    user: UserId,
    change: impl FnOnce(Budget) -> Budget,
) -> Result<(), sqlx::Error> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let row: (i64, Timestamp, Timestamp) = sqlx::query_as(study::LOCK_SQL).bind(user).fetch_one(&mut *tx).await?;
        let b = change(Budget::from(row));
        sqlx::query(study::STORE_SQL)
            .bind(user)
            .bind(b.allowance_ms)
            .bind(b.last_at)
            .bind(b.live_until)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Records a report in one transaction: locks the user's budget (reports from several tabs, and
/// live lectures, are credited one after the other against the same allowance), reads the stored
/// progress, lets `credit` decide, then writes the progress, the lesson it was watched in, the
/// credit log entry (when something was credited) and the budget.
pub(super) async fn record(
    db: &Db,
    user: UserId,
    asset: AssetId,
    played: &Played,
    now: Timestamp,
    credit: impl FnOnce(Budget, Watched) -> Credited,
) -> Result<Credited, sqlx::Error> {
    Ok(with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let row: (i64, Timestamp, Timestamp) = sqlx::query_as(study::LOCK_SQL).bind(user).fetch_one(&mut *tx).await?;
        let existing: Option<(String, Option<Timestamp>)> =
            sqlx::query_as("SELECT ranges, completed_at FROM watch_progress WHERE user_id = $1 AND asset_id = $2")
                .bind(user)
                .bind(asset)
                .fetch_optional(&mut *tx)
                .await?;
        let union: Vec<Span> = existing
            .as_ref()
            .and_then(|(r, _)| serde_json::from_str(r).ok())
            .unwrap_or_default();
        let watched = Watched {
            union,
            completed_at: existing.and_then(|(_, c)| c),
        };
        let out = credit(Budget::from(row), watched);
        sqlx::query(
            "INSERT INTO watch_progress (user_id, asset_id, ranges, watched_ms, position_ms, completed_at, \
             updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (user_id, asset_id) DO UPDATE SET ranges = excluded.ranges, watched_ms = \
             excluded.watched_ms,
                   position_ms = excluded.position_ms, completed_at = excluded.completed_at, updated_at = \
             excluded.updated_at",
        )
        .bind(user)
        .bind(asset)
        .bind(serde_json::to_string(&out.union).unwrap_or_else(|_| "[]".into()))
        .bind(out.watched)
        .bind(played.position_ms)
        .bind(out.completed_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Some(lesson) = played.lesson {
            sqlx::query(
                "INSERT INTO watch_places (user_id, asset_id, lesson_id, last_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (user_id, asset_id, lesson_id) DO UPDATE SET last_at = excluded.last_at",
            )
            .bind(user)
            .bind(asset)
            .bind(lesson)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        if out.credited > 0 {
            sqlx::query(
                "INSERT INTO study_credits (id, user_id, asset_id, session_id, credited_ms, earned_at) VALUES ($1, \
                 $2, $3, $4, $5, $6)",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(user)
            .bind(asset)
            .bind(played.session)
            .bind(out.credited)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(study::STORE_SQL)
            .bind(user)
            .bind(out.budget.allowance_ms)
            .bind(out.budget.last_at)
            .bind(out.budget.live_until)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        out
    }))
}

/// `(watched ms, position ms, completed at)` of `user` on `asset`, when they have played it.
pub(super) async fn progress(
    db: &Db,
    user: UserId,
    asset: AssetId,
) -> Result<Option<(i64, i64, Option<Timestamp>)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT watched_ms, position_ms, completed_at FROM watch_progress WHERE user_id = $1 AND asset_id = $2",
    )
    .bind(user)
    .bind(asset)
    .fetch_optional(pool)
    .await)
}

/// The lessons `user` watched assets in, the most recent first.
pub(super) async fn places_of(db: &Db, user: UserId) -> Result<Vec<WatchPlace>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, WatchPlace>(
        "SELECT asset_id, lesson_id, last_at FROM watch_places WHERE user_id = $1 ORDER BY last_at DESC",
    )
    .bind(user)
    .fetch_all(pool)
    .await)
}

/// `user`'s progress on every asset they have played, with the asset's duration.
pub(super) async fn progress_of(db: &Db, user: UserId) -> Result<Vec<AssetProgress>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, AssetProgress>(
        "SELECT p.asset_id, p.watched_ms, p.position_ms, a.duration_ms, p.completed_at
             FROM watch_progress p JOIN assets a ON a.id = p.asset_id WHERE p.user_id = $1",
    )
    .bind(user)
    .fetch_all(pool)
    .await)
}

/// Per user of `users` (not empty): credited milliseconds earned in `[from, to)`.
pub(super) async fn credited_per_user(
    db: &Db,
    users: &[UserId],
    from: Timestamp,
    to: Timestamp,
) -> Result<PerUser, sqlx::Error> {
    with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new(
            "SELECT user_id, CAST(SUM(credited_ms) AS BIGINT) FROM study_credits WHERE earned_at >= ",
        );
        qb.push_bind(from);
        qb.push(" AND earned_at < ");
        qb.push_bind(to);
        qb.push(" AND user_id IN (");
        let mut sep = qb.separated(", ");
        for u in users {
            sep.push_bind(*u);
        }
        qb.push(") GROUP BY user_id");
        qb.build_query_as::<(UserId, i64)>().fetch_all(pool).await
    })
}

/// Per user of `users` (not empty): assets completed before `to`.
pub(super) async fn completed_per_user(db: &Db, users: &[UserId], to: Timestamp) -> Result<PerUser, sqlx::Error> {
    with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new("SELECT user_id, COUNT(*) FROM watch_progress WHERE completed_at < ");
        qb.push_bind(to);
        qb.push(" AND user_id IN (");
        let mut sep = qb.separated(", ");
        for u in users {
            sep.push_bind(*u);
        }
        qb.push(") GROUP BY user_id");
        qb.build_query_as::<(UserId, i64)>().fetch_all(pool).await
    })
}

/// Adds `spans` to `user`'s union of watched ranges of `asset` in one transaction, crediting
/// nothing; a first row starts at position 0, not completed.
pub(super) async fn add_watched(
    db: &Db,
    user: UserId,
    asset: AssetId,
    spans: &[Span],
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT ranges FROM watch_progress WHERE user_id = $1 AND asset_id = $2")
                .bind(user)
                .bind(asset)
                .fetch_optional(&mut *tx)
                .await?;
        let mut union: Vec<Span> = existing
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default();
        union.extend_from_slice(spans);
        let union = normalise(union);
        sqlx::query(
            "INSERT INTO watch_progress (user_id, asset_id, ranges, watched_ms, position_ms, completed_at, \
             updated_at)
                 VALUES ($1, $2, $3, $4, 0, NULL, $5)
                 ON CONFLICT (user_id, asset_id) DO UPDATE SET ranges = excluded.ranges, watched_ms = \
             excluded.watched_ms,
                   updated_at = excluded.updated_at",
        )
        .bind(user)
        .bind(asset)
        .bind(serde_json::to_string(&union).unwrap_or_else(|_| "[]".into()))
        .bind(total(&union))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Credited milliseconds `user` earned in `[from, to)`, from the credit log.
pub(super) async fn credited_between(
    db: &Db,
    user: UserId,
    from: Timestamp,
    to: Timestamp,
) -> Result<i64, sqlx::Error> {
    with_db!(db, |pool| {
        sqlx::query_scalar::<_, i64>(
            "SELECT CAST(COALESCE(SUM(credited_ms), 0) AS BIGINT) FROM study_credits WHERE user_id = $1 AND \
             earned_at >= $2 AND earned_at < $3",
        )
        .bind(user)
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await
    })
}

/// A user's credited recorded-lesson time per asset and China day (the day's start, ms), from
/// the credit log, oldest first.
pub(super) async fn credit_days(db: &Db, user: UserId) -> Result<Vec<(AssetId, i64, i64)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, (AssetId, i64, i64)>(
        "SELECT asset_id, CAST((earned_at + 28800000) / 86400000 * 86400000 - 28800000 AS BIGINT) AS day,
                CAST(SUM(credited_ms) AS BIGINT)
           FROM study_credits WHERE user_id = $1 GROUP BY asset_id, day ORDER BY day, asset_id",
    )
    .bind(user)
    .fetch_all(pool)
    .await)
}

/// Credited milliseconds per user and period (the index into `periods`), in one scan.
pub(super) async fn credited_in_periods(
    db: &Db,
    periods: &[(Timestamp, Timestamp)],
    under: Option<&str>,
) -> Result<Vec<(UserId, Option<i32>, i64)>, sqlx::Error> {
    with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new("SELECT user_id, ");
        platform::terms::push_period_index(&mut qb, "earned_at", periods);
        qb.push(" AS period, CAST(SUM(credited_ms) AS BIGINT) FROM study_credits WHERE ");
        platform::terms::push_period_group(&mut qb, "earned_at", "user_id", periods, under);
        qb.build_query_as::<(UserId, Option<i32>, i64)>().fetch_all(pool).await
    })
}
