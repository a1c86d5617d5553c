//! The router and the state every handler shares.

use crate::api::auth::LoginThrottle;
use crate::api::{auth, meta, projects, shares, traces};
use crate::auth::jwt::JwtKeys;
use crate::clock::Clock;
use crate::config::AuthConfig;
use crate::problem::Problem;
use agenttrace_core::Limits;
use agenttrace_core::redact::Redactor;
use agenttrace_store::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post};
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub limits: Limits,
    pub redactor: Arc<Redactor>,
    pub jwt: Arc<JwtKeys>,
    pub auth: AuthConfig,
    /// Whether anyone may register (the first account always may).
    pub registration_open: bool,
    pub clock: Arc<dyn Clock>,
    pub login_throttle: Arc<LoginThrottle>,
}

/// Builds the application's routes and layers.
pub fn router(state: AppState) -> Router {
    let body_limit = usize::try_from(state.limits.max_body_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/", get(meta::index))
        .route("/health", get(meta::health))
        .route("/api/openapi.json", get(meta::openapi))
        .route("/api/v1/schema/trace.json", get(meta::trace_schema))
        .route("/api/v1/traces", get(traces::list).post(traces::upload))
        .route(
            "/api/v1/traces/{id}",
            get(traces::get).delete(traces::delete),
        )
        .route("/api/v1/traces/{id}/steps/{step_id}", get(traces::get_step))
        .route("/api/v1/traces/{id}/export", get(traces::export))
        .route("/api/v1/traces/{id}/share", post(shares::create))
        .route("/api/v1/traces/{id}/share/{token}", delete(shares::revoke))
        .route("/api/v1/share/{token}", get(shares::view))
        .route("/api/v1/auth/register", post(auth::register))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/refresh", post(auth::refresh))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/password", post(auth::change_password))
        .route(
            "/api/v1/auth/session",
            post(auth::create_session).delete(auth::delete_session),
        )
        .route("/api/v1/me", get(auth::me))
        .route("/api/v1/users", post(auth::create_user))
        .route(
            "/api/v1/projects",
            get(projects::list).post(projects::create),
        )
        .route(
            "/api/v1/projects/{id}/members",
            get(projects::members).post(projects::add_member),
        )
        .route(
            "/api/v1/projects/{id}/members/{user_id}",
            patch(projects::change_member).delete(projects::remove_member),
        )
        .route(
            "/api/v1/projects/{id}/api-keys",
            get(projects::list_keys).post(projects::create_key),
        )
        .route(
            "/api/v1/projects/{id}/api-keys/{key_id}",
            delete(projects::revoke_key),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        // Multipart reads honour this; raw bodies are capped by the upload handler itself, which
        // answers with a problem document instead of a bare 413.
        .layer(DefaultBodyLimit::max(body_limit))
        // Outside the handlers' size checks, so that the limits apply to the decompressed
        // bytes: a small gzip body that inflates past the limit is refused with 413.
        .layer(RequestDecompressionLayer::new().gzip(true))
        // Outermost but one: a panic in any handler becomes a 500 problem, not a dropped connection.
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(Problem::internal(&"handler panicked"))
        }))
        // Outermost: logs method, path, status and latency of every request. It never records
        // bodies or headers, so secrets in them cannot reach the log.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "no such path")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this path does not accept that method",
    )
}
