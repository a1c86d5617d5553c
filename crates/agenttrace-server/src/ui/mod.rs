//! The web UI: server-rendered pages (askama, auto-escaped) and the small ES modules and
//! stylesheets they load, all embedded in the binary. No inline script or style anywhere, so
//! the strict Content-Security-Policy holds on every page.
//!
//! Pages authenticate with the browser session cookie; a signed-out visitor is sent to the
//! sign-in page and back. The session's CSRF token is derived from its cookie, so each page can
//! carry it (in `<meta name="csrf-token">`) for the scripts' API calls and the sign-out form.

mod charts;
mod compare;
mod dashboard;
pub mod format;
mod pages;
mod settings;
mod statics;

use crate::app::AppState;
use axum::Router;
use axum::routing::{get, post};

pub use statics::asset_version;

/// The UI's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::traces))
        .route("/login", get(pages::login_page).post(pages::login))
        .route("/register", get(pages::register_page).post(pages::register))
        .route("/logout", post(pages::logout))
        .route("/upload", get(pages::upload))
        .route("/traces/{id}", get(pages::trace))
        .route("/dashboard", get(dashboard::page))
        .route("/compare", get(compare::page))
        .route("/share/{token}", get(pages::shared))
        .route("/settings", get(settings::page))
        .route("/static/{file}", get(statics::serve))
}
