//! The transcoding job: `ffprobe` decides whether the upload is media; `ffmpeg` encodes an
//! H.264/AAC ladder for phones (360p, 540p, 720p as far as the source allows, never upscaled)
//! and a ~64 kbit/s audio-only rendition in one decoding pass, with keyframes on segment
//! boundaries; each rendition is then packaged as HLS fMP4 without re-encoding, a poster is cut,
//! and the master playlist written. Outputs go to a fresh per-attempt prefix and the asset
//! points at it only once everything is stored, so a crash mid-way never exposes partial
//! renditions; the prefixes of earlier attempts are then deleted.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use platform::jobs::{Job, JobContext, JobError, JobHandler};

use crate::Media;
use crate::assets::AssetId;

mod encode;
mod plan;
mod store;

pub use plan::*;

/// Job kind of the transcoder.
pub const TRANSCODE: &str = "media.transcode";

/// Runs transcoding jobs.
#[derive(Debug, Clone)]
pub struct Transcoder {
    pub(crate) media: Media,
}

pub(crate) async fn ffmpeg_version(ffmpeg: &str, ffprobe: &str) -> Option<String> {
    let out = tokio::process::Command::new(ffmpeg)
        .arg("-version")
        .output()
        .await
        .ok()?;
    let probe_ok = tokio::process::Command::new(ffprobe)
        .arg("-version")
        .output()
        .await
        .ok()?
        .status
        .success();
    if !out.status.success() || !probe_ok {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).lines().next().map(str::to_owned)
}

fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::Retry(e.to_string())
}

#[async_trait]
impl JobHandler for Transcoder {
    fn kind(&self) -> &'static str {
        TRANSCODE
    }

    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<(), JobError> {
        let asset: AssetId = job
            .payload
            .get("asset_id")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| JobError::Fatal("payload without asset_id".into()))?;
        let result = self.transcode(job, asset, ctx).await;
        // On success the scratch space is already gone; after a failure, free this attempt's.
        let _ = tokio::fs::remove_dir_all(self.media.work_dir.join(format!("{asset}-{}", job.attempts))).await;
        if let Err(err) = &result {
            let last = job.is_last(err);
            // The asset says what went wrong at every attempt, not only after the last one, so
            // a job that keeps failing the same way is visible while it retries.
            let (state, reason) = failure_note(err, job.attempts, last);
            if let Err(e) = store::note_failure(&self.media.db, asset, state, &reason, self.media.clock.now()).await {
                tracing::warn!(%asset, error = %e, "could not record the transcoding failure on the asset");
            }
            if last {
                self.media.delete_renditions_except(asset, None).await;
            }
        }
        result
    }
}

/// The asset's state and `error` after a failed attempt: still `processing` with the reason and
/// the attempt while retries remain, `failed` with a reason a curator can act on after the last.
fn failure_note(err: &JobError, attempt: i32, last: bool) -> (&'static str, String) {
    match err {
        JobError::Fatal(r) => ("failed", r.clone()),
        JobError::Retry(r) if last => (
            "failed",
            format!("转码失败，已尝试 {attempt} 次仍未成功，请重新上传或联系管理员。最后一次的原因：{r}"),
        ),
        JobError::Retry(r) => ("processing", format!("转码失败，正在重试（第 {attempt} 次）：{r}")),
    }
}

impl Media {
    /// Deletes every rendition prefix of `asset` but `keep` (leftovers of crashed attempts).
    pub(crate) async fn delete_renditions_except(&self, asset: AssetId, keep: Option<&str>) {
        let Ok(objects) = self.store.list(&format!("assets/{asset}/hls-")).await else {
            return;
        };
        for o in objects {
            if keep.is_none_or(|k| !o.key.starts_with(&format!("{k}/"))) {
                let _ = self.store.delete(&o.key).await;
            }
        }
    }

    /// Removes the scratch folders of earlier attempts at `asset`.
    pub(crate) async fn remove_stale_work(&self, asset: AssetId) {
        let Ok(mut entries) = tokio::fs::read_dir(&self.work_dir).await else {
            return;
        };
        let prefix = format!("{asset}-");
        while let Ok(Some(e)) = entries.next_entry().await {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = tokio::fs::remove_dir_all(e.path()).await;
            }
        }
    }

    pub(crate) async fn delete_prefix(&self, prefix: &str) {
        if let Ok(objects) = self.store.list(prefix).await {
            for o in objects {
                let _ = self.store.delete(&o.key).await;
            }
        }
    }

    /// Asset ids stuck in processing without a live job (for diagnostics).
    pub async fn processing_count(&self) -> Result<i64, sqlx::Error> {
        store::processing_count(&self.db).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_attempt_says_so_while_retrying_and_fails_after_the_last() {
        let err = JobError::Retry("磁盘已满".into());
        let (state, note) = failure_note(&err, 2, false);
        assert_eq!(
            (state, note.as_str()),
            ("processing", "转码失败，正在重试（第 2 次）：磁盘已满")
        );
        let (state, note) = failure_note(&err, 4, true);
        assert_eq!(state, "failed");
        assert!(note.contains("已尝试 4 次") && note.ends_with("磁盘已满"), "{note}");
        let (state, note) = failure_note(&JobError::Fatal("视频无法解码".into()), 1, true);
        assert_eq!((state, note.as_str()), ("failed", "视频无法解码"));
    }
}
