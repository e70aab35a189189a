//! Runs a plan on a backend, teeing the trace into the verdict, an optional JSON-lines file and
//! any extra sink (progress display).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use sparkrig_model::scenario::Scenario;
use sparkrig_model::trace::{JsonlWriter, Record, Sink};

use crate::backend::{Backend, BackendError, RunInfo};
use crate::verdict::{Evaluator, Verdict};

/// The run could not produce a verdict (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The trace file could not be written.
    #[error("cannot write trace {path}: {source}")]
    Trace {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

struct Tee<'a> {
    sinks: Vec<&'a mut dyn Sink>,
}

impl Sink for Tee<'_> {
    fn record(&mut self, rec: &Record) {
        for s in self.sinks.iter_mut() {
            s.record(rec);
        }
    }

    fn flush(&mut self) {
        for s in self.sinks.iter_mut() {
            s.flush();
        }
    }
}

/// Runs `plan` on `backend`, writing the trace to `trace` if given.
pub fn run(
    plan: &Scenario,
    backend: &mut dyn Backend,
    trace: Option<&Path>,
    extra: Option<&mut dyn Sink>,
) -> Result<(Verdict, RunInfo), RunError> {
    let mut evaluator = Evaluator::new(plan);
    let trace_err = |e, p: &Path| RunError::Trace { path: p.display().to_string(), source: e };
    let mut writer = match trace {
        Some(p) => Some(JsonlWriter::new(BufWriter::new(File::create(p).map_err(|e| trace_err(e, p))?))),
        None => None,
    };
    let info = {
        let mut tee = Tee { sinks: vec![&mut evaluator] };
        if let Some(w) = writer.as_mut() {
            tee.sinks.push(w);
        }
        if let Some(x) = extra {
            tee.sinks.push(x);
        }
        backend.run(plan, &mut tee)?
    };
    if let (Some(w), Some(p)) = (writer, trace) {
        w.finish().map_err(|e| trace_err(e, p))?;
    }
    Ok((evaluator.finish(), info))
}

/// Recomputes a verdict from a saved trace.
pub fn verdict_from_trace(plan: &Scenario, trace: &Path) -> Result<Verdict, String> {
    verdict_from_trace_with(plan, trace, None)
}

/// Recomputes a verdict from a saved trace, feeding every record to `extra` too (the HTML
/// report's timeline).
pub fn verdict_from_trace_with(plan: &Scenario, trace: &Path, mut extra: Option<&mut dyn Sink>) -> Result<Verdict, String> {
    let file = File::open(trace).map_err(|e| format!("cannot read {}: {e}", trace.display()))?;
    let mut evaluator = Evaluator::new(plan);
    sparkrig_model::trace::read_jsonl(std::io::BufReader::new(file), |r| {
        evaluator.record(&r);
        if let Some(x) = extra.as_mut() {
            x.record(&r);
        }
    })
    .map_err(|e| format!("{}: {e}", trace.display()))?;
    Ok(evaluator.finish())
}
