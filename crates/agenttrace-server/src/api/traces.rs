//! Trace endpoints: upload, list, read, step, export, delete.

use crate::api::dto::{
    Created, SlowStepDto, StepDto, TraceDetail, TraceList, TraceStatsDto, TraceSummary, WarningDto,
    trace_url, us_to_ms,
};
use crate::app::AppState;
use crate::principal::{Access, Principal, deny_unless};
use crate::problem::Problem;
use agenttrace_core::ingest::{IngestOptions, Prepared};
use agenttrace_core::native;
use agenttrace_core::redact::RedactionReport;
use agenttrace_core::timefmt::parse_timestamp_str;
use agenttrace_core::{Status, Step, Trace};
use agenttrace_store::{Cursor, KeyScope, NewTrace, TraceFilter, TraceRecord};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

/// Default and largest page sizes of the list.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

/// Upload a trace.
///
/// The body is a trace document (`application/json`, recognised by content whatever the type
/// says) or `multipart/form-data` with the document in the field `file` and an optional `name`.
#[utoipa::path(
    post,
    path = "/api/v1/traces",
    tag = "traces",
    params(UploadParams),
    request_body(
        description = "A native trace document, or multipart/form-data with fields `file` and `name`",
        content(
            (serde_json::Value = "application/json"),
            (String = "multipart/form-data"),
        ),
    ),
    responses(
        (status = 201, description = "Stored", body = Created,
         headers(("Location" = String, description = "The trace's API URL"))),
        (status = 400, description = "Malformed JSON, invalid UTF-8, empty body or missing `file` field", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over a size, step or nesting limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Valid JSON that is not a trace", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the upload limit (per address) or ingestion limit (per API key)", body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = u64, description = "Seconds to wait"),
                 ("RateLimit-Limit" = u32, description = "Requests allowed per window"),
                 ("RateLimit-Remaining" = u32, description = "Requests left in this window"),
                 ("RateLimit-Reset" = u64, description = "Seconds until the window resets"))),
    )
)]
pub async fn upload(
    State(state): State<AppState>,
    principal: Principal,
    Query(target): Query<UploadParams>,
    request: Request,
) -> Result<Response, Problem> {
    let started = std::time::Instant::now();
    let upload = read_upload(&state, request).await?;
    let project_id = target_project(
        &state,
        &principal,
        upload
            .project_id
            .as_deref()
            .or(target.project_id.as_deref()),
    )
    .await?;
    let read_ms = started.elapsed().as_secs_f64() * 1000.0;
    if crate::api::otlp::looks_like_otlp_json(&upload.bytes) {
        let (stored, refused) =
            crate::api::otlp::store_otlp_file(&state, &principal, &project_id, &upload.bytes)
                .await?;
        return Ok(created_response(
            &stored[0],
            otlp_warnings(&stored, refused),
        ));
    }
    if crate::api::otlp::looks_like_agents_jsonl(&upload.bytes) {
        let (stored, refused) =
            crate::api::otlp::store_agents_file(&state, &principal, &project_id, &upload.bytes)
                .await?;
        return Ok(created_response(
            &stored[0],
            otlp_warnings(&stored, refused),
        ));
    }
    let limits = state.limits;
    let redactor = state.redactor.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        agenttrace_core::prepare(
            &upload.bytes,
            IngestOptions {
                limits: &limits,
                redactor: &redactor,
                name: upload.name.as_deref(),
                fallback_name: upload.file_name.as_deref(),
            },
        )
    })
    .await
    .map_err(|e| Problem::internal(&e))??;
    let prepare_ms = started.elapsed().as_secs_f64() * 1000.0 - read_ms;
    let Prepared {
        trace,
        warnings,
        redaction,
    } = prepared;
    let record = store_trace(
        &state,
        &principal,
        &project_id,
        &Arc::new(trace),
        &redaction,
    )
    .await?;
    tracing::info!(
        trace_id = %record.id,
        steps = record.stats.step_count,
        bytes = record.size_bytes,
        read_ms,
        prepare_ms,
        store_ms = started.elapsed().as_secs_f64() * 1000.0 - read_ms - prepare_ms,
        "trace stored"
    );
    let warnings = warnings
        .into_iter()
        .map(|w| WarningDto {
            pointer: w.pointer,
            message: w.message,
        })
        .collect();
    Ok(created_response(&record, warnings))
}

/// The `201` of an upload.
fn created_response(record: &TraceRecord, warnings: Vec<WarningDto>) -> Response {
    let body = Created {
        id: record.id.clone(),
        name: record.name.clone(),
        steps: record.stats.step_count,
        errors: record.stats.error_count,
        redactions: record.redactions,
        url: trace_url(&record.id),
        warnings,
    };
    let location = format!("/api/v1/traces/{}", record.id);
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// What an OTLP export's upload says besides the first trace: the others it held, and refused
/// spans.
fn otlp_warnings(stored: &[TraceRecord], refused: u64) -> Vec<WarningDto> {
    let mut warnings: Vec<WarningDto> = stored
        .iter()
        .skip(1)
        .map(|other| WarningDto {
            pointer: String::new(),
            message: format!(
                "the export also held the trace {:?}, stored as {}",
                other.name,
                trace_url(&other.id)
            ),
        })
        .collect();
    if refused > 0 {
        warnings.push(WarningDto {
            pointer: String::new(),
            message: format!("{refused} spans were not stored (a malformed id, or the step limit)"),
        });
    }
    warnings
}

/// Where an upload goes: the named project, or the caller's personal project (an API key's own
/// project). The caller needs write access there.
pub(crate) async fn target_project(
    state: &AppState,
    principal: &Principal,
    requested: Option<&str>,
) -> Result<String, Problem> {
    let project_id = match (principal, requested.filter(|p| !p.is_empty())) {
        (_, Some(project_id)) => project_id.to_owned(),
        (Principal::Key(key), None) => key.project_id.clone(),
        (Principal::User { user, .. }, None) => state
            .store
            .projects_of(&user.id)
            .await?
            .into_iter()
            .find(|(p, _)| p.personal_of.as_deref() == Some(user.id.as_str()))
            .map(|(p, _)| p.id)
            .ok_or_else(|| {
                Problem::bad_parameter(
                    "project_id",
                    "you have no personal project: name one with `project_id`",
                )
            })?,
    };
    let access = principal.require(state, &project_id, "project").await?;
    deny_unless(access.write, principal, "upload traces to this project")?;
    Ok(project_id)
}

/// Where to upload, when not the default.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// The project to upload to (default: your personal project, or the API key's project).
    project_id: Option<String>,
}

async fn store_trace(
    state: &AppState,
    principal: &Principal,
    project_id: &str,
    trace: &Arc<Trace>,
    redaction: &RedactionReport,
) -> Result<TraceRecord, Problem> {
    let actor = principal.actor();
    let record = state
        .store
        .insert_trace(NewTrace {
            trace,
            project_id,
            created_by: Some(&actor),
        })
        .await?;
    log_redactions(&record.id, redaction);
    state
        .metrics
        .ingested(u64::from(record.stats.step_count), redaction.total);
    Ok(record)
}

/// How many redacted paths one `data_sanitized` line lists; the rest are counted.
const LOGGED_PATHS: usize = 50;

/// Writes the `data_sanitized` security event of an ingest: counts per rule and JSON pointers,
/// never values.
pub fn log_redactions(trace_id: &str, redaction: &RedactionReport) {
    if redaction.total == 0 {
        return;
    }
    let paths: Vec<String> = redaction
        .paths
        .iter()
        .take(LOGGED_PATHS)
        .map(|p| format!("{} ({})", p.pointer, p.rule))
        .collect();
    let not_listed = redaction.total.saturating_sub(paths.len() as u64);
    tracing::warn!(
        target: "security",
        event = "data_sanitized",
        trace_id = %trace_id,
        redactions = redaction.total,
        by_rule = ?redaction.by_rule,
        paths = ?paths,
        paths_not_listed = not_listed,
        "secrets removed before storage"
    );
}

/// The document of an upload and the names that came with it.
struct Upload {
    bytes: Bytes,
    name: Option<String>,
    file_name: Option<String>,
    project_id: Option<String>,
}

async fn read_upload(state: &AppState, request: Request) -> Result<Upload, Problem> {
    let max_body = state.limits.max_body_bytes;
    if let Some(length) = content_length(request.headers())
        && length > max_body
    {
        return Err(Problem::too_large(
            "the request body",
            max_body,
            Some(length),
        ));
    }
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if !is_multipart {
        let bytes = read_body(request.into_body(), max_body).await?;
        return Ok(Upload {
            bytes,
            name: None,
            file_name: None,
            project_id: None,
        });
    }
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "bad-multipart", e.body_text()))?;
    let mut file = None;
    let mut file_name = None;
    let mut name = None;
    let mut project_id = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(multipart_problem(max_body))?
    {
        match field.name() {
            Some("file") if file.is_none() => {
                file_name = field.file_name().map(display_file_name);
                file = Some(field.bytes().await.map_err(multipart_problem(max_body))?);
            }
            Some("name") => {
                let text = field.text().await.map_err(multipart_problem(max_body))?;
                if text.len() > 1024 {
                    return Err(Problem::bad_parameter(
                        "name",
                        "the name is longer than 1024 bytes",
                    ));
                }
                name = Some(text);
            }
            Some("project_id") => {
                let text = field.text().await.map_err(multipart_problem(max_body))?;
                project_id = Some(text.trim().chars().take(100).collect());
            }
            // Other fields are read and dropped so the stream can go on.
            _ => {
                field.bytes().await.map_err(multipart_problem(max_body))?;
            }
        }
    }
    let Some(bytes) = file else {
        return Err(Problem::bad_parameter(
            "file",
            "a multipart upload needs the trace document in a field named `file`",
        ));
    };
    Ok(Upload {
        bytes,
        name,
        file_name,
        project_id,
    })
}

/// Reads a whole body (already decompressed by the layer outside), refusing it as soon as it
/// grows past `limit`, so a small compressed body cannot inflate past the limit in memory.
async fn read_body(mut body: axum::body::Body, limit: u64) -> Result<Bytes, Problem> {
    use http_body_util::BodyExt;
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "unreadable-body",
                format!("the request body could not be read: {e}"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if (buffer.len() + data.len()) as u64 > limit {
                return Err(Problem::too_large("the request body", limit, None));
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buffer))
}

fn multipart_problem(
    max_body: u64,
) -> impl Fn(axum::extract::multipart::MultipartError) -> Problem {
    move |error| {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::too_large("the request body", max_body, None)
        } else {
            Problem::new(StatusCode::BAD_REQUEST, "bad-multipart", error.body_text())
        }
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A file name as a trace name: the last path component without its extension, stripped of
/// control characters and cut to 200 characters. It is never used as a path.
pub fn display_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let stem = match last.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => last,
    };
    stem.chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Query parameters of the trace list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1 to 200 (default 50).
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `ok`, `error` or `running`.
    status: Option<String>,
    /// Words that must all occur in the trace's name or its steps' text (prefix match).
    q: Option<String>,
    /// Received at or after (RFC 3339 or Unix seconds/milliseconds).
    since: Option<String>,
    /// Received at or before (RFC 3339 or Unix seconds/milliseconds).
    until: Option<String>,
    /// Only this project's traces (default: every project you can read).
    pub project_id: Option<String>,
    /// Only traces carrying this tag.
    tag: Option<String>,
}

impl ListParams {
    pub(crate) fn into_filter(self) -> Result<TraceFilter, Problem> {
        let limit = match self.limit.as_deref() {
            None | Some("") => DEFAULT_PAGE,
            Some(text) => match text.parse::<u32>() {
                Ok(n @ 1..=MAX_PAGE) => n,
                _ => {
                    return Err(Problem::bad_parameter(
                        "limit",
                        format!("`limit` must be a whole number from 1 to {MAX_PAGE}"),
                    ));
                }
            },
        };
        let cursor = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(token) => Some(Cursor::decode(token).ok_or_else(|| {
                Problem::bad_parameter("cursor", "`cursor` is not a cursor this server issued")
            })?),
        };
        let status = match self.status.as_deref() {
            None | Some("") => None,
            Some(text) => Some(text.parse::<Status>().map_err(|_| {
                Problem::bad_parameter("status", "`status` must be one of ok, error, running")
            })?),
        };
        let time = |name: &str, value: Option<String>| -> Result<Option<i64>, Problem> {
            match value.as_deref() {
                None | Some("") => Ok(None),
                Some(text) => parse_timestamp_str(text).map(Some).ok_or_else(|| {
                    Problem::bad_parameter(
                        name,
                        format!(
                            "`{name}` must be an RFC 3339 time (2024-01-15T14:30:22Z) or Unix seconds or milliseconds"
                        ),
                    )
                }),
            }
        };
        let query = self.q.filter(|q| !q.trim().is_empty());
        if query.as_ref().is_some_and(|q| q.len() > 1000) {
            return Err(Problem::bad_parameter("q", "`q` is longer than 1000 bytes"));
        }
        Ok(TraceFilter {
            project_ids: None,
            status,
            tag: self.tag.filter(|t| !t.trim().is_empty()),
            has_errors: false,
            query,
            since_us: time("since", self.since)?,
            until_us: time("until", self.until)?,
            limit,
            cursor,
            sort: None,
            offset: 0,
        })
    }
}

/// List traces, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/traces",
    tag = "traces",
    params(ListParams),
    responses(
        (status = 200, description = "A page of traces", body = TraceList),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<TraceList>, Problem> {
    let Query(mut params) = params.map_err(|e| Problem::bad_parameter("query", e.body_text()))?;
    if let Principal::Key(key) = &principal {
        deny_unless(
            key.scope == KeyScope::Read,
            &principal,
            "read traces with an ingest key",
        )?;
    }
    let mut readable = principal.readable_projects(&state).await?;
    if let Some(only) = params.project_id.take().filter(|p| !p.is_empty()) {
        readable.retain(|p| *p == only);
    }
    let mut filter = params.into_filter()?;
    filter.project_ids = Some(readable);
    let page = state.store.list_traces(&filter).await?;
    Ok(Json(TraceList {
        items: page.items.iter().map(TraceSummary::from).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

/// A trace the caller may read: 404 when it does not exist or belongs to a project the caller
/// has nothing to do with, 403 for an ingest key of its own project.
pub(crate) async fn find_trace(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<(TraceRecord, Access), Problem> {
    let record = state
        .store
        .get_trace(id)
        .await?
        .ok_or_else(|| Problem::not_found("trace"))?;
    let access = principal
        .require(state, &record.project_id, "trace")
        .await?;
    deny_unless(access.read, principal, "read traces with an ingest key")?;
    Ok((record, access))
}

/// Read a trace with all its steps.
#[utoipa::path(
    get,
    path = "/api/v1/traces/{id}",
    tag = "traces",
    params(("id" = String, Path, description = "Trace id")),
    responses(
        (status = 200, description = "The trace", body = TraceDetail),
        (status = 404, description = "No such trace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<TraceDetail>, Problem> {
    let (record, _) = find_trace(&state, &principal, &id).await?;
    let steps = state.store.get_steps(&id).await?;
    Ok(Json(trace_detail(record, steps)))
}

/// The full view of a trace, for its owners and for share links alike.
pub fn trace_detail(record: TraceRecord, steps: Vec<Step>) -> TraceDetail {
    let stats = &record.stats;
    TraceDetail {
        summary: TraceSummary::from(&record),
        metadata: record.metadata.clone(),
        stats: TraceStatsDto {
            kinds: stats.kinds.clone(),
            models: stats.models.clone(),
            slowest: stats
                .slowest
                .iter()
                .map(|s| SlowStepDto {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    kind: s.kind.as_str().to_owned(),
                    duration_ms: us_to_ms(s.duration_us),
                })
                .collect(),
        },
        steps: steps.into_iter().map(StepDto::from).collect(),
    }
}

/// Read one step of a trace.
#[utoipa::path(
    get,
    path = "/api/v1/traces/{id}/steps/{step_id}",
    tag = "traces",
    params(
        ("id" = String, Path, description = "Trace id"),
        ("step_id" = String, Path, description = "Step id"),
    ),
    responses(
        (status = 200, description = "The step", body = StepDto),
        (status = 404, description = "No such trace or step", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_step(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, step_id)): Path<(String, String)>,
) -> Result<Json<StepDto>, Problem> {
    find_trace(&state, &principal, &id).await?;
    let step = state
        .store
        .get_step(&id, &step_id)
        .await?
        .ok_or_else(|| Problem::not_found("step"))?;
    Ok(Json(StepDto::from(step)))
}

/// What an in-trace search asks for.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StepSearch {
    /// Text to find in step names, inputs, outputs, errors and metadata (case-insensitive).
    pub q: String,
}

/// The steps of one trace that contain a text.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StepMatches {
    /// Matching step ids in document order (at most 10,000).
    pub step_ids: Vec<String>,
}

/// The most step ids an in-trace search returns.
pub const MAX_STEP_MATCHES: u32 = 10_000;

/// Checks an in-trace search and runs it.
pub(crate) async fn search_in_trace(
    state: &AppState,
    trace_id: &str,
    q: &str,
) -> Result<StepMatches, Problem> {
    if q.len() > 1000 {
        return Err(Problem::bad_parameter("q", "`q` is longer than 1000 bytes"));
    }
    let step_ids = state
        .store
        .search_steps(trace_id, q, MAX_STEP_MATCHES)
        .await?;
    Ok(StepMatches { step_ids })
}

/// Find the steps of a trace that contain a text.
#[utoipa::path(
    get,
    path = "/api/v1/traces/{id}/search",
    tag = "traces",
    params(("id" = String, Path, description = "Trace id"), StepSearch),
    responses(
        (status = 200, description = "The matching steps", body = StepMatches),
        (status = 404, description = "No such trace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn search_steps(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    params: Result<Query<StepSearch>, QueryRejection>,
) -> Result<Json<StepMatches>, Problem> {
    let Query(params) = params.map_err(|e| Problem::bad_parameter("q", e.body_text()))?;
    find_trace(&state, &principal, &id).await?;
    Ok(Json(search_in_trace(&state, &id, &params.q).await?))
}

/// Download a trace in the native format; uploading the file again gives the same trace.
#[utoipa::path(
    get,
    path = "/api/v1/traces/{id}/export",
    tag = "traces",
    params(("id" = String, Path, description = "Trace id")),
    responses(
        (status = 200, description = "The native trace document", body = serde_json::Value,
         headers(("Content-Disposition" = String, description = "attachment with a file name"))),
        (status = 404, description = "No such trace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let (record, _) = find_trace(&state, &principal, &id).await?;
    let steps = state.store.get_steps(&id).await?;
    let doc = native::export(&record_to_trace(record, steps));
    // Compact, so an export is no larger than the limits that let the trace in.
    let body = serde_json::to_vec(&doc).map_err(|e| Problem::internal(&e))?;
    let disposition = format!("attachment; filename=\"trace-{id}.json\"");
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

fn record_to_trace(record: TraceRecord, steps: Vec<Step>) -> Trace {
    Trace {
        name: record.name,
        description: record.description,
        source_format: record.source_format,
        status: record.status,
        tags: record.tags,
        metadata: record.metadata,
        session_id: record.session_id,
        steps,
        stats: record.stats,
        size_bytes: record.size_bytes,
        redactions: record.redactions,
    }
}

/// Delete a trace and its steps.
#[utoipa::path(
    delete,
    path = "/api/v1/traces/{id}",
    tag = "traces",
    params(("id" = String, Path, description = "Trace id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such trace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let (_, access) = find_trace(&state, &principal, &id).await?;
    deny_unless(access.write, &principal, "delete traces")?;
    if state.store.delete_trace(&id).await? {
        tracing::info!(trace_id = %id, "trace deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("trace"))
    }
}
