//! One transcode: fetch the source, probe it, encode every rendition with progress, package HLS,
//! and upload the directory.

use futures::StreamExt;
use platform::jobs::{Job, JobContext, JobError};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use super::*;
use crate::assets::{AssetId, Rendition};
use crate::probe::{self, Probe};
use crate::states::AssetState;

impl Transcoder {
    pub(super) async fn transcode(&self, job: &Job, asset: AssetId, ctx: &JobContext) -> Result<(), JobError> {
        let m = &self.media;
        let row = m
            .asset(asset)
            .await
            .map_err(retry)?
            .ok_or_else(|| JobError::Fatal("asset vanished".into()))?;
        if row.state != AssetState::Processing {
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
        let done = store::Transcoded {
            prefix: &prefix,
            duration_ms: (info.duration_s * 1000.0).round() as i64,
            width: w,
            height: h,
            renditions: &renditions,
        };
        let n = store::mark_ready(&m.db, asset, &done, m.clock.now())
            .await
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
    pub(super) async fn encode(
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
    pub(super) async fn upload_dir(&self, out: &Path, prefix: &str) -> Result<(), JobError> {
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
