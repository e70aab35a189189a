//! Spark's own client against `sparkrig serve`: `spark-submit --deploy-mode cluster` from the
//! pyspark distribution on PyPI (Spark 4.3.0, fabric8 7.6.1 over Vert.x) submits SparkPi to the
//! simulated cluster. Spark creates the driver pod, then its Service, NetworkPolicy and
//! ConfigMap (server-side apply, owned by the pod), and watches the pod until it ends
//! (reference/kube-api.md §7.2); serve recognises the driver by its Spark labels, the simulator
//! runs it as a Spark driver with the submission's `spark.properties` (executors, their names
//! and labels derived as Spark derives them), and spark-submit exits 0 once the driver pod
//! Succeeded.
//!
//! Needs Java (skipped with one line without it) and pyspark: `tests/spark/install.sh` installs
//! it once per machine (`bash tests/run.sh` does, and sets SPARKRIG_REQUIRE_PYSPARK=1 so that a
//! missing install fails instead of skipping).
//!
//! Not covered here: a driver in client mode (a local JVM asking serve for executor pods).
//! serve runs only the pods of its simulated controllers and Spark driver pods; executor pods
//! created by a driver outside the cluster are refused (405), so the real allocator's cadence is
//! not compared with the simulator's driver model yet.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use sparkrig_model::trace::{Event, PodPhase, Record};

/// spark-submit, or why the test cannot run.
fn spark_submit() -> Result<PathBuf, String> {
    if Command::new("java").arg("-version").output().is_err() {
        return Err("skipped: no `java` on PATH (Spark's client needs a JVM)".into());
    }
    let version = std::env::var("PYSPARK_VERSION").unwrap_or_else(|_| "4.3.0".into());
    let cache = std::env::var_os("SPARKRIG_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/sparkrig"));
    let venv = cache.join(format!("pyspark-{version}"));
    if venv.join(".sparkrig-complete").exists() {
        return Ok(venv.join("bin/spark-submit"));
    }
    let why = format!("pyspark {version} is not installed in {} (run tests/spark/install.sh; bash tests/run.sh does)", venv.display());
    if std::env::var_os("SPARKRIG_REQUIRE_PYSPARK").is_some() {
        panic!("{why}");
    }
    Err(format!("skipped: {why}"))
}

fn read_trace(p: &std::path::Path) -> Vec<Record> {
    std::fs::read_to_string(p).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn spark_submit_in_cluster_mode_runs_its_driver_on_the_simulated_cluster() {
    let submit = match spark_submit() {
        Ok(s) => s,
        Err(why) => {
            eprintln!("{why}");
            return;
        }
    };
    let dir = common::scratch("spark_client");
    let trace = dir.join("serve.jsonl");
    let served = common::Served::start(&dir, "scenarios/smoke.yaml", "10", &["--trace", trace.to_str().unwrap()]);
    let master = format!("k8s://{}", served.server());
    let started = Instant::now();
    let mut child = Command::new(&submit)
        .args([
            "--master",
            &master,
            "--deploy-mode",
            "cluster",
            "--name",
            "pi",
            "--conf",
            "spark.kubernetes.container.image=apache/spark:4.3.0",
            "--conf",
            "spark.executor.instances=3",
            "--conf",
            "spark.kubernetes.driver.annotation.sparkrig.io/work=tasks=30,taskDuration=2s",
            "local:///opt/spark/examples/src/main/python/pi.py",
            "10",
        ])
        .env("KUBECONFIG", &served.kubeconfig)
        // The venv's python finds SPARK_HOME (pyspark's find_spark_home.py).
        .env(
            "PATH",
            std::env::join_paths(
                std::iter::once(submit.parent().unwrap().to_path_buf())
                    .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
            )
            .unwrap(),
        )
        .stdout(std::fs::File::create(dir.join("spark-submit.out")).unwrap())
        .stderr(std::fs::File::create(dir.join("spark-submit.err")).unwrap())
        .spawn()
        .expect("spark-submit starts");
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(240) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("spark-submit did not end within 240 s; see {}", dir.join("spark-submit.err").display());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let err = std::fs::read_to_string(dir.join("spark-submit.err")).unwrap_or_default();
    // What fabric8 left in the API, read before serve stops.
    let kubectl = |args: &[&str]| {
        let o = Command::new("kubectl").args(args).env("KUBECONFIG", &served.kubeconfig).output();
        o.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
    };
    let configmaps = kubectl(&["get", "configmaps", "-n", "default", "-o", "name"]);
    let services = kubectl(&["get", "services", "-n", "default", "-o", "name"]);
    drop(served);
    assert!(status.success(), "spark-submit exited {status}:\n{}", err.lines().rev().take(40).collect::<Vec<_>>().join("\n"));

    let records = read_trace(&trace);
    let created: Vec<(&str, Option<&str>, Option<&str>)> = records
        .iter()
        .filter_map(|r| match &r.event {
            Event::PodCreated { pod, app, role, .. } => Some((pod.as_str(), app.as_deref(), role.map(|r| r.as_str()))),
            _ => None,
        })
        .filter(|(_, _, role)| role.is_some())
        .collect();
    // One driver, named by spark-submit `<name>-<uniqueId>-driver`, for app `default/pi`.
    let drivers: Vec<_> = created.iter().filter(|c| c.2 == Some("driver")).collect();
    assert_eq!(drivers.len(), 1, "one driver pod: {created:?}");
    let driver = drivers[0].0;
    assert!(driver.starts_with("default/pi-") && driver.ends_with("-driver"), "{driver}");
    assert_eq!(drivers[0].1, Some("default/pi"));
    // Its executors: the 3 of spark.executor.instances (from the ConfigMap spark-submit wrote
    // after the pod), named after the driver's resource prefix.
    let prefix = driver.strip_suffix("-driver").unwrap();
    let executors: Vec<&str> = created.iter().filter(|c| c.2 == Some("executor")).map(|c| c.0).collect();
    assert_eq!(executors, [1, 2, 3].map(|n| format!("{prefix}-exec-{n}")), "executors named <prefix>-exec-<id>");
    // The driver ran its work and exited 0; spark-submit saw it Succeeded.
    let ended = records.iter().find_map(|r| match &r.event {
        Event::PodTerminated { pod, phase, exit_code, .. } if pod == driver => Some((*phase, *exit_code, r.t)),
        _ => None,
    });
    let (phase, code, at) = ended.expect("the driver pod ended");
    assert_eq!((phase, code), (PodPhase::Succeeded, Some(0)));
    // 30 two-second tasks on 3 one-core executors: at least 10 rounds of 2 s after the
    // executors registered, so the driver ran at least 20 s of virtual time.
    let created_at = records.iter().find(|r| matches!(&r.event, Event::PodCreated { pod, .. } if pod == driver)).unwrap().t;
    assert!(at.as_ms() - created_at.as_ms() >= 20_000, "the driver ran its 30 × 2 s tasks on 3 slots: {created_at:?} → {at:?}");
    // The objects fabric8 applied after the pod, owned by it.
    let short = driver.trim_start_matches("default/");
    let short_prefix = short.trim_end_matches("-driver");
    assert!(configmaps.lines().any(|l| l.starts_with("configmap/spark-drv-") && l.ends_with("-conf-map")), "{configmaps}");
    assert!(services.contains(&format!("service/{short_prefix}-driver-svc")), "{services}");
    // spark-submit reported the final state from the pod's container status.
    assert!(err.contains("Succeeded") || err.contains("phase: Succeeded") || err.contains("termination reason: Completed"), "{err}");
}
