//! `sparkrig test`: flags to [`sparkrig_run::suite`], its results to lines, reports and an exit
//! code.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sparkrig_run::backend::BackendError;
use sparkrig_run::report;
use sparkrig_run::suite::{self, CaseResult, Status, Summary};

use crate::real::{self, BackendKind, RealArgs};
use crate::{BAD_INPUT, ColorChoice, EXPECTATION_FAILED, PASSED, fail, use_color};

/// Flags of `sparkrig test`.
#[derive(clap::Args)]
pub struct TestArgs {
    /// Scenario files, or folders searched (recursively) for YAML files with `kind: Scenario`.
    #[arg(default_value = "scenarios", value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Scenarios run at once (default: the number of CPUs; kind and kube run one at a time).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    jobs: Option<u32>,
    /// Run only the scenarios whose name or file path matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    filter: Option<String>,
    /// Where to run them.
    #[arg(long, value_enum, default_value = "sim")]
    backend: BackendKind,
    /// Simulator seed for every scenario (overrides each scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Write one JUnit XML file: a testsuite per scenario, a testcase per expectation.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write every scenario's result and verdict as a JSON array.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write an HTML report per scenario into this folder (created if missing).
    #[arg(long, value_name = "DIR")]
    html: Option<PathBuf>,
    /// Print only failures and the summary.
    #[arg(long, short)]
    quiet: bool,
    /// Colour the output.
    #[arg(long, value_enum, default_value_t)]
    color: ColorChoice,
    #[command(flatten)]
    real: RealArgs,
}

fn paint(color: bool, code: &str, s: &str) -> String {
    if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
}

/// Runs the suite.
pub fn test(args: TestArgs) -> u8 {
    if let Err(e) = args.real.check(args.backend) {
        return fail(e);
    }
    if args.real.dry_run {
        return fail("--dry-run: `sparkrig test` runs scenarios; print a plan with `sparkrig run FILE --backend kind --dry-run`");
    }
    // Every bad input is reported before anything runs.
    let re = match args.filter.as_deref().map(regex::Regex::new).transpose() {
        Ok(re) => re,
        Err(e) => return fail(format!("--filter: not a valid regular expression: {e}")),
    };
    let cases = match suite::discover(&args.paths) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let found = cases.len();
    let cases = match &re {
        Some(re) => suite::filter(cases, re),
        None => cases,
    };
    if cases.is_empty() {
        return fail(format!(
            "--filter `{}` matches none of the {found} scenario(s) found (it is matched against each scenario's name and file path)",
            args.filter.as_deref().unwrap_or_default()
        ));
    }
    let plans = match suite::load(cases, args.seed) {
        Ok(p) => p,
        Err(all) => {
            for d in &all {
                eprintln!("{d}");
            }
            eprintln!("error: {} scenario file(s) are not valid; nothing was run", all.len());
            return BAD_INPUT;
        }
    };
    if let Some(dir) = &args.html
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return fail(format!("--html: cannot create {}: {e}", dir.display()));
    }
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let mut jobs = args.jobs.map_or(cpus, |j| j as usize);
    if args.backend != BackendKind::Sim && jobs > 1 {
        if args.jobs.is_some() {
            eprintln!("note: --backend {} runs one scenario at a time (one cluster); -j ignored", backend_name(args.backend));
        }
        jobs = 1;
    }

    let color = use_color(args.color);
    let width = plans.iter().map(|(c, _)| c.name.len()).max().unwrap_or(10).min(40);
    if !args.quiet {
        println!("sparkrig test: {} scenario(s) on {}, {jobs} at a time", plans.len(), backend_name(args.backend));
    }
    let start = Instant::now();
    let make = |plan: &sparkrig_model::scenario::Scenario| {
        real::make(args.backend, plan, &args.real).map_err(|e| BackendError::Other(format!("{e:#}")))
    };
    let opts = suite::Options { jobs, html: args.html.is_some() };
    let mut write_errors = Vec::new();
    let results = suite::run(&plans, opts, &make, |r| {
        if !args.quiet || r.status != Status::Passed {
            println!("{}", line(r, width, color));
            let _ = std::io::stdout().flush();
        }
        if let (Some(dir), Some(page)) = (&args.html, &r.html) {
            let path = dir.join(format!("{}.html", r.case.slug));
            if let Err(e) = std::fs::write(&path, page) {
                write_errors.push(format!("cannot write {}: {e}", path.display()));
            }
        }
    });
    let wall = start.elapsed();

    for r in results.iter().filter(|r| r.status != Status::Passed) {
        print!("{}", details(r, args.backend, color));
    }
    let s = Summary::of(&results);
    let summary = format!(
        "{} scenario(s): {} passed, {} failed, {} error(s) in {:.1}s",
        results.len(),
        s.passed,
        s.failed,
        s.errors,
        wall.as_secs_f64()
    );
    println!("\n{}", if s.failed + s.errors == 0 { paint(color, "32", &summary) } else { paint(color, "1;31", &summary) });

    if let Some(p) = &args.junit
        && let Err(e) = std::fs::write(p, report::junit_suite(&results))
    {
        write_errors.push(format!("cannot write {}: {e}", p.display()));
    }
    if let Some(p) = &args.json
        && let Err(e) = std::fs::write(p, serde_json::to_string_pretty(&results).expect("suite results serialise"))
    {
        write_errors.push(format!("cannot write {}: {e}", p.display()));
    }
    if let Some(dir) = &args.html
        && !args.quiet
    {
        println!("HTML reports in {}", dir.display());
    }
    for e in &write_errors {
        eprintln!("error: {e}");
    }
    if s.errors > 0 || !write_errors.is_empty() {
        BAD_INPUT
    } else if s.failed > 0 {
        EXPECTATION_FAILED
    } else {
        PASSED
    }
}

fn backend_name(b: BackendKind) -> &'static str {
    match b {
        BackendKind::Sim => "sim",
        BackendKind::Kind => "kind",
        BackendKind::Kube => "kube",
    }
}

/// The line printed as a scenario finishes.
fn line(r: &CaseResult, width: usize, color: bool) -> String {
    let name = format!("{:<width$}", r.case.name);
    let wall = if r.wall.as_millis() < 1000 { format!("{} ms", r.wall.as_millis()) } else { format!("{:.2}s", r.wall.as_secs_f64()) };
    match (r.status, &r.verdict) {
        (Status::Passed, Some(v)) => format!(
            "{}  {name}  {} checks held, {} of scenario time, {wall}",
            paint(color, "32", "PASS "),
            v.results.len(),
            v.metrics.duration
        ),
        (Status::Failed, Some(v)) => {
            let failed: Vec<&str> = v.results.iter().filter(|o| !o.passed).map(|o| o.name.as_str()).collect();
            format!(
                "{}  {name}  {} of {} checks failed: {}, {wall}",
                paint(color, "1;31", "FAIL "),
                failed.len(),
                v.results.len(),
                failed.join("; ")
            )
        }
        _ => format!("{}  {name}  {}", paint(color, "1;31", "ERROR"), r.error.as_deref().unwrap_or("no verdict")),
    }
}

/// Shell quoting for a path in the replay command.
fn quote(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:".contains(c)) { s } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

/// A failed or errored scenario: each failed expectation with its evidence, and how to replay it.
fn details(r: &CaseResult, backend: BackendKind, color: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let word = if r.status == Status::Failed { "FAIL" } else { "ERROR" };
    let _ = writeln!(out, "\n{} {} ({})", paint(color, "1;31", &format!("--- {word}")), r.case.name, r.case.file.display());
    if let Some(v) = &r.verdict {
        for o in v.results.iter().filter(|o| !o.passed) {
            let _ = writeln!(out, "  ✗ {}: {}", o.name, o.message);
            for e in &o.evidence {
                let _ = writeln!(out, "      {}", report::evidence_line(e));
            }
            if o.more > 0 {
                let _ = writeln!(out, "      ... and {} more", o.more);
            }
        }
    } else if let Some(e) = &r.error {
        let _ = writeln!(out, "  {e}");
    }
    let backend_flag = match backend {
        BackendKind::Sim => String::new(),
        other => format!(" --backend {}", backend_name(other)),
    };
    let _ = writeln!(out, "  replay: sparkrig run {} --seed {}{backend_flag}", quote(&r.case.file), r.seed);
    out
}
