//! `jaeger` receiver, as Go's `receiver/jaegerreceiver`: Jaeger `api_v2` spans over gRPC
//! (`jaeger.api_v2.CollectorService/PostSpans`), translated to OTLP by
//! `exporters::jaeger::to_otlp` (Go's `jaeger.ProtoToTraces`); Jaeger Thrift batches over
//! HTTP (`POST /api/traces`, binary protocol, `thrift_http`) and in UDP packets from Jaeger
//! clients (`Agent.emitBatch`, `thrift_binary` and `thrift_compact`), translated by
//! [`thrift`] (Go's `jaeger.ThriftToTraces`).
//!
//! Go facts relied on (`config.go`, `factory.go`): `protocols` has `grpc`
//! (`localhost:14250`), `thrift_http` (`localhost:14268`), `thrift_binary`
//! (`localhost:6832`) and `thrift_compact` (`localhost:6831`); a protocol is on only when its
//! key is present; none is "must specify at least one protocol when using the Jaeger
//! receiver". The UDP protocols take `endpoint`, `queue_size`, `max_packet_size`, `workers`,
//! `socket_buffer_size`.
//!
//! HTTP answers (Go `trace_receiver.go`): 202 on success; 400 "Unsupported content type: …"
//! unless the type is `application/x-thrift` or `application/vnd.apache.thrift.binary`; 400
//! "Unable to process request body: …" for a body that does not decode; 500 "Cannot submit
//! Jaeger batch: …" when the pipeline refuses. gRPC: a refused batch is `UNAVAILABLE`
//! (retryable) or `INVALID_ARGUMENT` (permanent). UDP has no answer: a packet that does not
//! decode, or that finds the `queue_size` queue full or the pipeline refusing, is counted
//! (`otelcol_receiver_refused_spans` with transport `udp_thrift_binary` /
//! `udp_thrift_compact` when its spans are known) and logged at most every 10 s.
//!
//! Not built: `remote_sampling` (fails to build with a clear error), `socket_buffer_size`
//! (the system default buffer is used; reported as not acted on).

mod thrift;

#[cfg(test)]
mod tests;

use pipeline_api::config::present;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;

use crate::limits::{read_body, BodyError, BodyLimits, OverLimit};
use hyper::body::Incoming;
use pipeline_api::config::{ConfigError, ConfigValue, Validate};
use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{
    async_trait, Batch, BatchData, BuildContext, BuildError, CancellationToken, ComponentConfig,
    ComponentId, Receiver, ReceiverFactory, RequestContext, SharedConsumer, Signal,
    SignalConsumers,
};
use pipeline_api::{declare, Meta, Stability};
use serde::Deserialize;

use exporters::jaeger::model::{PostSpansRequest, PostSpansResponse, POST_SPANS_PATH};

use crate::http_server::reply;
use crate::otlp::compression::{decompress, DecompressError};

pub use thrift::{
    decode_agent_packet, decode_batch, to_otlp as thrift_to_otlp, Protocol as ThriftProtocol,
    ThriftBatch,
};

/// Go's UDP server defaults (`config.go`).
const DEFAULT_QUEUE_SIZE: usize = 1_000;
const DEFAULT_MAX_PACKET_SIZE: usize = 65_000;
const DEFAULT_WORKERS: usize = 10;

pub const META: Meta = Meta::new("jaeger").traces(Stability::Beta);

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<Config>(META, |ctx, cfg, next| {
        Ok(Box::new(JaegerReceiver::build(ctx, cfg, next)?))
    })
}

/// `receivers: jaeger:`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub protocols: Protocols,
    /// Go's old remote sampling section: refused at build (not served).
    pub remote_sampling: Option<ConfigValue>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Protocols {
    #[serde(deserialize_with = "present")]
    pub grpc: Option<GrpcServerConfig>,
    #[serde(deserialize_with = "present")]
    pub thrift_http: Option<HttpServerConfig>,
    #[serde(deserialize_with = "present")]
    pub thrift_binary: Option<UdpConfig>,
    #[serde(deserialize_with = "present")]
    pub thrift_compact: Option<UdpConfig>,
}

/// `protocols::thrift_http` (Go `confighttp.ServerConfig`), default endpoint
/// `localhost:14268`.
pub type HttpServerConfig = crate::http_server::HttpServerConfig<ThriftHttpPort>;

#[derive(Debug, Clone)]
pub struct ThriftHttpPort;

impl crate::grpc_unary::DefaultPort for ThriftHttpPort {
    const PORT: u16 = 14268;
}

/// `protocols::thrift_binary` / `thrift_compact`: Go's UDP server keys (an empty endpoint
/// and values of 0 take the protocol's defaults).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct UdpConfig {
    pub endpoint: String,
    pub queue_size: i64,
    pub max_packet_size: i64,
    pub workers: i64,
    pub socket_buffer_size: i64,
}

/// `protocols::grpc` (Go `configgrpc.ServerConfig`), default endpoint `localhost:14250`.
pub type GrpcServerConfig = crate::grpc_unary::GrpcServerConfig<GrpcPort>;

#[derive(Debug, Clone)]
pub struct GrpcPort;

impl crate::grpc_unary::DefaultPort for GrpcPort {
    const PORT: u16 = 14250;
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let p = &self.protocols;
        let mut errors = Vec::new();
        if p.grpc.is_none()
            && p.thrift_http.is_none()
            && p.thrift_binary.is_none()
            && p.thrift_compact.is_none()
        {
            errors.push(ConfigError::new(
                &["protocols"],
                "must specify at least one protocol when using the Jaeger receiver",
            ));
        }
        if let Some(h) = &p.thrift_http {
            h.validate(&["protocols", "thrift_http"], &mut errors);
        }
        for (key, udp, port) in [
            ("thrift_binary", &p.thrift_binary, 6832),
            ("thrift_compact", &p.thrift_compact, 6831),
        ] {
            if let Some(u) = udp {
                if !u.endpoint.is_empty() {
                    if let Err(e) = transport::net::check_endpoint(&u.endpoint, port) {
                        errors.push(ConfigError::new(&["protocols", key, "endpoint"], e));
                    }
                }
            }
        }
        if let Some(g) = &p.grpc {
            g.validate(&["protocols", "grpc"], &mut errors);
        }
        errors
    }
}

impl ComponentConfig for Config {
    fn listen_addresses(&self) -> Vec<(String, String)> {
        let p = &self.protocols;
        let mut out: Vec<(String, String)> = p
            .grpc
            .iter()
            .map(|g| ("protocols::grpc::endpoint".to_string(), g.endpoint.clone()))
            .collect();
        if let Some(h) = &p.thrift_http {
            out.push((
                "protocols::thrift_http::endpoint".into(),
                h.endpoint.clone(),
            ));
        }
        out
    }

    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (key, udp) in [
            ("thrift_binary", &self.protocols.thrift_binary),
            ("thrift_compact", &self.protocols.thrift_compact),
        ] {
            if udp.as_ref().is_some_and(|u| u.socket_buffer_size > 0) {
                out.push((
                    format!("protocols::{key}::socket_buffer_size"),
                    "the system's default receive buffer is used".into(),
                ));
            }
        }
        if self
            .protocols
            .thrift_http
            .as_ref()
            .is_some_and(|h| h.cors.is_some())
        {
            out.push((
                "protocols::thrift_http::cors".into(),
                "the Jaeger collector API is not served to browsers".into(),
            ));
        }
        if let Some(g) = &self.protocols.grpc {
            if g.keepalive.is_some() {
                out.push((
                    "protocols::grpc::keepalive".into(),
                    "the server's own keepalive settings apply".into(),
                ));
            }
        }
        out
    }
}

/// What the receiver counted.
#[derive(Debug, Default)]
pub struct Counters {
    pub calls: AtomicU64,
    pub accepted_spans: AtomicU64,
    /// HTTP requests and UDP packets refused before their spans were known (bad content
    /// type, body or packet that does not decode).
    pub bad_requests: AtomicU64,
    /// UDP packets dropped: refused by the pipeline or finding the queue full.
    pub dropped_packets: AtomicU64,
}

struct Handler {
    id: ComponentId,
    next: SharedConsumer,
    include_metadata: bool,
    obs: ReceiverObs,
    counters: Arc<Counters>,
}

/// Hand one Thrift batch on; `Ok(spans)` once the pipeline took it.
async fn consume_thrift(
    id: &ComponentId,
    next: &SharedConsumer,
    obs: &ReceiverObs,
    counters: &Counters,
    batch: &ThriftBatch,
    context: RequestContext,
) -> Result<usize, pipeline_api::ConsumeError> {
    let traces = thrift::to_otlp(batch);
    let batch = Batch::new(
        BatchData::Traces(traces),
        RequestContext {
            receiver: Some(id.clone()),
            ..context
        },
    );
    let items = batch.items();
    if items == 0 {
        return Ok(0);
    }
    let result = obs
        .observe(Signal::Traces, items, "thrift", next.consume(batch))
        .await;
    result?;
    counters
        .accepted_spans
        .fetch_add(items as u64, Ordering::Relaxed);
    Ok(items)
}

/// `thrift_http`: `POST /api/traces`.
struct HttpHandler {
    id: ComponentId,
    next: SharedConsumer,
    obs: ReceiverObs,
    counters: Arc<Counters>,
    include_metadata: bool,
    max_body: usize,
    body_limits: BodyLimits,
    over_limit: OverLimit,
    encodings: Vec<String>,
}

impl HttpHandler {
    async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        if req.uri().path() != "/api/traces" {
            return reply(StatusCode::NOT_FOUND, "404 page not found\n");
        }
        if req.method() != Method::POST {
            return reply(StatusCode::METHOD_NOT_ALLOWED, "");
        }
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let content_type = header(CONTENT_TYPE.as_str());
        let encoding = header(CONTENT_ENCODING.as_str())
            .trim()
            .to_ascii_lowercase();
        let metadata: Vec<(String, String)> = if self.include_metadata {
            crate::http_server::header_metadata(req.headers())
        } else {
            Vec::new()
        };
        let bad = |status: StatusCode, msg: String| {
            self.counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            self.obs.record(
                Signal::Traces,
                0,
                &Err(pipeline_api::ConsumeError::permanent(msg.clone())),
            );
            tracing::debug!(receiver = %self.id, error = %msg, "Refused a Jaeger Thrift request.");
            reply(status, format!("{msg}\n"))
        };
        let body = match read_body(req.into_body(), self.body_limits).await {
            Ok(b) => b,
            Err(e) => {
                self.over_limit.count_body(&e);
                return match e {
                    BodyError::TooLarge => bad(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "http: request body too large".into(),
                    ),
                    BodyError::Timeout => bad(
                        StatusCode::REQUEST_TIMEOUT,
                        "timed out reading the request body".into(),
                    ),
                    BodyError::Read(e) => bad(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("Unable to process request body: {e}"),
                    ),
                };
            }
        };
        let body = match decompress(&encoding, &body, &self.encodings, self.max_body) {
            Ok(Some(d)) => Bytes::from(d),
            Ok(None) => body,
            Err(DecompressError::TooLarge) => {
                return bad(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "http: request body too large".into(),
                )
            }
            Err(e) => return bad(StatusCode::BAD_REQUEST, format!("{e:?}")),
        };
        // Go mime.ParseMediaType: the type before any parameter, lower case
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if media.is_empty() {
            return bad(
                StatusCode::BAD_REQUEST,
                "Cannot parse content type: mime: no media type".into(),
            );
        }
        if media != "application/x-thrift" && media != "application/vnd.apache.thrift.binary" {
            return bad(
                StatusCode::BAD_REQUEST,
                format!("Unsupported content type: {media}"),
            );
        }
        let batch = match thrift::decode_batch(&body) {
            Ok(b) => b,
            Err(e) => {
                return bad(
                    StatusCode::BAD_REQUEST,
                    format!("Unable to process request body: {e}"),
                )
            }
        };
        let context = RequestContext {
            metadata,
            client_address: Some(peer),
            ..Default::default()
        };
        match consume_thrift(
            &self.id,
            &self.next,
            &self.obs,
            &self.counters,
            &batch,
            context,
        )
        .await
        {
            Ok(_) => reply(StatusCode::ACCEPTED, Bytes::new()),
            Err(e) => reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Cannot submit Jaeger batch: {e}\n"),
            ),
        }
    }
}

/// A `thrift_binary` or `thrift_compact` UDP server.
struct UdpServer {
    key: &'static str,
    socket: std::net::UdpSocket,
    protocol: thrift::Protocol,
    queue_size: usize,
    max_packet_size: usize,
    workers: usize,
    obs: ReceiverObs,
}

/// A UDP server's dropped packets are logged at most once per this, with the count since.
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

fn log_drop(drops: &pipeline_api::telemetry::LogEvery, id: &ComponentId, key: &str, why: &str) {
    if let Some((dropped, _)) = drops.due(1) {
        tracing::warn!(
            receiver = %id,
            protocol = key,
            dropped,
            reason = why,
            "Dropped Jaeger Thrift UDP packets."
        );
    }
}

impl UdpServer {
    async fn run(
        self,
        id: ComponentId,
        next: SharedConsumer,
        counters: Arc<Counters>,
        shutdown: CancellationToken,
    ) {
        let socket = match tokio::net::UdpSocket::from_std(self.socket) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(receiver = %id, error = %e, "Cannot serve protocols::{}.", self.key);
                return;
            }
        };
        let drops = Arc::new(pipeline_api::telemetry::LogEvery::new(DROP_LOG_EVERY));
        let (tx, rx) = tokio::sync::mpsc::channel::<ThriftBatch>(self.queue_size.max(1));
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let obs = Arc::new(self.obs);
        let mut workers = Vec::new();
        for _ in 0..self.workers.max(1) {
            let (rx, id, next, obs, counters, drops) = (
                rx.clone(),
                id.clone(),
                next.clone(),
                obs.clone(),
                counters.clone(),
                drops.clone(),
            );
            let key = self.key;
            workers.push(tokio::spawn(async move {
                loop {
                    let batch = rx.lock().await.recv().await;
                    let Some(batch) = batch else { return };
                    let result = consume_thrift(
                        &id,
                        &next,
                        &obs,
                        &counters,
                        &batch,
                        RequestContext::default(),
                    )
                    .await;
                    if let Err(e) = result {
                        counters.dropped_packets.fetch_add(1, Ordering::Relaxed);
                        log_drop(&drops, &id, key, &e.to_string());
                    }
                }
            }));
        }
        // one byte more than the limit tells a packet that was cut
        let mut buf = vec![0u8; self.max_packet_size.saturating_add(1)];
        loop {
            let n = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = socket.recv_from(&mut buf) => match r {
                    Ok((n, _)) => n,
                    Err(e) => {
                        tracing::debug!(receiver = %id, error = %e, "UDP receive failed.");
                        continue;
                    }
                },
            };
            counters.calls.fetch_add(1, Ordering::Relaxed);
            let refused = |why: String| {
                counters.bad_requests.fetch_add(1, Ordering::Relaxed);
                log_drop(&drops, &id, self.key, &why);
            };
            if n > self.max_packet_size {
                refused(format!(
                    "a packet over max_packet_size ({} bytes)",
                    self.max_packet_size
                ));
                continue;
            }
            let batch = match thrift::decode_agent_packet(&buf[..n], self.protocol) {
                Ok(b) => b,
                Err(e) => {
                    refused(format!("a packet that does not decode: {e}"));
                    continue;
                }
            };
            if let Err(tokio::sync::mpsc::error::TrySendError::Full(batch)) = tx.try_send(batch) {
                let spans = batch.spans.len();
                counters.dropped_packets.fetch_add(1, Ordering::Relaxed);
                obs.record(
                    Signal::Traces,
                    spans,
                    &Err(pipeline_api::ConsumeError::retryable(
                        "the UDP queue is full",
                    )),
                );
                log_drop(&drops, &id, self.key, "the queue (queue_size) is full");
            }
        }
        // the packets already queued are handed on before the receiver stops
        drop(tx);
        for w in workers {
            let _ = w.await;
        }
    }
}

impl Handler {
    async fn post_spans(
        &self,
        req: tonic::Request<PostSpansRequest>,
        peer: SocketAddr,
    ) -> Result<tonic::Response<PostSpansResponse>, tonic::Status> {
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        let metadata: Vec<(String, String)> = if self.include_metadata {
            crate::http_server::header_metadata(&req.metadata().clone().into_headers())
        } else {
            Vec::new()
        };
        let batch = req.into_inner().batch.unwrap_or_default();
        let traces = exporters::jaeger::to_otlp::to_otlp(std::slice::from_ref(&batch));
        let batch = Batch::new(
            BatchData::Traces(traces),
            RequestContext {
                receiver: Some(self.id.clone()),
                metadata,
                client_address: Some(peer),
            },
        );
        let items = batch.items();
        if items == 0 {
            return Ok(tonic::Response::new(PostSpansResponse {}));
        }
        let result = self
            .obs
            .observe(Signal::Traces, items, "protobuf", self.next.consume(batch))
            .await;
        match result {
            Ok(()) => {
                self.counters
                    .accepted_spans
                    .fetch_add(items as u64, Ordering::Relaxed);
                Ok(tonic::Response::new(PostSpansResponse {}))
            }
            Err(e) if e.is_retryable() => Err(tonic::Status::unavailable(e.to_string())),
            Err(e) => Err(tonic::Status::invalid_argument(e.to_string())),
        }
    }
}

struct HttpPart {
    listener: crate::http_server::HttpListener,
    handler: Arc<HttpHandler>,
}

pub struct JaegerReceiver {
    grpc: Option<crate::grpc_unary::GrpcListener>,
    http: Option<HttpPart>,
    udp: Vec<UdpServer>,
    grpc_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    udp_addrs: Vec<(&'static str, SocketAddr)>,
    handler: Arc<Handler>,
}

impl JaegerReceiver {
    pub fn build(
        ctx: BuildContext,
        cfg: &Config,
        next: SignalConsumers,
    ) -> Result<JaegerReceiver, BuildError> {
        let next = next
            .traces
            .ok_or_else(|| BuildError::new("the jaeger receiver must be in a traces pipeline"))?;
        let p = &cfg.protocols;
        if cfg.remote_sampling.is_some() {
            return Err(BuildError::new(
                "remote_sampling: serving Jaeger sampling strategies is not supported by Ferrotel",
            ));
        }
        if p.grpc.is_none()
            && p.thrift_http.is_none()
            && p.thrift_binary.is_none()
            && p.thrift_compact.is_none()
        {
            return Err(BuildError::new(
                "must specify at least one protocol when using the Jaeger receiver",
            ));
        }
        let counters = Arc::new(Counters::default());
        let grpc = p
            .grpc
            .as_ref()
            .map(|g| {
                g.bind("protocols::grpc", &ctx.telemetry)?.guarded(
                    g.auth.as_ref(),
                    &ctx.extensions,
                    "protocols::grpc",
                )
            })
            .transpose()?;
        let grpc_addr = grpc.as_ref().map(|g| g.local_addr);
        let (mut http, mut http_addr) = (None, None);
        if let Some(h) = &p.thrift_http {
            let listener = h
                .bind("protocols::thrift_http")?
                .guarded(h.auth.as_ref(), &ctx.extensions, "protocols::thrift_http")?
                .traced(&ctx.telemetry, Some("/api/traces"));
            http_addr = Some(listener.local_addr);
            http = Some(HttpPart {
                listener,
                handler: Arc::new(HttpHandler {
                    id: ctx.id.clone(),
                    next: next.clone(),
                    obs: ctx.telemetry.receiver_obs("collector_http"),
                    counters: counters.clone(),
                    include_metadata: h.include_metadata,
                    max_body: h.max_body(),
                    body_limits: h.body_limits(),
                    over_limit: OverLimit::new(&ctx.telemetry, "collector_http"),
                    encodings: h.encodings(),
                }),
            });
        }
        let mut udp = Vec::new();
        let mut udp_addrs = Vec::new();
        for (key, u, default_endpoint, protocol, transport) in [
            (
                "thrift_binary",
                &p.thrift_binary,
                "localhost:6832",
                thrift::Protocol::Binary,
                "udp_thrift_binary",
            ),
            (
                "thrift_compact",
                &p.thrift_compact,
                "localhost:6831",
                thrift::Protocol::Compact,
                "udp_thrift_compact",
            ),
        ] {
            let Some(u) = u else { continue };
            let endpoint = if u.endpoint.is_empty() {
                default_endpoint
            } else {
                u.endpoint.as_str()
            };
            let socket =
                transport::net::bind_udp(endpoint, &format!("protocols::{key}::endpoint"))?;
            let addr = socket
                .local_addr()
                .map_err(|e| BuildError::new(format!("protocols::{key}::endpoint: {e}")))?;
            udp_addrs.push((key, addr));
            let or = |v: i64, default: usize| {
                usize::try_from(v)
                    .ok()
                    .filter(|v| *v > 0)
                    .unwrap_or(default)
            };
            udp.push(UdpServer {
                key,
                socket,
                protocol,
                queue_size: or(u.queue_size, DEFAULT_QUEUE_SIZE),
                max_packet_size: or(u.max_packet_size, DEFAULT_MAX_PACKET_SIZE),
                workers: or(u.workers, DEFAULT_WORKERS),
                obs: ctx.telemetry.receiver_obs(transport),
            });
        }
        Ok(JaegerReceiver {
            grpc,
            http,
            udp,
            grpc_addr,
            http_addr,
            udp_addrs,
            handler: Arc::new(Handler {
                id: ctx.id.clone(),
                next,
                include_metadata: p.grpc.as_ref().is_some_and(|g| g.include_metadata),
                obs: ctx.telemetry.receiver_obs("grpc"),
                counters,
            }),
        })
    }

    /// The gRPC listener's address (the first protocol's when gRPC is off).
    pub fn local_addr(&self) -> SocketAddr {
        self.grpc_addr
            .or(self.http_addr)
            .or(self.udp_addrs.first().map(|(_, a)| *a))
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The `thrift_http` listener's address.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The address of a UDP protocol (`thrift_binary`, `thrift_compact`).
    pub fn udp_addr(&self, key: &str) -> Option<SocketAddr> {
        self.udp_addrs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, a)| *a)
    }

    pub fn counters(&self) -> Arc<Counters> {
        self.handler.counters.clone()
    }
}

#[async_trait]
impl Receiver for JaegerReceiver {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        let JaegerReceiver {
            grpc,
            http,
            udp,
            handler,
            ..
        } = *self;
        let mut tasks = Vec::new();
        if let Some(g) = grpc {
            let handler = handler.clone();
            tasks.push(tokio::spawn(crate::grpc_unary::serve_unary(
                g,
                POST_SPANS_PATH,
                move |r: tonic::Request<PostSpansRequest>, peer| {
                    let handler = handler.clone();
                    async move { handler.post_spans(r, peer).await }
                },
                shutdown.clone(),
                "jaeger",
            )));
        }
        if let Some(HttpPart { listener, handler }) = http {
            tasks.push(tokio::spawn(crate::http_server::serve_http(
                listener,
                move |req, peer| {
                    let handler = handler.clone();
                    async move { handler.handle(req, peer).await }
                },
                shutdown.clone(),
                "jaeger",
            )));
        }
        for u in udp {
            tasks.push(tokio::spawn(u.run(
                handler.id.clone(),
                handler.next.clone(),
                handler.counters.clone(),
                shutdown.clone(),
            )));
        }
        for t in tasks {
            let _ = t.await;
        }
        Ok(())
    }
}
