//! Zipkin v1 (`/api/v1/spans`): JSON, and Thrift (`zipkincore.thrift`, a binary-protocol
//! list of spans) when the content type is `application/x-thrift`, translated to OTLP as Go's
//! `pkg/translator/zipkin/zipkinv1` does.
//!
//! Go facts relied on (`json.go`, `thrift.go`, `status_code.go`):
//! - ids: a trace id of 16 or 32 hex digits (16 fill the low half), a span id of 16; a zero
//!   or malformed id fails the request (`zipkinV1 span traceId: …`); Thrift ids are i64
//!   halves.
//! - annotations: `cs`/`cr` → client, `sr`/`ss` → server, `ms` → producer, `mr` →
//!   consumer (the first one sets the kind); the endpoint of the first kind annotation with a
//!   service name is the span's; the earliest and latest annotation times are start and end;
//!   every other annotation is an event (name the value); empty values are skipped.
//! - binary annotations: attributes in order (`lc` → `component`, its value the service name
//!   when no endpoint named one), typed by `parse_string_tags` in JSON and by the annotation
//!   type in Thrift (BOOL `[1]`, BYTES base64, I16/I32/I64/DOUBLE big-endian, too short →
//!   `<not enough bytes representing the number>`); the service name falls back to the last
//!   binary annotation's endpoint (in JSON one with a service name).
//! - status: `census.status_code` (0 OK, else ERROR), else `otel.status_code` (a number),
//!   else `error` (ERROR, with the census or `otel.status_description` message), else
//!   `http.status_code` (1xx–3xx unset, else ERROR, `http.status_message`); the census, otel
//!   and `error` keys are dropped, the HTTP ones kept.
//! - the span's own `timestamp`/`duration`, when set, override the annotation times; a JSON
//!   span with no start gets the receive time and `otel.zipkin.absentField.startTime: true`.
//! - one resource per endpoint (service name, `ipv4`, `ipv6`, `port` as a string), in the
//!   order first seen, each with one scope.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use exporters::zipkin::translate::typed_value;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use serde::Deserialize;

use crate::thrift_codec::{
    read_struct, Protocol, Reader, R, T_BOOL, T_I16, T_I32, T_I64, T_LIST, T_STRING, T_STRUCT,
};

const UNKNOWN_SERVICE: &str = "unknown-service";

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
struct Endpoint {
    #[serde(rename = "serviceName")]
    service_name: String,
    ipv4: String,
    ipv6: String,
    port: i32,
}

impl Endpoint {
    fn key(&self) -> String {
        format!(
            "{}-{}-{}-{}",
            self.service_name, self.ipv4, self.ipv6, self.port
        )
    }
}

struct Annotation {
    timestamp: i64,
    value: String,
    endpoint: Option<Endpoint>,
}

struct BinaryAnnotation {
    key: String,
    value: any_value::Value,
    /// The raw value as text (for `lc`).
    text: String,
    /// The service name this annotation's endpoint offers as a fallback.
    fallback: Option<String>,
}

struct V1Span {
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_id: Vec<u8>,
    name: String,
    /// (start, duration) in microseconds, when the span carries them.
    timestamp: Option<(i64, i64)>,
    annotations: Vec<Annotation>,
    binary: Vec<BinaryAnnotation>,
    /// JSON: a span without a start gets the receive time.
    stamp_if_unset: bool,
}

fn hex_id<const N: usize>(s: &str, what: &str) -> Result<Vec<u8>, String> {
    let (out, err) = if N == 16 {
        if s.len() != 16 && s.len() != 32 {
            return Err(format!(
                "zipkinV1 span {what}: hex traceId span has wrong length (expected 16 or 32)"
            ));
        }
        (vec![0u8; 16], "traceId is zero")
    } else {
        if s.len() != 16 {
            return Err(format!(
                "zipkinV1 span {what}: hex Id has wrong length (expected 16)"
            ));
        }
        (vec![0u8; 8], "ID is zero")
    };
    let mut out = out;
    let bytes = unhex(s).map_err(|e| format!("zipkinV1 span {what}: {e}"))?;
    let at = out.len() - bytes.len();
    out[at..].copy_from_slice(&bytes);
    if out.iter().all(|b| *b == 0) {
        return Err(format!("zipkinV1 span {what}: {err}"));
    }
    Ok(out)
}

/// Go `hex.Decode` (the length is checked by the caller).
fn unhex(s: &str) -> Result<Vec<u8>, String> {
    let digit = |c: u8| -> Result<u8, String> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(format!(
                "encoding/hex: invalid byte: U+{:04X} {:?}",
                u32::from(c),
                char::from(c)
            )),
        }
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Ok((digit(p[0])? << 4) | digit(*p.get(1).unwrap_or(&b'0'))?))
        .collect()
}

/// An id's bytes; all zero is no id (pdata's empty id).
fn id_or_empty(id: Vec<u8>) -> Vec<u8> {
    if id.iter().all(|b| *b == 0) {
        Vec::new()
    } else {
        id
    }
}

fn micros(t: i64) -> u64 {
    if t <= 0 {
        0
    } else {
        (t as u64).saturating_mul(1000)
    }
}

fn str_value(s: &str) -> any_value::Value {
    any_value::Value::StringValue(s.to_string())
}

/// Go `statusMapper`.
#[derive(Default)]
struct StatusMapper {
    census: (Option<i32>, String),
    otel: (Option<i32>, String),
    http: (Option<i32>, String),
    error: Option<i32>,
}

/// Go `attribToStatusCode`: an int, or a string holding one, within i32.
fn status_number(v: &any_value::Value) -> Option<i32> {
    let n = match v {
        any_value::Value::IntValue(i) => *i,
        any_value::Value::StringValue(s) => s.parse::<i64>().ok()?,
        _ => return None,
    };
    i32::try_from(n).ok()
}

fn as_text(v: &any_value::Value) -> String {
    match v {
        any_value::Value::StringValue(s) => s.clone(),
        _ => String::new(),
    }
}

impl StatusMapper {
    /// Take what a binary annotation says about the status; true when it is dropped.
    fn take(&mut self, key: &str, v: &any_value::Value) -> bool {
        match key {
            "census.status_code" => {
                if let Some(c) = status_number(v) {
                    self.census.0 = Some(if c == 0 { 1 } else { 2 });
                }
                true
            }
            "census.status_description" | "opencensus.status_description" => {
                self.census.1 = as_text(v);
                true
            }
            "otel.status_code" => {
                if let Some(c) = status_number(v) {
                    self.otel.0 = Some(c);
                }
                true
            }
            "otel.status_description" => {
                self.otel.1 = as_text(v);
                true
            }
            "http.status_code" | "http.response.status_code" => {
                if let Some(c) = status_number(v) {
                    self.http.0 = Some(if (100..400).contains(&c) { 0 } else { 2 });
                }
                false
            }
            "http.status_message" => {
                self.http.1 = as_text(v);
                false
            }
            "error" => {
                self.error = Some(2);
                true
            }
            _ => false,
        }
    }

    fn status(self) -> Option<Status> {
        let (code, message) = if self.census.0.is_some() {
            self.census
        } else if self.otel.0.is_some() {
            self.otel
        } else if self.error.is_some() {
            let message = if !self.census.1.is_empty() {
                self.census.1
            } else {
                self.otel.1
            };
            (self.error, message)
        } else {
            self.http
        };
        code.map(|code| Status { code, message })
    }
}

fn put(attrs: &mut Vec<KeyValue>, key: &str, v: any_value::Value) {
    let v = Some(AnyValue { value: Some(v) });
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = v,
        None => attrs.push(KeyValue {
            key: key.to_string(),
            value: v,
            ..Default::default()
        }),
    }
}

/// One v1 span as OTLP, with the endpoint it belongs to.
fn to_span(s: V1Span, now: u64) -> (Span, Endpoint) {
    let mut out = Span {
        trace_id: s.trace_id,
        span_id: s.span_id,
        parent_span_id: s.parent_id,
        name: s.name,
        ..Default::default()
    };
    // annotations
    let (mut early, mut late) = (i64::MAX, i64::MIN);
    let mut endpoint: Option<Endpoint> = None;
    let mut kind_set = false;
    for a in &s.annotations {
        if a.value.is_empty() {
            continue;
        }
        let named = a
            .endpoint
            .as_ref()
            .is_some_and(|e| !e.service_name.is_empty() && e.service_name != UNKNOWN_SERVICE);
        let kind = match a.value.as_str() {
            "cs" | "cr" => Some(span::SpanKind::Client),
            "ms" => Some(span::SpanKind::Producer),
            "mr" => Some(span::SpanKind::Consumer),
            "ss" | "sr" => Some(span::SpanKind::Server),
            _ => None,
        };
        if endpoint.is_none() && named && kind.is_some() {
            endpoint = a.endpoint.clone();
        }
        if let (false, Some(k)) = (kind_set, kind) {
            out.kind = k as i32;
            kind_set = true;
        }
        let ts = micros(a.timestamp);
        if a.timestamp < early {
            early = a.timestamp;
            out.start_time_unix_nano = ts;
        }
        if a.timestamp > late {
            late = a.timestamp;
            out.end_time_unix_nano = ts;
        }
        if kind.is_none() {
            out.events.push(span::Event {
                time_unix_nano: ts,
                name: a.value.clone(),
                ..Default::default()
            });
        }
    }
    let mut endpoint = endpoint.unwrap_or_else(|| Endpoint {
        service_name: UNKNOWN_SERVICE.into(),
        ..Default::default()
    });
    // binary annotations
    let mut fallback = String::new();
    if !s.binary.is_empty() {
        let mut status = StatusMapper::default();
        let mut local_component = String::new();
        for b in s.binary {
            if let Some(f) = b.fallback {
                fallback = f;
            }
            let key = if b.key == "lc" {
                local_component = b.text.clone();
                "component".to_string()
            } else {
                b.key
            };
            if status.take(&key, &b.value) {
                continue;
            }
            put(&mut out.attributes, &key, b.value);
        }
        if fallback.is_empty() {
            fallback = local_component;
        }
        out.status = status.status();
    }
    if endpoint.service_name == UNKNOWN_SERVICE && !fallback.is_empty() {
        endpoint.service_name = fallback;
    }
    if let Some((start, duration)) = s.timestamp {
        out.start_time_unix_nano = micros(start);
        out.end_time_unix_nano = micros(start.wrapping_add(duration));
    }
    if s.stamp_if_unset && out.start_time_unix_nano == 0 {
        out.start_time_unix_nano = now;
        out.end_time_unix_nano = now;
        put(
            &mut out.attributes,
            "otel.zipkin.absentField.startTime",
            any_value::Value::BoolValue(true),
        );
    }
    (out, endpoint)
}

/// Go `zipkinToTraces`: one resource per endpoint, in the order first seen.
fn to_traces(spans: Vec<V1Span>) -> ExportTraceServiceRequest {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut out = ExportTraceServiceRequest::default();
    let mut by_endpoint: HashMap<String, usize> = HashMap::new();
    for s in spans {
        let (span, e) = to_span(s, now);
        let i = *by_endpoint.entry(e.key()).or_insert_with(|| {
            let mut attributes = Vec::new();
            put(&mut attributes, "service.name", str_value(&e.service_name));
            if !e.ipv4.is_empty() {
                put(&mut attributes, "ipv4", str_value(&e.ipv4));
            }
            if !e.ipv6.is_empty() {
                put(&mut attributes, "ipv6", str_value(&e.ipv6));
            }
            if e.port != 0 {
                put(&mut attributes, "port", str_value(&e.port.to_string()));
            }
            out.resource_spans.push(ResourceSpans {
                resource: Some(Resource {
                    attributes,
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope::default()),
                    ..Default::default()
                }],
                ..Default::default()
            });
            out.resource_spans.len() - 1
        });
        out.resource_spans[i].scope_spans[0].spans.push(span);
    }
    out
}

/// A Zipkin v1 JSON body.
pub fn from_json(
    body: &[u8],
    parse_string_tags: bool,
) -> Result<ExportTraceServiceRequest, String> {
    #[derive(Deserialize)]
    struct JsonSpan {
        #[serde(rename = "traceId", default)]
        trace_id: String,
        #[serde(default)]
        name: String,
        #[serde(rename = "parentId", default)]
        parent_id: String,
        #[serde(default)]
        id: String,
        #[serde(default)]
        timestamp: i64,
        #[serde(default)]
        duration: i64,
        #[serde(default)]
        annotations: Vec<Option<JsonAnnotation>>,
        #[serde(rename = "binaryAnnotations", default)]
        binary_annotations: Vec<Option<JsonBinary>>,
    }
    #[derive(Deserialize)]
    struct JsonAnnotation {
        #[serde(default)]
        timestamp: i64,
        #[serde(default)]
        value: String,
        #[serde(default)]
        endpoint: Option<Endpoint>,
    }
    #[derive(Deserialize)]
    struct JsonBinary {
        #[serde(default)]
        key: String,
        #[serde(default)]
        value: String,
        #[serde(default)]
        endpoint: Option<Endpoint>,
    }
    let spans: Vec<Option<JsonSpan>> =
        serde_json::from_slice(body).map_err(|e| format!("zipkinv1: {e}"))?;
    let mut out = Vec::with_capacity(spans.len());
    for s in spans.into_iter().flatten() {
        let trace_id = hex_id::<16>(&s.trace_id, "traceId")?;
        let span_id = hex_id::<8>(&s.id, "id")?;
        let parent_id = if s.parent_id.is_empty() {
            Vec::new()
        } else {
            hex_id::<8>(&s.parent_id, "parentId")?
        };
        out.push(V1Span {
            trace_id,
            span_id,
            parent_id,
            name: s.name,
            timestamp: (s.timestamp != 0).then_some((s.timestamp, s.duration)),
            annotations: s
                .annotations
                .into_iter()
                .flatten()
                .map(|a| Annotation {
                    timestamp: a.timestamp,
                    value: a.value,
                    endpoint: a.endpoint,
                })
                .collect(),
            binary: s
                .binary_annotations
                .into_iter()
                .flatten()
                .map(|b| BinaryAnnotation {
                    value: if parse_string_tags {
                        typed_value(&b.value)
                    } else {
                        str_value(&b.value)
                    },
                    text: b.value,
                    key: b.key,
                    fallback: b.endpoint.map(|e| e.service_name).filter(|s| !s.is_empty()),
                })
                .collect(),
            stamp_if_unset: true,
        });
    }
    Ok(to_traces(out))
}

// ---- Thrift (`zipkincore.thrift`)

fn endpoint(r: &mut Reader<'_>) -> R<Endpoint> {
    let mut e = Endpoint::default();
    read_struct(r, "Endpoint", &[], |r, ty, id| {
        Ok(match (id, ty) {
            (1, T_I32) => {
                let ip = r.i32()? as u32;
                if ip != 0 {
                    e.ipv4 = std::net::Ipv4Addr::from(ip).to_string();
                }
                true
            }
            (2, T_I16) => {
                // Go: int32(e.Port) of an i16 read as such
                e.port = i32::from(r.i16()?);
                true
            }
            (3, T_STRING) => {
                e.service_name = r.string()?;
                true
            }
            (4, T_STRING) => {
                let b = r.binary()?;
                e.ipv6 = match <[u8; 16]>::try_from(b) {
                    Ok(a) => go_ipv6(a),
                    // Go's net.IP of another length prints "?" and the hex
                    Err(_) if b.is_empty() => String::new(),
                    Err(_) => format!("?{}", const_hex::encode(b)),
                };
                true
            }
            _ => false,
        })
    })?;
    Ok(e)
}

/// Go `net.IP.String` of a 16-byte address: an IPv4-mapped one as dotted quad.
fn go_ipv6(a: [u8; 16]) -> String {
    let ip = std::net::Ipv6Addr::from(a);
    match ip.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => ip.to_string(),
    }
}

fn annotation(r: &mut Reader<'_>) -> R<Annotation> {
    let mut a = Annotation {
        timestamp: 0,
        value: String::new(),
        endpoint: None,
    };
    read_struct(r, "Annotation", &[], |r, ty, id| {
        Ok(match (id, ty) {
            (1, T_I64) => {
                a.timestamp = r.i64()?;
                true
            }
            (2, T_STRING) => {
                a.value = r.string()?;
                true
            }
            (3, T_STRUCT) => {
                a.endpoint = Some(endpoint(r)?);
                true
            }
            _ => false,
        })
    })?;
    Ok(a)
}

/// A binary annotation's value by its type (Go `thriftBinAnnotationsToSpanAttributes`).
fn typed_bytes(t: i32, b: &[u8]) -> any_value::Value {
    let short = || str_value("<not enough bytes representing the number>");
    let be = |n: usize| -> Option<u64> {
        (b.len() >= n).then(|| {
            b[..n]
                .iter()
                .fold(0u64, |acc, x| (acc << 8) | u64::from(*x))
        })
    };
    match t {
        0 => any_value::Value::BoolValue(b == [1]),
        1 => str_value(&base64::engine::general_purpose::STANDARD.encode(b)),
        2 => be(2).map_or_else(short, |v| any_value::Value::IntValue(v as i64)),
        3 => be(4).map_or_else(short, |v| any_value::Value::IntValue(v as i64)),
        4 => be(8).map_or_else(short, |v| any_value::Value::IntValue(v as i64)),
        5 => be(8).map_or_else(short, |v| any_value::Value::DoubleValue(f64::from_bits(v))),
        6 => str_value(&String::from_utf8_lossy(b)),
        t => str_value(&format!("<unknown zipkin v1 binary annotation type ({t})>")),
    }
}

fn binary_annotation(r: &mut Reader<'_>) -> R<BinaryAnnotation> {
    let (mut key, mut value, mut kind, mut host) = (String::new(), Vec::new(), 0i32, None);
    read_struct(r, "BinaryAnnotation", &[], |r, ty, id| {
        Ok(match (id, ty) {
            (1, T_STRING) => {
                key = r.string()?;
                true
            }
            (2, T_STRING) => {
                value = r.binary()?.to_vec();
                true
            }
            (3, T_I32) => {
                kind = r.i32()?;
                true
            }
            (4, T_STRUCT) => {
                host = Some(endpoint(r)?);
                true
            }
            _ => false,
        })
    })?;
    Ok(BinaryAnnotation {
        value: typed_bytes(kind, &value),
        text: String::from_utf8_lossy(&value).into_owned(),
        key,
        // Go: any host, even one without a service name
        fallback: host.map(|h| h.service_name),
    })
}

fn thrift_span(r: &mut Reader<'_>) -> R<V1Span> {
    let (mut trace_low, mut trace_high, mut id, mut parent) = (0i64, 0i64, 0i64, None);
    let mut name = String::new();
    let (mut timestamp, mut duration) = (None, 0i64);
    let mut annotations = Vec::new();
    let mut binary = Vec::new();
    read_struct(r, "Span", &[], |r, ty, fid| {
        Ok(match (fid, ty) {
            (1, T_I64) => {
                trace_low = r.i64()?;
                true
            }
            (3, T_STRING) => {
                name = r.string()?;
                true
            }
            (4, T_I64) => {
                id = r.i64()?;
                true
            }
            (5, T_I64) => {
                parent = Some(r.i64()?);
                true
            }
            (6, T_LIST) => {
                annotations = r.structs(annotation)?;
                true
            }
            (8, T_LIST) => {
                binary = r.structs(binary_annotation)?;
                true
            }
            (9, T_BOOL) => {
                r.bool()?;
                true
            }
            (10, T_I64) => {
                timestamp = Some(r.i64()?);
                true
            }
            (11, T_I64) => {
                duration = r.i64()?;
                true
            }
            (12, T_I64) => {
                trace_high = r.i64()?;
                true
            }
            _ => false,
        })
    })?;
    let mut trace_id = (trace_high as u64).to_be_bytes().to_vec();
    trace_id.extend_from_slice(&(trace_low as u64).to_be_bytes());
    Ok(V1Span {
        trace_id: id_or_empty(trace_id),
        span_id: id_or_empty((id as u64).to_be_bytes().to_vec()),
        parent_id: parent
            .map(|p| id_or_empty((p as u64).to_be_bytes().to_vec()))
            .unwrap_or_default(),
        name,
        timestamp: timestamp.map(|t| (t, duration)),
        annotations,
        binary,
        stamp_if_unset: false,
    })
}

/// A Zipkin v1 Thrift body: a binary-protocol list of `zipkincore.Span`.
pub fn from_thrift(body: &[u8]) -> Result<ExportTraceServiceRequest, String> {
    let mut r = Reader::new(body, Protocol::Binary);
    let spans = r.structs(thrift_span)?;
    Ok(to_traces(spans))
}
