//! sparkrig as a library: rehearse a Spark-on-Kubernetes platform from your own tests.
//!
//! A [`Rehearsal`] is a scenario (a file or a YAML string) with overrides; [`Rehearsal::run`]
//! runs it on the embedded simulator ([`Rehearsal::run_on`] takes any [`Backend`]) and returns a
//! [`Report`]: the verdict, its failures with their evidence, and the same reports the command
//! line writes (text, JUnit XML, JSON, HTML).
//!
//! ```
//! use sparkrig::Rehearsal;
//!
//! let report = Rehearsal::from_file("scenarios/smoke.yaml").with_seed(7).run()?;
//! report.assert_passed();
//! assert!(report.summary().contains("PASSED"));
//! # Ok::<(), sparkrig::Error>(())
//! ```
//!
//! A failed rehearsal says what did not hold, with which pod, node and instant:
//!
//! ```
//! let text = std::fs::read_to_string("scenarios/smoke.yaml")?
//!     .replace("executors-only-on: spark-executor", "executors-only-on: spark-driver");
//! let report = sparkrig::Rehearsal::from_yaml(text).with_base_dir("scenarios").run()?;
//! assert!(!report.passed());
//! let failure = &report.failures()[0];
//! assert_eq!(failure.name, "executors-only-on: spark-driver");
//! assert!(failure.evidence[0].pod.as_deref().is_some_and(|p| p.contains("-exec-")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The binary (`sparkrig`) lives in the same package; this facade is what its `run` command
//! does, without the command line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sparkrig_run::files::FsFiles;
use sparkrig_run::report;

pub use sparkrig_model::scenario::Scenario;
pub use sparkrig_model::source::Diagnostics;
pub use sparkrig_run::backend::{Backend, BackendError, RunInfo};
pub use sparkrig_run::report::Timeline;
pub use sparkrig_run::verdict::{Evidence, Outcome, Verdict};
pub use sparkrig_sim::SimBackend;

/// Why a rehearsal could not give a verdict.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scenario (or a file it references) is not valid; every problem with its file, line,
    /// column and field. Fatal: fix the scenario.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// The backend could not run the plan. Whether retrying helps depends on the backend (a
    /// real cluster may have been unreachable; the simulator refusing a plan is fatal).
    #[error("{scenario}: {message}")]
    Run {
        /// Scenario name.
        scenario: String,
        /// What failed.
        message: String,
    },
}

#[derive(Debug, Clone)]
enum Input {
    File(PathBuf),
    Yaml(String),
}

/// A scenario to rehearse, with overrides. Build it with [`Rehearsal::from_file`] or
/// [`Rehearsal::from_yaml`]; nothing is read until [`Rehearsal::plan`] or a run.
#[derive(Debug, Clone)]
#[must_use]
pub struct Rehearsal {
    input: Input,
    seed: Option<u64>,
    base_dir: Option<PathBuf>,
}

impl Rehearsal {
    /// A scenario file; the topologies and manifests it names resolve from its folder (or any
    /// parent folder), as on the command line.
    pub fn from_file(path: impl AsRef<Path>) -> Rehearsal {
        Rehearsal { input: Input::File(path.as_ref().to_path_buf()), seed: None, base_dir: None }
    }

    /// A scenario written inline; the files it names resolve from the current directory unless
    /// [`Rehearsal::with_base_dir`] says otherwise.
    pub fn from_yaml(text: impl Into<String>) -> Rehearsal {
        Rehearsal { input: Input::Yaml(text.into()), seed: None, base_dir: None }
    }

    /// The simulator's seed (and of seeded arrivals), instead of the scenario's.
    pub fn with_seed(mut self, seed: u64) -> Rehearsal {
        self.seed = Some(seed);
        self
    }

    /// The folder relative references (`topology:`, `app:`) resolve from, it and its parents.
    pub fn with_base_dir(mut self, dir: impl AsRef<Path>) -> Rehearsal {
        self.base_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Reads and validates the scenario: the plan a backend runs.
    pub fn plan(&self) -> Result<Scenario, Error> {
        let loaded = match (&self.input, &self.base_dir) {
            (Input::File(p), None) => sparkrig_run::files::load_scenario(p, self.seed),
            (Input::File(p), Some(base)) => match std::fs::read_to_string(p) {
                Ok(text) => sparkrig_model::scenario::load_str(&p.display().to_string(), &text, base, &FsFiles, self.seed),
                // The loader's own message for an unreadable file.
                Err(_) => sparkrig_run::files::load_scenario(p, self.seed),
            },
            (Input::Yaml(text), base) => sparkrig_model::scenario::load_str(
                "<inline scenario>",
                text,
                base.as_deref().unwrap_or(Path::new(".")),
                &FsFiles,
                self.seed,
            ),
        };
        loaded.map_err(Error::Invalid)
    }

    /// Runs it on the embedded simulator.
    pub fn run(&self) -> Result<Report, Error> {
        self.run_on(&mut SimBackend)
    }

    /// Runs it on a backend (the simulator, or a real cluster's from `sparkrig-real`).
    pub fn run_on(&self, backend: &mut dyn Backend) -> Result<Report, Error> {
        let plan = self.plan()?;
        let mut timeline = Timeline::new();
        let (verdict, _) = sparkrig_run::runner::run(&plan, backend, None, Some(&mut timeline))
            .map_err(|e| Error::Run { scenario: plan.name.clone(), message: e.to_string() })?;
        Ok(Report { verdict, timeline, file: matches!(self.input, Input::File(_)).then(|| plan.file.clone()) })
    }
}

/// What a rehearsal found: the verdict and the timeline of the run.
#[derive(Debug)]
pub struct Report {
    verdict: Verdict,
    timeline: Timeline,
    file: Option<String>,
}

impl Report {
    /// Every expectation held and every step completed.
    pub fn passed(&self) -> bool {
        self.verdict.passed
    }

    /// The verdict: each expectation's result with its evidence, and the metrics.
    pub fn verdict(&self) -> &Verdict {
        &self.verdict
    }

    /// The expectations (and the timeline, if a step failed) that did not hold.
    pub fn failures(&self) -> Vec<&Outcome> {
        self.verdict.results.iter().filter(|r| !r.passed).collect()
    }

    /// The summary `sparkrig run` prints (without colours).
    pub fn summary(&self) -> String {
        report::terminal(&self.verdict, false)
    }

    /// JUnit XML: one testsuite, a testcase per expectation.
    pub fn junit(&self) -> String {
        report::junit(&self.verdict)
    }

    /// The verdict and metrics as JSON.
    pub fn json(&self) -> String {
        report::json(&self.verdict)
    }

    /// The HTML report: one self-contained page with the verdict and the run's timeline.
    pub fn html(&self) -> String {
        report::html(&self.verdict, &self.timeline)
    }

    /// Panics unless the rehearsal passed, listing each failed expectation with its evidence and
    /// the seed to replay it with.
    #[track_caller]
    pub fn assert_passed(&self) {
        if self.passed() {
            return;
        }
        let v = &self.verdict;
        let failures = self.failures();
        let mut msg = format!("sparkrig scenario `{}` failed: {} of {} checks did not hold\n", v.scenario, failures.len(), v.results.len());
        for o in failures {
            let _ = writeln!(msg, "  ✗ {}: {}", o.name, o.message);
            for e in &o.evidence {
                let _ = writeln!(msg, "      {}", report::evidence_line(e));
            }
            if o.more > 0 {
                let _ = writeln!(msg, "      ... and {} more", o.more);
            }
        }
        let seed = v.seed.map_or(String::new(), |s| format!(" --seed {s}"));
        match &self.file {
            Some(f) => {
                let _ = write!(msg, "replay: sparkrig run {f}{seed}");
            }
            None => {
                let _ = write!(msg, "replay: the same scenario with .with_seed({})", v.seed.unwrap_or_default());
            }
        }
        panic!("{msg}");
    }
}

// The README's Rust examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
