//! Loki's push API body and the classification of its answers.
//!
//! The messages of `grafana/loki` `pkg/push/push.proto` (package `logproto`), declared by
//! hand: `PushRequest { streams = 1 (StreamAdapter); format = 2 }`, `StreamAdapter { labels
//! = 1 (the label set as text); entries = 2 (EntryAdapter); hash = 3 }`, `EntryAdapter {
//! timestamp = 1 (google.protobuf.Timestamp); line = 2; structuredMetadata = 3
//! (LabelPairAdapter); parsed = 4 (query responses only) }`, `LabelPairAdapter { name = 1;
//! value = 2 }`, and `google.protobuf.Timestamp { seconds = 1; nanos = 2 }`.
//!
//! Go facts relied on (`exporter/lokiexporter/exporter.go`): the body is the protobuf
//! encoding, snappy block-compressed (no `Content-Encoding` header: Loki snappy-decodes every
//! protobuf push body), with `Content-Type: application/x-protobuf`; configured headers are
//! set first, then the content type, then `X-Scope-OrgID` when the tenant is not empty. A
//! 2xx answer is success; for any other, the first line of at most 1024 bytes of the body
//! goes into the error `HTTP <code> "<status text>": <line>`; 4xx other than 429 is
//! permanent, everything else retryable. Ferrotel adds: on 429 and 503 a `Retry-After`
//! (seconds or HTTP date) becomes the throttle hint.

use std::time::{Duration, SystemTime};

use http::StatusCode;
use pipeline_api::ConsumeError;
use prost::Message;

/// Go `maxErrMsgLen`.
pub const MAX_ERROR_BODY: usize = 1024;

#[derive(Clone, PartialEq, Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
    /// `loki` or `otlp`; set by Loki itself, empty from clients.
    #[prost(string, tag = "2")]
    pub format: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct StreamAdapter {
    /// `{name="value", ...}`, names sorted, values Go-quoted.
    #[prost(string, tag = "1")]
    pub labels: String,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

#[derive(Clone, PartialEq, Message)]
pub struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    #[prost(string, tag = "2")]
    pub line: String,
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPairAdapter>,
    #[prost(message, repeated, tag = "4")]
    pub parsed: Vec<LabelPairAdapter>,
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Message)]
pub struct LabelPairAdapter {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl Timestamp {
    pub fn from_unix_nanos(ns: u64) -> Timestamp {
        Timestamp {
            seconds: i64::try_from(ns / 1_000_000_000).unwrap_or(i64::MAX),
            nanos: (ns % 1_000_000_000) as i32,
        }
    }
}

/// The request body: protobuf, snappy block format.
pub fn encode(request: &PushRequest) -> Result<Vec<u8>, ConsumeError> {
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .map_err(|e| ConsumeError::permanent(format!("snappy compression failed: {e}")))
}

/// `Retry-After`: delay seconds or an HTTP date, relative to `now`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The first line of an error body, as Go's `bufio.Scanner` reads it from at most
/// [`MAX_ERROR_BODY`] bytes (a trailing `\r` dropped).
pub fn first_line(body: &[u8]) -> String {
    let body = &body[..body.len().min(MAX_ERROR_BODY)];
    let line = body.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line).into_owned()
}

/// The error of a non-2xx answer; `tenant` is named when not empty.
pub fn classify(
    status: StatusCode,
    retry_after: Option<&str>,
    body: &[u8],
    tenant: &str,
    now: SystemTime,
) -> ConsumeError {
    let mut message = format!(
        "HTTP {} {:?}: {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        first_line(body)
    );
    if !tenant.is_empty() {
        message.push_str(&format!(" (X-Scope-OrgID {tenant:?})"));
    }
    let code = status.as_u16();
    if (400..500).contains(&code) && code != 429 {
        return ConsumeError::permanent(message);
    }
    if code == 429 || code == 503 {
        if let Some(after) = retry_after.and_then(|v| parse_retry_after(v, now)) {
            return ConsumeError::throttled(message, after);
        }
    }
    ConsumeError::retryable(message)
}
