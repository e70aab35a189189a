//! End to end on a real kind cluster: `smoke` and `coredns-outage` run unchanged with
//! `--backend kind`, pass, and leave a trace of the simulator's schema. Needs a Docker engine,
//! kind, helm and the pinned kind node image (and network access to pull images and the chart);
//! where they are missing the test says so in one line and checks nothing: it is not a pass of
//! the real backend.

mod common;

use std::process::Command;

use common::{root, scratch};
use sparkrig_model::trace::{Event, read_jsonl};
use sparkrig_real::kindcfg::{self, KindOptions};

/// What is missing for the kind backend, if anything: the engine, kind, helm, and the pinned
/// kind node image (on the engine, or pulled now when everything else is there).
fn missing() -> Vec<String> {
    let ok = |program: &str, args: &[&str]| Command::new(program).args(args).output().is_ok_and(|o| o.status.success());
    let mut m = Vec::new();
    let engine = ok("docker", &["info"]);
    if !engine {
        m.push("a Docker engine".to_string());
    }
    if !ok("kind", &["version"]) {
        m.push("kind".into());
    }
    if !ok("helm", &["version"]) {
        m.push("helm".into());
    }
    let image = kindcfg::node_image(&KindOptions {
        name: String::new(),
        kubernetes: kindcfg::DEFAULT_KUBERNETES.into(),
        node_image: None,
        max_workers_per_group: 1,
        workers: Default::default(),
    })
    .expect("the default Kubernetes version has a pinned image");
    if engine && !ok("docker", &["image", "inspect", &image]) {
        if !m.is_empty() {
            m.push(format!("the kind node image {image} (not on this engine)"));
        } else if !ok("docker", &["pull", &image]) {
            m.push(format!("the kind node image {image} (not on this engine, and `docker pull` failed)"));
        }
    }
    m
}

fn run_on_kind(scenario: &str) {
    let dir = scratch(&format!("kind-{scenario}"));
    let trace = dir.join("run.trace.jsonl");
    let o = Command::new(env!("CARGO_BIN_EXE_sparkrig"))
        .args(["run", &format!("scenarios/{scenario}.yaml"), "--backend", "kind", "--name", &format!("sparkrig-e2e-{scenario}")])
        .args(["--trace", trace.to_str().unwrap(), "--json", dir.join("verdict.json").to_str().unwrap()])
        .current_dir(root())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{scenario} on kind:\n{out}\n{err}");
    let mut events = Vec::new();
    read_jsonl(std::io::BufReader::new(std::fs::File::open(&trace).unwrap()), |r| events.push(r.event)).unwrap();
    assert!(matches!(events.first(), Some(Event::RunStarted { backend, .. }) if backend == "kind"));
    assert!(events.iter().any(|e| matches!(e, Event::PodScheduled { .. })));
    assert!(events.iter().any(|e| matches!(e, Event::AppState { state, .. } if state.is_terminal())));
}

#[test]
fn smoke_and_coredns_outage_pass_on_kind() {
    let m = missing();
    if !m.is_empty() {
        // Written past the test harness's capture, so the skip shows in every `cargo test`.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "skipped: the kind end-to-end suite needs {} (see `sparkrig doctor`)", m.join(", "));
        return;
    }
    run_on_kind("smoke");
    run_on_kind("coredns-outage");
}
