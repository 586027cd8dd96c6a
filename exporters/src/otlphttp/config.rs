//! `otlphttp` exporter config: Go `exporter/otlphttpexporter/config.go` (`Config` =
//! `confighttp.ClientConfig` squashed + `traces_endpoint`, `metrics_endpoint`,
//! `logs_endpoint`, `profiles_endpoint`, `encoding`) and `factory.go` (`createDefaultConfig`:
//! gzip, `write_buffer_size` 512 KiB, `encoding: proto`, `confighttp.NewDefaultClientConfig`:
//! `max_idle_conns` 100, `idle_conn_timeout` 90s, `force_attempt_http2` true).

use pipeline_api::config::{ConfigError, ConfigValue, GoDuration, Validate};
use pipeline_api::{ComponentConfig, Signal};
use serde::Deserialize;

use crate::common::compression::{Compression, CompressionParams};
use crate::common::tls::TlsClientConfig;
use crate::common::{present, AuthConfig, Headers};

/// `encoding` (Go `EncodingType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Proto,
    Json,
}

/// `exporters: otlphttp:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Base URL; `/v1/traces`, `/v1/metrics`, `/v1/logs` are appended.
    pub endpoint: String,
    /// Full URL for traces, instead of `endpoint` + `/v1/traces`.
    pub traces_endpoint: String,
    pub metrics_endpoint: String,
    pub logs_endpoint: String,
    /// Accepted; Ferrotel carries no profiles.
    pub profiles_endpoint: String,
    /// `proto` (default) or `json`.
    pub encoding: Encoding,
    /// Default gzip.
    pub compression: Compression,
    pub compression_params: CompressionParams,
    pub headers: Headers,
    pub tls: TlsClientConfig,
    /// Proxy for every request; absent: `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` from the
    /// environment (Go's default transport does the same).
    pub proxy_url: String,
    /// Accepted (Go's transport buffers; hyper sizes its own).
    pub read_buffer_size: i64,
    pub write_buffer_size: i64,
    /// Idle connections kept in total (Go) — here per host, the only limit the client has.
    /// Default 100; 0: no limit.
    pub max_idle_conns: i64,
    /// Idle connections kept per host; 0: Go's default of 2 is not applied, `max_idle_conns`
    /// rules.
    pub max_idle_conns_per_host: i64,
    /// Accepted; not enforced.
    pub max_conns_per_host: i64,
    /// How long an idle connection is kept. Default 90s; 0: forever.
    pub idle_conn_timeout: GoDuration,
    /// One connection per request.
    pub disable_keep_alives: bool,
    /// HTTP/2 health-check pings after this long without reads (0: none).
    pub http2_read_idle_timeout: GoDuration,
    /// How long to wait for a ping's answer; 0: 15s (Go).
    pub http2_ping_timeout: GoDuration,
    /// Offer HTTP/2 over TLS (ALPN). Default true.
    pub force_attempt_http2: bool,
    /// Accepted; cookies are not kept.
    #[serde(deserialize_with = "present")]
    pub cookies: Option<ConfigValue>,
    #[serde(deserialize_with = "present")]
    pub auth: Option<AuthConfig>,
    pub middlewares: Vec<ConfigValue>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            endpoint: String::new(),
            traces_endpoint: String::new(),
            metrics_endpoint: String::new(),
            logs_endpoint: String::new(),
            profiles_endpoint: String::new(),
            encoding: Encoding::Proto,
            compression: Compression::Gzip,
            compression_params: CompressionParams::default(),
            headers: Headers::default(),
            tls: TlsClientConfig::default(),
            proxy_url: String::new(),
            read_buffer_size: 0,
            write_buffer_size: 512 * 1024,
            max_idle_conns: 100,
            max_idle_conns_per_host: 0,
            max_conns_per_host: 0,
            idle_conn_timeout: GoDuration::from_secs(90),
            disable_keep_alives: false,
            http2_read_idle_timeout: GoDuration::default(),
            http2_ping_timeout: GoDuration::default(),
            force_attempt_http2: true,
            cookies: None,
            auth: None,
            middlewares: Vec::new(),
        }
    }
}

impl Config {
    /// Go `composeSignalURL`: the override, else `endpoint` + `/v1/<signal>` (without a
    /// doubled slash). `None` when neither is set.
    pub fn signal_url(&self, signal: Signal) -> Option<String> {
        let over = match signal {
            Signal::Traces => &self.traces_endpoint,
            Signal::Metrics => &self.metrics_endpoint,
            Signal::Logs => &self.logs_endpoint,
        };
        if !over.is_empty() {
            return Some(over.clone());
        }
        if self.endpoint.is_empty() {
            return None;
        }
        let sep = if self.endpoint.ends_with('/') {
            ""
        } else {
            "/"
        };
        Some(format!("{}{sep}v1/{}", self.endpoint, signal.as_str()))
    }
}

/// An absolute `http` or `https` URL.
fn check_url(url: &str) -> Result<(), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a valid URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
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

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.endpoint.is_empty()
            && self.traces_endpoint.is_empty()
            && self.metrics_endpoint.is_empty()
            && self.logs_endpoint.is_empty()
            && self.profiles_endpoint.is_empty()
        {
            // Go otlphttpexporter Config.Validate, word for word.
            errors.push(ConfigError::new(
                &[],
                "at least one endpoint must be specified",
            ));
        }
        for (key, url) in [
            ("endpoint", &self.endpoint),
            ("traces_endpoint", &self.traces_endpoint),
            ("metrics_endpoint", &self.metrics_endpoint),
            ("logs_endpoint", &self.logs_endpoint),
        ] {
            if !url.is_empty() {
                if let Err(e) = check_url(url) {
                    errors.push(ConfigError::new(&[key], e));
                }
            }
        }
        if self.compression == Compression::Lz4 {
            errors.push(ConfigError::new(
                &["compression"],
                "lz4 is not supported by Ferrotel; use gzip, zstd, snappy, zlib, deflate or none",
            ));
        }
        if self.compression.is_compressed() {
            if let Err(e) = self.compression_params.check(self.compression) {
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
}

impl ComponentConfig for Config {}
