//! `jaeger` exporter config: the removed Go `exporter/jaegerexporter/config.go` (`Config` =
//! timeout, `sending_queue`, `retry_on_failure` + `configgrpc.GRPCClientSettings`,
//! squashed) and `factory.go` (`createDefaultConfig`: only `WriteBufferSize: 512 * 1024`, so
//! no compression, no keepalive, no endpoint).

use pipeline_api::config::{ConfigError, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;

use transport::compression::Compression;
use transport::grpc::GrpcClientConfig;

/// Go's jaeger factory set no compression.
pub const DEFAULT_COMPRESSION: Compression = Compression::None;

/// `exporters: jaeger:`. Every key is a `configgrpc` client key (`endpoint`, `tls`,
/// `headers`, `compression`, `keepalive`, `balancer_name`, `authority`,
/// `read_buffer_size`, `write_buffer_size`, `wait_for_ready`, `auth`).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(transparent)]
pub struct Config {
    pub grpc: GrpcClientConfig,
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        // Go jaegerexporter Config.Validate's message for an empty endpoint.
        self.grpc.validate("must have a non-empty \"endpoint\"")
    }
}

impl ComponentConfig for Config {}
