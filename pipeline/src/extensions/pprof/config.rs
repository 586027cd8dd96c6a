//! The `pprof` extension's config: the Go collector's `extension/pprofextension.Config`, key
//! for key, with its `createDefaultConfig` defaults.

use pipeline_api::config::{ConfigError, ConfigValue, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;

/// Go `defaultEndpoint`.
pub const DEFAULT_ENDPOINT: &str = "localhost:1777";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PprofConfig {
    /// `host:port` the profiling endpoints listen on. Go default `localhost:1777`.
    pub endpoint: String,
    /// Go's `confignet.TCPAddrConfig.dialer` (`timeout`): accepted, unused by a server.
    pub dialer: ConfigValue,
    /// Go `runtime.SetBlockProfileRate`. Accepted; Ferrotel has no block profile, so a
    /// non-zero value only logs that (Go default 0).
    pub block_profile_fraction: i64,
    /// Go `runtime.SetMutexProfileFraction`. Accepted; Ferrotel has no mutex profile, so a
    /// non-zero value only logs that (Go default 0).
    pub mutex_profile_fraction: i64,
    /// When set, a CPU profile runs from start to shutdown and is written to this file
    /// (gzipped pprof protobuf, as Go writes it). Go default "" (off).
    pub save_to_file: String,
}

impl Default for PprofConfig {
    fn default() -> Self {
        PprofConfig {
            endpoint: DEFAULT_ENDPOINT.into(),
            dialer: ConfigValue::Null,
            block_profile_fraction: 0,
            mutex_profile_fraction: 0,
            save_to_file: String::new(),
        }
    }
}

impl Validate for PprofConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.endpoint.trim().is_empty() {
            errors.push(ConfigError::new(&["endpoint"], "must not be empty"));
        }
        errors
    }
}

impl ComponentConfig for PprofConfig {
    fn listen_addresses(&self) -> Vec<(String, String)> {
        vec![("endpoint".into(), self.endpoint.clone())]
    }
}
