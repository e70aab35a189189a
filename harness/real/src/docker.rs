//! Docker's API for everything sparkrig does to containers: one negotiated connection, the
//! engine's version for `doctor`, the local registry of the kind recipe, the S3 container,
//! container faults, what `down` may remove (by sparkrig's labels, never by name alone), and a
//! guard that removes what a caller created even when it panics.
//!
//! bollard is used directly, not through testcontainers: testcontainers 0.28 builds its client
//! with bollard's fixed API version (1.53) and has no way to negotiate, so any engine older than
//! the newest refuses every call ("client version 1.53 is too new. Maximum supported API version
//! is 1.41"). [`connect`] negotiates down to the engine's version.
//!
//! Entry point: [`connect`].

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

pub use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, HostConfig, NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest, PortBinding, RestartPolicy,
    RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, InspectNetworkOptions, ListContainersOptionsBuilder,
    ListNetworksOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures::StreamExt;

use crate::error::{Error, Result, docker_status};
use crate::plan::ContainerOp;
use crate::s3;
use crate::{CLUSTER_LABEL, OWNER_LABEL};

/// The label kind puts on every node container, valued with the cluster name (kind
/// `pkg/cluster/internal/providers/docker/constants.go`, reference §1.1 "Docker labels").
pub const KIND_CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
/// The label kind puts on every node container, valued `control-plane` or `worker` (same file).
pub const KIND_ROLE_LABEL: &str = "io.x-k8s.kind.role";
/// The port MinIO serves S3 on inside its container (MinIO's `--address :9000` default).
pub const S3_PORT: u16 = 9000;
/// How long a started registry or S3 server gets to answer.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Readiness polls.
const POLL: Duration = Duration::from_millis(250);

/// Connects to the engine of `DOCKER_HOST` (the local socket when unset) and negotiates the API
/// version: the client's (1.53) when the engine speaks it, else the engine's own.
pub async fn connect() -> Result<Docker> {
    let docker = Docker::connect_with_defaults().map_err(|e| Error::docker("cannot reach the Docker engine", e))?;
    docker.negotiate_version().await.map_err(|e| Error::docker("cannot reach the Docker engine (API version negotiation)", e))
}

/// The engine, as `doctor` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    /// Engine version (`20.10.24`, `28.2.2`).
    pub version: String,
    /// Newest API version it speaks.
    pub api_version: String,
    /// Oldest API version it accepts.
    pub min_api_version: String,
    /// The API version sparkrig talks to it with, after negotiation.
    pub negotiated: String,
    /// `linux/amd64`.
    pub platform: String,
}

/// What the engine says about itself.
pub async fn engine(docker: &Docker) -> Result<Engine> {
    let v = docker.version().await.map_err(|e| Error::docker("engine version", e))?;
    let c = docker.client_version();
    Ok(Engine {
        version: v.version.unwrap_or_default(),
        api_version: v.api_version.unwrap_or_default(),
        min_api_version: v.min_api_version.unwrap_or_default(),
        negotiated: format!("{}.{}", c.major_version, c.minor_version),
        platform: format!("{}/{}", v.os.unwrap_or_default(), v.arch.unwrap_or_default()),
    })
}

fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Pulls `image` unless the engine has it (like `docker run`). Offline, a missing image fails
/// with the pull's error and what to do.
pub async fn ensure_image(docker: &Docker, image: &str) -> Result<()> {
    match docker.inspect_image(image).await {
        Ok(_) => return Ok(()),
        Err(e) if docker_status(&e) == Some(404) => {}
        Err(e) => return Err(Error::docker(format!("image {image}"), e)),
    }
    let mut pull = docker.create_image(Some(CreateImageOptionsBuilder::new().from_image(image).build()), None, None);
    while let Some(r) = pull.next().await {
        let info =
            r.map_err(|e| Error::docker(format!("pull {image} (not on this engine; load or build it, or pick another image)"), e))?;
        if let Some(detail) = info.error_detail {
            return Err(Error::docker(
                format!("pull {image} (not on this engine; load or build it, or pick another image)"),
                bollard::errors::Error::DockerStreamError { error: detail.message.unwrap_or_default() },
            ));
        }
    }
    Ok(())
}

/// A container's labels, or None when there is no such container.
pub async fn container_labels(docker: &Docker, name: &str) -> Result<Option<BTreeMap<String, String>>> {
    match docker.inspect_container(name, None).await {
        Ok(info) => Ok(Some(info.config.and_then(|c| c.labels).unwrap_or_default().into_iter().collect())),
        Err(e) if docker_status(&e) == Some(404) => Ok(None),
        Err(e) => Err(Error::docker(format!("inspect container {name}"), e)),
    }
}

async fn start(docker: &Docker, name: &str) -> Result<()> {
    match docker.start_container(name, None).await {
        // 304: already running.
        Err(e) if docker_status(&e) == Some(304) => Ok(()),
        r => r.map_err(|e| Error::docker(format!("start {name}"), e)),
    }
}

/// The local registry of the kind recipe (step 1): `docker run -d --restart=always -p
/// 127.0.0.1:PORT:5000 --network bridge --name NAME IMAGE`, labelled as sparkrig's, then ready
/// when `GET /v2/` answers 200. An existing container of that name is started and reused as the
/// recipe does (one registry for every kind cluster); sparkrig removes it later only if it
/// carries sparkrig's label.
pub async fn ensure_registry(docker: &Docker, container: &str, image: &str, port: u16) -> Result<()> {
    if container_labels(docker, container).await?.is_none() {
        ensure_image(docker, image).await?;
        let bindings: HashMap<String, Option<Vec<PortBinding>>> =
            [("5000/tcp".to_string(), Some(vec![PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(port.to_string()) }]))]
                .into();
        let body = ContainerCreateBody {
            image: Some(image.into()),
            labels: Some(labels(&[(OWNER_LABEL, "registry")])),
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
            .map_err(|e| Error::docker(format!("create {container}"), e))?;
    }
    start(docker, container).await?;
    let url = format!("http://127.0.0.1:{port}/v2/");
    let started = Instant::now();
    loop {
        let last = match s3::get_status(&url).await {
            Ok(200) => return Ok(()),
            Ok(s) => format!("GET {url}: HTTP {s}"),
            Err(e) => e.to_string(),
        };
        if started.elapsed() >= START_TIMEOUT {
            return Err(Error::Timeout { after: START_TIMEOUT, last: format!("registry {container}: {last}") });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The S3 server's container: MinIO's conventions (`server /data`, `MINIO_ROOT_USER` and
/// `MINIO_ROOT_PASSWORD`, S3 on port 9000), so any image that follows them works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Container {
    /// Container name: the S3 host name for pods on `network`.
    pub name: String,
    /// The kind cluster it serves (label [`CLUSTER_LABEL`]).
    pub cluster: String,
    /// Docker network to join (`kind`).
    pub network: String,
    /// Image reference.
    pub image: String,
    /// Access key for a new container.
    pub user: String,
    /// Secret key for a new container.
    pub password: String,
}

/// A running S3 container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Running {
    /// `http://127.0.0.1:<published port>`: S3 from this machine.
    pub host_endpoint: String,
    /// Access key (a reused container keeps the one it was started with).
    pub user: String,
    /// Secret key.
    pub password: String,
}

/// Starts the S3 container, or starts and reuses sparkrig's container of that name for the same
/// cluster (with its own credentials). Port 9000 is published on 127.0.0.1 at a free port so
/// sparkrig can create buckets through the S3 API. A container of that name that is not
/// sparkrig's (for this cluster) is refused.
pub async fn ensure_s3(docker: &Docker, spec: &S3Container) -> Result<S3Running> {
    let (mut user, mut password) = (spec.user.clone(), spec.password.clone());
    match container_labels(docker, &spec.name).await? {
        Some(l) => {
            if l.get(OWNER_LABEL).map(String::as_str) != Some("minio") || l.get(CLUSTER_LABEL) != Some(&spec.cluster) {
                return Err(Error::NotOurs {
                    what: format!("container {}", spec.name),
                    why: format!(
                        "it lacks {OWNER_LABEL}=minio and {CLUSTER_LABEL}={}; remove it or pick another cluster name",
                        spec.cluster
                    ),
                });
            }
            let info = docker.inspect_container(&spec.name, None).await.map_err(|e| Error::docker(format!("inspect {}", spec.name), e))?;
            for var in info.config.and_then(|c| c.env).unwrap_or_default() {
                match var.split_once('=') {
                    Some(("MINIO_ROOT_USER", v)) => user = v.to_string(),
                    Some(("MINIO_ROOT_PASSWORD", v)) => password = v.to_string(),
                    _ => {}
                }
            }
        }
        None => {
            ensure_image(docker, &spec.image).await?;
            let port = format!("{S3_PORT}/tcp");
            let bindings: HashMap<String, Option<Vec<PortBinding>>> =
                [(port.clone(), Some(vec![PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(String::new()) }]))].into();
            let body = ContainerCreateBody {
                image: Some(spec.image.clone()),
                cmd: Some(vec!["server".into(), "/data".into()]),
                env: Some(vec![format!("MINIO_ROOT_USER={user}"), format!("MINIO_ROOT_PASSWORD={password}")]),
                labels: Some(labels(&[(OWNER_LABEL, "minio"), (CLUSTER_LABEL, &spec.cluster)])),
                exposed_ports: Some(vec![port]),
                host_config: Some(HostConfig {
                    port_bindings: Some(bindings),
                    network_mode: Some(spec.network.clone()),
                    ..HostConfig::default()
                }),
                ..ContainerCreateBody::default()
            };
            docker
                .create_container(Some(CreateContainerOptionsBuilder::new().name(&spec.name).build()), body)
                .await
                .map_err(|e| Error::docker(format!("create {}", spec.name), e))?;
        }
    }
    start(docker, &spec.name).await?;
    let port = published_port(docker, &spec.name, S3_PORT).await?;
    Ok(S3Running { host_endpoint: format!("http://127.0.0.1:{port}"), user, password })
}

/// The host port a container's port is published on.
pub async fn published_port(docker: &Docker, container: &str, port: u16) -> Result<u16> {
    let info = docker.inspect_container(container, None).await.map_err(|e| Error::docker(format!("inspect {container}"), e))?;
    info.network_settings
        .and_then(|n| n.ports)
        .and_then(|p| p.get(&format!("{port}/tcp")).cloned().flatten())
        .and_then(|b| b.into_iter().find_map(|b| b.host_port?.parse().ok()))
        .ok_or_else(|| Error::Invalid(format!("container {container} does not publish port {port}; `sparkrig down` it and start again")))
}

/// One container operation (faults and `down`). Stopping a stopped container, starting a
/// running one and connecting a connected one succeed (heals run twice safely); removing
/// refuses a container without sparkrig's label.
pub async fn container_op(docker: &Docker, container: &str, op: &ContainerOp) -> Result<()> {
    let what = |verb: &str| format!("{verb} {container}");
    match op {
        ContainerOp::Stop => match docker.stop_container(container, None).await {
            Err(e) if docker_status(&e) == Some(304) => Ok(()),
            r => r.map_err(|e| Error::docker(what("stop"), e)),
        },
        ContainerOp::Start => start(docker, container).await,
        ContainerOp::Disconnect(net) => docker
            .disconnect_network(net, NetworkDisconnectRequest { container: container.into(), force: Some(true) })
            .await
            .map_err(|e| Error::docker(format!("disconnect {container} from {net}"), e)),
        ContainerOp::Connect(net) => {
            match docker.connect_network(net, NetworkConnectRequest { container: container.into(), endpoint_config: None }).await {
                // Already on the network (the recipe's "if not already connected").
                Err(e) if e.to_string().contains("already exists") => Ok(()),
                r => r.map_err(|e| Error::docker(format!("connect {container} to {net}"), e)),
            }
        }
        ContainerOp::Remove => remove_owned_container(docker, container).await,
    }
}

/// Removes a container (and its anonymous volumes) if it carries sparkrig's label; absent is
/// fine; unlabelled is refused.
pub async fn remove_owned_container(docker: &Docker, name: &str) -> Result<()> {
    match container_labels(docker, name).await? {
        None => Ok(()),
        Some(l) if !l.contains_key(OWNER_LABEL) => {
            Err(Error::NotOurs { what: format!("container {name}"), why: format!("no {OWNER_LABEL} label") })
        }
        Some(_) => match docker.remove_container(name, Some(RemoveContainerOptionsBuilder::new().force(true).v(true).build())).await {
            Err(e) if docker_status(&e) == Some(404) => Ok(()),
            r => r.map_err(|e| Error::docker(format!("remove {name}"), e)),
        },
    }
}

/// Removes a network if it carries sparkrig's label; absent is fine; unlabelled is refused.
pub async fn remove_owned_network(docker: &Docker, name: &str) -> Result<()> {
    let labels = match docker.inspect_network(name, None::<InspectNetworkOptions>).await {
        Ok(n) => n.labels.unwrap_or_default(),
        Err(e) if docker_status(&e) == Some(404) => return Ok(()),
        Err(e) => return Err(Error::docker(format!("inspect network {name}"), e)),
    };
    if !labels.contains_key(OWNER_LABEL) {
        return Err(Error::NotOurs { what: format!("network {name}"), why: format!("no {OWNER_LABEL} label") });
    }
    match docker.remove_network(name).await {
        Err(e) if docker_status(&e) == Some(404) => Ok(()),
        r => r.map_err(|e| Error::docker(format!("remove network {name}"), e)),
    }
}

/// Creates a bridge network with sparkrig's label (`role`) and, when given, the cluster's.
pub async fn create_owned_network(docker: &Docker, name: &str, role: &str, cluster: Option<&str>) -> Result<()> {
    let mut l = labels(&[(OWNER_LABEL, role)]);
    if let Some(c) = cluster {
        l.insert(CLUSTER_LABEL.into(), c.into());
    }
    let req = NetworkCreateRequest { name: name.into(), driver: Some("bridge".into()), labels: Some(l), ..NetworkCreateRequest::default() };
    docker.create_network(req).await.map(|_| ()).map_err(|e| Error::docker(format!("create network {name}"), e))
}

/// Containers with a label (`key` or `key=value`), by name, with their labels; stopped ones too.
pub async fn containers_labelled(docker: &Docker, label: &str) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let filters: HashMap<&str, Vec<&str>> = [("label", vec![label])].into();
    let list = docker
        .list_containers(Some(ListContainersOptionsBuilder::new().all(true).filters(&filters).build()))
        .await
        .map_err(|e| Error::docker(format!("list containers labelled {label}"), e))?;
    Ok(list
        .into_iter()
        .filter_map(|c| {
            let name = c.names?.first()?.trim_start_matches('/').to_string();
            Some((name, c.labels.unwrap_or_default().into_iter().collect()))
        })
        .collect())
}

/// Networks with a label (`key` or `key=value`), by name, with their labels.
pub async fn networks_labelled(docker: &Docker, label: &str) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let filters: HashMap<&str, Vec<&str>> = [("label", vec![label])].into();
    let list = docker
        .list_networks(Some(ListNetworksOptionsBuilder::new().filters(&filters).build()))
        .await
        .map_err(|e| Error::docker(format!("list networks labelled {label}"), e))?;
    Ok(list.into_iter().filter_map(|n| Some((n.name?, n.labels.unwrap_or_default().into_iter().collect()))).collect())
}

/// kind clusters on this engine, from their node containers' labels (what `kind get clusters`
/// reads, without needing kind).
pub async fn kind_clusters(docker: &Docker) -> Result<Vec<String>> {
    let mut names: Vec<String> =
        containers_labelled(docker, KIND_CLUSTER_LABEL).await?.into_values().filter_map(|l| l.get(KIND_CLUSTER_LABEL).cloned()).collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// The node containers of kind cluster `name` with their role, sorted by name.
pub async fn kind_nodes(docker: &Docker, cluster: &str) -> Result<Vec<(String, String)>> {
    let nodes = containers_labelled(docker, &format!("{KIND_CLUSTER_LABEL}={cluster}")).await?;
    Ok(nodes.into_iter().map(|(n, l)| (n, l.get(KIND_ROLE_LABEL).cloned().unwrap_or_default())).collect())
}

/// What `SPARKRIG_KEEP` asks of guards: `always` keeps everything, `on-failure` keeps what a
/// panicking test created.
fn keep(panicking: bool) -> bool {
    match std::env::var("SPARKRIG_KEEP").as_deref() {
        Ok("always") => true,
        Ok("on-failure") => panicking,
        _ => false,
    }
}

/// Containers and networks created by a caller, removed by [`Cleanup::teardown`] or, if that
/// was not reached (a failed assertion), on drop. Only what carries sparkrig's label is removed.
/// `SPARKRIG_KEEP=always|on-failure` keeps them for debugging.
#[derive(Debug, Default)]
#[must_use = "dropping the guard removes what it holds"]
pub struct Cleanup {
    containers: Vec<String>,
    networks: Vec<String>,
}

impl Cleanup {
    /// An empty guard.
    pub fn new() -> Cleanup {
        Cleanup::default()
    }

    /// Removes this container at the end.
    pub fn container(&mut self, name: impl Into<String>) {
        self.containers.push(name.into());
    }

    /// Removes this network at the end (after the containers).
    pub fn network(&mut self, name: impl Into<String>) {
        self.networks.push(name.into());
    }

    async fn remove(containers: Vec<String>, networks: Vec<String>, docker: &Docker) -> Result<()> {
        let mut errors = Vec::new();
        for c in containers.iter().rev() {
            if let Err(e) = remove_owned_container(docker, c).await {
                errors.push(e);
            }
        }
        for n in networks.iter().rev() {
            if let Err(e) = remove_owned_network(docker, n).await {
                errors.push(e);
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(Error::Several(errors)) }
    }

    /// Removes everything now, reporting what could not be removed.
    pub async fn teardown(mut self, docker: &Docker) -> Result<()> {
        let (containers, networks) = (std::mem::take(&mut self.containers), std::mem::take(&mut self.networks));
        if keep(false) {
            eprintln!("SPARKRIG_KEEP: keeping containers {containers:?} and networks {networks:?}");
            return Ok(());
        }
        Self::remove(containers, networks, docker).await
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.containers.is_empty() && self.networks.is_empty() {
            return;
        }
        let (containers, networks) = (std::mem::take(&mut self.containers), std::mem::take(&mut self.networks));
        if keep(std::thread::panicking()) {
            eprintln!("SPARKRIG_KEEP: keeping containers {containers:?} and networks {networks:?}");
            return;
        }
        // Drop may run inside a runtime (a failed async test): remove from a thread of its own,
        // on a connection of its own, and never panic here.
        let done = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => return eprintln!("cleanup: no runtime: {e}"),
            };
            rt.block_on(async {
                match connect().await {
                    Ok(docker) => {
                        if let Err(e) = Self::remove(containers, networks, &docker).await {
                            eprintln!("cleanup: {e}");
                        }
                    }
                    Err(e) => eprintln!("cleanup: {e}"),
                }
            })
        });
        let _ = done.join();
    }
}
