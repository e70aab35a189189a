//! The simulation: the kernel, the store, the controllers and the timeline, wired together.
//!
//! ```text
//!  timeline (model) ──effects──▶ Simulation ──▶ operator / faults
//!        ▲                          │ kernel: time, events, RNG, trace
//!        └── view changed ◀── trace ◀┤
//!                                   ▼ route(Signal)
//!  scheduling ◀─▶ kubelet ◀─▶ node lifecycle ◀─▶ deployments ◀─▶ operator ◀─▶ drivers, autoscaler, faults
//! ```
//!
//! Entry points: [`Simulation::new`], then [`Simulation::run`] — or [`Simulation::step`],
//! [`Simulation::run_until`] and [`Simulation::apply`] to drive it from outside (the API server
//! of `sparkrig serve`), and [`Simulation::finish`]. Every cross-controller signal goes through
//! [`Simulation::route`]; nothing else calls from one controller into another.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use sparkrig_model::action::Action;
use sparkrig_model::clientpod;
use sparkrig_model::kube::Toleration;
use sparkrig_model::podspec::{SparkRole, Submission};
use sparkrig_model::scenario::{Scenario, work_of};
use sparkrig_model::sparkapp::SparkApplication;
use sparkrig_model::tenancy::{CpuMem, PreemptionPolicy};
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::timeline::{Effect, Timeline, max_duration_reached};
use sparkrig_model::trace::{Event, Record, Sink, TraceView};

use crate::api::{Api, Cx, Ev, Key, Signal};
use crate::cluster::SchedSpec;
use crate::controllers::autoscaler::Autoscaler;
use crate::controllers::deployments::Deployments;
use crate::controllers::driver::Drivers;
use crate::controllers::faults::Faults;
use crate::controllers::kubelet::Kubelet;
use crate::controllers::node_lifecycle::NodeLifecycle;
use crate::controllers::operator::Operator;
use crate::controllers::quota::Quotas;
use crate::controllers::scheduled::ScheduledApps;
use crate::controllers::scheduling::Scheduling;
use crate::controllers::upgrade::Upgrades;
use crate::kernel::Kernel;
use crate::store::{App, AppId, LabelSource, NewPod, Owner, PodId, Store};
use crate::timings::Timings;

/// Why a simulation could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A SparkApplication cannot be turned into pods.
    #[error("{file}: {message}")]
    BadApp {
        /// Manifest.
        file: String,
        /// Why.
        message: String,
    },
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// Virtual time at the end.
    pub end: Time,
    /// Why it ended.
    pub reason: String,
    /// Events processed.
    pub events: u64,
    /// Pods created.
    pub pods_created: u64,
    /// Most pods alive at once.
    pub peak_pods: u64,
}

/// A simulation of one scenario.
pub struct Simulation {
    k: Kernel<Ev, Key>,
    store: Store,
    plan: Arc<Scenario>,
    t: Timings,
    scheduling: Scheduling,
    kubelet: Kubelet,
    nodes: NodeLifecycle,
    deployments: Deployments,
    operator: Operator,
    drivers: Drivers,
    autoscaler: Autoscaler,
    faults: Faults,
    quotas: Quotas,
    scheduled: ScheduledApps,
    upgrades: Upgrades,
    /// Outcomes of upgrade steps that finished during the event being handled, fed to the
    /// timeline once the handler has returned.
    finished_upgrades: Vec<Result<String, String>>,
    timeline: Timeline,
    view: TraceView,
    done: Option<String>,
    /// Runs until told to stop: no timeline, no `maxDuration` (`sparkrig serve --stack-only`).
    open_ended: bool,
    /// Client-created driver pods waiting for their Spark properties, and whether their JVM
    /// was already up (see [`Simulation::set_spark_conf`]).
    awaiting_conf: BTreeMap<PodId, bool>,
}

/// Tolerations the pods of a component carry (placement + defaults).
pub(crate) fn with_default_tolerations(mut tolerations: Vec<Toleration>) -> Vec<Toleration> {
    for d in sparkrig_model::kube::default_toleration_seconds() {
        if !tolerations.iter().any(|t| t.key == d.key && t.effect == d.effect) {
            tolerations.push(d);
        }
    }
    tolerations
}

impl Simulation {
    /// Builds the cluster of `plan` at t=0: nodes registered and Ready, platform components
    /// running, arrivals and the first step scheduled.
    pub fn new(plan: &Scenario) -> Result<Simulation, SimError> {
        Simulation::build(plan, false)
    }

    /// The scenario's topology and stack only, running until [`Simulation::finish`]: its
    /// workload and steps are left out, so that clients drive the cluster (`sparkrig serve
    /// --stack-only`).
    pub fn open_ended(plan: &Scenario) -> Result<Simulation, SimError> {
        Simulation::build(&Scenario { arrivals: Vec::new(), scheduled_arrivals: Vec::new(), steps: Vec::new(), ..plan.clone() }, true)
    }

    fn build(plan: &Scenario, open_ended: bool) -> Result<Simulation, SimError> {
        check_apps(plan)?;
        let plan = Arc::new(plan.clone());
        let t = Timings::with_overrides(&plan.sim);
        let mut sim = Simulation {
            k: Kernel::new(plan.seed),
            store: Store::for_plan(&plan),
            scheduling: Scheduling::new(&plan),
            kubelet: Kubelet::default(),
            nodes: NodeLifecycle::default(),
            deployments: Deployments,
            operator: Operator::new(&plan, &t),
            drivers: Drivers::default(),
            autoscaler: Autoscaler::default(),
            faults: Faults::default(),
            quotas: Quotas,
            scheduled: ScheduledApps::default(),
            upgrades: Upgrades::default(),
            finished_upgrades: Vec::new(),
            timeline: Timeline::new(&plan),
            view: TraceView::current_only(),
            done: None,
            open_ended,
            awaiting_conf: BTreeMap::new(),
            t,
            plan,
        };
        sim.emit(Event::RunStarted { scenario: sim.plan.name.clone(), backend: "sim".into(), seed: Some(sim.plan.seed) });
        Quotas::start(&mut sim);
        sim.bootstrap_nodes();
        Deployments::bootstrap(&mut sim);
        // Bring the platform up within t=0 (the real backends wait for readiness before the
        // scenario starts).
        while let Some((_, ev)) = sim.k.pop_until(Time::ZERO) {
            sim.handle(ev);
        }
        sim.store.bootstrapping = false;
        Autoscaler::start(&mut sim);
        if !open_ended {
            let fx = sim.timeline.start();
            sim.apply_effects(fx);
        }
        Ok(sim)
    }

    fn bootstrap_nodes(&mut self) {
        let plan = self.plan.clone();
        let mut zone_i = 0;
        for (g, group) in plan.topology.groups.iter().enumerate() {
            for k in 1..=group.count {
                let zone = (!plan.topology.zones.is_empty()).then(|| {
                    zone_i += 1;
                    plan.topology.zones[(zone_i - 1) % plan.topology.zones.len()].clone()
                });
                self.register_node(g, &format!("{}-{k}", group.name), zone.as_deref(), true);
            }
        }
    }

    /// The current virtual instant.
    pub fn now(&self) -> Time {
        self.k.now()
    }

    /// When the next event is due (None when nothing is scheduled).
    pub fn next_at(&mut self) -> Option<Time> {
        self.k.next_at()
    }

    /// The run has ended (timeline complete, max duration, nothing left).
    pub fn is_done(&self) -> bool {
        self.done.is_some()
    }

    /// The cluster state now.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The scenario.
    pub fn plan(&self) -> &Scenario {
        &self.plan
    }

    /// Processes the next event, feeding `sink`; returns its instant, or None once the run is
    /// over (timeline complete, `maxDuration` reached, nothing left to happen).
    pub fn step(&mut self, sink: &mut dyn Sink) -> Option<Time> {
        self.flush(sink);
        if self.done.is_some() {
            return None;
        }
        let limit = if self.open_ended { Time(u64::MAX) } else { Time::ZERO + self.plan.max_duration };
        match self.k.next_at() {
            None if self.open_ended => None,
            None => {
                self.stop("nothing left to happen".into());
                None
            }
            Some(at) if at > limit => {
                self.k.advance_to(limit);
                self.stop(max_duration_reached(self.plan.max_duration));
                None
            }
            Some(_) => {
                let (at, ev) = self.k.pop().expect("due");
                self.handle(ev);
                self.flush(sink);
                Some(at)
            }
        }
    }

    /// Processes every event due at or before `t`, then moves time to `t` (for a driver in
    /// scaled real time). Stops early when the run ends.
    pub fn run_until(&mut self, t: Time, sink: &mut dyn Sink) {
        self.flush(sink);
        while self.done.is_none() && self.k.next_at().is_some_and(|n| n <= t) {
            self.step(sink);
        }
        if self.done.is_none() && t > self.k.now() {
            self.k.advance_to(t);
        }
    }

    /// Carries out a write from outside (an API client) at the current instant, recording it
    /// in the trace first; returns a message, or the API server's refusal.
    pub fn apply(&mut self, action: Action, by: &str, sink: &mut dyn Sink) -> Result<String, String> {
        self.emit(Event::ApiWrite { action: action.clone(), by: by.to_string() });
        let outcome = self.carry_out(action);
        self.upgrades_finished();
        self.flush(sink);
        outcome
    }

    fn carry_out(&mut self, action: Action) -> Result<String, String> {
        let pod = |sim: &Simulation, key: &str| sim.store.pod_index.get(key).copied().ok_or_else(|| format!("pods \"{key}\" not found"));
        let node = |sim: &Simulation, name: &str| {
            sim.store.nodes.iter().position(|n| n.name == name && !n.gone).ok_or_else(|| format!("nodes \"{name}\" not found"))
        };
        let app = |sim: &Simulation, key: &str| sim.store.app_by_key(key).ok_or_else(|| format!("sparkapplications \"{key}\" not found"));
        match action {
            Action::CreateApp { app } => {
                let app: SparkApplication = serde_json::from_value(app).map_err(|e| e.to_string())?;
                let work = work_of(&app);
                Operator::create(self, app, work, None).map(|_| String::new())
            }
            Action::UpdateApp { app: key, object } => {
                let id = app(self, &key)?;
                Operator::update(self, id, object).map(|()| String::new())
            }
            Action::DeleteApp { app: key } => {
                let id = app(self, &key)?;
                Operator::delete(self, id);
                Ok(String::new())
            }
            Action::DeletePod { pod: key, grace_seconds: Some(0) } => {
                let id = pod(self, &key)?;
                self.force_delete(id, "deleted through the API (grace period 0)");
                Ok(String::new())
            }
            Action::DeletePod { pod: key, .. } => {
                let id = pod(self, &key)?;
                self.delete_pod(id, "deleted through the API");
                Ok(String::new())
            }
            Action::EvictPod { pod: key } => {
                let id = pod(self, &key)?;
                self.evict(id, "Evicted: through the Eviction API").map(|()| String::new()).map_err(|r| r.to_string())
            }
            Action::DeleteNode { node: name } => {
                let n = node(self, &name)?;
                self.route(Signal::DeleteNode { node: n, reason: "deleted through the API".into() });
                Ok(String::new())
            }
            Action::CordonNode { node: name, unschedulable } => {
                let n = node(self, &name)?;
                self.set_unschedulable(n, unschedulable);
                Ok(String::new())
            }
            Action::ScaleDeployment { deployment, replicas } => {
                let kind = self
                    .store
                    .deployments
                    .iter()
                    .map(|d| d.kind)
                    .find(|k| format!("{}/{}", k.namespace(), k.name()) == deployment)
                    .ok_or_else(|| format!("deployments.apps \"{deployment}\" not found"))?;
                self.scale(kind, replicas);
                Ok(String::new())
            }
            Action::CreatePod { pod } => self.create_client_pod(&pod),
            Action::SetSparkConf { pod: key, properties } => {
                let id = pod(self, &key)?;
                self.set_spark_conf(id, properties)
            }
            Action::SetCorefile { serves_cluster_names } => {
                Faults::corefile_changed(self, serves_cluster_names);
                Ok(String::new())
            }
        }
    }

    /// A pod a client built itself. A Spark driver pod (`spark-role=driver`: spark-submit in
    /// cluster mode) runs as the driver of an app synthesised from it, outside the operator;
    /// its Spark properties may follow ([`Action::SetSparkConf`]) until its JVM starts.
    fn create_client_pod(&mut self, manifest: &serde_json::Value) -> Result<String, String> {
        let spec = clientpod::pod_spec(manifest)?;
        let key = format!("{}/{}", spec.namespace, spec.name);
        if self.store.pod_index.contains_key(&key) {
            return Err(format!("pods \"{}\" already exists", spec.name));
        }
        let properties = BTreeMap::new();
        let Some(app) = clientpod::spark_driver(manifest, &properties) else {
            return Err("sparkrig serve runs the pods Spark's own client creates for a driver (labelled spark-role=driver, as \
                 spark-submit --deploy-mode cluster does) and those of its simulated controllers; other pods are not simulated"
                .into());
        };
        // LimitRanger, Priority and ResourceQuota admission, as for any pod create: a refusal
        // is the API server's 403 to spark-submit.
        let nonzero = |v: i64| (v > 0).then_some(v);
        let admitted = self.admit_pod(&crate::admission::PodCreate {
            name: &spec.name,
            namespace: &spec.namespace,
            container: &spec.container,
            requests: CpuMem { cpu: nonzero(spec.cpu_millis), memory: nonzero(spec.memory_bytes) },
            limits: CpuMem { cpu: spec.cpu_limit_millis, memory: nonzero(spec.memory_bytes) },
            priority_class: spec.priority_class.as_deref(),
        })?;
        let sub = Arc::new(clientpod::submission(manifest, &properties));
        let app_key = format!("{}/{}", app.namespace(), app.metadata.name);
        let work = work_of(&app);
        let app = Arc::new(app);
        let id = AppId(self.store.apps.len() as u32);
        self.store.apps.push(App {
            key: app_key.clone(),
            template: None,
            created: self.now(),
            deleted: false,
            app: app.clone(),
            work,
            state: sparkrig_model::appstate::AppState::Running,
            message: String::new(),
            submission_attempts: 1,
            execution_attempts: 1,
            last_submission: self.now(),
            defaulted: false,
            watched: false,
            run: 1,
            driver: None,
            patched: false,
            external: true,
        });
        let mut compiled = SchedSpec::compile(&spec, &mut self.store.interner);
        (compiled.priority, compiled.preempt) = (admitted.priority, admitted.preemption != PreemptionPolicy::Never);
        let pod = self.create_pod(NewPod {
            key,
            owner: Owner::Driver { app: id, run: 1 },
            labels: LabelSource::Spark { app, sub, exec: None },
            spec: Arc::new(compiled),
            image: spec.image,
            from_registry: false,
            public_image: false,
            app: Some(app_key),
            role: Some(SparkRole::Driver),
            component: None,
            node_selector: spec.node_selector,
            admitted: Some(admitted),
        });
        self.store.app_mut(id).driver = Some(pod);
        self.awaiting_conf.insert(pod, false);
        self.route(Signal::DriverPodCreated { app: id, run: 1, pod });
        Ok(String::new())
    }

    /// A client-created driver's Spark properties, which its JVM reads from the ConfigMap
    /// mounted at `/opt/spark/conf` when it starts. spark-submit writes that ConfigMap after the
    /// pod, so a driver whose JVM is up before it waits for it. (The real kubelet does not start
    /// the container before the ConfigMap volume can be mounted — FailedMount, retried — so the
    /// pod shows ContainerCreating meanwhile; here it shows Running: an approximation.)
    fn set_spark_conf(&mut self, pod: PodId, properties: BTreeMap<String, String>) -> Result<String, String> {
        let Some(was_up) = self.awaiting_conf.remove(&pod) else { return Ok(String::new()) };
        let Some((app, labels)) = self.store.pod(pod).map(|p| (p.owner, p.labels.clone())) else { return Ok(String::new()) };
        let (Owner::Driver { app: id, run }, LabelSource::Spark { app: spec, sub, exec: None }) = (app, labels) else {
            return Ok(String::new());
        };
        let mut conf = (*spec).clone();
        std::sync::Arc::make_mut(&mut conf.spec).spark_conf = properties;
        let sub = Arc::new(Submission {
            executor_prefix: conf
                .spec
                .spark_conf
                .get("spark.kubernetes.executor.podNamePrefix")
                .cloned()
                .unwrap_or(sub.executor_prefix.clone()),
            ..(*sub).clone()
        });
        let conf = Arc::new(conf);
        let a = self.store.app_mut(id);
        a.app = conf.clone();
        a.work = work_of(&conf);
        if let Some(p) = self.store.pod_mut(pod) {
            p.labels = LabelSource::Spark { app: conf, sub, exec: None };
        }
        self.route(Signal::DriverPodCreated { app: id, run, pod });
        if was_up {
            self.route(Signal::ProcessUp(pod));
        }
        Ok(String::new())
    }

    /// Runs to the end of the timeline (or the scenario's max duration), feeding `sink`.
    pub fn run(&mut self, sink: &mut dyn Sink) -> RunSummary {
        while self.step(sink).is_some() {}
        self.finish(sink)
    }

    /// Stops the run from outside (Ctrl-C, SIGTERM): the step in progress fails with `message`
    /// and the run ends with `reason`; [`Simulation::finish`] then heals and closes it.
    pub fn interrupt(&mut self, message: &str, reason: &str, sink: &mut dyn Sink) {
        if !self.open_ended {
            let fx = self.timeline.interrupt(message, reason.to_string());
            self.apply_effects(fx);
        }
        self.stop(reason.to_string());
        self.flush(sink);
    }

    /// Ends the run: every fault still active is healed (even when a step failed), and the
    /// last record written.
    pub fn finish(&mut self, sink: &mut dyn Sink) -> RunSummary {
        self.flush(sink);
        self.stop("stopped".into());
        Faults::heal_all(self);
        let reason = self.done.clone().unwrap_or_default();
        self.emit(Event::RunEnded { reason: reason.clone() });
        self.flush(sink);
        RunSummary {
            end: self.k.now(),
            reason,
            events: self.k.fired(),
            pods_created: self.store.pods.len() as u64,
            peak_pods: self.store.peak_pods,
        }
    }

    fn stop(&mut self, reason: String) {
        if self.done.is_none() {
            self.done = Some(reason);
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Sched(e) => Scheduling::handle(self, e),
            Ev::Kubelet(e) => Kubelet::handle(self, e),
            Ev::Nodes(e) => NodeLifecycle::handle(self, e),
            Ev::Operator(e) => Operator::handle(self, e),
            Ev::Driver(e) => Drivers::handle(self, e),
            Ev::Autoscaler(e) => Autoscaler::handle(self, e),
            Ev::Faults(e) => Faults::handle(self, e),
            Ev::Quota(e) => Quotas::handle(self, e),
            Ev::Scheduled(e) => ScheduledApps::handle(self, e),
            Ev::Upgrade(e) => Upgrades::handle(self, e),
            Ev::Timeline(timer) => {
                let fx = self.timeline.on_timer(timer, &self.view);
                self.apply_effects(fx);
            }
        }
        self.upgrades_finished();
    }

    /// Feeds the outcomes of upgrade steps that finished to the timeline (which may start the
    /// next step).
    fn upgrades_finished(&mut self) {
        while !self.finished_upgrades.is_empty() {
            let outcome = self.finished_upgrades.remove(0);
            if self.done.is_some() {
                continue;
            }
            let fx = self.timeline.completed(outcome, &self.view);
            self.apply_effects(fx);
        }
    }

    /// Carries out the timeline's effects in order; an action's outcome feeds the timeline at
    /// once, and what it returns runs next.
    fn apply_effects(&mut self, fx: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = fx.into();
        while let Some(e) = queue.pop_front() {
            if self.done.is_some() {
                return;
            }
            let outcome = match e {
                Effect::Emit(ev) => {
                    self.emit(ev);
                    continue;
                }
                Effect::Arm { timer, after } => {
                    self.k.schedule(after, Ev::Timeline(timer));
                    continue;
                }
                Effect::CreateApp { template, name } => {
                    Operator::create_app(self, template, &name);
                    continue;
                }
                Effect::CreateScheduled { template, name } => {
                    let t = &self.plan.scheduled[template];
                    let (app, work) = (t.app.renamed(&name), t.work);
                    ScheduledApps::create(self, app, work);
                    continue;
                }
                Effect::Finish(reason) => {
                    self.stop(reason);
                    continue;
                }
                Effect::Submit { template, names } => {
                    for name in &names {
                        Operator::create_app(self, template, name);
                    }
                    Ok(String::new())
                }
                Effect::Inject(f) => {
                    Faults::inject(self, &f);
                    Ok(String::new())
                }
                Effect::Heal(id) => {
                    Faults::heal(self, &id);
                    Ok(String::new())
                }
                Effect::Patch { apps, spec } => Operator::patch_apps(self, &apps, &spec),
                Effect::Upgrade(u) => {
                    // The step completes when the upgrade reports its end.
                    Upgrades::start(self, &u);
                    if self.finished_upgrades.is_empty() {
                        continue;
                    }
                    self.finished_upgrades.remove(0)
                }
            };
            let more = self.timeline.completed(outcome, &self.view);
            for e in more.into_iter().rev() {
                queue.push_front(e);
            }
        }
    }

    /// Hands buffered records to the sink; re-checks the timeline when apps or pods changed
    /// (which may start the next step and emit more).
    fn flush(&mut self, sink: &mut dyn Sink) {
        while self.k.has_trace() {
            let out = self.k.take_trace();
            let changed = out.iter().any(|r| {
                matches!(
                    r.event,
                    Event::AppState { .. }
                        | Event::AppCreated { .. }
                        | Event::PodCreated { .. }
                        | Event::PodRunning { .. }
                        | Event::PodTerminated { .. }
                        | Event::PodDeleted { .. }
                )
            });
            for rec in &out {
                sink.record(rec);
            }
            if changed && self.done.is_none() {
                let fx = self.timeline.on_view_changed(&self.view);
                self.apply_effects(fx);
            }
        }
    }

    /// Routes a signal to the controllers that watch that kind of change. The one place
    /// where one controller's change reaches another.
    fn route(&mut self, s: Signal) {
        let owner = |sim: &Simulation, id| crate::api::owner_of(&sim.store, id);
        match s {
            Signal::PodCreated(id) => Scheduling::add(self, id),
            Signal::DriverPodCreated { app, run, pod } => Drivers::driver_pod_created(self, app, run, pod),
            Signal::PodBound(id) => Kubelet::pod_bound(self, id),
            Signal::PodChanged(id) => match owner(self, id) {
                Some(Owner::Driver { app, run }) => {
                    if !self.store.app(app).external {
                        Operator::driver_pod_changed(self, app, run);
                    }
                    Drivers::driver_lifecycle(self, app, run, id);
                }
                Some(Owner::Executor { app, run, exec }) => Drivers::executor_pod_changed(self, app, run, exec),
                Some(Owner::Component(c)) => Deployments::pod_changed(self, c),
                None => {}
            },
            Signal::ComponentStarted(id) => Deployments::component_started(self, id),
            Signal::ProcessUp(id) => match self.awaiting_conf.get_mut(&id) {
                Some(up) => *up = true,
                None => Drivers::process_up(self, id),
            },
            Signal::PodGone(_, owner) => {
                match owner {
                    Owner::Driver { app, run } => {
                        Drivers::driver_gc(self, app, run);
                        if !self.store.app(app).external {
                            Operator::driver_pod_gone(self, app, run);
                        }
                    }
                    Owner::Executor { app, run, exec } => Drivers::executor_pod_gone(self, app, run, exec),
                    Owner::Component(c) => Deployments::pod_changed(self, c),
                }
                Upgrades::pod_gone(self);
            }
            Signal::PodForgotten(id) => Scheduling::forget(self, id),
            Signal::ResourcesFreed => Scheduling::on_resources_freed(self),
            Signal::NodeAdded(n) => {
                Kubelet::node_added(self, n);
                Scheduling::on_node_added(self, n);
            }
            Signal::NodeUpdated(n) => Scheduling::on_node_updated(self, n),
            Signal::NodeRemoved(_) => Scheduling::on_node_removed(self),
            Signal::NodeDown { node, machine } => NodeLifecycle::node_down(self, node, machine),
            Signal::NodeUp { node, machine } => NodeLifecycle::node_up(self, node, machine),
            Signal::DeleteNode { node, reason } => NodeLifecycle::delete_node(self, node, &reason),
            Signal::KubeletDown(n) => Kubelet::node_down(self, n),
            Signal::PodUnreachable(id) => match owner(self, id) {
                Some(Owner::Component(c)) => Deployments::pod_changed(self, c),
                Some(_) => Drivers::unreachable(self, id),
                None => {}
            },
            Signal::KubeletBack { node, machine_lost } => Kubelet::resync(self, node, machine_lost),
            Signal::NodeReconnected(n) => Drivers::node_reconnected(self, n),
            Signal::ComponentChanged(c) => Deployments::pod_changed(self, c),
            Signal::DeploymentScaled(idx) => Deployments::scaled(self, idx),
            Signal::ControllerPodsChanged => Operator::lease_changed(self),
            Signal::QuotaRecalc(ns) => Quotas::recalc(self, &ns),
            Signal::AppCreated(id) => Operator::app_created(self, id),
            Signal::OperatorElected => ScheduledApps::elected(self),
            Signal::LeaderChanged => Upgrades::leader_changed(self),
            Signal::PlatformChanged => Upgrades::platform_changed(self),
            Signal::RollDeployment { deployment, image } => {
                Deployments::roll(self, deployment, image);
            }
            Signal::UpgradeFinished(outcome) => self.finished_upgrades.push(outcome),
            Signal::WatchesReconnected => Operator::relist(self),
            Signal::ControlPlaneUpgraded(minor) => Scheduling::set_kubernetes_minor(self, minor),
        }
    }
}

/// Every template must turn into pods (quantities parse): checked before anything runs.
fn check_apps(plan: &Scenario) -> Result<(), SimError> {
    for t in &plan.templates {
        let sub = sparkrig_model::podspec::Submission::generate(&t.app, &[0; 38], 0, true);
        sparkrig_model::podspec::driver_pod(&t.app, &sub)
            .and_then(|_| sparkrig_model::podspec::executor_pod(&t.app, &sub, 1))
            .map_err(|message| SimError::BadApp { file: t.file.clone(), message })?;
    }
    Ok(())
}

impl Api for Simulation {
    fn now(&self) -> Time {
        self.k.now()
    }

    fn schedule(&mut self, after: Dur, key: Option<Key>, ev: Ev) {
        match key {
            Some(k) => self.k.schedule_keyed(k, after, ev),
            None => self.k.schedule(after, ev),
        }
    }

    fn cancel(&mut self, key: Key) {
        self.k.cancel(&key);
    }

    fn emit(&mut self, event: Event) {
        let rec = Record { t: self.k.now(), event };
        self.view.apply(&rec);
        self.k.push_record(rec);
    }

    fn rng(&mut self) -> &mut ChaCha8Rng {
        self.k.rng()
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
        self.route(s);
    }
}

/// Gives each controller its own state through [`Cx::me`].
macro_rules! own_state {
    ($($field:ident: $ty:ty),* $(,)?) => {$(
        impl Cx<$ty> for Simulation {
            fn me(&mut self) -> &mut $ty {
                &mut self.$field
            }
            fn me_ref(&self) -> &$ty {
                &self.$field
            }
            fn parts(&mut self) -> (&mut $ty, &mut Store, &mut ChaCha8Rng) {
                (&mut self.$field, &mut self.store, self.k.rng())
            }
        }
    )*};
}

own_state!(
    scheduling: Scheduling,
    kubelet: Kubelet,
    nodes: NodeLifecycle,
    deployments: Deployments,
    operator: Operator,
    drivers: Drivers,
    autoscaler: Autoscaler,
    faults: Faults,
    quotas: Quotas,
    scheduled: ScheduledApps,
    upgrades: Upgrades,
);
