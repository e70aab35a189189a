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

/// A `sparkrig serve SCENARIO --stack-only` process for one test, stopped with SIGINT (then
/// killed) when dropped, even when the test fails.
pub struct Served {
    child: std::process::Child,
    /// Its kubeconfig (context `sparkrig-<scenario name>`).
    pub kubeconfig: PathBuf,
}

impl Served {
    /// Starts serve on `scenario` (relative to the repository root) at `speed`, with `extra`
    /// arguments; returns once its kubeconfig is written.
    pub fn start(dir: &Path, scenario: &str, speed: &str, extra: &[&str]) -> Served {
        let kubeconfig = dir.join("kubeconfig");
        let _ = std::fs::remove_file(&kubeconfig);
        let kc = kubeconfig.display().to_string();
        let mut args = vec!["serve", scenario, "--stack-only", "--speed", speed, "-q", "--kubeconfig", &kc];
        args.extend_from_slice(extra);
        let child = Command::new(env!("CARGO_BIN_EXE_sparkrig"))
            .args(&args)
            .current_dir(root())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("serve starts");
        let served = Served { child, kubeconfig };
        let started = std::time::Instant::now();
        while !served.kubeconfig.exists() {
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "{scenario}: serve wrote no kubeconfig in 30 s");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        served
    }

    /// Kills the server at once (SIGKILL): the API goes away mid-request, as when an API
    /// server crashes or the network to it is cut.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The API server's address (`http://127.0.0.1:PORT`), from the kubeconfig.
    pub fn server(&self) -> String {
        let text = std::fs::read_to_string(&self.kubeconfig).unwrap();
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("server: "))
            .map(|s| s.trim_matches(['\'', '"']).to_string())
            .find(|s| s.starts_with("http://127.0.0.1") || s.starts_with("https://127.0.0.1"))
            .expect("the kubeconfig names serve's address")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
