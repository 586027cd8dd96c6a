//! Ferrotel's own metrics: one registry per process, and a handle per component with the
//! component's label already bound. Names and labels are the Go collector's, without
//! `_total` or unit suffixes, so existing dashboards keep working.

use std::collections::HashMap;
use std::sync::Arc;

use lock::Mutex;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

use crate::error::ConsumeError;
use crate::ids::{ComponentId, ComponentKind, Signal};
use crate::own_spans::{in_span, SpanHub, Tracer};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

mod lock {
    /// std's mutex, poison-tolerant.
    pub struct Mutex<T>(std::sync::Mutex<T>);
    impl<T> Mutex<T> {
        pub fn new(v: T) -> Self {
            Mutex(std::sync::Mutex::new(v))
        }
        pub fn lock(&self) -> std::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(|p| p.into_inner())
        }
    }
}

/// `service.telemetry.metrics.level`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    serde::Deserialize,
    serde::Serialize,
)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum MetricsLevel {
    None,
    Basic,
    #[default]
    Normal,
    Detailed,
}

impl TryFrom<String> for MetricsLevel {
    type Error = String;

    /// Go `configtelemetry.Level.UnmarshalText`: case-insensitive.
    fn try_from(text: String) -> Result<Self, String> {
        Ok(match text.to_ascii_lowercase().as_str() {
            "none" => MetricsLevel::None,
            "basic" => MetricsLevel::Basic,
            "normal" => MetricsLevel::Normal,
            "detailed" => MetricsLevel::Detailed,
            _ => return Err(format!("unknown metrics level {text:?}")),
        })
    }
}

enum Family {
    Counter(IntCounterVec),
    Gauge(IntGaugeVec),
    Histogram(HistogramVec),
}

/// Counter families whose series carry other label names than the family's first user's
/// (Go's exporters add `server_address`, `server_port`, `url_path` to their counters when
/// they have an endpoint, so `otelcol_exporter_sent_spans` has series with and without
/// them). The registry refuses a second collector of a name with other label names, so
/// these are served by one collector that declares no descriptor; the registry merges what
/// it collects into the family of the same name.
struct Variants(Arc<VariantMap>);

/// Counter families of a known name with other label names, by name and label names.
type VariantMap = Mutex<HashMap<(String, Vec<String>), IntCounterVec>>;

impl Collector for Variants {
    fn desc(&self) -> Vec<&Desc> {
        Vec::new()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.0.lock().values().flat_map(|v| v.collect()).collect()
    }
}

/// The process-wide metrics registry.
pub struct Telemetry {
    registry: Registry,
    level: MetricsLevel,
    /// By name: the family and its label names.
    families: Mutex<HashMap<String, (Family, Vec<String>)>>,
    /// Served by the registry's [`Variants`] collector.
    variants: Arc<VariantMap>,
    /// The own spans' switch and sink (`service.telemetry.traces`).
    spans: Arc<SpanHub>,
}

impl Telemetry {
    pub fn new(level: MetricsLevel) -> Arc<Telemetry> {
        let registry = Registry::new();
        let variants = Arc::new(Mutex::new(HashMap::new()));
        // the one collector without descriptors a registry can hold
        let _ = registry.register(Box::new(Variants(variants.clone())));
        Arc::new(Telemetry {
            registry,
            level,
            families: Mutex::new(HashMap::new()),
            variants,
            spans: Arc::default(),
        })
    }

    /// Where the process's own spans go; off until the runtime sets a sink.
    pub fn spans(&self) -> &Arc<SpanHub> {
        &self.spans
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn level(&self) -> MetricsLevel {
        self.level
    }

    /// The counter family `name` with these label names, created on first use. Series of
    /// one name may have different label names (see [`Variants`]); they are served
    /// together.
    pub fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        let names: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        let mut families = self.families.lock();
        match families.get(name) {
            Some((Family::Counter(v), l)) if *l == names => return v.clone(),
            Some((Family::Counter(_), _)) => {
                let mut variants = self.variants.lock();
                let key = (name.to_string(), names);
                if let Some(v) = variants.get(&key) {
                    return v.clone();
                }
                let v =
                    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric name");
                variants.insert(key, v.clone());
                return v;
            }
            _ => {}
        }
        let v = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric name");
        if self.registry.register(Box::new(v.clone())).is_ok() {
            families.insert(name.to_string(), (Family::Counter(v.clone()), names));
        }
        v
    }

    pub fn gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        let mut families = self.families.lock();
        if let Some((Family::Gauge(v), _)) = families.get(name) {
            return v.clone();
        }
        let v = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric name");
        if self.registry.register(Box::new(v.clone())).is_ok() {
            let names = labels.iter().map(|l| l.to_string()).collect();
            families.insert(name.to_string(), (Family::Gauge(v.clone()), names));
        }
        v
    }

    pub fn histogram_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: Vec<f64>,
    ) -> HistogramVec {
        let mut families = self.families.lock();
        if let Some((Family::Histogram(v), _)) = families.get(name) {
            return v.clone();
        }
        let v = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
            .expect("valid metric name");
        if self.registry.register(Box::new(v.clone())).is_ok() {
            let names = labels.iter().map(|l| l.to_string()).collect();
            families.insert(name.to_string(), (Family::Histogram(v.clone()), names));
        }
        v
    }

    /// A handle for one component.
    pub fn component(
        self: &Arc<Self>,
        kind: ComponentKind,
        id: &ComponentId,
    ) -> ComponentTelemetry {
        ComponentTelemetry {
            telemetry: self.clone(),
            kind,
            id: id.clone(),
            label: id.to_string(),
            signal: None,
        }
    }
}

/// A component's metrics handle: every metric it makes carries the label
/// `receiver|processor|exporter|extension = <id>`.
#[derive(Clone)]
pub struct ComponentTelemetry {
    telemetry: Arc<Telemetry>,
    kind: ComponentKind,
    id: ComponentId,
    label: String,
    /// The one signal of a component built for one (Go's `otelcol.signal` scope attribute).
    signal: Option<Signal>,
}

impl ComponentTelemetry {
    /// A handle on a registry of its own (tests, tools).
    pub fn detached(kind: ComponentKind, id: &ComponentId) -> ComponentTelemetry {
        Telemetry::new(MetricsLevel::Normal).component(kind, id)
    }

    pub fn id(&self) -> &ComponentId {
        &self.id
    }

    /// The same handle for a component built for one signal: its tracers' scopes carry
    /// `otelcol.signal`, as Go's do for every component that is not shared between signals.
    pub fn with_signal(mut self, signal: Signal) -> ComponentTelemetry {
        self.signal = Some(signal);
        self
    }

    pub fn kind(&self) -> ComponentKind {
        self.kind
    }

    pub fn level(&self) -> MetricsLevel {
        self.telemetry.level
    }

    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    fn labels<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> (Vec<&'a str>, Vec<&'a str>) {
        let mut names = vec![self.kind.as_str()];
        let mut values = vec![self.label.as_str()];
        for (k, v) in extra {
            names.push(k);
            values.push(v);
        }
        (names, values)
    }

    pub fn counter(&self, name: &str, help: &str, extra: &[(&str, &str)]) -> IntCounter {
        let (names, values) = self.labels(extra);
        self.telemetry
            .counter_vec(name, help, &names)
            .with_label_values(&values)
    }

    pub fn gauge(&self, name: &str, help: &str, extra: &[(&str, &str)]) -> IntGauge {
        let (names, values) = self.labels(extra);
        self.telemetry
            .gauge_vec(name, help, &names)
            .with_label_values(&values)
    }

    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        buckets: Vec<f64>,
        extra: &[(&str, &str)],
    ) -> Histogram {
        let (names, values) = self.labels(extra);
        self.telemetry
            .histogram_vec(name, help, &names, buckets)
            .with_label_values(&values)
    }

    /// A tracer for this component's own spans: scope `scope_name` carrying the component's
    /// id and kind (and its signal, see [`ComponentTelemetry::with_signal`]), as Go's
    /// component tracers do.
    pub fn tracer(&self, scope_name: &str) -> Tracer {
        let mut attributes = vec![
            crate::own_spans::kv_str("otelcol.component.id", self.label.clone()),
            crate::own_spans::kv_str("otelcol.component.kind", self.kind.as_str()),
        ];
        if let Some(signal) = self.signal {
            attributes.push(crate::own_spans::kv_str("otelcol.signal", signal.as_str()));
        }
        Tracer::new(
            self.telemetry.spans.clone(),
            InstrumentationScope {
                name: scope_name.to_string(),
                attributes,
                ..Default::default()
            },
        )
    }

    /// Counters of what a receiver accepted and refused on one transport.
    pub fn receiver_obs(&self, transport: &str) -> ReceiverObs {
        let make = |what: &str, signal: Signal, help: &str| {
            self.counter(
                &format!("otelcol_receiver_{what}_{}", signal.item_name()),
                help,
                &[("transport", transport)],
            )
        };
        let per_signal = |what: &str, help: &str| {
            [
                make(what, Signal::Traces, help),
                make(what, Signal::Metrics, help),
                make(what, Signal::Logs, help),
            ]
        };
        ReceiverObs {
            tracer: self.tracer(self.id.type_name()),
            span_prefix: format!("receiver/{}/", self.label),
            transport: transport.to_string(),
            accepted: per_signal("accepted", "Number of items successfully pushed into the pipeline."),
            refused: per_signal("refused", "Number of items that could not be pushed into the pipeline."),
            failed: per_signal("failed", "Number of items that failed to be processed by the receiver due to internal errors."),
        }
    }
}

fn signal_index(s: Signal) -> usize {
    match s {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
    }
}

/// `otelcol_receiver_{accepted,refused,failed}_*` for one receiver and transport.
#[derive(Clone)]
pub struct ReceiverObs {
    tracer: Tracer,
    /// `receiver/<id>/`
    span_prefix: String,
    transport: String,
    accepted: [IntCounter; 3],
    refused: [IntCounter; 3],
    failed: [IntCounter; 3],
}

impl ReceiverObs {
    /// Count the outcome of one `consume` of `items` items.
    pub fn record(&self, signal: Signal, items: usize, result: &Result<(), ConsumeError>) {
        let i = signal_index(signal);
        match result {
            Ok(()) => self.accepted[i].inc_by(items as u64),
            Err(_) => self.refused[i].inc_by(items as u64),
        }
    }

    /// Run one `consume` of `items` items as Go's receiverhelper does: inside the span
    /// `receiver/<id>/{TraceDataReceived,MetricsReceived,LogsReceived}` (a child of the
    /// task's current span, the request's), counted when it returns. `format` is the span's
    /// `format` attribute.
    pub async fn observe<F>(
        &self,
        signal: Signal,
        items: usize,
        format: &str,
        consume: F,
    ) -> Result<(), ConsumeError>
    where
        F: std::future::Future<Output = Result<(), ConsumeError>>,
    {
        let op = match signal {
            Signal::Traces => "TraceDataReceived",
            Signal::Metrics => "MetricsReceived",
            Signal::Logs => "LogsReceived",
        };
        // nothing is built (not even the name) while tracing is off
        let span = if self.tracer.hub().enabled() {
            self.tracer
                .start_in_current(&format!("{}{op}", self.span_prefix), SpanKind::Internal)
        } else {
            None
        };
        let result = in_span(span.as_ref().map(|s| s.current()), consume).await;
        self.record(signal, items, &result);
        if let Some(mut span) = span {
            if !self.transport.is_empty() {
                span.set_str("transport", self.transport.clone());
            }
            let (accepted, refused) = match &result {
                Ok(()) => (items as i64, 0),
                Err(_) => (0, items as i64),
            };
            let item = signal.item_name();
            span.set_str("format", format);
            span.set_int(&format!("accepted_{item}"), accepted);
            span.set_int(&format!("refused_{item}"), refused);
            span.set_int(&format!("failed_{item}"), 0);
            if let Err(e) = &result {
                span.error(e.to_string());
            }
            span.end();
        }
        result
    }

    /// Items the receiver itself failed to process (not a downstream refusal).
    pub fn record_failed(&self, signal: Signal, items: usize) {
        self.failed[signal_index(signal)].inc_by(items as u64);
    }
}

/// A message that would repeat under load (refusals, drops), logged at most once per
/// `period` with how many events and items happened since the last line; every event is
/// still counted by the caller's metrics.
pub struct LogEvery {
    period: std::time::Duration,
    /// (last line, events since, items since)
    state: std::sync::Mutex<(Option<std::time::Instant>, u64, u64)>,
}

impl LogEvery {
    pub fn new(period: std::time::Duration) -> LogEvery {
        LogEvery {
            period,
            state: std::sync::Mutex::new((None, 0, 0)),
        }
    }

    /// Note one event of `items` items; `Some((events, items))` since the last line when a
    /// line is due now (the first event is always due).
    pub fn due(&self, items: u64) -> Option<(u64, u64)> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.1 += 1;
        s.2 += items;
        let now = std::time::Instant::now();
        match s.0 {
            Some(t) if now.duration_since(t) < self.period => None,
            _ => {
                let out = (s.1, s.2);
                *s = (Some(now), 0, 0);
                Some(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{Encoder, TextEncoder};

    /// Go's exporters with an endpoint label their counters with it, the others do not: one
    /// family, series with different label names, all served.
    #[test]
    fn one_family_serves_series_with_different_label_names() {
        let t = Telemetry::new(MetricsLevel::Normal);
        let debug = t.component(
            ComponentKind::Exporter,
            &ComponentId::parse("debug").unwrap(),
        );
        let otlp = t.component(
            ComponentKind::Exporter,
            &ComponentId::parse("otlp").unwrap(),
        );
        let name = "otelcol_exporter_sent_spans";
        debug.counter(name, "sent", &[]).inc_by(2);
        otlp.counter(
            name,
            "sent",
            &[("server_address", "tempo"), ("server_port", "4317")],
        )
        .inc_by(5);
        // the same labels again are the same series
        otlp.counter(
            name,
            "sent",
            &[("server_address", "tempo"), ("server_port", "4317")],
        )
        .inc();
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&t.registry().gather(), &mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("otelcol_exporter_sent_spans{exporter=\"debug\"} 2"),
            "{text}"
        );
        assert!(
            text.contains(
                "otelcol_exporter_sent_spans{exporter=\"otlp\",server_address=\"tempo\",server_port=\"4317\"} 6"
            ),
            "{text}"
        );
        assert_eq!(
            text.matches("# TYPE otelcol_exporter_sent_spans").count(),
            1,
            "{text}"
        );
    }
}
