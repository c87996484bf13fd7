//! The catalog's errors. Its methods return [`CatalogError`]; one table ([`CatalogError::problem`])
//! gives each variant its HTTP status, stable code and message in both languages, and the HTTP
//! edge turns it into a problem document once (`From<CatalogError> for ApiError`). Several
//! variants share a code (`out_of_scope`, `version_conflict`): the code is what clients branch
//! on, the variant is what the catalog knows about the case.

use axum::http::StatusCode;
use platform::ApiError;
use platform::error::{FieldError, codes, fields_text, msg};

use crate::Status;

pub type CatalogResult<T> = Result<T, CatalogError>;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("no such course, or the caller may not see it")]
    CourseNotFound,
    #[error("no such list, or the caller may not see it")]
    ListNotFound,
    #[error("no such cover")]
    CoverNotFound,
    #[error("no such lesson, or the caller may not see its course")]
    LessonNotFound,
    #[error("the lesson has no quiz")]
    QuizNotFound,
    #[error("the quiz changed since the caller read it")]
    QuizChanged,
    #[error("the course changed since the caller read it")]
    CourseVersionConflict,
    #[error("the list changed since the caller read it")]
    ListVersionConflict,
    /// An author outside the review workflow's draft stage, or anyone else who may not edit.
    #[error("the caller may not edit this course")]
    CourseNotEditable { drafts_only: bool },
    #[error("the caller may not edit this list")]
    ListNotEditable,
    #[error("the list's owner or scope lies outside the caller's scope")]
    ListOrgsOutOfScope,
    #[error("the caller may not author courses for that organization")]
    OwnerOutOfScope,
    #[error("the course's scope lies outside its owner and the caller's scope")]
    ScopeOutOfScope,
    #[error("only the author and curators in scope see the review trail")]
    ReviewTrailOutOfScope,
    #[error("only admins and province-level curators may make something public")]
    PublicNotAllowed,
    #[error("another course has this external id")]
    ExternalIdTaken,
    #[error("the topic exists already")]
    TopicExists,
    #[error("the cover is not a JPEG, PNG or WebP image")]
    UnsupportedImage,
    #[error("a {} course cannot become {}", from.as_str(), to.as_str())]
    InvalidTransition { from: Status, to: Status },
    #[error("the caller's scope does not cover the course's organization")]
    ForbiddenTransition,
    #[error("a course needs a lesson to be published")]
    CourseHasNoLessons,
    /// Invalid fields of a request (`validation_failed`).
    #[error("invalid fields: {}", fields_text(.0))]
    Invalid(Vec<FieldError>),
    /// Courses that cannot go into a list, one entry per course (`invalid_list_item`).
    #[error("invalid list items: {}", fields_text(.0))]
    InvalidListItems(Vec<FieldError>),
    /// What the platform refused on the catalog's behalf (a role, an organization, a page).
    #[error(transparent)]
    Platform(#[from] ApiError),
    /// The database, the object store or an invariant broke: a 500 (a 503 for an unreachable
    /// database), its cause logged.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl CatalogError {
    /// The table: the status, stable code and message of each variant.
    fn into_problem(self) -> ApiError {
        use StatusCode as S;
        let (status, code, message) = match self {
            Self::CourseNotFound => (
                S::NOT_FOUND,
                "course_not_found",
                msg("课程不存在或你无权查看。", "No such course, or you may not see it."),
            ),
            Self::ListNotFound => (
                S::NOT_FOUND,
                "list_not_found",
                msg("清单不存在或你无权查看。", "No such list, or you may not see it."),
            ),
            Self::CoverNotFound => (S::NOT_FOUND, "cover_not_found", msg("封面不存在。", "No such cover.")),
            Self::LessonNotFound => (
                S::NOT_FOUND,
                "lesson_not_found",
                msg("课时不存在或你无权查看。", "No such lesson, or you may not see it."),
            ),
            Self::QuizNotFound => (
                S::NOT_FOUND,
                "quiz_not_found",
                msg("这节课没有课后小测。", "This lesson has no quiz."),
            ),
            Self::QuizChanged => (
                S::CONFLICT,
                "quiz_changed",
                msg(
                    "小测题目已更新，请刷新后重新作答。",
                    "The quiz has changed: reload it and answer again.",
                ),
            ),
            Self::CourseVersionConflict => (
                S::CONFLICT,
                codes::VERSION_CONFLICT,
                msg(
                    "内容已被他人修改，请刷新后再试。",
                    "Someone else changed this in the meantime; reload and try again.",
                ),
            ),
            Self::ListVersionConflict => (
                S::CONFLICT,
                codes::VERSION_CONFLICT,
                msg(
                    "清单已被他人修改，请刷新后再试。",
                    "Someone else changed this list in the meantime; reload and try again.",
                ),
            ),
            Self::CourseNotEditable { drafts_only: true } => (
                S::FORBIDDEN,
                "forbidden_edit",
                msg(
                    "你不能修改这门课程（作者只能修改草稿）。",
                    "You may not edit this course (authors edit drafts only).",
                ),
            ),
            Self::CourseNotEditable { drafts_only: false } => (
                S::FORBIDDEN,
                "forbidden_edit",
                msg("你不能修改这门课程。", "You may not edit this course."),
            ),
            Self::ListNotEditable => (
                S::FORBIDDEN,
                codes::OUT_OF_SCOPE,
                msg("你不能修改这个清单。", "You may not edit this list."),
            ),
            Self::ListOrgsOutOfScope => (
                S::FORBIDDEN,
                codes::OUT_OF_SCOPE,
                msg(
                    "所属组织和可见范围必须在你的管理范围内。",
                    "The owner and scope must be within your scope.",
                ),
            ),
            Self::OwnerOutOfScope => (
                S::FORBIDDEN,
                codes::OUT_OF_SCOPE,
                msg(
                    "你不能以该组织的名义发布课程。",
                    "You may not author courses for that organization.",
                ),
            ),
            Self::ScopeOutOfScope => (
                S::FORBIDDEN,
                codes::OUT_OF_SCOPE,
                msg(
                    "可见范围必须在所属组织或你管理的范围之内。",
                    "The scope must lie within the owning organization or your own scope.",
                ),
            ),
            Self::ReviewTrailOutOfScope => (
                S::FORBIDDEN,
                codes::OUT_OF_SCOPE,
                msg(
                    "只有作者和管辖范围内的工作人员可以查看审核记录。",
                    "Only the author and curators in scope see the review trail.",
                ),
            ),
            Self::PublicNotAllowed => (
                S::FORBIDDEN,
                "public_not_allowed",
                msg(
                    "只有管理员和省级工作人员可以设为全网公开。",
                    "Only admins and province-level curators may make something public.",
                ),
            ),
            Self::ExternalIdTaken => (
                S::CONFLICT,
                "external_id_taken",
                msg(
                    "外部编号已被另一门课程使用。",
                    "Another course already has this external_id.",
                ),
            ),
            Self::TopicExists => (
                S::CONFLICT,
                "topic_exists",
                msg("该主题已存在。", "This topic exists already."),
            ),
            Self::UnsupportedImage => (
                S::UNPROCESSABLE_ENTITY,
                "unsupported_image",
                msg(
                    "封面必须是 JPEG、PNG 或 WebP 图片。",
                    "The cover must be a JPEG, PNG or WebP image.",
                ),
            ),
            Self::InvalidTransition { from, to } => (
                S::CONFLICT,
                "invalid_transition",
                msg(
                    format!("课程当前为“{}”，不能改为“{}”。", from.label(), to.label()),
                    format!("A course that is {} cannot become {}.", from.as_str(), to.as_str()),
                ),
            ),
            Self::ForbiddenTransition => (
                S::FORBIDDEN,
                "forbidden_transition",
                msg(
                    "只有管辖该课程所属组织的工作人员可以进行此审核操作。",
                    "Only a curator whose scope covers the course's organization may do this.",
                ),
            ),
            Self::CourseHasNoLessons => (
                S::UNPROCESSABLE_ENTITY,
                "course_has_no_lessons",
                msg(
                    "课程至少需要一节课才能发布。",
                    "A course needs at least one lesson to be published.",
                ),
            ),
            Self::Invalid(fields) => return ApiError::validation(fields),
            Self::InvalidListItems(fields) => {
                let mut e = ApiError::validation(fields);
                e.code = "invalid_list_item";
                return e;
            }
            Self::Platform(e) => return e,
            Self::Internal(cause) => return ApiError::internal(cause),
        };
        ApiError::new(status, code, message)
    }
}

platform::domain_error!(CatalogError);
