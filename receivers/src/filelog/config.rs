//! The `filelog` receiver's config: Go's `filelogreceiver.FileLogConfig` (the `file_input`
//! operator's `fileconsumer.Config`, `attrs.Resolver`, `matcher.Criteria`, and the stanza
//! adapter's `BaseConfig`), key for key.
//!
//! Go defaults relied on (`pkg/stanza/fileconsumer/config.go` `NewConfig`,
//! `receiver/filelogreceiver` README, `internal/coreinternal/consumerretry`):
//! `include_file_name: true`, `poll_interval: 200ms`, `max_concurrent_files: 1024`,
//! `start_at: end`, `fingerprint_size: 1000` bytes (`1kb`; at least 16), `initial_buffer_size:
//! 16KiB`, `max_log_size: 1MiB`, `encoding: utf-8`, `force_flush_period: 500ms`,
//! `retry_on_failure: {enabled: false, initial_interval: 1s, max_interval: 30s,
//! max_elapsed_time: 5m}`. Validation as Go's `validate()`: `max_log_size` positive,
//! `max_concurrent_files` at least 1, `max_batches` not negative, a known encoding,
//! `delete_after_read` not with `start_at: end`, only one of the multiline patterns.

use std::collections::BTreeMap;

use pipeline_api::config::{ConfigError, ConfigValue, GoDuration, Validate};
use pipeline_api::{ComponentConfig, ComponentId};
use serde::{Deserialize, Deserializer};

use stanza::Pipeline;

use super::encoding::Encoding;

pub use stanza::ByteSize;

/// Go `fingerprint.DefaultSize`.
pub const DEFAULT_FINGERPRINT_SIZE: u64 = 1000;
/// Go `fingerprint.MinSize`.
pub const MIN_FINGERPRINT_SIZE: u64 = 16;
/// Go `reader.DefaultMaxLogSize`.
pub const DEFAULT_MAX_LOG_SIZE: u64 = 1024 * 1024;
/// Go `scanner.DefaultBufferSize`.
pub const DEFAULT_INITIAL_BUFFER_SIZE: u64 = 16 * 1024;

/// A storage extension id (`storage: file_storage/x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageId(pub ComponentId);

impl<'de> Deserialize<'de> for StorageId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ComponentId::parse(&s)
            .map(StorageId)
            .map_err(serde::de::Error::custom)
    }
}

/// `start_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    #[default]
    End,
    Beginning,
}

/// `max_log_size_behavior` (Go: `split` default, `truncate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaxLogSizeBehavior {
    #[default]
    Split,
    Truncate,
}

/// `on_truncate`: what to do when a known file (same fingerprint) shrank below the offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnTruncate {
    /// Go's default: wait until the file grows past the old offset.
    Ignore,
    /// Read the file again from its start. Ferrotel's default (issue 4: "after a truncation
    /// reading restarts at 0"); Go's default is `ignore`.
    #[default]
    ReadWholeFile,
    /// Continue from the new end.
    ReadNew,
}

/// `compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    #[serde(rename = "")]
    None,
    Gzip,
    Auto,
}

/// `multiline` (Go `split.Config`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultilineConfig {
    pub line_start_pattern: String,
    pub line_end_pattern: String,
    pub omit_pattern: bool,
}

/// `retry_on_failure` (Go `consumerretry.Config`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    pub enabled: bool,
    pub initial_interval: GoDuration,
    pub max_interval: GoDuration,
    pub max_elapsed_time: GoDuration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            enabled: false,
            initial_interval: GoDuration::from_secs(1),
            max_interval: GoDuration::from_secs(30),
            max_elapsed_time: GoDuration::from_secs(300),
        }
    }
}

/// `receivers: filelog:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileLogConfig {
    // matcher.Criteria
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub exclude_older_than: Option<GoDuration>,
    /// Go `ordering_criteria`: not supported yet (a config error when set).
    pub ordering_criteria: Option<ConfigValue>,
    // attrs.Resolver
    pub include_file_name: bool,
    pub include_file_path: bool,
    pub include_file_name_resolved: bool,
    pub include_file_path_resolved: bool,
    pub include_file_owner_name: bool,
    pub include_file_owner_group_name: bool,
    pub include_file_record_number: bool,
    pub include_file_record_offset: bool,
    // fileconsumer.Config
    pub poll_interval: GoDuration,
    pub max_concurrent_files: i64,
    pub max_batches: i64,
    pub start_at: StartAt,
    pub fingerprint_size: ByteSize,
    pub initial_buffer_size: ByteSize,
    pub max_log_size: ByteSize,
    pub max_log_size_behavior: MaxLogSizeBehavior,
    pub encoding: String,
    pub multiline: Option<MultilineConfig>,
    pub preserve_leading_whitespaces: bool,
    pub preserve_trailing_whitespaces: bool,
    pub force_flush_period: GoDuration,
    /// Go `header` (behind a feature gate): not supported yet (a config error when set).
    pub header: Option<ConfigValue>,
    pub delete_after_read: bool,
    pub compression: Compression,
    pub polls_to_archive: i64,
    pub acquire_fs_lock: bool,
    pub on_truncate: OnTruncate,
    // helper.InputConfig
    pub attributes: BTreeMap<String, String>,
    pub resource: BTreeMap<String, String>,
    // adapter.BaseConfig
    /// Kept raw and parsed in `validate`, so every error carries its full path.
    pub operators: Vec<ConfigValue>,
    pub storage: Option<StorageId>,
    pub retry_on_failure: RetryConfig,
    /// Ferrotel: read the Docker json-file log of the container Ferrotel itself runs in.
    /// Off by default: a collector that parses its own log lines about those lines feeds on
    /// itself (see [`super::own_container`]). Go has no such key (it reads its own log).
    pub include_own_container_logs: bool,
}

impl Default for FileLogConfig {
    fn default() -> Self {
        FileLogConfig {
            include: Vec::new(),
            exclude: Vec::new(),
            exclude_older_than: None,
            ordering_criteria: None,
            include_file_name: true,
            include_file_path: false,
            include_file_name_resolved: false,
            include_file_path_resolved: false,
            include_file_owner_name: false,
            include_file_owner_group_name: false,
            include_file_record_number: false,
            include_file_record_offset: false,
            poll_interval: GoDuration::from_millis(200),
            max_concurrent_files: 1024,
            max_batches: 0,
            start_at: StartAt::End,
            fingerprint_size: ByteSize(DEFAULT_FINGERPRINT_SIZE),
            initial_buffer_size: ByteSize(DEFAULT_INITIAL_BUFFER_SIZE),
            max_log_size: ByteSize(DEFAULT_MAX_LOG_SIZE),
            max_log_size_behavior: MaxLogSizeBehavior::Split,
            encoding: "utf-8".into(),
            multiline: None,
            preserve_leading_whitespaces: false,
            preserve_trailing_whitespaces: false,
            force_flush_period: GoDuration::from_millis(500),
            header: None,
            delete_after_read: false,
            compression: Compression::None,
            polls_to_archive: 0,
            acquire_fs_lock: false,
            on_truncate: OnTruncate::default(),
            attributes: BTreeMap::new(),
            resource: BTreeMap::new(),
            operators: Vec::new(),
            storage: None,
            retry_on_failure: RetryConfig::default(),
            include_own_container_logs: false,
        }
    }
}

impl ComponentConfig for FileLogConfig {}

impl Validate for FileLogConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errs = Vec::new();
        if self.include.is_empty() {
            errs.push(ConfigError::new(
                &["include"],
                "required argument `include` is empty",
            ));
        }
        for (key, list) in [("include", &self.include), ("exclude", &self.exclude)] {
            for (i, p) in list.iter().enumerate() {
                if let Err(e) = glob::Pattern::new(p) {
                    errs.push(ConfigError::new(
                        &[key, &i.to_string()],
                        format!("parse {key} glob {p:?}: {e}"),
                    ));
                }
            }
        }
        if self.fingerprint_size.0 < MIN_FINGERPRINT_SIZE {
            errs.push(ConfigError::new(
                &["fingerprint_size"],
                format!("'fingerprint_size' must be at least {MIN_FINGERPRINT_SIZE} bytes"),
            ));
        }
        if self.max_log_size.0 == 0 {
            errs.push(ConfigError::new(
                &["max_log_size"],
                "'max_log_size' must be positive",
            ));
        }
        if self.max_concurrent_files < 1 {
            errs.push(ConfigError::new(
                &["max_concurrent_files"],
                "'max_concurrent_files' must be positive",
            ));
        }
        if self.max_batches < 0 {
            errs.push(ConfigError::new(
                &["max_batches"],
                "'max_batches' must not be negative",
            ));
        }
        if self.poll_interval.is_zero() {
            errs.push(ConfigError::new(
                &["poll_interval"],
                "'poll_interval' must be positive",
            ));
        }
        let enc = Encoding::lookup(&self.encoding);
        if let Err(e) = &enc {
            errs.push(ConfigError::new(&["encoding"], e.clone()));
        }
        if self.delete_after_read && self.start_at == StartAt::End {
            errs.push(ConfigError::new(
                &["delete_after_read"],
                "'delete_after_read' cannot be used with 'start_at: end'",
            ));
        }
        if let Some(m) = &self.multiline {
            if !m.line_start_pattern.is_empty() && !m.line_end_pattern.is_empty() {
                errs.push(ConfigError::new(
                    &["multiline"],
                    "only one of line_start_pattern or line_end_pattern can be set",
                ));
            }
            for (key, p) in [
                ("line_start_pattern", &m.line_start_pattern),
                ("line_end_pattern", &m.line_end_pattern),
            ] {
                if p.is_empty() {
                    continue;
                }
                if matches!(enc, Ok(Encoding::Nop)) {
                    errs.push(ConfigError::new(
                        &["multiline", key],
                        format!("{key} should not be set when using nop encoding"),
                    ));
                }
                if let Err(e) = stanza::goregex::compile_bytes(&format!("(?m){p}")) {
                    errs.push(ConfigError::new(
                        &["multiline", key],
                        format!("compile {key} regex: {e}"),
                    ));
                }
            }
        }
        for (key, value) in [
            ("ordering_criteria", self.ordering_criteria.is_some()),
            ("header", self.header.is_some()),
            ("include_file_owner_name", self.include_file_owner_name),
            (
                "include_file_owner_group_name",
                self.include_file_owner_group_name,
            ),
            ("acquire_fs_lock", self.acquire_fs_lock),
        ] {
            if value {
                errs.push(ConfigError::new(
                    &[key],
                    format!("{key} is not supported by Ferrotel's filelog receiver yet"),
                ));
            }
        }
        if self.polls_to_archive < 0 {
            errs.push(ConfigError::new(
                &["polls_to_archive"],
                "'polls_to_archive' must not be negative",
            ));
        }
        for (section, map) in [
            ("attributes", &self.attributes),
            ("resource", &self.resource),
        ] {
            for (k, v) in map {
                if let Err(e) = stanza::expr::ExprString::compile(v) {
                    errs.push(ConfigError::new(&[section, k], e));
                }
            }
        }
        let r = &self.retry_on_failure;
        if r.enabled && r.initial_interval.is_zero() {
            errs.push(ConfigError::new(
                &["retry_on_failure", "initial_interval"],
                "must be positive",
            ));
        }
        if r.enabled && r.max_interval < r.initial_interval {
            errs.push(ConfigError::new(
                &["retry_on_failure", "max_interval"],
                "must not be less than initial_interval",
            ));
        }
        if let Err(es) = Pipeline::validate(&self.operators) {
            errs.extend(es.into_iter().map(|e| e.prefixed(&["operators"])));
        }
        errs
    }
}
