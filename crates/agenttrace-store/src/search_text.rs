//! The text a trace is found by: its name, description and tags and, for each step, its name,
//! model, error and every string inside its input, output and metadata. Both engines index the
//! same text, so a query finds the same traces on SQLite and PostgreSQL.

use agenttrace_core::Trace;
use serde_json::Value;

/// Collects the searchable text of a trace, one piece per line.
pub fn trace_text(trace: &Trace) -> String {
    let mut text = String::with_capacity(usize::try_from(trace.size_bytes).unwrap_or(0) / 2);
    push(&mut text, &trace.name);
    if let Some(description) = &trace.description {
        push(&mut text, description);
    }
    for tag in &trace.tags {
        push(&mut text, tag);
    }
    for step in &trace.steps {
        push(&mut text, &step.name);
        if let Some(model) = &step.model {
            push(&mut text, model);
        }
        if let Some(error) = &step.error {
            push(&mut text, &error.message);
            if let Some(error_type) = &error.error_type {
                push(&mut text, error_type);
            }
        }
        for value in [&step.input, &step.output].into_iter().flatten() {
            push_strings(&mut text, value);
        }
        for value in step.metadata.values() {
            push_strings(&mut text, value);
        }
    }
    text
}

fn push(text: &mut String, piece: &str) {
    if !piece.is_empty() {
        text.push_str(piece);
        text.push('\n');
    }
}

/// Appends every string leaf of a JSON value, iteratively.
fn push_strings(text: &mut String, value: &Value) {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::String(s) => push(text, s),
            Value::Array(items) => pending.extend(items.iter().rev()),
            Value::Object(map) => pending.extend(map.values().rev()),
            _ => {}
        }
    }
}

/// Splits a user's query into terms: whitespace-separated words that contain at least one letter
/// or digit. Each term matches as a prefix; all terms must match.
pub fn query_terms(query: &str) -> Vec<String> {
    query
        .split_whitespace()
        .filter(|t| t.chars().any(char::is_alphanumeric))
        .map(str::to_owned)
        .collect()
}
