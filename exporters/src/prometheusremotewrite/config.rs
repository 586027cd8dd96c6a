//! `prometheusremotewrite` exporter config (Go `exporter/prometheusremotewriteexporter/config.go`,
//! `factory.go`).
//!
//! Go facts relied on: the config squashes `confighttp.ClientConfig` (`endpoint`, `headers`,
//! `tls`, proxy and connection-pool keys: `transport::http::HttpClientConfig`'s, with its
//! defaults); `createDefaultConfig` sets `namespace: ""`,
//! `external_labels: {}`, `add_metric_suffixes: true`, `send_metadata: false`,
//! `max_batch_size_bytes: 3000000`, `remote_write_queue: {enabled: true, queue_size: 10000,
//! num_consumers: 5}`, `target_info.enabled: true`, `export_created_metric.enabled: false`,
//! `protobuf_message: prometheus.WriteRequest`; `Validate` refuses a negative queue size or
//! consumer count and an enabled queue of size 0; `newPRWExporter` refuses an endpoint that
//! does not parse as a request URI and external labels with an empty name or value.
//! `timeout`, `retry_on_failure` and `sending_queue` belong to the runtime (split off before
//! parsing).

use std::collections::BTreeMap;

use pipeline_api::config::{ConfigError, GoDuration, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;

use transport::compression::Compression;
use transport::http::{ClientOptions, HttpClientConfig};

/// Go `prometheusremotewrite` default `max_batch_size_bytes`.
pub const DEFAULT_MAX_BATCH_SIZE_BYTES: i64 = 3_000_000;

pub const PROTOBUF_V1: &str = "prometheus.WriteRequest";
pub const PROTOBUF_V2: &str = "io.prometheus.write.v2.Request";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceToTelemetryConfig {
    pub enabled: bool,
    pub exclude_service_attributes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnabledTrue {
    pub enabled: bool,
}

impl Default for EnabledTrue {
    fn default() -> Self {
        EnabledTrue { enabled: true }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct EnabledFalse {
    pub enabled: bool,
}

/// `remote_write_queue` (Go `RemoteWriteQueue`): accepted and validated as Go does. Ferrotel's
/// runtime queue (`sending_queue`) does the queueing; requests of one export are sent in order
/// by one worker, which keeps samples of a series in time order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteWriteQueue {
    pub enabled: bool,
    pub queue_size: i64,
    pub num_consumers: i64,
}

impl Default for RemoteWriteQueue {
    fn default() -> Self {
        RemoteWriteQueue {
            enabled: true,
            queue_size: 10_000,
            num_consumers: 5,
        }
    }
}

/// `wal` (Go `WALConfig`): accepted; Ferrotel has no write-ahead log for remote write (use a
/// persistent `sending_queue` instead) and logs that at build.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct WalConfig {
    pub directory: String,
    pub buffer_size: i64,
    pub truncate_frequency: GoDuration,
    pub lag_record_frequency: GoDuration,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct Config {
    /// The HTTP client keys, squashed. `endpoint` is the remote write URL
    /// (`http://prometheus:9090/api/v1/write`), required. `headers` are added to every
    /// request; `Content-Encoding`, `Content-Type`, `X-Prometheus-Remote-Write-Version` and
    /// `User-Agent` cannot be changed.
    #[serde(skip)]
    pub http: HttpClientConfig,
    /// Prefix of every metric name.
    pub namespace: String,
    /// Labels added to every series unless the data has a label of that name.
    pub external_labels: BTreeMap<String, String>,
    pub resource_to_telemetry_conversion: ResourceToTelemetryConfig,
    pub add_metric_suffixes: bool,
    /// Send metric metadata (type, help, unit) with the series.
    pub send_metadata: bool,
    /// Requests above this many bytes (uncompressed series) are split.
    pub max_batch_size_bytes: i64,
    pub target_info: EnabledTrue,
    pub export_created_metric: EnabledFalse,
    pub remote_write_queue: RemoteWriteQueue,
    pub wal: Option<WalConfig>,
    /// Only `prometheus.WriteRequest` (remote write 1.0).
    pub protobuf_message: String,
    /// Go: how many requests of one export are sent at once; Ferrotel sends them in order.
    pub max_batch_request_parallelism: Option<i64>,
}

pipeline_api::squashed!(Config, http);

impl Default for Config {
    /// Go `createDefaultConfig`.
    fn default() -> Self {
        Config {
            http: HttpClientConfig::default(),
            namespace: String::new(),
            external_labels: BTreeMap::new(),
            resource_to_telemetry_conversion: ResourceToTelemetryConfig::default(),
            add_metric_suffixes: true,
            send_metadata: false,
            max_batch_size_bytes: DEFAULT_MAX_BATCH_SIZE_BYTES,
            target_info: EnabledTrue::default(),
            export_created_metric: EnabledFalse::default(),
            remote_write_queue: RemoteWriteQueue::default(),
            wal: None,
            protobuf_message: PROTOBUF_V1.to_string(),
            max_batch_request_parallelism: None,
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let endpoint = self.http.endpoint.trim();
        if endpoint.is_empty() {
            errors.push(ConfigError::new(
                &["endpoint"],
                "must not be empty; write the remote write URL, e.g. http://prometheus:9090/api/v1/write",
            ));
        } else {
            match endpoint.parse::<http::Uri>() {
                Ok(uri)
                    if matches!(uri.scheme_str(), Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"))
                        && uri.host().is_some() => {}
                _ => errors.push(ConfigError::new(
                    &["endpoint"],
                    format!("invalid endpoint {endpoint:?}: expected an http:// or https:// URL"),
                )),
            }
        }
        errors.extend(self.http.validate(Compression::None));
        // Go Config.Validate.
        let q = &self.remote_write_queue;
        if q.queue_size < 0 {
            errors.push(ConfigError::new(
                &["remote_write_queue", "queue_size"],
                "remote write queue size can't be negative",
            ));
        }
        if q.enabled && q.queue_size == 0 {
            errors.push(ConfigError::new(
                &["remote_write_queue", "queue_size"],
                "a 0 size queue will drop all the data",
            ));
        }
        if q.num_consumers < 0 {
            errors.push(ConfigError::new(
                &["remote_write_queue", "num_consumers"],
                "remote write consumer number can't be negative",
            ));
        }
        if self.max_batch_size_bytes <= 0 {
            errors.push(ConfigError::new(
                &["max_batch_size_bytes"],
                "must be greater than 0",
            ));
        }
        // Go validateAndSanitizeExternalLabels.
        for (k, v) in &self.external_labels {
            if k.is_empty() || v.is_empty() {
                errors.push(ConfigError::new(
                    &["external_labels"],
                    "prometheus remote write: external labels configuration contains an empty key or value",
                ));
            } else if crate::promtranslate::naming::label_name(k).is_none() {
                errors.push(ConfigError::new(
                    &["external_labels", k],
                    format!("{k:?} cannot be made a valid label name"),
                ));
            }
        }
        match self.protobuf_message.as_str() {
            PROTOBUF_V1 => {}
            PROTOBUF_V2 => errors.push(ConfigError::new(
                &["protobuf_message"],
                format!("{PROTOBUF_V2:?} (remote write 2.0) is not supported by Ferrotel yet; use {PROTOBUF_V1:?}"),
            )),
            other => errors.push(ConfigError::new(
                &["protobuf_message"],
                format!("invalid protobuf_message {other:?}; expected {PROTOBUF_V1:?} or {PROTOBUF_V2:?}"),
            )),
        }
        errors
    }
}

impl ComponentConfig for Config {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut keys = self.http.keys_not_acted_on(CLIENT);
        if self.wal.as_ref().is_some_and(|w| !w.directory.is_empty()) {
            keys.push((
                "wal".into(),
                "use a persistent sending_queue (file_storage) for durability".into(),
            ));
        }
        if self.remote_write_queue != RemoteWriteQueue::default() {
            keys.push((
                "remote_write_queue".into(),
                "queueing is configured with sending_queue".into(),
            ));
        }
        keys
    }
}

/// How this exporter uses the HTTP client: HTTP/1.1 only, bodies sent as they are.
pub const CLIENT: ClientOptions = ClientOptions {
    http1_only: true,
    compresses_bodies: false,
};
