//! The API server's in-tree admission of pod creates that tenancy adds: LimitRanger (defaults,
//! then min/max/ratio), Priority (class → `spec.priority`), and ResourceQuota, which runs last
//! (reference/platform-ops.md §2.2, §2.4, §3.1). Pure functions over explicit inputs: the
//! tenancy objects, the quotas' current usage and the pod.
//!
//! Entry point: [`admit`]. The caller charges the returned usage to the quotas that cover the
//! pod ([`charge`]); the quota controller ([`crate::controllers::quota`]) recalculates usage
//! from the pods that exist.
//!
//! Order: upstream the Priority plugin and LimitRanger mutate before the mutating webhooks and
//! ResourceQuota validates after them. The Spark Operator's pod webhook sets
//! `priorityClassName`; whether the in-tree plugins run again after that mutation is
//! unverified (reference/platform-ops.md §3.1, §6): sparkrig assumes they do, so the priority
//! of a pod follows the class the webhook set.

use std::collections::BTreeMap;

use sparkrig_model::tenancy::{
    CpuMem, LimitType, PodScopeFacts, PreemptionPolicy, QuotaResource, ResourceQuota, Tenancy, format_quantity, pretty_print,
};

/// A pod create, as admission sees it (one container: Spark and platform pods have one).
#[derive(Debug, Clone)]
pub struct PodCreate<'a> {
    /// `metadata.name`.
    pub name: &'a str,
    /// Namespace.
    pub namespace: &'a str,
    /// The container's name.
    pub container: &'a str,
    /// Requests as written (before LimitRange defaults).
    pub requests: CpuMem,
    /// Limits as written.
    pub limits: CpuMem,
    /// `spec.priorityClassName`.
    pub priority_class: Option<&'a str>,
}

/// What admission decided for an admitted pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// `spec.priority`.
    pub priority: i32,
    /// `spec.preemptionPolicy`.
    pub preemption: PreemptionPolicy,
    /// `spec.priorityClassName` after the Priority plugin (the global default's name when the
    /// pod named none).
    pub priority_class: Option<String>,
    /// Requests after LimitRange defaults.
    pub requests: CpuMem,
    /// Limits after LimitRange defaults.
    pub limits: CpuMem,
    /// Quota usage of the pod while it is tracked.
    pub usage: BTreeMap<QuotaResource, i64>,
}

impl Admitted {
    /// What a quota's scopes look at.
    pub fn scope_facts(&self) -> PodScopeFacts<'_> {
        PodScopeFacts {
            terminating: false,
            best_effort: self.requests == CpuMem::default() && self.limits == CpuMem::default(),
            priority_class: self.priority_class.as_deref(),
        }
    }
}

/// A quota and its `status.used`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaState {
    /// The object.
    pub quota: ResourceQuota,
    /// `status.used` (every hard resource, 0 when nothing uses it).
    pub used: BTreeMap<QuotaResource, i64>,
}

impl QuotaState {
    /// A synced quota with nothing in use.
    pub fn new(quota: ResourceQuota) -> QuotaState {
        let used = quota.hard.keys().map(|r| (*r, 0)).collect();
        QuotaState { quota, used }
    }
}

/// The 403 of a forbidden pod create.
fn forbidden(name: &str, why: impl std::fmt::Display) -> String {
    format!("pods \"{name}\" is forbidden: {why}")
}

/// Pod usage (`podComputeUsageHelper`): `pods`, `count/pods`, requests and limits.
pub fn pod_usage(requests: CpuMem, limits: CpuMem) -> BTreeMap<QuotaResource, i64> {
    let mut u = BTreeMap::from([(QuotaResource::Pods, 1), (QuotaResource::CountPods, 1)]);
    if let Some(c) = requests.cpu {
        u.insert(QuotaResource::Cpu, c);
        u.insert(QuotaResource::RequestsCpu, c);
    }
    if let Some(m) = requests.memory {
        u.insert(QuotaResource::Memory, m);
        u.insert(QuotaResource::RequestsMemory, m);
    }
    if let Some(c) = limits.cpu {
        u.insert(QuotaResource::LimitsCpu, c);
    }
    if let Some(m) = limits.memory {
        u.insert(QuotaResource::LimitsMemory, m);
    }
    u
}

/// LimitRanger, Priority and ResourceQuota admission of a pod create, against the quotas'
/// current usage. `Err` is the API server's 403 message.
pub fn admit(tenancy: &Tenancy, quotas: &[QuotaState], pod: &PodCreate<'_>) -> Result<Admitted, String> {
    let (mut requests, mut limits) = (pod.requests, pod.limits);
    // LimitRanger, mutation: a missing request gets defaultRequest, a missing limit default.
    let ranges = tenancy.namespace(pod.namespace).map(|n| n.limit_ranges.as_slice()).unwrap_or_default();
    for item in ranges.iter().flat_map(|r| r.limits.iter()).filter(|i| i.kind == LimitType::Container) {
        requests.cpu = requests.cpu.or(item.default_request.cpu);
        requests.memory = requests.memory.or(item.default_request.memory);
        limits.cpu = limits.cpu.or(item.default.cpu);
        limits.memory = limits.memory.or(item.default.memory);
    }
    // LimitRanger, validation (`plugin/pkg/admission/limitranger/admission.go`).
    let mut violations = Vec::new();
    for item in ranges.iter().flat_map(|r| r.limits.iter()) {
        let what = item.kind.name();
        for (cpu, res) in [(true, "cpu"), (false, "memory")] {
            let fmt =
                |v: i64| format_quantity(if cpu { sparkrig_model::tenancy::Unit::Cpu } else { sparkrig_model::tenancy::Unit::Memory }, v);
            let (req, lim) = (requests.get(cpu), limits.get(cpu));
            if let Some(min) = item.min.get(cpu) {
                match req {
                    Some(r) if r >= min => {}
                    Some(r) => violations.push(format!("minimum {res} usage per {what} is {}, but request is {}", fmt(min), fmt(r))),
                    None => violations.push(format!("minimum {res} usage per {what} is {}.  No request is specified", fmt(min))),
                }
            }
            if let Some(max) = item.max.get(cpu) {
                match lim {
                    Some(l) if l <= max => {}
                    Some(l) => violations.push(format!("maximum {res} usage per {what} is {}, but limit is {}", fmt(max), fmt(l))),
                    None => violations.push(format!("maximum {res} usage per {what} is {}.  No limit is specified", fmt(max))),
                }
            }
            if let Some(ratio) = item.max_ratio_milli.get(res) {
                match (req, lim) {
                    (Some(r), Some(l)) if r > 0 && l > 0 => {
                        if l * 1000 > ratio * r {
                            violations.push(format!(
                                "{res} max limit to request ratio per {what} is {}, but provided ratio is {:.6}",
                                format_quantity(sparkrig_model::tenancy::Unit::Cpu, *ratio),
                                l as f64 / r as f64
                            ));
                        }
                    }
                    _ => violations.push(format!(
                        "{res} max limit to request ratio per {what} is {}, but no request or limit is specified",
                        format_quantity(sparkrig_model::tenancy::Unit::Cpu, *ratio)
                    )),
                }
            }
        }
    }
    match violations.len() {
        0 => {}
        1 => return Err(forbidden(pod.name, &violations[0])),
        _ => return Err(forbidden(pod.name, format!("[{}]", violations.join(", ")))),
    }
    // Priority (`plugin/pkg/admission/priority/admission.go`).
    let class = match pod.priority_class {
        Some(name) => {
            Some(tenancy.priority_class(name).ok_or_else(|| forbidden(pod.name, format!("no PriorityClass with name {name} was found")))?)
        }
        None => tenancy.global_default(),
    };
    let mut admitted = Admitted {
        priority: class.map_or(0, |c| c.value),
        preemption: class.map_or(PreemptionPolicy::PreemptLowerPriority, |c| c.preemption_policy),
        priority_class: class.map(|c| c.name.clone()),
        requests,
        limits,
        usage: pod_usage(requests, limits),
    };
    // ResourceQuota, last (`staging/.../admission/plugin/resourcequota/controller.go`).
    let facts = admitted.scope_facts();
    for q in quotas.iter().filter(|q| q.quota.namespace == pod.namespace && q.quota.covers(&facts)) {
        check_quota(q, pod, &admitted)?;
    }
    admitted.usage = pod_usage(admitted.requests, admitted.limits);
    Ok(admitted)
}

/// One quota's checks: constraints (every container states what the quota limits), then
/// `used + requested <= hard` for the hard resources the pod consumes.
fn check_quota(q: &QuotaState, pod: &PodCreate<'_>, a: &Admitted) -> Result<(), String> {
    let name = &q.quota.name;
    let mut missing: Vec<String> = Vec::new();
    for r in q.quota.hard.keys() {
        let Some((limit, cpu)) = r.constraint() else { continue };
        let set = if limit { a.limits.get(cpu) } else { a.requests.get(cpu) };
        if set.is_none() {
            missing.push(format!("{r} for: {}", pod.container));
        }
    }
    if !missing.is_empty() {
        missing.sort();
        return Err(forbidden(pod.name, format!("failed quota: {name}: must specify {}", missing.join("; "))));
    }
    let requested: BTreeMap<QuotaResource, i64> =
        a.usage.iter().filter(|(r, _)| q.quota.hard.contains_key(r)).map(|(r, v)| (*r, *v)).collect();
    let exceeded: Vec<QuotaResource> =
        requested.iter().filter(|(r, v)| q.used.get(r).copied().unwrap_or(0) + **v > q.quota.hard[r]).map(|(r, _)| *r).collect();
    if exceeded.is_empty() {
        return Ok(());
    }
    let mask = |m: &BTreeMap<QuotaResource, i64>| -> BTreeMap<QuotaResource, i64> {
        exceeded.iter().map(|r| (*r, m.get(r).copied().unwrap_or(0))).collect()
    };
    Err(forbidden(
        pod.name,
        format!(
            "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
            pretty_print(&mask(&requested)),
            pretty_print(&mask(&q.used)),
            pretty_print(&mask(&q.quota.hard))
        ),
    ))
}

/// Adds an admitted pod's usage to the quotas of its namespace that cover it (the admission
/// plugin writes `status.used` itself); returns the indices of the quotas that changed.
pub fn charge(quotas: &mut [QuotaState], namespace: &str, a: &Admitted) -> Vec<usize> {
    let facts = a.scope_facts();
    let mut changed = Vec::new();
    for (i, q) in quotas.iter_mut().enumerate().filter(|(_, q)| q.quota.namespace == namespace && q.quota.covers(&facts)) {
        for (r, used) in q.used.iter_mut() {
            *used += a.usage.get(r).copied().unwrap_or(0);
        }
        changed.push(i);
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use sparkrig_model::tenancy::{
        LimitRange, LimitRangeItem, Namespace, PriorityClass, ScopeName, ScopeOperator, ScopeRequirement, system_priority_classes,
    };

    const GI: i64 = 1 << 30;
    const MI: i64 = 1 << 20;

    fn tenancy(limit_ranges: Vec<LimitRange>) -> Tenancy {
        let mut classes = system_priority_classes();
        classes.push(PriorityClass {
            name: "high".into(),
            value: 1000,
            global_default: false,
            preemption_policy: PreemptionPolicy::PreemptLowerPriority,
        });
        classes.push(PriorityClass { name: "low".into(), value: 10, global_default: true, preemption_policy: PreemptionPolicy::Never });
        Tenancy {
            namespaces: vec![Namespace { name: "team-a".into(), labels: Default::default(), quotas: vec![], limit_ranges }],
            priority_classes: classes,
            quota_enforcement: false,
        }
    }

    fn quota(hard: &[(QuotaResource, i64)]) -> QuotaState {
        QuotaState::new(ResourceQuota {
            name: "compute".into(),
            namespace: "team-a".into(),
            hard: hard.iter().copied().collect(),
            scopes: vec![],
        })
    }

    /// A Spark driver of 1 core and 1408Mi (request = limit for memory, no cpu limit).
    fn driver(priority_class: Option<&'static str>) -> PodCreate<'static> {
        PodCreate {
            name: "etl-1-driver",
            namespace: "team-a",
            container: "spark-kubernetes-driver",
            requests: CpuMem { cpu: Some(1000), memory: Some(1408 * MI) },
            limits: CpuMem { cpu: None, memory: Some(1408 * MI) },
            priority_class,
        }
    }

    #[test]
    fn a_pod_over_the_quota_gets_the_upstream_403_listing_only_the_exceeded_resources() {
        let t = tenancy(vec![]);
        let mut q = quota(&[(QuotaResource::RequestsCpu, 4000), (QuotaResource::RequestsMemory, 64 * GI), (QuotaResource::CountPods, 10)]);
        // Three pods of 1 core are in: 3 + 1 = 4 <= 4 admits the fourth.
        q.used.insert(QuotaResource::RequestsCpu, 3000);
        q.used.insert(QuotaResource::CountPods, 3);
        let a = admit(&t, std::slice::from_ref(&q), &driver(None)).unwrap();
        assert_eq!(charge(std::slice::from_mut(&mut q), "team-a", &a), [0]);
        assert_eq!(q.used[&QuotaResource::RequestsCpu], 4000);
        assert_eq!(q.used[&QuotaResource::RequestsMemory], 1408 * MI);
        // The fifth: 4 + 1 = 5 > 4; memory (2 × 1408Mi <= 64Gi) and count (5 <= 10) are not listed.
        let e = admit(&t, &[q], &driver(None)).unwrap_err();
        assert_eq!(
            e,
            "pods \"etl-1-driver\" is forbidden: exceeded quota: compute, requested: requests.cpu=1, used: requests.cpu=4, limited: requests.cpu=4"
        );
    }

    #[test]
    fn a_limits_cpu_quota_refuses_spark_pods_without_a_cpu_limit_unless_a_limit_range_defaults_it() {
        let q = quota(&[(QuotaResource::LimitsCpu, 8000), (QuotaResource::LimitsMemory, 32 * GI)]);
        let e = admit(&tenancy(vec![]), std::slice::from_ref(&q), &driver(None)).unwrap_err();
        assert_eq!(e, "pods \"etl-1-driver\" is forbidden: failed quota: compute: must specify limits.cpu for: spark-kubernetes-driver");
        let lr = LimitRange {
            name: "defaults".into(),
            limits: vec![
                LimitRangeItem {
                    kind: LimitType::Container,
                    default: CpuMem { cpu: Some(2000), memory: None },
                    default_request: CpuMem::default(),
                    min: CpuMem::default(),
                    max: CpuMem::default(),
                    max_ratio_milli: BTreeMap::new(),
                }
                .defaulted(),
            ],
        };
        let a = admit(&tenancy(vec![lr]), &[q], &driver(None)).unwrap();
        assert_eq!(a.limits.cpu, Some(2000), "LimitRanger's default limit");
        assert_eq!(a.requests.cpu, Some(1000), "the request Spark set stays");
        assert_eq!(a.usage[&QuotaResource::LimitsCpu], 2000);
    }

    #[test]
    fn limit_range_bounds_and_priority_classes() {
        let lr = LimitRange {
            name: "bounds".into(),
            limits: vec![
                LimitRangeItem {
                    kind: LimitType::Container,
                    default: CpuMem::default(),
                    default_request: CpuMem::default(),
                    min: CpuMem { cpu: Some(2000), memory: None },
                    max: CpuMem { cpu: None, memory: Some(GI) },
                    max_ratio_milli: BTreeMap::new(),
                }
                .defaulted(),
            ],
        };
        let e = admit(&tenancy(vec![lr]), &[], &driver(None)).unwrap_err();
        assert_eq!(
            e,
            "pods \"etl-1-driver\" is forbidden: [minimum cpu usage per Container is 2, but request is 1, maximum memory usage per Container is 1Gi, but limit is 1408Mi]"
        );
        let t = tenancy(vec![]);
        assert_eq!(
            admit(&t, &[], &driver(Some("urgent"))).unwrap_err(),
            "pods \"etl-1-driver\" is forbidden: no PriorityClass with name urgent was found"
        );
        let high = admit(&t, &[], &driver(Some("high"))).unwrap();
        assert_eq!((high.priority, high.preemption), (1000, PreemptionPolicy::PreemptLowerPriority));
        // No class named: the global default, with its policy.
        let dflt = admit(&t, &[], &driver(None)).unwrap();
        assert_eq!((dflt.priority, dflt.preemption, dflt.priority_class.as_deref()), (10, PreemptionPolicy::Never, Some("low")));
    }

    #[test]
    fn a_quota_scoped_to_a_priority_class_only_counts_its_pods() {
        let t = tenancy(vec![]);
        let mut q = quota(&[(QuotaResource::Pods, 1)]);
        q.quota.scopes =
            vec![ScopeRequirement { scope: ScopeName::PriorityClass, operator: ScopeOperator::In, values: vec!["high".into()] }];
        let mut quotas = [q];
        let a = admit(&t, &quotas, &driver(Some("high"))).unwrap();
        charge(&mut quotas, "team-a", &a);
        assert!(
            admit(&t, &quotas, &driver(Some("high")))
                .unwrap_err()
                .contains("exceeded quota: compute, requested: pods=1, used: pods=1, limited: pods=1")
        );
        // The default class (low) is outside the scope.
        assert!(admit(&t, &quotas, &driver(None)).is_ok());
    }
}
