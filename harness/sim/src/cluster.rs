//! The compact cluster model the scheduler works on: nodes with interned labels and integer
//! resources, and pods' scheduling requirements compiled against the same interner.
//!
//! Conversion from the model's Kubernetes-shaped types happens here ([`SchedSpec::compile`],
//! [`Node::new`]); the hot paths never touch strings except for taints and the rare `Gt`/`Lt`.

use sparkrig_model::kube::{Labels, NodeSelectorTerm, SelectorOperator, Taint, Toleration};
use sparkrig_model::podspec::PodSpec;

use crate::intern::{Interner, Sym};

/// CPU (millicores) and memory (bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Res {
    /// Millicores.
    pub cpu: i64,
    /// Bytes.
    pub mem: i64,
}

impl Res {
    /// `cpu`, `mem`.
    pub const fn new(cpu: i64, mem: i64) -> Res {
        Res { cpu, mem }
    }
}

/// The scheduler's non-zero defaults for pods that omit a request: 100m CPU and 200Mi memory
/// per container, used for scoring only (`DefaultMilliCPURequest`, `DefaultMemoryRequest`,
/// reference/kube-scheduler.md §3.2). sparkrig pods have one container.
pub const NON_ZERO_DEFAULT: Res = Res::new(100, 200 * 1024 * 1024);

/// A label set sorted by key symbol.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSet(Vec<(Sym, Sym)>);

impl LabelSet {
    /// Interns and sorts `labels`.
    pub fn new(labels: &Labels, interner: &mut Interner) -> LabelSet {
        let mut v: Vec<(Sym, Sym)> = labels.iter().map(|(k, v)| (interner.intern(k), interner.intern(v))).collect();
        v.sort_unstable();
        LabelSet(v)
    }

    /// The value for a key.
    #[inline]
    pub fn get(&self, key: Sym) -> Option<Sym> {
        self.0.binary_search_by_key(&key, |(k, _)| *k).ok().map(|i| self.0[i].1)
    }

    /// Sets a label.
    pub fn set(&mut self, key: Sym, value: Sym) {
        match self.0.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (key, value)),
        }
    }
}

/// A node as the scheduler sees it.
#[derive(Debug, Clone)]
pub struct Node {
    /// Name.
    pub name: String,
    /// Group index in the topology.
    pub group: u16,
    /// Labels.
    pub labels: LabelSet,
    /// Taints.
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// Allocatable.
    pub alloc: Res,
    /// Allocatable pod count.
    pub max_pods: i64,
    /// Σ requests of pods bound or assumed here (Filter and BalancedAllocation).
    pub requested: Res,
    /// Σ non-zero-defaulted requests (LeastAllocated).
    pub non_zero: Res,
    /// Pods bound or assumed here.
    pub pod_count: i64,
    /// The Node object was deleted.
    pub gone: bool,
}

impl Node {
    /// A node with nothing on it.
    pub fn new(name: &str, group: u16, labels: &Labels, taints: Vec<Taint>, alloc: Res, max_pods: i64, interner: &mut Interner) -> Node {
        Node {
            name: name.to_string(),
            group,
            labels: LabelSet::new(labels, interner),
            taints,
            unschedulable: false,
            alloc,
            max_pods,
            requested: Res::default(),
            non_zero: Res::default(),
            pod_count: 0,
            gone: false,
        }
    }

    /// Accounts a pod (assume or bind).
    pub fn add_pod(&mut self, spec: &SchedSpec) {
        self.requested.cpu += spec.req.cpu;
        self.requested.mem += spec.req.mem;
        self.non_zero.cpu += spec.non_zero.cpu;
        self.non_zero.mem += spec.non_zero.mem;
        self.pod_count += 1;
    }

    /// Releases a pod's resources (terminal, deleted, or un-assumed).
    pub fn remove_pod(&mut self, spec: &SchedSpec) {
        self.requested.cpu -= spec.req.cpu;
        self.requested.mem -= spec.req.mem;
        self.non_zero.cpu -= spec.non_zero.cpu;
        self.non_zero.mem -= spec.non_zero.mem;
        self.pod_count -= 1;
    }
}

/// One compiled `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Req {
    key: Sym,
    op: SelectorOperator,
    values: Vec<Sym>,
    bound: Option<i64>,
}

/// One compiled node selector term (AND of its requirements).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Term {
    exprs: Vec<Req>,
    /// `matchFields` on `metadata.name`: allowed names (In) or excluded (NotIn).
    names: Vec<(SelectorOperator, Vec<String>)>,
    /// A term with no requirements matches nothing (nodeaffinity.go).
    empty: bool,
}

impl Term {
    /// Compiles a node selector term against the interner.
    pub fn compile(t: &NodeSelectorTerm, interner: &mut Interner) -> Term {
        let exprs = t
            .match_expressions
            .iter()
            .map(|r| Req {
                key: interner.intern(&r.key),
                op: r.operator,
                values: r.values.iter().map(|v| interner.intern(v)).collect(),
                bound: r.values.first().and_then(|v| v.parse().ok()),
            })
            .collect();
        let names = t.match_fields.iter().filter(|f| f.key == "metadata.name").map(|f| (f.operator, f.values.clone())).collect();
        Term { exprs, names, empty: t.is_empty() }
    }

    /// Whether a node satisfies every requirement.
    #[inline]
    pub fn matches(&self, node: &Node, interner: &Interner) -> bool {
        if self.empty {
            return false;
        }
        self.exprs.iter().all(|r| {
            let v = node.labels.get(r.key);
            match r.op {
                SelectorOperator::In => v.is_some_and(|v| r.values.contains(&v)),
                SelectorOperator::NotIn => v.is_none_or(|v| !r.values.contains(&v)),
                SelectorOperator::Exists => v.is_some(),
                SelectorOperator::DoesNotExist => v.is_none(),
                SelectorOperator::Gt | SelectorOperator::Lt => {
                    let (Some(v), Some(bound)) = (v, r.bound) else { return false };
                    let Ok(v) = interner.resolve(v).parse::<i64>() else { return false };
                    if r.op == SelectorOperator::Gt { v > bound } else { v < bound }
                }
            }
        }) && self.names.iter().all(|(op, names)| match op {
            SelectorOperator::In => names.contains(&node.name),
            SelectorOperator::NotIn => !names.contains(&node.name),
            _ => false,
        })
    }
}

/// What a pod asks of the scheduler, compiled.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchedSpec {
    /// Exact requests (Filter, BalancedAllocation).
    pub req: Res,
    /// Requests with the 100m/200Mi defaults for missing ones (LeastAllocated).
    pub non_zero: Res,
    /// `nodeSelector` as (key, value) symbols.
    pub node_selector: Vec<(Sym, Sym)>,
    /// Required node affinity terms (OR); `None` when absent.
    pub required: Option<Vec<Term>>,
    /// Preferred node affinity terms with weights.
    pub preferred: Vec<(i64, Term)>,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
    /// `spec.nodeName` preset (bypasses the scheduler; checked by kubelet admission).
    pub node_name: Option<String>,
    /// Priority (PrioritySort).
    pub priority: i32,
    /// `preemptionPolicy` is not `Never`: the pod may preempt (DefaultPreemption).
    pub preempt: bool,
}

impl SchedSpec {
    /// Compiles a derived pod spec.
    pub fn compile(p: &PodSpec, interner: &mut Interner) -> SchedSpec {
        let mut node_selector: Vec<(Sym, Sym)> = p.node_selector.iter().map(|(k, v)| (interner.intern(k), interner.intern(v))).collect();
        node_selector.sort_unstable();
        let affinity = p.affinity.as_ref();
        SchedSpec {
            req: Res::new(p.cpu_millis, p.memory_bytes),
            non_zero: Res::new(
                if p.cpu_millis == 0 { NON_ZERO_DEFAULT.cpu } else { p.cpu_millis },
                if p.memory_bytes == 0 { NON_ZERO_DEFAULT.mem } else { p.memory_bytes },
            ),
            node_selector,
            required: affinity.and_then(|a| a.required_terms()).map(|ts| ts.iter().map(|t| Term::compile(t, interner)).collect()),
            preferred: affinity
                .map(|a| a.preferred_terms())
                .unwrap_or_default()
                .iter()
                .filter(|p| p.weight != 0 && !p.preference.is_empty())
                .map(|p| (i64::from(p.weight), Term::compile(&p.preference, interner)))
                .collect(),
            tolerations: p.tolerations.clone(),
            node_name: None,
            priority: 0,
            preempt: true,
        }
    }

    /// A plain pod with requests only (benchmarks, tests).
    pub fn with_requests(cpu: i64, mem: i64) -> SchedSpec {
        SchedSpec {
            req: Res::new(cpu, mem),
            non_zero: Res::new(if cpu == 0 { NON_ZERO_DEFAULT.cpu } else { cpu }, if mem == 0 { NON_ZERO_DEFAULT.mem } else { mem }),
            preempt: true,
            ..Default::default()
        }
    }

    /// Best-effort: no cpu or memory request (BalancedAllocation skips these from 1.33).
    pub fn best_effort(&self) -> bool {
        self.req.cpu == 0 && self.req.mem == 0
    }
}
