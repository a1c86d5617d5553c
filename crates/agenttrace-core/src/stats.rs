//! Per-trace figures, computed once at ingest and stored with the trace.

use crate::model::{SlowStep, Status, Step, TraceStats, Usage};

/// How many of the slowest steps a trace keeps in its stats.
pub const SLOWEST_KEPT: usize = 5;

/// Computes the stats of a trace from its steps.
///
/// Token usage and cost are summed over every step that reports them (as Langfuse and Phoenix
/// do): a framework that reports the same tokens on a parent and its child counts them twice,
/// which is the source's choice, not ours to guess.
pub fn compute(steps: &[Step]) -> TraceStats {
    let mut stats = TraceStats {
        step_count: u32::try_from(steps.len()).unwrap_or(u32::MAX),
        ..TraceStats::default()
    };
    let mut input = None::<u64>;
    let mut output = None::<u64>;
    let mut total = None::<u64>;
    let mut root_duration_sum = None::<i64>;
    let mut slowest: Vec<&Step> = Vec::new();
    for step in steps {
        if step.is_error() {
            stats.error_count += 1;
        }
        *stats
            .kinds
            .entry(step.kind.as_str().to_owned())
            .or_insert(0) += 1;
        if let Some(model) = &step.model {
            *stats.models.entry(model.clone()).or_insert(0) += 1;
        }
        add(&mut input, step.usage.input_tokens);
        add(&mut output, step.usage.output_tokens);
        add(&mut total, step.usage.effective_total());
        if let Some(cost) = step.cost {
            *stats.cost.get_or_insert(0.0) += cost;
        }
        if let Some(start) = step.start_us {
            stats.start_us = Some(stats.start_us.map_or(start, |s| s.min(start)));
        }
        let end = step
            .end_us
            .or_else(|| {
                step.start_us
                    .zip(step.duration_us)
                    .map(|(s, d)| s.saturating_add(d))
            })
            .or(step.start_us);
        if let Some(end) = end {
            stats.end_us = Some(stats.end_us.map_or(end, |e| e.max(end)));
        }
        if let (None, Some(duration)) = (&step.parent_id, step.duration_us) {
            root_duration_sum = Some(root_duration_sum.unwrap_or(0).saturating_add(duration));
        }
        if step.duration_us.is_some() {
            slowest.push(step);
        }
    }
    stats.usage = Usage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: total,
    };
    stats.duration_us = match (stats.start_us, stats.end_us) {
        (Some(start), Some(end)) if end > start => Some(end.saturating_sub(start)),
        // Without timestamps, root steps are taken to run one after another.
        _ => root_duration_sum.or(stats.start_us.map(|_| 0)),
    };
    slowest.sort_by(|a, b| b.duration_us.cmp(&a.duration_us).then(a.seq.cmp(&b.seq)));
    stats.slowest = slowest
        .into_iter()
        .take(SLOWEST_KEPT)
        .map(|s| SlowStep {
            id: s.id.clone(),
            name: s.name.clone(),
            kind: s.kind,
            duration_us: s.duration_us.unwrap_or(0),
        })
        .collect();
    stats
}

fn add(sum: &mut Option<u64>, value: Option<u64>) {
    if let Some(value) = value {
        *sum = Some(sum.unwrap_or(0).saturating_add(value));
    }
}

/// A trace's status: error if any step failed, running if any step still runs, ok otherwise.
pub fn trace_status(steps: &[Step]) -> Status {
    if steps.iter().any(Step::is_error) {
        Status::Error
    } else if steps.iter().any(|s| s.status == Status::Running) {
        Status::Running
    } else {
        Status::Ok
    }
}
