//! sparkrig's embedded simulator: a deterministic discrete-event model of a Spark-on-Kubernetes
//! platform in virtual time. Same seed, same trace, byte for byte.

pub mod cluster;
pub mod intern;
pub mod scheduler;
