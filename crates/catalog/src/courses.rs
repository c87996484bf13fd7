//! Courses: create, edit, lessons, review transitions with their audit trail, topics, covers,
//! and the listing/search endpoint.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use platform::auth::{AuthUser, MaybeAuth};
use platform::error::{ApiError, ApiResult, FieldError, ResultExt, msg};
use platform::http::{ApiRouter, Json, Page, Path, Query, RawBody, cached_json};
use platform::ids::{OrgId, UserId};
use platform::scope::Scope;
use platform::validate::{self, Role};
use platform::{Timestamp, db_execute, orgs, with_db};
use serde::Deserialize;
use utoipa_axum::routes;

use crate::Catalog;
use crate::model::*;
use crate::search::{self, Field, Postings, QueryError};

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

pub(crate) const SUMMARY_COLUMNS: &str = "c.id, c.external_id, c.title, c.summary, c.lecturer_user_id, \
                                          c.lecturer_name, \
                                          c.lecturer_title, c.language, c.year, c.age_stages, c.topics, c.tags, c.cover_key, \
                                          c.status, c.owner_org_id, \
                                          c.author_id, c.visibility, c.scope_org_id, c.scope_path, c.owner_path, c.version, \
                                          c.created_at, c.updated_at, \
                                          c.published_at, CAST(c.lesson_count AS BIGINT) AS lesson_count, c.total_duration_s";

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
    pub status: String,
    pub owner_org_id: OrgId,
    pub author_id: Option<UserId>,
    pub visibility: String,
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
        Status::parse(&self.status).unwrap_or(Status::Draft)
    }

    pub(crate) fn visibility(&self) -> Visibility {
        if self.visibility == "public" {
            Visibility::Public
        } else {
            Visibility::Scoped
        }
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

/// Pushes the condition "the viewer may see row `$t`" (a course `c` or a list `l`): published
/// (courses) and public or scoped where the viewer [sees](Scope::sees); plus what they
/// [manage](Scope::manages) (admins everything, curators what their subtrees own) and, for
/// experts, the courses they wrote.
macro_rules! push_visible {
    ($qb:expr, $scope:expr) => {
        $crate::courses::push_visible!($qb, $scope, "c", "c.status = 'published' AND ")
    };
    ($qb:expr, $scope:expr, $t:literal, $published:literal) => {{
        $qb.push(concat!("((", $published, "(", $t, ".visibility = 'public' OR "));
        $scope.push_sees(&mut $qb, concat!($t, ".scope_path"));
        $qb.push(")) OR ");
        $scope.push_manages(&mut $qb, concat!($t, ".owner_path"));
        if let (true, Some(Role::Expert), Some(id)) = ($t == "c", $scope.role(), $scope.user_id()) {
            $qb.push(" OR c.author_id = ");
            $qb.push_bind(id);
        }
        $qb.push(")");
    }};
}
pub(crate) use push_visible;

pub(crate) fn course_not_found() -> ApiError {
    ApiError::not_found(
        "course_not_found",
        msg("课程不存在或你无权查看。", "No such course, or you may not see it."),
    )
}

fn version_conflict() -> ApiError {
    ApiError::conflict(
        "version_conflict",
        msg(
            "内容已被他人修改，请刷新后再试。",
            "Someone else changed this in the meantime; reload and try again.",
        ),
    )
}

impl Catalog {
    pub(crate) async fn course_row(&self, id: CourseId) -> ApiResult<Option<CourseRow>> {
        let sql = format!("SELECT {SUMMARY_COLUMNS} FROM courses c WHERE c.id = $1");
        Ok(with_db!(&self.db, |pool| sqlx::query_as::<_, CourseRow>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?)
    }

    /// Whether `viewer` may see the course (same rule as [`push_visible!`]).
    pub(crate) async fn visible(&self, viewer: Option<&AuthUser>, id: CourseId) -> ApiResult<bool> {
        let scope = Scope::load(&self.db, viewer).await?;
        let n: i64 = with_db!(&self.db, |pool| {
            let mut qb = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM courses c WHERE c.id = ");
            qb.push_bind(id);
            qb.push(" AND ");
            push_visible!(qb, scope);
            qb.build_query_scalar::<i64>().fetch_one(pool).await
        })?;
        Ok(n > 0)
    }

    /// Appends a lesson to a course (the CLI's `media upload`); returns its position.
    pub async fn append_lesson(
        &self,
        course: CourseId,
        title: &str,
        asset_id: &str,
        duration_s: i32,
    ) -> ApiResult<i32> {
        let row = self.course_row(course).await?.ok_or_else(course_not_found)?;
        let mut lessons: Vec<LessonInput> = self
            .lessons(course)
            .await?
            .into_iter()
            .map(|l| LessonInput {
                id: Some(l.id),
                title: l.title,
                asset_id: l.asset_id,
                duration_s: l.duration_s,
            })
            .collect();
        lessons.push(LessonInput {
            id: None,
            title: title.to_owned(),
            asset_id: Some(asset_id.to_owned()),
            duration_s,
        });
        let position = lessons.len() as i32;
        let input = CourseInput {
            lessons: Some(lessons),
            ..CourseInput::default()
        };
        let prepared = self.prepare(&Actor::Importer, input, Some(&row)).await?;
        self.persist(
            course,
            &prepared,
            row.author_id,
            Some((row.version, None)),
            row.status(),
        )
        .await?;
        Ok(position)
    }

    /// The lessons (with their courses) that use any of `assets`, in course and lesson order.
    pub async fn lessons_for_assets(&self, assets: &[String]) -> ApiResult<Vec<LessonRef>> {
        if assets.is_empty() {
            return Ok(Vec::new());
        }
        Ok(with_db!(&self.db, |pool| {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT l.asset_id AS asset_id, l.id AS lesson_id, l.title AS lesson_title, l.position \
                 AS position, \
                 c.id AS course_id, c.title AS course_title, CAST(c.lesson_count AS BIGINT) AS \
                 course_lesson_count \
                 FROM lessons l CROSS JOIN courses c \
                 WHERE c.id = l.course_id AND l.asset_id IN (",
            );
            let mut sep = qb.separated(", ");
            for a in assets {
                sep.push_bind(a.as_str());
            }
            qb.push(") ORDER BY c.id, l.position");
            qb.build_query_as::<LessonRef>().fetch_all(pool).await
        })?)
    }

    /// Whether `viewer` may watch media asset `asset`: admins, and those who may see a course with a
    /// lesson using it.
    pub async fn lesson_asset_visible(&self, viewer: &AuthUser, asset: &str) -> ApiResult<bool> {
        let scope = Scope::load(&self.db, Some(viewer)).await?;
        if scope.is_admin() {
            return Ok(true);
        }
        let n: i64 = with_db!(&self.db, |pool| {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT COUNT(*) FROM lessons l CROSS JOIN courses c WHERE c.id = l.course_id AND \
                 l.asset_id = ",
            );
            qb.push_bind(asset);
            qb.push(" AND ");
            push_visible!(qb, scope);
            qb.build_query_scalar::<i64>().fetch_one(pool).await
        })?;
        Ok(n > 0)
    }

    /// Whether `user` may manage an asset through the courses using it: admins, and curators
    /// whose subtree owns such a course (the rule of [`may_edit`](Self::may_edit)).
    pub async fn lesson_asset_managed(&self, user: &AuthUser, asset: &str) -> ApiResult<bool> {
        let scope = Scope::load(&self.db, Some(user)).await?;
        if scope.is_admin() {
            return Ok(true);
        }
        let owners: Vec<String> = with_db!(&self.db, |pool| {
            sqlx::query_scalar::<_, String>(
                "SELECT DISTINCT c.owner_path FROM lessons l JOIN courses c ON c.id = l.course_id WHERE \
                 l.asset_id = $1",
            )
            .bind(asset)
            .fetch_all(pool)
            .await
        })?;
        Ok(owners.iter().any(|path| scope.manages(path)))
    }

    /// Whether `actor` may edit the course: admins; curators whose subtree owns it; its author
    /// while it is a draft.
    pub(crate) async fn may_edit(&self, actor: &Actor, row: &CourseRow) -> ApiResult<bool> {
        let Actor::User(user) = actor else { return Ok(true) };
        Ok(match user.role {
            Role::Admin => true,
            Role::Curator => self.manages_path(user, &row.owner_path).await?,
            Role::Expert => row.author_id == Some(user.id) && row.status() == Status::Draft,
            Role::Parent => false,
        })
    }

    /// Whether `user` manages what `path` owns ([`Scope::manages`]).
    pub(crate) async fn manages_path(&self, user: &AuthUser, path: &str) -> ApiResult<bool> {
        Ok(Scope::load(&self.db, Some(user)).await?.manages(path))
    }

    async fn lessons(&self, id: CourseId) -> ApiResult<Vec<LessonView>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: LessonId,
            position: i32,
            title: String,
            asset_id: Option<String>,
            duration_s: i32,
        }
        let rows: Vec<Row> = with_db!(&self.db, |pool| sqlx::query_as::<_, Row>(
            "SELECT id, position, title, asset_id, duration_s FROM lessons WHERE course_id = $1 \
             ORDER BY position",
        )
        .bind(id)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|r| LessonView {
                id: r.id,
                position: r.position,
                title: r.title,
                asset_id: r.asset_id,
                duration_s: r.duration_s,
            })
            .collect())
    }

    pub(crate) async fn course_view(&self, actor: &Actor, row: CourseRow) -> ApiResult<CourseView> {
        let editable = self.may_edit(actor, &row).await?;
        Ok(CourseView {
            lessons: self.lessons(row.id).await?,
            editable,
            course: row.summary(),
        })
    }

    /// The paths of an owning and a scope organization; 422 naming the field when one is missing.
    pub(crate) async fn owner_and_scope_paths(&self, owner: OrgId, scope: OrgId) -> ApiResult<(String, String)> {
        let owner_path = orgs::org_path(&self.db, owner).await.map_err(|_| {
            ApiError::invalid_field(
                "owner_org_id",
                msg("所属组织不存在。", "The owning organization does not exist."),
            )
        })?;
        let scope_path = orgs::org_path(&self.db, scope).await.map_err(|_| {
            ApiError::invalid_field(
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
    ) -> ApiResult<()> {
        if visibility == Visibility::Public
            && !was_public
            && !Scope::load(&self.db, Some(user)).await?.publishes_to_everyone()
        {
            return Err(ApiError::forbidden(
                "public_not_allowed",
                msg(
                    "只有管理员和省级工作人员可以设为全网公开。",
                    "Only admins and province-level curators may make something public.",
                ),
            ));
        }
        Ok(())
    }

    /// Known topic names, in display order.
    pub async fn topics(&self) -> ApiResult<Vec<String>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_scalar::<_, String>(
            "SELECT name FROM topics ORDER BY position, name"
        )
        .fetch_all(pool)
        .await)?)
    }

    /// Validates `input` (merged over `existing` for updates), checks `actor`'s rights, and
    /// returns what to store.
    pub(crate) async fn prepare(
        &self,
        actor: &Actor,
        input: CourseInput,
        existing: Option<&CourseRow>,
    ) -> ApiResult<Prepared> {
        let mut errors: Vec<FieldError> = Vec::new();
        let mut field = |name: &str, m: platform::error::Msg| {
            errors.push(FieldError {
                field: name.to_owned(),
                message: m,
            })
        };
        let old = existing.map(CourseRow::summary);

        let title = match (input.title, &old) {
            (Some(t), _) => validate::name(&t, 100).map_err(|m| field("title", m)).ok(),
            (None, Some(o)) => Some(o.title.clone()),
            (None, None) => {
                field("title", msg("请填写课程标题。", "A title is required."));
                None
            }
        };
        let summary = input
            .summary
            .map(|s| s.trim().to_owned())
            .or_else(|| old.as_ref().map(|o| o.summary.clone()))
            .unwrap_or_default();
        if summary.chars().count() > 2000 {
            field(
                "summary",
                msg(
                    "简介不能超过 2000 个字符。",
                    "The summary must have at most 2000 characters.",
                ),
            );
        }
        let age_stages = match (input.age_stages, &old) {
            (Some(codes), _) => match parse_age_stages(&codes) {
                Ok(v) if v.is_empty() => {
                    field(
                        "age_stages",
                        msg("请至少选择一个年龄段。", "Choose at least one age stage."),
                    );
                    Vec::new()
                }
                Ok(v) => v,
                Err(m) => {
                    field("age_stages", m);
                    Vec::new()
                }
            },
            (None, Some(o)) => o.age_stages.clone(),
            (None, None) => {
                field(
                    "age_stages",
                    msg("请至少选择一个年龄段。", "Choose at least one age stage."),
                );
                Vec::new()
            }
        };
        let topics: Vec<String> = match (input.topics, &old) {
            (Some(t), _) => {
                let known = self.topics().await?;
                let mut out = Vec::new();
                for name in t {
                    let name = name.trim().to_owned();
                    if !known.contains(&name) {
                        field(
                            "topics",
                            msg(format!("未知的主题“{name}”。"), format!("Unknown topic {name:?}.")),
                        );
                    } else if !out.contains(&name) {
                        out.push(name);
                    }
                }
                out
            }
            (None, Some(o)) => o.topics.clone(),
            (None, None) => Vec::new(),
        };
        let tags: Vec<String> = match (input.tags, &old) {
            (Some(t), _) => {
                let mut out: Vec<String> = Vec::new();
                for tag in t {
                    match validate::name(&tag, 20) {
                        Ok(tag) if !out.contains(&tag) => out.push(tag),
                        Ok(_) => {}
                        Err(m) => field("tags", m),
                    }
                }
                if out.len() > 12 {
                    field("tags", msg("标签最多 12 个。", "At most 12 tags."));
                }
                out
            }
            (None, Some(o)) => o.tags.clone(),
            (None, None) => Vec::new(),
        };
        let language = input
            .language
            .or_else(|| old.as_ref().map(|o| o.language.clone()))
            .unwrap_or_else(|| "zh-CN".into());
        if language.is_empty() || language.len() > 16 {
            field("language", msg("语言代码无效。", "Invalid language code."));
        }
        let this_year = self.clock.now().to_offset_date_time().year();
        let year = input.year.or(old.as_ref().map(|o| o.year)).unwrap_or(this_year);
        if !(2000..=this_year + 1).contains(&year) {
            field(
                "year",
                msg(
                    format!("年份需在 2000 到 {} 之间。", this_year + 1),
                    format!("The year must be between 2000 and {}.", this_year + 1),
                ),
            );
        }
        // Ids under a reserved prefix are the system's (the replay courses made before replay
        // courses were named on their series): nobody may claim one anew.
        let claimed = input.external_id.as_ref().filter(|e| {
            RESERVED_EXTERNAL_ID_PREFIXES.iter().any(|p| e.trim().starts_with(p))
                && old.as_ref().and_then(|o| o.external_id.as_ref()) != Some(*e)
        });
        if claimed.is_some() {
            field(
                "external_id",
                msg(
                    "以 live-replay- 开头的外部编号为系统保留。",
                    "External ids starting with live-replay- are reserved.",
                ),
            );
        }
        let external_id = input
            .external_id
            .or_else(|| old.as_ref().and_then(|o| o.external_id.clone()));
        if external_id
            .as_ref()
            .is_some_and(|e| e.trim().is_empty() || e.len() > 100)
        {
            field(
                "external_id",
                msg("外部编号需为 1–100 个字符。", "external_id must have 1–100 characters."),
            );
        }
        let mut lecturer = input
            .lecturer
            .or_else(|| old.as_ref().map(|o| o.lecturer.clone()))
            .unwrap_or_default();
        lecturer.name = lecturer.name.trim().to_owned();
        lecturer.title = lecturer.title.trim().to_owned();
        if let Some(uid) = lecturer.user_id {
            match platform::accounts::expert_name(&self.db, uid).await? {
                Some(name) => {
                    if lecturer.name.is_empty() {
                        lecturer.name = name;
                    }
                }
                None => field(
                    "lecturer.user_id",
                    msg("主讲人必须是专家账号。", "The lecturer must be an expert account."),
                ),
            }
        }
        if lecturer.name.chars().count() > 50 || lecturer.title.chars().count() > 100 {
            field(
                "lecturer",
                msg("主讲人姓名或头衔过长。", "The lecturer's name or title is too long."),
            );
        }
        let lessons = match input.lessons {
            Some(list) => {
                let mut out = Vec::new();
                if list.len() > 200 {
                    field(
                        "lessons",
                        msg("一门课程最多 200 节。", "At most 200 lessons per course."),
                    );
                }
                for (i, l) in list.into_iter().enumerate() {
                    let title = validate::name(&l.title, 100)
                        .map_err(|m| field(&format!("lessons[{i}].title"), m))
                        .ok();
                    if !(0..=86_400).contains(&l.duration_s) {
                        field(
                            &format!("lessons[{i}].duration_s"),
                            msg("时长需在 0 到 86400 秒之间。", "duration_s must be 0–86400."),
                        );
                    }
                    let asset_id = l.asset_id.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty());
                    if asset_id.as_ref().is_some_and(|a| a.len() > 100) {
                        field(
                            &format!("lessons[{i}].asset_id"),
                            msg("媒体编号过长。", "asset_id is too long."),
                        );
                    }
                    if let Some(title) = title {
                        out.push(LessonInput {
                            id: l.id,
                            title,
                            asset_id,
                            duration_s: l.duration_s,
                        });
                    }
                }
                // A lesson may point only at an asset its editor may use: one the course
                // already has, or one the rights (the server: media and the catalog) allow.
                if let Actor::User(user) = actor {
                    let kept: Vec<Option<String>> = match existing {
                        Some(c) => with_db!(&self.db, |pool| sqlx::query_scalar::<_, Option<String>>(
                            "SELECT asset_id FROM lessons WHERE course_id = $1",
                        )
                        .bind(c.id)
                        .fetch_all(pool)
                        .await)?,
                        None => Vec::new(),
                    };
                    for (i, l) in out.iter().enumerate() {
                        let Some(asset) = &l.asset_id else { continue };
                        if kept.iter().flatten().any(|k| k == asset) {
                            continue;
                        }
                        let allowed = match &self.asset_rights {
                            Some(rights) => rights.may_use(user, asset).await?,
                            None => false,
                        };
                        if !allowed {
                            field(
                                &format!("lessons[{i}].asset_id"),
                                msg(
                                    "不能使用这个视频：它不是你上传的，也不属于你管理的课程。",
                                    "You may not use this video: you did not upload it, and it belongs to no course \
                                     you manage.",
                                ),
                            );
                        }
                    }
                }
                Some(out)
            }
            None => None,
        };

        // Organizations and visibility.
        let owner_org_id = match (input.owner_org_id, existing) {
            (Some(o), _) => Some(o),
            (None, Some(e)) => Some(e.owner_org_id),
            (None, None) => match actor.user_id() {
                Some(uid) => orgs::memberships(&self.db, uid).await?.first().map(|o| o.id),
                None => None,
            },
        };
        let Some(owner_org_id) = owner_org_id else {
            field(
                "owner_org_id",
                msg(
                    "请选择课程所属的组织（你还没有加入任何组织）。",
                    "Choose the owning organization (you belong to none).",
                ),
            );
            return Err(ApiError::validation(errors));
        };
        let visibility = input
            .visibility
            .or(old.as_ref().map(|o| o.visibility))
            .unwrap_or(Visibility::Scoped);
        let scope_org_id = input
            .scope_org_id
            .or(old.as_ref().map(|o| o.scope_org_id))
            .unwrap_or(owner_org_id);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let (owner_path, scope_path) = self.owner_and_scope_paths(owner_org_id, scope_org_id).await?;

        if let Actor::User(user) = actor {
            let owner_changed = existing.is_none_or(|e| e.owner_org_id != owner_org_id);
            if owner_changed {
                let allowed = match user.role {
                    Role::Admin => true,
                    Role::Curator => self.manages_path(user, &owner_path).await?,
                    Role::Expert => orgs::memberships(&self.db, user.id)
                        .await?
                        .iter()
                        .any(|o| o.id == owner_org_id),
                    Role::Parent => false,
                };
                if !allowed {
                    return Err(ApiError::forbidden(
                        "out_of_scope",
                        msg(
                            "你不能以该组织的名义发布课程。",
                            "You may not author courses for that organization.",
                        ),
                    ));
                }
            }
            if !platform::scope::within(&scope_path, &owner_path) && !self.manages_path(user, &scope_path).await? {
                return Err(ApiError::forbidden(
                    "out_of_scope",
                    msg(
                        "可见范围必须在所属组织或你管理的范围之内。",
                        "The scope must lie within the owning organization or your own scope.",
                    ),
                ));
            }
            let was_public = old.as_ref().is_some_and(|o| o.visibility == Visibility::Public);
            self.check_public(user, was_public, visibility).await?;
        }

        let Some(title) = title else {
            return Err(ApiError::validation(errors));
        };
        Ok(Prepared {
            external_id,
            title,
            summary,
            lecturer,
            age_stages,
            topics,
            tags,
            language,
            year,
            visibility,
            scope_org_id,
            scope_path,
            owner_org_id,
            owner_path,
            lessons,
        })
    }

    /// Inserts or updates a course with its topics, age stages, search postings and (when
    /// given) lessons, all in one transaction. Returns 409 `version_conflict` when `expect_version`
    /// is stale and 409 `external_id_taken` for a duplicate import key.
    pub(crate) async fn persist(
        &self,
        id: CourseId,
        p: &Prepared,
        author: Option<UserId>,
        existing: Option<(i32, Option<i32>)>,
        initial_status: Status,
    ) -> ApiResult<()> {
        let now = self.clock.now();
        let mut postings = Postings::default();
        postings.add(Field::Title, &p.title);
        postings.add(Field::Summary, &p.summary);
        postings.add(Field::Lecturer, &format!("{} {}", p.lecturer.name, p.lecturer.title));
        for t in &p.topics {
            postings.add(Field::Topic, t);
        }
        for t in &p.tags {
            postings.add(Field::Tag, t);
        }
        let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        let stages: Vec<String> = p.age_stages.iter().map(|s| s.code().to_owned()).collect();
        let (stages_json, topics_json, tags_json) = (json(&stages), json(&p.topics), json(&p.tags));
        let scores = postings.scores();
        let text = postings.text().to_owned();
        let taken = || {
            ApiError::conflict(
                "external_id_taken",
                msg(
                    "外部编号已被另一门课程使用。",
                    "Another course already has this external_id.",
                ),
            )
        };

        with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            match existing {
                None => {
                    sqlx::query(
                        "INSERT INTO courses (id, external_id, title, summary, lecturer_user_id, lecturer_name, \
                         lecturer_title,
                            language, year, age_stages, topics, tags, status, author_id, owner_org_id, visibility,
                            scope_org_id, scope_path, owner_path, version, created_at, updated_at, published_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                         $18, \
                         $19, 1, $20, $20, $21)",
                    )
                    .bind(id)
                    .bind(&p.external_id)
                    .bind(&p.title)
                    .bind(&p.summary)
                    .bind(p.lecturer.user_id)
                    .bind(&p.lecturer.name)
                    .bind(&p.lecturer.title)
                    .bind(&p.language)
                    .bind(p.year)
                    .bind(&stages_json)
                    .bind(&topics_json)
                    .bind(&tags_json)
                    .bind(initial_status.as_str())
                    .bind(author)
                    .bind(p.owner_org_id)
                    .bind(p.visibility.as_str())
                    .bind(p.scope_org_id)
                    .bind(&p.scope_path)
                    .bind(&p.owner_path)
                    .bind(now)
                    .bind((initial_status == Status::Published).then_some(now))
                    .execute(&mut *tx)
                    .await
                    .on_constraint("courses_external_id", taken)?;
                }
                Some((current, expected)) => {
                    if expected.is_some_and(|v| v != current) {
                        return Err(version_conflict());
                    }
                    let n = sqlx::query(
                        "UPDATE courses SET external_id = $2, title = $3, summary = $4, lecturer_user_id = $5, \
                         lecturer_name = $6,
                            lecturer_title = $7, language = $8, year = $9, age_stages = $10, topics = $11, tags = \
                         $12,
                            owner_org_id = $13, visibility = $14, scope_org_id = $15, scope_path = $16,
                            owner_path = $17, version = version + 1, updated_at = $18
                         WHERE id = $1 AND version = $19",
                    )
                    .bind(id)
                    .bind(&p.external_id)
                    .bind(&p.title)
                    .bind(&p.summary)
                    .bind(p.lecturer.user_id)
                    .bind(&p.lecturer.name)
                    .bind(&p.lecturer.title)
                    .bind(&p.language)
                    .bind(p.year)
                    .bind(&stages_json)
                    .bind(&topics_json)
                    .bind(&tags_json)
                    .bind(p.owner_org_id)
                    .bind(p.visibility.as_str())
                    .bind(p.scope_org_id)
                    .bind(&p.scope_path)
                    .bind(&p.owner_path)
                    .bind(now)
                    .bind(current)
                    .execute(&mut *tx)
                    .await
                    .on_constraint("courses_external_id", taken)?
                    .rows_affected();
                    if n == 0 {
                        return Err(version_conflict());
                    }
                    for table in ["course_age_stages", "course_topics", "search_terms", "course_texts"] {
                        sqlx::query(&format!("DELETE FROM {table} WHERE course_id = $1"))
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
            }
            sqlx::query("INSERT INTO course_texts (course_id, text) VALUES ($1, $2)")
                .bind(id)
                .bind(&text)
                .execute(&mut *tx)
                .await?;
            for stage in &stages {
                sqlx::query("INSERT INTO course_age_stages (course_id, age_stage) VALUES ($1, $2)")
                    .bind(id)
                    .bind(stage)
                    .execute(&mut *tx)
                    .await?;
            }
            for topic in &p.topics {
                sqlx::query("INSERT INTO course_topics (course_id, topic) VALUES ($1, $2)")
                    .bind(id)
                    .bind(topic)
                    .execute(&mut *tx)
                    .await?;
            }
            for chunk in scores.chunks(300) {
                let mut qb = sqlx::QueryBuilder::new("INSERT INTO search_terms (term, course_id, score) ");
                qb.push_values(chunk, |mut b, (term, score)| {
                    b.push_bind(term.as_str()).push_bind(id).push_bind(*score as i32);
                });
                qb.build().execute(&mut *tx).await?;
            }
            if let Some(lessons) = &p.lessons {
                let keep: Vec<LessonId> = lessons.iter().filter_map(|l| l.id).collect();
                let existing_ids: Vec<LessonId> = sqlx::query_scalar("SELECT id FROM lessons WHERE course_id = $1")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?;
                for old in existing_ids.iter().filter(|i| !keep.contains(i)) {
                    sqlx::query("DELETE FROM lessons WHERE id = $1")
                        .bind(*old)
                        .execute(&mut *tx)
                        .await?;
                }
                for (pos, l) in lessons.iter().enumerate() {
                    let pos = pos as i32 + 1;
                    match l.id.filter(|i| existing_ids.contains(i)) {
                        Some(lid) => {
                            sqlx::query(
                                "UPDATE lessons SET position = $2, title = $3, asset_id = $4, duration_s = \
                                 $5 WHERE id = $1",
                            )
                            .bind(lid)
                            .bind(pos)
                            .bind(&l.title)
                            .bind(&l.asset_id)
                            .bind(l.duration_s)
                            .execute(&mut *tx)
                            .await?;
                        }
                        None => {
                            sqlx::query(
                                "INSERT INTO lessons (id, course_id, position, title, asset_id, duration_s, created_at)
                                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                            )
                            .bind(LessonId::new())
                            .bind(id)
                            .bind(pos)
                            .bind(&l.title)
                            .bind(&l.asset_id)
                            .bind(l.duration_s)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
            }
            if p.lessons.is_some() {
                // Keep the denormalised counts in step with the lessons.
                sqlx::query(
                    "UPDATE courses SET lesson_count = (SELECT COUNT(*) FROM lessons WHERE course_id = $1),
                        total_duration_s = (SELECT COALESCE(SUM(duration_s), 0) FROM lessons WHERE course_id = \
                     $1)
                     WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Applies a review transition after checking who may make it; records it in the trail.
    pub(crate) async fn transition(&self, actor: &Actor, row: &CourseRow, to: Status, comment: &str) -> ApiResult<()> {
        use Status::*;
        let from = row.status();
        let comment = comment.trim();
        if comment.chars().count() > 500 {
            return Err(ApiError::invalid_field(
                "comment",
                msg(
                    "意见不能超过 500 个字符。",
                    "The comment must have at most 500 characters.",
                ),
            ));
        }
        if !matches!(
            (from, to),
            (Draft, InReview)
                | (InReview, Published)
                | (InReview | Published | Archived, Draft)
                | (Published, Archived)
        ) {
            return Err(ApiError::conflict(
                "invalid_transition",
                msg(
                    format!("课程当前为“{}”，不能改为“{}”。", from.label(), to.label()),
                    format!("A course that is {} cannot become {}.", from.as_str(), to.as_str()),
                ),
            ));
        }
        if to == Draft && comment.is_empty() {
            return Err(ApiError::invalid_field(
                "comment",
                msg(
                    "退回草稿时请填写原因。",
                    "Give a reason when sending a course back to draft.",
                ),
            ));
        }
        let curator = match actor {
            Actor::Importer => true,
            Actor::User(u) => self.manages_path(u, &row.owner_path).await?,
        };
        let author = actor.user_id().is_some() && row.author_id == actor.user_id();
        let allowed = match (from, to) {
            (Draft, InReview) => curator || author,
            // An author may withdraw their own submission.
            (InReview, Draft) => curator || author,
            _ => curator,
        };
        if !allowed {
            return Err(ApiError::forbidden(
                "forbidden_transition",
                msg(
                    "只有管辖该课程所属组织的工作人员可以进行此审核操作。",
                    "Only a curator whose scope covers the course's organization may do this.",
                ),
            ));
        }
        if to == Published && row.lesson_count == 0 {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "course_has_no_lessons",
                msg(
                    "课程至少需要一节课才能发布。",
                    "A course needs at least one lesson to be published.",
                ),
            ));
        }
        let now = self.clock.now();
        with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE courses SET status = $2, version = version + 1, updated_at = $3,
                    published_at = CASE WHEN $2 = 'published' THEN $3 ELSE published_at END
                 WHERE id = $1 AND status = $4",
            )
            .bind(row.id)
            .bind(to.as_str())
            .bind(now)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(version_conflict());
            }
            sqlx::query(
                "INSERT INTO review_events (id, course_id, from_status, to_status, actor_id, comment, \
                 created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(row.id)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(actor.user_id())
            .bind(comment)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
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

pub(crate) fn router() -> ApiRouter<Catalog> {
    ApiRouter::new()
        .routes(routes!(list_courses, create_course))
        .routes(routes!(get_course, update_course))
        .routes(routes!(transition))
        .routes(routes!(reviews))
        .routes(routes!(list_topics, create_topic))
        .routes(routes!(age_stages))
        .routes(routes!(get_cover))
        .merge(
            ApiRouter::new()
                .routes(routes!(put_cover))
                .layer(axum::extract::DefaultBodyLimit::max(MAX_COVER_BYTES)),
        )
}

/// `GET /api/v1/courses` parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct CourseQuery {
    /// Search words (Chinese or other); results ranked, title matches first.
    pub q: Option<String>,
    /// Age stage code.
    pub age_stage: Option<String>,
    /// Topic name.
    pub topic: Option<String>,
    pub year: Option<i32>,
    /// Only courses in this curated list.
    pub list: Option<ListId>,
    /// Only courses that may join this list: published, and seen by everyone who sees the list
    /// (the rule `PUT /lists/{id}/items` applies), so the list editor offers no course it would refuse.
    pub fits_list: Option<ListId>,
    /// draft, in_review, published or archived (editors see unpublished courses they may edit).
    pub status: Option<String>,
    pub cursor: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<u32>,
}

enum Cursor {
    Id(CourseId),
    Scored(i64, CourseId),
}

fn parse_cursor(s: &str) -> Option<Cursor> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
    if let Some(id) = raw.strip_prefix('i') {
        return Some(Cursor::Id(id.parse().ok()?));
    }
    let (score, id) = raw.strip_prefix('s')?.split_once(':')?;
    Some(Cursor::Scored(score.parse().ok()?, id.parse().ok()?))
}

fn invalid_query(field: &str, m: platform::error::Msg) -> ApiError {
    ApiError::invalid_field(field, m)
}

impl Catalog {
    /// Lists or searches the courses `viewer` may see.
    pub async fn find_courses(&self, viewer: Option<&AuthUser>, q: &CourseQuery) -> ApiResult<Page<CourseSummary>> {
        let limit = platform::http::PageQuery {
            cursor: None,
            limit: q.limit,
        }
        .limit()?;
        let search = match q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => Some(search::parse_query(text).map_err(|e| match e {
                QueryError::TooLong => invalid_query(
                    "q",
                    msg(
                        format!("搜索词太长（最多 {} 个字）。", search::MAX_QUERY_CHARS),
                        format!(
                            "The query is too long (at most {} characters).",
                            search::MAX_QUERY_CHARS
                        ),
                    ),
                ),
                QueryError::NothingSearchable => invalid_query(
                    "q",
                    msg(
                        "搜索词需要包含文字或数字。",
                        "The query must contain letters or digits.",
                    ),
                ),
            })?),
        };
        let stage = match q.age_stage.as_deref() {
            None | Some("") => None,
            Some(code) => Some(parse_age_stages(&[code.to_owned()]).map_err(|m| invalid_query("age_stage", m))?[0]),
        };
        let topic = match q.topic.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) => {
                if !self.topics().await?.iter().any(|k| k == t) {
                    return Err(invalid_query(
                        "topic",
                        msg(format!("未知的主题“{t}”。"), format!("Unknown topic {t:?}.")),
                    ));
                }
                Some(t.to_owned())
            }
        };
        let status = match q.status.as_deref() {
            None | Some("") => None,
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                invalid_query(
                    "status",
                    msg(
                        "状态只能是 draft、in_review、published 或 archived。",
                        "status must be draft, in_review, published or archived.",
                    ),
                )
            })?),
        };
        let cursor = match q.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => {
                Some(parse_cursor(c).ok_or_else(|| invalid_query("cursor", msg("分页游标无效。", "Invalid cursor.")))?)
            }
        };
        let fetch = i64::from(limit) + 1;
        let scope = Scope::load(&self.db, viewer).await?;
        let fits = match q.fits_list {
            Some(list) => Some(self.list_audience(viewer, list).await?),
            None => None,
        };

        let rows: Vec<(CourseRow, i64)> = with_db!(&self.db, |pool| {
            // The inner query picks the page (ids and scores only); the outer one fetches the
            // columns of those rows alone.
            let mut qb = sqlx::QueryBuilder::new("SELECT ");
            qb.push(SUMMARY_COLUMNS);
            qb.push(", p.score AS score FROM (SELECT c.id AS id, ");
            if let Some(query) = &search {
                qb.push(
                    "s.score AS score FROM courses c JOIN (SELECT course_id, SUM(score) AS score, COUNT(*) \
                     AS n \
                     FROM search_terms WHERE term IN (",
                );
                let mut sep = qb.separated(", ");
                for t in &query.terms {
                    sep.push_bind(t.as_str());
                }
                qb.push(") GROUP BY course_id) s ON s.course_id = c.id WHERE s.n = ");
                qb.push_bind(query.terms.len() as i64);
                for phrase in query.phrases_needing_check() {
                    qb.push(" AND EXISTS (SELECT 1 FROM course_texts ct WHERE ct.course_id = c.id AND ct.text LIKE ");
                    qb.push_bind(format!("%{phrase}%"));
                    qb.push(")");
                }
            } else {
                qb.push("CAST(0 AS BIGINT) AS score FROM courses c WHERE 1 = 1");
            }
            qb.push(" AND ");
            push_visible!(qb, scope);
            if let Some(stage) = stage {
                qb.push(
                    " AND EXISTS (SELECT 1 FROM course_age_stages a WHERE a.course_id = c.id AND \
                     a.age_stage \
                     = ",
                );
                qb.push_bind(stage.code());
                qb.push(")");
            }
            if let Some(topic) = &topic {
                qb.push(" AND EXISTS (SELECT 1 FROM course_topics t WHERE t.course_id = c.id AND t.topic = ");
                qb.push_bind(topic.as_str());
                qb.push(")");
            }
            if let Some(year) = q.year {
                qb.push(" AND c.year = ");
                qb.push_bind(year);
            }
            if let Some(list) = q.list {
                qb.push(
                    " AND EXISTS (SELECT 1 FROM course_list_items li WHERE li.course_id = c.id AND \
                     li.list_id = ",
                );
                qb.push_bind(list);
                qb.push(")");
            }
            if let Some((list_public, list_scope)) = &fits {
                qb.push(" AND c.status = 'published' AND (c.visibility = 'public'");
                if !list_public {
                    qb.push(" OR ");
                    platform::scope::push_within(&mut qb, list_scope.clone(), "c.scope_path");
                }
                qb.push(")");
            }
            if let Some(status) = status {
                qb.push(" AND c.status = ");
                qb.push_bind(status.as_str());
            }
            match (&cursor, search.is_some()) {
                (Some(Cursor::Scored(score, id)), true) => {
                    qb.push(" AND (s.score < ");
                    qb.push_bind(*score);
                    qb.push(" OR (s.score = ");
                    qb.push_bind(*score);
                    qb.push(" AND c.id < ");
                    qb.push_bind(*id);
                    qb.push("))");
                }
                (Some(Cursor::Id(id)), false) => {
                    qb.push(" AND c.id < ");
                    qb.push_bind(*id);
                }
                (None, _) => {}
                _ => return Err(invalid_query("cursor", msg("分页游标无效。", "Invalid cursor."))),
            }
            qb.push(if search.is_some() {
                " ORDER BY s.score DESC, c.id DESC LIMIT "
            } else {
                " ORDER BY c.id DESC LIMIT "
            });
            qb.push_bind(fetch);
            qb.push(") p JOIN courses c ON c.id = p.id ORDER BY p.score DESC, c.id DESC");
            let rows = qb.build().fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                use sqlx::{FromRow, Row};
                out.push((CourseRow::from_row(row)?, row.try_get::<i64, _>("score")?));
            }
            out
        });
        let more = rows.len() > limit as usize;
        let rows = &rows[..rows.len().min(limit as usize)];
        let next_cursor = if more {
            rows.last().map(|(r, score)| {
                let raw = if search.is_some() {
                    format!("s{score}:{}", r.id)
                } else {
                    format!("i{}", r.id)
                };
                URL_SAFE_NO_PAD.encode(raw)
            })
        } else {
            None
        };
        Ok(Page {
            items: rows.iter().map(|(r, _)| r.summary()).collect(),
            next_cursor,
        })
    }
}

/// List or search courses.
#[utoipa::path(get, path = "/api/v1/courses", tag = "catalog", params(CourseQuery),
    responses((status = 200, body = Page<CourseSummary>), (status = 304), (status = 422)))]
async fn list_courses(
    State(cat): State<Catalog>,
    MaybeAuth(viewer): MaybeAuth,
    headers: HeaderMap,
    Query(q): Query<CourseQuery>,
) -> ApiResult<Response> {
    let page = cat.find_courses(viewer.as_ref(), &q).await?;
    Ok(cached_json(&headers, &page, viewer.is_some()))
}

/// Create a course (experts, curators, admins); it starts as a draft.
#[utoipa::path(post, path = "/api/v1/courses", tag = "catalog", request_body = CourseInput,
    responses((status = 201, body = CourseView), (status = 403), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn create_course(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Json(input): Json<CourseInput>,
) -> ApiResult<(StatusCode, Json<CourseView>)> {
    auth.require_role(&[Role::Expert, Role::Curator, Role::Admin])?;
    if input.version.is_some() {
        return Err(ApiError::invalid_field(
            "version",
            msg("新建课程不需要版本号。", "version is only for updates."),
        ));
    }
    let actor = Actor::User(auth);
    let prepared = cat.prepare(&actor, input, None).await?;
    let id = CourseId::new();
    cat.persist(id, &prepared, Some(auth.id), None, Status::Draft).await?;
    let row = cat.course_row(id).await?.ok_or_else(course_not_found)?;
    Ok((StatusCode::CREATED, Json(cat.course_view(&actor, row).await?)))
}

/// One course with its lessons.
#[utoipa::path(get, path = "/api/v1/courses/{id}", tag = "catalog", params(("id" = CourseId, Path)),
    responses((status = 200, body = CourseView), (status = 304), (status = 404)))]
async fn get_course(
    State(cat): State<Catalog>,
    MaybeAuth(viewer): MaybeAuth,
    headers: HeaderMap,
    Path(id): Path<CourseId>,
) -> ApiResult<Response> {
    if !cat.visible(viewer.as_ref(), id).await? {
        return Err(course_not_found());
    }
    let row = cat.course_row(id).await?.ok_or_else(course_not_found)?;
    let view = match viewer {
        Some(u) => cat.course_view(&Actor::User(u), row).await?,
        None => CourseView {
            lessons: cat.lessons(row.id).await?,
            editable: false,
            course: row.summary(),
        },
    };
    Ok(cached_json(&headers, &view, viewer.is_some()))
}

/// Edit a course (send `version` to guard against concurrent edits).
#[utoipa::path(patch, path = "/api/v1/courses/{id}", tag = "catalog", params(("id" = CourseId, Path)), request_body = CourseInput,
    responses((status = 200, body = CourseView), (status = 403), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn update_course(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
    Json(input): Json<CourseInput>,
) -> ApiResult<Json<CourseView>> {
    let actor = Actor::User(auth);
    if !cat.visible(Some(&auth), id).await? {
        return Err(course_not_found());
    }
    let row = cat.course_row(id).await?.ok_or_else(course_not_found)?;
    if !cat.may_edit(&actor, &row).await? {
        return Err(ApiError::forbidden(
            "forbidden_edit",
            msg(
                "你不能修改这门课程（作者只能修改草稿）。",
                "You may not edit this course (authors edit drafts only).",
            ),
        ));
    }
    let expected = input.version;
    let prepared = cat.prepare(&actor, input, Some(&row)).await?;
    cat.persist(
        id,
        &prepared,
        row.author_id,
        Some((row.version, expected)),
        row.status(),
    )
    .await?;
    let row = cat.course_row(id).await?.ok_or_else(course_not_found)?;
    Ok(Json(cat.course_view(&actor, row).await?))
}

/// Move a course through review: submit (in_review), publish, archive, or back to draft with a reason.
#[utoipa::path(post, path = "/api/v1/courses/{id}/transitions", tag = "catalog", params(("id" = CourseId, Path)),
    request_body = TransitionRequest,
    responses((status = 200, body = CourseView), (status = 403), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn transition(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
    Json(req): Json<TransitionRequest>,
) -> ApiResult<Json<CourseView>> {
    if !cat.visible(Some(&auth), id).await? {
        return Err(course_not_found());
    }
    let row = cat.course_row(id).await?.ok_or_else(course_not_found)?;
    let actor = Actor::User(auth);
    cat.transition(&actor, &row, req.to, &req.comment).await?;
    let row = cat.course_row(id).await?.ok_or_else(course_not_found)?;
    Ok(Json(cat.course_view(&actor, row).await?))
}

/// The review trail of a course (curators in scope and its author).
#[utoipa::path(get, path = "/api/v1/courses/{id}/reviews", tag = "catalog", params(("id" = CourseId, Path)),
    responses((status = 200, body = Vec<ReviewEvent>), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn reviews(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
) -> ApiResult<Json<Vec<ReviewEvent>>> {
    let row = cat.course_row(id).await?.ok_or_else(course_not_found)?;
    if row.author_id != Some(auth.id) && !cat.manages_path(&auth, &row.owner_path).await? {
        return Err(if cat.visible(Some(&auth), id).await? {
            ApiError::forbidden(
                "out_of_scope",
                msg(
                    "只有作者和管辖范围内的工作人员可以查看审核记录。",
                    "Only the author and curators in scope see the review trail.",
                ),
            )
        } else {
            course_not_found()
        });
    }
    #[derive(sqlx::FromRow)]
    struct Row {
        from_status: String,
        to_status: String,
        actor_id: Option<UserId>,
        actor_name: Option<String>,
        comment: String,
        created_at: Timestamp,
    }
    let rows: Vec<Row> = with_db!(&cat.db, |pool| {
        sqlx::query_as::<_, Row>(
            "SELECT r.from_status, r.to_status, r.actor_id, u.display_name AS actor_name, \
             r.comment, \
             r.created_at
         FROM review_events r LEFT JOIN users u ON u.id = r.actor_id WHERE r.course_id = $1 \
             ORDER BY r.created_at, \
             r.id",
        )
        .bind(id)
        .fetch_all(pool)
        .await
    })?;
    Ok(Json(
        rows.into_iter()
            .map(|r| ReviewEvent {
                from: Status::parse(&r.from_status).unwrap_or(Status::Draft),
                to: Status::parse(&r.to_status).unwrap_or(Status::Draft),
                actor_id: r.actor_id.unwrap_or(UserId(uuid::Uuid::nil())),
                actor_name: r.actor_name.unwrap_or_else(|| "批量导入".into()),
                comment: r.comment,
                at: r.created_at,
            })
            .collect(),
    ))
}

/// The topic vocabulary.
#[utoipa::path(get, path = "/api/v1/topics", tag = "catalog", responses((status = 200, body = Vec<Topic>)))]
async fn list_topics(State(cat): State<Catalog>, headers: HeaderMap) -> ApiResult<Response> {
    let topics: Vec<Topic> = cat.topics().await?.into_iter().map(|name| Topic { name }).collect();
    Ok(cached_json(&headers, &topics, false))
}

/// Add a topic (curators and admins).
#[utoipa::path(post, path = "/api/v1/topics", tag = "catalog", request_body = NewTopic,
    responses((status = 201, body = Topic), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn create_topic(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Json(req): Json<NewTopic>,
) -> ApiResult<(StatusCode, Json<Topic>)> {
    auth.require_role(&[Role::Curator, Role::Admin])?;
    let name = validate::name(&req.name, 12).map_err(|m| ApiError::invalid_field("name", m))?;
    if search::parse_query(&name).is_err() {
        return Err(ApiError::invalid_field(
            "name",
            msg("主题名需要包含文字。", "A topic name needs letters."),
        ));
    }
    db_execute!(
        &cat.db,
        "INSERT INTO topics (name, position, created_at) VALUES ($1, (SELECT \
         COALESCE(MAX(position), 0) + 1 FROM topics), $2)",
        &name,
        cat.clock.now()
    )
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            ApiError::conflict("topic_exists", msg("该主题已存在。", "This topic exists already."))
        }
        _ => ApiError::internal(e),
    })?;
    Ok((StatusCode::CREATED, Json(Topic { name })))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct AgeStageView {
    code: &'static str,
    label: &'static str,
}

/// The age stages with their Chinese labels.
#[utoipa::path(get, path = "/api/v1/age-stages", tag = "catalog", responses((status = 200, body = Vec<AgeStageView>)))]
async fn age_stages(headers: HeaderMap) -> Response {
    let stages: Vec<AgeStageView> = AgeStage::ALL
        .iter()
        .map(|s| AgeStageView {
            code: s.code(),
            label: s.label(),
        })
        .collect();
    cached_json(&headers, &stages, false)
}

const MAX_COVER_BYTES: usize = 5 * 1024 * 1024;

pub(crate) fn image_kind(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("jpg", "image/jpeg"))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("png", "image/png"))
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(("webp", "image/webp"))
    } else {
        None
    }
}

/// Upload the cover image (JPEG, PNG or WebP, at most 5 MB) as the raw request body.
#[utoipa::path(put, path = "/api/v1/courses/{id}/cover", tag = "catalog", params(("id" = CourseId, Path)),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 200, body = CourseView), (status = 413), (status = 422)), security(("bearer" = [])))]
async fn put_cover(
    State(cat): State<Catalog>,
    auth: AuthUser,
    Path(id): Path<CourseId>,
    RawBody(body): RawBody,
) -> ApiResult<Json<CourseView>> {
    let actor = Actor::User(auth);
    if !cat.visible(Some(&auth), id).await? {
        return Err(course_not_found());
    }
    let row = cat.course_row(id).await?.ok_or_else(course_not_found)?;
    if !cat.may_edit(&actor, &row).await? {
        return Err(ApiError::forbidden(
            "forbidden_edit",
            msg("你不能修改这门课程。", "You may not edit this course."),
        ));
    }
    cat.set_cover(id, body).await?;
    let row = cat.course_row(id).await?.ok_or_else(course_not_found)?;
    Ok(Json(cat.course_view(&actor, row).await?))
}

impl Catalog {
    /// Stores a cover image under a content-addressed key and points the course at it.
    pub(crate) async fn set_cover(&self, id: CourseId, body: bytes::Bytes) -> ApiResult<()> {
        let (ext, _) = image_kind(&body).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported_image",
                msg(
                    "封面必须是 JPEG、PNG 或 WebP 图片。",
                    "The cover must be a JPEG, PNG or WebP image.",
                ),
            )
        })?;
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&body);
        let key = format!("covers/{id}/{}.{ext}", URL_SAFE_NO_PAD.encode(&digest[..12]));
        self.store.put_bytes(&key, body).await?;
        let old: Option<Option<String>> = with_db!(&self.db, |pool| sqlx::query_scalar::<_, Option<String>>(
            "SELECT cover_key FROM courses WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        db_execute!(
            &self.db,
            "UPDATE courses SET cover_key = $2, version = version + 1, updated_at = $3 WHERE id = $1",
            id,
            &key,
            self.clock.now()
        )?;
        if let Some(Some(old)) = old.filter(|o| o.as_deref() != Some(key.as_str())) {
            // The course no longer points at it; a failure here only leaves an orphan object.
            let _ = self.store.delete(&old).await;
        }
        Ok(())
    }
}

/// A cover image (content-addressed, so cached for a year).
#[utoipa::path(get, path = "/api/v1/courses/{id}/cover/{file}", tag = "catalog",
    params(("id" = CourseId, Path), ("file" = String, Path)), responses((status = 200, content_type = "image/jpeg"), (status = 404)))]
async fn get_cover(State(cat): State<Catalog>, Path((id, file)): Path<(CourseId, String)>) -> ApiResult<Response> {
    let not_found = || ApiError::not_found("cover_not_found", msg("封面不存在。", "No such cover."));
    let key = format!("covers/{id}/{file}");
    let current: Option<Option<String>> = with_db!(&cat.db, |pool| sqlx::query_scalar::<_, Option<String>>(
        "SELECT cover_key FROM courses WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(pool)
    .await)?;
    if current.flatten().as_deref() != Some(key.as_str()) {
        return Err(not_found());
    }
    let bytes = cat.store.get_bytes(&key).await.map_err(|_| not_found())?;
    let mime = image_kind(&bytes).map_or("application/octet-stream", |(_, m)| m);
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// Checks that every course id exists, is published and is visible wherever the list is: public,
/// or scoped to an organization whose subtree contains the list's scope.
pub(crate) async fn check_list_items(
    cat: &Catalog,
    ids: &[CourseId],
    list_scope_path: &str,
    list_public: bool,
) -> ApiResult<()> {
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
        let mut e = ApiError::validation(errors);
        e.code = "invalid_list_item";
        Err(e)
    }
}
