//! Replay courses of live series: the server hands over a finished recording's asset and the
//! series it belongs to; the replay becomes a lesson of the series' replay course (one course
//! per series, whose id the series keeps), published to the series' audience.

use platform::ids::OrgId;

use crate::courses::Actor;
use crate::{Catalog, CatalogError, CatalogResult, CourseId, CourseInput, Lecturer, LessonId, Status, Visibility};

/// What a replay course is made of.
#[derive(Debug, Clone)]
pub struct ReplayCourse {
    /// The series' replay course, once made (its id is kept on the series, never looked up by
    /// an external id that any course editor could set).
    pub course_id: Option<CourseId>,
    pub title: String,
    pub summary: String,
    pub lecturer: String,
    /// The audience (`None`: everyone, a public course owned by `fallback_owner`).
    pub scope_org_id: Option<OrgId>,
    pub fallback_owner: Option<OrgId>,
    /// The series' age-stage codes; empty: every stage.
    pub age_stages: Vec<String>,
}

impl Catalog {
    /// Adds (once) a lesson for `asset_id` to the series' replay course, creating and
    /// publishing the course on first use. Returns the course and the lesson.
    pub async fn attach_replay(
        &self,
        c: &ReplayCourse,
        lesson_title: &str,
        asset_id: &str,
        duration_s: i32,
    ) -> CatalogResult<(CourseId, LessonId)> {
        let existing: Option<CourseId> = match c.course_id {
            Some(id) => self.existing_course(id).await?,
            None => None,
        };
        let course = match existing {
            Some(id) => id,
            None => {
                let owner = c.scope_org_id.or(c.fallback_owner);
                let input = CourseInput {
                    title: Some(format!("{}（直播回放）", c.title)),
                    summary: Some(c.summary.clone()),
                    lecturer: Some(Lecturer {
                        user_id: None,
                        name: c.lecturer.clone(),
                        title: String::new(),
                    }),
                    age_stages: Some(if c.age_stages.is_empty() {
                        crate::AgeStage::ALL.iter().map(|a| a.code().to_owned()).collect()
                    } else {
                        c.age_stages.clone()
                    }),
                    topics: Some(Vec::new()),
                    tags: Some(vec!["直播回放".to_owned()]),
                    visibility: Some(if c.scope_org_id.is_some() {
                        Visibility::Scoped
                    } else {
                        Visibility::Public
                    }),
                    scope_org_id: c.scope_org_id,
                    owner_org_id: owner,
                    ..CourseInput::default()
                };
                let prepared = self.prepare(&Actor::Importer, input, None).await?;
                let id = CourseId::new();
                self.persist(id, &prepared, None, None, Status::Published).await?;
                id
            }
        };
        if let Some(lesson) = self.lesson_with_asset(course, asset_id).await? {
            return Ok((course, lesson));
        }
        self.append_lesson(course, lesson_title, asset_id, duration_s.clamp(0, 86_400))
            .await?;
        let lesson = self
            .lesson_with_asset(course, asset_id)
            .await?
            .ok_or_else(|| CatalogError::Internal(anyhow::anyhow!("the replay lesson was not stored")))?;
        Ok((course, lesson))
    }
}
