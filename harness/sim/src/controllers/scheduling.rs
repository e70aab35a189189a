//! kube-scheduler as a controller: the scheduling queue around [`crate::scheduler::Scheduler`]
//! (activeQ ordered by priority then queue time, backoffQ with 1 s doubling to 10 s flushed on
//! whole seconds, unschedulable pods requeued only by cluster events their rejecting plugins
//! care about — QueueingHints — or after 5 minutes), the assume/bind split with bindings paced
//! by the scheduler's client QPS (reference/kube-scheduler.md §1.4, §4.1–4.3), and the node
//! snapshot order (one node per zone in turn, the node tree).
//!
//! Inputs: its own [`Ev`]s; [`Scheduling::add`] (a pod was created), [`Scheduling::forget`],
//! [`Scheduling::on_node_added`], [`Scheduling::on_node_updated`],
//! [`Scheduling::on_node_removed`], [`Scheduling::on_resources_freed`]. Output: the pod's
//! `node`/`bound` fields, `pod_unschedulable` and `pod_scheduled` trace events, and
//! [`Signal::PodBound`] for the kubelet.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use sparkrig_model::scenario::Scenario;
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::Event;

use crate::api::{Cx, Signal, controller};
use crate::bucket::TokenBucket;
use crate::intern::Sym;
use crate::scheduler::Scheduler;
use crate::scheduler::plugins::{self, Plugin};
use crate::store::{Pod, PodId, Queued, Store};

/// The scheduler's timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    /// Pop activeQ until empty.
    Cycle,
    /// `flushBackoffQCompleted`.
    BackoffFlush,
    /// `flushUnschedulablePodsLeftover`.
    LeftoverFlush,
    /// The binding API call of an assumed pod completes.
    Bind {
        /// Pod.
        pod: PodId,
        /// Node.
        node: usize,
    },
}

/// kube-scheduler's state.
#[derive(Debug)]
pub struct Scheduling {
    scheduler: Scheduler,
    /// (priority, earlier queue time first, FIFO, pod).
    active: BinaryHeap<(i32, Reverse<Time>, Reverse<u64>, PodId)>,
    backoff: BinaryHeap<Reverse<(Time, u64, PodId)>>,
    unschedulable: BTreeSet<PodId>,
    cycle_scheduled: bool,
    flush_at: Option<Time>,
    leftover_scheduled: bool,
    seq: u64,
    bind_bucket: TokenBucket,
    /// Live nodes in snapshot order.
    node_order: Vec<usize>,
    node_order_dirty: bool,
    /// Pods waiting on a node after preempting (`status.nominatedNodeName`).
    nominated: BTreeMap<PodId, usize>,
}

controller!(Scheduling, Ev, Sched);

impl Scheduling {
    /// An empty queue for the scenario's Kubernetes version and client budget.
    pub fn new(plan: &Scenario) -> Scheduling {
        Scheduling {
            scheduler: Scheduler::new(plan.stack.kubernetes_minor),
            active: BinaryHeap::new(),
            backoff: BinaryHeap::new(),
            unschedulable: BTreeSet::new(),
            cycle_scheduled: false,
            flush_at: None,
            leftover_scheduled: false,
            seq: 0,
            bind_bucket: TokenBucket::new(plan.stack.scheduler_qps, plan.stack.scheduler_burst),
            node_order: Vec::new(),
            node_order_dirty: true,
            nominated: BTreeMap::new(),
        }
    }

    /// Handles one of its timers.
    pub fn handle(cx: &mut impl Cx<Scheduling>, ev: Ev) {
        match ev {
            Ev::Cycle => Self::cycle(cx),
            Ev::BackoffFlush => Self::backoff_flush(cx),
            Ev::LeftoverFlush => Self::leftover_flush(cx),
            Ev::Bind { pod, node } => Self::bind_done(cx, pod, node),
        }
    }

    /// A new pod enters activeQ (PreEnqueue has nothing to gate: no scheduling gates).
    pub fn add(cx: &mut impl Cx<Scheduling>, id: PodId) {
        Self::push_active(cx, id);
    }

    /// The control plane moved to another minor: version-dependent scoring follows.
    pub fn set_kubernetes_minor(cx: &mut impl Cx<Scheduling>, minor: u32) {
        cx.me().scheduler.set_kubernetes_minor(minor);
    }

    /// Drops a removed pod from the queues.
    pub fn forget(cx: &mut impl Cx<Scheduling>, id: PodId) {
        cx.me().unschedulable.remove(&id);
        cx.me().nominated.remove(&id);
    }

    /// Per node, the requests of the pods nominated there with a priority at least `priority`
    /// (other than `id`): room they keep.
    fn nominated_extra(&self, store: &Store, id: PodId, priority: i32) -> BTreeMap<usize, (crate::cluster::Res, i64)> {
        let mut out: BTreeMap<usize, (crate::cluster::Res, i64)> = BTreeMap::new();
        for (p, n) in &self.nominated {
            let Some(pod) = store.pod(*p).filter(|x| *p != id && x.spec.priority >= priority) else { continue };
            let e = out.entry(*n).or_default();
            e.0.cpu += pod.spec.req.cpu;
            e.0.mem += pod.spec.req.mem;
            e.1 += 1;
        }
        out
    }

    fn push_active(cx: &mut impl Cx<Scheduling>, id: PodId) {
        let now = cx.now();
        let me = cx.me();
        me.seq += 1;
        let seq = me.seq;
        let Some(p) = cx.store_mut().pod_mut(id) else { return };
        p.sched.queued = Queued::Active;
        p.sched.queue_seq = seq;
        p.sched.queued_at = now;
        let prio = p.spec.priority;
        let me = cx.me();
        me.active.push((prio, Reverse(now), Reverse(seq), id));
        if !me.cycle_scheduled {
            me.cycle_scheduled = true;
            cx.at(Dur::ZERO, Ev::Cycle);
        }
    }

    /// Pops activeQ until empty, one scheduling cycle per pod, all at this instant.
    fn cycle(cx: &mut impl Cx<Scheduling>) {
        cx.me().cycle_scheduled = false;
        while let Some((_, _, Reverse(seq), id)) = cx.me().active.pop() {
            let valid =
                cx.store().pod(id).is_some_and(|p| p.sched.queued == Queued::Active && p.sched.queue_seq == seq && p.deleting.is_none());
            if valid {
                Self::schedule_one(cx, id);
            }
        }
    }

    /// Live nodes in snapshot order: one node per zone in turn (the node tree).
    fn refresh_order(&mut self, store: &Store) {
        if !self.node_order_dirty {
            return;
        }
        let zone = store.interner.get("topology.kubernetes.io/zone");
        let mut by_zone: BTreeMap<Option<Sym>, Vec<usize>> = BTreeMap::new();
        for (i, n) in store.nodes.iter().enumerate().filter(|(_, n)| !n.gone) {
            by_zone.entry(zone.and_then(|z| n.labels.get(z))).or_default().push(i);
        }
        let live = store.nodes.iter().filter(|n| !n.gone).count();
        let mut lists: Vec<std::vec::IntoIter<usize>> = by_zone.into_values().map(Vec::into_iter).collect();
        self.node_order.clear();
        while self.node_order.len() < live {
            for l in lists.iter_mut() {
                if let Some(i) = l.next() {
                    self.node_order.push(i);
                }
            }
        }
        self.node_order_dirty = false;
    }

    fn schedule_one(cx: &mut impl Cx<Scheduling>, id: PodId) {
        let now = cx.now();
        let (me, store, rng) = cx.parts();
        me.refresh_order(store);
        let spec = store.pod(id).expect("valid").spec.clone();
        let extra = if me.nominated.is_empty() { BTreeMap::new() } else { me.nominated_extra(store, id, spec.priority) };
        let nominated = me.nominated.get(&id).copied();
        let result = me.scheduler.find_node_with(&store.nodes, &me.node_order, &spec, &store.interner, rng, &extra, nominated);
        let p = &mut store.pod_mut(id).expect("valid").sched;
        p.attempts += 1;
        p.last_attempt = now;
        match result {
            Ok(n) => {
                me.nominated.remove(&id);
                // Assume: the pod counts against the node at once (§2.0).
                let p = store.pod_mut(id).expect("valid");
                p.nominated = None;
                p.sched.queued = Queued::No;
                p.node = Some(n);
                p.accounted = true;
                store.nodes[n].add_pod(&spec);
                store.node_state[n].pods.push(id);
                let wait = me.bind_bucket.reserve(now);
                cx.at(wait, Ev::Bind { pod: id, node: n });
            }
            Err(mut u) => {
                u.message = Self::post_filter(cx, id, &spec, &u);
                let store = cx.store_mut();
                let p = store.pod_mut(id).expect("valid");
                p.sched.rejectors = u.rejectors;
                p.sched.queued = Queued::Unschedulable;
                p.sched.queued_at = now;
                let changed = p.sched.last_message.as_deref() != Some(u.message.as_str());
                let key = p.key.clone();
                if changed {
                    p.sched.last_message = Some(u.message.clone());
                    cx.emit(Event::PodUnschedulable { pod: key, message: u.message });
                }
                let me = cx.me();
                me.unschedulable.insert(id);
                if !me.leftover_scheduled {
                    me.leftover_scheduled = true;
                    let every = cx.timings().sched_leftover_flush;
                    cx.at(every, Ev::LeftoverFlush);
                }
            }
        }
    }

    /// DefaultPreemption (PostFilter) after every node failed Filter (reference/platform-ops.md
    /// §3.2): the candidate nodes are those that failed with `Unschedulable` (not
    /// `…AndUnresolvable`); each is dry-run with [`preemption::select_victims_on_node`] from a
    /// random offset (all of them below 100 nodes: `minCandidateNodesAbsolute = 100`,
    /// `minCandidateNodesPercentage = 10`); [`preemption::pick_one_node`] chooses; the victims
    /// get the DisruptionTarget condition and are deleted gracefully, lower-priority pods
    /// nominated to that node lose their nomination, and the pod is nominated there. Returns the
    /// FailedScheduling message: the Filter diagnosis alone when preemption succeeded (the
    /// PostFilter status carries no message then: inference from `schedule_one.go`), else with
    /// the PostFilter's `preemption: …` diagnosis.
    fn post_filter(
        cx: &mut impl Cx<Scheduling>,
        id: PodId,
        spec: &crate::cluster::SchedSpec,
        u: &crate::scheduler::Unschedulable,
    ) -> String {
        use crate::scheduler::preemption::{self, NodeOutcome, PodOnNode};
        if !spec.preempt {
            return format!("{} preemption: not eligible due to preemptionPolicy=Never.", u.fit);
        }
        let store = cx.store();
        let me = cx.me_ref();
        // A preemptor already waiting on its nominated node where a lower-priority victim is
        // still terminating keeps waiting.
        if let Some(n) = me.nominated.get(&id) {
            let terminating = store.node_state[*n]
                .pods
                .iter()
                .filter_map(|p| store.pod(*p))
                .any(|p| p.disrupted && p.deleting.is_some() && p.spec.priority < spec.priority);
            if terminating {
                return format!("{} preemption: not eligible due to a terminating pod on the nominated node.", u.fit);
            }
        }
        let rejects: Vec<(usize, crate::scheduler::plugins::Reject)> = me.scheduler.last_rejects().to_vec();
        let lower_somewhere = rejects.iter().any(|(n, r)| {
            !r.unresolvable()
                && store.node_state[*n].pods.iter().filter_map(|p| store.pod(*p)).any(|p| p.accounted && p.spec.priority < spec.priority)
        });
        if !lower_somewhere {
            // Every candidate would answer "No preemption victims found": the Filter's own
            // diagnosis already says so (no draw from the RNG: traces stay as they were).
            return u.message.clone();
        }
        let potential: Vec<usize> = rejects.iter().filter(|(_, r)| !r.unresolvable()).map(|(n, _)| *n).collect();
        let offset = {
            use rand::Rng;
            cx.rng().random_range(0..potential.len())
        };
        let store = cx.store();
        let me = cx.me_ref();
        let extra = me.nominated_extra(store, id, spec.priority);
        let mut candidates = Vec::new();
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for k in 0..potential.len() {
            let n = potential[(offset + k) % potential.len()];
            let pods: Vec<PodOnNode> = store.node_state[n]
                .pods
                .iter()
                .filter_map(|p| store.pod(*p).filter(|x| x.accounted).map(|x| (p, x)))
                .map(|(p, x)| PodOnNode {
                    id: p.0,
                    priority: x.spec.priority,
                    spec: x.spec.clone(),
                    start: x.started.map(|t| t.as_ms()),
                    violates_pdb: crate::pdb::violates_pdb(store, *p),
                })
                .collect();
            match preemption::select_victims_on_node(n, &store.nodes[n], &pods, spec, extra.get(&n).copied(), &store.interner) {
                NodeOutcome::Candidate(c) => candidates.push(c),
                NodeOutcome::NoVictims => *reasons.entry("No preemption victims found for incoming pod".into()).or_default() += 1,
                NodeOutcome::DoesNotFit(r) => {
                    let mut buf = Vec::new();
                    r.reasons(&store.nodes[n], &mut buf);
                    for b in buf {
                        *reasons.entry(b).or_default() += 1;
                    }
                }
            }
        }
        let unresolvable = rejects.len() - potential.len();
        let Some(pick) = preemption::pick_one_node(&candidates) else {
            if unresolvable > 0 {
                *reasons.entry("Preemption is not helpful for scheduling".into()).or_default() += unresolvable;
            }
            let mut hist: Vec<String> = reasons.into_iter().map(|(r, c)| format!("{c} {r}")).collect();
            hist.sort();
            return format!("{} preemption: 0/{} nodes are available: {}.", u.fit, rejects.len(), hist.join(", "));
        };
        let c = candidates.swap_remove(pick);
        let preemptor = store.pod(id).expect("valid").key.clone();
        let node_name = store.nodes[c.node].name.clone();
        for v in &c.victims {
            let victim = PodId(*v);
            let Some(p) = cx.store().pod(victim) else { continue };
            if p.deleting.is_some() {
                continue;
            }
            let (key, priority) = (p.key.clone(), p.spec.priority);
            cx.store_mut().pod_mut(victim).expect("exists").disrupted = true;
            cx.emit(Event::PodPreempted {
                pod: key,
                by: preemptor.clone(),
                node: node_name.clone(),
                priority,
                by_priority: spec.priority,
                message: "default-scheduler: preempting to accommodate a higher priority pod".into(),
            });
            cx.delete_pod(
                victim,
                &format!(
                    "preempted by {preemptor} (priority {}) on node {node_name}: victim priority {priority} (DisruptionTarget: PreemptionByScheduler)",
                    spec.priority
                ),
            );
        }
        // Lower-priority pods nominated to that node lose their nomination.
        let cleared: Vec<PodId> = cx
            .me_ref()
            .nominated
            .iter()
            .filter(|(p, n)| **n == c.node && **p != id && cx.store().pod(**p).is_some_and(|x| x.spec.priority < spec.priority))
            .map(|(p, _)| *p)
            .collect();
        for p in cleared {
            cx.me().nominated.remove(&p);
            if let Some(x) = cx.store_mut().pod_mut(p) {
                x.nominated = None;
                let key = x.key.clone();
                cx.emit(Event::PodNominated { pod: key, node: String::new() });
            }
        }
        cx.me().nominated.insert(id, c.node);
        cx.store_mut().pod_mut(id).expect("valid").nominated = Some(c.node);
        cx.emit(Event::PodNominated { pod: preemptor, node: node_name });
        u.fit.clone()
    }

    /// The binding API call completed.
    fn bind_done(cx: &mut impl Cx<Scheduling>, id: PodId, n: usize) {
        let Some(p) = cx.store().pod(id) else { return };
        if p.node != Some(n) || p.bound {
            return;
        }
        if cx.store().nodes[n].gone {
            // The node vanished between assume and bind: forget the assumption and retry.
            cx.release(id);
            let store = cx.store_mut();
            store.node_state[n].pods.retain(|x| *x != id);
            store.pod_mut(id).expect("exists").node = None;
            Self::push_active(cx, id);
            return;
        }
        let store = cx.store_mut();
        let p = store.pod_mut(id).expect("exists");
        p.bound = true;
        let key = p.key.clone();
        let node = store.nodes[n].name.clone();
        cx.emit(Event::PodScheduled { pod: key, node });
        cx.signal(Signal::PodBound(id));
    }

    /// `backoff = initial × 2^(attempts−1)`, capped (§4.1).
    fn backoff_of(cx: &impl Cx<Scheduling>, attempts: u32) -> Dur {
        let t = cx.timings();
        let initial = t.sched_initial_backoff.as_ms();
        let ms = initial.saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
        Dur::ms(ms.min(t.sched_max_backoff.as_ms()))
    }

    /// Moves an unschedulable pod back: to backoffQ while backing off, else to activeQ.
    fn requeue(cx: &mut impl Cx<Scheduling>, id: PodId) {
        cx.me().unschedulable.remove(&id);
        let Some(p) = cx.store().pod(id) else { return };
        let expiry = p.sched.last_attempt + Self::backoff_of(cx, p.sched.attempts);
        if expiry > cx.now() {
            let me = cx.me();
            me.seq += 1;
            let seq = me.seq;
            me.backoff.push(Reverse((expiry, seq, id)));
            let p = cx.store_mut().pod_mut(id).expect("exists");
            p.sched.queued = Queued::Backoff;
            p.sched.queue_seq = seq;
            Self::arm_backoff_flush(cx, expiry);
        } else {
            Self::push_active(cx, id);
        }
    }

    /// `flushBackoffQCompleted` runs every second: pods leave backoffQ at the first whole
    /// second after their expiry.
    fn arm_backoff_flush(cx: &mut impl Cx<Scheduling>, expiry: Time) {
        let tick = Time(expiry.as_ms().div_ceil(1000) * 1000);
        let now = cx.now();
        let me = cx.me();
        if me.flush_at.is_none_or(|t| tick < t) {
            me.flush_at = Some(tick);
            cx.at(tick - now, Ev::BackoffFlush);
        }
    }

    fn backoff_flush(cx: &mut impl Cx<Scheduling>) {
        let now = cx.now();
        if cx.me().flush_at != Some(now) {
            return;
        }
        cx.me().flush_at = None;
        while let Some(Reverse((expiry, seq, id))) = cx.me().backoff.peek().copied() {
            if expiry > now {
                Self::arm_backoff_flush(cx, expiry);
                break;
            }
            cx.me().backoff.pop();
            if cx.store().pod(id).is_some_and(|p| p.sched.queued == Queued::Backoff && p.sched.queue_seq == seq) {
                Self::push_active(cx, id);
            }
        }
    }

    /// `flushUnschedulablePodsLeftover`: every 30 s, pods unschedulable for over 5 minutes.
    fn leftover_flush(cx: &mut impl Cx<Scheduling>) {
        cx.me().leftover_scheduled = false;
        let (now, limit) = (cx.now(), cx.timings().sched_unschedulable_max);
        let store = cx.store();
        let stale: Vec<PodId> = cx
            .me_ref()
            .unschedulable
            .iter()
            .copied()
            .filter(|id| store.pod(*id).is_some_and(|p| now - p.sched.queued_at > limit))
            .collect();
        for id in stale {
            Self::requeue(cx, id);
        }
        if !cx.me().unschedulable.is_empty() {
            cx.me().leftover_scheduled = true;
            let every = cx.timings().sched_leftover_flush;
            cx.at(every, Ev::LeftoverFlush);
        }
    }

    /// Node/Add: each pod is requeued if a plugin that rejected it would now pass on the node.
    pub fn on_node_added(cx: &mut impl Cx<Scheduling>, n: usize) {
        cx.me().node_order_dirty = true;
        Self::requeue_where(cx, |store, p| {
            let node = &store.nodes[n];
            (p.sched.rejectors.contains(Plugin::NodeResourcesFit) && node.alloc.cpu >= p.spec.req.cpu && node.alloc.mem >= p.spec.req.mem)
                || (p.sched.rejectors.contains(Plugin::NodeAffinity) && plugins::node_affinity(node, &p.spec, &store.interner))
                || (p.sched.rejectors.contains(Plugin::TaintToleration) && plugins::untolerated(node, &p.spec.tolerations).is_none())
                || (p.sched.rejectors.contains(Plugin::NodeUnschedulable) && plugins::node_unschedulable(node, &p.spec))
        });
    }

    /// Node/Update (taints, labels, `spec.unschedulable`).
    pub fn on_node_updated(cx: &mut impl Cx<Scheduling>, n: usize) {
        Self::requeue_where(cx, |store, p| {
            let node = &store.nodes[n];
            (p.sched.rejectors.contains(Plugin::NodeAffinity) && plugins::node_affinity(node, &p.spec, &store.interner))
                || (p.sched.rejectors.contains(Plugin::TaintToleration) && plugins::untolerated(node, &p.spec.tolerations).is_none())
                || (p.sched.rejectors.contains(Plugin::NodeUnschedulable) && plugins::node_unschedulable(node, &p.spec))
        });
    }

    /// Node/Delete: the snapshot no longer holds it.
    pub fn on_node_removed(cx: &mut impl Cx<Scheduling>) {
        cx.me().node_order_dirty = true;
    }

    /// An assigned pod was deleted or finished: NodeResourcesFit rejections are retried.
    pub fn on_resources_freed(cx: &mut impl Cx<Scheduling>) {
        Self::requeue_where(cx, |_, p| p.sched.rejectors.contains(Plugin::NodeResourcesFit));
    }

    fn requeue_where(cx: &mut impl Cx<Scheduling>, hint: impl Fn(&Store, &Pod) -> bool) {
        if cx.me().unschedulable.is_empty() {
            return;
        }
        let store = cx.store();
        let hit: Vec<PodId> =
            cx.me_ref().unschedulable.iter().copied().filter(|id| store.pod(*id).is_some_and(|p| hint(store, p))).collect();
        for id in hit {
            Self::requeue(cx, id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Api, Ev as AnyEv};
    use crate::testing::{Fake, nodes, pod, scenario};

    fn fake() -> Fake<Scheduling> {
        let plan = scenario("smoke.yaml");
        Fake::new(Scheduling::new(&plan), &plan)
    }

    #[test]
    fn a_created_pod_is_assumed_at_once_then_bound_and_handed_to_the_kubelet() {
        let mut f = fake();
        let n = nodes(&mut f, "infra", 1)[0];
        let p = pod(&mut f, "a", 500, false);
        Scheduling::add(&mut f, p);
        assert_eq!(f.timers(), [(0, AnyEv::Sched(Ev::Cycle))]);
        f.clear();
        Scheduling::handle(&mut f, Ev::Cycle);
        let assumed = f.store.pod(p).unwrap();
        assert_eq!((assumed.node, assumed.bound, assumed.accounted), (Some(n), false, true));
        assert_eq!(f.store.nodes[n].requested.cpu, 500, "assumed pods count against the node at once");
        // The bind bucket starts full (burst 100): the binding call goes out now.
        assert_eq!(f.timers(), [(0, AnyEv::Sched(Ev::Bind { pod: p, node: n }))]);
        f.clear();
        Scheduling::handle(&mut f, Ev::Bind { pod: p, node: n });
        assert_eq!(f.trace(), ["pod_scheduled default/a"]);
        assert_eq!(f.signals, [Signal::PodBound(p)]);
    }

    #[test]
    fn a_pod_that_does_not_fit_waits_until_resources_are_freed_then_backs_off_to_the_next_whole_second() {
        let mut f = fake();
        let n = nodes(&mut f, "infra", 1)[0];
        let big = pod(&mut f, "big", 6000, false);
        let late = pod(&mut f, "late", 4000, false);
        Scheduling::add(&mut f, big);
        Scheduling::add(&mut f, late);
        f.advance(Dur::ms(300));
        f.clear();
        Scheduling::handle(&mut f, Ev::Cycle);
        assert_eq!(f.store.pod(big).unwrap().node, Some(n));
        assert_eq!(f.store.pod(late).unwrap().sched.queued, Queued::Unschedulable);
        let [Event::PodUnschedulable { message, .. }] = f.emitted.as_slice() else { panic!("{:?}", f.emitted) };
        assert_eq!(
            message,
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
        );
        // The leftover flush runs every 30 s from the first unschedulable pod.
        assert!(f.timers().contains(&(30_300, AnyEv::Sched(Ev::LeftoverFlush))));
        f.clear();
        // A taint change on the node does not help a pod rejected for CPU: no requeue.
        Scheduling::on_node_updated(&mut f, n);
        assert_eq!(f.store.pod(late).unwrap().sched.queued, Queued::Unschedulable);
        // 400 ms after its attempt the big pod finishes: the NodeResourcesFit hint requeues the
        // late pod into backoffQ until attempt + 1 s = 1.3 s, flushed at the next whole second.
        f.advance(Dur::ms(400));
        f.release(big);
        assert_eq!(f.signals, [Signal::ResourcesFreed]);
        Scheduling::on_resources_freed(&mut f);
        assert_eq!(f.store.pod(late).unwrap().sched.queued, Queued::Backoff);
        assert_eq!(f.timers(), [(2000, AnyEv::Sched(Ev::BackoffFlush))]);
        f.clear();
        f.now = Time(2000);
        Scheduling::handle(&mut f, Ev::BackoffFlush);
        assert_eq!(f.store.pod(late).unwrap().sched.queued, Queued::Active);
        assert_eq!(f.timers(), [(2000, AnyEv::Sched(Ev::Cycle))]);
    }

    #[test]
    fn a_stale_bind_to_a_vanished_node_puts_the_pod_back_in_activeq() {
        let mut f = fake();
        let n = nodes(&mut f, "infra", 1)[0];
        let p = pod(&mut f, "a", 500, false);
        Scheduling::add(&mut f, p);
        Scheduling::handle(&mut f, Ev::Cycle);
        f.store.nodes[n].gone = true;
        f.clear();
        Scheduling::handle(&mut f, Ev::Bind { pod: p, node: n });
        let back = f.store.pod(p).unwrap();
        assert_eq!((back.node, back.accounted, back.sched.queued), (None, false, Queued::Active));
        assert_eq!(f.store.nodes[n].requested.cpu, 0);
        assert!(f.emitted.is_empty(), "no pod_scheduled for a node that is gone");
    }
}
