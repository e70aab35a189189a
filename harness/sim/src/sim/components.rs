//! Platform components as Deployments: CoreDNS, the Spark Operator controller and webhook,
//! MinIO, the registry and the History Server, each placed as the scenario's stack says. The
//! Deployment controller keeps `replicas` live pods; a component serves while at least one of
//! its pods runs on a Ready node.

use std::sync::Arc;

use sparkrig_model::scenario::{Component, Placement};

use super::{Owner, Phase, PodId, Simulation};
use crate::cluster::SchedSpec;

/// Which component a Deployment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    CoreDns,
    Controller,
    Webhook,
    Minio,
    Registry,
    HistoryServer,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::CoreDns => "coredns",
            Kind::Controller => "spark-operator-controller",
            Kind::Webhook => "spark-operator-webhook",
            Kind::Minio => "minio",
            Kind::Registry => "registry",
            Kind::HistoryServer => "spark-history-server",
        }
    }

    fn namespace(self) -> &'static str {
        match self {
            Kind::CoreDns => "kube-system",
            Kind::Controller | Kind::Webhook => "spark-operator",
            Kind::Minio => "minio",
            Kind::Registry => "registry",
            Kind::HistoryServer => "spark-history",
        }
    }

    /// Pinned images (what the real backends install).
    fn image(self) -> &'static str {
        match self {
            Kind::CoreDns => "registry.k8s.io/coredns/coredns:v1.12.0",
            Kind::Controller | Kind::Webhook => "ghcr.io/kubeflow/spark-operator/controller:2.5.2",
            Kind::Minio => "minio/minio:RELEASE.2025-02-28T09-55-16Z",
            Kind::Registry => "registry:3",
            Kind::HistoryServer => "apache/spark:3.5.6",
        }
    }

    /// Requests (chart defaults are empty; these are the upstream manifests' or modest ones).
    fn requests(self) -> (i64, i64) {
        const MI: i64 = 1 << 20;
        match self {
            // kubeadm's CoreDNS: 100m / 70Mi.
            Kind::CoreDns => (100, 70 * MI),
            Kind::Controller | Kind::Webhook => (100, 300 * MI),
            Kind::Minio => (250, 512 * MI),
            Kind::Registry => (100, 128 * MI),
            Kind::HistoryServer => (500, 1024 * MI),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Deployment {
    pub kind: Kind,
    pub replicas: u32,
    spec: Arc<SchedSpec>,
    placement: Placement,
    /// ReplicaSet template hash used in pod names.
    hash: String,
    pub pods: Vec<PodId>,
    /// Was serving at the last check (to detect transitions).
    pub serving: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Components {
    pub deployments: Vec<Deployment>,
}

impl Components {
    fn find(&self, kind: Kind) -> Option<usize> {
        self.deployments.iter().position(|d| d.kind == kind)
    }
}

const ALPHANUM: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

impl Simulation {
    pub(crate) fn bootstrap_components(&mut self) {
        let stack = self.plan.stack.clone();
        let op = &stack.operator;
        let mut wanted: Vec<(Kind, Component)> = vec![(Kind::CoreDns, stack.coredns.clone())];
        wanted.push((Kind::Controller, Component { enabled: true, replicas: op.replicas, placement: op.placement.clone() }));
        if op.webhook_enabled {
            wanted.push((Kind::Webhook, Component { enabled: true, replicas: op.webhook_replicas, placement: op.placement.clone() }));
        }
        wanted.push((Kind::Minio, stack.minio.clone()));
        wanted.push((Kind::Registry, stack.registry.clone()));
        wanted.push((Kind::HistoryServer, stack.history_server.clone()));
        for (kind, c) in wanted.into_iter().filter(|(_, c)| c.enabled) {
            let (cpu, mem) = kind.requests();
            let spec = SchedSpec {
                tolerations: Simulation::with_default_tolerations(c.placement.tolerations.clone()),
                ..SchedSpec::with_requests(cpu, mem)
            };
            let spec = Arc::new(SchedSpec {
                node_selector: c.placement.node_selector.iter().map(|(k, v)| (self.interner.intern(k), self.interner.intern(v))).collect(),
                ..spec
            });
            let hash = self.random_name(10);
            self.components.deployments.push(Deployment {
                kind,
                replicas: c.replicas,
                spec,
                placement: c.placement,
                hash,
                pods: Vec::new(),
                serving: false,
            });
            let idx = self.components.deployments.len() - 1;
            self.reconcile_deployment(idx);
        }
    }

    fn random_name(&mut self, n: usize) -> String {
        let bytes: [u8; 16] = self.random_bytes();
        bytes.iter().take(n).map(|b| ALPHANUM[*b as usize % ALPHANUM.len()] as char).collect()
    }

    /// The Deployment/ReplicaSet controllers: replace pods that are gone, failed or deleting.
    pub(crate) fn reconcile_deployment(&mut self, idx: usize) {
        let live: Vec<PodId> = self.components.deployments[idx]
            .pods
            .iter()
            .copied()
            .filter(|id| self.pod(*id).is_some_and(|p| p.deleting.is_none() && !matches!(p.phase, Phase::Succeeded | Phase::Failed)))
            .collect();
        let d = &self.components.deployments[idx];
        let missing = d.replicas.saturating_sub(live.len() as u32);
        let (kind, spec, hash, selector) = (d.kind, d.spec.clone(), d.hash.clone(), d.placement.node_selector.clone());
        let mut pods: Vec<PodId> = self.components.deployments[idx].pods.iter().copied().filter(|id| self.pod(*id).is_some()).collect();
        for _ in 0..missing {
            let suffix = self.random_name(5);
            let key = format!("{}/{}-{hash}-{suffix}", kind.namespace(), kind.name());
            let id = self.create_pod(
                key,
                Owner::Component(idx),
                spec.clone(),
                kind.image(),
                false,
                None,
                None,
                Some(kind.name().into()),
                selector.clone(),
            );
            pods.push(id);
        }
        self.components.deployments[idx].pods = pods;
    }

    /// A component pod changed: keep the replica count and track availability.
    pub(crate) fn component_pod_changed(&mut self, idx: usize) {
        self.reconcile_deployment(idx);
        let serving = self.deployment_serving(idx);
        let d = &mut self.components.deployments[idx];
        let was = std::mem::replace(&mut d.serving, serving);
        if was != serving && d.kind == Kind::Controller && serving {
            self.operator_elected();
        }
    }

    fn deployment_serving(&self, idx: usize) -> bool {
        self.components.deployments[idx].pods.iter().any(|id| {
            self.pod(*id).is_some_and(|p| {
                p.phase == Phase::Running
                    && p.deleting.is_none()
                    && p.node.is_some_and(|n| self.node_rt[n].kubelet_up && self.node_rt[n].ready)
            })
        })
    }

    fn serving(&self, kind: Kind) -> Option<bool> {
        self.components.find(kind).map(|i| self.deployment_serving(i))
    }

    /// Name resolution works: a CoreDNS pod serves.
    pub(crate) fn dns_serving(&self) -> bool {
        self.serving(Kind::CoreDns).unwrap_or(false)
    }

    /// Spark images can be pulled (always, when no private registry is deployed).
    pub(crate) fn registry_serving(&self) -> bool {
        self.serving(Kind::Registry).unwrap_or(true)
    }

    /// The operator's mutating webhook answers.
    pub(crate) fn webhook_serving(&self) -> bool {
        self.serving(Kind::Webhook).unwrap_or(false)
    }

    /// The operator controller has a running leader.
    pub(crate) fn controller_serving(&self) -> bool {
        self.serving(Kind::Controller).unwrap_or(false)
    }
}
