//! The trace: one JSON object per line, the same schema for every backend.
//!
//! Entry points: [`Record`] (`{"t": <ms since start>, "event": "<kind>", ...}`), [`Event`], and
//! [`TraceView`], the fold of a trace into "what the cluster looks like now" that wait
//! conditions and the verdict read. Pods and apps are named `namespace/name`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, BufRead, Write};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::appstate::AppState;
use crate::kube::{Labels, Taint, Toleration};
use crate::podspec::SparkRole;
use crate::time::Time;
use crate::upgrade::UpgradePhase;

/// One line of a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Milliseconds since the run started.
    pub t: Time,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// A pod's terminal phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodPhase {
    /// Every container exited 0.
    Succeeded,
    /// A container failed, or the pod was failed by the system (eviction, PodGC).
    Failed,
}

/// Everything a backend can observe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// First line.
    RunStarted {
        /// Scenario name.
        scenario: String,
        /// `sim`, `kind` or `kube`.
        backend: String,
        /// Simulator seed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seed: Option<u64>,
    },
    /// A scenario step began.
    StepStarted {
        /// Index in `steps`.
        step: usize,
        /// The step, in words.
        what: String,
    },
    /// A scenario step ended.
    StepEnded {
        /// Index.
        step: usize,
        /// Whether it succeeded (a wait that timed out did not).
        ok: bool,
        /// Detail (for a timeout: the last mismatch).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        message: String,
    },
    /// A node registered.
    NodeAdded {
        /// Node name.
        node: String,
        /// Its nodegroup.
        group: String,
        /// Spot / preemptible.
        interruptible: bool,
        /// Labels.
        labels: Labels,
        /// Taints at registration.
        taints: Vec<Taint>,
        /// Allocatable CPU.
        cpu_millis: i64,
        /// Allocatable memory.
        memory_bytes: i64,
        /// Allocatable pods.
        pods: i64,
        /// The kubelet's version (`1.34`): recorded when the scenario involves versions (an
        /// upgrade step or a nodegroup with its own version), so that other traces stay as
        /// they were.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kubelet_version: Option<String>,
    },
    /// Node Ready.
    NodeReady {
        /// Node.
        node: String,
    },
    /// Node NotReady (Ready=Unknown or False).
    NodeNotReady {
        /// Node.
        node: String,
        /// Why.
        reason: String,
    },
    /// The node's taints changed (full set after the change).
    NodeTaints {
        /// Node.
        node: String,
        /// Taints now.
        taints: Vec<Taint>,
    },
    /// Cordoned or uncordoned.
    NodeUnschedulable {
        /// Node.
        node: String,
        /// `spec.unschedulable`.
        unschedulable: bool,
    },
    /// The Node object was deleted.
    NodeRemoved {
        /// Node.
        node: String,
        /// Why.
        reason: String,
    },
    /// A pod object was created.
    PodCreated {
        /// `namespace/name`.
        pod: String,
        /// Owning SparkApplication (`namespace/name`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        app: Option<String>,
        /// Driver or executor.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<SparkRole>,
        /// Platform component (`coredns`, `spark-operator-controller`, ...).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        component: Option<String>,
        /// Node selector.
        #[serde(default, skip_serializing_if = "Labels::is_empty")]
        node_selector: Labels,
        /// Tolerations.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tolerations: Vec<Toleration>,
        /// CPU request.
        cpu_millis: i64,
        /// Memory request.
        memory_bytes: i64,
        /// `spec.priority` (omitted when 0).
        #[serde(default, skip_serializing_if = "is_zero")]
        priority: i32,
    },
    /// A scheduling attempt failed (emitted when the message changes).
    PodUnschedulable {
        /// Pod.
        pod: String,
        /// The scheduler's FailedScheduling message.
        message: String,
    },
    /// A pod create was refused by the API server (e.g. the webhook is down with Fail).
    PodCreateFailed {
        /// Owning app.
        app: String,
        /// The pod that could not be created.
        pod: String,
        /// The API server's error.
        message: String,
    },
    /// Bound to a node.
    PodScheduled {
        /// Pod.
        pod: String,
        /// Node.
        node: String,
    },
    /// A container is waiting (ErrImagePull, ImagePullBackOff, CrashLoopBackOff, ...).
    PodWaiting {
        /// Pod.
        pod: String,
        /// Reason.
        reason: String,
        /// Message.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        message: String,
    },
    /// All containers started.
    PodRunning {
        /// Pod.
        pod: String,
    },
    /// Deletion requested (deletionTimestamp set); the pod may keep running.
    PodTerminating {
        /// Pod.
        pod: String,
        /// Why.
        reason: String,
    },
    /// Containers finished; phase Succeeded or Failed.
    PodTerminated {
        /// Pod.
        pod: String,
        /// Phase.
        phase: PodPhase,
        /// Main container exit code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// Reason (`Completed`, `Error`, `OOMKilled`, `Evicted`, `DeletionByPodGC`, ...).
        reason: String,
        /// What a person needs to explain it.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        message: String,
    },
    /// The pod object is gone.
    PodDeleted {
        /// Pod.
        pod: String,
        /// Why.
        reason: String,
    },
    /// A SparkApplication was created.
    AppCreated {
        /// `namespace/name`.
        app: String,
        /// Executors it asks for at start (static instances, or dynamic allocation's initial).
        executors: u32,
        /// The ScheduledSparkApplication that created it (`namespace/name`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scheduled_by: Option<String>,
    },
    /// The API server rejected the SparkApplication (admission webhook down with Fail).
    AppRejected {
        /// `namespace/name`.
        app: String,
        /// The API server's error.
        message: String,
    },
    /// The application state changed (or a submission attempt repeated it).
    AppState {
        /// App.
        app: String,
        /// New state.
        state: AppState,
        /// `applicationState.errorMessage` or the event reason.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        message: String,
        /// `status.submissionAttempts`.
        submission_attempts: u32,
        /// `status.executionAttempts`.
        execution_attempts: u32,
    },
    /// A fault was injected.
    FaultInjected {
        /// Fault id (its name unless the scenario gave one).
        fault: String,
        /// What it hit.
        target: String,
    },
    /// A fault was healed.
    FaultHealed {
        /// Fault id.
        fault: String,
        /// What it hit.
        target: String,
    },
    /// A fault's heal failed after its retries: the cluster is left broken. Fails the run's
    /// timeline, and the run (exit code 2).
    FaultHealFailed {
        /// Fault id.
        fault: String,
        /// What it hit.
        target: String,
        /// The last error.
        error: String,
        /// The commands that restore what is left broken, one per line.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        restore: String,
    },
    /// A cluster-autoscaler decision.
    Autoscaler {
        /// `scale-up`, `scale-down`, `no-scale-up`, ...
        action: String,
        /// Nodegroup.
        group: String,
        /// Nodes added or removed.
        count: u32,
        /// Why.
        reason: String,
    },
    /// The scheduler preempted a pod: its DisruptionTarget condition is set (reason
    /// PreemptionByScheduler) and it is deleted gracefully.
    PodPreempted {
        /// The victim.
        pod: String,
        /// The pod it makes room for.
        by: String,
        /// Node.
        node: String,
        /// The victim's priority.
        #[serde(default, skip_serializing_if = "is_zero")]
        priority: i32,
        /// The preemptor's priority.
        by_priority: i32,
        /// The DisruptionTarget condition's message.
        message: String,
    },
    /// `status.nominatedNodeName` was set (a preemptor waits for its victims) or cleared
    /// (`node` empty).
    PodNominated {
        /// Pod.
        pod: String,
        /// Node, or empty when cleared.
        node: String,
    },
    /// A ResourceQuota's `status.used` changed (admission charged a pod, or the quota
    /// controller recalculated). Quantities: cpu in millicores, memory in bytes, pods counted.
    QuotaUsage {
        /// Namespace.
        namespace: String,
        /// Quota name.
        quota: String,
        /// `status.used` by resource name.
        used: BTreeMap<String, i64>,
        /// `spec.hard` by resource name.
        hard: BTreeMap<String, i64>,
    },
    /// A ScheduledSparkApplication was created.
    ScheduledAppCreated {
        /// `namespace/name`.
        app: String,
        /// `spec.schedule`.
        schedule: String,
        /// `spec.concurrencyPolicy` as written.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        concurrency_policy: String,
    },
    /// A ScheduledSparkApplication's status was written.
    ScheduledAppStatus {
        /// `namespace/name`.
        app: String,
        /// `scheduleState`: `Scheduled` or `FailedValidation`.
        state: String,
        /// `reason` (FailedValidation).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
        /// `lastRun`, RFC 3339.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        last_run: String,
        /// `lastRunName`.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        last_run_name: String,
        /// `nextRun`, RFC 3339.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        next_run: String,
        /// `pastSuccessfulRunNames`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        past_successful_run_names: Vec<String>,
        /// `pastFailedRunNames`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        past_failed_run_names: Vec<String>,
    },
    /// A due run of a ScheduledSparkApplication did not start (sparkrig's observation: the
    /// controller only requeues; `nextRun` stays in the past).
    ScheduledRunSkipped {
        /// `namespace/name`.
        app: String,
        /// When the run was due, RFC 3339.
        due: String,
        /// Why.
        reason: String,
    },
    /// A phase of an upgrade step, with its reason.
    Upgrade {
        /// The upgrade's id.
        upgrade: String,
        /// Phase.
        phase: UpgradePhase,
        /// The node it concerns.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        /// The pod it concerns (`namespace/name`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pod: Option<String>,
        /// Why, and what it did.
        reason: String,
    },
    /// A SparkApplication was deleted (through the API).
    AppDeleted {
        /// `namespace/name`.
        app: String,
    },
    /// A client changed the cluster through the API (`sparkrig serve`), at this instant.
    ApiWrite {
        /// The change.
        action: crate::action::Action,
        /// Who sent it (User-Agent or field manager).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        by: String,
    },
    /// Last line.
    RunEnded {
        /// Why the run stopped.
        reason: String,
    },
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// Receives trace records as a backend produces them.
pub trait Sink {
    /// One record.
    fn record(&mut self, rec: &Record);

    /// The records so far form a batch: a sink that buffers writes them out now, so a run
    /// killed later leaves what it saw. Backends that observe a live cluster call this after
    /// each batch of observations; the default does nothing.
    fn flush(&mut self) {}
}

impl<F: FnMut(&Record)> Sink for F {
    fn record(&mut self, rec: &Record) {
        self(rec)
    }
}

/// Writes JSON lines.
pub struct JsonlWriter<W: Write> {
    out: W,
    error: Option<io::Error>,
}

impl<W: Write> JsonlWriter<W> {
    /// Wraps a writer.
    pub fn new(out: W) -> Self {
        JsonlWriter { out, error: None }
    }

    /// Flushes and returns the first write error, if any.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Sink for JsonlWriter<W> {
    fn record(&mut self, rec: &Record) {
        if self.error.is_some() {
            return;
        }
        let line = serde_json::to_string(rec).expect("trace records serialise");
        if let Err(e) = writeln!(self.out, "{line}") {
            self.error = Some(e);
        }
    }

    fn flush(&mut self) {
        if self.error.is_none()
            && let Err(e) = self.out.flush()
        {
            self.error = Some(e);
        }
    }
}

/// Reads a JSON-lines trace, calling `f` per record; errors name the line.
pub fn read_jsonl(input: impl BufRead, mut f: impl FnMut(Record)) -> Result<(), String> {
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(|e| format!("line {}: {e}", i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let rec: Record = serde_json::from_str(&line).map_err(|e| format!("line {}: {e}", i + 1))?;
        f(rec);
    }
    Ok(())
}

/// A node as the trace shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    /// Group.
    pub group: String,
    /// Spot.
    pub interruptible: bool,
    /// Labels.
    pub labels: Labels,
    /// Current taints.
    pub taints: Vec<Taint>,
    /// Ready.
    pub ready: bool,
    /// Cordoned.
    pub unschedulable: bool,
    /// When it was added.
    pub added: Time,
    /// When its object was deleted.
    pub removed: Option<Time>,
    /// Kubelet version, when the trace records it.
    pub kubelet_version: Option<String>,
}

/// Shared text.
pub type Text = Arc<str>;

/// A pod (its latest incarnation under that name) as the trace shows it. Strings are shared
/// with the view's interner, so thousands of executors cost little.
#[derive(Debug, Clone, PartialEq)]
pub struct PodView {
    /// Owning app.
    pub app: Option<Text>,
    /// Spark role.
    pub role: Option<SparkRole>,
    /// Platform component.
    pub component: Option<Text>,
    /// Tolerations.
    pub tolerations: Arc<[Toleration]>,
    /// Created.
    pub created: Time,
    /// Bound.
    pub scheduled: Option<(Time, Text)>,
    /// Containers started.
    pub running: Option<Time>,
    /// Last FailedScheduling message, while the pod is unbound.
    pub unschedulable: Option<(Time, Text)>,
    /// Last waiting reason and message.
    pub waiting: Option<(Time, Text, Text)>,
    /// Deletion requested.
    pub terminating: Option<(Time, Text)>,
    /// Terminal phase, exit code, reason, message.
    pub ended: Option<(Time, PodPhase, Option<i32>, Text, Text)>,
    /// Object gone.
    pub deleted: Option<(Time, Text)>,
    /// `spec.priority`.
    pub priority: i32,
    /// Preempted by this pod (DisruptionTarget set).
    pub preempted: Option<(Time, Text)>,
    /// `status.nominatedNodeName` (a preemptor waiting for its victims).
    pub nominated: Option<(Time, Text)>,
}

impl PodView {
    /// Kubernetes phase as `kubectl get pods` would show it (without Terminating).
    pub fn phase(&self) -> &'static str {
        match (&self.ended, self.running) {
            (Some((_, PodPhase::Succeeded, ..)), _) => "Succeeded",
            (Some((_, PodPhase::Failed, ..)), _) => "Failed",
            (None, Some(_)) => "Running",
            (None, None) => "Pending",
        }
    }

    /// Whether the pod still exists and is Pending.
    pub fn is_pending(&self) -> bool {
        self.deleted.is_none() && self.phase() == "Pending"
    }

    /// The node it is bound to.
    pub fn node(&self) -> Option<&str> {
        self.scheduled.as_ref().map(|(_, n)| &**n)
    }
}

/// An app as the trace shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AppView {
    /// Executors requested at start.
    pub executors: u32,
    /// Created.
    pub created: Time,
    /// Current state.
    pub state: AppState,
    /// Last error message.
    pub message: String,
    /// Every state it has been in, with when.
    pub history: Vec<(Time, AppState)>,
    /// Submission attempts.
    pub submission_attempts: u32,
    /// Execution attempts.
    pub execution_attempts: u32,
    /// Pods of this app, in creation order (`namespace/name`, repeated for recreated pods).
    pub pods: Vec<Text>,
    /// The ScheduledSparkApplication that created it.
    pub scheduled_by: Option<String>,
    /// The last pod create the API server refused for it: (when, pod, message).
    pub create_failure: Option<(Time, String, String)>,
}

impl AppView {
    /// Whether it has ever been in `state`.
    pub fn reached(&self, state: AppState) -> bool {
        self.history.iter().any(|(_, s)| *s == state)
    }
}

/// A ResourceQuota as the trace shows it: `status.used` and `spec.hard` by resource name.
pub type QuotaView = (BTreeMap<String, i64>, BTreeMap<String, i64>);

/// A ScheduledSparkApplication as the trace shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScheduledView {
    /// `spec.schedule`.
    pub schedule: String,
    /// `spec.concurrencyPolicy`.
    pub concurrency_policy: String,
    /// Children created: (when, name).
    pub runs: Vec<(Time, String)>,
    /// Due runs that did not start: (when, due, why).
    pub skipped: Vec<(Time, String, String)>,
    /// `scheduleState`.
    pub state: String,
    /// `reason`.
    pub reason: String,
    /// `nextRun`.
    pub next_run: String,
}

/// The fold of a trace: the cluster as observed so far.
#[derive(Debug, Clone, Default)]
pub struct TraceView {
    /// Time of the last record.
    pub now: Time,
    /// Nodes by name.
    pub nodes: BTreeMap<String, NodeView>,
    /// Pods by `namespace/name`.
    pub pods: BTreeMap<Text, PodView>,
    /// Apps by `namespace/name`.
    pub apps: BTreeMap<String, AppView>,
    /// Faults injected and not healed, with when.
    pub active_faults: BTreeMap<String, Time>,
    /// Apps whose creation the API server rejected, with when and why.
    pub rejected: BTreeMap<String, (Time, String)>,
    /// Apps per current state.
    pub app_states: BTreeMap<AppState, usize>,
    /// Apps that have ever been in each state.
    pub app_reached: BTreeMap<AppState, usize>,
    /// Existing (not deleted) pods per (role, phase).
    pub pod_phases: BTreeMap<(Option<SparkRole>, &'static str), usize>,
    /// Apps created by ScheduledSparkApplications (`namespace/name`) that still exist.
    pub children: std::collections::BTreeSet<String>,
    /// ScheduledSparkApplications by `namespace/name`.
    pub scheduled: BTreeMap<String, ScheduledView>,
    /// ResourceQuotas by (namespace, name): the last `status.used` and `spec.hard`.
    pub quotas: BTreeMap<(String, String), QuotaView>,
    forget_deleted: bool,
    strings: HashSet<Text>,
    toleration_sets: HashMap<Vec<Toleration>, Arc<[Toleration]>>,
}

impl TraceView {
    /// A view that drops pods once their object is deleted: enough for wait conditions, which
    /// only look at existing pods, at a fraction of the memory on long runs. The verdict keeps
    /// the full history (the default).
    pub fn current_only() -> TraceView {
        TraceView { forget_deleted: true, ..TraceView::default() }
    }

    /// Shares repeated text (node names, app names, reasons, messages).
    fn intern(&mut self, s: &str) -> Text {
        if let Some(t) = self.strings.get(s) {
            return t.clone();
        }
        let t: Text = Arc::from(s);
        self.strings.insert(t.clone());
        t
    }

    fn intern_tolerations(&mut self, t: &[Toleration]) -> Arc<[Toleration]> {
        if let Some(a) = self.toleration_sets.get(t) {
            return a.clone();
        }
        let a: Arc<[Toleration]> = Arc::from(t);
        self.toleration_sets.insert(t.to_vec(), a.clone());
        a
    }

    /// Applies one record.
    pub fn apply(&mut self, rec: &Record) {
        let pod_key = match &rec.event {
            Event::PodCreated { pod, .. }
            | Event::PodRunning { pod }
            | Event::PodTerminated { pod, .. }
            | Event::PodDeleted { pod, .. } => Some(pod.as_str()),
            _ => None,
        };
        let before = pod_key.and_then(|k| self.pods.get(k)).filter(|p| p.deleted.is_none()).map(|p| (p.role, p.phase()));
        self.apply_inner(rec);
        let after = pod_key.and_then(|k| self.pods.get(k)).filter(|p| p.deleted.is_none()).map(|p| (p.role, p.phase()));
        if before != after {
            if let Some(b) = before
                && let Some(n) = self.pod_phases.get_mut(&b)
            {
                *n -= 1;
            }
            if let Some(a) = after {
                *self.pod_phases.entry(a).or_default() += 1;
            }
        }
    }

    fn apply_inner(&mut self, rec: &Record) {
        let t = rec.t;
        self.now = t;
        match &rec.event {
            Event::NodeAdded { node, group, interruptible, labels, taints, kubelet_version, .. } => {
                self.nodes.insert(
                    node.clone(),
                    NodeView {
                        group: group.clone(),
                        interruptible: *interruptible,
                        labels: labels.clone(),
                        taints: taints.clone(),
                        ready: false,
                        unschedulable: false,
                        added: t,
                        removed: None,
                        kubelet_version: kubelet_version.clone(),
                    },
                );
            }
            Event::NodeReady { node } => self.node(node, |n| n.ready = true),
            Event::NodeNotReady { node, .. } => self.node(node, |n| n.ready = false),
            Event::NodeTaints { node, taints } => self.node(node, |n| n.taints = taints.clone()),
            Event::NodeUnschedulable { node, unschedulable } => self.node(node, |n| n.unschedulable = *unschedulable),
            Event::NodeRemoved { node, .. } => self.node(node, |n| {
                n.removed = Some(t);
                n.ready = false;
            }),
            Event::PodCreated { pod, app, role, component, tolerations, priority, .. } => {
                let key: Text = Arc::from(pod.as_str());
                let app = app.as_deref().map(|a| self.intern(a));
                let component = component.as_deref().map(|c| self.intern(c));
                let tolerations = self.intern_tolerations(tolerations);
                if let Some(a) = app.as_deref().and_then(|a| self.apps.get_mut(a)) {
                    a.pods.push(key.clone());
                }
                self.pods.insert(
                    key,
                    PodView {
                        app,
                        role: *role,
                        component,
                        tolerations,
                        created: t,
                        scheduled: None,
                        running: None,
                        unschedulable: None,
                        waiting: None,
                        terminating: None,
                        ended: None,
                        deleted: None,
                        priority: *priority,
                        preempted: None,
                        nominated: None,
                    },
                );
            }
            Event::PodUnschedulable { pod, message } => {
                let m: Text = Arc::from(message.as_str());
                self.pod(pod, |p| p.unschedulable = Some((t, m)))
            }
            Event::PodScheduled { pod, node } => {
                let n = self.intern(node);
                self.pod(pod, |p| {
                    p.scheduled = Some((t, n));
                    p.unschedulable = None;
                    p.nominated = None;
                })
            }
            Event::PodWaiting { pod, reason, message } => {
                let (r, m) = (self.intern(reason), self.intern(message));
                self.pod(pod, |p| p.waiting = Some((t, r, m)))
            }
            Event::PodRunning { pod } => self.pod(pod, |p| {
                p.running = Some(t);
                p.waiting = None;
            }),
            Event::PodTerminating { pod, reason } => {
                let r = self.intern(reason);
                self.pod(pod, |p| p.terminating = Some((t, r)))
            }
            Event::PodTerminated { pod, phase, exit_code, reason, message } => {
                let (r, m) = (self.intern(reason), self.intern(message));
                self.pod(pod, |p| p.ended = Some((t, *phase, *exit_code, r, m)))
            }
            Event::PodDeleted { pod, .. } if self.forget_deleted => self.forget_pod(pod),
            Event::PodDeleted { pod, reason } => {
                let r = self.intern(reason);
                self.pod(pod, |p| p.deleted = Some((t, r)))
            }
            Event::AppCreated { app, executors, scheduled_by } => {
                if let Some(by) = scheduled_by {
                    self.children.insert(app.clone());
                    self.scheduled.entry(by.clone()).or_default().runs.push((t, app.clone()));
                }
                *self.app_states.entry(AppState::New).or_default() += 1;
                *self.app_reached.entry(AppState::New).or_default() += 1;
                self.apps.insert(
                    app.clone(),
                    AppView {
                        executors: *executors,
                        created: t,
                        state: AppState::New,
                        message: String::new(),
                        history: vec![(t, AppState::New)],
                        submission_attempts: 0,
                        execution_attempts: 0,
                        pods: Vec::new(),
                        scheduled_by: scheduled_by.clone(),
                        create_failure: None,
                    },
                );
            }
            Event::AppState { app, state, message, submission_attempts, execution_attempts } => {
                if let Some(a) = self.apps.get_mut(app) {
                    if let Some(n) = self.app_states.get_mut(&a.state) {
                        *n -= 1;
                    }
                    *self.app_states.entry(*state).or_default() += 1;
                    if !a.reached(*state) {
                        *self.app_reached.entry(*state).or_default() += 1;
                    }
                    a.state = *state;
                    a.message = message.clone();
                    a.history.push((t, *state));
                    a.submission_attempts = *submission_attempts;
                    a.execution_attempts = *execution_attempts;
                }
            }
            Event::FaultInjected { fault, .. } => {
                self.active_faults.insert(fault.clone(), t);
            }
            Event::FaultHealed { fault, .. } => {
                self.active_faults.remove(fault);
            }
            // Still active: the heal did not take.
            Event::FaultHealFailed { .. } => {}
            Event::AppRejected { app, message } => {
                self.rejected.insert(app.clone(), (t, message.clone()));
            }
            Event::AppDeleted { app } => {
                self.children.remove(app);
                if let Some(a) = self.apps.remove(app) {
                    if let Some(n) = self.app_states.get_mut(&a.state) {
                        *n -= 1;
                    }
                    for s in a.history.iter().map(|(_, s)| *s).collect::<std::collections::BTreeSet<_>>() {
                        if let Some(n) = self.app_reached.get_mut(&s) {
                            *n -= 1;
                        }
                    }
                }
            }
            Event::PodCreateFailed { app, pod, message } => {
                if let Some(a) = self.apps.get_mut(app) {
                    a.create_failure = Some((t, pod.clone(), message.clone()));
                }
            }
            Event::PodPreempted { pod, by, .. } => {
                let b = self.intern(by);
                self.pod(pod, |p| p.preempted = Some((t, b)))
            }
            Event::PodNominated { pod, node } => {
                let n = (!node.is_empty()).then(|| self.intern(node));
                self.pod(pod, |p| p.nominated = n.map(|n| (t, n)))
            }
            Event::QuotaUsage { namespace, quota, used, hard } => {
                self.quotas.insert((namespace.clone(), quota.clone()), (used.clone(), hard.clone()));
            }
            Event::ScheduledAppCreated { app, schedule, concurrency_policy } => {
                let s = self.scheduled.entry(app.clone()).or_default();
                s.schedule = schedule.clone();
                s.concurrency_policy = concurrency_policy.clone();
            }
            Event::ScheduledAppStatus { app, state, reason, next_run, .. } => {
                let s = self.scheduled.entry(app.clone()).or_default();
                s.state = state.clone();
                s.reason = reason.clone();
                s.next_run = next_run.clone();
            }
            Event::ScheduledRunSkipped { app, due, reason } => {
                self.scheduled.entry(app.clone()).or_default().skipped.push((t, due.clone(), reason.clone()));
            }
            Event::RunStarted { .. }
            | Event::ApiWrite { .. }
            | Event::StepStarted { .. }
            | Event::StepEnded { .. }
            | Event::Autoscaler { .. }
            | Event::Upgrade { .. }
            | Event::RunEnded { .. } => {}
        }
    }

    /// Drops a pod (and its entry in its app's pod list) from the view, for consumers that
    /// keep only what they still need of deleted pods.
    pub fn forget_pod(&mut self, key: &str) {
        if let Some(app) = self.pods.remove(key).and_then(|p| p.app)
            && let Some(a) = self.apps.get_mut(&*app)
        {
            a.pods.retain(|k| &**k != key);
        }
    }

    fn node(&mut self, name: &str, f: impl FnOnce(&mut NodeView)) {
        if let Some(n) = self.nodes.get_mut(name) {
            f(n)
        }
    }

    fn pod(&mut self, name: &str, f: impl FnOnce(&mut PodView)) {
        if let Some(p) = self.pods.get_mut(name) {
            f(p)
        }
    }

    /// The node a pod is (or was) bound to.
    pub fn node_of(&self, pod: &PodView) -> Option<(&str, &NodeView)> {
        let name = pod.node()?;
        self.nodes.get_key_value(name).map(|(k, v)| (k.as_str(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_flat_json_lines() {
        let rec =
            Record { t: Time(1500), event: Event::PodScheduled { pod: "default/spark-pi-driver".into(), node: "spark-driver-1".into() } };
        let line = serde_json::to_string(&rec).unwrap();
        assert_eq!(line, r#"{"t":1500,"event":"pod_scheduled","pod":"default/spark-pi-driver","node":"spark-driver-1"}"#);
        assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), rec);
    }

    #[test]
    fn view_folds_pod_lifecycle_and_app_history() {
        let mut v = TraceView::default();
        let ev = |t, e| Record { t: Time(t), event: e };
        v.apply(&ev(0, Event::AppCreated { app: "default/a".into(), executors: 2, scheduled_by: None }));
        v.apply(&ev(
            10,
            Event::PodCreated {
                pod: "default/a-driver".into(),
                app: Some("default/a".into()),
                role: Some(SparkRole::Driver),
                component: None,
                node_selector: Labels::new(),
                tolerations: vec![],
                cpu_millis: 1000,
                memory_bytes: 1,
                priority: 0,
            },
        ));
        v.apply(&ev(11, Event::PodScheduled { pod: "default/a-driver".into(), node: "n1".into() }));
        v.apply(&ev(
            20,
            Event::AppState {
                app: "default/a".into(),
                state: AppState::Running,
                message: String::new(),
                submission_attempts: 1,
                execution_attempts: 1,
            },
        ));
        let pod = &v.pods["default/a-driver"];
        assert_eq!(pod.phase(), "Pending");
        assert_eq!(pod.node(), Some("n1"));
        let app = &v.apps["default/a"];
        assert_eq!(app.pods, vec![Arc::<str>::from("default/a-driver")]);
        assert!(app.reached(AppState::Running) && !app.reached(AppState::Completed));
    }

    #[test]
    fn current_only_view_forgets_deleted_pods_and_keeps_counts() {
        let ev = |t, e| Record { t: Time(t), event: e };
        let created = |pod: &str| Event::PodCreated {
            pod: pod.into(),
            app: Some("default/a".into()),
            role: Some(SparkRole::Executor),
            component: None,
            node_selector: Labels::new(),
            tolerations: vec![],
            cpu_millis: 1000,
            memory_bytes: 1,
            priority: 0,
        };
        let records = [
            ev(0, Event::AppCreated { app: "default/a".into(), executors: 2, scheduled_by: None }),
            ev(1, created("default/e1")),
            ev(1, created("default/e2")),
            ev(2, Event::PodRunning { pod: "default/e1".into() }),
            ev(3, Event::PodDeleted { pod: "default/e1".into(), reason: "executor released".into() }),
        ];
        let (mut full, mut current) = (TraceView::default(), TraceView::current_only());
        for r in &records {
            full.apply(r);
            current.apply(r);
        }
        assert!(full.pods["default/e1"].deleted.is_some());
        assert!(!current.pods.contains_key("default/e1"));
        assert_eq!(current.apps["default/a"].pods, vec![Arc::<str>::from("default/e2")]);
        assert_eq!(full.pod_phases, current.pod_phases);
        assert_eq!(current.pod_phases.get(&(Some(SparkRole::Executor), "Pending")), Some(&1));
        assert_eq!(current.pod_phases.get(&(Some(SparkRole::Executor), "Running")), Some(&0));
    }
}
