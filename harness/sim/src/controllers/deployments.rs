//! The Deployment and ReplicaSet controllers for the platform components — CoreDNS, the Spark
//! Operator controller and webhook, MinIO, the registry and the History Server — each placed
//! as the scenario's stack says. A Deployment keeps `replicas` live pods (replacing deleted or
//! failed ones, deleting the newest beyond the count); a component serves while at least one of
//! its pods runs, reachable, on a Ready node ([`crate::store::Store::dns_serving`] and friends).
//! A new pod template ([`Deployments::roll`], a chart upgrade) is rolled out with the
//! RollingUpdate strategy the chart leaves at Kubernetes' defaults (maxSurge 25 % rounded up,
//! maxUnavailable 25 % rounded down: 1 and 0 for one replica, so a new pod is Ready before the
//! old one goes), as the deployment controller's `rolling.go` does: scale the new ReplicaSet up
//! within `replicas + maxSurge`, scale old ones down while `replicas − maxUnavailable` pods stay
//! available, not-ready old pods first. A pod is available once it serves (its readiness probe
//! passes when its process is up; `minReadySeconds` 0).
//!
//! Inputs: [`Deployments::bootstrap`], [`Deployments::pod_changed`],
//! [`Deployments::component_started`], [`Deployments::scaled`], [`Deployments::roll`]. No
//! timers of its own. Outputs: pods through the API, [`Signal::ControllerPodsChanged`] for the
//! operator's leader election and [`Signal::PlatformChanged`] for upgrades.

use std::sync::Arc;

use sparkrig_model::scenario::Component;
use sparkrig_model::tenancy::CpuMem;
use sparkrig_model::time::Dur;

use crate::api::{Cx, Signal};
use crate::cluster::SchedSpec;
use crate::store::{Deployment, Kind, LabelSource, NewPod, Owner, PodId};

/// Deployments have no timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {}

impl From<Ev> for crate::api::Ev {
    fn from(e: Ev) -> Self {
        match e {}
    }
}

/// The Deployment controller (its state is the Deployments in the store).
#[derive(Debug, Default)]
pub struct Deployments;

impl crate::api::Controller for Deployments {
    type Ev = Ev;
}

const ALPHANUM: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn random_name(cx: &mut impl Cx<Deployments>, n: usize) -> String {
    let bytes: [u8; 16] = cx.random_bytes();
    bytes.iter().take(n).map(|b| ALPHANUM[*b as usize % ALPHANUM.len()] as char).collect()
}

impl Deployments {
    /// Creates the stack's Deployments at t=0.
    pub fn bootstrap(cx: &mut impl Cx<Deployments>) {
        let stack = cx.plan().stack.clone();
        let op = &stack.operator;
        let mut wanted: Vec<(Kind, Component)> = vec![(Kind::CoreDns, stack.coredns.clone())];
        wanted.push((
            Kind::Controller,
            Component { enabled: true, replicas: op.replicas, placement: op.placement.clone(), priority_class: op.priority_class.clone() },
        ));
        if op.webhook_enabled {
            wanted.push((
                Kind::Webhook,
                Component {
                    enabled: true,
                    replicas: op.webhook_replicas,
                    placement: op.placement.clone(),
                    priority_class: op.priority_class.clone(),
                },
            ));
        }
        wanted.push((Kind::Minio, stack.minio.clone()));
        wanted.push((Kind::Registry, stack.registry.clone()));
        wanted.push((Kind::HistoryServer, stack.history_server.clone()));
        for (kind, c) in wanted.into_iter().filter(|(_, c)| c.enabled) {
            let (cpu, mem) = kind.requests();
            let store = cx.store_mut();
            let node_selector =
                c.placement.node_selector.iter().map(|(k, v)| (store.interner.intern(k), store.interner.intern(v))).collect();
            let (priority, preempt) = super::shapes::priority_of(&cx.plan().stack.tenancy, c.priority_class.as_deref());
            let spec = Arc::new(SchedSpec {
                tolerations: crate::world::with_default_tolerations(c.placement.tolerations.clone()),
                node_selector,
                priority,
                preempt,
                ..SchedSpec::with_requests(cpu, mem)
            });
            let hash = random_name(cx, 10);
            let deployments = &mut cx.store_mut().deployments;
            deployments.push(Deployment {
                kind,
                replicas: c.replicas,
                spec,
                placement: c.placement,
                hash,
                pods: Vec::new(),
                priority_class: c.priority_class,
                image: kind.image().to_string(),
                revision: 1,
                old: Default::default(),
                public_image: false,
            });
            let idx = deployments.len() - 1;
            Self::reconcile(cx, idx);
        }
    }

    /// `spec.replicas` changed.
    pub fn scaled(cx: &mut impl Cx<Deployments>, idx: usize) {
        Self::reconcile(cx, idx);
        Self::pod_changed(cx, idx);
    }

    /// A new pod template (image) for the Deployment: a new revision, rolled out over the old
    /// pods. Returns (maxSurge, maxUnavailable) as resolved for its replicas.
    pub fn roll(cx: &mut impl Cx<Deployments>, idx: usize, image: String) -> (u32, u32) {
        let hash = random_name(cx, 10);
        let d = &mut cx.store_mut().deployments[idx];
        d.public_image = image != d.kind.image();
        d.image = image;
        d.hash = hash;
        d.revision += 1;
        d.old = d.pods.iter().copied().collect();
        let posts = d.fenceposts();
        Self::reconcile(cx, idx);
        Self::pod_changed(cx, idx);
        posts
    }

    /// Whether the Deployment's latest revision is rolled out: no pod of an older revision left,
    /// `replicas` pods of the new one available.
    pub fn rolled_out(store: &crate::store::Store, idx: usize) -> bool {
        let d = &store.deployments[idx];
        let old_left = d.old.iter().any(|id| store.pod(*id).is_some());
        let ready = d.pods.iter().filter(|id| !d.old.contains(id) && store.pod_serving(**id)).count();
        !old_left && ready >= d.replicas as usize
    }

    /// Creates one pod of the current revision, through LimitRanger, Priority and ResourceQuota
    /// admission. A refusal: the ReplicaSet controller records FailedCreate and tries again; here
    /// the next change of the Deployment's pods does (not modelled further).
    fn create(cx: &mut impl Cx<Deployments>, idx: usize) -> Option<PodId> {
        let d = &cx.store().deployments[idx];
        let (kind, spec, hash, selector, image, public_image, class) = (
            d.kind,
            d.spec.clone(),
            d.hash.clone(),
            d.placement.node_selector.clone(),
            d.image.clone(),
            d.public_image,
            d.priority_class.clone(),
        );
        let suffix = random_name(cx, 5);
        let name = format!("{}-{hash}-{suffix}", kind.name());
        let (cpu, mem) = kind.requests();
        let create = crate::admission::PodCreate {
            name: &name,
            namespace: kind.namespace(),
            container: kind.name(),
            requests: CpuMem { cpu: Some(cpu), memory: Some(mem) },
            limits: CpuMem::default(),
            priority_class: class.as_deref(),
        };
        let admitted = cx.admit_pod(&create).ok()?;
        let id = cx.create_pod(NewPod {
            key: format!("{}/{name}", kind.namespace()),
            owner: Owner::Component(idx),
            labels: LabelSource::Component(kind),
            spec,
            image,
            from_registry: false,
            public_image,
            app: None,
            role: None,
            component: Some(kind.name().into()),
            node_selector: selector,
            admitted: Some(admitted),
        });
        cx.store_mut().deployments[idx].pods.push(id);
        Some(id)
    }

    /// Create pods up to `replicas` (replacing deleted or failed ones), delete the newest beyond
    /// it; during a rolling update, replace old pods within maxSurge and maxUnavailable.
    fn reconcile(cx: &mut impl Cx<Deployments>, idx: usize) {
        {
            let store = cx.store_mut();
            let alive: Vec<PodId> = store.deployments[idx].pods.iter().copied().filter(|id| store.pod(*id).is_some()).collect();
            let d = &mut store.deployments[idx];
            d.old.retain(|id| alive.contains(id));
            d.pods = alive;
        }
        if !cx.store().deployments[idx].old.is_empty() {
            Self::rolling_update(cx, idx);
            return;
        }
        let store = cx.store();
        let d = &store.deployments[idx];
        let live: Vec<PodId> =
            d.pods.iter().copied().filter(|id| store.pod(*id).is_some_and(|p| p.deleting.is_none() && !p.phase.is_terminal())).collect();
        let replicas = d.replicas as usize;
        for extra in live.iter().skip(replicas).rev() {
            cx.delete_pod(*extra, "scaled down");
        }
        for _ in live.len()..replicas {
            Self::create(cx, idx);
        }
    }

    /// One sync of `rolling.go` (repeated until nothing changes): `reconcileNewReplicaSet`, then
    /// `reconcileOldReplicaSets` (unhealthy old pods first, then available ones while enough
    /// stay available).
    fn rolling_update(cx: &mut impl Cx<Deployments>, idx: usize) {
        loop {
            let store = cx.store();
            let d = &store.deployments[idx];
            let live = |id: &PodId| store.pod(*id).is_some_and(|p| p.deleting.is_none() && !p.phase.is_terminal());
            let new: Vec<PodId> = d.pods.iter().copied().filter(|id| !d.old.contains(id) && live(id)).collect();
            let mut old: Vec<PodId> = d.old.iter().copied().filter(live).collect();
            let (surge, unavailable) = d.fenceposts();
            let replicas = d.replicas as usize;
            let new_ready = new.iter().filter(|id| store.pod_serving(**id)).count();
            let total = new.len() + old.len();
            if new.len() < replicas && total < replicas + surge as usize {
                Self::create(cx, idx);
                continue;
            }
            let min_available = replicas.saturating_sub(unavailable as usize);
            let new_unavailable = new.len() - new_ready;
            let max_down = total as i64 - min_available as i64 - new_unavailable as i64;
            if old.is_empty() || max_down <= 0 {
                break;
            }
            // Not-ready old pods first; among ready ones the newest (the ReplicaSet's ranking).
            old.sort_by_key(|id| (store.pod_serving(*id), std::cmp::Reverse(store.pod(*id).and_then(|p| p.started))));
            let victim = old[0];
            let available = new_ready + old.iter().filter(|id| store.pod_serving(**id)).count();
            if store.pod_serving(victim) && available <= min_available {
                break;
            }
            cx.delete_pod(victim, "deleted by the rolling update (old ReplicaSet scaled down)");
        }
    }

    /// A component container started: check what it needs at start-up.
    pub fn component_started(cx: &mut impl Cx<Deployments>, id: PodId) {
        let Some(crate::store::Owner::Component(idx)) = cx.store().pod(id).map(|p| p.owner) else { return };
        let store = cx.store();
        if store.deployments[idx].kind == Kind::HistoryServer && !(store.minio_serving() && store.dns_serving()) {
            // FsHistoryProvider cannot list s3a://spark-logs/: the server exits and the kubelet
            // restarts it with backoff.
            cx.exit_container(
                id,
                Dur::secs(2),
                1,
                "Error",
                "java.io.FileNotFoundException: s3a://spark-logs/events: MinIO unreachable".into(),
            );
        }
        Self::pod_changed(cx, idx);
    }

    /// A component's pod changed: keep the replica count and re-evaluate leadership.
    pub fn pod_changed(cx: &mut impl Cx<Deployments>, idx: usize) {
        Self::reconcile(cx, idx);
        if cx.store().deployments[idx].kind == Kind::Controller {
            cx.signal(Signal::ControllerPodsChanged);
        }
        cx.signal(Signal::PlatformChanged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Api;
    use crate::store::Phase;
    use crate::testing::{Fake, nodes, run_on, scenario};

    #[test]
    fn bootstrap_creates_every_enabled_component_with_its_replicas_and_upstream_names() {
        let plan = scenario("smoke.yaml");
        let mut f = Fake::new(Deployments, &plan);
        Deployments::bootstrap(&mut f);
        let kinds: Vec<(Kind, usize)> = f.store.deployments.iter().map(|d| (d.kind, d.pods.len())).collect();
        assert_eq!(
            kinds,
            [
                (Kind::CoreDns, 2),
                (Kind::Controller, 1),
                (Kind::Webhook, 1),
                (Kind::Minio, 1),
                (Kind::Registry, 1),
                (Kind::HistoryServer, 1)
            ]
        );
        let coredns = f.store.pod(f.store.deployments[0].pods[0]).unwrap();
        // <deployment>-<10-char template hash>-<5-char suffix>, from the seeded RNG.
        let name = coredns.key.strip_prefix("kube-system/coredns-").expect("namespace and name");
        let (hash, suffix) = name.split_once('-').unwrap();
        assert_eq!((hash.len(), suffix.len()), (10, 5), "{name}");
        assert!(f.signals.iter().filter(|s| matches!(s, Signal::PodCreated(_))).count() == 7);
    }

    #[test]
    fn scaling_to_zero_deletes_every_pod_and_back_replaces_them() {
        let plan = scenario("smoke.yaml");
        let mut f = Fake::new(Deployments, &plan);
        let n = nodes(&mut f, "infra", 1)[0];
        Deployments::bootstrap(&mut f);
        let old = f.store.deployments[0].pods.clone();
        for id in &old {
            run_on(&mut f, *id, n);
        }
        f.clear();
        let prev = f.scale(Kind::CoreDns, 0);
        assert_eq!(prev, Some(2));
        assert_eq!(f.signals, [Signal::DeploymentScaled(0)]);
        f.clear();
        Deployments::scaled(&mut f, 0);
        assert_eq!(f.trace().iter().filter(|t| t.starts_with("pod_terminating kube-system/coredns-")).count(), 2);
        assert!(old.iter().all(|id| f.store.pod(*id).unwrap().deleting.is_some()));
        // The deleted pods finish; scaling back creates two new ones.
        for id in &old {
            f.store.pod_mut(*id).unwrap().phase = Phase::Succeeded;
        }
        f.store.deployments[0].replicas = 2;
        f.clear();
        Deployments::scaled(&mut f, 0);
        assert_eq!(f.trace().iter().filter(|t| t.starts_with("pod_created kube-system/coredns-")).count(), 2);
    }

    #[test]
    fn a_controller_pod_change_reaches_leader_election_and_a_history_server_without_s3_crashes() {
        let plan = scenario("smoke.yaml");
        let mut f = Fake::new(Deployments, &plan);
        let n = nodes(&mut f, "infra", 1)[0];
        Deployments::bootstrap(&mut f);
        f.clear();
        Deployments::pod_changed(&mut f, 1);
        assert_eq!(f.signals, [Signal::ControllerPodsChanged, Signal::PlatformChanged]);
        let hs = f.store.deployments[5].pods[0];
        run_on(&mut f, hs, n);
        f.clear();
        Deployments::component_started(&mut f, hs);
        let [(at, _, crate::api::Ev::Kubelet(crate::controllers::kubelet::Ev::ContainerExit { code, message, .. }))] = f.armed.as_slice()
        else {
            panic!("{:?}", f.armed)
        };
        assert_eq!((at.as_ms(), *code), (2000, 1));
        assert!(message.contains("s3a://spark-logs/events: MinIO unreachable"));
    }

    #[test]
    fn a_new_template_with_one_replica_surges_first_and_deletes_the_old_pod_once_the_new_one_serves() {
        let plan = scenario("smoke.yaml");
        let mut f = Fake::new(Deployments, &plan);
        let n = nodes(&mut f, "infra", 1)[0];
        Deployments::bootstrap(&mut f);
        let webhook = f.store.deployment(Kind::Webhook).unwrap();
        let old = f.store.deployments[webhook].pods[0];
        run_on(&mut f, old, n);
        // One replica: maxSurge 25 % → 1, maxUnavailable 25 % → 0.
        assert_eq!(f.store.deployments[webhook].fenceposts(), (1, 0));
        f.clear();
        Deployments::roll(&mut f, webhook, Kind::Webhook.image_at("2.6.0"));
        let d = &f.store.deployments[webhook];
        assert_eq!((d.pods.len(), d.old.len(), d.revision), (2, 1, 2));
        let new = d.pods[1];
        let p = f.store.pod(new).unwrap();
        assert!(p.public_image, "a new version's image is pulled");
        assert!(f.store.pod(old).unwrap().deleting.is_none(), "the old pod serves until the new one does");
        run_on(&mut f, new, n);
        Deployments::pod_changed(&mut f, webhook);
        assert!(f.store.pod(old).unwrap().deleting.is_some(), "the new pod serves: the old one goes");
        assert!(f.store.pod_serving(new));
        assert!(!Deployments::rolled_out(&f.store, webhook), "the old pod is still terminating");
        f.store.pods[old.0 as usize] = None;
        Deployments::pod_changed(&mut f, webhook);
        assert!(Deployments::rolled_out(&f.store, webhook));
    }

    #[test]
    fn four_replicas_roll_one_surge_and_one_unavailable_at_a_time() {
        let plan = scenario("smoke.yaml");
        let mut f = Fake::new(Deployments, &plan);
        let n = nodes(&mut f, "infra", 1)[0];
        Deployments::bootstrap(&mut f);
        let c = f.store.deployment(Kind::CoreDns).unwrap();
        f.store.deployments[c].replicas = 4;
        Deployments::scaled(&mut f, c);
        for id in f.store.deployments[c].pods.clone() {
            run_on(&mut f, id, n);
        }
        // 25 % of 4: maxSurge 1, maxUnavailable 1.
        assert_eq!(f.store.deployments[c].fenceposts(), (1, 1));
        Deployments::roll(&mut f, c, Kind::CoreDns.image().into());
        let d = &f.store.deployments[c];
        let live = |f: &Fake<Deployments>| {
            let d = &f.store.deployments[c];
            let alive = |id: &PodId| f.store.pod(*id).is_some_and(|p| p.deleting.is_none());
            (d.pods.iter().filter(|id| !d.old.contains(id) && alive(id)).count(), d.old.iter().filter(|id| alive(id)).count())
        };
        // 5 pods at most (4 + surge 1), 3 available at least (4 − 1): two new pods created,
        // one old pod deleted at once.
        assert_eq!(live(&f), (2, 3), "{:?}", d.pods);
    }
}
