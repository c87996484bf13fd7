//! The only crate that knows the world: it reads configuration files and environment variables,
//! sets up logging and metrics, opens the database and the object store, binds listeners, owns
//! the process lifecycle, composes the domain routers into one HTTP app, and serves the web app.
//! Domain crates get settings, pools and stores from here and never look for them themselves.
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
mod learning;
mod record;
pub mod settings;
pub mod telemetry;
pub mod web;

pub use app::{App, build};
pub use settings::{Settings, TermSettings};
