//! App outcomes at the end of the trace: the final state, a state reached at some point, the
//! API server's refusal at creation.

use sparkrig_model::appstate::AppState;
use sparkrig_model::scenario::AppSel;

use super::{Check, Evidence, Facts, Tally, explain};

/// The selected apps end in one of these states.
pub struct EndIn {
    /// Apps.
    pub apps: AppSel,
    /// Allowed final states.
    pub states: Vec<AppState>,
}

impl Check for EndIn {
    fn finish(&mut self, facts: &Facts, tally: &mut Tally) -> (bool, String) {
        let view = &facts.view;
        let want = self.states.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("|");
        let mut total = 0;
        for app in facts.plan_apps.iter().filter(|a| self.apps.matches(a)) {
            total += 1;
            match view.apps.get(app) {
                Some(a) if self.states.contains(&a.state) => {}
                Some(a) => {
                    let mut detail = format!("ended {} (expected {want})", a.state);
                    if !a.message.is_empty() {
                        detail.push_str(&format!(": {}", a.message));
                    }
                    tally.violate(Evidence::app(Some(a.history.last().map_or(a.created, |h| h.0)), app, detail));
                    for e in explain::app_with(view, app, facts.job_namespaces.as_deref()) {
                        tally.note(e);
                    }
                }
                None => {
                    let detail = match view.rejected.get(app) {
                        Some((_, msg)) => format!("never created: the API server rejected it: {msg}"),
                        None => "never created (the run ended first)".into(),
                    };
                    tally.violate(Evidence::app(view.rejected.get(app).map(|(t, _)| *t), app, detail));
                }
            }
        }
        if tally.violations == 0 {
            (true, format!("{total} app(s) ended {want}"))
        } else {
            (false, format!("{}/{total} app(s) did not end {want}", tally.violations))
        }
    }
}

/// The selected apps were in a state at some point.
pub struct Reached {
    /// Apps.
    pub apps: AppSel,
    /// State.
    pub state: AppState,
}

impl Check for Reached {
    fn finish(&mut self, facts: &Facts, tally: &mut Tally) -> (bool, String) {
        let state = self.state;
        let mut total = 0;
        for app in facts.plan_apps.iter().filter(|a| self.apps.matches(a)) {
            total += 1;
            match facts.view.apps.get(app) {
                Some(a) if a.reached(state) => {}
                Some(a) => {
                    let path: Vec<String> = a.history.iter().map(|(_, s)| s.to_string()).collect();
                    tally.violate(Evidence::app(None, app, format!("never {state}; states: {}", path.join(" → "))));
                }
                None => tally.violate(Evidence::app(None, app, "never created".into())),
            }
        }
        if tally.violations == 0 {
            (true, format!("{total} app(s) reached {state}"))
        } else {
            (false, format!("{}/{total} app(s) never reached {state}", tally.violations))
        }
    }
}

/// The API server refused to create the selected apps.
pub struct Rejected {
    /// Apps.
    pub apps: AppSel,
}

impl Check for Rejected {
    fn finish(&mut self, facts: &Facts, tally: &mut Tally) -> (bool, String) {
        let view = &facts.view;
        let mut total = 0;
        for app in facts.plan_apps.iter().filter(|a| self.apps.matches(a)) {
            total += 1;
            match (view.rejected.get(app), view.apps.get(app)) {
                (Some((t, msg)), _) => tally.note(Evidence::app(Some(*t), app, msg.clone())),
                (None, Some(a)) => tally.violate(Evidence::app(Some(a.created), app, format!("was created (ended {})", a.state))),
                (None, None) => tally.violate(Evidence::app(None, app, "never attempted".into())),
            }
        }
        if tally.violations == 0 {
            tally.evidence.truncate(1);
            (true, format!("{total} app(s) rejected at creation"))
        } else {
            tally.evidence.retain(|e| !e.detail.contains("failed calling webhook"));
            (false, format!("{}/{total} app(s) were not rejected", tally.violations))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use sparkrig_model::appstate::AppState;
    use sparkrig_model::podspec::SparkRole;
    use sparkrig_model::scenario::{AppSel, Expectation};
    use sparkrig_model::trace::Event;

    #[test]
    fn an_app_that_ended_failed_is_explained_by_its_failed_driver_and_a_missing_one_by_its_rejection() {
        let o = judge(
            Expectation::AppsEndIn { apps: AppSel::All, states: vec![AppState::Completed] },
            &[
                at(0, Event::AppCreated { app: "default/a".into(), executors: 1, scheduled_by: None }),
                at(1, spark_pod("default/a-driver", "default/a", SparkRole::Driver)),
                at(30, ended("default/a-driver", 1, "Error", "java.nio.file.NoSuchFileException: /opt/app.jar")),
                at(31, state("default/a", AppState::Failed, "driver container failed with ExitCode: 1, Reason: Error")),
                at(2, Event::AppRejected { app: "default/b".into(), message: "admission webhook denied".into() }),
            ],
        );
        assert!(!o.passed);
        assert_eq!(o.message, "2/2 app(s) did not end COMPLETED");
        let details: Vec<&str> = o.evidence.iter().map(|e| e.detail.as_str()).collect();
        assert_eq!(
            details,
            [
                "ended FAILED (expected COMPLETED): driver container failed with ExitCode: 1, Reason: Error",
                "driver exited 1 (Error): java.nio.file.NoSuchFileException: /opt/app.jar",
                "never created: the API server rejected it: admission webhook denied",
            ]
        );
    }

    #[test]
    fn reached_shows_the_path_taken_and_rejected_passes_only_when_every_app_was_refused() {
        let recs = [
            at(0, Event::AppCreated { app: "default/a".into(), executors: 1, scheduled_by: None }),
            at(1, state("default/a", AppState::Submitted, "")),
        ];
        let o = judge(Expectation::AppsReached { apps: AppSel::Pattern("a".into()), state: AppState::Running }, &recs);
        assert_eq!(o.evidence[0].detail, "never RUNNING; states: NEW → SUBMITTED");
        let o = judge(Expectation::AppsRejected { apps: AppSel::All }, &recs);
        assert_eq!(o.message, "2/2 app(s) were not rejected");
        assert_eq!(o.evidence.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(), ["was created (ended SUBMITTED)", "never attempted"]);
    }
}
