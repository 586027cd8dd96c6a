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
    /// Accepted for compatibility; Ferrotel does not trace itself yet.
    pub traces: ConfigValue,
    /// Resource attributes of the own telemetry (`service.name` etc.); null removes one.
    pub resource: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
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
    pub sampling: ConfigValue,
    pub output_paths: Vec<String>,
    pub error_output_paths: Vec<String>,
    pub initial_fields: BTreeMap<String, ConfigValue>,
    pub processors: ConfigValue,
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
        errors
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReaderConfig {
    pub pull: Option<PullReader>,
    /// Push readers are accepted; Ferrotel serves its metrics by pull only for now.
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
    pub batch: ConfigValue,
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
            batch: ConfigValue::Null,
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
