//! The queries of ratings: one person's, rating (insert or change), a target's summary and its
//! page of ratings with the raters' names, and erasure.

use platform::ids::UserId;
use platform::{Db, Timestamp, db_execute, with_db};

use super::{RatingView, Target};

#[derive(Debug, sqlx::FromRow)]
struct Row {
    stars: i32,
    comment: String,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<Row> for RatingView {
    fn from(r: Row) -> Self {
        Self {
            stars: r.stars as u8,
            comment: r.comment,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct ItemRow {
    pub(super) id: uuid::Uuid,
    pub(super) display_name: String,
    pub(super) stars: i32,
    pub(super) comment: String,
    pub(super) updated_at: Timestamp,
}

pub(super) async fn mine(db: &Db, user: UserId, t: Target) -> Result<Option<RatingView>, sqlx::Error> {
    let row = with_db!(db, |pool| sqlx::query_as::<_, Row>(
        "SELECT stars, comment, created_at, updated_at FROM ratings \
         WHERE user_id = $1 AND target_kind = $2 AND target_id = $3"
    )
    .bind(user)
    .bind(t.kind())
    .bind(t.id())
    .fetch_optional(pool)
    .await)?;
    Ok(row.map(RatingView::from))
}

/// Inserts the rating or changes the one the user gave (one row per user and target).
pub(super) async fn upsert(
    db: &Db,
    user: UserId,
    t: Target,
    stars: u8,
    comment: &str,
    now: Timestamp,
) -> Result<RatingView, sqlx::Error> {
    let row = with_db!(db, |pool| sqlx::query_as::<_, Row>(
        "INSERT INTO ratings (id, user_id, target_kind, target_id, stars, comment, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (user_id, target_kind, target_id) DO UPDATE SET stars = excluded.stars, \
         comment = excluded.comment, updated_at = excluded.updated_at \
         RETURNING stars, comment, created_at, updated_at"
    )
    .bind(uuid::Uuid::now_v7())
    .bind(user)
    .bind(t.kind())
    .bind(t.id())
    .bind(i32::from(stars))
    .bind(comment)
    .bind(now)
    .fetch_one(pool)
    .await)?;
    Ok(row.into())
}

/// How many rated the target, their average, and how many gave each number of stars.
pub(super) async fn summary(db: &Db, t: Target) -> Result<(i64, Option<f64>, [i64; 5]), sqlx::Error> {
    let rows: Vec<(i32, i64)> = with_db!(db, |pool| sqlx::query_as(
        "SELECT stars, COUNT(*) FROM ratings WHERE target_kind = $1 AND target_id = $2 GROUP BY stars"
    )
    .bind(t.kind())
    .bind(t.id())
    .fetch_all(pool)
    .await)?;
    let mut stars = [0i64; 5];
    for (s, n) in rows {
        if let Some(slot) = usize::try_from(s - 1).ok().and_then(|i| stars.get_mut(i)) {
            *slot = n;
        }
    }
    let count: i64 = stars.iter().sum();
    let total: i64 = stars.iter().zip(1i64..).map(|(n, s)| n * s).sum();
    let average = (count > 0).then(|| (total as f64 / count as f64 * 100.0).round() / 100.0);
    Ok((count, average, stars))
}

/// Up to `limit` ratings of the target, the latest changed first, after `(updated_at, id)`.
pub(super) async fn page(
    db: &Db,
    t: Target,
    after: Option<(i64, uuid::Uuid)>,
    limit: i64,
) -> Result<Vec<ItemRow>, sqlx::Error> {
    with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new(
            "SELECT r.id, u.display_name, r.stars, r.comment, r.updated_at FROM ratings r \
             JOIN users u ON u.id = r.user_id WHERE r.target_kind = ",
        );
        qb.push_bind(t.kind());
        qb.push(" AND r.target_id = ");
        qb.push_bind(t.id());
        if let Some((at, id)) = after {
            qb.push(" AND (r.updated_at < ");
            qb.push_bind(at);
            qb.push(" OR (r.updated_at = ");
            qb.push_bind(at);
            qb.push(" AND r.id < ");
            qb.push_bind(id);
            qb.push("))");
        }
        qb.push(" ORDER BY r.updated_at DESC, r.id DESC LIMIT ");
        qb.push_bind(limit);
        qb.build_query_as::<ItemRow>().fetch_all(pool).await
    })
}

/// A deleted account's ratings go with it.
pub(crate) async fn erase(db: &Db, user: UserId) -> Result<(), sqlx::Error> {
    db_execute!(db, "DELETE FROM ratings WHERE user_id = $1", user)?;
    Ok(())
}
