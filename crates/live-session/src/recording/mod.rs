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
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use platform::store::ObjectStore;
use platform::{Clock, Db, Timestamp};

use crate::audience::Audience;
use crate::sfu::Sfu;
use crate::{OccurrenceId, SeriesId};

mod ffmpeg;
mod recorder;
mod replay_job;
mod routes;

pub use ffmpeg::*;
pub use replay_job::*;
pub use routes::*;

/// The job that turns a finished recording into a media asset and a replay lesson.
pub const REPLAY_JOB: &str = "live.replay";

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

/// Occurrences being recorded on this node.
pub(crate) type Recorders = Arc<Mutex<HashSet<OccurrenceId>>>;

/// The recording service: recorders of this node, replays to queue, make and finish.
#[derive(Clone, Debug)]
pub(crate) struct Recording {
    pub(crate) db: Db,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audience: Audience,
    /// The publishers' tracks come from here.
    pub(crate) sfu: Sfu,
    /// Off without ffmpeg or when configured off.
    pub(crate) rec: Option<Arc<RecordingSetup>>,
    pub(crate) recorders: Recorders,
    pub(crate) hls_segment_seconds: u64,
}
