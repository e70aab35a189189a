//! The scenario timeline as a state machine, the same for every backend: arrivals at their
//! times, steps in order, waits checked against the trace view.
//!
//! Entry point: [`Timeline`]. It does no I/O and keeps no clock: a backend feeds it
//! "started" ([`Timeline::start`]), "a timer fired" ([`Timeline::on_timer`]), "the view
//! changed" ([`Timeline::on_view_changed`]) and "an action completed"
//! ([`Timeline::completed`]), and carries out the [`Effect`]s it returns, in order: the
//! simulator turns timers into events in virtual time, the kube backend into real (or a
//! `sparkrig serve` server's) time. Every message a timeline writes into a trace comes from
//! here, so backends cannot drift apart.
//!
//! ```
//! # use sparkrig_model::timeline::{Effect, Timeline, Timer};
//! # use sparkrig_model::trace::TraceView;
//! # let scenario = sparkrig_model::scenario::load_str("t.yaml", "name: t\ntopology: {name: t, nodegroups: [{name: g, count: 1, shape: {cpu: 4, memory: 8Gi}}]}\nsteps: [{sleep: 1m}]\nexpect: {outcomes: [{apps: all, state: COMPLETED}]}\n", std::path::Path::new("."), &sparkrig_model::scenario::MemFiles::default(), None).unwrap();
//! let mut tl = Timeline::new(&scenario);
//! let view = TraceView::default();
//! let fx = tl.start();
//! assert!(matches!(fx.last(), Some(Effect::Arm { timer: Timer::StepStart(0), .. })));
//! let fx = tl.on_timer(Timer::StepStart(0), &view);
//! assert!(matches!(fx.last(), Some(Effect::Arm { timer: Timer::StepDone(0), .. })));
//! let fx = tl.on_timer(Timer::StepDone(0), &view);
//! assert!(matches!(fx.last(), Some(Effect::Finish(r)) if r == "timeline complete"));
//! ```

use std::collections::BTreeSet;

use crate::faults::Fault;
use crate::scenario::{AppSel, Condition, Scenario, Step};
use crate::time::Dur;
use crate::trace::{Event, TraceView};
use crate::upgrade::Upgrade;

/// A timer the timeline asks its backend to arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// Arrival `i` of the scenario is due.
    Arrival(usize),
    /// Step `i` starts (the first step, at t=0).
    StepStart(usize),
    /// Sleep step `i` is over.
    StepDone(usize),
    /// Wait step `i` ran out of time.
    WaitTimeout(usize),
    /// ScheduledSparkApplication arrival `i` is due.
    ScheduledArrival(usize),
}

/// What a backend must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Record a trace event now.
    Emit(Event),
    /// Fire `timer` `after` from now.
    Arm {
        /// Which.
        timer: Timer,
        /// When, from now.
        after: Dur,
    },
    /// Create a SparkApplication from a template under a name (an arrival; a refusal is the
    /// backend's `app_rejected`, not a step failure).
    CreateApp {
        /// Template index.
        template: usize,
        /// Name.
        name: String,
    },
    /// Create a ScheduledSparkApplication from a scheduled template under a name.
    CreateScheduled {
        /// Index in the scenario's `scheduled`.
        template: usize,
        /// Name.
        name: String,
    },
    /// Create these SparkApplications (a submit step), then report [`Timeline::completed`].
    Submit {
        /// Template index.
        template: usize,
        /// Names.
        names: Vec<String>,
    },
    /// Inject a fault, then report [`Timeline::completed`].
    Inject(Fault),
    /// Heal a fault by id, then report [`Timeline::completed`].
    Heal(String),
    /// Merge-patch the spec of the selected apps, then report [`Timeline::completed`] with
    /// [`patched`] or [`patch_rejected`].
    Patch {
        /// Apps.
        apps: AppSel,
        /// JSON merge patch of `spec`.
        spec: serde_json::Value,
    },
    /// Start an upgrade, then report [`Timeline::completed`] when it has finished (`Err` when it
    /// was refused or failed).
    Upgrade(Upgrade),
    /// The run is over for this reason.
    Finish(String),
}

/// The reason a run stops when its last step is done.
pub const TIMELINE_COMPLETE: &str = "timeline complete";

/// The reason a run stops at its `maxDuration`.
pub fn max_duration_reached(d: Dur) -> String {
    format!("maxDuration {d} reached")
}

/// A patch step's message when every update was accepted.
pub fn patched(apps: usize) -> String {
    format!("patched {apps} app(s)")
}

/// A patch step's failure when no app of the run matches its selector at that moment (the
/// apps it names arrive later, or were rejected): it changed nothing, so it fails.
pub fn patch_matched_nothing(apps: &AppSel) -> String {
    format!("no app of this run matches {apps} (none exists yet, or it was rejected or deleted): nothing was patched")
}

/// A patch step's message when updates were refused (`why`: the API server's answers).
pub fn patch_rejected(refused: usize, why: &str) -> String {
    format!("{refused} update(s) rejected: {why}")
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    /// Before start, or between instantaneous steps.
    Idle,
    /// Sleep step in progress.
    Sleeping(usize),
    /// Wait step in progress.
    Waiting { step: usize, condition: Condition, timeout: Dur },
    /// An action (submit, inject, heal, patch) was handed to the backend.
    Acting(usize),
    /// Finished.
    Done,
}

/// The timeline of one run.
#[derive(Debug, Clone)]
pub struct Timeline {
    steps: Vec<Step>,
    arrivals: Vec<(Dur, usize, String)>,
    scheduled_arrivals: Vec<(Dur, usize, String)>,
    /// `namespace` of each template.
    namespaces: Vec<String>,
    state: State,
    expected: BTreeSet<String>,
}

impl Timeline {
    /// The timeline of `s`.
    pub fn new(s: &Scenario) -> Timeline {
        let namespaces: Vec<String> = s.templates.iter().map(|t| t.app.namespace().to_string()).collect();
        Timeline {
            steps: s.steps.clone(),
            arrivals: s.arrivals.iter().map(|a| (a.at.since(crate::time::Time::ZERO), a.template, a.name.clone())).collect(),
            scheduled_arrivals: s
                .scheduled_arrivals
                .iter()
                .map(|a| (a.at.since(crate::time::Time::ZERO), a.template, a.name.clone()))
                .collect(),
            expected: s.arrivals.iter().map(|a| format!("{}/{}", namespaces[a.template], a.name)).collect(),
            namespaces,
            state: State::Idle,
        }
    }

    /// The apps the scenario has created or will create (`namespace/name`): arrivals and the
    /// submit steps started so far.
    pub fn expected(&self) -> &BTreeSet<String> {
        &self.expected
    }

    /// The apps a wait looks at: the expected ones and the ScheduledSparkApplications'
    /// children that exist.
    fn expected_in(&self, view: &TraceView) -> std::borrow::Cow<'_, BTreeSet<String>> {
        if view.children.is_empty() {
            std::borrow::Cow::Borrowed(&self.expected)
        } else {
            std::borrow::Cow::Owned(self.expected.union(&view.children).cloned().collect())
        }
    }

    /// Whether the timeline has finished.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The step in progress, if any.
    pub fn current_step(&self) -> Option<usize> {
        match &self.state {
            State::Sleeping(s) | State::Acting(s) => Some(*s),
            State::Waiting { step, .. } => Some(*step),
            State::Idle | State::Done => None,
        }
    }

    /// At t=0: every arrival's timer, then the first step's (or the end, with no steps).
    pub fn start(&mut self) -> Vec<Effect> {
        let mut fx: Vec<Effect> =
            self.arrivals.iter().enumerate().map(|(i, (at, ..))| Effect::Arm { timer: Timer::Arrival(i), after: *at }).collect();
        fx.extend(
            self.scheduled_arrivals.iter().enumerate().map(|(i, (at, ..))| Effect::Arm { timer: Timer::ScheduledArrival(i), after: *at }),
        );
        if self.steps.is_empty() {
            self.state = State::Done;
            fx.push(Effect::Finish("no steps".into()));
        } else {
            fx.push(Effect::Arm { timer: Timer::StepStart(0), after: Dur::ZERO });
        }
        fx
    }

    /// A timer fired. Timers of steps no longer in progress are ignored.
    pub fn on_timer(&mut self, timer: Timer, view: &TraceView) -> Vec<Effect> {
        let mut fx = Vec::new();
        match timer {
            Timer::Arrival(i) => {
                let (_, template, name) = &self.arrivals[i];
                fx.push(Effect::CreateApp { template: *template, name: name.clone() });
            }
            Timer::ScheduledArrival(i) => {
                let (_, template, name) = &self.scheduled_arrivals[i];
                fx.push(Effect::CreateScheduled { template: *template, name: name.clone() });
            }
            Timer::StepStart(i) if self.state == State::Idle => self.start_step(i, view, &mut fx),
            Timer::StepDone(i) if self.state == State::Sleeping(i) => self.step_done(i, String::new(), view, &mut fx),
            Timer::WaitTimeout(i) => {
                if let State::Waiting { step, condition, timeout } = &self.state
                    && *step == i
                {
                    let why = condition.check(view, &self.expected_in(view)).err().unwrap_or_default();
                    let message = format!("timed out after {timeout} waiting for {condition}: {why}");
                    fx.push(Effect::Emit(Event::StepEnded { step: i, ok: false, message }));
                    self.finish(format!("step {} timed out", i + 1), &mut fx);
                }
            }
            _ => {}
        }
        fx
    }

    /// The trace view changed: a wait whose condition now holds completes.
    pub fn on_view_changed(&mut self, view: &TraceView) -> Vec<Effect> {
        let mut fx = Vec::new();
        if let State::Waiting { step, condition, .. } = &self.state
            && condition.holds(view, &self.expected_in(view))
        {
            let step = *step;
            self.step_done(step, String::new(), view, &mut fx);
        }
        fx
    }

    /// The action of the step in progress (submit, inject, heal, patch, upgrade) completed: `Ok(message)` ends
    /// the step and starts the next; `Err(message)` fails it and ends the run.
    pub fn completed(&mut self, outcome: Result<String, String>, view: &TraceView) -> Vec<Effect> {
        let mut fx = Vec::new();
        let State::Acting(step) = self.state else { return fx };
        match outcome {
            Ok(message) => self.step_done(step, message, view, &mut fx),
            Err(message) => {
                fx.push(Effect::Emit(Event::StepEnded { step, ok: false, message }));
                self.finish(format!("step {} failed", step + 1), &mut fx);
            }
        }
        fx
    }

    /// The backend stops the run (Ctrl-C, SIGTERM, `maxDuration`): the step in progress ends
    /// as failed with `message`, and the run with `reason`.
    pub fn interrupt(&mut self, message: &str, reason: String) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.state == State::Done {
            return fx;
        }
        if let Some(step) = self.current_step() {
            fx.push(Effect::Emit(Event::StepEnded { step, ok: false, message: message.to_string() }));
        }
        self.finish(reason, &mut fx);
        fx
    }

    fn finish(&mut self, reason: String, fx: &mut Vec<Effect>) {
        self.state = State::Done;
        fx.push(Effect::Finish(reason));
    }

    fn start_step(&mut self, i: usize, view: &TraceView, fx: &mut Vec<Effect>) {
        let step = self.steps[i].clone();
        fx.push(Effect::Emit(Event::StepStarted { step: i, what: step.describe() }));
        match step {
            Step::Sleep(d) => {
                self.state = State::Sleeping(i);
                fx.push(Effect::Arm { timer: Timer::StepDone(i), after: d });
            }
            Step::Submit { template, names } => {
                for name in &names {
                    self.expected.insert(format!("{}/{name}", self.namespaces[template]));
                }
                self.state = State::Acting(i);
                fx.push(Effect::Submit { template, names });
            }
            Step::Wait { condition, timeout } => {
                fx.push(Effect::Arm { timer: Timer::WaitTimeout(i), after: timeout });
                if condition.holds(view, &self.expected_in(view)) {
                    self.step_done(i, String::new(), view, fx);
                } else {
                    self.state = State::Waiting { step: i, condition, timeout };
                }
            }
            Step::Inject(fault) => {
                self.state = State::Acting(i);
                fx.push(Effect::Inject(fault));
            }
            Step::Heal(id) => {
                self.state = State::Acting(i);
                fx.push(Effect::Heal(id));
            }
            Step::Patch { apps, spec } => {
                self.state = State::Acting(i);
                fx.push(Effect::Patch { apps, spec });
            }
            Step::Upgrade(u) => {
                self.state = State::Acting(i);
                fx.push(Effect::Upgrade(u));
            }
        }
    }

    fn step_done(&mut self, i: usize, message: String, view: &TraceView, fx: &mut Vec<Effect>) {
        fx.push(Effect::Emit(Event::StepEnded { step: i, ok: true, message }));
        self.state = State::Idle;
        if i + 1 < self.steps.len() {
            self.start_step(i + 1, view, fx);
        } else {
            self.finish(TIMELINE_COMPLETE.into(), fx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appstate::AppState;
    use crate::scenario::{MemFiles, load_str};
    use crate::time::Time;
    use crate::trace::Record;

    const APP: &str = "apiVersion: sparkoperator.k8s.io/v1beta2\nkind: SparkApplication\nmetadata: {name: x, namespace: default}\n\
        spec: {type: Scala, mode: cluster, image: 'spark:3.5.6', mainClass: Pi, mainApplicationFile: 'local:///opt/spark/examples/jars/e.jar', \
        sparkVersion: 3.5.6, restartPolicy: {type: Never}, driver: {cores: 1, memory: 1g}, executor: {cores: 1, instances: 1, memory: 1g}}\n";

    fn scenario(steps: &str, workload: &str) -> Scenario {
        let text = format!(
            "name: t\ntopology: {{name: t, nodegroups: [{{name: g, count: 1, shape: {{cpu: 4, memory: 8Gi}}}}]}}\n{workload}expect: {{outcomes: [{{apps: all, state: COMPLETED}}]}}\nsteps:\n{steps}"
        );
        let files = MemFiles::default().with("app.yaml", APP);
        load_str("t.yaml", &text, std::path::Path::new(""), &files, None).unwrap_or_else(|d| panic!("{d}"))
    }

    fn emitted(fx: &[Effect]) -> Vec<String> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Emit(Event::StepStarted { step, what }) => Some(format!("start {step}: {what}")),
                Effect::Emit(Event::StepEnded { step, ok, message }) => Some(format!("end {step} {ok} {message}")),
                Effect::Finish(r) => Some(format!("finish: {r}")),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn instantaneous_steps_run_back_to_back_and_sleep_arms_a_timer() {
        let s = scenario("  - submit: {app: app.yaml, name: a, count: 2}\n  - sleep: 30s\n", "");
        let mut tl = Timeline::new(&s);
        let view = TraceView::default();
        assert_eq!(tl.start(), vec![Effect::Arm { timer: Timer::StepStart(0), after: Dur::ZERO }]);
        let fx = tl.on_timer(Timer::StepStart(0), &view);
        assert_eq!(emitted(&fx), ["start 0: submit 2 apps (a-1..a-2)"]);
        assert_eq!(fx.last(), Some(&Effect::Submit { template: 0, names: vec!["a-1".into(), "a-2".into()] }));
        assert!(tl.on_view_changed(&view).is_empty(), "the step waits for its apps to be created");
        let fx = tl.completed(Ok(String::new()), &view);
        assert_eq!(emitted(&fx), ["end 0 true ", "start 1: sleep 30s"]);
        assert_eq!(fx.last(), Some(&Effect::Arm { timer: Timer::StepDone(1), after: Dur::secs(30) }));
        assert!(tl.expected().contains("default/a-1") && tl.expected().contains("default/a-2"));
        assert_eq!(tl.current_step(), Some(1));
        // A stale timer of another step is ignored.
        assert!(tl.on_timer(Timer::StepDone(0), &view).is_empty());
        assert_eq!(emitted(&tl.on_timer(Timer::StepDone(1), &view)), ["end 1 true ", "finish: timeline complete"]);
        assert!(tl.is_done());
    }

    #[test]
    fn a_wait_completes_when_the_view_satisfies_it_or_times_out_with_the_mismatch() {
        let s = scenario("  - wait: {apps: all, state: RUNNING, timeout: 1m}\n", "workload:\n  - {app: app.yaml, at: 5s}\n");
        let mut tl = Timeline::new(&s);
        let mut view = TraceView::default();
        let start = tl.start();
        assert_eq!(start[0], Effect::Arm { timer: Timer::Arrival(0), after: Dur::secs(5) });
        let fx = tl.on_timer(Timer::StepStart(0), &view);
        assert_eq!(fx.last(), Some(&Effect::Arm { timer: Timer::WaitTimeout(0), after: Dur::mins(1) }));
        assert!(tl.on_view_changed(&view).is_empty(), "the app does not exist yet");
        for ev in [
            Event::AppCreated { app: "default/x".into(), executors: 1, scheduled_by: None },
            Event::AppState {
                app: "default/x".into(),
                state: AppState::Running,
                message: String::new(),
                submission_attempts: 1,
                execution_attempts: 1,
            },
        ] {
            view.apply(&Record { t: Time(6000), event: ev });
        }
        assert_eq!(emitted(&tl.on_view_changed(&view)), ["end 0 true ", "finish: timeline complete"]);

        let mut tl = Timeline::new(&s);
        tl.start();
        tl.on_timer(Timer::StepStart(0), &TraceView::default());
        let fx = tl.on_timer(Timer::WaitTimeout(0), &TraceView::default());
        assert_eq!(
            emitted(&fx),
            [
                "end 0 false timed out after 1m waiting for apps all in RUNNING: 1 app(s) not in RUNNING: default/x not created yet",
                "finish: step 1 timed out"
            ]
        );
    }

    #[test]
    fn an_action_step_waits_for_its_outcome_and_a_failure_ends_the_run() {
        let s = scenario("  - inject: coredns-down\n  - heal: coredns-down\n", "");
        let view = TraceView::default();
        let mut tl = Timeline::new(&s);
        tl.start();
        let fx = tl.on_timer(Timer::StepStart(0), &view);
        assert!(matches!(fx.last(), Some(Effect::Inject(f)) if f.id == "coredns-down"));
        assert!(tl.on_view_changed(&view).is_empty());
        let fx = tl.completed(Ok(String::new()), &view);
        assert_eq!(fx.last(), Some(&Effect::Heal("coredns-down".into())));
        let fx = tl.completed(Err("scale coredns: connection refused".into()), &view);
        assert_eq!(emitted(&fx), ["end 1 false scale coredns: connection refused", "finish: step 2 failed"]);
        assert!(tl.completed(Ok(String::new()), &view).is_empty(), "nothing after the end");
    }

    #[test]
    fn interrupt_fails_the_step_in_progress_once() {
        let s = scenario("  - sleep: 1h\n", "");
        let view = TraceView::default();
        let mut tl = Timeline::new(&s);
        tl.start();
        tl.on_timer(Timer::StepStart(0), &view);
        let fx = tl.interrupt("interrupted (SIGTERM)", "interrupted".into());
        assert_eq!(emitted(&fx), ["end 0 false interrupted (SIGTERM)", "finish: interrupted"]);
        assert!(tl.interrupt("again", "again".into()).is_empty());
    }

    #[test]
    fn no_steps_finishes_at_once_and_messages_come_from_here() {
        let s = scenario("  []\n", "").clone();
        let mut tl = Timeline::new(&Scenario { steps: vec![], ..s });
        assert_eq!(tl.start(), vec![Effect::Finish("no steps".into())]);
        assert_eq!(max_duration_reached(Dur::mins(90)), "maxDuration 1h30m reached");
        assert_eq!(patched(3), "patched 3 app(s)");
        assert!(patch_matched_nothing(&AppSel::Pattern("later".into())).starts_with("no app of this run matches later "));
        assert_eq!(patch_rejected(2, "webhook down"), "2 update(s) rejected: webhook down");
    }
}
