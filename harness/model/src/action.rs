//! Changes made to a running cluster from outside its scenario: the writes a client sends to
//! `sparkrig serve` (kubectl, kube-rs, Spark's own client), recorded in the trace as
//! `api_write` so that a session can be replayed at the same virtual instants.

use serde::{Deserialize, Serialize};

/// One write, as the simulation carries it out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Create a SparkApplication (the manifest, admitted by the webhook as the API server
    /// would).
    CreateApp {
        /// The SparkApplication.
        app: serde_json::Value,
    },
    /// Replace a SparkApplication (apply, update or patch): its labels, annotations and spec.
    UpdateApp {
        /// `namespace/name`.
        app: String,
        /// The new object.
        object: serde_json::Value,
    },
    /// Delete a SparkApplication (its driver pod is garbage-collected).
    DeleteApp {
        /// `namespace/name`.
        app: String,
    },
    /// Delete a pod: graceful, or at once with a grace period of 0.
    DeletePod {
        /// `namespace/name`.
        pod: String,
        /// `gracePeriodSeconds` when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grace_seconds: Option<u64>,
    },
    /// Evict a pod (`pods/<name>/eviction`): refused while a PodDisruptionBudget of the
    /// scenario allows no disruption.
    EvictPod {
        /// `namespace/name`.
        pod: String,
    },
    /// Delete a Node object.
    DeleteNode {
        /// Node.
        node: String,
    },
    /// Set `spec.unschedulable` (cordon / uncordon).
    CordonNode {
        /// Node.
        node: String,
        /// Cordoned.
        unschedulable: bool,
    },
    /// Set a Deployment's `spec.replicas` (the scale subresource).
    ScaleDeployment {
        /// `namespace/name`.
        deployment: String,
        /// Replicas.
        replicas: u32,
    },
    /// Create a pod a client built itself. A pod labelled `spark-role=driver` (spark-submit in
    /// cluster mode) runs as a Spark driver; see [`crate::clientpod`].
    CreatePod {
        /// The Pod, as the API server stored it.
        pod: serde_json::Value,
    },
    /// The Spark properties of a driver pod a client created, from the ConfigMap spark-submit
    /// writes after the pod (`spark-drv-…-conf-map`, key `spark.properties`).
    SetSparkConf {
        /// `namespace/name` of the driver pod.
        pod: String,
        /// The properties.
        properties: std::collections::BTreeMap<String, String>,
    },
    /// Replace the CoreDNS Corefile (`kube-system/coredns` ConfigMap); CoreDNS loads it at its
    /// next reload.
    SetCorefile {
        /// Whether CoreDNS can serve cluster names with it.
        serves_cluster_names: bool,
    },
}
