//! `resource` processor: applies the attraction actions to the resource attributes of
//! every resource of every signal — Go's `processor/resourceprocessor` (no include /
//! exclude; a missing resource is treated as an empty one, as pdata always has one).

mod config;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::{
    async_trait, Batch, BatchData, BuildError, ConsumeError, Consumer, Processor, ProcessorFactory,
    RequestContext, SharedConsumer, Signal,
};
use pipeline_api::{declare, Meta, Stability};

pub use config::{Config, ERR_MISSING_ATTRIBUTES};

use crate::attraction::AttrProc;

pub const TYPE_NAME: &str = "resource";

pub const META: Meta = Meta::new(TYPE_NAME)
    .traces(Stability::Beta)
    .metrics(Stability::Beta)
    .logs(Stability::Beta);

pub fn factory() -> Arc<dyn ProcessorFactory> {
    declare::processor::<Config>(META, |_ctx, cfg, signal, next| {
        Ok(Arc::new(ResourceProcessor::new(cfg, signal, next)?))
    })
}

/// One `resource` instance (one per pipeline).
pub struct ResourceProcessor {
    signal: Signal,
    attr_proc: AttrProc,
    next: SharedConsumer,
}

impl ResourceProcessor {
    pub fn new(
        cfg: &Config,
        signal: Signal,
        next: SharedConsumer,
    ) -> Result<ResourceProcessor, BuildError> {
        let attr_proc = AttrProc::new(&cfg.attributes).map_err(|errs| {
            BuildError::new(
                errs.into_iter()
                    .map(|e| e.prefixed(&["attributes"]).to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        Ok(ResourceProcessor {
            signal,
            attr_proc,
            next,
        })
    }

    pub fn process(&self, ctx: &RequestContext, data: &mut BatchData) {
        let apply = |r: &mut Option<Resource>| {
            let res = r.get_or_insert_with(Resource::default);
            self.attr_proc.process(ctx, &mut res.attributes);
        };
        match data {
            BatchData::Traces(req) => req
                .resource_spans
                .iter_mut()
                .for_each(|rs| apply(&mut rs.resource)),
            BatchData::Metrics(req) => req
                .resource_metrics
                .iter_mut()
                .for_each(|rm| apply(&mut rm.resource)),
            BatchData::Logs(req) => req
                .resource_logs
                .iter_mut()
                .for_each(|rl| apply(&mut rl.resource)),
        }
    }
}

#[async_trait]
impl Consumer for ResourceProcessor {
    async fn consume(&self, mut batch: Batch) -> Result<(), ConsumeError> {
        if batch.signal() != self.signal {
            return Err(ConsumeError::permanent(format!(
                "resource processor of a {} pipeline got {}",
                self.signal,
                batch.signal()
            )));
        }
        if !batch.is_empty() {
            let ctx = if self.attr_proc.uses_context() {
                batch.context().clone()
            } else {
                RequestContext::default()
            };
            // only the resources change: a batch still in its wire form stays in it
            batch.edit_resources(|r| self.attr_proc.process(&ctx, &mut r.attributes));
        }
        self.next.consume(batch).await
    }
}

#[async_trait]
impl Processor for ResourceProcessor {}
