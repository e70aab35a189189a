//! What a controller may touch: its own state and events, the store, the clock, the RNG, the
//! trace, and the cluster API (create, delete and update objects). It never calls another
//! controller: changes other controllers must see are [`Signal`]s, which the simulation routes
//! in one place (`Simulation::route` in [`crate::world`]), synchronously, at the instant they
//! happen — as watch events reach informers.
//!
//! ```text
//!   controller handler(cx, own event)
//!        │ cx.me()            own state
//!        │ cx.store()         cluster state (read; write the fields it owns)
//!        │ cx.at(…)           its own timers          ──▶ kernel
//!        │ cx.create_pod(…)   API writes ──▶ store + trace ──▶ Signal ──▶ route ──▶ other handlers
//! ```
//!
//! Entry points: [`Api`] (shared by every controller; the API operations are written once, as
//! provided methods) and [`Cx`] (one controller's view). The simulation implements both for
//! every controller; unit tests implement them with a fake that records what a handler did.

use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use sparkrig_model::kube::{Labels, Taint, TaintEffect};
use sparkrig_model::scenario::{Scenario, Work};
use sparkrig_model::sparkapp::SparkApplication;
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::timeline::Timer;
use sparkrig_model::trace::{Event, PodPhase};

use crate::cluster::{Node, Res};
use crate::controllers::{autoscaler, driver, faults, kubelet, node_lifecycle, operator, quota, scheduled, scheduling, upgrade};
use crate::store::{AppId, NewPod, NodeState, Owner, Phase, PodId, Store};
use crate::timings::Timings;

/// Every event the kernel can hold: one variant per controller, each with its own events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    /// Scheduler and its queue.
    Sched(scheduling::Ev),
    /// Kubelet.
    Kubelet(kubelet::Ev),
    /// Node lifecycle and PodGC.
    Nodes(node_lifecycle::Ev),
    /// Spark Operator.
    Operator(operator::Ev),
    /// Spark drivers.
    Driver(driver::Ev),
    /// Cluster Autoscaler.
    Autoscaler(autoscaler::Ev),
    /// Fault catalog.
    Faults(faults::Ev),
    /// ResourceQuota controller.
    Quota(quota::Ev),
    /// ScheduledSparkApplication controller.
    Scheduled(scheduled::Ev),
    /// Upgrades.
    Upgrade(upgrade::Ev),
    /// The scenario timeline.
    Timeline(Timer),
}

/// Keys under which timers can be cancelled together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// A pod's container: pull retries, start, process up, exit (cancelled whenever the
    /// container starts, stops or is restarted).
    Container(PodId),
    /// A node's lifecycle timers (cancelled whenever it goes down, comes back or is deleted).
    Node(usize),
    /// The CoreDNS Corefile reload.
    Dns,
    /// spark-submits in flight (they die with the operator leader that started them).
    Submissions,
    /// Executors giving up on an unreachable driver (cancelled when it is reachable again).
    DriverReach(AppId, u32),
    /// The driver's heartbeat timeout for an executor (cancelled when it is reachable again).
    Heartbeat(AppId, u32, u32),
    /// A ScheduledSparkApplication's queued reconcile (replaced by an earlier one).
    Scheduled(usize),
    /// A node's drain by an upgrade: eviction retries and deadline (cancelled when it is drained).
    Drain(usize),
    /// A spot-interrupted node's drain retries (cancelled when the instance terminates).
    SpotDrain(usize),
}

/// A change other controllers must see, routed by the simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// A pod object was created (scheduler: into activeQ).
    PodCreated(PodId),
    /// spark-submit created this driver pod (Spark driver model).
    DriverPodCreated {
        /// App.
        app: AppId,
        /// Run.
        run: u32,
        /// Pod.
        pod: PodId,
    },
    /// A pod was bound (kubelet).
    PodBound(PodId),
    /// A pod changed phase or started terminating (its owner).
    PodChanged(PodId),
    /// A component container started (Deployments: start-up checks).
    ComponentStarted(PodId),
    /// A Spark JVM is up (Spark driver model).
    ProcessUp(PodId),
    /// A pod object is gone (its owner).
    PodGone(PodId, Owner),
    /// A pod that was queued for scheduling is gone (scheduler).
    PodForgotten(PodId),
    /// Node resources were released (scheduler: NodeResourcesFit retries).
    ResourcesFreed,
    /// A node registered (scheduler, kubelet).
    NodeAdded(usize),
    /// A node's taints, labels, readiness or `spec.unschedulable` changed (scheduler).
    NodeUpdated(usize),
    /// A Node object was deleted (scheduler).
    NodeRemoved(usize),
    /// A node's machine stopped (`machine`) or its network was cut (node lifecycle).
    NodeDown {
        /// Node.
        node: usize,
        /// Machine stopped (else: network cut).
        machine: bool,
    },
    /// A node's machine or network is back (node lifecycle).
    NodeUp {
        /// Node.
        node: usize,
        /// Machine (else: network).
        machine: bool,
    },
    /// Delete a Node object (node lifecycle).
    DeleteNode {
        /// Node.
        node: usize,
        /// Why.
        reason: String,
    },
    /// The kubelet of a node can no longer run or report anything (kubelet: pulls abandoned).
    KubeletDown(usize),
    /// A pod's processes died or became unreachable with their node (owner).
    PodUnreachable(PodId),
    /// A node is back and its kubelet resyncs its pods (kubelet).
    KubeletBack {
        /// Node.
        node: usize,
        /// Its containers died with the machine.
        machine_lost: bool,
    },
    /// A node is reachable again (Spark: heartbeats and results flow again).
    NodeReconnected(usize),
    /// A component may have started or stopped serving (Deployments).
    ComponentChanged(usize),
    /// A Deployment's `spec.replicas` changed (Deployments).
    DeploymentScaled(usize),
    /// The operator controller's pods changed (leader election).
    ControllerPodsChanged,
    /// A charged pod of this namespace became terminal or was removed: its quotas are
    /// recalculated (quota controller).
    QuotaRecalc(String),
    /// A SparkApplication was created through the API (operator: watch event).
    AppCreated(AppId),
    /// A new operator leader started (the ScheduledSparkApplication controller relists).
    OperatorElected,
    /// The operator controller's Lease changed hands, or lost its holder (upgrades watch it).
    LeaderChanged,
    /// A platform component's pods changed (upgrades watch rollouts).
    PlatformChanged,
    /// A Deployment gets a new pod template (a chart upgrade): Deployments roll it out.
    RollDeployment {
        /// Deployment index.
        deployment: usize,
        /// The new image.
        image: String,
    },
    /// The upgrade step in progress finished: its message, or why it failed (the timeline).
    UpgradeFinished(Result<String, String>),
    /// API server watches were cut and re-established: informers re-list (the operator).
    WatchesReconnected,
    /// The control plane's minor changed (the scheduler's version-dependent behaviour).
    ControlPlaneUpgraded(u32),
}

/// A controller: its state type names its events.
pub trait Controller {
    /// The events it schedules for itself.
    type Ev: Into<Ev>;
}

/// What every controller may do: time, trace, randomness, state, and the cluster API.
pub trait Api {
    /// Now.
    fn now(&self) -> Time;
    /// Schedules any event (controllers use [`Cx::at`], typed to their own events).
    fn schedule(&mut self, after: Dur, key: Option<Key>, ev: Ev);
    /// Cancels every timer armed under `key` so far.
    fn cancel(&mut self, key: Key);
    /// Records a trace event now.
    fn emit(&mut self, event: Event);
    /// The seeded RNG.
    fn rng(&mut self) -> &mut ChaCha8Rng;
    /// The scenario.
    fn plan(&self) -> &Arc<Scenario>;
    /// Timings.
    fn timings(&self) -> &Timings;
    /// Cluster state.
    fn store(&self) -> &Store;
    /// Cluster state, for the fields the caller owns.
    fn store_mut(&mut self) -> &mut Store;
    /// Tells the controllers that watch this kind of change.
    fn signal(&mut self, s: Signal);

    // ----- SparkApplications -----

    /// Creates a SparkApplication: the operator's webhook admits it (or the API server refuses
    /// it: `app_rejected`, the message returned); the operator is told.
    fn create_app(
        &mut self,
        app: SparkApplication,
        work: Work,
        template: Option<usize>,
        scheduled_by: Option<String>,
    ) -> Result<AppId, String> {
        use crate::controllers::operator::{APP_WEBHOOK, Admission, admission, quota_enforcement};
        let key = format!("{}/{}", app.namespace(), app.metadata.name);
        let watched = self.plan().stack.operator.watches(app.namespace());
        // The SparkApplication webhook covers CREATE on sparkapplications.
        let defaulted = match admission(self.plan(), self.store(), APP_WEBHOOK) {
            Admission::Rejected(msg) => {
                self.emit(Event::AppRejected { app: key, message: msg.clone() });
                return Err(msg);
            }
            Admission::Mutated => true,
            Admission::Unmutated => false,
        };
        if defaulted && let Err(msg) = quota_enforcement(self.plan(), self.store(), &app) {
            self.emit(Event::AppRejected { app: key, message: msg.clone() });
            return Err(msg);
        }
        let executors = sparkrig_model::podspec::initial_executors(&app, defaulted);
        self.emit(Event::AppCreated { app: key.clone(), executors, scheduled_by });
        let created = self.now();
        let apps = &mut self.store_mut().apps;
        let id = AppId(apps.len() as u32);
        apps.push(crate::store::App {
            key,
            template,
            created,
            deleted: false,
            app: Arc::new(app),
            work,
            state: sparkrig_model::appstate::AppState::New,
            message: String::new(),
            submission_attempts: 0,
            execution_attempts: 0,
            last_submission: Time::ZERO,
            defaulted,
            watched,
            run: 0,
            driver: None,
            patched: false,
            external: false,
        });
        self.signal(Signal::AppCreated(id));
        Ok(id)
    }

    /// Deletes a SparkApplication: its driver pod is garbage-collected (ownerReference), which
    /// takes the executors with it.
    fn delete_app(&mut self, id: AppId) {
        let a = self.store_mut().app_mut(id);
        a.deleted = true;
        let (key, driver) = (a.key.clone(), a.driver);
        self.emit(Event::AppDeleted { app: key });
        if let Some(pod) = driver.filter(|p| self.store().pod(*p).is_some()) {
            self.delete_pod(pod, "garbage-collected: owner SparkApplication deleted");
        }
    }

    /// A random byte array.
    fn random_bytes<const N: usize>(&mut self) -> [u8; N] {
        use rand::RngCore;
        let mut b = [0u8; N];
        self.rng().fill_bytes(&mut b);
        b
    }

    // ----- pods -----

    /// LimitRanger, Priority and ResourceQuota admission of a pod create (after the webhooks;
    /// see [`crate::admission`]); `Err` is the API server's 403.
    fn admit_pod(&self, pod: &crate::admission::PodCreate<'_>) -> Result<crate::admission::Admitted, String> {
        crate::admission::admit(&self.plan().stack.tenancy, &self.store().quotas, pod)
    }

    /// Creates a pod object (emits `pod_created`), charging the quotas that cover it; the
    /// scheduler queues it.
    fn create_pod(&mut self, mut p: NewPod) -> PodId {
        self.emit(Event::PodCreated {
            pod: p.key.clone(),
            app: p.app.clone(),
            role: p.role,
            component: p.component.clone(),
            node_selector: p.node_selector.clone(),
            tolerations: p.spec.tolerations.clone(),
            cpu_millis: p.spec.req.cpu,
            memory_bytes: p.spec.req.mem,
            priority: p.spec.priority,
        });
        let ns = p.key.split_once('/').map_or("", |(ns, _)| ns).to_string();
        if !self.store().quotas.iter().any(|q| q.quota.namespace == ns) {
            p.admitted = None;
        }
        let changed = match &p.admitted {
            Some(a) => crate::admission::charge(&mut self.store_mut().quotas, &ns, a),
            None => Vec::new(),
        };
        for i in changed {
            let e = crate::controllers::quota::usage_event(&self.store().quotas[i]);
            self.emit(e);
        }
        let now = self.now();
        let id = self.store_mut().insert_pod(p, now);
        self.signal(Signal::PodCreated(id));
        id
    }

    /// Tells the quota controller that a charged pod stopped being tracked or is gone.
    fn quota_release(&mut self, id: PodId) {
        if let Some(ns) = self.store().pod(id).filter(|p| p.charge.is_some()).map(|p| p.namespace().to_string()) {
            self.signal(Signal::QuotaRecalc(ns));
        }
    }

    /// Releases a pod's node resources (terminal or gone); the scheduler retries pods that
    /// were waiting for room.
    fn release(&mut self, id: PodId) {
        let store = self.store_mut();
        let Some(p) = store.pod_mut(id) else { return };
        if !p.accounted {
            return;
        }
        p.accounted = false;
        let (node, spec) = (p.node, p.spec.clone());
        if let Some(n) = node {
            store.nodes[n].remove_pod(&spec);
            self.signal(Signal::ResourcesFreed);
        }
    }

    /// The pod object is removed (emits `pod_deleted`) and its owner is told.
    fn remove_pod(&mut self, id: PodId, reason: &str) {
        self.release(id);
        let store = self.store_mut();
        let Some(p) = store.pods.get_mut(id.0 as usize).and_then(Option::take) else { return };
        store.live_pods -= 1;
        if let Some(n) = p.node {
            store.node_state[n].pods.retain(|x| *x != id);
        }
        if store.pod_index.get(&p.key) == Some(&id) {
            store.pod_index.remove(&p.key);
        }
        if p.sched.queued != crate::store::Queued::No {
            self.signal(Signal::PodForgotten(id));
        }
        self.emit(Event::PodDeleted { pod: p.key.clone(), reason: reason.to_string() });
        self.cancel(Key::Container(id));
        if p.charge.is_some() {
            self.signal(Signal::QuotaRecalc(p.namespace().to_string()));
        }
        self.signal(Signal::PodGone(id, p.owner));
    }

    /// Graceful deletion: the deletionTimestamp is set; a live kubelet stops the containers and
    /// the object goes away; on a dead or unreachable node the pod stays Terminating.
    fn delete_pod(&mut self, id: PodId, reason: &str) {
        let store = self.store();
        let Some(p) = store.pod(id) else { return };
        if p.deleting.is_some() {
            return;
        }
        let (key, node, phase) = (p.key.clone(), p.node, p.phase);
        let on_live_node = node.is_some_and(|n| store.node_reachable(n));
        if node.is_none() || phase.is_terminal() && on_live_node {
            self.remove_pod(id, reason);
            return;
        }
        let now = self.now();
        self.store_mut().pod_mut(id).expect("checked").deleting = Some(now);
        self.emit(Event::PodTerminating { pod: key, reason: reason.to_string() });
        self.signal(Signal::PodChanged(id));
        let n = node.expect("checked");
        if self.store().node_reachable(n) {
            let stop = if phase == Phase::Running { kubelet::stop_delay(self.store(), self.timings(), id, now) } else { Dur::ZERO };
            self.schedule(stop, None, Ev::Kubelet(kubelet::Ev::PodStopped { pod: id }));
        }
    }

    /// The Eviction API (`pods/<name>/eviction`): a graceful deletion when every
    /// PodDisruptionBudget over the pod allows it (see [`crate::pdb`]), else the refusal (429),
    /// which the caller retries.
    fn evict(&mut self, id: PodId, reason: &str) -> Result<(), crate::pdb::Refusal> {
        crate::pdb::pdb_allows_eviction(self.store(), id)?;
        self.delete_pod(id, reason);
        Ok(())
    }

    /// Force deletion (grace period 0): the object goes at once, wherever the pod runs.
    fn force_delete(&mut self, id: PodId, reason: &str) {
        if self.store().pod(id).is_some() {
            self.remove_pod(id, reason);
        }
    }

    /// Sets a terminal phase from the main container's exit (emits `pod_terminated`), releases
    /// the pod's resources and tells its owner.
    fn terminate(&mut self, id: PodId, code: i32, reason: &'static str, message: String) {
        let Some(p) = self.store_mut().pod_mut(id) else { return };
        if p.phase.is_terminal() {
            return;
        }
        p.phase = if code == 0 { Phase::Succeeded } else { Phase::Failed };
        p.exit = Some((code, reason));
        let key = p.key.clone();
        self.cancel(Key::Container(id));
        let phase = if code == 0 { PodPhase::Succeeded } else { PodPhase::Failed };
        self.emit(Event::PodTerminated { pod: key, phase, exit_code: Some(code), reason: reason.into(), message });
        self.release(id);
        self.quota_release(id);
        self.signal(Signal::PodChanged(id));
    }

    /// Sets phase Failed without a container exit (PodGC of a pod whose node is gone).
    fn mark_failed(&mut self, id: PodId, reason: &str, message: &str) {
        let Some(p) = self.store_mut().pod_mut(id) else { return };
        if p.phase.is_terminal() {
            return;
        }
        p.phase = Phase::Failed;
        p.exit = None;
        let key = p.key.clone();
        self.emit(Event::PodTerminated {
            pod: key,
            phase: PodPhase::Failed,
            exit_code: None,
            reason: reason.into(),
            message: message.into(),
        });
        self.release(id);
        self.quota_release(id);
        self.signal(Signal::PodChanged(id));
    }

    /// The program in a running container exits after `after` (the kubelet reports it).
    fn exit_container(&mut self, id: PodId, after: Dur, code: i32, reason: &'static str, message: String) {
        if self.store().pod(id).is_some() {
            self.schedule(after, Some(Key::Container(id)), Ev::Kubelet(kubelet::Ev::ContainerExit { pod: id, code, reason, message }));
        }
    }

    // ----- nodes -----

    /// Registers a node of a group (Ready at once when `ready`; else tainted not-ready).
    fn register_node(&mut self, group: usize, name: &str, zone: Option<&str>, ready: bool) -> usize {
        let plan = self.plan().clone();
        let g = &plan.topology.groups[group];
        let labels: Labels = g.node_labels(&plan.topology, name, zone);
        // A registering node is tainted not-ready:NoSchedule until it reports Ready.
        let mut taints = g.taints.clone();
        if !ready {
            taints.push(not_ready_taint());
        }
        let now = self.now();
        let store = self.store_mut();
        let kubelet_minor = store.group_minor.get(group).copied().unwrap_or(store.kubernetes_minor);
        let node =
            Node::new(name, group as u16, &labels, taints.clone(), Res::new(g.cpu_millis, g.memory_bytes), g.max_pods, &mut store.interner);
        store.nodes.push(node);
        store.node_state.push(NodeState { ready, machine_up: true, connected: true, joined: now, pods: Vec::new(), kubelet_minor });
        let idx = store.nodes.len() - 1;
        // Versions go into the trace only when the scenario involves them, so that the traces
        // of other scenarios stay as they were.
        let versioned = plan.steps.iter().any(|s| matches!(s, sparkrig_model::scenario::Step::Upgrade(_)))
            || plan.topology.groups.iter().any(|g| g.version.is_some());
        self.emit(Event::NodeAdded {
            node: name.to_string(),
            group: g.name.clone(),
            interruptible: g.interruptible,
            labels,
            taints,
            cpu_millis: g.cpu_millis,
            memory_bytes: g.memory_bytes,
            pods: g.max_pods,
            kubelet_version: versioned.then(|| format!("1.{kubelet_minor}")),
        });
        if ready {
            self.emit(Event::NodeReady { node: name.to_string() });
        }
        self.signal(Signal::NodeAdded(idx));
        idx
    }

    /// A registered node's kubelet reports Ready: the `not-ready:NoSchedule` taint goes and the
    /// scheduler is told. False when the node is gone or already Ready.
    fn node_reports_ready(&mut self, n: usize) -> bool {
        let store = self.store_mut();
        if store.nodes[n].gone || store.node_state[n].ready {
            return false;
        }
        store.node_state[n].ready = true;
        let name = store.nodes[n].name.clone();
        self.emit(Event::NodeReady { node: name.clone() });
        let node = &mut self.store_mut().nodes[n];
        node.taints.retain(|t| t.key != sparkrig_model::kube::NOT_READY_TAINT);
        let taints = node.taints.clone();
        self.emit(Event::NodeTaints { node: name, taints });
        self.signal(Signal::NodeUpdated(n));
        true
    }

    /// Adds a taint (emits the node's new taint set) unless present.
    fn add_taint(&mut self, n: usize, taint: Taint) {
        let node = &mut self.store_mut().nodes[n];
        if node.taints.contains(&taint) {
            return;
        }
        node.taints.push(taint);
        let (name, taints) = (node.name.clone(), node.taints.clone());
        self.emit(Event::NodeTaints { node: name, taints });
    }

    /// Cordon or uncordon.
    fn set_unschedulable(&mut self, n: usize, on: bool) {
        let node = &mut self.store_mut().nodes[n];
        if node.unschedulable != on {
            node.unschedulable = on;
            let name = node.name.clone();
            self.emit(Event::NodeUnschedulable { node: name, unschedulable: on });
            if !on {
                self.signal(Signal::NodeUpdated(n));
            }
        }
    }

    // ----- Deployments -----

    /// Sets a component's `spec.replicas`; returns the previous count (None if not deployed).
    fn scale(&mut self, kind: crate::store::Kind, replicas: u32) -> Option<u32> {
        let idx = self.store().deployment(kind)?;
        let prev = std::mem::replace(&mut self.store_mut().deployments[idx].replicas, replicas);
        self.signal(Signal::DeploymentScaled(idx));
        Some(prev)
    }
}

/// The not-ready taint a registering node carries.
pub fn not_ready_taint() -> Taint {
    Taint::new(sparkrig_model::kube::NOT_READY_TAINT, "", TaintEffect::NoSchedule)
}

/// One controller's view: its own state and timers, plus the shared [`Api`].
pub trait Cx<C: Controller>: Api {
    /// Its own state.
    fn me(&mut self) -> &mut C;
    /// Its own state, read-only.
    fn me_ref(&self) -> &C;
    /// Its own state, the store and the RNG at once (for work that needs all three).
    fn parts(&mut self) -> (&mut C, &mut Store, &mut ChaCha8Rng);
    /// Arms one of its own timers `after` from now.
    fn at(&mut self, after: Dur, ev: C::Ev) {
        self.schedule(after, None, ev.into());
    }
    /// The same, under a cancellation key.
    fn at_keyed(&mut self, key: Key, after: Dur, ev: C::Ev) {
        self.schedule(after, Some(key), ev.into());
    }
}

/// Implements `From<$ev> for Ev` and `Controller` for a controller's state type.
macro_rules! controller {
    ($state:ty, $ev:ty, $variant:ident) => {
        impl From<$ev> for $crate::api::Ev {
            fn from(e: $ev) -> Self {
                $crate::api::Ev::$variant(e)
            }
        }
        impl $crate::api::Controller for $state {
            type Ev = $ev;
        }
    };
}
pub(crate) use controller;

/// Owner of a pod, if it still exists.
pub(crate) fn owner_of(store: &Store, id: PodId) -> Option<Owner> {
    store.pod(id).map(|p| p.owner)
}
