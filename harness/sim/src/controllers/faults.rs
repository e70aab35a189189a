//! The fault catalog, acting on the simulated platform the way the real fault acts on a real
//! one: platform outages scale their Deployment to zero (heal restores the replica count), a
//! broken Corefile reaches CoreDNS at its next reload, node faults stop machines or cut their
//! network, spot interruptions give a notice, cordon and drain and then terminate the instance,
//! pod kills delete pods. Faults still active when the scenario ends are healed.
//!
//! Inputs: its own [`Ev`]s; [`Faults::inject`], [`Faults::heal`], [`Faults::heal_all`].
//! Outputs: API writes (scale, delete pods, cordon), [`Signal::NodeDown`], [`Signal::NodeUp`],
//! [`Signal::DeleteNode`], and `fault_injected`/`fault_healed` trace events.

use sparkrig_model::faults::{Fault, FaultKind, FaultSpec, NodeTarget, PodTarget};
use sparkrig_model::time::Dur;
use sparkrig_model::trace::Event;

use crate::api::{Cx, Key, Signal, controller};
use crate::store::{Kind, Owner, PodId, Store};

/// CoreDNS's `reload` plugin checks the Corefile every 30 s (its default interval); ConfigMap
/// propagation into the pod (kubelet sync) is not modelled on top.
const COREDNS_RELOAD: Dur = Dur::secs(30);

/// The faults' timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    /// The spot instances' notice ran out: terminate them.
    SpotTerminate {
        /// Nodes.
        nodes: Vec<usize>,
    },
    /// CoreDNS reloads its Corefile.
    DnsReload {
        /// The loaded Corefile is broken.
        broken: bool,
    },
    /// A lost machine's Node object is deleted (`deleteAfter`).
    DeleteLostNode {
        /// Node.
        node: usize,
    },
    /// The node termination handler retries the evictions a PodDisruptionBudget refused.
    DrainRetry {
        /// Node.
        node: usize,
    },
}

/// Faults injected and not healed.
#[derive(Debug, Default)]
pub struct Faults {
    active: Vec<Active>,
}

#[derive(Debug)]
struct Active {
    id: String,
    spec: FaultSpec,
    nodes: Vec<usize>,
    replicas: u32,
}

controller!(Faults, Ev, Faults);

fn component_of(kind: FaultKind) -> Option<Kind> {
    match kind {
        FaultKind::CorednsDown => Some(Kind::CoreDns),
        FaultKind::OperatorDown => Some(Kind::Controller),
        FaultKind::WebhookDown => Some(Kind::Webhook),
        FaultKind::MinioOutage => Some(Kind::Minio),
        FaultKind::RegistryOutage => Some(Kind::Registry),
        _ => None,
    }
}

impl Faults {
    /// Handles one of its timers.
    pub fn handle(cx: &mut impl Cx<Faults>, ev: Ev) {
        match ev {
            Ev::SpotTerminate { nodes } => {
                for n in nodes {
                    cx.cancel(Key::SpotDrain(n));
                    cx.signal(Signal::DeleteNode { node: n, reason: "spot instance terminated".into() });
                }
            }
            Ev::DrainRetry { node } => Self::drain(cx, node),
            Ev::DnsReload { broken } => cx.store_mut().dns_config_ok = !broken,
            Ev::DeleteLostNode { node } => cx.signal(Signal::DeleteNode { node, reason: "deleted after the machine was lost".into() }),
        }
    }

    /// Injects a fault now.
    pub fn inject(cx: &mut impl Cx<Faults>, f: &Fault) {
        let mut active = Active { id: f.id.clone(), spec: f.spec.clone(), nodes: Vec::new(), replicas: 0 };
        let target = match &f.spec {
            FaultSpec::Component(FaultKind::CorednsMisconfig) => {
                cx.cancel(Key::Dns);
                cx.at_keyed(Key::Dns, COREDNS_RELOAD, Ev::DnsReload { broken: true });
                "kube-system/coredns: Corefile replaced with a broken one (applies at the next reload)".to_string()
            }
            FaultSpec::Component(kind) => {
                let c = component_of(*kind).expect("component faults map to a Deployment");
                match cx.scale(c, 0) {
                    Some(prev) => {
                        active.replicas = prev;
                        format!("{}: scaled from {prev} to 0", f.spec.target())
                    }
                    None => format!("{}: not deployed", f.spec.target()),
                }
            }
            FaultSpec::NodeLoss { nodes, delete_after } => {
                active.nodes = pick_nodes(cx, nodes);
                for &n in &active.nodes {
                    cx.signal(Signal::NodeDown { node: n, machine: true });
                    if let Some(d) = delete_after {
                        cx.at(*d, Ev::DeleteLostNode { node: n });
                    }
                }
                format!("stopped {}", names(cx.store(), &active.nodes))
            }
            FaultSpec::NetworkPartition { nodes } => {
                active.nodes = pick_nodes(cx, nodes);
                for &n in &active.nodes {
                    cx.signal(Signal::NodeDown { node: n, machine: false });
                }
                format!("disconnected {}", names(cx.store(), &active.nodes))
            }
            FaultSpec::SpotInterruption { nodes, notice, drain } => {
                active.nodes = pick_nodes(cx, nodes);
                if *drain {
                    // A node termination handler cordons and drains at the notice, through the
                    // Eviction API: PodDisruptionBudgets hold pods until the instance goes.
                    for &n in &active.nodes {
                        cx.set_unschedulable(n, true);
                        Self::drain(cx, n);
                    }
                }
                cx.at(*notice, Ev::SpotTerminate { nodes: active.nodes.clone() });
                format!("interruption notice for {}; terminating in {notice}", names(cx.store(), &active.nodes))
            }
            FaultSpec::PodKill { pods, count, force } => {
                let victims = select_pods(cx.store(), pods, *count);
                let names: Vec<String> = victims.iter().filter_map(|id| cx.store().pod(*id)).map(|p| p.key.clone()).collect();
                for id in victims {
                    if *force {
                        cx.force_delete(id, "pod-kill (force)");
                    } else {
                        cx.delete_pod(id, "pod-kill");
                    }
                }
                if names.is_empty() { "no pod matched".into() } else { format!("deleted {}", names.join(", ")) }
            }
        };
        cx.emit(Event::FaultInjected { fault: f.id.clone(), target });
        cx.me().active.push(active);
    }

    /// Evicts what is left on a node being drained; retries refusals until its termination.
    fn drain(cx: &mut impl Cx<Faults>, n: usize) {
        if cx.store().nodes[n].gone {
            return;
        }
        let mut refused = false;
        for id in cx.store().node_state[n].pods.clone() {
            if cx.store().pod(id).is_some_and(|p| p.deleting.is_none()) {
                refused |= cx.evict(id, "Evicted: spot interruption notice (node drained)").is_err();
            }
        }
        if refused {
            cx.at_keyed(Key::SpotDrain(n), crate::pdb::EVICTION_RETRY, Ev::DrainRetry { node: n });
        }
    }

    /// The CoreDNS Corefile was replaced (through the API): CoreDNS loads it at its next reload.
    pub fn corefile_changed(cx: &mut impl Cx<Faults>, serves_cluster_names: bool) {
        cx.cancel(Key::Dns);
        cx.at_keyed(Key::Dns, COREDNS_RELOAD, Ev::DnsReload { broken: !serves_cluster_names });
    }

    /// Heals an active fault by id (nothing if it is not active).
    pub fn heal(cx: &mut impl Cx<Faults>, id: &str) {
        let Some(i) = cx.me().active.iter().position(|a| a.id == id) else { return };
        let a = cx.me().active.remove(i);
        let target = match &a.spec {
            FaultSpec::Component(FaultKind::CorednsMisconfig) => {
                cx.cancel(Key::Dns);
                cx.at_keyed(Key::Dns, COREDNS_RELOAD, Ev::DnsReload { broken: false });
                "kube-system/coredns: Corefile restored (applies at the next reload)".to_string()
            }
            FaultSpec::Component(kind) => {
                let c = component_of(*kind).expect("component faults map to a Deployment");
                cx.scale(c, a.replicas);
                format!("{}: scaled back to {}", a.spec.target(), a.replicas)
            }
            FaultSpec::NodeLoss { .. } => {
                let back: Vec<usize> = a.nodes.iter().copied().filter(|n| !cx.store().nodes[*n].gone).collect();
                for &n in &back {
                    cx.signal(Signal::NodeUp { node: n, machine: true });
                }
                if back.is_empty() {
                    "nodes already deleted; nothing to bring back".into()
                } else {
                    format!("started {}", names(cx.store(), &back))
                }
            }
            FaultSpec::NetworkPartition { .. } => {
                for &n in &a.nodes {
                    cx.signal(Signal::NodeUp { node: n, machine: false });
                }
                format!("reconnected {}", names(cx.store(), &a.nodes))
            }
            FaultSpec::SpotInterruption { .. } | FaultSpec::PodKill { .. } => "nothing to undo".into(),
        };
        cx.emit(Event::FaultHealed { fault: id.to_string(), target });
    }

    /// Heals every active fault (end of scenario, even after a failure), newest first.
    pub fn heal_all(cx: &mut impl Cx<Faults>) {
        while let Some(a) = cx.me().active.last() {
            let id = a.id.clone();
            Self::heal(cx, &id);
        }
    }
}

fn names(store: &Store, nodes: &[usize]) -> String {
    if nodes.is_empty() {
        return "no node".into();
    }
    nodes.iter().map(|n| store.nodes[*n].name.as_str()).collect::<Vec<_>>().join(", ")
}

/// A named node, or the first `count` live nodes of a group by name.
fn pick_nodes(cx: &impl Cx<Faults>, t: &NodeTarget) -> Vec<usize> {
    let store = cx.store();
    match t {
        NodeTarget::Named(name) => store.nodes.iter().position(|n| &n.name == name && !n.gone).into_iter().collect(),
        NodeTarget::Group { group, count } => {
            let g = cx.plan().topology.groups.iter().position(|x| &x.name == group);
            let mut live: Vec<usize> = (0..store.nodes.len())
                .filter(|i| Some(store.nodes[*i].group as usize) == g && !store.nodes[*i].gone && store.node_reachable(*i))
                .collect();
            live.sort_by(|a, b| natural(&store.nodes[*a].name).cmp(&natural(&store.nodes[*b].name)));
            live.truncate(count.map_or(usize::MAX, |c| c as usize));
            live
        }
    }
}

fn select_pods(store: &Store, t: &PodTarget, count: Option<u32>) -> Vec<PodId> {
    let mut out: Vec<(String, PodId)> = store
        .pods
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.as_deref().map(|p| (PodId(i as u32), p)))
        .filter(|(_, p)| p.deleting.is_none() && !p.phase.is_terminal())
        .filter(|(_, p)| match (t, p.owner) {
            (PodTarget::DriverOf(sel), Owner::Driver { app, .. }) => sel.matches(&store.app(app).key),
            (PodTarget::ExecutorsOf(sel), Owner::Executor { app, .. }) => sel.matches(&store.app(app).key),
            (PodTarget::Selector(want), _) => {
                let labels = store.labels(p);
                want.iter().all(|(k, v)| labels.get(k) == Some(v))
            }
            _ => false,
        })
        .map(|(id, p)| (p.key.clone(), id))
        .collect();
    out.sort();
    out.truncate(count.map_or(usize::MAX, |c| c as usize));
    out.into_iter().map(|(_, id)| id).collect()
}

/// Sort key that puts `group-2` before `group-10`.
fn natural(name: &str) -> (String, u64) {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (head, tail) = name.split_at(name.len() - digits);
    (head.to_string(), tail.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Api, Ev as AnyEv};
    use crate::testing::{Fake, nodes, scenario, serving};
    use sparkrig_model::faults::FaultSpec;
    use sparkrig_model::time::Time;

    fn fault(spec: FaultSpec) -> Fault {
        Fault { id: spec.kind().name().to_string(), spec }
    }

    #[test]
    fn coredns_down_scales_to_zero_and_heal_restores_the_recorded_count() {
        let plan = scenario("coredns-outage.yaml");
        let mut f = Fake::new(Faults::default(), &plan);
        let n = nodes(&mut f, "infra", 1)[0];
        serving(&mut f, Kind::CoreDns, n);
        f.store.deployments[0].replicas = 2;
        f.clear();
        Faults::inject(&mut f, &fault(FaultSpec::Component(FaultKind::CorednsDown)));
        assert_eq!(f.store.deployments[0].replicas, 0);
        assert_eq!(f.signals, [Signal::DeploymentScaled(0)]);
        let Event::FaultInjected { target, .. } = &f.emitted[0] else { panic!() };
        assert_eq!(target, "kube-system/coredns: scaled from 2 to 0");
        f.clear();
        Faults::heal_all(&mut f);
        assert_eq!(f.store.deployments[0].replicas, 2);
        let Event::FaultHealed { target, .. } = &f.emitted[0] else { panic!() };
        assert_eq!(target, "kube-system/coredns: scaled back to 2");
        assert!(f.me.active.is_empty());
    }

    #[test]
    fn a_broken_corefile_applies_at_the_next_reload_and_a_newer_change_cancels_the_older() {
        let plan = scenario("coredns-misconfig.yaml");
        let mut f = Fake::new(Faults::default(), &plan);
        Faults::inject(&mut f, &fault(FaultSpec::Component(FaultKind::CorednsMisconfig)));
        assert_eq!(f.cancelled, [Key::Dns]);
        assert_eq!(f.timers(), [(30_000, AnyEv::Faults(Ev::DnsReload { broken: true }))]);
        f.clear();
        f.now = Time(10_000);
        Faults::heal(&mut f, "coredns-misconfig");
        assert_eq!(f.cancelled, [Key::Dns], "the pending broken reload is cancelled");
        assert_eq!(f.timers(), [(40_000, AnyEv::Faults(Ev::DnsReload { broken: false }))]);
        Faults::handle(&mut f, Ev::DnsReload { broken: true });
        assert!(!f.store.dns_config_ok);
    }

    #[test]
    fn node_faults_pick_live_nodes_of_the_group_in_natural_order() {
        let plan = scenario("spot-interruption.yaml");
        let mut f = Fake::new(Faults::default(), &plan);
        let g = f.plan.topology.groups.iter().position(|x| x.name == "spark-executor").unwrap();
        for k in [10, 2, 1] {
            f.register_node(g, &format!("spark-executor-{k}"), None, true);
        }
        f.clear();
        let spec = FaultSpec::NetworkPartition { nodes: NodeTarget::Group { group: "spark-executor".into(), count: Some(2) } };
        Faults::inject(&mut f, &fault(spec));
        let Event::FaultInjected { target, .. } = &f.emitted[0] else { panic!() };
        assert_eq!(target, "disconnected spark-executor-1, spark-executor-2");
        assert_eq!(f.signals, [Signal::NodeDown { node: 2, machine: false }, Signal::NodeDown { node: 1, machine: false }]);
    }
}
