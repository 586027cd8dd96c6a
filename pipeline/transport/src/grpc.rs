//! The gRPC client settings (Go `configgrpc.ClientConfig`) and the connection they build: a
//! lazily connecting tonic channel over Ferrotel's own TCP + rustls connector, so every `tls`
//! key is honoured. How a failed call's status is judged (retryable or not) is the caller's.
//!
//! Go facts relied on (`config/configgrpc/configgrpc.go`):
//! - `http://` and `https://` (and `dns://`, `dns:///`) prefixes are stripped from the
//!   endpoint; what is left must be `host:port` with a numeric port (`ClientConfig.Validate`).
//! - TLS follows `tls` (`configtls.ClientConfig.LoadTLSConfig`): plaintext only with
//!   `tls.insecure: true` and no CA; an `https://` endpoint uses TLS even then. An `http://`
//!   prefix does not turn TLS off.
//! - `headers` are sent as metadata on every call; `authority` rewrites `:authority`;
//!   `keepalive` (`time`, `timeout`, `permit_without_stream`) sets HTTP/2 pings;
//!   `balancer_name` must name a registered balancer; `wait_for_ready` makes a call wait for
//!   the connection instead of failing fast.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::rt::TokioIo;
use pipeline_api::config::{ConfigError, ConfigValue, GoDuration};
use pipeline_api::BuildError;
use rustls::pki_types::ServerName;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::client::{present, user_agent, AuthConfig, Headers};
use crate::compression::Compression;
use crate::tls::{server_name, TlsClientConfig};

/// Balancers grpc-go registers by default; `balancer_name` must be one (Go
/// `ClientConfig.Validate`: `balancer.Get(name) != nil`).
const BALANCERS: &[&str] = &[
    "pick_first",
    "round_robin",
    "weighted_round_robin",
    "least_request_experimental",
    "ring_hash_experimental",
    "grpclb",
];

/// `keepalive` (Go `configgrpc.KeepaliveClientConfig`; present means on, with Go's
/// `NewDefaultKeepaliveClientConfig` values 10s / 10s).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeepaliveClientConfig {
    /// Ping after this long without activity.
    pub time: GoDuration,
    /// Close the connection when a ping is not answered within this.
    pub timeout: GoDuration,
    /// Ping even without calls in flight.
    pub permit_without_stream: bool,
}

impl Default for KeepaliveClientConfig {
    fn default() -> Self {
        KeepaliveClientConfig {
            time: GoDuration::from_secs(10),
            timeout: GoDuration::from_secs(10),
            permit_without_stream: false,
        }
    }
}

/// The gRPC client keys, Go `configgrpc.ClientConfig`. The runtime-owned `timeout`,
/// `sending_queue` and `retry_on_failure` are removed before this is parsed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcClientConfig {
    /// `host:port`, optionally prefixed with `http://`, `https://` or `dns:///`.
    pub endpoint: String,
    /// Absent: the exporter's default (`otlp`: gzip; `jaeger`: none).
    pub compression: Option<Compression>,
    pub tls: TlsClientConfig,
    /// Absent: no keepalive pings (Go's `otlp` default, "for backward compatibility").
    #[serde(deserialize_with = "present")]
    pub keepalive: Option<KeepaliveClientConfig>,
    /// Accepted (grpc-go's socket read buffer; hyper manages its own buffers).
    pub read_buffer_size: i64,
    /// Accepted (grpc-go's socket write buffer). Default 524288 (Go `otlp` and `jaeger`).
    pub write_buffer_size: i64,
    /// Wait for the connection instead of failing fast while it is down. Default false.
    pub wait_for_ready: bool,
    pub headers: Headers,
    /// `pick_first` behaviour whatever the name: one HTTP/2 connection carries every call.
    pub balancer_name: String,
    /// Overrides the `:authority` of every call.
    pub authority: String,
    #[serde(deserialize_with = "present")]
    pub auth: Option<AuthConfig>,
    /// Go `configmiddleware` list; must be empty (no middleware extensions yet).
    pub middlewares: Vec<ConfigValue>,
}

impl Default for GrpcClientConfig {
    fn default() -> Self {
        GrpcClientConfig {
            endpoint: String::new(),
            compression: None,
            tls: TlsClientConfig::default(),
            keepalive: None,
            read_buffer_size: 0,
            // Go otlp/jaeger createDefaultConfig: "We almost read 0 bytes, so no need to tune
            // ReadBufferSize." and WriteBufferSize 512 KiB.
            write_buffer_size: 512 * 1024,
            wait_for_ready: false,
            headers: Headers::default(),
            balancer_name: String::new(),
            authority: String::new(),
            auth: None,
            middlewares: Vec::new(),
        }
    }
}

/// Where to connect: host, port, and whether the scheme demanded TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// The endpoint was written with `https://`.
    pub https: bool,
    /// The endpoint was written with `http://`.
    pub http: bool,
}

impl Target {
    /// `host:port` as written (IPv6 in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Go `sanitizedEndpoint` + `net.SplitHostPort` + numeric port.
pub fn parse_endpoint(endpoint: &str) -> Result<Target, String> {
    let e = endpoint.trim();
    let (rest, https, http) = if let Some(r) = e.strip_prefix("https://") {
        (r, true, false)
    } else if let Some(r) = e.strip_prefix("http://") {
        (r, false, true)
    } else if let Some(r) = e.strip_prefix("dns:///") {
        (r, false, false)
    } else if let Some(r) = e.strip_prefix("dns://") {
        (r, false, false)
    } else {
        (e, false, false)
    };
    if rest.starts_with("unix:") || e.starts_with("unix:") {
        return Err(format!(
            "{e:?}: unix socket endpoints are not supported by Ferrotel"
        ));
    }
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        return Err("requires a non-empty \"endpoint\"".into());
    }
    let Some((host, port)) = rest.rsplit_once(':') else {
        return Err(format!("address {rest}: missing port in address"));
    };
    let port: u16 = port.parse().map_err(|_| format!("invalid port {port:?}"))?;
    let host = if let Some(h) = host.strip_prefix('[') {
        h.strip_suffix(']')
            .ok_or_else(|| format!("address {rest}: missing ']' in address"))?
    } else if host.contains(':') {
        return Err(format!("address {rest}: too many colons in address"));
    } else {
        host
    };
    if host.contains('/') {
        return Err(format!(
            "address {rest}: a gRPC endpoint is host:port, not a URL path"
        ));
    }
    Ok(Target {
        host: host.to_string(),
        port,
        https,
        http,
    })
}

impl GrpcClientConfig {
    /// Go `configgrpc.ClientConfig.Validate` plus what Ferrotel cannot do. `what_endpoint`
    /// is the exporter's own message for an empty endpoint.
    pub fn validate(&self, empty_endpoint: &str) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.endpoint.trim().is_empty() {
            errors.push(ConfigError::new(&[], empty_endpoint));
        } else if let Err(e) = parse_endpoint(&self.endpoint) {
            errors.push(ConfigError::new(&["endpoint"], e));
        }
        match self.compression {
            Some(Compression::Snappy) => errors.push(ConfigError::new(
                &["compression"],
                "snappy is not supported over gRPC by Ferrotel (its gRPC library, tonic, has no snappy codec); use gzip, zstd or none",
            )),
            Some(
                c @ (Compression::Zlib
                | Compression::Deflate
                | Compression::Lz4
                | Compression::SnappyFramed),
            ) => errors.push(ConfigError::new(
                &["compression"],
                format!("unsupported compression type {:?} for gRPC; use gzip, zstd or none", c.as_str()),
            )),
            _ => {}
        }
        errors.extend(self.tls.validate(&["tls"]));
        errors.extend(self.headers.validate(&["headers"]));
        for (k, v) in self.headers.iter() {
            let lower = k.to_ascii_lowercase();
            if AsciiMetadataKey::from_bytes(lower.as_bytes()).is_err()
                || lower.ends_with("-bin")
                || AsciiMetadataValue::try_from(v).is_err()
            {
                errors.push(ConfigError::new(
                    &["headers", k],
                    "not usable as gRPC metadata (ASCII names and values; binary `-bin` keys are not supported)",
                ));
            }
        }
        if !self.balancer_name.is_empty() && !BALANCERS.contains(&self.balancer_name.as_str()) {
            errors.push(ConfigError::new(
                &["balancer_name"],
                format!(
                    "invalid balancer_name: {}; expected one of {}",
                    self.balancer_name,
                    BALANCERS.join(", ")
                ),
            ));
        }
        if !self.authority.is_empty() && self.authority.parse::<http::uri::Authority>().is_err() {
            errors.push(ConfigError::new(
                &["authority"],
                format!("{:?} is not a valid authority", self.authority),
            ));
        }
        if self.read_buffer_size < 0 {
            errors.push(ConfigError::new(
                &["read_buffer_size"],
                format!("invalid read_buffer_size value: {}", self.read_buffer_size),
            ));
        }
        if self.write_buffer_size < 0 {
            errors.push(ConfigError::new(
                &["write_buffer_size"],
                format!(
                    "invalid write_buffer_size value: {}",
                    self.write_buffer_size
                ),
            ));
        }
        if !self.middlewares.is_empty() {
            errors.push(ConfigError::new(
                &["middlewares"],
                "middleware extensions are not supported by Ferrotel yet",
            ));
        }
        errors
    }

    /// The compression tonic sends with, for `default` when the key is absent.
    pub fn send_compression(&self, default: Compression) -> Option<CompressionEncoding> {
        match self.compression.unwrap_or(default) {
            Compression::Gzip => Some(CompressionEncoding::Gzip),
            Compression::Zstd => Some(CompressionEncoding::Zstd),
            _ => None,
        }
    }

    /// The metadata every call carries (Go lower-cases the names: `metadata.New`).
    pub fn metadata(&self) -> MetadataMap {
        let mut md = MetadataMap::new();
        for (k, v) in self.headers.iter() {
            if let (Ok(k), Ok(v)) = (
                AsciiMetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes()),
                AsciiMetadataValue::try_from(v),
            ) {
                md.insert(k, v);
            }
        }
        md
    }
}

/// A gRPC connection that is created on first use (or in `start`), so building spawns
/// nothing: tonic's channel spawns its worker when created.
pub struct GrpcConnection {
    endpoint: Endpoint,
    connector: Connector,
    channel: OnceLock<Channel>,
    pub wait_for_ready: bool,
    /// Where it connects, for messages.
    pub target: String,
    /// The `auth` extension whose headers go on every call.
    auth: Option<Arc<dyn pipeline_api::auth::ClientAuth>>,
}

impl GrpcConnection {
    /// Check and load everything (TLS files too); connects nothing. `extensions`: the running
    /// ones, for `auth::authenticator`, which as in Go needs TLS: grpc-go sends no per-call
    /// credentials over a connection without it, and the Go exporter does not start.
    pub fn new(
        cfg: &GrpcClientConfig,
        what: &str,
        extensions: &pipeline_api::auth::Extensions,
    ) -> Result<GrpcConnection, BuildError> {
        let auth = (cfg.auth.as_ref())
            .map(|a| a.client(extensions, pipeline_api::auth::ClientKind::Grpc, what))
            .transpose()?;
        let target = parse_endpoint(&cfg.endpoint)
            .map_err(|e| BuildError::new(format!("{what}: endpoint: {e}")))?;
        let tls = cfg
            .tls
            .client_config(&[b"h2"], target.https)
            .map_err(|e| BuildError::new(format!("{what}: failed to load TLS config: {e}")))?;
        if tls.is_some() && target.http {
            tracing::warn!(
                exporter = what,
                endpoint = %cfg.endpoint,
                "The endpoint starts with http:// but TLS is on; as in the Go collector, set tls::insecure: true to connect without TLS."
            );
        }
        let name = match &tls {
            Some(_) => Some(
                server_name(&cfg.tls, &target.host)
                    .map_err(|e| BuildError::new(format!("{what}: tls: {e}")))?,
            ),
            None => None,
        };
        let authority = if cfg.authority.is_empty() {
            target.authority()
        } else {
            cfg.authority.clone()
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let origin: Uri = format!("{scheme}://{authority}")
            .parse()
            .map_err(|e| BuildError::new(format!("{what}: authority {authority:?}: {e}")))?;
        // The connector ignores the URI it is handed; tonic uses the origin for `:scheme` and
        // `:authority`. An http URI keeps tonic from wanting its own TLS.
        let mut endpoint = Endpoint::from_shared(format!("http://{}", target.authority()))
            .map_err(|e| BuildError::new(format!("{what}: endpoint: {e}")))?
            .origin(origin)
            .user_agent(user_agent())
            .map_err(|e| BuildError::new(format!("{what}: user agent: {e}")))?;
        if let Some(k) = &cfg.keepalive {
            if !k.time.is_zero() {
                // grpc-go raises a keepalive time below 10s to 10s.
                endpoint =
                    endpoint.http2_keep_alive_interval(k.time.get().max(Duration::from_secs(10)));
            }
            if !k.timeout.is_zero() {
                endpoint = endpoint.keep_alive_timeout(k.timeout.get());
            }
            endpoint = endpoint.keep_alive_while_idle(k.permit_without_stream);
        }
        if auth.is_some() && tls.is_none() {
            return Err(BuildError::new(format!(
                "{what}: grpc: the credentials require transport level security (use grpc.WithTransportCredentials() to set): auth::authenticator needs tls (tls::insecure is true or the endpoint is http://)"
            )));
        }
        let connector = Connector(Arc::new(ConnectTarget {
            host: target.host.clone(),
            port: target.port,
            tls: tls.map(|config| (tokio_rustls::TlsConnector::from(Arc::new(config)), name)),
        }));
        Ok(GrpcConnection {
            endpoint,
            connector,
            channel: OnceLock::new(),
            wait_for_ready: cfg.wait_for_ready,
            target: cfg.endpoint.clone(),
            auth,
        })
    }

    /// `base` with the authenticator's headers, read now, added (they win).
    pub fn metadata(&self, base: &MetadataMap) -> Result<MetadataMap, Status> {
        let mut md = base.clone();
        if let Some(auth) = &self.auth {
            for (k, v) in auth.headers().map_err(Status::unauthenticated)? {
                let (Ok(key), Ok(value)) = (
                    AsciiMetadataKey::from_bytes(k.as_str().as_bytes()),
                    AsciiMetadataValue::try_from(v.as_bytes()),
                ) else {
                    return Err(Status::unauthenticated(format!(
                        "the authenticator's {k} header is not valid gRPC metadata"
                    )));
                };
                md.insert(key, value);
            }
        }
        Ok(md)
    }

    /// The channel, created on first use. Needs a tokio runtime (it spawns its worker).
    pub fn channel(&self) -> Channel {
        self.channel
            .get_or_init(|| {
                self.endpoint
                    .connect_with_connector_lazy(self.connector.clone())
            })
            .clone()
    }

    /// Make one call, waiting (with growing pauses, until the caller's timeout drops this
    /// future) while the connection cannot be made when `wait_for_ready` is set.
    pub async fn call<T, F, Fut>(&self, mut f: F) -> Result<T, Status>
    where
        F: FnMut(Channel) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let mut pause = Duration::from_millis(100);
        loop {
            match f(self.channel()).await {
                Err(s) if self.wait_for_ready && is_connect_error(&s) => {
                    tracing::debug!(target_endpoint = %self.target, error = %describe(&s), "Waiting for the connection (wait_for_ready).");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                r => return r,
            }
        }
    }
}

/// What the connector connects to.
struct ConnectTarget {
    host: String,
    port: u16,
    tls: Option<(tokio_rustls::TlsConnector, Option<ServerName<'static>>)>,
}

/// TCP, then TLS when configured, for tonic's channel.
#[derive(Clone)]
struct Connector(Arc<ConnectTarget>);

impl tower::Service<Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<TokioIo<Stream>, io::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let target = self.0.clone();
        Box::pin(async move {
            let tcp = TcpStream::connect((target.host.as_str(), target.port)).await?;
            let _ = tcp.set_nodelay(true);
            match &target.tls {
                None => Ok(TokioIo::new(Stream::Plain(tcp))),
                Some((connector, name)) => {
                    let name = match name {
                        Some(n) => n.clone(),
                        None => ServerName::try_from(target.host.clone())
                            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
                    };
                    let tls = connector.connect(name, tcp).await.map_err(|e| {
                        io::Error::new(e.kind(), format!("TLS handshake failed: {e}"))
                    })?;
                    Ok(TokioIo::new(Stream::Tls(Box::new(tls))))
                }
            }
        })
    }
}

/// A plaintext or TLS connection.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }
}

/// The call failed because no connection could be made (refused, DNS, TLS handshake).
pub fn is_connect_error(status: &Status) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    while let Some(e) = source {
        if e.downcast_ref::<tonic::ConnectError>().is_some() {
            return true;
        }
        source = e.source();
    }
    false
}

/// The status as Go prints gRPC errors (`rpc error: code = Unavailable desc = ...`), with
/// the causes of a transport failure appended.
pub fn describe(status: &Status) -> String {
    let mut text = format!(
        "rpc error: code = {} desc = {}",
        code_name(status.code()),
        status.message()
    );
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    while let Some(e) = source {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = e.source();
    }
    text
}

/// grpc-go's `codes.Code.String()`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> GrpcClientConfig {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn defaults_are_gos() {
        let cfg = parse("{}");
        assert_eq!(cfg, GrpcClientConfig::default());
        assert_eq!(cfg.write_buffer_size, 512 * 1024);
        assert_eq!(cfg.read_buffer_size, 0);
        assert_eq!(cfg.keepalive, None);
        assert_eq!(cfg.compression, None);
        assert!(!cfg.wait_for_ready && cfg.balancer_name.is_empty() && cfg.authority.is_empty());
        // a present keepalive takes Go's NewDefaultKeepaliveClientConfig values
        let k = parse("keepalive:").keepalive.unwrap();
        assert_eq!(k.time.get(), Duration::from_secs(10));
        assert_eq!(k.timeout.get(), Duration::from_secs(10));
        assert!(!k.permit_without_stream);
    }

    #[test]
    fn endpoints_are_sanitized_as_go_does() {
        let t = parse_endpoint("https://collector:4317").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.https, t.http),
            ("collector", 4317, true, false)
        );
        let t = parse_endpoint("dns:///[::1]:4317").unwrap();
        assert_eq!(
            (t.host.as_str(), t.authority()),
            ("::1", "[::1]:4317".to_string())
        );
        assert!(parse_endpoint("http://collector:4317").unwrap().http);
        assert!(parse_endpoint("collector").is_err());
        assert!(parse_endpoint("collector:4317/v1").is_err());
        assert!(parse_endpoint("unix:///tmp/s").is_err());
    }

    #[test]
    fn compression_headers_and_checks() {
        let cfg = parse("compression: zstd\nheaders: {X-Token: abc}");
        assert_eq!(
            cfg.send_compression(Compression::Gzip),
            Some(CompressionEncoding::Zstd)
        );
        assert_eq!(
            parse("{}").send_compression(Compression::Gzip),
            Some(CompressionEncoding::Gzip)
        );
        assert_eq!(parse("{}").send_compression(Compression::None), None);
        assert_eq!(cfg.metadata().get("x-token").unwrap(), "abc");
        let errors: Vec<String> =
            parse("endpoint: a:1\ncompression: snappy\nbalancer_name: nope\nwrite_buffer_size: -1")
                .validate("empty")
                .iter()
                .map(|e| e.to_string())
                .collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("compression: snappy is not supported"));
        assert!(errors[1].starts_with("balancer_name: invalid balancer_name: nope"));
        assert_eq!(
            errors[2],
            "write_buffer_size: invalid write_buffer_size value: -1"
        );
        assert_eq!(parse("{}").validate("empty")[0].to_string(), "empty");
    }

    #[tokio::test]
    async fn the_connection_builds_without_connecting() {
        let conn = GrpcConnection::new(
            &parse("endpoint: 127.0.0.1:1\ntls: {insecure: true}\nwait_for_ready: true"),
            "otlp",
            &Default::default(),
        )
        .unwrap();
        assert!(conn.wait_for_ready);
        assert_eq!(conn.target, "127.0.0.1:1");
        let err = GrpcConnection::new(
            &parse("endpoint: a:1\nauth: {authenticator: x}"),
            "otlp",
            &Default::default(),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("authenticator \"x\""), "{err}");
        let err = GrpcConnection::new(
            &parse("endpoint: a:1\ntls: {ca_file: /nope}"),
            "otlp",
            &Default::default(),
        )
        .err()
        .unwrap();
        assert!(
            err.to_string()
                .starts_with("otlp: failed to load TLS config"),
            "{err}"
        );
    }
}
