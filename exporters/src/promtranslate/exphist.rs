//! Exponential histograms as classic Prometheus buckets.
//!
//! Ferrotel's choice: an OTLP exponential histogram becomes a classic histogram (`_bucket{le}`,
//! `_sum`, `_count`) in both exporters. Go's pull exporter makes a native histogram, which only
//! a Prometheus scraping the protobuf format with native histograms enabled can see (the text
//! format then carries only `_sum`, `_count` and `le="+Inf"`), and Go's remote write sends
//! native histograms that a Prometheus without `--enable-feature=native-histograms` refuses.
//! Classic buckets work with every Prometheus and `histogram_quantile`.
//!
//! Facts relied on (OTLP `metrics.proto` ExponentialHistogramDataPoint): `base =
//! 2^(2^-scale)`; positive bucket `index` (= `offset + i`) counts values in
//! `(base^index, base^(index+1)]`; negative bucket `index` counts values in
//! `[-base^(index+1), -base^index)`; the zero bucket counts values whose magnitude is at most
//! `zero_threshold`.
//!
//! Mapping: each negative bucket (largest index first) becomes `le = -base^index`, the zero
//! bucket `le = zero_threshold` (`0` when unset), each positive bucket `le = base^(index+1)`;
//! counts are cumulative and `le="+Inf"` is the point's count. A bound that is not above the
//! previous one is folded into the previous bucket and a bound beyond f64 into `+Inf`, so `le`
//! always increases.

use super::points::ExpHistogram;

/// The upper bound of positive bucket `index` at `scale`: `2^((index+1) * 2^-scale)`.
pub fn upper_bound(index: i64, scale: i32) -> f64 {
    (((index + 1) as f64) * (-(scale as f64)).exp2()).exp2()
}

/// `(le, cumulative count)` for every bucket below `+Inf`.
pub fn classic_buckets(e: &ExpHistogram) -> Vec<(f64, u64)> {
    let mut raw: Vec<(f64, u64)> = Vec::new();
    // Negative buckets, most negative first: bucket `index` ends (exclusively) at -base^index.
    for (i, c) in e.negative.counts.iter().enumerate().rev() {
        let index = e.negative.offset as i64 + i as i64;
        raw.push((-upper_bound(index - 1, e.scale), *c));
    }
    raw.push((e.zero_threshold.max(0.0), e.zero_count));
    for (i, c) in e.positive.counts.iter().enumerate() {
        let index = e.positive.offset as i64 + i as i64;
        raw.push((upper_bound(index, e.scale), *c));
    }
    let mut out: Vec<(f64, u64)> = Vec::with_capacity(raw.len());
    let mut cumulative = 0u64;
    for (le, c) in raw {
        if !le.is_finite() {
            // Beyond f64: these values are only in `+Inf` (the point's count).
            continue;
        }
        cumulative = cumulative.saturating_add(c);
        match out.last_mut() {
            // Not above the previous bound: its values are below that bound too.
            Some((prev, total)) if le <= *prev => *total = cumulative,
            _ => out.push((le, cumulative)),
        }
    }
    out
}
