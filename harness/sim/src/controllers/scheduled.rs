//! The Spark Operator's ScheduledSparkApplication controller
//! (`internal/controller/scheduledsparkapplication/controller.go`, v2.5.2), per
//! reference/platform-ops.md §1.4–1.8:
//!
//! - a new object gets `nextRun = Next(now)` and state `Scheduled`; the controller requeues
//!   itself for `nextRun` (it watches only ScheduledSparkApplications: a child finishing never
//!   wakes it);
//! - when a run is due it lists the children (label `sparkoperator.k8s.io/scheduled-app-name`)
//!   and asks the concurrency policy about the newest: `Allow` starts, `Forbid` starts only if
//!   it is COMPLETED or FAILED, `Replace` deletes it (grace 0) and starts, anything else starts
//!   nothing while a child exists; a run that does not start leaves `nextRun` in the past and
//!   the next check is at the following tick;
//! - a run creates `<name>-<timestamp>` (nanoseconds by default) through the SparkApplication
//!   webhooks, stamps `lastRun` with the controller's `now`, advances `nextRun`, and prunes
//!   COMPLETED and FAILED children beyond the history limits (default 1 each, grace 0);
//! - at most one run per reconcile: no catch-up after downtime; `suspend` returns at once.
//!
//! It runs in the operator's controller process: nothing happens without a leader, and a new
//! leader's initial list reconciles every object. Its workqueue is its own (controller-runtime
//! gives each controller one): 5 ms per-item exponential rate limiting, requeues keeping the
//! earliest due time.
//!
//! Inputs: its own [`Ev`]s; [`ScheduledApps::create`], [`ScheduledApps::elected`]. Outputs:
//! SparkApplications through the API, `scheduled_app_*` trace events.

use std::sync::Arc;

use sparkrig_model::appstate::AppState;
use sparkrig_model::scenario::Work;
use sparkrig_model::schedule::rfc3339;
use sparkrig_model::scheduled::{ConcurrencyPolicy, SCHEDULED_APP_LABEL, ScheduledApp, TimestampPrecision};
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::Event;

use super::shapes::EPOCH_MS;
use crate::api::{Cx, Key, controller};
use crate::store::{AppId, Store};

/// The controller's timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    /// A queued reconcile of a ScheduledSparkApplication is due.
    Reconcile {
        /// Index in the store.
        ssa: usize,
    },
}

/// `status.scheduleState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleState {
    /// `""`.
    New,
    /// `Scheduled`.
    Scheduled,
    /// `FailedValidation` (sticky, §1.7).
    FailedValidation,
}

/// A ScheduledSparkApplication object with its status.
#[derive(Debug)]
pub struct ScheduledState {
    /// `namespace/name`.
    pub key: String,
    /// Spec.
    pub spec: Arc<ScheduledApp>,
    /// What each child computes (simulator).
    pub work: Work,
    /// In a namespace the operator watches.
    pub watched: bool,
    /// `scheduleState`.
    pub state: ScheduleState,
    /// `reason`.
    pub reason: String,
    /// `nextRun`, Unix ms.
    pub next_run: Option<u64>,
    /// `lastRun`, Unix ms.
    pub last_run: Option<u64>,
    /// `lastRunName`.
    pub last_run_name: String,
    /// `pastSuccessfulRunNames`.
    pub past_successful: Vec<String>,
    /// `pastFailedRunNames`.
    pub past_failed: Vec<String>,
}

/// The controller's workqueue.
#[derive(Debug, Default)]
pub struct ScheduledApps {
    /// Per object: when its queued reconcile is due.
    due: Vec<Option<Time>>,
    /// Per object: rate limiter failures (reset on success).
    failures: Vec<u32>,
    /// Child name timestamps.
    precision: TimestampPrecision,
}

controller!(ScheduledApps, Ev, Scheduled);

/// The controller-runtime per-item rate limiter's base delay (5 ms, doubling; reference/
/// platform-ops.md §1.4, `pkg/util/workqueue.go`).
const BASE_DELAY: Dur = Dur::ms(5);

fn unix_ms(now: Time) -> u64 {
    EPOCH_MS + now.as_ms()
}

impl ScheduledApps {
    /// Handles one of its timers.
    pub fn handle(cx: &mut impl Cx<ScheduledApps>, ev: Ev) {
        match ev {
            Ev::Reconcile { ssa } => {
                let now = cx.now();
                if cx.me().due[ssa] != Some(now) {
                    return;
                }
                cx.me().due[ssa] = None;
                if cx.store().controller_serving() {
                    Self::reconcile(cx, ssa);
                }
            }
        }
    }

    /// A ScheduledSparkApplication is created (its webhooks admit it).
    pub fn create(cx: &mut impl Cx<ScheduledApps>, spec: ScheduledApp, work: Work) -> usize {
        let key = spec.key();
        let watched = cx.plan().stack.operator.watches(&spec.namespace);
        cx.emit(Event::ScheduledAppCreated {
            app: key.clone(),
            schedule: spec.schedule.clone(),
            concurrency_policy: spec.concurrency.name().to_string(),
        });
        let store = cx.store_mut();
        store.scheduled.push(ScheduledState {
            key,
            spec: Arc::new(spec),
            work,
            watched,
            state: ScheduleState::New,
            reason: String::new(),
            next_run: None,
            last_run: None,
            last_run_name: String::new(),
            past_successful: Vec::new(),
            past_failed: Vec::new(),
        });
        let i = store.scheduled.len() - 1;
        let me = cx.me();
        me.due.push(None);
        me.failures.push(0);
        if watched {
            Self::add_rate_limited(cx, i);
        }
        i
    }

    /// A new operator leader: its informers list every object (§1.7: one run at restart for
    /// the ticks missed).
    pub fn elected(cx: &mut impl Cx<ScheduledApps>) {
        for i in 0..cx.store().scheduled.len() {
            if cx.store().scheduled[i].watched {
                Self::add_rate_limited(cx, i);
            }
        }
    }

    /// `AddRateLimited`: 5 ms × 2^failures.
    fn add_rate_limited(cx: &mut impl Cx<ScheduledApps>, i: usize) {
        let f = cx.me().failures[i];
        cx.me().failures[i] = f + 1;
        Self::requeue_after(cx, i, BASE_DELAY.times(1 << f.min(30)));
    }

    /// `AddAfter`: the queue keeps the earliest due time.
    fn requeue_after(cx: &mut impl Cx<ScheduledApps>, i: usize, after: Dur) {
        let at = cx.now() + after;
        if cx.me().due[i].is_some_and(|d| d <= at) {
            return;
        }
        cx.me().due[i] = Some(at);
        cx.cancel(Key::Scheduled(i));
        cx.at_keyed(Key::Scheduled(i), after, Ev::Reconcile { ssa: i });
    }

    /// `Reconcile`, with controller-runtime's handling of its result.
    fn reconcile(cx: &mut impl Cx<ScheduledApps>, i: usize) {
        let s = &cx.store().scheduled[i];
        if s.spec.suspend || s.state == ScheduleState::FailedValidation {
            cx.me().failures[i] = 0;
            return;
        }
        let sched = match &s.spec.parsed {
            Ok(p) => p.clone(),
            Err(reason) => {
                let reason = reason.clone();
                let s = &mut cx.store_mut().scheduled[i];
                s.state = ScheduleState::FailedValidation;
                s.reason = reason;
                Self::write_status(cx, i);
                return;
            }
        };
        let now_ms = unix_ms(cx.now());
        let next = |t: u64| sched.next(t);
        let until = |t: Option<u64>| Dur::ms(t.map_or(3_600_000, |t| t.saturating_sub(now_ms)));
        if s.state == ScheduleState::New {
            let n = next(now_ms);
            let s = &mut cx.store_mut().scheduled[i];
            if s.next_run.is_none() || n.is_some_and(|n| Some(n) < s.next_run) {
                s.next_run = n;
            }
            s.state = ScheduleState::Scheduled;
            Self::write_status(cx, i);
            cx.me().failures[i] = 0;
            Self::requeue_after(cx, i, until(n));
            return;
        }
        let Some(next_run) = s.next_run else {
            let n = next(now_ms);
            cx.store_mut().scheduled[i].next_run = n;
            Self::write_status(cx, i);
            Self::requeue_after(cx, i, until(n));
            return;
        };
        if next_run > now_ms {
            Self::requeue_after(cx, i, Dur::ms(next_run - now_ms));
            return;
        }
        if let Err(why) = Self::should_start_next_run(cx, i) {
            let app = cx.store().scheduled[i].key.clone();
            cx.emit(Event::ScheduledRunSkipped { app, due: rfc3339(now_ms), reason: why });
            Self::requeue_after(cx, i, until(next(now_ms)));
            return;
        }
        let s = &cx.store().scheduled[i];
        let child = s.spec.child(now_ms, cx.me_ref().precision);
        let (work, key) = (s.work, s.key.clone());
        let name = child.metadata.name.clone();
        if cx.create_app(child, work, None, Some(key)).is_err() {
            // `return (RequeueAfter, err)`: the error wins, a rate-limited retry.
            Self::add_rate_limited(cx, i);
            return;
        }
        let n = next(now_ms);
        let s = &mut cx.store_mut().scheduled[i];
        s.last_run = Some(now_ms);
        s.last_run_name = name;
        s.next_run = n;
        Self::prune(cx, i);
        Self::write_status(cx, i);
        cx.me().failures[i] = 0;
        Self::requeue_after(cx, i, until(n));
    }

    /// The children: apps of the namespace labelled with the scheduled app's name.
    fn children(store: &Store, i: usize) -> Vec<AppId> {
        let s = &store.scheduled[i];
        (0..store.apps.len() as u32)
            .map(AppId)
            .filter(|id| {
                let a = store.app(*id);
                !a.deleted
                    && a.app.namespace() == s.spec.namespace
                    && a.app.metadata.labels.get(SCHEDULED_APP_LABEL).is_some_and(|v| *v == s.spec.name)
            })
            .collect()
    }

    /// `shouldStartNextRun`: `Err` says why not.
    fn should_start_next_run(cx: &mut impl Cx<ScheduledApps>, i: usize) -> Result<(), String> {
        let store = cx.store();
        let children = Self::children(store, i);
        // The newest by creationTimestamp (list order breaks ties).
        let Some(last) = children.iter().copied().max_by_key(|id| store.app(*id).created) else { return Ok(()) };
        let a = store.app(last);
        let (finished, state, name) = (a.state.is_terminal(), a.state, a.app.metadata.name.clone());
        let policy = cx.store().scheduled[i].spec.concurrency.clone();
        match policy {
            ConcurrencyPolicy::Allow => Ok(()),
            ConcurrencyPolicy::Forbid if finished => Ok(()),
            ConcurrencyPolicy::Forbid => Err(format!("concurrencyPolicy Forbid: the last run {name} is {state}")),
            ConcurrencyPolicy::Replace => {
                if !finished {
                    cx.delete_app(last);
                }
                Ok(())
            }
            ConcurrencyPolicy::Other(p) => Err(format!(
                "concurrencyPolicy {p:?} is none of Allow, Forbid, Replace: no run starts while a child exists (the last run {name} is {state})"
            )),
        }
    }

    /// `checkAndUpdatePastRuns`: keep the newest COMPLETED / FAILED children up to the history
    /// limits, delete the rest.
    fn prune(cx: &mut impl Cx<ScheduledApps>, i: usize) {
        let store = cx.store();
        let spec = store.scheduled[i].spec.clone();
        let children = Self::children(store, i);
        let mut delete = Vec::new();
        let mut kept = Vec::new();
        for (state, limit) in [(AppState::Completed, spec.successful_history), (AppState::Failed, spec.failed_history)] {
            let mut set: Vec<AppId> = children.iter().copied().filter(|id| store.app(*id).state == state).collect();
            let limit = limit.unwrap_or(1).max(0) as usize;
            if set.len() > limit {
                // Newest first.
                set.sort_by_key(|id| std::cmp::Reverse(store.app(*id).created));
                delete.extend(set.split_off(limit));
            }
            kept.push(set.iter().map(|id| store.app(*id).app.metadata.name.clone()).collect::<Vec<_>>());
        }
        for id in delete {
            cx.delete_app(id);
        }
        let s = &mut cx.store_mut().scheduled[i];
        s.past_failed = kept.pop().unwrap_or_default();
        s.past_successful = kept.pop().unwrap_or_default();
    }

    fn write_status(cx: &mut impl Cx<ScheduledApps>, i: usize) {
        let s = &cx.store().scheduled[i];
        let ev = Event::ScheduledAppStatus {
            app: s.key.clone(),
            state: match s.state {
                ScheduleState::New => "",
                ScheduleState::Scheduled => "Scheduled",
                ScheduleState::FailedValidation => "FailedValidation",
            }
            .to_string(),
            reason: s.reason.clone(),
            last_run: s.last_run.map(rfc3339).unwrap_or_default(),
            last_run_name: s.last_run_name.clone(),
            next_run: s.next_run.map(rfc3339).unwrap_or_default(),
            past_successful_run_names: s.past_successful.clone(),
            past_failed_run_names: s.past_failed.clone(),
        };
        cx.emit(ev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Ev as AnyEv;
    use crate::store::Kind;
    use crate::testing::{Fake, nodes, scenario, serving};

    /// hourly-batches' `0 * * * *`, Forbid, created at t=0 with the operator serving: the first
    /// reconcile (5 ms, the rate limiter's base delay) sets nextRun to 01:00 and requeues for it;
    /// at 01:00 the child `hourly-report-<UnixNano>` is created and nextRun moves to 02:00; at
    /// 02:00 that child is still running, so Forbid skips the run (nextRun stays in the past) and
    /// the controller looks again at the following tick, 03:00.
    #[test]
    fn hourly_forbid_runs_on_the_hour_and_skips_while_the_last_run_is_running() {
        let plan = scenario("hourly-batches.yaml");
        let mut f = Fake::new(ScheduledApps::default(), &plan);
        let n = nodes(&mut f, "infra", 1)[0];
        let leader = serving(&mut f, Kind::Controller, n);
        f.store.lease.holder = Some(leader);
        serving(&mut f, Kind::Webhook, n);
        let t = &plan.scheduled[0];
        let i = ScheduledApps::create(&mut f, t.app.renamed("hourly-report"), t.work);
        assert_eq!(f.timers(), [(5, AnyEv::Scheduled(Ev::Reconcile { ssa: i }))]);

        let hour = 3_600_000u64;
        f.advance(Dur::ms(5));
        f.clear();
        ScheduledApps::handle(&mut f, Ev::Reconcile { ssa: i });
        assert_eq!(f.store.scheduled[i].state, ScheduleState::Scheduled);
        assert_eq!(f.store.scheduled[i].next_run, Some(EPOCH_MS + hour));
        assert_eq!(f.timers(), [(hour, AnyEv::Scheduled(Ev::Reconcile { ssa: i }))], "requeued for 01:00");

        f.advance(Dur::ms(hour - 5));
        f.clear();
        ScheduledApps::handle(&mut f, Ev::Reconcile { ssa: i });
        let child = format!("hourly-report-{}", u128::from(EPOCH_MS + hour) * 1_000_000);
        assert_eq!(f.store.apps.len(), 1);
        assert_eq!(f.store.apps[0].app.metadata.name, child);
        let s = &f.store.scheduled[i];
        assert_eq!((s.last_run, s.next_run, s.last_run_name.as_str()), (Some(EPOCH_MS + hour), Some(EPOCH_MS + 2 * hour), child.as_str()));
        assert_eq!(f.timers(), [(2 * hour, AnyEv::Scheduled(Ev::Reconcile { ssa: i }))]);

        f.advance(Dur::ms(hour));
        f.clear();
        ScheduledApps::handle(&mut f, Ev::Reconcile { ssa: i });
        assert_eq!(f.store.apps.len(), 1, "no second run while the first is not finished");
        assert!(f.trace().contains(&"scheduled_run_skipped default/hourly-report".to_string()), "{:?}", f.trace());
        assert_eq!(f.store.scheduled[i].next_run, Some(EPOCH_MS + 2 * hour), "nextRun stays in the past");
        assert_eq!(f.timers(), [(3 * hour, AnyEv::Scheduled(Ev::Reconcile { ssa: i }))], "looks again at the next tick");
    }
}
