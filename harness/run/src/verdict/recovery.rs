//! Recovery: after a fault is healed, every app unfinished at that moment progresses within
//! the bound — it completes, or one of its executors starts after the heal and keeps running
//! for [`PROGRESS_HOLD`] (it registered with its driver and takes tasks).

use std::collections::BTreeMap;

use sparkrig_model::appstate::AppState;
use sparkrig_model::podspec::SparkRole;
use sparkrig_model::scenario::AppSel;
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::{Event, Record, Text, TraceView};

use super::{Check, Evidence, Facts, Tally, explain};

/// An executor that keeps running this long has registered with its driver and is taking tasks.
const PROGRESS_HOLD: Dur = Dur::secs(30);

/// One recovery expectation.
pub struct Recovery {
    fault: String,
    within: Dur,
    apps: AppSel,
    /// Per heal, the apps still unfinished then and when each first progressed.
    heals: Vec<(Time, BTreeMap<String, Option<Time>>)>,
    /// Executors started after a heal, credited once they have run for [`PROGRESS_HOLD`]:
    /// (app, pod, started).
    starts: Vec<(Text, Text, Time)>,
}

impl Recovery {
    /// Recovery from `fault` within `within` for the selected apps.
    pub fn new(fault: String, within: Dur, apps: AppSel) -> Recovery {
        Recovery { fault, within, apps, heals: Vec::new(), starts: Vec::new() }
    }

    /// Credits executors that have kept running for [`PROGRESS_HOLD`] (or, at the end of the
    /// run, are still running) as progress at their start; drops those that stopped.
    fn credit_starts(&mut self, view: &TraceView, now: Time, at_end: bool) {
        let mut keep = Vec::new();
        for (app, pod, started) in std::mem::take(&mut self.starts) {
            let alive = view
                .pods
                .get(&*pod)
                .is_some_and(|p| p.running == Some(started) && p.ended.is_none() && p.terminating.is_none() && p.deleted.is_none());
            if !alive {
                continue;
            }
            if at_end || now - started >= PROGRESS_HOLD {
                for (healed, apps) in &mut self.heals {
                    if started >= *healed
                        && let Some(slot @ None) = apps.get_mut(&*app)
                    {
                        *slot = Some(started);
                    }
                }
            } else {
                keep.push((app, pod, started));
            }
        }
        self.starts = keep;
    }
}

impl Check for Recovery {
    fn app_state(&mut self, t: Time, app: &str, _prev: AppState, state: AppState, _message: &str, _tally: &mut Tally) {
        if matches!(state, AppState::Succeeding | AppState::Completed) {
            for (_, apps) in &mut self.heals {
                if let Some(slot @ None) = apps.get_mut(app) {
                    *slot = Some(t);
                }
            }
        }
    }

    fn record(&mut self, rec: &Record, facts: &Facts, _tally: &mut Tally) {
        let view = &facts.view;
        if !self.starts.is_empty() {
            self.credit_starts(view, rec.t, false);
        }
        match &rec.event {
            Event::FaultHealed { fault, .. } if *fault == self.fault => {
                let unfinished =
                    view.apps.iter().filter(|(k, a)| !a.state.is_terminal() && self.apps.matches(k)).map(|(k, _)| (k.clone(), None));
                self.heals.push((rec.t, unfinished.collect()));
            }
            Event::PodRunning { pod } => {
                if let Some(p) = view.pods.get(pod.as_str())
                    && p.role == Some(SparkRole::Executor)
                    && let Some(app) = &p.app
                    && self.heals.iter().any(|(_, apps)| apps.get(&**app) == Some(&None))
                {
                    self.starts.push((app.clone(), Text::from(pod.as_str()), rec.t));
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, facts: &Facts, tally: &mut Tally) -> (bool, String) {
        let view = &facts.view;
        self.credit_starts(view, view.now, true);
        let (fault, within) = (&self.fault, self.within);
        if self.heals.is_empty() {
            tally.violate(Evidence::general(format!("fault {fault} was never healed")));
            return (false, format!("{fault} was never healed"));
        }
        let mut worst = Dur::ZERO;
        let mut apps = 0;
        for (healed, progress) in std::mem::take(&mut self.heals) {
            for (app, at) in progress {
                apps += 1;
                match at {
                    Some(t) if t - healed <= within => worst = worst.max(t - healed),
                    Some(t) => tally.violate(Evidence::app(
                        Some(t),
                        &app,
                        format!("first progressed {} after {fault} was healed at {healed}", t - healed),
                    )),
                    None => {
                        let mut detail = format!("no progress after {fault} was healed");
                        if let Some(state) = view.apps.get(&app).map(|a| a.state) {
                            detail.push_str(&format!(" (still {state})"));
                        }
                        tally.violate(Evidence::app(Some(healed), &app, detail));
                        for x in explain::app(view, &app) {
                            tally.note(x);
                        }
                    }
                }
            }
        }
        if tally.violations == 0 {
            (true, format!("{apps} unfinished app(s) progressed (an executor at work, or done) within {worst} of the heal"))
        } else {
            (false, format!("{} of {apps} unfinished app(s) did not progress within {within}", tally.violations))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use sparkrig_model::appstate::AppState;
    use sparkrig_model::podspec::SparkRole;
    use sparkrig_model::scenario::{AppSel, Expectation};
    use sparkrig_model::time::Dur;
    use sparkrig_model::trace::Event;

    fn recovery(within: u64) -> Expectation {
        Expectation::Recovery { fault: "coredns-down".into(), within: Dur::secs(within), apps: AppSel::All }
    }

    #[test]
    fn an_executor_counts_as_progress_at_its_start_once_it_kept_running_30s() {
        let healed = Event::FaultHealed { fault: "coredns-down".into(), target: String::new() };
        let recs = [
            at(0, Event::AppCreated { app: "default/a".into(), executors: 1, scheduled_by: None }),
            at(1, state("default/a", AppState::Running, "")),
            at(100, healed),
            at(110, spark_pod("default/a-exec-1", "default/a", SparkRole::Executor)),
            // A first executor that dies within 30 s does not count...
            at(112, Event::PodRunning { pod: "default/a-exec-1".into() }),
            at(120, ended("default/a-exec-1", 1, "Error", "UnknownHostException")),
            at(125, spark_pod("default/a-exec-2", "default/a", SparkRole::Executor)),
            // ...the next one, started 27 s after the heal, does once it has run 30 s.
            at(127, Event::PodRunning { pod: "default/a-exec-2".into() }),
            at(160, state("default/a", AppState::Running, "")),
        ];
        let o = judge(recovery(30), &recs);
        assert!(o.passed, "{}", o.message);
        assert_eq!(o.message, "1 unfinished app(s) progressed (an executor at work, or done) within 27s of the heal");
        let o = judge(recovery(20), &recs);
        assert!(!o.passed);
        assert_eq!(o.evidence[0].detail, "first progressed 27s after coredns-down was healed at t=0:01:40");
    }

    #[test]
    fn a_fault_never_healed_fails_recovery() {
        let o = judge(recovery(60), &[at(0, Event::AppCreated { app: "default/a".into(), executors: 1, scheduled_by: None })]);
        assert_eq!((o.passed, o.message.as_str()), (false, "coredns-down was never healed"));
    }
}
