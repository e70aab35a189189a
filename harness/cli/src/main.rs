//! The `sparkrig` command: parses arguments, dispatches, maps results to exit codes
//! (0 every expectation held, 1 one failed, 2 bad input or harness failure).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use sparkrig_run::backend::{Backend, SimBackend};
use sparkrig_run::files::load_scenario;
use sparkrig_run::report;
use sparkrig_run::runner;
use sparkrig_run::verdict::Verdict;

#[derive(Parser)]
#[command(name = "sparkrig", version, about = "Rehearse a Spark-on-Kubernetes platform: scenarios, chaos and scheduling benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and judge it.
    Run(RunArgs),
    /// Check scenario files (and the topologies and manifests they reference) without running.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the fault catalog.
    Faults,
    /// Recompute a verdict from a saved trace.
    Verdict {
        /// Trace (JSON lines) written by `run --trace`.
        trace: PathBuf,
        /// The scenario it ran.
        scenario: PathBuf,
        #[command(flatten)]
        out: OutputArgs,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendKind {
    /// The embedded simulator.
    Sim,
}

#[derive(Clone, Copy, ValueEnum, Default)]
enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(clap::Args)]
struct OutputArgs {
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write the verdict and metrics as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
    /// Colour the summary.
    #[arg(long, value_enum, default_value_t)]
    color: ColorChoice,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Scenario file.
    scenario: PathBuf,
    /// Where to run it.
    #[arg(long, value_enum, default_value = "sim")]
    backend: BackendKind,
    /// Simulator seed (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Write the trace (JSON lines).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
}

/// Exit codes.
const PASSED: u8 = 0;
const EXPECTATION_FAILED: u8 = 1;
const BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => run(args),
        Command::Validate { files } => validate(&files),
        Command::Verdict { trace, scenario, out } => verdict(&trace, &scenario, &out),
        Command::Faults => faults(),
    };
    ExitCode::from(code)
}

fn fail(msg: impl std::fmt::Display) -> u8 {
    eprintln!("error: {msg}");
    BAD_INPUT
}

fn run(args: RunArgs) -> u8 {
    let plan = match load_scenario(&args.scenario, args.seed) {
        Ok(p) => p,
        Err(d) => return fail_diagnostics(&d),
    };
    let mut backend: Box<dyn Backend> = match args.backend {
        BackendKind::Sim => Box::new(SimBackend),
    };
    match runner::run(&plan, backend.as_mut(), args.trace.as_deref(), None) {
        Ok((v, _)) => report_verdict(&v, &args.out),
        Err(e) => fail(format!("{}: {e}", args.scenario.display())),
    }
}

fn fail_diagnostics(d: &sparkrig_model::source::Diagnostics) -> u8 {
    eprintln!("{d}");
    BAD_INPUT
}

fn validate(files: &[PathBuf]) -> u8 {
    let mut code = PASSED;
    for f in files {
        match load_scenario(f, None) {
            Ok(p) => println!(
                "{}: ok ({} apps, {} steps, {} expectations)",
                f.display(),
                p.generated_apps().len(),
                p.steps.len(),
                p.expectations.len()
            ),
            Err(d) => code = fail_diagnostics(&d),
        }
    }
    code
}

fn faults() -> u8 {
    use sparkrig_model::faults::CATALOG;
    let width = CATALOG.iter().map(|e| e.name.len()).max().unwrap_or(0);
    println!("Faults (inject with `- inject: NAME` or `- inject: {{fault: NAME, ...}}`, heal with `- heal: ID`):\n");
    for e in CATALOG {
        println!("  {:<width$}  {}", e.name, e.summary);
        if !e.params.is_empty() {
            println!("  {:<width$}  params: {}", "", e.params);
        }
    }
    PASSED
}

fn verdict(trace: &Path, scenario: &Path, out: &OutputArgs) -> u8 {
    let plan = match load_scenario(scenario, None) {
        Ok(p) => p,
        Err(d) => return fail_diagnostics(&d),
    };
    match runner::verdict_from_trace(&plan, trace) {
        Ok(v) => report_verdict(&v, out),
        Err(e) => fail(e),
    }
}

fn report_verdict(v: &Verdict, out: &OutputArgs) -> u8 {
    let color = match out.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    if !out.quiet {
        print!("{}", report::terminal(v, color));
    }
    for (path, text) in [(out.junit.as_ref(), report::junit as fn(&Verdict) -> String), (out.json.as_ref(), report::json)] {
        if let Some(p) = path
            && let Err(e) = std::fs::write(p, text(v))
        {
            return fail(format!("cannot write {}: {e}", p.display()));
        }
    }
    if v.passed { PASSED } else { EXPECTATION_FAILED }
}
