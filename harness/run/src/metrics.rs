//! Latency samples and percentiles (nearest-rank), and the metrics a run reports.

use std::collections::BTreeMap;

use serde::Serialize;
use sparkrig_model::time::Dur;

/// Nearest-rank percentile of sorted samples: the smallest value with at least `q`% of the
/// samples at or below it. `q = 100` is the maximum.
pub fn percentile(sorted: &[Dur], q: u8) -> Option<Dur> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (usize::from(q) * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// p50/p90/p99/max and the count of a sample set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Summary {
    /// Samples.
    pub count: usize,
    /// Median.
    pub p50: Option<Dur>,
    /// 90th percentile.
    pub p90: Option<Dur>,
    /// 99th percentile.
    pub p99: Option<Dur>,
    /// Maximum.
    pub max: Option<Dur>,
}

impl Summary {
    /// Summarises samples (sorting them).
    pub fn of(samples: &mut [Dur]) -> Summary {
        samples.sort_unstable();
        Summary {
            count: samples.len(),
            p50: percentile(samples, 50),
            p90: percentile(samples, 90),
            p99: percentile(samples, 99),
            max: percentile(samples, 100),
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Metrics {
    /// Driver pods: created → running.
    pub driver_startup: Summary,
    /// Executor pods: created → running.
    pub executor_startup: Summary,
    /// Spark pods: created → scheduled.
    pub scheduling: Summary,
    /// Apps: created → first executor running.
    pub time_to_first_executor: Summary,
    /// Apps: created → all requested executors running at once.
    pub time_to_all_executors: Summary,
    /// Apps: created → terminal.
    pub app_turnaround: Summary,
    /// Apps by final state.
    pub apps_by_state: BTreeMap<String, usize>,
    /// Pods created (all, including platform).
    pub pods_created: usize,
    /// Nodes added.
    pub nodes_added: usize,
    /// Virtual duration of the run.
    pub duration: Dur,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let s: Vec<Dur> = (1..=10).map(Dur::secs).collect();
        assert_eq!(percentile(&s, 50), Some(Dur::secs(5)));
        assert_eq!(percentile(&s, 90), Some(Dur::secs(9)));
        assert_eq!(percentile(&s, 99), Some(Dur::secs(10)));
        assert_eq!(percentile(&s, 100), Some(Dur::secs(10)));
        assert_eq!(percentile(&[Dur::secs(3)], 50), Some(Dur::secs(3)));
        assert_eq!(percentile(&[], 50), None);
    }
}
