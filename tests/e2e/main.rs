//! End-to-end tests of the `ferrotel` binary: one test binary with modules, to keep link
//! time low. Every server binds loopback only; every wait is bounded.

mod bench_scenarios;
mod cli;
mod conformance;
mod dashboard;
mod delivery;
mod harness;
mod image;
mod lifecycle;
mod listen;
mod loki;
mod operator_pages;
mod otlp;
mod processors;
mod prometheus;
mod python_sdk;
mod sink;
