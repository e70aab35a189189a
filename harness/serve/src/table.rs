//! The Table form `kubectl get` asks for (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`,
//! reference/kube-api.md §2.6): the columns kube-apiserver's printers produce for each kind
//! (`pkg/printers/internalversion/printers.go`), the CRD's `additionalPrinterColumns` for
//! SparkApplications, `Name`/`Age` otherwise. Priority-1 columns show with `-o wide`.

use serde_json::{Value, json};

use crate::resources::Resource;

/// What the rows carry besides their cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    /// `PartialObjectMetadata` (the default).
    Metadata,
    /// The whole object.
    Object,
    /// Nothing.
    None,
}

/// kube-apiserver's `duration.HumanDuration`: `45s`, `2m30s`, `5m`, `3h10m`, `2d5h`, `40d`.
pub fn human_duration(ms: i64) -> String {
    let s = ms / 1000;
    if s < -1 {
        return "<invalid>".into();
    }
    if s < 0 {
        return "0s".into();
    }
    let (m, h) = (s / 60, s / 3600);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 { format!("{m}m") } else { format!("{m}m{}s", s % 60) }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 { format!("{h}h") } else { format!("{h}h{}m", m % 60) }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 { format!("{}d", h / 24) } else { format!("{}d{}h", h / 24, h % 24) }
    } else if h < 24 * 365 * 2 {
        format!("{}d", h / 24)
    } else if h < 24 * 365 * 8 {
        format!("{}y{}d", h / 24 / 365, (h / 24) % 365)
    } else {
        format!("{}y", h / 24 / 365)
    }
}

fn age(obj: &Value, now_unix_ms: i64, path: &str) -> String {
    let t = path.split('.').fold(obj, |v, k| &v[k]);
    match t.as_str().and_then(|s| s.parse::<k8s_openapi::jiff::Timestamp>().ok()) {
        Some(ts) => human_duration(now_unix_ms - ts.as_millisecond()),
        None => "<unknown>".into(),
    }
}

fn col(name: &str, type_: &str, priority: u8) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": type_, "format": format, "description": "", "priority": priority})
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// What `kubectl get pods` shows as STATUS.
fn pod_status(p: &Value) -> String {
    if !p["metadata"]["deletionTimestamp"].is_null() {
        return "Terminating".into();
    }
    let st = &p["status"]["containerStatuses"][0]["state"];
    if let Some(r) = st["waiting"]["reason"].as_str() {
        return r.into();
    }
    if let Some(r) = st["terminated"]["reason"].as_str() {
        return r.into();
    }
    s(&p["status"]["phase"])
}

fn node_status(n: &Value) -> String {
    let ready = n["status"]["conditions"].as_array().and_then(|c| c.iter().find(|c| c["type"] == "Ready")).map(|c| s(&c["status"]));
    let mut out = match ready.as_deref() {
        Some("True") => "Ready".to_string(),
        Some("False") => "NotReady".into(),
        _ => "Unknown".into(),
    };
    if n["spec"]["unschedulable"] == true {
        out.push_str(",SchedulingDisabled");
    }
    out
}

fn node_roles(n: &Value) -> String {
    let mut roles: Vec<String> = n["metadata"]["labels"]
        .as_object()
        .map(|l| {
            l.iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("node-role.kubernetes.io/").map(String::from).or_else(|| (k == "kubernetes.io/role").then(|| s(v)))
                })
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    if roles.is_empty() { "<none>".into() } else { roles.join(",") }
}

fn address(n: &Value, t: &str) -> String {
    n["status"]["addresses"].as_array().and_then(|a| a.iter().find(|x| x["type"] == t)).map_or("<none>".into(), |x| s(&x["address"]))
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// Columns and cells for a kind.
fn columns(res: &Resource) -> Vec<Value> {
    match res.kind {
        "Pod" => vec![
            col("Name", "string", 0),
            col("Ready", "string", 0),
            col("Status", "string", 0),
            col("Restarts", "string", 0),
            col("Age", "string", 0),
            col("IP", "string", 1),
            col("Node", "string", 1),
            col("Nominated Node", "string", 1),
            col("Readiness Gates", "string", 1),
        ],
        "Node" => vec![
            col("Name", "string", 0),
            col("Status", "string", 0),
            col("Roles", "string", 0),
            col("Age", "string", 0),
            col("Version", "string", 0),
            col("Internal-IP", "string", 1),
            col("External-IP", "string", 1),
            col("OS-Image", "string", 1),
            col("Kernel-Version", "string", 1),
            col("Container-Runtime", "string", 1),
        ],
        "Deployment" => vec![
            col("Name", "string", 0),
            col("Ready", "string", 0),
            col("Up-to-date", "integer", 0),
            col("Available", "integer", 0),
            col("Age", "string", 0),
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ],
        "ReplicaSet" => vec![
            col("Name", "string", 0),
            col("Desired", "integer", 0),
            col("Current", "integer", 0),
            col("Ready", "integer", 0),
            col("Age", "string", 0),
        ],
        "ConfigMap" => vec![col("Name", "string", 0), col("Data", "string", 0), col("Age", "string", 0)],
        "Lease" => vec![col("Name", "string", 0), col("Holder", "string", 0), col("Age", "string", 0)],
        // printers.go podDisruptionBudgetColumnDefinitions.
        "PodDisruptionBudget" => vec![
            col("Name", "string", 0),
            col("Min Available", "string", 0),
            col("Max Unavailable", "string", 0),
            col("Allowed Disruptions", "integer", 0),
            col("Age", "string", 0),
        ],
        "Namespace" => vec![col("Name", "string", 0), col("Status", "string", 0), col("Age", "string", 0)],
        // printers.go resourceQuotaColumnDefinitions and priorityClassColumnDefinitions.
        "ResourceQuota" => vec![col("Name", "string", 0), col("Age", "string", 0), col("Request", "string", 0), col("Limit", "string", 0)],
        "PriorityClass" => vec![
            col("Name", "string", 0),
            col("Value", "integer", 0),
            col("Global-Default", "boolean", 0),
            col("Age", "string", 0),
            col("PreemptionPolicy", "string", 1),
        ],
        "Event" => vec![
            col("Last Seen", "string", 0),
            col("Type", "string", 0),
            col("Reason", "string", 0),
            col("Object", "string", 0),
            col("Message", "string", 0),
        ],
        "CustomResourceDefinition" => vec![col("Name", "string", 0), col("Created At", "date", 0)],
        "SparkApplication" | "ScheduledSparkApplication" => {
            let mut c = vec![col("Name", "string", 0)];
            for (name, type_, _) in crate::crds::printer_columns(res.plural) {
                let t = if type_ == "date" { "string" } else { type_.as_str() };
                c.push(col(&name, t, 0));
            }
            c
        }
        _ => vec![col("Name", "string", 0), col("Age", "string", 0)],
    }
}

fn cells(res: &Resource, o: &Value, now: i64) -> Vec<Value> {
    let name = s(&o["metadata"]["name"]);
    let created = age(o, now, "metadata.creationTimestamp");
    match res.kind {
        "Pod" => {
            let statuses = o["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
            let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses.iter().map(|c| int(&c["restartCount"])).sum();
            let or_none = |v: &Value| if v.is_null() { "<none>".to_string() } else { s(v) };
            vec![
                name.into(),
                format!("{ready}/{total}").into(),
                pod_status(o).into(),
                restarts.to_string().into(),
                created.into(),
                or_none(&o["status"]["podIP"]).into(),
                or_none(&o["spec"]["nodeName"]).into(),
                or_none(&o["status"]["nominatedNodeName"]).into(),
                "<none>".into(),
            ]
        }
        "Node" => {
            let info = &o["status"]["nodeInfo"];
            vec![
                name.into(),
                node_status(o).into(),
                node_roles(o).into(),
                created.into(),
                s(&info["kubeletVersion"]).into(),
                address(o, "InternalIP").into(),
                address(o, "ExternalIP").into(),
                s(&info["osImage"]).into(),
                s(&info["kernelVersion"]).into(),
                s(&info["containerRuntimeVersion"]).into(),
            ]
        }
        "Deployment" => {
            let st = &o["status"];
            let containers = o["spec"]["template"]["spec"]["containers"].as_array().cloned().unwrap_or_default();
            let selector = o["spec"]["selector"]["matchLabels"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k}={}", s(v))).collect::<Vec<_>>().join(","))
                .unwrap_or_default();
            vec![
                name.into(),
                format!("{}/{}", int(&st["readyReplicas"]), int(&o["spec"]["replicas"])).into(),
                int(&st["updatedReplicas"]).into(),
                int(&st["availableReplicas"]).into(),
                created.into(),
                containers.iter().map(|c| s(&c["name"])).collect::<Vec<_>>().join(",").into(),
                containers.iter().map(|c| s(&c["image"])).collect::<Vec<_>>().join(",").into(),
                selector.into(),
            ]
        }
        "ReplicaSet" => vec![
            name.into(),
            int(&o["spec"]["replicas"]).into(),
            int(&o["status"]["replicas"]).into(),
            int(&o["status"]["readyReplicas"]).into(),
            created.into(),
        ],
        "ConfigMap" => {
            let n = o["data"].as_object().map_or(0, |d| d.len()) + o["binaryData"].as_object().map_or(0, |d| d.len());
            vec![name.into(), n.to_string().into(), created.into()]
        }
        "Lease" => vec![name.into(), s(&o["spec"]["holderIdentity"]).into(), created.into()],
        "PodDisruptionBudget" => {
            // printPodDisruptionBudget: an unset bound prints N/A.
            let bound = |v: &Value| match v {
                Value::Null => "N/A".to_string(),
                Value::String(x) => x.clone(),
                other => other.to_string(),
            };
            vec![
                name.into(),
                bound(&o["spec"]["minAvailable"]).into(),
                bound(&o["spec"]["maxUnavailable"]).into(),
                int(&o["status"]["disruptionsAllowed"]).into(),
                created.into(),
            ]
        }
        "Namespace" => vec![name.into(), s(&o["status"]["phase"]).into(), created.into()],
        "ResourceQuota" => {
            // printResourceQuota: `resource: used/hard` sorted by name, limits.* under Limit.
            let (hard, used) = (&o["status"]["hard"], &o["status"]["used"]);
            let (mut request, mut limit) = (Vec::new(), Vec::new());
            for (k, h) in hard.as_object().into_iter().flatten() {
                let item = format!("{k}: {}/{}", used[k].as_str().unwrap_or("0"), s(h));
                if k.starts_with("limits.") { limit.push(item) } else { request.push(item) }
            }
            vec![name.into(), created.into(), request.join(", ").into(), limit.join(", ").into()]
        }
        "PriorityClass" => vec![
            name.into(),
            o["value"].clone(),
            o["globalDefault"].as_bool().unwrap_or(false).into(),
            created.into(),
            s(&o["preemptionPolicy"]).into(),
        ],
        "Event" => {
            let io = &o["involvedObject"];
            vec![
                age(o, now, "lastTimestamp").into(),
                s(&o["type"]).into(),
                s(&o["reason"]).into(),
                format!("{}/{}", s(&io["kind"]).to_lowercase(), s(&io["name"])).into(),
                s(&o["message"]).into(),
            ]
        }
        "CustomResourceDefinition" => vec![name.into(), o["metadata"]["creationTimestamp"].clone()],
        "SparkApplication" | "ScheduledSparkApplication" => {
            let mut c = vec![Value::from(name)];
            for (_, type_, path) in crate::crds::printer_columns(res.plural) {
                let path = path.trim_start_matches('.');
                if type_ == "date" {
                    c.push(age(o, now, path).into());
                } else {
                    let v = path.split('.').fold(o, |v, k| &v[k]);
                    c.push(match v {
                        Value::Null => "".into(),
                        Value::String(s) => s.clone().into(),
                        other => other.to_string().into(),
                    });
                }
            }
            c
        }
        _ => vec![name.into(), created.into()],
    }
}

fn row_object(o: &Value, include: Include) -> Option<Value> {
    match include {
        Include::None => None,
        Include::Object => Some(o.clone()),
        Include::Metadata => Some(json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]})),
    }
}

/// A Table of objects; `with_columns` is false for the events of a watch after the first.
pub fn table(
    res: &Resource,
    objects: &[&Value],
    include: Include,
    now_unix_ms: i64,
    rv: u64,
    cont: Option<&str>,
    with_columns: bool,
) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut row = json!({"cells": cells(res, o, now_unix_ms)});
            if let Some(obj) = row_object(o, include) {
                row["object"] = obj;
            }
            row
        })
        .collect();
    let mut t = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv.to_string()}, "rows": rows});
    if with_columns {
        t["columnDefinitions"] = Value::Array(columns(res));
    }
    if let Some(c) = cont {
        t["metadata"]["continue"] = c.into();
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{RESOURCES, index};

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        for (secs, want) in [
            (45, "45s"),
            (119, "119s"),
            (150, "2m30s"),
            (300, "5m"),
            (3_000, "50m"),
            (11_400, "3h10m"),
            (190_800, "2d5h"),
            (3_456_000, "40d"),
        ] {
            assert_eq!(human_duration(secs * 1000), want, "{secs}s");
        }
        assert_eq!(human_duration(-5_000), "<invalid>");
    }

    #[test]
    fn pods_nodes_and_sparkapps_get_kubectls_columns() {
        let pod = json!({
            "metadata": {"name": "a-driver", "creationTimestamp": "2026-01-01T00:00:00Z", "deletionTimestamp": null},
            "spec": {"containers": [{"name": "c"}], "nodeName": "spark-driver-1"},
            "status": {"phase": "Pending", "podIP": null, "containerStatuses": [{"ready": false, "restartCount": 2, "state": {"waiting": {"reason": "ImagePullBackOff"}}}]},
        });
        let now = 1_767_225_600_000 + 65_000;
        let t = table(&RESOURCES[index("", "pods")], &[&pod], Include::Metadata, now, 7, None, true);
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["a-driver", "0/1", "ImagePullBackOff", "2", "65s", "<none>", "spark-driver-1", "<none>", "<none>"])
        );
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["metadata"]["resourceVersion"], "7");
        let node = json!({
            "metadata": {"name": "n", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown"}], "nodeInfo": {"kubeletVersion": "v1.34.0"}},
        });
        let t = table(&RESOURCES[index("", "nodes")], &[&node], Include::None, now, 1, None, false);
        assert_eq!(t["rows"][0]["cells"][1], "Unknown,SchedulingDisabled");
        assert_eq!(t["rows"][0]["cells"][2], "control-plane");
        assert!(t.get("columnDefinitions").is_none());
        let app = json!({"metadata": {"name": "pi", "creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": {}, "status": {"applicationState": {"state": "RUNNING"}, "executionAttempts": 1}});
        let t = table(&RESOURCES[index("sparkoperator.k8s.io", "sparkapplications")], &[&app], Include::Metadata, now, 1, None, true);
        assert_eq!(t["rows"][0]["cells"], json!(["pi", "", "RUNNING", "1", "", "", "65s"]));
    }

    #[test]
    fn pdbs_get_kubectls_columns_with_n_a_for_the_unset_bound() {
        let pdb = json!({
            "metadata": {"name": "coredns-pdb", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"k8s-app": "kube-dns"}}},
            "status": {"disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2},
        });
        let now = 1_767_225_600_000 + 65_000;
        let t = table(&RESOURCES[index("policy", "poddisruptionbudgets")], &[&pdb], Include::None, now, 1, None, true);
        assert_eq!(t["rows"][0]["cells"], json!(["coredns-pdb", "1", "N/A", 1, "65s"]));
        let names: Vec<&str> = t["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age"]);
    }

    #[test]
    fn quotas_print_used_over_hard_with_limits_apart() {
        let q = json!({
            "metadata": {"name": "compute", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"hard": {"limits.cpu": "8", "requests.cpu": "4", "requests.memory": "16Gi"},
                       "used": {"limits.cpu": "1500m", "requests.cpu": "1", "requests.memory": "1408Mi"}},
        });
        let now = 1_767_225_600_000 + 65_000;
        let t = table(&RESOURCES[index("", "resourcequotas")], &[&q], Include::None, now, 1, None, true);
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["compute", "65s", "requests.cpu: 1/4, requests.memory: 1408Mi/16Gi", "limits.cpu: 1500m/8"])
        );
    }
}
