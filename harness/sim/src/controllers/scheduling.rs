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

    /// Drops a removed pod from the queues.
    pub fn forget(cx: &mut impl Cx<Scheduling>, id: PodId) {
        cx.me().unschedulable.remove(&id);
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
        let result = me.scheduler.find_node(&store.nodes, &me.node_order, &spec, &store.interner, rng);
        let p = &mut store.pod_mut(id).expect("valid").sched;
        p.attempts += 1;
        p.last_attempt = now;
        match result {
            Ok(n) => {
                // Assume: the pod counts against the node at once (§2.0).
                let p = store.pod_mut(id).expect("valid");
                p.sched.queued = Queued::No;
                p.node = Some(n);
                p.accounted = true;
                store.nodes[n].add_pod(&spec);
                store.node_state[n].pods.push(id);
                let wait = me.bind_bucket.reserve(now);
                cx.at(wait, Ev::Bind { pod: id, node: n });
            }
            Err(u) => {
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
