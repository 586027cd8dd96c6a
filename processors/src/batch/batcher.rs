//! The batching task: one per processor instance, owning every pending batch.
//!
//! Callers hand over `(batch, oneshot)` through a bounded channel and wait on the oneshot; the
//! task resolves it once every item of the batch was handed to `next` (Ok), or with the error
//! of a send that held some of its items. Sends run in their own tasks, at most
//! `max_in_flight` at once (a semaphore), so a slow `next` slows intake only once that many
//! sends are outstanding and memory stays bounded.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pipeline_api::{Batch, ConsumeError, RequestContext, SharedConsumer};
use prometheus::{Histogram, IntCounter, IntGauge};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;

/// Go `errTooManyBatchers = consumererror.NewPermanent(errors.New("too many batcher
/// metadata-value combinations"))`: a permanent error, as in Go.
pub const TOO_MANY_BATCHERS: &str = "too many batcher metadata-value combinations";

/// What a caller is told.
pub type Outcome = Result<(), ConsumeError>;

/// One caller's batch on its way in.
pub struct Request {
    pub batch: Batch,
    pub done: oneshot::Sender<Outcome>,
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

/// A caller waiting for its items to be handed on; resolved when the last of them was sent.
struct Waiter {
    state: Mutex<WaiterState>,
}

struct WaiterState {
    pending: usize,
    error: Option<ConsumeError>,
    done: Option<oneshot::Sender<Outcome>>,
}

impl Waiter {
    fn new(items: usize, done: oneshot::Sender<Outcome>) -> Arc<Waiter> {
        Arc::new(Waiter {
            state: Mutex::new(WaiterState {
                pending: items,
                error: None,
                done: Some(done),
            }),
        })
    }

    /// `items` of this caller's items were sent with `result`.
    fn complete(&self, items: usize, result: &Outcome) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.pending = s.pending.saturating_sub(items);
        if let Err(e) = result {
            if s.error.is_none() {
                s.error = Some(e.clone());
            }
        }
        if s.pending == 0 {
            if let Some(done) = s.done.take() {
                let outcome = match s.error.take() {
                    Some(e) => Err(e),
                    None => Ok(()),
                };
                // The caller may have gone away; nothing to do then.
                let _ = done.send(outcome);
            }
        }
    }
}

/// One send: a batch and the callers whose items it holds (with how many of each).
struct Part {
    batch: Batch,
    waiters: Vec<(Arc<Waiter>, usize)>,
}

/// The pending batch of one metadata-value combination (Go `shard`).
struct Shard {
    /// Data in arrival order; merged lazily when a send takes from the front.
    batches: Vec<Batch>,
    /// Callers in arrival order with how many of their items are still pending here.
    waiters: VecDeque<(Arc<Waiter>, usize)>,
    items: usize,
    deadline: Option<Instant>,
    /// The context of every batch sent from this shard (Go `exportCtx`: only the metadata
    /// keys' values; empty for the single batcher).
    context: RequestContext,
}

impl Shard {
    fn new(context: RequestContext) -> Shard {
        Shard {
            batches: Vec::new(),
            waiters: VecDeque::new(),
            items: 0,
            deadline: None,
            context,
        }
    }

    fn push(&mut self, batch: Batch, waiter: Arc<Waiter>) {
        let n = batch.items();
        self.items += n;
        self.batches.push(batch);
        self.waiters.push_back((waiter, n));
    }

    /// Remove the first `n` items (and who they belong to).
    fn take_front(&mut self, n: usize) -> Part {
        let mut rest = match self.batches.len() {
            0 | 1 => self.batches.pop(),
            _ => Batch::merge(std::mem::take(&mut self.batches)),
        }
        .unwrap_or_else(|| Batch::empty(pipeline_api::Signal::Traces));
        let mut head = if n >= rest.items() {
            let signal = rest.signal();
            std::mem::replace(&mut rest, Batch::empty(signal))
        } else {
            rest.split_front(n)
        };
        if !rest.is_empty() {
            self.batches.push(rest);
        }
        self.items -= head.items().min(self.items);
        head.set_context(self.context.clone());

        let mut waiters = Vec::new();
        let mut left = head.items();
        while left > 0 {
            let Some(front) = self.waiters.front_mut() else {
                break;
            };
            let take = front.1.min(left);
            waiters.push((front.0.clone(), take));
            left -= take;
            front.1 -= take;
            if front.1 == 0 {
                self.waiters.pop_front();
            }
        }
        Part {
            batch: head,
            waiters,
        }
    }
}

/// The task's state.
pub struct Batcher {
    settings: Settings,
    next: SharedConsumer,
    metrics: Option<Arc<Metrics>>,
    shards: Vec<Shard>,
    index: HashMap<Vec<Vec<String>>, usize>,
    deadlines: BTreeSet<(Instant, usize)>,
    in_flight: Arc<Semaphore>,
}

impl Batcher {
    pub fn new(settings: Settings, next: SharedConsumer, metrics: Option<Arc<Metrics>>) -> Batcher {
        let in_flight = Arc::new(Semaphore::new(settings.max_in_flight as usize));
        let mut batcher = Batcher {
            settings,
            next,
            metrics,
            shards: Vec::new(),
            index: HashMap::new(),
            deadlines: BTreeSet::new(),
            in_flight,
        };
        if batcher.settings.metadata_keys.is_empty() {
            // Go `singleShardBatcher.currentMetadataCardinality` is always 1.
            batcher.shards.push(Shard::new(RequestContext::default()));
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
    pub async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
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
        for idx in 0..self.shards.len() {
            self.flush_all(idx, Trigger::Timeout).await;
        }
        let _ = self
            .in_flight
            .acquire_many(self.settings.max_in_flight)
            .await;
    }

    fn shard_for(&mut self, batch: &Batch) -> Result<usize, ConsumeError> {
        if self.settings.metadata_keys.is_empty() {
            return Ok(0);
        }
        let ctx = batch.context();
        let key: Vec<Vec<String>> = self
            .settings
            .metadata_keys
            .iter()
            .map(|k| {
                ctx.metadata_values(k)
                    .into_iter()
                    .map(str::to_string)
                    .collect()
            })
            .collect();
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
        self.shards.push(Shard::new(RequestContext {
            metadata,
            ..Default::default()
        }));
        self.index.insert(key, idx);
        self.set_cardinality();
        Ok(idx)
    }

    async fn add(&mut self, req: Request) {
        if req.batch.is_empty() {
            // Go's `add` ignores a batch without items.
            let _ = req.done.send(Ok(()));
            return;
        }
        let idx = match self.shard_for(&req.batch) {
            Ok(idx) => idx,
            Err(e) => {
                let _ = req.done.send(Err(e));
                return;
            }
        };
        let waiter = Waiter::new(req.batch.items(), req.done);
        self.shards[idx].push(req.batch, waiter);

        if self.settings.immediate() {
            self.flush_all(idx, Trigger::Size).await;
            return;
        }
        if self.shards[idx].deadline.is_none() {
            self.set_deadline(idx, Some(Instant::now() + self.settings.timeout));
        }
        let mut sent = false;
        while self.shards[idx].items > 0 && self.shards[idx].items >= self.settings.send_batch_size
        {
            let n = self.settings.chunk(self.shards[idx].items);
            self.send(idx, n, Trigger::Size).await;
            sent = true;
        }
        if sent {
            // Go resets the shard's timer after a size-triggered send.
            let deadline =
                (self.shards[idx].items > 0).then(|| Instant::now() + self.settings.timeout);
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
        while self.shards[idx].items > 0 {
            let n = self.settings.chunk(self.shards[idx].items);
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
        let part = self.shards[idx].take_front(n);
        if part.batch.is_empty() {
            for (w, k) in part.waiters {
                w.complete(k, &Ok(()));
            }
            return;
        }
        // Waits only when `max_in_flight` sends are outstanding: that bounds memory.
        let permit = match self.in_flight.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => return, // never closed
        };
        let next = self.next.clone();
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let items = part.batch.items();
            let bytes = match metrics.as_ref().and_then(|m| m.send_size_bytes.as_ref()) {
                Some(_) => part.batch.encoded_len(),
                None => 0,
            };
            let result = next.consume(part.batch).await;
            match &result {
                Ok(()) => {
                    if let Some(m) = &metrics {
                        m.record(trigger, items, bytes);
                    }
                }
                Err(e) => tracing::warn!(error = %e, items, "Sender failed"),
            }
            for (w, k) in part.waiters {
                w.complete(k, &result);
            }
        });
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
