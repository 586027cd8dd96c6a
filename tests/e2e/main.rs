//! End-to-end tests of the `ferrotel` binary: one test binary with modules, to keep link
//! time low. Every server binds loopback only; every wait is bounded.

mod bench_scenarios;
mod cli;
mod compat;
mod compat_auth;
mod compat_host;
mod compat_ottl;
mod compat_own_traces;
mod compat_prometheus;
mod compat_protocols;
mod conformance;
mod connectors;
mod dashboard;
mod delivery;
mod harness;
mod hostile;
mod hostmetrics;
mod httpcheck;
mod image;
mod k8sattributes;
mod lifecycle;
mod listen;
mod loki;
mod operator_pages;
mod otlp;
mod ottl_processors;
mod processors;
mod prometheus;
mod prometheus_receiver;
mod protocols;
mod python_sdk;
mod sink;
