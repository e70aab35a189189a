//! Pod shapes of Spark pods: a SparkApplication's driver or executor pod compiled once for the
//! scheduler (requests, selectors, tolerations), shared by every pod of the same template, role
//! and webhook outcome. Apps whose spec was patched get their own.

use std::collections::BTreeMap;
use std::sync::Arc;

use sparkrig_model::kube::Labels;
use sparkrig_model::podspec::{self, SparkRole, Submission};

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
    pub fn get(
        &mut self,
        id: AppId,
        a: &App,
        template: Option<&sparkrig_model::sparkapp::SparkApplication>,
        role: SparkRole,
        mutated: bool,
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
        let shape = Shape { spec: Arc::new(SchedSpec::compile(&pod, interner)), node_selector: pod.node_selector, image: pod.image };
        self.0.insert(key, shape.clone());
        Ok(shape)
    }
}
