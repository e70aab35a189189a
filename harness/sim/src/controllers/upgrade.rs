//! Upgrades as platform teams run them (reference: platform-ops.md §4), one step at a time,
//! every phase a trace event (`upgrade`) with its reason:
//!
//! - **nodegroup, rolling** (EKS managed nodegroup update, default strategy, §4.a): the launch
//!   template switches to the new kubelet version; *scale-up* launches the surge (default EKS's
//!   increment max(2 × zones, maxUnavailable)); once a new node is Ready in every zone the old
//!   nodes are cordoned; *upgrade* picks up to maxUnavailable old nodes at random, drains each
//!   through the Eviction API (PodDisruptionBudgets honoured, refusals retried), and when it is
//!   empty waits 60 s and terminates it (the ASG launches its replacement at once, since desired
//!   stays raised); pods still there after 15 min fail the update (`PodEvictionFailure`) unless
//!   `force`, which evicts ignoring budgets; *scale-down* lowers desired by the surge: the ASG
//!   terminates instances directly, which does not honour budgets.
//! - **nodegroup, minimal** (`updateStrategy: MINIMAL`): no surge and no scale-down; a drained
//!   node is terminated first and its replacement launched after; the next old node is taken
//!   once the replacement is Ready, so the group never exceeds its size.
//! - **nodegroup, drift** (Karpenter, §4.a): within the budget (⌈total × pct⌉ − deleting −
//!   not-ready nodes), a drifted node is tainted `karpenter.sh/disrupted:NoSchedule`, a
//!   replacement is launched and awaited, then the node is drained through the Eviction API
//!   (budgets honoured, no deadline: no `terminationGracePeriod` by default) and terminated.
//! - **sparkOperator** (`helm upgrade`, §4.c): CRDs stay as they are unless `upgradeCrds` runs the
//!   chart's pre-upgrade hook; the controller and webhook Deployments roll to the new image with
//!   their default strategy ([`crate::controllers::deployments`]); the controller's leadership
//!   moves when the old leader is gone and its Lease has run out (15 s, retried every 2 s); the
//!   webhook serves while any of its pods does.
//! - **kubernetes** (§4.b): one minor at a time, nodes on the control plane's minor first (EKS);
//!   the API server instances are replaced one after the other, cutting watches (clients
//!   re-list); at the end the version-dependent behaviour the simulator models switches.
//!
//! A kubelet newer than the API server is refused (version skew policy), as is one more than
//! three minors older.
//!
//! Inputs: [`Upgrades::start`], its own [`Ev`]s (drain timers under [`Key::Drain`]),
//! [`Upgrades::pod_gone`], [`Upgrades::platform_changed`], [`Upgrades::leader_changed`].
//! Outputs: nodes registered through the API, evictions, cordons and taints, and the signals
//! [`Signal::DeleteNode`], [`Signal::RollDeployment`], [`Signal::WatchesReconnected`],
//! [`Signal::ControlPlaneUpgraded`], [`Signal::UpgradeFinished`].

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;
use sparkrig_model::kube::{Taint, TaintEffect};
use sparkrig_model::scenario::{DEFAULT_NODE_READY, DEFAULT_PROVISIONING};
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::Event;
use sparkrig_model::upgrade::{IntOrPercent, NodeStrategy, Upgrade, UpgradePhase, UpgradeTarget};

use crate::api::{Cx, Key, Signal, controller};
use crate::pdb::EVICTION_RETRY;
use crate::store::{Kind, PodId, Store};

/// EKS: pods not evicted within 15 minutes fail the update with `PodEvictionFailure`
/// (`managed-node-update-behavior.adoc`, platform-ops.md §4.a).
pub const EVICTION_TIMEOUT: Dur = Dur::mins(15);
/// EKS: an empty node is cordoned and left 60 seconds before its termination (same page).
pub const EMPTY_NODE_WAIT: Dur = Dur::secs(60);
/// The taint Karpenter puts on a node it disrupts (platform-ops.md §4.a).
pub const KARPENTER_DISRUPTED: &str = "karpenter.sh/disrupted";
/// API server instances an EKS control plane replaces one at a time: "at least two" per the EKS
/// architecture docs; not in the reference notes (unverified).
const API_SERVER_INSTANCES: u64 = 2;
/// The chart's pre-upgrade CRD hook Job (`hook.upgradeCrd`): a pod that runs `kubectl apply
/// --server-side`; its duration is sparkrig's estimate (unverified).
const CRD_HOOK: Dur = Dur::secs(10);
/// Version skew policy: kubelets up to three minors older than kube-apiserver
/// (kubernetes.io/releases/version-skew-policy, platform-ops.md §4.b).
const MAX_KUBELET_LAG: u32 = 3;

/// The upgrades' timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    /// A launched node registers with the cluster.
    Register {
        /// Group.
        group: usize,
        /// Zone.
        zone: Option<String>,
        /// The old node it replaces, if any.
        replaces: Option<usize>,
    },
    /// A registered node reports Ready.
    Ready {
        /// Node.
        node: usize,
    },
    /// Retry the refused evictions of a draining node.
    RetryEvictions {
        /// Node.
        node: usize,
    },
    /// A drain's time is up (rolling and minimal).
    DrainDeadline {
        /// Node.
        node: usize,
    },
    /// A drained node's wait is over.
    Terminate {
        /// Node.
        node: usize,
    },
    /// The CRD hook Job finished; the Deployments change.
    CrdHookDone,
    /// An API server instance finished its replacement.
    ApiServerReplaced {
        /// 1-based.
        instance: u64,
    },
}

/// Upgrade state: at most one upgrade runs (steps run one after the other).
#[derive(Debug, Default)]
pub struct Upgrades {
    active: Option<Active>,
}

controller!(Upgrades, Ev, Upgrade);

#[derive(Debug)]
enum Active {
    Nodes(Box<NodeRoll>),
    Operator(OperatorRoll),
    ControlPlane(ControlPlaneRoll),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    ScaleUp,
    Replace,
    ScaleDown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind2 {
    Rolling,
    Minimal,
    Drift,
}

#[derive(Debug)]
struct NodeRoll {
    id: String,
    group: usize,
    minor: u32,
    how: Kind2,
    force: bool,
    max_unavailable: u32,
    budget: IntOrPercent,
    surge: u32,
    stage: Stage,
    /// Old nodes not yet taken.
    todo: BTreeSet<usize>,
    /// Nodes being drained, with when the drain started.
    draining: BTreeMap<usize, Time>,
    /// Drained nodes waiting for termination.
    waiting: BTreeSet<usize>,
    /// Launched nodes not yet Ready.
    launching: u32,
    /// Launched nodes not yet registered (not yet a NotReady node).
    unregistered: u32,
    /// Replacements launched for old nodes (old → new node once registered).
    replacing: BTreeMap<usize, Option<usize>>,
    /// Nodes this upgrade launched (surge and replacements).
    launched: BTreeSet<usize>,
    /// Zones the surge went to.
    surge_zones: BTreeSet<Option<String>>,
    /// Pods whose eviction refusal was already reported.
    blocked: BTreeSet<PodId>,
}

#[derive(Debug)]
struct OperatorRoll {
    id: String,
    version: String,
    rolling: Vec<usize>,
    ready: BTreeSet<PodId>,
    deleted: BTreeSet<PodId>,
    started: Time,
    leaderless_since: Option<Time>,
    leaderless: Dur,
    leader_seen: Option<PodId>,
}

#[derive(Debug)]
struct ControlPlaneRoll {
    id: String,
    from: u32,
    to: u32,
    each: Dur,
}

fn phase(upgrade: &str, phase: UpgradePhase, node: Option<String>, pod: Option<String>, reason: String) -> Event {
    Event::Upgrade { upgrade: upgrade.to_string(), phase, node, pod, reason }
}

fn node_name(store: &Store, n: usize) -> String {
    store.nodes[n].name.clone()
}

fn zone_of(store: &Store, n: usize) -> Option<String> {
    let key = store.interner.get("topology.kubernetes.io/zone")?;
    store.nodes[n].labels.get(key).map(|v| store.interner.resolve(v).to_string())
}

/// Pods on a node that are still there (any phase).
fn pods_on(store: &Store, n: usize) -> Vec<PodId> {
    store.node_state[n].pods.iter().copied().filter(|id| store.pod(*id).is_some()).collect()
}

/// What changes between two control-plane minors among the behaviours the simulator models.
pub fn behaviour_changes(from: u32, to: u32) -> Vec<String> {
    let mut out = Vec::new();
    let crossed = |v: u32| from < v && to >= v || from >= v && to < v;
    if crossed(32) {
        let (a, b) = if to >= 32 { (40, 50) } else { (50, 40) };
        out.push(format!("node-monitor-grace-period {a}s → {b}s (PR #126287): NotReady later after a node stops"));
    }
    if crossed(33) {
        out.push("NodeResourcesBalancedAllocation skips best-effort pods from 1.33 (PR #130260)".to_string());
    }
    out
}

impl Upgrades {
    /// Handles one of its timers.
    pub fn handle(cx: &mut impl Cx<Upgrades>, ev: Ev) {
        match ev {
            Ev::Register { group, zone, replaces } => Self::register(cx, group, zone, replaces),
            Ev::Ready { node } => Self::ready(cx, node),
            Ev::RetryEvictions { node } => Self::evict_all(cx, node),
            Ev::DrainDeadline { node } => Self::deadline(cx, node),
            Ev::Terminate { node } => Self::terminate(cx, node),
            Ev::CrdHookDone => Self::roll_operator(cx),
            Ev::ApiServerReplaced { instance } => Self::api_server_replaced(cx, instance),
        }
    }

    /// Starts an upgrade step; [`Signal::UpgradeFinished`] reports its end.
    pub fn start(cx: &mut impl Cx<Upgrades>, u: &Upgrade) {
        match &u.target {
            UpgradeTarget::Nodegroup { group, minor, strategy } => Self::start_nodes(cx, &u.id, group, *minor, *strategy),
            UpgradeTarget::SparkOperator { version, upgrade_crds } => Self::start_operator(cx, &u.id, version, *upgrade_crds),
            UpgradeTarget::Kubernetes { minor, duration } => Self::start_control_plane(cx, &u.id, *minor, *duration),
        }
    }

    fn emit(cx: &mut impl Cx<Upgrades>, id: &str, p: UpgradePhase, node: Option<String>, pod: Option<String>, reason: String) {
        cx.emit(phase(id, p, node, pod, reason));
    }

    fn finish(cx: &mut impl Cx<Upgrades>, id: &str, outcome: Result<String, String>) {
        let (p, reason) = match &outcome {
            Ok(m) => (UpgradePhase::Completed, m.clone()),
            Err(m) => (UpgradePhase::Failed, m.clone()),
        };
        Self::emit(cx, id, p, None, None, reason);
        if let Some(Active::Nodes(r)) = cx.me().active.take() {
            cx.store_mut().upgrading.remove(&r.group);
        }
        cx.me().active = None;
        cx.signal(Signal::UpgradeFinished(outcome));
    }

    fn refuse(cx: &mut impl Cx<Upgrades>, id: &str, why: String) {
        Self::emit(cx, id, UpgradePhase::Refused, None, None, why.clone());
        cx.signal(Signal::UpgradeFinished(Err(why)));
    }

    // ----- nodegroups -----

    fn start_nodes(cx: &mut impl Cx<Upgrades>, id: &str, group: &str, minor: Option<u32>, strategy: NodeStrategy) {
        let plan = cx.plan().clone();
        let Some(g) = plan.topology.groups.iter().position(|x| x.name == group) else {
            return Self::refuse(cx, id, format!("no nodegroup {group}"));
        };
        let cp = cx.store().kubernetes_minor;
        let minor = minor.unwrap_or(cp);
        let store = cx.store();
        let old: BTreeSet<usize> =
            (0..store.nodes.len()).filter(|n| store.nodes[*n].group as usize == g && !store.nodes[*n].gone).collect();
        let names = old.iter().map(|n| store.nodes[*n].name.as_str()).collect::<Vec<_>>().join(", ");
        if minor > cp {
            return Self::refuse(
                cx,
                id,
                format!(
                    "nodegroup {group} ({names}) to kubelet 1.{minor}: newer than kube-apiserver 1.{cp}, which the version skew policy never allows (upgrade the control plane first)"
                ),
            );
        }
        if minor + MAX_KUBELET_LAG < cp {
            return Self::refuse(
                cx,
                id,
                format!(
                    "nodegroup {group} ({names}) to kubelet 1.{minor}: more than {MAX_KUBELET_LAG} minors older than kube-apiserver 1.{cp}"
                ),
            );
        }
        let was = store.group_minor[g];
        let zones = plan.topology.zones.len().max(1) as u32;
        let (how, max_unavailable, surge, force, budget) = match strategy {
            NodeStrategy::Rolling { max_unavailable, surge, force } => {
                // maxUnavailablePercentage → nodes: rounded up, at least one (unverified).
                let mu = max_unavailable.scaled(old.len() as u32, true).max(1);
                (Kind2::Rolling, mu, surge.unwrap_or((2 * zones).max(mu)), force, IntOrPercent::Int(0))
            }
            NodeStrategy::Minimal { max_unavailable, force } => {
                (Kind2::Minimal, max_unavailable.scaled(old.len() as u32, true).max(1), 0, force, IntOrPercent::Int(0))
            }
            NodeStrategy::Drift { budget } => (Kind2::Drift, 0, 0, false, budget),
        };
        cx.store_mut().group_minor[g] = minor;
        cx.store_mut().upgrading.insert(g);
        let what = match how {
            Kind2::Rolling => format!(
                "launch template → kubelet 1.{minor} (was 1.{was}); {} old node(s); rolling: surge {surge} (EKS increment max(2 × {zones} zone(s), maxUnavailable {max_unavailable})), maxUnavailable {max_unavailable}, eviction timeout {EVICTION_TIMEOUT}{}",
                old.len(),
                if force { ", force (PodDisruptionBudgets ignored)" } else { "" }
            ),
            Kind2::Minimal => format!(
                "launch template → kubelet 1.{minor} (was 1.{was}); {} old node(s); minimal: terminate first, then replace, maxUnavailable {max_unavailable}",
                old.len()
            ),
            Kind2::Drift => format!(
                "NodePool/EC2NodeClass drifted: kubelet 1.{minor} (was 1.{was}); {} drifted node(s); budget {budget} of nodes",
                old.len()
            ),
        };
        Self::emit(cx, id, UpgradePhase::Started, None, None, what);
        let roll = NodeRoll {
            id: id.to_string(),
            group: g,
            minor,
            how,
            force,
            max_unavailable,
            budget,
            surge,
            stage: if how == Kind2::Rolling { Stage::ScaleUp } else { Stage::Replace },
            todo: old.clone(),
            draining: BTreeMap::new(),
            waiting: BTreeSet::new(),
            launching: 0,
            unregistered: 0,
            replacing: BTreeMap::new(),
            launched: BTreeSet::new(),
            surge_zones: BTreeSet::new(),
            blocked: BTreeSet::new(),
        };
        cx.me().active = Some(Active::Nodes(Box::new(roll)));
        if old.is_empty() {
            return Self::finish(cx, id, Ok(format!("no node to replace in {group}")));
        }
        match how {
            Kind2::Rolling => {
                let size = old.len() as u32;
                Self::emit(
                    cx,
                    id,
                    UpgradePhase::ScaleUp,
                    None,
                    None,
                    format!("ASG desired {size} → {}: {surge} new node(s) before any old one goes", size + surge),
                );
                for k in 0..surge {
                    let zone =
                        (!plan.topology.zones.is_empty()).then(|| plan.topology.zones[k as usize % plan.topology.zones.len()].clone());
                    if let Some(Active::Nodes(r)) = &mut cx.me().active {
                        r.surge_zones.insert(zone.clone());
                    }
                    Self::launch(cx, g, zone, None);
                }
            }
            Kind2::Minimal | Kind2::Drift => Self::next(cx),
        }
    }

    fn roll_ref(cx: &impl Cx<Upgrades>) -> Option<&NodeRoll> {
        match &cx.me_ref().active {
            Some(Active::Nodes(r)) => Some(r),
            _ => None,
        }
    }

    fn roll(cx: &mut impl Cx<Upgrades>) -> Option<&mut NodeRoll> {
        match &mut cx.me().active {
            Some(Active::Nodes(r)) => Some(r),
            _ => None,
        }
    }

    /// The cloud provider launches a node; it registers after the group's provisioning time
    /// (EKS does not document node launch times: unverified; the Cluster Autoscaler's
    /// provisioning default, 90 s, is used, then 10 s to Ready).
    fn launch(cx: &mut impl Cx<Upgrades>, g: usize, zone: Option<String>, replaces: Option<usize>) {
        let plan = cx.plan().clone();
        let provisioning =
            plan.topology.groups[g].provisioning.or(plan.stack.autoscaler.as_ref().map(|a| a.provisioning)).unwrap_or(DEFAULT_PROVISIONING);
        if let Some(r) = Self::roll(cx) {
            r.launching += 1;
            r.unregistered += 1;
            if let Some(old) = replaces {
                r.replacing.insert(old, None);
            }
        }
        cx.at(provisioning, Ev::Register { group: g, zone, replaces });
    }

    fn register(cx: &mut impl Cx<Upgrades>, g: usize, zone: Option<String>, replaces: Option<usize>) {
        let plan = cx.plan().clone();
        let k = cx.store().next_node[g];
        cx.store_mut().next_node[g] += 1;
        let name = format!("{}-{k}", plan.topology.groups[g].name);
        let n = cx.register_node(g, &name, zone.as_deref(), false);
        let ready = plan.stack.autoscaler.as_ref().map_or(DEFAULT_NODE_READY, |c| c.node_ready);
        let Some(r) = Self::roll(cx) else { return };
        r.launched.insert(n);
        r.unregistered = r.unregistered.saturating_sub(1);
        if let Some(old) = replaces {
            r.replacing.insert(old, Some(n));
        }
        let id = r.id.clone();
        let minor = r.minor;
        let why = match replaces {
            Some(old) => format!("replacement for {} (kubelet 1.{minor})", node_name(cx.store(), old)),
            None => format!("surge node (kubelet 1.{minor})"),
        };
        Self::emit(cx, &id, UpgradePhase::NodeLaunched, Some(name), None, why);
        cx.at(ready, Ev::Ready { node: n });
    }

    fn ready(cx: &mut impl Cx<Upgrades>, n: usize) {
        if !cx.node_reports_ready(n) {
            return;
        }
        let name = cx.store().nodes[n].name.clone();
        let Some(r) = Self::roll(cx) else { return };
        r.launching = r.launching.saturating_sub(1);
        let id = r.id.clone();
        Self::emit(cx, &id, UpgradePhase::NodeReady, Some(name), None, "kubelet Ready; the node takes pods".into());
        let Some(r) = Self::roll(cx) else { return };
        let replaced = r.replacing.iter().find(|(_, new)| **new == Some(n)).map(|(o, _)| *o);
        if let Some(o) = replaced {
            r.replacing.remove(&o);
        }
        match (r.how, r.stage) {
            (Kind2::Rolling, Stage::ScaleUp) => {
                // EKS waits for one new Ready node per zone of the surge.
                let launched: Vec<usize> = r.launched.iter().copied().collect();
                let zones_ready: BTreeSet<Option<String>> =
                    launched.iter().filter(|x| cx.store().node_state[**x].ready).map(|x| zone_of(cx.store(), *x)).collect();
                let Some(r) = Self::roll(cx) else { return };
                if !r.surge_zones.iter().all(|z| zones_ready.contains(z)) {
                    return;
                }
                r.stage = Stage::Replace;
                let old: Vec<usize> = r.todo.iter().copied().collect();
                let id = r.id.clone();
                for o in old {
                    cx.set_unschedulable(o, true);
                    let name = node_name(cx.store(), o);
                    Self::emit(
                        cx,
                        &id,
                        UpgradePhase::Cordoned,
                        Some(name),
                        None,
                        "old launch template: unschedulable once a new node is Ready in every zone".into(),
                    );
                }
            }
            // A pre-spun replacement is up: its drifted node is deleted and drained.
            (Kind2::Drift, _) => {
                if let Some(o) = replaced {
                    Self::drain(cx, o);
                }
            }
            _ => {}
        }
        Self::next(cx);
    }

    /// Takes the next old nodes within the strategy's limits, or moves to the next stage.
    fn next(cx: &mut impl Cx<Upgrades>) {
        loop {
            let Some(r) = Self::roll_ref(cx) else { return };
            if r.stage != Stage::Replace || r.todo.is_empty() {
                break;
            }
            let todo: Vec<usize> = r.todo.iter().copied().collect();
            let pick = match r.how {
                // Up to maxUnavailable old nodes draining or waiting for termination at once; the
                // surge keeps the capacity meanwhile (EKS: "randomly selects a node ... up to the
                // maximum unavailable").
                Kind2::Rolling => {
                    if r.draining.len() + r.waiting.len() >= r.max_unavailable as usize {
                        break;
                    }
                    todo[cx.rng().random_range(0..todo.len())]
                }
                // Minimal: a node counts until its replacement is Ready, so the group never
                // exceeds its size nor loses more than maxUnavailable nodes (inference).
                Kind2::Minimal => {
                    if r.draining.len() + r.waiting.len() + r.replacing.len() >= r.max_unavailable as usize {
                        break;
                    }
                    todo[cx.rng().random_range(0..todo.len())]
                }
                // Karpenter: allowed = roundup(total × pct) − deleting − notReady (§4.a); a
                // replacement still launching (its NodeClaim) counts as not ready too.
                Kind2::Drift => {
                    let store = cx.store();
                    let g = r.group;
                    let live: Vec<usize> =
                        (0..store.nodes.len()).filter(|n| store.nodes[*n].group as usize == g && !store.nodes[*n].gone).collect();
                    let not_ready = live.iter().filter(|n| !store.node_state[**n].ready).count() as i64;
                    let deleting = (r.draining.len() + r.waiting.len()) as i64;
                    let allowed = i64::from(r.budget.scaled(live.len() as u32, true)) - deleting - not_ready - i64::from(r.unregistered);
                    if allowed <= 0 {
                        break;
                    }
                    // Cheapest first: fewest pods, then name (Karpenter orders candidates by
                    // disruption cost; the exact order is not in the notes: unverified).
                    *todo.iter().min_by_key(|n| (pods_on(store, **n).len(), store.nodes[**n].name.clone())).expect("not empty")
                }
            };
            let Some(r) = Self::roll(cx) else { return };
            r.todo.remove(&pick);
            let (id, how, g) = (r.id.clone(), r.how, r.group);
            let name = node_name(cx.store(), pick);
            match how {
                Kind2::Rolling => Self::drain(cx, pick),
                Kind2::Minimal => {
                    cx.set_unschedulable(pick, true);
                    Self::emit(cx, &id, UpgradePhase::Cordoned, Some(name), None, "minimal strategy: cordoned, then drained".into());
                    Self::drain(cx, pick);
                }
                Kind2::Drift => {
                    cx.add_taint(pick, Taint::new(KARPENTER_DISRUPTED, "", TaintEffect::NoSchedule));
                    Self::emit(
                        cx,
                        &id,
                        UpgradePhase::Cordoned,
                        Some(name),
                        None,
                        format!("drifted: tainted {KARPENTER_DISRUPTED}:NoSchedule; a replacement is pre-spun before its drain"),
                    );
                    let zone = zone_of(cx.store(), pick);
                    Self::launch(cx, g, zone, Some(pick));
                }
            }
        }
        Self::maybe_done(cx);
    }

    fn drain(cx: &mut impl Cx<Upgrades>, n: usize) {
        let now = cx.now();
        let Some(r) = Self::roll(cx) else { return };
        r.draining.insert(n, now);
        let (id, how) = (r.id.clone(), r.how);
        let pods = pods_on(cx.store(), n);
        let name = node_name(cx.store(), n);
        let deadline = if how == Kind2::Drift {
            "no deadline (no terminationGracePeriod)".to_string()
        } else {
            format!("deadline {EVICTION_TIMEOUT}")
        };
        Self::emit(
            cx,
            &id,
            UpgradePhase::Drain,
            Some(name),
            None,
            format!("evicting {} pod(s) through the Eviction API; {deadline}", pods.len()),
        );
        if how != Kind2::Drift {
            cx.at_keyed(Key::Drain(n), EVICTION_TIMEOUT, Ev::DrainDeadline { node: n });
        }
        Self::evict_all(cx, n);
    }

    /// Evicts every pod left on a draining node; refusals are reported once and retried.
    fn evict_all(cx: &mut impl Cx<Upgrades>, n: usize) {
        let Some(r) = Self::roll(cx) else { return };
        if !r.draining.contains_key(&n) {
            return;
        }
        let (id, force) = (r.id.clone(), r.force);
        let mut blocked = false;
        for pod in pods_on(cx.store(), n) {
            let Some(p) = cx.store().pod(pod) else { continue };
            if p.deleting.is_some() {
                continue;
            }
            let key = p.key.clone();
            let node = node_name(cx.store(), n);
            if force {
                cx.delete_pod(pod, &format!("Evicted: upgrade {id} (force: PodDisruptionBudgets ignored)"));
                Self::emit(
                    cx,
                    &id,
                    UpgradePhase::ForceEvicted,
                    Some(node),
                    Some(key),
                    "force update: deleted without its disruption budget's consent".into(),
                );
                continue;
            }
            match cx.evict(pod, &format!("Evicted: upgrade {id} drains {node}")) {
                Ok(()) => {
                    if let Some(r) = Self::roll(cx) {
                        r.blocked.remove(&pod);
                    }
                    Self::emit(cx, &id, UpgradePhase::Evicted, Some(node), Some(key), "evicted (Eviction API)".into());
                }
                Err(refusal) => {
                    blocked = true;
                    let first = Self::roll(cx).is_some_and(|r| r.blocked.insert(pod));
                    if first {
                        Self::emit(
                            cx,
                            &id,
                            UpgradePhase::EvictionBlocked,
                            Some(node),
                            Some(key),
                            format!("429 TooManyRequests: {refusal}; retrying every {EVICTION_RETRY}"),
                        );
                    }
                }
            }
        }
        if blocked {
            cx.at_keyed(Key::Drain(n), EVICTION_RETRY, Ev::RetryEvictions { node: n });
        }
        Self::check_drained(cx, n);
    }

    /// A pod object went away: a draining node may be empty now.
    pub fn pod_gone(cx: &mut impl Cx<Upgrades>) {
        let Some(r) = Self::roll(cx) else { return };
        let draining: Vec<usize> = r.draining.keys().copied().collect();
        for n in draining {
            Self::check_drained(cx, n);
        }
    }

    fn check_drained(cx: &mut impl Cx<Upgrades>, n: usize) {
        if !pods_on(cx.store(), n).is_empty() {
            return;
        }
        let now = cx.now();
        let Some(r) = Self::roll(cx) else { return };
        let Some(since) = r.draining.remove(&n) else { return };
        r.waiting.insert(n);
        let (id, how, stage) = (r.id.clone(), r.how, r.stage);
        cx.cancel(Key::Drain(n));
        let name = node_name(cx.store(), n);
        let (wait, why) = match (how, stage) {
            (_, Stage::ScaleDown) | (Kind2::Drift, _) => (Dur::ZERO, String::new()),
            _ => (EMPTY_NODE_WAIT, format!("; cordoned, terminating after {EMPTY_NODE_WAIT}")),
        };
        Self::emit(cx, &id, UpgradePhase::Drained, Some(name), None, format!("empty after {}{why}", now - since));
        cx.at(wait, Ev::Terminate { node: n });
    }

    fn deadline(cx: &mut impl Cx<Upgrades>, n: usize) {
        let Some(r) = Self::roll_ref(cx) else { return };
        if !r.draining.contains_key(&n) {
            return;
        }
        let id = r.id.clone();
        let group = cx.plan().topology.groups[r.group].name.clone();
        let store = cx.store();
        let left: Vec<String> = pods_on(store, n).iter().filter_map(|p| store.pod(*p)).map(|p| p.key.clone()).collect();
        let name = node_name(store, n);
        let reason = format!(
            "PodEvictionFailure: reached max retries while trying to evict pods from nodes in node group {group}: {} pod(s) still on {name} after {EVICTION_TIMEOUT}: {}",
            left.len(),
            left.join(", ")
        );
        Self::emit(cx, &id, UpgradePhase::EvictionTimeout, Some(name), None, reason.clone());
        cx.cancel(Key::Drain(n));
        Self::finish(cx, &id, Err(reason));
    }

    fn terminate(cx: &mut impl Cx<Upgrades>, n: usize) {
        let Some(r) = Self::roll(cx) else { return };
        if !r.waiting.remove(&n) {
            return;
        }
        let (id, how, stage, g) = (r.id.clone(), r.how, r.stage, r.group);
        let name = node_name(cx.store(), n);
        let zone = zone_of(cx.store(), n);
        let why = match (how, stage) {
            (_, Stage::ScaleDown) => "ASG scale-in: instance terminated".to_string(),
            (Kind2::Rolling, _) => "ASG terminates the instance and, desired still raised, launches a replacement".to_string(),
            (Kind2::Minimal, _) => "terminated first; the ASG launches its replacement".to_string(),
            (Kind2::Drift, _) => "drained: Karpenter terminates the instance".to_string(),
        };
        Self::emit(cx, &id, UpgradePhase::NodeTerminated, Some(name), None, why);
        cx.signal(Signal::DeleteNode { node: n, reason: format!("terminated by upgrade {id}") });
        if stage == Stage::Replace && how != Kind2::Drift {
            Self::launch(cx, g, zone, Some(n));
        }
        Self::next(cx);
    }

    /// Every old node is gone and every launched node Ready: scale down (rolling) or finish.
    fn maybe_done(cx: &mut impl Cx<Upgrades>) {
        let Some(r) = Self::roll(cx) else { return };
        let idle = r.todo.is_empty() && r.draining.is_empty() && r.waiting.is_empty() && r.launching == 0 && r.replacing.is_empty();
        if !idle || r.stage == Stage::ScaleUp {
            return;
        }
        let (id, group, minor, launched, how, stage, surge) = (r.id.clone(), r.group, r.minor, r.launched.len(), r.how, r.stage, r.surge);
        let name = cx.plan().topology.groups[group].name.clone();
        if !(how == Kind2::Rolling && stage == Stage::Replace) {
            return Self::finish(cx, &id, Ok(format!("nodegroup {name} runs kubelet 1.{minor}: {launched} node(s) launched")));
        }
        if let Some(r) = Self::roll(cx) {
            r.stage = Stage::ScaleDown;
        }
        let store = cx.store();
        let mut live: Vec<usize> =
            (0..store.nodes.len()).filter(|n| store.nodes[*n].group as usize == group && !store.nodes[*n].gone).collect();
        let size = live.len() as u32;
        // The ASG's default termination policy: balance the zones, then the oldest launch
        // template (all equal now), then at random (seeded).
        let mut victims = Vec::new();
        for _ in 0..surge.min(size) {
            let mut by_zone: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
            for n in &live {
                by_zone.entry(zone_of(cx.store(), *n)).or_default().push(*n);
            }
            let biggest = by_zone.values().map(Vec::len).max().unwrap_or(0);
            let pool: Vec<usize> = by_zone.values().find(|v| v.len() == biggest).cloned().unwrap_or_default();
            let pick = pool[cx.rng().random_range(0..pool.len())];
            live.retain(|n| *n != pick);
            victims.push(pick);
        }
        let names: Vec<String> = victims.iter().map(|n| node_name(cx.store(), *n)).collect();
        Self::emit(
            cx,
            &id,
            UpgradePhase::ScaleDown,
            None,
            None,
            format!(
                "ASG desired {size} → {}: terminating {} (the ASG picks; a desired-size change does not honour PodDisruptionBudgets)",
                size - victims.len() as u32,
                names.join(", ")
            ),
        );
        for v in victims {
            if let Some(r) = Self::roll(cx) {
                r.waiting.insert(v);
            }
            let node = node_name(cx.store(), v);
            for p in pods_on(cx.store(), v) {
                let Some(key) = cx.store().pod(p).map(|x| x.key.clone()) else { continue };
                Self::emit(
                    cx,
                    &id,
                    UpgradePhase::ForceEvicted,
                    Some(node.clone()),
                    Some(key),
                    "lost with its instance: the scale-in terminates it without honouring its disruption budget".into(),
                );
            }
            cx.at(Dur::ZERO, Ev::Terminate { node: v });
        }
    }

    // ----- the Spark Operator chart -----

    fn start_operator(cx: &mut impl Cx<Upgrades>, id: &str, version: &str, upgrade_crds: bool) {
        let from = cx.store().operator_version.clone();
        let store = cx.store();
        let mut rolling = Vec::new();
        let mut what = Vec::new();
        for kind in [Kind::Controller, Kind::Webhook] {
            if let Some(i) = store.deployment(kind) {
                let (surge, unavailable) = store.deployments[i].fenceposts();
                what.push(format!(
                    "{} ({} replica(s): maxSurge {surge}, maxUnavailable {unavailable})",
                    kind.name(),
                    store.deployments[i].replicas
                ));
                rolling.push(i);
            }
        }
        Self::emit(
            cx,
            id,
            UpgradePhase::Started,
            None,
            None,
            format!("helm upgrade spark-operator {from} → {version}: rolls {}", what.join(" and ")),
        );
        cx.me().active = Some(Active::Operator(OperatorRoll {
            id: id.to_string(),
            version: version.to_string(),
            rolling,
            ready: BTreeSet::new(),
            deleted: BTreeSet::new(),
            started: cx.now(),
            leaderless_since: None,
            leaderless: Dur::ZERO,
            leader_seen: cx.store().lease.holder,
        }));
        if upgrade_crds {
            Self::emit(
                cx,
                id,
                UpgradePhase::Crds,
                None,
                None,
                format!(
                    "hook.upgradeCrd: the pre-upgrade hook Job applies the {version} CRDs (kubectl apply --server-side --force-conflicts) before the Deployments change"
                ),
            );
            cx.at(CRD_HOOK, Ev::CrdHookDone);
        } else {
            Self::emit(
                cx,
                id,
                UpgradePhase::Crds,
                None,
                None,
                format!(
                    "not upgraded: Helm installs crds/ on first install only; the {from} CRD schemas stay (fields new in {version} are pruned)"
                ),
            );
            Self::roll_operator(cx);
        }
    }

    fn roll_operator(cx: &mut impl Cx<Upgrades>) {
        let Some(Active::Operator(r)) = &cx.me_ref().active else { return };
        let (id, version, rolling) = (r.id.clone(), r.version.clone(), r.rolling.clone());
        cx.store_mut().operator_version = version.clone();
        for i in rolling {
            let kind = cx.store().deployments[i].kind;
            let image = kind.image_at(&version);
            Self::emit(cx, &id, UpgradePhase::Rollout, None, None, format!("{}: new pod template ({image})", kind.name()));
            cx.signal(Signal::RollDeployment { deployment: i, image });
        }
        Self::platform_changed(cx);
    }

    /// Platform pods changed: report rollout progress; finish when both Deployments are rolled
    /// out and the controller has a leader.
    pub fn platform_changed(cx: &mut impl Cx<Upgrades>) {
        let Some(Active::Operator(r)) = &cx.me_ref().active else { return };
        let (id, rolling) = (r.id.clone(), r.rolling.clone());
        let mut news = Vec::new();
        for &i in &rolling {
            let store = cx.store();
            let d = &store.deployments[i];
            if d.old.is_empty() && d.revision == 1 {
                continue;
            }
            for p in d.pods.iter().filter(|p| !d.old.contains(p)) {
                if store.pod_serving(*p) {
                    news.push((UpgradePhase::PodReady, *p));
                }
            }
            for p in d.old.iter() {
                if store.pod(*p).is_some_and(|x| x.deleting.is_some()) {
                    news.push((UpgradePhase::OldPodDeleted, *p));
                }
            }
        }
        for (ph, p) in news {
            let Some(Active::Operator(r)) = &mut cx.me().active else { return };
            let fresh = if ph == UpgradePhase::PodReady { r.ready.insert(p) } else { r.deleted.insert(p) };
            if !fresh {
                continue;
            }
            let store = cx.store();
            let Some(pod) = store.pod(p) else { continue };
            let key = pod.key.clone();
            let node = pod.node.map(|n| node_name(store, n));
            let why = if ph == UpgradePhase::PodReady {
                "new revision Ready (readiness probe passed)".to_string()
            } else {
                "old revision deleted: enough new pods available".to_string()
            };
            Self::emit(cx, &id, ph, node, Some(key), why);
        }
        Self::leader_changed(cx);
    }

    /// The operator's Lease changed: report a lost and a new leader, and finish when done.
    pub fn leader_changed(cx: &mut impl Cx<Upgrades>) {
        let now = cx.now();
        let holder = cx.store().lease.holder;
        let expires = cx.store().lease.expires;
        let Some(Active::Operator(r)) = &mut cx.me().active else { return };
        let id = r.id.clone();
        if holder != r.leader_seen {
            let was = r.leader_seen;
            r.leader_seen = holder;
            match holder {
                None => {
                    r.leaderless_since = Some(now);
                    let key = was.and_then(|p| cx.store().pod(p)).map(|p| p.key.clone());
                    let until = expires.map_or(String::new(), |e| format!(" at {e}"));
                    Self::emit(
                        cx,
                        &id,
                        UpgradePhase::LeaderLost,
                        None,
                        key,
                        format!(
                            "the leader stopped without releasing its Lease (LeaderElectionReleaseOnCancel unset); it expires{until} (leaseDuration 15s), candidates retry every 2s"
                        ),
                    );
                }
                Some(p) => {
                    let gap = r.leaderless_since.take().map(|s| now - s);
                    if let Some(g) = gap {
                        r.leaderless = r.leaderless + g;
                    }
                    let key = cx.store().pod(p).map(|x| x.key.clone());
                    let why = match gap {
                        Some(g) => format!("acquired the Lease after {g} without a leader: nothing was submitted meanwhile"),
                        None => "acquired the Lease".to_string(),
                    };
                    Self::emit(cx, &id, UpgradePhase::LeaderElected, None, key, why);
                }
            }
        }
        Self::operator_done(cx);
    }

    fn operator_done(cx: &mut impl Cx<Upgrades>) {
        let Some(Active::Operator(r)) = &cx.me_ref().active else { return };
        let (id, version, started, leaderless, rolling) = (r.id.clone(), r.version.clone(), r.started, r.leaderless, r.rolling.clone());
        let store = cx.store();
        let all_rolled = rolling.iter().all(|i| crate::controllers::deployments::Deployments::rolled_out(store, *i));
        let leader_new = match store.deployment(Kind::Controller) {
            Some(c) if store.deployments[c].replicas > 0 => {
                store.lease.holder.is_some_and(|h| store.deployments[c].pods.contains(&h) && !store.deployments[c].old.contains(&h))
            }
            _ => true,
        };
        if !(all_rolled && leader_new) {
            return;
        }
        let rolled: Vec<&str> = rolling.iter().map(|i| store.deployments[*i].kind.name()).collect();
        let msg = format!(
            "spark-operator {version}: {} rolled out in {}; the controller had no leader for {leaderless}",
            rolled.join(" and "),
            cx.now() - started
        );
        Self::finish(cx, &id, Ok(msg));
    }

    // ----- the control plane -----

    fn start_control_plane(cx: &mut impl Cx<Upgrades>, id: &str, to: u32, duration: Dur) {
        let from = cx.store().kubernetes_minor;
        if to != from + 1 {
            return Self::refuse(cx, id, format!("EKS upgrades the control plane one minor at a time: 1.{from} → 1.{to} refused"));
        }
        let store = cx.store();
        let behind: Vec<String> = (0..store.nodes.len())
            .filter(|n| !store.nodes[*n].gone && store.node_state[*n].kubelet_minor != from && plan_group_role_worker(cx, *n))
            .map(|n| format!("{} (kubelet 1.{})", store.nodes[n].name, store.node_state[n].kubelet_minor))
            .collect();
        if !behind.is_empty() {
            return Self::refuse(
                cx,
                id,
                format!(
                    "EKS requires the nodes on the control plane's minor 1.{from} before its next upgrade; behind: {}",
                    behind.join(", ")
                ),
            );
        }
        let each = Dur::ms(duration.as_ms() / API_SERVER_INSTANCES);
        Self::emit(
            cx,
            id,
            UpgradePhase::Started,
            None,
            None,
            format!("control plane 1.{from} → 1.{to}: {API_SERVER_INSTANCES} API server instances replaced one at a time over {duration}"),
        );
        cx.me().active = Some(Active::ControlPlane(ControlPlaneRoll { id: id.to_string(), from, to, each }));
        Self::emit(
            cx,
            id,
            UpgradePhase::ApiServerRolling,
            None,
            None,
            format!("instance 1 of {API_SERVER_INSTANCES} replaced by a 1.{to} instance; the other serves"),
        );
        cx.at(each, Ev::ApiServerReplaced { instance: 1 });
    }

    fn api_server_replaced(cx: &mut impl Cx<Upgrades>, instance: u64) {
        let Some(Active::ControlPlane(r)) = &cx.me_ref().active else { return };
        let (id, from, to, each) = (r.id.clone(), r.from, r.to, r.each);
        Self::emit(
            cx,
            &id,
            UpgradePhase::WatchesReconnected,
            None,
            None,
            format!(
                "instance {instance} went away: watches it served were cut; informers re-list and re-watch (the operator reconciles every app again); renewals reach the other instance, so no leader loses its Lease"
            ),
        );
        cx.signal(Signal::WatchesReconnected);
        if instance < API_SERVER_INSTANCES {
            Self::emit(
                cx,
                &id,
                UpgradePhase::ApiServerRolling,
                None,
                None,
                format!("instance {} of {API_SERVER_INSTANCES} replaced by a 1.{to} instance", instance + 1),
            );
            cx.at(each, Ev::ApiServerReplaced { instance: instance + 1 });
            return;
        }
        cx.store_mut().kubernetes_minor = to;
        cx.signal(Signal::ControlPlaneUpgraded(to));
        let changes = behaviour_changes(from, to);
        let what = if changes.is_empty() { "none of the behaviours sparkrig models differs".to_string() } else { changes.join("; ") };
        Self::emit(
            cx,
            &id,
            UpgradePhase::VersionSwitched,
            None,
            None,
            format!("kube-apiserver, controller manager and scheduler at 1.{to}: {what}"),
        );
        Self::finish(cx, &id, Ok(format!("control plane at 1.{to}")));
    }
}

/// A node of a worker group (the control-plane node follows the control plane).
fn plan_group_role_worker(cx: &impl Cx<Upgrades>, n: usize) -> bool {
    let g = cx.store().nodes[n].group as usize;
    cx.plan().topology.groups[g].role == sparkrig_model::topology::Role::Worker
}

#[cfg(test)]
mod tests {
    use sparkrig_model::upgrade::{Upgrade, UpgradeTarget};

    use super::*;
    use crate::api::Ev as AnyEv;
    use crate::testing::{Fake, scenario};

    fn control_plane(minor: u32) -> Upgrade {
        Upgrade { id: "kubernetes".into(), target: UpgradeTarget::Kubernetes { minor, duration: Dur::mins(8) } }
    }

    /// smoke.yaml runs 1.34. Two minors at once is refused before anything changes; one minor
    /// replaces the two API server instances 8 min / 2 = 4 min apart, each cutting the watches,
    /// and switches the version at the end.
    #[test]
    fn the_control_plane_moves_one_minor_replacing_each_instance_in_turn() {
        let plan = scenario("smoke.yaml");
        let mut f = Fake::new(Upgrades::default(), &plan);
        assert_eq!(f.store.kubernetes_minor, 34);
        Upgrades::start(&mut f, &control_plane(36));
        assert!(matches!(f.signals.as_slice(), [Signal::UpgradeFinished(Err(m))] if m.contains("1.34 → 1.36 refused")), "{:?}", f.signals);
        assert!(f.armed.is_empty());

        f.clear();
        Upgrades::start(&mut f, &control_plane(35));
        assert!(f.signals.is_empty());
        assert_eq!(f.timers(), [(240_000, AnyEv::Upgrade(Ev::ApiServerReplaced { instance: 1 }))]);
        f.advance(Dur::mins(4));
        f.clear();
        Upgrades::handle(&mut f, Ev::ApiServerReplaced { instance: 1 });
        assert_eq!(f.signals, [Signal::WatchesReconnected]);
        assert_eq!(f.store.kubernetes_minor, 34, "not switched while an old instance serves");
        assert_eq!(f.timers(), [(480_000, AnyEv::Upgrade(Ev::ApiServerReplaced { instance: 2 }))]);
        f.advance(Dur::mins(4));
        f.clear();
        Upgrades::handle(&mut f, Ev::ApiServerReplaced { instance: 2 });
        assert_eq!(f.store.kubernetes_minor, 35);
        assert!(
            matches!(
                f.signals.as_slice(),
                [Signal::WatchesReconnected, Signal::ControlPlaneUpgraded(35), Signal::UpgradeFinished(Ok(m))] if m == "control plane at 1.35"
            ),
            "{:?}",
            f.signals
        );
    }
}
