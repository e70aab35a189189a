//! Reports of a verdict: a terminal summary a person can act on, JUnit XML (one testcase per
//! expectation) and JSON.

mod junit;
mod terminal;

pub use junit::junit;
pub use terminal::terminal;

use crate::verdict::Verdict;

/// The verdict and metrics as pretty JSON.
pub fn json(v: &Verdict) -> String {
    serde_json::to_string_pretty(v).expect("verdicts serialise")
}
