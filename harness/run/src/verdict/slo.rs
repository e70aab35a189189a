//! Latency objectives: a percentile of a pod or app metric within a bound. Pod metrics are
//! sampled as pods start; app metrics are derived from the facts at the end.

use sparkrig_model::scenario::{AppSel, Metric, PodSel};
use sparkrig_model::time::Dur;
use sparkrig_model::trace::{Event, Record};

use super::{Check, Facts, Tally};
use crate::metrics::{Figure, percentile};

/// One SLO.
pub struct Slo {
    /// Metric.
    pub metric: Metric,
    /// Pods (pod metrics).
    pub pods: PodSel,
    /// Apps (app metrics).
    pub apps: AppSel,
    /// Quantile (50, 90, 99; 100 = max).
    pub quantile: u8,
    /// Bound.
    pub bound: Dur,
    /// Pod samples so far.
    pub samples: Vec<Dur>,
}

impl Check for Slo {
    fn record(&mut self, rec: &Record, facts: &Facts, _tally: &mut Tally) {
        let Event::PodRunning { pod: key } = &rec.event else { return };
        let Some(p) = facts.view.pods.get(key.as_str()) else { return };
        if !self.pods.matches(key, p) {
            return;
        }
        let latency = rec.t - p.created;
        match (self.metric, &p.scheduled) {
            (Metric::PodStartupLatency, _) => self.samples.push(latency),
            (Metric::SchedulablePodStartupLatency, _) if !facts.ever_unschedulable.contains(key.as_str()) => self.samples.push(latency),
            (Metric::PodSchedulingLatency, Some((st, _))) => self.samples.push(*st - p.created),
            _ => {}
        }
    }

    fn finish(&mut self, facts: &Facts, _tally: &mut Tally) -> (bool, String) {
        let mut samples =
            if self.metric.per_pod() { std::mem::take(&mut self.samples) } else { app_samples(facts, self.metric, &self.apps) };
        samples.sort_unstable();
        match percentile(&samples, self.quantile) {
            None => (false, "no samples: nothing to measure".into()),
            Some(v) => (v <= self.bound, format!("observed {v} over {} sample(s) (bound {})", samples.len(), self.bound)),
        }
    }
}

/// An app metric over the selected apps (one sample per app that has it).
pub(crate) fn app_samples(facts: &Facts, metric: Metric, apps: &AppSel) -> Vec<Dur> {
    facts
        .view
        .apps
        .iter()
        .filter(|(k, _)| apps.matches(k))
        .filter_map(|(k, a)| match metric {
            Metric::AppTurnaround => a.history.iter().find(|(_, s)| s.is_terminal()).map(|(t, _)| *t - a.created),
            Metric::TimeToFirstExecutor => facts.first_executor.get(k.as_str()).map(|t| *t - a.created),
            Metric::TimeToAllExecutors => facts.running_execs.get(k.as_str()).and_then(|e| e.1).map(|t| t - a.created),
            Metric::SubmitLatency => facts.op_latency.get(&(Figure::SubmitLatency, k.clone())).copied(),
            Metric::StartLatency => facts.op_latency.get(&(Figure::StartLatency, k.clone())).copied(),
            Metric::PodStartupLatency | Metric::SchedulablePodStartupLatency | Metric::PodSchedulingLatency => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use sparkrig_model::appstate::AppState;
    use sparkrig_model::podspec::SparkRole;
    use sparkrig_model::scenario::{AppSel, Expectation, Metric, PodSel};
    use sparkrig_model::time::Dur;
    use sparkrig_model::trace::Event;

    #[test]
    fn schedulable_startup_latency_leaves_out_pods_that_waited_for_room() {
        let running = |pod: &str| Event::PodRunning { pod: pod.into() };
        let recs = [
            at(0, spark_pod("default/a-exec-1", "default/a", SparkRole::Executor)),
            at(0, spark_pod("default/a-exec-2", "default/a", SparkRole::Executor)),
            at(1, Event::PodUnschedulable { pod: "default/a-exec-2".into(), message: "Insufficient cpu".into() }),
            at(4, running("default/a-exec-1")),
            at(95, running("default/a-exec-2")),
        ];
        let slo = |metric| Expectation::Slo { metric, pods: PodSel::Executors, apps: AppSel::All, quantile: 99, bound: Dur::secs(5) };
        // p99 of {4 s, 95 s} by nearest rank is 95 s; without the pod that did not fit, 4 s.
        let all = judge(slo(Metric::PodStartupLatency), &recs);
        assert_eq!((all.passed, all.message.as_str()), (false, "observed 1m35s over 2 sample(s) (bound 5s)"));
        let sli = judge(slo(Metric::SchedulablePodStartupLatency), &recs);
        assert_eq!((sli.passed, sli.message.as_str()), (true, "observed 4s over 1 sample(s) (bound 5s)"));
    }

    #[test]
    fn app_turnaround_runs_from_creation_to_the_first_terminal_state() {
        let recs = [
            at(10, Event::AppCreated { app: "default/a".into(), executors: 1, scheduled_by: None }),
            at(70, state("default/a", AppState::Completed, "")),
            at(20, Event::AppCreated { app: "default/b".into(), executors: 1, scheduled_by: None }),
        ];
        let o = judge(
            Expectation::Slo { metric: Metric::AppTurnaround, pods: PodSel::All, apps: AppSel::All, quantile: 100, bound: Dur::mins(1) },
            &recs,
        );
        assert_eq!((o.passed, o.message.as_str()), (true, "observed 1m over 1 sample(s) (bound 1m)"));
        let none = judge(
            Expectation::Slo {
                metric: Metric::TimeToFirstExecutor,
                pods: PodSel::All,
                apps: AppSel::All,
                quantile: 50,
                bound: Dur::mins(1),
            },
            &recs,
        );
        assert_eq!((none.passed, none.message.as_str()), (false, "no samples: nothing to measure"));
    }
}
