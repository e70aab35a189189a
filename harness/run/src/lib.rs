//! sparkrig's runner: backends, scenario execution, verdicts and reports.
//!
//! ```text
//! scenario ──files::load_scenario──▶ Plan ──runner::run(backend)──▶ trace ──Evaluator──▶ Verdict ──report::*
//! ```
//!
//! [`suite`] runs many scenarios as one suite (`sparkrig test`).

pub mod backend;
pub mod bench;
pub mod files;
pub mod metrics;
pub mod report;
pub mod runner;
pub mod suite;
pub mod verdict;
