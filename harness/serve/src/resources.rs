//! The resources the server publishes, as discovery, routing, tables and OpenAPI see them
//! (reference/kube-api.md §1.1: names, short names, verbs, subresources and the kinds of
//! `pods/eviction` and `deployments/scale`, which kubectl drain and the scale resolver check).

/// Where a resource's objects come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    /// Rendered from the simulation; writes are mapped to it (or refused).
    Sim,
    /// Stored as clients write them (Services, NetworkPolicies, PVCs, ...).
    Stored,
}

/// A subresource.
#[derive(Debug)]
pub struct Sub {
    /// `status`, `log`, `eviction`, `scale`.
    pub name: &'static str,
    /// Its group (empty: the parent's).
    pub group: &'static str,
    /// Its version (empty: the parent's).
    pub version: &'static str,
    /// Its kind.
    pub kind: &'static str,
    /// Verbs.
    pub verbs: &'static [&'static str],
}

/// A resource.
#[derive(Debug)]
pub struct Resource {
    /// API group (`""` for core).
    pub group: &'static str,
    /// Version.
    pub version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Plural (the URL segment).
    pub plural: &'static str,
    /// Singular.
    pub singular: &'static str,
    /// Short names.
    pub short: &'static [&'static str],
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Verbs.
    pub verbs: &'static [&'static str],
    /// Categories (`all`).
    pub categories: &'static [&'static str],
    /// Subresources.
    pub subs: &'static [Sub],
    /// Where its objects come from.
    pub backing: Backing,
}

impl Resource {
    /// `v1` or `apps/v1`.
    pub fn group_version(&self) -> String {
        if self.group.is_empty() { self.version.to_string() } else { format!("{}/{}", self.group, self.version) }
    }

    /// `pods` or `deployments.apps`, as API errors name resources.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() { self.plural.to_string() } else { format!("{}.{}", self.plural, self.group) }
    }

    /// Whether `verb` is allowed.
    pub fn allows(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// A subresource by name.
    pub fn sub(&self, name: &str) -> Option<&'static Sub> {
        self.subs.iter().find(|s| s.name == name)
    }
}

/// create, delete, deletecollection, get, list, patch, update, watch.
const STD: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const READ: &[&str] = &["get", "list", "watch"];
const STATUS: Sub = Sub { name: "status", group: "", version: "", kind: "", verbs: &["get", "patch", "update"] };

/// Every resource served, in discovery order.
pub static RESOURCES: &[Resource] = &[
    Resource {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        singular: "pod",
        short: &["po"],
        namespaced: true,
        verbs: STD,
        categories: &["all"],
        subs: &[
            STATUS,
            Sub { name: "log", group: "", version: "", kind: "Pod", verbs: &["get"] },
            // drain evicts only when this has kind Eviction and a group and version (§1.1).
            Sub { name: "eviction", group: "policy", version: "v1", kind: "Eviction", verbs: &["create"] },
        ],
        backing: Backing::Sim,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        singular: "node",
        short: &["no"],
        namespaced: false,
        verbs: STD,
        categories: &[],
        subs: &[STATUS],
        backing: Backing::Sim,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        singular: "namespace",
        short: &["ns"],
        namespaced: false,
        verbs: &["create", "delete", "get", "list", "patch", "update", "watch"],
        categories: &[],
        subs: &[STATUS],
        backing: Backing::Stored,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        singular: "configmap",
        short: &["cm"],
        namespaced: true,
        verbs: STD,
        categories: &[],
        subs: &[],
        backing: Backing::Stored,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        short: &["ev"],
        namespaced: true,
        verbs: STD,
        categories: &[],
        subs: &[],
        backing: Backing::Stored,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        singular: "service",
        short: &["svc"],
        namespaced: true,
        verbs: STD,
        categories: &["all"],
        subs: &[STATUS],
        backing: Backing::Stored,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "PersistentVolumeClaim",
        plural: "persistentvolumeclaims",
        singular: "persistentvolumeclaim",
        short: &["pvc"],
        namespaced: true,
        verbs: STD,
        categories: &[],
        subs: &[STATUS],
        backing: Backing::Stored,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        singular: "serviceaccount",
        short: &["sa"],
        namespaced: true,
        verbs: STD,
        categories: &[],
        subs: &[],
        backing: Backing::Stored,
    },
    Resource {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        singular: "deployment",
        short: &["deploy"],
        namespaced: true,
        verbs: STD,
        categories: &["all"],
        subs: &[
            STATUS,
            // The scale resolver reads the GVK of `<plural>/scale` (§1.1, §4.2).
            Sub { name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: &["get", "patch", "update"] },
        ],
        backing: Backing::Sim,
    },
    Resource {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        singular: "replicaset",
        short: &["rs"],
        namespaced: true,
        verbs: READ,
        categories: &["all"],
        subs: &[],
        backing: Backing::Sim,
    },
    Resource {
        group: "apps",
        version: "v1",
        kind: "DaemonSet",
        plural: "daemonsets",
        singular: "daemonset",
        short: &["ds"],
        namespaced: true,
        verbs: READ,
        categories: &["all"],
        subs: &[],
        backing: Backing::Stored,
    },
    Resource {
        group: "policy",
        version: "v1",
        kind: "PodDisruptionBudget",
        plural: "poddisruptionbudgets",
        singular: "poddisruptionbudget",
        short: &["pdb"],
        namespaced: true,
        verbs: STD,
        categories: &[],
        subs: &[STATUS],
        backing: Backing::Stored,
    },
    // Read-only: the simulation owns them (the scenario's stack.namespaces and
    // stack.priorityClasses); status.used is the quota controller's.
    Resource {
        group: "",
        version: "v1",
        kind: "ResourceQuota",
        plural: "resourcequotas",
        singular: "resourcequota",
        short: &["quota"],
        namespaced: true,
        verbs: READ,
        categories: &[],
        subs: &[],
        backing: Backing::Stored,
    },
    Resource {
        group: "scheduling.k8s.io",
        version: "v1",
        kind: "PriorityClass",
        plural: "priorityclasses",
        singular: "priorityclass",
        short: &["pc"],
        namespaced: false,
        verbs: READ,
        categories: &[],
        subs: &[],
        backing: Backing::Stored,
    },
    Resource {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        singular: "lease",
        short: &[],
        namespaced: true,
        verbs: STD,
        categories: &[],
        subs: &[],
        backing: Backing::Sim,
    },
    Resource {
        group: "networking.k8s.io",
        version: "v1",
        kind: "NetworkPolicy",
        plural: "networkpolicies",
        singular: "networkpolicy",
        short: &["netpol"],
        namespaced: true,
        verbs: STD,
        categories: &[],
        subs: &[],
        backing: Backing::Stored,
    },
    Resource {
        group: "apiextensions.k8s.io",
        version: "v1",
        kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions",
        singular: "customresourcedefinition",
        short: &["crd", "crds"],
        namespaced: false,
        verbs: STD,
        categories: &[],
        subs: &[STATUS],
        backing: Backing::Stored,
    },
    // The operator chart's CRD (fixture v2.5.2): short name sparkapp, no categories (§5.1).
    Resource {
        group: "sparkoperator.k8s.io",
        version: "v1beta2",
        kind: "SparkApplication",
        plural: "sparkapplications",
        singular: "sparkapplication",
        short: &["sparkapp"],
        namespaced: true,
        verbs: STD,
        categories: &[],
        subs: &[STATUS],
        backing: Backing::Sim,
    },
    Resource {
        group: "sparkoperator.k8s.io",
        version: "v1beta2",
        kind: "ScheduledSparkApplication",
        plural: "scheduledsparkapplications",
        singular: "scheduledsparkapplication",
        short: &["scheduledsparkapp"],
        namespaced: true,
        verbs: STD,
        categories: &[],
        subs: &[STATUS],
        backing: Backing::Stored,
    },
];

/// A resource by group, version and plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<(usize, &'static Resource)> {
    RESOURCES.iter().enumerate().find(|(_, r)| r.group == group && r.version == version && r.plural == plural)
}

/// The resource of a kind (for objects in request bodies).
pub fn by_kind(group: &str, kind: &str) -> Option<(usize, &'static Resource)> {
    RESOURCES.iter().enumerate().find(|(_, r)| r.group == group && r.kind == kind)
}

/// Index of a resource known to be served.
pub fn index(group: &str, plural: &str) -> usize {
    RESOURCES.iter().position(|r| r.group == group && r.plural == plural).unwrap_or_else(|| panic!("{group}/{plural} is served"))
}

/// The API groups, each with its versions, in discovery order (core excluded).
pub fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        if !out.iter().any(|(g, v)| *g == r.group && *v == r.version) {
            out.push((r.group, r.version));
        }
    }
    out
}
