//! What the network exporters share beyond `transport`: how a failed gRPC call becomes an
//! export error (`grpc.rs`), and the test servers (`testutil.rs`).

pub mod grpc;
#[cfg(test)]
pub(crate) mod testutil;

pub mod endpoint;
