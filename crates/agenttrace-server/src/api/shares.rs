//! Share links: a read-only view of one trace for anyone with the link, until it expires or is
//! revoked. The shared view carries the trace and nothing else of the instance: no project, no
//! emails, no other traces.

use crate::api::dto::{StepDto, TraceDetail};
use crate::api::traces::{StepMatches, StepSearch, search_in_trace, trace_detail};
use crate::app::AppState;
use crate::auth::tokens::{hash_token, new_share_token};
use crate::principal::{Principal, deny_unless};
use crate::problem::Problem;
use agenttrace_core::timefmt::format_us;
use agenttrace_store::{Share, new_id};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NewShare {
    /// RFC 3339; the link stops working then. Without it the link works until revoked.
    #[serde(default)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedShare {
    /// The secret part of the link; shown this once, stored only as a hash.
    pub token: String,
    /// `/share/{token}`: the page anyone with the link can open.
    pub url: String,
    pub expires_at: Option<String>,
}

/// Checks that the trace exists where the caller can see it (404 otherwise) and that the caller
/// is a user who may write there (403 otherwise): viewers and API keys neither share nor revoke.
async fn require_sharer(
    state: &AppState,
    principal: &Principal,
    trace_id: &str,
) -> Result<(), Problem> {
    let record = state
        .store
        .get_trace(trace_id)
        .await?
        .ok_or_else(|| Problem::not_found("trace"))?;
    let access = principal
        .require(state, &record.project_id, "trace")
        .await?;
    deny_unless(
        access.write && principal.user().is_some(),
        principal,
        "share traces or revoke share links",
    )
}

/// Create a share link for a trace.
#[utoipa::path(post, path = "/api/v1/traces/{id}/share", tag = "shares",
    params(("id" = String, Path, description = "Trace id")),
    request_body(content = NewShare, description = "Optional expiry"),
    responses(
        (status = 201, description = "Created", body = CreatedShare),
        (status = 403, description = "Viewers and keys cannot share", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such trace", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Option<Json<NewShare>>,
) -> Result<(StatusCode, Json<CreatedShare>), Problem> {
    require_sharer(&state, &principal, &id).await?;
    let now = state.clock.now_us();
    let expires_at_us = crate::problem::future_time(
        "expires_at",
        body.and_then(|Json(b)| b.expires_at).as_deref(),
        now,
    )?;
    let token = new_share_token();
    let share = Share {
        id: new_id(),
        trace_id: id.clone(),
        token_hash: hash_token(&token),
        created_by: Some(principal.actor()),
        created_at_us: now,
        expires_at_us,
        revoked_at_us: None,
    };
    state.store.insert_share(&share).await?;
    tracing::info!(target: "security", event = "share_created", by = %principal.actor(), trace_id = %id, share_id = %share.id, "share link created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedShare {
            url: format!("/share/{token}"),
            token,
            expires_at: expires_at_us.map(format_us),
        }),
    ))
}

/// Revoke a share link; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/traces/{id}/share/{token}", tag = "shares",
    params(("id" = String, Path, description = "Trace id"), ("token" = String, Path, description = "The link's token")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Viewers and keys cannot revoke", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such trace or link", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, token)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    require_sharer(&state, &principal, &id).await?;
    if !state
        .store
        .revoke_share(&id, &hash_token(&token), state.clock.now_us())
        .await?
    {
        return Err(Problem::not_found("share link"));
    }
    tracing::info!(target: "security", event = "share_revoked", by = %principal.actor(), trace_id = %id, "share link revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Revoke a share link by its id (for a link whose token is no longer at hand).
#[utoipa::path(delete, path = "/api/v1/traces/{id}/shares/{share_id}", tag = "shares",
    params(("id" = String, Path, description = "Trace id"), ("share_id" = String, Path, description = "The link's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Viewers and keys cannot revoke", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such trace or link", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_by_id(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, share_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    require_sharer(&state, &principal, &id).await?;
    if !state
        .store
        .revoke_share_by_id(&id, &share_id, state.clock.now_us())
        .await?
    {
        return Err(Problem::not_found("share link"));
    }
    tracing::info!(target: "security", event = "share_revoked", by = %principal.actor(), trace_id = %id, share_id = %share_id, "share link revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// The trace id a live share token opens, or 404.
pub(crate) async fn shared_trace_id(state: &AppState, token: &str) -> Result<String, Problem> {
    let gone = || Problem::not_found("share link");
    let share = state
        .store
        .share_by_token_hash(&hash_token(token))
        .await?
        .ok_or_else(gone)?;
    let now = state.clock.now_us();
    if share.revoked_at_us.is_some() || share.expires_at_us.is_some_and(|t| t <= now) {
        return Err(gone());
    }
    Ok(share.trace_id)
}

/// One step of a shared trace.
#[utoipa::path(get, path = "/api/v1/share/{token}/steps/{step_id}", tag = "shares",
    params(("token" = String, Path, description = "The link's token"),
           ("step_id" = String, Path, description = "Step id")),
    responses(
        (status = 200, description = "The step", body = StepDto),
        (status = 404, description = "No such link or step", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn view_step(
    State(state): State<AppState>,
    Path((token, step_id)): Path<(String, String)>,
) -> Result<Json<StepDto>, Problem> {
    let trace_id = shared_trace_id(&state, &token).await?;
    let step = state
        .store
        .get_step(&trace_id, &step_id)
        .await?
        .ok_or_else(|| Problem::not_found("step"))?;
    Ok(Json(StepDto::from(step)))
}

/// Find the steps of a shared trace that contain a text.
#[utoipa::path(get, path = "/api/v1/share/{token}/search", tag = "shares",
    params(("token" = String, Path, description = "The link's token"), StepSearch),
    responses(
        (status = 200, description = "The matching steps", body = StepMatches),
        (status = 404, description = "No such link", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn search_steps(
    State(state): State<AppState>,
    Path(token): Path<String>,
    params: Result<Query<StepSearch>, QueryRejection>,
) -> Result<Json<StepMatches>, Problem> {
    let Query(params) = params.map_err(|e| Problem::bad_parameter("q", e.body_text()))?;
    let trace_id = shared_trace_id(&state, &token).await?;
    Ok(Json(search_in_trace(&state, &trace_id, &params.q).await?))
}

/// The shared trace, read-only, for anyone with the link.
#[utoipa::path(get, path = "/api/v1/share/{token}", tag = "shares",
    params(("token" = String, Path, description = "The link's token")),
    responses(
        (status = 200, description = "The trace", body = TraceDetail),
        (status = 404, description = "No such link, or revoked, or expired", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn view(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<TraceDetail>, Problem> {
    let trace_id = shared_trace_id(&state, &token).await?;
    let record = state
        .store
        .get_trace(&trace_id)
        .await?
        .ok_or_else(|| Problem::not_found("share link"))?;
    let steps = state.store.get_steps(&trace_id).await?;
    Ok(Json(trace_detail(record, steps)))
}
