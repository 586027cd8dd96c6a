//! OTLP/HTTP: `POST` of protobuf or JSON export requests on the three signal paths.
//!
//! Go `receiver/otlpreceiver/otlphttp.go` and `config/confighttp`:
//! - a path with no handler (unknown, or a signal with no consumer) is Go's mux 404,
//!   `404 page not found`;
//! - another method is 405 `405 method not allowed, supported: [POST]` (text/plain);
//! - a `Content-Type` other than `application/x-protobuf` or `application/json` (parameters
//!   such as `charset` allowed, Go `mime.ParseMediaType`) is 415;
//! - a body that cannot be read, decompressed or decoded is 400 with a `google.rpc.Status`
//!   in the request's encoding; a downstream refusal uses the code mapping in
//!   [`super::errors`], with `Retry-After` when throttled;
//! - success is 200 with an empty export response in the request's encoding.
//!
//! A body over `max_request_body_size`, as sent or decompressed, is 413 (Go reads through
//! `http.MaxBytesReader` and answers 400 with `http: request body too large`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ALLOW, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto::Builder;
use pipeline_api::{
    Batch, BuildContext, BuildError, CancellationToken, RequestContext, Signal, SignalConsumers,
};
use prost::Message;

use super::compression::{decompress, DecompressError};
use super::config::{CorsConfig, HttpConfig};
use super::errors::Refusal;
use super::server::{serve, PeerInfo};
use super::{bind, json, metadata_from_headers, sinks, SignalSink};
use crate::limits::{read_body, BodyError, BodyLimits, Limit, OverLimit};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// The request's body encoding, which is also the response's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => PROTOBUF,
            Encoding::Json => JSON,
        }
    }

    /// From a `Content-Type` header: the media type, without parameters, case-insensitive.
    fn from_content_type(value: Option<&HeaderValue>) -> Option<Encoding> {
        let v = value?.to_str().ok()?;
        let media = v
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            PROTOBUF => Some(Encoding::Protobuf),
            JSON => Some(Encoding::Json),
            _ => None,
        }
    }
}

pub(super) struct HttpServer {
    pub(super) local_addr: SocketAddr,
    endpoint: String,
    listener: std::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handler: Arc<Handler>,
    builder: Builder<TokioExecutor>,
    first_bytes: Option<Duration>,
}

pub(super) struct RunningHttp {
    local_addr: SocketAddr,
    endpoint: String,
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handler: Arc<Handler>,
    builder: Builder<TokioExecutor>,
    first_bytes: Option<Duration>,
}

impl HttpServer {
    pub(super) fn build(
        ctx: &BuildContext,
        cfg: &HttpConfig,
        next: &SignalConsumers,
    ) -> Result<HttpServer, BuildError> {
        let auth = (cfg.auth.as_ref())
            .map(|a| {
                pipeline_api::auth::Guard::new(
                    &ctx.extensions,
                    &a.authenticator,
                    &a.request_params,
                    "protocols::http::auth",
                )
            })
            .transpose()?;
        let tls = match &cfg.tls {
            Some(t) => Some(transport::tls::server_acceptor(
                t,
                &[b"h2", b"http/1.1"],
                "protocols::http::tls",
            )?),
            None => None,
        };
        let mut response_headers = Vec::new();
        for (k, v) in &cfg.response_headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| {
                BuildError::new(format!("protocols::http::response_headers: {k:?}: {e}"))
            })?;
            let value = HeaderValue::from_str(v).map_err(|e| {
                BuildError::new(format!("protocols::http::response_headers::{k}: {e}"))
            })?;
            response_headers.push((name, value));
        }
        if let Some(cors) = &cfg.cors {
            if cors.allowed_origins.is_empty() && !cors.allowed_headers.is_empty() {
                // Go confighttp logs the same.
                tracing::warn!("The CORS configuration specifies allowed headers but no allowed origins, and is therefore ignored.");
            }
        }
        let listener = bind(&cfg.endpoint, "protocols::http::endpoint")?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| BuildError::new(format!("protocols::http::endpoint: {e}")))?;

        let obs = ctx.telemetry.receiver_obs("http");
        let mut routes = Vec::new();
        for sink in sinks(&ctx.id, next, &obs) {
            let path = match sink.signal {
                Signal::Traces => cfg.traces_path(),
                Signal::Metrics => cfg.metrics_path(),
                Signal::Logs => cfg.logs_path(),
            };
            routes.push((path, sink));
        }
        let handler = Arc::new(Handler {
            routes,
            max_body: cfg.max_body(),
            body_limits: BodyLimits::new(
                cfg.max_request_body_size,
                cfg.read_timeout,
                cfg.read_header_timeout,
            ),
            over_limit: OverLimit::new(&ctx.telemetry, "http"),
            encodings: cfg.compression_algorithms().into(),
            include_metadata: cfg.include_metadata,
            cors: cfg.cors.clone().filter(|c| !c.allowed_origins.is_empty()),
            response_headers,
            tracer: transport::spans::http_tracer(&ctx.telemetry),
            tls: tls.is_some(),
            auth,
        });

        let header_timeout = Some(cfg.read_header_timeout.get()).filter(|d| !d.is_zero());
        let builder = transport::limits::http_builder(cfg.keep_alives_enabled, header_timeout);

        Ok(HttpServer {
            local_addr,
            endpoint: cfg.endpoint.clone(),
            listener,
            tls,
            handler,
            builder,
            first_bytes: header_timeout,
        })
    }

    pub(super) fn into_running(self) -> Result<RunningHttp, BuildError> {
        let HttpServer {
            local_addr,
            endpoint,
            listener,
            tls,
            handler,
            builder,
            first_bytes,
        } = self;
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| BuildError::new(format!("protocols::http::endpoint: {e}")))?;
        Ok(RunningHttp {
            local_addr,
            endpoint,
            listener,
            tls,
            handler,
            builder,
            first_bytes,
        })
    }
}

impl RunningHttp {
    pub(super) async fn serve(self, shutdown: CancellationToken) {
        let RunningHttp {
            local_addr,
            endpoint,
            listener,
            tls,
            handler,
            builder,
            first_bytes,
        } = self;
        tracing::info!(endpoint = %endpoint, address = %local_addr, "Starting HTTP server");
        let make = move |peer: PeerInfo| {
            let handler = handler.clone();
            hyper::service::service_fn(move |req: Request<Incoming>| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler.handle(req, peer).await) }
            })
        };
        serve(listener, tls, builder, make, shutdown, "http", first_bytes).await;
    }
}

struct Handler {
    routes: Vec<(String, SignalSink)>,
    max_body: usize,
    encodings: Arc<[String]>,
    include_metadata: bool,
    cors: Option<CorsConfig>,
    response_headers: Vec<(HeaderName, HeaderValue)>,
    body_limits: BodyLimits,
    over_limit: OverLimit,
    /// The server spans of own traces.
    tracer: pipeline_api::own_spans::Tracer,
    tls: bool,
    /// The server authenticator every request must pass, and the query parameters it also
    /// reads (`auth::request_params`).
    auth: Option<pipeline_api::auth::Guard>,
}

type Resp = Response<Full<Bytes>>;

/// A text answer. Go writes `text/plain` for 405 and 415 (`otlphttp.go writeResponse`) and
/// `text/plain; charset=utf-8` for its mux's 404 (`http.Error`).
fn plain(status: StatusCode, text: &str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(text.to_string())));
    *r.status_mut() = status;
    let ct = if status == StatusCode::NOT_FOUND {
        "text/plain; charset=utf-8"
    } else {
        "text/plain"
    };
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    r
}

/// A `google.rpc.Status` body in the request's encoding (Go `writeStatusResponse`).
fn refusal(enc: Encoding, r: &Refusal) -> Resp {
    let body = match enc {
        Encoding::Protobuf => r.rpc_status().encode_to_vec(),
        Encoding::Json => r.rpc_status_json(),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = r.http_status();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(enc.content_type()));
    if let Some(secs) = r.retry_after_header() {
        if let Ok(v) = HeaderValue::from_str(&secs) {
            resp.headers_mut().insert(RETRY_AFTER, v);
        }
    }
    resp
}

fn too_large(enc: Encoding, limit: usize) -> Resp {
    let r = Refusal::bad_data(format!(
        "request body too large: the limit (max_request_body_size) is {limit} bytes"
    ));
    let mut resp = refusal(enc, &r);
    *resp.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    resp
}

impl Handler {
    /// One request, inside its server span when the collector traces itself.
    async fn handle(&self, req: Request<Incoming>, peer: PeerInfo) -> Resp {
        let route = self
            .routes
            .iter()
            .find(|(p, _)| p == req.uri().path())
            .map(|(p, _)| p.as_str());
        let Some(span) =
            transport::spans::start_http(&self.tracer, &req, peer.addr, self.tls, route)
        else {
            return self.answer(req, peer, &AtomicU64::new(0)).await;
        };
        let read = AtomicU64::new(0);
        let resp =
            pipeline_api::own_spans::in_span(Some(span.current()), self.answer(req, peer, &read))
                .await;
        let written = hyper::body::Body::size_hint(resp.body())
            .exact()
            .unwrap_or(0);
        transport::spans::end_http(
            span,
            resp.status().as_u16(),
            read.load(Ordering::Relaxed),
            written,
        );
        resp
    }

    async fn answer(&self, req: Request<Incoming>, peer: PeerInfo, read: &AtomicU64) -> Resp {
        let origin = req.headers().get(http::header::ORIGIN).cloned();
        let mut resp = match (&self.cors, &origin) {
            (Some(cors), Some(origin)) if is_preflight(&req) => {
                let mut resp = preflight(cors, origin, req.headers());
                self.add_response_headers(&mut resp);
                return resp;
            }
            _ => match self.unauthenticated(&req) {
                Some(resp) => resp,
                None => self.route(req, peer, read).await,
            },
        };
        if let (Some(cors), Some(origin)) = (&self.cors, &origin) {
            if origin_allowed(cors, origin) {
                let h = resp.headers_mut();
                h.insert("access-control-allow-origin", origin.clone());
                h.insert(
                    "access-control-allow-credentials",
                    HeaderValue::from_static("true"),
                );
                h.append(http::header::VARY, HeaderValue::from_static("Origin"));
            }
        }
        self.add_response_headers(&mut resp);
        resp
    }

    /// The answer to a request the server authenticator refuses (Go confighttp's auth
    /// interceptor, before the routes, with the OTLP receiver's error handler: a
    /// `google.rpc.Status` of `UNAUTHENTICATED` in the request's encoding, JSON when it names
    /// none, and Go's 500 fallback for any other).
    fn unauthenticated(&self, req: &Request<Incoming>) -> Option<Resp> {
        let message = (self.auth.as_ref()?)
            .check(req.headers(), req.uri().query())
            .err()?;
        let content_type = req.headers().get(CONTENT_TYPE);
        let enc = match content_type {
            None => Some(Encoding::Json),
            Some(_) => Encoding::from_content_type(content_type),
        };
        Some(match enc {
            Some(enc) => refusal(enc, &Refusal::new(tonic::Code::Unauthenticated, message)),
            None => {
                let mut r = Response::new(Full::new(Bytes::from_static(
                    br#"{"code": 13, "message": "failed to marshal error message"}"#,
                )));
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
                r
            }
        })
    }

    fn add_response_headers(&self, resp: &mut Resp) {
        for (k, v) in &self.response_headers {
            resp.headers_mut().insert(k.clone(), v.clone());
        }
    }

    async fn route(&self, req: Request<Incoming>, peer: PeerInfo, read: &AtomicU64) -> Resp {
        let Some((_, sink)) = self.routes.iter().find(|(p, _)| p == req.uri().path()) else {
            // Go's http.ServeMux NotFound.
            return plain(StatusCode::NOT_FOUND, "404 page not found\n");
        };
        if req.method() != Method::POST {
            let mut r = plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "405 method not allowed, supported: [POST]",
            );
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("POST"));
            return r;
        }
        let Some(enc) = Encoding::from_content_type(req.headers().get(CONTENT_TYPE)) else {
            return plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!("415 unsupported media type, supported: [{JSON}, {PROTOBUF}]"),
            );
        };
        let encoding = req
            .headers()
            .get(CONTENT_ENCODING)
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        if !encoding.is_empty() && encoding != "identity" && !self.encodings.contains(&encoding) {
            return refusal(
                enc,
                &Refusal::bad_data(format!("unsupported Content-Encoding: {encoding}")),
            );
        }
        let metadata = if self.include_metadata {
            metadata_from_headers(req.headers(), req.uri().authority().map(|a| a.as_str()))
        } else {
            Vec::new()
        };
        let body = match read_body(req.into_body(), self.body_limits).await {
            Ok(b) => {
                read.store(b.len() as u64, Ordering::Relaxed);
                b
            }
            Err(BodyError::TooLarge) => {
                self.over_limit.count(Limit::MaxRequestBodySize);
                return too_large(enc, self.max_body);
            }
            Err(BodyError::Timeout) => {
                self.over_limit.count(Limit::ReadTimeout);
                let mut r = refusal(
                    enc,
                    &Refusal::bad_data("timed out reading the request body"),
                );
                *r.status_mut() = StatusCode::REQUEST_TIMEOUT;
                return r;
            }
            Err(BodyError::Read(e)) => {
                return refusal(
                    enc,
                    &Refusal::bad_data(format!("failed to read the request body: {e}")),
                )
            }
        };
        let (signal, encodings, limit) = (sink.signal, self.encodings.clone(), self.max_body);
        let unpacked = if body.len() <= INLINE_DECODE_LIMIT {
            unpack(signal, enc, &encoding, body, &encodings, limit)
        } else {
            // Inflating and decoding megabytes takes milliseconds: keep it off the reactor.
            let work = tokio::task::spawn_blocking(move || {
                unpack(signal, enc, &encoding, body, &encodings, limit)
            });
            match work.await {
                Ok(r) => r,
                Err(e) => Err(Unpack::Bad(format!("decoding failed: {e}"))),
            }
        };
        let batch = match unpacked {
            Ok(b) => b,
            Err(Unpack::TooLarge) => {
                self.over_limit.count(Limit::MaxRequestBodySize);
                return too_large(enc, self.max_body);
            }
            Err(Unpack::Bad(m)) => {
                tracing::debug!(receiver = %sink.receiver, signal = %sink.signal, error = %m, "Refused an OTLP/HTTP request.");
                return refusal(enc, &Refusal::bad_data(m));
            }
        };
        let context = sink.context(metadata, Some(peer.addr));
        match sink.export(batch, context).await {
            Ok(()) => {
                // An Export*ServiceResponse with an empty partial success, as Go answers.
                let body = match enc {
                    Encoding::Protobuf => Bytes::from_static(json::EMPTY_RESPONSE_PROTO),
                    Encoding::Json => Bytes::from_static(json::EMPTY_RESPONSE),
                };
                let mut r = Response::new(Full::new(body));
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(enc.content_type()));
                r
            }
            Err(r) => refusal(enc, &r),
        }
    }
}

/// Bodies up to this size are decompressed and decoded on the request's task.
const INLINE_DECODE_LIMIT: usize = 64 * 1024;

enum Unpack {
    TooLarge,
    Bad(String),
}

/// Decompress (bounded) and decode a request body.
fn unpack(
    signal: Signal,
    enc: Encoding,
    encoding: &str,
    body: Bytes,
    encodings: &[String],
    limit: usize,
) -> Result<Batch, Unpack> {
    let body = match decompress(encoding, &body, encodings, limit) {
        Ok(Some(plain)) => Bytes::from(plain),
        Ok(None) => body,
        Err(DecompressError::TooLarge) => return Err(Unpack::TooLarge),
        Err(DecompressError::Unsupported(m)) | Err(DecompressError::Corrupt(m)) => {
            return Err(Unpack::Bad(m))
        }
    };
    decode(signal, enc, body).map_err(Unpack::Bad)
}

/// Protobuf stays as received (checked and counted by [`Batch::from_wire`]); JSON is
/// written into protobuf where it can be ([`json::decode_batch`]), else decoded into structs.
fn decode(signal: Signal, enc: Encoding, body: Bytes) -> Result<Batch, String> {
    match enc {
        Encoding::Json => json::decode_batch(signal, &body),
        Encoding::Protobuf => Batch::from_wire(signal, body, RequestContext::default())
            .map_err(|e| format!("invalid OTLP/protobuf {signal} request: {e}")),
    }
}

fn is_preflight(req: &Request<Incoming>) -> bool {
    req.method() == Method::OPTIONS && req.headers().contains_key("access-control-request-method")
}

/// Go's confighttp uses github.com/rs/cors: an origin matches an entry exactly
/// (case-insensitively), `*` matches any origin, and one `*` inside an entry matches any run
/// of characters.
fn origin_allowed(cors: &CorsConfig, origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.to_ascii_lowercase();
    cors.allowed_origins.iter().any(|allowed| {
        let allowed = allowed.to_ascii_lowercase();
        if allowed == "*" {
            return true;
        }
        match allowed.split_once('*') {
            Some((prefix, suffix)) => {
                origin.len() >= prefix.len() + suffix.len()
                    && origin.starts_with(prefix)
                    && origin.ends_with(suffix)
            }
            None => allowed == origin,
        }
    })
}

/// Answer a CORS preflight (rs/cors: 204; the allow headers only when the origin, method
/// and headers are allowed; credentials allowed, so the origin is echoed).
fn preflight(cors: &CorsConfig, origin: &HeaderValue, headers: &HeaderMap) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    let h = r.headers_mut();
    h.append(http::header::VARY, HeaderValue::from_static("Origin"));
    h.append(
        http::header::VARY,
        HeaderValue::from_static("Access-Control-Request-Method"),
    );
    h.append(
        http::header::VARY,
        HeaderValue::from_static("Access-Control-Request-Headers"),
    );
    if !origin_allowed(cors, origin) {
        return r;
    }
    let method = headers
        .get("access-control-request-method")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_uppercase();
    // rs/cors's default allowed methods.
    if !matches!(method.as_str(), "GET" | "POST" | "HEAD") {
        return r;
    }
    let requested: Vec<String> = headers
        .get_all("access-control-request-headers")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let any = cors.allowed_headers.iter().any(|a| a == "*");
    let mut allowed: Vec<String> = cors
        .allowed_headers
        .iter()
        .map(|a| a.to_ascii_lowercase())
        .collect();
    // Always allowed by rs/cors (the CORS-safelisted headers, and Origin); X-Requested-With
    // when no headers are configured.
    allowed.extend(
        [
            "accept",
            "accept-language",
            "content-type",
            "content-language",
            "origin",
        ]
        .map(String::from),
    );
    if cors.allowed_headers.is_empty() {
        allowed.push("x-requested-with".into());
    }
    if !any && !requested.iter().all(|h| allowed.contains(h)) {
        return r;
    }
    h.insert("access-control-allow-origin", origin.clone());
    if let Ok(v) = HeaderValue::from_str(&method) {
        h.insert("access-control-allow-methods", v);
    }
    if !requested.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&requested.join(", ")) {
            h.insert("access-control-allow-headers", v);
        }
    }
    h.insert(
        "access-control-allow-credentials",
        HeaderValue::from_static("true"),
    );
    if cors.max_age > 0 {
        h.insert("access-control-max-age", HeaderValue::from(cors.max_age));
    }
    r
}
