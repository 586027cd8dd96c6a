//! `prometheus` exporter config (Go `exporter/prometheusexporter/config.go`, `factory.go`).
//!
//! Go facts relied on: the config squashes `confighttp.ServerConfig` (`endpoint`, `tls`...);
//! `createDefaultConfig` sets `const_labels: {}`, `send_timestamps: false`,
//! `metric_expiration: 5m`, `enable_open_metrics: false`, `add_metric_suffixes: true`;
//! `resource_to_telemetry_conversion` is `resourcetotelemetry.Settings` (`enabled`,
//! `exclude_service_attributes`, both false); `translation_strategy`, when set, takes
//! precedence over `add_metric_suffixes` and must be one of `UnderscoreEscapingWithSuffixes`,
//! `UnderscoreEscapingWithoutSuffixes`, `NoUTF8EscapingWithSuffixes`, `NoTranslation`;
//! `without_scope_info` (false) drops the `otel_scope_*` labels; an empty endpoint fails
//! (`errBlankPrometheusAddress`). `sending_queue` is the runtime's (split off before parsing).

use std::collections::BTreeMap;

use pipeline_api::config::{ConfigError, GoDuration, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;

/// Go `translationStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TranslationStrategy {
    UnderscoreEscapingWithSuffixes,
    UnderscoreEscapingWithoutSuffixes,
    NoUTF8EscapingWithSuffixes,
    NoTranslation,
}

impl TranslationStrategy {
    /// Go `getTranslationConfiguration`: (with suffixes, UTF-8 allowed).
    pub fn settings(self) -> (bool, bool) {
        match self {
            TranslationStrategy::UnderscoreEscapingWithSuffixes => (true, false),
            TranslationStrategy::UnderscoreEscapingWithoutSuffixes => (false, false),
            TranslationStrategy::NoUTF8EscapingWithSuffixes => (true, true),
            TranslationStrategy::NoTranslation => (false, true),
        }
    }
}

/// `resource_to_telemetry_conversion` (Go `resourcetotelemetry.Settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceToTelemetryConfig {
    pub enabled: bool,
    pub exclude_service_attributes: bool,
}

pub use transport::tls::TlsServerConfig;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `host:port` serving `/metrics`. Required.
    pub endpoint: String,
    pub tls: Option<TlsServerConfig>,
    /// Headers added to every scrape response (Go `confighttp.ServerConfig.ResponseHeaders`).
    pub response_headers: BTreeMap<String, String>,
    /// Prefix of every metric name.
    pub namespace: String,
    /// Labels added to every exported metric (not to `target_info`).
    pub const_labels: BTreeMap<String, String>,
    /// Write each sample's timestamp.
    pub send_timestamps: bool,
    /// Series not updated for this long disappear.
    pub metric_expiration: GoDuration,
    pub resource_to_telemetry_conversion: ResourceToTelemetryConfig,
    /// Answer OpenMetrics to scrapers that ask for it (exemplars are only in OpenMetrics).
    pub enable_open_metrics: bool,
    /// Deprecated in Go in favour of `translation_strategy`, which wins when set.
    pub add_metric_suffixes: bool,
    pub translation_strategy: Option<TranslationStrategy>,
    /// Leave out the `otel_scope_*` labels.
    pub without_scope_info: bool,
}

impl Default for Config {
    /// Go `createDefaultConfig`.
    fn default() -> Self {
        Config {
            endpoint: String::new(),
            tls: None,
            response_headers: BTreeMap::new(),
            namespace: String::new(),
            const_labels: BTreeMap::new(),
            send_timestamps: false,
            metric_expiration: GoDuration::from_secs(300),
            resource_to_telemetry_conversion: ResourceToTelemetryConfig::default(),
            enable_open_metrics: false,
            add_metric_suffixes: true,
            translation_strategy: None,
            without_scope_info: false,
        }
    }
}

impl Config {
    /// Whether unit and type suffixes are added.
    pub fn with_suffixes(&self) -> bool {
        match self.translation_strategy {
            Some(s) => s.settings().0,
            None => self.add_metric_suffixes,
        }
    }
}

fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let e = endpoint.trim();
    if e.is_empty() {
        // Go errBlankPrometheusAddress.
        return Err(
            "expecting a non-blank address to run the Prometheus metrics handler; write host:port, e.g. 0.0.0.0:8889"
                .into(),
        );
    }
    transport::net::check_endpoint(e, 8889)
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if let Err(e) = check_endpoint(&self.endpoint) {
            errors.push(ConfigError::new(&["endpoint"], e));
        }
        if let Some(tls) = &self.tls {
            transport::tls::check_server(tls, &["tls"], &mut errors);
        }
        for k in self.response_headers.keys() {
            if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
                errors.push(ConfigError::new(
                    &["response_headers", k],
                    format!("{k:?} is not a valid header name"),
                ));
            }
        }
        for k in self.const_labels.keys() {
            if crate::promtranslate::naming::label_name(k).is_none() {
                errors.push(ConfigError::new(
                    &["const_labels", k],
                    format!("{k:?} cannot be made a valid label name"),
                ));
            }
        }
        errors
    }
}

impl ComponentConfig for Config {
    fn listen_addresses(&self) -> Vec<(String, String)> {
        vec![("endpoint".to_string(), self.endpoint.clone())]
    }
}
