//! The fault catalog on a real cluster: each fault becomes an inject plan, plans that run later
//! (a spot node terminates when its notice runs out; lost nodes' objects are deleted after
//! `deleteAfter`) and a heal plan. Components are scaled through the API (the previous replica
//! count is recorded and restored), the Corefile is edited and put back, nodes, MinIO and the
//! registry are containers stopped, started or cut off the `kind` network
//! (reference/kind-testcontainers-kube-rs-chaos.md §1.7 and the appendix).

use std::time::Duration;

use sparkrig_model::faults::{FaultKind, FaultSpec, NodeTarget, PodTarget};
use sparkrig_model::scenario::AppSel;

use crate::error::{Error, Result};
use crate::plan::{Action, ContainerOp, Plan};
use crate::stack::{OPERATOR_NAMESPACE, OPERATOR_RELEASE, REGISTRY_CONTAINER};

/// What a fault plan needs to know about the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterFacts {
    /// The kind cluster (None on `--backend kube`: container faults are unavailable).
    pub kind_cluster: Option<String>,
    /// MinIO's container.
    pub minio_container: Option<String>,
    /// Live nodes with their group, sorted by name.
    pub nodes: Vec<(String, String)>,
    /// This run's apps (`namespace/name`), sorted: the only ones whose pods a pod-kill may hit.
    pub apps: Vec<String>,
}

/// A fault on the real cluster.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultPlan {
    /// Now.
    pub inject: Plan,
    /// After a delay from the injection (cancelled by an earlier heal).
    pub later: Vec<(Duration, Plan)>,
    /// Undo.
    pub heal: Plan,
}

/// The Corefile edit of `coredns-misconfig`: the `kubernetes` plugin stops serving
/// `cluster.local`, so Service names are forwarded upstream and fail, while CoreDNS keeps
/// running (its `reload` plugin applies the change).
pub const COREFILE_FIND: &str = "kubernetes cluster.local";
/// Replacement.
pub const COREFILE_REPLACE: &str = "kubernetes sparkrig-broken.invalid";

fn std(d: sparkrig_model::time::Dur) -> Duration {
    Duration::from_millis(d.as_ms())
}

fn scale(p: &mut Plan, h: &mut Plan, what: &str, ns: &str, name: &str) {
    p.push(
        format!("{what}: scale {ns}/{name} to 0"),
        Action::Scale { namespace: ns.into(), name: name.into(), replicas: 0, remember: true },
    );
    h.push(format!("heal {what}: restore {ns}/{name}'s replicas"), Action::RestoreScale { namespace: ns.into(), name: name.into() });
}

fn nodes(target: &NodeTarget, facts: &ClusterFacts) -> Result<Vec<String>> {
    let all = || facts.nodes.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
    match target {
        NodeTarget::Named(n) => {
            if facts.nodes.iter().any(|(x, _)| x == n) {
                Ok(vec![n.clone()])
            } else {
                Err(Error::Invalid(format!("node `{n}` is not in the cluster (nodes: {})", all())))
            }
        }
        NodeTarget::Group { group, count } => {
            let of: Vec<String> = facts.nodes.iter().filter(|(_, g)| g == group).map(|(n, _)| n.clone()).collect();
            if of.is_empty() {
                return Err(Error::Invalid(format!("no live node in nodegroup `{group}` (nodes: {})", all())));
            }
            Ok(of.into_iter().take(count.map_or(usize::MAX, |c| c as usize)).collect())
        }
    }
}

fn kind_only(facts: &ClusterFacts, fault: FaultKind) -> Result<()> {
    if facts.kind_cluster.is_none() {
        return Err(Error::Invalid(format!(
            "{} acts on containers (nodes, MinIO, the registry are Docker containers on kind); it needs --backend kind",
            fault.name()
        )));
    }
    Ok(())
}

/// The plans of one fault.
pub fn fault_plan(spec: &FaultSpec, facts: &ClusterFacts) -> Result<FaultPlan> {
    let mut fp = FaultPlan::default();
    let (p, h) = (&mut fp.inject, &mut fp.heal);
    let container = |p: &mut Plan, why: String, c: &str, op: ContainerOp| p.push(why, Action::Container { container: c.into(), op });
    match spec {
        FaultSpec::Component(k) => match k {
            FaultKind::CorednsDown => scale(p, h, "coredns-down", "kube-system", "coredns"),
            FaultKind::OperatorDown => scale(p, h, "operator-down", OPERATOR_NAMESPACE, &format!("{OPERATOR_RELEASE}-controller")),
            FaultKind::WebhookDown => scale(p, h, "webhook-down", OPERATOR_NAMESPACE, &format!("{OPERATOR_RELEASE}-webhook")),
            FaultKind::CorednsMisconfig => {
                p.push(
                    "coredns-misconfig: stop serving cluster.local in the Corefile (CoreDNS reloads it)",
                    Action::ReplaceConfigMapKey {
                        namespace: "kube-system".into(),
                        name: "coredns".into(),
                        key: "Corefile".into(),
                        find: COREFILE_FIND.into(),
                        replace: COREFILE_REPLACE.into(),
                    },
                );
                h.push(
                    "heal coredns-misconfig: put the Corefile back",
                    Action::RestoreConfigMapKey { namespace: "kube-system".into(), name: "coredns".into(), key: "Corefile".into() },
                );
            }
            FaultKind::MinioOutage => {
                kind_only(facts, *k)?;
                let c = facts
                    .minio_container
                    .clone()
                    .ok_or_else(|| Error::Invalid("minio-outage: MinIO is not deployed by this scenario's stack".into()))?;
                container(p, "minio-outage: stop MinIO (connections refused)".into(), &c, ContainerOp::Stop);
                container(h, "heal minio-outage: start MinIO".into(), &c, ContainerOp::Start);
            }
            FaultKind::RegistryOutage => {
                kind_only(facts, *k)?;
                container(p, "registry-outage: stop the local registry".into(), REGISTRY_CONTAINER, ContainerOp::Stop);
                container(h, "heal registry-outage: start the local registry".into(), REGISTRY_CONTAINER, ContainerOp::Start);
            }
            other => return Err(Error::Invalid(format!("{} needs parameters", other.name()))),
        },
        FaultSpec::NodeLoss { nodes: target, delete_after } => {
            kind_only(facts, FaultKind::NodeLoss)?;
            let ns = nodes(target, facts)?;
            let mut later = Plan::default();
            for n in &ns {
                container(p, format!("node-loss: stop {n} (kubelet and containers gone; kind does not restart it)"), n, ContainerOp::Stop);
                container(h, format!("heal node-loss: start {n} (it re-registers)"), n, ContainerOp::Start);
                later.push(format!("node-loss: delete the Node object {n}"), Action::DeleteNode { node: n.clone() });
            }
            if let Some(d) = delete_after {
                fp.later.push((std(*d), later));
            }
        }
        FaultSpec::NetworkPartition { nodes: target } => {
            kind_only(facts, FaultKind::NetworkPartition)?;
            for n in nodes(target, facts)? {
                container(
                    p,
                    format!("network-partition: cut {n} off the kind network (it keeps running)"),
                    &n,
                    ContainerOp::Disconnect("kind".into()),
                );
                container(h, format!("heal network-partition: reconnect {n}"), &n, ContainerOp::Connect("kind".into()));
            }
        }
        FaultSpec::SpotInterruption { nodes: target, notice, drain } => {
            kind_only(facts, FaultKind::SpotInterruption)?;
            let mut later = Plan::default();
            for n in nodes(target, facts)? {
                if *drain {
                    // A node termination handler: cordon and drain at the notice (§1.7 "spot shape").
                    p.push(format!("spot-interruption: notice for {n}: cordon"), Action::Cordon { node: n.clone(), unschedulable: true });
                    p.push(
                        format!("spot-interruption: drain {n} within the notice"),
                        Action::Drain { node: n.clone(), grace: std(*notice) },
                    );
                }
                container(&mut later, format!("spot-interruption: {n}'s instance terminates"), &n, ContainerOp::Stop);
                later
                    .push(format!("spot-interruption: the Node object {n} goes with its instance"), Action::DeleteNode { node: n.clone() });
                container(h, format!("heal spot-interruption: capacity for {n} is back (it re-registers)"), &n, ContainerOp::Start);
                h.push(
                    format!("heal spot-interruption: uncordon {n} if the notice was cut short"),
                    Action::Cordon { node: n, unschedulable: false },
                );
            }
            fp.later.push((std(*notice), later));
        }
        FaultSpec::PodKill { pods, count, force } => {
            // Scoped to this run's apps, whatever the target: a driver or executors of apps the
            // selector matches among them, or pods carrying the selector's labels among their pods.
            let (labels, sel) = match pods {
                PodTarget::DriverOf(a) => (vec![("spark-role".to_string(), "driver".to_string())], a.clone()),
                PodTarget::ExecutorsOf(a) => (vec![("spark-role".to_string(), "executor".to_string())], a.clone()),
                PodTarget::Selector(l) => (l.iter().map(|(k, v)| (k.clone(), v.clone())).collect(), AppSel::All),
            };
            let apps = facts.apps.iter().filter(|a| sel.matches(a)).cloned().collect();
            p.push(
                format!("pod-kill: {}", spec.target()),
                Action::KillPods { labels, apps, count: *count, grace: force.then_some(Duration::ZERO) },
            );
        }
    }
    Ok(fp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sparkrig_model::time::Dur;

    fn facts(kind: bool) -> ClusterFacts {
        ClusterFacts {
            kind_cluster: kind.then(|| "c".into()),
            minio_container: Some("c-minio".into()),
            nodes: vec![
                ("c-control-plane".into(), "control-plane".into()),
                ("c-worker".into(), "infra".into()),
                ("c-worker5".into(), "spark-executor".into()),
                ("c-worker6".into(), "spark-executor".into()),
            ],
            apps: vec!["default/other".into(), "default/spark-pi-1".into(), "default/spark-pi-2".into(), "team-b/spark-pi-3".into()],
        }
    }

    #[test]
    fn component_faults_scale_to_zero_and_restore_the_recorded_count() {
        let fp = fault_plan(&FaultSpec::Component(FaultKind::CorednsDown), &facts(false)).unwrap();
        let text = fp.inject.steps[0].action.to_string();
        assert!(
            text.starts_with("kubectl -n kube-system annotate deployment coredns sparkrig.io/original-replicas=<current count>"),
            "{text}"
        );
        assert!(text.ends_with("\nkubectl -n kube-system scale deployment coredns --replicas=0"), "{text}");
        assert_eq!(fp.heal.steps[0].action, Action::RestoreScale { namespace: "kube-system".into(), name: "coredns".into() });
        let fp = fault_plan(&FaultSpec::Component(FaultKind::WebhookDown), &facts(false)).unwrap();
        assert!(fp.inject.to_string().contains("kubectl -n spark-operator scale deployment spark-operator-webhook --replicas=0"));
        let fp = fault_plan(&FaultSpec::Component(FaultKind::CorednsMisconfig), &facts(false)).unwrap();
        assert!(
            matches!(&fp.inject.steps[0].action, Action::ReplaceConfigMapKey { key, find, .. } if key == "Corefile" && find == COREFILE_FIND)
        );
        assert!(matches!(&fp.heal.steps[0].action, Action::RestoreConfigMapKey { .. }));
    }

    #[test]
    fn container_faults_need_kind_and_name_their_containers() {
        let e = fault_plan(&FaultSpec::Component(FaultKind::MinioOutage), &facts(false)).unwrap_err().to_string();
        assert!(e.contains("needs --backend kind"), "{e}");
        let fp = fault_plan(&FaultSpec::Component(FaultKind::MinioOutage), &facts(true)).unwrap();
        assert_eq!(fp.inject.to_string(), "# 1. minio-outage: stop MinIO (connections refused)\ndocker stop c-minio\n");
        assert_eq!(fp.heal.steps[0].action.to_string(), "docker start c-minio");
        let fp = fault_plan(&FaultSpec::Component(FaultKind::RegistryOutage), &facts(true)).unwrap();
        assert_eq!(fp.inject.steps[0].action.to_string(), "docker stop kind-registry");
    }

    #[test]
    fn node_faults_pick_live_nodes_of_the_group_by_name() {
        let spec = FaultSpec::NodeLoss {
            nodes: NodeTarget::Group { group: "spark-executor".into(), count: Some(1) },
            delete_after: Some(Dur::mins(2)),
        };
        let fp = fault_plan(&spec, &facts(true)).unwrap();
        assert_eq!(fp.inject.steps.len(), 1);
        assert_eq!(fp.inject.steps[0].action.to_string(), "docker stop c-worker5");
        assert_eq!(fp.later.len(), 1);
        assert_eq!(fp.later[0].0, Duration::from_secs(120));
        assert_eq!(fp.later[0].1.steps[0].action.to_string(), "kubectl delete node c-worker5");
        assert_eq!(fp.heal.steps[0].action.to_string(), "docker start c-worker5");

        let part = FaultSpec::NetworkPartition { nodes: NodeTarget::Group { group: "spark-executor".into(), count: None } };
        let fp = fault_plan(&part, &facts(true)).unwrap();
        assert_eq!(fp.inject.to_string().matches("docker network disconnect --force kind").count(), 2);
        assert!(fp.heal.to_string().contains("docker network connect kind c-worker6"));

        let e = fault_plan(&FaultSpec::NetworkPartition { nodes: NodeTarget::Named("spark-executor-1".into()) }, &facts(true))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("node `spark-executor-1` is not in the cluster (nodes: c-control-plane, c-worker, c-worker5, c-worker6)"),
            "{e}"
        );
        let e = fault_plan(
            &FaultSpec::NodeLoss { nodes: NodeTarget::Group { group: "gpu".into(), count: None }, delete_after: None },
            &facts(true),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no live node in nodegroup `gpu`"), "{e}");
    }

    #[test]
    fn spot_interruption_drains_within_the_notice_then_terminates() {
        let spec = FaultSpec::SpotInterruption { nodes: NodeTarget::Named("c-worker6".into()), notice: Dur::secs(120), drain: true };
        let fp = fault_plan(&spec, &facts(true)).unwrap();
        let inject = fp.inject.to_string();
        assert!(
            inject.contains("kubectl cordon c-worker6")
                && inject.contains("kubectl drain c-worker6 --ignore-daemonsets --delete-emptydir-data --grace-period=120")
        );
        let (after, later) = &fp.later[0];
        assert_eq!(*after, Duration::from_secs(120));
        assert_eq!(
            later.to_string(),
            "# 1. spot-interruption: c-worker6's instance terminates\ndocker stop c-worker6\n# 2. spot-interruption: the Node object c-worker6 goes with its instance\nkubectl delete node c-worker6\n"
        );
        assert!(fp.heal.to_string().contains("docker start c-worker6") && fp.heal.to_string().contains("kubectl uncordon c-worker6"));
    }

    #[test]
    fn pod_kill_hits_only_this_runs_apps_and_has_no_heal() {
        let spec = FaultSpec::PodKill { pods: PodTarget::ExecutorsOf(AppSel::Pattern("spark-pi-*".into())), count: Some(2), force: true };
        let fp = fault_plan(&spec, &facts(false)).unwrap();
        assert_eq!(
            fp.inject.steps[0].action,
            Action::KillPods {
                labels: vec![("spark-role".into(), "executor".into())],
                apps: vec!["default/spark-pi-1".into(), "default/spark-pi-2".into(), "team-b/spark-pi-3".into()],
                count: Some(2),
                grace: Some(Duration::ZERO)
            }
        );
        assert!(fp.heal.steps.is_empty());
        // A label selector is scoped to the run's apps too.
        let spec =
            FaultSpec::PodKill { pods: PodTarget::Selector([("team".to_string(), "x".to_string())].into()), count: None, force: false };
        let fp = fault_plan(&spec, &facts(false)).unwrap();
        let Action::KillPods { apps, .. } = &fp.inject.steps[0].action else { panic!() };
        assert_eq!(apps.len(), 4);
        // No app of the run matches: nothing is selected, and the plan says so.
        let spec = FaultSpec::PodKill { pods: PodTarget::DriverOf(AppSel::Pattern("nope".into())), count: None, force: false };
        let fp = fault_plan(&spec, &facts(false)).unwrap();
        assert_eq!(fp.inject.steps[0].action.to_string(), "# no app of this run matches: no pod is deleted");
    }
}
