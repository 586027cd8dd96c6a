//! The batching task: one per processor instance, owning every pending batch.
//!
//! Callers hand over a batch together with what they reserved for it (room in the
//! processor's bounded buffer and in the process memory budget) and are answered at once, as
//! in Go. The reservation travels with the items and is given back once the send that holds
//! the last of them is done, so the buffer bounds what is pending and what is being sent
//! together. Sends run in their own tasks, at most `max_in_flight` at once. A send the next
//! consumer refuses for lack of room (a full sending queue, a spent memory budget:
//! `ConsumeError::is_backpressure`) is tried again for as long as the processor runs, holding
//! its room in the buffer, so a slow exporter turns into backpressure at the client rather than
//! a drop; one refused for longer than [`WARN_AFTER`] is logged. The requests' memory
//! reservations go on with the sent batch (`Batch::hand_over_memory_charge`), so a sending
//! queue that keeps it does not charge the same bytes a second time. A send that fails for
//! good, or is still refused at shutdown, is counted and logged with its item count and reason
//! (Go drops at the first failure and only logs "Sender failed").

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use pipeline_api::pending::Pending;
use pipeline_api::CancellationToken;
use pipeline_api::{Batch, ConsumeError, MemoryPermit, RequestContext, SharedConsumer, Signal};
use prometheus::{Histogram, IntCounter, IntGauge};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// After how long a send still refused for lack of room downstream is logged at warn (it is
/// tried again for as long as the processor runs).
pub const WARN_AFTER: Duration = Duration::from_secs(10);
/// First and longest pause between those attempts.
const RETRY_FIRST: Duration = Duration::from_millis(20);
const RETRY_MAX: Duration = Duration::from_secs(1);

/// Go `errTooManyBatchers = consumererror.NewPermanent(errors.New("too many batcher
/// metadata-value combinations"))`: a permanent error, as in Go.
pub const TOO_MANY_BATCHERS: &str = "too many batcher metadata-value combinations";

/// What an accepted request holds until its items were sent: room in the buffer, given back
/// with the last send that holds its items, and its reservation in the memory budget, handed
/// over with the sent batch to the next holder (a sending queue keeps it while the data is
/// queued instead of reserving the same bytes again).
pub struct Hold {
    pub _items: OwnedSemaphorePermit,
    pub memory: Arc<MemoryPermit>,
}

/// One caller's batch on its way in.
pub struct Request {
    pub batch: Batch,
    pub hold: Arc<Hold>,
}

/// Why a batch was sent (Go `trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Timeout,
    Size,
}

/// `otelcol_processor_batch_*` for one processor (label `processor` bound).
pub struct Metrics {
    pub send_size: Histogram,
    /// Only at `detailed` level (Go: "Only available on detailed level").
    pub send_size_bytes: Option<Histogram>,
    pub timeout_trigger: IntCounter,
    pub size_trigger: IntCounter,
    pub cardinality: IntGauge,
    /// Items of sends the next consumer refused after the processor had accepted them.
    pub send_failed: IntCounter,
}

impl Metrics {
    /// Go `batchProcessorTelemetry.record`: called once per successful send.
    fn record(&self, trigger: Trigger, items: usize, bytes: usize) {
        match trigger {
            Trigger::Size => self.size_trigger.inc(),
            Trigger::Timeout => self.timeout_trigger.inc(),
        }
        self.send_size.observe(items as f64);
        if let Some(h) = &self.send_size_bytes {
            h.observe(bytes as f64);
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub send_batch_size: usize,
    pub send_batch_max_size: usize,
    pub timeout: Duration,
    /// Lower-cased, sorted; empty: a single batcher.
    pub metadata_keys: Vec<String>,
    /// 0: no limit.
    pub metadata_cardinality_limit: usize,
    pub max_in_flight: u32,
    /// Items the processor holds at most (pending and being sent).
    pub capacity: usize,
    /// How long `consume` waits for room before it refuses.
    pub accept_wait: Duration,
}

impl Settings {
    /// Go starts a shard's timer only when `timeout != 0 && sendBatchSize != 0`; without it every
    /// item is sent at once (`!b.hasTimer()` in `processItem`).
    fn immediate(&self) -> bool {
        self.timeout.is_zero() || self.send_batch_size == 0
    }

    /// Items in the next send from a pending batch of `pending` items.
    fn chunk(&self, pending: usize) -> usize {
        if self.send_batch_max_size > 0 {
            pending.min(self.send_batch_max_size)
        } else {
            pending
        }
    }
}

/// The pending batch of one metadata-value combination (Go `shard`).
struct Shard {
    pending: Pending<Arc<Hold>>,
    deadline: Option<Instant>,
    /// The context of every batch sent from this shard (Go `exportCtx`: only the metadata
    /// keys' values; empty for the single batcher).
    context: RequestContext,
}

impl Shard {
    fn new(signal: Signal, context: RequestContext) -> Shard {
        Shard {
            pending: Pending::new(signal),
            deadline: None,
            context,
        }
    }
}

/// The task's state.
pub struct Batcher {
    id: String,
    signal: Signal,
    settings: Settings,
    next: SharedConsumer,
    metrics: Option<Arc<Metrics>>,
    shards: Vec<Shard>,
    index: HashMap<Vec<Vec<String>>, usize>,
    deadlines: BTreeSet<(Instant, usize)>,
    in_flight: Arc<Semaphore>,
    /// Cancelled once intake has ended (shutdown): sends stop retrying.
    stopping: CancellationToken,
}

impl Batcher {
    pub fn new(
        id: String,
        signal: Signal,
        settings: Settings,
        next: SharedConsumer,
        metrics: Option<Arc<Metrics>>,
    ) -> Batcher {
        let in_flight = Arc::new(Semaphore::new(settings.max_in_flight as usize));
        let mut batcher = Batcher {
            id,
            signal,
            settings,
            next,
            metrics,
            shards: Vec::new(),
            index: HashMap::new(),
            deadlines: BTreeSet::new(),
            in_flight,
            stopping: CancellationToken::new(),
        };
        if batcher.settings.metadata_keys.is_empty() {
            // Go `singleShardBatcher.currentMetadataCardinality` is always 1.
            batcher
                .shards
                .push(Shard::new(signal, RequestContext::default()));
            batcher.index.insert(Vec::new(), 0);
            batcher.set_cardinality();
        }
        batcher
    }

    fn set_cardinality(&self) {
        if let Some(m) = &self.metrics {
            m.cardinality.set(self.shards.len() as i64);
        }
    }

    /// Accept requests until every sender is gone, then flush everything and wait for the
    /// sends in flight.
    pub async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>) {
        loop {
            let deadline = self.deadlines.first().map(|(t, _)| *t);
            tokio::select! {
                req = rx.recv() => match req {
                    Some(req) => self.add(req).await,
                    None => break,
                },
                _ = sleep_until_opt(deadline), if deadline.is_some() => {}
            }
            // Checked after every event so that a steady stream of requests cannot starve
            // the timers.
            self.flush_expired().await;
        }
        self.stopping.cancel();
        for idx in 0..self.shards.len() {
            self.flush_all(idx, Trigger::Timeout).await;
        }
        let _ = self
            .in_flight
            .acquire_many(self.settings.max_in_flight)
            .await;
    }

    /// The shard of a batch's metadata values (created on first use).
    pub fn shard_key(keys: &[String], ctx: &RequestContext) -> Vec<Vec<String>> {
        keys.iter()
            .map(|k| {
                ctx.metadata_values(k)
                    .into_iter()
                    .map(str::to_string)
                    .collect()
            })
            .collect()
    }

    fn shard_for(&mut self, batch: &Batch) -> Result<usize, ConsumeError> {
        if self.settings.metadata_keys.is_empty() {
            return Ok(0);
        }
        let key = Self::shard_key(&self.settings.metadata_keys, batch.context());
        if let Some(&idx) = self.index.get(&key) {
            return Ok(idx);
        }
        let limit = self.settings.metadata_cardinality_limit;
        if limit != 0 && self.shards.len() >= limit {
            return Err(ConsumeError::permanent(TOO_MANY_BATCHERS));
        }
        let metadata = self
            .settings
            .metadata_keys
            .iter()
            .zip(&key)
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
            .collect();
        let idx = self.shards.len();
        self.shards.push(Shard::new(
            self.signal,
            RequestContext {
                metadata,
                ..Default::default()
            },
        ));
        self.index.insert(key, idx);
        self.set_cardinality();
        Ok(idx)
    }

    async fn add(&mut self, req: Request) {
        let idx = match self.shard_for(&req.batch) {
            Ok(idx) => idx,
            Err(e) => {
                // checked by the processor before it accepted the request; kept for safety
                tracing::error!(processor = %self.id, items = req.batch.items(), error = %e,
                    "Sender failed");
                return;
            }
        };
        let bytes = req.batch.encoded_len();
        self.shards[idx].pending.push(req.batch, bytes, req.hold);

        if self.settings.immediate() {
            self.flush_all(idx, Trigger::Size).await;
            return;
        }
        if self.shards[idx].deadline.is_none() {
            self.set_deadline(idx, Some(Instant::now() + self.settings.timeout));
        }
        let mut sent = false;
        while !self.shards[idx].pending.is_empty()
            && self.shards[idx].pending.items() >= self.settings.send_batch_size
        {
            let n = self.settings.chunk(self.shards[idx].pending.items());
            self.send(idx, n, Trigger::Size).await;
            sent = true;
        }
        if sent {
            // Go resets the shard's timer after a size-triggered send.
            let deadline = (!self.shards[idx].pending.is_empty())
                .then(|| Instant::now() + self.settings.timeout);
            self.set_deadline(idx, deadline);
        }
    }

    async fn flush_expired(&mut self) {
        let now = Instant::now();
        while let Some(&(t, idx)) = self.deadlines.first() {
            if t > now {
                break;
            }
            self.flush_all(idx, Trigger::Timeout).await;
        }
    }

    async fn flush_all(&mut self, idx: usize, trigger: Trigger) {
        self.set_deadline(idx, None);
        while !self.shards[idx].pending.is_empty() {
            let n = self.settings.chunk(self.shards[idx].pending.items());
            self.send(idx, n, trigger).await;
        }
    }

    fn set_deadline(&mut self, idx: usize, deadline: Option<Instant>) {
        if let Some(old) = self.shards[idx].deadline.take() {
            self.deadlines.remove(&(old, idx));
        }
        if let Some(d) = deadline {
            self.deadlines.insert((d, idx));
            self.shards[idx].deadline = Some(d);
        }
    }

    /// Hand the first `n` items of shard `idx` to `next` in a task of their own.
    async fn send(&mut self, idx: usize, n: usize, trigger: Trigger) {
        let shard = &mut self.shards[idx];
        let mut taken = shard.pending.take_front(n);
        if taken.batch.is_empty() {
            return; // the holds in `taken` are given back here
        }
        taken.batch.set_context(shard.context.clone());
        // Waits only when `max_in_flight` sends are outstanding.
        let permit = match self.in_flight.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => return, // never closed
        };
        let next = self.next.clone();
        let metrics = self.metrics.clone();
        let id = self.id.clone();
        let stopping = self.stopping.clone();
        tokio::spawn(async move {
            let _permit = permit;
            // given back when this task ends
            let holds = taken.owners;
            // The requests' memory goes on with the batch: a queue that keeps it holds this
            // charge (and with it the requests' reservations) instead of reserving again.
            let charge = Arc::new(MemoryPermit::join(
                holds.iter().map(|(h, _)| h.memory.clone()).collect(),
            ));
            taken.batch.hand_over_memory_charge(&charge);
            let items = taken.batch.items();
            let bytes = match metrics.as_ref().and_then(|m| m.send_size_bytes.as_ref()) {
                Some(_) => taken.batch.encoded_len(),
                None => 0,
            };
            let started = Instant::now();
            let mut pause = RETRY_FIRST;
            let mut warned = false;
            let result = loop {
                match next.consume(taken.batch.clone()).await {
                    Err(e) if e.is_backpressure() && !stopping.is_cancelled() => {
                        if !warned && started.elapsed() >= WARN_AFTER {
                            warned = true;
                            tracing::warn!(processor = %id, items, error = %e,
                                refused_for = ?started.elapsed(),
                                "Next consumer still refuses a batch the processor accepted; holding it and trying again");
                        } else {
                            tracing::debug!(processor = %id, items, error = %e, "Next consumer refused a batch for now; trying again");
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(e.retry_after().unwrap_or(pause).max(pause)) => {}
                            _ = stopping.cancelled() => {}
                        }
                        pause = (pause * 2).min(RETRY_MAX);
                    }
                    other => break other,
                }
            };
            match result {
                Ok(()) => {
                    if warned {
                        tracing::info!(processor = %id, items, waited = ?started.elapsed(),
                            "Next consumer took the batch it had refused");
                    }
                    if let Some(m) = &metrics {
                        m.record(trigger, items, bytes);
                    }
                }
                Err(e) => {
                    if let Some(m) = &metrics {
                        m.send_failed.inc_by(items as u64);
                    }
                    tracing::warn!(processor = %id, dropped_items = items, error = %e,
                        retryable = e.is_retryable(),
                        "Sender failed: the next consumer refused a batch the processor had accepted; its items are dropped");
                }
            }
            drop(charge);
            drop(holds);
        });
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
