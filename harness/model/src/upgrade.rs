//! Upgrades as scenario steps, and the PodDisruptionBudgets that evictions honour.
//!
//! Entry points: [`Upgrade`] (a validated `upgrade` step: a nodegroup rolled to a new kubelet
//! version, a Spark Operator chart upgrade, or a control-plane minor upgrade),
//! [`PodDisruptionBudget`] (a budget as the stack declares it) and [`IntOrPercent`], the
//! Kubernetes `IntOrString` of counts and percentages with the rounding each user applies.
//! The behaviour (phases, timings, evictions) lives with each backend; reference:
//! `platform-ops.md` §4.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::kube::Labels;
use crate::time::Dur;

/// A count or a percentage (`maxUnavailable: 1`, `maxUnavailable: "25%"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum IntOrPercent {
    /// An absolute count.
    Int(u32),
    /// A percentage of some total.
    Percent(u32),
}

impl IntOrPercent {
    /// Parses `3` or `"25%"`.
    pub fn parse(s: &str) -> Result<IntOrPercent, String> {
        let s = s.trim();
        match s.strip_suffix('%') {
            Some(p) => p.trim().parse().map(IntOrPercent::Percent).map_err(|_| format!("`{s}` is not a percentage like 25%")),
            None => s.parse().map(IntOrPercent::Int).map_err(|_| format!("`{s}` is not a count or a percentage like 25%")),
        }
    }

    /// The value against `total`: a percentage rounded up (`GetScaledValueFromIntOrPercent`
    /// with `roundUp = true`: PDB budgets, a Deployment's maxSurge, Karpenter's budgets) or down
    /// (a Deployment's maxUnavailable).
    pub fn scaled(self, total: u32, round_up: bool) -> u32 {
        match self {
            IntOrPercent::Int(n) => n,
            IntOrPercent::Percent(p) => {
                let x = u64::from(p) * u64::from(total);
                (if round_up { x.div_ceil(100) } else { x / 100 }) as u32
            }
        }
    }
}

impl fmt::Display for IntOrPercent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrPercent::Int(n) => write!(f, "{n}"),
            IntOrPercent::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrPercent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u32),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(IntOrPercent::Int(n)),
            Raw::Str(s) => IntOrPercent::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// `minAvailable` or `maxUnavailable` of a PodDisruptionBudget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Budget {
    /// At least this many (or this share of the expected pods) stay healthy.
    MinAvailable(IntOrPercent),
    /// At most this many (or this share) may be unavailable.
    MaxUnavailable(IntOrPercent),
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::MinAvailable(v) => write!(f, "minAvailable {v}"),
            Budget::MaxUnavailable(v) => write!(f, "maxUnavailable {v}"),
        }
    }
}

/// Which pods a PodDisruptionBudget selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PdbSelector {
    /// `matchLabels` (an empty selector selects nothing).
    Labels(Labels),
    /// A platform component's pods, by Deployment name (`coredns`, `spark-operator-webhook`,
    /// ...): its manifest's selector labels, which the backend knows.
    Component(String),
}

/// A PodDisruptionBudget (`policy/v1`) as the stack declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodDisruptionBudget {
    /// Name.
    pub name: String,
    /// Namespace (a PDB selects pods of its own namespace only).
    pub namespace: String,
    /// Selector.
    pub selector: PdbSelector,
    /// The budget.
    pub budget: Budget,
}

/// How a nodegroup replaces its nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeStrategy {
    /// An EKS managed nodegroup rolling update: surge new nodes, drain and terminate old ones
    /// `maxUnavailable` at a time (`platform-ops.md` §4.a).
    Rolling {
        /// `updateConfig.maxUnavailable` (count) or `maxUnavailablePercentage`.
        max_unavailable: IntOrPercent,
        /// New nodes launched before the first drain (None: EKS's increment,
        /// max(2 × zones, maxUnavailable)).
        surge: Option<u32>,
        /// `--force`: evict ignoring PodDisruptionBudgets.
        force: bool,
    },
    /// EKS `updateStrategy: MINIMAL`: no surge; a node is terminated first and then replaced,
    /// `maxUnavailable` at a time, never above the group's size.
    Minimal {
        /// `updateConfig.maxUnavailable` or `maxUnavailablePercentage`.
        max_unavailable: IntOrPercent,
        /// `--force`.
        force: bool,
    },
    /// Karpenter drift: each drifted node is tainted, replaced by a pre-spun node, then
    /// drained through the Eviction API, within the disruption budget.
    Drift {
        /// `disruption.budgets[].nodes` (default `10%`).
        budget: IntOrPercent,
    },
}

/// What an upgrade step upgrades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeTarget {
    /// Replace a nodegroup's nodes with nodes of a new kubelet version.
    Nodegroup {
        /// Group.
        group: String,
        /// Kubelet minor (1.x) of the new nodes (None: the control plane's at the step).
        minor: Option<u32>,
        /// How.
        strategy: NodeStrategy,
    },
    /// `helm upgrade` of the Spark Operator chart.
    SparkOperator {
        /// Chart (and app) version.
        version: String,
        /// `hook.upgradeCrd` (default false: helm never upgrades `crds/`).
        upgrade_crds: bool,
    },
    /// The control plane to the next Kubernetes minor.
    Kubernetes {
        /// Target minor (1.x).
        minor: u32,
        /// How long the rolling replacement of the API server instances takes.
        duration: Dur,
    },
}

/// An `upgrade` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// Id for expectations (default: the nodegroup's name, `spark-operator` or `kubernetes`).
    pub id: String,
    /// What.
    pub target: UpgradeTarget,
}

impl Upgrade {
    /// The step in words.
    pub fn describe(&self) -> String {
        match &self.target {
            UpgradeTarget::Nodegroup { group, minor, strategy } => {
                let to = minor.map_or("the control plane's version".to_string(), |m| format!("kubelet 1.{m}"));
                let how = match strategy {
                    NodeStrategy::Rolling { max_unavailable, surge, force } => format!(
                        "rolling, maxUnavailable {max_unavailable}{}{}",
                        surge.map_or(String::new(), |s| format!(", surge {s}")),
                        if *force { ", force" } else { "" }
                    ),
                    NodeStrategy::Minimal { max_unavailable, force } => {
                        format!("minimal, maxUnavailable {max_unavailable}{}", if *force { ", force" } else { "" })
                    }
                    NodeStrategy::Drift { budget } => format!("drift, budget {budget} of nodes"),
                };
                format!("upgrade {} (nodegroup {group} to {to}, {how})", self.id)
            }
            UpgradeTarget::SparkOperator { version, .. } => format!("upgrade {} (Spark Operator chart to {version})", self.id),
            UpgradeTarget::Kubernetes { minor, .. } => format!("upgrade {} (control plane to 1.{minor})", self.id),
        }
    }
}

/// A phase of an upgrade, as the trace records it (`upgrade` events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradePhase {
    /// Accepted; what it will do.
    Started,
    /// Refused before anything changed (version skew, one minor at a time, unknown group).
    Refused,
    /// New nodes requested before any old one goes (EKS scale-up).
    ScaleUp,
    /// A new node was requested.
    NodeLaunched,
    /// A new node is Ready.
    NodeReady,
    /// A node is cordoned (or tainted) so nothing new lands there.
    Cordoned,
    /// Eviction of a node's pods started.
    Drain,
    /// A pod was evicted (the Eviction API accepted it).
    Evicted,
    /// An eviction was refused (429: a PodDisruptionBudget); it is retried.
    EvictionBlocked,
    /// A pod was deleted without its budget's consent (force, or the drain's time ran out).
    ForceEvicted,
    /// The drain did not finish in time (EKS `PodEvictionFailure`).
    EvictionTimeout,
    /// Every pod of the node is gone; the node waits before termination.
    Drained,
    /// The node's instance was terminated and its Node object deleted.
    NodeTerminated,
    /// The group goes back to its size (EKS scale-down).
    ScaleDown,
    /// A Deployment's rolling update started.
    Rollout,
    /// A pod of the new revision is Ready.
    PodReady,
    /// A pod of the old revision was deleted by the rollout.
    OldPodDeleted,
    /// A Deployment's rollout finished.
    RolledOut,
    /// The operator controller's leader stopped; its Lease runs out.
    LeaderLost,
    /// A controller pod acquired the Lease.
    LeaderElected,
    /// What happens to the CRDs.
    Crds,
    /// An API server instance is being replaced.
    ApiServerRolling,
    /// Clients' watches were cut and re-established.
    WatchesReconnected,
    /// Version-dependent behaviour switched.
    VersionSwitched,
    /// Done.
    Completed,
    /// Given up (the step fails).
    Failed,
}

impl UpgradePhase {
    /// As in the trace.
    pub fn as_str(self) -> &'static str {
        match self {
            UpgradePhase::Started => "started",
            UpgradePhase::Refused => "refused",
            UpgradePhase::ScaleUp => "scale-up",
            UpgradePhase::NodeLaunched => "node-launched",
            UpgradePhase::NodeReady => "node-ready",
            UpgradePhase::Cordoned => "cordoned",
            UpgradePhase::Drain => "drain",
            UpgradePhase::Evicted => "evicted",
            UpgradePhase::EvictionBlocked => "eviction-blocked",
            UpgradePhase::ForceEvicted => "force-evicted",
            UpgradePhase::EvictionTimeout => "eviction-timeout",
            UpgradePhase::Drained => "drained",
            UpgradePhase::NodeTerminated => "node-terminated",
            UpgradePhase::ScaleDown => "scale-down",
            UpgradePhase::Rollout => "rollout",
            UpgradePhase::PodReady => "pod-ready",
            UpgradePhase::OldPodDeleted => "old-pod-deleted",
            UpgradePhase::RolledOut => "rolled-out",
            UpgradePhase::LeaderLost => "leader-lost",
            UpgradePhase::LeaderElected => "leader-elected",
            UpgradePhase::Crds => "crds",
            UpgradePhase::ApiServerRolling => "api-server-rolling",
            UpgradePhase::WatchesReconnected => "watches-reconnected",
            UpgradePhase::VersionSwitched => "version-switched",
            UpgradePhase::Completed => "completed",
            UpgradePhase::Failed => "failed",
        }
    }

    /// A phase after which the pod is gone because of the upgrade.
    pub fn disrupts_pod(self) -> bool {
        matches!(self, UpgradePhase::Evicted | UpgradePhase::ForceEvicted)
    }
}

impl fmt::Display for UpgradePhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses a Kubernetes version into its minor (`1.34`, `v1.34`, `1.34.2` → 34).
pub fn parse_minor(v: &str) -> Option<u32> {
    let mut it = v.trim().trim_start_matches('v').split('.');
    (it.next()? == "1").then_some(())?;
    let minor = it.next()?.parse().ok()?;
    it.next().is_none_or(|p| p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '+')).then_some(minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_as_their_users_do() {
        assert_eq!(IntOrPercent::parse("25%").unwrap().scaled(1, true), 1, "maxSurge 25% of 1 rounds up");
        assert_eq!(IntOrPercent::parse("25%").unwrap().scaled(1, false), 0, "maxUnavailable 25% of 1 rounds down");
        assert_eq!(IntOrPercent::parse("50%").unwrap().scaled(3, true), 2);
        assert_eq!(IntOrPercent::parse("3").unwrap().scaled(100, true), 3);
        assert!(IntOrPercent::parse("x%").is_err());
        assert_eq!(serde_json::from_str::<IntOrPercent>("\"10%\"").unwrap(), IntOrPercent::Percent(10));
        assert_eq!(serde_json::from_str::<IntOrPercent>("2").unwrap(), IntOrPercent::Int(2));
    }

    #[test]
    fn minors_parse_from_the_usual_spellings() {
        assert_eq!(parse_minor("1.34"), Some(34));
        assert_eq!(parse_minor("v1.35.2"), Some(35));
        assert_eq!(parse_minor("2.0"), None);
        assert_eq!(parse_minor("1"), None);
    }
}
