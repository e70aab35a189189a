//! Issue 15, "safe on a shared cluster": the kube backend run for real against `sparkrig serve`
//! (a real Kubernetes API over HTTP; reference/kube-api.md), one test per guarantee the README
//! states in "What sparkrig guarantees on a shared cluster":
//!
//! - pod-kill deletes only pods of this run's apps ([`pod_kill_spares_a_decoy_app_of_the_same_name_and_foreign_spark_pods`],
//!   [`the_pod_kill_dry_run_is_scoped_to_the_runs_apps`]);
//! - a heal that fails is retried, recorded as `fault_heal_failed`, fails the run with exit 2 and
//!   prints the command that restores what is left broken ([`a_failed_heal_is_retried_recorded_and_fails_the_run_with_the_restore_command`]);
//! - SIGTERM heals like Ctrl-C, and the trace is on disk as the run goes
//!   ([`sigterm_heals_every_fault_and_the_trace_holds_what_was_seen`]);
//! - a Deployment found at 0 is restored to 0, and one sparkrig left scaled down (its
//!   `sparkrig.io/original-replicas` annotation) is refused with the restore command
//!   ([`a_deployment_at_zero_is_restored_to_zero_and_one_left_broken_is_refused`]);
//! - a previous run's pods are not this run's ([`a_previous_runs_pods_do_not_appear_in_the_new_trace`]);
//! - and the smaller ones: the dry-run's jq line ([`the_dry_runs_jq_line_parses_and_edits_the_corefile`]),
//!   the User-Agent and a patch matching no app ([`writes_name_sparkrig_as_their_agent_and_a_patch_matching_no_app_fails`]),
//!   no empty diagnostics folder ([`a_failed_run_without_pod_evidence_leaves_no_empty_diagnostics_folder`]),
//!   no fault before the node list ([`faults_wait_for_the_first_node_list`]).
//!
//! Each test starts its own `sparkrig serve --stack-only --speed 60`; they take turns (a lock),
//! as they are timing-sensitive and the machines are small.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A scenario on the data-platform topology with the standard stack, written into `dir`.
fn scenario(dir: &Path, name: &str, body: &str) -> PathBuf {
    let root = common::root();
    let text = format!(
        "apiVersion: sparkrig.io/v1alpha1\nkind: Scenario\nname: {name}\ntopology: {}/fixtures/topologies/data-platform.yaml\nstack:\n  sparkOperator:\n    placement: {{nodegroup: infra}}\n{}",
        root.display(),
        body.replace("APPS/", &format!("{}/fixtures/apps/", root.display()))
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A running `sparkrig serve SCENARIO --stack-only --speed 60` (the shared helper, stopped
/// when dropped), with its context, a kubectl cache and its own trace.
struct Serve {
    served: common::Served,
    kubeconfig: PathBuf,
    cache: PathBuf,
    context: String,
    /// Serve's trace (every API write, with who sent it), line-buffered.
    trace: PathBuf,
}

impl Serve {
    fn start(dir: &Path, scenario: &Path) -> Serve {
        let trace = dir.join("serve.jsonl");
        let served = common::Served::start(dir, scenario.to_str().unwrap(), "60", &["--trace", trace.to_str().unwrap()]);
        let name = std::fs::read_to_string(scenario)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("name: ").map(|n| n.trim().to_string()))
            .unwrap();
        let kubeconfig = served.kubeconfig.clone();
        Serve { served, kubeconfig, cache: dir.join("kube-cache"), context: format!("sparkrig-{name}"), trace }
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .args(["--context", &self.context])
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", &self.cache)
            .output()
            .expect("kubectl runs")
    }

    /// A kubectl command that must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.kubectl(args);
        assert!(o.status.success(), "kubectl {}: {}", args.join(" "), String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).unwrap()
    }

    /// `spec.replicas` of a Deployment and its annotations.
    fn deployment(&self, ns: &str, name: &str) -> (i64, Value) {
        let d = self.json(&["-n", ns, "get", "deployment", name]);
        (d["spec"]["replicas"].as_i64().unwrap_or(1), d["metadata"]["annotations"].clone())
    }

    fn corefile(&self) -> (String, Value) {
        let cm = self.json(&["-n", "kube-system", "get", "configmap", "coredns"]);
        (cm["data"]["Corefile"].as_str().unwrap_or_default().to_string(), cm["metadata"]["annotations"].clone())
    }

    /// `sparkrig run S --backend kube --context <this>`, not yet started.
    fn run(&self, scenario: &Path, trace: &Path, extra: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sparkrig"));
        c.args(["run", scenario.to_str().unwrap(), "--backend", "kube", "--context", &self.context, "--trace", trace.to_str().unwrap()])
            .args(extra)
            .env("KUBECONFIG", &self.kubeconfig)
            .current_dir(common::root());
        c
    }

    /// Runs to the end: exit code and everything printed.
    fn run_to_end(&self, scenario: &Path, trace: &Path, extra: &[&str]) -> (i32, String) {
        let o = self.run(scenario, trace, extra).output().expect("sparkrig runs");
        (o.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
    }

    /// Serve's own trace lines so far.
    fn served(&self) -> Vec<Value> {
        lines(&self.trace)
    }
}

fn signal(child: &Child, sig: &str) {
    let _ = Command::new("kill").args([&format!("-{sig}"), &child.id().to_string()]).status();
}

/// The JSON lines of a trace file, as far as they are written.
fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn events<'a>(trace: &'a [Value], kind: &str) -> Vec<&'a Value> {
    trace.iter().filter(|r| r["event"] == kind).collect()
}

/// Waits for `f` to hold, polling.
fn eventually(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(started.elapsed() < timeout, "{what}: not within {}s", timeout.as_secs());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for a child to exit: its exit code (None: killed by a signal).
fn exit_of(child: &mut Child, timeout: Duration) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            panic!("the run did not end within {}s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The scale writes serve received for `deployment` (`namespace/name`), as replica counts.
fn scale_writes(serve: &Serve, deployment: &str) -> Vec<u64> {
    serve
        .served()
        .iter()
        .filter(|r| r["event"] == "api_write" && r["action"]["action"] == "scale_deployment" && r["action"]["deployment"] == deployment)
        .filter_map(|r| r["action"]["replicas"].as_u64())
        .collect()
}

/// Whether serve's trace shows a write scaling `deployment` to `replicas`.
fn scaled(serve: &Serve, deployment: &str, replicas: u64) -> bool {
    scale_writes(serve, deployment).contains(&replicas)
}

#[test]
fn a_failed_heal_is_retried_recorded_and_fails_the_run_with_the_restore_command() {
    let _turn = turn();
    let dir = common::scratch("kube_safety_heal_fails");
    let s = scenario(
        &dir,
        "heal-fails",
        "steps:\n  - inject: coredns-down\n  - sleep: 5m\n  - heal: coredns-down\nexpect:\n  invariants:\n    - legal-transitions\n",
    );
    let mut serve = Serve::start(&dir, &s);
    let (trace, json) = (dir.join("kube.jsonl"), dir.join("verdict.json"));
    let mut run = serve.run(&s, &trace, &["--json", json.to_str().unwrap()]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // The API server goes away while CoreDNS is scaled to 0.
    eventually("CoreDNS scaled to 0", Duration::from_secs(60), || scaled(&serve, "kube-system/coredns", 0));
    serve.served.kill();
    let code = exit_of(&mut run, Duration::from_secs(120));
    let out = run.wait_with_output().unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let restore = format!("kubectl --context {} -n kube-system scale deployment coredns --replicas=2", serve.context);

    let records = lines(&trace);
    assert!(events(&records, "fault_healed").is_empty(), "a heal that failed is not recorded as healed:\n{records:#?}");
    let failed = events(&records, "fault_heal_failed");
    assert_eq!(failed.len(), 1, "one fault_heal_failed:\n{records:#?}");
    assert_eq!(failed[0]["fault"], "coredns-down");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(error.contains("attempts"), "the error says it was retried: {error}");
    assert!(failed[0]["restore"].as_str().unwrap().contains(&restore), "{:#}", failed[0]);
    let heal_step = records.iter().find(|r| r["event"] == "step_ended" && r["step"] == 2).expect("the heal step ended");
    assert_eq!(heal_step["ok"], false, "the heal step failed: {heal_step:#}");

    let verdict: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(verdict["results"][0]["name"], "timeline");
    assert_eq!(verdict["results"][0]["passed"], false, "{verdict:#}");
    assert!(verdict["unhealed"].as_array().is_some_and(|u| u.len() == 1), "{verdict:#}");
    assert_eq!(code, Some(2), "a cluster left broken is a harness failure (exit 2):\n{printed}");
    assert!(printed.contains(&restore), "the restore command is printed:\n{printed}");
}

#[test]
fn sigterm_heals_every_fault_and_the_trace_holds_what_was_seen() {
    let _turn = turn();
    let dir = common::scratch("kube_safety_sigterm");
    let s = scenario(
        &dir,
        "sigterm",
        "steps:\n  - inject: coredns-down\n  - inject: coredns-misconfig\n  - inject: webhook-down\n  - sleep: 6h\nexpect:\n  invariants:\n    - legal-transitions\n",
    );
    let serve = Serve::start(&dir, &s);
    let (corefile, _) = serve.corefile();
    let (webhook, _) = serve.deployment("spark-operator", "spark-operator-webhook");
    assert!(webhook > 0);
    let trace = dir.join("kube.jsonl");
    let mut run = serve.run(&s, &trace, &["-q"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // The trace is on disk while the run goes on: the three injections are there before it ends.
    eventually("the injections in the trace file, mid-run", Duration::from_secs(60), || {
        events(&lines(&trace), "fault_injected").len() == 3
    });
    assert!(run.try_wait().unwrap().is_none(), "the run is still going (a 6 h sleep: 6 min at 60x)");
    signal(&run, "TERM");
    let code = exit_of(&mut run, Duration::from_secs(60));
    assert!(code.is_some() && code != Some(143), "SIGTERM is handled (heal, then exit), not fatal: {code:?}");

    // Everything is back, as the API shows it.
    assert_eq!(serve.deployment("kube-system", "coredns").0, 2, "CoreDNS's replicas restored");
    assert_eq!(serve.deployment("spark-operator", "spark-operator-webhook").0, webhook, "the webhook's replicas restored");
    let (now, annotations) = serve.corefile();
    assert_eq!(now, corefile, "the Corefile restored");
    assert!(annotations.get("sparkrig.io/original-Corefile").is_none(), "{annotations:#}");
    for (ns, d) in [("kube-system", "coredns"), ("spark-operator", "spark-operator-webhook")] {
        let (_, a) = serve.deployment(ns, d);
        assert!(a.get("sparkrig.io/original-replicas").is_none(), "{ns}/{d}: {a:#}");
    }
    let records = lines(&trace);
    assert_eq!(events(&records, "fault_healed").len(), 3, "{records:#?}");
    let end = records.last().unwrap();
    assert_eq!(end["event"], "run_ended", "{records:#?}");
    assert!(end["reason"].as_str().unwrap().contains("interrupted"), "{end:#}");
}

#[test]
fn a_deployment_at_zero_is_restored_to_zero_and_one_left_broken_is_refused() {
    let _turn = turn();
    let dir = common::scratch("kube_safety_scale");
    let s = scenario(
        &dir,
        "scale",
        "steps:\n  - inject: coredns-down\n  - sleep: 1m\n  - heal: coredns-down\nexpect:\n  invariants:\n    - legal-transitions\n",
    );
    let serve = Serve::start(&dir, &s);
    // Someone scaled CoreDNS to 0 (the scale subresource then omits spec.replicas): the heal
    // puts back 0, not 1.
    serve.ok(&["-n", "kube-system", "scale", "deployment", "coredns", "--replicas=0"]);
    let (code, out) = serve.run_to_end(&s, &dir.join("zero.jsonl"), &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(serve.deployment("kube-system", "coredns").0, 0, "restored to what it was: 0\n{out}");
    serve.ok(&["-n", "kube-system", "scale", "deployment", "coredns", "--replicas=2"]);

    // A run killed (SIGKILL: no heal) after scaling CoreDNS down leaves it at 0 with the
    // annotation that records its count.
    let long =
        scenario(&dir, "killed", "steps:\n  - inject: coredns-down\n  - sleep: 6h\nexpect:\n  invariants:\n    - legal-transitions\n");
    let before = scale_writes(&serve, "kube-system/coredns").len();
    let killed_trace = dir.join("killed.jsonl");
    let mut killed = serve.run(&long, &killed_trace, &["-q"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    eventually("CoreDNS scaled to 0", Duration::from_secs(60), || scale_writes(&serve, "kube-system/coredns")[before..] == [0]);
    std::thread::sleep(Duration::from_millis(200));
    killed.kill().unwrap();
    killed.wait().unwrap();
    // What it saw is on disk although it was killed: the trace is written as the run goes.
    assert_eq!(events(&lines(&killed_trace), "fault_injected").len(), 1, "the killed run's trace holds its injection");
    let (replicas, annotations) = serve.deployment("kube-system", "coredns");
    assert_eq!(replicas, 0);
    assert_eq!(annotations["sparkrig.io/original-replicas"], "2", "{annotations:#}");

    // The next run refuses to touch it, says why and how to restore it, and changes nothing.
    let writes = serve.served().iter().filter(|r| r["event"] == "api_write").count();
    let (code, out) = serve.run_to_end(&s, &dir.join("refused.jsonl"), &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("sparkrig.io/original-replicas=2") && out.contains("left"), "says what it found:\n{out}");
    let line =
        out.lines().find(|l| l.trim_start().starts_with("kubectl --context")).unwrap_or_else(|| panic!("no restore command:\n{out}"));
    assert!(line.contains("scale deployment coredns --replicas=2"), "{line}");
    assert_eq!(serve.deployment("kube-system", "coredns").0, 0, "the refusing run changed nothing");
    assert_eq!(serve.served().iter().filter(|r| r["event"] == "api_write").count(), writes, "the refusing run wrote nothing");

    // The printed command restores it; then runs proceed and heal to 2.
    let o = Command::new("bash")
        .args(["-c", line.trim()])
        .env("KUBECONFIG", &serve.kubeconfig)
        .env("KUBECACHEDIR", &serve.cache)
        .output()
        .unwrap();
    assert!(o.status.success(), "{line}: {}", String::from_utf8_lossy(&o.stderr));
    let (replicas, annotations) = serve.deployment("kube-system", "coredns");
    assert_eq!(replicas, 2);
    assert!(annotations.get("sparkrig.io/original-replicas").is_none(), "{annotations:#}");
    let (code, out) = serve.run_to_end(&s, &dir.join("after.jsonl"), &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(serve.deployment("kube-system", "coredns").0, 2);
}

#[test]
fn a_previous_runs_pods_do_not_appear_in_the_new_trace() {
    let _turn = turn();
    let dir = common::scratch("kube_safety_stale_pods");
    let s = scenario(
        &dir,
        "stale",
        "workload:\n  - app: APPS/spark-pi.yaml\n    name: lingering\n    work: {tasks: 2000, taskDuration: 10s}\nsteps:\n  - wait: {apps: all, state: RUNNING, timeout: 5m}\nexpect:\n  outcomes:\n    - {apps: all, reached: RUNNING}\n",
    );
    let serve = Serve::start(&dir, &s);
    // The first run ends with its app running (nothing deletes apps at the end).
    let (code, out) = serve.run_to_end(&s, &dir.join("first.jsonl"), &[]);
    assert_eq!(code, 0, "{out}");
    // The second deletes it and starts afresh: the old driver and executors, terminating,
    // are not this run's pods.
    let second = dir.join("second.jsonl");
    let (code, out) = serve.run_to_end(&s, &second, &[]);
    assert_eq!(code, 0, "{out}");
    let records = lines(&second);
    let created = records.iter().position(|r| r["event"] == "app_created").expect("the app is created");
    let early: Vec<&Value> = records[..created].iter().filter(|r| r["pod"].as_str().is_some_and(|p| p.contains("lingering"))).collect();
    assert!(early.is_empty(), "pods of the previous run in the new trace, before its app exists:\n{early:#?}");
    let replaced: Vec<&Value> = records.iter().filter(|r| r["reason"] == "replaced by a new pod of the same name").collect();
    assert!(replaced.is_empty(), "{replaced:#?}");
}

#[test]
fn the_dry_runs_jq_line_parses_and_edits_the_corefile() {
    let (code, out, err) = common::run(&["run", "scenarios/coredns-misconfig.yaml", "--backend", "kube", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    let line = out.lines().find(|l| l.contains("| jq ")).unwrap_or_else(|| panic!("no jq line:\n{out}"));
    let o = Command::new("bash").args(["-n", "-c", line]).output().unwrap();
    assert!(o.status.success(), "bash -n: {}\n{line}", String::from_utf8_lossy(&o.stderr));
    if Command::new("jq").arg("--version").output().is_err() {
        eprintln!("jq is not installed: the line was only parsed");
        return;
    }
    // Run it, with kubectl answering the get with a ConfigMap and echoing what is replaced.
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"coredns","namespace":"kube-system","resourceVersion":"7"},"data":{"Corefile":".:53 {\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n    }\n    forward . /etc/resolv.conf\n}\n"}}"#;
    let shim = format!("kubectl() {{ case \" $* \" in *' get '*) printf '%s' '{cm}' ;; *' replace '*) cat ;; esac; }}\n{line}");
    let o = Command::new("bash").args(["-c", &shim]).output().unwrap();
    assert!(o.status.success(), "{}\n{line}", String::from_utf8_lossy(&o.stderr));
    let replaced: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
    let corefile = replaced["data"]["Corefile"].as_str().unwrap();
    assert!(corefile.contains("kubernetes sparkrig-broken.invalid in-addr.arpa"), "{corefile}");
    assert!(!corefile.contains("cluster.local"), "{corefile}");
    assert!(replaced["metadata"]["annotations"]["sparkrig.io/original-Corefile"].as_str().unwrap().contains("kubernetes cluster.local"));
}

#[test]
fn the_pod_kill_dry_run_is_scoped_to_the_runs_apps() {
    let (code, out, err) = common::run(&["run", "scenarios/pod-kill.yaml", "--backend", "kube", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(" -A"), "no command over all namespaces:\n{out}");
    let kills: Vec<&str> = out.lines().filter(|l| l.contains("delete pods")).collect();
    assert_eq!(kills.len(), 2, "{out}");
    assert!(
        kills[0].starts_with("kubectl -n default delete pods -l ") && kills[0].contains("sparkoperator.k8s.io/app-name=exec-victim"),
        "{}",
        kills[0]
    );
    assert!(kills[1].contains("sparkoperator.k8s.io/app-name=driver-victim") && kills[1].contains("sparkrig.io/owned=app"), "{}", kills[1]);
}

#[test]
fn writes_name_sparkrig_as_their_agent_and_a_patch_matching_no_app_fails() {
    let _turn = turn();
    let dir = common::scratch("kube_safety_agent");
    let s = scenario(
        &dir,
        "agent",
        "workload:\n  - app: APPS/spark-pi.yaml\n    name: agent\n  - app: APPS/spark-pi.yaml\n    name: later\n    at: 1h\nsteps:\n  - wait: {apps: agent, state: terminal, timeout: 10m}\n  - inject: coredns-down\n  - heal: coredns-down\n  - patch: {apps: later, spec: {suspend: true}}\nexpect:\n  outcomes:\n    - {apps: agent, state: COMPLETED}\n",
    );
    let serve = Serve::start(&dir, &s);
    let json = dir.join("out").join("verdict.json");
    std::fs::create_dir_all(json.parent().unwrap()).unwrap();
    let trace = dir.join("kube.jsonl");
    let (code, out) = serve.run_to_end(&s, &trace, &["--json", json.to_str().unwrap()]);
    let records = lines(&trace);
    let patch = records.iter().find(|r| r["event"] == "step_ended" && r["step"] == 3).unwrap_or_else(|| panic!("{out}"));
    assert_eq!(patch["ok"], false, "a patch that matches no app fails: {patch:#}");
    // `later` arrives at 1h: when the patch runs, no app it selects exists.
    assert!(patch["message"].as_str().unwrap().contains("no app of this run matches later"), "{patch:#}");
    assert_eq!(code, 1, "{out}");
    // The failure has no pod to explain it: no empty diagnostics folder.
    assert!(!dir.join("out").join("agent-diagnostics").exists(), "an empty diagnostics folder was left:\n{out}");
    // Every write the run made names sparkrig (User-Agent, or field manager).
    let writes: Vec<Value> = serve.served().into_iter().filter(|r| r["event"] == "api_write").collect();
    assert!(writes.len() >= 3, "{writes:#?}");
    for w in &writes {
        let by = w["by"].as_str().unwrap_or_default();
        assert!(by == "sparkrig" || by.starts_with("sparkrig/"), "a write not named sparkrig: {w:#}");
    }
}

#[test]
fn faults_wait_for_the_first_node_list() {
    let _turn = turn();
    let dir = common::scratch("kube_safety_nodes_first");
    let s = scenario(
        &dir,
        "nodes-first",
        "steps:\n  - inject: coredns-down\n  - heal: coredns-down\nexpect:\n  invariants:\n    - legal-transitions\n",
    );
    let serve = Serve::start(&dir, &s);
    let trace = dir.join("kube.jsonl");
    let (code, out) = serve.run_to_end(&s, &trace, &[]);
    assert_eq!(code, 0, "{out}");
    let records = lines(&trace);
    let injected = records.iter().position(|r| r["event"] == "fault_injected").unwrap_or_else(|| panic!("{records:#?}"));
    let nodes = records[..injected].iter().filter(|r| r["event"] == "node_added").count();
    assert_eq!(nodes, 8, "every node of data-platform (1 + 2 + 2 + 3) is known before the fault:\n{records:#?}");
}

/// A Spark driver pod as spark-submit (or another team's operator) creates it, as JSON.
fn driver_pod(ns: &str, name: &str, labels: &[(&str, &str)], owner: Option<(&str, &str)>) -> String {
    let mut pod = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "spark-kubernetes-driver",
                "image": "spark:3.5.6",
                "args": ["driver", "--class", "org.apache.spark.examples.SparkPi", "local:///opt/spark/examples/jars/spark-examples.jar"],
                "resources": {"requests": {"cpu": "1", "memory": "1408Mi"}},
            }],
        },
    });
    for (k, v) in labels {
        pod["metadata"]["labels"][*k] = (*v).into();
    }
    if let Some((app, uid)) = owner {
        pod["metadata"]["ownerReferences"] = serde_json::json!([{
            "apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication", "name": app, "uid": uid, "controller": true,
        }]);
    }
    pod.to_string()
}

#[test]
fn pod_kill_spares_a_decoy_app_of_the_same_name_and_foreign_spark_pods() {
    let _turn = turn();
    let dir = common::scratch("kube_safety_pod_kill");
    let s = scenario(
        &dir,
        "decoy",
        "workload:\n  - app: APPS/spark-pi-resilient.yaml\n    name: driver-victim\n    work: {tasks: 120, taskDuration: 2s}\nsteps:\n  - wait: {apps: driver-victim, state: RUNNING, timeout: 3m}\n  - sleep: 10s\n  - inject: {fault: pod-kill, driverOf: driver-victim, id: kill-driver}\n  - wait: {apps: all, state: terminal, timeout: 15m}\nexpect:\n  outcomes:\n    - {apps: driver-victim, reached: FAILING}\n    - {pods: driver-victim-driver, saw: exit 143}\n    - {apps: all, state: COMPLETED}\n",
    );
    let serve = Serve::start(&dir, &s);
    // Another team's app of the same name in team-b (its driver, owned by its own
    // SparkApplication, even labelled as sparkrig's: team-b runs sparkrig too), and a pod in
    // this run's namespace that carries every label of this run's driver but is not owned by it.
    // (sparkrig serve's simulated operator serves the job namespace `default` only, like the
    // chart's default `spark.jobNamespaces`; the decoy is a driver pod created through the API,
    // as spark-submit or another operator creates one, which serve runs as a Spark driver.)
    let labels = [
        ("spark-role", "driver"),
        ("sparkoperator.k8s.io/app-name", "driver-victim"),
        ("sparkrig.io/owned", "app"),
        ("spark-app-selector", "spark-0123456789abcdef0123456789abcdef"),
    ];
    let decoy = driver_pod("team-b", "driver-victim-driver", &labels, Some(("driver-victim", "8a4c6f0e-0000-4000-8000-00000000b0b0")));
    let impostor = driver_pod("default", "impostor-driver", &labels, None);
    for (file, pod) in [("decoy.json", decoy), ("impostor.json", impostor)] {
        std::fs::write(dir.join(file), pod).unwrap();
        serve.ok(&["create", "--validate=false", "-f", dir.join(file).to_str().unwrap()]);
    }
    let trace = dir.join("kube.jsonl");
    let (code, out) = serve.run_to_end(&s, &trace, &[]);
    assert_eq!(code, 0, "{out}");

    // Both survive; only this run's driver was deleted.
    for (ns, pod) in [("team-b", "driver-victim-driver"), ("default", "impostor-driver")] {
        let p = serve.json(&["-n", ns, "get", "pod", pod]);
        assert!(p["metadata"]["deletionTimestamp"].is_null(), "{ns}/{pod} is being deleted: {p:#}");
    }
    let deleted: Vec<String> = serve
        .served()
        .iter()
        .filter(|r| r["event"] == "api_write" && r["action"]["action"] == "delete_pod")
        .map(|r| r["action"]["pod"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(deleted, ["default/driver-victim-driver"], "the pods the run deleted");
    // Nor are they in the run's trace: they are not its pods.
    let records = lines(&trace);
    let foreign: Vec<&Value> =
        records.iter().filter(|r| r["pod"].as_str().is_some_and(|p| p.starts_with("team-b/") || p.contains("impostor"))).collect();
    assert!(foreign.is_empty(), "{foreign:#?}");
}

#[test]
fn a_failed_run_without_pod_evidence_leaves_no_empty_diagnostics_folder() {
    let _turn = turn();
    let dir = common::scratch("kube_safety_diagnostics");
    // The app arrives after the wait gives up: the timeline fails, and no pod explains it.
    let s = scenario(
        &dir,
        "nothing-to-diagnose",
        "workload:\n  - app: APPS/spark-pi.yaml\n    name: late\n    at: 1h\nsteps:\n  - wait: {apps: all, state: RUNNING, timeout: 10s}\nexpect:\n  outcomes:\n    - {apps: all, reached: RUNNING}\n",
    );
    let serve = Serve::start(&dir, &s);
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let json = out_dir.join("verdict.json");
    let (code, out) = serve.run_to_end(&s, &dir.join("kube.jsonl"), &["--json", json.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(!out_dir.join("nothing-to-diagnose-diagnostics").exists(), "an empty diagnostics folder was left:\n{out}");
}
