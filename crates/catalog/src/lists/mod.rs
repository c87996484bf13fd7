//! Curated lists ("2025 年度家庭教育优秀课程"): ordered courses with a scope and a publish window.
//! This module holds the rules (who sees and edits a list, what a list may contain); `store`
//! the queries; `routes` the HTTP handlers, which run no SQL.

mod recommend;
mod routes;
mod store;

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use platform::auth::AuthUser;
use platform::error::{FieldError, msg};
use platform::http::{Page, PageQuery};
use platform::ids::OrgId;
use platform::scope::Scope;
use platform::validate::{self, Role};
use platform::{Timestamp, orgs};

use crate::Catalog;
use crate::courses::check_list_items;
use crate::model::*;
use crate::{CatalogError, CatalogResult};
pub use recommend::{RecommendationRow, Recommendations, RecommendedCourse};
pub(crate) use routes::router;
use store::ListRow;

/// Courses shown per list on the index (the home page).
const PREVIEW: usize = 6;
/// Most courses one list may hold.
const MAX_ITEMS: usize = 500;

impl Catalog {
    async fn list_rows(
        &self,
        viewer: Option<&AuthUser>,
        only: Option<ListId>,
        after: Option<(i32, ListId)>,
        limit: i64,
    ) -> CatalogResult<Vec<ListRow>> {
        let scope = Scope::load(&self.db, viewer).await?;
        Ok(store::rows(&self.db, &scope, self.clock.now(), only, after, limit).await?)
    }

    /// The visible courses of each list in list order (at most `limit` per list), with the
    /// number of visible courses in each.
    async fn list_courses(
        &self,
        viewer: Option<&AuthUser>,
        lists: &[ListId],
        limit: usize,
    ) -> CatalogResult<HashMap<ListId, (Vec<CourseSummary>, usize)>> {
        let scope = Scope::load(&self.db, viewer).await?;
        Ok(store::courses(&self.db, &scope, lists, limit).await?)
    }

    /// Creates a list (curators and admins) and returns it as its creator sees it.
    pub async fn create_list(&self, user: &AuthUser, input: ListInput) -> CatalogResult<ListView> {
        user.require_role(&[Role::Curator, Role::Admin])?;
        let p = self.prepare_list(user, input, None).await?;
        let id = ListId::new();
        store::insert(&self.db, id, &p, user.id, self.clock.now()).await?;
        self.full_list(Some(user), id).await
    }

    /// Edits a list's fields (`input.version`, when given, must be current).
    pub async fn update_list(&self, user: &AuthUser, id: ListId, input: ListInput) -> CatalogResult<ListView> {
        let row = self.editable_list(user, id, input.version).await?;
        let p = self.prepare_list(user, input, Some(&row)).await?;
        if !store::update(&self.db, id, &p, row.version, self.clock.now()).await? {
            return Err(CatalogError::ListVersionConflict);
        }
        self.full_list(Some(user), id).await
    }

    /// Replaces a list's courses with `courses`, in order, when `version` is current.
    pub async fn replace_list_items(
        &self,
        user: &AuthUser,
        id: ListId,
        version: i32,
        courses: &[CourseId],
    ) -> CatalogResult<ListView> {
        let row = self.editable_list(user, id, Some(version)).await?;
        if courses.len() > MAX_ITEMS {
            return Err(CatalogError::field(
                "course_ids",
                msg("一个清单最多 500 门课程。", "At most 500 courses per list."),
            ));
        }
        check_list_items(self, courses, &row.scope_path, row.visibility == Visibility::Public).await?;
        if !store::replace_items(&self.db, id, version, courses, self.clock.now()).await? {
            return Err(CatalogError::ListVersionConflict);
        }
        self.full_list(Some(user), id).await
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
            visibility: row.visibility,
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

    /// The title of list `id` when `user` sees it (404 otherwise): a certificate rule names it.
    pub async fn list_title(&self, user: &AuthUser, id: ListId) -> CatalogResult<String> {
        Ok(self.visible_list(Some(user), id).await?.title)
    }

    /// What a certificate rule counts of list `id`: its published courses in list order, each
    /// with the media assets of its lessons.
    pub async fn list_study_plan(&self, id: ListId) -> CatalogResult<Vec<(CourseId, Vec<String>)>> {
        let mut out = Vec::new();
        for course in store::published_items(&self.db, id).await? {
            out.push((
                course,
                self.lesson_assets(course).await?.into_iter().flatten().collect(),
            ));
        }
        Ok(out)
    }

    /// Who sees list `id` (404 unless `viewer` does): whether it is public, and its scope path.
    pub(crate) async fn list_audience(&self, viewer: Option<&AuthUser>, id: ListId) -> CatalogResult<(bool, String)> {
        let row = self.visible_list(viewer, id).await?;
        Ok((row.visibility == Visibility::Public, row.scope_path))
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
            .or(existing.map(|e| e.visibility))
            .unwrap_or(Visibility::Scoped);
        let scope_org_id = input
            .scope_org_id
            .or(existing.map(|e| e.scope_org_id))
            .unwrap_or(owner_org_id);
        let (owner_path, scope_path) = self.owner_and_scope_paths(owner_org_id, scope_org_id).await?;
        if !self.manages_path(user, &owner_path).await? || !self.manages_path(user, &scope_path).await? {
            return Err(CatalogError::ListOrgsOutOfScope);
        }
        self.check_public(
            user,
            existing.is_some_and(|e| e.visibility == Visibility::Public),
            visibility,
        )
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

/// A list's fields, checked (`prepare_list`), as the store writes them.
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
