//! Ferrotel's receivers, one module per component.
#![forbid(unsafe_code)]

use std::sync::Arc;

use pipeline_api::ReceiverFactory;

pub mod docker_stats;
pub mod filelog;
pub mod grpc_unary;
pub mod hostmetrics;
pub mod http_server;
pub mod httpcheck;
pub mod jaeger;
pub mod kubeletstats;
pub mod limits;
pub mod loki;
pub mod netlog;
pub mod nginx;
pub mod nop;
pub mod otlp;
pub mod otlpjsonfile;
pub mod postgresql;
pub mod prometheus;
mod proto_write;
pub mod redis;
pub mod scraping;
pub mod syslog;
#[cfg(test)]
mod testing;
mod thrift_codec;
pub mod zipkin;

/// Every receiver factory of this crate, for the registry.
pub fn factories() -> Vec<Arc<dyn ReceiverFactory>> {
    vec![
        otlp::factory(),
        prometheus::factory(),
        filelog::factory(),
        hostmetrics::factory(),
        docker_stats::factory(),
        httpcheck::factory(),
        redis::factory(),
        nginx::factory(),
        postgresql::factory(),
        kubeletstats::factory(),
        nop::factory(),
        otlpjsonfile::factory(),
        zipkin::factory(),
        loki::factory(),
        netlog::tcp_factory(),
        netlog::udp_factory(),
        syslog::factory(),
        jaeger::factory(),
    ]
}
