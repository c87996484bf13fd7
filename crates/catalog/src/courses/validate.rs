//! What a course edit may contain, and who may make it: [`Catalog::prepare`] checks an input
//! (merged over the stored course for updates) and returns what to store.

use platform::error::{FieldError, msg};
use platform::orgs;
use platform::validate::{self, Role};

use super::*;
use crate::Catalog;
use crate::{CatalogError, CatalogResult};

impl Catalog {
    /// Validates `input` (merged over `existing` for updates), checks `actor`'s rights, and
    /// returns what to store.
    pub(crate) async fn prepare(
        &self,
        actor: &Actor,
        input: CourseInput,
        existing: Option<&CourseRow>,
    ) -> CatalogResult<Prepared> {
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
                        Some(c) => self.lesson_assets(c.id).await?,
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
            return Err(CatalogError::Invalid(errors));
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
            return Err(CatalogError::Invalid(errors));
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
                    return Err(CatalogError::OwnerOutOfScope);
                }
            }
            // Within the owner, or an audience the user addresses (what they manage; a partner
            // unit's people also what it serves).
            if !platform::scope::within(&scope_path, &owner_path)
                && !Scope::load(&self.db, Some(user)).await?.addresses(&scope_path)
            {
                return Err(CatalogError::ScopeOutOfScope);
            }
            let was_public = old.as_ref().is_some_and(|o| o.visibility == Visibility::Public);
            self.check_public(user, was_public, visibility).await?;
        }

        let Some(title) = title else {
            return Err(CatalogError::Invalid(errors));
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
}
