//! The sampling decision of one span or log record, as Go's `sampler_mode.go`,
//! `tracesprocessor.go` and `logsprocessor.go` (`commonShouldSampleLogic`).
//!
//! Go facts:
//! - mode unset is `hash_seed` (`defaultMode = HashSeed`); a percentage above 100 is 100;
//!   0 never samples; a ratio below 2^-56 is raised to 2^-56;
//! - `hash_seed`: FNV-1a 32-bit over the 4-byte little-endian seed then the bytes (the
//!   trace id's 16 bytes); the low 14 bits are the bucket; the scaled rate is
//!   `uint32(pct * 163.84)` computed in float32; sampled when `bucket < scaled`. Expressed
//!   as OTEP 235 values: threshold `(16384 - scaled) << 42`, randomness
//!   `((16383 - bucket) << 42) | (mixed28 << 14) | bucket` where `mixed28 = u ^ (u << 10)`
//!   for `u` the 18 unused hash bits — so the tracestate gets `rv` and `th` values;
//! - `hash_seed` leaves alone (and, being an error, fails closed/open on) items that already
//!   carry an `rv` or `th`;
//! - `equalizing` raises a lower arriving threshold to its own; `proportional` multiplies
//!   the arriving probability by the ratio (below 2^-56: not sampled);
//! - randomness: `rv` if present, else the trace id's last 56 bits (consistent modes);
//!   none (an empty trace id) is an error: `fail_closed` drops, otherwise keeps;
//! - an arriving threshold the randomness does not pass is cleared and is an error;
//! - span `sampling.priority` (int, double, or numeric string): 0 forces drop, > 0 forces
//!   keep; logs `sampling_priority` attribute (int or double percentage) replaces the
//!   threshold when it converts to a valid probability;
//! - a kept item gets its threshold updated (never lowered) and re-serialized: spans in
//!   `tracestate` (`ot=rv:...;th:...`), logs in the `sampling.randomness` and
//!   `sampling.threshold` attributes;
//! - every decision is counted with the policy (`trace_id_hash`, `trace_id_w3c`,
//!   `sampling_randomness`, `sampling_priority`, `missing_randomness`, or the
//!   `from_attribute` name) and `sampled`.

use pipeline_api::proto::tonic::common::v1::any_value::Value;
use pipeline_api::proto::tonic::common::v1::KeyValue;
use pipeline_api::proto::tonic::logs::v1::LogRecord;
use pipeline_api::proto::tonic::trace::v1::Span;

use super::config::{AttributeSource, Config, SamplerMode};
use super::sampling::{
    Randomness, SamplingError, Threshold, W3cTraceState, ALL_PROBABILITIES, ALWAYS_SAMPLE,
    MIN_SAMPLING_PROBABILITY, NEVER_SAMPLE,
};
use crate::attraction::value;
use pipeline_api::attrs::AttrMap;

const NUM_HASH_BUCKETS_LG2: u32 = 14;
const NUM_HASH_BUCKETS: u64 = 0x4000;
const BIT_MASK_HASH_BUCKETS: u32 = 0x3fff;
/// Go `percentageScaleFactor = numHashBuckets / 100.0`, used in float32 arithmetic.
const PERCENTAGE_SCALE_FACTOR: f32 = 163.84;

/// FNV-1a 32-bit over the seed (4 bytes, little-endian) then `data` (Go `computeHash`).
pub fn compute_hash(data: &[u8], seed: u32) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in seed.to_le_bytes().iter().chain(data) {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Go `randomnessFromBytes`: the hash as a 56-bit randomness whose top 14 bits make the
/// OTEP 235 comparison equal to the legacy `bucket < scaled`.
pub fn randomness_from_bytes(b: &[u8], seed: u32) -> Randomness {
    let hashed32 = compute_hash(b, seed);
    let hashed = u64::from(hashed32 & BIT_MASK_HASH_BUCKETS);
    let rprime14 = NUM_HASH_BUCKETS - 1 - hashed;
    let unused18 = u64::from(hashed32 >> (32 - NUM_HASH_BUCKETS_LG2));
    let mixed28 = unused18 ^ (unused18 << 10);
    let rnd56 = (rprime14 << 42) | (mixed28 << 14) | hashed;
    Randomness::from_unsigned(rnd56).unwrap_or(ALL_PROBABILITIES)
}

/// The counter label of the randomness source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    TraceIdHash,
    TraceIdW3c,
    SamplingRandomness,
    SamplingPriority,
    MissingRandomness,
    /// The `from_attribute` name.
    Attribute,
}

impl Policy {
    pub const ALL: [Policy; 6] = [
        Policy::TraceIdHash,
        Policy::TraceIdW3c,
        Policy::SamplingRandomness,
        Policy::SamplingPriority,
        Policy::MissingRandomness,
        Policy::Attribute,
    ];

    pub fn label(self, attribute: &str) -> &str {
        match self {
            Policy::TraceIdHash => "trace_id_hash",
            Policy::TraceIdW3c => "trace_id_w3c",
            Policy::SamplingRandomness => "sampling_randomness",
            Policy::SamplingPriority => "sampling_priority",
            Policy::MissingRandomness => "missing_randomness",
            Policy::Attribute => attribute,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Copy)]
struct Rnd {
    value: Randomness,
    policy: Policy,
}

impl Rnd {
    fn missing() -> Rnd {
        Rnd {
            value: ALL_PROBABILITIES,
            policy: Policy::MissingRandomness,
        }
    }
    fn is_missing(&self) -> bool {
        self.policy == Policy::MissingRandomness
    }
}

/// Why the usual decision could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionError {
    /// Go `samplerError`s (logged at debug level).
    InconsistentArrivingTValue,
    MissingRandomness,
    RandomnessInUse,
    ThresholdInUse,
    /// Parse errors of the tracestate or sampling attributes (logged at info level).
    Parse(SamplingError),
}

impl std::fmt::Display for DecisionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecisionError::InconsistentArrivingTValue => {
                f.write_str("inconsistent arriving threshold: item should not have been sampled")
            }
            DecisionError::MissingRandomness => f.write_str("missing randomness"),
            DecisionError::RandomnessInUse => f.write_str(
                "item has sampling randomness, equalizing or proportional mode recommended",
            ),
            DecisionError::ThresholdInUse => f.write_str(
                "item has sampling threshold, equalizing or proportional mode recommended",
            ),
            DecisionError::Parse(e) => e.fmt(f),
        }
    }
}

/// Where an item keeps its sampling information.
trait Carrier {
    fn threshold(&self) -> Option<Threshold>;
    fn explicit_randomness(&self) -> Option<Randomness>;
    fn set_explicit_randomness(&mut self, rnd: Randomness);
    fn clear_threshold(&mut self);
    fn update_threshold(&mut self, th: Threshold) -> Result<(), SamplingError>;
}

/// A span's parsed tracestate.
struct SpanCarrier(W3cTraceState);

impl Carrier for SpanCarrier {
    fn threshold(&self) -> Option<Threshold> {
        let o = self.0.otel();
        if o.tvalue().is_empty() {
            None
        } else {
            o.threshold()
        }
    }
    fn explicit_randomness(&self) -> Option<Randomness> {
        let o = self.0.otel();
        if o.rvalue().is_empty() {
            None
        } else {
            o.randomness()
        }
    }
    fn set_explicit_randomness(&mut self, rnd: Randomness) {
        self.0.otel_mut().set_rvalue(rnd);
    }
    fn clear_threshold(&mut self) {
        self.0.otel_mut().clear_tvalue();
    }
    fn update_threshold(&mut self, th: Threshold) -> Result<(), SamplingError> {
        self.0.otel_mut().update_tvalue(th)
    }
}

const ATTR_THRESHOLD: &str = "sampling.threshold";
const ATTR_RANDOMNESS: &str = "sampling.randomness";

#[derive(Debug, Default)]
enum ThresholdChange {
    #[default]
    Unchanged,
    Removed,
    Set(String),
}

/// A log record's `sampling.threshold` / `sampling.randomness` attributes; changes are
/// applied when the record is kept.
#[derive(Debug, Default)]
pub struct LogCarrier {
    threshold: Option<Threshold>,
    randomness: Option<Randomness>,
    set_randomness: Option<String>,
    change: ThresholdChange,
}

impl LogCarrier {
    fn parse(attrs: &[KeyValue]) -> (LogCarrier, Option<SamplingError>) {
        let get = |key: &str| match value::get(attrs, key).and_then(value::kind) {
            Some(Value::StringValue(s)) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        };
        let mut c = LogCarrier::default();
        let mut err = None;
        if let Some(t) = get(ATTR_THRESHOLD) {
            match Threshold::from_tvalue(t) {
                Ok(th) => c.threshold = Some(th),
                Err(e) => err = Some(e),
            }
        }
        if let Some(r) = get(ATTR_RANDOMNESS) {
            match Randomness::from_rvalue(r) {
                Ok(rnd) => c.randomness = Some(rnd),
                Err(e) => err = err.or(Some(e)),
            }
        }
        (c, err)
    }

    /// Write the decision's changes into a record's attributes (pdata `PutStr`, `Remove`).
    pub fn apply(self, attrs: &mut dyn AttrMap) {
        if let Some(rv) = self.set_randomness {
            attrs.put(ATTR_RANDOMNESS, value::str_value(rv));
        }
        match self.change {
            ThresholdChange::Unchanged => {}
            ThresholdChange::Removed => {
                attrs.remove(ATTR_THRESHOLD);
            }
            ThresholdChange::Set(t) => attrs.put(ATTR_THRESHOLD, value::str_value(t)),
        }
    }
}

impl Carrier for LogCarrier {
    fn threshold(&self) -> Option<Threshold> {
        self.threshold
    }
    fn explicit_randomness(&self) -> Option<Randomness> {
        self.randomness
    }
    fn set_explicit_randomness(&mut self, rnd: Randomness) {
        self.randomness = Some(rnd);
        self.set_randomness = Some(rnd.rvalue());
    }
    fn clear_threshold(&mut self) {
        self.threshold = None;
        self.change = ThresholdChange::Removed;
    }
    fn update_threshold(&mut self, th: Threshold) -> Result<(), SamplingError> {
        if let Some(existing) = self.threshold {
            if th < existing {
                return Err(SamplingError::Inconsistent);
            }
        }
        self.threshold = Some(th);
        self.change = ThresholdChange::Set(th.tvalue());
        Ok(())
    }
}

/// The configured sampling mode (Go `dataSampler`).
#[derive(Debug, Clone)]
pub enum Sampler {
    Never,
    Hashing {
        threshold: Threshold,
        seed: u32,
        logs_trace_id: bool,
        logs_attribute: String,
    },
    Equalizing {
        threshold: Threshold,
    },
    Proportional {
        ratio: f64,
        precision: usize,
    },
}

impl Sampler {
    /// Go `makeSampler`.
    pub fn new(cfg: &Config, is_logs: bool) -> Sampler {
        let pct = cfg.sampling_percentage.min(100.0);
        let mode = match cfg.mode {
            SamplerMode::Unset => SamplerMode::HashSeed,
            m => m,
        };
        if pct <= 0.0 || pct.is_nan() {
            return Sampler::Never;
        }
        let ratio = (f64::from(pct) / 100.0).max(MIN_SAMPLING_PROBABILITY);
        let precision = cfg.sampling_precision.clamp(0, 14) as usize;
        // Go uses `isLogs` only to pick the mode when unset, and both choices are hash_seed.
        let _ = is_logs;
        match mode {
            SamplerMode::Equalizing => Sampler::Equalizing {
                threshold: Threshold::from_probability(ratio, precision).unwrap_or(ALWAYS_SAMPLE),
            },
            SamplerMode::Proportional => Sampler::Proportional { ratio, precision },
            _ => {
                // float32 multiplication, truncated (Go `uint32(pct * percentageScaleFactor)`).
                let scaled = (pct * PERCENTAGE_SCALE_FACTOR) as u32;
                if scaled == 0 {
                    return Sampler::Never;
                }
                let reject = NUM_HASH_BUCKETS.saturating_sub(u64::from(scaled));
                let threshold = Threshold::from_unsigned(reject << 42).unwrap_or(NEVER_SAMPLE);
                Sampler::Hashing {
                    threshold,
                    seed: cfg.hash_seed,
                    logs_trace_id: cfg.attribute_source == AttributeSource::TraceId,
                    logs_attribute: cfg.from_attribute.clone(),
                }
            }
        }
    }

    fn decide(&self, carrier: Option<&dyn Carrier>) -> Threshold {
        let arriving = carrier.and_then(|c| c.threshold());
        match self {
            Sampler::Never => NEVER_SAMPLE,
            Sampler::Hashing { threshold, .. } => *threshold,
            Sampler::Equalizing { threshold } => match arriving {
                Some(tv) if *threshold < tv => tv,
                _ => *threshold,
            },
            Sampler::Proportional { ratio, precision } => {
                let incoming = arriving.map(Threshold::probability).unwrap_or(1.0);
                Threshold::from_probability(incoming * ratio, *precision).unwrap_or(NEVER_SAMPLE)
            }
        }
    }
}

/// A non-empty 16-byte trace id.
fn trace_id(bytes: &[u8]) -> Option<[u8; 16]> {
    let id: [u8; 16] = bytes.try_into().ok()?;
    (id != [0u8; 16]).then_some(id)
}

/// Go `parseSpanSamplingPriority`: `Some(true)` must sample, `Some(false)` must not.
fn span_priority(span: &Span) -> Option<bool> {
    let v = value::get(&span.attributes, super::PRIORITY)?;
    let n = match value::kind(v)? {
        Value::IntValue(i) => *i as f64,
        Value::DoubleValue(d) => *d,
        Value::StringValue(s) => s.parse::<f64>().ok()?,
        _ => return None,
    };
    if n == 0.0 {
        Some(false)
    } else if n > 0.0 {
        Some(true)
    } else {
        None
    }
}

/// The outcome of one item.
pub struct Outcome {
    pub sampled: bool,
    pub policy: Policy,
    pub error: Option<DecisionError>,
}

fn consistency_check(rnd: &Rnd, carrier: Option<&mut dyn Carrier>) -> Result<(), DecisionError> {
    if rnd.is_missing() {
        return Err(DecisionError::MissingRandomness);
    }
    if let Some(c) = carrier {
        if let Some(tv) = c.threshold() {
            if !tv.should_sample(rnd.value) {
                c.clear_threshold();
                return Err(DecisionError::InconsistentArrivingTValue);
            }
        }
    }
    Ok(())
}

/// Go `commonShouldSampleLogic`, after the randomness was extracted.
fn common<C: Carrier>(
    sampler: &Sampler,
    fail_closed: bool,
    mut rnd: Rnd,
    mut carrier: Option<C>,
    mut error: Option<DecisionError>,
    priority: impl FnOnce(Rnd, Threshold) -> (Rnd, Threshold),
) -> (Outcome, Option<C>) {
    if error.is_none() {
        if let Err(e) = consistency_check(&rnd, carrier.as_mut().map(|c| c as &mut dyn Carrier)) {
            error = Some(e);
        }
    }
    let threshold = if error.is_some() {
        if fail_closed {
            NEVER_SAMPLE
        } else {
            ALWAYS_SAMPLE
        }
    } else {
        sampler.decide(carrier.as_ref().map(|c| c as &dyn Carrier))
    };
    let (r, threshold) = priority(rnd, threshold);
    rnd = r;
    let sampled = threshold.should_sample(rnd.value);
    if sampled {
        if let Some(c) = carrier.as_mut() {
            if let Err(e) = c.update_threshold(threshold) {
                // Working as intended in Go: a threshold is never lowered.
                tracing::debug!(error = %e, "sampling threshold not updated");
            }
        }
    }
    (
        Outcome {
            sampled,
            policy: rnd.policy,
            error,
        },
        if sampled { carrier } else { None },
    )
}

impl Sampler {
    /// Decide one span; a kept span gets its tracestate updated.
    pub fn sample_span(&self, span: &mut Span, fail_closed: bool) -> Outcome {
        let (ts, parse_err) = W3cTraceState::parse(&span.trace_state);
        let tid = trace_id(&span.trace_id);
        let (rnd, carrier, error) = match self {
            Sampler::Never => (
                Rnd {
                    value: ALL_PROBABILITIES,
                    policy: Policy::SamplingPriority,
                },
                Some(SpanCarrier(ts)),
                parse_err.map(DecisionError::Parse),
            ),
            Sampler::Hashing { seed, .. } => {
                let rnd = match tid {
                    Some(id) => Rnd {
                        value: randomness_from_bytes(&id, *seed),
                        policy: Policy::TraceIdHash,
                    },
                    None => Rnd::missing(),
                };
                let mut c = SpanCarrier(ts);
                if let Some(e) = parse_err {
                    (rnd, None, Some(DecisionError::Parse(e)))
                } else if c.explicit_randomness().is_some() {
                    (rnd, None, Some(DecisionError::RandomnessInUse))
                } else if c.threshold().is_some() {
                    (rnd, None, Some(DecisionError::ThresholdInUse))
                } else {
                    c.set_explicit_randomness(rnd.value);
                    (rnd, Some(c), None)
                }
            }
            Sampler::Equalizing { .. } | Sampler::Proportional { .. } => {
                let c = SpanCarrier(ts);
                if let Some(e) = parse_err {
                    (Rnd::missing(), None, Some(DecisionError::Parse(e)))
                } else if let Some(rv) = c.explicit_randomness() {
                    (
                        Rnd {
                            value: rv,
                            policy: Policy::SamplingRandomness,
                        },
                        Some(c),
                        None,
                    )
                } else if let Some(id) = tid {
                    (
                        Rnd {
                            value: Randomness::from_trace_id(&id),
                            policy: Policy::TraceIdW3c,
                        },
                        Some(c),
                        None,
                    )
                } else {
                    (Rnd::missing(), Some(c), None)
                }
            }
        };
        let priority = span_priority(span);
        let (outcome, carrier) =
            common(
                self,
                fail_closed,
                rnd,
                carrier,
                error,
                |rnd, th| match priority {
                    Some(keep) => (
                        Rnd {
                            value: rnd.value,
                            policy: Policy::SamplingPriority,
                        },
                        if keep { ALWAYS_SAMPLE } else { NEVER_SAMPLE },
                    ),
                    None => (rnd, th),
                },
            );
        if let Some(c) = carrier {
            span.trace_state = c.0.serialize();
        }
        outcome
    }

    /// Decide one log record; a kept record gets its sampling attributes updated.
    /// The attributes a log record's decision reads: the first entry of each is all it
    /// looks at.
    pub fn log_keys<'k>(&'k self, priority_attribute: &'k str) -> Vec<&'k str> {
        let mut keys = vec![ATTR_THRESHOLD, ATTR_RANDOMNESS];
        if let Sampler::Hashing { logs_attribute, .. } = self {
            keys.push(logs_attribute);
        }
        keys.push(priority_attribute);
        keys.retain(|k| !k.is_empty());
        keys.dedup();
        keys
    }

    pub fn sample_log(
        &self,
        log: &mut LogRecord,
        fail_closed: bool,
        priority_attribute: &str,
        precision: usize,
    ) -> Outcome {
        let (outcome, carrier) = self.decide_log(log, fail_closed, priority_attribute, precision);
        if let Some(c) = carrier {
            c.apply(&mut log.attributes);
        }
        outcome
    }

    /// The decision over a log record, and what it writes into the record's attributes
    /// ([`LogCarrier::apply`]).
    pub fn decide_log(
        &self,
        log: &LogRecord,
        fail_closed: bool,
        priority_attribute: &str,
        precision: usize,
    ) -> (Outcome, Option<LogCarrier>) {
        let (lc, parse_err) = LogCarrier::parse(&log.attributes);
        let tid = trace_id(&log.trace_id);
        let (rnd, carrier, error) = match self {
            Sampler::Never => (
                Rnd {
                    value: ALL_PROBABILITIES,
                    policy: Policy::SamplingPriority,
                },
                Some(lc),
                parse_err.map(DecisionError::Parse),
            ),
            Sampler::Hashing {
                seed,
                logs_trace_id,
                logs_attribute,
                ..
            } => {
                let mut rnd = Rnd::missing();
                if *logs_trace_id {
                    if let Some(id) = tid {
                        rnd = Rnd {
                            value: randomness_from_bytes(&id, *seed),
                            policy: Policy::TraceIdHash,
                        };
                    }
                }
                if rnd.is_missing() && !logs_attribute.is_empty() {
                    if let Some(v) = value::get(&log.attributes, logs_attribute) {
                        // Go getBytesFromValue: raw bytes, else the value as text.
                        let bytes = match value::kind(v) {
                            Some(Value::BytesValue(b)) => b.clone(),
                            _ => value::as_string(v).into_bytes(),
                        };
                        if !bytes.is_empty() {
                            rnd = Rnd {
                                value: randomness_from_bytes(&bytes, *seed),
                                policy: Policy::Attribute,
                            };
                        }
                    }
                }
                let mut c = lc;
                if let Some(e) = parse_err {
                    (rnd, None, Some(DecisionError::Parse(e)))
                } else if c.explicit_randomness().is_some() {
                    (rnd, None, Some(DecisionError::RandomnessInUse))
                } else if c.threshold().is_some() {
                    (rnd, None, Some(DecisionError::ThresholdInUse))
                } else {
                    if !rnd.is_missing() {
                        c.set_explicit_randomness(rnd.value);
                    }
                    (rnd, Some(c), None)
                }
            }
            Sampler::Equalizing { .. } | Sampler::Proportional { .. } => {
                if let Some(e) = parse_err {
                    (Rnd::missing(), None, Some(DecisionError::Parse(e)))
                } else if let Some(rv) = lc.explicit_randomness() {
                    (
                        Rnd {
                            value: rv,
                            policy: Policy::SamplingRandomness,
                        },
                        Some(lc),
                        None,
                    )
                } else if let Some(id) = tid {
                    (
                        Rnd {
                            value: Randomness::from_trace_id(&id),
                            policy: Policy::TraceIdW3c,
                        },
                        Some(lc),
                        None,
                    )
                } else {
                    (Rnd::missing(), Some(lc), None)
                }
            }
        };
        // Go logsProcessor.priorityFunc / logRecordToPriorityThreshold.
        let priority = if priority_attribute.is_empty() {
            None
        } else {
            value::get(&log.attributes, priority_attribute).and_then(|v| {
                let min_prob = match value::kind(v) {
                    Some(Value::DoubleValue(d)) => *d / 100.0,
                    Some(Value::IntValue(i)) => *i as f64 / 100.0,
                    _ => 0.0,
                };
                if min_prob == 0.0 {
                    return None;
                }
                Threshold::from_probability(min_prob, precision).ok()
            })
        };
        let (outcome, carrier) =
            common(
                self,
                fail_closed,
                rnd,
                carrier,
                error,
                |rnd, th| match priority {
                    Some(t) => (
                        Rnd {
                            value: rnd.value,
                            policy: Policy::SamplingPriority,
                        },
                        t,
                    ),
                    None => (rnd, th),
                },
            );
        (outcome, carrier)
    }
}
