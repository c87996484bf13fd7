//! Live's errors. Its methods return [`LiveError`]; one table ([`LiveError::into_problem`],
//! with the SDP and SFU refusals in [`sdp_problem`] and [`sfu_problem`]) gives each variant its
//! HTTP status, stable code and message in both languages, and the HTTP edge converts it once
//! (`From<LiveError> for ApiError`).

use axum::http::StatusCode;
use platform::ApiError;
use platform::error::{FieldError, Msg, codes, fields_text, msg};

use crate::lifecycle::Refusal;
use crate::model::EnrolmentState;
use crate::recurrence::{self, RuleError};
use crate::sdp::{self, SdpError};
use crate::sfu::SfuError;

pub type LiveResult<T> = Result<T, LiveError>;

mod activity;

pub use activity::ActivityError;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// What offline activities refuse (their own table).
    #[error(transparent)]
    Activity(#[from] ActivityError),
    #[error("no such series")]
    SeriesNotFound,
    #[error("no such occurrence, or the caller may not see it")]
    OccurrenceNotFound,
    #[error("no such question")]
    QuestionNotFound,
    #[error("no such chat message")]
    MessageNotFound,
    #[error("the asset is not a live replay")]
    ReplayNotFound,
    #[error("the caller is not enrolled")]
    EnrolmentNotFound,
    #[error("unknown calendar link")]
    CalendarNotFound,
    #[error("no such piece of the live stream")]
    LivePieceNotFound,
    #[error("the occurrence has no stream key")]
    StreamKeyNotFound,
    #[error("the series changed since the caller read it")]
    SeriesVersionConflict,
    #[error("experts create series for themselves only")]
    NotYourSeries,
    #[error("an expert's series may only aim at their organizations and below")]
    AudienceOutOfScope,
    #[error("the series is not for the caller's organization")]
    SeriesNotForYou,
    #[error("the occurrence is not for the caller's organization")]
    OccurrenceNotForYou,
    /// In the audience but not enrolled: `to_watch` (WHEP) or to ask and chat.
    #[error("the caller is not enrolled")]
    NotEnrolled { to_watch: bool },
    /// Only the series' expert or staff; `to_end` for ending the lecture.
    #[error("the caller does not manage the series")]
    NotSeriesManager { to_end: bool },
    #[error("only the series' expert may publish")]
    NotTheExpert,
    #[error("the stream key belongs to another occurrence")]
    StreamKeyOtherOccurrence,
    #[error("the stream key is invalid or revoked")]
    StreamKeyInvalid,
    /// An expired ticket or one for another occurrence; `for_events` picks the wording.
    #[error("invalid ticket")]
    TicketInvalid { for_events: bool },
    #[error("the playback URL expired or is not signed")]
    PlaybackUrlInvalid,
    #[error("questions and chat are closed")]
    RoomClosed,
    #[error("the lecture is not live")]
    NotLiveNow,
    #[error("the lecture has not started")]
    NotLiveYet,
    #[error("the lecturer paused")]
    LivePaused,
    #[error("the lecture has ended")]
    LectureEnded,
    #[error("too many messages; retry in {seconds} s")]
    TooFast { seconds: u64 },
    #[error("the question is hidden")]
    QuestionHidden,
    #[error("the caller voted already")]
    AlreadyVoted,
    #[error("the occurrence has ended or was cancelled")]
    EnrolmentClosed,
    #[error("the occurrence has started")]
    CancelClosed,
    #[error("the lecture has started and is full")]
    LectureFull,
    #[error("the caller is enrolled or waitlisted already")]
    AlreadyEnrolled {
        state: EnrolmentState,
        waitlist_position: Option<i64>,
    },
    #[error("the occurrence refuses the change: {0:?}")]
    Refused(Refusal),
    #[error("the recurrence rule was refused: {0:?}")]
    Rule(RuleError),
    #[error("the SDP offer was refused: {0:?}")]
    Sdp(SdpError),
    #[error("the SFU refused: {0}")]
    Sfu(SfuError),
    /// The room has as many WebRTC viewers as it may; `hls_url` is where to watch instead.
    #[error("WebRTC is full")]
    Full { hls_url: Option<String> },
    #[error("the offer is not application/sdp")]
    SdpContentType,
    /// Invalid fields of a request (`validation_failed`).
    #[error("invalid fields: {}", fields_text(.0))]
    Invalid(Vec<FieldError>),
    /// What the platform refused on live's behalf (a role, an organization, a user in scope).
    #[error(transparent)]
    Platform(#[from] ApiError),
    /// The database, the object store, media or an invariant broke: a 500 (a 503 for an
    /// unreachable database), its cause logged.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl LiveError {
    /// The table: the status, stable code and message of each variant.
    fn into_problem(self) -> ApiError {
        use StatusCode as S;
        let (status, code, message) = match self {
            Self::Activity(e) => e.parts(),
            Self::SeriesNotFound => (
                S::NOT_FOUND,
                "series_not_found",
                msg("直播系列不存在。", "No such live series."),
            ),
            Self::OccurrenceNotFound => (
                S::NOT_FOUND,
                "occurrence_not_found",
                msg("这场直播不存在。", "No such live occurrence."),
            ),
            Self::QuestionNotFound => (
                S::NOT_FOUND,
                "question_not_found",
                msg("这个问题不存在。", "No such question."),
            ),
            Self::MessageNotFound => (
                S::NOT_FOUND,
                "message_not_found",
                msg("这条消息不存在。", "No such message."),
            ),
            Self::ReplayNotFound => (
                S::NOT_FOUND,
                "replay_not_found",
                msg("这不是直播回放。", "This is not the replay of a live lecture."),
            ),
            Self::EnrolmentNotFound => (
                S::NOT_FOUND,
                "enrolment_not_found",
                msg("你没有报名这场直播。", "You are not enrolled in this occurrence."),
            ),
            Self::CalendarNotFound => (
                S::NOT_FOUND,
                "calendar_not_found",
                msg("日历链接无效。", "Unknown calendar link."),
            ),
            Self::LivePieceNotFound => (
                S::NOT_FOUND,
                "live_piece_not_found",
                msg("没有这段直播录像。", "No such piece of the live stream."),
            ),
            Self::StreamKeyNotFound => (
                S::NOT_FOUND,
                "stream_key_not_found",
                msg("这场直播没有推流密钥。", "This occurrence has no stream key."),
            ),
            Self::SeriesVersionConflict => (
                S::CONFLICT,
                codes::VERSION_CONFLICT,
                msg(
                    "系列已被他人修改，请刷新后再改。",
                    "The series changed meanwhile; reload.",
                ),
            ),
            Self::NotYourSeries => (
                S::FORBIDDEN,
                "not_your_series",
                msg(
                    "专家只能为自己创建直播系列。",
                    "Experts create series for themselves only.",
                ),
            ),
            Self::AudienceOutOfScope => (
                S::FORBIDDEN,
                codes::OUT_OF_SCOPE,
                msg("只能面向你所在的组织及其下级。", "Only your organizations and below."),
            ),
            Self::SeriesNotForYou => (
                S::FORBIDDEN,
                codes::OUT_OF_SCOPE,
                msg(
                    "这个直播系列不面向你所在的学校或地区。",
                    "This series is not for your organization.",
                ),
            ),
            Self::OccurrenceNotForYou => (
                S::FORBIDDEN,
                codes::OUT_OF_SCOPE,
                msg(
                    "这场直播不面向你所在的学校或地区。",
                    "This live session is not for your organization.",
                ),
            ),
            Self::NotEnrolled { to_watch: true } => (
                S::FORBIDDEN,
                "not_enrolled",
                msg("请先报名这场直播再观看。", "Enrol in this occurrence to watch it."),
            ),
            Self::NotEnrolled { to_watch: false } => (
                S::FORBIDDEN,
                "not_enrolled",
                msg("报名后才能提问和聊天。", "Enrol to ask and chat."),
            ),
            Self::NotSeriesManager { to_end: true } => (
                S::FORBIDDEN,
                "not_series_manager",
                msg(
                    "只有主讲专家或工作人员可以结束直播。",
                    "Only the expert or staff may end it.",
                ),
            ),
            Self::NotSeriesManager { to_end: false } => (
                S::FORBIDDEN,
                "not_series_manager",
                msg(
                    "只有主讲专家或工作人员可以这样做。",
                    "Only the expert or staff may do this.",
                ),
            ),
            Self::NotTheExpert => (
                S::FORBIDDEN,
                "not_the_expert",
                msg(
                    "只有这个系列的主讲专家可以推流。",
                    "Only the series' expert may publish.",
                ),
            ),
            Self::StreamKeyOtherOccurrence => (
                S::FORBIDDEN,
                "stream_key_other_occurrence",
                msg(
                    "这个推流密钥属于另一场直播：请在这场直播的页面生成密钥。",
                    "This stream key belongs to another occurrence.",
                ),
            ),
            Self::StreamKeyInvalid => (
                S::UNAUTHORIZED,
                "stream_key_invalid",
                msg(
                    "推流密钥无效或已撤销：请在直播管理页面重新生成。",
                    "The stream key is invalid or was revoked; create a new one.",
                ),
            ),
            Self::TicketInvalid { for_events: true } => (
                S::UNAUTHORIZED,
                "ticket_invalid",
                msg(
                    "观看凭证已过期或不属于这场直播，请刷新页面。",
                    "The ticket expired or is for another occurrence; reload.",
                ),
            ),
            Self::TicketInvalid { for_events: false } => (
                S::UNAUTHORIZED,
                "ticket_invalid",
                msg(
                    "观看凭证已过期或不属于这场直播。",
                    "The ticket expired or is for another occurrence.",
                ),
            ),
            Self::PlaybackUrlInvalid => (
                S::FORBIDDEN,
                "playback_url_invalid",
                msg(
                    "播放链接已过期或无效，请刷新页面。",
                    "The playback link expired or is invalid; reload.",
                ),
            ),
            Self::RoomClosed => (
                S::CONFLICT,
                "not_live",
                msg(
                    "直播进行时才能提问和聊天。",
                    "Questions and chat are open while the lecture is live.",
                ),
            ),
            Self::NotLiveNow => (
                S::CONFLICT,
                "not_live",
                msg("直播现在没有在进行。", "The lecture is not live now."),
            ),
            Self::NotLiveYet => (
                S::CONFLICT,
                "not_live_yet",
                msg("直播还没有开始，请到开始时间再来。", "The lecture has not started yet."),
            ),
            Self::LivePaused => (
                S::CONFLICT,
                "live_paused",
                msg("主讲人暂时离开了，请稍候。", "The lecturer paused; please wait."),
            ),
            Self::LectureEnded => (
                S::CONFLICT,
                "occurrence_ended",
                msg(
                    "直播已经结束，回放稍后发布。",
                    "The lecture has ended; the replay comes later.",
                ),
            ),
            Self::TooFast { seconds } => {
                let mut e = ApiError::too_many_requests(seconds);
                e.message = msg(
                    format!("发言太频繁，请 {seconds} 秒后再试。"),
                    format!("Too many messages; try again in {seconds} s."),
                );
                return e;
            }
            Self::QuestionHidden => (
                S::CONFLICT,
                "question_hidden",
                msg("这个问题已被隐藏，不能投票。", "This question was hidden."),
            ),
            Self::AlreadyVoted => (
                S::CONFLICT,
                "already_voted",
                msg("你已经为这个问题投过票了。", "You already voted for this question."),
            ),
            Self::EnrolmentClosed => (
                S::CONFLICT,
                "enrolment_closed",
                msg(
                    "这场直播已经结束（或已取消），不能再报名。",
                    "This occurrence has ended or was cancelled; enrolment is closed.",
                ),
            ),
            Self::CancelClosed => (
                S::CONFLICT,
                "enrolment_closed",
                msg(
                    "这场直播已经开始，不能再取消报名。",
                    "This occurrence has started; the enrolment can no longer be cancelled.",
                ),
            ),
            Self::LectureFull => (
                S::CONFLICT,
                "lecture_full",
                msg(
                    "直播已经开始，名额已满。可以在回放发布后观看。",
                    "The lecture has started and every seat is taken; watch the replay later.",
                ),
            ),
            Self::AlreadyEnrolled {
                state,
                waitlist_position,
            } => {
                return ApiError::conflict(
                    "already_enrolled",
                    msg(
                        if state == EnrolmentState::Enrolled {
                            "你已经报名了这场直播。"
                        } else {
                            "你已经在候补名单中。"
                        },
                        "You are already enrolled or waitlisted.",
                    ),
                )
                .with_extra("state", serde_json::json!(state))
                .with_extra("waitlist_position", serde_json::json!(waitlist_position));
            }
            Self::Refused(Refusal::AlreadyEnded) => (
                S::CONFLICT,
                "occurrence_ended",
                msg("这场直播已经结束。", "This occurrence has ended."),
            ),
            Self::Refused(Refusal::Cancelled) => (
                S::CONFLICT,
                "occurrence_cancelled",
                msg("这场直播已取消。", "This occurrence was cancelled."),
            ),
            Self::Rule(e) => return ApiError::invalid_field("rrule", rule_message(e)),
            Self::Sdp(e) => return sdp_problem(e),
            Self::Sfu(e) => return sfu_problem(e),
            Self::Full { hls_url } => {
                return sfu_problem(SfuError::Full).with_extra("hls_url", serde_json::json!(hls_url));
            }
            Self::SdpContentType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "sdp_content_type",
                msg(
                    "请以 Content-Type: application/sdp 发送 SDP。",
                    "Send the offer as application/sdp.",
                ),
            ),
            Self::Invalid(fields) => return ApiError::validation(fields),
            Self::Platform(e) => return e,
            Self::Internal(cause) => return ApiError::internal(cause),
        };
        ApiError::new(status, code, message)
    }
}

fn rule_message(e: RuleError) -> Msg {
    match e {
        RuleError::Syntax(part) => msg(
            format!("重复规则无法识别（{part}）：请用每周重复，例如 FREQ=WEEKLY;BYDAY=TH;COUNT=10。"),
            format!("Unsupported recurrence ({part}); use e.g. FREQ=WEEKLY;BYDAY=TH;COUNT=10."),
        ),
        RuleError::NoEnd => msg(
            "重复规则需要 COUNT（次数）或 UNTIL（截止日期）。",
            "The rule needs COUNT or UNTIL.",
        ),
        RuleError::TooMany => msg(
            format!("一个系列最多 {} 次直播。", recurrence::MAX_OCCURRENCES),
            format!("A series has at most {} occurrences.", recurrence::MAX_OCCURRENCES),
        ),
        RuleError::Empty => msg("按这个规则没有任何一次直播。", "The rule yields no occurrence."),
        RuleError::Overlap => msg(
            "同一系列的两次直播时间重叠：请缩短时长或调整日期。",
            "Two occurrences of the series overlap.",
        ),
    }
}

fn sdp_problem(e: SdpError) -> ApiError {
    let (status, code, m) = match e {
        SdpError::TooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "sdp_too_large",
            msg(
                "SDP 过大（上限 32 KiB）。",
                "The SDP offer is too large (32 KiB at most).",
            ),
        ),
        SdpError::NotSdp => (
            StatusCode::BAD_REQUEST,
            "sdp_invalid",
            msg("请求体不是 SDP offer。", "The body is not an SDP offer."),
        ),
        SdpError::NoMedia => (
            StatusCode::BAD_REQUEST,
            "sdp_no_media",
            msg("SDP 里没有音视频。", "The offer has no audio or video."),
        ),
        SdpError::TooManyMedia => (
            StatusCode::BAD_REQUEST,
            "sdp_too_many_media",
            msg(
                format!("SDP 的媒体段过多（最多 {}）。", sdp::MAX_MEDIA_SECTIONS),
                format!("Too many media sections (at most {}).", sdp::MAX_MEDIA_SECTIONS),
            ),
        ),
        SdpError::NotWebRtc => (
            StatusCode::BAD_REQUEST,
            "sdp_not_webrtc",
            msg(
                "SDP 缺少 ICE 凭据或 DTLS 指纹，不是 WebRTC offer。",
                "The offer has no ICE credentials or DTLS fingerprint: not a WebRTC offer.",
            ),
        ),
        SdpError::NoSupportedCodec => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "sdp_unsupported_codecs",
            msg(
                "不支持这些编码：请使用 H.264 或 VP8 视频、Opus 音频。",
                "Unsupported codecs: use H.264 or VP8 video and Opus audio.",
            ),
        ),
    };
    ApiError::new(status, code, m)
}

fn sfu_problem(e: SfuError) -> ApiError {
    match e {
        SfuError::PublisherActive => ApiError::conflict(
            "publisher_active",
            msg(
                "这场直播已经有人在推流：请先在另一处结束推流。",
                "Someone is already publishing this occurrence; stop that first.",
            ),
        ),
        SfuError::NoMedia => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_live_media",
            msg(
                "主讲人的画面还没有到达，请稍后重试。",
                "The publisher's media has not arrived yet; retry shortly.",
            ),
        )
        .with_extra("retry_after_seconds", serde_json::json!(3)),
        SfuError::NoSession => ApiError::not_found(
            "session_not_found",
            msg("这个直播连接不存在或已结束。", "No such session."),
        ),
        SfuError::Codecs(c) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "sdp_unsupported_codecs",
            msg(
                format!("你的浏览器不支持直播使用的编码（{c}）。"),
                format!("Your browser cannot receive the stream's codec ({c})."),
            ),
        ),
        SfuError::Full => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "webrtc_full",
            msg(
                "实时连接已满，请用 HLS 观看（延迟稍高）。",
                "WebRTC is full; watch through HLS (a little more delay).",
            ),
        ),
        SfuError::Replaced => ApiError::conflict(
            "session_replaced",
            msg(
                "你在别处打开了这场直播，这里的连接已让出。",
                "You opened this lecture elsewhere; this connection gave way.",
            ),
        ),
        e @ (SfuError::Gathering | SfuError::WebRtc(_)) => ApiError::internal(e),
    }
}

platform::domain_error!(LiveError);

impl From<media::MediaError> for LiveError {
    fn from(e: media::MediaError) -> Self {
        Self::Platform(e.into())
    }
}

impl From<SfuError> for LiveError {
    fn from(e: SfuError) -> Self {
        Self::Sfu(e)
    }
}

impl From<SdpError> for LiveError {
    fn from(e: SdpError) -> Self {
        Self::Sdp(e)
    }
}

impl From<Refusal> for LiveError {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

impl From<RuleError> for LiveError {
    fn from(e: RuleError) -> Self {
        Self::Rule(e)
    }
}
