//! The running pipeline graph: one receiver instance per receiver id, processor instances
//! per pipeline, one exporter instance per exporter id; concurrent fan-out without copies;
//! ordered start and drain under one deadline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use pipeline_api::telemetry::{ComponentTelemetry, Telemetry};
use pipeline_api::MemoryBudget;
use pipeline_api::{
    async_trait, Batch, BuildContext, BuildError, ComponentId, ComponentKind, ConsumeError,
    Consumer, Exporter, Extension, GraphInfo, PipelineId, PipelineInfo, Processor, Receiver,
    SharedConsumer, Signal, SignalConsumers,
};
use prometheus::IntCounter;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, Instrument};

use crate::config::Plan;
use crate::exporter::ExporterRunner;

/// Hands the same batch to every branch concurrently (an `Arc` clone each, no copy).
/// The result is an error if any branch failed; retryable only if all failures are.
///
/// When some branches took the batch and others refused it for lack of room (a full sending
/// queue, a spent memory budget: `ConsumeError::is_backpressure`), only the refusing branches
/// are tried again, for up to
/// [`PARTIAL_RETRY`]: answering the caller with a retryable error at once would make it send
/// the batch again to every branch, duplicating it in those that took it.
pub struct FanOut {
    branches: Vec<SharedConsumer>,
}

impl FanOut {
    /// One branch needs no fan-out: it is returned as is.
    pub fn consumer(branches: Vec<SharedConsumer>) -> SharedConsumer {
        if branches.len() == 1 {
            return branches.into_iter().next().expect("one branch");
        }
        Arc::new(FanOut { branches })
    }
}

/// How long a fan-out tries again the branches that refused a batch others took.
pub const PARTIAL_RETRY: Duration = Duration::from_secs(5);

#[async_trait]
impl Consumer for FanOut {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let results = join_all(self.branches.iter().map(|b| b.consume(batch.clone()))).await;
        let failed: Vec<usize> = (0..results.len())
            .filter(|&i| results[i].is_err())
            .collect();
        let partial = !failed.is_empty()
            && failed.len() < self.branches.len()
            && failed
                .iter()
                .all(|&i| matches!(&results[i], Err(e) if e.is_backpressure()));
        if !partial {
            return match ConsumeError::combine(
                results.into_iter().filter_map(Result::err).collect(),
            ) {
                None => Ok(()),
                Some(e) => Err(e),
            };
        }
        let deadline = Instant::now() + PARTIAL_RETRY;
        let retried = join_all(failed.into_iter().map(|i| {
            let branch = self.branches[i].clone();
            let batch = batch.clone();
            async move {
                let mut pause = Duration::from_millis(20);
                loop {
                    tokio::time::sleep(pause).await;
                    match branch.consume(batch.clone()).await {
                        Err(e) if e.is_backpressure() && Instant::now() + pause < deadline => {
                            pause = (pause * 2).min(Duration::from_millis(500));
                        }
                        other => return other,
                    }
                }
            }
        }))
        .await;
        match ConsumeError::combine(retried.into_iter().filter_map(Result::err).collect()) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

/// Counts what enters a processor (`otelcol_processor_incoming_items`).
struct ProcessorNode {
    inner: Arc<dyn Processor>,
    incoming: IntCounter,
}

#[async_trait]
impl Consumer for ProcessorNode {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        self.incoming.inc_by(batch.items() as u64);
        self.inner.consume(batch).await
    }
}

/// Counts what leaves a processor (`otelcol_processor_outgoing_items`).
struct Outgoing {
    next: SharedConsumer,
    outgoing: IntCounter,
}

#[async_trait]
impl Consumer for Outgoing {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        self.outgoing.inc_by(batch.items() as u64);
        self.next.consume(batch).await
    }
}

struct RunningReceiver {
    id: ComponentId,
    handle: JoinHandle<()>,
}

/// One pipeline's processor instances, in pipeline order.
type PipelineProcessors = Vec<(ComponentId, Arc<dyn Processor>)>;

/// A built graph. `start` runs it; `shutdown` drains it.
pub struct Graph {
    receivers: Vec<(ComponentId, Box<dyn Receiver>)>,
    processors: Vec<(PipelineId, PipelineProcessors)>,
    exporters: Vec<(ComponentId, Arc<dyn Exporter>)>,
    runners: Vec<Arc<ExporterRunner>>,
    extensions: Vec<(ComponentId, Arc<dyn Extension>)>,
    running: Vec<RunningReceiver>,
    receivers_token: CancellationToken,
    /// What extensions are told about the running graph (`Extension::graph_ready`).
    info: GraphInfo,
}

fn context(
    telemetry: &Arc<Telemetry>,
    memory: &MemoryBudget,
    kind: ComponentKind,
    id: &ComponentId,
    signals: Vec<Signal>,
    extensions: &Arc<BTreeMap<ComponentId, Arc<dyn Extension>>>,
) -> BuildContext {
    BuildContext {
        id: id.clone(),
        telemetry: telemetry.component(kind, id),
        signals,
        extensions: extensions.clone(),
        memory: memory.clone(),
    }
}

/// The storage client of an exporter's persistent queue for one signal.
fn queue_storage(
    extensions: &BTreeMap<ComponentId, Arc<dyn Extension>>,
    storage: &str,
    exporter: &ComponentId,
    signal: Signal,
) -> Result<Arc<dyn pipeline_api::storage::StorageClient>, BuildError> {
    let path = format!("exporters::{exporter}::sending_queue::storage");
    let sid = ComponentId::parse(storage).map_err(|e| BuildError::new(format!("{path}: {e}")))?;
    let ext = extensions.get(&sid).ok_or_else(|| {
        BuildError::new(format!(
            "{path}: extension {storage:?} is not configured or not listed in service::extensions"
        ))
    })?;
    let st = ext.as_storage().ok_or_else(|| {
        BuildError::new(format!(
            "{path}: extension {storage:?} is not a storage extension"
        ))
    })?;
    st.client(ComponentKind::Exporter, exporter, signal.as_str())
        .map_err(|e| BuildError::new(format!("{path}: {e}")))
}

fn build_error(kind: ComponentKind, id: &ComponentId, e: BuildError) -> BuildError {
    BuildError::new(format!("{}::{id}: {e}", kind.section()))
}

impl Graph {
    /// Build every component of a plan (binding sockets, spawning nothing).
    pub fn build(
        plan: &Plan,
        telemetry: &Arc<Telemetry>,
        memory: &MemoryBudget,
    ) -> Result<Graph, BuildError> {
        // extensions first: other components may look them up
        let mut ext_map: BTreeMap<ComponentId, Arc<dyn Extension>> = BTreeMap::new();
        let mut extensions = Vec::new();
        let no_extensions = Arc::new(BTreeMap::new());
        for id in &plan.service_extensions {
            let p = &plan.extensions[id];
            let ctx = context(
                telemetry,
                memory,
                ComponentKind::Extension,
                id,
                vec![],
                &no_extensions,
            );
            let ext = p
                .factory
                .build(ctx, &*p.config)
                .map_err(|e| build_error(ComponentKind::Extension, id, e))?;
            ext_map.insert(id.clone(), ext.clone());
            extensions.push((id.clone(), ext));
        }
        let ext_map = Arc::new(ext_map);

        // exporters: one instance per id, for every signal that uses it
        let mut exporter_signals: BTreeMap<&ComponentId, Vec<Signal>> = BTreeMap::new();
        for (pid, p) in &plan.pipelines {
            for e in &p.exporters {
                let s = exporter_signals.entry(e).or_default();
                if !s.contains(&pid.signal()) {
                    s.push(pid.signal());
                }
            }
        }
        let mut exporters = Vec::new();
        let mut runners = Vec::new();
        let mut exporter_nodes: BTreeMap<(ComponentId, Signal), SharedConsumer> = BTreeMap::new();
        for (id, signals) in exporter_signals {
            let p = &plan.exporters[id];
            let ctx = context(
                telemetry,
                memory,
                ComponentKind::Exporter,
                id,
                signals.clone(),
                &ext_map,
            );
            let tel = ctx.telemetry.clone();
            let exp = p
                .factory
                .build(ctx, &*p.config)
                .map_err(|e| build_error(ComponentKind::Exporter, id, e))?;
            let storage_id = p
                .common
                .sending_queue
                .storage
                .as_deref()
                .filter(|_| p.common.sending_queue.enabled);
            for s in signals {
                let storage = match storage_id {
                    Some(sid) => Some(queue_storage(&ext_map, sid, id, s)?),
                    None => None,
                };
                let runner = Arc::new(ExporterRunner::new(
                    id.clone(),
                    s,
                    exp.clone(),
                    p.common.clone(),
                    storage,
                    &tel,
                    memory.clone(),
                ));
                exporter_nodes.insert((id.clone(), s), runner.clone());
                runners.push(runner);
            }
            exporters.push((id.clone(), exp));
        }

        // pipelines, from the exporters back to the first processor
        let mut heads: BTreeMap<&PipelineId, SharedConsumer> = BTreeMap::new();
        let mut processors = Vec::new();
        for (pid, p) in &plan.pipelines {
            let signal = pid.signal();
            let mut next = FanOut::consumer(
                p.exporters
                    .iter()
                    .map(|e| exporter_nodes[&(e.clone(), signal)].clone())
                    .collect(),
            );
            let mut instances = Vec::new();
            for id in p.processors.iter().rev() {
                let planned = &plan.processors[id];
                let ctx = context(
                    telemetry,
                    memory,
                    ComponentKind::Processor,
                    id,
                    vec![signal],
                    &ext_map,
                );
                let tel: ComponentTelemetry = ctx.telemetry.clone();
                let labels = [("otel_signal", signal.as_str())];
                let outgoing = Arc::new(Outgoing {
                    next,
                    outgoing: tel.counter(
                        "otelcol_processor_outgoing_items",
                        "Number of items emitted from the processor.",
                        &labels,
                    ),
                });
                let proc = planned
                    .factory
                    .build(ctx, &*planned.config, signal, outgoing)
                    .map_err(|e| build_error(ComponentKind::Processor, id, e))?;
                next = Arc::new(ProcessorNode {
                    inner: proc.clone(),
                    incoming: tel.counter(
                        "otelcol_processor_incoming_items",
                        "Number of items passed to the processor.",
                        &labels,
                    ),
                });
                instances.push((id.clone(), proc));
            }
            instances.reverse();
            processors.push((pid.clone(), instances));
            heads.insert(pid, next);
        }

        // receivers: one instance per id; per signal, a fan-out to every pipeline that lists it
        let mut receiver_ids: Vec<&ComponentId> = plan
            .pipelines
            .values()
            .flat_map(|p| p.receivers.iter())
            .collect();
        receiver_ids.sort();
        receiver_ids.dedup();
        let mut receivers = Vec::new();
        for id in receiver_ids {
            let mut consumers = SignalConsumers::default();
            let mut signals = Vec::new();
            for signal in Signal::ALL {
                let branches: Vec<SharedConsumer> = plan
                    .pipelines
                    .iter()
                    .filter(|(pid, p)| pid.signal() == signal && p.receivers.contains(id))
                    .map(|(pid, _)| heads[pid].clone())
                    .collect();
                if !branches.is_empty() {
                    consumers.set(signal, FanOut::consumer(branches));
                    signals.push(signal);
                }
            }
            let p = &plan.receivers[id];
            let ctx = context(
                telemetry,
                memory,
                ComponentKind::Receiver,
                id,
                signals,
                &ext_map,
            );
            let r = p
                .factory
                .build(ctx, &*p.config, consumers)
                .map_err(|e| build_error(ComponentKind::Receiver, id, e))?;
            receivers.push((id.clone(), r));
        }

        let info = GraphInfo {
            pipelines: plan
                .pipelines
                .iter()
                .map(|(id, p)| PipelineInfo {
                    id: id.clone(),
                    receivers: p.receivers.clone(),
                    processors: p.processors.clone(),
                    exporters: p.exporters.clone(),
                })
                .collect(),
            extensions: plan.service_extensions.clone(),
        };
        Ok(Graph {
            receivers,
            processors,
            exporters,
            runners,
            extensions,
            running: Vec::new(),
            receivers_token: CancellationToken::new(),
            info,
        })
    }

    /// Start extensions, exporters, processors, then receivers last. On a failure, what was
    /// started is shut down again.
    pub async fn start(&mut self) -> Result<(), BuildError> {
        for (id, e) in &self.extensions {
            e.start()
                .await
                .map_err(|e| build_error(ComponentKind::Extension, id, e))?;
        }
        for (id, e) in &self.exporters {
            e.start()
                .await
                .map_err(|e| build_error(ComponentKind::Exporter, id, e))?;
        }
        for r in &self.runners {
            r.start()
                .await
                .map_err(|e| build_error(ComponentKind::Exporter, r.id(), BuildError::new(e)))?;
        }
        for (_, procs) in &self.processors {
            for (id, p) in procs {
                p.start()
                    .await
                    .map_err(|e| build_error(ComponentKind::Processor, id, e))?;
            }
        }
        for (id, r) in self.receivers.drain(..) {
            let token = self.receivers_token.child_token();
            let span = tracing::info_span!("receiver", otelcol.component.id = %id, otelcol.component.kind = "receiver");
            let rid = id.clone();
            let handle = tokio::spawn(
                async move {
                    if let Err(e) = r.run(token).await {
                        error!(receiver = %rid, error = %e, "Receiver stopped with an error");
                    }
                }
                .instrument(span),
            );
            self.running.push(RunningReceiver { id, handle });
        }
        for (_, e) in &self.extensions {
            e.graph_ready(&self.info);
            e.ready();
        }
        Ok(())
    }

    /// Drain in order under one deadline: receivers stop accepting → processors flush
    /// (pipeline order) → receivers finish in-flight requests → exporters shut down →
    /// extensions.
    /// Returns the components that missed the deadline.
    pub async fn shutdown(mut self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut missed = Vec::new();
        for (_, e) in &self.extensions {
            e.not_ready();
        }
        // Receivers stop accepting; the requests they still serve may be waiting on data a
        // processor holds (a batch), so processors flush now, in pipeline order, and hand
        // on anything that still arrives; then the receivers finish.
        self.receivers_token.cancel();
        for (_, procs) in &self.processors {
            for (id, p) in procs {
                if tokio::time::timeout_at(deadline, p.shutdown())
                    .await
                    .is_err()
                {
                    missed.push(format!("processor {id}"));
                }
            }
        }
        for r in self.running.drain(..) {
            let abort = r.handle.abort_handle();
            if tokio::time::timeout_at(deadline, r.handle).await.is_err() {
                abort.abort();
                missed.push(format!("receiver {}", r.id));
            }
        }
        for r in &self.runners {
            if !r.shutdown(deadline).await {
                missed.push(format!("exporter {} (sending queue)", r.id()));
            }
        }
        for (id, e) in &self.exporters {
            if tokio::time::timeout_at(deadline, e.shutdown())
                .await
                .is_err()
            {
                missed.push(format!("exporter {id}"));
            }
        }
        for (id, e) in self.extensions.iter().rev() {
            if tokio::time::timeout_at(deadline, e.shutdown())
                .await
                .is_err()
            {
                missed.push(format!("extension {id}"));
            }
        }
        if missed.is_empty() {
            info!("Shutdown complete.");
        } else {
            error!(missed = ?missed, "Shutdown deadline passed; these components did not finish in time");
        }
        missed
    }
}

#[cfg(test)]
mod tests;
