//! Driver and executor pods derived from a SparkApplication, as spark-submit, the Spark driver
//! and the operator's mutating webhook build them.
//!
//! Entry points: [`Submission`] (the identifiers one spark-submit generates), [`driver_pod`],
//! [`executor_pod`]. Sources: reference/spark-on-kubernetes.md §1.2–1.6 and §2.2 (names, labels,
//! requests), reference/spark-operator.md §1.2, §3.2–3.5 (operator labels; webhook-only vs native
//! placement).

use serde::Serialize;

use crate::kube::{Affinity, Labels, Toleration, default_toleration_seconds};
use crate::quantity::{mib, parse_cpu_millis, parse_spark_mib};
use crate::sparkapp::{SparkApplication, SparkPodSpec, SparkVersion};

/// Driver or executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SparkRole {
    /// The driver pod.
    Driver,
    /// An executor pod.
    Executor,
}

impl SparkRole {
    /// `driver` / `executor`.
    pub fn as_str(self) -> &'static str {
        match self {
            SparkRole::Driver => "driver",
            SparkRole::Executor => "executor",
        }
    }
}

/// A pod as the scheduler and kubelet see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodSpec {
    /// Pod name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Labels.
    pub labels: Labels,
    /// Main container name.
    pub container: String,
    /// Main container image.
    pub image: String,
    /// CPU request, millicores (no limit unless coreLimit is set).
    pub cpu_millis: i64,
    /// Memory request (= limit), bytes.
    pub memory_bytes: i64,
    /// CPU limit, millicores: `coreLimit` (`spark.kubernetes.<role>.limit.cores`), else none.
    pub cpu_limit_millis: Option<i64>,
    /// Node selector.
    pub node_selector: Labels,
    /// Affinity.
    pub affinity: Option<Affinity>,
    /// Tolerations (including the DefaultTolerationSeconds ones the API server adds).
    pub tolerations: Vec<Toleration>,
    /// Scheduler name.
    pub scheduler_name: String,
    /// Priority class.
    pub priority_class: Option<String>,
    /// Service account.
    pub service_account: String,
}

/// Identifiers of one submission: what spark-submit (and, for executors, the driver JVM)
/// generates, plus the operator's submission id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// `status.submissionID` (UUID v4); empty for a spark-submit run outside the operator.
    pub submission_id: String,
    /// `spark.app.id` = `spark-<32 hex>`.
    pub spark_app_id: String,
    /// `<appName>-<uniqueID>`, prefix of the driver Service and ConfigMaps.
    pub resource_prefix: String,
    /// `<appName>-<uniqueID'>`, prefix of executor pod names (generated in the driver JVM).
    pub executor_prefix: String,
    /// Whether the mutating webhook mutated the pods of this submission.
    pub webhook_mutated: bool,
}

impl Submission {
    /// Builds the identifiers from 38 random bytes and the wall-clock milliseconds of the
    /// submission (`uniqueID = hex(3 random bytes) + hex(millis & 0xFFFFFFFFFF)`, KubernetesConf).
    pub fn generate(app: &SparkApplication, random: &[u8; 38], epoch_millis: u64, webhook_mutated: bool) -> Submission {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&random[..16]);
        uuid[6] = (uuid[6] & 0x0f) | 0x40;
        uuid[8] = (uuid[8] & 0x3f) | 0x80;
        let u = hex(&uuid);
        let submission_id = format!("{}-{}-{}-{}-{}", &u[..8], &u[8..12], &u[12..16], &u[16..20], &u[20..]);
        let spark_app_id = format!("spark-{}", hex(&random[16..32]));
        let time = format!("{:x}", epoch_millis & 0xFF_FFFF_FFFF);
        let unique = |r: &[u8]| format!("{}{time}", hex(r));
        let name = &app.metadata.name;
        let executor_prefix = app
            .spec
            .spark_conf
            .get("spark.kubernetes.executor.podNamePrefix")
            .cloned()
            .unwrap_or_else(|| resource_name_prefix(name, &unique(&random[35..38])));
        Submission {
            submission_id,
            spark_app_id,
            resource_prefix: resource_name_prefix(name, &unique(&random[32..35])),
            executor_prefix,
            webhook_mutated,
        }
    }

    /// The driver's headless Service (`DriverServiceFeatureStep`).
    pub fn driver_service(&self) -> String {
        let preferred = format!("{}-driver-svc", self.resource_prefix);
        if preferred.len() <= 63 {
            preferred
        } else {
            let unique = self.resource_prefix.rsplit('-').next().unwrap_or_default();
            format!("spark-{unique}-driver-svc")
        }
    }

    /// The DNS name executors use to reach the driver: `<svc>.<namespace>.svc` (spark.driver.host).
    pub fn driver_host(&self, namespace: &str) -> String {
        format!("{}.{namespace}.svc", self.driver_service())
    }

    /// Executor pod name `<prefix>-exec-<id>`.
    pub fn executor_pod_name(&self, exec_id: u32) -> String {
        format!("{}-exec-{exec_id}", self.executor_prefix)
    }
}

/// `KubernetesConf.getResourceNamePrefix`: lower-case, `[^a-z0-9-]` → `-`, runs of `-`
/// collapsed, no leading `-`, a leading digit replaced by `x`.
pub fn resource_name_prefix(app_name: &str, unique_id: &str) -> String {
    let raw = format!("{app_name}-{unique_id}").to_ascii_lowercase();
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' };
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.replace_range(0..1, "x");
    }
    out
}

/// The `spark-app-name` label value: sanitised, at most 63 characters, no edge dashes.
fn app_name_label(name: &str) -> String {
    let s: String =
        name.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' }).collect();
    let s: String = s.chars().take(63).collect();
    s.trim_matches('-').to_string()
}

/// The driver pod name: `spec.driver.podName`, else `spark.kubernetes.driver.pod.name`, else
/// `<app>-driver` (operator `GetDriverPodName`).
pub fn driver_pod_name(app: &SparkApplication) -> String {
    app.spec
        .driver
        .pod_name
        .clone()
        .or_else(|| app.spec.spark_conf.get("spark.kubernetes.driver.pod.name").cloned())
        .unwrap_or_else(|| format!("{}-driver", app.metadata.name))
}

/// `spark.executor.memoryOverheadFactor` and friends: the memory-overhead factor for a role.
///
/// Explicit per-role conf wins; then the app-wide `spark.kubernetes.memoryOverheadFactor`
/// (`spec.memoryOverheadFactor`); else 0.4 for Python/R and 0.1 for JVM apps
/// (`NON_JVM_MEMORY_OVERHEAD_FACTOR`, `MEMORY_OVERHEAD_FACTOR`; spark-on-kubernetes.md §1.5, §2.2).
pub fn overhead_factor(app: &SparkApplication, role: SparkRole) -> f64 {
    let conf = &app.spec.spark_conf;
    let role_key = format!("spark.{}.memoryOverheadFactor", role.as_str());
    conf.get(&role_key)
        .and_then(|v| v.parse().ok())
        .or_else(|| app.spec.memory_overhead_factor.as_deref().and_then(|v| v.parse().ok()))
        .or_else(|| conf.get("spark.kubernetes.memoryOverheadFactor").and_then(|v| v.parse().ok()))
        .unwrap_or(if app.spec.app_type.is_non_jvm() { 0.4 } else { 0.1 })
}

fn role_spec(app: &SparkApplication, role: SparkRole) -> &SparkPodSpec {
    match role {
        SparkRole::Driver => &app.spec.driver,
        SparkRole::Executor => &app.spec.executor,
    }
}

/// Memory request in MiB: `memory + (memoryOverhead or max(factor × memory, minOverhead))`,
/// plus `spark.executor.pyspark.memory` for Python executors. `minOverhead` is 384 MiB
/// (3.x `MEMORY_OVERHEAD_MIN_MIB`; 4.x `spark.{driver,executor}.minMemoryOverhead=384m`).
pub fn memory_request_mib(app: &SparkApplication, role: SparkRole) -> Result<i64, String> {
    let spec = role_spec(app, role);
    let conf = &app.spec.spark_conf;
    let r = role.as_str();
    let read = |v: &str, field: &str| parse_spark_mib(v).map_err(|e| format!("{field}: {e}"));
    let mem = match spec.memory.as_deref().or(conf.get(&format!("spark.{r}.memory")).map(String::as_str)) {
        Some(m) => read(m, "memory")?,
        None => 1024, // spark.{driver,executor}.memory default 1g
    };
    let min_overhead = match conf.get(&format!("spark.{r}.minMemoryOverhead")) {
        Some(v) => read(v, "minMemoryOverhead")?,
        None => 384,
    };
    let overhead = match spec.memory_overhead.as_deref().or(conf.get(&format!("spark.{r}.memoryOverhead")).map(String::as_str)) {
        Some(o) => read(o, "memoryOverhead")?,
        None => ((overhead_factor(app, role) * mem as f64) as i64).max(min_overhead),
    };
    let pyspark = match (role, app.spec.app_type.is_non_jvm(), conf.get("spark.executor.pyspark.memory")) {
        (SparkRole::Executor, true, Some(v)) => read(v, "spark.executor.pyspark.memory")?,
        _ => 0,
    };
    Ok(mem + overhead + pyspark)
}

/// CPU request in millicores: `coreRequest` (`spark.kubernetes.<role>.request.cores`), else
/// `cores` (`spark.<role>.cores`, default 1).
pub fn cpu_request_millis(app: &SparkApplication, role: SparkRole) -> Result<i64, String> {
    let spec = role_spec(app, role);
    let conf = &app.spec.spark_conf;
    let r = role.as_str();
    if let Some(req) = spec.core_request.as_deref().or(conf.get(&format!("spark.kubernetes.{r}.request.cores")).map(String::as_str)) {
        return parse_cpu_millis(req).map_err(|e| format!("coreRequest: {e}"));
    }
    let cores = match spec.cores {
        Some(c) => i64::from(c),
        None => match conf.get(&format!("spark.{r}.cores")) {
            Some(c) => c.parse::<i64>().map_err(|_| format!("spark.{r}.cores: `{c}` is not a whole number"))?,
            None => 1,
        },
    };
    Ok(cores * 1000)
}

/// CPU limit in millicores: `coreLimit` (`spark.kubernetes.<role>.limit.cores`), else none
/// (Spark sets no cpu limit by default, reference/platform-ops.md §2.5).
pub fn cpu_limit_millis(app: &SparkApplication, role: SparkRole) -> Result<Option<i64>, String> {
    let spec = role_spec(app, role);
    let key = format!("spark.kubernetes.{}.limit.cores", role.as_str());
    match spec.core_limit.as_deref().or(app.spec.spark_conf.get(&key).map(String::as_str)) {
        Some(l) => parse_cpu_millis(l).map(Some).map_err(|e| format!("coreLimit: {e}")),
        None => Ok(None),
    }
}

/// Executor count for static allocation: `spec.executor.instances`, else
/// `spark.executor.instances`, else 1 when the webhook defaulted the app, else Spark's own
/// default of 2 (`SchedulerBackendUtils.DEFAULT_NUMBER_EXECUTORS`).
pub fn executor_instances(app: &SparkApplication, webhook_defaulted: bool) -> u32 {
    app.spec
        .executor
        .instances
        .map(|n| n.max(0) as u32)
        .or_else(|| app.spec.spark_conf.get("spark.executor.instances").and_then(|v| v.parse().ok()))
        .unwrap_or(if webhook_defaulted { 1 } else { 2 })
}

/// Executors a driver asks for at start: with dynamic allocation
/// `max(minExecutors, initialExecutors, instances-if-set)` (§2.2), else [`executor_instances`].
pub fn initial_executors(app: &SparkApplication, webhook_defaulted: bool) -> u32 {
    if !app.dynamic_allocation_enabled() {
        return executor_instances(app, webhook_defaulted);
    }
    let conf = &app.spec.spark_conf;
    let da = app.spec.dynamic_allocation.clone().unwrap_or_default();
    let num = |v: Option<i32>, key: &str| v.or_else(|| conf.get(key).and_then(|x| x.parse().ok())).map(|n| n.max(0) as u32);
    let min = num(da.min_executors, "spark.dynamicAllocation.minExecutors").unwrap_or(0);
    let initial = num(da.initial_executors, "spark.dynamicAllocation.initialExecutors").unwrap_or(min);
    let instances = num(app.spec.executor.instances, "spark.executor.instances").unwrap_or(0);
    min.max(initial).max(instances)
}

/// Executor cores (task slots per executor).
pub fn executor_cores(app: &SparkApplication) -> u32 {
    app.spec
        .executor
        .cores
        .map(|c| c.max(1) as u32)
        .or_else(|| app.spec.spark_conf.get("spark.executor.cores").and_then(|v| v.parse().ok()))
        .unwrap_or(1)
}

fn image(app: &SparkApplication, role: SparkRole) -> String {
    let r = role.as_str();
    role_spec(app, role)
        .image
        .clone()
        .or_else(|| app.spec.image.clone())
        .or_else(|| app.spec.spark_conf.get(&format!("spark.kubernetes.{r}.container.image")).cloned())
        .or_else(|| app.spec.spark_conf.get("spark.kubernetes.container.image").cloned())
        .unwrap_or_else(|| "apache/spark".into())
}

fn build(
    app: &SparkApplication,
    sub: &Submission,
    role: SparkRole,
    name: String,
    extra_labels: &[(&str, String)],
) -> Result<PodSpec, String> {
    let spec = role_spec(app, role);
    let r = role.as_str();
    let conf = &app.spec.spark_conf;
    let version = app.spark_version();
    let templates_apply = version.is_none_or(|v| v >= SparkVersion::new(3, 0, 0));
    let template = spec.template.as_ref().filter(|_| templates_apply);
    let tspec = template.and_then(|t| t.spec.as_ref());

    // Labels: template first, then Spark's, then the operator's (app labels, role labels).
    let mut labels = Labels::new();
    if let Some(meta) = template.and_then(|t| t.metadata.as_ref()) {
        labels.extend(meta.labels.clone());
    }
    labels.insert("spark-app-selector".into(), sub.spark_app_id.clone());
    labels.insert("spark-role".into(), r.into());
    labels.insert("spark-app-name".into(), app_name_label(&app.metadata.name));
    labels.insert("spark-version".into(), app.spec.spark_version.clone());
    for (k, v) in extra_labels {
        labels.insert((*k).into(), v.clone());
    }
    labels.extend(app.metadata.labels.iter().filter(|(k, _)| !k.starts_with("kueue.x-k8s.io/")).map(|(k, v)| (k.clone(), v.clone())));
    // A submission without an operator submission id is spark-submit run by a client: no
    // operator labels (reference/kube-api.md §7.2).
    let by_operator = !sub.submission_id.is_empty();
    if by_operator {
        labels.insert("sparkoperator.k8s.io/app-name".into(), app.metadata.name.clone());
        labels.insert("sparkoperator.k8s.io/launched-by-spark-operator".into(), "true".into());
        labels.insert("sparkoperator.k8s.io/submission-id".into(), sub.submission_id.clone());
    }
    if by_operator && (!templates_apply || spec.template.is_none()) {
        labels.insert("sparkoperator.k8s.io/mutated-by-spark-operator".into(), "true".into());
    }
    labels.extend(spec.labels.clone());

    // Native placement: app-level nodeSelector and spark.kubernetes.[role.]node.selector.*, then
    // the pod template.
    let mut node_selector = app.spec.node_selector.clone();
    for (prefix, target) in [("spark.kubernetes.node.selector.", ""), ("spark.kubernetes.", r)] {
        let prefix = if target.is_empty() { prefix.to_string() } else { format!("{prefix}{target}.node.selector.") };
        for (k, v) in conf.range(prefix.clone()..) {
            match k.strip_prefix(&prefix) {
                Some(label) => {
                    node_selector.insert(label.into(), v.clone());
                }
                None => break,
            }
        }
    }
    let mut affinity = None;
    let mut tolerations = Vec::new();
    let mut scheduler_name = None;
    let mut priority_class = None;
    if let Some(t) = tspec {
        node_selector.extend(t.node_selector.clone());
        affinity = t.affinity.clone();
        tolerations.extend(t.tolerations.iter().cloned());
        scheduler_name = t.scheduler_name.clone();
        priority_class = t.priority_class_name.clone();
    }
    // Webhook-only placement (`addNodeSelectors`, `addAffinity` replaces, `addTolerations`
    // appends, `addSchedulerName` with batchScheduler winning, `addPriorityClassName`).
    if sub.webhook_mutated {
        node_selector.extend(spec.node_selector.clone());
        if spec.affinity.is_some() {
            affinity = spec.affinity.clone();
        }
        tolerations.extend(spec.tolerations.iter().cloned());
        let batch = app.spec.extra.get("batchScheduler").and_then(|v| v.as_str()).map(String::from);
        if let Some(s) = batch.or_else(|| spec.scheduler_name.clone()) {
            scheduler_name = Some(s);
        }
        if spec.priority_class_name.is_some() {
            priority_class = spec.priority_class_name.clone();
        }
    }
    // DefaultTolerationSeconds admission: added unless the pod already tolerates the key.
    for d in default_toleration_seconds() {
        if !tolerations.iter().any(|t| t.key == d.key && t.effect == d.effect) {
            tolerations.push(d);
        }
    }
    let service_account = app.spec.driver.service_account.clone().unwrap_or_else(|| "default".into());
    Ok(PodSpec {
        name,
        namespace: app.namespace().to_string(),
        labels,
        container: format!("spark-kubernetes-{r}"),
        image: image(app, role),
        cpu_millis: cpu_request_millis(app, role)?,
        memory_bytes: mib(memory_request_mib(app, role)?),
        cpu_limit_millis: cpu_limit_millis(app, role)?,
        node_selector,
        affinity,
        tolerations,
        scheduler_name: scheduler_name.unwrap_or_else(|| "default-scheduler".into()),
        priority_class,
        service_account,
    })
}

/// The driver pod of a submission.
pub fn driver_pod(app: &SparkApplication, sub: &Submission) -> Result<PodSpec, String> {
    build(app, sub, SparkRole::Driver, driver_pod_name(app), &[])
}

/// Executor pod `exec_id` (ids start at 1 and are never reused).
pub fn executor_pod(app: &SparkApplication, sub: &Submission, exec_id: u32) -> Result<PodSpec, String> {
    build(
        app,
        sub,
        SparkRole::Executor,
        sub.executor_pod_name(exec_id),
        &[("spark-exec-id", exec_id.to_string()), ("spark-exec-resourceprofile-id", "0".into())],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::{TaintEffect, Toleration};
    use crate::quantity::mib;
    use serde_json::json;

    fn app(extra: serde_json::Value) -> SparkApplication {
        let mut base = json!({
            "apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication",
            "metadata": {"name": "spark-pi", "namespace": "default", "labels": {"team": "data", "kueue.x-k8s.io/queue-name": "q"}},
            "spec": {"type": "Scala", "sparkVersion": "3.5.6", "image": "registry.local/spark:3.5.6",
                     "driver": {}, "executor": {}}
        });
        merge(&mut base, extra);
        serde_json::from_value(base).unwrap()
    }

    fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    fn sub(a: &SparkApplication, webhook: bool) -> Submission {
        Submission::generate(a, &[7u8; 38], 1_767_225_600_000, webhook)
    }

    // Golden values asserted by Spark's own KubernetesSuite (spark-on-kubernetes.md §1.5, §4).
    #[test]
    fn memory_requests_match_spark_integration_tests() {
        let jvm = app(json!({}));
        assert_eq!(memory_request_mib(&jvm, SparkRole::Driver).unwrap(), 1024 + 384);
        let py = app(json!({"spec": {"type": "Python"}}));
        assert_eq!(memory_request_mib(&py, SparkRole::Driver).unwrap(), 1433);
        let big = app(json!({"spec": {"driver": {"memory": "4g"}}}));
        assert_eq!(memory_request_mib(&big, SparkRole::Driver).unwrap(), 4505);
        let pymem = app(json!({"spec": {"type": "Python", "sparkConf": {
            "spark.kubernetes.memoryOverheadFactor": "0.8", "spark.executor.pyspark.memory": "200m"}}}));
        assert_eq!(memory_request_mib(&pymem, SparkRole::Driver).unwrap(), 1843);
        assert_eq!(memory_request_mib(&pymem, SparkRole::Executor).unwrap(), 2043);
        let explicit = app(json!({"spec": {"executor": {"memory": "512m", "memoryOverhead": "512m"}}}));
        assert_eq!(memory_request_mib(&explicit, SparkRole::Executor).unwrap(), 1024);
    }

    #[test]
    fn cpu_request_from_core_request_or_cores() {
        let a = app(json!({"spec": {"driver": {"cores": 2}, "executor": {"cores": 4, "coreRequest": "3500m"}}}));
        assert_eq!(cpu_request_millis(&a, SparkRole::Driver).unwrap(), 2000);
        assert_eq!(cpu_request_millis(&a, SparkRole::Executor).unwrap(), 3500);
        assert_eq!(cpu_request_millis(&app(json!({})), SparkRole::Executor).unwrap(), 1000);
    }

    #[test]
    fn names_and_labels() {
        let a = app(json!({}));
        let s = sub(&a, true);
        let d = driver_pod(&a, &s).unwrap();
        assert_eq!(d.name, "spark-pi-driver");
        assert_eq!(d.container, "spark-kubernetes-driver");
        assert_eq!(d.labels["spark-role"], "driver");
        assert_eq!(d.labels["spark-app-selector"], s.spark_app_id);
        assert!(s.spark_app_id.starts_with("spark-") && s.spark_app_id.len() == 38);
        assert_eq!(d.labels["sparkoperator.k8s.io/app-name"], "spark-pi");
        assert_eq!(d.labels["sparkoperator.k8s.io/launched-by-spark-operator"], "true");
        assert_eq!(d.labels["sparkoperator.k8s.io/submission-id"], s.submission_id);
        assert_eq!(d.labels["team"], "data");
        assert!(!d.labels.contains_key("kueue.x-k8s.io/queue-name"));
        let e = executor_pod(&a, &s, 3).unwrap();
        assert!(e.name.starts_with("spark-pi-") && e.name.ends_with("-exec-3"), "{}", e.name);
        assert_eq!(e.labels["spark-exec-id"], "3");
        assert_eq!(e.labels["spark-role"], "executor");
        // uniqueID = 6 hex of randomness + the time part.
        // 1_767_225_600_000 & 0xFF_FFFF_FFFF = 0x9b76daa800.
        assert_eq!(s.resource_prefix, "spark-pi-0707079b76daa800");
        assert_eq!(s.driver_host("default"), format!("{}-driver-svc.default.svc", s.resource_prefix));
    }

    #[test]
    fn resource_prefix_is_sanitised() {
        assert_eq!(resource_name_prefix("My_App..Name", "abc"), "my-app-name-abc");
        assert_eq!(resource_name_prefix("9lives", "abc"), "xlives-abc");
    }

    #[test]
    fn webhook_only_fields_need_the_webhook() {
        let a = app(json!({"spec": {
            "nodeSelector": {"zone": "a"},
            "executor": {"nodeSelector": {"nodegroup": "spark-executor"},
                         "tolerations": [{"key": "purpose", "operator": "Equal", "value": "spark-executor", "effect": "NoSchedule"}]}}}));
        let mutated = executor_pod(&a, &sub(&a, true), 1).unwrap();
        assert_eq!(mutated.node_selector.get("nodegroup").map(String::as_str), Some("spark-executor"));
        assert_eq!(mutated.node_selector["zone"], "a");
        let exec_taint = crate::kube::Taint::new("purpose", "spark-executor", TaintEffect::NoSchedule);
        assert!(crate::kube::tolerated(&mutated.tolerations, &exec_taint));
        let plain = executor_pod(&a, &sub(&a, false), 1).unwrap();
        assert_eq!(plain.node_selector.len(), 1, "only the native app-level selector");
        assert!(!crate::kube::tolerated(&plain.tolerations, &exec_taint));
        // The API server's default NoExecute tolerations are always there.
        assert_eq!(plain.tolerations.len(), 2);
        assert_eq!(plain.memory_bytes, mib(1408));
    }

    #[test]
    fn pod_templates_apply_natively() {
        let a = app(json!({"spec": {"executor": {"template": {
            "metadata": {"labels": {"pool": "x"}},
            "spec": {"nodeSelector": {"nodegroup": "spark-executor"},
                     "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}]}}}}}));
        let p = executor_pod(&a, &sub(&a, false), 1).unwrap();
        assert_eq!(p.node_selector["nodegroup"], "spark-executor");
        assert_eq!(p.labels["pool"], "x");
        assert!(p.tolerations.contains(&Toleration::exists("", Some(TaintEffect::NoSchedule))));
        assert!(!p.labels.contains_key("sparkoperator.k8s.io/mutated-by-spark-operator"));
    }

    #[test]
    fn instances_default_depends_on_webhook_defaulting() {
        let a = app(json!({}));
        assert_eq!(executor_instances(&a, true), 1);
        assert_eq!(executor_instances(&a, false), 2);
        assert_eq!(executor_instances(&app(json!({"spec": {"executor": {"instances": 7}}})), false), 7);
    }
}
