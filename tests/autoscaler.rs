//! Cluster Autoscaler golden cases and properties (reference/kube-scheduler.md §7.1).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use sparkrig_model::kube::untolerated_taint;
use sparkrig_model::podspec::{self, Submission};
use sparkrig_model::scenario::{Files, Scenario, load_str};
use sparkrig_model::time::Time;
use sparkrig_model::trace::{Event, Record};
use sparkrig_sim::Simulation;

struct Mem(HashMap<PathBuf, String>);

impl Files for Mem {
    fn read(&self, p: &Path) -> std::io::Result<String> {
        self.0.get(p).cloned().ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }
    fn is_file(&self, p: &Path) -> bool {
        self.0.contains_key(p)
    }
    fn list(&self, _: &Path) -> Vec<String> {
        vec![]
    }
}

const TOPOLOGY: &str = r#"
name: t
nodegroups:
  - {name: infra, count: 2, shape: {cpu: 8, memory: 32Gi}}
  - {name: drivers, count: 1, shape: {cpu: 8, memory: 32Gi}, labels: {purpose: spark-driver}}
  - name: executors
    count: 0
    min: 0
    max: MAX
    provisioning: 60s
    shape: {cpu: 8, memory: 64Gi}
    labels: {purpose: spark-executor}
    taints: ["purpose=spark-executor:NoSchedule"]
  - {name: batch, count: BATCH, min: 0, max: 5, shape: {cpu: 8, memory: 32Gi}, labels: {purpose: batch}}
"#;

fn app(instances: u32, cores: u32, tasks: u32) -> String {
    format!(
        r#"apiVersion: sparkoperator.k8s.io/v1beta2
kind: SparkApplication
metadata: {{name: job, namespace: default}}
spec:
  type: Scala
  sparkVersion: 3.5.6
  mainApplicationFile: local:///opt/spark/examples/jars/spark-examples.jar
  driver: {{cores: 1, memory: 512m, serviceAccount: spark-operator-spark, nodeSelector: {{purpose: spark-driver}}}}
  executor:
    instances: {instances}
    cores: {cores}
    memory: 512m
    tolerations: [{{key: purpose, operator: Equal, value: spark-executor, effect: NoSchedule}}]
    affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: {{nodeSelectorTerms: [{{matchExpressions: [{{key: purpose, operator: In, values: [spark-executor]}}]}}]}}}}}}
"#
    ) + &format!("# {tasks}\n")
}

fn plan(max: u32, batch: u32, app_yaml: Option<String>, extra_stack: &str, steps: &str) -> Scenario {
    let mut files =
        HashMap::from([(PathBuf::from("/t/topo.yaml"), TOPOLOGY.replace("MAX", &max.to_string()).replace("BATCH", &batch.to_string()))]);
    let mut s = format!("name: ca\ntopology: /t/topo.yaml\nstack:\n  sparkOperator: {{placement: {{nodegroup: infra}}}}\n{extra_stack}");
    if let Some(a) = app_yaml {
        let tasks: u32 = a.rsplit("# ").next().unwrap().trim().parse().unwrap();
        files.insert(PathBuf::from("/t/app.yaml"), a);
        s.push_str(&format!("workload:\n  - {{app: /t/app.yaml, work: {{tasks: {tasks}, taskDuration: 1s}}}}\n"));
    }
    s.push_str(&format!("steps:\n{steps}\nexpect:\n  invariants: [tolerations-respected]\n"));
    load_str("ca.yaml", &s, Path::new("/t"), &Mem(files), Some(1)).unwrap_or_else(|d| panic!("{d}\n{s}"))
}

fn run(plan: &Scenario) -> Vec<Record> {
    let mut out = Vec::new();
    Simulation::new(plan).unwrap().run(&mut |r: &Record| out.push(r.clone()));
    out
}

fn autoscaler(trace: &[Record], action: &str) -> Vec<(Time, String, u32, String)> {
    trace
        .iter()
        .filter_map(|r| match &r.event {
            Event::Autoscaler { action: a, group, count, reason } if a == action => Some((r.t, group.clone(), *count, reason.clone())),
            _ => None,
        })
        .collect()
}

fn added(trace: &[Record], group: &str) -> Vec<(Time, String)> {
    trace
        .iter()
        .filter_map(|r| match &r.event {
            Event::NodeAdded { node, group: g, .. } if g == group && r.t > Time::ZERO => Some((r.t, node.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_pending_executor_triggers_exactly_one_node_of_the_right_group() {
    let p = plan(5, 0, Some(app(1, 1, 20)), "", "  - wait: {apps: all, state: terminal, timeout: 20m}");
    let trace = run(&p);
    let ups = autoscaler(&trace, "scale-up");
    assert_eq!(ups.len(), 1, "{ups:?}");
    let (t, group, count, reason) = &ups[0];
    assert_eq!((group.as_str(), *count), ("executors", 1), "the untainted `batch` group does not match the executor's affinity");
    assert!(reason.contains("-exec-1"), "{reason}");
    // The scan loop runs every 10s; the executor became unschedulable right after creation.
    assert_eq!(t.as_ms() % 10_000, 0);
    let nodes = added(&trace, "executors");
    assert_eq!(nodes.len(), 1);
    // Registers after the group's 60s provisioning delay, not-ready-tainted; Ready 10s later.
    assert_eq!(nodes[0].0, *t + sparkrig_model::time::Dur::secs(60));
    let ready = trace.iter().find(|r| matches!(&r.event, Event::NodeReady { node } if *node == nodes[0].1)).unwrap().t;
    assert_eq!(ready, nodes[0].0 + sparkrig_model::time::Dur::secs(10));
    let bound = trace.iter().find(|r| matches!(&r.event, Event::PodScheduled { pod, .. } if pod.contains("-exec-"))).unwrap();
    assert!(bound.t >= ready, "the executor binds once the not-ready taint is gone");
    assert!(trace.iter().any(|r| matches!(&r.event, Event::AppState { state: sparkrig_model::appstate::AppState::Completed, .. })));
}

#[test]
fn the_group_max_is_respected() {
    // 10 executors × 4 cores on 8-core nodes need 5 nodes; max is 3.
    let p = plan(3, 0, Some(app(10, 4, 400)), "", "  - sleep: 15m");
    let trace = run(&p);
    let total: u32 = autoscaler(&trace, "scale-up").iter().filter(|u| u.1 == "executors").map(|u| u.2).sum();
    assert_eq!(total, 3);
    assert_eq!(added(&trace, "executors").len(), 3);
    let pending = trace.iter().filter(|r| matches!(&r.event, Event::PodUnschedulable { pod, .. } if pod.contains("-exec-"))).count();
    assert!(pending > 0, "four executors stay Pending");
}

#[test]
fn scale_down_after_ten_minutes_of_idleness_and_not_before() {
    let p = plan(5, 0, Some(app(1, 1, 20)), "", "  - wait: {apps: all, state: terminal, timeout: 20m}\n  - sleep: 30m");
    let trace = run(&p);
    let up = autoscaler(&trace, "scale-up")[0].0;
    let node = added(&trace, "executors")[0].1.clone();
    // The node is idle from the moment its last pod is gone.
    let idle =
        trace.iter().filter(|r| matches!(&r.event, Event::PodDeleted { pod, .. } if pod.contains("-exec-"))).map(|r| r.t).max().unwrap();
    let downs = autoscaler(&trace, "scale-down");
    assert_eq!(downs.len(), 1, "{downs:?}");
    let (t, group, _, reason) = &downs[0];
    assert_eq!(group, "executors");
    assert!(reason.contains(&node) && reason.contains("utilization 0%"), "{reason}");
    // Unneeded is first noticed at the loop after idling, and must last 10 minutes; the
    // scale-down-delay-after-add (10 minutes after the scale-up) also applies.
    let ten = sparkrig_model::time::Dur::mins(10);
    assert!(*t >= idle + ten && *t >= up + ten, "not before: {t} vs idle {idle}");
    assert!(*t <= idle + ten + sparkrig_model::time::Dur::secs(10), "within one scan interval of the deadline: {t} vs idle {idle}");
    let removed = trace.iter().find(|r| matches!(&r.event, Event::NodeRemoved { node: n, .. } if *n == node)).unwrap().t;
    assert_eq!(removed, *t + sparkrig_model::time::Dur::secs(5), "deleted 5s after the ToBeDeleted taint");
}

#[test]
fn a_node_running_a_pod_that_fits_nowhere_else_is_kept() {
    // MinIO is pinned to the batch group; with one batch node it cannot move anywhere.
    let stack = "  minio: {placement: {nodegroup: batch}}\n";
    let trace = run(&plan(5, 1, None, stack, "  - sleep: 40m"));
    assert!(autoscaler(&trace, "scale-down").iter().all(|d| d.1 != "batch"), "the batch node keeps MinIO");
    // With two batch nodes, the empty one goes; the one with MinIO stays.
    let trace = run(&plan(5, 2, None, stack, "  - sleep: 40m"));
    let downs: Vec<_> = autoscaler(&trace, "scale-down").into_iter().filter(|d| d.1 == "batch").collect();
    assert_eq!(downs.len(), 1, "{downs:?}");
}

#[test]
fn the_group_min_is_respected() {
    let topo_min = TOPOLOGY.replace("count: BATCH, min: 0", "count: 3, min: 2");
    let mut files = HashMap::from([(PathBuf::from("/t/topo.yaml"), topo_min.replace("MAX", "5"))]);
    files.insert(PathBuf::from("/t/x"), String::new());
    let s = "name: ca\ntopology: /t/topo.yaml\nsteps:\n  - sleep: 1h\nexpect:\n  invariants: [tolerations-respected]\n";
    let p = load_str("ca.yaml", s, Path::new("/t"), &Mem(files), Some(1)).unwrap();
    let trace = run(&p);
    let downs: Vec<_> = autoscaler(&trace, "scale-down").into_iter().filter(|d| d.1 == "batch").collect();
    assert_eq!(downs.len(), 1, "3 idle batch nodes, min 2: exactly one goes");
}

/// Group sizes over a trace, and a template-fit oracle for scale-ups.
fn check_sizes_and_fit(p: &Scenario, trace: &[Record]) -> Result<(), String> {
    let mut size: BTreeMap<String, i64> = p.topology.groups.iter().map(|g| (g.name.clone(), 0)).collect();
    let mut created: BTreeMap<String, (Vec<sparkrig_model::kube::Toleration>, sparkrig_model::kube::Labels)> = BTreeMap::new();
    let mut node_group: BTreeMap<String, String> = BTreeMap::new();
    let app = &p.generated_apps()[0];
    let exec = podspec::executor_pod(app, &Submission::generate(app, &[1; 38], 0, true), 1).unwrap();
    for r in trace {
        match &r.event {
            Event::NodeAdded { node, group, .. } => {
                *size.get_mut(group).unwrap() += 1;
                node_group.insert(node.clone(), group.clone());
            }
            Event::NodeRemoved { node, .. } => *size.get_mut(&node_group[node]).unwrap() -= 1,
            Event::PodCreated { pod, tolerations, node_selector, .. } => {
                created.insert(pod.clone(), (tolerations.clone(), node_selector.clone()));
            }
            Event::Autoscaler { action, group, reason, .. } if action == "scale-up" => {
                let g = p.topology.group(group).unwrap();
                let example = reason.split("(e.g. ").nth(1).and_then(|s| s.split(')').next()).unwrap();
                let (tols, selector) = &created[example];
                let labels = g.node_labels(&p.topology, "template", None);
                if untolerated_taint(&g.taints, tols).is_some() || selector.iter().any(|(k, v)| labels.get(k) != Some(v)) {
                    return Err(format!("{} scaled {group} for {example}, which cannot use its template", r.t));
                }
                if example.contains("-exec-") {
                    let terms = exec.affinity.as_ref().and_then(|a| a.required_terms()).unwrap_or(&[]);
                    let ok = terms.is_empty()
                        || terms
                            .iter()
                            .any(|t| t.match_expressions.iter().all(|e| e.matches_value(labels.get(&e.key).map(String::as_str))));
                    if !ok {
                        return Err(format!("{} scaled {group} for {example} against its affinity", r.t));
                    }
                }
            }
            _ => {}
        }
        for g in &p.topology.groups {
            let n = size[&g.name];
            if r.t > Time::ZERO && (n > i64::from(g.max) || n < i64::from(g.min)) {
                return Err(format!("{} group {} has {n} nodes, outside [{}, {}]", r.t, g.name, g.min, g.max));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The autoscaler never takes a group past its max or below its min, and never adds a node
    /// to a group whose template the triggering pod cannot use (taints, selectors, affinity).
    #[test]
    fn sizes_stay_within_bounds_and_scale_ups_fit(max in 1u32..6, batch in 0u32..3, instances in 1u32..12, cores in 1u32..5, tasks in 10u32..200, seed in 0u64..100) {
        let mut p = plan(max, batch, Some(app(instances, cores, tasks)), "", "  - wait: {apps: all, state: terminal, timeout: 30m}\n  - sleep: 20m");
        p.seed = seed;
        let trace = run(&p);
        if let Err(e) = check_sizes_and_fit(&p, &trace) {
            prop_assert!(false, "{e}");
        }
    }
}
