//! The `file_storage` config, with the Go contrib defaults (`extension/storage/filestorage`,
//! `createDefaultConfig`).

use pipeline_api::config::{ConfigError, GoDuration, Validate};
use pipeline_api::ComponentConfig;
use serde::{Deserialize, Deserializer};

/// Go's default directory on Linux and the other Unix systems.
pub const DEFAULT_DIRECTORY_UNIX: &str = "/var/lib/otelcol/file_storage";

/// Go's default directory: `/var/lib/otelcol/file_storage`, or
/// `%ProgramData%\Otelcol\FileStorage` on Windows.
pub fn default_directory() -> String {
    if cfg!(windows) {
        let base = std::env::var("ProgramData").unwrap_or_else(|_| "C:\\ProgramData".into());
        format!("{base}\\Otelcol\\FileStorage")
    } else {
        DEFAULT_DIRECTORY_UNIX.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileStorageConfig {
    /// Where the per-component database files live. Go default
    /// `/var/lib/otelcol/file_storage`; it must exist unless `create_directory` is set.
    pub directory: String,
    /// How long opening a database waits for another process to release its file lock
    /// (Go default 1s; zero waits for ever, as bbolt does).
    pub timeout: GoDuration,
    /// Sync each commit to the disk (Go default false). Without it a commit survives the
    /// process being killed, not the machine losing power.
    pub fsync: bool,
    /// Create `directory` when missing (Go default false), with `directory_permissions`.
    pub create_directory: bool,
    /// Octal permissions of a created directory (Go default `"0750"`, before the umask).
    pub directory_permissions: String,
    /// Largest storage, in bytes, one database may use; 0 or less means no limit (Go default 0).
    pub max_size: i64,
    /// Move a database that cannot be opened aside (`<file>.<time>.backup`) and start a fresh
    /// one, instead of failing (Go default false).
    pub recreate: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub compaction: CompactionConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompactionConfig {
    /// Compact each database when its client is opened (Go default false).
    pub on_start: bool,
    /// Accepted for compatibility; the store reuses freed pages, so online compaction is not
    /// run (Go default false).
    pub on_rebound: bool,
    /// Go's scratch directory for compaction; this store compacts in place and does not use it
    /// (Go default: the default `directory`).
    pub directory: String,
    /// Go default 65536 (bbolt's); must not be negative.
    pub max_transaction_size: i64,
    /// Go default 100.
    pub rebound_needed_threshold_mib: i64,
    /// Go default 10.
    pub rebound_trigger_threshold_mib: i64,
    /// Go default 5s; must be positive when `on_rebound` is set.
    pub check_interval: GoDuration,
    /// Go removes its leftover compaction files on start; this store leaves none (Go default
    /// false).
    pub cleanup_on_start: bool,
}

impl Default for FileStorageConfig {
    fn default() -> Self {
        FileStorageConfig {
            directory: default_directory(),
            timeout: GoDuration::from_secs(1),
            fsync: false,
            create_directory: false,
            directory_permissions: "0750".into(),
            max_size: 0,
            recreate: false,
            compaction: CompactionConfig::default(),
        }
    }
}

impl Default for CompactionConfig {
    fn default() -> Self {
        CompactionConfig {
            on_start: false,
            on_rebound: false,
            directory: default_directory(),
            max_transaction_size: 65_536,
            rebound_needed_threshold_mib: 100,
            rebound_trigger_threshold_mib: 10,
            check_interval: GoDuration::from_secs(5),
            cleanup_on_start: false,
        }
    }
}

/// `compaction:` with no value keeps the defaults.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Go's message when `directory_permissions` is not an octal number.
pub const INVALID_OCTAL: &str = "directory_permissions value must be a valid octal representation";
/// Go's message when `directory_permissions` sets bits beyond the permission bits.
pub const INVALID_PERMISSION_BITS: &str =
    "directory_permissions contain invalid bits for file access";

/// Parse `directory_permissions` as Go does (`strconv.ParseInt(s, 8, 32)`, then only the
/// permission bits `0o777` allowed).
pub fn parse_permissions(text: &str) -> Result<u32, &'static str> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(INVALID_OCTAL);
    }
    let value = i64::from_str_radix(digits, 8).map_err(|_| INVALID_OCTAL)?;
    let value = if negative { -value } else { value };
    if value < i64::from(i32::MIN) || value > i64::from(i32::MAX) {
        return Err(INVALID_OCTAL);
    }
    if value & 0o777 != value {
        return Err(INVALID_PERMISSION_BITS);
    }
    u32::try_from(value).map_err(|_| INVALID_PERMISSION_BITS)
}

impl FileStorageConfig {
    /// The parsed `directory_permissions` (only meaningful with `create_directory`).
    pub fn directory_mode(&self) -> u32 {
        parse_permissions(&self.directory_permissions).unwrap_or(0o750)
    }
}

impl Validate for FileStorageConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.directory.trim().is_empty() {
            errors.push(ConfigError::new(&["directory"], "must not be empty"));
        }
        // Go: "max transaction size for compaction cannot be less than 0".
        if self.compaction.max_transaction_size < 0 {
            errors.push(ConfigError::new(
                &["compaction", "max_transaction_size"],
                "max transaction size for compaction cannot be less than 0",
            ));
        }
        // Go: the check interval must be positive when rebound compaction is set.
        if self.compaction.on_rebound && self.compaction.check_interval.is_zero() {
            errors.push(ConfigError::new(
                &["compaction", "check_interval"],
                "compaction check interval must be positive when rebound compaction is set",
            ));
        }
        // Go: without create_directory, the directories must exist (checked by validate,
        // with Go's message)
        if !self.create_directory && !self.directory.trim().is_empty() {
            let mut dirs = vec![("directory", self.directory.as_str())];
            if self.compaction.on_start || self.compaction.on_rebound {
                dirs.push(("compaction::directory", self.compaction.directory.as_str()));
            }
            for (key, dir) in dirs {
                let path: Vec<&str> = key.split("::").collect();
                match std::fs::metadata(dir) {
                    Err(e) => errors.push(ConfigError::new(
                        &path,
                        format!(
                            "directory must exist: stat {dir}: {}. You can enable the create_directory option to automatically create it",
                            io_reason(&e)
                        ),
                    )),
                    Ok(m) if !m.is_dir() => {
                        errors.push(ConfigError::new(&path, format!("{dir} is not a directory")))
                    }
                    Ok(_) => {}
                }
            }
        }
        // Go checks the permissions only when the directory is to be created.
        if self.create_directory {
            if let Err(message) = parse_permissions(&self.directory_permissions) {
                errors.push(ConfigError::new(&["directory_permissions"], message));
            }
        }
        errors
    }
}

impl ComponentConfig for FileStorageConfig {}

/// An I/O error as Go's `os.Stat` words it.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
