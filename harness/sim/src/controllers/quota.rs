//! The ResourceQuota controller of kube-controller-manager: `status.used` recalculated from the
//! pods that exist (reference/platform-ops.md §2.3).
//!
//! Admission charges a created pod at once ([`crate::admission::charge`]). Usage comes back
//! here: a pod turning Succeeded/Failed and every pod delete enqueue the namespace's quotas for
//! an immediate recalculation (`resource_quota_monitor.go`'s update filter), and every quota is
//! recalculated on the full resync (`--resource-quota-sync-period`, 5 min). A deleted pod stops
//! counting once `deletionTimestamp + grace` has passed (`QuotaV1Pod`); the API server sets
//! `deletionTimestamp = delete time + grace`, so that is 2 × grace after the delete call, and
//! since no event marks that instant, it shows at the next recalculation (inference).
//!
//! Inputs: its own [`Ev`]; [`Quotas::start`], [`Quotas::recalc`]. Output: the quotas'
//! `used` in the store and `quota_usage` trace events. Nothing runs when no quota exists.

use std::collections::BTreeMap;

use sparkrig_model::tenancy::QuotaResource;
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::Event;

use crate::admission::QuotaState;
use crate::api::{Cx, controller};
use crate::store::{Pod, Store};

/// `--resource-quota-sync-period` default 5m (`pkg/controller/resourcequota/config/v1alpha1/defaults.go`).
pub const RESYNC: Dur = Dur::mins(5);
/// `terminationGracePeriodSeconds` default 30 s (`DefaultTerminationGracePeriodSeconds`); no
/// sparkrig pod sets another (Spark 4.1+'s executor setting defaults to 30 s as well).
pub const GRACE: Dur = Dur::secs(30);

/// The quota controller's timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    /// The full resync.
    Resync,
}

/// The ResourceQuota controller (its state is the quotas in the store).
#[derive(Debug, Default)]
pub struct Quotas;

controller!(Quotas, Ev, Quota);

/// The `quota_usage` event of a quota's current state.
pub fn usage_event(q: &QuotaState) -> Event {
    let names = |m: &BTreeMap<QuotaResource, i64>| m.iter().map(|(r, v)| (r.name().to_string(), *v)).collect();
    Event::QuotaUsage {
        namespace: q.quota.namespace.clone(),
        quota: q.quota.name.clone(),
        used: names(&q.used),
        hard: names(&q.quota.hard),
    }
}

/// Whether a pod still counts for compute resources and `pods` (`QuotaV1Pod`): not terminal,
/// and not past its deletion deadline.
pub fn tracked(p: &Pod, now: Time) -> bool {
    !p.phase.is_terminal() && p.deleting.is_none_or(|at| at + GRACE + GRACE >= now)
}

/// A quota's usage from the pods of its namespace.
pub fn usage(store: &Store, q: &QuotaState, now: Time) -> BTreeMap<QuotaResource, i64> {
    let mut used: BTreeMap<QuotaResource, i64> = q.quota.hard.keys().map(|r| (*r, 0)).collect();
    let prefix = format!("{}/", q.quota.namespace);
    for (_, id) in store.pod_index.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)) {
        let Some(p) = store.pod(*id) else { continue };
        let Some(a) = &p.charge else { continue };
        if !q.quota.covers(&a.scope_facts()) {
            continue;
        }
        let live = tracked(p, now);
        for (r, v) in used.iter_mut() {
            // `count/pods` counts every pod object; the rest only tracked pods.
            if live || *r == QuotaResource::CountPods {
                *v += a.usage.get(r).copied().unwrap_or(0);
            }
        }
    }
    used
}

impl Quotas {
    /// At t=0: the quotas are created and synced (usage 0), and the resync loop starts.
    pub fn start(cx: &mut impl Cx<Quotas>) {
        let quotas: Vec<QuotaState> = cx.plan().stack.tenancy.quotas().cloned().map(QuotaState::new).collect();
        if quotas.is_empty() {
            return;
        }
        for q in &quotas {
            cx.emit(usage_event(q));
        }
        cx.store_mut().quotas = quotas;
        cx.at(RESYNC, Ev::Resync);
    }

    /// Handles its timer.
    pub fn handle(cx: &mut impl Cx<Quotas>, ev: Ev) {
        match ev {
            Ev::Resync => {
                let namespaces: Vec<String> = cx.store().quotas.iter().map(|q| q.quota.namespace.clone()).collect();
                for ns in namespaces {
                    Self::recalc(cx, &ns);
                }
                cx.at(RESYNC, Ev::Resync);
            }
        }
    }

    /// Recalculates the quotas of a namespace; emits those whose usage changed.
    pub fn recalc(cx: &mut impl Cx<Quotas>, namespace: &str) {
        let now = cx.now();
        for i in 0..cx.store().quotas.len() {
            if cx.store().quotas[i].quota.namespace != namespace {
                continue;
            }
            let used = usage(cx.store(), &cx.store().quotas[i], now);
            if used != cx.store().quotas[i].used {
                cx.store_mut().quotas[i].used = used;
                let e = usage_event(&cx.store().quotas[i]);
                cx.emit(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sparkrig_model::tenancy::{CpuMem, QuotaResource};

    use super::*;
    use crate::api::{Api, Ev as AnyEv};
    use crate::store::{Kind, LabelSource, NewPod, Owner, Phase};
    use crate::testing::{Fake, scenario};

    /// A team-a pod of 1 core and 1Gi, admitted (and so charged) as the API server would.
    fn admitted_pod(f: &mut Fake<Quotas>, name: &str) -> crate::store::PodId {
        let create = crate::admission::PodCreate {
            name,
            namespace: "team-a",
            container: "c",
            requests: CpuMem { cpu: Some(1000), memory: Some(1 << 30) },
            limits: CpuMem::default(),
            priority_class: None,
        };
        let a = f.admit_pod(&create).expect("within team-a's quota");
        f.create_pod(NewPod {
            key: format!("team-a/{name}"),
            owner: Owner::Component(0),
            labels: LabelSource::Component(Kind::CoreDns),
            spec: Arc::new(crate::cluster::SchedSpec::with_requests(1000, 1 << 30)),
            image: "x".into(),
            from_registry: false,
            public_image: false,
            app: None,
            role: None,
            component: None,
            node_selector: Default::default(),
            admitted: Some(a),
        })
    }

    #[test]
    fn start_syncs_every_quota_at_zero_and_arms_the_five_minute_resync() {
        let plan = scenario("team-quotas.yaml");
        let mut f = Fake::new(Quotas, &plan);
        Quotas::start(&mut f);
        let names: Vec<&str> = f.store.quotas.iter().map(|q| q.quota.name.as_str()).collect();
        assert_eq!(names, ["team-a-compute", "team-b-compute"]);
        assert!(f.store.quotas.iter().all(|q| q.used.values().all(|v| *v == 0)));
        assert_eq!(f.trace(), ["quota_usage", "quota_usage"]);
        assert!(matches!(f.timers().as_slice(), [(300_000, AnyEv::Quota(Ev::Resync))]));
    }

    /// Admission charges at once; a terminal pod stops counting for compute at the next
    /// recalculation, while `count/pods` counts the object until it is removed.
    #[test]
    fn a_terminal_pod_is_released_by_the_recalculation_but_still_counts_as_an_object() {
        let plan = scenario("team-quotas.yaml");
        let mut f = Fake::new(Quotas, &plan);
        Quotas::start(&mut f);
        let id = admitted_pod(&mut f, "etl-driver");
        let used = |f: &Fake<Quotas>, r| f.store.quotas[0].used[&r];
        assert_eq!((used(&f, QuotaResource::RequestsCpu), used(&f, QuotaResource::CountPods)), (1000, 1));
        f.clear();
        f.store.pod_mut(id).unwrap().phase = Phase::Succeeded;
        Quotas::recalc(&mut f, "team-a");
        assert_eq!((used(&f, QuotaResource::RequestsCpu), used(&f, QuotaResource::RequestsMemory)), (0, 0));
        assert_eq!(used(&f, QuotaResource::CountPods), 1, "the pod object still exists");
        assert_eq!(f.trace(), ["quota_usage"]);
        // Nothing changed: no event.
        f.clear();
        Quotas::recalc(&mut f, "team-a");
        assert!(f.emitted.is_empty());
    }
}
