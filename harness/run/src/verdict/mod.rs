//! The verdict: expectations evaluated over a trace, each failure with its evidence.
//!
//! [`Evaluator`] is a trace [`Sink`]: it keeps the [`Facts`] every family reads (the trace
//! view, executor counts, latencies) and hands each record to one [`Check`] per expectation.
//! A family of expectations is one module behind that trait:
//!
//! | module | expectations |
//! |---|---|
//! | [`placement`] | `executors-only-on`, `drivers-only-on`, `drivers-never-on-interruptible`, `tolerations-respected` |
//! | [`states`] | `legal-transitions`, `states` (apps only ever in) |
//! | [`apps`] | final states, `reached`, `rejected` |
//! | [`pods`] | `saw`, `boundOutside`, pods still `Pending` |
//! | [`nodes`] | nodegroup sizes (peak, final) |
//! | [`slo`] | latency percentiles |
//! | [`recovery`] | progress after a fault is healed |
//! | [`upgrades`] | an upgrade completes within a bound, no app fails because of one, the webhook's rejection window |
//!
//! It reads nothing but the trace and the plan, so a saved trace gives the same verdict as the
//! live run (`sparkrig verdict`).

pub mod apps;
mod explain;
pub mod nodes;
pub mod placement;
pub mod pods;
pub mod recovery;
pub mod scheduled;
pub mod slo;
pub mod states;
pub mod upgrades;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sparkrig_model::appstate::AppState;
use sparkrig_model::podspec::SparkRole;
use sparkrig_model::scenario::{Expectation, Metric, Scenario};
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::{Event, PodPhase, Record, Sink, Text, TraceView};

use crate::metrics::{Figure, Metrics, Samples};

/// One fact supporting a result: which pod, app or node, when, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// When.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t: Option<Time>,
    /// App.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// What happened.
    pub detail: String,
}

impl Evidence {
    /// Evidence about nothing in particular (a count, a missing heal).
    pub fn general(detail: String) -> Evidence {
        Evidence { t: None, app: None, pod: None, node: None, detail }
    }

    /// Evidence about an app.
    pub fn app(t: Option<Time>, app: &str, detail: String) -> Evidence {
        Evidence { t, app: Some(app.to_string()), pod: None, node: None, detail }
    }
}

/// How one expectation (or the timeline) came out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// Label.
    pub name: String,
    /// `invariant`, `outcome`, `slo` or `timeline`.
    pub kind: String,
    /// Held.
    pub passed: bool,
    /// One-line summary.
    pub message: String,
    /// Evidence (the first violations; for passes, what was observed).
    pub evidence: Vec<Evidence>,
    /// Violations beyond the evidence shown.
    pub more: usize,
}

/// The verdict of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Scenario.
    pub scenario: String,
    /// Backend.
    pub backend: String,
    /// Seed.
    pub seed: Option<u64>,
    /// Why the run ended.
    pub ended: String,
    /// Every expectation held and every step succeeded.
    pub passed: bool,
    /// Faults the backend could not heal (`fault_heal_failed` with no later `fault_healed`),
    /// each with its error and the commands that restore it: the cluster is left broken, which
    /// is a harness failure (exit code 2), not an expectation's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unhealed: Vec<String>,
    /// Results, timeline first.
    pub results: Vec<Outcome>,
    /// Measurements.
    pub metrics: Metrics,
    /// The samples behind the latency summaries (benchmarks pool them over seeds).
    #[serde(skip)]
    pub samples: Samples,
}

/// Evidence items kept per expectation.
pub const EVIDENCE_LIMIT: usize = 5;

/// What one expectation has found so far: violations and the evidence shown for them.
#[derive(Debug, Default)]
pub struct Tally {
    /// Evidence, at most [`EVIDENCE_LIMIT`].
    pub evidence: Vec<Evidence>,
    /// Violations counted.
    pub violations: usize,
}

impl Tally {
    /// Counts a violation and keeps its evidence (while there is room).
    pub fn violate(&mut self, e: Evidence) {
        self.violations += 1;
        self.note(e);
    }

    /// Adds supporting evidence without counting a violation.
    pub fn note(&mut self, e: Evidence) {
        if self.evidence.len() < EVIDENCE_LIMIT {
            self.evidence.push(e);
        }
    }

    /// The usual result of an invariant: held, or how many times it did not.
    fn invariant(&self, held: &str) -> (bool, String) {
        if self.violations == 0 { (true, held.to_string()) } else { (false, format!("{} violation(s)", self.violations)) }
    }
}

/// One expectation, judged as the trace goes by.
pub trait Check: Send {
    /// An app changes state; `facts.view` still holds the state before.
    fn app_state(&mut self, _t: Time, _app: &str, _prev: AppState, _state: AppState, _message: &str, _tally: &mut Tally) {}
    /// A record, after the view applied it.
    fn record(&mut self, _rec: &Record, _facts: &Facts, _tally: &mut Tally) {}
    /// The result at the end of the trace: held, and a one-line summary.
    fn finish(&mut self, facts: &Facts, tally: &mut Tally) -> (bool, String);
}

/// What every family may read: the trace view and the measurements derived from it.
pub struct Facts {
    /// The cluster as the trace shows it (the full history of pods that failed).
    pub view: TraceView,
    /// Every app the scenario creates (`namespace/name`).
    pub plan_apps: BTreeSet<String>,
    /// Pods (current incarnation) that got a FailedScheduling.
    pub ever_unschedulable: BTreeSet<String>,
    /// When each app's first executor started running.
    pub first_executor: BTreeMap<Text, Time>,
    /// Per app: running executors now, and when it first reached its target.
    pub running_execs: BTreeMap<Text, (u32, Option<Time>)>,
    /// Operator submit and start latency per app, as the operator observes them.
    pub op_latency: BTreeMap<(Figure, String), Dur>,
    /// Nodes per group now, and the most at once.
    pub group_nodes: BTreeMap<String, (u32, u32)>,
    /// The Spark Operator's `spark.jobNamespaces` (None when the plan is unknown).
    pub job_namespaces: Option<Vec<String>>,
}

/// Builds the check for an expectation.
fn check_for(e: &Expectation) -> Box<dyn Check> {
    match e {
        Expectation::OnlyOn { .. } | Expectation::DriversNeverOnInterruptible | Expectation::TolerationsRespected => {
            Box::new(placement::Placement(e.clone()))
        }
        Expectation::LegalTransitions => Box::new(states::LegalTransitions),
        Expectation::StatesWithin { apps, states } => Box::new(states::StatesWithin { apps: apps.clone(), states: states.clone() }),
        Expectation::AppsEndIn { apps, states } => Box::new(apps::EndIn { apps: apps.clone(), states: states.clone() }),
        Expectation::AppsReached { apps, state } => Box::new(apps::Reached { apps: apps.clone(), state: *state }),
        Expectation::AppsRejected { apps } => Box::new(apps::Rejected { apps: apps.clone() }),
        Expectation::PodsSaw { .. } | Expectation::BoundOutside { .. } => Box::new(pods::Hits::new(e.clone())),
        Expectation::PodsPending { pods, reason } => Box::new(pods::Pending { pods: pods.clone(), reason: reason.clone() }),
        Expectation::GroupSize { group, peak, min, max } => {
            Box::new(nodes::GroupSize { group: group.clone(), peak: *peak, min: *min, max: *max })
        }
        Expectation::Slo { metric, pods, apps, quantile, bound } => Box::new(slo::Slo {
            metric: *metric,
            pods: pods.clone(),
            apps: apps.clone(),
            quantile: *quantile,
            bound: *bound,
            samples: Vec::new(),
        }),
        Expectation::Recovery { fault, within, apps } => Box::new(recovery::Recovery::new(fault.clone(), *within, apps.clone())),
        Expectation::ScheduledRuns { app, runs, skipped } => Box::new(scheduled::Runs { app: app.clone(), runs: *runs, skipped: *skipped }),
        Expectation::UpgradeCompletes { upgrade, within } => Box::new(upgrades::Completes::new(upgrade.clone(), *within)),
        Expectation::NoAppFailsBecauseOfUpgrade { upgrade, apps } => Box::new(upgrades::NoAppFails::new(upgrade.clone(), apps.clone())),
        Expectation::RejectionWindow { upgrade, min, max } => Box::new(upgrades::RejectionWindow::new(upgrade.clone(), *min, *max)),
    }
}

struct Entry {
    expectation: Expectation,
    check: Box<dyn Check>,
    tally: Tally,
}

/// Folds a trace into a verdict.
pub struct Evaluator {
    facts: Facts,
    checks: Vec<Entry>,
    scenario: String,
    backend: String,
    seed: Option<u64>,
    ended: String,
    failed_steps: Vec<Evidence>,
    /// Faults whose heal failed, by id: the error and the restore commands.
    unhealed: BTreeMap<String, String>,
    pods_created: usize,
    nodes_added: usize,
    /// Per-pod latency samples (app figures are derived at the end).
    samples: Samples,
    /// Judge every app the trace shows (apps created by clients of `sparkrig serve`), not
    /// only the scenario's.
    open: bool,
}

impl Evaluator {
    /// An evaluator for the plan's expectations.
    pub fn new(plan: &Scenario) -> Evaluator {
        let plan_apps = plan.generated_apps().iter().map(|a| format!("{}/{}", a.namespace(), a.metadata.name)).collect();
        let mut e = Evaluator::with(&plan.name, plan_apps, &plan.expectations);
        e.facts.job_namespaces = Some(plan.stack.operator.job_namespaces.clone());
        e
    }

    /// An evaluator for expectations over the apps a scenario creates.
    pub fn with(scenario: &str, plan_apps: BTreeSet<String>, expectations: &[Expectation]) -> Evaluator {
        Evaluator {
            checks: expectations.iter().map(|e| Entry { expectation: e.clone(), check: check_for(e), tally: Tally::default() }).collect(),
            facts: Facts {
                view: TraceView::default(),
                plan_apps,
                ever_unschedulable: BTreeSet::new(),
                first_executor: BTreeMap::new(),
                running_execs: BTreeMap::new(),
                op_latency: BTreeMap::new(),
                group_nodes: BTreeMap::new(),
                job_namespaces: None,
            },
            scenario: scenario.to_string(),
            backend: String::new(),
            seed: None,
            ended: String::new(),
            failed_steps: Vec::new(),
            unhealed: BTreeMap::new(),
            pods_created: 0,
            nodes_added: 0,
            samples: Samples::new(),
            open: false,
        }
    }

    /// An evaluator whose app expectations cover every app the trace shows: for a cluster whose
    /// workload its clients bring (`sparkrig serve --stack-only`).
    pub fn open(plan: &Scenario) -> Evaluator {
        let mut e = Evaluator { open: true, ..Evaluator::with(&plan.name, BTreeSet::new(), &plan.expectations) };
        e.facts.job_namespaces = Some(plan.stack.operator.job_namespaces.clone());
        e
    }

    fn on_record(&mut self, rec: &Record) {
        let facts = &mut self.facts;
        if self.open
            && let Event::AppCreated { app, .. } | Event::AppRejected { app, .. } = &rec.event
        {
            facts.plan_apps.insert(app.clone());
        }
        // A ScheduledSparkApplication's children are judged like the scenario's apps while
        // they exist (history pruning deletes old ones).
        match &rec.event {
            Event::AppCreated { app, scheduled_by: Some(_), .. } => {
                facts.plan_apps.insert(app.clone());
            }
            Event::AppDeleted { app } if facts.view.children.contains(app) => {
                facts.plan_apps.remove(app);
            }
            _ => {}
        }
        if let Event::AppState { app, state, message, submission_attempts, execution_attempts } = &rec.event {
            let prev = facts.view.apps.get(app).map_or(AppState::New, |a| a.state);
            for e in &mut self.checks {
                e.check.app_state(rec.t, app, prev, *state, message, &mut e.tally);
            }
            let figure = match state {
                AppState::Submitted if *submission_attempts == 1 => Some(Figure::SubmitLatency),
                AppState::Running if *execution_attempts == 1 => Some(Figure::StartLatency),
                _ => None,
            };
            if let (Some(f), Some(a)) = (figure, facts.view.apps.get(app)) {
                facts.op_latency.entry((f, app.clone())).or_insert(rec.t - a.created);
            }
        }
        facts.view.apply(rec);
        for e in &mut self.checks {
            e.check.record(rec, facts, &mut e.tally);
        }
        let t = rec.t;
        match &rec.event {
            Event::RunStarted { backend, seed, .. } => {
                self.backend = backend.clone();
                self.seed = *seed;
            }
            Event::RunEnded { reason } => self.ended = reason.clone(),
            Event::StepEnded { step, ok: false, message } => {
                self.failed_steps.push(Evidence { t: Some(t), ..Evidence::general(format!("step {}: {message}", step + 1)) })
            }
            Event::FaultHealFailed { fault, error, restore, .. } => {
                let restore =
                    if restore.is_empty() { String::new() } else { format!("; restore it with: {}", restore.replace('\n', " && ")) };
                let detail = format!("fault {fault} was not healed ({error}){restore}");
                self.failed_steps.push(Evidence { t: Some(t), ..Evidence::general(detail.clone()) });
                self.unhealed.insert(fault.clone(), detail);
            }
            Event::FaultHealed { fault, .. } => {
                self.unhealed.remove(fault);
            }
            Event::NodeAdded { group, .. } => {
                self.nodes_added += 1;
                let e = facts.group_nodes.entry(group.clone()).or_default();
                e.0 += 1;
                e.1 = e.1.max(e.0);
            }
            Event::NodeRemoved { node, .. } => {
                if let Some(e) = facts.view.nodes.get(node).and_then(|n| facts.group_nodes.get_mut(&n.group)) {
                    e.0 = e.0.saturating_sub(1);
                }
            }
            Event::PodCreated { pod, .. } => {
                self.pods_created += 1;
                facts.ever_unschedulable.remove(pod);
            }
            Event::PodUnschedulable { pod, .. } => {
                facts.ever_unschedulable.insert(pod.clone());
            }
            Event::PodScheduled { pod, .. } => {
                if let Some(p) = facts.view.pods.get(pod.as_str())
                    && let Some(role) = p.role
                {
                    let f = if role == SparkRole::Driver { Figure::DriverScheduling } else { Figure::ExecutorScheduling };
                    self.samples.entry(f).or_default().push(t - p.created);
                }
            }
            Event::PodRunning { pod } => self.on_running(t, pod),
            Event::PodTerminated { pod, .. } | Event::PodTerminating { pod, .. } => self.on_stopped(pod),
            Event::PodDeleted { pod, .. } => {
                self.on_stopped(pod);
                let facts = &mut self.facts;
                facts.ever_unschedulable.remove(pod);
                // Everything about a deleted pod is collected by now; keep it only while it can
                // still explain a failure (it failed). Long runs stay small.
                let failed = facts.view.pods.get(pod.as_str()).is_some_and(|p| matches!(p.ended, Some((_, PodPhase::Failed, ..))));
                if !failed {
                    facts.view.forget_pod(pod);
                }
            }
            _ => {}
        }
    }

    fn on_running(&mut self, t: Time, key: &str) {
        let facts = &mut self.facts;
        let Some(p) = facts.view.pods.get(key) else { return };
        if let Some(role) = p.role {
            let f = if role == SparkRole::Driver { Figure::DriverStartup } else { Figure::ExecutorStartup };
            self.samples.entry(f).or_default().push(t - p.created);
        }
        if p.role == Some(SparkRole::Executor)
            && let Some(app) = p.app.clone()
        {
            facts.first_executor.entry(app.clone()).or_insert(t);
            let target = facts.view.apps.get(&*app).map_or(0, |a| a.executors);
            let e = facts.running_execs.entry(app).or_insert((0, None));
            e.0 += 1;
            if e.1.is_none() && e.0 >= target.max(1) {
                e.1 = Some(t);
            }
        }
    }

    fn on_stopped(&mut self, key: &str) {
        let facts = &mut self.facts;
        let Some(p) = facts.view.pods.get(key) else { return };
        // Count each running executor down once, at its first stop signal.
        let first_stop =
            p.running.is_some() && [p.ended.is_some(), p.terminating.is_some(), p.deleted.is_some()].iter().filter(|x| **x).count() == 1;
        if p.role == Some(SparkRole::Executor)
            && first_stop
            && let Some(e) = p.app.as_ref().and_then(|a| facts.running_execs.get_mut(a))
        {
            e.0 = e.0.saturating_sub(1);
        }
    }

    /// Evaluates outcomes and SLOs and returns the verdict.
    pub fn finish(mut self) -> Verdict {
        let (metrics, samples) = self.metrics();
        let mut results = Vec::new();
        results.push(Outcome {
            name: "timeline".into(),
            kind: "timeline".into(),
            passed: self.failed_steps.is_empty(),
            message: if !self.unhealed.is_empty() {
                format!("{} fault(s) left unhealed: the cluster is left broken", self.unhealed.len())
            } else if self.failed_steps.is_empty() {
                format!("every step completed ({})", self.ended)
            } else {
                "a step failed".into()
            },
            more: 0,
            evidence: std::mem::take(&mut self.failed_steps),
        });
        for mut e in std::mem::take(&mut self.checks) {
            let (passed, message) = e.check.finish(&self.facts, &mut e.tally);
            let t = e.tally;
            let shown = t.evidence.iter().filter(|e| e.pod.is_none() || t.violations > 0).count().min(t.violations);
            results.push(Outcome {
                name: e.expectation.label(),
                kind: e.expectation.kind().to_string(),
                passed,
                message,
                more: t.violations.saturating_sub(shown),
                evidence: t.evidence,
            });
        }
        Verdict {
            scenario: self.scenario,
            backend: self.backend,
            seed: self.seed,
            ended: self.ended,
            passed: results.iter().all(|r| r.passed),
            unhealed: std::mem::take(&mut self.unhealed).into_values().collect(),
            results,
            metrics,
            samples,
        }
    }

    fn metrics(&self) -> (Metrics, Samples) {
        let view = &self.facts.view;
        let mut by_state = BTreeMap::new();
        for a in view.apps.values() {
            *by_state.entry(a.state.to_string()).or_default() += 1;
        }
        if !view.rejected.is_empty() {
            by_state.insert("REJECTED".into(), view.rejected.len());
        }
        let all = sparkrig_model::scenario::AppSel::All;
        let mut samples = self.samples.clone();
        for (f, m) in [
            (Figure::SubmitLatency, Metric::SubmitLatency),
            (Figure::StartLatency, Metric::StartLatency),
            (Figure::TimeToFirstExecutor, Metric::TimeToFirstExecutor),
            (Figure::TimeToAllExecutors, Metric::TimeToAllExecutors),
            (Figure::AppTurnaround, Metric::AppTurnaround),
        ] {
            samples.insert(f, slo::app_samples(&self.facts, m, &all));
        }
        let metrics = Metrics {
            latency: Metrics::summarise(&samples),
            apps_by_state: by_state,
            pods_created: self.pods_created,
            nodes_added: self.nodes_added,
            duration: view.now - Time::ZERO,
        };
        (metrics, samples)
    }
}

impl Sink for Evaluator {
    fn record(&mut self, rec: &Record) {
        self.on_record(rec);
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Hand-written traces for the family tests.

    use super::*;
    use sparkrig_model::kube::Labels;
    use sparkrig_model::trace::PodPhase;

    /// Judges one expectation over records (apps `default/a` and `default/b` are the plan's).
    pub fn judge(e: Expectation, records: &[Record]) -> Outcome {
        let apps = ["default/a", "default/b"].map(String::from).into();
        let mut ev = Evaluator::with("t", apps, &[e]);
        for r in records {
            ev.record(r);
        }
        ev.finish().results.remove(1)
    }

    /// A record at `secs`.
    pub fn at(secs: u64, event: Event) -> Record {
        Record { t: Time(secs * 1000), event }
    }

    /// A node of a group (interruptible or not) with a taint `key=value:NoSchedule`.
    pub fn node(name: &str, group: &str, interruptible: bool, taint: Option<(&str, &str)>) -> Event {
        Event::NodeAdded {
            node: name.into(),
            group: group.into(),
            interruptible,
            labels: Labels::new(),
            taints: taint
                .map(|(k, v)| vec![sparkrig_model::kube::Taint::new(k, v, sparkrig_model::kube::TaintEffect::NoSchedule)])
                .unwrap_or_default(),
            cpu_millis: 8000,
            memory_bytes: 32 << 30,
            pods: 110,
            kubelet_version: None,
        }
    }

    /// A Spark pod of an app.
    pub fn spark_pod(pod: &str, app: &str, role: SparkRole) -> Event {
        Event::PodCreated {
            pod: pod.into(),
            app: Some(app.into()),
            role: Some(role),
            component: None,
            node_selector: Labels::new(),
            tolerations: vec![],
            cpu_millis: 1000,
            memory_bytes: 1 << 30,
            priority: 0,
        }
    }

    /// An app state change.
    pub fn state(app: &str, state: AppState, message: &str) -> Event {
        Event::AppState { app: app.into(), state, message: message.into(), submission_attempts: 1, execution_attempts: 1 }
    }

    /// A pod ending.
    pub fn ended(pod: &str, code: i32, reason: &str, message: &str) -> Event {
        Event::PodTerminated {
            pod: pod.into(),
            phase: if code == 0 { PodPhase::Succeeded } else { PodPhase::Failed },
            exit_code: Some(code),
            reason: reason.into(),
            message: message.into(),
        }
    }
}
