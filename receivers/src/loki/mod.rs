//! `loki` receiver: Loki's push API over HTTP (`POST /loki/api/v1/push`, snappy protobuf or
//! JSON) and gRPC (`logproto.Pusher/Push`), as Go's `receiver/lokireceiver` and
//! `pkg/translator/loki` (`PushRequestToLogs`).
//!
//! Go facts relied on (`config.go`, `factory.go`, `loki.go`, `internal/push.go`,
//! `loki_to_otlp.go`):
//! - `protocols` has `grpc` (`localhost:3600`) and `http` (`localhost:3500`); a protocol is
//!   on only when its key is present; none is "must specify at least one protocol when
//!   using the Loki receiver". `use_incoming_timestamp` (false).
//! - Only `POST` (405 `405 method not allowed, supported: [POST]`); `Content-Type` exactly
//!   `application/json` or `application/x-protobuf` (else 415); `Content-Encoding` empty,
//!   `snappy`, `gzip` or `deflate` (else 400). A protobuf body is snappy block-compressed.
//! - Every entry becomes one log record in one resource and one scope: body the line,
//!   observed time now, time the entry's when `use_incoming_timestamp` (and not zero), else
//!   now; each stream label not starting with `__` an attribute (Ferrotel: sorted by name).
//!   Structured metadata is not carried. A stream whose labels do not parse fails the
//!   request with 400 (`N entries failed to process, the last error: …`). Success is 204.
//!
//! Ferrotel differs: a refusal by the pipeline is 503 (retryable; `Retry-After` when
//! throttled) or 400 (permanent), so promtail and the Docker driver retry; Go answers 204
//! and the entries are lost. Over gRPC the same: `UNAVAILABLE` (retryable) or
//! `INVALID_ARGUMENT` (permanent, and a stream whose labels do not parse), where Go returns
//! the error as it is (`UNKNOWN`); success is an empty `PushResponse`.

#[cfg(test)]
mod tests;

use pipeline_api::config::present;
use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;

use crate::limits::{read_body, BodyError, BodyLimits, OverLimit};
use hyper::body::Incoming;
use pipeline_api::config::{ConfigError, Validate};
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{
    async_trait, Batch, BatchData, BuildContext, BuildError, CancellationToken, ComponentConfig,
    ComponentId, Receiver, ReceiverFactory, RequestContext, SharedConsumer, Signal,
    SignalConsumers,
};
use pipeline_api::{declare, Meta, Stability};
use prost::Message;
use serde::Deserialize;

use exporters::loki::push::PushRequest;

use crate::http_server::reply;

pub const META: Meta = Meta::new("loki").logs(Stability::Alpha);

pub const PUSH_PATH: &str = "/loki/api/v1/push";

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<Config>(META, |ctx, cfg, next| {
        Ok(Box::new(LokiReceiver::build(ctx, cfg, next)?))
    })
}

/// `receivers: loki:`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub protocols: Protocols,
    pub use_incoming_timestamp: bool,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Protocols {
    #[serde(deserialize_with = "present")]
    pub grpc: Option<GrpcServerConfig>,
    #[serde(deserialize_with = "present")]
    pub http: Option<HttpServerConfig>,
}

/// `protocols::grpc` (Go `configgrpc.ServerConfig`), default endpoint `localhost:3600`.
pub type GrpcServerConfig = crate::grpc_unary::GrpcServerConfig<GrpcPort>;

#[derive(Debug, Clone)]
pub struct GrpcPort;

impl crate::grpc_unary::DefaultPort for GrpcPort {
    const PORT: u16 = 3600;
}

/// `logproto.Pusher/Push`.
pub const PUSH_GRPC_PATH: &str = "/logproto.Pusher/Push";

/// `logproto.PushResponse`: empty.
#[derive(Clone, PartialEq, Message)]
pub struct PushResponse {}

/// `protocols::http` (Go `confighttp.ServerConfig`), default endpoint `localhost:3500`.
pub type HttpServerConfig = crate::http_server::HttpServerConfig<HttpPort>;

#[derive(Debug, Clone)]
pub struct HttpPort;

impl crate::grpc_unary::DefaultPort for HttpPort {
    const PORT: u16 = 3500;
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.protocols.grpc.is_none() && self.protocols.http.is_none() {
            errors.push(ConfigError::new(
                &[],
                "must specify at least one protocol when using the Loki receiver",
            ));
        }
        if let Some(g) = &self.protocols.grpc {
            g.validate(&["protocols", "grpc"], &mut errors);
        }
        if let Some(h) = &self.protocols.http {
            h.validate(&["protocols", "http"], &mut errors);
        }
        errors
    }
}

impl ComponentConfig for Config {
    fn listen_addresses(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .protocols
            .http
            .iter()
            .map(|h| ("protocols::http::endpoint".to_string(), h.endpoint.clone()))
            .collect();
        if let Some(g) = &self.protocols.grpc {
            out.push(("protocols::grpc::endpoint".into(), g.endpoint.clone()));
        }
        out
    }

    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self
            .protocols
            .http
            .as_ref()
            .is_some_and(|h| h.cors.is_some())
        {
            out.push((
                "protocols::http::cors".into(),
                "the push API is not served to browsers".into(),
            ));
        }
        out
    }
}

/// Parse a Loki/Prometheus label set `{name="value", ...}` (an optional metric name before
/// the brace becomes `__name__`), as Go's `promql_parser.ParseMetric`.
pub fn parse_labels(s: &str) -> Result<Vec<(String, String)>, String> {
    let s = s.trim();
    let err = |m: &str| format!("parse error: {m} in {s:?}");
    let (name, rest) = match s.find('{') {
        Some(i) => (s[..i].trim(), &s[i + 1..]),
        None => return Err(err("expected \"{\"")),
    };
    let mut out = Vec::new();
    if !name.is_empty() {
        if !valid_name(name, true) {
            return Err(err("invalid metric name"));
        }
        out.push(("__name__".to_string(), name.to_string()));
    }
    let mut chars = rest.char_indices().peekable();
    let body = rest;
    loop {
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let Some(&(start, c)) = chars.peek() else {
            return Err(err("unexpected end of input"));
        };
        if c == '}' {
            chars.next();
            break;
        }
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                end = i + c.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        let label = &body[start..end];
        if !valid_name(label, false) {
            return Err(err("invalid label name"));
        }
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        if chars.next().map(|(_, c)| c) != Some('=') {
            return Err(err("expected \"=\""));
        }
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let quote = match chars.next() {
            Some((_, q @ ('"' | '\'' | '`'))) => q,
            _ => return Err(err("expected a quoted value")),
        };
        let mut value = String::new();
        loop {
            match chars.next() {
                None => return Err(err("unterminated string")),
                Some((_, c)) if c == quote => break,
                Some((_, '\\')) if quote != '`' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, 'r')) => value.push('\r'),
                    Some((_, c @ ('\\' | '"' | '\''))) => value.push(c),
                    _ => return Err(err("invalid escape")),
                },
                Some((_, c)) => value.push(c),
            }
        }
        out.push((label.to_string(), value));
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            Some((_, ',')) => continue,
            Some((_, '}')) => break,
            _ => return Err(err("expected \",\" or \"}\"")),
        }
    }
    if chars.any(|(_, c)| !c.is_whitespace()) {
        return Err(err("unexpected text after \"}\""));
    }
    Ok(out)
}

fn valid_name(s: &str, metric: bool) -> bool {
    let mut cs = s.chars();
    match cs.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || (metric && c == ':') => {}
        _ => return false,
    }
    cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || (metric && c == ':'))
}

/// One decoded entry.
struct Entry {
    ts_nanos: u64,
    line: String,
}

/// The streams of a push body: (labels text or map, entries).
enum Labels {
    Text(String),
    Map(BTreeMap<String, String>),
}

/// The JSON push body (`{"streams":[{"stream":{...},"values":[["<ns>","line",{...}?]]}]}`).
fn from_json(body: &[u8]) -> Result<Vec<(Labels, Vec<Entry>)>, String> {
    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        streams: Vec<Stream>,
    }
    #[derive(Deserialize)]
    struct Stream {
        #[serde(default)]
        stream: BTreeMap<String, String>,
        #[serde(default)]
        values: Vec<Vec<serde_json::Value>>,
    }
    let b: Body = serde_json::from_slice(body).map_err(|e| format!("invalid push JSON: {e}"))?;
    b.streams
        .into_iter()
        .map(|s| {
            let entries = s
                .values
                .into_iter()
                .map(|v| {
                    let ts = match v.first() {
                        Some(serde_json::Value::String(t)) => t
                            .parse::<u64>()
                            .map_err(|_| format!("invalid timestamp {t:?}"))?,
                        other => return Err(format!("invalid timestamp {other:?}")),
                    };
                    let line = match v.get(1) {
                        Some(serde_json::Value::String(l)) => l.clone(),
                        other => return Err(format!("invalid line {other:?}")),
                    };
                    Ok(Entry { ts_nanos: ts, line })
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok((Labels::Map(s.stream), entries))
        })
        .collect()
}

/// The streams of a decoded `PushRequest`.
fn from_request(req: PushRequest) -> Vec<(Labels, Vec<Entry>)> {
    req.streams
        .into_iter()
        .map(|s| {
            let entries = s
                .entries
                .into_iter()
                .map(|e| Entry {
                    ts_nanos: e
                        .timestamp
                        .map(|t| {
                            (t.seconds.max(0) as u64)
                                .saturating_mul(1_000_000_000)
                                .saturating_add(t.nanos.max(0) as u64)
                        })
                        .unwrap_or(0),
                    line: e.line,
                })
                .collect();
            (Labels::Text(s.labels), entries)
        })
        .collect()
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The snappy protobuf push body.
fn from_proto(body: &[u8], limit: usize) -> Result<Vec<(Labels, Vec<Entry>)>, String> {
    let len = snap::raw::decompress_len(body).map_err(|e| format!("snappy: {e}"))?;
    if len > limit {
        return Err(format!(
            "decompressed body of {len} bytes is larger than {limit}"
        ));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("snappy: {e}"))?;
    let req = PushRequest::decode(raw.as_slice()).map_err(|e| format!("protobuf: {e}"))?;
    Ok(from_request(req))
}

/// Go `PushRequestToLogs`.
fn to_logs(
    streams: Vec<(Labels, Vec<Entry>)>,
    keep_timestamp: bool,
    now: u64,
) -> Result<ExportLogsServiceRequest, String> {
    let mut records = Vec::new();
    let mut failed = 0;
    let mut last_err = None;
    for (labels, entries) in streams {
        if entries.is_empty() {
            continue;
        }
        let labels: Vec<(String, String)> = match labels {
            Labels::Map(m) => m.into_iter().collect(),
            Labels::Text(t) => match parse_labels(&t) {
                Ok(mut l) => {
                    l.sort();
                    l.dedup_by(|a, b| a.0 == b.0);
                    l
                }
                Err(e) => {
                    failed += 1;
                    last_err = Some(e);
                    continue;
                }
            },
        };
        let attrs: Vec<KeyValue> = labels
            .into_iter()
            .filter(|(k, _)| !k.starts_with("__"))
            .map(|(k, v)| KeyValue {
                key: k,
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(v)),
                }),
                ..Default::default()
            })
            .collect();
        for e in entries {
            records.push(LogRecord {
                observed_time_unix_nano: now,
                time_unix_nano: if keep_timestamp && e.ts_nanos != 0 {
                    e.ts_nanos
                } else {
                    now
                },
                body: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(e.line)),
                }),
                attributes: attrs.clone(),
                ..Default::default()
            });
        }
    }
    if let Some(e) = last_err {
        return Err(format!(
            "{failed} entries failed to process, the last error: {e}"
        ));
    }
    if records.is_empty() {
        return Ok(ExportLogsServiceRequest::default());
    }
    Ok(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource::default()),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope::default()),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

/// Decode a push body as the receiver does (for tests and fuzzing).
pub fn decode_push(
    content_type: &str,
    body: &[u8],
    keep_timestamp: bool,
    limit: usize,
) -> Result<ExportLogsServiceRequest, String> {
    let streams = if content_type == "application/json" {
        from_json(body)?
    } else {
        from_proto(body, limit)?
    };
    to_logs(streams, keep_timestamp, now_nanos())
}

/// What the receiver counted.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub bad_requests: AtomicU64,
    pub accepted_records: AtomicU64,
}

struct Handler {
    id: ComponentId,
    next: SharedConsumer,
    keep_timestamp: bool,
    max_body: usize,
    body_limits: BodyLimits,
    over_limit: OverLimit,
    include_metadata: bool,
    obs: ReceiverObs,
    counters: Arc<Counters>,
}

/// `logproto.Pusher/Push` calls.
struct GrpcHandler {
    id: ComponentId,
    next: SharedConsumer,
    keep_timestamp: bool,
    include_metadata: bool,
    obs: ReceiverObs,
    counters: Arc<Counters>,
}

impl GrpcHandler {
    async fn push(
        &self,
        req: tonic::Request<PushRequest>,
        peer: SocketAddr,
    ) -> Result<tonic::Response<PushResponse>, tonic::Status> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let metadata: Vec<(String, String)> = if self.include_metadata {
            crate::http_server::header_metadata(&req.metadata().clone().into_headers())
        } else {
            Vec::new()
        };
        let streams = from_request(req.into_inner());
        let logs = match to_logs(streams, self.keep_timestamp, now_nanos()) {
            Ok(l) => l,
            Err(e) => {
                self.counters.bad_requests.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(receiver = %self.id, error = %e, "at least one entry in the push request failed to process");
                return Err(tonic::Status::invalid_argument(e));
            }
        };
        if logs.resource_logs.is_empty() {
            return Ok(tonic::Response::new(PushResponse {}));
        }
        let batch = Batch::new(
            BatchData::Logs(logs),
            RequestContext {
                receiver: Some(self.id.clone()),
                metadata,
                client_address: Some(peer),
            },
        );
        let items = batch.items();
        let result = self
            .obs
            .observe(Signal::Logs, items, "protobuf", self.next.consume(batch))
            .await;
        match result {
            Ok(()) => {
                self.counters
                    .accepted_records
                    .fetch_add(items as u64, Ordering::Relaxed);
                Ok(tonic::Response::new(PushResponse {}))
            }
            Err(e) if e.is_retryable() => Err(tonic::Status::unavailable(e.to_string())),
            Err(e) => Err(tonic::Status::invalid_argument(e.to_string())),
        }
    }
}

impl Handler {
    fn bad(&self, status: StatusCode, msg: impl Into<Bytes>) -> Response<Full<Bytes>> {
        self.counters.bad_requests.fetch_add(1, Ordering::Relaxed);
        reply(status, msg)
    }

    async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        if req.uri().path() != PUSH_PATH {
            return reply(StatusCode::NOT_FOUND, "404 page not found\n");
        }
        if req.method() != Method::POST {
            return self.bad(
                StatusCode::METHOD_NOT_ALLOWED,
                "405 method not allowed, supported: [POST]",
            );
        }
        let header = |name: &http::HeaderName| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let content_type = header(&CONTENT_TYPE);
        if content_type != "application/json" && content_type != "application/x-protobuf" {
            return self.bad(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "415 unsupported media type, supported: [application/json, application/x-protobuf]",
            );
        }
        let encoding = header(&CONTENT_ENCODING);
        let metadata: Vec<(String, String)> = if self.include_metadata {
            crate::http_server::header_metadata(req.headers())
        } else {
            Vec::new()
        };
        let body = match read_body(req.into_body(), self.body_limits).await {
            Ok(b) => b,
            Err(e) => {
                self.over_limit.count_body(&e);
                return match e {
                    BodyError::TooLarge => self.bad(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "http: request body too large",
                    ),
                    BodyError::Timeout => self.bad(
                        StatusCode::REQUEST_TIMEOUT,
                        "timed out reading the request body",
                    ),
                    BodyError::Read(e) => {
                        self.bad(StatusCode::BAD_REQUEST, format!("failed to read body: {e}"))
                    }
                };
            }
        };
        let body: Vec<u8> = match encoding.as_str() {
            "" | "snappy" => body.to_vec(),
            "gzip" | "deflate" => {
                let mut out = Vec::new();
                let limit = self.max_body as u64 + 1;
                let read = if encoding == "gzip" {
                    flate2::read::GzDecoder::new(&body[..])
                        .take(limit)
                        .read_to_end(&mut out)
                } else {
                    flate2::read::DeflateDecoder::new(&body[..])
                        .take(limit)
                        .read_to_end(&mut out)
                };
                if let Err(e) = read {
                    return self.bad(StatusCode::BAD_REQUEST, e.to_string());
                }
                if out.len() > self.max_body {
                    return self.bad(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "http: request body too large",
                    );
                }
                out
            }
            other => {
                return self.bad(
                    StatusCode::BAD_REQUEST,
                    format!("Content-Encoding {other:?} not supported"),
                )
            }
        };
        let logs = match decode_push(&content_type, &body, self.keep_timestamp, self.max_body) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(receiver = %self.id, error = %e, "at least one entry in the push request failed to process");
                return self.bad(StatusCode::BAD_REQUEST, e);
            }
        };
        if logs.resource_logs.is_empty() {
            return reply(StatusCode::NO_CONTENT, Bytes::new());
        }
        let batch = Batch::new(
            BatchData::Logs(logs),
            RequestContext {
                receiver: Some(self.id.clone()),
                metadata,
                client_address: Some(peer),
            },
        );
        let items = batch.items();
        let result = self
            .obs
            .observe(Signal::Logs, items, "json", self.next.consume(batch))
            .await;
        match result {
            Ok(()) => {
                self.counters
                    .accepted_records
                    .fetch_add(items as u64, Ordering::Relaxed);
                reply(StatusCode::NO_CONTENT, Bytes::new())
            }
            Err(e) if e.is_retryable() => {
                let mut r = reply(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
                if let Some(after) = e.retry_after() {
                    if let Ok(v) = http::HeaderValue::from_str(&after.as_secs().max(1).to_string())
                    {
                        r.headers_mut().insert(RETRY_AFTER, v);
                    }
                }
                r
            }
            Err(e) => reply(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }
}

struct HttpPart {
    listener: crate::http_server::HttpListener,
    handler: Arc<Handler>,
}

pub struct LokiReceiver {
    http: Option<HttpPart>,
    grpc: Option<(crate::grpc_unary::GrpcListener, Arc<GrpcHandler>)>,
    http_addr: Option<SocketAddr>,
    grpc_addr: Option<SocketAddr>,
    counters: Arc<Counters>,
}

impl LokiReceiver {
    pub fn build(
        ctx: BuildContext,
        cfg: &Config,
        next: SignalConsumers,
    ) -> Result<LokiReceiver, BuildError> {
        let next = next
            .logs
            .ok_or_else(|| BuildError::new("the loki receiver must be in a logs pipeline"))?;
        if cfg.protocols.grpc.is_none() && cfg.protocols.http.is_none() {
            return Err(BuildError::new(
                "must specify at least one protocol when using the Loki receiver",
            ));
        }
        let counters = Arc::new(Counters::default());
        let mut http = None;
        if let Some(h) = &cfg.protocols.http {
            http = Some(HttpPart {
                listener: h
                    .bind("protocols::http")?
                    .guarded(h.auth.as_ref(), &ctx.extensions, "protocols::http")?
                    .traced(&ctx.telemetry, Some("/loki/api/v1/push")),
                handler: Arc::new(Handler {
                    id: ctx.id.clone(),
                    next: next.clone(),
                    keep_timestamp: cfg.use_incoming_timestamp,
                    max_body: h.max_body(),
                    body_limits: h.body_limits(),
                    over_limit: OverLimit::new(&ctx.telemetry, "http"),
                    include_metadata: h.include_metadata,
                    obs: ctx.telemetry.receiver_obs("http"),
                    counters: counters.clone(),
                }),
            });
        }
        let http_addr = http.as_ref().map(|h| h.listener.local_addr);
        let grpc = match &cfg.protocols.grpc {
            Some(g) => Some((
                g.bind("protocols::grpc", &ctx.telemetry)?.guarded(
                    g.auth.as_ref(),
                    &ctx.extensions,
                    "protocols::grpc",
                )?,
                Arc::new(GrpcHandler {
                    id: ctx.id.clone(),
                    next,
                    keep_timestamp: cfg.use_incoming_timestamp,
                    include_metadata: g.include_metadata,
                    obs: ctx.telemetry.receiver_obs("grpc"),
                    counters: counters.clone(),
                }),
            )),
            None => None,
        };
        let grpc_addr = grpc.as_ref().map(|(l, _)| l.local_addr);
        Ok(LokiReceiver {
            http,
            grpc,
            http_addr,
            grpc_addr,
            counters,
        })
    }

    /// The HTTP listener's address (the gRPC one's when HTTP is off).
    pub fn local_addr(&self) -> SocketAddr {
        self.http_addr
            .or(self.grpc_addr)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The gRPC listener's address.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }
}

#[async_trait]
impl Receiver for LokiReceiver {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        let LokiReceiver { http, grpc, .. } = *self;
        let mut tasks = Vec::new();
        if let Some(HttpPart { listener, handler }) = http {
            tasks.push(tokio::spawn(crate::http_server::serve_http(
                listener,
                move |req, peer| {
                    let handler = handler.clone();
                    async move { handler.handle(req, peer).await }
                },
                shutdown.clone(),
                "loki",
            )));
        }
        if let Some((listener, handler)) = grpc {
            tasks.push(tokio::spawn(crate::grpc_unary::serve_unary(
                listener,
                PUSH_GRPC_PATH,
                move |r: tonic::Request<PushRequest>, peer| {
                    let handler = handler.clone();
                    async move { handler.push(r, peer).await }
                },
                shutdown.clone(),
                "loki",
            )));
        }
        for t in tasks {
            let _ = t.await;
        }
        Ok(())
    }
}
