//! The simulation: one owner of virtual time, one event queue ordered by `(time, sequence)`,
//! one seeded RNG, and the controllers as handlers over shared state.
//!
//! ```text
//!  arrivals/steps ──▶ operator ──spark-submit──▶ driver pod ──▶ scheduler ──bind──▶ kubelet
//!        ▲               ▲                          │                             │
//!        │               └──── pod phase events ◀───┴──────── containers ◀────────┘
//!   timeline (waits read the trace view)     driver ──executor pods──▶ scheduler ...
//! ```
//!
//! Entry point: [`Simulation::new`] then [`Simulation::run`]. Each concern is one module:
//! [`queue`] (scheduling queue), [`kubelet`], [`operator`], [`driver`], [`components`],
//! [`timeline`]. Handlers mutate state and schedule events; every observable change goes
//! through [`Simulation::emit`] into the trace.

mod autoscaler;
mod components;
mod driver;
mod faults;
mod kubelet;
mod nodes;
mod operator;
mod queue;
mod timeline;

use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sparkrig_model::kube::Toleration;
use sparkrig_model::scenario::Scenario;
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::{Event, PodPhase, Record, Sink, TraceView};

use crate::bucket::TokenBucket;
use crate::cluster::{Node, Res, SchedSpec};
use crate::intern::{Interner, Sym};
use crate::scheduler::Scheduler;
use crate::scheduler::plugins::PluginSet;
use crate::timings::Timings;

/// Index of a pod (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodId(pub u32);

/// Index of an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppId(pub u32);

/// Who owns a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A Spark driver of an app's run (submission).
    Driver { app: AppId, run: u32 },
    /// A Spark executor.
    Executor { app: AppId, run: u32, exec: u32 },
    /// A platform component (Deployment index).
    Component(usize),
}

/// Pod phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Pending,
    Running,
    Succeeded,
    Failed,
}

/// Where a pod is in the scheduling queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queued {
    No,
    Active,
    Backoff,
    Unschedulable,
}

/// A pod.
#[derive(Debug, Clone)]
pub(crate) struct Pod {
    pub key: String,
    pub owner: Owner,
    pub spec: Arc<SchedSpec>,
    pub image: Sym,
    /// Pulled from the private registry (Spark images) rather than preloaded.
    pub from_registry: bool,
    pub phase: Phase,
    pub node: Option<usize>,
    /// Bound (the binding API call completed); before that it is only assumed.
    pub bound: bool,
    /// deletionTimestamp.
    pub deleting: Option<Time>,
    /// Counted in its node's requested resources.
    pub accounted: bool,
    /// Container started at.
    pub started: Option<Time>,
    /// Incremented whenever the container (re)starts or stops, to invalidate stale events.
    pub generation: u32,
    // Scheduling queue state.
    pub queued: Queued,
    /// Identifies the pod's current queue entry (heap entries are removed lazily).
    pub queue_seq: u64,
    pub attempts: u32,
    pub last_attempt: Time,
    pub queued_at: Time,
    pub rejectors: PluginSet,
    pub last_message: Option<String>,
    // Kubelet image pull backoff.
    pub pull_failures: u32,
    /// Main container exit code and reason once terminated.
    pub exit: Option<(i32, &'static str)>,
    /// A container exit that happened while the node was cut off, reported on reconnect.
    pub pending_exit: Option<(i32, &'static str, String)>,
    /// Container restarts (restartPolicy Always) and the current crash backoff.
    pub restarts: u32,
}

/// Per-node state the scheduler does not need.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeRt {
    /// The Ready condition as the API server shows it.
    pub ready: bool,
    /// The machine and its kubelet are up (containers run).
    pub machine_up: bool,
    /// The node can reach the API server and other nodes.
    pub connected: bool,
    /// When the node registered (lease renewals are on a 10 s grid from here).
    pub joined: Time,
    /// Bumped on every up/down change; node-lifecycle events carry it.
    pub epoch: u32,
    /// When the containers last stopped with the machine (for the kubelet's resync).
    pub machine_lost: bool,
    /// Images present.
    pub images: Vec<Sym>,
    /// Pulls in flight: image → pods waiting for it.
    pub pulling: BTreeMap<Sym, Vec<PodId>>,
    /// Pods bound or assumed here.
    pub pods: Vec<PodId>,
}

/// A queued event: ordered by time, then by the order it was scheduled in (FIFO for ties).
#[derive(Debug)]
struct Entry {
    at: Time,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        // BinaryHeap is a max-heap: the earliest (time, seq) must compare greatest.
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// Simulation events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ev {
    // Scheduler.
    SchedCycle,
    BackoffFlush,
    LeftoverFlush,
    Bind { pod: PodId, node: usize },
    // Kubelet.
    PullDone { node: usize, image: Sym },
    PullRetry { pod: PodId, epoch: u32 },
    ContainerStarted { pod: PodId, epoch: u32 },
    ProcessUp { pod: PodId, epoch: u32 },
    ContainerExit { pod: PodId, epoch: u32, code: i32, reason: &'static str, message: String },
    PodStopped { pod: PodId },
    // Node lifecycle and PodGC.
    NodeMonitor { node: usize, epoch: u32 },
    NodeNoExecute { node: usize, epoch: u32 },
    Evict { pod: PodId, node: usize, epoch: u32 },
    NodeRecovered { node: usize, epoch: u32 },
    DeleteNode { node: usize },
    PodGc { node: usize },
    // Faults.
    SpotTerminate { nodes: Vec<usize> },
    DnsConfig { broken: bool, epoch: u32 },
    // Leader election.
    LeaderTry,
    // Cluster Autoscaler.
    AutoscalerLoop,
    NodeRegister { group: usize },
    NodeBecomesReady { node: usize },
    AutoscalerDelete { node: usize },
    // Component containers.
    ComponentRestart { pod: PodId, epoch: u32 },
    // Spark Operator.
    Enqueue { app: AppId },
    SubmitDone { app: AppId, attempt: u32, leader: u32 },
    // Spark driver.
    DriverTick { app: AppId, run: u32 },
    CreateExecutor { app: AppId, run: u32, exec: u32, batch: u32 },
    StartScheduling { app: AppId, run: u32 },
    TaskDone { app: AppId, run: u32, exec: u32, token: u64 },
    HeartbeatTimeout { app: AppId, run: u32, exec: u32, epoch: u32 },
    ExecutorSelfExit { pod: PodId, epoch: u32 },
    AllocationTick { app: AppId, run: u32 },
    // Timeline.
    Arrival { index: usize },
    StepStart { step: usize },
    StepDone { step: usize },
    WaitTimeout { step: usize },
}

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
    now: Time,
    seq: u64,
    queue: BinaryHeap<Entry>,
    rng: ChaCha8Rng,
    t: Timings,
    plan: Arc<Scenario>,
    interner: Interner,
    nodes: Vec<Node>,
    node_rt: Vec<NodeRt>,
    /// Scheduler snapshot order (live nodes, zone-interleaved).
    node_order: Vec<usize>,
    node_order_dirty: bool,
    pods: Vec<Option<Box<Pod>>>,
    pod_index: BTreeMap<String, PodId>,
    live_pods: u64,
    peak_pods: u64,
    scheduler: Scheduler,
    sched: queue::SchedQueue,
    bind_bucket: TokenBucket,
    components: components::Components,
    op: operator::Operator,
    apps: Vec<operator::App>,
    drivers: BTreeMap<(AppId, u32), driver::Driver>,
    timeline: timeline::Timeline,
    view: TraceView,
    out: Vec<Record>,
    events: u64,
    done: Option<String>,
    /// True while the platform is being brought up at t=0 (containers start at once).
    bootstrapping: bool,
    /// Next free slot of the node lifecycle controller's eviction rate limiter.
    eviction_slot: Time,
    /// Faults injected and not healed.
    faults: faults::Faults,
    /// CoreDNS answers cluster names (false while a broken Corefile is loaded).
    dns_config_ok: bool,
    /// The Spark Operator controller's leader election.
    lease: operator::Lease,
    /// The Cluster Autoscaler.
    autoscaler: autoscaler::Autoscaler,
}

impl Simulation {
    /// Builds the cluster of `plan` at t=0: nodes registered and Ready, platform components
    /// running, arrivals and the first step scheduled.
    pub fn new(plan: &Scenario) -> Result<Simulation, SimError> {
        let plan = Arc::new(plan.clone());
        let t = Timings::with_overrides(&plan.sim);
        let mut sim = Simulation {
            now: Time::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            rng: ChaCha8Rng::seed_from_u64(plan.seed),
            bind_bucket: TokenBucket::new(plan.stack.scheduler_qps, plan.stack.scheduler_burst),
            scheduler: Scheduler::new(plan.stack.kubernetes_minor),
            op: operator::Operator::new(&plan, &t),
            t,
            interner: Interner::default(),
            nodes: Vec::new(),
            node_rt: Vec::new(),
            node_order: Vec::new(),
            node_order_dirty: true,
            pods: Vec::new(),
            pod_index: BTreeMap::new(),
            live_pods: 0,
            peak_pods: 0,
            sched: queue::SchedQueue::default(),
            components: components::Components::default(),
            apps: Vec::new(),
            drivers: BTreeMap::new(),
            timeline: timeline::Timeline::new(&plan),
            view: TraceView::current_only(),
            out: Vec::new(),
            events: 0,
            done: None,
            bootstrapping: true,
            eviction_slot: Time::ZERO,
            faults: faults::Faults::default(),
            dns_config_ok: true,
            lease: operator::Lease::default(),
            autoscaler: autoscaler::Autoscaler::default(),
            plan,
        };
        sim.check_apps()?;
        sim.emit(Event::RunStarted { scenario: sim.plan.name.clone(), backend: "sim".into(), seed: Some(sim.plan.seed) });
        sim.bootstrap_nodes();
        sim.bootstrap_components();
        // Bring the platform up within t=0 (the real backends wait for readiness before the
        // scenario starts).
        while sim.queue.peek().is_some_and(|e| e.at == Time::ZERO) {
            let e = sim.queue.pop().expect("peeked");
            sim.handle(e.ev);
        }
        sim.bootstrapping = false;
        sim.start_autoscaler();
        sim.start_timeline();
        Ok(sim)
    }

    /// Runs to the end of the timeline (or the scenario's max duration), feeding `sink`.
    pub fn run(&mut self, sink: &mut dyn Sink) -> RunSummary {
        self.flush(sink);
        while self.done.is_none() {
            let Some(Entry { at, ev, .. }) = self.queue.pop() else {
                self.finish("nothing left to happen");
                break;
            };
            if at.since(Time::ZERO) > self.plan.max_duration {
                self.now = Time::ZERO + self.plan.max_duration;
                self.finish(&format!("max duration {} reached", self.plan.max_duration));
                break;
            }
            self.now = at;
            self.events += 1;
            self.handle(ev);
            self.flush(sink);
        }
        // Every fault still active is healed, even when a step failed.
        self.heal_all();
        let reason = self.done.clone().unwrap_or_default();
        self.emit(Event::RunEnded { reason: reason.clone() });
        self.flush(sink);
        RunSummary { end: self.now, reason, events: self.events, pods_created: self.pods.len() as u64, peak_pods: self.peak_pods }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::SchedCycle => self.sched_cycle(),
            Ev::BackoffFlush => self.backoff_flush(),
            Ev::LeftoverFlush => self.leftover_flush(),
            Ev::Bind { pod, node } => self.bind_done(pod, node),
            Ev::PullDone { node, image } => self.pull_done(node, image),
            Ev::PullRetry { pod, epoch } => self.pull_retry(pod, epoch),
            Ev::ContainerStarted { pod, epoch } => self.container_started(pod, epoch),
            Ev::ProcessUp { pod, epoch } => self.process_up(pod, epoch),
            Ev::ContainerExit { pod, epoch, code, reason, message } => self.container_exit(pod, epoch, code, reason, message),
            Ev::PodStopped { pod } => self.pod_stopped(pod),
            Ev::NodeMonitor { node, epoch } => self.node_monitor(node, epoch),
            Ev::NodeNoExecute { node, epoch } => self.node_no_execute(node, epoch),
            Ev::Evict { pod, node, epoch } => self.evict(pod, node, epoch),
            Ev::NodeRecovered { node, epoch } => self.node_recovered(node, epoch),
            Ev::DeleteNode { node } => self.delete_node(node, "deleted after the machine was lost"),
            Ev::PodGc { node } => self.pod_gc(node),
            Ev::SpotTerminate { nodes } => self.spot_terminate(&nodes),
            Ev::DnsConfig { broken, epoch } => self.dns_config(broken, epoch),
            Ev::LeaderTry => self.leader_try(),
            Ev::AutoscalerLoop => self.autoscaler_loop(),
            Ev::NodeRegister { group } => self.node_register(group),
            Ev::NodeBecomesReady { node } => self.node_becomes_ready(node),
            Ev::AutoscalerDelete { node } => self.autoscaler_delete(node),
            Ev::ComponentRestart { pod, epoch } => self.component_restart(pod, epoch),
            Ev::Enqueue { app } => self.op_enqueue_now(app),
            Ev::SubmitDone { app, attempt, leader } => self.submit_done(app, attempt, leader),
            Ev::DriverTick { app, run } => self.driver_tick(app, run),
            Ev::CreateExecutor { app, run, exec, batch } => self.create_executor(app, run, exec, batch),
            Ev::StartScheduling { app, run } => self.start_scheduling(app, run),
            Ev::TaskDone { app, run, exec, token } => self.task_done(app, run, exec, token),
            Ev::HeartbeatTimeout { app, run, exec, epoch } => self.heartbeat_timeout(app, run, exec, epoch),
            Ev::ExecutorSelfExit { pod, epoch } => self.executor_self_exit(pod, epoch),
            Ev::AllocationTick { app, run } => self.allocation_tick(app, run),
            Ev::Arrival { index } => self.arrival(index),
            Ev::StepStart { step } => self.step_start(step),
            Ev::StepDone { step } => self.step_done(step),
            Ev::WaitTimeout { step } => self.wait_timeout(step),
        }
    }

    /// Schedules an event `after` from now.
    pub(crate) fn at(&mut self, after: Dur, ev: Ev) {
        self.seq += 1;
        self.queue.push(Entry { at: self.now + after, seq: self.seq, ev });
    }

    /// Records a trace event at the current time.
    pub(crate) fn emit(&mut self, event: Event) {
        let rec = Record { t: self.now, event };
        self.view.apply(&rec);
        self.out.push(rec);
    }

    /// Hands buffered records to the sink; re-checks a pending wait when apps or pods changed
    /// (which may start the next step and emit more).
    fn flush(&mut self, sink: &mut dyn Sink) {
        while !self.out.is_empty() {
            let changed = self.out.iter().any(|r| {
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
            for rec in self.out.drain(..) {
                sink.record(&rec);
            }
            if changed {
                self.check_wait();
            }
        }
    }

    fn finish(&mut self, reason: &str) {
        if self.done.is_none() {
            self.done = Some(reason.to_string());
        }
    }

    /// Every template must turn into pods (quantities parse): checked before anything runs.
    fn check_apps(&self) -> Result<(), SimError> {
        for t in &self.plan.templates {
            let sub = sparkrig_model::podspec::Submission::generate(&t.app, &[0; 38], 0, true);
            sparkrig_model::podspec::driver_pod(&t.app, &sub)
                .and_then(|_| sparkrig_model::podspec::executor_pod(&t.app, &sub, 1))
                .map_err(|message| SimError::BadApp { file: t.file.clone(), message })?;
        }
        Ok(())
    }

    // ----- pods -----

    pub(crate) fn pod(&self, id: PodId) -> Option<&Pod> {
        self.pods.get(id.0 as usize).and_then(|p| p.as_deref())
    }

    pub(crate) fn pod_mut(&mut self, id: PodId) -> Option<&mut Pod> {
        self.pods.get_mut(id.0 as usize).and_then(|p| p.as_deref_mut())
    }

    /// Creates a pod object (emits `pod_created`) and queues it for scheduling.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create_pod(
        &mut self,
        key: String,
        owner: Owner,
        spec: Arc<SchedSpec>,
        image: &str,
        from_registry: bool,
        app: Option<String>,
        role: Option<sparkrig_model::podspec::SparkRole>,
        component: Option<String>,
        node_selector: sparkrig_model::kube::Labels,
    ) -> PodId {
        let id = PodId(self.pods.len() as u32);
        let image = self.interner.intern(image);
        self.emit(Event::PodCreated {
            pod: key.clone(),
            app,
            role,
            component,
            node_selector,
            tolerations: spec.tolerations.clone(),
            cpu_millis: spec.req.cpu,
            memory_bytes: spec.req.mem,
        });
        self.pod_index.insert(key.clone(), id);
        self.pods.push(Some(Box::new(Pod {
            key,
            owner,
            spec,
            image,
            from_registry,
            phase: Phase::Pending,
            node: None,
            bound: false,
            deleting: None,
            accounted: false,
            started: None,
            generation: 0,
            queued: Queued::No,
            queue_seq: 0,
            attempts: 0,
            last_attempt: Time::ZERO,
            queued_at: self.now,
            rejectors: PluginSet::default(),
            last_message: None,
            pull_failures: 0,
            exit: None,
            pending_exit: None,
            restarts: 0,
        })));
        self.live_pods += 1;
        self.peak_pods = self.peak_pods.max(self.live_pods);
        self.sched_add(id);
        id
    }

    /// Releases a pod's node resources (terminal or gone) and lets the scheduler retry pods
    /// that were waiting for room.
    pub(crate) fn release(&mut self, id: PodId) {
        let Some(p) = self.pod_mut(id) else { return };
        if !p.accounted {
            return;
        }
        p.accounted = false;
        let (node, spec) = (p.node, p.spec.clone());
        if let Some(n) = node {
            self.nodes[n].remove_pod(&spec);
            self.sched_on_resources_freed();
        }
    }

    /// The pod object is removed (emits `pod_deleted`) and its owner is told.
    pub(crate) fn remove_pod(&mut self, id: PodId, reason: &str) {
        self.release(id);
        let Some(p) = self.pods.get_mut(id.0 as usize).and_then(Option::take) else { return };
        self.live_pods -= 1;
        if let Some(n) = p.node {
            self.node_rt[n].pods.retain(|x| *x != id);
        }
        if self.pod_index.get(&p.key) == Some(&id) {
            self.pod_index.remove(&p.key);
        }
        if p.queued != Queued::No {
            self.sched_forget(id);
        }
        self.emit(Event::PodDeleted { pod: p.key.clone(), reason: reason.to_string() });
        self.pod_gone(id, &p);
    }

    /// Graceful deletion: the deletionTimestamp is set; a live kubelet stops the containers and
    /// the object goes away; on a dead or unreachable node the pod stays Terminating.
    pub(crate) fn delete_pod(&mut self, id: PodId, reason: &str) {
        let Some(p) = self.pod(id) else { return };
        if p.deleting.is_some() {
            return;
        }
        let (key, node, phase) = (p.key.clone(), p.node, p.phase);
        let on_live_node = node.is_some_and(|n| self.node_reachable(n));
        if node.is_none() || matches!(phase, Phase::Succeeded | Phase::Failed) && on_live_node {
            self.remove_pod(id, reason);
            return;
        }
        self.pod_mut(id).expect("checked").deleting = Some(self.now);
        self.emit(Event::PodTerminating { pod: key, reason: reason.to_string() });
        self.pod_deleting(id);
        let n = node.expect("checked");
        if self.node_reachable(n) {
            let stop = if phase == Phase::Running { self.stop_delay(id) } else { Dur::ZERO };
            self.at(stop, Ev::PodStopped { pod: id });
        }
    }

    /// Force deletion (grace period 0): the object goes at once, wherever the pod runs.
    pub(crate) fn force_delete(&mut self, id: PodId, reason: &str) {
        if self.pod(id).is_some() {
            self.remove_pod(id, reason);
        }
    }

    /// The node's kubelet is alive and can reach the API server.
    pub(crate) fn node_reachable(&self, n: usize) -> bool {
        let rt = &self.node_rt[n];
        rt.machine_up && rt.connected
    }

    /// A pod's processes are running and reachable over the network.
    pub(crate) fn pod_reachable(&self, id: PodId) -> bool {
        self.pod(id).is_some_and(|p| p.phase == Phase::Running && p.node.is_some_and(|n| self.node_reachable(n)))
    }

    /// Sets a terminal phase (emits `pod_terminated`), releases resources, tells the owner.
    pub(crate) fn terminate(&mut self, id: PodId, code: i32, reason: &'static str, message: String) {
        let Some(p) = self.pod_mut(id) else { return };
        if matches!(p.phase, Phase::Succeeded | Phase::Failed) {
            return;
        }
        p.phase = if code == 0 { Phase::Succeeded } else { Phase::Failed };
        p.exit = Some((code, reason));
        p.generation += 1;
        let key = p.key.clone();
        let phase = if code == 0 { PodPhase::Succeeded } else { PodPhase::Failed };
        self.emit(Event::PodTerminated { pod: key, phase, exit_code: Some(code), reason: reason.into(), message });
        self.release(id);
        self.pod_phase_changed(id);
    }

    /// Routes "this pod changed phase" to its owner.
    pub(crate) fn pod_phase_changed(&mut self, id: PodId) {
        let Some(owner) = self.pod(id).map(|p| p.owner) else { return };
        match owner {
            Owner::Driver { app, run } => self.driver_pod_changed(app, run, id),
            Owner::Executor { app, run, exec } => self.executor_pod_changed(app, run, exec),
            Owner::Component(c) => self.component_pod_changed(c),
        }
    }

    fn pod_deleting(&mut self, id: PodId) {
        self.pod_phase_changed(id);
    }

    fn pod_gone(&mut self, id: PodId, p: &Pod) {
        match p.owner {
            Owner::Driver { app, run } => self.driver_pod_gone(app, run, id),
            Owner::Executor { app, run, exec } => self.executor_pod_gone(app, run, exec),
            Owner::Component(c) => self.component_pod_changed(c),
        }
    }

    // ----- nodes -----

    fn bootstrap_nodes(&mut self) {
        let plan = self.plan.clone();
        let mut zone_i = 0;
        for (g, group) in plan.topology.groups.iter().enumerate() {
            for k in 1..=group.count {
                let zone = (!plan.topology.zones.is_empty()).then(|| {
                    zone_i += 1;
                    plan.topology.zones[(zone_i - 1) % plan.topology.zones.len()].clone()
                });
                self.add_node(g, &format!("{}-{k}", group.name), zone.as_deref(), true);
            }
        }
    }

    /// Registers a node (Ready at once when `ready`).
    pub(crate) fn add_node(&mut self, group: usize, name: &str, zone: Option<&str>, ready: bool) -> usize {
        let plan = self.plan.clone();
        let g = &plan.topology.groups[group];
        let labels = g.node_labels(&plan.topology, name, zone);
        // A registering node is tainted not-ready:NoSchedule until it reports Ready.
        let mut taints = g.taints.clone();
        if !ready {
            taints.push(Simulation::not_ready_taint());
        }
        let node =
            Node::new(name, group as u16, &labels, taints.clone(), Res::new(g.cpu_millis, g.memory_bytes), g.max_pods, &mut self.interner);
        self.emit(Event::NodeAdded {
            node: name.to_string(),
            group: g.name.clone(),
            interruptible: g.interruptible,
            labels,
            taints,
            cpu_millis: g.cpu_millis,
            memory_bytes: g.memory_bytes,
            pods: g.max_pods,
        });
        self.nodes.push(node);
        self.node_rt.push(NodeRt { ready, machine_up: true, connected: true, joined: self.now, ..Default::default() });
        self.node_order_dirty = true;
        if ready {
            self.emit(Event::NodeReady { node: name.to_string() });
        }
        let idx = self.nodes.len() - 1;
        self.sched_on_node_added(idx);
        idx
    }

    /// Live nodes in snapshot order: one node per zone in turn (the node tree).
    pub(crate) fn order(&mut self) -> &[usize] {
        if self.node_order_dirty {
            let zone = self.interner.get("topology.kubernetes.io/zone");
            let mut by_zone: BTreeMap<Option<Sym>, Vec<usize>> = BTreeMap::new();
            for (i, n) in self.nodes.iter().enumerate().filter(|(_, n)| !n.gone) {
                by_zone.entry(zone.and_then(|z| n.labels.get(z))).or_default().push(i);
            }
            let mut lists: Vec<std::vec::IntoIter<usize>> = by_zone.into_values().map(Vec::into_iter).collect();
            self.node_order.clear();
            while self.node_order.len() < self.nodes.iter().filter(|n| !n.gone).count() {
                for l in lists.iter_mut() {
                    if let Some(i) = l.next() {
                        self.node_order.push(i);
                    }
                }
            }
            self.node_order_dirty = false;
        }
        &self.node_order
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

    /// A random byte array from the seeded RNG.
    pub(crate) fn random_bytes<const N: usize>(&mut self) -> [u8; N] {
        use rand::RngCore;
        let mut b = [0u8; N];
        self.rng.fill_bytes(&mut b);
        b
    }
}
