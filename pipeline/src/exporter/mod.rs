//! The machinery every exporter gets from the runtime: the sending queue (in memory or
//! persistent, sized in requests, items or bytes, under the process memory budget), batching
//! in the queue (`sending_queue.batch`), retry with backoff, the per-attempt timeout, and the
//! standard metrics. An exporter itself only makes one attempt (`Exporter::export`).
//!
//! Order, as in Go's exporterhelper: queue → batch → metrics (once per request) → retry →
//! timeout → attempt. A request holds its room in the queue and in the memory budget until
//! the last send that carries its items is done; with `wait_for_result` its caller is
//! answered then, with the outcome.

mod persistent;
mod queue;
mod retry;

use std::sync::Arc;

use pipeline_api::own_spans::{self, in_span, SpanContext, Tracer};
use pipeline_api::pending::{Pending, Taken};
use pipeline_api::proto::tonic::trace::v1::span::SpanKind;
use pipeline_api::storage::StorageClient;
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{
    async_trait, Batch, ComponentId, ConsumeError, Consumer, Exporter, MemoryBudget, MemoryPermit,
    Signal,
};
use prometheus::{IntCounter, IntGauge};
use tokio::sync::{oneshot, Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::{ExporterCommon, QueueBatchConfig, QueueSizer};
pub use persistent::PersistentState;
use queue::{Item, MemoryQueue, Offer};
pub use retry::Backoff;

struct Metrics {
    sent: IntCounter,
    /// `otelcol_exporter_send_failed_*` without the failure labels.
    failed: IntCounter,
    /// The failure series by (`error_type`, `error_permanent`), made at the first failure.
    failed_by_type: std::sync::Mutex<std::collections::HashMap<(&'static str, bool), IntCounter>>,
    enqueue_failed: IntCounter,
    /// `otelcol_exporter_in_flight_requests`: sends under way, retries included (Go's
    /// exporterhelper counts from the start of a send to its end).
    in_flight: IntGauge,
    /// Registered only with a queue, as in Go (no queue, no queue metrics).
    queue_size: Option<IntGauge>,
}

/// A queued request on its way out. What it holds (room in the queue and in the memory
/// budget) is given back when the last send carrying its items is done; then its caller, if
/// waiting (`wait_for_result`), is told the outcome, and the persistent queue forgets it.
struct Origin {
    index: Option<u64>,
    _permit: OwnedSemaphorePermit,
    _memory: Arc<MemoryPermit>,
    done: Option<oneshot::Sender<Result<(), ConsumeError>>>,
    outcome: std::sync::Mutex<Outcome>,
    span: Option<SpanContext>,
}

#[derive(Default)]
struct Outcome {
    error: Option<ConsumeError>,
    /// Not sent before shutdown: kept in the persistent queue for the next start.
    keep: bool,
}

impl Origin {
    fn from_item(item: Item) -> (Batch, Origin) {
        let origin = Origin {
            index: item.index,
            _permit: item.permit,
            _memory: item.memory,
            done: item.done,
            outcome: std::sync::Mutex::new(Outcome::default()),
            span: item.span,
        };
        (item.batch, origin)
    }

    fn record(&self, result: &Result<(), ConsumeError>, keep: bool) {
        let mut o = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = result {
            if o.error.is_none() {
                o.error = Some(e.clone());
            }
        }
        o.keep |= keep;
    }
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
    memory: MemoryBudget,
    refusals: pipeline_api::telemetry::LogEvery,
    telemetry: ComponentTelemetry,
    /// The exporter's own labels (`server_address`, `server_port`, ...).
    endpoint_labels: Vec<(&'static str, String)>,
    /// Own spans: `exporter/enqueue` and `exporter/<id>/<signal>`, as Go's exporterhelper.
    tracer: Tracer,
    span_name: String,
}

/// Refusals are logged at most once per [`REFUSAL_LOG_EVERY`] per exporter and signal, with
/// how many were refused since (a full queue under load refuses many requests a second, and
/// senders retry; every one is counted in `otelcol_exporter_enqueue_failed_*`).
pub const REFUSAL_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

impl ExporterRunner {
    pub fn new(
        id: ComponentId,
        signal: Signal,
        exporter: Arc<dyn Exporter>,
        common: ExporterCommon,
        storage: Option<Arc<dyn StorageClient>>,
        telemetry: &ComponentTelemetry,
        memory: MemoryBudget,
    ) -> ExporterRunner {
        let item = signal.item_name();
        let data_type = [("data_type", signal.as_str())];
        let exporter_labels = exporter.metric_labels(signal);
        let endpoint: Vec<(&str, &str)> = exporter_labels
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let mut metrics = Metrics {
            // served at 0 from the start (a query sees 0 instead of no series); at level
            // `detailed` failures count on series with the failure labels instead
            failed: telemetry.counter(
                &format!("otelcol_exporter_send_failed_{item}"),
                "Number of items in failed attempts to send to destination.",
                &endpoint,
            ),
            sent: telemetry.counter(
                &format!("otelcol_exporter_sent_{item}"),
                "Number of items successfully sent to destination.",
                &endpoint,
            ),
            enqueue_failed: telemetry.counter(
                &format!("otelcol_exporter_enqueue_failed_{item}"),
                "Number of items failed to be added to the sending queue.",
                &[],
            ),
            in_flight: telemetry.gauge(
                "otelcol_exporter_in_flight_requests",
                "Number of export requests in flight, retries included.",
                &data_type,
            ),
            queue_size: None,
            failed_by_type: Default::default(),
        };
        let q = &common.sending_queue;
        let queue = q
            .enabled
            .then(|| Arc::new(MemoryQueue::new(q.queue_size, q.sizer)));
        if let Some(queue) = &queue {
            metrics.queue_size = Some(telemetry.gauge(
                "otelcol_exporter_queue_size",
                "Current size of the sending queue (requests, items or bytes, per sizer; queued and being sent).",
                &data_type,
            ));
            telemetry
                .gauge(
                    "otelcol_exporter_queue_capacity",
                    "Fixed capacity of the sending queue (requests, items or bytes, per sizer).",
                    &data_type,
                )
                .set(queue.capacity() as i64);
        }
        let span_name = format!("exporter/{id}/{signal}");
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
            memory,
            refusals: pipeline_api::telemetry::LogEvery::new(REFUSAL_LOG_EVERY),
            telemetry: telemetry.clone(),
            endpoint_labels: exporter_labels,
            tracer: telemetry
                .clone()
                .with_signal(signal)
                .tracer("go.opentelemetry.io/collector/exporter/exporterhelper"),
            span_name,
        }
    }

    /// Count items that failed to be sent: `otelcol_exporter_send_failed_*`, with Go's
    /// `error_type` and `error_permanent` labels at `service.telemetry.metrics.level:
    /// detailed` (Go's default views drop them below it; the series without them stays, at 0).
    fn count_failed(&self, items: u64, error_type: &'static str, permanent: bool) {
        if items == 0 {
            return;
        }
        if self.telemetry.level() < pipeline_api::telemetry::MetricsLevel::Detailed {
            self.metrics.failed.inc_by(items);
            return;
        }
        let key = (error_type, permanent);
        let counter = {
            let mut by_type = self
                .metrics
                .failed_by_type
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            by_type
                .entry(key)
                .or_insert_with(|| {
                    let mut labels: Vec<(&str, &str)> = self
                        .endpoint_labels
                        .iter()
                        .map(|(k, v)| (*k, v.as_str()))
                        .collect();
                    labels.push(("error_permanent", if permanent { "true" } else { "false" }));
                    labels.push(("error_type", error_type));
                    self.telemetry.counter(
                        &format!("otelcol_exporter_send_failed_{}", self.signal.item_name()),
                        "Number of items in failed attempts to send to destination.",
                        &labels,
                    )
                })
                .clone()
        };
        counter.inc_by(items);
    }

    fn set_queue_size(&self, queue: &MemoryQueue) {
        if let Some(g) = &self.metrics.queue_size {
            g.set(queue.size() as i64);
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
                let bytes = batch.encoded_len();
                let items = batch.items();
                let permit = match queue.reserve(items, bytes, false).await {
                    Ok(p) => p,
                    Err(_) => {
                        // the queue was made smaller since: let it overflow once rather than lose data
                        queue.grow(queue.cost(items, bytes));
                        match queue.reserve(items, bytes, false).await {
                            Ok(p) => p,
                            Err(_) => {
                                // only a queue already shut down refuses after growing
                                self.metrics.enqueue_failed.inc_by(items as u64);
                                error!(
                                    exporter = %self.id,
                                    data_type = %self.signal,
                                    items,
                                    "A request recovered from the persistent queue could not be queued (the queue is shut down); its items are counted as failed to enqueue"
                                );
                                continue;
                            }
                        }
                    }
                };
                // recovered data is never refused: it is on disk already
                let memory = Arc::new(
                    self.memory
                        .try_reserve(batch.memory_size() as u64)
                        .unwrap_or_else(MemoryPermit::none),
                );
                queue
                    .push(Item {
                        batch,
                        index: Some(index),
                        permit,
                        memory,
                        done: None,
                        span: None,
                    })
                    .await;
            }
            *self.persistent.lock().await = Some(Arc::new(state));
            self.set_queue_size(queue);
        }
        let mut workers = self.workers.lock().await;
        if let Some(batch) = self.common.sending_queue.batch.clone() {
            let me = self.clone();
            let queue = queue.clone();
            workers.push(tokio::spawn(
                async move { me.batch_loop(queue, batch).await },
            ));
        } else {
            for _ in 0..self.common.sending_queue.num_consumers.max(1) {
                let me = self.clone();
                let queue = queue.clone();
                workers.push(tokio::spawn(async move { me.work(queue).await }));
            }
        }
        Ok(())
    }

    /// One of `num_consumers` workers: each request is sent as it was queued.
    async fn work(self: Arc<Self>, queue: Arc<MemoryQueue>) {
        let persistent = self.persistent.lock().await.clone();
        while let Some(item) = queue.pop().await {
            if let (Some(state), Some(idx)) = (&persistent, item.index) {
                state.dispatched(idx).await;
            }
            let (batch, origin) = Origin::from_item(item);
            let items = batch.items();
            let result = self.send(batch, origin.span.into_iter().collect()).await;
            self.complete(vec![(Arc::new(origin), items)], result, &persistent)
                .await;
            self.set_queue_size(&queue);
        }
    }

    /// With `sending_queue.batch`: take requests off the queue, merge them until `min_size`
    /// (items or bytes) or `flush_timeout` since the first, cut at `max_size`, and send at
    /// most `num_consumers` batches at once.
    async fn batch_loop(self: Arc<Self>, queue: Arc<MemoryQueue>, cfg: QueueBatchConfig) {
        let persistent = self.persistent.lock().await.clone();
        let consumers = self.common.sending_queue.num_consumers.max(1);
        let senders = Arc::new(Semaphore::new(consumers));
        let sizer = self.common.sending_queue.batch_sizer();
        let min = cfg.min_size.max(0) as usize;
        let max = cfg.max_size.max(0) as usize;
        let flush_timeout = cfg.flush_timeout.get();
        let mut pending: Pending<Arc<Origin>> = Pending::new(self.signal);
        let mut deadline: Option<Instant> = None;
        let size = |p: &Pending<Arc<Origin>>| match sizer {
            QueueSizer::Bytes => p.bytes(),
            _ => p.items(),
        };
        let chunk = |p: &Pending<Arc<Origin>>| match (max, sizer) {
            (0, _) => p.items(),
            (m, QueueSizer::Bytes) => p.items_for_bytes(m),
            (m, _) => m,
        };
        loop {
            let popped = tokio::select! {
                item = queue.pop() => item,
                _ = sleep_until_opt(deadline), if deadline.is_some() => {
                    while !pending.is_empty() {
                        let n = chunk(&pending);
                        self.dispatch(pending.take_front(n), &senders, &persistent, &queue).await;
                    }
                    deadline = None;
                    continue;
                }
            };
            let Some(item) = popped else { break };
            if let (Some(state), Some(idx)) = (&persistent, item.index) {
                state.dispatched(idx).await;
            }
            let (batch, origin) = Origin::from_item(item);
            let bytes = batch.encoded_len();
            pending.push(batch, bytes, Arc::new(origin));
            if deadline.is_none() {
                deadline = Some(Instant::now() + flush_timeout);
            }
            while !pending.is_empty() && size(&pending) >= min {
                let n = chunk(&pending);
                self.dispatch(pending.take_front(n), &senders, &persistent, &queue)
                    .await;
            }
            if pending.is_empty() {
                deadline = None;
            }
        }
        while !pending.is_empty() {
            let n = chunk(&pending);
            self.dispatch(pending.take_front(n), &senders, &persistent, &queue)
                .await;
        }
        let _ = senders.acquire_many(consumers as u32).await;
    }

    /// Send one batch of the queue's batcher in a task of its own.
    async fn dispatch(
        self: &Arc<Self>,
        taken: Taken<Arc<Origin>>,
        senders: &Arc<Semaphore>,
        persistent: &Option<Arc<PersistentState>>,
        queue: &Arc<MemoryQueue>,
    ) {
        let Ok(permit) = senders.clone().acquire_owned().await else {
            return;
        };
        let me = self.clone();
        let persistent = persistent.clone();
        let queue = queue.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let result = if taken.batch.is_empty() {
                Ok(())
            } else {
                let parents = taken.owners.iter().filter_map(|(o, _)| o.span).collect();
                me.send(taken.batch, parents).await
            };
            me.complete(taken.owners, result, &persistent).await;
            me.set_queue_size(&queue);
        });
    }

    /// A send is done: log a failure once, and settle every request whose last items it held.
    async fn complete(
        &self,
        owners: Vec<(Arc<Origin>, usize)>,
        result: Result<(), ConsumeError>,
        persistent: &Option<Arc<PersistentState>>,
    ) {
        let keep = match &result {
            Ok(()) => false,
            Err(e) => {
                let items: usize = owners.iter().map(|(_, n)| n).sum();
                let kept =
                    persistent.is_some() && e.is_retryable() && self.stop_retrying.is_cancelled();
                let waited = owners.iter().any(|(o, _)| o.done.is_some());
                if kept {
                    warn!(exporter = %self.id, data_type = %self.signal, items, error = %e,
                        "Not sent before shutdown; kept in the persistent queue for the next start");
                } else if waited {
                    warn!(exporter = %self.id, data_type = %self.signal, items, error = %e,
                        "Exporting failed; the error is returned to the sender (wait_for_result)");
                } else {
                    error!(exporter = %self.id, data_type = %self.signal, dropped_items = items, error = %e,
                        "Exporting failed. Dropping data.");
                }
                kept
            }
        };
        for (origin, _) in owners {
            origin.record(&result, keep);
            if let Some(origin) = Arc::into_inner(origin) {
                let outcome = origin
                    .outcome
                    .into_inner()
                    .unwrap_or_else(|p| p.into_inner());
                if let (Some(state), Some(idx)) = (persistent, origin.index) {
                    if !outcome.keep {
                        state.finished(idx).await;
                    }
                }
                if let Some(done) = origin.done {
                    let _ = done.send(match outcome.error {
                        Some(e) => Err(e),
                        None => Ok(()),
                    });
                }
            }
        }
    }

    /// Send with retries and the timeout; counts the outcome once. The send is the span
    /// `exporter/<id>/<signal>`: the child of the one request it carries (its enqueue span,
    /// or the caller's span without a queue), linked to each when it merges several.
    async fn send(&self, batch: Batch, parents: Vec<SpanContext>) -> Result<(), ConsumeError> {
        let parent = match parents.len() {
            1 => Some(parents[0]),
            _ => None,
        };
        let mut span = self
            .tracer
            .start(&self.span_name, SpanKind::Internal, parent);
        if let Some(span) = &mut span {
            span.set_str("exporter", self.id.to_string());
            span.set_str("data_type", self.signal.as_str());
            if parents.len() > 1 {
                for p in parents {
                    span.link(p);
                }
            }
        }
        let items = batch.items() as u64;
        let result = in_span(span.as_ref().map(|s| s.current()), self.send_counted(batch)).await;
        if let Some(mut span) = span {
            let (sent, failed) = match &result {
                Ok(()) => (items as i64, 0),
                Err(_) => (0, items as i64),
            };
            span.set_int("items.sent", sent);
            span.set_int("items.failed", failed);
            if let Err(e) = &result {
                span.error(e.to_string());
            }
            span.end();
        }
        result
    }

    async fn send_counted(&self, batch: Batch) -> Result<(), ConsumeError> {
        let items = batch.items() as u64;
        /// Takes one off the in-flight gauge when the send ends, however it ends.
        struct InFlight<'a>(&'a IntGauge);
        impl Drop for InFlight<'_> {
            fn drop(&mut self) {
                self.0.dec();
            }
        }
        self.metrics.in_flight.inc();
        let _in_flight = InFlight(&self.metrics.in_flight);
        let (sent, result) = self.send_in_pieces(batch, 0).await;
        self.metrics.sent.inc_by(sent);
        if let Err(e) = &result {
            self.count_failed(
                items.saturating_sub(sent),
                e.error_type(),
                !e.is_retryable(),
            );
        }
        result
    }

    /// Send with retries; a request the destination refuses for its size is sent again as
    /// two halves (down to single items), so a receiving end's size limit (4 MiB by default
    /// for gRPC) costs no data. Returns the items sent, and the first failure.
    fn send_in_pieces(
        &self,
        batch: Batch,
        depth: u32,
    ) -> futures::future::BoxFuture<'_, (u64, Result<(), ConsumeError>)> {
        Box::pin(async move {
            let items = batch.items();
            let err = match self.send_with_retry(batch.clone()).await {
                Ok(()) => return (items as u64, Ok(())),
                Err(e) => e,
            };
            if !err.is_too_large() || items < 2 {
                return (0, Err(err));
            }
            if depth == 0 {
                info!(exporter = %self.id, data_type = %self.signal, items, bytes = batch.encoded_len(), error = %err,
                    "The destination refused a request for its size; sending its items in smaller requests");
            }
            let mut rest = batch;
            let head = rest.split_front(items / 2);
            let (a, ra) = self.send_in_pieces(head, depth + 1).await;
            let (b, rb) = self.send_in_pieces(rest, depth + 1).await;
            (a + b, ra.and(rb))
        })
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
            ))
            .with_error_type("Deadline_Exceeded")),
        }
    }

    async fn send_with_retry(&self, batch: Batch) -> Result<(), ConsumeError> {
        let retry = &self.common.retry_on_failure;
        let mut backoff: Option<Backoff> = None;
        let mut retry_num = 0i64;
        loop {
            // Go's retry sender, only in the chain when retries are on, notes each attempt
            if retry.enabled {
                own_spans::add_event(
                    "Sending request.",
                    vec![own_spans::kv_int("retry_num", retry_num)],
                );
            }
            let err = match self.attempt(batch.clone()).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if !err.is_retryable() || !retry.enabled {
                return Err(err);
            }
            // stopping: Go's retry sender gives up with a shutdown error
            if self.stop_retrying.is_cancelled() {
                return Err(err.with_error_type("Shutdown"));
            }
            let b = backoff.get_or_insert_with(|| Backoff::new(retry));
            let Some(wait) = b.next(err.retry_after()) else {
                return Err(ConsumeError::retryable(format!(
                    "no more retries left: {}",
                    err.message()
                ))
                .with_error_type(err.error_type()));
            };
            // INFO, as Go's retry sender logs it: a backend down for a while must not flood
            // the log with one WARN per request
            info!(
                exporter = %self.id,
                data_type = %self.signal,
                error = %err,
                interval = %pipeline_api::config::format_go_duration(wait),
                "Exporting failed. Will retry the request after interval."
            );
            own_spans::add_event(
                "Exporting failed. Will retry the request after interval.",
                vec![
                    own_spans::kv_str("interval", pipeline_api::config::format_go_duration(wait)),
                    own_spans::kv_str("error", err.to_string()),
                ],
            );
            retry_num += 1;
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.stop_retrying.cancelled() => return Err(err.with_error_type("Shutdown")),
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
                self.count_failed(items as u64, "Shutdown", false);
                error!(exporter = %self.id, data_type = %self.signal, dropped_items = items,
                    "Shutdown deadline passed with data still queued. Dropping data.");
            }
        }
        if let Some(state) = persistent {
            state.close().await;
        }
        if let Some(g) = &self.metrics.queue_size {
            g.set(0);
        }
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
            return self
                .send(batch, own_spans::current().into_iter().collect())
                .await;
        };
        // Go's obsQueue: the offer is the span `exporter/enqueue`, with an event saying
        // whether the item went in; the queued item carries it to the send
        let span = self
            .tracer
            .start_in_current("exporter/enqueue", SpanKind::Internal);
        let offered = self
            .enqueue(queue, batch, span.as_ref().map(|s| s.context()))
            .await;
        if let Some(mut span) = span {
            let event = match &offered {
                Ok(_) => "Enqueued item.",
                Err(_) => "Failed to enqueue item.",
            };
            span.event(event, Vec::new());
            span.end();
        }
        match offered? {
            None => Ok(()),
            Some(rx) => rx.await.unwrap_or_else(|_| {
                Err(ConsumeError::retryable(
                    "exporter stopped before the request was sent",
                ))
            }),
        }
    }
}

impl ExporterRunner {
    /// Put a request in the queue; with `wait_for_result`, the receiver of its outcome.
    async fn enqueue(
        &self,
        queue: &Arc<MemoryQueue>,
        batch: Batch,
        span: Option<SpanContext>,
    ) -> Result<Option<oneshot::Receiver<Result<(), ConsumeError>>>, ConsumeError> {
        let q = &self.common.sending_queue;
        let block = q.block_on_overflow || q.blocking;
        let items = batch.items();
        let bytes = batch.encoded_len();
        let refuse = |offer: Offer| {
            self.metrics.enqueue_failed.inc_by(items as u64);
            let (err, why) = match offer {
                Offer::TooLarge => (
                    ConsumeError::permanent(format!(
                        "request of {} is larger than the sending queue ({} {:?})",
                        queue.cost(items, bytes),
                        queue.capacity(),
                        q.sizer
                    )),
                    "larger than the whole queue",
                ),
                Offer::Closed => (
                    ConsumeError::retryable("exporter is shutting down"),
                    "shutting down",
                ),
                Offer::Full => (
                    ConsumeError::backpressure("sending queue is full"),
                    "queue full",
                ),
            };
            if let Some((requests, refused_items)) = self.refusals.due(items as u64) {
                warn!(exporter = %self.id, data_type = %self.signal, requests, items = refused_items,
                    reason = why, "Requests refused by the sending queue; the senders get an error (retryable unless too large)");
            }
            err
        };
        let permit = match queue.reserve(items, bytes, block).await {
            Ok(p) => p,
            Err(offer) => return Err(refuse(offer)),
        };
        // counted once however many queues hold the same data (a fan-out, or a batch the
        // `batch` processor handed over with its reservation); what the data takes in memory
        // (decoded, several times its encoding), not its encoded length, measured only when
        // nobody holds a charge for it yet
        let memory = match batch.memory_charge(&self.memory, || {
            self.memory.try_reserve(batch.memory_size() as u64)
        }) {
            Some(m) => m,
            None if block => match self.memory.reserve(batch.memory_size() as u64, None).await {
                Some(m) => Arc::new(m),
                None => return Err(refuse(Offer::Closed)),
            },
            None => {
                self.metrics.enqueue_failed.inc_by(items as u64);
                if let Some((requests, refused_items)) = self.refusals.due(items as u64) {
                    warn!(exporter = %self.id, data_type = %self.signal, requests, items = refused_items,
                        memory_budget_bytes = self.memory.limit(), reason = "memory budget spent",
                        "Requests refused by the sending queue; the senders get a retryable error");
                }
                return Err(ConsumeError::backpressure(format!(
                    "memory budget of {} bytes is spent; try again later",
                    self.memory.limit()
                )));
            }
        };
        let persistent = self.persistent.lock().await.clone();
        let index = match &persistent {
            Some(state) => match state.put(&batch).await {
                Ok(i) => Some(i),
                Err(e) => {
                    self.metrics.enqueue_failed.inc_by(items as u64);
                    error!(exporter = %self.id, error = %e, "Cannot write to the persistent queue; request refused");
                    return Err(ConsumeError::retryable(format!("persistent queue: {e}")));
                }
            },
            None => None,
        };
        let (done, wait) = if q.wait_for_result {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        queue
            .push(Item {
                batch,
                index,
                permit,
                memory,
                done,
                span,
            })
            .await;
        self.set_queue_size(queue);
        Ok(wait)
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
