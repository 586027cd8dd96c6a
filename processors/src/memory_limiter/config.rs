//! `memory_limiter` config: the Go collector's keys, defaults and validation
//! (`internal/memorylimiter/config.go`; the processor's `Config` is an alias of it).

use pipeline_api::config::{ConfigError, GoDuration, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;

// Go's error values, word for word (`internal/memorylimiter/config.go`).
pub const ERR_CHECK_INTERVAL_OUT_OF_RANGE: &str = "'check_interval' must be greater than zero";
pub const ERR_INCONSISTENT_GC_MIN_INTERVAL: &str =
    "'min_gc_interval_when_soft_limited' should be larger than 'min_gc_interval_when_hard_limited'";
pub const ERR_LIMIT_OUT_OF_RANGE: &str =
    "'limit_mib' or 'limit_percentage' must be greater than zero";
pub const ERR_SPIKE_LIMIT_OUT_OF_RANGE: &str = "'spike_limit_mib' must be smaller than 'limit_mib'";
pub const ERR_SPIKE_LIMIT_PERCENTAGE_OUT_OF_RANGE: &str =
    "'spike_limit_percentage' must be smaller than 'limit_percentage'";
pub const ERR_LIMIT_PERCENTAGE_OUT_OF_RANGE: &str =
    "'limit_percentage' and 'spike_limit_percentage' must be greater than zero and less than or equal to hundred";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Time between measurements. Go's default is 0, which fails validation: it must be set.
    pub check_interval: GoDuration,
    /// Accepted for compatibility; Rust has no garbage collector to force, so unused beyond
    /// validation. Go default 10s.
    pub min_gc_interval_when_soft_limited: GoDuration,
    /// Accepted for compatibility, as above. Go default 0.
    pub min_gc_interval_when_hard_limited: GoDuration,
    /// Hard limit in MiB. Takes precedence over `limit_percentage` when both are set (as Go).
    pub limit_mib: u32,
    /// Expected spike between two measurements, in MiB; the soft limit is
    /// `limit_mib - spike_limit_mib`. 0: 20% of the limit.
    pub spike_limit_mib: u32,
    /// Hard limit in % of the total memory (the container's limit when there is one).
    pub limit_percentage: u32,
    /// Spike in % of the total memory. 0: 20% of the limit.
    pub spike_limit_percentage: u32,
}

impl Default for Config {
    /// Go `NewDefaultConfig`: only `MinGCIntervalWhenSoftLimited: 10 * time.Second`.
    fn default() -> Self {
        Config {
            check_interval: GoDuration::default(),
            min_gc_interval_when_soft_limited: GoDuration::from_secs(10),
            min_gc_interval_when_hard_limited: GoDuration::default(),
            limit_mib: 0,
            spike_limit_mib: 0,
            limit_percentage: 0,
            spike_limit_percentage: 0,
        }
    }
}

impl Validate for Config {
    /// Go `Config.Validate`'s rules and messages, in its order; Go stops at the first, this
    /// reports every one that applies.
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.check_interval.is_zero() {
            errors.push(ConfigError::new(
                &["check_interval"],
                ERR_CHECK_INTERVAL_OUT_OF_RANGE,
            ));
        }
        if self.min_gc_interval_when_soft_limited < self.min_gc_interval_when_hard_limited {
            errors.push(ConfigError::new(
                &["min_gc_interval_when_soft_limited"],
                ERR_INCONSISTENT_GC_MIN_INTERVAL,
            ));
        }
        if self.limit_mib == 0 && self.limit_percentage == 0 {
            errors.push(ConfigError::new(&["limit_mib"], ERR_LIMIT_OUT_OF_RANGE));
        }
        if self.limit_percentage > 100 || self.spike_limit_percentage > 100 {
            errors.push(ConfigError::new(
                &["limit_percentage"],
                ERR_LIMIT_PERCENTAGE_OUT_OF_RANGE,
            ));
        }
        if self.limit_mib > 0 && self.limit_mib <= self.spike_limit_mib {
            errors.push(ConfigError::new(
                &["spike_limit_mib"],
                ERR_SPIKE_LIMIT_OUT_OF_RANGE,
            ));
        }
        if self.limit_percentage > 0 && self.limit_percentage <= self.spike_limit_percentage {
            errors.push(ConfigError::new(
                &["spike_limit_percentage"],
                ERR_SPIKE_LIMIT_PERCENTAGE_OUT_OF_RANGE,
            ));
        }
        errors
    }
}

impl ComponentConfig for Config {}
