//! Carries out a [`Plan`] for real: programs (kind, docker, helm) as child processes, API calls
//! through kube-rs, container operations and the S3 and registry containers through Docker's API
//! ([`crate::docker`]), buckets through the S3 API ([`crate::s3`]), and readiness waits as polls
//! with a timeout. This is the thin edge: every decision was made when the plan was built.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bollard::Docker;
use k8s_openapi::api::admissionregistration::v1::{MutatingWebhookConfiguration, ValidatingWebhookConfiguration};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, EvictParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::{Client, Config};
use serde::Deserialize as _;
use serde_json::json;

use crate::docker::{self, S3Container};
use crate::error::{Error, Result};
use crate::plan::{Action, Plan, Wait};
use crate::s3::S3;
use crate::stack;

/// The field manager of sparkrig's server-side applies.
pub const FIELD_MANAGER: &str = "sparkrig";

/// How often readiness waits poll.
const POLL: Duration = Duration::from_secs(2);

/// Connects to the API server of a kubeconfig context (the current one when `None`).
pub async fn client(context: Option<&str>) -> Result<Client> {
    let config = match context {
        Some(ctx) => {
            let kc = Kubeconfig::read().map_err(|e| Error::KubeConfig(format!("cannot read the kubeconfig: {e}")))?;
            let opts = KubeConfigOptions { context: Some(ctx.to_string()), ..KubeConfigOptions::default() };
            Config::from_custom_kubeconfig(kc, &opts).await.map_err(|e| Error::KubeConfig(format!("kubeconfig context `{ctx}`: {e}")))?
        }
        None => Config::infer().await.map_err(|e| Error::KubeConfig(format!("no Kubernetes configuration found: {e}")))?,
    };
    Client::try_from(with_user_agent(config)).map_err(|e| Error::kube("cannot build a Kubernetes client", e))
}

/// The User-Agent of every request: `sparkrig/<version>`. An API server names the manager of a
/// non-apply write after it (`sparkrig`) and audit logs show it; kube-rs sends none by itself.
pub const USER_AGENT: &str = concat!("sparkrig/", env!("CARGO_PKG_VERSION"));

/// `config` sending sparkrig's User-Agent (kube-rs 5: `Config::headers`, sent on every request).
pub fn with_user_agent(mut config: Config) -> Config {
    config.headers.push((http::header::USER_AGENT, http::HeaderValue::from_static(USER_AGENT)));
    config
}

/// Parameters of sparkrig's non-apply patches: its field manager, so the server records the
/// change as sparkrig's whatever the User-Agent.
pub fn patch_params() -> PatchParams {
    PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() }
}

/// The annotations of an object.
fn annotation<'a>(meta: &'a kube::api::ObjectMeta, key: &str) -> Option<&'a String> {
    meta.annotations.as_ref().and_then(|a| a.get(key))
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
    pub async fn kube(&mut self) -> Result<Client> {
        if self.client.is_none() {
            self.client = Some(client(self.context.as_deref()).await?);
        }
        Ok(self.client.clone().expect("set above"))
    }

    /// The Docker connection (API version negotiated with the engine).
    pub async fn docker(&mut self) -> Result<Docker> {
        if self.docker.is_none() {
            self.docker = Some(docker::connect().await?);
        }
        Ok(self.docker.clone().expect("set above"))
    }

    /// Runs every step in order; the first failure stops the plan and names the step.
    pub async fn run(&mut self, plan: &Plan) -> Result<()> {
        for (i, step) in plan.steps.iter().enumerate() {
            (self.log)(&format!("[{}/{}] {}", i + 1, plan.steps.len(), step.why));
            self.action(&step.action).await.map_err(|e| Error::Step { index: i + 1, why: step.why.clone(), error: Box::new(e) })?;
        }
        Ok(())
    }

    /// Runs every step even when some fail (heals, cleanup); returns the failures.
    pub async fn run_all(&mut self, plan: &Plan) -> Vec<Error> {
        let mut errors = Vec::new();
        for (i, step) in plan.steps.iter().enumerate() {
            (self.log)(&format!("  {}", step.why));
            if let Err(e) = self.action(&step.action).await {
                errors.push(Error::Step { index: i + 1, why: step.why.clone(), error: Box::new(e) });
            }
        }
        errors
    }

    /// Runs one action (a heal step retried by its caller).
    pub async fn run_one(&mut self, a: &Action) -> Result<()> {
        self.action(a).await
    }

    /// `kubectl` on this executor's context.
    fn kubectl(&self) -> String {
        match &self.context {
            Some(c) => format!("kubectl --context {}", crate::plan::quote(c)),
            None => "kubectl".into(),
        }
    }

    fn restore_scale(&self, namespace: &str, name: &str, n: &str) -> String {
        let k = self.kubectl();
        format!(
            "{k} -n {namespace} scale deployment {name} --replicas={} && {k} -n {namespace} annotate deployment {name} {}-",
            crate::plan::quote(n),
            crate::ORIGINAL_REPLICAS
        )
    }

    /// A ConfigMap still carrying the annotation a fault saves its original value in was left
    /// broken by an earlier run: refused, with the command that restores it.
    fn refuse_configmap_left_broken(&self, cm: &ConfigMap, namespace: &str, name: &str, key: &str) -> Result<()> {
        let ann = crate::original_value_annotation(key);
        match annotation(&cm.metadata, &ann) {
            Some(v) => Err(Error::LeftBroken {
                what: format!("configmap {namespace}/{name}"),
                found: format!("the annotation {ann} (the {key} before a fault)"),
                restore: self.restore_configmap(namespace, name, key, v),
            }),
            None => Ok(()),
        }
    }

    fn restore_configmap(&self, namespace: &str, name: &str, key: &str, old: &str) -> String {
        format!(
            "{} -n {namespace} patch configmap {name} --type merge -p {}",
            self.kubectl(),
            crate::plan::quote(&restore_configmap_patch(key, old).to_string())
        )
    }

    /// The exact commands that do what a heal step does, with the values recorded at the
    /// injection: printed when the heal failed, for a person to run.
    pub fn restore_command(&self, a: &Action) -> String {
        match a {
            Action::RestoreScale { namespace, name } => match self.recorded.get(&format!("scale/{namespace}/{name}")) {
                Some(n) => self.restore_scale(namespace, name, n),
                None => a.to_string(),
            },
            Action::RestoreConfigMapKey { namespace, name, key } => match self.recorded.get(&format!("cm/{namespace}/{name}/{key}")) {
                Some(old) => self.restore_configmap(namespace, name, key, old),
                None => a.to_string(),
            },
            other => other.to_string().replace("kubectl ", &format!("{} ", self.kubectl())),
        }
    }

    /// Refuses a Deployment a sparkrig run left scaled down (it carries
    /// [`crate::ORIGINAL_REPLICAS`]).
    async fn refuse_scaled_down(&self, api: &Api<Deployment>, namespace: &str, name: &str) -> Result<()> {
        let d = api.get(name).await.map_err(|e| Error::kube(format!("deployment {namespace}/{name}"), e))?;
        match annotation(&d.metadata, crate::ORIGINAL_REPLICAS) {
            Some(n) => Err(Error::LeftBroken {
                what: format!("deployment {namespace}/{name}"),
                found: format!("{}={n}", crate::ORIGINAL_REPLICAS),
                restore: self.restore_scale(namespace, name, n),
            }),
            None => Ok(()),
        }
    }

    /// Before a run starts: refuses if an object the plans' faults change still carries a
    /// record of an earlier change (a sparkrig run left it broken, or another is injecting a
    /// fault on it now), so nothing of the run has started when it refuses.
    pub async fn refuse_left_broken(&mut self, plans: &[Plan]) -> Result<()> {
        for step in plans.iter().flat_map(|p| p.steps.iter()) {
            match &step.action {
                Action::Scale { namespace, name, remember: true, .. } => {
                    let api: Api<Deployment> = Api::namespaced(self.kube().await?, namespace);
                    self.refuse_scaled_down(&api, namespace, name).await?;
                }
                Action::ReplaceConfigMapKey { namespace, name, key, .. } => {
                    let api: Api<ConfigMap> = Api::namespaced(self.kube().await?, namespace);
                    let cm = api.get(name).await.map_err(|e| Error::kube(format!("configmap {namespace}/{name}"), e))?;
                    self.refuse_configmap_left_broken(&cm, namespace, name, key)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn action(&mut self, a: &Action) -> Result<()> {
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
                    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
                }
                std::fs::write(path, contents).map_err(|e| Error::io(path, e))
            }
            Action::Apply { manifests, .. } => {
                let client = self.kube().await?;
                apply(&client, manifests).await
            }
            Action::ApplyCrds { version } => {
                if version != stack::VENDORED_OPERATOR {
                    return Err(Error::Invalid(format!(
                        "sparkrig vendors the CRDs of spark-operator {}, not {version}",
                        stack::VENDORED_OPERATOR
                    )));
                }
                let client = self.kube().await?;
                for crd in stack::OPERATOR_CRDS {
                    apply(&client, crd).await?;
                }
                Ok(())
            }
            Action::Scale { namespace, name, replicas, remember } => {
                let api: Api<Deployment> = Api::namespaced(self.kube().await?, namespace);
                let key = format!("scale/{namespace}/{name}");
                if *remember && !self.recorded.contains_key(&key) {
                    self.refuse_scaled_down(&api, namespace, name).await?;
                    let scale = api.get_scale(name).await.map_err(|e| Error::kube(format!("deployment {namespace}/{name}"), e))?;
                    // autoscaling/v1 ScaleSpec.replicas is `omitempty`: absent means 0.
                    let n = scale.spec.and_then(|s| s.replicas).unwrap_or(0);
                    // On the object first, so a run killed before its heal leaves the count
                    // where the next run (and a person) finds it.
                    api.patch(
                        name,
                        &patch_params(),
                        &Patch::Merge(json!({"metadata": {"annotations": {crate::ORIGINAL_REPLICAS: n.to_string()}}})),
                    )
                    .await
                    .map_err(|e| Error::kube(format!("annotate deployment {namespace}/{name}"), e))?;
                    self.recorded.insert(key, n.to_string());
                }
                scale(&api, name, *replicas).await
            }
            Action::RestoreScale { namespace, name } => {
                // The record is kept until the restore succeeded, so a failed heal can be
                // retried and its command printed.
                let key = format!("scale/{namespace}/{name}");
                // No record: this run did not change it (its injection stopped before).
                let Some(recorded) = self.recorded.get(&key) else { return Ok(()) };
                let n: i32 =
                    recorded.parse().map_err(|_| Error::Invalid(format!("recorded replica count `{recorded}` of {namespace}/{name}")))?;
                let api: Api<Deployment> = Api::namespaced(self.kube().await?, namespace);
                scale(&api, name, n).await?;
                api.patch(name, &patch_params(), &Patch::Merge(json!({"metadata": {"annotations": {crate::ORIGINAL_REPLICAS: null}}})))
                    .await
                    .map_err(|e| Error::kube(format!("annotate deployment {namespace}/{name}"), e))?;
                self.recorded.remove(&key);
                Ok(())
            }
            Action::ReplaceConfigMapKey { namespace, name, key, find, replace } => {
                let api: Api<ConfigMap> = Api::namespaced(self.kube().await?, namespace);
                let mut cm = api.get(name).await.map_err(|e| Error::kube(format!("configmap {namespace}/{name}"), e))?;
                self.refuse_configmap_left_broken(&cm, namespace, name, key)?;
                let data = cm.data.get_or_insert_with(BTreeMap::new);
                let old = data.get(key).cloned().ok_or_else(|| Error::Invalid(format!("configmap {namespace}/{name} has no key {key}")))?;
                if !old.contains(find.as_str()) {
                    return Err(Error::Invalid(format!("{namespace}/{name} {key} does not contain `{find}`; not changing it")));
                }
                data.insert(key.clone(), old.replace(find.as_str(), replace));
                // The old value goes with the change, in one write.
                cm.metadata.annotations.get_or_insert_with(BTreeMap::new).insert(crate::original_value_annotation(key), old.clone());
                let pp = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..PostParams::default() };
                api.replace(name, &pp, &cm).await.map_err(|e| Error::kube(format!("configmap {namespace}/{name}"), e))?;
                self.recorded.insert(format!("cm/{namespace}/{name}/{key}"), old);
                Ok(())
            }
            Action::RestoreConfigMapKey { namespace, name, key } => {
                let record = format!("cm/{namespace}/{name}/{key}");
                // No record: this run did not change it (its injection stopped before).
                let Some(old) = self.recorded.get(&record).cloned() else { return Ok(()) };
                let api: Api<ConfigMap> = Api::namespaced(self.kube().await?, namespace);
                api.patch(name, &patch_params(), &Patch::Merge(restore_configmap_patch(key, &old)))
                    .await
                    .map_err(|e| Error::kube(format!("configmap {namespace}/{name}"), e))?;
                self.recorded.remove(&record);
                Ok(())
            }
            Action::Cordon { node, unschedulable } => {
                let api: Api<Node> = Api::all(self.kube().await?);
                api.patch(node, &patch_params(), &Patch::Merge(json!({"spec": {"unschedulable": unschedulable}})))
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::kube(format!("node {node}"), e))
            }
            Action::Drain { node, grace } => drain(&self.kube().await?, node, *grace).await,
            Action::KillPods { labels, apps, count, grace } => {
                let killed = kill_pods(&self.kube().await?, labels, apps, *count, *grace).await?;
                (self.log)(&format!("    deleted {}", if killed.is_empty() { "no pod".to_string() } else { killed.join(", ") }));
                Ok(())
            }
            Action::DeleteNode { node } => {
                let api: Api<Node> = Api::all(self.kube().await?);
                match api.delete(node, &DeleteParams::default()).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
                    Err(e) => Err(Error::kube(format!("delete node {node}"), e)),
                }
            }
            Action::Container { container, op } => docker::container_op(&self.docker().await?, container, op).await,
            Action::RemoveNetwork { network } => docker::remove_owned_network(&self.docker().await?, network).await,
            Action::EnsureRegistry { container, image, port } => {
                docker::ensure_registry(&self.docker().await?, container, image, *port).await
            }
            Action::StartMinio { container, cluster, network, image, user, password, buckets, secret_namespaces } => {
                let spec = S3Container {
                    name: container.clone(),
                    cluster: cluster.clone(),
                    network: network.clone(),
                    image: image.clone(),
                    user: user.clone(),
                    password: password.clone(),
                };
                let running = docker::ensure_s3(&self.docker().await?, &spec).await?;
                let s3 = S3::new(&running.host_endpoint, &running.user, &running.password)?;
                let probe = buckets.first().map_or("sparkrig", String::as_str);
                s3.wait_ready(probe, docker::START_TIMEOUT).await?;
                for b in buckets {
                    s3.ensure_bucket(b).await?;
                }
                let secret = stack::minio_secret(secret_namespaces, &stack::minio_endpoint(container), &running.user, &running.password);
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
pub async fn run_program(program: &str, args: &[String], stdin: Option<&str>) -> Result<String> {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(std::process::Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(|error| Error::Spawn { program: program.into(), error })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).await.map_err(|e| Error::io(format!("{program}'s stdin"), e))?;
    }
    let out = child.wait_with_output().await.map_err(|e| Error::io(format!("{program}'s output"), e))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
        Err(Error::Exit { program: program.into(), code: out.status.code().unwrap_or(-1), stderr: tail.join(" | ") })
    }
}

/// The merge patch that puts a ConfigMap key back and removes the record of its old value.
fn restore_configmap_patch(key: &str, old: &str) -> serde_json::Value {
    json!({"data": {key: old}, "metadata": {"annotations": {crate::original_value_annotation(key): null}}})
}

async fn scale(api: &Api<Deployment>, name: &str, replicas: i32) -> Result<()> {
    api.patch_scale(name, &patch_params(), &Patch::Merge(json!({"spec": {"replicas": replicas}})))
        .await
        .map(|_| ())
        .map_err(|e| Error::kube(format!("scale {name}"), e))
}

/// Server-side apply of YAML documents, resolving each kind through discovery.
pub async fn apply(client: &Client, manifests: &str) -> Result<()> {
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    for doc in serde_yaml::Deserializer::from_str(manifests) {
        let value = serde_yaml::Value::deserialize(doc).map_err(|e| Error::Invalid(format!("manifest: {e}")))?;
        if value.is_null() {
            continue;
        }
        let obj: DynamicObject = serde_yaml::from_value(value).map_err(|e| Error::Invalid(format!("manifest: {e}")))?;
        let types = obj.types.clone().ok_or_else(|| Error::Invalid("a manifest without apiVersion/kind".into()))?;
        let gvk = GroupVersionKind::try_from(&types).map_err(|e| Error::Invalid(format!("{}: {e}", types.kind)))?;
        let (ar, caps) =
            kube::discovery::pinned_kind(client, &gvk).await.map_err(|e| Error::kube(format!("discover {}", types.kind), e))?;
        let name = obj.metadata.name.clone().ok_or_else(|| Error::Invalid(format!("a {} without a name", types.kind)))?;
        let api: Api<DynamicObject> = if caps.scope == kube::discovery::Scope::Cluster {
            Api::all_with(client.clone(), &ar)
        } else {
            Api::namespaced_with(client.clone(), obj.metadata.namespace.as_deref().unwrap_or("default"), &ar)
        };
        api.patch(&name, &pp, &Patch::Apply(&obj)).await.map_err(|e| Error::kube(format!("apply {} {name}", types.kind), e))?;
    }
    Ok(())
}

async fn drain(client: &Client, node: &str, grace: Duration) -> Result<()> {
    let pods: Api<Pod> = Api::all(client.clone());
    let lp = ListParams::default().fields(&format!("spec.nodeName={node}"));
    let list = pods.list(&lp).await.map_err(|e| Error::kube(format!("pods on {node}"), e))?;
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
            errors.push(Error::kube(format!("evict {ns}/{name} (a PodDisruptionBudget?)"), e));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(Error::Several(errors)) }
}

/// Deletes pods of this run's apps only (see [`Action::KillPods`]); returns the pods deleted.
async fn kill_pods(
    client: &Client,
    labels: &[(String, String)],
    apps: &[String],
    count: Option<u32>,
    grace: Option<Duration>,
) -> Result<Vec<String>> {
    let ar = kube::api::ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("sparkoperator.k8s.io", "v1beta2", "SparkApplication"),
        "sparkapplications",
    );
    let mut victims: Vec<(String, String)> = Vec::new();
    for key in apps {
        let (ns, name) = key.split_once('/').unwrap_or(("default", key));
        let sparkapps: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
        let Some(app) = sparkapps.get_opt(name).await.map_err(|e| Error::kube(format!("SparkApplication {key}"), e))? else {
            continue;
        };
        // Ours: created by this run (sparkrig refuses to start when a foreign app has the name).
        if app.metadata.labels.as_ref().and_then(|l| l.get(crate::OWNER_LABEL)).map(String::as_str) != Some("app") {
            continue;
        }
        let uid = app.metadata.uid.clone().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let lp = ListParams::default().labels(&format!("{}={name},{}=app", crate::plan::APP_NAME_LABEL, crate::OWNER_LABEL));
        let list = pods.list(&lp).await.map_err(|e| Error::kube(format!("pods of {key}"), e))?;
        for p in owned_pods(&list.items, &uid) {
            let l = p.metadata.labels.clone().unwrap_or_default();
            if p.metadata.deletion_timestamp.is_none() && labels.iter().all(|(k, v)| l.get(k) == Some(v)) {
                victims.push((ns.to_string(), p.metadata.name.clone().unwrap_or_default()));
            }
        }
    }
    victims.sort();
    victims.truncate(count.map_or(usize::MAX, |c| c as usize));
    let dp = DeleteParams { grace_period_seconds: grace.map(|g| g.as_secs() as u32), ..DeleteParams::default() };
    let mut killed = Vec::new();
    for (ns, name) in victims {
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        match api.delete(&name, &dp).await {
            Ok(_) => killed.push(format!("{ns}/{name}")),
            Err(kube::Error::Api(s)) if s.is_not_found() => {}
            Err(e) => return Err(Error::kube(format!("delete pod {ns}/{name}"), e)),
        }
    }
    Ok(killed)
}

/// Of `pods` (one namespace), those owned by the object with `owner_uid`: directly (the driver,
/// and executors since operator v2.4.0), or through a pod it owns (executors → their driver).
pub fn owned_pods<'a>(pods: &'a [Pod], owner_uid: &str) -> Vec<&'a Pod> {
    if owner_uid.is_empty() {
        return Vec::new();
    }
    let owned_by = |p: &Pod, uids: &[&str]| p.metadata.owner_references.iter().flatten().any(|o| uids.contains(&o.uid.as_str()));
    let direct: Vec<&str> = pods.iter().filter(|p| owned_by(p, &[owner_uid])).filter_map(|p| p.metadata.uid.as_deref()).collect();
    let mut owners = direct.clone();
    owners.push(owner_uid);
    pods.iter().filter(|p| owned_by(p, &owners)).collect()
}

/// Polls until the condition holds; the error says what was last seen.
pub async fn wait(client: &Client, what: &Wait, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        let last = match check(client, what).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if start.elapsed() >= timeout {
            return Err(Error::Timeout { after: timeout, last });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One readiness check: Ok, or what was seen instead.
async fn check(client: &Client, what: &Wait) -> std::result::Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    fn pod(name: &str, uid: &str, owner: Option<&str>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                uid: Some(uid.into()),
                owner_references: owner.map(|o| vec![OwnerReference { uid: o.into(), ..OwnerReference::default() }]),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        }
    }

    #[test]
    fn pods_are_owned_directly_or_through_their_driver_and_look_alikes_are_not() {
        let pods = [
            pod("a-driver", "d1", Some("app-a")),
            pod("a-exec-1", "e1", Some("d1")),
            pod("a-exec-2", "e2", Some("app-a")),
            pod("lookalike-driver", "x1", None),
            pod("b-driver", "d2", Some("app-b")),
            pod("b-exec-1", "e3", Some("d2")),
        ];
        let names = |uid: &str| owned_pods(&pods, uid).iter().map(|p| p.metadata.name.clone().unwrap()).collect::<Vec<_>>();
        assert_eq!(names("app-a"), ["a-driver", "a-exec-1", "a-exec-2"]);
        assert_eq!(names("app-b"), ["b-driver", "b-exec-1"]);
        assert!(names("").is_empty(), "no uid owns nothing");
    }

    #[test]
    fn restore_commands_carry_the_context_and_the_recorded_values() {
        let mut ex = Executor::new(Some("staging".into()));
        ex.recorded.insert("scale/kube-system/coredns".into(), "2".into());
        ex.recorded.insert("cm/kube-system/coredns/Corefile".into(), ".:53 {\n  kubernetes cluster.local\n}\n".into());
        assert_eq!(
            ex.restore_command(&Action::RestoreScale { namespace: "kube-system".into(), name: "coredns".into() }),
            "kubectl --context staging -n kube-system scale deployment coredns --replicas=2 && kubectl --context staging -n kube-system annotate deployment coredns sparkrig.io/original-replicas-"
        );
        let cm = ex.restore_command(&Action::RestoreConfigMapKey {
            namespace: "kube-system".into(),
            name: "coredns".into(),
            key: "Corefile".into(),
        });
        assert_eq!(
            cm,
            r#"kubectl --context staging -n kube-system patch configmap coredns --type merge -p '{"data":{"Corefile":".:53 {\n  kubernetes cluster.local\n}\n"},"metadata":{"annotations":{"sparkrig.io/original-Corefile":null}}}'"#
        );
        assert_eq!(
            ex.restore_command(&Action::Cordon { node: "n1".into(), unschedulable: false }),
            "kubectl --context staging uncordon n1"
        );
    }
}
