//! `tail_sampling` config: Go's `processor/tailsamplingprocessor/config.go` and `factory.go`
//! (`createDefaultConfig`: `decision_wait: 30s`, `num_traces: 50000`).

use pipeline_api::config::{ConfigError, GoDuration, Validate};
use pipeline_api::ComponentConfig;
use serde::Deserialize;

/// Go `DecisionWait: 30 * time.Second`.
pub const DEFAULT_DECISION_WAIT_SECS: u64 = 30;
/// Go `NumTraces: 50000`.
pub const DEFAULT_NUM_TRACES: u64 = 50_000;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Wait from the first span of a trace until its decision.
    pub decision_wait: GoDuration,
    /// When a root span (no parent) arrives, decide this long after it if that is sooner.
    /// 0: off.
    pub decision_wait_after_root_received: GoDuration,
    /// Traces held in memory (undecided, and decided ones remembered without a cache).
    pub num_traces: u64,
    /// A sizing hint in Go; accepted, nothing to size here.
    pub expected_new_traces_per_sec: u64,
    pub decision_cache: DecisionCacheConfig,
    /// Stop evaluating policies at the first that samples.
    pub sample_on_first_match: bool,
    /// When `num_traces` is reached: refuse new traces with a retryable error (true) instead
    /// of evicting the oldest (false, the default).
    pub block_on_overflow: bool,
    /// At shutdown, drop undecided traces instead of deciding them at once.
    pub drop_pending_traces_on_shutdown: bool,
    /// A trace growing beyond this many bytes (protobuf size) is dropped at once. 0: off.
    pub maximum_trace_size_bytes: u64,
    pub policies: Vec<PolicyCfg>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            decision_wait: GoDuration::from_secs(DEFAULT_DECISION_WAIT_SECS),
            decision_wait_after_root_received: GoDuration::default(),
            num_traces: DEFAULT_NUM_TRACES,
            expected_new_traces_per_sec: 0,
            decision_cache: DecisionCacheConfig::default(),
            sample_on_first_match: false,
            block_on_overflow: false,
            drop_pending_traces_on_shutdown: false,
            maximum_trace_size_bytes: 0,
            policies: Vec::new(),
        }
    }
}

/// Go `DecisionCacheConfig`: 0 disables a cache (decided traces are then remembered in the
/// trace map until evicted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecisionCacheConfig {
    pub sampled_cache_size: usize,
    pub non_sampled_cache_size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyType {
    AlwaysSample,
    Latency,
    NumericAttribute,
    Probabilistic,
    StatusCode,
    StringAttribute,
    RateLimiting,
    BytesLimiting,
    SpanCount,
    TraceState,
    BooleanAttribute,
    OttlCondition,
    Composite,
    And,
    Drop,
    Not,
}

impl PolicyType {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::AlwaysSample => "always_sample",
            PolicyType::Latency => "latency",
            PolicyType::NumericAttribute => "numeric_attribute",
            PolicyType::Probabilistic => "probabilistic",
            PolicyType::StatusCode => "status_code",
            PolicyType::StringAttribute => "string_attribute",
            PolicyType::RateLimiting => "rate_limiting",
            PolicyType::BytesLimiting => "bytes_limiting",
            PolicyType::SpanCount => "span_count",
            PolicyType::TraceState => "trace_state",
            PolicyType::BooleanAttribute => "boolean_attribute",
            PolicyType::OttlCondition => "ottl_condition",
            PolicyType::Composite => "composite",
            PolicyType::And => "and",
            PolicyType::Drop => "drop",
            PolicyType::Not => "not",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatencyCfg {
    pub threshold_ms: i64,
    pub upper_threshold_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NumericAttributeCfg {
    pub key: String,
    /// 0: no lower bound (Go passes nil for 0).
    pub min_value: i64,
    /// 0: no upper bound.
    pub max_value: i64,
    pub invert_match: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProbabilisticCfg {
    pub hash_salt: String,
    pub sampling_percentage: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusCodeCfg {
    pub status_codes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StringAttributeCfg {
    pub key: String,
    pub values: Vec<String>,
    pub enabled_regex_matching: bool,
    /// Size of Go's regex result cache; accepted, matching is not cached here.
    pub cache_max_size: i64,
    pub invert_match: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitingCfg {
    pub spans_per_second: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BytesLimitingCfg {
    pub bytes_per_second: i64,
    /// 0: twice `bytes_per_second`.
    pub burst_capacity: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpanCountCfg {
    pub min_spans: i32,
    /// 0: no upper bound.
    pub max_spans: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TraceStateCfg {
    pub key: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BooleanAttributeCfg {
    pub key: String,
    pub value: bool,
    pub invert_match: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateAllocationCfg {
    pub policy: String,
    pub percent: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompositeCfg {
    pub max_total_spans_per_second: i64,
    /// Accepted as in Go, where sub-policies are evaluated in `composite_sub_policy` order.
    pub policy_order: Vec<String>,
    pub composite_sub_policy: Vec<CompositeSubPolicyCfg>,
    pub rate_allocation: Vec<RateAllocationCfg>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AndCfg {
    pub and_sub_policy: Vec<SubPolicyCfg>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DropCfg {
    pub drop_sub_policy: Vec<SubPolicyCfg>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotCfg {
    pub not_sub_policy: Option<SubPolicyCfg>,
}

/// The keys every policy level takes (Go `sharedPolicyCfg`), plus the given extra ones.
macro_rules! policy_cfg {
    ($(#[$meta:meta])* $name:ident { $($extra:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            pub name: String,
            #[serde(rename = "type")]
            pub type_: Option<PolicyType>,
            pub latency: LatencyCfg,
            pub numeric_attribute: NumericAttributeCfg,
            pub probabilistic: ProbabilisticCfg,
            pub status_code: StatusCodeCfg,
            pub string_attribute: StringAttributeCfg,
            pub rate_limiting: RateLimitingCfg,
            pub bytes_limiting: BytesLimitingCfg,
            pub span_count: SpanCountCfg,
            pub trace_state: TraceStateCfg,
            pub boolean_attribute: BooleanAttributeCfg,
            pub ottl_condition: OttlConditionCfg,
            $(pub $extra: $ty,)*
        }

        impl $name {
            pub fn shared(&self) -> SharedPolicy<'_> {
                SharedPolicy {
                    name: &self.name,
                    type_: self.type_,
                    latency: &self.latency,
                    numeric_attribute: &self.numeric_attribute,
                    probabilistic: &self.probabilistic,
                    status_code: &self.status_code,
                    string_attribute: &self.string_attribute,
                    rate_limiting: &self.rate_limiting,
                    bytes_limiting: &self.bytes_limiting,
                    span_count: &self.span_count,
                    trace_state: &self.trace_state,
                    boolean_attribute: &self.boolean_attribute,
                    ottl_condition: &self.ottl_condition,
                }
            }
        }
    };
}

policy_cfg!(
    /// A top-level policy (Go `PolicyCfg`).
    PolicyCfg {
        composite: CompositeCfg,
        and: AndCfg,
        drop: DropCfg,
        not: NotCfg,
    }
);

policy_cfg!(
    /// A policy inside `composite` (Go `CompositeSubPolicyCfg`): may itself be an `and`.
    CompositeSubPolicyCfg { and: AndCfg }
);

policy_cfg!(
    /// A policy inside `and`, `drop` or `not` (Go `AndSubPolicyCfg`).
    SubPolicyCfg {}
);

/// A borrowed view of the shared keys.
#[derive(Debug, Clone, Copy)]
pub struct SharedPolicy<'a> {
    pub name: &'a str,
    pub type_: Option<PolicyType>,
    pub latency: &'a LatencyCfg,
    pub numeric_attribute: &'a NumericAttributeCfg,
    pub probabilistic: &'a ProbabilisticCfg,
    pub status_code: &'a StatusCodeCfg,
    pub string_attribute: &'a StringAttributeCfg,
    pub rate_limiting: &'a RateLimitingCfg,
    pub bytes_limiting: &'a BytesLimitingCfg,
    pub span_count: &'a SpanCountCfg,
    pub trace_state: &'a TraceStateCfg,
    pub boolean_attribute: &'a BooleanAttributeCfg,
    pub ottl_condition: &'a OttlConditionCfg,
}

/// `ottl_condition` (Go `OTTLConditionCfg`): a trace is sampled when any of its spans meets
/// one of the `span` conditions, or any span event one of the `spanevent` conditions.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OttlConditionCfg {
    /// `propagate`, `ignore` or `silent`; unset behaves as `silent` (Go: a failed condition
    /// counts as false unless the mode is `propagate`, and is logged only under `ignore`).
    pub error_mode: String,
    pub span: Vec<String>,
    pub spanevent: Vec<String>,
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.num_traces == 0 {
            errors.push(ConfigError::new(
                &["num_traces"],
                "num_traces must be greater than zero",
            ));
        }
        if let Err(errs) = super::policy::build_policies(&self.policies) {
            errors.extend(errs.into_iter().map(|e| e.prefixed(&["policies"])));
        }
        errors
    }
}

impl ComponentConfig for Config {}
