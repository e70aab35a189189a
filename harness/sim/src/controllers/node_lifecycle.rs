//! Node lifecycle: a machine that stops or is cut off the network stops renewing its lease; the
//! node lifecycle controller marks it NotReady after the grace period and taints it; the taint
//! eviction controller deletes pods whose NoExecute tolerations run out; without a kubelet those
//! pods stay Terminating (phase Running) until the node comes back or its Node object is
//! deleted, after which PodGC fails and force-deletes them (reference/kube-scheduler.md §5).
//!
//! Inputs: its own [`Ev`]s (lifecycle timers are armed under [`Key::Node`], so a node that
//! changes state drops its stale timers); [`NodeLifecycle::node_down`],
//! [`NodeLifecycle::node_up`], [`NodeLifecycle::delete_node`]. Outputs: node conditions and
//! taints through the API, evictions, and [`Signal::KubeletDown`], [`Signal::PodUnreachable`],
//! [`Signal::KubeletBack`], [`Signal::NodeReconnected`], [`Signal::NodeUpdated`],
//! [`Signal::NodeRemoved`], [`Signal::ComponentChanged`].

use std::collections::{BTreeMap, BTreeSet};

use sparkrig_model::kube::{Taint, TaintEffect, UNREACHABLE_TAINT};
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::Event;

use crate::api::{Cx, Key, Signal, controller};
use crate::intern::Sym;
use crate::store::{Owner, PodId};

/// kubelet lease renewal: every 10 s (25 % of the 40 s lease, §5.1 [unverified upstream]).
const LEASE_RENEW: u64 = 10_000;
/// kube-controller-manager `--node-monitor-period` = 5 s (§5.1 [unverified]).
const MONITOR_PERIOD: u64 = 5_000;
/// PodGC loop period 20 s and orphan quarantine 40 s (`gc_controller.go`, §5.1).
const PODGC_PERIOD: u64 = 20_000;
const PODGC_QUARANTINE: Dur = Dur::secs(40);
/// `--unhealthy-zone-threshold` 0.55 with at least 3 NotReady nodes; `--large-cluster-size-threshold`
/// 50; eviction rates 0.1 and 0.01 nodes/s (§5.1).
const UNHEALTHY_ZONE_PERCENT: usize = 55;
const LARGE_CLUSTER: usize = 50;
const EVICTION_INTERVAL: Dur = Dur::secs(10);
const SECONDARY_EVICTION_INTERVAL: Dur = Dur::secs(100);

/// The node lifecycle controller's and PodGC's timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    /// The monitor pass that finds the node's lease expired.
    Monitor {
        /// Node.
        node: usize,
    },
    /// The zone's rate limiter admits the NoExecute taint.
    NoExecute {
        /// Node.
        node: usize,
    },
    /// A pod's NoExecute toleration ran out.
    Evict {
        /// Pod.
        pod: PodId,
        /// Node.
        node: usize,
    },
    /// The monitor pass that sees the node back.
    Recovered {
        /// Node.
        node: usize,
    },
    /// PodGC's pass over a deleted node's pods.
    PodGc {
        /// Node.
        node: usize,
    },
}

/// Node lifecycle state.
#[derive(Debug, Default)]
pub struct NodeLifecycle {
    /// Next free slot of the eviction rate limiter.
    eviction_slot: Time,
    /// Nodes whose containers died with their machine since they were last Ready.
    machine_lost: BTreeSet<usize>,
}

controller!(NodeLifecycle, Ev, Nodes);

fn next_tick(t: Time, period: u64) -> Time {
    Time(t.as_ms().div_ceil(period) * period)
}

impl NodeLifecycle {
    /// Handles one of its timers.
    pub fn handle(cx: &mut impl Cx<NodeLifecycle>, ev: Ev) {
        match ev {
            Ev::Monitor { node } => Self::monitor(cx, node),
            Ev::NoExecute { node } => Self::no_execute(cx, node),
            Ev::Evict { pod, node } => Self::evict(cx, pod, node),
            Ev::Recovered { node } => Self::recovered(cx, node),
            Ev::PodGc { node } => Self::pod_gc(cx, node),
        }
    }

    /// `--node-monitor-grace-period`: 40 s up to 1.31, 50 s from 1.32 (PR #126287), at the
    /// control plane's current minor (it changes with a control-plane upgrade).
    fn grace(cx: &impl Cx<NodeLifecycle>) -> Dur {
        if cx.store().kubernetes_minor >= 32 { Dur::secs(50) } else { Dur::secs(40) }
    }

    /// The machine stops (`machine = true`) or loses the network: processes there die or
    /// become unreachable, the lease is no longer renewed.
    pub fn node_down(cx: &mut impl Cx<NodeLifecycle>, n: usize, machine: bool) {
        let now = cx.now();
        let s = &mut cx.store_mut().node_state[n];
        if !s.machine_up || !s.connected {
            // Already down one way; a machine stop on a partitioned node still kills containers.
            if machine && s.machine_up {
                s.machine_up = false;
                cx.me().machine_lost.insert(n);
                Self::processes_lost(cx, n);
            }
            return;
        }
        if machine {
            s.machine_up = false;
        } else {
            s.connected = false;
        }
        let since_join = (now - s.joined).as_ms();
        if machine {
            cx.me().machine_lost.insert(n);
        }
        cx.cancel(Key::Node(n));
        let last_renew = Time(now.as_ms() - since_join % LEASE_RENEW);
        let at = next_tick(last_renew + Self::grace(cx), MONITOR_PERIOD).max(now);
        cx.at_keyed(Key::Node(n), at - now, Ev::Monitor { node: n });
        cx.signal(Signal::KubeletDown(n));
        Self::processes_lost(cx, n);
    }

    /// Processes on a node died or became unreachable: Spark and the platform react.
    fn processes_lost(cx: &mut impl Cx<NodeLifecycle>, n: usize) {
        for id in cx.store().node_state[n].pods.clone() {
            if cx.store().pod(id).is_some() {
                cx.signal(Signal::PodUnreachable(id));
            }
        }
    }

    /// NodeStatusUnknown: Ready=Unknown, the unreachable NoSchedule taint at once, the
    /// NoExecute taint through the zone's eviction rate limiter.
    fn monitor(cx: &mut impl Cx<NodeLifecycle>, n: usize) {
        if cx.store().node_reachable(n) || cx.store().nodes[n].gone {
            return;
        }
        cx.store_mut().node_state[n].ready = false;
        let name = cx.store().nodes[n].name.clone();
        cx.emit(Event::NodeNotReady { node: name, reason: "NodeStatusUnknown: Kubelet stopped posting node status.".into() });
        cx.add_taint(n, Taint::new(UNREACHABLE_TAINT, "", TaintEffect::NoSchedule));
        if let Some(delay) = Self::eviction_delay(cx, n) {
            cx.at_keyed(Key::Node(n), delay, Ev::NoExecute { node: n });
        }
        Self::availability_changed(cx, n);
    }

    /// When the NoExecute taint may be added: the zone's limiter admits one node per 10 s when
    /// healthy; a partially disrupted zone (≥ 55 % NotReady, more than 2) admits one per 100 s,
    /// or none in clusters of at most 50 nodes; when every zone is fully disrupted, evictions
    /// halt. The zone state is evaluated when the node goes NotReady.
    fn eviction_delay(cx: &mut impl Cx<NodeLifecycle>, n: usize) -> Option<Dur> {
        let store = cx.store();
        let zone_key = store.interner.get("topology.kubernetes.io/zone");
        let zone_of = |i: usize| zone_key.and_then(|z| store.nodes[i].labels.get(z));
        let mut zones: BTreeMap<Option<Sym>, (usize, usize)> = BTreeMap::new();
        let live: Vec<usize> = (0..store.nodes.len()).filter(|i| !store.nodes[*i].gone).collect();
        for &i in &live {
            let e = zones.entry(zone_of(i)).or_default();
            e.0 += 1;
            if !store.node_state[i].ready {
                e.1 += 1;
            }
        }
        let (total, not_ready) = zones[&zone_of(n)];
        if zones.values().all(|(t, nr)| t == nr) {
            return None;
        }
        let partial = not_ready > 2 && not_ready * 100 >= total * UNHEALTHY_ZONE_PERCENT && not_ready < total;
        let interval = match (partial, live.len() > LARGE_CLUSTER) {
            (false, _) => EVICTION_INTERVAL,
            (true, true) => SECONDARY_EVICTION_INTERVAL,
            (true, false) => return None,
        };
        let now = cx.now();
        let me = cx.me();
        let slot = me.eviction_slot.max(now);
        me.eviction_slot = slot + interval;
        Some(slot - now)
    }

    fn no_execute(cx: &mut impl Cx<NodeLifecycle>, n: usize) {
        if cx.store().node_reachable(n) || cx.store().nodes[n].gone {
            return;
        }
        let taint = Taint::new(UNREACHABLE_TAINT, "", TaintEffect::NoExecute);
        cx.add_taint(n, taint.clone());
        // Taint-based eviction: no toleration → now; tolerationSeconds → after that long.
        for id in cx.store().node_state[n].pods.clone() {
            let Some(p) = cx.store().pod(id) else { continue };
            let tol = p
                .spec
                .tolerations
                .iter()
                .filter(|t| t.tolerates(&taint))
                .map(|t| t.toleration_seconds)
                .min_by_key(|s| s.unwrap_or(i64::MAX));
            match tol {
                None => Self::evict(cx, id, n),
                Some(Some(secs)) => cx.at_keyed(Key::Node(n), Dur::secs(secs.max(0) as u64), Ev::Evict { pod: id, node: n }),
                Some(None) => {}
            }
        }
    }

    fn evict(cx: &mut impl Cx<NodeLifecycle>, id: PodId, n: usize) {
        if cx.store().pod(id).is_some_and(|p| p.node == Some(n)) {
            cx.delete_pod(id, "Evicted: Taint manager: deleting due to NoExecute taint node.kubernetes.io/unreachable");
        }
    }

    /// The machine is back (`machine`) or the network is: the kubelet reports at once and the
    /// controller sees it at its next pass.
    pub fn node_up(cx: &mut impl Cx<NodeLifecycle>, n: usize, machine: bool) {
        if cx.store().nodes[n].gone {
            return;
        }
        let s = &mut cx.store_mut().node_state[n];
        if machine {
            s.machine_up = true;
        } else {
            s.connected = true;
        }
        if !(s.machine_up && s.connected) {
            return;
        }
        cx.cancel(Key::Node(n));
        let now = cx.now();
        let at = next_tick(now + Dur::ms(1), MONITOR_PERIOD);
        cx.at_keyed(Key::Node(n), at - now, Ev::Recovered { node: n });
    }

    fn recovered(cx: &mut impl Cx<NodeLifecycle>, n: usize) {
        if cx.store().nodes[n].gone {
            return;
        }
        let machine_lost = cx.me().machine_lost.remove(&n);
        let store = cx.store_mut();
        if !store.node_state[n].ready {
            store.node_state[n].ready = true;
            let name = store.nodes[n].name.clone();
            cx.emit(Event::NodeReady { node: name });
        }
        let node = &mut cx.store_mut().nodes[n];
        if node.taints.iter().any(|t| t.key == UNREACHABLE_TAINT) {
            node.taints.retain(|t| t.key != UNREACHABLE_TAINT);
            let (name, taints) = (node.name.clone(), node.taints.clone());
            cx.emit(Event::NodeTaints { node: name, taints });
        }
        cx.signal(Signal::KubeletBack { node: n, machine_lost });
        cx.signal(Signal::NodeReconnected(n));
        cx.signal(Signal::NodeUpdated(n));
        Self::availability_changed(cx, n);
    }

    /// The Node object is deleted (instance terminated, scale-down, `kubectl delete node`).
    pub fn delete_node(cx: &mut impl Cx<NodeLifecycle>, n: usize, reason: &str) {
        if cx.store().nodes[n].gone {
            return;
        }
        if cx.store().node_reachable(n) {
            Self::node_down(cx, n, true);
        }
        let store = cx.store_mut();
        store.node_state[n].machine_up = false;
        store.nodes[n].gone = true;
        store.node_state[n].ready = false;
        let name = store.nodes[n].name.clone();
        cx.cancel(Key::Node(n));
        cx.signal(Signal::NodeRemoved(n));
        cx.emit(Event::NodeRemoved { node: name, reason: reason.to_string() });
        // PodGC finds the orphans on its next pass and deletes them after the quarantine.
        let now = cx.now();
        let at = next_tick(now, PODGC_PERIOD) + PODGC_QUARANTINE;
        cx.at(at - now, Ev::PodGc { node: n });
        Self::availability_changed(cx, n);
    }

    /// `gcOrphaned`: phase Failed with DisruptionTarget (DeletionByPodGC), then force-deleted.
    fn pod_gc(cx: &mut impl Cx<NodeLifecycle>, n: usize) {
        for id in cx.store().node_state[n].pods.clone() {
            cx.mark_failed(id, "DeletionByPodGC", "PodGC: node no longer exists");
            cx.force_delete(id, "PodGC: node no longer exists");
        }
    }

    /// Components on the node may have stopped or started serving.
    fn availability_changed(cx: &mut impl Cx<NodeLifecycle>, n: usize) {
        let store = cx.store();
        let comps: Vec<usize> = store.node_state[n]
            .pods
            .iter()
            .filter_map(|id| store.pod(*id))
            .filter_map(|p| match p.owner {
                Owner::Component(c) => Some(c),
                _ => None,
            })
            .collect();
        for c in comps {
            cx.signal(Signal::ComponentChanged(c));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Ev as AnyEv;
    use crate::testing::{Fake, nodes, pod, run_on, scenario};

    fn fake(count: u32) -> (Fake<NodeLifecycle>, Vec<usize>) {
        let plan = scenario("smoke.yaml");
        let mut f = Fake::new(NodeLifecycle::default(), &plan);
        let ns = nodes(&mut f, "spark-executor", count);
        f.clear();
        (f, ns)
    }

    #[test]
    fn a_stopped_machine_is_not_ready_after_the_grace_on_the_monitor_grid_then_tainted_and_evicted() {
        let (mut f, ns) = fake(2);
        let n = ns[0];
        let p = pod(&mut f, "exec", 500, false);
        run_on(&mut f, p, n);
        f.clear();
        // Joined at 0, renewing every 10 s: at 23 s the last renewal was at 20 s. Grace 50 s
        // (1.32+) → 70 s, on the 5 s monitor grid → 70 s.
        f.now = Time(23_000);
        NodeLifecycle::node_down(&mut f, n, true);
        assert_eq!(f.timers(), [(70_000, AnyEv::Nodes(Ev::Monitor { node: n }))]);
        assert_eq!(f.cancelled, [Key::Node(n)]);
        assert_eq!(f.signals, [Signal::KubeletDown(n), Signal::PodUnreachable(p)]);
        f.clear();
        f.now = Time(70_000);
        NodeLifecycle::handle(&mut f, Ev::Monitor { node: n });
        assert_eq!(f.trace(), ["node_not_ready spark-executor-1", "node_taints spark-executor-1"]);
        // One of two nodes NotReady: the zone is healthy, the limiter admits it at once.
        assert_eq!(f.timers(), [(70_000, AnyEv::Nodes(Ev::NoExecute { node: n }))]);
        f.clear();
        NodeLifecycle::handle(&mut f, Ev::NoExecute { node: n });
        // The pod tolerates unreachable:NoExecute for nothing (a bare test pod): deleted at
        // once; on a dead node it stays Terminating.
        assert_eq!(f.trace(), ["node_taints spark-executor-1", "pod_terminating default/exec"]);
        assert!(f.store.pod(p).unwrap().deleting.is_some());
    }

    #[test]
    fn with_every_node_of_the_cluster_down_evictions_halt() {
        let (mut f, ns) = fake(1);
        NodeLifecycle::node_down(&mut f, ns[0], false);
        f.clear();
        f.now = Time(60_000);
        NodeLifecycle::handle(&mut f, Ev::Monitor { node: ns[0] });
        assert!(f.timers().is_empty(), "a fully disrupted cluster gets no NoExecute taint: {:?}", f.timers());
    }

    #[test]
    fn a_reconnected_node_recovers_at_the_next_monitor_pass_and_its_kubelet_resyncs() {
        let (mut f, ns) = fake(2);
        let n = ns[0];
        NodeLifecycle::node_down(&mut f, n, false);
        f.now = Time(70_000);
        NodeLifecycle::handle(&mut f, Ev::Monitor { node: n });
        f.clear();
        f.now = Time(71_234);
        NodeLifecycle::node_up(&mut f, n, false);
        assert_eq!(f.timers(), [(75_000, AnyEv::Nodes(Ev::Recovered { node: n }))]);
        f.clear();
        f.now = Time(75_000);
        NodeLifecycle::handle(&mut f, Ev::Recovered { node: n });
        assert_eq!(f.trace(), ["node_ready spark-executor-1", "node_taints spark-executor-1"]);
        assert_eq!(f.signals, [Signal::KubeletBack { node: n, machine_lost: false }, Signal::NodeReconnected(n), Signal::NodeUpdated(n)]);
        assert!(f.store.nodes[n].taints.iter().all(|t| t.key != UNREACHABLE_TAINT));
    }

    #[test]
    fn a_deleted_node_has_its_pods_garbage_collected_at_the_next_podgc_pass_plus_40s() {
        let (mut f, ns) = fake(1);
        let p = pod(&mut f, "exec", 500, false);
        run_on(&mut f, p, ns[0]);
        f.now = Time(33_000);
        f.clear();
        NodeLifecycle::delete_node(&mut f, ns[0], "spot instance terminated");
        // PodGC passes every 20 s: next at 40 s, then the 40 s quarantine → 80 s.
        assert!(f.timers().contains(&(80_000, AnyEv::Nodes(Ev::PodGc { node: ns[0] }))), "{:?}", f.timers());
        f.clear();
        NodeLifecycle::handle(&mut f, Ev::PodGc { node: ns[0] });
        assert_eq!(f.trace(), ["pod_terminated default/exec", "pod_deleted default/exec"]);
    }
}
