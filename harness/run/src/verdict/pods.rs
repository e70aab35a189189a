//! Pod outcomes: pods that showed a text (a waiting reason, a scheduling message, an exit, an
//! upgrade phase about it such as `eviction-blocked`), pods
//! bound outside nodegroups, pods still Pending at the end. Evidence is gathered as records
//! arrive: pods are recreated under the same name, so the final view alone would lose it.

use std::collections::BTreeMap;

use sparkrig_model::scenario::{Expectation, PodSel, glob_match};
use sparkrig_model::trace::{Event, PodView, Record, Text};

use super::{Check, EVIDENCE_LIMIT, Evidence, Facts, Tally};

/// `saw` and `boundOutside`: pods (incarnations) that showed it, with an example each.
pub struct Hits {
    expectation: Expectation,
    hits: BTreeMap<String, Evidence>,
}

impl Hits {
    /// For a `PodsSaw` or `BoundOutside` expectation.
    pub fn new(expectation: Expectation) -> Hits {
        Hits { expectation, hits: BTreeMap::new() }
    }
}

/// What a record says about a pod: its key, the text it showed and the node it was bound to.
fn pod_text(rec: &Record) -> Option<(&str, String, Option<&str>)> {
    Some(match &rec.event {
        Event::PodWaiting { pod, reason, message } => (pod, format!("{reason}: {message}"), None),
        Event::PodUnschedulable { pod, message } => (pod, message.clone(), None),
        Event::PodTerminated { pod, reason, message, exit_code, .. } => {
            (pod, format!("exit {} {reason}: {message}", exit_code.map_or("?".into(), |c| c.to_string())), None)
        }
        Event::PodCreateFailed { pod, message, .. } => (pod, format!("create failed: {message}"), None),
        Event::PodTerminating { pod, reason } => (pod, format!("terminating: {reason}"), None),
        Event::Upgrade { upgrade, phase, pod: Some(pod), reason, .. } => (pod, format!("upgrade {upgrade} {phase}: {reason}"), None),
        Event::PodScheduled { pod, node } => (pod, String::new(), Some(node.as_str())),
        Event::PodRunning { pod } => (pod, String::new(), None),
        _ => return None,
    })
}

impl Check for Hits {
    fn record(&mut self, rec: &Record, facts: &Facts, _tally: &mut Tally) {
        let Some((key, text, node)) = pod_text(rec) else { return };
        let pod = facts.view.pods.get(key);
        let hit = match (&self.expectation, pod) {
            (Expectation::PodsSaw { pods, text: want, .. }, Some(p)) if pods.matches(key, p) && text.contains(want.as_str()) => Some(text),
            (Expectation::PodsSaw { pods, text: want, .. }, None)
                if matches!(rec.event, Event::PodCreateFailed { .. }) && pod_name_selected(pods, key) && text.contains(want.as_str()) =>
            {
                Some(text)
            }
            (Expectation::BoundOutside { pods, groups, .. }, Some(p)) if pods.matches(key, p) => {
                let group = node.and_then(|n| facts.view.nodes.get(n)).map(|n| n.group.clone());
                group.filter(|g| !groups.contains(g)).map(|g| format!("bound to {} in nodegroup {g}", node.unwrap_or("?")))
            }
            _ => None,
        };
        if let Some(detail) = hit {
            // One entry per pod incarnation: drivers are recreated under the same name.
            let incarnation = format!("{key}@{}", pod.map_or(0, |p| p.created.as_ms()));
            self.hits.entry(incarnation).or_insert(Evidence {
                t: Some(rec.t),
                app: pod.and_then(|p| p.app.as_deref().map(String::from)),
                pod: Some(key.to_string()),
                node: node.map(String::from),
                detail,
            });
        }
    }

    fn finish(&mut self, _facts: &Facts, tally: &mut Tally) -> (bool, String) {
        let n = self.hits.len();
        tally.evidence.extend(self.hits.values().take(EVIDENCE_LIMIT).cloned());
        match &self.expectation {
            Expectation::PodsSaw { pods, text, min } => {
                let ok = n >= *min as usize;
                if !ok && n == 0 {
                    tally.violate(Evidence::general(format!("no {pods} pod showed \"{text}\"")));
                } else if !ok {
                    tally.violate(Evidence::general(format!("only {n} {pods} pod(s) showed \"{text}\"")));
                }
                (ok, format!("{n} {pods} pod(s) showed \"{text}\" (at least {min} expected)"))
            }
            Expectation::BoundOutside { pods, groups, min } => {
                let ok = n >= *min as usize;
                if !ok && n == 0 {
                    tally.violate(Evidence::general(format!("every {pods} pod stayed within {}", groups.join(", "))));
                }
                (ok, format!("{n} {pods} pod(s) bound outside {} (at least {min} expected)", groups.join(", ")))
            }
            other => unreachable!("Hits judges saw/boundOutside, not {}", other.label()),
        }
    }
}

/// Pod selection by name alone (for pods that were never created).
fn pod_name_selected(sel: &PodSel, key: &str) -> bool {
    match sel {
        PodSel::All | PodSel::Spark => true,
        PodSel::Executors => key.contains("-exec-"),
        PodSel::Drivers => key.ends_with("-driver"),
        PodSel::Component(_) => false,
        PodSel::Pattern(p) => glob_match(p, key) || glob_match(p, key.rsplit('/').next().unwrap_or(key)),
    }
}

/// The selected pods are still Pending at the end (for a scheduling reason, if given).
pub struct Pending {
    /// Pods.
    pub pods: PodSel,
    /// Text expected in the last FailedScheduling message.
    pub reason: Option<String>,
}

impl Check for Pending {
    fn finish(&mut self, facts: &Facts, tally: &mut Tally) -> (bool, String) {
        let pods = &self.pods;
        let selected: Vec<(&Text, &PodView)> = facts.view.pods.iter().filter(|(k, p)| p.deleted.is_none() && pods.matches(k, p)).collect();
        if selected.is_empty() {
            tally.violate(Evidence::general(format!("no {pods} pods exist at the end")));
            return (false, format!("no {pods} pods to check"));
        }
        let mut example = None;
        for (k, p) in &selected {
            let msg = p.unschedulable.as_ref().map(|(_, m)| &**m);
            let ok = p.is_pending() && self.reason.as_deref().is_none_or(|r| msg.is_some_and(|m| m.contains(r)));
            let ev = Evidence {
                t: p.unschedulable.as_ref().map(|(t, _)| *t).or(Some(p.created)),
                app: p.app.as_deref().map(String::from),
                pod: Some(k.to_string()),
                node: p.node().map(String::from),
                detail: match (p.is_pending(), msg) {
                    (true, Some(m)) => format!("Pending: {m}"),
                    (true, None) => "Pending (no scheduling failure recorded)".into(),
                    (false, _) => format!("is {} on {}", p.phase(), p.node().unwrap_or("-")),
                },
            };
            if ok {
                example.get_or_insert(ev);
            } else {
                tally.violate(ev);
            }
        }
        if tally.violations == 0 {
            tally.evidence.extend(example);
            (true, format!("{} {pods} pod(s) Pending at the end", selected.len()))
        } else {
            (false, format!("{}/{} {pods} pod(s) not Pending as expected", tally.violations, selected.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use sparkrig_model::podspec::SparkRole;
    use sparkrig_model::scenario::{Expectation, PodSel};
    use sparkrig_model::trace::Event;

    #[test]
    fn saw_counts_each_incarnation_once_and_sees_pods_that_were_never_created() {
        let waiting = |pod: &str| Event::PodWaiting { pod: pod.into(), reason: "ImagePullBackOff".into(), message: "back-off 20s".into() };
        let recs = [
            at(0, spark_pod("default/a-driver", "default/a", SparkRole::Driver)),
            at(10, waiting("default/a-driver")),
            at(30, waiting("default/a-driver")),
            at(40, Event::PodDeleted { pod: "default/a-driver".into(), reason: "deleted".into() }),
            at(50, spark_pod("default/a-driver", "default/a", SparkRole::Driver)),
            at(60, waiting("default/a-driver")),
        ];
        let o = judge(Expectation::PodsSaw { pods: PodSel::Drivers, text: "ImagePullBackOff".into(), min: 2 }, &recs);
        assert!(o.passed, "{}", o.message);
        assert_eq!(o.message, "2 driver pod(s) showed \"ImagePullBackOff\" (at least 2 expected)");
        assert_eq!(o.evidence.iter().map(|e| e.t.unwrap().as_ms()).collect::<Vec<_>>(), [10_000, 60_000]);
        let refused =
            Event::PodCreateFailed { app: "default/b".into(), pod: "default/b-exec-1".into(), message: "failed calling webhook".into() };
        let o = judge(Expectation::PodsSaw { pods: PodSel::Executors, text: "webhook".into(), min: 1 }, &[at(5, refused)]);
        assert!(o.passed);
        assert_eq!(o.evidence[0].detail, "create failed: failed calling webhook");
    }

    #[test]
    fn bound_outside_and_pending_report_where_and_why() {
        let recs = [
            at(0, node("infra-1", "infra", false, None)),
            at(1, spark_pod("default/a-exec-1", "default/a", SparkRole::Executor)),
            at(1, spark_pod("default/a-exec-2", "default/a", SparkRole::Executor)),
            at(2, Event::PodScheduled { pod: "default/a-exec-1".into(), node: "infra-1".into() }),
            at(
                3,
                Event::PodUnschedulable { pod: "default/a-exec-2".into(), message: "0/1 nodes are available: 1 Insufficient cpu.".into() },
            ),
        ];
        let o = judge(Expectation::BoundOutside { pods: PodSel::Executors, groups: vec!["spark-executor".into()], min: 1 }, &recs);
        assert!(o.passed);
        assert_eq!(o.evidence[0].detail, "bound to infra-1 in nodegroup infra");
        let o = judge(Expectation::PodsPending { pods: PodSel::Executors, reason: Some("Insufficient cpu".into()) }, &recs);
        assert!(!o.passed, "one executor is bound");
        assert_eq!(o.message, "1/2 executor pod(s) not Pending as expected");
        assert_eq!(
            o.evidence[0].detail, "Pending (no scheduling failure recorded)",
            "bound, not yet running: Pending, but not for the reason expected"
        );
    }
}
