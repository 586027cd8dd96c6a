//! Small helpers the connectors share: reading attributes and stamping times.

use std::time::{SystemTime, UNIX_EPOCH};

use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics};
use pipeline_api::proto::tonic::resource::v1::Resource;

/// Now, in nanoseconds since the epoch.
pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The value of `key` among `attrs`.
pub fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref())
}

/// A scalar value as Go's `Value.AsString` writes it; `None` for maps, lists and bytes.
pub fn scalar_text(v: &AnyValue) -> Option<String> {
    Some(match &v.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        _ => return None,
    })
}

/// A string value.
pub fn string_value(s: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s.to_string())),
    }
}

/// An attribute.
pub fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(value),
        ..Default::default()
    }
}

/// What a connector emits for one resource: its attributes, one scope named `scope`, the
/// metrics.
pub fn resource_metrics(
    attributes: Vec<KeyValue>,
    scope: &str,
    metrics: Vec<Metric>,
) -> ResourceMetrics {
    ResourceMetrics {
        resource: Some(Resource {
            attributes,
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: scope.into(),
                ..Default::default()
            }),
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    }
}
