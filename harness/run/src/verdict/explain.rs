//! Why an app is stuck or failed, from its pods: evidence a person can act on.

use sparkrig_model::appstate::AppState;
use sparkrig_model::podspec::SparkRole;
use sparkrig_model::time::Time;
use sparkrig_model::trace::{PodPhase, PodView, TraceView};

use super::Evidence;

/// Why an app never left the empty state, when the trace and the plan can tell: its namespace
/// is not watched, the operator had no running controller, or nothing seen.
pub(crate) fn never_seen(view: &TraceView, app: &str, job_namespaces: Option<&[String]>) -> Option<Evidence> {
    let a = view.apps.get(app)?;
    if a.history.iter().any(|(_, s)| *s != AppState::New) {
        return None;
    }
    let ns = app.split_once('/').map_or("default", |(ns, _)| ns);
    if let Some(watched) = job_namespaces
        && !watched.iter().any(|n| n.is_empty() || n == ns)
    {
        return Some(Evidence::app(
            Some(a.created),
            app,
            format!(
                "stayed NEW: namespace `{ns}` is not in the Spark Operator's jobNamespaces [{}], so the operator never sees the app; \
                 add `{ns}` to `spark.jobNamespaces` (scenario: stack.sparkOperator.jobNamespaces)",
                watched.join(", ")
            ),
        ));
    }
    let controller_up = view.pods.values().any(|p| {
        p.component.as_deref() == Some("spark-operator-controller") && p.running.is_some() && p.ended.is_none() && p.deleted.is_none()
    });
    if !controller_up {
        let faults: Vec<&str> = view.active_faults.keys().map(String::as_str).collect();
        let why = if faults.is_empty() { String::new() } else { format!(" (active faults: {})", faults.join(", ")) };
        return Some(Evidence::app(Some(a.created), app, format!("stayed NEW: the Spark Operator controller has no running pod{why}")));
    }
    None
}

/// The last pod create the API server refused for the app (quota, LimitRange, PriorityClass,
/// webhook), naming the quota and namespace when a ResourceQuota refused it.
pub(crate) fn create_refused(view: &TraceView, app: &str) -> Option<Evidence> {
    let a = view.apps.get(app)?;
    let (t, pod, message) = a.create_failure.as_ref()?;
    let ns = pod.split_once('/').map_or("", |(ns, _)| ns);
    let detail = match quota_of(message) {
        Some(q) => format!("pod creation refused by ResourceQuota {ns}/{q} in namespace {ns}: {message}"),
        None => format!("pod creation refused: {message}"),
    };
    Some(Evidence { t: Some(*t), app: Some(app.to_string()), pod: Some(pod.clone()), node: None, detail })
}

/// The quota named in an `exceeded quota: <name>, …` or `failed quota: <name>: …` message.
pub(crate) fn quota_of(message: &str) -> Option<&str> {
    let rest = message.split("exceeded quota: ").nth(1).or_else(|| message.split("failed quota: ").nth(1))?;
    rest.split([',', ':']).next()
}

/// Up to three of the app's pods that are Pending (with the scheduler's reason), waiting,
/// stuck Terminating, or failed, newest first; the last refused pod create; why it stayed NEW.
pub(crate) fn app(view: &TraceView, app: &str) -> Vec<Evidence> {
    app_with(view, app, None)
}

/// [`app`], knowing the operator's `jobNamespaces`.
pub(crate) fn app_with(view: &TraceView, app: &str, job_namespaces: Option<&[String]>) -> Vec<Evidence> {
    let Some(a) = view.apps.get(app) else { return vec![] };
    let mut out = Vec::new();
    out.extend(never_seen(view, app, job_namespaces));
    out.extend(create_refused(view, app));
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
    if let (Some((t, by)), Some(_)) = (&p.preempted, &p.terminating) {
        return Some(ev(
            *t,
            format!("{} (priority {}) preempted by {by} (DisruptionTarget: PreemptionByScheduler)", role_name(p), p.priority),
        ));
    }
    if let Some((t, reason)) = &p.terminating {
        let node = p.node().and_then(|n| view.nodes.get(n));
        let node_state = node.map_or("", |n| if n.ready { "" } else { " on a NotReady node" });
        return Some(ev(*t, format!("{} stuck Terminating{node_state} ({reason})", role_name(p))));
    }
    if let Some((t, reason, message)) = &p.waiting {
        return Some(ev(*t, format!("{} waiting: {reason}: {message}", role_name(p))));
    }
    if p.is_pending()
        && let Some((t, node)) = &p.nominated
    {
        return Some(ev(
            *t,
            format!(
                "{} (priority {}) Pending, nominated to node {node}: waiting for the pods it preempted to terminate",
                role_name(p),
                p.priority
            ),
        ));
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
