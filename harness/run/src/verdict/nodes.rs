//! Node counts: a nodegroup's size at its peak or at the end, within bounds.

use super::{Check, Evidence, Facts, Tally};

/// A nodegroup's size.
pub struct GroupSize {
    /// Group.
    pub group: String,
    /// The peak (else: the end).
    pub peak: bool,
    /// At least.
    pub min: Option<u32>,
    /// At most.
    pub max: Option<u32>,
}

impl Check for GroupSize {
    fn finish(&mut self, facts: &Facts, tally: &mut Tally) -> (bool, String) {
        let group = &self.group;
        let (now, most) = facts.group_nodes.get(group).copied().unwrap_or_default();
        let n = if self.peak { most } else { now };
        let ok = self.min.is_none_or(|m| n >= m) && self.max.is_none_or(|m| n <= m);
        if !ok {
            tally.violate(Evidence::general(format!("{group} had {n} node(s) {}", if self.peak { "at its peak" } else { "at the end" })));
        }
        (ok, format!("{group}: {n} node(s) {} (peak {most}, end {now})", if self.peak { "at peak" } else { "at the end" }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use sparkrig_model::scenario::Expectation;
    use sparkrig_model::trace::Event;

    #[test]
    fn peak_and_final_sizes_follow_adds_and_removals() {
        let recs = [
            at(0, node("e-1", "spark-executor", true, None)),
            at(10, node("e-2", "spark-executor", true, None)),
            at(20, node("e-3", "spark-executor", true, None)),
            at(30, Event::NodeRemoved { node: "e-1".into(), reason: "scaled down".into() }),
            at(40, Event::NodeRemoved { node: "e-2".into(), reason: "scaled down".into() }),
        ];
        let peak = judge(Expectation::GroupSize { group: "spark-executor".into(), peak: true, min: Some(3), max: Some(3) }, &recs);
        assert!(peak.passed, "{}", peak.message);
        assert_eq!(peak.message, "spark-executor: 3 node(s) at peak (peak 3, end 1)");
        let end = judge(Expectation::GroupSize { group: "spark-executor".into(), peak: false, min: None, max: Some(0) }, &recs);
        assert!(!end.passed);
        assert_eq!(end.evidence[0].detail, "spark-executor had 1 node(s) at the end");
    }
}
