//! ScheduledSparkApplication outcomes: how many runs a schedule started and how many due runs
//! its concurrency policy skipped, with the schedule, the policy and the skipped instants as
//! evidence.

use sparkrig_model::trace::ScheduledView;

use super::{Check, Evidence, Facts, Tally};

/// `{scheduled: NAME, runs: {min, max}, skipped: {min, max}}`.
pub struct Runs {
    /// Name or `namespace/name`.
    pub app: String,
    /// Bounds on runs started.
    pub runs: (Option<u32>, Option<u32>),
    /// Bounds on skipped runs.
    pub skipped: (Option<u32>, Option<u32>),
}

fn within(n: usize, (min, max): (Option<u32>, Option<u32>)) -> bool {
    min.is_none_or(|m| n >= m as usize) && max.is_none_or(|m| n <= m as usize)
}

fn bounds((min, max): (Option<u32>, Option<u32>)) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("[{a}, {b}]"),
        (Some(a), None) => format!(">= {a}"),
        (None, Some(b)) => format!("<= {b}"),
        (None, None) => "any".into(),
    }
}

impl Check for Runs {
    fn finish(&mut self, facts: &Facts, tally: &mut Tally) -> (bool, String) {
        let found: Option<(&String, &ScheduledView)> =
            facts.view.scheduled.iter().find(|(k, _)| **k == self.app || k.rsplit('/').next() == Some(self.app.as_str()));
        let Some((key, s)) = found else {
            tally.violate(Evidence::general(format!("ScheduledSparkApplication {} was never created", self.app)));
            return (false, format!("{} was never created", self.app));
        };
        let (runs, skipped) = (s.runs.len(), s.skipped.len());
        let what = format!(
            "schedule \"{}\", concurrencyPolicy {}",
            s.schedule,
            if s.concurrency_policy.is_empty() { "(none)" } else { &s.concurrency_policy }
        );
        let ok = within(runs, self.runs) && within(skipped, self.skipped);
        let line = format!(
            "{key} ({what}): {runs} run(s) started (expected {}), {skipped} due run(s) skipped (expected {})",
            bounds(self.runs),
            bounds(self.skipped)
        );
        let e = Evidence::app(None, key, line.clone());
        if ok {
            tally.note(e);
        } else {
            tally.violate(e);
        }
        for (t, due, why) in &s.skipped {
            tally.note(Evidence::app(Some(*t), key, format!("run due at {due} skipped: {why}")));
        }
        if !s.reason.is_empty() {
            tally.note(Evidence::app(None, key, format!("{}: {}", s.state, s.reason)));
        }
        (ok, line)
    }
}
