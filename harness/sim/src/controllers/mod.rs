//! The controllers of the simulated cluster, one per module. Each owns its state and its
//! timers and sees the rest of the world only through its [`crate::api::Cx`]; the simulation
//! routes the [`crate::api::Signal`]s between them.

pub mod autoscaler;
pub mod deployments;
pub mod driver;
pub mod faults;
pub mod kubelet;
pub mod node_lifecycle;
pub mod operator;
pub mod quota;
pub mod scheduled;
pub mod scheduling;
pub mod shapes;
pub mod upgrade;
