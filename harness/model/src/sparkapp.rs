//! `SparkApplication` (`sparkoperator.k8s.io/v1beta2`): a typed model of the fields that drive
//! placement and lifecycle (reference/spark-operator.md §1), reading real manifests.
//!
//! Every struct keeps the fields it does not model in `extra`, so an application read from a
//! manifest serialises back to the same object; [`crate::crd`] validates it against the real CRD.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::kube::{Affinity, Labels, Toleration};

/// Fields this model does not look at, kept for round-tripping.
pub type Extra = Map<String, Value>;

/// A SparkApplication object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SparkApplication {
    /// `sparkoperator.k8s.io/v1beta2`.
    pub api_version: String,
    /// `SparkApplication`.
    pub kind: String,
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec, shared between the apps generated from one manifest (copied on write).
    pub spec: Arc<SparkApplicationSpec>,
    /// `status` and anything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The metadata fields sparkrig uses.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Name.
    pub name: String,
    /// Namespace (`default` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels; copied onto driver and executor pods (except `kueue.x-k8s.io/*`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Labels,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `spec.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AppType {
    /// Java.
    Java,
    /// Python (non-JVM: 0.4 memory overhead factor).
    Python,
    /// Scala (the webhook default).
    #[default]
    Scala,
    /// R (non-JVM).
    R,
}

impl AppType {
    /// Python and R apps run a non-JVM process next to the JVM (`NON_JVM_MEMORY_OVERHEAD_FACTOR`).
    pub fn is_non_jvm(self) -> bool {
        matches!(self, AppType::Python | AppType::R)
    }
}

/// `spec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SparkApplicationSpec {
    /// Application type.
    #[serde(rename = "type")]
    pub app_type: AppType,
    /// Spark version, e.g. `3.5.6`.
    pub spark_version: String,
    /// `cluster` or `client`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Default image for driver and executors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Main class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_class: Option<String>,
    /// Main application file (`local://`, `s3a://`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_application_file: Option<String>,
    /// Application arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<String>,
    /// `--conf` entries.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub spark_conf: BTreeMap<String, String>,
    /// `spark.hadoop.*` entries.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hadoop_conf: BTreeMap<String, String>,
    /// Driver.
    pub driver: SparkPodSpec,
    /// Executors.
    pub executor: SparkPodSpec,
    /// Restart policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    /// App-level node selector: applied natively by Spark to driver and executors.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: Labels,
    /// `spark.kubernetes.memoryOverheadFactor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_overhead_factor: Option<String>,
    /// Dynamic allocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_allocation: Option<DynamicAllocation>,
    /// Suspend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// GC of the SparkApplication N seconds after termination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_live_seconds: Option<i64>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `spec.driver` / `spec.executor` (SparkPodSpec plus the role-specific fields).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SparkPodSpec {
    /// `spark.{driver,executor}.cores` (webhook default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<i32>,
    /// `spark.kubernetes.{driver,executor}.request.cores`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core_request: Option<String>,
    /// `spark.kubernetes.{driver,executor}.limit.cores`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core_limit: Option<String>,
    /// `spark.{driver,executor}.memory` (JVM style, webhook default `1g`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// `spark.{driver,executor}.memoryOverhead`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_overhead: Option<String>,
    /// Executor count (executor only; webhook default 1, Spark default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<i32>,
    /// Image override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Service account (driver: a missing one fails spark-submit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// Pod labels (`spark.kubernetes.{driver,executor}.label.*`, native).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    /// Pod annotations (native).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Labels,
    /// Webhook only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: Labels,
    /// Webhook only (replaces the pod's affinity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Webhook only (appended).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Webhook only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    /// Webhook only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Pod template: applied natively by Spark ≥ 3.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<PodTemplateSpec>,
    /// Driver pod name override (driver only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,
    /// `spark.kubernetes.executor.deleteOnTermination`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_on_termination: Option<bool>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The parts of a pod template that matter for placement.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateSpec {
    /// Template metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMeta>,
    /// Template pod spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<TemplatePodSpec>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Template metadata.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMeta {
    /// Labels kept on the pod.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Template pod spec: placement fields.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplatePodSpec {
    /// Node selector.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: Labels,
    /// Affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Tolerations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Scheduler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    /// Priority class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `spec.restartPolicy`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestartPolicy {
    /// `Never` (webhook default), `OnFailure` or `Always`.
    #[serde(rename = "type", default)]
    pub policy: RestartPolicyType,
    /// Resubmissions after a failed submission (OnFailure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_submission_failure_retries: Option<i32>,
    /// Reruns after a failed run (OnFailure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure_retries: Option<i32>,
    /// Seconds; the webhook defaults it to 5 when the type is not Never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_submission_failure_retry_interval: Option<i64>,
    /// Seconds; the webhook defaults it to 5 when the type is not Never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure_retry_interval: Option<i64>,
}

/// Restart policy type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RestartPolicyType {
    /// Never restart.
    #[default]
    Never,
    /// Restart on failure, up to the retry counts.
    OnFailure,
    /// Always restart, also after success.
    Always,
}

/// `spec.dynamicAllocation`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamicAllocation {
    /// Enabled.
    #[serde(default)]
    pub enabled: bool,
    /// `spark.dynamicAllocation.initialExecutors`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_executors: Option<i32>,
    /// `spark.dynamicAllocation.minExecutors`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_executors: Option<i32>,
    /// `spark.dynamicAllocation.maxExecutors`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_executors: Option<i32>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A Spark version, compared numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SparkVersion {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
}

impl SparkVersion {
    /// Parses `3.5.6`, `4.0`, `4.1.0-SNAPSHOT`.
    pub fn parse(s: &str) -> Option<SparkVersion> {
        let core = s.trim().trim_start_matches('v').split(['-', '+']).next()?;
        let mut it = core.split('.');
        let major = it.next()?.parse().ok()?;
        let minor = it.next().unwrap_or("0").parse().ok()?;
        let patch = it.next().unwrap_or("0").parse().ok()?;
        Some(SparkVersion { major, minor, patch })
    }

    /// `major.minor.patch`.
    pub const fn new(major: u32, minor: u32, patch: u32) -> SparkVersion {
        SparkVersion { major, minor, patch }
    }
}

impl fmt::Display for SparkVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl SparkApplication {
    /// Namespace, `default` when absent.
    pub fn namespace(&self) -> &str {
        self.metadata.namespace.as_deref().unwrap_or("default")
    }

    /// The Spark version, if it parses.
    pub fn spark_version(&self) -> Option<SparkVersion> {
        SparkVersion::parse(&self.spec.spark_version)
    }

    /// Whether dynamic allocation is on (spec field or sparkConf).
    pub fn dynamic_allocation_enabled(&self) -> bool {
        self.spec.dynamic_allocation.as_ref().is_some_and(|d| d.enabled)
            || self.spec.spark_conf.get("spark.dynamicAllocation.enabled").is_some_and(|v| v == "true")
    }

    /// A copy with a new name (and the driver pod name override dropped, so names stay unique).
    pub fn renamed(&self, name: &str) -> SparkApplication {
        let mut app = self.clone();
        app.metadata.name = name.to_string();
        if app.spec.driver.pod_name.is_some() {
            Arc::make_mut(&mut app.spec).driver.pod_name = None;
        }
        app
    }

    /// The manifest as JSON, as it would be sent to the API server.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("SparkApplication serialises to JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_versions_compare_numerically() {
        let v = |s| SparkVersion::parse(s).unwrap();
        assert!(v("3.5.9") < v("4.0.0"));
        assert!(v("4.10.0") > v("4.2.0"));
        assert_eq!(v("4.1"), SparkVersion::new(4, 1, 0));
        assert_eq!(v("4.1.0-SNAPSHOT"), SparkVersion::new(4, 1, 0));
        assert!(SparkVersion::parse("latest").is_none());
    }

    #[test]
    fn round_trips_unmodelled_fields() {
        let json = serde_json::json!({
            "apiVersion": "sparkoperator.k8s.io/v1beta2",
            "kind": "SparkApplication",
            "metadata": {"name": "pi", "namespace": "default", "uid": "x"},
            "spec": {
                "type": "Scala", "sparkVersion": "4.0.4", "mode": "cluster",
                "driver": {"cores": 1, "securityContext": {"runAsUser": 185}},
                "executor": {"instances": 2},
                "sparkUIOptions": {"servicePort": 4040}
            }
        });
        let app: SparkApplication = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(app.spec.executor.instances, Some(2));
        assert_eq!(app.to_json(), json);
    }
}
