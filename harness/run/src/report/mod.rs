//! Reports of a verdict: a terminal summary a person can act on, JUnit XML (one testcase per
//! expectation), JSON and an HTML page with the run's timeline; and the benchmark table and
//! comparison.

mod bench;
pub mod html;
mod junit;
mod terminal;

pub use bench::{bench_comparison, bench_table};
pub use html::{Timeline, html};
pub use junit::{junit, junit_suite};
pub use terminal::{evidence_line, terminal};

use crate::verdict::Verdict;

/// The verdict and metrics as pretty JSON.
pub fn json(v: &Verdict) -> String {
    serde_json::to_string_pretty(v).expect("verdicts serialise")
}
