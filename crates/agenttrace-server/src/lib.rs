//! The AgentTrace HTTP server: ingest endpoints, the JSON API with its OpenAPI document, and
//! health. It holds no SQL (it asks the store) and no format knowledge (it asks the core).

// Handlers return `Result<_, Problem>`; a problem is built only on the error path, where its
// size costs nothing that matters, and boxing it would make every handler noisier.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod app;
pub mod auth;
pub mod checks;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod doctor;
pub mod health;
pub mod layers;
pub mod logging;
pub mod metrics;
pub mod principal;
pub mod problem;
pub mod production;
pub mod security;
pub mod serve;
pub mod ui;

pub use app::{AppState, router};
pub use config::Config;
pub use serve::{Server, ServerError};
