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

use super::entry::{Entry, Map, Value};
use super::severity::default_text;

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

fn fixed<const N: usize>(b: &Option<Vec<u8>>) -> Vec<u8> {
    match b {
        None => Vec::new(),
        Some(b) => {
            let mut out = vec![0u8; N];
            let n = b.len().min(N);
            out[..n].copy_from_slice(&b[..n]);
            out
        }
    }
}

fn record(e: &Entry) -> LogRecord {
    LogRecord {
        time_unix_nano: e.timestamp.unwrap_or(0),
        observed_time_unix_nano: e.observed,
        severity_number: e.severity,
        severity_text: if e.severity_text.is_empty() {
            default_text(e.severity).to_string()
        } else {
            e.severity_text.clone()
        },
        body: e.body.as_ref().and_then(any_value),
        attributes: key_values(&e.attributes),
        trace_id: fixed::<16>(&e.trace_id),
        span_id: fixed::<8>(&e.span_id),
        flags: e
            .trace_flags
            .as_ref()
            .and_then(|f| f.first())
            .map(|b| *b as u32)
            .unwrap_or(0),
        ..Default::default()
    }
}

/// A resource's scopes, each with its records.
type ResourceGroup<'a> = (&'a Map, Vec<(&'a str, Vec<LogRecord>)>);

/// Group entries into one export request.
pub fn to_request(entries: &[Entry]) -> ExportLogsServiceRequest {
    let mut groups: Vec<ResourceGroup<'_>> = Vec::new();
    for e in entries {
        let idx = match groups.iter().position(|(r, _)| *r == &e.resource) {
            Some(i) => i,
            None => {
                groups.push((&e.resource, Vec::new()));
                groups.len() - 1
            }
        };
        let scopes = &mut groups[idx].1;
        let s = match scopes.iter().position(|(n, _)| *n == e.scope_name) {
            Some(i) => i,
            None => {
                scopes.push((&e.scope_name, Vec::new()));
                scopes.len() - 1
            }
        };
        scopes[s].1.push(record(e));
    }
    ExportLogsServiceRequest {
        resource_logs: groups
            .into_iter()
            .map(|(res, scopes)| ResourceLogs {
                resource: Some(Resource {
                    attributes: key_values(res),
                    ..Default::default()
                }),
                scope_logs: scopes
                    .into_iter()
                    .map(|(name, records)| ScopeLogs {
                        scope: Some(InstrumentationScope {
                            name: name.to_string(),
                            ..Default::default()
                        }),
                        log_records: records,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
    }
}
