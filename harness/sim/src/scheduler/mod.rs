//! kube-scheduler's default profile as a pure function of nodes and a pod: Filter in profile
//! order with feasible-node sampling, Score with the upstream weights and integer arithmetic,
//! and a seeded reservoir pick among the best (reference/kube-scheduler.md §2–3, checklist §9).
//!
//! Entry point: [`Scheduler::find_node`]. The scheduling queue (backoff, requeue on cluster
//! events) lives in the simulation ([`crate::sim`]), which owns the pods.

pub mod plugins;
pub mod preemption;

use std::collections::BTreeMap;

use rand::Rng;
use sparkrig_model::kube::{TaintEffect, Toleration};

use crate::cluster::{Node, SchedSpec};
use crate::intern::Interner;
use plugins::{PluginSet, Reject};

/// Score plugin weights of the default profile (`getDefaultPlugins`, §1.1).
pub const WEIGHT_TAINT_TOLERATION: i64 = 3;
/// NodeAffinity weight.
pub const WEIGHT_NODE_AFFINITY: i64 = 2;
/// NodeResourcesFit weight.
pub const WEIGHT_NODE_RESOURCES_FIT: i64 = 1;
/// NodeResourcesBalancedAllocation weight.
pub const WEIGHT_BALANCED_ALLOCATION: i64 = 1;

/// `minFeasibleNodesToFind` (schedule_one.go).
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// `minFeasibleNodesPercentageToFind`.
const MIN_FEASIBLE_NODES_PERCENTAGE: usize = 5;

/// `numFeasibleNodesToFind` with `percentageOfNodesToScore = 0` (adaptive, §3.1).
pub fn num_feasible_nodes_to_find(n: usize) -> usize {
    if n < MIN_FEASIBLE_NODES_TO_FIND {
        return n;
    }
    let p = (50usize.saturating_sub(n / 125)).max(MIN_FEASIBLE_NODES_PERCENTAGE);
    (n * p / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// No node passed Filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unschedulable {
    /// The FailedScheduling message, in the scheduler's format.
    pub message: String,
    /// The Filter part of it (`0/N nodes are available: …`), before the PostFilter's.
    pub fit: String,
    /// The plugins that rejected at least one node (for requeue hints).
    pub rejectors: PluginSet,
}

/// A scoring breakdown for one node (tests and tie reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeScore {
    /// Node index.
    pub node: usize,
    /// TaintToleration, normalised and weighted.
    pub taint: i64,
    /// NodeAffinity, normalised and weighted.
    pub affinity: i64,
    /// LeastAllocated, weighted.
    pub fit: i64,
    /// BalancedAllocation, weighted.
    pub balanced: i64,
}

impl NodeScore {
    /// Σ weighted scores.
    pub fn total(&self) -> i64 {
        self.taint + self.affinity + self.fit + self.balanced
    }
}

/// The scheduling algorithm with its rotating start index and scratch buffers.
#[derive(Debug, Clone)]
pub struct Scheduler {
    next_start: usize,
    /// Kubernetes minor version (BalancedAllocation skips best-effort pods from 1.33).
    kubernetes_minor: u32,
    feasible: Vec<usize>,
    rejects: Vec<(usize, Reject)>,
    scores: Vec<NodeScore>,
    raw: Vec<i64>,
    prefer: Vec<Toleration>,
    /// How many nodes the last call evaluated with Filter.
    pub last_processed: usize,
    /// How many nodes tied for the best score in the last call.
    pub last_ties: usize,
}

impl Scheduler {
    /// The scheduler was upgraded to another minor (a control-plane upgrade).
    pub fn set_kubernetes_minor(&mut self, minor: u32) {
        self.kubernetes_minor = minor;
    }

    /// A scheduler for a Kubernetes minor version.
    pub fn new(kubernetes_minor: u32) -> Scheduler {
        Scheduler {
            next_start: 0,
            kubernetes_minor,
            feasible: Vec::new(),
            rejects: Vec::new(),
            scores: Vec::new(),
            raw: Vec::new(),
            prefer: Vec::new(),
            last_processed: 0,
            last_ties: 0,
        }
    }

    /// Picks a node for `spec` among `order` (indices into `nodes`, in snapshot order).
    pub fn find_node<R: Rng>(
        &mut self,
        nodes: &[Node],
        order: &[usize],
        spec: &SchedSpec,
        interner: &Interner,
        rng: &mut R,
    ) -> Result<usize, Unschedulable> {
        self.find_node_with(nodes, order, spec, interner, rng, &BTreeMap::new(), None)
    }

    /// [`Scheduler::find_node`] with nominated pods: `extra` holds, per node, the requests of
    /// the pods nominated there whose priority is at least the pod's (they keep their room;
    /// kube-scheduler's `RunFilterPluginsWithNominatedPods`), and `nominated` the pod's own
    /// nominated node, which is tried first and taken without scoring if it passes.
    #[allow(clippy::too_many_arguments)]
    pub fn find_node_with<R: Rng>(
        &mut self,
        nodes: &[Node],
        order: &[usize],
        spec: &SchedSpec,
        interner: &Interner,
        rng: &mut R,
        extra: &BTreeMap<usize, (crate::cluster::Res, i64)>,
        nominated: Option<usize>,
    ) -> Result<usize, Unschedulable> {
        // Without nominated pods (the usual case) the filter reads the node as it is.
        let plain = extra.is_empty();
        let filter = |idx: usize| match if plain { None } else { extra.get(&idx) } {
            None => plugins::filter(&nodes[idx], spec, interner),
            Some((res, count)) => {
                let mut node = nodes[idx].clone();
                node.requested.cpu += res.cpu;
                node.requested.mem += res.mem;
                node.pod_count += count;
                plugins::filter(&node, spec, interner)
            }
        };
        if let Some(idx) = nominated.filter(|i| order.contains(i))
            && filter(idx).is_ok()
        {
            self.last_ties = 1;
            return Ok(idx);
        }
        let n = order.len();
        self.feasible.clear();
        self.rejects.clear();
        if n == 0 {
            return Err(Unschedulable {
                message: "0/0 nodes are available".into(),
                fit: "0/0 nodes are available".into(),
                rejectors: PluginSet::default(),
            });
        }
        let want = num_feasible_nodes_to_find(n);
        let start = self.next_start % n;
        let mut processed = 0;
        for i in 0..n {
            let idx = order[(start + i) % n];
            processed += 1;
            match filter(idx) {
                Ok(()) => {
                    self.feasible.push(idx);
                    if self.feasible.len() == want {
                        break;
                    }
                }
                Err(r) => self.rejects.push((idx, r)),
            }
        }
        self.next_start = (start + processed) % n;
        self.last_processed = processed;
        match self.feasible.len() {
            0 => Err(self.unschedulable(nodes, n)),
            1 => {
                self.last_ties = 1;
                Ok(self.feasible[0])
            }
            _ => {
                self.score(nodes, spec, interner);
                Ok(self.select(rng))
            }
        }
    }

    /// Scores the feasible nodes of the last `find_node` (exposed for golden tests).
    pub fn score_nodes(&mut self, nodes: &[Node], candidates: &[usize], spec: &SchedSpec, interner: &Interner) -> Vec<NodeScore> {
        self.feasible.clear();
        self.feasible.extend_from_slice(candidates);
        self.score(nodes, spec, interner);
        self.scores.clone()
    }

    fn score(&mut self, nodes: &[Node], spec: &SchedSpec, interner: &Interner) {
        // BalancedAllocation skips best-effort pods from 1.33 (PR #130260).
        let balanced = !(self.kubernetes_minor >= 33 && spec.best_effort());
        self.scores.clear();
        self.scores.extend(self.feasible.iter().map(|&i| {
            let node = &nodes[i];
            NodeScore {
                node: i,
                taint: 0,
                affinity: 0,
                fit: plugins::least_allocated(node, spec) * WEIGHT_NODE_RESOURCES_FIT,
                balanced: if balanced { plugins::balanced_allocation(node, spec) * WEIGHT_BALANCED_ALLOCATION } else { 0 },
            }
        }));
        // TaintToleration: PreScore keeps tolerations with effect PreferNoSchedule or empty.
        // Without any PreferNoSchedule taint among the candidates every raw score is 0 and
        // normalises to 100.
        let soft_taints = self.feasible.iter().any(|&i| nodes[i].taints.iter().any(|t| t.effect == TaintEffect::PreferNoSchedule));
        if soft_taints {
            self.prefer.clear();
            self.prefer.extend(spec.tolerations.iter().filter(|t| t.effect.is_none_or(|e| e == TaintEffect::PreferNoSchedule)).cloned());
            self.raw.clear();
            self.raw.extend(self.feasible.iter().map(|&i| plugins::taint_raw(&nodes[i], &self.prefer)));
            plugins::normalize(&mut self.raw, true);
            for (s, r) in self.scores.iter_mut().zip(&self.raw) {
                s.taint = r * WEIGHT_TAINT_TOLERATION;
            }
        } else {
            self.scores.iter_mut().for_each(|s| s.taint = 100 * WEIGHT_TAINT_TOLERATION);
        }
        // NodeAffinity: PreScore skips pods without preferred terms.
        if !spec.preferred.is_empty() {
            self.raw.clear();
            self.raw.extend(self.feasible.iter().map(|&i| plugins::affinity_raw(&nodes[i], spec, interner)));
            plugins::normalize(&mut self.raw, false);
            for (s, r) in self.scores.iter_mut().zip(&self.raw) {
                s.affinity = r * WEIGHT_NODE_AFFINITY;
            }
        }
    }

    /// `selectHost`: uniform among the nodes with the top total score. Upstream draws once per
    /// tie (reservoir sampling with Go's global RNG); one draw over the tie count gives the same
    /// distribution, from the simulation's seeded RNG.
    fn select<R: Rng>(&mut self, rng: &mut R) -> usize {
        let best = self.scores.iter().map(NodeScore::total).max().expect("at least two candidates");
        let ties = self.scores.iter().filter(|s| s.total() == best).count();
        self.last_ties = ties;
        let k = if ties == 1 { 0 } else { rng.random_range(0..ties) };
        self.scores.iter().filter(|s| s.total() == best).nth(k).expect("k < ties").node
    }

    /// `FitError.Error()`: "0/N nodes are available: <count reason>, ... ." sorted as strings,
    /// followed by the PostFilter (preemption) diagnosis when no node has pods of lower
    /// priority (the scheduling controller runs the real PostFilter,
    /// [`preemption`], when some do).
    fn unschedulable(&self, nodes: &[Node], n: usize) -> Unschedulable {
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let mut rejectors = PluginSet::default();
        let (mut unresolvable, mut no_victims) = (0, 0);
        let mut buf = Vec::new();
        for &(idx, r) in &self.rejects {
            rejectors.insert(r.plugin());
            if r.unresolvable() {
                unresolvable += 1;
            } else {
                no_victims += 1;
            }
            buf.clear();
            r.reasons(&nodes[idx], &mut buf);
            for reason in buf.drain(..) {
                *reasons.entry(reason).or_default() += 1;
            }
        }
        let mut histogram: Vec<String> = reasons.into_iter().map(|(r, c)| format!("{c} {r}")).collect();
        histogram.sort();
        let mut preemption = Vec::new();
        if no_victims > 0 {
            preemption.push(format!("{no_victims} No preemption victims found for incoming pod"));
        }
        if unresolvable > 0 {
            preemption.push(format!("{unresolvable} Preemption is not helpful for scheduling"));
        }
        preemption.sort();
        let fit = format!("0/{n} nodes are available: {}.", histogram.join(", "));
        Unschedulable { message: format!("{fit} preemption: 0/{n} nodes are available: {}.", preemption.join(", ")), fit, rejectors }
    }

    /// The nodes the last failed [`Scheduler::find_node`] rejected, with why.
    pub fn last_rejects(&self) -> &[(usize, Reject)] {
        &self.rejects
    }
}

#[cfg(test)]
mod tests;
