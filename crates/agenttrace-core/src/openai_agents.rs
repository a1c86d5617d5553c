//! The OpenAI Agents SDK's trace export (`POST /v1/traces/ingest` with `{"data": [...]}`): trace
//! items and span items, mapped to steps.
//!
//! A trace item (the workflow) becomes the root step; spans without a parent hang under it.
//! Spans are sent as they end, so children usually come before their parents, and a trace's
//! items may span several requests: the store merges them (see `TraceStore::merge_steps`).

use crate::model::{Status, Step, StepError, StepKind, Usage};
use crate::timefmt::parse_timestamp_str;
use serde_json::{Map, Value};

/// The items of one trace found in a request.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentsTrace {
    pub trace_id: String,
    pub steps: Vec<Step>,
    /// `group_id` of the trace item (a conversation), kept as the session.
    pub group_id: Option<String>,
}

/// Maps a request body to traces, in order of first appearance. Items that are not objects,
/// or lack an id or a trace id, are counted in the second value and skipped.
pub fn to_traces(body: &Value) -> Result<(Vec<AgentsTrace>, u64), String> {
    let items = body.get("data").and_then(Value::as_array).ok_or_else(|| {
        "expected an object with a `data` list of trace and span items".to_owned()
    })?;
    let mut traces: Vec<AgentsTrace> = Vec::new();
    let mut skipped = 0u64;
    for item in items {
        let Some(object) = item.as_object() else {
            skipped += 1;
            continue;
        };
        let kind = object.get("object").and_then(Value::as_str).unwrap_or("");
        let id = object.get("id").and_then(Value::as_str).unwrap_or("");
        let trace_id = match kind {
            "trace" => id,
            _ => object.get("trace_id").and_then(Value::as_str).unwrap_or(""),
        };
        if id.is_empty() || trace_id.is_empty() {
            skipped += 1;
            continue;
        }
        let at = match traces.iter().position(|t| t.trace_id == trace_id) {
            Some(at) => at,
            None => {
                traces.push(AgentsTrace {
                    trace_id: trace_id.to_owned(),
                    steps: Vec::new(),
                    group_id: None,
                });
                traces.len() - 1
            }
        };
        let trace = &mut traces[at];
        let seq = u32::try_from(trace.steps.len()).unwrap_or(u32::MAX);
        if kind == "trace" {
            trace.group_id = object
                .get("group_id")
                .and_then(Value::as_str)
                .map(str::to_owned);
            trace.steps.push(trace_step(object, id, seq));
        } else {
            trace.steps.push(span_step(object, id, trace_id, seq));
        }
    }
    Ok((traces, skipped))
}

fn trace_step(object: &Map<String, Value>, id: &str, seq: u32) -> Step {
    let mut step = Step::new(id, seq, StepKind::Agent);
    step.name = object
        .get("workflow_name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or("Agent workflow")
        .to_owned();
    for key in ["group_id", "metadata"] {
        if let Some(value) = object.get(key).filter(|v| !v.is_null()) {
            step.metadata.insert(key.to_owned(), value.clone());
        }
    }
    step.metadata
        .insert("source_type".to_owned(), Value::from("trace"));
    step
}

fn text(data: &Map<String, Value>, key: &str) -> Option<String> {
    data.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A value that may be JSON in a string (function arguments are).
fn maybe_json(value: &Value) -> Value {
    match value {
        Value::String(s) if s.trim_start().starts_with(['{', '[']) => {
            serde_json::from_str(s).unwrap_or_else(|_| value.clone())
        }
        other => other.clone(),
    }
}

fn span_step(object: &Map<String, Value>, id: &str, trace_id: &str, seq: u32) -> Step {
    let empty = Map::new();
    let data = object
        .get("span_data")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let span_type = data.get("type").and_then(Value::as_str).unwrap_or("custom");
    let kind = match span_type {
        "agent" => StepKind::Agent,
        "generation" | "response" => StepKind::Llm,
        "function" | "mcp_tools" => StepKind::Tool,
        "handoff" => StepKind::Handoff,
        "guardrail" => StepKind::Guardrail,
        _ => StepKind::Custom,
    };
    let mut step = Step::new(id, seq, kind);
    step.parent_id = Some(
        object
            .get("parent_id")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .unwrap_or(trace_id)
            .to_owned(),
    );
    step.name = match span_type {
        "handoff" => format!(
            "handoff {} → {}",
            text(data, "from_agent").unwrap_or_default(),
            text(data, "to_agent").unwrap_or_default()
        ),
        "mcp_tools" => format!("mcp tools {}", text(data, "server").unwrap_or_default()),
        _ => text(data, "name")
            .or_else(|| text(data, "model"))
            .unwrap_or_else(|| span_type.to_owned()),
    };
    step.start_us = object
        .get("started_at")
        .and_then(Value::as_str)
        .and_then(parse_timestamp_str);
    step.end_us = object
        .get("ended_at")
        .and_then(Value::as_str)
        .and_then(parse_timestamp_str);
    step.duration_us = step
        .start_us
        .zip(step.end_us)
        .map(|(a, b)| b - a)
        .filter(|d| *d >= 0);
    step.model = text(data, "model");
    step.input = data.get("input").filter(|v| !v.is_null()).map(maybe_json);
    step.output = data.get("output").filter(|v| !v.is_null()).map(maybe_json);
    if let Some(usage) = data.get("usage").and_then(Value::as_object) {
        let count = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| usage.get(*k).and_then(Value::as_u64))
        };
        step.usage = Usage {
            input_tokens: count(&["input_tokens", "prompt_tokens"]),
            output_tokens: count(&["output_tokens", "completion_tokens"]),
            total_tokens: count(&["total_tokens"]),
        };
    }
    if let Some(error) = object.get("error").and_then(Value::as_object) {
        step.error = Some(StepError {
            message: error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the span failed")
                .to_owned(),
            error_type: None,
            stack: None,
        });
        step.status = Status::Error;
        if let Some(details) = error.get("data").filter(|v| !v.is_null()) {
            step.metadata
                .insert("error_data".to_owned(), details.clone());
        }
    }
    for (key, value) in data {
        if !matches!(
            key.as_str(),
            "type" | "name" | "input" | "output" | "model" | "usage"
        ) && !value.is_null()
        {
            step.metadata.insert(key.clone(), value.clone());
        }
    }
    step.metadata
        .insert("source_type".to_owned(), Value::from(span_type));
    step
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trace_and_span_items_become_a_tree_under_the_workflow() {
        let body = json!({"data": [
            {"object": "trace.span", "id": "span_fn", "trace_id": "trace_1", "parent_id": "span_agent",
             "started_at": "2026-12-04T10:00:01.000Z", "ended_at": "2026-12-04T10:00:01.500Z",
             "span_data": {"type": "function", "name": "get_weather", "input": "{\"city\": \"Paris\"}", "output": null},
             "error": {"message": "Error running tool (non-fatal)", "data": {"tool_name": "get_weather"}}},
            {"object": "trace.span", "id": "span_gen", "trace_id": "trace_1", "parent_id": "span_agent",
             "started_at": "2026-12-04T10:00:00.100Z", "ended_at": "2026-12-04T10:00:00.900Z",
             "span_data": {"type": "generation", "model": "gpt-4o-mini",
                           "input": [{"role": "user", "content": "Weather?"}],
                           "output": [{"role": "assistant", "content": "Calling a tool"}],
                           "usage": {"input_tokens": 50, "output_tokens": 7}}, "error": null},
            {"object": "trace.span", "id": "span_agent", "trace_id": "trace_1", "parent_id": null,
             "started_at": "2026-12-04T10:00:00.000Z", "ended_at": "2026-12-04T10:00:02.000Z",
             "span_data": {"type": "agent", "name": "Weather agent", "tools": ["get_weather"]}, "error": null},
            {"object": "trace", "id": "trace_1", "workflow_name": "Weather workflow", "group_id": "conv-7"},
            "junk"
        ]});
        let (traces, skipped) = to_traces(&body).unwrap();
        assert_eq!(skipped, 1);
        let [trace] = traces.as_slice() else {
            panic!("{traces:?}")
        };
        assert_eq!(trace.group_id.as_deref(), Some("conv-7"));
        let by_id = |id: &str| trace.steps.iter().find(|s| s.id == id).unwrap();
        let tool = by_id("span_fn");
        assert_eq!(tool.kind, StepKind::Tool);
        assert_eq!(tool.input, Some(json!({"city": "Paris"})));
        assert_eq!(tool.status, Status::Error);
        assert_eq!(tool.metadata["error_data"]["tool_name"], "get_weather");
        assert_eq!(tool.duration_us, Some(500_000));
        let generation = by_id("span_gen");
        assert_eq!(generation.kind, StepKind::Llm);
        assert_eq!(generation.model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(generation.usage.input_tokens, Some(50));
        let agent = by_id("span_agent");
        assert_eq!(
            agent.parent_id.as_deref(),
            Some("trace_1"),
            "under the workflow"
        );
        assert_eq!(agent.metadata["tools"], json!(["get_weather"]));
        let workflow = by_id("trace_1");
        assert_eq!(workflow.name, "Weather workflow");
        assert_eq!(workflow.parent_id, None);
        assert!(to_traces(&json!({"items": []})).is_err());
    }
}
