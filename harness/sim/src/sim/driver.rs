//! The Spark driver (Spark's Kubernetes scheduler backend and task scheduler), per
//! reference/spark-on-kubernetes.md §2–3 and the cheat-sheet of §8:
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
//!   the running ones within the 30 s grace period and exits 0.
//! - Dynamic allocation: start at max(min, initial, instances); while tasks are backlogged, add
//!   1, 2, 4, ... executors per second up to what the tasks need and `maxExecutors`; remove
//!   executors idle for 60 s down to `minExecutors`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use sparkrig_model::kube::Labels;
use sparkrig_model::podspec::{self, SparkRole, Submission, executor_cores, initial_executors};
use sparkrig_model::sparkapp::SparkVersion;
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::Event;

use super::operator::Admission;
use super::{AppId, Ev, Owner, Phase, PodId, Simulation};

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
/// `spark.kubernetes.executor.terminationGracePeriodSeconds` = 30 s (4.1+; pod default before).
const DECOMMISSION_GRACE: Dur = Dur::secs(30);
/// `spark.dynamicAllocation.executorIdleTimeout` = 60 s; backlog timeouts 1 s (§3.8).
const DA_IDLE_TIMEOUT: Dur = Dur::secs(60);
const DA_BACKLOG_TIMEOUT: Dur = Dur::secs(1);

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
    /// Bumped when the executor becomes reachable again (cancels heartbeat timeouts).
    hb_epoch: u32,
}

#[derive(Debug)]
struct Dynamic {
    min: u32,
    max: u32,
    backlog_since: Option<Time>,
    add: u32,
}

#[derive(Debug)]
pub(crate) struct Driver {
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
    /// Bumped when the driver becomes reachable again (cancels executors' give-up timers).
    reach_epoch: u32,
}

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

/// Whether a `local://` main file exists in the image: the official `apache/spark` images ship
/// `/opt/spark` (jars, examples); other images are assumed to carry what the app names.
fn main_file_missing(image: &str, file: Option<&str>) -> Option<String> {
    let path = file?.strip_prefix("local://")?;
    let official = image.contains("apache/spark") || image.starts_with("spark:") || image.contains("/spark:");
    (official && !(path.starts_with("/opt/spark/examples/") || path.starts_with("/opt/spark/jars/"))).then(|| path.to_string())
}

impl Simulation {
    pub(crate) fn start_driver(&mut self, app: AppId, run: u32, pod: PodId, sub: Arc<Submission>) {
        let a = &self.apps[app.0 as usize];
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
            reach_epoch: 0,
        };
        self.drivers.insert((app, run), d);
    }

    fn driver(&mut self, app: AppId, run: u32) -> Option<&mut Driver> {
        self.drivers.get_mut(&(app, run))
    }

    /// The driver is up and can talk to the API server and its executors.
    fn driver_active(&self, app: AppId, run: u32) -> bool {
        self.drivers.get(&(app, run)).is_some_and(|d| d.up.is_some() && !d.stopping && self.pod_reachable(d.pod))
    }

    /// Labels of a Spark pod, derived as the operator and Spark set them.
    pub(crate) fn spark_pod_labels(&self, app: AppId, run: u32, exec: Option<u32>) -> Labels {
        let (Some(d), a) = (self.drivers.get(&(app, run)), &self.apps[app.0 as usize]) else { return Labels::new() };
        let pod = match exec {
            None => podspec::driver_pod(&a.app, &d.sub),
            Some(e) => podspec::executor_pod(&a.app, &d.sub, e),
        };
        pod.map(|p| p.labels).unwrap_or_default()
    }

    /// JVM up: the main resource must exist; SparkContext needs `kubernetes.default.svc` and,
    /// with event logs on S3, the log directory.
    pub(crate) fn driver_process_up(&mut self, app: AppId, run: u32) {
        let (dns, s3, now) = (self.dns_serving(), self.minio_serving() && self.dns_serving(), self.now);
        let spec = self.apps[app.0 as usize].app.clone();
        let Some(d) = self.driver(app, run) else { return };
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
            self.exit_after(pod, Dur::ZERO, 1, "Error", msg);
            return;
        }
        d.up = Some(now);
        let dynamic = d.dynamic.is_some();
        let wait = self.t.max_registered_wait;
        self.at(Dur::ZERO, Ev::DriverTick { app, run });
        self.at(wait, Ev::StartScheduling { app, run });
        if dynamic {
            self.at(DA_BACKLOG_TIMEOUT, Ev::AllocationTick { app, run });
        }
    }

    fn arm_tick(&mut self, app: AppId, run: u32) {
        let delay = self.t.batch_delay;
        let Some(d) = self.driver(app, run) else { return };
        if d.tick_armed || d.stopping || d.up.is_none() {
            return;
        }
        d.tick_armed = true;
        self.at(delay, Ev::DriverTick { app, run });
    }

    /// Executor pods Spark counts against its target: Pending (not deleted) and Running
    /// (including Terminating ones still Running on a node that is gone).
    fn counted_pods(&self, d: &Driver) -> u32 {
        d.execs
            .values()
            .filter(|e| {
                self.pod(e.pod).is_some_and(|p| match p.phase {
                    Phase::Running => true,
                    Phase::Pending => p.deleting.is_none(),
                    _ => false,
                })
            })
            .count() as u32
    }

    /// `ExecutorPodsAllocator.onNewSnapshots`: one batch per tick, only once the previous batch
    /// has been created.
    pub(crate) fn driver_tick(&mut self, app: AppId, run: u32) {
        let api = self.t.api_call;
        let active = self.driver_active(app, run);
        let Some(d) = self.drivers.get(&(app, run)) else { return };
        let live = self.counted_pods(d);
        let d = self.driver(app, run).expect("checked");
        d.tick_armed = false;
        if d.stopping || d.up.is_none() {
            return;
        }
        if !active || d.in_flight > 0 {
            // Unreachable API server: calls fail and are retried next tick.
            self.arm_tick(app, run);
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
            self.at(api.times(u64::from(i) + 1), Ev::CreateExecutor { app, run, exec: first + i, batch });
        }
        self.arm_tick(app, run);
    }

    pub(crate) fn create_executor(&mut self, app: AppId, run: u32, exec: u32, batch: u32) {
        let Some(d) = self.driver(app, run) else { return };
        d.in_flight = d.in_flight.saturating_sub(1);
        if d.stopping || d.aborted_batch == batch {
            return;
        }
        let name = d.sub.executor_pod_name(exec);
        let key = format!("{}/{name}", d.namespace);
        let counts_create_failures = d.version >= SparkVersion::new(4, 3, 0);
        let mutated = match self.admission("-v1-pod") {
            Admission::Rejected(msg) => {
                // An exception aborts the rest of the batch; retried next tick (§2.3). From 4.3
                // creation failures count toward maxNumFailures (SPARK-55075).
                let d = self.driver(app, run).expect("checked");
                d.aborted_batch = batch;
                if counts_create_failures {
                    d.failures += 1;
                }
                let over = d.max_failures.filter(|m| d.failures > *m);
                let app_key = self.apps[app.0 as usize].key.clone();
                self.emit(Event::PodCreateFailed { app: app_key, pod: key, message: msg.clone() });
                if let Some(max) = over {
                    self.driver_stop(
                        app,
                        run,
                        11,
                        "Error",
                        format!("driver exited 11: Max number of executor failures ({max}) reached; last: {msg}"),
                    );
                } else {
                    self.arm_tick(app, run);
                }
                return;
            }
            Admission::Mutated => true,
            Admission::Unmutated => false,
        };
        let Ok(shape) = self.shape(app, SparkRole::Executor, mutated) else { return };
        let from_registry = self.plan.stack.registry.enabled;
        let app_key = self.apps[app.0 as usize].key.clone();
        let pod = self.create_pod(
            key,
            Owner::Executor { app, run, exec },
            shape.spec,
            &shape.image,
            from_registry,
            Some(app_key),
            Some(SparkRole::Executor),
            None,
            shape.node_selector,
        );
        let now = self.now;
        self.driver(app, run).expect("checked").execs.insert(
            exec,
            Exec {
                pod,
                registered: false,
                removed: false,
                draining: false,
                running: Vec::new(),
                unreported: Vec::new(),
                idle_since: now,
                hb_epoch: 0,
            },
        );
    }

    /// Executor JVM up: register with the driver.
    pub(crate) fn executor_process_up(&mut self, app: AppId, run: u32, exec: u32) {
        let dns = self.dns_serving();
        let driver_ok = self.driver_active(app, run);
        let Some(d) = self.drivers.get(&(app, run)) else { return };
        let Some(e) = d.execs.get(&exec) else { return };
        let pod = e.pod;
        let host = if d.needs_dns { d.sub.driver_host(&d.namespace) } else { "<driver pod IP>".into() };
        let failure = if d.needs_dns && !dns {
            // driverPropsFetcher: 3 immediate attempts, each failing fast on NXDOMAIN (§3.4).
            Some(format!(
                "executor exited 1: java.io.IOException: Failed to connect to {host}:7078; caused by java.net.UnknownHostException: {host}"
            ))
        } else if !driver_ok || !self.pod_reachable(pod) {
            Some(format!("executor exited 1: Cannot register with driver: spark://CoarseGrainedScheduler@{host}:7078"))
        } else {
            None
        };
        if let Some(msg) = failure {
            self.exit_after(pod, Dur::ZERO, 1, "Error", msg);
            return;
        }
        let percent = self.t.min_registered_percent;
        let d = self.driver(app, run).expect("checked");
        let e = d.execs.get_mut(&exec).expect("checked");
        e.registered = true;
        let registered = d.execs.values().filter(|e| e.registered && !e.removed).count() as u32;
        if !d.scheduling && registered * 100 >= d.target * percent {
            d.scheduling = true;
        }
        self.assign_tasks(app, run);
    }

    pub(crate) fn start_scheduling(&mut self, app: AppId, run: u32) {
        if let Some(d) = self.driver(app, run) {
            d.scheduling = true;
            self.assign_tasks(app, run);
        }
    }

    fn assign_tasks(&mut self, app: AppId, run: u32) {
        if !self.driver_active(app, run) {
            return;
        }
        let s3_ok = self.minio_serving() && self.dns_serving();
        let reachable: Vec<u32> =
            self.drivers[&(app, run)].execs.iter().filter(|(_, e)| self.pod_reachable(e.pod)).map(|(id, _)| *id).collect();
        let now = self.now;
        let d = self.drivers.get_mut(&(app, run)).expect("checked");
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
        for (exec, token) in starts {
            self.at(dur, Ev::TaskDone { app, run, exec, token });
        }
    }

    pub(crate) fn task_done(&mut self, app: AppId, run: u32, exec: u32, token: u64) {
        let s3_ok = self.minio_serving() && self.dns_serving();
        let reachable = self.driver_active(app, run)
            && self.drivers.get(&(app, run)).and_then(|d| d.execs.get(&exec)).is_some_and(|e| self.pod_reachable(e.pod));
        let Some(d) = self.driver(app, run) else { return };
        let Some(e) = d.execs.get_mut(&exec) else { return };
        if !e.running.iter().any(|(t, ..)| *t == token) {
            return;
        }
        if !reachable {
            e.unreported.push(token);
            return;
        }
        self.finish_task(app, run, exec, token, s3_ok);
    }

    fn finish_task(&mut self, app: AppId, run: u32, exec: u32, token: u64, s3_ok: bool) {
        let now = self.now;
        let Some(d) = self.driver(app, run) else { return };
        let s3 = d.s3_data;
        let Some(e) = d.execs.get_mut(&exec) else { return };
        let Some(i) = e.running.iter().position(|(t, ..)| *t == token) else { return };
        let (_, attempt, failed, _) = e.running.swap_remove(i);
        if e.running.is_empty() {
            e.idle_since = now;
        }
        if failed || (s3 && !s3_ok) {
            // An S3A read failure: an ExceptionFailure, counted toward task.maxFailures.
            let attempt = attempt + 1;
            if attempt >= TASK_MAX_FAILURES {
                let msg = format!(
                    "driver exited 1: Job aborted due to stage failure: Task failed {attempt} times, most recent failure: \
                     org.apache.hadoop.fs.s3a.AWSClientIOException: reading s3a://: Unable to execute HTTP request (MinIO unreachable)"
                );
                self.driver_stop(app, run, 1, "Error", msg);
                return;
            }
            d.pending.push_front(attempt);
            self.assign_tasks(app, run);
            return;
        }
        d.done += 1;
        if d.done >= d.total {
            self.driver_stop(app, run, 0, "Completed", "application finished".into());
        } else {
            self.assign_tasks(app, run);
        }
    }

    /// The driver shuts down: executors are deleted (`KubernetesClusterSchedulerBackend.stop`),
    /// then the JVM exits.
    fn driver_stop(&mut self, app: AppId, run: u32, code: i32, reason: &'static str, message: String) {
        let shutdown = if code == 0 { self.t.driver_shutdown } else { Dur::ZERO };
        let Some(d) = self.driver(app, run) else { return };
        if d.stopping {
            return;
        }
        d.stopping = true;
        let pod = d.pod;
        let execs: Vec<PodId> = d.execs.values().map(|e| e.pod).collect();
        for p in execs {
            self.delete_pod(p, "deleted by the driver: application stopping");
        }
        self.exit_after(pod, shutdown, code, reason, message);
    }

    /// The driver drops an executor; its running tasks go back to pending. `caused_by_app`
    /// (PodFailed) counts toward the task and executor failure limits.
    fn executor_lost(&mut self, app: AppId, run: u32, exec: u32, caused_by_app: bool, why: &str) {
        let Some(d) = self.driver(app, run) else { return };
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
        if let Some(n) = aborted {
            let msg = format!(
                "driver exited 1: Job aborted due to stage failure: a task failed {n} times, most recent failure: ExecutorLostFailure ({why})"
            );
            self.driver_stop(app, run, 1, "Error", msg);
        } else if let Some(max) = over {
            let msg = format!("driver exited 11: Max number of executor failures ({max}) reached; last: {why}");
            self.driver_stop(app, run, 11, "Error", msg);
        } else {
            self.assign_tasks(app, run);
            self.arm_tick(app, run);
        }
    }

    /// An executor pod changed phase (watch/poll snapshot). A pod being deleted is PodDeleted
    /// for Spark, whatever its container did.
    pub(crate) fn executor_pod_changed(&mut self, app: AppId, run: u32, exec: u32) {
        let Some(pod) = self.drivers.get(&(app, run)).and_then(|d| d.execs.get(&exec)).map(|e| e.pod) else { return };
        let Some(p) = self.pod(pod) else { return };
        let (phase, deleting, code) = (p.phase, p.deleting.is_some(), p.exit.map_or(-1, |e| e.0));
        if deleting {
            let d = self.drivers.get_mut(&(app, run)).expect("checked");
            if d.decommission
                && let Some(e) = d.execs.get_mut(&exec)
            {
                e.draining = true;
            }
            return;
        }
        match phase {
            Phase::Failed => {
                self.executor_lost(app, run, exec, true, &format!("executor {exec} exited with code {code}"));
                self.delete_pod(pod, "deleted by the driver: executor failed");
            }
            Phase::Succeeded => {
                self.executor_lost(app, run, exec, false, "executor exited 0");
                self.delete_pod(pod, "deleted by the driver: executor finished");
            }
            Phase::Pending | Phase::Running => {}
        }
    }

    /// An executor pod object is gone (deleted, evicted, garbage-collected).
    pub(crate) fn executor_pod_gone(&mut self, app: AppId, run: u32, exec: u32) {
        self.executor_lost(app, run, exec, false, &format!("The executor with id {exec} was deleted by a user or the framework"));
        if let Some(d) = self.driver(app, run) {
            d.execs.remove(&exec);
        }
        self.arm_tick(app, run);
    }

    /// The driver pod changed phase: when it ends, its executors go with it.
    pub(crate) fn driver_lifecycle(&mut self, app: AppId, run: u32, pod: PodId) {
        let terminal = self.pod(pod).is_some_and(|p| matches!(p.phase, Phase::Succeeded | Phase::Failed));
        if terminal && let Some(d) = self.driver(app, run) {
            d.stopping = true;
            let execs: Vec<PodId> = d.execs.values().map(|e| e.pod).collect();
            for p in execs {
                self.delete_pod(p, "driver exited");
            }
        }
    }

    /// The driver pod object is gone: executors are garbage-collected (ownerReference).
    pub(crate) fn driver_gc(&mut self, app: AppId, run: u32) {
        if let Some(d) = self.drivers.remove(&(app, run)) {
            for e in d.execs.values() {
                self.delete_pod(e.pod, "garbage-collected: owner driver pod deleted");
            }
        }
    }

    /// The driver's node died or was cut off: executors elsewhere fail their heartbeats and give
    /// up after 60 of them.
    pub(crate) fn driver_unreachable(&mut self, app: AppId, run: u32) {
        let Some(d) = self.driver(app, run) else { return };
        let epoch = d.reach_epoch;
        let pods: Vec<PodId> = d.execs.values().filter(|e| e.registered).map(|e| e.pod).collect();
        for pod in pods {
            self.at(HEARTBEAT_GIVE_UP, Ev::ExecutorSelfExit { pod, epoch });
        }
    }

    pub(crate) fn executor_self_exit(&mut self, pod: PodId, epoch: u32) {
        let Some(Owner::Executor { app, run, .. }) = self.pod(pod).map(|p| p.owner) else { return };
        let driver_ok = self.drivers.get(&(app, run)).is_some_and(|d| d.reach_epoch == epoch && self.pod_reachable(d.pod));
        if !driver_ok && self.drivers.get(&(app, run)).is_some_and(|d| d.reach_epoch == epoch) {
            self.exit_after(
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
    pub(crate) fn executor_unreachable(&mut self, app: AppId, run: u32, exec: u32) {
        let now = self.now;
        let Some(d) = self.drivers.get(&(app, run)) else { return };
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
        let epoch = e.hb_epoch;
        self.at(at.since(now), Ev::HeartbeatTimeout { app, run, exec, epoch });
    }

    pub(crate) fn heartbeat_timeout(&mut self, app: AppId, run: u32, exec: u32, epoch: u32) {
        let Some(e) = self.drivers.get(&(app, run)).and_then(|d| d.execs.get(&exec)) else { return };
        if e.hb_epoch != epoch || e.removed || self.pod_reachable(e.pod) || !self.driver_active(app, run) {
            return;
        }
        let pod = e.pod;
        let why = format!("Executor heartbeat timed out after {} ms", HEARTBEAT_TIMEOUT.as_ms());
        self.executor_lost(app, run, exec, false, &why);
        // killAndReplaceExecutor: the pod is deleted; without a kubelet it stays Terminating.
        self.delete_pod(pod, "deleted by the driver: executor heartbeat timed out");
    }

    /// A node is reachable again: cancel heartbeat timeouts, deliver results held back.
    pub(crate) fn node_reconnected(&mut self, n: usize) {
        let s3_ok = self.minio_serving() && self.dns_serving();
        for id in self.node_rt[n].pods.clone() {
            let Some(p) = self.pod(id) else { continue };
            match p.owner {
                Owner::Driver { app, run } => {
                    if let Some(d) = self.driver(app, run) {
                        d.reach_epoch += 1;
                    }
                    self.redeliver(app, run, s3_ok);
                    self.arm_tick(app, run);
                }
                Owner::Executor { app, run, exec } => {
                    if let Some(e) = self.driver(app, run).and_then(|d| d.execs.get_mut(&exec)) {
                        e.hb_epoch += 1;
                    }
                    self.redeliver(app, run, s3_ok);
                }
                Owner::Component(_) => {}
            }
        }
    }

    fn redeliver(&mut self, app: AppId, run: u32, s3_ok: bool) {
        if !self.driver_active(app, run) {
            return;
        }
        let held: Vec<(u32, u64)> = self.drivers[&(app, run)]
            .execs
            .iter()
            .filter(|(_, e)| self.pod_reachable(e.pod))
            .flat_map(|(id, e)| e.unreported.iter().map(move |t| (*id, *t)))
            .collect();
        for (exec, token) in held {
            if let Some(e) = self.driver(app, run).and_then(|d| d.execs.get_mut(&exec)) {
                e.unreported.retain(|t| *t != token);
            }
            self.finish_task(app, run, exec, token, s3_ok);
        }
    }

    /// How long a deleted executor takes to stop: decommissioning lets running tasks finish
    /// within the grace period.
    pub(crate) fn executor_stop_delay(&self, app: AppId, run: u32, exec: u32) -> Dur {
        let Some(d) = self.drivers.get(&(app, run)) else { return self.t.pod_stop };
        match d.execs.get(&exec) {
            Some(e) if d.decommission && e.registered => {
                let last = e.running.iter().map(|r| r.3).max().unwrap_or(self.now);
                // The executor checks every second whether its tasks are done.
                (last - self.now + Dur::secs(1)).min(DECOMMISSION_GRACE)
            }
            _ => self.t.pod_stop,
        }
    }

    /// The executor exits cleanly after decommissioning (its tasks finished in time).
    pub(crate) fn executor_decommissioning(&self, app: AppId, run: u32, exec: u32) -> bool {
        self.drivers
            .get(&(app, run))
            .and_then(|d| d.execs.get(&exec).map(|e| (d, e)))
            .is_some_and(|(d, e)| d.decommission && e.registered && e.running.is_empty())
    }

    /// Dynamic allocation (`ExecutorAllocationManager`), once a second.
    pub(crate) fn allocation_tick(&mut self, app: AppId, run: u32) {
        if !self.driver_active(app, run) {
            if self.drivers.get(&(app, run)).is_some_and(|d| !d.stopping) {
                self.at(DA_BACKLOG_TIMEOUT, Ev::AllocationTick { app, run });
            }
            return;
        }
        let now = self.now;
        let d = self.drivers.get_mut(&(app, run)).expect("active");
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
            self.executor_lost(app, run, exec, false, "idle (dynamic allocation)");
            self.delete_pod(pod, "deleted by the driver: idle executor (dynamic allocation)");
        }
        self.arm_tick(app, run);
        self.at(DA_BACKLOG_TIMEOUT, Ev::AllocationTick { app, run });
    }
}
