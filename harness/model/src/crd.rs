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
//! The schema is read from `fixtures/crds/derived/sparkapplication-v1beta2.schema.json`: the
//! CRD's v1beta2 `openAPIV3Schema` with `description`s removed (a fifth of the size, so loading it
//! costs little memory). A test re-derives it from the vendored CRD and fails when they differ;
//! `SPARKRIG_BLESS=1 cargo test -p sparkrig-model crd` rewrites it.
//!
//! Entry point: [`validate_spark_application`].

use std::sync::{Arc, Mutex, PoisonError, Weak};

use serde_json::Value;

use crate::source::suggest;

/// The v1beta2 schema derived from the vendored CRD (Apache-2.0, kubeflow/spark-operator v2.5.2)
/// by [`derive_schema`].
const SCHEMA_JSON: &str = include_str!("../../../fixtures/crds/derived/sparkapplication-v1beta2.schema.json");

/// The v1beta2 `openAPIV3Schema` of a SparkApplication CRD, without `description`s (they do not
/// take part in validation).
pub fn derive_schema(crd_yaml: &str) -> Result<Value, String> {
    let crd: Value = serde_yaml::from_str(crd_yaml).map_err(|e| format!("CRD is not valid YAML: {e}"))?;
    let mut schema = crd["spec"]["versions"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["name"] == "v1beta2"))
        .map(|v| v["schema"]["openAPIV3Schema"].clone())
        .ok_or("CRD does not serve v1beta2")?;
    strip_descriptions(&mut schema);
    Ok(schema)
}

fn strip_descriptions(v: &mut Value) {
    match v {
        Value::Object(map) => {
            // Only schema keywords: a property *named* `description` is under `properties`.
            if map.get("description").is_some_and(Value::is_string) {
                map.remove("description");
            }
            map.values_mut().for_each(strip_descriptions);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_descriptions),
        _ => {}
    }
}

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

/// Keeps the compiled schema in memory while held, so a loader validating many manifests
/// compiles it once. When the last holder is gone the schema is freed: a long simulation does
/// not carry it.
pub struct SchemaHold {
    _schema: Arc<Schema>,
}

/// Compiles the schema (or shares the one already held) and keeps it until the hold drops.
pub fn hold_schema() -> SchemaHold {
    SchemaHold { _schema: schema() }
}

fn schema() -> Arc<Schema> {
    static CACHE: Mutex<Weak<Schema>> = Mutex::new(Weak::new());
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(s) = cache.upgrade() {
        return s;
    }
    let root: Value = serde_json::from_str(SCHEMA_JSON).expect("derived CRD schema is valid JSON");
    let validator = jsonschema::options().with_draft(jsonschema::Draft::Draft4).build(&root).expect("vendored CRD schema compiles");
    let s = Arc::new(Schema { root, validator });
    *cache = Arc::downgrade(&s);
    s
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
    fn derived_schema_matches_the_vendored_crd() {
        let crd = include_str!("../../../fixtures/crds/v2.5.2/sparkoperator.k8s.io_sparkapplications.yaml");
        let derived = derive_schema(crd).unwrap();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/crds/derived/sparkapplication-v1beta2.schema.json");
        if std::env::var_os("SPARKRIG_BLESS").is_some() {
            std::fs::write(path, serde_json::to_string(&derived).unwrap() + "\n").unwrap();
        }
        let checked_in: Value = serde_json::from_str(SCHEMA_JSON).unwrap();
        assert!(checked_in == derived, "fixtures/crds/derived/sparkapplication-v1beta2.schema.json is stale; rerun with SPARKRIG_BLESS=1");
        // Stripping only removed documentation: a property called `description` would survive.
        assert!(derived["properties"]["spec"]["properties"]["executor"]["properties"].get("tolerations").is_some());
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
