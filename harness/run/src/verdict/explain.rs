//! Why an app is stuck or failed, from its pods: evidence a person can act on.

use sparkrig_model::podspec::SparkRole;
use sparkrig_model::time::Time;
use sparkrig_model::trace::{PodPhase, PodView, TraceView};

use super::Evidence;

/// Up to three of the app's pods that are Pending (with the scheduler's reason), waiting,
/// stuck Terminating, or failed, newest first.
pub(crate) fn app(view: &TraceView, app: &str) -> Vec<Evidence> {
    let Some(a) = view.apps.get(app) else { return vec![] };
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for key in a.pods.iter().rev() {
        if !seen.insert(key) || out.len() >= 3 {
            continue;
        }
        let Some(p) = view.pods.get(key) else { continue };
        if let Some(e) = pod(key, p, view) {
            out.push(e);
        }
    }
    out
}

/// One line on what a pod is doing wrong, if anything.
pub(crate) fn pod(key: &str, p: &PodView, view: &TraceView) -> Option<Evidence> {
    let ev = |t: Time, detail: String| Evidence {
        t: Some(t),
        app: p.app.as_deref().map(String::from),
        pod: Some(key.to_string()),
        node: p.node().map(String::from),
        detail,
    };
    if let Some((t, PodPhase::Failed, code, reason, message)) = &p.ended {
        let code = code.map_or("?".into(), |c| c.to_string());
        return Some(ev(
            *t,
            format!("{} exited {code} ({reason}){}", role_name(p), if message.is_empty() { String::new() } else { format!(": {message}") }),
        ));
    }
    if p.deleted.is_some() || p.ended.is_some() {
        return None;
    }
    if let Some((t, reason)) = &p.terminating {
        let node = p.node().and_then(|n| view.nodes.get(n));
        let node_state = node.map_or("", |n| if n.ready { "" } else { " on a NotReady node" });
        return Some(ev(*t, format!("{} stuck Terminating{node_state} ({reason})", role_name(p))));
    }
    if let Some((t, reason, message)) = &p.waiting {
        return Some(ev(*t, format!("{} waiting: {reason}: {message}", role_name(p))));
    }
    if p.is_pending() {
        return Some(match &p.unschedulable {
            Some((t, m)) => ev(*t, format!("{} Pending: {m}", role_name(p))),
            None => ev(p.created, format!("{} Pending", role_name(p))),
        });
    }
    None
}

fn role_name(p: &PodView) -> &'static str {
    match p.role {
        Some(SparkRole::Driver) => "driver",
        Some(SparkRole::Executor) => "executor",
        None => "pod",
    }
}
