//! The real-cluster side of the command line: backend flags, `--dry-run`, and the `kind-config`,
//! `up`, `down`, `chaos` and `doctor` commands. The decisions live in `sparkrig_real`; this file
//! turns flags into its options and its results into output and exit codes.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use sparkrig_model::scenario::Scenario;
use sparkrig_model::source::Source;
use sparkrig_model::topology::Topology;
use sparkrig_real::backend::{self, KindBackend, KindSetup, KubeBackend, Target};
use sparkrig_real::kindcfg::{self, DEFAULT_KUBERNETES, DEFAULT_WORKERS_PER_GROUP, KindOptions};
use sparkrig_real::provision::Images;
use sparkrig_real::stack::{MINIO_IMAGE, REGISTRY_IMAGE};
use sparkrig_run::backend::Backend;
use sparkrig_sim::SimBackend;

/// Where a scenario runs.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// The embedded simulator.
    Sim,
    /// A kind cluster created from the topology (removed afterwards unless --keep).
    Kind,
    /// An existing cluster from the kubeconfig (--context).
    Kube,
}

/// How a topology maps onto kind.
#[derive(Clone, Debug, clap::Args)]
pub struct KindArgs {
    /// kind cluster name (default: sparkrig-<topology>).
    #[arg(long)]
    pub name: Option<String>,
    /// Kubernetes version of the pinned kind node image.
    #[arg(long, default_value = DEFAULT_KUBERNETES)]
    pub kubernetes: String,
    /// A node image (pinned by digest) instead of the pinned one.
    #[arg(long, value_name = "IMAGE")]
    pub node_image: Option<String>,
    /// Workers for a nodegroup, GROUP=N (repeatable).
    #[arg(long, value_name = "GROUP=N", value_parser = parse_workers)]
    pub workers: Vec<(String, u32)>,
    /// Workers per nodegroup when --workers does not say (capped by the group's count).
    #[arg(long, default_value_t = DEFAULT_WORKERS_PER_GROUP, value_name = "N")]
    pub max_workers_per_group: u32,
    /// Image of the local registry (listening on 5000, like the kind recipe's).
    #[arg(long, default_value = REGISTRY_IMAGE, value_name = "IMAGE")]
    pub registry_image: String,
    /// Image of the S3 server: MinIO, or any image that follows its conventions (`server /data`,
    /// MINIO_ROOT_USER / MINIO_ROOT_PASSWORD, S3 on port 9000).
    #[arg(long, default_value = MINIO_IMAGE, value_name = "IMAGE")]
    pub minio_image: String,
}

fn parse_workers(s: &str) -> Result<(String, u32), String> {
    let (g, n) = s.split_once('=').ok_or_else(|| format!("`{s}`: expected GROUP=N, e.g. spark-executor=3"))?;
    let n: u32 = n.parse().map_err(|_| format!("`{s}`: N must be a whole number"))?;
    if n == 0 {
        return Err(format!("`{s}`: a nodegroup needs at least one worker"));
    }
    Ok((g.to_string(), n))
}

impl KindArgs {
    /// kind options for a topology.
    pub fn options(&self, t: &Topology) -> KindOptions {
        let mut o = KindOptions::for_topology(t);
        if let Some(n) = &self.name {
            o.name = n.clone();
        }
        o.kubernetes = self.kubernetes.clone();
        o.node_image = self.node_image.clone();
        o.max_workers_per_group = self.max_workers_per_group;
        o.workers = self.workers.iter().cloned().collect();
        o
    }

    /// The registry and S3 images.
    pub fn images(&self) -> Images {
        Images { registry: self.registry_image.clone(), minio: self.minio_image.clone() }
    }
}

/// Flags of the real backends.
#[derive(Clone, Debug, clap::Args)]
pub struct RealArgs {
    /// kubeconfig context for --backend kube (default: the current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Print the whole plan (commands, manifests, API calls) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep the kind cluster and its containers afterwards.
    #[arg(long)]
    pub keep: bool,
    /// Reuse sparkrig's kind cluster of that name when its config hash matches (recreate it
    /// when it does not).
    #[arg(long)]
    pub reuse: bool,
    /// Where pod logs and events of a failed run go (default: next to --json/--junit, else
    /// ./sparkrig-artifacts/<scenario>).
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    #[command(flatten)]
    pub kind: KindArgs,
}

impl RealArgs {
    /// Refuses real-backend flags on the simulator.
    pub fn check(&self, backend: BackendKind) -> Result<()> {
        if backend == BackendKind::Sim {
            let used: Vec<&str> = [
                (self.context.is_some(), "--context"),
                (self.dry_run, "--dry-run"),
                (self.keep, "--keep"),
                (self.reuse, "--reuse"),
                (self.kind.name.is_some(), "--name"),
                (!self.kind.workers.is_empty(), "--workers"),
            ]
            .into_iter()
            .filter_map(|(on, f)| on.then_some(f))
            .collect();
            if !used.is_empty() {
                bail!("{} only apply to --backend kind or kube (the simulator changes nothing outside this process)", used.join(", "));
            }
        }
        if backend == BackendKind::Kube && (self.keep || self.reuse || self.kind.name.is_some()) {
            bail!("--keep, --reuse and --name are for --backend kind; --backend kube runs on an existing cluster (--context)");
        }
        Ok(())
    }
}

fn state_dir(name: &str) -> String {
    std::env::temp_dir().join("sparkrig").join(name).display().to_string()
}

fn setup(s: &Scenario, real: &RealArgs) -> KindSetup {
    let kind = real.kind.options(&s.topology);
    KindSetup { state_dir: state_dir(&kind.name), kind, reuse: real.reuse, keep: real.keep, images: real.kind.images() }
}

/// The backend for a run.
pub fn make(kind: BackendKind, s: &Scenario, real: &RealArgs) -> Result<Box<dyn Backend>> {
    Ok(match kind {
        BackendKind::Sim => Box::new(SimBackend),
        BackendKind::Kind => {
            let st = setup(s, real);
            sparkrig_real::kindcfg::node_image(&st.kind)?;
            backend::check_supported(s, true)?;
            Box::new(KindBackend::new(st))
        }
        BackendKind::Kube => {
            backend::check_supported(s, false)?;
            Box::new(KubeBackend::new(Target { context: real.context.clone(), ..Target::default() })?)
        }
    })
}

/// `--dry-run`: the full plan.
pub fn dry_run(kind: BackendKind, s: &Scenario, real: &RealArgs) -> Result<String> {
    match kind {
        BackendKind::Sim => bail!("--dry-run only applies to --backend kind or kube"),
        BackendKind::Kind => {
            let st = setup(s, real);
            backend::check_supported(s, true)?;
            let facts = backend::kind_facts(s, &st.kind)?;
            let mut out = format!(
                "# sparkrig run {} --backend kind: dry run, nothing is changed\n\n{}\n",
                s.file,
                backend::titled(
                    &format!("up: kind cluster {} (with --reuse an existing sparkrig cluster with the same config is kept)", st.kind.name),
                    &backend::dry_up(s, &st)?
                )
            );
            out.push_str(&format!("## run on context kind-{}\n{}\n", st.kind.name, backend::dry_run(s, &facts)?));
            if real.keep {
                out.push_str("## down: skipped (--keep)\n");
            } else {
                out.push_str(&backend::titled("down: only what sparkrig created", &backend::dry_down(&st.kind.name)));
            }
            Ok(out)
        }
        BackendKind::Kube => {
            backend::check_supported(s, false)?;
            let ctx = real.context.clone().unwrap_or_else(|| "the current context".into());
            let facts = sparkrig_real::faults::ClusterFacts::default();
            Ok(format!(
                "# sparkrig run {} --backend kube: dry run, nothing is changed\n# needs the Spark Operator installed on {ctx} (CRD {})\n\n## run on {ctx}\n{}",
                s.file,
                backend::SPARK_APPLICATION_CRD,
                backend::dry_run(s, &facts)?
            ))
        }
    }
}

/// Where diagnostics go for a failed run.
pub fn artifacts_dir(real: &RealArgs, reports: &[Option<&PathBuf>], scenario: &str) -> PathBuf {
    if let Some(d) = &real.artifacts {
        return d.clone();
    }
    let beside = reports.iter().flatten().next().and_then(|p| p.parent()).map(Path::to_path_buf);
    match beside {
        Some(d) => d.join(format!("{scenario}-diagnostics")),
        None => PathBuf::from("sparkrig-artifacts").join(scenario),
    }
}

/// `sparkrig kind-config TOPOLOGY`.
pub fn kind_config(topology: &Path, args: &KindArgs, output: Option<&Path>) -> Result<()> {
    let text = std::fs::read_to_string(topology).with_context(|| format!("cannot read {}", topology.display()))?;
    let t = Topology::from_source(&Source::new(topology.display().to_string(), text)).map_err(|d| anyhow::anyhow!("{d}"))?;
    let (cluster, _) = kindcfg::kind_config(&t, &args.options(&t))?;
    let rendered = kindcfg::render(&cluster, &topology.display().to_string());
    match output {
        Some(p) => std::fs::write(p, rendered).with_context(|| format!("cannot write {}", p.display())),
        None => {
            print!("{rendered}");
            Ok(())
        }
    }
}

/// `sparkrig up SCENARIO`: provision and keep.
pub fn up(s: &Scenario, args: &KindArgs, reuse: bool, dry: bool) -> Result<()> {
    let kind = args.options(&s.topology);
    let st = KindSetup { state_dir: state_dir(&kind.name), kind, reuse, keep: true, images: args.images() };
    if dry {
        print!("{}", backend::titled(&format!("up: kind cluster {}", st.kind.name), &backend::dry_up(s, &st)?));
        return Ok(());
    }
    let name = st.kind.name.clone();
    let mut b = KindBackend::new(st);
    b.provision_only(s)?;
    eprintln!(
        "kind cluster {name} is up (context kind-{name}); run scenarios with `--backend kube --context kind-{name}`, remove it with `sparkrig down --name {name}`"
    );
    Ok(())
}

/// `sparkrig down`.
pub fn down(name: &str, dry: bool) -> Result<()> {
    if dry {
        print!("{}", backend::titled(&format!("down: {name}"), &backend::dry_down(name)));
        return Ok(());
    }
    Ok(backend::down(name)?)
}

/// `sparkrig chaos FAULT... --name CLUSTER`: true when everything injected was healed.
pub fn chaos(faults: &[String], name: &str, nodes: &[String], hold: Option<sparkrig_model::time::Dur>) -> Result<bool> {
    use sparkrig_real::chaos;
    let specs = chaos::specs(faults, nodes)?;
    let hold = hold.map(|d| std::time::Duration::from_millis(d.as_ms()));
    let started = std::time::Instant::now();
    let outcome = chaos::chaos(name, &specs, hold, move |line| eprintln!("[{:>5.1}s] {line}", started.elapsed().as_secs_f64()))?;
    for e in &outcome.heal_errors {
        eprintln!("heal failed: {e}");
    }
    if let Some(s) = outcome.interrupted {
        eprintln!("ended by {s}");
    }
    Ok(outcome.heal_errors.is_empty())
}

/// `sparkrig doctor`: true when everything required is in place.
pub fn doctor() -> bool {
    let checks = sparkrig_real::doctor::run();
    let width = checks.iter().map(|c| c.what.len()).max().unwrap_or(0);
    println!("What the kind backend needs on this machine:\n");
    for c in &checks {
        let mark = if c.ok {
            "✓"
        } else if c.required {
            "✗"
        } else {
            "-"
        };
        println!("  {mark} {:<width$}  {}", c.what, c.found);
        if !c.ok {
            println!("    {:<width$}  fix: {}", "", c.fix);
        }
    }
    let missing: Vec<&str> = checks.iter().filter(|c| c.required && !c.ok).map(|c| c.what).collect();
    println!();
    if missing.is_empty() {
        println!("ready for --backend kind (the simulator needs none of this)");
        true
    } else {
        println!("not ready for --backend kind: {} (the simulator, the default backend, needs none of this)", missing.join(", "));
        false
    }
}
