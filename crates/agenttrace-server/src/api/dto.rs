//! The JSON shapes of the API: view models built from the store's records, so the wire format is
//! decided here and nowhere else. Times are RFC 3339 strings in UTC, durations milliseconds.

use agenttrace_core::timefmt::format_us;
use agenttrace_core::{Step, Usage};
use agenttrace_store::TraceRecord;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Token counts; a count the source did not report is absent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
}

impl From<&Usage> for UsageDto {
    fn from(usage: &Usage) -> Self {
        UsageDto {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            total_tokens: usage.effective_total(),
        }
    }
}

/// A trace in a list: its identity and its stats.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TraceSummary {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// `ok`, `error` or `running`.
    pub status: String,
    /// The format the trace arrived in (`native`, ...).
    pub source_format: String,
    pub tags: Vec<String>,
    pub session_id: Option<String>,
    /// Number of steps.
    pub step_count: u32,
    /// Number of failed steps.
    pub error_count: u32,
    pub start: Option<String>,
    pub end: Option<String>,
    pub duration_ms: Option<f64>,
    pub usage: UsageDto,
    pub cost: Option<f64>,
    /// Number of secret values removed before storage.
    pub redactions: u64,
    pub size_bytes: u64,
    /// When the trace was received.
    pub created_at: String,
    /// The trace's page.
    pub url: String,
}

impl From<&TraceRecord> for TraceSummary {
    fn from(record: &TraceRecord) -> Self {
        let stats = &record.stats;
        TraceSummary {
            id: record.id.clone(),
            name: record.name.clone(),
            description: record.description.clone(),
            status: record.status.as_str().to_owned(),
            source_format: record.source_format.clone(),
            tags: record.tags.clone(),
            session_id: record.session_id.clone(),
            step_count: stats.step_count,
            error_count: stats.error_count,
            start: stats.start_us.map(format_us),
            end: stats.end_us.map(format_us),
            duration_ms: stats.duration_us.map(us_to_ms),
            usage: UsageDto::from(&stats.usage),
            cost: stats.cost,
            redactions: record.redactions,
            size_bytes: record.size_bytes,
            created_at: format_us(record.created_at_us),
            url: trace_url(&record.id),
        }
    }
}

pub fn trace_url(id: &str) -> String {
    format!("/traces/{id}")
}

pub fn us_to_ms(us: i64) -> f64 {
    us as f64 / 1000.0
}

/// One of the slowest steps of a trace.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlowStepDto {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub duration_ms: f64,
}

/// Figures computed at ingest beyond those of the summary.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TraceStatsDto {
    /// Steps per kind.
    pub kinds: BTreeMap<String, u32>,
    /// Steps per model.
    pub models: BTreeMap<String, u32>,
    /// The slowest steps, slowest first.
    pub slowest: Vec<SlowStepDto>,
}

/// A failed step's error.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepErrorDto {
    pub message: String,
    #[serde(rename = "type")]
    pub error_type: Option<String>,
    pub stack: Option<String>,
}

/// One step of a trace.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepDto {
    pub id: String,
    pub parent_id: Option<String>,
    /// Position in the trace, from 0.
    pub seq: u32,
    /// One of llm, tool, agent, chain, retrieval, embedding, thought, action, observation,
    /// message, guardrail, handoff, error, custom.
    pub kind: String,
    pub name: String,
    pub start: Option<String>,
    pub end: Option<String>,
    pub duration_ms: Option<f64>,
    /// `ok`, `error` or `running`.
    pub status: String,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub error: Option<StepErrorDto>,
    pub model: Option<String>,
    pub usage: UsageDto,
    pub cost: Option<f64>,
    /// Everything else the source said about the step, including its own type name
    /// (`source_type`) when that differs from the kind.
    pub metadata: serde_json::Map<String, Value>,
}

impl From<Step> for StepDto {
    fn from(step: Step) -> Self {
        StepDto {
            usage: UsageDto::from(&step.usage),
            id: step.id,
            parent_id: step.parent_id,
            seq: step.seq,
            kind: step.kind.as_str().to_owned(),
            name: step.name,
            start: step.start_us.map(format_us),
            end: step.end_us.map(format_us),
            duration_ms: step.duration_us.map(us_to_ms),
            status: step.status.as_str().to_owned(),
            input: step.input,
            output: step.output,
            error: step.error.map(|e| StepErrorDto {
                message: e.message,
                error_type: e.error_type,
                stack: e.stack,
            }),
            model: step.model,
            cost: step.cost,
            metadata: step.metadata,
        }
    }
}

/// A trace with its steps in order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TraceDetail {
    #[serde(flatten)]
    pub summary: TraceSummary,
    pub metadata: serde_json::Map<String, Value>,
    pub stats: TraceStatsDto,
    /// The steps in document order.
    pub steps: Vec<StepDto>,
}

/// A page of traces, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TraceList {
    pub items: Vec<TraceSummary>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Something the sender should know that did not stop the ingest.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WarningDto {
    pub pointer: String,
    pub message: String,
}

/// The answer to an upload.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Created {
    pub id: String,
    pub name: String,
    /// Number of steps stored.
    pub steps: u32,
    /// Number of failed steps.
    pub errors: u32,
    /// Number of secret values removed before storage.
    pub redactions: u64,
    /// The trace's page.
    pub url: String,
    pub warnings: Vec<WarningDto>,
}

/// Liveness.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: String,
}
