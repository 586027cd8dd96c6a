//! `batch` processor: groups spans, data points or log records into larger batches by size and
//! time, like the Go collector's `processor/batchprocessor`, with one deliberate difference: a
//! caller's `consume` resolves only once its items were handed to the next consumer, with that
//! consumer's result, so backpressure and errors reach the client (Go acknowledges at once
//! and only logs "Sender failed").

mod batcher;
mod config;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};

use pipeline_api::config::{ConfigError, ConfigValue};
use pipeline_api::telemetry::MetricsLevel;
use pipeline_api::{
    async_trait, config_as, parse_component_config, Batch, BuildContext, BuildError,
    ComponentConfig, ComponentId, ConsumeError, Consumer, Factory, Processor, ProcessorFactory,
    SharedConsumer, Signal,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use batcher::TOO_MANY_BATCHERS;
use batcher::{Batcher, Metrics, Request, Settings};
pub use config::Config;

pub const TYPE_NAME: &str = "batch";

/// Bucket boundaries of `otelcol_processor_batch_batch_send_size` (Go `metadata.yaml`).
pub const SEND_SIZE_BUCKETS: [f64; 22] = [
    10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0,
    6000.0, 7000.0, 8000.0, 9000.0, 10000.0, 20000.0, 30000.0, 50000.0, 100000.0,
];

/// Bucket boundaries of `otelcol_processor_batch_batch_send_size_bytes` (Go `metadata.yaml`).
pub const SEND_SIZE_BYTES_BUCKETS: [f64; 18] = [
    128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0, 65536.0, 131072.0,
    262144.0, 524288.0, 1048576.0, 2097152.0, 4194304.0, 8388608.0, 16777216.0,
];

/// Message of the error `consume` returns when the processor is not running.
pub const NOT_RUNNING: &str = "batch processor is not running";

pub struct BatchFactory;

impl Factory for BatchFactory {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn parse_config(
        &self,
        value: &ConfigValue,
    ) -> Result<Box<dyn ComponentConfig>, Vec<ConfigError>> {
        parse_component_config::<Config>(value)
    }
}

impl ProcessorFactory for BatchFactory {
    fn build(
        &self,
        ctx: BuildContext,
        cfg: &dyn ComponentConfig,
        signal: Signal,
        next: SharedConsumer,
    ) -> Result<Arc<dyn Processor>, BuildError> {
        let cfg = config_as::<Config>(cfg)?;
        Ok(Arc::new(BatchProcessor::new(
            ctx,
            cfg.clone(),
            signal,
            next,
        )))
    }
}

enum Lifecycle {
    Built,
    Running {
        tx: mpsc::Sender<Request>,
        task: JoinHandle<()>,
    },
    Stopped,
}

/// One `batch` processor instance (one per pipeline).
pub struct BatchProcessor {
    id: ComponentId,
    signal: Signal,
    settings: Settings,
    next: SharedConsumer,
    metrics: Option<Arc<Metrics>>,
    state: Mutex<Lifecycle>,
}

impl BatchProcessor {
    pub fn new(
        ctx: BuildContext,
        cfg: Config,
        signal: Signal,
        next: SharedConsumer,
    ) -> BatchProcessor {
        let parallelism = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let settings = Settings {
            send_batch_size: cfg.send_batch_size as usize,
            send_batch_max_size: cfg.send_batch_max_size as usize,
            timeout: cfg.timeout.get(),
            metadata_keys: cfg.normalized_metadata_keys(),
            metadata_cardinality_limit: cfg.metadata_cardinality_limit as usize,
            max_in_flight: (parallelism * 2).clamp(4, 64) as u32,
        };
        let t = &ctx.telemetry;
        let metrics = (t.level() > MetricsLevel::None).then(|| {
            Arc::new(Metrics {
                send_size: t.histogram(
                    "otelcol_processor_batch_batch_send_size",
                    "Number of units in the batch",
                    SEND_SIZE_BUCKETS.to_vec(),
                    &[],
                ),
                send_size_bytes: (t.level() >= MetricsLevel::Detailed).then(|| {
                    t.histogram(
                        "otelcol_processor_batch_batch_send_size_bytes",
                        "Number of bytes in batch that was sent. Only available on detailed level.",
                        SEND_SIZE_BYTES_BUCKETS.to_vec(),
                        &[],
                    )
                }),
                timeout_trigger: t.counter(
                    "otelcol_processor_batch_timeout_trigger_send",
                    "Number of times the batch was sent due to a timeout trigger",
                    &[],
                ),
                size_trigger: t.counter(
                    "otelcol_processor_batch_batch_size_trigger_send",
                    "Number of times the batch was sent due to a size trigger",
                    &[],
                ),
                cardinality: t.gauge(
                    "otelcol_processor_batch_metadata_cardinality",
                    "Number of distinct metadata value combinations being processed",
                    &[],
                ),
            })
        });
        BatchProcessor {
            id: ctx.id,
            signal,
            settings,
            next,
            metrics,
            state: Mutex::new(Lifecycle::Built),
        }
    }

    pub fn id(&self) -> &ComponentId {
        &self.id
    }

    pub fn signal(&self) -> Signal {
        self.signal
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lifecycle> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Consumer for BatchProcessor {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        if batch.signal() != self.signal {
            // Merging would drop it (Batch::merge ignores another signal) and its caller would
            // wait forever.
            return Err(ConsumeError::permanent(format!(
                "batch processor of a {} pipeline got {}",
                self.signal,
                batch.signal()
            )));
        }
        let tx = match &*self.lock() {
            Lifecycle::Running { tx, .. } => Some(tx.clone()),
            Lifecycle::Built => return Err(ConsumeError::retryable(NOT_RUNNING)),
            // After shutdown the runtime is draining requests still in flight: hand them
            // straight on instead of holding or refusing them (the Processor contract).
            Lifecycle::Stopped => None,
        };
        let Some(tx) = tx else {
            return self.next.consume(batch).await;
        };
        let (done, wait) = oneshot::channel();
        // Bounded: waits while the batching task is behind.
        if tx.send(Request { batch, done }).await.is_err() {
            return Err(ConsumeError::retryable(NOT_RUNNING));
        }
        drop(tx); // shutdown waits for every sender to go away
        match wait.await {
            Ok(outcome) => outcome,
            Err(_) => Err(ConsumeError::retryable(
                "batch processor stopped before the data was sent",
            )),
        }
    }
}

#[async_trait]
impl Processor for BatchProcessor {
    async fn start(&self) -> Result<(), BuildError> {
        let mut state = self.lock();
        if matches!(*state, Lifecycle::Running { .. }) {
            return Ok(());
        }
        let (tx, rx) = mpsc::channel(self.settings.max_in_flight as usize);
        let batcher = Batcher::new(
            self.settings.clone(),
            self.next.clone(),
            self.metrics.clone(),
        );
        let task = tokio::spawn(batcher.run(rx));
        *state = Lifecycle::Running { tx, task };
        Ok(())
    }

    /// Flush everything pending and wait for the sends in flight; later `consume` calls
    /// are handed straight on.
    async fn shutdown(&self) {
        let previous = std::mem::replace(&mut *self.lock(), Lifecycle::Stopped);
        if let Lifecycle::Running { tx, task } = previous {
            drop(tx);
            if let Err(e) = task.await {
                tracing::error!(processor = %self.id, error = %e, "batch processor task failed");
            }
        }
    }
}
