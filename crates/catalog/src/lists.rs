//! Curated lists ("2025 年度家庭教育优秀课程"): ordered courses with a scope and a publish window.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use platform::auth::{AuthUser, MaybeAuth};
use platform::error::{ApiResult, FieldError, msg};
use platform::http::{ApiRouter, Json, Page, PageQuery, Path, Query, cached_json};
use platform::ids::{OrgId, UserId};
use platform::scope::Scope;
use platform::validate::{self, Role};
use platform::{Timestamp, db_execute, orgs, with_db};
use sqlx::{Database, QueryBuilder};
use utoipa_axum::routes;

use crate::Catalog;
use crate::courses::{CourseRow, SUMMARY_COLUMNS, check_list_items, push_visible, push_visible_row};
use crate::model::*;
use crate::{CatalogError, CatalogResult};

/// Courses shown per list on the index (the home page).
const PREVIEW: usize = 6;
/// Most courses one list may hold.
const MAX_ITEMS: usize = 500;

#[derive(Debug, Clone, sqlx::FromRow)]
struct ListRow {
    id: ListId,
    title: String,
    year: i32,
    theme: String,
    description: String,
    owner_org_id: OrgId,
    visibility: String,
    scope_org_id: OrgId,
    scope_path: String,
    owner_path: String,
    published_from: Option<Timestamp>,
    published_until: Option<Timestamp>,
    version: i32,
    created_at: Timestamp,
    updated_at: Timestamp,
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

impl Catalog {
    async fn list_rows(
        &self,
        viewer: Option<&AuthUser>,
        only: Option<ListId>,
        after: Option<(i32, ListId)>,
        limit: i64,
    ) -> CatalogResult<Vec<ListRow>> {
        let now = self.clock.now();
        let scope = Scope::load(&self.db, viewer).await?;
        Ok(with_db!(&self.db, |pool| {
            let mut qb = sqlx::QueryBuilder::new("SELECT ");
            qb.push(LIST_COLUMNS);
            qb.push(" FROM course_lists l WHERE (");
            push_list_visible(&mut qb, &scope, now);
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
        })?)
    }

    /// The visible courses of each list, in list order.
    /// The visible courses of each list in list order (at most `limit` per list), with the
    /// number of visible courses in each. Only the kept rows leave the database: the window
    /// functions number and count them there.
    async fn list_courses(
        &self,
        viewer: Option<&AuthUser>,
        lists: &[ListId],
        limit: usize,
    ) -> CatalogResult<HashMap<ListId, (Vec<CourseSummary>, usize)>> {
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
        let scope = Scope::load(&self.db, viewer).await?;
        let items: Vec<Item> = with_db!(&self.db, |pool| {
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
            push_visible(&mut qb, &scope);
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

    /// The list, when `user` may edit it and `version` (if given) is current.
    async fn editable_list(&self, user: &AuthUser, id: ListId, version: Option<i32>) -> CatalogResult<ListRow> {
        let row = self.visible_list(Some(user), id).await?;
        if !self.may_edit_list(user, &row).await? {
            return Err(CatalogError::ListNotEditable);
        }
        if version.is_some_and(|v| v != row.version) {
            return Err(CatalogError::ListVersionConflict);
        }
        Ok(row)
    }

    async fn may_edit_list(&self, user: &AuthUser, row: &ListRow) -> CatalogResult<bool> {
        self.manages_path(user, &row.owner_path).await
    }

    async fn list_view(
        &self,
        viewer: Option<&AuthUser>,
        row: ListRow,
        (courses, course_count): (Vec<CourseSummary>, usize),
    ) -> CatalogResult<ListView> {
        let editable = match viewer {
            Some(u) => self.may_edit_list(u, &row).await?,
            None => false,
        };
        Ok(ListView {
            id: row.id,
            title: row.title,
            year: row.year,
            theme: row.theme,
            description: row.description,
            owner_org_id: row.owner_org_id,
            visibility: if row.visibility == "public" {
                Visibility::Public
            } else {
                Visibility::Scoped
            },
            scope_org_id: row.scope_org_id,
            published_from: row.published_from,
            published_until: row.published_until,
            version: row.version,
            courses,
            course_count,
            editable,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    /// The lists `viewer` may see, newest year first, each with its first courses.
    pub async fn find_lists(&self, viewer: Option<&AuthUser>, page: &PageQuery) -> CatalogResult<Page<ListView>> {
        let limit = page.limit()?;
        let after = match page.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(
                parse_list_cursor(c)
                    .ok_or_else(|| CatalogError::field("cursor", msg("分页游标无效。", "Invalid cursor.")))?,
            ),
        };
        let mut rows = self.list_rows(viewer, None, after, i64::from(limit) + 1).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last()
                .map(|r| URL_SAFE_NO_PAD.encode(format!("{}:{}", r.year, r.id)))
        } else {
            None
        };
        let ids: Vec<ListId> = rows.iter().map(|r| r.id).collect();
        let mut courses = self.list_courses(viewer, &ids, PREVIEW).await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let c = courses.remove(&row.id).unwrap_or_default();
            items.push(self.list_view(viewer, row, c).await?);
        }
        Ok(Page { items, next_cursor })
    }

    async fn visible_list(&self, viewer: Option<&AuthUser>, id: ListId) -> CatalogResult<ListRow> {
        self.list_rows(viewer, Some(id), None, 1)
            .await?
            .into_iter()
            .next()
            .ok_or(CatalogError::ListNotFound)
    }

    /// Who sees list `id` (404 unless `viewer` does): whether it is public, and its scope path.
    pub(crate) async fn list_audience(&self, viewer: Option<&AuthUser>, id: ListId) -> CatalogResult<(bool, String)> {
        let row = self.visible_list(viewer, id).await?;
        Ok((row.visibility == "public", row.scope_path))
    }

    async fn full_list(&self, viewer: Option<&AuthUser>, id: ListId) -> CatalogResult<ListView> {
        let row = self.visible_list(viewer, id).await?;
        let courses = self
            .list_courses(viewer, &[id], MAX_ITEMS)
            .await?
            .remove(&id)
            .unwrap_or_default();
        self.list_view(viewer, row, courses).await
    }

    async fn prepare_list(
        &self,
        user: &AuthUser,
        input: ListInput,
        existing: Option<&ListRow>,
    ) -> CatalogResult<PreparedList> {
        let mut errors = Vec::new();
        let mut field = |name: &str, m: platform::error::Msg| {
            errors.push(FieldError {
                field: name.to_owned(),
                message: m,
            })
        };
        let title = match (input.title, existing) {
            (Some(t), _) => validate::name(&t, 100).map_err(|m| field("title", m)).ok(),
            (None, Some(e)) => Some(e.title.clone()),
            (None, None) => {
                field("title", msg("请填写清单标题。", "A title is required."));
                None
            }
        };
        let theme = input
            .theme
            .or_else(|| existing.map(|e| e.theme.clone()))
            .unwrap_or_default()
            .trim()
            .to_owned();
        if theme.chars().count() > 50 {
            field(
                "theme",
                msg("主题不能超过 50 个字符。", "The theme must have at most 50 characters."),
            );
        }
        let description = input
            .description
            .or_else(|| existing.map(|e| e.description.clone()))
            .unwrap_or_default()
            .trim()
            .to_owned();
        if description.chars().count() > 2000 {
            field(
                "description",
                msg(
                    "说明不能超过 2000 个字符。",
                    "The description must have at most 2000 characters.",
                ),
            );
        }
        let this_year = self.clock.now().to_offset_date_time().year();
        let year = input.year.or(existing.map(|e| e.year)).unwrap_or(this_year);
        if !(2000..=this_year + 1).contains(&year) {
            field(
                "year",
                msg(
                    format!("年份需在 2000 到 {} 之间。", this_year + 1),
                    format!("The year must be between 2000 and {}.", this_year + 1),
                ),
            );
        }
        let published_from = input.published_from.or(existing.and_then(|e| e.published_from));
        let published_until = input.published_until.or(existing.and_then(|e| e.published_until));
        if let (Some(f), Some(u)) = (published_from, published_until) {
            if u <= f {
                field(
                    "published_until",
                    msg(
                        "结束时间必须晚于开始时间。",
                        "published_until must be after published_from.",
                    ),
                );
            }
        }
        let owner_org_id = match (input.owner_org_id, existing) {
            (Some(o), _) => Some(o),
            (None, Some(e)) => Some(e.owner_org_id),
            (None, None) => orgs::memberships(&self.db, user.id).await?.first().map(|o| o.id),
        };
        let Some(owner_org_id) = owner_org_id else {
            field(
                "owner_org_id",
                msg("请选择清单所属的组织。", "Choose the owning organization."),
            );
            return Err(CatalogError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(CatalogError::Invalid(errors));
        }
        let visibility = input
            .visibility
            .or(existing.map(|e| {
                if e.visibility == "public" {
                    Visibility::Public
                } else {
                    Visibility::Scoped
                }
            }))
            .unwrap_or(Visibility::Scoped);
        let scope_org_id = input
            .scope_org_id
            .or(existing.map(|e| e.scope_org_id))
            .unwrap_or(owner_org_id);
        let (owner_path, scope_path) = self.owner_and_scope_paths(owner_org_id, scope_org_id).await?;
        if !self.manages_path(user, &owner_path).await? || !self.manages_path(user, &scope_path).await? {
            return Err(CatalogError::ListOrgsOutOfScope);
        }
        self.check_public(user, existing.is_some_and(|e| e.visibility == "public"), visibility)
            .await?;
        let Some(title) = title else {
            return Err(CatalogError::Invalid(Vec::new()));
        };
        Ok(PreparedList {
            title,
            year,
            theme,
            description,
            owner_org_id,
            owner_path,
            visibility,
            scope_org_id,
            scope_path,
            published_from,
            published_until,
        })
    }
}

struct PreparedList {
    title: String,
    year: i32,
    theme: String,
    description: String,
    owner_org_id: OrgId,
    owner_path: String,
    visibility: Visibility,
    scope_org_id: OrgId,
    scope_path: String,
    published_from: Option<Timestamp>,
    published_until: Option<Timestamp>,
}

fn parse_list_cursor(s: &str) -> Option<(i32, ListId)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
    let (year, id) = raw.split_once(':')?;
    Some((year.parse().ok()?, id.parse().ok()?))
}

pub(crate) fn router() -> ApiRouter<Catalog> {
    ApiRouter::new()
        .routes(routes!(index, create))
        .routes(routes!(get_list, update))
        .routes(routes!(put_items))
}

/// The curated lists the caller may see, newest first, each with its first courses (the home page).
#[utoipa::path(get, path = "/api/v1/lists", tag = "catalog", params(PageQuery),
    responses((status = 200, body = Page<ListView>), (status = 304)))]
async fn index(
    State(cat): State<Catalog>,
    MaybeAuth(viewer): MaybeAuth,
    headers: HeaderMap,
    Query(page): Query<PageQuery>,
) -> ApiResult<Response> {
    let lists = cat.find_lists(viewer.as_ref(), &page).await?;
    Ok(cached_json(&headers, &lists, viewer.is_some()))
}

/// Create a curated list (curators and admins).
#[utoipa::path(post, path = "/api/v1/lists", tag = "catalog", request_body = ListInput,
    responses((status = 201, body = ListView), (status = 403), (status = 422)), security(("bearer" = [])))]
async fn create(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Json(input): Json<ListInput>,
) -> ApiResult<(StatusCode, Json<ListView>)> {
    auth.require_role(&[Role::Curator, Role::Admin])?;
    let p = cat.prepare_list(&auth, input, None).await?;
    let id = ListId::new();
    let now = cat.clock.now();
    db_execute!(
        &cat.db,
        "INSERT INTO course_lists (id, title, year, theme, description, owner_org_id, visibility, scope_org_id, \
         scope_path,
            owner_path, published_from, published_until, created_by, version, created_at, updated_at)
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
        auth.id,
        now,
    )?;
    Ok((StatusCode::CREATED, Json(cat.full_list(Some(&auth), id).await?)))
}

/// One curated list with every course the caller may see, in order.
#[utoipa::path(get, path = "/api/v1/lists/{id}", tag = "catalog", params(("id" = ListId, Path)),
    responses((status = 200, body = ListView), (status = 304), (status = 404)))]
async fn get_list(
    State(cat): State<Catalog>,
    MaybeAuth(viewer): MaybeAuth,
    headers: HeaderMap,
    Path(id): Path<ListId>,
) -> ApiResult<Response> {
    let view = cat.full_list(viewer.as_ref(), id).await?;
    Ok(cached_json(&headers, &view, viewer.is_some()))
}

/// Edit a list's fields (send `version` to guard against concurrent edits).
#[utoipa::path(patch, path = "/api/v1/lists/{id}", tag = "catalog", params(("id" = ListId, Path)), request_body = ListInput,
    responses((status = 200, body = ListView), (status = 403), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn update(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<ListId>,
    Json(input): Json<ListInput>,
) -> ApiResult<Json<ListView>> {
    let row = cat.editable_list(&auth, id, input.version).await?;
    let p = cat.prepare_list(&auth, input, Some(&row)).await?;
    let n = db_execute!(
        &cat.db,
        "UPDATE course_lists SET title = $2, year = $3, theme = $4, description = $5, \
         owner_org_id = $6, visibility = $7,
            scope_org_id = $8, scope_path = $9, owner_path = $10, published_from = $11, published_until = $12,
            version = version + 1, updated_at = $13
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
        cat.clock.now(),
        row.version,
    )?;
    if n == 0 {
        return Err(CatalogError::ListVersionConflict.into());
    }
    Ok(Json(cat.full_list(Some(&auth), id).await?))
}

/// Replace the list's courses with this ordered list (409 `version_conflict` when `version` is stale).
#[utoipa::path(put, path = "/api/v1/lists/{id}/items", tag = "catalog", params(("id" = ListId, Path)), request_body = ListItemsRequest,
    responses((status = 200, body = ListView), (status = 403), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn put_items(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<ListId>,
    Json(req): Json<ListItemsRequest>,
) -> ApiResult<Json<ListView>> {
    let row = cat.editable_list(&auth, id, Some(req.version)).await?;
    if req.course_ids.len() > MAX_ITEMS {
        return Err(CatalogError::field(
            "course_ids",
            msg("一个清单最多 500 门课程。", "At most 500 courses per list."),
        )
        .into());
    }
    check_list_items(&cat, &req.course_ids, &row.scope_path, row.visibility == "public").await?;
    let now = cat.clock.now();
    with_db!(&cat.db, |pool| {
        let mut tx = pool.begin().await?;
        let n = sqlx::query(
            "UPDATE course_lists SET version = version + 1, updated_at = $2 WHERE id = $1 AND version = $3",
        )
        .bind(id)
        .bind(now)
        .bind(req.version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(CatalogError::ListVersionConflict.into());
        }
        sqlx::query("DELETE FROM course_list_items WHERE list_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for (pos, course) in req.course_ids.iter().enumerate() {
            sqlx::query("INSERT INTO course_list_items (list_id, course_id, position) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(*course)
                .bind(pos as i32 + 1)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    });
    Ok(Json(cat.full_list(Some(&auth), id).await?))
}
