//! The Docker edge against the real engine of this machine: the local registry of the kind
//! recipe (reachable on localhost:5001, a pushed image pulled back), the S3 container on a user
//! network with random credentials (buckets, an object round trip), the container faults on real
//! containers (stop/start, disconnect/connect from the `kind` network checked from another
//! container on it), `sparkrig chaos` interrupted by SIGINT (heals, then `sparkrig down` cleans
//! up), and `down` leaving foreign look-alikes alone.
//!
//! Images come from tests/images/build.sh (Debian's docker-registry and moto's S3 server,
//! tagged as the images sparkrig starts), built once per machine. Without a Docker engine (or
//! the means to build the images) each test says so in one line and checks nothing. The tests
//! share port 5001 and the `kind-registry` name, so they run one at a time.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use common::{root, run};
use sparkrig_model::faults::{FaultKind, FaultSpec, NodeTarget};
use sparkrig_real::docker::{self, Cleanup, Docker, S3Container};
use sparkrig_real::error::Error;
use sparkrig_real::exec::Executor;
use sparkrig_real::faults::fault_plan;
use sparkrig_real::s3::{self, S3};
use sparkrig_real::stack::{MINIO_BUCKETS, MINIO_IMAGE, REGISTRY_CONTAINER, REGISTRY_IMAGE, REGISTRY_PORT};
use sparkrig_real::{CLUSTER_LABEL, OWNER_LABEL, chaos, provision};

/// The tests' own image (tests/images/build.sh): python3 and sleep, for stand-in kind nodes
/// (`python3 -m http.server`) and probes, whatever the registry and S3 images are.
const TOOLS: &str = "sparkrig-stand-in/tools:1";
/// What a stand-in kind node serves, on its port 5000.
const NODE_CMD: [&str; 6] = ["python3", "-m", "http.server", "5000", "--bind", "0.0.0.0"];

/// One line past the test harness's capture, so a skip shows in every `cargo test`.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Why the real-engine tests cannot run here, if they cannot: no engine, no docker CLI, or no
/// stand-in images and no way to build them. Checked once.
fn missing() -> Option<&'static str> {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    WHY.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        if let Err(e) = rt.block_on(docker::connect()) {
            return Some(format!("a Docker engine ({e})"));
        }
        if !Command::new("docker").arg("version").output().is_ok_and(|o| o.status.success()) {
            return Some("the docker CLI (for docker push/pull/exec)".into());
        }
        let started = Instant::now();
        let out = Command::new("bash")
            .arg(root().join("tests/images/build.sh"))
            .args([REGISTRY_IMAGE, MINIO_IMAGE])
            .stderr(Stdio::inherit())
            .output()
            .expect("bash runs");
        say(&format!("{} ({:.1}s)", String::from_utf8_lossy(&out.stdout).trim(), started.elapsed().as_secs_f64()));
        match out.status.code() {
            Some(0) => None,
            // 3: debootstrap, python3 or root missing: the images cannot be built here.
            Some(3) => Some("the stand-in images (tests/images/build.sh needs root, debootstrap and python3 -m pip)".into()),
            _ => panic!("tests/images/build.sh failed"),
        }
    })
    .as_deref()
}

/// The engine, one test at a time, or None after a one-line skip.
fn engine(test: &str) -> Option<(MutexGuard<'static, ()>, tokio::runtime::Runtime, Docker)> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let lock = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(why) = missing() {
        say(&format!("skipped: {test} needs {why}"));
        return None;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let docker = rt.block_on(docker::connect()).unwrap();
    Some((lock, rt, docker))
}

/// A name no other run uses.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}-{}-{:x}", std::process::id(), nanos)
}

fn docker_cli(args: &[&str]) -> (bool, String) {
    let o = Command::new("docker").args(args).output().unwrap();
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

/// `docker run -d` of a container sparkrig's guards may remove (label `sparkrig.io/owned=test`).
fn run_test_container(name: &str, network: &str, labels: &[(&str, &str)], image: &str, cmd: &[&str]) {
    let mut args = vec!["run".to_string(), "-d".into(), "--name".into(), name.into(), "--network".into(), network.into()];
    args.extend(["--label".into(), format!("{OWNER_LABEL}=test")]);
    for (k, v) in labels {
        args.extend(["--label".into(), format!("{k}={v}")]);
    }
    args.push(image.into());
    args.extend(cmd.iter().map(|s| s.to_string()));
    let (ok, out) = docker_cli(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok, "docker run {name}: {out}");
}

/// Whether `probe` (a container with python3) opens a TCP connection to host:port.
fn reachable(probe: &str, host: &str, port: u16) -> bool {
    let code = format!("import socket; socket.create_connection(('{host}', {port}), 2)");
    docker_cli(&["exec", probe, "python3", "-c", &code]).0
}

/// Polls `f` until it returns `want` or 20 s pass; the last value.
fn eventually(want: bool, f: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    loop {
        let v = f();
        if v == want || start.elapsed() > Duration::from_secs(20) {
            return v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn running(name: &str) -> bool {
    docker_cli(&["inspect", "-f", "{{.State.Running}}", name]).1.trim() == "true"
}

fn exists(kind: &str, name: &str) -> bool {
    docker_cli(&[kind, "inspect", name]).0
}

/// The `kind` network the faults act on: the existing one (kept), or one created for the test
/// and removed with `guard`.
async fn kind_network(docker: &Docker, guard: &mut Cleanup) {
    if !exists("network", "kind") {
        // Not labelled with the test's cluster: kind's network outlives a cluster's `down`.
        docker::create_owned_network(docker, "kind", "test", None).await.unwrap();
        guard.network("kind");
    }
}

/// Things created without sparkrig's labels (foreign look-alikes), removed by name at the end.
struct Foreign(Vec<(&'static str, String)>);

impl Drop for Foreign {
    fn drop(&mut self) {
        for (kind, name) in self.0.iter().rev() {
            let _ = match *kind {
                "container" => docker_cli(&["rm", "-f", name]),
                _ => docker_cli(&["network", "rm", name]),
            };
        }
    }
}

#[test]
fn the_recipes_registry_serves_localhost_5001_and_a_pushed_image_pulls_back() {
    let Some((_lock, rt, docker)) = engine("the registry test") else { return };
    let mut guard = Cleanup::new();
    if rt.block_on(docker::container_labels(&docker, REGISTRY_CONTAINER)).unwrap().is_some_and(|l| !l.contains_key(OWNER_LABEL)) {
        say("skipped: the registry test: a kind-registry that sparkrig did not start exists (left alone)");
        return;
    }
    guard.container(REGISTRY_CONTAINER);
    rt.block_on(docker::ensure_registry(&docker, REGISTRY_CONTAINER, REGISTRY_IMAGE, REGISTRY_PORT)).unwrap();
    let labels = rt.block_on(docker::container_labels(&docker, REGISTRY_CONTAINER)).unwrap().unwrap();
    assert_eq!(labels.get(OWNER_LABEL).map(String::as_str), Some("registry"));
    assert_eq!(rt.block_on(s3::get_status("http://localhost:5001/v2/")).unwrap(), 200);
    // Started again (up with --reuse): the same container, still serving.
    rt.block_on(docker::ensure_registry(&docker, REGISTRY_CONTAINER, REGISTRY_IMAGE, REGISTRY_PORT)).unwrap();

    // A one-file image, pushed as users do (`docker push localhost:5001/...`), removed here,
    // pulled back: the same content-addressed image id.
    let dir = common::scratch("registry-probe");
    std::fs::write(dir.join("probe.txt"), unique("probe")).unwrap();
    let tag = format!("localhost:{REGISTRY_PORT}/sparkrig-test/probe:{}", std::process::id());
    let import = Command::new("bash").args(["-c", &format!("tar -C '{}' -c . | docker import - '{tag}'", dir.display())]).output().unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let id = docker_cli(&["image", "inspect", "-f", "{{.Id}}", &tag]).1;
    let (ok, out) = docker_cli(&["push", &tag]);
    assert!(ok, "docker push {tag}: {out}");
    assert!(docker_cli(&["image", "rm", &tag]).0);
    assert!(!exists("image", &tag));
    let (ok, out) = docker_cli(&["pull", &tag]);
    assert!(ok, "docker pull {tag}: {out}");
    assert_eq!(docker_cli(&["image", "inspect", "-f", "{{.Id}}", &tag]).1, id, "the pulled image is the pushed one");
    let _ = docker_cli(&["image", "rm", &tag]);

    rt.block_on(guard.teardown(&docker)).unwrap();
    assert!(!exists("container", REGISTRY_CONTAINER));
}

#[test]
fn s3_on_a_user_network_with_random_credentials_creates_buckets_and_round_trips_an_object() {
    let Some((_lock, rt, docker)) = engine("the S3 test") else { return };
    let cluster = unique("sparkrig-s3");
    let network = format!("{cluster}-net");
    let mut guard = Cleanup::new();
    rt.block_on(docker::create_owned_network(&docker, &network, "test", Some(&cluster))).unwrap();
    guard.network(&network);
    let (user, password) = provision::random_credentials();
    let spec = S3Container {
        name: format!("{cluster}-minio"),
        cluster: cluster.clone(),
        network: network.clone(),
        image: MINIO_IMAGE.into(),
        user: user.clone(),
        password: password.clone(),
    };
    guard.container(&spec.name);
    let s3c = rt.block_on(docker::ensure_s3(&docker, &spec)).unwrap();
    assert_eq!((s3c.user.as_str(), s3c.password.as_str()), (user.as_str(), password.as_str()));
    let env = docker_cli(&["inspect", "-f", "{{json .Config.Env}}", &spec.name]).1;
    assert!(env.contains(&format!("MINIO_ROOT_USER={user}")) && env.contains(&format!("MINIO_ROOT_PASSWORD={password}")), "{env}");

    let client = S3::new(&s3c.host_endpoint, &s3c.user, &s3c.password).unwrap();
    rt.block_on(client.wait_ready(MINIO_BUCKETS[0], docker::START_TIMEOUT)).unwrap();
    for b in MINIO_BUCKETS {
        assert!(!rt.block_on(client.bucket_exists(b)).unwrap());
        rt.block_on(client.ensure_bucket(b)).unwrap();
        rt.block_on(client.ensure_bucket(b)).unwrap();
        assert!(rt.block_on(client.bucket_exists(b)).unwrap(), "{b}");
    }
    let body: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    rt.block_on(client.put_object("spark-events", "app-1/eventlog", body.clone())).unwrap();
    assert_eq!(rt.block_on(client.get_object("spark-events", "app-1/eventlog")).unwrap(), body);
    let e = rt.block_on(client.get_object("spark-events", "missing")).unwrap_err();
    assert!(matches!(e, Error::S3 { status: Some(404), .. }), "{e}");

    // Reused by a later `up`: the running container's credentials, not the new ones.
    let again = rt
        .block_on(docker::ensure_s3(&docker, &S3Container { user: "other".into(), password: "otherother".into(), ..spec.clone() }))
        .unwrap();
    assert_eq!(again.user, user);

    // Pods reach it by container name on the network.
    let probe = format!("{cluster}-probe");
    guard.container(&probe);
    run_test_container(&probe, &network, &[], TOOLS, &["sleep", "600"]);
    assert!(reachable(&probe, &spec.name, docker::S3_PORT));

    rt.block_on(guard.teardown(&docker)).unwrap();
    assert!(!exists("container", &spec.name) && !exists("network", &network));
}

#[test]
fn container_faults_stop_start_and_cut_off_real_containers() {
    let Some((_lock, rt, docker)) = engine("the container fault test") else { return };
    let cluster = unique("sparkrig-faults");
    let (node, probe) = (format!("{cluster}-worker"), format!("{cluster}-probe"));
    let mut guard = Cleanup::new();
    rt.block_on(kind_network(&docker, &mut guard));
    // A node container as kind labels it, serving on 5000; a probe on the same network.
    guard.container(&node);
    run_test_container(&node, "kind", &[(docker::KIND_CLUSTER_LABEL, &cluster), (docker::KIND_ROLE_LABEL, "worker")], TOOLS, &NODE_CMD);
    guard.container(&probe);
    run_test_container(&probe, "kind", &[], TOOLS, &["sleep", "600"]);
    assert!(eventually(true, || reachable(&probe, &node, 5000)), "the node serves before any fault");

    let facts = rt.block_on(chaos::facts(&docker, &cluster)).unwrap();
    assert_eq!(facts.nodes, vec![(node.clone(), "worker".to_string())]);
    let mut ex = Executor::new(None);
    ex.log = Box::new(|_| {});

    // network-partition: cut off, still running; reconnected, reachable again.
    let fp = fault_plan(&FaultSpec::NetworkPartition { nodes: NodeTarget::Named(node.clone()) }, &facts).unwrap();
    rt.block_on(ex.run(&fp.inject)).unwrap();
    assert!(running(&node), "a partitioned node keeps running");
    assert!(!reachable(&probe, &node, 5000), "partitioned: unreachable from the kind network");
    rt.block_on(ex.run(&fp.heal)).unwrap();
    rt.block_on(ex.run(&fp.heal)).unwrap(); // healing twice is harmless
    assert!(eventually(true, || reachable(&probe, &node, 5000)), "reconnected: reachable again");

    // node-loss: stopped; started again, serving again.
    let fp = fault_plan(&FaultSpec::NodeLoss { nodes: NodeTarget::Named(node.clone()), delete_after: None }, &facts).unwrap();
    rt.block_on(ex.run(&fp.inject)).unwrap();
    assert!(!running(&node));
    assert!(!reachable(&probe, &node, 5000));
    rt.block_on(ex.run(&fp.heal)).unwrap();
    assert!(running(&node));
    assert!(eventually(true, || reachable(&probe, &node, 5000)), "restarted: reachable again");

    // minio-outage on sparkrig's S3 container: refused connections, then S3 again.
    let (user, password) = provision::random_credentials();
    let spec = S3Container {
        name: format!("{cluster}-minio"),
        cluster: cluster.clone(),
        network: "kind".into(),
        image: MINIO_IMAGE.into(),
        user,
        password,
    };
    guard.container(&spec.name);
    rt.block_on(docker::ensure_s3(&docker, &spec)).unwrap();
    let facts = rt.block_on(chaos::facts(&docker, &cluster)).unwrap();
    assert_eq!(facts.minio_container.as_deref(), Some(spec.name.as_str()));
    let fp = fault_plan(&FaultSpec::Component(FaultKind::MinioOutage), &facts).unwrap();
    assert!(eventually(true, || reachable(&probe, &spec.name, docker::S3_PORT)));
    rt.block_on(ex.run(&fp.inject)).unwrap();
    assert!(!running(&spec.name) && !reachable(&probe, &spec.name, docker::S3_PORT));
    rt.block_on(ex.run(&fp.heal)).unwrap();
    let s3c = rt.block_on(docker::ensure_s3(&docker, &spec)).unwrap(); // its host port may change on restart
    let client = S3::new(&s3c.host_endpoint, &s3c.user, &s3c.password).unwrap();
    rt.block_on(client.wait_ready("data", docker::START_TIMEOUT)).unwrap();

    rt.block_on(guard.teardown(&docker)).unwrap();

    // A guard that is only dropped (a test that failed half-way) still removes what it holds.
    let leftover = format!("{cluster}-dropped");
    {
        let mut dropped = Cleanup::new();
        rt.block_on(docker::create_owned_network(&docker, &leftover, "test", None)).unwrap();
        dropped.network(&leftover);
        assert!(exists("network", &leftover));
    }
    assert!(!exists("network", &leftover), "removed on drop");
}

/// Reads `child`'s stderr lines into a channel.
fn lines(stderr: std::process::ChildStderr) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

#[test]
fn sigint_to_sparkrig_chaos_mid_way_heals_every_fault_then_down_cleans_up() {
    let Some((_lock, rt, docker)) = engine("the SIGINT test") else { return };
    if rt.block_on(docker::container_labels(&docker, REGISTRY_CONTAINER)).unwrap().is_some_and(|l| !l.contains_key(OWNER_LABEL)) {
        say("skipped: the SIGINT test: a kind-registry that sparkrig did not start exists (left alone)");
        return;
    }
    let cluster = unique("sparkrig-sigint");
    let (node, probe) = (format!("{cluster}-worker"), format!("{cluster}-probe"));
    // What `up` starts (removed by `sparkrig down` below; the guard catches a failed test).
    let mut started = Cleanup::new();
    started.container(REGISTRY_CONTAINER);
    started.container(format!("{cluster}-minio"));
    // What the test stands in for (kind's network and node) and checks with.
    let mut network = Cleanup::new();
    rt.block_on(kind_network(&docker, &mut network));
    let mut scaffold = Cleanup::new();
    scaffold.container(&node);
    run_test_container(&node, "kind", &[(docker::KIND_CLUSTER_LABEL, &cluster), (docker::KIND_ROLE_LABEL, "worker")], TOOLS, &NODE_CMD);
    scaffold.container(&probe);
    run_test_container(&probe, "kind", &[], TOOLS, &["sleep", "600"]);
    rt.block_on(docker::ensure_registry(&docker, REGISTRY_CONTAINER, REGISTRY_IMAGE, REGISTRY_PORT)).unwrap();
    let (user, password) = provision::random_credentials();
    let spec = S3Container {
        name: format!("{cluster}-minio"),
        cluster: cluster.clone(),
        network: "kind".into(),
        image: MINIO_IMAGE.into(),
        user,
        password,
    };
    rt.block_on(docker::ensure_s3(&docker, &spec)).unwrap();
    assert!(eventually(true, || reachable(&probe, &node, 5000)));

    let mut child = Command::new(env!("CARGO_BIN_EXE_sparkrig"))
        .args(["chaos", "network-partition", "minio-outage", "registry-outage", "--name", &cluster, "--node", &node])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.iter().any(|l: &String| l.contains("injected; healing at Ctrl-C")) {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) => seen.push(l),
            Err(_) => {
                let _ = child.kill();
                panic!("sparkrig chaos did not report the injection:\n{}", seen.join("\n"));
            }
        }
    }
    // Mid-way: every fault in place.
    assert!(running(&node) && !reachable(&probe, &node, 5000), "partitioned");
    assert!(!running(&spec.name), "MinIO stopped");
    assert!(!running(REGISTRY_CONTAINER), "registry stopped");

    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("sparkrig chaos did not stop after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    seen.extend(rx.try_iter());
    let out = seen.join("\n");
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(out.contains("Ctrl-C: healing") && out.contains("healed") && out.contains("ended by Ctrl-C"), "{out}");

    // Healed: reachable, S3 answering, the registry serving.
    assert!(eventually(true, || reachable(&probe, &node, 5000)), "{out}");
    let s3c = rt.block_on(docker::ensure_s3(&docker, &spec)).unwrap();
    rt.block_on(S3::new(&s3c.host_endpoint, &s3c.user, &s3c.password).unwrap().wait_ready("data", docker::START_TIMEOUT)).unwrap();
    assert_eq!(rt.block_on(s3::get_status("http://localhost:5001/v2/")).unwrap(), 200);

    // Clean up as a user does: without the node (kind would delete it), `sparkrig down`.
    rt.block_on(scaffold.teardown(&docker)).unwrap();
    let (code, _, err) = run(&["down", "--name", &cluster]);
    assert_eq!(code, 0, "{err}");
    assert!(!exists("container", &spec.name), "{err}");
    let other_kind_clusters = !rt.block_on(docker::kind_clusters(&docker)).unwrap().is_empty();
    assert_eq!(exists("container", REGISTRY_CONTAINER), other_kind_clusters, "the registry goes with the last kind cluster: {err}");
    rt.block_on(started.teardown(&docker)).unwrap();
    rt.block_on(network.teardown(&docker)).unwrap();
}

#[test]
fn down_and_chaos_leave_foreign_look_alikes_alone() {
    let Some((_lock, rt, docker)) = engine("the ownership test") else { return };
    if exists("container", REGISTRY_CONTAINER) {
        say("skipped: the ownership test: a kind-registry exists already (its name is the look-alike this test creates)");
        return;
    }
    let (ours, theirs) = (unique("sparkrig-own"), unique("sparkrig-foreign"));
    let mut guard = Cleanup::new();
    let mut foreign = Foreign(Vec::new());
    // sparkrig's: the S3 container and a network of cluster `ours`.
    let net = format!("{ours}-net");
    rt.block_on(docker::create_owned_network(&docker, &net, "network", Some(&ours))).unwrap();
    guard.network(&net);
    let (user, password) = provision::random_credentials();
    let spec = S3Container {
        name: format!("{ours}-minio"),
        cluster: ours.clone(),
        network: net.clone(),
        image: MINIO_IMAGE.into(),
        user,
        password,
    };
    guard.container(&spec.name);
    rt.block_on(docker::ensure_s3(&docker, &spec)).unwrap();
    // Look-alikes without sparkrig's labels: the registry's name, a MinIO name (one with only
    // the cluster label), a network name.
    for (name, extra) in [
        (REGISTRY_CONTAINER.to_string(), vec![]),
        (format!("{theirs}-minio"), vec!["--label".to_string(), format!("{CLUSTER_LABEL}={theirs}")]),
    ] {
        foreign.0.push(("container", name.clone()));
        let mut args = vec!["run".to_string(), "-d".into(), "--name".into(), name];
        args.extend(extra);
        args.extend([TOOLS.to_string(), "sleep".into(), "600".into()]);
        let (ok, out) = docker_cli(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(ok, "{out}");
    }
    foreign.0.push(("network", format!("{theirs}-net")));
    assert!(docker_cli(&["network", "create", "--label", &format!("{CLUSTER_LABEL}={theirs}"), &format!("{theirs}-net")]).0);

    // chaos refuses what is not sparkrig's.
    let (code, _, err) = run(&["chaos", "minio-outage", "--name", &theirs, "--for", "1s"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("container {theirs}-minio was not created by sparkrig")), "{err}");
    let (code, _, err) = run(&["chaos", "registry-outage", "--name", &ours, "--for", "1s"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("container kind-registry was not created by sparkrig"), "{err}");
    assert!(running(REGISTRY_CONTAINER) && running(&format!("{theirs}-minio")));
    let e = rt
        .block_on(docker::ensure_s3(&docker, &S3Container { name: format!("{theirs}-minio"), cluster: theirs.clone(), ..spec.clone() }))
        .unwrap_err();
    assert!(matches!(e, Error::NotOurs { .. }), "{e}");

    // down of the foreign cluster name: nothing to do, nothing touched.
    let (code, _, err) = run(&["down", "--name", &theirs]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("nothing of sparkrig's named {theirs} exists")), "{err}");
    // down of ours: ours gone, the look-alikes stay.
    let (code, _, err) = run(&["down", "--name", &ours]);
    assert_eq!(code, 0, "{err}");
    assert!(!exists("container", &spec.name) && !exists("network", &net), "{err}");
    assert!(
        exists("container", REGISTRY_CONTAINER)
            && exists("container", &format!("{theirs}-minio"))
            && exists("network", &format!("{theirs}-net"))
    );
    assert!(running(REGISTRY_CONTAINER) && running(&format!("{theirs}-minio")));
    rt.block_on(guard.teardown(&docker)).unwrap();
}

#[test]
fn doctor_reports_the_engine_version_and_api_range() {
    let Some((_lock, rt, docker)) = engine("the doctor engine test") else { return };
    let e = rt.block_on(docker::engine(&docker)).unwrap();
    let (_, out, _) = run(&["doctor"]);
    let line = out.lines().find(|l| l.contains("docker engine")).unwrap_or_default();
    assert!(line.trim_start().starts_with('✓'), "{out}");
    assert!(
        line.contains(&format!("{} ({}), API {} (accepts {}–{})", e.version, e.platform, e.api_version, e.min_api_version, e.api_version)),
        "{out}"
    );
    assert!(line.contains(&format!("sparkrig speaks {}", e.negotiated)), "{out}");
    // Negotiated down to what the engine speaks, never above it.
    let v = |s: &str| s.split('.').map(|p| p.parse::<u32>().unwrap()).collect::<Vec<_>>();
    assert!(v(&e.negotiated) <= v(&e.api_version) && v(&e.negotiated) >= v(&e.min_api_version), "{e:?}");
    say(&format!("docker engine here: {} API {} (min {}), negotiated {}", e.version, e.api_version, e.min_api_version, e.negotiated));
}
