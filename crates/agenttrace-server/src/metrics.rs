//! Prometheus metrics: requests by route and status, latency, what was ingested, redactions,
//! rate-limit rejections and the database pool, served as text at `/metrics`.
//!
//! Labels are bounded: the route is the matched route pattern (`/api/v1/traces/{id}`), never the
//! raw path, so ids cannot blow up the number of series.

use crate::app::AppState;
use crate::problem::Problem;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabels {
    class: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: String,
}

/// Every metric the server keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    traces: Counter,
    steps: Counter,
    redactions: Counter,
    rate_limited: Family<ClassLabels, Counter>,
    pool: Family<PoolLabels, Gauge>,
    limiter_keys: Gauge,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("agenttrace");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        let latency =
            Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, by method and route",
            latency.clone(),
        );
        let traces = Counter::default();
        registry.register("traces_ingested", "Traces stored", traces.clone());
        let steps = Counter::default();
        registry.register("steps_ingested", "Steps stored", steps.clone());
        let redactions = Counter::default();
        registry.register(
            "redactions",
            "Secrets removed from ingested data before it was stored",
            redactions.clone(),
        );
        let rate_limited = Family::<ClassLabels, Counter>::default();
        registry.register(
            "rate_limit_rejections",
            "Requests refused with 429, by limit class",
            rate_limited.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections by state (open, idle, max)",
            pool.clone(),
        );
        let limiter_keys = Gauge::default();
        registry.register(
            "rate_limiter_tracked_keys",
            "Clients the rate limiter is tracking now",
            limiter_keys.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            traces,
            steps,
            redactions,
            rate_limited,
            pool,
            limiter_keys,
        }
    }

    /// Records one answered request.
    pub fn request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Records one stored trace.
    pub fn ingested(&self, steps: u64, redactions: u64) {
        self.traces.inc();
        self.steps.inc_by(steps);
        self.redactions.inc_by(redactions);
    }

    pub fn rate_limited(&self, class: &str) {
        self.rate_limited
            .get_or_create(&ClassLabels {
                class: class.to_owned(),
            })
            .inc();
    }

    /// The text exposition, with the gauges read now.
    pub fn render(&self, state: &AppState) -> Result<String, std::fmt::Error> {
        let pool = state.store.pool_status();
        for (name, value) in [("open", pool.size), ("idle", pool.idle), ("max", pool.max)] {
            self.pool
                .get_or_create(&PoolLabels {
                    state: name.to_owned(),
                })
                .set(i64::from(value));
        }
        let keys = state
            .limiter
            .as_ref()
            .map_or(0, |limiter| limiter.tracked_keys());
        self.limiter_keys
            .set(i64::try_from(keys).unwrap_or(i64::MAX));
        let mut text = String::new();
        encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// `GET /metrics`: open in development, behind `METRICS_TOKEN` when one is set, and absent in
/// production without one.
pub async fn handler(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match state.metrics_access.as_ref() {
        MetricsAccess::Off => {
            return Problem::new(
                StatusCode::NOT_FOUND,
                "not-found",
                "metrics are off: set METRICS_TOKEN to serve them in production",
            )
            .into_response();
        }
        MetricsAccess::Token(expected) => {
            let sent = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            if !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
                let mut response = Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "send the metrics token as `Authorization: Bearer <METRICS_TOKEN>`",
                )
                .into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"metrics\""),
                );
                return response;
            }
        }
        MetricsAccess::Open => {}
    }
    match state.metrics.render(&state) {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            text,
        )
            .into_response(),
        Err(e) => Problem::internal(&e).into_response(),
    }
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsAccess {
    Open,
    Token(String),
    Off,
}
