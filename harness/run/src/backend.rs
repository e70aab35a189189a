//! Backends execute a plan and produce a trace; nothing else.
//!
//! Entry point: [`Backend`]. The embedded simulator's backend lives with the simulator
//! (`sparkrig_sim::SimBackend`), the real ones in `sparkrig-real`; neither links the other.

use std::path::{Path, PathBuf};

use sparkrig_model::scenario::Scenario;
use sparkrig_model::time::Time;
use sparkrig_model::trace::Sink;

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
    /// The backend failed; the source says where (the simulator refused the plan, the API
    /// server or Docker answered an error, a program failed).
    #[error(transparent)]
    Failed(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The backend refuses the plan or its options, with what to do about it.
    #[error("{0}")]
    Other(String),
}

impl BackendError {
    /// Wraps a backend's own error.
    pub fn failed(e: impl std::error::Error + Send + Sync + 'static) -> BackendError {
        BackendError::Failed(Box::new(e))
    }
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
