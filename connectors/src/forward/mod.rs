//! `forward` connector: hands what one pipeline exports to the pipelines of the same signal
//! that list it as a receiver, unchanged — Go's `connector/forwardconnector` (no settings;
//! traces, metrics and logs, each to the same signal).

#[cfg(test)]
mod tests;

use std::sync::Arc;

use pipeline_api::config::Validate;
use pipeline_api::{
    async_trait, declare, Batch, BuildError, ComponentConfig, ConnectorFactory, ConsumeError,
    Consumer, Meta, Processor, SharedConsumer, Signal, Stability,
};
use serde::Deserialize;

pub const META: Meta = Meta::new("forward").pairs(&[
    (Signal::Traces, Signal::Traces, Stability::Beta),
    (Signal::Metrics, Signal::Metrics, Stability::Beta),
    (Signal::Logs, Signal::Logs, Stability::Beta),
]);

/// Go's forward connector has no settings: any key is unknown.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {}

impl Validate for Config {}
impl ComponentConfig for Config {}

pub fn factory() -> Arc<dyn ConnectorFactory> {
    declare::connector::<Config>(META, |_ctx, _cfg, from, to, next| {
        if from != to {
            return Err(BuildError::new(format!(
                "forward connects a signal to itself, not {from} to {to}"
            )));
        }
        Ok(Arc::new(Forward {
            signal: from,
            next: next.all,
        }))
    })
}

/// One forward instance: the batch itself (an `Arc` clone per target pipeline) goes on.
pub struct Forward {
    signal: Signal,
    next: SharedConsumer,
}

#[async_trait]
impl Consumer for Forward {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        if batch.signal() != self.signal {
            return Err(ConsumeError::permanent(format!(
                "forward connector for {} got {}",
                self.signal,
                batch.signal()
            )));
        }
        self.next.consume(batch).await
    }
}

impl Processor for Forward {}
