//! The default profile's Filter and Score plugins that matter for Spark pods, with upstream
//! semantics and integer arithmetic (reference/kube-scheduler.md §2.1–2.5, §3.2–3.6).
//!
//! Not simulated, because they are no-ops for Spark and platform pods: NodePorts (no host
//! ports), the volume plugins (emptyDir/configMap only), PodTopologySpread (executors are not
//! selected by any Service/RS; the driver is the only pod matching its Service, so all counts
//! are equal, §3.11), InterPodAffinity (no required terms; preferred pod affinity in pod
//! templates is ignored) and ImageLocality (weight 1; not modelled).

use sparkrig_model::kube::{Taint, TaintEffect, Toleration, UNSCHEDULABLE_TAINT, tolerated};

use crate::cluster::{Node, Res, SchedSpec};
use crate::intern::Interner;

/// A filter plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Plugin {
    /// NodeUnschedulable.
    NodeUnschedulable = 0,
    /// NodeName.
    NodeName = 1,
    /// TaintToleration.
    TaintToleration = 2,
    /// NodeAffinity.
    NodeAffinity = 3,
    /// NodeResourcesFit.
    NodeResourcesFit = 4,
}

/// A set of plugins (the ones that rejected a pod).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PluginSet(u8);

impl PluginSet {
    /// Adds a plugin.
    pub fn insert(&mut self, p: Plugin) {
        self.0 |= 1 << p as u8;
    }
    /// Whether it holds `p`.
    pub fn contains(self, p: Plugin) -> bool {
        self.0 & (1 << p as u8) != 0
    }
    /// Empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Why a node failed Filter for a pod (the first failing plugin, in profile order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// `node(s) were unschedulable`.
    Unschedulable,
    /// `node(s) didn't match the requested node name`.
    NodeName,
    /// `node(s) had untolerated taint {key: value}` (index into the node's taints).
    Taint(u8),
    /// `node(s) didn't match Pod's node affinity/selector`.
    Affinity,
    /// `Too many pods` / `Insufficient cpu` / `Insufficient memory`; `never` when the pod would
    /// not fit even on the empty node.
    Fit {
        /// Pod count exceeded.
        pods: bool,
        /// CPU short.
        cpu: bool,
        /// Memory short.
        mem: bool,
        /// Request exceeds allocatable (UnschedulableAndUnresolvable).
        never: bool,
    },
}

impl Reject {
    /// The plugin that rejected.
    pub fn plugin(self) -> Plugin {
        match self {
            Reject::Unschedulable => Plugin::NodeUnschedulable,
            Reject::NodeName => Plugin::NodeName,
            Reject::Taint(_) => Plugin::TaintToleration,
            Reject::Affinity => Plugin::NodeAffinity,
            Reject::Fit { .. } => Plugin::NodeResourcesFit,
        }
    }

    /// UnschedulableAndUnresolvable: preemption cannot help.
    pub fn unresolvable(self) -> bool {
        !matches!(self, Reject::Fit { never: false, .. })
    }

    /// The reason strings the scheduler reports for this node.
    pub fn reasons(self, node: &Node, out: &mut Vec<String>) {
        match self {
            Reject::Unschedulable => out.push("node(s) were unschedulable".into()),
            Reject::NodeName => out.push("node(s) didn't match the requested node name".into()),
            Reject::Taint(i) => {
                let t = &node.taints[i as usize];
                out.push(format!("node(s) had untolerated taint {{{}: {}}}", t.key, t.value));
            }
            Reject::Affinity => out.push("node(s) didn't match Pod's node affinity/selector".into()),
            Reject::Fit { pods, cpu, mem, .. } => {
                if pods {
                    out.push("Too many pods".into());
                }
                if cpu {
                    out.push("Insufficient cpu".into());
                }
                if mem {
                    out.push("Insufficient memory".into());
                }
            }
        }
    }
}

/// NodeUnschedulable: a cordoned node passes only pods tolerating
/// `node.kubernetes.io/unschedulable:NoSchedule` (§2.1).
#[inline]
pub fn node_unschedulable(node: &Node, spec: &SchedSpec) -> bool {
    !node.unschedulable || tolerated(&spec.tolerations, &Taint::new(UNSCHEDULABLE_TAINT, "", TaintEffect::NoSchedule))
}

/// TaintToleration filter: the first NoSchedule/NoExecute taint no toleration tolerates (§2.3).
#[inline]
pub fn untolerated(node: &Node, tolerations: &[Toleration]) -> Option<u8> {
    node.taints.iter().position(|t| t.effect.blocks_scheduling() && !tolerated(tolerations, t)).map(|i| i as u8)
}

/// NodeAffinity filter: nodeSelector AND any required term (§2.4).
#[inline]
pub fn node_affinity(node: &Node, spec: &SchedSpec, interner: &Interner) -> bool {
    spec.node_selector.iter().all(|(k, v)| node.labels.get(*k) == Some(*v))
        && spec.required.as_ref().is_none_or(|terms| terms.iter().any(|t| t.matches(node, interner)))
}

/// NodeResourcesFit filter (§2.5): pod count always; cpu and memory when requested.
#[inline]
pub fn fits(node: &Node, req: Res) -> Result<(), Reject> {
    let pods = node.pod_count + 1 > node.max_pods;
    let zero = req.cpu == 0 && req.mem == 0;
    let cpu = !zero && req.cpu > 0 && req.cpu > node.alloc.cpu - node.requested.cpu;
    let mem = !zero && req.mem > 0 && req.mem > node.alloc.mem - node.requested.mem;
    if pods || cpu || mem {
        let never = req.cpu > node.alloc.cpu || req.mem > node.alloc.mem;
        Err(Reject::Fit { pods, cpu, mem, never })
    } else {
        Ok(())
    }
}

/// Every default-profile filter, in order; the first failure ends the node's evaluation.
#[inline]
pub fn filter(node: &Node, spec: &SchedSpec, interner: &Interner) -> Result<(), Reject> {
    if !node_unschedulable(node, spec) {
        return Err(Reject::Unschedulable);
    }
    if spec.node_name.as_ref().is_some_and(|n| *n != node.name) {
        return Err(Reject::NodeName);
    }
    if let Some(i) = untolerated(node, &spec.tolerations) {
        return Err(Reject::Taint(i));
    }
    if !node_affinity(node, spec, interner) {
        return Err(Reject::Affinity);
    }
    fits(node, spec.req)
}

/// TaintToleration raw score: intolerable PreferNoSchedule taints, counted against the pod's
/// tolerations with effect PreferNoSchedule or empty (§3.5).
#[inline]
pub fn taint_raw(node: &Node, prefer_tolerations: &[Toleration]) -> i64 {
    node.taints.iter().filter(|t| t.effect == TaintEffect::PreferNoSchedule && !tolerated(prefer_tolerations, t)).count() as i64
}

/// NodeAffinity raw score: Σ weights of matching preferred terms (§3.6).
#[inline]
pub fn affinity_raw(node: &Node, spec: &SchedSpec, interner: &Interner) -> i64 {
    spec.preferred.iter().filter(|(_, t)| t.matches(node, interner)).map(|(w, _)| *w).sum()
}

/// NodeResourcesFit LeastAllocated over cpu and memory, weight 1 each, with non-zero requests
/// (§3.3): `Σ ((A − R) × 100 / A) / Σ w`, 0 for an over-committed resource.
#[inline]
pub fn least_allocated(node: &Node, spec: &SchedSpec) -> i64 {
    let mut sum = 0;
    let mut weights = 0;
    for (alloc, req) in [(node.alloc.cpu, node.non_zero.cpu + spec.non_zero.cpu), (node.alloc.mem, node.non_zero.mem + spec.non_zero.mem)] {
        if alloc == 0 {
            continue;
        }
        weights += 1;
        if req <= alloc {
            sum += (alloc - req) * 100 / alloc;
        }
    }
    if weights == 0 { 0 } else { sum / weights }
}

/// NodeResourcesBalancedAllocation with actual requests (§3.4): `int((1 − |f_cpu − f_mem| / 2) × 100)`.
#[inline]
pub fn balanced_allocation(node: &Node, spec: &SchedSpec) -> i64 {
    let frac = |alloc: i64, req: i64| (alloc > 0).then(|| (req as f64 / alloc as f64).min(1.0));
    let fc = frac(node.alloc.cpu, node.requested.cpu + spec.req.cpu);
    let fm = frac(node.alloc.mem, node.requested.mem + spec.req.mem);
    let std = match (fc, fm) {
        (Some(a), Some(b)) => (a - b).abs() / 2.0,
        _ => 0.0,
    };
    ((1.0 - std) * 100.0) as i64
}

/// `DefaultNormalizeScore(100, reverse)` (helper/normalize_score.go).
pub fn normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = 100);
        }
        return;
    }
    for s in scores.iter_mut() {
        *s = 100 * *s / max;
        if reverse {
            *s = 100 - *s;
        }
    }
}

/// A container's requests; `None` = not set (the scheduler's non-zero default applies when
/// scoring).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerReq {
    /// Millicores.
    pub cpu: Option<i64>,
    /// Bytes.
    pub mem: Option<i64>,
}

/// `resource.PodRequests` (§2.5): `max(Σ containers, max over init containers of (req + running
/// sidecars))` element-wise, restartable init containers (sidecars) adding to both, plus pod
/// overhead. Returns (exact, non-zero-defaulted) request vectors.
pub fn pod_requests(containers: &[ContainerReq], init: &[(ContainerReq, bool)], overhead: Res) -> (Res, Res) {
    let exact = |c: &ContainerReq| Res::new(c.cpu.unwrap_or(0), c.mem.unwrap_or(0));
    let nz = |c: &ContainerReq| {
        Res::new(c.cpu.unwrap_or(crate::cluster::NON_ZERO_DEFAULT.cpu), c.mem.unwrap_or(crate::cluster::NON_ZERO_DEFAULT.mem))
    };
    let compute = |f: &dyn Fn(&ContainerReq) -> Res| {
        let mut sum = Res::default();
        for c in containers {
            let r = f(c);
            sum.cpu += r.cpu;
            sum.mem += r.mem;
        }
        let mut sidecars = Res::default();
        let mut init_max = Res::default();
        for (c, restartable) in init {
            let r = f(c);
            if *restartable {
                sum.cpu += r.cpu;
                sum.mem += r.mem;
                sidecars.cpu += r.cpu;
                sidecars.mem += r.mem;
                init_max.cpu = init_max.cpu.max(sidecars.cpu);
                init_max.mem = init_max.mem.max(sidecars.mem);
            } else {
                init_max.cpu = init_max.cpu.max(r.cpu + sidecars.cpu);
                init_max.mem = init_max.mem.max(r.mem + sidecars.mem);
            }
        }
        Res::new(sum.cpu.max(init_max.cpu) + overhead.cpu, sum.mem.max(init_max.mem) + overhead.mem)
    };
    (compute(&exact), compute(&nz))
}
