//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the `sparkrig` binary from the repository root.
pub fn sparkrig(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sparkrig")).args(args).current_dir(root()).output().expect("sparkrig runs")
}

/// Exit code, stdout, stderr.
pub fn run(args: &[&str]) -> (i32, String, String) {
    let o = sparkrig(args);
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a variant of a checked-in scenario into `dir`, with `edit` applied and fixture
/// references made absolute so it resolves from anywhere.
pub fn variant(dir: &Path, scenario: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let text = std::fs::read_to_string(root().join("scenarios").join(scenario)).unwrap();
    let fixtures = root().join("fixtures");
    let text = text
        .replace("app: fixtures/", &format!("app: {}/", fixtures.display()))
        .replace("topology: data-platform", &format!("topology: {}/topologies/data-platform.yaml", fixtures.display()));
    let edited = edit(&text);
    assert_ne!(edited, text, "the variant must change the scenario");
    let path = dir.join(scenario);
    std::fs::write(&path, edited).unwrap();
    path
}
