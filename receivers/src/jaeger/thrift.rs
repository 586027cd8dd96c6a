//! Jaeger Thrift: the `jaeger.thrift` batch (`Batch`, `Process`, `Span`, `Tag`, `Log`,
//! `SpanRef`) read from the Thrift binary protocol (`thrift_http` bodies, `thrift_binary` UDP
//! packets) and the compact protocol (`thrift_compact` UDP packets), and translated to OTLP
//! as Go's `pkg/translator/jaeger` `ThriftToTraces` does.
//!
//! A reader of our own, not the `thrift` crate: the schema is six small structs, and the
//! reader must hold on hostile input (a length or a list size from the wire is never trusted
//! for an allocation, nesting is bounded), which is this receiver's business.
//!
//! Wire facts relied on (Apache Thrift protocol specifications):
//! - binary: a field is a type byte (0 ends the struct), a big-endian i16 id, the value;
//!   integers big-endian, doubles as big-endian IEEE bits, strings an i32 length and the
//!   bytes, lists an element type byte and an i32 size; a message starts with
//!   `0x8001_00TT` (strict) or a name length (old style), then the name and an i32 sequence id.
//! - compact: a field header byte holds the id delta (high nibble; 0 means a zigzag i16 id
//!   follows) and the type (low nibble; booleans carry their value in the type: 1 true, 2
//!   false); integers are zigzag varints, doubles 8 bytes little-endian, binaries a varint
//!   length, lists a header byte (size in the high nibble, 15 meaning a varint size follows)
//!   with the element type; a message starts with `0x82`, a byte of version (1) and type,
//!   a varint sequence id and the name.
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

use exporters::jaeger::to_otlp::{as_str, get, put, status, take};
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span};

/// Which Thrift protocol a payload is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Binary,
    Compact,
}

/// Nesting of structs and lists deeper than this is refused.
const MAX_DEPTH: usize = 32;

// Thrift types, as the binary protocol numbers them (compact types are mapped onto these).
const T_STOP: u8 = 0;
const T_BOOL: u8 = 2;
const T_BYTE: u8 = 3;
const T_DOUBLE: u8 = 4;
const T_I16: u8 = 6;
const T_I32: u8 = 8;
const T_I64: u8 = 10;
const T_STRING: u8 = 11;
const T_STRUCT: u8 = 12;
const T_MAP: u8 = 13;
const T_SET: u8 = 14;
const T_LIST: u8 = 15;

type R<T> = Result<T, String>;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    proto: Protocol,
    /// Compact: the last field id of each open struct.
    last_ids: Vec<i16>,
    /// Compact: the value of a boolean field, carried in its header.
    pending_bool: Option<bool>,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], proto: Protocol) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            proto,
            last_ids: Vec::new(),
            pending_bool: None,
        }
    }

    fn bytes(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn byte(&mut self) -> R<u8> {
        Ok(self.bytes(1)?[0])
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn varint(&mut self) -> R<u64> {
        let mut out = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            out |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn zigzag(&mut self) -> R<i64> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn i16(&mut self) -> R<i16> {
        match self.proto {
            Protocol::Binary => Ok(i16::from_be_bytes(self.array()?)),
            Protocol::Compact => {
                i16::try_from(self.zigzag()?).map_err(|_| "i16 out of range".to_string())
            }
        }
    }

    fn i32(&mut self) -> R<i32> {
        match self.proto {
            Protocol::Binary => Ok(i32::from_be_bytes(self.array()?)),
            Protocol::Compact => {
                i32::try_from(self.zigzag()?).map_err(|_| "i32 out of range".to_string())
            }
        }
    }

    fn i64(&mut self) -> R<i64> {
        match self.proto {
            Protocol::Binary => Ok(i64::from_be_bytes(self.array()?)),
            Protocol::Compact => self.zigzag(),
        }
    }

    fn double(&mut self) -> R<f64> {
        let b: [u8; 8] = self.array()?;
        Ok(match self.proto {
            Protocol::Binary => f64::from_be_bytes(b),
            Protocol::Compact => f64::from_le_bytes(b),
        })
    }

    fn bool(&mut self) -> R<bool> {
        if let Some(b) = self.pending_bool.take() {
            return Ok(b);
        }
        Ok(match self.proto {
            Protocol::Binary => self.byte()? != 0,
            // an element of a list: 1 is true
            Protocol::Compact => self.byte()? == 1,
        })
    }

    fn array<const N: usize>(&mut self) -> R<[u8; N]> {
        let b = self.bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    fn binary(&mut self) -> R<&'a [u8]> {
        let n = match self.proto {
            Protocol::Binary => {
                usize::try_from(self.i32()?).map_err(|_| "negative length".to_string())?
            }
            Protocol::Compact => {
                usize::try_from(self.varint()?).map_err(|_| "length too large".to_string())?
            }
        };
        self.bytes(n)
    }

    fn string(&mut self) -> R<String> {
        Ok(String::from_utf8_lossy(self.binary()?).into_owned())
    }

    fn struct_begin(&mut self) -> R<()> {
        if self.last_ids.len() >= MAX_DEPTH {
            return Err("nested too deep".into());
        }
        self.last_ids.push(0);
        Ok(())
    }

    fn struct_end(&mut self) {
        self.last_ids.pop();
    }

    /// The next field's (type, id); `None` at the end of the struct.
    fn field(&mut self) -> R<Option<(u8, i16)>> {
        match self.proto {
            Protocol::Binary => {
                let t = self.byte()?;
                if t == T_STOP {
                    return Ok(None);
                }
                Ok(Some((t, self.i16()?)))
            }
            Protocol::Compact => {
                let h = self.byte()?;
                if h == T_STOP {
                    return Ok(None);
                }
                let last = self.last_ids.last().copied().unwrap_or(0);
                let delta = i16::from(h >> 4);
                let id = if delta == 0 {
                    self.i16()?
                } else {
                    last.checked_add(delta)
                        .ok_or_else(|| "field id out of range".to_string())?
                };
                if let Some(l) = self.last_ids.last_mut() {
                    *l = id;
                }
                let t = match h & 0x0f {
                    1 => {
                        self.pending_bool = Some(true);
                        T_BOOL
                    }
                    2 => {
                        self.pending_bool = Some(false);
                        T_BOOL
                    }
                    t => compact_type(t)?,
                };
                Ok(Some((t, id)))
            }
        }
    }

    /// A list or set header: (element type, size), the size bounded by the bytes left.
    fn list(&mut self) -> R<(u8, usize)> {
        let (t, n) = match self.proto {
            Protocol::Binary => {
                let t = self.byte()?;
                let n = usize::try_from(self.i32()?).map_err(|_| "negative list size")?;
                (t, n)
            }
            Protocol::Compact => {
                let h = self.byte()?;
                let n = match h >> 4 {
                    15 => usize::try_from(self.varint()?).map_err(|_| "list size too large")?,
                    n => usize::from(n),
                };
                let t = match h & 0x0f {
                    1 | 2 => T_BOOL,
                    t => compact_type(t)?,
                };
                (t, n)
            }
        };
        // every element takes at least one byte
        if n > self.remaining() {
            return Err(format!(
                "list of {n} elements in {} bytes",
                self.remaining()
            ));
        }
        Ok((t, n))
    }

    /// Pass over a value of type `t`.
    fn skip(&mut self, t: u8, depth: usize) -> R<()> {
        if depth > MAX_DEPTH {
            return Err("nested too deep".into());
        }
        match t {
            T_BOOL => {
                self.bool()?;
            }
            T_BYTE => {
                self.byte()?;
            }
            T_I16 => {
                self.i16()?;
            }
            T_I32 => {
                self.i32()?;
            }
            T_I64 => {
                self.i64()?;
            }
            T_DOUBLE => {
                self.double()?;
            }
            T_STRING => {
                self.binary()?;
            }
            T_STRUCT => {
                self.struct_begin()?;
                while let Some((ft, _)) = self.field()? {
                    self.skip(ft, depth + 1)?;
                }
                self.struct_end();
            }
            T_LIST | T_SET => {
                let (et, n) = self.list()?;
                for _ in 0..n {
                    self.skip(et, depth + 1)?;
                }
            }
            T_MAP => {
                let (kt, vt, n) = match self.proto {
                    Protocol::Binary => {
                        let kt = self.byte()?;
                        let vt = self.byte()?;
                        let n = usize::try_from(self.i32()?).map_err(|_| "negative map size")?;
                        (kt, vt, n)
                    }
                    Protocol::Compact => {
                        let n = usize::try_from(self.varint()?).map_err(|_| "map too large")?;
                        if n == 0 {
                            (T_STOP, T_STOP, 0)
                        } else {
                            let kv = self.byte()?;
                            (compact_type(kv >> 4)?, compact_type(kv & 0x0f)?, n)
                        }
                    }
                };
                if n > self.remaining() {
                    return Err(format!("map of {n} entries in {} bytes", self.remaining()));
                }
                for _ in 0..n {
                    self.skip(kt, depth + 1)?;
                    self.skip(vt, depth + 1)?;
                }
            }
            t => return Err(format!("unknown field type {t}")),
        }
        Ok(())
    }

    /// A list of structs, each read by `read`.
    fn structs<T>(&mut self, read: impl Fn(&mut Self) -> R<T>) -> R<Vec<T>> {
        let (t, n) = self.list()?;
        if t != T_STRUCT {
            return Err(format!("a list of type {t} where structs were expected"));
        }
        let mut out = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            out.push(read(self)?);
        }
        Ok(out)
    }
}

fn compact_type(t: u8) -> R<u8> {
    Ok(match t {
        0 => T_STOP,
        1 | 2 => T_BOOL,
        3 => T_BYTE,
        4 => T_I16,
        5 => T_I32,
        6 => T_I64,
        7 => T_DOUBLE,
        8 => T_STRING,
        9 => T_LIST,
        10 => T_SET,
        11 => T_MAP,
        12 => T_STRUCT,
        t => return Err(format!("unknown compact type {t}")),
    })
}

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

/// Read one struct: `on_field(reader, type, id)` returns false for a field it did not take
/// (which is then skipped); `required` lists the ids that must be present.
fn read_struct(
    r: &mut Reader<'_>,
    name: &str,
    required: &[i16],
    mut on_field: impl FnMut(&mut Reader<'_>, u8, i16) -> R<bool>,
) -> R<()> {
    r.struct_begin()?;
    let mut seen: u32 = 0;
    while let Some((t, id)) = r.field()? {
        if !on_field(r, t, id)? {
            r.skip(t, 1)?;
        } else if (1..32).contains(&id) {
            seen |= 1 << id;
        }
    }
    r.struct_end();
    for id in required {
        if seen & (1 << id) == 0 {
            return Err(format!("required field {id} of {name} is not set"));
        }
    }
    Ok(())
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
    if get(&r.attributes, "hostname").is_some() && get(&r.attributes, "host.name").is_none() {
        let v = take(&mut r.attributes, "hostname")
            .unwrap_or(any_value::Value::StringValue(String::new()));
        put(&mut r.attributes, "host.name", v);
    }
    if get(&r.attributes, "jaeger.version").is_some()
        && get(&r.attributes, "opencensus.exporterversion").is_none()
    {
        let v = as_str(take(&mut r.attributes, "jaeger.version"));
        put(
            &mut r.attributes,
            "opencensus.exporterversion",
            any_value::Value::StringValue(format!("Jaeger-{v}")),
        );
    }
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
