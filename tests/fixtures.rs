//! Fixtures against the real schemas: every SparkApplication manifest under `fixtures/`, every
//! upstream example, and every app a scenario generates validates against the v2.5.2 CRD.

mod common;

use std::path::Path;

use common::root;
use sparkrig_model::crd::validate_spark_application;
use sparkrig_model::source::Source;
use sparkrig_model::sparkapp::SparkApplication;
use sparkrig_model::topology::Topology;
use sparkrig_run::files::load_scenario;

fn yaml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect();
    v.sort();
    v
}

/// Validates every SparkApplication (and every ScheduledSparkApplication's template) in a file;
/// returns how many were checked.
fn check_manifest(path: &Path) -> usize {
    let src = Source::new(path.display().to_string(), std::fs::read_to_string(path).unwrap());
    let mut checked = 0;
    for (_, doc) in src.documents().unwrap() {
        let app = match doc["kind"].as_str() {
            Some("SparkApplication") => doc,
            Some("ScheduledSparkApplication") => serde_json::json!({
                "apiVersion": doc["apiVersion"], "kind": "SparkApplication", "metadata": doc["metadata"], "spec": doc["spec"]["template"]
            }),
            _ => continue,
        };
        let violations = validate_spark_application(&app);
        assert!(violations.is_empty(), "{}: {violations:?}", path.display());
        let typed: SparkApplication = serde_json::from_value(app.clone()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(typed.to_json(), app, "{} round-trips through the typed model", path.display());
        checked += 1;
    }
    checked
}

#[test]
fn fixture_apps_validate_against_the_crd() {
    let files = yaml_files(&root().join("fixtures/apps"));
    assert!(files.len() >= 2);
    for f in files {
        assert_eq!(check_manifest(&f), 1, "{}", f.display());
    }
}

#[test]
fn upstream_examples_load_and_validate() {
    let mut checked = 0;
    for f in yaml_files(&root().join("fixtures/upstream/v2.5.2")).iter().filter(|p| !p.ends_with("chart-values.yaml")) {
        checked += check_manifest(f);
    }
    // spark-pi, spark-pi-pod-template, spark-pi-scheduled, spark-pi-dynamic-allocation and the
    // two e2e bad examples.
    assert_eq!(checked, 6);
}

#[test]
fn every_generated_app_validates_against_the_crd() {
    let mut checked = 0;
    for f in yaml_files(&root().join("scenarios")) {
        let plan = load_scenario(&f, None).unwrap_or_else(|d| panic!("{d}"));
        for app in plan.generated_apps() {
            let v = validate_spark_application(&app.to_json());
            assert!(v.is_empty(), "{} generates {}: {v:?}", f.display(), app.metadata.name);
            checked += 1;
        }
    }
    assert!(checked >= 7);
}

#[test]
fn topologies_load() {
    for f in yaml_files(&root().join("fixtures/topologies")) {
        let src = Source::new(f.display().to_string(), std::fs::read_to_string(&f).unwrap());
        Topology::from_source(&src).unwrap_or_else(|d| panic!("{d}"));
    }
}

#[test]
fn vendored_upstream_files_match_the_reference() {
    let reference = root().join("../shared/reference/spark-operator/v2.5.2");
    if !reference.is_dir() {
        eprintln!("skipped: {} not present on this machine", reference.display());
        return;
    }
    let pairs = [
        ("fixtures/crds/v2.5.2/sparkoperator.k8s.io_sparkapplications.yaml", "sparkoperator.k8s.io_sparkapplications.yaml"),
        (
            "fixtures/crds/v2.5.2/sparkoperator.k8s.io_scheduledsparkapplications.yaml",
            "sparkoperator.k8s.io_scheduledsparkapplications.yaml",
        ),
        ("fixtures/upstream/v2.5.2/chart-values.yaml", "chart/values.yaml"),
    ];
    for (ours, theirs) in pairs {
        assert_eq!(std::fs::read(root().join(ours)).unwrap(), std::fs::read(reference.join(theirs)).unwrap(), "{ours}");
    }
    for f in yaml_files(&reference.join("examples")) {
        let ours = root().join("fixtures/upstream/v2.5.2").join(f.file_name().unwrap());
        assert_eq!(std::fs::read(&ours).unwrap(), std::fs::read(&f).unwrap(), "{}", ours.display());
    }
}
