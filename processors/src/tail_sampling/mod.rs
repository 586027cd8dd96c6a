//! `tail_sampling` processor (traces): holds the spans of each trace until a decision is
//! made about the whole trace, then forwards or drops them together — Go's
//! `processor/tailsamplingprocessor`.
//!
//! Delivery: tail sampling necessarily decouples the client from delivery. `consume`
//! resolves once the spans were accepted into the processor's buffer (Go acknowledges
//! `ConsumeTraces` at once, too); the decision and the hand-off to the next consumer
//! happen up to `decision_wait` later, on the processor's own task, and a failure there
//! cannot reach the client any more: it is logged and counted
//! (`otelcol_processor_tail_sampling_spans_dropped{reason="forward_failed"}`), as is every
//! other drop, with its reason. The buffer is bounded: `num_traces` traces (the oldest
//! evicted, or with `block_on_overflow` new data refused with a retryable error), optionally
//! `maximum_trace_size_bytes` per trace, and a bounded queue in front of the task whose
//! fullness makes `consume` wait (backpressure while the next consumer is slow).

mod config;
mod engine;
mod policy;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pipeline_api::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use pipeline_api::telemetry::MetricsLevel;
use pipeline_api::{
    async_trait, Batch, BuildContext, BuildError, ComponentId, ConsumeError, Consumer, Processor,
    ProcessorFactory, SharedConsumer, Signal,
};
use pipeline_api::{declare, Meta, Stability};
use prost::Message;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use config::*;
pub use engine::{DropReason, LruSet, TraceBatch};
pub use policy::{fnv1a64, probabilistic_threshold, Decision};

use engine::{Engine, Metrics, Settings, TraceId};

pub const TYPE_NAME: &str = "tail_sampling";

/// Message of the error `consume` returns when the processor is not running.
pub const NOT_RUNNING: &str = "tail_sampling processor is not running";
/// Message of the retryable refusal with `block_on_overflow`.
pub const ERR_FULL: &str = "tail_sampling holds num_traces traces awaiting a decision; retry later";

pub const META: Meta = Meta::new(TYPE_NAME).traces(Stability::Beta);

pub fn factory() -> Arc<dyn ProcessorFactory> {
    declare::processor::<Config>(META, |ctx, cfg, signal, next| {
        if signal != Signal::Traces {
            return Err(BuildError::new("tail_sampling supports traces only"));
        }
        Ok(Arc::new(TailSamplingProcessor::new(&ctx, cfg, next)?))
    })
}

struct Msg {
    traces: Vec<TraceBatch>,
    reply: oneshot::Sender<Result<(), ConsumeError>>,
}

enum Lifecycle {
    Built(Box<Engine>),
    Running {
        tx: mpsc::Sender<Msg>,
        task: JoinHandle<()>,
    },
    Stopped,
    /// Transient while starting.
    Empty,
}

/// One `tail_sampling` instance (one per pipeline).
pub struct TailSamplingProcessor {
    id: ComponentId,
    next: SharedConsumer,
    drop_pending_on_shutdown: bool,
    queue: usize,
    state: Mutex<Lifecycle>,
}

fn policy_label(id: &ComponentId, policy: &str) -> String {
    // Go: "<component name>.<policy name>" when the component id has a name.
    match id.name() {
        Some(n) if !n.is_empty() => format!("{n}.{policy}"),
        _ => policy.to_string(),
    }
}

impl TailSamplingProcessor {
    pub fn new(ctx: &BuildContext, cfg: &Config, next: SharedConsumer) -> Result<Self, BuildError> {
        let policies = policy::build_policies(&cfg.policies).map_err(|errs| {
            BuildError::new(
                errs.into_iter()
                    .map(|e| e.prefixed(&["policies"]).to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        // Go evaluates drop policies first.
        let mut policies = policies;
        policies.sort_by_key(|p| !p.is_drop);
        let t = &ctx.telemetry;
        let metrics = (t.level() > MetricsLevel::None).then(|| {
            let decision = |extra: &[(&str, &str)], name: &str, help: &str| {
                [("true", "sampled"), ("false", "not_sampled"), ("false", "dropped")].map(
                    |(sampled, decision)| {
                        let mut labels: Vec<(&str, &str)> = extra.to_vec();
                        labels.push(("sampled", sampled));
                        labels.push(("decision", decision));
                        t.counter(name, help, &labels)
                    },
                )
            };
            Metrics {
                policy: policies
                    .iter()
                    .map(|p| {
                        let label = policy_label(&ctx.id, &p.name);
                        decision(
                            &[("policy", label.as_str())],
                            "otelcol_processor_tail_sampling_count_traces_sampled",
                            "Count of traces that were sampled or not per sampling policy",
                        )
                    })
                    .collect(),
                global: decision(
                    &[],
                    "otelcol_processor_tail_sampling_global_count_traces_sampled",
                    "Global count of traces that were sampled or not by at least one policy",
                ),
                dropped_too_early: t.counter(
                    "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early",
                    "Count of traces that needed to be dropped before the configured wait time",
                    &[],
                ),
                traces_on_memory: t.gauge(
                    "otelcol_processor_tail_sampling_sampling_traces_on_memory",
                    "Tracks the number of traces current on memory",
                    &[],
                ),
                new_trace_id_received: t.counter(
                    "otelcol_processor_tail_sampling_new_trace_id_received",
                    "Counts the arrival of new traces",
                    &[],
                ),
                early_releases: ["false", "true"].map(|s| {
                    t.counter(
                        "otelcol_processor_tail_sampling_early_releases_from_cache_decision",
                        "Number of spans that were able to be immediately released due to a decision cache hit.",
                        &[("sampled", s)],
                    )
                }),
                spans_dropped: DropReason::ALL.map(|r| {
                    t.counter(
                        "otelcol_processor_tail_sampling_spans_dropped",
                        "Number of spans the tail sampling processor dropped, by reason (Ferrotel).",
                        &[("reason", r.as_str())],
                    )
                }),
            }
        });
        let settings = Settings {
            decision_wait: cfg.decision_wait.get(),
            decision_wait_after_root: cfg.decision_wait_after_root_received.get(),
            num_traces: usize::try_from(cfg.num_traces).unwrap_or(usize::MAX).max(1),
            block_on_overflow: cfg.block_on_overflow,
            sample_on_first_match: cfg.sample_on_first_match,
            max_trace_size: cfg.maximum_trace_size_bytes,
        };
        let engine = Engine::new(
            settings,
            policies,
            cfg.decision_cache.sampled_cache_size,
            cfg.decision_cache.non_sampled_cache_size,
            metrics,
            Instant::now(),
        );
        let parallelism = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Ok(TailSamplingProcessor {
            id: ctx.id.clone(),
            next,
            drop_pending_on_shutdown: cfg.drop_pending_traces_on_shutdown,
            queue: parallelism.clamp(2, 64),
            state: Mutex::new(Lifecycle::Built(Box::new(engine))),
        })
    }

    pub fn id(&self) -> &ComponentId {
        &self.id
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lifecycle> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Split a batch into the spans of each trace, per resource, keeping scopes (Go
/// `groupSpansByTraceKey` + `newResourceSpanFromSpanAndScopes`), each encoded. Trace ids that
/// are not 16 bytes are padded or cut to 16.
pub fn split_by_trace(resource_spans: Vec<ResourceSpans>) -> Vec<TraceBatch> {
    let mut out: Vec<(TraceBatch, ResourceSpans)> = Vec::new();
    for rs in resource_spans {
        let ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        } = rs;
        // trace id -> (index in `out`, index of the scope last appended)
        let mut by_trace: HashMap<TraceId, (usize, usize)> = HashMap::new();
        for (scope_idx, ss) in scope_spans.into_iter().enumerate() {
            let ScopeSpans {
                scope,
                spans,
                schema_url: scope_schema,
            } = ss;
            for span in spans {
                let mut id = [0u8; 16];
                let n = span.trace_id.len().min(16);
                id[..n].copy_from_slice(&span.trace_id[..n]);
                let is_root = span.parent_span_id.iter().all(|b| *b == 0);
                let slot = by_trace.entry(id).or_insert_with(|| {
                    let tb = TraceBatch {
                        id,
                        bytes: Vec::new(),
                        spans: 0,
                        has_root: false,
                    };
                    let rs = ResourceSpans {
                        resource: resource.clone(),
                        scope_spans: Vec::new(),
                        schema_url: schema_url.clone(),
                    };
                    out.push((tb, rs));
                    (out.len() - 1, usize::MAX)
                });
                let (tb, rs) = &mut out[slot.0];
                if slot.1 != scope_idx {
                    rs.scope_spans.push(ScopeSpans {
                        scope: scope.clone(),
                        spans: Vec::new(),
                        schema_url: scope_schema.clone(),
                    });
                    slot.1 = scope_idx;
                }
                if let Some(last) = rs.scope_spans.last_mut() {
                    last.spans.push(span);
                }
                tb.spans += 1;
                tb.has_root |= is_root;
            }
        }
    }
    out.into_iter()
        .map(|(mut tb, rs)| {
            tb.bytes = rs.encode_to_vec();
            tb
        })
        .collect()
}

/// [`split_by_trace`] over a batch still in its wire form, without decoding a span
/// (`wire_items::split_by_trace`); `None` when it is decoded or cannot be walked.
pub fn split_wire(batch: &Batch) -> Option<Vec<TraceBatch>> {
    if batch.is_decoded() {
        return None;
    }
    let mut out = Vec::new();
    for chunk in batch.wire_pieces()? {
        let pieces = pipeline_api::wire_items::split_by_trace(chunk)?;
        out.extend(pieces.into_iter().map(|p| TraceBatch {
            id: p.id,
            bytes: p.bytes,
            spans: p.spans,
            has_root: p.has_root,
        }));
    }
    Some(out)
}

/// The most bytes a forwarded request holds, unless one trace alone is larger. Go hands each
/// sampled trace on in a request of its own; one request per trace costs a pass through the
/// rest of the pipeline for a handful of spans, and one request per decision tick can be tens
/// of megabytes at a high rate (over grpc-go's 4 MiB default receive limit downstream, and
/// held whole while it is exported). A tick's traces go in requests of at most this size.
pub const FORWARD_MAX_BYTES: usize = 1 << 20;

/// The encoded length of `piece` as a `resource_spans` field of an export request.
fn framed_len(piece: &TraceBatch) -> usize {
    1 + prost::encoding::encoded_len_varint(piece.bytes.len() as u64) + piece.bytes.len()
}

/// How many of `pieces` (the pieces of a trace lying together) go in each forwarded request:
/// whole traces, at most `max` bytes a request unless one trace alone is larger.
fn request_sizes(pieces: &[TraceBatch], max: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let (mut count, mut bytes) = (0, 0);
    let mut at = 0;
    while at < pieces.len() {
        let id = pieces[at].id;
        let end = at + pieces[at..].iter().take_while(|p| p.id == id).count();
        let trace: usize = pieces[at..end].iter().map(framed_len).sum();
        if count > 0 && bytes + trace > max {
            sizes.push(count);
            (count, bytes) = (0, 0);
        }
        count += end - at;
        bytes += trace;
        at = end;
    }
    if count > 0 {
        sizes.push(count);
    }
    sizes
}

/// The trace export request of `pieces`, each an encoded `ResourceSpans`, and its spans.
fn request_of(pieces: &[TraceBatch]) -> (Vec<u8>, usize) {
    let len: usize = pieces.iter().map(framed_len).sum();
    let mut out = Vec::with_capacity(len);
    let mut spans = 0;
    for p in pieces {
        prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut out);
        prost::encoding::encode_varint(p.bytes.len() as u64, &mut out);
        out.extend_from_slice(&p.bytes);
        spans += p.spans;
    }
    (out, spans)
}

/// Hands the sampled `pieces` on, whole traces in requests of at most [`FORWARD_MAX_BYTES`],
/// one after the other; a request the next consumer fails is counted and logged.
async fn forward(next: &SharedConsumer, engine: &Engine, pieces: Vec<TraceBatch>) {
    let sizes = request_sizes(&pieces, FORWARD_MAX_BYTES);
    let mut pieces = pieces.into_iter();
    for size in sizes {
        let chunk: Vec<TraceBatch> = pieces.by_ref().take(size).collect();
        let (bytes, items) = request_of(&chunk);
        drop(chunk);
        let batch = Batch::from_encoded(Signal::Traces, bytes.into(), items);
        if let Err(e) = next.consume(batch).await {
            engine.count_forward_failed(items);
            tracing::warn!(error = %e, spans = items, "Error sending spans to destination; the sampled spans are dropped.");
        }
    }
}

async fn run(
    mut engine: Box<Engine>,
    mut rx: mpsc::Receiver<Msg>,
    next: SharedConsumer,
    drop_pending: bool,
) {
    loop {
        let deadline = engine.next_deadline();
        tokio::select! {
            biased;
            _ = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            } => {
                let spans = engine.decide_due(Instant::now());
                forward(&next, &engine, spans).await;
            }
            msg = rx.recv() => match msg {
                Some(Msg { traces, reply }) => {
                    let now = Instant::now();
                    if engine.settings_block_on_overflow() && engine.refuse_for_overflow(&traces) {
                        let _ = reply.send(Err(ConsumeError::retryable(ERR_FULL)));
                        continue;
                    }
                    let spans = engine.ingest(traces, now);
                    // Accepted into the buffer: the caller is answered before any forwarding.
                    let _ = reply.send(Ok(()));
                    forward(&next, &engine, spans).await;
                }
                None => {
                    // Shut down: every sender is gone.
                    if drop_pending {
                        let dropped = engine.drop_pending();
                        if dropped > 0 {
                            tracing::warn!(spans = dropped, "Undecided traces dropped at shutdown (drop_pending_traces_on_shutdown).");
                        }
                    } else {
                        let spans = engine.decide_all(Instant::now());
                        forward(&next, &engine, spans).await;
                    }
                    return;
                }
            }
        }
    }
}

#[async_trait]
impl Consumer for TailSamplingProcessor {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        if batch.signal() != Signal::Traces {
            return Err(ConsumeError::permanent(format!(
                "tail_sampling processor got {}",
                batch.signal()
            )));
        }
        let tx = match &*self.lock() {
            Lifecycle::Running { tx, .. } => Some(tx.clone()),
            Lifecycle::Stopped => None,
            Lifecycle::Built(_) | Lifecycle::Empty => {
                return Err(ConsumeError::retryable(NOT_RUNNING))
            }
        };
        let Some(tx) = tx else {
            // After shutdown the runtime drains requests still in flight: hand them on.
            return self.next.consume(batch).await;
        };
        // the spans of each trace as bytes, split without decoding them when the batch is
        // still in its wire form
        let traces = match split_wire(&batch) {
            Some(traces) => traces,
            None => match batch.into_data() {
                pipeline_api::BatchData::Traces(req) => split_by_trace(req.resource_spans),
                _ => return Ok(()),
            },
        };
        if traces.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        if tx.send(Msg { traces, reply }).await.is_err() {
            return Err(ConsumeError::retryable(NOT_RUNNING));
        }
        drop(tx);
        answer
            .await
            .unwrap_or_else(|_| Err(ConsumeError::retryable(NOT_RUNNING)))
    }
}

#[async_trait]
impl Processor for TailSamplingProcessor {
    async fn start(&self) -> Result<(), BuildError> {
        let mut state = self.lock();
        if let Lifecycle::Built(_) = &*state {
            let Lifecycle::Built(engine) = std::mem::replace(&mut *state, Lifecycle::Empty) else {
                return Ok(());
            };
            let (tx, rx) = mpsc::channel(self.queue);
            let task = tokio::spawn(run(
                engine,
                rx,
                self.next.clone(),
                self.drop_pending_on_shutdown,
            ));
            *state = Lifecycle::Running { tx, task };
        }
        Ok(())
    }

    /// Decide (or, with `drop_pending_traces_on_shutdown`, drop) every trace still held and
    /// hand the sampled ones on; later `consume` calls are handed straight on.
    async fn shutdown(&self) {
        let previous = std::mem::replace(&mut *self.lock(), Lifecycle::Stopped);
        if let Lifecycle::Running { tx, task } = previous {
            drop(tx);
            if let Err(e) = task.await {
                tracing::error!(processor = %self.id, error = %e, "tail_sampling task failed");
            }
        }
    }
}
