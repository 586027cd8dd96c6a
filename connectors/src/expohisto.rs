//! A base-2 exponential histogram of positive values (and zeros), as the OpenTelemetry data
//! model defines it and as the Go connectors aggregate it (`lightstep/go-expohisto`, which
//! `spanmetrics` and `servicegraph` use): it starts at the finest scale, 20, and when a new
//! value would need more than `max_size` buckets, the scale drops by the least amount that
//! makes the whole range fit, merging neighbouring buckets.
//!
//! The mapping (OpenTelemetry specification, "Exponential Buckets"): at scale `s`, bucket
//! `i` holds the values in `(2^(i / 2^s), 2^((i + 1) / 2^s)]`. For `s > 0` the index of `v`
//! is `ceil(log2(v) * 2^s) - 1`, computed as `floor(ln(v) * 2^s / ln 2)` except for exact
//! powers of two, whose index is `(e << s) - 1`; for `s <= 0` it is the base-2 exponent
//! (one less for an exact power of two) shifted right by `-s`.

use pipeline_api::proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use pipeline_api::proto::tonic::metrics::v1::ExponentialHistogramDataPoint;

/// The finest scale (Go `logarithm.MaxScale`).
pub const MAX_SCALE: i32 = 20;
/// The coarsest scale: two buckets cover every `f64`.
const MIN_SCALE: i32 = -10;
/// Go `structure.DefaultMaxSize`, used when `max_size` is 0.
pub const DEFAULT_MAX_SIZE: i32 = 160;
/// Go's bounds of `max_size` (`MinSize`, `MaximumMaxSize`).
const MIN_SIZE: i32 = 2;
const MAXIMUM_MAX_SIZE: i32 = 16384;

#[derive(Debug, Clone)]
pub struct ExpoHistogram {
    max_size: i32,
    scale: i32,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    zero_count: u64,
    /// The index of `counts[0]`.
    start: i32,
    counts: Vec<u64>,
}

/// The base-2 exponent of a positive normal `f64` and whether it is an exact power of two.
fn exponent(v: f64) -> (i32, bool) {
    let bits = v.to_bits();
    let raw = ((bits >> 52) & 0x7ff) as i32;
    let mantissa = bits & ((1u64 << 52) - 1);
    if raw == 0 {
        // subnormal: below every normal bucket; counted with the smallest normal value
        return (-1022, true);
    }
    (raw - 1023, mantissa == 0)
}

/// The bucket index of a positive value at `scale`.
pub fn index_of(v: f64, scale: i32) -> i32 {
    let (exp, power_of_two) = exponent(v);
    if scale <= 0 {
        let correction = if power_of_two { -1 } else { 0 };
        return (exp + correction) >> -scale;
    }
    if power_of_two {
        return (exp << scale) - 1;
    }
    let factor = f64::from(1u32 << scale) / std::f64::consts::LN_2;
    let index = (v.ln() * factor).floor();
    // the largest index whose lower boundary is finite
    let max = (1024i64 << scale) - 1;
    (index as i64).min(max) as i32
}

impl ExpoHistogram {
    /// `max_size` as configured: 0 means Go's default, out-of-range values are clamped as
    /// Go does.
    pub fn new(max_size: i32) -> ExpoHistogram {
        let max_size = if max_size == 0 {
            DEFAULT_MAX_SIZE
        } else {
            max_size.clamp(MIN_SIZE, MAXIMUM_MAX_SIZE)
        };
        ExpoHistogram {
            max_size,
            scale: MAX_SCALE,
            count: 0,
            sum: 0.0,
            min: 0.0,
            max: 0.0,
            zero_count: 0,
            start: 0,
            counts: Vec::new(),
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn scale(&self) -> i32 {
        self.scale
    }

    /// Record `n` observations of `v` (a duration: zero or positive; a negative or NaN value
    /// is counted as zero).
    pub fn record(&mut self, v: f64, n: u64) {
        let v = if v.is_nan() || v < 0.0 { 0.0 } else { v };
        if self.count == 0 {
            (self.min, self.max) = (v, v);
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += n;
        if v == 0.0 {
            self.zero_count += n;
            return;
        }
        self.sum += v * n as f64;
        let mut index = index_of(v, self.scale);
        if self.counts.is_empty() {
            self.start = index;
            self.counts.push(n);
            return;
        }
        let end = self.start + self.counts.len() as i32 - 1;
        let (mut low, mut high) = (self.start.min(index), end.max(index));
        if high - low >= self.max_size {
            let mut change = 0;
            while high - low >= self.max_size && self.scale - change > MIN_SCALE {
                high >>= 1;
                low >>= 1;
                change += 1;
            }
            self.downscale(change);
            index = index_of(v, self.scale);
        }
        if index < self.start {
            let grow = (self.start - index) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.start = index;
        }
        let at = (index - self.start) as usize;
        if at >= self.counts.len() {
            self.counts.resize(at + 1, 0);
        }
        self.counts[at] += n;
    }

    /// Lower the scale by `by`, merging each run of `2^by` buckets into one.
    fn downscale(&mut self, by: i32) {
        if by == 0 {
            return;
        }
        let new_start = self.start >> by;
        let mut merged: Vec<u64> = Vec::new();
        for (i, c) in self.counts.iter().enumerate() {
            let at = (((self.start + i as i32) >> by) - new_start) as usize;
            if at >= merged.len() {
                merged.resize(at + 1, 0);
            }
            merged[at] += c;
        }
        self.start = new_start;
        self.counts = merged;
        self.scale -= by;
    }

    /// The data point's histogram fields (Go `expoHistToExponentialDataPoint`): count, sum,
    /// min and max (when there was a value), zero count, scale, positive buckets; the
    /// negative buckets stay empty.
    pub fn fill(&self, p: &mut ExponentialHistogramDataPoint) {
        p.count = self.count;
        p.sum = Some(self.sum);
        if self.count != 0 {
            p.min = Some(self.min);
            p.max = Some(self.max);
        }
        p.zero_count = self.zero_count;
        p.scale = self.scale;
        p.positive = Some(Buckets {
            offset: self.start,
            bucket_counts: self.counts.clone(),
        });
        p.negative = Some(Buckets::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bucket `(lower, upper]` of an index at a scale.
    fn bounds(index: i32, scale: i32) -> (f64, f64) {
        let base = 2f64.powf(2f64.powi(-scale));
        (base.powi(index), base.powi(index + 1))
    }

    #[test]
    fn every_value_lands_in_the_bucket_that_holds_it() {
        for scale in [-2, 0, 1, 3, 8, 20] {
            for v in [
                0.001,
                0.5,
                1.0,
                1.5,
                2.0,
                3.0,
                4.0,
                7.3,
                100.0,
                1e6,
                123_456.789,
            ] {
                let i = index_of(v, scale);
                let (lo, hi) = bounds(i, scale);
                let eps = hi * 1e-9;
                assert!(
                    v > lo - eps && v <= hi + eps,
                    "{v} at scale {scale}: index {i} holds ({lo}, {hi}]"
                );
            }
        }
        // exact powers of two are the upper bound of their bucket
        assert_eq!(index_of(1.0, 0), -1);
        assert_eq!(index_of(2.0, 0), 0);
        assert_eq!(index_of(4.0, 1), 3);
        assert_eq!(index_of(8.0, -1), 1);
    }

    #[test]
    fn the_scale_drops_only_as_far_as_the_range_needs() {
        let mut h = ExpoHistogram::new(0);
        h.record(1.5, 1);
        assert_eq!(h.scale(), MAX_SCALE, "one value fits at the finest scale");
        // durations from 1 ms to 15 s in 160 buckets
        for v in [1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 1000.0, 15_000.0] {
            h.record(v, 1);
        }
        let mut p = ExponentialHistogramDataPoint::default();
        h.fill(&mut p);
        let b = p.positive.unwrap();
        assert!(b.bucket_counts.len() <= 160);
        assert_eq!(b.bucket_counts.iter().sum::<u64>(), 9);
        assert_eq!(p.count, 9);
        // the same values at one finer scale would not fit
        let span = |scale: i32| index_of(15_000.0, scale) - index_of(1.0, scale) + 1;
        assert!(
            span(p.scale) <= 160 && span(p.scale + 1) > 160,
            "scale {}",
            p.scale
        );
        assert_eq!((p.min, p.max), (Some(1.0), Some(15_000.0)));
        assert_eq!(
            p.sum,
            Some(1.5 + 1.0 + 2.0 + 5.0 + 10.0 + 50.0 + 100.0 + 1000.0 + 15_000.0)
        );
        // each value is still in the bucket that holds it after the merges
        let mut want = vec![0u64; b.bucket_counts.len()];
        for v in [1.5, 1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 1000.0, 15_000.0] {
            want[(index_of(v, p.scale) - b.offset) as usize] += 1;
        }
        assert_eq!(b.bucket_counts, want);
    }

    #[test]
    fn zeros_and_small_sizes() {
        let mut h = ExpoHistogram::new(2);
        h.record(0.0, 3);
        h.record(1.0, 1);
        h.record(1000.0, 2);
        let mut p = ExponentialHistogramDataPoint::default();
        h.fill(&mut p);
        assert_eq!(p.zero_count, 3);
        assert_eq!(p.count, 6);
        assert!(p.positive.as_ref().unwrap().bucket_counts.len() <= 2);
        assert_eq!(p.min, Some(0.0));
        assert_eq!(ExpoHistogram::new(1).max_size, MIN_SIZE);
        assert_eq!(ExpoHistogram::new(1 << 20).max_size, MAXIMUM_MAX_SIZE);
    }
}
