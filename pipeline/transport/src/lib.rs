//! Transport settings shared by every component, as the Go collector's `config/confignet`,
//! `confighttp`, `configgrpc` and `configtls` are. So far: the one way a listen address is
//! checked and bound (every server of Ferrotel binds through it), and server TLS (the
//! `tls` keys of a server, their checks, and the acceptor with certificate reloading).
#![forbid(unsafe_code)]

pub mod net;
pub mod tls;
