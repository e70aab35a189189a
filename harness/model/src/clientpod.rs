//! Pods that API clients build themselves, read as the scheduler, the kubelet and the Spark
//! driver model need them. The case that matters: `spark-submit --deploy-mode cluster`, which
//! creates the driver pod with Spark's labels and no SparkApplication, then its ConfigMap with
//! `spark.properties` (reference/kube-api.md §7.2). A driver pod is recognised by its labels,
//! whoever created it; its app is synthesised from the pod and the properties, so that the
//! simulator runs it as the driver Spark would be.
//!
//! Entry points: [`pod_spec`], [`spark_driver`], [`submission`], [`parse_properties`].

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::kube::{Affinity, Labels, Toleration, default_toleration_seconds};
use crate::podspec::{PodSpec, Submission};
use crate::quantity::{parse_bytes, parse_cpu_millis};
use crate::sparkapp::SparkApplication;

/// The label Spark puts on its pods (`spark-role=driver|executor`).
pub const SPARK_ROLE: &str = "spark-role";

fn labels(manifest: &Value) -> Labels {
    manifest["metadata"]["labels"]
        .as_object()
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

/// The pod as the scheduler sees it: the first container's requests (its limits where a
/// request is missing, as the API server defaults them), selector, affinity, tolerations
/// (with the two the DefaultTolerationSeconds admission plugin adds).
pub fn pod_spec(manifest: &Value) -> Result<PodSpec, String> {
    let meta = &manifest["metadata"];
    let spec = &manifest["spec"];
    let container = spec["containers"].get(0).ok_or("spec.containers: Required value")?;
    let quantity = |k: &str| {
        container["resources"]["requests"][k].as_str().or_else(|| container["resources"]["limits"][k].as_str()).map(str::to_string)
    };
    let cpu_millis = match quantity("cpu") {
        Some(q) => parse_cpu_millis(&q).map_err(|e| format!("spec.containers[0].resources.requests.cpu: {e}"))?,
        None => 0,
    };
    let memory_bytes = match quantity("memory") {
        Some(q) => parse_bytes(&q).map_err(|e| format!("spec.containers[0].resources.requests.memory: {e}"))?,
        None => 0,
    };
    let cpu_limit_millis = match container["resources"]["limits"]["cpu"].as_str() {
        Some(q) => Some(parse_cpu_millis(q).map_err(|e| format!("spec.containers[0].resources.limits.cpu: {e}"))?),
        None => None,
    };
    let node_selector: Labels = serde_json::from_value(spec["nodeSelector"].clone()).unwrap_or_default();
    let affinity: Option<Affinity> = match &spec["affinity"] {
        Value::Null => None,
        a => Some(serde_json::from_value(a.clone()).map_err(|e| format!("spec.affinity: {e}"))?),
    };
    let mut tolerations: Vec<Toleration> = match &spec["tolerations"] {
        Value::Null => Vec::new(),
        t => serde_json::from_value(t.clone()).map_err(|e| format!("spec.tolerations: {e}"))?,
    };
    for d in default_toleration_seconds() {
        if !tolerations.iter().any(|t| t.key == d.key && t.effect == d.effect) {
            tolerations.push(d);
        }
    }
    let text = |v: &Value, default: &str| v.as_str().unwrap_or(default).to_string();
    Ok(PodSpec {
        name: text(&meta["name"], ""),
        namespace: text(&meta["namespace"], "default"),
        labels: labels(manifest),
        container: text(&container["name"], ""),
        image: text(&container["image"], ""),
        cpu_millis,
        memory_bytes,
        cpu_limit_millis,
        node_selector,
        affinity,
        tolerations,
        scheduler_name: text(&spec["schedulerName"], "default-scheduler"),
        priority_class: spec["priorityClassName"].as_str().map(str::to_string),
        service_account: text(&spec["serviceAccountName"], "default"),
    })
}

/// The app a Spark driver pod stands for (None when the pod is not labelled `spark-role=driver`):
/// named after `spark-app-name`, with the image, main file, arguments and Spark version of the
/// pod and the submission's `properties` as its `sparkConf`.
pub fn spark_driver(manifest: &Value, properties: &BTreeMap<String, String>) -> Option<SparkApplication> {
    let labels = labels(manifest);
    if labels.get(SPARK_ROLE).map(String::as_str) != Some("driver") {
        return None;
    }
    let pod = manifest["metadata"]["name"].as_str().unwrap_or_default();
    let name = labels.get("spark-app-name").cloned().unwrap_or_else(|| pod.trim_end_matches("-driver").to_string());
    let container = &manifest["spec"]["containers"][0];
    // Spark's driver entrypoint: `driver --properties-file F --class C <main file> <args…>`
    // (BasicDriverFeatureStep / KubernetesDriverBuilder, reference/spark-on-kubernetes.md §1).
    let args: Vec<String> =
        container["args"].as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect()).unwrap_or_default();
    let mut rest = args.iter().skip_while(|a| a.as_str() != "--class").skip(2).cloned();
    let main_file = rest.next();
    let main_class = args.iter().skip_while(|a| a.as_str() != "--class").nth(1).cloned();
    let python = main_file.as_deref().is_some_and(|f| f.ends_with(".py"));
    let app = json!({
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": {
            "name": name,
            "namespace": manifest["metadata"]["namespace"].as_str().unwrap_or("default"),
            // `sparkrig.io/work` on the pod says how much work the driver simulates.
            "annotations": manifest["metadata"]["annotations"].as_object().cloned().unwrap_or_default(),
        },
        "spec": {
            "type": if python { "Python" } else { "Scala" },
            "mode": "cluster",
            "sparkVersion": labels.get("spark-version").cloned().unwrap_or_default(),
            "image": container["image"].as_str().unwrap_or_default(),
            "mainClass": if python { Value::Null } else { main_class.map_or(Value::Null, Value::from) },
            "mainApplicationFile": main_file,
            "arguments": rest.collect::<Vec<_>>(),
            "sparkConf": properties,
            "driver": {},
            "executor": {},
        }
    });
    serde_json::from_value(app).ok()
}

/// The identifiers spark-submit generated for the pod: the app id of `spark-app-selector`, the
/// resource prefix of the pod's name (`<prefix>-driver`) and the executors' name prefix
/// (`spark.kubernetes.executor.podNamePrefix`, which spark-submit sets to the same prefix).
pub fn submission(manifest: &Value, properties: &BTreeMap<String, String>) -> Submission {
    let labels = labels(manifest);
    let pod = manifest["metadata"]["name"].as_str().unwrap_or_default();
    let resource_prefix = pod.strip_suffix("-driver").unwrap_or(pod).to_string();
    Submission {
        submission_id: String::new(),
        spark_app_id: labels.get("spark-app-selector").cloned().unwrap_or_default(),
        executor_prefix: properties.get("spark.kubernetes.executor.podNamePrefix").cloned().unwrap_or_else(|| resource_prefix.clone()),
        resource_prefix,
        webhook_mutated: false,
    }
}

/// A Java properties file as `java.util.Properties.store` writes it (Spark's
/// `spark.properties`): `key=value` lines, `#`/`!` comments, `\`-escapes (`k8s\://…`).
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    fn unescape(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
                }
                Some(other) => out.push(other),
                None => {}
            }
        }
        out
    }
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim_start) {
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        // The key ends at the first unescaped `=`, `:` or whitespace.
        let mut end = line.len();
        let mut escaped = false;
        for (i, c) in line.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '=' | ':' | ' ' | '\t' => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let value = line[end..].trim_start_matches([' ', '\t']);
        let value = value.strip_prefix(['=', ':']).unwrap_or(value).trim_start_matches([' ', '\t']);
        out.insert(unescape(&line[..end]), unescape(value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_properties_are_read_as_java_writes_them() {
        let text = "#Spark configuration\n#Tue Dec 01 10:00:00 UTC 2026\nspark.master=k8s\\://http\\://127.0.0.1\\:6443\nspark.executor.instances=3\nspark.app.name = pi\n";
        let p = parse_properties(text);
        assert_eq!(p["spark.master"], "k8s://http://127.0.0.1:6443");
        assert_eq!(p["spark.executor.instances"], "3");
        assert_eq!(p["spark.app.name"], "pi");
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn a_pod_labelled_as_a_driver_stands_for_its_app() {
        let pod = json!({
            "metadata": {"name": "pi-1a2b3c-driver", "namespace": "default",
                         "labels": {"spark-role": "driver", "spark-app-name": "pi", "spark-app-selector": "spark-0123", "spark-version": "4.3.0"}},
            "spec": {"containers": [{"name": "spark-kubernetes-driver", "image": "spark:4.3.0",
                "args": ["driver", "--properties-file", "/opt/spark/conf/spark.properties", "--class", "org.apache.spark.deploy.PythonRunner", "local:///opt/spark/examples/src/main/python/pi.py", "10"],
                "resources": {"requests": {"cpu": "1", "memory": "1408Mi"}, "limits": {"memory": "1408Mi"}}}]}
        });
        let props = BTreeMap::from([("spark.executor.instances".to_string(), "3".to_string())]);
        let app = spark_driver(&pod, &props).unwrap();
        assert_eq!(app.metadata.name, "pi");
        assert_eq!(app.spec.main_application_file.as_deref(), Some("local:///opt/spark/examples/src/main/python/pi.py"));
        assert_eq!(app.spec.arguments, ["10"]);
        assert_eq!(app.spec.spark_conf["spark.executor.instances"], "3");
        let sub = submission(&pod, &props);
        assert_eq!(
            (sub.spark_app_id.as_str(), sub.resource_prefix.as_str(), sub.executor_prefix.as_str()),
            ("spark-0123", "pi-1a2b3c", "pi-1a2b3c")
        );
        let spec = pod_spec(&pod).unwrap();
        assert_eq!((spec.cpu_millis, spec.memory_bytes), (1000, 1408 * 1024 * 1024));
        assert_eq!(spec.tolerations.len(), 2, "the DefaultTolerationSeconds pair");
        assert!(spark_driver(&json!({"metadata": {"labels": {"spark-role": "executor"}}}), &props).is_none());
    }

    #[test]
    fn a_bad_request_names_its_field() {
        let pod = json!({"metadata": {"name": "x"}, "spec": {"containers": [{"resources": {"requests": {"cpu": "lots"}}}]}});
        assert!(pod_spec(&pod).unwrap_err().starts_with("spec.containers[0].resources.requests.cpu: "));
        assert_eq!(pod_spec(&json!({"spec": {}})).unwrap_err(), "spec.containers: Required value");
    }
}
