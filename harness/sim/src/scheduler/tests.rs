//! Golden cases for the scheduler; every expected number is worked out in the comments from the
//! formulas in reference/kube-scheduler.md.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sparkrig_model::kube::{Labels, NodeSelectorRequirement, NodeSelectorTerm, SelectorOperator, Taint, TaintEffect, Toleration};

use super::plugins::{self, ContainerReq, Reject, pod_requests};
use super::*;
use crate::cluster::{Node, Res, SchedSpec, Term};
use crate::intern::Interner;

const GI: i64 = 1 << 30;
const MI: i64 = 1 << 20;

fn node(interner: &mut Interner, name: &str, cpu: i64, mem: i64, labels: &[(&str, &str)], taints: Vec<Taint>) -> Node {
    let labels: Labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Node::new(name, 0, &labels, taints, Res::new(cpu, mem), 110, interner)
}

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(7)
}

fn term(interner: &mut Interner, key: &str, op: SelectorOperator, values: &[&str]) -> Term {
    let t = NodeSelectorTerm {
        match_expressions: vec![NodeSelectorRequirement {
            key: key.into(),
            operator: op,
            values: values.iter().map(|v| v.to_string()).collect(),
        }],
        match_fields: vec![],
    };
    Term::compile(&t, interner)
}

/// reference/kube-scheduler.md §3.10.
#[test]
fn worked_example_449_vs_474() {
    let mut i = Interner::default();
    let mut a = node(&mut i, "a", 4000, 16 * GI, &[], vec![]);
    // Existing non-zero requests on A: 1 CPU / 4 GiB.
    a.add_pod(&SchedSpec::with_requests(1000, 4 * GI));
    let b = node(&mut i, "b", 4000, 16 * GI, &[], vec![]);
    let c = node(&mut i, "c", 4000, 16 * GI, &[], vec![]);
    let nodes = vec![a, b, c];
    let pod = SchedSpec::with_requests(1000, 2 * GI);
    let scores = Scheduler::new(34).score_nodes(&nodes, &[0, 1, 2], &pod, &i);
    // A: LeastAllocated cpu (4000−2000)·100/4000 = 50, mem (16384−6144)·100/16384 = 62 → (50+62)/2 = 56.
    //    Balanced: 2000/4000 = 0.5, 6/16 = 0.375, std = 0.0625 → int(93.75) = 93.
    //    TaintToleration: no PreferNoSchedule taints → 100 × 3 = 300. NodeAffinity skipped.
    assert_eq!((scores[0].taint, scores[0].fit, scores[0].balanced, scores[0].affinity), (300, 56, 93, 0));
    assert_eq!(scores[0].total(), 449);
    // B: cpu (4000−1000)·100/4000 = 75, mem (16384−2048)·100/16384 = 87 → 81; balanced 0.25/0.125 → 93.
    assert_eq!((scores[1].fit, scores[1].balanced), (81, 93));
    assert_eq!(scores[1].total(), 474);
    assert_eq!(scores[2].total(), 474);
    // B and C tie; A never wins. The seeded pick is one of the two and repeats for a seed.
    let mut s = Scheduler::new(34);
    let picked = s.find_node(&nodes, &[0, 1, 2], &pod, &i, &mut rng()).unwrap();
    assert!(picked == 1 || picked == 2);
    assert_eq!(s.last_ties, 2);
    let again = Scheduler::new(34).find_node(&nodes, &[0, 1, 2], &pod, &i, &mut rng()).unwrap();
    assert_eq!(picked, again);
}

#[test]
fn ties_are_spread_by_the_seed() {
    let mut i = Interner::default();
    let nodes: Vec<Node> = (0..4).map(|k| node(&mut i, &format!("n{k}"), 4000, 16 * GI, &[], vec![])).collect();
    let pod = SchedSpec::with_requests(500, GI);
    let mut seen = [0; 4];
    for seed in 0..200 {
        let pick = Scheduler::new(34).find_node(&nodes, &[0, 1, 2, 3], &pod, &i, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
        seen[pick] += 1;
    }
    // Uniform over 4 ties: each about 50 of 200.
    assert!(seen.iter().all(|&c| c > 25), "{seen:?}");
}

#[test]
fn taint_filter_equal_exists_empty_key_and_effects() {
    let mut i = Interner::default();
    let exec = Taint::new("purpose", "spark-executor", TaintEffect::NoSchedule);
    let noexec = Taint::new("dedicated", "batch", TaintEffect::NoExecute);
    let soft = Taint::new("spot", "true", TaintEffect::PreferNoSchedule);
    let n = node(&mut i, "n", 8000, 64 * GI, &[], vec![soft.clone(), exec.clone(), noexec.clone()]);
    let with = |tols: Vec<Toleration>| SchedSpec { tolerations: tols, ..SchedSpec::with_requests(100, MI) };
    // No tolerations: the first blocking taint (index 1; PreferNoSchedule at 0 never blocks).
    assert_eq!(plugins::filter(&n, &with(vec![]), &i), Err(Reject::Taint(1)));
    // Equal on the NoSchedule taint: the NoExecute one still blocks.
    let eq = Toleration::equal("purpose", "spark-executor", Some(TaintEffect::NoSchedule));
    assert_eq!(plugins::filter(&n, &with(vec![eq.clone()]), &i), Err(Reject::Taint(2)));
    // Exists on the key with an empty effect covers NoExecute too.
    assert_eq!(plugins::filter(&n, &with(vec![eq.clone(), Toleration::exists("dedicated", None)]), &i), Ok(()));
    // Wrong value under Equal does not tolerate.
    let wrong = Toleration::equal("purpose", "spark-driver", Some(TaintEffect::NoSchedule));
    assert_eq!(plugins::filter(&n, &with(vec![wrong]), &i), Err(Reject::Taint(1)));
    // `{operator: Exists}` with an empty key tolerates everything.
    assert_eq!(plugins::filter(&n, &with(vec![Toleration::exists("", None)]), &i), Ok(()));
    // An empty-key Exists restricted to NoSchedule leaves the NoExecute taint.
    assert_eq!(plugins::filter(&n, &with(vec![Toleration::exists("", Some(TaintEffect::NoSchedule))]), &i), Err(Reject::Taint(2)));
}

#[test]
fn prefer_no_schedule_only_scores() {
    let mut i = Interner::default();
    let soft = |k: &str| Taint::new(k, "", TaintEffect::PreferNoSchedule);
    let nodes = vec![
        node(&mut i, "two", 4000, 16 * GI, &[], vec![soft("a"), soft("b")]),
        node(&mut i, "one", 4000, 16 * GI, &[], vec![soft("a")]),
        node(&mut i, "none", 4000, 16 * GI, &[], vec![]),
    ];
    let pod = SchedSpec::with_requests(1000, 2 * GI);
    let s = Scheduler::new(34).score_nodes(&nodes, &[0, 1, 2], &pod, &i);
    // raw = 2, 1, 0; max 2; reverse normalise: 100 − 100·raw/2 = 0, 50, 100; ×3.
    assert_eq!(s.iter().map(|x| x.taint).collect::<Vec<_>>(), vec![0, 150, 300]);
    // A toleration with an empty effect counts for PreferNoSchedule; one for NoSchedule does not.
    let tol = SchedSpec { tolerations: vec![Toleration::exists("a", None)], ..pod.clone() };
    let s = Scheduler::new(34).score_nodes(&nodes, &[0, 1, 2], &tol, &i);
    // raw = 1, 0, 0 → 0, 100, 100 → ×3.
    assert_eq!(s.iter().map(|x| x.taint).collect::<Vec<_>>(), vec![0, 300, 300]);
    let tol = SchedSpec { tolerations: vec![Toleration::exists("a", Some(TaintEffect::NoSchedule))], ..pod };
    let s = Scheduler::new(34).score_nodes(&nodes, &[0, 1, 2], &tol, &i);
    assert_eq!(s.iter().map(|x| x.taint).collect::<Vec<_>>(), vec![0, 150, 300]);
}

#[test]
fn affinity_operators() {
    use SelectorOperator::*;
    let mut i = Interner::default();
    let n = node(&mut i, "n", 8000, 64 * GI, &[("purpose", "spark-executor"), ("cores", "16"), ("zone", "a")], vec![]);
    let req = |i: &mut Interner, k: &str, op, v: &[&str]| SchedSpec {
        required: Some(vec![term(i, k, op, v)]),
        ..SchedSpec::with_requests(100, MI)
    };
    let cases: Vec<(&str, SelectorOperator, Vec<&str>, bool)> = vec![
        ("purpose", In, vec!["spark-executor", "x"], true),
        ("purpose", In, vec!["spark-driver"], false),
        ("purpose", NotIn, vec!["spark-driver"], true),
        ("purpose", NotIn, vec!["spark-executor"], false),
        ("absent", NotIn, vec!["x"], true),
        ("zone", Exists, vec![], true),
        ("absent", Exists, vec![], false),
        ("absent", DoesNotExist, vec![], true),
        ("zone", DoesNotExist, vec![], false),
        ("cores", Gt, vec!["8"], true),
        ("cores", Gt, vec!["16"], false),
        ("cores", Lt, vec!["32"], true),
        ("zone", Lt, vec!["32"], false), // non-numeric label value
        ("absent", Gt, vec!["1"], false),
    ];
    for (k, op, v, want) in cases {
        let spec = req(&mut i, k, op, &v);
        assert_eq!(plugins::filter(&n, &spec, &i).is_ok(), want, "{k} {op:?} {v:?}");
    }
    // Terms are ORed, requirements inside a term ANDed; nodeSelector is ANDed with both.
    let either = SchedSpec {
        required: Some(vec![term(&mut i, "purpose", In, &["nope"]), term(&mut i, "zone", In, &["a"])]),
        ..SchedSpec::with_requests(100, MI)
    };
    assert!(plugins::filter(&n, &either, &i).is_ok());
    let zone = i.intern("zone");
    let b = i.intern("b");
    let selector_conflict = SchedSpec { node_selector: vec![(zone, b)], ..either };
    assert_eq!(plugins::filter(&n, &selector_conflict, &i), Err(Reject::Affinity));
}

#[test]
fn preferred_affinity_weights_normalise() {
    let mut i = Interner::default();
    let nodes = vec![
        node(&mut i, "both", 4000, 16 * GI, &[("disk", "ssd"), ("zone", "a")], vec![]),
        node(&mut i, "ssd", 4000, 16 * GI, &[("disk", "ssd")], vec![]),
        node(&mut i, "plain", 4000, 16 * GI, &[], vec![]),
    ];
    let pod = SchedSpec {
        preferred: vec![
            (80, term(&mut i, "disk", SelectorOperator::In, &["ssd"])),
            (20, term(&mut i, "zone", SelectorOperator::In, &["a"])),
        ],
        ..SchedSpec::with_requests(1000, GI)
    };
    let s = Scheduler::new(34).score_nodes(&nodes, &[0, 1, 2], &pod, &i);
    // raw 100, 80, 0; max 100 → 100, 80, 0; ×2.
    assert_eq!(s.iter().map(|x| x.affinity).collect::<Vec<_>>(), vec![200, 160, 0]);
}

#[test]
fn pod_requests_with_init_containers_sidecars_and_overhead() {
    let c = |cpu: i64, mem: i64| ContainerReq { cpu: Some(cpu), mem: Some(mem) };
    // fit.go's example: init 2CPU/1G and 2CPU/3G; containers 2CPU/1G + 1CPU/1G
    // → max(Σ containers = 3CPU/2G, max init = 2CPU/3G) = 3CPU/3G.
    let (exact, _) = pod_requests(&[c(2000, GI), c(1000, GI)], &[(c(2000, GI), false), (c(2000, 3 * GI), false)], Res::default());
    assert_eq!(exact, Res::new(3000, 3 * GI));
    // Plus a RuntimeClass overhead of 250m/120Mi.
    let (with_overhead, _) =
        pod_requests(&[c(2000, GI), c(1000, GI)], &[(c(2000, GI), false), (c(2000, 3 * GI), false)], Res::new(250, 120 * MI));
    assert_eq!(with_overhead, Res::new(3250, 3 * GI + 120 * MI));
    // A sidecar (restartable init) adds to the containers and to later init containers:
    // sidecar 500m/256Mi, then init 2CPU/1G → init contribution 2.5CPU; containers 1CPU + 500m.
    let (side, _) = pod_requests(&[c(1000, GI)], &[(c(500, 256 * MI), true), (c(2000, GI), false)], Res::default());
    assert_eq!(side, Res::new(2500, GI + 256 * MI));
    // Missing requests: 0 for Filter, 100m/200Mi per container for scoring.
    let (exact, non_zero) = pod_requests(&[ContainerReq::default(), c(300, 0)], &[], Res::default());
    assert_eq!(exact, Res::new(300, 0));
    assert_eq!(non_zero, Res::new(100 + 300, 200 * MI));
}

#[test]
fn fit_counts_pods_cpu_memory_and_reports_all() {
    let mut i = Interner::default();
    let mut n = node(&mut i, "n", 4000, 8 * GI, &[], vec![]);
    n.add_pod(&SchedSpec::with_requests(3000, 7 * GI));
    // 1 CPU / 1 GiB free: a 3250m pod (3 CPU + overhead) fails on cpu; 2 GiB fails on memory too.
    assert_eq!(plugins::fits(&n, Res::new(3250, 2 * GI)), Err(Reject::Fit { pods: false, cpu: true, mem: true, never: false }));
    assert_eq!(plugins::fits(&n, Res::new(1000, GI)), Ok(()));
    // Larger than the node's allocatable: unresolvable.
    assert!(plugins::fits(&n, Res::new(5000, GI)).unwrap_err().unresolvable());
    // A best-effort pod only needs a pod slot.
    n.max_pods = 1;
    assert_eq!(plugins::fits(&n, Res::new(0, 0)), Err(Reject::Fit { pods: true, cpu: false, mem: false, never: false }));
}

#[test]
fn cordoned_nodes_need_the_unschedulable_toleration() {
    let mut i = Interner::default();
    let mut n = node(&mut i, "n", 4000, 8 * GI, &[], vec![]);
    n.unschedulable = true;
    let plain = SchedSpec::with_requests(100, MI);
    assert_eq!(plugins::filter(&n, &plain, &i), Err(Reject::Unschedulable));
    let tol = SchedSpec {
        tolerations: vec![Toleration::exists(sparkrig_model::kube::UNSCHEDULABLE_TAINT, Some(TaintEffect::NoSchedule))],
        ..plain.clone()
    };
    assert_eq!(plugins::filter(&n, &tol, &i), Ok(()));
    let named = SchedSpec { node_name: Some("other".into()), ..tol };
    assert_eq!(plugins::filter(&n, &named, &i), Err(Reject::NodeName));
}

#[test]
fn failed_scheduling_message_matches_upstream_format() {
    let mut i = Interner::default();
    let cp = Taint::new("node-role.kubernetes.io/control-plane", "", TaintEffect::NoSchedule);
    let ex = Taint::new("purpose", "spark-executor", TaintEffect::NoSchedule);
    let mut nodes = vec![node(&mut i, "cp", 4000, 16 * GI, &[], vec![cp])];
    for k in 0..2 {
        nodes.push(node(&mut i, &format!("infra-{k}"), 8000, 32 * GI, &[("purpose", "infra")], vec![]));
    }
    for k in 0..3 {
        nodes.push(node(&mut i, &format!("exec-{k}"), 8000, 64 * GI, &[("purpose", "spark-executor")], vec![ex.clone()]));
    }
    // An executor with the affinity but without the toleration.
    let pod = SchedSpec {
        required: Some(vec![term(&mut i, "purpose", SelectorOperator::In, &["spark-executor"])]),
        ..SchedSpec::with_requests(1000, GI)
    };
    let err = Scheduler::new(34).find_node(&nodes, &[0, 1, 2, 3, 4, 5], &pod, &i, &mut rng()).unwrap_err();
    assert_eq!(
        err.message,
        "0/6 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, \
         2 node(s) didn't match Pod's node affinity/selector, 3 node(s) had untolerated taint {purpose: spark-executor}. \
         preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling."
    );
    assert!(err.rejectors.contains(plugins::Plugin::TaintToleration) && err.rejectors.contains(plugins::Plugin::NodeAffinity));
    assert!(!err.rejectors.contains(plugins::Plugin::NodeResourcesFit));
}

#[test]
fn feasible_node_sampling() {
    // n < 100: all; 100 ≤ n: max(n·(50 − n/125)/100, 100), at least 5%.
    assert_eq!(num_feasible_nodes_to_find(99), 99);
    assert_eq!(num_feasible_nodes_to_find(100), 100); // 100·50/100 = 50 → 100
    assert_eq!(num_feasible_nodes_to_find(500), 230); // p = 46
    assert_eq!(num_feasible_nodes_to_find(5000), 500); // p = 10
    assert_eq!(num_feasible_nodes_to_find(6000), 300); // p = 50 − 48 = 2 → 5%
}

#[test]
fn start_index_rotates_by_processed_nodes() {
    let mut i = Interner::default();
    let nodes: Vec<Node> = (0..250).map(|k| node(&mut i, &format!("n{k}"), 8000, 32 * GI, &[], vec![])).collect();
    let order: Vec<usize> = (0..250).collect();
    let pod = SchedSpec::with_requests(100, MI);
    let mut s = Scheduler::new(34);
    // 250 nodes: p = 50 − 2 = 48 → 120 feasible wanted; all nodes feasible → 120 processed.
    let first = s.find_node(&nodes, &order, &pod, &i, &mut rng()).unwrap();
    assert_eq!(s.last_processed, 120);
    assert!(first < 120);
    let second = s.find_node(&nodes, &order, &pod, &i, &mut rng()).unwrap();
    assert!((120..240).contains(&second), "second search starts at node 120, got {second}");
}

#[test]
fn a_single_feasible_node_is_taken_without_scoring() {
    let mut i = Interner::default();
    let t = Taint::new("x", "", TaintEffect::NoSchedule);
    let nodes = vec![node(&mut i, "a", 4000, 16 * GI, &[], vec![t.clone()]), node(&mut i, "b", 1000, GI, &[], vec![])];
    let pod = SchedSpec::with_requests(500, 100 * MI);
    let mut s = Scheduler::new(34);
    assert_eq!(s.find_node(&nodes, &[0, 1], &pod, &i, &mut rng()), Ok(1));
    assert_eq!(s.last_ties, 1);
}

#[test]
fn best_effort_pods_skip_balanced_allocation_from_1_33() {
    let mut i = Interner::default();
    let nodes = vec![node(&mut i, "a", 4000, 16 * GI, &[], vec![]), node(&mut i, "b", 4000, 16 * GI, &[], vec![])];
    let be = SchedSpec::with_requests(0, 0);
    assert_eq!(Scheduler::new(33).score_nodes(&nodes, &[0, 1], &be, &i)[0].balanced, 0);
    assert_eq!(Scheduler::new(32).score_nodes(&nodes, &[0, 1], &be, &i)[0].balanced, 100);
}

mod props {
    use proptest::prelude::*;

    use super::*;
    use sparkrig_model::kube::untolerated_taint;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        /// On clusters large enough for feasible-node sampling, every pick passes every filter
        /// (checked with the model's string-level rules) and nothing is ever overcommitted.
        #[test]
        fn sampled_picks_are_always_feasible(
            nodes in prop::collection::vec((1i64..17, 1i64..65, 0usize..3, prop::bool::ANY), 100..400),
            pods in prop::collection::vec((1i64..4000, 1i64..8, prop::bool::ANY, prop::bool::ANY), 1..300),
            seed in 0u64..1000,
        ) {
            let mut i = Interner::default();
            let taint = Taint::new("dedicated", "spark", TaintEffect::NoSchedule);
            let mut cluster: Vec<Node> = nodes
                .iter()
                .enumerate()
                .map(|(k, (cpu, mem, label, tainted))| {
                    let pool = ["a", "b", "c"][*label];
                    let mut n = node(&mut i, &format!("n{k}"), cpu * 1000, mem * GI, &[("pool", pool)], if *tainted { vec![taint.clone()] } else { vec![] });
                    n.max_pods = 8;
                    n
                })
                .collect();
            let order: Vec<usize> = (0..cluster.len()).collect();
            let mut s = Scheduler::new(34);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let pool = i.intern("pool");
            let a = i.intern("a");
            for (cpu, mem_gi, tolerate, pin) in pods {
                let spec = SchedSpec {
                    tolerations: if tolerate { vec![Toleration::for_taint(&taint)] } else { vec![] },
                    node_selector: if pin { vec![(pool, a)] } else { vec![] },
                    ..SchedSpec::with_requests(cpu, mem_gi * GI)
                };
                if let Ok(n) = s.find_node(&cluster, &order, &spec, &i, &mut rng) {
                    let node = &cluster[n];
                    prop_assert!(untolerated_taint(&node.taints, &spec.tolerations).is_none());
                    prop_assert!(!pin || node.labels.get(pool) == Some(a));
                    prop_assert!(node.requested.cpu + cpu <= node.alloc.cpu && node.requested.mem + mem_gi * GI <= node.alloc.mem);
                    prop_assert!(node.pod_count < node.max_pods);
                    cluster[n].add_pod(&spec);
                }
            }
        }
    }
}
