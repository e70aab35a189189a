//! sparkrig's runner: backends, scenario execution, verdicts and reports.
//!
//! ```text
//! scenario ──files::load_scenario──▶ Plan ──runner::run(backend)──▶ trace ──Evaluator──▶ Verdict ──report::*
//! ```

pub mod backend;
pub mod bench;
pub mod files;
pub mod metrics;
pub mod report;
pub mod runner;
pub mod verdict;
