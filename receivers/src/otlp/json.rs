//! OTLP/JSON: the protobuf JSON mapping of the export requests, decoded with
//! `opentelemetry-proto`'s serde impls after a normalising pass that covers what the
//! protobuf JSON mapping allows and those impls do not:
//!
//! - object keys in `snake_case` (the proto field names; the JSON mapping accepts both
//!   `lowerCamelCase` and the original name) are turned into `lowerCamelCase`;
//! - `null` for a field means its default (dropped);
//! - enums given by name (`"kind": "SPAN_KIND_SERVER"`) become their numbers;
//! - 32-bit integers given as strings (`"droppedAttributesCount": "1"`) become numbers.
//!
//! Hex trace/span ids, 64-bit integers as strings or numbers and unknown fields (ignored) are
//! handled by the serde impls themselves.

use serde_json::{Map, Value};

use pipeline_api::{Batch, BatchData, RequestContext, Signal};

/// Decode an OTLP/JSON export request of `signal`. Trace and span ids must have their
/// lengths (16 and 8 bytes, or be empty), as Go's unmarshaller requires and as the protobuf
/// path checks.
pub fn decode(signal: Signal, body: &[u8]) -> Result<BatchData, String> {
    let mut value: Value =
        serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    if !value.is_object() {
        return Err("invalid JSON: an export request must be a JSON object".into());
    }
    normalize(&mut value, None);
    let data = match signal {
        Signal::Traces => serde_json::from_value(value).map(BatchData::Traces),
        Signal::Metrics => serde_json::from_value(value).map(BatchData::Metrics),
        Signal::Logs => serde_json::from_value(value).map(BatchData::Logs),
    };
    let data = data.map_err(|e| format!("invalid OTLP/JSON {signal} request: {e}"))?;
    super::check_ids(&data)?;
    Ok(data)
}

/// An OTLP/JSON export request of `signal` as a batch. Requests of the usual shapes are
/// written straight into their protobuf encoding and kept in the wire form, as a
/// protobuf request is ([`super::json_wire`]); anything else is decoded by [`decode`], which
/// also gives the errors.
pub fn decode_batch(signal: Signal, body: &[u8]) -> Result<Batch, String> {
    if let Some(bytes) = super::json_wire::transcode(signal, body) {
        if let Ok(batch) = Batch::from_wire(signal, bytes.into(), RequestContext::default()) {
            return Ok(batch);
        }
    }
    decode(signal, body).map(|data| Batch::new(data, RequestContext::default()))
}

/// A successful export's response in JSON, as Go writes it: its `partialSuccess` is always
/// present, and empty.
pub const EMPTY_RESPONSE: &[u8] = br#"{"partialSuccess":{}}"#;

/// The same response in protobuf: field 1 (`partial_success`), an empty message. Go encodes
/// it though it is empty, over HTTP and gRPC alike.
pub const EMPTY_RESPONSE_PROTO: &[u8] = &[0x0a, 0x00];

/// `snake_case` → `lowerCamelCase`; other keys unchanged.
pub(super) fn camel(key: &str) -> Option<String> {
    if !key.contains('_') {
        return None;
    }
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// The number of enum value `name` of field `field`, for the fields that are enums in
/// OTLP (prost's names: the proto's).
pub(super) fn enum_number(field: &str, name: &str) -> Option<i64> {
    use pipeline_api::proto::tonic::logs::v1::SeverityNumber;
    use pipeline_api::proto::tonic::metrics::v1::AggregationTemporality;
    use pipeline_api::proto::tonic::trace::v1::{span::SpanKind, status::StatusCode};
    let n = match field {
        "kind" => SpanKind::from_str_name(name)? as i32,
        "code" => StatusCode::from_str_name(name)? as i32,
        "aggregationTemporality" => AggregationTemporality::from_str_name(name)? as i32,
        "severityNumber" => SeverityNumber::from_str_name(name)? as i32,
        _ => return None,
    };
    Some(n.into())
}

/// Fields that are 32-bit integers (or enums) in OTLP, which the JSON mapping also accepts
/// as strings.
fn is_int32_field(field: &str) -> bool {
    matches!(
        field,
        "droppedAttributesCount"
            | "droppedEventsCount"
            | "droppedLinksCount"
            | "flags"
            | "scale"
            | "offset"
            | "kind"
            | "code"
            | "severityNumber"
            | "aggregationTemporality"
    )
}

/// What Go's unmarshaller leaves at its default when it is missing (an empty key, an empty
/// list, as Go writes them) and the serde impls require: the keys of the key-value lists
/// in `map` (field `field` of its parent), the values of a `kvlistValue` or `arrayValue`,
/// the fields of entity references.
fn defaults(map: &mut Map<String, Value>, field: Option<&str>) {
    /// A key and how to make its default.
    type Default = (&'static str, fn() -> Value);
    fn fill(list: Option<&mut Value>, fields: &[Default]) {
        let Some(Value::Array(items)) = list else {
            return;
        };
        for item in items {
            if let Value::Object(m) = item {
                for (k, v) in fields {
                    m.entry(*k).or_insert_with(v);
                }
            }
        }
    }
    let text = || Value::String(String::new());
    let list = || Value::Array(Vec::new());
    if matches!(field, Some("kvlistValue" | "arrayValue")) {
        map.entry("values").or_insert_with(list);
    }
    if field == Some("kvlistValue") {
        fill(map.get_mut("values"), &[("key", text)]);
    }
    for attributes in ["attributes", "filteredAttributes", "metadata"] {
        fill(map.get_mut(attributes), &[("key", text)]);
    }
    let entity: [Default; 4] = [
        ("schemaUrl", text),
        ("type", text),
        ("idKeys", list),
        ("descriptionKeys", list),
    ];
    fill(map.get_mut("entityRefs"), &entity);
}

fn normalize(value: &mut Value, field: Option<&str>) {
    match value {
        Value::Object(map) => {
            let old = std::mem::take(map);
            let mut new = Map::with_capacity(old.len());
            for (k, mut v) in old {
                if v.is_null() {
                    continue;
                }
                let key = camel(&k).unwrap_or(k);
                normalize(&mut v, Some(&key));
                new.insert(key, v);
            }
            defaults(&mut new, field);
            *map = new;
        }
        Value::Array(items) => {
            for v in items.iter_mut() {
                normalize(v, None);
            }
        }
        Value::String(s) => {
            let Some(field) = field else { return };
            if let Some(n) = enum_number(field, s) {
                *value = Value::from(n);
            } else if is_int32_field(field) {
                if let Ok(n) = s.trim().parse::<i64>() {
                    *value = Value::from(n);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_keys_become_lower_camel_case() {
        assert_eq!(camel("resource_spans").as_deref(), Some("resourceSpans"));
        assert_eq!(
            camel("start_time_unix_nano").as_deref(),
            Some("startTimeUnixNano")
        );
        assert_eq!(camel("name"), None);
    }

    #[test]
    fn enum_names_become_numbers() {
        assert_eq!(enum_number("kind", "SPAN_KIND_SERVER"), Some(2));
        assert_eq!(enum_number("code", "STATUS_CODE_ERROR"), Some(2));
        assert_eq!(
            enum_number(
                "aggregationTemporality",
                "AGGREGATION_TEMPORALITY_CUMULATIVE"
            ),
            Some(2)
        );
        let severity = |name| enum_number("severityNumber", name);
        assert_eq!(severity("SEVERITY_NUMBER_INFO"), Some(9));
        assert_eq!(severity("SEVERITY_NUMBER_WARN2"), Some(14));
        assert_eq!(severity("SEVERITY_NUMBER_FATAL4"), Some(24));
        assert_eq!(severity("SEVERITY_NUMBER_INFO5"), None);
    }

    #[test]
    fn snake_case_enum_names_and_string_ints_decode() {
        let body = br#"{"resource_spans":[{"scope_spans":[{"spans":[{
            "trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174",
            "name":"x","kind":"SPAN_KIND_CLIENT","start_time_unix_nano":1544712660000000000,
            "dropped_attributes_count":"3","status":{"code":"STATUS_CODE_ERROR","message":null},
            "unknown_field":{"a":1}}]}]}]}"#;
        let BatchData::Traces(req) = decode(Signal::Traces, body).unwrap() else {
            panic!()
        };
        let span = &req.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.kind, 3);
        assert_eq!(span.dropped_attributes_count, 3);
        assert_eq!(span.start_time_unix_nano, 1544712660000000000);
        assert_eq!(span.status.as_ref().unwrap().code, 2);
        assert_eq!(
            span.span_id,
            vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]
        );
    }

    /// What Go writes for empty lists and keys, and takes back: a metric's metadata and a
    /// data point's attributes too (the other forms are in `json_wire`'s tests).
    #[test]
    fn missing_keys_and_lists_are_go_s_defaults() {
        let body = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m",
            "metadata":[{"value":{"kvlistValue":{}}}],
            "gauge":{"dataPoints":[{"asInt":"1","attributes":[{"value":{"arrayValue":{}}}]}]}}]}]}]}"#;
        let BatchData::Metrics(req) = decode(Signal::Metrics, body).unwrap() else {
            panic!()
        };
        let metric = &req.resource_metrics[0].scope_metrics[0].metrics[0];
        assert_eq!(metric.metadata[0].key, "");
        let Some(pipeline_api::proto::tonic::metrics::v1::metric::Data::Gauge(g)) = &metric.data
        else {
            panic!()
        };
        assert_eq!(g.data_points[0].attributes[0].key, "");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in [
            &b"{"[..],
            b"[]",
            b"null",
            b"{\"resourceSpans\":3}",
            b"\xff\xfe",
            b"",
        ] {
            assert!(decode(Signal::Traces, body).is_err(), "{body:?}");
        }
    }
}
