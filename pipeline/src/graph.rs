//! The running pipeline graph: one receiver instance per receiver id, processor instances
//! per pipeline, one exporter instance per exporter id, one connector instance per connector
//! id and signal pair; concurrent fan-out without copies; ordered start and drain under one
//! deadline; reload by difference (`reload.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pipeline_api::telemetry::{ComponentTelemetry, Telemetry};
use pipeline_api::MemoryBudget;
use pipeline_api::{
    async_trait, Batch, BuildContext, BuildError, ComponentId, ComponentKind, ConnectorNext,
    ConsumeError, Consumer, Exporter, Extension, GraphInfo, PipelineId, PipelineInfo, Processor,
    Receiver, SharedConsumer, Signal, SignalConsumers,
};
use prometheus::IntCounter;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, Instrument};

use crate::config::Plan;
use crate::exporter::ExporterRunner;

mod reload;
pub use reload::Reloaded;

/// How long the parts of a new graph that failed to start get to stop.
const RELOAD_CLEANUP: Duration = Duration::from_secs(5);

pub use pipeline_api::fanout::{FanOut, PARTIAL_RETRY};

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

/// A receiver's way into the graph for one signal. A reload points it at the new pipelines
/// while the receiver keeps serving: it takes the write lock, which waits for the batches in
/// flight and holds new ones back until the new graph runs, then swaps the target.
pub struct Switch {
    target: Arc<tokio::sync::RwLock<SharedConsumer>>,
}

impl Switch {
    fn new(target: SharedConsumer) -> Arc<Switch> {
        Arc::new(Switch {
            target: Arc::new(tokio::sync::RwLock::new(target)),
        })
    }
}

#[async_trait]
impl Consumer for Switch {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let target = self.target.read().await;
        target.consume(batch).await
    }
}

/// The switches of one receiver, one per signal it feeds.
type Switches = Vec<(Signal, Arc<Switch>)>;

struct RunningReceiver {
    id: ComponentId,
    handle: JoinHandle<()>,
    token: CancellationToken,
    switches: Switches,
}

/// One exporter id: its instance and, per signal, the runner (queue, retry, timeout) in
/// front of it.
struct ExporterInstance {
    exporter: Arc<dyn Exporter>,
    runners: BTreeMap<Signal, Arc<ExporterRunner>>,
    started: bool,
}

impl ExporterInstance {
    /// Drain the runners, then shut the exporter down; the parts that missed the deadline
    /// are added to `missed`.
    async fn shutdown(&self, id: &ComponentId, deadline: Instant, missed: &mut Vec<String>) {
        for r in self.runners.values() {
            if !r.shutdown(deadline).await {
                missed.push(format!("exporter {id} (sending queue)"));
            }
        }
        if tokio::time::timeout_at(deadline, self.exporter.shutdown())
            .await
            .is_err()
        {
            missed.push(format!("exporter {id}"));
        }
    }
}

/// One pipeline's processor instances, in pipeline order.
type PipelineProcessors = Vec<(ComponentId, Arc<dyn Processor>)>;

/// One connector instance: a connector id for one (taken, emitted) signal pair.
struct ConnectorInstance {
    id: ComponentId,
    from: Signal,
    to: Signal,
    /// The position (in `Graph::processors`, upstream first) of the last pipeline that
    /// feeds it: it is drained right after that pipeline.
    after: usize,
    inner: Arc<dyn Processor>,
}

impl ConnectorInstance {
    fn name(&self) -> String {
        format!("connector {} ({} to {})", self.id, self.from, self.to)
    }
}

/// What a reload keeps running: receivers still serving and exporters with their queues.
#[derive(Default)]
struct Kept {
    receivers: BTreeMap<ComponentId, RunningReceiver>,
    exporters: BTreeMap<ComponentId, ExporterInstance>,
}

/// A built graph. `start` runs it; `shutdown` drains it; `reload` changes it.
pub struct Graph {
    /// Built, not yet running.
    receivers: Vec<(ComponentId, Box<dyn Receiver>, Switches)>,
    running: Vec<RunningReceiver>,
    /// Kept receivers' switches and the pipelines they lead to after a reload.
    rewire: Vec<(Arc<Switch>, SharedConsumer)>,
    /// Every pipeline's processors, pipelines upstream first.
    processors: Vec<(PipelineId, PipelineProcessors)>,
    /// Sorted by `after`.
    connectors: Vec<ConnectorInstance>,
    exporters: BTreeMap<ComponentId, ExporterInstance>,
    extensions: Vec<(ComponentId, Arc<dyn Extension>)>,
    extensions_started: bool,
    ext_map: Arc<BTreeMap<ComponentId, Arc<dyn Extension>>>,
    receivers_token: CancellationToken,
    telemetry: Arc<Telemetry>,
    memory: MemoryBudget,
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
    let mut component = telemetry.component(kind, id);
    // Go builds a receiver once per signal, except the shared `otlp`: its telemetry scopes
    // name the signal
    if kind == ComponentKind::Receiver && id.type_name() != "otlp" && signals.len() == 1 {
        component = component.with_signal(signals[0]);
    }
    BuildContext {
        id: id.clone(),
        telemetry: component,
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

/// The signals of the pipelines that list `id` among their receivers (`receivers`) or
/// exporters.
fn signals_of(plan: &Plan, id: &ComponentId, receivers: bool) -> Vec<Signal> {
    let mut out: Vec<Signal> = plan
        .pipelines
        .iter()
        .filter(|(_, p)| {
            if receivers {
                p.receivers.contains(id)
            } else {
                p.exporters.contains(id)
            }
        })
        .map(|(pid, _)| pid.signal())
        .collect();
    out.sort();
    out.dedup();
    out
}

type Extensions = (
    Vec<(ComponentId, Arc<dyn Extension>)>,
    Arc<BTreeMap<ComponentId, Arc<dyn Extension>>>,
);

fn build_extensions(
    plan: &Plan,
    telemetry: &Arc<Telemetry>,
    memory: &MemoryBudget,
) -> Result<Extensions, BuildError> {
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
    Ok((extensions, Arc::new(ext_map)))
}

impl Graph {
    /// Build every component of a plan (binding sockets, spawning nothing).
    pub fn build(
        plan: &Plan,
        telemetry: &Arc<Telemetry>,
        memory: &MemoryBudget,
    ) -> Result<Graph, BuildError> {
        // extensions first: other components may look them up
        let extensions = build_extensions(plan, telemetry, memory)?;
        Graph::assemble(plan, telemetry, memory, extensions, false, Kept::default())
            .map_err(|(e, _)| e)
    }

    /// Build what a plan needs around running parts: `kept` receivers keep serving (their
    /// switches are pointed at the new pipelines by `rewire`) and `kept` exporters keep their
    /// queues. On an error, the kept parts are handed back untouched.
    fn assemble(
        plan: &Plan,
        telemetry: &Arc<Telemetry>,
        memory: &MemoryBudget,
        (extensions, ext_map): Extensions,
        extensions_started: bool,
        mut kept: Kept,
    ) -> Result<Graph, (BuildError, Kept)> {
        macro_rules! tri {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(e) => return Err((e, kept)),
                }
            };
        }
        // exporters: one instance per id, for every signal that uses it
        let mut exporters: BTreeMap<ComponentId, ExporterInstance> = BTreeMap::new();
        for id in plan.exporters.keys() {
            let signals = signals_of(plan, id, false);
            if signals.is_empty() || kept.exporters.contains_key(id) {
                continue;
            }
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
            let exp = tri!(p.factory.build(ctx, &*p.config).map_err(|e| build_error(
                ComponentKind::Exporter,
                id,
                e
            )));
            let storage_id = p
                .common
                .sending_queue
                .storage
                .as_deref()
                .filter(|_| p.common.sending_queue.enabled);
            let mut runners = BTreeMap::new();
            for s in signals {
                let storage = match storage_id {
                    Some(sid) => Some(tri!(queue_storage(&ext_map, sid, id, s))),
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
                runners.insert(s, runner);
            }
            exporters.insert(
                id.clone(),
                ExporterInstance {
                    exporter: exp,
                    runners,
                    started: false,
                },
            );
        }
        let runner = |id: &ComponentId, s: Signal| -> SharedConsumer {
            exporters
                .get(id)
                .or_else(|| kept.exporters.get(id))
                .map(|e| e.runners[&s].clone())
                .expect("every exporter in use is built or kept")
        };

        // pipelines, downstream first (a connector's target pipelines are built before the
        // pipelines that feed it), each from its exporters back to its first processor
        let mut heads: BTreeMap<PipelineId, SharedConsumer> = BTreeMap::new();
        let mut connector_nodes: BTreeMap<(ComponentId, Signal, Signal), SharedConsumer> =
            BTreeMap::new();
        let mut processors = Vec::new();
        let mut connectors = Vec::new();
        for pid in plan.order.iter().rev() {
            let p = &plan.pipelines[pid];
            let signal = pid.signal();
            let mut branches = Vec::new();
            for e in p
                .exporters
                .iter()
                .filter(|e| !plan.connectors.contains_key(*e))
            {
                branches.push(runner(e, signal));
            }
            for key in plan.connector_edges(pid) {
                if let Some(node) = connector_nodes.get(&key) {
                    branches.push(node.clone());
                    continue;
                }
                let (id, from, to) = &key;
                let targets: Vec<(PipelineId, SharedConsumer)> = plan
                    .connector_targets(id, *to)
                    .into_iter()
                    .map(|q| {
                        let head = heads[&q].clone();
                        (q, head)
                    })
                    .collect();
                let next = ConnectorNext {
                    all: FanOut::consumer(targets.iter().map(|(_, c)| c.clone()).collect()),
                    pipelines: targets,
                };
                let planned = &plan.connectors[id];
                let ctx = context(
                    telemetry,
                    memory,
                    ComponentKind::Connector,
                    id,
                    vec![*from, *to],
                    &ext_map,
                );
                let conn = tri!(planned
                    .factory
                    .build(ctx, &*planned.config, *from, *to, next)
                    .map_err(|e| build_error(ComponentKind::Connector, id, e)));
                let node: SharedConsumer = conn.clone();
                connector_nodes.insert(key.clone(), node.clone());
                // drained right after the last pipeline that feeds it
                let last_upstream = plan
                    .order
                    .iter()
                    .rposition(|q| q.signal() == *from && plan.pipelines[q].exporters.contains(id))
                    .unwrap_or(0);
                connectors.push(ConnectorInstance {
                    id: id.clone(),
                    from: *from,
                    to: *to,
                    after: last_upstream,
                    inner: conn,
                });
                branches.push(node);
            }
            let mut next = FanOut::consumer(branches);
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
                let proc = tri!(planned
                    .factory
                    .build(ctx, &*planned.config, signal, outgoing)
                    .map_err(|e| build_error(ComponentKind::Processor, id, e)));
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
            heads.insert(pid.clone(), next);
        }
        // upstream first, as they are drained
        processors.reverse();
        connectors.sort_by_key(|c| c.after);

        // receivers: one instance per id; per signal, a switch over a fan-out to every
        // pipeline that lists it
        let mut receivers = Vec::new();
        let mut rewire = Vec::new();
        for id in plan.receivers.keys() {
            let signals = signals_of(plan, id, true);
            if signals.is_empty() {
                continue;
            }
            let fan_out = |signal: Signal| {
                FanOut::consumer(
                    plan.pipelines
                        .iter()
                        .filter(|(pid, p)| pid.signal() == signal && p.receivers.contains(id))
                        .map(|(pid, _)| heads[pid].clone())
                        .collect(),
                )
            };
            if let Some(running) = kept.receivers.get(id) {
                for (signal, switch) in &running.switches {
                    rewire.push((switch.clone(), fan_out(*signal)));
                }
                continue;
            }
            let mut consumers = SignalConsumers::default();
            let mut switches = Vec::new();
            for &signal in &signals {
                let switch = Switch::new(fan_out(signal));
                consumers.set(signal, switch.clone());
                switches.push((signal, switch));
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
            let r = tri!(p
                .factory
                .build(ctx, &*p.config, consumers)
                .map_err(|e| build_error(ComponentKind::Receiver, id, e)));
            receivers.push((id.clone(), r, switches));
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
        exporters.append(&mut kept.exporters);
        Ok(Graph {
            receivers,
            running: kept.receivers.into_values().collect(),
            rewire,
            processors,
            connectors,
            exporters,
            extensions,
            extensions_started,
            ext_map,
            receivers_token: CancellationToken::new(),
            telemetry: telemetry.clone(),
            memory: memory.clone(),
            info,
        })
    }

    /// Start what is not running yet: extensions, exporters (and their queue consumers),
    /// pipelines downstream first, then receivers. Kept receivers are pointed at the new
    /// pipelines last. On a failure the caller shuts the graph down.
    pub async fn start(&mut self) -> Result<(), BuildError> {
        if !self.extensions_started {
            for (id, e) in &self.extensions {
                e.start()
                    .await
                    .map_err(|e| build_error(ComponentKind::Extension, id, e))?;
            }
            self.extensions_started = true;
        }
        for (id, e) in self.exporters.iter_mut().filter(|(_, e)| !e.started) {
            e.exporter
                .start()
                .await
                .map_err(|e| build_error(ComponentKind::Exporter, id, e))?;
            for r in e.runners.values() {
                r.start().await.map_err(|e| {
                    build_error(ComponentKind::Exporter, r.id(), BuildError::new(e))
                })?;
            }
            e.started = true;
        }
        // downstream first: each pipeline's processors (last first) after the connectors
        // it feeds, which start after the pipelines they feed
        for (i, (_, procs)) in self.processors.iter().enumerate().rev() {
            for c in self.connectors.iter().filter(|c| c.after == i) {
                c.inner
                    .start()
                    .await
                    .map_err(|e| build_error(ComponentKind::Connector, &c.id, e))?;
            }
            for (id, p) in procs.iter().rev() {
                p.start()
                    .await
                    .map_err(|e| build_error(ComponentKind::Processor, id, e))?;
            }
        }
        for (id, r, switches) in self.receivers.drain(..) {
            let token = self.receivers_token.child_token();
            let span = tracing::info_span!("receiver", otelcol.component.id = %id, otelcol.component.kind = "receiver");
            let rid = id.clone();
            let run_token = token.clone();
            let handle = tokio::spawn(
                async move {
                    if let Err(e) = r.run(run_token).await {
                        error!(receiver = %rid, error = %e, "Receiver stopped with an error");
                    }
                }
                .instrument(span),
            );
            self.running.push(RunningReceiver {
                id,
                handle,
                token,
                switches,
            });
        }
        for (_, e) in &self.extensions {
            e.graph_ready(&self.info);
            e.ready();
        }
        Ok(())
    }

    /// Flush every pipeline's processors, upstream first, each connector right after the
    /// last pipeline feeding it.
    async fn drain_pipelines(&self, deadline: Instant, missed: &mut Vec<String>) {
        for (i, (pid, procs)) in self.processors.iter().enumerate() {
            for (id, p) in procs {
                if tokio::time::timeout_at(deadline, p.shutdown())
                    .await
                    .is_err()
                {
                    missed.push(format!("processor {id} in pipeline {pid}"));
                }
            }
            for c in self.connectors.iter().filter(|c| c.after == i) {
                if tokio::time::timeout_at(deadline, c.inner.shutdown())
                    .await
                    .is_err()
                {
                    missed.push(c.name());
                }
            }
        }
    }

    /// Wait for stopping receivers to finish their requests in flight.
    async fn join_receivers(
        receivers: Vec<RunningReceiver>,
        deadline: Instant,
        missed: &mut Vec<String>,
    ) {
        for r in receivers {
            let abort = r.handle.abort_handle();
            if tokio::time::timeout_at(deadline, r.handle).await.is_err() {
                abort.abort();
                missed.push(format!("receiver {}", r.id));
            }
        }
    }

    /// Drain in order under one deadline: receivers stop accepting → pipelines flush,
    /// upstream first → receivers finish in-flight requests → exporters shut down →
    /// extensions.
    /// Returns the components that missed the deadline.
    pub async fn shutdown(self, timeout: Duration) -> Vec<String> {
        let missed = self.shutdown_parts(Instant::now() + timeout, true).await;
        if missed.is_empty() {
            info!("Shutdown complete.");
        } else {
            error!(missed = ?missed, "Shutdown deadline passed; these components did not finish in time");
        }
        missed
    }

    /// [`Graph::shutdown`], leaving the extensions running when `extensions` is false (a
    /// reload that keeps them).
    async fn shutdown_parts(mut self, deadline: Instant, extensions: bool) -> Vec<String> {
        let mut missed = Vec::new();
        if extensions {
            for (_, e) in &self.extensions {
                e.not_ready();
            }
        }
        // Receivers stop accepting; the requests they still serve may be waiting on data a
        // processor holds (a batch), so processors flush now, in pipeline order, and hand
        // on anything that still arrives; then the receivers finish.
        self.receivers_token.cancel();
        for r in &self.running {
            r.token.cancel();
        }
        self.drain_pipelines(deadline, &mut missed).await;
        Graph::join_receivers(std::mem::take(&mut self.running), deadline, &mut missed).await;
        for (id, e) in &self.exporters {
            e.shutdown(id, deadline, &mut missed).await;
        }
        if extensions {
            for (id, e) in self.extensions.iter().rev() {
                if tokio::time::timeout_at(deadline, e.shutdown())
                    .await
                    .is_err()
                {
                    missed.push(format!("extension {id}"));
                }
            }
        }
        missed
    }
}

#[cfg(test)]
mod tests;
