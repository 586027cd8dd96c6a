//! The running state of a series: the latest cumulative value, with delta points added up.
//!
//! Facts relied on:
//! - Go `exporter/prometheusexporter/accumulator.go`: a cumulative point replaces the stored
//!   one unless it is older ("only keep datapoint with latest timestamp"); delta histograms add
//!   bucket by bucket when the bounds match and take the newer point when they do not;
//!   exponential histograms are merged at the smaller of the two scales (buckets downscaled,
//!   zero counts and counts added, the larger zero threshold kept).
//! - Alignment: Go's pull exporter treats a delta point whose start is not the previous point's
//!   time as a reset. Ferrotel follows Go's `deltatocumulative` processor instead: a delta
//!   newer than the state is added whatever its start (an SDK that skips idle intervals must
//!   not reset the counter); a delta not newer than the state is a duplicate or out of order
//!   and is not added (a retried batch therefore cannot count twice).

use super::points::{Buckets, ExpHistogram, Histogram, Point, Temporality, Value};

/// At most this many buckets per side are kept when exponential histograms are merged (the
/// OpenTelemetry SDKs' default `max_size`); beyond it the histogram is downscaled.
pub const MAX_EXP_BUCKETS: usize = 160;

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub start_ns: u64,
    pub time_ns: u64,
    pub value: Value,
}

/// What happened to a point offered to a series' state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// The state was created or changed.
    Updated,
    /// A delta with the state's own timestamp: already counted (a retry).
    AlreadyCounted,
    /// An older point: ignored.
    Stale,
}

impl State {
    pub fn new(p: &Point) -> State {
        State {
            start_ns: p.start_ns,
            time_ns: p.time_ns,
            value: normalized(p.value.clone()),
        }
    }

    /// Offer `p` (of this series) to the state.
    pub fn merge(&mut self, p: &Point) -> Merge {
        match p.temporality {
            Temporality::Cumulative => {
                if p.time_ns < self.time_ns {
                    return Merge::Stale;
                }
                *self = State::new(p);
                Merge::Updated
            }
            Temporality::Delta => {
                if p.time_ns == self.time_ns {
                    return Merge::AlreadyCounted;
                }
                if p.time_ns < self.time_ns {
                    return Merge::Stale;
                }
                let merged = match (&self.value, &p.value) {
                    (Value::Number(a), Value::Number(b)) => Some(Value::Number(a + b)),
                    (Value::Histogram(a), Value::Histogram(b)) => {
                        Some(Value::Histogram(add_histograms(a, b)))
                    }
                    (Value::Exponential(a), Value::Exponential(b)) => {
                        Some(Value::Exponential(add_exponential(a, b)))
                    }
                    _ => None,
                };
                match merged {
                    Some(v) => {
                        self.value = v;
                        self.time_ns = p.time_ns;
                    }
                    // Another kind of value under the same series: start over.
                    None => *self = State::new(p),
                }
                Merge::Updated
            }
        }
    }
}

/// Keep exponential histograms within [`MAX_EXP_BUCKETS`] per side.
fn normalized(v: Value) -> Value {
    match v {
        Value::Exponential(mut e) => {
            limit_buckets(&mut e);
            Value::Exponential(e)
        }
        v => v,
    }
}

/// Go `accumulateHistogramValues`: add when the bounds match, else keep the newer point.
fn add_histograms(older: &Histogram, newer: &Histogram) -> Histogram {
    if older.bounds != newer.bounds {
        return newer.clone();
    }
    let n = older.counts.len().max(newer.counts.len());
    let counts = (0..n)
        .map(|i| {
            older
                .counts
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_add(newer.counts.get(i).copied().unwrap_or(0))
        })
        .collect();
    Histogram {
        bounds: newer.bounds.clone(),
        counts,
        count: older.count.saturating_add(newer.count),
        sum: match (older.sum, newer.sum) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        },
    }
}

/// Floor division that works for negative numerators.
fn floor_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b)
}

/// Buckets of `from_scale` expressed at the smaller `to_scale` (each index `i` becomes
/// `floor(i / 2^(from - to))`).
pub fn downscale(b: &Buckets, from_scale: i32, to_scale: i32) -> Buckets {
    if b.counts.is_empty() || from_scale <= to_scale {
        return b.clone();
    }
    let shift = (from_scale - to_scale).min(62) as u32;
    let factor = 1i64 << shift;
    let first = floor_div(b.offset as i64, factor);
    let last = floor_div(b.offset as i64 + b.counts.len() as i64 - 1, factor);
    let mut counts = vec![0u64; (last - first + 1) as usize];
    for (i, c) in b.counts.iter().enumerate() {
        let k = floor_div(b.offset as i64 + i as i64, factor);
        let slot = &mut counts[(k - first) as usize];
        *slot = slot.saturating_add(*c);
    }
    Buckets {
        offset: first.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
        counts,
    }
}

/// Add two bucket ranges of the same scale.
fn merge_buckets(a: &Buckets, b: &Buckets) -> Buckets {
    if a.counts.is_empty() {
        return b.clone();
    }
    if b.counts.is_empty() {
        return a.clone();
    }
    let first = (a.offset as i64).min(b.offset as i64);
    let last =
        (a.offset as i64 + a.counts.len() as i64).max(b.offset as i64 + b.counts.len() as i64);
    let mut counts = vec![0u64; (last - first) as usize];
    for side in [a, b] {
        for (i, c) in side.counts.iter().enumerate() {
            let slot = &mut counts[(side.offset as i64 + i as i64 - first) as usize];
            *slot = slot.saturating_add(*c);
        }
    }
    Buckets {
        offset: first as i32,
        counts,
    }
}

/// Go `accumulateNativeHistogramValues`.
fn add_exponential(a: &ExpHistogram, b: &ExpHistogram) -> ExpHistogram {
    let mut scale = a.scale.min(b.scale);
    // Far-apart offsets would need a huge bucket array at this scale: downscale until both
    // sides fit (bounded: each step halves the span).
    for _ in 0..64 {
        let fits = [(&a.positive, &b.positive), (&a.negative, &b.negative)]
            .into_iter()
            .all(|(x, y)| span(x, a.scale, y, b.scale, scale) <= MAX_EXP_BUCKETS as i64);
        if fits {
            break;
        }
        scale -= 1;
    }
    let mut out = ExpHistogram {
        scale,
        zero_count: a.zero_count.saturating_add(b.zero_count),
        zero_threshold: a.zero_threshold.max(b.zero_threshold),
        positive: merge_buckets(
            &downscale(&a.positive, a.scale, scale),
            &downscale(&b.positive, b.scale, scale),
        ),
        negative: merge_buckets(
            &downscale(&a.negative, a.scale, scale),
            &downscale(&b.negative, b.scale, scale),
        ),
        count: a.count.saturating_add(b.count),
        sum: match (a.sum, b.sum) {
            (None, None) => None,
            (x, y) => Some(x.unwrap_or(0.0) + y.unwrap_or(0.0)),
        },
    };
    limit_buckets(&mut out);
    out
}

/// How many buckets `x` (at `x_scale`) and `y` (at `y_scale`) cover together at `scale`.
fn span(x: &Buckets, x_scale: i32, y: &Buckets, y_scale: i32, scale: i32) -> i64 {
    let ends = |b: &Buckets, from: i32| {
        if b.counts.is_empty() {
            return None;
        }
        let shift = (from - scale).clamp(0, 62) as u32;
        let f = 1i64 << shift;
        Some((
            floor_div(b.offset as i64, f),
            floor_div(b.offset as i64 + b.counts.len() as i64 - 1, f),
        ))
    };
    match (ends(x, x_scale), ends(y, y_scale)) {
        (None, None) => 0,
        (Some((lo, hi)), None) | (None, Some((lo, hi))) => hi - lo + 1,
        (Some((a, b)), Some((c, d))) => b.max(d) - a.min(c) + 1,
    }
}

/// Downscale until each side has at most [`MAX_EXP_BUCKETS`] buckets.
pub fn limit_buckets(e: &mut ExpHistogram) {
    while (e.positive.counts.len() > MAX_EXP_BUCKETS || e.negative.counts.len() > MAX_EXP_BUCKETS)
        && e.scale > -10
    {
        e.positive = downscale(&e.positive, e.scale, e.scale - 1);
        e.negative = downscale(&e.negative, e.scale, e.scale - 1);
        e.scale -= 1;
    }
}
