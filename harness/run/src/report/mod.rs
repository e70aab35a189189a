//! Reports of a verdict: a terminal summary a person can act on, JUnit XML (one testcase per
//! expectation) and JSON; and the benchmark table and comparison.

mod bench;
mod junit;
mod terminal;

pub use bench::{bench_comparison, bench_table};
pub use junit::junit;
pub use terminal::terminal;

use crate::verdict::Verdict;

/// The verdict and metrics as pretty JSON.
pub fn json(v: &Verdict) -> String {
    serde_json::to_string_pretty(v).expect("verdicts serialise")
}
