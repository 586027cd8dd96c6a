//! Edits applied to the wire form of an export request without decoding the rest of it.
//!
//! [`edit_resources`] rewrites the `resource` of every `ResourceSpans`, `ResourceMetrics` or
//! `ResourceLogs` (field 1 of the request, field 1 inside each: the same numbers for the
//! three signals) and copies every other byte as it is, so a processor that touches only
//! resource attributes (`resource`, `resourcedetection`) costs a few small decodes per
//! request instead of decoding and re-encoding every span, data point and log record.
//!
//! The input must be bytes [`crate::wire::scan`] accepted; anything else gives `None` and
//! the caller falls back to decoding.

use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::encoding::encode_varint;
use prost::Message;

use crate::wire::{take, varint};

/// One field of a message: its number, wire type and the bytes of its value (for a
/// length-delimited field, the payload without the length); `raw` is the whole field, key
/// included.
struct Field<'a> {
    number: u64,
    wire_type: u64,
    value: &'a [u8],
    raw: &'a [u8],
}

/// The next field of `b`, advancing it; `None` at the end or on anything malformed (groups
/// included: the requests' schema has none, and a skipped unknown group is left to the
/// decoding path).
fn next_field<'a>(b: &mut &'a [u8]) -> Option<Field<'a>> {
    let start = *b;
    let key = varint(b)?;
    let (number, wire_type) = (key >> 3, key & 7);
    let value: &[u8] = match wire_type {
        0 => {
            let before = *b;
            varint(b)?;
            &before[..before.len() - b.len()]
        }
        1 => take(b, 8)?,
        2 => {
            let len = varint(b)?;
            take(b, len)?
        }
        5 => take(b, 4)?,
        _ => return None,
    };
    let raw = &start[..start.len() - b.len()];
    Some(Field {
        number,
        wire_type,
        value,
        raw,
    })
}

/// Append field `number` as a length-delimited `payload`.
fn put_len_field(out: &mut Vec<u8>, number: u64, payload: &[u8]) {
    encode_varint((number << 3) | 2, out);
    encode_varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// Apply `f` to the resource of every resource entry of the export request in `bytes` (an
/// empty resource where there is none, as the decoded path treats a missing one), keeping
/// everything else byte for byte. `None` when the bytes cannot be walked.
pub fn edit_resources(bytes: &[u8], f: &mut dyn FnMut(&mut Resource)) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let mut rest = bytes;
    let mut inner = Vec::new();
    while !rest.is_empty() {
        let field = next_field(&mut rest)?;
        if field.number != 1 || field.wire_type != 2 {
            out.extend_from_slice(field.raw);
            continue;
        }
        // one Resource{Spans,Metrics,Logs}: the resource (every occurrence merged, as
        // prost merges a repeated message field), then the other fields as they were
        let mut resource = Resource::default();
        let mut others: Vec<&[u8]> = Vec::new();
        let mut entry = field.value;
        while !entry.is_empty() {
            let f = next_field(&mut entry)?;
            if f.number == 1 && f.wire_type == 2 {
                resource.merge(f.value).ok()?;
            } else {
                others.push(f.raw);
            }
        }
        f(&mut resource);
        inner.clear();
        put_len_field(&mut inner, 1, &resource.encode_to_vec());
        for o in others {
            inner.extend_from_slice(o);
        }
        put_len_field(&mut out, 1, &inner);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    fn edit(r: &mut Resource) {
        r.attributes.retain(|a| a.key != "drop.me");
        r.attributes.push(kv("env", "prod"));
    }

    /// The wire edit gives what decoding, editing and encoding give, for every signal and
    /// for the spec's example requests (with a resource, without one, several entries).
    #[test]
    fn a_wire_edit_decodes_to_the_decoded_edit() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/testdata/otlp-examples"
        );
        let mut checked = 0;
        for (file, signal) in [
            ("trace.json", 't'),
            ("metrics.json", 'm'),
            ("logs.json", 'l'),
            ("events.json", 'l'),
        ] {
            let text = std::fs::read_to_string(format!("{dir}/{file}"))
                .unwrap_or_else(|e| panic!("{dir}/{file}: {e}"));
            macro_rules! check {
                ($ty:ty, $field:ident) => {{
                    let mut req: $ty = serde_json::from_str(&text).unwrap();
                    // a second entry without a resource, and one with a dropped attribute
                    let mut extra = req.$field[0].clone();
                    extra.resource = None;
                    req.$field.push(extra);
                    if let Some(r) = req.$field[0].resource.as_mut() {
                        r.attributes.push(kv("drop.me", "x"));
                    }
                    let wire = req.encode_to_vec();
                    let edited = edit_resources(&wire, &mut edit).unwrap();
                    let mut expected = req.clone();
                    for e in &mut expected.$field {
                        edit(e.resource.get_or_insert_with(Default::default));
                    }
                    assert_eq!(<$ty>::decode(&edited[..]).unwrap(), expected, "{file}");
                    checked += 1;
                }};
            }
            match signal {
                't' => check!(ExportTraceServiceRequest, resource_spans),
                'm' => check!(ExportMetricsServiceRequest, resource_metrics),
                _ => check!(ExportLogsServiceRequest, resource_logs),
            }
        }
        assert_eq!(
            checked, 4,
            "the spec's examples in ../shared/testdata/otlp-examples"
        );
    }

    #[test]
    fn bytes_that_do_not_walk_give_none() {
        // a length running past the end
        assert!(edit_resources(&[0x0a, 0x05, 0x0a], &mut edit).is_none());
        // a group
        assert!(edit_resources(&[0x0b, 0x0c], &mut edit).is_none());
        assert_eq!(edit_resources(&[], &mut edit), Some(Vec::new()));
    }
}
