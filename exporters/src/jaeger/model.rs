//! The Jaeger `api_v2` protobuf messages the exporter sends (`jaeger-idl`
//! `proto/api_v2/model.proto` and `collector.proto`, package `jaeger.api_v2`), declared by
//! hand with prost: field numbers and types as in those files.

use prost::Message;

pub use transport::status::ProtoDuration as Duration;

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// `ValueType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ValueType {
    String = 0,
    Bool = 1,
    Int64 = 2,
    Float64 = 3,
    Binary = 4,
}

/// `KeyValue`.
#[derive(Clone, PartialEq, Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(enumeration = "ValueType", tag = "2")]
    pub v_type: i32,
    #[prost(string, tag = "3")]
    pub v_str: String,
    #[prost(bool, tag = "4")]
    pub v_bool: bool,
    #[prost(int64, tag = "5")]
    pub v_int64: i64,
    #[prost(double, tag = "6")]
    pub v_float64: f64,
    #[prost(bytes = "vec", tag = "7")]
    pub v_binary: Vec<u8>,
}

impl KeyValue {
    pub fn string(key: &str, v: &str) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            v_type: ValueType::String as i32,
            v_str: v.to_string(),
            ..Default::default()
        }
    }

    pub fn bool(key: &str, v: bool) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            v_type: ValueType::Bool as i32,
            v_bool: v,
            ..Default::default()
        }
    }

    pub fn int64(key: &str, v: i64) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            v_type: ValueType::Int64 as i32,
            v_int64: v,
            ..Default::default()
        }
    }

    pub fn float64(key: &str, v: f64) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            v_type: ValueType::Float64 as i32,
            v_float64: v,
            ..Default::default()
        }
    }

    pub fn binary(key: &str, v: &[u8]) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            v_type: ValueType::Binary as i32,
            v_binary: v.to_vec(),
            ..Default::default()
        }
    }
}

/// `Log`.
#[derive(Clone, PartialEq, Message)]
pub struct Log {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    #[prost(message, repeated, tag = "2")]
    pub fields: Vec<KeyValue>,
}

/// `SpanRefType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SpanRefType {
    ChildOf = 0,
    FollowsFrom = 1,
}

/// `SpanRef`. `trace_id` is 16 bytes (high then low, big-endian) and `span_id` 8, always
/// written, as Jaeger's Go model marshals its `TraceID` and `SpanID`.
#[derive(Clone, PartialEq, Message)]
pub struct SpanRef {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    #[prost(enumeration = "SpanRefType", tag = "3")]
    pub ref_type: i32,
}

/// `Process`.
#[derive(Clone, PartialEq, Message)]
pub struct Process {
    #[prost(string, tag = "1")]
    pub service_name: String,
    #[prost(message, repeated, tag = "2")]
    pub tags: Vec<KeyValue>,
}

/// `Span`.
#[derive(Clone, PartialEq, Message)]
pub struct Span {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    #[prost(string, tag = "3")]
    pub operation_name: String,
    #[prost(message, repeated, tag = "4")]
    pub references: Vec<SpanRef>,
    #[prost(uint32, tag = "5")]
    pub flags: u32,
    #[prost(message, optional, tag = "6")]
    pub start_time: Option<Timestamp>,
    #[prost(message, optional, tag = "7")]
    pub duration: Option<Duration>,
    #[prost(message, repeated, tag = "8")]
    pub tags: Vec<KeyValue>,
    #[prost(message, repeated, tag = "9")]
    pub logs: Vec<Log>,
    #[prost(message, optional, tag = "10")]
    pub process: Option<Process>,
    #[prost(string, tag = "11")]
    pub process_id: String,
    #[prost(string, repeated, tag = "12")]
    pub warnings: Vec<String>,
}

/// `Batch`.
#[derive(Clone, PartialEq, Message)]
pub struct Batch {
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<Span>,
    #[prost(message, optional, tag = "2")]
    pub process: Option<Process>,
}

/// `PostSpansRequest` (`collector.proto`).
#[derive(Clone, PartialEq, Message)]
pub struct PostSpansRequest {
    #[prost(message, optional, tag = "1")]
    pub batch: Option<Batch>,
}

/// `PostSpansResponse`.
#[derive(Clone, PartialEq, Message)]
pub struct PostSpansResponse {}

/// The gRPC method: service `jaeger.api_v2.CollectorService`, rpc `PostSpans`.
pub const POST_SPANS_PATH: &str = "/jaeger.api_v2.CollectorService/PostSpans";
