//! The queries of attendance: connection intervals written in batches (multi-row inserts, a
//! CASE update for leaves, one "seen until" update for open ones), the lectures live now, the
//! study budget spent under row locks with the credit log, and the sums reports read.

use std::collections::HashMap;

use platform::ids::UserId;
use platform::study::{self, Budget};
use platform::{Db, Timestamp, with_db};

use crate::OccurrenceId;

/// A user's live lectures of one flush, each with the windows it was live while connected.
pub(crate) type Lectures = Vec<(OccurrenceId, Vec<platform::intervals::Span>)>;

/// `head VALUES ($1, …), (…)` for `rows` rows of `cols` placeholders each.
fn insert_sql(head: &str, rows: usize, cols: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let cells: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    format!("{head} VALUES {}", values.join(", "))
}

/// Rows per multi-row statement.
pub(crate) const BATCH: usize = 200;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Join {
    pub id: uuid::Uuid,
    pub occ: OccurrenceId,
    pub user: UserId,
    pub at: Timestamp,
}

/// Writes joins, leaves and the "seen until `now`" of open intervals in one transaction;
/// returns the statements run.
pub(crate) async fn write(
    db: &Db,
    joins: &[Join],
    leaves: &[(uuid::Uuid, Timestamp)],
    open: &[uuid::Uuid],
    now: Timestamp,
) -> Result<usize, sqlx::Error> {
    let mut statements = 0;
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        for chunk in joins.chunks(BATCH) {
            let sql = insert_sql(
                "INSERT INTO live_attendance (id, occurrence_id, user_id, joined_at, seen_until)",
                chunk.len(),
                5,
            );
            let mut q = sqlx::query(&sql);
            for j in chunk {
                q = q.bind(j.id).bind(j.occ).bind(j.user).bind(j.at).bind(now.max(j.at));
            }
            q.execute(&mut *tx).await?;
            statements += 1;
        }
        for chunk in leaves.chunks(BATCH) {
            // UPDATE … FROM (VALUES …) differs between the two; a CASE works on both.
            let mut sql = String::from("UPDATE live_attendance SET left_at = CASE id");
            for i in 0..chunk.len() {
                sql.push_str(&format!(" WHEN ${} THEN ${}", i * 2 + 1, i * 2 + 2));
            }
            sql.push_str(" END, seen_until = CASE id");
            for i in 0..chunk.len() {
                sql.push_str(&format!(" WHEN ${} THEN ${}", i * 2 + 1, i * 2 + 2));
            }
            sql.push_str(" END WHERE id IN (");
            sql.push_str(
                &(0..chunk.len())
                    .map(|i| format!("${}", i * 2 + 1))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            sql.push(')');
            let mut q = sqlx::query(&sql);
            for (id, at) in chunk {
                q = q.bind(*id).bind(*at);
            }
            q.execute(&mut *tx).await?;
            statements += 1;
        }
        for chunk in open.chunks(BATCH * 2) {
            let sql = format!(
                "UPDATE live_attendance SET seen_until = $1 WHERE left_at IS NULL AND id IN ({})",
                (0..chunk.len())
                    .map(|i| format!("${}", i + 2))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut q = sqlx::query(&sql).bind(now);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await?;
            statements += 1;
        }
        tx.commit().await?;
        Ok::<(), sqlx::Error>(())
    })?;
    Ok(statements)
}

/// When the current live period of each of `occs` that is live began.
pub(crate) async fn live_since(db: &Db, occs: &[OccurrenceId]) -> Result<Vec<(OccurrenceId, Timestamp)>, sqlx::Error> {
    let sql = format!(
        "SELECT id, live_since FROM live_occurrences WHERE state = 'live' AND live_since IS NOT \
         NULL AND id IN ({})",
        (1..=occs.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
    );
    with_db!(db, |pool| {
        let mut q = sqlx::query_as(&sql);
        for o in occs {
            q = q.bind(*o);
        }
        q.fetch_all(pool).await
    })
}

/// The budgets granted and the credits earned by one chunk of users.
pub(crate) type Grant = (Vec<(UserId, Budget)>, Vec<(UserId, OccurrenceId, i64)>);

/// Spends study budgets in one transaction: per chunk of users, their budget rows are locked
/// and read, `grant` decides the new budgets and the credits, and both are written. Returns the
/// statements run.
pub(crate) async fn spend(
    db: &Db,
    users: &[(UserId, Lectures)],
    now: Timestamp,
    grant: impl Fn(&[(UserId, Lectures)], &HashMap<UserId, Budget>) -> Grant,
) -> Result<usize, sqlx::Error> {
    let mut statements = 0;
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        for chunk in users.chunks(BATCH) {
            let sql = study::lock_many_sql(chunk.len());
            let mut q = sqlx::query_as::<_, (UserId, i64, Timestamp, Timestamp)>(&sql);
            for (user, _) in chunk {
                q = q.bind(*user);
            }
            let rows: HashMap<UserId, Budget> = q
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|(u, a, l, v)| (u, Budget::from((a, l, v))))
                .collect();
            let (budgets, credits) = grant(chunk, &rows);
            let sql = study::store_many_sql(budgets.len());
            let mut q = sqlx::query(&sql);
            for (user, b) in &budgets {
                q = q.bind(*user).bind(b.allowance_ms).bind(b.last_at).bind(b.live_until);
            }
            q.execute(&mut *tx).await?;
            statements += 2;
            if !credits.is_empty() {
                let sql = insert_sql(
                    "INSERT INTO live_credits (id, user_id, occurrence_id, credited_ms, earned_at)",
                    credits.len(),
                    5,
                );
                let mut q = sqlx::query(&sql);
                for (user, occ, ms) in &credits {
                    q = q.bind(uuid::Uuid::now_v7()).bind(*user).bind(*occ).bind(*ms).bind(now);
                }
                q.execute(&mut *tx).await?;
                statements += 1;
            }
        }
        tx.commit().await?;
        Ok::<(), sqlx::Error>(())
    })?;
    Ok(statements)
}

/// Every connection interval of `occ`: user, joined, seen until, left.
pub(crate) async fn intervals(
    db: &Db,
    occ: OccurrenceId,
) -> Result<Vec<(UserId, Timestamp, Timestamp, Option<Timestamp>)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT user_id, joined_at, seen_until, left_at FROM live_attendance WHERE occurrence_id = $1",
    )
    .bind(occ)
    .fetch_all(pool)
    .await)
}

/// The lectures `user` earned live time in: occurrence, title, start and credited ms, by start.
pub(crate) async fn credits_of(
    db: &Db,
    user: UserId,
) -> Result<Vec<(OccurrenceId, String, Timestamp, i64)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT c.occurrence_id, s.title, o.starts_at, CAST(SUM(c.credited_ms) AS BIGINT) FROM live_credits c
         JOIN live_occurrences o ON o.id = c.occurrence_id JOIN live_series s ON s.id = o.series_id
         WHERE c.user_id = $1 GROUP BY c.occurrence_id, s.title, o.starts_at ORDER BY o.starts_at",
    )
    .bind(user)
    .fetch_all(pool)
    .await)
}

pub(crate) async fn credited_between(
    db: &Db,
    user: UserId,
    from: Timestamp,
    to: Timestamp,
) -> Result<i64, sqlx::Error> {
    with_db!(db, |pool| {
        sqlx::query_scalar::<_, i64>(
            "SELECT CAST(COALESCE(SUM(credited_ms), 0) AS BIGINT) FROM live_credits WHERE user_id = \
             $1 AND earned_at >= $2 AND earned_at < $3",
        )
        .bind(user)
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await
    })
}

/// Live time credited in `[from, to)` to each of `users` that has any (one statement).
pub(crate) async fn totals_for(
    db: &Db,
    users: &[UserId],
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<(UserId, i64)>, sqlx::Error> {
    let sql = format!(
        "SELECT user_id, CAST(SUM(credited_ms) AS BIGINT) FROM live_credits
         WHERE earned_at >= $1 AND earned_at < $2 AND user_id IN ({}) GROUP BY user_id",
        (0..users.len())
            .map(|i| format!("${}", i + 3))
            .collect::<Vec<_>>()
            .join(", ")
    );
    with_db!(db, |pool| {
        let mut q = sqlx::query_as(&sql).bind(from).bind(to);
        for u in users {
            q = q.bind(*u);
        }
        q.fetch_all(pool).await
    })
}

/// Live credit per user and period (the index into `periods`), in one scan.
pub(crate) async fn credited_in_periods(
    db: &Db,
    periods: &[(Timestamp, Timestamp)],
    under: Option<&str>,
) -> Result<Vec<(UserId, Option<i32>, i64)>, sqlx::Error> {
    with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new("SELECT user_id, ");
        platform::terms::push_period_index(&mut qb, "earned_at", periods);
        qb.push(" AS period, CAST(SUM(credited_ms) AS BIGINT) FROM live_credits WHERE ");
        platform::terms::push_period_group(&mut qb, "earned_at", "user_id", periods, under);
        qb.build_query_as::<(UserId, Option<i32>, i64)>().fetch_all(pool).await
    })
}
