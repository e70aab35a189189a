//! Watches (reference/kube-api.md §2.1–2.4, §7.1): newline-delimited `{"type","object"}` events
//! over a chunked HTTP response, or one event per text message over a WebSocket (fabric8 tries
//! that first and hangs on a streamed 200). Without a resourceVersion (or with `0`) a watch
//! starts with a synthetic ADDED per object; from version `n` it replays what happened since;
//! a version older than the kept history gets one ERROR event with a 410 Status, then the
//! stream ends (kube-rs relists, fabric8 informers relist, client-go's reflector relists).
//! Bookmarks when asked, about once a minute; `sendInitialEvents` ends its initial phase with
//! the `k8s.io/initial-events-end` bookmark.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::Server;
use crate::http::{include, selectors};
use crate::objects::{Change, WatchEvent};
use crate::request::{Query, Target, Wants, res};
use crate::select::{Fields, Labels};
use crate::status::ApiError;
use crate::table::{self, Include};

/// How often a watch that asked for bookmarks gets one (the watch cache's cadence).
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);
/// The server's default watch timeout when the client sets none: `--min-request-timeout`
/// 1800 s (the real server picks a random value in [1800, 3600)).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// What a watch starts with.
enum Start {
    Event(Change, crate::objects::Obj, i64, u64),
    Bookmark(u64),
}

/// A watch request, validated.
pub struct Watch {
    res: usize,
    ns: Option<String>,
    labels: Labels,
    fields: Fields,
    table: bool,
    include: Include,
    /// Replay from this version (None: start with the current objects).
    from: Option<u64>,
    initial_end_bookmark: bool,
    bookmarks: bool,
    timeout: Duration,
}

impl Watch {
    /// Parses a watch of a collection.
    pub fn new(_server: &Arc<Server>, target: &Target, q: &Query, wants: Wants) -> Result<Watch, ApiError> {
        let Target::Collection { res: i, ns } = target else {
            return Err(ApiError::bad_request(
                "watch needs a collection (…/pods?watch=true, with fieldSelector=metadata.name=… for one object)",
            ));
        };
        let resource = res(*i);
        if !resource.allows("watch") {
            return Err(ApiError::not_allowed(format!("watch is not supported on {}", resource.plural)));
        }
        let initial = q.get("sendInitialEvents").is_some_and(|v| v == "true");
        if initial && q.get("resourceVersionMatch").map(String::as_str) != Some("NotOlderThan") {
            return Err(ApiError::invalid(
                "ListOptions",
                "",
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        let (labels, fields) = selectors(resource, q)?;
        let from = match q.get("resourceVersion").map(String::as_str) {
            None | Some("") | Some("0") => None,
            Some(_) if initial => None,
            Some(v) => Some(v.parse::<u64>().map_err(|_| ApiError::bad_request(format!("resourceVersion {v} is not a number")))?),
        };
        let timeout = q.get("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).map_or(DEFAULT_TIMEOUT, Duration::from_secs);
        Ok(Watch {
            res: *i,
            ns: ns.clone(),
            labels,
            fields,
            table: wants.table,
            include: include(q),
            from,
            initial_end_bookmark: initial,
            bookmarks: q.get("allowWatchBookmarks").is_some_and(|v| v == "true") || initial,
            timeout,
        })
    }

    fn selects(&self, ev: &WatchEvent) -> bool {
        ev.res == self.res
            && self.ns.as_deref().is_none_or(|ns| ev.obj["metadata"]["namespace"].as_str() == Some(ns))
            && self.labels.matches(&ev.obj)
            && self.fields.matches(&ev.obj)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Value {
        let r = res(self.res);
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        json!({"type": "BOOKMARK", "object": {"kind": r.kind, "apiVersion": r.group_version(), "metadata": meta}})
    }

    /// Encodes one event (a one-row Table for `kubectl get -w`).
    fn event(&self, change: Change, obj: &Value, first: &mut bool, now_ms: i64, rv: u64) -> Value {
        let object = if self.table {
            let t = table::table(res(self.res), &[obj], self.include, now_ms, rv, None, *first);
            *first = false;
            t
        } else {
            obj.clone()
        };
        json!({"type": change.as_str(), "object": object})
    }

    /// Under the lock: subscribes to changes, then gathers what the watch starts with (the
    /// current objects, or the changes since its version), or the 410 Status for a version no
    /// longer kept.
    #[allow(clippy::type_complexity)]
    fn start(&self, server: &Server) -> Result<(broadcast::Receiver<Arc<WatchEvent>>, u64, Vec<Start>), Value> {
        let mut c = server.lock();
        let now = c.clock.now();
        c.advance(now);
        let rx = c.objects.subscribe();
        let rv = c.objects.rv();
        let now_ms = c.clock.unix_ms(c.sim.now());
        let mut out = Vec::new();
        match self.from {
            None => {
                for o in c.objects.list(self.res, self.ns.as_deref()).filter(|o| self.labels.matches(o) && self.fields.matches(o)) {
                    out.push(Start::Event(Change::Added, o.clone(), now_ms, rv));
                }
                if self.initial_end_bookmark {
                    out.push(Start::Bookmark(rv));
                }
            }
            Some(from) => match c.objects.since(from) {
                Ok(events) => {
                    for e in events.iter().filter(|e| self.selects(e)) {
                        out.push(Start::Event(e.change, e.obj.clone(), now_ms, e.rv));
                    }
                }
                Err(oldest) => return Err(ApiError::expired(format!("too old resource version: {from} ({})", oldest - 1)).status()),
            },
        }
        Ok((rx, rv, out))
    }

    fn event_value(&self, s: Start, first: &mut bool) -> Value {
        match s {
            Start::Event(change, obj, now_ms, rv) => self.event(change, &obj, first, now_ms, rv),
            Start::Bookmark(rv) => self.bookmark(rv, true),
        }
    }

    /// Produces the events into `tx` until the timeout, an expired version, or the client
    /// goes away.
    async fn produce(self, server: Arc<Server>, tx: mpsc::Sender<Bytes>) {
        let mut first = true;
        let send = |v: Value| {
            let mut line = v.to_string();
            line.push('\n');
            Bytes::from(line)
        };
        let (mut rx, mut last, initial) = match self.start(&server) {
            Ok(x) => x,
            Err(expired) => {
                let _ = tx.send(send(json!({"type": "ERROR", "object": expired}))).await;
                return;
            }
        };
        for v in initial {
            if tx.send(send(self.event_value(v, &mut first))).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
        ticker.tick().await;
        loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Ok(ev) if ev.rv > last => {
                        last = ev.rv;
                        if self.selects(&ev) {
                            let now_ms = if self.table {
                                let c = server.lock();
                                c.clock.unix_ms(c.sim.now())
                            } else {
                                0
                            };
                            if tx.send(send(self.event(ev.change, &ev.obj, &mut first, now_ms, ev.rv))).await.is_err() {
                                return;
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Too slow to keep up: the client relists, as after a 410.
                        let status = ApiError::expired(format!("too old resource version: {last} (the watch fell behind)")).status();
                        let _ = tx.send(send(json!({"type": "ERROR", "object": status}))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = ticker.tick(), if self.bookmarks => {
                    let rv = server.lock().objects.rv();
                    if tx.send(send(self.bookmark(rv, false))).await.is_err() {
                        return;
                    }
                }
                _ = tx.closed() => return,
                _ = &mut deadline => return,
            }
        }
    }

    /// A chunked HTTP response (`Content-Type: application/json`, one event per line).
    pub fn over_http(self, server: Arc<Server>) -> Response {
        let (tx, rx) = mpsc::channel::<Bytes>(256);
        tokio::spawn(self.produce(server, tx));
        let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx)) });
        ([("content-type", "application/json"), ("cache-control", "no-cache, private")], Body::from_stream(stream)).into_response()
    }

    /// The same events, one per WebSocket text message.
    pub async fn over_websocket(self, server: Arc<Server>, mut socket: WebSocket) {
        let (tx, mut rx) = mpsc::channel::<Bytes>(256);
        tokio::spawn(self.produce(server, tx));
        while let Some(line) = rx.recv().await {
            let text = String::from_utf8_lossy(line.trim_ascii_end()).into_owned();
            if socket.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
        let _ = socket.send(Message::Close(None)).await;
    }
}
