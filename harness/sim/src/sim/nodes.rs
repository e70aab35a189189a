//! Node lifecycle: a machine that stops or is cut off the network stops renewing its lease; the
//! node lifecycle controller marks it NotReady after the grace period and taints it; the taint
//! eviction controller deletes pods whose NoExecute tolerations run out; without a kubelet those
//! pods stay Terminating (phase Running) until the node comes back or its Node object is
//! deleted, after which PodGC fails and force-deletes them (reference/kube-scheduler.md §5).

use std::collections::BTreeMap;

use sparkrig_model::kube::{Taint, TaintEffect, UNREACHABLE_TAINT};
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::Event;

use super::{Ev, Owner, Phase, PodId, Simulation};

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

fn next_tick(t: Time, period: u64) -> Time {
    Time(t.as_ms().div_ceil(period) * period)
}

impl Simulation {
    /// `--node-monitor-grace-period`: 40 s up to 1.31, 50 s from 1.32 (PR #126287).
    fn node_grace(&self) -> Dur {
        if self.plan.stack.kubernetes_minor >= 32 { Dur::secs(50) } else { Dur::secs(40) }
    }

    /// The machine stops (`machine = true`) or loses the network: processes there die or
    /// become unreachable, the lease is no longer renewed.
    pub(crate) fn node_down(&mut self, n: usize, machine: bool) {
        let now = self.now;
        let rt = &mut self.node_rt[n];
        if !rt.machine_up || !rt.connected {
            // Already down one way; a machine stop on a partitioned node still kills containers.
            if machine && rt.machine_up {
                rt.machine_up = false;
                rt.machine_lost = true;
                self.processes_lost(n);
            }
            return;
        }
        if machine {
            rt.machine_up = false;
            rt.machine_lost = true;
        } else {
            rt.connected = false;
        }
        rt.epoch += 1;
        let epoch = rt.epoch;
        let since_join = (now - rt.joined).as_ms();
        let last_renew = Time(now.as_ms() - since_join % LEASE_RENEW);
        let at = next_tick(last_renew + self.node_grace(), MONITOR_PERIOD).max(now);
        self.at(at - now, Ev::NodeMonitor { node: n, epoch });
        for p in self.node_rt[n].pulling.values().flatten().copied().collect::<Vec<_>>() {
            if let Some(pod) = self.pod_mut(p) {
                pod.generation += 1;
            }
        }
        self.node_rt[n].pulling.clear();
        self.processes_lost(n);
    }

    /// Processes on a node died or became unreachable: Spark and the platform react.
    fn processes_lost(&mut self, n: usize) {
        let pods: Vec<PodId> = self.node_rt[n].pods.clone();
        for id in pods {
            let Some(p) = self.pod(id) else { continue };
            match p.owner {
                Owner::Driver { app, run } => self.driver_unreachable(app, run),
                Owner::Executor { app, run, exec } => self.executor_unreachable(app, run, exec),
                Owner::Component(c) => self.component_pod_changed(c),
            }
        }
    }

    /// NodeStatusUnknown: Ready=Unknown, the unreachable NoSchedule taint at once, the
    /// NoExecute taint through the zone's eviction rate limiter.
    pub(crate) fn node_monitor(&mut self, n: usize, epoch: u32) {
        let rt = &self.node_rt[n];
        if rt.epoch != epoch || (rt.machine_up && rt.connected) || self.nodes[n].gone {
            return;
        }
        self.node_rt[n].ready = false;
        let name = self.nodes[n].name.clone();
        self.emit(Event::NodeNotReady { node: name, reason: "NodeStatusUnknown: Kubelet stopped posting node status.".into() });
        self.add_taint(n, Taint::new(UNREACHABLE_TAINT, "", TaintEffect::NoSchedule));
        if let Some(delay) = self.eviction_delay(n) {
            self.at(delay, Ev::NodeNoExecute { node: n, epoch });
        }
        self.node_availability_changed(n);
    }

    /// When the NoExecute taint may be added: the zone's limiter admits one node per 10 s when
    /// healthy; a partially disrupted zone (≥ 55 % NotReady, more than 2) admits one per 100 s,
    /// or none in clusters of at most 50 nodes; when every zone is fully disrupted, evictions
    /// halt. The zone state is evaluated when the node goes NotReady.
    fn eviction_delay(&mut self, n: usize) -> Option<Dur> {
        let zone_key = self.interner.get("topology.kubernetes.io/zone");
        let zone_of = |sim: &Simulation, i: usize| zone_key.and_then(|z| sim.nodes[i].labels.get(z));
        let mut zones: BTreeMap<Option<crate::intern::Sym>, (usize, usize)> = BTreeMap::new();
        let live: Vec<usize> = (0..self.nodes.len()).filter(|i| !self.nodes[*i].gone).collect();
        for &i in &live {
            let e = zones.entry(zone_of(self, i)).or_default();
            e.0 += 1;
            if !self.node_rt[i].ready {
                e.1 += 1;
            }
        }
        let (total, not_ready) = zones[&zone_of(self, n)];
        if zones.values().all(|(t, nr)| t == nr) {
            return None;
        }
        let partial = not_ready > 2 && not_ready * 100 >= total * UNHEALTHY_ZONE_PERCENT && not_ready < total;
        let interval = match (partial, live.len() > LARGE_CLUSTER) {
            (false, _) => EVICTION_INTERVAL,
            (true, true) => SECONDARY_EVICTION_INTERVAL,
            (true, false) => return None,
        };
        let slot = self.eviction_slot.max(self.now);
        self.eviction_slot = slot + interval;
        Some(slot - self.now)
    }

    pub(crate) fn node_no_execute(&mut self, n: usize, epoch: u32) {
        let rt = &self.node_rt[n];
        if rt.epoch != epoch || (rt.machine_up && rt.connected) || self.nodes[n].gone {
            return;
        }
        let taint = Taint::new(UNREACHABLE_TAINT, "", TaintEffect::NoExecute);
        self.add_taint(n, taint.clone());
        // Taint-based eviction: no toleration → now; tolerationSeconds → after that long.
        for id in self.node_rt[n].pods.clone() {
            let Some(p) = self.pod(id) else { continue };
            let tol = p
                .spec
                .tolerations
                .iter()
                .filter(|t| t.tolerates(&taint))
                .map(|t| t.toleration_seconds)
                .min_by_key(|s| s.unwrap_or(i64::MAX));
            match tol {
                None => self.evict(id, n, epoch),
                Some(Some(secs)) => self.at(Dur::secs(secs.max(0) as u64), Ev::Evict { pod: id, node: n, epoch }),
                Some(None) => {}
            }
        }
    }

    pub(crate) fn evict(&mut self, id: PodId, n: usize, epoch: u32) {
        if self.node_rt[n].epoch == epoch && self.pod(id).is_some_and(|p| p.node == Some(n)) {
            self.delete_pod(id, "Evicted: Taint manager: deleting due to NoExecute taint node.kubernetes.io/unreachable");
        }
    }

    /// The machine is back (`machine`) or the network is: the kubelet reports at once and the
    /// controller sees it at its next pass.
    pub(crate) fn node_up(&mut self, n: usize, machine: bool) {
        if self.nodes[n].gone {
            return;
        }
        let rt = &mut self.node_rt[n];
        if machine {
            rt.machine_up = true;
        } else {
            rt.connected = true;
        }
        if !(rt.machine_up && rt.connected) {
            return;
        }
        rt.epoch += 1;
        let epoch = rt.epoch;
        let at = next_tick(self.now + Dur::ms(1), MONITOR_PERIOD);
        self.at(at - self.now, Ev::NodeRecovered { node: n, epoch });
    }

    pub(crate) fn node_recovered(&mut self, n: usize, epoch: u32) {
        if self.node_rt[n].epoch != epoch || self.nodes[n].gone {
            return;
        }
        let machine_lost = std::mem::take(&mut self.node_rt[n].machine_lost);
        if !self.node_rt[n].ready {
            self.node_rt[n].ready = true;
            self.emit(Event::NodeReady { node: self.nodes[n].name.clone() });
        }
        if self.nodes[n].taints.iter().any(|t| t.key == UNREACHABLE_TAINT) {
            self.nodes[n].taints.retain(|t| t.key != UNREACHABLE_TAINT);
            self.emit(Event::NodeTaints { node: self.nodes[n].name.clone(), taints: self.nodes[n].taints.clone() });
        }
        // The kubelet resyncs its pods.
        for id in self.node_rt[n].pods.clone() {
            let Some(p) = self.pod(id) else { continue };
            let (deleting, phase, owner, pending_exit) = (p.deleting.is_some(), p.phase, p.owner, p.pending_exit.clone());
            if deleting {
                // Confirms deletions the API server asked for while it was away.
                if phase == Phase::Running {
                    self.terminate(id, 137, "Error", "container killed: the pod was deleted while its node was away".into());
                }
                self.remove_pod(id, "deleted (node back)");
            } else if machine_lost && phase == Phase::Running {
                match owner {
                    Owner::Component(_) => self.restart_after_machine_loss(id),
                    _ => self.terminate(id, 137, "Error", format!("container killed when node {} went down", self.nodes[n].name)),
                }
            } else if let Some((code, reason, message)) = pending_exit {
                self.pod_mut(id).expect("exists").pending_exit = None;
                self.terminate(id, code, reason, message);
            } else if phase == Phase::Pending && self.pod(id).is_some_and(|p| p.bound) {
                self.kubelet_pod_bound(id);
            }
        }
        self.node_reconnected(n);
        self.sched_on_node_updated(n);
        self.node_availability_changed(n);
    }

    /// The Node object is deleted (instance terminated, scale-down, `kubectl delete node`).
    pub(crate) fn delete_node(&mut self, n: usize, reason: &str) {
        if self.nodes[n].gone {
            return;
        }
        if self.node_rt[n].machine_up && self.node_rt[n].connected {
            self.node_down(n, true);
        }
        self.node_rt[n].machine_up = false;
        self.nodes[n].gone = true;
        self.node_rt[n].ready = false;
        self.node_rt[n].epoch += 1;
        self.node_order_dirty = true;
        self.emit(Event::NodeRemoved { node: self.nodes[n].name.clone(), reason: reason.to_string() });
        // PodGC finds the orphans on its next pass and deletes them after the quarantine.
        let at = next_tick(self.now, PODGC_PERIOD) + PODGC_QUARANTINE;
        self.at(at - self.now, Ev::PodGc { node: n });
        self.node_availability_changed(n);
    }

    /// `gcOrphaned`: phase Failed with DisruptionTarget (DeletionByPodGC), then force-deleted.
    pub(crate) fn pod_gc(&mut self, n: usize) {
        for id in self.node_rt[n].pods.clone() {
            let running = self.pod(id).is_some_and(|p| !matches!(p.phase, Phase::Succeeded | Phase::Failed));
            if running {
                let p = self.pod_mut(id).expect("exists");
                p.phase = Phase::Failed;
                p.exit = None;
                let key = p.key.clone();
                self.emit(Event::PodTerminated {
                    pod: key,
                    phase: sparkrig_model::trace::PodPhase::Failed,
                    exit_code: None,
                    reason: "DeletionByPodGC".into(),
                    message: "PodGC: node no longer exists".into(),
                });
                self.release(id);
                self.pod_phase_changed(id);
            }
            self.force_delete(id, "PodGC: node no longer exists");
        }
    }

    fn add_taint(&mut self, n: usize, taint: Taint) {
        if self.nodes[n].taints.contains(&taint) {
            return;
        }
        self.nodes[n].taints.push(taint);
        self.emit(Event::NodeTaints { node: self.nodes[n].name.clone(), taints: self.nodes[n].taints.clone() });
    }

    /// Cordon or uncordon.
    pub(crate) fn set_unschedulable(&mut self, n: usize, on: bool) {
        if self.nodes[n].unschedulable != on {
            self.nodes[n].unschedulable = on;
            self.emit(Event::NodeUnschedulable { node: self.nodes[n].name.clone(), unschedulable: on });
            if !on {
                self.sched_on_node_updated(n);
            }
        }
    }

    /// Components on the node may have stopped or started serving.
    fn node_availability_changed(&mut self, n: usize) {
        let comps: Vec<usize> = self.node_rt[n]
            .pods
            .iter()
            .filter_map(|id| self.pod(*id))
            .filter_map(|p| match p.owner {
                Owner::Component(c) => Some(c),
                _ => None,
            })
            .collect();
        for c in comps {
            self.component_pod_changed(c);
        }
    }
}
