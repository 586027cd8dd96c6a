//! Transport settings shared by every component, as the Go collector's `config/confignet`,
//! `confighttp`, `configgrpc`, `configtls` and `configcompression` are: the one way a listen
//! address is checked and bound (every server of Ferrotel binds through it), server and
//! client TLS, the HTTP client and the gRPC channel built from their keys, the compression
//! types, the headers and auth every client takes, the `google.rpc.Status` messages, and the
//! server and client spans of the collector's own traces.
#![forbid(unsafe_code)]

pub mod client;
pub mod compression;
pub mod grpc;
pub mod http;
pub mod kube;
pub mod limits;
pub mod net;
pub mod spans;
pub mod status;
pub mod tls;
