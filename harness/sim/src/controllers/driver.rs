//! The Spark driver (Spark's Kubernetes scheduler backend and task scheduler) and its
//! executors' JVMs, per reference/spark-on-kubernetes.md §2–3 and the cheat-sheet of §8:
//!
//! - Allocation every `batch.delay` (1 s): at most `batch.size` new pods (5 in 3.x, 10 in
//!   4.0/4.1, 20 from 4.2), only when the previous batch has been created; Pending pods count
//!   toward the target and are waited on forever; pods Terminating but still Running count too.
//! - A Failed executor pod counts toward `spark.executor.maxNumFailures` (3.5+: max(3, 2 ×
//!   instances-if-set); effectively unlimited with dynamic allocation) and is deleted; deleted
//!   or evicted pods do not count. Past the limit the driver exits 11.
//! - Executors register after JVM start, resolving the driver Service by DNS unless
//!   `useDriverPodIP` (default from 4.3). The driver needs `kubernetes.default.svc` at start;
//!   afterwards its pooled API connections outlive a DNS outage (inference, §3.4).
//! - An unreachable executor is removed after the heartbeat timeout (120 s, checked every 60 s)
//!   and its pod deleted; executors that cannot reach their driver exit 56 after 60 failed
//!   heartbeats (10 min).
//! - Tasks start once 80 % of the executors registered or 30 s after SparkContext start; tasks
//!   lost with an executor are re-run, counted toward `spark.task.maxFailures` = 4 only when the
//!   loss was the app's fault; S3 reads fail while MinIO is unreachable.
//! - With `spark.decommission.enabled`, an executor being deleted stops taking tasks, finishes
//!   the running ones within the 30 s grace period and exits 0 (the kubelet reads this from the
//!   pod's [`crate::store::Process`], which this model keeps current).
//! - Dynamic allocation: start at max(min, initial, instances); while tasks are backlogged, add
//!   1, 2, 4, ... executors per second up to what the tasks need and `maxExecutors`; remove
//!   executors idle for 60 s down to `minExecutors`.
//!
//! Inputs: its own [`Ev`]s; [`Drivers::driver_pod_created`], [`Drivers::process_up`],
//! [`Drivers::driver_lifecycle`], [`Drivers::driver_gc`], [`Drivers::executor_pod_changed`],
//! [`Drivers::executor_pod_gone`], [`Drivers::unreachable`], [`Drivers::node_reconnected`].
//! Outputs: executor pods through the API, container exits, `pod_create_failed` trace events.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use sparkrig_model::podspec::{SparkRole, Submission, executor_cores, initial_executors};
use sparkrig_model::sparkapp::SparkVersion;
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::Event;

use super::operator::{Admission, POD_WEBHOOK, admission};
use super::shapes::Shapes;
use crate::api::{Cx, Key, controller};
use crate::store::{AppId, LabelSource, NewPod, Owner, Phase, PodId, Process, Store};

/// `spark.task.maxFailures` (§3.6).
const TASK_MAX_FAILURES: u8 = 4;
/// `spark.network.timeout` = 120 s: heartbeat expiry (§3.5).
const HEARTBEAT_TIMEOUT: Dur = Dur::secs(120);
/// `spark.network.timeoutInterval` = 60 s: how often the driver checks.
const HEARTBEAT_CHECK: u64 = 60_000;
/// `spark.executor.heartbeatInterval` = 10 s.
const HEARTBEAT_INTERVAL: u64 = 10_000;
/// 60 failed heartbeats × 10 s (`spark.executor.heartbeat.maxFailures`), then exit 56.
const HEARTBEAT_GIVE_UP: Dur = Dur::secs(600);
/// S3A gives up on an unreachable endpoint after its own retries (`fs.s3a.retry.limit` 7,
/// 500 ms doubling); about 5 s (inference).
const S3A_RETRY_BUDGET: Dur = Dur::secs(5);
/// `spark.dynamicAllocation.executorIdleTimeout` = 60 s; backlog timeouts 1 s (§3.8).
const DA_IDLE_TIMEOUT: Dur = Dur::secs(60);
const DA_BACKLOG_TIMEOUT: Dur = Dur::secs(1);

/// The drivers' timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    /// `ExecutorPodsAllocator` tick.
    Tick {
        /// App.
        app: AppId,
        /// Run.
        run: u32,
    },
    /// One executor pod POST returns.
    CreateExecutor {
        /// App.
        app: AppId,
        /// Run.
        run: u32,
        /// Executor id.
        exec: u32,
        /// Allocation batch.
        batch: u32,
    },
    /// `maxRegisteredResourcesWaitingTime` is over: tasks start.
    StartScheduling {
        /// App.
        app: AppId,
        /// Run.
        run: u32,
    },
    /// A task ends.
    TaskDone {
        /// App.
        app: AppId,
        /// Run.
        run: u32,
        /// Executor.
        exec: u32,
        /// Task token.
        token: u64,
    },
    /// The driver's heartbeat check finds an executor silent too long.
    HeartbeatTimeout {
        /// App.
        app: AppId,
        /// Run.
        run: u32,
        /// Executor.
        exec: u32,
    },
    /// An executor gives up on its unreachable driver.
    ExecutorSelfExit {
        /// Executor pod.
        pod: PodId,
    },
    /// Dynamic allocation's once-a-second check.
    AllocationTick {
        /// App.
        app: AppId,
        /// Run.
        run: u32,
    },
}

#[derive(Debug)]
struct Exec {
    pod: PodId,
    registered: bool,
    /// The driver removed this executor; its pod may linger (Terminating on a dead node).
    removed: bool,
    /// Stops taking tasks (decommissioning).
    draining: bool,
    /// Running tasks: (token, attempt, fails, ends at).
    running: Vec<(u64, u8, bool, Time)>,
    /// Finished while the executor or the driver was unreachable; delivered on reconnect.
    unreported: Vec<u64>,
    idle_since: Time,
}

#[derive(Debug)]
struct Dynamic {
    min: u32,
    max: u32,
    backlog_since: Option<Time>,
    add: u32,
}

#[derive(Debug)]
struct Driver {
    pod: PodId,
    sub: Arc<Submission>,
    namespace: String,
    version: SparkVersion,
    /// SparkContext start.
    up: Option<Time>,
    target: u32,
    batch: u32,
    max_failures: Option<u32>,
    cores: u32,
    needs_dns: bool,
    decommission: bool,
    s3_data: bool,
    event_log_s3: bool,
    dynamic: Option<Dynamic>,
    execs: BTreeMap<u32, Exec>,
    next_exec: u32,
    in_flight: u32,
    batch_no: u32,
    aborted_batch: u32,
    failures: u32,
    scheduling: bool,
    pending: VecDeque<u8>,
    done: u32,
    total: u32,
    task: Dur,
    next_token: u64,
    tick_armed: bool,
    stopping: bool,
}

/// Every Spark driver of the cluster (one per app run), with its executors.
#[derive(Debug, Default)]
pub struct Drivers {
    map: BTreeMap<(AppId, u32), Driver>,
    shapes: Shapes,
}

controller!(Drivers, Ev, Driver);

/// `spark.kubernetes.allocation.batch.size` default by version (§0 table).
fn default_batch(v: SparkVersion) -> u32 {
    if v >= SparkVersion::new(4, 2, 0) {
        20
    } else if v >= SparkVersion::new(4, 0, 0) {
        10
    } else {
        5
    }
}

/// SPARK-55075: rejected executor pod creations count toward `spark.executor.maxNumFailures`
/// from Spark 4.2.0 (in the 4.2.0 and 4.2.1 jars, read with `javap`: reference/platform-ops.md
/// §2.5 and §4.d, which correct spark-on-kubernetes.md's "4.3").
pub fn counts_create_failures(v: SparkVersion) -> bool {
    v >= SparkVersion::new(4, 2, 0)
}

/// Whether a `local://` main file exists in the image: the official `apache/spark` images ship
/// `/opt/spark` (jars, examples); other images are assumed to carry what the app names.
fn main_file_missing(image: &str, file: Option<&str>) -> Option<String> {
    let path = file?.strip_prefix("local://")?;
    let official = image.contains("apache/spark") || image.starts_with("spark:") || image.contains("/spark:");
    (official && !(path.starts_with("/opt/spark/examples/") || path.starts_with("/opt/spark/jars/"))).then(|| path.to_string())
}

impl Drivers {
    /// Handles one of its timers.
    pub fn handle(cx: &mut impl Cx<Drivers>, ev: Ev) {
        match ev {
            Ev::Tick { app, run } => Self::tick(cx, app, run),
            Ev::CreateExecutor { app, run, exec, batch } => Self::create_executor(cx, app, run, exec, batch),
            Ev::StartScheduling { app, run } => {
                if let Some(d) = cx.me().map.get_mut(&(app, run)) {
                    d.scheduling = true;
                    Self::assign_tasks(cx, app, run);
                }
            }
            Ev::TaskDone { app, run, exec, token } => Self::task_done(cx, app, run, exec, token),
            Ev::HeartbeatTimeout { app, run, exec } => Self::heartbeat_timeout(cx, app, run, exec),
            Ev::ExecutorSelfExit { pod } => Self::executor_self_exit(cx, pod),
            Ev::AllocationTick { app, run } => Self::allocation_tick(cx, app, run),
        }
    }

    /// spark-submit created a driver pod: the driver of this run exists (its JVM starts when
    /// the kubelet starts the container).
    pub fn driver_pod_created(cx: &mut impl Cx<Drivers>, app: AppId, run: u32, pod: PodId) {
        let Some(LabelSource::Spark { sub, .. }) = cx.store().pod(pod).map(|p| p.labels.clone()) else { return };
        let a = cx.store().app(app);
        let spec = &a.app;
        let conf = &spec.spec.spark_conf;
        let version = spec.spark_version().unwrap_or(SparkVersion::new(3, 5, 0));
        let flag = |k: &str| conf.get(k).map(|v| v == "true");
        let batch =
            conf.get("spark.kubernetes.allocation.batch.size").and_then(|v| v.parse().ok()).unwrap_or(default_batch(version)).max(1);
        let instances_set = spec.spec.executor.instances.is_some() || conf.contains_key("spark.executor.instances") || a.defaulted;
        let dynamic = spec.dynamic_allocation_enabled().then(|| {
            let da = spec.spec.dynamic_allocation.clone().unwrap_or_default();
            let min = da
                .min_executors
                .or_else(|| conf.get("spark.dynamicAllocation.minExecutors").and_then(|v| v.parse().ok()))
                .unwrap_or(0)
                .max(0) as u32;
            let max = da
                .max_executors
                .or_else(|| conf.get("spark.dynamicAllocation.maxExecutors").and_then(|v| v.parse().ok()))
                .unwrap_or(i32::MAX)
                .max(1) as u32;
            Dynamic { min, max, backlog_since: None, add: 1 }
        });
        let target = initial_executors(spec, a.defaulted);
        // ExecutorFailureTracker exists from 3.5.0 (SPARK-41210); with dynamic allocation N is
        // maxExecutors (Int.Max by default): no practical limit.
        let max_failures = (version >= SparkVersion::new(3, 5, 0)).then(|| {
            let n = match &dynamic {
                Some(d) => d.max,
                None if instances_set => target,
                None => 0,
            };
            conf.get("spark.executor.maxNumFailures").and_then(|v| v.parse().ok()).unwrap_or(3u32.max(n.saturating_mul(2)))
        });
        let use_pod_ip = flag("spark.kubernetes.executor.useDriverPodIP").unwrap_or(version >= SparkVersion::new(4, 3, 0));
        let event_log_s3 =
            flag("spark.eventLog.enabled") == Some(true) && conf.get("spark.eventLog.dir").is_some_and(|d| d.starts_with("s3a://"));
        let s3_data = spec.spec.hadoop_conf.contains_key("fs.s3a.endpoint")
            || conf.contains_key("spark.hadoop.fs.s3a.endpoint")
            || spec.spec.arguments.iter().any(|a| a.starts_with("s3a://"));
        let d = Driver {
            pod,
            namespace: spec.namespace().to_string(),
            version,
            sub,
            up: None,
            target,
            batch,
            max_failures,
            cores: executor_cores(spec),
            needs_dns: !use_pod_ip,
            decommission: flag("spark.decommission.enabled") == Some(true),
            s3_data,
            event_log_s3,
            dynamic,
            execs: BTreeMap::new(),
            next_exec: 1,
            in_flight: 0,
            batch_no: 0,
            aborted_batch: 0,
            failures: 0,
            scheduling: false,
            pending: std::iter::repeat_n(0, a.work.tasks as usize).collect(),
            done: 0,
            total: a.work.tasks,
            task: a.work.task_duration,
            next_token: 0,
            tick_armed: false,
            stopping: false,
        };
        cx.me().map.insert((app, run), d);
    }

    /// The driver is up and can talk to the API server and its executors.
    fn active(cx: &impl Cx<Drivers>, app: AppId, run: u32) -> bool {
        cx.me_ref().map.get(&(app, run)).is_some_and(|d| d.up.is_some() && !d.stopping && cx.store().pod_reachable(d.pod))
    }

    /// Keeps what the kubelet reads when it stops an executor's container current.
    fn sync_process(cx: &mut impl Cx<Drivers>, app: AppId, run: u32, exec: u32) {
        let (me, store, _) = cx.parts();
        let Some(d) = me.map.get(&(app, run)) else { return };
        let Some(e) = d.execs.get(&exec) else { return };
        if let Some(p) = store.pod_mut(e.pod) {
            p.process = Process { decommissions: d.decommission && e.registered, busy_until: e.running.iter().map(|r| r.3).max() };
        }
    }

    /// A Spark JVM is up.
    pub fn process_up(cx: &mut impl Cx<Drivers>, pod: PodId) {
        match cx.store().pod(pod).map(|p| p.owner) {
            Some(Owner::Driver { app, run }) => Self::driver_process_up(cx, app, run),
            Some(Owner::Executor { app, run, exec }) => Self::executor_process_up(cx, app, run, exec),
            _ => {}
        }
    }

    /// JVM up: the main resource must exist; SparkContext needs `kubernetes.default.svc` and,
    /// with event logs on S3, the log directory.
    fn driver_process_up(cx: &mut impl Cx<Drivers>, app: AppId, run: u32) {
        let store = cx.store();
        let (dns, s3, now) = (store.dns_serving(), store.minio_serving() && store.dns_serving(), cx.now());
        let spec = store.app(app).app.clone();
        let Some(d) = cx.me().map.get_mut(&(app, run)) else { return };
        let pod = d.pod;
        let image = spec.spec.driver.image.clone().or(spec.spec.image.clone()).unwrap_or_default();
        let failure = if let Some(path) = main_file_missing(&image, spec.spec.main_application_file.as_deref()) {
            Some(format!("driver exited 1: java.nio.file.NoSuchFileException: {path}"))
        } else if !dns {
            Some(
                "driver exited 1: org.apache.spark.SparkException: External scheduler cannot be instantiated; \
                 caused by java.net.UnknownHostException: kubernetes.default.svc: Name or service not known"
                    .into(),
            )
        } else if d.event_log_s3 && !s3 {
            let dir = spec.spec.spark_conf.get("spark.eventLog.dir").cloned().unwrap_or_default();
            Some(format!("driver exited 1: SparkContext failed to start: java.io.FileNotFoundException: {dir} (MinIO unreachable)"))
        } else {
            None
        };
        if let Some(msg) = failure {
            cx.exit_container(pod, Dur::ZERO, 1, "Error", msg);
            return;
        }
        d.up = Some(now);
        let dynamic = d.dynamic.is_some();
        let wait = cx.timings().max_registered_wait;
        cx.at(Dur::ZERO, Ev::Tick { app, run });
        cx.at(wait, Ev::StartScheduling { app, run });
        if dynamic {
            cx.at(DA_BACKLOG_TIMEOUT, Ev::AllocationTick { app, run });
        }
    }

    fn arm_tick(cx: &mut impl Cx<Drivers>, app: AppId, run: u32) {
        let delay = cx.timings().batch_delay;
        let Some(d) = cx.me().map.get_mut(&(app, run)) else { return };
        if d.tick_armed || d.stopping || d.up.is_none() {
            return;
        }
        d.tick_armed = true;
        cx.at(delay, Ev::Tick { app, run });
    }

    /// Executor pods Spark counts against its target: Pending (not deleted) and Running
    /// (including Terminating ones still Running on a node that is gone).
    fn counted_pods(store: &Store, d: &Driver) -> u32 {
        d.execs
            .values()
            .filter(|e| {
                store.pod(e.pod).is_some_and(|p| match p.phase {
                    Phase::Running => true,
                    Phase::Pending => p.deleting.is_none(),
                    _ => false,
                })
            })
            .count() as u32
    }

    /// `ExecutorPodsAllocator.onNewSnapshots`: one batch per tick, only once the previous batch
    /// has been created.
    fn tick(cx: &mut impl Cx<Drivers>, app: AppId, run: u32) {
        let api = cx.timings().api_call;
        let active = Self::active(cx, app, run);
        let Some(d) = cx.me_ref().map.get(&(app, run)) else { return };
        let live = Self::counted_pods(cx.store(), d);
        let d = cx.me().map.get_mut(&(app, run)).expect("checked");
        d.tick_armed = false;
        if d.stopping || d.up.is_none() {
            return;
        }
        if !active || d.in_flight > 0 {
            // Unreachable API server: calls fail and are retried next tick.
            Self::arm_tick(cx, app, run);
            return;
        }
        let want = d.target.saturating_sub(live);
        if want == 0 {
            return;
        }
        let n = want.min(d.batch);
        d.batch_no += 1;
        let (batch, first) = (d.batch_no, d.next_exec);
        d.next_exec += n;
        d.in_flight += n;
        for i in 0..n {
            // Pods are created serially, one POST each.
            cx.at(api.times(u64::from(i) + 1), Ev::CreateExecutor { app, run, exec: first + i, batch });
        }
        Self::arm_tick(cx, app, run);
    }

    fn create_executor(cx: &mut impl Cx<Drivers>, app: AppId, run: u32, exec: u32, batch: u32) {
        let Some(d) = cx.me().map.get_mut(&(app, run)) else { return };
        d.in_flight = d.in_flight.saturating_sub(1);
        if d.stopping || d.aborted_batch == batch {
            return;
        }
        let name = d.sub.executor_pod_name(exec);
        let key = format!("{}/{name}", d.namespace);
        // The operator's pod webhook selects pods labelled launched-by-spark-operator: not
        // those of a spark-submit run outside it (reference/spark-operator.md §3).
        let admitted = if cx.store().app(app).external { Admission::Unmutated } else { admission(cx.plan(), cx.store(), POD_WEBHOOK) };
        let mutated = match admitted {
            Admission::Rejected(msg) => {
                Self::executor_create_refused(cx, app, run, batch, key, msg);
                return;
            }
            Admission::Mutated => true,
            Admission::Unmutated => false,
        };
        let plan = cx.plan().clone();
        let (me, store, _) = cx.parts();
        let a = &store.apps[app.0 as usize];
        let template = a.template.map(|t| &plan.templates[t].app);
        let Ok(shape) = me.shapes.get(app, a, template, SparkRole::Executor, mutated, &plan.stack.tenancy, &mut store.interner) else {
            return;
        };
        let sub = me.map[&(app, run)].sub.clone();
        let (app_spec, app_key) = (a.app.clone(), a.key.clone());
        let (ns, name) = key.split_once('/').expect("namespace/name");
        let admitted = match cx.admit_pod(&shape.create(name, ns)) {
            Ok(a) => a,
            Err(status) => {
                // fabric8's KubernetesClientException, as the allocator logs it.
                let msg = super::operator::spark_submit_post_error(ns, &status);
                Self::executor_create_refused(cx, app, run, batch, key, msg);
                return;
            }
        };
        let pod = cx.create_pod(NewPod {
            key,
            owner: Owner::Executor { app, run, exec },
            labels: LabelSource::Spark { app: app_spec, sub, exec: Some(exec) },
            spec: shape.spec,
            image: shape.image,
            from_registry: plan.stack.registry.enabled,
            public_image: false,
            app: Some(app_key),
            role: Some(SparkRole::Executor),
            component: None,
            node_selector: shape.node_selector,
            admitted: Some(admitted),
        });
        let now = cx.now();
        cx.me().map.get_mut(&(app, run)).expect("checked").execs.insert(
            exec,
            Exec { pod, registered: false, removed: false, draining: false, running: Vec::new(), unreported: Vec::new(), idle_since: now },
        );
    }

    /// An executor pod POST was refused (a webhook down with Fail, a ResourceQuota, a
    /// LimitRange, an unknown PriorityClass). What the driver does depends on its version
    /// (reference/platform-ops.md §2.5, correcting spark-on-kubernetes.md §2.3):
    ///
    /// - before 4.2 the fabric8 exception escapes `onNewSnapshots`: the rest of the batch is
    ///   skipped, the next tick (1 s) tries again, forever; nothing is counted;
    /// - from 4.2.0 (SPARK-55075, PR #53840, present in the 4.2.0 and 4.2.1 jars) each failed
    ///   POST is caught, logged as `Failed to create executor pod <id>. Total failures: <n>`,
    ///   counted by `registerExecutorFailure`, and the loop goes on with the next pod. Past
    ///   `spark.executor.maxNumFailures` the driver exits 11. Upstream the lifecycle manager
    ///   checks the count on its 1 s tick; here the check is at the failure itself, the same
    ///   tick for a batch in flight (inference).
    fn executor_create_refused(cx: &mut impl Cx<Drivers>, app: AppId, run: u32, batch: u32, pod: String, msg: String) {
        let d = cx.me().map.get_mut(&(app, run)).expect("checked by the caller");
        let counts = counts_create_failures(d.version);
        if counts {
            d.failures += 1;
        } else {
            d.aborted_batch = batch;
        }
        let over = d.max_failures.filter(|m| counts && d.failures > *m);
        let app_key = cx.store().app(app).key.clone();
        cx.emit(Event::PodCreateFailed { app: app_key, pod, message: msg.clone() });
        if let Some(max) = over {
            Self::stop(
                cx,
                app,
                run,
                11,
                "Error",
                format!("driver exited 11: Max number of executor failures ({max}) reached; last: {msg}"),
            );
        } else {
            Self::arm_tick(cx, app, run);
        }
    }

    /// Executor JVM up: register with the driver.
    fn executor_process_up(cx: &mut impl Cx<Drivers>, app: AppId, run: u32, exec: u32) {
        let dns = cx.store().dns_serving();
        let driver_ok = Self::active(cx, app, run);
        let Some(d) = cx.me_ref().map.get(&(app, run)) else { return };
        let Some(e) = d.execs.get(&exec) else { return };
        let pod = e.pod;
        let host = if d.needs_dns { d.sub.driver_host(&d.namespace) } else { "<driver pod IP>".into() };
        let failure = if d.needs_dns && !dns {
            // driverPropsFetcher: 3 immediate attempts, each failing fast on NXDOMAIN (§3.4).
            Some(format!(
                "executor exited 1: java.io.IOException: Failed to connect to {host}:7078; caused by java.net.UnknownHostException: {host}"
            ))
        } else if !driver_ok || !cx.store().pod_reachable(pod) {
            Some(format!("executor exited 1: Cannot register with driver: spark://CoarseGrainedScheduler@{host}:7078"))
        } else {
            None
        };
        if let Some(msg) = failure {
            cx.exit_container(pod, Dur::ZERO, 1, "Error", msg);
            return;
        }
        let percent = cx.timings().min_registered_percent;
        let d = cx.me().map.get_mut(&(app, run)).expect("checked");
        let e = d.execs.get_mut(&exec).expect("checked");
        e.registered = true;
        let registered = d.execs.values().filter(|e| e.registered && !e.removed).count() as u32;
        if !d.scheduling && registered * 100 >= d.target * percent {
            d.scheduling = true;
        }
        Self::sync_process(cx, app, run, exec);
        Self::assign_tasks(cx, app, run);
    }

    fn assign_tasks(cx: &mut impl Cx<Drivers>, app: AppId, run: u32) {
        if !Self::active(cx, app, run) {
            return;
        }
        let store = cx.store();
        let s3_ok = store.minio_serving() && store.dns_serving();
        let reachable: Vec<u32> =
            cx.me_ref().map[&(app, run)].execs.iter().filter(|(_, e)| store.pod_reachable(e.pod)).map(|(id, _)| *id).collect();
        let now = cx.now();
        let d = cx.me().map.get_mut(&(app, run)).expect("checked");
        if !d.scheduling {
            return;
        }
        let fails = d.s3_data && !s3_ok;
        let dur = if fails { S3A_RETRY_BUDGET } else { d.task };
        let mut starts = Vec::new();
        for id in reachable {
            let e = d.execs.get_mut(&id).expect("listed");
            if !e.registered || e.removed || e.draining {
                continue;
            }
            while e.running.len() < d.cores as usize {
                let Some(attempt) = d.pending.pop_front() else { break };
                d.next_token += 1;
                e.running.push((d.next_token, attempt, fails, now + dur));
                starts.push((id, d.next_token));
            }
        }
        let mut synced = None;
        for (exec, token) in starts {
            if synced != Some(exec) {
                Self::sync_process(cx, app, run, exec);
                synced = Some(exec);
            }
            cx.at(dur, Ev::TaskDone { app, run, exec, token });
        }
    }

    fn task_done(cx: &mut impl Cx<Drivers>, app: AppId, run: u32, exec: u32, token: u64) {
        let store = cx.store();
        let s3_ok = store.minio_serving() && store.dns_serving();
        let reachable = Self::active(cx, app, run)
            && cx.me_ref().map.get(&(app, run)).and_then(|d| d.execs.get(&exec)).is_some_and(|e| cx.store().pod_reachable(e.pod));
        let Some(d) = cx.me().map.get_mut(&(app, run)) else { return };
        let Some(e) = d.execs.get_mut(&exec) else { return };
        if !e.running.iter().any(|(t, ..)| *t == token) {
            return;
        }
        if !reachable {
            e.unreported.push(token);
            return;
        }
        Self::finish_task(cx, app, run, exec, token, s3_ok);
    }

    fn finish_task(cx: &mut impl Cx<Drivers>, app: AppId, run: u32, exec: u32, token: u64, s3_ok: bool) {
        let now = cx.now();
        let Some(d) = cx.me().map.get_mut(&(app, run)) else { return };
        let s3 = d.s3_data;
        let Some(e) = d.execs.get_mut(&exec) else { return };
        let Some(i) = e.running.iter().position(|(t, ..)| *t == token) else { return };
        let (_, attempt, failed, _) = e.running.swap_remove(i);
        if e.running.is_empty() {
            e.idle_since = now;
        }
        Self::sync_process(cx, app, run, exec);
        let d = cx.me().map.get_mut(&(app, run)).expect("checked");
        if failed || (s3 && !s3_ok) {
            // An S3A read failure: an ExceptionFailure, counted toward task.maxFailures.
            let attempt = attempt + 1;
            if attempt >= TASK_MAX_FAILURES {
                let msg = format!(
                    "driver exited 1: Job aborted due to stage failure: Task failed {attempt} times, most recent failure: \
                     org.apache.hadoop.fs.s3a.AWSClientIOException: reading s3a://: Unable to execute HTTP request (MinIO unreachable)"
                );
                Self::stop(cx, app, run, 1, "Error", msg);
                return;
            }
            d.pending.push_front(attempt);
            Self::assign_tasks(cx, app, run);
            return;
        }
        d.done += 1;
        if d.done >= d.total {
            Self::stop(cx, app, run, 0, "Completed", "application finished".into());
        } else {
            Self::assign_tasks(cx, app, run);
        }
    }

    /// The driver shuts down: executors are deleted (`KubernetesClusterSchedulerBackend.stop`),
    /// then the JVM exits.
    fn stop(cx: &mut impl Cx<Drivers>, app: AppId, run: u32, code: i32, reason: &'static str, message: String) {
        let shutdown = if code == 0 { cx.timings().driver_shutdown } else { Dur::ZERO };
        let Some(d) = cx.me().map.get_mut(&(app, run)) else { return };
        if d.stopping {
            return;
        }
        d.stopping = true;
        let pod = d.pod;
        let execs: Vec<PodId> = d.execs.values().map(|e| e.pod).collect();
        for p in execs {
            cx.delete_pod(p, "deleted by the driver: application stopping");
        }
        cx.exit_container(pod, shutdown, code, reason, message);
    }

    /// The driver drops an executor; its running tasks go back to pending. `caused_by_app`
    /// (PodFailed) counts toward the task and executor failure limits.
    fn executor_lost(cx: &mut impl Cx<Drivers>, app: AppId, run: u32, exec: u32, caused_by_app: bool, why: &str) {
        let Some(d) = cx.me().map.get_mut(&(app, run)) else { return };
        let Some(e) = d.execs.get_mut(&exec) else { return };
        if e.removed {
            return;
        }
        e.removed = true;
        if d.stopping {
            return;
        }
        let mut aborted = None;
        for (_, attempt, ..) in std::mem::take(&mut e.running) {
            let attempt = if caused_by_app { attempt + 1 } else { attempt };
            if attempt >= TASK_MAX_FAILURES {
                aborted = Some(attempt);
            }
            d.pending.push_front(attempt);
        }
        e.unreported.clear();
        if caused_by_app {
            d.failures += 1;
        }
        let over = d.max_failures.filter(|m| d.failures > *m);
        Self::sync_process(cx, app, run, exec);
        if let Some(n) = aborted {
            let msg = format!(
                "driver exited 1: Job aborted due to stage failure: a task failed {n} times, most recent failure: ExecutorLostFailure ({why})"
            );
            Self::stop(cx, app, run, 1, "Error", msg);
        } else if let Some(max) = over {
            let msg = format!("driver exited 11: Max number of executor failures ({max}) reached; last: {why}");
            Self::stop(cx, app, run, 11, "Error", msg);
        } else {
            Self::assign_tasks(cx, app, run);
            Self::arm_tick(cx, app, run);
        }
    }

    /// An executor pod changed phase (watch/poll snapshot). A pod being deleted is PodDeleted
    /// for Spark, whatever its container did.
    pub fn executor_pod_changed(cx: &mut impl Cx<Drivers>, app: AppId, run: u32, exec: u32) {
        let Some(pod) = cx.me_ref().map.get(&(app, run)).and_then(|d| d.execs.get(&exec)).map(|e| e.pod) else { return };
        let Some(p) = cx.store().pod(pod) else { return };
        let (phase, deleting, code) = (p.phase, p.deleting.is_some(), p.exit.map_or(-1, |e| e.0));
        if deleting {
            let d = cx.me().map.get_mut(&(app, run)).expect("checked");
            if d.decommission
                && let Some(e) = d.execs.get_mut(&exec)
            {
                e.draining = true;
            }
            return;
        }
        match phase {
            Phase::Failed => {
                Self::executor_lost(cx, app, run, exec, true, &format!("executor {exec} exited with code {code}"));
                cx.delete_pod(pod, "deleted by the driver: executor failed");
            }
            Phase::Succeeded => {
                Self::executor_lost(cx, app, run, exec, false, "executor exited 0");
                cx.delete_pod(pod, "deleted by the driver: executor finished");
            }
            Phase::Pending | Phase::Running => {}
        }
    }

    /// An executor pod object is gone (deleted, evicted, garbage-collected).
    pub fn executor_pod_gone(cx: &mut impl Cx<Drivers>, app: AppId, run: u32, exec: u32) {
        Self::executor_lost(cx, app, run, exec, false, &format!("The executor with id {exec} was deleted by a user or the framework"));
        if let Some(d) = cx.me().map.get_mut(&(app, run)) {
            d.execs.remove(&exec);
        }
        Self::arm_tick(cx, app, run);
    }

    /// The driver pod changed phase: when it ends, its executors go with it.
    pub fn driver_lifecycle(cx: &mut impl Cx<Drivers>, app: AppId, run: u32, pod: PodId) {
        let terminal = cx.store().pod(pod).is_some_and(|p| p.phase.is_terminal());
        if terminal && let Some(d) = cx.me().map.get_mut(&(app, run)) {
            d.stopping = true;
            let execs: Vec<PodId> = d.execs.values().map(|e| e.pod).collect();
            for p in execs {
                cx.delete_pod(p, "driver exited");
            }
        }
    }

    /// The driver pod object is gone: executors are garbage-collected (ownerReference).
    pub fn driver_gc(cx: &mut impl Cx<Drivers>, app: AppId, run: u32) {
        if let Some(d) = cx.me().map.remove(&(app, run)) {
            // Without their driver the executors' JVMs no longer decommission.
            for e in d.execs.values() {
                if let Some(p) = cx.store_mut().pod_mut(e.pod) {
                    p.process = Process::default();
                }
            }
            for e in d.execs.values() {
                cx.delete_pod(e.pod, "garbage-collected: owner driver pod deleted");
            }
        }
    }

    /// A Spark pod's processes died or became unreachable with its node.
    pub fn unreachable(cx: &mut impl Cx<Drivers>, pod: PodId) {
        match cx.store().pod(pod).map(|p| p.owner) {
            Some(Owner::Driver { app, run }) => Self::driver_unreachable(cx, app, run),
            Some(Owner::Executor { app, run, exec }) => Self::executor_unreachable(cx, app, run, exec),
            _ => {}
        }
    }

    /// The driver's node died or was cut off: executors elsewhere fail their heartbeats and give
    /// up after 60 of them.
    fn driver_unreachable(cx: &mut impl Cx<Drivers>, app: AppId, run: u32) {
        let Some(d) = cx.me_ref().map.get(&(app, run)) else { return };
        let pods: Vec<PodId> = d.execs.values().filter(|e| e.registered).map(|e| e.pod).collect();
        for pod in pods {
            cx.at_keyed(Key::DriverReach(app, run), HEARTBEAT_GIVE_UP, Ev::ExecutorSelfExit { pod });
        }
    }

    fn executor_self_exit(cx: &mut impl Cx<Drivers>, pod: PodId) {
        let Some(Owner::Executor { app, run, .. }) = cx.store().pod(pod).map(|p| p.owner) else { return };
        let Some(d) = cx.me_ref().map.get(&(app, run)) else { return };
        if !cx.store().pod_reachable(d.pod) {
            cx.exit_container(
                pod,
                Dur::ZERO,
                56,
                "Error",
                "executor exited 56: Executor self-exiting due to: Unable to send heartbeats to driver more than 60 times".into(),
            );
        }
    }

    /// An executor's node died or was cut off: the driver notices at the heartbeat check after
    /// 120 s of silence.
    fn executor_unreachable(cx: &mut impl Cx<Drivers>, app: AppId, run: u32, exec: u32) {
        let now = cx.now();
        let Some(d) = cx.me_ref().map.get(&(app, run)) else { return };
        let Some(up) = d.up else { return };
        let Some(e) = d.execs.get(&exec) else { return };
        if !e.registered || e.removed {
            return;
        }
        let since_up = (now - up).as_ms();
        let last_heartbeat = Time(now.as_ms() - since_up % HEARTBEAT_INTERVAL);
        let due = last_heartbeat + HEARTBEAT_TIMEOUT;
        let checks = (due - up).as_ms().div_ceil(HEARTBEAT_CHECK);
        let at = up + Dur::ms(checks * HEARTBEAT_CHECK);
        cx.at_keyed(Key::Heartbeat(app, run, exec), at.since(now), Ev::HeartbeatTimeout { app, run, exec });
    }

    fn heartbeat_timeout(cx: &mut impl Cx<Drivers>, app: AppId, run: u32, exec: u32) {
        let Some(e) = cx.me_ref().map.get(&(app, run)).and_then(|d| d.execs.get(&exec)) else { return };
        if e.removed || cx.store().pod_reachable(e.pod) || !Self::active(cx, app, run) {
            return;
        }
        let pod = e.pod;
        let why = format!("Executor heartbeat timed out after {} ms", HEARTBEAT_TIMEOUT.as_ms());
        Self::executor_lost(cx, app, run, exec, false, &why);
        // killAndReplaceExecutor: the pod is deleted; without a kubelet it stays Terminating.
        cx.delete_pod(pod, "deleted by the driver: executor heartbeat timed out");
    }

    /// A node is reachable again: cancel heartbeat timeouts, deliver results held back.
    pub fn node_reconnected(cx: &mut impl Cx<Drivers>, n: usize) {
        let store = cx.store();
        let s3_ok = store.minio_serving() && store.dns_serving();
        for id in store.node_state[n].pods.clone() {
            let Some(p) = cx.store().pod(id) else { continue };
            match p.owner {
                Owner::Driver { app, run } => {
                    cx.cancel(Key::DriverReach(app, run));
                    Self::redeliver(cx, app, run, s3_ok);
                    Self::arm_tick(cx, app, run);
                }
                Owner::Executor { app, run, exec } => {
                    cx.cancel(Key::Heartbeat(app, run, exec));
                    Self::redeliver(cx, app, run, s3_ok);
                }
                Owner::Component(_) => {}
            }
        }
    }

    fn redeliver(cx: &mut impl Cx<Drivers>, app: AppId, run: u32, s3_ok: bool) {
        if !Self::active(cx, app, run) {
            return;
        }
        let store = cx.store();
        let held: Vec<(u32, u64)> = cx.me_ref().map[&(app, run)]
            .execs
            .iter()
            .filter(|(_, e)| store.pod_reachable(e.pod))
            .flat_map(|(id, e)| e.unreported.iter().map(move |t| (*id, *t)))
            .collect();
        for (exec, token) in held {
            if let Some(e) = cx.me().map.get_mut(&(app, run)).and_then(|d| d.execs.get_mut(&exec)) {
                e.unreported.retain(|t| *t != token);
            }
            Self::finish_task(cx, app, run, exec, token, s3_ok);
        }
    }

    /// Dynamic allocation (`ExecutorAllocationManager`), once a second.
    fn allocation_tick(cx: &mut impl Cx<Drivers>, app: AppId, run: u32) {
        if !Self::active(cx, app, run) {
            if cx.me_ref().map.get(&(app, run)).is_some_and(|d| !d.stopping) {
                cx.at(DA_BACKLOG_TIMEOUT, Ev::AllocationTick { app, run });
            }
            return;
        }
        let now = cx.now();
        let d = cx.me().map.get_mut(&(app, run)).expect("active");
        let running: u32 = d.execs.values().map(|e| e.running.len() as u32).sum();
        let pending = d.pending.len() as u32;
        let cores = d.cores.max(1);
        let needed = (pending + running).div_ceil(cores);
        let mut kill = Vec::new();
        if let Some(da) = d.dynamic.as_mut() {
            let backlog = d.scheduling && pending > 0;
            if backlog {
                let since = *da.backlog_since.get_or_insert(now);
                if now - since >= DA_BACKLOG_TIMEOUT {
                    d.target = d.target.saturating_add(da.add).min(da.max).min(needed.max(da.min));
                    da.add = da.add.saturating_mul(2);
                }
            } else {
                da.backlog_since = None;
                da.add = 1;
            }
            // Idle executors go after 60 s, down to the minimum.
            for (id, e) in d.execs.iter().filter(|(_, e)| e.registered && !e.removed && e.running.is_empty()) {
                if d.target > da.min && now - e.idle_since >= DA_IDLE_TIMEOUT {
                    d.target -= 1;
                    kill.push((*id, e.pod));
                }
            }
        }
        for (exec, pod) in kill {
            Self::executor_lost(cx, app, run, exec, false, "idle (dynamic allocation)");
            cx.delete_pod(pod, "deleted by the driver: idle executor (dynamic allocation)");
        }
        Self::arm_tick(cx, app, run);
        cx.at(DA_BACKLOG_TIMEOUT, Ev::AllocationTick { app, run });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Api, Ev as AnyEv};
    use crate::controllers::kubelet;
    use crate::store::{App, Kind};
    use crate::testing::{Fake, nodes, run_on, scenario, serving};
    use sparkrig_model::appstate::AppState;

    /// A Spark driver pod of the smoke scenario's template (spark-pi: 2 executors, Spark 3.5.6)
    /// running on a driver node, with CoreDNS serving unless `dns` is false.
    fn driver(dns: bool) -> (Fake<Drivers>, PodId) {
        driver_of_version(dns, None)
    }

    /// The same, with the app's `sparkVersion` replaced.
    fn driver_of_version(dns: bool, version: Option<&str>) -> (Fake<Drivers>, PodId) {
        let plan = scenario("smoke.yaml");
        let mut f = Fake::new(Drivers::default(), &plan);
        let infra = nodes(&mut f, "infra", 1)[0];
        let n = nodes(&mut f, "spark-driver", 1)[0];
        serving(&mut f, Kind::Webhook, infra);
        if dns {
            serving(&mut f, Kind::CoreDns, infra);
        }
        let t = &plan.templates[0];
        let mut app = t.app.renamed("pi");
        if let Some(v) = version {
            Arc::make_mut(&mut app.spec).spark_version = v.into();
        }
        let app = Arc::new(app);
        f.store.apps.push(App {
            key: "default/pi".into(),
            template: Some(0),
            created: Time::ZERO,
            deleted: false,
            app: app.clone(),
            work: t.work,
            state: AppState::Submitted,
            message: String::new(),
            submission_attempts: 1,
            execution_attempts: 1,
            last_submission: Time::ZERO,
            defaulted: true,
            watched: true,
            run: 1,
            driver: None,
            patched: false,
            external: false,
        });
        let sub = Arc::new(Submission::generate(&app, &[7; 38], super::super::shapes::EPOCH_MS, true));
        let pod = f.create_pod(NewPod {
            key: "default/pi-driver".into(),
            owner: Owner::Driver { app: AppId(0), run: 1 },
            labels: LabelSource::Spark { app, sub, exec: None },
            spec: Arc::new(crate::cluster::SchedSpec::with_requests(1000, 1 << 30)),
            image: "spark".into(),
            from_registry: false,
            public_image: false,
            app: Some("default/pi".into()),
            role: Some(SparkRole::Driver),
            component: None,
            node_selector: Default::default(),
            admitted: None,
        });
        run_on(&mut f, pod, n);
        Drivers::driver_pod_created(&mut f, AppId(0), 1, pod);
        f.clear();
        (f, pod)
    }

    #[test]
    fn a_driver_up_allocates_its_executors_in_one_batch_created_serially() {
        let (mut f, pod) = driver(true);
        f.now = Time(4_000);
        Drivers::process_up(&mut f, pod);
        // Ticks start at once; scheduling starts after maxRegisteredResourcesWaitingTime (30 s).
        let (app, run) = (AppId(0), 1);
        assert_eq!(f.timers(), [(4_000, AnyEv::Driver(Ev::Tick { app, run })), (34_000, AnyEv::Driver(Ev::StartScheduling { app, run }))]);
        f.clear();
        Drivers::handle(&mut f, Ev::Tick { app, run });
        // spark-pi asks for 2 executors; 3.5's batch is 5: one batch, one POST each 20 ms apart,
        // and the next tick a batch delay (1 s) later.
        assert_eq!(
            f.timers(),
            [
                (4_020, AnyEv::Driver(Ev::CreateExecutor { app, run, exec: 1, batch: 1 })),
                (4_040, AnyEv::Driver(Ev::CreateExecutor { app, run, exec: 2, batch: 1 })),
                (5_000, AnyEv::Driver(Ev::Tick { app, run })),
            ]
        );
        f.clear();
        f.now = Time(4_020);
        Drivers::handle(&mut f, Ev::CreateExecutor { app, run, exec: 1, batch: 1 });
        let [Event::PodCreated { pod, role, .. }] = f.emitted.as_slice() else { panic!("{:?}", f.emitted) };
        assert!(pod.starts_with("default/") && pod.ends_with("-exec-1"), "{pod}");
        assert_eq!(*role, Some(SparkRole::Executor));
        // While a POST is in flight the next tick creates nothing.
        f.clear();
        f.now = Time(5_000);
        Drivers::handle(&mut f, Ev::Tick { app, run });
        assert!(f.timers().iter().all(|(_, e)| !matches!(e, AnyEv::Driver(Ev::CreateExecutor { .. }))), "{:?}", f.timers());
    }

    #[test]
    fn a_driver_that_cannot_resolve_the_api_server_exits_1() {
        let (mut f, pod) = driver(false);
        Drivers::process_up(&mut f, pod);
        let [(_, Some(Key::Container(p)), AnyEv::Kubelet(kubelet::Ev::ContainerExit { code, message, .. }))] = f.armed.as_slice() else {
            panic!("{:?}", f.armed)
        };
        assert_eq!((*p, *code), (pod, 1));
        assert!(message.contains("UnknownHostException: kubernetes.default.svc"), "{message}");
    }

    #[test]
    fn a_failed_executor_counts_toward_max_failures_and_is_replaced_a_deleted_one_does_not_count() {
        let (mut f, pod) = driver(true);
        Drivers::process_up(&mut f, pod);
        let (app, run) = (AppId(0), 1);
        Drivers::handle(&mut f, Ev::Tick { app, run });
        Drivers::handle(&mut f, Ev::CreateExecutor { app, run, exec: 1, batch: 1 });
        let exec_pod = f.me.map[&(app, run)].execs[&1].pod;
        let n = f.store.pod(pod).unwrap().node.unwrap();
        run_on(&mut f, exec_pod, n);
        f.store.pod_mut(exec_pod).unwrap().phase = crate::store::Phase::Failed;
        f.store.pod_mut(exec_pod).unwrap().exit = Some((1, "Error"));
        Drivers::executor_pod_changed(&mut f, app, run, 1);
        assert_eq!(f.me.map[&(app, run)].failures, 1);
        // max(3, 2 × 2 instances) = 4 failures allowed.
        assert_eq!(f.me.map[&(app, run)].max_failures, Some(4));
        assert!(f.store.pod(exec_pod).is_none_or(|p| p.deleting.is_some()), "the driver deletes it");
        Drivers::executor_pod_gone(&mut f, app, run, 1);
        assert_eq!(f.me.map[&(app, run)].failures, 1, "its deletion is not a second failure");
        assert!(!f.me.map[&(app, run)].execs.contains_key(&1));
        let _ = f.now();
    }

    /// SPARK-55075 is in the 4.2.0 jars (reference/platform-ops.md §2.5): from 4.2.0 every
    /// refused executor POST counts toward maxNumFailures and the batch goes on; before, the
    /// first refusal skips the rest of the batch and nothing is counted.
    #[test]
    fn spark_55075_refused_executor_creations_count_from_4_2_0_and_do_not_abort_the_batch() {
        for (version, counts) in [("4.1.1", false), ("4.2.0", true), ("4.2.1", true), ("4.3.0", true)] {
            let (mut f, pod) = driver_of_version(true, Some(version));
            // The webhook goes down (failurePolicy Fail): every executor POST is refused.
            let webhook = f.store.component_pods(Kind::Webhook)[0];
            f.store.pod_mut(webhook).unwrap().phase = Phase::Pending;
            Drivers::process_up(&mut f, pod);
            let (app, run) = (AppId(0), 1);
            let mut exits = Vec::new();
            // spark-pi asks for 2 executors: max(3, 2 × 2) = 4 failures allowed; the fifth
            // refusal (third tick) ends the driver with exit 11.
            for tick in 0..4u64 {
                f.clear();
                f.now = Time(10_000 + tick * 1_000);
                Drivers::handle(&mut f, Ev::Tick { app, run });
                let creates: Vec<Ev> = f
                    .timers()
                    .into_iter()
                    .filter_map(|(_, e)| match e {
                        AnyEv::Driver(e @ Ev::CreateExecutor { .. }) => Some(e),
                        _ => None,
                    })
                    .collect();
                f.clear();
                for e in creates {
                    Drivers::handle(&mut f, e);
                }
                let refused = f.emitted.iter().filter(|e| matches!(e, Event::PodCreateFailed { .. })).count();
                // From 4.2 the batch goes on after a refusal, until the driver stops (the fifth).
                let expected = match (counts, tick) {
                    (false, _) => 1,
                    (true, 2) => 1,
                    (true, _) => 2,
                };
                assert_eq!(refused, expected, "{version}, tick {tick}");
                exits.extend(f.armed.iter().filter_map(|(_, _, e)| match e {
                    AnyEv::Kubelet(kubelet::Ev::ContainerExit { code, message, .. }) => Some((tick, *code, message.clone())),
                    _ => None,
                }));
                if f.me.map[&(app, run)].stopping {
                    break;
                }
            }
            let d = &f.me.map[&(app, run)];
            if counts {
                assert_eq!(d.failures, 5, "{version}");
                let [(tick, 11, message)] = exits.as_slice() else { panic!("{version}: {exits:?}") };
                assert_eq!(*tick, 2, "{version}: 2 + 2 + 1 refusals: the fifth, on the third tick, is over 4");
                assert!(message.contains("Max number of executor failures (4) reached"), "{message}");
            } else {
                assert_eq!(d.failures, 0, "{version}: refusals are not failures before 4.2");
                assert!(exits.is_empty() && !d.stopping, "{version}: the app only stalls");
            }
        }
    }
}
