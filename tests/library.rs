//! The library facade (`sparkrig::Rehearsal`): what a team's own `cargo test` calls.

use sparkrig::{Error, Rehearsal, SimBackend};

fn root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn smoke_text() -> String {
    std::fs::read_to_string(root().join("scenarios/smoke.yaml")).unwrap()
}

#[test]
fn a_scenario_file_runs_on_the_simulator_and_passes() {
    let report = Rehearsal::from_file(root().join("scenarios/smoke.yaml")).run().unwrap();
    assert!(report.passed());
    report.assert_passed();
    assert!(report.failures().is_empty());
    let v = report.verdict();
    assert_eq!((v.scenario.as_str(), v.backend.as_str(), v.seed), ("smoke", "sim", Some(1)));
    assert_eq!(v.metrics.apps_by_state.get("COMPLETED"), Some(&5));
    assert!(report.summary().contains("PASSED: all 8 checks held"), "{}", report.summary());
    let junit = quick_junit::Report::deserialize_from_str(&report.junit()).unwrap();
    assert_eq!(junit.test_suites[0].test_cases.len(), 8);
    let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
    assert_eq!(json["passed"], true);
    let html = report.html();
    assert!(html.contains("<svg class=\"timeline\"") && html.matches("<g class=\"app\"").count() == 5);
}

#[test]
fn the_seed_override_applies_and_a_seed_reproduces_the_run() {
    let smoke = Rehearsal::from_file(root().join("scenarios/smoke.yaml"));
    assert_eq!(smoke.plan().unwrap().seed, 1, "the scenario's own");
    let seeded = smoke.with_seed(7);
    assert_eq!(seeded.plan().unwrap().seed, 7);
    let (a, b) = (seeded.run().unwrap(), seeded.run().unwrap());
    assert_eq!(a.verdict().seed, Some(7));
    assert_eq!(a.verdict(), b.verdict(), "same seed, same verdict");
    assert_eq!(a.html(), b.html(), "and the same page");
}

#[test]
fn inline_yaml_resolves_references_from_the_base_dir() {
    let r = Rehearsal::from_yaml(smoke_text()).with_base_dir(root().join("scenarios"));
    assert_eq!(r.plan().unwrap().name, "smoke");
    assert!(r.run().unwrap().passed());
    // On another backend object (here the simulator, as a real cluster's would be passed).
    assert!(r.run_on(&mut SimBackend).unwrap().passed());

    // Without a base dir, references resolve from the current directory (the package root
    // under cargo test), so this works too; from elsewhere they would not.
    let elsewhere = Rehearsal::from_yaml(smoke_text()).with_base_dir(std::env::temp_dir());
    let Err(Error::Invalid(d)) = elsewhere.plan() else { panic!("fixtures cannot resolve from the temp dir") };
    assert!(d.to_string().contains("<inline scenario>"), "{d}");
}

#[test]
fn bad_input_is_an_error_naming_the_file_and_field() {
    let missing = Rehearsal::from_file("no/such/scenario.yaml").run().unwrap_err();
    assert!(matches!(missing, Error::Invalid(_)));
    assert!(missing.to_string().contains("no/such/scenario.yaml") && missing.to_string().contains("cannot read"), "{missing}");

    let typo = Rehearsal::from_yaml(smoke_text().replace("state: terminal", "stat: terminal")).with_base_dir(root().join("scenarios"));
    let msg = typo.run().unwrap_err().to_string();
    assert!(msg.contains("unknown field `stat`") && msg.contains("did you mean `state`?"), "{msg}");
}

#[test]
fn assert_passed_panics_with_the_failed_expectations_and_their_evidence() {
    let text = smoke_text().replace("- executors-only-on: spark-executor", "- executors-only-on: spark-driver");
    let report = Rehearsal::from_yaml(text).with_base_dir(root().join("scenarios")).with_seed(3).run().unwrap();
    assert!(!report.passed());
    let failures = report.failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].name, "executors-only-on: spark-driver");

    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| report.assert_passed())).unwrap_err();
    let msg = panic.downcast_ref::<String>().expect("a formatted message");
    assert!(msg.starts_with("sparkrig scenario `smoke` failed: 1 of 8 checks did not hold"), "{msg}");
    assert!(msg.contains("✗ executors-only-on: spark-driver: 10 violation(s)"), "{msg}");
    assert!(msg.contains("pod default/spark-pi-") && msg.contains("nodegroup spark-executor (allowed: spark-driver)"), "{msg}");
    assert!(msg.contains("with_seed(3)"), "{msg}");

    let from_file = Rehearsal::from_file(root().join("scenarios/placement-broken.yaml")).run().unwrap();
    from_file.assert_passed();
}
