//! `ScheduledSparkApplication` (`sparkoperator.k8s.io/v1beta2`): a typed model of the spec the
//! operator's controller reads (reference/platform-ops.md §1.1), built from real manifests such
//! as the upstream `examples/spark-pi-scheduled.yaml`.
//!
//! Entry point: [`ScheduledApp::from_json`]; [`ScheduledApp::child`] is the SparkApplication
//! one run creates (name `<name>-<timestamp>`, labels, spec copied from `template`).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::kube::Labels;
use crate::schedule::Schedule;
use crate::sparkapp::SparkApplication;

/// The label children carry (`common.LabelScheduledSparkAppName`).
pub const SCHEDULED_APP_LABEL: &str = "sparkoperator.k8s.io/scheduled-app-name";

/// `spec.concurrencyPolicy`: no default and no enum in the CRD (§1.1, §1.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConcurrencyPolicy {
    /// Runs may overlap.
    Allow,
    /// No new run while the newest child is not COMPLETED or FAILED.
    Forbid,
    /// The unfinished newest child is deleted and the new run starts.
    Replace,
    /// Omitted or misspelt: no run starts while any child exists (inference from the code's
    /// `switch`, which falls through to `false`).
    Other(String),
}

impl ConcurrencyPolicy {
    fn parse(s: Option<&str>) -> ConcurrencyPolicy {
        match s {
            Some("Allow") => ConcurrencyPolicy::Allow,
            Some("Forbid") => ConcurrencyPolicy::Forbid,
            Some("Replace") => ConcurrencyPolicy::Replace,
            other => ConcurrencyPolicy::Other(other.unwrap_or_default().to_string()),
        }
    }

    /// As written (`""` when omitted).
    pub fn name(&self) -> &str {
        match self {
            ConcurrencyPolicy::Allow => "Allow",
            ConcurrencyPolicy::Forbid => "Forbid",
            ConcurrencyPolicy::Replace => "Replace",
            ConcurrencyPolicy::Other(s) => s,
        }
    }
}

/// The child-name timestamp (`--scheduled-spark-application-timestamp-precision`, chart
/// `controller.scheduledSparkApplicationTimestampPrecision`, default `nanos`; v2.5.0+, #2827).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampPrecision {
    /// `UnixNano` (default).
    #[default]
    Nanos,
    /// `UnixMicro`.
    Micros,
    /// `UnixMilli`.
    Millis,
    /// `Unix`.
    Seconds,
    /// `Unix() / 60`.
    Minutes,
}

impl TimestampPrecision {
    /// `formatTimestamp` of an instant in Unix milliseconds.
    pub fn format(self, unix_ms: u64) -> String {
        match self {
            TimestampPrecision::Nanos => format!("{}", u128::from(unix_ms) * 1_000_000),
            TimestampPrecision::Micros => format!("{}", unix_ms * 1000),
            TimestampPrecision::Millis => format!("{unix_ms}"),
            TimestampPrecision::Seconds => format!("{}", unix_ms / 1000),
            TimestampPrecision::Minutes => format!("{}", unix_ms / 60_000),
        }
    }
}

/// A ScheduledSparkApplication.
#[derive(Debug, Clone)]
pub struct ScheduledApp {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (`default` when absent).
    pub namespace: String,
    /// `metadata.labels` (copied onto children).
    pub labels: Labels,
    /// `spec.schedule` as written.
    pub schedule: String,
    /// `spec.timeZone` as written (`""` = Local).
    pub time_zone: String,
    /// The parsed schedule, or why the controller would set FailedValidation.
    pub parsed: Result<Arc<Schedule>, String>,
    /// `spec.suspend`.
    pub suspend: bool,
    /// `spec.concurrencyPolicy`.
    pub concurrency: ConcurrencyPolicy,
    /// `spec.successfulRunHistoryLimit` (nil → 1).
    pub successful_history: Option<i32>,
    /// `spec.failedRunHistoryLimit` (nil → 1).
    pub failed_history: Option<i32>,
    /// `spec.template` as a SparkApplication (named after the scheduled app).
    pub template: SparkApplication,
}

impl ScheduledApp {
    /// The SparkApplication document `spec.template` stands for (for CRD validation): the
    /// scheduled app's metadata with the template as spec.
    pub fn template_document(doc: &Value) -> Value {
        json!({
            "apiVersion": doc["apiVersion"], "kind": "SparkApplication", "metadata": doc["metadata"], "spec": doc["spec"]["template"]
        })
    }

    /// Reads a ScheduledSparkApplication document; errors are (field path, message).
    pub fn from_json(doc: &Value) -> Result<ScheduledApp, (String, String)> {
        let spec = &doc["spec"];
        let schedule = spec["schedule"].as_str().ok_or(("spec.schedule".to_string(), "`schedule` is required".to_string()))?;
        if !spec["template"].is_object() {
            return Err(("spec.template".into(), "`template` is required".into()));
        }
        let str_field = |k: &str| -> Result<Option<String>, (String, String)> {
            match &spec[k] {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s.clone())),
                _ => Err((format!("spec.{k}"), format!("`{k}` is a string"))),
            }
        };
        let int_field = |k: &str| -> Result<Option<i32>, (String, String)> {
            match &spec[k] {
                Value::Null => Ok(None),
                v => v
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .map(Some)
                    .ok_or((format!("spec.{k}"), format!("`{k}` is a 32-bit integer"))),
            }
        };
        let time_zone = str_field("timeZone")?.unwrap_or_default();
        let concurrency = ConcurrencyPolicy::parse(str_field("concurrencyPolicy")?.as_deref());
        let suspend = match &spec["suspend"] {
            Value::Null => false,
            Value::Bool(b) => *b,
            _ => return Err(("spec.suspend".into(), "`suspend` is a boolean".into())),
        };
        let template: SparkApplication =
            serde_json::from_value(Self::template_document(doc)).map_err(|e| ("spec.template".to_string(), e.to_string()))?;
        Ok(ScheduledApp {
            name: template.metadata.name.clone(),
            namespace: template.namespace().to_string(),
            labels: template.metadata.labels.clone(),
            schedule: schedule.to_string(),
            parsed: Schedule::parse(schedule, &time_zone).map(Arc::new),
            time_zone,
            suspend,
            concurrency,
            successful_history: int_field("successfulRunHistoryLimit")?,
            failed_history: int_field("failedRunHistoryLimit")?,
            template,
        })
    }

    /// A copy under another name (numbered instances of a workload entry).
    pub fn renamed(&self, name: &str) -> ScheduledApp {
        let mut s = self.clone();
        s.name = name.to_string();
        s.template.metadata.name = name.to_string();
        s
    }

    /// The object as a manifest (for real clusters).
    pub fn to_json(&self) -> Value {
        let mut spec = json!({"schedule": self.schedule, "template": self.template.to_json()["spec"]});
        if !self.time_zone.is_empty() {
            spec["timeZone"] = self.time_zone.clone().into();
        }
        if !matches!(&self.concurrency, ConcurrencyPolicy::Other(s) if s.is_empty()) {
            spec["concurrencyPolicy"] = self.concurrency.name().into();
        }
        if self.suspend {
            spec["suspend"] = true.into();
        }
        if let Some(n) = self.successful_history {
            spec["successfulRunHistoryLimit"] = n.into();
        }
        if let Some(n) = self.failed_history {
            spec["failedRunHistoryLimit"] = n.into();
        }
        json!({
            "apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "ScheduledSparkApplication",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": self.labels},
            "spec": spec
        })
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The child a run creates at `unix_ms` (`createSparkApplication`): the scheduled app's
    /// labels plus [`SCHEDULED_APP_LABEL`], no annotations, the template's spec.
    pub fn child(&self, unix_ms: u64, precision: TimestampPrecision) -> SparkApplication {
        let mut app = self.template.clone();
        app.metadata.name = format!("{}-{}", self.name, precision.format(unix_ms));
        app.metadata.namespace = Some(self.namespace.clone());
        let mut labels = self.labels.clone();
        labels.insert(SCHEDULED_APP_LABEL.into(), self.name.clone());
        app.metadata.labels = labels;
        app.metadata.annotations.clear();
        app.metadata.extra.clear();
        app
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_upstream_example_and_names_children_in_nanoseconds() {
        let doc = json!({
            "apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "ScheduledSparkApplication",
            "metadata": {"name": "spark-pi-scheduled", "namespace": "default"},
            "spec": {"schedule": "@every 3m", "concurrencyPolicy": "Allow",
                     "template": {"type": "Scala", "sparkVersion": "4.0.4", "driver": {"cores": 1}, "executor": {"instances": 1}}}
        });
        let s = ScheduledApp::from_json(&doc).unwrap();
        assert_eq!((s.name.as_str(), s.namespace.as_str(), s.concurrency.name()), ("spark-pi-scheduled", "default", "Allow"));
        assert!(s.parsed.is_ok());
        let child = s.child(1_767_225_780_000, TimestampPrecision::Nanos);
        assert_eq!(child.metadata.name, "spark-pi-scheduled-1767225780000000000");
        assert_eq!(child.metadata.labels[SCHEDULED_APP_LABEL], "spark-pi-scheduled");
        assert_eq!(child.spec.spark_version, "4.0.4");
        assert_eq!(TimestampPrecision::Minutes.format(1_767_225_780_000), "29453763");
    }

    #[test]
    fn a_bad_schedule_is_kept_as_the_controllers_failed_validation_reason() {
        let doc = json!({"apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "ScheduledSparkApplication", "metadata": {"name": "x"}, "spec": {"schedule": "every hour", "template": {"sparkVersion": "3.5.6", "type": "Scala", "driver": {}, "executor": {}}}});
        let s = ScheduledApp::from_json(&doc).unwrap();
        assert_eq!(s.parsed.unwrap_err(), "expected exactly 5 fields, found 2: every hour");
        assert_eq!(s.concurrency, ConcurrencyPolicy::Other(String::new()));
        let missing = json!({"metadata": {"name": "x"}, "spec": {"template": {}}});
        assert_eq!(ScheduledApp::from_json(&missing).unwrap_err().0, "spec.schedule");
    }
}
