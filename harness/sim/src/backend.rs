//! The embedded simulator as a [`Backend`].

use sparkrig_model::scenario::Scenario;
use sparkrig_model::trace::Sink;
use sparkrig_run::backend::{Backend, BackendError, RunInfo};

use crate::world::Simulation;

/// The embedded simulator.
#[derive(Debug, Default, Clone, Copy)]
pub struct SimBackend;

impl Backend for SimBackend {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn run(&mut self, plan: &Scenario, sink: &mut dyn Sink) -> Result<RunInfo, BackendError> {
        let mut sim = Simulation::new(plan).map_err(BackendError::failed)?;
        let s = sim.run(sink);
        Ok(RunInfo {
            end: s.end,
            reason: s.reason,
            stats: vec![("events", s.events), ("pods_created", s.pods_created), ("peak_pods", s.peak_pods)],
        })
    }
}
