//! `file` exporter config: Go `exporter/fileexporter/config.go`, `config_custom.go` and
//! `factory.go` (`createDefaultConfig`: `format: json`, `rotation.max_backups: 100`,
//! `group_by.resource_attribute: fileexporter.path_segment`, `group_by.max_open_files: 100`;
//! `Unmarshal`: `rotation` is off unless the key is present, `flush_interval` 0 becomes 1s).

use pipeline_api::config::{ConfigError, GoDuration, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;
use transport::compression::{Compression, CompressionParams};

/// Go `defaultMaxBackups`.
pub const DEFAULT_MAX_BACKUPS: i64 = 100;
/// Go `defaultResourceAttribute`.
pub const DEFAULT_RESOURCE_ATTRIBUTE: &str = "fileexporter.path_segment";
/// Go `defaultMaxOpenFiles`.
pub const DEFAULT_MAX_OPEN_FILES: i64 = 100;
/// timberjack (Go's rotating writer): `max_megabytes` 0 means 100 MB.
pub const DEFAULT_MAX_MEGABYTES: i64 = 100;

/// `exporters: file:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The file written; with `group_by`, a pattern holding exactly one `*`.
    pub path: String,
    /// Append to an existing file instead of truncating it (not with `rotation` or
    /// `compression`).
    pub append: bool,
    /// Rotation; absent (the default) means none.
    pub rotation: Option<Rotation>,
    /// `json` (one OTLP/JSON request per line) or `proto` (length-prefixed protobuf).
    pub format: String,
    /// An encoding extension: refused (Ferrotel has no encoding extensions).
    pub encoding: Option<String>,
    /// `zstd` or empty.
    pub compression: String,
    pub compression_params: CompressionParams,
    /// How often buffered writes reach the file; 0 means Go's 1s.
    pub flush_interval: GoDuration,
    pub group_by: GroupBy,
    /// Create the file's directory at start.
    pub create_directory: bool,
    /// Octal permissions of created directories (default `0755`); needs `create_directory`.
    pub directory_permissions: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            path: String::new(),
            append: false,
            rotation: None,
            format: "json".into(),
            encoding: None,
            compression: String::new(),
            compression_params: CompressionParams::default(),
            flush_interval: GoDuration::from_secs(0),
            group_by: GroupBy::default(),
            create_directory: false,
            directory_permissions: String::new(),
        }
    }
}

/// `rotation`: Go's timberjack settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rotation {
    /// Size in MB at which the file is rotated (0: 100).
    pub max_megabytes: i64,
    /// Backups older than this many days are removed (0: kept whatever their age).
    pub max_days: i64,
    /// At most this many backups are kept (0: all).
    pub max_backups: i64,
    /// Backup names carry local time instead of UTC.
    pub localtime: bool,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_megabytes: 0,
            max_days: 0,
            max_backups: DEFAULT_MAX_BACKUPS,
            localtime: false,
        }
    }
}

/// `group_by`: one file per value of a resource attribute.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupBy {
    pub enabled: bool,
    pub resource_attribute: String,
    pub max_open_files: i64,
}

impl Default for GroupBy {
    fn default() -> Self {
        GroupBy {
            enabled: false,
            resource_attribute: DEFAULT_RESOURCE_ATTRIBUTE.into(),
            max_open_files: DEFAULT_MAX_OPEN_FILES,
        }
    }
}

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Proto,
}

impl Config {
    pub fn format(&self) -> Format {
        if self.format == "proto" {
            Format::Proto
        } else {
            Format::Json
        }
    }

    pub fn zstd(&self) -> bool {
        self.compression == "zstd"
    }

    /// Go `Unmarshal`: 0 (unset) becomes one second.
    pub fn flush_interval(&self) -> std::time::Duration {
        if self.flush_interval.is_zero() {
            std::time::Duration::from_secs(1)
        } else {
            self.flush_interval.get()
        }
    }

    /// The parsed `directory_permissions` (Go's default 0755).
    pub fn directory_mode(&self) -> u32 {
        if self.directory_permissions.is_empty() {
            0o755
        } else {
            u32::from_str_radix(&self.directory_permissions, 8).unwrap_or(0o755)
        }
    }
}

impl Validate for Config {
    /// Go `Config.Validate`, its messages word for word.
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.path.is_empty() {
            errors.push(ConfigError::new(&["path"], "path must be non-empty"));
        }
        if self.append && !self.compression.is_empty() {
            errors.push(ConfigError::new(
                &["append"],
                "append and compression enabled at the same time is not supported",
            ));
        }
        if self.append && self.rotation.is_some() {
            errors.push(ConfigError::new(
                &["append"],
                "append and rotation enabled at the same time is not supported",
            ));
        }
        if self.format != "json" && self.format != "proto" {
            errors.push(ConfigError::new(
                &["format"],
                "format type is not supported",
            ));
        }
        if !self.compression.is_empty() && self.compression != "zstd" {
            errors.push(ConfigError::new(
                &["compression"],
                "compression is not supported",
            ));
        }
        if let Err(e) = self.compression_params.check(if self.zstd() {
            Compression::Zstd
        } else {
            Compression::None
        }) {
            errors.push(ConfigError::new(&["compression_params", "level"], e));
        }
        if let Some(id) = &self.encoding {
            errors.push(ConfigError::new(
                &["encoding"],
                format!(
                    "encoding extensions are not supported by Ferrotel (got {id:?}); use `format: json` or `format: proto`"
                ),
            ));
        }
        if self.group_by.enabled {
            let parts: Vec<&str> = self.path.split('*').collect();
            if parts.len() != 2 {
                errors.push(ConfigError::new(
                    &["path"],
                    "path must contain exactly one * when group_by is enabled",
                ));
            } else if parts[0].is_empty() {
                errors.push(ConfigError::new(
                    &["path"],
                    "path must not start with * when group_by is enabled",
                ));
            }
            if self.group_by.resource_attribute.is_empty() {
                errors.push(ConfigError::new(
                    &["group_by", "resource_attribute"],
                    "resource_attribute must not be empty when group_by is enabled",
                ));
            }
            if self.group_by.max_open_files <= 0 {
                // Go: simplelru.NewLRU refuses a non-positive size when the exporter starts.
                errors.push(ConfigError::new(
                    &["group_by", "max_open_files"],
                    "must provide a positive size",
                ));
            }
        }
        if self.create_directory {
            if !self.directory_permissions.is_empty() {
                match i64::from_str_radix(&self.directory_permissions, 8) {
                    Err(_) => errors.push(ConfigError::new(
                        &["directory_permissions"],
                        "directory_permissions value must be a valid octal representation",
                    )),
                    Ok(p) if p & 0o777 != p => errors.push(ConfigError::new(
                        &["directory_permissions"],
                        "directory_permissions contain invalid bits for file access",
                    )),
                    Ok(_) => {}
                }
            }
        } else if !self.directory_permissions.is_empty() {
            errors.push(ConfigError::new(
                &["directory_permissions"],
                "directory_permissions requires create_directory to be true",
            ));
        }
        errors
    }
}

impl ComponentConfig for Config {}
