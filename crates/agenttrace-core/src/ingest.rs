//! The ingest pipeline every path shares (HTTP upload, API, CLI import):
//! checks → parse → decode → limits → redact → stats.
//!
//! The server and the CLI call [`prepare`] and hand the result to a store; nothing here writes
//! anything, so a rejection can never leave anything half-written behind.

use crate::error::{IngestError, Warning};
use crate::limits::{self, Limits};
use crate::model::{Step, Trace};
use crate::native;
use crate::redact::{RedactionReport, Redactor};
use crate::stats;

/// What an ingest needs besides the bytes.
#[derive(Debug, Clone, Copy)]
pub struct IngestOptions<'a> {
    pub limits: &'a Limits,
    pub redactor: &'a Redactor,
    /// A name that overrides the document's own (e.g. the `name` form field).
    pub name: Option<&'a str>,
    /// A name used when the document has none (e.g. the uploaded file's name).
    pub fallback_name: Option<&'a str>,
}

/// A trace ready for the store, with what the sender should be told.
#[derive(Debug)]
pub struct Prepared {
    pub trace: Trace,
    pub warnings: Vec<Warning>,
    /// Redactions by rule and JSON pointer (never the values), for the security log.
    pub redaction: RedactionReport,
}

/// Turns the bytes of a trace document into a redacted trace with its stats.
pub fn prepare(bytes: &[u8], options: IngestOptions<'_>) -> Result<Prepared, IngestError> {
    let text = limits::precheck(bytes, options.limits)?;
    let size_bytes = text.len() as u64;
    let doc = limits::parse_json(text)?;
    let native::Decoded {
        mut trace,
        warnings,
    } = native::decode(doc, options.limits, size_bytes)?;
    finish(&mut trace, options);
    let redaction = redact_trace(&mut trace, options.redactor);
    trace.redactions = redaction.total;
    trace.stats = stats::compute(&trace.steps);
    trace.status = stats::trace_status(&trace.steps);
    Ok(Prepared {
        trace,
        warnings,
        redaction,
    })
}

/// Fills in what a decoded trace may lack: its name.
fn finish(trace: &mut Trace, options: IngestOptions<'_>) {
    let chosen = options
        .name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if let Some(name) = chosen {
        trace.name = name;
    }
    if trace.name.trim().is_empty() {
        trace.name = options
            .fallback_name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .or_else(|| {
                trace
                    .steps
                    .iter()
                    .find(|s| s.parent_id.is_none())
                    .map(|s| s.name.clone())
            })
            .unwrap_or_else(|| "untitled trace".to_owned());
    }
}

/// Removes secrets from every text a trace carries: names, descriptions, tags, metadata, inputs,
/// outputs, error messages and stack traces. Pointers are those of the native document.
pub fn redact_trace(trace: &mut Trace, redactor: &Redactor) -> RedactionReport {
    let mut report = RedactionReport::default();
    redactor.redact_str(&mut trace.name, "/name", &mut report);
    if let Some(description) = &mut trace.description {
        redactor.redact_str(description, "/description", &mut report);
    }
    for (i, tag) in trace.tags.iter_mut().enumerate() {
        redactor.redact_str(tag, &format!("/tags/{i}"), &mut report);
    }
    if let Some(session_id) = &mut trace.session_id {
        redactor.redact_str(session_id, "/session_id", &mut report);
    }
    redact_map(redactor, &mut trace.metadata, "/metadata", &mut report);
    // Large traces are split in two halves redacted on two threads; the reports are merged in
    // document order, so the outcome is the same as one pass.
    let steps = trace.steps.as_mut_slice();
    if steps.len() >= PARALLEL_REDACTION_STEPS && parallelism() > 1 {
        let middle = steps.len() / 2;
        let (first, second) = steps.split_at_mut(middle);
        let second_report = std::thread::scope(|scope| {
            let worker = scope.spawn(|| {
                let mut part = RedactionReport::default();
                redact_steps(redactor, second, middle, &mut part);
                part
            });
            redact_steps(redactor, first, 0, &mut report);
            worker.join()
        });
        match second_report {
            Ok(part) => report.merge(part),
            // The worker cannot panic short of a bug; redo its half here rather than store it
            // unredacted.
            Err(_) => redact_steps(redactor, &mut trace.steps[middle..], middle, &mut report),
        }
    } else {
        redact_steps(redactor, steps, 0, &mut report);
    }
    report
}

/// Redacts steps that arrive on their own (spans merged into a trace later), in place.
pub fn redact_loose_steps(steps: &mut [Step], redactor: &Redactor) -> RedactionReport {
    let mut report = RedactionReport::default();
    redact_steps(redactor, steps, 0, &mut report);
    report
}

/// Traces with at least this many steps are redacted on two threads.
const PARALLEL_REDACTION_STEPS: usize = 64;

fn parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Redacts a run of steps whose first one is step number `offset` of the trace.
fn redact_steps(
    redactor: &Redactor,
    steps: &mut [Step],
    offset: usize,
    report: &mut RedactionReport,
) {
    for (i, step) in steps.iter_mut().enumerate() {
        let base = format!("/steps/{}", offset + i);
        redactor.redact_str(&mut step.name, &format!("{base}/name"), report);
        if let Some(model) = &mut step.model {
            redactor.redact_str(model, &format!("{base}/model"), report);
        }
        if let Some(input) = &mut step.input {
            redactor.redact_value(input, &format!("{base}/input"), report);
        }
        if let Some(output) = &mut step.output {
            redactor.redact_value(output, &format!("{base}/output"), report);
        }
        if let Some(error) = &mut step.error {
            redactor.redact_str(&mut error.message, &format!("{base}/error/message"), report);
            if let Some(stack) = &mut error.stack {
                redactor.redact_str(stack, &format!("{base}/error/stack"), report);
            }
            if let Some(error_type) = &mut error.error_type {
                redactor.redact_str(error_type, &format!("{base}/error/type"), report);
            }
        }
        redact_map(
            redactor,
            &mut step.metadata,
            &format!("{base}/metadata"),
            report,
        );
    }
}

fn redact_map(
    redactor: &Redactor,
    map: &mut serde_json::Map<String, serde_json::Value>,
    pointer: &str,
    report: &mut RedactionReport,
) {
    if map.is_empty() {
        return;
    }
    let mut value = serde_json::Value::Object(std::mem::take(map));
    redactor.redact_value(&mut value, pointer, report);
    if let serde_json::Value::Object(redacted) = value {
        *map = redacted;
    }
}
