//! `sparkrig serve` driven with kube-rs, in-process: discovery, a watcher, server-side apply of
//! a SparkApplication, the scale subresource, an eviction, logs; then the session's trace
//! replayed offline gives the same trace, byte for byte.

mod common;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, EvictParams, LogParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config, discovery};
use sparkrig_model::trace::{Event, Record};
use sparkrig_run::files::load_scenario;

async fn within<T>(what: &str, secs: u64, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f).await.unwrap_or_else(|_| panic!("{what}: not within {secs}s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_applies_watches_scales_evicts_and_reads_logs_and_the_session_replays() {
    let plan = load_scenario(&common::root().join("scenarios/smoke.yaml"), None).expect("smoke loads");
    let dir = common::scratch("serve_kube");
    let trace = dir.join("trace.jsonl");
    let opts = sparkrig_serve::Options {
        speed: 60.0,
        address: "127.0.0.1".parse().unwrap(),
        port: 0,
        kubeconfig: Some(dir.join("kubeconfig")),
        stack_only: true,
        trace: Some(trace.clone()),
        tls: false,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready) = tokio::sync::oneshot::channel();
    let served_plan = plan.clone();
    let server = tokio::spawn(async move {
        sparkrig_serve::serve(
            &served_plan,
            opts,
            async {
                let _ = stopped.await;
            },
            |r| {
                let _ = ready_tx.send(r.clone());
            },
        )
        .await
    });
    let ready = within("the server", 30, ready).await.expect("ready");
    let kubeconfig = Kubeconfig::read_from(&ready.kubeconfig).expect("kubeconfig");
    let config =
        Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions { context: Some(ready.context.clone()), ..Default::default() })
            .await
            .expect("config");
    let client = Client::try_from(config).expect("client");

    // Discovery finds the CRD's kind with its plural.
    let gvk = GroupVersionKind::gvk("sparkoperator.k8s.io", "v1beta2", "SparkApplication");
    let (ar, caps) = discovery::pinned_kind(&client, &gvk).await.expect("pinned_kind");
    assert_eq!(ar.plural, "sparkapplications");
    assert_eq!(caps.scope, discovery::Scope::Namespaced);

    // A watcher on the app's pods sees the driver go Running and then Succeeded.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut phases = watcher(pods.clone(), watcher::Config::default().labels("spark-role=driver")).applied_objects().boxed();
    let manifest: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(common::root().join("fixtures/apps/spark-pi.yaml")).unwrap()).unwrap();
    let obj: DynamicObject = serde_json::from_value(manifest).unwrap();
    let apps: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let created = apps.patch("spark-pi", &PatchParams::apply("sparkrig-test"), &Patch::Apply(&obj)).await.expect("server-side apply");
    assert!(created.metadata.uid.is_some());
    let mut seen = Vec::new();
    within("the driver to succeed", 60, async {
        while let Some(p) = phases.try_next().await.expect("watch") {
            let phase = p.status.and_then(|s| s.phase).unwrap_or_default();
            if seen.last() != Some(&phase) {
                seen.push(phase.clone());
            }
            if phase == "Succeeded" {
                break;
            }
        }
    })
    .await;
    assert!(seen.contains(&"Running".to_string()) && seen.last().map(String::as_str) == Some("Succeeded"), "{seen:?}");
    let app = apps.get("spark-pi").await.expect("app");
    let state = app.data["status"]["applicationState"]["state"].as_str().unwrap_or_default().to_string();
    within("the app to complete", 30, async {
        let mut state = state;
        while state != "COMPLETED" {
            tokio::time::sleep(Duration::from_millis(50)).await;
            state = apps.get("spark-pi").await.expect("app").data["status"]["applicationState"]["state"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
    })
    .await;

    // Logs of the driver.
    let log = pods.logs("spark-pi-driver", &LogParams::default()).await.expect("logs");
    assert!(log.contains("Running Spark version 3.5.6"), "{log}");

    // The scale subresource: CoreDNS to 0, and its pods go.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "kube-system");
    let scale = deployments.get_scale("coredns").await.expect("get_scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(2));
    deployments
        .patch_scale("coredns", &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"replicas": 0}})))
        .await
        .expect("patch_scale");
    let dns: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    within("CoreDNS pods to go", 30, async {
        while !dns.list(&Default::default()).await.expect("list").items.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;

    // An eviction of MinIO's pod; its Deployment replaces it.
    let minio: Api<Pod> = Api::namespaced(client.clone(), "minio");
    let victim = minio.list(&Default::default()).await.expect("list").items[0].metadata.name.clone().unwrap();
    minio.evict(&victim, &EvictParams::default()).await.expect("eviction");
    within("a new MinIO pod", 30, async {
        loop {
            let names: Vec<String> =
                minio.list(&Default::default()).await.expect("list").items.into_iter().filter_map(|p| p.metadata.name).collect();
            if !names.is_empty() && !names.contains(&victim) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;

    let _ = stop.send(());
    let served = within("the server to stop", 30, server).await.expect("join").expect("served");
    assert_eq!(served.info.reason, "interrupted");
    assert!(
        served.verdict.results.iter().any(|r| r.name.contains("apps all end COMPLETED") && r.passed),
        "the app the client created is judged"
    );

    // Every write is in the trace at its instant, and replaying them gives the same trace.
    let text = std::fs::read_to_string(&trace).unwrap();
    let records: Vec<Record> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let writes: Vec<(String, String)> = records
        .iter()
        .filter_map(|r| match &r.event {
            Event::ApiWrite { action, by } => {
                Some((serde_json::to_value(action).unwrap()["action"].as_str().unwrap().to_string(), by.clone()))
            }
            _ => None,
        })
        .collect();
    let names: Vec<&str> = writes.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        names,
        ["create_app", "scale_deployment", "evict_pod"],
        "an eviction is its own write: the Eviction API honours PodDisruptionBudgets"
    );
    assert_eq!(writes[0].1, "sparkrig-test", "the field manager names who wrote it");
    let replayed = sparkrig_serve::replay(&plan, true, &records).expect("replay");
    let replayed: Vec<String> = replayed.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    let served: Vec<&str> = text.lines().collect();
    assert_eq!(replayed.len(), served.len(), "as many records");
    for (a, b) in replayed.iter().zip(&served) {
        assert_eq!(a, b);
    }
}
