//! Integration tests of the server: each test starts the real server on port 0 with its own
//! temporary data folder and talks to it over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

mod access;
mod auth_flows;
mod dashboard;
mod hardening;
mod helpers;
mod ingest;
mod list;
mod meta;
mod otlp;
mod redaction;
mod rejections;
mod ui;
