//! The fault catalog, acting on the simulated platform the way the real fault acts on a real
//! one: platform outages scale their Deployment to zero (heal restores the replica count), node
//! faults stop machines or cut their network, spot interruptions give a notice, cordon and drain
//! and then terminate the instance, pod kills delete pods. Faults still active when the scenario
//! ends are healed.

use sparkrig_model::faults::{Fault, FaultKind, FaultSpec, NodeTarget, PodTarget};
use sparkrig_model::time::Dur;
use sparkrig_model::trace::Event;

use super::components::Kind;
use super::{Ev, Owner, Phase, PodId, Simulation};

/// CoreDNS's `reload` plugin checks the Corefile every 30 s (its default interval); ConfigMap
/// propagation into the pod (kubelet sync) is not modelled on top.
const COREDNS_RELOAD: Dur = Dur::secs(30);

#[derive(Debug, Default)]
pub(crate) struct Faults {
    active: Vec<Active>,
    dns_epoch: u32,
}

#[derive(Debug)]
struct Active {
    id: String,
    spec: FaultSpec,
    nodes: Vec<usize>,
    replicas: u32,
}

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

impl Simulation {
    pub(crate) fn inject(&mut self, f: &Fault) {
        let mut active = Active { id: f.id.clone(), spec: f.spec.clone(), nodes: Vec::new(), replicas: 0 };
        let target = match &f.spec {
            FaultSpec::Component(FaultKind::CorednsMisconfig) => {
                self.faults.dns_epoch += 1;
                let epoch = self.faults.dns_epoch;
                self.at(COREDNS_RELOAD, Ev::DnsConfig { broken: true, epoch });
                "kube-system/coredns: Corefile replaced with a broken one (applies at the next reload)".to_string()
            }
            FaultSpec::Component(kind) => {
                let c = component_of(*kind).expect("component faults map to a Deployment");
                match self.scale_component(c, 0) {
                    Some(prev) => {
                        active.replicas = prev;
                        format!("{}: scaled from {prev} to 0", f.spec.target())
                    }
                    None => format!("{}: not deployed", f.spec.target()),
                }
            }
            FaultSpec::NodeLoss { nodes, delete_after } => {
                active.nodes = self.pick_nodes(nodes);
                for &n in &active.nodes {
                    self.node_down(n, true);
                    if let Some(d) = delete_after {
                        self.at(*d, Ev::DeleteNode { node: n });
                    }
                }
                format!("stopped {}", self.names(&active.nodes))
            }
            FaultSpec::NetworkPartition { nodes } => {
                active.nodes = self.pick_nodes(nodes);
                for &n in &active.nodes {
                    self.node_down(n, false);
                }
                format!("disconnected {}", self.names(&active.nodes))
            }
            FaultSpec::SpotInterruption { nodes, notice, drain } => {
                active.nodes = self.pick_nodes(nodes);
                if *drain {
                    // A node termination handler cordons and drains at the notice.
                    for &n in &active.nodes {
                        self.set_unschedulable(n, true);
                        for id in self.node_rt[n].pods.clone() {
                            self.delete_pod(id, "Evicted: spot interruption notice (node drained)");
                        }
                    }
                }
                self.at(*notice, Ev::SpotTerminate { nodes: active.nodes.clone() });
                format!("interruption notice for {}; terminating in {notice}", self.names(&active.nodes))
            }
            FaultSpec::PodKill { pods, count, force } => {
                let victims = self.select_pods(pods, *count);
                let names: Vec<String> = victims.iter().filter_map(|id| self.pod(*id)).map(|p| p.key.clone()).collect();
                for id in victims {
                    if *force {
                        self.force_delete(id, "pod-kill (force)");
                    } else {
                        self.delete_pod(id, "pod-kill");
                    }
                }
                if names.is_empty() { "no pod matched".into() } else { format!("deleted {}", names.join(", ")) }
            }
        };
        self.emit(Event::FaultInjected { fault: f.id.clone(), target });
        self.faults.active.push(active);
    }

    pub(crate) fn heal(&mut self, id: &str) {
        let Some(i) = self.faults.active.iter().position(|a| a.id == id) else { return };
        let a = self.faults.active.remove(i);
        let target = match &a.spec {
            FaultSpec::Component(FaultKind::CorednsMisconfig) => {
                self.faults.dns_epoch += 1;
                let epoch = self.faults.dns_epoch;
                self.at(COREDNS_RELOAD, Ev::DnsConfig { broken: false, epoch });
                "kube-system/coredns: Corefile restored (applies at the next reload)".to_string()
            }
            FaultSpec::Component(kind) => {
                let c = component_of(*kind).expect("component faults map to a Deployment");
                self.scale_component(c, a.replicas);
                format!("{}: scaled back to {}", a.spec.target(), a.replicas)
            }
            FaultSpec::NodeLoss { .. } => {
                let back: Vec<usize> = a.nodes.iter().copied().filter(|n| !self.nodes[*n].gone).collect();
                for &n in &back {
                    self.node_up(n, true);
                }
                if back.is_empty() {
                    "nodes already deleted; nothing to bring back".into()
                } else {
                    format!("started {}", self.names(&back))
                }
            }
            FaultSpec::NetworkPartition { .. } => {
                for &n in &a.nodes {
                    self.node_up(n, false);
                }
                format!("reconnected {}", self.names(&a.nodes))
            }
            FaultSpec::SpotInterruption { .. } | FaultSpec::PodKill { .. } => "nothing to undo".into(),
        };
        self.emit(Event::FaultHealed { fault: id.to_string(), target });
    }

    /// Heals every active fault (end of scenario, even after a failure).
    pub(crate) fn heal_all(&mut self) {
        while let Some(a) = self.faults.active.last() {
            let id = a.id.clone();
            self.heal(&id);
        }
    }

    pub(crate) fn spot_terminate(&mut self, nodes: &[usize]) {
        for &n in nodes {
            self.delete_node(n, "spot instance terminated");
        }
    }

    pub(crate) fn dns_config(&mut self, broken: bool, epoch: u32) {
        if self.faults.dns_epoch == epoch {
            self.dns_config_ok = !broken;
        }
    }

    fn names(&self, nodes: &[usize]) -> String {
        if nodes.is_empty() {
            return "no node".into();
        }
        nodes.iter().map(|n| self.nodes[*n].name.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// A named node, or the first `count` live nodes of a group by name.
    fn pick_nodes(&self, t: &NodeTarget) -> Vec<usize> {
        match t {
            NodeTarget::Named(name) => self.nodes.iter().position(|n| &n.name == name && !n.gone).into_iter().collect(),
            NodeTarget::Group { group, count } => {
                let g = self.plan.topology.groups.iter().position(|x| &x.name == group);
                let mut live: Vec<usize> = (0..self.nodes.len())
                    .filter(|i| Some(self.nodes[*i].group as usize) == g && !self.nodes[*i].gone && self.node_reachable(*i))
                    .collect();
                live.sort_by(|a, b| natural(&self.nodes[*a].name).cmp(&natural(&self.nodes[*b].name)));
                live.truncate(count.map_or(usize::MAX, |c| c as usize));
                live
            }
        }
    }

    fn select_pods(&self, t: &PodTarget, count: Option<u32>) -> Vec<PodId> {
        let mut out: Vec<(String, PodId)> = self
            .pods
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.as_deref().map(|p| (PodId(i as u32), p)))
            .filter(|(_, p)| p.deleting.is_none() && !matches!(p.phase, Phase::Succeeded | Phase::Failed))
            .filter(|(_, p)| match (t, p.owner) {
                (PodTarget::DriverOf(sel), Owner::Driver { app, .. }) => sel.matches(&self.apps[app.0 as usize].key),
                (PodTarget::ExecutorsOf(sel), Owner::Executor { app, .. }) => sel.matches(&self.apps[app.0 as usize].key),
                (PodTarget::Selector(want), owner) => {
                    let labels = self.pod_labels(owner, &p.key);
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
}

/// Sort key that puts `group-2` before `group-10`.
fn natural(name: &str) -> (String, u64) {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (head, tail) = name.split_at(name.len() - digits);
    (head.to_string(), tail.parse().unwrap_or(0))
}
