//! 收藏 (favourites): courses a user keeps to come back to. Only courses the user may still see
//! are listed (a course archived or moved out of their scope drops out of the list but is kept,
//! so it comes back if it returns); adding one they may not see is the same 404 as a missing
//! course. Erased with the account. `store` holds the queries, `routes` the handlers.

mod routes;
mod store;

use platform::auth::AuthUser;
use platform::error::{ApiResult, msg};
use platform::http::{Page, PageQuery};
use platform::ids::UserId;
use platform::scope::Scope;
use serde::Serialize;
use utoipa::ToSchema;

pub(crate) use routes::router;

use crate::{Catalog, CatalogError, CatalogResult, CourseId, CourseSummary};

#[derive(Debug, Serialize, ToSchema)]
pub struct FavouriteState {
    pub course_id: CourseId,
    pub favourite: bool,
}

impl Catalog {
    /// Whether `user` keeps course `id` (not found when they may not see it).
    pub async fn favourite(&self, user: &AuthUser, id: CourseId) -> CatalogResult<FavouriteState> {
        if !self.visible(Some(user), id).await? {
            return Err(CatalogError::CourseNotFound);
        }
        Ok(FavouriteState {
            course_id: id,
            favourite: store::is_kept(&self.db, user.id, id).await?,
        })
    }

    /// Keeps course `id` for `user` (not found when they may not see it).
    pub async fn keep(&self, user: &AuthUser, id: CourseId) -> CatalogResult<FavouriteState> {
        if !self.visible(Some(user), id).await? {
            return Err(CatalogError::CourseNotFound);
        }
        store::keep(&self.db, user.id, id, self.clock.now()).await?;
        Ok(FavouriteState {
            course_id: id,
            favourite: true,
        })
    }

    /// No longer keeps course `id` (a course not kept is no error).
    pub async fn unkeep(&self, user: &AuthUser, id: CourseId) -> CatalogResult<()> {
        Ok(store::unkeep(&self.db, user.id, id).await?)
    }

    /// A page of the courses `user` keeps and may still see, the latest kept first.
    pub async fn kept(&self, user: &AuthUser, page: &PageQuery) -> CatalogResult<Page<CourseSummary>> {
        let limit = page.limit()?;
        let bad_cursor = || CatalogError::field("cursor", msg("分页游标无效。", "Invalid cursor."));
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
        let scope = Scope::load(&self.db, Some(user)).await?;
        let mut rows = store::page(&self.db, user.id, &scope, after, i64::from(limit) + 1).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|(row, at)| format!("{}.{}", at.0, row.id))
        } else {
            None
        };
        Ok(Page {
            items: rows.iter().map(|(row, _)| row.summary()).collect(),
            next_cursor,
        })
    }
}

/// A deleted account's favourites and quiz attempts go with it.
#[async_trait::async_trait]
impl platform::accounts::AccountEraser for Catalog {
    async fn erase(&self, user: UserId) -> ApiResult<()> {
        store::erase(&self.db, user).await?;
        Ok(crate::quizzes::erase(&self.db, user).await?)
    }
}
