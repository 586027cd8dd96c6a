//! OTTL contexts (Go `pkg/ottl/contexts/*`): what one evaluation sees — a resource, its
//! scope and one item (span, span event, log record, metric or data point) — and the paths
//! each context exposes, with Go's names and types.

use std::fmt;

use pipeline_api::attrs::key_eq;
use pipeline_api::proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::logs::v1::LogRecord;
use pipeline_api::proto::tonic::metrics::v1::{
    metric, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint,
    SummaryDataPoint,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{span, Span};
use pipeline_api::wire_items::WireMap;

/// The OTTL contexts, named as Go names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContextKind {
    Resource,
    Scope,
    Span,
    SpanEvent,
    Metric,
    DataPoint,
    Log,
}

impl ContextKind {
    pub fn name(self) -> &'static str {
        match self {
            ContextKind::Resource => "resource",
            ContextKind::Scope => "scope",
            ContextKind::Span => "span",
            ContextKind::SpanEvent => "spanevent",
            ContextKind::Metric => "metric",
            ContextKind::DataPoint => "datapoint",
            ContextKind::Log => "log",
        }
    }

    /// A context name as written in a config or a path (`instrumentation_scope` is Go's
    /// alias of `scope`). `profile` is refused by the caller with its own message.
    pub fn from_name(s: &str) -> Option<ContextKind> {
        Some(match s {
            "resource" => ContextKind::Resource,
            "scope" | "instrumentation_scope" => ContextKind::Scope,
            "span" => ContextKind::Span,
            "spanevent" => ContextKind::SpanEvent,
            "metric" => ContextKind::Metric,
            "datapoint" => ContextKind::DataPoint,
            "log" => ContextKind::Log,
            _ => return None,
        })
    }

    /// The contexts whose paths a statement of this context may use.
    pub fn can_read(self, other: ContextKind) -> bool {
        use ContextKind::*;
        match self {
            Resource => other == Resource,
            Scope => matches!(other, Resource | Scope),
            Span => matches!(other, Resource | Scope | Span),
            SpanEvent => matches!(other, Resource | Scope | Span | SpanEvent),
            Metric => matches!(other, Resource | Scope | Metric),
            DataPoint => matches!(other, Resource | Scope | Metric | DataPoint),
            Log => matches!(other, Resource | Scope | Log),
        }
    }

    /// Go's inference priority: the most specific context used wins.
    pub fn priority(self) -> u8 {
        use ContextKind::*;
        match self {
            Log | DataPoint | SpanEvent => 0,
            Metric | Span => 1,
            Scope => 2,
            Resource => 3,
        }
    }
}

impl fmt::Display for ContextKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The per-metric facts a data point's context reads while the points are borrowed.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricHeader {
    pub metric_type: i64,
    pub temporality: i64,
    pub monotonic: bool,
}

impl MetricHeader {
    pub fn of(data: Option<&metric::Data>) -> MetricHeader {
        match data {
            None => MetricHeader::default(),
            Some(metric::Data::Gauge(_)) => MetricHeader {
                metric_type: 1,
                ..Default::default()
            },
            Some(metric::Data::Sum(s)) => MetricHeader {
                metric_type: 2,
                temporality: i64::from(s.aggregation_temporality),
                monotonic: s.is_monotonic,
            },
            Some(metric::Data::Histogram(h)) => MetricHeader {
                metric_type: 3,
                temporality: i64::from(h.aggregation_temporality),
                monotonic: false,
            },
            Some(metric::Data::ExponentialHistogram(h)) => MetricHeader {
                metric_type: 4,
                temporality: i64::from(h.aggregation_temporality),
                monotonic: false,
            },
            Some(metric::Data::Summary(_)) => MetricHeader {
                metric_type: 5,
                ..Default::default()
            },
        }
    }
}

/// One data point of any metric type.
pub enum Point<'a> {
    Number(&'a mut NumberDataPoint),
    Histogram(&'a mut HistogramDataPoint),
    ExpHistogram(&'a mut ExponentialHistogramDataPoint),
    Summary(&'a mut SummaryDataPoint),
}

/// A summary point's neighbours in its metric, before and after it.
pub type Siblings<'a> = (&'a [SummaryDataPoint], &'a [SummaryDataPoint]);

/// The item a context is about.
pub enum Item<'a> {
    /// Resource and scope contexts.
    None,
    Span(&'a mut Span),
    /// A span in the wire form: its fields but attributes, events and links decoded into
    /// `span`, its attributes in `attrs` until an operation needs the list itself, which
    /// then is `decoded`; `changed` is set when a write reaches `span`.
    WireSpan {
        span: &'a mut Span,
        attrs: &'a (dyn WireMap + 'a),
        decoded: &'a mut Option<Vec<KeyValue>>,
        changed: &'a mut bool,
    },
    /// The event is taken out of its span while it is evaluated.
    SpanEvent {
        span: &'a mut Span,
        event: &'a mut span::Event,
        index: i64,
    },
    Log(&'a mut LogRecord),
    /// A log record in the wire form, as [`Item::WireSpan`]: its body is decoded with its
    /// other fields.
    WireLog {
        log: &'a mut LogRecord,
        attrs: &'a (dyn WireMap + 'a),
        decoded: &'a mut Option<Vec<KeyValue>>,
        changed: &'a mut bool,
    },
    Metric(&'a mut Metric),
    /// A metric in the wire form, as [`Item::WireSpan`]: its name, description and unit
    /// decoded into `metric`, its data only as far as its kind and header (no data points),
    /// its metadata in `attrs`. Statements that read or change data points never see it
    /// ([`crate::Statement::reads_metric_data`]).
    WireMetric {
        metric: &'a mut Metric,
        attrs: &'a (dyn WireMap + 'a),
        decoded: &'a mut Option<Vec<KeyValue>>,
        changed: &'a mut bool,
    },
    /// The metric's data is taken out of it while its points are evaluated.
    DataPoint {
        metric: &'a mut Metric,
        header: MetricHeader,
        point: Point<'a>,
        /// For a summary point, the metric's other points (before it, after it): what the
        /// summary converters read. Empty for the other metric types.
        siblings: Siblings<'a>,
        /// A point in the wire form: its fields but its lists are in `point`, its
        /// attributes here. The metric is then read only: statements that change it, or
        /// read the metric's data, never see such a point
        /// ([`crate::Statement::reads_metric_data`]).
        wire: Option<WirePoint<'a>>,
    },
}

/// A data point's attributes in the wire form, as [`Item::WireSpan`]'s.
pub struct WirePoint<'a> {
    pub attrs: &'a (dyn WireMap + 'a),
    pub decoded: &'a mut Option<Vec<KeyValue>>,
    /// Set when a write reaches the point's fields.
    pub changed: &'a mut bool,
}

/// What one evaluation of a statement or condition sees.
pub struct Ctx<'a> {
    pub resource: &'a mut Option<Resource>,
    pub resource_schema_url: &'a mut String,
    pub scope: Option<&'a mut Option<InstrumentationScope>>,
    pub scope_schema_url: Option<&'a mut String>,
    pub item: Item<'a>,
    /// Go's `cache`: a map that lives for one item's evaluation.
    pub cache: Vec<KeyValue>,
    /// Metrics a statement appends to the scope's metric list (`copy_metric`,
    /// `extract_sum_metric`...): the visitor moves them there after the item.
    pub added_metrics: Vec<Metric>,
}

impl<'a> Ctx<'a> {
    pub fn new(resource: &'a mut Option<Resource>, resource_schema_url: &'a mut String) -> Ctx<'a> {
        Ctx {
            resource,
            resource_schema_url,
            scope: None,
            scope_schema_url: None,
            item: Item::None,
            cache: Vec::new(),
            added_metrics: Vec::new(),
        }
    }

    pub fn with_scope(
        mut self,
        scope: &'a mut Option<InstrumentationScope>,
        schema_url: &'a mut String,
    ) -> Ctx<'a> {
        self.scope = Some(scope);
        self.scope_schema_url = Some(schema_url);
        self
    }

    pub fn with_item(mut self, item: Item<'a>) -> Ctx<'a> {
        self.item = item;
        self
    }

    pub fn span(&self) -> Option<&Span> {
        match &self.item {
            Item::Span(s) => Some(s),
            Item::WireSpan { span, .. } => Some(span),
            Item::SpanEvent { span, .. } => Some(span),
            _ => None,
        }
    }

    pub fn span_mut(&mut self) -> Option<&mut Span> {
        match &mut self.item {
            Item::Span(s) => Some(s),
            Item::WireSpan { span, changed, .. } => {
                **changed = true;
                Some(span)
            }
            Item::SpanEvent { span, .. } => Some(span),
            _ => None,
        }
    }

    pub fn log(&self) -> Option<&LogRecord> {
        match &self.item {
            Item::Log(l) => Some(l),
            Item::WireLog { log, .. } => Some(log),
            _ => None,
        }
    }

    pub fn log_mut(&mut self) -> Option<&mut LogRecord> {
        match &mut self.item {
            Item::Log(l) => Some(l),
            Item::WireLog { log, changed, .. } => {
                **changed = true;
                Some(log)
            }
            _ => None,
        }
    }

    pub fn metric(&self) -> Option<&Metric> {
        match &self.item {
            Item::Metric(m) => Some(m),
            Item::WireMetric { metric, .. } => Some(metric),
            Item::DataPoint { metric, .. } => Some(metric),
            _ => None,
        }
    }

    pub fn metric_mut(&mut self) -> Option<&mut Metric> {
        match &mut self.item {
            Item::Metric(m) => Some(m),
            Item::WireMetric {
                metric, changed, ..
            } => {
                **changed = true;
                Some(metric)
            }
            // a point in the wire form is written without its metric
            Item::DataPoint {
                metric, wire: None, ..
            } => Some(metric),
            _ => None,
        }
    }

    pub fn scope_ref(&self) -> Option<&InstrumentationScope> {
        self.scope.as_ref().and_then(|s| s.as_ref())
    }

    pub fn scope_mut(&mut self) -> Option<&mut InstrumentationScope> {
        self.scope
            .as_mut()
            .map(|s| s.get_or_insert_with(Default::default))
    }

    pub fn resource_mut(&mut self) -> &mut Resource {
        self.resource.get_or_insert_with(Default::default)
    }
}

/// Look up a key of an attribute map.
pub fn map_get<'m>(m: &'m [KeyValue], key: &str) -> Option<&'m AnyValue> {
    m.iter()
        .find(|kv| key_eq(kv.key.as_bytes(), key.as_bytes()))
        .map(|kv| kv.value.as_ref().unwrap_or(&EMPTY))
}

pub(crate) static EMPTY: AnyValue = AnyValue { value: None };

/// The value slot of a key, inserted (empty) when missing.
pub fn map_slot<'m>(m: &'m mut Vec<KeyValue>, key: &str) -> &'m mut AnyValue {
    let i = match m
        .iter()
        .position(|kv| key_eq(kv.key.as_bytes(), key.as_bytes()))
    {
        Some(i) => i,
        None => {
            m.push(KeyValue {
                key: key.to_string(),
                value: Some(AnyValue::default()),
                ..Default::default()
            });
            m.len() - 1
        }
    };
    m[i].value.get_or_insert_with(Default::default)
}
