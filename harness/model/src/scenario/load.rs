//! Stage 2: raw scenario → [`Scenario`]. Resolves referenced files (topologies, manifests)
//! relative to the scenario's folder or any parent folder, applies defaults (each with its
//! upstream source), cross-checks names, and reports every problem with file, line and column.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component as PathComponent, Path, PathBuf};
use std::sync::Arc;

use super::raw::*;
use super::*;
use crate::crd::validate_spark_application;
use crate::faults::{CATALOG, DEFAULT_SPOT_NOTICE, Fault, FaultKind, FaultSpec, NodeTarget, PodTarget};
use crate::kube::Toleration;
use crate::podspec::{self, SparkRole, executor_cores, executor_instances};
use crate::quantity::{parse_cpu_millis, parse_spark_mib};
use crate::source::{Diagnostic, Diagnostics, Override, Source, did_you_mean};
use crate::sparkapp::SparkVersion;
use crate::topology::{Topology, is_dns_label};
use crate::upgrade::{Budget, IntOrPercent, NodeStrategy, PdbSelector, PodDisruptionBudget, Upgrade, UpgradeTarget, parse_minor};

/// Read access to the files a scenario references. The CLI passes the real file system.
pub trait Files {
    /// File contents.
    fn read(&self, path: &Path) -> std::io::Result<String>;
    /// Whether `path` is a file.
    fn is_file(&self, path: &Path) -> bool;
    /// File names in a folder (for suggestions).
    fn list(&self, dir: &Path) -> Vec<String>;
}

/// Files held in memory (tests, scenarios built in code): paths are matched as given.
#[derive(Debug, Clone, Default)]
pub struct MemFiles(pub std::collections::BTreeMap<PathBuf, String>);

impl MemFiles {
    /// Adds a file.
    #[must_use]
    pub fn with(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> MemFiles {
        self.0.insert(path.into(), text.into());
        self
    }
}

impl Files for MemFiles {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        self.0.get(path).cloned().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
    }

    fn is_file(&self, path: &Path) -> bool {
        self.0.contains_key(path)
    }

    fn list(&self, dir: &Path) -> Vec<String> {
        self.0.keys().filter(|p| p.parent() == Some(dir)).filter_map(|p| p.file_name()?.to_str().map(String::from)).collect()
    }
}

/// The annotation that carries an app's simulated work through the Kubernetes API (to
/// `sparkrig serve`): `tasks=300,taskDuration=2s`.
pub const WORK_ANNOTATION: &str = "sparkrig.io/work";

/// The annotation's value for a work.
pub fn work_annotation(w: &Work) -> String {
    format!("tasks={},taskDuration={}", w.tasks, w.task_duration)
}

/// The work an app carries in its annotation, else [`default_work`].
pub fn work_of(app: &crate::sparkapp::SparkApplication) -> Work {
    let default = default_work(app);
    let Some(text) = app.metadata.annotations.get(WORK_ANNOTATION) else { return default };
    let mut w = default;
    for part in text.split(',') {
        match part.split_once('=') {
            Some(("tasks", n)) => w.tasks = n.trim().parse().unwrap_or(w.tasks).max(1),
            Some(("taskDuration", d)) => w.task_duration = Dur::parse(d).unwrap_or(w.task_duration),
            _ => {}
        }
    }
    w
}

/// The work an app represents when nothing says otherwise: 20 one-second tasks per executor
/// core it asks for.
pub fn default_work(app: &crate::sparkapp::SparkApplication) -> Work {
    let slots = executor_instances(app, true) * executor_cores(app);
    Work { tasks: DEFAULT_TASKS_PER_CORE * slots.max(1), task_duration: Dur::secs(1) }
}

/// Loads and validates a scenario file.
pub fn load(path: &Path, files: &dyn Files, seed: Option<u64>) -> Result<Scenario, Diagnostics> {
    load_with(path, files, seed, &[])
}

/// Loads and validates a scenario file with `--set` overrides applied to its YAML tree first.
pub fn load_with(path: &Path, files: &dyn Files, seed: Option<u64>, overrides: &[Override]) -> Result<Scenario, Diagnostics> {
    let name = display(path);
    let text = files.read(path).map_err(|e| Diagnostic {
        file: name.clone(),
        line: 0,
        column: 0,
        path: String::new(),
        message: format!("cannot read: {e}"),
        help: None,
        snippet: None,
    })?;
    load_str_with(&name, &text, path.parent().unwrap_or(Path::new(".")), files, seed, overrides)
}

/// Loads a scenario from text; relative references resolve from `base`.
pub fn load_str(name: &str, text: &str, base: &Path, files: &dyn Files, seed: Option<u64>) -> Result<Scenario, Diagnostics> {
    load_str_with(name, text, base, files, seed, &[])
}

/// [`load_str`] with `--set` overrides.
pub fn load_str_with(
    name: &str,
    text: &str,
    base: &Path,
    files: &dyn Files,
    seed: Option<u64>,
    overrides: &[Override],
) -> Result<Scenario, Diagnostics> {
    let src = Source::with_overrides(name, text, overrides)?;
    let raw: RawScenario = src.parse()?;
    // Every app manifest and generated app is validated against the CRD: compile it once.
    let _schema = crate::crd::hold_schema();
    let mut cx = Cx { src: &src, base, files, errs: Vec::new() };
    let scenario = cx.build(&raw, seed);
    match scenario {
        Some(s) if cx.errs.is_empty() => Ok(s),
        _ => Err(Diagnostics(cx.errs)),
    }
}

fn display(p: &Path) -> String {
    normalize(p).display().to_string()
}

/// Lexical normalisation (`scenarios/../fixtures/x` → `fixtures/x`).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            PathComponent::CurDir => {}
            PathComponent::ParentDir if out.components().next_back().is_some_and(|l| matches!(l, PathComponent::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}

/// What a workload manifest holds.
enum Loaded {
    App(AppTemplate),
    Scheduled(ScheduledTemplate),
}

struct Cx<'a> {
    src: &'a Source,
    base: &'a Path,
    files: &'a dyn Files,
    errs: Vec<Diagnostic>,
}

/// spark-submit wall time per app: "JVM start of spark-submit (1–3 s) + 3–4 API calls"
/// (reference/spark-on-kubernetes.md §6 derived model; spark-operator.md §8 "~2–8s").
const DEFAULT_SUBMIT_TIME: Dur = Dur::secs(3);
/// Chart `controller.workers` (reference/spark-operator.md §5).
const DEFAULT_WORKERS: u32 = 10;
/// kube-scheduler `clientConnection` QPS / burst (reference/kube-scheduler.md §1.4).
const DEFAULT_SCHEDULER_QPS: u32 = 50;
const DEFAULT_SCHEDULER_BURST: u32 = 100;
/// kubeadm deploys two CoreDNS replicas.
const DEFAULT_COREDNS_REPLICAS: u32 = 2;
/// Default Kubernetes minor when the scenario does not say (kind v0.32 ships 1.36; the
/// operator's CI matrix tops out at 1.35; 1.34 is the newest the scheduler notes cover fully).
const DEFAULT_KUBERNETES_MINOR: u32 = 34;
/// Cluster Autoscaler defaults (reference/kube-scheduler.md §7.1, CA FAQ flag table):
/// `--scan-interval` 10s, `--scale-down-unneeded-time` 10m, `--scale-down-delay-after-add` 10m,
/// `--scale-down-utilization-threshold` 0.5, expander least-waste since CA 1.33.
const CA_SCAN_INTERVAL: Dur = Dur::secs(10);
const CA_UNNEEDED_TIME: Dur = Dur::mins(10);
const CA_DELAY_AFTER_ADD: Dur = Dur::mins(10);
const CA_UTILIZATION_PERCENT: u32 = 50;
/// Node provisioning is cloud-dependent (§7.1): 90 s from the scale-up to the node registering
/// is a typical EC2 boot plus kubelet registration (inference; set `provisioning` per group).
pub const DEFAULT_PROVISIONING: Dur = Dur::secs(90);
/// Registered → Ready (kubelet status, CNI): about 10 s (inference).
pub const DEFAULT_NODE_READY: Dur = Dur::secs(10);
/// How long an EKS control-plane upgrade replaces its API server instances: "several minutes"
/// (`update-cluster.adoc`, platform-ops.md §4.b); the number is sparkrig's (unverified).
const DEFAULT_CONTROL_PLANE_UPGRADE: Dur = Dur::mins(8);
/// A guard against runaway patterns.
const MAX_ARRIVALS: usize = 1_000_000;
/// Tasks per executor core when a workload does not say.
const DEFAULT_TASKS_PER_CORE: u32 = 20;

impl Cx<'_> {
    fn err(&mut self, path: &str, msg: impl Into<String>, help: Option<String>) {
        let d = self.src.diag(0, path, msg, help);
        self.errs.push(d);
    }

    /// An error pointing at a key (an unknown name).
    fn err_key(&mut self, path: &str, msg: impl Into<String>, help: Option<String>) {
        let d = self.src.diag_key(0, path, msg, help);
        self.errs.push(d);
    }

    fn resolve(&self, rel: &str) -> Option<PathBuf> {
        let p = Path::new(rel);
        if p.is_absolute() {
            return self.files.is_file(p).then(|| p.to_path_buf());
        }
        self.base.ancestors().map(|d| d.join(p)).find(|c| self.files.is_file(c)).map(|c| normalize(&c))
    }

    fn build(&mut self, raw: &RawScenario, seed: Option<u64>) -> Option<Scenario> {
        if let Some(k) = raw.kind.as_deref().filter(|k| *k != "Scenario") {
            self.err("kind", format!("expected kind `Scenario`, found `{k}`"), None);
        }
        if let Some(v) = raw.api_version.as_deref().filter(|v| *v != "sparkrig.io/v1alpha1") {
            self.err("apiVersion", format!("unsupported apiVersion `{v}`"), Some("use `sparkrig.io/v1alpha1`".into()));
        }
        let topology = self.topology(&raw.topology)?;
        let stack = self.stack(&raw.stack, &topology);
        let mut templates = Vec::new();
        let mut arrivals = Vec::new();
        let mut names = BTreeSet::new();
        let mut scheduled: Vec<ScheduledTemplate> = Vec::new();
        let mut scheduled_arrivals = Vec::new();
        for (i, w) in raw.workload.iter().enumerate() {
            let path = format!("workload[{i}]");
            let t = match self.manifest(&path, &w.app, w.work.as_ref(), &stack) {
                None => continue,
                Some(Loaded::App(t)) => t,
                Some(Loaded::Scheduled(t)) => {
                    if w.arrival.is_some() || w.every.is_some() {
                        self.err(
                            &format!("{path}.arrival"),
                            "a ScheduledSparkApplication is created once (`count`, `at`); its schedule runs it",
                            None,
                        );
                    }
                    let prefix = w.name.clone().unwrap_or_else(|| t.app.name.clone());
                    let count = w.count.unwrap_or(1);
                    let names = self.instance_names(&path, &prefix, count, false, &mut names);
                    for name in names {
                        scheduled_arrivals.push(Arrival { at: Time::ZERO + w.at.unwrap_or(Dur::ZERO), template: scheduled.len(), name });
                    }
                    scheduled.push(t);
                    continue;
                }
            };
            let prefix = w.name.clone().unwrap_or_else(|| templates_name(&t));
            let times = match &w.arrival {
                Some(a) => {
                    if w.count.is_some() || w.at.is_some() || w.every.is_some() {
                        self.err(&format!("{path}.arrival"), "`arrival` replaces `count`, `at` and `every`; use one or the other", None);
                    }
                    self.arrival_times(
                        &format!("{path}.arrival"),
                        a,
                        seed.or(raw.seed).unwrap_or(1) ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    )
                }
                None => {
                    let (start, every) = (w.at.unwrap_or(Dur::ZERO), w.every.unwrap_or(Dur::ZERO));
                    (0..w.count.unwrap_or(1)).map(|n| start + every.times(u64::from(n))).collect()
                }
            };
            let names = if times.is_empty() {
                self.err(
                    &format!("{path}.arrival"),
                    "this arrival pattern produces no apps",
                    Some("widen the window or raise the rate".into()),
                );
                vec![]
            } else {
                // Patterns always number their apps, even a single one.
                self.instance_names(&path, &prefix, times.len() as u32, w.arrival.is_some(), &mut names)
            };
            for (at, name) in times.into_iter().zip(names) {
                arrivals.push(Arrival { at: Time::ZERO + at, template: templates.len(), name });
            }
            templates.push(t);
        }
        arrivals.sort_by_key(|a| a.at);
        let mut steps = Vec::new();
        let mut active: Vec<String> = Vec::new();
        let mut injected: BTreeSet<String> = BTreeSet::new();
        let mut upgrades: BTreeSet<String> = BTreeSet::new();
        for (i, s) in raw.steps.iter().enumerate() {
            let path = format!("steps[{i}]");
            match s {
                RawStep::Upgrade(u) => {
                    if let Some(up) = self.upgrade(&format!("{path}.upgrade"), u, &topology) {
                        if !upgrades.insert(up.id.clone()) {
                            self.err(
                                &format!("{path}.upgrade"),
                                format!("an upgrade `{}` is already in the timeline", up.id),
                                Some("give this one its own `id`".into()),
                            );
                        }
                        steps.push(Step::Upgrade(up));
                    }
                }
                RawStep::Sleep(d) => steps.push(Step::Sleep(*d)),
                RawStep::Inject(f) => {
                    if let Some(fault) = self.fault(&format!("{path}.inject"), f, &topology) {
                        if active.contains(&fault.id) {
                            self.err(
                                &format!("{path}.inject"),
                                format!("fault `{}` is already active here", fault.id),
                                Some("heal it first, or give this one its own `id`".into()),
                            );
                        }
                        active.push(fault.id.clone());
                        injected.insert(fault.id.clone());
                        steps.push(Step::Inject(fault));
                    }
                }
                RawStep::Heal(id) => match active.iter().position(|a| a == id) {
                    Some(k) => {
                        active.remove(k);
                        steps.push(Step::Heal(id.clone()));
                    }
                    None => {
                        let help = did_you_mean(id, active.iter().map(String::as_str))
                            .or_else(|| (!active.is_empty()).then(|| format!("active faults here: {}", active.join(", "))));
                        self.err(&format!("{path}.heal"), format!("no active fault `{id}` to heal at this step"), help);
                    }
                },
                RawStep::Patch(p) => {
                    let apps = AppSel::parse(&p.apps);
                    self.check_patch(&format!("{path}.patch"), &apps, &p.spec, &templates, &arrivals, &steps);
                    steps.push(Step::Patch { apps, spec: p.spec.clone() });
                }
                RawStep::Submit(sub) => {
                    let p = format!("{path}.submit");
                    let Some(t) = self.template(&p, &sub.app, sub.work.as_ref(), &stack) else { continue };
                    let prefix = sub.name.clone().unwrap_or_else(|| templates_name(&t));
                    let names = self.instance_names(&p, &prefix, sub.count.unwrap_or(1), false, &mut names);
                    steps.push(Step::Submit { template: templates.len(), names });
                    templates.push(t);
                }
                RawStep::Wait(w) => {
                    if let Some(condition) = self.condition(&format!("{path}.wait"), w) {
                        steps.push(Step::Wait { condition, timeout: w.timeout });
                    }
                }
            }
        }
        if steps.is_empty() && !scheduled_arrivals.is_empty() {
            self.err(
                "steps",
                "ScheduledSparkApplications run until deleted: give the scenario a timeline",
                Some("e.g. `steps: [{sleep: 24h}]`".into()),
            );
        }
        if steps.is_empty() && !arrivals.is_empty() {
            // Without a timeline: run until every app is terminal (or the max duration).
            steps.push(Step::Wait {
                condition: Condition::AppsIn { apps: AppSel::All, states: vec![AppState::Completed, AppState::Failed] },
                timeout: Dur::hours(6),
            });
        }
        let mut expectations = self.expectations(&raw.expect, &topology);
        for e in &expectations {
            if let Expectation::ScheduledRuns { app, .. } = e {
                let known: Vec<String> =
                    scheduled_arrivals.iter().map(|a: &Arrival| format!("{}/{}", scheduled[a.template].app.namespace, a.name)).collect();
                if !known.iter().any(|k| k == app || k.rsplit('/').next() == Some(app.as_str())) {
                    let path = raw.expect.outcomes.iter().position(|o| o.scheduled.as_deref() == Some(app.as_str())).unwrap_or(0);
                    let help = did_you_mean(app, known.iter().map(|k| k.rsplit('/').next().unwrap_or(k)));
                    self.err(
                        &format!("expect.outcomes[{path}].scheduled"),
                        format!("no workload entry creates a ScheduledSparkApplication `{app}`"),
                        help,
                    );
                }
            }
        }
        for (i, r) in raw.expect.recovery.iter().enumerate() {
            if !injected.contains(&r.fault) {
                let help = did_you_mean(&r.fault, injected.iter().map(String::as_str));
                self.err(&format!("expect.recovery[{i}].fault"), format!("no step injects a fault `{}`", r.fault), help);
            }
            let apps = self.app_sel(&format!("expect.recovery[{i}].apps"), r.apps.as_ref());
            expectations.push(Expectation::Recovery { fault: r.fault.clone(), within: r.within, apps });
        }
        for (i, u) in raw.expect.upgrades.iter().enumerate() {
            let path = format!("expect.upgrades[{i}]");
            let id = |cx: &mut Self, required: bool| -> Option<String> {
                match &u.upgrade {
                    Some(id) if upgrades.contains(id) => Some(id.clone()),
                    Some(id) => {
                        let help = did_you_mean(id, upgrades.iter().map(String::as_str)).or_else(|| {
                            (!upgrades.is_empty()).then(|| format!("upgrades: {}", upgrades.iter().cloned().collect::<Vec<_>>().join(", ")))
                        });
                        cx.err(&format!("{path}.upgrade"), format!("no step upgrades `{id}`"), help);
                        None
                    }
                    None if required => {
                        cx.err(&format!("{path}.upgrade"), "name the upgrade (its step's `id`)", None);
                        None
                    }
                    None => None,
                }
            };
            let mut any = false;
            if let Some(within) = u.completes_within {
                any = true;
                if let Some(upgrade) = id(self, true) {
                    expectations.push(Expectation::UpgradeCompletes { upgrade, within });
                }
            }
            if let Some(b) = u.rejection_window {
                any = true;
                if b.min.is_none() && b.max.is_none() {
                    self.err(&format!("{path}.rejectionWindow"), "give `min` and/or `max`", None);
                }
                if let Some(upgrade) = id(self, true) {
                    expectations.push(Expectation::RejectionWindow { upgrade, min: b.min, max: b.max });
                }
            }
            if u.no_app_fails == Some(true) {
                any = true;
                let upgrade = id(self, false);
                let apps = self.app_sel(&format!("{path}.apps"), u.apps.as_ref());
                if u.upgrade.is_none() || upgrade.is_some() {
                    expectations.push(Expectation::NoAppFailsBecauseOfUpgrade { upgrade, apps });
                }
            } else if u.apps.is_some() {
                self.err(&format!("{path}.apps"), "`apps` goes with `noAppFails: true`", None);
            }
            if !any {
                self.err(
                    &path,
                    "an upgrade expectation needs `completesWithin`, `noAppFails: true` or `rejectionWindow`",
                    Some("e.g. `{upgrade: executors, completesWithin: 45m, noAppFails: true}`".into()),
                );
            }
        }
        if expectations.is_empty() {
            self.err(
                "expect",
                "a scenario needs at least one expectation",
                Some("e.g. `outcomes: [{apps: all, state: COMPLETED}]`".into()),
            );
        }
        Some(Scenario {
            name: raw.name.clone(),
            description: raw.description.clone().unwrap_or_default(),
            file: self.src.name().to_string(),
            seed: seed.or(raw.seed).unwrap_or(1),
            topology,
            stack,
            templates,
            arrivals,
            scheduled,
            scheduled_arrivals,
            steps,
            expectations,
            sim: SimTimings {
                image_pull: raw.sim.image_pull,
                container_start: raw.sim.container_start,
                jvm_start: raw.sim.jvm_start,
                api_call: raw.sim.api_call,
            },
            max_duration: raw.max_duration.unwrap_or(Dur::hours(24)),
            extra_manifests: Vec::new(),
        })
    }

    fn instance_names(&mut self, path: &str, prefix: &str, count: u32, numbered: bool, seen: &mut BTreeSet<String>) -> Vec<String> {
        if count == 0 {
            self.err(&format!("{path}.count"), "count must be at least 1", None);
            return vec![];
        }
        let names: Vec<String> =
            if count == 1 && !numbered { vec![prefix.to_string()] } else { (1..=count).map(|n| format!("{prefix}-{n}")).collect() };
        for n in &names {
            if !is_dns_1035(n) {
                self.err(
                    &format!("{path}.name"),
                    format!("app name `{n}` is not a valid DNS-1035 label (the webhook validator rejects it)"),
                    None,
                );
                break;
            }
            if !seen.insert(n.clone()) {
                self.err(
                    &format!("{path}.name"),
                    format!("app name `{n}` is used twice"),
                    Some("give the workload entries different `name` prefixes".into()),
                );
                break;
            }
        }
        names
    }

    /// Arrival offsets of a pattern, seeded.
    fn arrival_times(&mut self, path: &str, a: &RawArrival, seed: u64) -> Vec<Dur> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut out = Vec::new();
        // A Poisson process: exponential gaps of mean 1/λ, drawn from the scenario's seed.
        let poisson = |from: Dur, until: Dur, per_hour: f64, out: &mut Vec<Dur>, rng: &mut rand_chacha::ChaCha8Rng| {
            let mean_ms = 3_600_000.0 / per_hour;
            let mut t = from.as_ms() as f64;
            loop {
                let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
                t += -u.ln() * mean_ms;
                if t >= until.as_ms() as f64 || out.len() >= MAX_ARRIVALS {
                    break;
                }
                out.push(Dur::ms(t as u64));
            }
        };
        let window_ok = |cx: &mut Self, p: &str, from: Dur, until: Dur| {
            if until <= from {
                cx.err(p, format!("`until` ({until}) must be after `from` ({from})"), None);
                false
            } else {
                true
            }
        };
        let rate_ok = |cx: &mut Self, p: &str, r: f64| {
            if !(r.is_finite() && r > 0.0) {
                cx.err(p, "`perHour` must be a positive number", None);
                false
            } else {
                true
            }
        };
        match a {
            RawArrival::Burst(b) => out.extend(std::iter::repeat_n(b.at, b.count as usize)),
            RawArrival::Rate(r) => {
                let from = r.from.unwrap_or(Dur::ZERO);
                if r.every == Dur::ZERO {
                    self.err(&format!("{path}.rate.every"), "`every` must be more than 0s", None);
                } else if window_ok(self, &format!("{path}.rate.until"), from, r.until) {
                    let mut t = from;
                    while t < r.until && out.len() < MAX_ARRIVALS {
                        out.push(t);
                        t = t + r.every;
                    }
                }
            }
            RawArrival::Poisson(p) => {
                let from = p.from.unwrap_or(Dur::ZERO);
                if rate_ok(self, &format!("{path}.poisson.perHour"), p.per_hour)
                    && window_ok(self, &format!("{path}.poisson.until"), from, p.until)
                {
                    poisson(from, p.until, p.per_hour, &mut out, &mut rng);
                }
            }
            RawArrival::Schedule(windows) => {
                for (k, w) in windows.iter().enumerate() {
                    let wp = format!("{path}.schedule[{k}]");
                    if rate_ok(self, &format!("{wp}.perHour"), w.per_hour) && window_ok(self, &format!("{wp}.until"), w.from, w.until) {
                        poisson(w.from, w.until, w.per_hour, &mut out, &mut rng);
                    }
                }
                out.sort();
            }
        }
        if out.len() >= MAX_ARRIVALS {
            self.err(path, format!("more than {MAX_ARRIVALS} arrivals"), Some("lower the rate or shorten the window".into()));
        }
        out
    }

    fn topology(&mut self, r: &RawTopologyRef) -> Option<Topology> {
        match r {
            RawTopologyRef::Inline(t) => Topology::from_raw(t, self.src, "topology").map_err(|d| self.errs.extend(d.0)).ok(),
            RawTopologyRef::Named(n) => {
                let by_name = !n.contains('/') && !n.ends_with(".yaml") && !n.ends_with(".yml");
                let rel = if by_name { format!("fixtures/topologies/{n}.yaml") } else { n.clone() };
                let Some(path) = self.resolve(&rel) else {
                    let known: Vec<String> = self
                        .base
                        .ancestors()
                        .flat_map(|d| self.files.list(&d.join("fixtures/topologies")))
                        .filter_map(|f| f.strip_suffix(".yaml").map(String::from))
                        .collect();
                    let help = did_you_mean(n, known.iter().map(String::as_str))
                        .or_else(|| (!known.is_empty()).then(|| format!("known topologies: {}", known.join(", "))));
                    self.err("topology", format!("topology `{n}` not found (looked for {rel} from {} upwards)", self.base.display()), help);
                    return None;
                };
                let text =
                    self.files.read(&path).map_err(|e| self.err("topology", format!("cannot read {}: {e}", path.display()), None)).ok()?;
                Topology::from_source(&Source::new(display(&path), text)).map_err(|d| self.errs.extend(d.0)).ok()
            }
        }
    }

    fn placement(&mut self, path: &str, raw: Option<&RawPlacement>, topology: &Topology, default: Placement) -> Placement {
        let Some(raw) = raw else { return default };
        let mut p = Placement { node_selector: raw.node_selector.clone(), tolerations: raw.tolerations.clone() };
        if let Some(g) = &raw.nodegroup {
            match topology.group(g) {
                Some(group) => {
                    p.node_selector.insert(topology.group_label.clone(), g.clone());
                    for t in group.taints.iter().filter(|t| t.effect.blocks_scheduling()) {
                        p.tolerations.push(Toleration::for_taint(t));
                    }
                }
                None => self.errs.push(topology.unknown_group(self.src, &format!("{path}.nodegroup"), g)),
            }
        }
        p
    }

    fn component(&mut self, path: &str, raw: Option<&RawComponent>, topology: &Topology, replicas: u32, default: Placement) -> Component {
        let placement = self.placement(&format!("{path}.placement"), raw.and_then(|r| r.placement.as_ref()), topology, default);
        Component {
            enabled: raw.and_then(|r| r.enabled).unwrap_or(true),
            replicas: raw.and_then(|r| r.replicas).unwrap_or(replicas),
            placement,
            priority_class: raw.and_then(|r| r.priority_class_name.clone()),
        }
    }

    fn stack(&mut self, raw: &RawStack, topology: &Topology) -> Stack {
        let kubernetes_minor = match &raw.kubernetes {
            None => DEFAULT_KUBERNETES_MINOR,
            Some(k) => match parse_minor(&k.version) {
                Some(m) => m,
                None => {
                    self.err("stack.kubernetes.version", format!("`{}` is not a Kubernetes version like 1.34", k.version), None);
                    DEFAULT_KUBERNETES_MINOR
                }
            },
        };
        let op = raw.spark_operator.clone().unwrap_or_default();
        let webhook = op.webhook.clone().unwrap_or_default();
        let placement = self.placement("stack.sparkOperator.placement", op.placement.as_ref(), topology, Placement::default());
        if let Some(v) = raw.spark.as_ref().and_then(|s| s.version.as_deref()).filter(|v| SparkVersion::parse(v).is_none()) {
            self.err("stack.spark.version", format!("`{v}` is not a Spark version like 3.5.6"), None);
        }
        // kubeadm's CoreDNS Deployment: tolerates CriticalAddonsOnly and the control-plane taint,
        // selects linux nodes.
        let coredns_default = Placement {
            node_selector: [("kubernetes.io/os".to_string(), "linux".to_string())].into(),
            tolerations: vec![
                Toleration::exists("CriticalAddonsOnly", None),
                Toleration::exists(crate::kube::CONTROL_PLANE_TAINT, Some(crate::kube::TaintEffect::NoSchedule)),
            ],
        };
        let coredns = self.component("stack.coredns", raw.coredns.as_ref(), topology, DEFAULT_COREDNS_REPLICAS, coredns_default);
        let minio = self.component("stack.minio", raw.minio.as_ref(), topology, 1, Placement::default());
        let registry = self.component("stack.registry", raw.registry.as_ref(), topology, 1, Placement::default());
        let history_server = self.component("stack.historyServer", raw.history_server.as_ref(), topology, 1, Placement::default());
        let pdbs = self.pdbs(raw, &op, &webhook, [&coredns, &minio, &registry, &history_server]);
        Stack {
            kubernetes_minor,
            operator: Operator {
                version: op.version.clone().unwrap_or_else(|| "2.5.2".into()),
                replicas: op.replicas.unwrap_or(1),
                workers: op.workers.unwrap_or(DEFAULT_WORKERS).max(1),
                submit_time: op.submit_time.unwrap_or(DEFAULT_SUBMIT_TIME),
                webhook_enabled: webhook.enabled.unwrap_or(true),
                webhook_replicas: webhook.replicas.unwrap_or(1),
                failure_policy: webhook.failure_policy.unwrap_or(FailurePolicy::Fail),
                job_namespaces: op.job_namespaces.clone().unwrap_or_else(|| vec!["default".into()]),
                placement,
                service_accounts: op.service_accounts.clone(),
                priority_class: op.priority_class_name.clone(),
                driver_pdb: op.driver_pod_disruption_budget.unwrap_or(false),
            },
            spark_version: raw.spark.as_ref().and_then(|s| s.version.clone()),
            coredns,
            minio,
            registry,
            history_server,
            scheduler_qps: raw.scheduler.as_ref().and_then(|s| s.qps).unwrap_or(DEFAULT_SCHEDULER_QPS).max(1),
            scheduler_burst: raw.scheduler.as_ref().and_then(|s| s.burst).unwrap_or(DEFAULT_SCHEDULER_BURST).max(1),
            autoscaler: self.autoscaler(raw.autoscaler.as_ref(), topology),
            tenancy: self.tenancy(raw, webhook.resource_quota_enforcement.unwrap_or(false)),
            pdbs,
        }
    }

    /// Namespaces, quotas, limit ranges and priority classes (reference/platform-ops.md §2–3).
    fn tenancy(&mut self, raw: &RawStack, quota_enforcement: bool) -> crate::tenancy::Tenancy {
        use crate::tenancy::*;
        let mut classes = system_priority_classes();
        for (i, c) in raw.priority_classes.iter().enumerate() {
            let path = format!("stack.priorityClasses[{i}]");
            if !is_dns_subdomain(&c.name) {
                self.err(&format!("{path}.name"), format!("`{}` is not a valid PriorityClass name (a DNS subdomain)", c.name), None);
            }
            if c.name.starts_with("system-") {
                self.err(&format!("{path}.name"), "names starting with `system-` are reserved for the system classes", None);
            }
            if classes.iter().any(|x| x.name == c.name) {
                self.err(&format!("{path}.name"), format!("PriorityClass `{}` is defined twice", c.name), None);
            }
            // `HighestUserDefinablePriority` (pkg/apis/scheduling/types.go).
            if c.value > HIGHEST_USER_PRIORITY || c.value < i64::from(i32::MIN) {
                self.err(
                    &format!("{path}.value"),
                    format!("{} is out of range: user-defined priorities are at most {HIGHEST_USER_PRIORITY}", c.value),
                    None,
                );
            }
            if c.global_default
                && let Some(other) = classes.iter().find(|x| x.global_default)
            {
                // The Priority admission plugin refuses a second globalDefault class.
                self.err(
                    &format!("{path}.globalDefault"),
                    format!("PriorityClass `{}` is already marked as default; only one default can exist", other.name),
                    None,
                );
            }
            let preemption_policy = match c.preemption_policy.as_deref() {
                None | Some("PreemptLowerPriority") => PreemptionPolicy::PreemptLowerPriority,
                Some("Never") => PreemptionPolicy::Never,
                Some(other) => {
                    self.err(
                        &format!("{path}.preemptionPolicy"),
                        format!("unknown preemptionPolicy `{other}`"),
                        did_you_mean(other, ["PreemptLowerPriority", "Never"]),
                    );
                    PreemptionPolicy::PreemptLowerPriority
                }
            };
            classes.push(PriorityClass {
                name: c.name.clone(),
                value: c.value.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
                global_default: c.global_default,
                preemption_policy,
            });
        }
        let mut namespaces: Vec<Namespace> = Vec::new();
        for (i, n) in raw.namespaces.iter().enumerate() {
            let path = format!("stack.namespaces[{i}]");
            if !is_dns_label(&n.name) {
                self.err(&format!("{path}.name"), format!("`{}` is not a valid namespace name (a DNS label)", n.name), None);
            }
            if namespaces.iter().any(|x| x.name == n.name) {
                self.err(&format!("{path}.name"), format!("namespace `{}` is declared twice", n.name), None);
            }
            let mut quotas: Vec<ResourceQuota> = Vec::new();
            for (j, q) in n.resource_quotas.iter().enumerate() {
                let qp = format!("{path}.resourceQuotas[{j}]");
                if quotas.iter().any(|x| x.name == q.name) {
                    self.err(&format!("{qp}.name"), format!("ResourceQuota `{}` is declared twice in `{}`", q.name, n.name), None);
                }
                let mut hard = BTreeMap::new();
                for (k, v) in &q.hard {
                    let Some(r) = QuotaResource::parse(k) else {
                        self.err_key(
                            &format!("{qp}.hard.{k}"),
                            format!("`{k}` is not a pod resource sparkrig's quotas track"),
                            did_you_mean(k, QuotaResource::ALL.iter().map(|r| r.name()))
                                .or_else(|| Some(format!("resources: {}", QuotaResource::ALL.map(|r| r.name()).join(", ")))),
                        );
                        continue;
                    };
                    if let Some(v) = self.quantity(&format!("{qp}.hard.{k}"), r.unit(), &v.text()) {
                        hard.insert(r, v);
                    }
                }
                let mut scopes = Vec::new();
                for (k, sc) in q.scopes.iter().enumerate() {
                    match ScopeName::ALL.into_iter().find(|x| x.name() == sc) {
                        Some(scope) => scopes.push(ScopeRequirement { scope, operator: ScopeOperator::Exists, values: vec![] }),
                        None => self.err(
                            &format!("{qp}.scopes[{k}]"),
                            format!("unknown quota scope `{sc}`"),
                            did_you_mean(sc, ScopeName::ALL.iter().map(|x| x.name())),
                        ),
                    }
                }
                for (k, e) in q.scope_selector.iter().flat_map(|s| s.match_expressions.iter()).enumerate() {
                    let ep = format!("{qp}.scopeSelector.matchExpressions[{k}]");
                    let Some(scope) = ScopeName::ALL.into_iter().find(|x| x.name() == e.scope_name) else {
                        self.err(
                            &format!("{ep}.scopeName"),
                            format!("unknown quota scope `{}`", e.scope_name),
                            did_you_mean(&e.scope_name, ScopeName::ALL.iter().map(|x| x.name())),
                        );
                        continue;
                    };
                    let operator = match e.operator.as_str() {
                        "In" => ScopeOperator::In,
                        "NotIn" => ScopeOperator::NotIn,
                        "Exists" => ScopeOperator::Exists,
                        "DoesNotExist" => ScopeOperator::DoesNotExist,
                        other => {
                            self.err(
                                &format!("{ep}.operator"),
                                format!("unknown operator `{other}`"),
                                did_you_mean(other, ["In", "NotIn", "Exists", "DoesNotExist"]),
                            );
                            continue;
                        }
                    };
                    // ValidateScopedResourceSelectorRequirement: In/NotIn only on PriorityClass,
                    // with values; Exists/DoesNotExist without.
                    let with_values = matches!(operator, ScopeOperator::In | ScopeOperator::NotIn);
                    if with_values && (scope != ScopeName::PriorityClass || e.values.is_empty()) {
                        self.err(&format!("{ep}.values"), "`In` and `NotIn` need values, and only on the PriorityClass scope", None);
                    } else if !with_values && !e.values.is_empty() {
                        self.err(&format!("{ep}.values"), "`Exists` and `DoesNotExist` take no values", None);
                    }
                    scopes.push(ScopeRequirement { scope, operator, values: e.values.clone() });
                }
                quotas.push(ResourceQuota { name: q.name.clone(), namespace: n.name.clone(), hard, scopes });
            }
            let mut limit_ranges = Vec::new();
            for (j, lr) in n.limit_ranges.iter().enumerate() {
                let lp = format!("{path}.limitRanges[{j}]");
                let mut limits = Vec::new();
                for (k, item) in lr.limits.iter().enumerate() {
                    let ip = format!("{lp}.limits[{k}]");
                    let kind = match item.kind.as_str() {
                        "Container" => LimitType::Container,
                        "Pod" => LimitType::Pod,
                        other => {
                            self.err(
                                &format!("{ip}.type"),
                                format!("LimitRange type `{other}` does not apply to pods' cpu and memory"),
                                did_you_mean(other, ["Container", "Pod"]),
                            );
                            continue;
                        }
                    };
                    let default = self.cpu_mem(&format!("{ip}.default"), &item.default);
                    let default_request = self.cpu_mem(&format!("{ip}.defaultRequest"), &item.default_request);
                    if kind == LimitType::Pod && (!item.default.is_empty() || !item.default_request.is_empty()) {
                        self.err(&ip, "`default` and `defaultRequest` apply to type Container only", None);
                    }
                    let min = self.cpu_mem(&format!("{ip}.min"), &item.min);
                    let max = self.cpu_mem(&format!("{ip}.max"), &item.max);
                    let mut max_ratio_milli = BTreeMap::new();
                    for (r, v) in &item.max_limit_request_ratio {
                        let at = format!("{ip}.maxLimitRequestRatio.{r}");
                        if r != "cpu" && r != "memory" {
                            self.err_key(&at, format!("`{r}`: only cpu and memory"), None);
                            continue;
                        }
                        match crate::quantity::parse_cpu_millis(&v.text()) {
                            Ok(m) if m >= 1000 => {
                                max_ratio_milli.insert(r.clone(), m);
                            }
                            Ok(_) => self.err(&at, "a limit/request ratio is at least 1", None),
                            Err(e) => self.err(&at, e.to_string(), None),
                        }
                    }
                    limits.push(LimitRangeItem { kind, default, default_request, min, max, max_ratio_milli }.defaulted());
                }
                limit_ranges.push(LimitRange { name: lr.name.clone(), limits });
            }
            namespaces.push(Namespace { name: n.name.clone(), labels: n.labels.clone(), quotas, limit_ranges });
        }
        let tenancy = Tenancy { namespaces, priority_classes: classes, quota_enforcement };
        // Components name their class in the chart or manifest; an unknown one would keep the
        // platform from starting (the Priority admission plugin refuses the pods).
        let mut refs: Vec<(String, &Option<String>)> = Vec::new();
        if let Some(op) = &raw.spark_operator {
            refs.push(("stack.sparkOperator.priorityClassName".into(), &op.priority_class_name));
        }
        for (name, c) in
            [("coredns", &raw.coredns), ("minio", &raw.minio), ("registry", &raw.registry), ("historyServer", &raw.history_server)]
        {
            if let Some(c) = c {
                refs.push((format!("stack.{name}.priorityClassName"), &c.priority_class_name));
            }
        }
        for (path, name) in refs {
            if let Some(n) = name
                && tenancy.priority_class(n).is_none()
            {
                self.err(
                    &path,
                    format!("no PriorityClass with name {n} was found"),
                    did_you_mean(n, tenancy.priority_classes.iter().map(|c| c.name.as_str())),
                );
            }
        }
        tenancy
    }

    fn quantity(&mut self, path: &str, unit: crate::tenancy::Unit, text: &str) -> Option<i64> {
        use crate::tenancy::Unit;
        let parsed = match unit {
            Unit::Cpu => parse_cpu_millis(text).map_err(|e| e.to_string()),
            Unit::Memory => crate::quantity::parse_bytes(text).map_err(|e| e.to_string()),
            Unit::Count => text.parse::<i64>().map_err(|_| format!("`{text}` is not a whole number of pods")),
        };
        parsed.map_err(|e| self.err(path, e, None)).ok()
    }

    fn cpu_mem(&mut self, path: &str, raw: &std::collections::BTreeMap<String, crate::topology::NumOrString>) -> crate::tenancy::CpuMem {
        use crate::tenancy::{CpuMem, Unit};
        let mut out = CpuMem::default();
        for (k, v) in raw {
            match k.as_str() {
                "cpu" => out.cpu = self.quantity(&format!("{path}.{k}"), Unit::Cpu, &v.text()),
                "memory" => out.memory = self.quantity(&format!("{path}.{k}"), Unit::Memory, &v.text()),
                other => self.err_key(&format!("{path}.{k}"), format!("`{other}`: sparkrig's LimitRanges cover cpu and memory"), None),
            }
        }
        out
    }

    /// `minAvailable` xor `maxUnavailable`.
    fn budget(&mut self, path: &str, min_available: Option<IntOrPercent>, max_unavailable: Option<IntOrPercent>) -> Option<Budget> {
        match (min_available, max_unavailable) {
            (Some(m), None) => Some(Budget::MinAvailable(m)),
            (None, Some(m)) => Some(Budget::MaxUnavailable(m)),
            _ => {
                self.err(path, "a PodDisruptionBudget takes exactly one of `minAvailable` and `maxUnavailable`", None);
                None
            }
        }
    }

    /// The components' PDBs and the listed ones. Names and selectors follow the manifests that
    /// would create them: the operator chart's `<component>-pdb` (`templates/*/poddisruptionbudget.yaml`,
    /// which fail unless replicas > 1 and take only `minAvailable`), and `<deployment>-pdb` for
    /// the others (sparkrig's naming: kubeadm ships no CoreDNS PDB).
    fn pdbs(&mut self, raw: &RawStack, op: &RawOperator, webhook: &RawWebhook, comps: [&Component; 4]) -> Vec<PodDisruptionBudget> {
        let mut out = Vec::new();
        let chart = [
            (
                "stack.sparkOperator.podDisruptionBudget",
                op.pod_disruption_budget.as_ref(),
                "spark-operator-controller",
                op.replicas.unwrap_or(1),
                "controller",
            ),
            (
                "stack.sparkOperator.webhook.podDisruptionBudget",
                webhook.pod_disruption_budget.as_ref(),
                "spark-operator-webhook",
                webhook.replicas.unwrap_or(1),
                "webhook",
            ),
        ];
        for (path, b, name, replicas, key) in chart {
            let Some(b) = b else { continue };
            if replicas <= 1 {
                self.err(
                    path,
                    format!("{key}.replicas must be greater than 1 to enable pod disruption budget for {key} (the chart refuses it)"),
                    Some(format!("raise the {key} replicas to 2")),
                );
            }
            if b.max_unavailable.is_some() {
                self.err(
                    &format!("{path}.maxUnavailable"),
                    format!("the chart's {key}.podDisruptionBudget takes `minAvailable` only"),
                    None,
                );
                continue;
            }
            if let Some(budget) = self.budget(path, b.min_available, None) {
                out.push(PodDisruptionBudget {
                    name: format!("{name}-pdb"),
                    namespace: "spark-operator".into(),
                    selector: PdbSelector::Component(name.into()),
                    budget,
                });
            }
        }
        let plain = [
            ("stack.coredns", raw.coredns.as_ref(), "coredns", "kube-system", comps[0]),
            ("stack.minio", raw.minio.as_ref(), "minio", "minio", comps[1]),
            ("stack.registry", raw.registry.as_ref(), "registry", "registry", comps[2]),
            ("stack.historyServer", raw.history_server.as_ref(), "spark-history-server", "spark-history", comps[3]),
        ];
        for (path, r, name, namespace, c) in plain {
            let Some(b) = r.and_then(|r| r.pod_disruption_budget.as_ref()) else { continue };
            let path = format!("{path}.podDisruptionBudget");
            if !c.enabled {
                self.err(&path, "the component is not deployed", None);
            }
            if let Some(budget) = self.budget(&path, b.min_available, b.max_unavailable) {
                out.push(PodDisruptionBudget {
                    name: format!("{name}-pdb"),
                    namespace: namespace.into(),
                    selector: PdbSelector::Component(name.into()),
                    budget,
                });
            }
        }
        for (i, p) in raw.pod_disruption_budgets.iter().enumerate() {
            let path = format!("stack.podDisruptionBudgets[{i}]");
            if p.selector.is_empty() {
                self.err(&format!("{path}.selector"), "an empty selector selects no pod", None);
            }
            if out.iter().any(|o: &PodDisruptionBudget| o.name == p.name && o.namespace == p.namespace.as_deref().unwrap_or("default")) {
                self.err(&format!("{path}.name"), format!("a PodDisruptionBudget `{}` already exists", p.name), None);
            }
            if let Some(budget) = self.budget(&path, p.min_available, p.max_unavailable) {
                out.push(PodDisruptionBudget {
                    name: p.name.clone(),
                    namespace: p.namespace.clone().unwrap_or_else(|| "default".into()),
                    selector: PdbSelector::Labels(p.selector.clone()),
                    budget,
                });
            }
        }
        out
    }

    /// An `upgrade` step: one target, the parameters that apply to it.
    fn upgrade(&mut self, path: &str, u: &RawUpgrade, topology: &Topology) -> Option<Upgrade> {
        let targets: Vec<&str> =
            [("nodegroup", u.nodegroup.is_some()), ("sparkOperator", u.spark_operator.is_some()), ("kubernetes", u.kubernetes.is_some())]
                .into_iter()
                .filter_map(|(n, on)| on.then_some(n))
                .collect();
        let [target] = targets.as_slice() else {
            self.err(
                path,
                if targets.is_empty() {
                    "an upgrade needs a target".to_string()
                } else {
                    format!("one target per upgrade step, not {}", targets.join(" and "))
                },
                Some("`nodegroup: NAME`, `sparkOperator: VERSION` or `kubernetes: \"1.35\"`".into()),
            );
            return None;
        };
        let set: Vec<&str> = [
            ("version", u.version.is_some()),
            ("strategy", u.strategy.is_some()),
            ("maxUnavailable", u.max_unavailable.is_some()),
            ("surge", u.surge.is_some()),
            ("force", u.force.is_some()),
            ("budget", u.budget.is_some()),
            ("upgradeCrds", u.upgrade_crds.is_some()),
            ("duration", u.duration.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, on)| on.then_some(n))
        .collect();
        let drift = u.strategy == Some(RawNodeStrategy::Drift);
        let minimal = u.strategy == Some(RawNodeStrategy::Minimal);
        let allowed: &[&str] = match *target {
            "nodegroup" if drift => &["version", "strategy", "budget"],
            "nodegroup" if minimal => &["version", "strategy", "maxUnavailable", "force"],
            "nodegroup" => &["version", "strategy", "maxUnavailable", "surge", "force"],
            "sparkOperator" => &["upgradeCrds"],
            _ => &["duration"],
        };
        for p in set.iter().filter(|p| !allowed.contains(p)) {
            let what = if *target == "nodegroup" {
                format!(
                    "a {} nodegroup upgrade",
                    if drift {
                        "drift"
                    } else if minimal {
                        "minimal"
                    } else {
                        "rolling"
                    }
                )
            } else {
                format!("a {target} upgrade")
            };
            self.err(&format!("{path}.{p}"), format!("`{p}` does not apply to {what}"), Some(format!("it takes: {}", allowed.join(", "))));
        }
        let minor = |cx: &mut Self, field: &str, v: &str| {
            let m = parse_minor(v);
            if m.is_none() {
                cx.err(&format!("{path}.{field}"), format!("`{v}` is not a Kubernetes version like 1.35"), None);
            }
            m
        };
        let target = match *target {
            "nodegroup" => {
                let group = u.nodegroup.clone().expect("checked");
                match topology.group(&group) {
                    Some(g) if g.role == crate::topology::Role::ControlPlane => {
                        self.err(&format!("{path}.nodegroup"), "the control-plane group is upgraded with `kubernetes:`", None);
                        return None;
                    }
                    Some(_) => {}
                    None => {
                        self.errs.push(topology.unknown_group(self.src, &format!("{path}.nodegroup"), &group));
                        return None;
                    }
                }
                let version = match &u.version {
                    Some(v) => Some(minor(self, "version", v)?),
                    None => None,
                };
                let strategy = if drift {
                    // Karpenter NodePool `disruption.budgets` default `[{nodes: "10%"}]` (reference/kube-scheduler.md §7.2).
                    NodeStrategy::Drift { budget: u.budget.unwrap_or(IntOrPercent::Percent(10)) }
                } else {
                    // EKS `updateConfig.maxUnavailable` default 1 (platform-ops.md §4.a).
                    let max_unavailable = u.max_unavailable.unwrap_or(IntOrPercent::Int(1));
                    if max_unavailable.scaled(100, true) == 0 {
                        self.err(&format!("{path}.maxUnavailable"), "maxUnavailable must be at least 1 (or 1%)", None);
                    }
                    if matches!(max_unavailable, IntOrPercent::Percent(p) if p > 100) {
                        self.err(&format!("{path}.maxUnavailable"), "a percentage of at most 100%", None);
                    }
                    if u.surge == Some(0) {
                        self.err(
                            &format!("{path}.surge"),
                            "a rolling update launches at least one node first",
                            Some("use `strategy: minimal` to replace without a surge".into()),
                        );
                    }
                    let force = u.force.unwrap_or(false);
                    if minimal {
                        NodeStrategy::Minimal { max_unavailable, force }
                    } else {
                        NodeStrategy::Rolling { max_unavailable, surge: u.surge, force }
                    }
                };
                UpgradeTarget::Nodegroup { group, minor: version, strategy }
            }
            "sparkOperator" => {
                let version = u.spark_operator.clone().expect("checked");
                let ok = version.trim_start_matches('v').split('.').count() == 3
                    && version.trim_start_matches('v').split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
                if !ok {
                    self.err(&format!("{path}.sparkOperator"), format!("`{version}` is not a chart version like 2.5.2"), None);
                    return None;
                }
                UpgradeTarget::SparkOperator {
                    version: version.trim_start_matches('v').to_string(),
                    upgrade_crds: u.upgrade_crds.unwrap_or(false),
                }
            }
            _ => {
                let m = minor(self, "kubernetes", u.kubernetes.as_deref().expect("checked"))?;
                // EKS: "several minutes" per control-plane upgrade (platform-ops.md §4.b); the
                // figure itself is not documented (unverified).
                UpgradeTarget::Kubernetes { minor: m, duration: u.duration.unwrap_or(DEFAULT_CONTROL_PLANE_UPGRADE) }
            }
        };
        let id = u.id.clone().unwrap_or_else(|| match &target {
            UpgradeTarget::Nodegroup { group, .. } => group.clone(),
            UpgradeTarget::SparkOperator { .. } => "spark-operator".into(),
            UpgradeTarget::Kubernetes { .. } => "kubernetes".into(),
        });
        if !is_dns_label(&id) {
            self.err(&format!("{path}.id"), format!("`{id}` is not a valid id (lower-case letters, digits and '-')"), None);
        }
        Some(Upgrade { id, target })
    }

    fn autoscaler(&mut self, raw: Option<&RawAutoscaler>, topology: &Topology) -> Option<Autoscaler> {
        let enabled = raw.and_then(|a| a.enabled).unwrap_or_else(|| topology.groups.iter().any(|g| g.autoscaled()));
        if !enabled {
            return None;
        }
        let r = raw.cloned().unwrap_or_default();
        let threshold = r.scale_down_utilization_threshold.unwrap_or(f64::from(CA_UTILIZATION_PERCENT) / 100.0);
        if !(0.0..=1.0).contains(&threshold) {
            self.err("stack.autoscaler.scaleDownUtilizationThreshold", "a fraction between 0 and 1", None);
        }
        Some(Autoscaler {
            scan_interval: r.scan_interval.unwrap_or(CA_SCAN_INTERVAL).max(Dur::secs(1)),
            expander: r.expander.unwrap_or(Expander::LeastWaste),
            scale_down: r.scale_down.unwrap_or(true),
            unneeded_time: r.scale_down_unneeded_time.unwrap_or(CA_UNNEEDED_TIME),
            delay_after_add: r.scale_down_delay_after_add.unwrap_or(CA_DELAY_AFTER_ADD),
            utilization_percent: (threshold * 100.0).round() as u32,
            provisioning: r.provisioning.unwrap_or(DEFAULT_PROVISIONING),
            node_ready: r.node_ready.unwrap_or(DEFAULT_NODE_READY),
        })
    }

    fn template(&mut self, path: &str, rel: &str, work: Option<&RawWork>, stack: &Stack) -> Option<AppTemplate> {
        match self.manifest(path, rel, work, stack)? {
            Loaded::App(t) => Some(t),
            Loaded::Scheduled(t) => {
                self.err(
                    &format!("{path}.app"),
                    format!("`{}` is a ScheduledSparkApplication: only a workload entry can create one", t.file),
                    None,
                );
                None
            }
        }
    }

    /// A manifest holding one SparkApplication, or one ScheduledSparkApplication.
    fn manifest(&mut self, path: &str, rel: &str, work: Option<&RawWork>, stack: &Stack) -> Option<Loaded> {
        let Some(file) = self.resolve(rel) else {
            self.err(&format!("{path}.app"), format!("manifest `{rel}` not found (looked from {} upwards)", self.base.display()), None);
            return None;
        };
        let text = self
            .files
            .read(&file)
            .map_err(|e| self.err(&format!("{path}.app"), format!("cannot read {}: {e}", file.display()), None))
            .ok()?;
        let msrc = Source::new(display(&file), text);
        let docs = msrc.documents().map_err(|d| self.errs.push(d)).ok()?;
        let apps: Vec<&(usize, serde_json::Value)> = docs.iter().filter(|(_, v)| v["kind"] == "SparkApplication").collect();
        let scheduled: Vec<&(usize, serde_json::Value)> = docs.iter().filter(|(_, v)| v["kind"] == "ScheduledSparkApplication").collect();
        if let ([], [(doc, value)]) = (apps.as_slice(), scheduled.as_slice()) {
            return self.scheduled_template(&msrc, *doc, value, work, stack).map(Loaded::Scheduled);
        }
        let [(doc, value)] = apps.as_slice() else {
            self.err(
                &format!("{path}.app"),
                format!("`{}` holds {} SparkApplication documents; a workload entry needs exactly one", msrc.name(), apps.len()),
                None,
            );
            return None;
        };
        let mut bad = false;
        for v in validate_spark_application(value) {
            bad = true;
            let d =
                if v.unknown_field { msrc.diag_key(*doc, &v.path, v.message, v.help) } else { msrc.diag(*doc, &v.path, v.message, v.help) };
            self.errs.push(d);
        }
        if bad {
            return None;
        }
        let mut app: SparkApplication = match serde_path_to_error::deserialize(value) {
            Ok(a) => a,
            Err(e) => {
                self.errs.push(msrc.diag(*doc, &e.path().to_string(), e.inner().to_string(), None));
                return None;
            }
        };
        let before = self.errs.len();
        for (role, spec) in [("driver", &app.spec.driver), ("executor", &app.spec.executor)] {
            let fields = [
                ("memory", &spec.memory, true),
                ("memoryOverhead", &spec.memory_overhead, true),
                ("coreRequest", &spec.core_request, false),
                ("coreLimit", &spec.core_limit, false),
            ];
            for (field, value, spark_size) in fields {
                let Some(v) = value else { continue };
                let bad = if spark_size { parse_spark_mib(v).err() } else { parse_cpu_millis(v).err() };
                if let Some(e) = bad {
                    self.errs.push(msrc.diag(*doc, &format!("spec.{role}.{field}"), e.to_string(), None));
                }
            }
        }
        if self.errs.len() > before {
            return None;
        }
        if let Err(e) = podspec::memory_request_mib(&app, SparkRole::Driver)
            .and(podspec::memory_request_mib(&app, SparkRole::Executor))
            .and(podspec::cpu_request_millis(&app, SparkRole::Driver))
            .and(podspec::cpu_request_millis(&app, SparkRole::Executor))
        {
            self.errs.push(msrc.diag(*doc, "spec.sparkConf", e, None));
            return None;
        }
        if let Some(v) = &stack.spark_version {
            Arc::make_mut(&mut app.spec).spark_version = v.clone();
        }
        if app.spark_version().is_none() {
            self.errs.push(msrc.diag(*doc, "spec.sparkVersion", format!("`{}` is not a Spark version", app.spec.spark_version), None));
            return None;
        }
        let default = default_work(&app);
        let work = Work {
            tasks: work.and_then(|w| w.tasks).unwrap_or(default.tasks),
            task_duration: work.and_then(|w| w.task_duration).unwrap_or(default.task_duration),
        };
        if work.tasks == 0 {
            self.err(&format!("{path}.work.tasks"), "an app needs at least one task", None);
        }
        Some(Loaded::App(AppTemplate { file: msrc.name().to_string(), app, work }))
    }

    /// A ScheduledSparkApplication: its template validates against the SparkApplication CRD
    /// (as the operator's webhook checks it), its schedule and time zone parse (a bad one would
    /// leave the object in FailedValidation; here it is bad input, reported where it is).
    fn scheduled_template(
        &mut self,
        msrc: &Source,
        doc: usize,
        value: &serde_json::Value,
        work: Option<&RawWork>,
        stack: &Stack,
    ) -> Option<ScheduledTemplate> {
        use crate::scheduled::ScheduledApp;
        let as_app = ScheduledApp::template_document(value);
        let mut bad = false;
        for v in validate_spark_application(&as_app) {
            bad = true;
            let at = v.path.replacen("spec", "spec.template", 1);
            let d = if v.unknown_field { msrc.diag_key(doc, &at, v.message, v.help) } else { msrc.diag(doc, &at, v.message, v.help) };
            self.errs.push(d);
        }
        if bad {
            return None;
        }
        let mut ssa = match ScheduledApp::from_json(value) {
            Ok(s) => s,
            Err((at, message)) => {
                self.errs.push(msrc.diag(doc, &at, message, None));
                return None;
            }
        };
        if let Err(reason) = &ssa.parsed {
            let at = if reason.starts_with("Invalid timezone") && !ssa.time_zone.is_empty() { "spec.timeZone" } else { "spec.schedule" };
            self.errs.push(msrc.diag(
                doc,
                at,
                format!("the operator would set FailedValidation: {reason}"),
                Some("robfig/cron's standard form: 5 fields, @hourly/@daily/..., or `@every <Go duration>`".into()),
            ));
            return None;
        }
        if !is_dns_1035(&ssa.name) {
            self.errs.push(msrc.diag(
                doc,
                "metadata.name",
                format!("`{}` is not a DNS-1035 label (the webhook validator rejects it)", ssa.name),
                None,
            ));
        }
        if let Some(v) = &stack.spark_version {
            Arc::make_mut(&mut ssa.template.spec).spark_version = v.clone();
        }
        if let Err(e) = podspec::memory_request_mib(&ssa.template, SparkRole::Driver)
            .and(podspec::memory_request_mib(&ssa.template, SparkRole::Executor))
            .and(podspec::cpu_request_millis(&ssa.template, SparkRole::Driver))
            .and(podspec::cpu_request_millis(&ssa.template, SparkRole::Executor))
        {
            self.errs.push(msrc.diag(doc, "spec.template.sparkConf", e, None));
            return None;
        }
        let default = default_work(&ssa.template);
        let work = Work {
            tasks: work.and_then(|w| w.tasks).unwrap_or(default.tasks),
            task_duration: work.and_then(|w| w.task_duration).unwrap_or(default.task_duration),
        };
        Some(ScheduledTemplate { file: msrc.name().to_string(), app: ssa, work })
    }

    fn app_sel(&mut self, path: &str, s: Option<&String>) -> AppSel {
        if s.is_some_and(|s| s.is_empty()) {
            self.err(path, "empty app selector", Some("use `all`, a name or a glob like `etl-*`".into()));
        }
        s.map_or(AppSel::All, |s| AppSel::parse(s))
    }

    fn states(&mut self, path: &str, s: &str) -> Option<Vec<AppState>> {
        if s == "terminal" {
            return Some(vec![AppState::Completed, AppState::Failed]);
        }
        match s.parse::<AppState>() {
            Ok(st) => Some(vec![st]),
            Err(e) => {
                let help = did_you_mean(s, AppState::names().chain(["terminal"]));
                self.err(path, e, help.or_else(|| Some(format!("states: {}, terminal", AppState::names().collect::<Vec<_>>().join(", ")))));
                None
            }
        }
    }

    fn phase(&mut self, path: &str, s: &str) -> Option<String> {
        const PHASES: [&str; 4] = ["Pending", "Running", "Succeeded", "Failed"];
        if PHASES.contains(&s) {
            Some(s.to_string())
        } else {
            self.err(path, format!("unknown pod phase `{s}`"), did_you_mean(s, PHASES));
            None
        }
    }

    fn condition(&mut self, path: &str, w: &RawWait) -> Option<Condition> {
        match (&w.apps, &w.state, &w.reached, &w.pods, &w.phase) {
            (_, Some(s), None, None, None) => {
                let states = self.states(&format!("{path}.state"), s)?;
                Some(Condition::AppsIn { apps: self.app_sel(&format!("{path}.apps"), w.apps.as_ref()), states })
            }
            (_, None, Some(s), None, None) => {
                let state = self.states(&format!("{path}.reached"), s)?;
                let [state] = state.as_slice() else {
                    self.err(&format!("{path}.reached"), "`reached` takes one state", None);
                    return None;
                };
                Some(Condition::AppsReached { apps: self.app_sel(&format!("{path}.apps"), w.apps.as_ref()), state: *state })
            }
            (None, None, None, Some(p), Some(ph)) => {
                let phase = self.phase(&format!("{path}.phase"), ph)?;
                Some(Condition::PodsIn { pods: PodSel::parse(p), phase, count: w.count })
            }
            _ => {
                self.err(
                    path,
                    "a wait needs either `apps` with `state` or `reached`, or `pods` with `phase`",
                    Some("e.g. `wait: {apps: all, state: RUNNING, timeout: 3m}` or `wait: {pods: executors, phase: Running, count: 3, timeout: 2m}`".into()),
                );
                None
            }
        }
    }

    fn node_target(&mut self, path: &str, f: &RawFault, topology: &Topology) -> Option<NodeTarget> {
        match (&f.node, &f.nodegroup) {
            (Some(n), None) => {
                let names: Vec<String> =
                    topology.groups.iter().flat_map(|g| (1..=g.count).map(move |k| format!("{}-{k}", g.name))).collect();
                if names.contains(n) {
                    Some(NodeTarget::Named(n.clone()))
                } else {
                    let help = did_you_mean(n, names.iter().map(String::as_str));
                    self.err(&format!("{path}.node"), format!("no node `{n}` in topology `{}` at start", topology.name), help);
                    None
                }
            }
            (None, Some(g)) => match topology.group(g) {
                Some(group) => {
                    if f.count.is_some_and(|c| c == 0 || c > group.max) {
                        self.err(&format!("{path}.count"), format!("count must be between 1 and the group's max ({})", group.max), None);
                    }
                    Some(NodeTarget::Group { group: g.clone(), count: f.count })
                }
                None => {
                    self.errs.push(topology.unknown_group(self.src, &format!("{path}.nodegroup"), g));
                    None
                }
            },
            _ => {
                self.err(path, "give either `node` or `nodegroup` (with an optional `count`)", None);
                None
            }
        }
    }

    fn fault(&mut self, path: &str, raw: &RawInject, topology: &Topology) -> Option<Fault> {
        let empty = RawFault {
            fault: String::new(),
            id: None,
            node: None,
            nodegroup: None,
            count: None,
            delete_after: None,
            notice: None,
            drain: None,
            driver_of: None,
            executors_of: None,
            selector: None,
            force: None,
        };
        let (f, name_path) = match raw {
            RawInject::Name(n) => (RawFault { fault: n.clone(), ..empty }, path.to_string()),
            RawInject::Full(f) => ((**f).clone(), format!("{path}.fault")),
        };
        let Some(kind) = FaultKind::parse(&f.fault) else {
            let help = did_you_mean(&f.fault, CATALOG.iter().map(|e| e.name))
                .or_else(|| Some(format!("faults: {}", CATALOG.iter().map(|e| e.name).collect::<Vec<_>>().join(", "))));
            self.err(&name_path, format!("unknown fault `{}`", f.fault), help);
            return None;
        };
        let set: Vec<&str> = [
            ("node", f.node.is_some()),
            ("nodegroup", f.nodegroup.is_some()),
            ("count", f.count.is_some()),
            ("deleteAfter", f.delete_after.is_some()),
            ("notice", f.notice.is_some()),
            ("drain", f.drain.is_some()),
            ("driverOf", f.driver_of.is_some()),
            ("executorsOf", f.executors_of.is_some()),
            ("selector", f.selector.is_some()),
            ("force", f.force.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, on)| on.then_some(n))
        .collect();
        let allowed: &[&str] = match kind {
            FaultKind::NodeLoss => &["node", "nodegroup", "count", "deleteAfter"],
            FaultKind::NetworkPartition => &["node", "nodegroup", "count"],
            FaultKind::SpotInterruption => &["node", "nodegroup", "count", "notice", "drain"],
            FaultKind::PodKill => &["driverOf", "executorsOf", "selector", "count", "force"],
            _ => &[],
        };
        for p in set.iter().filter(|p| !allowed.contains(p)) {
            let help = if allowed.is_empty() {
                format!("`{}` takes no parameters", kind.name())
            } else {
                format!("`{}` takes: {}", kind.name(), allowed.join(", "))
            };
            self.err(&format!("{path}.{p}"), format!("`{p}` does not apply to {}", kind.name()), Some(help));
        }
        let spec = match kind {
            FaultKind::NodeLoss => FaultSpec::NodeLoss { nodes: self.node_target(path, &f, topology)?, delete_after: f.delete_after },
            FaultKind::NetworkPartition => FaultSpec::NetworkPartition { nodes: self.node_target(path, &f, topology)? },
            FaultKind::SpotInterruption => FaultSpec::SpotInterruption {
                nodes: self.node_target(path, &f, topology)?,
                notice: f.notice.unwrap_or(DEFAULT_SPOT_NOTICE),
                drain: f.drain.unwrap_or(true),
            },
            FaultKind::PodKill => {
                let pods = match (&f.driver_of, &f.executors_of, &f.selector) {
                    (Some(a), None, None) => PodTarget::DriverOf(AppSel::parse(a)),
                    (None, Some(a), None) => PodTarget::ExecutorsOf(AppSel::parse(a)),
                    (None, None, Some(l)) => PodTarget::Selector(l.clone()),
                    _ => {
                        self.err(path, "pod-kill needs exactly one of `driverOf`, `executorsOf` or `selector`", None);
                        return None;
                    }
                };
                FaultSpec::PodKill { pods, count: f.count, force: f.force.unwrap_or(false) }
            }
            k => FaultSpec::Component(k),
        };
        Some(Fault { id: f.id.clone().unwrap_or_else(|| kind.name().to_string()), spec })
    }

    /// The apps a patch step will touch must still validate against the CRD once patched.
    fn check_patch(
        &mut self,
        path: &str,
        apps: &AppSel,
        spec: &serde_json::Value,
        templates: &[AppTemplate],
        arrivals: &[Arrival],
        steps: &[Step],
    ) {
        if !spec.is_object() {
            self.err(&format!("{path}.spec"), "a patch is a map of spec fields", None);
            return;
        }
        let mut names: Vec<(usize, String)> = arrivals.iter().map(|a| (a.template, a.name.clone())).collect();
        for s in steps {
            if let Step::Submit { template, names: n } = s {
                names.extend(n.iter().map(|x| (*template, x.clone())));
            }
        }
        let mut matched = 0;
        for (t, name) in names {
            let app = templates[t].app.renamed(&name);
            if !apps.matches(&format!("{}/{name}", app.namespace())) {
                continue;
            }
            matched += 1;
            let mut json = app.to_json();
            merge_patch(&mut json["spec"], spec);
            if let Some(v) = validate_spark_application(&json).into_iter().next() {
                let sub = v.path.strip_prefix("spec").unwrap_or(&v.path);
                let at = format!("{path}.spec{sub}");
                let d =
                    if v.unknown_field { self.src.diag_key(0, &at, v.message, v.help) } else { self.src.diag(0, &at, v.message, v.help) };
                self.errs.push(d);
                return;
            }
        }
        if matched == 0 {
            self.err(&format!("{path}.apps"), format!("no app created before this step matches `{apps}`"), None);
        }
    }

    fn expectations(&mut self, raw: &RawExpect, topology: &Topology) -> Vec<Expectation> {
        let mut out = Vec::new();
        for (i, inv) in raw.invariants.iter().enumerate() {
            let path = format!("expect.invariants[{i}]");
            match inv {
                RawInvariant::ExecutorsOnlyOn(spec) | RawInvariant::DriversOnlyOn(spec) => {
                    let role = if matches!(inv, RawInvariant::ExecutorsOnlyOn(_)) { SparkRole::Executor } else { SparkRole::Driver };
                    let key = format!("{path}.{}s-only-on", role.as_str());
                    let (groups, apps) = match spec {
                        RawOnlyOn::Groups(g) => (g.to_vec(), AppSel::All),
                        RawOnlyOn::Scoped(s) => (s.nodegroups.to_vec(), self.app_sel(&format!("{key}.apps"), Some(&s.apps))),
                    };
                    for name in &groups {
                        if topology.group(name).is_none() {
                            self.errs.push(topology.unknown_group(self.src, &key, name));
                        }
                    }
                    out.push(Expectation::OnlyOn { role, groups, apps });
                }
                RawInvariant::DriversNeverOnInterruptible => out.push(Expectation::DriversNeverOnInterruptible),
                RawInvariant::TolerationsRespected => out.push(Expectation::TolerationsRespected),
                RawInvariant::LegalTransitions => out.push(Expectation::LegalTransitions),
                RawInvariant::StatesWithin(w) => {
                    let mut states = Vec::new();
                    for (j, st) in w.states.iter().enumerate() {
                        if let Some(mut v) = self.states(&format!("{path}.states-within.states[{j}]"), st) {
                            states.append(&mut v);
                        }
                    }
                    let apps = self.app_sel(&format!("{path}.states-within.apps"), w.apps.as_ref());
                    out.push(Expectation::StatesWithin { apps, states });
                }
            }
        }
        for (i, o) in raw.outcomes.iter().enumerate() {
            let path = format!("expect.outcomes[{i}]");
            if let Some(group) = &o.nodegroup {
                if topology.group(group).is_none() {
                    self.errs.push(topology.unknown_group(self.src, &format!("{path}.nodegroup"), group));
                }
                if o.apps.is_some()
                    || o.pods.is_some()
                    || o.state.is_some()
                    || o.reached.is_some()
                    || o.saw.is_some()
                    || o.pending.is_some()
                {
                    self.err(&path, "a nodegroup outcome takes only `peak` and `final`", None);
                }
                if o.peak.is_none() && o.final_nodes.is_none() {
                    self.err(
                        &path,
                        "a nodegroup outcome needs `peak` or `final` bounds",
                        Some("e.g. `{nodegroup: spark-executor, peak: {min: 100}, final: {max: 10}}`".into()),
                    );
                }
                for (peak, b) in [(true, o.peak), (false, o.final_nodes)] {
                    if let Some(b) = b {
                        out.push(Expectation::GroupSize { group: group.clone(), peak, min: b.min, max: b.max });
                    }
                }
                continue;
            }
            if let Some(app) = &o.scheduled {
                if o.apps.is_some()
                    || o.pods.is_some()
                    || o.state.is_some()
                    || o.reached.is_some()
                    || o.saw.is_some()
                    || o.pending.is_some()
                {
                    self.err(&path, "a scheduled outcome takes only `runs` and `skipped`", None);
                }
                if o.runs.is_none() && o.skipped.is_none() {
                    self.err(
                        &path,
                        "a scheduled outcome needs `runs` or `skipped` bounds",
                        Some("e.g. `{scheduled: hourly, runs: {min: 20}, skipped: {min: 1}}`".into()),
                    );
                }
                let b = |r: Option<RawBounds>| r.map_or((None, None), |r| (r.min, r.max));
                out.push(Expectation::ScheduledRuns { app: app.clone(), runs: b(o.runs), skipped: b(o.skipped) });
                continue;
            }
            let pod_forms = [o.pending.is_some(), o.saw.is_some(), o.bound_outside.is_some()].iter().filter(|x| **x).count();
            let app_forms = [o.state.is_some(), o.reached.is_some(), o.rejected == Some(true)].iter().filter(|x| **x).count();
            if pod_forms + app_forms != 1
                || (pod_forms == 1 && (o.pods.is_none() || o.apps.is_some()))
                || (app_forms == 1 && o.pods.is_some())
            {
                self.err(
                    &path,
                    "an outcome is one of `{apps, state}`, `{apps, reached}`, `{apps, rejected: true}`, `{pods, pending}`, `{pods, saw}`, `{pods, boundOutside}` or `{nodegroup, peak, final}`",
                    Some("e.g. `{apps: all, state: COMPLETED}` or `{pods: executors, saw: UnknownHostException}`".into()),
                );
                continue;
            }
            let min = o.count.unwrap_or(1);
            if o.rejected == Some(true) {
                out.push(Expectation::AppsRejected { apps: self.app_sel(&format!("{path}.apps"), o.apps.as_ref()) });
                continue;
            }
            if let Some(r) = &o.reached {
                if let Some(st) = self.states(&format!("{path}.reached"), r) {
                    let apps = self.app_sel(&format!("{path}.apps"), o.apps.as_ref());
                    for state in st {
                        out.push(Expectation::AppsReached { apps: apps.clone(), state });
                    }
                }
                continue;
            }
            if let (Some(p), Some(text)) = (&o.pods, &o.saw) {
                out.push(Expectation::PodsSaw { pods: PodSel::parse(p), text: text.clone(), min });
                continue;
            }
            if let (Some(p), Some(groups)) = (&o.pods, &o.bound_outside) {
                let groups = groups.to_vec();
                for g in &groups {
                    if topology.group(g).is_none() {
                        self.errs.push(topology.unknown_group(self.src, &format!("{path}.boundOutside"), g));
                    }
                }
                out.push(Expectation::BoundOutside { pods: PodSel::parse(p), groups, min });
                continue;
            }
            match (&o.apps, &o.state, &o.pods, &o.pending) {
                (_, Some(states), None, None) => {
                    let mut all = Vec::new();
                    for s in states.to_vec() {
                        if let Some(mut st) = self.states(&format!("{path}.state"), &s) {
                            all.append(&mut st);
                        }
                    }
                    out.push(Expectation::AppsEndIn { apps: self.app_sel(&format!("{path}.apps"), o.apps.as_ref()), states: all });
                }
                (None, None, Some(p), reason) => out.push(Expectation::PodsPending { pods: PodSel::parse(p), reason: reason.clone() }),
                _ => self.err(
                    &path,
                    "an outcome is either `{apps, state}` or `{pods, pending}`",
                    Some("e.g. `{apps: all, state: COMPLETED}` or `{pods: executors, pending: untolerated taint}`".into()),
                ),
            }
        }
        for (i, s) in raw.slos.iter().enumerate() {
            let path = format!("expect.slos[{i}]");
            let Some(metric) = Metric::ALL.into_iter().find(|m| m.name() == s.metric) else {
                self.err(
                    &format!("{path}.metric"),
                    format!("unknown metric `{}`", s.metric),
                    did_you_mean(&s.metric, Metric::ALL.iter().map(|m| m.name())),
                );
                continue;
            };
            let bounds: Vec<(u8, Dur)> =
                [(50, s.p50), (90, s.p90), (99, s.p99), (100, s.max)].into_iter().filter_map(|(q, b)| b.map(|b| (q, b))).collect();
            if bounds.is_empty() {
                self.err(&path, "an SLO needs a bound: p50, p90, p99 or max", None);
            }
            let pods = PodSel::parse(s.pods.as_deref().unwrap_or(if metric.per_pod() { "spark" } else { "all" }));
            let apps = self.app_sel(&format!("{path}.apps"), s.apps.as_ref());
            for (quantile, bound) in bounds {
                out.push(Expectation::Slo { metric, pods: pods.clone(), apps: apps.clone(), quantile, bound });
            }
        }
        out
    }
}

fn templates_name(t: &AppTemplate) -> String {
    t.app.metadata.name.clone()
}

/// RFC 1123 subdomain (PriorityClass names).
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// DNS-1035 label (SparkApplication names, checked by the webhook validator).
fn is_dns_1035(s: &str) -> bool {
    is_dns_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match patch {
        serde_json::Value::Object(p) => {
            if !target.is_object() {
                *target = serde_json::Value::Object(Default::default());
            }
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}
