//! The DefaultPreemption PostFilter of the default profile, as pure functions over a node and
//! the pods on it (reference/platform-ops.md §3.2, reference/kube-scheduler.md §4.4; upstream
//! `pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go` and
//! `pkg/scheduler/framework/preemption/preemption.go`):
//!
//! - [`select_victims_on_node`]: remove every pod of lower priority (equal priority is never a
//!   victim); if the preemptor still does not fit, the node is no candidate; else sort the
//!   removed pods by importance (higher priority, then earlier start) and reprieve them —
//!   PDB-violating ones first, then the others — keeping each that still lets the preemptor fit;
//!   the rest are the victims.
//! - [`pick_one_node`]: fewest PDB violations, then the lowest highest-victim priority, then the
//!   lowest Σ(priority + 2³¹), then the fewest victims, then the latest start among the
//!   highest-priority victims, then the first candidate.
//!
//! The scheduling controller ([`crate::controllers::scheduling`]) chooses the candidate nodes,
//! nominates the node and deletes the victims.

use std::cmp::Reverse;
use std::sync::Arc;

use crate::cluster::{Node, Res, SchedSpec};
use crate::intern::Interner;
use crate::scheduler::plugins::{self, Reject};

/// A pod on a node, as preemption weighs it.
#[derive(Debug, Clone)]
pub struct PodOnNode {
    /// The caller's id for it.
    pub id: u32,
    /// `spec.priority`.
    pub priority: i32,
    /// Its requests (what removing it frees).
    pub spec: Arc<SchedSpec>,
    /// `status.startTime` in ms (None: not started; upstream counts that as now, the latest).
    pub start: Option<u64>,
    /// Deleting it now would take a PodDisruptionBudget below zero disruptions allowed
    /// ([`crate::pdb::violates_pdb`]). Upstream (`filterPodsWithPDBViolation`) also counts
    /// victims of one node against a shared budget, each using one disruption; here each pod is
    /// judged against the budget as it stands (a simplification: two victims under a budget
    /// allowing one both count as not violating).
    pub violates_pdb: bool,
}

/// What preemption found on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeOutcome {
    /// Deleting these pods lets the preemptor fit.
    Candidate(Candidate),
    /// No pod of lower priority: `No preemption victims found for incoming pod`.
    NoVictims,
    /// Even without every lower-priority pod the preemptor does not fit (the filter's reason).
    DoesNotFit(Reject),
}

/// A node where preemption works, with its victims (most important first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Node index.
    pub node: usize,
    /// Victim ids, most important first.
    pub victims: Vec<u32>,
    /// Victims whose deletion violates a PDB.
    pub pdb_violations: usize,
    /// The highest victim priority.
    pub highest: i32,
    /// Σ (priority + 2³¹) over the victims (upstream adds `MaxInt32 + 1` so that negative
    /// priorities count).
    pub priority_sum: i64,
    /// The earliest start among the victims of the highest priority (ms; `u64::MAX` = none).
    pub earliest_start_of_highest: u64,
}

/// MoreImportantPod: higher priority first, then the earlier start.
fn importance(p: &PodOnNode) -> (Reverse<i32>, u64) {
    (Reverse(p.priority), p.start.unwrap_or(u64::MAX))
}

/// Filter with the node's nominated pods (`extra`) counted in.
fn fits(node: &Node, spec: &SchedSpec, interner: &Interner) -> Result<(), Reject> {
    plugins::filter(node, spec, interner)
}

/// `SelectVictimsOnNode`. `extra` is what pods nominated to the node with a priority at least
/// the preemptor's request (they keep their room).
pub fn select_victims_on_node(
    node_index: usize,
    node: &Node,
    pods: &[PodOnNode],
    preemptor: &SchedSpec,
    extra: Option<(Res, i64)>,
    interner: &Interner,
) -> NodeOutcome {
    let mut lower: Vec<&PodOnNode> = pods.iter().filter(|p| p.priority < preemptor.priority).collect();
    if lower.is_empty() {
        return NodeOutcome::NoVictims;
    }
    let mut n = node.clone();
    if let Some((res, count)) = extra {
        n.requested.cpu += res.cpu;
        n.requested.mem += res.mem;
        n.pod_count += count;
    }
    for p in &lower {
        n.remove_pod(&p.spec);
    }
    if let Err(r) = fits(&n, preemptor, interner) {
        return NodeOutcome::DoesNotFit(r);
    }
    lower.sort_by_key(|p| importance(p));
    let (violating, ok): (Vec<&PodOnNode>, Vec<&PodOnNode>) = lower.into_iter().partition(|p| p.violates_pdb);
    let mut victims: Vec<&PodOnNode> = Vec::new();
    let mut pdb_violations = 0;
    for (group, violates) in [(violating, true), (ok, false)] {
        for p in group {
            n.add_pod(&p.spec);
            if fits(&n, preemptor, interner).is_err() {
                n.remove_pod(&p.spec);
                victims.push(p);
                if violates {
                    pdb_violations += 1;
                }
            }
        }
    }
    victims.sort_by_key(|p| importance(p));
    let highest = victims.first().map_or(i32::MIN, |p| p.priority);
    NodeOutcome::Candidate(Candidate {
        node: node_index,
        victims: victims.iter().map(|p| p.id).collect(),
        pdb_violations,
        highest,
        priority_sum: victims.iter().map(|p| i64::from(p.priority) + i64::from(i32::MAX) + 1).sum(),
        earliest_start_of_highest: victims
            .iter()
            .filter(|p| p.priority == highest)
            .map(|p| p.start.unwrap_or(u64::MAX))
            .min()
            .unwrap_or(u64::MAX),
    })
}

/// `pickOneNodeForPreemption`: the index of the chosen candidate.
pub fn pick_one_node(candidates: &[Candidate]) -> Option<usize> {
    if let Some(i) = candidates.iter().position(|c| c.victims.is_empty()) {
        return Some(i);
    }
    // Each criterion keeps the candidates that are best on it; the first left wins.
    let mut left: Vec<usize> = (0..candidates.len()).collect();
    let keep = |left: &mut Vec<usize>, key: &dyn Fn(&Candidate) -> i128| {
        let best = left.iter().map(|i| key(&candidates[*i])).min();
        left.retain(|i| Some(key(&candidates[*i])) == best);
    };
    keep(&mut left, &|c| c.pdb_violations as i128);
    keep(&mut left, &|c| i128::from(c.highest));
    keep(&mut left, &|c| i128::from(c.priority_sum));
    keep(&mut left, &|c| c.victims.len() as i128);
    // The latest of the earliest start times: minimise its negation.
    keep(&mut left, &|c| -i128::from(c.earliest_start_of_highest));
    left.first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::Interner;

    const GI: i64 = 1 << 30;

    fn node(cpu_cores: i64, interner: &mut Interner) -> Node {
        Node::new("n", 0, &Default::default(), vec![], Res::new(cpu_cores * 1000, 64 * GI), 110, interner)
    }

    fn pod(id: u32, priority: i32, cpu_cores: i64, start: u64) -> PodOnNode {
        PodOnNode { id, priority, spec: Arc::new(SchedSpec::with_requests(cpu_cores * 1000, GI)), start: Some(start), violates_pdb: false }
    }

    fn on(n: &mut Node, pods: &[PodOnNode]) {
        for p in pods {
            n.add_pod(&p.spec);
        }
    }

    fn preemptor(priority: i32, cpu_cores: i64) -> SchedSpec {
        SchedSpec { priority, ..SchedSpec::with_requests(cpu_cores * 1000, GI) }
    }

    /// An 8-core node holds executors of priority 10 (2 cores, started at 1, 2, 3 s) and a
    /// driver of priority 100 (2 cores). A driver of priority 1000 asks for 3 cores.
    /// Removing every lower pod (all four) frees 8 cores. Reprieve, most important first:
    /// the priority-100 driver (2 cores: 2 used + 3 = 5 <= 8, kept), the executor started at
    /// 1 s (4 + 3 = 7 <= 8, kept), at 2 s (6 + 3 = 9 > 8, victim), at 3 s (6 + 3 = 9 > 8,
    /// victim). Two victims, the two youngest executors.
    #[test]
    fn minimal_victims_reprieve_the_most_important_first() {
        let mut i = Interner::default();
        let mut n = node(8, &mut i);
        let pods = [pod(1, 10, 2, 1_000), pod(2, 10, 2, 2_000), pod(3, 10, 2, 3_000), pod(4, 100, 2, 500)];
        on(&mut n, &pods);
        let NodeOutcome::Candidate(c) = select_victims_on_node(0, &n, &pods, &preemptor(1000, 3), None, &i) else { panic!() };
        assert_eq!(c.victims, [2, 3]);
        assert_eq!((c.highest, c.pdb_violations), (10, 0));
        // Σ (10 + 2^31) over two victims.
        assert_eq!(c.priority_sum, 2 * (10 + 2_147_483_648));
        assert_eq!(c.earliest_start_of_highest, 2_000);
    }

    /// Equal priority is never a victim; a node whose lower pods do not free enough is no
    /// candidate; a node without lower pods has no victims.
    #[test]
    fn equal_priority_pods_are_never_victims() {
        let mut i = Interner::default();
        let mut n = node(4, &mut i);
        let pods = [pod(1, 100, 2, 0), pod(2, 10, 1, 0)];
        on(&mut n, &pods);
        // 4 cores, 3 requested; without the priority-10 pod 2 are used: 2 + 3 = 5 > 4.
        assert!(matches!(select_victims_on_node(0, &n, &pods, &preemptor(100, 3), None, &i), NodeOutcome::DoesNotFit(_)));
        let same = [pod(1, 100, 2, 0)];
        let mut n2 = node(4, &mut i);
        on(&mut n2, &same);
        assert_eq!(select_victims_on_node(0, &n2, &same, &preemptor(100, 3), None, &i), NodeOutcome::NoVictims);
        // Room held for a nominated pod counts. A priority-1000 preemptor of 1 core, 2 cores
        // nominated: both pods are lower, so both are removed (0 + 2 nominated + 1 = 3 <= 4).
        // Reprieve, most important first: the priority-100 pod gives 2 + 2 + 1 = 5 > 4, a victim;
        // the priority-10 pod gives 1 + 2 + 1 = 4 <= 4, kept.
        assert!(matches!(
            select_victims_on_node(0, &n, &pods, &preemptor(1000, 1), Some((Res::new(2000, 0), 1)), &i),
            NodeOutcome::Candidate(c) if c.victims == [1]
        ));
    }

    /// PDB-violating pods are reprieved first (`SelectVictimsOnNode`), so a budget moves the
    /// choice to an unprotected pod even when the protected one is less important. 4 cores; two
    /// priority-10 pods of 2 cores (b started earlier, so more important); a priority-100
    /// preemptor of 2 cores. Both removed: 0 + 2 <= 4. Without budgets b is reprieved first
    /// (2 + 2 = 4), then a gives 2 + 2 + 2 = 6 > 4: victim a. With a under a budget, a is
    /// reprieved first (2 + 2 = 4) and b becomes the victim; no violation is counted.
    #[test]
    fn pdb_protected_pods_are_reprieved_first() {
        let mut i = Interner::default();
        let mut n = node(4, &mut i);
        let (a, b) = (pod(1, 10, 2, 1_000), pod(2, 10, 2, 500));
        on(&mut n, &[a.clone(), b.clone()]);
        let NodeOutcome::Candidate(c) = select_victims_on_node(0, &n, &[a.clone(), b.clone()], &preemptor(100, 2), None, &i) else {
            panic!()
        };
        assert_eq!((c.victims.as_slice(), c.pdb_violations), ([1].as_slice(), 0));
        let a = PodOnNode { violates_pdb: true, ..a };
        let NodeOutcome::Candidate(c) = select_victims_on_node(0, &n, &[a, b], &preemptor(100, 2), None, &i) else { panic!() };
        assert_eq!((c.victims.as_slice(), c.pdb_violations), ([2].as_slice(), 0));
    }

    fn cand(node: usize, victims: &[(i32, u64)], pdb: usize) -> Candidate {
        let highest = victims.iter().map(|v| v.0).max().unwrap_or(i32::MIN);
        Candidate {
            node,
            victims: (0..victims.len() as u32).collect(),
            pdb_violations: pdb,
            highest,
            priority_sum: victims.iter().map(|v| i64::from(v.0) + 2_147_483_648).sum(),
            earliest_start_of_highest: victims.iter().filter(|v| v.0 == highest).map(|v| v.1).min().unwrap_or(u64::MAX),
        }
    }

    /// Each criterion in turn, with the arithmetic of each step.
    #[test]
    fn pick_one_node_follows_the_upstream_criteria_order() {
        // 1. fewer PDB violations wins over everything else.
        assert_eq!(pick_one_node(&[cand(0, &[(1, 0)], 1), cand(1, &[(50, 0), (50, 0)], 0)]), Some(1));
        // 2. lowest highest-victim priority: max(10, 10) = 10 < max(20) = 20.
        assert_eq!(pick_one_node(&[cand(0, &[(20, 0)], 0), cand(1, &[(10, 0), (10, 0)], 0)]), Some(1));
        // 3. lowest sum: (5 + 2^31) + (10 + 2^31) = 2^32 + 15 < (10 + 2^31) × 2 = 2^32 + 20.
        assert_eq!(pick_one_node(&[cand(0, &[(10, 0), (10, 0)], 0), cand(1, &[(5, 0), (10, 0)], 0)]), Some(1));
        // 4. fewer victims when highest priority and sum tie (the sum set equal by hand: one
        //    victim against two).
        let one = cand(0, &[(10, 0)], 0);
        let mut two = cand(1, &[(10, 0), (10, 0)], 0);
        two.priority_sum = one.priority_sum;
        assert_eq!(pick_one_node(&[two, one]), Some(1));
        // 5. latest start of the highest-priority victims: 9 s > 3 s.
        assert_eq!(pick_one_node(&[cand(0, &[(10, 3_000)], 0), cand(1, &[(10, 9_000)], 0)]), Some(1));
        // 6. otherwise the first.
        assert_eq!(pick_one_node(&[cand(0, &[(10, 3_000)], 0), cand(1, &[(10, 3_000)], 0)]), Some(0));
        // A node without victims is taken at once.
        assert_eq!(pick_one_node(&[cand(0, &[(10, 0)], 0), cand(1, &[], 0)]), Some(1));
    }
}
