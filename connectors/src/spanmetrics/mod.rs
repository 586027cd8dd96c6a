//! `spanmetrics` connector: RED metrics from spans, as Go's
//! `connector/spanmetricsconnector` makes them. Per resource (the spans' resource, keyed by
//! its attributes or `resource_metrics_key_attributes`), per series (`service.name`,
//! `span.name`, `span.kind`, `status.code`, then the configured `dimensions`, looked up in
//! the span's attributes, then the resource's, then their `default`):
//! `{namespace}.calls` (a monotonic sum) and `{namespace}.duration` (an explicit-bucket
//! histogram in `ms` or `s`, or with `histogram.exponential` a base-2 exponential one), and with `events.enabled` `{namespace}.events` (a monotonic
//! sum of span events per series of the same dimensions plus `events.dimensions`, looked up
//! in the span's attributes, then the event's over the resource's), emitted every
//! `metrics_flush_interval`, cumulative (each series from its first span) or delta (reset
//! after each flush, each start the previous flush). Unlike Go, what was aggregated since
//! the last flush is also flushed at shutdown.

mod config;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, AggregationTemporality, Exemplar, ExponentialHistogram,
    ExponentialHistogramDataPoint, Histogram, HistogramDataPoint, Metric, NumberDataPoint, Sum,
};
use pipeline_api::proto::tonic::trace::v1::{span, status, Span};
use pipeline_api::wire_edit::ValueRef;
use pipeline_api::wire_items::{Level, SpanParts, WireMap};
use pipeline_api::{
    async_trait, declare, Batch, BuildError, ComponentId, ConnectorFactory, ConsumeError, Consumer,
    Meta, Processor, SharedConsumer, Signal, Stability,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

pub use config::Config;

use crate::common::{attr, kv, now_nanos, scalar_text, string_value};
use crate::expohisto::ExpoHistogram;
use config::{Dimension, SERVICE_NAME, SPAN_KIND, SPAN_NAME, STATUS_CODE};

/// Newer Go releases spell it `span_metrics`.
pub const META: Meta = Meta::new("spanmetrics")
    .aliases(&[("span_metrics", false)])
    .pairs(&[(Signal::Traces, Signal::Metrics, Stability::Alpha)]);

/// The scope of the metrics it emits (Go's).
pub const SCOPE_NAME: &str = "spanmetricsconnector";

pub fn factory() -> Arc<dyn ConnectorFactory> {
    declare::connector::<Config>(META, |ctx, cfg, from, to, next| {
        if (from, to) != (Signal::Traces, Signal::Metrics) {
            return Err(BuildError::new(format!(
                "spanmetrics connects traces to metrics, not {from} to {to}"
            )));
        }
        Ok(Arc::new(Node(Arc::new(SpanMetrics::new(
            ctx.id,
            cfg.clone(),
            next.all,
        )))))
    })
}

/// Go `traceutil.SpanKindStr`.
fn kind_str(kind: i32) -> &'static str {
    match span::SpanKind::try_from(kind).unwrap_or(span::SpanKind::Unspecified) {
        span::SpanKind::Unspecified => "SPAN_KIND_UNSPECIFIED",
        span::SpanKind::Internal => "SPAN_KIND_INTERNAL",
        span::SpanKind::Server => "SPAN_KIND_SERVER",
        span::SpanKind::Client => "SPAN_KIND_CLIENT",
        span::SpanKind::Producer => "SPAN_KIND_PRODUCER",
        span::SpanKind::Consumer => "SPAN_KIND_CONSUMER",
    }
}

/// Go `traceutil.StatusCodeStr`.
fn status_str(span: &Span) -> &'static str {
    let code = span.status.as_ref().map(|s| s.code).unwrap_or(0);
    match status::StatusCode::try_from(code).unwrap_or(status::StatusCode::Unset) {
        status::StatusCode::Unset => "STATUS_CODE_UNSET",
        status::StatusCode::Ok => "STATUS_CODE_OK",
        status::StatusCode::Error => "STATUS_CODE_ERROR",
    }
}

/// A value as text, for the series key (Go `Value.AsString`).
fn as_string(v: &AnyValue) -> String {
    scalar_text(v).unwrap_or_else(|| format!("{:?}", v.value))
}

/// Append `as_string(v)` to `out` without a string of its own for the scalars.
fn push_text(out: &mut String, v: &AnyValue) {
    use std::fmt::Write;
    match &v.value {
        Some(any_value::Value::StringValue(s)) => out.push_str(s),
        Some(any_value::Value::IntValue(i)) => drop(write!(out, "{i}")),
        Some(any_value::Value::DoubleValue(d)) => drop(write!(out, "{d}")),
        Some(any_value::Value::BoolValue(b)) => drop(write!(out, "{b}")),
        _ => out.push_str(&as_string(v)),
    }
}

/// A span's attributes as the dimensions read them: decoded, or in the wire form.
trait SpanAttrs {
    /// Append the text of the first entry of `name` to `out`; false, nothing appended,
    /// when there is none or it has no value (as `attr` finds nothing).
    fn push_text(&self, name: &str, out: &mut String) -> bool;
    /// The value of the first entry of `name` (as `attr`).
    fn value(&self, name: &str) -> Option<AnyValue>;
}

impl SpanAttrs for [KeyValue] {
    fn push_text(&self, name: &str, out: &mut String) -> bool {
        attr(self, name).map(|v| push_text(out, v)).is_some()
    }
    fn value(&self, name: &str) -> Option<AnyValue> {
        attr(self, name).cloned()
    }
}

impl SpanAttrs for dyn WireMap + '_ {
    fn push_text(&self, name: &str, out: &mut String) -> bool {
        use std::fmt::Write;
        let mut found = None;
        self.with_value(name, &mut |v| {
            found = match v {
                None => Some(false),
                Some(ValueRef::Str(s)) => {
                    out.push_str(s);
                    Some(true)
                }
                Some(ValueRef::Int(i)) => Some(write!(out, "{i}").is_ok()),
                Some(ValueRef::Double(d)) => Some(write!(out, "{d}").is_ok()),
                Some(ValueRef::Bool(b)) => Some(write!(out, "{b}").is_ok()),
                // another layout or type: decoded whole below, where a missing value and
                // an empty one differ
                Some(ValueRef::Any(_)) => None,
            }
        });
        match found {
            Some(found) => found,
            None => match self.value(name) {
                Some(v) => {
                    push_text(out, &v);
                    true
                }
                None => false,
            },
        }
    }
    fn value(&self, name: &str) -> Option<AnyValue> {
        self.entry(name).and_then(|kv| kv.value)
    }
}

#[derive(Debug, Clone)]
struct Exemplars(Vec<Exemplar>);

#[derive(Debug)]
struct Series {
    attributes: Vec<KeyValue>,
    start: u64,
    calls: u64,
    calls_exemplars: Exemplars,
    /// Per bucket (bounds + the overflow bucket).
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
    /// With `histogram.exponential`, the durations go here instead of `buckets`.
    expo: Option<ExpoHistogram>,
    duration_exemplars: Exemplars,
}

/// A series of the events metric.
#[derive(Debug)]
struct EventSeries {
    attributes: Vec<KeyValue>,
    start: u64,
    count: u64,
    exemplars: Exemplars,
}

#[derive(Debug)]
struct ResourceState {
    attributes: Vec<KeyValue>,
    /// By series key, in key order for a stable output.
    series: BTreeMap<String, Series>,
    /// The events metric's series, by key.
    events: BTreeMap<String, EventSeries>,
    last_seen: Instant,
}

/// The overflow series of a resource past `aggregation_cardinality_limit` (Go's).
fn overflow() -> (String, Vec<(&'static str, AnyValue)>) {
    (
        "otel.metric.overflow".into(),
        vec![(
            "otel.metric.overflow",
            AnyValue {
                value: Some(any_value::Value::BoolValue(true)),
            },
        )],
    )
}

/// What every span of one aggregation shares.
struct Aggregation {
    now: u64,
    seen: Instant,
    divider: f64,
    limit: usize,
    max_exemplars: usize,
}

#[derive(Debug, Default)]
struct State {
    resources: HashMap<String, ResourceState>,
    /// Delta: the last flush time of each series, the start of its next point.
    last_flush: HashMap<(String, String), u64>,
}

/// One `spanmetrics` instance.
pub struct SpanMetrics {
    id: ComponentId,
    cfg: Config,
    bounds: Vec<f64>,
    state: Mutex<State>,
    next: SharedConsumer,
    flusher: Mutex<Option<(CancellationToken, JoinHandle<()>)>>,
    stopped: std::sync::atomic::AtomicBool,
}

impl SpanMetrics {
    pub fn new(id: ComponentId, cfg: Config, next: SharedConsumer) -> SpanMetrics {
        SpanMetrics {
            id,
            bounds: cfg.bounds(),
            cfg,
            state: Mutex::new(State::default()),
            next,
            flusher: Mutex::new(None),
            stopped: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn resource_key(&self, attrs: &[KeyValue]) -> String {
        let mut kept: Vec<(&str, String)> = attrs
            .iter()
            .filter(|a| {
                self.cfg.resource_metrics_key_attributes.is_empty()
                    || self.cfg.resource_metrics_key_attributes.contains(&a.key)
            })
            .map(|a| (a.key.as_str(), format!("{:?}", a.value)))
            .collect();
        kept.sort();
        format!("{kept:?}")
    }

    fn excluded(&self, key: &str) -> bool {
        self.cfg.exclude_dimensions.iter().any(|d| d == key)
    }

    /// The fixed dimensions of a span: service, name, kind and status code, less the
    /// excluded ones.
    fn fixed<'s>(
        &'s self,
        service: &'s str,
        span: &'s Span,
    ) -> impl Iterator<Item = (&'static str, &'s str)> + 's {
        [
            (SERVICE_NAME, service),
            (SPAN_NAME, span.name.as_str()),
            (SPAN_KIND, kind_str(span.kind)),
            (STATUS_CODE, status_str(span)),
        ]
        .into_iter()
        .filter(|(name, _)| !self.excluded(name))
    }

    /// The instrumentation scope's dimensions, when it is one of
    /// `include_instrumentation_scope`.
    fn scope_dims<'s>(
        &self,
        scope: Option<&'s InstrumentationScope>,
    ) -> Vec<(&'static str, &'s str)> {
        let Some(scope) = scope.filter(|s| {
            !s.name.is_empty() && self.cfg.include_instrumentation_scope.contains(&s.name)
        }) else {
            return Vec::new();
        };
        let mut out = vec![("span.instrumentation.scope.name", scope.name.as_str())];
        if !scope.version.is_empty() {
            out.push(("span.instrumentation.scope.version", scope.version.as_str()));
        }
        out
    }

    /// The series key of a span (Go `buildKey`): the text of each dimension, joined by NUL.
    /// The configured `dimensions`, then `extra` (the events metric's), are looked up in the
    /// span's attributes, then in `resource` (for an event: its attributes over the
    /// resource's), then their default (Go `GetDimensionValue`). Written straight into the
    /// key: the dimensions' values are made only for a new series ([`Self::series_dims`]).
    fn series_key<A: SpanAttrs + ?Sized>(
        &self,
        service: &str,
        span: &Span,
        attrs: &A,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        extra: &[Dimension],
    ) -> String {
        let mut key = String::new();
        let mut first = true;
        let sep = |key: &mut String, first: &mut bool| {
            if !std::mem::take(first) {
                key.push('\0');
            }
        };
        for (_, value) in self.fixed(service, span) {
            sep(&mut key, &mut first);
            key.push_str(value);
        }
        for d in self.cfg.dimensions.iter().chain(extra) {
            let (mark, was_first) = (key.len(), first);
            sep(&mut key, &mut first);
            let found = attrs.push_text(&d.name, &mut key)
                || resource.push_text(&d.name, &mut key)
                || d.default.as_deref().map(|v| key.push_str(v)).is_some();
            if !found {
                key.truncate(mark);
                first = was_first;
            }
        }
        for (_, value) in self.scope_dims(scope) {
            sep(&mut key, &mut first);
            key.push_str(value);
        }
        key
    }

    /// The dimensions of a new series, as [`Self::series_key`] reads them (Go
    /// `buildAttributes`).
    fn series_dims<'a, A: SpanAttrs + ?Sized>(
        &'a self,
        service: &str,
        span: &Span,
        attrs: &A,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        extra: &'a [Dimension],
    ) -> Vec<(&'a str, AnyValue)> {
        let mut dims: Vec<(&'a str, AnyValue)> = self
            .fixed(service, span)
            .map(|(name, value)| (name, string_value(value)))
            .collect();
        for d in self.cfg.dimensions.iter().chain(extra) {
            let v = attrs
                .value(&d.name)
                .or_else(|| resource.value(&d.name))
                .or_else(|| d.default.as_deref().map(string_value));
            if let Some(v) = v {
                dims.push((&d.name, v));
            }
        }
        for (name, value) in self.scope_dims(scope) {
            dims.push((name, string_value(value)));
        }
        dims
    }

    fn exemplar(&self, span: &Span, value: f64, now: u64) -> Option<Exemplar> {
        if !self.cfg.exemplars.enabled || span.trace_id.iter().all(|b| *b == 0) {
            return None;
        }
        Some(Exemplar {
            time_unix_nano: now,
            trace_id: span.trace_id.clone(),
            span_id: span.span_id.clone(),
            value: Some(exemplar::Value::AsDouble(value)),
            ..Default::default()
        })
    }

    /// Add a batch of spans to the state (Go `aggregateMetrics`). A batch still in its wire
    /// form stays in it: each span's fields are read but its lists, of its attributes only
    /// the dimensions, and its events only when they are counted.
    fn aggregate(&self, batch: &mut Batch) {
        let a = Aggregation {
            now: now_nanos(),
            seen: Instant::now(),
            divider: self.cfg.histogram.unit.divider(),
            limit: usize::try_from(self.cfg.aggregation_cardinality_limit).unwrap_or(0),
            max_exemplars: self.cfg.exemplars.max_per_data_point.unwrap_or(usize::MAX),
        };
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !self.aggregate_wire(batch, &a, &mut state) {
            self.aggregate_decoded(batch, &a, &mut state);
        }
        // bounded: the least recently seen resources beyond the cache size go
        let cap = usize::try_from(self.cfg.resource_metrics_cache_size).unwrap_or(0);
        if cap > 0 && state.resources.len() > cap {
            let mut by_age: Vec<(Instant, String)> = state
                .resources
                .iter()
                .map(|(k, r)| (r.last_seen, k.clone()))
                .collect();
            by_age.sort();
            let excess = state.resources.len() - cap;
            for (_, k) in by_age.into_iter().take(excess) {
                state.resources.remove(&k);
            }
        }
    }

    /// The resource state of `resource`'s key, made on first sight.
    fn resource_state<'s>(
        &self,
        state: &'s mut State,
        resource: &[KeyValue],
        key: &str,
        seen: Instant,
    ) -> &'s mut ResourceState {
        if !state.resources.contains_key(key) {
            state.resources.insert(
                key.to_string(),
                ResourceState {
                    attributes: resource.to_vec(),
                    series: BTreeMap::new(),
                    events: BTreeMap::new(),
                    last_seen: seen,
                },
            );
        }
        let rm = state.resources.get_mut(key).expect("inserted above");
        rm.last_seen = seen;
        rm
    }

    /// Aggregate a trace batch still in its wire form; false when it is not one (nothing
    /// was read).
    fn aggregate_wire(&self, batch: &mut Batch, a: &Aggregation, state: &mut State) -> bool {
        // the resource whose spans are walked: its attributes, and its service, key and
        // state (taken out of the map while its spans come, put back after)
        type Current = (Vec<KeyValue>, Option<(String, String, ResourceState)>);
        // every resource with a service gets its state, spans or none, as the decoded form
        // makes them (a first walk over resources only, the spans copied unread)
        let resources = batch.edit_items_wire(Level::Resource, &mut |parts: SpanParts<'_, '_>| {
            let resource = parts
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or(&[]);
            if attr(resource, SERVICE_NAME).is_some() {
                self.resource_state(state, resource, &self.resource_key(resource), a.seen);
            }
            Ok(())
        });
        if resources.is_none() {
            return false;
        }
        let mut current: Option<Current> = None;
        let mut events: Vec<span::Event> = Vec::new();
        let put_back = |state: &mut State, c: Option<Current>| {
            if let Some((_, Some((_, key, rm)))) = c {
                state.resources.insert(key, rm);
            }
        };
        let r = batch.edit_items_wire(Level::Item, &mut |parts: SpanParts<'_, '_>| {
            let Some(item) = parts.item else {
                return Ok(());
            };
            let resource = parts
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or(&[]);
            if current.as_ref().is_none_or(|c| c.0 != resource) {
                put_back(state, current.take());
                let known = attr(resource, SERVICE_NAME).map(|service| {
                    let key = self.resource_key(resource);
                    self.resource_state(state, resource, &key, a.seen);
                    let rm = state.resources.remove(&key).expect("made above");
                    (as_string(service), key, rm)
                });
                current = Some((resource.to_vec(), known));
            }
            let Some((_, Some((service, _, rm)))) = &mut current else {
                return Ok(());
            };
            let scope = parts.scope.and_then(|(s, _)| s.as_ref());
            // the span's events, decoded only when they are counted (field 11, each whole)
            events.clear();
            if self.cfg.events.enabled {
                events.extend(item.list::<span::Event>(11));
            }
            let span = &*item.item;
            let attrs = item.attrs as &dyn WireMap;
            self.record(a, rm, service, resource, scope, span, &events, attrs);
            Ok(())
        });
        put_back(state, current);
        r.is_some()
    }

    /// Aggregate the decoded form of a batch.
    fn aggregate_decoded(&self, batch: &Batch, a: &Aggregation, state: &mut State) {
        let Some(traces) = batch.as_traces() else {
            return;
        };
        for rs in &traces.resource_spans {
            let resource: &[KeyValue] = rs
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or(&[]);
            let Some(service) = attr(resource, SERVICE_NAME) else {
                continue;
            };
            let service = as_string(service);
            let key = self.resource_key(resource);
            let rm = self.resource_state(state, resource, &key, a.seen);
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    let (attrs, scope) = (&span.attributes[..], ss.scope.as_ref());
                    self.record(a, rm, &service, resource, scope, span, &span.events, attrs);
                }
            }
        }
    }

    /// Count one span, and its events when they are counted.
    #[allow(clippy::too_many_arguments)]
    fn record<A: SpanAttrs + ?Sized>(
        &self,
        a: &Aggregation,
        rm: &mut ResourceState,
        service: &str,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        span: &Span,
        events: &[span::Event],
        attrs: &A,
    ) {
        let (now, limit, max_exemplars) = (a.now, a.limit, a.max_exemplars);
        let duration = if span.end_time_unix_nano > span.start_time_unix_nano {
            (span.end_time_unix_nano - span.start_time_unix_nano) as f64 / a.divider
        } else {
            0.0
        };
        let mut key = self.series_key(service, span, attrs, resource, scope, &[]);
        let mut dims = None;
        if limit > 0 && rm.series.len() >= limit && !rm.series.contains_key(&key) {
            let (k, d) = overflow();
            (key, dims) = (k, Some(d));
        }
        let buckets = self.bounds.len() + 1;
        let series = rm.series.entry(key).or_insert_with(|| Series {
            attributes: dims
                .unwrap_or_else(|| self.series_dims(service, span, attrs, resource, scope, &[]))
                .into_iter()
                .map(|(n, v)| kv(n, v))
                .collect(),
            start: now,
            calls: 0,
            calls_exemplars: Exemplars(Vec::new()),
            buckets: vec![0; buckets],
            sum: 0.0,
            count: 0,
            expo: self
                .cfg
                .histogram
                .exponential
                .as_ref()
                .map(|e| ExpoHistogram::new(e.max_size)),
            duration_exemplars: Exemplars(Vec::new()),
        });
        series.calls += 1;
        if let Some(h) = series.expo.as_mut() {
            if !self.cfg.histogram.disable {
                h.record(duration, 1);
            }
        } else if !self.cfg.histogram.disable {
            // the first bound at or above the value (Go `sort.SearchFloat64s`)
            let i = self.bounds.partition_point(|b| *b < duration);
            series.buckets[i] += 1;
            series.sum += duration;
            series.count += 1;
        }
        let exemplar = self.exemplar(span, duration, now);
        if let Some(e) = &exemplar {
            if series.calls_exemplars.0.len() < max_exemplars {
                series.calls_exemplars.0.push(e.clone());
            }
            if !self.cfg.histogram.disable && series.duration_exemplars.0.len() < max_exemplars {
                series.duration_exemplars.0.push(e.clone());
            }
        }
        if !self.cfg.events.enabled {
            return;
        }
        for event in events {
            // the event's attributes over the resource's (Go copies the
            // resource's, then puts each of the event's)
            let mut around: Vec<KeyValue> = resource
                .iter()
                .filter(|r| !event.attributes.iter().any(|e| e.key == r.key))
                .cloned()
                .collect();
            around.extend(event.attributes.iter().cloned());
            let extra = &self.cfg.events.dimensions;
            let mut key = self.series_key(service, span, attrs, &around, scope, extra);
            let mut dims = self.series_dims(service, span, attrs, &around, scope, extra);
            if limit > 0 && rm.events.len() >= limit && !rm.events.contains_key(&key) {
                (key, dims) = overflow();
            }
            let series = rm.events.entry(key).or_insert_with(|| EventSeries {
                attributes: dims.into_iter().map(|(n, v)| kv(n, v)).collect(),
                start: now,
                count: 0,
                exemplars: Exemplars(Vec::new()),
            });
            series.count += 1;
            if let Some(e) = &exemplar {
                if series.exemplars.0.len() < max_exemplars {
                    series.exemplars.0.push(e.clone());
                }
            }
        }
    }

    /// Build the metrics of the state and reset it as the temporality wants (Go
    /// `buildMetrics`, `resetState`). `None` when there is nothing to send.
    fn flush(&self) -> Option<ExportMetricsServiceRequest> {
        let now = now_nanos();
        let delta = self.cfg.is_delta();
        let temporality = if delta {
            AggregationTemporality::Delta
        } else {
            AggregationTemporality::Cumulative
        } as i32;
        let ns = &self.cfg.namespace;
        let name = |n: &str| {
            if ns.is_empty() {
                n.to_string()
            } else {
                format!("{ns}.{n}")
            }
        };
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !delta && !self.cfg.metrics_expiration.is_zero() {
            let expiry = self.cfg.metrics_expiration.get();
            state
                .resources
                .retain(|_, r| r.last_seen.elapsed() < expiry);
        }
        if state.resources.is_empty() {
            return None;
        }
        let State {
            resources,
            last_flush,
        } = &mut *state;
        let mut keys: Vec<&String> = resources.keys().collect();
        keys.sort();
        let mut out = Vec::new();
        for rkey in keys {
            let rm = &resources[rkey];
            let start_of = |skey: &String, created: u64| -> u64 {
                if delta {
                    last_flush
                        .get(&(rkey.clone(), skey.clone()))
                        .copied()
                        .unwrap_or(created)
                } else {
                    created
                }
            };
            let calls = Metric {
                name: name("calls"),
                data: Some(metric::Data::Sum(Sum {
                    data_points: rm
                        .series
                        .iter()
                        .map(|(k, s)| NumberDataPoint {
                            attributes: s.attributes.clone(),
                            start_time_unix_nano: start_of(k, s.start),
                            time_unix_nano: now,
                            value: Some(number_data_point::Value::AsInt(s.calls as i64)),
                            exemplars: s.calls_exemplars.0.clone(),
                            ..Default::default()
                        })
                        .collect(),
                    aggregation_temporality: temporality,
                    is_monotonic: true,
                })),
                ..Default::default()
            };
            let mut metrics = vec![calls];
            if !self.cfg.histogram.disable && self.cfg.histogram.exponential.is_some() {
                metrics.push(Metric {
                    name: name("duration"),
                    unit: self.cfg.histogram.unit.as_str().to_string(),
                    data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                        data_points: rm
                            .series
                            .iter()
                            .map(|(k, s)| {
                                let mut p = ExponentialHistogramDataPoint {
                                    attributes: s.attributes.clone(),
                                    start_time_unix_nano: start_of(k, s.start),
                                    time_unix_nano: now,
                                    exemplars: s.duration_exemplars.0.clone(),
                                    ..Default::default()
                                };
                                if let Some(h) = &s.expo {
                                    h.fill(&mut p);
                                }
                                p
                            })
                            .collect(),
                        aggregation_temporality: temporality,
                    })),
                    ..Default::default()
                });
            } else if !self.cfg.histogram.disable {
                metrics.push(Metric {
                    name: name("duration"),
                    unit: self.cfg.histogram.unit.as_str().to_string(),
                    data: Some(metric::Data::Histogram(Histogram {
                        data_points: rm
                            .series
                            .iter()
                            .map(|(k, s)| HistogramDataPoint {
                                attributes: s.attributes.clone(),
                                start_time_unix_nano: start_of(k, s.start),
                                time_unix_nano: now,
                                count: s.count,
                                sum: Some(s.sum),
                                bucket_counts: s.buckets.clone(),
                                explicit_bounds: self.bounds.clone(),
                                exemplars: s.duration_exemplars.0.clone(),
                                ..Default::default()
                            })
                            .collect(),
                        aggregation_temporality: temporality,
                    })),
                    ..Default::default()
                });
            }
            if self.cfg.events.enabled {
                // Go adds the metric whenever events are on, with or without points
                metrics.push(Metric {
                    name: name("events"),
                    data: Some(metric::Data::Sum(Sum {
                        data_points: rm
                            .events
                            .iter()
                            .map(|(k, s)| NumberDataPoint {
                                attributes: s.attributes.clone(),
                                start_time_unix_nano: start_of(&format!("\0events\0{k}"), s.start),
                                time_unix_nano: now,
                                value: Some(number_data_point::Value::AsInt(s.count as i64)),
                                exemplars: s.exemplars.0.clone(),
                                ..Default::default()
                            })
                            .collect(),
                        aggregation_temporality: temporality,
                        is_monotonic: true,
                    })),
                    ..Default::default()
                });
            }
            out.push(crate::common::resource_metrics(
                rm.attributes.clone(),
                SCOPE_NAME,
                metrics,
            ));
        }
        if delta {
            for (rkey, rm) in resources.iter() {
                for skey in rm.series.keys() {
                    last_flush.insert((rkey.clone(), skey.clone()), now);
                }
                for skey in rm.events.keys() {
                    last_flush.insert((rkey.clone(), format!("\0events\0{skey}")), now);
                }
            }
            let cap = usize::try_from(self.cfg.metric_timestamp_cache_size.unwrap_or(1000))
                .unwrap_or(1000)
                .max(1);
            if last_flush.len() > cap {
                // bounded as Go's LRU: the oldest flush times go first
                let mut by_time: Vec<((String, String), u64)> = last_flush.drain().collect();
                by_time.sort_by_key(|(_, t)| std::cmp::Reverse(*t));
                by_time.truncate(cap);
                last_flush.extend(by_time);
            }
            resources.clear();
        } else {
            for rm in resources.values_mut() {
                for s in rm.series.values_mut() {
                    s.calls_exemplars.0.clear();
                    s.duration_exemplars.0.clear();
                }
                for s in rm.events.values_mut() {
                    s.exemplars.0.clear();
                }
            }
        }
        Some(ExportMetricsServiceRequest {
            resource_metrics: out,
        })
    }

    async fn send(&self) {
        let Some(request) = self.flush() else {
            return;
        };
        let batch = Batch::from_metrics(request);
        let points = batch.items();
        if let Err(e) = self.next.consume(batch).await {
            error!(connector = %self.id, error = %e, data_points = points, "Failed ConsumeMetrics");
        }
    }
}

/// The connector as the graph holds it: the aggregation, shared with its flush task.
pub struct Node(pub Arc<SpanMetrics>);

#[async_trait]
impl Consumer for Node {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        if batch.signal() != Signal::Traces {
            return Err(ConsumeError::permanent(format!(
                "spanmetrics takes traces, not {}",
                batch.signal()
            )));
        }
        let mut batch = batch;
        self.0.aggregate(&mut batch);
        // after shutdown nothing flushes on a timer: what arrives goes out at once
        if self.0.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            self.0.send().await;
        }
        Ok(())
    }
}

#[async_trait]
impl Processor for Node {
    async fn start(&self) -> Result<(), BuildError> {
        self.0.start_flushing();
        Ok(())
    }

    async fn shutdown(&self) {
        let me = &self.0;
        me.stopped.store(true, std::sync::atomic::Ordering::SeqCst);
        let flusher = me.flusher.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((token, task)) = flusher {
            token.cancel();
            let _ = task.await;
        }
        me.send().await;
    }
}

impl SpanMetrics {
    /// Start the flush timer; the instance must be shared to be flushed from a task.
    pub fn start_flushing(self: &Arc<Self>) {
        let interval = self
            .cfg
            .metrics_flush_interval
            .get()
            .max(Duration::from_millis(1));
        let token = CancellationToken::new();
        let task = crate::periodic::every(
            interval,
            Arc::downgrade(self),
            token.clone(),
            |me: Arc<SpanMetrics>| async move { me.send().await },
        );
        *self.flusher.lock().unwrap_or_else(|p| p.into_inner()) = Some((token, task));
        info!(connector = %self.id, every = ?interval, "Starting spanmetrics connector");
    }
}
