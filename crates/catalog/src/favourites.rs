//! 收藏 (favourites): courses a user keeps to come back to. Only courses the user may still see
//! are listed (a course archived or moved out of their scope drops out of the list but is kept,
//! so it comes back if it returns); adding one they may not see is the same 404 as a missing
//! course. Erased with the account.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::AuthUser;
use platform::error::{ApiError, ApiResult, msg};
use platform::http::{ApiRouter, Json, Page, PageQuery, Path, Query};
use platform::ids::UserId;
use platform::scope::Scope;
use platform::{Timestamp, db_execute, with_db};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::courses::{CourseRow, SUMMARY_COLUMNS, push_visible};
use crate::{Catalog, CourseId, CourseSummary};
use crate::{CatalogError, CatalogResult};

#[derive(Debug, Serialize, ToSchema)]
pub struct FavouriteState {
    pub course_id: CourseId,
    pub favourite: bool,
}

pub(crate) fn router() -> ApiRouter<Catalog> {
    ApiRouter::new()
        .routes(routes!(list_favourites))
        .routes(routes!(get_favourite, put_favourite, delete_favourite))
}

impl Catalog {
    async fn is_favourite(&self, user: UserId, course: CourseId) -> CatalogResult<bool> {
        let n: i64 = with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM course_favourites WHERE user_id = $1 AND course_id = $2",
        )
        .bind(user)
        .bind(course)
        .fetch_one(pool)
        .await)?;
        Ok(n > 0)
    }
}

/// Whether the caller keeps the course (404 when they may not see it).
#[utoipa::path(get, path = "/api/v1/me/favourites/{id}", tag = "me", params(("id" = CourseId, Path)),
    responses((status = 200, body = FavouriteState), (status = 404)), security(("bearer" = [])))]
async fn get_favourite(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
) -> ApiResult<Json<FavouriteState>> {
    if !cat.visible(Some(&auth), id).await? {
        return Err(CatalogError::CourseNotFound.into());
    }
    Ok(Json(FavouriteState {
        course_id: id,
        favourite: cat.is_favourite(auth.id, id).await?,
    }))
}

/// Keeps a course (收藏); again is the same.
#[utoipa::path(put, path = "/api/v1/me/favourites/{id}", tag = "me", params(("id" = CourseId, Path)),
    responses((status = 200, body = FavouriteState), (status = 404)), security(("bearer" = [])))]
async fn put_favourite(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
) -> ApiResult<Json<FavouriteState>> {
    if !cat.visible(Some(&auth), id).await? {
        return Err(CatalogError::CourseNotFound.into());
    }
    db_execute!(
        &cat.db,
        "INSERT INTO course_favourites (user_id, course_id, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, course_id) DO NOTHING",
        auth.id,
        id,
        cat.clock.now()
    )?;
    Ok(Json(FavouriteState {
        course_id: id,
        favourite: true,
    }))
}

/// No longer keeps a course (取消收藏); a course not kept is no error.
#[utoipa::path(delete, path = "/api/v1/me/favourites/{id}", tag = "me", params(("id" = CourseId, Path)),
    responses((status = 204)), security(("bearer" = [])))]
async fn delete_favourite(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
) -> ApiResult<StatusCode> {
    db_execute!(
        &cat.db,
        "DELETE FROM course_favourites WHERE user_id = $1 AND course_id = $2",
        auth.id,
        id
    )?;
    Ok(StatusCode::NO_CONTENT)
}

/// The courses the caller keeps and may still see, the latest kept first.
#[utoipa::path(get, path = "/api/v1/me/favourites", tag = "me", params(PageQuery),
    responses((status = 200, body = Page<CourseSummary>), (status = 422)), security(("bearer" = [])))]
async fn list_favourites(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<CourseSummary>>> {
    let limit = page.limit()?;
    let bad_cursor = || ApiError::invalid_field("cursor", msg("分页游标无效。", "Invalid cursor."));
    let after: Option<(i64, CourseId)> = match page.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => {
            let (at, id) = c.split_once('.').ok_or_else(bad_cursor)?;
            Some((
                at.parse().map_err(|_| bad_cursor())?,
                id.parse().map_err(|_| bad_cursor())?,
            ))
        }
    };
    let scope = Scope::load(&cat.db, Some(&auth)).await?;
    #[derive(sqlx::FromRow)]
    struct Kept {
        #[sqlx(flatten)]
        row: CourseRow,
        kept_at: Timestamp,
    }
    let mut rows: Vec<Kept> = with_db!(&cat.db, |pool| {
        let mut qb = sqlx::QueryBuilder::new(format!(
            "SELECT {SUMMARY_COLUMNS}, f.created_at AS kept_at FROM course_favourites f JOIN courses c ON c.id = \
             f.course_id
              WHERE f.user_id = "
        ));
        qb.push_bind(auth.id);
        qb.push(" AND ");
        push_visible(&mut qb, &scope);
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
        qb.push_bind(i64::from(limit) + 1);
        qb.build_query_as::<Kept>().fetch_all(pool).await
    })?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|k| format!("{}.{}", k.kept_at.0, k.row.id))
    } else {
        None
    };
    Ok(Json(Page {
        items: rows.iter().map(|k| k.row.summary()).collect(),
        next_cursor,
    }))
}

/// A deleted account's favourites go with it.
#[async_trait::async_trait]
impl platform::accounts::AccountEraser for Catalog {
    async fn erase(&self, user: UserId) -> ApiResult<()> {
        db_execute!(&self.db, "DELETE FROM course_favourites WHERE user_id = $1", user)?;
        Ok(())
    }
}
