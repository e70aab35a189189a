//! The real-cluster commands as far as this machine can run them: kind configs (checked in and
//! current, valid for kind v1alpha4 and its taint rules), `--dry-run` plans, `doctor`, and the
//! refusals that happen before anything is touched. The end-to-end runs on kind are in
//! tests/kind_e2e.rs.

mod common;

use common::{root, run};
use sparkrig_model::source::Source;
use sparkrig_model::topology::Topology;
use sparkrig_real::kindcfg::{self, KindOptions};

#[test]
fn checked_in_kind_configs_are_current_and_valid() {
    let dir = root().join("fixtures/topologies");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = format!("fixtures/topologies/{}", path.file_name().unwrap().to_string_lossy());
        let t = Topology::from_source(&Source::new(rel.clone(), std::fs::read_to_string(&path).unwrap())).unwrap();
        let (cluster, _) = kindcfg::kind_config(&t, &KindOptions::for_topology(&t)).unwrap();
        let want = kindcfg::render(&cluster, &rel);
        let file = root().join("kind-configs").join(path.file_name().unwrap());
        if std::env::var_os("SPARKRIG_BLESS").is_some() {
            std::fs::write(&file, &want).unwrap();
        }
        let have = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(have == want, "{} is stale: run `sparkrig kind-config {rel} -o {}`", file.display(), file.display());
        assert_eq!(kindcfg::check(&have), Vec::<String>::new(), "{}", file.display());
        seen += 1;
    }
    assert!(seen > 0);
}

#[test]
fn kind_config_prints_workers_with_group_labels_and_join_taints() {
    let (code, out, err) = run(&["kind-config", "fixtures/topologies/data-platform.yaml", "--workers", "spark-executor=3"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("nodegroup: spark-executor").count(), 3, "{out}");
    assert_eq!(out.matches("kind: JoinConfiguration").count(), 3, "only the tainted group gets the patch: {out}");
    assert!(out.contains("      - key: purpose\n        value: spark-executor\n        effect: NoSchedule"), "{out}");
    assert!(!out.contains("InitConfiguration"));
    assert_eq!(kindcfg::check(&out), Vec::<String>::new());
    let (code, _, err) = run(&["kind-config", "fixtures/topologies/data-platform.yaml", "--workers", "gpu=1"]);
    assert_eq!(code, 2);
    assert!(err.contains("nodegroup `gpu` is not in topology `data-platform`"), "{err}");
    let (code, _, err) = run(&["kind-config", "fixtures/topologies/data-platform.yaml", "--kubernetes", "1.30.0"]);
    assert_eq!(code, 2);
    assert!(err.contains("no pinned kind node image for Kubernetes 1.30.0"), "{err}");
}

#[test]
fn a_kind_dry_run_prints_the_whole_plan_and_changes_nothing() {
    let (code, out, err) = run(&["run", "scenarios/smoke.yaml", "--backend", "kind", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    for part in [
        "## up: kind cluster sparkrig-data-platform",
        "kind create cluster --name sparkrig-data-platform",
        "kind: JoinConfiguration",
        "docker network connect kind kind-registry",
        "minio/minio:RELEASE.2025-02-28T09-55-16Z",
        "helm upgrade --install spark-operator spark-operator --repo https://kubeflow.github.io/spark-operator --version 2.5.2",
        "failurePolicy: Fail",
        "caBundle set on every webhook",
        "kind: SparkApplication",
        "create SparkApplication default/spark-pi-5",
        "watch until apps all in a terminal state, at most 10m",
        "## down: only what sparkrig created",
        "kind delete cluster --name sparkrig-data-platform",
    ] {
        assert!(out.contains(part), "missing `{part}` in the dry run:\n{out}");
    }
    // With --keep there is no teardown.
    let (_, out, _) = run(&["run", "scenarios/smoke.yaml", "--backend", "kind", "--dry-run", "--keep"]);
    assert!(out.contains("## down: skipped (--keep)") && !out.contains("kind delete cluster"));
}

#[test]
fn fault_plans_in_a_dry_run_act_on_kind_nodes_and_heal() {
    let (code, out, err) = run(&["run", "scenarios/spot-interruption.yaml", "--backend", "kind", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kubectl cordon sparkrig-data-platform-worker5"), "{out}");
    assert!(
        out.contains("kubectl drain sparkrig-data-platform-worker5 --ignore-daemonsets --delete-emptydir-data --grace-period="),
        "{out}"
    );
    assert!(out.contains("docker stop sparkrig-data-platform-worker5"), "{out}");
    assert!(out.contains("docker start sparkrig-data-platform-worker5"), "{out}");
    let (code, out, _) = run(&["run", "scenarios/coredns-outage.yaml", "--backend", "kube", "--context", "staging", "--dry-run"]);
    assert_eq!(code, 0);
    assert!(out.contains("kubectl -n kube-system scale deployment coredns --replicas=0") && out.contains("## run on staging"), "{out}");
}

#[test]
fn unsupported_combinations_are_refused_before_anything_runs() {
    let (code, _, err) = run(&["run", "scenarios/node-loss-driver.yaml", "--backend", "kube", "--dry-run"]);
    assert_eq!(code, 2);
    assert!(err.contains("injects node-loss") && err.contains("--backend kind"), "{err}");
    let (code, _, err) = run(&["run", "scenarios/smoke.yaml", "--keep"]);
    assert_eq!(code, 2);
    assert!(err.contains("--keep only apply to --backend kind or kube"), "{err}");
    let (code, _, err) = run(&["run", "scenarios/smoke.yaml", "--backend", "kube", "--reuse"]);
    assert_eq!(code, 2);
    assert!(err.contains("for --backend kind"), "{err}");
}

#[test]
fn the_kube_backend_without_a_cluster_fails_clearly() {
    let home = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sparkrig"))
        .args(["run", "scenarios/smoke.yaml", "--backend", "kube"])
        .current_dir(root())
        .env("HOME", home.path())
        .env("KUBECONFIG", home.path().join("missing"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("scenarios/smoke.yaml") && err.contains("Kubernetes configuration"), "{err}");
}

#[test]
fn doctor_reports_each_tool_with_a_fix_and_an_honest_exit_code() {
    let (code, out, _) = run(&["doctor"]);
    for tool in ["docker client", "docker engine", "kind", "helm", "kubectl", "inotify limits"] {
        assert!(out.contains(tool), "doctor does not mention {tool}:\n{out}");
    }
    let failed = out.lines().filter(|l| l.trim_start().starts_with('✗')).count();
    let fixes = out.lines().filter(|l| l.trim_start().starts_with("fix:")).count();
    assert!(fixes >= failed, "every failed check has a fix:\n{out}");
    assert_eq!(code, if failed == 0 { 0 } else { 1 }, "{out}");
}
