//! A fake context for controller unit tests: one controller's state, a store, a clock that
//! only moves when the test says, and a record of everything the handler did (timers armed,
//! keys cancelled, trace events, signals). Signals are recorded, not routed: a test sees
//! exactly what one controller asked of the others.

use std::path::Path;
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sparkrig_model::scenario::Scenario;
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::Event;

use crate::api::{Api, Controller, Cx, Ev, Key, Signal};
use crate::store::Store;
use crate::timings::Timings;

/// A scenario from scenarios/ (the repository's own).
pub(crate) fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios").join(name);
    sparkrig_run::files::load_scenario(&path, None).unwrap_or_else(|d| panic!("{d}"))
}

/// A controller under test.
pub(crate) struct Fake<C> {
    pub me: C,
    pub store: Store,
    pub plan: Arc<Scenario>,
    pub t: Timings,
    pub now: Time,
    pub rng: ChaCha8Rng,
    /// Timers armed: (due at, key, event).
    pub armed: Vec<(Time, Option<Key>, Ev)>,
    pub cancelled: Vec<Key>,
    pub emitted: Vec<Event>,
    pub signals: Vec<Signal>,
}

impl<C> Fake<C> {
    pub fn new(me: C, plan: &Scenario) -> Fake<C> {
        Fake {
            me,
            store: Store { bootstrapping: false, ..Store::for_plan(plan) },
            plan: Arc::new(plan.clone()),
            t: Timings::with_overrides(&plan.sim),
            now: Time::ZERO,
            rng: ChaCha8Rng::seed_from_u64(plan.seed),
            armed: Vec::new(),
            cancelled: Vec::new(),
            emitted: Vec::new(),
            signals: Vec::new(),
        }
    }

    /// Forgets what was recorded so far.
    pub fn clear(&mut self) {
        self.armed.clear();
        self.cancelled.clear();
        self.emitted.clear();
        self.signals.clear();
    }

    /// Moves the clock.
    pub fn advance(&mut self, d: Dur) {
        self.now += d;
    }

    /// Timers armed, as (ms from t=0, event).
    pub fn timers(&self) -> Vec<(u64, Ev)> {
        self.armed.iter().map(|(t, _, e)| (t.as_ms(), e.clone())).collect()
    }

    /// Trace events emitted, as their JSON `event` names with the pod/app/node they name.
    pub fn trace(&self) -> Vec<String> {
        self.emitted
            .iter()
            .map(|e| {
                let v = serde_json::to_value(e).expect("serialises");
                let name = v["event"].as_str().unwrap_or_default().to_string();
                let subject = ["pod", "app", "node", "fault"].iter().find_map(|k| v[*k].as_str()).unwrap_or_default().to_string();
                format!("{name} {subject}").trim().to_string()
            })
            .collect()
    }
}

impl<C> Api for Fake<C> {
    fn now(&self) -> Time {
        self.now
    }
    fn schedule(&mut self, after: Dur, key: Option<Key>, ev: Ev) {
        self.armed.push((self.now + after, key, ev));
    }
    fn cancel(&mut self, key: Key) {
        self.cancelled.push(key);
    }
    fn emit(&mut self, event: Event) {
        self.emitted.push(event);
    }
    fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }
    fn plan(&self) -> &Arc<Scenario> {
        &self.plan
    }
    fn timings(&self) -> &Timings {
        &self.t
    }
    fn store(&self) -> &Store {
        &self.store
    }
    fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }
    fn signal(&mut self, s: Signal) {
        self.signals.push(s);
    }
}

impl<C: Controller> Cx<C> for Fake<C> {
    fn me(&mut self) -> &mut C {
        &mut self.me
    }
    fn me_ref(&self) -> &C {
        &self.me
    }
    fn parts(&mut self) -> (&mut C, &mut Store, &mut ChaCha8Rng) {
        (&mut self.me, &mut self.store, &mut self.rng)
    }
}

/// Registers `count` Ready nodes of topology group `group` (by name) and returns their indices.
pub(crate) fn nodes<C>(f: &mut Fake<C>, group: &str, count: u32) -> Vec<usize> {
    let g = f.plan.topology.groups.iter().position(|x| x.name == group).expect("group in topology");
    (1..=count).map(|k| f.register_node(g, &format!("{group}-{k}"), None, true)).collect()
}

/// A pod of `cpu` millicores owned by component Deployment 0, not yet scheduled.
pub(crate) fn pod<C>(f: &mut Fake<C>, name: &str, cpu: i64, from_registry: bool) -> crate::store::PodId {
    use crate::store::{Kind, LabelSource, NewPod, Owner};
    f.create_pod(NewPod {
        key: format!("default/{name}"),
        owner: Owner::Component(0),
        labels: LabelSource::Component(Kind::CoreDns),
        spec: Arc::new(crate::cluster::SchedSpec::with_requests(cpu, 256 << 20)),
        image: "localhost:5001/apache/spark:3.5.6".into(),
        from_registry,
        public_image: false,
        app: None,
        role: None,
        component: None,
        node_selector: Default::default(),
        admitted: None,
    })
}

/// Binds a pod to a node and marks it Running, as the scheduler and kubelet would.
pub(crate) fn run_on<C>(f: &mut Fake<C>, id: crate::store::PodId, n: usize) {
    let p = f.store.pod_mut(id).expect("pod");
    p.node = Some(n);
    p.bound = true;
    p.accounted = true;
    p.phase = crate::store::Phase::Running;
    let spec = p.spec.clone();
    f.store.nodes[n].add_pod(&spec);
    f.store.node_state[n].pods.push(id);
}

/// A Deployment of `kind` with one Running pod on node `n`: the component serves.
pub(crate) fn serving<C>(f: &mut Fake<C>, kind: crate::store::Kind, n: usize) -> crate::store::PodId {
    use crate::store::{Deployment, LabelSource, NewPod, Owner};
    let idx = f.store.deployments.len();
    let spec = Arc::new(crate::cluster::SchedSpec::with_requests(100, 64 << 20));
    f.store.deployments.push(Deployment {
        kind,
        replicas: 1,
        spec: spec.clone(),
        placement: Default::default(),
        hash: "hash".into(),
        pods: Vec::new(),
        priority_class: None,
        image: kind.image().into(),
        revision: 1,
        old: Default::default(),
        public_image: false,
    });
    let id = f.create_pod(NewPod {
        key: format!("{}/{}-hash-x", kind.namespace(), kind.name()),
        owner: Owner::Component(idx),
        labels: LabelSource::Component(kind),
        spec,
        image: kind.image().into(),
        from_registry: false,
        public_image: false,
        app: None,
        role: None,
        component: Some(kind.name().into()),
        node_selector: Default::default(),
        admitted: None,
    });
    f.store.deployments[idx].pods.push(id);
    run_on(f, id, n);
    id
}
