//! An HTTP server for receivers of foreign push APIs (Jaeger's `thrift_http`, Loki's push
//! API): Go's `confighttp.ServerConfig` keys with the receiver's default port, binding at
//! build, and the serving loop.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use pipeline_api::config::{ConfigError, ConfigValue, GoDuration};
use pipeline_api::{BuildError, CancellationToken};
use serde::Deserialize;
use tokio_rustls::TlsAcceptor;
use transport::tls::TlsServerConfig;

use crate::grpc_unary::DefaultPort;
use crate::otlp::server::serve;

/// A request's headers as client metadata (`include_metadata`): name and value, the headers
/// whose value is not text left out.
pub fn header_metadata(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

/// A plain-text answer (Go's `http.Error` and bare status replies).
pub fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Go confighttp's default `max_request_body_size`.
pub const DEFAULT_MAX_BODY: i64 = 20 * 1024 * 1024;

/// `protocols::http` (Go `confighttp.ServerConfig`) with `localhost:<P::PORT>` as the default
/// endpoint: `endpoint`, `tls`, `max_request_body_size`, `include_metadata`,
/// `keep_alives_enabled` and `read_header_timeout` are served (the receiver reads
/// `compression_algorithms`); the other keys are accepted; `auth` and `middlewares` refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, bound = "")]
pub struct HttpServerConfig<P: DefaultPort> {
    pub endpoint: String,
    pub tls: Option<TlsServerConfig>,
    pub max_request_body_size: i64,
    pub include_metadata: bool,
    pub response_headers: BTreeMap<String, String>,
    pub compression_algorithms: Option<Vec<String>>,
    pub read_timeout: GoDuration,
    pub read_header_timeout: GoDuration,
    pub write_timeout: GoDuration,
    pub idle_timeout: GoDuration,
    pub keep_alives_enabled: bool,
    pub cors: Option<ConfigValue>,
    pub auth: Option<pipeline_api::auth::HttpServerAuthConfig>,
    pub middlewares: Vec<ConfigValue>,
    #[serde(skip)]
    pub port: PhantomData<P>,
}

impl<P: DefaultPort> Default for HttpServerConfig<P> {
    fn default() -> Self {
        HttpServerConfig {
            endpoint: format!("localhost:{}", P::PORT),
            tls: None,
            max_request_body_size: DEFAULT_MAX_BODY,
            include_metadata: false,
            response_headers: BTreeMap::new(),
            compression_algorithms: None,
            read_timeout: GoDuration::default(),
            read_header_timeout: GoDuration::from_secs(60),
            write_timeout: GoDuration::from_secs(30),
            idle_timeout: GoDuration::from_secs(60),
            keep_alives_enabled: true,
            cors: None,
            auth: None,
            middlewares: Vec::new(),
            port: PhantomData,
        }
    }
}

impl<P: DefaultPort> HttpServerConfig<P> {
    /// The checks of the section, with `path` leading to it.
    pub fn validate(&self, path: &[&'static str], errors: &mut Vec<ConfigError>) {
        let at = |key: &'static str| -> Vec<&str> {
            let mut p = path.to_vec();
            p.push(key);
            p
        };
        if let Err(e) = transport::net::check_endpoint(&self.endpoint, P::PORT) {
            errors.push(ConfigError::new(&at("endpoint"), e));
        }
        if let Some(tls) = &self.tls {
            transport::tls::check_server(tls, &at("tls"), errors);
        }
        if !self.middlewares.is_empty() {
            errors.push(ConfigError::new(
                &at("middlewares"),
                "middleware extensions are not supported by Ferrotel yet",
            ));
        }
    }

    /// The body limit in bytes (20 MiB when not positive).
    pub fn max_body(&self) -> usize {
        let max = if self.max_request_body_size <= 0 {
            DEFAULT_MAX_BODY
        } else {
            self.max_request_body_size
        };
        usize::try_from(max).unwrap_or(usize::MAX)
    }

    /// What bounds reading a request body: `max_request_body_size`, `read_timeout`, and
    /// `read_header_timeout` as the longest pause inside a body.
    pub fn body_limits(&self) -> crate::limits::BodyLimits {
        crate::limits::BodyLimits::new(
            self.max_request_body_size,
            self.read_timeout,
            self.read_header_timeout,
        )
    }

    /// The `Content-Encoding`s a request may have: `compression_algorithms`, or confighttp's
    /// default list (an empty one: identity).
    pub fn encodings(&self) -> Vec<String> {
        match &self.compression_algorithms {
            Some(l) => l.iter().map(|s| s.trim().to_ascii_lowercase()).collect(),
            None => ["gzip", "zlib", "deflate", "zstd", "snappy", "lz4", ""]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    /// Bind the listener (and load TLS) at build; `what` names the section in errors (empty
    /// for a receiver whose config squashes these keys at its top).
    pub fn bind(&self, what: &str) -> Result<HttpListener, BuildError> {
        let key = |k: &str| {
            if what.is_empty() {
                k.to_string()
            } else {
                format!("{what}::{k}")
            }
        };
        let tls = match &self.tls {
            Some(t) => Some(transport::tls::server_acceptor(
                t,
                &[b"h2", b"http/1.1"],
                &key("tls"),
            )?),
            None => None,
        };
        let listener = transport::net::bind_tcp(&self.endpoint, &key("endpoint"))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| BuildError::new(format!("{}: {e}", key("endpoint"))))?;
        Ok(HttpListener {
            listener,
            local_addr,
            tls,
            keep_alive: self.keep_alives_enabled,
            read_header_timeout: Some(self.read_header_timeout.get()).filter(|d| !d.is_zero()),
            spans: None,
            guard: None,
        })
    }
}

/// The key path of a server section's `auth` (`what` leads to the section; empty: the
/// receiver's top level).
pub fn auth_key(what: &str) -> String {
    if what.is_empty() {
        "auth".to_string()
    } else {
        format!("{what}::auth")
    }
}

/// A bound HTTP listener, ready to serve.
pub struct HttpListener {
    listener: TcpListener,
    pub local_addr: SocketAddr,
    tls: Option<TlsAcceptor>,
    keep_alive: bool,
    read_header_timeout: Option<Duration>,
    /// The own traces' server span of each request, and the route the handler serves
    /// (the span is `<METHOD> <route>` when the path is that route).
    spans: Option<(pipeline_api::own_spans::Tracer, Option<&'static str>)>,
    /// The server authenticator every request must pass (`auth`).
    guard: Option<pipeline_api::auth::Guard>,
}

impl HttpListener {
    /// Check every request with the `auth` section's authenticator (Go confighttp's auth
    /// interceptor, before the handler; a refusal is Go's `http.Error` with 401).
    pub fn guarded(
        mut self,
        auth: Option<&pipeline_api::auth::HttpServerAuthConfig>,
        extensions: &pipeline_api::auth::Extensions,
        what: &str,
    ) -> Result<HttpListener, BuildError> {
        self.guard = auth
            .map(|a| {
                let key = auth_key(what);
                pipeline_api::auth::Guard::new(
                    extensions,
                    &a.authenticator,
                    &a.request_params,
                    &key,
                )
            })
            .transpose()?;
        Ok(self)
    }

    /// Make the HTTP server span of every request when the collector traces itself, as
    /// Go's confighttp server does.
    pub fn traced(
        mut self,
        telemetry: &pipeline_api::telemetry::ComponentTelemetry,
        route: Option<&'static str>,
    ) -> HttpListener {
        self.spans = Some((transport::spans::http_tracer(telemetry), route));
        self
    }
}

/// Answer one request with `handle`, inside its server span when `spans` is set and the
/// collector traces itself (the body is read by the handler: its declared length is the
/// size the span reports as read).
pub async fn traced<F, Fut>(
    spans: Option<&(pipeline_api::own_spans::Tracer, Option<&'static str>)>,
    req: Request<Incoming>,
    peer: SocketAddr,
    is_tls: bool,
    handle: F,
) -> Response<Full<Bytes>>
where
    F: FnOnce(Request<Incoming>) -> Fut,
    Fut: Future<Output = Response<Full<Bytes>>>,
{
    let span = spans.and_then(|(tracer, route)| {
        let route = route.filter(|r| req.uri().path() == *r);
        transport::spans::start_http(tracer, &req, peer, is_tls, route)
    });
    let Some(span) = span else {
        return handle(req).await;
    };
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let resp = pipeline_api::own_spans::in_span(Some(span.current()), handle(req)).await;
    let written = hyper::body::Body::size_hint(resp.body())
        .exact()
        .unwrap_or(0);
    transport::spans::end_http(span, resp.status().as_u16(), declared, written);
    resp
}

/// Serve until `shutdown`: `handle(request, peer)` answers each request.
pub async fn serve_http<H, Fut>(
    l: HttpListener,
    handle: H,
    shutdown: CancellationToken,
    what: &'static str,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let HttpListener {
        listener,
        tls,
        keep_alive,
        read_header_timeout,
        spans,
        guard,
        ..
    } = l;
    let is_tls = tls.is_some();
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "Cannot serve the {what} HTTP endpoint.");
            return;
        }
    };
    let handle = Arc::new(handle);
    let spans = Arc::new(spans);
    let builder = transport::limits::http_builder(keep_alive, read_header_timeout);
    serve(
        listener,
        tls,
        builder,
        move |peer| {
            let handle = handle.clone();
            let spans = spans.clone();
            let guard = guard.clone();
            hyper::service::service_fn(move |req: Request<Incoming>| {
                let handle = handle.clone();
                let spans = spans.clone();
                let refused = guard
                    .as_ref()
                    .and_then(|g| g.check(req.headers(), req.uri().query()).err());
                async move {
                    if let Some(e) = refused {
                        let mut r = reply(StatusCode::UNAUTHORIZED, format!("{e}\n"));
                        r.headers_mut().insert(
                            "x-content-type-options",
                            http::HeaderValue::from_static("nosniff"),
                        );
                        return Ok::<_, Infallible>(r);
                    }
                    let spans = spans.as_ref().as_ref();
                    let resp = traced(spans, req, peer.addr, is_tls, |req| handle(req, peer.addr));
                    Ok::<_, Infallible>(resp.await)
                }
            })
        },
        shutdown,
        what,
        read_header_timeout,
    )
    .await;
}
