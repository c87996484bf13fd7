//! The errors of the platform's own domain: accounts, sessions and passwords, organizations,
//! memberships and invitations, password recovery. Its methods return [`PlatformError`]; one
//! table ([`PlatformError::into_problem`]) gives each variant its HTTP status, stable code and
//! message in both languages, and the HTTP edge converts it once (`From<PlatformError> for
//! ApiError`). The shared HTTP layer (extractors, roles, rate limits, pages) keeps answering with
//! [`ApiError`] directly: it is the edge.

use axum::http::StatusCode;

use super::{ApiError, FieldError, codes, fields_text, msg};

pub type PlatformResult<T> = Result<T, PlatformError>;

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("wrong phone number or password")]
    InvalidCredentials,
    #[error("no such user")]
    UserNotFound,
    #[error("the signed-in account no longer exists")]
    AccountGone,
    #[error("the phone number is registered already")]
    PhoneTaken,
    #[error("the refresh token is invalid")]
    RefreshTokenInvalid,
    #[error("the refresh token was used already")]
    RefreshTokenReused,
    #[error("the refresh token has expired")]
    RefreshTokenExpired,
    #[error("curators create parents and experts only")]
    CuratorCreatesParentsAndExperts,
    #[error("the user is outside the caller's scope")]
    UserOutOfScope,
    #[error("no such organization")]
    OrgNotFound,
    #[error("the organization is outside the caller's scope")]
    OrgOutOfScope,
    #[error("only schools and classes have join codes")]
    JoinCodeNotApplicable,
    #[error("the organization is not a partner unit")]
    NotAPartner,
    #[error("no such child")]
    ChildNotFound,
    #[error("unknown or rotated join code")]
    JoinCodeNotFound,
    #[error("no such invitation")]
    InvitationNotFound,
    #[error("no SMS gateway")]
    SmsUnavailable,
    #[error("the code is wrong or has expired")]
    WrongCode,
    /// Invalid fields of a request (`validation_failed`).
    #[error("invalid fields: {}", fields_text(.0))]
    Invalid(Vec<FieldError>),
    /// What the shared HTTP layer refused (a role, a rate limit, a page) or an already built
    /// problem.
    #[error(transparent)]
    Http(#[from] ApiError),
    /// The database or an invariant broke: a 500 (a 503 for an unreachable database), its cause
    /// logged.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl PlatformError {
    /// The table: the status, stable code and message of each variant.
    fn into_problem(self) -> ApiError {
        use StatusCode as S;
        let (status, code, message) = match self {
            Self::InvalidCredentials => (
                S::UNAUTHORIZED,
                "invalid_credentials",
                msg("手机号或密码错误。", "Wrong phone number or password."),
            ),
            Self::UserNotFound => (S::NOT_FOUND, "user_not_found", msg("用户不存在。", "No such user.")),
            Self::AccountGone => (
                S::UNAUTHORIZED,
                "account_gone",
                msg("该账号已不存在，请重新登录。", "This account no longer exists."),
            ),
            Self::PhoneTaken => (
                S::CONFLICT,
                "phone_taken",
                msg(
                    "该手机号已注册，请直接登录。",
                    "This phone number is already registered; log in instead.",
                ),
            ),
            Self::RefreshTokenInvalid => (
                S::UNAUTHORIZED,
                "invalid_refresh_token",
                msg(
                    "刷新令牌无效，请重新登录。",
                    "The refresh token is invalid; log in again.",
                ),
            ),
            Self::RefreshTokenReused => (
                S::UNAUTHORIZED,
                "refresh_token_reused",
                msg(
                    "该刷新令牌已使用过，为安全起见此登录已失效，请重新登录。",
                    "This refresh token was already used; for safety the login has been revoked. Log in again.",
                ),
            ),
            Self::RefreshTokenExpired => (
                S::UNAUTHORIZED,
                "refresh_token_expired",
                msg(
                    "登录已过期，请重新登录。",
                    "The refresh token has expired; log in again.",
                ),
            ),
            Self::CuratorCreatesParentsAndExperts => (
                S::FORBIDDEN,
                "forbidden_role",
                msg(
                    "馆员只能创建家长或专家账号。",
                    "Curators may only create parents and experts.",
                ),
            ),
            Self::UserOutOfScope => (
                S::FORBIDDEN,
                codes::OUT_OF_SCOPE,
                msg("该用户不在你的管理范围内。", "This user is outside your scope."),
            ),
            Self::OrgNotFound => (
                S::NOT_FOUND,
                "organization_not_found",
                msg("组织不存在。", "No such organization."),
            ),
            Self::OrgOutOfScope => (
                S::FORBIDDEN,
                codes::OUT_OF_SCOPE,
                msg("该组织不在你的管理范围内。", "This organization is outside your scope."),
            ),
            Self::JoinCodeNotApplicable => (
                S::UNPROCESSABLE_ENTITY,
                "join_code_not_applicable",
                msg(
                    "只有学校和班级可以设置加入码。",
                    "Only schools and classes have join codes.",
                ),
            ),
            Self::ChildNotFound => (
                S::NOT_FOUND,
                "child_not_found",
                msg("没有这个孩子的记录。", "No such child."),
            ),
            Self::NotAPartner => (
                S::UNPROCESSABLE_ENTITY,
                "not_a_partner",
                msg(
                    "只有教联体成员单位可以设置服务对象。",
                    "Only partner units serve other organizations.",
                ),
            ),
            Self::JoinCodeNotFound => (
                S::NOT_FOUND,
                "join_code_not_found",
                msg(
                    "加入码无效或已更换，请向老师确认。",
                    "Unknown or rotated join code; ask the school.",
                ),
            ),
            Self::InvitationNotFound => (
                S::NOT_FOUND,
                "invitation_not_found",
                msg(
                    "没有这条邀请，或邀请已过期，请向老师确认。",
                    "No such invitation, or it has expired; ask the school.",
                ),
            ),
            Self::SmsUnavailable => (
                S::CONFLICT,
                "sms_unavailable",
                msg(
                    "这里暂未开通短信找回密码，请联系孩子所在学校或班级的老师为你重置密码。",
                    "No SMS here; ask your school's staff to reset your password.",
                ),
            ),
            Self::WrongCode => {
                return ApiError::invalid_field(
                    "code",
                    msg(
                        "验证码不正确或已过期，请重新获取。",
                        "The code is wrong or has expired; request a new one.",
                    ),
                );
            }
            Self::Invalid(fields) => return ApiError::validation(fields),
            Self::Http(e) => return e,
            Self::Internal(cause) => return ApiError::internal(cause),
        };
        ApiError::new(status, code, message)
    }
}

crate::domain_error!(@core PlatformError);
