//! The `filelog` receiver: tails files and turns their lines into log records, as the Go
//! collector's `receiver/filelogreceiver` (the stanza `file_input` operator, its operator
//! chain and the stanza adapter). This module finds, reads and tails the files; the entries,
//! the operator chain and the conversion to OTLP come from the `stanza` crate.
//!
//! Each poll (`poll_interval`) finds the files, reads what is new, runs the operators and
//! hands the records to the next consumer, grouped by resource, in requests of at most about
//! 1 MiB encoded (`tailer::MAX_REQUEST_BYTES`; a poll reads up to 10,000 records). The file
//! offsets are only stored (in the `storage` extension, or kept in memory) after every
//! request of the poll was accepted; a refused request is kept and offered again while
//! reading pauses (the ones accepted before it are not offered again), so a line is never
//! lost and, barring a crash between acceptance and the checkpoint write, never sent twice.
//!
//! Go facts about delivery (`pkg/stanza/adapter`, `internal/coreinternal/consumerretry`,
//! `receiver/filelogreceiver` README): `retry_on_failure` is off by default; when on, a
//! failed batch is retried with exponential backoff from `initial_interval` (multiplier 1.5,
//! randomization 0.5) up to `max_interval`, permanent errors are not retried, and after
//! `max_elapsed_time` (0: never) the batch is dropped. Go drops a refused batch at once when
//! retries are off; Ferrotel instead keeps it and retries at each `poll_interval` (the
//! backpressure the product asks for). The receiver's items are counted with an empty
//! `transport` label.

pub mod checkpoint;
pub mod config;
pub mod encoding;
pub mod finder;
pub mod own_container;
pub mod reader;
pub mod split;
pub mod tailer;

#[cfg(test)]
pub(crate) mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_api::storage::StorageClient;
use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{
    async_trait, storage_client, Batch, BuildContext, BuildError, CancellationToken, ComponentId,
    ConsumeError, IntGauge, Receiver, ReceiverFactory, RequestContext, SharedConsumer, Signal,
    SignalConsumers,
};
use pipeline_api::{declare, Meta, Stability};

pub use config::FileLogConfig;
use stanza::convert::LogsRequest;
use stanza::{BuildMode, Pipeline};
use tailer::{PollOutput, Tailer};

/// Newer Go releases spell it `file_log`.
pub const META: Meta = Meta::new("filelog")
    .aliases(&[("file_log", false)])
    .logs(Stability::Beta);

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<FileLogConfig>(META, |ctx, cfg, next| {
        Ok(Box::new(FileLogReceiver::build(ctx, cfg, next)?))
    })
}

/// What the receiver counted (for tests and diagnostics).
#[derive(Debug, Default)]
pub struct Counters {
    pub polls: AtomicU64,
    pub operator_errors: AtomicU64,
    pub dropped: AtomicU64,
    pub refusals: AtomicU64,
    pub accepted_records: AtomicU64,
    pub checkpoints_saved: AtomicU64,
}

/// A built `filelog` receiver; nothing runs until [`Receiver::run`].
pub struct FileLogReceiver {
    id: ComponentId,
    cfg: FileLogConfig,
    tailer: Tailer,
    next: SharedConsumer,
    storage: Option<Arc<dyn StorageClient>>,
    obs: ReceiverObs,
    open_files: IntGauge,
    reading_files: IntGauge,
    counters: Arc<Counters>,
}

impl FileLogReceiver {
    pub fn build(
        ctx: BuildContext,
        cfg: &FileLogConfig,
        next: SignalConsumers,
    ) -> Result<FileLogReceiver, BuildError> {
        let next = next
            .logs
            .ok_or_else(|| BuildError::new("the filelog receiver must be in a logs pipeline"))?;
        let mut pipeline = Pipeline::build(&cfg.operators, BuildMode::Run).map_err(|es| {
            BuildError::new(
                es.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        pipeline.count_errors_in(&ctx.telemetry);
        let tailer = Tailer::new(cfg, pipeline).map_err(BuildError::new)?;
        let storage = match &cfg.storage {
            Some(id) => Some(
                storage_client(&ctx, &id.0, "")
                    .map_err(|e| BuildError::new(format!("storage: {}: {e}", id.0)))?,
            ),
            None => None,
        };
        Ok(FileLogReceiver {
            obs: ctx.telemetry.receiver_obs(""),
            open_files: ctx.telemetry.gauge(
                "otelcol_fileconsumer_open_files",
                "Number of open files",
                &[],
            ),
            reading_files: ctx.telemetry.gauge(
                "otelcol_fileconsumer_reading_files",
                "Number of open files that are being read",
                &[],
            ),
            id: ctx.id,
            cfg: cfg.clone(),
            tailer,
            next,
            storage,
            counters: Arc::new(Counters::default()),
        })
    }

    /// Use this storage client instead of a storage extension (tests).
    pub fn with_storage(mut self, storage: Arc<dyn StorageClient>) -> Self {
        self.storage = Some(storage);
        self
    }

    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }
}

/// A poll's requests waiting to be accepted, with what to commit once all are.
struct Pending {
    /// The requests not accepted yet, in order, with their record counts.
    batches: std::collections::VecDeque<(Batch, usize)>,
    checkpoint: Vec<reader::Metadata>,
    deletes: Vec<std::path::PathBuf>,
    first_failure: Option<Instant>,
    failures: u32,
    next_attempt: Instant,
}

struct Runner {
    id: ComponentId,
    cfg: FileLogConfig,
    next: SharedConsumer,
    storage: Option<Arc<dyn StorageClient>>,
    obs: ReceiverObs,
    counters: Arc<Counters>,
    saved: Option<Vec<u8>>,
}

enum Attempt {
    Done,
    Retry,
}

impl Runner {
    async fn commit(&mut self, checkpoint: &[reader::Metadata], deletes: &[std::path::PathBuf]) {
        if let Some(s) = &self.storage {
            let bytes = checkpoint::encode(checkpoint);
            if self.saved.as_ref() != Some(&bytes) {
                match s.set(checkpoint::KEY, bytes.clone()).await {
                    Ok(()) => {
                        self.saved = Some(bytes);
                        self.counters
                            .checkpoints_saved
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::error!(receiver = %self.id, error = %e, "Failed to sync to database.")
                    }
                }
            }
        }
        for p in deletes {
            if let Err(e) = std::fs::remove_file(p) {
                tracing::error!(receiver = %self.id, path = %p.display(), error = %e, "Could not delete file.");
            }
        }
    }

    /// Offer the pending requests in order, until one is refused or all were accepted
    /// (then the checkpoint is stored).
    async fn attempt(&mut self, p: &mut Pending) -> Attempt {
        while let Some((batch, items)) = p.batches.front() {
            let items = *items;
            let result = self.next.consume(batch.clone()).await;
            self.obs.record(Signal::Logs, items, &result);
            match result {
                Ok(()) => {
                    self.counters
                        .accepted_records
                        .fetch_add(items as u64, Ordering::Relaxed);
                    p.batches.pop_front();
                    p.first_failure = None;
                    p.failures = 0;
                }
                Err(e) => {
                    self.counters.refusals.fetch_add(1, Ordering::Relaxed);
                    if let Attempt::Retry = self.failed(p, &e).await {
                        return Attempt::Retry;
                    }
                }
            }
        }
        self.commit(&p.checkpoint, &p.deletes).await;
        Attempt::Done
    }

    /// The front request was refused: drop it (`Done`: go on with the next) or wait.
    async fn failed(&mut self, p: &mut Pending, e: &ConsumeError) -> Attempt {
        let now = Instant::now();
        let items = p.batches.front().map(|(_, n)| *n).unwrap_or(0);
        if !e.is_retryable() {
            tracing::error!(receiver = %self.id, items, error = %e, "ConsumeLogs() failed. The error is not retryable. Dropping data.");
            p.batches.pop_front();
            return Attempt::Done;
        }
        let first = *p.first_failure.get_or_insert(now);
        p.failures += 1;
        let r = &self.cfg.retry_on_failure;
        let mut wait = if r.enabled {
            // Go's backoff.ExponentialBackOff: multiplier 1.5, randomization factor 0.5
            let base = r.initial_interval.get().as_secs_f64() * 1.5f64.powi(p.failures as i32 - 1);
            let base = base.min(r.max_interval.get().as_secs_f64());
            let jitter = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos() as f64 / 1e9)
                .unwrap_or(0.5);
            Duration::try_from_secs_f64((base * (0.5 + jitter)).max(0.0))
                .unwrap_or(r.max_interval.get())
        } else {
            self.cfg.poll_interval.get()
        };
        if let Some(after) = e.retry_after() {
            wait = wait.max(after);
        }
        if r.enabled
            && !r.max_elapsed_time.is_zero()
            && now.duration_since(first) + wait > r.max_elapsed_time.get()
        {
            tracing::error!(receiver = %self.id, items, error = %e, "Max elapsed time expired. Dropping data.");
            p.batches.pop_front();
            p.first_failure = None;
            p.failures = 0;
            return Attempt::Done;
        }
        tracing::debug!(receiver = %self.id, items, error = %e, "ConsumeLogs() failed; will retry in {:?}.", wait);
        p.next_attempt = now + wait;
        Attempt::Retry
    }
}

/// What one poll gives: its output, and its entries as export requests (none when there were
/// none).
type Polled = (Tailer, PollOutput, Vec<LogsRequest>);

/// A request of a poll as a batch: in its wire form, or decoded when it holds a record nested
/// too deep for the wire form. The wire form is `stanza::convert`'s encoding, tested and fuzzed
/// to be prost's and to pass the wire scan with one item per record, so it is not scanned
/// again here.
fn to_batch(req: LogsRequest) -> Batch {
    match req {
        LogsRequest::Wire { bytes, records } => Batch::from_encoded(Signal::Logs, bytes, records),
        LogsRequest::Decoded(req) => Batch::from_logs(req),
    }
}

/// Poll on a blocking thread.
/// `shutdown`: flush the operators instead; `Some(true)` when the checkpoint is stored, so
/// what was read from a file may stay held for the next start.
async fn poll_blocking(t: Tailer, shutdown: Option<bool>) -> Result<Polled, BuildError> {
    tokio::task::spawn_blocking(move || {
        let mut t = t;
        let mut out = if let Some(keep_read) = shutdown {
            t.flush_all(keep_read)
        } else {
            t.poll(Instant::now())
        };
        let requests = std::mem::take(&mut out.logs).into_encoded();
        (t, out, requests)
    })
    .await
    .map_err(|e| BuildError::new(format!("filelog poll failed: {e}")))
}

#[async_trait]
impl Receiver for FileLogReceiver {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        let FileLogReceiver {
            id,
            cfg,
            mut tailer,
            next,
            storage,
            obs,
            open_files,
            reading_files,
            counters,
        } = *self;
        if let Some(s) = &storage {
            match s.get(checkpoint::KEY).await {
                Ok(Some(bytes)) => match checkpoint::decode(&bytes) {
                    Ok(files) => tailer.load(files),
                    Err(e) => {
                        tracing::error!(receiver = %id, error = %e, "Could not decode the stored checkpoint; starting without it.")
                    }
                },
                Ok(None) => {}
                Err(e) => {
                    return Err(BuildError::new(format!(
                        "read known files from database: {e}"
                    )))
                }
            }
        }
        let finder =
            finder::Finder::new(&cfg.include, &cfg.exclude, None).map_err(BuildError::new)?;
        if finder.find().is_empty() {
            tracing::warn!(receiver = %id, include = ?cfg.include, exclude = ?cfg.exclude, "no files match the configured include patterns");
        }
        let mut runner = Runner {
            id: id.clone(),
            cfg,
            next,
            storage,
            obs,
            counters: counters.clone(),
            saved: None,
        };
        let poll_interval = runner.cfg.poll_interval.get();
        let mut pending: Option<Pending> = None;
        let mut tailer = Some(tailer);
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            if let Some(p) = pending.as_mut() {
                let wait = p.next_attempt.saturating_duration_since(Instant::now());
                if !wait.is_zero() {
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
                match runner.attempt(p).await {
                    Attempt::Done => pending = None,
                    Attempt::Retry => continue,
                }
                // Let the tasks that the hand-off woke (the next consumers: a batch processor,
                // an exporter encoding the batch) run before more is read, while the batch is
                // still in the CPU caches. On a busy core this keeps reading from running ahead
                // of the consumers and filling their queues.
                tokio::task::yield_now().await;
            }
            let Some(t) = tailer.take() else { break };
            let (t, out, requests) = poll_blocking(t, None).await?;
            tailer = Some(t);
            counters.polls.fetch_add(1, Ordering::Relaxed);
            counters
                .operator_errors
                .fetch_add(out.stats.errors, Ordering::Relaxed);
            counters
                .dropped
                .fetch_add(out.stats.dropped, Ordering::Relaxed);
            if out.stats.dropped > 0 {
                runner
                    .obs
                    .record_failed(Signal::Logs, out.stats.dropped as usize);
            }
            open_files.set(out.open_files as i64);
            reading_files.set(out.reading_files as i64);
            let more = out.more;
            if !requests.is_empty() {
                let batches = requests
                    .into_iter()
                    .map(|req| {
                        let mut batch = to_batch(req);
                        batch.set_context(RequestContext {
                            receiver: Some(id.clone()),
                            ..Default::default()
                        });
                        let items = batch.items();
                        (batch, items)
                    })
                    .collect();
                pending = Some(Pending {
                    batches,
                    checkpoint: out.checkpoint,
                    deletes: out.deletes,
                    first_failure: None,
                    failures: 0,
                    next_attempt: Instant::now(),
                });
                continue;
            }
            runner.commit(&out.checkpoint, &out.deletes).await;
            if !more {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(poll_interval) => {}
                }
            }
        }
        // Stop: flush what operators hold (Go's recombine flushes at Stop) and offer it once.
        if pending.is_none() {
            if let Some(t) = tailer.take() {
                let (_, out, requests) = poll_blocking(t, Some(runner.storage.is_some())).await?;
                let mut all_accepted = !requests.is_empty();
                for req in requests {
                    let batch = to_batch(req);
                    let items = batch.items();
                    let result = runner.next.consume(batch).await;
                    runner.obs.record(Signal::Logs, items, &result);
                    if result.is_err() {
                        all_accepted = false;
                        break;
                    }
                }
                if all_accepted {
                    runner.commit(&out.checkpoint, &[]).await;
                }
            }
        }
        if let Some(s) = &runner.storage {
            if let Err(e) = s.close().await {
                tracing::warn!(receiver = %id, error = %e, "Failed to close the storage client.");
            }
        }
        tracing::debug!(receiver = %id, "filelog receiver stopped.");
        Ok(())
    }
}
