//! Media: video assets in the object store (local directory or S3), resumable uploads, `ffprobe`
//! validation, durable `ffmpeg` transcoding jobs to an HLS ladder, signed playback, and watch
//! progress (the union of played ranges that study-time credits are computed from).
//!
//! It never depends on `catalog`, never reads configuration and never binds sockets: the server
//! hands it settings, the database and the store. The routes arrive with the media issue.
#![forbid(unsafe_code)]

use platform::http::ApiRouter;

/// The media API routes (none yet).
pub fn router() -> ApiRouter {
    ApiRouter::new()
}
