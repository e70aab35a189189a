//! Pod shapes of Spark pods: a SparkApplication's driver or executor pod compiled once for the
//! scheduler (requests, selectors, tolerations), shared by every pod of the same template, role
//! and webhook outcome. Apps whose spec was patched get their own.

use std::collections::BTreeMap;
use std::sync::Arc;

use sparkrig_model::kube::Labels;
use sparkrig_model::podspec::{self, SparkRole, Submission};

use sparkrig_model::tenancy::{CpuMem, PreemptionPolicy, Tenancy};

use crate::admission::PodCreate;
use crate::cluster::SchedSpec;
use crate::intern::Interner;
use crate::store::{App, AppId};

/// 2026-01-01T00:00:00Z: the wall clock of t=0, for Spark's time-based ids.
pub const EPOCH_MS: u64 = 1_767_225_600_000;

/// A pod shape shared by every pod of a template and role.
#[derive(Debug, Clone)]
pub struct Shape {
    /// What the scheduler needs.
    pub spec: Arc<SchedSpec>,
    /// Node selector as written (trace).
    pub node_selector: Labels,
    /// Image.
    pub image: String,
    /// Container name.
    pub container: String,
    /// Requests as Spark writes them.
    pub requests: CpuMem,
    /// Limits as Spark writes them (memory = request; cpu only with coreLimit).
    pub limits: CpuMem,
    /// `spec.priorityClassName` (pod template, or the webhook's).
    pub priority_class: Option<String>,
}

impl Shape {
    /// The pod create admission sees.
    pub fn create<'a>(&'a self, name: &'a str, namespace: &'a str) -> PodCreate<'a> {
        PodCreate {
            name,
            namespace,
            container: &self.container,
            requests: self.requests,
            limits: self.limits,
            priority_class: self.priority_class.as_deref(),
        }
    }
}

/// `spec.priority` and whether the pod may preempt, for a pod naming `class` (the Priority
/// admission plugin; an unknown class is refused at admission, so its value does not matter).
pub fn priority_of(tenancy: &Tenancy, class: Option<&str>) -> (i32, bool) {
    let c = match class {
        Some(n) => tenancy.priority_class(n),
        None => tenancy.global_default(),
    };
    c.map_or((0, true), |c| (c.value, c.preemption_policy != PreemptionPolicy::Never))
}

/// Pods of unpatched apps share their template's shape; patched apps have their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ShapeKey {
    Template(usize),
    App(AppId),
}

/// A cache of compiled shapes.
#[derive(Debug, Default)]
pub struct Shapes(BTreeMap<(ShapeKey, SparkRole, bool), Shape>);

impl Shapes {
    /// The shape of `app`'s pods of `role`, as admitted (`mutated` by the webhook or not).
    #[allow(clippy::too_many_arguments)]
    pub fn get(
        &mut self,
        id: AppId,
        a: &App,
        template: Option<&sparkrig_model::sparkapp::SparkApplication>,
        role: SparkRole,
        mutated: bool,
        tenancy: &Tenancy,
        interner: &mut Interner,
    ) -> Result<Shape, String> {
        let shared = a.template.filter(|_| !a.patched).zip(template);
        let key = (shared.map_or(ShapeKey::App(id), |(t, _)| ShapeKey::Template(t)), role, mutated);
        if let Some(s) = self.0.get(&key) {
            return Ok(s.clone());
        }
        let app = shared.map_or(&*a.app, |(_, t)| t);
        let sub = Submission::generate(app, &[0; 38], EPOCH_MS, mutated);
        let pod = match role {
            SparkRole::Driver => podspec::driver_pod(app, &sub)?,
            SparkRole::Executor => podspec::executor_pod(app, &sub, 1)?,
        };
        let mut spec = SchedSpec::compile(&pod, interner);
        (spec.priority, spec.preempt) = priority_of(tenancy, pod.priority_class.as_deref());
        let shape = Shape {
            spec: Arc::new(spec),
            node_selector: pod.node_selector,
            image: pod.image,
            container: pod.container,
            requests: CpuMem { cpu: Some(pod.cpu_millis), memory: Some(pod.memory_bytes) },
            limits: CpuMem { cpu: pod.cpu_limit_millis, memory: Some(pod.memory_bytes) },
            priority_class: pod.priority_class,
        };
        self.0.insert(key, shape.clone());
        Ok(shape)
    }
}
