//! Writes (reference/kube-api.md §3–4). Objects the simulation owns change only through it:
//! a SparkApplication is created, replaced or deleted through the simulated webhook and
//! operator; a pod is deleted (graceful or `--grace-period=0 --force`) or evicted (PDBs
//! honoured); a node is cordoned or deleted; a Deployment is scaled; the CoreDNS Corefile is
//! replaced. A change the simulation cannot carry out gets a `405` (or `422`) Status saying
//! what is supported — never a silent no-op. Everything else (Services, ConfigMaps,
//! NetworkPolicies, PVCs, PDBs, ...) is stored as written, with create, update, merge / JSON /
//! strategic-merge patch, server-side apply, delete and delete-collection, and garbage-collected
//! with the pod that owns it.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sparkrig_model::action::Action;
use sparkrig_model::clientpod::SPARK_ROLE;

use crate::Server;
use crate::cluster::Cluster;
use crate::http::{Req, json_response, selectors};
use crate::request::{Query, Target, res};
use crate::resources::{Backing, Resource, index};
use crate::status::{ApiError, success};

/// The kind of a patch body (its Content-Type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

fn patch_kind(content_type: &str, resource: &Resource) -> Result<PatchKind, ApiError> {
    let ct = content_type.split(';').next().unwrap_or_default().trim();
    let kind = match ct {
        "application/json-patch+json" => PatchKind::Json,
        "application/merge-patch+json" => PatchKind::Merge,
        "application/strategic-merge-patch+json" => PatchKind::Strategic,
        "application/apply-patch+yaml" => PatchKind::Apply,
        other => {
            return Err(ApiError::unsupported_media(format!(
                "the body of the request was in an unknown format ({other}) - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
            )));
        }
    };
    // Custom resources reject strategic merge (§3.3).
    if kind == PatchKind::Strategic && resource.group.contains('.') && !resource.group.ends_with("k8s.io") {
        return Err(ApiError::unsupported_media(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        ));
    }
    Ok(kind)
}

fn body_json(r: &Req) -> Result<Value, ApiError> {
    if r.content_type.starts_with("application/vnd.kubernetes.protobuf") {
        return Err(ApiError::unsupported_media(
            "sparkrig serve does not decode protobuf request bodies (kubectl's `create <generator>` commands send them); create the object from a manifest with `kubectl create -f` or `kubectl apply -f`",
        ));
    }
    if r.body.is_empty() {
        return Ok(Value::Null);
    }
    let text = std::str::from_utf8(&r.body).map_err(|_| ApiError::bad_request("the request body is not UTF-8"))?;
    if r.content_type.contains("yaml") {
        serde_yaml::from_str(text).map_err(|e| ApiError::bad_request(format!("the request body is not YAML: {e}")))
    } else {
        serde_json::from_str(text).map_err(|e| ApiError::bad_request(format!("the request body is not JSON: {e}")))
    }
}

/// A write to a collection or an object.
pub fn write(server: &Arc<Server>, r: &Req, verb: &str) -> Result<Response, ApiError> {
    let (i, ns, name, sub) = match &r.target {
        Target::Collection { res, ns } => (*res, ns.clone().unwrap_or_default(), None, None),
        Target::Object { res, ns, name, sub } => (*res, ns.clone(), Some(name.clone()), sub.clone()),
        _ => return Err(ApiError::not_allowed("not a resource path")),
    };
    let resource = res(i);
    if resource.namespaced && ns.is_empty() && verb != "deletecollection" {
        return Err(ApiError::bad_request(format!("{} is namespaced: use /namespaces/<namespace>/{}", resource.plural, resource.plural)));
    }
    let dry = r.query.get("dryRun").is_some_and(|v| v == "All");
    let mut c = server.lock();
    let now = c.clock.now();
    c.advance(now);
    match (sub.as_deref(), verb, name) {
        (Some("eviction"), "create", Some(name)) if resource.plural == "pods" => evict(&mut c, r, &ns, &name),
        (Some("scale"), _, Some(name)) if resource.plural == "deployments" => scale(&mut c, r, verb, &ns, &name),
        (Some("status"), "get", Some(name)) => {
            let obj = c.objects.get(i, &ns, &name).cloned().ok_or_else(|| ApiError::not_found(&resource.qualified(), &name))?;
            Ok(json_response(StatusCode::OK, &obj))
        }
        (Some(s), _, _) if resource.backing == Backing::Sim => Err(ApiError::not_allowed(format!(
            "{}/{s} is written by the simulated controllers; sparkrig serve does not accept writes to it",
            resource.plural
        ))),
        (Some(s), _, _) if resource.sub(s).is_none() => Err(ApiError::no_route(&format!("{}/{s}", resource.plural))),
        (_, "deletecollection", _) => delete_collection(&mut c, r, i, &ns),
        (_, "delete", Some(name)) => delete(&mut c, r, i, &ns, &name, dry),
        (_, "create", None) => {
            let obj = body_json(r)?;
            create(&mut c, r, i, &ns, obj, dry).map(|o| json_response(StatusCode::CREATED, &o))
        }
        (_, "update", Some(name)) => {
            let obj = body_json(r)?;
            replace(&mut c, r, i, &ns, &name, obj, sub.is_some(), dry).map(|o| json_response(StatusCode::OK, &o))
        }
        (_, "patch", Some(name)) => patch(&mut c, r, i, &ns, &name, sub.is_some(), dry),
        _ => Err(ApiError::not_allowed(format!("{verb} is not supported on this path"))),
    }
}

fn key(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

/// Names an object from its `generateName` (base cut to 58 characters + 5 from kube's
/// alphabet, reference/kube-api.md §3.1).
fn generate_name(c: &mut Cluster, base: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let n = c.objects.rv();
    let suffix: String = (0..5).map(|k| ALPHABET[((n.wrapping_mul(2_654_435_761) >> (k * 5)) % 27) as usize] as char).collect();
    format!("{}{suffix}", &base[..base.len().min(58)])
}

fn timestamp(c: &Cluster) -> String {
    c.clock.timestamp(c.sim.now())
}

/// Sets the URL's namespace and checks the body's.
fn place(obj: &mut Value, resource: &Resource, ns: &str) -> Result<(), ApiError> {
    if !obj.is_object() || !obj["metadata"].is_object() {
        return Err(ApiError::bad_request("the object has no metadata"));
    }
    if resource.namespaced {
        match obj["metadata"]["namespace"].as_str() {
            Some(n) if n != ns => {
                return Err(ApiError::bad_request(format!(
                    "the namespace of the provided object ({n}) does not match the namespace sent on the request ({ns})"
                )));
            }
            _ => obj["metadata"]["namespace"] = ns.into(),
        }
    }
    obj["apiVersion"] = resource.group_version().into();
    obj["kind"] = resource.kind.into();
    Ok(())
}

fn create(c: &mut Cluster, r: &Req, i: usize, ns: &str, mut obj: Value, dry: bool) -> Result<Value, ApiError> {
    let resource = res(i);
    place(&mut obj, resource, ns)?;
    if obj["metadata"]["name"].as_str().is_none_or(str::is_empty) {
        match obj["metadata"]["generateName"].as_str() {
            Some(base) => obj["metadata"]["name"] = generate_name(c, base).into(),
            None => return Err(ApiError::invalid(resource.kind, "", "metadata.name", "Required value: name or generateName is required")),
        }
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
    if c.objects.get(i, ns, &name).is_some() {
        return Err(ApiError::already_exists(&resource.qualified(), &name));
    }
    match (resource.backing, resource.plural) {
        (Backing::Sim, "sparkapplications") => {
            if let Some(m) = obj["metadata"].as_object_mut() {
                for f in ["resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"] {
                    m.remove(f);
                }
            }
            obj.as_object_mut().map(|o| o.remove("status"));
            check_app(&obj, &name, &r.query)?;
            if dry {
                return Ok(obj);
            }
            c.write(Action::CreateApp { app: obj }, &r.by).map_err(ApiError::internal)?;
            c.objects.get(i, ns, &name).map(|o| (**o).clone()).ok_or_else(|| ApiError::internal("the app was admitted but not created"))
        }
        (Backing::Sim, "pods") => {
            // The API server's part: system fields are its own; the rest is the client's.
            if let Some(m) = obj["metadata"].as_object_mut() {
                for f in ["resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "managedFields"] {
                    m.remove(f);
                }
            }
            obj.as_object_mut().map(|o| o.remove("status"));
            if obj["metadata"]["labels"][SPARK_ROLE].as_str() != Some("driver") {
                return Err(ApiError::not_allowed(
                    "sparkrig serve runs the pods its simulated controllers create (Spark drivers and executors through \
                     SparkApplications, the platform's Deployments) and Spark driver pods a client creates (labelled \
                     spark-role=driver, as spark-submit --deploy-mode cluster does); other pods are not simulated",
                ));
            }
            if let Err(e) = sparkrig_model::clientpod::pod_spec(&obj) {
                let (field, message) = e.split_once(": ").unwrap_or(("spec", e.as_str()));
                return Err(ApiError::invalid("Pod", &name, field, message));
            }
            if dry {
                return Ok(obj);
            }
            c.write(Action::CreatePod { pod: obj }, &r.by)
                .map_err(|e| if e.contains(" is forbidden: ") { ApiError::forbidden("pods", &name, e) } else { ApiError::internal(e) })?;
            c.objects.get(i, ns, &name).map(|o| (**o).clone()).ok_or_else(|| ApiError::internal("the pod was admitted but not created"))
        }
        (Backing::Sim, plural) => Err(ApiError::not_allowed(format!(
            "{plural} are created by the simulated cluster itself; sparkrig serve does not accept creating them"
        ))),
        (Backing::Stored, _) => {
            if dry {
                return Ok(obj);
            }
            if resource.plural == "configmaps" && ns == "kube-system" && name == "coredns" {
                let text = obj["data"]["Corefile"].as_str().unwrap_or_default().to_string();
                c.set_corefile(&text, &r.by).map_err(ApiError::internal)?;
            }
            spark_conf(c, resource, ns, &obj, &r.by);
            let ts = timestamp(c);
            Ok((*c.objects.put(i, obj, &ts)).clone())
        }
    }
}

/// spark-submit's driver ConfigMap (`spark.properties`, owned by the driver pod it created)
/// gives that driver its Spark properties (reference/kube-api.md §7.2 step 3).
fn spark_conf(c: &mut Cluster, resource: &Resource, ns: &str, obj: &Value, by: &str) {
    let Some(text) = obj["data"]["spark.properties"].as_str().filter(|_| resource.plural == "configmaps") else { return };
    let owners = obj["metadata"]["ownerReferences"].as_array().cloned().unwrap_or_default();
    let pods = index("", "pods");
    for o in owners.iter().filter(|o| o["kind"] == "Pod") {
        let Some(name) = o["name"].as_str() else { continue };
        if c.objects.get(pods, ns, name).is_some_and(|p| p["metadata"]["uid"] == o["uid"]) {
            let properties = sparkrig_model::clientpod::parse_properties(text);
            let _ = c.write(Action::SetSparkConf { pod: format!("{ns}/{name}"), properties }, by);
        }
    }
}

/// Validates a SparkApplication against the CRD's schema (§5.4): violations are a 422;
/// unknown fields are pruned silently, or a 400 with `fieldValidation=Strict`.
fn check_app(obj: &Value, name: &str, q: &Query) -> Result<(), ApiError> {
    let strict = q.get("fieldValidation").is_some_and(|v| v == "Strict");
    for v in sparkrig_model::crd::validate_spark_application(obj) {
        if v.unknown_field {
            if strict {
                return Err(ApiError::bad_request(format!("strict decoding error: unknown field \"{}\"", v.path)));
            }
            continue;
        }
        return Err(ApiError::invalid("SparkApplication.sparkoperator.k8s.io", name, &v.path, &v.message));
    }
    Ok(())
}

/// Applies a change computed from the current object: the simulation's resources map it to
/// actions, stored ones are put as they are.
#[allow(clippy::too_many_arguments)]
fn replace(c: &mut Cluster, r: &Req, i: usize, ns: &str, name: &str, mut obj: Value, status: bool, dry: bool) -> Result<Value, ApiError> {
    let resource = res(i);
    place(&mut obj, resource, ns)?;
    if obj["metadata"]["name"].as_str().is_some_and(|n| n != name) {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            obj["metadata"]["name"]
        )));
    }
    obj["metadata"]["name"] = name.into();
    let current = c.objects.get(i, ns, name).cloned().ok_or_else(|| ApiError::not_found(&resource.qualified(), name))?;
    if let Some(rv) = obj["metadata"]["resourceVersion"].as_str()
        && current["metadata"]["resourceVersion"].as_str() != Some(rv)
    {
        return Err(ApiError::conflict(&resource.qualified(), name));
    }
    match resource.plural {
        "sparkapplications" => {
            let mut next = obj;
            next.as_object_mut().map(|o| o.remove("status"));
            check_app(&next, name, &r.query)?;
            if dry {
                return Ok(next);
            }
            c.write(Action::UpdateApp { app: key(ns, name), object: next }, &r.by).map_err(ApiError::internal)?;
        }
        "nodes" => {
            let was = current["spec"]["unschedulable"] == true;
            let now = obj["spec"]["unschedulable"] == true;
            let mut same = obj.clone();
            let mut before = (*current).clone();
            for v in [&mut same, &mut before] {
                v["spec"].as_object_mut().map(|s| s.remove("unschedulable"));
                v.as_object_mut().map(|o| o.remove("status"));
                if let Some(m) = v["metadata"].as_object_mut() {
                    for f in ["resourceVersion", "managedFields", "annotations", "creationTimestamp", "uid"] {
                        m.remove(f);
                    }
                }
            }
            if same != before {
                return Err(ApiError::invalid(
                    "Node",
                    name,
                    "spec",
                    "sparkrig serve changes only spec.unschedulable of a simulated node (kubectl cordon / uncordon); delete the node to remove it",
                ));
            }
            if !dry && was != now {
                c.write(Action::CordonNode { node: name.into(), unschedulable: now }, &r.by).map_err(ApiError::internal)?;
            }
        }
        "deployments" => {
            let want = obj["spec"]["replicas"].as_u64().unwrap_or(1) as u32;
            let mut a = obj.clone();
            let mut b = (*current).clone();
            for v in [&mut a, &mut b] {
                v["spec"].as_object_mut().map(|s| s.remove("replicas"));
                v.as_object_mut().map(|o| o.remove("status"));
                v["metadata"] = Value::Null;
            }
            if a["spec"] != b["spec"] {
                return Err(ApiError::invalid(
                    "Deployment.apps",
                    name,
                    "spec",
                    "sparkrig serve changes only spec.replicas of a platform Deployment (kubectl scale)",
                ));
            }
            if !dry && Some(u64::from(want)) != current["spec"]["replicas"].as_u64() {
                c.write(Action::ScaleDeployment { deployment: key(ns, name), replicas: want }, &r.by).map_err(ApiError::internal)?;
            }
            // Metadata a client may change: annotations (kept across re-renders).
            let annotations = |v: &Value| v["metadata"]["annotations"].as_object().filter(|a| !a.is_empty()).cloned();
            if !dry && annotations(&obj) != annotations(current.as_ref()) {
                c.set_deployment_annotations(&key(ns, name), obj["metadata"]["annotations"].clone());
            }
        }
        _ if resource.backing == Backing::Sim => {
            return Err(ApiError::not_allowed(format!(
                "{} are written by the simulated controllers; sparkrig serve does not accept changing them",
                resource.plural
            )));
        }
        _ => {
            if status {
                let mut merged = (*current).clone();
                merged["status"] = obj["status"].clone();
                obj = merged;
            }
            if dry {
                return Ok(obj);
            }
            if resource.plural == "configmaps"
                && ns == "kube-system"
                && name == "coredns"
                && obj["data"]["Corefile"] != current["data"]["Corefile"]
            {
                let text = obj["data"]["Corefile"].as_str().unwrap_or_default().to_string();
                c.set_corefile(&text, &r.by).map_err(ApiError::internal)?;
            }
            let ts = timestamp(c);
            return Ok((*c.objects.put(i, obj, &ts)).clone());
        }
    }
    c.objects.get(i, ns, name).map(|o| (**o).clone()).ok_or_else(|| ApiError::not_found(&resource.qualified(), name))
}

/// Merges an applied configuration onto the live object: maps merge key by key, anything
/// else is replaced. (Server-side apply without field ownership: fields an applier stops
/// sending are kept, conflicts are not reported.)
fn apply_merge(live: &mut Value, applied: &Value) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, v) in a {
                apply_merge(l.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (l, a) => *l = a.clone(),
    }
}

fn patch(c: &mut Cluster, r: &Req, i: usize, ns: &str, name: &str, status: bool, dry: bool) -> Result<Response, ApiError> {
    let resource = res(i);
    let kind = patch_kind(&r.content_type, resource)?;
    let body = body_json(r)?;
    if r.query.contains_key("force") && kind != PatchKind::Apply {
        return Err(ApiError::invalid("PatchOptions", "", "force", "may not be specified for non-apply patch"));
    }
    let current = c.objects.get(i, ns, name).cloned();
    if kind == PatchKind::Apply {
        if r.query.get("fieldManager").is_none_or(String::is_empty) {
            return Err(ApiError::invalid("PatchOptions", "", "fieldManager", "is required for apply patch"));
        }
        if current.is_none() {
            // A missing object is created by an apply (§3.4).
            return create(c, r, i, ns, body, dry).map(|o| json_response(StatusCode::CREATED, &o));
        }
    }
    let current = current.ok_or_else(|| ApiError::not_found(&resource.qualified(), name))?;
    let mut next = (*current).clone();
    match kind {
        PatchKind::Merge | PatchKind::Strategic => json_patch::merge(&mut next, &body),
        PatchKind::Apply => apply_merge(&mut next, &body),
        PatchKind::Json => {
            let p: json_patch::Patch =
                serde_json::from_value(body).map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            json_patch::patch(&mut next, &p).map_err(|e| ApiError::invalid(resource.kind, name, "patch", &e.to_string()))?;
        }
    }
    next["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
    replace(c, r, i, ns, name, next, status, dry).map(|o| json_response(StatusCode::OK, &o))
}

/// `gracePeriodSeconds` from the query or the DeleteOptions body (a protobuf body, as
/// `drain --disable-eviction` sends, is ignored: defaults apply).
fn grace(r: &Req) -> Option<u64> {
    r.query.get("gracePeriodSeconds").and_then(|g| g.parse().ok()).or_else(|| {
        if r.content_type.starts_with("application/vnd.kubernetes.protobuf") {
            return None;
        }
        serde_json::from_slice::<Value>(&r.body).ok().and_then(|b| b["gracePeriodSeconds"].as_u64())
    })
}

fn delete(c: &mut Cluster, r: &Req, i: usize, ns: &str, name: &str, dry: bool) -> Result<Response, ApiError> {
    let resource = res(i);
    let current = c.objects.get(i, ns, name).cloned().ok_or_else(|| ApiError::not_found(&resource.qualified(), name))?;
    let done = |c: &Cluster| {
        let uid = current["metadata"]["uid"].clone();
        let _ = c;
        json_response(
            StatusCode::OK,
            &success(200, Some(json!({"name": name, "group": resource.group, "kind": resource.plural, "uid": uid}))),
        )
    };
    if dry {
        return Ok(done(c));
    }
    match resource.plural {
        "pods" => {
            c.write(Action::DeletePod { pod: key(ns, name), grace_seconds: grace(r) }, &r.by).map_err(ApiError::internal)?;
            // Pods answer with the object: terminating, or its last state when gone.
            let now = c.objects.get(i, ns, name).cloned().unwrap_or(current);
            Ok(json_response(StatusCode::OK, &now))
        }
        "sparkapplications" => {
            c.write(Action::DeleteApp { app: key(ns, name) }, &r.by).map_err(ApiError::internal)?;
            Ok(done(c))
        }
        "nodes" => {
            c.write(Action::DeleteNode { node: name.into() }, &r.by).map_err(ApiError::internal)?;
            Ok(done(c))
        }
        "configmaps" if ns == "kube-system" && name == "coredns" => {
            Err(ApiError::not_allowed("kube-system/coredns holds CoreDNS's Corefile; replace its data instead of deleting it"))
        }
        _ if resource.backing == Backing::Sim => Err(ApiError::not_allowed(format!(
            "{} belong to the simulated platform; sparkrig serve does not delete them (scale a Deployment to 0 instead)",
            resource.plural
        ))),
        _ => {
            c.objects.remove(i, ns, name);
            Ok(done(c))
        }
    }
}

fn delete_collection(c: &mut Cluster, r: &Req, i: usize, ns: &str) -> Result<Response, ApiError> {
    let resource = res(i);
    if !resource.allows("deletecollection") {
        return Err(ApiError::not_allowed(format!("deletecollection is not supported on {}", resource.plural)));
    }
    let (labels, fields) = selectors(resource, &r.query)?;
    let scope = (!ns.is_empty()).then_some(ns);
    let victims: Vec<(String, String)> = c
        .objects
        .list(i, scope)
        .filter(|o| labels.matches(o) && fields.matches(o))
        .map(|o| {
            (
                o["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
                o["metadata"]["name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let mut items = Vec::new();
    for (ns, name) in victims {
        if let Some(o) = c.objects.get(i, &ns, &name).cloned() {
            items.push((*o).clone());
        }
        delete(c, r, i, &ns, &name, false)?;
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({"kind": format!("{}List", resource.kind), "apiVersion": resource.group_version(), "metadata": {}, "items": items}),
    ))
}

/// `POST pods/<name>/eviction` (§4.1): pods not running are deleted at once; otherwise every
/// PodDisruptionBudget selecting the pod must allow a disruption, else 429.
fn evict(c: &mut Cluster, r: &Req, ns: &str, name: &str) -> Result<Response, ApiError> {
    let body = body_json(r).unwrap_or(Value::Null);
    if let Some(n) = body["metadata"]["name"].as_str()
        && n != name
    {
        return Err(ApiError::bad_request(format!("name in URL does not match name in Eviction object: {name} != {n}")));
    }
    let pods = index("", "pods");
    let pod = c.objects.get(pods, ns, name).cloned().ok_or_else(|| ApiError::not_found("pods", name))?;
    let running = pod["status"]["phase"] == "Running" && pod["metadata"]["deletionTimestamp"].is_null();
    if running {
        // Budgets clients created; the simulation's own (annotated) are checked by the
        // simulation itself below.
        let pdbs: Vec<Value> = c
            .objects
            .list(index("policy", "poddisruptionbudgets"), Some(ns))
            .filter(|p| p["metadata"]["annotations"][crate::render::SIMULATED_PDB].is_null())
            .map(|p| (**p).clone())
            .collect();
        let matching: Vec<&Value> = pdbs.iter().filter(|p| selector_matches(&p["spec"]["selector"], &pod)).collect();
        if matching.len() > 1 {
            return Err(ApiError::internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ));
        }
        if let Some(pdb) = matching.first() {
            let selected: Vec<Value> =
                c.objects.list(pods, Some(ns)).filter(|p| selector_matches(&pdb["spec"]["selector"], p)).map(|p| (**p).clone()).collect();
            let healthy = selected
                .iter()
                .filter(|p| {
                    p["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
                })
                .count() as i64;
            let total = selected.len() as i64;
            let desired = match (&pdb["spec"]["minAvailable"], &pdb["spec"]["maxUnavailable"]) {
                (v, _) if !v.is_null() => int_or_percent(v, total, true),
                (_, v) if !v.is_null() => total - int_or_percent(v, total, false),
                _ => 0,
            };
            if healthy - desired <= 0 {
                let pdb_name = pdb["metadata"]["name"].as_str().unwrap_or_default();
                return Err(ApiError::too_many_requests(
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    json!([{"reason": "DisruptionBudget", "message": format!("The disruption budget {pdb_name} needs {desired} healthy pods and has {healthy} currently")}]),
                ));
            }
        }
    }
    c.write(Action::EvictPod { pod: key(ns, name) }, &r.by).map_err(|e| match e.split_once(" The disruption budget ") {
        // The simulation's budget refused (sparkrig_sim::pdb::Refusal::Budget).
        Some((head, cause)) => {
            ApiError::too_many_requests(head, json!([{"reason": "DisruptionBudget", "message": format!("The disruption budget {cause}")}]))
        }
        None => ApiError::internal(e),
    })?;
    Ok(json_response(StatusCode::CREATED, &success(201, None)))
}

/// `minAvailable`/`maxUnavailable`: an integer, or a percentage of the selected pods (rounded
/// up, as the disruption controller does).
fn int_or_percent(v: &Value, total: i64, _min: bool) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()).map_or(0, |p| (p * total + 99) / 100),
        _ => 0,
    }
}

/// A LabelSelector (matchLabels, matchExpressions) against an object; an empty selector
/// selects nothing (PDB semantics).
fn selector_matches(sel: &Value, obj: &Value) -> bool {
    let labels = &obj["metadata"]["labels"];
    let ml = sel["matchLabels"].as_object();
    let me = sel["matchExpressions"].as_array();
    if ml.is_none_or(|m| m.is_empty()) && me.is_none_or(|m| m.is_empty()) {
        return false;
    }
    ml.is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)))
        && me.is_none_or(|exprs| {
            exprs.iter().all(|e| {
                let k = e["key"].as_str().unwrap_or_default();
                let vals: Vec<&str> = e["values"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
                let have = labels.get(k).and_then(Value::as_str);
                match e["operator"].as_str() {
                    Some("In") => have.is_some_and(|h| vals.contains(&h)),
                    Some("NotIn") => have.is_none_or(|h| !vals.contains(&h)),
                    Some("Exists") => have.is_some(),
                    Some("DoesNotExist") => have.is_none(),
                    _ => false,
                }
            })
        })
}

/// `deployments/<name>/scale` (autoscaling/v1 Scale, §4.2).
fn scale(c: &mut Cluster, r: &Req, verb: &str, ns: &str, name: &str) -> Result<Response, ApiError> {
    let deployments = index("apps", "deployments");
    let d = c.objects.get(deployments, ns, name).cloned().ok_or_else(|| ApiError::not_found("deployments.apps", name))?;
    let to_scale = |d: &Value| {
        let selector = d["spec"]["selector"]["matchLabels"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(","))
            .unwrap_or_default();
        let mut meta = json!({});
        for f in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
            meta[f] = d["metadata"][f].clone();
        }
        // autoscaling/v1 ScaleSpec's `replicas` is `omitempty`: a real API server answers
        // `"spec": {}` for a Deployment at 0 (issue 15).
        let spec = match d["spec"]["replicas"].as_i64() {
            Some(0) | None => json!({}),
            Some(n) => json!({"replicas": n}),
        };
        json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": meta, "spec": spec, "status": {"replicas": d["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector}})
    };
    let current = to_scale(&d);
    let next = match verb {
        "get" => return Ok(json_response(StatusCode::OK, &current)),
        "update" => {
            let body = body_json(r)?;
            if let Some(rv) = body["metadata"]["resourceVersion"].as_str()
                && current["metadata"]["resourceVersion"].as_str() != Some(rv)
            {
                return Err(ApiError::conflict("deployments.apps", name));
            }
            body
        }
        "patch" => {
            let kind = patch_kind(&r.content_type, res(deployments))?;
            let body = body_json(r)?;
            let mut next = current.clone();
            match kind {
                PatchKind::Json => {
                    let p: json_patch::Patch =
                        serde_json::from_value(body).map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
                    json_patch::patch(&mut next, &p).map_err(|e| ApiError::invalid("Scale", name, "patch", &e.to_string()))?;
                }
                PatchKind::Apply => apply_merge(&mut next, &body),
                _ => json_patch::merge(&mut next, &body),
            }
            next
        }
        _ => return Err(ApiError::not_allowed(format!("{verb} is not supported on deployments/scale"))),
    };
    // Omitted means 0, as the field is `omitempty` (a PUT of `"spec": {}` scales to 0).
    let replicas = next["spec"]["replicas"].as_i64().unwrap_or(0);
    if replicas < 0 {
        return Err(ApiError::invalid("Scale", name, "spec.replicas", "must be greater than or equal to 0"));
    }
    if r.query.get("dryRun").is_none_or(|v| v != "All") && Some(replicas) != current["spec"]["replicas"].as_i64() {
        c.write(Action::ScaleDeployment { deployment: key(ns, name), replicas: replicas as u32 }, &r.by).map_err(ApiError::internal)?;
    }
    let d = c.objects.get(deployments, ns, name).cloned().ok_or_else(|| ApiError::not_found("deployments.apps", name))?;
    Ok(json_response(StatusCode::OK, &to_scale(&d)))
}

/// `pods/<name>/log` (§4.3): the container's log as the trace tells it; `follow` streams until
/// the container ends.
pub async fn log(server: &Arc<Server>, q: &Query, ns: &str, name: &str) -> Result<Response, ApiError> {
    let key = key(ns, name);
    let (container, lines, running) = {
        let mut c = server.lock();
        let now = c.clock.now();
        c.advance(now);
        let pods = index("", "pods");
        let pod = c.objects.get(pods, ns, name).cloned().ok_or_else(|| ApiError::not_found("pods", name))?;
        let container = pod["spec"]["containers"][0]["name"].as_str().unwrap_or_default().to_string();
        if let Some(want) = q.get("container")
            && *want != container
        {
            return Err(ApiError::bad_request(format!("container {want} is not valid for pod {name}")));
        }
        let state = &pod["status"]["containerStatuses"][0]["state"];
        if pod["status"]["containerStatuses"].is_null() || !state["waiting"].is_null() && pod["status"]["phase"] == "Pending" {
            let reason = state["waiting"]["reason"].as_str().unwrap_or("ContainerCreating");
            return Err(ApiError::bad_request(format!("container \"{container}\" in pod \"{name}\" is waiting to start: {reason}")));
        }
        let lines = c.pod_log(&key).map(<[String]>::to_vec).unwrap_or_default();
        (container, lines, pod["status"]["phase"] == "Running")
    };
    let _ = container;
    let tail = q.get("tailLines").and_then(|t| t.parse::<usize>().ok());
    let skip = tail.map_or(0, |t| lines.len().saturating_sub(t));
    let mut text: String = lines[skip..].iter().map(|l| format!("{l}\n")).collect();
    if let Some(limit) = q.get("limitBytes").and_then(|l| l.parse::<usize>().ok()) {
        text.truncate(limit);
    }
    let follow = q.get("follow").is_some_and(|f| f == "true");
    if !follow || !running {
        return Ok(([("content-type", "text/plain")], text).into_response());
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(64);
    let server = server.clone();
    tokio::spawn(async move {
        if tx.send(text).await.is_err() {
            return;
        }
        let mut sent = lines.len();
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let (more, done) = {
                let c = server.lock();
                let l = c.pod_log(&key).map(<[String]>::to_vec).unwrap_or_default();
                let done = c
                    .objects
                    .get(index("", "pods"), &key[..key.find('/').unwrap_or(0)], &key[key.find('/').map_or(0, |i| i + 1)..])
                    .is_none_or(|p| p["status"]["phase"] != "Running");
                (l, done)
            };
            if more.len() > sent {
                let chunk: String = more[sent..].iter().map(|l| format!("{l}\n")).collect();
                sent = more.len();
                if tx.send(chunk).await.is_err() {
                    return;
                }
            }
            if done {
                return;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|s| (Ok::<_, std::convert::Infallible>(s), rx)) });
    Ok(([("content-type", "text/plain")], axum::body::Body::from_stream(stream)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdb_selectors_and_budgets_follow_the_disruption_controller() {
        let pod = json!({"metadata": {"labels": {"k8s-app": "kube-dns"}}});
        assert!(selector_matches(&json!({"matchLabels": {"k8s-app": "kube-dns"}}), &pod));
        assert!(!selector_matches(&json!({}), &pod), "an empty selector selects nothing");
        assert!(selector_matches(&json!({"matchExpressions": [{"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}]}), &pod));
        assert_eq!(int_or_percent(&json!("50%"), 3, true), 2, "50 % of 3 rounds up to 2");
        assert_eq!(int_or_percent(&json!(1), 3, true), 1);
    }

    #[test]
    fn applied_configurations_merge_maps_and_replace_lists() {
        let mut live = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"ports": [1, 2], "x": 1}});
        apply_merge(&mut live, &json!({"metadata": {"labels": {"b": "2"}}, "spec": {"ports": [3]}}));
        assert_eq!(live, json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"ports": [3], "x": 1}}));
    }
}
