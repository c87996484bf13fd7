//! The replay: once a recorded occurrence has ended and its pieces are quiet, a durable job
//! joins them into one file, hands it to media like an upload, and the server attaches it as a
//! lesson of the series' replay course; parents' live minutes are seeded as watched.

use std::path::{Path as FsPath, PathBuf};

use platform::jobs::{Job, JobContext, JobError, JobHandler};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::*;
use crate::LiveResult;
use crate::lifecycle::LiveState;
use crate::notify::Notices;
use crate::{OccurrenceId, store};

/// A recording whose newest piece is younger than this may still be finishing on some node.
pub(super) const RECORDER_QUIET_MS: i64 = 15_000;

/// Where wall-clock time `at` (ms) falls in the replay made of `segments` (start, duration),
/// in ms from its start: inside a piece, its place in it; in a gap (a pause), the start of the
/// next piece; after the end, the end.
pub fn replay_offset(segments: &[(i64, i64)], at: i64) -> i64 {
    let mut offset = 0;
    for &(start, dur) in segments {
        if at < start {
            return offset;
        }
        if at < start + dur {
            return offset + (at - start);
        }
        offset += dur;
    }
    offset
}

impl Recording {
    /// Queues the replay job once the lecture has ended (claimed in the database: one job,
    /// whichever node gets here first). A recording without pieces becomes `empty`.
    ///
    /// `finished`: this node's recorder has stored its last piece. Otherwise a piece stored in
    /// the last seconds means a recorder (perhaps on another node) is still finishing, and the
    /// periodic sweep queues the replay a little later.
    pub(crate) async fn queue_replay_if_ended(&self, occ: OccurrenceId, finished: bool) -> LiveResult<()> {
        if self.rec.is_none() {
            return Ok(());
        }
        let row = self.audience.occurrence_row(occ).await?;
        if row.state != LiveState::Ended || self.recording_here(occ) {
            return Ok(());
        }
        let now = self.clock.now();
        let (pieces, newest) = store::recordings::piece_count(&self.db, occ).await?;
        if !finished && newest.is_some_and(|t| now.0 - t < RECORDER_QUIET_MS) {
            return Ok(());
        }
        if pieces == 0 {
            store::recordings::mark_empty(&self.db, occ, now).await?;
            return Ok(());
        }
        let job = platform::ids::JobId::new();
        let payload = serde_json::json!({ "occurrence_id": occ }).to_string();
        if store::recordings::queue_replay(&self.db, occ, job, REPLAY_JOB, &payload, now).await? {
            tracing::info!(%occ, pieces, "replay queued");
        }
        Ok(())
    }

    /// Recordings of lectures that ended while no recorder was running (a node died): their
    /// replay is queued now.
    pub(crate) async fn queue_orphaned_replays(&self) -> LiveResult<()> {
        let ended = store::recordings::orphaned(&self.db).await?;
        for occ in ended {
            self.queue_replay_if_ended(occ, false).await?;
        }
        Ok(())
    }

    /// The job handler that makes replays (run by the server's workers).
    pub fn replay_job(&self) -> ReplayJob {
        ReplayJob {
            recording: self.clone(),
        }
    }

    /// Marks replays whose asset finished transcoding as ready and tells the enrolled parents.
    pub(crate) async fn finish_replays(&self, notices: &Notices) -> LiveResult<()> {
        let Some(setup) = self.rec.clone() else {
            return Ok(());
        };
        let processing = store::recordings::processing(&self.db).await?;
        for (occ, asset) in processing {
            let Some(asset) = asset else { continue };
            let view = setup.media.asset_view(asset).await?;
            let state = match view.state {
                media::AssetState::Ready => "ready",
                media::AssetState::Failed => "failed",
                _ => continue,
            };
            // Notices first (each is claimed once, so a repeat after an error sends only what
            // is missing), then the state.
            if state == "ready" {
                notices.notify_replay_ready(occ).await?;
            }
            let moved = store::recordings::finish(&self.db, occ, state, self.clock.now()).await?;
            if moved {
                tracing::info!(%occ, %asset, state, "replay transcoded");
            }
        }
        Ok(())
    }
}

/// Joins a recording's pieces into one MP4, ingests it as a media asset (queued for the usual
/// ladder) and has the server attach it as a lesson. Every step is idempotent, so a retry after
/// a crash carries on where the last attempt stopped.
#[derive(Debug, Clone)]
pub struct ReplayJob {
    recording: Recording,
}

#[async_trait::async_trait]
impl JobHandler for ReplayJob {
    fn kind(&self) -> &'static str {
        REPLAY_JOB
    }

    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<(), JobError> {
        let occ: OccurrenceId = job
            .payload
            .get("occurrence_id")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| JobError::Fatal("the payload names no occurrence".into()))?;
        match self.recording.make_replay(occ, ctx).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let error = format!("{e:#}");
                // What went wrong stays with the recording (and in the job) for the staff.
                let last = job.attempts >= job.max_attempts;
                let _ =
                    store::recordings::record_error(&self.recording.db, occ, &error, last, self.recording.clock.now())
                        .await;
                Err(JobError::Retry(error))
            }
        }
    }
}

impl Recording {
    pub(super) async fn make_replay(&self, occ: OccurrenceId, ctx: &JobContext) -> anyhow::Result<()> {
        let setup = self
            .rec
            .clone()
            .ok_or_else(|| anyhow::anyhow!("recording is off on this node"))?;
        let asset = store::recordings::asset_of(&self.db, occ).await?;
        let (occ_row, series) = self.audience.occurrence_with_series(occ).await?;
        let pieces = store::recordings::pieces(&self.db, occ).await?;
        let duration_ms: i64 = pieces.iter().map(|p| i64::from(p.2)).sum();
        let asset = match asset.flatten() {
            Some(a) => a,
            None => {
                let dir = setup.work_dir.join("replay").join(occ.to_string());
                let _ = tokio::fs::remove_dir_all(&dir).await;
                tokio::fs::create_dir_all(&dir).await?;
                let result = self.assemble(&setup, occ, &pieces, &dir, ctx).await;
                let asset = match result {
                    Ok(path) => setup.media.ingest_file(Some(series.expert_id), &path, |_| {}).await?,
                    Err(e) => {
                        let _ = tokio::fs::remove_dir_all(&dir).await;
                        return Err(e);
                    }
                };
                let _ = tokio::fs::remove_dir_all(&dir).await;
                store::recordings::set_asset(&self.db, occ, asset, self.clock.now()).await?;
                asset
            }
        };
        // Idempotent (a union), so a retry may run it again.
        self.seed_live_minutes(&setup, occ, asset).await?;
        ctx.progress(80);
        let replay = Replay {
            occurrence_id: occ,
            series_id: series.id,
            series_title: series.title.clone(),
            description: series.description.clone(),
            lecturer: series.lecturer.clone(),
            expert_id: series.expert_id,
            scope_org_id: series.scope_org_id,
            starts_at: occ_row.starts_at,
            asset_id: asset,
            duration_s: i32::try_from(duration_ms / 1000).unwrap_or(i32::MAX),
            replay_course_id: series.replay_course_id,
            age_stages: series.stages(),
        };
        let (course, lesson) = setup.replays.attach(&replay).await?;
        let now = self.clock.now();
        store::recordings::attach_replay(&self.db, series.id, occ, course, lesson, asset, now).await?;
        tracing::info!(%occ, %asset, %course, %lesson, "replay attached; transcoding");
        Ok(())
    }

    /// What each viewer watched live, marked as watched on the replay (without new credit):
    /// a lecture counts once, live and replay minutes being one union.
    pub(super) async fn seed_live_minutes(
        &self,
        setup: &RecordingSetup,
        occ: OccurrenceId,
        asset: media::AssetId,
    ) -> anyhow::Result<()> {
        let segments = self.replay_segments(occ).await?;
        let rows = store::recordings::viewer_spans(&self.db, occ).await?;
        let mut per_user: std::collections::HashMap<platform::ids::UserId, Vec<platform::intervals::Span>> =
            std::collections::HashMap::new();
        for (user, from, to) in rows {
            let span = (replay_offset(&segments, from), replay_offset(&segments, to));
            per_user.entry(user).or_default().push(span);
        }
        for (user, spans) in per_user {
            let spans = platform::intervals::normalise(spans);
            if !spans.is_empty() {
                setup.media.seed_watched(user, asset, &spans).await?;
            }
        }
        Ok(())
    }

    /// The recording's pieces as (wall-clock start, duration) in ms, in order.
    pub(crate) async fn replay_segments(&self, occ: OccurrenceId) -> LiveResult<Vec<(i64, i64)>> {
        let rows = store::recordings::segments(&self.db, occ).await?;
        Ok(rows.into_iter().map(|(a, d)| (a, i64::from(d))).collect())
    }

    /// Downloads the pieces and joins them: each run's init segment and pieces make one
    /// fragmented MP4; several runs are joined by ffmpeg's concat demuxer.
    pub(super) async fn assemble(
        &self,
        setup: &RecordingSetup,
        occ: OccurrenceId,
        pieces: &[(i32, i32, i32)],
        dir: &FsPath,
        ctx: &JobContext,
    ) -> anyhow::Result<PathBuf> {
        let mut runs: Vec<i32> = pieces.iter().map(|p| p.1).collect();
        runs.dedup();
        let mut files = Vec::new();
        for (i, run) in runs.iter().enumerate() {
            let path = dir.join(format!("run-{run}.mp4"));
            let mut out = tokio::fs::File::create(&path).await?;
            let init = setup.store.get_bytes(&format!("live/{occ}/{run}/init.mp4")).await?;
            out.write_all(&init).await?;
            for (seq, _, _) in pieces.iter().filter(|p| p.1 == *run) {
                let bytes = setup.store.get_bytes(&format!("live/{occ}/{run}/{seq}.m4s")).await?;
                out.write_all(&bytes).await?;
            }
            out.flush().await?;
            files.push(path);
            ctx.progress(((i + 1) * 60 / runs.len()) as i32);
        }
        if files.len() == 1 {
            return Ok(files.remove(0));
        }
        let list = dir.join("runs.txt");
        let text: String = files.iter().map(|f| format!("file '{}'\n", f.display())).collect();
        tokio::fs::write(&list, text).await?;
        let joined = dir.join("replay.mp4");
        let out = Command::new(&setup.ffmpeg)
            .args(["-hide_banner", "-loglevel", "error", "-f", "concat", "-safe", "0", "-i"])
            .arg(&list)
            .args(["-c", "copy", "-movflags", "+faststart", "-y"])
            .arg(&joined)
            .output()
            .await?;
        if !out.status.success() {
            anyhow::bail!(
                "ffmpeg could not join the recording's runs: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(joined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_to_replay_time() {
        // Two pieces, a pause, one more piece.
        let segs = [(10_000, 2_000), (12_000, 2_000), (20_000, 2_000)];
        assert_eq!(replay_offset(&segs, 5_000), 0);
        assert_eq!(replay_offset(&segs, 10_500), 500);
        assert_eq!(replay_offset(&segs, 13_000), 3_000);
        // During the pause: where the lecture resumed.
        assert_eq!(replay_offset(&segs, 16_000), 4_000);
        assert_eq!(replay_offset(&segs, 21_000), 5_000);
        assert_eq!(replay_offset(&segs, 99_000), 6_000);
        assert_eq!(replay_offset(&[], 1), 0);
    }
}
