//! The queries of offline activities: creating one (its series of format `offline`, its one
//! occurrence and its details, in one transaction), reading it, and its check-ins.

use platform::ids::{OrgId, UserId};
use platform::{Db, Timestamp, db_execute, with_db};

use super::series::{INSERT_OCCURRENCE, SeriesFields, insert_series};
use crate::checkin::Purpose;
use crate::{OccurrenceId, SeriesId};

/// What is particular to an activity, as stored.
#[derive(Debug, Clone)]
pub(crate) struct ActivityFields<'a> {
    pub kind: &'a str,
    pub place: &'a str,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub host_org_id: OrgId,
    pub credit_minutes: i32,
    pub requires_check_out: bool,
    pub requires_enrolment: bool,
}

/// An activity with its series and occurrence.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ActivityRow {
    pub id: OccurrenceId,
    pub title: String,
    pub description: String,
    pub kind: String,
    pub place: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub capacity: i32,
    pub scope_org_id: Option<OrgId>,
    pub host_org_id: OrgId,
    /// The host staff member in charge (the series' expert column).
    pub host_user_id: UserId,
    pub credit_minutes: i32,
    pub requires_check_out: bool,
    pub requires_enrolment: bool,
}

/// One check-in or check-out, with the member's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct CheckInRow {
    pub user_id: UserId,
    pub display_name: String,
    #[sqlx(try_from = "String")]
    pub purpose: Purpose,
    pub at: Timestamp,
    pub method: String,
    pub by_user: Option<UserId>,
}

/// Inserts the series (format `offline`), its occurrence `id` and the activity's details.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert(
    db: &Db,
    id: OccurrenceId,
    host_user: UserId,
    created_by: UserId,
    f: &SeriesFields<'_>,
    ends_at: Timestamp,
    scope_org_id: Option<OrgId>,
    a: &ActivityFields<'_>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let series = SeriesId::new();
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        insert_series!(tx, series, host_user, created_by, f, scope_org_id, now, "offline")?;
        sqlx::query(INSERT_OCCURRENCE)
            .bind(id)
            .bind(series)
            .bind(f.first_start)
            .bind(ends_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO activities (occurrence_id, kind, place, latitude, longitude, host_org_id, credit_minutes,
               requires_check_out, requires_enrolment, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id)
        .bind(a.kind)
        .bind(a.place)
        .bind(a.latitude)
        .bind(a.longitude)
        .bind(a.host_org_id)
        .bind(a.credit_minutes)
        .bind(a.requires_check_out)
        .bind(a.requires_enrolment)
        .bind(created_by)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    })
}

pub(crate) async fn activity(db: &Db, id: OccurrenceId) -> Result<Option<ActivityRow>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, ActivityRow>(
        "SELECT o.id, s.title, s.description, a.kind, a.place, a.latitude, a.longitude, o.starts_at,
                o.ends_at, s.capacity, s.scope_org_id, a.host_org_id, s.expert_id AS host_user_id,
                a.credit_minutes, a.requires_check_out, a.requires_enrolment
           FROM activities a JOIN live_occurrences o ON o.id = a.occurrence_id JOIN live_series s ON s.id = o.series_id
          WHERE a.occurrence_id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await)
}

/// Whether `occ` is an offline activity's occurrence.
pub(crate) async fn is_activity(db: &Db, occ: OccurrenceId) -> Result<bool, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM activities WHERE occurrence_id = $1"
    )
    .bind(occ)
    .fetch_one(pool)
    .await)
    .map(|n| n > 0)
}

/// Records a check-in or check-out; `false` when the member has one for that purpose already.
pub(crate) async fn check_in(
    db: &Db,
    occ: OccurrenceId,
    user: UserId,
    purpose: Purpose,
    at: Timestamp,
    by: Option<UserId>,
) -> Result<bool, sqlx::Error> {
    let done = db_execute!(
        db,
        "INSERT INTO activity_check_ins (occurrence_id, user_id, purpose, at, method, by_user)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (occurrence_id, user_id, purpose) DO NOTHING",
        occ,
        user,
        purpose.as_str(),
        at,
        if by.is_some() { "manual" } else { "code" },
        by,
    )?;
    Ok(done > 0)
}

/// Every check-in and check-out of `occ`, in time order.
pub(crate) async fn check_ins(db: &Db, occ: OccurrenceId) -> Result<Vec<CheckInRow>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, CheckInRow>(
        "SELECT c.user_id, u.display_name, c.purpose, c.at, c.method, c.by_user
           FROM activity_check_ins c JOIN users u ON u.id = c.user_id
          WHERE c.occurrence_id = $1 ORDER BY c.at, c.user_id",
    )
    .bind(occ)
    .fetch_all(pool)
    .await)
}

/// "`c` (a check-in row) earned its activity's credit": checked in, and out where asked.
const CREDITED: &str = "c.purpose = 'in' AND (NOT a.requires_check_out OR EXISTS (SELECT 1 FROM activity_check_ins x
     WHERE x.occurrence_id = c.occurrence_id AND x.user_id = c.user_id AND x.purpose = 'out'))";

/// One credited activity of a member: id, title, kind, place, start, check-in time, minutes.
pub(crate) type CreditRow = (OccurrenceId, String, String, String, Timestamp, Timestamp, i32);

/// The activities `user` earned credit in, by start.
pub(crate) async fn credits_of(db: &Db, user: UserId) -> Result<Vec<CreditRow>, sqlx::Error> {
    let sql = format!(
        "SELECT o.id, s.title, a.kind, a.place, o.starts_at, c.at, a.credit_minutes
           FROM activity_check_ins c JOIN activities a ON a.occurrence_id = c.occurrence_id
           JOIN live_occurrences o ON o.id = c.occurrence_id JOIN live_series s ON s.id = o.series_id
          WHERE c.user_id = $1 AND {CREDITED} ORDER BY o.starts_at"
    );
    with_db!(db, |pool| sqlx::query_as::<_, CreditRow>(&sql)
        .bind(user)
        .fetch_all(pool)
        .await)
}

/// Minutes credited per member of `users` for activities that started in `[from, to)`.
pub(crate) async fn minutes_for(
    db: &Db,
    users: &[UserId],
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<(UserId, i64)>, sqlx::Error> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new(
            "SELECT c.user_id, CAST(SUM(a.credit_minutes) AS BIGINT) FROM activity_check_ins c
               JOIN activities a ON a.occurrence_id = c.occurrence_id
               JOIN live_occurrences o ON o.id = c.occurrence_id WHERE ",
        );
        qb.push(CREDITED);
        qb.push(" AND o.starts_at >= ");
        qb.push_bind(from);
        qb.push(" AND o.starts_at < ");
        qb.push_bind(to);
        qb.push(" AND c.user_id IN (");
        let mut sep = qb.separated(", ");
        for u in users {
            sep.push_bind(*u);
        }
        qb.push(") GROUP BY c.user_id");
        qb.build_query_as::<(UserId, i64)>().fetch_all(pool).await
    })
}

/// Those holding or waiting for a seat of `occ`, in line order: id, name, state.
pub(crate) async fn enrolled_names(db: &Db, occ: OccurrenceId) -> Result<Vec<(UserId, String, String)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, (UserId, String, String)>(
        "SELECT e.user_id, u.display_name, e.state FROM live_enrolments e JOIN users u ON u.id = e.user_id
          WHERE e.occurrence_id = $1 AND e.state <> 'cancelled' ORDER BY e.seq",
    )
    .bind(occ)
    .fetch_all(pool)
    .await)
}

/// Offline minutes per user and period (by the activity's start; the index into `periods`).
pub(crate) async fn minutes_in_periods(
    db: &Db,
    periods: &[(Timestamp, Timestamp)],
    under: Option<&str>,
) -> Result<Vec<(UserId, Option<i32>, i64)>, sqlx::Error> {
    with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new("SELECT c.user_id, ");
        platform::terms::push_period_index(&mut qb, "o.starts_at", periods);
        qb.push(
            " AS period, CAST(SUM(a.credit_minutes) AS BIGINT) FROM activity_check_ins c \
             JOIN activities a ON a.occurrence_id = c.occurrence_id \
             JOIN live_occurrences o ON o.id = c.occurrence_id WHERE ",
        );
        qb.push(CREDITED);
        qb.push(" AND ");
        platform::terms::push_period_group(&mut qb, "o.starts_at", "c.user_id", periods, under);
        qb.build_query_as::<(UserId, Option<i32>, i64)>().fetch_all(pool).await
    })
}
