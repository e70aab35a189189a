//! sparkrig's embedded simulator: a deterministic discrete-event model of a Spark-on-Kubernetes
//! platform in virtual time. Same seed, same trace, byte for byte.
//!
//! ```text
//!  kernel ─ virtual time, events (time, seq), keyed cancellation, RNG, trace
//!  store  ─ nodes, pods, Deployments, SparkApplications, Lease: the cluster state
//!  api    ─ what a controller may touch (Cx) and the signals between controllers
//!  controllers/ ─ scheduling, kubelet, node_lifecycle, deployments, operator, driver,
//!                 autoscaler, faults: one struct and one event type each
//!  world  ─ Simulation: wires them, routes signals, runs the scenario timeline
//! ```
//!
//! Entry point: [`Simulation`] ([`Simulation::run`], or [`Simulation::step`] /
//! [`Simulation::run_until`] / [`Simulation::apply`] to drive it from outside). The scheduler
//! ([`scheduler::Scheduler`]) is usable on its own (benchmarks, golden tests). Every default
//! constant lives in [`timings::Timings`] or next to the model it belongs to, with its upstream
//! source.

pub mod admission;
pub mod api;
pub mod backend;
pub mod bucket;
pub mod cluster;
pub mod controllers;
pub mod intern;
pub mod kernel;
pub mod pdb;
pub mod scheduler;
pub mod store;
pub mod timings;
pub mod world;

#[cfg(test)]
mod testing;

pub use backend::SimBackend;
pub use world::{RunSummary, SimError, Simulation};
