//! The queries of the evaluation: indicator systems (set, the nearest of a path's
//! organizations), and per member the certificates issued and the stars given in a period.

use std::collections::HashMap;

use platform::ids::{OrgId, UserId};
use platform::{Db, Timestamp, db_execute, with_db};

/// The indicator systems set on any of `orgs`, with the organization.
pub(super) async fn indicators_of(db: &Db, orgs: &[OrgId]) -> Result<Vec<(OrgId, String)>, sqlx::Error> {
    if orgs.is_empty() {
        return Ok(Vec::new());
    }
    with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new("SELECT org_id, indicators FROM org_indicators WHERE org_id IN (");
        let mut sep = qb.separated(", ");
        for o in orgs {
            sep.push_bind(*o);
        }
        qb.push(")");
        qb.build_query_as::<(OrgId, String)>().fetch_all(pool).await
    })
}

pub(super) async fn set_indicators(
    db: &Db,
    org: OrgId,
    json: &str,
    by: UserId,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO org_indicators (org_id, indicators, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (org_id) DO UPDATE SET indicators = excluded.indicators, updated_by = excluded.updated_by, \
         updated_at = excluded.updated_at",
        org,
        json,
        by,
        at,
    )?;
    Ok(())
}

/// Valid certificates issued in `[from, to)`, per holder.
pub(super) async fn certificates_between(
    db: &Db,
    from: Timestamp,
    to: Timestamp,
) -> Result<HashMap<UserId, i64>, sqlx::Error> {
    let rows: Vec<(UserId, i64)> = with_db!(db, |pool| sqlx::query_as(
        "SELECT user_id, COUNT(*) FROM certificates WHERE issued_at >= $1 AND issued_at < $2 \
         AND revoked_at IS NULL GROUP BY user_id"
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await)?;
    Ok(rows.into_iter().collect())
}

/// The sum and number of stars given (or last changed) in `[from, to)`, per rater.
pub(super) async fn stars_between(
    db: &Db,
    from: Timestamp,
    to: Timestamp,
) -> Result<HashMap<UserId, (i64, i64)>, sqlx::Error> {
    let rows: Vec<(UserId, i64, i64)> = with_db!(db, |pool| sqlx::query_as(
        "SELECT user_id, CAST(SUM(stars) AS BIGINT), COUNT(*) FROM ratings WHERE updated_at >= $1 \
         AND updated_at < $2 GROUP BY user_id"
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await)?;
    Ok(rows.into_iter().map(|(u, s, n)| (u, (s, n))).collect())
}
