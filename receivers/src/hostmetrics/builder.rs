//! Build one scraper's metrics the way Go's generated `MetricsBuilder` does: only enabled
//! metrics, points in the order recorded, every point of a scrape with the same start time.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

/// A metric's instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sum { monotonic: bool },
    Gauge,
}

/// One metric a scraper can produce.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    pub name: &'static str,
    pub description: &'static str,
    pub unit: &'static str,
    pub kind: Kind,
    pub int: bool,
    pub enabled: bool,
    pub attributes: &'static [&'static str],
}

/// A [`Def`] in a `const` table.
pub const fn def(
    name: &'static str,
    description: &'static str,
    unit: &'static str,
    kind: Kind,
    int: bool,
    enabled: bool,
    attributes: &'static [&'static str],
) -> Def {
    Def {
        name,
        description,
        unit,
        kind,
        int,
        enabled,
        attributes,
    }
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Int(i64),
}

impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        AttrValue::Str(s.to_string())
    }
}

impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        AttrValue::Str(s)
    }
}

pub fn kv(key: &str, value: AttrValue) -> KeyValue {
    let value = match value {
        AttrValue::Str(s) => any_value::Value::StringValue(s),
        AttrValue::Int(i) => any_value::Value::IntValue(i),
    };
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// Collects one scrape's points for the enabled metrics of one scraper.
pub struct MetricsBuilder {
    defs: &'static [Def],
    enabled: Vec<bool>,
    points: Vec<Vec<NumberDataPoint>>,
    start: u64,
    now: u64,
}

impl MetricsBuilder {
    /// `enabled`: the user's `metrics:` toggles by name; others keep their default.
    pub fn new(defs: &'static [Def], toggles: &BTreeMap<String, bool>) -> MetricsBuilder {
        MetricsBuilder {
            defs,
            enabled: defs
                .iter()
                .map(|d| toggles.get(d.name).copied().unwrap_or(d.enabled))
                .collect(),
            points: vec![Vec::new(); defs.len()],
            start: 0,
            now: 0,
        }
    }

    /// Start a scrape: the timestamps of the points recorded until [`Self::emit`].
    pub fn begin(&mut self, start: u64, now: u64) {
        self.start = start;
        self.now = now;
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.defs.iter().position(|d| d.name == name)
    }

    pub fn enabled(&self, name: &str) -> bool {
        self.index(name).map(|i| self.enabled[i]).unwrap_or(false)
    }

    /// Record a point (as an integer or a double, per the metric's value type); `attrs` in
    /// the metric's attribute order.
    pub fn record(&mut self, name: &str, value: f64, attrs: &[&str]) {
        let Some(i) = self.index(name) else {
            debug_assert!(false, "unknown metric {name}");
            return;
        };
        if !self.enabled[i] {
            return;
        }
        let attributes = self.defs[i]
            .attributes
            .iter()
            .zip(attrs)
            .map(|(k, v)| kv(k, AttrValue::Str((*v).to_string())))
            .collect();
        self.push(i, value, attributes);
    }

    /// Record a point with attributes of any type, already made (see [`kv`]); for a
    /// metric whose attributes are not all strings.
    pub fn record_attributes(&mut self, name: &str, value: f64, attributes: Vec<KeyValue>) {
        let Some(i) = self.index(name) else {
            debug_assert!(false, "unknown metric {name}");
            return;
        };
        if self.enabled[i] {
            self.push(i, value, attributes);
        }
    }

    /// Add a point to metric `i`.
    fn push(&mut self, i: usize, value: f64, attributes: Vec<KeyValue>) {
        let value = if self.defs[i].int {
            number_data_point::Value::AsInt(value as i64)
        } else {
            number_data_point::Value::AsDouble(value)
        };
        self.points[i].push(NumberDataPoint {
            attributes,
            start_time_unix_nano: self.start,
            time_unix_nano: self.now,
            value: Some(value),
            ..Default::default()
        });
    }

    /// The recorded metrics (those with points), emptying the builder.
    pub fn take_metrics(&mut self) -> Vec<Metric> {
        let mut out = Vec::new();
        for (i, def) in self.defs.iter().enumerate() {
            let points = std::mem::take(&mut self.points[i]);
            if points.is_empty() {
                continue;
            }
            let data = match def.kind {
                Kind::Sum { monotonic } => metric::Data::Sum(Sum {
                    data_points: points,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: monotonic,
                }),
                Kind::Gauge => metric::Data::Gauge(Gauge {
                    data_points: points,
                }),
            };
            out.push(Metric {
                name: def.name.to_string(),
                description: def.description.to_string(),
                unit: def.unit.to_string(),
                data: Some(data),
                ..Default::default()
            });
        }
        out
    }
}

/// The scope Go's scrapers name: their package path.
pub fn scope(scraper: &str) -> InstrumentationScope {
    InstrumentationScope {
        name: format!(
            "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver/internal/scraper/{scraper}scraper"
        ),
        version: env!("CARGO_PKG_VERSION").to_string(),
        ..Default::default()
    }
}

/// One resource with one scope holding `metrics`.
pub fn resource_metrics(
    scraper: &str,
    resource: Vec<KeyValue>,
    metrics: Vec<Metric>,
) -> ResourceMetrics {
    ResourceMetrics {
        resource: Some(Resource {
            attributes: resource,
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(scope(scraper)),
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// One resource with one scope of the given name holding `metrics`.
pub fn resource_metrics_scoped(
    scope_name: &str,
    resource: Vec<KeyValue>,
    metrics: Vec<Metric>,
) -> ResourceMetrics {
    ResourceMetrics {
        resource: Some(Resource {
            attributes: resource,
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: scope_name.to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                ..Default::default()
            }),
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    }
}
