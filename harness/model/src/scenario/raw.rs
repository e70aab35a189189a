//! Stage 1: the scenario file exactly as written. These types only deserialise; every default,
//! reference and cross-check is resolved in [`super::load`]. Unknown fields are rejected.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::kube::{Labels, Toleration};
use crate::time::Dur;
use crate::topology::RawTopology;
use crate::upgrade::IntOrPercent;

/// A scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawScenario {
    /// `sparkrig.io/v1alpha1`.
    #[serde(default)]
    pub api_version: Option<String>,
    /// `Scenario`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Name.
    pub name: String,
    /// What it rehearses.
    #[serde(default)]
    pub description: Option<String>,
    /// Simulator seed (default 1; `--seed` overrides).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Topology name, file, or inline definition.
    pub topology: RawTopologyRef,
    /// What is deployed.
    #[serde(default)]
    pub stack: RawStack,
    /// Applications and when they arrive.
    #[serde(default)]
    pub workload: Vec<RawWorkload>,
    /// The timeline.
    #[serde(default)]
    pub steps: Vec<RawStep>,
    /// Expectations.
    #[serde(default)]
    pub expect: RawExpect,
    /// Simulator knobs (timings); ignored by real backends.
    #[serde(default)]
    pub sim: RawSim,
    /// Hard stop for the whole run (default 24h of scenario time).
    #[serde(default)]
    pub max_duration: Option<Dur>,
}

/// `topology: data-platform` (a name or path) or an inline topology.
#[derive(Debug, Clone)]
pub enum RawTopologyRef {
    /// Name under `fixtures/topologies/` or a path.
    Named(String),
    /// Inline.
    Inline(Box<RawTopology>),
}

impl<'de> Deserialize<'de> for RawTopologyRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawTopologyRef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a topology name or path, or an inline topology")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(RawTopologyRef::Named(s.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RawTopology::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| RawTopologyRef::Inline(Box::new(t)))
            }
        }
        d.deserialize_any(V)
    }
}

/// `stack`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawStack {
    /// Kubernetes.
    #[serde(default)]
    pub kubernetes: Option<RawKubernetes>,
    /// Spark Operator.
    #[serde(default)]
    pub spark_operator: Option<RawOperator>,
    /// Spark version override for every app.
    #[serde(default)]
    pub spark: Option<RawSpark>,
    /// CoreDNS.
    #[serde(default)]
    pub coredns: Option<RawComponent>,
    /// MinIO (S3).
    #[serde(default)]
    pub minio: Option<RawComponent>,
    /// Private registry.
    #[serde(default)]
    pub registry: Option<RawComponent>,
    /// Spark History Server.
    #[serde(default)]
    pub history_server: Option<RawComponent>,
    /// kube-scheduler client budget.
    #[serde(default)]
    pub scheduler: Option<RawScheduler>,
    /// Cluster Autoscaler.
    #[serde(default)]
    pub autoscaler: Option<RawAutoscaler>,
    /// Namespaces with their ResourceQuotas and LimitRanges (others exist without either).
    #[serde(default)]
    pub namespaces: Vec<RawNamespace>,
    /// PriorityClasses (besides `system-cluster-critical` and `system-node-critical`).
    #[serde(default)]
    pub priority_classes: Vec<RawPriorityClass>,
    /// PodDisruptionBudgets besides the components' own (`podDisruptionBudget` on each).
    #[serde(default)]
    pub pod_disruption_budgets: Vec<RawPdb>,
}

/// `stack.namespaces[]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawNamespace {
    /// Name.
    pub name: String,
    /// Labels.
    #[serde(default)]
    pub labels: Labels,
    /// ResourceQuotas.
    #[serde(default)]
    pub resource_quotas: Vec<RawResourceQuota>,
    /// LimitRanges.
    #[serde(default)]
    pub limit_ranges: Vec<RawLimitRange>,
}

/// A ResourceQuota (`metadata.name` and `spec` flattened).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawResourceQuota {
    /// Name.
    pub name: String,
    /// `spec.hard`: `requests.cpu`, `requests.memory`, `limits.cpu`, `limits.memory`, `cpu`,
    /// `memory`, `pods`, `count/pods`.
    pub hard: std::collections::BTreeMap<String, crate::topology::NumOrString>,
    /// `spec.scopes`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `spec.scopeSelector`.
    #[serde(default)]
    pub scope_selector: Option<RawScopeSelector>,
}

/// `spec.scopeSelector`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawScopeSelector {
    /// Requirements (ANDed).
    pub match_expressions: Vec<RawScopeRequirement>,
}

/// `scopeSelector.matchExpressions[]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawScopeRequirement {
    /// Scope.
    pub scope_name: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`.
    pub operator: String,
    /// Values.
    #[serde(default)]
    pub values: Vec<String>,
}

/// A LimitRange (`metadata.name` and `spec` flattened).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawLimitRange {
    /// Name.
    pub name: String,
    /// Items.
    pub limits: Vec<RawLimitRangeItem>,
}

/// One LimitRange item.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawLimitRangeItem {
    /// `Container` or `Pod`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Default limits.
    #[serde(default)]
    pub default: std::collections::BTreeMap<String, crate::topology::NumOrString>,
    /// Default requests.
    #[serde(default)]
    pub default_request: std::collections::BTreeMap<String, crate::topology::NumOrString>,
    /// Minimum requests.
    #[serde(default)]
    pub min: std::collections::BTreeMap<String, crate::topology::NumOrString>,
    /// Maximum limits.
    #[serde(default)]
    pub max: std::collections::BTreeMap<String, crate::topology::NumOrString>,
    /// Limit / request ratio bounds.
    #[serde(default)]
    pub max_limit_request_ratio: std::collections::BTreeMap<String, crate::topology::NumOrString>,
}

/// A PriorityClass.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPriorityClass {
    /// Name.
    pub name: String,
    /// Value (user classes at most 1,000,000,000).
    pub value: i64,
    /// Pods without a class get this one.
    #[serde(default)]
    pub global_default: bool,
    /// `PreemptLowerPriority` (default) or `Never`.
    #[serde(default)]
    pub preemption_policy: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// A component's PodDisruptionBudget: exactly one of `minAvailable` and `maxUnavailable`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawBudget {
    /// `minAvailable`: a count or a percentage.
    #[serde(default)]
    pub min_available: Option<IntOrPercent>,
    /// `maxUnavailable`: a count or a percentage.
    #[serde(default)]
    pub max_unavailable: Option<IntOrPercent>,
}

/// A PodDisruptionBudget over any pods (`stack.podDisruptionBudgets[]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPdb {
    /// Name.
    pub name: String,
    /// Namespace (default `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// `matchLabels`.
    pub selector: Labels,
    /// `minAvailable`.
    #[serde(default)]
    pub min_available: Option<IntOrPercent>,
    /// `maxUnavailable`.
    #[serde(default)]
    pub max_unavailable: Option<IntOrPercent>,
}

/// `stack.autoscaler` (Cluster Autoscaler flags).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAutoscaler {
    /// Deployed (default: when a nodegroup has max > min).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `--scan-interval`.
    #[serde(default)]
    pub scan_interval: Option<Dur>,
    /// `--expander`.
    #[serde(default)]
    pub expander: Option<Expander>,
    /// `--scale-down-enabled`.
    #[serde(default)]
    pub scale_down: Option<bool>,
    /// `--scale-down-unneeded-time`.
    #[serde(default)]
    pub scale_down_unneeded_time: Option<Dur>,
    /// `--scale-down-delay-after-add`.
    #[serde(default)]
    pub scale_down_delay_after_add: Option<Dur>,
    /// `--scale-down-utilization-threshold`.
    #[serde(default)]
    pub scale_down_utilization_threshold: Option<f64>,
    /// Time from a scale-up until the node registers, for groups that do not set `provisioning`.
    #[serde(default)]
    pub provisioning: Option<Dur>,
    /// Time from registration until the node is Ready.
    #[serde(default)]
    pub node_ready: Option<Dur>,
}

/// `--expander`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expander {
    /// Least idle CPU and memory after the scale-up (default since CA 1.33).
    LeastWaste,
    /// Uniformly random among the options (default up to CA 1.32).
    Random,
    /// The option that schedules the most pods.
    MostPods,
    /// The option with the fewest nodes.
    LeastNodes,
}

/// `stack.kubernetes`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawKubernetes {
    /// `1.34` etc.
    pub version: String,
}

/// `stack.sparkOperator`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawOperator {
    /// Chart/app version.
    #[serde(default)]
    pub version: Option<String>,
    /// Controller replicas (more = warm standbys).
    #[serde(default)]
    pub replicas: Option<u32>,
    /// `controller.workers`.
    #[serde(default)]
    pub workers: Option<u32>,
    /// Wall time of one spark-submit JVM.
    #[serde(default)]
    pub submit_time: Option<Dur>,
    /// Webhook.
    #[serde(default)]
    pub webhook: Option<RawWebhook>,
    /// `spark.jobNamespaces`.
    #[serde(default)]
    pub job_namespaces: Option<Vec<String>>,
    /// Controller and webhook placement.
    #[serde(default)]
    pub placement: Option<RawPlacement>,
    /// Service accounts that exist in the job namespaces (besides `default` and the chart's
    /// `spark-operator-spark`).
    #[serde(default)]
    pub service_accounts: Vec<String>,
    /// `controller.priorityClassName` and `webhook.priorityClassName`.
    #[serde(default)]
    pub priority_class_name: Option<String>,
    /// `controller.podDisruptionBudget` (the chart requires more than one replica).
    #[serde(default)]
    pub pod_disruption_budget: Option<RawBudget>,
    /// `controller.driverPodDisruptionBudget.enable` (`--enable-driver-pdb`, operator master):
    /// a PDB with `minAvailable: 1` on every driver.
    #[serde(default)]
    pub driver_pod_disruption_budget: Option<bool>,
}

/// `stack.sparkOperator.webhook`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawWebhook {
    /// `webhook.enable`.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `webhook.failurePolicy`.
    #[serde(default)]
    pub failure_policy: Option<FailurePolicy>,
    /// Replicas.
    #[serde(default)]
    pub replicas: Option<u32>,
    /// `webhook.resourceQuotaEnforcement.enable`: the SparkApplication validator denies apps
    /// whose driver and executors would exceed a scope-less ResourceQuota.
    #[serde(default)]
    pub resource_quota_enforcement: Option<bool>,
    /// `webhook.podDisruptionBudget` (the chart requires more than one replica).
    #[serde(default)]
    pub pod_disruption_budget: Option<RawBudget>,
}

/// Admission webhook failure policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum FailurePolicy {
    /// Reject the request when the webhook cannot be called (chart default).
    Fail,
    /// Admit the request unmutated.
    Ignore,
}

/// `stack.spark`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSpark {
    /// Overrides every app's `sparkVersion`.
    #[serde(default)]
    pub version: Option<String>,
}

/// A platform component.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawComponent {
    /// Deployed at all.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Replicas.
    #[serde(default)]
    pub replicas: Option<u32>,
    /// Placement.
    #[serde(default)]
    pub placement: Option<RawPlacement>,
    /// `priorityClassName` of its pods.
    #[serde(default)]
    pub priority_class_name: Option<String>,
    /// A PodDisruptionBudget over its pods.
    #[serde(default)]
    pub pod_disruption_budget: Option<RawBudget>,
}

/// Where a component runs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPlacement {
    /// Pin to a nodegroup (node selector on the group label, tolerating the group's taints).
    #[serde(default)]
    pub nodegroup: Option<String>,
    /// Extra node selector.
    #[serde(default)]
    pub node_selector: Labels,
    /// Extra tolerations.
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
}

/// `stack.scheduler`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawScheduler {
    /// Client QPS (bindings).
    #[serde(default)]
    pub qps: Option<u32>,
    /// Client burst.
    #[serde(default)]
    pub burst: Option<u32>,
}

/// One workload entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawWorkload {
    /// SparkApplication manifest.
    pub app: String,
    /// Name prefix (default: the manifest's name); instances are `<name>-<n>` when count > 1.
    #[serde(default)]
    pub name: Option<String>,
    /// Instances (default 1).
    #[serde(default)]
    pub count: Option<u32>,
    /// First arrival (default 0s).
    #[serde(default)]
    pub at: Option<Dur>,
    /// Spacing between instances (default: all at once).
    #[serde(default)]
    pub every: Option<Dur>,
    /// What each app computes (simulator).
    #[serde(default)]
    pub work: Option<RawWork>,
    /// An arrival pattern (instead of `count`/`at`/`every`).
    #[serde(default)]
    pub arrival: Option<RawArrival>,
}

/// When instances of a workload entry arrive.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawArrival {
    /// `count` apps at once.
    Burst(RawBurst),
    /// One app every `every`, from `from` until `until`.
    Rate(RawRate),
    /// A Poisson process of `perHour` apps, from `from` until `until` (seeded).
    Poisson(RawPoisson),
    /// Piecewise Poisson rates over the day, e.g. a quiet weekend then a Monday morning wave.
    Schedule(Vec<RawWindow>),
}

/// `burst`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawBurst {
    /// When.
    pub at: Dur,
    /// How many.
    pub count: u32,
}

/// `rate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRate {
    /// Spacing.
    pub every: Dur,
    /// Start (default 0s).
    #[serde(default)]
    pub from: Option<Dur>,
    /// End (exclusive).
    pub until: Dur,
}

/// `poisson`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPoisson {
    /// Mean arrivals per hour.
    pub per_hour: f64,
    /// Start (default 0s).
    #[serde(default)]
    pub from: Option<Dur>,
    /// End (exclusive).
    pub until: Dur,
}

/// One window of a `schedule`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawWindow {
    /// Start.
    pub from: Dur,
    /// End (exclusive).
    pub until: Dur,
    /// Mean arrivals per hour in the window (Poisson).
    pub per_hour: f64,
}

/// The work an app does: `tasks` tasks of `taskDuration` each, spread over executor cores.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawWork {
    /// Tasks (default: 20 per executor core).
    #[serde(default)]
    pub tasks: Option<u32>,
    /// Duration of one task (default 1s).
    #[serde(default)]
    pub task_duration: Option<Dur>,
}

/// One step of the timeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawStep {
    /// Create apps now.
    Submit(RawSubmit),
    /// Wait for a condition, with a timeout.
    Wait(RawWait),
    /// Let time pass.
    Sleep(Dur),
    /// Inject a fault from the catalog.
    Inject(RawInject),
    /// Heal a fault by id.
    Heal(String),
    /// Merge-patch the spec of apps (`suspend`, or a change that invalidates and reruns them).
    Patch(RawPatch),
    /// Upgrade a nodegroup, the Spark Operator chart or the control plane; the step ends when
    /// the upgrade does.
    Upgrade(RawUpgrade),
}

/// `upgrade`: exactly one of `nodegroup`, `sparkOperator` and `kubernetes`, with the
/// parameters of that target.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawUpgrade {
    /// Id for expectations (default: the nodegroup's name, `spark-operator` or `kubernetes`).
    #[serde(default)]
    pub id: Option<String>,
    /// A nodegroup to roll to new nodes.
    #[serde(default)]
    pub nodegroup: Option<String>,
    /// The Spark Operator chart version to upgrade to.
    #[serde(default)]
    pub spark_operator: Option<String>,
    /// The Kubernetes minor to move the control plane to (`1.35`).
    #[serde(default)]
    pub kubernetes: Option<String>,
    /// nodegroup: kubelet version of the new nodes (default: the control plane's).
    #[serde(default)]
    pub version: Option<String>,
    /// nodegroup: `rolling` (EKS managed nodegroup default), `minimal` (EKS MINIMAL) or
    /// `drift` (Karpenter).
    #[serde(default)]
    pub strategy: Option<RawNodeStrategy>,
    /// nodegroup, rolling: nodes updated at once, a count or a percentage (default 1).
    #[serde(default)]
    pub max_unavailable: Option<IntOrPercent>,
    /// nodegroup, rolling: new nodes launched first (default max(2 × zones, maxUnavailable)).
    #[serde(default)]
    pub surge: Option<u32>,
    /// nodegroup, rolling: evict ignoring PodDisruptionBudgets (`--force`).
    #[serde(default)]
    pub force: Option<bool>,
    /// nodegroup, drift: the disruption budget in nodes (default 10%).
    #[serde(default)]
    pub budget: Option<IntOrPercent>,
    /// sparkOperator: `hook.upgradeCrd` (default false).
    #[serde(default)]
    pub upgrade_crds: Option<bool>,
    /// kubernetes: how long the API server instances take to be replaced.
    #[serde(default)]
    pub duration: Option<Dur>,
}

/// `strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawNodeStrategy {
    /// EKS managed nodegroup rolling update.
    Rolling,
    /// EKS managed nodegroup `updateStrategy: MINIMAL`.
    Minimal,
    /// Karpenter drift replacement.
    Drift,
}

/// `inject: coredns-down` or `inject: {fault: node-loss, ...}`.
#[derive(Debug, Clone)]
pub enum RawInject {
    /// Just the name.
    Name(String),
    /// Name and parameters.
    Full(Box<RawFault>),
}

impl<'de> Deserialize<'de> for RawInject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawInject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a fault name or a map with `fault` and its parameters")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(RawInject::Name(s.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RawFault::deserialize(de::value::MapAccessDeserializer::new(map)).map(|f| RawInject::Full(Box::new(f)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A fault with parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawFault {
    /// Catalog name.
    pub fault: String,
    /// Id for `heal` (default: the name).
    #[serde(default)]
    pub id: Option<String>,
    /// One node.
    #[serde(default)]
    pub node: Option<String>,
    /// A nodegroup.
    #[serde(default)]
    pub nodegroup: Option<String>,
    /// How many nodes or pods.
    #[serde(default)]
    pub count: Option<u32>,
    /// node-loss: delete the Node objects after this long.
    #[serde(default)]
    pub delete_after: Option<Dur>,
    /// spot-interruption: notice before termination.
    #[serde(default)]
    pub notice: Option<Dur>,
    /// spot-interruption: cordon and drain at the notice.
    #[serde(default)]
    pub drain: Option<bool>,
    /// pod-kill: the drivers of these apps.
    #[serde(default)]
    pub driver_of: Option<String>,
    /// pod-kill: the executors of these apps.
    #[serde(default)]
    pub executors_of: Option<String>,
    /// pod-kill: pods with these labels.
    #[serde(default)]
    pub selector: Option<Labels>,
    /// pod-kill: grace period 0.
    #[serde(default)]
    pub force: Option<bool>,
}

/// `patch`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPatch {
    /// Apps.
    pub apps: String,
    /// A JSON merge patch of `spec`.
    pub spec: serde_json::Value,
}

/// `submit`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSubmit {
    /// Manifest.
    pub app: String,
    /// Name prefix.
    #[serde(default)]
    pub name: Option<String>,
    /// Instances.
    #[serde(default)]
    pub count: Option<u32>,
    /// Work.
    #[serde(default)]
    pub work: Option<RawWork>,
}

/// `wait`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawWait {
    /// Which apps (`all`, a name, or a glob like `etl-*`).
    #[serde(default)]
    pub apps: Option<String>,
    /// Apps currently in this state (`terminal` = COMPLETED or FAILED).
    #[serde(default)]
    pub state: Option<String>,
    /// Apps that have been in this state at some point.
    #[serde(default)]
    pub reached: Option<String>,
    /// Which pods (`drivers`, `executors`, `spark`, a component, or a glob).
    #[serde(default)]
    pub pods: Option<String>,
    /// Pods in this phase (`Pending`, `Running`, `Succeeded`, `Failed`).
    #[serde(default)]
    pub phase: Option<String>,
    /// At least this many matching pods (default: all selected).
    #[serde(default)]
    pub count: Option<u32>,
    /// Give up after this long.
    pub timeout: Dur,
}

/// `expect`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawExpect {
    /// Must hold at every instant.
    #[serde(default)]
    pub invariants: Vec<RawInvariant>,
    /// Must hold at the end.
    #[serde(default)]
    pub outcomes: Vec<RawOutcome>,
    /// Latency objectives.
    #[serde(default)]
    pub slos: Vec<RawSlo>,
    /// Recovery after a fault is healed.
    #[serde(default)]
    pub recovery: Vec<RawRecovery>,
    /// How upgrades went.
    #[serde(default)]
    pub upgrades: Vec<RawUpgradeExpect>,
}

/// `upgrades[]`: checks on one upgrade step (or, for `noAppFails`, on every one).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawUpgradeExpect {
    /// The upgrade's id (`noAppFails` alone: default every upgrade).
    #[serde(default)]
    pub upgrade: Option<String>,
    /// The upgrade completes within this long of its start.
    #[serde(default)]
    pub completes_within: Option<Dur>,
    /// No app's run fails while its driver or executors were evicted by the upgrade.
    #[serde(default)]
    pub no_app_fails: Option<bool>,
    /// With `noAppFails`: which apps (default all).
    #[serde(default)]
    pub apps: Option<String>,
    /// The window during which the API server rejected apps or Spark pods (webhook
    /// unavailable) while the upgrade ran: its length within bounds.
    #[serde(default)]
    pub rejection_window: Option<RawDurBounds>,
}

/// `{min: 1s, max: 2m}`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDurBounds {
    /// At least.
    #[serde(default)]
    pub min: Option<Dur>,
    /// At most.
    #[serde(default)]
    pub max: Option<Dur>,
}

/// `recovery`: after `fault` is healed, every app not yet finished progresses within `within`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRecovery {
    /// Fault id.
    pub fault: String,
    /// Bound.
    pub within: Dur,
    /// Apps (default all).
    #[serde(default)]
    pub apps: Option<String>,
}

/// `states-within`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawStatesWithin {
    /// Apps (default all).
    #[serde(default)]
    pub apps: Option<String>,
    /// Allowed states.
    pub states: Vec<String>,
}

/// An invariant.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawInvariant {
    /// Executors are only ever bound to these nodegroups.
    ExecutorsOnlyOn(RawOnlyOn),
    /// Drivers are only ever bound to these nodegroups.
    DriversOnlyOn(RawOnlyOn),
    /// No driver on spot capacity.
    DriversNeverOnInterruptible,
    /// No pod bound to a node with a NoSchedule/NoExecute taint it does not tolerate.
    TolerationsRespected,
    /// Apps only ever take the operator's legal transitions.
    LegalTransitions,
    /// Apps only ever are in these states.
    StatesWithin(RawStatesWithin),
}

/// `executors-only-on: spark-executor`, a list, or `{nodegroups: [...], apps: "etl-*"}`.
#[derive(Debug, Clone)]
pub enum RawOnlyOn {
    /// Groups, for every app.
    Groups(OneOrMany),
    /// Groups for some apps.
    Scoped(RawScopedOnlyOn),
}

/// The map form of `executors-only-on` / `drivers-only-on`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawScopedOnlyOn {
    /// Groups.
    pub nodegroups: OneOrMany,
    /// Apps.
    pub apps: String,
}

impl<'de> Deserialize<'de> for RawOnlyOn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawOnlyOn;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a nodegroup, a list of nodegroups, or {nodegroups, apps}")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(RawOnlyOn::Groups(OneOrMany::One(s.to_string())))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<String>::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(|v| RawOnlyOn::Groups(OneOrMany::Many(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RawScopedOnlyOn::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawOnlyOn::Scoped)
            }
        }
        d.deserialize_any(V)
    }
}

/// A name or a list of names.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl OneOrMany {
    /// As a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// An outcome.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawOutcome {
    /// Apps (`all`, name, glob).
    #[serde(default)]
    pub apps: Option<String>,
    /// Their final state (a state, a list, or `terminal`).
    #[serde(default)]
    pub state: Option<OneOrMany>,
    /// Pods (`drivers`, `executors`, ...).
    #[serde(default)]
    pub pods: Option<String>,
    /// Pods still Pending at the end, with this text in their last scheduling failure.
    #[serde(default)]
    pub pending: Option<String>,
    /// Apps that were in this state at some point.
    #[serde(default)]
    pub reached: Option<String>,
    /// Pods that showed this text (waiting reason, scheduling failure, exit reason or message).
    #[serde(default)]
    pub saw: Option<String>,
    /// Pods bound outside these nodegroups at least once.
    #[serde(default)]
    pub bound_outside: Option<OneOrMany>,
    /// A nodegroup whose size is bounded (with `peak` and/or `final`).
    #[serde(default)]
    pub nodegroup: Option<String>,
    /// Bounds on the most nodes the group had at once.
    #[serde(default)]
    pub peak: Option<RawBounds>,
    /// Bounds on the group's nodes at the end.
    #[serde(default, rename = "final")]
    pub final_nodes: Option<RawBounds>,
    /// Apps the API server refused to create (`rejected: true`).
    #[serde(default)]
    pub rejected: Option<bool>,
    /// With `saw` / `boundOutside`: at least this many pods (default 1).
    #[serde(default)]
    pub count: Option<u32>,
    /// A ScheduledSparkApplication (name or `namespace/name`), with `runs` and/or `skipped`.
    #[serde(default)]
    pub scheduled: Option<String>,
    /// Bounds on the runs it started.
    #[serde(default)]
    pub runs: Option<RawBounds>,
    /// Bounds on its due runs that did not start (concurrencyPolicy).
    #[serde(default)]
    pub skipped: Option<RawBounds>,
}

/// `{min: N, max: M}`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBounds {
    /// At least.
    #[serde(default)]
    pub min: Option<u32>,
    /// At most.
    #[serde(default)]
    pub max: Option<u32>,
}

/// A latency objective.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSlo {
    /// Metric name.
    pub metric: String,
    /// Pods the metric is taken over (pod metrics).
    #[serde(default)]
    pub pods: Option<String>,
    /// Apps the metric is taken over (app metrics).
    #[serde(default)]
    pub apps: Option<String>,
    /// Bound on the median.
    #[serde(default)]
    pub p50: Option<Dur>,
    /// Bound on the 90th percentile.
    #[serde(default)]
    pub p90: Option<Dur>,
    /// Bound on the 99th percentile.
    #[serde(default)]
    pub p99: Option<Dur>,
    /// Bound on the maximum.
    #[serde(default)]
    pub max: Option<Dur>,
}

/// `sim`: simulator timings (defaults and their sources are in the simulator's `Timings`).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSim {
    /// Pulling a Spark image onto a node that does not have it.
    #[serde(default)]
    pub image_pull: Option<Dur>,
    /// Container start after the image is present.
    #[serde(default)]
    pub container_start: Option<Dur>,
    /// JVM start until the SparkContext is up (driver) or the executor registered.
    #[serde(default)]
    pub jvm_start: Option<Dur>,
    /// One pod-create API call.
    #[serde(default)]
    pub api_call: Option<Dur>,
}
