//! `batch` processor config: the Go collector's keys and defaults
//! (`processor/batchprocessor/config.go`, `factory.go` `createDefaultConfig`).

use pipeline_api::config::{ConfigError, GoDuration, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;

/// Go `defaultSendBatchSize = uint32(8192)`.
pub const DEFAULT_SEND_BATCH_SIZE: u32 = 8192;
/// Go `defaultTimeout = 200 * time.Millisecond`.
pub const DEFAULT_TIMEOUT_MS: u64 = 200;
/// Go `defaultMetadataCardinalityLimit = 1000`.
pub const DEFAULT_METADATA_CARDINALITY_LIMIT: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Items (spans, data points, log records) after which a batch is sent regardless of the
    /// timeout. `0`: every item is sent immediately, subject only to `send_batch_max_size`.
    pub send_batch_size: u32,
    /// Time after which a pending batch is sent regardless of its size. `0`: send immediately.
    pub timeout: GoDuration,
    /// Upper limit of a sent batch; larger ones are split. `0`: no limit.
    pub send_batch_max_size: u32,
    /// Client metadata keys (case-insensitive) whose value combination selects a separate
    /// batcher.
    pub metadata_keys: Vec<String>,
    /// Most distinct value combinations of `metadata_keys` over the processor's lifetime.
    /// `0`: no limit (Go: `metadataLimit != 0 && size >= metadataLimit`).
    pub metadata_cardinality_limit: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            send_batch_size: DEFAULT_SEND_BATCH_SIZE,
            timeout: GoDuration::from_millis(DEFAULT_TIMEOUT_MS),
            send_batch_max_size: 0,
            metadata_keys: Vec::new(),
            metadata_cardinality_limit: DEFAULT_METADATA_CARDINALITY_LIMIT,
        }
    }
}

impl Validate for Config {
    /// Go `Config.Validate`, with its messages. (A negative `timeout` is refused while parsing:
    /// `GoDuration` takes no negative value.)
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.send_batch_max_size > 0 && self.send_batch_max_size < self.send_batch_size {
            errors.push(ConfigError::new(
                &["send_batch_max_size"],
                "send_batch_max_size must be greater or equal to send_batch_size",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for key in &self.metadata_keys {
            let lower = key.to_ascii_lowercase();
            if !seen.insert(lower.clone()) {
                errors.push(ConfigError::new(
                    &["metadata_keys"],
                    format!("duplicate entry in metadata_keys: {lower:?} (case-insensitive)"),
                ));
            }
        }
        errors
    }
}

impl ComponentConfig for Config {}

impl Config {
    /// The metadata keys as the batcher uses them: lower-case and sorted (Go
    /// `newBatchProcessor`: `strings.ToLower` then `sort.Strings`).
    pub fn normalized_metadata_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .metadata_keys
            .iter()
            .map(|k| k.to_ascii_lowercase())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}
