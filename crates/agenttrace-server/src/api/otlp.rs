//! OTLP/HTTP trace ingestion: `POST /v1/traces`, protobuf or JSON, as OpenTelemetry exporters
//! send it. Spans of one trace may come in many requests, in any order and more than once; they
//! merge into one trace (see `TraceStore::merge_steps`).

use crate::api::traces::{log_redactions, target_project};
use crate::app::AppState;
use crate::principal::{Principal, deny_unless};
use crate::problem::Problem;
use agenttrace_core::Step;
use agenttrace_core::ingest::redact_loose_steps;
use agenttrace_core::openai_agents::to_traces as agents_traces;
use agenttrace_core::otlp::{OtlpBatch, decode_json, decode_protobuf, to_batch};
use agenttrace_store::{MergeSteps, Merged};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The two encodings OTLP/HTTP allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

fn encoding(headers: &HeaderMap) -> Option<Encoding> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match content_type.as_str() {
        "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
        "application/json" => Some(Encoding::Json),
        _ => None,
    }
}

/// Where the spans go, when not the key's (or the user's personal) project.
#[derive(Debug, Default, Deserialize)]
pub struct ExportParams {
    project_id: Option<String>,
}

/// `POST /v1/traces`.
pub async fn export(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<ExportParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let Some(encoding) = encoding(&headers) else {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "OTLP/HTTP takes `Content-Type: application/x-protobuf` or `application/json`",
        ));
    };
    let project_id = target_project(&state, &principal, params.project_id.as_deref()).await?;
    let access = principal.require(&state, &project_id, "project").await?;
    deny_unless(access.write, &principal, "send traces to this project")?;

    let size = body.len() as u64;
    let decoded = tokio::task::spawn_blocking(move || match encoding {
        Encoding::Protobuf => decode_protobuf(&body),
        Encoding::Json => decode_json(&body),
    })
    .await
    .map_err(|e| Problem::internal(&e))?;
    let request =
        decoded.map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "bad-otlp", e.to_string()))?;
    let stored = store_otlp_request(&state, &principal, &project_id, &request, size).await?;
    let message = stored.rejected_reasons.join("; ");
    Ok(answer(encoding, stored.rejected_spans, &message))
}

/// What one OTLP request stored.
pub(crate) struct StoredRequest {
    /// The traces it touched, in order.
    pub records: Vec<agenttrace_store::TraceRecord>,
    pub rejected_spans: u64,
    pub rejected_reasons: Vec<String>,
}

/// Maps one decoded request's spans to steps and merges them into their traces: what both
/// `/v1/traces` and an uploaded OTLP/JSON export do.
async fn store_otlp_request(
    state: &AppState,
    principal: &Principal,
    project_id: &str,
    request: &ExportTraceServiceRequest,
    size: u64,
) -> Result<StoredRequest, Problem> {
    let OtlpBatch {
        traces,
        mut rejected_spans,
        mut rejected_reasons,
    } = to_batch(request);
    let span_total: usize = traces.iter().map(|t| t.steps.len()).sum();
    let mut records = Vec::with_capacity(traces.len());
    for trace in traces {
        let mut metadata = Map::new();
        for (key, value) in [
            ("service.name", &trace.service_name),
            ("user.id", &trace.user_id),
        ] {
            if let Some(value) = value {
                metadata.insert(key.to_owned(), Value::String(value.clone()));
            }
        }
        let merged = store_spans(
            state,
            principal,
            Spans {
                project_id,
                external_id: &trace.trace_id,
                source_format: "otlp",
                size_bytes: share_of(size, trace.steps.len(), span_total),
                steps: trace.steps,
                session_id: trace.session_id,
                metadata,
            },
        )
        .await?;
        if merged.refused > 0 {
            rejected_spans += merged.refused;
            rejected_reasons.push(format!(
                "trace {} reached the limit of {} steps; {} spans were not stored",
                trace.trace_id, state.limits.max_steps, merged.refused
            ));
        }
        records.push(merged.record);
    }
    Ok(StoredRequest {
        records,
        rejected_spans,
        rejected_reasons,
    })
}

/// A request's bytes shared out over its traces by their number of spans.
fn share_of(size: u64, spans: usize, total: usize) -> u64 {
    if total == 0 {
        0
    } else {
        size.saturating_mul(spans as u64) / total as u64
    }
}

/// The spans of one trace from one request.
pub(crate) struct Spans<'a> {
    pub project_id: &'a str,
    pub external_id: &'a str,
    pub source_format: &'a str,
    pub steps: Vec<Step>,
    pub session_id: Option<String>,
    pub metadata: Map<String, Value>,
    pub size_bytes: u64,
}

/// Redacts the spans and merges them into their trace; says what was stored and how many spans
/// were refused for the step limit.
pub(crate) async fn store_spans(
    state: &AppState,
    principal: &Principal,
    spans: Spans<'_>,
) -> Result<Merged, Problem> {
    let redactor = state.redactor.clone();
    let mut steps = spans.steps;
    let (steps, report) = tokio::task::spawn_blocking(move || {
        let report = redact_loose_steps(&mut steps, &redactor);
        (steps, report)
    })
    .await
    .map_err(|e| Problem::internal(&e))?;
    let count = steps.len() as u64;
    let actor = principal.actor();
    let merged = state
        .store
        .merge_steps(MergeSteps {
            project_id: spans.project_id,
            external_id: spans.external_id,
            source_format: spans.source_format,
            steps,
            session_id: spans.session_id,
            metadata: spans.metadata,
            redactions: report.total,
            size_bytes: spans.size_bytes,
            created_by: Some(&actor),
            max_steps: state.limits.max_steps,
        })
        .await?;
    log_redactions(&merged.record.id, &report);
    state
        .metrics
        .ingested(count.saturating_sub(merged.refused), report.total);
    Ok(merged)
}

/// The start of an upload that shape checks look at: enough for the first keys of a document.
const SNIFF_BYTES: usize = 64 * 1024;

/// Whether an uploaded file is an OpenAI Agents JSONL dump: lines of trace and span items. Only
/// a first line that names its `object` near its start is parsed, so a native trace (one big
/// line, maybe) is not read twice.
pub(crate) fn looks_like_agents_jsonl(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let rest = &bytes[start..];
    let first = rest.split(|b| *b == b'\n').next().unwrap_or_default();
    let head = &first[..first.len().min(SNIFF_BYTES)];
    if first.len() > SNIFF_BYTES
        || head.first() != Some(&b'{')
        || memchr::memmem::find(head, b"\"object\"").is_none()
    {
        return false;
    }
    serde_json::from_slice::<Value>(first).is_ok_and(|item| {
        matches!(
            item.get("object").and_then(Value::as_str),
            Some("trace" | "trace.span")
        )
    })
}

/// Stores an uploaded OpenAI Agents JSONL dump, trace by trace.
pub(crate) async fn store_agents_file(
    state: &AppState,
    principal: &Principal,
    project_id: &str,
    bytes: &[u8],
) -> Result<(Vec<agenttrace_store::TraceRecord>, u64), Problem> {
    let mut items = Vec::new();
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let item: Value = serde_json::from_slice(line).map_err(|e| {
            let mut problem = Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                format!("line {} of the OpenAI Agents dump is not JSON: {e}", n + 1),
            );
            problem.line = Some(n + 1);
            problem
        })?;
        items.push(item);
    }
    let (traces, skipped) = agents_traces(&json!({ "data": items }))
        .map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "not-a-trace", e))?;
    let total: usize = traces.iter().map(|t| t.steps.len()).sum();
    let mut stored = Vec::new();
    let mut refused = skipped;
    for trace in traces {
        let merged = store_spans(
            state,
            principal,
            Spans {
                project_id,
                external_id: &trace.trace_id,
                source_format: "openai-agents",
                size_bytes: share_of(bytes.len() as u64, trace.steps.len(), total),
                steps: trace.steps,
                session_id: trace.group_id,
                metadata: Map::new(),
            },
        )
        .await?;
        refused += merged.refused;
        stored.push(merged.record);
    }
    if stored.is_empty() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-a-trace",
            "the OpenAI Agents dump holds no trace or span items",
        ));
    }
    Ok((stored, refused))
}

/// Whether an uploaded file is an OTLP/JSON export (one request, or one per line) rather than
/// a native trace.
pub(crate) fn looks_like_otlp_json(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        && memchr::memmem::find(head, b"\"resourceSpans\"").is_some()
}

/// Stores an uploaded OTLP/JSON export: each request (a line, or the whole file) decoded, its
/// traces merged like spans sent to `/v1/traces`. Returns the traces stored, in order.
pub(crate) async fn store_otlp_file(
    state: &AppState,
    principal: &Principal,
    project_id: &str,
    bytes: &[u8],
) -> Result<(Vec<agenttrace_store::TraceRecord>, u64), Problem> {
    let whole = decode_json(bytes);
    let requests = match whole {
        Ok(request) => vec![request],
        Err(whole_error) => {
            let mut requests = Vec::new();
            for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let request = decode_json(line).map_err(|e| {
                    let mut problem = Problem::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "not-a-trace",
                        format!("this looks like an OTLP/JSON export, but it is not one ({whole_error}); line {}: {e}", n + 1),
                    );
                    problem.line = Some(n + 1);
                    problem
                })?;
                requests.push(request);
            }
            requests
        }
    };
    let mut stored: Vec<agenttrace_store::TraceRecord> = Vec::new();
    let mut refused = 0;
    let per_request = bytes.len() as u64 / requests.len().max(1) as u64;
    for request in &requests {
        let done = store_otlp_request(state, principal, project_id, request, per_request).await?;
        refused += done.rejected_spans;
        for record in done.records {
            match stored.iter_mut().find(|r| r.id == record.id) {
                Some(earlier) => *earlier = record,
                None => stored.push(record),
            }
        }
    }
    if stored.is_empty() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-a-trace",
            "the OTLP/JSON export holds no spans",
        ));
    }
    Ok((stored, refused))
}

/// `POST /v1/traces/ingest`: the OpenAI Agents SDK's trace exporter, pointed here.
pub async fn openai_agents(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<ExportParams>,
    body: Bytes,
) -> Result<Response, Problem> {
    let project_id = target_project(&state, &principal, params.project_id.as_deref()).await?;
    let access = principal.require(&state, &project_id, "project").await?;
    deny_unless(access.write, &principal, "send traces to this project")?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            format!("the body is not JSON: {e}"),
        )
    })?;
    let (traces, skipped) = agents_traces(&value)
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "not-agents-traces", e))?;
    let total: usize = traces.iter().map(|t| t.steps.len()).sum();
    let mut refused = 0;
    for trace in traces {
        let share = share_of(body.len() as u64, trace.steps.len(), total);
        refused += store_spans(
            &state,
            &principal,
            Spans {
                project_id: &project_id,
                external_id: &trace.trace_id,
                source_format: "openai-agents",
                steps: trace.steps,
                session_id: trace.group_id,
                metadata: Map::new(),
                size_bytes: share,
            },
        )
        .await?
        .refused;
    }
    Ok(
        axum::Json(json!({"accepted": total as u64 - refused, "refused": refused + skipped}))
            .into_response(),
    )
}

/// The `ExportTraceServiceResponse`, in the request's encoding: empty when every span was
/// taken, with `partial_success` otherwise.
fn answer(encoding: Encoding, rejected_spans: u64, message: &str) -> Response {
    let (content_type, body) = match encoding {
        Encoding::Protobuf => {
            let response = ExportTraceServiceResponse {
                partial_success: (rejected_spans > 0).then(|| ExportTracePartialSuccess {
                    rejected_spans: i64::try_from(rejected_spans).unwrap_or(i64::MAX),
                    error_message: message.to_owned(),
                }),
            };
            ("application/x-protobuf", response.encode_to_vec())
        }
        Encoding::Json => {
            let value = if rejected_spans > 0 {
                json!({"partialSuccess": {
                    "rejectedSpans": rejected_spans.to_string(),
                    "errorMessage": message,
                }})
            } else {
                json!({})
            };
            ("application/json", value.to_string().into_bytes())
        }
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}
