//! The scheduling queue around [`crate::scheduler::Scheduler`]: activeQ ordered by priority
//! then queue time, backoffQ (1 s doubling to 10 s, flushed on whole seconds), unschedulable
//! pods requeued only by cluster events their rejecting plugins care about (QueueingHints) or
//! after 5 minutes, and bindings paced by the scheduler's client QPS
//! (reference/kube-scheduler.md §1.4, §4.1–4.3).

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::Event;

use super::{Ev, PodId, Queued, Simulation};
use crate::scheduler::plugins::{self, Plugin};

#[derive(Debug, Default)]
pub(crate) struct SchedQueue {
    /// (priority, earlier queue time first, FIFO, pod).
    active: BinaryHeap<(i32, Reverse<Time>, Reverse<u64>, PodId)>,
    backoff: BinaryHeap<Reverse<(Time, u64, PodId)>>,
    unschedulable: BTreeSet<PodId>,
    cycle_scheduled: bool,
    flush_at: Option<Time>,
    leftover_scheduled: bool,
    seq: u64,
}

impl Simulation {
    /// A new pod enters activeQ (PreEnqueue has nothing to gate: no scheduling gates).
    pub(crate) fn sched_add(&mut self, id: PodId) {
        self.push_active(id);
    }

    fn push_active(&mut self, id: PodId) {
        let now = self.now;
        self.sched.seq += 1;
        let seq = self.sched.seq;
        let Some(p) = self.pod_mut(id) else { return };
        p.queued = Queued::Active;
        p.queue_seq = seq;
        p.queued_at = now;
        let prio = p.spec.priority;
        self.sched.active.push((prio, Reverse(now), Reverse(seq), id));
        if !self.sched.cycle_scheduled {
            self.sched.cycle_scheduled = true;
            self.at(Dur::ZERO, Ev::SchedCycle);
        }
    }

    /// Drops a removed pod from the queues.
    pub(crate) fn sched_forget(&mut self, id: PodId) {
        self.sched.unschedulable.remove(&id);
    }

    /// Pops activeQ until empty, one scheduling cycle per pod, all at this instant.
    pub(crate) fn sched_cycle(&mut self) {
        self.sched.cycle_scheduled = false;
        while let Some((_, _, Reverse(seq), id)) = self.sched.active.pop() {
            let valid = self.pod(id).is_some_and(|p| p.queued == Queued::Active && p.queue_seq == seq && p.deleting.is_none());
            if valid {
                self.schedule_one(id);
            }
        }
    }

    fn schedule_one(&mut self, id: PodId) {
        let now = self.now;
        self.order();
        let order = std::mem::take(&mut self.node_order);
        let spec = self.pod(id).expect("valid").spec.clone();
        let result = self.scheduler.find_node(&self.nodes, &order, &spec, &self.interner, &mut self.rng);
        self.node_order = order;
        let p = self.pod_mut(id).expect("valid");
        p.attempts += 1;
        p.last_attempt = now;
        match result {
            Ok(n) => {
                // Assume: the pod counts against the node at once (§2.0).
                p.queued = Queued::No;
                p.node = Some(n);
                p.accounted = true;
                self.nodes[n].add_pod(&spec);
                self.node_rt[n].pods.push(id);
                let wait = self.bind_bucket.reserve(now);
                self.at(wait, Ev::Bind { pod: id, node: n });
            }
            Err(u) => {
                p.rejectors = u.rejectors;
                p.queued = Queued::Unschedulable;
                p.queued_at = now;
                let changed = p.last_message.as_deref() != Some(u.message.as_str());
                let key = p.key.clone();
                if changed {
                    p.last_message = Some(u.message.clone());
                    self.emit(Event::PodUnschedulable { pod: key, message: u.message });
                }
                self.sched.unschedulable.insert(id);
                if !self.sched.leftover_scheduled {
                    self.sched.leftover_scheduled = true;
                    let every = self.t.sched_leftover_flush;
                    self.at(every, Ev::LeftoverFlush);
                }
            }
        }
    }

    /// The binding API call completed.
    pub(crate) fn bind_done(&mut self, id: PodId, n: usize) {
        let Some(p) = self.pod(id) else { return };
        if p.node != Some(n) || p.bound {
            return;
        }
        if self.nodes[n].gone {
            // The node vanished between assume and bind: forget the assumption and retry.
            self.release(id);
            self.node_rt[n].pods.retain(|x| *x != id);
            self.pod_mut(id).expect("exists").node = None;
            self.push_active(id);
            return;
        }
        let p = self.pod_mut(id).expect("exists");
        p.bound = true;
        let key = p.key.clone();
        self.emit(Event::PodScheduled { pod: key, node: self.nodes[n].name.clone() });
        self.kubelet_pod_bound(id);
    }

    /// `backoff = initial × 2^(attempts−1)`, capped (§4.1).
    fn backoff_of(&self, attempts: u32) -> Dur {
        let initial = self.t.sched_initial_backoff.as_ms();
        let ms = initial.saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
        Dur::ms(ms.min(self.t.sched_max_backoff.as_ms()))
    }

    /// Moves an unschedulable pod back: to backoffQ while backing off, else to activeQ.
    fn requeue(&mut self, id: PodId) {
        self.sched.unschedulable.remove(&id);
        let Some(p) = self.pod(id) else { return };
        let expiry = p.last_attempt + self.backoff_of(p.attempts);
        if expiry > self.now {
            self.sched.seq += 1;
            let seq = self.sched.seq;
            let p = self.pod_mut(id).expect("exists");
            p.queued = Queued::Backoff;
            p.queue_seq = seq;
            self.sched.backoff.push(Reverse((expiry, seq, id)));
            self.arm_backoff_flush(expiry);
        } else {
            self.push_active(id);
        }
    }

    /// `flushBackoffQCompleted` runs every second: pods leave backoffQ at the first whole
    /// second after their expiry.
    fn arm_backoff_flush(&mut self, expiry: Time) {
        let tick = Time(expiry.as_ms().div_ceil(1000) * 1000);
        if self.sched.flush_at.is_none_or(|t| tick < t) {
            self.sched.flush_at = Some(tick);
            self.at(tick - self.now, Ev::BackoffFlush);
        }
    }

    pub(crate) fn backoff_flush(&mut self) {
        if self.sched.flush_at != Some(self.now) {
            return;
        }
        self.sched.flush_at = None;
        while let Some(Reverse((expiry, seq, id))) = self.sched.backoff.peek().copied() {
            if expiry > self.now {
                self.arm_backoff_flush(expiry);
                break;
            }
            self.sched.backoff.pop();
            if self.pod(id).is_some_and(|p| p.queued == Queued::Backoff && p.queue_seq == seq) {
                self.push_active(id);
            }
        }
    }

    /// `flushUnschedulablePodsLeftover`: every 30 s, pods unschedulable for over 5 minutes.
    pub(crate) fn leftover_flush(&mut self) {
        self.sched.leftover_scheduled = false;
        let limit = self.t.sched_unschedulable_max;
        let stale: Vec<PodId> =
            self.sched.unschedulable.iter().copied().filter(|id| self.pod(*id).is_some_and(|p| self.now - p.queued_at > limit)).collect();
        for id in stale {
            self.requeue(id);
        }
        if !self.sched.unschedulable.is_empty() {
            self.sched.leftover_scheduled = true;
            let every = self.t.sched_leftover_flush;
            self.at(every, Ev::LeftoverFlush);
        }
    }

    /// Node/Add: each pod is requeued if a plugin that rejected it would now pass on the node.
    pub(crate) fn sched_on_node_added(&mut self, n: usize) {
        self.requeue_where(|sim, p| {
            let node = &sim.nodes[n];
            (p.rejectors.contains(Plugin::NodeResourcesFit) && node.alloc.cpu >= p.spec.req.cpu && node.alloc.mem >= p.spec.req.mem)
                || (p.rejectors.contains(Plugin::NodeAffinity) && plugins::node_affinity(node, &p.spec, &sim.interner))
                || (p.rejectors.contains(Plugin::TaintToleration) && plugins::untolerated(node, &p.spec.tolerations).is_none())
                || (p.rejectors.contains(Plugin::NodeUnschedulable) && plugins::node_unschedulable(node, &p.spec))
        });
    }

    /// Node/Update (taints, labels, `spec.unschedulable`).
    pub(crate) fn sched_on_node_updated(&mut self, n: usize) {
        self.requeue_where(|sim, p| {
            let node = &sim.nodes[n];
            (p.rejectors.contains(Plugin::NodeAffinity) && plugins::node_affinity(node, &p.spec, &sim.interner))
                || (p.rejectors.contains(Plugin::TaintToleration) && plugins::untolerated(node, &p.spec.tolerations).is_none())
                || (p.rejectors.contains(Plugin::NodeUnschedulable) && plugins::node_unschedulable(node, &p.spec))
        });
    }

    /// An assigned pod was deleted or finished: NodeResourcesFit rejections are retried.
    pub(crate) fn sched_on_resources_freed(&mut self) {
        self.requeue_where(|_, p| p.rejectors.contains(Plugin::NodeResourcesFit));
    }

    fn requeue_where(&mut self, hint: impl Fn(&Simulation, &super::Pod) -> bool) {
        if self.sched.unschedulable.is_empty() {
            return;
        }
        let hit: Vec<PodId> = self.sched.unschedulable.iter().copied().filter(|id| self.pod(*id).is_some_and(|p| hint(self, p))).collect();
        for id in hit {
            self.requeue(id);
        }
    }
}
