//! The native trace format: decoding and exporting.
//!
//! The format is a superset of what the original AgentTrace accepted, so its users' files keep
//! working: `{"name", "description", "metadata", "tags", "steps": [...]}` or a bare array of steps,
//! each step with many accepted aliases (see `docs/trace-format.md` and the JSON Schema). Decoding
//! is strict about shapes (a wrong type is a 422 naming the field) and tolerant about data (an
//! unknown parent or an end before the start is a warning, and the step is kept). Fields we do not
//! know are kept in the step's metadata, so nothing the source said is lost. Every walk over the
//! step tree is iterative: a deep tree cannot overflow the stack.

use crate::error::{IngestError, Warning};
use crate::limits::Limits;
use crate::model::{SOURCE_TYPE_KEY, Status, Step, StepError, StepKind, Trace, TraceStats, Usage};
use crate::timefmt::{format_us, parse_timestamp_str, unix_number_to_us};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

/// The name of this format in `Trace::source_format`.
pub const FORMAT: &str = "native";

/// Step fields the decoder understands, with their aliases (the first of a group wins when
/// several are present; the others are kept in the metadata).
pub const STEP_FIELDS: &[&[&str]] = &[
    &["id", "step_id"],
    &["parent_id", "parent"],
    &["children"],
    &["kind"],
    &["type", "step_type"],
    &["name"],
    &["content", "message"],
    &["timestamp", "time", "start_time"],
    &["end_time"],
    &["duration_ms", "duration"],
    &["tokens_used", "tokens"],
    &["usage"],
    &["model"],
    &["cost"],
    &["error", "error_message"],
    &["status"],
    &["input", "inputs"],
    &["output", "outputs"],
    &["metadata"],
];

/// Top-level fields of a trace document.
pub const TRACE_FIELDS: &[&str] = &[
    "name",
    "description",
    "metadata",
    "tags",
    "session_id",
    "steps",
];

/// A decoded document and what the sender should know about it.
#[derive(Debug)]
pub struct Decoded {
    pub trace: Trace,
    pub warnings: Vec<Warning>,
}

/// Decodes a parsed native document. `size_bytes` is the size of the text it came from.
pub fn decode(doc: Value, limits: &Limits, size_bytes: u64) -> Result<Decoded, IngestError> {
    let (mut top, steps) = match doc {
        Value::Array(steps) => (Map::new(), steps),
        Value::Object(mut top) => match top.remove("steps") {
            Some(Value::Array(steps)) => (top, steps),
            Some(other) => {
                return Err(IngestError::not_a_trace(
                    "/steps",
                    format!("`steps` must be an array, found {}", type_name(&other)),
                ));
            }
            None => {
                return Err(IngestError::not_a_trace(
                    "",
                    "a trace document needs a `steps` array (or send a bare array of steps)",
                ));
            }
        },
        other => {
            return Err(IngestError::not_a_trace(
                "",
                format!(
                    "expected a trace object with `steps` or an array of steps, found {}",
                    type_name(&other)
                ),
            ));
        }
    };

    let census = census(&steps);
    if census.count > u64::from(limits.max_steps) {
        return Err(IngestError::TooManySteps {
            limit: limits.max_steps,
            found: census.count,
        });
    }

    let mut decoder = StepDecoder {
        explicit_ids: census.explicit_ids,
        seen_ids: HashMap::new(),
        steps: Vec::with_capacity(usize::try_from(census.count).unwrap_or(0)),
        pointers: Vec::new(),
        warnings: Vec::new(),
    };
    // Pre-order walk; children are pushed in reverse so document order is kept.
    let mut pending: Vec<(Value, String, Option<String>)> = steps
        .into_iter()
        .enumerate()
        .rev()
        .map(|(i, step)| (step, format!("/steps/{i}"), None))
        .collect();
    while let Some((value, pointer, enclosing_parent)) = pending.pop() {
        let children = decoder.decode_step(value, &pointer, enclosing_parent)?;
        let parent_id = decoder.steps.last().map(|s| s.id.clone());
        for (i, child) in children.into_iter().enumerate().rev() {
            pending.push((child, format!("{pointer}/children/{i}"), parent_id.clone()));
        }
    }
    let StepDecoder {
        mut steps,
        mut warnings,
        pointers,
        ..
    } = decoder;
    link_parents(&mut steps, &pointers, &mut warnings);

    let name = take_text(&mut top, "name", "")?.unwrap_or_default();
    let description = take_text(&mut top, "description", "")?;
    let session_id = take_text(&mut top, "session_id", "")?;
    let tags = take_tags(&mut top)?;
    let mut metadata = take_object(&mut top, "metadata", "")?.unwrap_or_default();
    for (key, value) in top {
        metadata.entry(key).or_insert(value);
    }

    let trace = Trace {
        name,
        description,
        source_format: FORMAT.to_owned(),
        status: Status::Ok,
        tags,
        metadata,
        session_id,
        steps,
        stats: TraceStats::default(),
        size_bytes,
        redactions: 0,
    };
    Ok(Decoded { trace, warnings })
}

/// What a first pass over the document learns: the number of steps (nested ones included) and
/// the ids the document gives itself, so generated ids never collide with them.
struct Census {
    count: u64,
    explicit_ids: HashSet<String>,
}

fn census(steps: &[Value]) -> Census {
    let mut count = 0u64;
    let mut explicit_ids = HashSet::new();
    let mut pending: Vec<&Value> = steps.iter().collect();
    while let Some(step) = pending.pop() {
        count += 1;
        if let Value::Object(map) = step {
            if let Some(id) = first_of(map, &["id", "step_id"]).and_then(id_string) {
                explicit_ids.insert(id);
            }
            if let Some(Value::Array(children)) = map.get("children") {
                pending.extend(children.iter());
            }
        }
    }
    Census {
        count,
        explicit_ids,
    }
}

struct StepDecoder {
    explicit_ids: HashSet<String>,
    /// Step id to the pointer where it was first seen, to report duplicates.
    seen_ids: HashMap<String, String>,
    steps: Vec<Step>,
    /// The JSON pointer of each step, in the same order, for warnings.
    pointers: Vec<String>,
    warnings: Vec<Warning>,
}

impl StepDecoder {
    /// Decodes one step, appends it, and returns its nested children for the caller to walk.
    fn decode_step(
        &mut self,
        value: Value,
        pointer: &str,
        enclosing_parent: Option<String>,
    ) -> Result<Vec<Value>, IngestError> {
        let Value::Object(mut map) = value else {
            return Err(IngestError::not_a_trace(
                pointer,
                format!("a step must be an object, found {}", type_name(&value)),
            ));
        };
        let seq = u32::try_from(self.steps.len()).unwrap_or(u32::MAX);

        let id = match take_id(&mut map, &["id", "step_id"], pointer)? {
            Some(id) => id,
            None => self.generate_id(seq),
        };
        if let Some(first) = self.seen_ids.get(&id) {
            return Err(IngestError::not_a_trace(
                format!("{pointer}/id"),
                format!("duplicate step id (first used at {first})"),
            ));
        }
        self.seen_ids.insert(id.clone(), pointer.to_owned());

        let explicit_parent = take_id(&mut map, &["parent_id", "parent"], pointer)?;
        let parent_id = match (enclosing_parent, explicit_parent) {
            (Some(enclosing), Some(explicit)) if enclosing != explicit => {
                self.warn(
                    format!("{pointer}/parent_id"),
                    "parent_id disagrees with the enclosing step; the enclosing step is used",
                );
                Some(enclosing)
            }
            (Some(enclosing), _) => Some(enclosing),
            (None, explicit) => explicit,
        };

        let children = match map.remove("children") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(children)) => children,
            Some(other) => {
                return Err(IngestError::not_a_trace(
                    format!("{pointer}/children"),
                    format!(
                        "`children` must be an array of steps, found {}",
                        type_name(&other)
                    ),
                ));
            }
        };

        let explicit_kind = match take_text(&mut map, "kind", pointer)? {
            Some(kind) => Some(kind.parse::<StepKind>().map_err(|_| {
                IngestError::not_a_trace(
                    format!("{pointer}/kind"),
                    format!("unknown kind; expected one of {}", kind_list()),
                )
            })?),
            None => None,
        };
        let source_type = take_first_text(&mut map, &["type", "step_type"], pointer)?;
        let name = take_text(&mut map, "name", pointer)?;
        let content = take_first(&mut map, &["content", "message"]).map(|(_, v)| v);
        let start_us = take_time(&mut map, &["timestamp", "time", "start_time"], pointer)?;
        let mut end_us = take_time(&mut map, &["end_time"], pointer)?;
        let mut duration_us = take_duration(&mut map, pointer)?;
        let (mut usage, usage_extra) = take_usage(&mut map, pointer)?;
        if let Some(total) = take_count(&mut map, &["tokens_used", "tokens"], pointer)? {
            usage.total_tokens.get_or_insert(total);
        }
        let model = take_text(&mut map, "model", pointer)?;
        let cost = take_cost(&mut map, pointer)?;
        let (error, error_extra) = take_error(&mut map);
        let status_text = take_text(&mut map, "status", pointer)?;
        let input = take_first(&mut map, &["input", "inputs"]).map(|(_, v)| v);
        let mut output = take_first(&mut map, &["output", "outputs"]).map(|(_, v)| v);
        let mut metadata = take_object(&mut map, "metadata", pointer)?.unwrap_or_default();

        let kind = explicit_kind.unwrap_or_else(|| match &source_type {
            Some(t) => StepKind::from_source_name(t),
            None if model.is_some() || !usage.is_empty() => StepKind::Llm,
            None => StepKind::Custom,
        });
        if let Some(t) = &source_type
            && (!t.eq_ignore_ascii_case(kind.as_str()) || explicit_kind.is_some())
        {
            metadata.insert(SOURCE_TYPE_KEY.to_owned(), Value::String(t.clone()));
        }
        if let Some(content) = content {
            if output.is_none() {
                output = Some(content);
            } else {
                metadata.entry("content").or_insert(content);
            }
        }
        // What the known fields carried beyond what we model (cache token counts, error codes)
        // stays in the metadata under the field's own name.
        for (key, extra) in [("usage", usage_extra), ("error", error_extra)] {
            if let Some(extra) = extra.filter(|e| !e.is_empty()) {
                metadata.entry(key).or_insert(Value::Object(extra));
            }
        }
        for (key, value) in map {
            metadata.entry(key).or_insert(value);
        }

        match (start_us, end_us, duration_us) {
            (Some(start), Some(end), _) if end < start => {
                self.warn(
                    format!("{pointer}/end_time"),
                    "the step ends before it starts; its end time was dropped",
                );
                end_us = None;
            }
            (Some(start), None, Some(duration)) => end_us = start.checked_add(duration),
            _ => {}
        }
        if let (Some(start), Some(end), None) = (start_us, end_us, duration_us) {
            duration_us = Some(end.saturating_sub(start));
        }

        let status = if error.is_some() || kind == StepKind::Error {
            Status::Error
        } else {
            match status_text
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("error" | "failed" | "failure" | "fail") => Status::Error,
                Some("running" | "in_progress" | "pending" | "started") => Status::Running,
                _ => Status::Ok,
            }
        };

        let name = name
            .filter(|n| !n.trim().is_empty())
            .or_else(|| source_type.clone())
            .unwrap_or_else(|| kind.as_str().to_owned());

        self.pointers.push(pointer.to_owned());
        self.steps.push(Step {
            id,
            parent_id,
            seq,
            kind,
            name,
            start_us,
            end_us,
            duration_us,
            status,
            input,
            output,
            error,
            model,
            usage,
            cost,
            metadata,
        });
        Ok(children)
    }

    fn generate_id(&self, seq: u32) -> String {
        let base = format!("step-{}", u64::from(seq) + 1);
        if !self.explicit_ids.contains(&base) {
            return base;
        }
        (1u64..)
            .map(|k| format!("{base}-{k}"))
            .find(|candidate| !self.explicit_ids.contains(candidate))
            .unwrap_or(base)
    }

    fn warn(&mut self, pointer: String, message: &str) {
        self.warnings.push(Warning {
            pointer,
            message: message.to_owned(),
        });
    }
}

/// Makes every `parent_id` point at a step of the trace: an unknown parent or a cycle is broken by
/// making the step a root, with a warning.
fn link_parents(steps: &mut [Step], pointers: &[String], warnings: &mut Vec<Warning>) {
    let parent_pointer = |i: usize| {
        pointers
            .get(i)
            .map_or_else(|| "/steps".to_owned(), |p| format!("{p}/parent_id"))
    };
    let index: HashMap<String, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i))
        .collect();
    for (i, step) in steps.iter_mut().enumerate() {
        let unknown = step
            .parent_id
            .as_ref()
            .is_some_and(|parent| !index.contains_key(parent));
        if unknown {
            warnings.push(Warning {
                pointer: parent_pointer(i),
                message: "parent_id names no step of this trace; the step is shown as a root"
                    .to_owned(),
            });
            step.parent_id = None;
        }
    }
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut state = vec![0u8; steps.len()];
    for start in 0..steps.len() {
        let mut path = Vec::new();
        let mut current = Some(start);
        while let Some(i) = current {
            match state[i] {
                2 => break,
                1 => {
                    // `path.last()` points back into the path: cut that edge.
                    if let Some(&last) = path.last() {
                        let pointer = parent_pointer(last);
                        let step: &mut Step = &mut steps[last];
                        warnings.push(Warning {
                            pointer,
                            message: "parent_id forms a cycle; the step is shown as a root"
                                .to_owned(),
                        });
                        step.parent_id = None;
                    }
                    break;
                }
                _ => {
                    state[i] = 1;
                    path.push(i);
                    current = steps[i]
                        .parent_id
                        .as_ref()
                        .and_then(|p| index.get(p).copied());
                }
            }
        }
        for i in path {
            state[i] = 2;
        }
    }
}

fn kind_list() -> String {
    StepKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn first_of<'a>(map: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| map.get(*k))
}

fn take_first(
    map: &mut Map<String, Value>,
    keys: &[&'static str],
) -> Option<(&'static str, Value)> {
    let key = keys.iter().find(|k| map.contains_key(**k))?;
    map.remove(*key).map(|v| (*key, v))
}

fn id_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn take_id(
    map: &mut Map<String, Value>,
    keys: &[&'static str],
    pointer: &str,
) -> Result<Option<String>, IngestError> {
    match take_first(map, keys) {
        None | Some((_, Value::Null)) => Ok(None),
        Some((key, value)) => match id_string(&value) {
            Some(id) if !id.is_empty() => Ok(Some(id)),
            Some(_) => Err(IngestError::not_a_trace(
                format!("{pointer}/{key}"),
                "an id must not be empty",
            )),
            None => Err(IngestError::not_a_trace(
                format!("{pointer}/{key}"),
                format!("expected a string or number, found {}", type_name(&value)),
            )),
        },
    }
}

fn take_text(
    map: &mut Map<String, Value>,
    key: &'static str,
    pointer: &str,
) -> Result<Option<String>, IngestError> {
    take_first_text(map, &[key], pointer)
}

fn take_first_text(
    map: &mut Map<String, Value>,
    keys: &[&'static str],
    pointer: &str,
) -> Result<Option<String>, IngestError> {
    match take_first(map, keys) {
        None | Some((_, Value::Null)) => Ok(None),
        Some((_, Value::String(s))) => Ok(Some(s)),
        Some((_, Value::Number(n))) => Ok(Some(n.to_string())),
        Some((key, other)) => Err(IngestError::not_a_trace(
            format!("{pointer}/{key}"),
            format!("expected a string, found {}", type_name(&other)),
        )),
    }
}

fn take_object(
    map: &mut Map<String, Value>,
    key: &'static str,
    pointer: &str,
) -> Result<Option<Map<String, Value>>, IngestError> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(object)) => Ok(Some(object)),
        Some(other) => Err(IngestError::not_a_trace(
            format!("{pointer}/{key}"),
            format!("expected an object, found {}", type_name(&other)),
        )),
    }
}

fn take_tags(map: &mut Map<String, Value>) -> Result<Vec<String>, IngestError> {
    match map.remove("tags") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(tag)) => Ok(vec![tag]),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(tag) => Ok(tag),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(IngestError::not_a_trace(
                    format!("/tags/{i}"),
                    format!("a tag must be a string, found {}", type_name(&other)),
                )),
            })
            .collect(),
        Some(other) => Err(IngestError::not_a_trace(
            "/tags",
            format!("expected an array of strings, found {}", type_name(&other)),
        )),
    }
}

const TIME_HINT: &str =
    "expected an RFC 3339 timestamp (2024-01-15T14:30:22Z) or Unix seconds or milliseconds";

fn take_time(
    map: &mut Map<String, Value>,
    keys: &[&'static str],
    pointer: &str,
) -> Result<Option<i64>, IngestError> {
    let Some((key, value)) = take_first(map, keys) else {
        return Ok(None);
    };
    let parsed = match &value {
        Value::Null => return Ok(None),
        Value::String(s) => parse_timestamp_str(s),
        Value::Number(n) => n.as_f64().and_then(unix_number_to_us),
        _ => None,
    };
    parsed.map(Some).ok_or_else(|| {
        IngestError::not_a_trace(
            format!("{pointer}/{key}"),
            format!("not a timestamp: {TIME_HINT}, found {}", type_name(&value)),
        )
    })
}

fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite())
}

fn take_duration(map: &mut Map<String, Value>, pointer: &str) -> Result<Option<i64>, IngestError> {
    match take_first(map, &["duration_ms", "duration"]) {
        None | Some((_, Value::Null)) => Ok(None),
        Some((key, value)) => match number_of(&value) {
            Some(ms) if ms >= 0.0 && ms * 1000.0 < crate::timefmt::MAX_US as f64 => {
                Ok(Some((ms * 1000.0).round() as i64))
            }
            Some(_) => Err(IngestError::not_a_trace(
                format!("{pointer}/{key}"),
                "a duration must be a non-negative number of milliseconds",
            )),
            None => Err(IngestError::not_a_trace(
                format!("{pointer}/{key}"),
                format!(
                    "expected a number of milliseconds, found {}",
                    type_name(&value)
                ),
            )),
        },
    }
}

fn count_of(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < u64::MAX as f64)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    }
}

fn take_count(
    map: &mut Map<String, Value>,
    keys: &[&'static str],
    pointer: &str,
) -> Result<Option<u64>, IngestError> {
    match take_first(map, keys) {
        None | Some((_, Value::Null)) => Ok(None),
        Some((key, value)) => count_of(&value).map(Some).ok_or_else(|| {
            IngestError::not_a_trace(
                format!("{pointer}/{key}"),
                format!(
                    "a token count must be a non-negative integer, found {}",
                    type_name(&value)
                ),
            )
        }),
    }
}

/// The usage counts, and the fields of the usage object that are not counts we model.
fn take_usage(
    map: &mut Map<String, Value>,
    pointer: &str,
) -> Result<(Usage, Option<Map<String, Value>>), IngestError> {
    let mut usage = match map.remove("usage") {
        None | Some(Value::Null) => return Ok((Usage::default(), None)),
        Some(Value::Object(usage)) => usage,
        Some(Value::Number(n)) => {
            let mut object = Map::new();
            object.insert("total_tokens".to_owned(), Value::Number(n));
            object
        }
        Some(other) => {
            return Err(IngestError::not_a_trace(
                format!("{pointer}/usage"),
                format!(
                    "expected an object of token counts, found {}",
                    type_name(&other)
                ),
            ));
        }
    };
    let pointer = format!("{pointer}/usage");
    let counts = Usage {
        input_tokens: take_count(
            &mut usage,
            &["input_tokens", "prompt_tokens", "input"],
            &pointer,
        )?,
        output_tokens: take_count(
            &mut usage,
            &["output_tokens", "completion_tokens", "output"],
            &pointer,
        )?,
        total_tokens: take_count(&mut usage, &["total_tokens", "total"], &pointer)?,
    };
    Ok((counts, Some(usage)))
}

fn take_cost(map: &mut Map<String, Value>, pointer: &str) -> Result<Option<f64>, IngestError> {
    match map.remove("cost") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => number_of(&value).map(Some).ok_or_else(|| {
            IngestError::not_a_trace(
                format!("{pointer}/cost"),
                format!("expected a number, found {}", type_name(&value)),
            )
        }),
    }
}

/// The step's error, and the fields of an error object beyond type, message and stack.
fn take_error(map: &mut Map<String, Value>) -> (Option<StepError>, Option<Map<String, Value>>) {
    let Some((_, value)) = take_first(map, &["error", "error_message"]) else {
        return (None, None);
    };
    let error = match value {
        Value::Null | Value::Bool(false) => None,
        Value::Bool(true) => Some(StepError {
            message: "error".to_owned(),
            ..StepError::default()
        }),
        Value::String(message) if message.is_empty() => None,
        Value::String(message) => Some(StepError {
            message,
            ..StepError::default()
        }),
        Value::Object(mut object) => {
            let mut text = |keys: &[&'static str]| {
                take_first(&mut object, keys).map(|(_, v)| match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
            };
            let message = text(&["message", "msg", "error", "detail", "description"]);
            let error_type = text(&["type", "name", "error_type", "kind", "code"]);
            let stack = text(&["stack", "stacktrace", "stack_trace", "traceback"]);
            let message = message
                .or_else(|| error_type.clone())
                .unwrap_or_else(|| "error".to_owned());
            return (
                Some(StepError {
                    message,
                    error_type,
                    stack,
                }),
                Some(object),
            );
        }
        other => Some(StepError {
            message: other.to_string(),
            ..StepError::default()
        }),
    };
    (error, None)
}

/// Writes a trace back as a native document; decoding the result gives the same trace.
pub fn export(trace: &Trace) -> Value {
    let steps: Vec<Value> = trace.steps.iter().map(export_step).collect();
    let mut doc = Map::new();
    doc.insert("name".to_owned(), Value::String(trace.name.clone()));
    if let Some(description) = &trace.description {
        doc.insert("description".to_owned(), Value::String(description.clone()));
    }
    if let Some(session_id) = &trace.session_id {
        doc.insert("session_id".to_owned(), Value::String(session_id.clone()));
    }
    doc.insert("tags".to_owned(), json!(trace.tags));
    doc.insert("metadata".to_owned(), Value::Object(trace.metadata.clone()));
    doc.insert("steps".to_owned(), Value::Array(steps));
    Value::Object(doc)
}

fn export_step(step: &Step) -> Value {
    let mut out = Map::new();
    let mut metadata = step.metadata.clone();
    out.insert("id".to_owned(), Value::String(step.id.clone()));
    if let Some(parent) = &step.parent_id {
        out.insert("parent_id".to_owned(), Value::String(parent.clone()));
    }
    out.insert(
        "kind".to_owned(),
        Value::String(step.kind.as_str().to_owned()),
    );
    if let Some(source_type) = metadata.remove(SOURCE_TYPE_KEY) {
        out.insert("type".to_owned(), source_type);
    }
    out.insert("name".to_owned(), Value::String(step.name.clone()));
    out.insert(
        "status".to_owned(),
        Value::String(step.status.as_str().to_owned()),
    );
    if let Some(start) = step.start_us {
        out.insert("start_time".to_owned(), Value::String(format_us(start)));
    }
    if let Some(end) = step.end_us {
        out.insert("end_time".to_owned(), Value::String(format_us(end)));
    }
    if let Some(duration) = step.duration_us {
        out.insert("duration_ms".to_owned(), json!(duration as f64 / 1000.0));
    }
    if let Some(model) = &step.model {
        out.insert("model".to_owned(), Value::String(model.clone()));
    }
    if !step.usage.is_empty() {
        out.insert("usage".to_owned(), json!(step.usage));
    }
    if let Some(cost) = step.cost {
        out.insert("cost".to_owned(), json!(cost));
    }
    if let Some(error) = &step.error {
        out.insert("error".to_owned(), json!(error));
    }
    if let Some(input) = &step.input {
        out.insert("input".to_owned(), input.clone());
    }
    if let Some(output) = &step.output {
        out.insert("output".to_owned(), output.clone());
    }
    if !metadata.is_empty() {
        out.insert("metadata".to_owned(), Value::Object(metadata));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{SynthSpec, generate};
    use proptest::prelude::*;

    fn decode_ok(doc: Value) -> Decoded {
        decode(doc, &Limits::default(), 0).unwrap()
    }

    #[test]
    fn generated_ids_never_collide_with_given_ones() {
        let decoded =
            decode_ok(json!([{}, {"id": "step-1"}, {}, {"id": "step-3-1"}, {"id": "step-3"}]));
        let ids: Vec<&str> = decoded.trace.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            ["step-1-1", "step-1", "step-3-2", "step-3-1", "step-3"]
        );
    }

    #[test]
    fn fields_beyond_the_model_are_kept_and_warnings_point_at_the_field() {
        let decoded = decode_ok(json!([
            {"id": "a", "usage": {"input_tokens": 3, "cache_read_input_tokens": 2},
             "error": {"message": "rate limited", "code": 429, "retry_after": 3}},
            {"id": "b", "children": [{"id": "c", "parent_id": "b"}, {"id": "d", "parent_id": "zz"}]}
        ]));
        let a = &decoded.trace.steps[0];
        assert_eq!(a.usage.input_tokens, Some(3));
        assert_eq!(a.metadata["usage"], json!({"cache_read_input_tokens": 2}));
        assert_eq!(a.metadata["error"], json!({"retry_after": 3}));
        assert_eq!(
            a.error.as_ref().and_then(|e| e.error_type.as_deref()),
            Some("429")
        );
        assert_eq!(decoded.trace.steps[3].parent_id.as_deref(), Some("b"));
        let pointers: Vec<&str> = decoded
            .warnings
            .iter()
            .map(|w| w.pointer.as_str())
            .collect();
        assert_eq!(pointers, ["/steps/1/children/1/parent_id"]);
    }

    #[test]
    fn times_out_of_range_are_refused_not_wrapped() {
        for step in [
            json!({"timestamp": 9e21, "duration_ms": 9e15}),
            json!({"timestamp": "0000-01-01T00:00:00Z"}),
            json!({"timestamp": "10000-01-01T00:00:00Z"}),
        ] {
            let err = decode(json!([step]), &Limits::default(), 0).unwrap_err();
            assert_eq!(err.pointer(), Some("/steps/0/timestamp"), "{err}");
        }
        let decoded = decode_ok(
            json!([{"timestamp": "0001-01-01T00:00:00Z"}, {"timestamp": "9999-12-31T23:59:59Z", "duration_ms": 1e12}]),
        );
        let stats = crate::stats::compute(&decoded.trace.steps);
        assert!(stats.duration_us.is_some_and(|d| d > 0));
    }

    #[test]
    fn a_long_chain_of_parents_needs_no_recursion() {
        let steps: Vec<Value> = (0..1000)
            .map(|i| json!({"id": i, "parent_id": if i == 0 { Value::Null } else { json!(i - 1) }}))
            .collect();
        let decoded = decode_ok(Value::Array(steps));
        assert_eq!(decoded.trace.steps.len(), 1000);
        assert!(decoded.warnings.is_empty());
        assert_eq!(decoded.trace.steps[999].parent_id.as_deref(), Some("998"));
    }

    #[test]
    fn a_long_cycle_is_cut_once() {
        let steps: Vec<Value> = (0..500)
            .map(|i| json!({"id": i, "parent_id": (i + 1) % 500}))
            .collect();
        let decoded = decode_ok(Value::Array(steps));
        let roots = decoded
            .trace
            .steps
            .iter()
            .filter(|s| s.parent_id.is_none())
            .count();
        assert_eq!(roots, 1);
        assert_eq!(decoded.warnings.len(), 1);
    }

    #[test]
    fn kinds_keep_the_source_name() {
        let decoded = decode_ok(json!([
            {"type": "LLM"}, {"type": "function_call"}, {"type": "Retriever"}, {"type": "weird"}, {"model": "x"}
        ]));
        let kinds: Vec<(StepKind, Option<&Value>)> = decoded
            .trace
            .steps
            .iter()
            .map(|s| (s.kind, s.metadata.get(SOURCE_TYPE_KEY)))
            .collect();
        assert_eq!(
            kinds,
            [
                (StepKind::Llm, None),
                (StepKind::Tool, Some(&json!("function_call"))),
                (StepKind::Retrieval, Some(&json!("Retriever"))),
                (StepKind::Custom, Some(&json!("weird"))),
                (StepKind::Llm, None),
            ]
        );
    }

    #[test]
    fn export_then_decode_gives_the_same_trace() {
        let doc = generate(SynthSpec {
            steps: 300,
            target_bytes: 200_000,
            seed: 7,
        });
        let first = decode_ok(doc).trace;
        let second = decode_ok(export(&first)).trace;
        assert_eq!(second.steps, first.steps);
        assert_eq!(second.metadata, first.metadata);
        assert_eq!(second.tags, first.tags);
        assert_eq!(second.name, first.name);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            "[a-z ]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_step() -> impl Strategy<Value = Value> {
        (
            prop::option::of("[a-z0-9]{1,6}"),
            prop::option::of(prop::sample::select(vec![
                "llm",
                "tool",
                "thought",
                "action",
                "observation",
                "error",
                "generation",
                "custom_x",
            ])),
            prop::option::of(0u64..2_000_000_000_000),
            prop::option::of(0u32..100_000),
            prop::option::of(arb_json()),
            prop::option::of(arb_json()),
            prop::option::of("[a-zA-Z ]{0,20}"),
            prop::option::of(0u64..100_000),
        )
            .prop_map(|(id, kind, ts, dur, input, output, error, tokens)| {
                let mut step = Map::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        step.insert(k.to_owned(), v);
                    }
                };
                put("id", id.map(Value::String));
                put("type", kind.map(|k| json!(k)));
                put("timestamp", ts.map(|t| json!(t)));
                put("duration_ms", dur.map(|d| json!(d)));
                put("input", input);
                put("output", output);
                put("error", error.map(Value::String));
                put("tokens_used", tokens.map(|t| json!(t)));
                Value::Object(step)
            })
    }

    proptest! {
        #[test]
        fn decoding_never_panics_and_exports_round_trip(steps in prop::collection::vec(arb_step(), 0..20)) {
            if let Ok(decoded) = decode(Value::Array(steps), &Limits::default(), 0) {
                let again = decode(export(&decoded.trace), &Limits::default(), 0).unwrap();
                prop_assert_eq!(again.trace.steps, decoded.trace.steps);
            }
        }

        #[test]
        fn any_json_value_is_decoded_or_refused_cleanly(doc in arb_json()) {
            let _ = decode(doc, &Limits::default(), 0);
        }
    }
}
