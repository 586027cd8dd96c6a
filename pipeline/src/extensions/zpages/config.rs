//! The `zpages` extension's config: the Go collector's `extension/zpagesextension.Config`
//! (a `confighttp.ServerConfig` plus `expvar`), with its `createDefaultConfig` defaults.

use pipeline_api::config::{ConfigError, ConfigValue, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;

/// Go `defaultEndpoint`.
pub const DEFAULT_ENDPOINT: &str = "localhost:55679";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZPagesConfig {
    /// `host:port` the pages are served on. Go default `localhost:55679`.
    pub endpoint: String,
    /// Go `expvar: {enabled: false}` (`/debug/expvarz`, Go runtime variables): accepted;
    /// Ferrotel has no expvar page.
    pub expvar: ConfigValue,
    // The rest of Go's `confighttp.ServerConfig`: accepted so Go configs load; the pages are
    // served over plain HTTP without them (a non-empty `tls` or `auth` logs a warning).
    pub tls: ConfigValue,
    pub cors: ConfigValue,
    pub auth: ConfigValue,
    pub max_request_body_size: ConfigValue,
    pub include_metadata: ConfigValue,
    pub response_headers: ConfigValue,
    pub compression_algorithms: ConfigValue,
    pub read_timeout: ConfigValue,
    pub read_header_timeout: ConfigValue,
    pub write_timeout: ConfigValue,
    pub idle_timeout: ConfigValue,
    pub keep_alives_enabled: ConfigValue,
    pub middlewares: ConfigValue,
}

impl Default for ZPagesConfig {
    fn default() -> Self {
        ZPagesConfig {
            endpoint: DEFAULT_ENDPOINT.into(),
            expvar: ConfigValue::Null,
            tls: ConfigValue::Null,
            cors: ConfigValue::Null,
            auth: ConfigValue::Null,
            max_request_body_size: ConfigValue::Null,
            include_metadata: ConfigValue::Null,
            response_headers: ConfigValue::Null,
            compression_algorithms: ConfigValue::Null,
            read_timeout: ConfigValue::Null,
            read_header_timeout: ConfigValue::Null,
            write_timeout: ConfigValue::Null,
            idle_timeout: ConfigValue::Null,
            keep_alives_enabled: ConfigValue::Null,
            middlewares: ConfigValue::Null,
        }
    }
}

impl Validate for ZPagesConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.endpoint.trim().is_empty() {
            errors.push(ConfigError::new(&["endpoint"], "must not be empty"));
        }
        errors
    }
}

impl ComponentConfig for ZPagesConfig {
    fn listen_addresses(&self) -> Vec<(String, String)> {
        vec![("endpoint".into(), self.endpoint.clone())]
    }

    fn not_acted_on(&self) -> Vec<(String, String)> {
        [("tls", &self.tls), ("auth", &self.auth)]
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| {
                (
                    k.to_string(),
                    "the zpages are served over plain HTTP".to_string(),
                )
            })
            .collect()
    }
}
