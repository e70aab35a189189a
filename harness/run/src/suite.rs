//! Scenarios run as one suite: discovery in files and folders, a name filter, parallel runs,
//! one result per scenario as it finishes.
//!
//! ```text
//! paths ──discover──▶ [Case] ──filter──▶ ──load──▶ [(Case, Scenario)] ──run(jobs, backend per case)──▶ [CaseResult]
//! ```
//!
//! Entry points: [`discover`], [`filter`], [`load`], [`run`]. A folder contributes every YAML
//! file (`.yaml`, `.yml`, searched recursively, hidden folders and `target/` skipped) whose
//! document is a sparkrig scenario: `kind: Scenario`, or, as the loader accepts files without
//! `kind`, a mapping with `name` and `topology` and no `kind`. A file named on its own is always
//! taken as a scenario, so that a broken one is reported rather than skipped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;
use sparkrig_model::scenario::Scenario;
use sparkrig_model::source::{Diagnostics, Source};

use crate::backend::{Backend, BackendError};
use crate::files::load_scenario;
use crate::report::Timeline;
use crate::runner;
use crate::verdict::Verdict;

/// One scenario file of the suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Case {
    /// The file, as found (relative paths stay relative).
    pub file: PathBuf,
    /// The scenario's `name` (the file stem when the file has none).
    pub name: String,
    /// A name unique within the suite for per-scenario report files (`<slug>.html`): the file
    /// stem, with its parent folders prepended while two cases would share it.
    pub slug: String,
}

/// The suite could not be assembled (exit code 2): each names the path at fault.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// A path on the command line does not exist. Fatal: fix the path.
    #[error("{}: no such file or folder", path.display())]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// A file or folder could not be read. Fatal.
    #[error("{}: cannot read: {source}", path.display())]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A YAML file in a folder does not parse, so whether it is a scenario cannot be told.
    /// Fatal: fix the file or move it out of the folder.
    #[error("{file}:{line}:{column}: not valid YAML, so it cannot be told whether it is a scenario: {message}")]
    BadYaml {
        /// File.
        file: String,
        /// Line (1-based; 0 when unknown).
        line: usize,
        /// Column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// Nothing to run.
    #[error("no scenario found in {0} (a scenario is a YAML file with `kind: Scenario`)")]
    Empty(String),
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

/// The scenario marker, and the name, of a YAML file's first document; `Ok(None)` when it is
/// YAML but not a scenario.
fn scenario_name(path: &Path) -> Result<Option<String>, SuiteError> {
    let text = std::fs::read_to_string(path).map_err(|source| SuiteError::Unreadable { path: path.to_path_buf(), source })?;
    let src = Source::new(path.display().to_string(), text);
    let docs = src.documents().map_err(|d| SuiteError::BadYaml {
        file: d.file.clone(),
        line: d.line,
        column: d.column,
        message: d.message.clone(),
    })?;
    let Some(serde_json::Value::Object(doc)) = docs.into_iter().next().map(|(_, v)| v) else { return Ok(None) };
    let scenario = match doc.get("kind") {
        Some(k) => k == "Scenario",
        None => doc.contains_key("name") && doc.contains_key("topology"),
    };
    if !scenario {
        return Ok(None);
    }
    Ok(Some(doc.get("name").and_then(|n| n.as_str()).map_or_else(|| stem(path), str::to_string)))
}

fn stem(p: &Path) -> String {
    p.file_stem().map_or_else(|| p.display().to_string(), |s| s.to_string_lossy().into_owned())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SuiteError> {
    let unreadable = |source| SuiteError::Unreadable { path: dir.to_path_buf(), source };
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(unreadable)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>().map_err(unreadable)?;
    entries.sort();
    for p in entries {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            if name != "target" {
                walk(&p, out)?;
            }
        } else if is_yaml(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Makes the backend a scenario runs on (one per run: runs go in parallel).
pub type MakeBackend<'a> = dyn Fn(&Scenario) -> Result<Box<dyn Backend>, BackendError> + Sync + 'a;

/// Finds the scenarios under `paths` (files taken as they are, folders searched), in the order
/// given, each file once.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<Case>, SuiteError> {
    let mut seen = BTreeSet::new();
    let mut cases: Vec<Case> = Vec::new();
    for path in paths {
        if !path.exists() {
            return Err(SuiteError::Missing { path: path.clone() });
        }
        let mut found = Vec::new();
        if path.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files)?;
            for f in files {
                if let Some(name) = scenario_name(&f)? {
                    found.push((f, name));
                }
            }
        } else {
            // Named on its own: a scenario, whatever it holds (the loader says what is wrong).
            let name = scenario_name(path).ok().flatten().unwrap_or_else(|| stem(path));
            found.push((path.clone(), name));
        }
        for (file, name) in found {
            let key = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
            if seen.insert(key) {
                cases.push(Case { slug: String::new(), file, name });
            }
        }
    }
    if cases.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(SuiteError::Empty(shown.join(", ")));
    }
    assign_slugs(&mut cases);
    Ok(cases)
}

/// File stems, with parent folders prepended (`a-b-smoke`) where stems collide.
fn assign_slugs(cases: &mut [Case]) {
    let parts: Vec<Vec<String>> = cases
        .iter()
        .map(|c| {
            let mut p: Vec<String> = c.file.with_extension("").components().map(|x| x.as_os_str().to_string_lossy().into_owned()).collect();
            p.retain(|s| s != "." && s != ".." && s != "/");
            p
        })
        .collect();
    let slug = |p: &Vec<String>, depth: usize| p[p.len().saturating_sub(depth)..].join("-");
    let mut depth = vec![1usize; cases.len()];
    loop {
        let slugs: Vec<String> = parts.iter().zip(&depth).map(|(p, d)| slug(p, *d)).collect();
        let mut changed = false;
        for i in 0..cases.len() {
            let clash = slugs.iter().enumerate().any(|(j, s)| j != i && *s == slugs[i]);
            if clash && depth[i] < parts[i].len() {
                depth[i] += 1;
                changed = true;
            }
        }
        if !changed {
            for (i, c) in cases.iter_mut().enumerate() {
                c.slug = slugs[i].clone();
            }
            // Identical paths down to the root cannot happen (files are unique); numbered
            // suffixes would still keep the slugs apart.
            let mut used = BTreeSet::new();
            for c in cases.iter_mut() {
                let base = c.slug.clone();
                let mut k = 2;
                while !used.insert(c.slug.clone()) {
                    c.slug = format!("{base}-{k}");
                    k += 1;
                }
            }
            return;
        }
    }
}

/// Keeps the cases whose name or file path matches.
pub fn filter(cases: Vec<Case>, re: &regex::Regex) -> Vec<Case> {
    cases.into_iter().filter(|c| re.is_match(&c.name) || re.is_match(&c.file.display().to_string())).collect()
}

/// Loads and validates every case (`seed` overrides each scenario's). All problems are
/// returned, so one run of `sparkrig test` shows every broken file.
pub fn load(cases: Vec<Case>, seed: Option<u64>) -> Result<Vec<(Case, Scenario)>, Vec<Diagnostics>> {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for c in cases {
        match load_scenario(&c.file, seed) {
            Ok(s) => ok.push((c, s)),
            Err(d) => bad.push(d),
        }
    }
    if bad.is_empty() { Ok(ok) } else { Err(bad) }
}

/// How the suite runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Scenarios at once (at least 1).
    pub jobs: usize,
    /// Render each run's HTML report ([`CaseResult::html`]).
    pub html: bool,
}

/// How one scenario came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every expectation held.
    Passed,
    /// An expectation failed (exit code 1).
    Failed,
    /// The backend could not run it (exit code 2).
    Error,
}

/// The result of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// Which scenario.
    #[serde(flatten)]
    pub case: Case,
    /// Passed, failed or error.
    pub status: Status,
    /// The seed it ran with.
    pub seed: u64,
    /// The verdict (none after an error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// What went wrong (errors only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall-clock time of the run.
    #[serde(serialize_with = "secs")]
    pub wall: Duration,
    /// The HTML report, when asked for.
    #[serde(skip)]
    pub html: Option<String>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// Runs the cases, `opts.jobs` at a time, each on a backend from `make` (called on the worker
/// that runs it). `done` sees each result as it finishes; the results come back in the cases'
/// order.
pub fn run(cases: &[(Case, Scenario)], opts: Options, make: &MakeBackend<'_>, mut done: impl FnMut(&CaseResult)) -> Vec<CaseResult> {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, CaseResult)>();
    let workers = opts.jobs.clamp(1, cases.len().max(1));
    let mut results: Vec<Option<CaseResult>> = vec![None; cases.len()];
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((case, plan)) = cases.get(i) else { break };
                    if tx.send((i, run_one(case, plan, opts, make))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, r) in rx {
            done(&r);
            results[i] = Some(r);
        }
    });
    results.into_iter().map(|r| r.expect("every case reports a result")).collect()
}

fn run_one(case: &Case, plan: &Scenario, opts: Options, make: &MakeBackend) -> CaseResult {
    let start = Instant::now();
    let mut timeline = opts.html.then(Timeline::new);
    let outcome = make(plan).map_err(|e| e.to_string()).and_then(|mut backend| {
        let ran = runner::run(plan, backend.as_mut(), None, timeline.as_mut().map(|t| t as &mut dyn sparkrig_model::trace::Sink));
        let finished = backend.finish();
        let (v, _) = ran.map_err(|e| e.to_string())?;
        finished.map_err(|e| format!("after the run: {e}"))?;
        Ok(v)
    });
    let wall = start.elapsed();
    let base = CaseResult { case: case.clone(), status: Status::Error, seed: plan.seed, verdict: None, error: None, wall, html: None };
    match outcome {
        Ok(v) => CaseResult {
            status: if v.passed { Status::Passed } else { Status::Failed },
            html: timeline.map(|t| crate::report::html(&v, &t)),
            verdict: Some(v),
            ..base
        },
        Err(e) => CaseResult { error: Some(e), ..base },
    }
}

/// Counts of a finished suite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Errors.
    pub errors: usize,
}

impl Summary {
    /// Counts the results.
    pub fn of(results: &[CaseResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            match r.status {
                Status::Passed => s.passed += 1,
                Status::Failed => s.failed += 1,
                Status::Error => s.errors += 1,
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(file: &str) -> Case {
        Case { file: file.into(), name: String::new(), slug: String::new() }
    }

    #[test]
    fn slugs_are_stems_made_unique_by_their_folders() {
        let mut cases = vec![case("scenarios/smoke.yaml"), case("a/x/smoke.yaml"), case("b/x/smoke.yml"), case("scenarios/pod-kill.yaml")];
        assign_slugs(&mut cases);
        let slugs: Vec<&str> = cases.iter().map(|c| c.slug.as_str()).collect();
        assert_eq!(slugs, ["scenarios-smoke", "a-x-smoke", "b-x-smoke", "pod-kill"]);
    }

    #[test]
    fn discovery_takes_scenarios_and_skips_other_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let w = |p: &str, s: &str| {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, s).unwrap();
        };
        w("a.yaml", "apiVersion: sparkrig.io/v1alpha1\nkind: Scenario\nname: alpha\ntopology: t\n");
        w("b.yml", "name: beta\ntopology: t\n");
        w("topo.yaml", "kind: Topology\nname: t\n");
        w("app.yaml", "apiVersion: sparkoperator.k8s.io/v1beta2\nkind: SparkApplication\n");
        w("notes.txt", "kind: Scenario\n");
        w("sub/c.yaml", "kind: Scenario\nname: gamma\n");
        w(".hidden/d.yaml", "kind: Scenario\nname: delta\n");
        w("target/e.yaml", "kind: Scenario\nname: epsilon\n");
        let cases = discover(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["alpha", "beta", "gamma"]);

        // Named twice (folder and file): once.
        let again = discover(&[dir.path().join("a.yaml"), dir.path().to_path_buf()]).unwrap();
        assert_eq!(again.len(), 3);
        assert_eq!(again[0].name, "alpha");

        w("broken.yaml", "kind: Scenario\nname: [unclosed\n");
        let err = discover(&[dir.path().to_path_buf()]).unwrap_err().to_string();
        assert!(err.contains("broken.yaml:") && err.contains("not valid YAML"), "{err}");

        let missing = discover(&[dir.path().join("nope")]).unwrap_err().to_string();
        assert!(missing.ends_with("nope: no such file or folder"), "{missing}");
    }

    #[test]
    fn filter_matches_name_or_path() {
        let cases = vec![
            Case { file: "s/smoke.yaml".into(), name: "smoke".into(), slug: "smoke".into() },
            Case { file: "s/outages/dns.yaml".into(), name: "coredns-outage".into(), slug: "dns".into() },
        ];
        let names = |re: &str| filter(cases.clone(), &regex::Regex::new(re).unwrap()).into_iter().map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(names("^smoke$"), ["smoke"]);
        assert_eq!(names("outages/"), ["coredns-outage"]);
        assert!(names("nothing").is_empty());
    }
}
