//! Reload by difference (SIGHUP): receivers whose config and signals did not change keep
//! their listeners and go on serving, exporters whose config and signals did not change keep
//! their instance and queues (in memory or on disk); processors and connectors are rebuilt;
//! removed or changed receivers and exporters are drained. A change of the extensions
//! rebuilds everything.
//!
//! While the new parts are built, the kept receivers' switches are held: a batch that arrives
//! waits (it is not refused) and goes to the new pipelines once they run. If the new config
//! cannot be built or started, the previous one is built again around the same kept parts.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use pipeline_api::telemetry::Telemetry;
use pipeline_api::{ComponentId, MemoryBudget, SharedConsumer};
use tokio::sync::OwnedRwLockWriteGuard;
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::{signals_of, ExporterInstance, Graph, Kept, Switch};
use crate::config::Plan;

/// The result of [`Graph::reload`].
pub enum Reloaded {
    /// The new config runs. The text says what was kept and what rebuilt.
    New(Graph, String),
    /// The new config could not start (the error); the previous one runs again.
    Previous(Graph, String),
    /// Neither could start.
    Failed(String),
}

/// Held switches of kept receivers: batches wait until the new pipelines run.
type Held = Vec<(Arc<Switch>, OwnedRwLockWriteGuard<SharedConsumer>)>;

fn same_extensions(old: &Plan, new: &Plan) -> bool {
    old.service_extensions == new.service_extensions
        && old
            .service_extensions
            .iter()
            .all(|id| old.extensions[id].raw == new.extensions[id].raw)
}

/// A receiver is kept when its config and the signals it feeds are unchanged.
fn keep_receiver(old: &Plan, new: &Plan, id: &ComponentId) -> bool {
    match (old.receivers.get(id), new.receivers.get(id)) {
        (Some(a), Some(b)) => {
            a.raw == b.raw && signals_of(old, id, true) == signals_of(new, id, true)
        }
        _ => false,
    }
}

/// An exporter is kept when its config (with the queue and retry keys) and the signals it
/// takes are unchanged.
fn keep_exporter(old: &Plan, new: &Plan, id: &ComponentId) -> bool {
    match (old.exporters.get(id), new.exporters.get(id)) {
        (Some(a), Some(b)) => {
            a.raw == b.raw && signals_of(old, id, false) == signals_of(new, id, false)
        }
        _ => false,
    }
}

/// An old exporter the new one would clash with (a listener, a persistent queue's storage)
/// is stopped before the new parts are built; any other is drained beside the new graph.
fn must_stop_first(old: &Plan, id: &ComponentId) -> bool {
    old.exporters.get(id).is_some_and(|e| {
        !e.config.listen_addresses().is_empty()
            || (e.common.sending_queue.enabled && e.common.sending_queue.storage.is_some())
    })
}

fn names<'a>(ids: impl Iterator<Item = &'a ComponentId>) -> String {
    let v: Vec<String> = ids.map(|i| i.to_string()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

impl Graph {
    /// Change the running graph from `old` to `new`, keeping what did not change.
    pub async fn reload(mut self, old: &Plan, new: &Plan, timeout: Duration) -> Reloaded {
        let deadline = Instant::now() + timeout;
        if !same_extensions(old, new) {
            info!("The extensions changed: rebuilding everything");
            return self.restart(old, new, timeout).await;
        }
        let keep_r: BTreeSet<ComponentId> = self
            .running
            .iter()
            .map(|r| r.id.clone())
            .filter(|id| keep_receiver(old, new, id))
            .collect();
        let keep_e: BTreeSet<ComponentId> = self
            .exporters
            .keys()
            .filter(|id| keep_exporter(old, new, id))
            .cloned()
            .collect();

        // hold the kept receivers' switches: batches in flight finish, new ones wait
        let mut held: Held = Vec::new();
        for r in self.running.iter().filter(|r| keep_r.contains(&r.id)) {
            for (_, switch) in &r.switches {
                let lock = switch.target.clone().write_owned();
                match tokio::time::timeout_at(deadline, lock).await {
                    Ok(guard) => held.push((switch.clone(), guard)),
                    Err(_) => {
                        drop(held);
                        warn!("Batches in flight did not finish in time: rebuilding everything");
                        return self.restart(old, new, timeout).await;
                    }
                }
            }
        }

        // stop the receivers that go or change, drain the old pipelines, stop the
        // exporters that go or change (in the background unless the new ones need what
        // they hold)
        let mut missed = Vec::new();
        let (kept_running, stopping): (Vec<_>, Vec<_>) = std::mem::take(&mut self.running)
            .into_iter()
            .partition(|r| keep_r.contains(&r.id));
        for r in &stopping {
            r.token.cancel();
        }
        self.drain_pipelines(deadline, &mut missed).await;
        Graph::join_receivers(stopping, deadline, &mut missed).await;
        let mut kept = Kept {
            receivers: kept_running
                .into_iter()
                .map(|r| (r.id.clone(), r))
                .collect(),
            exporters: Default::default(),
        };
        let mut later: Vec<(ComponentId, ExporterInstance)> = Vec::new();
        for (id, e) in std::mem::take(&mut self.exporters) {
            if keep_e.contains(&id) {
                kept.exporters.insert(id, e);
            } else if must_stop_first(old, &id) {
                e.shutdown(&id, deadline, &mut missed).await;
            } else {
                later.push((id, e));
            }
        }
        if !missed.is_empty() {
            error!(missed = ?missed, "Reload: these components did not finish in time");
        }
        let summary = format!(
            "kept receivers: {}; kept exporters: {}",
            names(keep_r.iter()),
            names(keep_e.iter())
        );

        let extensions = (self.extensions.clone(), self.ext_map.clone());
        let (telemetry, memory) = (self.telemetry.clone(), self.memory.clone());
        let outcome = match Graph::launch(new, &telemetry, &memory, &extensions, kept).await {
            Ok(graph) => Ok(graph),
            Err((e, kept)) => {
                error!(error = %e, "Cannot start the new config; going back to the previous one");
                match Graph::launch(old, &telemetry, &memory, &extensions, kept).await {
                    Ok(graph) => Err((e, Some(graph))),
                    Err((e2, kept)) => {
                        drop(held);
                        let rest = kept.shutdown(deadline).await;
                        if !rest.is_empty() {
                            error!(missed = ?rest, "Reload: these components did not finish in time");
                        }
                        for (_, x) in self.extensions.iter().rev() {
                            x.shutdown().await;
                        }
                        return Reloaded::Failed(format!(
                            "{e}; the previous config cannot start either: {e2}"
                        ));
                    }
                }
            }
        };
        let graph = match &outcome {
            Ok(g) | Err((_, Some(g))) => g,
            Err((_, None)) => unreachable!("handled above"),
        };
        // the new pipelines run: let the held batches in
        for (switch, target) in &graph.rewire {
            if let Some((_, guard)) = held.iter_mut().find(|(s, _)| Arc::ptr_eq(s, switch)) {
                **guard = target.clone();
            }
        }
        drop(held);
        for (id, e) in later {
            tokio::spawn(async move {
                let mut missed = Vec::new();
                e.shutdown(&id, deadline, &mut missed).await;
                if !missed.is_empty() {
                    error!(missed = ?missed, "Reload: these components did not finish in time");
                }
            });
        }
        match outcome {
            Ok(mut g) => {
                g.rewire.clear();
                Reloaded::New(g, summary)
            }
            Err((e, Some(mut g))) => {
                g.rewire.clear();
                Reloaded::Previous(g, e)
            }
            Err((_, None)) => unreachable!("handled above"),
        }
    }

    /// Build and start a plan around running extensions and kept parts; on a failure what
    /// was started is stopped and the kept parts handed back.
    async fn launch(
        plan: &Plan,
        telemetry: &Arc<Telemetry>,
        memory: &MemoryBudget,
        extensions: &super::Extensions,
        kept: Kept,
    ) -> Result<Graph, (String, Kept)> {
        let receivers: BTreeSet<ComponentId> = kept.receivers.keys().cloned().collect();
        let exporters: BTreeSet<ComponentId> = kept.exporters.keys().cloned().collect();
        let mut graph = Graph::assemble(plan, telemetry, memory, extensions.clone(), true, kept)
            .map_err(|(e, kept)| (e.to_string(), kept))?;
        if let Err(e) = graph.start().await {
            let kept = graph.take_kept(&receivers, &exporters);
            graph
                .shutdown_parts(Instant::now() + super::RELOAD_CLEANUP, false)
                .await;
            return Err((e.to_string(), kept));
        }
        Ok(graph)
    }

    /// Take the kept parts back out of a graph that did not start.
    fn take_kept(
        &mut self,
        receivers: &BTreeSet<ComponentId>,
        exporters: &BTreeSet<ComponentId>,
    ) -> Kept {
        let (kept, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.running)
            .into_iter()
            .partition(|r| receivers.contains(&r.id));
        self.running = rest;
        let mut kept_exporters = std::collections::BTreeMap::new();
        for id in exporters {
            if let Some(e) = self.exporters.remove(id) {
                kept_exporters.insert(id.clone(), e);
            }
        }
        Kept {
            receivers: kept.into_iter().map(|r| (r.id.clone(), r)).collect(),
            exporters: kept_exporters,
        }
    }

    /// Rebuild everything: drain the whole graph, start the new plan, or the old one again.
    async fn restart(self, old: &Plan, new: &Plan, timeout: Duration) -> Reloaded {
        let (telemetry, memory) = (self.telemetry.clone(), self.memory.clone());
        self.shutdown(timeout).await;
        match Graph::start_plan(new, &telemetry, &memory, timeout).await {
            Ok(g) => Reloaded::New(g, "rebuilt everything".into()),
            Err(e) => match Graph::start_plan(old, &telemetry, &memory, timeout).await {
                Ok(g) => Reloaded::Previous(g, e),
                Err(e2) => Reloaded::Failed(format!(
                    "{e}; the previous config cannot start either: {e2}"
                )),
            },
        }
    }

    /// Build and start a plan from nothing; on a failure what started is stopped.
    pub async fn start_plan(
        plan: &Plan,
        telemetry: &Arc<Telemetry>,
        memory: &MemoryBudget,
        timeout: Duration,
    ) -> Result<Graph, String> {
        let mut graph = Graph::build(plan, telemetry, memory).map_err(|e| e.to_string())?;
        if let Err(e) = graph.start().await {
            graph.shutdown(timeout).await;
            return Err(e.to_string());
        }
        Ok(graph)
    }
}

impl Kept {
    /// Stop kept parts that have no graph to go to.
    async fn shutdown(self, deadline: Instant) -> Vec<String> {
        let mut missed = Vec::new();
        let receivers: Vec<_> = self.receivers.into_values().collect();
        for r in &receivers {
            r.token.cancel();
        }
        Graph::join_receivers(receivers, deadline, &mut missed).await;
        for (id, e) in &self.exporters {
            e.shutdown(id, deadline, &mut missed).await;
        }
        missed
    }
}
