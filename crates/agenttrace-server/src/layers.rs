//! The security layers every request passes: request id and client address, the request's log
//! span and metrics, security headers, CORS, load shedding and rate limiting.

use crate::app::AppState;
use crate::client_ip;
use crate::config::AppEnv;
use crate::problem::Problem;
use crate::security::rate_limit::{Decision, LimitClass};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument;

/// The header that carries the request id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// The built-in Content-Security-Policy: everything from this origin only, no inline script, no
/// framing, no plugins, no `<base>` tricks.
pub const DEFAULT_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// This request's id (from a well-formed incoming `X-Request-Id`, else new).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The client's address as resolved from the socket and, behind a trusted proxy, its headers.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

/// Marks a 503 of load shedding.
#[derive(Debug, Clone, Copy)]
pub struct Shed;

/// Marks the 500 of a handler that panicked.
#[derive(Debug, Clone, Copy)]
pub struct Panicked;

/// Set on requests that arrived over TLS.
#[derive(Debug, Clone, Copy)]
pub struct Tls;

/// What the security-header layer adds, computed once.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    csp: HeaderValue,
    hsts: bool,
}

impl SecurityHeaders {
    /// `csp` replaces the built-in policy; `hsts` when the server speaks TLS.
    pub fn new(csp: Option<&str>, hsts: bool) -> Result<SecurityHeaders, String> {
        let csp = HeaderValue::from_str(csp.unwrap_or(DEFAULT_CSP).trim())
            .map_err(|_| "CSP_POLICY must be one line of visible ASCII".to_owned())?;
        Ok(SecurityHeaders { csp, hsts })
    }

    fn apply(&self, headers: &mut HeaderMap) {
        // A page may ask for a stricter referrer policy (the shared view, whose URL holds its
        // token); every other header is the same everywhere.
        if !headers.contains_key(header::REFERRER_POLICY) {
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("strict-origin-when-cross-origin"),
            );
        }
        let fixed: [(HeaderName, &'static str); 4] = [
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                HeaderName::from_static("permissions-policy"),
                "camera=(), microphone=(), geolocation=()",
            ),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                "same-origin",
            ),
        ];
        for (name, value) in fixed {
            headers.insert(name, HeaderValue::from_static(value));
        }
        headers.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        if self.hsts {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000; includeSubDomains"),
            );
        }
        // API answers and signed-in pages must not be kept by browsers or proxies; a response
        // that chose its own caching (a static asset) keeps it.
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
}

/// An incoming request id is kept only when it is short and plain, so it cannot forge log lines.
fn incoming_request_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(REQUEST_ID)?.to_str().ok()?;
    let plain = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    plain.then(|| value.to_owned())
}

/// A header value fit for a log line: printable ASCII, at most `max` characters.
fn loggable_header(headers: &HeaderMap, name: HeaderName, max: usize) -> String {
    headers
        .get(name)
        .map(|v| {
            v.as_bytes()
                .iter()
                .take(max)
                .map(|&b| {
                    if (0x20..0x7f).contains(&b) {
                        char::from(b)
                    } else {
                        '?'
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The path as it may be logged: share tokens and keys that travel in paths are masked.
pub fn loggable_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if ["ats_", "atk_", "atr_"]
                .iter()
                .any(|p| segment.starts_with(p))
            {
                "[REDACTED]"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The outermost layer: gives the request its id and client address, opens its log span (every
/// line logged while handling it carries the id), records its metrics, and adds the security
/// headers and `X-Request-Id` to whatever comes back, errors and panics included.
pub async fn request_context(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    // A load balancer's request id is kept, so its logs and ours line up; a client's is not.
    let from_proxy = peer.is_some_and(|peer| client_ip::is_trusted(peer, &state.trusted_proxies));
    let id = from_proxy
        .then(|| incoming_request_id(request.headers()))
        .flatten()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let client = peer.map(|peer| {
        client_ip::resolve(
            peer,
            request.headers(),
            &state.trusted_proxies,
            state.proxy_header,
        )
    });
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        endpoint = %loggable_path(request.uri().path()),
        client_ip = %client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
        user_agent = %loggable_header(request.headers(), header::USER_AGENT, 200),
        principal = tracing::field::Empty,
    );
    request.extensions_mut().insert(RequestId(id.clone()));
    request.extensions_mut().insert(ClientAddr(client));

    let head = head_size(&request);
    let count = request.headers().len();
    let mut response = if count > state.max_headers {
        let mut problem = Problem::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers-too-large",
            format!(
                "the request has {count} header lines; the limit is {}",
                state.max_headers
            ),
        );
        problem.limit = Some(head_limit(state.max_headers));
        problem.found = Some(head_limit(count));
        problem.into_response()
    } else if head > state.max_header_bytes {
        span.in_scope(|| {
            tracing::warn!(
                head_bytes = head,
                limit = state.max_header_bytes,
                "request head too large"
            );
        });
        let mut problem = Problem::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers-too-large",
            format!(
                "the request line and headers take {head} bytes; the limit is {} bytes",
                state.max_header_bytes
            ),
        );
        problem.limit = Some(head_limit(state.max_header_bytes));
        problem.found = Some(head_limit(head));
        problem.into_response()
    } else {
        next.run(request).instrument(span.clone()).await
    };
    // A refused origin gets no CORS header at all (not even the credentials flag).
    if !response
        .headers()
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    {
        response
            .headers_mut()
            .remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
    }

    let status = response.status();
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request answered"
        );
    });
    let method_label = match method.as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m,
        _ => "OTHER",
    };
    state
        .metrics
        .request(method_label, &route, status.as_u16(), elapsed);
    // Load shedding is not an error to track (an overload would flood the tracker), and a panic
    // was reported by Sentry's panic hook already.
    let reportable = status.is_server_error()
        && response.extensions().get::<Shed>().is_none()
        && response.extensions().get::<Panicked>().is_none();
    if reportable && state.sentry_enabled {
        report_server_error(&id, method_label, &route, status);
    }
    state.security_headers.apply(response.headers_mut());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The size of the request line and headers as sent (close enough: names, values, separators).
fn head_size(request: &Request) -> usize {
    let line = request.method().as_str().len() + request.uri().to_string().len() + 12;
    request.headers().iter().fold(line, |sum, (name, value)| {
        sum + name.as_str().len() + value.len() + 4
    })
}

fn head_limit(bytes: usize) -> u64 {
    u64::try_from(bytes).unwrap_or(u64::MAX)
}

/// Sends a 5xx to Sentry: the route pattern, the status and the request id; never the body,
/// the cookies, the headers or the query.
fn report_server_error(id: &str, method: &str, route: &str, status: StatusCode) {
    sentry::with_scope(
        |scope| {
            scope.set_tag("request_id", id);
            scope.set_tag("route", route);
            scope.set_tag("status", status.as_u16());
        },
        || {
            sentry::capture_message(
                &format!("{} on {method} {route}", status.as_u16()),
                sentry::Level::Error,
            )
        },
    );
}

/// Sheds load: beyond the configured number of requests in flight, a request is answered at
/// once with 503 and `Retry-After` instead of queueing until everything times out. Liveness
/// (`/health`) is never shed.
pub async fn shed_load(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/health" {
        return next.run(request).await;
    }
    match Arc::clone(&state.in_flight).try_acquire_owned() {
        Ok(permit) => {
            let response = next.run(request).await;
            drop(permit);
            response
        }
        Err(_) => {
            tracing::warn!(
                limit = state.max_in_flight,
                "too many requests in flight; shedding load"
            );
            let mut response = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                format!(
                    "the server is handling its limit of {} requests at once; try again shortly",
                    state.max_in_flight
                ),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response.extensions_mut().insert(Shed);
            response
        }
    }
}

/// Where a limit that depends on who is calling records its verdict, so the `RateLimit-*`
/// headers can be added to the response.
#[derive(Debug, Clone, Default)]
pub struct RateLimitSlot(Arc<Mutex<Option<Decision>>>);

impl RateLimitSlot {
    /// Keeps the tighter of the verdicts (an upload counts per address and per user): the
    /// headers tell the client about the limit it will reach first.
    pub fn set(&self, decision: Decision) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none_or(|held| decision.remaining < held.remaining) {
            *slot = Some(decision);
        }
    }

    fn get(&self) -> Option<Decision> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The limit that applies per client address, if any.
fn address_class(method: &Method, path: &str, headers: &HeaderMap) -> Option<LimitClass> {
    let path = path.trim_end_matches('/');
    if *method == Method::POST
        && matches!(
            path,
            "/api/v1/auth/login"
                | "/api/v1/auth/register"
                | "/api/v1/auth/session"
                | "/api/v1/auth/password"
                | "/login"
                | "/register"
        )
    {
        return Some(LimitClass::Auth);
    }
    if *method == Method::POST
        && path == "/api/v1/traces"
        && !crate::principal::uses_api_key(headers)
    {
        return Some(LimitClass::Upload);
    }
    // Opening a share link (the page or its trace); the step and search calls the page then
    // makes need the same token and are not counted, so reading a run step by step is not cut.
    let share_view = path
        .strip_prefix("/api/v1/share/")
        .or_else(|| path.strip_prefix("/share/"))
        .is_some_and(|token| {
            // A search scans every step of the trace: it counts like opening the link.
            !token.is_empty() && (!token.contains('/') || token.ends_with("/search"))
        });
    if share_view && matches!(*method, Method::GET | Method::HEAD) {
        return Some(LimitClass::Share);
    }
    None
}

/// Rate limiting by client address (uploads, sign-in, share views); limits by principal are
/// checked where the principal is known (see `principal.rs`) and reported through the slot.
pub async fn rate_limit(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = state.limiter.clone() else {
        return next.run(request).await;
    };
    let slot = RateLimitSlot::default();
    request.extensions_mut().insert(slot.clone());
    if let Some(class) = address_class(request.method(), request.uri().path(), request.headers()) {
        let key = request
            .extensions()
            .get::<ClientAddr>()
            .and_then(|ClientAddr(ip)| *ip)
            .map_or_else(|| "unknown".to_owned(), address_key);
        match limiter.check(class, &key).await {
            Ok(decision) if !decision.allowed => {
                return too_many_requests(&state, class, decision).into_response();
            }
            Ok(decision) => slot.set(decision),
            // A limiter that cannot answer (a shared store gone) must not take the service down
            // with it: the request goes on, and the failure is logged.
            Err(e) => {
                tracing::error!(error = %e, class = class.name(), "rate limiter failed; request let through")
            }
        }
    }
    let mut response = next.run(request).await;
    // A refusal further in carries the headers of the limit that refused it.
    if let Some(decision) = slot.get()
        && response.status() != StatusCode::TOO_MANY_REQUESTS
    {
        rate_limit_headers(response.headers_mut(), &decision);
    }
    response
}

/// The key an address is limited under: an IPv4 address as it is, an IPv6 address by its /64
/// (one subscriber usually holds a whole /64, and rotating within it must not buy new budgets).
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The `RateLimit-*` headers of a verdict.
fn rate_limit_header_pairs(decision: &Decision) -> Vec<(HeaderName, HeaderValue)> {
    [
        ("ratelimit-limit", u64::from(decision.limit)),
        ("ratelimit-remaining", u64::from(decision.remaining)),
        ("ratelimit-reset", decision.reset_secs),
    ]
    .into_iter()
    .map(|(name, value)| (HeaderName::from_static(name), HeaderValue::from(value)))
    .collect()
}

/// Adds the `RateLimit-*` headers of a verdict.
pub fn rate_limit_headers(headers: &mut HeaderMap, decision: &Decision) {
    for (name, value) in rate_limit_header_pairs(decision) {
        headers.insert(name, value);
    }
}

/// The 429 for a refused request: the limit, when to retry, a security event and a metric.
pub fn too_many_requests(state: &AppState, class: LimitClass, decision: Decision) -> Problem {
    let retry = decision.retry_after_secs().unwrap_or(1);
    let rule = state.rate_limit_rules.rule(class);
    tracing::warn!(
        target: "security",
        event = "rate_limit_exceeded",
        class = class.name(),
        limit = decision.limit,
        window_secs = rule.window.as_secs(),
        "rate limit exceeded"
    );
    state.metrics.rate_limited(class.name());
    let mut problem = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        format!(
            "too many {} requests: the limit is {} per {} seconds; try again in {retry} seconds",
            class.name(),
            decision.limit,
            rule.window.as_secs()
        ),
    );
    problem.limit = Some(u64::from(decision.limit));
    problem.headers = rate_limit_header_pairs(&decision);
    problem
        .headers
        .push((header::RETRY_AFTER, HeaderValue::from(retry)));
    problem
}

/// CORS: the listed origins (and, in development, any `http://localhost:*` or
/// `http://127.0.0.1:*`) may call the API with credentials; no other origin gets CORS headers,
/// so browsers keep other sites from reading the answers. Never `*`.
pub fn cors(origins: &[String], env: AppEnv) -> CorsLayer {
    let listed: Vec<Vec<u8>> = origins
        .iter()
        .map(|o| o.trim().trim_end_matches('/').as_bytes().to_vec())
        .filter(|o| !o.is_empty() && o.as_slice() != b"*")
        .collect();
    let development = env == AppEnv::Development;
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            let origin = origin.as_bytes();
            listed.iter().any(|o| o.as_slice() == origin)
                || (development && is_local_origin(origin))
        }))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static(crate::principal::CSRF_HEADER),
            HeaderName::from_static(REQUEST_ID),
        ])
        .expose_headers([
            header::RETRY_AFTER,
            header::LOCATION,
            HeaderName::from_static(REQUEST_ID),
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
        ])
        .max_age(Duration::from_secs(600))
}

/// `http://localhost[:port]` or `http://127.0.0.1[:port]`.
fn is_local_origin(origin: &[u8]) -> bool {
    let Ok(origin) = std::str::from_utf8(origin) else {
        return false;
    };
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    let (host, port) = rest.split_once(':').unwrap_or((rest, ""));
    matches!(host, "localhost" | "127.0.0.1") && (port.is_empty() || port.parse::<u16>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_origins_are_recognised() {
        assert!(is_local_origin(b"http://localhost:5173"));
        assert!(is_local_origin(b"http://127.0.0.1"));
        assert!(!is_local_origin(b"https://localhost.evil.com"));
        assert!(!is_local_origin(b"http://localhost.evil.com:80"));
        assert!(!is_local_origin(b"http://localhost:80/x"));
    }

    #[test]
    fn only_plain_request_ids_are_kept() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID, HeaderValue::from_static("abc-123_x.y"));
        assert_eq!(incoming_request_id(&h).as_deref(), Some("abc-123_x.y"));
        h.insert(REQUEST_ID, HeaderValue::from_static("a b\" injected"));
        assert_eq!(incoming_request_id(&h), None);
        h.insert(REQUEST_ID, HeaderValue::from_str(&"a".repeat(65)).unwrap());
        assert_eq!(incoming_request_id(&h), None);
    }

    #[test]
    fn classes_by_address() {
        let h = HeaderMap::new();
        assert_eq!(
            address_class(&Method::POST, "/api/v1/auth/login", &h),
            Some(LimitClass::Auth)
        );
        assert_eq!(
            address_class(&Method::POST, "/api/v1/traces", &h),
            Some(LimitClass::Upload)
        );
        assert_eq!(address_class(&Method::GET, "/api/v1/traces", &h), None);
        assert_eq!(
            address_class(&Method::GET, "/api/v1/share/ats_x", &h),
            Some(LimitClass::Share)
        );
        let mut keyed = HeaderMap::new();
        keyed.insert("x-api-key", HeaderValue::from_static("atk_abc"));
        assert_eq!(address_class(&Method::POST, "/api/v1/traces", &keyed), None);
    }
}
