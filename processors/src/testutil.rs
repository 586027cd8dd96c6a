//! Helpers shared by the processors' tests.

use pipeline_api::config::ConfigValue;
use pipeline_api::proto::tonic::common::v1::any_value::Value;
use pipeline_api::proto::tonic::common::v1::{AnyValue, KeyValue};
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{BuildContext, ComponentKind, Signal};

pub fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).expect("test yaml")
}

pub fn s(v: &str) -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(v.into())),
    }
}

pub fn i(v: i64) -> AnyValue {
    AnyValue {
        value: Some(Value::IntValue(v)),
    }
}

pub fn d(v: f64) -> AnyValue {
    AnyValue {
        value: Some(Value::DoubleValue(v)),
    }
}

pub fn b(v: bool) -> AnyValue {
    AnyValue {
        value: Some(Value::BoolValue(v)),
    }
}

pub fn kv(k: &str, v: AnyValue) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(v),
        ..Default::default()
    }
}

/// The value of `key` in `attrs`.
pub fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

pub use pipeline_api::testing::Collect;

pub fn ctx(id: &str, signal: Signal) -> BuildContext {
    pipeline_api::testing::context(ComponentKind::Processor, id, vec![signal])
}

/// The value of the counter/gauge `name` whose labels include all of `labels`.
pub fn metric(t: &ComponentTelemetry, name: &str, labels: &[(&str, &str)]) -> f64 {
    use prometheus::proto::MetricType;
    t.telemetry()
        .registry()
        .gather()
        .into_iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| {
            let ty = f.get_field_type();
            f.get_metric()
                .iter()
                .filter(|m| {
                    labels.iter().all(|(k, v)| {
                        m.get_label()
                            .iter()
                            .any(|l| l.name() == *k && l.value() == *v)
                    })
                })
                .map(|m| match ty {
                    MetricType::COUNTER => m.get_counter().get_value(),
                    MetricType::GAUGE => m.get_gauge().get_value(),
                    _ => 0.0,
                })
                .collect::<Vec<_>>()
        })
        .sum()
}
