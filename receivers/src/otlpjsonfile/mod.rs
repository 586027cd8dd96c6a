//! `otlpjsonfile` receiver: reads OTLP/JSON export requests, one per line, from files (what
//! the `file` exporter writes with `format: json`), as Go's `receiver/otlpjsonfilereceiver`.
//!
//! Go facts relied on (`file.go`, `config.schema.yaml`, v0.155.0): the config is the stanza
//! file consumer's (`include`, `exclude`, `start_at` (default `end`), `poll_interval`,
//! `max_log_size` (1 MiB), `encoding`, `multiline`, `compression`, `delete_after_read`...)
//! plus `storage` and `replay_file`; there are no operators, `attributes`, `resource` or
//! `retry_on_failure`. Each line (token) is decoded as an export request of the pipeline's
//! signal; a request with no resources (a line of another signal) is not forwarded; a line
//! that does not decode is counted as an error and skipped, and reading goes on. With
//! `replay_file` no offsets are tracked: every poll reads the files again from the start.
//! The receiver's items are counted with the `file` transport.
//!
//! Ferrotel builds one instance for every signal an id serves and forwards each line to the
//! pipelines of the signals it holds (Go builds one reader per signal, each reading the files
//! on its own). A refused batch is offered again before more is read (as the `filelog`
//! receiver does); Go drops it.

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_api::config::{ConfigError, ConfigValue, Validate};
use pipeline_api::proto::tonic::common::v1::any_value;
use pipeline_api::storage::StorageClient;
use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{
    async_trait, storage_client, Batch, BatchData, BuildContext, BuildError, CancellationToken,
    ComponentConfig, ComponentId, Receiver, ReceiverFactory, RequestContext, Signal,
    SignalConsumers,
};
use pipeline_api::{declare, Meta, Stability};
use serde::{Deserialize, Deserializer};
use stanza::{BuildMode, Pipeline};

use crate::filelog::config::StartAt;
use crate::filelog::tailer::Tailer;
use crate::filelog::{checkpoint, FileLogConfig};

pub const META: Meta = Meta::new("otlpjsonfile")
    .traces(Stability::Alpha)
    .metrics(Stability::Alpha)
    .logs(Stability::Alpha);

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<Config>(META, |ctx, cfg, next| {
        Ok(Box::new(OtlpJsonFileReceiver::build(ctx, cfg, next)?))
    })
}

/// Keys of the `filelog` receiver that are not the file consumer's: refused here, as Go
/// refuses them (its config has no such field).
const NOT_FILE_CONSUMER: &[&str] = &[
    "operators",
    "attributes",
    "resource",
    "retry_on_failure",
    "include_own_container_logs",
];

/// `receivers: otlpjsonfile:`: the file consumer's keys (parsed as the `filelog` receiver's,
/// whose defaults are Go's `fileconsumer.NewConfig`), `storage` and `replay_file`.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub files: FileLogConfig,
    pub replay_file: bool,
}

impl<'de> Deserialize<'de> for Config {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = ConfigValue::deserialize(d)?;
        let mut map = match value {
            ConfigValue::Null => serde_yaml_ng::Mapping::new(),
            ConfigValue::Mapping(m) => m,
            other => {
                return Err(D::Error::custom(format!(
                    "expected a map, got {}",
                    serde_yaml_ng::to_string(&other).unwrap_or_default().trim()
                )))
            }
        };
        for key in NOT_FILE_CONSUMER {
            if map.contains_key(*key) {
                return Err(D::Error::custom(format!(
                    "unknown field `{key}`: the otlpjsonfile receiver takes the file consumer's keys only"
                )));
            }
        }
        let replay_file = match map.remove("replay_file") {
            None | Some(ConfigValue::Null) => false,
            Some(ConfigValue::Bool(b)) => b,
            Some(_) => return Err(D::Error::custom("replay_file: expected a boolean")),
        };
        let files =
            FileLogConfig::deserialize(ConfigValue::Mapping(map)).map_err(D::Error::custom)?;
        Ok(Config { files, replay_file })
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        self.files.validate()
    }
}

impl ComponentConfig for Config {}

/// What the receiver counted.
#[derive(Debug, Default)]
pub struct Counters {
    pub lines: AtomicU64,
    pub malformed: AtomicU64,
    pub forwarded: AtomicU64,
}

pub struct OtlpJsonFileReceiver {
    id: ComponentId,
    cfg: Config,
    next: SignalConsumers,
    storage: Option<Arc<dyn StorageClient>>,
    obs: ReceiverObs,
    counters: Arc<Counters>,
}

impl OtlpJsonFileReceiver {
    pub fn build(
        ctx: BuildContext,
        cfg: &Config,
        next: SignalConsumers,
    ) -> Result<OtlpJsonFileReceiver, BuildError> {
        let storage = match &cfg.files.storage {
            Some(id) if !cfg.replay_file => Some(
                storage_client(&ctx, &id.0, "")
                    .map_err(|e| BuildError::new(format!("storage: {}: {e}", id.0)))?,
            ),
            _ => None,
        };
        // Builds the tailer once so a bad setting fails the build.
        new_tailer(&cfg.files, cfg.replay_file)?;
        Ok(OtlpJsonFileReceiver {
            obs: ctx.telemetry.receiver_obs("file"),
            id: ctx.id,
            cfg: cfg.clone(),
            next,
            storage,
            counters: Arc::new(Counters::default()),
        })
    }

    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Decode one line for every signal this receiver serves; a request of another signal
    /// decodes to nothing. The batches that decoded, and the first error (Go's reader of
    /// that signal records the error for the line).
    fn decode(&self, line: &[u8]) -> (Vec<Batch>, Option<String>) {
        let mut out = Vec::new();
        let mut first_error = None;
        for (signal, next) in [
            (Signal::Traces, &self.next.traces),
            (Signal::Metrics, &self.next.metrics),
            (Signal::Logs, &self.next.logs),
        ] {
            if next.is_none() {
                continue;
            }
            match crate::otlp::json::decode(signal, line) {
                Ok(data) => {
                    let empty = match &data {
                        BatchData::Traces(r) => r.resource_spans.is_empty(),
                        BatchData::Metrics(r) => r.resource_metrics.is_empty(),
                        BatchData::Logs(r) => r.resource_logs.is_empty(),
                    };
                    if !empty {
                        out.push(Batch::new(
                            data,
                            RequestContext {
                                receiver: Some(self.id.clone()),
                                ..Default::default()
                            },
                        ));
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        (out, first_error)
    }

    /// Forward one batch, offering it again while it is refused with a retryable error.
    async fn forward(&self, batch: Batch, shutdown: &CancellationToken) {
        let signal = batch.signal();
        let Some(next) = (match signal {
            Signal::Traces => &self.next.traces,
            Signal::Metrics => &self.next.metrics,
            Signal::Logs => &self.next.logs,
        }) else {
            return;
        };
        let items = batch.items();
        loop {
            let result = next.consume(batch.clone()).await;
            self.obs.record(signal, items, &result);
            match result {
                Ok(()) => {
                    self.counters
                        .forwarded
                        .fetch_add(items as u64, Ordering::Relaxed);
                    return;
                }
                Err(e) if e.is_retryable() && !shutdown.is_cancelled() => {
                    let wait = e
                        .retry_after()
                        .unwrap_or(self.cfg.files.poll_interval.get())
                        .max(Duration::from_millis(10));
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
                Err(e) => {
                    tracing::error!(receiver = %self.id, items, error = %e, "The next consumer refused the data; dropping it.");
                    return;
                }
            }
        }
    }
}

/// A tailer with no operators; `replay` reads from the start every time.
fn new_tailer(cfg: &FileLogConfig, replay: bool) -> Result<Tailer, BuildError> {
    let mut cfg = cfg.clone();
    cfg.include_file_name = false;
    if replay {
        cfg.start_at = StartAt::Beginning;
    }
    let pipeline = Pipeline::build(&[], BuildMode::Run).map_err(|es| {
        BuildError::new(
            es.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    Tailer::new(&cfg, pipeline).map_err(BuildError::new)
}

/// The lines one poll read, in order, and the checkpoint after them.
struct Lines {
    tailer: Tailer,
    lines: Vec<Vec<u8>>,
    checkpoint: Vec<crate::filelog::reader::Metadata>,
    more: bool,
}

async fn poll(t: Tailer) -> Result<Lines, BuildError> {
    tokio::task::spawn_blocking(move || {
        let mut t = t;
        let out = t.poll(Instant::now());
        let req = out.logs.into_request();
        let mut lines = Vec::new();
        for rl in req.resource_logs {
            for sl in rl.scope_logs {
                for r in sl.log_records {
                    match r.body.and_then(|b| b.value) {
                        Some(any_value::Value::StringValue(s)) => lines.push(s.into_bytes()),
                        Some(any_value::Value::BytesValue(b)) => lines.push(b),
                        _ => {}
                    }
                }
            }
        }
        Lines {
            tailer: t,
            lines,
            checkpoint: out.checkpoint,
            more: out.more,
        }
    })
    .await
    .map_err(|e| BuildError::new(format!("otlpjsonfile poll failed: {e}")))
}

#[async_trait]
impl Receiver for OtlpJsonFileReceiver {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        let mut tailer = new_tailer(&self.cfg.files, self.cfg.replay_file)?;
        if let Some(s) = &self.storage {
            match s.get(checkpoint::KEY).await {
                Ok(Some(bytes)) => match checkpoint::decode(&bytes) {
                    Ok(files) => tailer.load(files),
                    Err(e) => {
                        tracing::error!(receiver = %self.id, error = %e, "Could not decode the stored checkpoint; starting without it.")
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
        let interval = self.cfg.files.poll_interval.get();
        let mut saved: Option<Vec<u8>> = None;
        let mut tailer = Some(tailer);
        while !shutdown.is_cancelled() {
            let t = match tailer.take() {
                Some(t) => t,
                None => break,
            };
            let polled = poll(t).await?;
            tailer = Some(if self.cfg.replay_file {
                new_tailer(&self.cfg.files, true)?
            } else {
                polled.tailer
            });
            for line in &polled.lines {
                self.counters.lines.fetch_add(1, Ordering::Relaxed);
                let (batches, error) = self.decode(line);
                if let Some(e) = error {
                    self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(receiver = %self.id, error = %e, "A line is not an OTLP/JSON request; skipped.");
                }
                for b in batches {
                    self.forward(b, &shutdown).await;
                }
            }
            if let Some(s) = &self.storage {
                let bytes = checkpoint::encode(&polled.checkpoint);
                if saved.as_ref() != Some(&bytes) {
                    match s.set(checkpoint::KEY, bytes.clone()).await {
                        Ok(()) => saved = Some(bytes),
                        Err(e) => {
                            tracing::error!(receiver = %self.id, error = %e, "Failed to sync to database.")
                        }
                    }
                }
            }
            if !polled.more {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(interval) => {}
                }
            }
        }
        if let Some(s) = &self.storage {
            if let Err(e) = s.close().await {
                tracing::warn!(receiver = %self.id, error = %e, "Failed to close the storage client.");
            }
        }
        Ok(())
    }
}
