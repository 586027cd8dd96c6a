//! `verbosity: detailed`: the Go collector's OTLP text dump
//! (`exporter/debugexporter/internal/otlptext`: `databuffer.go`, `traces.go`, `logs.go`,
//! `metrics.go`), line for line.

use std::fmt::Write;

use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, Exemplar, ExponentialHistogramDataPoint,
    HistogramDataPoint, Metric, NumberDataPoint, SummaryDataPoint,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::span;

use super::gofmt::{go_f, go_timestamp, hex_id, value_to_string};

/// Go `dataBuffer`.
#[derive(Default)]
struct Buf {
    buf: String,
}

impl Buf {
    /// Go `logEntry`: one line.
    fn line(&mut self, args: std::fmt::Arguments<'_>) {
        let _ = self.buf.write_fmt(args);
        self.buf.push('\n');
    }

    /// Go `logAttr`: `    %-15s: %s`.
    fn attr(&mut self, name: &str, value: &str) {
        self.line(format_args!("    {name:<15}: {value}"));
    }

    /// Go `logAttributes`: a header line, then `     -> key: Type(value)`; nothing when empty.
    /// A header containing `->` shifts the entries by the text before it.
    fn attributes(&mut self, header: &str, attrs: &[KeyValue]) {
        if attrs.is_empty() {
            return;
        }
        self.line(format_args!("{header}:"));
        let prefix = match header.split_once("->") {
            Some((before, _)) => format!("{before}     ->"),
            None => "     ->".to_string(),
        };
        for kv in attrs {
            self.line(format_args!(
                "{prefix} {}: {}",
                kv.key,
                value_to_string(kv.value.as_ref())
            ));
        }
    }

    /// Go `logEntityRefs`.
    fn entity_refs(&mut self, resource: Option<&Resource>) {
        let Some(resource) = resource else { return };
        if resource.entity_refs.is_empty() {
            return;
        }
        self.line(format_args!("Resource entity refs:"));
        for (i, e) in resource.entity_refs.iter().enumerate() {
            self.line(format_args!("     -> Entity ref #{i}:"));
            self.line(format_args!("          -> Type: {}", e.r#type));
            if !e.schema_url.is_empty() {
                self.line(format_args!("          -> Schema URL: {}", e.schema_url));
            }
            if !e.id_keys.is_empty() {
                self.line(format_args!("          -> ID keys:"));
                for k in &e.id_keys {
                    self.line(format_args!("               -> {k}"));
                }
            }
            if !e.description_keys.is_empty() {
                self.line(format_args!("          -> Description keys:"));
                for k in &e.description_keys {
                    self.line(format_args!("               -> {k}"));
                }
            }
        }
    }

    fn resource(&mut self, schema_url: &str, resource: Option<&Resource>) {
        self.line(format_args!("Resource SchemaURL: {schema_url}"));
        self.attributes(
            "Resource attributes",
            resource
                .map(|r| r.attributes.as_slice())
                .unwrap_or_default(),
        );
        self.entity_refs(resource);
    }

    /// Go `logInstrumentationScope`.
    fn scope(&mut self, scope: Option<&InstrumentationScope>) {
        let (name, version, attrs) = match scope {
            Some(s) => (s.name.as_str(), s.version.as_str(), s.attributes.as_slice()),
            None => ("", "", &[][..]),
        };
        self.line(format_args!("InstrumentationScope {name} {version}"));
        self.attributes("InstrumentationScope attributes", attrs);
    }

    fn events(&mut self, events: &[span::Event]) {
        if events.is_empty() {
            return;
        }
        self.line(format_args!("Events:"));
        for (i, e) in events.iter().enumerate() {
            self.line(format_args!("SpanEvent #{i}"));
            self.line(format_args!("     -> Name: {}", e.name));
            self.line(format_args!(
                "     -> Timestamp: {}",
                go_timestamp(e.time_unix_nano)
            ));
            self.line(format_args!(
                "     -> DroppedAttributesCount: {}",
                e.dropped_attributes_count
            ));
            self.attributes("     -> Attributes:", &e.attributes);
        }
    }

    fn links(&mut self, links: &[span::Link]) {
        if links.is_empty() {
            return;
        }
        self.line(format_args!("Links:"));
        for (i, l) in links.iter().enumerate() {
            self.line(format_args!("SpanLink #{i}"));
            self.line(format_args!("     -> Trace ID: {}", hex_id(&l.trace_id)));
            self.line(format_args!("     -> ID: {}", hex_id(&l.span_id)));
            self.line(format_args!("     -> TraceState: {}", l.trace_state));
            self.line(format_args!(
                "     -> DroppedAttributesCount: {}",
                l.dropped_attributes_count
            ));
            self.attributes("     -> Attributes:", &l.attributes);
        }
    }

    fn exemplars(&mut self, exemplars: &[Exemplar]) {
        if exemplars.is_empty() {
            return;
        }
        self.line(format_args!("Exemplars:"));
        for (i, e) in exemplars.iter().enumerate() {
            self.line(format_args!("Exemplar #{i}"));
            self.line(format_args!("     -> Trace ID: {}", hex_id(&e.trace_id)));
            self.line(format_args!("     -> Span ID: {}", hex_id(&e.span_id)));
            self.line(format_args!(
                "     -> Timestamp: {}",
                go_timestamp(e.time_unix_nano)
            ));
            match e.value {
                Some(exemplar::Value::AsInt(v)) => self.line(format_args!("     -> Value: {v}")),
                Some(exemplar::Value::AsDouble(v)) => {
                    self.line(format_args!("     -> Value: {}", go_f(v)))
                }
                None => {}
            }
            self.attributes("     -> FilteredAttributes", &e.filtered_attributes);
        }
    }

    /// Go `logMetricDescriptor` (plus the metadata block of newer Go versions).
    fn metric_descriptor(&mut self, m: &Metric) {
        self.line(format_args!("Descriptor:"));
        self.line(format_args!("     -> Name: {}", m.name));
        self.line(format_args!("     -> Description: {}", m.description));
        self.line(format_args!("     -> Unit: {}", m.unit));
        self.line(format_args!(
            "     -> DataType: {}",
            pipeline_api::metric::type_name(m)
        ));
        self.attributes("     -> Metadata", &m.metadata);
    }

    /// Go `logMetricDataPoints`.
    fn metric_data_points(&mut self, m: &Metric) {
        match &m.data {
            None => {}
            Some(metric::Data::Gauge(g)) => self.number_data_points(&g.data_points),
            Some(metric::Data::Sum(s)) => {
                self.line(format_args!("     -> IsMonotonic: {}", s.is_monotonic));
                self.line(format_args!(
                    "     -> AggregationTemporality: {}",
                    temporality(s.aggregation_temporality)
                ));
                self.number_data_points(&s.data_points);
            }
            Some(metric::Data::Histogram(h)) => {
                self.line(format_args!(
                    "     -> AggregationTemporality: {}",
                    temporality(h.aggregation_temporality)
                ));
                self.histogram_data_points(&h.data_points);
            }
            Some(metric::Data::ExponentialHistogram(h)) => {
                self.line(format_args!(
                    "     -> AggregationTemporality: {}",
                    temporality(h.aggregation_temporality)
                ));
                self.exponential_histogram_data_points(&h.data_points);
            }
            Some(metric::Data::Summary(s)) => self.summary_data_points(&s.data_points),
        }
    }

    fn number_data_points(&mut self, points: &[NumberDataPoint]) {
        for (i, p) in points.iter().enumerate() {
            self.line(format_args!("NumberDataPoints #{i}"));
            self.attributes("Data point attributes", &p.attributes);
            self.line(format_args!(
                "StartTimestamp: {}",
                go_timestamp(p.start_time_unix_nano)
            ));
            self.line(format_args!(
                "Timestamp: {}",
                go_timestamp(p.time_unix_nano)
            ));
            match p.value {
                Some(number_data_point::Value::AsInt(v)) => self.line(format_args!("Value: {v}")),
                Some(number_data_point::Value::AsDouble(v)) => {
                    self.line(format_args!("Value: {}", go_f(v)))
                }
                None => {}
            }
            self.exemplars(&p.exemplars);
        }
    }

    fn histogram_data_points(&mut self, points: &[HistogramDataPoint]) {
        for (i, p) in points.iter().enumerate() {
            self.line(format_args!("HistogramDataPoints #{i}"));
            self.attributes("Data point attributes", &p.attributes);
            self.line(format_args!(
                "StartTimestamp: {}",
                go_timestamp(p.start_time_unix_nano)
            ));
            self.line(format_args!(
                "Timestamp: {}",
                go_timestamp(p.time_unix_nano)
            ));
            self.line(format_args!("Count: {}", p.count));
            if let Some(sum) = p.sum {
                self.line(format_args!("Sum: {}", go_f(sum)));
            }
            if let Some(min) = p.min {
                self.line(format_args!("Min: {}", go_f(min)));
            }
            if let Some(max) = p.max {
                self.line(format_args!("Max: {}", go_f(max)));
            }
            for (j, b) in p.explicit_bounds.iter().enumerate() {
                self.line(format_args!("ExplicitBounds #{j}: {}", go_f(*b)));
            }
            for (j, c) in p.bucket_counts.iter().enumerate() {
                self.line(format_args!("Buckets #{j}, Count: {c}"));
            }
            self.exemplars(&p.exemplars);
        }
    }

    fn exponential_histogram_data_points(&mut self, points: &[ExponentialHistogramDataPoint]) {
        for (i, p) in points.iter().enumerate() {
            self.line(format_args!("ExponentialHistogramDataPoints #{i}"));
            self.attributes("Data point attributes", &p.attributes);
            self.line(format_args!(
                "StartTimestamp: {}",
                go_timestamp(p.start_time_unix_nano)
            ));
            self.line(format_args!(
                "Timestamp: {}",
                go_timestamp(p.time_unix_nano)
            ));
            self.line(format_args!("Count: {}", p.count));
            if let Some(sum) = p.sum {
                self.line(format_args!("Sum: {}", go_f(sum)));
            }
            if let Some(min) = p.min {
                self.line(format_args!("Min: {}", go_f(min)));
            }
            if let Some(max) = p.max {
                self.line(format_args!("Max: {}", go_f(max)));
            }
            // Go: factor := math.Ldexp(math.Ln2, -scale); bounds are exp(index * factor).
            let factor = std::f64::consts::LN_2 * 2f64.powi(-p.scale);
            let (neg_offset, neg) = p
                .negative
                .as_ref()
                .map(|b| (b.offset, b.bucket_counts.as_slice()))
                .unwrap_or((0, &[]));
            let (pos_offset, pos) = p
                .positive
                .as_ref()
                .map(|b| (b.offset, b.bucket_counts.as_slice()))
                .unwrap_or((0, &[]));
            for i in 0..neg.len() {
                let at = neg.len() - i - 1;
                let index = f64::from(neg_offset) + at as f64;
                let lower = (index * factor).exp();
                let upper = ((index + 1.0) * factor).exp();
                self.line(format_args!(
                    "Bucket [{}, {}), Count: {}",
                    go_f(-upper),
                    go_f(-lower),
                    neg[at]
                ));
            }
            if p.zero_count != 0 {
                self.line(format_args!("Bucket [0, 0], Count: {}", p.zero_count));
            }
            for (at, count) in pos.iter().enumerate() {
                let index = f64::from(pos_offset) + at as f64;
                let lower = (index * factor).exp();
                let upper = ((index + 1.0) * factor).exp();
                self.line(format_args!(
                    "Bucket ({}, {}], Count: {count}",
                    go_f(lower),
                    go_f(upper)
                ));
            }
            self.exemplars(&p.exemplars);
        }
    }

    fn summary_data_points(&mut self, points: &[SummaryDataPoint]) {
        for (i, p) in points.iter().enumerate() {
            self.line(format_args!("SummaryDataPoints #{i}"));
            self.attributes("Data point attributes", &p.attributes);
            self.line(format_args!(
                "StartTimestamp: {}",
                go_timestamp(p.start_time_unix_nano)
            ));
            self.line(format_args!(
                "Timestamp: {}",
                go_timestamp(p.time_unix_nano)
            ));
            self.line(format_args!("Count: {}", p.count));
            self.line(format_args!("Sum: {}", go_f(p.sum)));
            for (j, q) in p.quantile_values.iter().enumerate() {
                self.line(format_args!(
                    "QuantileValue #{j}: Quantile {}, Value {}",
                    go_f(q.quantile),
                    go_f(q.value)
                ));
            }
        }
    }
}

/// pmetric `AggregationTemporality.String()`.
fn temporality(t: i32) -> &'static str {
    match t {
        0 => "Unspecified",
        1 => "Delta",
        2 => "Cumulative",
        _ => "",
    }
}

/// ptrace `SpanKind.String()`.
fn span_kind(k: i32) -> &'static str {
    match k {
        0 => "Unspecified",
        1 => "Internal",
        2 => "Server",
        3 => "Client",
        4 => "Producer",
        5 => "Consumer",
        _ => "",
    }
}

/// ptrace `StatusCode.String()`.
fn status_code(c: i32) -> &'static str {
    match c {
        0 => "Unset",
        1 => "Ok",
        2 => "Error",
        _ => "",
    }
}

/// plog `SeverityNumber.String()`.
pub fn severity_number(n: i32) -> &'static str {
    const NAMES: [&str; 25] = [
        "Unspecified",
        "Trace",
        "Trace2",
        "Trace3",
        "Trace4",
        "Debug",
        "Debug2",
        "Debug3",
        "Debug4",
        "Info",
        "Info2",
        "Info3",
        "Info4",
        "Warn",
        "Warn2",
        "Warn3",
        "Warn4",
        "Error",
        "Error2",
        "Error3",
        "Error4",
        "Fatal",
        "Fatal2",
        "Fatal3",
        "Fatal4",
    ];
    usize::try_from(n)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("")
}

/// Go `textTracesMarshaler.MarshalTraces`.
pub fn traces(req: &ExportTraceServiceRequest) -> String {
    let mut b = Buf::default();
    for (i, rs) in req.resource_spans.iter().enumerate() {
        b.line(format_args!("ResourceSpans #{i}"));
        b.resource(&rs.schema_url, rs.resource.as_ref());
        for (j, ss) in rs.scope_spans.iter().enumerate() {
            b.line(format_args!("ScopeSpans #{j}"));
            b.line(format_args!("ScopeSpans SchemaURL: {}", ss.schema_url));
            b.scope(ss.scope.as_ref());
            for (k, s) in ss.spans.iter().enumerate() {
                b.line(format_args!("Span #{k}"));
                b.attr("Trace ID", &hex_id(&s.trace_id));
                b.attr("Parent ID", &hex_id(&s.parent_span_id));
                b.attr("ID", &hex_id(&s.span_id));
                b.attr("Name", &s.name);
                b.attr("Kind", span_kind(s.kind));
                if !s.trace_state.is_empty() {
                    b.attr("TraceState", &s.trace_state);
                }
                b.attr("Start time", &go_timestamp(s.start_time_unix_nano));
                b.attr("End time", &go_timestamp(s.end_time_unix_nano));
                let (code, message) = match &s.status {
                    Some(st) => (st.code, st.message.as_str()),
                    None => (0, ""),
                };
                b.attr("Status code", status_code(code));
                b.attr("Status message", message);
                b.attr(
                    "DroppedAttributesCount",
                    &s.dropped_attributes_count.to_string(),
                );
                b.attr("DroppedEventsCount", &s.dropped_events_count.to_string());
                b.attr("DroppedLinksCount", &s.dropped_links_count.to_string());
                b.attributes("Attributes", &s.attributes);
                b.events(&s.events);
                b.links(&s.links);
            }
        }
    }
    b.buf
}

/// Go `textLogsMarshaler.MarshalLogs`.
pub fn logs(req: &ExportLogsServiceRequest) -> String {
    let mut b = Buf::default();
    for (i, rl) in req.resource_logs.iter().enumerate() {
        b.line(format_args!("ResourceLog #{i}"));
        b.resource(&rl.schema_url, rl.resource.as_ref());
        for (j, sl) in rl.scope_logs.iter().enumerate() {
            b.line(format_args!("ScopeLogs #{j}"));
            b.line(format_args!("ScopeLogs SchemaURL: {}", sl.schema_url));
            b.scope(sl.scope.as_ref());
            for (k, lr) in sl.log_records.iter().enumerate() {
                b.line(format_args!("LogRecord #{k}"));
                b.line(format_args!(
                    "ObservedTimestamp: {}",
                    go_timestamp(lr.observed_time_unix_nano)
                ));
                b.line(format_args!(
                    "Timestamp: {}",
                    go_timestamp(lr.time_unix_nano)
                ));
                b.line(format_args!("SeverityText: {}", lr.severity_text));
                b.line(format_args!(
                    "SeverityNumber: {}({})",
                    severity_number(lr.severity_number),
                    lr.severity_number
                ));
                if !lr.event_name.is_empty() {
                    b.line(format_args!("EventName: {}", lr.event_name));
                }
                b.line(format_args!("Body: {}", value_to_string(lr.body.as_ref())));
                b.attributes("Attributes", &lr.attributes);
                b.line(format_args!("Trace ID: {}", hex_id(&lr.trace_id)));
                b.line(format_args!("Span ID: {}", hex_id(&lr.span_id)));
                b.line(format_args!("Flags: {}", lr.flags));
            }
        }
    }
    b.buf
}

/// Go `textMetricsMarshaler.MarshalMetrics`.
pub fn metrics(req: &ExportMetricsServiceRequest) -> String {
    let mut b = Buf::default();
    for (i, rm) in req.resource_metrics.iter().enumerate() {
        b.line(format_args!("ResourceMetrics #{i}"));
        b.resource(&rm.schema_url, rm.resource.as_ref());
        for (j, sm) in rm.scope_metrics.iter().enumerate() {
            b.line(format_args!("ScopeMetrics #{j}"));
            b.line(format_args!("ScopeMetrics SchemaURL: {}", sm.schema_url));
            b.scope(sm.scope.as_ref());
            for (k, m) in sm.metrics.iter().enumerate() {
                b.line(format_args!("Metric #{k}"));
                b.metric_descriptor(m);
                b.metric_data_points(m);
            }
        }
    }
    b.buf
}
