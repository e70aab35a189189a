//! Backends execute a plan and produce a trace; nothing else.
//!
//! Entry point: [`Backend`]. [`SimBackend`] is the embedded simulator (the default).

use std::path::{Path, PathBuf};

use sparkrig_model::scenario::Scenario;
use sparkrig_model::time::Time;
use sparkrig_model::trace::Sink;
use sparkrig_sim::Simulation;

use crate::verdict::Verdict;

/// How a backend run ended, beyond the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// Time of the last record.
    pub end: Time,
    /// Why it stopped.
    pub reason: String,
    /// Backend counters (events, pods, ...), for `--verbose` and benchmarks.
    pub stats: Vec<(&'static str, u64)>,
}

/// The backend could not run the plan (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The simulator refused the plan.
    #[error(transparent)]
    Sim(#[from] sparkrig_sim::SimError),
    /// Anything else, with what to do about it.
    #[error("{0}")]
    Other(String),
}

/// Executes plans.
pub trait Backend {
    /// `sim`, `kind`, `kube`.
    fn name(&self) -> &'static str;
    /// Runs the plan, streaming the trace into `sink`.
    fn run(&mut self, plan: &Scenario, sink: &mut dyn Sink) -> Result<RunInfo, BackendError>;
    /// After a verdict that did not pass: saves what explains it (pod logs, events) under `dir`
    /// and returns the files written. Nothing to save on the simulator: its trace is complete.
    fn diagnose(&mut self, _verdict: &Verdict, _dir: &Path) -> Vec<PathBuf> {
        Vec::new()
    }
    /// Tears down what the backend set up (clusters, containers), unless told to keep it.
    fn finish(&mut self) -> Result<(), BackendError> {
        Ok(())
    }
}

/// The embedded simulator.
#[derive(Debug, Default, Clone, Copy)]
pub struct SimBackend;

impl Backend for SimBackend {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn run(&mut self, plan: &Scenario, sink: &mut dyn Sink) -> Result<RunInfo, BackendError> {
        let mut sim = Simulation::new(plan)?;
        let s = sim.run(sink);
        Ok(RunInfo {
            end: s.end,
            reason: s.reason,
            stats: vec![("events", s.events), ("pods_created", s.pods_created), ("peak_pods", s.peak_pods)],
        })
    }
}
