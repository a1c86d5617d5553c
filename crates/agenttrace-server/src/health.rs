//! `/health/ready`: whether this instance can do its work, component by component. It names
//! what failed and never says anything secret (no paths, no configuration values).

use crate::app::AppState;
use crate::auth::jwt::TokenPurpose;
use crate::checks::free_disk_bytes;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::time::{Duration, Instant};

/// One component's state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Component {
    /// `ok` or `fail`.
    pub status: &'static str,
    /// What failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Component facts (latency, tracked keys, free bytes).
    #[serde(flatten)]
    pub facts: serde_json::Map<String, serde_json::Value>,
}

/// The readiness report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ok` when every component is; `fail` otherwise.
    pub status: &'static str,
    /// The components that failed.
    pub failed: Vec<&'static str>,
    pub database: Component,
    pub token_signing: Component,
    pub rate_limiter: Component,
    pub disk: Component,
}

fn component(result: Result<serde_json::Map<String, serde_json::Value>, String>) -> Component {
    match result {
        Ok(facts) => Component {
            status: "ok",
            error: None,
            facts,
        },
        Err(error) => Component {
            status: "fail",
            error: Some(error),
            facts: serde_json::Map::new(),
        },
    }
}

/// Readiness: the database answers, tokens can be signed and checked, the rate limiter is within
/// its bounds, and the data folder has free space. `503` names what failed.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "meta",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "A component failed; `failed` names it", body = Readiness)
    )
)]
pub async fn ready(State(state): State<AppState>) -> Response {
    let database = component(check_database(&state).await);
    let token_signing = component(check_token_signing(&state));
    let rate_limiter = component(check_rate_limiter(&state));
    let disk = component(check_disk(&state).await);
    let mut failed = Vec::new();
    for (name, part) in [
        ("database", &database),
        ("token_signing", &token_signing),
        ("rate_limiter", &rate_limiter),
        ("disk", &disk),
    ] {
        if part.status != "ok" {
            failed.push(name);
        }
    }
    let status = if failed.is_empty() {
        StatusCode::OK
    } else {
        tracing::warn!(failed = ?failed, "readiness check failed");
        StatusCode::SERVICE_UNAVAILABLE
    };
    let report = Readiness {
        status: if failed.is_empty() { "ok" } else { "fail" },
        failed,
        database,
        token_signing,
        rate_limiter,
        disk,
    };
    (status, Json(report)).into_response()
}

type Facts = Result<serde_json::Map<String, serde_json::Value>, String>;

async fn check_database(state: &AppState) -> Facts {
    let started = Instant::now();
    match tokio::time::timeout(Duration::from_secs(5), state.store.ping()).await {
        Ok(Ok(())) => {
            let mut facts = serde_json::Map::new();
            facts.insert(
                "latency_ms".to_owned(),
                serde_json::json!(started.elapsed().as_secs_f64() * 1000.0),
            );
            Ok(facts)
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "readiness: the database does not answer");
            Err("the database does not answer".to_owned())
        }
        Err(_) => Err("the database did not answer within 5 seconds".to_owned()),
    }
}

fn check_token_signing(state: &AppState) -> Facts {
    let now = state.clock.now_unix();
    let (token, _) = state
        .jwt
        .issue(
            "readiness-check",
            "readiness-check",
            TokenPurpose::Access,
            Duration::from_secs(60),
            now,
        )
        .map_err(|_| "tokens cannot be signed".to_owned())?;
    state
        .jwt
        .verify(&token, TokenPurpose::Access, now)
        .map_err(|_| "a freshly signed token does not verify".to_owned())?;
    Ok(serde_json::Map::new())
}

fn check_rate_limiter(state: &AppState) -> Facts {
    let mut facts = serde_json::Map::new();
    facts.insert(
        "enabled".to_owned(),
        serde_json::json!(state.limiter.is_some()),
    );
    if let Some(limiter) = &state.limiter {
        facts.insert(
            "tracked_keys".to_owned(),
            serde_json::json!(limiter.tracked_keys()),
        );
        facts.insert(
            "max_tracked_keys".to_owned(),
            serde_json::json!(limiter.max_tracked_keys()),
        );
    }
    Ok(facts)
}

async fn check_disk(state: &AppState) -> Facts {
    let dir = state.data_dir.as_ref().clone();
    let free = tokio::task::spawn_blocking(move || free_disk_bytes(&dir))
        .await
        .map_err(|_| "the disk check did not finish".to_owned())?
        .map_err(|e| {
            tracing::error!(error = %e, "readiness: cannot read the free space of the data folder");
            "cannot read the data folder's free space".to_owned()
        })?;
    if free < state.min_free_disk_bytes {
        return Err(format!(
            "the data folder's disk has {} MiB free, less than the {} MiB needed",
            free / (1024 * 1024),
            state.min_free_disk_bytes / (1024 * 1024)
        ));
    }
    let mut facts = serde_json::Map::new();
    facts.insert("free_bytes".to_owned(), serde_json::json!(free));
    Ok(facts)
}
