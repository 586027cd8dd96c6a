//! Jaeger Thrift: the `jaeger.thrift` batch (`Batch`, `Process`, `Span`, `Tag`, `Log`,
//! `SpanRef`) read from the Thrift binary protocol (`thrift_http` bodies, `thrift_binary` UDP
//! packets) and the compact protocol (`thrift_compact` UDP packets), and translated to OTLP
//! as Go's `pkg/translator/jaeger` `ThriftToTraces` does.
//!
//! The protocols are read by [`crate::thrift_codec`].
//!
//! - `Agent.emitBatch(1: jaeger.Batch batch)` is the one-way call a Jaeger client sends to
//!   the UDP ports; `emitZipkinBatch` carries Zipkin Thrift spans (refused here).
//!
//! Translation facts (Go `jaegerthrift_to_traces.go`): one resource (`service.name` from the
//! process, its tags typed, `hostname` → `host.name`, `jaeger.version` →
//! `opencensus.exporterversion`), one scope holding every span; an all-default span is
//! skipped; ids from the high and low halves; times in microseconds; the parent is
//! `parentSpanId`, else the first CHILD_OF reference in the span's trace, else the first
//! FOLLOWS_FROM one; `span.kind` → kind; the status as the api_v2 path; logs → events
//! (`event` → name); references other than the parent's CHILD_OF → links with
//! `opentracing.ref_type`.

use exporters::jaeger::to_otlp::{as_str, process_attributes, put, status, take};
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span};

pub use crate::thrift_codec::Protocol;
use crate::thrift_codec::{
    read_struct, Reader, R, T_BOOL, T_DOUBLE, T_I32, T_I64, T_LIST, T_STRING, T_STRUCT,
};

/// `jaeger.Tag`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tag {
    pub key: String,
    /// STRING 0, DOUBLE 1, BOOL 2, LONG 3, BINARY 4.
    pub v_type: i32,
    pub v_str: String,
    pub v_double: f64,
    pub v_bool: bool,
    pub v_long: i64,
    pub v_binary: Vec<u8>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Log {
    pub timestamp: i64,
    pub fields: Vec<Tag>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanRef {
    /// CHILD_OF 0, FOLLOWS_FROM 1.
    pub ref_type: i32,
    pub trace_id_low: i64,
    pub trace_id_high: i64,
    pub span_id: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThriftSpan {
    pub trace_id_low: i64,
    pub trace_id_high: i64,
    pub span_id: i64,
    pub parent_span_id: i64,
    pub operation_name: String,
    pub references: Vec<SpanRef>,
    pub flags: i32,
    pub start_time: i64,
    pub duration: i64,
    pub tags: Vec<Tag>,
    pub logs: Vec<Log>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Process {
    pub service_name: String,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThriftBatch {
    pub process: Option<Process>,
    pub spans: Vec<ThriftSpan>,
}

fn tag(r: &mut Reader<'_>) -> R<Tag> {
    let mut t = Tag::default();
    read_struct(r, "Tag", &[1, 2], |r, ty, id| {
        Ok(match (id, ty) {
            (1, T_STRING) => {
                t.key = r.string()?;
                true
            }
            (2, T_I32) => {
                t.v_type = r.i32()?;
                true
            }
            (3, T_STRING) => {
                t.v_str = r.string()?;
                true
            }
            (4, T_DOUBLE) => {
                t.v_double = r.double()?;
                true
            }
            (5, T_BOOL) => {
                t.v_bool = r.bool()?;
                true
            }
            (6, T_I64) => {
                t.v_long = r.i64()?;
                true
            }
            (7, T_STRING) => {
                t.v_binary = r.binary()?.to_vec();
                true
            }
            _ => false,
        })
    })?;
    Ok(t)
}

fn log(r: &mut Reader<'_>) -> R<Log> {
    let mut l = Log::default();
    read_struct(r, "Log", &[1, 2], |r, ty, id| {
        Ok(match (id, ty) {
            (1, T_I64) => {
                l.timestamp = r.i64()?;
                true
            }
            (2, T_LIST) => {
                l.fields = r.structs(tag)?;
                true
            }
            _ => false,
        })
    })?;
    Ok(l)
}

fn span_ref(r: &mut Reader<'_>) -> R<SpanRef> {
    let mut s = SpanRef::default();
    read_struct(r, "SpanRef", &[1, 2, 3, 4], |r, ty, id| {
        Ok(match (id, ty) {
            (1, T_I32) => {
                s.ref_type = r.i32()?;
                true
            }
            (2, T_I64) => {
                s.trace_id_low = r.i64()?;
                true
            }
            (3, T_I64) => {
                s.trace_id_high = r.i64()?;
                true
            }
            (4, T_I64) => {
                s.span_id = r.i64()?;
                true
            }
            _ => false,
        })
    })?;
    Ok(s)
}

fn thrift_span(r: &mut Reader<'_>) -> R<ThriftSpan> {
    let mut s = ThriftSpan::default();
    read_struct(r, "Span", &[1, 2, 3, 4, 5, 7, 8, 9], |r, ty, id| {
        Ok(match (id, ty) {
            (1, T_I64) => {
                s.trace_id_low = r.i64()?;
                true
            }
            (2, T_I64) => {
                s.trace_id_high = r.i64()?;
                true
            }
            (3, T_I64) => {
                s.span_id = r.i64()?;
                true
            }
            (4, T_I64) => {
                s.parent_span_id = r.i64()?;
                true
            }
            (5, T_STRING) => {
                s.operation_name = r.string()?;
                true
            }
            (6, T_LIST) => {
                s.references = r.structs(span_ref)?;
                true
            }
            (7, T_I32) => {
                s.flags = r.i32()?;
                true
            }
            (8, T_I64) => {
                s.start_time = r.i64()?;
                true
            }
            (9, T_I64) => {
                s.duration = r.i64()?;
                true
            }
            (10, T_LIST) => {
                s.tags = r.structs(tag)?;
                true
            }
            (11, T_LIST) => {
                s.logs = r.structs(log)?;
                true
            }
            _ => false,
        })
    })?;
    Ok(s)
}

fn process(r: &mut Reader<'_>) -> R<Process> {
    let mut p = Process::default();
    read_struct(r, "Process", &[1], |r, ty, id| {
        Ok(match (id, ty) {
            (1, T_STRING) => {
                p.service_name = r.string()?;
                true
            }
            (2, T_LIST) => {
                p.tags = r.structs(tag)?;
                true
            }
            _ => false,
        })
    })?;
    Ok(p)
}

fn batch(r: &mut Reader<'_>) -> R<ThriftBatch> {
    let mut b = ThriftBatch::default();
    read_struct(r, "Batch", &[1, 2], |r, ty, id| {
        Ok(match (id, ty) {
            (1, T_STRUCT) => {
                b.process = Some(process(r)?);
                true
            }
            (2, T_LIST) => {
                b.spans = r.structs(thrift_span)?;
                true
            }
            _ => false,
        })
    })?;
    Ok(b)
}

/// A `jaeger.Batch` in the binary protocol (a `thrift_http` body).
pub fn decode_batch(body: &[u8]) -> R<ThriftBatch> {
    let mut r = Reader::new(body, Protocol::Binary);
    batch(&mut r)
}

/// An `Agent` call in a UDP packet: the batch of `emitBatch`.
pub fn decode_agent_packet(packet: &[u8], proto: Protocol) -> R<ThriftBatch> {
    let mut r = Reader::new(packet, proto);
    let name = match proto {
        Protocol::Binary => {
            let first = r.i32()?;
            if first < 0 {
                if (first as u32) & 0xffff_0000 != 0x8001_0000 {
                    return Err(format!("bad binary protocol version {first:#x}"));
                }
                let name = r.string()?;
                r.i32()?; // sequence id
                name
            } else {
                let n = usize::try_from(first).map_err(|_| "bad name length")?;
                let name = String::from_utf8_lossy(r.bytes(n)?).into_owned();
                r.byte()?; // message type
                r.i32()?; // sequence id
                name
            }
        }
        Protocol::Compact => {
            if r.byte()? != 0x82 {
                return Err("not a compact protocol message".into());
            }
            let version = r.byte()? & 0x1f;
            if version != 1 {
                return Err(format!("bad compact protocol version {version}"));
            }
            r.varint()?; // sequence id
            r.string()?
        }
    };
    if name != "emitBatch" {
        return Err(format!(
            "Agent.{name} is not supported (only emitBatch: Jaeger Thrift spans)"
        ));
    }
    let mut out = None;
    read_struct(&mut r, "emitBatch_args", &[1], |r, ty, id| {
        Ok(match (id, ty) {
            (1, T_STRUCT) => {
                out = Some(batch(r)?);
                true
            }
            _ => false,
        })
    })?;
    out.ok_or_else(|| "emitBatch without a batch".to_string())
}

fn value(t: &Tag) -> any_value::Value {
    match t.v_type {
        0 => any_value::Value::StringValue(t.v_str.clone()),
        1 => any_value::Value::DoubleValue(t.v_double),
        2 => any_value::Value::BoolValue(t.v_bool),
        3 => any_value::Value::IntValue(t.v_long),
        4 => any_value::Value::BytesValue(t.v_binary.clone()),
        // Go: fmt.Sprintf("<Unknown Jaeger TagType %q>", vType) of a value without a name
        _ => any_value::Value::StringValue("<Unknown Jaeger TagType \"<UNSET>\">".into()),
    }
}

fn tags(tags: &[Tag], attrs: &mut Vec<KeyValue>) {
    for t in tags {
        put(attrs, &t.key, value(t));
    }
}

fn resource(p: Option<&Process>) -> Resource {
    let mut r = Resource::default();
    let Some(p) = p else { return r };
    if !p.service_name.is_empty() {
        put(
            &mut r.attributes,
            "service.name",
            any_value::Value::StringValue(p.service_name.clone()),
        );
    }
    tags(&p.tags, &mut r.attributes);
    process_attributes(&mut r.attributes);
    r
}

fn trace_id(high: i64, low: i64) -> Vec<u8> {
    let mut id = (high as u64).to_be_bytes().to_vec();
    id.extend_from_slice(&(low as u64).to_be_bytes());
    id
}

fn micros(t: i64) -> u64 {
    (t as u64).wrapping_mul(1000)
}

fn parent_of(s: &ThriftSpan) -> i64 {
    if s.parent_span_id != 0 {
        return s.parent_span_id;
    }
    let same_trace =
        |r: &&SpanRef| r.trace_id_high == s.trace_id_high && r.trace_id_low == s.trace_id_low;
    let mut follows = None;
    for r in s.references.iter().filter(same_trace) {
        if r.ref_type == 0 {
            return r.span_id;
        }
        if follows.is_none() && r.ref_type == 1 {
            follows = Some(r.span_id);
        }
    }
    follows.unwrap_or(0)
}

fn to_span(s: &ThriftSpan) -> Span {
    let mut out = Span {
        trace_id: trace_id(s.trace_id_high, s.trace_id_low),
        span_id: (s.span_id as u64).to_be_bytes().to_vec(),
        name: s.operation_name.clone(),
        start_time_unix_nano: micros(s.start_time),
        end_time_unix_nano: micros(s.start_time.wrapping_add(s.duration)),
        ..Default::default()
    };
    let parent = parent_of(s);
    if parent != 0 {
        out.parent_span_id = (parent as u64).to_be_bytes().to_vec();
    }
    let mut attrs = Vec::new();
    tags(&s.tags, &mut attrs);
    if let Some(k) = take(&mut attrs, "span.kind") {
        out.kind = exporters::jaeger::to_otlp::span_kind(&as_str(Some(k)));
    }
    out.status = status(&mut attrs, out.kind);
    out.attributes = attrs;
    for l in &s.logs {
        let mut ev = span::Event {
            time_unix_nano: micros(l.timestamp),
            ..Default::default()
        };
        tags(&l.fields, &mut ev.attributes);
        if let Some(n) = take(&mut ev.attributes, "event") {
            ev.name = as_str(Some(n));
        }
        out.events.push(ev);
    }
    for r in &s.references {
        if r.span_id == parent && r.ref_type == 0 {
            continue;
        }
        let mut link = span::Link {
            trace_id: trace_id(r.trace_id_high, r.trace_id_low),
            span_id: (r.span_id as u64).to_be_bytes().to_vec(),
            ..Default::default()
        };
        put(
            &mut link.attributes,
            "opentracing.ref_type",
            any_value::Value::StringValue(
                if r.ref_type == 0 {
                    "child_of"
                } else {
                    "follows_from"
                }
                .into(),
            ),
        );
        out.links.push(link);
    }
    out
}

/// Go `ThriftToTraces`.
pub fn to_otlp(b: &ThriftBatch) -> ExportTraceServiceRequest {
    let mut out = ExportTraceServiceRequest::default();
    if b.process.is_none() && b.spans.is_empty() {
        return out;
    }
    let mut rs = ResourceSpans {
        resource: Some(resource(b.process.as_ref())),
        ..Default::default()
    };
    if !b.spans.is_empty() {
        let spans = b
            .spans
            .iter()
            .filter(|s| **s != ThriftSpan::default())
            .map(to_span)
            .collect();
        rs.scope_spans.push(ScopeSpans {
            scope: Some(InstrumentationScope::default()),
            spans,
            ..Default::default()
        });
    }
    out.resource_spans.push(rs);
    out
}
