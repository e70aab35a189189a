//! The simulation's state as Kubernetes objects (k8s-openapi types, serialised): Pods, Nodes,
//! Deployments and their ReplicaSets, Leases, SparkApplications with the status the operator
//! writes. Each function is a pure function of the store, the trace view (times and reasons)
//! and the clock; the object store stamps versions.
//!
//! Made-up but stable values, where the simulation has none: pod IPs `10.244.x.y` and node
//! IPs `172.18.x.y` from their indices, uids from kind and index, the kubelet version from
//! the scenario's Kubernetes minor.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStatus, ReplicaSet, ReplicaSetSpec, ReplicaSetStatus};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, Node, NodeAddress,
    NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo, Pod, PodCondition, PodIP, PodSpec, PodStatus, PodTemplateSpec,
    ResourceRequirements, Taint as KTaint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, MicroTime, ObjectMeta, OwnerReference, Time as KTime};
use serde_json::{Value, json};
use sparkrig_model::scenario::Scenario;
use sparkrig_model::time::Time;
use sparkrig_model::trace::TraceView;
use sparkrig_sim::store::{AppId, Kind, LabelSource, Owner, Phase, PodId, Store};

use crate::clock::Clock;

/// What rendering reads.
pub struct Cx<'a> {
    /// Cluster state.
    pub store: &'a Store,
    /// Times and reasons, as the trace recorded them.
    pub view: &'a TraceView,
    /// The scenario.
    pub plan: &'a Scenario,
    /// Wall time of virtual instants.
    pub clock: &'a Clock,
    /// Pods clients created (spark-submit's driver pods), as they wrote them.
    pub client_pods: &'a BTreeMap<String, Value>,
}

impl Cx<'_> {
    fn time(&self, t: Time) -> KTime {
        KTime(k8s_openapi::jiff::Timestamp::from_millisecond(self.clock.unix_ms(t) / 1000 * 1000).unwrap_or_default())
    }

    fn micro(&self, t: Time) -> MicroTime {
        MicroTime(k8s_openapi::jiff::Timestamp::from_millisecond(self.clock.unix_ms(t)).unwrap_or_default())
    }
}

fn to_value(o: impl serde::Serialize) -> Value {
    serde_json::to_value(o).expect("Kubernetes objects serialise")
}

/// A stable uid for an object of a kind and index.
pub fn uid(kind: u16, index: u64) -> String {
    format!("{kind:08x}-5a5a-4000-8000-{index:012x}")
}

/// uid kind of pods.
pub const UID_POD: u16 = 1;
/// uid kind of nodes.
pub const UID_NODE: u16 = 2;
/// uid kind of Deployments.
pub const UID_DEPLOYMENT: u16 = 3;
/// uid kind of ReplicaSets.
pub const UID_REPLICASET: u16 = 4;
/// uid kind of SparkApplications.
pub const UID_APP: u16 = 5;
/// uid kind of PodDisruptionBudgets.
pub const UID_PDB: u16 = 6;

/// A pod's IP.
pub fn pod_ip(id: PodId) -> String {
    format!("10.244.{}.{}", id.0 / 250, id.0 % 250 + 2)
}

/// A node's IP.
pub fn node_ip(n: usize) -> String {
    format!("172.18.{}.{}", n / 250, n % 250 + 2)
}

fn split(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("default", key))
}

fn quantity_cpu(millis: i64) -> Quantity {
    Quantity(if millis % 1000 == 0 { (millis / 1000).to_string() } else { format!("{millis}m") })
}

fn quantity_mem(bytes: i64) -> Quantity {
    const MI: i64 = 1 << 20;
    const GI: i64 = 1 << 30;
    Quantity(if bytes % GI == 0 {
        format!("{}Gi", bytes / GI)
    } else if bytes % MI == 0 {
        format!("{}Mi", bytes / MI)
    } else {
        format!("{}Ki", bytes / 1024)
    })
}

/// The main container's name: Spark's own (`spark-kubernetes-driver` / `spark-kubernetes-executor`,
/// reference/spark-on-kubernetes.md §1), the component's otherwise.
pub fn container_name(store: &Store, id: PodId) -> &'static str {
    match store.pod(id).map(|p| p.owner) {
        Some(Owner::Driver { .. }) => "spark-kubernetes-driver",
        Some(Owner::Executor { .. }) => "spark-kubernetes-executor",
        Some(Owner::Component(c)) => store.deployments[c].kind.name(),
        None => "main",
    }
}

/// A Pod object (None once it is gone).
pub fn pod(cx: &Cx, id: PodId) -> Option<Value> {
    let store = cx.store;
    let p = store.pod(id)?;
    let (ns, name) = split(&p.key);
    let view = cx.view.pods.get(p.key.as_str());
    let created = view.map_or(Time::ZERO, |v| v.created);
    let image = store.interner.resolve(p.image).to_string();
    if let Some(written) = cx.client_pods.get(&p.key) {
        return Some(client_pod(cx, id, written, created));
    }
    // The pod as its creator built it: Spark's derivation for Spark pods (affinity, selector,
    // tolerations as the webhook left them), the manifest for components.
    let (mut spec, owner) = match (&p.labels, p.owner) {
        (LabelSource::Spark { app, sub, exec }, owner) => {
            let built = match exec {
                None => sparkrig_model::podspec::driver_pod(app, sub),
                Some(e) => sparkrig_model::podspec::executor_pod(app, sub, *e),
            }
            .ok();
            let owner = match owner {
                Owner::Driver { app: a, .. } => Some(OwnerReference {
                    api_version: "sparkoperator.k8s.io/v1beta2".into(),
                    kind: "SparkApplication".into(),
                    name: split(&store.app(a).key).1.to_string(),
                    uid: uid(UID_APP, u64::from(a.0)),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                }),
                Owner::Executor { app: a, .. } => {
                    store.app(a).driver.and_then(|d| store.pod(d).map(|dp| (d, dp))).map(|(d, dp)| OwnerReference {
                        api_version: "v1".into(),
                        kind: "Pod".into(),
                        name: split(&dp.key).1.to_string(),
                        uid: uid(UID_POD, u64::from(d.0)),
                        controller: Some(true),
                        block_owner_deletion: None,
                    })
                }
                Owner::Component(_) => None,
            };
            let spec = match built {
                Some(b) => PodSpec {
                    node_selector: (!b.node_selector.is_empty()).then(|| b.node_selector.into_iter().collect()),
                    affinity: b.affinity.and_then(|a| serde_json::from_value(to_value(a)).ok()),
                    tolerations: serde_json::from_value(to_value(&b.tolerations)).ok(),
                    scheduler_name: Some(b.scheduler_name),
                    priority_class_name: b.priority_class,
                    service_account_name: Some(b.service_account),
                    containers: vec![Container {
                        name: b.container,
                        image: Some(b.image),
                        resources: Some(ResourceRequirements {
                            requests: Some(BTreeMap::from([
                                ("cpu".to_string(), quantity_cpu(b.cpu_millis)),
                                ("memory".to_string(), quantity_mem(b.memory_bytes)),
                            ])),
                            limits: Some(BTreeMap::from([("memory".to_string(), quantity_mem(b.memory_bytes))])),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    restart_policy: Some("Never".into()),
                    ..Default::default()
                },
                None => PodSpec::default(),
            };
            (spec, owner)
        }
        (LabelSource::Component(kind), Owner::Component(c)) => {
            let d = &store.deployments[c];
            let (cpu, mem) = kind.requests();
            let spec = PodSpec {
                node_selector: (!d.placement.node_selector.is_empty()).then(|| d.placement.node_selector.clone().into_iter().collect()),
                tolerations: serde_json::from_value(to_value(&p.spec.tolerations)).ok(),
                containers: vec![Container {
                    name: kind.name().into(),
                    image: Some(image.clone()),
                    resources: Some(ResourceRequirements {
                        requests: Some(BTreeMap::from([("cpu".to_string(), quantity_cpu(cpu)), ("memory".to_string(), quantity_mem(mem))])),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                restart_policy: Some("Always".into()),
                scheduler_name: Some("default-scheduler".into()),
                service_account_name: Some("default".into()),
                ..Default::default()
            };
            let owner = OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: format!("{}-{}", kind.name(), d.hash),
                uid: uid(UID_REPLICASET, c as u64),
                controller: Some(true),
                block_owner_deletion: Some(true),
            };
            (spec, Some(owner))
        }
        _ => (PodSpec::default(), None),
    };
    spec.termination_grace_period_seconds = Some(30);
    spec.node_name = p.node.filter(|_| p.bound).map(|n| store.nodes[n].name.clone());
    spec.priority = Some(p.spec.priority);
    spec.enable_service_links = Some(true);
    let container = spec.containers.first().map(|c| c.name.clone()).unwrap_or_default();
    let status = pod_status(cx, id, &container, &image);
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            uid: Some(uid(UID_POD, u64::from(id.0))),
            creation_timestamp: Some(cx.time(created)),
            deletion_timestamp: p.deleting.map(|t| cx.time(t)),
            deletion_grace_period_seconds: p.deleting.map(|_| 30),
            labels: Some(store.labels(p).into_iter().collect()),
            owner_references: owner.map(|o| vec![o]),
            ..Default::default()
        },
        spec: Some(spec),
        status: Some(status),
    };
    Some(to_value(pod))
}

/// A pod a client created: its object as written, with what the cluster adds (uid, times,
/// `spec.nodeName` once bound, the status).
fn client_pod(cx: &Cx, id: PodId, written: &Value, created: Time) -> Value {
    let store = cx.store;
    let p = store.pod(id).expect("rendered pods exist");
    let mut obj = written.clone();
    let container = obj["spec"]["containers"][0]["name"].as_str().unwrap_or_default().to_string();
    let image = obj["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_string();
    obj["metadata"]["uid"] = uid(UID_POD, u64::from(id.0)).into();
    obj["metadata"]["creationTimestamp"] = to_value(cx.time(created));
    if let Some(t) = p.deleting {
        obj["metadata"]["deletionTimestamp"] = to_value(cx.time(t));
        obj["metadata"]["deletionGracePeriodSeconds"] = 30.into();
    }
    if let Some(n) = p.node.filter(|_| p.bound) {
        obj["spec"]["nodeName"] = store.nodes[n].name.clone().into();
    }
    obj["spec"]["priority"] = p.spec.priority.into();
    obj["status"] = to_value(pod_status(cx, id, &container, &image));
    obj
}

fn condition(type_: &str, ok: bool, t: Option<KTime>) -> PodCondition {
    PodCondition { type_: type_.into(), status: if ok { "True" } else { "False" }.into(), last_transition_time: t, ..Default::default() }
}

fn pod_status(cx: &Cx, id: PodId, container: &str, image: &str) -> PodStatus {
    let store = cx.store;
    let p = store.pod(id).expect("rendered pods exist");
    let v = cx.view.pods.get(p.key.as_str());
    let phase = match p.phase {
        Phase::Pending => "Pending",
        Phase::Running => "Running",
        Phase::Succeeded => "Succeeded",
        Phase::Failed => "Failed",
    };
    let scheduled = v.and_then(|v| v.scheduled.as_ref()).map(|(t, _)| *t);
    let running = p.phase == Phase::Running;
    let ready = running && p.deleting.is_none() && p.node.is_some_and(|n| store.node_reachable(n));
    let mut conditions = Vec::new();
    match (p.bound, v.and_then(|v| v.unschedulable.as_ref())) {
        (true, _) => conditions.push(condition("PodScheduled", true, scheduled.map(|t| cx.time(t)))),
        (false, Some((t, msg))) => conditions.push(PodCondition {
            reason: Some("Unschedulable".into()),
            message: Some(msg.to_string()),
            ..condition("PodScheduled", false, Some(cx.time(*t)))
        }),
        (false, None) => {}
    }
    if p.bound {
        let started = p.started.map(|t| cx.time(t));
        conditions.push(condition("Initialized", true, scheduled.map(|t| cx.time(t))));
        conditions.push(condition("ContainersReady", ready, started.clone()));
        conditions.push(condition("Ready", ready, started));
    }
    if matches!(v.and_then(|v| v.ended.as_ref()), Some((_, _, None, reason, _)) if &**reason == "DeletionByPodGC") {
        conditions.push(PodCondition { reason: Some("DeletionByPodGC".into()), ..condition("DisruptionTarget", true, None) });
    }
    let state = match (p.phase, v) {
        (Phase::Running, _) => {
            ContainerState { running: Some(ContainerStateRunning { started_at: p.started.map(|t| cx.time(t)) }), ..Default::default() }
        }
        (Phase::Succeeded | Phase::Failed, Some(v)) => {
            let (t, _, code, reason, message) =
                v.ended.clone().unwrap_or((cx.view.now, sparkrig_model::trace::PodPhase::Failed, None, "".into(), "".into()));
            ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: code.unwrap_or(137),
                    reason: Some(reason.to_string()),
                    message: (!message.is_empty()).then(|| message.to_string()),
                    started_at: p.started.map(|t| cx.time(t)),
                    finished_at: Some(cx.time(t)),
                    ..Default::default()
                }),
                ..Default::default()
            }
        }
        (_, v) => {
            let (reason, message) = match v.and_then(|v| v.waiting.as_ref()) {
                Some((_, r, m)) => (r.to_string(), (!m.is_empty()).then(|| m.to_string())),
                None => ("ContainerCreating".to_string(), None),
            };
            ContainerState { waiting: Some(ContainerStateWaiting { reason: Some(reason), message }), ..Default::default() }
        }
    };
    let statuses = p.bound.then(|| {
        vec![ContainerStatus {
            name: container.to_string(),
            image: image.to_string(),
            image_id: String::new(),
            ready,
            restart_count: p.restarts as i32,
            started: Some(running),
            state: Some(state),
            ..Default::default()
        }]
    });
    let ip = (p.bound && p.started.is_some()).then(|| pod_ip(id));
    PodStatus {
        phase: Some(phase.into()),
        conditions: Some(conditions),
        container_statuses: statuses,
        host_ip: p.node.filter(|_| p.bound).map(node_ip),
        pod_ip: ip.clone(),
        pod_ips: ip.map(|ip| vec![PodIP { ip }]),
        start_time: scheduled.map(|t| cx.time(t)),
        qos_class: Some("Burstable".into()),
        ..Default::default()
    }
}

/// A Node object (None once deleted).
pub fn node(cx: &Cx, n: usize) -> Option<Value> {
    let store = cx.store;
    let node = &store.nodes[n];
    if node.gone {
        return None;
    }
    let state = &store.node_state[n];
    let v = cx.view.nodes.get(&node.name);
    let labels: BTreeMap<String, String> = v.map(|v| v.labels.clone().into_iter().collect()).unwrap_or_default();
    let taints: Vec<KTaint> = serde_json::from_value(to_value(&node.taints)).unwrap_or_default();
    let since = cx.time(v.map_or(state.joined, |v| v.added));
    let ready = if state.ready {
        NodeCondition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: Some("KubeletReady".into()),
            message: Some("kubelet is posting ready status".into()),
            last_transition_time: Some(since.clone()),
            ..Default::default()
        }
    } else if node.taints.iter().any(|t| t.key == sparkrig_model::kube::NOT_READY_TAINT) {
        NodeCondition {
            type_: "Ready".into(),
            status: "False".into(),
            reason: Some("KubeletNotReady".into()),
            message: Some("container runtime network not ready".into()),
            ..Default::default()
        }
    } else {
        NodeCondition {
            type_: "Ready".into(),
            status: "Unknown".into(),
            reason: Some("NodeStatusUnknown".into()),
            message: Some("Kubelet stopped posting node status.".into()),
            ..Default::default()
        }
    };
    let pressure =
        |t: &str| NodeCondition { type_: t.into(), status: if state.ready { "False" } else { "Unknown" }.into(), ..Default::default() };
    let capacity = BTreeMap::from([
        ("cpu".to_string(), quantity_cpu(node.alloc.cpu)),
        ("memory".to_string(), quantity_mem(node.alloc.mem)),
        ("pods".to_string(), Quantity(node.max_pods.to_string())),
    ]);
    let minor = state.kubelet_minor;
    let obj = Node {
        metadata: ObjectMeta {
            name: Some(node.name.clone()),
            uid: Some(uid(UID_NODE, n as u64)),
            creation_timestamp: Some(since),
            labels: Some(labels),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            taints: (!taints.is_empty()).then_some(taints),
            unschedulable: node.unschedulable.then_some(true),
            pod_cidr: Some(format!("10.244.{n}.0/24")),
            provider_id: Some(format!("sparkrig://{}", node.name)),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            capacity: Some(capacity.clone()),
            allocatable: Some(capacity),
            conditions: Some(vec![pressure("MemoryPressure"), pressure("DiskPressure"), pressure("PIDPressure"), ready]),
            addresses: Some(vec![
                NodeAddress { type_: "InternalIP".into(), address: node_ip(n) },
                NodeAddress { type_: "Hostname".into(), address: node.name.clone() },
            ]),
            node_info: Some(NodeSystemInfo {
                architecture: "amd64".into(),
                container_runtime_version: "containerd://2.1.1".into(),
                kernel_version: "6.1.0-sparkrig".into(),
                kube_proxy_version: String::new(),
                kubelet_version: format!("v1.{minor}.0"),
                operating_system: "linux".into(),
                os_image: "Debian GNU/Linux 12 (bookworm)".into(),
                machine_id: String::new(),
                system_uuid: String::new(),
                boot_id: String::new(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    };
    Some(to_value(obj))
}

/// The kubelet's Lease of a node in `kube-node-lease` (renewed every 10 s while it is up).
pub fn node_lease(cx: &Cx, n: usize) -> Option<Value> {
    let node = &cx.store.nodes[n];
    if node.gone {
        return None;
    }
    let state = &cx.store.node_state[n];
    let renew = if cx.store.node_reachable(n) {
        let since = cx.view.now.as_ms().saturating_sub(state.joined.as_ms());
        Time(cx.view.now.as_ms() - since % 10_000)
    } else {
        state.joined
    };
    Some(to_value(Lease {
        metadata: ObjectMeta {
            name: Some(node.name.clone()),
            namespace: Some("kube-node-lease".into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Node".into(),
                name: node.name.clone(),
                uid: uid(UID_NODE, n as u64),
                ..Default::default()
            }]),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(node.name.clone()),
            lease_duration_seconds: Some(40),
            renew_time: Some(cx.micro(renew)),
            ..Default::default()
        }),
    }))
}

/// The operator controller's leader election Lease (`spark-operator-controller-lock`).
pub fn operator_lease(cx: &Cx) -> Value {
    let holder = cx.store.lease.holder.and_then(|p| cx.store.pod(p)).map(|p| split(&p.key).1.to_string());
    to_value(Lease {
        metadata: ObjectMeta {
            name: Some("spark-operator-controller-lock".into()),
            namespace: Some("spark-operator".into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec { holder_identity: holder, lease_duration_seconds: Some(15), ..Default::default() }),
    })
}

/// A PodDisruptionBudget (`policy/v1`) of the simulation, with the status the disruption
/// controller would write ([`sparkrig_sim::pdb::status`]). Marked with the annotation
/// [`SIMULATED_PDB`]: the simulation answers evictions for it.
pub fn pdb(cx: &Cx, key: &str) -> Option<Value> {
    let b = cx.store.pdbs.get(key)?;
    let st = sparkrig_sim::pdb::status(cx.store, b);
    let int_or = |v: sparkrig_model::upgrade::IntOrPercent| match v {
        sparkrig_model::upgrade::IntOrPercent::Int(n) => serde_json::json!(n),
        sparkrig_model::upgrade::IntOrPercent::Percent(p) => serde_json::json!(format!("{p}%")),
    };
    let mut spec = serde_json::json!({"selector": {"matchLabels": b.labels}});
    match b.spec.budget {
        sparkrig_model::upgrade::Budget::MinAvailable(v) => spec["minAvailable"] = int_or(v),
        sparkrig_model::upgrade::Budget::MaxUnavailable(v) => spec["maxUnavailable"] = int_or(v),
    }
    let ts = cx.time(b.created);
    let condition = if st.sync_failed {
        serde_json::json!({"type": "DisruptionAllowed", "status": "False", "reason": "SyncFailed", "message": "found no controllers for the selected pods", "lastTransitionTime": ts})
    } else if st.disruptions_allowed > 0 {
        serde_json::json!({"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods", "message": "", "lastTransitionTime": ts})
    } else {
        serde_json::json!({"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods", "message": "", "lastTransitionTime": ts})
    };
    Some(serde_json::json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {
            "name": b.spec.name,
            "namespace": b.spec.namespace,
            // Stable for the object's life: FNV-1a of `namespace/name`, 48 bits.
            "uid": uid(UID_PDB, key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)) & 0xffff_ffff_ffff),
            "creationTimestamp": ts,
            "annotations": {SIMULATED_PDB: "true"},
        },
        "spec": spec,
        "status": {
            "observedGeneration": 1,
            "disruptionsAllowed": st.disruptions_allowed,
            "currentHealthy": st.current_healthy,
            "desiredHealthy": st.desired_healthy,
            "expectedPods": st.expected,
            "conditions": [condition],
        },
    }))
}

/// A ResourceQuota of the scenario with the `status` the quota controller keeps
/// (`spec.hard`, `status.hard`, `status.used`, quantities in canonical form).
pub fn resource_quota(q: &sparkrig_sim::admission::QuotaState, created: &str) -> Value {
    use sparkrig_model::tenancy::format_quantity;
    let list = |m: &BTreeMap<sparkrig_model::tenancy::QuotaResource, i64>| -> serde_json::Map<String, Value> {
        m.iter().map(|(r, v)| (r.name().to_string(), Value::from(format_quantity(r.unit(), *v)))).collect()
    };
    let mut spec = json!({"hard": list(&q.quota.hard)});
    let scopes: Vec<Value> = q
        .quota
        .scopes
        .iter()
        .map(|s| {
            let op = match s.operator {
                sparkrig_model::tenancy::ScopeOperator::In => "In",
                sparkrig_model::tenancy::ScopeOperator::NotIn => "NotIn",
                sparkrig_model::tenancy::ScopeOperator::Exists => "Exists",
                sparkrig_model::tenancy::ScopeOperator::DoesNotExist => "DoesNotExist",
            };
            json!({"scopeName": s.scope.name(), "operator": op, "values": s.values})
        })
        .collect();
    if !scopes.is_empty() {
        spec["scopeSelector"] = json!({"matchExpressions": scopes});
    }
    json!({
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": q.quota.name, "namespace": q.quota.namespace, "creationTimestamp": created},
        "spec": spec,
        "status": {"hard": list(&q.quota.hard), "used": list(&q.used)},
    })
}

/// A PriorityClass (`scheduling.k8s.io/v1`), the system ones included.
pub fn priority_class(c: &sparkrig_model::tenancy::PriorityClass, created: &str) -> Value {
    let policy = match c.preemption_policy {
        sparkrig_model::tenancy::PreemptionPolicy::PreemptLowerPriority => "PreemptLowerPriority",
        sparkrig_model::tenancy::PreemptionPolicy::Never => "Never",
    };
    json!({
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": c.name, "creationTimestamp": created},
        "value": c.value,
        "globalDefault": c.global_default,
        "preemptionPolicy": policy,
    })
}

/// The annotation on PodDisruptionBudgets the simulation holds (the scenario's, the operator's
/// driver PDBs): evictions of the pods they select are decided by the simulation.
pub const SIMULATED_PDB: &str = "sparkrig.io/simulated";

/// A component's Deployment; `generation` counts the spec changes seen.
pub fn deployment(cx: &Cx, c: usize, generation: i64) -> Value {
    let store = cx.store;
    let d = &store.deployments[c];
    let live: Vec<PodId> =
        d.pods.iter().copied().filter(|id| store.pod(*id).is_some_and(|p| p.deleting.is_none() && !p.phase.is_terminal())).collect();
    let ready = live.iter().filter(|id| store.pod_serving(**id)).count() as i32;
    let labels: BTreeMap<String, String> = d.kind.labels().into_iter().collect();
    let (cpu, mem) = d.kind.requests();
    let available = ready > 0 || d.replicas == 0;
    let condition = |t: &str, ok: bool, reason: &str| json!({"type": t, "status": if ok { "True" } else { "False" }, "reason": reason});
    let mut obj = to_value(Deployment {
        metadata: ObjectMeta {
            name: Some(d.kind.name().into()),
            namespace: Some(d.kind.namespace().into()),
            uid: Some(uid(UID_DEPLOYMENT, c as u64)),
            creation_timestamp: Some(cx.time(Time::ZERO)),
            generation: Some(generation),
            labels: Some(labels.clone()),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(d.replicas as i32),
            selector: LabelSelector { match_labels: Some(labels.clone()), ..Default::default() },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels), ..Default::default() }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: d.kind.name().into(),
                        image: Some(d.kind.image().into()),
                        resources: Some(ResourceRequirements {
                            requests: Some(BTreeMap::from([
                                ("cpu".to_string(), quantity_cpu(cpu)),
                                ("memory".to_string(), quantity_mem(mem)),
                            ])),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    node_selector: (!d.placement.node_selector.is_empty()).then(|| d.placement.node_selector.clone().into_iter().collect()),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: Some(DeploymentStatus {
            observed_generation: Some(generation),
            replicas: Some(live.len() as i32),
            updated_replicas: Some(live.len() as i32),
            ready_replicas: (ready > 0).then_some(ready),
            available_replicas: (ready > 0).then_some(ready),
            unavailable_replicas: (live.len() as i32 > ready).then_some(live.len() as i32 - ready),
            ..Default::default()
        }),
    });
    obj["status"]["conditions"] = json!([
        condition("Available", available, if available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" }),
        condition("Progressing", true, "NewReplicaSetAvailable"),
    ]);
    obj
}

/// The Deployment's (only) ReplicaSet.
pub fn replicaset(cx: &Cx, c: usize) -> Value {
    let store = cx.store;
    let d = &store.deployments[c];
    let live = d.pods.iter().filter(|id| store.pod(**id).is_some_and(|p| p.deleting.is_none() && !p.phase.is_terminal())).count() as i32;
    let ready = d.pods.iter().filter(|id| store.pod_serving(**id)).count() as i32;
    let mut labels: BTreeMap<String, String> = d.kind.labels().into_iter().collect();
    labels.insert("pod-template-hash".into(), d.hash.clone());
    to_value(ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("{}-{}", d.kind.name(), d.hash)),
            namespace: Some(d.kind.namespace().into()),
            uid: Some(uid(UID_REPLICASET, c as u64)),
            creation_timestamp: Some(cx.time(Time::ZERO)),
            labels: Some(labels.clone()),
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                name: d.kind.name().into(),
                uid: uid(UID_DEPLOYMENT, c as u64),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(d.replicas as i32),
            selector: LabelSelector { match_labels: Some(labels), ..Default::default() },
            ..Default::default()
        }),
        status: Some(ReplicaSetStatus {
            replicas: live,
            ready_replicas: (ready > 0).then_some(ready),
            available_replicas: (ready > 0).then_some(ready),
            ..Default::default()
        }),
    })
}

/// A SparkApplication: its spec as applied, and the status the operator writes
/// (`applicationState`, attempts, `lastSubmissionAttemptTime`, `terminationTime`, the driver).
pub fn spark_application(cx: &Cx, id: AppId) -> Option<Value> {
    let store = cx.store;
    let a = store.app(id);
    if a.deleted {
        return None;
    }
    let mut obj = a.app.to_json();
    let meta = &mut obj["metadata"];
    meta["uid"] = uid(UID_APP, u64::from(id.0)).into();
    meta["creationTimestamp"] = serde_json::to_value(cx.time(a.created)).expect("time");
    let history = cx.view.apps.get(&a.key).map(|v| v.history.clone()).unwrap_or_default();
    let terminal_at = a.state.is_terminal().then(|| history.iter().rev().find(|(_, s)| s.is_terminal()).map(|(t, _)| *t)).flatten();
    let mut status = json!({
        "applicationState": {"state": a.state.as_str()},
        "submissionAttempts": a.submission_attempts,
        "executionAttempts": a.execution_attempts,
    });
    if !a.message.is_empty() {
        status["applicationState"]["errorMessage"] = a.message.clone().into();
    }
    if a.submission_attempts > 0 {
        status["lastSubmissionAttemptTime"] = serde_json::to_value(cx.time(a.last_submission)).expect("time");
    }
    if let Some(t) = terminal_at {
        status["terminationTime"] = serde_json::to_value(cx.time(t)).expect("time");
    }
    if let Some(d) = a.driver.and_then(|d| store.pod(d)) {
        let (_, pod_name) = split(&d.key);
        status["driverInfo"] = json!({"podName": pod_name});
        if let LabelSource::Spark { sub, .. } = &d.labels {
            status["sparkApplicationId"] = sub.spark_app_id.clone().into();
            status["submissionID"] = sub.submission_id.clone().into();
            status["driverInfo"]["webUIServiceName"] = format!("{}-ui-svc", sub.resource_prefix).into();
        }
    }
    obj["status"] = status;
    Some(obj)
}

/// A namespace.
pub fn namespace(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    })
}

/// The namespaces the platform has: Kubernetes' own, each component's, the apps'.
pub fn namespaces(plan: &Scenario) -> Vec<String> {
    let mut out: Vec<String> = ["default", "kube-system", "kube-public", "kube-node-lease"].map(String::from).into();
    for k in [Kind::Controller, Kind::Minio, Kind::Registry, Kind::HistoryServer] {
        out.push(k.namespace().into());
    }
    out.extend(plan.stack.operator.job_namespaces.iter().filter(|n| !n.is_empty()).cloned());
    out.extend(plan.templates.iter().map(|t| t.app.namespace().to_string()));
    out.sort();
    out.dedup();
    out
}
