//! Courses and their ordered lessons: the row and its views, who may see and edit a course,
//! and the rule a curated list applies to its items. The rest is by concern: `validate` (what an
//! edit may contain), `store` (the queries: reading rows and lessons, writing a course in one transaction), `review` (the workflow and its
//! trail), `find` (listing and search), `covers`, and `routes` (the HTTP handlers).

use std::collections::BTreeSet;

use platform::auth::AuthUser;
use platform::error::{FieldError, msg};
use platform::ids::{OrgId, UserId};
use platform::scope::Scope;
use platform::validate::Role;
use platform::{Timestamp, orgs};
use sqlx::{Database, QueryBuilder};

use crate::Catalog;
use crate::model::*;
use crate::{CatalogError, CatalogResult};

mod covers;
mod find;
mod review;
mod routes;
mod store;
mod validate;

pub(crate) use covers::image_kind;
pub use find::CourseQuery;
pub(crate) use routes::router;

/// What [`Catalog::course_standing`] tells of a course for one user.
#[derive(Debug, Clone)]
pub struct CourseStanding {
    pub title: String,
    /// The media assets of its lessons.
    pub assets: Vec<String>,
    /// Whether the user sees its ratings.
    pub reviews: bool,
}

/// Who is acting: a signed-in user, or the bulk importer (with admin powers).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Actor {
    User(AuthUser),
    Importer,
}

impl Actor {
    fn user_id(&self) -> Option<UserId> {
        match self {
            Self::User(u) => Some(u.id),
            Self::Importer => None,
        }
    }
}

/// External ids the system reserves.
pub const RESERVED_EXTERNAL_ID_PREFIXES: &[&str] = &["live-replay-"];

pub(crate) const SUMMARY_COLUMNS: &str = "c.id, c.external_id, c.title, c.summary, \
    c.lecturer_user_id, c.lecturer_name, c.lecturer_title, c.language, c.year, c.age_stages, c.topics, \
    c.tags, c.cover_key, c.status, c.owner_org_id, c.author_id, c.visibility, c.scope_org_id, \
    c.scope_path, c.owner_path, c.version, c.created_at, c.updated_at, c.published_at, \
    CAST(c.lesson_count AS BIGINT) AS lesson_count, c.total_duration_s";

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct CourseRow {
    pub id: CourseId,
    pub external_id: Option<String>,
    pub title: String,
    pub summary: String,
    pub lecturer_user_id: Option<UserId>,
    pub lecturer_name: String,
    pub lecturer_title: String,
    pub language: String,
    pub year: i32,
    pub age_stages: String,
    pub topics: String,
    pub tags: String,
    pub cover_key: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: Status,
    pub owner_org_id: OrgId,
    pub author_id: Option<UserId>,
    #[sqlx(try_from = "String")]
    pub visibility: Visibility,
    pub scope_org_id: OrgId,
    pub scope_path: String,
    pub owner_path: String,
    pub version: i32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub published_at: Option<Timestamp>,
    pub lesson_count: i64,
    pub total_duration_s: i64,
}

impl CourseRow {
    pub(crate) fn status(&self) -> Status {
        self.status
    }

    pub(crate) fn visibility(&self) -> Visibility {
        self.visibility
    }

    pub(crate) fn summary(&self) -> CourseSummary {
        let list = |s: &str| serde_json::from_str::<Vec<String>>(s).unwrap_or_default();
        CourseSummary {
            id: self.id,
            external_id: self.external_id.clone(),
            title: self.title.clone(),
            summary: self.summary.clone(),
            cover_url: self
                .cover_key
                .as_deref()
                .and_then(|k| k.rsplit('/').next())
                .map(|file| format!("/api/v1/courses/{}/cover/{file}", self.id)),
            lecturer: Lecturer {
                user_id: self.lecturer_user_id,
                name: self.lecturer_name.clone(),
                title: self.lecturer_title.clone(),
            },
            age_stages: list(&self.age_stages)
                .iter()
                .filter_map(|c| AgeStage::parse(c))
                .collect(),
            topics: list(&self.topics),
            tags: list(&self.tags),
            language: self.language.clone(),
            year: self.year,
            status: self.status(),
            owner_org_id: self.owner_org_id,
            author_id: self.author_id,
            visibility: self.visibility(),
            scope_org_id: self.scope_org_id,
            lesson_count: self.lesson_count,
            total_duration_s: self.total_duration_s,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            published_at: self.published_at,
        }
    }
}

/// Pushes the condition "the viewer may see course `c`": published, and public or scoped where
/// the viewer [sees](Scope::sees); plus what they [manage](Scope::manages) (admins everything,
/// curators what their subtrees own), for curators what partner units aim at their subtrees
/// ([`Scope::push_partner_content`]), and, for experts, the courses they wrote.
pub(crate) fn push_visible<'a, DB>(qb: &mut QueryBuilder<'a, DB>, scope: &Scope)
where
    DB: Database,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
    UserId: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
{
    push_visible_row(qb, scope, "c", "c.status = 'published' AND ");
}

/// The same rule for the row aliased `table` (a course `c` or a list `l`), with `published`
/// (a condition followed by `AND`, or nothing) in front of the audience test.
pub(crate) fn push_visible_row<'a, DB>(qb: &mut QueryBuilder<'a, DB>, scope: &Scope, table: &str, published: &str)
where
    DB: Database,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
    UserId: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
{
    qb.push(format!("(({published}({table}.visibility = 'public' OR "));
    scope.push_sees(qb, &format!("{table}.scope_path"));
    qb.push(")) OR ");
    scope.push_manages(qb, &format!("{table}.owner_path"));
    qb.push(" OR ");
    scope.push_partner_content(qb, &format!("{table}.scope_path"), &format!("{table}.owner_path"));
    if let (true, Some(Role::Expert), Some(id)) = (table == "c", scope.role(), scope.user_id()) {
        qb.push(" OR c.author_id = ");
        qb.push_bind(id);
    }
    qb.push(")");
}

impl Catalog {
    /// Whether `actor` may edit the course: admins; curators whose subtree owns it; its author
    /// while it is a draft.
    pub(crate) async fn may_edit(&self, actor: &Actor, row: &CourseRow) -> CatalogResult<bool> {
        let Actor::User(user) = actor else { return Ok(true) };
        Ok(match user.role {
            Role::Admin => true,
            Role::Curator => self.manages_path(user, &row.owner_path).await?,
            Role::Expert => row.author_id == Some(user.id) && row.status() == Status::Draft,
            Role::Parent => false,
        })
    }

    /// What a rating of course `id` needs to know for `user`: its title, the media assets of
    /// its lessons (to tell whether they studied it) and whether they see its ratings: admins,
    /// curators whose subtree owns it, and its author or lecturer. 404 when they may not see it.
    pub async fn course_standing(&self, user: &AuthUser, id: CourseId) -> CatalogResult<CourseStanding> {
        let row = self.course_row(id).await?.ok_or(CatalogError::CourseNotFound)?;
        let reviews = match user.role {
            Role::Admin => true,
            Role::Curator => self.manages_path(user, &row.owner_path).await?,
            Role::Expert => row.author_id == Some(user.id) || row.lecturer_user_id == Some(user.id),
            Role::Parent => false,
        };
        if !reviews && !self.visible(Some(user), id).await? {
            return Err(CatalogError::CourseNotFound);
        }
        Ok(CourseStanding {
            title: row.title,
            assets: self.lesson_assets(id).await?.into_iter().flatten().collect(),
            reviews,
        })
    }

    /// Whether `user` manages what `path` owns ([`Scope::manages`]).
    pub(crate) async fn manages_path(&self, user: &AuthUser, path: &str) -> CatalogResult<bool> {
        Ok(Scope::load(&self.db, Some(user)).await?.manages(path))
    }

    pub(crate) async fn course_view(&self, actor: &Actor, row: CourseRow) -> CatalogResult<CourseView> {
        let editable = self.may_edit(actor, &row).await?;
        Ok(CourseView {
            lessons: self.lessons(row.id).await?,
            editable,
            course: row.summary(),
        })
    }

    /// The paths of an owning and a scope organization; 422 naming the field when one is missing.
    pub(crate) async fn owner_and_scope_paths(&self, owner: OrgId, scope: OrgId) -> CatalogResult<(String, String)> {
        let owner_path = orgs::org_path(&self.db, owner).await.map_err(|_| {
            CatalogError::field(
                "owner_org_id",
                msg("所属组织不存在。", "The owning organization does not exist."),
            )
        })?;
        let scope_path = orgs::org_path(&self.db, scope).await.map_err(|_| {
            CatalogError::field(
                "scope_org_id",
                msg("可见范围的组织不存在。", "The scope organization does not exist."),
            )
        })?;
        Ok((owner_path, scope_path))
    }

    /// Only admins and province-level curators may make something public (what already is public
    /// may stay so when others edit it).
    pub(crate) async fn check_public(
        &self,
        user: &AuthUser,
        was_public: bool,
        visibility: Visibility,
    ) -> CatalogResult<()> {
        if visibility == Visibility::Public
            && !was_public
            && !Scope::load(&self.db, Some(user)).await?.publishes_to_everyone()
        {
            return Err(CatalogError::PublicNotAllowed);
        }
        Ok(())
    }
}

/// A validated course, ready to store.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub external_id: Option<String>,
    pub title: String,
    pub summary: String,
    pub lecturer: Lecturer,
    pub age_stages: Vec<AgeStage>,
    pub topics: Vec<String>,
    pub tags: Vec<String>,
    pub language: String,
    pub year: i32,
    pub visibility: Visibility,
    pub scope_org_id: OrgId,
    pub scope_path: String,
    pub owner_org_id: OrgId,
    pub owner_path: String,
    pub lessons: Option<Vec<LessonInput>>,
}

/// Checks that every course id exists, is published and is visible wherever the list is: public,
/// or scoped to an organization whose subtree contains the list's scope.
pub(crate) async fn check_list_items(
    cat: &Catalog,
    ids: &[CourseId],
    list_scope_path: &str,
    list_public: bool,
) -> CatalogResult<()> {
    let mut seen = BTreeSet::new();
    let mut errors = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let field = format!("course_ids[{i}]");
        if !seen.insert(*id) {
            errors.push(FieldError {
                field,
                message: msg("课程重复出现在清单中。", "The course appears twice in the list."),
            });
            continue;
        }
        match cat.course_row(*id).await? {
            None => errors.push(FieldError {
                field,
                message: msg("课程不存在。", "No such course."),
            }),
            Some(c) if c.status() != Status::Published => errors.push(FieldError {
                field,
                message: msg(
                    format!("课程“{}”尚未发布，不能加入清单。", c.title),
                    format!("Course {:?} is not published.", c.title),
                ),
            }),
            Some(c)
                if c.visibility() != Visibility::Public
                    && (list_public || !platform::scope::within(list_scope_path, &c.scope_path)) =>
            {
                errors.push(FieldError {
                    field,
                    message: msg(
                        format!("课程“{}”的可见范围小于清单的范围，清单的部分读者看不到它。", c.title),
                        format!("Course {:?} is not visible to everyone who sees the list.", c.title),
                    ),
                })
            }
            Some(_) => {}
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CatalogError::InvalidListItems(errors))
    }
}
