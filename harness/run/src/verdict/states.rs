//! State invariants, checked at every app state change: only the operator's legal
//! transitions, and apps only ever in the allowed states.

use sparkrig_model::appstate::AppState;
use sparkrig_model::scenario::AppSel;
use sparkrig_model::time::Time;

use super::{Check, Evidence, Facts, Tally};

/// Every change is a legal transition of the operator's state machine.
pub struct LegalTransitions;

impl Check for LegalTransitions {
    fn app_state(&mut self, t: Time, app: &str, prev: AppState, state: AppState, _message: &str, tally: &mut Tally) {
        if prev != state && !prev.can_become(state) {
            tally.violate(Evidence::app(Some(t), app, format!("illegal transition {prev} → {state}")));
        }
    }

    fn finish(&mut self, _facts: &Facts, tally: &mut Tally) -> (bool, String) {
        tally.invariant("held at every state change")
    }
}

/// The selected apps are only ever in these states.
pub struct StatesWithin {
    /// Apps.
    pub apps: AppSel,
    /// Allowed states.
    pub states: Vec<AppState>,
}

impl Check for StatesWithin {
    fn app_state(&mut self, t: Time, app: &str, prev: AppState, state: AppState, message: &str, tally: &mut Tally) {
        if self.apps.matches(app) && !self.states.contains(&state) {
            let why = if message.is_empty() { String::new() } else { format!(": {message}") };
            tally.violate(Evidence::app(Some(t), app, format!("entered {state} (from {prev}){why}")));
        }
    }

    fn finish(&mut self, _facts: &Facts, tally: &mut Tally) -> (bool, String) {
        tally.invariant("held at every state change")
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use sparkrig_model::appstate::AppState;
    use sparkrig_model::scenario::{AppSel, Expectation};
    use sparkrig_model::trace::Event;

    fn created(app: &str) -> Event {
        Event::AppCreated { app: app.into(), executors: 2, scheduled_by: None }
    }

    #[test]
    fn an_illegal_transition_names_both_states_and_the_app() {
        let o = judge(
            Expectation::LegalTransitions,
            &[
                at(0, created("default/a")),
                at(1, state("default/a", AppState::Submitted, "")),
                at(2, state("default/a", AppState::Completed, "")),
            ],
        );
        assert!(!o.passed);
        assert_eq!(
            (o.evidence[0].app.as_deref(), o.evidence[0].detail.as_str()),
            (Some("default/a"), "illegal transition SUBMITTED → COMPLETED")
        );
    }

    #[test]
    fn leaving_the_allowed_states_shows_the_state_entered_and_why() {
        let e = Expectation::StatesWithin { apps: AppSel::All, states: vec![AppState::Submitted, AppState::Running, AppState::Completed] };
        let o = judge(
            e,
            &[
                at(0, created("default/b")),
                at(1, state("default/b", AppState::Submitted, "")),
                at(9, state("default/b", AppState::Failing, "driver container failed with ExitCode: 11, Reason: Error")),
            ],
        );
        assert_eq!(o.evidence[0].detail, "entered FAILING (from SUBMITTED): driver container failed with ExitCode: 11, Reason: Error");
        assert_eq!(o.evidence[0].t.unwrap().as_ms(), 9000);
    }
}
