//! The cluster state: what the API server stores (nodes, pods, Deployments, SparkApplications,
//! the operator's Lease) and the physical facts the machines hold (a node's machine is up, its
//! network is connected, which pods it runs, whether the CoreDNS process loaded a good Corefile).
//!
//! Entry point: [`Store`]. Controllers read all of it, as informers do, and write the fields
//! they own (each field's doc says who writes it); changes other controllers must see go
//! through the API operations of [`crate::api`], which notify them. Derived facts every
//! controller needs (is DNS serving, is the webhook reachable) are answered here, from state.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sparkrig_model::appstate::AppState;
use sparkrig_model::kube::Labels;
use sparkrig_model::podspec::{self, Submission};
use sparkrig_model::scenario::{Placement, Work};
use sparkrig_model::sparkapp::SparkApplication;
use sparkrig_model::time::Time;

use crate::cluster::{Node, SchedSpec};
use crate::intern::{Interner, Sym};
use crate::scheduler::plugins::PluginSet;

/// Index of a pod (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodId(pub u32);

/// Index of an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppId(pub u32);

/// Who owns a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A Spark driver of an app's run (submission).
    Driver {
        /// App.
        app: AppId,
        /// Run (submission) number.
        run: u32,
    },
    /// A Spark executor.
    Executor {
        /// App.
        app: AppId,
        /// Run.
        run: u32,
        /// Executor id.
        exec: u32,
    },
    /// A platform component (Deployment index).
    Component(usize),
}

/// Pod phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not running yet (or restarting).
    Pending,
    /// Containers running.
    Running,
    /// Exited 0.
    Succeeded,
    /// Failed.
    Failed,
}

impl Phase {
    /// Succeeded or Failed.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Failed)
    }
}

/// Where a pod is in the scheduling queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// Not queued (bound, assumed or gone).
    No,
    /// activeQ.
    Active,
    /// backoffQ.
    Backoff,
    /// unschedulablePods (its PodScheduled condition is False).
    Unschedulable,
}

/// Where a pod's labels come from (derived on demand, not stored per pod).
#[derive(Debug, Clone)]
pub enum LabelSource {
    /// A platform component's manifest labels.
    Component(Kind),
    /// A Spark pod, as the operator and Spark label it.
    Spark {
        /// The app as submitted.
        app: Arc<SparkApplication>,
        /// The submission (ids, names).
        sub: Arc<Submission>,
        /// Executor id (None for the driver).
        exec: Option<u32>,
    },
}

/// A pod.
#[derive(Debug, Clone)]
pub struct Pod {
    /// `namespace/name`.
    pub key: String,
    /// Owner.
    pub owner: Owner,
    /// Labels.
    pub labels: LabelSource,
    /// Scheduling requirements (shared by pods of one shape).
    pub spec: Arc<SchedSpec>,
    /// Image.
    pub image: Sym,
    /// Pulled from the private registry (Spark images) rather than preloaded.
    pub from_registry: bool,
    /// Pulled from a public registry (a platform image of a new version, e.g. the operator's
    /// after a chart upgrade) rather than preloaded.
    pub public_image: bool,
    /// Phase (kubelet, node lifecycle).
    pub phase: Phase,
    /// Node it is bound or assumed to (scheduler).
    pub node: Option<usize>,
    /// Bound (the binding API call completed); before that it is only assumed.
    pub bound: bool,
    /// deletionTimestamp.
    pub deleting: Option<Time>,
    /// Counted in its node's requested resources.
    pub accounted: bool,
    /// Container started at (kubelet).
    pub started: Option<Time>,
    /// Scheduling queue state (written by the scheduler only).
    pub sched: SchedState,
    /// Image pull failures so far (kubelet).
    pub pull_failures: u32,
    /// Main container exit code and reason once terminated.
    pub exit: Option<(i32, &'static str)>,
    /// A container exit that happened while the node was cut off, reported on reconnect.
    pub pending_exit: Option<(i32, &'static str, String)>,
    /// Container restarts (restartPolicy Always) (kubelet).
    pub restarts: u32,
    /// How the process in the container reacts to SIGTERM (written by the model of the
    /// program: the Spark executor).
    pub process: Process,
    /// What admission charged to the namespace's quotas (pods in namespaces with quotas).
    pub charge: Option<Box<crate::admission::Admitted>>,
    /// The scheduler set its DisruptionTarget condition (preempted).
    pub disrupted: bool,
    /// `status.nominatedNodeName` (scheduler).
    pub nominated: Option<usize>,
}

impl Pod {
    /// `namespace` of its `namespace/name`.
    pub fn namespace(&self) -> &str {
        self.key.split_once('/').map_or("", |(ns, _)| ns)
    }
}

/// What the kubelet knows of the program in a container when it stops it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Process {
    /// A registered executor of an app with `spark.decommission.enabled`: on SIGTERM it stops
    /// taking tasks, finishes the running ones and exits 0.
    pub decommissions: bool,
    /// When its last running task ends (None: idle).
    pub busy_until: Option<Time>,
}

/// A pod's scheduling queue state.
#[derive(Debug, Clone)]
pub struct SchedState {
    /// Queue.
    pub queued: Queued,
    /// Identifies the pod's current queue entry (heap entries are removed lazily).
    pub queue_seq: u64,
    /// Attempts.
    pub attempts: u32,
    /// Last attempt.
    pub last_attempt: Time,
    /// Entered its current queue at.
    pub queued_at: Time,
    /// Plugins that rejected it last.
    pub rejectors: PluginSet,
    /// Last FailedScheduling message.
    pub last_message: Option<String>,
}

impl SchedState {
    fn new(now: Time) -> SchedState {
        SchedState {
            queued: Queued::No,
            queue_seq: 0,
            attempts: 0,
            last_attempt: Time::ZERO,
            queued_at: now,
            rejectors: PluginSet::default(),
            last_message: None,
        }
    }
}

/// A node's state outside the scheduler's compact [`Node`].
#[derive(Debug, Clone, Default)]
pub struct NodeState {
    /// The Ready condition as the API server shows it (node lifecycle, autoscaler).
    pub ready: bool,
    /// The machine and its kubelet are up (containers run).
    pub machine_up: bool,
    /// The node can reach the API server and other nodes.
    pub connected: bool,
    /// When the node registered (lease renewals are on a 10 s grid from here).
    pub joined: Time,
    /// Pods bound or assumed here.
    pub pods: Vec<PodId>,
    /// Its kubelet's minor version (1.x).
    pub kubelet_minor: u32,
}

/// Which platform component a Deployment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// CoreDNS (`kube-system/coredns`).
    CoreDns,
    /// The Spark Operator controller.
    Controller,
    /// The Spark Operator webhook.
    Webhook,
    /// MinIO.
    Minio,
    /// The private registry.
    Registry,
    /// The Spark History Server.
    HistoryServer,
}

impl Kind {
    /// Deployment name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::CoreDns => "coredns",
            Kind::Controller => "spark-operator-controller",
            Kind::Webhook => "spark-operator-webhook",
            Kind::Minio => "minio",
            Kind::Registry => "registry",
            Kind::HistoryServer => "spark-history-server",
        }
    }

    /// Namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            Kind::CoreDns => "kube-system",
            Kind::Controller | Kind::Webhook => "spark-operator",
            Kind::Minio => "minio",
            Kind::Registry => "registry",
            Kind::HistoryServer => "spark-history",
        }
    }

    /// Kind by Deployment name.
    pub fn by_name(name: &str) -> Option<Kind> {
        [Kind::CoreDns, Kind::Controller, Kind::Webhook, Kind::Minio, Kind::Registry, Kind::HistoryServer]
            .into_iter()
            .find(|k| k.name() == name)
    }

    /// The image of another version of the component (the operator's, after a chart upgrade).
    pub fn image_at(self, version: &str) -> String {
        match self.image().rsplit_once(':') {
            Some((repo, _)) => format!("{repo}:{version}"),
            None => self.image().to_string(),
        }
    }

    /// Pinned images (what the real backends install).
    pub fn image(self) -> &'static str {
        match self {
            Kind::CoreDns => "registry.k8s.io/coredns/coredns:v1.12.0",
            Kind::Controller | Kind::Webhook => "ghcr.io/kubeflow/spark-operator/controller:2.5.2",
            Kind::Minio => "minio/minio:RELEASE.2025-02-28T09-55-16Z",
            Kind::Registry => "registry:3",
            Kind::HistoryServer => "apache/spark:3.5.6",
        }
    }

    /// Pod labels, as the upstream manifests set them (kubeadm's CoreDNS, the operator chart).
    pub fn labels(self) -> Labels {
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
    pub fn requests(self) -> (i64, i64) {
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

/// A platform component's Deployment.
#[derive(Debug)]
pub struct Deployment {
    /// Which component.
    pub kind: Kind,
    /// `spec.replicas` (faults scale it).
    pub replicas: u32,
    /// Pod shape.
    pub spec: Arc<SchedSpec>,
    /// Placement.
    pub placement: Placement,
    /// ReplicaSet template hash of the current revision, used in pod names.
    pub hash: String,
    /// Its pods, of every revision (Deployment controller).
    pub pods: Vec<PodId>,
    /// `priorityClassName` of its pods.
    pub priority_class: Option<String>,
    /// The pod template's image.
    pub image: String,
    /// The current revision (1 at install).
    pub revision: u32,
    /// Pods of older revisions, still in `pods` while a rolling update replaces them.
    pub old: BTreeSet<PodId>,
    /// The current revision's image must be pulled (not preloaded).
    pub public_image: bool,
}

impl Deployment {
    /// `strategy.rollingUpdate` as Kubernetes defaults it (maxSurge 25 % rounded up,
    /// maxUnavailable 25 % rounded down; both 0 → maxUnavailable 1:
    /// `pkg/apis/apps/v1/defaults.go`, `deploymentutil.ResolveFenceposts`;
    /// reference/kube-scheduler.md §6.1 [unverified there], platform-ops.md §4.c): the chart's
    /// Deployments set no strategy.
    pub fn fenceposts(&self) -> (u32, u32) {
        use sparkrig_model::upgrade::IntOrPercent;
        let surge = IntOrPercent::Percent(25).scaled(self.replicas, true);
        let unavailable = IntOrPercent::Percent(25).scaled(self.replicas, false);
        if surge == 0 && unavailable == 0 { (0, 1) } else { (surge, unavailable) }
    }
}

/// A SparkApplication object: spec and the status the operator writes.
#[derive(Debug)]
pub struct App {
    /// `namespace/name`.
    pub key: String,
    /// Template it came from (None for an app created through the API).
    pub template: Option<usize>,
    /// When it was created.
    pub created: Time,
    /// Deleted through the API: the operator forgets it.
    pub deleted: bool,
    /// Spec (as patched).
    pub app: Arc<SparkApplication>,
    /// Work it represents (simulator).
    pub work: Work,
    /// `status.applicationState.state`.
    pub state: AppState,
    /// `status.applicationState.errorMessage`.
    pub message: String,
    /// `status.submissionAttempts`.
    pub submission_attempts: u32,
    /// `status.executionAttempts`.
    pub execution_attempts: u32,
    /// `status.lastSubmissionAttemptTime`.
    pub last_submission: Time,
    /// Webhook defaulting ran at creation.
    pub defaulted: bool,
    /// In a namespace the operator watches.
    pub watched: bool,
    /// The current run (submission) number; 0 before the first.
    pub run: u32,
    /// The current driver pod (`status.driverInfo.podName`).
    pub driver: Option<PodId>,
    /// The spec was patched after creation (its pod shapes are no longer the template's).
    pub patched: bool,
    /// Not a SparkApplication: a driver pod a client's spark-submit created (cluster mode).
    /// The operator does not manage it, the API does not show it, the driver model runs it.
    pub external: bool,
}

/// The operator's leader election Lease.
#[derive(Debug, Default)]
pub struct Lease {
    /// Current leader (a controller pod).
    pub holder: Option<PodId>,
    /// When the lease expires if nobody renews it (None: free).
    pub expires: Option<Time>,
}

/// A PodDisruptionBudget in the cluster: its spec, the labels its selector matches, and the
/// app that owns it (the operator's driver PDBs). The logic is in [`crate::pdb`].
#[derive(Debug, Clone)]
pub struct Pdb {
    /// As declared.
    pub spec: sparkrig_model::upgrade::PodDisruptionBudget,
    /// `matchLabels`, resolved (a component's selector labels).
    pub labels: Labels,
    /// The SparkApplication it protects the driver of.
    pub owner: Option<AppId>,
    /// Created at.
    pub created: Time,
}

/// The whole cluster state.
#[derive(Debug)]
pub struct Store {
    /// Label keys and values.
    pub interner: Interner,
    /// Nodes as the scheduler sees them.
    pub nodes: Vec<Node>,
    /// The rest of each node's state.
    pub node_state: Vec<NodeState>,
    /// Pods by id (None once deleted).
    pub pods: Vec<Option<Box<Pod>>>,
    /// Live pods by `namespace/name`.
    pub pod_index: BTreeMap<String, PodId>,
    /// Pods alive now, and the most at once.
    pub live_pods: u64,
    /// Most pods alive at once.
    pub peak_pods: u64,
    /// Platform Deployments.
    pub deployments: Vec<Deployment>,
    /// SparkApplications by id.
    pub apps: Vec<App>,
    /// The operator controller's Lease.
    pub lease: Lease,
    /// CoreDNS answers cluster names (false while a broken Corefile is loaded).
    pub dns_config_ok: bool,
    /// The platform is being brought up at t=0 (containers start at once).
    pub bootstrapping: bool,
    /// ResourceQuotas and their `status.used`, by namespace then name.
    pub quotas: Vec<crate::admission::QuotaState>,
    /// ScheduledSparkApplications.
    pub scheduled: Vec<crate::controllers::scheduled::ScheduledState>,
    /// The control plane's minor version (kube-apiserver, controller manager, scheduler).
    pub kubernetes_minor: u32,
    /// Per nodegroup, the kubelet minor of the nodes it launches now (its launch template).
    pub group_minor: Vec<u32>,
    /// Per nodegroup, the number of its next node's name.
    pub next_node: Vec<u32>,
    /// Nodegroups under an upgrade (the Cluster Autoscaler leaves them alone).
    pub upgrading: BTreeSet<usize>,
    /// The Spark Operator chart version installed.
    pub operator_version: String,
    /// PodDisruptionBudgets by `namespace/name`.
    pub pdbs: BTreeMap<String, Pdb>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            interner: Interner::default(),
            nodes: Vec::new(),
            node_state: Vec::new(),
            pods: Vec::new(),
            pod_index: BTreeMap::new(),
            live_pods: 0,
            peak_pods: 0,
            deployments: Vec::new(),
            apps: Vec::new(),
            lease: Lease::default(),
            dns_config_ok: true,
            bootstrapping: true,
            quotas: Vec::new(),
            scheduled: Vec::new(),
            kubernetes_minor: 0,
            group_minor: Vec::new(),
            next_node: Vec::new(),
            upgrading: BTreeSet::new(),
            operator_version: String::new(),
            pdbs: BTreeMap::new(),
        }
    }
}

impl Store {
    /// An empty cluster with the plan's versions, node numbering and PodDisruptionBudgets.
    pub fn for_plan(plan: &sparkrig_model::scenario::Scenario) -> Store {
        use sparkrig_model::upgrade::PdbSelector;
        let cp = plan.stack.kubernetes_minor;
        let pdbs = plan
            .stack
            .pdbs
            .iter()
            .map(|spec| {
                let labels = match &spec.selector {
                    PdbSelector::Labels(l) => l.clone(),
                    PdbSelector::Component(name) => Kind::by_name(name).map(Kind::labels).unwrap_or_default(),
                };
                (format!("{}/{}", spec.namespace, spec.name), Pdb { spec: spec.clone(), labels, owner: None, created: Time::ZERO })
            })
            .collect();
        Store {
            kubernetes_minor: cp,
            group_minor: plan.topology.groups.iter().map(|g| g.version.unwrap_or(cp)).collect(),
            next_node: plan.topology.groups.iter().map(|g| g.count + 1).collect(),
            operator_version: plan.stack.operator.version.clone(),
            pdbs,
            ..Store::default()
        }
    }

    /// A pod that still exists.
    #[inline]
    pub fn pod(&self, id: PodId) -> Option<&Pod> {
        self.pods.get(id.0 as usize).and_then(|p| p.as_deref())
    }

    /// The same, mutably.
    #[inline]
    pub fn pod_mut(&mut self, id: PodId) -> Option<&mut Pod> {
        self.pods.get_mut(id.0 as usize).and_then(|p| p.as_deref_mut())
    }

    /// Adds a pod record (the caller announces it).
    pub(crate) fn insert_pod(&mut self, p: NewPod, now: Time) -> PodId {
        let id = PodId(self.pods.len() as u32);
        let image = self.interner.intern(&p.image);
        self.pod_index.insert(p.key.clone(), id);
        self.pods.push(Some(Box::new(Pod {
            key: p.key,
            owner: p.owner,
            labels: p.labels,
            spec: p.spec,
            image,
            from_registry: p.from_registry,
            public_image: p.public_image,
            phase: Phase::Pending,
            node: None,
            bound: false,
            deleting: None,
            accounted: false,
            started: None,
            sched: SchedState::new(now),
            pull_failures: 0,
            exit: None,
            pending_exit: None,
            restarts: 0,
            process: Process::default(),
            charge: p.admitted.map(Box::new),
            disrupted: false,
            nominated: None,
        })));
        self.live_pods += 1;
        self.peak_pods = self.peak_pods.max(self.live_pods);
        id
    }

    /// The live app of that `namespace/name`.
    pub fn app_by_key(&self, key: &str) -> Option<AppId> {
        self.apps.iter().rposition(|a| a.key == key && !a.deleted).map(|i| AppId(i as u32))
    }

    /// The app.
    #[inline]
    pub fn app(&self, id: AppId) -> &App {
        &self.apps[id.0 as usize]
    }

    /// The app, mutably.
    #[inline]
    pub fn app_mut(&mut self, id: AppId) -> &mut App {
        &mut self.apps[id.0 as usize]
    }

    /// The node's kubelet is alive and can reach the API server.
    #[inline]
    pub fn node_reachable(&self, n: usize) -> bool {
        let s = &self.node_state[n];
        s.machine_up && s.connected
    }

    /// A pod's processes are running and reachable over the network.
    pub fn pod_reachable(&self, id: PodId) -> bool {
        self.pod(id).is_some_and(|p| p.phase == Phase::Running && p.node.is_some_and(|n| self.node_reachable(n)))
    }

    /// A pod of a Deployment serves: running, not deleting, its node reachable and Ready.
    pub fn pod_serving(&self, id: PodId) -> bool {
        self.pod(id).is_some_and(|p| {
            p.phase == Phase::Running && p.deleting.is_none() && p.node.is_some_and(|n| self.node_reachable(n) && self.node_state[n].ready)
        })
    }

    /// Index of a component's Deployment.
    pub fn deployment(&self, kind: Kind) -> Option<usize> {
        self.deployments.iter().position(|d| d.kind == kind)
    }

    /// A component's pods.
    pub fn component_pods(&self, kind: Kind) -> &[PodId] {
        self.deployment(kind).map_or(&[], |i| &self.deployments[i].pods)
    }

    /// A component's pods of the current revision.
    pub fn current_pods(&self, kind: Kind) -> impl Iterator<Item = PodId> + '_ {
        self.deployment(kind).into_iter().flat_map(move |i| {
            let d = &self.deployments[i];
            d.pods.iter().copied().filter(move |p| !d.old.contains(p))
        })
    }

    fn serving(&self, kind: Kind) -> Option<bool> {
        self.deployment(kind).map(|i| self.deployments[i].pods.iter().any(|id| self.pod_serving(*id)))
    }

    /// Cluster names resolve: a CoreDNS pod serves with a good Corefile.
    pub fn dns_serving(&self) -> bool {
        self.dns_config_ok && self.serving(Kind::CoreDns).unwrap_or(false)
    }

    /// Spark images can be pulled (always, when no private registry is deployed).
    pub fn registry_serving(&self) -> bool {
        self.serving(Kind::Registry).unwrap_or(true)
    }

    /// S3 answers (MinIO serves and its name resolves).
    pub fn minio_serving(&self) -> bool {
        self.serving(Kind::Minio).unwrap_or(false)
    }

    /// The operator's mutating webhook answers (it serves on every replica).
    pub fn webhook_serving(&self) -> bool {
        self.serving(Kind::Webhook).unwrap_or(false)
    }

    /// The operator controller has a running, reachable leader.
    pub fn controller_serving(&self) -> bool {
        self.lease.holder.is_some_and(|p| self.pod_serving(p))
    }

    /// A pod's labels.
    pub fn labels(&self, p: &Pod) -> Labels {
        match &p.labels {
            LabelSource::Component(kind) => kind.labels(),
            LabelSource::Spark { app, sub, exec: None } => podspec::driver_pod(app, sub).map(|p| p.labels).unwrap_or_default(),
            LabelSource::Spark { app, sub, exec: Some(e) } => podspec::executor_pod(app, sub, *e).map(|p| p.labels).unwrap_or_default(),
        }
    }
}

/// What a pod is created from.
#[derive(Debug, Clone)]
pub struct NewPod {
    /// `namespace/name`.
    pub key: String,
    /// Owner.
    pub owner: Owner,
    /// Labels.
    pub labels: LabelSource,
    /// Scheduling requirements.
    pub spec: Arc<SchedSpec>,
    /// Image.
    pub image: String,
    /// Pulled from the private registry.
    pub from_registry: bool,
    /// Pulled from a public registry (not preloaded).
    pub public_image: bool,
    /// App (`namespace/name`), for the trace.
    pub app: Option<String>,
    /// Spark role, for the trace.
    pub role: Option<podspec::SparkRole>,
    /// Component name, for the trace.
    pub component: Option<String>,
    /// Node selector as written, for the trace.
    pub node_selector: Labels,
    /// What admission decided, charged to the quotas that cover the pod (None: admitted
    /// without tenancy checks, e.g. test pods).
    pub admitted: Option<crate::admission::Admitted>,
}
