//! The evaluation's errors: one table ([`EvaluationError::into_problem`]) gives each variant its
//! status, stable code and message in both languages. What another domain refused (a course or
//! lecture the caller may not see) keeps that domain's problem.

use axum::http::StatusCode;
use platform::ApiError;
use platform::error::{FieldError, codes, fields_text, msg};

pub type EvaluationResult<T> = Result<T, EvaluationError>;

#[derive(Debug, thiserror::Error)]
pub enum EvaluationError {
    /// Rating what one has not studied: a course none of whose lessons they watched, a lecture
    /// they did not attend.
    #[error("only those who studied it may rate it")]
    NotStudied { live: bool },
    #[error("only its expert and the staff in scope see its ratings")]
    RatingsOutOfScope,
    #[error("no such certificate rule, or the caller does not manage it")]
    RuleNotFound,
    #[error("no such certificate")]
    CertificateNotFound,
    #[error("only the issuing organization's staff may revoke it")]
    RevocationOutOfScope,
    #[error("the certificate was revoked already")]
    AlreadyRevoked,
    /// The server has no CJK font to draw certificates with.
    #[error("no CJK font for certificates")]
    FontMissing,
    #[error("the seal is not a PNG of at most 1 MB and 2000 × 2000 pixels")]
    BadSeal,
    #[error("the organization has no seal")]
    SealNotFound,
    #[error("invalid fields: {}", fields_text(.0))]
    Invalid(Vec<FieldError>),
    /// What the platform or another domain refused, kept as its problem.
    #[error(transparent)]
    Platform(#[from] ApiError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl EvaluationError {
    fn into_problem(self) -> ApiError {
        use StatusCode as S;
        let (status, code, message) = match self {
            Self::NotStudied { live: false } => (
                S::FORBIDDEN,
                "not_studied",
                msg(
                    "学习过这门课程后才能评价。",
                    "You can rate a course once you have studied it.",
                ),
            ),
            Self::NotStudied { live: true } => (
                S::FORBIDDEN,
                "not_studied",
                msg(
                    "参加过这场直播或活动后才能评价。",
                    "You can rate a lecture once you have taken part.",
                ),
            ),
            Self::RatingsOutOfScope => (
                S::FORBIDDEN,
                codes::OUT_OF_SCOPE,
                msg(
                    "只有主讲专家和管辖范围内的工作人员可以查看评价。",
                    "Only its expert and the staff in scope see its ratings.",
                ),
            ),
            Self::RuleNotFound => (
                S::NOT_FOUND,
                "certificate_rule_not_found",
                msg(
                    "证书规则不存在或不在你的管理范围内。",
                    "No such certificate rule in your scope.",
                ),
            ),
            Self::CertificateNotFound => (
                S::NOT_FOUND,
                "certificate_not_found",
                msg(
                    "没有这个编号的证书，请核对证书编号。",
                    "No certificate has this code: check it again.",
                ),
            ),
            Self::RevocationOutOfScope => (
                S::FORBIDDEN,
                codes::OUT_OF_SCOPE,
                msg(
                    "只有发证单位的工作人员可以撤销证书。",
                    "Only the issuing organization's staff may revoke a certificate.",
                ),
            ),
            Self::AlreadyRevoked => (
                S::CONFLICT,
                "certificate_revoked",
                msg("这张证书已被撤销。", "This certificate was revoked already."),
            ),
            Self::FontMissing => (
                S::SERVICE_UNAVAILABLE,
                "certificate_font_missing",
                msg(
                    "服务器缺少中文字体，暂时无法生成证书图片，请联系管理员安装 fonts-noto-cjk。",
                    "The server has no Chinese font to draw certificates: ask the admin to install fonts-noto-cjk.",
                ),
            ),
            Self::BadSeal => (
                S::UNPROCESSABLE_ENTITY,
                "unsupported_image",
                msg(
                    "公章图片须为 PNG，不超过 1 MB、2000×2000 像素。",
                    "The seal must be a PNG of at most 1 MB and 2000 × 2000 pixels.",
                ),
            ),
            Self::SealNotFound => (
                S::NOT_FOUND,
                "seal_not_found",
                msg("还没有上传公章图片。", "No seal has been uploaded."),
            ),
            Self::Invalid(fields) => return ApiError::validation(fields),
            Self::Platform(e) => return e,
            Self::Internal(cause) => return ApiError::internal(cause),
        };
        ApiError::new(status, code, message)
    }
}

platform::domain_error!(EvaluationError);

impl From<catalog::CatalogError> for EvaluationError {
    fn from(e: catalog::CatalogError) -> Self {
        Self::Platform(e.into())
    }
}

impl From<media::MediaError> for EvaluationError {
    fn from(e: media::MediaError) -> Self {
        Self::Platform(e.into())
    }
}

impl From<live_session::LiveError> for EvaluationError {
    fn from(e: live_session::LiveError) -> Self {
        Self::Platform(e.into())
    }
}
