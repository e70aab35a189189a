//! The Spark Operator (kubeflow/spark-operator v2): the SparkApplication state machine of
//! reference/spark-operator.md §2 driven by a controller-runtime workqueue, spark-submit on a
//! bounded worker pool, retries with the linear backoff of §1.3, and the mutating webhook's
//! admission of apps and Spark pods (§3.5, §2.8).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use sparkrig_model::appstate::AppState;
use sparkrig_model::kube::Labels;
use sparkrig_model::podspec::{self, SparkRole, Submission};
use sparkrig_model::scenario::{FailurePolicy, Scenario, Work};
use sparkrig_model::sparkapp::{RestartPolicyType, SparkApplication};
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::Event;

use super::{AppId, Ev, Owner, Phase, PodId, Simulation};
use crate::bucket::TokenBucket;
use crate::cluster::SchedSpec;
use crate::timings::Timings;

/// 2026-01-01T00:00:00Z: the wall clock of t=0, for Spark's time-based ids.
const EPOCH_MS: u64 = 1_767_225_600_000;

/// The service account the chart creates in every job namespace (`spark.serviceAccount.name`
/// default `<fullname>-spark`, reference/spark-operator.md §5).
const CHART_SPARK_SA: &str = "spark-operator-spark";

#[derive(Debug)]
pub(crate) struct App {
    pub key: String,
    pub template: usize,
    pub app: Arc<SparkApplication>,
    pub work: Work,
    pub state: AppState,
    pub message: String,
    pub submission_attempts: u32,
    pub execution_attempts: u32,
    pub last_submission: Time,
    /// Webhook defaulting ran at creation.
    pub defaulted: bool,
    /// In a watched job namespace.
    pub watched: bool,
    /// The current run (submission) id; 0 before the first.
    pub run: u32,
    pub driver: Option<PodId>,
    /// spark-submit in flight since this time.
    pub submitting: Option<Time>,
    /// The spec was patched after creation (its pod shapes are no longer the template's).
    pub patched: bool,
    /// Per-item rate limiter failures (reset by Forget).
    pub rl_failures: u32,
}

/// The controller's leader election Lease (chart `controller.leaderElection`: leaseDuration 15s,
/// renewDeadline 10s, retryPeriod 2s; `LeaderElectionReleaseOnCancel` unset, so a stopped leader
/// does not release it; reference/spark-operator.md §2.8, §5).
#[derive(Debug, Default)]
pub(crate) struct Lease {
    holder: Option<PodId>,
    /// When the lease expires if nobody renews it (None: free).
    expires: Option<Time>,
    /// Increments on every new leader (stale spark-submits of an old leader are dropped).
    pub epoch: u32,
    try_at: Option<Time>,
}

const LEASE_DURATION: Dur = Dur::secs(15);
const RETRY_PERIOD: Dur = Dur::secs(2);

/// A pod shape shared by every pod of a template and role.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    pub spec: Arc<SchedSpec>,
    pub node_selector: Labels,
    pub image: String,
}

#[derive(Debug)]
pub(crate) struct Operator {
    workers: u32,
    busy: u32,
    queue: VecDeque<AppId>,
    dirty: BTreeSet<AppId>,
    processing: BTreeSet<AppId>,
    bucket: TokenBucket,
    service_accounts: BTreeSet<String>,
    runs: u32,
    shapes: BTreeMap<(ShapeKey, SparkRole, bool), Shape>,
}

/// Pods of unpatched apps share their template's shape; patched apps have their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ShapeKey {
    Template(usize),
    App(AppId),
}

/// How the API server admits a Spark pod or app given the webhook's state.
pub(crate) enum Admission {
    Mutated,
    Unmutated,
    Rejected(String),
}

enum Outcome {
    Done,
    RequeueAfter(Dur),
    Error,
    Submitting,
}

impl Operator {
    pub(crate) fn new(plan: &Scenario, t: &Timings) -> Operator {
        let mut service_accounts: BTreeSet<String> = ["default".to_string(), CHART_SPARK_SA.to_string()].into();
        service_accounts.extend(plan.stack.operator.service_accounts.iter().cloned());
        Operator {
            workers: plan.stack.operator.workers,
            busy: 0,
            queue: VecDeque::new(),
            dirty: BTreeSet::new(),
            processing: BTreeSet::new(),
            bucket: TokenBucket::new(t.workqueue_qps, t.workqueue_burst),
            service_accounts,
            runs: 0,
            shapes: BTreeMap::new(),
        }
    }
}

impl Simulation {
    /// What the API server does with a create that the pod/app webhook intercepts.
    pub(crate) fn admission(&self, what: &str) -> Admission {
        let op = &self.plan.stack.operator;
        if !op.webhook_enabled {
            Admission::Unmutated
        } else if self.webhook_serving() {
            Admission::Mutated
        } else {
            match op.failure_policy {
                FailurePolicy::Ignore => Admission::Unmutated,
                FailurePolicy::Fail => Admission::Rejected(format!(
                    "Internal error occurred: failed calling webhook \"mutate-{what}.sparkoperator.k8s.io\": failed to call webhook: \
                     Post \"https://spark-operator-webhook-svc.spark-operator.svc:9443/mutate?timeout=10s\": no endpoints available for service \"spark-operator-webhook-svc\""
                )),
            }
        }
    }

    /// The pod shape of a template/role, compiled once per webhook outcome.
    pub(crate) fn shape(&mut self, app: AppId, role: SparkRole, mutated: bool) -> Result<Shape, String> {
        let a = &self.apps[app.0 as usize];
        let key = (if a.patched { ShapeKey::App(app) } else { ShapeKey::Template(a.template) }, role, mutated);
        if let Some(s) = self.op.shapes.get(&key) {
            return Ok(s.clone());
        }
        let template = if a.patched { a.app.clone() } else { Arc::new(self.plan.templates[a.template].app.clone()) };
        let template = &*template;
        let sub = Submission::generate(template, &[0; 38], EPOCH_MS, mutated);
        let pod = match role {
            SparkRole::Driver => podspec::driver_pod(template, &sub)?,
            SparkRole::Executor => podspec::executor_pod(template, &sub, 1)?,
        };
        let shape =
            Shape { spec: Arc::new(SchedSpec::compile(&pod, &mut self.interner)), node_selector: pod.node_selector, image: pod.image };
        self.op.shapes.insert(key, shape.clone());
        Ok(shape)
    }

    /// A SparkApplication is created (arrival or submit step).
    pub(crate) fn create_app(&mut self, template: usize, name: &str) {
        let t = &self.plan.templates[template];
        let work = t.work;
        let app = t.app.renamed(name);
        let key = format!("{}/{name}", app.namespace());
        let watched = self.plan.stack.operator.job_namespaces.iter().any(|n| n.is_empty() || n == app.namespace());
        // The SparkApplication webhook covers CREATE on sparkapplications.
        let defaulted = match self.admission("sparkoperator-k8s-io-v1beta2-sparkapplication") {
            Admission::Rejected(msg) => {
                self.emit(Event::AppRejected { app: key, message: msg });
                return;
            }
            Admission::Mutated => true,
            Admission::Unmutated => false,
        };
        let executors = podspec::initial_executors(&app, defaulted);
        self.emit(Event::AppCreated { app: key.clone(), executors });
        let id = AppId(self.apps.len() as u32);
        self.apps.push(App {
            key,
            template,
            app: Arc::new(app),
            work,
            state: AppState::New,
            message: String::new(),
            submission_attempts: 0,
            execution_attempts: 0,
            last_submission: Time::ZERO,
            defaulted,
            watched,
            run: 0,
            driver: None,
            submitting: None,
            patched: false,
            rl_failures: 0,
        });
        if watched {
            self.op_enqueue(id);
        }
    }

    /// `AddRateLimited`: max(per-item exponential, bucket) before the item is added.
    pub(crate) fn op_enqueue(&mut self, id: AppId) {
        let a = &mut self.apps[id.0 as usize];
        let base = self.t.workqueue_base_delay.as_ms();
        let per_item = Dur::ms(base.saturating_mul(1u64 << a.rl_failures.min(30)).min(self.t.workqueue_max_delay.as_ms()));
        a.rl_failures += 1;
        let bucket = self.op.bucket.reserve(self.now);
        self.at(per_item.max(bucket), Ev::Enqueue { app: id });
    }

    /// The workqueue `Add`: deduplicated while queued; re-queued after processing if dirty.
    pub(crate) fn op_enqueue_now(&mut self, id: AppId) {
        if !self.op.dirty.insert(id) {
            return;
        }
        if !self.op.processing.contains(&id) {
            self.op.queue.push_back(id);
        }
        self.op_dispatch();
    }

    fn op_done(&mut self, id: AppId) {
        self.op.processing.remove(&id);
        if self.op.dirty.contains(&id) {
            self.op.queue.push_back(id);
        }
    }

    /// Hands queued apps to free workers while the controller has a leader.
    fn op_dispatch(&mut self) {
        while self.op.busy < self.op.workers && self.controller_serving() {
            let Some(id) = self.op.queue.pop_front() else { break };
            self.op.dirty.remove(&id);
            self.op.processing.insert(id);
            match self.reconcile(id) {
                Outcome::Submitting => {
                    self.op.busy += 1;
                    continue;
                }
                Outcome::Done => self.apps[id.0 as usize].rl_failures = 0,
                Outcome::RequeueAfter(d) => {
                    self.apps[id.0 as usize].rl_failures = 0;
                    self.at(d, Ev::Enqueue { app: id });
                }
                Outcome::Error => self.op_enqueue(id),
            }
            self.op_done(id);
        }
    }

    /// The controller has a running, reachable leader.
    pub(crate) fn controller_serving(&self) -> bool {
        self.lease.holder.is_some_and(|p| self.pod_serving(p))
    }

    /// Re-evaluates the Lease after a controller pod changed: a leader that stops serving stops
    /// renewing; a serving candidate acquires the Lease once it has expired.
    pub(crate) fn lease_changed(&mut self) {
        if let Some(h) = self.lease.holder
            && !self.pod_serving(h)
        {
            // It renewed within the last retry period; the lease runs out 15 s later.
            self.lease.holder = None;
            self.lease.expires = Some(self.now + LEASE_DURATION);
        }
        if self.lease.holder.is_some() {
            return;
        }
        let candidate = self.component_pods(super::components::Kind::Controller).into_iter().find(|p| self.pod_serving(*p));
        let Some(candidate) = candidate else { return };
        let free_at = self.lease.expires.unwrap_or(self.now).max(self.now);
        if free_at <= self.now {
            self.lease.holder = Some(candidate);
            self.lease.expires = None;
            self.lease.epoch += 1;
            self.operator_elected();
        } else if self.lease.try_at.is_none_or(|t| t > free_at || t < self.now) {
            // Candidates retry every retryPeriod; the first try after expiry wins.
            let tries = (free_at - self.now).as_ms().div_ceil(RETRY_PERIOD.as_ms());
            let at = self.now + RETRY_PERIOD.times(tries);
            self.lease.try_at = Some(at);
            self.at(at - self.now, Ev::LeaderTry);
        }
    }

    pub(crate) fn leader_try(&mut self) {
        if self.lease.try_at == Some(self.now) {
            self.lease.try_at = None;
            self.lease_changed();
        }
    }

    /// A controller pod became leader: a fresh process with empty workers and queue; its
    /// informers relist, so every app is reconciled.
    pub(crate) fn operator_elected(&mut self) {
        self.op.busy = 0;
        self.op.queue.clear();
        self.op.dirty.clear();
        self.op.processing.clear();
        for a in &mut self.apps {
            a.submitting = None;
        }
        for i in 0..self.apps.len() {
            if self.apps[i].watched {
                self.op_enqueue(AppId(i as u32));
            }
        }
    }

    fn set_state(&mut self, id: AppId, state: AppState, message: String) {
        let a = &mut self.apps[id.0 as usize];
        debug_assert!(a.state == state || a.state.can_become(state), "{} → {state} is not a legal transition", a.state);
        a.state = state;
        a.message = message.clone();
        let ev = Event::AppState {
            app: a.key.clone(),
            state,
            message,
            submission_attempts: a.submission_attempts,
            execution_attempts: a.execution_attempts,
        };
        self.emit(ev);
        // The status update is itself a watch event.
        self.op_enqueue(id);
    }

    fn driver_alive(&self, id: AppId) -> Option<PodId> {
        self.apps[id.0 as usize].driver.filter(|p| self.pod(*p).is_some())
    }

    /// `ShouldRetry` and `TimeUntilNextRetryDue` (§1.3): `None` = no retry; `Some(Err)` = the
    /// interval is unset and the reconcile errors forever; `Some(Ok(wait))`.
    fn retry_wait(&self, id: AppId, after_submission_failure: bool) -> Option<Result<Dur, ()>> {
        let a = &self.apps[id.0 as usize];
        let policy = a.app.spec.restart_policy.clone().unwrap_or_default();
        let (retries, interval) = if after_submission_failure {
            (policy.on_submission_failure_retries, policy.on_submission_failure_retry_interval)
        } else {
            (policy.on_failure_retries, policy.on_failure_retry_interval)
        };
        let attempts = if after_submission_failure { a.submission_attempts } else { a.execution_attempts };
        let retry = match policy.policy {
            RestartPolicyType::Always => true,
            RestartPolicyType::OnFailure => retries.is_some_and(|r| attempts as i64 <= i64::from(r)),
            RestartPolicyType::Never => false,
        };
        if !retry {
            return None;
        }
        // The webhook defaults both intervals to 5 s when the type is not Never.
        let interval = interval.or(a.defaulted.then_some(5));
        Some(interval.ok_or(()).map(|iv| {
            let due = a.last_submission + Dur::secs((iv.max(0) as u64).saturating_mul(u64::from(a.submission_attempts)));
            due - self.now
        }))
    }

    fn reconcile(&mut self, id: AppId) -> Outcome {
        let state = self.apps[id.0 as usize].state;
        let suspend = self.apps[id.0 as usize].app.spec.suspend == Some(true);
        if suspend && !matches!(state, AppState::Completed | AppState::Failed | AppState::Suspended | AppState::Suspending) {
            self.set_state(id, AppState::Suspending, String::new());
            return Outcome::Done;
        }
        match state {
            AppState::Suspending => {
                if let Some(pod) = self.driver_alive(id) {
                    self.delete_pod(pod, "spark-operator: suspending");
                }
                self.set_state(id, AppState::Suspended, String::new());
                Outcome::Done
            }
            AppState::Suspended => {
                if !suspend && self.driver_alive(id).is_none() {
                    self.set_state(id, AppState::Resuming, String::new());
                }
                Outcome::Done
            }
            AppState::Resuming => self.begin_submit(id),
            AppState::Invalidating => {
                if let Some(pod) = self.driver_alive(id) {
                    self.delete_pod(pod, "spark-operator: spec changed, invalidating");
                }
                let a = &mut self.apps[id.0 as usize];
                a.submission_attempts = 0;
                a.execution_attempts = 0;
                a.last_submission = Time::ZERO;
                self.set_state(id, AppState::PendingRerun, String::new());
                Outcome::Done
            }
            AppState::New => self.begin_submit(id),
            AppState::SubmissionFailed => match self.retry_wait(id, true) {
                None => {
                    self.set_state(id, AppState::Failed, self.apps[id.0 as usize].message.clone());
                    Outcome::Done
                }
                Some(Err(())) => Outcome::Error,
                Some(Ok(wait)) if wait > Dur::ZERO => Outcome::RequeueAfter(wait),
                Some(Ok(_)) => match self.driver_alive(id) {
                    None => self.begin_submit(id),
                    Some(pod) => {
                        self.delete_pod(pod, "spark-operator: deleting resources before resubmission");
                        Outcome::Error
                    }
                },
            },
            AppState::Submitted | AppState::Running | AppState::Unknown => {
                self.map_driver_state(id);
                Outcome::Done
            }
            AppState::Succeeding => {
                let always =
                    self.apps[id.0 as usize].app.spec.restart_policy.as_ref().is_some_and(|p| p.policy == RestartPolicyType::Always);
                if always {
                    self.rerun(id);
                } else {
                    self.set_state(id, AppState::Completed, String::new());
                }
                Outcome::Done
            }
            AppState::Failing => match self.retry_wait(id, false) {
                None => {
                    self.set_state(id, AppState::Failed, self.apps[id.0 as usize].message.clone());
                    Outcome::Done
                }
                Some(Err(())) => Outcome::Error,
                Some(Ok(wait)) if wait > Dur::ZERO => Outcome::RequeueAfter(wait),
                Some(Ok(_)) => {
                    self.rerun(id);
                    Outcome::Done
                }
            },
            AppState::PendingRerun => match self.driver_alive(id) {
                None => self.begin_submit(id),
                // No requeue: the driver pod's Delete event brings the app back.
                Some(_) => Outcome::Done,
            },
            _ => Outcome::Done,
        }
    }

    /// SUCCEEDING/FAILING → delete the driver, reset, PENDING_RERUN.
    fn rerun(&mut self, id: AppId) {
        if let Some(pod) = self.driver_alive(id) {
            self.delete_pod(pod, "spark-operator: deleting resources before rerun");
        }
        self.set_state(id, AppState::PendingRerun, String::new());
    }

    /// The driver-phase → state mapping of §2.4 (SUBMITTED/RUNNING/UNKNOWN).
    fn map_driver_state(&mut self, id: AppId) {
        let a = &self.apps[id.0 as usize];
        let (state, grace) = (a.state, self.now - a.last_submission <= self.t.driver_pod_creation_grace);
        let Some(pod) = self.driver_alive(id) else {
            if state == AppState::Submitted && grace {
                // Within the creation grace period the reconcile errors and retries.
                self.op_enqueue(id);
            } else {
                self.set_state(id, AppState::Failing, "driver pod not found".into());
            }
            return;
        };
        let p = self.pod(pod).expect("alive");
        let next = match (p.phase, p.exit) {
            (Phase::Pending, _) => (AppState::Submitted, String::new()),
            (Phase::Running, _) => (AppState::Running, String::new()),
            (Phase::Succeeded, _) => (AppState::Succeeding, String::new()),
            (Phase::Failed, Some((0, _))) => (AppState::Succeeding, String::new()),
            (Phase::Failed, Some((code, reason))) => {
                (AppState::Failing, format!("driver container failed with ExitCode: {code}, Reason: {reason}"))
            }
            (Phase::Failed, None) => (AppState::Failing, "driver container status missing".into()),
        };
        if next.0 != state {
            self.set_state(id, next.0, next.1);
        }
    }

    /// Starts a spark-submit on a worker. The status (attempt count, attempt time) is written
    /// when it returns; a controller that dies meanwhile loses the attempt.
    fn begin_submit(&mut self, id: AppId) -> Outcome {
        let a = &mut self.apps[id.0 as usize];
        a.submitting = Some(self.now);
        let attempt = a.submission_attempts + 1;
        let (submit, leader) = (self.plan.stack.operator.submit_time, self.lease.epoch);
        self.at(submit, Ev::SubmitDone { app: id, attempt, leader });
        Outcome::Submitting
    }

    /// spark-submit finished: the driver pod is created, or the submission failed.
    pub(crate) fn submit_done(&mut self, id: AppId, attempt: u32, leader: u32) {
        if leader != self.lease.epoch {
            // The spark-submit died with the old leader's pod.
            return;
        }
        self.op.busy -= 1;
        let a = &mut self.apps[id.0 as usize];
        let Some(started) = a.submitting.take().filter(|_| a.submission_attempts + 1 == attempt) else {
            self.op_done(id);
            self.op_dispatch();
            return;
        };
        a.submission_attempts = attempt;
        a.last_submission = started;
        match self.create_driver(id) {
            Ok(()) => {
                self.apps[id.0 as usize].execution_attempts += 1;
                self.set_state(id, AppState::Submitted, String::new());
            }
            Err(msg) => self.set_state(id, AppState::SubmissionFailed, format!("failed to run spark-submit: {msg}")),
        }
        self.apps[id.0 as usize].rl_failures = 0;
        self.op_done(id);
        self.op_dispatch();
    }

    fn create_driver(&mut self, id: AppId) -> Result<(), String> {
        let a = &self.apps[id.0 as usize];
        let ns = a.app.namespace().to_string();
        let sa = a.app.spec.driver.service_account.clone().unwrap_or_else(|| "default".into());
        let driver_name = podspec::driver_pod_name(&a.app);
        if !self.op.service_accounts.contains(&sa) {
            return Err(format!(
                "pods \"{driver_name}\" is forbidden: error looking up service account {ns}/{sa}: serviceaccount \"{sa}\" not found"
            ));
        }
        let key = format!("{ns}/{driver_name}");
        if self.pod_index.contains_key(&key) {
            return Err(format!("driver pod already exist: pods \"{driver_name}\" already exists (code=409)"));
        }
        let mutated = match self.admission("-v1-pod") {
            Admission::Rejected(msg) => return Err(msg),
            Admission::Mutated => true,
            Admission::Unmutated => false,
        };
        let random: [u8; 38] = self.random_bytes();
        let app = self.apps[id.0 as usize].app.clone();
        let submission = Arc::new(Submission::generate(&app, &random, EPOCH_MS + self.now.as_ms(), mutated));
        let shape = self.shape(id, SparkRole::Driver, mutated)?;
        self.op.runs += 1;
        let run = self.op.runs;
        let from_registry = self.plan.stack.registry.enabled;
        let app_key = self.apps[id.0 as usize].key.clone();
        let pod = self.create_pod(
            key,
            Owner::Driver { app: id, run },
            shape.spec,
            &shape.image,
            from_registry,
            Some(app_key),
            Some(SparkRole::Driver),
            None,
            shape.node_selector,
        );
        let a = &mut self.apps[id.0 as usize];
        a.run = run;
        a.driver = Some(pod);
        self.start_driver(id, run, pod, submission);
        Ok(())
    }

    /// `kubectl patch --type merge` of app specs. A change of anything but `suspend` (or the
    /// TTL) moves the app to INVALIDATING (the event filter does this, not a reconcile). With
    /// the webhook down and failurePolicy Fail the update is rejected.
    pub(crate) fn patch_apps(&mut self, sel: &sparkrig_model::scenario::AppSel, patch: &serde_json::Value) -> String {
        let ids: Vec<AppId> =
            (0..self.apps.len()).map(|i| AppId(i as u32)).filter(|id| sel.matches(&self.apps[id.0 as usize].key)).collect();
        if let Admission::Rejected(msg) = self.admission("sparkoperator-k8s-io-v1beta2-sparkapplication") {
            return format!("{} update(s) rejected: {msg}", ids.len());
        }
        for id in &ids {
            let a = &self.apps[id.0 as usize];
            let mut json = a.app.to_json();
            let before = json["spec"].clone();
            sparkrig_model::scenario::merge_patch(&mut json["spec"], patch);
            let Ok(app) = serde_json::from_value::<SparkApplication>(json.clone()) else { continue };
            let strip = |mut v: serde_json::Value| {
                if let Some(o) = v.as_object_mut() {
                    o.remove("suspend");
                    o.remove("timeToLiveSeconds");
                }
                v
            };
            let invalidates = strip(before) != strip(json["spec"].clone());
            let a = &mut self.apps[id.0 as usize];
            a.app = Arc::new(app);
            a.patched |= invalidates;
            if !a.watched {
                continue;
            }
            if invalidates && a.state != AppState::Invalidating {
                self.set_state(*id, AppState::Invalidating, "spec changed".into());
            } else {
                self.op_enqueue(*id);
            }
        }
        format!("patched {} app(s)", ids.len())
    }

    /// A driver pod was created, changed phase or started terminating.
    pub(crate) fn driver_pod_changed(&mut self, app: AppId, run: u32, pod: PodId) {
        if self.apps[app.0 as usize].run == run {
            self.op_enqueue(app);
        }
        self.driver_lifecycle(app, run, pod);
    }

    /// A driver pod object is gone.
    pub(crate) fn driver_pod_gone(&mut self, app: AppId, run: u32, _pod: PodId) {
        self.driver_gc(app, run);
        if self.apps[app.0 as usize].run == run {
            self.op_enqueue(app);
        }
    }
}
