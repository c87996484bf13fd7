//! The live-session store: every query of the crate, as named functions over a [`Db`] that
//! return rows or domain types. Services and handlers call these and never touch a pool; the
//! store sits below them and imports only the pure modules (`model`, `lifecycle`) and the ids.
//!
//! [`Db`]: platform::Db

pub(crate) mod activities;
pub(crate) mod attendance;
pub(crate) mod enrolments;
pub(crate) mod messages;
pub(crate) mod notices;
pub(crate) mod occurrences;
pub(crate) mod people;
pub(crate) mod recordings;
pub(crate) mod series;
