//! The transcoding job: `ffprobe` decides whether the upload is media; `ffmpeg` encodes an
//! H.264/AAC ladder for phones (360p, 540p, 720p as far as the source allows, never upscaled)
//! and a ~64 kbit/s audio-only rendition in one decoding pass, with keyframes on segment
//! boundaries; each rendition is then packaged as HLS fMP4 without re-encoding, a poster is cut,
//! and the master playlist written. Outputs go to a fresh per-attempt prefix and the asset
//! points at it only once everything is stored, so a crash mid-way never exposes partial
//! renditions; the prefixes of earlier attempts are then deleted.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures::StreamExt;
use platform::jobs::{Job, JobContext, JobError, JobHandler};
use platform::{db_execute, with_db};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::Media;
use crate::assets::{AssetId, Rendition};
use crate::probe::{self, Probe};

/// Job kind of the transcoder.
pub const TRANSCODE: &str = "media.transcode";

/// The ladder: (height, video kbit/s).
const LADDER: [(i32, i64); 3] = [(360, 800), (540, 1400), (720, 2500)];
const AUDIO_KBPS: i64 = 96;
const AUDIO_ONLY_KBPS: i64 = 64;

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

/// Heights to encode for a source of `height` lines: the ladder steps that fit, or the source
/// height itself (even) when it is below the smallest step.
pub fn ladder_for(height: i32) -> Vec<(i32, i64)> {
    let steps: Vec<(i32, i64)> = LADDER.iter().copied().filter(|(h, _)| *h <= height).collect();
    if steps.is_empty() {
        vec![((height / 2 * 2).max(2), LADDER[0].1)]
    } else {
        steps
    }
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
            if let Err(e) = db_execute!(
                &self.media.db,
                "UPDATE assets SET state = $2, error = $3, updated_at = $4 WHERE id = $1 AND state = \
                 'processing'",
                asset,
                state,
                &reason,
                self.media.clock.now(),
            ) {
                tracing::warn!(%asset, error = %e, "could not record the transcoding failure on the asset");
            }
            if last {
                self.media.delete_renditions_except(asset, None).await;
            }
        }
        result
    }
}

/// How long one encode may take: ten minutes plus three times the video's length (the
/// ladder encodes at about 1.75× real time on two cores).
pub fn encode_time_limit(duration_s: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(600.0 + 3.0 * duration_s.clamp(0.0, 86_400.0))
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

/// The ffmpeg command lines of a transcode: one encode of the whole ladder (and the audio-only
/// rendition) into MP4 files under `out`, then per rendition a packaging into HLS fMP4, run in
/// that rendition's folder. Public so the benchmark runs the very same commands by hand.
#[derive(Debug)]
pub struct Plan {
    /// Arguments of the encoding ffmpeg (progress on stdout).
    pub encode: Vec<String>,
    /// Rendition names with their video height and bitrate (`None` for audio).
    pub outputs: Vec<(String, Option<(i32, i64)>)>,
    /// Per rendition: the folder to run in and the arguments of the packaging ffmpeg.
    pub package: Vec<(PathBuf, Vec<String>)>,
}

pub fn plan(cfg: &platform::config::MediaSettings, source: &Path, out: &Path, info: &Probe) -> Plan {
    let seg = cfg.segment_seconds.max(1);
    let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-y", "-nostats", "-progress", "pipe:1"]
        .map(String::from)
        .to_vec();
    args.extend(probe::input_guard().map(String::from));
    args.push("-i".into());
    args.push(source.display().to_string());
    let ladder = info.video.map(|(_, h)| ladder_for(h)).unwrap_or_default();
    let mut outputs: Vec<(String, Option<(i32, i64)>)> = Vec::new();
    if !ladder.is_empty() {
        let labels: Vec<String> = (0..ladder.len()).map(|i| format!("[s{i}]")).collect();
        let mut graph = format!("[0:v]split={}{}", ladder.len(), labels.join(""));
        for (i, (h, _)) in ladder.iter().enumerate() {
            graph.push_str(&format!(";[s{i}]scale=-2:{h}[v{i}]"));
        }
        args.extend(["-filter_complex".into(), graph]);
        for (i, (h, kbps)) in ladder.iter().enumerate() {
            let name = format!("{h}p");
            args.extend([
                "-map".into(),
                format!("[v{i}]"),
                "-map".into(),
                "0:a:0?".into(),
                "-c:v".into(),
                "libx264".into(),
                "-preset".into(),
                cfg.x264_preset.clone(),
                "-profile:v".into(),
                "main".into(),
                "-pix_fmt".into(),
                "yuv420p".into(),
                "-b:v".into(),
                format!("{kbps}k"),
                "-maxrate".into(),
                format!("{}k", kbps * 3 / 2),
                "-bufsize".into(),
                format!("{}k", kbps * 2),
                "-force_key_frames".into(),
                format!("expr:gte(t,n_forced*{seg})"),
                "-sc_threshold".into(),
                "0".into(),
                "-c:a".into(),
                "aac".into(),
                "-b:a".into(),
                format!("{AUDIO_KBPS}k"),
                "-ac".into(),
                "2".into(),
                out.join(format!("{name}.mp4")).display().to_string(),
            ]);
            outputs.push((name, Some((*h, *kbps))));
        }
    }
    if info.audio {
        args.extend(
            [
                "-map",
                "0:a:0",
                "-vn",
                "-c:a",
                "aac",
                "-b:a",
                &format!("{AUDIO_ONLY_KBPS}k"),
                "-ac",
                "2",
            ]
            .map(String::from),
        );
        args.push(out.join("audio.mp4").display().to_string());
        outputs.push(("audio".into(), None));
    }
    let seg = seg.to_string();
    let package = outputs
        .iter()
        .map(|(name, _)| {
            let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
                .map(String::from)
                .to_vec();
            a.extend(probe::input_guard().map(String::from));
            a.push("-i".into());
            a.push(out.join(format!("{name}.mp4")).display().to_string());
            a.extend(
                [
                    "-c",
                    "copy",
                    "-f",
                    "hls",
                    "-hls_time",
                    &seg,
                    "-hls_playlist_type",
                    "vod",
                    "-hls_segment_type",
                    "fmp4",
                    "-hls_fmp4_init_filename",
                    "init.mp4",
                    "-hls_segment_filename",
                    "seg_%05d.m4s",
                    "index.m3u8",
                ]
                .map(String::from),
            );
            (out.join("hls").join(name), a)
        })
        .collect();
    Plan {
        encode: args,
        outputs,
        package,
    }
}

impl Transcoder {
    async fn transcode(&self, job: &Job, asset: AssetId, ctx: &JobContext) -> Result<(), JobError> {
        let m = &self.media;
        let row = m
            .asset(asset)
            .await
            .map_err(retry)?
            .ok_or_else(|| JobError::Fatal("asset vanished".into()))?;
        if row.state != "processing" {
            return Ok(());
        }
        if ffmpeg_version(&m.cfg.ffmpeg, &m.cfg.ffprobe).await.is_none() {
            return Err(JobError::Fatal(
                "服务器未安装 ffmpeg，无法处理视频，请联系管理员。".into(),
            ));
        }
        let source_key = row
            .source_key
            .clone()
            .ok_or_else(|| JobError::Fatal("asset without source".into()))?;
        // A folder per attempt: an ffmpeg orphaned by a killed worker may still be writing into
        // an earlier attempt's folder.
        let work = m.work_dir.join(format!("{asset}-{}", job.attempts));
        let _ = tokio::fs::remove_dir_all(&work).await;
        let out = work.join("out");
        tokio::fs::create_dir_all(&out).await.map_err(retry)?;
        let started = std::time::Instant::now();
        let source = work.join("source");
        let mut obj = m.store.get(&source_key, None).await.map_err(retry)?;
        let mut file = tokio::fs::File::create(&source).await.map_err(retry)?;
        while let Some(chunk) = obj.body.next().await {
            file.write_all(&chunk.map_err(retry)?).await.map_err(retry)?;
        }
        file.flush().await.map_err(retry)?;
        drop(file);
        ctx.progress(2);

        let info = probe::probe(&m.cfg.ffprobe, &source).await.map_err(JobError::Fatal)?;
        if info.duration_s > m.cfg.max_duration_seconds as f64 {
            return Err(JobError::Fatal(format!(
                "视频时长 {} 分钟，超过上限 {} 分钟。",
                (info.duration_s / 60.0).ceil(),
                m.cfg.max_duration_seconds / 60
            )));
        }
        let fetched = started.elapsed();
        let renditions = self.encode(&source, &out, &info, ctx).await?;
        let encoded = started.elapsed();
        ctx.progress(90);
        let prefix = format!("assets/{asset}/hls-{}-{}", job.id, job.attempts);
        self.upload_dir(&out, &prefix).await?;
        // The scratch space is no longer needed: free it before the asset is announced ready.
        let _ = tokio::fs::remove_dir_all(&work).await;
        m.remove_stale_work(asset).await;
        ctx.progress(98);
        tracing::info!(
            %asset,
            fetch_ms = fetched.as_millis() as u64,
            encode_ms = (encoded - fetched).as_millis() as u64,
            upload_ms = (started.elapsed() - encoded).as_millis() as u64,
            "asset transcoded"
        );
        let (w, h) = info.video.map_or((None, None), |(w, h)| (Some(w), Some(h)));
        let n = db_execute!(
            &m.db,
            "UPDATE assets SET state = 'ready', hls_prefix = $2, duration_ms = $3, width = $4, \
             height = $5, \
             renditions = $6,
                progress = 100, error = NULL, updated_at = $7
             WHERE id = $1 AND state = 'processing'",
            asset,
            &prefix,
            (info.duration_s * 1000.0).round() as i64,
            w,
            h,
            serde_json::to_string(&renditions).unwrap_or_else(|_| "[]".into()),
            m.clock.now(),
        )
        .map_err(retry)?;
        if n == 1 {
            m.delete_renditions_except(asset, Some(&prefix)).await;
        } else {
            // Another attempt won meanwhile; ours is surplus.
            m.delete_prefix(&format!("{prefix}/")).await;
        }
        Ok(())
    }

    /// Encodes the ladder and the audio rendition in one pass, then packages each as HLS.
    async fn encode(
        &self,
        source: &Path,
        out: &Path,
        info: &Probe,
        ctx: &JobContext,
    ) -> Result<Vec<Rendition>, JobError> {
        let m = &self.media;
        let Plan {
            encode: args,
            outputs,
            package,
        } = plan(&m.cfg, source, out, info);
        let started = std::time::Instant::now();
        let mut child = tokio::process::Command::new(&m.cfg.ffmpeg)
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| retry(format!("无法启动 ffmpeg：{e}")))?;
        let stdout = child.stdout.take().ok_or_else(|| retry("no ffmpeg stdout"))?;
        let stderr = child.stderr.take().ok_or_else(|| retry("no ffmpeg stderr"))?;
        let err_task = tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            let mut tail: Vec<String> = Vec::new();
            while let Ok(Some(l)) = lines.next_line().await {
                tail.push(l);
                if tail.len() > 20 {
                    tail.remove(0);
                }
            }
            tail.join("\n")
        });
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let total_us = info.duration_s * 1_000_000.0;
        let mut encoded_us = 0.0f64;
        let read = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(v) = line
                    .strip_prefix("out_time_us=")
                    .or_else(|| line.strip_prefix("out_time_ms="))
                {
                    if let Ok(us) = v.trim().parse::<f64>() {
                        encoded_us = encoded_us.max(us);
                        ctx.progress(2 + (85.0 * (us / total_us).clamp(0.0, 1.0)) as i32);
                    }
                }
            }
        };
        // No encode may run for ever: a limit scaled to the video's length.
        let limit = encode_time_limit(info.duration_s);
        if tokio::time::timeout(limit, read).await.is_err() {
            let _ = child.kill().await;
            return Err(JobError::Fatal(format!(
                "转码超过 {} 分钟仍未完成，已停止；文件可能有问题，请重新导出后上传。",
                limit.as_secs().div_ceil(60)
            )));
        }
        let status = child.wait().await.map_err(retry)?;
        let ffmpeg_ms = started.elapsed().as_millis() as u64;
        let tail = err_task.await.unwrap_or_default();
        if !status.success() {
            tracing::warn!(ffmpeg = %tail, "ffmpeg failed");
            return Err(JobError::Fatal(format!(
                "视频无法解码，文件可能已损坏：{}",
                tail.lines().last().unwrap_or("").trim()
            )));
        }
        // A truncated file decodes "successfully" but short: nothing broken becomes playable.
        if encoded_us < total_us * 0.9 {
            return Err(JobError::Fatal(format!(
                "视频只能解码 {:.0} 秒，少于声明的 {:.0} 秒，文件可能不完整。",
                encoded_us / 1e6,
                info.duration_s
            )));
        }

        let hls = out.join("hls");
        // The packagings only copy streams: run them side by side.
        let renditions = futures::future::try_join_all(outputs.iter().zip(&package).map(
            |((name, video), (dir, package))| async move {
                tokio::fs::create_dir_all(dir).await.map_err(retry)?;
                let input = out.join(format!("{name}.mp4"));
                let size = tokio::fs::metadata(&input).await.map_err(retry)?.len() as f64;
                let run = tokio::process::Command::new(&m.cfg.ffmpeg)
                    .current_dir(dir)
                    .args(package)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .kill_on_drop(true)
                    .output();
                let run = tokio::time::timeout(encode_time_limit(info.duration_s), run)
                    .await
                    .map_err(|_| JobError::Fatal(format!("{name} 清晰度的 HLS 打包超时，已停止。")))?
                    .map_err(|e| retry(format!("无法启动 ffmpeg：{e}")))?;
                if !run.status.success() {
                    let stderr = String::from_utf8_lossy(&run.stderr);
                    tracing::warn!(rendition = %name, ffmpeg = %stderr, "HLS packaging failed");
                    return Err(retry(format!(
                        "{name} 清晰度的 HLS 打包失败（{}）",
                        stderr.lines().last().unwrap_or("ffmpeg 无输出").trim()
                    )));
                }
                let average = (size * 8.0 / info.duration_s.max(0.1)) as i64;
                Ok(Rendition {
                    name: name.clone(),
                    width: video.and(info.video).map(|(w, h)| {
                        let target = video.map_or(h, |(vh, _)| vh);
                        ((w as i64 * target as i64 / h.max(1) as i64) as i32 + 1) / 2 * 2
                    }),
                    height: video.map(|(h, _)| h),
                    bandwidth: average * 5 / 4,
                    codecs: if video.is_some() {
                        if info.audio {
                            "avc1.4d401f,mp4a.40.2".into()
                        } else {
                            "avc1.4d401f".into()
                        }
                    } else {
                        "mp4a.40.2".into()
                    },
                })
            },
        ))
        .await?;
        // Poster: a frame a second in (or mid-way through a shorter clip).
        if info.video.is_some() {
            let at = (info.duration_s / 2.0).min(1.0);
            let _ = tokio::process::Command::new(&m.cfg.ffmpeg)
                .args([
                    "-hide_banner",
                    "-nostdin",
                    "-y",
                    "-loglevel",
                    "error",
                    "-ss",
                    &format!("{at:.2}"),
                ])
                .args(probe::input_guard())
                .arg("-i")
                .arg(source)
                .args(["-frames:v", "1", "-vf", "scale=-2:'min(360,ih)'"])
                .arg(hls.join("poster.jpg"))
                .kill_on_drop(true)
                .status()
                .await;
        }
        tracing::debug!(
            ffmpeg_ms,
            package_and_poster_ms = started.elapsed().as_millis() as u64 - ffmpeg_ms,
            "ladder encoded and packaged"
        );
        let mut master = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        for r in &renditions {
            master.push_str(&format!(
                "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\"",
                r.bandwidth,
                r.bandwidth * 4 / 5,
                r.codecs
            ));
            if let (Some(w), Some(h)) = (r.width, r.height) {
                master.push_str(&format!(",RESOLUTION={w}x{h}"));
            }
            master.push_str(&format!("\n{}/index.m3u8\n", r.name));
        }
        tokio::fs::write(hls.join("master.m3u8"), master).await.map_err(retry)?;
        Ok(renditions)
    }

    /// Copies every file under `dir/hls` to the store under `prefix`.
    async fn upload_dir(&self, out: &Path, prefix: &str) -> Result<(), JobError> {
        let root = out.join("hls");
        let mut stack: Vec<PathBuf> = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let mut entries = tokio::fs::read_dir(&dir).await.map_err(retry)?;
            while let Some(e) = entries.next_entry().await.map_err(retry)? {
                let path = e.path();
                if e.file_type().await.map_err(retry)?.is_dir() {
                    stack.push(path);
                    continue;
                }
                let rel = path
                    .strip_prefix(&root)
                    .map_err(retry)?
                    .to_string_lossy()
                    .replace('\\', "/");
                let file = tokio::fs::File::open(&path).await.map_err(retry)?;
                let body = tokio_util::io::ReaderStream::new(file).boxed();
                self.media
                    .store
                    .put(&format!("{prefix}/{rel}"), body)
                    .await
                    .map_err(retry)?;
            }
        }
        Ok(())
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
        with_db!(&self.db, |pool| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM assets WHERE state = 'processing'"
        )
        .fetch_one(pool)
        .await)
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

    #[test]
    fn ladder_never_upscales() {
        assert_eq!(
            ladder_for(1080).iter().map(|r| r.0).collect::<Vec<_>>(),
            [360, 540, 720]
        );
        assert_eq!(ladder_for(720).iter().map(|r| r.0).collect::<Vec<_>>(), [360, 540, 720]);
        assert_eq!(ladder_for(480).iter().map(|r| r.0).collect::<Vec<_>>(), [360]);
        assert_eq!(ladder_for(241).iter().map(|r| r.0).collect::<Vec<_>>(), [240]);
    }
}
