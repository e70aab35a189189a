//! Latency samples and percentiles (nearest-rank), and the metrics a run reports.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sparkrig_model::time::Dur;

/// A latency measured in every run, per pod or per app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Figure {
    /// Driver pod created → bound to a node.
    DriverScheduling,
    /// Executor pod created → bound.
    ExecutorScheduling,
    /// Driver pod created → containers running (image pull included).
    DriverStartup,
    /// Executor pod created → running.
    ExecutorStartup,
    /// The operator's `spark_application_submit_latency_seconds`: app created → SUBMITTED, first
    /// submission attempt only (reference/spark-operator.md §6, `pkg/common/metrics.go`).
    SubmitLatency,
    /// The operator's `spark_application_start_latency_seconds`: app created → RUNNING, first
    /// execution attempt only (`observeStartLatencySeconds` skips executionAttempts != 1).
    StartLatency,
    /// App created → first executor running.
    TimeToFirstExecutor,
    /// App created → all requested executors running at once.
    TimeToAllExecutors,
    /// App created → terminal state.
    AppTurnaround,
}

impl Figure {
    /// Every figure, in report order.
    pub const ALL: [Figure; 9] = [
        Figure::DriverScheduling,
        Figure::ExecutorScheduling,
        Figure::DriverStartup,
        Figure::ExecutorStartup,
        Figure::SubmitLatency,
        Figure::StartLatency,
        Figure::TimeToFirstExecutor,
        Figure::TimeToAllExecutors,
        Figure::AppTurnaround,
    ];

    /// Row label.
    pub fn label(self) -> &'static str {
        match self {
            Figure::DriverScheduling => "driver pod scheduled",
            Figure::ExecutorScheduling => "executor pod scheduled",
            Figure::DriverStartup => "driver pod running",
            Figure::ExecutorStartup => "executor pod running",
            Figure::SubmitLatency => "operator submit latency",
            Figure::StartLatency => "operator start latency",
            Figure::TimeToFirstExecutor => "time to first executor",
            Figure::TimeToAllExecutors => "time to all executors",
            Figure::AppTurnaround => "app turnaround",
        }
    }
}

/// Raw samples per figure (for pooling runs).
pub type Samples = BTreeMap<Figure, Vec<Dur>>;

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
    /// Latencies (every [`Figure`], empty summaries included).
    pub latency: BTreeMap<Figure, Summary>,
    /// Apps by final state.
    pub apps_by_state: BTreeMap<String, usize>,
    /// Pods created (all, including platform).
    pub pods_created: usize,
    /// Nodes added.
    pub nodes_added: usize,
    /// Virtual duration of the run.
    pub duration: Dur,
}

impl Metrics {
    /// Summaries of every figure.
    pub fn summarise(samples: &Samples) -> BTreeMap<Figure, Summary> {
        Figure::ALL.iter().map(|f| (*f, Summary::of(&mut samples.get(f).cloned().unwrap_or_default()))).collect()
    }

    /// One figure's summary.
    pub fn get(&self, f: Figure) -> Summary {
        self.latency.get(&f).copied().unwrap_or_default()
    }
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
