//! Catalog value types and API shapes.

use platform::Timestamp;
use platform::ids::{OrgId, UserId};
use platform::validate::UnknownValue;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

platform::new_id!(
    /// A course.
    CourseId
);
platform::new_id!(
    /// A lesson of a course.
    LessonId
);
platform::new_id!(
    /// A curated list.
    ListId
);

pub use platform::stages::{AgeStage, parse_age_stages};

/// Review status of a course.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    InReview,
    Published,
    Archived,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::InReview => "in_review",
            Self::Published => "published",
            Self::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "draft" => Self::Draft,
            "in_review" => Self::InReview,
            "published" => Self::Published,
            "archived" => Self::Archived,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Draft => "草稿",
            Self::InReview => "待审核",
            Self::Published => "已发布",
            Self::Archived => "已归档",
        }
    }
}

/// Who may see a course or list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Everyone, signed in or not.
    Public,
    /// Members of the scope organization's subtree.
    Scoped,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Scoped => "scoped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "public" => Self::Public,
            "scoped" => Self::Scoped,
            _ => return None,
        })
    }
}

/// Rows decode their status and visibility columns straight into the enums.
impl TryFrom<String> for Status {
    type Error = UnknownValue;
    fn try_from(s: String) -> Result<Self, UnknownValue> {
        Self::parse(&s).ok_or(UnknownValue(s))
    }
}

impl TryFrom<String> for Visibility {
    type Error = UnknownValue;
    fn try_from(s: String) -> Result<Self, UnknownValue> {
        Self::parse(&s).ok_or(UnknownValue(s))
    }
}

/// The lecturer of a course: an expert account, or a free-text name with title/affiliation.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lecturer {
    pub user_id: Option<UserId>,
    #[serde(default)]
    pub name: String,
    /// Title and affiliation, e.g. “华东师范大学 教授”.
    #[serde(default)]
    pub title: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LessonView {
    pub id: LessonId,
    pub position: i32,
    pub title: String,
    /// The media asset (opaque to the catalog).
    pub asset_id: Option<String>,
    pub duration_s: i32,
    /// Whether the lesson has a quiz (课后小测, `GET /lessons/{id}/quiz`).
    pub quiz: bool,
}

/// A course as lists and search show it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CourseSummary {
    pub id: CourseId,
    pub external_id: Option<String>,
    pub title: String,
    pub summary: String,
    pub cover_url: Option<String>,
    pub lecturer: Lecturer,
    pub age_stages: Vec<AgeStage>,
    pub topics: Vec<String>,
    pub tags: Vec<String>,
    pub language: String,
    pub year: i32,
    pub status: Status,
    pub owner_org_id: OrgId,
    pub author_id: Option<UserId>,
    pub visibility: Visibility,
    pub scope_org_id: OrgId,
    pub lesson_count: i64,
    pub total_duration_s: i64,
    pub version: i32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub published_at: Option<Timestamp>,
}

/// A course with its lessons.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CourseView {
    #[serde(flatten)]
    pub course: CourseSummary,
    pub lessons: Vec<LessonView>,
    /// Whether the caller may edit it.
    pub editable: bool,
}

/// Course fields for create (`title`, `age_stages` required) and update (all optional).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseInput {
    pub external_id: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub lecturer: Option<Lecturer>,
    /// Codes: prenatal, 0-3, 3-6, 6-12, 12-15, 15-18.
    pub age_stages: Option<Vec<String>>,
    /// Topic names from `GET /api/v1/topics`.
    pub topics: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub language: Option<String>,
    pub year: Option<i32>,
    pub visibility: Option<Visibility>,
    pub scope_org_id: Option<OrgId>,
    /// The owning organization (default: the author's first organization).
    pub owner_org_id: Option<OrgId>,
    /// Replaces the lessons (create, or update while editing).
    pub lessons: Option<Vec<LessonInput>>,
    /// With an update: the version the change is based on (409 when stale).
    pub version: Option<i32>,
}

#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LessonInput {
    /// Keep an existing lesson's id when reordering or renaming.
    pub id: Option<LessonId>,
    pub title: String,
    pub asset_id: Option<String>,
    #[serde(default)]
    pub duration_s: i32,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    pub to: Status,
    #[serde(default)]
    pub comment: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReviewEvent {
    pub from: Status,
    pub to: Status,
    pub actor_id: UserId,
    pub actor_name: String,
    pub comment: String,
    pub at: Timestamp,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Topic {
    pub name: String,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTopic {
    pub name: String,
}

/// A curated list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ListView {
    pub id: ListId,
    pub title: String,
    pub year: i32,
    pub theme: String,
    pub description: String,
    pub owner_org_id: OrgId,
    pub visibility: Visibility,
    pub scope_org_id: OrgId,
    pub published_from: Option<Timestamp>,
    pub published_until: Option<Timestamp>,
    pub version: i32,
    /// Courses the caller can see, in list order (on the index: the first few).
    pub courses: Vec<CourseSummary>,
    /// How many courses the caller can see in the list.
    pub course_count: usize,
    pub editable: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    pub title: Option<String>,
    pub year: Option<i32>,
    pub theme: Option<String>,
    pub description: Option<String>,
    pub visibility: Option<Visibility>,
    pub scope_org_id: Option<OrgId>,
    pub owner_org_id: Option<OrgId>,
    /// RFC 3339; parents see the list from then on (default: at once).
    pub published_from: Option<Timestamp>,
    /// RFC 3339; parents no longer see the list from then on (default: never).
    pub published_until: Option<Timestamp>,
    pub version: Option<i32>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListItemsRequest {
    /// The whole ordered list.
    pub course_ids: Vec<CourseId>,
    /// The list's current version (409 `version_conflict` when stale).
    pub version: i32,
}

/// A lesson and its course, found by the media asset it plays.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct LessonRef {
    pub asset_id: String,
    pub lesson_id: LessonId,
    pub lesson_title: String,
    pub position: i32,
    pub course_id: CourseId,
    pub course_title: String,
    /// How many lessons the course has.
    pub course_lesson_count: i64,
}
