//! OTLP → Prometheus translation shared by the `prometheus` (pull) and `prometheusremotewrite`
//! (push) exporters: metric and label naming (`naming`), the Prometheus-shaped points both
//! start from (`points`: types, labels, `job`/`instance`, scope labels, `target_info` data),
//! delta → cumulative state (`cumulative`), exponential histograms as classic buckets
//! (`exphist`) and the Go number formats (`format`).
//!
//! The rules follow the OpenTelemetry specification's
//! `compatibility/prometheus_and_openmetrics.md` and the Go collector's exporters; each file
//! names the facts it relies on.

pub mod cumulative;
pub mod exphist;
pub mod format;
pub mod naming;
pub mod points;
#[cfg(test)]
mod real_prometheus;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;

pub use naming::{label_name, MetricKind, MetricNamer};
pub use points::{
    translate, translate_batch, translate_wire, ExtraLabels, FamilyType, Labels, Point,
    ResourceInfo, ResourceToTelemetry, ScopeLabels, Temporality, TranslateOptions, Value,
};

/// Go `otlptranslator.TargetInfoMetricName`.
pub const TARGET_INFO: &str = "target_info";

/// Sanitize configured label names (`const_labels`, `external_labels`): Go's label namer,
/// keeping names that are already valid (including reserved `__` ones, which Go allows for
/// external labels).
pub fn config_labels<'a>(
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = labels
        .into_iter()
        .filter_map(|(k, v)| {
            let name = if naming::is_valid_label_name(k) {
                k.clone()
            } else {
                label_name(k)?
            };
            Some((name, v.clone()))
        })
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}
