//! sparkrig's vocabulary, shared by every backend and by the verdict: topology, the
//! SparkApplication model and pod derivation, the scenario language, the fault catalog and the
//! trace schema. No I/O: files are read by the caller and handed in as [`source::Source`]s.

pub mod action;
pub mod appstate;
pub mod clientpod;
pub mod crd;
pub mod faults;
pub mod kube;
pub mod podspec;
pub mod quantity;
pub mod scenario;
pub mod schedule;
pub mod scheduled;
pub mod source;
pub mod sparkapp;
pub mod tenancy;
pub mod time;
pub mod timeline;
pub mod topology;
pub mod trace;
pub mod upgrade;
