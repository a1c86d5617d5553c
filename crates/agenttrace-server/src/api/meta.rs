//! Health, the trace format's JSON Schema, the OpenAPI document and the start page.

use crate::api::dto::Health;
use crate::api::openapi::openapi_json;
use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The JSON Schema of the native trace format (also in `docs/trace.schema.json`).
pub const TRACE_SCHEMA: &str = include_str!("../../../../docs/trace.schema.json");

/// Liveness: answers while the process serves requests.
#[utoipa::path(
    get,
    path = "/health",
    tag = "meta",
    responses((status = 200, description = "The server is up", body = Health))
)]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

/// The JSON Schema of the native trace format.
#[utoipa::path(
    get,
    path = "/api/v1/schema/trace.json",
    tag = "meta",
    responses((status = 200, description = "JSON Schema (draft 2020-12)", body = serde_json::Value,
               content_type = "application/schema+json"))
)]
pub async fn trace_schema() -> Response {
    json_text(TRACE_SCHEMA.to_owned(), "application/schema+json")
}

/// This API's OpenAPI document.
pub async fn openapi() -> Response {
    json_text(openapi_json(), "application/json")
}

fn json_text(body: String, content_type: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}
