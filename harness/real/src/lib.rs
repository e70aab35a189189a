//! sparkrig on real Kubernetes: kind provisioning and the kube backend.
//!
//! ```text
//! topology ──kindcfg──▶ kind Cluster config
//! scenario ──provision::up_plan──▶ Plan (kind, docker, helm, API calls) ──exec──▶ cluster
//! scenario ──KubeBackend::run──▶ apply / watch ──translate──▶ trace (same schema as sim)
//!          faults::inject_plan / heal_plan ──exec──▶ API calls and container operations
//!                                                   (docker: bollard, API version negotiated;
//!                                                    s3: buckets through the S3 API)
//! ```
//!
//! Everything that decides (configs, helm values, manifests, fault plans, object → trace event
//! translation, what may be deleted) is a plain function over plain data, tested without a
//! cluster; `exec` and the backend's loop are the thin edge that talks to processes, Docker and
//! the API server. Every failure there is an [`error::Error`], which says whether retrying helps.

pub mod backend;
pub mod chaos;
pub mod docker;
pub mod doctor;
pub mod error;
pub mod exec;
pub mod faults;
pub mod kindcfg;
pub mod plan;
pub mod provision;
pub mod s3;
pub mod stack;
pub mod translate;

/// Label on everything sparkrig creates (containers, namespaces, Secrets, the marker), with the
/// role as value; `down` deletes only what carries it.
pub const OWNER_LABEL: &str = "sparkrig.io/owned";
/// Label naming the kind cluster a container belongs to.
pub const CLUSTER_LABEL: &str = "sparkrig.io/cluster";
/// The ConfigMap in `kube-public` marking a cluster as sparkrig's, with its config hash.
pub const MARKER: &str = "sparkrig";
/// Annotation on a Deployment a fault scaled down, with its replica count before the fault;
/// removed by the heal. A run that finds it refuses to touch the Deployment (a sparkrig run
/// left it scaled down, or another is injecting a fault on it now).
pub const ORIGINAL_REPLICAS: &str = "sparkrig.io/original-replicas";

/// Annotation on a ConfigMap a fault edited, with the key's value before the fault
/// (`sparkrig.io/original-Corefile`); removed by the heal, refused like [`ORIGINAL_REPLICAS`].
pub fn original_value_annotation(key: &str) -> String {
    format!("sparkrig.io/original-{key}")
}
