//! The whole `scenarios/monday-morning.yaml` run end to end on the embedded simulator: load and
//! validate the scenario, simulate about 4.5 hours of a cluster growing from 8 to ~300 nodes
//! under ~1,000 Spark applications (~11,000 pods), and judge every expectation. Throughput is
//! reported in simulated pods per second (criterion's elem/s).
//!
//! Targets (issue 4): at most 5 s wall per run, i.e. at least 2,880× faster than real time for
//! the ~4 h of scenario time; at most 2 KB per simulated pod at peak. Memory is not measured
//! here (criterion's own allocations would blur it): measure the peak RSS of the release binary
//! with `/usr/bin/time -v ./target/release/sparkrig run scenarios/monday-morning.yaml --quiet`
//! and divide by the pods the summary reports.
//!
//! Run: `cargo bench --bench scenario`.

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sparkrig_run::files::load_scenario;
use sparkrig_run::runner;
use sparkrig_sim::SimBackend;

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/monday-morning.yaml");

fn monday_morning(c: &mut Criterion) {
    let path = Path::new(SCENARIO);
    // One untimed run: the pod count for the throughput, and a check that the scenario passes.
    let plan = load_scenario(path, None).expect("monday-morning loads");
    let (verdict, _) = runner::run(&plan, &mut SimBackend, None, None).expect("monday-morning runs");
    assert!(verdict.passed, "monday-morning must pass before it is benchmarked");
    let pods = verdict.metrics.pods_created as u64;
    let hours = verdict.metrics.duration.as_ms() as f64 / 3_600_000.0;
    eprintln!("monday-morning: {pods} pods over {hours:.2} h of scenario time per iteration");

    let mut g = c.benchmark_group("monday-morning");
    g.sample_size(10).measurement_time(Duration::from_secs(30)).throughput(Throughput::Elements(pods));
    g.bench_function("end-to-end", |b| {
        b.iter(|| {
            let plan = load_scenario(path, None).expect("monday-morning loads");
            runner::run(&plan, &mut SimBackend, None, None).expect("monday-morning runs").0
        })
    });
    g.finish();
}

criterion_group!(benches, monday_morning);
criterion_main!(benches);
