//! OTLP traces → Jaeger `api_v2` batches: a pure function.
//!
//! It follows the OpenTelemetry specification's Jaeger mapping
//! (`specification/trace/sdk_exporters/jaeger.md`, `common/mapping-to-non-otlp.md`) as the Go
//! collector-contrib translator implements it (`pkg/translator/jaeger/traces_to_jaegerproto.go`,
//! the version used by the removed `jaegerexporter`). Go facts relied on:
//! - one Jaeger batch per resource; a resource with no attributes and no scopes is skipped;
//! - process: `service.name` (its string value) → `serviceName`, every other resource
//!   attribute → a process tag; a resource without attributes gets the service name
//!   `OTLPResourceNoServiceName`; one with attributes but no `service.name` gets `""`;
//! - attribute types: string, int64, bool, float64, bytes → BINARY; maps and arrays →
//!   their JSON text as a string; an empty value → an empty string tag;
//! - span tags in this order: `otel.scope.name`, `otel.scope.version` (when non-empty; the
//!   latest Go writes the `otel.scope.*` names only, not the deprecated `otel.library.*`),
//!   the span's attributes, `span.kind` (`client`, `server`, `producer`, `consumer`,
//!   `internal`: Go also tags INTERNAL, which the spec says SHOULD NOT be tagged; Ferrotel
//!   keeps Go's output), `otel.status_code` (`OK`/`ERROR`, not for UNSET), `error=true` for
//!   ERROR, `otel.status_description` (when the message is non-empty), `w3c.tracestate`;
//! - references: the parent (when its id is non-zero) first, as CHILD_OF with the span's
//!   trace id; then each link as FOLLOWS_FROM, or CHILD_OF when its `opentracing.ref_type`
//!   attribute is `child_of`; a link to the parent itself changes the parent reference's type
//!   instead of being added;
//! - events → logs: the event time, an `event` field with the event name (unless an
//!   attribute named `event` exists), then the event's attributes;
//! - start time and duration (end − start, negative when end is before start) in
//!   nanoseconds.
//!
//! Added from the specification where Go writes nothing: non-zero dropped counts as
//! `otel.dropped_attributes_count`, `otel.dropped_events_count`, `otel.dropped_links_count`
//! span tags and `otel.event.dropped_attributes_count` log fields (INT64).

use std::collections::BTreeMap;
use std::fmt::Write;

use base64::Engine;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{span, ResourceSpans, Span};

use super::model::{self, SpanRefType};

pub const SERVICE_NAME: &str = "service.name";
pub const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";

/// A trace id as Jaeger's model holds it: two big-endian halves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TraceId {
    pub high: u64,
    pub low: u64,
}

impl TraceId {
    /// From OTLP bytes: 16 bytes as they are; a shorter id is taken as a big-endian number
    /// (left-padded), a longer one keeps its last 16 bytes.
    pub fn from_bytes(b: &[u8]) -> TraceId {
        let v = u128::from_be_bytes(fixed::<16>(b));
        TraceId {
            high: (v >> 64) as u64,
            low: v as u64,
        }
    }

    /// Jaeger's wire form: 16 bytes, high then low, big-endian.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        out.extend_from_slice(&self.high.to_be_bytes());
        out.extend_from_slice(&self.low.to_be_bytes());
        out
    }
}

/// A span id as a big-endian number (see [`TraceId::from_bytes`] for other lengths).
pub fn span_id(b: &[u8]) -> u64 {
    u64::from_be_bytes(fixed::<8>(b))
}

fn fixed<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let src = if b.len() > N { &b[b.len() - N..] } else { b };
    out[N - src.len()..].copy_from_slice(src);
    out
}

/// Every Jaeger batch of a request, one per resource.
pub fn batches(req: &ExportTraceServiceRequest) -> Vec<model::Batch> {
    req.resource_spans
        .iter()
        .filter_map(resource_batch)
        .collect()
}

fn resource_batch(rs: &ResourceSpans) -> Option<model::Batch> {
    let attrs: &[KeyValue] = rs
        .resource
        .as_ref()
        .map_or(&[], |r: &Resource| &r.attributes);
    if attrs.is_empty() && rs.scope_spans.is_empty() {
        return None;
    }
    let spans = rs
        .scope_spans
        .iter()
        .flat_map(|ss| {
            ss.spans
                .iter()
                .map(move |s| span_to_jaeger(s, ss.scope.as_ref()))
        })
        .collect();
    Some(model::Batch {
        spans,
        process: Some(process(attrs)),
    })
}

/// The resource as a Jaeger process.
pub fn process(attrs: &[KeyValue]) -> model::Process {
    if attrs.is_empty() {
        return model::Process {
            service_name: NO_SERVICE_NAME.to_string(),
            tags: Vec::new(),
        };
    }
    let service_name = attrs
        .iter()
        .find(|kv| kv.key == SERVICE_NAME)
        .map(
            |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                _ => String::new(),
            },
        )
        .unwrap_or_default();
    let tags = attrs
        .iter()
        .filter(|kv| kv.key != SERVICE_NAME)
        .map(tag)
        .collect();
    model::Process { service_name, tags }
}

/// One attribute as a Jaeger tag.
pub fn tag(kv: &KeyValue) -> model::KeyValue {
    let key = kv.key.as_str();
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => model::KeyValue::string(key, s),
        Some(any_value::Value::IntValue(i)) => model::KeyValue::int64(key, *i),
        Some(any_value::Value::BoolValue(b)) => model::KeyValue::bool(key, *b),
        Some(any_value::Value::DoubleValue(d)) => model::KeyValue::float64(key, *d),
        Some(any_value::Value::BytesValue(b)) => model::KeyValue::binary(key, b),
        Some(v @ (any_value::Value::ArrayValue(_) | any_value::Value::KvlistValue(_))) => {
            let mut text = String::new();
            go_json(&mut text, Some(v));
            model::KeyValue::string(key, &text)
        }
        Some(any_value::Value::StringValueStrindex(_)) | None => model::KeyValue::string(key, ""),
    }
}

fn timestamp(nanos: u64) -> model::Timestamp {
    model::Timestamp {
        seconds: i64::try_from(nanos / 1_000_000_000).unwrap_or(i64::MAX),
        nanos: (nanos % 1_000_000_000) as i32,
    }
}

/// `end − start` as a protobuf duration (seconds and nanos share the sign).
fn duration(start: u64, end: u64) -> model::Duration {
    let d = i128::from(end) - i128::from(start);
    let d = d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    model::Duration {
        seconds: d / 1_000_000_000,
        nanos: (d % 1_000_000_000) as i32,
    }
}

fn span_to_jaeger(s: &Span, scope: Option<&InstrumentationScope>) -> model::Span {
    let trace_id = TraceId::from_bytes(&s.trace_id);
    model::Span {
        trace_id: trace_id.to_bytes(),
        span_id: span_id(&s.span_id).to_be_bytes().to_vec(),
        operation_name: s.name.clone(),
        references: references(&s.links, span_id(&s.parent_span_id), trace_id),
        flags: 0,
        start_time: Some(timestamp(s.start_time_unix_nano)),
        duration: Some(duration(s.start_time_unix_nano, s.end_time_unix_nano)),
        tags: span_tags(s, scope),
        logs: s.events.iter().map(event_log).collect(),
        process: None,
        process_id: String::new(),
        warnings: Vec::new(),
    }
}

fn span_tags(s: &Span, scope: Option<&InstrumentationScope>) -> Vec<model::KeyValue> {
    let mut tags = Vec::with_capacity(s.attributes.len() + 6);
    if let Some(scope) = scope {
        if !scope.name.is_empty() {
            tags.push(model::KeyValue::string("otel.scope.name", &scope.name));
        }
        if !scope.version.is_empty() {
            tags.push(model::KeyValue::string(
                "otel.scope.version",
                &scope.version,
            ));
        }
    }
    tags.extend(s.attributes.iter().map(tag));
    let kind = match span::SpanKind::try_from(s.kind) {
        Ok(span::SpanKind::Client) => Some("client"),
        Ok(span::SpanKind::Server) => Some("server"),
        Ok(span::SpanKind::Producer) => Some("producer"),
        Ok(span::SpanKind::Consumer) => Some("consumer"),
        Ok(span::SpanKind::Internal) => Some("internal"),
        _ => None,
    };
    if let Some(kind) = kind {
        tags.push(model::KeyValue::string("span.kind", kind));
    }
    let (code, message) = s
        .status
        .as_ref()
        .map_or((0, ""), |st| (st.code, st.message.as_str()));
    // Status codes: 1 OK, 2 ERROR (`opentelemetry.proto.trace.v1.Status.StatusCode`).
    match code {
        1 => tags.push(model::KeyValue::string("otel.status_code", "OK")),
        2 => {
            tags.push(model::KeyValue::string("otel.status_code", "ERROR"));
            tags.push(model::KeyValue::bool("error", true));
        }
        _ => {}
    }
    if !message.is_empty() {
        tags.push(model::KeyValue::string("otel.status_description", message));
    }
    if !s.trace_state.is_empty() {
        tags.push(model::KeyValue::string("w3c.tracestate", &s.trace_state));
    }
    for (key, n) in [
        ("otel.dropped_attributes_count", s.dropped_attributes_count),
        ("otel.dropped_events_count", s.dropped_events_count),
        ("otel.dropped_links_count", s.dropped_links_count),
    ] {
        if n != 0 {
            tags.push(model::KeyValue::int64(key, i64::from(n)));
        }
    }
    tags
}

fn link_ref_type(link: &span::Link) -> SpanRefType {
    let child_of = link.attributes.iter().any(|kv| {
        kv.key == "opentracing.ref_type"
            && matches!(
                kv.value.as_ref().and_then(|v| v.value.as_ref()),
                Some(any_value::Value::StringValue(s)) if s == "child_of"
            )
    });
    if child_of {
        SpanRefType::ChildOf
    } else {
        SpanRefType::FollowsFrom
    }
}

fn references(links: &[span::Link], parent: u64, trace_id: TraceId) -> Vec<model::SpanRef> {
    let mut refs = Vec::with_capacity(links.len() + 1);
    if parent != 0 {
        refs.push(model::SpanRef {
            trace_id: trace_id.to_bytes(),
            span_id: parent.to_be_bytes().to_vec(),
            ref_type: SpanRefType::ChildOf as i32,
        });
    }
    for link in links {
        let link_trace = TraceId::from_bytes(&link.trace_id);
        let link_span = span_id(&link.span_id);
        let ref_type = link_ref_type(link) as i32;
        if parent != 0 && link_trace == trace_id && link_span == parent {
            // refs[0] is the parent reference, pushed above.
            if let Some(first) = refs.first_mut() {
                first.ref_type = ref_type;
            }
            continue;
        }
        refs.push(model::SpanRef {
            trace_id: link_trace.to_bytes(),
            span_id: link_span.to_be_bytes().to_vec(),
            ref_type,
        });
    }
    refs
}

fn event_log(e: &span::Event) -> model::Log {
    let mut fields = Vec::with_capacity(e.attributes.len() + 2);
    if !e.name.is_empty() && !e.attributes.iter().any(|kv| kv.key == "event") {
        fields.push(model::KeyValue::string("event", &e.name));
    }
    fields.extend(e.attributes.iter().map(tag));
    if e.dropped_attributes_count != 0 {
        fields.push(model::KeyValue::int64(
            "otel.event.dropped_attributes_count",
            i64::from(e.dropped_attributes_count),
        ));
    }
    model::Log {
        timestamp: Some(timestamp(e.time_unix_nano)),
        fields,
    }
}

/// A value as Go's `pcommon.Value.AsString` writes maps and slices: `encoding/json` of the
/// raw value (map keys sorted, the last of duplicate keys kept, bytes as base64, an empty
/// value as `null`, `<`, `>`, `&` escaped).
fn go_json(out: &mut String, v: Option<&any_value::Value>) {
    match v {
        None | Some(any_value::Value::StringValueStrindex(_)) => out.push_str("null"),
        Some(any_value::Value::StringValue(s)) => go_json_string(out, s),
        Some(any_value::Value::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(any_value::Value::IntValue(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(any_value::Value::DoubleValue(d)) => go_json_float(out, *d),
        Some(any_value::Value::BytesValue(b)) => {
            out.push('"');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push('"');
        }
        Some(any_value::Value::ArrayValue(a)) => {
            out.push('[');
            for (i, item) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(out, item.value.as_ref());
            }
            out.push(']');
        }
        Some(any_value::Value::KvlistValue(l)) => {
            let sorted: BTreeMap<&str, Option<&AnyValue>> = l
                .values
                .iter()
                .map(|kv| (kv.key.as_str(), kv.value.as_ref()))
                .collect();
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(out, k);
                out.push(':');
                go_json(out, v.and_then(|v| v.value.as_ref()));
            }
            out.push('}');
        }
    }
}

fn go_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go `encoding/json` float64: shortest digits, plain between 1e-6 and 1e21, else with an
/// exponent (`1e+21`, `1e-07` → `1e-7`). Non-finite values cannot be JSON: Go's
/// `AsString` then gives up on the whole value; Ferrotel writes them as strings.
fn go_json_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("\"NaN\"");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "\"+Inf\"" } else { "\"-Inf\"" });
        return;
    }
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        let _ = write!(out, "{f}");
    } else {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => {
                let _ = write!(out, "{mantissa}e+{exp}");
            }
            _ => out.push_str(&s),
        }
    }
}

#[cfg(test)]
pub(crate) fn go_json_text(v: &any_value::Value) -> String {
    let mut s = String::new();
    go_json(&mut s, Some(v));
    s
}
