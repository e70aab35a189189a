//! The fault catalog: named chaos actions, each with an inject and a heal, addressable from
//! scenarios (`inject: coredns-down`, `inject: {fault: node-loss, nodegroup: x, count: 2}`,
//! `heal: <id>`). Every backend implements the same catalog; every injected fault is healed when
//! the scenario ends.

use std::fmt;

use serde::Serialize;

use crate::kube::Labels;
use crate::scenario::AppSel;
use crate::time::Dur;

/// A fault kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// CoreDNS scaled to zero.
    CorednsDown,
    /// CoreDNS running but its Corefile broken.
    CorednsMisconfig,
    /// Spark Operator controller scaled to zero.
    OperatorDown,
    /// Spark Operator webhook scaled to zero.
    WebhookDown,
    /// Nodes stop (kubelet and containers gone, Node object kept).
    NodeLoss,
    /// Spot interruption: notice, drain, instance terminated.
    SpotInterruption,
    /// Pods deleted.
    PodKill,
    /// MinIO unavailable.
    MinioOutage,
    /// The private registry unavailable.
    RegistryOutage,
    /// Nodes cut off the network while still running.
    NetworkPartition,
}

/// One catalog entry.
pub struct CatalogEntry {
    /// Scenario name.
    pub name: &'static str,
    /// Kind.
    pub kind: FaultKind,
    /// What inject and heal do, in one line.
    pub summary: &'static str,
    /// Parameters.
    pub params: &'static str,
}

/// The catalog, in the order `sparkrig faults` prints it.
pub const CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        name: "coredns-down",
        kind: FaultKind::CorednsDown,
        summary: "scale CoreDNS to 0 (heal: restore the replica count); service names stop resolving",
        params: "",
    },
    CatalogEntry {
        name: "coredns-misconfig",
        kind: FaultKind::CorednsMisconfig,
        summary: "break the Corefile so cluster names fail while CoreDNS runs (heal: restore it); each change takes the reload interval",
        params: "",
    },
    CatalogEntry {
        name: "operator-down",
        kind: FaultKind::OperatorDown,
        summary: "scale the Spark Operator controller to 0 (heal: restore; a new leader waits out the 15s lease)",
        params: "",
    },
    CatalogEntry {
        name: "webhook-down",
        kind: FaultKind::WebhookDown,
        summary: "scale the operator's webhook to 0 (heal: restore); Fail rejects apps and Spark pods, Ignore drops their placement",
        params: "",
    },
    CatalogEntry {
        name: "node-loss",
        kind: FaultKind::NodeLoss,
        summary: "stop nodes: kubelet and containers gone, NotReady after the grace period, evictions stay Terminating (heal: the nodes come back)",
        params: "node: NAME | nodegroup: GROUP [count: N]; deleteAfter: DURATION deletes the Node objects",
    },
    CatalogEntry {
        name: "spot-interruption",
        kind: FaultKind::SpotInterruption,
        summary: "interruption notice, cordon and drain, then the instances terminate and their Node objects go (heal: nothing to undo)",
        params: "nodegroup: GROUP [count: N] [notice: 2m] [drain: true]",
    },
    CatalogEntry {
        name: "pod-kill",
        kind: FaultKind::PodKill,
        summary: "delete pods: an app's driver, its executors, or pods matching labels (heal: nothing to undo)",
        params: "driverOf: APPS | executorsOf: APPS | selector: {label: value}; [count: N] [force: true]",
    },
    CatalogEntry {
        name: "minio-outage",
        kind: FaultKind::MinioOutage,
        summary: "MinIO unavailable: S3 reads, writes and event logs fail (heal: restore)",
        params: "",
    },
    CatalogEntry {
        name: "registry-outage",
        kind: FaultKind::RegistryOutage,
        summary: "the private registry unavailable: image pulls fail with ErrImagePull / ImagePullBackOff (heal: restore)",
        params: "",
    },
    CatalogEntry {
        name: "network-partition",
        kind: FaultKind::NetworkPartition,
        summary: "cut nodes off the network while they keep running: NotReady, unreachable pods (heal: reconnect)",
        params: "node: NAME | nodegroup: GROUP [count: N]",
    },
];

impl FaultKind {
    /// The catalog entry.
    pub fn entry(self) -> &'static CatalogEntry {
        CATALOG.iter().find(|e| e.kind == self).expect("every kind is in the catalog")
    }

    /// Scenario name.
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// From a scenario name.
    pub fn parse(name: &str) -> Option<FaultKind> {
        CATALOG.iter().find(|e| e.name == name).map(|e| e.kind)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which nodes a node fault hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeTarget {
    /// One node by name.
    Named(String),
    /// The first `count` live nodes of a group (by name), or all of them.
    Group {
        /// Group.
        group: String,
        /// How many (`None` = all).
        count: Option<u32>,
    },
}

/// Which pods a pod fault hits.
#[derive(Debug, Clone, PartialEq)]
pub enum PodTarget {
    /// The drivers of these apps.
    DriverOf(AppSel),
    /// The executors of these apps.
    ExecutorsOf(AppSel),
    /// Pods whose labels include all of these.
    Selector(Labels),
}

/// A fault with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultSpec {
    /// A platform component fault without parameters.
    Component(FaultKind),
    /// node-loss.
    NodeLoss {
        /// Nodes.
        nodes: NodeTarget,
        /// Delete the Node objects this long after the loss.
        delete_after: Option<Dur>,
    },
    /// network-partition.
    NetworkPartition {
        /// Nodes.
        nodes: NodeTarget,
    },
    /// spot-interruption.
    SpotInterruption {
        /// Nodes.
        nodes: NodeTarget,
        /// Time between the notice and termination.
        notice: Dur,
        /// Cordon and drain at the notice (a node termination handler).
        drain: bool,
    },
    /// pod-kill.
    PodKill {
        /// Pods.
        pods: PodTarget,
        /// At most this many.
        count: Option<u32>,
        /// Grace period 0 (the object goes at once, even on a dead node).
        force: bool,
    },
}

impl FaultSpec {
    /// The kind.
    pub fn kind(&self) -> FaultKind {
        match self {
            FaultSpec::Component(k) => *k,
            FaultSpec::NodeLoss { .. } => FaultKind::NodeLoss,
            FaultSpec::NetworkPartition { .. } => FaultKind::NetworkPartition,
            FaultSpec::SpotInterruption { .. } => FaultKind::SpotInterruption,
            FaultSpec::PodKill { .. } => FaultKind::PodKill,
        }
    }

    /// What it targets, in words (trace `target`).
    pub fn target(&self) -> String {
        let nodes = |t: &NodeTarget| match t {
            NodeTarget::Named(n) => format!("node {n}"),
            NodeTarget::Group { group, count: Some(c) } => format!("{c} node(s) of {group}"),
            NodeTarget::Group { group, count: None } => format!("all nodes of {group}"),
        };
        match self {
            FaultSpec::Component(k) => match k {
                FaultKind::CorednsDown | FaultKind::CorednsMisconfig => "kube-system/coredns".into(),
                FaultKind::OperatorDown => "spark-operator/spark-operator-controller".into(),
                FaultKind::WebhookDown => "spark-operator/spark-operator-webhook".into(),
                FaultKind::MinioOutage => "minio".into(),
                FaultKind::RegistryOutage => "registry".into(),
                _ => k.name().into(),
            },
            FaultSpec::NodeLoss { nodes: t, .. }
            | FaultSpec::NetworkPartition { nodes: t }
            | FaultSpec::SpotInterruption { nodes: t, .. } => nodes(t),
            FaultSpec::PodKill { pods, count, .. } => {
                let what = match pods {
                    PodTarget::DriverOf(a) => format!("driver of {a}"),
                    PodTarget::ExecutorsOf(a) => format!("executors of {a}"),
                    PodTarget::Selector(l) => format!("pods {}", l.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")),
                };
                match count {
                    Some(c) => format!("{what} (up to {c})"),
                    None => what,
                }
            }
        }
    }
}

/// A fault as a scenario step injects it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Id used by `heal` (default: the fault's name).
    pub id: String,
    /// What.
    pub spec: FaultSpec,
}

/// Default spot interruption notice: AWS EC2 gives two minutes.
pub const DEFAULT_SPOT_NOTICE: Dur = Dur::secs(120);
