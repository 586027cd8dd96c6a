//! OpenTelemetry consistent-probability sampling primitives (the tracestate probability
//! sampling specification, OTEP 235), as Go's `pkg/sampling`: 56-bit thresholds and
//! randomness, the `th` (T-value) and `rv` (R-value) encodings, and the W3C `tracestate`
//! with its `ot` section.
//!
//! Go facts: a threshold is the number of rejected values out of 2^56; an item is sampled
//! when `threshold <= randomness`; the T-value is the 14-hex-digit threshold with trailing
//! zeros removed ("0" for always, "" for never); the R-value is exactly 14 hex digits;
//! trace-id randomness is the last 7 bytes of the trace id (big-endian);
//! `ProbabilityToThresholdWithPrecision` rounds to the requested number of hex digits,
//! adding digits near 0 and 1 (from `math.Frexp` of p and 1-p); serialization writes `ot=`
//! first with `rv`, then `th`, then other keys, then the other vendors' members in order.

use std::fmt;

/// 2^56: thresholds and randomness have 56 bits.
pub const MAX_ADJUSTED_COUNT: u64 = 1 << 56;
/// Hex digits of 56 bits.
pub const NUM_HEX_DIGITS: usize = 14;
/// Smallest representable probability, 2^-56.
pub const MIN_SAMPLING_PROBABILITY: f64 = 1.0 / MAX_ADJUSTED_COUNT as f64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SamplingError {
    TValueSize,
    TValueEmpty,
    RValueSize,
    Syntax,
    ProbabilityRange,
    TraceStateSize,
    TraceStateCount,
    Inconsistent,
}

impl fmt::Display for SamplingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Go's error texts (pkg/sampling, strconv.ErrSyntax).
        f.write_str(match self {
            SamplingError::TValueSize => "t-value exceeds 14 hex digits",
            SamplingError::TValueEmpty => "t-value is empty",
            SamplingError::RValueSize => "r-value must have 14 hex digits",
            SamplingError::Syntax => "invalid syntax",
            SamplingError::ProbabilityRange => {
                "sampling probability out of the range [1/MaxAdjustedCount, 1]"
            }
            SamplingError::TraceStateSize => "invalid tracestate size",
            SamplingError::TraceStateCount => "invalid tracestate item count",
            SamplingError::Inconsistent => "cannot raise existing sampling probability",
        })
    }
}

/// Rejected values out of 2^56: 0 samples everything, 2^56 nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Threshold(u64);

pub const ALWAYS_SAMPLE: Threshold = Threshold(0);
pub const NEVER_SAMPLE: Threshold = Threshold(MAX_ADJUSTED_COUNT);

/// Parse hex digits only (Go `strconv.ParseUint(s, 16, 64)`: no sign, prefix or `_`).
fn parse_hex(s: &str) -> Result<u64, SamplingError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SamplingError::Syntax);
    }
    u64::from_str_radix(s, 16).map_err(|_| SamplingError::Syntax)
}

impl Threshold {
    /// Go `TValueToThreshold`.
    pub fn from_tvalue(s: &str) -> Result<Threshold, SamplingError> {
        if s.len() > NUM_HEX_DIGITS {
            return Err(SamplingError::TValueSize);
        }
        if s.is_empty() {
            return Err(SamplingError::TValueEmpty);
        }
        let unsigned = parse_hex(s)?;
        Ok(Threshold(unsigned << (4 * (NUM_HEX_DIGITS - s.len()))))
    }

    /// Go `UnsignedToThreshold`.
    pub fn from_unsigned(u: u64) -> Result<Threshold, SamplingError> {
        if u >= MAX_ADJUSTED_COUNT {
            return Err(SamplingError::TValueSize);
        }
        Ok(Threshold(u))
    }

    pub fn unsigned(self) -> u64 {
        self.0
    }

    /// Go `Threshold.TValue`.
    pub fn tvalue(self) -> String {
        if self == ALWAYS_SAMPLE {
            return "0".into();
        }
        if self == NEVER_SAMPLE {
            return String::new();
        }
        let digits = format!("{:014x}", self.0);
        digits.trim_end_matches('0').to_string()
    }

    /// Sampled when `T <= R`.
    pub fn should_sample(self, rnd: Randomness) -> bool {
        self.0 <= rnd.0
    }

    pub fn probability(self) -> f64 {
        (MAX_ADJUSTED_COUNT - self.0.min(MAX_ADJUSTED_COUNT)) as f64 / MAX_ADJUSTED_COUNT as f64
    }

    pub fn adjusted_count(self) -> f64 {
        if self == NEVER_SAMPLE {
            0.0
        } else {
            1.0 / self.probability()
        }
    }

    /// Go `ProbabilityToThresholdWithPrecision`; precision 0 means full precision.
    pub fn from_probability(fraction: f64, precision: usize) -> Result<Threshold, SamplingError> {
        let mut precision = if precision == 0 {
            NUM_HEX_DIGITS
        } else {
            precision
        };
        if !(MIN_SAMPLING_PROBABILITY..=1.0).contains(&fraction) {
            return Err(SamplingError::ProbabilityRange);
        }
        if fraction == 1.0 {
            return Ok(ALWAYS_SAMPLE);
        }
        // More digits near 0 and near 1: one per leading hex 0 or f (Go: Frexp exponents
        // divided by -4, truncating).
        let exp_f = frexp_exp(fraction);
        let exp_r = frexp_exp(1.0 - fraction);
        let extra = (exp_f / -4).max(exp_r / -4).max(0) as usize;
        precision = (precision + extra).min(NUM_HEX_DIGITS);
        let scaled = (fraction * MAX_ADJUSTED_COUNT as f64).round() as u64;
        let mut threshold = MAX_ADJUSTED_COUNT - scaled;
        let shift = 4 * (NUM_HEX_DIGITS - precision);
        if shift != 0 {
            let half = 1u64 << (shift - 1);
            threshold += half;
            threshold >>= shift;
            threshold <<= shift;
        }
        Ok(Threshold(threshold))
    }
}

/// The exponent of Go's `math.Frexp` (x = frac * 2^exp with frac in [0.5, 1)); 0 for 0.
fn frexp_exp(x: f64) -> i32 {
    if x == 0.0 || !x.is_finite() {
        return 0;
    }
    let bits = x.abs().to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal: normalize.
        let mantissa = bits & ((1u64 << 52) - 1);
        let lead = 63 - mantissa.leading_zeros() as i32; // bit index of the leading 1
        return lead - 52 - 1022 + 1;
    }
    biased - 1022
}

/// 56 random bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Randomness(u64);

/// Sampled at every probability.
pub const ALL_PROBABILITIES: Randomness = Randomness(MAX_ADJUSTED_COUNT - 1);

impl Randomness {
    /// Go `TraceIDToRandomness`: the least-significant 56 bits of the trace id's second half.
    pub fn from_trace_id(id: &[u8; 16]) -> Randomness {
        let mut half = [0u8; 8];
        half.copy_from_slice(&id[8..]);
        Randomness(u64::from_be_bytes(half) & (MAX_ADJUSTED_COUNT - 1))
    }

    /// Go `RValueToRandomness`.
    pub fn from_rvalue(s: &str) -> Result<Randomness, SamplingError> {
        if s.len() != NUM_HEX_DIGITS {
            return Err(SamplingError::RValueSize);
        }
        Ok(Randomness(parse_hex(s)?))
    }

    /// Go `UnsignedToRandomness`.
    pub fn from_unsigned(u: u64) -> Result<Randomness, SamplingError> {
        if u >= MAX_ADJUSTED_COUNT {
            return Err(SamplingError::RValueSize);
        }
        Ok(Randomness(u))
    }

    pub fn unsigned(self) -> u64 {
        self.0
    }

    /// 14 lower-case hex digits.
    pub fn rvalue(self) -> String {
        format!("{:014x}", self.0)
    }
}

/// The `ot` member of a tracestate (Go `OpenTelemetryTraceState`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OtelTraceState {
    rvalue: String,
    rnd: Option<Randomness>,
    tvalue: String,
    threshold: Option<Threshold>,
    extra: Vec<(String, String)>,
}

const HARD_MAX_OTEL_LENGTH: usize = 256;
const HARD_MAX_W3C_LENGTH: usize = 1024;

fn valid_otel_syntax(s: &str) -> bool {
    // key = lcalpha *(lcalpha / DIGIT); value = *(ALPHA / DIGIT / "." / "_" / "-");
    // list = key ":" value *( ";" key ":" value )
    s.split(';').all(|member| {
        let Some((k, v)) = member.split_once(':') else {
            return false;
        };
        let mut kb = k.bytes();
        matches!(kb.next(), Some(b'a'..=b'z'))
            && kb.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    })
}

impl OtelTraceState {
    /// Go `NewOpenTelemetryTraceState`: on a bad `rv` or `th` the field is left unset and
    /// the error returned (parsing goes on, as Go accumulates the errors).
    pub fn parse(input: &str) -> (OtelTraceState, Option<SamplingError>) {
        let mut otts = OtelTraceState::default();
        if input.len() > HARD_MAX_OTEL_LENGTH {
            return (otts, Some(SamplingError::TraceStateSize));
        }
        if !valid_otel_syntax(input) {
            return (otts, Some(SamplingError::Syntax));
        }
        let mut first_err = None;
        for member in input.split(';') {
            let Some((key, value)) = member.split_once(':') else {
                continue;
            };
            match key {
                "rv" => match Randomness::from_rvalue(value) {
                    Ok(r) => {
                        otts.rnd = Some(r);
                        otts.rvalue = value.to_string();
                    }
                    Err(e) => {
                        otts.rnd = None;
                        otts.rvalue.clear();
                        first_err.get_or_insert(e);
                    }
                },
                "th" => match Threshold::from_tvalue(value) {
                    Ok(t) => {
                        otts.threshold = Some(t);
                        otts.tvalue = value.to_string();
                    }
                    Err(e) => {
                        otts.threshold = None;
                        otts.tvalue.clear();
                        first_err.get_or_insert(e);
                    }
                },
                _ => otts.extra.push((key.to_string(), value.to_string())),
            }
        }
        (otts, first_err)
    }

    pub fn rvalue(&self) -> &str {
        &self.rvalue
    }

    pub fn tvalue(&self) -> &str {
        &self.tvalue
    }

    pub fn randomness(&self) -> Option<Randomness> {
        self.rnd
    }

    pub fn threshold(&self) -> Option<Threshold> {
        self.threshold
    }

    pub fn set_rvalue(&mut self, rnd: Randomness) {
        self.rnd = Some(rnd);
        self.rvalue = rnd.rvalue();
    }

    pub fn clear_tvalue(&mut self) {
        self.tvalue.clear();
        self.threshold = None;
    }

    /// Go `UpdateTValueWithSampling`: refuses to raise the sampling probability.
    pub fn update_tvalue(&mut self, th: Threshold) -> Result<(), SamplingError> {
        if let Some(existing) = self.threshold {
            if !self.tvalue.is_empty() && existing > th {
                return Err(SamplingError::Inconsistent);
            }
        }
        self.threshold = Some(th);
        self.tvalue = th.tvalue();
        Ok(())
    }

    pub fn adjusted_count(&self) -> f64 {
        match self.threshold {
            Some(t) if !self.tvalue.is_empty() => t.adjusted_count(),
            _ => 0.0,
        }
    }

    pub fn has_any_value(&self) -> bool {
        !self.rvalue.is_empty() || !self.tvalue.is_empty() || !self.extra.is_empty()
    }

    pub fn serialize(&self) -> String {
        let mut parts = Vec::new();
        if !self.rvalue.is_empty() {
            parts.push(format!("rv:{}", self.rvalue));
        }
        if !self.tvalue.is_empty() {
            parts.push(format!("th:{}", self.tvalue));
        }
        for (k, v) in &self.extra {
            parts.push(format!("{k}:{v}"));
        }
        parts.join(";")
    }
}

/// A W3C `tracestate` (Go `W3CTraceState`): the `ot` member parsed, the others kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct W3cTraceState {
    otel: OtelTraceState,
    others: Vec<(String, String)>,
}

pub(crate) fn valid_w3c_key(k: &str) -> bool {
    let punct = |b: u8| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/')
    };
    if let Some((tenant, system)) = k.split_once('@') {
        let mut t = tenant.bytes();
        let mut s = system.bytes();
        matches!(t.next(), Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit())
            && tenant.len() <= 241
            && t.all(punct)
            && matches!(s.next(), Some(b'a'..=b'z'))
            && system.len() <= 14
            && s.all(punct)
    } else {
        let mut b = k.bytes();
        matches!(b.next(), Some(b'a'..=b'z')) && k.len() <= 256 && b.all(punct)
    }
}

pub(crate) fn valid_w3c_value(v: &str) -> bool {
    // 0*255(chr) nblk-chr; chr = 0x20-0x7E except "," and "="; the last is not a space.
    !v.is_empty()
        && v.len() <= 256
        && v.bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
        && !v.ends_with(' ')
}

impl W3cTraceState {
    /// Go `NewW3CTraceState`. Whitespace around members is allowed and empty members are
    /// skipped; 32 or more members is an error (Go's scanner counts `items >= 32`).
    pub fn parse(input: &str) -> (W3cTraceState, Option<SamplingError>) {
        let mut w3c = W3cTraceState::default();
        if input.len() > HARD_MAX_W3C_LENGTH {
            return (w3c, Some(SamplingError::TraceStateSize));
        }
        let mut members = Vec::new();
        for raw in input.split(',') {
            let member = raw.trim_matches([' ', '\t']);
            if member.is_empty() {
                members.push(None);
                continue;
            }
            let Some((k, v)) = member.split_once('=') else {
                return (W3cTraceState::default(), Some(SamplingError::Syntax));
            };
            if !valid_w3c_key(k) || !valid_w3c_value(v) {
                return (W3cTraceState::default(), Some(SamplingError::Syntax));
            }
            members.push(Some((k, v)));
        }
        if input.is_empty() {
            return (w3c, None);
        }
        let mut first_err = None;
        for (items, m) in members.into_iter().enumerate() {
            if items + 1 >= 32 {
                return (w3c, Some(SamplingError::TraceStateCount));
            }
            let Some((k, v)) = m else { continue };
            if k == "ot" {
                let (otts, e) = OtelTraceState::parse(v);
                w3c.otel = otts;
                if let Some(e) = e {
                    first_err.get_or_insert(e);
                }
            } else {
                w3c.others.push((k.to_string(), v.to_string()));
            }
        }
        (w3c, first_err)
    }

    pub fn otel(&self) -> &OtelTraceState {
        &self.otel
    }

    pub fn otel_mut(&mut self) -> &mut OtelTraceState {
        &mut self.otel
    }

    /// The value of a vendor key (the `ot` member as written).
    pub fn get(&self, key: &str) -> Option<String> {
        if key == "ot" {
            return self.otel.has_any_value().then(|| self.otel.serialize());
        }
        self.others
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    pub fn serialize(&self) -> String {
        let mut parts = Vec::new();
        if self.otel.has_any_value() {
            parts.push(format!("ot={}", self.otel.serialize()));
        }
        for (k, v) in &self.others {
            parts.push(format!("{k}={v}"));
        }
        parts.join(",")
    }
}
