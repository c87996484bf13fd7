//! What offline activities refuse: an unknown activity, a check-in code that expired or is
//! another's, a second check-in, the wrong time, no enrolment, and steps only the host's staff
//! may take. Each with its status, stable code and message in both languages.

use axum::http::StatusCode;
use platform::error::{Msg, msg};

#[derive(Debug, thiserror::Error)]
pub enum ActivityError {
    #[error("no such activity, or the caller may not see it")]
    NotFound,
    #[error("the check-in code has expired")]
    CodeExpired,
    #[error("the check-in code is not this activity's")]
    CodeForeign,
    /// `out`: a second check-out.
    #[error("checked in (or out) already")]
    AlreadyCheckedIn { out: bool },
    #[error("outside the activity's check-in time")]
    Closed,
    #[error("the activity takes check-ins from enrolled members only")]
    NeedsEnrolment,
    #[error("checking out before checking in")]
    NotCheckedIn,
    #[error("the activity has no check-out")]
    NoCheckOut,
    #[error("only the activity's host staff")]
    NotHost,
    #[error("the member is not in the activity's audience")]
    NotInAudience,
    #[error("an offline activity has no live stream")]
    Offline,
}

impl ActivityError {
    pub(super) fn parts(self) -> (StatusCode, &'static str, Msg) {
        use StatusCode as S;
        match self {
            Self::NotFound => (
                S::NOT_FOUND,
                "activity_not_found",
                msg("活动不存在。", "No such activity."),
            ),
            Self::CodeExpired => (
                S::UNPROCESSABLE_ENTITY,
                "check_in_code_expired",
                msg(
                    "签到码已过期，请扫描现场屏幕上最新的二维码。",
                    "The code has expired: scan the newest code on the screen at the venue.",
                ),
            ),
            Self::CodeForeign => (
                S::UNPROCESSABLE_ENTITY,
                "check_in_code_invalid",
                msg(
                    "这个二维码不是本活动的签到码。",
                    "This is not a check-in code of this activity.",
                ),
            ),
            Self::AlreadyCheckedIn { out } => (
                S::CONFLICT,
                "already_checked_in",
                if out {
                    msg("你已经签退过了。", "You have checked out already.")
                } else {
                    msg("你已经签到过了。", "You have checked in already.")
                },
            ),
            Self::Closed => (
                S::UNPROCESSABLE_ENTITY,
                "check_in_closed",
                msg(
                    "现在不在签到时间内：活动开始前 30 分钟至结束后 30 分钟可以签到、签退。",
                    "Check-in is open from 30 minutes before the start to 30 minutes after the end.",
                ),
            ),
            Self::NeedsEnrolment => (
                S::FORBIDDEN,
                "not_enrolled",
                msg(
                    "本活动需要先报名才能签到。",
                    "Enrol in this activity before checking in.",
                ),
            ),
            Self::NotCheckedIn => (
                S::CONFLICT,
                "not_checked_in",
                msg("请先签到，再签退。", "Check in before checking out."),
            ),
            Self::NoCheckOut => (
                S::UNPROCESSABLE_ENTITY,
                "check_out_not_required",
                msg("本活动不需要签退。", "This activity has no check-out."),
            ),
            Self::NotHost => (
                S::FORBIDDEN,
                "not_activity_host",
                msg("只有主办单位的工作人员可以操作。", "Only the host's staff may do this."),
            ),
            Self::Offline => (
                S::CONFLICT,
                "offline_activity",
                msg("线下活动没有直播。", "An offline activity has no live stream."),
            ),
            Self::NotInAudience => (
                S::FORBIDDEN,
                "out_of_scope",
                msg(
                    "这位家长不在本活动的面向范围内。",
                    "This member is not in the activity's audience.",
                ),
            ),
        }
    }
}
