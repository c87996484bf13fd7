//! The schedule service: series and their occurrences, the live state stored through the
//! sans-IO lifecycle, enrolment with waitlists, and the calendar feed. Its methods live beside
//! their concern (`series`, `occurrences`, `enrolment`); what follows from an occurrence ending
//! or a series changing (rooms closing, notices, the replay) is wired by [`crate::Live`].

use std::sync::Arc;

use platform::{Clock, Db};

use crate::audience::Audience;
use crate::events::Events;

/// Series, occurrences and enrolment.
#[derive(Clone, Debug)]
pub(crate) struct Schedule {
    pub(crate) db: Db,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audience: Audience,
    /// Live-state changes reach open pages.
    pub(crate) events: Events,
    /// Signs calendar URLs.
    pub(crate) signer: platform::signing::Signer,
}
