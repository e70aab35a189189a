//! Upgrades: an upgrade completes within a bound of its start; no app's run fails while its
//! driver or executors were evicted by an upgrade; the window during which the API server
//! rejected apps or Spark pods (the webhook unavailable) while an upgrade ran stays within
//! bounds. Everything comes from the trace's `upgrade` events (phases, with the node and pod they
//! concern) and the apps' state changes.

use std::collections::BTreeMap;

use sparkrig_model::appstate::AppState;
use sparkrig_model::podspec::SparkRole;
use sparkrig_model::scenario::AppSel;
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::{Event, Record};
use sparkrig_model::upgrade::UpgradePhase;

use super::{Check, Evidence, Facts, Tally};

/// When an upgrade started and how it ended, from its phases.
#[derive(Debug, Default, Clone)]
struct Span {
    started: Option<Time>,
    ended: Option<(Time, bool, String)>,
}

impl Span {
    fn see(&mut self, t: Time, phase: UpgradePhase, reason: &str) {
        match phase {
            UpgradePhase::Started => self.started = Some(t),
            UpgradePhase::Refused => {
                self.started.get_or_insert(t);
                self.ended = Some((t, false, format!("refused: {reason}")));
            }
            UpgradePhase::Completed => self.ended = Some((t, true, reason.to_string())),
            UpgradePhase::Failed => self.ended = Some((t, false, reason.to_string())),
            _ => {}
        }
    }
}

/// `completesWithin`.
pub struct Completes {
    /// Upgrade id.
    pub upgrade: String,
    /// Bound.
    pub within: Dur,
    span: Span,
}

impl Completes {
    /// The check.
    pub fn new(upgrade: String, within: Dur) -> Completes {
        Completes { upgrade, within, span: Span::default() }
    }
}

impl Check for Completes {
    fn record(&mut self, rec: &Record, _facts: &Facts, _tally: &mut Tally) {
        if let Event::Upgrade { upgrade, phase, reason, .. } = &rec.event
            && *upgrade == self.upgrade
        {
            self.span.see(rec.t, *phase, reason);
        }
    }

    fn finish(&mut self, facts: &Facts, tally: &mut Tally) -> (bool, String) {
        let id = &self.upgrade;
        let Some(start) = self.span.started else {
            tally.violate(Evidence::general(format!("upgrade {id} never started")));
            return (false, "never started".into());
        };
        match &self.span.ended {
            Some((end, true, msg)) => {
                let took = *end - start;
                let ev = Evidence {
                    t: Some(*end),
                    ..Evidence::general(format!("upgrade {id} completed in {took} (started at {start}): {msg}"))
                };
                if took <= self.within {
                    tally.note(ev);
                    (true, format!("completed in {took}"))
                } else {
                    tally.violate(ev);
                    (false, format!("took {took}, more than {}", self.within))
                }
            }
            Some((end, false, msg)) => {
                tally
                    .violate(Evidence { t: Some(*end), ..Evidence::general(format!("upgrade {id} failed after {}: {msg}", *end - start)) });
                (false, "failed".into())
            }
            None => {
                let now = facts.view.now;
                tally.violate(Evidence {
                    t: Some(now),
                    ..Evidence::general(format!("upgrade {id} still running at the end, {} after its start at {start}", now - start))
                });
                (false, "did not complete".into())
            }
        }
    }
}

/// One pod disrupted by an upgrade.
#[derive(Debug, Clone)]
struct Disruption {
    t: Time,
    pod: String,
    node: Option<String>,
    upgrade: String,
    role: Option<SparkRole>,
    phase: UpgradePhase,
}

/// `noAppFails`: a run that fails (the app enters FAILING, or FAILED straight from a run)
/// after an upgrade evicted its driver or executors during that run is named.
pub struct NoAppFails {
    /// Upgrade id (None: any).
    pub upgrade: Option<String>,
    /// Apps.
    pub apps: AppSel,
    /// Per app, the pods upgrades disrupted.
    disrupted: BTreeMap<String, Vec<Disruption>>,
    /// Per app, when its current run started (SUBMITTED).
    run_start: BTreeMap<String, Time>,
    failed_runs: usize,
}

impl NoAppFails {
    /// The check.
    pub fn new(upgrade: Option<String>, apps: AppSel) -> NoAppFails {
        NoAppFails { upgrade, apps, disrupted: BTreeMap::new(), run_start: BTreeMap::new(), failed_runs: 0 }
    }
}

impl Check for NoAppFails {
    fn app_state(&mut self, t: Time, app: &str, prev: AppState, state: AppState, message: &str, tally: &mut Tally) {
        if state == AppState::Submitted {
            self.run_start.insert(app.to_string(), t);
            return;
        }
        let run_failed =
            state == AppState::Failing || (state == AppState::Failed && matches!(prev, AppState::Running | AppState::Submitted));
        if !run_failed || !self.apps.matches(app) {
            return;
        }
        let since = self.run_start.get(app).copied().unwrap_or(Time::ZERO);
        let Some(hits) = self.disrupted.get(app) else { return };
        let hits: Vec<&Disruption> = hits.iter().filter(|d| d.t >= since && d.t <= t).collect();
        let Some(first) = hits.iter().find(|d| d.role == Some(SparkRole::Driver)).or(hits.first()) else { return };
        self.failed_runs += 1;
        let drivers = hits.iter().filter(|d| d.role == Some(SparkRole::Driver)).count();
        let executors = hits.len() - drivers;
        let how = first.phase.as_str();
        let role = first.role.map_or("pod", |r| r.as_str());
        tally.violate(Evidence {
            t: Some(t),
            app: Some(app.to_string()),
            pod: Some(first.pod.clone()),
            node: first.node.clone(),
            detail: format!(
                "run failed ({state}{}) after upgrade {} {how} its {role} at {} ({drivers} driver(s), {executors} executor(s) of this run disrupted)",
                if message.is_empty() { String::new() } else { format!(": {message}") },
                first.upgrade,
                first.t
            ),
        });
    }

    fn record(&mut self, rec: &Record, facts: &Facts, _tally: &mut Tally) {
        let Event::Upgrade { upgrade, phase, node, pod: Some(pod), .. } = &rec.event else { return };
        if !phase.disrupts_pod() || self.upgrade.as_ref().is_some_and(|u| u != upgrade) {
            return;
        }
        let Some(p) = facts.view.pods.get(pod.as_str()) else { return };
        let Some(app) = &p.app else { return };
        self.disrupted.entry(app.to_string()).or_default().push(Disruption {
            t: rec.t,
            pod: pod.clone(),
            node: node.clone(),
            upgrade: upgrade.clone(),
            role: p.role,
            phase: *phase,
        });
    }

    fn finish(&mut self, _facts: &Facts, tally: &mut Tally) -> (bool, String) {
        let pods: usize = self.disrupted.values().map(Vec::len).sum();
        if self.failed_runs == 0 {
            (
                true,
                format!(
                    "no run failed after an upgrade disrupted its pods ({pods} Spark pod(s) of {} app(s) disrupted)",
                    self.disrupted.len()
                ),
            )
        } else {
            let apps = tally.violations;
            (false, format!("{apps} run(s) failed after an upgrade disrupted their pods"))
        }
    }
}

/// `rejectionWindow`: the API server's rejections (webhook unavailable with failurePolicy
/// Fail) while the upgrade ran, from the first to the last.
pub struct RejectionWindow {
    /// Upgrade id.
    pub upgrade: String,
    /// At least.
    pub min: Option<Dur>,
    /// At most.
    pub max: Option<Dur>,
    span: Span,
    /// (when, app or pod, what).
    rejections: Vec<(Time, String, &'static str)>,
}

impl RejectionWindow {
    /// The check.
    pub fn new(upgrade: String, min: Option<Dur>, max: Option<Dur>) -> RejectionWindow {
        RejectionWindow { upgrade, min, max, span: Span::default(), rejections: Vec::new() }
    }

    fn during(&self, t: Time) -> bool {
        self.span.started.is_some_and(|s| t >= s) && self.span.ended.as_ref().is_none_or(|(e, ..)| t <= *e)
    }
}

/// An API server error from a webhook call.
fn webhook_refusal(message: &str) -> bool {
    message.contains("failed calling webhook")
}

impl Check for RejectionWindow {
    fn record(&mut self, rec: &Record, _facts: &Facts, _tally: &mut Tally) {
        let t = rec.t;
        match &rec.event {
            Event::Upgrade { upgrade, phase, reason, .. } if *upgrade == self.upgrade => self.span.see(t, *phase, reason),
            Event::AppRejected { app, message } if self.during(t) && webhook_refusal(message) => {
                self.rejections.push((t, app.clone(), "app"));
            }
            Event::PodCreateFailed { pod, message, .. } if self.during(t) && webhook_refusal(message) => {
                self.rejections.push((t, pod.clone(), "pod"));
            }
            Event::AppState { app, state: AppState::SubmissionFailed, message, .. } if self.during(t) && webhook_refusal(message) => {
                self.rejections.push((t, app.clone(), "driver"));
            }
            _ => {}
        }
    }

    fn finish(&mut self, _facts: &Facts, tally: &mut Tally) -> (bool, String) {
        let window = match (self.rejections.first(), self.rejections.last()) {
            (Some(a), Some(b)) => b.0 - a.0,
            _ => Dur::ZERO,
        };
        let count = |k: &str| self.rejections.iter().filter(|r| r.2 == k).count();
        let summary = match (self.rejections.first(), self.rejections.last()) {
            (Some(a), Some(b)) => format!(
                "webhook rejections during upgrade {} from {} to {} (window {window}): {} app(s), {} driver pod(s), {} executor pod(s); first {}, last {}",
                self.upgrade,
                a.0,
                b.0,
                count("app"),
                count("driver"),
                count("pod"),
                a.1,
                b.1
            ),
            _ => format!("no rejection during upgrade {} (window 0s)", self.upgrade),
        };
        let ok = self.min.is_none_or(|m| !self.rejections.is_empty() && window >= m) && self.max.is_none_or(|m| window <= m);
        let ev = Evidence { t: self.rejections.first().map(|r| r.0), ..Evidence::general(summary) };
        if ok {
            tally.note(ev);
            (true, format!("rejection window {window} ({} rejection(s))", self.rejections.len()))
        } else {
            tally.violate(ev);
            (false, format!("rejection window {window} ({} rejection(s))", self.rejections.len()))
        }
    }
}
