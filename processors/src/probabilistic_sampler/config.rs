//! `probabilistic_sampler` config: Go's `processor/probabilisticsamplerprocessor/config.go`
//! and `factory.go` (`createDefaultConfig`: `attribute_source: traceID`, `fail_closed:
//! true`, mode unset, `sampling_precision: 4`; `sampling_percentage` and `hash_seed` 0).

use pipeline_api::config::{ConfigError, Validate};
use pipeline_api::ComponentConfig;
use serde::{Deserialize, Deserializer};

use super::sampling::{MIN_SAMPLING_PROBABILITY, NUM_HEX_DIGITS};

/// Go `defaultPrecision = 4`.
pub const DEFAULT_PRECISION: i64 = 4;

/// Go `SamplerMode`. Unset means `hash_seed` (Go `defaultMode = HashSeed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SamplerMode {
    #[default]
    Unset,
    HashSeed,
    Equalizing,
    Proportional,
}

impl<'de> Deserialize<'de> for SamplerMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // Go `SamplerMode.UnmarshalText`, with its message.
        match s.as_str() {
            "" => Ok(SamplerMode::Unset),
            "hash_seed" => Ok(SamplerMode::HashSeed),
            "equalizing" => Ok(SamplerMode::Equalizing),
            "proportional" => Ok(SamplerMode::Proportional),
            other => Err(serde::de::Error::custom(format!(
                "unsupported sampler mode {other:?}; expected one of hash_seed, equalizing, proportional"
            ))),
        }
    }
}

/// Go `AttributeSource` (logs only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum AttributeSource {
    #[default]
    #[serde(rename = "traceID")]
    TraceId,
    #[serde(rename = "record")]
    Record,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Percentage of items kept; `>= 100` keeps all, 0 none. A float32 in Go, and the
    /// `hash_seed` arithmetic is done in float32, as there.
    pub sampling_percentage: f32,
    pub hash_seed: u32,
    pub mode: SamplerMode,
    /// Drop items whose randomness cannot be determined (or whose tracestate is invalid).
    pub fail_closed: bool,
    /// Hex digits of the threshold written in `th`, 1..=14.
    pub sampling_precision: i64,
    /// Logs: `traceID` (the record's trace id, else `from_attribute`) or `record`.
    pub attribute_source: AttributeSource,
    /// Logs: the record attribute hashed when there is no trace id (or with `record`).
    pub from_attribute: String,
    /// Logs: a record attribute holding a sampling percentage for that record.
    pub sampling_priority: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sampling_percentage: 0.0,
            hash_seed: 0,
            mode: SamplerMode::Unset,
            fail_closed: true,
            sampling_precision: DEFAULT_PRECISION,
            attribute_source: AttributeSource::TraceId,
            from_attribute: String::new(),
            sampling_priority: String::new(),
        }
    }
}

/// Go's `%f` of a float32 (`+Inf`, `NaN` for the special values).
fn go_percent_f(v: f32) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{:.6}", f64::from(v))
    }
}

impl Validate for Config {
    /// Go `Config.Validate`, with its messages; all that apply are reported.
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let pct = f64::from(self.sampling_percentage);
        if !pct.is_finite() {
            errors.push(ConfigError::new(
                &["sampling_percentage"],
                format!(
                    "sampling rate is invalid: {}%",
                    go_percent_f(self.sampling_percentage)
                ),
            ));
        } else {
            let ratio = pct / 100.0;
            if ratio < 0.0 {
                errors.push(ConfigError::new(
                    &["sampling_percentage"],
                    format!(
                        "sampling rate is negative: {}%",
                        go_percent_f(self.sampling_percentage)
                    ),
                ));
            } else if ratio != 0.0 && ratio < MIN_SAMPLING_PROBABILITY {
                errors.push(ConfigError::new(
                    &["sampling_percentage"],
                    // Go `%g`: always the exponent form at these magnitudes.
                    format!(
                        "sampling rate is too small: {:e}%",
                        self.sampling_percentage
                    ),
                ));
            }
        }
        // Go refuses 0 and more than 14; a negative precision is refused here too (Go
        // would accept it and compute nonsense thresholds).
        if self.sampling_precision <= 0 {
            errors.push(ConfigError::new(
                &["sampling_precision"],
                format!("invalid sampling precision: {}", self.sampling_precision),
            ));
        } else if self.sampling_precision > NUM_HEX_DIGITS as i64 {
            errors.push(ConfigError::new(
                &["sampling_precision"],
                format!(
                    "sampling precision is too great, should be <= 14: {}",
                    self.sampling_precision
                ),
            ));
        }
        errors
    }
}

impl ComponentConfig for Config {}
