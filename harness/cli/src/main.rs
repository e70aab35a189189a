//! The `sparkrig` command: parses arguments, dispatches, maps results to exit codes
//! (0 every expectation held, 1 one failed, 2 bad input or harness failure).

mod real;
mod suite;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use real::{BackendKind, KindArgs, RealArgs};
use sparkrig_model::source::Override;
use sparkrig_model::time::Dur;
use sparkrig_run::files::{load_scenario, load_scenario_with};
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
    /// Run scenarios as a suite (files, or folders searched for scenarios), in parallel: a line
    /// per scenario as it finishes, failures with evidence and a replay command, one JUnit file.
    Test(suite::TestArgs),
    /// Check scenario files (and the topologies and manifests they reference) without running.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        set: SetArgs,
    },
    /// List the fault catalog.
    Faults,
    /// Run a scenario over one or more seeds and report scheduling figures; compare with a
    /// saved baseline (exit 1 on a regression beyond the threshold or failed expectations).
    Bench(BenchArgs),
    /// Print the kind cluster config (v1alpha4) for a topology: per nodegroup a few workers
    /// with the group's labels and its taints through a JoinConfiguration patch.
    KindConfig {
        /// Topology file.
        topology: PathBuf,
        #[command(flatten)]
        kind: KindArgs,
        /// Write it to a file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Create a kind cluster for a scenario and install its stack (registry, MinIO, Spark
    /// Operator, History Server); it stays until `sparkrig down`.
    Up {
        /// Scenario file (its topology and stack).
        scenario: PathBuf,
        #[command(flatten)]
        kind: KindArgs,
        /// Reuse sparkrig's cluster of that name when its config matches.
        #[arg(long)]
        reuse: bool,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete a kind cluster sparkrig created, with the containers it started for it.
    Down {
        /// kind cluster name (as `up` printed it).
        #[arg(long)]
        name: String,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Inject container faults (node-loss, network-partition, minio-outage, registry-outage) on
    /// sparkrig's kind cluster, hold them, heal them; Ctrl-C or SIGTERM heals at once.
    Chaos {
        /// Faults from `sparkrig faults` that act on containers.
        #[arg(required = true, value_name = "FAULT")]
        faults: Vec<String>,
        /// kind cluster name (as `up` printed it).
        #[arg(long)]
        name: String,
        /// Node container for node-loss and network-partition (repeatable).
        #[arg(long = "node", value_name = "NODE")]
        nodes: Vec<String>,
        /// Heal after this long (e.g. 2m) instead of at Ctrl-C.
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_dur)]
        hold: Option<Dur>,
    },
    /// Check docker (client, and the engine's version and API range), kind, helm, kubectl and
    /// the inotify limits kind needs, with fixes.
    Doctor,
    /// Serve a scenario's simulated cluster behind a Kubernetes API (kubectl, kube-rs, Spark's
    /// own client); the kubeconfig is written once it is ready. Ctrl-C (or, without
    /// --stack-only, the end of the timeline) stops it and prints the verdict.
    Serve(ServeArgs),
    /// Recompute a verdict from a saved trace.
    Verdict {
        /// Trace (JSON lines) written by `run --trace`.
        trace: PathBuf,
        /// The scenario it ran.
        scenario: PathBuf,
        /// The overrides it ran with.
        #[command(flatten)]
        set: SetArgs,
        #[command(flatten)]
        out: OutputArgs,
        /// Write an HTML report (verdict and timeline, one self-contained file).
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
}

/// `--set PATH=VALUE`, repeatable.
#[derive(clap::Args, Clone, Default)]
struct SetArgs {
    /// Override a scenario field before validation, e.g. `--set stack.spark.version=4.2.0` or
    /// `--set steps[1].upgrade.maxUnavailable=3` (repeatable; VALUE is YAML).
    #[arg(long = "set", value_name = "PATH=VALUE", value_parser = Override::parse)]
    overrides: Vec<Override>,
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
    #[command(flatten)]
    set: SetArgs,
    /// Write the trace (JSON lines).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Write an HTML report (verdict and timeline, one self-contained file).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    real: RealArgs,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Scenario file (its topology and stack; its workload and steps unless --stack-only).
    scenario: PathBuf,
    /// Virtual seconds per wall second (60: a virtual minute per second).
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    speed: f64,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    address: std::net::IpAddr,
    /// Port (0: any free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Where to write the kubeconfig (default ./sparkrig-<scenario>.kubeconfig); an existing
    /// file gets sparkrig's context added, and removed again when the server stops.
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Serve the topology and stack only; clients drive the workload.
    #[arg(long)]
    stack_only: bool,
    /// Write the trace (JSON lines, as it goes).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// HTTPS with a self-signed certificate (its CA goes into the kubeconfig).
    #[arg(long)]
    tls: bool,
    /// Simulator seed (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    #[command(flatten)]
    set: SetArgs,
    #[command(flatten)]
    out: OutputArgs,
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1_000_000.0 => Ok(v),
        _ => Err(format!("`{s}` is not a speed: a number of virtual seconds per wall second, > 0 (e.g. 1, 60)")),
    }
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Scenario file.
    scenario: PathBuf,
    /// Where to run it.
    #[arg(long, value_enum, default_value = "sim")]
    backend: BackendKind,
    /// Runs, with seeds SEED, SEED+1, ...
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    seeds: u32,
    /// First seed (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    #[command(flatten)]
    set: SetArgs,
    /// Write the figures as JSON (the input of --compare).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// A `--json` file from an earlier bench: print deltas and flag regressions.
    #[arg(long, value_name = "FILE")]
    compare: Option<PathBuf>,
    /// Relative change (percent) that counts as a regression or an improvement.
    #[arg(long, default_value_t = 10.0, value_name = "PERCENT")]
    threshold: f64,
    /// Latency changes smaller than this never count (noise floor).
    #[arg(long, default_value = "1s", value_parser = parse_dur, value_name = "DURATION")]
    min_delta: Dur,
    /// No progress bar and no table; only the comparison's verdict and errors.
    #[arg(long, short)]
    quiet: bool,
    /// Colour the output.
    #[arg(long, value_enum, default_value_t)]
    color: ColorChoice,
    #[command(flatten)]
    real: RealArgs,
}

fn parse_dur(s: &str) -> Result<Dur, String> {
    Dur::parse(s)
}

/// Exit codes.
const PASSED: u8 = 0;
const EXPECTATION_FAILED: u8 = 1;
const BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => run(args),
        Command::Test(args) => suite::test(args),
        Command::Validate { files, set } => validate(&files, &set.overrides),
        Command::Verdict { trace, scenario, set, out, html } => verdict(&trace, &scenario, &set.overrides, &out, html.as_deref()),
        Command::Serve(args) => serve(args),
        Command::Faults => faults(),
        Command::Bench(args) => bench(args),
        Command::KindConfig { topology, kind, output } => match real::kind_config(&topology, &kind, output.as_deref()) {
            Ok(()) => PASSED,
            Err(e) => fail(e),
        },
        Command::Up { scenario, kind, reuse, dry_run } => match load_scenario(&scenario, None) {
            Ok(s) => real::up(&s, &kind, reuse, dry_run).map_or_else(fail, |_| PASSED),
            Err(d) => fail_diagnostics(&d),
        },
        Command::Down { name, dry_run } => real::down(&name, dry_run).map_or_else(fail, |_| PASSED),
        Command::Chaos { faults, name, nodes, hold } => match real::chaos(&faults, &name, &nodes, hold) {
            Ok(true) => PASSED,
            Ok(false) => BAD_INPUT,
            Err(e) => fail(e),
        },
        Command::Doctor => {
            if real::doctor() {
                PASSED
            } else {
                EXPECTATION_FAILED
            }
        }
    };
    ExitCode::from(code)
}

fn fail(msg: impl std::fmt::Display) -> u8 {
    // `{:#}`: an anyhow error with its whole context chain.
    eprintln!("error: {msg:#}");
    BAD_INPUT
}

fn run(args: RunArgs) -> u8 {
    if let Err(e) = args.real.check(args.backend) {
        return fail(e);
    }
    let plan = match load_scenario_with(&args.scenario, args.seed, &args.set.overrides) {
        Ok(p) => p,
        Err(d) => return fail_diagnostics(&d),
    };
    if args.real.dry_run {
        return match real::dry_run(args.backend, &plan, &args.real) {
            Ok(text) => {
                print!("{text}");
                PASSED
            }
            Err(e) => fail(e),
        };
    }
    let mut backend = match real::make(args.backend, &plan, &args.real) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let mut timeline = args.html.as_ref().map(|_| report::Timeline::new());
    let extra = timeline.as_mut().map(|t| t as &mut dyn sparkrig_model::trace::Sink);
    let mut code = match runner::run(&plan, backend.as_mut(), args.trace.as_deref(), extra) {
        Ok((v, _)) => {
            if !v.passed && args.backend != BackendKind::Sim {
                let dir = real::artifacts_dir(&args.real, &[args.out.json.as_ref(), args.out.junit.as_ref()], &plan.name);
                let files = backend.diagnose(&v, &dir);
                if !files.is_empty() {
                    eprintln!("diagnostics (pod logs, events) in {}", dir.display());
                }
            }
            let code = report_verdict(&v, &args.out);
            match (&args.html, &timeline) {
                (Some(p), Some(t)) => write_html(p, &v, t).map_or_else(fail, |()| code),
                _ => code,
            }
        }
        Err(e) => fail(format!("{}: {e}", args.scenario.display())),
    };
    if let Err(e) = backend.finish() {
        code = fail(e);
    }
    code
}

fn serve(args: ServeArgs) -> u8 {
    let plan = match load_scenario_with(&args.scenario, args.seed, &args.set.overrides) {
        Ok(p) => p,
        Err(d) => return fail_diagnostics(&d),
    };
    let opts = sparkrig_serve::Options {
        speed: args.speed,
        address: args.address,
        port: args.port,
        kubeconfig: args.kubeconfig.clone(),
        stack_only: args.stack_only,
        trace: args.trace.clone(),
        tls: args.tls,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(e),
    };
    let quiet = args.out.quiet;
    let served = rt.block_on(async {
        let stop = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
        };
        sparkrig_serve::serve(&plan, opts, stop, |ready| {
            if !quiet {
                eprintln!(
                    "sparkrig serve {}: {} at {}x ({} of virtual time per second)\n  export KUBECONFIG={}\n  kubectl --context {} get nodes",
                    plan.name,
                    ready.url,
                    args.speed,
                    Dur::ms((args.speed * 1000.0) as u64),
                    ready.kubeconfig.display(),
                    ready.context
                );
            }
        })
        .await
    });
    match served {
        Ok(s) => report_verdict(&s.verdict, &args.out),
        Err(e) => fail(e),
    }
}

fn fail_diagnostics(d: &sparkrig_model::source::Diagnostics) -> u8 {
    eprintln!("{d}");
    BAD_INPUT
}

fn validate(files: &[PathBuf], overrides: &[Override]) -> u8 {
    let mut code = PASSED;
    for f in files {
        match load_scenario_with(f, None, overrides) {
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

fn verdict(trace: &Path, scenario: &Path, overrides: &[Override], out: &OutputArgs, html: Option<&Path>) -> u8 {
    let plan = match load_scenario_with(scenario, None, overrides) {
        Ok(p) => p,
        Err(d) => return fail_diagnostics(&d),
    };
    let mut timeline = html.map(|_| report::Timeline::new());
    match runner::verdict_from_trace_with(&plan, trace, timeline.as_mut().map(|t| t as &mut dyn sparkrig_model::trace::Sink)) {
        Ok(v) => {
            let code = report_verdict(&v, out);
            match (html, &timeline) {
                (Some(p), Some(t)) => write_html(p, &v, t).map_or_else(fail, |()| code),
                _ => code,
            }
        }
        Err(e) => fail(e),
    }
}

fn write_html(path: &Path, v: &Verdict, t: &report::Timeline) -> Result<(), String> {
    std::fs::write(path, report::html(v, t)).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn use_color(c: ColorChoice) -> bool {
    match c {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

fn bench(args: BenchArgs) -> u8 {
    use sparkrig_run::bench::{self, BenchReport, Threshold};
    if !(args.threshold.is_finite() && args.threshold >= 0.0) {
        return fail(format!("--threshold: `{}` must be a percentage >= 0", args.threshold));
    }
    // Read the baseline first: a typo in its path should not cost a long run.
    let baseline = match args.compare.as_deref().map(BenchReport::read).transpose() {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    if let Err(e) = args.real.check(args.backend) {
        return fail(e);
    }
    let first = match load_scenario_with(&args.scenario, args.seed, &args.set.overrides) {
        Ok(p) => p,
        Err(d) => return fail_diagnostics(&d),
    };
    if args.real.dry_run {
        return match real::dry_run(args.backend, &first, &args.real) {
            Ok(text) => {
                print!("{text}");
                PASSED
            }
            Err(e) => fail(e),
        };
    }
    let seeds: Vec<u64> = (0..u64::from(args.seeds)).map(|i| first.seed + i).collect();
    let progress = progress_bar(args.quiet, first.generated_apps().len() as u64 * seeds.len() as u64);
    let mut backend = match real::make(args.backend, &first, &args.real) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let mut ended = std::collections::HashSet::new();
    let mut current_seed = None;
    let plan_for = |seed: u64| load_scenario_with(&args.scenario, Some(seed), &args.set.overrides).map_err(|d| d.to_string());
    let result = bench::bench(&seeds, plan_for, backend.as_mut(), |seed, rec| {
        if current_seed != Some(seed) {
            current_seed = Some(seed);
            ended.clear();
        }
        if let sparkrig_model::trace::Event::AppState { app, state, .. } = &rec.event
            && state.is_terminal()
            && ended.insert(app.clone())
        {
            progress.inc(1);
            progress.set_message(format!("seed {seed}, {}", rec.t));
        }
    });
    progress.finish_and_clear();
    if let Err(e) = backend.finish() {
        eprintln!("error: {e}");
    }
    let report = match result {
        Ok(r) => r,
        Err(e) => return fail(format!("{}: {e}", args.scenario.display())),
    };
    let color = use_color(args.color);
    if !args.quiet {
        print!("{}", report::bench_table(&report, color));
    }
    if let Some(p) = &args.json
        && let Err(e) = std::fs::write(p, serde_json::to_string_pretty(&report).expect("bench reports serialise"))
    {
        return fail(format!("cannot write {}: {e}", p.display()));
    }
    let mut code = if report.passed() { PASSED } else { EXPECTATION_FAILED };
    if let Some(base) = &baseline {
        let deltas = bench::compare(&report, base, Threshold { percent: args.threshold, min_latency: args.min_delta });
        let text = report::bench_comparison(&deltas, &report, base, args.threshold, color);
        if args.quiet {
            // Only the verdict line and the regressions.
            for line in text.lines().filter(|l| l.contains("REGRESSION") || l.contains("regress")) {
                println!("{line}");
            }
        } else {
            print!("\n{text}");
        }
        if deltas.iter().any(|d| d.regression) {
            code = EXPECTATION_FAILED;
        }
    }
    if !report.passed() {
        eprintln!("note: the scenario's expectations failed in some runs; `sparkrig run` shows why");
    }
    code
}

/// A bar over apps finished (hidden when quiet or when stderr is not a terminal).
fn progress_bar(quiet: bool, apps: u64) -> indicatif::ProgressBar {
    if quiet || apps == 0 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(apps);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} apps finished  {msg}")
            .expect("progress template is valid"),
    );
    bar
}

fn report_verdict(v: &Verdict, out: &OutputArgs) -> u8 {
    let color = use_color(out.color);
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
    if !v.unhealed.is_empty() {
        // The cluster is left broken: a harness failure, whatever the expectations say.
        for u in &v.unhealed {
            eprintln!("error: {u}");
        }
        return BAD_INPUT;
    }
    if v.passed { PASSED } else { EXPECTATION_FAILED }
}
