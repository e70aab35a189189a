//! JUnit XML: one testsuite per scenario, one testcase per expectation (plus the timeline);
//! a failed expectation's message is its summary and its evidence, one line each.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::terminal;
use crate::suite::{CaseResult, Status};
use crate::verdict::Verdict;

fn evidence_lines(r: &crate::verdict::Outcome) -> Vec<String> {
    let mut lines: Vec<String> = r.evidence.iter().map(terminal::evidence_line).collect();
    if r.more > 0 {
        lines.push(format!("... and {} more", r.more));
    }
    lines
}

/// The testsuite of one verdict.
fn suite_of(v: &Verdict) -> TestSuite {
    let mut suite = TestSuite::new(v.scenario.clone());
    for r in &v.results {
        let status = if r.passed {
            TestCaseStatus::success()
        } else {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            // CI front ends show the message attribute on one line and the body on demand:
            // the message carries the summary and the evidence as text, the body the same
            // evidence as JSON for tools.
            let mut message = r.message.clone();
            for line in evidence_lines(r) {
                message.push_str("\n  ");
                message.push_str(&line);
            }
            st.set_message(message);
            st.set_type(r.kind.clone());
            let body: Vec<String> = r.evidence.iter().map(|e| serde_json::to_string(e).expect("evidence serialises")).collect();
            st.set_description(body.join("\n"));
            st
        };
        let mut tc = TestCase::new(r.name.clone(), status);
        tc.set_classname(format!("{}.{}", v.scenario, r.kind));
        suite.add_test_case(tc);
    }
    suite.set_system_out(terminal(v, false));
    suite
}

/// The verdict as JUnit XML.
pub fn junit(v: &Verdict) -> String {
    let mut report = Report::new("sparkrig");
    report.add_test_suite(suite_of(v));
    report.to_string().expect("JUnit report serialises")
}

/// A suite's results as one JUnit XML file: a testsuite per scenario (named after it, with its
/// file and wall time); a scenario that could not run is a testsuite with one errored testcase.
pub fn junit_suite(results: &[CaseResult]) -> String {
    let mut report = Report::new("sparkrig");
    for r in results {
        let mut suite = match (&r.verdict, r.status) {
            (Some(v), Status::Passed | Status::Failed) => suite_of(v),
            _ => {
                let mut suite = TestSuite::new(r.case.name.clone());
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
                st.set_message(r.error.clone().unwrap_or_default());
                st.set_type("harness");
                let mut tc = TestCase::new("run", st);
                tc.set_classname(format!("{}.run", r.case.name));
                suite.add_test_case(tc);
                suite
            }
        };
        suite.set_time(r.wall);
        suite.add_property(quick_junit::Property::new("file", r.case.file.display().to_string()));
        suite.add_property(quick_junit::Property::new("seed", r.seed.to_string()));
        report.add_test_suite(suite);
    }
    report.to_string().expect("JUnit report serialises")
}
