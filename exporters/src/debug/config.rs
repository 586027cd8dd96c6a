//! `debug` exporter config (Go `exporter/debugexporter/config.go`, `factory.go`), which also
//! takes the removed `logging` exporter's `loglevel` (Go `exporter/loggingexporter/config.go`).

use std::fmt;

use pipeline_api::config::{nearest, ConfigError, Validate};
use pipeline_api::ComponentConfig;
use serde::{Deserialize, Deserializer};

/// Go `defaultSamplingInitial = 2`.
pub const DEFAULT_SAMPLING_INITIAL: i64 = 2;
/// Go `defaultSamplingThereafter = 1` (debug; the old `logging` exporter had 500).
pub const DEFAULT_SAMPLING_THEREAFTER: i64 = 1;

/// Go `configtelemetry.Level`, as the exporter's verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    None,
    Basic,
    Normal,
    Detailed,
}

impl Verbosity {
    /// Go `Level.String()`.
    pub fn as_go_str(self) -> &'static str {
        match self {
            Verbosity::None => "None",
            Verbosity::Basic => "Basic",
            Verbosity::Normal => "Normal",
            Verbosity::Detailed => "Detailed",
        }
    }
}

impl fmt::Display for Verbosity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_go_str())
    }
}

impl<'de> Deserialize<'de> for Verbosity {
    /// Go `Level.UnmarshalText`: case-insensitive `none|basic|normal|detailed`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Verbosity::None),
            "basic" => Ok(Verbosity::Basic),
            "normal" => Ok(Verbosity::Normal),
            "detailed" => Ok(Verbosity::Detailed),
            other => {
                let valid: Vec<String> = ["basic", "normal", "detailed"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                let mut msg = format!(
                    "unknown metrics level {other:?}; expected one of basic, normal, detailed"
                );
                if let Some(n) = nearest(other, &valid) {
                    msg.push_str(&format!(" (did you mean {n:?}?)"));
                }
                Err(serde::de::Error::custom(msg))
            }
        }
    }
}

/// zap's levels, the deprecated `loglevel` key's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
    DPanic,
    Panic,
    Fatal,
}

impl LogLevel {
    /// Go `loggingexporter.mapLevel`: debug → detailed, info → normal, anything above → basic.
    pub fn verbosity(self) -> Verbosity {
        match self {
            LogLevel::Debug => Verbosity::Detailed,
            LogLevel::Info => Verbosity::Normal,
            _ => Verbosity::Basic,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::DPanic => "dpanic",
            LogLevel::Panic => "panic",
            LogLevel::Fatal => "fatal",
        }
    }
}

impl<'de> Deserialize<'de> for LogLevel {
    /// zap `Level.UnmarshalText`: lower or upper case; empty is info.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "debug" | "DEBUG" => LogLevel::Debug,
            "info" | "INFO" | "" => LogLevel::Info,
            "warn" | "WARN" => LogLevel::Warn,
            "error" | "ERROR" => LogLevel::Error,
            "dpanic" | "DPANIC" => LogLevel::DPanic,
            "panic" | "PANIC" => LogLevel::Panic,
            "fatal" | "FATAL" => LogLevel::Fatal,
            _ => {
                return Err(serde::de::Error::custom(format!(
                    "unrecognized level: {s:?}"
                )))
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// basic | normal | detailed; default basic.
    pub verbosity: Option<Verbosity>,
    /// Deprecated (`logging` exporter): debug → detailed, info → normal, warn and above → basic.
    /// May not be set together with `verbosity`.
    pub loglevel: Option<LogLevel>,
    /// Messages written in each second before sampling starts.
    pub sampling_initial: i64,
    /// After those, every `sampling_thereafter`-th message is written (1: all).
    pub sampling_thereafter: i64,
    /// Go writes through the collector's logger when true (timestamp, level and component
    /// fields on each entry) and plainly otherwise; Ferrotel writes both forms to stdout.
    pub use_internal_logger: bool,
    /// `stdout`, `stderr` or file paths; only with `use_internal_logger: false`.
    pub output_paths: Option<Vec<String>>,
}

impl Default for Config {
    /// Go `createDefaultConfig`: verbosity basic, sampling 2 / 1, internal logger on.
    fn default() -> Self {
        Config {
            verbosity: None,
            loglevel: None,
            sampling_initial: DEFAULT_SAMPLING_INITIAL,
            sampling_thereafter: DEFAULT_SAMPLING_THEREAFTER,
            use_internal_logger: true,
            output_paths: None,
        }
    }
}

impl Config {
    /// The verbosity in effect: `loglevel` mapped when set, else `verbosity`, else basic.
    pub fn effective_verbosity(&self) -> Verbosity {
        match (self.loglevel, self.verbosity) {
            (Some(l), _) => l.verbosity(),
            (None, Some(v)) => v,
            (None, None) => Verbosity::Basic,
        }
    }

    /// Where output goes: `output_paths`, or stdout.
    pub fn outputs(&self) -> Vec<String> {
        match &self.output_paths {
            Some(p) if !self.use_internal_logger && !p.is_empty() => p.clone(),
            _ => vec!["stdout".to_string()],
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        // Go loggingexporter Config.Unmarshal
        if self.loglevel.is_some() && self.verbosity.is_some() {
            errors.push(ConfigError::new(
                &[],
                "'loglevel' and 'verbosity' are incompatible. Use only 'verbosity' instead",
            ));
        }
        // Go debugexporter Config.Validate
        let v = self.effective_verbosity();
        if v == Verbosity::None {
            errors.push(ConfigError::new(
                &["verbosity"],
                format!("verbosity level {:?} is not supported", v.as_go_str()),
            ));
        }
        if self.use_internal_logger && self.output_paths.is_some() {
            errors.push(ConfigError::new(
                &["output_paths"],
                "output_paths is not supported when use_internal_logger is true",
            ));
        }
        if !self.use_internal_logger && self.output_paths.as_ref().is_some_and(|p| p.is_empty()) {
            errors.push(ConfigError::new(
                &["output_paths"],
                "output_paths must not be empty when use_internal_logger is false",
            ));
        }
        errors
    }
}

impl ComponentConfig for Config {}
