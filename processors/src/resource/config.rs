//! `resource` processor config: Go's `processor/resourceprocessor/config.go` — one key,
//! `attributes`, a list of attraction actions applied to resource attributes.

use pipeline_api::config::{ConfigError, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;

use crate::attraction::{ActionKeyValue, AttrProc};

/// Go `createDefaultConfig` is an empty config, which does not validate.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub attributes: Vec<ActionKeyValue>,
}

/// Go `Config.Validate`'s message.
pub const ERR_MISSING_ATTRIBUTES: &str = "missing required field \"attributes\"";

impl Validate for Config {}

impl ComponentConfig for Config {
    /// Go checks the actions when it creates the processor.
    fn check_when_used(&self) -> Vec<ConfigError> {
        if self.attributes.is_empty() {
            return vec![ConfigError::new(&["attributes"], ERR_MISSING_ATTRIBUTES)];
        }
        match AttrProc::new(&self.attributes) {
            Ok(_) => Vec::new(),
            Err(errs) => errs
                .into_iter()
                .map(|e| e.prefixed(&["attributes"]))
                .collect(),
        }
    }
}
