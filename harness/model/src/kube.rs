//! The Kubernetes placement vocabulary, shaped like the `core/v1` JSON so real manifests parse:
//! taints, tolerations, node selectors and node affinity.
//!
//! [`Toleration::tolerates`] is the `ToleratesTaint` rule of
//! `staging/src/k8s.io/api/core/v1/toleration.go` (reference/kube-scheduler.md §2.3).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Labels (and node selectors): ordered for deterministic output.
pub type Labels = BTreeMap<String, String>;

/// A taint's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TaintEffect {
    /// New pods are not scheduled unless they tolerate it.
    NoSchedule,
    /// The scheduler avoids the node (scoring only).
    PreferNoSchedule,
    /// Not scheduled, and running pods without a toleration are evicted.
    NoExecute,
}

impl TaintEffect {
    /// `NoSchedule` and `NoExecute` block scheduling (`DoNotScheduleTaintsFilterFunc`).
    pub fn blocks_scheduling(self) -> bool {
        matches!(self, TaintEffect::NoSchedule | TaintEffect::NoExecute)
    }
}

impl fmt::Display for TaintEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        })
    }
}

/// A node taint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Taint {
    /// Taint key.
    pub key: String,
    /// Taint value (may be empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// Effect.
    pub effect: TaintEffect,
}

impl Taint {
    /// `key=value:Effect`.
    pub fn new(key: &str, value: &str, effect: TaintEffect) -> Taint {
        Taint { key: key.to_string(), value: value.to_string(), effect }
    }

    /// Parses `key=value:Effect` or `key:Effect`, the `kubectl taint` / `--register-with-taints` form.
    pub fn parse(s: &str) -> Result<Taint, String> {
        let (kv, effect) = s.rsplit_once(':').ok_or_else(|| format!("taint `{s}` needs an effect, e.g. `{s}:NoSchedule`"))?;
        let effect = match effect {
            "NoSchedule" => TaintEffect::NoSchedule,
            "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
            "NoExecute" => TaintEffect::NoExecute,
            other => return Err(format!("unknown taint effect `{other}` (NoSchedule, PreferNoSchedule or NoExecute)")),
        };
        let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
        if key.is_empty() {
            return Err(format!("taint `{s}` has an empty key"));
        }
        Ok(Taint::new(key, value, effect))
    }
}

impl fmt::Display for Taint {
    /// The scheduler's rendering in FailedScheduling messages: `{key: value}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}:{}", self.key, self.value, self.effect)
    }
}

/// A toleration's operator. An empty operator means `Equal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum TolerationOperator {
    /// Key and value must match.
    #[default]
    Equal,
    /// Any value; with an empty key, any taint.
    Exists,
}

/// A pod toleration.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Toleration {
    /// Empty matches every key (only with `Exists`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// `Equal` when absent (kept as written, so manifests round-trip).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<TolerationOperator>,
    /// Compared exactly under `Equal`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// Empty matches every effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<TaintEffect>,
    /// For NoExecute only: how long the pod stays bound after the taint appears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}

impl Toleration {
    /// `ToleratesTaint`: effect, key and operator rules of `core/v1/toleration.go`.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator.unwrap_or_default() {
            TolerationOperator::Exists => true,
            TolerationOperator::Equal => self.value == taint.value,
        }
    }

    /// `{key: k, operator: Exists, effect: e}`.
    pub fn exists(key: &str, effect: Option<TaintEffect>) -> Toleration {
        Toleration { key: key.into(), operator: Some(TolerationOperator::Exists), effect, ..Default::default() }
    }

    /// `{key: k, operator: Equal, value: v, effect: e}`.
    pub fn equal(key: &str, value: &str, effect: Option<TaintEffect>) -> Toleration {
        Toleration { key: key.into(), value: value.into(), effect, ..Default::default() }
    }

    /// A toleration that exactly matches `taint`.
    pub fn for_taint(taint: &Taint) -> Toleration {
        Toleration::equal(&taint.key, &taint.value, Some(taint.effect))
    }
}

/// Whether any of `tolerations` tolerates `taint`.
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

/// The first NoSchedule/NoExecute taint not tolerated (`FindMatchingUntoleratedTaint`).
pub fn untolerated_taint<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints.iter().find(|t| t.effect.blocks_scheduling() && !tolerated(tolerations, t))
}

/// The tolerations the DefaultTolerationSeconds admission plugin adds to every pod that lacks
/// them: not-ready and unreachable NoExecute for 300s (reference/kube-scheduler.md §5.2; kube-apiserver
/// `--default-{not-ready,unreachable}-toleration-seconds=300`).
pub fn default_toleration_seconds() -> [Toleration; 2] {
    [
        Toleration { toleration_seconds: Some(300), ..Toleration::exists(NOT_READY_TAINT, Some(TaintEffect::NoExecute)) },
        Toleration { toleration_seconds: Some(300), ..Toleration::exists(UNREACHABLE_TAINT, Some(TaintEffect::NoExecute)) },
    ]
}

/// `node.kubernetes.io/not-ready`.
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
/// `node.kubernetes.io/unreachable`.
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
/// `node.kubernetes.io/unschedulable` (the NodeUnschedulable plugin's synthetic taint).
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";
/// `node-role.kubernetes.io/control-plane`.
pub const CONTROL_PLANE_TAINT: &str = "node-role.kubernetes.io/control-plane";

/// A node selector requirement operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SelectorOperator {
    /// Label value in the list.
    In,
    /// Label absent or value not in the list.
    NotIn,
    /// Label present.
    Exists,
    /// Label absent.
    DoesNotExist,
    /// Label value, as an integer, greater than the single value.
    Gt,
    /// Label value, as an integer, less than the single value.
    Lt,
}

/// One `matchExpressions` (or `matchFields`) entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorRequirement {
    /// Label key (or `metadata.name` for matchFields).
    pub key: String,
    /// Operator.
    pub operator: SelectorOperator,
    /// Values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl NodeSelectorRequirement {
    /// Whether a node's value for the key (None when absent) satisfies this requirement,
    /// as in `component-helpers/scheduling/corev1/nodeaffinity` (labels.Requirement.Matches).
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        match self.operator {
            SelectorOperator::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            SelectorOperator::NotIn => value.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            SelectorOperator::Exists => value.is_some(),
            SelectorOperator::DoesNotExist => value.is_none(),
            SelectorOperator::Gt | SelectorOperator::Lt => {
                let (Some(v), Some(bound)) = (value, self.values.first()) else { return false };
                let (Ok(v), Ok(bound)) = (v.parse::<i64>(), bound.parse::<i64>()) else { return false };
                if self.operator == SelectorOperator::Gt { v > bound } else { v < bound }
            }
        }
    }
}

/// A node selector term: every expression and field must match (AND).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorTerm {
    /// Label requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<NodeSelectorRequirement>,
    /// Field requirements (only `metadata.name` is supported by Kubernetes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_fields: Vec<NodeSelectorRequirement>,
}

impl NodeSelectorTerm {
    /// A term with neither expressions nor fields matches nothing (nodeaffinity.go).
    pub fn is_empty(&self) -> bool {
        self.match_expressions.is_empty() && self.match_fields.is_empty()
    }
}

/// `requiredDuringSchedulingIgnoredDuringExecution`: the terms are ORed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelector {
    /// Terms (OR).
    pub node_selector_terms: Vec<NodeSelectorTerm>,
}

/// A weighted preferred term.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreferredSchedulingTerm {
    /// 1..100.
    pub weight: i32,
    /// The preference.
    pub preference: NodeSelectorTerm,
}

/// Node affinity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAffinity {
    /// Hard requirement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_during_scheduling_ignored_during_execution: Option<NodeSelector>,
    /// Soft preferences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred_during_scheduling_ignored_during_execution: Vec<PreferredSchedulingTerm>,
}

/// Pod affinity. Node affinity is modelled; pod (anti-)affinity is carried through untouched
/// (the InterPodAffinity plugin is not simulated, see the simulator's scheduler docs).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Affinity {
    /// Node affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<NodeAffinity>,
    /// Pod affinity (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_affinity: Option<serde_json::Value>,
    /// Pod anti-affinity (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_anti_affinity: Option<serde_json::Value>,
}

impl Affinity {
    /// Required node selector terms, if any.
    pub fn required_terms(&self) -> Option<&[NodeSelectorTerm]> {
        self.node_affinity
            .as_ref()
            .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
            .map(|s| s.node_selector_terms.as_slice())
    }

    /// Preferred node terms.
    pub fn preferred_terms(&self) -> &[PreferredSchedulingTerm] {
        self.node_affinity.as_ref().map_or(&[], |n| n.preferred_during_scheduling_ignored_during_execution.as_slice())
    }

    /// Node affinity requiring `key In [values]`.
    pub fn require_in(key: &str, values: &[&str]) -> Affinity {
        Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: vec![NodeSelectorRequirement {
                            key: key.into(),
                            operator: SelectorOperator::In,
                            values: values.iter().map(|v| v.to_string()).collect(),
                        }],
                        match_fields: vec![],
                    }],
                }),
                preferred_during_scheduling_ignored_during_execution: vec![],
            }),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaintEffect::*;

    fn taint(k: &str, v: &str, e: TaintEffect) -> Taint {
        Taint::new(k, v, e)
    }

    #[test]
    fn equal_needs_exact_key_value_and_effect() {
        let t = taint("purpose", "spark-executor", NoSchedule);
        assert!(Toleration::equal("purpose", "spark-executor", Some(NoSchedule)).tolerates(&t));
        assert!(!Toleration::equal("purpose", "spark-driver", Some(NoSchedule)).tolerates(&t));
        assert!(!Toleration::equal("purpose", "spark-executor", Some(NoExecute)).tolerates(&t));
        // An empty effect matches every effect.
        assert!(Toleration::equal("purpose", "spark-executor", None).tolerates(&t));
        // Equal with an empty value matches only an empty value.
        assert!(!Toleration::equal("purpose", "", None).tolerates(&t));
        assert!(Toleration::equal("dedicated", "", None).tolerates(&taint("dedicated", "", NoSchedule)));
    }

    #[test]
    fn exists_and_empty_key() {
        let t = taint("purpose", "spark-executor", NoExecute);
        assert!(Toleration::exists("purpose", None).tolerates(&t));
        assert!(!Toleration::exists("other", None).tolerates(&t));
        // `{operator: Exists}` alone tolerates everything.
        assert!(Toleration::exists("", None).tolerates(&t));
        assert!(Toleration::exists("", Some(NoExecute)).tolerates(&t));
        assert!(!Toleration::exists("", Some(NoSchedule)).tolerates(&t));
    }

    #[test]
    fn prefer_no_schedule_never_blocks() {
        let taints = [taint("a", "", PreferNoSchedule), taint("b", "x", NoSchedule)];
        assert_eq!(untolerated_taint(&taints, &[]).unwrap().key, "b");
        assert!(untolerated_taint(&taints[..1], &[]).is_none());
    }

    #[test]
    fn selector_operators() {
        let req = |op, vals: &[&str]| NodeSelectorRequirement {
            key: "k".into(),
            operator: op,
            values: vals.iter().map(|s| s.to_string()).collect(),
        };
        use SelectorOperator::*;
        assert!(req(In, &["a", "b"]).matches_value(Some("b")));
        assert!(!req(In, &["a"]).matches_value(None));
        assert!(req(NotIn, &["a"]).matches_value(None));
        assert!(!req(NotIn, &["a"]).matches_value(Some("a")));
        assert!(req(Exists, &[]).matches_value(Some("")));
        assert!(req(DoesNotExist, &[]).matches_value(None));
        assert!(req(Gt, &["8"]).matches_value(Some("16")));
        assert!(!req(Gt, &["8"]).matches_value(Some("8")));
        assert!(req(Lt, &["8"]).matches_value(Some("-1")));
        assert!(!req(Lt, &["8"]).matches_value(Some("abc")));
    }

    #[test]
    fn parses_taint_strings() {
        assert_eq!(Taint::parse("purpose=spark-executor:NoSchedule").unwrap(), taint("purpose", "spark-executor", NoSchedule));
        assert_eq!(Taint::parse("dedicated:NoExecute").unwrap(), taint("dedicated", "", NoExecute));
        assert!(Taint::parse("purpose=x").is_err());
        assert!(Taint::parse("purpose=x:Sometimes").is_err());
    }

    #[test]
    fn toleration_yaml_shape() {
        let t: Toleration =
            serde_json::from_str(r#"{"key":"purpose","operator":"Equal","value":"spark-executor","effect":"NoSchedule"}"#).unwrap();
        assert!(t.tolerates(&Taint::new("purpose", "spark-executor", NoSchedule)));
        assert_eq!(serde_json::to_value(&t).unwrap()["operator"], "Equal", "kept as written");
    }
}
