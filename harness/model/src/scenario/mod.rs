//! The scenario language: what a scenario file says, validated and resolved into the plan every
//! backend executes.
//!
//! Entry point: [`load`] (stage 1 in [`raw`], stage 2 in [`load`]). The result, [`Scenario`], is
//! the *Plan* of DESIGN.md §1: resolved topology, stack, workload, steps and expectations.

mod load;
pub mod raw;
mod select;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

pub use load::{
    DEFAULT_NODE_READY, DEFAULT_PROVISIONING, Files, MemFiles, WORK_ANNOTATION, default_work, load, load_str, load_str_with, load_with,
    merge_patch, work_annotation, work_of,
};
pub use raw::{Expander, FailurePolicy};
pub use select::{AppSel, PodSel, glob_match};

use crate::appstate::AppState;
use crate::faults::Fault;
use crate::kube::{Labels, Toleration};
use crate::podspec::SparkRole;
use crate::sparkapp::SparkApplication;
use crate::time::{Dur, Time};
use crate::topology::Topology;
use crate::trace::TraceView;
use crate::upgrade::{PodDisruptionBudget, Upgrade};

/// A validated, resolved scenario: the plan.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// The file it came from.
    pub file: String,
    /// Seed for the simulator and seeded arrivals.
    pub seed: u64,
    /// Cluster shape.
    pub topology: Topology,
    /// What is deployed.
    pub stack: Stack,
    /// Application templates (one per SparkApplication document referenced).
    pub templates: Vec<AppTemplate>,
    /// Arrivals, in time order.
    pub arrivals: Vec<Arrival>,
    /// ScheduledSparkApplications the workload creates.
    pub scheduled: Vec<ScheduledTemplate>,
    /// When they are created (`template` indexes `scheduled`), in time order.
    pub scheduled_arrivals: Vec<Arrival>,
    /// Timeline.
    pub steps: Vec<Step>,
    /// Expectations.
    pub expectations: Vec<Expectation>,
    /// Simulator timing overrides.
    pub sim: SimTimings,
    /// Hard stop.
    pub max_duration: Dur,
    /// Other objects in the referenced manifests (ConfigMaps, Secrets): applied by real backends.
    pub extra_manifests: Vec<serde_json::Value>,
}

/// Simulator timing overrides (the scenario's `sim:`); real backends ignore them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimTimings {
    /// Pulling a Spark image onto a node that does not have it.
    pub image_pull: Option<Dur>,
    /// Container start after the image is present.
    pub container_start: Option<Dur>,
    /// JVM start until the SparkContext is up (driver) or the executor registered.
    pub jvm_start: Option<Dur>,
    /// One pod-create API call.
    pub api_call: Option<Dur>,
}

/// A SparkApplication read from a manifest, with the work it represents.
#[derive(Debug, Clone)]
pub struct AppTemplate {
    /// Manifest file.
    pub file: String,
    /// The application as written (Spark version override applied).
    pub app: SparkApplication,
    /// Work (simulator).
    pub work: Work,
}

/// A ScheduledSparkApplication read from a manifest, with the work of each child.
#[derive(Debug, Clone)]
pub struct ScheduledTemplate {
    /// Manifest file.
    pub file: String,
    /// The object as written (Spark version override applied to its template).
    pub app: crate::scheduled::ScheduledApp,
    /// Work of each child (simulator).
    pub work: Work,
}

/// Work an app performs: `tasks` tasks of `task_duration` each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Work {
    /// Tasks.
    pub tasks: u32,
    /// Per task.
    pub task_duration: Dur,
}

/// One app creation at a point in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// When.
    pub at: Time,
    /// Template index.
    pub template: usize,
    /// App name.
    pub name: String,
}

/// A step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Create apps now.
    Submit {
        /// Template.
        template: usize,
        /// Names of the apps to create.
        names: Vec<String>,
    },
    /// Wait for a condition.
    Wait {
        /// Condition.
        condition: Condition,
        /// Timeout.
        timeout: Dur,
    },
    /// Let time pass.
    Sleep(Dur),
    /// Inject a fault.
    Inject(Fault),
    /// Heal a fault by id.
    Heal(String),
    /// Merge-patch the spec of the selected apps.
    Patch {
        /// Apps.
        apps: AppSel,
        /// JSON merge patch of `spec`.
        spec: serde_json::Value,
    },
    /// Upgrade something; the step ends when the upgrade does (and fails if it fails).
    Upgrade(Upgrade),
}

impl Step {
    /// The step in words (trace and reports).
    pub fn describe(&self) -> String {
        match self {
            Step::Submit { names, .. } => match names.as_slice() {
                [one] => format!("submit {one}"),
                many => format!("submit {} apps ({}..{})", many.len(), many[0], many[many.len() - 1]),
            },
            Step::Wait { condition, timeout } => format!("wait for {condition} (timeout {timeout})"),
            Step::Sleep(d) => format!("sleep {d}"),
            Step::Inject(f) => format!("inject {} ({})", f.id, f.spec.target()),
            Step::Heal(id) => format!("heal {id}"),
            Step::Patch { apps, spec } => format!("patch apps {apps}: {spec}"),
            Step::Upgrade(u) => u.describe(),
        }
    }
}

/// What a wait waits for. Apps the API server refused to create (`app_rejected`) are not
/// waited for: they will never exist.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Every selected app is in one of the states now.
    AppsIn {
        /// Apps.
        apps: AppSel,
        /// States.
        states: Vec<AppState>,
    },
    /// Every selected app has been in the state at some point.
    AppsReached {
        /// Apps.
        apps: AppSel,
        /// State.
        state: AppState,
    },
    /// At least `count` (default: every) selected pod is in the phase.
    PodsIn {
        /// Pods.
        pods: PodSel,
        /// Phase (`Pending`, `Running`, `Succeeded`, `Failed`).
        phase: String,
        /// Minimum count.
        count: Option<u32>,
    },
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Condition::AppsIn { apps, states } => write!(f, "apps {apps} in {}", states_label(states)),
            Condition::AppsReached { apps, state } => write!(f, "apps {apps} to reach {state}"),
            Condition::PodsIn { pods, phase, count: Some(n) } => write!(f, "{n} {pods} pods {phase}"),
            Condition::PodsIn { pods, phase, count: None } => write!(f, "all {pods} pods {phase}"),
        }
    }
}

fn states_label(states: &[AppState]) -> String {
    if states == [AppState::Completed, AppState::Failed] {
        "a terminal state".into()
    } else {
        states.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("|")
    }
}

impl Condition {
    /// Whether the condition holds. `expected_apps` are the apps the scenario has created or
    /// will create so far (every app in the view is one of them). Counts kept by the view
    /// answer the common forms without scanning; globs and components fall back to
    /// [`Condition::check`].
    pub fn holds(&self, view: &TraceView, expected_apps: &BTreeSet<String>) -> bool {
        let count =
            |m: &BTreeMap<AppState, usize>, states: &[AppState]| states.iter().map(|s| m.get(s).copied().unwrap_or(0)).sum::<usize>();
        // Apps the API server refused to create will never exist: nothing to wait for.
        let expected = || expected_apps.len() - view.rejected.keys().filter(|a| expected_apps.contains(*a)).count();
        match self {
            Condition::AppsIn { apps: AppSel::All, states } => count(&view.app_states, states) == expected(),
            Condition::AppsReached { apps: AppSel::All, state } => count(&view.app_reached, &[*state]) == expected(),
            Condition::PodsIn { pods, phase, count: want }
                if matches!(pods, PodSel::Drivers | PodSel::Executors | PodSel::Spark | PodSel::All) =>
            {
                let selected = |role: &Option<SparkRole>| match pods {
                    PodSel::Drivers => *role == Some(SparkRole::Driver),
                    PodSel::Executors => *role == Some(SparkRole::Executor),
                    PodSel::Spark => role.is_some(),
                    _ => true,
                };
                let total: usize = view.pod_phases.iter().filter(|((r, _), _)| selected(r)).map(|(_, n)| n).sum();
                let matching: usize = view.pod_phases.iter().filter(|((r, p), _)| selected(r) && p == phase).map(|(_, n)| n).sum();
                matching >= want.map_or(total.max(1), |c| c as usize)
            }
            _ => self.check(view, expected_apps).is_ok(),
        }
    }

    /// `Ok` when the condition holds in `view`; otherwise the mismatch, for a timeout message.
    pub fn check(&self, view: &TraceView, expected_apps: &BTreeSet<String>) -> Result<(), String> {
        match self {
            Condition::AppsIn { apps, states } => {
                let bad = apps_not(view, expected_apps, apps, |a| a.is_some_and(|a| states.contains(&a.state)));
                summarise_apps(view, bad, &format!("not in {}", states_label(states)))
            }
            Condition::AppsReached { apps, state } => {
                let bad = apps_not(view, expected_apps, apps, |a| a.is_some_and(|a| a.reached(*state)));
                summarise_apps(view, bad, &format!("never reached {state}"))
            }
            Condition::PodsIn { pods, phase, count } => {
                let selected: Vec<_> = view.pods.iter().filter(|(k, p)| p.deleted.is_none() && pods.matches(k, p)).collect();
                let matching = selected.iter().filter(|(_, p)| p.phase() == phase).count();
                let need = count.map_or(selected.len().max(1), |c| c as usize);
                if matching >= need { Ok(()) } else { Err(format!("{matching}/{need} {pods} pods {phase} ({} selected)", selected.len())) }
            }
        }
    }
}

fn apps_not<'a>(
    view: &'a TraceView,
    expected: &'a BTreeSet<String>,
    sel: &AppSel,
    ok: impl Fn(Option<&crate::trace::AppView>) -> bool,
) -> Vec<&'a str> {
    expected
        .iter()
        .filter(|a| sel.matches(a) && !view.rejected.contains_key(*a))
        .filter(|a| !ok(view.apps.get(*a)))
        .map(String::as_str)
        .collect()
}

fn summarise_apps(view: &TraceView, bad: Vec<&str>, what: &str) -> Result<(), String> {
    if bad.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = bad
        .iter()
        .take(3)
        .map(|a| match view.apps.get(*a) {
            Some(v) => format!("{a} is {}", v.state),
            None => format!("{a} not created yet"),
        })
        .collect();
    let more = if bad.len() > 3 { format!(" and {} more", bad.len() - 3) } else { String::new() };
    Err(format!("{} app(s) {what}: {}{more}", bad.len(), shown.join(", ")))
}

/// What is deployed, with defaults resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stack {
    /// Kubernetes minor version (1.x).
    pub kubernetes_minor: u32,
    /// Spark Operator.
    pub operator: Operator,
    /// Spark version override.
    pub spark_version: Option<String>,
    /// CoreDNS.
    pub coredns: Component,
    /// MinIO.
    pub minio: Component,
    /// Registry.
    pub registry: Component,
    /// History Server.
    pub history_server: Component,
    /// kube-scheduler client QPS.
    pub scheduler_qps: u32,
    /// kube-scheduler client burst.
    pub scheduler_burst: u32,
    /// Cluster Autoscaler (None when not deployed).
    pub autoscaler: Option<Autoscaler>,
    /// Namespaces (quotas, limit ranges) and priority classes.
    pub tenancy: crate::tenancy::Tenancy,
    /// PodDisruptionBudgets (the components' and the listed ones).
    pub pdbs: Vec<PodDisruptionBudget>,
}

/// The Cluster Autoscaler as deployed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Autoscaler {
    /// Loop period.
    pub scan_interval: Dur,
    /// Expander.
    pub expander: raw::Expander,
    /// Scale-down enabled.
    pub scale_down: bool,
    /// A node must be unneeded this long.
    pub unneeded_time: Dur,
    /// No scale-down this long after a scale-up.
    pub delay_after_add: Dur,
    /// Below this utilization (percent) a node may be unneeded.
    pub utilization_percent: u32,
    /// Default provisioning time (scale-up → registered).
    pub provisioning: Dur,
    /// Registered → Ready.
    pub node_ready: Dur,
}

/// The Spark Operator as deployed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Operator {
    /// Version.
    pub version: String,
    /// Controller replicas.
    pub replicas: u32,
    /// Reconcile workers.
    pub workers: u32,
    /// One spark-submit.
    pub submit_time: Dur,
    /// Webhook deployed.
    pub webhook_enabled: bool,
    /// Webhook replicas.
    pub webhook_replicas: u32,
    /// Webhook failure policy.
    pub failure_policy: FailurePolicy,
    /// Watched namespaces.
    pub job_namespaces: Vec<String>,
    /// Placement of controller and webhook.
    pub placement: Placement,
    /// Service accounts in the job namespaces.
    pub service_accounts: Vec<String>,
    /// `priorityClassName` of the controller and webhook pods.
    pub priority_class: Option<String>,
    /// `--enable-driver-pdb`: every driver gets a PDB with `minAvailable: 1`.
    pub driver_pdb: bool,
}

impl Operator {
    /// Whether the operator watches a namespace (`spark.jobNamespaces`; `""` = all).
    pub fn watches(&self, namespace: &str) -> bool {
        self.job_namespaces.iter().any(|n| n.is_empty() || n == namespace)
    }
}

/// A platform component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    /// Deployed.
    pub enabled: bool,
    /// Replicas.
    pub replicas: u32,
    /// Placement.
    pub placement: Placement,
    /// `priorityClassName` of its pods.
    pub priority_class: Option<String>,
}

/// Node selector and tolerations for a component.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Placement {
    /// Node selector.
    pub node_selector: Labels,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
}

/// An expectation.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    /// Pods of a role (of the selected apps) are only ever bound to these groups.
    OnlyOn {
        /// Role.
        role: SparkRole,
        /// Groups.
        groups: Vec<String>,
        /// Apps.
        apps: AppSel,
    },
    /// No driver on an interruptible node.
    DriversNeverOnInterruptible,
    /// No pod bound to a node with a NoSchedule/NoExecute taint it does not tolerate.
    TolerationsRespected,
    /// Every app state change is a legal transition of the operator.
    LegalTransitions,
    /// Apps are only ever in these states.
    StatesWithin {
        /// Apps.
        apps: AppSel,
        /// Allowed states.
        states: Vec<AppState>,
    },
    /// Apps were in a state at some point.
    AppsReached {
        /// Apps.
        apps: AppSel,
        /// State.
        state: AppState,
    },
    /// A nodegroup's size: the most nodes it had at once, or at the end, within bounds.
    GroupSize {
        /// Group.
        group: String,
        /// `true` for the peak, `false` for the end.
        peak: bool,
        /// At least.
        min: Option<u32>,
        /// At most.
        max: Option<u32>,
    },
    /// The API server refused to create the selected apps.
    AppsRejected {
        /// Apps.
        apps: AppSel,
    },
    /// At least `min` selected pods showed the text (waiting/scheduling/exit reason or message).
    PodsSaw {
        /// Pods.
        pods: PodSel,
        /// Text.
        text: String,
        /// Minimum.
        min: u32,
    },
    /// At least `min` selected pods were bound outside the groups.
    BoundOutside {
        /// Pods.
        pods: PodSel,
        /// Groups.
        groups: Vec<String>,
        /// Minimum.
        min: u32,
    },
    /// After the fault is healed, every unfinished app progresses (a state change or one of its
    /// pods starting) within the bound.
    Recovery {
        /// Fault id.
        fault: String,
        /// Bound.
        within: Dur,
        /// Apps.
        apps: AppSel,
    },
    /// Final app states.
    AppsEndIn {
        /// Apps.
        apps: AppSel,
        /// Allowed final states.
        states: Vec<AppState>,
    },
    /// Pods still Pending at the end, optionally for a given scheduling reason.
    PodsPending {
        /// Pods.
        pods: PodSel,
        /// Text expected in the last FailedScheduling message.
        reason: Option<String>,
    },
    /// A ScheduledSparkApplication started (and skipped) this many runs.
    ScheduledRuns {
        /// Its name or `namespace/name`.
        app: String,
        /// Bounds on runs started.
        runs: (Option<u32>, Option<u32>),
        /// Bounds on due runs that did not start.
        skipped: (Option<u32>, Option<u32>),
    },
    /// The upgrade completes within the bound of its start.
    UpgradeCompletes {
        /// Upgrade id.
        upgrade: String,
        /// Bound.
        within: Dur,
    },
    /// No app's run fails while its driver or executors were evicted by an upgrade.
    NoAppFailsBecauseOfUpgrade {
        /// Upgrade id (None: any).
        upgrade: Option<String>,
        /// Apps.
        apps: AppSel,
    },
    /// While the upgrade ran, the API server's rejections (webhook unavailable) spanned a
    /// window within bounds (no rejection: a window of 0s).
    RejectionWindow {
        /// Upgrade id.
        upgrade: String,
        /// At least.
        min: Option<Dur>,
        /// At most.
        max: Option<Dur>,
    },
    /// A latency objective.
    Slo {
        /// Metric.
        metric: Metric,
        /// Pods (pod metrics).
        pods: PodSel,
        /// Apps (app metrics).
        apps: AppSel,
        /// Quantile (50, 90, 99; 100 = max).
        quantile: u8,
        /// Bound.
        bound: Dur,
    },
}

/// A metric an SLO can bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// Pod created → all containers started (image pulls included).
    PodStartupLatency,
    /// The same, over pods the scheduler placed at their first attempt: the Kubernetes SLI's
    /// scope, which excludes pods that did not fit (waiting for the autoscaler).
    SchedulablePodStartupLatency,
    /// Pod created → bound.
    PodSchedulingLatency,
    /// App created → its first executor running.
    TimeToFirstExecutor,
    /// App created → its requested executors all running at once.
    TimeToAllExecutors,
    /// App created → terminal state.
    AppTurnaround,
    /// App created → SUBMITTED, first submission attempt only (the operator's
    /// `spark_application_submit_latency_seconds`).
    SubmitLatency,
    /// App created → RUNNING, first execution attempt only (the operator's
    /// `spark_application_start_latency_seconds`).
    StartLatency,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 8] = [
        Metric::PodStartupLatency,
        Metric::SchedulablePodStartupLatency,
        Metric::PodSchedulingLatency,
        Metric::TimeToFirstExecutor,
        Metric::TimeToAllExecutors,
        Metric::AppTurnaround,
        Metric::SubmitLatency,
        Metric::StartLatency,
    ];

    /// Scenario name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::PodStartupLatency => "pod-startup-latency",
            Metric::SchedulablePodStartupLatency => "schedulable-pod-startup-latency",
            Metric::PodSchedulingLatency => "pod-scheduling-latency",
            Metric::TimeToFirstExecutor => "time-to-first-executor",
            Metric::TimeToAllExecutors => "time-to-all-executors",
            Metric::AppTurnaround => "app-turnaround",
            Metric::SubmitLatency => "submit-latency",
            Metric::StartLatency => "start-latency",
        }
    }

    /// Whether it is measured per pod (else per app).
    pub fn per_pod(self) -> bool {
        matches!(self, Metric::PodStartupLatency | Metric::SchedulablePodStartupLatency | Metric::PodSchedulingLatency)
    }
}

impl Expectation {
    /// Short label for reports and JUnit test names.
    pub fn label(&self) -> String {
        match self {
            Expectation::OnlyOn { role, groups, apps: AppSel::All } => format!("{}s-only-on: {}", role.as_str(), groups.join(", ")),
            Expectation::OnlyOn { role, groups, apps } => format!("{}s of apps {apps} only on: {}", role.as_str(), groups.join(", ")),
            Expectation::DriversNeverOnInterruptible => "drivers-never-on-interruptible".into(),
            Expectation::TolerationsRespected => "tolerations-respected".into(),
            Expectation::LegalTransitions => "legal-transitions".into(),
            Expectation::StatesWithin { apps, states } => format!("apps {apps} only in {}", states_label(states)),
            Expectation::AppsReached { apps, state } => format!("apps {apps} reached {state}"),
            Expectation::AppsRejected { apps } => format!("apps {apps} rejected at creation"),
            Expectation::GroupSize { group, peak, min, max } => {
                let b = match (min, max) {
                    (Some(a), Some(b)) => format!("in [{a}, {b}]"),
                    (Some(a), None) => format!(">= {a}"),
                    (None, Some(b)) => format!("<= {b}"),
                    (None, None) => "any".into(),
                };
                format!("{group} {} nodes {b}", if *peak { "peak" } else { "final" })
            }
            Expectation::PodsSaw { pods, text, min } => format!("{min}+ {pods} pods saw \"{text}\""),
            Expectation::BoundOutside { pods, groups, min } => format!("{min}+ {pods} pods bound outside {}", groups.join(", ")),
            Expectation::Recovery { fault, within, apps } => format!("apps {apps} progress within {within} of healing {fault}"),
            Expectation::AppsEndIn { apps, states } => format!("apps {apps} end {}", states_label(states)),
            Expectation::PodsPending { pods, reason: Some(r) } => format!("{pods} pods stay Pending ({r})"),
            Expectation::PodsPending { pods, reason: None } => format!("{pods} pods stay Pending"),
            Expectation::ScheduledRuns { app, runs, skipped } => {
                let b = |(min, max): &(Option<u32>, Option<u32>)| match (min, max) {
                    (Some(a), Some(b)) => format!("in [{a}, {b}]"),
                    (Some(a), None) => format!(">= {a}"),
                    (None, Some(b)) => format!("<= {b}"),
                    (None, None) => "any".into(),
                };
                format!("scheduled {app}: runs {}, skipped {}", b(runs), b(skipped))
            }
            Expectation::UpgradeCompletes { upgrade, within } => format!("upgrade {upgrade} completes within {within}"),
            Expectation::NoAppFailsBecauseOfUpgrade { upgrade: Some(u), apps } => {
                format!("no app of {apps} fails because of upgrade {u}")
            }
            Expectation::NoAppFailsBecauseOfUpgrade { upgrade: None, apps } => format!("no app of {apps} fails because of an upgrade"),
            Expectation::RejectionWindow { upgrade, min, max } => {
                let b = match (min, max) {
                    (Some(a), Some(b)) => format!("in [{a}, {b}]"),
                    (Some(a), None) => format!(">= {a}"),
                    (None, Some(b)) => format!("<= {b}"),
                    (None, None) => "any".into(),
                };
                format!("rejection window during upgrade {upgrade} {b}")
            }
            Expectation::Slo { metric, pods, apps, quantile, bound } => {
                let q = if *quantile == 100 { "max".to_string() } else { format!("p{quantile}") };
                let over = if metric.per_pod() { format!("{pods} pods") } else { format!("apps {apps}") };
                format!("{} {q} <= {bound} ({over})", metric.name())
            }
        }
    }

    /// `invariant`, `outcome` or `slo`.
    pub fn kind(&self) -> &'static str {
        match self {
            Expectation::OnlyOn { .. }
            | Expectation::DriversNeverOnInterruptible
            | Expectation::TolerationsRespected
            | Expectation::LegalTransitions
            | Expectation::StatesWithin { .. } => "invariant",
            Expectation::AppsEndIn { .. }
            | Expectation::PodsPending { .. }
            | Expectation::AppsReached { .. }
            | Expectation::AppsRejected { .. }
            | Expectation::GroupSize { .. }
            | Expectation::PodsSaw { .. }
            | Expectation::BoundOutside { .. }
            | Expectation::ScheduledRuns { .. } => "outcome",
            Expectation::Slo { .. } => "slo",
            Expectation::Recovery { .. } => "recovery",
            Expectation::UpgradeCompletes { .. } | Expectation::NoAppFailsBecauseOfUpgrade { .. } | Expectation::RejectionWindow { .. } => {
                "upgrade"
            }
        }
    }
}

impl Scenario {
    /// Every app the scenario creates, with its template, as it would be submitted (renamed,
    /// version override applied).
    pub fn generated_apps(&self) -> Vec<SparkApplication> {
        let mut names: Vec<(usize, &str)> = self.arrivals.iter().map(|a| (a.template, a.name.as_str())).collect();
        for s in &self.steps {
            if let Step::Submit { template, names: n } = s {
                names.extend(n.iter().map(|x| (*template, x.as_str())));
            }
        }
        names.into_iter().map(|(t, n)| self.templates[t].app.renamed(n)).collect()
    }
}
