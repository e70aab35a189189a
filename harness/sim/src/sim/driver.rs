//! The Spark driver (Spark's Kubernetes scheduler backend): executor allocation, executor
//! lifecycle and the job's tasks, per reference/spark-on-kubernetes.md §2–3 and the cheat-sheet
//! of §8.
//!
//! - Allocation every `batch.delay` (1 s): at most `batch.size` new pods (5 in 3.x, 10 in
//!   4.0/4.1, 20 from 4.2), only when the previous batch has been seen; Pending pods count
//!   toward the target and are waited on forever.
//! - A Failed executor pod counts toward `spark.executor.maxNumFailures` (3.5+: max(3, 2 ×
//!   instances-if-set)) and is deleted; a deleted one does not count. Either is replaced on the
//!   next tick. Past the limit the driver exits 11.
//! - Executors register after JVM start; they resolve the driver Service by DNS unless
//!   `useDriverPodIP` (default from 4.3). The driver needs `kubernetes.default.svc` at start.
//! - Tasks start once 80 % of the executors registered or 30 s after SparkContext start; tasks
//!   lost with an executor are re-run (counted toward `spark.task.maxFailures` = 4 only when the
//!   executor failure was caused by the app).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use sparkrig_model::podspec::{SparkRole, Submission, executor_cores, executor_instances};
use sparkrig_model::sparkapp::SparkVersion;
use sparkrig_model::time::Dur;
use sparkrig_model::trace::Event;

use super::operator::Admission;
use super::{AppId, Ev, Owner, Phase, PodId, Simulation};

/// `spark.task.maxFailures` (§3.6).
const TASK_MAX_FAILURES: u8 = 4;

#[derive(Debug)]
struct Exec {
    pod: PodId,
    registered: bool,
    /// Running tasks: (token, attempt).
    running: Vec<(u64, u8)>,
}

#[derive(Debug)]
pub(crate) struct Driver {
    pod: PodId,
    sub: Arc<Submission>,
    namespace: String,
    target: u32,
    batch: u32,
    max_failures: Option<u32>,
    cores: u32,
    /// Executors reach the driver through its Service's DNS name.
    needs_dns: bool,
    execs: BTreeMap<u32, Exec>,
    next_exec: u32,
    in_flight: u32,
    batch_no: u32,
    aborted_batch: u32,
    failures: u32,
    up: bool,
    scheduling: bool,
    /// Attempt number of each task waiting to run.
    pending: VecDeque<u8>,
    done: u32,
    total: u32,
    task: Dur,
    next_token: u64,
    tick_armed: bool,
    stopping: bool,
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

impl Simulation {
    pub(crate) fn start_driver(&mut self, app: AppId, run: u32, pod: PodId, sub: Arc<Submission>) {
        let a = &self.apps[app.0 as usize];
        let spec = &a.app;
        let conf = &spec.spec.spark_conf;
        let version = spec.spark_version().unwrap_or(SparkVersion::new(3, 5, 0));
        let batch =
            conf.get("spark.kubernetes.allocation.batch.size").and_then(|v| v.parse().ok()).unwrap_or(default_batch(version)).max(1);
        let target = executor_instances(spec, a.defaulted);
        let instances_set = spec.spec.executor.instances.is_some() || conf.contains_key("spark.executor.instances") || a.defaulted;
        // ExecutorFailureTracker exists from 3.5.0 (SPARK-41210); before that pods were replaced forever.
        let max_failures = (version >= SparkVersion::new(3, 5, 0)).then(|| {
            conf.get("spark.executor.maxNumFailures")
                .and_then(|v| v.parse().ok())
                .unwrap_or(3.max(2 * if instances_set { target } else { 0 }))
        });
        let use_pod_ip =
            conf.get("spark.kubernetes.executor.useDriverPodIP").map(|v| v == "true").unwrap_or(version >= SparkVersion::new(4, 3, 0));
        let d = Driver {
            pod,
            namespace: spec.namespace().to_string(),
            sub,
            target,
            batch,
            max_failures,
            cores: executor_cores(spec),
            needs_dns: !use_pod_ip,
            execs: BTreeMap::new(),
            next_exec: 1,
            in_flight: 0,
            batch_no: 0,
            aborted_batch: 0,
            failures: 0,
            up: false,
            scheduling: false,
            pending: std::iter::repeat_n(0, a.work.tasks as usize).collect(),
            done: 0,
            total: a.work.tasks,
            task: a.work.task_duration,
            next_token: 0,
            tick_armed: false,
            stopping: false,
        };
        self.drivers.insert((app, run), d);
    }

    fn driver(&mut self, app: AppId, run: u32) -> Option<&mut Driver> {
        self.drivers.get_mut(&(app, run))
    }

    /// SparkContext start: needs the API server through `kubernetes.default.svc`.
    pub(crate) fn driver_process_up(&mut self, app: AppId, run: u32) {
        let dns = self.dns_serving();
        let Some(d) = self.driver(app, run) else { return };
        let pod = d.pod;
        if !dns {
            self.exit_after(
                pod,
                Dur::ZERO,
                1,
                "Error",
                "driver exited 1: org.apache.spark.SparkException: External scheduler cannot be instantiated; \
                 caused by java.net.UnknownHostException: kubernetes.default.svc: Name or service not known"
                    .into(),
            );
            return;
        }
        d.up = true;
        let wait = self.t.max_registered_wait;
        self.at(Dur::ZERO, Ev::DriverTick { app, run });
        self.at(wait, Ev::StartScheduling { app, run });
    }

    fn arm_tick(&mut self, app: AppId, run: u32) {
        let delay = self.t.batch_delay;
        let Some(d) = self.driver(app, run) else { return };
        if d.tick_armed || d.stopping || !d.up {
            return;
        }
        d.tick_armed = true;
        self.at(delay, Ev::DriverTick { app, run });
    }

    /// `ExecutorPodsAllocator.onNewSnapshots`: one batch per tick, only once the previous
    /// batch has been created and seen.
    pub(crate) fn driver_tick(&mut self, app: AppId, run: u32) {
        let api = self.t.api_call;
        let alive: Vec<PodId> = match self.drivers.get(&(app, run)) {
            Some(d) => d.execs.values().map(|e| e.pod).collect(),
            None => return,
        };
        let live =
            alive.iter().filter(|p| self.pod(**p).is_some_and(|p| !matches!(p.phase, Phase::Succeeded | Phase::Failed))).count() as u32;
        let d = self.driver(app, run).expect("checked");
        d.tick_armed = false;
        if d.stopping || !d.up {
            return;
        }
        if d.in_flight > 0 {
            self.arm_tick(app, run);
            return;
        }
        let want = d.target.saturating_sub(live);
        if want == 0 {
            return;
        }
        let n = want.min(d.batch);
        d.batch_no += 1;
        let batch = d.batch_no;
        let first = d.next_exec;
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
        let mutated = match self.admission("-v1-pod") {
            Admission::Rejected(msg) => {
                // An exception aborts the rest of the batch; retried next tick (§2.3).
                self.driver(app, run).expect("checked").aborted_batch = batch;
                let app_key = self.apps[app.0 as usize].key.clone();
                self.emit(Event::PodCreateFailed { app: app_key, pod: key, message: msg });
                self.arm_tick(app, run);
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
        self.driver(app, run).expect("checked").execs.insert(exec, Exec { pod, registered: false, running: Vec::new() });
    }

    /// Executor JVM up: register with the driver.
    pub(crate) fn executor_process_up(&mut self, app: AppId, run: u32, exec: u32) {
        let dns = self.dns_serving();
        let driver_up = self.drivers.get(&(app, run)).is_some_and(|d| d.up && !d.stopping);
        let Some(d) = self.drivers.get(&(app, run)) else { return };
        let Some(e) = d.execs.get(&exec) else { return };
        let pod = e.pod;
        let host = d.sub.driver_host(&d.namespace);
        if !driver_up {
            self.exit_after(
                pod,
                Dur::ZERO,
                1,
                "Error",
                format!("executor exited 1: Cannot register with driver: spark://CoarseGrainedScheduler@{host}:7078"),
            );
            return;
        }
        if d.needs_dns && !dns {
            // driverPropsFetcher: 3 immediate attempts, each failing fast on NXDOMAIN (§3.4).
            self.exit_after(
                pod,
                Dur::ZERO,
                1,
                "Error",
                format!("executor exited 1: java.io.IOException: Failed to connect to {host}:7078; caused by java.net.UnknownHostException: {host}"),
            );
            return;
        }
        let percent = self.t.min_registered_percent;
        let d = self.driver(app, run).expect("checked");
        d.execs.get_mut(&exec).expect("checked").registered = true;
        let registered = d.execs.values().filter(|e| e.registered).count() as u32;
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
        let Some(d) = self.drivers.get_mut(&(app, run)) else { return };
        if !d.scheduling || d.stopping {
            return;
        }
        let mut starts = Vec::new();
        for (id, e) in d.execs.iter_mut().filter(|(_, e)| e.registered) {
            while e.running.len() < d.cores as usize {
                let Some(attempt) = d.pending.pop_front() else { break };
                d.next_token += 1;
                e.running.push((d.next_token, attempt));
                starts.push((*id, d.next_token));
            }
        }
        let task = d.task;
        for (exec, token) in starts {
            self.at(task, Ev::TaskDone { app, run, exec, token });
        }
    }

    pub(crate) fn task_done(&mut self, app: AppId, run: u32, exec: u32, token: u64) {
        let Some(d) = self.driver(app, run) else { return };
        let Some(e) = d.execs.get_mut(&exec) else { return };
        let Some(i) = e.running.iter().position(|(t, _)| *t == token) else { return };
        e.running.swap_remove(i);
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

    /// Removes an executor from the driver's books; its running tasks go back to pending.
    /// `caused_by_app`: PodFailed (counts toward task and executor failure limits).
    fn executor_lost(&mut self, app: AppId, run: u32, exec: u32, caused_by_app: bool, why: &str) {
        let Some(d) = self.driver(app, run) else { return };
        if d.stopping {
            d.execs.remove(&exec);
            return;
        }
        let Some(e) = d.execs.remove(&exec) else { return };
        let mut aborted = None;
        for (_, attempt) in e.running {
            let attempt = if caused_by_app { attempt + 1 } else { attempt };
            if attempt >= TASK_MAX_FAILURES {
                aborted = Some(attempt);
            }
            d.pending.push_front(attempt);
        }
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

    /// An executor pod changed phase (watch/poll snapshot).
    pub(crate) fn executor_pod_changed(&mut self, app: AppId, run: u32, exec: u32) {
        let Some(pod) = self.drivers.get(&(app, run)).and_then(|d| d.execs.get(&exec)).map(|e| e.pod) else { return };
        let Some(p) = self.pod(pod) else { return };
        match p.phase {
            Phase::Failed => {
                let why = format!("executor {exec} exited with code {}", p.exit.map_or(-1, |e| e.0));
                self.executor_lost(app, run, exec, true, &why);
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
}
