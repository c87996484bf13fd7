//! Live sessions: weekly expert series and their occurrences, enrolment with waitlists, the
//! WHIP/WHEP SFU built on the `webrtc` crate, attendance intervals, questions and chat.
//!
//! Lifecycle, enrolment and attendance are sans-IO state machines (events and `now` in,
//! decisions out); the WebRTC and HTTP glue stays thin. It may depend on `media` (a recording
//! becomes an asset) but never on `catalog` or `server`, and binds media sockets only on the
//! addresses the server gives it. The routes arrive with the live-session issues.
#![forbid(unsafe_code)]

use platform::http::ApiRouter;

/// The live-session API routes (none yet).
pub fn router() -> ApiRouter {
    ApiRouter::new()
}
