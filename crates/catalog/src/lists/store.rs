//! The queries of curated lists: named functions over a pool that return rows; the rules (who
//! sees a list, in which window) come in as a [`Scope`] and the time.

use std::collections::HashMap;

use platform::ids::{OrgId, UserId};
use platform::scope::Scope;
use platform::{Db, Timestamp, db_execute, with_db};
use sqlx::{Database, QueryBuilder};

use super::PreparedList;
use crate::courses::{CourseRow, SUMMARY_COLUMNS, push_visible, push_visible_row};
use crate::model::*;

#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct ListRow {
    pub(super) id: ListId,
    pub(super) title: String,
    pub(super) year: i32,
    pub(super) theme: String,
    pub(super) description: String,
    pub(super) owner_org_id: OrgId,
    #[sqlx(try_from = "String")]
    pub(super) visibility: Visibility,
    pub(super) scope_org_id: OrgId,
    pub(super) scope_path: String,
    pub(super) owner_path: String,
    pub(super) published_from: Option<Timestamp>,
    pub(super) published_until: Option<Timestamp>,
    pub(super) version: i32,
    pub(super) created_at: Timestamp,
    pub(super) updated_at: Timestamp,
}

const LIST_COLUMNS: &str = "l.id, l.title, l.year, l.theme, l.description, l.owner_org_id, l.visibility, \
                            l.scope_org_id, \
                            l.scope_path, l.owner_path, l.published_from, l.published_until, l.version, \
                            l.created_at, l.updated_at";

/// Pushes "the viewer may see list `l`": in its publish window and public or in scope; curators
/// also see the lists their subtrees own, admins all.
fn push_list_visible<'a, DB>(qb: &mut QueryBuilder<'a, DB>, scope: &Scope, now: Timestamp)
where
    DB: Database,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
    UserId: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
    Timestamp: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
{
    qb.push("(((l.published_from IS NULL OR l.published_from <= ");
    qb.push_bind(now);
    qb.push(") AND (l.published_until IS NULL OR l.published_until > ");
    qb.push_bind(now);
    qb.push(")) AND ");
    push_visible_row(qb, scope, "l", "");
    qb.push(")");
    // Editors see their lists outside the publish window too.
    qb.push(" OR ");
    scope.push_manages(qb, "l.owner_path");
}

/// The lists `scope` sees at `now`, newest year first: one (`only`), or a page after `after`.
pub(super) async fn rows(
    db: &Db,
    scope: &Scope,
    now: Timestamp,
    only: Option<ListId>,
    after: Option<(i32, ListId)>,
    limit: i64,
) -> Result<Vec<ListRow>, sqlx::Error> {
    with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new("SELECT ");
        qb.push(LIST_COLUMNS);
        qb.push(" FROM course_lists l WHERE (");
        push_list_visible(&mut qb, scope, now);
        qb.push(")");
        if let Some(id) = only {
            qb.push(" AND l.id = ");
            qb.push_bind(id);
        }
        if let Some((year, id)) = after {
            qb.push(" AND (l.year < ");
            qb.push_bind(year);
            qb.push(" OR (l.year = ");
            qb.push_bind(year);
            qb.push(" AND l.id < ");
            qb.push_bind(id);
            qb.push("))");
        }
        qb.push(" ORDER BY l.year DESC, l.id DESC LIMIT ");
        qb.push_bind(limit);
        qb.build_query_as::<ListRow>().fetch_all(pool).await
    })
}

/// The published courses `scope` sees in each list, in list order (at most `limit` per list),
/// with the number of such courses in each. Only the kept rows leave the database: the window
/// functions number and count them there.
pub(super) async fn courses(
    db: &Db,
    scope: &Scope,
    lists: &[ListId],
    limit: usize,
) -> Result<HashMap<ListId, (Vec<CourseSummary>, usize)>, sqlx::Error> {
    let mut out: HashMap<ListId, (Vec<CourseSummary>, usize)> = HashMap::new();
    if lists.is_empty() {
        return Ok(out);
    }
    #[derive(sqlx::FromRow)]
    struct Item {
        list_id: ListId,
        visible_count: i64,
        #[sqlx(flatten)]
        course: CourseRow,
    }
    let items: Vec<Item> = with_db!(db, |pool| {
        let mut qb = sqlx::QueryBuilder::new("SELECT x.list_id, x.visible_count, ");
        qb.push(SUMMARY_COLUMNS);
        qb.push(
            " FROM (SELECT li.list_id, li.position, li.course_id, \
             ROW_NUMBER() OVER (PARTITION BY li.list_id ORDER BY li.position) AS rn, \
             COUNT(*) OVER (PARTITION BY li.list_id) AS visible_count \
             FROM course_list_items li CROSS JOIN courses c WHERE c.id = li.course_id AND li.list_id IN (",
        );
        // CROSS JOIN keeps SQLite from starting at `courses`: the lists' items are the few rows.
        let mut sep = qb.separated(", ");
        for id in lists {
            sep.push_bind(*id);
        }
        qb.push(") AND c.status = 'published' AND ");
        push_visible(&mut qb, scope);
        qb.push(") x JOIN courses c ON c.id = x.course_id WHERE x.rn <= ");
        qb.push_bind(limit as i64);
        qb.push(" ORDER BY x.list_id, x.position");
        qb.build_query_as::<Item>().fetch_all(pool).await
    })?;
    for item in items {
        let entry = out.entry(item.list_id).or_default();
        entry.1 = usize::try_from(item.visible_count).unwrap_or(0);
        entry.0.push(item.course.summary());
    }
    Ok(out)
}

/// A new list at version 1.
pub(super) async fn insert(
    db: &Db,
    id: ListId,
    p: &PreparedList,
    created_by: UserId,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO course_lists (id, title, year, theme, description, owner_org_id, visibility, scope_org_id, \
         scope_path, owner_path, published_from, published_until, created_by, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $14)",
        id,
        &p.title,
        p.year,
        &p.theme,
        &p.description,
        p.owner_org_id,
        p.visibility.as_str(),
        p.scope_org_id,
        &p.scope_path,
        &p.owner_path,
        p.published_from,
        p.published_until,
        created_by,
        now,
    )?;
    Ok(())
}

/// New fields for list `id` if it is still at `version`; false when someone changed it first.
pub(super) async fn update(
    db: &Db,
    id: ListId,
    p: &PreparedList,
    version: i32,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let n = db_execute!(
        db,
        "UPDATE course_lists SET title = $2, year = $3, theme = $4, description = $5, owner_org_id = $6, \
         visibility = $7, scope_org_id = $8, scope_path = $9, owner_path = $10, published_from = $11, \
         published_until = $12, version = version + 1, updated_at = $13 \
         WHERE id = $1 AND version = $14",
        id,
        &p.title,
        p.year,
        &p.theme,
        &p.description,
        p.owner_org_id,
        p.visibility.as_str(),
        p.scope_org_id,
        &p.scope_path,
        &p.owner_path,
        p.published_from,
        p.published_until,
        now,
        version,
    )?;
    Ok(n == 1)
}

/// Replaces the items of list `id` with `courses` in order, in one transaction, if the list is
/// still at `version`; false (and nothing changed) when someone changed it first.
pub(super) async fn replace_items(
    db: &Db,
    id: ListId,
    version: i32,
    courses: &[CourseId],
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    with_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let n = sqlx::query(
            "UPDATE course_lists SET version = version + 1, updated_at = $2 WHERE id = $1 AND version = $3",
        )
        .bind(id)
        .bind(now)
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM course_list_items WHERE list_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for (pos, course) in courses.iter().enumerate() {
            sqlx::query("INSERT INTO course_list_items (list_id, course_id, position) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(*course)
                .bind(pos as i32 + 1)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    })
}

/// The published courses of list `id`, in list order.
pub(super) async fn published_items(db: &Db, id: ListId) -> Result<Vec<CourseId>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, CourseId>(
        "SELECT li.course_id FROM course_list_items li JOIN courses c ON c.id = li.course_id \
         WHERE li.list_id = $1 AND c.status = 'published' ORDER BY li.position"
    )
    .bind(id)
    .fetch_all(pool)
    .await)
}
