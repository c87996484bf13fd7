//! 为你推荐: the home page's rows by the caller's children, one row per child in an age stage.
//! A row takes the courses for the child's stage from the curated lists the parent sees, the
//! lists of their own school (the deepest audience) first, then those of the district, city
//! and province above it, then public lists, each in list order; then, to fill the row, the
//! newest other courses for that stage.

use platform::auth::AuthUser;
use platform::children::{self, ChildView};
use platform::ids::ChildId;
use platform::stages::AgeStage;
use serde::Serialize;
use utoipa::ToSchema;

use super::MAX_ITEMS;
use crate::model::*;
use crate::{Catalog, CatalogResult, CourseQuery};

/// Courses per row.
pub const ROW: usize = 12;
/// Lists looked at for the rows (the nearest first).
const LISTS: i64 = 50;

#[derive(Debug, Serialize, ToSchema)]
pub struct Recommendations {
    /// One row per child in an age stage, in the order the children were added; empty when the
    /// caller added none (the page then offers to add one).
    pub rows: Vec<RecommendationRow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendationRow {
    pub child_id: ChildId,
    pub nickname: String,
    pub stage: AgeStage,
    pub stage_label: String,
    pub courses: Vec<RecommendedCourse>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecommendedCourse {
    #[serde(flatten)]
    pub course: CourseSummary,
    /// The curated list it was taken from (`null`: one of the newest for the stage).
    pub list_id: Option<ListId>,
    pub list_title: Option<String>,
}

/// How near a list's audience is to the parent: the depth of its scope (public lists: 0).
fn nearness(visibility: Visibility, scope_path: &str) -> usize {
    if visibility == Visibility::Public {
        0
    } else {
        scope_path.split('/').filter(|s| !s.is_empty()).count()
    }
}

/// Whether a course is for `stage` (a course naming no stage is for all).
fn for_stage(c: &CourseSummary, stage: AgeStage) -> bool {
    c.age_stages.is_empty() || c.age_stages.contains(&stage)
}

impl Catalog {
    /// The caller's rows (see the module doc).
    pub async fn recommendations(&self, user: &AuthUser) -> CatalogResult<Recommendations> {
        let kids: Vec<(ChildView, AgeStage)> = children::children_of(&self.db, user.id, self.clock.now())
            .await?
            .into_iter()
            .filter_map(|c| c.stage.map(|s| (c, s)))
            .collect();
        if kids.is_empty() {
            return Ok(Recommendations { rows: Vec::new() });
        }
        let mut lists = self.list_rows(Some(user), None, None, LISTS).await?;
        // Stable: within one depth the newest year stays first.
        lists.sort_by_key(|l| std::cmp::Reverse(nearness(l.visibility, &l.scope_path)));
        let ids: Vec<ListId> = lists.iter().map(|l| l.id).collect();
        let mut per_list = self.list_courses(Some(user), &ids, MAX_ITEMS).await?;
        let listed: Vec<(ListId, String, Vec<CourseSummary>)> = lists
            .into_iter()
            .map(|l| {
                (
                    l.id,
                    l.title,
                    per_list.remove(&l.id).map(|(c, _)| c).unwrap_or_default(),
                )
            })
            .collect();
        let mut rows = Vec::with_capacity(kids.len());
        for (child, stage) in kids {
            let mut courses: Vec<RecommendedCourse> = Vec::new();
            for (id, title, list) in &listed {
                for c in list.iter().filter(|c| for_stage(c, stage)) {
                    if courses.len() < ROW && !courses.iter().any(|r| r.course.id == c.id) {
                        courses.push(RecommendedCourse {
                            course: c.clone(),
                            list_id: Some(*id),
                            list_title: Some(title.clone()),
                        });
                    }
                }
            }
            if courses.len() < ROW {
                let newest = self
                    .find_courses(
                        Some(user),
                        &CourseQuery {
                            age_stage: Some(stage.code().to_owned()),
                            status: Some("published".into()),
                            limit: Some(ROW as u32 * 2),
                            ..CourseQuery::default()
                        },
                    )
                    .await?;
                for c in newest.items {
                    if courses.len() < ROW && !courses.iter().any(|r| r.course.id == c.id) {
                        courses.push(RecommendedCourse {
                            course: c,
                            list_id: None,
                            list_title: None,
                        });
                    }
                }
            }
            rows.push(RecommendationRow {
                child_id: child.id,
                nickname: child.nickname,
                stage,
                stage_label: stage.label().to_owned(),
                courses,
            });
        }
        Ok(Recommendations { rows })
    }
}
