//! `sparkrig serve`: the simulated cluster behind a real Kubernetes API, so kubectl, kube-rs
//! and Spark's fabric8 client work against it unchanged (spec: reference/kube-api.md).
//!
//! ```text
//!   clock task ── every 20 ms ──▶ Cluster::advance(virtual now) ─▶ Simulation::run_until
//!                                        │ trace records
//!                                        ▼
//!   HTTP / WebSocket ──▶ request ──▶ reads: Objects (list, get, watch history + broadcast)
//!                                  writes: Cluster::write(Action) ─▶ Simulation::apply
//! ```
//!
//! Entry point: [`serve`]. Modules: [`request`] (paths and queries), [`http`] (reads and the
//! router), [`writes`] (writes mapped to the simulation, or stored), [`watch`] (chunked and
//! WebSocket watches), [`cluster`] (simulation ↔ objects), [`render`] (objects from the
//! simulation), [`objects`] (versions, history), [`table`], [`discovery`], [`select`],
//! [`status`], [`crds`], [`clock`], [`kubeconfig`].

pub mod clock;
pub mod cluster;
pub mod crds;
pub mod discovery;
pub mod http;
pub mod kubeconfig;
pub mod objects;
pub mod render;
pub mod request;
pub mod resources;
pub mod select;
pub mod status;
pub mod table;
pub mod watch;
pub mod writes;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sparkrig_model::scenario::Scenario;
use sparkrig_model::trace::{JsonlWriter, Record, Sink};
use sparkrig_run::backend::RunInfo;
use sparkrig_run::verdict::{Evaluator, Verdict};
use sparkrig_sim::Simulation;

use crate::clock::Clock;
use crate::cluster::Cluster;

/// How to serve.
#[derive(Debug, Clone)]
pub struct Options {
    /// Virtual seconds per wall second.
    pub speed: f64,
    /// Address to listen on.
    pub address: IpAddr,
    /// Port (0: any free one).
    pub port: u16,
    /// Where to write the kubeconfig (default `./sparkrig-<name>.kubeconfig`).
    pub kubeconfig: Option<PathBuf>,
    /// Serve the topology and stack only; clients drive the workload.
    pub stack_only: bool,
    /// Trace file (JSON lines, written as it goes).
    pub trace: Option<PathBuf>,
    /// HTTPS with a generated self-signed certificate.
    pub tls: bool,
}

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The simulation refused the scenario.
    #[error(transparent)]
    Sim(#[from] sparkrig_sim::SimError),
    /// Listening, TLS or the kubeconfig failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The kubeconfig exists and cannot be merged.
    #[error("{0}")]
    Kubeconfig(String),
}

/// Where the server listens, once it is ready.
#[derive(Debug, Clone)]
pub struct Ready {
    /// `http://127.0.0.1:<port>` or `https://…`.
    pub url: String,
    /// The kubeconfig written.
    pub kubeconfig: PathBuf,
    /// Context and cluster name: `sparkrig-<scenario name>`.
    pub context: String,
}

/// How a served run ended.
pub struct Served {
    /// The verdict over the trace.
    pub verdict: Verdict,
    /// When and why it ended.
    pub info: RunInfo,
}

/// The shared state of the server.
pub struct Server {
    /// The served cluster.
    pub cluster: Mutex<Cluster>,
    /// The Kubernetes minor the scenario starts at.
    pub minor: u32,
    /// The server's URL (discovery's `serverAddressByClientCIDRs`).
    pub url: String,
    /// The SparkApplication CRD schema, compiled once for every write's validation.
    _schema: sparkrig_model::crd::SchemaHold,
}

impl Server {
    /// The cluster, locked (a poisoned lock is a bug elsewhere; the state is still usable).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Cluster> {
        self.cluster.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A sink shared with the server thread, read back at the end.
struct Shared<S>(Arc<Mutex<S>>);

impl<S: Sink> Sink for Shared<S> {
    fn record(&mut self, rec: &Record) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).record(rec);
    }
}

/// How often the clock task moves the simulation (a watch sees a change within this; 0.3 s
/// of virtual time at 60x). An idle tick costs a queue peek.
const TICK: Duration = Duration::from_millis(5);

/// Serves `plan` until `stop` resolves or, without `stack_only`, its timeline ends. `ready` is
/// called once the kubeconfig is written.
pub async fn serve(plan: &Scenario, opts: Options, stop: impl Future<Output = ()>, ready: impl FnOnce(&Ready)) -> Result<Served, Error> {
    let sim = if opts.stack_only { Simulation::open_ended(plan)? } else { Simulation::new(plan)? };
    let evaluator = Arc::new(Mutex::new(if opts.stack_only { Evaluator::open(plan) } else { Evaluator::new(plan) }));
    let mut sinks: Vec<Box<dyn Sink + Send>> = vec![Box::new(Shared(evaluator.clone()))];
    if let Some(path) = &opts.trace {
        let file =
            std::fs::File::create(path).map_err(|e| Error::Io { what: format!("cannot write trace {}", path.display()), source: e })?;
        sinks.push(Box::new(JsonlWriter::new(std::io::LineWriter::new(file))));
    }
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(opts.address, opts.port))
        .await
        .map_err(|e| Error::Io { what: format!("cannot listen on {}:{}", opts.address, opts.port), source: e })?;
    let local = listener.local_addr().map_err(|e| Error::Io { what: "listener address".into(), source: e })?;
    let host = if local.ip().is_unspecified() { "127.0.0.1".to_string() } else { local.ip().to_string() };
    let scheme = if opts.tls { "https" } else { "http" };
    let url = format!("{scheme}://{host}:{}", local.port());
    let clock = Clock::start(opts.speed);
    let server = Arc::new(Server {
        cluster: Mutex::new(Cluster::new(sim, clock, sinks)),
        minor: plan.stack.kubernetes_minor,
        url: url.clone(),
        _schema: sparkrig_model::crd::hold_schema(),
    });
    let router = http::router(server.clone());
    let cert = if opts.tls {
        Some(kubeconfig::self_signed(&host).map_err(|e| Error::Io { what: "TLS certificate".into(), source: e })?)
    } else {
        None
    };
    let accept = tokio::spawn(http::accept(listener, router, cert.clone()));
    let context = format!("sparkrig-{}", plan.name);
    let path = opts.kubeconfig.clone().unwrap_or_else(|| PathBuf::from(format!("{context}.kubeconfig")));
    let written = kubeconfig::write(&path, &context, &url, cert.as_ref().map(|c| c.cert_pem.as_str()))?;
    ready(&Ready { url, kubeconfig: path.clone(), context: context.clone() });
    // The clock: move the simulation to the virtual now, until the run ends or we are told.
    let ticking = {
        let server = server.clone();
        async move {
            loop {
                tokio::time::sleep(TICK).await;
                let mut c = server.lock();
                let now = c.clock.now();
                c.advance(now);
                if c.ended {
                    return;
                }
            }
        }
    };
    tokio::select! {
        _ = stop => {}
        _ = ticking => {}
    }
    server.lock().stop();
    accept.abort();
    written.undo(&path);
    let c = server.lock();
    let info = RunInfo { end: c.sim.now(), reason: c.reason.clone(), stats: vec![("objects_version", c.objects.rv())] };
    drop(c);
    let verdict = std::mem::replace(&mut *evaluator.lock().unwrap_or_else(|p| p.into_inner()), Evaluator::new(plan)).finish();
    Ok(Served { verdict, info })
}

/// Re-runs a served session from its trace: the same scenario and seed, with every write the
/// trace records (`api_write`) applied at its virtual instant, and the run stopped where the
/// trace stops. The simulation being deterministic, the replayed trace is the served one, byte
/// for byte — an interactive session can be rerun, or bisected, offline.
pub fn replay(plan: &Scenario, stack_only: bool, trace: &[Record]) -> Result<Vec<Record>, sparkrig_sim::SimError> {
    use sparkrig_model::trace::Event;
    let mut sim = if stack_only { Simulation::open_ended(plan)? } else { Simulation::new(plan)? };
    let mut out: Vec<Record> = Vec::new();
    let mut sink = |r: &Record| out.push(r.clone());
    let mut ended = None;
    for rec in trace {
        match &rec.event {
            Event::ApiWrite { action, by } => {
                sim.run_until(rec.t, &mut sink);
                let _ = sim.apply(action.clone(), by, &mut sink);
            }
            Event::RunEnded { reason } => ended = Some((rec.t, reason.clone())),
            _ => {}
        }
    }
    if let Some((t, reason)) = ended {
        sim.run_until(t, &mut sink);
        if reason == "interrupted" {
            sim.interrupt("interrupted (Ctrl-C or SIGTERM)", "interrupted", &mut sink);
        }
    }
    sim.finish(&mut sink);
    Ok(out)
}
