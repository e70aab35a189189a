//! sparkrig's embedded simulator: a deterministic discrete-event model of a Spark-on-Kubernetes
//! platform in virtual time. Same seed, same trace, byte for byte.
//!
//! Entry point: [`Simulation`]. The scheduler ([`scheduler::Scheduler`]) is usable on its own
//! (benchmarks, golden tests). Every default constant lives in [`timings::Timings`] or next to
//! the model it belongs to, with its upstream source.

pub mod bucket;
pub mod cluster;
pub mod intern;
pub mod scheduler;
mod sim;
pub mod timings;

pub use sim::{RunSummary, SimError, Simulation};
