//! `attributes` processor config: Go's `processor/attributesprocessor/config.go` — the
//! `filterconfig.MatchConfig` keys (`include`, `exclude`) and the `attraction.Settings`
//! key (`actions`), squashed into one map.

use pipeline_api::config::{ConfigError, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;

use crate::attraction::{ActionKeyValue, AttrProc};
use crate::filter::MatchProperties;

/// Go `createDefaultConfig` is an empty config, which does not validate (no actions).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub include: Option<MatchProperties>,
    pub exclude: Option<MatchProperties>,
    pub actions: Vec<ActionKeyValue>,
}

/// Go `Config.Validate`'s message.
pub const ERR_MISSING_ACTIONS: &str = "missing required field \"actions\"";

impl Config {
    pub fn match_config(&self) -> crate::filter::MatchConfig {
        crate::filter::MatchConfig {
            include: self.include.clone(),
            exclude: self.exclude.clone(),
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        self.match_config().validate()
    }
}

impl ComponentConfig for Config {
    /// Go checks the actions when it creates the processor (`attraction.NewAttrProc`).
    fn check_when_used(&self) -> Vec<ConfigError> {
        if self.actions.is_empty() {
            return vec![ConfigError::new(&["actions"], ERR_MISSING_ACTIONS)];
        }
        match AttrProc::new(&self.actions) {
            Ok(_) => Vec::new(),
            Err(errs) => errs.into_iter().map(|e| e.prefixed(&["actions"])).collect(),
        }
    }
}
