//! `otlp` exporter config: Go `exporter/otlpexporter/config.go` (`Config` = the runtime's
//! `timeout`/`sending_queue`/`retry_on_failure` + `configgrpc.ClientConfig`, squashed) and
//! `factory.go` (`createDefaultConfig`: gzip, `write_buffer_size` 512 KiB, no keepalive, no
//! balancer).

use pipeline_api::config::{ConfigError, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;

use transport::compression::Compression;
use transport::grpc::GrpcClientConfig;

/// Go `createDefaultConfig`: "Default to gzip compression".
pub const DEFAULT_COMPRESSION: Compression = Compression::Gzip;

/// `exporters: otlp:`. Every key is a `configgrpc.ClientConfig` key.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(transparent)]
pub struct Config {
    pub grpc: GrpcClientConfig,
}

impl Config {
    pub fn compression(&self) -> Compression {
        self.grpc.compression.unwrap_or(DEFAULT_COMPRESSION)
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        // Go otlpexporter Config.Validate's message for an empty endpoint.
        self.grpc.validate("requires a non-empty \"endpoint\"")
    }
}

impl ComponentConfig for Config {}
