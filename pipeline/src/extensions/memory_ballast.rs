//! `memory_ballast` extension, accepted for configs written for older Go collectors (Go
//! core `extension/ballastextension`, deprecated and then removed from Go releases).
//!
//! A Go ballast is a large allocation that makes Go's garbage collector run less often.
//! Ferrotel has no garbage collector, so the extension does nothing: it keeps such configs
//! starting, and says once at start that it can be removed. `memory_limiter` limits memory
//! in Ferrotel as in Go.
//!
//! Go facts relied on (`config.go`): `size_mib` and `size_in_percentage` (both unsigned,
//! default 0); `size_in_percentage` over 100 is refused with "size_in_percentage is not in
//! range 0 to 100".

use std::sync::Arc;

use pipeline_api::config::{ConfigError, Validate};
use pipeline_api::{
    async_trait, declare, ComponentConfig, ComponentId, Extension, ExtensionFactory, Meta,
    Stability,
};
use serde::Deserialize;

pub const META: Meta = Meta::new("memory_ballast").extension(Stability::Deprecated);

pub fn factory() -> Arc<dyn ExtensionFactory> {
    declare::extension::<MemoryBallastConfig>(META, |ctx, _cfg| {
        Ok(Arc::new(MemoryBallast { id: ctx.id }))
    })
}

/// Go's keys; neither is acted on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryBallastConfig {
    pub size_mib: u64,
    pub size_in_percentage: u64,
}

impl Validate for MemoryBallastConfig {
    fn validate(&self) -> Vec<ConfigError> {
        if self.size_in_percentage > 100 {
            return vec![ConfigError::new(
                &[],
                "size_in_percentage is not in range 0 to 100",
            )];
        }
        Vec::new()
    }
}

impl ComponentConfig for MemoryBallastConfig {
    fn not_acted_on(&self) -> Vec<(String, String)> {
        let why = "a ballast tunes Go's garbage collector; Ferrotel has none";
        let mut out = Vec::new();
        if self.size_mib != 0 {
            out.push(("size_mib".into(), why.into()));
        }
        if self.size_in_percentage != 0 {
            out.push(("size_in_percentage".into(), why.into()));
        }
        out
    }
}

struct MemoryBallast {
    id: ComponentId,
}

#[async_trait]
impl Extension for MemoryBallast {
    async fn start(&self) -> Result<(), pipeline_api::BuildError> {
        tracing::warn!(
            extension = %self.id,
            "The memory_ballast extension does nothing in Ferrotel: a ballast tunes Go's garbage collector, which Ferrotel does not have. It can be removed from the config; memory_limiter limits memory."
        );
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use pipeline_api::config::{parse_typed, ConfigValue};

    use super::*;

    fn parse(s: &str) -> Result<MemoryBallastConfig, Vec<ConfigError>> {
        let v: ConfigValue = serde_yaml_ng::from_str(s).unwrap();
        parse_typed(&v)
    }

    #[test]
    fn gos_keys_parse_and_are_reported_as_not_acted_on() {
        // origin: https://github.com/envoyproxy/envoy/blob/03fc3a4fd81e7f2cc8ab7b4364607e64a62857a9/examples/opentelemetry/otel-collector-config.yaml
        let cfg = parse("size_mib: 512").unwrap();
        assert_eq!(cfg.size_mib, 512);
        let keys: Vec<String> = cfg.not_acted_on().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec!["size_mib"]);
        let cfg = parse("size_in_percentage: 20").unwrap();
        let keys: Vec<String> = cfg.not_acted_on().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec!["size_in_percentage"]);
        assert!(parse("").unwrap().not_acted_on().is_empty());
    }

    #[test]
    fn gos_validation() {
        let errs = parse("size_in_percentage: 101").unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "size_in_percentage is not in range 0 to 100"
        );
        assert!(parse("size_in_percentage: 100").is_ok());
        let errs = parse("size: 1").unwrap_err();
        assert!(
            errs[0].to_string().contains("unknown key \"size\""),
            "{errs:?}"
        );
    }
}
