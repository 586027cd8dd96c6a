//! `otlphttp` exporter config: Go `exporter/otlphttpexporter/config.go` (`Config` =
//! `confighttp.ClientConfig` squashed + `traces_endpoint`, `metrics_endpoint`,
//! `logs_endpoint`, `profiles_endpoint`, `encoding`) and `factory.go` (`createDefaultConfig`:
//! gzip, `write_buffer_size` 512 KiB, `encoding: proto`, `confighttp.NewDefaultClientConfig`:
//! `max_idle_conns` 100, `idle_conn_timeout` 90s, `force_attempt_http2` true). The
//! `confighttp` keys are `transport::http::HttpClientConfig`'s.

use pipeline_api::config::{ConfigError, Validate};
use pipeline_api::{ComponentConfig, Signal};
use serde::Deserialize;
use transport::compression::Compression;
use transport::http::{check_url, ClientOptions, HttpClientConfig};

/// Go `createDefaultConfig`: gzip.
pub const DEFAULT_COMPRESSION: Compression = Compression::Gzip;

/// `encoding` (Go `EncodingType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Proto,
    Json,
}

/// `exporters: otlphttp:`: the HTTP client keys (`http`, squashed) and the signal URLs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct Config {
    /// `endpoint` is the base URL; `/v1/traces`, `/v1/metrics`, `/v1/logs` are appended.
    /// Compression defaults to gzip.
    #[serde(skip)]
    pub http: HttpClientConfig,
    /// Full URL for traces, instead of `endpoint` + `/v1/traces`.
    pub traces_endpoint: String,
    pub metrics_endpoint: String,
    pub logs_endpoint: String,
    /// Accepted; Ferrotel carries no profiles.
    pub profiles_endpoint: String,
    /// `proto` (default) or `json`.
    pub encoding: Encoding,
}

pipeline_api::squashed!(Config, http);

impl Default for Config {
    fn default() -> Self {
        Config {
            http: HttpClientConfig::default(),
            traces_endpoint: String::new(),
            metrics_endpoint: String::new(),
            logs_endpoint: String::new(),
            profiles_endpoint: String::new(),
            encoding: Encoding::Proto,
        }
    }
}

impl Config {
    /// The compression bodies are sent with.
    pub fn compression(&self) -> Compression {
        self.http.compression_or(DEFAULT_COMPRESSION)
    }

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
        if self.http.endpoint.is_empty() {
            return None;
        }
        let sep = if self.http.endpoint.ends_with('/') {
            ""
        } else {
            "/"
        };
        Some(format!("{}{sep}v1/{}", self.http.endpoint, signal.as_str()))
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.http.endpoint.is_empty()
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
            ("endpoint", &self.http.endpoint),
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
        errors.extend(self.http.validate(DEFAULT_COMPRESSION));
        errors
    }
}

impl ComponentConfig for Config {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        self.http.keys_not_acted_on(CLIENT)
    }
}

/// How this exporter uses the HTTP client: HTTP/2 allowed, bodies compressed here.
pub const CLIENT: ClientOptions = ClientOptions {
    http1_only: false,
    compresses_bodies: true,
};
