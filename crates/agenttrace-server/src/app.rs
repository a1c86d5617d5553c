//! The router and the state every handler shares.

use crate::api::auth::LoginThrottle;
use crate::api::{auth, meta, projects, shares, traces};
use crate::auth::jwt::JwtKeys;
use crate::client_ip::{Cidr, ForwardedHeader};
use crate::clock::Clock;
use crate::config::{AppEnv, AuthConfig};
use crate::layers::{self, SecurityHeaders};
use crate::metrics::{Metrics, MetricsAccess};
use crate::problem::{self, Problem};
use crate::security::rate_limit::{RateLimitConfig, RateLimiter};
use agenttrace_core::Limits;
use agenttrace_core::redact::Redactor;
use agenttrace_store::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::timeout::TimeoutLayer;

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
    pub request_timeout: std::time::Duration,
    pub env: AppEnv,
    /// `None` when requests are not rate limited (development, unless configured).
    pub limiter: Option<Arc<dyn RateLimiter>>,
    pub rate_limit_rules: Arc<RateLimitConfig>,
    pub metrics: Arc<Metrics>,
    pub metrics_access: Arc<MetricsAccess>,
    /// Permits for requests in flight (load shedding).
    pub in_flight: Arc<Semaphore>,
    pub max_in_flight: usize,
    pub trusted_proxies: Arc<[Cidr]>,
    pub proxy_header: ForwardedHeader,
    pub allowed_origins: Arc<[String]>,
    pub security_headers: Arc<SecurityHeaders>,
    pub sentry_enabled: bool,
    pub data_dir: Arc<PathBuf>,
    pub min_free_disk_bytes: u64,
    /// The largest request head (request line and headers) accepted, in bytes.
    pub max_header_bytes: usize,
    /// The most header lines in a request.
    pub max_headers: usize,
}

/// Builds the application's routes and layers.
pub fn router(state: AppState) -> Router {
    let body_limit = usize::try_from(state.limits.max_body_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/health", get(meta::health))
        .route("/health/ready", get(crate::health::ready))
        .route("/metrics", get(crate::metrics::handler))
        .route("/api/openapi.json", get(meta::openapi))
        .route("/api/v1/schema/trace.json", get(meta::trace_schema))
        .route("/api/v1/traces", get(traces::list).post(traces::upload))
        .route("/v1/traces", post(crate::api::otlp::export))
        .route("/v1/traces/ingest", post(crate::api::otlp::openai_agents))
        .route(
            "/api/v1/traces/{id}",
            get(traces::get).delete(traces::delete),
        )
        .route("/api/v1/traces/{id}/steps/{step_id}", get(traces::get_step))
        .route("/api/v1/traces/{id}/search", get(traces::search_steps))
        .route("/api/v1/traces/{id}/export", get(traces::export))
        .route("/api/v1/traces/{id}/share", post(shares::create))
        .route("/api/v1/traces/{id}/share/{token}", delete(shares::revoke))
        .route(
            "/api/v1/traces/{id}/shares/{share_id}",
            delete(shares::revoke_by_id),
        )
        .route("/api/v1/share/{token}", get(shares::view))
        .route(
            "/api/v1/share/{token}/steps/{step_id}",
            get(shares::view_step),
        )
        .route("/api/v1/share/{token}/search", get(shares::search_steps))
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
        .merge(crate::ui::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone())
        // Multipart reads honour this; raw bodies are capped by the upload handler itself, which
        // answers with a problem document instead of a bare 413.
        .layer(DefaultBodyLimit::max(body_limit))
        // Outside the handlers' size checks, so that the limits apply to the decompressed
        // bytes: a small gzip body that inflates past the limit is refused with 413.
        .layer(RequestDecompressionLayer::new().gzip(true).deflate(true))
        // Before decompression: an encoding we cannot read gets a problem that names it.
        .layer(middleware::from_fn(refuse_unknown_encoding))
        // Cuts a request that takes too long (a client that stalls mid-body), so it can hold
        // neither a connection nor a graceful shutdown forever.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.request_timeout,
        ))
        // Refuses by client address; limits by principal are checked once it is known.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            layers::rate_limit,
        ))
        // Sheds load with 503 beyond the requests-in-flight limit.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            layers::shed_load,
        ))
        // Outside everything that can answer with a bare error (extractor rejections, the
        // layers above): every error leaves as application/problem+json.
        .layer(middleware::map_response(problem_for_bare_errors))
        // A panic in any handler becomes a 500 problem, not a dropped connection.
        .layer(CatchPanicLayer::custom(|_| {
            let mut response = Problem::internal(&"handler panicked").into_response();
            response.extensions_mut().insert(layers::Panicked);
            response
        }))
        // Answers preflights and marks answers readable for the allowed origins, errors (a
        // panic's 500 too) included.
        .layer(layers::cors(&state.allowed_origins, state.env))
        // Outermost: request id, client address, the request's log span and metrics, and the
        // security headers on every answer. The log never records bodies or headers other than
        // the user agent, so secrets in them cannot reach it.
        .layer(middleware::from_fn_with_state(
            state,
            layers::request_context,
        ))
}

/// Refuses a `Content-Encoding` other than gzip or deflate (or identity) with a problem that
/// says so.
async fn refuse_unknown_encoding(request: Request, next: Next) -> Response {
    let unknown = request
        .headers()
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("?").split(','))
        .map(|e| e.trim().to_ascii_lowercase())
        .find(|e| !matches!(e.as_str(), "gzip" | "x-gzip" | "deflate" | "identity" | ""));
    match unknown {
        Some(encoding) => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-encoding",
            format!(
                "Content-Encoding {:?} is not supported: send the body uncompressed, or with gzip or deflate",
                encoding.chars().take(40).collect::<String>()
            ),
        )
        .into_response(),
        None => next.run(request).await,
    }
}

/// Turns an error response that is not already a problem document (an extractor's plain-text
/// rejection, a layer's empty 408 or 415) into one, keeping its status and its text.
async fn problem_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    // A problem document, a deliberate JSON report (readiness) or a page (the web UI's error
    // pages) stays as it is.
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            let v = v.as_bytes();
            v.starts_with(problem::CONTENT_TYPE.as_bytes())
                || v.starts_with(b"application/json")
                || v.starts_with(b"text/html")
        });
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let slug = match status {
        StatusCode::BAD_REQUEST => "bad-request",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "too-large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        _ => "error",
    };
    let mut problem = Problem::new(status, slug, detail).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().append(name.clone(), value.clone());
        }
    }
    problem
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
