//! The `nop` exporter, as the Go collector's `exporter/nopexporter`: it takes no keys,
//! supports every signal and accepts every batch without doing anything with it. A pipeline
//! ending in `nop` measures the cost of receiving and processing alone.

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use pipeline_api::config::{ConfigError, ConfigValue, Validate};
use pipeline_api::{
    async_trait, config_as, parse_component_config, Batch, BuildContext, BuildError,
    ComponentConfig, ConsumeError, Exporter, ExporterFactory, Factory,
};
use serde::Deserialize;

pub const TYPE_NAME: &str = "nop";

/// The `nop` exporter's config: no keys (Go `struct{}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NopExporterConfig {}

impl Validate for NopExporterConfig {}

impl ComponentConfig for NopExporterConfig {}

/// The factory of the `nop` exporter.
#[derive(Debug, Default, Clone, Copy)]
pub struct NopExporterFactory;

impl Factory for NopExporterFactory {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn parse_config(
        &self,
        value: &ConfigValue,
    ) -> Result<Box<dyn ComponentConfig>, Vec<ConfigError>> {
        parse_component_config::<NopExporterConfig>(value)
    }
}

impl ExporterFactory for NopExporterFactory {
    fn build(
        &self,
        _ctx: BuildContext,
        cfg: &dyn ComponentConfig,
    ) -> Result<Arc<dyn Exporter>, BuildError> {
        config_as::<NopExporterConfig>(cfg)?;
        Ok(Arc::new(NopExporter))
    }

    /// Go's nop exporter is built without `exporterhelper` options: no timeout.
    fn default_timeout(&self) -> Duration {
        Duration::ZERO
    }

    /// ... and neither a sending queue nor retries.
    fn queue_and_retry_by_default(&self) -> bool {
        false
    }
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
