//! The Cluster Autoscaler (reference/kube-scheduler.md §7.1): a loop every `--scan-interval`.
//!
//! Scale-up: pods the scheduler failed are simulated, filters only, first on existing Ready
//! nodes, then on nodes already coming; the rest against each nodegroup's template (its
//! labels, taints and shape), bin-packed first-fit into new nodes, capped by the group's max. The
//! expander (least-waste by default) picks one group per loop. New nodes register after the
//! provisioning delay with the `node.kubernetes.io/not-ready:NoSchedule` taint and become Ready
//! shortly after.
//!
//! Scale-down: a node under the utilization threshold whose pods can all move elsewhere is
//! unneeded; after being unneeded for 10 minutes, and not within 10 minutes of a scale-up, it is
//! tainted `ToBeDeletedByClusterAutoscaler`, drained and deleted, never below the group's min.
//! Empty nodes go up to 10 at a time, others one at a time. Spark pods block scale-down, as
//! with CA's defaults: they use emptyDir local storage (`--skip-nodes-with-local-storage`) and
//! are not owned by a known controller; kube-system pods block it too
//! (`--skip-nodes-with-system-pods`). Pods are grouped by spec so identical executors are
//! simulated with slot arithmetic rather than one by one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rand::Rng;
use sparkrig_model::kube::{NOT_READY_TAINT, Taint, TaintEffect};
use sparkrig_model::scenario::{DEFAULT_NODE_READY, DEFAULT_PROVISIONING, Expander};
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::Event;

use super::{Ev, Owner, Phase, PodId, Queued, Simulation};
use crate::cluster::{Node, Res, SchedSpec};
use crate::scheduler::plugins;

/// `ToBeDeletedByClusterAutoscaler` (CA `utils/taints`).
const TO_BE_DELETED: &str = "ToBeDeletedByClusterAutoscaler";
/// `--node-delete-delay-after-taint` 5s; `--max-scale-down-parallelism` 10 (§7.1).
const DELETE_DELAY_AFTER_TAINT: Dur = Dur::secs(5);
const MAX_EMPTY_BULK_DELETE: usize = 10;

#[derive(Debug, Default)]
pub(crate) struct Autoscaler {
    /// Requested nodes not registered yet, per group.
    upcoming: BTreeMap<usize, u32>,
    /// When each node was first seen unneeded.
    unneeded: BTreeMap<usize, Time>,
    deleting: BTreeSet<usize>,
    last_scale_up: Option<Time>,
    /// Next node number per group.
    next_index: BTreeMap<usize, u32>,
    /// Pods that fit no nodegroup at the last loop (to report changes only).
    last_no_scale_up: usize,
}

/// Free room on a node while simulating.
#[derive(Debug, Clone, Copy)]
struct Room {
    cpu: i64,
    mem: i64,
    pods: i64,
}

impl Room {
    fn of(n: &Node) -> Room {
        Room { cpu: n.alloc.cpu - n.requested.cpu, mem: n.alloc.mem - n.requested.mem, pods: n.max_pods - n.pod_count }
    }

    /// How many pods of `req` fit.
    fn slots(&self, req: Res) -> i64 {
        let by = |free: i64, r: i64| if r > 0 { free / r } else { i64::MAX };
        by(self.cpu, req.cpu).min(by(self.mem, req.mem)).min(self.pods).max(0)
    }

    fn take(&mut self, req: Res, n: i64) {
        self.cpu -= req.cpu * n;
        self.mem -= req.mem * n;
        self.pods -= n;
    }
}

impl Simulation {
    pub(crate) fn start_autoscaler(&mut self) {
        if let Some(ca) = &self.plan.stack.autoscaler {
            for (g, group) in self.plan.topology.groups.iter().enumerate() {
                self.autoscaler.next_index.insert(g, group.count + 1);
            }
            let every = ca.scan_interval;
            self.at(every, Ev::AutoscalerLoop);
        }
    }

    pub(crate) fn autoscaler_loop(&mut self) {
        let Some(ca) = self.plan.stack.autoscaler.clone() else { return };
        self.scale_up(ca.expander);
        if ca.scale_down {
            // Unneeded nodes are tracked through the cooldown; only deletion waits for it.
            let cooldown = self.autoscaler.last_scale_up.is_some_and(|t| self.now - t < ca.delay_after_add);
            self.scale_down(ca.unneeded_time, ca.utilization_percent, cooldown);
        }
        self.at(ca.scan_interval, Ev::AutoscalerLoop);
    }

    fn group_size(&self, g: usize) -> u32 {
        self.nodes.iter().enumerate().filter(|(i, n)| n.group as usize == g && !n.gone && !self.autoscaler.deleting.contains(i)).count()
            as u32
    }

    /// A fresh node of a group, as CA builds its template: the group's labels, taints and shape.
    fn template(&mut self, g: usize) -> Node {
        let plan = self.plan.clone();
        let group = &plan.topology.groups[g];
        let labels = group.node_labels(&plan.topology, &format!("template-{}", group.name), None);
        Node::new(
            "template",
            g as u16,
            &labels,
            group.taints.clone(),
            Res::new(group.cpu_millis, group.memory_bytes),
            group.max_pods,
            &mut self.interner,
        )
    }

    /// Passes every filter but the resource fit (checked with slot arithmetic).
    fn static_fit(&self, node: &Node, spec: &SchedSpec) -> bool {
        plugins::node_unschedulable(node, spec)
            && spec.node_name.as_ref().is_none_or(|n| *n == node.name)
            && plugins::untolerated(node, &spec.tolerations).is_none()
            && plugins::node_affinity(node, spec, &self.interner)
    }

    /// Pods the scheduler failed, grouped by spec, oldest class first.
    fn pending_classes(&self) -> Vec<(Arc<SchedSpec>, Vec<PodId>)> {
        let mut by_spec: BTreeMap<usize, (Arc<SchedSpec>, Vec<PodId>)> = BTreeMap::new();
        let mut order: Vec<usize> = Vec::new();
        for (i, p) in self.pods.iter().enumerate() {
            let Some(p) = p.as_deref() else { continue };
            if !matches!(p.queued, Queued::Unschedulable | Queued::Backoff)
                || p.node.is_some()
                || p.deleting.is_some()
                || p.last_message.is_none()
            {
                continue;
            }
            let key = Arc::as_ptr(&p.spec) as usize;
            let e = by_spec.entry(key).or_insert_with(|| {
                order.push(key);
                (p.spec.clone(), Vec::new())
            });
            e.1.push(PodId(i as u32));
        }
        order.into_iter().map(|k| by_spec.remove(&k).expect("inserted")).collect()
    }

    fn scale_up(&mut self, expander: Expander) {
        let classes = self.pending_classes();
        if classes.is_empty() {
            self.autoscaler.last_no_scale_up = 0;
            return;
        }
        // Existing Ready nodes, then nodes on their way (registered-not-Ready or requested).
        let mut rooms: Vec<(usize, Room)> = (0..self.nodes.len())
            .filter(|i| !self.nodes[*i].gone && self.node_rt[*i].ready && !self.autoscaler.deleting.contains(i))
            .map(|i| (i, Room::of(&self.nodes[i])))
            .collect();
        let mut coming: Vec<(usize, Room)> = Vec::new();
        let groups = self.plan.topology.groups.len();
        let templates: Vec<Node> = (0..groups).map(|g| self.template(g)).collect();
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.gone && !self.node_rt[i].ready && self.node_rt[i].machine_up {
                coming.push((n.group as usize, Room::of(&templates[n.group as usize])));
            }
        }
        for (&g, &k) in &self.autoscaler.upcoming {
            coming.extend(std::iter::repeat_n((g, Room::of(&templates[g])), k as usize));
        }
        let mut remaining: Vec<(Arc<SchedSpec>, Vec<PodId>)> = Vec::new();
        for (spec, pods) in classes {
            let mut left = pods.len() as i64;
            for (i, room) in rooms.iter_mut() {
                if left == 0 {
                    break;
                }
                if self.static_fit(&self.nodes[*i], &spec) {
                    let n = room.slots(spec.req).min(left);
                    room.take(spec.req, n);
                    left -= n;
                }
            }
            for (g, room) in coming.iter_mut() {
                if left == 0 {
                    break;
                }
                if self.static_fit(&templates[*g], &spec) {
                    let n = room.slots(spec.req).min(left);
                    room.take(spec.req, n);
                    left -= n;
                }
            }
            if left > 0 {
                let skip = pods.len() - left as usize;
                remaining.push((spec, pods[skip..].to_vec()));
            }
        }
        if remaining.is_empty() {
            return;
        }
        // Expansion options: first-fit onto new template nodes, capped by max.
        struct Option_ {
            group: usize,
            nodes: u32,
            pods: u32,
            req: (i64, i64),
            example: PodId,
        }
        let mut options: Vec<Option_> = Vec::new();
        let mut unhelped = 0;
        let mut why_not: Vec<String> = Vec::new();
        for (g, template) in templates.iter().enumerate() {
            let group = &self.plan.topology.groups[g];
            let headroom = group.max.saturating_sub(self.group_size(g) + self.autoscaler.upcoming.get(&g).copied().unwrap_or(0));
            if !group.autoscaled() || headroom == 0 {
                continue;
            }
            let mut new_nodes: Vec<Room> = Vec::new();
            let (mut pods, mut req, mut example) = (0u32, (0i64, 0i64), None);
            for (spec, class) in &remaining {
                if !self.static_fit(template, spec) || Room::of(template).slots(spec.req) == 0 {
                    continue;
                }
                let mut left = class.len() as i64;
                for room in new_nodes.iter_mut() {
                    let n = room.slots(spec.req).min(left);
                    room.take(spec.req, n);
                    left -= n;
                }
                while left > 0 && (new_nodes.len() as u32) < headroom {
                    let mut room = Room::of(template);
                    let n = room.slots(spec.req).min(left);
                    room.take(spec.req, n);
                    left -= n;
                    new_nodes.push(room);
                }
                let placed = class.len() as i64 - left;
                if placed > 0 {
                    pods += placed as u32;
                    req.0 += spec.req.cpu * placed;
                    req.1 += spec.req.mem * placed;
                    example.get_or_insert(class[0]);
                }
            }
            if let Some(example) = example {
                options.push(Option_ { group: g, nodes: new_nodes.len() as u32, pods, req, example });
            }
        }
        for (spec, class) in &remaining {
            if !templates.iter().enumerate().any(|(g, t)| self.plan.topology.groups[g].autoscaled() && self.static_fit(t, spec)) {
                unhelped += class.len();
                if why_not.is_empty() {
                    why_not.push(self.pod(class[0]).map(|p| p.key.clone()).unwrap_or_default());
                }
            }
        }
        if unhelped != self.autoscaler.last_no_scale_up {
            self.autoscaler.last_no_scale_up = unhelped;
            if unhelped > 0 {
                self.emit(Event::Autoscaler {
                    action: "no-scale-up".into(),
                    group: String::new(),
                    count: unhelped as u32,
                    reason: format!(
                        "{unhelped} pending pod(s) fit no nodegroup template below its max (e.g. {}): NotTriggerScaleUp",
                        why_not.join(", ")
                    ),
                });
            }
        }
        if options.is_empty() {
            return;
        }
        let plan = self.plan.clone();
        let rng = &mut self.rng;
        let pick = match expander {
            // waste = (availCPU − reqCPU)/availCPU + (availMem − reqMem)/availMem (waste.go).
            Expander::LeastWaste => best(rng, &options, |o| {
                let g = &plan.topology.groups[o.group];
                let (cpu, mem) = (g.cpu_millis as f64 * f64::from(o.nodes), g.memory_bytes as f64 * f64::from(o.nodes));
                -((cpu - o.req.0 as f64) / cpu + (mem - o.req.1 as f64) / mem)
            }),
            Expander::MostPods => best(rng, &options, |o| f64::from(o.pods)),
            Expander::LeastNodes => best(rng, &options, |o| -f64::from(o.nodes)),
            Expander::Random => rng.random_range(0..options.len()),
        };
        let o = &options[pick];
        let (g, count, pods, example) = (o.group, o.nodes, o.pods, o.example);
        let group = self.plan.topology.groups[g].clone();
        *self.autoscaler.upcoming.entry(g).or_default() += count;
        self.autoscaler.last_scale_up = Some(self.now);
        let provisioning =
            group.provisioning.or(self.plan.stack.autoscaler.as_ref().map(|c| c.provisioning)).unwrap_or(DEFAULT_PROVISIONING);
        for _ in 0..count {
            self.at(provisioning, Ev::NodeRegister { group: g });
        }
        let example = self.pod(example).map(|p| p.key.clone()).unwrap_or_default();
        let expander = format!("{expander:?}").to_lowercase();
        self.emit(Event::Autoscaler {
            action: "scale-up".into(),
            group: group.name.clone(),
            count,
            reason: format!(
                "{pods} pending pod(s) fit {}'s template (e.g. {example}); {} option(s), expander {expander}",
                group.name,
                options.len()
            ),
        });
    }

    /// A requested node registers: NotReady, tainted not-ready:NoSchedule until the kubelet
    /// reports Ready.
    pub(crate) fn node_register(&mut self, g: usize) {
        let Some(k) = self.autoscaler.upcoming.get_mut(&g).filter(|k| **k > 0) else { return };
        *k -= 1;
        let index = self.autoscaler.next_index.entry(g).or_insert(1);
        let name = format!("{}-{index}", self.plan.topology.groups[g].name);
        *index += 1;
        let zones = &self.plan.topology.zones;
        let zone = (!zones.is_empty()).then(|| zones[self.nodes.len() % zones.len()].clone());
        let n = self.add_node(g, &name, zone.as_deref(), false);
        let ready = self.plan.stack.autoscaler.as_ref().map_or(DEFAULT_NODE_READY, |c| c.node_ready);
        self.at(ready, Ev::NodeBecomesReady { node: n });
    }

    pub(crate) fn node_becomes_ready(&mut self, n: usize) {
        if self.nodes[n].gone || self.node_rt[n].ready {
            return;
        }
        self.node_rt[n].ready = true;
        self.emit(Event::NodeReady { node: self.nodes[n].name.clone() });
        self.nodes[n].taints.retain(|t| t.key != NOT_READY_TAINT);
        self.emit(Event::NodeTaints { node: self.nodes[n].name.clone(), taints: self.nodes[n].taints.clone() });
        self.sched_on_node_updated(n);
    }

    /// The not-ready taint a registering node carries.
    pub(crate) fn not_ready_taint() -> Taint {
        Taint::new(NOT_READY_TAINT, "", TaintEffect::NoSchedule)
    }

    fn scale_down(&mut self, unneeded_time: Dur, threshold_percent: u32, cooldown: bool) {
        let autoscaled: Vec<bool> = self.plan.topology.groups.iter().map(|g| g.autoscaled()).collect();
        let candidates: Vec<usize> = (0..self.nodes.len())
            .filter(|i| {
                !self.nodes[*i].gone
                    && self.node_rt[*i].ready
                    && autoscaled[self.nodes[*i].group as usize]
                    && !self.autoscaler.deleting.contains(i)
            })
            .collect();
        let mut unneeded_now = BTreeSet::new();
        for &i in &candidates {
            let n = &self.nodes[i];
            let util = (n.requested.cpu * 100 / n.alloc.cpu.max(1)).max(n.requested.mem * 100 / n.alloc.mem.max(1));
            if util < i64::from(threshold_percent) && self.pods_can_move(i) {
                unneeded_now.insert(i);
            }
        }
        let now = self.now;
        self.autoscaler.unneeded.retain(|i, _| unneeded_now.contains(i));
        for &i in &unneeded_now {
            self.autoscaler.unneeded.entry(i).or_insert(now);
        }
        if cooldown {
            return;
        }
        let ripe: Vec<usize> =
            self.autoscaler.unneeded.iter().filter(|(_, since)| now - **since >= unneeded_time).map(|(i, _)| *i).collect();
        let (mut empty_deleted, mut drained) = (0, 0);
        for i in ripe {
            let g = self.nodes[i].group as usize;
            if self.group_size(g) <= self.plan.topology.groups[g].min {
                continue;
            }
            let empty = self.live_pods_on(i).is_empty();
            if (empty && empty_deleted >= MAX_EMPTY_BULK_DELETE) || (!empty && drained >= 1) {
                continue;
            }
            if empty {
                empty_deleted += 1;
            } else {
                drained += 1;
            }
            let n = &self.nodes[i];
            let util = (n.requested.cpu * 100 / n.alloc.cpu.max(1)).max(n.requested.mem * 100 / n.alloc.mem.max(1));
            let since = self.autoscaler.unneeded[&i];
            self.emit(Event::Autoscaler {
                action: "scale-down".into(),
                group: self.plan.topology.groups[g].name.clone(),
                count: 1,
                reason: format!(
                    "node {} unneeded for {} (utilization {util}%){}",
                    self.nodes[i].name,
                    now - since,
                    if empty { "" } else { "; draining it" }
                ),
            });
            self.autoscaler.deleting.insert(i);
            self.autoscaler.unneeded.remove(&i);
            self.nodes[i].taints.push(Taint::new(TO_BE_DELETED, &now.as_ms().to_string(), TaintEffect::NoSchedule));
            self.emit(Event::NodeTaints { node: self.nodes[i].name.clone(), taints: self.nodes[i].taints.clone() });
            for p in self.live_pods_on(i) {
                self.delete_pod(p, "Evicted: drained by cluster-autoscaler scale-down");
            }
            self.at(DELETE_DELAY_AFTER_TAINT, Ev::AutoscalerDelete { node: i });
        }
    }

    pub(crate) fn autoscaler_delete(&mut self, n: usize) {
        if !self.live_pods_on(n).is_empty() {
            // Wait for the drain to finish.
            self.at(DELETE_DELAY_AFTER_TAINT, Ev::AutoscalerDelete { node: n });
            return;
        }
        self.autoscaler.deleting.remove(&n);
        self.delete_node(n, "scaled down by cluster-autoscaler");
    }

    fn live_pods_on(&self, n: usize) -> Vec<PodId> {
        self.node_rt[n]
            .pods
            .iter()
            .copied()
            .filter(|id| self.pod(*id).is_some_and(|p| !matches!(p.phase, Phase::Succeeded | Phase::Failed)))
            .collect()
    }

    /// CA's drain simulation with default flags: Spark pods block (emptyDir local storage, no
    /// known controller), kube-system pods block; other Deployment pods must fit elsewhere.
    fn pods_can_move(&self, n: usize) -> bool {
        let mut rooms: Vec<(usize, Room)> = (0..self.nodes.len())
            .filter(|i| *i != n && !self.nodes[*i].gone && self.node_rt[*i].ready && !self.autoscaler.deleting.contains(i))
            .map(|i| (i, Room::of(&self.nodes[i])))
            .collect();
        self.live_pods_on(n).into_iter().all(|id| {
            let p = self.pod(id).expect("live");
            match p.owner {
                Owner::Driver { .. } | Owner::Executor { .. } => false,
                Owner::Component(_) if p.key.starts_with("kube-system/") => false,
                Owner::Component(_) => {
                    match rooms.iter_mut().find(|(i, r)| r.slots(p.spec.req) > 0 && self.static_fit(&self.nodes[*i], &p.spec)) {
                        Some((_, r)) => {
                            r.take(p.spec.req, 1);
                            true
                        }
                        None => false,
                    }
                }
            }
        })
    }
}

/// Index of the option with the highest score; ties broken by the seeded RNG (CA's expanders
/// pick randomly among equals).
fn best<T, R: Rng>(rng: &mut R, options: &[T], score: impl Fn(&T) -> f64) -> usize {
    let scores: Vec<f64> = options.iter().map(&score).collect();
    let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let ties: Vec<usize> = (0..options.len()).filter(|i| (scores[*i] - top).abs() < 1e-9).collect();
    if ties.len() == 1 { ties[0] } else { ties[rng.random_range(0..ties.len())] }
}
