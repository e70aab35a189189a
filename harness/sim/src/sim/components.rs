//! Platform components as Deployments: CoreDNS, the Spark Operator controller and webhook,
//! MinIO, the registry and the History Server, each placed as the scenario's stack says. The
//! Deployment controller keeps `replicas` live pods; a component serves while at least one of
//! its pods runs, reachable, on a Ready node. The controller additionally needs the leader
//! election Lease (see [`super::operator`]).

use std::sync::Arc;

use sparkrig_model::kube::Labels;
use sparkrig_model::scenario::{Component, Placement};
use sparkrig_model::time::Dur;

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
    pub(crate) fn name(self) -> &'static str {
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

    /// Pod labels, as the upstream manifests set them (kubeadm's CoreDNS, the operator chart).
    pub(crate) fn labels(self) -> Labels {
        let pairs: &[(&str, &str)] = match self {
            Kind::CoreDns => &[("k8s-app", "kube-dns")],
            Kind::Controller => &[("app.kubernetes.io/name", "spark-operator"), ("app.kubernetes.io/component", "controller")],
            Kind::Webhook => &[("app.kubernetes.io/name", "spark-operator"), ("app.kubernetes.io/component", "webhook")],
            Kind::Minio => &[("app", "minio")],
            Kind::Registry => &[("app", "registry")],
            Kind::HistoryServer => &[("app.kubernetes.io/name", "spark-history-server")],
        };
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
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
}

#[derive(Debug, Default)]
pub(crate) struct Components {
    pub deployments: Vec<Deployment>,
}

impl Components {
    pub(crate) fn find(&self, kind: Kind) -> Option<usize> {
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
            let node_selector = c.placement.node_selector.iter().map(|(k, v)| (self.interner.intern(k), self.interner.intern(v))).collect();
            let spec = Arc::new(SchedSpec {
                tolerations: Simulation::with_default_tolerations(c.placement.tolerations.clone()),
                node_selector,
                ..SchedSpec::with_requests(cpu, mem)
            });
            let hash = self.random_name(10);
            self.components.deployments.push(Deployment {
                kind,
                replicas: c.replicas,
                spec,
                placement: c.placement,
                hash,
                pods: Vec::new(),
            });
            let idx = self.components.deployments.len() - 1;
            self.reconcile_deployment(idx);
        }
    }

    fn random_name(&mut self, n: usize) -> String {
        let bytes: [u8; 16] = self.random_bytes();
        bytes.iter().take(n).map(|b| ALPHANUM[*b as usize % ALPHANUM.len()] as char).collect()
    }

    /// Sets a component's replica count; returns the previous one (None if not deployed).
    pub(crate) fn scale_component(&mut self, kind: Kind, replicas: u32) -> Option<u32> {
        let idx = self.components.find(kind)?;
        let prev = std::mem::replace(&mut self.components.deployments[idx].replicas, replicas);
        self.reconcile_deployment(idx);
        self.component_pod_changed(idx);
        Some(prev)
    }

    /// The Deployment/ReplicaSet controllers: create pods up to `replicas` (replacing deleted
    /// or failed ones), delete the newest beyond it.
    pub(crate) fn reconcile_deployment(&mut self, idx: usize) {
        let live: Vec<PodId> = self.components.deployments[idx]
            .pods
            .iter()
            .copied()
            .filter(|id| self.pod(*id).is_some_and(|p| p.deleting.is_none() && !matches!(p.phase, Phase::Succeeded | Phase::Failed)))
            .collect();
        let d = &self.components.deployments[idx];
        let replicas = d.replicas as usize;
        let (kind, spec, hash, selector) = (d.kind, d.spec.clone(), d.hash.clone(), d.placement.node_selector.clone());
        for extra in live.iter().skip(replicas).rev() {
            self.delete_pod(*extra, "scaled down");
        }
        let mut pods: Vec<PodId> = self.components.deployments[idx].pods.iter().copied().filter(|id| self.pod(*id).is_some()).collect();
        for _ in live.len()..replicas {
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

    /// A component container started: check what it needs at start-up.
    pub(crate) fn component_started(&mut self, idx: usize, id: PodId) {
        if self.components.deployments[idx].kind == Kind::HistoryServer && !(self.minio_serving() && self.dns_serving()) {
            // FsHistoryProvider cannot list s3a://spark-logs/: the server exits and the kubelet
            // restarts it with backoff.
            self.exit_after(
                id,
                Dur::secs(2),
                1,
                "Error",
                "java.io.FileNotFoundException: s3a://spark-logs/events: MinIO unreachable".into(),
            );
        }
        self.component_pod_changed(idx);
    }

    /// A component pod changed: keep the replica count and re-evaluate leadership.
    pub(crate) fn component_pod_changed(&mut self, idx: usize) {
        self.reconcile_deployment(idx);
        if self.components.deployments[idx].kind == Kind::Controller {
            self.lease_changed();
        }
    }

    /// A pod of a Deployment serves: running, not deleting, its node reachable and Ready.
    pub(crate) fn pod_serving(&self, id: PodId) -> bool {
        self.pod(id).is_some_and(|p| {
            p.phase == Phase::Running && p.deleting.is_none() && p.node.is_some_and(|n| self.node_reachable(n) && self.node_rt[n].ready)
        })
    }

    pub(crate) fn component_pods(&self, kind: Kind) -> Vec<PodId> {
        self.components.find(kind).map(|i| self.components.deployments[i].pods.clone()).unwrap_or_default()
    }

    fn serving(&self, kind: Kind) -> Option<bool> {
        self.components.find(kind).map(|i| self.components.deployments[i].pods.iter().any(|id| self.pod_serving(*id)))
    }

    /// Cluster names resolve: a CoreDNS pod serves with a good Corefile.
    pub(crate) fn dns_serving(&self) -> bool {
        self.dns_config_ok && self.serving(Kind::CoreDns).unwrap_or(false)
    }

    /// Spark images can be pulled (always, when no private registry is deployed).
    pub(crate) fn registry_serving(&self) -> bool {
        self.serving(Kind::Registry).unwrap_or(true)
    }

    /// S3 answers (MinIO serves and its name resolves).
    pub(crate) fn minio_serving(&self) -> bool {
        self.serving(Kind::Minio).unwrap_or(false)
    }

    /// The operator's mutating webhook answers (it serves on every replica).
    pub(crate) fn webhook_serving(&self) -> bool {
        self.serving(Kind::Webhook).unwrap_or(false)
    }

    /// Labels of a pod: Spark pods are derived as the operator and Spark build them; platform
    /// pods carry their manifests' labels.
    pub(crate) fn pod_labels(&self, owner: Owner, _key: &str) -> Labels {
        match owner {
            Owner::Component(c) => self.components.deployments[c].kind.labels(),
            Owner::Driver { app, run } => self.spark_pod_labels(app, run, None),
            Owner::Executor { app, run, exec } => self.spark_pod_labels(app, run, Some(exec)),
        }
    }
}
