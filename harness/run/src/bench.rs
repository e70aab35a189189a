//! Scheduling benchmarks: the figures a platform team compares across versions (pod start-up,
//! time to executors, the operator's submit and start latency, throughput, pending pods and
//! nodes per group over time), pooled over seeds, saved as JSON and compared with a baseline.
//!
//! Entry points: [`bench`] runs a scenario once per seed; [`BenchReport`] is what it measured
//! (and the `--json` format); [`compare`] sets a run against a saved report.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sparkrig_model::scenario::Scenario;
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::{Event, Record, Sink};

use crate::backend::Backend;
use crate::metrics::{Figure, Metrics, Samples, Summary};
use crate::runner::{self, RunError};

/// Version of the `--json` layout; bumped when a field changes meaning.
pub const FORMAT: u32 = 1;

/// How often the timeline samples pending pods and nodes (virtual time).
pub const SAMPLE_EVERY: Dur = Dur::mins(1);

/// A latency summary in milliseconds (JSON-friendly and exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Stat {
    /// Samples.
    pub count: usize,
    /// Median.
    pub p50_ms: Option<u64>,
    /// 90th percentile.
    pub p90_ms: Option<u64>,
    /// 99th percentile.
    pub p99_ms: Option<u64>,
    /// Maximum.
    pub max_ms: Option<u64>,
}

impl From<Summary> for Stat {
    fn from(s: Summary) -> Stat {
        let ms = |d: Option<Dur>| d.map(|d| d.as_ms());
        Stat { count: s.count, p50_ms: ms(s.p50), p90_ms: ms(s.p90), p99_ms: ms(s.p99), max_ms: ms(s.max) }
    }
}

/// The cluster at one instant of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// Milliseconds since the run started.
    pub t_ms: u64,
    /// Pods created and not yet bound (Spark and platform pods).
    pub pending_pods: u32,
    /// Registered nodes per group.
    pub nodes: BTreeMap<String, u32>,
    /// ResourceQuota usage per `namespace/quota` and resource (cpu in millicores, memory in
    /// bytes, pods counted).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub quota_used: BTreeMap<String, BTreeMap<String, i64>>,
}

/// One ResourceQuota over a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct QuotaFigures {
    /// `spec.hard` by resource.
    pub hard: BTreeMap<String, i64>,
    /// The most `status.used` showed, by resource.
    pub peak: BTreeMap<String, i64>,
    /// When each peak was first reached (ms).
    pub peak_at_ms: BTreeMap<String, u64>,
    /// `status.used` at the end.
    pub end: BTreeMap<String, i64>,
}

/// One seed's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFigures {
    /// Seed.
    pub seed: u64,
    /// Whether the scenario's expectations held.
    pub passed: bool,
    /// Checks that did not hold (names), if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_checks: Vec<String>,
    /// Virtual duration.
    pub duration_ms: u64,
    /// Wall-clock time the run took (load excluded), milliseconds.
    pub wall_ms: f64,
    /// Apps created.
    pub apps: usize,
    /// Apps that ended COMPLETED.
    pub apps_completed: usize,
    /// Completed apps per minute, from the first app's creation to the last app's end.
    pub apps_per_minute: f64,
    /// Pods created.
    pub pods: usize,
    /// Most pods pending at once, and when.
    pub peak_pending_pods: u32,
    /// When the pending peak was first reached.
    pub peak_pending_at_ms: u64,
    /// Most nodes per group at once.
    pub peak_nodes: BTreeMap<String, u32>,
    /// Pending pods and nodes per group every [`SAMPLE_EVERY`].
    pub timeline: Vec<Sample>,
    /// ResourceQuota usage per `namespace/quota`: hard, peak, end.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub quotas: BTreeMap<String, QuotaFigures>,
    /// How long each upgrade step that completed took (by its id), milliseconds.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub upgrade_ms: BTreeMap<String, u64>,
}

/// What `sparkrig bench` measured (the `--json` file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// [`FORMAT`].
    pub format: u32,
    /// Scenario name.
    pub scenario: String,
    /// Backend.
    pub backend: String,
    /// Seeds run.
    pub seeds: Vec<u64>,
    /// Latencies pooled over every seed's samples.
    pub figures: BTreeMap<Figure, Stat>,
    /// Mean completed apps per minute over seeds.
    pub apps_per_minute: f64,
    /// Per seed.
    pub runs: Vec<RunFigures>,
}

impl BenchReport {
    /// Whether every run's expectations held.
    pub fn passed(&self) -> bool {
        self.runs.iter().all(|r| r.passed)
    }

    /// Reads a report written by `--json`; errors name the file and the field.
    pub fn read(path: &Path) -> Result<BenchReport, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut de = serde_json::Deserializer::from_str(&text);
        let report: BenchReport = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let inner = e.inner();
            format!(
                "{}:{}:{}: `{}`: {inner} (is it a `sparkrig bench --json` file?)",
                path.display(),
                inner.line(),
                inner.column(),
                e.path()
            )
        })?;
        if report.format != FORMAT {
            return Err(format!("{}: bench format {} is not supported (this sparkrig writes {FORMAT})", path.display(), report.format));
        }
        Ok(report)
    }
}

/// Folds a trace into the throughput and timeline figures (latencies come from the verdict).
#[derive(Default)]
pub struct Recorder {
    pending: HashSet<String>,
    node_group: HashMap<String, String>,
    nodes: BTreeMap<String, u32>,
    peak_nodes: BTreeMap<String, u32>,
    peak_pending: (u32, Time),
    timeline: Vec<Sample>,
    next_sample: Time,
    first_app: Option<Time>,
    last_end: Option<Time>,
    ended: HashSet<String>,
    pods: usize,
    quotas: BTreeMap<String, QuotaFigures>,
    upgrade_started: BTreeMap<String, Time>,
    upgrade_ms: BTreeMap<String, u64>,
}

impl Recorder {
    /// Emits the samples due before `t` (or at `t` too, at the end of the run): a sample at
    /// time T is the state after every record up to and including T.
    fn sample_until(&mut self, t: Time, inclusive: bool) {
        while self.next_sample < t || (inclusive && self.next_sample == t) {
            self.timeline.push(Sample {
                t_ms: self.next_sample.as_ms(),
                pending_pods: self.pending.len() as u32,
                nodes: self.nodes.clone(),
                quota_used: self.quotas.iter().map(|(k, q)| (k.clone(), q.end.clone())).collect(),
            });
            self.next_sample += SAMPLE_EVERY;
        }
    }
}

impl Sink for Recorder {
    fn record(&mut self, rec: &Record) {
        self.sample_until(rec.t, false);
        match &rec.event {
            Event::NodeAdded { node, group, .. } => {
                self.node_group.insert(node.clone(), group.clone());
                let n = self.nodes.entry(group.clone()).or_default();
                *n += 1;
                let peak = self.peak_nodes.entry(group.clone()).or_default();
                *peak = (*peak).max(*n);
            }
            Event::NodeRemoved { node, .. } => {
                if let Some(n) = self.node_group.remove(node).and_then(|g| self.nodes.get_mut(&g)) {
                    *n = n.saturating_sub(1);
                }
            }
            Event::PodCreated { pod, .. } => {
                self.pods += 1;
                self.pending.insert(pod.clone());
                let n = self.pending.len() as u32;
                if n > self.peak_pending.0 {
                    self.peak_pending = (n, rec.t);
                }
            }
            Event::PodScheduled { pod, .. } | Event::PodDeleted { pod, .. } => {
                self.pending.remove(pod);
            }
            Event::AppCreated { .. } => {
                self.first_app.get_or_insert(rec.t);
            }
            Event::AppState { app, state, .. } if state.is_terminal() && self.ended.insert(app.clone()) => {
                self.last_end = Some(rec.t);
            }
            Event::QuotaUsage { namespace, quota, used, hard } => {
                let q = self.quotas.entry(format!("{namespace}/{quota}")).or_default();
                q.hard = hard.clone();
                q.end = used.clone();
                for (r, v) in used {
                    let peak = q.peak.entry(r.clone()).or_default();
                    if *v > *peak || !q.peak_at_ms.contains_key(r) {
                        *peak = (*peak).max(*v);
                        q.peak_at_ms.insert(r.clone(), rec.t.as_ms());
                    }
                }
            }
            Event::Upgrade { upgrade, phase, .. } => match phase {
                sparkrig_model::upgrade::UpgradePhase::Started => {
                    self.upgrade_started.insert(upgrade.clone(), rec.t);
                }
                sparkrig_model::upgrade::UpgradePhase::Completed => {
                    if let Some(s) = self.upgrade_started.get(upgrade) {
                        self.upgrade_ms.insert(upgrade.clone(), (rec.t - *s).as_ms());
                    }
                }
                _ => {}
            },
            Event::RunEnded { .. } => self.sample_until(rec.t, true),
            _ => {}
        }
    }
}

/// Runs `plan_for(seed)` once per seed on `backend` and gathers the figures. `progress` sees
/// every trace record (for a progress bar).
pub fn bench(
    seeds: &[u64],
    mut plan_for: impl FnMut(u64) -> Result<Scenario, String>,
    backend: &mut dyn Backend,
    mut progress: impl FnMut(u64, &Record),
) -> Result<BenchReport, String> {
    let mut runs = Vec::new();
    let mut pooled = Samples::new();
    let mut scenario = String::new();
    for &seed in seeds {
        let plan = plan_for(seed)?;
        scenario = plan.name.clone();
        let mut recorder = Recorder::default();
        let mut sink = |r: &Record| {
            recorder.record(r);
            progress(seed, r);
        };
        let started = Instant::now();
        let (verdict, info) = runner::run(&plan, backend, None, Some(&mut sink)).map_err(|e: RunError| e.to_string())?;
        let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
        for (f, s) in verdict.samples {
            pooled.entry(f).or_default().extend(s);
        }
        let completed = verdict.metrics.apps_by_state.get("COMPLETED").copied().unwrap_or(0);
        let span = match (recorder.first_app, recorder.last_end) {
            (Some(a), Some(b)) if b > a => (b - a).as_ms() as f64 / 60_000.0,
            _ => 0.0,
        };
        runs.push(RunFigures {
            seed,
            passed: verdict.passed,
            failed_checks: verdict.results.iter().filter(|r| !r.passed).map(|r| r.name.clone()).collect(),
            duration_ms: (info.end - Time::ZERO).as_ms(),
            wall_ms,
            apps: verdict.metrics.apps_by_state.values().sum(),
            apps_completed: completed,
            apps_per_minute: if span > 0.0 { completed as f64 / span } else { 0.0 },
            pods: recorder.pods,
            peak_pending_pods: recorder.peak_pending.0,
            peak_pending_at_ms: recorder.peak_pending.1.as_ms(),
            peak_nodes: recorder.peak_nodes,
            timeline: recorder.timeline,
            quotas: recorder.quotas,
            upgrade_ms: recorder.upgrade_ms,
        });
    }
    let figures = Metrics::summarise(&pooled).into_iter().map(|(f, s)| (f, Stat::from(s))).collect();
    let apps_per_minute = if runs.is_empty() { 0.0 } else { runs.iter().map(|r| r.apps_per_minute).sum::<f64>() / runs.len() as f64 };
    Ok(BenchReport { format: FORMAT, scenario, backend: backend.name().to_string(), seeds: seeds.to_vec(), figures, apps_per_minute, runs })
}

/// Which way is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Worse {
    /// Latencies.
    Higher,
    /// Throughput.
    Lower,
}

/// One compared figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delta {
    /// `executor pod running p99`, `apps per minute`, ...
    pub name: String,
    /// Baseline value (ms for latencies).
    pub baseline: f64,
    /// This run's value.
    pub current: f64,
    /// Unit for display (`ms`, `apps/min`).
    pub unit: &'static str,
    /// Which way is worse.
    pub worse: Worse,
    /// Changed by more than the threshold in the bad direction.
    pub regression: bool,
    /// Changed by more than the threshold in the good direction.
    pub improvement: bool,
}

impl Delta {
    /// Relative change in percent (None when it grew from 0).
    pub fn change_pct(&self) -> Option<f64> {
        if self.baseline == self.current {
            return Some(0.0);
        }
        (self.baseline != 0.0).then(|| (self.current - self.baseline) / self.baseline * 100.0)
    }
}

/// When a change counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// Relative change, percent.
    pub percent: f64,
    /// Smallest absolute latency change that counts (noise floor for short latencies).
    pub min_latency: Dur,
}

/// `current` against `baseline`: every latency percentile and the throughput, flagged when the
/// change is beyond the threshold in either direction.
pub fn compare(current: &BenchReport, baseline: &BenchReport, th: Threshold) -> Vec<Delta> {
    let mut out = Vec::new();
    let judge = |name: String, b: f64, c: f64, unit: &'static str, worse: Worse, floor: f64| {
        let rel = if b == 0.0 { if c == 0.0 { 0.0 } else { f64::INFINITY } } else { (c - b) / b * 100.0 };
        let big = rel.abs() > th.percent && (c - b).abs() >= floor;
        let bad = match worse {
            Worse::Higher => c > b,
            Worse::Lower => c < b,
        };
        Delta { name, baseline: b, current: c, unit, worse, regression: big && bad, improvement: big && !bad }
    };
    let floor = th.min_latency.as_ms() as f64;
    for f in Figure::ALL {
        let (Some(b), Some(c)) = (baseline.figures.get(&f), current.figures.get(&f)) else { continue };
        for (q, bv, cv) in [("p50", b.p50_ms, c.p50_ms), ("p90", b.p90_ms, c.p90_ms), ("p99", b.p99_ms, c.p99_ms)] {
            if let (Some(bv), Some(cv)) = (bv, cv) {
                out.push(judge(format!("{} {q}", f.label()), bv as f64, cv as f64, "ms", Worse::Higher, floor));
            }
        }
    }
    out.push(judge("apps per minute".into(), baseline.apps_per_minute, current.apps_per_minute, "apps/min", Worse::Lower, 0.0));
    // Upgrade durations, mean over the runs in which the upgrade completed.
    let mean = |r: &BenchReport, id: &str| {
        let v: Vec<u64> = r.runs.iter().filter_map(|x| x.upgrade_ms.get(id).copied()).collect();
        (!v.is_empty()).then(|| v.iter().sum::<u64>() as f64 / v.len() as f64)
    };
    let ids: std::collections::BTreeSet<&String> = current.runs.iter().flat_map(|r| r.upgrade_ms.keys()).collect();
    for id in ids {
        if let (Some(b), Some(c)) = (mean(baseline, id), mean(current, id)) {
            out.push(judge(format!("upgrade {id} duration"), b, c, "ms", Worse::Higher, floor));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(p99_ms: u64, apm: f64) -> BenchReport {
        let stat = Stat { count: 10, p50_ms: Some(1000), p90_ms: Some(2000), p99_ms: Some(p99_ms), max_ms: Some(p99_ms) };
        BenchReport {
            format: FORMAT,
            scenario: "s".into(),
            backend: "sim".into(),
            seeds: vec![1],
            figures: [(Figure::ExecutorStartup, stat)].into(),
            apps_per_minute: apm,
            runs: vec![],
        }
    }

    const TH: Threshold = Threshold { percent: 10.0, min_latency: Dur::secs(1) };

    #[test]
    fn slower_latency_is_a_regression_and_faster_an_improvement() {
        let d = compare(&report(30_000, 5.0), &report(10_000, 5.0), TH);
        let p99 = d.iter().find(|d| d.name == "executor pod running p99").unwrap();
        assert!(p99.regression && !p99.improvement);
        assert_eq!(p99.change_pct(), Some(200.0));
        let d = compare(&report(10_000, 5.0), &report(30_000, 5.0), TH);
        let p99 = d.iter().find(|d| d.name == "executor pod running p99").unwrap();
        assert!(p99.improvement && !p99.regression);
        // Unchanged figures are neither.
        assert!(d.iter().filter(|d| d.name.ends_with("p50")).all(|d| !d.regression && !d.improvement));
    }

    #[test]
    fn lower_throughput_is_a_regression() {
        let d = compare(&report(10_000, 4.0), &report(10_000, 5.0), TH);
        assert!(d.iter().find(|d| d.name == "apps per minute").unwrap().regression);
        let d = compare(&report(10_000, 5.2), &report(10_000, 5.0), TH);
        let apm = d.iter().find(|d| d.name == "apps per minute").unwrap();
        assert!(!apm.regression && !apm.improvement, "4% is within the 10% threshold");
    }

    #[test]
    fn small_absolute_changes_stay_below_the_noise_floor() {
        // 200ms → 600ms is +200% but under the 1s floor.
        let d = compare(&report(600, 5.0), &report(200, 5.0), TH);
        assert!(!d.iter().find(|d| d.name == "executor pod running p99").unwrap().regression);
    }

    #[test]
    fn recorder_samples_pending_pods_and_nodes_per_group() {
        let mut r = Recorder::default();
        let ev = |t: u64, event| Record { t: Time(t), event };
        let node = |n: &str, g: &str| Event::NodeAdded {
            node: n.into(),
            group: g.into(),
            interruptible: false,
            labels: Default::default(),
            taints: vec![],
            cpu_millis: 1000,
            memory_bytes: 1,
            pods: 110,
            kubelet_version: None,
        };
        let pod = |p: &str| Event::PodCreated {
            pod: p.into(),
            app: None,
            role: None,
            component: None,
            node_selector: Default::default(),
            tolerations: vec![],
            cpu_millis: 1,
            memory_bytes: 1,
            priority: 0,
        };
        r.record(&ev(0, node("n1", "exec")));
        r.record(&ev(10_000, pod("p1")));
        r.record(&ev(20_000, pod("p2")));
        r.record(&ev(70_000, Event::PodScheduled { pod: "p1".into(), node: "n1".into() }));
        r.record(&ev(90_000, node("n2", "exec")));
        r.record(&ev(130_000, Event::NodeRemoved { node: "n1".into(), reason: "scale-down".into() }));
        r.record(&ev(130_000, Event::RunEnded { reason: "done".into() }));
        let at: Vec<(u64, u32, u32)> = r.timeline.iter().map(|s| (s.t_ms, s.pending_pods, s.nodes["exec"])).collect();
        assert_eq!(at, vec![(0, 0, 1), (60_000, 2, 1), (120_000, 1, 2)]);
        assert_eq!(r.peak_pending, (2, Time(20_000)));
        assert_eq!(r.peak_nodes["exec"], 2);
    }
}
