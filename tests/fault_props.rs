//! Property tests over random fault schedules on the data platform: apps only take the
//! operator's legal transitions, no pod is ever bound to a node with an untolerated
//! NoSchedule/NoExecute taint, every app ends terminal or is visibly blocked (a Pending pod with
//! the scheduler's reason), and the same seed gives the same trace. Along the way, wait
//! conditions answer the same from the fast counters, the full scan, and the pruned view the
//! simulator keeps.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use proptest::prelude::*;
use sparkrig_model::appstate::AppState;
use sparkrig_model::kube::untolerated_taint;
use sparkrig_model::scenario::{AppSel, Condition, Files, PodSel, Scenario, load_str};
use sparkrig_model::trace::{Event, Record, TraceView};
use sparkrig_sim::Simulation;

struct Disk;

impl Files for Disk {
    fn read(&self, p: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(p)
    }
    fn is_file(&self, p: &Path) -> bool {
        p.is_file()
    }
    fn list(&self, _: &Path) -> Vec<String> {
        vec![]
    }
}

const GROUPS: [&str; 3] = ["infra", "spark-driver", "spark-executor"];

fn fault() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("coredns-down".to_string()),
        Just("coredns-misconfig".to_string()),
        Just("operator-down".to_string()),
        Just("webhook-down".to_string()),
        Just("minio-outage".to_string()),
        Just("registry-outage".to_string()),
        (prop::sample::select(GROUPS.to_vec()), 1u32..3).prop_map(|(g, c)| format!("{{fault: node-loss, nodegroup: {g}, count: {c}}}")),
        (prop::sample::select(GROUPS.to_vec()), 1u32..3)
            .prop_map(|(g, c)| format!("{{fault: network-partition, nodegroup: {g}, count: {c}}}")),
        (1u32..3).prop_map(|c| format!("{{fault: spot-interruption, nodegroup: spark-executor, count: {c}, notice: 1m}}")),
        Just("{fault: pod-kill, executorsOf: all, count: 2}".to_string()),
        Just("{fault: pod-kill, driverOf: all, count: 1}".to_string()),
    ]
}

fn scenario(apps: &[(bool, u32)], faults: &[(String, u32, u32)], policy: &str, seed: u64) -> Scenario {
    let root = common::root();
    let mut s = format!("name: faults\ntopology: {}/fixtures/topologies/data-platform.yaml\n", root.display());
    s.push_str(&format!(
        "stack:\n  sparkOperator:\n    placement: {{nodegroup: infra}}\n    webhook: {{failurePolicy: {policy}}}\nworkload:\n"
    ));
    for (i, (resilient, at)) in apps.iter().enumerate() {
        let file = if *resilient { "spark-pi-resilient" } else { "spark-pi" };
        s.push_str(&format!(
            "  - {{app: {}/fixtures/apps/{file}.yaml, name: app{i}, at: {at}s, work: {{tasks: 60, taskDuration: 2s}}}}\n",
            root.display()
        ));
    }
    s.push_str("steps:\n");
    for (i, (f, before, during)) in faults.iter().enumerate() {
        let f = if f.starts_with('{') { format!("{}, id: f{i}}}", f.trim_end_matches('}')) } else { format!("{{fault: {f}, id: f{i}}}") };
        s.push_str(&format!("  - sleep: {before}s\n  - inject: {f}\n  - sleep: {during}s\n  - heal: f{i}\n"));
    }
    s.push_str("  - wait: {apps: all, state: terminal, timeout: 2h}\nexpect:\n  invariants: [legal-transitions, tolerations-respected]\n");
    load_str("faults.yaml", &s, &root.join("scenarios"), &Disk, Some(seed)).unwrap_or_else(|d| panic!("{d}\n{s}"))
}

fn run(plan: &Scenario) -> Vec<Record> {
    let mut out = Vec::new();
    Simulation::new(plan).unwrap().run(&mut |r: &Record| out.push(r.clone()));
    out
}

/// Wait conditions whose fast path ([`Condition::holds`]) must agree with [`Condition::check`].
fn conditions() -> Vec<Condition> {
    use sparkrig_model::appstate::AppState::*;
    vec![
        Condition::AppsIn { apps: AppSel::All, states: vec![Completed, Failed] },
        Condition::AppsIn { apps: AppSel::All, states: vec![Running] },
        Condition::AppsReached { apps: AppSel::All, state: Running },
        Condition::AppsReached { apps: AppSel::parse("app0"), state: Submitted },
        Condition::PodsIn { pods: PodSel::Executors, phase: "Running".into(), count: None },
        Condition::PodsIn { pods: PodSel::Executors, phase: "Running".into(), count: Some(2) },
        Condition::PodsIn { pods: PodSel::Drivers, phase: "Pending".into(), count: Some(1) },
        Condition::PodsIn { pods: PodSel::All, phase: "Running".into(), count: Some(5) },
        Condition::PodsIn { pods: PodSel::Spark, phase: "Succeeded".into(), count: None },
    ]
}

fn check(trace: &[Record], apps: usize) -> Result<(), String> {
    let expected: BTreeSet<String> = (0..apps).map(|i| format!("default/app{i}")).collect();
    let conditions = conditions();
    let mut current = TraceView::current_only();
    let mut view = TraceView::default();
    for r in trace {
        current.apply(r);
        match &r.event {
            Event::AppState { app, state, .. } => {
                let prev = view.apps.get(app).map_or(AppState::New, |a| a.state);
                if prev != *state && !prev.can_become(*state) {
                    return Err(format!("{} {app}: illegal {prev} → {state}", r.t));
                }
            }
            Event::PodScheduled { pod, node } => {
                let (p, n) = (&view.pods[pod.as_str()], &view.nodes[node]);
                if let Some(t) = untolerated_taint(&n.taints, &p.tolerations) {
                    return Err(format!("{} {pod} bound to {node} with untolerated {t}", r.t));
                }
            }
            _ => {}
        }
        view.apply(r);
        for c in &conditions {
            let (fast, full, pruned) = (c.holds(&current, &expected), c.check(&view, &expected), c.check(&current, &expected));
            if fast != full.is_ok() || pruned.is_ok() != full.is_ok() {
                return Err(format!("{} after {:?}: holds={fast}, check={full:?}, check on pruned view={pruned:?}", c, r));
            }
        }
    }
    // Every app is terminal, or something in the cluster is visibly blocked on scheduling.
    let stuck: Vec<&String> = view.apps.iter().filter(|(_, a)| !a.state.is_terminal()).map(|(k, _)| k).collect();
    let blocked: BTreeMap<&str, &str> = view
        .pods
        .iter()
        .filter(|(_, p)| p.is_pending() && p.deleted.is_none())
        .filter_map(|(k, p)| p.unschedulable.as_ref().map(|(_, m)| (&**k, &**m)))
        .collect();
    if !stuck.is_empty() && blocked.is_empty() {
        return Err(format!("apps {stuck:?} are not terminal and nothing is blocked on scheduling"));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_fault_schedules_keep_the_invariants(
        apps in prop::collection::vec((prop::bool::ANY, 0u32..120), 1..4),
        faults in prop::collection::vec((fault(), 0u32..120, 5u32..300), 1..4),
        ignore in prop::bool::ANY,
        seed in 0u64..10_000,
    ) {
        let plan = scenario(&apps, &faults, if ignore { "Ignore" } else { "Fail" }, seed);
        let trace = run(&plan);
        if let Err(e) = check(&trace, apps.len()) {
            prop_assert!(false, "{e}");
        }
        prop_assert_eq!(&trace, &run(&plan));
    }
}
