//! The kube backend (any kubeconfig context) and the kind backend (kind cluster provisioned from
//! the topology, then the kube backend, then teardown). Both run a scenario unchanged: apps are
//! server-side applied at their arrival times, steps run in real time, waits are the scenario's
//! conditions over the same trace view the simulator uses, and watchers on pods, nodes and
//! SparkApplications are translated into the simulator's trace events.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Event as KubeEvent, Node, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, LogParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::runtime::{WatchStreamExt, watcher};
use sparkrig_model::faults::{FaultKind, FaultSpec};
use sparkrig_model::scenario::{Scenario, Step};
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::timeline::{
    Effect, TIMELINE_COMPLETE, Timeline, Timer, max_duration_reached, patch_matched_nothing, patch_rejected, patched,
};
use sparkrig_model::trace::{Event, Record, Sink, TraceView};
use sparkrig_run::backend::{Backend, BackendError, RunInfo};
use sparkrig_run::verdict::Verdict;

use crate::error::{Error, Result};
use crate::exec::{self, Executor};
use crate::faults::{ClusterFacts, FaultPlan, fault_plan};
use crate::kindcfg::KindOptions;
use crate::plan::Plan;
use crate::provision::{self, Decision, Existing, Images, Observed, UpOptions};
use crate::stack::{self, OPERATOR_NAMESPACE};
use crate::translate::{Translator, pod_in_scope};

/// The SparkApplication CRD the operator chart installs.
pub const SPARK_APPLICATION_CRD: &str = "sparkapplications.sparkoperator.k8s.io";

/// Pods worth saving logs for, at most.
const DIAGNOSED_PODS: usize = 20;

/// How long, after the apps reached their states, their pods' last changes are waited for
/// (sparkrig's own bound: a pod's watch event trails its app's by a watch round trip).
const SETTLE: Dur = Dur::secs(30);

fn spark_application_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk("sparkoperator.k8s.io", "v1beta2", "SparkApplication");
    ApiResource::from_gvk_with_plural(&gvk, "sparkapplications")
}

fn scheduled_application_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk("sparkoperator.k8s.io", "v1beta2", "ScheduledSparkApplication");
    ApiResource::from_gvk_with_plural(&gvk, "scheduledsparkapplications")
}

fn backend_err(e: impl std::fmt::Display) -> BackendError {
    BackendError::Other(e.to_string())
}

/// Faults that act on containers, which only exist on kind.
pub fn needs_kind(spec: &FaultSpec) -> bool {
    matches!(
        spec.kind(),
        FaultKind::NodeLoss
            | FaultKind::SpotInterruption
            | FaultKind::NetworkPartition
            | FaultKind::MinioOutage
            | FaultKind::RegistryOutage
    )
}

/// Refuses, before anything starts, a scenario whose faults this backend cannot carry out.
pub fn check_supported(s: &Scenario, kind: bool) -> Result<()> {
    for (i, step) in s.steps.iter().enumerate() {
        if let Step::Upgrade(u) = step {
            return Err(Error::Invalid(format!(
                "{}: steps[{i}] is `{}`: the kube and kind backends do not upgrade a real cluster (managed nodegroups, Karpenter, helm and the control plane are driven by your cloud and CD tooling, not by sparkrig); rehearse it with --backend sim, or against the simulated cluster of `sparkrig serve`",
                s.file,
                u.describe()
            )));
        }
        if let Step::Inject(f) = step
            && needs_kind(&f.spec)
            && !kind
        {
            return Err(Error::Invalid(format!(
                "{}: steps[{i}] injects {}, which acts on containers (nodes, MinIO, the registry); run it with --backend kind",
                s.file,
                f.spec.kind().name()
            )));
        }
    }
    Ok(())
}

/// The run as a plan, for `--dry-run`: what is applied when, what is waited for, each fault's
/// inject/later/heal plans. Node faults resolve against `facts.nodes` (kind's node map).
pub fn dry_run(s: &Scenario, facts: &ClusterFacts) -> Result<String> {
    let mut facts = facts.clone();
    facts.apps = s.generated_apps().iter().map(|a| format!("{}/{}", a.namespace(), a.metadata.name)).collect();
    facts.apps.sort();
    let facts = &facts;
    let yaml = |v: &serde_json::Value| serde_yaml::to_string(v).map_err(|e| Error::Invalid(e.to_string()));
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str(&l);
        out.push('\n');
    };
    line(format!(
        "# watch pods (spark-role, kube-system/kube-dns, {OPERATOR_NAMESPACE}), nodes and SparkApplications; translate them into trace events"
    ));
    for m in &s.extra_manifests {
        line(format!("kubectl apply --server-side --field-manager=sparkrig -f - <<'EOF'   # from the app manifests\n{}EOF", yaml(m)?));
    }
    let mut shown = BTreeSet::new();
    for a in &s.arrivals {
        let app = s.templates[a.template].app.renamed(&a.name);
        if shown.insert(a.template) {
            line(format!(
                "# the SparkApplication applied for {} (apps from the same manifest differ only in name):\nkubectl apply --server-side --field-manager=sparkrig -f - <<'EOF'\n{}EOF",
                a.name,
                yaml(&app.to_json())?
            ));
        }
        line(format!(
            "# at {}: create SparkApplication {}/{} (server-side apply; a refusal is recorded as app_rejected)",
            a.at,
            app.namespace(),
            a.name
        ));
    }
    for (i, step) in s.steps.iter().enumerate() {
        line(format!("# step {}: {}", i + 1, step.describe()));
        match step {
            Step::Submit { template, names } => {
                let app = &s.templates[*template].app;
                let json = app.renamed(&names[0]).to_json();
                line(format!(
                    "kubectl apply --server-side --field-manager=sparkrig -f - <<'EOF'   # and likewise for {} app(s)\n{}EOF",
                    names.len(),
                    yaml(&json)?
                ));
            }
            Step::Wait { condition, timeout } => line(format!("#   watch until {condition}, at most {timeout}")),
            Step::Sleep(d) => line(format!("sleep {}", d.as_ms() / 1000)),
            Step::Inject(f) => {
                let fp = fault_plan(&f.spec, facts)?;
                out_plan(&mut line, "inject", &fp.inject);
                for (after, p) in &fp.later {
                    out_plan(&mut line, &format!("{}s after the injection", after.as_secs()), p);
                }
                out_plan(&mut line, &format!("heal `{}` (at its heal step, or at the end)", f.id), &fp.heal);
            }
            Step::Heal(id) => line(format!("#   run the heal plan of `{id}`")),
            Step::Patch { apps, spec } => line(format!(
                "kubectl patch sparkapplication <apps matching {apps}> --type merge -p {}   # fails when no app of the run matches",
                crate::plan::quote(&serde_json::json!({"spec": spec}).to_string())
            )),
            Step::Upgrade(u) => line(format!("#   not supported on a real cluster: {}", u.describe())),
        }
    }
    line("# at the end, even after a failure or on Ctrl-C / SIGTERM: every fault still active is healed (each heal step retried with backoff; what cannot be healed is printed with the command that restores it, and the run exits 2)".into());
    Ok(out)
}

fn out_plan(line: &mut impl FnMut(String), title: &str, p: &Plan) {
    line(format!("#   {title}:"));
    for s in &p.steps {
        line(format!("{}   # {}", s.action, s.why));
    }
}

/// A kubeconfig context to run on, and, when the cluster is a sparkrig kind cluster, what its
/// containers are called.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Context (`kind-<name>` for kind).
    pub context: Option<String>,
    /// kind cluster name.
    pub kind_cluster: Option<String>,
    /// MinIO container.
    pub minio_container: Option<String>,
}

/// The kube backend.
pub struct KubeBackend {
    rt: tokio::runtime::Runtime,
    target: Target,
    /// Print progress lines (steps, faults) to stderr.
    pub verbose: bool,
}

impl KubeBackend {
    /// A backend on `target`.
    pub fn new(target: Target) -> Result<KubeBackend, BackendError> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(backend_err)?;
        Ok(KubeBackend { rt, target, verbose: true })
    }
}

impl Backend for KubeBackend {
    fn name(&self) -> &'static str {
        if self.target.kind_cluster.is_some() { "kind" } else { "kube" }
    }

    fn run(&mut self, plan: &Scenario, sink: &mut dyn Sink) -> Result<RunInfo, BackendError> {
        check_supported(plan, self.target.kind_cluster.is_some()).map_err(backend_err)?;
        let name = self.name();
        let target = self.target.clone();
        let verbose = self.verbose;
        self.rt.block_on(async move {
            // Handled before anything is touched: a signal from now on heals, then exits.
            let stop = stop_signals().map_err(backend_err)?;
            let client = exec::client(target.context.as_deref()).await.map_err(backend_err)?;
            let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
            if crds.get_opt(SPARK_APPLICATION_CRD).await.map_err(backend_err)?.is_none() {
                return Err(BackendError::Other(format!(
                    "the Spark Operator is not installed in {} (no CRD {SPARK_APPLICATION_CRD}); run `sparkrig up` or install the chart",
                    target.context.as_deref().unwrap_or("the current context")
                )));
            }
            let mut run = Run::new(plan, name, &target, client, sink, stop, verbose);
            run.go().await
        })
    }

    fn diagnose(&mut self, verdict: &Verdict, dir: &Path) -> Vec<PathBuf> {
        let target = self.target.clone();
        self.rt.block_on(diagnose(&target, verdict, dir))
    }
}

fn app_key(a: &DynamicObject) -> String {
    format!("{}/{}", a.metadata.namespace.as_deref().unwrap_or("default"), a.metadata.name.as_deref().unwrap_or(""))
}

/// Of the SparkApplications found under the names a scenario will create: the ones an earlier
/// sparkrig run left (to delete), or an error naming one that is not sparkrig's.
pub fn stale_apps(found: &[(String, BTreeMap<String, String>)]) -> Result<Vec<String>> {
    let mut stale = Vec::new();
    for (key, labels) in found {
        if labels.get(crate::OWNER_LABEL).map(String::as_str) == Some("app") {
            stale.push(key.clone());
        } else {
            return Err(Error::NotOurs {
                what: format!("SparkApplication {key}"),
                why: format!("no {} label; rename the scenario's apps or use another namespace", crate::OWNER_LABEL),
            });
        }
    }
    Ok(stale)
}

/// Pods named in the failed checks' evidence.
pub fn involved_pods(v: &Verdict) -> Vec<String> {
    let mut pods = BTreeSet::new();
    for r in v.results.iter().filter(|r| !r.passed) {
        for e in &r.evidence {
            if let Some(p) = &e.pod {
                pods.insert(p.clone());
            }
        }
    }
    pods.into_iter().take(DIAGNOSED_PODS).collect()
}

async fn diagnose(target: &Target, verdict: &Verdict, dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let pods = involved_pods(verdict);
    // The folder is created only for something to put in it.
    if pods.is_empty() && target.kind_cluster.is_none() {
        return files;
    }
    if std::fs::create_dir_all(dir).is_err() {
        return files;
    }
    let Ok(client) = exec::client(target.context.as_deref()).await else {
        let _ = std::fs::remove_dir(dir);
        return files;
    };
    for key in pods {
        let (ns, name) = key.split_once('/').unwrap_or(("default", &key));
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let mut text = String::new();
        match pods.get_opt(name).await {
            Ok(Some(p)) => {
                for c in p.spec.iter().flat_map(|s| s.containers.iter()) {
                    let lp = LogParams { container: Some(c.name.clone()), tail_lines: Some(500), ..LogParams::default() };
                    let logs = pods.logs(name, &lp).await.unwrap_or_else(|e| format!("(no logs: {e})"));
                    text.push_str(&format!("==> {key} container {} <==\n{logs}\n", c.name));
                }
            }
            Ok(None) => text.push_str(&format!("{key}: the pod object is gone; its logs went with it\n")),
            Err(e) => text.push_str(&format!("{key}: {e}\n")),
        }
        let events: Api<KubeEvent> = Api::namespaced(client.clone(), ns);
        let lp = ListParams::default().fields(&format!("involvedObject.name={name}"));
        text.push_str(&format!("==> events of {key} <==\n"));
        for e in events.list(&lp).await.map(|l| l.items).unwrap_or_default() {
            text.push_str(&format!(
                "{} {} {}: {}\n",
                e.last_timestamp.map(|t| t.0.to_string()).unwrap_or_default(),
                e.type_.unwrap_or_default(),
                e.reason.unwrap_or_default(),
                e.message.unwrap_or_default()
            ));
        }
        let path = dir.join(format!("{}.txt", key.replace('/', "_")));
        if std::fs::write(&path, text).is_ok() {
            files.push(path);
        }
    }
    if let Some(cluster) = &target.kind_cluster {
        let out = dir.join("kind-logs");
        let args = ["export", "logs", &out.display().to_string(), "--name", cluster].map(String::from);
        if exec::run_program("kind", &args, None).await.is_ok() {
            files.push(out);
        }
    }
    if files.is_empty() {
        // Removes the folder only if it is empty.
        let _ = std::fs::remove_dir(dir);
    }
    files
}

/// The speed of a `sparkrig serve` cluster's virtual clock (None on a real cluster, which has
/// no `/sparkrig/v1/clock`).
pub async fn virtual_clock(client: &Client) -> Option<f64> {
    let req = http::Request::get("/sparkrig/v1/clock").body(Vec::new()).ok()?;
    let text = client.request_text(req).await.ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["speed"].as_f64().filter(|s| s.is_finite() && *s > 0.0)
}

/// One watch event; boxed, since the objects are large and differ in size.
enum Obs {
    Pod(Box<watcher::Event<Pod>>),
    Node(Box<watcher::Event<Node>>),
    App(Box<watcher::Event<DynamicObject>>),
}

fn watch_all(client: &Client) -> impl Stream<Item = Obs> + Send + use<> {
    let cfg = watcher::Config::default;
    let spark = watcher(Api::<Pod>::all(client.clone()), cfg().labels("spark-role"))
        .default_backoff()
        .filter_map(|r| async { r.ok().map(|e| Obs::Pod(Box::new(e))) });
    let dns = watcher(Api::<Pod>::namespaced(client.clone(), "kube-system"), cfg().labels("k8s-app=kube-dns"))
        .default_backoff()
        .filter_map(|r| async { r.ok().map(|e| Obs::Pod(Box::new(e))) });
    let operator = watcher(Api::<Pod>::namespaced(client.clone(), OPERATOR_NAMESPACE), cfg())
        .default_backoff()
        .filter_map(|r| async { r.ok().map(|e| Obs::Pod(Box::new(e))) });
    let nodes =
        watcher(Api::<Node>::all(client.clone()), cfg()).default_backoff().filter_map(|r| async { r.ok().map(|e| Obs::Node(Box::new(e))) });
    let apps = watcher(Api::<DynamicObject>::all_with(client.clone(), &spark_application_resource()), cfg())
        .default_backoff()
        .filter_map(|r| async { r.ok().map(|e| Obs::App(Box::new(e))) });
    futures::stream::select_all([spark.boxed(), dns.boxed(), operator.boxed(), nodes.boxed(), apps.boxed()])
}

struct Run<'a> {
    s: &'a Scenario,
    backend: &'static str,
    target: &'a Target,
    client: Client,
    sink: &'a mut dyn Sink,
    start: Instant,
    /// Virtual seconds per wall second: 1 on a real cluster, the server's factor on
    /// `sparkrig serve` (discovered from its clock), so that trace times, sleeps, waits and
    /// arrivals follow the simulated cluster's time.
    speed: f64,
    /// The cluster is `sparkrig serve`'s simulation.
    simulated: bool,
    view: TraceView,
    translator: Translator,
    exec: Executor,
    /// The scenario timeline, shared with the simulator.
    timeline: Timeline,
    /// Timers the timeline armed, by due time (then arming order).
    timers: BTreeMap<(Time, u64), Timer>,
    armed: u64,
    active: BTreeMap<String, FaultPlan>,
    later: Vec<(Time, String, Plan)>,
    ended: Option<String>,
    records: u64,
    /// Records handed to the sink at its last flush.
    flushed: u64,
    /// The node watch's first list has arrived (faults may act on nodes only then).
    nodes_listed: bool,
    /// Uids of the SparkApplications this run created (from the API's answers), and of the
    /// Spark pods they own: a Spark pod is this run's only if its ownerReferences lead here.
    app_uids: BTreeSet<String>,
    spark_pod_uids: BTreeSet<String>,
    /// Faults whose heal failed: id, error, the commands that restore them.
    broken: Vec<(String, String, String)>,
    /// The first SIGINT or SIGTERM (`Ctrl-C` / `SIGTERM`), once received.
    stop: tokio::sync::watch::Receiver<Option<&'static str>>,
    verbose: bool,
}

/// How often a heal step is tried before the fault is reported unhealed.
const HEAL_ATTEMPTS: u32 = 6;
/// The wait before the first retry of a heal step (on the cluster's clock), doubled each time:
/// 1 + 2 + 4 + 8 + 16 = 31 s in all.
const HEAL_BACKOFF: Dur = Dur::secs(1);
/// How long one attempt of a heal step may take (wall time): an API server that accepts
/// connections but never answers does not hold the heal forever.
const HEAL_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long sparkrig waits for the first node list (wall time) before giving up.
const NODE_LIST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an earlier run's apps and pods may take to go (wall time).
const STALE_TIMEOUT: Duration = Duration::from_secs(180);

/// SIGINT and SIGTERM (`timeout`, CI cancellation, `docker stop`), handled from now on: the
/// first one is published on the returned channel, and neither ends the process any more, so
/// the run can heal its faults and write its trace before it exits.
pub fn stop_signals() -> Result<tokio::sync::watch::Receiver<Option<&'static str>>> {
    let (tx, rx) = tokio::sync::watch::channel(None);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt()).map_err(|e| Error::io("SIGINT handler", e))?;
        let mut term = signal(SignalKind::terminate()).map_err(|e| Error::io("SIGTERM handler", e))?;
        tokio::spawn(async move {
            let which = tokio::select! {
                _ = int.recv() => "Ctrl-C",
                _ = term.recv() => "SIGTERM",
            };
            let _ = tx.send(Some(which));
            // Later signals are received and ignored while the run heals.
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = tx.send(Some("Ctrl-C"));
        }
    });
    Ok(rx)
}

/// Resolves once a stop signal has been received (at once if it already was).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<Option<&'static str>>) -> &'static str {
    match stop.wait_for(Option::is_some).await {
        Ok(v) => v.unwrap_or("a signal"),
        Err(_) => std::future::pending().await,
    }
}

impl<'a> Run<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        s: &'a Scenario,
        backend: &'static str,
        target: &'a Target,
        client: Client,
        sink: &'a mut dyn Sink,
        stop: tokio::sync::watch::Receiver<Option<&'static str>>,
        verbose: bool,
    ) -> Run<'a> {
        let interruptible = s.topology.groups.iter().filter(|g| g.interruptible).map(|g| g.name.clone());
        let mut exec = Executor::new(target.context.clone());
        if !verbose {
            exec.log = Box::new(|_| {});
        }
        Run {
            s,
            backend,
            target,
            client,
            sink,
            start: Instant::now(),
            speed: 1.0,
            simulated: false,
            view: TraceView::current_only(),
            translator: Translator::new(&s.topology.group_label, interruptible),
            exec,
            timeline: Timeline::new(s),
            timers: BTreeMap::new(),
            armed: 0,
            active: BTreeMap::new(),
            later: Vec::new(),
            ended: None,
            records: 0,
            flushed: 0,
            nodes_listed: false,
            app_uids: BTreeSet::new(),
            spark_pod_uids: BTreeSet::new(),
            broken: Vec::new(),
            stop,
            verbose,
        }
    }

    fn now(&self) -> Time {
        Time((self.start.elapsed().as_secs_f64() * 1000.0 * self.speed) as u64)
    }

    /// The wall-clock instant of a trace time.
    fn wall(&self, t: Time) -> Instant {
        self.start + Duration::from_secs_f64(t.as_ms() as f64 / 1000.0 / self.speed)
    }

    /// Lets `d` pass on the cluster's clock.
    async fn sleep(&self, d: Dur) {
        tokio::time::sleep(Duration::from_secs_f64(d.as_ms() as f64 / 1000.0 / self.speed)).await;
    }

    fn emit(&mut self, event: Event) {
        let rec = Record { t: self.now(), event };
        self.view.apply(&rec);
        self.sink.record(&rec);
        self.records += 1;
    }

    /// Writes out what was recorded since the last flush: a run killed later leaves it.
    fn flush(&mut self) {
        if self.flushed != self.records {
            self.sink.flush();
            self.flushed = self.records;
        }
    }

    fn say(&self, line: &str) {
        if self.verbose {
            eprintln!("[{}] {line}", self.now());
        }
    }

    /// Before anything changes: objects the scenario's faults change must not carry a record
    /// of an earlier change (a run that was killed before it healed, or one running now).
    async fn refuse_left_broken(&mut self) -> Result<()> {
        let plans: Vec<Plan> = self
            .s
            .steps
            .iter()
            .filter_map(|s| match s {
                // Node faults need the node list; their objects carry no records.
                Step::Inject(f) => fault_plan(&f.spec, &ClusterFacts::default()).ok().map(|fp| fp.inject),
                _ => None,
            })
            .collect();
        self.exec.refuse_left_broken(&plans).await
    }

    async fn prepare(&mut self) -> Result<()> {
        if let Some(speed) = virtual_clock(&self.client).await {
            (self.speed, self.simulated) = (speed, true);
            self.say(&format!("the cluster is sparkrig serve's simulation at {}x: following its clock", self.speed));
        }
        self.refuse_left_broken().await?;
        self.clear_previous_apps().await
    }

    async fn go(&mut self) -> Result<RunInfo, BackendError> {
        let mut stop = self.stop.clone();
        tokio::select! {
            r = self.prepare() => r.map_err(backend_err)?,
            s = stopped(&mut stop) => {
                return Err(backend_err(Error::Interrupted { during: format!("by {s} while preparing the run (nothing was changed)") }));
            }
        }
        // Time zero is when the scenario starts, after the preparation above.
        self.start = Instant::now();
        self.emit(Event::RunStarted { scenario: self.s.name.clone(), backend: self.backend.into(), seed: None });
        for m in &self.s.extra_manifests {
            let text = serde_yaml::to_string(m).map_err(backend_err)?;
            exec::apply(&self.client, &text).await.map_err(backend_err)?;
        }
        let mut watch = watch_all(&self.client).boxed();
        // Nothing starts before the cluster's nodes are known: faults are planned on them.
        let listed_by = Instant::now() + NODE_LIST_TIMEOUT;
        while !self.nodes_listed && self.ended.is_none() {
            tokio::select! {
                obs = watch.next() => match obs {
                    Some(o) => self.observe(o).await,
                    None => self.ended = Some("the watch streams ended".into()),
                },
                _ = tokio::time::sleep_until(listed_by.into()) => {
                    return Err(BackendError::Other(format!("the API server did not list the nodes within {} s", NODE_LIST_TIMEOUT.as_secs())));
                }
                s = stopped(&mut stop) => self.ended = Some(format!("interrupted by {s}")),
            }
        }
        self.flush();
        let deadline = Time::ZERO + self.s.max_duration;
        if self.ended.is_none() {
            let fx = self.timeline.start();
            self.apply(fx).await;
        }
        while self.ended.is_none() {
            let next_timer = self.timers.keys().next().map(|k| k.0);
            let later_due = self.later.iter().map(|l| l.0).min();
            let next = [next_timer, later_due, Some(deadline)].into_iter().flatten().min().expect("the deadline is always set");
            tokio::select! {
                obs = watch.next() => match obs {
                    Some(o) => self.observe(o).await,
                    None => self.ended = Some("the watch streams ended".into()),
                },
                _ = tokio::time::sleep_until(self.wall(next).into()) => {
                    let now = self.now();
                    self.run_later(now).await;
                    while let Some(entry) = self.timers.first_entry().filter(|e| e.key().0 <= now) {
                        let timer = entry.remove();
                        let fx = self.timeline.on_timer(timer, &self.view);
                        self.apply(fx).await;
                    }
                    if now >= deadline && self.ended.is_none() {
                        self.ended = Some(max_duration_reached(self.s.max_duration));
                    }
                }
                s = stopped(&mut stop) => {
                    self.say(&format!("interrupted by {s}: healing faults and stopping"));
                    let fx = self.timeline.interrupt(&format!("interrupted ({s})"), format!("interrupted by {s}"));
                    self.apply(fx).await;
                    self.ended.get_or_insert_with(|| format!("interrupted by {s}"));
                }
            }
            self.flush();
        }
        if self.ended.as_deref() == Some(TIMELINE_COMPLETE) {
            self.settle(&mut watch).await;
        }
        let ids: Vec<String> = self.active.keys().cloned().collect();
        for id in ids {
            let _ = self.heal(&id).await;
            self.flush();
        }
        let reason = self.ended.clone().unwrap_or_default();
        self.emit(Event::RunEnded { reason: reason.clone() });
        self.flush();
        if !self.broken.is_empty() {
            // Always printed, even with -q: the cluster needs a person.
            eprintln!("sparkrig could not heal every fault it injected; the cluster is left broken:");
            for (id, error, restore) in &self.broken {
                eprintln!("  {id}: {error}\n  restore it with:");
                for l in restore.lines() {
                    eprintln!("    {l}");
                }
            }
        }
        Ok(RunInfo { end: self.now(), reason, stats: vec![("records", self.records)] })
    }

    /// The timeline completed: the apps reached their states. Their pods' last changes (the
    /// driver's exit, executors killed as it ends) travel on other watch streams and may still
    /// be on their way, so they are read for up to [`SETTLE`] (on the cluster's clock), until
    /// every Spark pod seen has ended or is gone.
    async fn settle(&mut self, watch: &mut (impl Stream<Item = Obs> + Unpin)) {
        let until = self.now() + SETTLE;
        let mut stop = self.stop.clone();
        while self.view.pods.values().any(|p| p.role.is_some() && p.ended.is_none() && p.deleted.is_none()) {
            tokio::select! {
                obs = watch.next() => match obs {
                    Some(o) => self.observe(o).await,
                    None => return,
                },
                _ = tokio::time::sleep_until(self.wall(until).into()) => {
                    self.say("some Spark pods had not ended when the apps had; not waiting longer for them");
                    return;
                }
                _ = stopped(&mut stop) => return,
            }
            self.flush();
        }
    }

    /// Carries out the timeline's effects in order; an action's outcome feeds the timeline at
    /// once, and what it returns runs next.
    async fn apply(&mut self, fx: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = fx.into();
        while let Some(e) = queue.pop_front() {
            let outcome = match e {
                Effect::Emit(ev) => {
                    if let Event::StepStarted { what, step } = &ev {
                        self.say(&format!("step {}: {what}", step + 1));
                    }
                    self.emit(ev);
                    continue;
                }
                Effect::Arm { timer, after } => {
                    self.armed += 1;
                    let due = self.now() + after;
                    self.timers.insert((due, self.armed), timer);
                    continue;
                }
                Effect::CreateApp { template, name } => {
                    self.create_app(template, &name).await;
                    continue;
                }
                Effect::CreateScheduled { template, name } => {
                    self.create_scheduled(template, &name).await;
                    continue;
                }
                Effect::Finish(reason) => {
                    self.ended.get_or_insert(reason);
                    continue;
                }
                Effect::Submit { template, names } => {
                    for name in &names {
                        self.create_app(template, name).await;
                    }
                    Ok(String::new())
                }
                Effect::Inject(f) => self.inject(&f.id, &f.spec).await,
                Effect::Heal(id) => self.heal(&id).await,
                Effect::Patch { apps, spec } => self.patch(&apps, &spec).await,
                // Refused before the run starts (check_supported).
                Effect::Upgrade(u) => Err(format!("{} is not supported on a real cluster", u.describe())),
            };
            let more = self.timeline.completed(outcome, &self.view);
            for e in more.into_iter().rev() {
                queue.push_front(e);
            }
        }
    }

    /// Whether a pod the watches deliver is this run's: platform pods always; Spark pods when
    /// they carry the name of one of the run's apps (in its namespace) and their
    /// ownerReferences lead to a SparkApplication this run created (the driver directly,
    /// executors directly or through their driver). Another namespace's app of the same name,
    /// an earlier run's pods and a pod that merely carries Spark's labels are not.
    fn ours(&mut self, p: &Pod, remember: bool) -> bool {
        if !pod_in_scope(p, self.timeline.expected()) {
            return false;
        }
        if !p.metadata.labels.as_ref().is_some_and(|l| l.contains_key("spark-role")) {
            return true;
        }
        let uid = p.metadata.uid.clone().unwrap_or_default();
        let owned = self.spark_pod_uids.contains(&uid)
            || p.metadata.owner_references.iter().flatten().any(|o| self.app_uids.contains(&o.uid) || self.spark_pod_uids.contains(&o.uid));
        if owned && remember && !uid.is_empty() {
            self.spark_pod_uids.insert(uid);
        }
        owned
    }

    async fn observe(&mut self, o: Obs) {
        let events = match o {
            Obs::Pod(e) => match *e {
                watcher::Event::Apply(p) | watcher::Event::InitApply(p) if self.ours(&p, true) => self.translator.pod(&p),
                watcher::Event::Delete(p) if self.ours(&p, false) => self.translator.pod_deleted(&p),
                _ => vec![],
            },
            Obs::Node(e) => match *e {
                watcher::Event::Apply(n) | watcher::Event::InitApply(n) => self.translator.node(&n),
                watcher::Event::Delete(n) => self.translator.node_deleted(&n),
                watcher::Event::InitDone => {
                    self.nodes_listed = true;
                    vec![]
                }
                watcher::Event::Init => vec![],
            },
            Obs::App(e) => match *e {
                watcher::Event::Apply(a) | watcher::Event::InitApply(a) if self.timeline.expected().contains(&app_key(&a)) => {
                    // Ours (the answer to its apply may have been lost on the way back).
                    if a.metadata.labels.as_ref().and_then(|l| l.get(crate::OWNER_LABEL)).map(String::as_str) == Some("app") {
                        self.app_uids.extend(a.metadata.uid.clone());
                    }
                    self.translator.app(&serde_json::to_value(&a).unwrap_or_default())
                }
                watcher::Event::Delete(a) => {
                    self.translator.app_deleted(&serde_json::to_value(&a).unwrap_or_default());
                    vec![]
                }
                _ => vec![],
            },
        };
        if events.is_empty() {
            return;
        }
        for e in events {
            self.emit(e);
        }
        let fx = self.timeline.on_view_changed(&self.view);
        self.apply(fx).await;
    }

    /// SparkApplications of an earlier run with the names this scenario creates are deleted
    /// (they carry sparkrig's label), so apps start fresh; anything else by those names is not
    /// ours and stops the run. Their pods go with them (garbage collection, after the pods'
    /// grace period): the run starts once they are gone too (and pods owned by them would not
    /// be this run's anyway, see [`Run::ours`]).
    async fn clear_previous_apps(&mut self) -> Result<()> {
        let names: Vec<(String, String)> =
            self.s.generated_apps().iter().map(|a| (a.namespace().to_string(), a.metadata.name.clone())).collect();
        let mut found = Vec::new();
        let mut uids = BTreeMap::new();
        for (ns, name) in &names {
            let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &spark_application_resource());
            if let Some(o) = api.get_opt(name).await.map_err(|e| Error::kube(format!("SparkApplication {ns}/{name}"), e))? {
                uids.insert(format!("{ns}/{name}"), o.metadata.uid.clone().unwrap_or_default());
                found.push((format!("{ns}/{name}"), o.metadata.labels.unwrap_or_default().into_iter().collect()));
            }
        }
        let stale = stale_apps(&found)?;
        for key in &stale {
            let (ns, name) = key.split_once('/').expect("namespace/name");
            self.say(&format!("deleting {key}, left by an earlier sparkrig run, and waiting for its pods to go"));
            let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &spark_application_resource());
            let _ = api.delete(name, &Default::default()).await;
        }
        let give_up = Instant::now() + STALE_TIMEOUT;
        let poll = Duration::from_millis(if self.simulated { 50 } else { 1000 });
        for key in &stale {
            let (ns, name) = key.split_once('/').expect("namespace/name");
            let apps: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &spark_application_resource());
            let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
            let lp = ListParams::default().labels(&format!("{}={name}", crate::plan::APP_NAME_LABEL));
            loop {
                let app_left = apps.get_opt(name).await.map_err(|e| Error::kube(format!("SparkApplication {key}"), e))?.is_some();
                let list = pods.list(&lp).await.map_err(|e| Error::kube(format!("pods of {key}"), e))?;
                let left: Vec<String> =
                    exec::owned_pods(&list.items, &uids[key]).into_iter().map(|p| p.metadata.name.clone().unwrap_or_default()).collect();
                if !app_left && left.is_empty() {
                    break;
                }
                if Instant::now() > give_up {
                    let what = if app_left { format!("SparkApplication {key}") } else { format!("its pods {}", left.join(", ")) };
                    return Err(Error::Timeout { after: STALE_TIMEOUT, last: format!("{what} from an earlier run, deleted, still there") });
                }
                tokio::time::sleep(poll).await;
            }
        }
        Ok(())
    }

    async fn create_app(&mut self, template: usize, name: &str) {
        let app = self.s.templates[template].app.renamed(name);
        let ns = app.namespace().to_string();
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &ns, &spark_application_resource());
        let mut json = app.to_json();
        json["metadata"]["labels"][crate::OWNER_LABEL] = "app".into();
        if self.simulated {
            // sparkrig serve simulates the app's work as the scenario says.
            let work = sparkrig_model::scenario::work_annotation(&self.s.templates[template].work);
            json["metadata"]["annotations"][sparkrig_model::scenario::WORK_ANNOTATION] = work.into();
        }
        let obj: DynamicObject = match serde_json::from_value(json) {
            Ok(o) => o,
            Err(e) => return self.emit(Event::AppRejected { app: format!("{ns}/{name}"), message: e.to_string() }),
        };
        match api.patch(name, &PatchParams::apply(exec::FIELD_MANAGER), &Patch::Apply(&obj)).await {
            Ok(created) => self.app_uids.extend(created.metadata.uid),
            Err(e) => self.emit(Event::AppRejected { app: format!("{ns}/{name}"), message: e.to_string() }),
        }
    }

    /// Server-side apply of a ScheduledSparkApplication; the operator creates its children.
    async fn create_scheduled(&mut self, template: usize, name: &str) {
        let ssa = self.s.scheduled[template].app.renamed(name);
        let ns = ssa.namespace.clone();
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &ns, &scheduled_application_resource());
        let mut json = ssa.to_json();
        json["metadata"]["labels"][crate::OWNER_LABEL] = "app".into();
        let outcome = match serde_json::from_value::<DynamicObject>(json) {
            Ok(obj) => {
                api.patch(name, &PatchParams::apply(exec::FIELD_MANAGER), &Patch::Apply(&obj)).await.map(|_| ()).map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(()) => self.emit(Event::ScheduledAppCreated {
                app: ssa.key(),
                schedule: ssa.schedule.clone(),
                concurrency_policy: ssa.concurrency.name().to_string(),
            }),
            Err(e) => self.say(&format!("ScheduledSparkApplication {}: {e}", ssa.key())),
        }
    }

    fn facts(&self) -> ClusterFacts {
        let mut nodes: Vec<(String, String)> =
            self.view.nodes.iter().filter(|(_, n)| n.removed.is_none()).map(|(k, n)| (k.clone(), n.group.clone())).collect();
        nodes.sort();
        ClusterFacts {
            kind_cluster: self.target.kind_cluster.clone(),
            minio_container: self.target.minio_container.clone(),
            nodes,
            apps: self.timeline.expected().iter().cloned().collect(),
        }
    }

    async fn inject(&mut self, id: &str, spec: &FaultSpec) -> Result<String, String> {
        let fp = fault_plan(spec, &self.facts()).map_err(|e| e.to_string())?;
        if let Err(e) = self.exec.run(&fp.inject).await {
            // Whatever part of it was carried out is undone (heal steps act only on what the
            // injection recorded); if that fails too, the cluster is left broken.
            let failed = self.heal_steps(&fp.heal).await;
            if !failed.is_empty() {
                self.heal_failed(id, spec.target(), failed);
            }
            return Err(e.to_string());
        }
        self.emit(Event::FaultInjected { fault: id.into(), target: spec.target() });
        let now = self.now();
        for (after, plan) in &fp.later {
            self.later.push((now + Dur::ms(after.as_millis() as u64), id.to_string(), plan.clone()));
        }
        self.active.insert(id.to_string(), fp);
        Ok(String::new())
    }

    async fn run_later(&mut self, now: Time) {
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.later).into_iter().partition(|l| l.0 <= now);
        self.later = keep;
        for (_, id, plan) in due {
            let errors = self.exec.run_all(&plan).await;
            for e in errors {
                self.say(&format!("{id}: {e}"));
            }
        }
    }

    /// Heals a fault: each heal step is tried up to [`HEAL_ATTEMPTS`] times with backoff (on
    /// the cluster's clock) while its error is retryable; what the injection recorded is kept
    /// until the restore succeeded. A fault whose heal failed is recorded as
    /// `fault_heal_failed` with the error and the commands that restore it, and fails the step.
    async fn heal(&mut self, id: &str) -> Result<String, String> {
        let Some(fp) = self.active.get(id).cloned() else { return Ok(String::new()) };
        self.later.retain(|l| l.1 != id);
        let failed = self.heal_steps(&fp.heal).await;
        self.active.remove(id);
        let target = self
            .s
            .steps
            .iter()
            .find_map(|s| match s {
                Step::Inject(f) if f.id == id => Some(f.spec.target()),
                _ => None,
            })
            .unwrap_or_default();
        if failed.is_empty() {
            self.emit(Event::FaultHealed { fault: id.into(), target });
            return Ok(String::new());
        }
        Err(self.heal_failed(id, target, failed))
    }

    /// Runs a heal plan, each step retried; the steps that failed in the end, each with its
    /// error and the commands that do what it could not.
    async fn heal_steps(&mut self, plan: &Plan) -> Vec<(String, String)> {
        let mut failed = Vec::new();
        for step in &plan.steps {
            self.say(&format!("  {}", step.why));
            let mut wait = HEAL_BACKOFF;
            let mut attempt = 1;
            loop {
                let outcome = match tokio::time::timeout(HEAL_ATTEMPT_TIMEOUT, self.exec.run_one(&step.action)).await {
                    Ok(r) => r,
                    Err(_) => Err(Error::Timeout { after: HEAL_ATTEMPT_TIMEOUT, last: "no answer from the API server".into() }),
                };
                match outcome {
                    Ok(()) => break,
                    Err(e) if attempt < HEAL_ATTEMPTS && e.is_retryable() => {
                        self.say(&format!("{}: {e}; retrying in {wait}", step.why));
                        self.sleep(wait).await;
                        wait = wait + wait;
                        attempt += 1;
                    }
                    Err(e) => {
                        let tries = if attempt == 1 { "1 attempt".to_string() } else { format!("{attempt} attempts") };
                        self.say(&format!("{}: {e}; giving up after {tries}", step.why));
                        failed.push((format!("{}: {e} (gave up after {tries})", step.why), self.exec.restore_command(&step.action)));
                        break;
                    }
                }
            }
        }
        failed
    }

    /// Records a fault left unhealed: `fault_heal_failed` in the trace, and what to print at
    /// the end. Returns the heal step's failure message.
    fn heal_failed(&mut self, id: &str, target: String, failed: Vec<(String, String)>) -> String {
        let error = failed.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>().join("; ");
        let restore = failed.iter().map(|(_, r)| r.as_str()).collect::<Vec<_>>().join("\n");
        self.emit(Event::FaultHealFailed { fault: id.into(), target, error: error.clone(), restore: restore.clone() });
        self.broken.push((id.to_string(), error.clone(), restore));
        format!("heal {id} failed, the fault is still in place: {error}")
    }

    async fn patch(&mut self, apps: &sparkrig_model::scenario::AppSel, spec: &serde_json::Value) -> Result<String, String> {
        let keys: Vec<String> = self.view.apps.keys().filter(|k| apps.matches(k)).cloned().collect();
        if keys.is_empty() {
            return Err(patch_matched_nothing(apps));
        }
        let mut refused = Vec::new();
        for k in &keys {
            let (ns, name) = k.split_once('/').unwrap_or(("default", k));
            let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &spark_application_resource());
            if let Err(e) = api.patch(name, &exec::patch_params(), &Patch::Merge(serde_json::json!({"spec": spec}))).await {
                refused.push(format!("{k}: {e}"));
            }
        }
        if refused.is_empty() { Ok(patched(keys.len())) } else { Ok(patch_rejected(refused.len(), &refused.join("; "))) }
    }
}

/// Options of the kind backend.
#[derive(Debug, Clone)]
pub struct KindSetup {
    /// kind mapping (name, workers, image).
    pub kind: KindOptions,
    /// Keep an existing sparkrig cluster with the same config.
    pub reuse: bool,
    /// Leave the cluster and containers when done.
    pub keep: bool,
    /// Where configs and values are written.
    pub state_dir: String,
    /// Registry and S3 images.
    pub images: Images,
}

/// kind: provision, run on the kube backend, tear down.
pub struct KindBackend {
    setup: KindSetup,
    kube: Option<KubeBackend>,
}

impl KindBackend {
    /// A kind backend.
    pub fn new(setup: KindSetup) -> KindBackend {
        KindBackend { setup, kube: None }
    }

    /// What exists now: kind clusters and sparkrig's containers and networks from Docker's
    /// labels (kind itself is not needed), and the marker from the cluster's API.
    async fn observe(name: &str) -> Result<(Existing, Observed)> {
        let docker = crate::docker::connect().await?;
        let clusters = crate::docker::kind_clusters(&docker).await?;
        let mut observed = Observed { clusters: clusters.clone(), ..Observed::default() };
        let existing = if clusters.iter().any(|c| c == name) {
            let client = exec::client(Some(&format!("kind-{name}"))).await?;
            let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client, "kube-public");
            match cms.get_opt(crate::MARKER).await.map_err(|e| Error::kube(format!("kube-public/{}", crate::MARKER), e))? {
                Some(cm) => {
                    observed.marked = true;
                    Existing::Ours(cm.data.and_then(|d| d.get("configHash").cloned()).unwrap_or_default())
                }
                None => Existing::Foreign,
            }
        } else {
            Existing::None
        };
        observed.containers = crate::docker::containers_labelled(&docker, crate::OWNER_LABEL).await?;
        observed.networks = crate::docker::networks_labelled(&docker, crate::OWNER_LABEL).await?;
        Ok((existing, observed))
    }

    /// `sparkrig up`: provisions the cluster and the stack (nothing is torn down afterwards).
    pub fn provision_only(&mut self, plan: &Scenario) -> Result<(), BackendError> {
        self.setup.keep = true;
        self.provision(plan)
    }

    fn provision(&mut self, plan: &Scenario) -> Result<(), BackendError> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(backend_err)?;
        let name = self.setup.kind.name.clone();
        let (user, password) = provision::random_credentials();
        let opts = UpOptions {
            kind: self.setup.kind.clone(),
            state_dir: self.setup.state_dir.clone(),
            minio_user: user,
            minio_password: password,
            images: self.setup.images.clone(),
        };
        let (_, hash, _) = provision::kind_config(plan, &opts.kind).map_err(backend_err)?;
        let reuse = self.setup.reuse;
        let result: Result<()> = rt.block_on(async {
            let (existing, _) = Self::observe(&name).await?;
            let decision = provision::decide(&name, &existing, &hash, reuse);
            let up = provision::up_plan(plan, &opts, &decision)?;
            let mut ex = Executor::new(Some(format!("kind-{name}")));
            tokio::select! {
                r = ex.run(&up) => r,
                _ = tokio::signal::ctrl_c() => Err(Error::Interrupted { during: "while provisioning".into() }),
            }
        });
        result.map_err(|e| {
            // Nothing half-done is left behind unless asked; `down` deletes only what carries
            // sparkrig's marker and labels.
            if !self.setup.keep {
                let _ = self.teardown();
            }
            BackendError::Other(format!("sparkrig up {name}: {e}"))
        })
    }

    fn teardown(&mut self) -> Result<(), BackendError> {
        down(&self.setup.kind.name)
    }
}

/// `sparkrig down`: deletes sparkrig's kind cluster `name` and the containers sparkrig started
/// for it; anything without sparkrig's marker or labels is left alone.
pub fn down(name: &str) -> Result<(), BackendError> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(backend_err)?;
    rt.block_on(async {
        let (_, observed) = KindBackend::observe(name).await?;
        let plan = provision::down_plan(name, &observed)?;
        if plan.steps.is_empty() {
            eprintln!("nothing of sparkrig's named {name} exists");
        }
        let errors = Executor::new(None).run_all(&plan).await;
        if errors.is_empty() { Ok(()) } else { Err(Error::Several(errors)) }
    })
    .map_err(|e| BackendError::Other(format!("sparkrig down {name}: {e}")))
}

impl Backend for KindBackend {
    fn name(&self) -> &'static str {
        "kind"
    }

    fn run(&mut self, plan: &Scenario, sink: &mut dyn Sink) -> Result<RunInfo, BackendError> {
        check_supported(plan, true).map_err(backend_err)?;
        if self.kube.is_none() {
            self.provision(plan)?;
            let name = &self.setup.kind.name;
            let target = Target {
                context: Some(format!("kind-{name}")),
                kind_cluster: Some(name.clone()),
                minio_container: plan.stack.minio.enabled.then(|| format!("{name}-minio")),
            };
            self.kube = Some(KubeBackend::new(target)?);
        }
        self.kube.as_mut().expect("set above").run(plan, sink)
    }

    fn diagnose(&mut self, verdict: &Verdict, dir: &Path) -> Vec<PathBuf> {
        self.kube.as_mut().map(|k| k.diagnose(verdict, dir)).unwrap_or_default()
    }

    fn finish(&mut self) -> Result<(), BackendError> {
        if self.kube.is_none() {
            // Never provisioned (refused before the cluster was touched).
            return Ok(());
        }
        if self.setup.keep {
            eprintln!(
                "keeping kind cluster {} (--keep); remove it with `sparkrig down --name {}`",
                self.setup.kind.name, self.setup.kind.name
            );
            return Ok(());
        }
        self.teardown()
    }
}

/// Dry-run facts for kind: node names from the kind node map.
pub fn kind_facts(s: &Scenario, opts: &KindOptions) -> Result<ClusterFacts> {
    let (_, _, map) = provision::kind_config(s, opts)?;
    let mut nodes = map.nodes.clone();
    nodes.sort();
    Ok(ClusterFacts {
        kind_cluster: Some(opts.name.clone()),
        minio_container: s.stack.minio.enabled.then(|| format!("{}-minio", opts.name)),
        nodes,
        apps: Vec::new(),
    })
}

/// The `up` plan for a dry run (assuming no cluster of that name exists).
pub fn dry_up(s: &Scenario, setup: &KindSetup) -> Result<Plan> {
    let opts = UpOptions {
        kind: setup.kind.clone(),
        state_dir: setup.state_dir.clone(),
        minio_user: "sparkrig<random>".into(),
        minio_password: "<random>".into(),
        images: setup.images.clone(),
    };
    provision::up_plan(s, &opts, &Decision::Create)
}

/// The `down` plan for a dry run (as if everything sparkrig creates existed).
pub fn dry_down(name: &str) -> Plan {
    let label = |role: &str| -> BTreeMap<String, String> {
        [(crate::OWNER_LABEL.to_string(), role.to_string()), (crate::CLUSTER_LABEL.to_string(), name.to_string())].into()
    };
    let observed = Observed {
        clusters: vec![name.to_string()],
        marked: true,
        containers: [(format!("{name}-minio"), label("minio")), (stack::REGISTRY_CONTAINER.to_string(), label("registry"))].into(),
        networks: BTreeMap::new(),
    };
    let mut p = provision::down_plan(name, &observed).unwrap_or_default();
    if let Some(first) = p.steps.first_mut() {
        first.why.push_str(" (only if it carries sparkrig's marker)");
    }
    p
}

/// Plan rendered with a title.
pub fn titled(title: &str, p: &Plan) -> String {
    format!("## {title}\n{p}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sparkrig_run::files::load_scenario;

    fn load(name: &str) -> Scenario {
        load_scenario(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios").join(name), None).unwrap()
    }

    #[test]
    fn container_faults_are_refused_on_plain_kube_before_anything_runs() {
        let s = load("node-loss-driver.yaml");
        let e = check_supported(&s, false).unwrap_err().to_string();
        assert!(e.contains("injects node-loss") && e.contains("--backend kind"), "{e}");
        assert!(check_supported(&s, true).is_ok());
        assert!(check_supported(&load("coredns-outage.yaml"), false).is_ok(), "scaling CoreDNS works on any cluster");
    }

    #[test]
    fn the_dry_run_lists_apps_waits_and_fault_plans_on_kind_node_names() {
        let s = load("node-loss-driver.yaml");
        let opts = KindOptions::for_topology(&s.topology);
        let text = dry_run(&s, &kind_facts(&s, &opts).unwrap()).unwrap();
        assert!(text.contains("create SparkApplication default/"), "{text}");
        assert!(text.contains("docker stop sparkrig-data-platform-worker3"), "{text}");
        assert!(text.contains("docker start sparkrig-data-platform-worker3"), "{text}");
        assert!(text.contains("every fault still active is healed"), "{text}");
    }

    #[test]
    fn only_apps_of_earlier_sparkrig_runs_are_deleted() {
        let ours: BTreeMap<String, String> = [(crate::OWNER_LABEL.to_string(), "app".to_string())].into();
        assert_eq!(stale_apps(&[("default/pi-1".into(), ours.clone())]).unwrap(), vec!["default/pi-1"]);
        let e = stale_apps(&[("default/pi-1".into(), ours), ("default/pi-2".into(), BTreeMap::new())]).unwrap_err();
        assert!(matches!(e, Error::NotOurs { .. }), "{e}");
        assert!(e.to_string().contains("SparkApplication default/pi-2 was not created by sparkrig"), "{e}");
    }

    #[test]
    fn diagnostics_cover_the_pods_in_failed_evidence() {
        use sparkrig_run::verdict::{Evidence, Outcome};
        let ev = |pod: &str| Evidence { t: None, app: None, pod: Some(pod.into()), node: None, detail: String::new() };
        let v = Verdict {
            scenario: "s".into(),
            backend: "kube".into(),
            seed: None,
            ended: String::new(),
            passed: false,
            unhealed: Vec::new(),
            results: vec![
                Outcome {
                    name: "a".into(),
                    kind: "k".into(),
                    passed: false,
                    message: String::new(),
                    more: 0,
                    evidence: vec![ev("default/x"), ev("default/y")],
                },
                Outcome {
                    name: "b".into(),
                    kind: "k".into(),
                    passed: true,
                    message: String::new(),
                    more: 0,
                    evidence: vec![ev("default/z")],
                },
            ],
            metrics: Default::default(),
            samples: Default::default(),
        };
        assert_eq!(involved_pods(&v), vec!["default/x", "default/y"]);
    }
}
