//! `resourcedetection` processor (Go's `processor/resourcedetectionprocessor`, v0.155.0,
//! whose type is now `resource_detection` with `resourcedetection` its deprecated alias;
//! both are accepted here). At start every configured detector runs (concurrently, each
//! retried with a growing pause until `timeout`); their attributes merge in `detectors`
//! order (an earlier detector's value wins) and are then added to the resource of every
//! item — replacing the item's own values when `override` is true (the default), else only
//! where the item has none. A detector that still fails at the deadline fails the start,
//! as in Go.
//!
//! Detectors: `env`, `system`, `docker`, `ec2`, `ecs`, `gcp`, `azure` (see
//! [`detectors`]). Go's other detectors are refused by name.

pub mod config;
pub mod detectors;
#[cfg(test)]
mod tests;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use pipeline_api::proto::tonic::common::v1::KeyValue;
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::{
    async_trait, Batch, BatchData, BuildError, ConsumeError, Consumer, Processor, ProcessorFactory,
    SharedConsumer, Signal,
};
use pipeline_api::{declare, Meta, Stability};
use transport::http::ClientOptions;

pub use config::Config;
use detectors::Endpoints;

pub const TYPE_NAME: &str = "resourcedetection";

/// Go v0.155.0: `type: resource_detection`, `deprecated_type: resourcedetection`.
pub const META: Meta = Meta::new(TYPE_NAME)
    .aliases(&[("resource_detection", false)])
    .traces(Stability::Beta)
    .metrics(Stability::Beta)
    .logs(Stability::Beta);

pub fn factory() -> Arc<dyn ProcessorFactory> {
    declare::processor::<Config>(META, |ctx, cfg, signal, next| {
        Ok(Arc::new(ResourceDetectionProcessor::new(
            &ctx.id.to_string(),
            cfg,
            Endpoints::from_env(),
            signal,
            next,
        )?))
    })
}

/// One instance (one per pipeline).
pub struct ResourceDetectionProcessor {
    id: String,
    cfg: Config,
    endpoints: Endpoints,
    client: reqwest::Client,
    signal: Signal,
    next: SharedConsumer,
    detected: RwLock<Arc<Vec<KeyValue>>>,
}

/// Merge `from` into `to`: with `replace`, `from` wins; else only keys `to` lacks are added.
pub fn merge(to: &mut Vec<KeyValue>, from: &[KeyValue], replace: bool) {
    for kv in from {
        match to.iter_mut().find(|x| x.key == kv.key) {
            Some(existing) => {
                if replace {
                    *existing = kv.clone();
                }
            }
            None => to.push(kv.clone()),
        }
    }
}

impl ResourceDetectionProcessor {
    pub fn new(
        id: &str,
        cfg: &Config,
        endpoints: Endpoints,
        signal: Signal,
        next: SharedConsumer,
    ) -> Result<ResourceDetectionProcessor, BuildError> {
        let client = cfg.http.build(
            id,
            ClientOptions {
                http1_only: true,
                compresses_bodies: false,
            },
        )?;
        Ok(ResourceDetectionProcessor {
            id: id.to_string(),
            cfg: cfg.clone(),
            endpoints,
            client,
            signal,
            next,
            detected: RwLock::new(Arc::new(Vec::new())),
        })
    }

    /// The attributes detected at start.
    pub fn detected(&self) -> Arc<Vec<KeyValue>> {
        self.detected.read().map(|d| d.clone()).unwrap_or_default()
    }

    async fn detect_once(&self, name: &str, per_try: Duration) -> Result<Vec<KeyValue>, String> {
        let (cfg, ep, client) = (&self.cfg, &self.endpoints, &self.client);
        let fut = async {
            match name {
                "env" => detectors::parse_env(&ep.env_attributes),
                "system" => detectors::detect_system(cfg, ep),
                "docker" => detectors::detect_docker(cfg, ep, per_try).await,
                "ec2" => detectors::detect_ec2(cfg, ep, client).await,
                "ecs" => detectors::detect_ecs(cfg, ep, client).await,
                "gcp" => detectors::detect_gcp(cfg, ep, client).await,
                "azure" => detectors::detect_azure(cfg, ep, client).await,
                other => Err(format!("invalid detector key: {other}")),
            }
        };
        tokio::time::timeout(per_try, fut)
            .await
            .map_err(|_| format!("{name}: no answer within {per_try:?}"))?
    }

    /// One detector, retried with a doubling pause (1s first, as Go's backoff) until the
    /// deadline.
    async fn detect(&self, name: &str, deadline: Instant) -> Result<Vec<KeyValue>, String> {
        let mut pause = Duration::from_secs(1);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let r = self
                .detect_once(name, left.max(Duration::from_millis(10)))
                .await;
            match r {
                Ok(kvs) => return Ok(kvs),
                Err(e) => {
                    tracing::warn!(processor = %self.id, detector = name, error = %e, "failed to detect resource");
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left <= pause {
                        return Err(format!("{name}: {e}"));
                    }
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        }
    }

    /// Run every detector and keep the merged result.
    pub async fn detect_all(&self) -> Result<(), BuildError> {
        let deadline = Instant::now() + self.cfg.timeout.get().max(Duration::from_millis(1));
        let runs = self.cfg.detectors.iter().map(|d| self.detect(d, deadline));
        let results = futures_join(runs).await;
        let mut merged = Vec::new();
        let mut errors = Vec::new();
        for r in results {
            match r {
                Ok(kvs) => merge(&mut merged, &kvs, false),
                Err(e) => errors.push(e),
            }
        }
        if let Some(keep) = &self.cfg.attributes {
            merged.retain(|kv| keep.contains(&kv.key));
        }
        tracing::info!(processor = %self.id, attributes = merged.len(), "detected resource information");
        if let Ok(mut d) = self.detected.write() {
            *d = Arc::new(merged);
        }
        if !errors.is_empty() {
            return Err(BuildError::new(format!(
                "{}: resource detection failed: {}",
                self.id,
                errors.join("; ")
            )));
        }
        Ok(())
    }

    pub fn process(&self, data: &mut BatchData) {
        let detected = self.detected();
        if detected.is_empty() {
            return;
        }
        let apply = |r: &mut Option<Resource>| {
            let res = r.get_or_insert_with(Resource::default);
            merge(&mut res.attributes, &detected, self.cfg.override_);
        };
        match data {
            BatchData::Traces(req) => req
                .resource_spans
                .iter_mut()
                .for_each(|rs| apply(&mut rs.resource)),
            BatchData::Metrics(req) => req
                .resource_metrics
                .iter_mut()
                .for_each(|rm| apply(&mut rm.resource)),
            BatchData::Logs(req) => req
                .resource_logs
                .iter_mut()
                .for_each(|rl| apply(&mut rl.resource)),
        }
    }
}

/// Await every future, concurrently, results in order.
async fn futures_join<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let futs: Vec<_> = futs.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    let mut pending: Vec<(usize, std::pin::Pin<Box<F>>)> = futs.into_iter().enumerate().collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|(i, f)| match f.as_mut().poll(cx) {
            std::task::Poll::Ready(v) => {
                out[*i] = Some(v);
                false
            }
            std::task::Poll::Pending => true,
        });
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

#[async_trait]
impl Consumer for ResourceDetectionProcessor {
    async fn consume(&self, mut batch: Batch) -> Result<(), ConsumeError> {
        if batch.signal() != self.signal {
            return Err(ConsumeError::permanent(format!(
                "resourcedetection processor of a {} pipeline got {}",
                self.signal,
                batch.signal()
            )));
        }
        let detected = self.detected();
        if !batch.is_empty() && !detected.is_empty() {
            // only the resources change: a batch still in its wire form stays in it
            batch.edit_resources(|r| merge(&mut r.attributes, &detected, self.cfg.override_));
        }
        self.next.consume(batch).await
    }
}

#[async_trait]
impl Processor for ResourceDetectionProcessor {
    async fn start(&self) -> Result<(), BuildError> {
        self.detect_all().await
    }
}
