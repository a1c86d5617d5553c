//! OTLP traces: decoding an `ExportTraceServiceRequest` (protobuf or OTLP/JSON) and mapping its
//! spans to steps.
//!
//! The mapping reads the OpenTelemetry GenAI conventions, current and deprecated, and
//! OpenInference; any other span becomes a generic step with its attributes kept as metadata.
//! Spans are grouped by trace id; merging the spans of one trace that arrive in several
//! requests is the store's business.

use crate::model::{Status, Step, StepError, StepKind, Usage};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span, status};
use prost::Message;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Why a request could not be read at all (an OTLP 400).
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("the body is not an OTLP ExportTraceServiceRequest in protobuf: {0}")]
    Protobuf(String),
    #[error("the body is not OTLP/JSON: {0}")]
    Json(String),
}

/// Decodes a protobuf request.
pub fn decode_protobuf(bytes: &[u8]) -> Result<ExportTraceServiceRequest, OtlpError> {
    ExportTraceServiceRequest::decode(bytes).map_err(|e| OtlpError::Protobuf(e.to_string()))
}

/// Decodes an OTLP/JSON request. Besides the specification's integers, enum names
/// (`"SPAN_KIND_SERVER"`, `"STATUS_CODE_ERROR"`, as some encoders write them) are accepted.
pub fn decode_json(bytes: &[u8]) -> Result<ExportTraceServiceRequest, OtlpError> {
    let mut value: Value =
        serde_json::from_slice(bytes).map_err(|e| OtlpError::Json(e.to_string()))?;
    if !value.is_object() || value.get("resourceSpans").is_none() {
        return Err(OtlpError::Json(
            "expected an object with `resourceSpans` (OTLP/JSON uses camelCase field names)"
                .to_owned(),
        ));
    }
    enum_names_to_numbers(&mut value);
    serde_json::from_value(value).map_err(|e| OtlpError::Json(e.to_string()))
}

/// Rewrites `kind` and `code` enum names to their numbers, everywhere in the document.
fn enum_names_to_numbers(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if let Value::String(text) = child {
                    let number = match (key.as_str(), text.as_str()) {
                        ("kind", k) => span_kind_number(k),
                        ("code", c) => status_code_number(c),
                        _ => None,
                    };
                    if let Some(number) = number {
                        *child = Value::from(number);
                    }
                } else {
                    enum_names_to_numbers(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(enum_names_to_numbers),
        _ => {}
    }
}

fn span_kind_number(name: &str) -> Option<i64> {
    Some(match name {
        "SPAN_KIND_UNSPECIFIED" => 0,
        "SPAN_KIND_INTERNAL" => 1,
        "SPAN_KIND_SERVER" => 2,
        "SPAN_KIND_CLIENT" => 3,
        "SPAN_KIND_PRODUCER" => 4,
        "SPAN_KIND_CONSUMER" => 5,
        _ => return None,
    })
}

fn status_code_number(name: &str) -> Option<i64> {
    Some(match name {
        "STATUS_CODE_UNSET" => 0,
        "STATUS_CODE_OK" => 1,
        "STATUS_CODE_ERROR" => 2,
        _ => return None,
    })
}

/// The spans of one trace found in a request, as steps.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpTrace {
    /// The trace id, 32 lowercase hex digits.
    pub trace_id: String,
    pub steps: Vec<Step>,
    /// `service.name`, `session.id` and `user.id`, when a span or its resource carried them.
    pub service_name: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
}

/// What a request held: its traces, and the spans that could not be used.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OtlpBatch {
    pub traces: Vec<OtlpTrace>,
    /// Spans refused (an id of the wrong length), for `partial_success.rejected_spans`.
    pub rejected_spans: u64,
    /// Why, for `partial_success.error_message`.
    pub rejected_reasons: Vec<String>,
}

/// Maps every span of a request to a step, grouped by trace in order of first appearance.
pub fn to_batch(request: &ExportTraceServiceRequest) -> OtlpBatch {
    let mut batch = OtlpBatch::default();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for resource_spans in &request.resource_spans {
        let resource = resource_spans
            .resource
            .as_ref()
            .map(|r| attribute_map(&r.attributes))
            .unwrap_or_default();
        let service = resource
            .get("service.name")
            .and_then(Value::as_str)
            .map(str::to_owned);
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                let (Some(trace_id), Some(span_id)) =
                    (hex_id(&span.trace_id, 16), hex_id(&span.span_id, 8))
                else {
                    batch.rejected_spans += 1;
                    if batch.rejected_reasons.len() < 5 {
                        batch.rejected_reasons.push(format!(
                            "span {:?}: trace ids must be 16 bytes and span ids 8 bytes, not all zero",
                            span.name
                        ));
                    }
                    continue;
                };
                let attributes = attribute_map(&span.attributes);
                let at = *index.entry(trace_id.clone()).or_insert_with(|| {
                    batch.traces.push(OtlpTrace {
                        trace_id: trace_id.clone(),
                        steps: Vec::new(),
                        service_name: service.clone(),
                        session_id: None,
                        user_id: None,
                    });
                    batch.traces.len() - 1
                });
                let trace = &mut batch.traces[at];
                for (key, slot) in [
                    ("session.id", &mut trace.session_id),
                    ("user.id", &mut trace.user_id),
                ] {
                    if slot.is_none() {
                        *slot = attributes
                            .get(key)
                            .or_else(|| resource.get(key))
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                    }
                }
                let seq = u32::try_from(trace.steps.len()).unwrap_or(u32::MAX);
                trace
                    .steps
                    .push(span_to_step(span, span_id, attributes, seq));
            }
        }
    }
    batch
}

/// Lowercase hex of an id of `len` bytes; `None` when the length is wrong or it is all zero.
fn hex_id(bytes: &[u8], len: usize) -> Option<String> {
    if bytes.len() != len || bytes.iter().all(|b| *b == 0) {
        return None;
    }
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Attributes as a JSON object (later keys win, as OTLP says keys are unique).
pub fn attribute_map(attributes: &[KeyValue]) -> Map<String, Value> {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), any_value(kv.value.as_ref())))
        .collect()
}

fn any_value(value: Option<&AnyValue>) -> Value {
    let Some(inner) = value.and_then(|v| v.value.as_ref()) else {
        return Value::Null;
    };
    match inner {
        any_value::Value::StringValue(s) => Value::String(s.clone()),
        any_value::Value::BoolValue(b) => Value::Bool(*b),
        any_value::Value::IntValue(i) => Value::from(*i),
        any_value::Value::DoubleValue(d) => serde_json::Number::from_f64(*d)
            .map_or_else(|| Value::String(d.to_string()), Value::Number),
        any_value::Value::ArrayValue(array) => {
            Value::Array(array.values.iter().map(|v| any_value(Some(v))).collect())
        }
        any_value::Value::KvlistValue(list) => Value::Object(attribute_map(&list.values)),
        any_value::Value::BytesValue(bytes) => {
            Value::String(bytes.iter().map(|b| format!("{b:02x}")).collect())
        }
        // An index into a string table, which only profiles carry: nothing to show.
        any_value::Value::StringValueStrindex(_) => Value::Null,
    }
}

fn text(attributes: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| match attributes.get(*key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    })
}

fn count(attributes: &Map<String, Value>, keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|key| match attributes.get(*key)? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A value that may be a JSON document in a string (as `gen_ai.input.messages` or
/// `input.value` often are): parsed when it is one.
fn maybe_json(value: &Value) -> Value {
    match value {
        Value::String(s) => {
            let trimmed = s.trim_start();
            if trimmed.starts_with('{') || trimmed.starts_with('[') {
                serde_json::from_str(s).unwrap_or_else(|_| value.clone())
            } else {
                value.clone()
            }
        }
        other => other.clone(),
    }
}

/// Messages flattened as `prefix.N.rest` (e.g. `gen_ai.prompt.0.role`), gathered back into a
/// list of objects; the keys used are removed from `attributes`.
fn flattened_list(attributes: &mut Map<String, Value>, prefix: &str) -> Option<Value> {
    let mut items: BTreeMap<usize, Map<String, Value>> = BTreeMap::new();
    let keys: Vec<String> = attributes
        .keys()
        .filter(|k| k.starts_with(prefix))
        .cloned()
        .collect();
    for key in keys {
        let rest = &key[prefix.len()..];
        let Some((n, field)) = rest.split_once('.') else {
            continue;
        };
        let Ok(n) = n.parse::<usize>() else {
            continue;
        };
        if let Some(value) = attributes.remove(&key) {
            insert_path(items.entry(n).or_default(), field, value);
        }
    }
    (!items.is_empty()).then(|| Value::Array(items.into_values().map(Value::Object).collect()))
}

/// Puts `value` at the dotted `path` inside `object`, making objects (or lists, for numeric
/// segments) on the way.
fn insert_path(object: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            object.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let child = object
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Value::Object(map) = child {
                insert_path(map, rest, value);
            }
        }
    }
}

/// The kind a span says it is, by OpenInference, then the GenAI conventions.
fn kind_of(attributes: &Map<String, Value>) -> StepKind {
    if let Some(kind) = text(attributes, &["openinference.span.kind"]) {
        return match kind.to_ascii_uppercase().as_str() {
            "LLM" => StepKind::Llm,
            "TOOL" => StepKind::Tool,
            "AGENT" => StepKind::Agent,
            "CHAIN" => StepKind::Chain,
            "RETRIEVER" | "RERANKER" => StepKind::Retrieval,
            "EMBEDDING" => StepKind::Embedding,
            "GUARDRAIL" => StepKind::Guardrail,
            _ => StepKind::Custom,
        };
    }
    if let Some(operation) = text(attributes, &["gen_ai.operation.name"]) {
        return match operation.as_str() {
            "chat" | "text_completion" | "generate_content" | "completion" => StepKind::Llm,
            "embeddings" | "embedding" => StepKind::Embedding,
            "execute_tool" => StepKind::Tool,
            "invoke_agent" | "create_agent" => StepKind::Agent,
            _ => StepKind::Custom,
        };
    }
    if attributes.keys().any(|k| k.starts_with("gen_ai.tool.")) {
        return StepKind::Tool;
    }
    if attributes.contains_key("gen_ai.system")
        || attributes.contains_key("gen_ai.request.model")
        || attributes.keys().any(|k| k.starts_with("gen_ai.prompt."))
    {
        return StepKind::Llm;
    }
    StepKind::Custom
}

/// One span as a step. The attributes read into the step's fields are taken out of its
/// metadata; the rest stay there.
pub fn span_to_step(
    span: &Span,
    span_id: String,
    mut attributes: Map<String, Value>,
    seq: u32,
) -> Step {
    let kind = kind_of(&attributes);
    let mut step = Step::new(span_id, seq, kind);
    step.parent_id = hex_id(&span.parent_span_id, 8);
    step.name = if span.name.is_empty() {
        kind.as_str().to_owned()
    } else {
        span.name.clone()
    };
    let nanos_to_us = |n: u64| i64::try_from(n / 1000).ok().filter(|us| *us > 0);
    step.start_us = nanos_to_us(span.start_time_unix_nano);
    step.end_us = nanos_to_us(span.end_time_unix_nano);
    step.duration_us = step
        .start_us
        .zip(step.end_us)
        .map(|(start, end)| end - start)
        .filter(|d| *d >= 0);
    step.model = text(
        &attributes,
        &[
            "gen_ai.response.model",
            "gen_ai.request.model",
            "llm.model_name",
        ],
    );
    step.usage = Usage {
        input_tokens: count(
            &attributes,
            &[
                "gen_ai.usage.input_tokens",
                "gen_ai.usage.prompt_tokens",
                "llm.token_count.prompt",
            ],
        ),
        output_tokens: count(
            &attributes,
            &[
                "gen_ai.usage.output_tokens",
                "gen_ai.usage.completion_tokens",
                "llm.token_count.completion",
            ],
        ),
        total_tokens: count(
            &attributes,
            &["gen_ai.usage.total_tokens", "llm.token_count.total"],
        ),
    };
    step.input = input_of(&mut attributes, span);
    step.output = output_of(&mut attributes, span);
    step.error = error_of(span, &attributes);
    if step.error.is_some() || kind == StepKind::Error {
        step.status = Status::Error;
    }
    if let Some(kind_name) = span_kind_name(span.kind) {
        attributes.insert("otel.span_kind".to_owned(), Value::from(kind_name));
    }
    step.metadata = attributes;
    step
}

fn span_kind_name(kind: i32) -> Option<&'static str> {
    match kind {
        2 => Some("server"),
        3 => Some("client"),
        4 => Some("producer"),
        5 => Some("consumer"),
        _ => None,
    }
}

fn take(attributes: &mut Map<String, Value>, keys: &[&str]) -> Option<Value> {
    keys.iter()
        .find_map(|key| attributes.remove(*key).filter(|v| !v.is_null()))
        .map(|v| maybe_json(&v))
}

fn input_of(attributes: &mut Map<String, Value>, span: &Span) -> Option<Value> {
    take(
        attributes,
        &[
            "gen_ai.input.messages",
            "gen_ai.tool.call.arguments",
            "input.value",
        ],
    )
    .or_else(|| flattened_list(attributes, "gen_ai.prompt."))
    .or_else(|| {
        flattened_list(attributes, "llm.input_messages.").map(|list| unwrap_messages(&list))
    })
    .or_else(|| {
        message_events(
            span,
            &[
                "gen_ai.system.message",
                "gen_ai.user.message",
                "gen_ai.assistant.message",
                "gen_ai.tool.message",
            ],
        )
    })
}

fn output_of(attributes: &mut Map<String, Value>, span: &Span) -> Option<Value> {
    take(
        attributes,
        &[
            "gen_ai.output.messages",
            "gen_ai.tool.call.result",
            "output.value",
        ],
    )
    .or_else(|| flattened_list(attributes, "gen_ai.completion."))
    .or_else(|| {
        flattened_list(attributes, "llm.output_messages.").map(|list| unwrap_messages(&list))
    })
    .or_else(|| {
        flattened_list(attributes, "retrieval.documents.").map(|list| unwrap_documents(&list))
    })
    .or_else(|| message_events(span, &["gen_ai.choice"]))
}

/// OpenInference nests each message under `message` (`llm.input_messages.0.message.role`).
fn unwrap_messages(list: &Value) -> Value {
    match list {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| item.get("message").cloned().unwrap_or_else(|| item.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// OpenInference nests each document under `document` (`retrieval.documents.0.document.content`).
fn unwrap_documents(list: &Value) -> Value {
    match list {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| {
                    item.get("document")
                        .cloned()
                        .unwrap_or_else(|| item.clone())
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The deprecated per-message span events (`gen_ai.user.message` and the like), as a list.
fn message_events(span: &Span, names: &[&str]) -> Option<Value> {
    let messages: Vec<Value> = span
        .events
        .iter()
        .filter(|event| names.contains(&event.name.as_str()))
        .map(|event| {
            let mut message = attribute_map(&event.attributes);
            if !message.contains_key("role")
                && let Some(role) = event
                    .name
                    .strip_prefix("gen_ai.")
                    .and_then(|n| n.strip_suffix(".message"))
            {
                message.insert("role".to_owned(), Value::from(role));
            }
            for value in message.values_mut() {
                *value = maybe_json(value);
            }
            Value::Object(message)
        })
        .collect();
    (!messages.is_empty()).then_some(Value::Array(messages))
}

/// The span's error: its `exception` event, else an error status with its message.
fn error_of(span: &Span, attributes: &Map<String, Value>) -> Option<StepError> {
    let exception = span.events.iter().find(|e| e.name == "exception").map(|e| {
        let fields = attribute_map(&e.attributes);
        let get = |key: &str| fields.get(key).and_then(Value::as_str).map(str::to_owned);
        StepError {
            message: get("exception.message")
                .or_else(|| get("exception.type"))
                .unwrap_or_else(|| "exception".to_owned()),
            error_type: get("exception.type"),
            stack: get("exception.stacktrace"),
        }
    });
    let failed = span
        .status
        .as_ref()
        .is_some_and(|s| s.code == status::StatusCode::Error as i32);
    match (exception, failed) {
        (Some(error), _) => Some(error),
        (None, true) => Some(StepError {
            message: span
                .status
                .as_ref()
                .map(|s| s.message.clone())
                .filter(|m| !m.is_empty())
                .or_else(|| text(attributes, &["error.type"]))
                .unwrap_or_else(|| "the span ended with an error status".to_owned()),
            error_type: text(attributes, &["error.type"]),
            stack: None,
        }),
        (None, false) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::span::Event;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status as SpanStatus};

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..KeyValue::default()
        }
    }

    fn s(text: &str) -> any_value::Value {
        any_value::Value::StringValue(text.to_owned())
    }

    fn i(n: i64) -> any_value::Value {
        any_value::Value::IntValue(n)
    }

    fn span(id: u8, parent: Option<u8>, name: &str, attributes: Vec<KeyValue>) -> Span {
        Span {
            trace_id: vec![7; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            name: name.to_owned(),
            start_time_unix_nano: 1_700_000_000_000_000_000 + u64::from(id) * 1_000_000,
            end_time_unix_nano: 1_700_000_000_500_000_000,
            attributes,
            ..Span::default()
        }
    }

    fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", s("weather-agent"))],
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    #[test]
    fn genai_spans_become_llm_and_tool_steps() {
        let llm = span(
            2,
            Some(1),
            "chat gpt-4o",
            vec![
                kv("gen_ai.operation.name", s("chat")),
                kv("gen_ai.request.model", s("gpt-4o")),
                kv("gen_ai.usage.input_tokens", i(120)),
                kv("gen_ai.usage.output_tokens", i(30)),
                kv(
                    "gen_ai.input.messages",
                    s(
                        r#"[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]"#,
                    ),
                ),
                kv("session.id", s("sess-1")),
            ],
        );
        let mut tool = span(
            3,
            Some(1),
            "execute_tool get_weather",
            vec![
                kv("gen_ai.operation.name", s("execute_tool")),
                kv("gen_ai.tool.name", s("get_weather")),
                kv("gen_ai.tool.call.arguments", s(r#"{"city":"Paris"}"#)),
            ],
        );
        tool.status = Some(SpanStatus {
            message: "upstream 404".to_owned(),
            code: status::StatusCode::Error as i32,
        });
        let root = span(
            1,
            None,
            "invoke_agent planner",
            vec![kv("gen_ai.operation.name", s("invoke_agent"))],
        );
        // Children first, as exporters send them.
        let batch = to_batch(&request(vec![llm, tool, root]));
        assert_eq!(batch.rejected_spans, 0);
        let [trace] = batch.traces.as_slice() else {
            panic!("one trace expected: {batch:?}");
        };
        assert_eq!(trace.trace_id, "07".repeat(16));
        assert_eq!(trace.service_name.as_deref(), Some("weather-agent"));
        assert_eq!(trace.session_id.as_deref(), Some("sess-1"));
        let llm = &trace.steps[0];
        assert_eq!(llm.kind, StepKind::Llm);
        assert_eq!(llm.parent_id.as_deref(), Some("0101010101010101"));
        assert_eq!(llm.model.as_deref(), Some("gpt-4o"));
        assert_eq!(llm.usage.input_tokens, Some(120));
        assert_eq!(llm.usage.output_tokens, Some(30));
        assert_eq!(
            llm.input.as_ref().unwrap()[0]["parts"][0]["content"],
            "Weather in Paris?"
        );
        assert!(
            !llm.metadata.contains_key("gen_ai.input.messages"),
            "read, not duplicated"
        );
        let tool = &trace.steps[1];
        assert_eq!(tool.kind, StepKind::Tool);
        assert_eq!(tool.input.as_ref().unwrap()["city"], "Paris");
        assert_eq!(tool.status, Status::Error);
        assert_eq!(tool.error.as_ref().unwrap().message, "upstream 404");
        assert_eq!(trace.steps[2].kind, StepKind::Agent);
        assert_eq!(trace.steps[2].parent_id, None);
        assert_eq!(trace.steps[2].duration_us, Some(499_000));
    }

    #[test]
    fn deprecated_genai_and_openinference_forms_are_read() {
        let old = span(
            1,
            None,
            "openai.chat",
            vec![
                kv("gen_ai.system", s("openai")),
                kv("gen_ai.request.model", s("gpt-3.5-turbo")),
                kv("gen_ai.prompt.0.role", s("user")),
                kv("gen_ai.prompt.0.content", s("hello")),
                kv("gen_ai.completion.0.role", s("assistant")),
                kv("gen_ai.completion.0.content", s("hi there")),
                kv("gen_ai.usage.prompt_tokens", i(5)),
                kv("gen_ai.usage.completion_tokens", i(3)),
            ],
        );
        let oi = span(
            2,
            Some(1),
            "ChatModel",
            vec![
                kv("openinference.span.kind", s("LLM")),
                kv("llm.model_name", s("fake-gpt-4")),
                kv("llm.input_messages.0.message.role", s("user")),
                kv("llm.input_messages.0.message.content", s("what is 1+2")),
                kv("llm.output_messages.0.message.role", s("assistant")),
                kv("llm.output_messages.0.message.content", s("3")),
                kv("llm.token_count.prompt", i(12)),
                kv("llm.token_count.completion", i(7)),
                kv("llm.token_count.total", i(19)),
            ],
        );
        let mut failing = span(
            3,
            Some(1),
            "explode",
            vec![
                kv("openinference.span.kind", s("TOOL")),
                kv("tool.name", s("explode")),
                kv("input.value", s(r#"{"x": 1}"#)),
            ],
        );
        failing.events.push(Event {
            name: "exception".to_owned(),
            attributes: vec![
                kv("exception.type", s("ValueError")),
                kv("exception.message", s("boom")),
                kv("exception.stacktrace", s("Traceback ...")),
            ],
            ..Event::default()
        });
        let batch = to_batch(&request(vec![old, oi, failing]));
        let steps = &batch.traces[0].steps;
        assert_eq!(steps[0].kind, StepKind::Llm);
        assert_eq!(
            steps[0].input,
            Some(serde_json::json!([{"role": "user", "content": "hello"}]))
        );
        assert_eq!(steps[0].output.as_ref().unwrap()[0]["content"], "hi there");
        assert_eq!(steps[0].usage.input_tokens, Some(5));
        assert_eq!(steps[1].model.as_deref(), Some("fake-gpt-4"));
        assert_eq!(
            steps[1].input,
            Some(serde_json::json!([{"role": "user", "content": "what is 1+2"}]))
        );
        assert_eq!(steps[1].usage.total_tokens, Some(19));
        assert_eq!(steps[2].kind, StepKind::Tool);
        assert_eq!(steps[2].input, Some(serde_json::json!({"x": 1})));
        let error = steps[2].error.as_ref().unwrap();
        assert_eq!(error.error_type.as_deref(), Some("ValueError"));
        assert_eq!(error.stack.as_deref(), Some("Traceback ..."));
        assert_eq!(steps[2].metadata["tool.name"], "explode");
    }

    #[test]
    fn protobuf_and_json_decode_to_the_same_request_and_bad_ids_are_rejected() {
        let mut good = span(1, None, "root", vec![kv("k", i(42))]);
        good.kind = 2;
        let mut bad = span(2, None, "short id", vec![]);
        bad.span_id = vec![1, 2, 3];
        let req = request(vec![good, bad]);
        let bytes = req.encode_to_vec();
        assert_eq!(decode_protobuf(&bytes).unwrap(), req);
        assert!(decode_protobuf(b"\xff\xff\xff").is_err());

        let json = format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"svc"}}}}]}},
              "scopeSpans":[{{"spans":[{{"traceId":"{t}","spanId":"{s}","parentSpanId":"","name":"root",
              "kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1700000000000000000","endTimeUnixNano":1700000000100000000,
              "attributes":[{{"key":"k","value":{{"intValue":"42"}}}}],
              "status":{{"code":"STATUS_CODE_ERROR","message":"failed"}}}}]}}]}}]}}"#,
            t = "0af7651916cd43dd8448eb211c80319c",
            s = "b7ad6b7169203331"
        );
        let decoded = decode_json(json.as_bytes()).unwrap();
        let batch = to_batch(&decoded);
        let step = &batch.traces[0].steps[0];
        assert_eq!(batch.traces[0].trace_id, "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(step.id, "b7ad6b7169203331");
        assert_eq!(step.metadata["k"], 42);
        assert_eq!(step.metadata["otel.span_kind"], "server");
        assert_eq!(step.error.as_ref().unwrap().message, "failed");
        assert_eq!(step.duration_us, Some(100_000));

        let batch = to_batch(&req);
        assert_eq!(batch.rejected_spans, 1);
        assert_eq!(batch.traces[0].steps.len(), 1);
        assert!(
            decode_json(br#"{"resource_spans": []}"#).is_err(),
            "snake_case is not OTLP/JSON"
        );
        assert!(decode_json(b"not json").is_err());
    }
}
