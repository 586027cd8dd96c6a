//! OTLP data points turned into Prometheus-shaped points: a family name and type, a sorted
//! label set, and the value (number, histogram, exponential histogram or summary). Both
//! exporters start from these; the pull exporter keeps them, remote write expands them into
//! time series.
//!
//! Facts relied on (OpenTelemetry specification `compatibility/prometheus_and_openmetrics.md`,
//! Go `exporter/prometheusexporter/collector.go`, `accumulator.go`,
//! `pkg/translator/prometheusremotewrite/helper.go`, `pkg/resourcetotelemetry`):
//! - Gauge → gauge, or unknown (untyped) when metadata `prometheus.type` is `unknown`.
//! - Sum: monotonic → counter, non-monotonic → gauge; unspecified temporality is dropped.
//!   Delta sums are accumulated into cumulative ones (the spec's SHOULD; Go's pull exporter
//!   does it for monotonic sums only and Go's remote write drops deltas: Ferrotel accumulates
//!   every delta sum, histogram and exponential histogram, in both exporters).
//! - Histogram → histogram; exponential histogram → histogram (classic buckets, see
//!   `exphist.rs`); summary → summary.
//! - Attribute keys are sanitized into label names; when two keys sanitize to the same name
//!   the values are joined with `;` in the order of the original keys (spec "Metric Attributes",
//!   Go `createAttributes`). Values are `pcommon.Value.AsString()`.
//! - `job` = `service.namespace/service.name` (or `service.name`), `instance` =
//!   `service.instance.id`, each only when the attribute exists (Go `extractJob`,
//!   `extractInstance`).
//! - `resource_to_telemetry_conversion`: every resource attribute is copied onto every data
//!   point, overwriting a point attribute of the same key (Go `joinAttributeMaps` uses
//!   `PutEmpty`); `exclude_service_attributes` leaves out `service.name`,
//!   `service.namespace` and `service.instance.id`.
//! - NoRecordedValue (flags bit 0): the pull exporter forgets the series; remote write sends
//!   the staleness marker.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use pipeline_api::attrs::AttrMap;
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::wire_edit::{ValueRef, WireAttrs};
use pipeline_api::wire_items::{
    filter_items, DataPoint, ItemEditError, Level, Place, PointParts, WireItem,
};

use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point, metric, number_data_point,
    summary_data_point::ValueAtQuantile, Exemplar as OtlpExemplar, ExponentialHistogramDataPoint,
    Gauge, HistogramDataPoint, Metric, NumberDataPoint, Sum, SummaryDataPoint,
};

use super::naming::{label_name, MetricKind, MetricNamer};
use crate::debug::gofmt::{hex_id, value_as_string};

pub const SERVICE_NAME: &str = "service.name";
pub const SERVICE_NAMESPACE: &str = "service.namespace";
pub const SERVICE_INSTANCE_ID: &str = "service.instance.id";

/// OTLP `AggregationTemporality`.
const TEMPORALITY_DELTA: i32 = 1;
const TEMPORALITY_CUMULATIVE: i32 = 2;
/// OTLP `DataPointFlags.FLAG_NO_RECORDED_VALUE`.
const FLAG_NO_RECORDED_VALUE: u32 = 1;

/// The Prometheus type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FamilyType {
    Counter,
    Gauge,
    Unknown,
    Histogram,
    Summary,
}

impl FamilyType {
    /// The `# TYPE` word of the text format 0.0.4.
    pub fn text_name(self) -> &'static str {
        match self {
            FamilyType::Counter => "counter",
            FamilyType::Gauge => "gauge",
            FamilyType::Unknown => "untyped",
            FamilyType::Histogram => "histogram",
            FamilyType::Summary => "summary",
        }
    }

    /// The `# TYPE` word of OpenMetrics.
    pub fn om_name(self) -> &'static str {
        match self {
            FamilyType::Unknown => "unknown",
            t => t.text_name(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temporality {
    Cumulative,
    Delta,
}

/// Labels as `(name, value)` pairs sorted by name, without `__name__`. Names and values are
/// shared: a metric's points take their names from one layout of their keys, the series of
/// a histogram's buckets share the point's labels, and every point of a scope shares its
/// scope, job and instance labels.
pub type Labels = Vec<(Arc<str>, Arc<str>)>;

/// One exemplar: trace and span ids in hex (empty when absent), the filtered attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    pub value: f64,
    pub time_ns: u64,
    pub trace_id: String,
    pub span_id: String,
    pub filtered: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Explicit bounds as received (Go sorts and de-duplicates when writing).
    pub bounds: Vec<f64>,
    /// One more than `bounds` when well formed; missing counts read as 0.
    pub counts: Vec<u64>,
    pub count: u64,
    pub sum: Option<f64>,
}

impl Histogram {
    /// Go `convertDoubleHistogram`: bounds de-duplicated (first index kept) and sorted; each
    /// bound's count read at that index; counts made cumulative. NaN and infinite bounds are left
    /// out (`+Inf` is written from the count).
    pub fn cumulative_buckets(&self) -> Vec<(f64, u64)> {
        let mut firsts: Vec<(f64, usize)> = self
            .bounds
            .iter()
            .enumerate()
            .filter(|(_, b)| b.is_finite())
            .map(|(i, b)| (*b, i))
            .collect();
        // Sorted by bound, then index: the first occurrence of each bound is kept.
        firsts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        firsts.dedup_by(|later, first| later.0 == first.0);
        let mut cumulative = 0u64;
        firsts
            .into_iter()
            .map(|(b, i)| {
                cumulative = cumulative.saturating_add(self.counts.get(i).copied().unwrap_or(0));
                (b, cumulative)
            })
            .collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Buckets {
    pub offset: i32,
    pub counts: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExpHistogram {
    pub scale: i32,
    pub zero_count: u64,
    pub zero_threshold: f64,
    pub positive: Buckets,
    pub negative: Buckets,
    pub count: u64,
    pub sum: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// (quantile, value), sorted by quantile.
    pub quantiles: Vec<(f64, f64)>,
    pub count: u64,
    pub sum: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Histogram(Histogram),
    Exponential(ExpHistogram),
    Summary(Summary),
}

/// What `target_info` needs of a resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResourceInfo {
    pub job: Option<String>,
    pub instance: Option<String>,
    /// Sanitized labels of the resource attributes other than `service.name`,
    /// `service.namespace` and `service.instance.id`.
    pub labels: Labels,
}

/// One OTLP data point, named and labelled for Prometheus.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Family name (counters with `_total` when suffixes are on; no `_bucket`/`_sum`/`_count`).
    /// The name, help and unit are shared by the points of a metric.
    pub name: Arc<str>,
    pub family: FamilyType,
    pub help: Arc<str>,
    /// The OTLP unit, as received.
    pub unit: Arc<str>,
    pub labels: Labels,
    pub resource: Arc<ResourceInfo>,
    pub start_ns: u64,
    pub time_ns: u64,
    pub temporality: Temporality,
    pub value: Value,
    pub exemplars: Vec<Exemplar>,
    pub no_recorded_value: bool,
}

impl Point {
    /// The key of the series this point belongs to: name and labels.
    pub fn series_key(&self) -> (Arc<str>, Labels) {
        (self.name.clone(), self.labels.clone())
    }
}

/// Which scope labels go on each point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeLabels {
    /// Pull exporter (Go `collector.go getMetricMetadata`): `otel_scope_name`,
    /// `otel_scope_version`, `otel_scope_schema_url` always (empty values too) and every
    /// scope attribute as `otel_scope_<key>`.
    Full,
    /// Remote write (Go `createAttributes`): `otel_scope_name` and `otel_scope_version` when
    /// not empty.
    NameAndVersionIfSet,
    /// `without_scope_info: true`.
    None,
}

/// How `resource_to_telemetry_conversion` is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceToTelemetry {
    pub enabled: bool,
    pub exclude_service_attributes: bool,
}

/// Extra labels from the config and who wins a clash with the data's own labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraLabels {
    /// Already sanitized.
    pub labels: Vec<(String, String)>,
    /// `const_labels` of the pull exporter override; remote write `external_labels` give way
    /// to the data's labels (Go `createAttributes`: "Skip external labels if they are
    /// overridden by metric attributes").
    pub override_data: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateOptions {
    pub namer: MetricNamer,
    pub scope_labels: ScopeLabels,
    pub resource_to_telemetry: ResourceToTelemetry,
    pub extra: ExtraLabels,
    /// Drop labels starting with `__` (the pull exporter: Go's client library refuses a metric
    /// with a reserved label name; remote write keeps them as Go does).
    pub drop_reserved: bool,
}

/// Why points were not translated, for one debug log line per batch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub invalid_name: usize,
    pub unspecified_temporality: usize,
}

/// Turn an export request into points, in the order of the request.
pub fn translate(
    req: &ExportMetricsServiceRequest,
    opts: &TranslateOptions,
) -> (Vec<Point>, Dropped) {
    let mut out = Vec::new();
    let mut dropped = Dropped::default();
    let layout = RefCell::new(KeyLayout::default());
    for rm in &req.resource_metrics {
        let (resource, promoted) = resource_parts(rm.resource.as_ref(), opts);
        for sm in &rm.scope_metrics {
            let forced = forced_labels(sm.scope.as_ref(), &sm.schema_url, &resource, opts);
            for m in &sm.metrics {
                let ctx = MetricContext {
                    opts,
                    resource: &resource,
                    promoted: &promoted,
                    forced: &forced,
                    layout: &layout,
                };
                ctx.metric(m, &mut out, &mut dropped);
            }
        }
    }
    (out, dropped)
}

/// The points of a metrics batch (`None` for another signal): read from its wire form
/// while it has one and nothing decoded it, else from the decoded request.
pub fn translate_batch(
    batch: &pipeline_api::Batch,
    opts: &TranslateOptions,
) -> Option<(Vec<Point>, Dropped)> {
    if batch.signal() != pipeline_api::Signal::Metrics {
        return None;
    }
    if !batch.is_decoded() {
        if let Some(translated) = batch.wire_pieces().and_then(|c| translate_wire(c, opts)) {
            return Some(translated);
        }
    }
    batch.as_metrics().map(|req| translate(req, opts))
}

/// [`translate`] over a request in its wire form, each of `chunks` an export request the
/// receive scan accepted: the points are read where they lie (`wire_items`' data point
/// walk), their attributes borrowed, instead of decoding the request. `None` when the bytes
/// cannot be walked (a metric with its data field twice): decode them instead. The points
/// are those [`translate`] gives for the decoded request; of what is dropped, a metric with
/// an invalid name is counted only when it has points.
pub fn translate_wire(
    chunks: &[impl AsRef<[u8]>],
    opts: &TranslateOptions,
) -> Option<(Vec<Point>, Dropped)> {
    let mut out = Vec::new();
    let mut dropped = Dropped::default();
    let layout = RefCell::new(KeyLayout::default());
    for chunk in chunks {
        // what the points of the current resource entry, scope entry and metric share
        let mut last: Option<Place> = None;
        let mut resource = (Arc::new(ResourceInfo::default()), Vec::new());
        let mut forced = Labels::new();
        let mut head: Result<Head, Skip> = Err(Skip::InvalidName);
        let mut f = |parts: PointParts<'_, '_>| -> Result<(), String> {
            let (Some(item), Some(m), Some((scope, scope_url))) =
                (parts.item, parts.metric, parts.scope)
            else {
                return Ok(());
            };
            let place = parts.place;
            let new = |of: fn(&Place) -> usize| last.as_ref().map(of) != Some(of(&place));
            let (new_resource, new_scope, new_metric) =
                (new(|p| p.resource), new(|p| p.scope), new(|p| p.metric));
            last = Some(place);
            if new_resource {
                resource = resource_parts(parts.resource.as_ref(), opts);
            }
            if new_scope {
                forced = forced_labels(scope.as_ref(), scope_url, &resource.0, opts);
            }
            if new_metric {
                head = metric_head(opts, m);
                if let Err(Skip::InvalidName) = head {
                    dropped.invalid_name += 1;
                }
            }
            let h = match &head {
                Ok(h) => h,
                Err(Skip::InvalidName) => return Ok(()),
                Err(Skip::Temporality) => {
                    dropped.unspecified_temporality += 1;
                    return Ok(());
                }
            };
            let ctx = MetricContext {
                opts,
                resource: &resource.0,
                promoted: &resource.1,
                forced: &forced,
                layout: &layout,
            };
            // the point's list kept as bytes besides its attributes: its exemplars, a
            // summary point's quantiles
            let attributes = item.item.attributes_field();
            // (every kind has one; without it the batch is translated decoded)
            let &kept = item
                .item
                .lists()
                .iter()
                .find(|&&n| n != attributes)
                .ok_or("")?;
            let exemplars = || -> Vec<OtlpExemplar> {
                if h.exemplars {
                    item.list(kept).collect()
                } else {
                    Vec::new()
                }
            };
            let point = match &*item.item {
                DataPoint::Number(p) => {
                    let e = exemplars();
                    item.attrs
                        .read(|a| ctx.point(h, PointRef::Number(p), a, &e))
                }
                DataPoint::Histogram(p) => {
                    let e = exemplars();
                    item.attrs
                        .read(|a| ctx.point(h, PointRef::Histogram(p), a, &e))
                }
                DataPoint::ExpHistogram(p) => {
                    let e = exemplars();
                    item.attrs
                        .read(|a| ctx.point(h, PointRef::Exponential(p), a, &e))
                }
                DataPoint::Summary(p) => {
                    let quantiles: Vec<ValueAtQuantile> = item.list(kept).collect();
                    item.attrs
                        .read(|a| ctx.point(h, PointRef::Summary(p, &quantiles), a, &[]))
                }
            };
            out.push(point);
            Ok(())
        };
        match filter_items::<DataPoint>(chunk.as_ref(), Level::Item, false, &mut f) {
            Ok(_) => {}
            Err(ItemEditError::Walk) | Err(ItemEditError::Callback(_)) => return None,
        }
    }
    Some((out, dropped))
}

/// A resource's `target_info` part, and its attributes that go on every point
/// (`resource_to_telemetry_conversion`).
fn resource_parts(
    resource: Option<&Resource>,
    opts: &TranslateOptions,
) -> (Arc<ResourceInfo>, Vec<KeyValue>) {
    let attrs: &[KeyValue] = resource.map(|r| r.attributes.as_slice()).unwrap_or(&[]);
    let info = Arc::new(resource_info(attrs));
    let promoted: Vec<KeyValue> = if opts.resource_to_telemetry.enabled {
        attrs
            .iter()
            .filter(|kv| {
                !(opts.resource_to_telemetry.exclude_service_attributes
                    && is_service_attribute(&kv.key))
            })
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    (info, promoted)
}

/// The scope's labels, then job and instance, each replacing a label of its name.
fn forced_labels(
    scope: Option<&InstrumentationScope>,
    schema_url: &str,
    resource: &ResourceInfo,
    opts: &TranslateOptions,
) -> Labels {
    let mut forced = Labels::new();
    for (k, v) in scope_labels(scope, schema_url, opts.scope_labels) {
        set_label(&mut forced, &k, &v);
    }
    if let Some(job) = &resource.job {
        set_label(&mut forced, "job", job);
    }
    if let Some(instance) = &resource.instance {
        set_label(&mut forced, "instance", instance);
    }
    forced
}

pub fn is_service_attribute(key: &str) -> bool {
    matches!(key, SERVICE_NAME | SERVICE_NAMESPACE | SERVICE_INSTANCE_ID)
}

fn find<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a KeyValue> {
    attrs.iter().find(|kv| kv.key == key)
}

/// Go `extractJob` / `extractInstance`.
pub fn job_and_instance(attrs: &[KeyValue]) -> (Option<String>, Option<String>) {
    let job = find(attrs, SERVICE_NAME).map(|name| {
        let name = value_as_string(name.value.as_ref());
        match find(attrs, SERVICE_NAMESPACE) {
            Some(ns) => format!("{}/{name}", value_as_string(ns.value.as_ref())),
            None => name,
        }
    });
    let instance = find(attrs, SERVICE_INSTANCE_ID).map(|i| value_as_string(i.value.as_ref()));
    (job, instance)
}

/// `job`, `instance` and the other resource attributes as labels (for `target_info`).
pub fn resource_info(attrs: &[KeyValue]) -> ResourceInfo {
    let (job, instance) = job_and_instance(attrs);
    let others: Vec<&KeyValue> = attrs
        .iter()
        .filter(|kv| !is_service_attribute(&kv.key))
        .collect();
    ResourceInfo {
        job,
        instance,
        labels: sanitized_labels(others.iter().copied()),
    }
}

/// Attributes as labels: sorted by original key, sanitized, clashing names joined with `;`.
/// Keys that sanitize to nothing are left out.
pub fn sanitize_attributes<'a>(
    attrs: impl IntoIterator<Item = &'a KeyValue>,
) -> BTreeMap<String, String> {
    sanitized_labels(attrs)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// [`sanitize_attributes`] as a list sorted by label name.
pub fn sanitized_labels<'a>(attrs: impl IntoIterator<Item = &'a KeyValue>) -> Labels {
    let attrs: Vec<&KeyValue> = attrs.into_iter().collect();
    KeyLayout::of(&attrs[..]).labels(&attrs[..])
}

/// A point's attributes as the labels read them: decoded, or in the wire form.
pub trait AttrSource {
    fn count(&self) -> usize;
    fn key(&self, i: usize) -> &str;
    /// The key of entry `i` as bytes: the wire form gives them without a UTF-8 check.
    fn key_bytes(&self, i: usize) -> &[u8] {
        self.key(i).as_bytes()
    }
    /// The value of entry `i` as a label value (pdata's `AsString`).
    fn value_label(&self, i: usize) -> Arc<str>;
    /// The entries decoded (borrowed where they are).
    fn entries(&self) -> Vec<Cow<'_, KeyValue>>;
}

impl<K: std::borrow::Borrow<KeyValue>> AttrSource for [K] {
    fn count(&self) -> usize {
        self.len()
    }
    fn key(&self, i: usize) -> &str {
        &self[i].borrow().key
    }
    fn value_label(&self, i: usize) -> Arc<str> {
        match self[i].borrow().value.as_ref() {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(s)),
            }) => s.as_str().into(),
            v => value_as_string(v).into(),
        }
    }
    fn entries(&self) -> Vec<Cow<'_, KeyValue>> {
        self.iter().map(|kv| Cow::Borrowed(kv.borrow())).collect()
    }
}

impl AttrSource for WireAttrs<'_> {
    fn count(&self) -> usize {
        AttrMap::len(self)
    }
    fn key(&self, i: usize) -> &str {
        AttrMap::key(self, i)
    }
    fn key_bytes(&self, i: usize) -> &[u8] {
        AttrMap::key_bytes(self, i)
    }
    fn value_label(&self, i: usize) -> Arc<str> {
        let scalar = |v| value_as_string(Some(&AnyValue { value: Some(v) })).into();
        match self.value_ref(i) {
            ValueRef::Str(s) => s.into(),
            ValueRef::Int(x) => scalar(any_value::Value::IntValue(x)),
            ValueRef::Double(x) => scalar(any_value::Value::DoubleValue(x)),
            ValueRef::Bool(x) => scalar(any_value::Value::BoolValue(x)),
            ValueRef::Any(v) => value_as_string(Some(&v)).into(),
        }
    }
    fn entries(&self) -> Vec<Cow<'_, KeyValue>> {
        (0..AttrMap::len(self))
            .map(|i| {
                Cow::Owned(KeyValue {
                    key: AttrMap::key(self, i).to_string(),
                    value: Some(AttrMap::value(self, i).into_owned()),
                    ..Default::default()
                })
            })
            .collect()
    }
}

/// Which attributes of a list of keys become which labels, in label order: worked out once
/// for the keys of a metric's first point and used again for every point with the same keys
/// in the same order (most points of a metric).
#[derive(Debug, Default)]
pub struct KeyLayout {
    keys: Vec<String>,
    /// (index of the attribute, its label name), by label name and within a name by
    /// original key (stable, so a key repeated in the input keeps its order).
    order: Vec<(usize, Arc<str>)>,
}

impl KeyLayout {
    fn of(attrs: &(impl AttrSource + ?Sized)) -> KeyLayout {
        let keys: Vec<String> = (0..attrs.count())
            .map(|i| attrs.key(i).to_string())
            .collect();
        let mut order: Vec<(usize, Arc<str>)> = keys
            .iter()
            .enumerate()
            .filter_map(|(i, k)| label_name(k).map(|name| (i, name.into())))
            .collect();
        order.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| keys[a.0].cmp(&keys[b.0])));
        KeyLayout { keys, order }
    }

    fn fits(&self, attrs: &(impl AttrSource + ?Sized)) -> bool {
        self.keys.len() == attrs.count()
            && self
                .keys
                .iter()
                .enumerate()
                .all(|(i, k)| k.as_bytes() == attrs.key_bytes(i))
    }

    /// The labels of `attrs` (with this layout's keys): values of clashing names joined
    /// with `;` in original key order.
    fn labels(&self, attrs: &(impl AttrSource + ?Sized)) -> Labels {
        let mut out: Labels = Vec::with_capacity(self.order.len());
        for (i, name) in &self.order {
            let value = attrs.value_label(*i);
            match out.last_mut() {
                Some((last, existing)) if last == name => {
                    *existing = format!("{existing};{value}").into();
                }
                _ => out.push((name.clone(), value)),
            }
        }
        out
    }
}

/// Set `name` to `value` in `labels` (sorted by name).
fn set_label(labels: &mut Labels, name: &str, value: &str) {
    match labels.binary_search_by(|(n, _)| (**n).cmp(name)) {
        Ok(at) => labels[at].1 = value.into(),
        Err(at) => labels.insert(at, (name.into(), value.into())),
    }
}

/// `labels` and `forced` (both sorted by name, names unique) in one list sorted by name, a
/// forced label replacing the label of its name; room for `more`.
fn merge_labels(labels: Labels, forced: &Labels, more: usize) -> Labels {
    if forced.is_empty() && more == 0 {
        return labels;
    }
    let mut out = Vec::with_capacity(labels.len() + forced.len() + more);
    let mut forced = forced.iter().peekable();
    for (name, value) in labels {
        while let Some((f, v)) = forced.next_if(|(f, _)| *f < name) {
            out.push((f.clone(), v.clone()));
        }
        match forced.next_if(|(f, _)| *f == name) {
            Some((f, v)) => out.push((f.clone(), v.clone())),
            None => out.push((name, value)),
        }
    }
    out.extend(forced.cloned());
    out
}

/// Take `name` out of `labels` (sorted by name).
fn remove_label(labels: &mut Labels, name: &str) {
    if let Ok(at) = labels.binary_search_by(|(n, _)| (**n).cmp(name)) {
        labels.remove(at);
    }
}

fn scope_labels(
    scope: Option<&InstrumentationScope>,
    schema_url: &str,
    mode: ScopeLabels,
) -> Vec<(String, String)> {
    let name = scope.map(|s| s.name.as_str()).unwrap_or("");
    let version = scope.map(|s| s.version.as_str()).unwrap_or("");
    match mode {
        ScopeLabels::None => Vec::new(),
        ScopeLabels::NameAndVersionIfSet => {
            let mut out = Vec::new();
            if !name.is_empty() {
                out.push(("otel_scope_name".to_string(), name.to_string()));
            }
            if !version.is_empty() {
                out.push(("otel_scope_version".to_string(), version.to_string()));
            }
            out
        }
        ScopeLabels::Full => {
            let mut out = Vec::new();
            if let Some(s) = scope {
                for kv in &s.attributes {
                    if let Some(n) = label_name(&format!("otel_scope_{}", kv.key)) {
                        out.push((n, value_as_string(kv.value.as_ref())));
                    }
                }
            }
            out.push(("otel_scope_name".to_string(), name.to_string()));
            out.push(("otel_scope_version".to_string(), version.to_string()));
            out.push(("otel_scope_schema_url".to_string(), schema_url.to_string()));
            out
        }
    }
}

struct MetricContext<'a> {
    opts: &'a TranslateOptions,
    resource: &'a Arc<ResourceInfo>,
    promoted: &'a [KeyValue],
    /// The scope's labels, job and instance, sorted by name: they replace a point's labels of
    /// the same name.
    forced: &'a Labels,
    /// The label layout of the last point's attribute keys.
    layout: &'a RefCell<KeyLayout>,
}

impl MetricContext<'_> {
    /// The labels of `attrs`, by the layout of the last point's keys when they are the same.
    fn attribute_labels(&self, attrs: &(impl AttrSource + ?Sized)) -> Labels {
        let mut layout = self.layout.borrow_mut();
        if !layout.fits(attrs) {
            *layout = KeyLayout::of(attrs);
        }
        layout.labels(attrs)
    }

    /// The label set of one data point; `reserved` names (`le`, `quantile`) are taken out
    /// because the exporter adds its own.
    fn labels(&self, attrs: &(impl AttrSource + ?Sized), reserved: &[&str]) -> Labels {
        let labels = if self.promoted.is_empty() {
            self.attribute_labels(attrs)
        } else {
            // Resource attributes overwrite point attributes of the same key.
            let attrs = attrs.entries();
            let mut merged: Vec<&KeyValue> = attrs
                .iter()
                .map(|kv| kv.as_ref())
                .filter(|kv| !self.promoted.iter().any(|p| p.key == kv.key))
                .collect();
            merged.extend(self.promoted.iter());
            self.attribute_labels(&merged[..])
        };
        let mut labels = merge_labels(labels, self.forced, self.opts.extra.labels.len());
        for (k, v) in &self.opts.extra.labels {
            if self.opts.extra.override_data
                || labels.binary_search_by(|(n, _)| (**n).cmp(k)).is_err()
            {
                set_label(&mut labels, k, v);
            }
        }
        remove_label(&mut labels, "__name__");
        for r in reserved {
            remove_label(&mut labels, r);
        }
        if self.opts.drop_reserved {
            labels.retain(|(k, _)| !k.starts_with("__"));
        }
        labels
    }

    fn metric(&self, m: &Metric, out: &mut Vec<Point>, dropped: &mut Dropped) {
        let Some(data) = &m.data else {
            return;
        };
        let points = match data {
            metric::Data::Gauge(g) => g.data_points.len(),
            metric::Data::Sum(s) => s.data_points.len(),
            metric::Data::Histogram(h) => h.data_points.len(),
            metric::Data::ExponentialHistogram(h) => h.data_points.len(),
            metric::Data::Summary(s) => s.data_points.len(),
        };
        let head = match metric_head(self.opts, m) {
            Ok(head) => head,
            Err(Skip::InvalidName) => {
                dropped.invalid_name += 1;
                return;
            }
            Err(Skip::Temporality) => {
                dropped.unspecified_temporality += points;
                return;
            }
        };
        match data {
            metric::Data::Gauge(Gauge { data_points })
            | metric::Data::Sum(Sum { data_points, .. }) => {
                for p in data_points {
                    let kind = PointRef::Number(p);
                    out.push(self.point(&head, kind, &p.attributes[..], &p.exemplars));
                }
            }
            metric::Data::Histogram(h) => {
                for p in &h.data_points {
                    let kind = PointRef::Histogram(p);
                    out.push(self.point(&head, kind, &p.attributes[..], &p.exemplars));
                }
            }
            metric::Data::ExponentialHistogram(h) => {
                for p in &h.data_points {
                    let kind = PointRef::Exponential(p);
                    out.push(self.point(&head, kind, &p.attributes[..], &p.exemplars));
                }
            }
            metric::Data::Summary(s) => {
                for p in &s.data_points {
                    let kind = PointRef::Summary(p, &p.quantile_values);
                    out.push(self.point(&head, kind, &p.attributes[..], &[]));
                }
            }
        }
    }

    /// One point of a metric (`head` what its points share), its attributes and exemplars
    /// apart (a point read from the wire form holds neither).
    fn point(
        &self,
        head: &Head,
        p: PointRef<'_>,
        attrs: &(impl AttrSource + ?Sized),
        exemplars: &[OtlpExemplar],
    ) -> Point {
        let (start_ns, time_ns, flags) = p.times_and_flags();
        let (reserved, value): (&[&str], Value) = match p {
            PointRef::Number(p) => (&[], Value::Number(number(p.value.as_ref()))),
            PointRef::Histogram(p) => (
                &["le"],
                Value::Histogram(Histogram {
                    bounds: p.explicit_bounds.clone(),
                    counts: p.bucket_counts.clone(),
                    count: p.count,
                    sum: p.sum,
                }),
            ),
            PointRef::Exponential(p) => {
                let buckets = |b: &Option<exponential_histogram_data_point::Buckets>| match b {
                    Some(b) => Buckets {
                        offset: b.offset,
                        counts: b.bucket_counts.clone(),
                    },
                    None => Buckets::default(),
                };
                (
                    &["le"],
                    Value::Exponential(ExpHistogram {
                        scale: p.scale,
                        zero_count: p.zero_count,
                        zero_threshold: p.zero_threshold,
                        positive: buckets(&p.positive),
                        negative: buckets(&p.negative),
                        count: p.count,
                        sum: p.sum,
                    }),
                )
            }
            PointRef::Summary(p, quantiles) => {
                let mut quantiles: Vec<(f64, f64)> =
                    quantiles.iter().map(|q| (q.quantile, q.value)).collect();
                quantiles.sort_by(|a, b| a.0.total_cmp(&b.0));
                quantiles.dedup_by(|a, b| a.0 == b.0);
                (
                    &["quantile"],
                    Value::Summary(Summary {
                        quantiles,
                        count: p.count,
                        sum: p.sum,
                    }),
                )
            }
        };
        let exemplars = if head.exemplars { exemplars } else { &[] };
        Point {
            name: head.name.clone(),
            family: head.family,
            help: head.help.clone(),
            unit: head.unit.clone(),
            labels: self.labels(attrs, reserved),
            resource: self.resource.clone(),
            start_ns,
            time_ns,
            temporality: head.temporality,
            value,
            exemplars: exemplars.iter().map(convert_exemplar).collect(),
            no_recorded_value: flags & FLAG_NO_RECORDED_VALUE != 0,
        }
    }
}

/// What a metric's points share, or why they are not translated.
fn metric_head(opts: &TranslateOptions, m: &Metric) -> Result<Head, Skip> {
    let Some(data) = m.data.as_ref() else {
        return Err(Skip::InvalidName);
    };
    let (kind, family, temporality, exemplars) = match data {
        metric::Data::Gauge(_) => {
            let family = if is_unknown_type(m) {
                FamilyType::Unknown
            } else {
                FamilyType::Gauge
            };
            // Spec: exemplars of points other than histograms and monotonic sums are
            // dropped.
            (
                MetricKind::Gauge,
                family,
                Some(Temporality::Cumulative),
                false,
            )
        }
        metric::Data::Sum(s) if s.is_monotonic => (
            MetricKind::MonotonicCounter,
            FamilyType::Counter,
            temporality(s.aggregation_temporality),
            true,
        ),
        metric::Data::Sum(s) => (
            MetricKind::NonMonotonicCounter,
            FamilyType::Gauge,
            temporality(s.aggregation_temporality),
            false,
        ),
        metric::Data::Histogram(h) => (
            MetricKind::Histogram,
            FamilyType::Histogram,
            temporality(h.aggregation_temporality),
            true,
        ),
        metric::Data::ExponentialHistogram(h) => (
            MetricKind::ExponentialHistogram,
            FamilyType::Histogram,
            temporality(h.aggregation_temporality),
            true,
        ),
        metric::Data::Summary(_) => (
            MetricKind::Summary,
            FamilyType::Summary,
            Some(Temporality::Cumulative),
            false,
        ),
    };
    let Some(name) = opts.namer.build(&m.name, &m.unit, kind) else {
        return Err(Skip::InvalidName);
    };
    let Some(temporality) = temporality else {
        return Err(Skip::Temporality);
    };
    Ok(Head {
        name: name.into(),
        help: m.description.as_str().into(),
        unit: m.unit.as_str().into(),
        family,
        temporality,
        exemplars,
    })
}

/// Why a metric's points are not translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// Its name sanitizes to nothing.
    InvalidName,
    /// A sum or histogram of unspecified temporality.
    Temporality,
}

/// What the points of a metric share.
struct Head {
    name: Arc<str>,
    help: Arc<str>,
    unit: Arc<str>,
    family: FamilyType,
    temporality: Temporality,
    /// Whether its points' exemplars are kept (histograms and monotonic sums).
    exemplars: bool,
}

/// A data point of any kind, borrowed; a summary's quantiles apart.
#[derive(Clone, Copy)]
enum PointRef<'p> {
    Number(&'p NumberDataPoint),
    Histogram(&'p HistogramDataPoint),
    Exponential(&'p ExponentialHistogramDataPoint),
    Summary(&'p SummaryDataPoint, &'p [ValueAtQuantile]),
}

impl PointRef<'_> {
    fn times_and_flags(self) -> (u64, u64, u32) {
        match self {
            PointRef::Number(p) => (p.start_time_unix_nano, p.time_unix_nano, p.flags),
            PointRef::Histogram(p) => (p.start_time_unix_nano, p.time_unix_nano, p.flags),
            PointRef::Exponential(p) => (p.start_time_unix_nano, p.time_unix_nano, p.flags),
            PointRef::Summary(p, _) => (p.start_time_unix_nano, p.time_unix_nano, p.flags),
        }
    }
}

fn temporality(t: i32) -> Option<Temporality> {
    match t {
        TEMPORALITY_DELTA => Some(Temporality::Delta),
        TEMPORALITY_CUMULATIVE => Some(Temporality::Cumulative),
        _ => None,
    }
}

/// Spec: a gauge whose metadata has `prometheus.type: unknown` is an unknown-typed metric.
fn is_unknown_type(m: &Metric) -> bool {
    m.metadata
        .iter()
        .any(|kv| kv.key == "prometheus.type" && value_as_string(kv.value.as_ref()) == "unknown")
}

fn number(v: Option<&number_data_point::Value>) -> f64 {
    match v {
        Some(number_data_point::Value::AsDouble(d)) => *d,
        Some(number_data_point::Value::AsInt(i)) => *i as f64,
        None => 0.0,
    }
}

/// Spec "Exemplars": `trace_id` and `span_id` in hex; the exemplar's timestamp.
fn convert_exemplar(e: &OtlpExemplar) -> Exemplar {
    let value = match e.value {
        Some(exemplar::Value::AsDouble(d)) => d,
        Some(exemplar::Value::AsInt(i)) => i as f64,
        None => 0.0,
    };
    Exemplar {
        value,
        time_ns: e.time_unix_nano,
        trace_id: hex_id(&e.trace_id),
        span_id: hex_id(&e.span_id),
        filtered: e
            .filtered_attributes
            .iter()
            .map(|kv| (kv.key.clone(), value_as_string(kv.value.as_ref())))
            .collect(),
    }
}
