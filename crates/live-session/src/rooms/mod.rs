//! The rooms service: what happens while a lecture is on. WHIP/WHEP signalling into the SFU,
//! live HLS for viewers beyond the WebRTC limit, event-stream tickets and viewer counts, ICE
//! and TURN credentials, and the attendance that viewers' connections record (with its report).

use std::sync::Arc;

use platform::{Clock, Db};

use crate::attendance::Attendance;
use crate::audience::Audience;
use crate::events::Events;
use crate::hls::HlsViewers;
use crate::recording::RecordingSetup;
use crate::sfu::Sfu;

pub(crate) mod access;
mod events;
mod hls;
mod ice;
mod reports;

pub(crate) use hls::delivery_router;

/// Signalling, live HLS, events, ICE and attendance.
#[derive(Clone, Debug)]
pub(crate) struct Rooms {
    pub(crate) db: Db,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audience: Audience,
    pub(crate) sfu: Sfu,
    pub(crate) events: Events,
    pub(crate) attendance: Attendance,
    pub(crate) hls: HlsViewers,
    /// Signs HLS URLs and event-stream tickets.
    pub(crate) signer: platform::signing::Signer,
    pub(crate) ice: Arc<crate::ice::IceConfig>,
    /// The object store that live HLS pieces come from (off without recording).
    pub(crate) rec: Option<Arc<RecordingSetup>>,
    /// How long an event-stream ticket lasts.
    pub(crate) ticket_seconds: u64,
}

/// The routes of the rooms: event streams and tickets, HLS heartbeats, ICE servers, reports.
pub(crate) fn router() -> platform::http::ApiRouter<Rooms> {
    events::router()
        .merge(reports::router())
        .merge(hls::router())
        .merge(ice::router())
}
