//! `sparkrig serve` driven with plain kubectl (the machine image's kubectl 1.32): discovery,
//! tables, server-side apply of a SparkApplication through the simulated webhook and operator,
//! watches, logs, chaos by scaling CoreDNS to zero, cordon and drain through the Eviction API,
//! and the clear refusals of writes the simulation cannot carry out.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `sparkrig serve`, stopped (SIGINT, then kill) when dropped.
struct Served {
    child: Child,
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Served {
    fn start(dir: &Path, scenario: &str, extra: &[&str]) -> Served {
        let kubeconfig = dir.join("kubeconfig");
        let mut args = vec!["serve", scenario, "--stack-only", "--speed", "60", "--kubeconfig"];
        let kc = kubeconfig.display().to_string();
        args.push(&kc);
        args.extend_from_slice(extra);
        let child = Command::new(env!("CARGO_BIN_EXE_sparkrig"))
            .args(&args)
            .current_dir(common::root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sparkrig serve starts");
        let started = Instant::now();
        while !kubeconfig.exists() {
            assert!(started.elapsed() < Duration::from_secs(30), "no kubeconfig after 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Served { child, kubeconfig, cache: dir.join("kube-cache") }
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", &self.cache)
            .current_dir(common::root())
            .output()
            .expect("kubectl runs")
    }

    /// stdout of a kubectl command that must succeed.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.kubectl(args);
        assert!(
            o.status.success(),
            "kubectl {}: {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).expect("kubectl prints JSON")
    }

    /// Runs `kubectl` in the background, its stdout lines collected.
    fn background(&self, args: &[&str]) -> (Child, std::sync::mpsc::Receiver<String>) {
        let mut child = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", &self.cache)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl runs");
        let out = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        (child, rx)
    }

    /// Polls until `f` holds (each poll a kubectl call), or fails with what it last saw.
    fn eventually(&self, what: &str, timeout: Duration, mut f: impl FnMut(&Served) -> Result<(), String>) {
        let started = Instant::now();
        loop {
            match f(self) {
                Ok(()) => return,
                Err(last) if started.elapsed() > timeout => panic!("{what}: not within {timeout:?}; last: {last}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kubectl_missing() -> bool {
    Command::new("kubectl").args(["version", "--client"]).output().map(|o| !o.status.success()).unwrap_or(true)
}

/// Lines from a background watch until one satisfies `f`.
fn until(rx: &std::sync::mpsc::Receiver<String>, timeout: Duration, f: impl Fn(&str) -> bool) -> Vec<String> {
    let started = Instant::now();
    let mut seen = Vec::new();
    while started.elapsed() < timeout {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            let done = f(&line);
            seen.push(line);
            if done {
                return seen;
            }
        }
    }
    panic!("not seen within {timeout:?}; lines: {seen:#?}");
}

#[test]
fn kubectl_drives_the_simulated_platform() {
    if kubectl_missing() {
        eprintln!("skipped: kubectl is not installed (the serve tests drive sparkrig serve with it)");
        return;
    }
    let dir = common::scratch("serve_kubectl");
    let s = Served::start(&dir, "scenarios/smoke.yaml", &[]);

    // Nodes carry their nodegroup labels, and the executor group its taint.
    let nodes = s.json(&["get", "nodes"]);
    let items = nodes["items"].as_array().unwrap();
    assert_eq!(items.len(), 8, "the data-platform topology's 8 nodes");
    let executor = items.iter().find(|n| n["metadata"]["labels"]["nodegroup"] == "spark-executor").expect("an executor node");
    assert_eq!(executor["spec"]["taints"][0], serde_json::json!({"key": "purpose", "value": "spark-executor", "effect": "NoSchedule"}));
    let table = s.ok(&["get", "nodes", "-L", "nodegroup"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "NODEGROUP"]);
    assert!(
        table.lines().any(|l| l.starts_with("spark-executor-1 ") && l.contains(" Ready ") && l.trim_end().ends_with("spark-executor")),
        "{table}"
    );

    // CoreDNS down while a fresh app's executors pull their image: they cannot resolve the
    // driver Service (as in scenarios/coredns-outage.yaml). A distinct image tag keeps the
    // executor nodes' caches cold, so the pull leaves time to act.
    let (mut watch, execs) = s.background(&["get", "pods", "-l", "spark-role=executor", "-w", "--no-headers"]);
    let app = std::fs::read_to_string(common::root().join("fixtures/apps/spark-pi-resilient.yaml"))
        .unwrap()
        .replace("name: spark-pi-resilient", "name: dns-victim")
        .replace("apache/spark:3.5.6", "apache/spark:3.5.6-dns");
    let file = dir.join("dns-victim.yaml");
    std::fs::write(&file, app).unwrap();
    s.ok(&["apply", "--server-side", "-f", file.to_str().unwrap()]);
    until(&execs, Duration::from_secs(30), |l| l.starts_with("dns-victim-"));
    s.ok(&["scale", "deploy", "coredns", "-n", "kube-system", "--replicas=0"]);
    s.eventually("an executor failing with UnknownHostException in the driver's log", Duration::from_secs(30), |s| {
        let log = String::from_utf8_lossy(&s.kubectl(&["logs", "dns-victim-driver"]).stdout).into_owned();
        if log.contains("UnknownHostException") { Ok(()) } else { Err(log) }
    });
    let _ = watch.kill();
    s.ok(&["scale", "deploy", "coredns", "-n", "kube-system", "--replicas=2"]);

    // SparkPi applied server-side is admitted, submitted, runs its executors on the executor
    // group, and completes; a watch of the app sees COMPLETED.
    let (mut watch, execs) =
        s.background(&["get", "pods", "-l", "spark-role=executor,spark-app-name=spark-pi", "-o", "wide", "-w", "--no-headers"]);
    let (mut app_watch, states) = s.background(&["get", "sparkapplication", "-w", "--no-headers"]);
    let applied = s.ok(&["apply", "--server-side", "-f", "fixtures/apps/spark-pi.yaml"]);
    assert_eq!(applied.trim(), "sparkapplication.sparkoperator.k8s.io/spark-pi serverside-applied");
    s.ok(&["wait", "--for=jsonpath={.status.applicationState.state}=COMPLETED", "sparkapplication/spark-pi", "--timeout=60s"]);
    until(&states, Duration::from_secs(10), |l| l.starts_with("spark-pi ") && l.contains(" COMPLETED "));
    let lines = until(&execs, Duration::from_secs(10), |l| l.contains(" Running "));
    let _ = (watch.kill(), app_watch.kill());
    for l in lines.iter().filter(|l| l.contains(" Running ")) {
        let node = l.split_whitespace().nth(6).unwrap_or_default();
        assert!(node.starts_with("spark-executor-"), "executor on {node}: {l}");
    }
    let log = s.ok(&["logs", "spark-pi-driver"]);
    assert!(log.contains("INFO SparkContext: Running Spark version 3.5.6"), "{log}");
    assert!(log.contains("Successfully stopped SparkContext"), "{log}");

    // cordon + drain evict the node's pods through the Eviction API; the Deployments put
    // them back elsewhere.
    let on = |s: &Served, node: &str| -> Vec<String> {
        let pods = s.json(&["get", "pods", "-A", "--field-selector", &format!("spec.nodeName={node}")]);
        pods["items"].as_array().unwrap().iter().map(|p| p["metadata"]["name"].as_str().unwrap().to_string()).collect()
    };
    assert!(!on(&s, "infra-2").is_empty(), "infra-2 runs platform pods");
    let drained = s.ok(&["drain", "infra-2", "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=60s"]);
    assert!(drained.contains("evicted") && drained.contains("node/infra-2 drained"), "{drained}");
    assert!(on(&s, "infra-2").is_empty(), "nothing left on the drained node");
    assert!(s.ok(&["get", "node", "infra-2", "--no-headers"]).contains("Ready,SchedulingDisabled"));
    s.eventually("the evicted platform pods running again", Duration::from_secs(20), |s| {
        let d = s.json(&["get", "deploy", "-n", "spark-operator", "spark-operator-webhook"]);
        if d["status"]["readyReplicas"] == 1 { Ok(()) } else { Err(d["status"].to_string()) }
    });

    // Writes the simulation cannot carry out are refused with a Status that says why.
    let label = s.kubectl(&["label", "node", "infra-1", "team=x"]);
    assert!(!label.status.success());
    let err = String::from_utf8_lossy(&label.stderr);
    assert!(err.contains("sparkrig serve changes only spec.unschedulable"), "{err}");
    let cm = s.kubectl(&["create", "configmap", "x", "--from-literal=a=b"]);
    assert!(!cm.status.success());
    assert!(
        String::from_utf8_lossy(&cm.stderr).contains("does not decode protobuf request bodies"),
        "{}",
        String::from_utf8_lossy(&cm.stderr)
    );
    let del = s.kubectl(&["delete", "deploy", "minio", "-n", "minio"]);
    assert!(String::from_utf8_lossy(&del.stderr).contains("(MethodNotAllowed)"), "{}", String::from_utf8_lossy(&del.stderr));
}

/// The tenancy objects read as on a real cluster: PriorityClasses (the system ones), and a
/// team's ResourceQuota whose `used` follows the app a client applies. team-a-etl is a driver
/// and two executors of one core and 512m (+ 384Mi overhead) each: 3 pods, 3 cores and
/// 3 × 896Mi = 2688Mi of the quota's 20 pods, 6 cores and 24Gi.
#[test]
fn quotas_and_priority_classes_read_as_kubectl_prints_them() {
    if kubectl_missing() {
        eprintln!("skipped: kubectl is not installed (the serve tests drive sparkrig serve with it)");
        return;
    }
    let dir = common::scratch("serve-kubectl-quota");
    let s = Served::start(&dir, "scenarios/team-quotas.yaml", &[]);
    let pcs = s.ok(&["get", "pc"]);
    assert!(pcs.lines().next().unwrap().split_whitespace().eq(["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE"]), "{pcs}");
    assert!(pcs.lines().any(|l| l.split_whitespace().take(3).eq(["system-node-critical", "2000001000", "false"])), "{pcs}");
    s.ok(&["apply", "--server-side", "-f", "fixtures/apps/team-a-etl.yaml"]);
    let started = Instant::now();
    loop {
        let cpu = s.ok(&["get", "quota", "-n", "team-a", "team-a-compute", "-o", "jsonpath={.status.used.requests\\.cpu}"]);
        if cpu == "3" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the quota's used requests.cpu stayed {cpu}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let table = s.ok(&["get", "quota", "-A"]);
    let row = table.lines().find(|l| l.contains("team-a-compute")).unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("count/pods: 3/20, requests.cpu: 3/6, requests.memory: 2688Mi/24Gi"), "{table}");
    // Read-only: the simulation owns quotas.
    let o = s.kubectl(&["delete", "quota", "-n", "team-a", "team-a-compute"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("MethodNotAllowed"), "a quota delete is refused: {err}");
    assert!(s.ok(&["get", "quota", "-n", "team-a"]).contains("team-a-compute"), "and the quota is still there");
}
