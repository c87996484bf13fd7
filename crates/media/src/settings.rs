//! Media's settings (`[media]`), owned here: their fields and defaults, and
//! [`MediaSettings::validate`], the one place their ranges are checked. The server loads them;
//! `Media::new` takes them only validated.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSettings {
    /// Largest accepted upload, in bytes (default 4 GiB).
    pub max_upload_bytes: u64,
    /// Upload chunk size in bytes (at least 5 MiB, so S3 multipart works).
    pub chunk_size_bytes: u64,
    /// Unfinished uploads are removed this long after their last chunk.
    pub upload_ttl_hours: u64,
    /// Longest accepted video, in seconds (default 4 hours).
    pub max_duration_seconds: u64,
    /// The `ffmpeg` and `ffprobe` programs.
    pub ffmpeg: String,
    pub ffprobe: String,
    /// Scratch space for transcoding (default `<data_dir>/work`).
    pub work_dir: Option<PathBuf>,
    /// HLS segment length in seconds (keyframes are placed on these boundaries).
    pub segment_seconds: u32,
    /// x264 preset: faster presets trade size for speed.
    pub x264_preset: String,
    /// Run the transcoding worker inside `serve` (else run `parentschool worker` elsewhere).
    pub worker_in_serve: bool,
    /// Transcode attempts before a job is given up.
    pub max_attempts: i32,
    /// Seconds a worker's claim on a job lasts without renewal: after a crash, the job is
    /// resumed this long after the worker's last heartbeat.
    pub job_lease_seconds: u64,
    /// Strict study credit: recorded time is credited only for ranges whose segments this user's
    /// playback URL fetched from this service (segments are then always served here, never
    /// through presigned store URLs, and each fetch is written down). Off by default: the
    /// wall-clock budget alone limits credit.
    pub strict_credit: bool,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            max_upload_bytes: 4 * 1024 * 1024 * 1024,
            chunk_size_bytes: 8 * 1024 * 1024,
            upload_ttl_hours: 48,
            max_duration_seconds: 4 * 3600,
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            work_dir: None,
            segment_seconds: 4,
            x264_preset: "veryfast".into(),
            worker_in_serve: true,
            max_attempts: 4,
            job_lease_seconds: 30,
            strict_credit: false,
        }
    }
}

impl MediaSettings {
    /// The settings, checked: each value inside the range the service works in, else which key
    /// is wrong and what it may be.
    pub fn validate(self) -> Result<Self, String> {
        if self.chunk_size_bytes == 0 {
            return Err("media.chunk_size_bytes must be at least 1 (5 MiB with S3)".into());
        }
        if self.segment_seconds == 0 {
            return Err("media.segment_seconds must be at least 1".into());
        }
        if self.max_attempts < 1 {
            return Err(format!(
                "media.max_attempts must be at least 1 (it is {})",
                self.max_attempts
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_out_of_range_values_name_their_key() {
        assert!(MediaSettings::default().validate().is_ok());
        let e = MediaSettings {
            max_attempts: 0,
            ..MediaSettings::default()
        }
        .validate()
        .err();
        assert_eq!(e.as_deref(), Some("media.max_attempts must be at least 1 (it is 0)"));
    }
}
