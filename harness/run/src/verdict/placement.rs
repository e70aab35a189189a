//! Placement invariants, checked at every scheduling decision: executors and drivers only on
//! their nodegroups, drivers never on interruptible nodes, no pod bound to a node whose
//! NoSchedule/NoExecute taint it does not tolerate.

use sparkrig_model::kube::untolerated_taint;
use sparkrig_model::podspec::SparkRole;
use sparkrig_model::scenario::Expectation;
use sparkrig_model::trace::{Event, Record};

use super::{Check, Evidence, Facts, Tally};

/// One placement invariant.
pub struct Placement(pub Expectation);

impl Check for Placement {
    fn record(&mut self, rec: &Record, facts: &Facts, tally: &mut Tally) {
        let Event::PodScheduled { pod, node } = &rec.event else { return };
        let (Some(p), Some(n)) = (facts.view.pods.get(pod.as_str()), facts.view.nodes.get(node)) else { return };
        let ev = |detail: String| Evidence {
            t: Some(rec.t),
            app: p.app.as_deref().map(String::from),
            pod: Some(pod.to_string()),
            node: Some(node.to_string()),
            detail,
        };
        match &self.0 {
            Expectation::OnlyOn { role, groups, apps }
                if p.role == Some(*role) && !groups.contains(&n.group) && p.app.as_ref().is_some_and(|a| apps.matches(a)) =>
            {
                tally.violate(ev(format!(
                    "{} scheduled on {node} in nodegroup {} (allowed: {})",
                    role.as_str(),
                    n.group,
                    groups.join(", ")
                )))
            }
            Expectation::DriversNeverOnInterruptible if p.role == Some(SparkRole::Driver) && n.interruptible => {
                tally.violate(ev(format!("driver scheduled on interruptible node {node} (nodegroup {})", n.group)))
            }
            Expectation::TolerationsRespected => {
                if let Some(taint) = untolerated_taint(&n.taints, &p.tolerations) {
                    tally.violate(ev(format!("bound to {node} despite untolerated taint {taint}")));
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, _facts: &Facts, tally: &mut Tally) -> (bool, String) {
        tally.invariant("held at every scheduling decision")
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use sparkrig_model::podspec::SparkRole;
    use sparkrig_model::scenario::{AppSel, Expectation};
    use sparkrig_model::trace::Event;

    fn bound(pod: &str, node: &str) -> Event {
        Event::PodScheduled { pod: pod.into(), node: node.into() }
    }

    #[test]
    fn an_executor_outside_its_group_is_named_with_node_group_and_instant() {
        let e = Expectation::OnlyOn { role: SparkRole::Executor, groups: vec!["spark-executor".into()], apps: AppSel::All };
        let o = judge(
            e,
            &[
                at(0, node("exec-1", "spark-executor", true, None)),
                at(0, node("infra-1", "infra", false, None)),
                at(1, spark_pod("default/a-exec-1", "default/a", SparkRole::Executor)),
                at(1, spark_pod("default/a-exec-2", "default/a", SparkRole::Executor)),
                at(2, bound("default/a-exec-1", "exec-1")),
                at(3, bound("default/a-exec-2", "infra-1")),
            ],
        );
        assert!(!o.passed);
        assert_eq!(o.message, "1 violation(s)");
        let ev = &o.evidence[0];
        assert_eq!(
            (ev.pod.as_deref(), ev.node.as_deref(), ev.t.map(|t| t.as_ms())),
            (Some("default/a-exec-2"), Some("infra-1"), Some(3000))
        );
        assert_eq!(ev.detail, "executor scheduled on infra-1 in nodegroup infra (allowed: spark-executor)");
    }

    #[test]
    fn a_driver_on_spot_and_an_untolerated_taint_are_caught_and_clean_runs_hold() {
        let recs = [
            at(0, node("spot-1", "spark-executor", true, Some(("purpose", "spark-executor")))),
            at(1, spark_pod("default/a-driver", "default/a", SparkRole::Driver)),
            at(2, bound("default/a-driver", "spot-1")),
        ];
        let o = judge(Expectation::DriversNeverOnInterruptible, &recs);
        assert_eq!(o.evidence[0].detail, "driver scheduled on interruptible node spot-1 (nodegroup spark-executor)");
        let o = judge(Expectation::TolerationsRespected, &recs);
        assert_eq!(o.evidence[0].detail, "bound to spot-1 despite untolerated taint purpose=spark-executor:NoSchedule");
        let o = judge(Expectation::TolerationsRespected, &recs[..2]);
        assert!(o.passed);
        assert_eq!(o.message, "held at every scheduling decision");
    }
}
