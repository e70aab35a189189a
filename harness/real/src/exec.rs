//! Carries out a [`Plan`] for real: programs (kind, docker, helm) as child processes, API calls
//! through kube-rs, container operations through Docker's API (bollard, as testcontainers
//! re-exports it), MinIO through testcontainers, and readiness waits as polls with a timeout.
//! This is the thin edge: every decision was made when the plan was built.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::admissionregistration::v1::{MutatingWebhookConfiguration, ValidatingWebhookConfiguration};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, EvictParams, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::{Client, Config};
use serde::Deserialize as _;
use serde_json::json;
use sparkrig_model::scenario::glob_match;
use testcontainers::bollard::Docker;
use testcontainers::bollard::models::{
    ContainerCreateBody, HostConfig, NetworkConnectRequest, NetworkDisconnectRequest, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use testcontainers::bollard::query_parameters::{CreateContainerOptionsBuilder, CreateImageOptionsBuilder, RemoveContainerOptionsBuilder};
use testcontainers::core::{CmdWaitFor, ExecCommand, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt, ReuseDirective};

use crate::plan::{Action, ContainerOp, Plan, Wait};
use crate::stack;
use crate::{CLUSTER_LABEL, OWNER_LABEL};

/// The field manager of sparkrig's server-side applies.
pub const FIELD_MANAGER: &str = "sparkrig";

/// How often readiness waits poll.
const POLL: Duration = Duration::from_secs(2);

/// Connects to the API server of a kubeconfig context (the current one when `None`).
pub async fn client(context: Option<&str>) -> Result<Client, String> {
    let config = match context {
        Some(ctx) => {
            let kc = Kubeconfig::read().map_err(|e| format!("cannot read the kubeconfig: {e}"))?;
            let opts = KubeConfigOptions { context: Some(ctx.to_string()), ..KubeConfigOptions::default() };
            Config::from_custom_kubeconfig(kc, &opts).await.map_err(|e| format!("kubeconfig context `{ctx}`: {e}"))?
        }
        None => Config::infer().await.map_err(|e| format!("no Kubernetes configuration found: {e}"))?,
    };
    Client::try_from(config).map_err(|e| format!("cannot build a Kubernetes client: {e}"))
}

/// Runs plans, remembering what heals need (replica counts, ConfigMap values).
pub struct Executor {
    context: Option<String>,
    client: Option<Client>,
    docker: Option<Docker>,
    recorded: HashMap<String, String>,
    /// One line per step started (progress for the user).
    pub log: Box<dyn FnMut(&str) + Send>,
}

impl Executor {
    /// An executor for a kubeconfig context (connected lazily: the cluster may not exist yet).
    pub fn new(context: Option<String>) -> Executor {
        Executor { context, client: None, docker: None, recorded: HashMap::new(), log: Box::new(|l| eprintln!("{l}")) }
    }

    /// The API client.
    pub async fn kube(&mut self) -> Result<Client, String> {
        if self.client.is_none() {
            self.client = Some(client(self.context.as_deref()).await?);
        }
        Ok(self.client.clone().expect("set above"))
    }

    fn docker(&mut self) -> Result<Docker, String> {
        if self.docker.is_none() {
            self.docker = Some(Docker::connect_with_local_defaults().map_err(|e| format!("cannot reach the Docker engine: {e}"))?);
        }
        Ok(self.docker.clone().expect("set above"))
    }

    /// Runs every step in order; the first failure stops the plan and names the step.
    pub async fn run(&mut self, plan: &Plan) -> Result<(), String> {
        for (i, step) in plan.steps.iter().enumerate() {
            (self.log)(&format!("[{}/{}] {}", i + 1, plan.steps.len(), step.why));
            self.action(&step.action).await.map_err(|e| format!("step {} ({}): {e}", i + 1, step.why))?;
        }
        Ok(())
    }

    /// Runs every step even when some fail (heals, cleanup); returns the failures.
    pub async fn run_all(&mut self, plan: &Plan) -> Vec<String> {
        let mut errors = Vec::new();
        for step in &plan.steps {
            (self.log)(&format!("  {}", step.why));
            if let Err(e) = self.action(&step.action).await {
                errors.push(format!("{}: {e}", step.why));
            }
        }
        errors
    }

    async fn action(&mut self, a: &Action) -> Result<(), String> {
        match a {
            Action::Run { program, args, stdin, allow_failure } => {
                let out = run_program(program, args, stdin.as_deref()).await;
                match out {
                    Err(e) if !allow_failure => Err(e),
                    _ => Ok(()),
                }
            }
            Action::WriteFile { path, contents } => {
                if let Some(dir) = std::path::Path::new(path).parent() {
                    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                }
                std::fs::write(path, contents).map_err(|e| format!("cannot write {path}: {e}"))
            }
            Action::Apply { manifests, .. } => {
                let client = self.kube().await?;
                apply(&client, manifests).await
            }
            Action::ApplyCrds { version } => {
                if version != stack::VENDORED_OPERATOR {
                    return Err(format!("sparkrig vendors the CRDs of spark-operator {}, not {version}", stack::VENDORED_OPERATOR));
                }
                let client = self.kube().await?;
                for crd in stack::OPERATOR_CRDS {
                    apply(&client, crd).await?;
                }
                Ok(())
            }
            Action::Scale { namespace, name, replicas, remember } => {
                let api: Api<Deployment> = Api::namespaced(self.kube().await?, namespace);
                if *remember {
                    let scale = api.get_scale(name).await.map_err(|e| format!("deployment {namespace}/{name}: {e}"))?;
                    let n = scale.spec.and_then(|s| s.replicas).unwrap_or(1);
                    self.recorded.entry(format!("scale/{namespace}/{name}")).or_insert_with(|| n.to_string());
                }
                scale(&api, name, *replicas).await
            }
            Action::RestoreScale { namespace, name } => {
                let key = format!("scale/{namespace}/{name}");
                let n: i32 = self
                    .recorded
                    .remove(&key)
                    .and_then(|v| v.parse().ok())
                    .ok_or(format!("no recorded replica count for {namespace}/{name}"))?;
                let api: Api<Deployment> = Api::namespaced(self.kube().await?, namespace);
                scale(&api, name, n).await
            }
            Action::ReplaceConfigMapKey { namespace, name, key, find, replace } => {
                let api: Api<ConfigMap> = Api::namespaced(self.kube().await?, namespace);
                let mut cm = api.get(name).await.map_err(|e| format!("configmap {namespace}/{name}: {e}"))?;
                let data = cm.data.get_or_insert_with(BTreeMap::new);
                let old = data.get(key).cloned().ok_or(format!("configmap {namespace}/{name} has no key {key}"))?;
                if !old.contains(find.as_str()) {
                    return Err(format!("{namespace}/{name} {key} does not contain `{find}`; not changing it"));
                }
                self.recorded.entry(format!("cm/{namespace}/{name}/{key}")).or_insert_with(|| old.clone());
                data.insert(key.clone(), old.replace(find.as_str(), replace));
                api.replace(name, &Default::default(), &cm).await.map(|_| ()).map_err(|e| format!("configmap {namespace}/{name}: {e}"))
            }
            Action::RestoreConfigMapKey { namespace, name, key } => {
                let old = self
                    .recorded
                    .remove(&format!("cm/{namespace}/{name}/{key}"))
                    .ok_or(format!("no recorded {key} for {namespace}/{name}"))?;
                let api: Api<ConfigMap> = Api::namespaced(self.kube().await?, namespace);
                api.patch(name, &PatchParams::default(), &Patch::Merge(json!({"data": {key: old}})))
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("configmap {namespace}/{name}: {e}"))
            }
            Action::Cordon { node, unschedulable } => {
                let api: Api<Node> = Api::all(self.kube().await?);
                api.patch(node, &PatchParams::default(), &Patch::Merge(json!({"spec": {"unschedulable": unschedulable}})))
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("node {node}: {e}"))
            }
            Action::Drain { node, grace } => drain(&self.kube().await?, node, *grace).await,
            Action::KillPods { selector, apps, count, grace } => {
                kill_pods(&self.kube().await?, selector, apps.as_deref(), *count, *grace).await
            }
            Action::DeleteNode { node } => {
                let api: Api<Node> = Api::all(self.kube().await?);
                match api.delete(node, &DeleteParams::default()).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
                    Err(e) => Err(format!("node {node}: {e}")),
                }
            }
            Action::Container { container, op } => container_op(&self.docker()?, container, op).await,
            Action::EnsureRegistry { container, image, port } => ensure_registry(&self.docker()?, container, image, *port).await,
            Action::StartMinio { container, cluster, network, image, tag, user, password, buckets, secret_namespaces } => {
                let docker = self.docker()?;
                // A reused container keeps the credentials it was started with.
                let (user, password) = match docker.inspect_container(container, None).await {
                    Ok(info) => {
                        let env: HashMap<String, String> = info
                            .config
                            .and_then(|c| c.env)
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|e| e.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
                            .collect();
                        (
                            env.get("MINIO_ROOT_USER").cloned().unwrap_or(user.clone()),
                            env.get("MINIO_ROOT_PASSWORD").cloned().unwrap_or(password.clone()),
                        )
                    }
                    Err(_) => (user.clone(), password.clone()),
                };
                let minio = GenericImage::new(image.as_str(), tag.as_str())
                    .with_wait_for(WaitFor::message_on_either_std("API:"))
                    .with_cmd(["server", "/data"])
                    .with_network(network.as_str())
                    .with_container_name(container.as_str())
                    .with_env_var("MINIO_ROOT_USER", user.as_str())
                    .with_env_var("MINIO_ROOT_PASSWORD", password.as_str())
                    .with_label(OWNER_LABEL, "minio")
                    .with_label(CLUSTER_LABEL, cluster.as_str())
                    // Outlives this process (`up` then `run --backend kube`); `down` removes it.
                    .with_reuse(ReuseDirective::Always)
                    .start()
                    .await
                    .map_err(|e| format!("MinIO: {e}"))?;
                let mb = format!(
                    "mc alias set local http://127.0.0.1:9000 \"$MINIO_ROOT_USER\" \"$MINIO_ROOT_PASSWORD\" >/dev/null && mc mb --ignore-existing {}",
                    buckets.iter().map(|b| format!("local/{b}")).collect::<Vec<_>>().join(" ")
                );
                let res = minio
                    .exec(ExecCommand::new(["sh", "-c", &mb]).with_cmd_ready_condition(CmdWaitFor::exit()))
                    .await
                    .map_err(|e| format!("MinIO buckets: {e}"))?;
                if let Ok(Some(code)) = res.exit_code().await
                    && code != 0
                {
                    return Err(format!("MinIO buckets: `mc mb` exited {code}"));
                }
                let secret = stack::minio_secret(secret_namespaces, &stack::minio_endpoint(container), &user, &password);
                apply(&self.kube().await?, &secret).await
            }
            Action::Wait { what, timeout } => {
                let client = self.kube().await?;
                wait(&client, what, *timeout).await
            }
            Action::Sleep(d) => {
                tokio::time::sleep(*d).await;
                Ok(())
            }
        }
    }
}

/// Runs a program, feeding `stdin`; a non-zero exit is an error with the end of its stderr.
pub async fn run_program(program: &str, args: &[String], stdin: Option<&str>) -> Result<String, String> {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(std::process::Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {program}: {e} (see `sparkrig doctor`)"))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).await.map_err(|e| format!("{program}: writing stdin: {e}"))?;
    }
    let out = child.wait_with_output().await.map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
        Err(format!("{program} exited {}: {}", out.status.code().unwrap_or(-1), tail.join(" | ")))
    }
}

async fn scale(api: &Api<Deployment>, name: &str, replicas: i32) -> Result<(), String> {
    api.patch_scale(name, &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": replicas}})))
        .await
        .map(|_| ())
        .map_err(|e| format!("scale {name}: {e}"))
}

/// Server-side apply of YAML documents, resolving each kind through discovery.
pub async fn apply(client: &Client, manifests: &str) -> Result<(), String> {
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    for doc in serde_yaml::Deserializer::from_str(manifests) {
        let value = serde_yaml::Value::deserialize(doc).map_err(|e| format!("manifest: {e}"))?;
        if value.is_null() {
            continue;
        }
        let obj: DynamicObject = serde_yaml::from_value(value).map_err(|e| format!("manifest: {e}"))?;
        let types = obj.types.clone().ok_or("a manifest without apiVersion/kind")?;
        let gvk = GroupVersionKind::try_from(&types).map_err(|e| format!("{}: {e}", types.kind))?;
        let (ar, caps) = kube::discovery::pinned_kind(client, &gvk).await.map_err(|e| format!("{}: {e}", types.kind))?;
        let name = obj.metadata.name.clone().ok_or(format!("a {} without a name", types.kind))?;
        let api: Api<DynamicObject> = if caps.scope == kube::discovery::Scope::Cluster {
            Api::all_with(client.clone(), &ar)
        } else {
            Api::namespaced_with(client.clone(), obj.metadata.namespace.as_deref().unwrap_or("default"), &ar)
        };
        api.patch(&name, &pp, &Patch::Apply(&obj)).await.map_err(|e| format!("{} {name}: {e}", types.kind))?;
    }
    Ok(())
}

async fn drain(client: &Client, node: &str, grace: Duration) -> Result<(), String> {
    let pods: Api<Pod> = Api::all(client.clone());
    let lp = ListParams::default().fields(&format!("spec.nodeName={node}"));
    let list = pods.list(&lp).await.map_err(|e| format!("pods on {node}: {e}"))?;
    let mut errors = Vec::new();
    for p in list {
        let owned_by_daemonset = p.metadata.owner_references.iter().flatten().any(|o| o.kind == "DaemonSet");
        let mirror = p.metadata.annotations.as_ref().is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
        if owned_by_daemonset || mirror || p.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let (ns, name) = (p.metadata.namespace.clone().unwrap_or_default(), p.metadata.name.clone().unwrap_or_default());
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let ep = EvictParams {
            delete_options: Some(DeleteParams { grace_period_seconds: Some(grace.as_secs() as u32), ..DeleteParams::default() }),
            ..EvictParams::default()
        };
        if let Err(e) = api.evict(&name, &ep).await {
            errors.push(format!("{ns}/{name}: {e}"));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(format!("evictions refused (PodDisruptionBudgets?): {}", errors.join("; "))) }
}

async fn kill_pods(client: &Client, selector: &str, apps: Option<&str>, count: Option<u32>, grace: Option<Duration>) -> Result<(), String> {
    let pods: Api<Pod> = Api::all(client.clone());
    let list = pods.list(&ListParams::default().labels(selector)).await.map_err(|e| format!("pods {selector}: {e}"))?;
    let mut victims: Vec<(String, String)> = list
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            apps.is_none_or(|glob| {
                let ns = p.metadata.namespace.as_deref().unwrap_or("default");
                let app = p.metadata.labels.as_ref().and_then(|l| l.get("sparkoperator.k8s.io/app-name")).cloned().unwrap_or_default();
                glob_match(glob, &app) || glob_match(glob, &format!("{ns}/{app}"))
            })
        })
        .map(|p| (p.metadata.namespace.unwrap_or_default(), p.metadata.name.unwrap_or_default()))
        .collect();
    victims.sort();
    victims.truncate(count.map_or(usize::MAX, |c| c as usize));
    let dp = DeleteParams { grace_period_seconds: grace.map(|g| g.as_secs() as u32), ..DeleteParams::default() };
    for (ns, name) in victims {
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        match api.delete(&name, &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.is_not_found() => {}
            Err(e) => return Err(format!("delete pod {ns}/{name}: {e}")),
        }
    }
    Ok(())
}

async fn container_op(docker: &Docker, container: &str, op: &ContainerOp) -> Result<(), String> {
    let r = match op {
        ContainerOp::Stop => docker.stop_container(container, None).await,
        ContainerOp::Start => docker.start_container(container, None).await,
        ContainerOp::Disconnect(net) => {
            docker.disconnect_network(net, NetworkDisconnectRequest { container: container.into(), force: Some(true) }).await
        }
        ContainerOp::Connect(net) => {
            match docker.connect_network(net, NetworkConnectRequest { container: container.into(), endpoint_config: None }).await {
                // Already on the network (the recipe's "if not already connected").
                Err(e) if e.to_string().contains("already exists") => Ok(()),
                r => r,
            }
        }
        ContainerOp::Remove => {
            match docker.remove_container(container, Some(RemoveContainerOptionsBuilder::new().force(true).build())).await {
                Err(e) if e.to_string().contains("No such container") => Ok(()),
                r => r,
            }
        }
    };
    r.map_err(|e| format!("container {container}: {e}"))
}

async fn ensure_registry(docker: &Docker, container: &str, image: &str, port: u16) -> Result<(), String> {
    if docker.inspect_container(container, None).await.is_ok() {
        return docker
            .start_container(container, None)
            .await
            .or_else(|e| if e.to_string().contains("already started") { Ok(()) } else { Err(e) })
            .map_err(|e| e.to_string());
    }
    let mut pull = docker.create_image(Some(CreateImageOptionsBuilder::new().from_image(image).build()), None, None);
    while let Some(r) = pull.next().await {
        r.map_err(|e| format!("pull {image}: {e}"))?;
    }
    let bindings: HashMap<String, Option<Vec<PortBinding>>> =
        [("5000/tcp".to_string(), Some(vec![PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(port.to_string()) }]))].into();
    let body = ContainerCreateBody {
        image: Some(image.into()),
        labels: Some([(OWNER_LABEL.to_string(), "registry".to_string())].into()),
        exposed_ports: Some(vec!["5000/tcp".into()]),
        host_config: Some(HostConfig {
            port_bindings: Some(bindings),
            restart_policy: Some(RestartPolicy { name: Some(RestartPolicyNameEnum::ALWAYS), maximum_retry_count: None }),
            network_mode: Some("bridge".into()),
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    };
    docker
        .create_container(Some(CreateContainerOptionsBuilder::new().name(container).build()), body)
        .await
        .map_err(|e| format!("create {container}: {e}"))?;
    docker.start_container(container, None).await.map_err(|e| format!("start {container}: {e}"))
}

/// Polls until the condition holds; the error says what was last seen.
pub async fn wait(client: &Client, what: &Wait, timeout: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let last = match check(client, what).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if start.elapsed() >= timeout {
            return Err(format!("not ready after {}s: {last}", timeout.as_secs()));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn check(client: &Client, what: &Wait) -> Result<(), String> {
    match what {
        Wait::DeploymentAvailable { namespace, name } => {
            let d = Api::<Deployment>::namespaced(client.clone(), namespace).get(name).await.map_err(|e| e.to_string())?;
            let available = d
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Available" && c.status == "True"));
            if available { Ok(()) } else { Err(format!("deployment {namespace}/{name} not Available")) }
        }
        Wait::WebhookReady { configuration, namespace, service } => {
            let m = Api::<MutatingWebhookConfiguration>::all(client.clone()).get(configuration).await.map_err(|e| e.to_string())?;
            let v = Api::<ValidatingWebhookConfiguration>::all(client.clone()).get(configuration).await.map_err(|e| e.to_string())?;
            let mutating = m.webhooks.iter().flatten().all(|w| w.client_config.ca_bundle.as_ref().is_some_and(|b| !b.0.is_empty()));
            let validating = v.webhooks.iter().flatten().all(|w| w.client_config.ca_bundle.as_ref().is_some_and(|b| !b.0.is_empty()));
            if !(mutating && validating) {
                return Err(format!("{configuration}: a webhook has no caBundle yet"));
            }
            let slices = Api::<EndpointSlice>::namespaced(client.clone(), namespace)
                .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={service}")))
                .await
                .map_err(|e| e.to_string())?;
            let ready =
                slices.iter().flat_map(|s| s.endpoints.iter()).any(|e| e.conditions.as_ref().is_some_and(|c| c.ready == Some(true)));
            if ready { Ok(()) } else { Err(format!("no ready endpoint for {namespace}/{service}")) }
        }
        Wait::NodesReady => {
            let nodes = Api::<Node>::all(client.clone()).list(&ListParams::default()).await.map_err(|e| e.to_string())?;
            let not_ready: Vec<String> = nodes
                .iter()
                .filter(|n| {
                    !n.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
                })
                .filter_map(|n| n.metadata.name.clone())
                .collect();
            if not_ready.is_empty() && !nodes.items.is_empty() { Ok(()) } else { Err(format!("not Ready: {}", not_ready.join(", "))) }
        }
        Wait::CrdEstablished { name } => {
            let crd = Api::<CustomResourceDefinition>::all(client.clone()).get(name).await.map_err(|e| e.to_string())?;
            let ok = crd
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Established" && c.status == "True"));
            if ok { Ok(()) } else { Err(format!("crd {name} not Established")) }
        }
    }
}
