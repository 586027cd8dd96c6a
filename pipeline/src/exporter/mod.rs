//! The machinery every exporter gets from the runtime: the sending queue (in memory or
//! persistent), retry with backoff, the per-attempt timeout, and the standard metrics.
//! An exporter itself only makes one attempt (`Exporter::export`).
//!
//! Order, as in Go's exporterhelper: queue → metrics (once per request) → retry → timeout →
//! attempt.

mod persistent;
mod queue;
mod retry;

use std::sync::Arc;

use pipeline_api::storage::StorageClient;
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{async_trait, Batch, ComponentId, ConsumeError, Consumer, Exporter, Signal};
use prometheus::{IntCounter, IntGauge};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::{ExporterCommon, QueueSizer};
pub use persistent::PersistentState;
use queue::{Item, MemoryQueue, Offer};
pub use retry::Backoff;

struct Metrics {
    sent: IntCounter,
    failed: IntCounter,
    enqueue_failed: IntCounter,
    queue_size: IntGauge,
    queue_capacity: IntGauge,
}

/// One exporter's entry for one signal: the consumer the graph hands data to.
pub struct ExporterRunner {
    id: ComponentId,
    signal: Signal,
    exporter: Arc<dyn Exporter>,
    common: ExporterCommon,
    queue: Option<Arc<MemoryQueue>>,
    storage: Option<Arc<dyn StorageClient>>,
    persistent: Mutex<Option<Arc<PersistentState>>>,
    stop_retrying: CancellationToken,
    workers: Mutex<Vec<JoinHandle<()>>>,
    metrics: Metrics,
}

impl ExporterRunner {
    pub fn new(
        id: ComponentId,
        signal: Signal,
        exporter: Arc<dyn Exporter>,
        common: ExporterCommon,
        storage: Option<Arc<dyn StorageClient>>,
        telemetry: &ComponentTelemetry,
    ) -> ExporterRunner {
        let item = signal.item_name();
        let data_type = [("data_type", signal.as_str())];
        let metrics = Metrics {
            sent: telemetry.counter(
                &format!("otelcol_exporter_sent_{item}"),
                "Number of items successfully sent to destination.",
                &[],
            ),
            failed: telemetry.counter(
                &format!("otelcol_exporter_send_failed_{item}"),
                "Number of items in failed attempts to send to destination.",
                &[],
            ),
            enqueue_failed: telemetry.counter(
                &format!("otelcol_exporter_enqueue_failed_{item}"),
                "Number of items failed to be added to the sending queue.",
                &[],
            ),
            queue_size: telemetry.gauge(
                "otelcol_exporter_queue_size",
                "Current size of the sending queue (requests or items, queued and being sent).",
                &data_type,
            ),
            queue_capacity: telemetry.gauge(
                "otelcol_exporter_queue_capacity",
                "Fixed capacity of the sending queue (requests or items).",
                &data_type,
            ),
        };
        let q = &common.sending_queue;
        let queue = q
            .enabled
            .then(|| Arc::new(MemoryQueue::new(q.queue_size, q.sizer == QueueSizer::Items)));
        if let Some(queue) = &queue {
            metrics.queue_capacity.set(queue.capacity() as i64);
        }
        ExporterRunner {
            id,
            signal,
            exporter,
            common,
            queue,
            storage,
            persistent: Mutex::new(None),
            stop_retrying: CancellationToken::new(),
            workers: Mutex::new(Vec::new()),
            metrics,
        }
    }

    /// Open the persistent queue (re-queueing what a previous run left) and start the
    /// queue's consumers.
    pub async fn start(self: &Arc<Self>) -> Result<(), String> {
        let Some(queue) = &self.queue else {
            return Ok(());
        };
        if let Some(client) = &self.storage {
            let (state, recovered) = PersistentState::open(client.clone(), self.signal).await?;
            if !recovered.batches.is_empty() {
                info!(
                    exporter = %self.id,
                    data_type = %self.signal,
                    requests = recovered.batches.len(),
                    resent_possibly_duplicated = recovered.redispatched,
                    "Persistent queue holds requests from a previous run; sending them"
                );
            }
            for (index, batch) in recovered.batches {
                let permit = match queue.reserve(&batch, false).await {
                    Ok(p) => p,
                    Err(_) => {
                        // the queue was made smaller since: let it overflow once rather than lose data
                        queue.grow(queue.cost(&batch));
                        match queue.reserve(&batch, false).await {
                            Ok(p) => p,
                            Err(_) => continue,
                        }
                    }
                };
                queue
                    .push(Item {
                        batch,
                        index: Some(index),
                        permit,
                    })
                    .await;
            }
            *self.persistent.lock().await = Some(Arc::new(state));
            self.metrics.queue_size.set(queue.size() as i64);
        }
        let mut workers = self.workers.lock().await;
        for _ in 0..self.common.sending_queue.num_consumers.max(1) {
            let me = self.clone();
            let queue = queue.clone();
            workers.push(tokio::spawn(async move { me.work(queue).await }));
        }
        Ok(())
    }

    async fn work(self: Arc<Self>, queue: Arc<MemoryQueue>) {
        let persistent = self.persistent.lock().await.clone();
        while let Some(item) = queue.pop().await {
            if let (Some(state), Some(idx)) = (&persistent, item.index) {
                state.dispatched(idx).await;
            }
            let items = item.batch.items();
            let result = self.send(item.batch).await;
            let keep = match &result {
                Ok(()) => false,
                Err(e) => {
                    let kept = persistent.is_some()
                        && e.is_retryable()
                        && self.stop_retrying.is_cancelled();
                    if kept {
                        warn!(exporter = %self.id, data_type = %self.signal, items, error = %e,
                            "Not sent before shutdown; kept in the persistent queue for the next start");
                    } else {
                        error!(exporter = %self.id, data_type = %self.signal, dropped_items = items, error = %e,
                            "Exporting failed. Dropping data.");
                    }
                    kept
                }
            };
            if let (Some(state), Some(idx)) = (&persistent, item.index) {
                if !keep {
                    state.finished(idx).await;
                }
            }
            drop(item.permit);
            self.metrics.queue_size.set(queue.size() as i64);
        }
    }

    /// Send with retries and the timeout; counts the outcome once.
    async fn send(&self, batch: Batch) -> Result<(), ConsumeError> {
        let items = batch.items() as u64;
        let result = self.send_with_retry(batch).await;
        match &result {
            Ok(()) => self.metrics.sent.inc_by(items),
            Err(_) => self.metrics.failed.inc_by(items),
        }
        result
    }

    async fn attempt(&self, batch: Batch) -> Result<(), ConsumeError> {
        let timeout = self.common.timeout.get();
        let attempt = self.exporter.export(batch);
        if timeout.is_zero() {
            return attempt.await;
        }
        match tokio::time::timeout(timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(ConsumeError::retryable(format!(
                "export timed out after {}",
                pipeline_api::config::format_go_duration(timeout)
            ))),
        }
    }

    async fn send_with_retry(&self, batch: Batch) -> Result<(), ConsumeError> {
        let retry = &self.common.retry_on_failure;
        let mut backoff: Option<Backoff> = None;
        loop {
            let err = match self.attempt(batch.clone()).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if !err.is_retryable() || !retry.enabled || self.stop_retrying.is_cancelled() {
                return Err(err);
            }
            let b = backoff.get_or_insert_with(|| Backoff::new(retry));
            let Some(wait) = b.next(err.retry_after()) else {
                return Err(ConsumeError::retryable(format!(
                    "no more retries left: {}",
                    err.message()
                )));
            };
            warn!(
                exporter = %self.id,
                data_type = %self.signal,
                error = %err,
                interval = %pipeline_api::config::format_go_duration(wait),
                "Exporting failed. Will retry the request after interval."
            );
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.stop_retrying.cancelled() => return Err(err),
            }
        }
    }

    /// Stop taking data, stop retrying, send what is queued once; by `deadline`, what a
    /// memory queue still holds is dropped (counted and logged), a persistent queue keeps it.
    /// Returns false if the deadline was missed.
    pub async fn shutdown(&self, deadline: Instant) -> bool {
        self.stop_retrying.cancel();
        let Some(queue) = &self.queue else {
            return true;
        };
        queue.close();
        let workers: Vec<JoinHandle<()>> = self.workers.lock().await.drain(..).collect();
        let mut on_time = true;
        for w in workers {
            let abort = w.abort_handle();
            if tokio::time::timeout_at(deadline, w).await.is_err() {
                abort.abort();
                on_time = false;
            }
        }
        let left = queue.drain_now().await;
        let persistent = self.persistent.lock().await.take();
        if !left.is_empty() {
            let items: usize = left.iter().map(|i| i.batch.items()).sum();
            if persistent.is_some() {
                info!(exporter = %self.id, data_type = %self.signal, items, "Persistent queue keeps unsent requests for the next start");
            } else {
                self.metrics.failed.inc_by(items as u64);
                error!(exporter = %self.id, data_type = %self.signal, dropped_items = items,
                    "Shutdown deadline passed with data still queued. Dropping data.");
            }
        }
        if let Some(state) = persistent {
            state.close().await;
        }
        self.metrics.queue_size.set(0);
        on_time
    }

    pub fn id(&self) -> &ComponentId {
        &self.id
    }
}

#[async_trait]
impl Consumer for ExporterRunner {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let Some(queue) = &self.queue else {
            return self.send(batch).await;
        };
        let q = &self.common.sending_queue;
        let items = batch.items() as u64;
        let permit = match queue
            .reserve(&batch, q.block_on_overflow || q.blocking)
            .await
        {
            Ok(p) => p,
            Err(offer) => {
                self.metrics.enqueue_failed.inc_by(items);
                let (err, why) = match offer {
                    Offer::TooLarge => (
                        ConsumeError::permanent(format!(
                            "request of {items} items is larger than the sending queue ({})",
                            queue.capacity()
                        )),
                        "larger than the whole queue",
                    ),
                    Offer::Closed => (
                        ConsumeError::retryable("exporter is shutting down"),
                        "shutting down",
                    ),
                    Offer::Full => (
                        ConsumeError::retryable("sending queue is full"),
                        "queue full",
                    ),
                };
                warn!(exporter = %self.id, data_type = %self.signal, items, reason = why,
                    "Request refused by the sending queue; the sender gets a retryable error");
                return Err(err);
            }
        };
        let persistent = self.persistent.lock().await.clone();
        let index = match &persistent {
            Some(state) => match state.put(&batch).await {
                Ok(i) => Some(i),
                Err(e) => {
                    self.metrics.enqueue_failed.inc_by(items);
                    error!(exporter = %self.id, error = %e, "Cannot write to the persistent queue; request refused");
                    return Err(ConsumeError::retryable(format!("persistent queue: {e}")));
                }
            },
            None => None,
        };
        queue
            .push(Item {
                batch,
                index,
                permit,
            })
            .await;
        self.metrics.queue_size.set(queue.size() as i64);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
