//! Media's errors. Its methods return [`MediaError`]; one table ([`MediaError::into_problem`])
//! gives each variant its HTTP status, stable code and message in both languages, and the HTTP
//! edge converts it once (`From<MediaError> for ApiError`).

use axum::http::StatusCode;
use platform::ApiError;
use platform::error::{FieldError, Msg, fields_text, msg};

use crate::ids::AssetId;

pub type MediaResult<T> = Result<T, MediaError>;

/// Why a caption file was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum CaptionError {
    Empty,
    NotText,
    BadTiming { line: usize },
    NoCues,
}

impl CaptionError {
    /// What to tell the person who sent the file.
    pub fn message(&self) -> Msg {
        match *self {
            Self::Empty => msg("字幕文件是空的。", "The caption file is empty."),
            Self::NotText => msg(
                "这不是字幕文件（应为 SRT 或 WebVTT 文本）。",
                "This is not a caption file (SRT or WebVTT text expected).",
            ),
            Self::BadTiming { line } => msg(
                format!("字幕第 {line} 行的时间格式不对，应为 00:01:02,500 --> 00:01:05,000。"),
                format!("Line {line}: bad cue timing; expected 00:01:02,500 --> 00:01:05,000."),
            ),
            Self::NoCues => msg("字幕文件里没有任何字幕条目。", "The caption file holds no cues."),
        }
    }
}

/// Why an upload takes no more chunks or completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// Sending a chunk to an upload that is finished or cancelled.
    ForChunks,
    /// Completing an upload that another call is completing, or that was cancelled.
    CompletingOrCancelled,
    /// Lost the race to claim the completion.
    Completing,
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("no such asset")]
    AssetNotFound,
    /// Not transcoded yet; `playing` picks the player's wording.
    #[error("the asset is not ready")]
    AssetNotReady { playing: bool },
    #[error("the playback URL expired or is not signed")]
    PlaybackUrlInvalid,
    #[error("no such upload")]
    UploadNotFound,
    #[error("the upload belongs to someone else")]
    NotYourUpload,
    #[error("the upload is closed ({0:?})")]
    UploadClosed(Closed),
    #[error("the upload is complete already")]
    UploadCompleted { asset: AssetId },
    #[error("{} chunks are missing", missing.len())]
    UploadIncomplete { missing: Vec<i32> },
    #[error("chunk {n} has {got} bytes, not {expected}")]
    WrongChunkSize { n: i32, expected: i64, got: usize },
    #[error("the assembled bytes do not match the SHA-256")]
    ChecksumMismatch,
    #[error("the caption file was refused: {0:?}")]
    CaptionInvalid(CaptionError),
    #[error("the caption file is over 2 MiB")]
    CaptionTooLarge,
    #[error("no captions in this language")]
    CaptionNotFound,
    /// Invalid fields of a request (`validation_failed`).
    #[error("invalid fields: {}", fields_text(.0))]
    Invalid(Vec<FieldError>),
    /// What the platform refused on media's behalf, or what the catalog said through
    /// [`crate::AssetAccess`].
    #[error(transparent)]
    Platform(#[from] ApiError),
    /// The database, the object store, the file system or an invariant broke: a 500 (a 503 for
    /// an unreachable database), its cause logged.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl MediaError {
    /// The table: the status, stable code and message (and extra members) of each variant.
    fn into_problem(self) -> ApiError {
        use StatusCode as S;
        let (status, code, message) = match self {
            Self::AssetNotFound => (
                S::NOT_FOUND,
                "asset_not_found",
                msg("媒体文件不存在。", "No such media asset."),
            ),
            Self::AssetNotReady { playing: true } => (
                S::CONFLICT,
                "asset_not_ready",
                msg("视频还在处理中，请稍后再看。", "The video is not ready yet."),
            ),
            Self::AssetNotReady { playing: false } => (
                S::CONFLICT,
                "asset_not_ready",
                msg("视频还在处理中。", "The video is not ready yet."),
            ),
            Self::PlaybackUrlInvalid => (
                S::FORBIDDEN,
                "playback_url_invalid",
                msg(
                    "播放链接已过期或无效，请刷新页面。",
                    "The playback link expired or is invalid; reload.",
                ),
            ),
            Self::UploadNotFound => (
                S::NOT_FOUND,
                "upload_not_found",
                msg("上传任务不存在或已过期。", "No such upload, or it has expired."),
            ),
            Self::NotYourUpload => (
                S::FORBIDDEN,
                "not_your_upload",
                msg("这不是你的上传任务。", "This upload belongs to someone else."),
            ),
            Self::UploadClosed(why) => (
                S::CONFLICT,
                "upload_closed",
                match why {
                    Closed::ForChunks => msg(
                        "上传已完成或已取消，不能再发送分片。",
                        "The upload is finished or cancelled.",
                    ),
                    Closed::CompletingOrCancelled => msg(
                        "上传正在处理或已取消。",
                        "The upload is being completed or was cancelled.",
                    ),
                    Closed::Completing => msg("上传正在处理中。", "The upload is being completed."),
                },
            ),
            Self::UploadCompleted { asset } => {
                return ApiError::conflict(
                    "upload_completed",
                    msg("该上传已经完成。", "This upload is already complete."),
                )
                .with_extra("asset_id", serde_json::json!(asset));
            }
            Self::UploadIncomplete { missing } => {
                return ApiError::conflict(
                    "upload_incomplete",
                    msg(
                        format!("还有 {} 个分片未上传。", missing.len()),
                        format!("{} chunks are missing.", missing.len()),
                    ),
                )
                .with_extra("missing", serde_json::json!(missing));
            }
            Self::WrongChunkSize { n, expected, got } => (
                S::UNPROCESSABLE_ENTITY,
                "wrong_chunk_size",
                msg(
                    format!("分片 {n} 应为 {expected} 字节，收到 {got} 字节。"),
                    format!("Chunk {n} must have {expected} bytes, got {got}."),
                ),
            ),
            Self::ChecksumMismatch => (
                S::UNPROCESSABLE_ENTITY,
                "checksum_mismatch",
                msg(
                    "文件校验失败：收到的内容与 SHA-256 不一致，请重新上传有问题的分片。",
                    "Checksum mismatch: the received bytes do not match the SHA-256.",
                ),
            ),
            Self::CaptionInvalid(why) => (S::UNPROCESSABLE_ENTITY, "caption_invalid", why.message()),
            Self::CaptionTooLarge => (
                S::PAYLOAD_TOO_LARGE,
                "caption_too_large",
                msg("字幕文件超过 2 MiB。", "Caption files are limited to 2 MiB."),
            ),
            Self::CaptionNotFound => (
                S::NOT_FOUND,
                "caption_not_found",
                msg("这个语言没有字幕。", "No captions in this language."),
            ),
            Self::Invalid(fields) => return ApiError::validation(fields),
            Self::Platform(e) => return e,
            Self::Internal(cause) => return ApiError::internal(cause),
        };
        ApiError::new(status, code, message)
    }
}

platform::domain_error!(MediaError);
