//! Media: video assets in the object store, resumable chunked uploads, `ffprobe` validation and
//! durable `ffmpeg` transcoding jobs to an HLS (fMP4) ladder for phones with an audio-only
//! rendition and a poster; captions as WebVTT subtitle renditions; signed HLS playback from the
//! local store or S3; watch progress and verified study time.
//!
//! It never depends on `catalog` (a lesson refers to an asset by id), never reads configuration
//! and never binds sockets: the server hands it settings, the database, the store and the job
//! queue, and runs its job handler in a worker.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;

use platform::http::ApiRouter;
use platform::jobs::Jobs;
use platform::store::ObjectStore;
use platform::{Clock, Db};

mod assets;
pub mod captions;
mod error;
mod ids;
pub mod playback;
pub mod probe;
pub mod progress;
pub mod s3;
mod settings;
pub mod states;
mod transcode;
mod uploads;

pub use assets::AssetId;
pub use error::{Closed, MediaError, MediaResult};
pub use playback::AssetAccess;
pub use settings::MediaSettings;
pub use states::{AssetState, UploadState};
pub use transcode::{Plan, TRANSCODE, Transcoder, plan};
pub use uploads::{CompleteRequest, NewUpload};

/// The media service: state of its routes and of its job handler.
#[derive(Clone, Debug)]
pub struct Media {
    db: Db,
    store: Arc<dyn ObjectStore>,
    clock: Arc<dyn Clock>,
    jobs: Jobs,
    cfg: Arc<MediaSettings>,
    work_dir: PathBuf,
    /// Redirect segment requests to presigned store URLs (S3) instead of proxying the bytes.
    presigned_delivery: bool,
    /// Who besides uploaders and admins may watch or manage an asset (the catalog's rule).
    access: Option<Arc<dyn AssetAccess>>,
}

impl Media {
    /// The service; settings out of range are refused ([`MediaSettings::validate`]).
    pub fn new(
        db: Db,
        store: Arc<dyn ObjectStore>,
        clock: Arc<dyn Clock>,
        jobs: Jobs,
        cfg: MediaSettings,
        work_dir: PathBuf,
    ) -> Result<Self, String> {
        let cfg = cfg.validate()?;
        Ok(Self {
            db,
            store,
            clock,
            jobs,
            cfg: Arc::new(cfg),
            work_dir,
            presigned_delivery: false,
            access: None,
        })
    }

    /// The same service deciding rights beyond uploaders and admins with `access`.
    pub fn with_access(mut self, access: Arc<dyn AssetAccess>) -> Self {
        self.access = Some(access);
        self
    }

    /// Lets clients fetch segments straight from the store through presigned URLs, when the
    /// store can make them.
    pub fn with_presigned_delivery(mut self, on: bool) -> Self {
        self.presigned_delivery = on;
        self
    }

    /// The database handle (the server composes reports across domains with it).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The job handler that transcodes uploaded assets.
    pub fn transcoder(&self) -> Transcoder {
        Transcoder { media: self.clone() }
    }

    /// Whether `ffmpeg` and `ffprobe` can be run (checked at start-up and by `/readyz`).
    pub async fn ffmpeg_version(&self) -> Option<String> {
        transcode::ffmpeg_version(&self.cfg.ffmpeg, &self.cfg.ffprobe).await
    }
}

/// The media API routes. `access` decides who may watch (the server composes it from the
/// catalog); `url_secret` keys the signed playback URLs.
pub fn router(media: Media, access: Arc<dyn AssetAccess>, url_secret: &[u8]) -> ApiRouter {
    let chunk_limit = usize::try_from(media.cfg.chunk_size_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1024);
    let media = media.with_access(access);
    let pb = playback::Playback::new(media.clone(), url_secret);
    uploads::router(chunk_limit)
        .merge(assets::router())
        .merge(captions::router())
        .with_state(media)
        .merge(playback::api_router(pb.clone()))
        .merge(progress::router().with_state(pb))
}

/// The routes that serve media bytes under signed URLs (`/media/…`, outside `/api`).
pub fn delivery_router(media: Media, access: Arc<dyn AssetAccess>, url_secret: &[u8]) -> axum::Router {
    playback::delivery_router(playback::Playback::new(media.with_access(access), url_secret))
}
