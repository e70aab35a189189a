//! JUnit XML: one testsuite per scenario, one testcase per expectation (plus the timeline).

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::terminal;
use crate::verdict::Verdict;

/// The verdict as JUnit XML.
pub fn junit(v: &Verdict) -> String {
    let mut report = Report::new("sparkrig");
    let mut suite = TestSuite::new(v.scenario.clone());
    for r in &v.results {
        let status = if r.passed {
            TestCaseStatus::success()
        } else {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_message(r.message.clone());
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
    report.add_test_suite(suite);
    report.to_string().expect("JUnit report serialises")
}
