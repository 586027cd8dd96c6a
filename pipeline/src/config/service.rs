//! `service:` — extensions, pipelines and own telemetry settings.

use std::collections::BTreeMap;

use pipeline_api::config::{ConfigError, ConfigValue, GoDuration, Validate};
use pipeline_api::telemetry::MetricsLevel;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    pub extensions: Vec<String>,
    pub pipelines: BTreeMap<String, PipelineConfig>,
    pub telemetry: TelemetryConfig,
}

impl Validate for ServiceConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = self.telemetry.metrics.validate();
        for e in errors.iter_mut() {
            e.path
                .splice(0..0, ["telemetry".to_string(), "metrics".to_string()]);
        }
        errors
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    pub receivers: Vec<String>,
    pub processors: Vec<String>,
    pub exporters: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    pub logs: LogsConfig,
    pub metrics: MetricsConfig,
    /// The own spans' export (`crate::own_traces::TracesConfig`), parsed where it is used.
    pub traces: ConfigValue,
    /// Resource attributes of the own telemetry (`service.name` etc.); null removes one.
    pub resource: BTreeMap<String, Option<String>>,
}

/// `service.telemetry.logs.level`, as Go's zap reads it: lower or upper case (`info`, `INFO`;
/// not `Info`), empty for `info`; `dpanic`, `panic` and `fatal` log errors only here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

impl TryFrom<String> for LogLevel {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        // zapcore.Level.UnmarshalText: each name in lower or in upper case
        let lower = text.to_ascii_lowercase();
        let unknown = || {
            format!(
                "unrecognized level: {text:?} (debug, info, warn or error; lower or upper case)"
            )
        };
        if text != lower && text != text.to_ascii_uppercase() {
            return Err(unknown());
        }
        Ok(match lower.as_str() {
            "debug" => LogLevel::Debug,
            "info" | "" => LogLevel::Info,
            "warn" => LogLevel::Warn,
            "error" | "dpanic" | "panic" | "fatal" => LogLevel::Error,
            _ => return Err(unknown()),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogEncoding {
    #[default]
    Console,
    Json,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogsConfig {
    pub level: LogLevel,
    pub encoding: LogEncoding,
    pub development: bool,
    pub disable_caller: bool,
    pub disable_stacktrace: bool,
    pub sampling: LogsSampling,
    pub output_paths: Vec<String>,
    pub error_output_paths: Vec<String>,
    pub initial_fields: BTreeMap<String, ConfigValue>,
    pub processors: ConfigValue,
    /// Leave the service's resource off the log lines.
    pub disable_zap_resource: bool,
}

/// `service.telemetry.logs.sampling`: zap's sampler, on by default as in Go (10 lines of a
/// message per 10 s, then every 100th).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogsSampling {
    pub enabled: bool,
    pub tick: GoDuration,
    pub initial: u64,
    pub thereafter: u64,
}

impl Default for LogsSampling {
    fn default() -> Self {
        LogsSampling {
            enabled: true,
            tick: GoDuration::from_secs(10),
            initial: 10,
            thereafter: 100,
        }
    }
}

/// `service.telemetry.metrics`: the legacy `address` or the `readers` form; the default
/// endpoint is `localhost:8888` as in the Go collector.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    pub level: MetricsLevel,
    pub address: Option<String>,
    pub readers: Vec<ReaderConfig>,
    pub views: ConfigValue,
}

pub const DEFAULT_METRICS_ADDRESS: &str = "localhost:8888";

impl MetricsConfig {
    /// The address `/metrics` is served on, `None` when the level is `none` or only
    /// periodic (push) readers are configured.
    pub fn pull_address(&self) -> Option<String> {
        if self.level == MetricsLevel::None {
            return None;
        }
        if let Some(a) = &self.address {
            return Some(a.clone());
        }
        if self.readers.is_empty() {
            return Some(DEFAULT_METRICS_ADDRESS.to_string());
        }
        self.readers.iter().find_map(|r| {
            let p = r.pull.as_ref()?.exporter.prometheus.as_ref()?;
            let host = p.host.clone().unwrap_or_else(|| "localhost".into());
            let host = if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]")
            } else {
                host
            };
            Some(format!("{host}:{}", p.port.unwrap_or(8888)))
        })
    }
}

impl Validate for MetricsConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.address.is_some() && !self.readers.is_empty() {
            errors.push(ConfigError::new(
                &["address"],
                "set either the legacy `address` or `readers`, not both",
            ));
        }
        for (i, r) in self.readers.iter().enumerate() {
            if let Some(p) = &r.periodic {
                if let Err(errs) = crate::own_push::parse(p) {
                    let i = i.to_string();
                    errors.extend(
                        errs.into_iter()
                            .map(|e| e.prefixed(&["readers", &i, "periodic"])),
                    );
                }
            }
        }
        errors
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReaderConfig {
    pub pull: Option<PullReader>,
    /// Pushes the own metrics over OTLP (`own_push`).
    pub periodic: Option<ConfigValue>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PullReader {
    pub exporter: PullExporter,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PullExporter {
    pub prometheus: Option<PrometheusReader>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusReader {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub without_units: Option<bool>,
    pub without_type_suffix: Option<bool>,
    pub without_scope_info: Option<bool>,
    pub with_resource_constant_labels: ConfigValue,
    pub translation_strategy: Option<String>,
}

/// Keys every exporter takes, split off by the runtime before the exporter's own config is
/// parsed (Go `exporterhelper`: `timeout`, `sending_queue`, `retry_on_failure`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExporterCommon {
    /// Per attempt; Go `exporterhelper.NewDefaultTimeoutConfig` is 5s.
    pub timeout: GoDuration,
    pub sending_queue: QueueConfig,
    pub retry_on_failure: RetryConfig,
}

impl Default for ExporterCommon {
    fn default() -> Self {
        ExporterCommon {
            timeout: GoDuration::from_secs(5),
            sending_queue: QueueConfig::default(),
            retry_on_failure: RetryConfig::default(),
        }
    }
}

impl Validate for ExporterCommon {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let q = &self.sending_queue;
        if q.enabled && q.queue_size == 0 {
            errors.push(ConfigError::new(
                &["sending_queue", "queue_size"],
                "must be greater than zero",
            ));
        }
        if q.enabled && q.num_consumers == 0 {
            errors.push(ConfigError::new(
                &["sending_queue", "num_consumers"],
                "must be greater than zero",
            ));
        }
        // Go `queuebatch.Config.Validate` and `BatchConfig.Validate`, with its messages
        if q.enabled && q.storage.is_some() && q.wait_for_result {
            errors.push(ConfigError::new(
                &["sending_queue", "wait_for_result"],
                "`wait_for_result` is not supported with a persistent queue configured with `storage`",
            ));
        }
        if let (true, Some(b)) = (q.enabled, &q.batch) {
            let path = |k: &'static str| ["sending_queue", "batch", k];
            let sizer = q.batch_sizer();
            if sizer == QueueSizer::Requests {
                errors.push(ConfigError::new(
                    &path("sizer"),
                    "`batch` supports only `items` or `bytes` sizer, found \"requests\"",
                ));
            }
            if b.flush_timeout.get().is_zero() {
                errors.push(ConfigError::new(
                    &path("flush_timeout"),
                    "`flush_timeout` must be positive, found 0",
                ));
            }
            if b.min_size < 0 {
                errors.push(ConfigError::new(
                    &path("min_size"),
                    format!("`min_size` must be non-negative, found {}", b.min_size),
                ));
            }
            if b.max_size < 0 {
                errors.push(ConfigError::new(
                    &path("max_size"),
                    format!("`max_size` must be non-negative, found {}", b.max_size),
                ));
            }
            if b.max_size > 0 && b.max_size < b.min_size {
                errors.push(ConfigError::new(
                    &path("max_size"),
                    format!(
                        "`max_size` ({}) must be greater or equal to `min_size` ({})",
                        b.max_size, b.min_size
                    ),
                ));
            }
            if sizer == q.sizer && b.min_size > 0 && b.min_size as u64 > q.queue_size {
                errors.push(ConfigError::new(
                    &path("min_size"),
                    "`min_size` must be less than or equal to `queue_size`",
                ));
            }
            if !b.partition.metadata_keys.is_empty() {
                errors.push(ConfigError::new(
                    &["sending_queue", "batch", "partition", "metadata_keys"],
                    "not supported by Ferrotel yet; use the `batch` processor's `metadata_keys`",
                ));
            }
        }
        let r = &self.retry_on_failure;
        if r.enabled {
            if r.multiplier < 1.0 {
                errors.push(ConfigError::new(
                    &["retry_on_failure", "multiplier"],
                    "must be at least 1",
                ));
            }
            if !(0.0..=1.0).contains(&r.randomization_factor) {
                errors.push(ConfigError::new(
                    &["retry_on_failure", "randomization_factor"],
                    "must be between 0 and 1",
                ));
            }
        }
        errors
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueSizer {
    #[default]
    Requests,
    Items,
    Bytes,
}

/// `sending_queue` with Go's defaults (`exporterhelper.NewDefaultQueueConfig`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    pub enabled: bool,
    pub queue_size: u64,
    pub num_consumers: usize,
    pub sizer: QueueSizer,
    pub block_on_overflow: bool,
    pub blocking: bool,
    pub wait_for_result: bool,
    pub storage: Option<String>,
    /// Batching in the exporter (Go `configoptional.Default`: off unless the key is present;
    /// `batch:` or `batch: {}` turns it on with the defaults; `enabled: false` turns it off).
    #[serde(deserialize_with = "present_batch")]
    pub batch: Option<QueueBatchConfig>,
}

fn present_batch<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<QueueBatchConfig>, D::Error> {
    let c: Option<QueueBatchConfig> = Option::deserialize(d)?;
    let c = c.unwrap_or_default();
    Ok((c.enabled != Some(false)).then_some(c))
}

/// `sending_queue.batch` with Go's defaults (`exporterhelper.NewDefaultQueueConfig`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueBatchConfig {
    /// Accepted as Go's optional sections take it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    pub flush_timeout: GoDuration,
    /// Unset: the queue's `sizer` when that is `items` or `bytes`, else `items`.
    pub sizer: Option<QueueSizer>,
    pub min_size: i64,
    pub max_size: i64,
    pub partition: BatchPartition,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchPartition {
    pub metadata_keys: Vec<String>,
}

impl Default for QueueBatchConfig {
    fn default() -> Self {
        QueueBatchConfig {
            enabled: None,
            flush_timeout: GoDuration::from_millis(200),
            sizer: None,
            min_size: 8192,
            max_size: 0,
            partition: BatchPartition::default(),
        }
    }
}

impl QueueConfig {
    /// The batch's sizer (Go `Config.Unmarshal`: the queue's when the batch names none).
    pub fn batch_sizer(&self) -> QueueSizer {
        match self.batch.as_ref().and_then(|b| b.sizer) {
            Some(s) => s,
            None if self.sizer == QueueSizer::Bytes => QueueSizer::Bytes,
            None => QueueSizer::Items,
        }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            enabled: true,
            queue_size: 1000,
            num_consumers: 10,
            sizer: QueueSizer::Requests,
            block_on_overflow: false,
            blocking: false,
            wait_for_result: false,
            storage: None,
            batch: None,
        }
    }
}

/// `retry_on_failure` with Go's defaults (`configretry.NewDefaultBackOffConfig`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    pub enabled: bool,
    pub initial_interval: GoDuration,
    pub max_interval: GoDuration,
    pub max_elapsed_time: GoDuration,
    pub multiplier: f64,
    pub randomization_factor: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            enabled: true,
            initial_interval: GoDuration::from_secs(5),
            max_interval: GoDuration::from_secs(30),
            max_elapsed_time: GoDuration::from_secs(300),
            multiplier: 1.5,
            randomization_factor: 0.5,
        }
    }
}
