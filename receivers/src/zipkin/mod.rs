//! `zipkin` receiver: Zipkin v2 spans over HTTP (`POST /api/v2/spans`, JSON or protobuf),
//! as Go's `receiver/zipkinreceiver`, translated to OTLP by `exporters::zipkin::translate`;
//! Zipkin v1 (`/api/v1/spans`, JSON or Thrift) translated by [`v1`].
//!
//! Go facts relied on (`factory.go`, `config.go`, `trace_receiver.go`):
//! - the config squashes `confighttp.ServerConfig` (default endpoint `localhost:9411`) and
//!   adds `parse_string_tags` (false);
//! - a path containing `api/v1/spans` is Zipkin v1, anything else v2; `Content-Type:
//!   application/x-protobuf` selects protobuf (with `X-B3-Flags: 1` every span is debug),
//!   anything else JSON; `Content-Encoding: gzip`, `deflate` or `zlib` is decompressed;
//! - a body that does not decode is 400 with the error text; a refusal by the next consumer
//!   is 500 `"Internal Server Error"`; success is 202 Accepted;
//! - the items are counted with the transports `http_v2_json`, `http_v2_proto`,
//!   `http_v1_json`, `http_v1_thrift`.
//!
//! A v1 request is Thrift when its `Content-Type` is `application/x-thrift`, else JSON. A
//! body over `max_request_body_size` (20 MiB) is 413.

#[cfg(test)]
mod tests;
pub mod v1;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use http_body_util::Full;

use crate::limits::{read_body, BodyError, BodyLimits, OverLimit};
use hyper::body::Incoming;
use pipeline_api::config::{ConfigError, Validate};
use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{
    async_trait, Batch, BuildContext, BuildError, CancellationToken, ComponentConfig, ComponentId,
    Receiver, ReceiverFactory, RequestContext, SharedConsumer, Signal, SignalConsumers,
};
use pipeline_api::{declare, Meta, Stability};
use serde::Deserialize;

use exporters::zipkin::{model, translate};

use crate::http_server::{reply, HttpListener, HttpServerConfig};
use crate::otlp::compression::{decompress, DecompressError};

pub const META: Meta = Meta::new("zipkin").traces(Stability::Beta);

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<Config>(META, |ctx, cfg, next| {
        Ok(Box::new(ZipkinReceiver::build(ctx, cfg, next)?))
    })
}

#[derive(Debug, Clone)]
pub struct ZipkinPort;

impl crate::grpc_unary::DefaultPort for ZipkinPort {
    const PORT: u16 = 9411;
}

/// `receivers: zipkin:`: `confighttp.ServerConfig`'s keys (squashed, default endpoint
/// `localhost:9411`) and `parse_string_tags`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct Config {
    #[serde(skip)]
    pub http: HttpServerConfig<ZipkinPort>,
    /// Tags that look like numbers or booleans become typed attributes.
    pub parse_string_tags: bool,
}

pipeline_api::squashed!(Config, http);

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        self.http.validate(&[], &mut errors);
        errors
    }
}

impl ComponentConfig for Config {
    fn listen_addresses(&self) -> Vec<(String, String)> {
        vec![("endpoint".into(), self.http.endpoint.clone())]
    }

    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.http.cors.is_some() {
            out.push((
                "cors".into(),
                "the Zipkin API is not served to browsers".into(),
            ));
        }
        out
    }
}

/// What the receiver counted.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub bad_requests: AtomicU64,
    pub accepted_spans: AtomicU64,
}

struct Handler {
    id: ComponentId,
    next: SharedConsumer,
    parse_string_tags: bool,
    max_body: usize,
    body_limits: BodyLimits,
    over_limit: OverLimit,
    encodings: Vec<String>,
    include_metadata: bool,
    obs_v2_json: ReceiverObs,
    obs_v2_proto: ReceiverObs,
    obs_v1_json: ReceiverObs,
    obs_v1_thrift: ReceiverObs,
    counters: Arc<Counters>,
}

impl Handler {
    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let v1 = req.uri().path().contains("api/v1/spans");
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
        let debug = header("x-b3-flags") == "1";
        let proto = content_type == "application/x-protobuf";
        let obs = match (v1, proto, content_type == "application/x-thrift") {
            (true, _, true) => &self.obs_v1_thrift,
            (true, _, false) => &self.obs_v1_json,
            (false, true, _) => &self.obs_v2_proto,
            (false, false, _) => &self.obs_v2_json,
        };
        let metadata = if self.include_metadata {
            crate::http_server::header_metadata(req.headers())
        } else {
            Vec::new()
        };
        let body = match read_body(req.into_body(), self.body_limits).await {
            Ok(b) => b,
            Err(e) => {
                self.counters.bad_requests.fetch_add(1, Ordering::Relaxed);
                self.over_limit.count_body(&e);
                return match e {
                    BodyError::TooLarge => reply(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "http: request body too large",
                    ),
                    BodyError::Timeout => reply(
                        StatusCode::REQUEST_TIMEOUT,
                        "timed out reading the request body",
                    ),
                    BodyError::Read(e) => {
                        reply(StatusCode::BAD_REQUEST, format!("failed to read body: {e}"))
                    }
                };
            }
        };
        // Go leaves a body that does not decompress as it is.
        let body = match decompress(&encoding, &body, &self.encodings, self.max_body) {
            Ok(Some(d)) => Bytes::from(d),
            Ok(None) => body,
            Err(DecompressError::TooLarge) => {
                self.counters.bad_requests.fetch_add(1, Ordering::Relaxed);
                return reply(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "http: request body too large",
                );
            }
            Err(_) => body,
        };
        let traces = if v1 {
            if content_type == "application/x-thrift" {
                v1::from_thrift(&body)
            } else {
                v1::from_json(&body, self.parse_string_tags)
            }
        } else {
            let decoded = if proto {
                model::from_proto(&body, debug)
            } else {
                model::from_json(&body)
            };
            decoded.and_then(|spans| translate::to_otlp(spans, self.parse_string_tags))
        };
        let traces = match traces {
            Ok(t) => t,
            Err(e) => {
                self.counters.bad_requests.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(receiver = %self.id, error = %e, "Refused a Zipkin request.");
                return reply(StatusCode::BAD_REQUEST, e);
            }
        };
        let batch = Batch::new(
            pipeline_api::BatchData::Traces(traces),
            RequestContext {
                receiver: Some(self.id.clone()),
                metadata: metadata.into_iter().collect(),
                ..Default::default()
            },
        );
        let items = batch.items();
        let format = if v1 { "zipkinV1" } else { "zipkinV2" };
        let result = obs
            .observe(Signal::Traces, items, format, self.next.consume(batch))
            .await;
        match result {
            Ok(()) => {
                self.counters
                    .accepted_spans
                    .fetch_add(items as u64, Ordering::Relaxed);
                // Go writes the status alone: no body, no content type
                let mut r = http::Response::new(http_body_util::Full::new(Bytes::new()));
                *r.status_mut() = StatusCode::ACCEPTED;
                r
            }
            Err(_) => reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "\"Internal Server Error\"",
            ),
        }
    }
}

pub struct ZipkinReceiver {
    listener: HttpListener,
    handler: Arc<Handler>,
}

impl ZipkinReceiver {
    pub fn build(
        ctx: BuildContext,
        cfg: &Config,
        next: SignalConsumers,
    ) -> Result<ZipkinReceiver, BuildError> {
        let next = next
            .traces
            .ok_or_else(|| BuildError::new("the zipkin receiver must be in a traces pipeline"))?;
        let h = &cfg.http;
        // Go's handler has no route: its server spans are `POST`
        let listener = h
            .bind("")?
            .guarded(h.auth.as_ref(), &ctx.extensions, "")?
            .traced(&ctx.telemetry, None);
        Ok(ZipkinReceiver {
            listener,
            handler: Arc::new(Handler {
                id: ctx.id.clone(),
                next,
                parse_string_tags: cfg.parse_string_tags,
                max_body: h.max_body(),
                body_limits: h.body_limits(),
                over_limit: OverLimit::new(&ctx.telemetry, "http"),
                encodings: h.encodings(),
                include_metadata: h.include_metadata,
                obs_v2_json: ctx.telemetry.receiver_obs("http_v2_json"),
                obs_v2_proto: ctx.telemetry.receiver_obs("http_v2_proto"),
                obs_v1_json: ctx.telemetry.receiver_obs("http_v1_json"),
                obs_v1_thrift: ctx.telemetry.receiver_obs("http_v1_thrift"),
                counters: Arc::new(Counters::default()),
            }),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr
    }

    pub fn counters(&self) -> Arc<Counters> {
        self.handler.counters.clone()
    }
}

#[async_trait]
impl Receiver for ZipkinReceiver {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        let ZipkinReceiver { listener, handler } = *self;
        crate::http_server::serve_http(
            listener,
            move |req, _peer| {
                let handler = handler.clone();
                async move { handler.handle(req).await }
            },
            shutdown,
            "zipkin",
        )
        .await;
        Ok(())
    }
}
