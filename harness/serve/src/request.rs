//! What a request asks for: its target (parsed from the path as kube-apiserver lays out its
//! URLs), its query, and how it wants the answer.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, Method};

use crate::resources::{self, RESOURCES, Resource};
use crate::status::ApiError;

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/version`.
    Version,
    /// `/api`.
    Api,
    /// `/apis`.
    Apis,
    /// `/api/v1`, `/apis/<g>/<v>`.
    Resources {
        /// Group.
        group: String,
        /// Version.
        version: String,
    },
    /// `/openapi/v3`.
    OpenApiIndex,
    /// `/openapi/v3/<path>`.
    OpenApiDoc(String),
    /// `/healthz`, `/readyz`, `/livez`.
    Health,
    /// `/sparkrig/v1/clock`: the virtual clock, for clients that follow it.
    Clock,
    /// A collection (`ns` None: all namespaces, or cluster-scoped).
    Collection {
        /// Resource index.
        res: usize,
        /// Namespace.
        ns: Option<String>,
    },
    /// One object, or its subresource.
    Object {
        /// Resource index.
        res: usize,
        /// Namespace (empty for cluster-scoped).
        ns: String,
        /// Name.
        name: String,
        /// Subresource.
        sub: Option<String>,
    },
}

fn resource(group: &str, version: &str, plural: &str, path: &str) -> Result<(usize, &'static Resource), ApiError> {
    resources::find(group, version, plural).ok_or_else(|| ApiError::no_route(path))
}

/// Parses a request path.
pub fn target(path: &str) -> Result<Target, ApiError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["version"] => return Ok(Target::Version),
        ["healthz" | "readyz" | "livez", ..] => return Ok(Target::Health),
        ["sparkrig", "v1", "clock"] => return Ok(Target::Clock),
        ["openapi", "v3"] => return Ok(Target::OpenApiIndex),
        ["openapi", "v3", rest @ ..] => return Ok(Target::OpenApiDoc(rest.join("/"))),
        ["api"] => return Ok(Target::Api),
        ["apis"] => return Ok(Target::Apis),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::no_route(path)),
    };
    let object = |res: usize, ns: &str, name: &str, sub: Option<&str>| Target::Object {
        res,
        ns: ns.to_string(),
        name: name.to_string(),
        sub: sub.map(String::from),
    };
    Ok(match rest {
        [] => Target::Resources { group: group.into(), version: version.into() },
        ["namespaces", ns, plural, tail @ ..] if resources::find(group, version, plural).is_some_and(|(_, r)| r.namespaced) => {
            let (res, _) = resource(group, version, plural, path)?;
            match tail {
                [] => Target::Collection { res, ns: Some(ns.to_string()) },
                [name] => object(res, ns, name, None),
                [name, sub] => object(res, ns, name, Some(sub)),
                _ => return Err(ApiError::no_route(path)),
            }
        }
        [plural, tail @ ..] => {
            let (res, r) = resource(group, version, plural, path)?;
            match tail {
                [] => Target::Collection { res, ns: None },
                [name] if !r.namespaced => object(res, "", name, None),
                [name, sub] if !r.namespaced => object(res, "", name, Some(sub)),
                _ => return Err(ApiError::no_route(path)),
            }
        }
    })
}

/// The query parameters.
pub type Query = BTreeMap<String, String>;

/// Parses a query string (percent-decoded).
pub fn query(q: Option<&str>) -> Query {
    q.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How the client wants answers.
#[derive(Debug, Clone, Default)]
pub struct Wants {
    /// The Table form (`as=Table`).
    pub table: bool,
    /// Aggregated discovery (`v2` / `v2beta1`).
    pub aggregated: Option<&'static str>,
}

/// Reads the Accept header.
pub fn wants(headers: &HeaderMap) -> Wants {
    let accept = headers.get("accept").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let table = accept.split(',').any(|p| p.split(';').map(str::trim).any(|x| x == "as=Table"));
    Wants { table, aggregated: crate::discovery::aggregated(accept) }
}

/// Who sent a request: its field manager, else its User-Agent's first word.
pub fn who(headers: &HeaderMap, q: &Query) -> String {
    if let Some(m) = q.get("fieldManager") {
        return m.clone();
    }
    headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("unknown").split_whitespace().next().unwrap_or("unknown").to_string()
}

/// The verb of a request, as RBAC and discovery name them.
pub fn verb(method: &Method, target: &Target, q: &Query) -> &'static str {
    let watch = q.get("watch").is_some_and(|v| v == "true" || v == "1");
    match (method.as_str(), target) {
        ("GET", Target::Collection { .. }) if watch => "watch",
        ("GET", Target::Collection { .. }) => "list",
        ("GET", _) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", Target::Collection { .. }) => "deletecollection",
        ("DELETE", _) => "delete",
        _ => "unknown",
    }
}

/// The resource at an index.
pub fn res(i: usize) -> &'static Resource {
    &RESOURCES[i]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::index;

    #[test]
    fn paths_parse_as_kube_apiserver_lays_them_out() {
        let pods = index("", "pods");
        assert_eq!(target("/api/v1/namespaces/default/pods").unwrap(), Target::Collection { res: pods, ns: Some("default".into()) });
        assert_eq!(target("/api/v1/pods").unwrap(), Target::Collection { res: pods, ns: None });
        assert_eq!(
            target("/api/v1/namespaces/default/pods/x/log").unwrap(),
            Target::Object { res: pods, ns: "default".into(), name: "x".into(), sub: Some("log".into()) }
        );
        let ns = index("", "namespaces");
        assert_eq!(
            target("/api/v1/namespaces/default").unwrap(),
            Target::Object { res: ns, ns: String::new(), name: "default".into(), sub: None }
        );
        assert_eq!(
            target("/api/v1/nodes/n1").unwrap(),
            Target::Object { res: index("", "nodes"), ns: String::new(), name: "n1".into(), sub: None }
        );
        let scale = target("/apis/apps/v1/namespaces/kube-system/deployments/coredns/scale").unwrap();
        assert!(matches!(scale, Target::Object { sub: Some(s), .. } if s == "scale"));
        assert_eq!(target("/apis/apps/v1").unwrap(), Target::Resources { group: "apps".into(), version: "v1".into() });
        assert_eq!(target("/apis/nope/v1/things").unwrap_err().code, 404);
    }

    #[test]
    fn queries_are_percent_decoded() {
        let q = query(Some("labelSelector=spark-role%3Dexecutor%2Cspark-exec-id+in+%281%29&watch=true"));
        assert_eq!(q["labelSelector"], "spark-role=executor,spark-exec-id in (1)");
        assert_eq!(q["watch"], "true");
    }
}
