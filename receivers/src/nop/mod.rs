//! The `nop` receiver, as the Go collector's `receiver/nopreceiver`: it takes no keys,
//! supports every signal, produces nothing and runs until shutdown. Useful to complete a
//! pipeline whose cost is measured elsewhere, and in benchmarks.

#[cfg(test)]
mod tests;

use pipeline_api::config::{ConfigError, ConfigValue, Validate};
use pipeline_api::{
    async_trait, config_as, parse_component_config, BuildContext, BuildError, CancellationToken,
    ComponentConfig, ComponentId, Factory, Receiver, ReceiverFactory, SignalConsumers,
};
use serde::Deserialize;

pub const TYPE_NAME: &str = "nop";

/// The `nop` receiver's config: no keys (Go `struct{}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NopReceiverConfig {}

impl Validate for NopReceiverConfig {}

impl ComponentConfig for NopReceiverConfig {}

/// The factory of the `nop` receiver.
#[derive(Debug, Default, Clone, Copy)]
pub struct NopReceiverFactory;

impl Factory for NopReceiverFactory {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn parse_config(
        &self,
        value: &ConfigValue,
    ) -> Result<Box<dyn ComponentConfig>, Vec<ConfigError>> {
        parse_component_config::<NopReceiverConfig>(value)
    }
}

impl ReceiverFactory for NopReceiverFactory {
    fn build(
        &self,
        ctx: BuildContext,
        cfg: &dyn ComponentConfig,
        _next: SignalConsumers,
    ) -> Result<Box<dyn Receiver>, BuildError> {
        config_as::<NopReceiverConfig>(cfg)?;
        Ok(Box::new(NopReceiver { id: ctx.id }))
    }
}

/// A receiver that produces nothing.
#[derive(Debug)]
pub struct NopReceiver {
    id: ComponentId,
}

#[async_trait]
impl Receiver for NopReceiver {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        shutdown.cancelled().await;
        tracing::debug!(receiver = %self.id, "nop receiver stopped.");
        Ok(())
    }
}
