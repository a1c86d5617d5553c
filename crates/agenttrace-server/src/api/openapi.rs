//! The OpenAPI document, generated from the handlers' annotations so it cannot drift from them.

use crate::api::{dto, meta, traces};
use crate::problem::Problem;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "AgentTrace API",
        description = "Ingest agent traces and read them back. Errors are application/problem+json (RFC 9457).",
        license(name = "Apache-2.0"),
    ),
    paths(
        traces::upload,
        traces::list,
        traces::get,
        traces::get_step,
        traces::export,
        traces::delete,
        meta::health,
        meta::trace_schema,
    ),
    components(schemas(
        Problem,
        dto::Created,
        dto::TraceList,
        dto::TraceSummary,
        dto::TraceDetail,
        dto::StepDto,
        dto::Health,
    )),
    tags(
        (name = "traces", description = "Upload and read traces"),
        (name = "meta", description = "Health and formats"),
    )
)]
pub struct ApiDoc;

/// The document as JSON text, with the server's version.
pub fn openapi_json() -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.to_pretty_json().unwrap_or_else(|e| {
        format!("{{\"error\": \"openapi document could not be written: {e}\"}}")
    })
}
