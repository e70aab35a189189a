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
use sparkrig_model::kube::{Taint, TaintEffect};
use sparkrig_model::scenario::{DEFAULT_NODE_READY, DEFAULT_PROVISIONING, Expander};
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::Event;

use crate::api::{Cx, Signal, controller};
use crate::cluster::{Node, Res, SchedSpec};
use crate::scheduler::plugins;
use crate::store::{Owner, PodId, Queued, Store};

/// `ToBeDeletedByClusterAutoscaler` (CA `utils/taints`).
const TO_BE_DELETED: &str = "ToBeDeletedByClusterAutoscaler";
/// `--node-delete-delay-after-taint` 5s; `--max-scale-down-parallelism` 10 (§7.1).
const DELETE_DELAY_AFTER_TAINT: Dur = Dur::secs(5);
const MAX_EMPTY_BULK_DELETE: usize = 10;

/// The autoscaler's timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    /// `--scan-interval` loop.
    Loop,
    /// A requested node of the group registers.
    NodeRegister {
        /// Group index.
        group: usize,
    },
    /// A registered node reports Ready.
    NodeBecomesReady {
        /// Node.
        node: usize,
    },
    /// Delete a drained node.
    Delete {
        /// Node.
        node: usize,
    },
}

/// Cluster Autoscaler state.
#[derive(Debug, Default)]
pub struct Autoscaler {
    /// Requested nodes not registered yet, per group.
    upcoming: BTreeMap<usize, u32>,
    /// When each node was first seen unneeded.
    unneeded: BTreeMap<usize, Time>,
    deleting: BTreeSet<usize>,
    last_scale_up: Option<Time>,
    /// Pods that fit no nodegroup at the last loop (to report changes only).
    last_no_scale_up: usize,
}

controller!(Autoscaler, Ev, Autoscaler);

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

/// Passes every filter but the resource fit (checked with slot arithmetic).
fn static_fit(store: &Store, node: &Node, spec: &SchedSpec) -> bool {
    plugins::node_unschedulable(node, spec)
        && spec.node_name.as_ref().is_none_or(|n| *n == node.name)
        && plugins::untolerated(node, &spec.tolerations).is_none()
        && plugins::node_affinity(node, spec, &store.interner)
}

fn live_pods_on(store: &Store, n: usize) -> Vec<PodId> {
    store.node_state[n].pods.iter().copied().filter(|id| store.pod(*id).is_some_and(|p| !p.phase.is_terminal())).collect()
}

impl Autoscaler {
    /// Starts the loop when the stack deploys the autoscaler.
    pub fn start(cx: &mut impl Cx<Autoscaler>) {
        if let Some(ca) = &cx.plan().stack.autoscaler {
            let every = ca.scan_interval;
            cx.at(every, Ev::Loop);
        }
    }

    /// Handles one of its timers.
    pub fn handle(cx: &mut impl Cx<Autoscaler>, ev: Ev) {
        match ev {
            Ev::Loop => Self::run_loop(cx),
            Ev::NodeRegister { group } => Self::node_register(cx, group),
            Ev::NodeBecomesReady { node } => Self::node_becomes_ready(cx, node),
            Ev::Delete { node } => Self::delete(cx, node),
        }
    }

    fn run_loop(cx: &mut impl Cx<Autoscaler>) {
        let Some(ca) = cx.plan().stack.autoscaler.clone() else { return };
        Self::scale_up(cx, ca.expander);
        if ca.scale_down {
            // Unneeded nodes are tracked through the cooldown; only deletion waits for it.
            let now = cx.now();
            let cooldown = cx.me().last_scale_up.is_some_and(|t| now - t < ca.delay_after_add);
            Self::scale_down(cx, ca.unneeded_time, ca.utilization_percent, cooldown);
        }
        cx.at(ca.scan_interval, Ev::Loop);
    }

    fn group_size(&self, store: &Store, g: usize) -> u32 {
        store.nodes.iter().enumerate().filter(|(i, n)| n.group as usize == g && !n.gone && !self.deleting.contains(i)).count() as u32
    }

    /// A fresh node of a group, as CA builds its template: the group's labels, taints and shape.
    fn template(cx: &mut impl Cx<Autoscaler>, g: usize) -> Node {
        let plan = cx.plan().clone();
        let group = &plan.topology.groups[g];
        let labels = group.node_labels(&plan.topology, &format!("template-{}", group.name), None);
        Node::new(
            "template",
            g as u16,
            &labels,
            group.taints.clone(),
            Res::new(group.cpu_millis, group.memory_bytes),
            group.max_pods,
            &mut cx.store_mut().interner,
        )
    }

    /// Pods the scheduler failed, grouped by spec, oldest class first.
    fn pending_classes(store: &Store) -> Vec<(Arc<SchedSpec>, Vec<PodId>)> {
        let mut by_spec: BTreeMap<usize, (Arc<SchedSpec>, Vec<PodId>)> = BTreeMap::new();
        let mut order: Vec<usize> = Vec::new();
        for (i, p) in store.pods.iter().enumerate() {
            let Some(p) = p.as_deref() else { continue };
            if !matches!(p.sched.queued, Queued::Unschedulable | Queued::Backoff)
                || p.node.is_some()
                || p.deleting.is_some()
                || p.sched.last_message.is_none()
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

    fn scale_up(cx: &mut impl Cx<Autoscaler>, expander: Expander) {
        let classes = Self::pending_classes(cx.store());
        if classes.is_empty() {
            cx.me().last_no_scale_up = 0;
            return;
        }
        let groups = cx.plan().topology.groups.len();
        let templates: Vec<Node> = (0..groups).map(|g| Self::template(cx, g)).collect();
        let (me, store) = (cx.me_ref(), cx.store());
        // Existing Ready nodes, then nodes on their way (registered-not-Ready or requested).
        let mut rooms: Vec<(usize, Room)> = (0..store.nodes.len())
            .filter(|i| !store.nodes[*i].gone && store.node_state[*i].ready && !me.deleting.contains(i))
            .map(|i| (i, Room::of(&store.nodes[i])))
            .collect();
        let mut coming: Vec<(usize, Room)> = Vec::new();
        for (i, n) in store.nodes.iter().enumerate() {
            if !n.gone && !store.node_state[i].ready && store.node_state[i].machine_up {
                coming.push((n.group as usize, Room::of(&templates[n.group as usize])));
            }
        }
        for (&g, &k) in &me.upcoming {
            coming.extend(std::iter::repeat_n((g, Room::of(&templates[g])), k as usize));
        }
        let mut remaining: Vec<(Arc<SchedSpec>, Vec<PodId>)> = Vec::new();
        for (spec, pods) in classes {
            let mut left = pods.len() as i64;
            for (i, room) in rooms.iter_mut() {
                if left == 0 {
                    break;
                }
                if static_fit(store, &store.nodes[*i], &spec) {
                    let n = room.slots(spec.req).min(left);
                    room.take(spec.req, n);
                    left -= n;
                }
            }
            for (g, room) in coming.iter_mut() {
                if left == 0 {
                    break;
                }
                if static_fit(store, &templates[*g], &spec) {
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
        let plan = cx.plan().clone();
        let mut options: Vec<Option_> = Vec::new();
        let mut unhelped = 0;
        let mut why_not: Vec<String> = Vec::new();
        for (g, template) in templates.iter().enumerate() {
            let group = &plan.topology.groups[g];
            let headroom = group.max.saturating_sub(me.group_size(store, g) + me.upcoming.get(&g).copied().unwrap_or(0));
            if !group.autoscaled() || headroom == 0 {
                continue;
            }
            let mut new_nodes: Vec<Room> = Vec::new();
            let (mut pods, mut req, mut example) = (0u32, (0i64, 0i64), None);
            for (spec, class) in &remaining {
                if !static_fit(store, template, spec) || Room::of(template).slots(spec.req) == 0 {
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
            if !templates.iter().enumerate().any(|(g, t)| plan.topology.groups[g].autoscaled() && static_fit(store, t, spec)) {
                unhelped += class.len();
                if why_not.is_empty() {
                    why_not.push(store.pod(class[0]).map(|p| p.key.clone()).unwrap_or_default());
                }
            }
        }
        if unhelped != cx.me().last_no_scale_up {
            cx.me().last_no_scale_up = unhelped;
            if unhelped > 0 {
                cx.emit(Event::Autoscaler {
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
        let rng = cx.rng();
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
        let group = &plan.topology.groups[g];
        let now = cx.now();
        *cx.me().upcoming.entry(g).or_default() += count;
        cx.me().last_scale_up = Some(now);
        let provisioning = group.provisioning.or(plan.stack.autoscaler.as_ref().map(|c| c.provisioning)).unwrap_or(DEFAULT_PROVISIONING);
        for _ in 0..count {
            cx.at(provisioning, Ev::NodeRegister { group: g });
        }
        let example = cx.store().pod(example).map(|p| p.key.clone()).unwrap_or_default();
        let expander = format!("{expander:?}").to_lowercase();
        cx.emit(Event::Autoscaler {
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
    fn node_register(cx: &mut impl Cx<Autoscaler>, g: usize) {
        let me = cx.me();
        let Some(k) = me.upcoming.get_mut(&g).filter(|k| **k > 0) else { return };
        *k -= 1;
        // Node numbers are per group, shared with the nodes upgrades launch.
        let i = cx.store().next_node[g];
        cx.store_mut().next_node[g] += 1;
        let plan = cx.plan().clone();
        let name = format!("{}-{i}", plan.topology.groups[g].name);
        let zones = &plan.topology.zones;
        let zone = (!zones.is_empty()).then(|| zones[cx.store().nodes.len() % zones.len()].clone());
        let n = cx.register_node(g, &name, zone.as_deref(), false);
        let ready = plan.stack.autoscaler.as_ref().map_or(DEFAULT_NODE_READY, |c| c.node_ready);
        cx.at(ready, Ev::NodeBecomesReady { node: n });
    }

    fn node_becomes_ready(cx: &mut impl Cx<Autoscaler>, n: usize) {
        cx.node_reports_ready(n);
    }

    fn scale_down(cx: &mut impl Cx<Autoscaler>, unneeded_time: Dur, threshold_percent: u32, cooldown: bool) {
        let plan = cx.plan().clone();
        let autoscaled: Vec<bool> = plan.topology.groups.iter().map(|g| g.autoscaled()).collect();
        let (me, store) = (cx.me_ref(), cx.store());
        let candidates: Vec<usize> = (0..store.nodes.len())
            .filter(|i| {
                !store.nodes[*i].gone
                    && store.node_state[*i].ready
                    && autoscaled[store.nodes[*i].group as usize]
                    && !store.upgrading.contains(&(store.nodes[*i].group as usize))
                    && !me.deleting.contains(i)
            })
            .collect();
        let mut unneeded_now = BTreeSet::new();
        for &i in &candidates {
            let n = &store.nodes[i];
            let util = (n.requested.cpu * 100 / n.alloc.cpu.max(1)).max(n.requested.mem * 100 / n.alloc.mem.max(1));
            if util < i64::from(threshold_percent) && me.pods_can_move(store, i) {
                unneeded_now.insert(i);
            }
        }
        let now = cx.now();
        let me = cx.me();
        me.unneeded.retain(|i, _| unneeded_now.contains(i));
        for &i in &unneeded_now {
            me.unneeded.entry(i).or_insert(now);
        }
        if cooldown {
            return;
        }
        let ripe: Vec<usize> = me.unneeded.iter().filter(|(_, since)| now - **since >= unneeded_time).map(|(i, _)| *i).collect();
        let (mut empty_deleted, mut drained) = (0, 0);
        for i in ripe {
            let g = cx.store().nodes[i].group as usize;
            if cx.me_ref().group_size(cx.store(), g) <= plan.topology.groups[g].min {
                continue;
            }
            let empty = live_pods_on(cx.store(), i).is_empty();
            if (empty && empty_deleted >= MAX_EMPTY_BULK_DELETE) || (!empty && drained >= 1) {
                continue;
            }
            if empty {
                empty_deleted += 1;
            } else {
                drained += 1;
            }
            let n = &cx.store().nodes[i];
            let util = (n.requested.cpu * 100 / n.alloc.cpu.max(1)).max(n.requested.mem * 100 / n.alloc.mem.max(1));
            let since = cx.me_ref().unneeded[&i];
            let reason =
                format!("node {} unneeded for {} (utilization {util}%){}", n.name, now - since, if empty { "" } else { "; draining it" });
            cx.emit(Event::Autoscaler { action: "scale-down".into(), group: plan.topology.groups[g].name.clone(), count: 1, reason });
            let me = cx.me();
            me.deleting.insert(i);
            me.unneeded.remove(&i);
            let node = &mut cx.store_mut().nodes[i];
            node.taints.push(Taint::new(TO_BE_DELETED, &now.as_ms().to_string(), TaintEffect::NoSchedule));
            let (name, taints) = (node.name.clone(), node.taints.clone());
            cx.emit(Event::NodeTaints { node: name, taints });
            Self::evict_pods(cx, i);
            cx.at(DELETE_DELAY_AFTER_TAINT, Ev::Delete { node: i });
        }
    }

    /// Evicts the node's pods through the Eviction API; a pod whose budget refuses stays and is
    /// tried again at the next check.
    fn evict_pods(cx: &mut impl Cx<Autoscaler>, n: usize) {
        for p in live_pods_on(cx.store(), n) {
            if cx.store().pod(p).is_some_and(|x| x.deleting.is_none()) {
                let _ = cx.evict(p, "Evicted: drained by cluster-autoscaler scale-down");
            }
        }
    }

    fn delete(cx: &mut impl Cx<Autoscaler>, n: usize) {
        if !live_pods_on(cx.store(), n).is_empty() {
            // Wait for the drain to finish.
            Self::evict_pods(cx, n);
            cx.at(DELETE_DELAY_AFTER_TAINT, Ev::Delete { node: n });
            return;
        }
        cx.me().deleting.remove(&n);
        cx.signal(Signal::DeleteNode { node: n, reason: "scaled down by cluster-autoscaler".into() });
    }

    /// CA's drain simulation with default flags: Spark pods block (emptyDir local storage, no
    /// known controller), kube-system pods block; other Deployment pods must fit elsewhere.
    fn pods_can_move(&self, store: &Store, n: usize) -> bool {
        // The room left on the other nodes, computed only once a pod needs it: most nodes
        // hold a Spark pod, which settles the answer before any room is looked at.
        let mut rooms: Option<Vec<(usize, Room)>> = None;
        live_pods_on(store, n).into_iter().all(|id| {
            let p = store.pod(id).expect("live");
            match p.owner {
                Owner::Driver { .. } | Owner::Executor { .. } => false,
                Owner::Component(_) if p.key.starts_with("kube-system/") => false,
                // "not enough pod disruption budget to move" (CA's drainability rules).
                Owner::Component(_) if crate::pdb::violates_pdb(store, id) => false,
                Owner::Component(_) => {
                    let rooms = rooms.get_or_insert_with(|| {
                        (0..store.nodes.len())
                            .filter(|i| *i != n && !store.nodes[*i].gone && store.node_state[*i].ready && !self.deleting.contains(i))
                            .map(|i| (i, Room::of(&store.nodes[i])))
                            .collect()
                    });
                    match rooms.iter_mut().find(|(i, r)| r.slots(p.spec.req) > 0 && static_fit(store, &store.nodes[*i], &p.spec)) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Api, Ev as AnyEv};
    use crate::testing::{Fake, nodes, pod, scenario};

    #[test]
    fn a_pending_pod_that_fits_a_group_template_triggers_one_node_after_the_provisioning_delay() {
        let plan = scenario("monday-morning.yaml");
        let mut f = Fake::new(Autoscaler::default(), &plan);
        nodes(&mut f, "infra", 1);
        Autoscaler::start(&mut f);
        assert_eq!(f.timers(), [(10_000, AnyEv::Autoscaler(Ev::Loop))]);
        // A 7-CPU pod with no selector: it fits an 8-CPU template of any group without taints.
        let p = pod(&mut f, "wide", 7000, false);
        nodes(&mut f, "spark-driver", 1);
        let node = &mut f.store.nodes[1];
        node.requested.cpu = node.alloc.cpu;
        let s = &mut f.store.pod_mut(p).unwrap().sched;
        s.queued = Queued::Unschedulable;
        s.last_message = Some("0/2 nodes are available: 2 Insufficient cpu.".into());
        f.store.nodes[0].requested.cpu = 8000;
        f.clear();
        f.now = Time(10_000);
        Autoscaler::handle(&mut f, Ev::Loop);
        let ups: Vec<String> = f.trace().into_iter().filter(|t| t.starts_with("autoscaler")).collect();
        assert_eq!(ups.len(), 1, "{:?}", f.emitted);
        let Event::Autoscaler { action, count, reason, .. } = f.emitted.iter().find(|e| matches!(e, Event::Autoscaler { .. })).unwrap()
        else {
            unreachable!()
        };
        assert_eq!((action.as_str(), *count), ("scale-up", 1));
        assert!(reason.starts_with("1 pending pod(s) fit "), "{reason}");
        let provisioning = plan.stack.autoscaler.as_ref().unwrap().provisioning.as_ms();
        assert!(f.timers().iter().any(|(t, e)| *t == 10_000 + provisioning && matches!(e, AnyEv::Autoscaler(Ev::NodeRegister { .. }))));
        // The next loop counts the requested node: no second scale-up for the same pod.
        f.clear();
        f.now = Time(20_000);
        Autoscaler::handle(&mut f, Ev::Loop);
        assert!(f.emitted.is_empty(), "{:?}", f.emitted);
    }

    #[test]
    fn a_registered_node_is_tainted_not_ready_until_it_reports_ready() {
        let plan = scenario("monday-morning.yaml");
        let mut f = Fake::new(Autoscaler::default(), &plan);
        Autoscaler::start(&mut f);
        let g = plan.topology.groups.iter().position(|x| x.name == "spark-executor").unwrap();
        f.me.upcoming.insert(g, 1);
        f.clear();
        Autoscaler::handle(&mut f, Ev::NodeRegister { group: g });
        let n = f.store.nodes.len() - 1;
        let next = plan.topology.groups[g].count + 1;
        assert_eq!(f.store.nodes[n].name, format!("spark-executor-{next}"));
        assert!(f.store.nodes[n].taints.iter().any(|t| t.key == sparkrig_model::kube::NOT_READY_TAINT));
        f.clear();
        Autoscaler::handle(&mut f, Ev::NodeBecomesReady { node: n });
        assert!(f.store.nodes[n].taints.iter().all(|t| t.key != sparkrig_model::kube::NOT_READY_TAINT));
        assert_eq!(f.signals, [Signal::NodeUpdated(n)]);
        let _ = f.now();
    }
}
