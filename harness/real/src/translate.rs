//! Kubernetes objects, as watchers deliver them, → the trace events the simulator emits, so the
//! same verdict code judges both. A [`Translator`] remembers what it has reported per object and
//! emits only changes: a pod's creation, its scheduling failures (the scheduler's
//! `PodScheduled=False/Unschedulable` message), its binding, waiting reasons, start,
//! deletion request, terminal phase with the main container's exit code, and deletion; a node's
//! registration, readiness, taints, cordon and removal; a SparkApplication's creation and every
//! `status.applicationState` change with its attempts counters.
//!
//! Times are when sparkrig observed the change (watch latency included), not the objects'
//! second-resolution timestamps.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::Value;
use sparkrig_model::appstate::AppState;
use sparkrig_model::kube::{Labels, Taint, TaintEffect, Toleration, TolerationOperator};
use sparkrig_model::podspec::{self, SparkRole};
use sparkrig_model::quantity::{parse_bytes, parse_cpu_millis};
use sparkrig_model::sparkapp::SparkApplication;
use sparkrig_model::trace::{Event, PodPhase};

/// Spark's container names for the main process (`Constants.scala`).
const MAIN_CONTAINERS: [&str; 2] = ["spark-kubernetes-driver", "spark-kubernetes-executor"];

#[derive(Debug, Default)]
struct PodSeen {
    uid: String,
    unschedulable: Option<String>,
    scheduled: bool,
    waiting: Option<(String, String)>,
    running: bool,
    terminating: bool,
    ended: bool,
}

#[derive(Debug, Default)]
struct NodeSeen {
    ready: Option<bool>,
    taints: Vec<Taint>,
    unschedulable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AppSeen {
    state: AppState,
    submissions: u32,
    executions: u32,
}

/// Object → event translation with memory of what was reported.
#[derive(Debug)]
pub struct Translator {
    group_label: String,
    interruptible: BTreeSet<String>,
    pods: HashMap<String, PodSeen>,
    nodes: HashMap<String, NodeSeen>,
    apps: HashMap<String, AppSeen>,
}

fn key(ns: Option<&String>, name: Option<&String>) -> String {
    format!("{}/{}", ns.map_or("default", |s| s.as_str()), name.map_or("", |s| s.as_str()))
}

fn labels(l: Option<&std::collections::BTreeMap<String, String>>) -> Labels {
    l.cloned().unwrap_or_default().into_iter().collect()
}

fn effect(s: &str) -> Option<TaintEffect> {
    match s {
        "NoSchedule" => Some(TaintEffect::NoSchedule),
        "PreferNoSchedule" => Some(TaintEffect::PreferNoSchedule),
        "NoExecute" => Some(TaintEffect::NoExecute),
        _ => None,
    }
}

/// Whether a pod belongs to this run: Spark pods only of the scenario's apps (a shared cluster
/// runs other teams' Spark jobs too), every platform pod the watches select.
pub fn pod_in_scope(pod: &Pod, apps: &BTreeSet<String>) -> bool {
    let labels = pod.metadata.labels.as_ref();
    match (labels.and_then(|l| l.get("spark-role")), labels.and_then(|l| l.get("sparkoperator.k8s.io/app-name"))) {
        (Some(_), Some(app)) => apps.contains(&format!("{}/{app}", pod.metadata.namespace.as_deref().unwrap_or("default"))),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// The platform component a pod belongs to, by the labels its chart or manifest sets.
pub fn component(l: &Labels) -> Option<String> {
    if l.get("k8s-app").map(String::as_str) == Some("kube-dns") {
        return Some("coredns".into());
    }
    let name = l.get("app.kubernetes.io/name").map(String::as_str);
    match (name, l.get("app.kubernetes.io/component").map(String::as_str)) {
        (Some("spark-operator"), Some(c)) => Some(format!("spark-operator-{c}")),
        (Some("spark-history-server"), _) => Some("history-server".into()),
        _ => None,
    }
}

impl Translator {
    /// For a topology: nodes are grouped by `group_label`; nodes of `interruptible` groups are
    /// spot.
    pub fn new(group_label: &str, interruptible: impl IntoIterator<Item = String>) -> Translator {
        Translator {
            group_label: group_label.into(),
            interruptible: interruptible.into_iter().collect(),
            pods: HashMap::new(),
            nodes: HashMap::new(),
            apps: HashMap::new(),
        }
    }

    /// A pod was added or changed.
    pub fn pod(&mut self, pod: &Pod) -> Vec<Event> {
        let mut out = Vec::new();
        let m = &pod.metadata;
        let k = key(m.namespace.as_ref(), m.name.as_ref());
        let uid = m.uid.clone().unwrap_or_default();
        if self.pods.get(&k).is_some_and(|s| s.uid != uid) {
            // Recreated under the same name (a rerun's driver) before we saw the deletion.
            self.pods.remove(&k);
            out.push(Event::PodDeleted { pod: k.clone(), reason: "replaced by a new pod of the same name".into() });
        }
        let l = labels(m.labels.as_ref());
        let spec = pod.spec.clone().unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        if !self.pods.contains_key(&k) {
            let role = match l.get("spark-role").map(String::as_str) {
                Some("driver") => Some(SparkRole::Driver),
                Some("executor") => Some(SparkRole::Executor),
                _ => None,
            };
            let app = l.get("sparkoperator.k8s.io/app-name").map(|a| format!("{}/{a}", m.namespace.as_deref().unwrap_or("default")));
            let (mut cpu, mut mem) = (0, 0);
            for c in &spec.containers {
                let req = c.resources.as_ref().and_then(|r| r.requests.as_ref());
                cpu += req.and_then(|r| r.get("cpu")).and_then(|q| parse_cpu_millis(&q.0).ok()).unwrap_or(0);
                mem += req.and_then(|r| r.get("memory")).and_then(|q| parse_bytes(&q.0).ok()).unwrap_or(0);
            }
            let tolerations = spec
                .tolerations
                .iter()
                .flatten()
                .map(|t| Toleration {
                    key: t.key.clone().unwrap_or_default(),
                    operator: match t.operator.as_deref() {
                        Some("Exists") => Some(TolerationOperator::Exists),
                        Some("Equal") => Some(TolerationOperator::Equal),
                        _ => None,
                    },
                    value: t.value.clone().unwrap_or_default(),
                    effect: t.effect.as_deref().and_then(effect),
                    toleration_seconds: t.toleration_seconds,
                })
                .collect();
            out.push(Event::PodCreated {
                pod: k.clone(),
                app,
                role,
                component: component(&l),
                node_selector: labels(spec.node_selector.as_ref()),
                tolerations,
                cpu_millis: cpu,
                memory_bytes: mem,
                priority: spec.priority.unwrap_or(0),
            });
            self.pods.insert(k.clone(), PodSeen { uid, ..PodSeen::default() });
        }
        let seen = self.pods.get_mut(&k).expect("inserted above");
        let conditions = status.conditions.clone().unwrap_or_default();
        if let Some(node) = spec.node_name.as_ref().filter(|_| !seen.scheduled) {
            seen.scheduled = true;
            out.push(Event::PodScheduled { pod: k.clone(), node: node.clone() });
        } else if !seen.scheduled
            && let Some(c) =
                conditions.iter().find(|c| c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some("Unschedulable"))
        {
            let msg = c.message.clone().unwrap_or_default();
            if seen.unschedulable.as_ref() != Some(&msg) {
                seen.unschedulable = Some(msg.clone());
                out.push(Event::PodUnschedulable { pod: k.clone(), message: msg });
            }
        }
        let statuses = status.container_statuses.clone().unwrap_or_default();
        let waiting = statuses.iter().find_map(|cs| {
            let w = cs.state.as_ref()?.waiting.as_ref()?;
            let reason = w.reason.clone().unwrap_or_default();
            // Normal start-up, not a problem to report.
            (!matches!(reason.as_str(), "" | "ContainerCreating" | "PodInitializing"))
                .then(|| (reason, w.message.clone().unwrap_or_default()))
        });
        if let Some(w) = waiting
            && seen.waiting.as_ref() != Some(&w)
        {
            out.push(Event::PodWaiting { pod: k.clone(), reason: w.0.clone(), message: w.1.clone() });
            seen.waiting = Some(w);
        }
        let phase = status.phase.clone().unwrap_or_default();
        let all_started = !statuses.is_empty()
            && statuses.iter().all(|cs| cs.started == Some(true) || cs.state.as_ref().is_some_and(|s| s.running.is_some()));
        if !seen.running
            && (phase == "Running" && all_started
                || matches!(phase.as_str(), "Succeeded" | "Failed")
                    && seen.scheduled
                    && statuses
                        .iter()
                        .any(|cs| cs.state.as_ref().is_some_and(|s| s.terminated.as_ref().is_some_and(|t| t.started_at.is_some()))))
        {
            seen.running = true;
            seen.waiting = None;
            out.push(Event::PodRunning { pod: k.clone() });
        }
        if m.deletion_timestamp.is_some() && !seen.terminating {
            seen.terminating = true;
            out.push(Event::PodTerminating { pod: k.clone(), reason: "deletion requested (deletionTimestamp set)".into() });
        }
        if matches!(phase.as_str(), "Succeeded" | "Failed") && !seen.ended {
            seen.ended = true;
            let main = statuses
                .iter()
                .find(|cs| MAIN_CONTAINERS.contains(&cs.name.as_str()))
                .or_else(|| spec.containers.first().and_then(|c| statuses.iter().find(|cs| cs.name == c.name)));
            let term = main.and_then(|cs| cs.state.as_ref()?.terminated.clone());
            let reason = status.reason.clone().or_else(|| term.as_ref().and_then(|t| t.reason.clone())).unwrap_or_else(|| phase.clone());
            let message = status.message.clone().or_else(|| term.as_ref().and_then(|t| t.message.clone())).unwrap_or_default();
            out.push(Event::PodTerminated {
                pod: k.clone(),
                phase: if phase == "Succeeded" { PodPhase::Succeeded } else { PodPhase::Failed },
                exit_code: term.map(|t| t.exit_code),
                reason,
                message: message.trim().to_string(),
            });
        }
        out
    }

    /// A pod object is gone. Its last state may show what no earlier event did (a watch that
    /// relisted, or a pod that ended and was deleted between two observations): that comes
    /// first.
    pub fn pod_deleted(&mut self, pod: &Pod) -> Vec<Event> {
        let k = key(pod.metadata.namespace.as_ref(), pod.metadata.name.as_ref());
        match self.pods.get(&k) {
            Some(s) if Some(&s.uid) == pod.metadata.uid.as_ref() || pod.metadata.uid.is_none() => {
                let mut out = self.pod(pod);
                self.pods.remove(&k);
                out.push(Event::PodDeleted { pod: k, reason: "pod object deleted".into() });
                out
            }
            _ => vec![],
        }
    }

    /// A node was added or changed.
    pub fn node(&mut self, node: &Node) -> Vec<Event> {
        let mut out = Vec::new();
        let name = node.metadata.name.clone().unwrap_or_default();
        let l = labels(node.metadata.labels.as_ref());
        let spec = node.spec.clone().unwrap_or_default();
        let taints: Vec<Taint> = spec
            .taints
            .iter()
            .flatten()
            .filter_map(|t| Some(Taint::new(&t.key, t.value.as_deref().unwrap_or(""), effect(&t.effect)?)))
            .collect();
        let unschedulable = spec.unschedulable.unwrap_or(false);
        if !self.nodes.contains_key(&name) {
            let group = l.get(&self.group_label).cloned().unwrap_or_default();
            let alloc = node.status.as_ref().and_then(|s| s.allocatable.clone()).unwrap_or_default();
            let q = |k: &str| alloc.get(k).map(|q| q.0.clone()).unwrap_or_default();
            out.push(Event::NodeAdded {
                node: name.clone(),
                interruptible: self.interruptible.contains(&group),
                group,
                labels: l,
                taints: taints.clone(),
                cpu_millis: parse_cpu_millis(&q("cpu")).unwrap_or(0),
                memory_bytes: parse_bytes(&q("memory")).unwrap_or(0),
                pods: q("pods").parse().unwrap_or(0),
                // Versions are recorded for scenarios that involve them; the kube backend
                // refuses upgrade steps, so its traces never do.
                kubelet_version: None,
            });
            self.nodes.insert(name.clone(), NodeSeen { ready: None, taints: taints.clone(), unschedulable: false });
        }
        let seen = self.nodes.get_mut(&name).expect("inserted above");
        if seen.taints != taints {
            seen.taints = taints.clone();
            out.push(Event::NodeTaints { node: name.clone(), taints });
        }
        if seen.unschedulable != unschedulable {
            seen.unschedulable = unschedulable;
            out.push(Event::NodeUnschedulable { node: name.clone(), unschedulable });
        }
        let ready = node.status.as_ref().and_then(|s| s.conditions.as_ref()).and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
        let is_ready = ready.is_some_and(|c| c.status == "True");
        if seen.ready != Some(is_ready) && (ready.is_some() || seen.ready.is_some()) {
            seen.ready = Some(is_ready);
            out.push(if is_ready {
                Event::NodeReady { node: name }
            } else {
                let c = ready.expect("checked");
                let reason = [c.reason.clone(), c.message.clone()].into_iter().flatten().collect::<Vec<_>>().join(": ");
                Event::NodeNotReady { node: name, reason: if reason.is_empty() { format!("Ready={}", c.status) } else { reason } }
            });
        }
        out
    }

    /// A node object is gone.
    pub fn node_deleted(&mut self, node: &Node) -> Vec<Event> {
        let name = node.metadata.name.clone().unwrap_or_default();
        if self.nodes.remove(&name).is_some() {
            vec![Event::NodeRemoved { node: name, reason: "Node object deleted".into() }]
        } else {
            vec![]
        }
    }

    /// A SparkApplication (as JSON) was added or changed.
    pub fn app(&mut self, obj: &Value) -> Vec<Event> {
        let mut out = Vec::new();
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or("default");
        let k = format!("{ns}/{}", obj["metadata"]["name"].as_str().unwrap_or(""));
        if !self.apps.contains_key(&k) {
            // The operator's defaulting webhook ran if the object exists (or it was Ignore'd: the
            // count is the same unless instances is unset).
            let executors = serde_json::from_value::<SparkApplication>(obj.clone())
                .map(|a| podspec::initial_executors(&a, true))
                .unwrap_or_else(|_| obj["spec"]["executor"]["instances"].as_u64().unwrap_or(0) as u32);
            out.push(Event::AppCreated { app: k.clone(), executors, scheduled_by: None });
            self.apps.insert(k.clone(), AppSeen { state: AppState::New, submissions: 0, executions: 0 });
        }
        let status = &obj["status"];
        let state = status["applicationState"]["state"].as_str().unwrap_or("").parse::<AppState>().unwrap_or(AppState::Unknown);
        let now = AppSeen {
            state,
            submissions: status["submissionAttempts"].as_u64().unwrap_or(0) as u32,
            executions: status["executionAttempts"].as_u64().unwrap_or(0) as u32,
        };
        let seen = self.apps.get_mut(&k).expect("inserted above");
        // A repeated submission attempt is reported too, as the simulator does.
        if *seen != now && (now.state != seen.state || now.submissions > seen.submissions) {
            out.push(Event::AppState {
                app: k,
                state: now.state,
                message: status["applicationState"]["errorMessage"].as_str().unwrap_or("").to_string(),
                submission_attempts: now.submissions,
                execution_attempts: now.executions,
            });
        }
        *seen = now;
        out
    }

    /// A SparkApplication is gone.
    pub fn app_deleted(&mut self, obj: &Value) {
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or("default");
        self.apps.remove(&format!("{ns}/{}", obj["metadata"]["name"].as_str().unwrap_or("")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn executor(status: Value, node: Option<&str>, deleting: bool) -> Pod {
        let mut meta = json!({
            "name": "pi-exec-1", "namespace": "default", "uid": "u1",
            "labels": {"spark-role": "executor", "sparkoperator.k8s.io/app-name": "pi"},
        });
        if deleting {
            meta["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        pod(json!({
            "metadata": meta,
            "spec": {
                "nodeName": node,
                "nodeSelector": {"nodegroup": "spark-executor"},
                "tolerations": [{"key": "purpose", "operator": "Equal", "value": "spark-executor", "effect": "NoSchedule"}],
                "containers": [{"name": "spark-kubernetes-executor", "resources": {"requests": {"cpu": "1", "memory": "896Mi"}}}],
            },
            "status": status,
        }))
    }

    #[test]
    fn a_pods_life_becomes_the_simulators_events() {
        let mut t = Translator::new("nodegroup", ["spark-executor".to_string()]);
        let unsched = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/4 nodes are available: 3 node(s) had untolerated taint {purpose: spark-executor}."}]});
        let ev = t.pod(&executor(unsched.clone(), None, false));
        assert_eq!(ev.len(), 2, "{ev:?}");
        let Event::PodCreated { pod, app, role, tolerations, cpu_millis, memory_bytes, node_selector, .. } = &ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!((pod.as_str(), app.as_deref(), *role), ("default/pi-exec-1", Some("default/pi"), Some(SparkRole::Executor)));
        assert_eq!((*cpu_millis, *memory_bytes), (1000, 896 << 20));
        assert_eq!(tolerations[0].key, "purpose");
        assert_eq!(node_selector["nodegroup"], "spark-executor");
        assert!(matches!(&ev[1], Event::PodUnschedulable { message, .. } if message.contains("untolerated taint")));
        // The same status again: nothing new.
        assert!(t.pod(&executor(unsched, None, false)).is_empty());
        let pulling = json!({"phase": "Pending", "containerStatuses": [{"name": "spark-kubernetes-executor", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
            "state": {"waiting": {"reason": "ErrImagePull", "message": "connection refused"}}}]});
        let ev = t.pod(&executor(pulling, Some("kind-worker5"), false));
        assert!(matches!(&ev[0], Event::PodScheduled { node, .. } if node == "kind-worker5"), "{ev:?}");
        assert!(
            matches!(&ev[1], Event::PodWaiting { reason, message, .. } if reason == "ErrImagePull" && message == "connection refused"),
            "{ev:?}"
        );
        let running = json!({"phase": "Running", "containerStatuses": [{"name": "spark-kubernetes-executor", "ready": true, "restartCount": 0, "image": "i", "imageID": "", "started": true,
            "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]});
        assert!(matches!(t.pod(&executor(running, Some("kind-worker5"), false)).as_slice(), [Event::PodRunning { .. }]));
        let failed = json!({"phase": "Failed", "containerStatuses": [{"name": "spark-kubernetes-executor", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
            "state": {"terminated": {"exitCode": 1, "reason": "Error", "message": "java.net.UnknownHostException: pi-driver-svc"}}}]});
        let ev = t.pod(&executor(failed, Some("kind-worker5"), true));
        assert!(matches!(&ev[0], Event::PodTerminating { .. }), "{ev:?}");
        assert!(
            matches!(&ev[1], Event::PodTerminated { phase: PodPhase::Failed, exit_code: Some(1), reason, message, .. } if reason == "Error" && message.contains("UnknownHostException")),
            "{ev:?}"
        );
        let gone = executor(json!({}), None, true);
        assert!(matches!(t.pod_deleted(&gone).as_slice(), [Event::PodDeleted { .. }]));
        assert!(t.pod_deleted(&gone).is_empty(), "reported once");
    }

    #[test]
    fn evictions_report_the_pods_reason_and_recreations_a_deletion() {
        let mut t = Translator::new("nodegroup", []);
        let evicted = json!({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."});
        let ev = t.pod(&executor(evicted, Some("n"), false));
        assert!(ev.iter().any(|e| matches!(e, Event::PodTerminated { reason, .. } if reason == "Evicted")), "{ev:?}");
        let mut again = executor(json!({"phase": "Pending"}), None, false);
        again.metadata.uid = Some("u2".into());
        let ev = t.pod(&again);
        assert!(matches!(&ev[0], Event::PodDeleted { .. }) && matches!(&ev[1], Event::PodCreated { .. }), "{ev:?}");
    }

    #[test]
    fn nodes_report_registration_readiness_taints_and_cordon() {
        let mut t = Translator::new("nodegroup", ["spark-executor".to_string()]);
        let node = |ready: &str, taints: Value, unsched: bool| -> Node {
            serde_json::from_value(json!({
                "metadata": {"name": "kind-worker5", "labels": {"nodegroup": "spark-executor", "purpose": "spark-executor"}},
                "spec": {"taints": taints, "unschedulable": unsched},
                "status": {"allocatable": {"cpu": "8", "memory": "64Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady"}]},
            }))
            .unwrap()
        };
        let t0 = json!([{"key": "purpose", "value": "spark-executor", "effect": "NoSchedule"}]);
        let ev = t.node(&node("True", t0.clone(), false));
        let Event::NodeAdded { group, interruptible, cpu_millis, pods, taints, .. } = &ev[0] else { panic!("{ev:?}") };
        assert_eq!((group.as_str(), *interruptible, *cpu_millis, *pods), ("spark-executor", true, 8000, 110));
        assert_eq!(taints[0].to_string(), "purpose=spark-executor:NoSchedule");
        assert!(matches!(&ev[1], Event::NodeReady { .. }));
        let t1 = json!([{"key": "purpose", "value": "spark-executor", "effect": "NoSchedule"}, {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]);
        let ev = t.node(&node("Unknown", t1, true));
        assert_eq!(ev.len(), 3, "{ev:?}");
        assert!(matches!(&ev[0], Event::NodeTaints { taints, .. } if taints.len() == 2));
        assert!(matches!(&ev[1], Event::NodeUnschedulable { unschedulable: true, .. }));
        assert!(matches!(&ev[2], Event::NodeNotReady { reason, .. } if reason == "KubeletReady"));
        assert!(matches!(t.node_deleted(&node("Unknown", t0, true)).as_slice(), [Event::NodeRemoved { .. }]));
    }

    #[test]
    fn app_status_changes_and_repeated_submissions_become_app_states() {
        let mut t = Translator::new("nodegroup", []);
        let app = |state: &str, subs: u64, execs: u64, err: &str| {
            json!({"apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication",
                "metadata": {"name": "pi", "namespace": "default"},
                "spec": {"type": "Scala", "mode": "cluster", "sparkVersion": "3.5.6", "executor": {"instances": 3}},
                "status": {"applicationState": {"state": state, "errorMessage": err}, "submissionAttempts": subs, "executionAttempts": execs}})
        };
        let ev = t.app(&app("", 0, 0, ""));
        assert_eq!(ev, vec![Event::AppCreated { app: "default/pi".into(), executors: 3, scheduled_by: None }]);
        let ev = t.app(&app("SUBMISSION_FAILED", 1, 0, "failed to run spark-submit"));
        assert!(
            matches!(&ev[0], Event::AppState { state: AppState::SubmissionFailed, submission_attempts: 1, message, .. } if message.contains("spark-submit"))
        );
        let ev = t.app(&app("SUBMISSION_FAILED", 2, 0, "failed to run spark-submit"));
        assert!(matches!(&ev[0], Event::AppState { state: AppState::SubmissionFailed, submission_attempts: 2, .. }), "a retry is reported");
        assert!(t.app(&app("SUBMISSION_FAILED", 2, 0, "failed to run spark-submit")).is_empty());
        let ev = t.app(&app("RUNNING", 3, 1, ""));
        assert!(matches!(&ev[0], Event::AppState { state: AppState::Running, execution_attempts: 1, .. }));
    }

    #[test]
    fn only_the_scenarios_spark_pods_are_in_scope() {
        let apps: BTreeSet<String> = ["default/pi".to_string()].into();
        assert!(pod_in_scope(&executor(json!({}), None, false), &apps));
        let mut other = executor(json!({}), None, false);
        other.metadata.labels.as_mut().unwrap().insert("sparkoperator.k8s.io/app-name".into(), "nightly-etl".into());
        assert!(!pod_in_scope(&other, &apps), "another team's job");
        let dns = pod(json!({"metadata": {"name": "coredns-1", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}}}));
        assert!(pod_in_scope(&dns, &apps));
    }

    #[test]
    fn components_are_named_as_in_the_simulator() {
        let l = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Labels>();
        assert_eq!(component(&l(&[("k8s-app", "kube-dns")])).as_deref(), Some("coredns"));
        assert_eq!(
            component(&l(&[("app.kubernetes.io/name", "spark-operator"), ("app.kubernetes.io/component", "webhook")])).as_deref(),
            Some("spark-operator-webhook")
        );
        assert_eq!(component(&l(&[("app", "x")])), None);
    }
}
