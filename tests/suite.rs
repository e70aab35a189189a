//! `sparkrig test`: a folder of scenarios as one suite, one JUnit file, one HTML page per
//! scenario, exit codes 0/1/2 (issue 14).

mod common;

use std::path::{Path, PathBuf};

use common::{root, run, scratch};
use quick_junit::{Report, TestCaseStatus};

/// The checked-in scenarios: (file stem, `name:`).
fn checked_in() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = text.lines().find_map(|l| l.strip_prefix("name: ")).unwrap().trim().to_string();
            (p.file_stem().unwrap().to_string_lossy().into_owned(), name)
        })
        .collect();
    out.sort();
    out
}

/// Copies checked-in scenarios into `dir` with fixture references made absolute, `edit` applied
/// to the one named `altered`.
fn copy(dir: &Path, files: &[&str], altered: &str, edit: impl Fn(&str) -> String) -> Vec<PathBuf> {
    let fixtures = root().join("fixtures");
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(root().join("scenarios").join(f)).unwrap();
            let text = text
                .replace("app: fixtures/", &format!("app: {}/", fixtures.display()))
                .replace("topology: data-platform", &format!("topology: {}/topologies/data-platform.yaml", fixtures.display()));
            let text = if *f == altered {
                let edited = edit(&text);
                assert_ne!(edited, text, "the alteration must change {f}");
                edited
            } else {
                text
            };
            let p = dir.join(f);
            std::fs::write(&p, text).unwrap();
            p
        })
        .collect()
}

fn junit(path: &Path) -> Report {
    Report::deserialize_from_str(&std::fs::read_to_string(path).unwrap()).expect("valid JUnit XML")
}

#[test]
fn every_checked_in_scenario_passes_as_one_suite_with_a_testsuite_and_a_page_each() {
    let dir = scratch("suite-all");
    let (j, html) = (dir.join("j.xml"), dir.join("out"));
    let (code, out, err) =
        run(&["test", "scenarios", "-j", "2", "--junit", j.to_str().unwrap(), "--html", html.to_str().unwrap(), "--color", "never"]);
    assert_eq!(code, 0, "{out}{err}");

    let expected = checked_in();
    assert!(expected.len() >= 18, "{expected:?}");
    // A line per scenario as it finishes, then the summary.
    for (_, name) in &expected {
        assert_eq!(out.lines().filter(|l| l.starts_with("PASS ") && l.split_whitespace().nth(1) == Some(name)).count(), 1, "{name}: {out}");
    }
    assert!(out.contains(&format!("{n} scenario(s): {n} passed, 0 failed, 0 error(s)", n = expected.len())), "{out}");

    let report = junit(&j);
    let mut suites: Vec<&str> = report.test_suites.iter().map(|s| s.name.as_str()).collect();
    suites.sort_unstable();
    let mut names: Vec<&str> = expected.iter().map(|(_, n)| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(suites, names, "one testsuite per scenario");
    for s in &report.test_suites {
        assert!(s.test_cases.len() >= 2, "{}: the timeline and at least one expectation", s.name.as_str());
        assert!(s.test_cases.iter().all(|t| matches!(t.status, TestCaseStatus::Success { .. })), "{}", s.name.as_str());
    }

    let mut pages: Vec<String> = std::fs::read_dir(&html).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    pages.sort();
    let stems: Vec<String> = expected.iter().map(|(f, _)| format!("{f}.html")).collect();
    assert_eq!(pages, stems, "one HTML page per scenario, named after its file");
    let smoke = std::fs::read_to_string(html.join("smoke.html")).unwrap();
    assert!(smoke.contains("id=\"verdict\">PASSED<") && smoke.contains("<svg class=\"timeline\""), "smoke.html");
}

#[test]
fn one_scenario_altered_to_fail_exits_1_with_its_evidence_in_junit_and_html() {
    let dir = scratch("suite-one-fails");
    let scenarios = dir.join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    copy(&scenarios, &["smoke.yaml", "pod-kill.yaml", "placement-broken.yaml"], "smoke.yaml", |s| {
        s.replace("- executors-only-on: spark-executor", "- executors-only-on: spark-driver")
    });
    let (j, html) = (dir.join("j.xml"), dir.join("out"));
    let (code, out, err) = run(&[
        "test",
        scenarios.to_str().unwrap(),
        "-j",
        "2",
        "--junit",
        j.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--color",
        "never",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("3 scenario(s): 2 passed, 1 failed, 0 error(s)"), "{out}");
    let fail_line = out.lines().find(|l| l.starts_with("FAIL ")).expect("a FAIL line");
    assert!(fail_line.contains("smoke") && fail_line.contains("executors-only-on: spark-driver"), "{fail_line}");
    // The failure with its evidence and how to replay it.
    let details = out.split("--- FAIL smoke").nth(1).expect("details of the failure");
    assert!(details.contains("✗ executors-only-on: spark-driver: 10 violation(s)"), "{details}");
    assert!(details.contains("pod default/spark-pi-") && details.contains("node spark-executor-"), "{details}");
    let smoke_file = scenarios.join("smoke.yaml");
    assert!(details.contains(&format!("replay: sparkrig run {} --seed 1", smoke_file.display())), "{details}");

    // JUnit: the failed testcase carries the evidence in its message.
    let report = junit(&j);
    assert_eq!(report.test_suites.len(), 3);
    let smoke = report.test_suites.iter().find(|s| s.name.as_str() == "smoke").unwrap();
    let case = smoke.test_cases.iter().find(|t| t.name.as_str() == "executors-only-on: spark-driver").unwrap();
    let TestCaseStatus::NonSuccess { message: Some(message), .. } = &case.status else { panic!("a failure: {:?}", case.status) };
    let message = message.as_str();
    assert!(message.contains("10 violation(s)"), "{message}");
    assert!(message.contains("pod default/spark-pi-") && message.contains("nodegroup spark-executor (allowed: spark-driver)"), "{message}");
    assert_eq!(report.test_suites.iter().filter(|s| s.failures > 0).count(), 1, "only smoke failed");

    // HTML: failed verdict, the failed check with its evidence, and markers at its instants.
    let page = std::fs::read_to_string(html.join("smoke.html")).unwrap();
    assert!(page.contains("id=\"verdict\">FAILED<"), "verdict badge");
    assert!(page.contains("<tr class=\"check fail\">") && page.contains("<b>executors-only-on: spark-driver</b>"));
    assert!(page.contains("nodegroup spark-executor (allowed: spark-driver)"), "evidence on the page");
    assert!(page.matches("<g class=\"failure\"").count() >= 5, "a marker per piece of timed evidence");
    let pod_kill = std::fs::read_to_string(html.join("pod-kill.html")).unwrap();
    assert!(pod_kill.contains("id=\"verdict\">PASSED<") && !pod_kill.contains("<g class=\"failure\""));
}

#[test]
fn filter_selects_by_name_or_path() {
    let dir = scratch("suite-filter");
    let j = dir.join("j.xml");
    let (code, out, err) = run(&["test", "scenarios", "--filter", "^(smoke|pod-kill)$", "--junit", j.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, 0, "{out}{err}");
    let mut names: Vec<String> = junit(&j).test_suites.iter().map(|s| s.name.to_string()).collect();
    names.sort();
    assert_eq!(names, ["pod-kill", "smoke"]);
    assert!(!out.contains("PASS "), "--quiet prints only failures and the summary: {out}");
    assert!(out.contains("2 scenario(s): 2 passed"), "{out}");

    let (code, out, _) = run(&["test", "scenarios", "--filter", "scenarios/e2e-", "--quiet"]);
    assert_eq!(code, 0);
    assert!(out.contains("2 scenario(s): 2 passed"), "{out}");
}

#[test]
fn bad_input_exits_2_naming_the_flag_or_file_and_runs_nothing() {
    let (code, out, err) = run(&["test", "scenarios", "--filter", "smoke("]);
    assert_eq!(code, 2);
    assert!(err.contains("--filter: not a valid regular expression"), "{err}");
    assert!(out.is_empty(), "{out}");

    let (code, _, err) = run(&["test", "scenarios/nope", "scenarios"]);
    assert_eq!(code, 2);
    assert!(err.contains("scenarios/nope: no such file or folder"), "{err}");

    let (code, _, err) = run(&["test", "scenarios", "--filter", "no-such-scenario"]);
    assert_eq!(code, 2);
    assert!(err.contains("matches none of the"), "{err}");

    // An invalid scenario among valid ones: its file, line and field; nothing runs.
    let dir = scratch("suite-invalid");
    let files = copy(&dir, &["smoke.yaml", "pod-kill.yaml"], "pod-kill.yaml", |s| s.replace("steps:", "stepz:"));
    let (code, out, err) = run(&["test", dir.to_str().unwrap(), "--color", "never"]);
    assert_eq!(code, 2, "{out}{err}");
    let line = std::fs::read_to_string(&files[1]).unwrap().lines().position(|l| l.starts_with("stepz:")).unwrap() + 1;
    assert!(err.contains(&format!("pod-kill.yaml:{line}:")) && err.contains("unknown field `stepz`"), "{err}");
    assert!(err.contains("nothing was run"), "{err}");
    assert!(!out.contains("PASS "), "{out}");

    // A folder without scenarios.
    let empty = scratch("suite-empty");
    std::fs::write(empty.join("topology.yaml"), "kind: Topology\nname: t\n").unwrap();
    let (code, _, err) = run(&["test", empty.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("no scenario found in"), "{err}");
}

#[test]
fn json_lists_every_scenario_with_status_and_verdict() {
    let dir = scratch("suite-json");
    let j = dir.join("s.json");
    let (code, out, err) =
        run(&["test", "scenarios/smoke.yaml", "scenarios/placement-broken.yaml", "--json", j.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&j).unwrap()).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0]["name"], "smoke");
    assert_eq!(arr[0]["status"], "passed");
    assert_eq!(arr[0]["verdict"]["metrics"]["apps_by_state"]["COMPLETED"], 5);
    assert_eq!(arr[1]["file"], "scenarios/placement-broken.yaml");
}
