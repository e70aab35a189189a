//! What sparkrig installs in a real cluster, as data: the spark-operator chart's values, the
//! Spark History Server reading event logs from MinIO, the MinIO credentials Secret, the local
//! registry's `local-registry-hosting` ConfigMap and sparkrig's ownership marker.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sparkrig_model::kube::Toleration;
use sparkrig_model::scenario::{FailurePolicy, Placement, Scenario};

/// The operator chart's repository (reference/spark-operator.md §5).
pub const OPERATOR_CHART_REPO: &str = "https://kubeflow.github.io/spark-operator";
/// Chart name.
pub const OPERATOR_CHART: &str = "spark-operator";
/// Release and namespace, as in the operator's own e2e suite (§4.2): the Deployments are then
/// `spark-operator-controller` and `spark-operator-webhook`.
pub const OPERATOR_RELEASE: &str = "spark-operator";
/// Namespace of the operator and the History Server.
pub const OPERATOR_NAMESPACE: &str = "spark-operator";
/// The webhook configurations' name for a helm install (§4.2 readiness gate).
pub const WEBHOOK_CONFIGURATION: &str = "spark-operator-webhook";
/// The webhook Service (`<fullname>-webhook-svc`, §5).
pub const WEBHOOK_SERVICE: &str = "spark-operator-webhook-svc";

/// The operator version whose CRDs are vendored (fixtures/crds/v2.5.2).
pub const VENDORED_OPERATOR: &str = "2.5.2";
/// The chart's CRD files, as named upstream.
pub const OPERATOR_CRD_FILES: [&str; 2] =
    ["sparkoperator.k8s.io_sparkapplications.yaml", "sparkoperator.k8s.io_scheduledsparkapplications.yaml"];
/// Their text (Apache-2.0, kubeflow/spark-operator v2.5.2; fixtures/crds/SOURCE.md).
pub const OPERATOR_CRDS: [&str; 2] = [
    include_str!("../../../fixtures/crds/v2.5.2/sparkoperator.k8s.io_sparkapplications.yaml"),
    include_str!("../../../fixtures/crds/v2.5.2/sparkoperator.k8s.io_scheduledsparkapplications.yaml"),
];

/// The local registry of the kind recipe (reference/kind-…-chaos.md §1.3,
/// kind `site/static/examples/kind-with-registry.sh`: `reg_name='kind-registry'`).
pub const REGISTRY_CONTAINER: &str = "kind-registry";
/// Registry image, as the recipe runs it (§1.3 step 1: `registry:3`); `--registry-image`
/// overrides it.
pub const REGISTRY_IMAGE: &str = "registry:3";
/// Host port pods and `docker push` use (`localhost:5001/...`; the recipe's `reg_port='5001'`).
pub const REGISTRY_PORT: u16 = 5001;

/// MinIO image pinned as testcontainers-modules 0.15 pins it (reference §2.3); `--minio-image`
/// overrides it with any S3 server image that follows MinIO's conventions (`server /data`,
/// `MINIO_ROOT_USER`/`MINIO_ROOT_PASSWORD`, S3 on port 9000).
pub const MINIO_IMAGE: &str = "minio/minio:RELEASE.2025-02-28T09-55-16Z";
/// Buckets: application data and Spark event logs.
pub const MINIO_BUCKETS: [&str; 2] = ["data", "spark-events"];
/// Secret holding MinIO's generated credentials, in every job namespace and the operator's.
pub const MINIO_SECRET: &str = "sparkrig-minio";

/// The History Server's Spark image when the scenario does not pin a Spark version.
pub const DEFAULT_SPARK_VERSION: &str = "3.5.6";
/// S3A jars for the History Server: Spark 3.5 ships Hadoop 3.3.4, whose hadoop-aws was built
/// against aws-java-sdk-bundle 1.12.262 (hadoop-project pom). Not verified against a running
/// History Server here.
pub const S3A_JARS: [&str; 2] = [
    "https://repo1.maven.org/maven2/org/apache/hadoop/hadoop-aws/3.3.4/hadoop-aws-3.3.4.jar",
    "https://repo1.maven.org/maven2/com/amazonaws/aws-java-sdk-bundle/1.12.262/aws-java-sdk-bundle-1.12.262.jar",
];

/// Namespaces the scenario's apps live in (the operator's job namespaces).
pub fn job_namespaces(s: &Scenario) -> Vec<String> {
    let mut ns: BTreeSet<String> = s.templates.iter().map(|t| t.app.namespace().to_string()).collect();
    ns.extend(s.stack.operator.job_namespaces.iter().filter(|n| !n.is_empty()).cloned());
    if ns.is_empty() {
        ns.insert("default".into());
    }
    ns.into_iter().collect()
}

fn tolerations(ts: &[Toleration]) -> Value {
    serde_json::to_value(ts).expect("tolerations serialise")
}

fn placement(p: &Placement) -> (Value, Value) {
    (serde_json::to_value(&p.node_selector).expect("labels serialise"), tolerations(&p.tolerations))
}

/// Values for the spark-operator chart: job namespaces, controller and webhook placement,
/// replicas and workers, the webhook's failure policy. Keys are the chart's own (§5).
pub fn operator_values(s: &Scenario) -> Value {
    let op = &s.stack.operator;
    let (selector, tolerations) = placement(&op.placement);
    let policy = match op.failure_policy {
        FailurePolicy::Fail => "Fail",
        FailurePolicy::Ignore => "Ignore",
    };
    json!({
        "image": {"pullPolicy": "IfNotPresent"},
        "spark": {"jobNamespaces": job_namespaces(s)},
        "controller": {
            "replicas": op.replicas,
            "workers": op.workers,
            "nodeSelector": selector,
            "tolerations": tolerations,
        },
        "webhook": {
            "enable": op.webhook_enabled,
            "replicas": op.webhook_replicas,
            "failurePolicy": policy,
            "nodeSelector": selector,
            "tolerations": tolerations,
        },
    })
}

/// The MinIO S3 endpoint pods use (the container name on the kind network).
pub fn minio_endpoint(container: &str) -> String {
    format!("http://{container}:9000")
}

/// The credentials Secret, once per namespace.
pub fn minio_secret(namespaces: &[String], endpoint: &str, user: &str, password: &str) -> String {
    namespaces
        .iter()
        .map(|ns| {
            let s = json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": MINIO_SECRET, "namespace": ns, "labels": {crate::OWNER_LABEL: "minio"}},
                "type": "Opaque",
                "stringData": {"AWS_ACCESS_KEY_ID": user, "AWS_SECRET_ACCESS_KEY": password, "AWS_ENDPOINT_URL": endpoint},
            });
            serde_yaml::to_string(&s).expect("secrets serialise")
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

/// The Spark History Server reading event logs from MinIO: an init container fetches the S3A
/// jars, the server runs in the foreground (`SPARK_NO_DAEMONIZE`) with `s3a://spark-events/`
/// as its log directory and MinIO's endpoint and credentials.
pub fn history_server(s: &Scenario, endpoint: &str) -> String {
    let version = s.stack.spark_version.clone().unwrap_or_else(|| DEFAULT_SPARK_VERSION.into());
    let (selector, tolerations) = placement(&s.stack.history_server.placement);
    let labels = json!({"app.kubernetes.io/name": "spark-history-server", crate::OWNER_LABEL: "history-server"});
    let fetch = S3A_JARS
        .iter()
        .map(|u| format!("curl -fsSL -o /extra/{} {u}", u.rsplit('/').next().unwrap_or("jar")))
        .collect::<Vec<_>>()
        .join(" && ");
    let opts = [
        "-Dspark.history.fs.logDirectory=s3a://spark-events/".to_string(),
        format!("-Dspark.hadoop.fs.s3a.endpoint={endpoint}"),
        "-Dspark.hadoop.fs.s3a.path.style.access=true".into(),
        "-Dspark.hadoop.fs.s3a.connection.ssl.enabled=false".into(),
        "-Dspark.hadoop.fs.s3a.endpoint.region=us-east-1".into(),
    ]
    .join(" ");
    let secret_env = |name: &str| json!({"name": name, "valueFrom": {"secretKeyRef": {"name": MINIO_SECRET, "key": name}}});
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "spark-history-server", "namespace": OPERATOR_NAMESPACE, "labels": labels},
        "spec": {
            "replicas": s.stack.history_server.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "spark-history-server"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": selector,
                    "tolerations": tolerations,
                    "initContainers": [{
                        "name": "s3a-jars",
                        "image": "curlimages/curl:8.11.1",
                        "command": ["sh", "-c", fetch],
                        "volumeMounts": [{"name": "extra", "mountPath": "/extra"}],
                    }],
                    "containers": [{
                        "name": "history-server",
                        "image": format!("apache/spark:{version}"),
                        "command": ["/opt/spark/sbin/start-history-server.sh"],
                        "env": [
                            {"name": "SPARK_NO_DAEMONIZE", "value": "true"},
                            {"name": "SPARK_DAEMON_CLASSPATH", "value": "/extra/*"},
                            {"name": "SPARK_HISTORY_OPTS", "value": opts},
                            secret_env("AWS_ACCESS_KEY_ID"),
                            secret_env("AWS_SECRET_ACCESS_KEY"),
                        ],
                        "ports": [{"name": "http", "containerPort": 18080}],
                        "readinessProbe": {"httpGet": {"path": "/", "port": 18080}, "periodSeconds": 5},
                        "volumeMounts": [{"name": "extra", "mountPath": "/extra"}],
                    }],
                    "volumes": [{"name": "extra", "emptyDir": {}}],
                },
            },
        },
    });
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "spark-history-server", "namespace": OPERATOR_NAMESPACE, "labels": labels},
        "spec": {"selector": {"app.kubernetes.io/name": "spark-history-server"}, "ports": [{"name": "http", "port": 18080, "targetPort": 18080}]},
    });
    [deployment, service].iter().map(|d| serde_yaml::to_string(d).expect("manifests serialise")).collect::<Vec<_>>().join("---\n")
}

/// KEP-1755's `local-registry-hosting` ConfigMap (reference §1.3 step 5).
pub fn registry_hosting() -> String {
    let cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "local-registry-hosting", "namespace": "kube-public"},
        "data": {"localRegistryHosting.v1": format!("host: \"localhost:{REGISTRY_PORT}\"\nhelp: \"https://kind.sigs.k8s.io/docs/user/local-registry/\"\n")},
    });
    serde_yaml::to_string(&cm).expect("configmaps serialise")
}

/// The marker that says sparkrig created this cluster, with its config hash (reuse compares it,
/// `down` refuses clusters without it).
pub fn owner_marker(cluster: &str, hash: &str) -> String {
    let cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": crate::MARKER, "namespace": "kube-public", "labels": {crate::OWNER_LABEL: "cluster"}},
        "data": {"cluster": cluster, "configHash": hash, "createdBy": format!("sparkrig {}", env!("CARGO_PKG_VERSION"))},
    });
    serde_yaml::to_string(&cm).expect("configmaps serialise")
}

/// Images the scenario's apps pull from the local registry, with where to get them: an image
/// `localhost:5001/apache/spark:3.5.6` is `apache/spark:3.5.6` pushed there.
pub fn registry_images(s: &Scenario) -> Vec<(String, String)> {
    let prefix = format!("localhost:{REGISTRY_PORT}/");
    let mut out = BTreeSet::new();
    for t in &s.templates {
        let spec = &t.app.spec;
        for image in [spec.image.as_ref(), spec.driver.image.as_ref(), spec.executor.image.as_ref()].into_iter().flatten() {
            if let Some(upstream) = image.strip_prefix(&prefix) {
                out.insert((upstream.to_string(), image.clone()));
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sparkrig_run::files::load_scenario;

    fn smoke() -> Scenario {
        load_scenario(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/smoke.yaml")), None).unwrap()
    }

    /// Every key path of `v` exists in the chart's own values.yaml (v2.5.2, vendored).
    fn assert_chart_keys(v: &Value, chart: &serde_yaml::Value, path: &str) {
        let Value::Object(m) = v else { return };
        for (k, sub) in m {
            let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            let c = chart.get(k.as_str()).unwrap_or_else(|| panic!("`{p}` is not a key of the spark-operator chart's values.yaml"));
            // Maps the chart leaves empty ({}) take any keys (nodeSelector).
            if c.as_mapping().is_some_and(|m| !m.is_empty()) {
                assert_chart_keys(sub, c, &p);
            }
        }
    }

    #[test]
    fn operator_values_use_the_charts_keys_and_the_scenarios_placement() {
        let s = smoke();
        let v = operator_values(&s);
        let chart: serde_yaml::Value = serde_yaml::from_str(include_str!("../../../fixtures/upstream/v2.5.2/chart-values.yaml")).unwrap();
        assert_chart_keys(&v, &chart, "");
        assert_eq!(v["controller"]["nodeSelector"], json!({"nodegroup": "infra"}));
        assert_eq!(v["webhook"]["failurePolicy"], "Fail");
        assert_eq!(v["spark"]["jobNamespaces"], json!(["default"]));
    }

    #[test]
    fn history_server_and_secrets_point_at_minio() {
        let s = smoke();
        let shs = history_server(&s, &minio_endpoint("sparkrig-x-minio"));
        assert!(shs.contains("-Dspark.hadoop.fs.s3a.endpoint=http://sparkrig-x-minio:9000"), "{shs}");
        assert!(shs.contains("s3a://spark-events/") && shs.contains("SPARK_NO_DAEMONIZE"), "{shs}");
        assert!(shs.contains("nodegroup: infra"), "placed per stack.historyServer: {shs}");
        let sec = minio_secret(&["default".into(), "spark-operator".into()], "http://m:9000", "u", "p");
        assert_eq!(sec.matches("kind: Secret").count(), 2);
        assert_eq!(registry_images(&s), vec![("apache/spark:3.5.6".into(), "localhost:5001/apache/spark:3.5.6".into())]);
    }
}
