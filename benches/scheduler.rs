//! kube-scheduler's scheduler_perf `SchedulingBasic/5000Nodes_10000Pods` shape on sparkrig's
//! scheduler: 5000 nodes (node-default: 4 CPU, 32 GiB, 110 pods), 1000 initial pods, then 10,000
//! measured pods (pod-default: 100m CPU, 500 MiB). Throughput is reported in pods/s
//! (criterion's elem/s). The upstream CI floor for this workload is 680 pods/s
//! (reference/kube-scheduler.md §8.1).
//!
//! Run: `cargo bench --bench scheduler`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sparkrig_model::kube::Labels;
use sparkrig_sim::cluster::{Node, Res, SchedSpec};
use sparkrig_sim::intern::Interner;
use sparkrig_sim::scheduler::Scheduler;

const NODES: usize = 5000;
const INIT_PODS: usize = 1000;
const MEASURED_PODS: u64 = 10_000;
const GI: i64 = 1 << 30;
const MI: i64 = 1 << 20;

struct Setup {
    nodes: Vec<Node>,
    order: Vec<usize>,
    interner: Interner,
    scheduler: Scheduler,
    rng: ChaCha8Rng,
    pod: SchedSpec,
}

fn setup() -> Setup {
    let mut interner = Interner::default();
    let nodes: Vec<Node> = (0..NODES)
        .map(|i| {
            let labels: Labels = [("kubernetes.io/hostname".to_string(), format!("node-{i}"))].into();
            Node::new(&format!("node-{i}"), 0, &labels, vec![], Res::new(4000, 32 * GI), 110, &mut interner)
        })
        .collect();
    let mut s = Setup {
        order: (0..NODES).collect(),
        nodes,
        interner,
        scheduler: Scheduler::new(34),
        rng: ChaCha8Rng::seed_from_u64(1),
        pod: SchedSpec::with_requests(100, 500 * MI),
    };
    for _ in 0..INIT_PODS {
        schedule(&mut s);
    }
    s
}

fn schedule(s: &mut Setup) {
    let n = s.scheduler.find_node(&s.nodes, &s.order, &s.pod, &s.interner, &mut s.rng).expect("room for every pod");
    s.nodes[n].add_pod(&s.pod);
}

fn scheduling_basic(c: &mut Criterion) {
    let mut g = c.benchmark_group("SchedulingBasic");
    g.sample_size(10);
    g.throughput(Throughput::Elements(MEASURED_PODS));
    g.bench_function("5000Nodes_10000Pods", |b| {
        b.iter_batched(
            setup,
            |mut s| {
                for _ in 0..MEASURED_PODS {
                    schedule(&mut s);
                }
                s
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, scheduling_basic);
criterion_main!(benches);
