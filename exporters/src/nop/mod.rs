//! The `nop` exporter, as the Go collector's `exporter/nopexporter`: it takes no keys,
//! supports every signal and accepts every batch without doing anything with it. A pipeline
//! ending in `nop` measures the cost of receiving and processing alone.

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use pipeline_api::config::Validate;
use pipeline_api::{async_trait, Batch, ComponentConfig, ConsumeError, Exporter, ExporterFactory};
use pipeline_api::{declare, Meta, Stability};
use serde::Deserialize;

pub const TYPE_NAME: &str = "nop";

/// The `nop` exporter's config: no keys (Go `struct{}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NopExporterConfig {}

impl Validate for NopExporterConfig {}

impl ComponentConfig for NopExporterConfig {}

pub const META: Meta = Meta::new(TYPE_NAME)
    .traces(Stability::Beta)
    .metrics(Stability::Beta)
    .logs(Stability::Beta);

/// Go's nop exporter is built without `exporterhelper` options: no timeout, neither a
/// sending queue nor retries.
pub fn factory() -> Arc<dyn ExporterFactory> {
    declare::exporter::<NopExporterConfig>(META, |_ctx, _cfg| Ok(Arc::new(NopExporter)))
        .default_timeout(Duration::ZERO)
        .without_queue_and_retry()
        .into_factory()
}

/// An exporter that drops every batch it is given, successfully.
#[derive(Debug, Default, Clone, Copy)]
pub struct NopExporter;

#[async_trait]
impl Exporter for NopExporter {
    async fn export(&self, _batch: Batch) -> Result<(), ConsumeError> {
        Ok(())
    }
}
