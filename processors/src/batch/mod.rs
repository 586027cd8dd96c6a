//! `batch` processor: groups spans, data points or log records into larger batches by size and
//! time, like the Go collector's `processor/batchprocessor`, with Go's acknowledgement: a
//! caller's `consume` returns as soon as its items are accepted into the processor's buffer.
//!
//! The buffer is bounded, in items (a few times the largest batch the processor sends) and
//! in bytes (the process-wide memory budget); a caller waits up to [`ACCEPT_WAIT`] for room and
//! is then refused with a retryable error (UNAVAILABLE / 503 at the client). The buffer's
//! memory reservations go on with each sent batch to the sending queue that keeps it, which
//! holds them instead of charging the same bytes again. A send the next consumer refuses for
//! lack of room is tried again for as long as the processor runs, keeping its room, so the
//! pressure reaches the clients. Nothing is dropped silently: a send that fails for good, or is
//! still refused at shutdown, is counted (`otelcol_processor_batch_send_failed_items`) and
//! logged with its item count and reason. Whoever needs end-to-end acknowledgement sets `sending_queue.wait_for_result: true`
//! on the exporter and leaves `batch` out, or batches in the exporter (`sending_queue.batch`).

mod batcher;
mod config;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};

use pipeline_api::telemetry::MetricsLevel;
use pipeline_api::{
    async_trait, Batch, BuildContext, BuildError, ComponentId, ConsumeError, Consumer, Processor,
    ProcessorFactory, SharedConsumer, Signal,
};
use pipeline_api::{declare, Meta, Stability};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

pub use batcher::TOO_MANY_BATCHERS;
use batcher::{Batcher, Hold, Metrics, Request, Settings};
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

/// Message of the error `consume` returns when the buffer stayed full for [`ACCEPT_WAIT`].
pub const BUFFER_FULL: &str =
    "batch processor buffer is full (the next consumer is slow or refusing); try again later";

/// How long `consume` waits for room in a full buffer before refusing: long enough to ride
/// out a flush, short enough that a client's export deadline (10 s in the SDKs) is not hit.
pub const ACCEPT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The buffer holds this many times the largest batch the processor sends.
pub const CAPACITY_BATCHES: usize = 4;

pub const META: Meta = Meta::new(TYPE_NAME)
    .traces(Stability::Beta)
    .metrics(Stability::Beta)
    .logs(Stability::Beta);

pub fn factory() -> Arc<dyn ProcessorFactory> {
    declare::processor::<Config>(META, |ctx, cfg, signal, next| {
        Ok(Arc::new(BatchProcessor::new(
            ctx,
            cfg.clone(),
            signal,
            next,
        )))
    })
}

enum Lifecycle {
    Built,
    Running {
        tx: mpsc::UnboundedSender<Request>,
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
    /// Room in the buffer, in items.
    room: Arc<Semaphore>,
    memory: pipeline_api::MemoryBudget,
    /// Metadata-value combinations seen (only with `metadata_keys`), to refuse a new one past
    /// the cardinality limit before accepting its data.
    combinations: Mutex<std::collections::HashSet<Vec<Vec<String>>>>,
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
            capacity: capacity(&cfg),
            accept_wait: ACCEPT_WAIT,
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
                send_failed: t.counter(
                    "otelcol_processor_batch_send_failed_items",
                    "Number of accepted items the next consumer refused (dropped and logged)",
                    &[],
                ),
            })
        });
        let room = Arc::new(Semaphore::new(settings.capacity));
        BatchProcessor {
            id: ctx.id,
            signal,
            settings,
            next,
            metrics,
            state: Mutex::new(Lifecycle::Built),
            room,
            memory: ctx.memory,
            combinations: Mutex::new(Default::default()),
        }
    }

    /// Refuse a new metadata-value combination past the limit (Go: permanent error).
    fn check_cardinality(&self, batch: &Batch) -> Result<(), ConsumeError> {
        if self.settings.metadata_keys.is_empty() {
            return Ok(());
        }
        let key = Batcher::shard_key(&self.settings.metadata_keys, batch.context());
        let mut seen = self.combinations.lock().unwrap_or_else(|p| p.into_inner());
        if seen.contains(&key) {
            return Ok(());
        }
        let limit = self.settings.metadata_cardinality_limit;
        if limit != 0 && seen.len() >= limit {
            return Err(ConsumeError::permanent(TOO_MANY_BATCHERS));
        }
        seen.insert(key);
        Ok(())
    }

    /// Reserve room for `items` items and `bytes` bytes of memory, waiting up to the accept
    /// wait.
    async fn reserve(&self, items: usize, bytes: usize) -> Result<Hold, ConsumeError> {
        let started = tokio::time::Instant::now();
        let wait = self.settings.accept_wait;
        let cost = items.clamp(1, self.settings.capacity) as u32;
        let items_permit =
            match tokio::time::timeout(wait, self.room.clone().acquire_many_owned(cost)).await {
                Ok(Ok(p)) => p,
                Ok(Err(_)) => return Err(ConsumeError::retryable(NOT_RUNNING)),
                Err(_) => return Err(ConsumeError::backpressure(BUFFER_FULL)),
            };
        let left = wait.saturating_sub(started.elapsed());
        let Some(memory) = self.memory.reserve_buffered(bytes as u64, left).await else {
            return Err(ConsumeError::backpressure(format!(
                "memory budget of {} bytes is spent; try again later",
                self.memory.limit()
            )));
        };
        Ok(Hold {
            _items: items_permit,
            memory: Arc::new(memory),
        })
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
        // Not waiting on the batching task: `tx` is unbounded, the buffer's room is what
        // bounds it.
        if batch.is_empty() {
            // Go's `add` ignores a batch without items.
            return Ok(());
        }
        self.check_cardinality(&batch)?;
        // what the data takes in memory: a decoded batch (after `transform`, say) takes
        // several times its encoded length
        let hold = self.reserve(batch.items(), batch.memory_size()).await?;
        let request = Request {
            batch,
            hold: Arc::new(hold),
        };
        if tx.send(request).is_err() {
            return Err(ConsumeError::retryable(NOT_RUNNING));
        }
        Ok(())
    }
}

/// Items the buffer holds: [`CAPACITY_BATCHES`] times the largest send (`send_batch_max_size`,
/// else `send_batch_size`, else Go's default 8192).
pub fn capacity(cfg: &Config) -> usize {
    let largest = [cfg.send_batch_max_size, cfg.send_batch_size]
        .into_iter()
        .find(|&n| n > 0)
        .unwrap_or(config::DEFAULT_SEND_BATCH_SIZE) as usize;
    largest.saturating_mul(CAPACITY_BATCHES).max(1)
}

#[async_trait]
impl Processor for BatchProcessor {
    async fn start(&self) -> Result<(), BuildError> {
        let mut state = self.lock();
        if matches!(*state, Lifecycle::Running { .. }) {
            return Ok(());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let batcher = Batcher::new(
            self.id.to_string(),
            self.signal,
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
