//! The served cluster: the simulation, the objects the API shows, and what ties them together.
//!
//! Entry points: [`Cluster::advance`] (run the simulation up to a virtual instant) and
//! [`Cluster::write`] (a client's change, at the current instant). Both feed the trace records
//! the simulation emits to the run's sinks (trace file, verdict), to the trace view that object
//! rendering reads, to the Events and pod logs they imply, and mark the objects they touch for
//! re-rendering; [`Cluster::refresh`] then re-renders those and the object store publishes
//! what changed to watches.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{Value, json};
use sparkrig_model::action::Action;
use sparkrig_model::scenario::Scenario;
use sparkrig_model::time::Time;
use sparkrig_model::trace::{Event, Record, Sink, TraceView};
use sparkrig_sim::Simulation;
use sparkrig_sim::store::{AppId, Owner};

use crate::clock::Clock;
use crate::objects::Objects;
use crate::render;
use crate::resources::index;

/// kubeadm's default Corefile (kube-system/coredns), as `kind` and kubeadm clusters have it.
pub const COREFILE: &str = ".:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
";

/// Whether CoreDNS can answer cluster names with this Corefile: its braces balance and a
/// `kubernetes` plugin serves the `cluster.local` zone (what the coredns-misconfig fault breaks).
pub fn corefile_serves(text: &str) -> bool {
    let mut depth = 0i32;
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0
        && text.lines().any(|l| {
            let mut words = l.split_whitespace();
            words.next() == Some("kubernetes") && words.any(|z| z.trim_end_matches('.') == "cluster.local")
        })
}

/// Events kept (the API server's event TTL is an hour; a busy simulated hour has more).
const EVENTS_KEPT: usize = 5_000;
/// Log lines kept per pod.
const LOG_LINES: usize = 500;

/// Objects to re-render after the simulation moved.
#[derive(Default)]
struct Dirty {
    pods: BTreeSet<String>,
    nodes: BTreeSet<String>,
    apps: BTreeSet<String>,
    /// Something happened: Deployments and the operator's Lease may have changed.
    platform: bool,
}

/// The simulation and its objects.
pub struct Cluster {
    /// The simulation.
    pub sim: Simulation,
    /// What the API serves.
    pub objects: Objects,
    /// The cluster as the trace shows it (times and reasons for rendering).
    pub view: TraceView,
    /// Wall ↔ virtual time.
    pub clock: Clock,
    sinks: Vec<Box<dyn Sink + Send>>,
    dirty: Dirty,
    /// Per Deployment: the replicas last rendered and its generation.
    generations: Vec<(u32, i64)>,
    events: VecDeque<(String, String)>,
    event_seq: u64,
    /// Container log lines per pod (current incarnation).
    logs: BTreeMap<String, Vec<String>>,
    /// When node Leases were last renewed (every 10 s of virtual time).
    leases_at: u64,
    /// Annotations clients wrote on platform Deployments (`namespace/name` → the map), kept
    /// across re-renders: sparkrig records a scaled-down Deployment's count there.
    deployment_annotations: BTreeMap<String, Value>,
    /// Pods clients created, as they wrote them (rendered from this, with the cluster's status).
    client_pods: BTreeMap<String, Value>,
    /// The simulation's PodDisruptionBudgets last published (`namespace/name`).
    pdbs: BTreeSet<String>,
    /// The run has ended (its timeline completed).
    pub ended: bool,
    /// Why it ended (its last record).
    pub reason: String,
}

impl Cluster {
    /// Serves `sim`: publishes the platform's objects and the simulation's first instant.
    pub fn new(sim: Simulation, clock: Clock, sinks: Vec<Box<dyn Sink + Send>>) -> Cluster {
        let mut c = Cluster {
            sim,
            objects: Objects::default(),
            view: TraceView::current_only(),
            clock,
            sinks,
            dirty: Dirty::default(),
            generations: Vec::new(),
            events: VecDeque::new(),
            event_seq: 0,
            logs: BTreeMap::new(),
            leases_at: u64::MAX,
            deployment_annotations: BTreeMap::new(),
            client_pods: BTreeMap::new(),
            pdbs: BTreeSet::new(),
            ended: false,
            reason: String::new(),
        };
        let plan = c.sim.plan().clone();
        let ts = c.clock.timestamp(Time::ZERO);
        for ns in render::namespaces(&plan) {
            c.objects.put(index("", "namespaces"), render::namespace(&ns), &ts);
        }
        for pc in &plan.stack.tenancy.priority_classes {
            c.objects.put(index("scheduling.k8s.io", "priorityclasses"), render::priority_class(pc, &ts), &ts);
        }
        for crd in crate::crds::definitions() {
            c.objects.put(index("apiextensions.k8s.io", "customresourcedefinitions"), crd, &ts);
        }
        c.put_corefile(COREFILE);
        c.advance(Time::ZERO);
        c
    }

    /// The scenario.
    pub fn plan(&self) -> &Scenario {
        self.sim.plan()
    }

    fn put_corefile(&mut self, text: &str) {
        let cm = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": text},
        });
        let ts = self.clock.timestamp(self.sim.now());
        self.objects.put(index("", "configmaps"), cm, &ts);
    }

    /// Runs the simulation up to `to` (not past the end of its timeline).
    pub fn advance(&mut self, to: Time) {
        let mut out = Collect::default();
        if !self.ended {
            self.sim.run_until(to, &mut out);
            if self.sim.is_done() {
                self.sim.finish(&mut out);
                self.ended = true;
            }
        }
        self.absorb(out.0);
        self.refresh();
    }

    /// Ends the run now (Ctrl-C, SIGTERM): the step in progress fails, faults are healed, the
    /// last record written.
    pub fn stop(&mut self) {
        if self.ended {
            return;
        }
        let mut out = Collect::default();
        self.sim.interrupt("interrupted (Ctrl-C or SIGTERM)", "interrupted", &mut out);
        self.sim.finish(&mut out);
        self.ended = true;
        self.absorb(out.0);
        self.refresh();
    }

    /// A client's change, at the current virtual instant.
    pub fn write(&mut self, action: Action, by: &str) -> Result<String, String> {
        self.advance(self.clock.now());
        if self.ended {
            return Err("the scenario's run has ended; the cluster no longer changes".into());
        }
        let written = match &action {
            Action::CreatePod { pod } => Some(pod.clone()),
            _ => None,
        };
        let mut out = Collect::default();
        let result = self.sim.apply(action, by, &mut out);
        if let (Some(pod), Ok(_)) = (written, &result) {
            let key = format!(
                "{}/{}",
                pod["metadata"]["namespace"].as_str().unwrap_or("default"),
                pod["metadata"]["name"].as_str().unwrap_or_default()
            );
            self.client_pods.insert(key, pod);
        }
        self.absorb(out.0);
        self.refresh();
        result
    }

    /// Stores a new Corefile (the caller updates the object) and tells CoreDNS.
    pub fn set_corefile(&mut self, text: &str, by: &str) -> Result<String, String> {
        self.write(Action::SetCorefile { serves_cluster_names: corefile_serves(text) }, by)
    }

    fn absorb(&mut self, records: Vec<Record>) {
        for rec in &records {
            // A pod deleted within this advance: its last state (terminated, with its exit code
            // and message) is published before the deletion, as a kubelet's status write
            // precedes the object's removal.
            if let Event::PodDeleted { pod, .. } = &rec.event {
                self.publish_end(pod, rec.t);
            }
            self.view.apply(rec);
            // Every state transition of an app is its own version: the operator writes status
            // at each one, and watchers (the kube backend's legal-transitions check) see them all.
            if let Event::AppState { app, state, message, submission_attempts, execution_attempts } = &rec.event {
                self.publish_state(app, state.as_str(), message, *submission_attempts, *execution_attempts, rec.t);
            }
            for s in &mut self.sinks {
                s.record(rec);
            }
            self.note(rec);
        }
    }

    /// Publishes a pod's terminal status (from the trace) on its object, if the object does not
    /// show it yet.
    fn publish_end(&mut self, key: &str, t: Time) {
        let Some((_, phase, code, reason, message)) = self.view.pods.get(key).and_then(|p| p.ended.clone()) else { return };
        let (ns, name) = split(key);
        let pods = index("", "pods");
        let Some(obj) = self.objects.get(pods, ns, name) else { return };
        if obj["status"]["containerStatuses"][0]["state"]["terminated"].is_object() {
            return;
        }
        let mut obj = (**obj).clone();
        let ts = self.clock.timestamp(t);
        obj["status"]["phase"] = if phase == sparkrig_model::trace::PodPhase::Succeeded { "Succeeded" } else { "Failed" }.into();
        let started = obj["status"]["containerStatuses"][0]["state"]["running"]["startedAt"].clone();
        let mut terminated = json!({"exitCode": code.unwrap_or(137), "reason": reason.to_string(), "startedAt": started, "finishedAt": ts});
        if !message.is_empty() {
            terminated["message"] = message.to_string().into();
        }
        if obj["status"]["containerStatuses"].is_array() {
            obj["status"]["containerStatuses"][0]["state"] = json!({"terminated": terminated});
            obj["status"]["containerStatuses"][0]["ready"] = false.into();
        }
        self.objects.put(pods, obj, &ts);
    }

    /// Publishes an app's new state on its object at once.
    fn publish_state(&mut self, key: &str, state: &str, message: &str, submissions: u32, executions: u32, t: Time) {
        let (ns, name) = split(key);
        let apps = index("sparkoperator.k8s.io", "sparkapplications");
        let Some(obj) = self.objects.get(apps, ns, name) else { return };
        let mut obj = (**obj).clone();
        obj["status"]["applicationState"] =
            if message.is_empty() { json!({"state": state}) } else { json!({"state": state, "errorMessage": message}) };
        obj["status"]["submissionAttempts"] = submissions.into();
        obj["status"]["executionAttempts"] = executions.into();
        let ts = self.clock.timestamp(t);
        self.objects.put(apps, obj, &ts);
    }

    /// What a record changes: objects to re-render, Events, log lines.
    fn note(&mut self, rec: &Record) {
        let t = rec.t;
        self.dirty.platform = true;
        match &rec.event {
            Event::PodCreated { pod, .. } => {
                self.dirty.pods.insert(pod.clone());
                self.logs.insert(pod.clone(), Vec::new());
                if let Some(app) = self.driver_of(pod) {
                    self.log(&app, t, "INFO", "ExecutorPodsAllocator", &format!("Requesting executor pod {}", name_of(pod)));
                }
            }
            Event::PodUnschedulable { pod, message } => {
                self.dirty.pods.insert(pod.clone());
                self.event(t, pod, "Pod", "Warning", "FailedScheduling", message, "default-scheduler");
            }
            Event::PodScheduled { pod, node } => {
                self.dirty.pods.insert(pod.clone());
                let (ns, name) = split(pod);
                self.event(
                    t,
                    pod,
                    "Pod",
                    "Normal",
                    "Scheduled",
                    &format!("Successfully assigned {ns}/{name} to {node}"),
                    "default-scheduler",
                );
            }
            Event::PodWaiting { pod, reason, message } => {
                self.dirty.pods.insert(pod.clone());
                let (kind, why) = match reason.as_str() {
                    "ErrImagePull" => ("Failed", format!("Failed to pull image: {message}")),
                    "ImagePullBackOff" => ("BackOff", format!("Back-off pulling image: {message}")),
                    "CrashLoopBackOff" => ("BackOff", format!("Back-off restarting failed container: {message}")),
                    _ => (reason.as_str(), message.clone()),
                };
                self.event(t, pod, "Pod", "Warning", kind, &why, "kubelet");
            }
            Event::PodRunning { pod } => {
                self.dirty.pods.insert(pod.clone());
                self.event(t, pod, "Pod", "Normal", "Started", "Started container", "kubelet");
                self.started(t, pod);
            }
            Event::PodTerminating { pod, reason } => {
                self.dirty.pods.insert(pod.clone());
                self.event(t, pod, "Pod", "Normal", "Killing", &format!("Stopping container ({reason})"), "kubelet");
            }
            Event::PodTerminated { pod, exit_code, reason, message, .. } => {
                self.dirty.pods.insert(pod.clone());
                self.ended_log(t, pod, *exit_code, reason, message);
            }
            Event::PodDeleted { pod, .. } => {
                self.dirty.pods.insert(pod.clone());
            }
            Event::PodCreateFailed { app, message, .. } => {
                if let Some(driver) = self.current_driver(app) {
                    self.log(&driver, t, "WARN", "ExecutorPodsAllocator", &format!("Failed to request executors: {message}"));
                }
            }
            Event::NodeAdded { node, .. }
            | Event::NodeTaints { node, .. }
            | Event::NodeUnschedulable { node, .. }
            | Event::NodeRemoved { node, .. } => {
                self.dirty.nodes.insert(node.clone());
            }
            Event::NodeReady { node } => {
                self.dirty.nodes.insert(node.clone());
                self.event(
                    t,
                    &format!("/{node}"),
                    "Node",
                    "Normal",
                    "NodeReady",
                    &format!("Node {node} status is now: NodeReady"),
                    "kubelet",
                );
            }
            Event::NodeNotReady { node, reason } => {
                self.dirty.nodes.insert(node.clone());
                self.event(
                    t,
                    &format!("/{node}"),
                    "Node",
                    "Normal",
                    "NodeNotReady",
                    &format!("Node {node} status is now: NodeNotReady ({reason})"),
                    "node-controller",
                );
            }
            Event::AppCreated { app, .. } | Event::AppDeleted { app } => {
                self.dirty.apps.insert(app.clone());
            }
            Event::AppState { app, state, message, .. } => {
                self.dirty.apps.insert(app.clone());
                let reason = format!("SparkApplication{}", camel(state.as_str()));
                let kind = if matches!(state.as_str(), "FAILED" | "SUBMISSION_FAILED" | "FAILING") { "Warning" } else { "Normal" };
                let msg = if message.is_empty() { format!("SparkApplication {} is {state}", name_of(app)) } else { message.clone() };
                self.event(t, app, "SparkApplication", kind, &reason, &msg, "spark-operator");
            }
            Event::FaultInjected { fault, .. } if fault.starts_with("coredns-misconfig") => {
                let broken = COREFILE.replace("kubernetes cluster.local", "kubernetes sparkrig-broken.invalid");
                self.put_corefile(&broken);
            }
            Event::FaultHealed { fault, .. } if fault.starts_with("coredns-misconfig") => self.put_corefile(COREFILE),
            Event::RunEnded { reason } => self.reason = reason.clone(),
            _ => {}
        }
    }

    /// The driver pod (key) of an executor pod's app, if the pod is an executor.
    fn driver_of(&self, pod: &str) -> Option<String> {
        let store = self.sim.store();
        let id = store.pod_index.get(pod)?;
        match store.pod(*id)?.owner {
            Owner::Executor { app, .. } => store.app(app).driver.and_then(|d| store.pod(d)).map(|d| d.key.clone()),
            _ => None,
        }
    }

    fn current_driver(&self, app: &str) -> Option<String> {
        let store = self.sim.store();
        let id = store.app_by_key(app)?;
        store.app(id).driver.and_then(|d| store.pod(d)).map(|d| d.key.clone())
    }

    fn log(&mut self, pod: &str, t: Time, level: &str, class: &str, line: &str) {
        let ts = crate::clock::rfc3339(self.clock.unix_ms(t), false);
        // log4j2's default Spark pattern: `yy/MM/dd HH:mm:ss LEVEL Class: message`.
        let stamp = format!("{}/{}/{} {}", &ts[2..4], &ts[5..7], &ts[8..10], &ts[11..19]);
        if let Some(lines) = self.logs.get_mut(pod) {
            if lines.len() == LOG_LINES {
                lines.remove(0);
            }
            lines.push(format!("{stamp} {level} {class}: {line}"));
        }
    }

    fn started(&mut self, t: Time, pod: &str) {
        let store = self.sim.store();
        let Some(p) = store.pod_index.get(pod).and_then(|id| store.pod(*id)) else { return };
        match p.owner {
            Owner::Driver { app, .. } => {
                let a = store.app(app);
                let (name, version) = (a.app.metadata.name.clone(), a.app.spec.spark_version.clone());
                self.log(pod, t, "INFO", "SparkContext", &format!("Running Spark version {version}"));
                self.log(pod, t, "INFO", "SparkContext", &format!("Submitted application: {name}"));
            }
            Owner::Executor { exec, .. } => {
                let driver = self.driver_of(pod);
                let host = match &p.labels {
                    sparkrig_sim::store::LabelSource::Spark { sub, app, .. } => sub.driver_host(app.namespace()),
                    _ => String::new(),
                };
                self.log(
                    pod,
                    t,
                    "INFO",
                    "CoarseGrainedExecutorBackend",
                    &format!("Connecting to driver: spark://CoarseGrainedScheduler@{host}:7078"),
                );
                if let Some(d) = driver {
                    self.log(
                        &d,
                        t,
                        "INFO",
                        "KubernetesClusterSchedulerBackend",
                        &format!("Executor pod {} with ID {exec} is running", name_of(pod)),
                    );
                }
            }
            Owner::Component(_) => self.log(pod, t, "INFO", "main", "started"),
        }
    }

    fn ended_log(&mut self, t: Time, pod: &str, code: Option<i32>, reason: &str, message: &str) {
        let code_s = code.map_or("?".into(), |c| c.to_string());
        let failed = code != Some(0);
        let level = if failed { "ERROR" } else { "INFO" };
        if failed && !message.is_empty() {
            for line in message.split("; caused by ") {
                self.log(pod, t, level, "SparkUncaughtExceptionHandler", line);
            }
        }
        let store = self.sim.store();
        let owner = store.pod_index.get(pod).and_then(|id| store.pod(*id)).map(|p| p.owner);
        match owner {
            Some(Owner::Driver { .. }) if !failed => self.log(pod, t, "INFO", "SparkContext", "Successfully stopped SparkContext"),
            Some(Owner::Executor { exec, .. }) => {
                if let Some(d) = self.driver_of(pod) {
                    self.log(
                        &d,
                        t,
                        "INFO",
                        "ExecutorPodsLifecycleManager",
                        &format!("The executor with id {exec} exited with exit code {code_s}({reason}). {message}"),
                    );
                }
            }
            _ => {}
        }
        self.log(pod, t, "INFO", "ShutdownHookManager", &format!("Shutdown hook called (exit code {code_s})"));
    }

    /// A pod's container log (its current incarnation).
    pub fn pod_log(&self, pod: &str) -> Option<&[String]> {
        self.logs.get(pod).map(Vec::as_slice)
    }

    /// The uid the rendered object of a kind and key carries.
    fn uid_of(&self, kind: &str, object: &str) -> Option<String> {
        let store = self.sim.store();
        match kind {
            "Pod" => store.pod_index.get(object).map(|id| render::uid(render::UID_POD, u64::from(id.0))),
            "Node" => store.nodes.iter().position(|n| n.name == split(object).1).map(|n| render::uid(render::UID_NODE, n as u64)),
            "SparkApplication" => store.app_by_key(object).map(|id| render::uid(render::UID_APP, u64::from(id.0))),
            _ => None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn event(&mut self, t: Time, object: &str, kind: &str, type_: &str, reason: &str, message: &str, component: &str) {
        let uid = self.uid_of(kind, object);
        let (ns, name) = split(object);
        let ns = if ns.is_empty() { "default" } else { ns };
        self.event_seq += 1;
        let ev_name = format!("{name}.{:016x}", self.event_seq);
        let api_version = if kind == "SparkApplication" { "sparkoperator.k8s.io/v1beta2" } else { "v1" };
        let ts = self.clock.timestamp(t);
        let obj = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": ev_name, "namespace": ns},
            "involvedObject": {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "namespace": if kind == "Node" { Value::Null } else { ns.into() }},
            "reason": reason,
            "message": message,
            "type": type_,
            "source": {"component": component},
            "reportingComponent": component,
            "firstTimestamp": ts,
            "lastTimestamp": ts,
            "count": 1,
        });
        let res = index("", "events");
        self.objects.put(res, obj, &ts);
        self.events.push_back((ns.to_string(), ev_name));
        if self.events.len() > EVENTS_KEPT
            && let Some((ns, n)) = self.events.pop_front()
        {
            self.objects.remove(res, &ns, &n);
        }
    }

    /// Re-renders what the last records touched, and what changes with time alone
    /// (Deployments, Leases).
    pub fn refresh(&mut self) {
        let now = self.sim.now();
        let ts = self.clock.timestamp(now);
        let plan = self.sim.plan().clone();
        let dirty = std::mem::take(&mut self.dirty);
        let store = self.sim.store();
        let cx = render::Cx { store, view: &self.view, plan: &plan, clock: &self.clock, client_pods: &self.client_pods };
        let (pods, nodes, apps) = (index("", "pods"), index("", "nodes"), index("sparkoperator.k8s.io", "sparkapplications"));
        let mut collect: Vec<String> = Vec::new();
        for key in &dirty.pods {
            let (ns, name) = split(key);
            match store.pod_index.get(key).and_then(|id| render::pod(&cx, *id)) {
                Some(obj) => {
                    self.objects.put(pods, obj, &ts);
                }
                None => {
                    if let Some(gone) = self.objects.remove(pods, ns, name)
                        && let Some(uid) = gone["metadata"]["uid"].as_str()
                    {
                        collect.push(uid.to_string());
                    }
                    self.logs.remove(key);
                }
            }
        }
        for name in &dirty.nodes {
            match store.nodes.iter().position(|n| &n.name == name && !n.gone).and_then(|n| render::node(&cx, n)) {
                Some(obj) => {
                    self.objects.put(nodes, obj, &ts);
                }
                None => {
                    self.objects.remove(nodes, "", name);
                    self.objects.remove(index("coordination.k8s.io", "leases"), "kube-node-lease", name);
                }
            }
        }
        for key in &dirty.apps {
            let (ns, name) = split(key);
            match store.app_by_key(key).and_then(|id| render::spark_application(&cx, id)) {
                Some(obj) => {
                    self.objects.put(apps, obj, &ts);
                }
                None => {
                    self.objects.remove(apps, ns, name);
                }
            }
        }
        let leases = index("coordination.k8s.io", "leases");
        if dirty.platform {
            self.generations.resize(store.deployments.len(), (u32::MAX, 0));
            for c in 0..store.deployments.len() {
                let replicas = store.deployments[c].replicas;
                let g = &mut self.generations[c];
                if g.0 != replicas {
                    *g = (replicas, g.1 + 1);
                }
                let mut obj = render::deployment(&cx, c, g.1);
                let key = format!("{}/{}", store.deployments[c].kind.namespace(), store.deployments[c].kind.name());
                if let Some(a) = self.deployment_annotations.get(&key) {
                    obj["metadata"]["annotations"] = a.clone();
                }
                self.objects.put(index("apps", "deployments"), obj, &ts);
                self.objects.put(index("apps", "replicasets"), render::replicaset(&cx, c), &ts);
            }
            self.objects.put(leases, render::operator_lease(&cx), &ts);
            let pdbs = index("policy", "poddisruptionbudgets");
            let now_pdbs: BTreeSet<String> = store.pdbs.keys().cloned().collect();
            for key in self.pdbs.difference(&now_pdbs) {
                let (ns, name) = split(key);
                self.objects.remove(pdbs, ns, name);
            }
            for key in &now_pdbs {
                if let Some(obj) = render::pdb(&cx, key) {
                    self.objects.put(pdbs, obj, &ts);
                }
            }
            self.pdbs = now_pdbs;
            let created = self.clock.timestamp(Time::ZERO);
            for q in &store.quotas {
                self.objects.put(index("", "resourcequotas"), render::resource_quota(q, &created), &ts);
            }
        }
        if now.as_ms() / 10_000 != self.leases_at {
            self.leases_at = now.as_ms() / 10_000;
            for n in 0..store.nodes.len() {
                if let Some(l) = render::node_lease(&cx, n) {
                    self.objects.put(leases, l, &ts);
                }
            }
        }
        for uid in collect {
            self.collect_garbage(&uid);
        }
    }

    /// Background garbage collection: stored objects owned by a deleted object go with it
    /// (Spark's driver ConfigMap, Service and NetworkPolicy are owned by the driver pod).
    fn collect_garbage(&mut self, owner_uid: &str) {
        for plural in ["configmaps", "services", "networkpolicies", "persistentvolumeclaims"] {
            let i = index(if plural == "networkpolicies" { "networking.k8s.io" } else { "" }, plural);
            let owned: Vec<(String, String)> = self
                .objects
                .list(i, None)
                .filter(|o| o["metadata"]["ownerReferences"].as_array().is_some_and(|refs| refs.iter().any(|r| r["uid"] == owner_uid)))
                .map(|o| {
                    (
                        o["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
                        o["metadata"]["name"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            for (ns, name) in owned {
                self.objects.remove(i, &ns, &name);
            }
        }
    }

    /// Stores the annotations a client wrote on a platform Deployment (`namespace/name`); an
    /// empty map removes them.
    pub fn set_deployment_annotations(&mut self, key: &str, annotations: Value) {
        let (ns, name) = split(key);
        let deployments = index("apps", "deployments");
        let Some(current) = self.objects.get(deployments, ns, name) else { return };
        let mut obj = (**current).clone();
        if annotations.as_object().is_none_or(|a| a.is_empty()) {
            self.deployment_annotations.remove(key);
            obj["metadata"].as_object_mut().map(|m| m.remove("annotations"));
        } else {
            self.deployment_annotations.insert(key.to_string(), annotations.clone());
            obj["metadata"]["annotations"] = annotations;
        }
        let ts = self.clock.timestamp(self.sim.now());
        self.objects.put(deployments, obj, &ts);
    }

    /// The app of a `namespace/name`, if it exists.
    pub fn app(&self, key: &str) -> Option<AppId> {
        self.sim.store().app_by_key(key)
    }
}

/// Collects the records of one advance.
#[derive(Default)]
struct Collect(Vec<Record>);

impl Sink for Collect {
    fn record(&mut self, rec: &Record) {
        self.0.push(rec.clone());
    }
}

fn split(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}

fn name_of(key: &str) -> &str {
    split(key).1
}

/// `SUBMISSION_FAILED` → `SubmissionFailed` (the operator's event reasons).
fn camel(state: &str) -> String {
    if state.is_empty() {
        return "Added".into();
    }
    state
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c.flat_map(char::to_lowercase)).collect::<String>()).unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_misconfig_faults_corefile_stops_serving_cluster_names_and_the_default_serves() {
        assert!(corefile_serves(COREFILE));
        assert!(!corefile_serves(&COREFILE.replace("kubernetes cluster.local", "kubernetes sparkrig-broken.invalid")));
        assert!(!corefile_serves(&COREFILE.replacen('}', "", 1)), "unbalanced braces do not load");
        assert_eq!(camel("SUBMISSION_FAILED"), "SubmissionFailed");
    }
}
