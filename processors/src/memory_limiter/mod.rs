//! `memory_limiter` processor: refuses data while the process uses more memory than its soft
//! limit, like the Go collector's `processor/memorylimiterprocessor` (logic in Go's
//! `internal/memorylimiter`). The refusal is retryable, so clients back off and retry.

mod config;
mod limiter;
pub mod memory;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use pipeline_api::config::format_go_duration;
use pipeline_api::telemetry::MetricsLevel;
use pipeline_api::{
    async_trait, Batch, BuildContext, BuildError, ComponentId, ConsumeError, Consumer, Processor,
    ProcessorFactory, SharedConsumer, Signal,
};
use pipeline_api::{declare, Meta, Stability};
use prometheus::IntCounter;

pub use config::*;
pub use limiter::{Limiter, Limits};
pub use memory::{MemoryReader, ProcessRss};

pub const TYPE_NAME: &str = "memory_limiter";

/// Go `ErrDataRefused`.
pub const ERR_DATA_REFUSED: &str = "data refused due to high memory usage";

/// Builds `memory_limiter` instances; the instances of one component id with one config (one
/// per pipeline) share a single limiter, as Go's factory shares one per config.
pub const META: Meta = Meta::new(TYPE_NAME)
    .traces(Stability::Beta)
    .metrics(Stability::Beta)
    .logs(Stability::Beta);

/// One limiter per `memory_limiter` id, shared by the instances of every pipeline that
/// lists it (Go shares one across pipelines), kept while one of them lives.
#[derive(Default)]
struct Limiters(Mutex<HashMap<ComponentId, (Config, Weak<Limiter>)>>);

impl Limiters {
    fn get(&self, id: &ComponentId, cfg: &Config) -> Result<Arc<Limiter>, BuildError> {
        let mut limiters = self.0.lock().unwrap_or_else(|p| p.into_inner());
        limiters.retain(|_, (_, weak)| weak.strong_count() > 0);
        if let Some(l) = match limiters.get(id) {
            Some((c, weak)) if c == cfg => weak.upgrade(),
            _ => None,
        } {
            return Ok(l);
        }
        let limiter = Arc::new(new_limiter(id, cfg, Arc::new(ProcessRss))?);
        limiters.insert(id.clone(), (cfg.clone(), Arc::downgrade(&limiter)));
        Ok(limiter)
    }
}

pub fn factory() -> Arc<dyn ProcessorFactory> {
    let limiters = Limiters::default();
    declare::processor::<Config>(META, move |ctx, cfg, signal, next| {
        let limiter = limiters.get(&ctx.id, cfg)?;
        Ok(Arc::new(MemoryLimiterProcessor::with_limiter(
            ctx, limiter, signal, next,
        )))
    })
}

/// A limiter for `cfg`, reading memory with `reader`.
pub fn new_limiter(
    id: &ComponentId,
    cfg: &Config,
    reader: Arc<dyn MemoryReader>,
) -> Result<Limiter, BuildError> {
    if !memory::SUPPORTED {
        tracing::warn!(
            processor = %id,
            "memory_limiter cannot measure memory on this operating system (only Linux); it will not limit."
        );
    }
    let limits = Limits::from_config(cfg, memory::total_memory).map_err(BuildError::new)?;
    tracing::info!(
        processor = %id,
        limit_mib = limits.limit / memory::MIB,
        spike_limit_mib = limits.spike / memory::MIB,
        check_interval = %format_go_duration(cfg.check_interval.get()),
        "Memory limiter configured"
    );
    Ok(Limiter::new(limits, cfg.check_interval.get(), reader))
}

/// One pipeline's `memory_limiter`.
pub struct MemoryLimiterProcessor {
    id: ComponentId,
    limiter: Arc<Limiter>,
    next: SharedConsumer,
    /// `otelcol_processor_memory_limiter_accepted_<items>` /
    /// `otelcol_processor_memory_limiter_refused_<items>`, as Go names them.
    accepted: Option<IntCounter>,
    refused: Option<IntCounter>,
    started: AtomicBool,
}

impl MemoryLimiterProcessor {
    /// An instance with a limiter of its own reading memory with `reader` (tests, tools).
    pub fn with_reader(
        ctx: BuildContext,
        cfg: &Config,
        reader: Arc<dyn MemoryReader>,
        signal: Signal,
        next: SharedConsumer,
    ) -> Result<MemoryLimiterProcessor, BuildError> {
        let limiter = Arc::new(new_limiter(&ctx.id, cfg, reader)?);
        Ok(MemoryLimiterProcessor::with_limiter(
            ctx, limiter, signal, next,
        ))
    }

    pub fn with_limiter(
        ctx: BuildContext,
        limiter: Arc<Limiter>,
        signal: Signal,
        next: SharedConsumer,
    ) -> MemoryLimiterProcessor {
        let t = &ctx.telemetry;
        let (accepted, refused) = if t.level() > MetricsLevel::None {
            let what = match signal {
                Signal::Traces => "spans",
                Signal::Metrics => "metric points",
                Signal::Logs => "log records",
            };
            (
                Some(t.counter(
                    &format!("otelcol_processor_memory_limiter_accepted_{}", signal.item_name()),
                    &format!("Number of {what} successfully pushed into the next component in the pipeline."),
                    &[],
                )),
                Some(t.counter(
                    &format!("otelcol_processor_memory_limiter_refused_{}", signal.item_name()),
                    &format!("Number of {what} that were rejected by the next component in the pipeline."),
                    &[],
                )),
            )
        } else {
            (None, None)
        };
        MemoryLimiterProcessor {
            id: ctx.id,
            limiter,
            next,
            accepted,
            refused,
            started: AtomicBool::new(false),
        }
    }

    pub fn id(&self) -> &ComponentId {
        &self.id
    }

    pub fn limiter(&self) -> &Arc<Limiter> {
        &self.limiter
    }

    /// Measure now instead of waiting for the next tick.
    pub fn check_now(&self) {
        self.limiter.check();
    }
}

#[async_trait]
impl Consumer for MemoryLimiterProcessor {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let items = batch.items() as u64;
        if self.limiter.must_refuse() {
            if let Some(c) = &self.refused {
                c.inc_by(items);
            }
            return Err(ConsumeError::retryable(ERR_DATA_REFUSED));
        }
        // As Go: counted as accepted even if the next consumer then fails.
        if let Some(c) = &self.accepted {
            c.inc_by(items);
        }
        self.next.consume(batch).await
    }
}

#[async_trait]
impl Processor for MemoryLimiterProcessor {
    async fn start(&self) -> Result<(), BuildError> {
        if !self.started.swap(true, Ordering::SeqCst) {
            self.limiter.start();
        }
        Ok(())
    }

    async fn shutdown(&self) {
        if self.started.swap(false, Ordering::SeqCst) {
            self.limiter.stop().await;
        }
    }
}
