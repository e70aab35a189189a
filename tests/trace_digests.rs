//! Refactor guard: the SHA-256 of the JSON-lines trace of every scenario under scenarios/, for
//! seeds 1, 2 and 3, as checked in under tests/golden/trace-digests.txt. A change to the
//! simulator that changes any trace fails here; when the change is intended (a bug fixed),
//! re-bless with `SPARKRIG_BLESS=1 cargo test --test trace_digests` and say why in the commit.

mod common;

use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use sparkrig_model::trace::JsonlWriter;
use sparkrig_run::files::load_scenario;
use sparkrig_run::runner;
use sparkrig_sim::SimBackend;

const GOLDEN: &str = "tests/golden/trace-digests.txt";
const SEEDS: [u64; 3] = [1, 2, 3];

fn digest(scenario: &std::path::Path, seed: u64) -> String {
    let plan = load_scenario(scenario, Some(seed)).unwrap_or_else(|d| panic!("{}: {d}", scenario.display()));
    let mut w = JsonlWriter::new(Vec::new());
    runner::run(&plan, &mut SimBackend, None, Some(&mut w)).expect("the scenario runs");
    let bytes = w.finish().expect("in memory");
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_scenario_trace_is_unchanged_for_seeds_1_2_3() {
    let root = common::root();
    let mut names: Vec<_> = std::fs::read_dir(root.join("scenarios"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    names.sort();
    let mut now = String::new();
    for path in &names {
        for seed in SEEDS {
            let name = path.file_name().unwrap().to_string_lossy();
            writeln!(now, "{name} seed={seed} {}", digest(path, seed)).unwrap();
        }
    }
    let golden = root.join(GOLDEN);
    if std::env::var_os("SPARKRIG_BLESS").is_some() {
        std::fs::write(&golden, &now).unwrap();
        return;
    }
    let was = std::fs::read_to_string(&golden).unwrap_or_default();
    let changed: Vec<String> = now
        .lines()
        .filter(|l| !was.lines().any(|w| w == *l))
        .map(|l| {
            let key = l.rsplit_once(' ').map_or(l, |(k, _)| k);
            let old = was.lines().find(|w| w.starts_with(&format!("{key} "))).unwrap_or("(none)");
            format!("  {key}: was {old}, now {l}")
        })
        .collect();
    assert!(
        changed.is_empty() && now.lines().count() == was.lines().count(),
        "traces changed (re-bless with SPARKRIG_BLESS=1 only if the change is intended):\n{}",
        changed.join("\n")
    );
}
