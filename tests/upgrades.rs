//! Upgrades on the simulator, phase by phase, with the reference's timings written out
//! (platform-ops.md §4): an EKS managed nodegroup rolling update, Karpenter drift, the Spark
//! Operator chart, a control-plane minor; version skew; PodDisruptionBudgets holding a drain
//! up to EKS's eviction timeout; and `--set` overrides.

mod common;

use std::path::Path;

use common::{root, run, scratch, variant};
use sparkrig_model::scenario::{Scenario, load_str};
use sparkrig_model::trace::{Event, Record};
use sparkrig_model::upgrade::UpgradePhase;
use sparkrig_run::files::FsFiles;
use sparkrig_run::runner;
use sparkrig_run::verdict::Verdict;
use sparkrig_sim::SimBackend;

/// A scenario written here, its references resolved from the repository root.
fn scenario(text: &str) -> Scenario {
    load_str("inline.yaml", text, root(), &FsFiles, None).unwrap_or_else(|d| panic!("{d}"))
}

fn simulate(plan: &Scenario) -> (Verdict, Vec<Record>) {
    let mut records = Vec::new();
    let mut sink = |r: &Record| records.push(r.clone());
    let (v, _) = runner::run(plan, &mut SimBackend, None, Some(&mut sink)).expect("runs");
    (v, records)
}

/// (seconds, phase, node) of one upgrade's events.
fn phases(records: &[Record], id: &str) -> Vec<(u64, UpgradePhase, Option<String>)> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Upgrade { upgrade, phase, node, .. } if upgrade == id => Some((r.t.as_ms() / 1000, *phase, node.clone())),
            _ => None,
        })
        .collect()
}

fn times(p: &[(u64, UpgradePhase, Option<String>)], which: UpgradePhase) -> Vec<u64> {
    p.iter().filter(|(_, ph, _)| *ph == which).map(|(t, ..)| *t).collect()
}

/// Platform components on `infra`, six empty `workers` on kubelet 1.34 under a 1.35 control
/// plane; node provisioning 90 s, Ready 10 s later.
const SIX_WORKERS: &str = r#"
name: six-workers
topology:
  name: six
  nodegroups:
    - {name: infra, count: 2, shape: {cpu: 8, memory: 32Gi}}
    - name: workers
      count: 6
      version: "1.34"
      provisioning: 90s
      shape: {cpu: 8, memory: 32Gi}
      taints: ["dedicated=workers:NoSchedule"]
stack:
  kubernetes: {version: "1.35"}
  sparkOperator: {placement: {nodegroup: infra}}
  coredns: {placement: {nodegroup: infra}}
  minio: {placement: {nodegroup: infra}}
  registry: {placement: {nodegroup: infra}}
  historyServer: {placement: {nodegroup: infra}}
"#;

/// Golden: a 6-node EKS managed nodegroup rolling update, maxUnavailable 1, surge 1, empty
/// nodes (platform-ops.md §4.a). With P = 90 s provisioning and R = 10 s to Ready:
///
/// - 0 s: setup (launch template → 1.35) and scale-up: desired 6 → 7, one surge node.
/// - P = 90 s: the surge node registers; P + R = 100 s: Ready. One new Ready node per zone:
///   the six old nodes are cordoned at 100 s.
/// - Upgrade phase, maxUnavailable 1: an old node (at random) is drained at 100 s; empty at
///   once, it waits the documented 60 s and is terminated at 160 s; the ASG, desired still 7,
///   launches its replacement (registered at 160 + 90 = 250 s, Ready at 260 s) and the next old
///   node is drained at 160 s. Node k (k = 0..5) is drained at 100 + 60k s and terminated at
///   160 + 60k s: the last at 460 s.
/// - The last replacement is Ready at 460 + 100 = 560 s; then scale-down: desired 7 → 6, the
///   ASG terminates one instance at 560 s, and the update is complete at 560 s.
///
/// Total: (P + R) + 6 × 60 s + (P + R) = 100 + 360 + 100 = 560 s.
#[test]
fn golden_six_node_rolling_update_with_max_unavailable_1_and_surge_1() {
    let plan = scenario(&format!(
        "{SIX_WORKERS}steps:\n  - upgrade: {{nodegroup: workers, maxUnavailable: 1, surge: 1}}\nexpect:\n  upgrades: [{{upgrade: workers, completesWithin: 10m}}]\n"
    ));
    let (v, records) = simulate(&plan);
    assert!(v.passed, "{v:#?}");
    let p = phases(&records, "workers");
    assert_eq!(times(&p, UpgradePhase::Started), [0]);
    assert_eq!(times(&p, UpgradePhase::ScaleUp), [0]);
    let (p_s, r_s, wait) = (90, 10, 60);
    let launched: Vec<u64> = std::iter::once(p_s).chain((0..6).map(|k| 160 + 60 * k + p_s)).collect();
    assert_eq!(times(&p, UpgradePhase::NodeLaunched), launched, "surge at P, replacements P after each termination");
    let ready: Vec<u64> = launched.iter().map(|t| t + r_s).collect();
    assert_eq!(times(&p, UpgradePhase::NodeReady), ready);
    assert_eq!(times(&p, UpgradePhase::Cordoned), [100; 6], "every old node, once the surge node is Ready");
    let drains: Vec<u64> = (0..6).map(|k| 100 + wait * k).collect();
    assert_eq!(times(&p, UpgradePhase::Drain), drains);
    assert_eq!(times(&p, UpgradePhase::Drained), drains, "empty nodes drain at once");
    let mut terminated: Vec<u64> = drains.iter().map(|t| t + wait).collect();
    terminated.push(560);
    assert_eq!(times(&p, UpgradePhase::NodeTerminated), terminated);
    assert_eq!(times(&p, UpgradePhase::ScaleDown), [560]);
    assert_eq!(times(&p, UpgradePhase::Completed), [(p_s + r_s) + 6 * wait + (p_s + r_s)]);
    // Each old node is drained once; the group ends with six nodes, all on kubelet 1.35.
    let mut drained: Vec<String> = p.iter().filter(|(_, ph, _)| *ph == UpgradePhase::Drain).filter_map(|(_, _, n)| n.clone()).collect();
    drained.sort();
    assert_eq!(drained, (1..=6).map(|k| format!("workers-{k}")).collect::<Vec<_>>());
    let mut group: std::collections::BTreeMap<String, Option<String>> = Default::default();
    for r in &records {
        match &r.event {
            Event::NodeAdded { node, group: g, kubelet_version, .. } if g == "workers" => {
                group.insert(node.clone(), kubelet_version.clone());
            }
            Event::NodeRemoved { node, .. } => {
                group.remove(node);
            }
            _ => {}
        }
    }
    assert_eq!(group.len(), 6, "{group:?}");
    assert!(group.values().all(|v| v.as_deref() == Some("1.35")), "{group:?}");
}

/// A PodDisruptionBudget that allows no disruption holds the drain; EKS gives up after 15
/// minutes (`PodEvictionFailure`) and the step fails; `force` evicts ignoring the budget.
#[test]
fn a_blocking_budget_fails_the_update_after_15_minutes_unless_forced() {
    // One CoreDNS replica on the workers, with minAvailable 1: never evictable.
    let base = SIX_WORKERS.replace(
        "coredns: {placement: {nodegroup: infra}}",
        "coredns: {replicas: 1, placement: {nodegroup: workers}, podDisruptionBudget: {minAvailable: 1}}",
    );
    let text = |extra: &str| {
        format!(
            "{base}steps:\n  - upgrade: {{nodegroup: workers, surge: 1{extra}}}\nexpect:\n  upgrades: [{{upgrade: workers, completesWithin: 1h}}]\n"
        )
    };
    let (v, records) = simulate(&scenario(&text("")));
    assert!(!v.passed);
    let p = phases(&records, "workers");
    let blocked = p.iter().find(|(_, ph, _)| *ph == UpgradePhase::EvictionBlocked).expect("the eviction was refused");
    // The CoreDNS node may be drained first or later; its timeout comes 15 min after its drain.
    let drain_of_blocked = p.iter().find(|(_, ph, n)| *ph == UpgradePhase::Drain && *n == blocked.2).unwrap().0;
    assert_eq!(times(&p, UpgradePhase::EvictionTimeout), [drain_of_blocked + 15 * 60]);
    let failed = records
        .iter()
        .find_map(|r| match &r.event {
            Event::StepEnded { ok: false, message, .. } => Some(message.clone()),
            _ => None,
        })
        .expect("the step failed");
    assert!(failed.starts_with("PodEvictionFailure") && failed.contains("kube-system/coredns-"), "{failed}");
    let reason = records
        .iter()
        .find_map(|r| match &r.event {
            Event::Upgrade { phase: UpgradePhase::EvictionBlocked, reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        reason.contains("429 TooManyRequests")
            && reason.contains("The disruption budget coredns-pdb needs 1 healthy pods and has 1 currently"),
        "{reason}"
    );

    let (v, records) = simulate(&scenario(&text(", force: true")));
    assert!(v.passed, "{v:#?}");
    assert!(records.iter().any(|r| matches!(&r.event, Event::Upgrade { phase: UpgradePhase::ForceEvicted, pod: Some(p), .. } if p.starts_with("kube-system/coredns-"))));
}

/// Karpenter drift with a budget of 50 % of 4 nodes: ⌈4 × 0.5⌉ = 2 nodes at a time, each
/// tainted, replaced by a pre-spun node (P + R = 100 s), then drained and terminated at once.
#[test]
fn drift_replaces_within_the_budget_pre_spinning_each_replacement() {
    let text = SIX_WORKERS.replace("count: 6", "count: 4")
        + "steps:\n  - upgrade: {nodegroup: workers, strategy: drift, budget: \"50%\"}\nexpect:\n  upgrades: [{upgrade: workers, completesWithin: 10m}]\n";
    let (v, records) = simulate(&scenario(&text));
    assert!(v.passed, "{v:#?}");
    let p = phases(&records, "workers");
    // Two tainted at 0 s; their replacements Ready at 100 s; both drained and terminated at
    // 100 s; budget (⌈5 or 4 × 50 %⌉ − not ready) lets the next two go at 100 s; done at 200 s.
    assert_eq!(times(&p, UpgradePhase::Cordoned), [0, 0, 100, 100]);
    assert_eq!(times(&p, UpgradePhase::NodeReady), [100, 100, 200, 200]);
    assert_eq!(times(&p, UpgradePhase::Drain), [100, 100, 200, 200]);
    assert_eq!(times(&p, UpgradePhase::NodeTerminated), [100, 100, 200, 200]);
    assert_eq!(times(&p, UpgradePhase::Completed), [200]);
    assert!(times(&p, UpgradePhase::ScaleDown).is_empty(), "drift replaces one for one");
    assert!(
        records
            .iter()
            .any(|r| matches!(&r.event, Event::NodeTaints { taints, .. } if taints.iter().any(|t| t.key == "karpenter.sh/disrupted")))
    );
}

/// The version skew policy and EKS's rules, checked when the step starts: a kubelet newer
/// than the API server, a control plane skipping a minor, or one moving on while nodes lag
/// are refused, and the step fails with the reason.
#[test]
fn version_skew_and_one_minor_at_a_time_are_enforced() {
    let refused = |steps: &str| {
        let text = SIX_WORKERS.replace("      version: \"1.34\"\n", "")
            + &format!("steps:\n{steps}expect:\n  outcomes: [{{apps: all, state: COMPLETED}}]\n");
        let (_, records) = simulate(&scenario(&text));
        records
            .iter()
            .find_map(|r| match &r.event {
                Event::Upgrade { phase: UpgradePhase::Refused, reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .unwrap_or_default()
    };
    let r = refused("  - upgrade: {nodegroup: workers, version: \"1.36\"}\n");
    assert!(r.contains("kubelet 1.36: newer than kube-apiserver 1.35") && r.contains("workers-1, workers-2"), "{r}");
    let r = refused("  - upgrade: {kubernetes: \"1.37\"}\n");
    assert!(r.contains("one minor at a time: 1.35 → 1.37 refused"), "{r}");
    let r = refused("  - upgrade: {nodegroup: workers, version: \"1.31\"}\n");
    assert!(r.contains("more than 3 minors older"), "{r}");
    // Nodes still on 1.34 when the control plane would leave 1.35.
    let text =
        SIX_WORKERS.to_string() + "steps:\n  - upgrade: {kubernetes: \"1.36\"}\nexpect:\n  outcomes: [{apps: all, state: COMPLETED}]\n";
    let (_, records) = simulate(&scenario(&text));
    let r = records
        .iter()
        .find_map(|r| match &r.event {
            Event::Upgrade { phase: UpgradePhase::Refused, reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .unwrap();
    assert!(r.contains("on the control plane's minor 1.35") && r.contains("workers-1 (kubelet 1.34)"), "{r}");
}

/// A control-plane upgrade switches the behaviour that depends on the version when it
/// completes: a node lost afterwards goes NotReady after 1.32's 50 s grace, not 1.31's 40 s
/// (reference/kube-scheduler.md §5.1, PR #126287). Leases renew every 10 s from registration
/// (t = 0); NotReady comes at the first 5 s monitor pass after last renewal + grace.
#[test]
fn a_control_plane_upgrade_switches_the_node_monitor_grace_period() {
    let text = SIX_WORKERS.replace("      version: \"1.34\"\n", "").replace("version: \"1.35\"", "version: \"1.31\"")
        + "steps:\n  - upgrade: {kubernetes: \"1.32\", duration: 4m}\n  - sleep: 3s\n  - inject: {fault: node-loss, node: workers-1}\n  - sleep: 2m\nexpect:\n  upgrades: [{upgrade: kubernetes, completesWithin: 5m}]\n";
    let (v, records) = simulate(&scenario(&text));
    assert!(v.passed, "{v:#?}");
    let p = phases(&records, "kubernetes");
    // Two API server instances, 2 m each: watches reconnect at 120 s and 240 s; the switch at 240 s.
    assert_eq!(times(&p, UpgradePhase::WatchesReconnected), [120, 240]);
    assert_eq!(times(&p, UpgradePhase::VersionSwitched), [240]);
    let switched = records
        .iter()
        .find_map(|r| match &r.event {
            Event::Upgrade { phase: UpgradePhase::VersionSwitched, reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .unwrap();
    assert!(switched.contains("node-monitor-grace-period 40s → 50s"), "{switched}");
    let lost = 243_000u64;
    let last_renew = lost - lost % 10_000;
    let not_ready = (last_renew + 50_000).div_ceil(5_000) * 5_000;
    let seen = records
        .iter()
        .find_map(|r| matches!(&r.event, Event::NodeNotReady { node, .. } if node == "workers-1").then_some(r.t.as_ms()))
        .unwrap();
    assert_eq!(seen, not_ready, "240 s + 50 s grace on the 5 s grid = {not_ready} ms");
}

/// The chart upgrade with the chart's defaults: surge-first rollouts (no webhook rejection)
/// and a leadership gap of the Lease's 15 s plus the 2 s retry grid; the infra roll then opens
/// a rejection window for the lone webhook replica, which two replicas and a PDB close.
#[test]
fn operator_upgrade_leader_gap_and_the_window_two_replicas_and_a_pdb_close() {
    let dir = scratch("operator-upgrade");
    let t = dir.join("t.jsonl");
    let (code, out, err) = run(&["run", "scenarios/operator-upgrade.yaml", "--color", "never", "--trace", t.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let records: Vec<Record> = std::fs::read_to_string(&t).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let p = phases(&records, "chart");
    let (lost, elected) = (times(&p, UpgradePhase::LeaderLost), times(&p, UpgradePhase::LeaderElected));
    assert_eq!((lost.len(), elected.len()), (1, 1), "{p:?}");
    let gap = elected[0] - lost[0];
    assert!((15..=17).contains(&gap), "the Lease runs out 15 s after the last renewal, candidates retry every 2 s: gap {gap}s");
    assert!(out.contains("rejection window during upgrade infra"), "{out}");

    let (code, out, _) = run(&[
        "run",
        "scenarios/operator-upgrade.yaml",
        "--color",
        "never",
        "--set",
        "stack.sparkOperator.webhook.replicas=2",
        "--set",
        "stack.sparkOperator.webhook.podDisruptionBudget.minAvailable=1",
    ]);
    assert_eq!(code, 1, "the window's lower bound no longer holds: {out}");
    assert!(out.contains("no rejection during upgrade infra (window 0s)"), "{out}");
}

/// `--set` replaces a field before validation; its problems are reported against the flag.
#[test]
fn set_overrides_are_validated_like_the_file_and_named_in_errors() {
    let (code, _, err) = run(&["validate", "scenarios/monday-upgrade.yaml", "--set", "steps[2].upgrade.maxUnavailable=lots"]);
    assert_eq!(code, 2);
    assert!(err.contains("--set steps[2].upgrade.maxUnavailable=lots") && err.contains("not a count or a percentage"), "{err}");
    let (code, _, err) = run(&["validate", "scenarios/monday-upgrade.yaml", "--set", "stack.spark.version=banana"]);
    assert_eq!(code, 2);
    assert!(err.contains("--set stack.spark.version=banana: `stack.spark.version`: `banana` is not a Spark version"), "{err}");
    let (code, _, err) = run(&["validate", "scenarios/monday-upgrade.yaml", "--set", "stack.sparkOperator.webhok.replicas=2"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown field `webhok`") && err.contains("did you mean `webhook`?"), "{err}");
    let (code, _, err) = run(&["validate", "scenarios/monday-upgrade.yaml", "--set", "steps[9].sleep=1m"]);
    assert_eq!(code, 2);
    assert!(err.contains("index [9] is out of range"), "{err}");
    let (code, _, err) = run(&["validate", "scenarios/monday-upgrade.yaml", "--set", "nonsense"]);
    assert_eq!(code, 2);
    assert!(err.contains("not PATH=VALUE"), "{err}");
    // An error elsewhere in the file keeps its line.
    let dir = scratch("set-located");
    let path = variant(&dir, "monday-upgrade.yaml", |s| s.replace("maxUnavailable: \"25%\"", "maxUnavailable: \"x%\""));
    let (code, _, err) = run(&["validate", path.to_str().unwrap(), "--set", "stack.spark.version=4.2.0"]);
    assert_eq!(code, 2);
    assert!(err.contains("monday-upgrade.yaml:") && err.contains("steps[2].upgrade.maxUnavailable"), "{err}");
    assert!(Path::new(&path).exists());
    // Applied: the Spark version of every app.
    let (code, out, err) = run(&["validate", "scenarios/smoke.yaml", "--set", "stack.spark.version=4.2.0"]);
    assert_eq!(code, 0, "{out}{err}");
}
