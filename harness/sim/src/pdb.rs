//! PodDisruptionBudgets: which pods a budget selects, how many disruptions it allows now, and
//! the Eviction API's decision for one pod. Every eviction in the simulator (node drains of
//! spot notices and upgrades, Cluster Autoscaler scale-down, `pods/eviction` through `sparkrig
//! serve`) asks [`pdb_allows_eviction`]; scheduler preemption can ask [`violates_pdb`].
//!
//! The arithmetic is the disruption controller's (`pkg/controller/disruption/disruption.go`)
//! and the eviction subresource's (`pkg/registry/core/pod/storage/eviction.go`,
//! reference/kube-api.md §4.1):
//! - a pod is *healthy* when it is Ready (Running, its node Ready) and not being deleted;
//! - `minAvailable: N` → desired healthy N, expected pods = the pods selected; a percentage or
//!   `maxUnavailable` → expected pods = the scale of the controllers owning them (a Deployment's
//!   replicas), desired healthy = expected − maxUnavailable or ⌈minAvailable% × expected⌉;
//!   pods without a scalable controller (Spark pods) then make the budget fail to sync, which
//!   allows no disruption;
//! - `disruptionsAllowed = max(0, healthy − desired)`;
//! - evicting a pod that is not Running, or already being deleted, ignores budgets; more than
//!   one budget over a pod is an error (500); a pod that is not healthy may go while the budget
//!   is met (`unhealthyPodEvictionPolicy: IfHealthyBudget`, the default); otherwise no allowed
//!   disruption → 429 TooManyRequests, which callers retry.
//!
//! The status is computed from the current state on every call: the controller's lag and the
//! API server's `disruptedPods` bookkeeping are not modelled (a pod evicted is at once not
//! healthy, because it is being deleted, which has the same effect).

use sparkrig_model::kube::Labels;
use sparkrig_model::time::Dur;
use sparkrig_model::upgrade::{Budget, IntOrPercent};

use crate::store::{LabelSource, Owner, Pdb, Phase, PodId, Store};

/// How often a drain retries an eviction a PodDisruptionBudget refused: kubectl drain's "will
/// retry after 5s" (reference/kube-api.md §4.1), which the spot node termination handler's drain
/// (kubectl's drain library) shares. EKS's and Karpenter's own cadences are not documented
/// (unverified).
pub const EVICTION_RETRY: Dur = Dur::secs(5);

/// A budget's status, as `kubectl get pdb` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// `expectedPods`.
    pub expected: u32,
    /// `currentHealthy`.
    pub current_healthy: u32,
    /// `desiredHealthy`.
    pub desired_healthy: u32,
    /// `disruptionsAllowed`.
    pub disruptions_allowed: u32,
    /// The controller could not compute the expected count (a percentage or maxUnavailable over
    /// pods without a scalable owner): no disruption is allowed.
    pub sync_failed: bool,
}

/// Why the Eviction API refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 429 TooManyRequests: the budget allows no disruption now (retry later).
    Budget {
        /// `namespace/name` of the budget.
        pdb: String,
        /// The Status message with its cause, as kubectl prints it.
        message: String,
    },
    /// 500: more than one budget selects the pod.
    Several {
        /// The budgets.
        pdbs: Vec<String>,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Budget { message, .. } => f.write_str(message),
            Refusal::Several { pdbs } => {
                write!(
                    f,
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support ({})",
                    pdbs.join(", ")
                )
            }
        }
    }
}

fn namespace_of(key: &str) -> &str {
    key.split_once('/').map_or("", |(ns, _)| ns)
}

/// Whether the budget selects the pod (same namespace, every label of the selector).
pub fn selects(store: &Store, pdb: &Pdb, pod: PodId) -> bool {
    let Some(p) = store.pod(pod) else { return false };
    if pdb.labels.is_empty() || namespace_of(&p.key) != pdb.spec.namespace {
        return false;
    }
    let labels: Labels = match &p.labels {
        LabelSource::Component(kind) => kind.labels(),
        LabelSource::Spark { app, .. } => {
            // Cheap rejection before deriving the pod: a selector naming another app.
            if let Some(name) = pdb.labels.get("sparkoperator.k8s.io/app-name")
                && *name != app.metadata.name
            {
                return false;
            }
            store.labels(p)
        }
    };
    pdb.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The budgets that select a pod, by `namespace/name`.
pub fn pdbs_of(store: &Store, pod: PodId) -> Vec<&str> {
    store.pdbs.iter().filter(|(_, b)| selects(store, b, pod)).map(|(k, _)| k.as_str()).collect()
}

/// Healthy: Ready (Running on a Ready, reachable node) and not being deleted.
pub fn healthy(store: &Store, pod: PodId) -> bool {
    store.pod_serving(pod)
}

/// The budget's status now.
pub fn status(store: &Store, pdb: &Pdb) -> Status {
    let selected: Vec<PodId> = store
        .pod_index
        .range(format!("{}/", pdb.spec.namespace)..)
        .take_while(|(k, _)| namespace_of(k) == pdb.spec.namespace)
        .map(|(_, id)| *id)
        .filter(|id| store.pod(*id).is_some_and(|p| !p.phase.is_terminal()) && selects(store, pdb, *id))
        .collect();
    let current_healthy = selected.iter().filter(|id| healthy(store, **id)).count() as u32;
    let by_scale = || -> Option<u32> {
        // The owners' scale: each Deployment once.
        let mut owners: Vec<usize> = Vec::new();
        for id in &selected {
            match store.pod(*id).map(|p| p.owner) {
                Some(Owner::Component(c)) if !owners.contains(&c) => owners.push(c),
                Some(Owner::Component(_)) => {}
                _ => return None,
            }
        }
        Some(owners.iter().map(|c| store.deployments[*c].replicas).sum())
    };
    let (expected, desired) = match pdb.spec.budget {
        Budget::MinAvailable(IntOrPercent::Int(n)) => (Some(selected.len() as u32), n),
        Budget::MinAvailable(p @ IntOrPercent::Percent(_)) => match by_scale() {
            Some(e) => (Some(e), p.scaled(e, true)),
            None => (None, 0),
        },
        Budget::MaxUnavailable(m) => match by_scale() {
            Some(e) => (Some(e), e.saturating_sub(m.scaled(e, true))),
            None => (None, 0),
        },
    };
    match expected {
        Some(expected) => Status {
            expected,
            current_healthy,
            desired_healthy: desired,
            disruptions_allowed: current_healthy.saturating_sub(desired),
            sync_failed: false,
        },
        None => Status { expected: 0, current_healthy, desired_healthy: 0, disruptions_allowed: 0, sync_failed: true },
    }
}

/// `status.disruptionsAllowed` of the budget `namespace/name` (0 for an unknown one).
pub fn disruptions_allowed(store: &Store, pdb: &str) -> u32 {
    store.pdbs.get(pdb).map_or(0, |b| status(store, b).disruptions_allowed)
}

/// The Eviction API's decision for `pod` now: `Ok` when it may be deleted.
pub fn pdb_allows_eviction(store: &Store, pod: PodId) -> Result<(), Refusal> {
    let Some(p) = store.pod(pod) else { return Ok(()) };
    // `canIgnorePDB`: terminal or Pending pods, and pods already being deleted.
    if p.deleting.is_some() || p.phase != Phase::Running {
        return Ok(());
    }
    let matching: Vec<(&String, &Pdb)> = store.pdbs.iter().filter(|(_, b)| selects(store, b, pod)).collect();
    match matching.as_slice() {
        [] => Ok(()),
        [(key, b)] => {
            let st = status(store, b);
            if !healthy(store, pod) && !st.sync_failed && st.current_healthy >= st.desired_healthy {
                // IfHealthyBudget: an unready pod may go while the budget holds.
                return Ok(());
            }
            if st.disruptions_allowed > 0 {
                return Ok(());
            }
            Err(Refusal::Budget {
                pdb: (*key).clone(),
                message: format!(
                    "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget {} needs {} healthy pods and has {} currently",
                    b.spec.name, st.desired_healthy, st.current_healthy
                ),
            })
        }
        many => Err(Refusal::Several { pdbs: many.iter().map(|(k, _)| (*k).clone()).collect() }),
    }
}

/// The predicate preemption needs: evicting `pod` now would violate a budget.
pub fn violates_pdb(store: &Store, pod: PodId) -> bool {
    pdb_allows_eviction(store, pod).is_err()
}

#[cfg(test)]
mod tests {
    use sparkrig_model::time::Time;
    use sparkrig_model::upgrade::{PdbSelector, PodDisruptionBudget};

    use super::*;
    use crate::api::Api;
    use crate::store::{Kind, LabelSource, NewPod};
    use crate::testing::{Fake, nodes, run_on, scenario, serving};

    /// Two CoreDNS pods of one Deployment on two nodes, and a budget over them.
    fn two_coredns(budget: Budget) -> (Fake<()>, [PodId; 2]) {
        let plan = scenario("smoke.yaml");
        let mut f = Fake::new((), &plan);
        let n = nodes(&mut f, "infra", 2);
        let a = serving(&mut f, Kind::CoreDns, n[0]);
        let spec = f.store.pod(a).unwrap().spec.clone();
        let b = f.create_pod(NewPod {
            key: "kube-system/coredns-hash-y".into(),
            owner: Owner::Component(0),
            labels: LabelSource::Component(Kind::CoreDns),
            spec,
            image: Kind::CoreDns.image().into(),
            from_registry: false,
            public_image: false,
            app: None,
            role: None,
            component: Some("coredns".into()),
            node_selector: Default::default(),
            admitted: None,
        });
        f.store.deployments[0].pods.push(b);
        f.store.deployments[0].replicas = 2;
        run_on(&mut f, b, n[1]);
        let spec = PodDisruptionBudget {
            name: "coredns-pdb".into(),
            namespace: "kube-system".into(),
            selector: PdbSelector::Component("coredns".into()),
            budget,
        };
        f.store
            .pdbs
            .insert("kube-system/coredns-pdb".into(), Pdb { spec, labels: Kind::CoreDns.labels(), owner: None, created: Time::ZERO });
        (f, [a, b])
    }

    #[test]
    fn min_available_one_of_two_allows_one_eviction_then_refuses_with_429() {
        let (mut f, [a, b]) = two_coredns(Budget::MinAvailable(IntOrPercent::Int(1)));
        let st = status(&f.store, &f.store.pdbs["kube-system/coredns-pdb"]);
        assert_eq!((st.expected, st.current_healthy, st.desired_healthy, st.disruptions_allowed), (2, 2, 1, 1));
        assert_eq!(pdb_allows_eviction(&f.store, a), Ok(()));
        f.delete_pod(a, "evicted");
        assert_eq!(disruptions_allowed(&f.store, "kube-system/coredns-pdb"), 0, "a pod being deleted is not healthy");
        let Err(Refusal::Budget { pdb, message }) = pdb_allows_eviction(&f.store, b) else { panic!() };
        assert_eq!(pdb, "kube-system/coredns-pdb");
        assert!(message.ends_with("The disruption budget coredns-pdb needs 1 healthy pods and has 1 currently"), "{message}");
        assert!(violates_pdb(&f.store, b));
        // The pod being deleted may be evicted again: deletion ignores budgets.
        assert_eq!(pdb_allows_eviction(&f.store, a), Ok(()));
    }

    #[test]
    fn percentages_and_max_unavailable_scale_with_the_deployments_replicas() {
        let (f, _) = two_coredns(Budget::MaxUnavailable(IntOrPercent::Percent(50)));
        let st = status(&f.store, &f.store.pdbs["kube-system/coredns-pdb"]);
        // 50 % of 2 replicas, rounded up: 1 may be unavailable → desired 1.
        assert_eq!((st.expected, st.desired_healthy, st.disruptions_allowed), (2, 1, 1));
        let (f, _) = two_coredns(Budget::MinAvailable(IntOrPercent::Percent(100)));
        assert_eq!(status(&f.store, &f.store.pdbs["kube-system/coredns-pdb"]).disruptions_allowed, 0);
    }

    #[test]
    fn an_unready_pod_may_go_while_the_budget_holds_and_pending_pods_ignore_budgets() {
        let (mut f, [a, b]) = two_coredns(Budget::MinAvailable(IntOrPercent::Int(1)));
        // b's node goes NotReady: b is Running but not healthy; a alone keeps the budget.
        let n = f.store.pod(b).unwrap().node.unwrap();
        f.store.node_state[n].ready = false;
        assert_eq!(pdb_allows_eviction(&f.store, b), Ok(()), "IfHealthyBudget");
        assert!(pdb_allows_eviction(&f.store, a).is_err(), "a is the last healthy pod");
        f.store.pod_mut(a).unwrap().phase = Phase::Pending;
        assert_eq!(pdb_allows_eviction(&f.store, a), Ok(()), "a Pending pod is deleted without budget checks");
    }
}
