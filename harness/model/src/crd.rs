//! Validation of SparkApplication manifests against the real CRD schema of spark-operator
//! v2.5.2 (`fixtures/crds/v2.5.2`, vendored from kubeflow/spark-operator).
//!
//! Two checks, both as the API server would apply them:
//! - the OpenAPI v3 schema (types, enums, required fields, minimums) through the `jsonschema`
//!   crate;
//! - unknown fields: CRD schemas are structural, so the API server drops unknown fields (and
//!   `kubectl apply --validate=strict` rejects them). sparkrig rejects them with a suggestion,
//!   since a misspelt `tolerations` silently changes where pods land.
//!
//! Entry point: [`validate_spark_application`].

use std::sync::OnceLock;

use serde_json::Value;

use crate::source::suggest;

/// The vendored CRD (Apache-2.0, kubeflow/spark-operator v2.5.2).
pub const SPARK_APPLICATION_CRD: &str = include_str!("../../../fixtures/crds/v2.5.2/sparkoperator.k8s.io_sparkapplications.yaml");

/// One way a manifest breaks the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Dotted field path (`spec.executor.instances`).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// A suggestion.
    pub help: Option<String>,
    /// Whether the problem is an unknown field (point at the key, not the value).
    pub unknown_field: bool,
}

struct Schema {
    root: Value,
    validator: jsonschema::Validator,
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let crd: Value = serde_yaml::from_str(SPARK_APPLICATION_CRD).expect("vendored CRD is valid YAML");
        let root = crd["spec"]["versions"]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["name"] == "v1beta2"))
            .map(|v| v["schema"]["openAPIV3Schema"].clone())
            .expect("vendored CRD serves v1beta2");
        let validator = jsonschema::options().with_draft(jsonschema::Draft::Draft4).build(&root).expect("vendored CRD schema compiles");
        Schema { root, validator }
    })
}

/// Every schema violation of a SparkApplication manifest (empty when valid).
pub fn validate_spark_application(manifest: &Value) -> Vec<Violation> {
    let s = schema();
    let mut out: Vec<Violation> = s
        .validator
        .iter_errors(manifest)
        .map(|e| Violation {
            path: pointer_to_path(&e.instance_path().to_string()),
            message: e.to_string(),
            help: None,
            unknown_field: false,
        })
        .collect();
    unknown_fields(&s.root, manifest, String::new(), &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup();
    out
}

/// `/spec/executor/tolerations/0/key` → `spec.executor.tolerations[0].key`.
fn pointer_to_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

fn unknown_fields(schema: &Value, value: &Value, path: String, out: &mut Vec<Violation>) {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    match value {
        Value::Object(map) => {
            // `metadata` is typed `object` only: the API server validates ObjectMeta itself.
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, v) in map {
                    let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    match props.get(k) {
                        Some(sub) => unknown_fields(sub, v, child, out),
                        None => out.push(Violation {
                            message: format!("unknown field `{k}`"),
                            help: suggest(k, props.keys().map(String::as_str))
                                .map(|c| format!("did you mean `{c}`?"))
                                .or_else(|| Some(format!("known fields here: {}", props.keys().cloned().collect::<Vec<_>>().join(", ")))),
                            path: child,
                            unknown_field: true,
                        }),
                    }
                }
            } else if let Some(sub) = schema.get("additionalProperties").filter(|s| s.is_object()) {
                for (k, v) in map {
                    unknown_fields(sub, v, format!("{path}.{k}"), out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    unknown_fields(sub, v, format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pi() -> Value {
        json!({
            "apiVersion": "sparkoperator.k8s.io/v1beta2",
            "kind": "SparkApplication",
            "metadata": {"name": "pi", "namespace": "default"},
            "spec": {
                "type": "Scala", "mode": "cluster", "sparkVersion": "3.5.6",
                "mainApplicationFile": "local:///opt/spark/examples/jars/spark-examples.jar",
                "driver": {"cores": 1, "memory": "512m"},
                "executor": {"instances": 2, "cores": 1, "memory": "512m",
                    "tolerations": [{"key": "purpose", "operator": "Equal", "value": "spark-executor", "effect": "NoSchedule"}]}
            }
        })
    }

    #[test]
    fn a_valid_app_passes() {
        assert_eq!(validate_spark_application(&pi()), vec![]);
    }

    #[test]
    fn type_enum_and_minimum_are_enforced() {
        let mut app = pi();
        app["spec"]["type"] = json!("Go");
        app["spec"]["executor"]["instances"] = json!(0);
        let v = validate_spark_application(&app);
        let paths: Vec<_> = v.iter().map(|v| v.path.as_str()).collect();
        assert!(paths.contains(&"spec.type"), "{v:?}");
        assert!(paths.contains(&"spec.executor.instances"), "{v:?}");
    }

    #[test]
    fn required_fields_are_enforced() {
        let mut app = pi();
        app["spec"].as_object_mut().unwrap().remove("sparkVersion");
        let v = validate_spark_application(&app);
        assert!(v.iter().any(|v| v.message.contains("sparkVersion")), "{v:?}");
    }

    #[test]
    fn unknown_fields_are_reported_with_a_suggestion() {
        let mut app = pi();
        app["spec"]["executor"]["tolerationz"] = json!([]);
        let v = validate_spark_application(&app);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].path, "spec.executor.tolerationz");
        assert_eq!(v[0].help.as_deref(), Some("did you mean `tolerations`?"));
        // sparkConf is a free-form map: any key is fine.
        let mut ok = pi();
        ok["spec"]["sparkConf"] = json!({"spark.anything": "x"});
        assert_eq!(validate_spark_application(&ok), vec![]);
    }
}
