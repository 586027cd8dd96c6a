//! `attributes` processor: applies the attraction actions to span attributes (traces),
//! log record attributes (logs) and data point attributes (metrics), for the items the
//! `include` / `exclude` properties select — Go's `processor/attributesprocessor`.
//!
//! Go facts: traces filter per span (`filterspan`), logs per record (`filterlog`), metrics
//! per metric (`filtermetric`: `metric_names` and `resources`) and then process every data
//! point of a selected metric (gauge, sum, histogram, exponential histogram, summary).
//!
//! A trace or logs batch still in its wire form stays in it: with no `include`/`exclude`
//! through `Batch::edit_item_attributes`, with them through the item walk, each item's
//! match test seeing the entries it reads lent to the item.

mod config;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use pipeline_api::metric::for_each_point_attributes;
use pipeline_api::proto::tonic::common::v1::KeyValue;
use pipeline_api::wire_items::{Level, LogParts, PointParts, SpanParts, WireMap};
use pipeline_api::{
    async_trait, Batch, BatchData, BuildError, ConsumeError, Consumer, Processor, ProcessorFactory,
    RequestContext, SharedConsumer, Signal,
};
use pipeline_api::{declare, Meta, Stability};

pub use config::{Config, ERR_MISSING_ACTIONS};

use crate::attraction::AttrProc;
use crate::filter::SkipExpr;

pub const TYPE_NAME: &str = "attributes";

pub const META: Meta = Meta::new(TYPE_NAME)
    .traces(Stability::Beta)
    .metrics(Stability::Beta)
    .logs(Stability::Beta);

pub fn factory() -> Arc<dyn ProcessorFactory> {
    declare::processor::<Config>(META, |_ctx, cfg, signal, next| {
        Ok(Arc::new(AttributesProcessor::new(cfg, signal, next)?))
    })
}

/// One `attributes` instance (one per pipeline).
pub struct AttributesProcessor {
    signal: Signal,
    attr_proc: AttrProc,
    skip: SkipExpr,
    next: SharedConsumer,
}

impl AttributesProcessor {
    pub fn new(
        cfg: &Config,
        signal: Signal,
        next: SharedConsumer,
    ) -> Result<AttributesProcessor, BuildError> {
        let attr_proc = AttrProc::new(&cfg.actions).map_err(|errs| {
            BuildError::new(
                errs.into_iter()
                    .map(|e| e.prefixed(&["actions"]).to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let skip = cfg.match_config().build(signal).map_err(BuildError::new)?;
        Ok(AttributesProcessor {
            signal,
            attr_proc,
            skip,
            next,
        })
    }

    /// Apply the actions to the selected spans, log records or data points of a batch still
    /// in its wire form, keeping it in that form: the entries the match properties read are
    /// lent to each span or log record for the test; a data point is selected by its
    /// metric's name and the resource. `None` when the batch is decoded or cannot be walked:
    /// nothing was changed.
    pub fn process_wire(&self, ctx: &RequestContext, batch: &mut Batch) -> Option<()> {
        let (ap, skip) = (&self.attr_proc, &self.skip);
        let r = match self.signal {
            Signal::Traces => {
                batch.edit_items_wire(Level::Item, &mut |parts: SpanParts<'_, '_>| {
                    if let Some(mut item) = parts.item {
                        let scope = parts.scope.and_then(|(s, _)| s.as_ref());
                        let res = res(parts.resource);
                        if !item.with_entries(skip.keys(), |s| skip.skip_span(res, scope, s)) {
                            item.attrs.edit(&mut |m| ap.process(ctx, m));
                        }
                    }
                    Ok(())
                })
            }
            Signal::Logs => batch.edit_items_wire(Level::Item, &mut |parts: LogParts<'_, '_>| {
                if let Some(mut item) = parts.item {
                    let scope = parts.scope.and_then(|(s, _)| s.as_ref());
                    let res = res(parts.resource);
                    if !item.with_entries(skip.keys(), |l| skip.skip_log(res, scope, l)) {
                        item.attrs.edit(&mut |m| ap.process(ctx, m));
                    }
                }
                Ok(())
            }),
            Signal::Metrics => {
                batch.edit_items_wire(Level::Item, &mut |parts: PointParts<'_, '_>| {
                    if let (Some(item), Some(metric)) = (parts.item, parts.metric) {
                        if !skip.skip_metric(res(parts.resource), &metric.name) {
                            item.attrs.edit(&mut |m| ap.process(ctx, m));
                        }
                    }
                    Ok(())
                })
            }
        };
        // the callbacks never fail
        r?.ok()
    }

    /// Apply the actions to the selected items of `data`.
    pub fn process(&self, ctx: &RequestContext, data: &mut BatchData) {
        let ap = &self.attr_proc;
        let skip = &self.skip;
        match data {
            BatchData::Traces(req) => {
                for rs in &mut req.resource_spans {
                    let resource: &[KeyValue] = rs
                        .resource
                        .as_ref()
                        .map(|r| &r.attributes[..])
                        .unwrap_or(&[]);
                    for ss in &mut rs.scope_spans {
                        for span in &mut ss.spans {
                            if !skip.is_noop() && skip.skip_span(resource, ss.scope.as_ref(), span)
                            {
                                continue;
                            }
                            ap.process(ctx, &mut span.attributes);
                        }
                    }
                }
            }
            BatchData::Logs(req) => {
                for rl in &mut req.resource_logs {
                    let resource: &[KeyValue] = rl
                        .resource
                        .as_ref()
                        .map(|r| &r.attributes[..])
                        .unwrap_or(&[]);
                    for sl in &mut rl.scope_logs {
                        for log in &mut sl.log_records {
                            if !skip.is_noop() && skip.skip_log(resource, sl.scope.as_ref(), log) {
                                continue;
                            }
                            ap.process(ctx, &mut log.attributes);
                        }
                    }
                }
            }
            BatchData::Metrics(req) => {
                for rm in &mut req.resource_metrics {
                    let resource: &[KeyValue] = rm
                        .resource
                        .as_ref()
                        .map(|r| &r.attributes[..])
                        .unwrap_or(&[]);
                    for sm in &mut rm.scope_metrics {
                        for m in &mut sm.metrics {
                            if !skip.is_noop() && skip.skip_metric(resource, &m.name) {
                                continue;
                            }
                            for_each_point_attributes(m, |attrs| ap.process(ctx, attrs));
                        }
                    }
                }
            }
        }
    }
}

/// A resource's attributes (none without a resource).
fn res(r: &Option<pipeline_api::proto::tonic::resource::v1::Resource>) -> &[KeyValue] {
    r.as_ref().map(|r| &r.attributes[..]).unwrap_or(&[])
}

#[async_trait]
impl Consumer for AttributesProcessor {
    async fn consume(&self, mut batch: Batch) -> Result<(), ConsumeError> {
        if batch.signal() != self.signal {
            return Err(ConsumeError::permanent(format!(
                "attributes processor of a {} pipeline got {}",
                self.signal,
                batch.signal()
            )));
        }
        if !self.attr_proc.is_empty() && !batch.is_empty() {
            // The context is only copied when an action reads it.
            let ctx = if self.attr_proc.uses_context() {
                batch.context().clone()
            } else {
                RequestContext::default()
            };
            if self.skip.is_noop() {
                // every item: in the wire form, only the attributes the actions touch are
                // decoded
                batch.edit_item_attributes(|attrs| self.attr_proc.process(&ctx, attrs));
            } else if self.process_wire(&ctx, &mut batch).is_none() {
                batch.edit(|data| self.process(&ctx, data));
            }
        }
        self.next.consume(batch).await
    }
}

#[async_trait]
impl Processor for AttributesProcessor {}
