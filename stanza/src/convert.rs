//! Entries to OTLP logs.
//!
//! Go facts (`pkg/stanza/adapter/converter.go`): entries are grouped by resource (equal
//! resource maps share one `ResourceLogs`, in order of first appearance), then by scope name;
//! the timestamp is set only when known; the observed timestamp always; the severity number
//! as is and the severity text, or the number's default text (`INFO`, `ERROR2`, ...) when
//! empty; trace id / span id are copied into 16 / 8 bytes; only the low 8 bits of the trace
//! flags are used; a nil body stays empty.

use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::proto::tonic::resource::v1::Resource;
use prost::Message;

use crate::entry::{Entry, Map, Value};
use crate::severity::default_text;

pub fn any_value(v: &Value) -> Option<AnyValue> {
    let value = match v {
        Value::Null => return None,
        Value::Bool(b) => any_value::Value::BoolValue(*b),
        Value::Int(i) => any_value::Value::IntValue(*i),
        Value::Double(f) => any_value::Value::DoubleValue(*f),
        Value::Str(s) => any_value::Value::StringValue(s.clone()),
        Value::Bytes(b) => any_value::Value::BytesValue(b.clone()),
        Value::Array(a) => any_value::Value::ArrayValue(ArrayValue {
            values: a.iter().map(|v| any_value(v).unwrap_or_default()).collect(),
        }),
        Value::Map(m) => any_value::Value::KvlistValue(KeyValueList {
            values: key_values(m),
        }),
    };
    Some(AnyValue { value: Some(value) })
}

pub fn key_values(m: &Map) -> Vec<KeyValue> {
    m.iter()
        .map(|(k, v)| KeyValue {
            key: k.clone(),
            value: Some(any_value(v).unwrap_or_default()),
            ..Default::default()
        })
        .collect()
}

/// The value as OTLP, taking its strings (no copy).
pub fn into_any_value(v: Value) -> Option<AnyValue> {
    let value = match v {
        Value::Null => return None,
        Value::Bool(b) => any_value::Value::BoolValue(b),
        Value::Int(i) => any_value::Value::IntValue(i),
        Value::Double(f) => any_value::Value::DoubleValue(f),
        Value::Str(s) => any_value::Value::StringValue(s),
        Value::Bytes(b) => any_value::Value::BytesValue(b),
        Value::Array(a) => any_value::Value::ArrayValue(ArrayValue {
            values: a
                .into_iter()
                .map(|v| into_any_value(v).unwrap_or_default())
                .collect(),
        }),
        Value::Map(m) => any_value::Value::KvlistValue(KeyValueList {
            values: into_key_values(m),
        }),
    };
    Some(AnyValue { value: Some(value) })
}

/// The map as OTLP key-values (in key order), taking its strings.
pub fn into_key_values(m: Map) -> Vec<KeyValue> {
    m.into_iter()
        .map(|(key, v)| KeyValue {
            key,
            value: Some(into_any_value(v).unwrap_or_default()),
            ..Default::default()
        })
        .collect()
}

fn into_fixed<const N: usize>(b: Option<Vec<u8>>) -> Vec<u8> {
    match b {
        None => Vec::new(),
        Some(mut b) => {
            b.resize(N, 0);
            b
        }
    }
}

/// The record of an entry whose resource and scope were taken already.
pub(crate) fn into_record(e: Entry) -> LogRecord {
    LogRecord {
        time_unix_nano: e.timestamp.unwrap_or(0),
        observed_time_unix_nano: e.observed,
        severity_number: e.severity,
        severity_text: if e.severity_text.is_empty() {
            default_text(e.severity).to_string()
        } else {
            e.severity_text
        },
        body: e.body.and_then(into_any_value),
        attributes: into_key_values(e.attributes),
        trace_id: into_fixed::<16>(e.trace_id),
        span_id: into_fixed::<8>(e.span_id),
        flags: e
            .trace_flags
            .as_ref()
            .and_then(|f| f.first())
            .map(|b| *b as u32)
            .unwrap_or(0),
        ..Default::default()
    }
}

/// Group entries into one export request, taking their content (nothing is copied).
pub fn to_request(entries: Vec<Entry>) -> ExportLogsServiceRequest {
    let mut logs = Logs::default();
    for e in entries {
        logs.push(e);
    }
    logs.into_request()
}

/// One resource's scopes as decoded structs: the scope name and its records.
type DecodedScopes = Vec<(String, Vec<LogRecord>)>;

/// As [`to_request`], through the decoded structs (each entry's `LogRecord`, grouped by
/// resource and scope in order of first appearance): the reference for the encoding of
/// [`Logs`], which tests and the `docker_log_line` fuzz target compare it with.
pub fn to_request_decoded(entries: Vec<Entry>) -> ExportLogsServiceRequest {
    let mut resources: Vec<(Map, DecodedScopes)> = Vec::new();
    for mut e in entries {
        let resource = std::mem::take(&mut e.resource);
        let scope_name = std::mem::take(&mut e.scope_name);
        let r = match resources.iter().position(|(m, _)| *m == resource) {
            Some(r) => r,
            None => {
                resources.push((resource, Vec::new()));
                resources.len() - 1
            }
        };
        let scopes = &mut resources[r].1;
        let s = match scopes.iter().position(|(n, _)| *n == scope_name) {
            Some(s) => s,
            None => {
                scopes.push((scope_name, Vec::new()));
                scopes.len() - 1
            }
        };
        scopes[s].1.push(into_record(e));
    }
    request(resources)
}

/// One export request of a [`Logs`]: its protobuf encoding, or (for a record nested too deep
/// for the wire scanner, see [`MAX_WIRE_NESTING`]) the decoded request.
#[derive(Debug, Clone, PartialEq)]
pub enum LogsRequest {
    /// The request's protobuf encoding, and how many log records it holds.
    Wire {
        bytes: bytes::Bytes,
        records: usize,
    },
    Decoded(ExportLogsServiceRequest),
}

impl LogsRequest {
    /// The decoded request.
    pub fn decode(self) -> ExportLogsServiceRequest {
        match self {
            // bytes this module wrote: the encoding of a request whose records nest at most
            // `MAX_WIRE_NESTING` values deep, which prost decodes
            LogsRequest::Wire { bytes, .. } => ExportLogsServiceRequest::decode(&bytes[..])
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "Could not decode an encoded log request.");
                    ExportLogsServiceRequest::default()
                }),
            LogsRequest::Decoded(r) => r,
        }
    }
}

/// Values nested deeper than this (maps in maps, arrays in arrays) make their record go into a
/// decoded request of its own: a request in its wire form is checked by `pipeline_api`'s
/// scanner, which refuses messages nested more than `wire::MAX_DEPTH` (64) levels, and each
/// level of a value is up to three messages deep below a record's five.
pub const MAX_WIRE_NESTING: usize = 16;

/// One resource of the request being built: its attributes, and its scopes with their records
/// encoded (each as a `ScopeLogs.log_records` field, key and length included).
type Scopes = Vec<(String, Vec<u8>)>;

/// Log records grouped by resource and then by scope name (each in order of first
/// appearance), encoded one entry at a time as the protobuf of an
/// `ExportLogsServiceRequest`, while the entry is still in the CPU caches. The bytes are what
/// prost writes for the request the entries make (`into_record`, `request`): tested.
///
/// With a size limit ([`Logs::with_max_request_bytes`]) the records are cut into several
/// requests, each at most about that many bytes once encoded (a single larger record makes a
/// request of its own): a receiver hands them on one by one, so no request outgrows what a
/// gRPC server accepts by default (4 MiB).
#[derive(Debug, Default)]
pub struct Logs {
    /// Whether the next new scope is given room for a whole request at once: at first when
    /// records are expected ([`Logs::expecting`]), and after a request filled up.
    expect: bool,
    resources: Vec<(Map, Scopes)>,
    /// The resource and scope of the last entry (neighbours usually share both).
    last: Option<(usize, usize)>,
    /// Records held in all (sealed requests and the one being built).
    records: usize,
    /// Records in the request being built.
    building: usize,
    /// Bytes kept free in front of the records of the request's first scope (0: none).
    gap: usize,
    /// The size limit of one request in encoded bytes (0: none).
    max_bytes: usize,
    /// Encoded bytes of the request being built.
    bytes: usize,
    /// Requests already cut (with the size limit).
    sealed: Vec<LogsRequest>,
}

impl Logs {
    /// When records are expected (`n > 0`), room for a whole request (the size limit) in the
    /// first scope at once, so that its buffer is not grown and copied along the way. Only
    /// the memory written is paid for.
    pub fn expecting(n: usize) -> Logs {
        Logs {
            expect: n > 0,
            ..Default::default()
        }
    }

    /// Cut the records into requests of at most about `max` encoded bytes each (0: one
    /// request for all).
    pub fn with_max_request_bytes(mut self, max: usize) -> Logs {
        self.max_bytes = max;
        self
    }

    /// Close the request being built: later records go into a new one.
    fn seal(&mut self) {
        let resources = std::mem::take(&mut self.resources);
        self.sealed.push(LogsRequest::Wire {
            bytes: encode_request(resources, std::mem::take(&mut self.gap)),
            records: std::mem::take(&mut self.building),
        });
        self.last = None;
        self.bytes = 0;
    }

    /// Add an entry (its content is taken, nothing is copied).
    pub fn push(&mut self, mut e: Entry) {
        if nesting(&e) > MAX_WIRE_NESTING {
            return self.push_decoded(e);
        }
        let mut resource = std::mem::take(&mut e.resource);
        let mut scope_name = std::mem::take(&mut e.scope_name);
        let len = record_len(&e);
        let size = delimited_len(len);
        if self.max_bytes > 0 {
            // the record, its length prefix and tag, within its scope
            if self.bytes > 0 && self.bytes + size > self.max_bytes {
                self.seal();
                // a request just filled up, so the next one likely will too: room for it at
                // once rather than growing (and copying) its buffer step by step
                self.expect = true;
            }
            self.bytes += size;
        }
        let r = match self.last {
            Some((r, _)) if self.resources[r].0 == resource => r,
            _ => match self.resources.iter().position(|(m, _)| *m == resource) {
                Some(r) => r,
                None => {
                    if self.max_bytes > 0 {
                        self.bytes += resource
                            .iter()
                            .map(|(k, v)| delimited_len(key_value_len(k, v)))
                            .sum::<usize>();
                    }
                    self.resources
                        .push((std::mem::take(&mut resource), Vec::new()));
                    self.resources.len() - 1
                }
            },
        };
        let (attrs, scopes) = &mut self.resources[r];
        let s = match self.last {
            Some((lr, ls)) if lr == r && scopes[ls].0 == scope_name => ls,
            _ => match scopes.iter().position(|(n, _)| *n == scope_name) {
                Some(s) => s,
                None => {
                    let room = if std::mem::take(&mut self.expect) && self.max_bytes > 0 {
                        self.max_bytes
                    } else {
                        0
                    };
                    let mut buf = Vec::new();
                    if room > 0 && r == 0 && scopes.is_empty() {
                        // the request's first scope: room in front for the request's head
                        self.gap = head_room(attrs, &scope_name);
                        buf.reserve_exact(self.gap + room);
                        buf.resize(self.gap, 0);
                    }
                    scopes.push((std::mem::take(&mut scope_name), buf));
                    scopes.len() - 1
                }
            },
        };
        let buf = &mut scopes[s].1;
        buf.reserve(size);
        put_header(buf, 2, len);
        write_record(&e, buf);
        self.last = Some((r, s));
        self.records += 1;
        self.building += 1;
    }

    /// An entry nested too deep for the wire form: a decoded request of its own, after the
    /// request being built.
    fn push_decoded(&mut self, mut e: Entry) {
        if !self.resources.is_empty() {
            self.seal();
        }
        let resource = std::mem::take(&mut e.resource);
        let scope_name = std::mem::take(&mut e.scope_name);
        let record = into_record(e);
        self.sealed.push(LogsRequest::Decoded(request(vec![(
            resource,
            vec![(scope_name, vec![record])],
        )])));
        self.records += 1;
    }

    /// Log records held.
    pub fn len(&self) -> usize {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The export request (all records in one, whatever the size limit).
    pub fn into_request(self) -> ExportLogsServiceRequest {
        let mut out = ExportLogsServiceRequest::default();
        for r in self.into_requests() {
            out.resource_logs.extend(r.resource_logs);
        }
        out
    }

    /// The export requests, cut by the size limit (one when there is none), decoded; empty
    /// when no record was added.
    pub fn into_requests(self) -> Vec<ExportLogsServiceRequest> {
        self.into_encoded()
            .into_iter()
            .map(LogsRequest::decode)
            .collect()
    }

    /// The export requests, cut by the size limit (one when there is none), as they were
    /// built: encoded, except the ones holding a record nested too deep for the wire form.
    pub fn into_encoded(mut self) -> Vec<LogsRequest> {
        if !self.resources.is_empty() {
            self.seal();
        }
        self.sealed
    }
}

/// The decoded request (the reference for the encoding, and the form of a record nested too
/// deep for the wire form).
pub(crate) fn request(resources: Vec<(Map, DecodedScopes)>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: resources
            .into_iter()
            .map(|(resource, scopes)| ResourceLogs {
                resource: Some(Resource {
                    attributes: into_key_values(resource),
                    ..Default::default()
                }),
                scope_logs: scopes
                    .into_iter()
                    .map(|(name, log_records)| ScopeLogs {
                        scope: Some(InstrumentationScope {
                            name,
                            ..Default::default()
                        }),
                        log_records,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
    }
}

// The protobuf encoding, written as prost writes the structs above: fields in field-number
// order, scalars and strings left out at their default (0, empty), a set `oneof` variant and a
// present (`Some`) message always written, lengths as shortest varints.

/// How deep an entry's values nest maps and arrays (0: no map or array).
fn nesting(e: &Entry) -> usize {
    fn depth(v: &Value) -> usize {
        match v {
            Value::Map(m) => 1 + m.values().map(depth).max().unwrap_or(0),
            Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    let maps = |m: &Map| m.values().map(depth).max().unwrap_or(0);
    e.body
        .as_ref()
        .map_or(0, depth)
        .max(maps(&e.attributes))
        .max(maps(&e.resource))
}

#[inline]
fn varint_len(v: u64) -> usize {
    prost::encoding::encoded_len_varint(v)
}

/// Bytes taken by a length-delimited field of `len` bytes (with a one-byte key).
#[inline]
fn delimited_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// A varint, as prost writes it (the one-byte case, the usual one, inline and without a loop).
#[inline(always)]
fn put_varint(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.push(v as u8);
    } else {
        put_long_varint(out, v);
    }
}

#[inline(never)]
fn put_long_varint(out: &mut Vec<u8>, v: u64) {
    prost::encoding::encode_varint(v, out);
}

/// The key (field number below 16) and the length of a length-delimited field.
#[inline]
fn put_header(out: &mut Vec<u8>, field: u8, len: usize) {
    out.push(field << 3 | 2);
    put_varint(out, len as u64);
}

#[inline]
fn put_bytes(out: &mut Vec<u8>, field: u8, b: &[u8]) {
    put_header(out, field, b.len());
    out.extend_from_slice(b);
}

/// The length of an `AnyValue` holding `v` (`Null`: no value).
#[inline]
fn any_value_len(v: &Value) -> usize {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 2,
        Value::Int(i) => 1 + varint_len(*i as u64),
        Value::Double(_) => 9,
        Value::Str(s) => delimited_len(s.len()),
        Value::Bytes(b) => delimited_len(b.len()),
        Value::Array(a) => delimited_len(array_len(a)),
        Value::Map(m) => delimited_len(map_len(m)),
    }
}

/// The length of an `ArrayValue`.
fn array_len(a: &[Value]) -> usize {
    a.iter().map(|v| delimited_len(any_value_len(v))).sum()
}

/// The length of a `KeyValueList`.
fn map_len(m: &Map) -> usize {
    m.iter()
        .map(|(k, v)| delimited_len(key_value_len(k, v)))
        .sum()
}

/// The length of a `KeyValue` (its value is always present).
#[inline]
fn key_value_len(k: &str, v: &Value) -> usize {
    key_value_len_with(k, any_value_len(v))
}

/// [`key_value_len`] given the length of the value's `AnyValue`.
#[inline]
fn key_value_len_with(k: &str, value_len: usize) -> usize {
    let key = if k.is_empty() {
        0
    } else {
        delimited_len(k.len())
    };
    key + delimited_len(value_len)
}

fn write_any_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => {}
        Value::Bool(b) => {
            out.push(2 << 3);
            out.push(u8::from(*b));
        }
        Value::Int(i) => {
            out.push(3 << 3);
            put_varint(out, *i as u64);
        }
        Value::Double(f) => {
            out.push(4 << 3 | 1);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Str(s) => put_bytes(out, 1, s.as_bytes()),
        Value::Bytes(b) => put_bytes(out, 7, b),
        Value::Array(a) => {
            put_header(out, 5, array_len(a));
            for v in a {
                put_header(out, 1, any_value_len(v));
                write_any_value(v, out);
            }
        }
        Value::Map(m) => {
            put_header(out, 6, map_len(m));
            write_key_values(m, 1, out);
        }
    }
}

/// Each pair of `m` as a `KeyValue` in field `field`.
fn write_key_values(m: &Map, field: u8, out: &mut Vec<u8>) {
    for (k, v) in m {
        let value_len = any_value_len(v);
        put_header(out, field, key_value_len_with(k, value_len));
        if !k.is_empty() {
            put_bytes(out, 1, k.as_bytes());
        }
        put_header(out, 2, value_len);
        write_any_value(v, out);
    }
}

/// The severity text a record gets: the entry's, or the number's default.
fn severity_text(e: &Entry) -> &str {
    if e.severity_text.is_empty() {
        default_text(e.severity)
    } else {
        &e.severity_text
    }
}

/// The length of the `LogRecord` of `e` (resource and scope aside): as [`into_record`].
fn record_len(e: &Entry) -> usize {
    let mut len = 0;
    if e.timestamp.unwrap_or(0) != 0 {
        len += 9;
    }
    if e.severity != 0 {
        len += 1 + varint_len(i64::from(e.severity) as u64);
    }
    let text = severity_text(e);
    if !text.is_empty() {
        len += delimited_len(text.len());
    }
    if let Some(b) = &e.body {
        if !matches!(b, Value::Null) {
            len += delimited_len(any_value_len(b));
        }
    }
    len += map_len(&e.attributes);
    if flags(e) != 0 {
        len += 5;
    }
    if e.trace_id.is_some() {
        len += delimited_len(16);
    }
    if e.span_id.is_some() {
        len += delimited_len(8);
    }
    if e.observed != 0 {
        len += 9;
    }
    len
}

fn flags(e: &Entry) -> u32 {
    e.trace_flags
        .as_ref()
        .and_then(|f| f.first())
        .map(|b| *b as u32)
        .unwrap_or(0)
}

/// An id cut or padded with zeros to `N` bytes.
fn put_fixed<const N: usize>(out: &mut Vec<u8>, field: u8, id: &[u8]) {
    let mut b = [0u8; N];
    let n = id.len().min(N);
    b[..n].copy_from_slice(&id[..n]);
    put_bytes(out, field, &b);
}

/// The `LogRecord` of `e` (resource and scope aside), [`record_len`] bytes.
fn write_record(e: &Entry, out: &mut Vec<u8>) {
    let time = e.timestamp.unwrap_or(0);
    if time != 0 {
        out.push(1 << 3 | 1);
        out.extend_from_slice(&time.to_le_bytes());
    }
    if e.severity != 0 {
        out.push(2 << 3);
        put_varint(out, i64::from(e.severity) as u64);
    }
    let text = severity_text(e);
    if !text.is_empty() {
        put_bytes(out, 3, text.as_bytes());
    }
    if let Some(b) = &e.body {
        if !matches!(b, Value::Null) {
            put_header(out, 5, any_value_len(b));
            write_any_value(b, out);
        }
    }
    write_key_values(&e.attributes, 6, out);
    let f = flags(e);
    if f != 0 {
        out.push(8 << 3 | 5);
        out.extend_from_slice(&f.to_le_bytes());
    }
    if let Some(id) = &e.trace_id {
        put_fixed::<16>(out, 9, id);
    }
    if let Some(id) = &e.span_id {
        put_fixed::<8>(out, 10, id);
    }
    if e.observed != 0 {
        out.push(11 << 3 | 1);
        out.extend_from_slice(&e.observed.to_le_bytes());
    }
}

/// The `ExportLogsServiceRequest` of resources whose records are encoded: as [`request`]. The
/// first scope's buffer starts with `gap` bytes that are not records (see [`head_room`]): when
/// it is the request's only scope, the request's head is written there and the buffer becomes
/// the request without a copy.
fn encode_request(mut resources: Vec<(Map, Scopes)>, gap: usize) -> bytes::Bytes {
    // the records of scope `s` of resource `r`
    fn records(r: usize, s: usize, buf: &[u8], gap: usize) -> &[u8] {
        if r == 0 && s == 0 {
            &buf[gap..]
        } else {
            buf
        }
    }
    let resource_len = |r: usize, attrs: &Map, scopes: &Scopes| {
        delimited_len(map_len(attrs))
            + scopes
                .iter()
                .enumerate()
                .map(|(s, (n, b))| delimited_len(scope_len(n, records(r, s, b, gap).len())))
                .sum::<usize>()
    };
    if gap > 0 && resources.len() == 1 && resources[0].1.len() == 1 {
        let (attrs, scopes) = &mut resources[0];
        let mut head = Vec::with_capacity(gap);
        put_header(&mut head, 1, resource_len(0, attrs, scopes));
        put_header(&mut head, 1, map_len(attrs));
        write_key_values(attrs, 1, &mut head);
        let (name, buf) = &mut scopes[0];
        put_scope_head(&mut head, name, buf.len() - gap);
        if let Some(start) = gap.checked_sub(head.len()) {
            buf[start..gap].copy_from_slice(&head);
            return bytes::Bytes::from(std::mem::take(buf)).slice(start..);
        }
    }
    let total: usize = resources
        .iter()
        .enumerate()
        .map(|(r, (a, s))| delimited_len(resource_len(r, a, s)))
        .sum();
    let mut out = Vec::with_capacity(total);
    for (r, (attrs, scopes)) in resources.iter().enumerate() {
        put_header(&mut out, 1, resource_len(r, attrs, scopes));
        put_header(&mut out, 1, map_len(attrs));
        write_key_values(attrs, 1, &mut out);
        for (s, (name, buf)) in scopes.iter().enumerate() {
            let records = records(r, s, buf, gap);
            put_scope_head(&mut out, name, records.len());
            out.extend_from_slice(records);
        }
    }
    out.into()
}

/// The length of a `ScopeLogs` whose scope is named `name` and whose records take `records`
/// bytes.
fn scope_len(name: &str, records: usize) -> usize {
    delimited_len(scope_len_of(name)) + records
}

/// The length of the `InstrumentationScope` named `name` (nothing but its name).
fn scope_len_of(name: &str) -> usize {
    if name.is_empty() {
        0
    } else {
        delimited_len(name.len())
    }
}

/// A `ScopeLogs` field up to its records: its key and length, and its scope.
fn put_scope_head(out: &mut Vec<u8>, name: &str, records: usize) {
    put_header(out, 2, scope_len(name, records));
    put_header(out, 1, scope_len_of(name));
    if !name.is_empty() {
        put_bytes(out, 1, name.as_bytes());
    }
}

/// Room enough for the head of a request of one resource with `attrs` and one scope named
/// `name`: the `ResourceLogs` key and length, its `Resource`, the `ScopeLogs` key and length,
/// and its scope (each length at most a 10-byte varint).
fn head_room(attrs: &Map, name: &str) -> usize {
    4 * 11 + map_len(attrs) + delimited_len(name.len())
}
