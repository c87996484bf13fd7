//! The queries of the evaluation: indicator systems (set, the nearest of a path's
//! organizations), and per member the certificates issued and the stars given in a period.

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

/// Valid certificates issued per holder and period (the index into `periods`).
pub(super) async fn certificates_in_periods(
    db: &Db,
    periods: &[(Timestamp, Timestamp)],
    under: Option<&str>,
) -> Result<Vec<(UserId, Option<i32>, i64)>, sqlx::Error> {
    with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new("SELECT user_id, ");
        platform::terms::push_period_index(&mut qb, "issued_at", periods);
        qb.push(" AS period, COUNT(*) FROM certificates WHERE revoked_at IS NULL AND ");
        platform::terms::push_period_group(&mut qb, "issued_at", "user_id", periods, under);
        qb.build_query_as::<(UserId, Option<i32>, i64)>().fetch_all(pool).await
    })
}

/// The sum and number of stars given (or last changed) per rater and period.
pub(super) async fn stars_in_periods(
    db: &Db,
    periods: &[(Timestamp, Timestamp)],
    under: Option<&str>,
) -> Result<Vec<(UserId, Option<i32>, i64, i64)>, sqlx::Error> {
    with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new("SELECT user_id, ");
        platform::terms::push_period_index(&mut qb, "updated_at", periods);
        qb.push(" AS period, CAST(SUM(stars) AS BIGINT), COUNT(*) FROM ratings WHERE ");
        platform::terms::push_period_group(&mut qb, "updated_at", "user_id", periods, under);
        qb.build_query_as::<(UserId, Option<i32>, i64, i64)>()
            .fetch_all(pool)
            .await
    })
}
