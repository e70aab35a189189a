//! The verdict: expectations evaluated over a trace, each failure with its evidence.
//!
//! [`Evaluator`] is a trace [`Sink`]: invariants are checked as each record arrives, outcomes
//! and SLOs when [`Evaluator::finish`] is called. It reads nothing but the trace and the plan,
//! so a saved trace gives the same verdict as the live run (`sparkrig verdict`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sparkrig_model::appstate::AppState;
use sparkrig_model::kube::untolerated_taint;
use sparkrig_model::podspec::SparkRole;
use sparkrig_model::scenario::{Expectation, Metric, Scenario};
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::{Event, PodPhase, PodView, Record, Sink, Text, TraceView};

use crate::metrics::{Figure, Metrics, Samples, percentile};

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
    /// Results, timeline first.
    pub results: Vec<Outcome>,
    /// Measurements.
    pub metrics: Metrics,
    /// The samples behind the latency summaries (benchmarks pool them over seeds).
    #[serde(skip)]
    pub samples: Samples,
}

/// Evidence items kept per expectation.
const EVIDENCE_LIMIT: usize = 5;

struct Check {
    expectation: Expectation,
    evidence: Vec<Evidence>,
    violations: usize,
    /// Pods that satisfied a `saw` / `boundOutside` outcome, with an example each.
    hits: BTreeMap<String, Evidence>,
    /// Recovery: per heal, the apps still unfinished then and when each first progressed.
    heals: Vec<(Time, BTreeMap<String, Option<Time>>)>,
    /// Recovery: executors started after a heal, credited once they have run for
    /// [`PROGRESS_HOLD`]: (app, pod, started).
    starts: Vec<(Text, Text, Time)>,
}

/// An executor that keeps running this long has registered with its driver and is taking tasks.
const PROGRESS_HOLD: Dur = Dur::secs(30);

impl Check {
    fn violate(&mut self, e: Evidence) {
        self.violations += 1;
        self.note(e);
    }

    /// Adds supporting evidence without counting a violation.
    fn note(&mut self, e: Evidence) {
        if self.evidence.len() < EVIDENCE_LIMIT {
            self.evidence.push(e);
        }
    }
}

/// Folds a trace into a verdict.
pub struct Evaluator {
    plan_apps: BTreeSet<String>,
    checks: Vec<Check>,
    view: TraceView,
    scenario: String,
    backend: String,
    seed: Option<u64>,
    ended: String,
    failed_steps: Vec<Evidence>,
    pods_created: usize,
    nodes_added: usize,
    /// Per-pod latency samples (app figures are derived from the view at the end).
    samples: Samples,
    /// Operator submit and start latency per app, recorded as the operator observes them.
    op_latency: BTreeMap<(Figure, String), Dur>,
    /// Per pod key: (role, app) for pods currently selected by a pod SLO, with its samples.
    slo_samples: Vec<Vec<Dur>>,
    /// Per app: running executors now, and when it first reached its target.
    running_execs: BTreeMap<Text, (u32, Option<Time>)>,
    /// When each app's first executor started running.
    first_executor: BTreeMap<Text, Time>,
    /// Pods (current incarnation) that got a FailedScheduling.
    ever_unschedulable: std::collections::BTreeSet<String>,
    /// Nodes per group now, and the most at once.
    group_nodes: BTreeMap<String, (u32, u32)>,
}

impl Evaluator {
    /// An evaluator for the plan's expectations.
    pub fn new(plan: &Scenario) -> Evaluator {
        let plan_apps = plan.generated_apps().iter().map(|a| format!("{}/{}", a.namespace(), a.metadata.name)).collect();
        let checks: Vec<Check> = plan
            .expectations
            .iter()
            .map(|e| Check {
                expectation: e.clone(),
                evidence: vec![],
                violations: 0,
                hits: BTreeMap::new(),
                heals: Vec::new(),
                starts: Vec::new(),
            })
            .collect();
        Evaluator {
            plan_apps,
            slo_samples: vec![Vec::new(); checks.len()],
            checks,
            view: TraceView::default(),
            scenario: plan.name.clone(),
            backend: String::new(),
            seed: None,
            ended: String::new(),
            failed_steps: Vec::new(),
            pods_created: 0,
            nodes_added: 0,
            samples: Samples::new(),
            op_latency: BTreeMap::new(),
            running_execs: BTreeMap::new(),
            first_executor: BTreeMap::new(),
            ever_unschedulable: Default::default(),
            group_nodes: Default::default(),
        }
    }

    fn on_record(&mut self, rec: &Record) {
        if let Event::AppState { app, state, message, submission_attempts, execution_attempts } = &rec.event {
            self.on_app_state(rec.t, app, *state, message);
            let figure = match state {
                AppState::Submitted if *submission_attempts == 1 => Some(Figure::SubmitLatency),
                AppState::Running if *execution_attempts == 1 => Some(Figure::StartLatency),
                _ => None,
            };
            if let (Some(f), Some(a)) = (figure, self.view.apps.get(app)) {
                self.op_latency.entry((f, app.clone())).or_insert(rec.t - a.created);
            }
        }
        self.view.apply(rec);
        let t = rec.t;
        self.credit_starts(t, false);
        self.collect_hits(rec);
        match &rec.event {
            Event::RunStarted { backend, seed, .. } => {
                self.backend = backend.clone();
                self.seed = *seed;
            }
            Event::RunEnded { reason } => self.ended = reason.clone(),
            Event::StepEnded { step, ok: false, message } => self.failed_steps.push(Evidence {
                t: Some(t),
                app: None,
                pod: None,
                node: None,
                detail: format!("step {}: {message}", step + 1),
            }),
            Event::NodeAdded { group, .. } => {
                self.nodes_added += 1;
                let e = self.group_nodes.entry(group.clone()).or_default();
                e.0 += 1;
                e.1 = e.1.max(e.0);
            }
            Event::NodeRemoved { node, .. } => {
                if let Some(e) = self.view.nodes.get(node).and_then(|n| self.group_nodes.get_mut(&n.group)) {
                    e.0 = e.0.saturating_sub(1);
                }
            }
            Event::PodCreated { pod, .. } => {
                self.pods_created += 1;
                self.ever_unschedulable.remove(pod);
            }
            Event::PodUnschedulable { pod, .. } => {
                self.ever_unschedulable.insert(pod.clone());
            }
            Event::PodScheduled { pod, node } => self.on_scheduled(t, pod, node),
            Event::PodRunning { pod } => self.on_running(t, pod),
            Event::PodTerminated { pod, .. } | Event::PodTerminating { pod, .. } => self.on_stopped(pod),
            Event::PodDeleted { pod, .. } => {
                self.on_stopped(pod);
                self.ever_unschedulable.remove(pod);
                // Everything about a deleted pod is collected by now; keep it only while it can
                // still explain a failure (it failed). Long runs stay small.
                let failed = self.view.pods.get(pod.as_str()).is_some_and(|p| matches!(p.ended, Some((_, PodPhase::Failed, ..))));
                if !failed {
                    self.view.forget_pod(pod);
                }
            }
            _ => {}
        }
    }

    /// Transition and state-path invariants, and recovery progress, before the view moves on.
    fn on_app_state(&mut self, t: Time, app: &str, state: AppState, message: &str) {
        let prev = self.view.apps.get(app).map_or(AppState::New, |a| a.state);
        let ev = |detail: String| Evidence { t: Some(t), app: Some(app.to_string()), pod: None, node: None, detail };
        for c in &mut self.checks {
            match &c.expectation {
                Expectation::LegalTransitions if prev != state && !prev.can_become(state) => {
                    c.violate(ev(format!("illegal transition {prev} → {state}")));
                }
                Expectation::StatesWithin { apps, states } if apps.matches(app) && !states.contains(&state) => {
                    let why = if message.is_empty() { String::new() } else { format!(": {message}") };
                    c.violate(ev(format!("entered {state} (from {prev}){why}")));
                }
                Expectation::Recovery { .. } if matches!(state, AppState::Succeeding | AppState::Completed) => {
                    for (_, apps) in &mut c.heals {
                        if let Some(slot @ None) = apps.get_mut(app) {
                            *slot = Some(t);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Evidence for `saw`, `boundOutside` and recovery, gathered as records arrive (pods are
    /// recreated under the same name, so the final view alone would lose it).
    fn collect_hits(&mut self, rec: &Record) {
        let t = rec.t;
        let (key, text, node): (&str, String, Option<&str>) = match &rec.event {
            Event::PodWaiting { pod, reason, message } => (pod, format!("{reason}: {message}"), None),
            Event::PodUnschedulable { pod, message } => (pod, message.clone(), None),
            Event::PodTerminated { pod, reason, message, exit_code, .. } => {
                (pod, format!("exit {} {reason}: {message}", exit_code.map_or("?".into(), |c| c.to_string())), None)
            }
            Event::PodCreateFailed { pod, message, .. } => (pod, format!("create failed: {message}"), None),
            Event::PodTerminating { pod, reason } => (pod, format!("terminating: {reason}"), None),
            Event::PodScheduled { pod, node } => (pod, String::new(), Some(node.as_str())),
            Event::PodRunning { pod } => (pod, String::new(), None),
            Event::FaultHealed { fault, .. } => {
                let unfinished: BTreeMap<String, Option<Time>> =
                    self.view.apps.iter().filter(|(_, a)| !a.state.is_terminal()).map(|(k, _)| (k.clone(), None)).collect();
                for c in &mut self.checks {
                    if let Expectation::Recovery { fault: f, apps, .. } = &c.expectation
                        && f == fault
                    {
                        c.heals.push((t, unfinished.iter().filter(|(k, _)| apps.matches(k)).map(|(k, v)| (k.clone(), *v)).collect()));
                    }
                }
                return;
            }
            _ => return,
        };
        let created_pod = self.view.pods.get(key);
        if let (Event::PodRunning { .. }, Some(p)) = (&rec.event, created_pod)
            && p.role == Some(SparkRole::Executor)
            && let Some(app) = &p.app
        {
            for c in &mut self.checks {
                if c.heals.iter().any(|(_, apps)| apps.get(&**app) == Some(&None)) {
                    c.starts.push((app.clone(), Text::from(key), t));
                }
            }
        }
        for c in &mut self.checks {
            let hit = match (&c.expectation, created_pod) {
                (Expectation::PodsSaw { pods, text: want, .. }, Some(p)) if pods.matches(key, p) && text.contains(want.as_str()) => {
                    Some(text.clone())
                }
                (Expectation::PodsSaw { pods, text: want, .. }, None)
                    if matches!(rec.event, Event::PodCreateFailed { .. })
                        && pod_name_selected(pods, key)
                        && text.contains(want.as_str()) =>
                {
                    Some(text.clone())
                }
                (Expectation::BoundOutside { pods, groups, .. }, Some(p)) if pods.matches(key, p) => {
                    let group = node.and_then(|n| self.view.nodes.get(n)).map(|n| n.group.clone());
                    group.filter(|g| !groups.contains(g)).map(|g| format!("bound to {} in nodegroup {g}", node.unwrap_or("?")))
                }
                _ => None,
            };
            if let Some(detail) = hit {
                // One entry per pod incarnation: drivers are recreated under the same name.
                let incarnation = format!("{key}@{}", created_pod.map_or(0, |p| p.created.as_ms()));
                c.hits.entry(incarnation).or_insert(Evidence {
                    t: Some(t),
                    app: created_pod.and_then(|p| p.app.as_deref().map(String::from)),
                    pod: Some(key.to_string()),
                    node: node.map(String::from),
                    detail,
                });
            }
        }
    }

    /// Credits executors that have kept running for [`PROGRESS_HOLD`] (or, at the end of the
    /// run, are still running) as progress at their start; drops those that stopped.
    fn credit_starts(&mut self, now: Time, at_end: bool) {
        let view = &self.view;
        for c in &mut self.checks {
            if c.starts.is_empty() {
                continue;
            }
            let mut keep = Vec::new();
            for (app, pod, started) in std::mem::take(&mut c.starts) {
                let alive = view
                    .pods
                    .get(&*pod)
                    .is_some_and(|p| p.running == Some(started) && p.ended.is_none() && p.terminating.is_none() && p.deleted.is_none());
                if !alive {
                    continue;
                }
                if at_end || now - started >= PROGRESS_HOLD {
                    for (healed, apps) in &mut c.heals {
                        if started >= *healed
                            && let Some(slot @ None) = apps.get_mut(&*app)
                        {
                            *slot = Some(started);
                        }
                    }
                } else {
                    keep.push((app, pod, started));
                }
            }
            c.starts = keep;
        }
    }

    fn on_scheduled(&mut self, t: Time, pod: &str, node: &str) {
        let Some(p) = self.view.pods.get(pod) else { return };
        if let Some(role) = p.role {
            let f = if role == SparkRole::Driver { Figure::DriverScheduling } else { Figure::ExecutorScheduling };
            self.samples.entry(f).or_default().push(t - p.created);
        }
        let Some(n) = self.view.nodes.get(node) else { return };
        let ev = |detail: String| Evidence {
            t: Some(t),
            app: p.app.as_deref().map(String::from),
            pod: Some(pod.to_string()),
            node: Some(node.to_string()),
            detail,
        };
        for c in &mut self.checks {
            match &c.expectation {
                Expectation::OnlyOn { role, groups, apps }
                    if p.role == Some(*role) && !groups.contains(&n.group) && p.app.as_ref().is_some_and(|a| apps.matches(a)) =>
                {
                    c.violate(ev(format!(
                        "{} scheduled on {node} in nodegroup {} (allowed: {})",
                        role.as_str(),
                        n.group,
                        groups.join(", ")
                    )))
                }
                Expectation::DriversNeverOnInterruptible if p.role == Some(SparkRole::Driver) && n.interruptible => {
                    c.violate(ev(format!("driver scheduled on interruptible node {node} (nodegroup {})", n.group)))
                }
                Expectation::TolerationsRespected => {
                    if let Some(taint) = untolerated_taint(&n.taints, &p.tolerations) {
                        c.violate(ev(format!("bound to {node} despite untolerated taint {taint}")));
                    }
                }
                _ => {}
            }
        }
    }

    fn on_running(&mut self, t: Time, key: &str) {
        let Some(p) = self.view.pods.get(key) else { return };
        let latency = t - p.created;
        if let Some(role) = p.role {
            let f = if role == SparkRole::Driver { Figure::DriverStartup } else { Figure::ExecutorStartup };
            self.samples.entry(f).or_default().push(latency);
        }
        for (i, c) in self.checks.iter().enumerate() {
            let Expectation::Slo { metric, pods, .. } = &c.expectation else { continue };
            if !pods.matches(key, p) {
                continue;
            }
            match (metric, &p.scheduled) {
                (Metric::PodStartupLatency, _) => self.slo_samples[i].push(latency),
                (Metric::SchedulablePodStartupLatency, _) if !self.ever_unschedulable.contains(key) => self.slo_samples[i].push(latency),
                (Metric::PodSchedulingLatency, Some((st, _))) => self.slo_samples[i].push(*st - p.created),
                _ => {}
            }
        }
        if p.role == Some(SparkRole::Executor)
            && let Some(app) = p.app.clone()
        {
            self.first_executor.entry(app.clone()).or_insert(t);
            let target = self.view.apps.get(&*app).map_or(0, |a| a.executors);
            let e = self.running_execs.entry(app).or_insert((0, None));
            e.0 += 1;
            if e.1.is_none() && e.0 >= target.max(1) {
                e.1 = Some(t);
            }
        }
    }

    fn on_stopped(&mut self, key: &str) {
        let Some(p) = self.view.pods.get(key) else { return };
        // Count each running executor down once, at its first stop signal.
        let first_stop =
            p.running.is_some() && [p.ended.is_some(), p.terminating.is_some(), p.deleted.is_some()].iter().filter(|x| **x).count() == 1;
        if p.role == Some(SparkRole::Executor)
            && first_stop
            && let Some(e) = p.app.as_ref().and_then(|a| self.running_execs.get_mut(a))
        {
            e.0 = e.0.saturating_sub(1);
        }
    }

    /// Evaluates outcomes and SLOs and returns the verdict.
    pub fn finish(mut self) -> Verdict {
        self.credit_starts(self.view.now, true);
        let (metrics, samples) = self.metrics();
        let mut results = Vec::new();
        results.push(Outcome {
            name: "timeline".into(),
            kind: "timeline".into(),
            passed: self.failed_steps.is_empty(),
            message: if self.failed_steps.is_empty() { format!("every step completed ({})", self.ended) } else { "a step failed".into() },
            more: 0,
            evidence: std::mem::take(&mut self.failed_steps),
        });
        let checks = std::mem::take(&mut self.checks);
        for (i, mut c) in checks.into_iter().enumerate() {
            let label = c.expectation.label();
            let kind = c.expectation.kind().to_string();
            let expectation = c.expectation.clone();
            let (passed, message) = match &expectation {
                Expectation::OnlyOn { .. } | Expectation::DriversNeverOnInterruptible | Expectation::TolerationsRespected => {
                    if c.violations == 0 {
                        (true, "held at every scheduling decision".into())
                    } else {
                        (false, format!("{} violation(s)", c.violations))
                    }
                }
                Expectation::LegalTransitions | Expectation::StatesWithin { .. } => {
                    if c.violations == 0 {
                        (true, "held at every state change".into())
                    } else {
                        (false, format!("{} violation(s)", c.violations))
                    }
                }
                Expectation::AppsReached { apps, state } => self.check_reached(&mut c, apps, *state),
                Expectation::GroupSize { group, peak, min, max } => {
                    let (now, most) = self.group_nodes.get(group).copied().unwrap_or_default();
                    let n = if *peak { most } else { now };
                    let ok = min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m);
                    if !ok {
                        c.violate(Evidence {
                            t: None,
                            app: None,
                            pod: None,
                            node: None,
                            detail: format!("{group} had {n} node(s) {}", if *peak { "at its peak" } else { "at the end" }),
                        });
                    }
                    (ok, format!("{group}: {n} node(s) {} (peak {most}, end {now})", if *peak { "at peak" } else { "at the end" }))
                }
                Expectation::AppsRejected { apps } => {
                    let mut total = 0;
                    for app in self.plan_apps.iter().filter(|a| apps.matches(a)) {
                        total += 1;
                        match (self.view.rejected.get(app), self.view.apps.get(app)) {
                            (Some((t, msg)), _) => {
                                c.note(Evidence { t: Some(*t), app: Some(app.clone()), pod: None, node: None, detail: msg.clone() })
                            }
                            (None, Some(a)) => c.violate(Evidence {
                                t: Some(a.created),
                                app: Some(app.clone()),
                                pod: None,
                                node: None,
                                detail: format!("was created (ended {})", a.state),
                            }),
                            (None, None) => c.violate(Evidence {
                                t: None,
                                app: Some(app.clone()),
                                pod: None,
                                node: None,
                                detail: "never attempted".into(),
                            }),
                        }
                    }
                    if c.violations == 0 {
                        c.evidence.truncate(1);
                        (true, format!("{total} app(s) rejected at creation"))
                    } else {
                        c.evidence.retain(|e| !e.detail.contains("failed calling webhook"));
                        (false, format!("{}/{total} app(s) were not rejected", c.violations))
                    }
                }
                Expectation::PodsSaw { pods, text, min } => {
                    let n = c.hits.len();
                    let ok = n >= *min as usize;
                    c.evidence.extend(c.hits.values().take(EVIDENCE_LIMIT).cloned());
                    if !ok && n == 0 {
                        c.violate(Evidence {
                            t: None,
                            app: None,
                            pod: None,
                            node: None,
                            detail: format!("no {pods} pod showed \"{text}\""),
                        });
                    }
                    (ok, format!("{n} {pods} pod(s) showed \"{text}\" (at least {min} expected)"))
                }
                Expectation::BoundOutside { pods, groups, min } => {
                    let n = c.hits.len();
                    let ok = n >= *min as usize;
                    c.evidence.extend(c.hits.values().take(EVIDENCE_LIMIT).cloned());
                    if !ok && n == 0 {
                        c.violate(Evidence {
                            t: None,
                            app: None,
                            pod: None,
                            node: None,
                            detail: format!("every {pods} pod stayed within {}", groups.join(", ")),
                        });
                    }
                    (ok, format!("{n} {pods} pod(s) bound outside {} (at least {min} expected)", groups.join(", ")))
                }
                Expectation::Recovery { fault, within, .. } => self.check_recovery(&mut c, fault, *within),
                Expectation::AppsEndIn { apps, states } => self.check_final_states(&mut c, apps, states),
                Expectation::PodsPending { pods, reason } => self.check_pending(&mut c, pods, reason.as_deref()),
                Expectation::Slo { metric, apps, quantile, bound, .. } => {
                    let mut samples =
                        if metric.per_pod() { std::mem::take(&mut self.slo_samples[i]) } else { self.app_samples(*metric, apps) };
                    samples.sort_unstable();
                    match percentile(&samples, *quantile) {
                        None => (false, "no samples: nothing to measure".into()),
                        Some(v) => {
                            let ok = v <= *bound;
                            let detail = format!("observed {v} over {} sample(s) (bound {bound})", samples.len());
                            (ok, detail)
                        }
                    }
                }
            };
            let shown = c.evidence.iter().filter(|e| e.pod.is_none() || c.violations > 0).count().min(c.violations);
            results.push(Outcome { name: label, kind, passed, message, more: c.violations.saturating_sub(shown), evidence: c.evidence });
        }
        Verdict {
            scenario: self.scenario,
            backend: self.backend,
            seed: self.seed,
            ended: self.ended,
            passed: results.iter().all(|r| r.passed),
            results,
            metrics,
            samples,
        }
    }

    fn check_final_states(&self, c: &mut Check, apps: &sparkrig_model::scenario::AppSel, states: &[AppState]) -> (bool, String) {
        let want = states.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("|");
        let mut total = 0;
        for app in self.plan_apps.iter().filter(|a| apps.matches(a)) {
            total += 1;
            match self.view.apps.get(app) {
                Some(a) if states.contains(&a.state) => {}
                Some(a) => {
                    let mut detail = format!("ended {} (expected {want})", a.state);
                    if !a.message.is_empty() {
                        detail.push_str(&format!(": {}", a.message));
                    }
                    c.violate(Evidence {
                        t: Some(a.history.last().map_or(a.created, |h| h.0)),
                        app: Some(app.clone()),
                        pod: None,
                        node: None,
                        detail,
                    });
                    for e in self.explain_app(app) {
                        c.note(e);
                    }
                }
                None => {
                    let detail = match self.view.rejected.get(app) {
                        Some((_, msg)) => format!("never created: the API server rejected it: {msg}"),
                        None => "never created (the run ended first)".into(),
                    };
                    let t = self.view.rejected.get(app).map(|(t, _)| *t);
                    c.violate(Evidence { t, app: Some(app.clone()), pod: None, node: None, detail });
                }
            }
        }
        if c.violations == 0 {
            (true, format!("{total} app(s) ended {want}"))
        } else {
            (false, format!("{}/{total} app(s) did not end {want}", c.violations))
        }
    }

    fn check_reached(&self, c: &mut Check, apps: &sparkrig_model::scenario::AppSel, state: AppState) -> (bool, String) {
        let mut total = 0;
        for app in self.plan_apps.iter().filter(|a| apps.matches(a)) {
            total += 1;
            match self.view.apps.get(app) {
                Some(a) if a.reached(state) => {}
                Some(a) => {
                    let path: Vec<String> = a.history.iter().map(|(_, s)| s.to_string()).collect();
                    c.violate(Evidence {
                        t: None,
                        app: Some(app.clone()),
                        pod: None,
                        node: None,
                        detail: format!("never {state}; states: {}", path.join(" → ")),
                    });
                }
                None => c.violate(Evidence { t: None, app: Some(app.clone()), pod: None, node: None, detail: "never created".into() }),
            }
        }
        if c.violations == 0 {
            (true, format!("{total} app(s) reached {state}"))
        } else {
            (false, format!("{}/{total} app(s) never reached {state}", c.violations))
        }
    }

    fn check_recovery(&self, c: &mut Check, fault: &str, within: Dur) -> (bool, String) {
        if c.heals.is_empty() {
            c.violate(Evidence { t: None, app: None, pod: None, node: None, detail: format!("fault {fault} was never healed") });
            return (false, format!("{fault} was never healed"));
        }
        let mut worst = Dur::ZERO;
        let mut apps = 0;
        for (healed, progress) in std::mem::take(&mut c.heals) {
            for (app, at) in progress {
                apps += 1;
                match at {
                    Some(t) if t - healed <= within => worst = worst.max(t - healed),
                    Some(t) => c.violate(Evidence {
                        t: Some(t),
                        app: Some(app),
                        pod: None,
                        node: None,
                        detail: format!("first progressed {} after {fault} was healed at {healed}", t - healed),
                    }),
                    None => {
                        let mut e = Evidence {
                            t: Some(healed),
                            app: Some(app.clone()),
                            pod: None,
                            node: None,
                            detail: format!("no progress after {fault} was healed"),
                        };
                        if let Some(state) = self.view.apps.get(&app).map(|a| a.state) {
                            e.detail.push_str(&format!(" (still {state})"));
                        }
                        c.violate(e);
                        for x in self.explain_app(&app) {
                            c.note(x);
                        }
                    }
                }
            }
        }
        if c.violations == 0 {
            (true, format!("{apps} unfinished app(s) progressed (an executor at work, or done) within {worst} of the heal"))
        } else {
            (false, format!("{} of {apps} unfinished app(s) did not progress within {within}", c.violations))
        }
    }

    /// Why an app is stuck or failed: its pods that are Pending (with the scheduler's reason),
    /// waiting, or failed.
    fn explain_app(&self, app: &str) -> Vec<Evidence> {
        let Some(a) = self.view.apps.get(app) else { return vec![] };
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for key in a.pods.iter().rev() {
            if !seen.insert(key) || out.len() >= 3 {
                continue;
            }
            let Some(p) = self.view.pods.get(key) else { continue };
            if let Some(e) = pod_explanation(key, p, &self.view) {
                out.push(e);
            }
        }
        out
    }

    fn check_pending(&self, c: &mut Check, pods: &sparkrig_model::scenario::PodSel, reason: Option<&str>) -> (bool, String) {
        let selected: Vec<(&Text, &PodView)> = self.view.pods.iter().filter(|(k, p)| p.deleted.is_none() && pods.matches(k, p)).collect();
        if selected.is_empty() {
            c.violate(Evidence { t: None, app: None, pod: None, node: None, detail: format!("no {pods} pods exist at the end") });
            return (false, format!("no {pods} pods to check"));
        }
        let mut example = None;
        for (k, p) in &selected {
            let msg = p.unschedulable.as_ref().map(|(_, m)| &**m);
            let ok = p.is_pending() && reason.is_none_or(|r| msg.is_some_and(|m| m.contains(r)));
            let ev = Evidence {
                t: p.unschedulable.as_ref().map(|(t, _)| *t).or(Some(p.created)),
                app: p.app.as_deref().map(String::from),
                pod: Some(k.to_string()),
                node: p.node().map(String::from),
                detail: match (p.is_pending(), msg) {
                    (true, Some(m)) => format!("Pending: {m}"),
                    (true, None) => "Pending (no scheduling failure recorded)".into(),
                    (false, _) => format!("is {} on {}", p.phase(), p.node().unwrap_or("-")),
                },
            };
            if ok {
                example.get_or_insert(ev);
            } else {
                c.violate(ev);
            }
        }
        if c.violations == 0 {
            c.evidence.extend(example);
            (true, format!("{} {pods} pod(s) Pending at the end", selected.len()))
        } else {
            (false, format!("{}/{} {pods} pod(s) not Pending as expected", c.violations, selected.len()))
        }
    }

    fn app_samples(&self, metric: Metric, apps: &sparkrig_model::scenario::AppSel) -> Vec<Dur> {
        self.view
            .apps
            .iter()
            .filter(|(k, _)| apps.matches(k))
            .filter_map(|(k, a)| match metric {
                Metric::AppTurnaround => a.history.iter().find(|(_, s)| s.is_terminal()).map(|(t, _)| *t - a.created),
                Metric::TimeToFirstExecutor => self.first_executor.get(k.as_str()).map(|t| *t - a.created),
                Metric::TimeToAllExecutors => self.running_execs.get(k.as_str()).and_then(|e| e.1).map(|t| t - a.created),
                Metric::SubmitLatency => self.op_latency.get(&(Figure::SubmitLatency, k.clone())).copied(),
                Metric::StartLatency => self.op_latency.get(&(Figure::StartLatency, k.clone())).copied(),
                Metric::PodStartupLatency | Metric::SchedulablePodStartupLatency | Metric::PodSchedulingLatency => None,
            })
            .collect()
    }

    fn metrics(&self) -> (Metrics, Samples) {
        let mut by_state = BTreeMap::new();
        for a in self.view.apps.values() {
            *by_state.entry(a.state.to_string()).or_default() += 1;
        }
        if !self.view.rejected.is_empty() {
            by_state.insert("REJECTED".into(), self.view.rejected.len());
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
            samples.insert(f, self.app_samples(m, &all));
        }
        let metrics = Metrics {
            latency: Metrics::summarise(&samples),
            apps_by_state: by_state,
            pods_created: self.pods_created,
            nodes_added: self.nodes_added,
            duration: self.view.now - Time::ZERO,
        };
        (metrics, samples)
    }
}

/// One line on what a pod is doing wrong, if anything.
fn pod_explanation(key: &str, p: &PodView, view: &TraceView) -> Option<Evidence> {
    let ev = |t: Time, detail: String| Evidence {
        t: Some(t),
        app: p.app.as_deref().map(String::from),
        pod: Some(key.to_string()),
        node: p.node().map(String::from),
        detail,
    };
    if let Some((t, PodPhase::Failed, code, reason, message)) = &p.ended {
        let code = code.map_or("?".into(), |c| c.to_string());
        return Some(ev(
            *t,
            format!("{} exited {code} ({reason}){}", role_name(p), if message.is_empty() { String::new() } else { format!(": {message}") }),
        ));
    }
    if p.deleted.is_some() || p.ended.is_some() {
        return None;
    }
    if let Some((t, reason)) = &p.terminating {
        let node = p.node().and_then(|n| view.nodes.get(n));
        let node_state = node.map_or("", |n| if n.ready { "" } else { " on a NotReady node" });
        return Some(ev(*t, format!("{} stuck Terminating{node_state} ({reason})", role_name(p))));
    }
    if let Some((t, reason, message)) = &p.waiting {
        return Some(ev(*t, format!("{} waiting: {reason}: {message}", role_name(p))));
    }
    if p.is_pending() {
        return Some(match &p.unschedulable {
            Some((t, m)) => ev(*t, format!("{} Pending: {m}", role_name(p))),
            None => ev(p.created, format!("{} Pending", role_name(p))),
        });
    }
    None
}

fn role_name(p: &PodView) -> &'static str {
    match p.role {
        Some(SparkRole::Driver) => "driver",
        Some(SparkRole::Executor) => "executor",
        None => "pod",
    }
}

impl Sink for Evaluator {
    fn record(&mut self, rec: &Record) {
        self.on_record(rec);
    }
}

/// Pod selection by name alone (for pods that were never created).
fn pod_name_selected(sel: &sparkrig_model::scenario::PodSel, key: &str) -> bool {
    use sparkrig_model::scenario::PodSel;
    match sel {
        PodSel::All | PodSel::Spark => true,
        PodSel::Executors => key.contains("-exec-"),
        PodSel::Drivers => key.ends_with("-driver"),
        PodSel::Component(_) => false,
        PodSel::Pattern(p) => {
            sparkrig_model::scenario::glob_match(p, key) || sparkrig_model::scenario::glob_match(p, key.rsplit('/').next().unwrap_or(key))
        }
    }
}
