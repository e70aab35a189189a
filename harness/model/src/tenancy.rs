//! Multi-tenancy objects as the API server keeps them: namespaces with `ResourceQuota`s and
//! `LimitRange`s, and `PriorityClass`es (reference/platform-ops.md §2–3). Validated by the
//! scenario loader ([`crate::scenario`]); the simulator's admission and quota controller read
//! them.
//!
//! Quantities are integers: CPU in millicores, memory in bytes, counts as counts. They are
//! printed in the API server's canonical form ([`format_quantity`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::kube::Labels;

/// A resource a `ResourceQuota` can limit for pods (`pkg/quota/v1/evaluator/core/pods.go`).
/// Declared in the order of their names, so sorted maps print as the API server's
/// `prettyPrint` does (keys sorted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum QuotaResource {
    /// `count/pods`: every pod object in storage.
    CountPods,
    /// `cpu` (= `requests.cpu`).
    Cpu,
    /// `limits.cpu`.
    LimitsCpu,
    /// `limits.memory`.
    LimitsMemory,
    /// `memory` (= `requests.memory`).
    Memory,
    /// `pods`: non-terminal pods.
    Pods,
    /// `requests.cpu`.
    RequestsCpu,
    /// `requests.memory`.
    RequestsMemory,
}

impl QuotaResource {
    /// Every resource, in name order.
    pub const ALL: [QuotaResource; 8] = [
        QuotaResource::CountPods,
        QuotaResource::Cpu,
        QuotaResource::LimitsCpu,
        QuotaResource::LimitsMemory,
        QuotaResource::Memory,
        QuotaResource::Pods,
        QuotaResource::RequestsCpu,
        QuotaResource::RequestsMemory,
    ];

    /// The API name.
    pub fn name(self) -> &'static str {
        match self {
            QuotaResource::CountPods => "count/pods",
            QuotaResource::Cpu => "cpu",
            QuotaResource::LimitsCpu => "limits.cpu",
            QuotaResource::LimitsMemory => "limits.memory",
            QuotaResource::Memory => "memory",
            QuotaResource::Pods => "pods",
            QuotaResource::RequestsCpu => "requests.cpu",
            QuotaResource::RequestsMemory => "requests.memory",
        }
    }

    /// Parses an API name.
    pub fn parse(s: &str) -> Option<QuotaResource> {
        QuotaResource::ALL.into_iter().find(|r| r.name() == s)
    }

    /// What kind of quantity it is.
    pub fn unit(self) -> Unit {
        match self {
            QuotaResource::Cpu | QuotaResource::RequestsCpu | QuotaResource::LimitsCpu => Unit::Cpu,
            QuotaResource::Memory | QuotaResource::RequestsMemory | QuotaResource::LimitsMemory => Unit::Memory,
            QuotaResource::Pods | QuotaResource::CountPods => Unit::Count,
        }
    }

    /// The compute resources whose presence in `hard` makes every container state the matching
    /// request or limit (`Constraints` of the pod evaluator): (resource, a limit rather than a
    /// request, cpu rather than memory).
    pub fn constraint(self) -> Option<(bool, bool)> {
        match self {
            QuotaResource::Cpu | QuotaResource::RequestsCpu => Some((false, true)),
            QuotaResource::Memory | QuotaResource::RequestsMemory => Some((false, false)),
            QuotaResource::LimitsCpu => Some((true, true)),
            QuotaResource::LimitsMemory => Some((true, false)),
            _ => None,
        }
    }
}

impl fmt::Display for QuotaResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The kind of a quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Millicores.
    Cpu,
    /// Bytes.
    Memory,
    /// A count.
    Count,
}

/// A quantity in the API server's canonical form: CPU as whole cores or `<n>m`; memory with the
/// largest binary suffix that divides it (`1408Mi`, `64Gi`), else bytes; counts as integers.
pub fn format_quantity(unit: Unit, v: i64) -> String {
    match unit {
        Unit::Count => v.to_string(),
        Unit::Cpu if v % 1000 == 0 => (v / 1000).to_string(),
        Unit::Cpu => format!("{v}m"),
        Unit::Memory => {
            if v == 0 {
                return "0".into();
            }
            for (shift, suffix) in [(60, "Ei"), (50, "Pi"), (40, "Ti"), (30, "Gi"), (20, "Mi"), (10, "Ki")] {
                if v % (1i64 << shift) == 0 {
                    return format!("{}{suffix}", v >> shift);
                }
            }
            v.to_string()
        }
    }
}

/// A resource list printed as `k=v,k=v` with sorted keys (`prettyPrint` in the quota admission
/// plugin's `controller.go`).
pub fn pretty_print(list: &BTreeMap<QuotaResource, i64>) -> String {
    list.iter().map(|(r, v)| format!("{r}={}", format_quantity(r.unit(), *v))).collect::<Vec<_>>().join(",")
}

/// A quota scope (`spec.scopes` entries are `Exists` selectors on these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum ScopeName {
    /// Pods with `activeDeadlineSeconds >= 0`.
    Terminating,
    /// Pods without it (every Spark and platform pod).
    NotTerminating,
    /// QoS BestEffort pods (no requests or limits).
    BestEffort,
    /// Pods with some request or limit.
    NotBestEffort,
    /// Pods by `priorityClassName`.
    PriorityClass,
    /// Pods with cross-namespace pod affinity (none here).
    CrossNamespacePodAffinity,
}

impl ScopeName {
    /// Every scope.
    pub const ALL: [ScopeName; 6] = [
        ScopeName::Terminating,
        ScopeName::NotTerminating,
        ScopeName::BestEffort,
        ScopeName::NotBestEffort,
        ScopeName::PriorityClass,
        ScopeName::CrossNamespacePodAffinity,
    ];

    /// API name.
    pub fn name(self) -> &'static str {
        match self {
            ScopeName::Terminating => "Terminating",
            ScopeName::NotTerminating => "NotTerminating",
            ScopeName::BestEffort => "BestEffort",
            ScopeName::NotBestEffort => "NotBestEffort",
            ScopeName::PriorityClass => "PriorityClass",
            ScopeName::CrossNamespacePodAffinity => "CrossNamespacePodAffinity",
        }
    }
}

/// A scope selector operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ScopeOperator {
    /// Value in the list.
    In,
    /// Value not in the list.
    NotIn,
    /// Any value.
    Exists,
    /// No value.
    DoesNotExist,
}

/// One `scopeSelector.matchExpressions` entry (or a `spec.scopes` entry, as `Exists`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeRequirement {
    /// Scope.
    pub scope: ScopeName,
    /// Operator.
    pub operator: ScopeOperator,
    /// Values (`In`/`NotIn` on the PriorityClass scope).
    pub values: Vec<String>,
}

/// What a quota's scopes need to know about a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodScopeFacts<'a> {
    /// `activeDeadlineSeconds` is set.
    pub terminating: bool,
    /// QoS BestEffort.
    pub best_effort: bool,
    /// `spec.priorityClassName` after admission.
    pub priority_class: Option<&'a str>,
}

impl ScopeRequirement {
    /// Whether a pod is in this scope (`podMatchesScopeFunc`).
    pub fn matches(&self, pod: &PodScopeFacts<'_>) -> bool {
        let has = match self.scope {
            ScopeName::Terminating => pod.terminating,
            ScopeName::NotTerminating => !pod.terminating,
            ScopeName::BestEffort => pod.best_effort,
            ScopeName::NotBestEffort => !pod.best_effort,
            ScopeName::CrossNamespacePodAffinity => false,
            ScopeName::PriorityClass => {
                return match (self.operator, pod.priority_class) {
                    (ScopeOperator::Exists, p) => p.is_some(),
                    (ScopeOperator::DoesNotExist, p) => p.is_none(),
                    (ScopeOperator::In, Some(p)) => self.values.iter().any(|v| v == p),
                    (ScopeOperator::In, None) => false,
                    (ScopeOperator::NotIn, Some(p)) => !self.values.iter().any(|v| v == p),
                    (ScopeOperator::NotIn, None) => true,
                };
            }
        };
        match self.operator {
            ScopeOperator::Exists | ScopeOperator::In => has,
            ScopeOperator::DoesNotExist | ScopeOperator::NotIn => !has,
        }
    }
}

/// A `ResourceQuota`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceQuota {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// `spec.hard`.
    pub hard: BTreeMap<QuotaResource, i64>,
    /// `spec.scopes` and `spec.scopeSelector`, all of which must match.
    pub scopes: Vec<ScopeRequirement>,
}

impl ResourceQuota {
    /// Whether the quota covers a pod.
    pub fn covers(&self, pod: &PodScopeFacts<'_>) -> bool {
        self.scopes.iter().all(|s| s.matches(pod))
    }
}

/// A `LimitRange` item type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LimitType {
    /// Per container: defaults, min, max, ratio.
    Container,
    /// Per pod (sums over containers): min, max, ratio.
    Pod,
}

impl LimitType {
    /// API name.
    pub fn name(self) -> &'static str {
        match self {
            LimitType::Container => "Container",
            LimitType::Pod => "Pod",
        }
    }
}

/// CPU (millicores) and memory (bytes), either of which may be unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CpuMem {
    /// Millicores.
    pub cpu: Option<i64>,
    /// Bytes.
    pub memory: Option<i64>,
}

impl CpuMem {
    /// The value for cpu (`true`) or memory.
    pub fn get(&self, cpu: bool) -> Option<i64> {
        if cpu { self.cpu } else { self.memory }
    }
}

/// One `LimitRange` item, with the object defaulting of `SetDefaults_LimitRangeItem` applied:
/// `default` ← `max`, then `defaultRequest` ← `default`, then ← `min` (Container items only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitRangeItem {
    /// Type.
    pub kind: LimitType,
    /// Default limit.
    pub default: CpuMem,
    /// Default request.
    pub default_request: CpuMem,
    /// Minimum request.
    pub min: CpuMem,
    /// Maximum limit.
    pub max: CpuMem,
    /// Limit / request ratio bound (as a decimal text, e.g. `2` or `1.5`, and its value × 1000).
    pub max_ratio_milli: BTreeMap<String, i64>,
}

impl LimitRangeItem {
    /// Applies `SetDefaults_LimitRangeItem` (`pkg/apis/core/v1/defaults.go`).
    pub fn defaulted(mut self) -> LimitRangeItem {
        if self.kind == LimitType::Container {
            for cpu in [true, false] {
                let (d, dr, min, max) = (self.default.get(cpu), self.default_request.get(cpu), self.min.get(cpu), self.max.get(cpu));
                let d = d.or(max);
                let dr = dr.or(d).or(min);
                if cpu {
                    (self.default.cpu, self.default_request.cpu) = (d, dr);
                } else {
                    (self.default.memory, self.default_request.memory) = (d, dr);
                }
            }
        }
        self
    }
}

/// A `LimitRange`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitRange {
    /// Name.
    pub name: String,
    /// Items.
    pub limits: Vec<LimitRangeItem>,
}

/// A namespace with its quotas and limit ranges.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Namespace {
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// ResourceQuotas.
    pub quotas: Vec<ResourceQuota>,
    /// LimitRanges.
    pub limit_ranges: Vec<LimitRange>,
}

/// `preemptionPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum PreemptionPolicy {
    /// The default: may preempt lower-priority pods.
    #[default]
    PreemptLowerPriority,
    /// Never preempts (still queued ahead of lower priorities).
    Never,
}

impl PreemptionPolicy {
    /// API name.
    pub fn name(self) -> &'static str {
        match self {
            PreemptionPolicy::PreemptLowerPriority => "PreemptLowerPriority",
            PreemptionPolicy::Never => "Never",
        }
    }
}

/// A `PriorityClass` (`scheduling.k8s.io/v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriorityClass {
    /// Name.
    pub name: String,
    /// Value.
    pub value: i32,
    /// Pods without a class get this one.
    pub global_default: bool,
    /// Preemption policy.
    pub preemption_policy: PreemptionPolicy,
}

/// `system-cluster-critical` (`pkg/apis/scheduling/types.go` `SystemCriticalPriority`).
pub const SYSTEM_CLUSTER_CRITICAL: i32 = 2_000_000_000;
/// `system-node-critical` = `SystemCriticalPriority + 1000`.
pub const SYSTEM_NODE_CRITICAL: i32 = 2_000_001_000;
/// `HighestUserDefinablePriority` (user classes are at most one billion).
pub const HIGHEST_USER_PRIORITY: i64 = 1_000_000_000;

/// The two classes every cluster has (created by the API server at start-up).
pub fn system_priority_classes() -> Vec<PriorityClass> {
    vec![
        PriorityClass {
            name: "system-cluster-critical".into(),
            value: SYSTEM_CLUSTER_CRITICAL,
            global_default: false,
            preemption_policy: PreemptionPolicy::PreemptLowerPriority,
        },
        PriorityClass {
            name: "system-node-critical".into(),
            value: SYSTEM_NODE_CRITICAL,
            global_default: false,
            preemption_policy: PreemptionPolicy::PreemptLowerPriority,
        },
    ]
}

/// Namespaces and priority classes of a cluster.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Tenancy {
    /// Namespaces the scenario declares (others exist implicitly, without quotas).
    pub namespaces: Vec<Namespace>,
    /// Priority classes, the system ones included.
    pub priority_classes: Vec<PriorityClass>,
    /// The operator's validating webhook checks scope-less quotas before admitting an app
    /// (chart `webhook.resourceQuotaEnforcement.enable`, default false).
    pub quota_enforcement: bool,
}

impl Tenancy {
    /// A namespace, if declared.
    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.iter().find(|n| n.name == name)
    }

    /// A priority class by name.
    pub fn priority_class(&self, name: &str) -> Option<&PriorityClass> {
        self.priority_classes.iter().find(|c| c.name == name)
    }

    /// The global default class, if any (the lowest value wins if several: the admission
    /// plugin's `getDefaultPriorityClass`).
    pub fn global_default(&self) -> Option<&PriorityClass> {
        self.priority_classes.iter().filter(|c| c.global_default).min_by_key(|c| c.value)
    }

    /// Every quota of every namespace.
    pub fn quotas(&self) -> impl Iterator<Item = &ResourceQuota> {
        self.namespaces.iter().flat_map(|n| n.quotas.iter())
    }

    /// Whether any quota exists.
    pub fn has_quotas(&self) -> bool {
        self.quotas().next().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_print_in_canonical_form() {
        assert_eq!(format_quantity(Unit::Cpu, 16_000), "16");
        assert_eq!(format_quantity(Unit::Cpu, 1_500), "1500m");
        assert_eq!(format_quantity(Unit::Memory, 1408 << 20), "1408Mi");
        assert_eq!(format_quantity(Unit::Memory, 64 << 30), "64Gi");
        assert_eq!(format_quantity(Unit::Memory, 1000), "1000");
        let list: BTreeMap<QuotaResource, i64> = [(QuotaResource::RequestsMemory, 2 << 30), (QuotaResource::CountPods, 3)].into();
        assert_eq!(pretty_print(&list), "count/pods=3,requests.memory=2Gi");
    }

    #[test]
    fn resource_order_is_name_order() {
        let mut names: Vec<&str> = QuotaResource::ALL.iter().map(|r| r.name()).collect();
        let sorted = {
            let mut s = names.clone();
            s.sort();
            s
        };
        assert_eq!(names, sorted);
        names.dedup();
        assert_eq!(names.len(), 8);
    }

    #[test]
    fn limit_range_defaulting_follows_set_defaults_limit_range_item() {
        let item = LimitRangeItem {
            kind: LimitType::Container,
            default: CpuMem::default(),
            default_request: CpuMem::default(),
            min: CpuMem { cpu: Some(100), memory: None },
            max: CpuMem { cpu: Some(4000), memory: Some(8 << 30) },
            max_ratio_milli: BTreeMap::new(),
        }
        .defaulted();
        // default ← max; defaultRequest ← default (before min).
        assert_eq!(item.default, CpuMem { cpu: Some(4000), memory: Some(8 << 30) });
        assert_eq!(item.default_request, CpuMem { cpu: Some(4000), memory: Some(8 << 30) });
    }

    #[test]
    fn priority_class_scopes() {
        let req = |op, values: &[&str]| ScopeRequirement {
            scope: ScopeName::PriorityClass,
            operator: op,
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        let high = PodScopeFacts { terminating: false, best_effort: false, priority_class: Some("high") };
        let none = PodScopeFacts { priority_class: None, ..high };
        assert!(req(ScopeOperator::In, &["high"]).matches(&high));
        assert!(!req(ScopeOperator::In, &["high"]).matches(&none));
        assert!(req(ScopeOperator::NotIn, &["high"]).matches(&none));
        assert!(req(ScopeOperator::Exists, &[]).matches(&high) && !req(ScopeOperator::Exists, &[]).matches(&none));
        let not_term = ScopeRequirement { scope: ScopeName::NotTerminating, operator: ScopeOperator::Exists, values: vec![] };
        assert!(not_term.matches(&high));
    }
}
