//! Ferrotel's runtime: config loading and validation, the pipeline graph, lifecycle,
//! runtime-owned extensions and own telemetry.
#![forbid(unsafe_code)]

pub mod config;
pub mod exporter;
pub mod extensions;
pub mod feature_gates;
pub mod graph;
pub mod own_logs;
pub mod own_push;
pub mod own_telemetry;
pub mod own_traces;
pub mod registry;
pub mod server;
pub mod service;

pub use registry::Registry;

#[cfg(test)]
pub(crate) mod testing;
