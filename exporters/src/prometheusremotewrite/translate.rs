//! Points into remote write time series, then into requests of bounded size.
//!
//! Facts relied on (Go `pkg/translator/prometheusremotewrite` `helper.go`,
//! `number_data_points.go`, `metrics_to_prw.go`, `exporter/prometheusremotewriteexporter/
//! helper.go batchTimeSeries`):
//! - a sample's timestamp is the point's time in milliseconds; NoRecordedValue points are sent
//!   as the staleness marker (`value.StaleNaN`, bits 0x7ff0000000000002).
//! - histograms: `<name>_bucket` per bound with the cumulative count and `le` written
//!   `strconv.FormatFloat(bound, 'f', -1, 64)`, `le="+Inf"` with the count, `<name>_sum` only
//!   when the sum is set, `<name>_count`. Summaries: `<name>{quantile}` (same float format),
//!   `<name>_sum`, `<name>_count`.
//! - exemplars: all of a monotonic sum's on its series; a histogram's on the first bucket (in
//!   bound order, `+Inf` last) whose bound is at or above the exemplar's value; labels
//!   `trace_id`, `span_id` and, when the total stays within 128 runes, the filtered
//!   attributes.
//! - `export_created_metric`: `<name>_created` (counters keep their `_total`: Go appends
//!   `_created` to the full name) for monotonic sums, histograms and summaries with a start
//!   time, valued at the start time in milliseconds. Go leaves the sample's timestamp unset;
//!   Ferrotel stamps it with the point's time so Prometheus accepts it.
//! - `target_info` per resource (unless `target_info.enabled: false`), only when the resource
//!   has attributes besides `service.name`, `service.namespace`, `service.instance.id`:
//!   those attributes as labels plus `job`/`instance` and the external labels, value 1, at
//!   the resource's most recent point time; `<namespace>_target_info` with a namespace.
//! - requests: series are added in turn and a new request is started when the current one
//!   plus the next series would reach `max_batch_size_bytes` (uncompressed protobuf size);
//!   metadata follow the series the same way.
//! - labels of each series sorted by name; samples sorted by time (Prometheus refuses out of
//!   order samples within a request).
//! - exponential histograms (`histograms.go`): one native histogram on the series named
//!   `<name>` (no suffix), with all the point's exemplars; a scale above 8 is lowered to 8 by
//!   merging buckets; OTLP bucket `i` is Prometheus bucket `i + 1`; counts as deltas in spans,
//!   a gap of up to 2 empty buckets filled with zeros, a longer one starting a new span; zero
//!   threshold `1e-128` when the point has none; reset hint unknown. Go refuses a scale below
//!   -4; Ferrotel sends such a point as classic buckets instead.
//! - metadata units as Go's `UnitNamer` (`s` → `seconds`, `{request}` → empty).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use prost::Message;

use super::prompb::{
    BucketSpan, Exemplar, Histogram, Label, MetricMetadata, MetricType, Sample, TimeSeries,
    WriteRequest,
};
use crate::promtranslate::format::plain_float;
use crate::promtranslate::naming::unit_name;
use crate::promtranslate::points::{
    self, Buckets, ExpHistogram, FamilyType, Point, ResourceInfo, Value,
};
use crate::promtranslate::{exphist, Labels, TARGET_INFO};

/// Prometheus `value.StaleNaN`.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// A native histogram's zero threshold when the point has none (Go `defaultZeroThreshold`).
const DEFAULT_ZERO_THRESHOLD: f64 = 1e-128;

/// OpenMetrics exemplar label limit (Go `maxExemplarRunes`).
const MAX_EXEMPLAR_RUNES: usize = 128;

#[derive(Debug, Clone)]
pub struct SeriesOptions {
    pub export_created: bool,
    pub target_info: Option<String>,
    /// External labels (already sanitized), added to `target_info` unless present.
    pub external_labels: Vec<(String, String)>,
    pub send_metadata: bool,
}

/// Series by family name, then by their other labels (sorted by name); a series' `labels`
/// (its key's, `__name__` put in its place) are put in by [`SeriesSet::into_requests`].
///
/// The points of a batch come metric by metric, so a series is looked up first by its name
/// (the last family used is kept) and then among its family's series only: the comparisons
/// of the ordered map start at the first label that can differ, not at `__name__`.
pub struct SeriesSet {
    families: Vec<(Arc<str>, Family)>,
    /// Each family's place in `families`.
    index: HashMap<Arc<str>, usize>,
    /// The family used last.
    last: Option<usize>,
    metadata: BTreeMap<String, MetricMetadata>,
    /// The label names the exporter adds, shared by the series that have them.
    le: Arc<str>,
    quantile: Arc<str>,
}

impl Default for SeriesSet {
    fn default() -> SeriesSet {
        SeriesSet {
            families: Vec::new(),
            index: HashMap::new(),
            last: None,
            metadata: BTreeMap::new(),
            le: "le".into(),
            quantile: "quantile".into(),
        }
    }
}

/// A family's series by their labels but `__name__`, each label set with its group.
type Family = BTreeMap<Vec<Label>, Group>;

/// The series of one label set: that of the labels themselves, and those of the labels with
/// one more (a histogram's `le`, a summary's `quantile`), so that a point's buckets or
/// quantiles are found with one lookup of its labels, not one each.
#[derive(Default)]
struct Group {
    own: Option<TimeSeries>,
    /// Each added label with its series, in the order first added.
    more: Vec<(Label, TimeSeries)>,
}

impl Group {
    /// The series of the labels with `label` added, the `i`th added for its point: most
    /// points of a metric have the same bounds, so it is most often found at place `i`.
    fn more(&mut self, i: usize, label: Label) -> &mut TimeSeries {
        let at = match self.more.get(i) {
            Some((l, _)) if *l == label => i,
            _ => match self.more.iter().position(|(l, _)| *l == label) {
                Some(at) => at,
                None => {
                    self.more.push((label, TimeSeries::default()));
                    self.more.len() - 1
                }
            },
        };
        &mut self.more[at].1
    }
}

fn ms(ns: u64) -> i64 {
    (ns / 1_000_000) as i64
}

/// A point's `labels` (sorted by name, without `__name__`) as series labels.
fn into_labels(labels: Labels) -> Vec<Label> {
    debug_assert!(labels.is_sorted_by(|a, b| a.0 < b.0), "{labels:?}");
    labels
        .into_iter()
        .map(|(name, value)| Label { name, value })
        .collect()
}

fn convert_exemplar(e: &points::Exemplar) -> Exemplar {
    let mut labels = Vec::new();
    let mut runes = 0;
    if !e.trace_id.is_empty() {
        runes += "trace_id".len() + e.trace_id.chars().count();
        labels.push(Label {
            name: "trace_id".into(),
            value: e.trace_id.as_str().into(),
        });
    }
    if !e.span_id.is_empty() {
        runes += "span_id".len() + e.span_id.chars().count();
        labels.push(Label {
            name: "span_id".into(),
            value: e.span_id.as_str().into(),
        });
    }
    let filtered_runes: usize = e
        .filtered
        .iter()
        .map(|(k, v)| k.chars().count() + v.chars().count())
        .sum();
    if runes + filtered_runes <= MAX_EXEMPLAR_RUNES {
        labels.extend(e.filtered.iter().map(|(k, v)| Label {
            name: k.as_str().into(),
            value: v.as_str().into(),
        }));
    }
    Exemplar {
        labels,
        value: e.value,
        timestamp: ms(e.time_ns),
    }
}

/// An exponential histogram point as a native histogram (see the module doc).
fn native_histogram(e: &ExpHistogram, ts: i64, stale: bool) -> Histogram {
    let (schema, scale_down) = if e.scale > 8 {
        (8, e.scale - 8)
    } else {
        (e.scale, 0)
    };
    let (positive_spans, positive_deltas) = bucket_layout(&e.positive, scale_down);
    let (negative_spans, negative_deltas) = bucket_layout(&e.negative, scale_down);
    let (count, sum) = if stale {
        (STALE_NAN_BITS, f64::from_bits(STALE_NAN_BITS))
    } else {
        (e.count, e.sum.unwrap_or(0.0))
    };
    Histogram {
        count_int: Some(count),
        sum,
        schema,
        zero_threshold: if e.zero_threshold != 0.0 {
            e.zero_threshold
        } else {
            DEFAULT_ZERO_THRESHOLD
        },
        zero_count_int: Some(e.zero_count),
        negative_spans,
        negative_deltas,
        positive_spans,
        positive_deltas,
        reset_hint: 0,
        timestamp: ts,
    }
}

/// One side's buckets as native spans and count deltas, `scale_down` halvings merged.
pub(crate) fn bucket_layout(b: &Buckets, scale_down: i32) -> (Vec<BucketSpan>, Vec<i64>) {
    if b.counts.is_empty() {
        return (Vec::new(), Vec::new());
    }
    // the Prometheus index of OTLP bucket `i` after merging
    let index = |i: usize| ((i as i32).saturating_add(b.offset) >> scale_down).saturating_add(1);
    let mut layout = Layout {
        spans: vec![BucketSpan {
            offset: index(0),
            length: 0,
        }],
        deltas: Vec::new(),
        previous: 0,
    };
    let mut at = index(0);
    let mut count = 0i64;
    for (i, c) in b.counts.iter().enumerate() {
        let c = i64::try_from(*c).unwrap_or(i64::MAX);
        let next = index(i);
        if next == at {
            count = count.saturating_add(c);
            continue;
        }
        if count == 0 {
            // empty buckets before this one: the layout moves on at the next counted bucket
            // (the gap covers them)
            count = c;
            continue;
        }
        layout.gap(next - at - 1);
        layout.push(count);
        count = c;
        at = next;
    }
    layout.gap(index(b.counts.len() - 1) - at);
    layout.push(count);
    (layout.spans, layout.deltas)
}

struct Layout {
    spans: Vec<BucketSpan>,
    deltas: Vec<i64>,
    previous: i64,
}

impl Layout {
    fn push(&mut self, count: i64) {
        if let Some(span) = self.spans.last_mut() {
            span.length += 1;
        }
        self.deltas.push(count - self.previous);
        self.previous = count;
    }

    /// A gap of more than 2 empty buckets starts a span; a shorter one is filled with zeros.
    fn gap(&mut self, gap: i32) {
        if gap > 2 {
            self.spans.push(BucketSpan {
                offset: gap,
                length: 0,
            });
        } else {
            for _ in 0..gap.max(0) {
                self.push(0);
            }
        }
    }
}

impl SeriesSet {
    /// The group of family `name` with the other labels `labels`.
    fn group(&mut self, name: &str, labels: Vec<Label>) -> &mut Group {
        let at = match self.last {
            Some(at) if *self.families[at].0 == *name => at,
            _ => {
                let at = match self.index.get(name) {
                    Some(&at) => at,
                    None => {
                        let name: Arc<str> = name.into();
                        self.index.insert(name.clone(), self.families.len());
                        self.families.push((name, BTreeMap::new()));
                        self.families.len() - 1
                    }
                };
                self.last = Some(at);
                at
            }
        };
        self.families[at].1.entry(labels).or_default()
    }

    /// The series of family `name` with the other labels `labels`.
    fn series(&mut self, name: &str, labels: Vec<Label>) -> &mut TimeSeries {
        self.group(name, labels).own.get_or_insert_default()
    }

    fn add(&mut self, name: &str, labels: Vec<Label>, value: f64, ts: i64) -> &mut TimeSeries {
        let series = self.series(name, labels);
        series.samples.push(Sample {
            value,
            timestamp: ts,
        });
        series
    }

    /// Add one point, with its own times and value, or with `state`'s (start, time, value):
    /// the cumulative value of a delta series.
    pub fn add_point(&mut self, p: Point, state: Option<(u64, u64, &Value)>, opts: &SeriesOptions) {
        let Point {
            name,
            family,
            help,
            unit,
            labels,
            start_ns,
            time_ns,
            value: own,
            exemplars,
            no_recorded_value: stale,
            ..
        } = p;
        let (start_ns, time_ns, value) = match state {
            Some(state) => state,
            None => (start_ns, time_ns, &own),
        };
        let ts = ms(time_ns);
        let v = |x: f64| {
            if stale {
                f64::from_bits(STALE_NAN_BITS)
            } else {
                x
            }
        };
        let created = matches!(
            family,
            FamilyType::Counter | FamilyType::Histogram | FamilyType::Summary
        );
        if opts.export_created && created && start_ns != 0 {
            self.add(
                &format!("{name}_created"),
                into_labels(labels.clone()),
                ms(start_ns) as f64,
                ts,
            );
        }
        match value {
            Value::Number(x) => {
                let series = self.add(&name, into_labels(labels), v(*x), ts);
                if family == FamilyType::Counter {
                    series
                        .exemplars
                        .extend(exemplars.iter().map(convert_exemplar));
                }
            }
            Value::Histogram(h) => {
                let buckets = h.cumulative_buckets();
                self.histogram(
                    &name, &labels, &exemplars, &buckets, h.count, h.sum, ts, stale,
                );
            }
            Value::Exponential(e) if e.scale >= -4 => {
                let series = self.series(&name, into_labels(labels));
                series.histograms.push(native_histogram(e, ts, stale));
                series
                    .exemplars
                    .extend(exemplars.iter().map(convert_exemplar));
            }
            Value::Exponential(e) => {
                let buckets = exphist::classic_buckets(e);
                self.histogram(
                    &name, &labels, &exemplars, &buckets, e.count, e.sum, ts, stale,
                );
            }
            Value::Summary(s) => {
                let quantile = self.quantile.clone();
                let group = self.group(&name, into_labels(labels.clone()));
                for (i, (q, x)) in s.quantiles.iter().enumerate() {
                    let label = Label {
                        name: quantile.clone(),
                        value: plain_float(*q).into(),
                    };
                    group.more(i, label).samples.push(Sample {
                        value: v(*x),
                        timestamp: ts,
                    });
                }
                self.add(
                    &format!("{name}_sum"),
                    into_labels(labels.clone()),
                    v(s.sum),
                    ts,
                );
                self.add(
                    &format!("{name}_count"),
                    into_labels(labels.clone()),
                    v(s.count as f64),
                    ts,
                );
            }
        }
        if opts.send_metadata {
            let kind = match family {
                FamilyType::Counter => MetricType::Counter,
                FamilyType::Gauge => MetricType::Gauge,
                FamilyType::Unknown => MetricType::Unknown,
                FamilyType::Histogram => MetricType::Histogram,
                FamilyType::Summary => MetricType::Summary,
            };
            if !self.metadata.contains_key(&*name) {
                let metadata = MetricMetadata {
                    r#type: kind as i32,
                    metric_family_name: name.to_string(),
                    help: help.to_string(),
                    unit: unit_name(&unit),
                };
                self.metadata.insert(name.to_string(), metadata);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn histogram(
        &mut self,
        name: &str,
        labels: &Labels,
        exemplars: &[points::Exemplar],
        buckets: &[(f64, u64)],
        count: u64,
        sum: Option<f64>,
        ts: i64,
        stale: bool,
    ) {
        let v = |x: f64| {
            if stale {
                f64::from_bits(STALE_NAN_BITS)
            } else {
                x
            }
        };
        if let Some(sum) = sum {
            self.add(
                &format!("{name}_sum"),
                into_labels(labels.clone()),
                v(sum),
                ts,
            );
        }
        self.add(
            &format!("{name}_count"),
            into_labels(labels.clone()),
            v(count as f64),
            ts,
        );
        let le_name = self.le.clone();
        let group = self.group(&format!("{name}_bucket"), into_labels(labels.clone()));
        // each exemplar on the first bucket (in bound order, `+Inf` last) at or above it
        let mut placed = vec![false; exemplars.len()];
        let inf = (f64::INFINITY, count);
        for (i, &(le, c)) in buckets.iter().chain(std::iter::once(&inf)).enumerate() {
            let label = Label {
                name: le_name.clone(),
                value: plain_float(le).into(),
            };
            let series = group.more(i, label);
            series.samples.push(Sample {
                value: v(c as f64),
                timestamp: ts,
            });
            for (e, placed) in exemplars.iter().zip(placed.iter_mut()) {
                if !*placed && e.value <= le {
                    series.exemplars.push(convert_exemplar(e));
                    *placed = true;
                }
            }
        }
    }

    /// `target_info` of one resource, at `time_ns`.
    pub fn add_target_info(&mut self, r: &ResourceInfo, time_ns: u64, opts: &SeriesOptions) {
        let Some(name) = &opts.target_info else {
            return;
        };
        if r.labels.is_empty() {
            return;
        }
        let mut map: BTreeMap<Arc<str>, Arc<str>> = r.labels.iter().cloned().collect();
        if let Some(job) = &r.job {
            map.insert("job".into(), job.as_str().into());
        }
        if let Some(instance) = &r.instance {
            map.insert("instance".into(), instance.as_str().into());
        }
        for (k, v) in &opts.external_labels {
            map.entry(k.as_str().into())
                .or_insert_with(|| v.as_str().into());
        }
        // `__name__` is the family's
        map.remove("__name__");
        let labels: Labels = map.into_iter().collect();
        self.add(name, into_labels(labels), 1.0, ms(time_ns));
    }

    /// Samples sorted by time (the last of equal timestamps kept), then requests of at most
    /// `max_bytes` each (a single larger series goes alone).
    pub fn into_requests(self, max_bytes: usize) -> Vec<WriteRequest> {
        let mut out = Requests {
            max_bytes,
            ..Requests::default()
        };
        let mut families = self.families;
        families.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let name_label: Arc<str> = "__name__".into();
        for (name, family) in families {
            let named = |mut labels: Vec<Label>| {
                let at = labels.partition_point(|l| *l.name < *"__name__");
                let label = Label {
                    name: name_label.clone(),
                    value: name.clone(),
                };
                labels.insert(at, label);
                labels
            };
            for (labels, group) in family {
                for (extra, ts) in group.more {
                    let mut labels = labels.clone();
                    match labels.binary_search_by(|l| l.name.cmp(&extra.name)) {
                        Ok(at) => labels[at] = extra,
                        Err(at) => labels.insert(at, extra),
                    }
                    out.series(named(labels), ts);
                }
                if let Some(ts) = group.own {
                    out.series(named(labels), ts);
                }
            }
        }
        for (_, m) in self.metadata {
            out.add(m.encoded_len(), |r| r.metadata.push(m));
        }
        if !out.current.timeseries.is_empty() || !out.current.metadata.is_empty() {
            out.requests.push(out.current);
        }
        out.requests
    }
}

/// `items` sorted by time (a stable sort), only the last of each timestamp kept.
fn last_of_each_time<T>(items: &mut Vec<T>, time: impl Fn(&T) -> i64) {
    items.sort_by_key(&time);
    let mut kept: Vec<T> = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        match kept.last_mut() {
            Some(last) if time(last) == time(&item) => *last = item,
            _ => kept.push(item),
        }
    }
    *items = kept;
}

/// Requests of at most `max_bytes` each (a single larger series goes alone), filled in turn.
#[derive(Default)]
struct Requests {
    max_bytes: usize,
    requests: Vec<WriteRequest>,
    current: WriteRequest,
    size: usize,
}

impl Requests {
    /// One series with its `labels`: samples sorted by time (the last of equal timestamps
    /// kept).
    fn series(&mut self, labels: Vec<Label>, mut ts: TimeSeries) {
        ts.labels = labels;
        last_of_each_time(&mut ts.samples, |s| s.timestamp);
        last_of_each_time(&mut ts.histograms, |h| h.timestamp);
        ts.exemplars.sort_by_key(|e| e.timestamp);
        self.add(ts.encoded_len(), |r| r.timeseries.push(ts));
    }

    /// Something of `n` encoded bytes, put in by `put`, in a new request when the current
    /// one would reach the limit.
    fn add(&mut self, n: usize, put: impl FnOnce(&mut WriteRequest)) {
        let started = !self.current.timeseries.is_empty() || !self.current.metadata.is_empty();
        if started && self.size + n >= self.max_bytes {
            self.requests.push(std::mem::take(&mut self.current));
            self.size = 0;
        }
        self.size += n;
        put(&mut self.current);
    }
}

/// `target_info`'s name with the namespace.
pub fn target_info_name(namespace_label: &str) -> String {
    if namespace_label.is_empty() {
        TARGET_INFO.to_string()
    } else {
        format!("{namespace_label}_{TARGET_INFO}")
    }
}
