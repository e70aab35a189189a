//! `sparkrig bench`: the table and JSON, pooling over seeds, and `--compare` flagging the
//! direction a setting really moves (Spark's executor allocation batch size).

mod common;

use common::{root, run, scratch};
use serde_json::Value;

/// Apps of 20 executors, one at a time, on the static data platform (no autoscaler): the
/// executors fit at once on the three executor nodes and, after the warm-up app, find the image
/// cached, so the time to all executors is set by Spark's allocation batches (5 per second on
/// 3.5, 20 from 4.2: reference/spark-on-kubernetes.md). The p50 of three apps is a warm one.
fn ramp(dir: &std::path::Path, spark: &str) -> String {
    let r = root().display();
    let manifest =
        std::fs::read_to_string(root().join("fixtures/apps/spark-pi.yaml")).unwrap().replace("    instances: 2\n", "    instances: 20\n");
    assert!(manifest.contains("instances: 20"));
    std::fs::write(dir.join("wide.yaml"), manifest).unwrap();
    let d = dir.display();
    let text = format!(
        "name: ramp-{spark}
topology: {r}/fixtures/topologies/data-platform.yaml
stack:
  sparkOperator: {{placement: {{nodegroup: infra}}}}
  autoscaler: {{enabled: false}}
  spark: {{version: {spark}}}
workload:
  - {{app: {d}/wide.yaml, name: warm-up, at: 0s, work: {{tasks: 200, taskDuration: 2s}}}}
  - {{app: {d}/wide.yaml, name: ramp-a, at: 3m, work: {{tasks: 200, taskDuration: 2s}}}}
  - {{app: {d}/wide.yaml, name: ramp-b, at: 6m, work: {{tasks: 200, taskDuration: 2s}}}}
steps:
  - wait: {{apps: all, state: terminal, timeout: 1h}}
expect:
  outcomes:
    - {{apps: all, state: COMPLETED}}
"
    );
    let path = dir.join(format!("ramp-{spark}.yaml"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn bench_prints_the_table_and_writes_json_pooled_over_seeds() {
    let dir = scratch("bench-json");
    let out = dir.join("smoke.json");
    let (code, stdout, stderr) = run(&["bench", "scenarios/smoke.yaml", "--seeds", "2", "--json", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    for row in ["executor pod running", "operator submit latency", "operator start latency", "time to all executors", "throughput:"] {
        assert!(stdout.contains(row), "missing {row}:\n{stdout}");
    }
    let j = json(&out);
    assert_eq!(j["seeds"], serde_json::json!([1, 2]));
    // 5 apps × 2 executors × 2 seeds, pooled.
    assert_eq!(j["figures"]["executor-startup"]["count"], 20);
    assert_eq!(j["figures"]["submit-latency"]["count"], 10);
    let runs = j["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r["passed"] == true && r["apps_completed"] == 5));
    let timeline = runs[0]["timeline"].as_array().unwrap();
    assert!(!timeline.is_empty());
    assert_eq!(timeline[0]["nodes"]["spark-executor"], 3);
}

#[test]
fn compare_shows_bigger_allocation_batches_bring_executors_sooner() {
    let dir = scratch("bench-compare");
    let (old, new) = (ramp(&dir, "3.5.6"), ramp(&dir, "4.2.0"));
    let base = dir.join("spark-3.5.json");
    let (code, stdout, stderr) = run(&["bench", &old, "--json", base.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.is_empty(), "--quiet prints no table: {stdout}");

    let cand = dir.join("spark-4.2.json");
    let (code, stdout, stderr) = run(&["bench", &new, "--json", cand.to_str().unwrap(), "--compare", base.to_str().unwrap()]);
    assert_eq!(code, 0, "an improvement is not a failure:\n{stdout}\n{stderr}");
    let line = stdout.lines().find(|l| l.contains("time to all executors p50")).unwrap();
    assert!(line.contains("better"), "{line}");
    let (b, c) = (json(&base), json(&cand));
    let p50 = |j: &Value| j["figures"]["time-to-all-executors"]["p50_ms"].as_u64().unwrap();
    // 20 executors, one POST of 20 ms each: on 3.5 four batches of 5 a second apart, the last
    // POSTed at 3 s + 5 × 20 ms; on 4.2 one batch, the last POSTed at 20 × 20 ms.
    assert_eq!(p50(&b) - p50(&c), 3_000 + 5 * 20 - 20 * 20, "3.5: {}ms, 4.2: {}ms", p50(&b), p50(&c));

    // The other way round is a regression: exit 1, and --quiet still says so.
    let (code, stdout, _) = run(&["bench", &old, "--compare", cand.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("time to all executors p50") && stdout.contains("REGRESSION"), "{stdout}");
    assert!(stdout.contains("regressed beyond 10%"), "{stdout}");
}

#[test]
fn a_bad_baseline_is_refused_before_running_with_file_and_field() {
    let dir = scratch("bench-bad");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"format\": 1, \"scenario\": \"s\", \"backend\": \"sim\",\n \"seeds\": \"one\"}").unwrap();
    let (code, _, stderr) = run(&["bench", "scenarios/smoke.yaml", "--compare", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("bad.json:2:") && stderr.contains("`seeds`"), "{stderr}");
    let (code, _, stderr) = run(&["bench", "scenarios/smoke.yaml", "--compare", "no-such.json"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read no-such.json"), "{stderr}");
    let (code, _, stderr) = run(&["bench", "scenarios/smoke.yaml", "--min-delta", "5"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("needs a unit"), "{stderr}");
}

/// Quota usage per namespace over the run: the bench table shows each quota's peak (and when)
/// and its usage at the end against hard, and the JSON keeps them with a per-minute timeline.
#[test]
fn bench_reports_quota_usage_per_namespace() {
    let dir = scratch("bench-quotas");
    let out = dir.join("q.json");
    let (code, stdout, stderr) = run(&["bench", "scenarios/team-quotas.yaml", "--seeds", "1", "--json", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("quota usage"), "{stdout}");
    let line = stdout.lines().find(|l| l.contains("team-a/team-a-compute") && l.contains("requests.cpu")).expect("team-a's cpu row");
    // Team A's burst fills its 6-core quota; everything is released at the end.
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!((cols[2], cols[4], cols[5]), ("6", "0", "6"), "{line}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    let q = &json["runs"][0]["quotas"]["team-a/team-a-compute"];
    assert_eq!(q["hard"]["requests.cpu"], 6000);
    assert_eq!(q["peak"]["requests.cpu"], 6000);
    assert_eq!(q["end"]["requests.cpu"], 0);
    let over_time: Vec<i64> = json["runs"][0]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["quota_used"]["team-a/team-a-compute"]["requests.cpu"].as_i64().unwrap_or(0))
        .collect();
    assert!(over_time.contains(&6000) && over_time.iter().all(|v| *v <= 6000), "{over_time:?}");
}

/// The documented rehearsal pair (README, `sparkrig bench`): the Monday upgrade rolls the
/// executor group with the file's `maxUnavailable: "25%"`, then with 50 %. EKS drains at most
/// `maxUnavailable` old nodes at once (reference/platform-ops.md §4.a); half of the group
/// drains in fewer rounds, so the upgrade takes less time and compare marks it `better`.
#[test]
fn compare_shows_a_wider_max_unavailable_rolls_the_executor_group_sooner() {
    let dir = scratch("bench-upgrade");
    let base = dir.join("quarter.json");
    let (code, stdout, stderr) = run(&["bench", "scenarios/monday-upgrade.yaml", "--json", base.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let cand = dir.join("half.json");
    let (code, stdout, stderr) = run(&[
        "bench",
        "scenarios/monday-upgrade.yaml",
        "--json",
        cand.to_str().unwrap(),
        "--compare",
        base.to_str().unwrap(),
        "--set",
        "steps[2].upgrade.maxUnavailable=\"50%\"",
    ]);
    assert_eq!(code, 0, "faster is no regression:\n{stdout}\n{stderr}");
    let line = stdout.lines().find(|l| l.contains("upgrade executors duration")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("better"), "{line}");
    let took = |j: &Value| j["runs"][0]["upgrade_ms"]["executors"].as_u64().unwrap();
    assert!(took(&json(&cand)) < took(&json(&base)), "50 %: {} ms, 25 %: {} ms", took(&json(&cand)), took(&json(&base)));
}
