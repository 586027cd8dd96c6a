//! One scrape's samples to OTLP metrics, as the Go receiver builds them
//! (`internal/transaction.go`, `metricfamily.go`, `prom_to_otlp.go`, `metrics_adjuster.go`):
//! - the resource is the target: `service.name` = job, `service.instance.id` = instance,
//!   `server.address` (unless loopback, unspecified or `localhost`), `server.port`,
//!   `url.scheme`; the labels of `target_info` are added to it;
//! - counters become cumulative monotonic sums, info and stateset families non-monotonic
//!   sums, gauges and untyped series gauges (classic gauge histograms are dropped), histograms
//!   are assembled from `_bucket`/`_sum`/`_count` (explicit bounds without `+Inf`, counts per
//!   bucket), summaries from the quantile series, `_sum` and `_count`;
//! - a cumulative point's start time is its `_created` (OpenMetrics) if given, else the time
//!   the series was first seen; a value lower than the previous one is a reset and starts
//!   again from that point's time;
//! - `job`, `instance` (resource), `le`/`quantile` (structure) and `otel_scope_name` /
//!   `otel_scope_version` (the scope) are not data point attributes;
//! - a stale series (Prometheus' staleness marker) becomes a point flagged NoRecordedValue.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::AggregationTemporality;
use prost::Message;

use crate::proto_write::{close, open, put_bytes, put_fixed64, put_key, put_varint};

use exporters::promtranslate::naming::unit_word_to_ucum;

use super::relabel::SampleLabels;
use super::textparse::{family_of, Metadata, MetadataMap, MetricType};

/// Prometheus' staleness marker, a NaN with this bit pattern (`value.StaleNaN`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// The scope the Go receiver gives metrics without `otel_scope_name`.
pub const DEFAULT_SCOPE: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver";

const FLAG_NO_RECORDED_VALUE: u32 = 1;

/// The series the Go receiver reports about each scrape, all gauges.
pub const REPORT_SERIES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// The descriptions the Go receiver gives its report series (its internal metadata).
fn report_help(name: &str) -> Option<&'static str> {
    Some(match name {
        "up" => "The scraping was successful",
        "scrape_duration_seconds" => "Duration of the scrape",
        "scrape_samples_scraped" => "The number of samples the target exposed",
        "scrape_samples_post_metric_relabeling" => {
            "The number of samples remaining after metric relabeling was applied"
        }
        "scrape_series_added" => "The approximate number of new series in this scrape",
        _ => return None,
    })
}

/// One sample after target labels and metric relabelling: its labels include `__name__`,
/// `job` and `instance`.
#[derive(Debug, Clone)]
pub struct FinalSample<'a> {
    pub labels: SampleLabels<'a>,
    pub value: f64,
    /// Nanoseconds since the epoch.
    pub time_ns: u64,
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.to_string())),
        }),
        ..Default::default()
    }
}

/// Go `isDiscernibleHost`.
fn is_discernible_host(host: &str) -> bool {
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => !ip.is_loopback() && !ip.is_unspecified(),
        Err(_) => host != "localhost",
    }
}

/// Go `net.SplitHostPort`, leniently: `None` when `instance` has no port.
fn split_host_port(instance: &str) -> Option<(&str, &str)> {
    if let Some(rest) = instance.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return Some((host, port));
    }
    let (host, port) = instance.rsplit_once(':')?;
    if host.contains(':') {
        return None;
    }
    Some((host, port))
}

/// Go `CreateResource`.
pub fn resource_attributes(job: &str, instance: &str, scheme: &str) -> Vec<KeyValue> {
    let (host, port) = split_host_port(instance).unwrap_or((instance, ""));
    let mut attrs = vec![kv("service.name", job)];
    if is_discernible_host(host) {
        attrs.push(kv("server.address", host));
    }
    attrs.push(kv("service.instance.id", instance));
    attrs.push(kv("server.port", port));
    attrs.push(kv("url.scheme", scheme));
    attrs
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// The unit the Go receiver gives its report series (its internal metadata).
fn report_unit(name: &str) -> Option<&'static str> {
    (name == "scrape_duration_seconds").then_some("seconds")
}

/// What the start-time adjuster remembers of a series.
#[derive(Debug, Clone, Copy)]
struct SeriesInfo {
    start_ns: u64,
    previous: f64,
    previous_sum: f64,
    last_seen_ns: u64,
}

/// A series as the adjuster knows it: a hash of its metric name and attributes (Go keys
/// its adjuster by an attribute hash too), so a scrape looks it up without copying labels.
type SeriesKey = u64;

/// The hasher of label sets: foldhash's quality variant with a fixed seed. The series
/// memory keys by these hashes without comparing labels, so they must spread well over all
/// 64 bits (foldhash's quality variant is made for that; its speed variant and FxHash are
/// made for hash tables). SipHash with the standard library's fixed keys, used before, was
/// no harder to collide on purpose, and three passes of it over every sample's labels were
/// about a sixth of the receiver's CPU (`bench/README.md`).
pub type LabelHasher = foldhash::quality::FoldHasher<'static>;

/// A hash of label pairs in order (the series memory of the scrape loop keys by it; the
/// adjuster and the translation's data point groups by keys made from it, [`attrs_hash`]).
/// `prefix` goes first, closed by `0xfd`; each pair is written as its name, its value and
/// the two lengths, and the number of pairs last, so that the bytes hashed can be read
/// back in one way only (from the end) without a separator byte of their own.
pub fn hash_labels<'a, K: AsRef<str> + 'a, V: AsRef<str> + 'a>(
    prefix: &str,
    pairs: impl IntoIterator<Item = (K, V)>,
) -> LabelHasher {
    let mut h = hasher();
    write_labels(&mut h, prefix, pairs);
    h
}

/// What [`hash_labels`] writes into its hasher.
pub(crate) fn write_labels<'a, K: AsRef<str> + 'a, V: AsRef<str> + 'a>(
    h: &mut impl std::hash::Hasher,
    prefix: &str,
    pairs: impl IntoIterator<Item = (K, V)>,
) {
    h.write(prefix.as_bytes());
    h.write_u8(0xfd);
    let mut n = 0u64;
    for (k, v) in pairs {
        let (k, v) = (k.as_ref().as_bytes(), v.as_ref().as_bytes());
        h.write(k);
        h.write(v);
        h.write_u64((k.len() as u64) << 32 | v.len() as u64);
        n += 1;
    }
    h.write_u64(n);
}

/// A label-set hash with more fields behind it.
fn hasher() -> LabelHasher {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x5ca1_ab1e_f00d_cafe).build_hasher()
}

/// The hash of a group's sorted attributes, from which its series key and group hash are
/// made, so that a sample's attributes are hashed once.
fn attrs_hash(attrs: &[(&str, &str)]) -> u64 {
    use std::hash::Hasher;
    hash_labels("", attrs.iter().copied()).finish()
}

/// The adjuster's key of a series: its metric name and the hash of its attributes.
fn series_key(name: &str, attrs_hash: u64) -> SeriesKey {
    use std::hash::Hasher;
    let mut h = hasher();
    h.write(name.as_bytes());
    h.write_u8(0xfd);
    h.write_u64(attrs_hash);
    h.finish()
}

/// A cumulative point as the adjuster sees it.
#[derive(Debug, Clone, Copy)]
struct Observed {
    start_ns: u64,
    time_ns: u64,
    /// The counter value, or a distribution's count.
    value: f64,
    sum: f64,
    /// `start_ns` came from `_created`.
    created: bool,
    stale: bool,
}

/// Per-target state kept across scrapes: start times and previous values.
#[derive(Debug, Default)]
pub struct Adjuster {
    series: HashMap<SeriesKey, SeriesInfo, BuildHasherDefault<Prehashed>>,
    last_gc_ns: u64,
}

impl Adjuster {
    /// The start time for a cumulative point (Go `initialPointAdjuster`): `value` is the
    /// counter value or a distribution's count, `sum` its sum.
    fn start_time(&mut self, key: SeriesKey, o: Observed) -> u64 {
        let Observed {
            start_ns,
            time_ns,
            value,
            sum,
            created,
            stale,
        } = o;
        if created && !stale && start_ns < time_ns {
            return start_ns;
        }
        match self.series.get_mut(&key) {
            None => {
                self.series.insert(
                    key,
                    SeriesInfo {
                        start_ns,
                        previous: value,
                        previous_sum: sum,
                        last_seen_ns: time_ns,
                    },
                );
                start_ns
            }
            Some(info) => {
                info.last_seen_ns = time_ns;
                if stale {
                    return info.start_ns;
                }
                if value < info.previous || sum < info.previous_sum {
                    info.start_ns = start_ns;
                }
                info.previous = value;
                info.previous_sum = sum;
                info.start_ns
            }
        }
    }

    /// Forget series not seen for `keep`.
    pub fn gc(&mut self, now_ns: u64, keep: Duration) {
        let keep = keep.as_nanos() as u64;
        if now_ns.saturating_sub(self.last_gc_ns) < keep {
            return;
        }
        self.series
            .retain(|_, i| now_ns.saturating_sub(i.last_seen_ns) <= keep);
        self.last_gc_ns = now_ns;
    }
}

/// The target a scrape came from.
#[derive(Debug, Clone)]
pub struct TargetInfo {
    pub job: String,
    pub instance: String,
    pub scheme: String,
    pub scope_version: String,
    pub trim_suffixes: bool,
    pub external_labels: Vec<(String, String)>,
    /// From the Kubernetes discovery's labels (`Target::kubernetes`).
    pub kubernetes: Vec<(String, String)>,
}

/// One metric being assembled; its strings borrowed from the samples and the metadata.
struct Family<'a> {
    name: &'a str,
    kind: MetricType,
    /// The type the family was declared with (`unknown` when it was not), as Go writes it
    /// into the metric's `prometheus.type` metadata.
    declared: MetricType,
    help: &'a str,
    /// As declared: a Prometheus unit word (`seconds`).
    unit: &'a str,
    /// Data points by attribute set, in first-seen order: indices into the scrape's groups.
    groups: Vec<usize>,
    /// Groups by a hash of their attributes and scope (equal hashes are told apart by
    /// comparing).
    index: HashMap<u64, usize, BuildHasherDefault<Prehashed>>,
}

/// The hash a group is found by: its sorted attributes (by their hash) and its scope.
fn group_hash(attrs_hash: u64, scope: (&str, &str)) -> u64 {
    use std::hash::Hasher;
    let mut h = hasher();
    h.write_u64(attrs_hash);
    h.write_u8(0xfd);
    h.write(scope.0.as_bytes());
    h.write_u8(0xff);
    h.write(scope.1.as_bytes());
    h.finish()
}

fn same_group(g: &Group<'_>, attrs: &[(&str, &str)], scope: (&str, &str)) -> bool {
    g.scope == scope && g.attrs == attrs
}

#[derive(Default)]
struct Group<'a> {
    attrs: Vec<(&'a str, &'a str)>,
    /// [`attrs_hash`] of `attrs`.
    attrs_hash: u64,
    scope: (&'a str, &'a str),
    time_ns: u64,
    value: Option<f64>,
    count: Option<f64>,
    sum: Option<f64>,
    created: Option<f64>,
    /// (bound or quantile, value)
    complex: Vec<(f64, f64)>,
}

fn is_internal(name: &str) -> bool {
    REPORT_SERIES.contains(&name)
}

/// Go `metadataForMetric`: the family's type and the OTLP metric name of a sample.
fn resolve<'a>(
    name: &'a str,
    metadata: &'a MetadataMap,
) -> (MetricType, &'a str, Option<&'a Metadata>) {
    if is_internal(name) {
        return (MetricType::Gauge, name, None);
    }
    if let Some(m) = metadata.get(name) {
        return (m.kind, name, Some(m));
    }
    let fam = family_of(name, metadata);
    if let Some(m) = metadata.get(fam) {
        return match m.kind {
            MetricType::Counter => {
                if name.ends_with("_created") {
                    (m.kind, fam, Some(m))
                } else {
                    (m.kind, name, Some(m))
                }
            }
            _ => (m.kind, fam, Some(m)),
        };
    }
    (MetricType::Unknown, name, None)
}

/// Build the OTLP metrics of one scrape, written straight into the wire form: the points'
/// labels are borrowed from the samples until they are written, with no `KeyValue` each.
pub fn build<'a>(
    target: &'a TargetInfo,
    samples: &'a [FinalSample<'_>],
    metadata: &'a MetadataMap,
    adjuster: &mut Adjuster,
) -> Built {
    let mut resource = resource_attributes(&target.job, &target.instance, &target.scheme);
    resource.extend(target.kubernetes.iter().map(|(k, v)| kv(k, v)));
    let mut families: Vec<Family<'a>> = Vec::new();
    // every family's groups, in one vector that no sample outgrows: a family's own vector
    // of groups, growing and then regrouped by scope, copied each group several times
    let mut groups: Vec<Group<'a>> = Vec::with_capacity(samples.len());
    // a sample's attributes; copied for a new group only
    let mut attrs: Vec<(&'a str, &'a str)> = Vec::new();
    let mut by_name: HashMap<&'a str, usize, foldhash::fast::RandomState> = HashMap::default();
    for s in samples {
        let Some(name) = s.labels.get("__name__") else {
            continue;
        };
        if name == "target_info" {
            for (k, v) in s.labels.iter() {
                if !matches!(k, "__name__" | "job" | "instance") {
                    resource.push(kv(k, v));
                }
            }
            continue;
        }
        let (kind, metric_name, meta) = resolve(name, metadata);
        let declared = kind;
        // Go `convToMetricType`: untyped → gauge; info and stateset → non-monotonic sums
        // (kept as `Info` here); classic gauge histograms are not supported and dropped.
        let kind = match kind {
            MetricType::Unknown => MetricType::Gauge,
            MetricType::StateSet => MetricType::Info,
            MetricType::GaugeHistogram => continue,
            k => k,
        };
        // borrowed from the sample: owned copies are made only for a new group
        let mut scope: (&str, &str) = (DEFAULT_SCOPE, target.scope_version.as_str());
        attrs.clear();
        let mut bound: Option<&str> = None;
        for (k, v) in s.labels.iter() {
            match k {
                "__name__" | "job" | "instance" => {}
                "otel_scope_name" => scope.0 = v,
                "otel_scope_version" => scope.1 = v,
                "le" if kind == MetricType::Histogram => bound = Some(v),
                "quantile" if kind == MetricType::Summary => bound = Some(v),
                _ => attrs.push((k, v)),
            }
        }
        // the sample's labels come sorted by name (names are unique), so `attrs` is sorted
        // unless external labels were added behind them
        let own = attrs.len();
        for (k, v) in &target.external_labels {
            if !attrs.iter().any(|(a, _)| a == k) {
                attrs.push((k.as_str(), v.as_str()));
            }
        }
        if attrs.len() > own {
            attrs.sort();
        }
        debug_assert!(attrs.is_sorted());
        let fi = match by_name.get(metric_name) {
            Some(i) => *i,
            None => {
                by_name.insert(metric_name, families.len());
                families.push(Family {
                    name: metric_name,
                    kind,
                    declared,
                    help: meta
                        .map(|m| m.help.as_str())
                        .or_else(|| report_help(metric_name))
                        .unwrap_or_default(),
                    unit: meta
                        .map(|m| m.unit.as_str())
                        .or_else(|| report_unit(metric_name))
                        .unwrap_or_default(),
                    groups: Vec::new(),
                    index: HashMap::default(),
                });
                families.len() - 1
            }
        };
        let fam = &mut families[fi];
        let ah = attrs_hash(&attrs);
        let h = group_hash(ah, scope);
        // a hash matched by another group (never seen, but possible) is found by looking
        let found = match fam.index.get(&h) {
            Some(&i) if same_group(&groups[i], &attrs, scope) => Some(i),
            Some(_) => fam
                .groups
                .iter()
                .copied()
                .find(|&i| same_group(&groups[i], &attrs, scope)),
            None => None,
        };
        let gi = match found {
            Some(i) => i,
            None => {
                groups.push(Group {
                    attrs: attrs.clone(),
                    attrs_hash: ah,
                    scope,
                    time_ns: s.time_ns,
                    ..Default::default()
                });
                let i = groups.len() - 1;
                fam.groups.push(i);
                fam.index.entry(h).or_insert(i);
                i
            }
        };
        let g = &mut groups[gi];
        let suffix = name.strip_prefix(fam.name);
        match fam.kind {
            MetricType::Histogram | MetricType::Summary => {
                if suffix == Some("_sum") {
                    g.sum = Some(s.value);
                } else if suffix == Some("_count") {
                    g.count = Some(s.value);
                    g.time_ns = s.time_ns;
                } else if suffix == Some("_created") {
                    g.created = Some(s.value);
                } else if let Some(b) = bound.and_then(parse_bound) {
                    g.complex.push((b, s.value));
                }
            }
            MetricType::Counter if name.ends_with("_created") && name != fam.name => {
                g.created = Some(s.value);
            }
            _ => {
                g.value = Some(s.value);
                g.time_ns = s.time_ns;
            }
        }
    }
    // counters' `_created` series live in the family of their `_total` series
    merge_created(&families, &mut groups);

    // metrics go to their scope, scopes in first-seen order, as the Go receiver groups them
    let mut scopes: Vec<(Scope<'a>, Vec<MetricGroups>)> = Vec::new();
    for (fi, fam) in families.iter_mut().enumerate() {
        let mine = std::mem::take(&mut fam.groups);
        let mut by_scope: Vec<(Scope<'a>, Vec<usize>)> = Vec::new();
        match mine.first().map(|&i| groups[i].scope) {
            // the usual case, one scope: the family's groups as they are
            Some(first) if mine.iter().all(|&i| groups[i].scope == first) => {
                by_scope.push((first, mine));
            }
            _ => {
                for i in mine {
                    let scope = groups[i].scope;
                    match by_scope.iter_mut().find(|(s, _)| *s == scope) {
                        Some((_, of_scope)) => of_scope.push(i),
                        None => by_scope.push((scope, vec![i])),
                    }
                }
            }
        }
        for (scope, of_scope) in by_scope {
            match scopes.iter_mut().find(|(s, _)| *s == scope) {
                Some((_, metrics)) => metrics.push((fi, of_scope)),
                None => scopes.push((scope, vec![(fi, of_scope)])),
            }
        }
    }

    let mut out = Vec::with_capacity(samples.len() * 64 + 256);
    let rm = open(&mut out, 1); // ExportMetricsServiceRequest.resource_metrics
    let r = open(&mut out, 1); // ResourceMetrics.resource
    for kv in &resource {
        put_key(&mut out, 1, 2); // Resource.attributes
        put_varint(&mut out, kv.encoded_len() as u64);
        kv.encode_raw(&mut out);
    }
    close(&mut out, r);
    let mut items = 0;
    for ((name, version), metrics) in scopes {
        let sm = out.len();
        let scope_field = open(&mut out, 2); // ResourceMetrics.scope_metrics
        let sc = open(&mut out, 1); // ScopeMetrics.scope
        put_str(&mut out, 1, name);
        put_str(&mut out, 2, version);
        close(&mut out, sc);
        let mut points = 0;
        for (fi, of_metric) in metrics {
            points += write_metric(
                &mut out,
                &families[fi],
                of_metric
                    .into_iter()
                    .map(|i| std::mem::take(&mut groups[i])),
                target.trim_suffixes,
                adjuster,
            );
        }
        if points == 0 {
            // a scope whose metrics all came out empty is not written
            out.truncate(sm);
            continue;
        }
        close(&mut out, scope_field);
        items += points;
    }
    close(&mut out, rm);
    Built { bytes: out, items }
}

/// A scope's name and version.
type Scope<'a> = (&'a str, &'a str);

/// A metric of a scope: its family and its groups in that scope (indices).
type MetricGroups = (usize, Vec<usize>);

/// One scrape's metrics: the protobuf encoding of an `ExportMetricsServiceRequest` holding
/// one `ResourceMetrics` (the target), and its data points.
#[derive(Debug)]
pub struct Built {
    pub bytes: Vec<u8>,
    pub items: usize,
}

impl Built {
    /// The request decoded (for tests and checks).
    pub fn decode(&self) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest::decode(self.bytes.as_slice())
            .expect("the receiver's encoding decodes")
    }
}

/// A string field, left out when empty (as prost leaves out a default).
fn put_str(out: &mut Vec<u8>, number: u32, s: &str) {
    if !s.is_empty() {
        put_bytes(out, number, s.as_bytes());
    }
}

/// A `fixed64` or `double` field, left out when zero (as prost leaves out a default).
fn put_u64_nonzero(out: &mut Vec<u8>, number: u32, v: u64) {
    if v != 0 {
        put_fixed64(out, number, v.to_le_bytes());
    }
}

fn put_f64_nonzero(out: &mut Vec<u8>, number: u32, v: f64) {
    if v != 0.0 {
        put_fixed64(out, number, v.to_le_bytes());
    }
}

/// A varint field, left out when zero.
fn put_varint_nonzero(out: &mut Vec<u8>, number: u32, v: u64) {
    if v != 0 {
        put_key(out, number, 0);
        put_varint(out, v);
    }
}

/// Attributes as field `number` of a data point: each a `KeyValue` with a string value.
fn put_attrs(out: &mut Vec<u8>, number: u32, attrs: &[(&str, &str)]) {
    for (k, v) in attrs {
        let kv = open(out, number);
        put_str(out, 1, k); // KeyValue.key
        let value = open(out, 2); // KeyValue.value
        put_bytes(out, 1, v.as_bytes()); // AnyValue.string_value, written even when empty
        close(out, value);
        close(out, kv);
    }
}

/// One metric (field 2 of `ScopeMetrics`) with a point per group; its number of points. A
/// metric with none is not written.
fn write_metric<'a>(
    out: &mut Vec<u8>,
    fam: &Family<'_>,
    groups: impl Iterator<Item = Group<'a>>,
    trim: bool,
    adjuster: &mut Adjuster,
) -> usize {
    let start = out.len();
    let m = open(out, 2);
    let name = if trim {
        trim_suffixes(fam.name, fam.kind, fam.unit)
    } else {
        fam.name.to_string()
    };
    put_str(out, 1, &name);
    put_str(out, 2, fam.help);
    put_str(out, 3, &unit_word_to_ucum(fam.unit));
    // Metric.gauge = 5, sum = 7, histogram = 9, summary = 11
    let data_field = match fam.kind {
        MetricType::Counter | MetricType::Info => 7,
        MetricType::Histogram => 9,
        MetricType::Summary => 11,
        _ => 5,
    };
    let data = open(out, data_field);
    let mut points = 0;
    for g in groups {
        points += usize::from(write_point(out, fam, g, adjuster));
    }
    if points == 0 {
        out.truncate(start);
        return 0;
    }
    // Sum and Histogram: aggregation_temporality = 2 (cumulative); Sum: is_monotonic = 3
    if matches!(data_field, 7 | 9) {
        put_varint_nonzero(out, 2, AggregationTemporality::Cumulative as u64);
    }
    if data_field == 7 {
        put_varint_nonzero(out, 3, u64::from(fam.kind == MetricType::Counter));
    }
    close(out, data);
    // Metric.metadata = 12: the declared type, as Go's `prometheus.type`
    put_attrs(out, 12, &[("prometheus.type", fam.declared.as_str())]);
    close(out, m);
    points
}
fn parse_bound(s: &str) -> Option<f64> {
    super::textparse::parse_float(s)
}

/// Move each `X_created` counter group's value onto the `X_total` group with the same
/// attributes.
fn merge_created(families: &[Family<'_>], groups: &mut [Group<'_>]) {
    type Created<'a> = (&'a str, Vec<(&'a str, &'a str)>, (&'a str, &'a str), f64);
    let mut created: Vec<Created<'_>> = Vec::new();
    for f in families {
        if f.kind == MetricType::Counter {
            for g in f.groups.iter().map(|&i| &groups[i]) {
                if let (None, Some(c)) = (g.value, g.created) {
                    created.push((f.name, g.attrs.clone(), g.scope, c));
                }
            }
        }
    }
    for (fam_name, attrs, scope, c) in created {
        for f in families {
            if f.kind == MetricType::Counter
                && (f.name == fam_name || f.name.strip_suffix("_total") == Some(fam_name))
            {
                for &i in &f.groups {
                    let g = &mut groups[i];
                    if g.attrs == attrs && g.scope == scope && g.value.is_some() {
                        g.created = Some(c);
                    }
                }
            }
        }
    }
}

/// `trim_metric_suffixes`: drop `_total` from counters and the unit (`_seconds`) from any
/// metric that declares it, as the Go receiver's name normalisation does.
pub fn trim_suffixes(name: &str, kind: MetricType, unit: &str) -> String {
    let mut n = name;
    if kind == MetricType::Counter {
        n = n.strip_suffix("_total").unwrap_or(n);
    }
    if !unit.is_empty() {
        if let Some(t) = n.strip_suffix(&format!("_{unit}")) {
            if !t.is_empty() {
                n = t;
            }
        }
    }
    n.to_string()
}

fn secs_to_ns(secs: f64) -> u64 {
    if secs.is_finite() && secs > 0.0 {
        (secs * 1e9) as u64
    } else {
        0
    }
}

/// The point of one group as field 1 (`data_points`) of the metric's data; whether there
/// was one (a histogram or summary without its `_count` has none).
fn write_point(out: &mut Vec<u8>, fam: &Family<'_>, g: Group<'_>, adjuster: &mut Adjuster) -> bool {
    let key = series_key(fam.name, g.attrs_hash);
    let created_ns = g.created.map(secs_to_ns).filter(|c| *c > 0);
    let start = created_ns.unwrap_or(g.time_ns);
    let observed = |value: f64, sum: f64, stale: bool| Observed {
        start_ns: start,
        time_ns: g.time_ns,
        value,
        sum,
        created: created_ns.is_some(),
        stale,
    };
    match fam.kind {
        MetricType::Counter | MetricType::Info => {
            let Some(v) = g.value else { return false };
            let start = adjuster.start_time(key, observed(v, 0.0, is_stale(v)));
            write_number_point(out, &g.attrs, start, g.time_ns, v);
        }
        MetricType::Histogram => {
            let Some(count) = g.count else { return false };
            let mut buckets = g.complex;
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            let stale = is_stale(count) || g.sum.is_some_and(is_stale);
            let mut n = buckets.len() + 1;
            if n > 1 && buckets[n - 2].0 == f64::INFINITY {
                n -= 1;
            }
            let mut bounds = Vec::with_capacity(n - 1);
            let mut counts = Vec::with_capacity(n);
            for i in 0..n - 1 {
                bounds.push(buckets[i].0);
                let c = if stale {
                    0.0
                } else if i > 0 {
                    buckets[i].1 - buckets[i - 1].1
                } else {
                    buckets[i].1
                };
                counts.push(c.max(0.0) as u64);
            }
            let last = if stale {
                0.0
            } else if n > 1 {
                count - buckets[n - 2].1
            } else {
                count
            };
            counts.push(last.max(0.0) as u64);
            let sum = g.sum.unwrap_or(0.0);
            let start = adjuster.start_time(key, observed(count, sum, stale));
            // HistogramDataPoint: attributes 9, start 2, time 3, count 4, sum 5 (optional),
            // bucket_counts 6 and explicit_bounds 7 (packed), flags 10
            let p = open(out, 1);
            put_attrs(out, 9, &g.attrs);
            put_u64_nonzero(out, 2, start);
            put_u64_nonzero(out, 3, g.time_ns);
            if !stale {
                put_u64_nonzero(out, 4, count as u64);
                if let Some(sum) = g.sum {
                    put_fixed64(out, 5, sum.to_le_bytes());
                }
            }
            put_packed(out, 6, counts.iter().map(|c| c.to_le_bytes()));
            put_packed(out, 7, bounds.iter().map(|b| b.to_le_bytes()));
            if stale {
                put_varint_nonzero(out, 10, u64::from(FLAG_NO_RECORDED_VALUE));
            }
            close(out, p);
        }
        MetricType::Summary => {
            let Some(count) = g.count else { return false };
            let stale = is_stale(count) || g.sum.is_some_and(is_stale);
            let sum = g.sum.unwrap_or(0.0);
            let start = adjuster.start_time(key, observed(count, sum, stale));
            let mut quantiles = g.complex;
            quantiles.sort_by(|a, b| a.0.total_cmp(&b.0));
            // SummaryDataPoint: attributes 7, start 2, time 3, count 4, sum 5,
            // quantile_values 6 (quantile 1, value 2), flags 8
            let p = open(out, 1);
            put_attrs(out, 7, &g.attrs);
            put_u64_nonzero(out, 2, start);
            put_u64_nonzero(out, 3, g.time_ns);
            if stale {
                put_varint_nonzero(out, 8, u64::from(FLAG_NO_RECORDED_VALUE));
            } else {
                put_u64_nonzero(out, 4, count as u64);
                put_f64_nonzero(out, 5, sum);
                for (q, v) in quantiles {
                    let at = open(out, 6);
                    put_f64_nonzero(out, 1, q);
                    put_f64_nonzero(out, 2, v);
                    close(out, at);
                }
            }
            close(out, p);
        }
        _ => {
            let Some(v) = g.value else { return false };
            write_number_point(out, &g.attrs, 0, g.time_ns, v);
        }
    }
    true
}

/// A packed repeated field of eight-byte values, left out when empty.
fn put_packed(out: &mut Vec<u8>, number: u32, values: impl ExactSizeIterator<Item = [u8; 8]>) {
    if values.len() == 0 {
        return;
    }
    put_key(out, number, 2);
    put_varint(out, values.len() as u64 * 8);
    for v in values {
        out.extend_from_slice(&v);
    }
}

/// A `NumberDataPoint` as field 1 of a gauge's or sum's data: attributes 7, start 2, time 3,
/// `as_double` 4 (left out for a stale marker, which is flagged instead), flags 8.
fn write_number_point(out: &mut Vec<u8>, attrs: &[(&str, &str)], start: u64, time: u64, v: f64) {
    let p = open(out, 1);
    put_attrs(out, 7, attrs);
    put_u64_nonzero(out, 2, start);
    put_u64_nonzero(out, 3, time);
    if is_stale(v) {
        put_varint_nonzero(out, 8, u64::from(FLAG_NO_RECORDED_VALUE));
    } else {
        put_fixed64(out, 4, v.to_le_bytes());
    }
    close(out, p);
}
