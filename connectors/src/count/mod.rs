//! `count` connector: counts spans, span events, metrics, data points and log records into
//! delta monotonic sums, as Go's `connector/countconnector`. Each metric may group its
//! counts by `attributes` (the item's attribute, else its scope's, else its resource's, else
//! `default_value`; an item missing one is not counted) and count only the items one of its
//! OTTL `conditions` holds for (all items without conditions). Every batch that comes in
//! gives one batch of counts out, per resource, at once. Spans and log records still in the
//! wire form are counted where they lie (`Count::counts_wire`), everything else decoded.
//!
//! Go facts (v0.155 `config.go`, `counter.go`, `connector.go`): conditions are read in the
//! item's context (`span`, `spanevent`, `metric`, `datapoint`, `log`; context-prefixed paths
//! accepted), joined by `or`, with `propagate`: a condition that fails to evaluate fails the
//! whole batch and no count is sent. `default_value` takes any YAML value (`FromRaw`). Each
//! count's start time is the earliest and its time the latest item timestamp seen (span
//! start and end, event, log record, data point times; metrics themselves have none), or
//! now when there was none.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use ottl::exec::{log_ctx, span_ctx, visit_logs, visit_metrics, visit_traces};
use ottl::{Condition, ContextKind, Ctx, Item, PathStyle, Point};
use pipeline_api::config::{any_value_from_config, ConfigError, ConfigValue, Validate};
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{AnyValue, KeyValue};
use pipeline_api::proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Metric, NumberDataPoint, ResourceMetrics,
    Sum,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::span;
use pipeline_api::wire_items::{Level, LogParts, SpanParts, WireMap};
use pipeline_api::{
    async_trait, declare, Batch, BatchData, BuildError, ComponentConfig, ConnectorFactory,
    ConsumeError, Consumer, Meta, Processor, SharedConsumer, Signal, Stability,
};
use serde::Deserialize;

use crate::common::{attr, now_nanos};

pub const META: Meta = Meta::new("count").pairs(&[
    (Signal::Traces, Signal::Metrics, Stability::Alpha),
    (Signal::Metrics, Signal::Metrics, Stability::Alpha),
    (Signal::Logs, Signal::Metrics, Stability::Alpha),
]);

/// The scope of the counts (Go's `metadata.ScopeName`).
pub const SCOPE_NAME: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/connector/countconnector";

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttributeConfig {
    pub key: String,
    /// Any YAML value (Go `any`); null: none.
    pub default_value: ConfigValue,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricInfo {
    pub description: String,
    pub conditions: Vec<String>,
    pub attributes: Vec<AttributeConfig>,
}

/// Go `Config`; a kind left out gets Go's default metric (`Unmarshal`), one given replaces it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub spans: Option<BTreeMap<String, MetricInfo>>,
    pub spanevents: Option<BTreeMap<String, MetricInfo>>,
    pub metrics: Option<BTreeMap<String, MetricInfo>>,
    pub datapoints: Option<BTreeMap<String, MetricInfo>>,
    pub logs: Option<BTreeMap<String, MetricInfo>>,
    pub profiles: ConfigValue,
}

fn default_of(name: &str, description: &str) -> BTreeMap<String, MetricInfo> {
    BTreeMap::from([(
        name.to_string(),
        MetricInfo {
            description: description.to_string(),
            ..Default::default()
        },
    )])
}

impl Config {
    pub fn spans(&self) -> BTreeMap<String, MetricInfo> {
        self.spans
            .clone()
            .unwrap_or_else(|| default_of("trace.span.count", "The number of spans observed."))
    }
    pub fn spanevents(&self) -> BTreeMap<String, MetricInfo> {
        self.spanevents.clone().unwrap_or_else(|| {
            default_of(
                "trace.span.event.count",
                "The number of span events observed.",
            )
        })
    }
    pub fn metrics(&self) -> BTreeMap<String, MetricInfo> {
        self.metrics
            .clone()
            .unwrap_or_else(|| default_of("metric.count", "The number of metrics observed."))
    }
    pub fn datapoints(&self) -> BTreeMap<String, MetricInfo> {
        self.datapoints.clone().unwrap_or_else(|| {
            default_of(
                "metric.datapoint.count",
                "The number of data points observed.",
            )
        })
    }
    pub fn logs(&self) -> BTreeMap<String, MetricInfo> {
        self.logs.clone().unwrap_or_else(|| {
            default_of("log.record.count", "The number of log records observed.")
        })
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (kind, defs) in [
            ("spans", &self.spans),
            ("spanevents", &self.spanevents),
            ("metrics", &self.metrics),
            ("datapoints", &self.datapoints),
            ("logs", &self.logs),
        ] {
            for (name, info) in defs.iter().flatten() {
                if name.is_empty() {
                    errors.push(ConfigError::new(
                        &[kind],
                        format!("{kind}: metric name missing"),
                    ));
                }
                // every condition that does not load, each at its index
                for (i, c) in info.conditions.iter().enumerate() {
                    if let Err(e) = Condition::compile(c, context_of(kind), PathStyle::Contextual) {
                        errors.push(ConfigError::new(
                            &[kind, name, "conditions", &i.to_string()],
                            format!("{kind} condition: metric {name:?}: {e}"),
                        ));
                    }
                }
                if kind == "metrics" && !info.attributes.is_empty() {
                    errors.push(ConfigError::new(
                        &[kind, name, "attributes"],
                        format!("metrics attributes not supported: metric {name:?}"),
                    ));
                }
                if info.attributes.iter().any(|a| a.key.is_empty()) {
                    errors.push(ConfigError::new(
                        &[kind, name, "attributes"],
                        "attribute key missing",
                    ));
                }
            }
        }
        if !self.profiles.is_null() {
            errors.push(ConfigError::new(
                &["profiles"],
                "Ferrotel has no profiles pipelines",
            ));
        }
        errors
    }
}

impl ComponentConfig for Config {}

/// The OTTL context of a kind of item counted.
fn context_of(kind: &str) -> ContextKind {
    match kind {
        "spans" => ContextKind::Span,
        "spanevents" => ContextKind::SpanEvent,
        "metrics" => ContextKind::Metric,
        "datapoints" => ContextKind::DataPoint,
        _ => ContextKind::Log,
    }
}

/// A metric's conditions, compiled in its kind's context.
fn compile(kind: &str, conditions: &[String]) -> Result<Vec<Condition>, String> {
    conditions
        .iter()
        .map(|c| {
            Condition::compile(c, context_of(kind), PathStyle::Contextual)
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// One metric to count, ready to run.
struct Def {
    name: String,
    info: MetricInfo,
    /// Joined by `or`; none: every item.
    conditions: Vec<Condition>,
}

fn defs(kind: &str, infos: BTreeMap<String, MetricInfo>) -> Result<Vec<Def>, BuildError> {
    infos
        .into_iter()
        .map(|(name, info)| {
            let conditions = compile(kind, &info.conditions).map_err(BuildError::new)?;
            Ok(Def {
                name,
                info,
                conditions,
            })
        })
        .collect()
}

pub fn factory() -> Arc<dyn ConnectorFactory> {
    declare::connector::<Config>(META, |_ctx, cfg, from, to, next| {
        if to != Signal::Metrics {
            return Err(BuildError::new(format!("count emits metrics, not {to}")));
        }
        Ok(Arc::new(Count::new(from, cfg, next.all)?))
    })
}

/// One metric's counts, by attribute set, in first-seen order.
#[derive(Default)]
struct Counts(Vec<(Vec<KeyValue>, i64)>);

impl Counts {
    fn add(&mut self, attrs: Vec<KeyValue>) {
        match self.0.iter_mut().find(|(a, _)| *a == attrs) {
            Some((_, n)) => *n += 1,
            None => self.0.push((attrs, 1)),
        }
    }
}

/// The counters of one resource: per metric name, with the time range of the items seen.
struct Counter<'a> {
    defs: &'a [Def],
    counts: BTreeMap<&'a str, Counts>,
    start: u64,
    end: u64,
}

/// The attributes of the item a context is about: decoded, or still in the wire form.
enum Attrs<'c> {
    Decoded(&'c [KeyValue]),
    Wire(&'c dyn WireMap),
}

impl Attrs<'_> {
    /// The value of the first entry of `key` (none when that entry has no value), as
    /// [`attr`] reads a decoded list.
    fn get(&self, key: &str) -> Option<AnyValue> {
        match self {
            Attrs::Decoded(list) => attr(list, key).cloned(),
            Attrs::Wire(map) => map.entry(key).and_then(|kv| kv.value),
        }
    }
}

/// The attributes and timestamps of the item a context is about.
fn item_of<'c>(ctx: &'c Ctx<'_>) -> (Attrs<'c>, [u64; 2]) {
    let wire = |attrs: &'c dyn WireMap, decoded: &'c Option<Vec<KeyValue>>| match decoded {
        Some(list) => Attrs::Decoded(list),
        None => Attrs::Wire(attrs),
    };
    match &ctx.item {
        Item::Span(s) => (
            Attrs::Decoded(&s.attributes),
            [s.start_time_unix_nano, s.end_time_unix_nano],
        ),
        Item::SpanEvent { event, .. } => {
            (Attrs::Decoded(&event.attributes), [event.time_unix_nano, 0])
        }
        Item::WireSpan {
            span,
            attrs,
            decoded,
            ..
        } => (
            wire(*attrs, decoded),
            [span.start_time_unix_nano, span.end_time_unix_nano],
        ),
        Item::WireLog {
            log,
            attrs,
            decoded,
            ..
        } => (wire(*attrs, decoded), [log.time_unix_nano, 0]),
        Item::Log(l) => (Attrs::Decoded(&l.attributes), [l.time_unix_nano, 0]),
        Item::DataPoint { point, .. } => match point {
            Point::Number(p) => (Attrs::Decoded(&p.attributes), [p.time_unix_nano, 0]),
            Point::Histogram(p) => (Attrs::Decoded(&p.attributes), [p.time_unix_nano, 0]),
            Point::ExpHistogram(p) => (Attrs::Decoded(&p.attributes), [p.time_unix_nano, 0]),
            Point::Summary(p) => (Attrs::Decoded(&p.attributes), [p.time_unix_nano, 0]),
        },
        Item::Metric(_) | Item::WireMetric { .. } | Item::None => (Attrs::Decoded(&[]), [0, 0]),
    }
}

impl<'a> Counter<'a> {
    fn new(defs: &'a [Def]) -> Self {
        Counter {
            defs,
            counts: BTreeMap::new(),
            start: 0,
            end: 0,
        }
    }

    fn timestamp(&mut self, t: u64) {
        if t == 0 {
            return;
        }
        if self.start == 0 {
            (self.start, self.end) = (t, t);
        } else {
            self.start = self.start.min(t);
            self.end = self.end.max(t);
        }
    }

    /// Count one item (Go `counter.update`); an error of a condition is returned.
    fn update(&mut self, ctx: &Ctx<'_>) -> Result<(), String> {
        let (item, times) = item_of(ctx);
        for t in times {
            self.timestamp(t);
        }
        let scope = ctx
            .scope_ref()
            .map(|s| s.attributes.as_slice())
            .unwrap_or(&[]);
        let resource = ctx
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[]);
        for def in self.defs {
            let info = &def.info;
            let mut attrs = Vec::with_capacity(info.attributes.len());
            for a in &info.attributes {
                let value = item
                    .get(&a.key)
                    .or_else(|| {
                        attr(scope, &a.key)
                            .or_else(|| attr(resource, &a.key))
                            .cloned()
                    })
                    .or_else(|| {
                        (!a.default_value.is_null())
                            .then(|| any_value_from_config(&a.default_value))
                    });
                if let Some(v) = value {
                    attrs.push(KeyValue {
                        key: a.key.clone(),
                        value: Some(v),
                        ..Default::default()
                    });
                }
            }
            // an item without every attribute is not counted (Go)
            if attrs.len() != info.attributes.len() {
                continue;
            }
            let mut matched = def.conditions.is_empty();
            for c in &def.conditions {
                if c.eval(ctx)? {
                    matched = true;
                    break;
                }
            }
            if matched {
                self.counts.entry(def.name.as_str()).or_default().add(attrs);
            }
        }
        Ok(())
    }

    /// Count one item that every metric counts whatever it holds (no conditions, no
    /// attributes), with its time: as [`Counter::update`] counts it.
    fn update_plain(&mut self, time: u64) {
        self.timestamp(time);
        for def in self.defs {
            self.counts
                .entry(def.name.as_str())
                .or_default()
                .add(Vec::new());
        }
    }

    fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    fn append_to(self, out: &mut Vec<Metric>, now: u64) {
        let (start, end) = if self.start != 0 {
            (self.start, self.end)
        } else {
            (now, now)
        };
        for (name, counts) in self.counts {
            let description = self
                .defs
                .iter()
                .find(|d| d.name == name)
                .map(|d| d.info.description.clone())
                .unwrap_or_default();
            out.push(Metric {
                name: name.to_string(),
                description,
                data: Some(metric::Data::Sum(Sum {
                    data_points: counts
                        .0
                        .into_iter()
                        .map(|(attributes, n)| NumberDataPoint {
                            attributes,
                            start_time_unix_nano: start,
                            time_unix_nano: end,
                            value: Some(number_data_point::Value::AsInt(n)),
                            ..Default::default()
                        })
                        .collect(),
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                    is_monotonic: true,
                })),
                ..Default::default()
            });
        }
    }
}

/// One `count` instance (per signal it takes).
pub struct Count {
    from: Signal,
    spans: Vec<Def>,
    spanevents: Vec<Def>,
    metrics: Vec<Def>,
    datapoints: Vec<Def>,
    logs: Vec<Def>,
    next: SharedConsumer,
}

/// The resource's metrics of counts, in Go's shape.
fn resource_counts(resource: Option<&Resource>, metrics: Vec<Metric>) -> ResourceMetrics {
    let attributes = resource.map(|r| r.attributes.clone()).unwrap_or_default();
    crate::common::resource_metrics(attributes, SCOPE_NAME, metrics)
}

/// The counters of the resource entry a wire walk is in: its ordinal, its resource, and
/// the counters of its items and of their events.
struct Current<'d> {
    place: usize,
    resource: Option<Resource>,
    items: Counter<'d>,
    events: Counter<'d>,
}

impl<'d> Current<'d> {
    /// Make `current` the counters of resource entry `place` of a walk: those in hand if
    /// they are its, else new ones for its items and their events (the entry before
    /// finished into `out`).
    fn enter(
        current: &mut Option<Self>,
        place: usize,
        resource: &Option<Resource>,
        [items, events]: [&'d [Def]; 2],
        out: &mut Vec<ResourceMetrics>,
        now: u64,
    ) {
        if current.as_ref().is_some_and(|c| c.place == place) {
            return;
        }
        if let Some(c) = current.take() {
            c.finish(out, now);
        }
        *current = Some(Current {
            place,
            resource: resource.clone(),
            items: Counter::new(items),
            events: Counter::new(events),
        });
    }

    /// Its metrics, if anything was counted (as the decoded form's resources give them).
    fn finish(self, out: &mut Vec<ResourceMetrics>, now: u64) {
        if self.items.is_empty() && self.events.is_empty() {
            return;
        }
        let mut metrics = Vec::new();
        self.items.append_to(&mut metrics, now);
        self.events.append_to(&mut metrics, now);
        out.push(resource_counts(self.resource.as_ref(), metrics));
    }
}

impl Count {
    /// A `count` of `from`'s items as `cfg` says, its counts handed to `next`.
    fn new(from: Signal, cfg: &Config, next: SharedConsumer) -> Result<Count, BuildError> {
        Ok(Count {
            from,
            spans: defs("spans", cfg.spans())?,
            spanevents: defs("spanevents", cfg.spanevents())?,
            metrics: defs("metrics", cfg.metrics())?,
            datapoints: defs("datapoints", cfg.datapoints())?,
            logs: defs("logs", cfg.logs())?,
            next,
        })
    }

    /// The counts of one batch, per resource (Go `ConsumeTraces` and its twins): read from
    /// the wire form where the batch is in it ([`Count::counts_wire`]), else decoded.
    pub fn counts_of(&self, batch: Batch, now: u64) -> Result<ExportMetricsServiceRequest, String> {
        let mut wire = batch.clone();
        match self.counts_wire(&mut wire, now) {
            Some(counts) => counts,
            None => self.counts(batch.into_data(), now),
        }
    }

    /// The counts of a trace or logs batch still in its wire form, as [`Count::counts`]
    /// makes them from the decoded form, without decoding it: each span or log record read
    /// where it lies (its attributes looked up by key, conditions run on the wire form as
    /// `filter`'s are), a span's events decoded for their times only when counted. `None`
    /// (nothing read) for a batch not in the wire form, for metrics, and for span-event
    /// metrics with conditions or attributes, which read the events' contexts.
    fn counts_wire(
        &self,
        batch: &mut Batch,
        now: u64,
    ) -> Option<Result<ExportMetricsServiceRequest, String>> {
        let mut out = Vec::new();
        let mut current: Option<Current<'_>> = None;
        let r = match batch.signal() {
            Signal::Traces => {
                let plain = |d: &Def| d.conditions.is_empty() && d.info.attributes.is_empty();
                if !self.spanevents.iter().all(plain) {
                    return None;
                }
                batch.edit_items_wire(Level::Item, &mut |parts: SpanParts<'_, '_>| {
                    let (place, resource) = (parts.place.resource, &*parts.resource);
                    let defs = [&self.spans[..], &self.spanevents];
                    Current::enter(&mut current, place, resource, defs, &mut out, now);
                    let Some(c) = current.as_mut() else {
                        return Ok(());
                    };
                    if let Some(item) = &parts.item {
                        if !self.spanevents.is_empty() {
                            for e in item.list::<span::Event>(11) {
                                c.events.update_plain(e.time_unix_nano);
                            }
                        }
                    }
                    c.items.update(&span_ctx(parts))
                })?
            }
            Signal::Logs => {
                batch.edit_items_wire(Level::Item, &mut |parts: LogParts<'_, '_>| {
                    let (place, resource) = (parts.place.resource, &*parts.resource);
                    let defs = [&self.logs[..], &[]];
                    Current::enter(&mut current, place, resource, defs, &mut out, now);
                    match current.as_mut() {
                        Some(c) => c.items.update(&log_ctx(parts)),
                        None => Ok(()),
                    }
                })?
            }
            Signal::Metrics => return None,
        };
        if let Some(c) = current {
            c.finish(&mut out, now);
        }
        Some(r.map(|()| ExportMetricsServiceRequest {
            resource_metrics: out,
        }))
    }

    /// The counts of one decoded batch, per resource. Each resource is visited alone, so
    /// its counters stay its own.
    pub fn counts(&self, data: BatchData, now: u64) -> Result<ExportMetricsServiceRequest, String> {
        let mut out = Vec::new();
        match data {
            BatchData::Traces(t) => {
                for rs in t.resource_spans {
                    let mut one = ExportTraceServiceRequest {
                        resource_spans: vec![rs],
                    };
                    let mut sc = Counter::new(&self.spans);
                    visit_traces(&mut one, ContextKind::Span, &mut |c| sc.update(c))?;
                    let mut ec = Counter::new(&self.spanevents);
                    visit_traces(&mut one, ContextKind::SpanEvent, &mut |c| ec.update(c))?;
                    if sc.is_empty() && ec.is_empty() {
                        continue;
                    }
                    let mut metrics = Vec::new();
                    sc.append_to(&mut metrics, now);
                    ec.append_to(&mut metrics, now);
                    out.push(resource_counts(
                        one.resource_spans[0].resource.as_ref(),
                        metrics,
                    ));
                }
            }
            BatchData::Metrics(m) => {
                for rm in m.resource_metrics {
                    let mut one = ExportMetricsServiceRequest {
                        resource_metrics: vec![rm],
                    };
                    let mut mc = Counter::new(&self.metrics);
                    visit_metrics(&mut one, ContextKind::Metric, &mut |c| mc.update(c))?;
                    let mut pc = Counter::new(&self.datapoints);
                    visit_metrics(&mut one, ContextKind::DataPoint, &mut |c| pc.update(c))?;
                    if mc.is_empty() && pc.is_empty() {
                        continue;
                    }
                    let mut metrics = Vec::new();
                    mc.append_to(&mut metrics, now);
                    pc.append_to(&mut metrics, now);
                    out.push(resource_counts(
                        one.resource_metrics[0].resource.as_ref(),
                        metrics,
                    ));
                }
            }
            BatchData::Logs(l) => {
                for rl in l.resource_logs {
                    let mut one = ExportLogsServiceRequest {
                        resource_logs: vec![rl],
                    };
                    let mut c = Counter::new(&self.logs);
                    visit_logs(&mut one, ContextKind::Log, &mut |ctx| c.update(ctx))?;
                    if c.is_empty() {
                        continue;
                    }
                    let mut metrics = Vec::new();
                    c.append_to(&mut metrics, now);
                    out.push(resource_counts(
                        one.resource_logs[0].resource.as_ref(),
                        metrics,
                    ));
                }
            }
        }
        Ok(ExportMetricsServiceRequest {
            resource_metrics: out,
        })
    }
}

#[async_trait]
impl Consumer for Count {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        if batch.signal() != self.from {
            return Err(ConsumeError::permanent(format!(
                "count for {} got {}",
                self.from,
                batch.signal()
            )));
        }
        let counts = self
            .counts_of(batch, now_nanos())
            .map_err(ConsumeError::permanent)?;
        if counts.resource_metrics.is_empty() {
            return Ok(());
        }
        self.next.consume(Batch::from_metrics(counts)).await
    }
}

impl Processor for Count {}
