//! `probabilistic_sampler` processor (traces and logs): keeps a share of spans or log
//! records, by trace id (or a record attribute) — Go's `processor/probabilisticsamplerprocessor`.
//!
//! Dropped items are counted in `otelcol_processor_probabilistic_sampler_count_traces_sampled`
//! / `..._count_logs_sampled` with `sampled="false"` and the `policy` that decided. When no
//! item of a batch is kept, nothing is handed on and the caller gets success (Go
//! `processorhelper.ErrSkipProcessingData`).
//!
//! A trace batch still in its wire form stays in it (`Batch::filter_items_wire`): the
//! decision reads a span's trace id and tracestate, decoded with its other fields, and its
//! `sampling.priority` attribute alone; a kept span whose tracestate the decision rewrote is
//! re-encoded, every other one copied as bytes. So does a logs batch: a record's decision
//! reads its trace id and the first entries of `sampling.threshold`, `sampling.randomness`,
//! `from_attribute` and `sampling_priority`, and the randomness or threshold it writes goes
//! into the record's attribute list in the wire form.

mod config;
mod sampler;
pub mod sampling;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use pipeline_api::telemetry::MetricsLevel;
use pipeline_api::wire_items::{Level, LogParts, SpanParts, WireMap};
use pipeline_api::{
    async_trait, Batch, BatchData, BuildContext, BuildError, ConsumeError, Consumer, IntCounter,
    Processor, ProcessorFactory, SharedConsumer, Signal,
};
use pipeline_api::{declare, Meta, Stability};

pub use config::{AttributeSource, Config, SamplerMode, DEFAULT_PRECISION};
pub use sampler::{compute_hash, randomness_from_bytes, DecisionError, Policy, Sampler};

pub const TYPE_NAME: &str = "probabilistic_sampler";

/// The span attribute that overrides the decision (Go `parseSpanSamplingPriority`).
const PRIORITY: &str = "sampling.priority";

pub const META: Meta = Meta::new(TYPE_NAME)
    .traces(Stability::Beta)
    .logs(Stability::Alpha);

pub fn factory() -> Arc<dyn ProcessorFactory> {
    declare::processor::<Config>(META, |ctx, cfg, signal, next| {
        Ok(Arc::new(ProbabilisticSamplerProcessor::new(
            &ctx, cfg, signal, next,
        )?))
    })
}

/// `[policy][sampled as usize]`.
type Counters = Vec<[IntCounter; 2]>;

/// One `probabilistic_sampler` instance (one per pipeline).
pub struct ProbabilisticSamplerProcessor {
    signal: Signal,
    sampler: Sampler,
    fail_closed: bool,
    sampling_priority: String,
    precision: usize,
    next: SharedConsumer,
    counters: Option<Counters>,
}

impl ProbabilisticSamplerProcessor {
    pub fn new(
        ctx: &BuildContext,
        cfg: &Config,
        signal: Signal,
        next: SharedConsumer,
    ) -> Result<ProbabilisticSamplerProcessor, BuildError> {
        let what = match signal {
            Signal::Traces => "traces",
            Signal::Logs => "logs",
            Signal::Metrics => {
                return Err(BuildError::new(
                    "probabilistic_sampler supports traces and logs, not metrics",
                ))
            }
        };
        let t = &ctx.telemetry;
        let counters = (t.level() > MetricsLevel::None).then(|| {
            Policy::ALL
                .iter()
                .map(|p| {
                    let label = p.label(&cfg.from_attribute);
                    [false, true].map(|sampled| {
                        t.counter(
                            &format!(
                                "otelcol_processor_probabilistic_sampler_count_{what}_sampled"
                            ),
                            &format!("Count of {what} that were sampled or not"),
                            &[
                                ("policy", label),
                                ("sampled", if sampled { "true" } else { "false" }),
                            ],
                        )
                    })
                })
                .collect()
        });
        Ok(ProbabilisticSamplerProcessor {
            signal,
            sampler: Sampler::new(cfg, signal == Signal::Logs),
            fail_closed: cfg.fail_closed,
            sampling_priority: cfg.sampling_priority.clone(),
            precision: cfg.sampling_precision.clamp(0, 14) as usize,
            next,
            counters,
        })
    }

    /// Log a decision's error and count the decision; whether the item is kept.
    fn settle(&self, o: &sampler::Outcome) -> bool {
        if let Some(e) = &o.error {
            self.log_error(e);
        }
        if let Some(c) = &self.counters {
            c[o.policy.index()][usize::from(o.sampled)].inc();
        }
        o.sampled
    }

    fn log_error(&self, e: &DecisionError) {
        let what = if self.signal == Signal::Logs {
            "logs sampler"
        } else {
            "traces sampler"
        };
        match e {
            DecisionError::Parse(_) => tracing::info!(error = %e, "{}", what),
            _ => tracing::debug!(error = %e, "{}", what),
        }
    }

    /// Remove the spans or log records not sampled from a batch still in its wire form,
    /// keeping it in that form; true when something is left. `None` when the batch is not
    /// one: nothing was changed, and the caller samples the decoded form with
    /// [`Self::sample`].
    pub fn sample_wire(&self, batch: &mut Batch) -> Option<bool> {
        if self.signal == Signal::Logs {
            return self.sample_logs_wire(batch);
        }
        let r = batch.filter_items_wire(Level::Item, true, &mut |parts: SpanParts<'_, '_>| {
            let Some(mut item) = parts.item else {
                return Ok(());
            };
            // the one attribute the decision reads, lent to the span for it
            let (o, changed) = item.with_entries([PRIORITY], |span| {
                let before = span.trace_state.clone();
                let o = self.sampler.sample_span(span, self.fail_closed);
                (o, span.trace_state != before)
            });
            *item.changed = changed;
            *parts.drop = !self.settle(&o);
            Ok(())
        })?;
        // the callback never fails
        r.ok()?;
        Some(!batch.is_empty())
    }

    /// [`Self::sample_wire`] over log records: the entries the decision reads are lent to
    /// the record, and what it writes (randomness, threshold) goes into the wire list.
    fn sample_logs_wire(&self, batch: &mut Batch) -> Option<bool> {
        let keys = self.sampler.log_keys(&self.sampling_priority);
        let r = batch.filter_items_wire(Level::Item, true, &mut |parts: LogParts<'_, '_>| {
            let Some(mut item) = parts.item else {
                return Ok(());
            };
            let (o, mut carrier) = item.with_entries(keys.iter().copied(), |log| {
                self.sampler.decide_log(
                    log,
                    self.fail_closed,
                    &self.sampling_priority,
                    self.precision,
                )
            });
            if carrier.is_some() {
                item.attrs.edit(&mut |m| {
                    if let Some(c) = carrier.take() {
                        c.apply(m)
                    }
                });
            }
            *parts.drop = !self.settle(&o);
            Ok(())
        })?;
        // the callback never fails
        r.ok()?;
        Some(!batch.is_empty())
    }

    /// Remove the items not sampled; true when something is left.
    pub fn sample(&self, data: &mut BatchData) -> bool {
        match data {
            BatchData::Traces(req) => {
                req.resource_spans.retain_mut(|rs| {
                    rs.scope_spans.retain_mut(|ss| {
                        ss.spans.retain_mut(|span| {
                            let o = self.sampler.sample_span(span, self.fail_closed);
                            self.settle(&o)
                        });
                        !ss.spans.is_empty()
                    });
                    !rs.scope_spans.is_empty()
                });
                !req.resource_spans.is_empty()
            }
            BatchData::Logs(req) => {
                req.resource_logs.retain_mut(|rl| {
                    rl.scope_logs.retain_mut(|sl| {
                        sl.log_records.retain_mut(|log| {
                            let o = self.sampler.sample_log(
                                log,
                                self.fail_closed,
                                &self.sampling_priority,
                                self.precision,
                            );
                            self.settle(&o)
                        });
                        !sl.log_records.is_empty()
                    });
                    !rl.scope_logs.is_empty()
                });
                !req.resource_logs.is_empty()
            }
            BatchData::Metrics(_) => true,
        }
    }
}

#[async_trait]
impl Consumer for ProbabilisticSamplerProcessor {
    async fn consume(&self, mut batch: Batch) -> Result<(), ConsumeError> {
        if batch.signal() != self.signal {
            return Err(ConsumeError::permanent(format!(
                "probabilistic_sampler of a {} pipeline got {}",
                self.signal,
                batch.signal()
            )));
        }
        let left = match self.sample_wire(&mut batch) {
            Some(left) => left,
            None => batch.edit(|data| self.sample(data)),
        };
        if !left {
            return Ok(());
        }
        self.next.consume(batch).await
    }
}

#[async_trait]
impl Processor for ProbabilisticSamplerProcessor {}
