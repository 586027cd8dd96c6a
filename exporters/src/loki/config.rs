//! `loki` exporter config.
//!
//! Go facts relied on (`exporter/lokiexporter/config.go`, `factory.go`, before the exporter
//! was removed from contrib): the config squashes `confighttp.ClientConfig` (`endpoint`,
//! `headers`, `tls`, proxy and connection-pool keys: `transport::http::HttpClientConfig`'s,
//! with its defaults) and adds `default_labels_enabled`, a map
//! whose keys `exporter`, `job`, `instance`, `level` are all true by default (a key left out
//! counts as true); `createDefaultConfig` sets a 30s client timeout; `Validate` refuses an
//! empty endpoint (`"endpoint" must be a valid URL`). The older exporter (v0.57) also had
//! `tenant: {source: static|context|attributes, value}` and `labels: {attributes, resource}`
//! maps of attribute name → label name (an empty label name: the attribute's own name).
//!
//! `timeout`, `sending_queue` and `retry_on_failure` belong to the runtime: they are split
//! off before this config is parsed. Ferrotel's own keys: `labels.static`, `max_label_count`,
//! `structured_metadata`, `format` and `cardinality_warning`.

use std::collections::BTreeMap;

use pipeline_api::config::{ConfigError, GoDuration, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;

use transport::compression::Compression;
use transport::http::{ClientOptions, HttpClientConfig};

use crate::promtranslate::label_name;

/// Loki's default `max_label_names_per_series`.
pub const DEFAULT_MAX_LABEL_COUNT: usize = 15;

/// How a log line is written (the `loki.format` hint overrides it per record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LineFormat {
    /// Body, remaining attributes, resource, trace ids as one JSON object (Go's default).
    #[default]
    Json,
    /// The same as `key=value` pairs.
    Logfmt,
    /// The body alone.
    Raw,
}

impl LineFormat {
    /// The `loki.format` hint value (Go accepts exactly these three words).
    pub fn from_hint(s: &str) -> Option<LineFormat> {
        match s {
            "json" => Some(LineFormat::Json),
            "logfmt" => Some(LineFormat::Logfmt),
            "raw" => Some(LineFormat::Raw),
            _ => None,
        }
    }
}

/// `default_labels_enabled`: Go's map of four booleans, all true unless set to false.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DefaultLabelsEnabled {
    /// `exporter="OTLP"`.
    pub exporter: bool,
    /// `job` = `service.namespace/service.name`, or `service.name`.
    pub job: bool,
    /// `instance` = `service.instance.id`.
    pub instance: bool,
    /// `level` from the record's severity.
    pub level: bool,
}

impl Default for DefaultLabelsEnabled {
    fn default() -> Self {
        DefaultLabelsEnabled {
            exporter: true,
            job: true,
            instance: true,
            level: true,
        }
    }
}

/// `tenant.source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TenantSource {
    /// `value` is the tenant.
    #[default]
    Static,
    /// `value` names a client metadata key (a receiver with `include_metadata: true`).
    Context,
    /// `value` names a resource attribute (then a record attribute).
    Attributes,
}

/// `tenant`: where the `X-Scope-OrgID` of each request comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TenantConfig {
    pub source: TenantSource,
    pub value: String,
}

/// `labels`: attribute name → label name (empty or null: the attribute name with dots and
/// other invalid characters turned into underscores).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct LabelsConfig {
    pub resource: BTreeMap<String, Option<String>>,
    pub attributes: BTreeMap<String, Option<String>>,
    /// Label name → fixed value.
    #[serde(rename = "static")]
    pub static_labels: BTreeMap<String, String>,
}

/// `structured_metadata` (Loki 3): values put on each entry without becoming labels.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StructuredMetadataConfig {
    /// Record attributes (then resource attributes) by name; the metadata name is the
    /// attribute name with dots turned into underscores.
    pub attributes: Vec<String>,
    /// `trace_id` and `span_id` of the record, in hex.
    pub trace_context: bool,
}

impl StructuredMetadataConfig {
    pub fn is_enabled(&self) -> bool {
        self.trace_context || !self.attributes.is_empty()
    }
}

/// `cardinality_warning`: warn once per label whose distinct values within `window` exceed
/// `max_values` (0: never).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CardinalityWarningConfig {
    pub max_values: usize,
    pub window: GoDuration,
}

impl Default for CardinalityWarningConfig {
    fn default() -> Self {
        CardinalityWarningConfig {
            max_values: 100,
            window: GoDuration::from_secs(600),
        }
    }
}

/// `exporters: loki:`: the HTTP client keys (`http`, squashed) and the label rules.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct Config {
    /// `endpoint` is the push URL, e.g. `http://loki:3100/loki/api/v1/push`. Required.
    /// `headers` are added to every request; `Content-Type` is always
    /// `application/x-protobuf`, and a tenant found for the data overrides `X-Scope-OrgID`.
    #[serde(skip)]
    pub http: HttpClientConfig,
    pub default_labels_enabled: DefaultLabelsEnabled,
    pub tenant: Option<TenantConfig>,
    pub labels: LabelsConfig,
    /// Labels per stream at most; the lowest-priority labels are dropped beyond it (they
    /// stay in the line). Loki's own default limit is 15.
    pub max_label_count: usize,
    pub structured_metadata: StructuredMetadataConfig,
    /// Line format when no `loki.format` hint says otherwise. Default `json`.
    pub format: LineFormat,
    pub cardinality_warning: CardinalityWarningConfig,
}

pipeline_api::squashed!(Config, http);

impl Default for Config {
    fn default() -> Self {
        Config {
            http: HttpClientConfig::default(),
            default_labels_enabled: DefaultLabelsEnabled::default(),
            tenant: None,
            labels: LabelsConfig::default(),
            max_label_count: DEFAULT_MAX_LABEL_COUNT,
            structured_metadata: StructuredMetadataConfig::default(),
            format: LineFormat::Json,
            cardinality_warning: CardinalityWarningConfig::default(),
        }
    }
}

/// A classic Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`), which Loki requires.
pub fn is_valid_label_name(name: &str) -> bool {
    crate::promtranslate::naming::is_valid_label_name(name)
}

/// The label name a `labels.resource`/`labels.attributes` entry produces.
pub fn configured_label_name(attribute: &str, label: &Option<String>) -> Option<String> {
    match label.as_deref().map(str::trim) {
        Some(l) if !l.is_empty() => Some(l.to_string()),
        _ => label_name(attribute),
    }
}

/// An absolute `http` or `https` URL with a host; a wrong scheme is told with an example.
fn check_url(url: &str) -> Result<(), String> {
    transport::http::check_url(url).map_err(|e| {
        if e.ends_with("https://") {
            format!("{e} (e.g. http://loki:3100/loki/api/v1/push)")
        } else {
            e
        }
    })
}

fn check_label_name(errors: &mut Vec<ConfigError>, path: &[&str], name: &str) {
    if !is_valid_label_name(name) {
        errors.push(ConfigError::new(
            path,
            format!("{name:?} is not a valid Loki label name (letters, digits and underscores, not starting with a digit)"),
        ));
    } else if name.starts_with("__") {
        errors.push(ConfigError::new(
            path,
            format!("{name:?}: label names starting with \"__\" are reserved by Loki"),
        ));
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let endpoint = self.http.endpoint.trim();
        if endpoint.is_empty() {
            // Go Config.Validate: "\"endpoint\" must be a valid URL".
            errors.push(ConfigError::new(
                &["endpoint"],
                "\"endpoint\" must be a valid URL; write Loki's push URL, e.g. http://loki:3100/loki/api/v1/push",
            ));
        } else if let Err(e) = check_url(endpoint) {
            errors.push(ConfigError::new(&["endpoint"], e));
        }
        errors.extend(self.http.validate(Compression::None));
        if let Some(t) = &self.tenant {
            if t.value.trim().is_empty() {
                let what = match t.source {
                    TenantSource::Static => "the tenant id",
                    TenantSource::Context => "the client metadata key that holds the tenant",
                    TenantSource::Attributes => "the attribute that holds the tenant",
                };
                errors.push(ConfigError::new(
                    &["tenant", "value"],
                    format!("must not be empty: write {what}"),
                ));
            }
        }
        for (section, map) in [
            ("resource", &self.labels.resource),
            ("attributes", &self.labels.attributes),
        ] {
            for (attr, label) in map {
                let path = ["labels", section, attr.as_str()];
                if attr.trim().is_empty() {
                    errors.push(ConfigError::new(
                        &path,
                        "the attribute name must not be empty",
                    ));
                    continue;
                }
                match configured_label_name(attr, label) {
                    Some(name) => check_label_name(&mut errors, &path, &name),
                    None => errors.push(ConfigError::new(
                        &path,
                        format!("{attr:?} cannot be made a label name; give one explicitly"),
                    )),
                }
            }
        }
        for (name, value) in &self.labels.static_labels {
            let path = ["labels", "static", name.as_str()];
            check_label_name(&mut errors, &path, name);
            if value.is_empty() {
                errors.push(ConfigError::new(&path, "a static label needs a value"));
            }
        }
        if self.max_label_count == 0 {
            errors.push(ConfigError::new(
                &["max_label_count"],
                "must be at least 1: Loki refuses a stream without labels",
            ));
        } else if self.labels.static_labels.len() > self.max_label_count {
            errors.push(ConfigError::new(
                &["labels", "static"],
                format!(
                    "{} static labels are more than max_label_count ({})",
                    self.labels.static_labels.len(),
                    self.max_label_count
                ),
            ));
        }
        for (i, attr) in self.structured_metadata.attributes.iter().enumerate() {
            let index = i.to_string();
            let path = ["structured_metadata", "attributes", index.as_str()];
            if label_name(attr.trim()).is_none() {
                errors.push(ConfigError::new(
                    &path,
                    format!("{attr:?} cannot be made a structured metadata name"),
                ));
            }
        }
        if self.cardinality_warning.max_values > 0 && self.cardinality_warning.window.is_zero() {
            errors.push(ConfigError::new(
                &["cardinality_warning", "window"],
                "must be greater than 0 (or set max_values: 0 to turn the warning off)",
            ));
        }
        errors
    }
}

impl ComponentConfig for Config {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        self.http.keys_not_acted_on(ClientOptions::default())
    }
}
