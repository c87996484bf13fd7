//! The children's queries: a parent's children, one of them, a count, an insert and a delete,
//! each limited to the parent's own rows.

use crate::clock::Timestamp;
use crate::db::Db;
use crate::ids::{ChildId, UserId};
use crate::{db_execute, with_db};

#[derive(Debug, sqlx::FromRow)]
pub(super) struct ChildRow {
    pub(super) id: ChildId,
    pub(super) user_id: UserId,
    pub(super) nickname: String,
    pub(super) birth_year: Option<i32>,
    pub(super) birth_month: Option<i32>,
    pub(super) grade: Option<i32>,
    pub(super) grade_school_year: Option<i32>,
    pub(super) created_at: Timestamp,
}

const COLUMNS: &str = "id, user_id, nickname, birth_year, birth_month, grade, grade_school_year, created_at";

pub(super) async fn children(db: &Db, user: UserId) -> Result<Vec<ChildRow>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, ChildRow>(&format!(
        "SELECT {COLUMNS} FROM children WHERE user_id = $1 ORDER BY created_at, id"
    ))
    .bind(user)
    .fetch_all(pool)
    .await)
}

pub(super) async fn child(db: &Db, user: UserId, id: ChildId) -> Result<Option<ChildRow>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, ChildRow>(&format!(
        "SELECT {COLUMNS} FROM children WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(pool)
    .await)
}

pub(super) async fn count(db: &Db, user: UserId) -> Result<i64, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM children WHERE user_id = $1"
    )
    .bind(user)
    .fetch_one(pool)
    .await)
}

pub(super) async fn insert(db: &Db, c: &ChildRow) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO children (id, user_id, nickname, birth_year, birth_month, grade, grade_school_year, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        c.id,
        c.user_id,
        c.nickname.as_str(),
        c.birth_year,
        c.birth_month,
        c.grade,
        c.grade_school_year,
        c.created_at,
    )?;
    Ok(())
}

/// Whether a row went.
pub(super) async fn delete(db: &Db, user: UserId, id: ChildId) -> Result<bool, sqlx::Error> {
    let done = db_execute!(db, "DELETE FROM children WHERE id = $1 AND user_id = $2", id, user)?;
    Ok(done > 0)
}
