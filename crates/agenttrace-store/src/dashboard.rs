//! What the dashboard shows: traces per time bucket, tools and models, over the traces of some
//! projects received since a moment. Engine-neutral: every engine fills these the same way, and
//! the percentile rule below is shared so they all agree on the numbers.

/// How many tools and how many models the dashboard lists, the most used first.
pub const DASHBOARD_TOP: usize = 20;

/// The dashboard's numbers for the traces received at or after `since_us`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dashboard {
    pub since_us: i64,
    pub bucket_us: i64,
    /// One entry per bucket that received a trace, oldest first. Bucket `i` covers
    /// `[since_us + i * bucket_us, since_us + (i + 1) * bucket_us)`; empty buckets are left out.
    pub buckets: Vec<Bucket>,
    /// The same numbers over the whole period (`start_us` is `since_us`).
    pub totals: Bucket,
    /// Steps of kind `tool`, grouped by name: at most [`DASHBOARD_TOP`], most calls first.
    pub tools: Vec<ToolUsage>,
    /// Steps that name a model, grouped by model: at most [`DASHBOARD_TOP`], most calls first.
    pub models: Vec<ModelUsage>,
}

/// The traces received in one time bucket.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bucket {
    /// Where the bucket begins (microseconds since the epoch).
    pub start_us: i64,
    pub traces: u64,
    /// Traces with at least one failed step.
    pub error_traces: u64,
    /// The median of the traces' durations; `None` when no trace in the bucket has one.
    pub p50_duration_us: Option<i64>,
    pub p95_duration_us: Option<i64>,
    /// The sum of the traces' total tokens (traces without usage count as 0).
    pub total_tokens: u64,
    /// The sum of the traces' costs in dollars (traces without a cost count as 0).
    pub cost: f64,
}

/// One tool's calls.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolUsage {
    pub name: String,
    pub calls: u64,
    /// The mean and 95th percentile of the calls that carry a duration; `None` when none does.
    pub mean_duration_us: Option<f64>,
    pub p95_duration_us: Option<i64>,
    /// Calls that failed (error status or an error recorded).
    pub errors: u64,
}

impl ToolUsage {
    /// The share of calls that failed, from 0 to 1.
    pub fn error_rate(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.errors as f64 / self.calls as f64
        }
    }
}

/// One model's use.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelUsage {
    pub name: String,
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
    pub cost: f64,
}

/// The `p`-th percentile (0 < p ≤ 100) of values sorted ascending, by the nearest-rank rule: the
/// smallest value that at least `p` percent of the values do not exceed. Always one of the
/// values; `None` for no values.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, n) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[7], 50.0), Some(7));
        assert_eq!(percentile(&[7], 95.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 95.0), Some(4));
        let hundred: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 50.0), Some(50));
        assert_eq!(percentile(&hundred, 95.0), Some(95));
        assert_eq!(percentile(&hundred, 100.0), Some(100));
    }

    #[test]
    fn error_rate_of_no_calls_is_zero() {
        assert_eq!(ToolUsage::default().error_rate(), 0.0);
        let tool = ToolUsage {
            calls: 4,
            errors: 1,
            ..ToolUsage::default()
        };
        assert_eq!(tool.error_rate(), 0.25);
    }
}
