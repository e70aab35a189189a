//! The CLI contract: exit codes, reports, traces, evidence and error locations.

mod common;

use common::{root, run, scratch, variant};
use sparkrig_model::trace::{Event, Record};

#[test]
fn smoke_passes_and_writes_valid_junit_json_and_trace() {
    let dir = scratch("smoke-reports");
    let (junit, json, trace) = (dir.join("out.xml"), dir.join("v.json"), dir.join("t.jsonl"));
    let (code, out, err) = run(&[
        "run",
        "scenarios/smoke.yaml",
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("PASSED"), "{out}");

    let report = quick_junit::Report::deserialize_from_str(&std::fs::read_to_string(&junit).unwrap()).expect("valid JUnit XML");
    let suite = &report.test_suites[0];
    assert_eq!(suite.name.as_str(), "smoke");
    // One testcase per expectation (4 invariants, 1 outcome, 2 SLOs in smoke.yaml) plus the timeline.
    assert_eq!(suite.test_cases.len(), 8);
    assert!(suite.test_cases.iter().all(|t| matches!(t.status, quick_junit::TestCaseStatus::Success { .. })));

    let verdict: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(verdict["passed"], true);
    assert_eq!(verdict["metrics"]["apps_by_state"]["COMPLETED"], 5);

    let records: Vec<Record> = std::fs::read_to_string(&trace).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let executors_on: Vec<&str> = records
        .iter()
        .filter_map(|r| match &r.event {
            Event::PodScheduled { pod, node } if pod.contains("-exec-") => Some(node.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(executors_on.len(), 10, "5 apps × 2 executors");
    assert!(executors_on.iter().all(|n| n.starts_with("spark-executor-")), "{executors_on:?}");
    let drivers_on = records
        .iter()
        .filter(|r| matches!(&r.event, Event::PodScheduled { pod, node } if pod.ends_with("-driver") && node.starts_with("spark-driver-")));
    assert_eq!(drivers_on.count(), 5);
    assert!(matches!(records.last().unwrap().event, Event::RunEnded { .. }));
}

#[test]
fn an_unmeetable_expectation_exits_1_and_names_the_offending_pod() {
    let dir = scratch("smoke-unmeetable");
    let path = variant(&dir, "smoke.yaml", |s| s.replace("- executors-only-on: spark-executor", "- executors-only-on: spark-driver"));
    let (code, out, _) = run(&["run", path.to_str().unwrap(), "--color", "never"]);
    assert_eq!(code, 1, "{out}");
    let line = out.lines().find(|l| l.contains("✗ executors-only-on: spark-driver")).expect("the failed expectation is listed");
    assert!(line.contains("10 violation(s)"), "{line}");
    let evidence = out.lines().find(|l| l.contains("-exec-") && l.contains("scheduled on")).expect("evidence names a pod");
    assert!(evidence.contains("pod default/spark-pi-") && evidence.contains("node spark-executor-"), "{evidence}");
    assert!(evidence.contains("nodegroup spark-executor (allowed: spark-driver)"), "{evidence}");
}

#[test]
fn placement_broken_holds_and_its_completed_variant_fails_with_pod_and_taint() {
    let (code, out, err) = run(&["run", "scenarios/placement-broken.yaml", "--color", "never"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("4 executor pod(s) Pending at the end"), "{out}");

    let dir = scratch("placement-broken-completed");
    let path = variant(&dir, "placement-broken.yaml", |s| s.replace("{apps: all, state: RUNNING}", "{apps: all, state: COMPLETED}"));
    let (code, out, _) = run(&["run", path.to_str().unwrap(), "--color", "never"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("✗ apps all end COMPLETED"), "{out}");
    let evidence = out.lines().find(|l| l.contains("-exec-") && l.contains("executor Pending")).expect("a pending executor is named");
    assert!(evidence.contains("had untolerated taint {purpose: spark-executor}"), "{evidence}");
}

#[test]
fn a_misspelled_field_exits_2_with_file_line_column_and_a_suggestion() {
    let dir = scratch("misspelled");
    let path = variant(&dir, "smoke.yaml", |s| {
        s.replace("{apps: all, state: terminal, timeout: 10m}", "{apps: all, stat: terminal, timeout: 10m}")
    });
    let (code, out, err) = run(&["run", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    let line = std::fs::read_to_string(&path).unwrap().lines().position(|l| l.contains("stat: terminal")).unwrap() + 1;
    assert!(err.contains(&format!("smoke.yaml:{line}:")), "{err}");
    assert!(err.contains("`steps[0].wait.stat`: unknown field `stat`"), "{err}");
    assert!(err.contains("help: did you mean `state`?"), "{err}");
    assert!(out.is_empty(), "nothing runs on bad input: {out}");

    let (code, _, err) = run(&["validate", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `state`?"));
}

#[test]
fn validate_accepts_every_checked_in_scenario() {
    let mut args = vec!["validate".to_string()];
    for e in std::fs::read_dir(root().join("scenarios")).unwrap() {
        args.push(e.unwrap().path().to_str().unwrap().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn same_seed_same_trace_byte_for_byte() {
    let dir = scratch("determinism");
    let trace = |name: &str, seed: &str| {
        let p = dir.join(name);
        let (code, ..) = run(&["run", "scenarios/smoke.yaml", "--seed", seed, "--quiet", "--trace", p.to_str().unwrap()]);
        assert_eq!(code, 0);
        std::fs::read(p).unwrap()
    };
    let (a, b, c) = (trace("a.jsonl", "7"), trace("b.jsonl", "7"), trace("c.jsonl", "8"));
    assert_eq!(a, b, "same seed, same trace");
    assert_ne!(a, c, "the seed drives ids and tie-breaks");
}

#[test]
fn a_saved_trace_gives_the_same_verdict() {
    let dir = scratch("reverdict");
    let (trace, live, replay) = (dir.join("t.jsonl"), dir.join("live.json"), dir.join("replay.json"));
    let (code, ..) =
        run(&["run", "scenarios/placement-broken.yaml", "--quiet", "--trace", trace.to_str().unwrap(), "--json", live.to_str().unwrap()]);
    assert_eq!(code, 0);
    let (code, ..) =
        run(&["verdict", trace.to_str().unwrap(), "scenarios/placement-broken.yaml", "--quiet", "--json", replay.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(std::fs::read_to_string(live).unwrap(), std::fs::read_to_string(replay).unwrap());
}
