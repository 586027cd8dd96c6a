//! `spanmetrics` settings, keys and defaults as Go's `connector/spanmetricsconnector`
//! (`createDefaultConfig`, `Config.Validate` and its messages).

use pipeline_api::config::present;
use pipeline_api::config::{ConfigError, ConfigValue, GoDuration, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;

pub const DEFAULT_NAMESPACE: &str = "traces.span.metrics";
pub const DELTA: &str = "AGGREGATION_TEMPORALITY_DELTA";
pub const CUMULATIVE: &str = "AGGREGATION_TEMPORALITY_CUMULATIVE";

/// Go `defaultHistogramBucketsMs`.
pub const DEFAULT_BUCKETS_MS: [f64; 16] = [
    2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0, 5000.0,
    10_000.0, 15_000.0,
];

/// The dimensions every series has, in this order.
pub const SERVICE_NAME: &str = "service.name";
pub const SPAN_NAME: &str = "span.name";
pub const SPAN_KIND: &str = "span.kind";
pub const STATUS_CODE: &str = "status.code";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    pub name: String,
    #[serde(default)]
    pub default: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum Unit {
    #[default]
    #[serde(rename = "ms")]
    Milliseconds,
    #[serde(rename = "s")]
    Seconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Milliseconds => "ms",
            Unit::Seconds => "s",
        }
    }

    /// Nanoseconds per unit.
    pub fn divider(self) -> f64 {
        match self {
            Unit::Milliseconds => 1e6,
            Unit::Seconds => 1e9,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Explicit {
    pub buckets: Option<Vec<GoDuration>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Exponential {
    pub max_size: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Histogram {
    pub disable: bool,
    pub unit: Unit,
    /// Go `configoptional`: present (even as `exponential:` alone) means on.
    #[serde(deserialize_with = "present")]
    pub exponential: Option<Exponential>,
    #[serde(deserialize_with = "present")]
    pub explicit: Option<Explicit>,
    pub dimensions: Vec<Dimension>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Exemplars {
    pub enabled: bool,
    pub max_per_data_point: Option<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Events {
    pub enabled: bool,
    pub dimensions: Vec<Dimension>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub dimensions: Vec<Dimension>,
    pub calls_dimensions: Vec<Dimension>,
    pub exclude_dimensions: Vec<String>,
    /// Deprecated in Go in favour of `aggregation_cardinality_limit`.
    pub dimensions_cache_size: i64,
    pub resource_metrics_cache_size: i64,
    pub resource_metrics_key_attributes: Vec<String>,
    pub aggregation_temporality: String,
    pub histogram: Histogram,
    pub metrics_flush_interval: GoDuration,
    pub metrics_expiration: GoDuration,
    pub series_expiration: GoDuration,
    pub metric_timestamp_cache_size: Option<i64>,
    pub namespace: String,
    pub exemplars: Exemplars,
    pub events: Events,
    pub include_instrumentation_scope: Vec<String>,
    pub aggregation_cardinality_limit: i64,
    pub transformations: ConfigValue,
}

impl Default for Config {
    /// Go `createDefaultConfig`.
    fn default() -> Self {
        Config {
            dimensions: Vec::new(),
            calls_dimensions: Vec::new(),
            exclude_dimensions: Vec::new(),
            dimensions_cache_size: 1000,
            resource_metrics_cache_size: 1000,
            resource_metrics_key_attributes: Vec::new(),
            aggregation_temporality: CUMULATIVE.to_string(),
            histogram: Histogram::default(),
            metrics_flush_interval: GoDuration::from_secs(60),
            metrics_expiration: GoDuration::default(),
            series_expiration: GoDuration::default(),
            metric_timestamp_cache_size: None,
            namespace: DEFAULT_NAMESPACE.to_string(),
            exemplars: Exemplars::default(),
            events: Events::default(),
            include_instrumentation_scope: Vec::new(),
            aggregation_cardinality_limit: 0,
            transformations: ConfigValue::Null,
        }
    }
}

impl Config {
    pub fn is_delta(&self) -> bool {
        self.aggregation_temporality == DELTA
    }

    /// The explicit bucket bounds in the histogram's unit.
    pub fn bounds(&self) -> Vec<f64> {
        let unit = self.histogram.unit;
        match self
            .histogram
            .explicit
            .as_ref()
            .and_then(|e| e.buckets.as_ref())
        {
            Some(b) => b
                .iter()
                .map(|d| d.get().as_nanos() as f64 / unit.divider())
                .collect(),
            None => DEFAULT_BUCKETS_MS
                .iter()
                .map(|ms| match unit {
                    Unit::Milliseconds => *ms,
                    Unit::Seconds => ms / 1000.0,
                })
                .collect(),
        }
    }
}

fn duplicate(dimensions: &[Dimension]) -> Option<&str> {
    let mut seen = vec![SERVICE_NAME, SPAN_KIND, STATUS_CODE, SPAN_NAME];
    for d in dimensions {
        if seen.contains(&d.name.as_str()) {
            return Some(&d.name);
        }
        seen.push(&d.name);
    }
    None
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if let Some(d) = duplicate(&self.dimensions) {
            errors.push(ConfigError::new(
                &["dimensions"],
                format!("failed validating dimensions: duplicate dimension name {d}"),
            ));
        }
        if self.events.enabled {
            if self.events.dimensions.is_empty() {
                errors.push(ConfigError::new(
                    &["events", "dimensions"],
                    "failed validating event dimensions: no dimensions configured for events",
                ));
            } else if let Some(d) = duplicate(&self.events.dimensions) {
                errors.push(ConfigError::new(
                    &["events", "dimensions"],
                    format!("failed validating event dimensions: duplicate dimension name {d}"),
                ));
            }
        }
        if self.histogram.explicit.is_some() && self.histogram.exponential.is_some() {
            errors.push(ConfigError::new(
                &["histogram"],
                "use either `explicit` or `exponential` buckets histogram",
            ));
        }
        if self.is_delta() && self.metric_timestamp_cache_size.unwrap_or(1000) <= 0 {
            errors.push(ConfigError::new(
                &["metric_timestamp_cache_size"],
                format!(
                    "invalid delta timestamp cache size: {}, the maximum number of the items in the cache should be positive",
                    self.metric_timestamp_cache_size.unwrap_or_default()
                ),
            ));
        }
        if self.aggregation_cardinality_limit < 0 {
            errors.push(ConfigError::new(
                &["aggregation_cardinality_limit"],
                format!(
                    "invalid aggregation_cardinality_limit: {}, the limit should be positive",
                    self.aggregation_cardinality_limit
                ),
            ));
        }
        if !self.transformations.is_null() {
            errors.push(ConfigError::new(
                &["transformations"],
                "span name transformations are not supported by Ferrotel yet",
            ));
        }
        errors
    }
}

impl ComponentConfig for Config {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut keys = Vec::new();
        if !self.calls_dimensions.is_empty() {
            keys.push((
                "calls_dimensions".into(),
                "the calls metric has the dimensions of `dimensions`".into(),
            ));
        }
        if !self.histogram.dimensions.is_empty() {
            keys.push((
                "histogram::dimensions".into(),
                "the duration metric has the dimensions of `dimensions`".into(),
            ));
        }
        if !self.series_expiration.is_zero() {
            keys.push((
                "series_expiration".into(),
                "series expire with their resource (`metrics_expiration`)".into(),
            ));
        }
        keys
    }
}
