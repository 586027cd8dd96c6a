//! The `nop` receiver, as the Go collector's `receiver/nopreceiver`: it takes no keys,
//! supports every signal, produces nothing and runs until shutdown. Useful to complete a
//! pipeline whose cost is measured elsewhere, and in benchmarks.

#[cfg(test)]
mod tests;

use std::sync::Arc;

use pipeline_api::config::Validate;
use pipeline_api::{
    async_trait, BuildError, CancellationToken, ComponentConfig, ComponentId, Receiver,
    ReceiverFactory,
};
use pipeline_api::{declare, Meta, Stability};
use serde::Deserialize;

pub const TYPE_NAME: &str = "nop";

/// The `nop` receiver's config: no keys (Go `struct{}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NopReceiverConfig {}

impl Validate for NopReceiverConfig {}

impl ComponentConfig for NopReceiverConfig {}

/// The factory of the `nop` receiver.
pub const META: Meta = Meta::new(TYPE_NAME)
    .traces(Stability::Beta)
    .metrics(Stability::Beta)
    .logs(Stability::Beta);

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<NopReceiverConfig>(META, |ctx, _cfg, _next| {
        Ok(Box::new(NopReceiver { id: ctx.id }))
    })
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
