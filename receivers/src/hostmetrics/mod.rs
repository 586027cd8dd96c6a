//! The `hostmetrics` receiver (Go's `receiver/hostmetricsreceiver`, v0.155.0, whose type is
//! now `host_metrics` with `hostmetrics` its deprecated alias; both are accepted here): every
//! `collection_interval` (first after `initial_delay`) each configured scraper reads the
//! host's `/proc`, `/sys` and `statvfs` and records Go's metrics — names, units,
//! attributes, `metrics:` toggles from Go's generated metadata (see [`metadata`]). The
//! metrics of one round go downstream as one batch, one resource per scraper (per process
//! for `process`), each under the scope Go's scraper names.
//!
//! Linux only (as the files read are); `root_path` reads a host's files mounted elsewhere.

pub mod builder;
pub mod config;
pub mod host;
pub mod metadata;
pub mod scrapers;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{
    async_trait, declare, Batch, BuildContext, BuildError, CancellationToken, ComponentId, Meta,
    Receiver, ReceiverFactory, RequestContext, SharedConsumer, Signal, SignalConsumers, Stability,
};

pub use config::HostMetricsConfig;
use host::Host;
use scrapers::Scrape;

/// Go v0.155.0: `type: host_metrics`, `deprecated_type: hostmetrics`.
pub const META: Meta = Meta::new("hostmetrics")
    .aliases(&[("host_metrics", false)])
    .metrics(Stability::Beta);

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<HostMetricsConfig>(META, |ctx, cfg, next| {
        Ok(Box::new(HostMetricsReceiver::build(ctx, cfg, next)?))
    })
}

/// The configured scrapers, in a fixed order.
pub fn build_scrapers(cfg: &HostMetricsConfig) -> Vec<Box<dyn Scrape>> {
    let s = &cfg.scrapers;
    let mut out: Vec<Box<dyn Scrape>> = Vec::new();
    if let Some(c) = &s.cpu {
        out.push(Box::new(scrapers::Cpu::new(c)));
    }
    if let Some(c) = &s.disk {
        out.push(Box::new(scrapers::Disk::new(c)));
    }
    if let Some(c) = &s.filesystem {
        out.push(Box::new(scrapers::Filesystem::new(c, &cfg.root_path)));
    }
    if let Some(c) = &s.load {
        out.push(Box::new(scrapers::Load::new(c)));
    }
    if let Some(c) = &s.memory {
        out.push(Box::new(scrapers::Memory::new(c)));
    }
    if let Some(c) = &s.network {
        out.push(Box::new(scrapers::Network::new(c)));
    }
    if let Some(c) = &s.paging {
        out.push(Box::new(scrapers::Paging::new(c)));
    }
    if let Some(c) = &s.processes {
        out.push(Box::new(scrapers::Processes::new(c)));
    }
    if let Some(c) = &s.process {
        out.push(Box::new(scrapers::Process::new(c)));
    }
    if let Some(c) = &s.system {
        out.push(Box::new(scrapers::System::new(c)));
    }
    out
}

/// One round: every scraper, the problems each met logged (Go logs a scrape's partial
/// errors and still sends what it got).
pub fn scrape_all(
    id: &ComponentId,
    host: &Host,
    scrapers: &mut [Box<dyn Scrape>],
) -> Vec<ResourceMetrics> {
    let mut out = Vec::new();
    for s in scrapers.iter_mut() {
        let errors = s.scrape(host, &mut out);
        if !errors.is_empty() {
            tracing::warn!(
                receiver = %id,
                scraper = s.name(),
                errors = errors.len(),
                first = %errors[0],
                "Error scraping metrics."
            );
            for e in errors.iter().skip(1).take(20) {
                tracing::debug!(receiver = %id, scraper = s.name(), error = %e, "Scrape error.");
            }
        }
    }
    out.retain(|rm| rm.scope_metrics.iter().any(|sm| !sm.metrics.is_empty()));
    out
}

/// A built receiver: nothing runs until [`Receiver::run`].
pub struct HostMetricsReceiver {
    id: ComponentId,
    host: Host,
    interval: Duration,
    initial_delay: Duration,
    scrapers: Vec<Box<dyn Scrape>>,
    next: SharedConsumer,
    obs: ReceiverObs,
}

impl HostMetricsReceiver {
    pub fn build(
        ctx: BuildContext,
        cfg: &HostMetricsConfig,
        next: SignalConsumers,
    ) -> Result<HostMetricsReceiver, BuildError> {
        let next = next
            .get(Signal::Metrics)
            .cloned()
            .ok_or_else(|| BuildError::new("the hostmetrics receiver produces metrics only"))?;
        Ok(HostMetricsReceiver {
            obs: ctx.telemetry.receiver_obs(""),
            id: ctx.id,
            host: Host::new(&cfg.root_path),
            interval: cfg.collection_interval.get().max(Duration::from_millis(1)),
            initial_delay: cfg.initial_delay.get(),
            scrapers: build_scrapers(cfg),
            next,
        })
    }
}

#[async_trait]
impl Receiver for HostMetricsReceiver {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        let HostMetricsReceiver {
            id,
            host,
            interval,
            initial_delay,
            scrapers,
            next,
            obs,
        } = *self;
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(initial_delay) => {}
        }
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let host = Arc::new(host);
        let mut scrapers = Some(scrapers);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let Some(mut list) = scrapers.take() else {
                break;
            };
            // the reads are blocking file I/O: off the async workers
            let (h, i) = (host.clone(), id.clone());
            let joined = tokio::task::spawn_blocking(move || {
                let rms = scrape_all(&i, &h, &mut list);
                (list, rms)
            })
            .await;
            let Ok((list, rms)) = joined else {
                tracing::error!(receiver = %id, "A scrape failed unexpectedly; the receiver stops.");
                break;
            };
            scrapers = Some(list);
            if rms.is_empty() {
                continue;
            }
            let mut batch = Batch::from_metrics(ExportMetricsServiceRequest {
                resource_metrics: rms,
            });
            batch.set_context(RequestContext {
                receiver: Some(id.clone()),
                ..Default::default()
            });
            let items = batch.items();
            let result = next.consume(batch).await;
            obs.record(Signal::Metrics, items, &result);
            if let Err(e) = result {
                tracing::debug!(receiver = %id, items, error = %e, "The pipeline refused host metrics.");
            }
        }
        tracing::debug!(receiver = %id, "hostmetrics receiver stopped.");
        Ok(())
    }
}
