//! `sparkrig up` / `down` as plans: a kind cluster from the topology, the local registry per the
//! official recipe, MinIO on the kind network, the operator chart with helm, the History Server,
//! readiness waits. Whether to create, reuse or refuse, and what `down` may delete, are plain
//! decisions over what was observed, so they are tested here without Docker.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use sparkrig_model::scenario::Scenario;

use crate::error::{Error, Result};
use crate::kindcfg::{self, KindOptions, NodeMap};
use crate::plan::{Action, ContainerOp, Plan, Wait};
use crate::stack::{self, OPERATOR_NAMESPACE, REGISTRY_CONTAINER, REGISTRY_PORT};
use crate::{CLUSTER_LABEL, OWNER_LABEL};

/// `kind create cluster --wait` and the other readiness waits (the operator's e2e suite waits
/// 5 minutes for the chart; reference/spark-operator.md §4.2).
pub const READY_TIMEOUT: Duration = Duration::from_secs(300);

/// An existing kind cluster with the wanted name, as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    /// No such cluster.
    None,
    /// Created by sparkrig, with this config hash.
    Ours(String),
    /// Not created by sparkrig (no marker).
    Foreign,
}

/// What `up` does about the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Create it.
    Create,
    /// Keep the existing one (same config).
    Reuse,
    /// Delete ours (different config) and create it again.
    Recreate,
    /// Stop with this message.
    Refuse(String),
}

/// Create, reuse, recreate or refuse, given what exists.
pub fn decide(name: &str, existing: &Existing, hash: &str, reuse: bool) -> Decision {
    match existing {
        Existing::None => Decision::Create,
        Existing::Foreign => Decision::Refuse(format!(
            "a kind cluster named {name} exists and sparkrig did not create it (no kube-public/{} marker); pick another --name or delete it yourself",
            crate::MARKER
        )),
        Existing::Ours(h) if reuse && h == hash => Decision::Reuse,
        Existing::Ours(_) if reuse => Decision::Recreate,
        Existing::Ours(_) => Decision::Refuse(format!(
            "sparkrig's kind cluster {name} already exists; pass --reuse to use it (or recreate it when its config changed), or run `sparkrig down --name {name}`"
        )),
    }
}

/// The images of the containers sparkrig starts next to the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    /// The local registry (`--registry-image`).
    pub registry: String,
    /// The S3 server (`--minio-image`).
    pub minio: String,
}

impl Default for Images {
    fn default() -> Images {
        Images { registry: stack::REGISTRY_IMAGE.into(), minio: stack::MINIO_IMAGE.into() }
    }
}

/// Inputs of the `up` plan.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// kind mapping.
    pub kind: KindOptions,
    /// Where the kind config and helm values are written.
    pub state_dir: String,
    /// MinIO access key.
    pub minio_user: String,
    /// MinIO secret key.
    pub minio_password: String,
    /// Registry and S3 images.
    pub images: Images,
}

impl UpOptions {
    /// MinIO's container name for this cluster.
    pub fn minio_container(&self) -> String {
        format!("{}-minio", self.kind.name)
    }
}

/// Random MinIO credentials (alphanumeric; MinIO wants ≥ 3 and ≥ 8 characters).
pub fn random_credentials() -> (String, String) {
    use rand::distr::Alphanumeric;
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::from_os_rng();
    let mut word = |n: usize| (&mut rng).sample_iter(Alphanumeric).take(n).map(char::from).collect::<String>();
    (format!("sparkrig{}", word(8).to_lowercase()), word(32))
}

/// The rendered kind config and its hash.
pub fn kind_config(s: &Scenario, opts: &KindOptions) -> Result<(String, String, NodeMap)> {
    let (cluster, map) = kindcfg::kind_config(&s.topology, opts)?;
    let text = kindcfg::render(&cluster, &format!("the topology of scenario {}", s.file));
    let hash = kindcfg::config_hash(&text);
    Ok((text, hash, map))
}

/// Everything `up` does after the decision. With [`Decision::Reuse`] only the per-run parts
/// (images, MinIO, stack) run again; they are idempotent.
pub fn up_plan(s: &Scenario, opts: &UpOptions, decision: &Decision) -> Result<Plan> {
    let name = &opts.kind.name;
    let (config, hash, map) = kind_config(s, &opts.kind)?;
    let dir = Path::new(&opts.state_dir);
    let config_path = dir.join("kind-config.yaml").display().to_string();
    let values_path = dir.join("spark-operator-values.yaml").display().to_string();
    let mut p = Plan::default();
    match decision {
        Decision::Refuse(why) => return Err(Error::Invalid(why.clone())),
        Decision::Recreate => {
            p.run(format!("the config of {name} changed (now {hash}): delete it first"), "kind", &["delete", "cluster", "--name", name])
        }
        Decision::Create | Decision::Reuse => {}
    }
    if *decision != Decision::Reuse {
        p.push("the kind config generated from the topology", Action::WriteFile { path: config_path.clone(), contents: config });
        p.run(
            format!("create the cluster: {} nodes", map.nodes.len()),
            "kind",
            &["create", "cluster", "--name", name, "--config", &config_path, "--wait", "5m"],
        );
        p.push(
            "the local registry (official kind recipe, step 1)",
            Action::EnsureRegistry { container: REGISTRY_CONTAINER.into(), image: opts.images.registry.clone(), port: REGISTRY_PORT },
        );
        for (node, _) in &map.nodes {
            let dir = format!("/etc/containerd/certs.d/localhost:{REGISTRY_PORT}");
            p.push(
                format!("{node}: resolve localhost:{REGISTRY_PORT} to the registry (recipe step 3)"),
                Action::Run {
                    program: "docker".into(),
                    args: ["exec", "-i", node, "sh", "-c", &format!("mkdir -p {dir} && cat > {dir}/hosts.toml")].map(String::from).to_vec(),
                    stdin: Some(format!("[host.\"http://{REGISTRY_CONTAINER}:5000\"]")),
                    allow_failure: false,
                },
            );
        }
        p.push(
            "put the registry on the kind network (recipe step 4; already connected is fine)",
            Action::Container { container: REGISTRY_CONTAINER.into(), op: ContainerOp::Connect("kind".into()) },
        );
        p.push(
            "document the registry (KEP-1755) and mark the cluster as sparkrig's",
            Action::Apply {
                what: "local-registry-hosting, sparkrig marker".into(),
                manifests: format!("{}---\n{}", stack::registry_hosting(), stack::owner_marker(name, &hash)),
            },
        );
    }
    p.push("every node Ready", Action::Wait { what: Wait::NodesReady, timeout: READY_TIMEOUT });
    for (upstream, local) in stack::registry_images(s) {
        p.run(format!("pull {upstream}"), "docker", &["pull", &upstream]);
        p.run(format!("tag it for the local registry as {local}"), "docker", &["tag", &upstream, &local]);
        p.run(format!("push {local}"), "docker", &["push", &local]);
    }
    let mut namespaces = stack::job_namespaces(s);
    namespaces.push(OPERATOR_NAMESPACE.into());
    let ns_docs: Vec<String> = namespaces
        .iter()
        .map(|n| format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {n}\n  labels:\n    {OWNER_LABEL}: namespace\n"))
        .collect();
    p.push("job namespaces and the operator's", Action::Apply { what: "namespaces".into(), manifests: ns_docs.join("---\n") });
    let endpoint = stack::minio_endpoint(&opts.minio_container());
    if s.stack.minio.enabled {
        p.push(
            "MinIO on the kind network, reachable from pods by container name; buckets through the S3 API; its credentials as a Secret",
            Action::StartMinio {
                container: opts.minio_container(),
                cluster: name.clone(),
                network: "kind".into(),
                image: opts.images.minio.clone(),
                user: opts.minio_user.clone(),
                password: opts.minio_password.clone(),
                buckets: stack::MINIO_BUCKETS.iter().map(|b| b.to_string()).collect(),
                secret_namespaces: namespaces.clone(),
            },
        );
    }
    if s.stack.operator.version == stack::VENDORED_OPERATOR {
        // helm installs crds/ only when absent and never upgrades them: apply them ourselves.
        p.push(
            format!("the spark-operator {} CRDs (server-side apply)", s.stack.operator.version),
            Action::ApplyCrds { version: s.stack.operator.version.clone() },
        );
        for crd in ["sparkapplications.sparkoperator.k8s.io", "scheduledsparkapplications.sparkoperator.k8s.io"] {
            p.push(
                format!("CRD {crd} established"),
                Action::Wait { what: Wait::CrdEstablished { name: crd.into() }, timeout: READY_TIMEOUT },
            );
        }
    }
    let values = serde_yaml::to_string(&stack::operator_values(s)).expect("values serialise");
    p.push("spark-operator chart values from the scenario's stack", Action::WriteFile { path: values_path.clone(), contents: values });
    p.run(
        format!("install spark-operator {} with helm", s.stack.operator.version),
        "helm",
        &[
            "upgrade",
            "--install",
            stack::OPERATOR_RELEASE,
            stack::OPERATOR_CHART,
            "--repo",
            stack::OPERATOR_CHART_REPO,
            "--version",
            &s.stack.operator.version,
            "--namespace",
            OPERATOR_NAMESPACE,
            "--create-namespace",
            "--values",
            &values_path,
            "--wait",
            "--timeout",
            "5m",
            "--kube-context",
            &format!("kind-{name}"),
        ],
    );
    for d in ["controller", "webhook"] {
        if d == "webhook" && !s.stack.operator.webhook_enabled {
            continue;
        }
        p.push(
            format!("the operator's {d} available"),
            Action::Wait {
                what: Wait::DeploymentAvailable { namespace: OPERATOR_NAMESPACE.into(), name: format!("{}-{d}", stack::OPERATOR_RELEASE) },
                timeout: READY_TIMEOUT,
            },
        );
    }
    if s.stack.operator.webhook_enabled {
        p.push(
            "the webhook serving: caBundle injected, endpoints ready",
            Action::Wait {
                what: Wait::WebhookReady {
                    configuration: stack::WEBHOOK_CONFIGURATION.into(),
                    namespace: OPERATOR_NAMESPACE.into(),
                    service: stack::WEBHOOK_SERVICE.into(),
                },
                timeout: READY_TIMEOUT,
            },
        );
    }
    if s.stack.history_server.enabled && s.stack.minio.enabled {
        p.push(
            "Spark History Server on MinIO's event logs",
            Action::Apply { what: "history server".into(), manifests: stack::history_server(s, &endpoint) },
        );
        p.push(
            "the History Server available",
            Action::Wait {
                what: Wait::DeploymentAvailable { namespace: OPERATOR_NAMESPACE.into(), name: "spark-history-server".into() },
                timeout: READY_TIMEOUT,
            },
        );
    }
    Ok(p)
}

/// What `down` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// kind clusters (from their node containers' labels).
    pub clusters: Vec<String>,
    /// Whether the named cluster carries sparkrig's marker.
    pub marked: bool,
    /// Containers carrying sparkrig's label, with their labels.
    pub containers: BTreeMap<String, BTreeMap<String, String>>,
    /// Networks carrying sparkrig's label, with their labels.
    pub networks: BTreeMap<String, BTreeMap<String, String>>,
}

/// What `down` deletes for cluster `name`: only what sparkrig created. Containers and networks
/// go when they carry sparkrig's label and the cluster's; the shared registry when it carries
/// sparkrig's label and no other kind cluster remains. Names alone decide nothing: a look-alike
/// without the labels stays.
pub fn down_plan(name: &str, o: &Observed) -> Result<Plan> {
    let mut p = Plan::default();
    let exists = o.clusters.iter().any(|c| c == name);
    if exists && !o.marked {
        return Err(Error::NotOurs {
            what: format!("kind cluster {name}"),
            why: format!("no kube-public/{} marker; delete it yourself with `kind delete cluster --name {name}`", crate::MARKER),
        });
    }
    if exists {
        p.run(format!("delete kind cluster {name}"), "kind", &["delete", "cluster", "--name", name]);
    }
    let owned = |l: &BTreeMap<String, String>| l.contains_key(OWNER_LABEL) && l.get(CLUSTER_LABEL).map(String::as_str) == Some(name);
    for (c, l) in &o.containers {
        if owned(l) {
            let role = &l[OWNER_LABEL];
            p.push(
                format!("remove {c} (sparkrig's {role} of {name})"),
                Action::Container { container: c.clone(), op: ContainerOp::Remove },
            );
        }
    }
    let others = o.clusters.iter().any(|c| c != name);
    let registry_ours = o.containers.get(REGISTRY_CONTAINER).is_some_and(|l| l.get(OWNER_LABEL).map(String::as_str) == Some("registry"));
    if registry_ours && !others {
        p.push(
            "remove the local registry (no kind cluster uses it now)",
            Action::Container { container: REGISTRY_CONTAINER.into(), op: ContainerOp::Remove },
        );
    }
    for (n, l) in &o.networks {
        if owned(l) {
            p.push(format!("remove network {n} (sparkrig's, of {name})"), Action::RemoveNetwork { network: n.clone() });
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sparkrig_run::files::load_scenario;

    fn smoke() -> Scenario {
        load_scenario(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/smoke.yaml")), None).unwrap()
    }

    fn opts(s: &Scenario) -> UpOptions {
        UpOptions {
            kind: KindOptions::for_topology(&s.topology),
            state_dir: "/tmp/st".into(),
            minio_user: "u".into(),
            minio_password: "p".into(),
            images: Images::default(),
        }
    }

    #[test]
    fn decisions_never_touch_foreign_clusters_and_reuse_only_matching_configs() {
        assert_eq!(decide("c", &Existing::None, "h", false), Decision::Create);
        assert_eq!(decide("c", &Existing::Ours("h".into()), "h", true), Decision::Reuse);
        assert_eq!(decide("c", &Existing::Ours("old".into()), "h", true), Decision::Recreate);
        assert!(matches!(decide("c", &Existing::Ours("h".into()), "h", false), Decision::Refuse(m) if m.contains("--reuse")));
        assert!(matches!(decide("c", &Existing::Foreign, "h", true), Decision::Refuse(m) if m.contains("did not create it")));
    }

    #[test]
    fn the_up_plan_follows_the_recipe_in_order() {
        // Images can be overridden (--registry-image, --minio-image).
        let s = smoke();
        let mut o = opts(&s);
        o.images = Images { registry: "mirror.example/registry:2".into(), minio: "example/s3:1".into() };
        let text = up_plan(&s, &o, &Decision::Create).unwrap().to_string();
        assert!(text.contains("--name kind-registry mirror.example/registry:2") && text.contains("example/s3:1 server /data"), "{text}");

        let s = smoke();
        let p = up_plan(&s, &opts(&s), &Decision::Create).unwrap();
        let text = p.to_string();
        let order = [
            "kind create cluster --name sparkrig-data-platform --config /tmp/st/kind-config.yaml --wait 5m",
            "docker run -d --restart=always -p 127.0.0.1:5001:5000 --network bridge",
            "docker exec -i sparkrig-data-platform-worker6 sh -c",
            "docker network connect kind kind-registry",
            "name: local-registry-hosting",
            "kubectl wait nodes --all --for=condition=Ready",
            "docker push localhost:5001/apache/spark:3.5.6",
            "--network kind -p 127.0.0.1::9000 --label sparkrig.io/owned=minio --label sparkrig.io/cluster=sparkrig-data-platform -e MINIO_ROOT_USER=u -e MINIO_ROOT_PASSWORD=<random> minio/minio:RELEASE.2025-02-28T09-55-16Z server /data",
            "CreateBucket data, spark-events",
            "v2.5.2/charts/spark-operator-chart/crds/sparkoperator.k8s.io_sparkapplications.yaml",
            "kubectl wait crd/sparkapplications.sparkoperator.k8s.io --for=condition=Established",
            "helm upgrade --install spark-operator spark-operator --repo https://kubeflow.github.io/spark-operator --version 2.5.2",
            "kubectl -n spark-operator wait deployment/spark-operator-webhook --for=condition=Available",
            "caBundle set on every webhook of spark-operator-webhook",
        ];
        let mut at = 0;
        for o in order {
            let i = text[at..].find(o).unwrap_or_else(|| panic!("`{o}` missing or out of order in:\n{text}"));
            at += i;
        }
        // Reuse skips cluster creation but reinstalls the stack.
        let r = up_plan(&s, &opts(&s), &Decision::Reuse).unwrap().to_string();
        assert!(!r.contains("kind create cluster") && r.contains("helm upgrade --install"), "{r}");
        assert!(up_plan(&s, &opts(&s), &Decision::Refuse("no".into())).is_err());
    }

    #[test]
    fn down_deletes_only_what_sparkrig_created() {
        let label = |role: &str, cluster: &str| -> BTreeMap<String, String> {
            [(OWNER_LABEL.to_string(), role.to_string()), (CLUSTER_LABEL.to_string(), cluster.to_string())].into()
        };
        let mut o = Observed { clusters: vec!["c".into()], marked: true, ..Default::default() };
        o.containers.insert("c-minio".into(), label("minio", "c"));
        o.containers.insert("kind-registry".into(), label("registry", ""));
        o.containers.insert("other-minio".into(), label("minio", "other"));
        let text = down_plan("c", &o).unwrap().to_string();
        assert!(
            text.contains("kind delete cluster --name c")
                && text.contains("docker rm -f c-minio")
                && text.contains("docker rm -f kind-registry")
        );
        assert!(!text.contains("other-minio"));
        // Networks go by the same labels; a look-alike name without them stays.
        o.networks.insert("c-net".into(), label("network", "c"));
        o.networks.insert("c-lookalike".into(), BTreeMap::new());
        let text = down_plan("c", &o).unwrap().to_string();
        assert!(text.contains("docker network rm c-net") && !text.contains("c-lookalike"), "{text}");
        // Another cluster still uses the registry.
        o.clusters.push("d".into());
        assert!(!down_plan("c", &o).unwrap().to_string().contains("kind-registry"));
        // A registry sparkrig did not start is never removed.
        o.clusters.pop();
        o.containers.insert("kind-registry".into(), BTreeMap::new());
        assert!(!down_plan("c", &o).unwrap().to_string().contains("kind-registry"));
        // A cluster without the marker is refused.
        o.marked = false;
        assert!(down_plan("c", &o).unwrap_err().to_string().contains("not created by sparkrig"));
    }
}
