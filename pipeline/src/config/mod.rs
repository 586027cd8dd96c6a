//! Config loading: sources → merged tree → env expansion → typed, validated [`Plan`].

mod model;
mod service;
mod sources;

pub use model::{addresses_conflict, plan, PipelinePlan, Plan, Planned, PlannedExporter};
pub use service::*;
pub use sources::{
    expand_string, merge, resolve, set_flag_to_source, Environment, Expanded, ProcessEnv,
};

use pipeline_api::config::{ConfigError, ConfigValue};

use crate::registry::Registry;

/// The embedded default config, run when no `--config` is given: OTLP gRPC and HTTP on all
/// interfaces → batch → debug, health_check on 13133, own metrics on 8888.
pub const DEFAULT_CONFIG: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../config-examples/default-config.yaml"
));

/// A loaded config: the resolved tree (for `print-config`) and its validated plan.
pub struct Loaded {
    pub tree: ConfigValue,
    pub plan: Plan,
    pub warnings: Vec<String>,
}

/// `--config` sources plus `--set` flags, resolved and validated. No sources = the embedded
/// default.
pub fn load(
    configs: &[String],
    sets: &[String],
    env: &dyn Environment,
    registry: &Registry,
) -> Result<Loaded, Vec<ConfigError>> {
    let mut sources: Vec<String> = if configs.is_empty() {
        vec![format!("yaml:{DEFAULT_CONFIG}")]
    } else {
        configs.to_vec()
    };
    let mut errors = Vec::new();
    for s in sets {
        match set_flag_to_source(s) {
            Ok(src) => sources.push(src),
            Err(e) => errors.push(ConfigError::new(&[], e)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let resolved = resolve(&sources, env)?;
    let plan = plan(&resolved.tree, registry)?;
    let mut warnings = resolved.warnings;
    warnings.extend(plan.warnings.iter().cloned());
    Ok(Loaded {
        tree: resolved.tree,
        plan,
        warnings,
    })
}

/// Keys whose values are secrets: `print-config` shows `[REDACTED]` for them.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "token",
        "secret",
        "api_key",
        "apikey",
        "key_pem",
        "authorization",
        "bearer",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// The tree with secrets redacted: every value under `headers`, and keys that name secrets.
pub fn redact(tree: &ConfigValue) -> ConfigValue {
    fn walk(v: &ConfigValue, redact_all: bool) -> ConfigValue {
        match v {
            ConfigValue::Mapping(m) => ConfigValue::Mapping(
                m.iter()
                    .map(|(k, v)| {
                        let key = k.as_str().unwrap_or_default();
                        let secret = redact_all || is_secret_key(key);
                        let under_headers = key == "headers";
                        (k.clone(), walk(v, secret || under_headers))
                    })
                    .collect(),
            ),
            ConfigValue::Sequence(s) => {
                ConfigValue::Sequence(s.iter().map(|v| walk(v, redact_all)).collect())
            }
            ConfigValue::Null => ConfigValue::Null,
            _ if redact_all => ConfigValue::String("[REDACTED]".into()),
            other => other.clone(),
        }
    }
    walk(tree, false)
}

#[cfg(test)]
mod tests;
