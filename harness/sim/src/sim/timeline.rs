//! The scenario timeline: arrivals at their times, steps in order. A wait is checked against
//! the trace view whenever apps or pods change, and fails the run when its timeout fires first.

use std::collections::BTreeSet;

use sparkrig_model::scenario::{Condition, Scenario, Step};
use sparkrig_model::time::Dur;
use sparkrig_model::trace::Event;

use super::{Ev, Simulation};

#[derive(Debug, Default)]
pub(crate) struct Timeline {
    /// The wait in progress: step index and condition.
    waiting: Option<(usize, Condition, Dur)>,
    /// Apps the scenario creates (arrivals) or has created (submit steps), `namespace/name`.
    expected: BTreeSet<String>,
}

impl Timeline {
    pub(crate) fn new(plan: &Scenario) -> Timeline {
        let expected = plan.arrivals.iter().map(|a| format!("{}/{}", plan.templates[a.template].app.namespace(), a.name)).collect();
        Timeline { waiting: None, expected }
    }
}

impl Simulation {
    pub(crate) fn start_timeline(&mut self) {
        for (index, a) in self.plan.arrivals.clone().iter().enumerate() {
            self.at(a.at.since(self.now), Ev::Arrival { index });
        }
        if self.plan.steps.is_empty() {
            self.finish("no steps");
        } else {
            self.at(Dur::ZERO, Ev::StepStart { step: 0 });
        }
    }

    pub(crate) fn arrival(&mut self, index: usize) {
        let a = self.plan.arrivals[index].clone();
        self.create_app(a.template, &a.name);
    }

    pub(crate) fn step_start(&mut self, step: usize) {
        let s = self.plan.steps[step].clone();
        self.emit(Event::StepStarted { step, what: s.describe() });
        match s {
            Step::Sleep(d) => self.at(d, Ev::StepDone { step }),
            Step::Submit { template, names } => {
                let ns = self.plan.templates[template].app.namespace().to_string();
                for name in &names {
                    self.timeline.expected.insert(format!("{ns}/{name}"));
                    self.create_app(template, name);
                }
                self.step_done(step);
            }
            Step::Wait { condition, timeout } => {
                self.timeline.waiting = Some((step, condition, timeout));
                self.at(timeout, Ev::WaitTimeout { step });
                self.check_wait();
            }
            Step::Inject(fault) => {
                self.inject(&fault);
                self.step_done(step);
            }
            Step::Heal(id) => {
                self.heal(&id);
                self.step_done(step);
            }
            Step::Patch { apps, spec } => {
                let message = self.patch_apps(&apps, &spec);
                self.step_done_with(step, message);
            }
        }
    }

    /// Re-evaluates the pending wait against the trace view.
    pub(crate) fn check_wait(&mut self) {
        let Some((step, cond, _)) = &self.timeline.waiting else { return };
        if cond.holds(&self.view, &self.timeline.expected) {
            let step = *step;
            self.timeline.waiting = None;
            self.step_done(step);
        }
    }

    pub(crate) fn step_done(&mut self, step: usize) {
        self.step_done_with(step, String::new());
    }

    fn step_done_with(&mut self, step: usize, message: String) {
        if self.done.is_some() {
            return;
        }
        self.emit(Event::StepEnded { step, ok: true, message });
        if step + 1 < self.plan.steps.len() {
            self.step_start(step + 1);
        } else {
            self.finish("timeline complete");
        }
    }

    pub(crate) fn wait_timeout(&mut self, step: usize) {
        let Some((s, cond, timeout)) = self.timeline.waiting.take() else { return };
        if s != step {
            self.timeline.waiting = Some((s, cond, timeout));
            return;
        }
        let why = cond.check(&self.view, &self.timeline.expected).err().unwrap_or_default();
        self.emit(Event::StepEnded { step, ok: false, message: format!("timed out after {timeout} waiting for {cond}: {why}") });
        self.finish(&format!("step {} timed out", step + 1));
    }
}
