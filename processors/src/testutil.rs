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

/// What [`wire_form_agrees`] saw over its requests.
#[derive(Debug, Default)]
pub struct Agreement {
    /// Requests whose bytes the processing changed.
    pub changed: usize,
    /// Requests the processing refused (alike in both forms).
    pub failed: usize,
    /// Requests that lost items.
    pub shrunk: usize,
    /// Requests left with no item.
    pub emptied: usize,
}

/// Run `process` over 300 requests of `signal` made by `request` (given the request's
/// index), once over the wire form and once over the decoded form: the same result, the
/// same bytes and the same item count; with `stays_wire`, the wire form is not decoded on
/// the way. `process` is told which form it is handed (`true`: the wire form). More than
/// 50 requests must change, and with `failing` more than 10 must be refused.
pub fn wire_form_agrees<R: PartialEq + std::fmt::Debug>(
    signal: Signal,
    mut request: impl FnMut(usize) -> pipeline_api::BatchData,
    what: &str,
    stays_wire: bool,
    failing: bool,
    mut process: impl FnMut(&mut pipeline_api::Batch, bool) -> Result<R, String>,
) -> Agreement {
    let mut seen = Agreement::default();
    for n in 0..300 {
        let (mut wire, mut decoded) = pipeline_api::testing::random::both_forms(request(n));
        assert_eq!(wire.signal(), signal, "{what}: requests of the signal");
        let bytes = wire.encode();
        let before = wire.items();
        let (a, b) = (process(&mut wire, true), process(&mut decoded, false));
        assert_eq!(a, b, "{what}: results differ");
        if a.is_err() {
            seen.failed += 1;
            continue;
        }
        if stays_wire {
            assert!(!wire.is_decoded(), "{what}: the wire form was decoded");
        }
        let got = wire.encode();
        assert!(
            got == decoded.encode(),
            "{what}: the wire form gives other bytes for {bytes:02x?}"
        );
        assert_eq!(wire.items(), decoded.items(), "{what}: items");
        seen.changed += usize::from(got != bytes);
        seen.shrunk += usize::from(wire.items() < before);
        seen.emptied += usize::from(wire.is_empty());
    }
    eprintln!("{what}: {seen:?}");
    // the cases must exercise what they are about
    assert!(
        seen.changed > 50,
        "{what}: only {} requests changed",
        seen.changed
    );
    if failing {
        assert!(
            seen.failed > 10,
            "{what}: only {} requests failed",
            seen.failed
        );
    }
    seen
}
