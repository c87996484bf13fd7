//! Recording while an occurrence is live: one recorder per occurrence and node, ffmpeg runs
//! fed by RTP pumps from the SFU, and every finished piece uploaded and listed at once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::shared::marshal::Marshal;
use tokio::process::Command;
use tokio::sync::broadcast;

use super::*;
use crate::sfu::PubTrack;
use crate::{OccurrenceId, store};

/// Sends one track's packets to ffmpeg until the track's channel closes.
pub(super) async fn pump(t: Arc<PubTrack>, sock: Arc<tokio::net::UdpSocket>, port: u16, pt: u8, ssrc: u32) {
    let to = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut rx = t.tx.subscribe();
    loop {
        match rx.recv().await {
            Ok(mut pkt) => {
                pkt.header.payload_type = pt;
                pkt.header.ssrc = ssrc;
                pkt.header.extension = false;
                pkt.header.extensions.clear();
                pkt.header.extensions_padding = 0;
                if let Ok(buf) = pkt.marshal() {
                    let _ = sock.send_to(&buf, to).await;
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(lost = n, "the recorder fell behind; asking for a keyframe");
                t.request_keyframe().await;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// How a run of ffmpeg ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RunEnd {
    /// The publisher went away (another may come).
    PublisherGone,
    /// The room closed: the lecture ended.
    RoomClosed,
    /// ffmpeg stopped by itself (it crashed, or could not read the stream).
    FfmpegExited,
}

/// One recording's state kept between pieces.
pub(super) struct Uploader {
    occ: OccurrenceId,
    run: i32,
    dir: PathBuf,
    init_done: bool,
    uploaded: usize,
    /// The number of the next piece, once known.
    next_seq: Option<i32>,
}

impl Recording {
    /// Starts recording `occ` on this node unless it is being recorded here already (called
    /// when a publisher connects). A lecture that ended is not recorded again.
    pub(crate) fn start_recording(&self, occ: OccurrenceId) {
        let Some(setup) = self.rec.clone() else {
            return;
        };
        {
            let mut active = self.recorders.lock().unwrap_or_else(|p| p.into_inner());
            if !active.insert(occ) {
                return;
            }
        }
        let live = self.clone();
        tokio::spawn(async move {
            if let Err(e) = live.record(&setup, occ).await {
                tracing::warn!(%occ, error = %e, "recording stopped with an error");
            }
            live.recorders.lock().unwrap_or_else(|p| p.into_inner()).remove(&occ);
            // The room closed because the lecture ended: the replay can be made now.
            if let Err(e) = live.queue_replay_if_ended(occ, true).await {
                tracing::warn!(%occ, error = %e, "could not queue the replay");
            }
        });
    }

    /// Whether this node is recording `occ`.
    pub(crate) fn recording_here(&self, occ: OccurrenceId) -> bool {
        self.recorders.lock().map(|r| r.contains(&occ)).unwrap_or(false)
    }

    pub(super) async fn record(&self, setup: &RecordingSetup, occ: OccurrenceId) -> anyhow::Result<()> {
        let now = self.clock.now();
        let state = store::recordings::open(&self.db, occ, now).await?;
        if state.as_deref() != Some("recording") {
            return Ok(());
        }
        let Some(mut tracks) = self.sfu.tracks(occ) else {
            return Ok(());
        };
        let mut quick_failures = 0;
        loop {
            // Wait for a publisher's tracks (all the kinds its offer carries).
            let (want_audio, want_video) = self.sfu.expected_kinds(occ);
            let complete = |v: &Vec<Arc<PubTrack>>| {
                let has = |k| v.iter().any(|t: &Arc<PubTrack>| t.kind == k);
                !v.is_empty() && (!want_video || has(RtpCodecKind::Video)) && (!want_audio || has(RtpCodecKind::Audio))
            };
            // All the kinds the offer announced, or after a while what has come (a silent
            // microphone must not keep the picture from being recorded).
            let waited = match tokio::time::timeout(Duration::from_secs(5), tracks.wait_for(complete)).await {
                Ok(Ok(v)) => Some(v.clone()),
                Ok(Err(_)) => return Ok(()),
                Err(_) => None,
            };
            let current = match waited {
                Some(v) => v,
                None => {
                    let now = tracks.borrow_and_update().clone();
                    if now.is_empty() {
                        // No publisher yet: wait for one, however long.
                        match tracks.wait_for(|v| !v.is_empty()).await {
                            Ok(v) => v.clone(),
                            Err(_) => return Ok(()),
                        }
                    } else {
                        now
                    }
                }
            };
            if !self.sfu.room_open(occ) {
                return Ok(());
            }
            let started = std::time::Instant::now();
            let end = self.record_run(setup, occ, &current, &mut tracks).await?;
            tracing::info!(%occ, ?end, "recording run finished");
            match end {
                RunEnd::RoomClosed => return Ok(()),
                RunEnd::PublisherGone => quick_failures = 0,
                RunEnd::FfmpegExited => {
                    quick_failures = if started.elapsed() < Duration::from_secs(20) {
                        quick_failures + 1
                    } else {
                        1
                    };
                    if quick_failures >= 5 {
                        anyhow::bail!("ffmpeg failed five times in a row; this publisher is not recorded");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            if !self.sfu.room_open(occ) {
                return Ok(());
            }
        }
    }

    /// One ffmpeg run over the current publisher's tracks.
    pub(super) async fn record_run(
        &self,
        setup: &RecordingSetup,
        occ: OccurrenceId,
        current: &[Arc<PubTrack>],
        tracks: &mut tokio::sync::watch::Receiver<Vec<Arc<PubTrack>>>,
    ) -> anyhow::Result<RunEnd> {
        let run = store::recordings::next_run(&self.db, occ, self.clock.now()).await?;
        let dir = setup.work_dir.join("live").join(occ.to_string()).join(run.to_string());
        let _ = tokio::fs::remove_dir_all(&dir).await;
        tokio::fs::create_dir_all(&dir).await?;
        let video = current.iter().find(|t| t.kind == RtpCodecKind::Video).cloned();
        let audio = current.iter().find(|t| t.kind == RtpCodecKind::Audio).cloned();
        let base = free_ports().ok_or_else(|| anyhow::anyhow!("no free loopback UDP ports for ffmpeg"))?;
        let sdp = ffmpeg_sdp(
            video.as_ref().map(|v| (v.codec.mime_type.as_str(), base)),
            audio.as_ref().map(|_| base + 2),
        );
        let sdp_path = dir.join("in.sdp");
        tokio::fs::write(&sdp_path, sdp).await?;
        let copy_video = video
            .as_ref()
            .is_some_and(|v| v.codec.mime_type.eq_ignore_ascii_case("video/h264"));
        let segment_s = self.hls_segment_seconds;
        let mut child = Command::new(&setup.ffmpeg)
            .args(ffmpeg_args(
                &sdp_path,
                &dir,
                copy_video,
                video.is_some(),
                audio.is_some(),
                segment_s,
            ))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut stderr = child.stderr.take();
        let stderr_tail = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut all = Vec::new();
            if let Some(e) = stderr.as_mut() {
                let _ = e.read_to_end(&mut all).await;
            }
            let text = String::from_utf8_lossy(&all).into_owned();
            text.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
        });
        // ffmpeg opens its sockets while it starts; packets before that are lost, and the
        // keyframe request below comes after.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sock = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await?);
        let mut pumps = Vec::new();
        if let Some(v) = &video {
            pumps.push(tokio::spawn(pump(
                v.clone(),
                sock.clone(),
                base,
                VIDEO_PT,
                rand::random(),
            )));
            v.request_keyframe().await;
        }
        if let Some(a) = &audio {
            pumps.push(tokio::spawn(pump(
                a.clone(),
                sock.clone(),
                base + 2,
                AUDIO_PT,
                rand::random(),
            )));
        }
        tracing::info!(%occ, run, copy_video, "recording run started");
        let mut up = Uploader {
            occ,
            run,
            dir: dir.clone(),
            init_done: false,
            uploaded: 0,
            next_seq: None,
        };
        let mut poll = tokio::time::interval(Duration::from_millis(500));
        let mut keyframes = tokio::time::interval(Duration::from_secs(segment_s.max(1)));
        let end = loop {
            tokio::select! {
                _ = poll.tick() => {
                    if let Err(e) = self.upload_pieces(setup, &mut up).await {
                        tracing::warn!(%occ, error = %e, "could not store a recorded piece yet; retrying");
                    }
                }
                _ = keyframes.tick(), if copy_video => {
                    if let Some(v) = &video {
                        v.request_keyframe().await;
                    }
                }
                changed = tracks.changed() => {
                    let gone = changed.is_err()
                        || !tracks.borrow_and_update().iter().any(|t| current.iter().any(|c| Arc::ptr_eq(c, t)));
                    if gone {
                        break if self.sfu.room_open(occ) { RunEnd::PublisherGone } else { RunEnd::RoomClosed };
                    }
                }
                status = child.wait() => {
                    tracing::warn!(%occ, run, ?status, "ffmpeg stopped while recording");
                    break RunEnd::FfmpegExited;
                }
            }
        };
        for p in pumps {
            p.abort();
        }
        if end != RunEnd::FfmpegExited {
            // SIGTERM makes ffmpeg finish the last piece and the playlist at once while packets
            // still flow (the lecture ended). After a publisher went silent it can take seconds
            // (`q` on stdin waits for the next packet): then the unfinished piece, seconds of a
            // dropped stream, is given up.
            if let Some(pid) = child.id() {
                let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
            }
            if tokio::time::timeout(Duration::from_secs(2), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
        let tail = stderr_tail.await.unwrap_or_default();
        if end == RunEnd::FfmpegExited && !tail.is_empty() {
            tracing::warn!(%occ, run, ffmpeg = %tail, "ffmpeg's last words");
        }
        // Whatever ffmpeg finished is kept; a retry covers a store that did not answer.
        for attempt in 0..5 {
            match self.upload_pieces(setup, &mut up).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(%occ, run, attempt, error = %e, "could not store the last pieces");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        let _ = tokio::fs::remove_dir_all(&dir).await;
        Ok(end)
    }

    /// Puts the pieces ffmpeg finished into the store and lists them, in order.
    pub(super) async fn upload_pieces(&self, setup: &RecordingSetup, up: &mut Uploader) -> anyhow::Result<()> {
        let Ok(text) = tokio::fs::read_to_string(up.dir.join("index.m3u8")).await else {
            return Ok(());
        };
        let entries = playlist_entries(&text);
        if entries.len() <= up.uploaded {
            return Ok(());
        }
        let prefix = format!("live/{}/{}", up.occ, up.run);
        if !up.init_done {
            let init = tokio::fs::read(up.dir.join("init.mp4")).await?;
            setup
                .store
                .put_bytes(&format!("{prefix}/init.mp4"), bytes::Bytes::from(init))
                .await?;
            up.init_done = true;
        }
        for (name, dur) in entries.iter().skip(up.uploaded) {
            let path = up.dir.join(name);
            let body = tokio::fs::read(&path).await?;
            let end_ms = tokio::fs::metadata(&path)
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(self.clock.now().0, |d| d.as_millis() as i64);
            // One recorder per occurrence writes its pieces: the next number is read once per
            // run, then counted here.
            let seq = match up.next_seq {
                Some(n) => n,
                None => store::recordings::next_seq(&self.db, up.occ).await?,
            };
            setup
                .store
                .put_bytes(&format!("{prefix}/{seq}.m4s"), bytes::Bytes::from(body))
                .await?;
            let segment = store::recordings::NewSegment {
                occ: up.occ,
                seq,
                run: up.run,
                duration_ms: *dur as i32,
                started_at: end_ms - dur,
            };
            store::recordings::insert_segment(&self.db, &segment, self.clock.now()).await?;
            let _ = tokio::fs::remove_file(&path).await;
            up.uploaded += 1;
            up.next_seq = Some(seq + 1);
        }
        Ok(())
    }
}
