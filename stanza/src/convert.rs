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
fn into_record(e: Entry) -> LogRecord {
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

/// One resource's scopes: the scope name and its records.
type Scopes = Vec<(String, Vec<LogRecord>)>;

/// Log records grouped by resource and then by scope name (each in order of first
/// appearance), built one entry at a time, so that an entry becomes its record while it is
/// still in the CPU caches.
///
/// With a size limit ([`Logs::with_max_request_bytes`]) the records are cut into several
/// requests, each at most about that many bytes once encoded (a single larger record makes a
/// request of its own): a receiver hands them on one by one, so no request outgrows what a
/// gRPC server accepts by default (4 MiB).
#[derive(Debug, Default)]
pub struct Logs {
    /// Records the first scope is made room for at once.
    expect: usize,
    resources: Vec<(Map, Scopes)>,
    /// The resource and scope of the last entry (neighbours usually share both).
    last: Option<(usize, usize)>,
    /// Records held in all (sealed requests and the one being built).
    records: usize,
    /// The size limit of one request in encoded bytes (0: none).
    max_bytes: usize,
    /// Encoded bytes of the request being built.
    bytes: usize,
    /// Requests already cut (with the size limit).
    sealed: Vec<ExportLogsServiceRequest>,
}

impl Logs {
    /// Room for `n` records in the first resource and scope (the usual case is one of each),
    /// so that its list is not grown and copied along the way. Only the memory written is
    /// paid for.
    pub fn expecting(n: usize) -> Logs {
        Logs {
            expect: n,
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
        self.sealed.push(request(resources));
        self.last = None;
        self.bytes = 0;
    }

    /// Add an entry (its content is taken, nothing is copied).
    pub fn push(&mut self, mut e: Entry) {
        let mut resource = std::mem::take(&mut e.resource);
        let mut scope_name = std::mem::take(&mut e.scope_name);
        let record = into_record(e);
        if self.max_bytes > 0 {
            // the record, its length prefix and tag, within its scope
            let len = record.encoded_len();
            let size = len + prost::length_delimiter_len(len) + 1;
            if self.bytes > 0 && self.bytes + size > self.max_bytes {
                self.seal();
            }
            self.bytes += size;
        }
        let r = match self.last {
            Some((r, _)) if self.resources[r].0 == resource => r,
            _ => match self.resources.iter().position(|(m, _)| *m == resource) {
                Some(r) => r,
                None => {
                    if self.max_bytes > 0 {
                        self.bytes += into_key_values(resource.clone())
                            .iter()
                            .map(|kv| {
                                let len = kv.encoded_len();
                                len + prost::length_delimiter_len(len) + 1
                            })
                            .sum::<usize>();
                    }
                    self.resources
                        .push((std::mem::take(&mut resource), Vec::new()));
                    self.resources.len() - 1
                }
            },
        };
        let scopes = &mut self.resources[r].1;
        let s = match self.last {
            Some((lr, ls)) if lr == r && scopes[ls].0 == scope_name => ls,
            _ => match scopes.iter().position(|(n, _)| *n == scope_name) {
                Some(s) => s,
                None => {
                    let records = Vec::with_capacity(std::mem::take(&mut self.expect));
                    scopes.push((std::mem::take(&mut scope_name), records));
                    scopes.len() - 1
                }
            },
        };
        scopes[s].1.push(record);
        self.last = Some((r, s));
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

    /// The export requests, cut by the size limit (one when there is none); empty when no
    /// record was added.
    pub fn into_requests(mut self) -> Vec<ExportLogsServiceRequest> {
        if !self.resources.is_empty() {
            self.seal();
        }
        self.sealed
    }
}

fn request(resources: Vec<(Map, Scopes)>) -> ExportLogsServiceRequest {
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
