//! Discovery and OpenAPI (reference/kube-api.md §1): `/version`, `/api`, `/apis` (legacy and
//! aggregated `apidiscovery.k8s.io/v2` — client-go decides by the response Content-Type alone),
//! the group-version resource lists, and an OpenAPI v3 document with one PATCH operation per
//! kind carrying the `fieldValidation` parameter, which is what `kubectl apply`'s default
//! validation looks for (§1.3). `/openapi/v2` stays a 404.

use serde_json::{Value, json};

use crate::resources::{RESOURCES, Resource, groups};

/// `/version`.
pub fn version(minor: u32) -> Value {
    json!({
        "major": "1",
        "minor": minor.to_string(),
        "gitVersion": format!("v1.{minor}.0-sparkrig"),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// The aggregated-discovery content type the client accepted (`v2` or `v2beta1`), if any.
pub fn aggregated(accept: &str) -> Option<&'static str> {
    let wants = |v: &str| {
        accept.split(',').any(|part| {
            let p: Vec<&str> = part.split(';').map(str::trim).collect();
            p.contains(&"g=apidiscovery.k8s.io") && p.contains(&"as=APIGroupDiscoveryList") && p.contains(&format!("v={v}").as_str())
        })
    };
    if wants("v2") {
        Some("v2")
    } else if wants("v2beta1") {
        Some("v2beta1")
    } else {
        None
    }
}

/// The Content-Type of an aggregated discovery answer.
pub fn aggregated_content_type(v: &str) -> String {
    format!("application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList")
}

/// `/api` (legacy).
pub fn api(address: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]})
}

/// `/apis` (legacy).
pub fn apis() -> Value {
    let groups: Vec<Value> = groups()
        .into_iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn in_gv<'a>(group: &'a str, version: &'a str) -> impl Iterator<Item = &'static Resource> + 'a {
    RESOURCES.iter().filter(move |r| r.group == group && r.version == version)
}

/// `/api/v1` or `/apis/<g>/<v>` (legacy resource list); None when the group-version is not served.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut list = Vec::new();
    for r in in_gv(group, version) {
        list.push(json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
            "shortNames": r.short,
            "categories": r.categories,
        }));
        for s in r.subs {
            let mut sub = json!({"name": format!("{}/{}", r.plural, s.name), "singularName": "", "namespaced": r.namespaced, "kind": if s.kind.is_empty() { r.kind } else { s.kind }, "verbs": s.verbs});
            if !s.group.is_empty() {
                sub["group"] = s.group.into();
                sub["version"] = s.version.into();
            }
            list.push(sub);
        }
    }
    if list.is_empty() {
        return None;
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}))
}

fn discovery_resource(r: &Resource) -> Value {
    let subs: Vec<Value> = r
        .subs
        .iter()
        .map(|s| {
            let (g, v, k) = if s.group.is_empty() {
                (r.group, r.version, if s.kind.is_empty() { r.kind } else { s.kind })
            } else {
                (s.group, s.version, s.kind)
            };
            json!({"subresource": s.name, "responseKind": {"group": g, "version": v, "kind": k}, "verbs": s.verbs})
        })
        .collect();
    json!({
        "resource": r.plural,
        "singularResource": r.singular,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "verbs": r.verbs,
        "shortNames": r.short,
        "categories": r.categories,
        "subresources": subs,
    })
}

/// Aggregated discovery of `/api` (`core = true`) or `/apis`.
pub fn aggregated_list(core: bool, v: &str) -> Value {
    let gvs: Vec<(&str, &str)> = if core { vec![("", "v1")] } else { groups() };
    let items: Vec<Value> = gvs
        .into_iter()
        .map(|(g, ver)| {
            let resources: Vec<Value> = in_gv(g, ver).map(discovery_resource).collect();
            json!({"metadata": {"name": g}, "versions": [{"version": ver, "freshness": "Current", "resources": resources}]})
        })
        .collect();
    json!({"apiVersion": format!("apidiscovery.k8s.io/{v}"), "kind": "APIGroupDiscoveryList", "metadata": {}, "items": items})
}

/// The path of a group-version's OpenAPI v3 document (`api/v1`, `apis/apps/v1`).
fn openapi_path(group: &str, version: &str) -> String {
    if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") }
}

/// `/openapi/v3`: one document per group-version.
pub fn openapi_index() -> Value {
    let mut gvs = vec![("", "v1")];
    gvs.extend(groups());
    let paths: serde_json::Map<String, Value> = gvs
        .into_iter()
        .map(|(g, v)| {
            let p = openapi_path(g, v);
            (p.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash=sparkrig")}))
        })
        .collect();
    json!({"paths": paths})
}

/// `/openapi/v3/<path>`: a PATCH operation per kind with `fieldValidation`, so kubectl's
/// default `--validate=strict` asks the server to validate.
pub fn openapi_document(path: &str) -> Option<Value> {
    let mut gvs = vec![("", "v1")];
    gvs.extend(groups());
    let (g, v) = gvs.into_iter().find(|(g, v)| openapi_path(g, v) == path)?;
    let mut paths = serde_json::Map::new();
    for r in in_gv(g, v) {
        let base = if g.is_empty() { format!("/api/{v}") } else { format!("/apis/{g}/{v}") };
        let url = if r.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{base}/{}/{{name}}", r.plural)
        };
        paths.insert(
            url,
            json!({"patch": {
                "x-kubernetes-group-version-kind": {"group": g, "version": v, "kind": r.kind},
                "parameters": [
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                    {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                    {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                    {"name": "force", "in": "query", "schema": {"type": "boolean"}},
                ],
                "responses": {"200": {"description": "OK"}},
            }}),
        );
    }
    Some(json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "components": {}, "paths": paths}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectls_accept_header_gets_aggregated_v2_and_legacy_clients_get_legacy() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated(kubectl), Some("v2"));
        assert_eq!(aggregated("application/json"), None);
        let core = aggregated_list(true, "v2");
        let pods = &core["items"][0]["versions"][0]["resources"][0];
        assert_eq!(pods["resource"], "pods");
        let eviction = pods["subresources"].as_array().unwrap().iter().find(|s| s["subresource"] == "eviction").unwrap();
        assert_eq!(eviction["responseKind"], json!({"group": "policy", "version": "v1", "kind": "Eviction"}));
    }

    #[test]
    fn drain_and_the_scale_resolver_find_the_kinds_they_check() {
        let v1 = resource_list("", "v1").unwrap();
        let ev = v1["resources"].as_array().unwrap().iter().find(|r| r["name"] == "pods/eviction").unwrap();
        assert_eq!((ev["kind"].as_str(), ev["group"].as_str(), ev["version"].as_str()), (Some("Eviction"), Some("policy"), Some("v1")));
        let apps = resource_list("apps", "v1").unwrap();
        let scale = apps["resources"].as_array().unwrap().iter().find(|r| r["name"] == "deployments/scale").unwrap();
        assert_eq!((scale["kind"].as_str(), scale["group"].as_str()), (Some("Scale"), Some("autoscaling")));
        assert!(resource_list("nope", "v1").is_none());
    }

    #[test]
    fn the_openapi_document_has_a_validating_patch_per_kind() {
        let idx = openapi_index();
        assert_eq!(
            idx["paths"]["apis/sparkoperator.k8s.io/v1beta2"]["serverRelativeURL"],
            "/openapi/v3/apis/sparkoperator.k8s.io/v1beta2?hash=sparkrig"
        );
        let doc = openapi_document("apis/sparkoperator.k8s.io/v1beta2").unwrap();
        let op = &doc["paths"]["/apis/sparkoperator.k8s.io/v1beta2/namespaces/{namespace}/sparkapplications/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "SparkApplication");
        assert_eq!(op["parameters"][0]["name"], "fieldValidation");
    }
}
