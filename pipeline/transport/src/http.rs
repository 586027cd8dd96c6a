//! The HTTP client settings (Go `confighttp.ClientConfig`) and the one way a client is built
//! from them.
//!
//! Go facts relied on (`config/confighttp/client.go`):
//! - `NewDefaultClientConfig`: `max_idle_conns` 100, `idle_conn_timeout` 90s,
//!   `force_attempt_http2` true; every other key is its zero value.
//! - `ToClient`: TLS from `tls` (`LoadTLSConfig`, even for an `http://` endpoint), the proxy
//!   from `proxy_url`, the pool from `max_idle_conns`, `max_idle_conns_per_host`,
//!   `idle_conn_timeout`, `disable_keep_alives`; with `http2_read_idle_timeout` HTTP/2 health
//!   pings, answered within `http2_ping_timeout` (0: 15s); `headers` set on every request
//!   (a `Host` header sets the request's host); the body compressed per `compression`.
//! - `timeout` is the request timeout; in Ferrotel it is the export timeout, owned by the
//!   runtime and removed before this is parsed.
//!
//! Ferrotel's client (reqwest) has one idle limit, per host: `max_idle_conns_per_host`
//! when set, else `max_idle_conns`. Keys it cannot act on are accepted and reported once,
//! by the loader, from the embedding config ([`HttpClientConfig::not_acted_on`]).

use std::time::Duration;

use pipeline_api::config::{ConfigError, ConfigValue, GoDuration};
use pipeline_api::BuildError;
use serde::Deserialize;

use crate::client::{auth_unsupported, present, user_agent, AuthConfig, Headers};
use crate::compression::{Compression, CompressionParams};
use crate::tls::TlsClientConfig;

/// `cookies` (Go `confighttp.CookiesConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CookiesConfig {
    /// Keep cookies the server sets and send them back.
    pub enabled: bool,
}

/// The HTTP client keys, Go `confighttp.ClientConfig`, squashed into an exporter's config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpClientConfig {
    /// The URL to send to; what it must be is the exporter's to check.
    pub endpoint: String,
    /// Proxy for every request; empty: `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` from the
    /// environment (Go's default transport does the same).
    pub proxy_url: String,
    pub tls: TlsClientConfig,
    /// Go's transport read buffer; not acted on (hyper sizes its own).
    pub read_buffer_size: i64,
    /// Go's transport write buffer; not acted on. Default 512 KiB, as every Go exporter that
    /// embeds these keys sets in `createDefaultConfig`.
    pub write_buffer_size: i64,
    /// Set on every request.
    pub headers: Headers,
    #[serde(deserialize_with = "present")]
    pub auth: Option<AuthConfig>,
    /// Absent: the exporter's default (`otlphttp`: gzip; others: none).
    pub compression: Option<Compression>,
    pub compression_params: CompressionParams,
    /// Idle connections kept in total (Go); here the per-host limit when
    /// `max_idle_conns_per_host` is 0. Default 100; 0: no limit.
    pub max_idle_conns: i64,
    /// Idle connections kept per host; 0: `max_idle_conns` rules.
    pub max_idle_conns_per_host: i64,
    /// Not acted on (the client has no limit on connections per host).
    pub max_conns_per_host: i64,
    /// How long an idle connection is kept. Default 90s; 0: forever.
    pub idle_conn_timeout: GoDuration,
    /// One connection per request.
    pub disable_keep_alives: bool,
    /// HTTP/2 health-check pings after this long without reads (0: none).
    pub http2_read_idle_timeout: GoDuration,
    /// How long to wait for a ping's answer; 0: 15s (Go).
    pub http2_ping_timeout: GoDuration,
    /// `enabled: true` is not acted on: cookies are not kept.
    #[serde(deserialize_with = "present")]
    pub cookies: Option<CookiesConfig>,
    /// Offer HTTP/2 over TLS (ALPN). Default true.
    pub force_attempt_http2: bool,
    /// Go `configmiddleware` list; must be empty (no middleware extensions yet).
    pub middlewares: Vec<ConfigValue>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            endpoint: String::new(),
            proxy_url: String::new(),
            tls: TlsClientConfig::default(),
            read_buffer_size: 0,
            write_buffer_size: DEFAULT_WRITE_BUFFER_SIZE,
            headers: Headers::default(),
            auth: None,
            compression: None,
            compression_params: CompressionParams::default(),
            max_idle_conns: 100,
            max_idle_conns_per_host: 0,
            max_conns_per_host: 0,
            idle_conn_timeout: GoDuration::from_secs(90),
            disable_keep_alives: false,
            http2_read_idle_timeout: GoDuration::default(),
            http2_ping_timeout: GoDuration::default(),
            cookies: None,
            force_attempt_http2: true,
            middlewares: Vec::new(),
        }
    }
}

const DEFAULT_WRITE_BUFFER_SIZE: i64 = 512 * 1024;

/// What the component does beyond the client, for [`HttpClientConfig::build`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientOptions {
    /// Speak HTTP/1.1 only; then the HTTP/2 keys have no effect.
    pub http1_only: bool,
    /// The component compresses request bodies itself, per [`HttpClientConfig::compression`];
    /// otherwise a configured compression is reported as not acted on.
    pub compresses_bodies: bool,
}

/// An absolute `http` or `https` URL with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a valid URL: {e}"))?;
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {}
        _ => {
            return Err(format!(
                "{url:?}: the URL must start with http:// or https://"
            ))
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{url:?}: the URL has no host"));
    }
    Ok(())
}

impl HttpClientConfig {
    /// The compression to send with, `default` when the key is absent.
    pub fn compression_or(&self, default: Compression) -> Compression {
        self.compression.unwrap_or(default)
    }

    /// Checks of every key but `endpoint` (the component's to check), Go
    /// `ClientConfig.Validate` plus what Ferrotel cannot do; `default_compression` is the
    /// component's when the key is absent. Paths are the keys, as the section is squashed
    /// into the component's config.
    pub fn validate(&self, default_compression: Compression) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let compression = self.compression_or(default_compression);
        if compression == Compression::Lz4 {
            errors.push(ConfigError::new(
                &["compression"],
                "lz4 is not supported by Ferrotel; use gzip, zstd, snappy, zlib, deflate or none",
            ));
        }
        if compression.is_compressed() {
            if let Err(e) = self.compression_params.check(compression) {
                errors.push(ConfigError::new(&["compression_params", "level"], e));
            }
        }
        errors.extend(self.tls.validate(&["tls"]));
        errors.extend(self.headers.validate(&["headers"]));
        if !self.proxy_url.is_empty() {
            if let Err(e) = check_url(&self.proxy_url) {
                errors.push(ConfigError::new(&["proxy_url"], e));
            }
        }
        for (key, v) in [
            ("read_buffer_size", self.read_buffer_size),
            ("write_buffer_size", self.write_buffer_size),
            ("max_idle_conns", self.max_idle_conns),
            ("max_idle_conns_per_host", self.max_idle_conns_per_host),
            ("max_conns_per_host", self.max_conns_per_host),
        ] {
            if v < 0 {
                errors.push(ConfigError::new(
                    &[key],
                    format!("must not be negative: {v}"),
                ));
            }
        }
        if !self.middlewares.is_empty() {
            errors.push(ConfigError::new(
                &["middlewares"],
                "middleware extensions are not supported by Ferrotel yet",
            ));
        }
        errors
    }

    /// The keys set to something the built client does not do, each with the reason.
    pub fn not_acted_on(&self, options: ClientOptions) -> Vec<(&'static str, &'static str)> {
        let mut keys = Vec::new();
        if self.read_buffer_size != 0 {
            keys.push(("read_buffer_size", "the client sizes its own buffers"));
        }
        if self.write_buffer_size != 0 && self.write_buffer_size != DEFAULT_WRITE_BUFFER_SIZE {
            keys.push(("write_buffer_size", "the client sizes its own buffers"));
        }
        if self.max_conns_per_host != 0 {
            keys.push((
                "max_conns_per_host",
                "the client has no limit on connections per host",
            ));
        }
        if self.cookies.is_some_and(|c| c.enabled) {
            keys.push(("cookies", "cookies are not kept"));
        }
        if !options.compresses_bodies {
            if self.compression.is_some_and(|c| c.is_compressed()) {
                keys.push(("compression", "this exporter sends its bodies as they are"));
            }
            if self.compression_params != CompressionParams::default() {
                keys.push((
                    "compression_params",
                    "this exporter sends its bodies as they are",
                ));
            }
        }
        if options.http1_only && !self.http2_read_idle_timeout.is_zero() {
            keys.push((
                "http2_read_idle_timeout",
                "this exporter speaks HTTP/1.1 only",
            ));
        }
        if options.http1_only && !self.http2_ping_timeout.is_zero() {
            keys.push(("http2_ping_timeout", "this exporter speaks HTTP/1.1 only"));
        }
        keys
    }

    /// [`HttpClientConfig::not_acted_on`] in the form `ComponentConfig::not_acted_on` returns.
    pub fn keys_not_acted_on(&self, options: ClientOptions) -> Vec<(String, String)> {
        self.not_acted_on(options)
            .into_iter()
            .map(|(k, why)| (k.to_string(), why.to_string()))
            .collect()
    }

    /// The per-host idle pool size the keys give.
    fn idle_per_host(&self) -> usize {
        let limit = if self.disable_keep_alives {
            0
        } else if self.max_idle_conns_per_host > 0 {
            self.max_idle_conns_per_host
        } else if self.max_idle_conns > 0 {
            self.max_idle_conns
        } else {
            return usize::MAX;
        };
        usize::try_from(limit).unwrap_or(usize::MAX)
    }

    /// How long an idle connection is kept; `None`: forever.
    fn idle_timeout(&self) -> Option<Duration> {
        (!self.idle_conn_timeout.is_zero()).then(|| self.idle_conn_timeout.get())
    }

    /// The HTTP/2 health pings: (interval, answer timeout), if on.
    fn http2_pings(&self) -> Option<(Duration, Duration)> {
        if self.http2_read_idle_timeout.is_zero() {
            return None;
        }
        let timeout = if self.http2_ping_timeout.is_zero() {
            Duration::from_secs(15)
        } else {
            self.http2_ping_timeout.get()
        };
        Some((self.http2_read_idle_timeout.get(), timeout))
    }

    /// The ALPN protocols offered over TLS.
    fn alpn(&self, options: ClientOptions) -> &'static [&'static [u8]] {
        if options.http1_only || !self.force_attempt_http2 {
            &[b"http/1.1"]
        } else {
            &[b"h2", b"http/1.1"]
        }
    }

    /// Build the client (Go `ToClient`) for a component that does not take an `auth`
    /// extension (refused); [`HttpClientConfig::client`] is the one that does. `what` names
    /// the component in messages. The keys it does not act on are reported by the embedding
    /// config's `ComponentConfig::not_acted_on` (see [`HttpClientConfig::not_acted_on`]).
    pub fn build(&self, what: &str, options: ClientOptions) -> Result<reqwest::Client, BuildError> {
        if let Some(auth) = &self.auth {
            return Err(auth_unsupported(auth));
        }
        self.reqwest(what, options)
    }

    /// Build the client with its `auth` extension's headers on every request (Go `ToClient`
    /// with `auth::authenticator`); `what` names the component in messages.
    pub fn client(
        &self,
        what: &str,
        options: ClientOptions,
        extensions: &pipeline_api::auth::Extensions,
    ) -> Result<HttpClient, BuildError> {
        let auth = (self.auth.as_ref())
            .map(|a| a.client(extensions, pipeline_api::auth::ClientKind::Http, what))
            .transpose()?;
        Ok(HttpClient {
            client: self.reqwest(what, options)?,
            auth,
        })
    }

    fn reqwest(&self, what: &str, options: ClientOptions) -> Result<reqwest::Client, BuildError> {
        let tls = self
            .tls
            .client_config(self.alpn(options), true)
            .map_err(|e| BuildError::new(format!("{what}: failed to load TLS config: {e}")))?
            .ok_or_else(|| BuildError::new(format!("{what}: no TLS config")))?;
        let mut headers = http::HeaderMap::new();
        for (name, value) in self.headers.to_http() {
            headers.insert(name, value);
        }
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .user_agent(user_agent())
            .default_headers(headers)
            .pool_max_idle_per_host(self.idle_per_host())
            .pool_idle_timeout(self.idle_timeout());
        if options.http1_only {
            builder = builder.http1_only();
        }
        if !self.proxy_url.is_empty() {
            let proxy = reqwest::Proxy::all(&self.proxy_url)
                .map_err(|e| BuildError::new(format!("{what}: proxy_url: {e}")))?;
            builder = builder.proxy(proxy);
        }
        if let Some((interval, timeout)) = self.http2_pings().filter(|_| !options.http1_only) {
            builder = builder
                .http2_keep_alive_interval(interval)
                .http2_keep_alive_timeout(timeout)
                .http2_keep_alive_while_idle(true);
        }
        builder
            .build()
            .map_err(|e| BuildError::new(format!("{what}: HTTP client: {}", error_chain(&e))))
    }
}

/// An HTTP client made from `confighttp` keys: reqwest's client, and the authenticator
/// whose headers go on every request, last, so they win over `headers` (Go puts the auth
/// round tripper innermost).
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    auth: Option<std::sync::Arc<dyn pipeline_api::auth::ClientAuth>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("auth", &self.auth.is_some())
            .finish()
    }
}

/// Why a request was not sent or answered.
#[derive(Debug)]
pub enum SendError {
    /// The authenticator could not give its headers.
    Auth(String),
    Http(reqwest::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Auth(e) => write!(f, "authenticator: {e}"),
            SendError::Http(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::Auth(_) => None,
            SendError::Http(e) => e.source(),
        }
    }
}

impl HttpClient {
    pub fn post<U: reqwest::IntoUrl>(&self, url: U) -> reqwest::RequestBuilder {
        self.client.post(url)
    }

    pub fn get<U: reqwest::IntoUrl>(&self, url: U) -> reqwest::RequestBuilder {
        self.client.get(url)
    }

    pub fn request<U: reqwest::IntoUrl>(
        &self,
        method: reqwest::Method,
        url: U,
    ) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }

    /// Send `request` (made by this client), the authenticator's headers put on it now.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SendError> {
        let request = match &self.auth {
            Some(auth) => {
                let mut headers = http::HeaderMap::new();
                for (k, v) in auth.headers().map_err(SendError::Auth)? {
                    headers.insert(k, v);
                }
                request.headers(headers)
            }
            None => request,
        };
        request.send().await.map_err(SendError::Http)
    }
}

/// An error with its causes (reqwest's own text is terse).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    fn parse(yaml: &str) -> HttpClientConfig {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    fn keys(cfg: &HttpClientConfig, options: ClientOptions) -> Vec<&'static str> {
        cfg.not_acted_on(options)
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    #[test]
    fn defaults_are_gos() {
        let cfg = parse("{}");
        assert_eq!(cfg, HttpClientConfig::default());
        assert_eq!(cfg.max_idle_conns, 100);
        assert_eq!(cfg.idle_conn_timeout.get(), Duration::from_secs(90));
        assert!(cfg.force_attempt_http2);
        assert_eq!(cfg.write_buffer_size, 512 * 1024);
        assert_eq!(cfg.read_buffer_size, 0);
        assert_eq!(cfg.max_idle_conns_per_host, 0);
        assert_eq!(cfg.max_conns_per_host, 0);
        assert!(!cfg.disable_keep_alives);
        assert!(cfg.http2_read_idle_timeout.is_zero() && cfg.http2_ping_timeout.is_zero());
        assert_eq!(cfg.compression, None);
        assert_eq!(cfg.compression_or(Compression::Gzip), Compression::Gzip);
        assert!(cfg.auth.is_none() && cfg.cookies.is_none() && cfg.middlewares.is_empty());
        assert!(cfg.validate(Compression::Gzip).is_empty());
        assert!(keys(&cfg, ClientOptions::default()).is_empty());
    }

    #[test]
    fn the_idle_pool_follows_the_keys() {
        assert_eq!(parse("{}").idle_per_host(), 100);
        assert_eq!(parse("max_idle_conns: 7").idle_per_host(), 7);
        assert_eq!(parse("max_idle_conns: 0").idle_per_host(), usize::MAX);
        assert_eq!(
            parse("max_idle_conns: 7\nmax_idle_conns_per_host: 3").idle_per_host(),
            3
        );
        assert_eq!(parse("disable_keep_alives: true").idle_per_host(), 0);
        assert_eq!(parse("{}").idle_timeout(), Some(Duration::from_secs(90)));
        assert_eq!(
            parse("idle_conn_timeout: 5s").idle_timeout(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(parse("idle_conn_timeout: 0s").idle_timeout(), None);
    }

    #[test]
    fn http2_pings_and_alpn_follow_the_keys() {
        assert_eq!(parse("{}").http2_pings(), None);
        assert_eq!(
            parse("http2_read_idle_timeout: 10s").http2_pings(),
            Some((Duration::from_secs(10), Duration::from_secs(15)))
        );
        assert_eq!(
            parse("http2_read_idle_timeout: 10s\nhttp2_ping_timeout: 2s").http2_pings(),
            Some((Duration::from_secs(10), Duration::from_secs(2)))
        );
        let h2: &[&[u8]] = &[b"h2", b"http/1.1"];
        let h1: &[&[u8]] = &[b"http/1.1"];
        assert_eq!(parse("{}").alpn(ClientOptions::default()), h2);
        assert_eq!(
            parse("force_attempt_http2: false").alpn(ClientOptions::default()),
            h1
        );
        let http1 = ClientOptions {
            http1_only: true,
            ..Default::default()
        };
        assert_eq!(parse("{}").alpn(http1), h1);
    }

    #[test]
    fn keys_not_acted_on_are_named() {
        let cfg = parse(
            "read_buffer_size: 1024\nwrite_buffer_size: 2048\nmax_conns_per_host: 4\n\
             cookies: {enabled: true}\ncompression: zstd\ncompression_params: {level: 3}\n\
             http2_read_idle_timeout: 10s\nhttp2_ping_timeout: 1s",
        );
        assert_eq!(
            keys(&cfg, ClientOptions::default()),
            [
                "read_buffer_size",
                "write_buffer_size",
                "max_conns_per_host",
                "cookies",
                "compression",
                "compression_params"
            ]
        );
        let exporter = ClientOptions {
            http1_only: true,
            compresses_bodies: true,
        };
        assert_eq!(
            keys(&cfg, exporter),
            [
                "read_buffer_size",
                "write_buffer_size",
                "max_conns_per_host",
                "cookies",
                "http2_read_idle_timeout",
                "http2_ping_timeout"
            ]
        );
        // set to their defaults, they are not reported
        let cfg = parse("write_buffer_size: 524288\ncookies: {enabled: false}\ncompression: none");
        assert!(keys(&cfg, ClientOptions::default()).is_empty());
    }

    #[test]
    fn validation_names_the_keys() {
        let cfg = parse(
            "proxy_url: proxy:3128\nmax_idle_conns: -1\nmiddlewares: [{id: x}]\n\
             compression_params: {level: 12}\nheaders: {\"bad name\": x}\ntls: {cert_file: c.pem}",
        );
        let errors: Vec<String> = cfg
            .validate(Compression::Gzip)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errors,
            [
                "compression_params::level: unsupported compression level 12 for gzip",
                "tls: TLS configuration must include both certificate and key (cert_file/cert_pem and key_file/key_pem)",
                "headers::bad name: \"bad name\" is not a valid header name",
                "proxy_url: \"proxy:3128\": the URL must start with http:// or https://",
                "max_idle_conns: must not be negative: -1",
                "middlewares: middleware extensions are not supported by Ferrotel yet",
            ]
        );
        // without compression the level is not checked; lz4 is refused
        assert!(cfg.validate(Compression::None)[0]
            .message
            .starts_with("TLS configuration"));
        assert_eq!(
            parse("compression: lz4").validate(Compression::None)[0].to_string(),
            "compression: lz4 is not supported by Ferrotel; use gzip, zstd, snappy, zlib, deflate or none"
        );
    }

    #[test]
    fn auth_and_unreadable_tls_files_fail_the_build() {
        let err = parse("auth: {authenticator: oauth2client}")
            .build("otlphttp", ClientOptions::default())
            .unwrap_err();
        assert!(
            err.to_string().contains("authenticator \"oauth2client\""),
            "{err}"
        );
        let err = parse("tls: {ca_file: /no/such/ca.pem}")
            .build("loki", ClientOptions::default())
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("loki: failed to load TLS config: ca_file \"/no/such/ca.pem\""),
            "{err}"
        );
        let err = parse("proxy_url: \"http://[::1\"")
            .build("loki", ClientOptions::default())
            .unwrap_err();
        assert!(err.to_string().starts_with("loki: proxy_url: "), "{err}");
    }

    /// A plain HTTP/1.1 server answering 200 to every request: the request heads it saw and
    /// how many connections were made.
    struct Server {
        addr: std::net::SocketAddr,
        heads: Arc<Mutex<Vec<String>>>,
        connections: Arc<AtomicUsize>,
    }

    async fn server() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (h, c) = (heads.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let h = h.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_string();
                            buf.drain(..end + 4);
                            h.lock().unwrap().push(head);
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                            if conn.write_all(answer).await.is_err() {
                                return;
                            }
                        }
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        Server {
            addr,
            heads,
            connections,
        }
    }

    async fn get_twice(cfg: &str, url: &str) -> reqwest::Client {
        let client = parse(cfg).build("test", ClientOptions::default()).unwrap();
        for _ in 0..2 {
            let resp = client.get(url).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.bytes().await.unwrap();
        }
        client
    }

    #[tokio::test]
    async fn headers_and_the_user_agent_go_on_every_request() {
        let s = server().await;
        let url = format!("http://{}/push", s.addr);
        get_twice(
            "headers: {X-Scope-OrgID: tenant-a, authorization: Bearer t}",
            &url,
        )
        .await;
        let heads = s.heads.lock().unwrap().clone();
        assert_eq!(heads.len(), 2);
        for head in &heads {
            let lower = head.to_ascii_lowercase();
            assert!(lower.contains("x-scope-orgid: tenant-a"), "{head}");
            assert!(lower.contains("authorization: bearer t"), "{head}");
            assert!(lower.contains("user-agent: ferrotel/"), "{head}");
        }
        // a configured User-Agent wins over the client's own
        let s2 = server().await;
        get_twice(
            "headers: {User-Agent: mine}",
            &format!("http://{}/", s2.addr),
        )
        .await;
        let head = s2.heads.lock().unwrap()[0].to_ascii_lowercase();
        assert!(head.contains("user-agent: mine"), "{head}");
    }

    #[tokio::test]
    async fn connections_are_kept_unless_keep_alives_are_off() {
        let s = server().await;
        let url = format!("http://{}/", s.addr);
        get_twice("{}", &url).await;
        assert_eq!(s.connections.load(Ordering::SeqCst), 1);
        let s = server().await;
        let url = format!("http://{}/", s.addr);
        get_twice("disable_keep_alives: true", &url).await;
        assert_eq!(s.connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn proxy_url_carries_every_request() {
        let proxy = server().await;
        let cfg = format!("proxy_url: http://{}", proxy.addr);
        get_twice(&cfg, "http://collector.invalid:4318/v1/logs").await;
        let heads = proxy.heads.lock().unwrap().clone();
        assert_eq!(heads.len(), 2);
        assert!(
            heads[0].starts_with("GET http://collector.invalid:4318/v1/logs HTTP/1.1"),
            "{}",
            heads[0]
        );
    }
}
