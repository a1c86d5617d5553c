//! The trace model every decoder produces and every store keeps.
//!
//! A [`Trace`] is one agent run; its [`Step`]s (spans) form a tree through `parent_id`. Times are
//! microseconds since the Unix epoch: fine enough for OTLP spans, and still exact as a JSON number.
//! Stats ([`TraceStats`]) are computed once at ingest so lists and dashboards never re-read steps.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

/// What a step is. Every decoder maps its source's type names onto these and keeps the original
/// name in the step's metadata under [`SOURCE_TYPE_KEY`], so nothing the source said is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Llm,
    Tool,
    Agent,
    Chain,
    Retrieval,
    Embedding,
    Thought,
    Action,
    Observation,
    Message,
    Guardrail,
    Handoff,
    Error,
    Custom,
}

/// The metadata key under which a decoder keeps the source's own type name for a step.
pub const SOURCE_TYPE_KEY: &str = "source_type";

impl StepKind {
    pub const ALL: [StepKind; 14] = [
        StepKind::Llm,
        StepKind::Tool,
        StepKind::Agent,
        StepKind::Chain,
        StepKind::Retrieval,
        StepKind::Embedding,
        StepKind::Thought,
        StepKind::Action,
        StepKind::Observation,
        StepKind::Message,
        StepKind::Guardrail,
        StepKind::Handoff,
        StepKind::Error,
        StepKind::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Llm => "llm",
            StepKind::Tool => "tool",
            StepKind::Agent => "agent",
            StepKind::Chain => "chain",
            StepKind::Retrieval => "retrieval",
            StepKind::Embedding => "embedding",
            StepKind::Thought => "thought",
            StepKind::Action => "action",
            StepKind::Observation => "observation",
            StepKind::Message => "message",
            StepKind::Guardrail => "guardrail",
            StepKind::Handoff => "handoff",
            StepKind::Error => "error",
            StepKind::Custom => "custom",
        }
    }

    /// Maps a source's type name (any case, `-`/`_`/space separated) onto a kind.
    /// Unknown names become [`StepKind::Custom`].
    pub fn from_source_name(name: &str) -> StepKind {
        let normalized: String = name
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' ' | '.'))
            .flat_map(char::to_lowercase)
            .collect();
        match normalized.as_str() {
            "llm" | "generation" | "chat" | "completion" | "chatcompletion" | "model"
            | "llmcall" | "response" | "textcompletion" => StepKind::Llm,
            "tool" | "toolcall" | "function" | "functioncall" | "execute" | "executetool"
            | "mcptools" | "mcp" => StepKind::Tool,
            "agent" | "invokeagent" | "createagent" | "crew" | "task" => StepKind::Agent,
            "chain" | "workflow" | "pipeline" | "span" | "run" => StepKind::Chain,
            "retrieval" | "retriever" | "retrieve" | "search" | "reranker" | "rerank" => {
                StepKind::Retrieval
            }
            "embedding" | "embeddings" | "embed" => StepKind::Embedding,
            "thought" | "thinking" | "reasoning" | "plan" | "planning" => StepKind::Thought,
            "action" | "act" => StepKind::Action,
            "observation" | "observe" | "result" | "toolresult" => StepKind::Observation,
            "message" | "user" | "assistant" | "system" | "input" | "output" | "event"
            | "prompt" => StepKind::Message,
            "guardrail" | "guard" | "moderation" => StepKind::Guardrail,
            "handoff" | "transfer" => StepKind::Handoff,
            "error" | "exception" | "failure" => StepKind::Error,
            _ => StepKind::Custom,
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StepKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StepKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// A name that is not one of an enum's values (e.g. a kind or status read back from a store).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name {0:?}")]
pub struct UnknownName(pub String);

/// Outcome of a step or a whole trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Error,
    Running,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Running => "running",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ok" => Ok(Status::Ok),
            "error" => Ok(Status::Error),
            "running" => Ok(Status::Running),
            other => Err(UnknownName(other.to_owned())),
        }
    }
}

/// Token usage of a step or a trace. A missing count is unknown, not zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
}

impl Usage {
    pub fn is_empty(&self) -> bool {
        self.input_tokens.is_none() && self.output_tokens.is_none() && self.total_tokens.is_none()
    }

    /// The total as given, or input + output when the source gave only those.
    pub fn effective_total(&self) -> Option<u64> {
        self.total_tokens
            .or(match (self.input_tokens, self.output_tokens) {
                (None, None) => None,
                (i, o) => Some(i.unwrap_or(0).saturating_add(o.unwrap_or(0))),
            })
    }
}

/// Why a step failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepError {
    pub message: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

/// One step (span) of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The step's id, unique within its trace (the source's id, or one we assigned).
    pub id: String,
    pub parent_id: Option<String>,
    /// Position in the document order, from 0; steps are returned in this order.
    pub seq: u32,
    pub kind: StepKind,
    pub name: String,
    pub start_us: Option<i64>,
    pub end_us: Option<i64>,
    pub duration_us: Option<i64>,
    pub status: Status,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub error: Option<StepError>,
    pub model: Option<String>,
    pub usage: Usage,
    pub cost: Option<f64>,
    pub metadata: Map<String, Value>,
}

impl Step {
    /// A step with only its identity set; decoders fill in the rest.
    pub fn new(id: impl Into<String>, seq: u32, kind: StepKind) -> Step {
        Step {
            id: id.into(),
            parent_id: None,
            seq,
            kind,
            name: String::new(),
            start_us: None,
            end_us: None,
            duration_us: None,
            status: Status::Ok,
            input: None,
            output: None,
            error: None,
            model: None,
            usage: Usage::default(),
            cost: None,
            metadata: Map::new(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.status == Status::Error || self.error.is_some() || self.kind == StepKind::Error
    }
}

/// Per-trace figures computed once at ingest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceStats {
    pub start_us: Option<i64>,
    pub end_us: Option<i64>,
    pub duration_us: Option<i64>,
    pub step_count: u32,
    pub error_count: u32,
    pub usage: Usage,
    pub cost: Option<f64>,
    /// Steps per kind, only kinds that occur.
    pub kinds: std::collections::BTreeMap<String, u32>,
    /// The slowest steps, slowest first (at most [`crate::stats::SLOWEST_KEPT`]).
    pub slowest: Vec<SlowStep>,
    /// Models seen, with their step counts.
    pub models: std::collections::BTreeMap<String, u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlowStep {
    pub id: String,
    pub name: String,
    pub kind: StepKind,
    pub duration_us: i64,
}

/// A decoded trace, ready to be redacted and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub name: String,
    pub description: Option<String>,
    /// Which format the trace came in (`native`, `otlp`, ...).
    pub source_format: String,
    pub status: Status,
    pub tags: Vec<String>,
    pub metadata: Map<String, Value>,
    pub session_id: Option<String>,
    pub steps: Vec<Step>,
    pub stats: TraceStats,
    /// Size of the document the trace was decoded from, in bytes.
    pub size_bytes: u64,
    /// Number of secrets removed before storage.
    pub redactions: u64,
}
