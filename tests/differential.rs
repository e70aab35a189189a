//! The kube backend, executed for real: every scenario whose faults can be carried out through
//! the Kubernetes API runs twice — `sparkrig run S` on the simulator, and `sparkrig run S
//! --backend kube --context sparkrig-<name>` against `sparkrig serve S --stack-only --speed 60`
//! — and both must agree: the same result for every expectation, and equivalent traces (the
//! same apps with the same state sequences and attempts; the same driver pods and, per app, the
//! same executors, on the same nodegroups, ending with the same exit codes; apps ending within
//! a tolerance; see [`Summary`] and [`interchange`] for what is compared as a set, and why).
//! Whatever differs is a bug in the kube backend, in the translation or in serve.
//!
//! # The kube backend's API calls, and the test that executes each against serve
//!
//! | call (harness/real) | test |
//! |---|---|
//! | CRD preflight: `GET customresourcedefinitions/sparkapplications.sparkoperator.k8s.io` | every comparison here |
//! | watchers (list + watch): Spark pods by `spark-role`, CoreDNS and operator pods, Nodes, SparkApplications | every comparison here |
//! | server-side apply of the scenario's SparkApplications (`fieldManager=sparkrig`) | every comparison here |
//! | readiness waits: `GET deployments/<n>`, `GET mutatingwebhookconfigurations/<n>` | every comparison here (preparation) |
//! | scale subresource, `GET` then merge `PATCH` (count recorded, restored on heal) | coredns-outage, operator-outage, webhook-down-* |
//! | Corefile: `GET configmaps/coredns`, `PUT` the broken one, merge `PATCH` back | coredns-misconfig |
//! | pod deletes selected by label (pod-kill) | pod-kill |
//! | merge `PATCH` of app specs (a `patch` step) | suspend-and-edit |
//! | diagnostics: `GET pods/<n>`, `GET pods/<n>/log`, `GET events?fieldSelector=involvedObject.name=…` | [`a_failed_expectation_through_the_api_leaves_the_pods_logs_and_events`] |
//! | heal on Ctrl-C / SIGTERM, leftover apps deleted (`clear_previous_apps`) | tests/kube_safety.rs |
//!
//! Not executed through serve: cordon, drain (evictions) and Node deletes (only the node
//! faults use them, and those also stop or disconnect kind's node containers: kind only), and
//! the CRD server-side apply of `sparkrig up` (kind only).
//!
//! The kube backend sees the cluster through watches, so its times are observation times, on
//! serve's virtual clock: a watch event reaches it within a server tick (5 ms, 0.3 s of
//! virtual time at 60x) plus its own work. Apps must end within [`END_TOLERANCE_MS`].

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sparkrig_model::trace::{Event, PodPhase, Record};

/// Scenarios the kube backend can run through the API.
const RUNNABLE: &[&str] = &[
    "smoke.yaml",
    "placement-broken.yaml",
    "coredns-outage.yaml",
    "coredns-misconfig.yaml",
    "operator-outage.yaml",
    "webhook-down-ignore.yaml",
    "pod-kill.yaml",
    "dynamic-allocation.yaml",
    "suspend-and-edit.yaml",
    "e2e-fail-submission.yaml",
    "e2e-fail-application.yaml",
    "priority-preemption.yaml",
    "unwatched-namespace.yaml",
];

/// Scenarios with a narrow window, run at a lower speed, and why.
const SLOWER: &[(&str, &str, &str)] = &[(
    "webhook-down-fail.yaml",
    "10",
    "the outage starts 2 s (virtual) before submitting-*'s spark-submit creates its driver pod; at 60x \
         the kube backend's reaction (the watch event, then the scale request: ~30 ms of wall time) is 2 s",
)];

/// Scenarios that cannot run this way, and why.
const NOT_RUNNABLE: &[(&str, &str)] = &[
    ("minio-outage.yaml", "stops MinIO's container: a Docker fault, kind only"),
    ("registry-outage.yaml", "stops the registry's container: a Docker fault, kind only"),
    ("network-partition.yaml", "disconnects node containers from the kind network: kind only"),
    ("node-loss-driver.yaml", "stops a node's container: kind only"),
    ("spot-interruption.yaml", "terminates a node's container after the notice: kind only"),
    (
        "team-quotas.yaml",
        "team-a's burst waits for quota: which resubmission of which app finds it free depends on each create's \
         instant to the millisecond; the kube backend's creates land 0.3-2 s (virtual) later and reorder the \
         retries (attempt counts and end times differ by up to 30 s while every check holds)",
    ),
    ("monday-upgrade.yaml", "upgrade steps: the kube backend refuses them (a real cluster is upgraded by its provider, not by sparkrig)"),
    ("operator-upgrade.yaml", "upgrade steps: the kube backend refuses them (a real cluster is upgraded by its provider, not by sparkrig)"),
    (
        "k8s-minor-upgrade.yaml",
        "upgrade steps: the kube backend refuses them (a real cluster is upgraded by its provider, not by sparkrig)",
    ),
    ("hourly-batches.yaml", "23.5 virtual hours of hourly runs: 23.5 wall minutes at 60x"),
    (
        "monday-morning.yaml",
        "4.6 virtual hours: 4.6 wall minutes at 60x, too long for every CI run (run it by hand with the commands above)",
    ),
];

/// Expectations the Kubernetes API cannot show, and why: the kube backend reports them from
/// what it observes, so they are not compared.
const NOT_OBSERVABLE: &[(&str, &str, &str)] = &[
    (
        "webhook-down-fail.yaml",
        "1+ executor pods saw \"failed calling webhook\"",
        "a pod create the API server rejected leaves no object and no Event; only the driver's log shows it",
    ),
    (
        "priority-preemption.yaml",
        "2+ executor pods saw \"preempted by default/urgent-\"",
        "the victim's DisruptionTarget condition does not name the preemptor (kube-scheduler names it, by UID, \
         only in a Preempted Event), and the kube backend reads pod objects, not Events",
    ),
];

/// How far apart an app's end may be between the two runs (virtual ms).
const END_TOLERANCE_MS: u64 = 10_000;

fn sparkrig(args: &[&str], env: Option<(&str, &Path)>) -> (i32, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sparkrig"));
    c.args(args).current_dir(common::root());
    if let Some((k, v)) = env {
        c.env(k, v);
    }
    let o = c.output().expect("sparkrig runs");
    (o.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

fn read_trace(p: &Path) -> Vec<Record> {
    std::fs::read_to_string(p).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// `pi-0a1b2c3d4e5f6a7b-exec-3` → `pi-exec-3`: executor name prefixes carry random ids.
fn normal(pod: &str) -> String {
    match pod.rsplit_once("-exec-") {
        Some((head, n)) => {
            let app = head
                .rsplit_once('-')
                .filter(|(_, hex)| hex.len() == 16 && hex.chars().all(|c| c.is_ascii_hexdigit()))
                .map_or(head, |(a, _)| a);
            format!("{app}-exec-{n}")
        }
        None => pod.to_string(),
    }
}

/// How a Spark pod fared: the nodegroups it was bound to, how it ended.
#[derive(Debug, Default, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Fate {
    groups: Vec<String>,
    endings: Vec<String>,
}

/// What two runs must agree on.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    /// App → its distinct state sequence and final attempts.
    apps: BTreeMap<String, (Vec<String>, u32, u32)>,
    /// App → when it reached a terminal state.
    ended: BTreeMap<String, u64>,
    /// App → its driver pods' fates (one per driver pod name the operator used).
    drivers: BTreeMap<String, BTreeMap<String, Fate>>,
    /// App → its executors' fates, sorted. Executors are compared as a multiset, not by number:
    /// Spark numbers an executor when it asks for it, so a creation the API server rejects
    /// still uses a number (ExecutorPodsAllocator), and how many were rejected depends on the
    /// instant a fault is healed, which the two runs share only within [`END_TOLERANCE_MS`].
    /// Each with its pod's (normalised) name, for the messages.
    executors: BTreeMap<String, Vec<(Fate, String)>>,
}

/// `ns/app-driver` of app `ns/app` → `driver`; executor ids do not matter (see [`Summary`]).
fn suffix<'a>(pod: &'a str, app: &str) -> &'a str {
    pod.strip_prefix(app).map_or(pod, |s| s.trim_start_matches('-'))
}

fn summarise(trace: &[Record]) -> Summary {
    let mut s = Summary::default();
    let mut groups: BTreeMap<String, String> = BTreeMap::new();
    // Spark pod → (its app, executor or not, its fate).
    let mut pods: BTreeMap<String, (String, bool, Fate)> = BTreeMap::new();
    for r in trace {
        match &r.event {
            Event::NodeAdded { node, group, .. } => {
                groups.insert(node.clone(), group.clone());
            }
            Event::AppState { app, state, submission_attempts, execution_attempts, .. } => {
                let e = s.apps.entry(app.clone()).or_default();
                if e.0.last().map(String::as_str) != Some(&state.to_string()) {
                    e.0.push(state.to_string());
                }
                (e.1, e.2) = (*submission_attempts, *execution_attempts);
                if state.is_terminal() {
                    s.ended.entry(app.clone()).or_insert(r.t.as_ms());
                }
            }
            Event::PodCreated { pod, app, role: Some(role), .. } => {
                let executor = *role == sparkrig_model::podspec::SparkRole::Executor;
                pods.insert(pod.clone(), (app.clone().unwrap_or_default(), executor, Fate::default()));
            }
            Event::PodScheduled { pod, node } => {
                if let Some((_, _, f)) = pods.get_mut(pod) {
                    f.groups.push(groups.get(node).cloned().unwrap_or_else(|| format!("? {node}")));
                }
            }
            Event::PodTerminated { pod, phase, exit_code, .. } => {
                if let Some((_, _, f)) = pods.get_mut(pod) {
                    let phase = if *phase == PodPhase::Succeeded { "Succeeded" } else { "Failed" };
                    f.endings.push(format!("{phase} {}", exit_code.map_or("-".into(), |c| c.to_string())));
                }
            }
            _ => {}
        }
    }
    for (pod, (app, executor, fate)) in pods {
        if executor {
            s.executors.entry(app).or_default().push((fate, normal(&pod)));
        } else {
            s.drivers.entry(app.clone()).or_default().insert(suffix(&pod, &app).to_string(), fate);
        }
    }
    for fates in s.executors.values_mut() {
        fates.sort();
    }
    interchange(s)
}

/// Apps of one workload entry (`spark-pi-1`, `spark-pi-2`, ...) are submitted at the same
/// instant from the same manifest: which of them wins a race for a node is not something two
/// backends can be asked to agree on (the simulator breaks the tie by order, the API by
/// arrival). Such siblings are renamed by the order in which they ended (`spark-pi-#1`, ...),
/// so the runs are compared instance by instance in that order, and their executors together.
fn interchange(mut s: Summary) -> Summary {
    let family = |app: &str| -> Option<String> {
        let (head, n) = app.rsplit_once('-')?;
        (!n.is_empty() && n.chars().all(|c| c.is_ascii_digit())).then(|| head.to_string())
    };
    let mut families: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for app in s.apps.keys() {
        if let Some(f) = family(app) {
            families.entry(f).or_default().push((s.ended.get(app).copied().unwrap_or(u64::MAX), app.clone()));
        }
    }
    let mut rename: BTreeMap<String, String> = BTreeMap::new();
    for (f, mut members) in families.into_iter().filter(|(_, m)| m.len() > 1) {
        members.sort();
        for (k, (_, app)) in members.into_iter().enumerate() {
            rename.insert(app, format!("{f}-#{}", k + 1));
        }
    }
    fn rekey<V>(m: BTreeMap<String, V>, rename: &BTreeMap<String, String>) -> BTreeMap<String, V> {
        m.into_iter().map(|(k, v)| (rename.get(&k).cloned().unwrap_or(k), v)).collect()
    }
    s.apps = rekey(s.apps, &rename);
    s.ended = rekey(s.ended, &rename);
    s.drivers = rekey(s.drivers, &rename);
    // Their executors are asked for at nearly the same instants too, and which lands on which
    // node is the same race: the family's executors are compared as one multiset.
    let mut executors: BTreeMap<String, Vec<(Fate, String)>> = BTreeMap::new();
    for (app, fates) in std::mem::take(&mut s.executors) {
        let key = match rename.get(&app) {
            Some(r) => format!("{}-*", r.rsplit_once("-#").map_or(r.as_str(), |(f, _)| f)),
            None => app,
        };
        executors.entry(key).or_default().extend(fates);
    }
    for fates in executors.values_mut() {
        fates.sort();
    }
    s.executors = executors;
    s
}

/// Readable differences between the simulator's run and the kube backend's.
fn differences(sim: &Summary, kube: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    for (app, a) in &sim.apps {
        match kube.apps.get(app) {
            None => out.push(format!("app {app}: not seen through the API")),
            Some(b) if a != b => out.push(format!(
                "app {app}: states {:?} (attempts {}/{}) on the simulator, {:?} ({}/{}) through the API",
                a.0, a.1, a.2, b.0, b.1, b.2
            )),
            _ => {}
        }
    }
    for app in kube.apps.keys().filter(|k| !sim.apps.contains_key(*k)) {
        out.push(format!("app {app}: only seen through the API"));
    }
    for (app, t) in &sim.ended {
        if let Some(u) = kube.ended.get(app)
            && t.abs_diff(*u) > END_TOLERANCE_MS
        {
            out.push(format!("app {app}: ended at {t} ms on the simulator, {u} ms through the API (tolerance {END_TOLERANCE_MS} ms)"));
        }
    }
    let none = BTreeMap::new();
    for app in sim.drivers.keys().chain(kube.drivers.keys().filter(|a| !sim.drivers.contains_key(*a))) {
        let (a, b) = (sim.drivers.get(app).unwrap_or(&none), kube.drivers.get(app).unwrap_or(&none));
        for pod in a.keys().chain(b.keys().filter(|p| !a.contains_key(*p))) {
            match (a.get(pod), b.get(pod)) {
                (Some(x), Some(y)) if x != y => out.push(format!(
                    "app {app}: pod {pod} on {:?} ending {:?} on the simulator, on {:?} ending {:?} through the API",
                    x.groups, x.endings, y.groups, y.endings
                )),
                (Some(_), None) => out.push(format!("app {app}: pod {pod} not seen through the API")),
                (None, Some(_)) => out.push(format!("app {app}: pod {pod} only seen through the API")),
                _ => {}
            }
        }
    }
    let no = Vec::new();
    for app in sim.executors.keys().chain(kube.executors.keys().filter(|a| !sim.executors.contains_key(*a))) {
        let (a, b) = (sim.executors.get(app).unwrap_or(&no), kube.executors.get(app).unwrap_or(&no));
        // What is left of each side once equal fates are paired off, named by pod.
        let mut left: Vec<&(Fate, String)> = a.iter().collect();
        let mut right: Vec<&(Fate, String)> = Vec::new();
        for x in b {
            match left.iter().position(|y| y.0 == x.0) {
                Some(i) => {
                    left.remove(i);
                }
                None => right.push(x),
            }
        }
        if left.is_empty() && right.is_empty() {
            continue;
        }
        let show = |v: &[&(Fate, String)]| {
            if v.is_empty() {
                return "none".to_string();
            }
            v.iter().map(|(f, pod)| format!("{pod} on {:?} ending {:?}", f.groups, f.endings)).collect::<Vec<_>>().join(", ")
        };
        out.push(format!("app {app}: executors only on the simulator: {}; only through the API: {}", show(&left), show(&right)));
    }
    out
}

fn results(verdict: &Value) -> BTreeMap<String, bool> {
    verdict["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap().to_string(), r["passed"].as_bool().unwrap()))
        .collect()
}

/// Runs one scenario both ways; the differences, empty when they agree.
fn compare(scenario: &str, speed: &str, dir: &Path) -> Vec<String> {
    let path = format!("scenarios/{scenario}");
    let name = std::fs::read_to_string(common::root().join(&path))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("name: ").map(str::trim).map(String::from))
        .unwrap();
    let file = |x: &str| -> PathBuf { dir.join(format!("{name}.{x}")) };
    let (code_sim, out_sim) =
        sparkrig(&["run", &path, "--json", file("sim.json").to_str().unwrap(), "--trace", file("sim.jsonl").to_str().unwrap(), "-q"], None);
    assert!(code_sim <= 1, "{scenario} on the simulator: {out_sim}");
    let trace = file("serve.jsonl").display().to_string();
    let served = common::Served::start(dir, &path, speed, &["--trace", &trace]);
    let kubeconfig = served.kubeconfig.clone();
    let context = format!("sparkrig-{name}");
    let (code_kube, out_kube) = sparkrig(
        &[
            "run",
            &path,
            "--backend",
            "kube",
            "--context",
            &context,
            "--json",
            file("kube.json").to_str().unwrap(),
            "--trace",
            file("kube.jsonl").to_str().unwrap(),
            "-q",
        ],
        Some(("KUBECONFIG", &kubeconfig)),
    );
    drop(served);
    assert!(code_kube <= 1, "{scenario} on kube: {out_kube}");
    let sim: Value = serde_json::from_str(&std::fs::read_to_string(file("sim.json")).unwrap()).unwrap();
    let kube: Value = serde_json::from_str(&std::fs::read_to_string(file("kube.json")).unwrap()).unwrap();
    let mut diffs = Vec::new();
    let (rs, rk) = (results(&sim), results(&kube));
    for (check, passed) in &rs {
        if NOT_OBSERVABLE.iter().any(|(s, c, _)| *s == scenario && c == check) {
            continue;
        }
        if rk.get(check) != Some(passed) {
            diffs.push(format!(
                "expectation `{check}`: {} on the simulator, {} through the API",
                verdict_word(Some(*passed)),
                verdict_word(rk.get(check).copied())
            ));
        }
    }
    diffs.extend(differences(&summarise(&read_trace(&file("sim.jsonl"))), &summarise(&read_trace(&file("kube.jsonl")))));
    diffs.into_iter().map(|d| format!("{scenario}: {d}")).collect()
}

fn verdict_word(p: Option<bool>) -> &'static str {
    match p {
        Some(true) => "held",
        Some(false) => "failed",
        None => "missing",
    }
}

#[test]
fn every_scenario_is_either_compared_or_listed_with_its_reason() {
    let mut names: Vec<String> = std::fs::read_dir(common::root().join("scenarios"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    for n in &names {
        let listed = RUNNABLE.contains(&n.as_str()) as u8
            + SLOWER.iter().any(|(s, _, _)| s == n) as u8
            + NOT_RUNNABLE.iter().any(|(s, _)| s == n) as u8;
        assert_eq!(listed, 1, "{n}: list it once, in RUNNABLE, in SLOWER or in NOT_RUNNABLE with the reason");
    }
}

fn created(t: u64, pod: &str, app: &str, role: sparkrig_model::podspec::SparkRole) -> Record {
    Record {
        t: sparkrig_model::time::Time(t),
        event: Event::PodCreated {
            pod: pod.into(),
            app: Some(app.into()),
            role: Some(role),
            component: None,
            node_selector: Default::default(),
            tolerations: vec![],
            cpu_millis: 1,
            memory_bytes: 1,
            priority: 0,
        },
    }
}

fn terminated(t: u64, pod: &str, exit_code: Option<i32>) -> Record {
    Record {
        t: sparkrig_model::time::Time(t),
        event: Event::PodTerminated { pod: pod.into(), phase: PodPhase::Failed, exit_code, reason: "Error".into(), message: String::new() },
    }
}

#[test]
fn the_translation_is_checked_pod_by_pod() {
    use sparkrig_model::podspec::SparkRole::Executor;
    // A translation that dropped exit codes reads as a different ending, named by app.
    let sim = summarise(&[
        created(0, "default/a-0123456789abcdef-exec-1", "default/a", Executor),
        terminated(5, "default/a-0123456789abcdef-exec-1", Some(1)),
    ]);
    let kube = summarise(&[
        created(0, "default/a-0123456789abcdef-exec-1", "default/a", Executor),
        terminated(5, "default/a-0123456789abcdef-exec-1", None),
    ]);
    assert_eq!(
        differences(&sim, &kube),
        [
            "app default/a: executors only on the simulator: default/a-exec-1 on [] ending [\"Failed 1\"]; only through the API: default/a-exec-1 on [] ending [\"Failed -\"]"
        ]
    );
    // Executor numbers may differ (rejected creations use numbers); the executors may not.
    let renumbered = summarise(&[
        created(0, "default/a-0123456789abcdef-exec-3", "default/a", Executor),
        terminated(5, "default/a-0123456789abcdef-exec-3", Some(1)),
    ]);
    assert!(differences(&sim, &renumbered).is_empty());
}

#[test]
fn sibling_apps_are_compared_in_the_order_they_ended() {
    let state = |t: u64, app: &str| Record {
        t: sparkrig_model::time::Time(t),
        event: Event::AppState {
            app: app.into(),
            state: sparkrig_model::appstate::AppState::Completed,
            message: String::new(),
            submission_attempts: 1,
            execution_attempts: 1,
        },
    };
    let sim = summarise(&[state(52_000, "default/pi-2"), state(72_000, "default/pi-3")]);
    let swapped = summarise(&[state(72_900, "default/pi-2"), state(52_900, "default/pi-3")]);
    assert!(differences(&sim, &swapped).is_empty());
    assert_eq!(sim.ended.keys().collect::<Vec<_>>(), ["default/pi-#1", "default/pi-#2"]);
    let pooled = summarise(&[
        state(1, "default/pi-2"),
        state(2, "default/pi-3"),
        created(0, "default/pi-2-exec-1", "default/pi-2", sparkrig_model::podspec::SparkRole::Executor),
        created(0, "default/pi-3-exec-1", "default/pi-3", sparkrig_model::podspec::SparkRole::Executor),
    ]);
    assert_eq!(pooled.executors.keys().collect::<Vec<_>>(), ["default/pi-*"]);
    assert_eq!(pooled.executors["default/pi-*"].len(), 2);
    let late = summarise(&[state(52_000, "default/pi-2"), state(92_000, "default/pi-3")]);
    assert_eq!(
        differences(&sim, &late),
        ["app default/pi-#2: ended at 72000 ms on the simulator, 92000 ms through the API (tolerance 10000 ms)"]
    );
}

#[test]
fn the_kube_backend_agrees_with_the_simulator_through_sparkrig_serve() {
    let dir = common::scratch("differential");
    for (s, why) in NOT_RUNNABLE {
        eprintln!("not compared: {s}: {why}");
    }
    // SPARKRIG_DIFFERENTIAL=a.yaml,b.yaml compares only those (when chasing one difference).
    let only = std::env::var("SPARKRIG_DIFFERENTIAL").ok();
    let chosen = |s: &str| only.as_deref().is_none_or(|o| o.split(',').any(|x| x == s));
    let mut all = Vec::new();
    for s in RUNNABLE.iter().filter(|s| chosen(s)) {
        all.extend(compare(s, "60", &dir));
    }
    for (s, speed, why) in SLOWER.iter().filter(|(s, _, _)| chosen(s)) {
        eprintln!("at {speed}x: {s}: {why}");
        all.extend(compare(s, speed, &dir));
    }
    assert!(all.is_empty(), "the simulator and the kube backend through sparkrig serve differ:\n  {}", all.join("\n  "));
}

#[test]
fn a_failed_expectation_through_the_api_leaves_the_pods_logs_and_events() {
    // Executors are expected on the infra group: they are not, and the evidence names them.
    let dir = common::scratch("differential-diagnostics");
    let scenario = common::variant(&dir, "smoke.yaml", |s| s.replace("executors-only-on: spark-executor", "executors-only-on: infra"));
    let served = common::Served::start(&dir, scenario.to_str().unwrap(), "60", &[]);
    let report = dir.join("kube.json");
    let (code, out) = sparkrig(
        &["run", scenario.to_str().unwrap(), "--backend", "kube", "--context", "sparkrig-smoke", "--json", report.to_str().unwrap()],
        Some(("KUBECONFIG", &served.kubeconfig)),
    );
    drop(served);
    assert_eq!(code, 1, "{out}");
    let diagnostics = dir.join("smoke-diagnostics");
    assert!(out.contains(&format!("diagnostics (pod logs, events) in {}", diagnostics.display())), "{out}");
    let files: Vec<_> = std::fs::read_dir(&diagnostics).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!files.is_empty(), "one file per pod in the evidence");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.contains("-exec-"), "{name}: only executors are in the evidence");
        // The pod's container log (its lines or serve's "gone" line) and its Events, from the API.
        assert!(text.contains("container spark-kubernetes-executor <==") || text.contains("the pod object is gone"), "{name}:\n{text}");
        assert!(text.contains("==> events of default/"), "{name}:\n{text}");
        assert!(text.contains("Scheduled: Successfully assigned default/"), "{name}: the Events of the pod:\n{text}");
    }
}
