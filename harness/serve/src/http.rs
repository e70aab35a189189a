//! The router and the reads: discovery, OpenAPI, get, list (chunked, selectors, Tables), and
//! dispatch of watches and writes. Plain HTTP/1.1 on loopback by default; HTTPS with a
//! self-signed certificate when asked.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, State};
use axum::http::{Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};

use crate::Server;
use crate::discovery;
use crate::kubeconfig::Cert;
use crate::objects::Obj;
use crate::request::{self, Query, Target, Wants, res};
use crate::resources::Resource;
use crate::select::{Fields, Labels};
use crate::status::ApiError;
use crate::table::{self, Include};

/// The router: every path goes to [`handle`].
pub fn router(server: Arc<Server>) -> Router {
    Router::new().fallback(handle).with_state(server)
}

/// Serves connections until the task is aborted.
pub async fn accept(listener: tokio::net::TcpListener, router: Router, cert: Option<Cert>) {
    let Some(cert) = cert else {
        let _ = axum::serve(listener, router).await;
        return;
    };
    let config = match tls_config(&cert) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sparkrig serve: TLS: {e}");
            return;
        }
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let (acceptor, router) = (acceptor.clone(), router.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let service = hyper_util::service::TowerToHyperService::new(router);
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .http1_only()
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await;
        });
    }
}

fn tls_config(cert: &Cert) -> Result<tokio_rustls::rustls::ServerConfig, String> {
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let certs = vec![CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).map_err(|e| e.to_string())?];
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).map_err(|e| e.to_string())?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A JSON answer.
pub fn json_response(code: StatusCode, body: &Value) -> Response {
    (code, [("content-type", "application/json")], body.to_string()).into_response()
}

fn ok(body: &Value) -> Response {
    json_response(StatusCode::OK, body)
}

/// Everything about a request a handler needs.
pub struct Req {
    /// Method.
    pub method: Method,
    /// What the path names.
    pub target: Target,
    /// Query parameters.
    pub query: Query,
    /// Accept.
    pub wants: Wants,
    /// Content-Type.
    pub content_type: String,
    /// Field manager or User-Agent.
    pub by: String,
    /// Body.
    pub body: Bytes,
}

async fn handle(State(server): State<Arc<Server>>, req: Request<Body>) -> Response {
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = request::query(parts.uri.query());
    let target = match request::target(&path) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let headers = parts.headers.clone();
    let upgrade = headers.get("upgrade").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        // fabric8 opens every watch as a WebSocket first (reference/kube-api.md §7.1).
        let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &server).await {
            Ok(ws) => ws,
            Err(e) => return e.into_response(),
        };
        let wants = request::wants(&headers);
        return match crate::watch::Watch::new(&server, &target, &query, wants) {
            Ok(w) => ws.on_upgrade(move |socket| w.over_websocket(server, socket)),
            Err(e) => e.into_response(),
        };
    }
    let body = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(b) => b,
        Err(e) => return ApiError::bad_request(format!("cannot read the request body: {e}")).into_response(),
    };
    let r = Req {
        method: parts.method.clone(),
        wants: request::wants(&headers),
        content_type: headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string(),
        by: request::who(&headers, &query),
        target,
        query,
        body,
    };
    match dispatch(&server, r).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn dispatch(server: &Arc<Server>, r: Req) -> Result<Response, ApiError> {
    let verb = request::verb(&r.method, &r.target, &r.query);
    match (&r.target, verb) {
        // The control plane's minor now (a `kubernetes` upgrade step moves it).
        (Target::Version, "get") => Ok(ok(&discovery::version(server.lock().sim.store().kubernetes_minor))),
        (Target::Health, "get") => Ok((StatusCode::OK, "ok").into_response()),
        (Target::Clock, "get") => {
            let c = server.lock();
            Ok(ok(&json!({"virtualMillis": c.clock.now().as_ms(), "speed": c.clock.speed(), "simulatedMillis": c.sim.now().as_ms()})))
        }
        (Target::Api, "get") => Ok(match r.wants.aggregated {
            Some(v) => aggregated(&discovery::aggregated_list(true, v), v),
            None => ok(&discovery::api(&server.url)),
        }),
        (Target::Apis, "get") => Ok(match r.wants.aggregated {
            Some(v) => aggregated(&discovery::aggregated_list(false, v), v),
            None => ok(&discovery::apis()),
        }),
        (Target::Resources { group, version }, "get") => {
            discovery::resource_list(group, version).map(|v| ok(&v)).ok_or_else(|| ApiError::no_route(&format!("/apis/{group}/{version}")))
        }
        (Target::OpenApiIndex, "get") => Ok(ok(&discovery::openapi_index())),
        (Target::OpenApiDoc(p), "get") => {
            discovery::openapi_document(p).map(|v| ok(&v)).ok_or_else(|| ApiError::no_route(&format!("/openapi/v3/{p}")))
        }
        (Target::Collection { .. }, "watch") => {
            let w = crate::watch::Watch::new(server, &r.target, &r.query, r.wants.clone())?;
            Ok(w.over_http(server.clone()))
        }
        (Target::Collection { res: i, ns }, "list") => list(server, &r, *i, ns.as_deref()),
        (Target::Object { res: i, ns, name, sub: None }, "get") => get(server, &r, *i, ns, name),
        (Target::Object { res: i, ns, name, sub: Some(sub) }, "get") if sub == "log" && *i == crate::resources::index("", "pods") => {
            crate::writes::log(server, &r.query, ns, name).await
        }
        // A verb discovery does not list for the resource (read-only kinds: ReplicaSets,
        // DaemonSets, ResourceQuotas, PriorityClasses): kube-apiserver's 405.
        (Target::Object { res: i, sub: None, .. } | Target::Collection { res: i, .. }, v) if !request::res(*i).verbs.contains(&v) => {
            Err(ApiError::not_allowed("the server does not allow this method on the requested resource"))
        }
        (Target::Object { .. } | Target::Collection { .. }, _) => crate::writes::write(server, &r, verb),
        _ => Err(ApiError::not_allowed(format!("{} is not supported on this path", r.method))),
    }
}

fn aggregated(body: &Value, v: &str) -> Response {
    (StatusCode::OK, [("content-type", discovery::aggregated_content_type(v))], body.to_string()).into_response()
}

/// The selectors of a list or watch.
pub fn selectors(r: &Resource, q: &Query) -> Result<(Labels, Fields), ApiError> {
    let labels = Labels::parse(q.get("labelSelector").map_or("", String::as_str)).map_err(ApiError::bad_request)?;
    let fields = Fields::parse(q.get("fieldSelector").map_or("", String::as_str), r.plural).map_err(ApiError::bad_request)?;
    Ok((labels, fields))
}

/// `includeObject`.
pub fn include(q: &Query) -> Include {
    match q.get("includeObject").map(String::as_str) {
        Some("Object") => Include::Object,
        Some("None") => Include::None,
        _ => Include::Metadata,
    }
}

/// The 422 a real server answers for inconsistent list options (§2.2).
fn check_list_options(q: &Query, watch: bool) -> Result<(), ApiError> {
    let invalid = |why: &str| ApiError::invalid("ListOptions", "", "resourceVersionMatch", why);
    let rv = q.get("resourceVersion");
    match q.get("resourceVersionMatch").map(String::as_str) {
        Some(_) if rv.is_none() => return Err(invalid("resourceVersionMatch is forbidden unless resourceVersion is provided")),
        Some(_) if q.contains_key("continue") => return Err(invalid("resourceVersionMatch is forbidden when continue is provided")),
        Some("Exact") if rv.is_some_and(|v| v == "0") => {
            return Err(invalid("resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""));
        }
        Some(m) if !["Exact", "NotOlderThan"].contains(&m) => return Err(invalid(&format!("Unsupported value: \"{m}\""))),
        _ => {}
    }
    let initial = q.get("sendInitialEvents").is_some_and(|v| v == "true");
    if initial && !watch {
        return Err(ApiError::invalid("ListOptions", "", "sendInitialEvents", "sendInitialEvents is forbidden for list"));
    }
    if watch && initial && q.get("resourceVersionMatch").map(String::as_str) != Some("NotOlderThan") {
        return Err(invalid("sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"));
    }
    Ok(())
}

fn list(server: &Arc<Server>, r: &Req, i: usize, ns: Option<&str>) -> Result<Response, ApiError> {
    let resource = res(i);
    if !resource.allows("list") {
        return Err(ApiError::not_allowed(format!("list is not supported on {}", resource.plural)));
    }
    check_list_options(&r.query, false)?;
    let (labels, fields) = selectors(resource, &r.query)?;
    let mut c = server.lock();
    let now = c.clock.now();
    c.advance(now);
    let rv = c.objects.rv();
    if let Some(want) = r.query.get("resourceVersion").and_then(|v| v.parse::<u64>().ok())
        && r.query.get("resourceVersionMatch").is_some_and(|m| m == "Exact")
        && want != rv
    {
        return Err(ApiError::expired(format!("too old resource version: {want} ({rv})")));
    }
    let all: Vec<Obj> = c.objects.list(i, ns).filter(|o| labels.matches(o) && fields.matches(o)).cloned().collect();
    let now_ms = c.clock.unix_ms(c.sim.now());
    drop(c);
    let start: usize = match r.query.get("continue") {
        Some(t) => {
            t.strip_prefix("sparkrig:").and_then(|n| n.parse().ok()).ok_or_else(|| ApiError::bad_request("continue token is not valid"))?
        }
        None => 0,
    };
    let limit = r.query.get("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0).unwrap_or(usize::MAX);
    let page: Vec<&Value> = all.iter().skip(start).take(limit).map(|o| &**o).collect();
    let remaining = all.len().saturating_sub(start + page.len());
    let cont = (remaining > 0).then(|| format!("sparkrig:{}", start + page.len()));
    if r.wants.table {
        return Ok(ok(&table::table(resource, &page, include(&r.query), now_ms, rv, cont.as_deref(), true)));
    }
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = &cont {
        meta["continue"] = c.clone().into();
        meta["remainingItemCount"] = remaining.into();
    }
    Ok(ok(&json!({"kind": format!("{}List", resource.kind), "apiVersion": resource.group_version(), "metadata": meta, "items": page})))
}

fn get(server: &Arc<Server>, r: &Req, i: usize, ns: &str, name: &str) -> Result<Response, ApiError> {
    let resource = res(i);
    let mut c = server.lock();
    let now = c.clock.now();
    c.advance(now);
    let obj = c.objects.get(i, ns, name).cloned().ok_or_else(|| ApiError::not_found(&resource.qualified(), name))?;
    if r.wants.table {
        let now_ms = c.clock.unix_ms(c.sim.now());
        return Ok(ok(&table::table(resource, &[&obj], include(&r.query), now_ms, c.objects.rv(), None, true)));
    }
    Ok(ok(&obj))
}
