//! Tail-sampling policies, as Go's `processor/tailsamplingprocessor/internal/sampling`.
//!
//! Go facts each evaluator follows:
//! - `always_sample`: sampled.
//! - `latency`: walks the spans in order keeping the earliest start and latest end seen so
//!   far and samples as soon as that duration (in whole milliseconds) is `>= threshold_ms`,
//!   or, with `upper_threshold_ms`, `threshold_ms < d <= upper_threshold_ms`.
//! - `numeric_attribute`: a resource or span attribute's `Int()` (0 for other types) in
//!   `[min_value, max_value]`; 0 means no bound; both 0 is an error. `invert_match`: any
//!   value in range gives `InvertNotSampled`, otherwise `InvertSampled`.
//! - `probabilistic`: FNV-1a 64-bit over the salt (default `default-hash-seed`) then the
//!   trace id, sampled when `<= floor(MaxUint64 * pct/100)` computed with a 64-bit
//!   mantissa (Go `big.Float`).
//! - `status_code`: any span with one of `OK`, `ERROR`, `UNSET`.
//! - `string_attribute`: a resource attribute's `Str()` or a non-empty span attribute
//!   string equal to a value (empty values ignored), or matching a value as an unanchored
//!   regex with `enabled_regex_matching`; `invert_match` as for numeric.
//! - `rate_limiting`: per wall-clock second, sampled while `spans so far + this trace's spans
//!   < spans_per_second`.
//! - `span_count`: `span count >= min_spans` and, when `max_spans` is not 0, `<= max_spans`.
//! - `trace_state`: any span whose tracestate has the key with one of the values (values
//!   empty or with `len(key)+len(value) >= 256` ignored).
//! - `boolean_attribute`: a resource or span attribute's `Bool()` equal to `value`.
//! - `and`: `NotSampled` as soon as a sub-policy gives `NotSampled`/`InvertNotSampled`,
//!   otherwise `Sampled`. `drop`: the same, `Dropped` instead of `Sampled`. `not`: swaps
//!   `Sampled` and `NotSampled`.
//! - `composite`: the first sub-policy that samples is charged the trace's spans against its
//!   per-second allocation (`percent`% of `max_total_spans_per_second`, an equal share for a
//!   listed policy with percent 0, nothing for an unlisted one) and `max_total`; within both
//!   it is `Sampled`, otherwise `NotSampled`.
//! - `ottl_condition`: `span` and `spanevent` conditions (the `ottl` crate), any match samples.

use std::collections::{HashMap, HashSet};

use pipeline_api::config::ConfigError;
use pipeline_api::proto::tonic::common::v1::KeyValue;
use pipeline_api::proto::tonic::trace::v1::{ResourceSpans, Span};
use regex::Regex;
use tokio::time::Instant;

use super::config::{CompositeSubPolicyCfg, PolicyCfg, PolicyType, SharedPolicy, SubPolicyCfg};
use crate::attraction::value;
use crate::probabilistic_sampler::sampling::{valid_w3c_key, valid_w3c_value};

/// Go `samplingpolicy.Decision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Sampled,
    NotSampled,
    InvertSampled,
    InvertNotSampled,
    Dropped,
}

impl Decision {
    /// The `sampled` and `decision` metric labels.
    pub fn labels(self) -> (&'static str, &'static str) {
        match self {
            Decision::Sampled | Decision::InvertSampled => ("true", "sampled"),
            Decision::NotSampled | Decision::InvertNotSampled => ("false", "not_sampled"),
            Decision::Dropped => ("false", "dropped"),
        }
    }
}

/// What policies see of a trace.
#[derive(Debug, Default, Clone)]
pub struct TraceData {
    pub trace_id: [u8; 16],
    /// The trace's spans as received, one `ResourceSpans` per arrival and resource.
    pub batches: Vec<ResourceSpans>,
    pub span_count: i64,
    pub size_bytes: u64,
}

impl TraceData {
    fn spans(&self) -> impl Iterator<Item = &Span> {
        self.batches
            .iter()
            .flat_map(|rs| rs.scope_spans.iter())
            .flat_map(|ss| ss.spans.iter())
    }
}

/// The evaluation clock: wall-clock-like seconds for the per-second limits, and an
/// instant for the byte bucket.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub second: i64,
    pub instant: Instant,
}

fn resource_attrs(rs: &ResourceSpans) -> &[KeyValue] {
    rs.resource
        .as_ref()
        .map(|r| &r.attributes[..])
        .unwrap_or(&[])
}

/// Go `hasResourceOrSpanWithCondition`.
fn has_resource_or_span(
    trace: &TraceData,
    resource: impl Fn(&[KeyValue]) -> bool,
    span: impl Fn(&Span) -> bool,
) -> Decision {
    for rs in &trace.batches {
        if resource(resource_attrs(rs)) {
            return Decision::Sampled;
        }
        if rs
            .scope_spans
            .iter()
            .flat_map(|ss| ss.spans.iter())
            .any(&span)
        {
            return Decision::Sampled;
        }
    }
    Decision::NotSampled
}

/// Go `invertHasResourceOrSpanWithCondition`: the conditions say "keep"; any false one
/// gives `InvertNotSampled`.
fn invert_has_resource_or_span(
    trace: &TraceData,
    resource: impl Fn(&[KeyValue]) -> bool,
    span: impl Fn(&Span) -> bool,
) -> Decision {
    for rs in &trace.batches {
        if !resource(resource_attrs(rs)) {
            return Decision::InvertNotSampled;
        }
        if !rs
            .scope_spans
            .iter()
            .flat_map(|ss| ss.spans.iter())
            .all(&span)
        {
            return Decision::InvertNotSampled;
        }
    }
    Decision::InvertSampled
}

fn has_span(trace: &TraceData, f: impl FnMut(&Span) -> bool) -> Decision {
    let mut f = f;
    if trace.spans().any(&mut f) {
        Decision::Sampled
    } else {
        Decision::NotSampled
    }
}

/// FNV-1a 64-bit (Go `hash/fnv.New64a`).
pub fn fnv1a64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Go `calculateThreshold`: `MaxUint64 * ratio` with `big.Float` (the product rounded to
/// 64 significant bits, to nearest even), then truncated to an integer.
pub fn probabilistic_threshold(ratio: f64) -> u64 {
    if ratio.is_nan() || ratio <= 0.0 {
        return 0;
    }
    if ratio >= 1.0 {
        return u64::MAX;
    }
    // ratio = m * 2^e with m a 53-bit integer.
    let bits = ratio.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (m, e) = if biased == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), biased - 1075)
    };
    let product = u128::from(u64::MAX) * u128::from(m);
    let len = 128 - product.leading_zeros() as i32;
    let (mut q, mut shift) = if len > 64 {
        let shift = len - 64;
        let q = product >> shift;
        let rem = product & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let mut q = q;
        if rem > half || (rem == half && q & 1 == 1) {
            q += 1;
        }
        (q, shift)
    } else {
        (product, 0)
    };
    if q >> 64 != 0 {
        q >>= 1;
        shift += 1;
    }
    let total = shift + e;
    if total >= 0 {
        u64::try_from(q.checked_shl(total as u32).unwrap_or(u128::MAX)).unwrap_or(u64::MAX)
    } else if -total >= 128 {
        0
    } else {
        (q >> (-total) as u32) as u64
    }
}

#[derive(Debug)]
pub enum StringMatcher {
    Strict(HashSet<String>),
    Regex(Vec<Regex>),
}

impl StringMatcher {
    fn matches(&self, s: &str) -> bool {
        match self {
            StringMatcher::Strict(set) => set.contains(s),
            StringMatcher::Regex(res) => res.iter().any(|r| r.is_match(s)),
        }
    }
}

#[derive(Debug)]
pub struct CompositeSub {
    evaluator: Evaluator,
    allocated_sps: i64,
    sampled_sps: i64,
}

/// A compiled policy.
#[derive(Debug)]
pub enum Evaluator {
    AlwaysSample,
    Latency {
        threshold_ms: i64,
        upper_threshold_ms: i64,
    },
    Numeric {
        key: String,
        min: i64,
        max: i64,
        invert: bool,
    },
    Probabilistic {
        salt: String,
        threshold: u64,
    },
    StatusCode(Vec<i32>),
    StringAttribute {
        key: String,
        matcher: StringMatcher,
        invert: bool,
    },
    RateLimiting {
        spans_per_second: i64,
        current_second: i64,
        spans_in_second: i64,
    },
    BytesLimiting {
        bytes_per_second: f64,
        capacity: f64,
        tokens: f64,
        last: Option<Instant>,
    },
    SpanCount {
        min: i32,
        max: i32,
    },
    TraceState {
        key: String,
        values: HashSet<String>,
    },
    Boolean {
        key: String,
        value: bool,
        invert: bool,
    },
    Ottl(OttlConditions),
    And(Vec<Evaluator>),
    Drop(Vec<Evaluator>),
    Not(Box<Evaluator>),
    Composite {
        subs: Vec<CompositeSub>,
        max_total_sps: i64,
        current_second: i64,
    },
}

/// The value of `key` in a W3C tracestate, if it parses (the OTel SDK's `ParseTraceState`
/// + `Get`).
fn tracestate_value<'a>(ts: &'a str, key: &str) -> Option<&'a str> {
    let mut found = None;
    for raw in ts.split(',') {
        let member = raw.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        let (k, v) = member.split_once('=')?;
        if !valid_w3c_key(k) || !valid_w3c_value(v) {
            return None;
        }
        if k == key && found.is_none() {
            found = Some(v);
        }
    }
    found
}

impl Evaluator {
    pub fn evaluate(&mut self, trace: &mut TraceData, now: Now) -> Decision {
        match self {
            Evaluator::Ottl(c) => c.evaluate(trace),
            Evaluator::AlwaysSample => Decision::Sampled,
            Evaluator::Latency {
                threshold_ms,
                upper_threshold_ms,
            } => {
                let (threshold, upper) = (*threshold_ms, *upper_threshold_ms);
                let (mut min, mut max) = (0u64, 0u64);
                has_span(trace, |span| {
                    if min == 0 || span.start_time_unix_nano < min {
                        min = span.start_time_unix_nano;
                    }
                    if max == 0 || span.end_time_unix_nano > max {
                        max = span.end_time_unix_nano;
                    }
                    let nanos = (i128::from(max) - i128::from(min))
                        .clamp(i128::from(i64::MIN), i128::from(i64::MAX));
                    let ms = (nanos / 1_000_000) as i64;
                    if upper == 0 {
                        ms >= threshold
                    } else {
                        threshold < ms && ms <= upper
                    }
                })
            }
            Evaluator::Numeric {
                key,
                min,
                max,
                invert,
            } => {
                let in_range = |attrs: &[KeyValue]| {
                    value::get(attrs, key).map(|v| {
                        let n = value::as_int(v);
                        n >= *min && n <= *max
                    })
                };
                if *invert {
                    invert_has_resource_or_span(
                        trace,
                        |r| in_range(r) != Some(true),
                        |s| in_range(&s.attributes) != Some(true),
                    )
                } else {
                    has_resource_or_span(
                        trace,
                        |r| in_range(r) == Some(true),
                        |s| in_range(&s.attributes) == Some(true),
                    )
                }
            }
            Evaluator::Probabilistic { salt, threshold } => {
                if fnv1a64(&[salt.as_bytes(), &trace.trace_id]) <= *threshold {
                    Decision::Sampled
                } else {
                    Decision::NotSampled
                }
            }
            Evaluator::StatusCode(codes) => has_span(trace, |span| {
                let code = span.status.as_ref().map(|s| s.code).unwrap_or(0);
                codes.contains(&code)
            }),
            Evaluator::StringAttribute {
                key,
                matcher,
                invert,
            } => {
                let resource_match = |attrs: &[KeyValue]| {
                    value::get(attrs, key).map(|v| matcher.matches(value::as_str(v)))
                };
                let span_match = |s: &Span| {
                    value::get(&s.attributes, key).and_then(|v| {
                        let text = value::as_str(v);
                        (!text.is_empty()).then(|| matcher.matches(text))
                    })
                };
                if *invert {
                    invert_has_resource_or_span(
                        trace,
                        |r| resource_match(r) != Some(true),
                        |s| span_match(s) != Some(true),
                    )
                } else {
                    has_resource_or_span(
                        trace,
                        |r| resource_match(r) == Some(true),
                        |s| span_match(s) == Some(true),
                    )
                }
            }
            Evaluator::RateLimiting {
                spans_per_second,
                current_second,
                spans_in_second,
            } => {
                if *current_second != now.second {
                    *current_second = now.second;
                    *spans_in_second = 0;
                }
                let if_sampled = spans_in_second.saturating_add(trace.span_count);
                if if_sampled < *spans_per_second {
                    *spans_in_second = if_sampled;
                    Decision::Sampled
                } else {
                    Decision::NotSampled
                }
            }
            Evaluator::BytesLimiting {
                bytes_per_second,
                capacity,
                tokens,
                last,
            } => {
                if let Some(prev) = *last {
                    let elapsed = now.instant.saturating_duration_since(prev).as_secs_f64();
                    *tokens = (*tokens + elapsed * *bytes_per_second).min(*capacity);
                }
                *last = Some(now.instant);
                let size = trace.size_bytes as f64;
                if size <= *tokens {
                    *tokens -= size;
                    Decision::Sampled
                } else {
                    Decision::NotSampled
                }
            }
            Evaluator::SpanCount { min, max } => {
                let count = trace.span_count;
                let ok = if *max == 0 {
                    count >= i64::from(*min)
                } else {
                    count >= i64::from(*min) && count <= i64::from(*max)
                };
                if ok {
                    Decision::Sampled
                } else {
                    Decision::NotSampled
                }
            }
            Evaluator::TraceState { key, values } => has_span(trace, |span| {
                tracestate_value(&span.trace_state, key).is_some_and(|v| values.contains(v))
            }),
            Evaluator::Boolean {
                key,
                value: want,
                invert,
            } => {
                let matches =
                    |attrs: &[KeyValue]| value::get(attrs, key).map(|v| value::as_bool(v) == *want);
                if *invert {
                    invert_has_resource_or_span(
                        trace,
                        |r| matches(r) != Some(true),
                        |s| matches(&s.attributes) != Some(true),
                    )
                } else {
                    has_resource_or_span(
                        trace,
                        |r| matches(r) == Some(true),
                        |s| matches(&s.attributes) == Some(true),
                    )
                }
            }
            Evaluator::And(subs) => {
                for sub in subs.iter_mut() {
                    let d = sub.evaluate(trace, now);
                    if matches!(d, Decision::NotSampled | Decision::InvertNotSampled) {
                        return Decision::NotSampled;
                    }
                }
                Decision::Sampled
            }
            Evaluator::Drop(subs) => {
                for sub in subs.iter_mut() {
                    let d = sub.evaluate(trace, now);
                    if matches!(d, Decision::NotSampled | Decision::InvertNotSampled) {
                        return Decision::NotSampled;
                    }
                }
                Decision::Dropped
            }
            Evaluator::Not(sub) => match sub.evaluate(trace, now) {
                Decision::Sampled => Decision::NotSampled,
                Decision::NotSampled => Decision::Sampled,
                other => other,
            },
            Evaluator::Composite {
                subs,
                max_total_sps,
                current_second,
            } => {
                if *current_second != now.second {
                    *current_second = now.second;
                    for s in subs.iter_mut() {
                        s.sampled_sps = 0;
                    }
                }
                for sub in subs.iter_mut() {
                    let d = sub.evaluator.evaluate(trace, now);
                    if matches!(d, Decision::Sampled | Decision::InvertSampled) {
                        let if_sampled = sub.sampled_sps.saturating_add(trace.span_count);
                        if if_sampled <= sub.allocated_sps && if_sampled <= *max_total_sps {
                            sub.sampled_sps = if_sampled;
                            return Decision::Sampled;
                        }
                        return Decision::NotSampled;
                    }
                }
                Decision::NotSampled
            }
        }
    }
}

/// An `ottl_condition` policy, compiled (Go `sampling.NewOTTLConditionFilter`).
pub struct OttlConditions {
    span: Option<ottl::ConditionSeq>,
    spanevent: Option<ottl::ConditionSeq>,
}

impl std::fmt::Debug for OttlConditions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OttlConditions")
            .field("span", &self.span.as_ref().map(|c| c.conditions.len()))
            .field(
                "spanevent",
                &self.spanevent.as_ref().map(|c| c.conditions.len()),
            )
            .finish()
    }
}

impl OttlConditions {
    fn build(cfg: &super::config::OttlConditionCfg) -> Result<OttlConditions, Vec<ConfigError>> {
        let mut errors = Vec::new();
        if cfg.span.is_empty() && cfg.spanevent.is_empty() {
            errors.push(ConfigError::new(
                &[],
                "expected at least one OTTL condition to filter on",
            ));
        }
        let error_mode = match cfg.error_mode.as_str() {
            "propagate" => ottl::ErrorMode::Propagate,
            "ignore" => ottl::ErrorMode::Ignore,
            // Go: an unset mode is neither propagate nor ignore, so a failed condition is
            // skipped without a log line
            "" | "silent" => ottl::ErrorMode::Silent,
            other => {
                errors.push(ConfigError::new(
                    &["error_mode"],
                    format!("unknown error mode {other}"),
                ));
                ottl::ErrorMode::Ignore
            }
        };
        let mut compile = |key: &str, texts: &[String], kind: ottl::ContextKind| {
            let mut conditions = Vec::new();
            for (i, text) in texts.iter().enumerate() {
                match ottl::Condition::compile(text, kind, ottl::PathStyle::Contextual) {
                    Ok(c) => conditions.push(c),
                    Err(e) => errors.push(ConfigError::new(&[key, &i.to_string()], e.to_string())),
                }
            }
            (!conditions.is_empty()).then_some(ottl::ConditionSeq {
                conditions,
                error_mode,
            })
        };
        let span = compile("span", &cfg.span, ottl::ContextKind::Span);
        let spanevent = compile("spanevent", &cfg.spanevent, ottl::ContextKind::SpanEvent);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(OttlConditions { span, spanevent })
    }

    /// Sampled when a span or span event meets a condition; a condition that fails under
    /// `propagate` ends the evaluation as not sampled (Go: an evaluation error), logged.
    fn evaluate(&self, trace: &mut TraceData) -> Decision {
        if self.span.is_none() && self.spanevent.is_none() {
            return Decision::NotSampled;
        }
        let result = (|| -> Result<bool, String> {
            for rs in trace.batches.iter_mut() {
                for ss in rs.scope_spans.iter_mut() {
                    for span in ss.spans.iter_mut() {
                        if let Some(c) = &self.span {
                            let ctx = ottl::Ctx::new(&mut rs.resource, &mut rs.schema_url)
                                .with_scope(&mut ss.scope, &mut ss.schema_url)
                                .with_item(ottl::Item::Span(span));
                            if c.eval(&ctx)? {
                                return Ok(true);
                            }
                        }
                        if let Some(c) = &self.spanevent {
                            let mut events = std::mem::take(&mut span.events);
                            let mut hit = Ok(false);
                            for (index, event) in events.iter_mut().enumerate() {
                                let ctx = ottl::Ctx::new(&mut rs.resource, &mut rs.schema_url)
                                    .with_scope(&mut ss.scope, &mut ss.schema_url)
                                    .with_item(ottl::Item::SpanEvent {
                                        span,
                                        event,
                                        index: index as i64,
                                    });
                                hit = c.eval(&ctx);
                                if !matches!(hit, Ok(false)) {
                                    break;
                                }
                            }
                            span.events = events;
                            if hit? {
                                return Ok(true);
                            }
                        }
                    }
                }
            }
            Ok(false)
        })();
        match result {
            Ok(true) => Decision::Sampled,
            Ok(false) => Decision::NotSampled,
            Err(e) => {
                tracing::warn!(error = %e, "ottl_condition policy: evaluating a condition failed");
                Decision::NotSampled
            }
        }
    }
}

/// One top-level policy.
#[derive(Debug)]
pub struct Policy {
    pub name: String,
    pub is_drop: bool,
    pub evaluator: Evaluator,
}

fn err(path: &[&str], msg: impl Into<String>) -> ConfigError {
    ConfigError::new(path, msg)
}

fn unknown_type(t: Option<PolicyType>) -> String {
    format!(
        "unknown sampling policy type {:?}",
        t.map(PolicyType::as_str).unwrap_or("")
    )
}

/// Compile the policies of a config; errors carry paths relative to `policies`.
pub fn build_policies(cfgs: &[PolicyCfg]) -> Result<Vec<Policy>, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut policies = Vec::new();
    let mut names = HashSet::new();
    for (i, cfg) in cfgs.iter().enumerate() {
        let idx = i.to_string();
        if cfg.name.is_empty() {
            errors.push(err(&[&idx, "name"], "policy name cannot be empty"));
        } else if !names.insert(cfg.name.clone()) {
            errors.push(err(
                &[&idx, "name"],
                format!("duplicate policy name {:?}", cfg.name),
            ));
        }
        let built = match cfg.type_ {
            Some(PolicyType::Composite) => composite(&cfg.composite),
            Some(PolicyType::And) => {
                and(&cfg.and.and_sub_policy, "and", "and_sub_policy").map(Evaluator::And)
            }
            Some(PolicyType::Drop) => {
                and(&cfg.drop.drop_sub_policy, "drop", "drop_sub_policy").map(Evaluator::Drop)
            }
            Some(PolicyType::Not) => match &cfg.not.not_sub_policy {
                None => Err(vec![err(
                    &["not", "not_sub_policy"],
                    "the not policy needs a not_sub_policy",
                )]),
                Some(sub) => shared(sub.shared())
                    .map(|e| Evaluator::Not(Box::new(e)))
                    .map_err(|es| {
                        es.into_iter()
                            .map(|e| e.prefixed(&["not", "not_sub_policy"]))
                            .collect()
                    }),
            },
            _ => shared(cfg.shared()),
        };
        match built {
            Ok(evaluator) => policies.push(Policy {
                name: cfg.name.clone(),
                is_drop: cfg.type_ == Some(PolicyType::Drop),
                evaluator,
            }),
            Err(es) => errors.extend(es.into_iter().map(|e| e.prefixed(&[&idx]))),
        }
    }
    if errors.is_empty() {
        Ok(policies)
    } else {
        Err(errors)
    }
}

fn and(subs: &[SubPolicyCfg], key: &str, list: &str) -> Result<Vec<Evaluator>, Vec<ConfigError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, sub) in subs.iter().enumerate() {
        match shared(sub.shared()) {
            Ok(e) => out.push(e),
            Err(es) => errors.extend(
                es.into_iter()
                    .map(|e| e.prefixed(&[key, list, &i.to_string()])),
            ),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn composite(cfg: &super::config::CompositeCfg) -> Result<Evaluator, Vec<ConfigError>> {
    // Go getRateAllocationMap.
    let max_total = cfg.max_total_spans_per_second as f64;
    let default_sps = if cfg.composite_sub_policy.is_empty() {
        0.0
    } else {
        max_total / cfg.composite_sub_policy.len() as f64
    };
    let mut allocations: HashMap<&str, f64> = HashMap::new();
    for ra in &cfg.rate_allocation {
        let sps = if ra.percent > 0 {
            (ra.percent as f64 / 100.0) * max_total
        } else {
            default_sps
        };
        allocations.insert(&ra.policy, sps);
    }
    let mut subs = Vec::new();
    let mut errors = Vec::new();
    for (i, sub) in cfg.composite_sub_policy.iter().enumerate() {
        let built = composite_sub(sub);
        match built {
            Ok(evaluator) => subs.push(CompositeSub {
                evaluator,
                allocated_sps: allocations.get(sub.name.as_str()).copied().unwrap_or(0.0) as i64,
                sampled_sps: 0,
            }),
            Err(es) => errors.extend(
                es.into_iter()
                    .map(|e| e.prefixed(&["composite", "composite_sub_policy", &i.to_string()])),
            ),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Evaluator::Composite {
        subs,
        max_total_sps: cfg.max_total_spans_per_second,
        current_second: i64::MIN,
    })
}

fn composite_sub(sub: &CompositeSubPolicyCfg) -> Result<Evaluator, Vec<ConfigError>> {
    match sub.type_ {
        Some(PolicyType::And) => {
            and(&sub.and.and_sub_policy, "and", "and_sub_policy").map(Evaluator::And)
        }
        _ => shared(sub.shared()),
    }
}

/// Go `getSharedPolicyEvaluator`.
fn shared(p: SharedPolicy<'_>) -> Result<Evaluator, Vec<ConfigError>> {
    let one = |path: &[&str], msg: String| Err(vec![err(path, msg)]);
    match p.type_ {
        Some(PolicyType::AlwaysSample) => Ok(Evaluator::AlwaysSample),
        Some(PolicyType::Latency) => Ok(Evaluator::Latency {
            threshold_ms: p.latency.threshold_ms,
            upper_threshold_ms: p.latency.upper_threshold_ms,
        }),
        Some(PolicyType::NumericAttribute) => {
            let c = p.numeric_attribute;
            if c.min_value == 0 && c.max_value == 0 {
                return one(
                    &["numeric_attribute"],
                    "at least one of min_value or max_value must be set (0 means unset)".into(),
                );
            }
            Ok(Evaluator::Numeric {
                key: c.key.clone(),
                min: if c.min_value == 0 {
                    i64::MIN
                } else {
                    c.min_value
                },
                max: if c.max_value == 0 {
                    i64::MAX
                } else {
                    c.max_value
                },
                invert: c.invert_match,
            })
        }
        Some(PolicyType::Probabilistic) => {
            let c = p.probabilistic;
            Ok(Evaluator::Probabilistic {
                salt: if c.hash_salt.is_empty() {
                    "default-hash-seed".into()
                } else {
                    c.hash_salt.clone()
                },
                threshold: probabilistic_threshold(c.sampling_percentage / 100.0),
            })
        }
        Some(PolicyType::StatusCode) => {
            let codes = &p.status_code.status_codes;
            if codes.is_empty() {
                return one(
                    &["status_code", "status_codes"],
                    "expected at least one status code to filter on".into(),
                );
            }
            let mut out = Vec::new();
            for (i, c) in codes.iter().enumerate() {
                out.push(match c.as_str() {
                    "OK" => 1,
                    "ERROR" => 2,
                    "UNSET" => 0,
                    other => {
                        return one(
                            &["status_code", "status_codes", &i.to_string()],
                            format!("unknown status code {other:?}, supported: OK, ERROR, UNSET"),
                        )
                    }
                });
            }
            Ok(Evaluator::StatusCode(out))
        }
        Some(PolicyType::StringAttribute) => {
            let c = p.string_attribute;
            let matcher = if c.enabled_regex_matching {
                let mut res = Vec::new();
                let mut errors = Vec::new();
                for (i, v) in c.values.iter().enumerate() {
                    match Regex::new(v) {
                        Ok(r) => res.push(r),
                        Err(e) => errors.push(err(
                            &["string_attribute", "values", &i.to_string()],
                            format!(
                                "invalid regex {v:?}: {}",
                                e.to_string()
                                    .split_whitespace()
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            ),
                        )),
                    }
                }
                if !errors.is_empty() {
                    return Err(errors);
                }
                StringMatcher::Regex(res)
            } else {
                StringMatcher::Strict(c.values.iter().filter(|v| !v.is_empty()).cloned().collect())
            };
            Ok(Evaluator::StringAttribute {
                key: c.key.clone(),
                matcher,
                invert: c.invert_match,
            })
        }
        Some(PolicyType::RateLimiting) => Ok(Evaluator::RateLimiting {
            spans_per_second: p.rate_limiting.spans_per_second,
            current_second: i64::MIN,
            spans_in_second: 0,
        }),
        Some(PolicyType::BytesLimiting) => {
            let c = p.bytes_limiting;
            if c.bytes_per_second <= 0 {
                return one(
                    &["bytes_limiting", "bytes_per_second"],
                    "bytes_per_second must be greater than zero".into(),
                );
            }
            let capacity = if c.burst_capacity > 0 {
                c.burst_capacity
            } else {
                c.bytes_per_second.saturating_mul(2)
            } as f64;
            Ok(Evaluator::BytesLimiting {
                bytes_per_second: c.bytes_per_second as f64,
                capacity,
                tokens: capacity,
                last: None,
            })
        }
        Some(PolicyType::SpanCount) => Ok(Evaluator::SpanCount {
            min: p.span_count.min_spans,
            max: p.span_count.max_spans,
        }),
        Some(PolicyType::TraceState) => {
            let c = p.trace_state;
            Ok(Evaluator::TraceState {
                key: c.key.clone(),
                values: c
                    .values
                    .iter()
                    .filter(|v| !v.is_empty() && c.key.len() + v.len() < 256)
                    .cloned()
                    .collect(),
            })
        }
        Some(PolicyType::BooleanAttribute) => Ok(Evaluator::Boolean {
            key: p.boolean_attribute.key.clone(),
            value: p.boolean_attribute.value,
            invert: p.boolean_attribute.invert_match,
        }),
        Some(PolicyType::OttlCondition) => OttlConditions::build(p.ottl_condition)
            .map(Evaluator::Ottl)
            .map_err(|e| {
                e.into_iter()
                    .map(|e| e.prefixed(&["ottl_condition"]))
                    .collect()
            }),
        t => one(&["type"], unknown_type(t)),
    }
}
