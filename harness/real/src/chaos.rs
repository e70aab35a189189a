//! `sparkrig chaos`: the container faults of the catalog (node-loss, network-partition,
//! minio-outage, registry-outage) on a running sparkrig kind cluster, by hand, for a chaos
//! experiment outside a scenario: inject, hold for a duration or until Ctrl-C / SIGTERM, heal.
//! The plans are the scenario runner's ([`crate::faults::fault_plan`]); what they may act on
//! comes from Docker's labels: kind's node containers of the cluster, and the MinIO and registry
//! containers only when they carry sparkrig's label. Whatever was injected is healed, also when
//! the process is interrupted half-way through injecting.
//!
//! Entry point: [`chaos`].

use std::time::Duration;

use bollard::Docker;
use sparkrig_model::faults::{FaultKind, FaultSpec, NodeTarget};

use crate::docker;
use crate::error::{Error, Result};
use crate::exec::Executor;
use crate::faults::{ClusterFacts, FaultPlan, fault_plan};
use crate::plan::Plan;
use crate::stack::REGISTRY_CONTAINER;
use crate::{CLUSTER_LABEL, OWNER_LABEL};

/// The faults `chaos` carries out: those acting on containers only (the others need the
/// cluster's API and a scenario).
pub const CHAOS_FAULTS: [FaultKind; 4] =
    [FaultKind::NodeLoss, FaultKind::NetworkPartition, FaultKind::MinioOutage, FaultKind::RegistryOutage];

/// Fault specs from names and `--node` values: node faults hit each named node.
pub fn specs(faults: &[String], nodes: &[String]) -> Result<Vec<FaultSpec>> {
    let mut out = Vec::new();
    for name in faults {
        let kind = FaultKind::parse(name).ok_or_else(|| Error::Invalid(format!("unknown fault `{name}` (see `sparkrig faults`)")))?;
        if !CHAOS_FAULTS.contains(&kind) {
            return Err(Error::Invalid(format!(
                "{name} acts through the cluster's API; inject it from a scenario (`sparkrig chaos` does {})",
                CHAOS_FAULTS.map(FaultKind::name).join(", ")
            )));
        }
        match kind {
            FaultKind::NodeLoss | FaultKind::NetworkPartition if nodes.is_empty() => {
                return Err(Error::Invalid(format!("{name} needs --node NODE (a node container of the cluster)")));
            }
            FaultKind::NodeLoss => {
                out.extend(nodes.iter().map(|n| FaultSpec::NodeLoss { nodes: NodeTarget::Named(n.clone()), delete_after: None }))
            }
            FaultKind::NetworkPartition => {
                out.extend(nodes.iter().map(|n| FaultSpec::NetworkPartition { nodes: NodeTarget::Named(n.clone()) }))
            }
            k => out.push(FaultSpec::Component(k)),
        }
    }
    if out.is_empty() {
        return Err(Error::Invalid("name at least one fault".into()));
    }
    Ok(out)
}

/// What the faults may act on, from Docker: the cluster's node containers (kind's labels) and
/// its MinIO container when sparkrig started it.
pub async fn facts(docker: &Docker, cluster: &str) -> Result<ClusterFacts> {
    let minio = format!("{cluster}-minio");
    let ours = docker::container_labels(docker, &minio).await?.is_some_and(|l| {
        l.get(OWNER_LABEL).map(String::as_str) == Some("minio") && l.get(CLUSTER_LABEL).map(String::as_str) == Some(cluster)
    });
    Ok(ClusterFacts {
        kind_cluster: Some(cluster.to_string()),
        minio_container: ours.then_some(minio),
        nodes: docker::kind_nodes(docker, cluster).await?,
        apps: Vec::new(),
    })
}

/// The plans of every spec, refusing containers sparkrig may not touch.
pub async fn plans(docker: &Docker, cluster: &str, specs: &[FaultSpec]) -> Result<Vec<FaultPlan>> {
    let facts = facts(docker, cluster).await?;
    let mut out = Vec::new();
    for spec in specs {
        let (container, role) = match spec.kind() {
            FaultKind::MinioOutage => (format!("{cluster}-minio"), "minio"),
            FaultKind::RegistryOutage => (REGISTRY_CONTAINER.to_string(), "registry"),
            _ => (String::new(), ""),
        };
        if !role.is_empty() {
            let labels = docker::container_labels(docker, &container).await?;
            let Some(labels) = labels else {
                return Err(Error::Invalid(format!("no container {container}: `sparkrig up` starts it")));
            };
            let cluster_ok = role == "registry" || labels.get(CLUSTER_LABEL).map(String::as_str) == Some(cluster);
            if labels.get(OWNER_LABEL).map(String::as_str) != Some(role) || !cluster_ok {
                let cluster_label = if role == "minio" { format!(" and {CLUSTER_LABEL}={cluster}") } else { String::new() };
                return Err(Error::NotOurs {
                    what: format!("container {container}"),
                    why: format!("no {OWNER_LABEL}={role}{cluster_label}"),
                });
            }
        }
        out.push(fault_plan(spec, &facts)?);
    }
    Ok(out)
}

/// How a chaos run ended.
#[derive(Debug)]
pub struct Outcome {
    /// `Ctrl-C` or `SIGTERM` when a signal ended it, None when the hold ran out.
    pub interrupted: Option<&'static str>,
    /// Heal steps that failed (empty: everything was put back).
    pub heal_errors: Vec<Error>,
}

/// Resolves at the first SIGINT or SIGTERM. The handlers are installed when this is called,
/// before anything is injected, so a signal is never the default "terminate now".
fn signals() -> Result<impl std::future::Future<Output = &'static str>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt()).map_err(|e| Error::io("SIGINT handler", e))?;
        let mut term = signal(SignalKind::terminate()).map_err(|e| Error::io("SIGTERM handler", e))?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => "Ctrl-C",
                _ = term.recv() => "SIGTERM",
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        })
    }
}

/// Injects the faults on kind cluster `cluster`, holds them for `hold` (None: until a signal),
/// heals them. Progress goes to `log`.
pub async fn run(
    cluster: &str,
    specs: &[FaultSpec],
    hold: Option<Duration>,
    log: impl Fn(&str) + Send + Sync + 'static,
) -> Result<Outcome> {
    let stop = signals()?;
    tokio::pin!(stop);
    let docker = docker::connect().await?;
    let plans = plans(&docker, cluster, specs).await?;
    let log = std::sync::Arc::new(log);
    let mut ex = Executor::new(None);
    let l = log.clone();
    ex.log = Box::new(move |line| l(line));
    let mut inject = Plan::default();
    let mut heal = Plan::default();
    for p in &plans {
        inject.extend(p.inject.clone());
    }
    // Heals in reverse order of injection.
    for p in plans.iter().rev() {
        heal.extend(p.heal.clone());
    }
    log(&format!("injecting {} fault(s) on kind cluster {cluster}", specs.len()));
    let injected = tokio::select! {
        r = ex.run(&inject) => Some(r),
        s = &mut stop => {
            log(&format!("{s} while injecting: healing what was injected"));
            return Ok(Outcome { interrupted: Some(s), heal_errors: ex.run_all(&heal).await });
        }
    };
    if let Some(Err(e)) = injected {
        log(&format!("injection failed ({e}): healing what was injected"));
        let heal_errors = ex.run_all(&heal).await;
        return if heal_errors.is_empty() { Err(e) } else { Err(Error::Several(std::iter::once(e).chain(heal_errors).collect())) };
    }
    let interrupted = match hold {
        Some(d) => {
            log(&format!("injected; healing in {}s, or at Ctrl-C", d.as_secs()));
            tokio::select! {
                _ = tokio::time::sleep(d) => None,
                s = &mut stop => Some(s),
            }
        }
        None => {
            log("injected; healing at Ctrl-C");
            Some((&mut stop).await)
        }
    };
    if let Some(s) = interrupted {
        log(&format!("{s}: healing"));
    } else {
        log("hold over: healing");
    }
    let heal_errors = ex.run_all(&heal).await;
    log(if heal_errors.is_empty() { "healed" } else { "healing failed in part" });
    Ok(Outcome { interrupted, heal_errors })
}

/// [`run`] on a runtime of its own (for the command line).
pub fn chaos(cluster: &str, specs: &[FaultSpec], hold: Option<Duration>, log: impl Fn(&str) + Send + Sync + 'static) -> Result<Outcome> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Error::io("a runtime", e))?;
    rt.block_on(run(cluster, specs, hold, log))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_faults_hit_each_named_node_and_api_faults_are_refused() {
        let s = specs(&["network-partition".into(), "minio-outage".into()], &["c-worker".into(), "c-worker2".into()]).unwrap();
        assert_eq!(
            s,
            vec![
                FaultSpec::NetworkPartition { nodes: NodeTarget::Named("c-worker".into()) },
                FaultSpec::NetworkPartition { nodes: NodeTarget::Named("c-worker2".into()) },
                FaultSpec::Component(FaultKind::MinioOutage),
            ]
        );
        let e = specs(&["coredns-down".into()], &[]).unwrap_err().to_string();
        assert!(e.contains("coredns-down acts through the cluster's API"), "{e}");
        let e = specs(&["node-loss".into()], &[]).unwrap_err().to_string();
        assert!(e.contains("needs --node"), "{e}");
        assert!(specs(&["nodeloss".into()], &[]).unwrap_err().to_string().contains("unknown fault `nodeloss`"));
    }
}
