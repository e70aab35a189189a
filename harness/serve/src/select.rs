//! Label and field selectors, as the API server parses them (reference/kube-api.md §2.5):
//! labels `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma = AND
//! (Spark: `spark-exec-inactive!=true`, `spark-exec-id in (1,2)`); fields `path=v`, `path!=v`
//! on the fields each resource indexes, anything else a 400.

use serde_json::Value;

/// One label requirement.
#[derive(Debug, Clone, PartialEq)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    Missing(String),
}

/// A parsed label selector (empty: everything).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels(Vec<Req>);

/// Splits on commas outside parentheses.
fn terms(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().map(str::trim).filter(|t| !t.is_empty()).collect()
}

fn set(s: &str) -> Result<Vec<String>, String> {
    let inner =
        s.trim().strip_prefix('(').and_then(|x| x.strip_suffix(')')).ok_or_else(|| format!("expected a (value, ...) set, found `{s}`"))?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect())
}

impl Labels {
    /// Parses a `labelSelector`.
    pub fn parse(s: &str) -> Result<Labels, String> {
        let mut reqs = Vec::new();
        for t in terms(s) {
            let req = if let Some(k) = t.strip_prefix('!') {
                Req::Missing(k.trim().into())
            } else if let Some((k, v)) = t.split_once("!=") {
                Req::Ne(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = t.split_once(" notin ") {
                Req::NotIn(k.trim().into(), set(v)?)
            } else if let Some((k, v)) = t.split_once(" in ") {
                Req::In(k.trim().into(), set(v)?)
            } else if t.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
                Req::Exists(t.into())
            } else {
                return Err(format!("unable to parse requirement: `{t}`"));
            };
            reqs.push(req);
        }
        Ok(Labels(reqs))
    }

    /// Whether an object's labels match.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::Ne(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Req::Exists(k) => get(k).is_some(),
            Req::Missing(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(Vec<(String, bool, String)>);

/// Fields a resource can be selected by, besides `metadata.name` and `metadata.namespace`.
fn indexed(plural: &str) -> &'static [&'static str] {
    match plural {
        "pods" => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        "nodes" => &["spec.unschedulable"],
        "events" => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        _ => &[],
    }
}

impl Fields {
    /// Parses a `fieldSelector` for a resource.
    pub fn parse(s: &str, plural: &str) -> Result<Fields, String> {
        let mut out = Vec::new();
        for t in terms(s) {
            let (path, eq, v) = if let Some((k, v)) = t.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                (k, true, v)
            } else {
                return Err(format!("invalid selector: '{t}'; can't understand '{t}'"));
            };
            let path = path.trim();
            if !["metadata.name", "metadata.namespace"].contains(&path) && !indexed(plural).contains(&path) {
                return Err(format!("field label not supported: {path}"));
            }
            out.push((path.to_string(), eq, v.trim().to_string()));
        }
        Ok(Fields(out))
    }

    /// Whether an object's fields match.
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(path, eq, want)| {
            let v = path.split('.').fold(obj, |v, k| &v[k]);
            let have = match (path.as_str(), v) {
                ("source", s) => s["component"].as_str().unwrap_or_default().to_string(),
                (_, Value::String(s)) => s.clone(),
                (_, Value::Bool(b)) => b.to_string(),
                ("spec.unschedulable" | "spec.hostNetwork", Value::Null) => "false".into(),
                (_, Value::Null) => String::new(),
                (_, other) => other.to_string(),
            };
            (have == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(labels: Value, phase: &str, node: &str) -> Value {
        json!({"metadata": {"name": "p", "namespace": "default", "labels": labels}, "spec": {"nodeName": node}, "status": {"phase": phase}})
    }

    #[test]
    fn the_selectors_spark_and_kubectl_send_select_what_the_api_server_would() {
        let exec = pod(json!({"spark-role": "executor", "spark-app-selector": "spark-1", "spark-exec-id": "2"}), "Running", "n1");
        let inactive =
            pod(json!({"spark-role": "executor", "spark-app-selector": "spark-1", "spark-exec-inactive": "true"}), "Running", "n1");
        let spark = Labels::parse("spark-app-selector=spark-1,spark-role=executor,spark-exec-inactive!=true").unwrap();
        assert!(spark.matches(&exec));
        assert!(!spark.matches(&inactive));
        assert!(Labels::parse("spark-exec-id in (1,2)").unwrap().matches(&exec));
        assert!(!Labels::parse("spark-exec-id notin (2)").unwrap().matches(&exec));
        assert!(Labels::parse("spark-role").unwrap().matches(&exec));
        assert!(!Labels::parse("!spark-role").unwrap().matches(&exec));
        let f = Fields::parse("spec.nodeName=n1,status.phase!=Succeeded,status.phase!=Failed", "pods").unwrap();
        assert!(f.matches(&exec));
        assert!(!Fields::parse("status.phase=Pending", "pods").unwrap().matches(&exec));
        assert_eq!(Fields::parse("spec.containers=x", "pods").unwrap_err(), "field label not supported: spec.containers");
        assert!(Fields::parse("spec.unschedulable=false", "nodes").unwrap().matches(&json!({"spec": {}})));
    }
}
