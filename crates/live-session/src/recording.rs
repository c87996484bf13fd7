//! Recording: while an occurrence is live, the publisher's RTP (as forwarded by the SFU) goes
//! over loopback UDP to an `ffmpeg` that packages it as HLS (fMP4) pieces of a few seconds;
//! every finished piece is put into the object store and listed in `live_segments` at once, so
//! a crash loses at most the piece being written. The pieces are the live HLS stream for
//! viewers beyond the WebRTC limit (`hls`), and, when the lecture ends, the replay job joins
//! them into one file and hands it to `media` like an upload (same ladder); the server attaches
//! the asset as a lesson ([`ReplayPublisher`]).
//!
//! Every `ffmpeg` run (a publisher, a new publisher after a drop, a restart, an `ffmpeg` that
//! died) has its own initialization segment; runs follow each other in one recording, so a
//! restart during the occurrence resumes recording into the same replay.

use std::collections::HashSet;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use platform::jobs::{Job, JobContext, JobError, JobHandler, Jobs};
use platform::store::ObjectStore;
use platform::{ApiResult, Timestamp, db_execute, with_db};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::shared::marshal::Marshal;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::broadcast;

use crate::sfu::PubTrack;
use crate::{Live, OccurrenceId, SeriesId};

/// The job that turns a finished recording into a media asset and a replay lesson.
pub const REPLAY_JOB: &str = "live.replay";

/// A recording whose newest piece is younger than this may still be finishing on some node.
const RECORDER_QUIET_MS: i64 = 15_000;

/// Payload types of the RTP handed to ffmpeg (the SFU rewrites them).
const VIDEO_PT: u8 = 96;
const AUDIO_PT: u8 = 111;

/// What recording needs from the server.
#[derive(Clone, Debug)]
pub struct RecordingSetup {
    pub store: Arc<dyn ObjectStore>,
    pub media: media::Media,
    /// The `ffmpeg` program.
    pub ffmpeg: String,
    /// Local scratch space (pieces wait here until they are in the store).
    pub work_dir: PathBuf,
    /// The server attaches finished recordings as lessons.
    pub replays: Arc<dyn ReplayPublisher>,
}

/// A finished recording the server should publish.
#[derive(Debug, Clone)]
pub struct Replay {
    pub occurrence_id: OccurrenceId,
    pub series_id: SeriesId,
    pub series_title: String,
    pub description: String,
    pub lecturer: String,
    pub expert_id: platform::ids::UserId,
    /// The series' audience (`None`: everyone).
    pub scope_org_id: Option<platform::ids::OrgId>,
    pub starts_at: Timestamp,
    pub asset_id: media::AssetId,
    pub duration_s: i32,
    /// The series' replay course, when an earlier replay made it.
    pub replay_course_id: Option<uuid::Uuid>,
    /// The series' age-stage codes (empty: every stage).
    pub age_stages: Vec<String>,
}

/// Attaches a replay as a lesson of the series' replay course, published to the series'
/// audience (the server implements it with the catalog, which `live-session` must not know).
#[async_trait::async_trait]
pub trait ReplayPublisher: Send + Sync + std::fmt::Debug {
    /// Returns the course and lesson ids; calling it again for the same occurrence returns the
    /// same lesson.
    async fn attach(&self, replay: &Replay) -> anyhow::Result<(uuid::Uuid, uuid::Uuid)>;
}

/// The SDP that tells ffmpeg what arrives on which loopback port.
pub fn ffmpeg_sdp(video: Option<(&str, u16)>, audio: Option<u16>) -> String {
    let mut s = String::from(
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=ParentSchool recording\r\nc=IN IP4 127.0.0.1\r\n\
         t=0 0\r\n",
    );
    if let Some((mime, port)) = video {
        let codec = if mime.eq_ignore_ascii_case("video/vp8") {
            "VP8/90000"
        } else {
            "H264/90000"
        };
        s.push_str(&format!(
            "m=video {port} RTP/AVP {VIDEO_PT}\r\na=rtpmap:{VIDEO_PT} {codec}\r\n"
        ));
        if codec.starts_with("H264") {
            s.push_str(&format!("a=fmtp:{VIDEO_PT} packetization-mode=1\r\n"));
        }
    }
    if let Some(port) = audio {
        s.push_str(&format!(
            "m=audio {port} RTP/AVP {AUDIO_PT}\r\na=rtpmap:{AUDIO_PT} opus/48000/2\r\n"
        ));
    }
    s
}

/// ffmpeg's arguments: the SDP in, HLS fMP4 pieces of `segment_s` seconds out. H.264 is copied
/// (the recorder asks the publisher for a keyframe every piece); VP8 is encoded to H.264.
pub fn ffmpeg_args(
    sdp: &FsPath,
    dir: &FsPath,
    copy_video: bool,
    has_video: bool,
    has_audio: bool,
    segment_s: u64,
) -> Vec<String> {
    let mut a: Vec<String> = [
        "-hide_banner",
        "-loglevel",
        "warning",
        "-nostats",
        "-protocol_whitelist",
        "file,udp,rtp",
        // Listen on loopback only: nothing from the network can reach the recording.
        "-localaddr",
        "127.0.0.1",
        "-buffer_size",
        "4194304",
        "-reorder_queue_size",
        "512",
        "-i",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    a.push(sdp.display().to_string());
    if has_video {
        a.extend(["-map", "0:v:0"].map(String::from));
        if copy_video {
            a.extend(["-c:v", "copy"].map(String::from));
        } else {
            a.extend(
                [
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                    "-tune",
                    "zerolatency",
                    "-pix_fmt",
                    "yuv420p",
                    "-force_key_frames",
                ]
                .map(String::from),
            );
            a.push(format!("expr:gte(t,n_forced*{segment_s})"));
        }
    }
    if has_audio {
        a.extend(
            [
                "-map", "0:a:0", "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-ar", "48000",
            ]
            .map(String::from),
        );
    }
    a.extend(
        [
            "-f",
            "hls",
            "-hls_segment_type",
            "fmp4",
            "-hls_playlist_type",
            "event",
            "-hls_flags",
            "independent_segments+temp_file",
            "-hls_fmp4_init_filename",
            "init.mp4",
            "-hls_time",
        ]
        .map(String::from),
    );
    a.push(segment_s.to_string());
    a.push("-hls_segment_filename".into());
    a.push(dir.join("%d.m4s").display().to_string());
    a.push(dir.join("index.m3u8").display().to_string());
    a
}

/// The finished pieces of an ffmpeg HLS playlist: file name and duration (ms), in order.
pub fn playlist_entries(text: &str) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    let mut dur: Option<i64> = None;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("#EXTINF:") {
            let secs = v.split(',').next().unwrap_or("").trim();
            dur = secs.parse::<f64>().ok().map(|s| (s * 1000.0).round() as i64);
        } else if !line.is_empty() && !line.starts_with('#') {
            if let Some(d) = dur.take() {
                let name = line.rsplit('/').next().unwrap_or(line);
                out.push((name.to_owned(), d));
            }
        }
    }
    out
}

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

/// Four consecutive free loopback UDP ports, starting even (RTP and RTCP for video and audio).
fn free_ports() -> Option<u16> {
    for _ in 0..64 {
        let base = 20_000 + 2 * (rand::random::<u16>() % 20_000);
        let held: Vec<_> = (0..4)
            .map_while(|i| std::net::UdpSocket::bind(("127.0.0.1", base + i)).ok())
            .collect();
        if held.len() == 4 {
            return Some(base);
        }
    }
    None
}

/// Sends one track's packets to ffmpeg until the track's channel closes.
async fn pump(t: Arc<PubTrack>, sock: Arc<tokio::net::UdpSocket>, port: u16, pt: u8, ssrc: u32) {
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
enum RunEnd {
    /// The publisher went away (another may come).
    PublisherGone,
    /// The room closed: the lecture ended.
    RoomClosed,
    /// ffmpeg stopped by itself (it crashed, or could not read the stream).
    FfmpegExited,
}

/// One recording's state kept between pieces.
struct Uploader {
    occ: OccurrenceId,
    run: i32,
    dir: PathBuf,
    init_done: bool,
    uploaded: usize,
    /// The number of the next piece, once known.
    next_seq: Option<i32>,
}

impl Live {
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

    async fn record(&self, setup: &RecordingSetup, occ: OccurrenceId) -> anyhow::Result<()> {
        let now = self.clock.now();
        let state: Option<String> = with_db!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO live_recordings (occurrence_id, state, runs, created_at, updated_at)
                 VALUES ($1, 'recording', 0, $2, $2) ON CONFLICT (occurrence_id) DO NOTHING",
            )
            .bind(occ)
            .bind(now)
            .execute(pool)
            .await?;
            sqlx::query_scalar("SELECT state FROM live_recordings WHERE occurrence_id = $1")
                .bind(occ)
                .fetch_optional(pool)
                .await
        })?;
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
    async fn record_run(
        &self,
        setup: &RecordingSetup,
        occ: OccurrenceId,
        current: &[Arc<PubTrack>],
        tracks: &mut tokio::sync::watch::Receiver<Vec<Arc<PubTrack>>>,
    ) -> anyhow::Result<RunEnd> {
        let run: i32 = with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE live_recordings SET runs = runs + 1, updated_at = $2 WHERE occurrence_id = $1")
                .bind(occ)
                .bind(self.clock.now())
                .execute(&mut *tx)
                .await?;
            let run: i32 = sqlx::query_scalar("SELECT runs FROM live_recordings WHERE occurrence_id = $1")
                .bind(occ)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<i32, sqlx::Error>(run)
        })?;
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
        let segment_s = self.cfg.hls_segment_seconds;
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
    async fn upload_pieces(&self, setup: &RecordingSetup, up: &mut Uploader) -> anyhow::Result<()> {
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
                None => with_db!(&self.db, |pool| sqlx::query_scalar::<_, i32>(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM live_segments WHERE occurrence_id = $1",
                )
                .bind(up.occ)
                .fetch_one(pool)
                .await)?,
            };
            setup
                .store
                .put_bytes(&format!("{prefix}/{seq}.m4s"), bytes::Bytes::from(body))
                .await?;
            db_execute!(
                &self.db,
                "INSERT INTO live_segments (occurrence_id, seq, run, duration_ms, started_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                up.occ,
                seq,
                up.run,
                *dur as i32,
                end_ms - dur,
                self.clock.now()
            )?;
            let _ = tokio::fs::remove_file(&path).await;
            up.uploaded += 1;
            up.next_seq = Some(seq + 1);
        }
        Ok(())
    }

    /// Queues the replay job once the lecture has ended (claimed in the database: one job,
    /// whichever node gets here first). A recording without pieces becomes `empty`.
    ///
    /// `finished`: this node's recorder has stored its last piece. Otherwise a piece stored in
    /// the last seconds means a recorder (perhaps on another node) is still finishing, and the
    /// periodic sweep queues the replay a little later.
    pub(crate) async fn queue_replay_if_ended(&self, occ: OccurrenceId, finished: bool) -> ApiResult<()> {
        if self.rec.is_none() {
            return Ok(());
        }
        let row = self.occurrence_row(occ).await?;
        if row.state != "ended" || self.recording_here(occ) {
            return Ok(());
        }
        let now = self.clock.now();
        let (pieces, newest): (i64, Option<i64>) = with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT COUNT(*), MAX(created_at) FROM live_segments WHERE occurrence_id = $1",
        )
        .bind(occ)
        .fetch_one(pool)
        .await)?;
        if !finished && newest.is_some_and(|t| now.0 - t < RECORDER_QUIET_MS) {
            return Ok(());
        }
        if pieces == 0 {
            db_execute!(
                &self.db,
                "UPDATE live_recordings SET state = 'empty', updated_at = $2 WHERE occurrence_id = $1 \
                 AND state = \
                 'recording'",
                occ,
                now
            )?;
            return Ok(());
        }
        let job = platform::ids::JobId::new();
        let payload = serde_json::json!({ "occurrence_id": occ }).to_string();
        with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            let claimed = sqlx::query(
                "UPDATE live_recordings SET state = 'queued', updated_at = $2 WHERE occurrence_id = $1 \
                 AND state = \
                 'recording'",
            )
            .bind(occ)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed == 1 {
                sqlx::query(Jobs::INSERT_SQL)
                    .bind(job)
                    .bind(REPLAY_JOB)
                    .bind(&payload)
                    .bind(5)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tracing::info!(%occ, pieces, "replay queued");
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The job handler that makes replays (run by the server's workers).
    pub fn replay_job(&self) -> ReplayJob {
        ReplayJob { live: self.clone() }
    }

    /// Marks replays whose asset finished transcoding as ready and tells the enrolled parents.
    pub(crate) async fn finish_replays(&self) -> ApiResult<()> {
        let Some(setup) = self.rec.clone() else {
            return Ok(());
        };
        let processing: Vec<(OccurrenceId, Option<media::AssetId>)> = with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT occurrence_id, asset_id FROM live_recordings WHERE state = 'processing'",
        )
        .fetch_all(pool)
        .await)?;
        for (occ, asset) in processing {
            let Some(asset) = asset else { continue };
            let view = setup.media.asset_view(asset).await?;
            let state = match view.state.as_str() {
                "ready" => "ready",
                "failed" => "failed",
                _ => continue,
            };
            // Notices first (each is claimed once, so a repeat after an error sends only what
            // is missing), then the state.
            if state == "ready" {
                self.notify_replay_ready(occ).await?;
            }
            let n = db_execute!(
                &self.db,
                "UPDATE live_recordings SET state = $2, updated_at = $3 WHERE occurrence_id = $1 AND \
                 state = \
                 'processing'",
                occ,
                state,
                self.clock.now()
            )?;
            if n == 1 {
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
    live: Live,
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
        match self.live.make_replay(occ, ctx).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let error = format!("{e:#}");
                // What went wrong stays with the recording (and in the job) for the staff.
                let _ = db_execute!(
                    &self.live.db,
                    "UPDATE live_recordings SET error = $2, state = CASE WHEN $3 THEN 'failed' ELSE state \
                     END, \
                     updated_at = $4 WHERE occurrence_id = $1",
                    occ,
                    &error,
                    job.attempts >= job.max_attempts,
                    self.live.clock.now()
                );
                Err(JobError::Retry(error))
            }
        }
    }
}

impl Live {
    async fn make_replay(&self, occ: OccurrenceId, ctx: &JobContext) -> anyhow::Result<()> {
        let setup = self
            .rec
            .clone()
            .ok_or_else(|| anyhow::anyhow!("recording is off on this node"))?;
        let asset: Option<Option<media::AssetId>> = with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT asset_id FROM live_recordings WHERE occurrence_id = $1",
        )
        .bind(occ)
        .fetch_optional(pool)
        .await)?;
        let (occ_row, series) = self.occurrence_with_series(occ).await?;
        let pieces: Vec<(i32, i32, i32)> = with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT seq, run, duration_ms FROM live_segments WHERE occurrence_id = $1 ORDER BY seq",
        )
        .bind(occ)
        .fetch_all(pool)
        .await)?;
        let duration_ms: i64 = pieces.iter().map(|p| i64::from(p.2)).sum();
        let asset = match asset.flatten() {
            Some(a) => a,
            None => {
                let dir = setup.work_dir.join("replay").join(occ.to_string());
                let _ = tokio::fs::remove_dir_all(&dir).await;
                tokio::fs::create_dir_all(&dir).await?;
                let result = self.assemble(&setup, occ, &pieces, &dir, ctx).await;
                let asset = match result {
                    Ok(path) => setup
                        .media
                        .ingest_file(Some(series.expert_id), &path, |_| {})
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                    Err(e) => {
                        let _ = tokio::fs::remove_dir_all(&dir).await;
                        return Err(e);
                    }
                };
                let _ = tokio::fs::remove_dir_all(&dir).await;
                db_execute!(
                    &self.db,
                    "UPDATE live_recordings SET asset_id = $2, updated_at = $3 WHERE occurrence_id = $1",
                    occ,
                    asset,
                    self.clock.now()
                )?;
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
        with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE live_series SET replay_course_id = $2 WHERE id = $1 AND replay_course_id IS NULL")
                .bind(series.id)
                .bind(course)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE live_occurrences SET replay_course_id = $2, replay_lesson_id = $3, \
                 replay_asset_id = $4, \
                 updated_at = $5 WHERE id = $1",
            )
            .bind(occ)
            .bind(course)
            .bind(lesson)
            .bind(asset)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE live_recordings SET state = 'processing', updated_at = $2 WHERE occurrence_id = \
                 $1 AND state \
                 = 'queued'",
            )
            .bind(occ)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        tracing::info!(%occ, %asset, %course, %lesson, "replay attached; transcoding");
        Ok(())
    }

    /// What each viewer watched live, marked as watched on the replay (without new credit):
    /// a lecture counts once, live and replay minutes being one union.
    async fn seed_live_minutes(
        &self,
        setup: &RecordingSetup,
        occ: OccurrenceId,
        asset: media::AssetId,
    ) -> anyhow::Result<()> {
        let segments = self.replay_segments(occ).await?;
        let rows: Vec<(platform::ids::UserId, i64, i64)> = with_db!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT user_id, joined_at, COALESCE(left_at, seen_until) FROM live_attendance WHERE \
                 occurrence_id = $1",
            )
            .bind(occ)
            .fetch_all(pool)
            .await
        })?;
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
    pub(crate) async fn replay_segments(&self, occ: OccurrenceId) -> ApiResult<Vec<(i64, i64)>> {
        let rows: Vec<(i64, i32)> = with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT started_at, duration_ms FROM live_segments WHERE occurrence_id = $1 ORDER BY seq",
        )
        .bind(occ)
        .fetch_all(pool)
        .await)?;
        Ok(rows.into_iter().map(|(a, d)| (a, i64::from(d))).collect())
    }

    /// Downloads the pieces and joins them: each run's init segment and pieces make one
    /// fragmented MP4; several runs are joined by ffmpeg's concat demuxer.
    async fn assemble(
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

/// Occurrences being recorded on this node.
pub(crate) type Recorders = Arc<Mutex<HashSet<OccurrenceId>>>;

/// A replay's chat and chapters, placed on the replay's timeline.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReplayView {
    pub occurrence_id: OccurrenceId,
    pub title: String,
    pub starts_at: Timestamp,
    /// Answered questions, where the expert marked them (seconds into the replay).
    pub chapters: Vec<ReplayItem>,
    /// Chat messages and questions as they were sent, oldest first.
    pub messages: Vec<ReplayItem>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReplayItem {
    pub at_s: f64,
    /// `chat` or `question`.
    pub kind: String,
    pub author: String,
    pub text: String,
}

pub(crate) fn router() -> platform::http::ApiRouter<Live> {
    platform::http::ApiRouter::new().routes(utoipa_axum::routes!(replay_view))
}

/// The chat and chapters to show beside a replay (its asset id; 404 for other assets).
#[utoipa::path(get, path = "/api/v1/live/replays/{asset_id}", tag = "live", params(("asset_id" = uuid::Uuid, Path)),
    responses((status = 200, body = ReplayView), (status = 404)), security(("bearer" = [])))]
async fn replay_view(
    axum::extract::State(live): axum::extract::State<Live>,
    auth: platform::auth::AuthUser,
    platform::http::Path(asset): platform::http::Path<uuid::Uuid>,
) -> ApiResult<platform::http::Json<ReplayView>> {
    let not_found = || {
        platform::error::ApiError::not_found(
            "replay_not_found",
            platform::error::msg("这不是直播回放。", "This is not the replay of a live lecture."),
        )
    };
    let occ: Option<OccurrenceId> = with_db!(&live.db, |pool| sqlx::query_scalar(
        "SELECT id FROM live_occurrences WHERE replay_asset_id = $1",
    )
    .bind(asset)
    .fetch_optional(pool)
    .await)?;
    let occ = occ.ok_or_else(not_found)?;
    let (row, series) = live.occurrence_with_series(occ).await?;
    if !live.manages(&auth, &series).await? && !live.in_audience(auth.id, series.scope_org_id).await? {
        return Err(not_found());
    }
    let segments = live.replay_segments(occ).await?;
    let rows: Vec<(String, String, String, bool, Option<Timestamp>, Timestamp)> =
        with_db!(&live.db, |pool| sqlx::query_as(
            "SELECT m.kind, u.display_name, m.text, m.answered, m.answered_at, m.created_at
           FROM live_messages m JOIN users u ON u.id = m.user_id
          WHERE m.occurrence_id = $1 AND NOT m.hidden ORDER BY m.created_at LIMIT 5000",
        )
        .bind(occ)
        .fetch_all(pool)
        .await)?;
    let at = |t: Timestamp| replay_offset(&segments, t.0) as f64 / 1000.0;
    let mut chapters: Vec<ReplayItem> = rows
        .iter()
        .filter_map(
            |(kind, author, text, answered, answered_at, _)| match (kind.as_str(), answered, answered_at) {
                ("question", true, Some(t)) => Some(ReplayItem {
                    at_s: at(*t),
                    kind: kind.clone(),
                    author: author.clone(),
                    text: text.clone(),
                }),
                _ => None,
            },
        )
        .collect();
    chapters.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    let messages = rows
        .into_iter()
        .map(|(kind, author, text, _, _, created)| ReplayItem {
            at_s: at(created),
            kind,
            author,
            text,
        })
        .collect();
    Ok(platform::http::Json(ReplayView {
        occurrence_id: occ,
        title: series.title,
        starts_at: row.starts_at,
        chapters,
        messages,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdp_for_ffmpeg() {
        let s = ffmpeg_sdp(Some(("video/H264", 40000)), Some(40002));
        assert!(s.contains("m=video 40000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1"));
        assert!(s.contains("m=audio 40002 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2"));
        let v = ffmpeg_sdp(Some(("video/VP8", 40000)), None);
        assert!(v.contains("VP8/90000") && !v.contains("fmtp") && !v.contains("m=audio"));
    }

    #[test]
    fn ffmpeg_arguments() {
        let a = ffmpeg_args(FsPath::new("/w/in.sdp"), FsPath::new("/w"), true, true, true, 2);
        let s = a.join(" ");
        assert!(
            s.contains("-localaddr 127.0.0.1") && s.contains("-i /w/in.sdp -map 0:v:0 -c:v copy -map 0:a:0 -c:a aac")
        );
        assert!(
            s.contains("-hls_segment_type fmp4")
                && s.ends_with("-hls_time 2 -hls_segment_filename /w/%d.m4s /w/index.m3u8")
        );
        let vp8 = ffmpeg_args(FsPath::new("/w/in.sdp"), FsPath::new("/w"), false, true, false, 4).join(" ");
        assert!(vp8.contains("-c:v libx264") && vp8.contains("expr:gte(t,n_forced*4)") && !vp8.contains("0:a:0"));
    }

    #[test]
    fn finished_pieces_of_a_playlist() {
        let text = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n\
                    #EXTINF:1.997982,\n/w/0.m4s\n#EXTINF:2.000000,\n1.m4s\n#EXTINF:2.0";
        assert_eq!(
            playlist_entries(text),
            vec![("0.m4s".to_owned(), 1998), ("1.m4s".to_owned(), 2000)]
        );
        assert!(playlist_entries("").is_empty());
    }

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
