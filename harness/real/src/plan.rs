//! A plan: the ordered operations a real backend performs (processes, Docker, API calls, waits),
//! as data. Provisioning, faults and heals are plans; `--dry-run` prints them; [`crate::exec`]
//! carries them out. Each action renders as the equivalent shell command, so a dry run can be
//! read, reviewed and replayed by hand.

use std::fmt;
use std::time::Duration;

use crate::ORIGINAL_REPLICAS;

/// What to do to a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerOp {
    /// `docker stop` (a kind node stays down: its restart policy is `on-failure:1`).
    Stop,
    /// `docker start`.
    Start,
    /// `docker network disconnect <network>`.
    Disconnect(String),
    /// `docker network connect <network>`.
    Connect(String),
    /// `docker rm -f` (with its anonymous volumes), only if it carries sparkrig's label.
    Remove,
}

/// What to wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// A Deployment's Available condition.
    DeploymentAvailable {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// Every webhook of the Mutating- and ValidatingWebhookConfiguration has a caBundle and the
    /// webhook Service has ready endpoints (the operator's own e2e readiness gate, §4.2).
    WebhookReady {
        /// Configuration name.
        configuration: String,
        /// Namespace of the Service.
        namespace: String,
        /// Service name.
        service: String,
    },
    /// Every Node Ready.
    NodesReady,
    /// A CRD's Established condition.
    CrdEstablished {
        /// CRD name.
        name: String,
    },
}

/// One operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Run a program; a non-zero exit fails the plan unless `allow_failure`.
    Run {
        /// Program.
        program: String,
        /// Arguments.
        args: Vec<String>,
        /// Standard input.
        stdin: Option<String>,
        /// Keep going when it fails.
        allow_failure: bool,
    },
    /// Write a file (configs and values handed to CLIs).
    WriteFile {
        /// Path.
        path: String,
        /// Contents.
        contents: String,
    },
    /// Server-side apply of YAML documents.
    Apply {
        /// What, in a few words.
        what: String,
        /// YAML documents.
        manifests: String,
    },
    /// Server-side apply of the operator's CRDs vendored with sparkrig (helm installs `crds/`
    /// only when absent and never upgrades them).
    ApplyCrds {
        /// Operator version the CRDs come from.
        version: String,
    },
    /// Scale a Deployment; with `remember`, record the current count first (for a heal).
    Scale {
        /// Namespace.
        namespace: String,
        /// Deployment.
        name: String,
        /// Replicas.
        replicas: i32,
        /// Record the current count under the deployment's key.
        remember: bool,
    },
    /// Scale a Deployment back to the count recorded by a `Scale { remember: true }`.
    RestoreScale {
        /// Namespace.
        namespace: String,
        /// Deployment.
        name: String,
    },
    /// Replace one key of a ConfigMap, recording the old value.
    ReplaceConfigMapKey {
        /// Namespace.
        namespace: String,
        /// ConfigMap.
        name: String,
        /// Data key.
        key: String,
        /// Text replaced in the value.
        find: String,
        /// Replacement.
        replace: String,
    },
    /// Put back a ConfigMap key recorded by `ReplaceConfigMapKey`.
    RestoreConfigMapKey {
        /// Namespace.
        namespace: String,
        /// ConfigMap.
        name: String,
        /// Data key.
        key: String,
    },
    /// Cordon (`true`) or uncordon a node.
    Cordon {
        /// Node.
        node: String,
        /// `spec.unschedulable`.
        unschedulable: bool,
    },
    /// Evict every pod on a node except DaemonSet pods, through the Eviction API (PDBs honoured).
    Drain {
        /// Node.
        node: String,
        /// Grace period given to each pod.
        grace: Duration,
    },
    /// Delete pods of this run's apps: in each app's namespace, the pods carrying `labels`, the
    /// app's `sparkoperator.k8s.io/app-name` and sparkrig's ownership label, and whose
    /// ownerReferences lead to that SparkApplication (the driver directly, executors through
    /// the driver or directly); at most `count` of them in all (by name). Nothing outside the
    /// run's apps is ever selected: not another namespace's app of the same name, not a pod
    /// that merely carries Spark's labels.
    KillPods {
        /// Labels the pods must carry besides the app's (a role, or the scenario's selector).
        labels: Vec<(String, String)>,
        /// This run's apps (`namespace/name`) whose pods may be hit.
        apps: Vec<String>,
        /// At most this many.
        count: Option<u32>,
        /// Grace period (None: the pod's own).
        grace: Option<Duration>,
    },
    /// Delete a Node object.
    DeleteNode {
        /// Node.
        node: String,
    },
    /// A Docker operation on a container.
    Container {
        /// Container name.
        container: String,
        /// Operation.
        op: ContainerOp,
    },
    /// The local registry of the kind recipe (`registry:3` on 127.0.0.1:5001), created when absent
    /// and labelled as sparkrig's, ready when `GET /v2/` answers.
    EnsureRegistry {
        /// Container name.
        container: String,
        /// Image.
        image: String,
        /// Host port.
        port: u16,
    },
    /// MinIO (or any S3 server image following its conventions) as a container on the kind
    /// network, with credentials; buckets created through the S3 API.
    StartMinio {
        /// Container name (the S3 endpoint host for pods).
        container: String,
        /// The kind cluster it serves (a label, so `down` removes only its own).
        cluster: String,
        /// Docker network.
        network: String,
        /// Image reference.
        image: String,
        /// Access key.
        user: String,
        /// Secret key.
        password: String,
        /// Buckets to create.
        buckets: Vec<String>,
        /// Namespaces that get the credentials as Secret `sparkrig-minio` (the running
        /// container's, when an existing one is reused).
        secret_namespaces: Vec<String>,
    },
    /// Remove a Docker network carrying sparkrig's label.
    RemoveNetwork {
        /// Network name.
        network: String,
    },
    /// Wait for a condition, failing after `timeout`.
    Wait {
        /// What.
        what: Wait,
        /// Limit.
        timeout: Duration,
    },
    /// Let time pass (a spot notice).
    Sleep(Duration),
}

/// `s` as one shell word (single-quoted unless it is plain).
pub fn quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The `kubectl delete pods` of one app's pods (namespace, labels, grace), as a pod-kill
/// deletes them (after also checking their ownerReferences).
pub fn kill_command(labels: &[(String, String)], app: &str, grace: Option<Duration>) -> String {
    let (ns, name) = app.split_once('/').unwrap_or(("default", app));
    let mut selector: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    selector.push(format!("{APP_NAME_LABEL}={name}"));
    selector.push(format!("{}=app", crate::OWNER_LABEL));
    let mut line = format!("kubectl -n {ns} delete pods -l {} --wait=false", quote(&selector.join(",")));
    if let Some(g) = grace {
        line.push_str(&format!(" --grace-period={}", g.as_secs()));
        if g.is_zero() {
            line.push_str(" --force");
        }
    }
    line
}

/// The label the Spark Operator puts on an app's pods, with the app's name.
pub const APP_NAME_LABEL: &str = "sparkoperator.k8s.io/app-name";

/// A jq string literal.
fn jq_string(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// `s` matched literally by a (Oniguruma) regular expression, as jq's `sub` takes one.
fn regex_escape(s: &str) -> String {
    s.chars().fold(String::new(), |mut out, c| {
        if "\\.^$|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

fn secs(d: &Duration) -> String {
    format!("{}s", d.as_secs())
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Run { program, args, stdin, allow_failure } => {
                let mut line =
                    std::iter::once(program.as_str()).chain(args.iter().map(String::as_str)).map(quote).collect::<Vec<_>>().join(" ");
                if *allow_failure {
                    line.push_str(" || true");
                }
                match stdin {
                    Some(s) => write!(f, "{line} <<'EOF'\n{}\nEOF", s.trim_end()),
                    None => f.write_str(&line),
                }
            }
            Action::WriteFile { path, contents } => write!(f, "cat > {} <<'EOF'\n{}\nEOF", quote(path), contents.trim_end()),
            Action::Apply { what, manifests } => {
                write!(
                    f,
                    "kubectl apply --server-side --force-conflicts --field-manager=sparkrig -f - <<'EOF'   # {what}\n{}\nEOF",
                    manifests.trim_end()
                )
            }
            Action::ApplyCrds { version } => {
                for (i, file) in crate::stack::OPERATOR_CRD_FILES.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(
                        f,
                        "kubectl apply --server-side --force-conflicts --field-manager=sparkrig -f https://raw.githubusercontent.com/kubeflow/spark-operator/v{version}/charts/spark-operator-chart/crds/{file}"
                    )?;
                }
                Ok(())
            }
            Action::Scale { namespace, name, replicas, remember } => {
                if *remember {
                    writeln!(
                        f,
                        "kubectl -n {namespace} annotate deployment {name} {ORIGINAL_REPLICAS}=<current count>   # the count before the fault (the scale subresource's spec.replicas; absent means 0), for the heal and for a later run; refused if the annotation is already there (a sparkrig run left it scaled down)"
                    )?;
                }
                write!(f, "kubectl -n {namespace} scale deployment {name} --replicas={replicas}")
            }
            Action::RestoreScale { namespace, name } => write!(
                f,
                "kubectl -n {namespace} scale deployment {name} --replicas=<recorded count> && kubectl -n {namespace} annotate deployment {name} {ORIGINAL_REPLICAS}-"
            ),
            Action::ReplaceConfigMapKey { namespace, name, key, find, replace } => {
                let program = format!(
                    ".metadata.annotations[{ann}] = .data[{k}] | .data[{k}] |= sub({find}; {replace})",
                    ann = jq_string(&crate::original_value_annotation(key)),
                    k = jq_string(key),
                    find = jq_string(&regex_escape(find)),
                    replace = jq_string(replace),
                );
                write!(
                    f,
                    "kubectl -n {namespace} get configmap {name} -o json | jq {} | kubectl replace -f -   # the old value is kept in the annotation {} until the heal; refused if it is already there",
                    quote(&program),
                    crate::original_value_annotation(key)
                )
            }
            Action::RestoreConfigMapKey { namespace, name, key } => write!(
                f,
                "kubectl -n {namespace} patch configmap {name} --type merge -p '{{\"data\":{{\"{key}\":<recorded value>}},\"metadata\":{{\"annotations\":{{\"{}\":null}}}}}}'",
                crate::original_value_annotation(key)
            ),
            Action::Cordon { node, unschedulable: true } => write!(f, "kubectl cordon {node}"),
            Action::Cordon { node, unschedulable: false } => write!(f, "kubectl uncordon {node}"),
            Action::Drain { node, grace } => {
                write!(f, "kubectl drain {node} --ignore-daemonsets --delete-emptydir-data --grace-period={}", grace.as_secs())
            }
            Action::KillPods { labels, apps, count, grace } => {
                if apps.is_empty() {
                    return f.write_str("# no app of this run matches: no pod is deleted");
                }
                for (i, app) in apps.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{}", kill_command(labels, app, *grace))?;
                    if i == 0 {
                        write!(f, "   # only pods whose ownerReferences lead to this run's SparkApplication")?;
                        if let Some(c) = count {
                            write!(f, "; at most {c} in all, the first by name")?;
                        }
                    }
                }
                Ok(())
            }
            Action::DeleteNode { node } => write!(f, "kubectl delete node {node}"),
            Action::Container { container, op } => match op {
                ContainerOp::Stop => write!(f, "docker stop {container}"),
                ContainerOp::Start => write!(f, "docker start {container}"),
                ContainerOp::Disconnect(n) => write!(f, "docker network disconnect --force {n} {container}"),
                ContainerOp::Connect(n) => write!(f, "docker network connect {n} {container}"),
                ContainerOp::Remove => write!(f, "docker rm -f {container}"),
            },
            Action::EnsureRegistry { container, image, port } => write!(
                f,
                "docker inspect {container} >/dev/null 2>&1 || docker run -d --restart=always -p 127.0.0.1:{port}:5000 --network bridge --label {}=registry --name {container} {image}",
                crate::OWNER_LABEL
            ),
            Action::StartMinio { container, cluster, network, image, user, buckets, secret_namespaces, .. } => write!(
                f,
                "docker inspect {container} >/dev/null 2>&1 || docker run -d --name {container} --network {network} -p 127.0.0.1::{port} --label {}=minio --label {}={cluster} -e MINIO_ROOT_USER={user} -e MINIO_ROOT_PASSWORD=<random> {image} server /data\n# S3 API on the published port (signed with those credentials): wait until HeadBucket answers, then CreateBucket {}\n# and Secret {} (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL) in {}",
                crate::OWNER_LABEL,
                crate::CLUSTER_LABEL,
                buckets.join(", "),
                crate::stack::MINIO_SECRET,
                secret_namespaces.join(", "),
                port = crate::docker::S3_PORT,
            ),
            Action::RemoveNetwork { network } => write!(f, "docker network rm {network}"),
            Action::Wait { what, timeout } => {
                let t = secs(timeout);
                match what {
                    Wait::DeploymentAvailable { namespace, name } => {
                        write!(f, "kubectl -n {namespace} wait deployment/{name} --for=condition=Available --timeout={t}")
                    }
                    Wait::WebhookReady { configuration, namespace, service } => write!(
                        f,
                        "# wait up to {t}: caBundle set on every webhook of {configuration} (mutating and validating) and ready endpoints for {namespace}/{service}"
                    ),
                    Wait::NodesReady => write!(f, "kubectl wait nodes --all --for=condition=Ready --timeout={t}"),
                    Wait::CrdEstablished { name } => write!(f, "kubectl wait crd/{name} --for=condition=Established --timeout={t}"),
                }
            }
            Action::Sleep(d) => write!(f, "sleep {}", d.as_secs()),
        }
    }
}

/// One step of a plan: why, then what.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// Why, in words.
    pub why: String,
    /// The operation.
    pub action: Action,
}

/// An ordered list of operations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Steps in order.
    pub steps: Vec<Planned>,
}

impl Plan {
    /// Appends a step.
    pub fn push(&mut self, why: impl Into<String>, action: Action) {
        self.steps.push(Planned { why: why.into(), action });
    }

    /// Appends another plan.
    pub fn extend(&mut self, other: Plan) {
        self.steps.extend(other.steps);
    }

    /// A `Run` step.
    pub fn run(&mut self, why: impl Into<String>, program: &str, args: &[&str]) {
        self.push(
            why,
            Action::Run { program: program.into(), args: args.iter().map(|s| s.to_string()).collect(), stdin: None, allow_failure: false },
        );
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.steps.iter().enumerate() {
            writeln!(f, "# {}. {}", i + 1, s.why)?;
            writeln!(f, "{}", s.action)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_render_as_shell_a_person_can_replay() {
        let mut p = Plan::default();
        p.run("create the cluster", "kind", &["create", "cluster", "--name", "x", "--wait", "5m"]);
        p.push("scale", Action::Scale { namespace: "kube-system".into(), name: "coredns".into(), replicas: 0, remember: true });
        p.push(
            "kill",
            Action::KillPods {
                labels: vec![("spark-role".into(), "driver".into())],
                apps: vec!["default/a".into(), "team-b/b".into()],
                count: Some(1),
                grace: Some(Duration::ZERO),
            },
        );
        p.push(
            "hosts",
            Action::Run {
                program: "docker".into(),
                args: vec!["exec".into(), "-i".into(), "n1".into(), "sh".into(), "-c".into(), "cat > /x".into()],
                stdin: Some("[host.\"http://kind-registry:5000\"]".into()),
                allow_failure: false,
            },
        );
        let text = p.to_string();
        assert!(text.contains("# 1. create the cluster\nkind create cluster --name x --wait 5m\n"), "{text}");
        assert!(text.contains("kubectl -n kube-system annotate deployment coredns sparkrig.io/original-replicas=<current count>   # the count before the fault"), "{text}");
        assert!(text.contains("\nkubectl -n kube-system scale deployment coredns --replicas=0\n"), "{text}");
        assert!(
            text.contains("kubectl -n default delete pods -l spark-role=driver,sparkoperator.k8s.io/app-name=a,sparkrig.io/owned=app --wait=false --grace-period=0 --force   # only pods whose ownerReferences lead to this run's SparkApplication; at most 1 in all, the first by name\nkubectl -n team-b delete pods -l spark-role=driver,sparkoperator.k8s.io/app-name=b,sparkrig.io/owned=app --wait=false --grace-period=0 --force\n"),
            "{text}"
        );
        assert!(!text.contains(" -A "), "{text}");
        assert!(text.contains("docker exec -i n1 sh -c 'cat > /x' <<'EOF'\n[host.\"http://kind-registry:5000\"]\nEOF"), "{text}");
    }

    #[test]
    fn the_corefile_edit_renders_as_one_shell_word_for_jq() {
        let a = Action::ReplaceConfigMapKey {
            namespace: "kube-system".into(),
            name: "coredns".into(),
            key: "Corefile".into(),
            find: "kubernetes cluster.local".into(),
            replace: "kubernetes sparkrig-broken.invalid".into(),
        };
        assert_eq!(
            a.to_string().split("   #").next().unwrap(),
            r#"kubectl -n kube-system get configmap coredns -o json | jq '.metadata.annotations["sparkrig.io/original-Corefile"] = .data["Corefile"] | .data["Corefile"] |= sub("kubernetes cluster\\.local"; "kubernetes sparkrig-broken.invalid")' | kubectl replace -f -"#
        );
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
