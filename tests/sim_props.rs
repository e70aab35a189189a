//! Property tests of the simulator against an independent oracle: random topologies and
//! random placement rules, then every scheduling decision in the trace is checked with the
//! model's own (string-level) matching, not the simulator's compiled one.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use sparkrig_model::kube::{Labels, NodeSelectorTerm, Toleration, untolerated_taint};
use sparkrig_model::podspec::{self, SparkRole, Submission};
use sparkrig_model::scenario::{Files, Scenario, load_str};
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

#[derive(Debug, Clone)]
struct Group {
    count: u32,
    cpu: u32,
    mem_gi: u32,
    pods: u32,
    labels: Vec<(&'static str, &'static str)>,
    taints: Vec<&'static str>,
}

#[derive(Debug, Clone)]
struct Placement {
    selector: Option<(&'static str, &'static str)>,
    tolerations: Vec<&'static str>,
    affinity: Option<(&'static str, &'static str, Vec<&'static str>)>,
}

#[derive(Debug, Clone)]
struct App {
    driver: Placement,
    executor: Placement,
    instances: u32,
    cores: u32,
    mem_mi: u32,
    count: u32,
}

const LABELS: [(&str, &str); 6] = [("purpose", "a"), ("purpose", "b"), ("disk", "ssd"), ("disk", "hdd"), ("cores", "8"), ("cores", "16")];
const TAINTS: [&str; 4] = ["dedicated=a:NoSchedule", "dedicated=b:NoExecute", "spot=true:PreferNoSchedule", "gpu:NoSchedule"];
const TOLERATIONS: [&str; 6] = [
    "{key: dedicated, operator: Equal, value: a, effect: NoSchedule}",
    "{key: dedicated, operator: Exists}",
    "{key: dedicated, operator: Equal, value: b}",
    "{operator: Exists, effect: NoSchedule}",
    "{key: gpu, operator: Exists, effect: NoSchedule}",
    "{key: spot, operator: Equal, value: \"true\", effect: PreferNoSchedule}",
];

fn group() -> impl Strategy<Value = Group> {
    (
        1u32..4,
        prop::sample::select(vec![2u32, 4, 8, 16]),
        prop::sample::select(vec![4u32, 8, 16, 64]),
        prop::sample::select(vec![4u32, 10, 110]),
        prop::sample::subsequence(LABELS.to_vec(), 0..3),
        prop::sample::subsequence(TAINTS.to_vec(), 0..3),
    )
        .prop_map(|(count, cpu, mem_gi, pods, mut labels, taints)| {
            labels.dedup_by_key(|(k, _)| *k);
            Group { count, cpu, mem_gi, pods, labels, taints }
        })
}

fn placement() -> impl Strategy<Value = Placement> {
    let op = prop::sample::select(vec!["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]);
    (
        prop::option::of(prop::sample::select(LABELS.to_vec())),
        prop::sample::subsequence(TOLERATIONS.to_vec(), 0..3),
        prop::option::of((
            prop::sample::select(vec!["purpose", "disk", "cores"]),
            op,
            prop::sample::subsequence(vec!["a", "b", "ssd", "8", "12"], 1..3),
        )),
    )
        .prop_map(|(selector, tolerations, affinity)| Placement { selector, tolerations, affinity })
}

fn app() -> impl Strategy<Value = App> {
    // Mostly unconstrained drivers, so executors (the interesting part) get created.
    let driver = prop_oneof![3 => Just(Placement { selector: None, tolerations: vec![], affinity: None }), 1 => placement()];
    (driver, placement(), 1u32..4, 1u32..3, prop::sample::select(vec![512u32, 1024, 4096]), 1u32..3)
        .prop_map(|(driver, executor, instances, cores, mem_mi, count)| App { driver, executor, instances, cores, mem_mi, count })
}

fn placement_yaml(p: &Placement) -> String {
    let mut s = String::new();
    if let Some((k, v)) = p.selector {
        s.push_str(&format!("    nodeSelector: {{{k}: \"{v}\"}}\n"));
    }
    if !p.tolerations.is_empty() {
        s.push_str(&format!("    tolerations: [{}]\n", p.tolerations.join(", ")));
    }
    if let Some((key, op, values)) = &p.affinity {
        let values = match *op {
            "Exists" | "DoesNotExist" => String::new(),
            "Gt" | "Lt" => ", values: [\"10\"]".to_string(),
            _ => format!(", values: [{}]", values.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(", ")),
        };
        s.push_str(&format!(
            "    affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: {{nodeSelectorTerms: [{{matchExpressions: [{{key: {key}, operator: {op}{values}}}]}}]}}}}}}\n"
        ));
    }
    s
}

fn build(groups: &[Group], apps: &[App], seed: u64) -> Scenario {
    // An untainted system group keeps the platform (operator, CoreDNS) schedulable.
    let mut topo = String::from("name: t\nnodegroups:\n  - {name: sys, count: 1, shape: {cpu: 8, memory: 32Gi}}\n");
    for (i, g) in groups.iter().enumerate() {
        topo.push_str(&format!(
            "  - name: g{i}\n    count: {}\n    shape: {{cpu: {}, memory: {}Gi, pods: {}}}\n",
            g.count, g.cpu, g.mem_gi, g.pods
        ));
        if !g.labels.is_empty() {
            let l: Vec<String> = g.labels.iter().map(|(k, v)| format!("{k}: \"{v}\"")).collect();
            topo.push_str(&format!("    labels: {{{}}}\n", l.join(", ")));
        }
        if !g.taints.is_empty() {
            topo.push_str(&format!("    taints: [{}]\n", g.taints.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ")));
        }
    }
    let mut files = HashMap::from([(PathBuf::from("/p/topo.yaml"), topo)]);
    let mut scenario = String::from("name: prop\ntopology: /p/topo.yaml\nworkload:\n");
    for (i, a) in apps.iter().enumerate() {
        let manifest = format!(
            "apiVersion: sparkoperator.k8s.io/v1beta2\nkind: SparkApplication\nmetadata: {{name: app{i}, namespace: default}}\nspec:\n  type: Scala\n  sparkVersion: 3.5.6\n  mainApplicationFile: local:///opt/spark/examples/jars/spark-examples.jar\n  driver:\n    cores: 1\n    memory: 512m\n    serviceAccount: spark-operator-spark\n{}  executor:\n    instances: {}\n    cores: {}\n    memory: {}m\n{}",
            placement_yaml(&a.driver),
            a.instances,
            a.cores,
            a.mem_mi,
            placement_yaml(&a.executor)
        );
        files.insert(PathBuf::from(format!("/p/app{i}.yaml")), manifest);
        scenario.push_str(&format!("  - {{app: /p/app{i}.yaml, count: {}, work: {{tasks: 6, taskDuration: 2s}}}}\n", a.count));
    }
    scenario.push_str("steps:\n  - wait: {apps: all, state: terminal, timeout: 10m}\nexpect:\n  invariants: [tolerations-respected]\n");
    load_str("prop.yaml", &scenario, Path::new("/p"), &Mem(files), Some(seed)).unwrap_or_else(|d| panic!("{d}\n{scenario}"))
}

fn run(plan: &Scenario) -> Vec<Record> {
    let mut out = Vec::new();
    Simulation::new(plan).unwrap().run(&mut |r: &Record| out.push(r.clone()));
    out
}

fn term_matches(term: &NodeSelectorTerm, labels: &Labels) -> bool {
    !term.is_empty() && term.match_expressions.iter().all(|r| r.matches_value(labels.get(&r.key).map(String::as_str)))
}

/// Checks every binding in a trace.
fn check(plan: &Scenario, trace: &[Record]) {
    struct NodeState {
        labels: Labels,
        taints: Vec<sparkrig_model::kube::Taint>,
        alloc: (i64, i64, i64),
        used: (i64, i64, i64),
    }
    struct PodState {
        app: Option<String>,
        role: Option<SparkRole>,
        tolerations: Vec<Toleration>,
        selector: Labels,
        req: (i64, i64),
        bound: Option<String>,
    }
    // Required affinity per (app, role), derived independently from the manifests.
    let mut affinity: BTreeMap<(String, SparkRole), Vec<NodeSelectorTerm>> = BTreeMap::new();
    for app in plan.generated_apps() {
        let sub = Submission::generate(&app, &[1; 38], 0, true);
        for (role, pod) in [
            (SparkRole::Driver, podspec::driver_pod(&app, &sub).unwrap()),
            (SparkRole::Executor, podspec::executor_pod(&app, &sub, 1).unwrap()),
        ] {
            if let Some(terms) = pod.affinity.as_ref().and_then(|a| a.required_terms()) {
                affinity.insert((format!("default/{}", app.metadata.name), role), terms.to_vec());
            }
        }
    }
    let mut nodes: BTreeMap<String, NodeState> = BTreeMap::new();
    let mut pods: BTreeMap<String, PodState> = BTreeMap::new();
    for r in trace {
        match &r.event {
            Event::NodeAdded { node, labels, taints, cpu_millis, memory_bytes, pods: max, .. } => {
                nodes.insert(
                    node.clone(),
                    NodeState {
                        labels: labels.clone(),
                        taints: taints.clone(),
                        alloc: (*cpu_millis, *memory_bytes, *max),
                        used: (0, 0, 0),
                    },
                );
            }
            Event::NodeTaints { node, taints } => nodes.get_mut(node).unwrap().taints = taints.clone(),
            Event::PodCreated { pod, app, role, tolerations, node_selector, cpu_millis, memory_bytes, .. } => {
                pods.insert(
                    pod.clone(),
                    PodState {
                        app: app.clone(),
                        role: *role,
                        tolerations: tolerations.clone(),
                        selector: node_selector.clone(),
                        req: (*cpu_millis, *memory_bytes),
                        bound: None,
                    },
                );
            }
            Event::PodScheduled { pod, node } => {
                let p = pods.get_mut(pod).unwrap();
                let n = nodes.get_mut(node).unwrap();
                assert!(untolerated_taint(&n.taints, &p.tolerations).is_none(), "{} on {node} with untolerated {:?}", pod, n.taints);
                for (k, v) in &p.selector {
                    assert_eq!(n.labels.get(k), Some(v), "{pod} on {node}: nodeSelector {k}={v}");
                }
                if let (Some(app), Some(role)) = (&p.app, p.role)
                    && let Some(terms) = affinity.get(&(app.clone(), role))
                {
                    assert!(
                        terms.iter().any(|t| term_matches(t, &n.labels)),
                        "{pod} on {node}: required affinity {terms:?} vs {:?}",
                        n.labels
                    );
                }
                n.used = (n.used.0 + p.req.0, n.used.1 + p.req.1, n.used.2 + 1);
                assert!(
                    n.used.0 <= n.alloc.0 && n.used.1 <= n.alloc.1 && n.used.2 <= n.alloc.2,
                    "{node} overcommitted by {pod}: {:?} > {:?}",
                    n.used,
                    n.alloc
                );
                p.bound = Some(node.clone());
            }
            Event::PodTerminated { pod, .. } | Event::PodDeleted { pod, .. } => {
                let p = pods.get_mut(pod).unwrap();
                if let Some(node) = p.bound.take() {
                    let n = nodes.get_mut(&node).unwrap();
                    n.used = (n.used.0 - p.req.0, n.used.1 - p.req.1, n.used.2 - 1);
                }
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// No overcommit, no pod on an untolerated NoSchedule/NoExecute taint, nodeSelector and
    /// required affinity always satisfied; and the same seed gives the same trace.
    #[test]
    fn scheduling_invariants_and_determinism(groups in prop::collection::vec(group(), 1..4), apps in prop::collection::vec(app(), 1..5), seed in 0u64..1000) {
        let plan = build(&groups, &apps, seed);
        let trace = run(&plan);
        check(&plan, &trace);
        prop_assert_eq!(&trace, &run(&plan));
    }
}

/// A scenario of `apps` (driver cores, executors, executor cores, driver class, executor class)
/// in namespace `team`, which has a quota of `quota_cpu` cores of requests, on `nodes` workers
/// of 4 cores; priority classes `low` (10), `mid` (100) and `high` (1000).
fn tenancy_plan(quota_cpu: u32, nodes: u32, apps: &[(u32, u32, u32, &str, &str)], seed: u64) -> Scenario {
    let mut files = HashMap::new();
    let mut scenario = format!(
        "name: tenancy-prop\ntopology:\n  name: t\n  nodegroups:\n    - {{name: sys, count: 1, shape: {{cpu: 8, memory: 32Gi}}, taints: [\"sys=true:NoSchedule\"]}}\n    - {{name: w, count: {nodes}, shape: {{cpu: 4, memory: 32Gi}}}}\n\
         stack:\n  sparkOperator:\n    jobNamespaces: [team]\n    placement: {{nodegroup: sys}}\n  coredns: {{placement: {{nodegroup: sys}}}}\n  minio: {{placement: {{nodegroup: sys}}}}\n  registry: {{placement: {{nodegroup: sys}}}}\n  historyServer: {{placement: {{nodegroup: sys}}}}\n  \
         priorityClasses:\n    - {{name: low, value: 10}}\n    - {{name: mid, value: 100}}\n    - {{name: high, value: 1000}}\n  \
         namespaces:\n    - name: team\n      resourceQuotas:\n        - {{name: q, hard: {{requests.cpu: \"{quota_cpu}\", count/pods: \"30\"}}}}\nworkload:\n"
    );
    for (i, (dc, n, ec, dclass, eclass)) in apps.iter().enumerate() {
        files.insert(
            PathBuf::from(format!("/p/a{i}.yaml")),
            format!(
                "apiVersion: sparkoperator.k8s.io/v1beta2\nkind: SparkApplication\nmetadata: {{name: a{i}, namespace: team}}\nspec:\n  type: Scala\n  sparkVersion: 3.5.6\n  mainApplicationFile: local:///opt/spark/examples/jars/spark-examples.jar\n  restartPolicy: {{type: OnFailure, onSubmissionFailureRetries: 5, onSubmissionFailureRetryInterval: 5}}\n  driver: {{cores: {dc}, memory: 512m, serviceAccount: spark-operator-spark, priorityClassName: {dclass}}}\n  executor: {{instances: {n}, cores: {ec}, memory: 512m, priorityClassName: {eclass}}}\n"
            ),
        );
        scenario.push_str(&format!("  - {{app: /p/a{i}.yaml, at: {}s, work: {{tasks: 8, taskDuration: 2s}}}}\n", i * 7));
    }
    scenario.push_str("steps:\n  - sleep: 8m\nexpect:\n  invariants: [tolerations-respected]\n");
    load_str("tenancy.yaml", &scenario, Path::new("/p"), &Mem(files), Some(seed)).unwrap_or_else(|d| panic!("{d}\n{scenario}"))
}

fn tenancy_app() -> impl Strategy<Value = (u32, u32, u32, &'static str, &'static str)> {
    let class = prop::sample::select(vec!["low", "mid", "high"]);
    (1u32..3, 1u32..4, 1u32..3, class.clone(), class)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// A ResourceQuota's `status.used` never exceeds `spec.hard` at any instant, and neither do
    /// the requests of the namespace's non-terminal pods, counted independently from the trace;
    /// and no pod is ever preempted by a pod of lower or equal priority (priorities checked
    /// against the ones the pods were created with).
    #[test]
    fn quota_never_exceeded_and_preemption_only_by_higher_priority(
        quota_cpu in 3u32..12,
        nodes in 1u32..4,
        apps in prop::collection::vec(tenancy_app(), 1..6),
        seed in 0u64..1000,
    ) {
        let plan = tenancy_plan(quota_cpu, nodes, &apps, seed);
        let trace = run(&plan);
        let mut live: BTreeMap<String, i64> = BTreeMap::new();
        let mut priority: BTreeMap<String, i32> = BTreeMap::new();
        for r in &trace {
            match &r.event {
                Event::QuotaUsage { used, hard, quota, .. } => {
                    for (res, h) in hard {
                        let u = used.get(res).copied().unwrap_or(0);
                        prop_assert!(u <= *h, "t={}: quota {quota} {res} used {u} > hard {h}", r.t);
                    }
                }
                Event::PodCreated { pod, cpu_millis, priority: p, .. } => {
                    priority.insert(pod.clone(), *p);
                    if pod.starts_with("team/") {
                        live.insert(pod.clone(), *cpu_millis);
                        let sum: i64 = live.values().sum();
                        prop_assert!(sum <= i64::from(quota_cpu) * 1000, "t={}: {sum}m of requests alive in team > {quota_cpu} cores", r.t);
                    }
                }
                Event::PodTerminated { pod, .. } | Event::PodDeleted { pod, .. } => {
                    live.remove(pod);
                }
                Event::PodPreempted { pod, by, priority: vp, by_priority, .. } => {
                    prop_assert_eq!(priority.get(pod).copied(), Some(*vp), "{} was created with another priority", pod);
                    prop_assert_eq!(priority.get(by).copied(), Some(*by_priority), "{} was created with another priority", by);
                    prop_assert!(by_priority > vp, "t={}: {} (priority {}) preempted by {} (priority {})", r.t, pod, vp, by, by_priority);
                }
                _ => {}
            }
        }
    }
}
