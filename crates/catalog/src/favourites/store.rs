//! The queries of favourites: named functions over a pool; which courses a user may still see
//! comes in as a [`Scope`].

use platform::ids::UserId;
use platform::scope::Scope;
use platform::{Db, Timestamp, db_execute, with_db};

use crate::CourseId;
use crate::courses::{CourseRow, SUMMARY_COLUMNS, push_visible};

pub(super) async fn is_kept(db: &Db, user: UserId, course: CourseId) -> Result<bool, sqlx::Error> {
    let n: i64 = with_db!(db, |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM course_favourites WHERE user_id = $1 AND course_id = $2",
    )
    .bind(user)
    .bind(course)
    .fetch_one(pool)
    .await)?;
    Ok(n > 0)
}

/// Keeps `course` for `user` (again is the same).
pub(super) async fn keep(db: &Db, user: UserId, course: CourseId, now: Timestamp) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO course_favourites (user_id, course_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, course_id) DO NOTHING",
        user,
        course,
        now
    )?;
    Ok(())
}

pub(super) async fn unkeep(db: &Db, user: UserId, course: CourseId) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "DELETE FROM course_favourites WHERE user_id = $1 AND course_id = $2",
        user,
        course
    )?;
    Ok(())
}

/// Up to `limit` kept courses `scope` still sees, the latest kept first, after the cursor
/// `(kept at, course)`; each with the time it was kept.
pub(super) async fn page(
    db: &Db,
    user: UserId,
    scope: &Scope,
    after: Option<(i64, CourseId)>,
    limit: i64,
) -> Result<Vec<(CourseRow, Timestamp)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Kept {
        #[sqlx(flatten)]
        row: CourseRow,
        kept_at: Timestamp,
    }
    let rows: Vec<Kept> = with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new(format!(
            "SELECT {SUMMARY_COLUMNS}, f.created_at AS kept_at FROM course_favourites f \
             JOIN courses c ON c.id = f.course_id WHERE f.user_id = "
        ));
        qb.push_bind(user);
        qb.push(" AND ");
        push_visible(&mut qb, scope);
        if let Some((at, id)) = after {
            qb.push(" AND (f.created_at < ");
            qb.push_bind(Timestamp(at));
            qb.push(" OR (f.created_at = ");
            qb.push_bind(Timestamp(at));
            qb.push(" AND f.course_id < ");
            qb.push_bind(id);
            qb.push("))");
        }
        qb.push(" ORDER BY f.created_at DESC, f.course_id DESC LIMIT ");
        qb.push_bind(limit);
        qb.build_query_as::<Kept>().fetch_all(pool).await
    })?;
    Ok(rows.into_iter().map(|k| (k.row, k.kept_at)).collect())
}

/// Every favourite of `user` (their account is deleted).
pub(super) async fn erase(db: &Db, user: UserId) -> Result<(), sqlx::Error> {
    db_execute!(db, "DELETE FROM course_favourites WHERE user_id = $1", user)?;
    Ok(())
}
