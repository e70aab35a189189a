//! Every checked-in scenario passes, and each can fail: an altered expectation exits 1 with
//! evidence that names the pod, app or node and the behaviour. Plus the golden state-machine
//! cases of the Spark Operator's own e2e tests, counted from the trace.

mod common;

use common::{root, run, scratch, variant};
use sparkrig_model::appstate::AppState;
use sparkrig_model::trace::{Event, Record};

/// (scenario, text to replace, replacement, evidence the failure must show).
const CASES: &[(&str, &str, &str, &[&str])] = &[
    (
        "smoke.yaml",
        "- executors-only-on: spark-executor",
        "- executors-only-on: spark-driver",
        &["-exec-", "nodegroup spark-executor (allowed: spark-driver)"],
    ),
    (
        "placement-broken.yaml",
        "{apps: all, state: RUNNING}",
        "{apps: all, state: COMPLETED}",
        &["-exec-", "untolerated taint {purpose: spark-executor}"],
    ),
    (
        "coredns-outage.yaml",
        "states: [SUBMITTED, RUNNING, FAILING, PENDING_RERUN, SUCCEEDING, COMPLETED]",
        "states: [SUBMITTED, RUNNING, SUCCEEDING, COMPLETED]",
        &["app default/spark-pi-resilient-", "entered FAILING (from RUNNING): driver container failed with ExitCode: 11"],
    ),
    ("coredns-misconfig.yaml", "within: 3m", "within: 5s", &["app default/spark-pi-resilient-", "after coredns-misconfig was healed"]),
    ("operator-outage.yaml", "within: 1m", "within: 1s", &["app default/", "after operator-down was healed"]),
    (
        "webhook-down-fail.yaml",
        "{apps: refused, rejected: true}",
        "{apps: refused, state: COMPLETED}",
        &["app default/refused", "never created: the API server rejected it", "failed calling webhook"],
    ),
    (
        "webhook-down-ignore.yaml",
        "    - tolerations-respected",
        "    - tolerations-respected\n    - executors-only-on: spark-executor",
        &["-exec-", "(allowed: spark-executor)"],
    ),
    (
        "node-loss-driver.yaml",
        "{apps: all, state: FAILED}",
        "{apps: all, state: COMPLETED}",
        &["app default/spark-pi-", "ended FAILED", "DeletionByPodGC"],
    ),
    ("spot-interruption.yaml", "max: 15m", "max: 1m", &["app-turnaround max <= 1m", "observed"]),
    (
        "pod-kill.yaml",
        "{apps: exec-victim, reached: RUNNING}",
        "{apps: exec-victim, reached: FAILING}",
        &["app default/exec-victim", "never FAILING; states: NEW → SUBMITTED → RUNNING"],
    ),
    (
        "minio-outage.yaml",
        "states: [SUBMITTED, RUNNING, FAILING, PENDING_RERUN, SUCCEEDING, COMPLETED]",
        "states: [SUBMITTED, RUNNING, SUCCEEDING, COMPLETED]",
        &["app default/etl-", "entered FAILING", "ExitCode: 1"],
    ),
    (
        "registry-outage.yaml",
        "{pods: drivers, saw: ImagePullBackOff}",
        "{pods: drivers, saw: ImagePullBackOff, count: 9}",
        &["pod default/spark-pi-", "ImagePullBackOff"],
    ),
    (
        "network-partition.yaml",
        "saw: \"heartbeat timed out\"}",
        "saw: \"heartbeat timed out\", count: 5}",
        &["pod default/spark-pi-", "executor heartbeat timed out"],
    ),
    (
        "e2e-fail-submission.yaml",
        "{apps: all, state: FAILED}",
        "{apps: all, state: COMPLETED}",
        &["app default/fail-submission", "serviceaccount \\\"non-existent\\\" not found"],
    ),
    (
        "e2e-fail-application.yaml",
        "{apps: all, state: FAILED}",
        "{apps: all, state: COMPLETED}",
        &["app default/fail-application", "NoSuchFileException: /non-existent.jar"],
    ),
    ("dynamic-allocation.yaml", "max: 2m}", "max: 10s}", &["time-to-all-executors max <= 10s", "observed"]),
    (
        "suspend-and-edit.yaml",
        "{apps: edited, reached: INVALIDATING}",
        "{apps: suspended, reached: INVALIDATING}",
        &["app default/suspended", "never INVALIDATING"],
    ),
    (
        "team-quotas.yaml",
        "states-within: {apps: \"report-*\"",
        "states-within: {apps: \"etl-*\"",
        &["app team-a/etl-", "namespaces/team-a/pods", "exceeded quota: team-a-compute, requested: requests.cpu=1"],
    ),
    (
        "priority-preemption.yaml",
        "saw: \"preempted by default/urgent-\", count: 2}",
        "saw: \"preempted by default/urgent-\", count: 9}",
        &["-exec-", "preempted by default/urgent-", "(priority 100000)", "victim priority 100"],
    ),
    (
        "hourly-batches.yaml",
        "skipped: {min: 2, max: 2}",
        "skipped: {max: 0}",
        &[
            "default/hourly-report (schedule \"0 * * * *\", concurrencyPolicy Forbid)",
            "skipped: concurrencyPolicy Forbid: the last run hourly-report-",
        ],
    ),
    (
        "unwatched-namespace.yaml",
        "{apps: orphan, state: NEW}",
        "{apps: orphan, state: COMPLETED}",
        &["app analytics/orphan", "namespace `analytics` is not in the Spark Operator's jobNamespaces [default]", "spark.jobNamespaces"],
    ),
    // Without the quiet half hour after the wave the autoscaler has not yet removed the nodes.
    ("monday-morning.yaml", "  - sleep: 30m\n", "", &["spark-executor final nodes <= 10", "node(s) at the end"]),
    // Without the operator's driver PDBs the drain evicts running drivers: their runs fail.
    (
        "monday-upgrade.yaml",
        "    driverPodDisruptionBudget: true\n",
        "",
        &[
            "no app of all fails because of upgrade drivers",
            "-driver",
            "node spark-driver-",
            "run failed (FAILING",
            "upgrade drivers evicted its driver",
        ],
    ),
    // The lone webhook replica's eviction opens a window longer than 5 s.
    (
        "operator-upgrade.yaml",
        "rejectionWindow: {min: 1s, max: 3m}",
        "rejectionWindow: {min: 1s, max: 5s}",
        &["rejection window during upgrade infra", "webhook rejections during upgrade infra from", "(window "],
    ),
    // A kubelet newer than the API server is refused: the step fails naming the group's nodes.
    (
        "k8s-minor-upgrade.yaml",
        "{id: executors, nodegroup: spark-executor}",
        "{id: executors, nodegroup: spark-executor, version: \"1.33\"}",
        &[
            "nodegroup spark-executor (spark-executor-1, spark-executor-2, spark-executor-3) to kubelet 1.33",
            "newer than kube-apiserver 1.32",
        ],
    ),
];

#[test]
fn every_scenario_is_covered_by_a_failing_variant() {
    let mut files: Vec<String> =
        std::fs::read_dir(root().join("scenarios")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    files.sort();
    let covered: Vec<&str> = CASES.iter().map(|c| c.0).collect();
    for f in &files {
        assert!(covered.contains(&f.as_str()), "scenarios/{f} has no failing-variant case in tests/scenarios.rs");
    }
}

#[test]
fn every_scenario_passes() {
    for (file, ..) in CASES {
        let (code, out, err) = run(&["run", &format!("scenarios/{file}"), "--color", "never"]);
        assert_eq!(code, 0, "scenarios/{file}\n{out}{err}");
    }
}

#[test]
fn every_scenario_can_fail_with_evidence() {
    let dir = scratch("altered");
    for (file, from, to, evidence) in CASES {
        let path = variant(&dir, file, |s| s.replace(from, to));
        let (code, out, err) = run(&["run", path.to_str().unwrap(), "--color", "never"]);
        assert_eq!(code, 1, "altered {file} must fail\n{out}{err}");
        let failed: String =
            out.lines().skip_while(|l| !l.contains('✗')).take_while(|l| !l.starts_with("  latency")).collect::<Vec<_>>().join("\n");
        for e in *evidence {
            let e = e.replace("\\\"", "\"");
            assert!(failed.contains(&e), "altered {file}: evidence should mention {e:?}\n{failed}");
        }
    }
}

fn trace_of(scenario: &str) -> Vec<Record> {
    let dir = scratch(&format!("trace-{scenario}"));
    let t = dir.join("t.jsonl");
    let (code, out, _) = run(&["run", &format!("scenarios/{scenario}"), "--quiet", "--trace", t.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    std::fs::read_to_string(t).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn states(trace: &[Record]) -> Vec<(AppState, u32, u32, String)> {
    trace
        .iter()
        .filter_map(|r| match &r.event {
            Event::AppState { state, submission_attempts, execution_attempts, message, .. } => {
                Some((*state, *submission_attempts, *execution_attempts, message.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Upstream `sparkapplication_test.go` "fail-submission": FAILED, errorMessage contains
/// "failed to run spark-submit", submissionAttempts == 4, intermediate states ⊂ {"",
/// SUBMISSION_FAILED}, no driver pod.
#[test]
fn golden_fail_submission_ends_failed_after_four_submissions() {
    let trace = trace_of("e2e-fail-submission.yaml");
    let s = states(&trace);
    let (last, attempts, _, msg) = s.last().unwrap().clone();
    assert_eq!(last, AppState::Failed);
    assert_eq!(attempts, 4);
    assert!(msg.contains("failed to run spark-submit"), "{msg}");
    assert!(s[..s.len() - 1].iter().all(|(st, ..)| *st == AppState::SubmissionFailed), "{s:?}");
    assert_eq!(s.iter().filter(|(st, ..)| *st == AppState::SubmissionFailed).count(), 4);
    assert!(
        !trace.iter().any(|r| matches!(&r.event, Event::PodCreated { pod, .. } if pod.starts_with("default/"))),
        "no driver pod is ever created"
    );
}

/// Upstream "application-fails": FAILED, "driver container failed", executionAttempts == 4,
/// intermediate states ⊂ {"", SUBMITTED, RUNNING, FAILING, PENDING_RERUN}, NoSuchFileException.
#[test]
fn golden_fail_application_ends_failed_after_four_runs() {
    let trace = trace_of("e2e-fail-application.yaml");
    let s = states(&trace);
    let (last, _, executions, msg) = s.last().unwrap().clone();
    assert_eq!(last, AppState::Failed);
    assert_eq!(executions, 4);
    assert!(msg.contains("driver container failed"), "{msg}");
    let allowed = [AppState::Submitted, AppState::Running, AppState::Failing, AppState::PendingRerun];
    assert!(s[..s.len() - 1].iter().all(|(st, ..)| allowed.contains(st)), "{s:?}");
    let drivers: Vec<&str> = trace
        .iter()
        .filter_map(|r| match &r.event {
            Event::PodTerminated { pod, message, .. } if pod.ends_with("-driver") => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(drivers.len(), 4);
    assert!(drivers.iter().all(|m| m.contains("java.nio.file.NoSuchFileException: /non-existent.jar")), "{drivers:?}");
}

/// The retry maths of §1.3: linear backoff interval × submissionAttempts from the last attempt.
#[test]
fn golden_rerun_backoff_is_linear_in_submission_attempts() {
    let trace = trace_of("coredns-outage.yaml");
    let app = "default/spark-pi-resilient-1";
    let submitted: Vec<u64> = trace
        .iter()
        .filter(|r| matches!(&r.event, Event::AppState { app: a, state: AppState::Submitted, .. } if a == app))
        .map(|r| r.t.as_ms())
        .collect();
    // spark-pi-resilient: onFailureRetryInterval 20s; each resubmission happens once
    // 20s × attempts has passed since the previous attempt started (3s spark-submit before
    // SUBMITTED). Attempt n+1 starts at max(failure, start_n + 20s × n).
    for w in submitted.windows(2).skip(1) {
        let (prev_start, next_start) = (w[0] - 3000, w[1] - 3000);
        let n = submitted.iter().position(|t| *t == w[0]).unwrap() as u64 + 1;
        assert!(next_start >= prev_start + 20_000 * n, "attempt {} started at {next_start}, before {prev_start} + 20s × {n}", n + 1);
    }
    assert!(submitted.len() >= 4, "{submitted:?}");
}

/// Node lifecycle timings in the node-loss trace, from reference/kube-scheduler.md §5:
/// leases renewed every 10 s from registration (t=0), NotReady at the first 5 s monitor pass
/// after last renewal + grace (50 s from 1.32, 40 s before), NoExecute taints 10 s apart (0.1
/// nodes/s), evictions 300 s later (default tolerationSeconds), PodGC at the next 20 s pass after
/// the Node deletion + 40 s quarantine.
#[test]
fn golden_node_lifecycle_timings() {
    for (minor, grace) in [("1.34", 50_000u64), ("1.31", 40_000)] {
        let dir = scratch(&format!("node-loss-{minor}"));
        let path =
            variant(&dir, "node-loss-driver.yaml", |s| s.replace("stack:\n", &format!("stack:\n  kubernetes: {{version: \"{minor}\"}}\n")));
        let t = dir.join("t.jsonl");
        let (code, out, _) = run(&["run", path.to_str().unwrap(), "--quiet", "--trace", t.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        let trace: Vec<Record> = std::fs::read_to_string(t).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let at = |f: &dyn Fn(&Event) -> bool| trace.iter().filter(|r| f(&r.event)).map(|r| r.t.as_ms()).collect::<Vec<u64>>();
        let lost = at(&|e| matches!(e, Event::FaultInjected { .. }))[0];
        let last_renew = lost - lost % 10_000;
        let not_ready = (last_renew + grace).div_ceil(5_000) * 5_000;
        let nr = at(&|e| matches!(e, Event::NodeNotReady { node, .. } if node.starts_with("spark-driver-")));
        assert_eq!(nr, vec![not_ready, not_ready], "{minor}: NotReady times");
        let noexec = at(
            &|e| matches!(e, Event::NodeTaints { node, taints } if node.starts_with("spark-driver-") && taints.iter().any(|t| t.effect == sparkrig_model::kube::TaintEffect::NoExecute)),
        );
        assert_eq!(noexec, vec![not_ready, not_ready + 10_000], "{minor}: NoExecute taints, one node per 10 s");
        let mut evicted =
            at(&|e| matches!(e, Event::PodTerminating { pod, reason } if pod.ends_with("-driver") && reason.contains("NoExecute")));
        evicted.sort();
        assert_eq!(evicted, vec![not_ready + 300_000, not_ready + 310_000], "{minor}: evictions after tolerationSeconds 300");
        let deleted = lost + 15 * 60_000;
        let gc = at(&|e| matches!(e, Event::PodTerminated { reason, .. } if reason == "DeletionByPodGC"));
        assert_eq!(gc.first().copied(), Some(deleted.div_ceil(20_000) * 20_000 + 40_000), "{minor}: PodGC");
    }
}

/// The operator's own `examples/spark-pi-scheduled.yaml` (fixtures/upstream/v2.5.2, unchanged)
/// runs: `@every 3m` from its creation at t=0 gives children at 3, 6 and 9 minutes, named
/// `spark-pi-scheduled-<UnixNano of the controller's now>` (t=0 is 2026-01-01T00:00:00Z), and
/// the third run prunes the first COMPLETED one (successfulRunHistoryLimit nil → 1) —
/// reference/platform-ops.md §1.9.
#[test]
fn upstream_scheduled_example_creates_its_children_at_the_upstream_schedule() {
    let dir = scratch("upstream-scheduled");
    let scenario = dir.join("s.yaml");
    let example = root().join("fixtures/upstream/v2.5.2/spark-pi-scheduled.yaml");
    std::fs::write(
        &scenario,
        format!(
            "name: upstream-scheduled\ntopology: {}/fixtures/topologies/data-platform.yaml\nworkload:\n  - app: {}\nsteps:\n  - sleep: 10m\nexpect:\n  outcomes:\n    - {{scheduled: spark-pi-scheduled, runs: {{min: 3, max: 3}}, skipped: {{max: 0}}}}\n",
            root().display(),
            example.display()
        ),
    )
    .unwrap();
    let t = dir.join("t.jsonl");
    let (code, out, err) = run(&["run", scenario.to_str().unwrap(), "--quiet", "--trace", t.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let trace: Vec<Record> = std::fs::read_to_string(t).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let epoch_ms: u64 = 1_767_225_600_000;
    let children: Vec<(u64, String)> = trace
        .iter()
        .filter_map(|r| match &r.event {
            Event::AppCreated { app, scheduled_by: Some(by), .. } if by == "default/spark-pi-scheduled" => Some((r.t.as_ms(), app.clone())),
            _ => None,
        })
        .collect();
    let expected: Vec<(u64, String)> = [180_000u64, 360_000, 540_000]
        .iter()
        .map(|t| (*t, format!("default/spark-pi-scheduled-{}", u128::from(epoch_ms + t) * 1_000_000)))
        .collect();
    assert_eq!(children, expected);
    let deleted: Vec<(u64, &str)> = trace
        .iter()
        .filter_map(|r| match &r.event {
            Event::AppDeleted { app } => Some((r.t.as_ms(), app.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(deleted, [(540_000, expected[0].1.as_str())], "the third run prunes the first");
    let status = trace.iter().rev().find_map(|r| match &r.event {
        Event::ScheduledAppStatus { next_run, last_run, past_successful_run_names, .. } => {
            Some((next_run.clone(), last_run.clone(), past_successful_run_names.clone()))
        }
        _ => None,
    });
    assert_eq!(
        status,
        Some((
            "2026-01-01T00:12:00Z".into(),
            "2026-01-01T00:09:00Z".into(),
            vec![expected[1].1.trim_start_matches("default/").to_string()]
        ))
    );
}

/// concurrencyPolicy Replace on the hourly-batches day (reference/platform-ops.md §1.6): the
/// 04:00 run overruns (no executor nodes from 03:30 to 06:30), so at 05:00 the controller deletes
/// it and starts the 05:00 run, which overruns too and is deleted at 06:00. Nothing is skipped:
/// runs at every hour from 01:00 to 23:00 are 23 (Forbid starts 21 and skips 2).
#[test]
fn replace_deletes_the_overrunning_run_and_starts_the_next_on_time() {
    let dir = scratch("hourly-replace");
    let fixture = std::fs::read_to_string(root().join("fixtures/apps/hourly-report-scheduled.yaml")).unwrap();
    let replaced = fixture.replace("concurrencyPolicy: Forbid", "concurrencyPolicy: Replace");
    assert_ne!(replaced, fixture);
    std::fs::write(dir.join("hourly-replace.yaml"), replaced).unwrap();
    let path = variant(&dir, "hourly-batches.yaml", |s| {
        s.replace(
            &format!("app: {}/apps/hourly-report-scheduled.yaml", root().join("fixtures").display()),
            &format!("app: {}/hourly-replace.yaml", dir.display()),
        )
        .replace("runs: {min: 21, max: 21}, skipped: {min: 2, max: 2}", "runs: {min: 23, max: 23}, skipped: {max: 0}")
        .replace("    - {apps: all, state: COMPLETED}\n", "")
    });
    let t = dir.join("t.jsonl");
    let (code, out, err) = run(&["run", path.to_str().unwrap(), "--quiet", "--trace", t.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let trace: Vec<Record> = std::fs::read_to_string(t).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let hour = 3_600_000u64;
    let created: std::collections::BTreeMap<String, u64> = trace
        .iter()
        .filter_map(|r| match &r.event {
            Event::AppCreated { app, scheduled_by: Some(_), .. } => Some((app.clone(), r.t.as_ms())),
            _ => None,
        })
        .collect();
    let deleted: Vec<(u64, u64)> = trace
        .iter()
        .filter_map(|r| match &r.event {
            Event::AppDeleted { app } => created.get(app).map(|c| (*c / hour, r.t.as_ms() / hour)),
            _ => None,
        })
        // History pruning (3 kept) deletes runs three or more hours old; a replacement is an hour.
        .filter(|(c, d)| d - c == 1)
        .collect();
    assert_eq!(deleted, [(4, 5), (5, 6)], "the runs created at 04:00 and 05:00 are replaced an hour later");
}
