//! Cluster shape: nodegroups with counts, autoscaling bounds, node shape, labels, taints and
//! interruptibility.
//!
//! Entry point: [`Topology::from_source`] (a topology file) or [`Topology::from_raw`] (inline in
//! a scenario). Every node carries its group's labels plus a label naming the group
//! (`nodegroup: <name>` by default, as managed nodegroups do) and the well-known kubelet labels.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::kube::{CONTROL_PLANE_TAINT, Labels, Taint, TaintEffect};
use crate::quantity::{parse_bytes, parse_cpu_millis};
use crate::source::{Diagnostic, Diagnostics, Source, did_you_mean};
use crate::time::Dur;

/// A number or a string in YAML (`cpu: 8` or `cpu: "500m"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NumOrString {
    /// A number.
    Num(serde_json::Number),
    /// A string.
    Str(String),
}

impl NumOrString {
    /// As text.
    pub fn text(&self) -> String {
        match self {
            NumOrString::Num(n) => n.to_string(),
            NumOrString::Str(s) => s.clone(),
        }
    }
}

/// A taint in a topology file: `"key=value:Effect"` or `{key, value, effect}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawTaint {
    /// `key=value:Effect`.
    Short(String),
    /// Structured.
    Full(Taint),
}

/// A topology file or inline topology, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTopology {
    /// `sparkrig.io/v1alpha1`.
    #[serde(default)]
    pub api_version: Option<String>,
    /// `Topology`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Label key naming each node's group (default `nodegroup`).
    #[serde(default)]
    pub group_label: Option<String>,
    /// Zones; nodes are spread over them round-robin (`topology.kubernetes.io/zone`).
    #[serde(default)]
    pub zones: Vec<String>,
    /// Nodegroups.
    pub nodegroups: Vec<RawNodeGroup>,
}

/// A nodegroup as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawNodeGroup {
    /// Name (also the value of the group label).
    pub name: String,
    /// `worker` (default) or `control-plane`.
    #[serde(default)]
    pub role: Role,
    /// Nodes at start (default: min, else 1).
    #[serde(default)]
    pub count: Option<u32>,
    /// Autoscaling lower bound (default: count).
    #[serde(default)]
    pub min: Option<u32>,
    /// Autoscaling upper bound (default: count).
    #[serde(default)]
    pub max: Option<u32>,
    /// Node shape (allocatable resources).
    pub shape: RawShape,
    /// Extra node labels.
    #[serde(default)]
    pub labels: Labels,
    /// Node taints.
    #[serde(default)]
    pub taints: Vec<RawTaint>,
    /// Spot / preemptible capacity.
    #[serde(default)]
    pub interruptible: bool,
    /// Time from a scale-up decision until the node registers (autoscaled groups).
    #[serde(default)]
    pub provisioning: Option<Dur>,
    /// `node.kubernetes.io/instance-type`.
    #[serde(default)]
    pub instance_type: Option<String>,
    /// Kubelet version of the group's nodes (`1.34`; default: the control plane's).
    #[serde(default)]
    pub version: Option<String>,
}

/// Node shape as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawShape {
    /// CPU (cores or millicores).
    pub cpu: NumOrString,
    /// Memory quantity.
    pub memory: String,
    /// Max pods (default 110, the kubelet's `maxPods`).
    #[serde(default)]
    pub pods: Option<u32>,
}

/// Node role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A worker.
    #[default]
    Worker,
    /// The control plane: labelled and tainted `node-role.kubernetes.io/control-plane`.
    ControlPlane,
}

/// A validated nodegroup.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeGroup {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Nodes at start.
    pub count: u32,
    /// Lower bound.
    pub min: u32,
    /// Upper bound.
    pub max: u32,
    /// Allocatable millicores per node.
    pub cpu_millis: i64,
    /// Allocatable bytes per node.
    pub memory_bytes: i64,
    /// Max pods per node.
    pub max_pods: i64,
    /// Labels from the file (without the generated ones).
    pub labels: Labels,
    /// Taints (including the control-plane taint for that role).
    pub taints: Vec<Taint>,
    /// Spot / preemptible.
    pub interruptible: bool,
    /// Provisioning delay override.
    pub provisioning: Option<Dur>,
    /// Instance type label value.
    pub instance_type: Option<String>,
    /// Kubelet minor (1.x) of its nodes at start (None: the control plane's).
    pub version: Option<u32>,
}

/// A validated topology.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Topology {
    /// Name.
    pub name: String,
    /// Label key naming the group.
    pub group_label: String,
    /// Zones.
    pub zones: Vec<String>,
    /// Groups in file order.
    pub groups: Vec<NodeGroup>,
}

/// The kubelet's default `maxPods`.
pub const DEFAULT_MAX_PODS: u32 = 110;

impl NodeGroup {
    /// Whether the autoscaler may change its size.
    pub fn autoscaled(&self) -> bool {
        self.max > self.min
    }

    /// The full label set of a node of this group, as the kubelet registers it.
    pub fn node_labels(&self, topology: &Topology, node: &str, zone: Option<&str>) -> Labels {
        let mut l = self.labels.clone();
        l.insert(topology.group_label.clone(), self.name.clone());
        l.insert("kubernetes.io/hostname".into(), node.into());
        l.insert("kubernetes.io/os".into(), "linux".into());
        l.insert("kubernetes.io/arch".into(), "amd64".into());
        if let Some(it) = &self.instance_type {
            l.insert("node.kubernetes.io/instance-type".into(), it.clone());
        }
        if let Some(z) = zone {
            l.insert("topology.kubernetes.io/zone".into(), z.into());
        }
        if self.role == Role::ControlPlane {
            l.insert(CONTROL_PLANE_TAINT.into(), String::new());
        }
        l
    }
}

impl Topology {
    /// Parses and validates a topology file.
    pub fn from_source(src: &Source) -> Result<Topology, Diagnostics> {
        let raw: RawTopology = src.parse()?;
        Topology::from_raw(&raw, src, "")
    }

    /// Validates a raw topology located at `prefix` in `src`.
    pub fn from_raw(raw: &RawTopology, src: &Source, prefix: &str) -> Result<Topology, Diagnostics> {
        let mut errs = Vec::new();
        let at = |p: &str| if prefix.is_empty() { p.to_string() } else { format!("{prefix}.{p}") };
        if let Some(kind) = raw.kind.as_deref().filter(|k| *k != "Topology") {
            errs.push(src.diag(0, &at("kind"), format!("expected kind `Topology`, found `{kind}`"), None));
        }
        if raw.nodegroups.is_empty() {
            errs.push(src.diag(0, &at("nodegroups"), "a topology needs at least one nodegroup", None));
        }
        let mut seen = BTreeSet::new();
        let mut groups = Vec::new();
        let control_planes = raw.nodegroups.iter().filter(|g| g.role == Role::ControlPlane).count();
        if control_planes > 1 {
            errs.push(src.diag(0, &at("nodegroups"), "at most one nodegroup may have role control-plane", None));
        }
        for (i, g) in raw.nodegroups.iter().enumerate() {
            let p = |f: &str| at(&format!("nodegroups[{i}].{f}"));
            if !seen.insert(g.name.as_str()) {
                errs.push(src.diag(0, &p("name"), format!("duplicate nodegroup name `{}`", g.name), None));
            }
            if !is_dns_label(&g.name) {
                errs.push(src.diag(
                    0,
                    &p("name"),
                    format!("`{}` is not a valid label value (lower-case letters, digits and '-', at most 63)", g.name),
                    None,
                ));
            }
            let cpu = parse_cpu_millis(&g.shape.cpu.text()).map_err(|e| errs.push(src.diag(0, &p("shape.cpu"), e.to_string(), None))).ok();
            let mem = parse_bytes(&g.shape.memory).map_err(|e| errs.push(src.diag(0, &p("shape.memory"), e.to_string(), None))).ok();
            let count = g.count.or(g.min).unwrap_or(1);
            let max = g.max.unwrap_or(count.max(g.min.unwrap_or(0)));
            let min = g.min.unwrap_or(count.min(max));
            if min > max {
                errs.push(src.diag(0, &p("min"), format!("min ({min}) is greater than max ({max})"), None));
            } else if count < min || count > max {
                errs.push(src.diag(0, &p("count"), format!("count ({count}) must be between min ({min}) and max ({max})"), None));
            }
            if g.role == Role::ControlPlane && (count != 1 || max != 1) {
                errs.push(src.diag(0, &p("count"), "the control-plane group has exactly one node", None));
            }
            for k in g.labels.keys() {
                if let Some(why) = restricted_label(k) {
                    errs.push(src.diag_key(
                        0,
                        &p(&format!("labels.{k}")),
                        why,
                        Some("use your own prefix, e.g. `nodegroup` or `example.com/pool`".into()),
                    ));
                }
            }
            let mut taints = Vec::new();
            for (j, t) in g.taints.iter().enumerate() {
                match t {
                    RawTaint::Short(s) => match Taint::parse(s) {
                        Ok(t) => taints.push(t),
                        Err(e) => errs.push(src.diag(0, &p(&format!("taints[{j}]")), e, None)),
                    },
                    RawTaint::Full(t) => taints.push(t.clone()),
                }
            }
            let version = g.version.as_deref().and_then(|v| {
                let m = crate::upgrade::parse_minor(v);
                if m.is_none() {
                    errs.push(src.diag(0, &p("version"), format!("`{v}` is not a Kubernetes version like 1.34"), None));
                }
                m
            });
            if g.role == Role::ControlPlane && !taints.iter().any(|t| t.key == CONTROL_PLANE_TAINT) {
                // kubeadm keeps this taint in multi-node clusters (reference/kind-…-chaos.md §1.2).
                taints.push(Taint::new(CONTROL_PLANE_TAINT, "", TaintEffect::NoSchedule));
            }
            if let (Some(cpu_millis), Some(memory_bytes)) = (cpu, mem) {
                groups.push(NodeGroup {
                    name: g.name.clone(),
                    role: g.role,
                    count,
                    min,
                    max,
                    cpu_millis,
                    memory_bytes,
                    max_pods: i64::from(g.shape.pods.unwrap_or(DEFAULT_MAX_PODS)),
                    labels: g.labels.clone(),
                    taints,
                    interruptible: g.interruptible,
                    provisioning: g.provisioning,
                    instance_type: g.instance_type.clone(),
                    version,
                });
            }
        }
        if !errs.is_empty() {
            return Err(Diagnostics(errs));
        }
        Ok(Topology {
            name: raw.name.clone(),
            group_label: raw.group_label.clone().unwrap_or_else(|| "nodegroup".into()),
            zones: raw.zones.clone(),
            groups,
        })
    }

    /// A group by name.
    pub fn group(&self, name: &str) -> Option<&NodeGroup> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Error for an unknown group name, with a suggestion.
    pub fn unknown_group(&self, src: &Source, path: &str, name: &str) -> Diagnostic {
        src.diag(
            0,
            path,
            format!("nodegroup `{name}` is not in topology `{}`", self.name),
            did_you_mean(name, self.groups.iter().map(|g| g.name.as_str()))
                .or_else(|| Some(format!("nodegroups: {}", self.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", ")))),
        )
    }

    /// Total initial nodes.
    pub fn initial_nodes(&self) -> u32 {
        self.groups.iter().map(|g| g.count).sum()
    }

    /// Group name → index.
    pub fn group_index(&self) -> BTreeMap<&str, usize> {
        self.groups.iter().enumerate().map(|(i, g)| (g.name.as_str(), i)).collect()
    }
}

/// RFC 1123 label.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Labels under `kubernetes.io` / `k8s.io` that the kubelet refuses in `--node-labels`
/// (kind issue #3536): only the kubelet's own and `node.kubernetes.io/*` are allowed.
/// Why the kubelet would refuse to register with this label key (None when it may).
pub fn restricted_label(key: &str) -> Option<String> {
    let (prefix, _) = key.split_once('/')?;
    let restricted = ["kubernetes.io", "k8s.io"].iter().any(|d| prefix == *d || prefix.ends_with(&format!(".{d}")));
    let allowed = matches!(
        key,
        "kubernetes.io/hostname"
            | "kubernetes.io/arch"
            | "kubernetes.io/os"
            | "topology.kubernetes.io/zone"
            | "topology.kubernetes.io/region"
    ) || prefix == "node.kubernetes.io"
        || prefix == "kubelet.kubernetes.io"
        || prefix.ends_with(".node.kubernetes.io")
        || prefix.ends_with(".kubelet.kubernetes.io");
    (restricted && !allowed)
        .then(|| format!("the kubelet refuses to register with label `{key}` (kubernetes.io and k8s.io prefixes are reserved)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLATFORM: &str = r#"
name: t
nodegroups:
  - {name: control-plane, role: control-plane, shape: {cpu: 4, memory: 16Gi}}
  - name: spark-executor
    count: 3
    max: 300
    interruptible: true
    shape: {cpu: "8", memory: 64Gi, pods: 110}
    labels: {purpose: spark-executor}
    taints: ["purpose=spark-executor:NoSchedule"]
"#;

    #[test]
    fn parses_groups_with_defaults() {
        let t = Topology::from_source(&Source::new("t.yaml", PLATFORM)).unwrap();
        let cp = &t.groups[0];
        assert_eq!((cp.count, cp.min, cp.max), (1, 1, 1));
        assert_eq!(cp.taints, vec![Taint::new(CONTROL_PLANE_TAINT, "", TaintEffect::NoSchedule)]);
        let ex = t.group("spark-executor").unwrap();
        assert_eq!((ex.count, ex.min, ex.max), (3, 3, 300));
        assert_eq!(ex.cpu_millis, 8000);
        assert_eq!(ex.memory_bytes, 64 << 30);
        assert!(ex.autoscaled() && ex.interruptible);
        let labels = ex.node_labels(&t, "spark-executor-1", None);
        assert_eq!(labels["nodegroup"], "spark-executor");
        assert_eq!(labels["purpose"], "spark-executor");
        assert_eq!(labels["kubernetes.io/hostname"], "spark-executor-1");
    }

    #[test]
    fn bad_bounds_and_reserved_labels_are_located() {
        let text = "name: t\nnodegroups:\n  - name: a\n    count: 5\n    max: 2\n    shape: {cpu: 1, memory: 1Gi}\n    labels:\n      node-role.kubernetes.io/worker: \"\"\n";
        let err = Topology::from_source(&Source::new("t.yaml", text)).unwrap_err();
        assert_eq!(err.0.len(), 2, "{err}");
        assert_eq!((err.0[0].path.as_str(), err.0[0].line), ("nodegroups[0].count", 4));
        assert_eq!(err.0[1].line, 8);
        assert!(err.0[1].message.contains("refuses"), "{err}");
    }
}
