//! The `otlp` receiver's config: the Go collector's `otlpreceiver.Config`, key for key.
//!
//! Go: `receiver/otlpreceiver/config.go`, `factory.go` (`createDefaultConfig`),
//! `config/configgrpc` (`ServerConfig`), `config/confighttp` (`ServerConfig`),
//! `config/configtls` (`ServerConfig`).

use pipeline_api::config::present;
use std::collections::BTreeMap;

use pipeline_api::config::{ConfigError, ConfigValue, GoDuration, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;

/// Go `defaultMaxRequestBodySize` in `config/confighttp/server.go`: 20 MiB.
pub const DEFAULT_MAX_REQUEST_BODY_SIZE: i64 = 20 * 1024 * 1024;

/// grpc-go's default maximum received message size (Go `max_recv_msg_size_mib: 0` means this).
pub const DEFAULT_MAX_RECV_MSG_SIZE_MIB: u64 = 4;

/// The `Content-Encoding` values the HTTP server decodes. Go `defaultCompressionAlgorithms()`
/// (`config/confighttp/compression.go`, with the `confighttp.framedSnappy` gate, beta since
/// v0.125.0, on) is `["", gzip, zstd, zlib, snappy, deflate, lz4, x-snappy-framed]`; Ferrotel
/// has no lz4 decoder, so a request with `lz4` gets the same 400 as any unsupported encoding.
pub const DEFAULT_COMPRESSION_ALGORITHMS: &[&str] = &[
    "",
    "gzip",
    "zstd",
    "zlib",
    "snappy",
    "deflate",
    "x-snappy-framed",
];

/// Every algorithm `compression_algorithms` may list.
pub const SUPPORTED_COMPRESSION_ALGORITHMS: &[&str] = &[
    "",
    "none",
    "identity",
    "gzip",
    "zstd",
    "zlib",
    "deflate",
    "snappy",
    "x-snappy-framed",
];

/// `receivers: otlp:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpReceiverConfig {
    /// A missing `protocols` key enables nothing (and fails validation, as in Go).
    #[serde(default = "Protocols::none")]
    pub protocols: Protocols,
}

impl Default for OtlpReceiverConfig {
    /// Both protocols with their defaults: the config `protocols: {grpc:, http:}` parses to.
    /// (Go's `createDefaultConfig()` holds the same values as "default but absent", so an
    /// empty `otlp:` enables nothing and fails validation, here as in Go.)
    fn default() -> Self {
        OtlpReceiverConfig {
            protocols: Protocols {
                grpc: Some(GrpcConfig::default()),
                http: Some(HttpConfig::default()),
            },
        }
    }
}

/// `protocols`: a protocol is enabled iff its key is present; `grpc:` with no value means
/// its defaults (Go `configoptional.Optional`).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Protocols {
    #[serde(default, deserialize_with = "present")]
    pub grpc: Option<GrpcConfig>,
    #[serde(default, deserialize_with = "present")]
    pub http: Option<HttpConfig>,
}

impl Protocols {
    pub fn none() -> Protocols {
        Protocols {
            grpc: None,
            http: None,
        }
    }
}

/// `protocols::grpc` (Go `configgrpc.ServerConfig`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcConfig {
    /// `host:port` to listen on. Default `localhost:4317`.
    pub endpoint: String,
    /// `tcp` (default), `tcp4` or `tcp6`. Go also takes `unix`; Ferrotel does not yet.
    pub transport: String,
    /// Go `confignet.AddrConfig.dialer` (only used by clients); accepted.
    pub dialer: Option<ConfigValue>,
    /// TLS; on when the key is present.
    #[serde(deserialize_with = "present")]
    pub tls: Option<TlsServerConfig>,
    /// Largest accepted message, decompressed, in MiB. Default 4 (grpc-go's default, which
    /// Go uses when the key is 0 or absent).
    pub max_recv_msg_size_mib: u64,
    /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS; 0: no limit. Default 0.
    pub max_concurrent_streams: u32,
    /// Default 524288 (512 KiB, Go `createDefaultConfig`): grpc-go's read buffer. Accepted;
    /// the receive windows grow by themselves (`transport::limits::grpc_builder`).
    pub read_buffer_size: u64,
    /// Default 0 (the transport's default).
    pub write_buffer_size: u64,
    /// Keepalive settings; on by default in Go with zero values (grpc-go's own defaults).
    pub keepalive: Option<KeepaliveServerConfig>,
    /// Server authentication through an extension (`authenticator: <id>`).
    pub auth: Option<AuthConfig>,
    /// Hand client metadata (request headers) to the pipeline. Default false.
    pub include_metadata: bool,
    /// Go `configmiddleware` list; accepted, must be empty (no middleware extensions yet).
    pub middlewares: Vec<ConfigValue>,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            endpoint: "localhost:4317".into(),
            transport: "tcp".into(),
            dialer: None,
            tls: None,
            max_recv_msg_size_mib: DEFAULT_MAX_RECV_MSG_SIZE_MIB,
            max_concurrent_streams: 0,
            // Go createDefaultConfig: "We almost write 0 bytes, so no need to tune WriteBufferSize."
            read_buffer_size: 512 * 1024,
            write_buffer_size: 0,
            keepalive: Some(KeepaliveServerConfig::default()),
            auth: None,
            include_metadata: false,
            middlewares: Vec::new(),
        }
    }
}

impl GrpcConfig {
    /// The decoding limit in bytes (`0` → grpc-go's 4 MiB).
    pub fn max_recv_msg_size(&self) -> usize {
        let mib = if self.max_recv_msg_size_mib == 0 {
            DEFAULT_MAX_RECV_MSG_SIZE_MIB
        } else {
            self.max_recv_msg_size_mib
        };
        usize::try_from(mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }
}

/// `keepalive` (Go `configgrpc.KeepaliveServerConfig`).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct KeepaliveServerConfig {
    pub server_parameters: Option<KeepaliveServerParameters>,
    pub enforcement_policy: Option<KeepaliveEnforcementPolicy>,
}

/// `keepalive::server_parameters`. `time`/`timeout` drive HTTP/2 pings; the connection age
/// and idle limits are accepted and not enforced yet.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct KeepaliveServerParameters {
    pub max_connection_idle: Option<GoDuration>,
    pub max_connection_age: Option<GoDuration>,
    pub max_connection_age_grace: Option<GoDuration>,
    pub time: Option<GoDuration>,
    pub timeout: Option<GoDuration>,
}

/// `keepalive::enforcement_policy`: accepted; hyper answers every client ping.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct KeepaliveEnforcementPolicy {
    pub min_time: Option<GoDuration>,
    pub permit_without_stream: bool,
}

pub use pipeline_api::auth::{AuthConfig, HttpServerAuthConfig};

pub use transport::tls::TlsServerConfig;

/// `cors` (Go `confighttp.CORSConfig`).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Allowed `Origin` values; `*` matches any run of characters (`http://*.example.com`).
    pub allowed_origins: Vec<String>,
    /// Extra allowed request headers (`*`: any).
    pub allowed_headers: Vec<String>,
    /// `Access-Control-Max-Age` seconds for preflight responses; 0: not sent.
    pub max_age: u64,
}

/// `protocols::http` (Go `otlpreceiver.HTTPConfig` = `confighttp.ServerConfig` + paths).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// `host:port` to listen on. Default `localhost:4318`.
    pub endpoint: String,
    #[serde(deserialize_with = "present")]
    pub tls: Option<TlsServerConfig>,
    pub cors: Option<CorsConfig>,
    pub auth: Option<HttpServerAuthConfig>,
    /// Largest accepted body, both as sent and decompressed. `<= 0` means the default, 20 MiB
    /// (Go `confighttp.ServerConfig.ToServer`).
    pub max_request_body_size: i64,
    pub include_metadata: bool,
    /// Headers added to every response.
    pub response_headers: BTreeMap<String, String>,
    /// Accepted `Content-Encoding`s; absent: [`DEFAULT_COMPRESSION_ALGORITHMS`]. An
    /// uncompressed body is always accepted (Go refuses it when the list lacks `""`).
    pub compression_algorithms: Option<Vec<String>>,
    /// Whole-request read timeout; 0: none (Go default for the otlp receiver).
    pub read_timeout: GoDuration,
    /// Header read timeout, also the first bytes of a new connection, an idle keep-alive
    /// connection and the longest pause inside a request body; 0: none. Default 1 minute
    /// (confighttp's; Go's otlp receiver sets 0).
    pub read_header_timeout: GoDuration,
    /// Accepted; 0 in Go's otlp defaults.
    pub write_timeout: GoDuration,
    /// Accepted; 0 in Go's otlp defaults.
    pub idle_timeout: GoDuration,
    /// HTTP/1.1 keep-alive. Default true.
    pub keep_alives_enabled: bool,
    pub middlewares: Vec<ConfigValue>,
    /// Default `/v1/traces`; a path without a leading `/` gets one (Go `SanitizedURLPath`).
    pub traces_url_path: String,
    /// Default `/v1/metrics`.
    pub metrics_url_path: String,
    /// Default `/v1/logs`.
    pub logs_url_path: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            endpoint: "localhost:4318".into(),
            tls: None,
            cors: None,
            auth: None,
            max_request_body_size: DEFAULT_MAX_REQUEST_BODY_SIZE,
            include_metadata: false,
            response_headers: BTreeMap::new(),
            compression_algorithms: None,
            // Go createDefaultConfig: "For backward compatibility" the otlp receiver zeroes
            // confighttp's WriteTimeout, ReadHeaderTimeout and IdleTimeout. Ferrotel keeps
            // confighttp's 1 minute header timeout (docs/migration.md): without it one client
            // can hold any number of silent or half-sent connections for ever.
            read_timeout: GoDuration::default(),
            read_header_timeout: GoDuration::from_secs(60),
            write_timeout: GoDuration::default(),
            idle_timeout: GoDuration::default(),
            keep_alives_enabled: true,
            middlewares: Vec::new(),
            traces_url_path: "/v1/traces".into(),
            metrics_url_path: "/v1/metrics".into(),
            logs_url_path: "/v1/logs".into(),
        }
    }
}

impl HttpConfig {
    /// The body limit in bytes.
    pub fn max_body(&self) -> usize {
        let n = if self.max_request_body_size <= 0 {
            DEFAULT_MAX_REQUEST_BODY_SIZE
        } else {
            self.max_request_body_size
        };
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    pub fn compression_algorithms(&self) -> Vec<String> {
        match &self.compression_algorithms {
            Some(list) => list.iter().map(|s| s.trim().to_ascii_lowercase()).collect(),
            None => DEFAULT_COMPRESSION_ALGORITHMS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    pub fn traces_path(&self) -> String {
        sanitize_url_path(&self.traces_url_path)
    }

    pub fn metrics_path(&self) -> String {
        sanitize_url_path(&self.metrics_url_path)
    }

    pub fn logs_path(&self) -> String {
        sanitize_url_path(&self.logs_url_path)
    }
}

/// Go `SanitizedURLPath.UnmarshalText`: take the URL's path and make it absolute.
pub fn sanitize_url_path(raw: &str) -> String {
    let mut p = raw.trim();
    if let Some(i) = p.find(['?', '#']) {
        p = &p[..i];
    }
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

/// `host:port` with a numeric port (`[::1]:4317`, `localhost:4317`, `:4317`).
fn check_endpoint(endpoint: &str) -> Result<(), String> {
    transport::net::check_endpoint(endpoint, 4317)
}

use transport::tls::check_server as check_tls;

fn check_no_middlewares(m: &[ConfigValue], path: &[&str], errors: &mut Vec<ConfigError>) {
    if !m.is_empty() {
        errors.push(ConfigError::new(
            path,
            "middleware extensions are not supported by Ferrotel yet",
        ));
    }
}

impl Validate for OtlpReceiverConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let p = &self.protocols;
        if p.grpc.is_none() && p.http.is_none() {
            // Go otlpreceiver Config.Validate, word for word.
            errors.push(ConfigError::new(
                &[],
                "must specify at least one protocol when using the OTLP receiver",
            ));
        }
        if let Some(g) = &p.grpc {
            if let Err(e) = check_endpoint(&g.endpoint) {
                errors.push(ConfigError::new(&["protocols", "grpc", "endpoint"], e));
            }
            if !matches!(g.transport.as_str(), "tcp" | "tcp4" | "tcp6" | "") {
                errors.push(ConfigError::new(
                    &["protocols", "grpc", "transport"],
                    format!(
                        "unsupported transport {:?}; Ferrotel listens on tcp, tcp4 or tcp6",
                        g.transport
                    ),
                ));
            }
            if let Some(tls) = &g.tls {
                check_tls(tls, &["protocols", "grpc", "tls"], &mut errors);
            }
            check_no_middlewares(
                &g.middlewares,
                &["protocols", "grpc", "middlewares"],
                &mut errors,
            );
        }
        if let Some(h) = &p.http {
            if let Err(e) = check_endpoint(&h.endpoint) {
                errors.push(ConfigError::new(&["protocols", "http", "endpoint"], e));
            }
            if let Some(tls) = &h.tls {
                check_tls(tls, &["protocols", "http", "tls"], &mut errors);
            }
            for alg in h.compression_algorithms() {
                if !SUPPORTED_COMPRESSION_ALGORITHMS.contains(&alg.as_str()) {
                    errors.push(ConfigError::new(
                        &["protocols", "http", "compression_algorithms"],
                        format!(
                            "unsupported compression algorithm {alg:?}; supported: gzip, zstd, zlib, deflate, snappy, x-snappy-framed"
                        ),
                    ));
                }
            }
            let paths = [
                ("traces_url_path", h.traces_path()),
                ("metrics_url_path", h.metrics_path()),
                ("logs_url_path", h.logs_path()),
            ];
            for (i, (key, path)) in paths.iter().enumerate() {
                if paths[..i].iter().any(|(_, other)| other == path) {
                    errors.push(ConfigError::new(
                        &["protocols", "http", key],
                        format!("path {path:?} is already used by another signal"),
                    ));
                }
            }
            check_no_middlewares(
                &h.middlewares,
                &["protocols", "http", "middlewares"],
                &mut errors,
            );
        }
        errors
    }
}

impl ComponentConfig for OtlpReceiverConfig {
    fn listen_addresses(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(g) = &self.protocols.grpc {
            out.push(("protocols::grpc::endpoint".to_string(), g.endpoint.clone()));
        }
        if let Some(h) = &self.protocols.http {
            out.push(("protocols::http::endpoint".to_string(), h.endpoint.clone()));
        }
        out
    }

    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(h) = &self.protocols.http {
            for (key, value) in [
                ("write_timeout", &h.write_timeout),
                ("idle_timeout", &h.idle_timeout),
            ] {
                if !value.is_zero() {
                    out.push((
                        format!("protocols::http::{key}"),
                        "not enforced by Ferrotel's HTTP server; read_header_timeout also \
                         bounds an idle keep-alive connection"
                            .to_string(),
                    ));
                }
            }
        }
        out
    }
}
