//! Topology → kind `Cluster` config (`kind.x-k8s.io/v1alpha4`), and a check of a config against
//! kind's v1alpha4 fields and its taint placement rules (reference/kind-testcontainers-kube-rs-
//! chaos.md §1.1–1.3).
//!
//! Each nodegroup becomes a few workers (a 300-node group is `--workers` nodes on a laptop),
//! each carrying the group's labels (kubelet `--node-labels`) and its taints through a
//! `JoinConfiguration` patch: workers run `kubeadm join`, so an `InitConfiguration` patch on a
//! worker would be silently ignored (kind #3775). The control-plane group maps to kind's
//! control-plane node, which keeps kubeadm's `node-role.kubernetes.io/control-plane:NoSchedule`
//! taint in a multi-node cluster.
//!
//! Entry points: [`kind_config`], [`render`], [`check`].

use std::collections::BTreeMap;

use serde::Serialize;
use sparkrig_model::kube::{Labels, Taint};
use sparkrig_model::topology::{Role, Topology, restricted_label};

use crate::error::{Error, Result};

/// A kind node image pinned by digest for one Kubernetes version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeImage {
    /// Kubernetes version (`1.36.1`).
    pub kubernetes: &'static str,
    /// The kind release the image was built for.
    pub kind: &'static str,
    /// `kindest/node:v…@sha256:…`.
    pub image: &'static str,
}

/// Node images pinned by digest, from the kind release notes (kind v0.32.0 defaults to
/// `kindest/node:v1.36.1`; reference/kind-testcontainers-kube-rs-chaos.md header and §1.2).
/// Other versions need `--node-image` with a digest from the notes of the kind release in use.
pub const NODE_IMAGES: &[NodeImage] = &[NodeImage {
    kubernetes: "1.36.1",
    kind: "v0.32.0",
    image: "kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5",
}];

/// The Kubernetes version used when none is asked for (kind v0.32.0's default).
pub const DEFAULT_KUBERNETES: &str = "1.36.1";

/// Workers per nodegroup when not told: enough for a node fault to leave survivors, few enough
/// for a laptop (kind #2744: 1 control-plane + 3 workers worked on 2 CPU / 10 GB).
pub const DEFAULT_WORKERS_PER_GROUP: u32 = 2;

/// The containerd patch of the official local-registry recipe ("not necessary with images from
/// kind v0.27.0+", kept so older pinned images work; reference §1.3 step 2).
pub const REGISTRY_CONTAINERD_PATCH: &str = "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"";

/// How to map a topology onto kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindOptions {
    /// Cluster name (kind nodes are `<name>-control-plane`, `<name>-worker`, `<name>-worker2`, …).
    pub name: String,
    /// Kubernetes version (one of [`NODE_IMAGES`]) unless `node_image` is given.
    pub kubernetes: String,
    /// An explicit node image (should carry a digest).
    pub node_image: Option<String>,
    /// Cap on workers per group (each group gets min(count, cap), at least 1).
    pub max_workers_per_group: u32,
    /// Exact worker counts for some groups.
    pub workers: BTreeMap<String, u32>,
}

impl KindOptions {
    /// Defaults for a topology: cluster `sparkrig-<topology>`.
    pub fn for_topology(t: &Topology) -> KindOptions {
        KindOptions {
            name: format!("sparkrig-{}", t.name),
            kubernetes: DEFAULT_KUBERNETES.into(),
            node_image: None,
            max_workers_per_group: DEFAULT_WORKERS_PER_GROUP,
            workers: BTreeMap::new(),
        }
    }
}

/// A kind `Cluster`, the fields sparkrig sets.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    /// `Cluster`.
    pub kind: &'static str,
    /// `kind.x-k8s.io/v1alpha4`.
    pub api_version: &'static str,
    /// Cluster name.
    pub name: String,
    /// Nodes.
    pub nodes: Vec<KindNode>,
    /// containerd patches (the registry recipe).
    pub containerd_config_patches: Vec<String>,
}

/// One kind node.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KindNode {
    /// `control-plane` or `worker`.
    pub role: &'static str,
    /// Node image.
    pub image: String,
    /// Kubelet `--node-labels`.
    pub labels: Labels,
    /// kubeadm merge patches (JoinConfiguration taints for workers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kubeadm_config_patches: Vec<String>,
}

/// Which nodegroup each kind node stands for, in kind's naming order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeMap {
    /// (kind node name, nodegroup).
    pub nodes: Vec<(String, String)>,
}

impl NodeMap {
    /// The kind nodes of a group, in order.
    pub fn of_group(&self, group: &str) -> Vec<&str> {
        self.nodes.iter().filter(|(_, g)| g == group).map(|(n, _)| n.as_str()).collect()
    }
}

/// The node image for the options.
pub fn node_image(opts: &KindOptions) -> Result<String> {
    if let Some(i) = &opts.node_image {
        return Ok(i.clone());
    }
    let v = opts.kubernetes.trim_start_matches('v');
    NODE_IMAGES.iter().find(|i| i.kubernetes == v).map(|i| i.image.to_string()).ok_or_else(|| {
        let known: Vec<&str> = NODE_IMAGES.iter().map(|i| i.kubernetes).collect();
        Error::Invalid(format!(
            "no pinned kind node image for Kubernetes {v} (pinned: {}); pass --node-image kindest/node:v{v}@sha256:<digest from the kind release notes>",
            known.join(", ")
        ))
    })
}

/// The kind config for a topology, and which kind node stands for which group.
pub fn kind_config(t: &Topology, opts: &KindOptions) -> Result<(Cluster, NodeMap)> {
    let image = node_image(opts)?;
    for g in opts.workers.keys() {
        if t.group(g).is_none() {
            return Err(Error::Invalid(format!("--workers: nodegroup `{g}` is not in topology `{}`", t.name)));
        }
    }
    let mut nodes = Vec::new();
    let mut map = Vec::new();
    let cp = t.groups.iter().find(|g| g.role == Role::ControlPlane);
    let mut cp_labels = Labels::new();
    if let Some(g) = cp {
        cp_labels = g.labels.clone();
        cp_labels.insert(t.group_label.clone(), g.name.clone());
    }
    nodes.push(KindNode { role: "control-plane", image: image.clone(), labels: cp_labels, kubeadm_config_patches: vec![] });
    map.push((format!("{}-control-plane", opts.name), cp.map_or_else(String::new, |g| g.name.clone())));
    let mut worker_no = 0;
    let mut zone_no = 0;
    for g in t.groups.iter().filter(|g| g.role == Role::Worker) {
        let n = opts.workers.get(&g.name).copied().unwrap_or_else(|| g.count.min(opts.max_workers_per_group).max(1));
        for _ in 0..n {
            let mut labels = g.labels.clone();
            labels.insert(t.group_label.clone(), g.name.clone());
            if let Some(it) = &g.instance_type {
                labels.insert("node.kubernetes.io/instance-type".into(), it.clone());
            }
            if !t.zones.is_empty() {
                labels.insert("topology.kubernetes.io/zone".into(), t.zones[zone_no % t.zones.len()].clone());
                zone_no += 1;
            }
            let patches = if g.taints.is_empty() { vec![] } else { vec![join_taints_patch(&g.taints)] };
            nodes.push(KindNode { role: "worker", image: image.clone(), labels, kubeadm_config_patches: patches });
            worker_no += 1;
            // kind's namer: <cluster>-worker, <cluster>-worker2, ...
            let suffix = if worker_no == 1 { String::new() } else { worker_no.to_string() };
            map.push((format!("{}-worker{suffix}", opts.name), g.name.clone()));
        }
    }
    let cluster = Cluster {
        kind: "Cluster",
        api_version: "kind.x-k8s.io/v1alpha4",
        name: opts.name.clone(),
        nodes,
        containerd_config_patches: vec![REGISTRY_CONTAINERD_PATCH.to_string()],
    };
    Ok((cluster, NodeMap { nodes: map }))
}

/// A `JoinConfiguration` merge patch registering the node with `taints`. No `apiVersion`, so
/// kind ≥ v0.32 applies it to kubeadm v1beta3 and v1beta4 alike (reference §1.1).
fn join_taints_patch(taints: &[Taint]) -> String {
    let mut s = String::from("kind: JoinConfiguration\nnodeRegistration:\n  taints:\n");
    for t in taints {
        s.push_str(&format!("  - key: {}\n", t.key));
        if !t.value.is_empty() {
            s.push_str(&format!("    value: {}\n", t.value));
        }
        s.push_str(&format!("    effect: {}\n", t.effect));
    }
    s
}

/// The config as YAML with a header naming where it came from.
pub fn render(c: &Cluster, origin: &str) -> String {
    let body = serde_yaml::to_string(c).expect("kind configs serialise");
    format!("# Generated by sparkrig from {origin}; regenerate it with `sparkrig kind-config`, do not edit.\n{body}")
}

const TOP_FIELDS: &[&str] = &[
    "kind",
    "apiVersion",
    "name",
    "nodes",
    "networking",
    "featureGates",
    "runtimeConfig",
    "kubeadmConfigPatches",
    "kubeadmConfigPatchesJSON6902",
    "containerdConfigPatches",
    "containerdConfigPatchesJSON6902",
];
const NODE_FIELDS: &[&str] =
    &["role", "image", "labels", "extraMounts", "extraPortMappings", "kubeadmConfigPatches", "kubeadmConfigPatchesJSON6902"];
const NETWORKING_FIELDS: &[&str] =
    &["ipFamily", "apiServerPort", "apiServerAddress", "podSubnet", "serviceSubnet", "disableDefaultCNI", "kubeProxyMode", "dnsSearch"];
const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// Every way a kind config breaks kind's v1alpha4 fields or the taint placement rules, as
/// `path: problem` lines (empty when fine).
pub fn check(yaml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let doc: serde_yaml::Value = match serde_yaml::from_str(yaml) {
        Ok(v) => v,
        Err(e) => return vec![format!("not YAML: {e}")],
    };
    let Some(top) = doc.as_mapping() else { return vec!["the config is not a mapping".into()] };
    let s = |v: Option<&serde_yaml::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
    unknown_keys(top, TOP_FIELDS, "", &mut out);
    if s(top.get("kind")).as_deref() != Some("Cluster") {
        out.push("kind: must be `Cluster`".into());
    }
    if s(top.get("apiVersion")).as_deref() != Some("kind.x-k8s.io/v1alpha4") {
        out.push("apiVersion: must be `kind.x-k8s.io/v1alpha4`".into());
    }
    if let Some(n) = top.get("networking").and_then(|v| v.as_mapping()) {
        unknown_keys(n, NETWORKING_FIELDS, "networking.", &mut out);
    }
    let nodes = top.get("nodes").and_then(|v| v.as_sequence()).cloned().unwrap_or_default();
    let mut first_control_plane = true;
    for (i, node) in nodes.iter().enumerate() {
        let at = format!("nodes[{i}]");
        let Some(m) = node.as_mapping() else {
            out.push(format!("{at}: not a mapping"));
            continue;
        };
        unknown_keys(m, NODE_FIELDS, &format!("{at}."), &mut out);
        let role = s(m.get("role")).unwrap_or_else(|| "control-plane".into());
        if role != "control-plane" && role != "worker" {
            out.push(format!("{at}.role: `{role}` is neither control-plane nor worker"));
        }
        if let Some(img) = s(m.get("image"))
            && !img.contains("@sha256:")
        {
            out.push(format!("{at}.image: `{img}` is not pinned by digest"));
        }
        if let Some(labels) = m.get("labels").and_then(|v| v.as_mapping()) {
            for (k, v) in labels {
                let (Some(k), Some(_)) = (k.as_str(), v.as_str()) else {
                    out.push(format!("{at}.labels: keys and values must be strings"));
                    continue;
                };
                if let Some(why) = restricted_label(k) {
                    out.push(format!("{at}.labels.{k}: {why}"));
                }
            }
        }
        let patches = m.get("kubeadmConfigPatches").and_then(|v| v.as_sequence()).cloned().unwrap_or_default();
        for (j, p) in patches.iter().enumerate() {
            let pat = format!("{at}.kubeadmConfigPatches[{j}]");
            let Some(text) = p.as_str() else {
                out.push(format!("{pat}: must be a YAML string"));
                continue;
            };
            let Ok(patch) = serde_yaml::from_str::<serde_yaml::Value>(text) else {
                out.push(format!("{pat}: not YAML"));
                continue;
            };
            let kind = s(patch.get("kind")).unwrap_or_default();
            if kind.is_empty() {
                out.push(format!("{pat}: a kubeadm patch needs `kind`"));
            }
            if patch.get("apiVersion").is_some() {
                out.push(format!("{pat}: omit apiVersion so kind converts the patch for kubeadm v1beta4 (Kubernetes ≥ 1.36)"));
            }
            let registration = patch.get("nodeRegistration");
            let taints = registration.and_then(|r| r.get("taints")).and_then(|t| t.as_sequence()).cloned().unwrap_or_default();
            let extra_taints = registration.and_then(|r| r.get("kubeletExtraArgs")).and_then(|a| a.get("register-with-taints")).is_some();
            if !taints.is_empty() || extra_taints {
                // Only the first control-plane runs `kubeadm init`; every other node joins.
                let expected = if role == "control-plane" && first_control_plane { "InitConfiguration" } else { "JoinConfiguration" };
                if kind != expected {
                    out.push(format!("{pat}: taints on this node must go through {expected} (a {kind} patch is ignored; kind #3775)"));
                }
            }
            for (k, t) in taints.iter().enumerate() {
                if s(t.get("key")).is_none_or(|k| k.is_empty()) {
                    out.push(format!("{pat}: taints[{k}].key is required"));
                }
                let effect = s(t.get("effect")).unwrap_or_default();
                if !TAINT_EFFECTS.contains(&effect.as_str()) {
                    out.push(format!("{pat}: taints[{k}].effect `{effect}` is not one of {}", TAINT_EFFECTS.join(", ")));
                }
            }
        }
        if role == "control-plane" {
            first_control_plane = false;
        }
    }
    if nodes.iter().all(|n| n.get("role").and_then(|r| r.as_str()) == Some("worker")) {
        out.push("nodes: a cluster needs a control-plane node".into());
    }
    out
}

fn unknown_keys(m: &serde_yaml::Mapping, known: &[&str], prefix: &str, out: &mut Vec<String>) {
    for k in m.keys() {
        let k = k.as_str().unwrap_or("?");
        if !known.contains(&k) {
            out.push(format!("{prefix}{k}: not a kind v1alpha4 field"));
        }
    }
}

/// A short, stable hash of a rendered config (cluster reuse compares it).
pub fn config_hash(rendered: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(rendered.as_bytes());
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sparkrig_model::source::Source;

    fn topology() -> Topology {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/topologies/data-platform.yaml")).unwrap();
        Topology::from_source(&Source::new("data-platform.yaml", text)).unwrap()
    }

    #[test]
    fn workers_carry_group_labels_and_join_taints() {
        let t = topology();
        let (c, map) = kind_config(&t, &KindOptions::for_topology(&t)).unwrap();
        // control-plane + 2 infra + 2 driver + 2 executor (3 capped at 2).
        assert_eq!(c.nodes.len(), 7);
        assert_eq!(c.nodes[0].role, "control-plane");
        assert_eq!(c.nodes[0].labels["nodegroup"], "control-plane");
        let exec: Vec<&KindNode> =
            c.nodes.iter().filter(|n| n.labels.get("nodegroup").map(String::as_str) == Some("spark-executor")).collect();
        assert_eq!(exec.len(), 2);
        assert_eq!(exec[0].labels["purpose"], "spark-executor");
        assert_eq!(exec[0].labels["node.kubernetes.io/instance-type"], "r5d.2xlarge");
        assert_eq!(
            exec[0].kubeadm_config_patches,
            vec![
                "kind: JoinConfiguration\nnodeRegistration:\n  taints:\n  - key: purpose\n    value: spark-executor\n    effect: NoSchedule\n"
            ]
        );
        // Untainted groups get no patch.
        assert!(c.nodes.iter().filter(|n| n.labels["nodegroup"] == "infra").all(|n| n.kubeadm_config_patches.is_empty()));
        assert_eq!(map.of_group("spark-executor"), vec!["sparkrig-data-platform-worker5", "sparkrig-data-platform-worker6"]);
        assert_eq!(map.of_group("infra"), vec!["sparkrig-data-platform-worker", "sparkrig-data-platform-worker2"]);
        assert_eq!(check(&render(&c, "x")), Vec::<String>::new());
    }

    #[test]
    fn worker_counts_and_images_are_configurable_and_checked() {
        let t = topology();
        let mut o = KindOptions::for_topology(&t);
        o.workers.insert("spark-executor".into(), 5);
        o.max_workers_per_group = 1;
        let (c, _) = kind_config(&t, &o).unwrap();
        assert_eq!(c.nodes.len(), 1 + 1 + 1 + 5);
        o.workers.insert("gpu".into(), 1);
        assert!(kind_config(&t, &o).unwrap_err().to_string().contains("nodegroup `gpu` is not in topology `data-platform`"));
        let o = KindOptions { kubernetes: "1.31.0".into(), ..KindOptions::for_topology(&t) };
        let e = kind_config(&t, &o).unwrap_err().to_string();
        assert!(e.contains("no pinned kind node image for Kubernetes 1.31.0") && e.contains("--node-image"), "{e}");
    }

    #[test]
    fn check_catches_misplaced_taints_unknown_fields_and_reserved_labels() {
        let bad = r#"
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodez: []
nodes:
- role: control-plane
  image: kindest/node:v1.36.1
- role: worker
  image: kindest/node:v1.36.1@sha256:00
  labels: {node-role.kubernetes.io/worker: ""}
  kubeadmConfigPatches:
  - |
    kind: InitConfiguration
    nodeRegistration:
      taints: [{key: dedicated, value: x, effect: NoScheduled}]
- role: worker
  image: kindest/node:v1.36.1@sha256:00
  kubeadmConfigPatches:
  - |
    apiVersion: kubeadm.k8s.io/v1beta3
    kind: JoinConfiguration
    nodeRegistration:
      kubeletExtraArgs: {register-with-taints: "a=b:NoSchedule"}
"#;
        let problems = check(bad);
        let has = |s: &str| problems.iter().any(|p| p.contains(s));
        assert!(has("nodez: not a kind v1alpha4 field"), "{problems:?}");
        assert!(has("nodes[0].image: `kindest/node:v1.36.1` is not pinned by digest"), "{problems:?}");
        assert!(has("nodes[1].labels.node-role.kubernetes.io/worker: the kubelet refuses"), "{problems:?}");
        assert!(has("nodes[1].kubeadmConfigPatches[0]: taints on this node must go through JoinConfiguration"), "{problems:?}");
        assert!(has("effect `NoScheduled` is not one of"), "{problems:?}");
        assert!(has("nodes[2].kubeadmConfigPatches[0]: omit apiVersion"), "{problems:?}");
        assert_eq!(problems.len(), 6, "{problems:?}");
    }
}
