//! Transport settings shared by every component, as the Go collector's `config/confignet`,
//! `confighttp`, `configgrpc` and `configtls` are. This first part holds the one way a
//! listen address is checked and bound; every server of Ferrotel (receivers, the
//! `prometheus` exporter, extensions, the own-metrics endpoint) binds through it.
#![forbid(unsafe_code)]

pub mod net;
