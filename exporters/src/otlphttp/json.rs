//! OTLP/JSON encoding of export requests (the protobuf JSON mapping with OTLP's exceptions),
//! written by hand because `opentelemetry-proto`'s serde output is not OTLP/JSON where it
//! matters: non-finite doubles in attributes, exemplars, histogram bounds, sums, minima and
//! maxima become `null` (the value is lost), and absent messages are written as `null`.
//!
//! What is written (the OTLP specification's "JSON Protobuf Encoding", as Go's `pdata`
//! `MarshalJSON` writes it):
//! - keys in lowerCamelCase; fields holding their default value are left out, except the
//!   members of a `oneof` (`intValue: "0"`, `boolValue: false`, `asDouble: 0`) and the
//!   `optional` fields (`sum`, `min`, `max`) when present;
//! - trace and span ids as lowercase hex (not base64);
//! - enums as integers; 64-bit integers as decimal strings; 32-bit integers as numbers;
//! - doubles as numbers, or `"NaN"`, `"Infinity"`, `"-Infinity"`;
//! - other bytes (`bytesValue`) as standard base64.

use std::fmt::Write;

use base64::Engine;
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{
    any_value, AnyValue, EntityRef, InstrumentationScope, KeyValue,
};
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point, metric, number_data_point, Exemplar,
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, SummaryDataPoint,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use pipeline_api::BatchData;

/// The OTLP/JSON body of an export request.
pub fn encode(data: &BatchData) -> Vec<u8> {
    let mut out = String::with_capacity(1024);
    match data {
        BatchData::Traces(r) => traces(&mut out, r),
        BatchData::Metrics(r) => metrics(&mut out, r),
        BatchData::Logs(r) => logs(&mut out, r),
    }
    out.into_bytes()
}

/// One JSON object being written: tracks the commas.
struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut String) -> Obj<'a> {
        out.push('{');
        Obj { out, first: true }
    }

    fn key(&mut self, name: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
        self.out
    }

    fn str(&mut self, name: &str, v: &str) {
        if !v.is_empty() {
            let out = self.key(name);
            string(out, v);
        }
    }

    fn u32(&mut self, name: &str, v: u32) {
        if v != 0 {
            let out = self.key(name);
            let _ = write!(out, "{v}");
        }
    }

    fn i32(&mut self, name: &str, v: i32) {
        if v != 0 {
            let out = self.key(name);
            let _ = write!(out, "{v}");
        }
    }

    fn u64(&mut self, name: &str, v: u64) {
        if v != 0 {
            let out = self.key(name);
            let _ = write!(out, "\"{v}\"");
        }
    }

    fn bool(&mut self, name: &str, v: bool) {
        if v {
            self.key(name).push_str("true");
        }
    }

    /// A plain (non-optional) double: left out at 0.
    fn f64(&mut self, name: &str, v: f64) {
        if v.to_bits() != 0 {
            let out = self.key(name);
            double(out, v);
        }
    }

    /// An `optional` double: written when present.
    fn opt_f64(&mut self, name: &str, v: Option<f64>) {
        if let Some(v) = v {
            let out = self.key(name);
            double(out, v);
        }
    }

    fn hex(&mut self, name: &str, v: &[u8]) {
        if !v.is_empty() {
            let out = self.key(name);
            out.push('"');
            for b in v {
                let _ = write!(out, "{b:02x}");
            }
            out.push('"');
        }
    }

    fn list<T>(&mut self, name: &str, items: &[T], f: impl Fn(&mut String, &T)) {
        if items.is_empty() {
            return;
        }
        let out = self.key(name);
        out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            f(out, item);
        }
        out.push(']');
    }

    fn object(&mut self, name: &str, f: impl FnOnce(&mut Obj<'_>)) {
        let out = self.key(name);
        let mut o = Obj::open(out);
        f(&mut o);
        o.close();
    }

    fn close(self) {
        self.out.push('}');
    }
}

fn obj(out: &mut String, f: impl FnOnce(&mut Obj<'_>)) {
    let mut o = Obj::open(out);
    f(&mut o);
    o.close();
}

/// A JSON string with the escapes JSON requires.
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn double(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("\"NaN\"");
    } else if v == f64::INFINITY {
        out.push_str("\"Infinity\"");
    } else if v == f64::NEG_INFINITY {
        out.push_str("\"-Infinity\"");
    } else if v != 0.0 && !(1e-6..1e21).contains(&v.abs()) {
        // protojson's form (Go's `encoding/json` rule): the shortest digits, with an
        // exponent only below 1e-6 or from 1e21 up, written `1e-7`, `1.5e+21`
        let at = out.len();
        let _ = write!(out, "{v:e}");
        if let Some(e) = out[at..].find('e') {
            if !out[at + e + 1..].starts_with('-') {
                out.insert(at + e + 1, '+');
            }
        }
    } else {
        // the shortest digits without an exponent: `3`, `0.1`, `-0`, as protojson writes
        let _ = write!(out, "{v}");
    }
}

fn u64_string(out: &mut String, v: &u64) {
    let _ = write!(out, "\"{v}\"");
}

fn double_item(out: &mut String, v: &f64) {
    double(out, *v);
}

fn any_value(out: &mut String, v: &AnyValue) {
    obj(out, |o| match &v.value {
        None => {}
        Some(any_value::Value::StringValue(s)) => {
            let out = o.key("stringValue");
            string(out, s);
        }
        Some(any_value::Value::BoolValue(b)) => {
            o.key("boolValue")
                .push_str(if *b { "true" } else { "false" });
        }
        Some(any_value::Value::IntValue(i)) => {
            let out = o.key("intValue");
            let _ = write!(out, "\"{i}\"");
        }
        Some(any_value::Value::DoubleValue(d)) => {
            let out = o.key("doubleValue");
            double(out, *d);
        }
        Some(any_value::Value::ArrayValue(a)) => o.object("arrayValue", |o| {
            o.list("values", &a.values, any_value);
        }),
        Some(any_value::Value::KvlistValue(l)) => o.object("kvlistValue", |o| {
            o.list("values", &l.values, key_value);
        }),
        Some(any_value::Value::BytesValue(b)) => {
            let out = o.key("bytesValue");
            out.push('"');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push('"');
        }
        Some(any_value::Value::StringValueStrindex(i)) => {
            let out = o.key("stringValueStrindex");
            let _ = write!(out, "{i}");
        }
    });
}

fn key_value(out: &mut String, kv: &KeyValue) {
    obj(out, |o| {
        o.str("key", &kv.key);
        if let Some(v) = &kv.value {
            let out = o.key("value");
            any_value(out, v);
        }
        o.i32("keyStrindex", kv.key_strindex);
    });
}

fn entity_ref(out: &mut String, e: &EntityRef) {
    obj(out, |o| {
        o.str("schemaUrl", &e.schema_url);
        o.str("type", &e.r#type);
        o.list("idKeys", &e.id_keys, |out, s| string(out, s));
        o.list("descriptionKeys", &e.description_keys, |out, s| {
            string(out, s)
        });
    });
}

fn resource(o: &mut Obj<'_>, r: &Option<Resource>) {
    if let Some(r) = r {
        o.object("resource", |o| {
            o.list("attributes", &r.attributes, key_value);
            o.u32("droppedAttributesCount", r.dropped_attributes_count);
            o.list("entityRefs", &r.entity_refs, entity_ref);
        });
    }
}

fn scope(o: &mut Obj<'_>, s: &Option<InstrumentationScope>) {
    if let Some(s) = s {
        o.object("scope", |o| {
            o.str("name", &s.name);
            o.str("version", &s.version);
            o.list("attributes", &s.attributes, key_value);
            o.u32("droppedAttributesCount", s.dropped_attributes_count);
        });
    }
}

// ----------------------------------------------------------------------------- traces

fn traces(out: &mut String, r: &ExportTraceServiceRequest) {
    obj(out, |o| {
        o.list("resourceSpans", &r.resource_spans, resource_spans)
    });
}

fn resource_spans(out: &mut String, rs: &ResourceSpans) {
    obj(out, |o| {
        resource(o, &rs.resource);
        o.list("scopeSpans", &rs.scope_spans, scope_spans);
        o.str("schemaUrl", &rs.schema_url);
    });
}

fn scope_spans(out: &mut String, ss: &ScopeSpans) {
    obj(out, |o| {
        scope(o, &ss.scope);
        o.list("spans", &ss.spans, span);
        o.str("schemaUrl", &ss.schema_url);
    });
}

fn span(out: &mut String, s: &Span) {
    obj(out, |o| {
        o.hex("traceId", &s.trace_id);
        o.hex("spanId", &s.span_id);
        o.str("traceState", &s.trace_state);
        o.hex("parentSpanId", &s.parent_span_id);
        o.u32("flags", s.flags);
        o.str("name", &s.name);
        o.i32("kind", s.kind);
        o.u64("startTimeUnixNano", s.start_time_unix_nano);
        o.u64("endTimeUnixNano", s.end_time_unix_nano);
        o.list("attributes", &s.attributes, key_value);
        o.u32("droppedAttributesCount", s.dropped_attributes_count);
        o.list("events", &s.events, event);
        o.u32("droppedEventsCount", s.dropped_events_count);
        o.list("links", &s.links, link);
        o.u32("droppedLinksCount", s.dropped_links_count);
        if let Some(st) = &s.status {
            o.object("status", |o| status(o, st));
        }
    });
}

fn status(o: &mut Obj<'_>, s: &Status) {
    o.str("message", &s.message);
    o.i32("code", s.code);
}

fn event(out: &mut String, e: &span::Event) {
    obj(out, |o| {
        o.u64("timeUnixNano", e.time_unix_nano);
        o.str("name", &e.name);
        o.list("attributes", &e.attributes, key_value);
        o.u32("droppedAttributesCount", e.dropped_attributes_count);
    });
}

fn link(out: &mut String, l: &span::Link) {
    obj(out, |o| {
        o.hex("traceId", &l.trace_id);
        o.hex("spanId", &l.span_id);
        o.str("traceState", &l.trace_state);
        o.list("attributes", &l.attributes, key_value);
        o.u32("droppedAttributesCount", l.dropped_attributes_count);
        o.u32("flags", l.flags);
    });
}

// ----------------------------------------------------------------------------- logs

fn logs(out: &mut String, r: &ExportLogsServiceRequest) {
    obj(out, |o| {
        o.list("resourceLogs", &r.resource_logs, resource_logs)
    });
}

fn resource_logs(out: &mut String, rl: &ResourceLogs) {
    obj(out, |o| {
        resource(o, &rl.resource);
        o.list("scopeLogs", &rl.scope_logs, scope_logs);
        o.str("schemaUrl", &rl.schema_url);
    });
}

fn scope_logs(out: &mut String, sl: &ScopeLogs) {
    obj(out, |o| {
        scope(o, &sl.scope);
        o.list("logRecords", &sl.log_records, log_record);
        o.str("schemaUrl", &sl.schema_url);
    });
}

fn log_record(out: &mut String, l: &LogRecord) {
    obj(out, |o| {
        o.u64("timeUnixNano", l.time_unix_nano);
        o.u64("observedTimeUnixNano", l.observed_time_unix_nano);
        o.i32("severityNumber", l.severity_number);
        o.str("severityText", &l.severity_text);
        if let Some(b) = &l.body {
            let out = o.key("body");
            any_value(out, b);
        }
        o.list("attributes", &l.attributes, key_value);
        o.u32("droppedAttributesCount", l.dropped_attributes_count);
        o.u32("flags", l.flags);
        o.hex("traceId", &l.trace_id);
        o.hex("spanId", &l.span_id);
        o.str("eventName", &l.event_name);
    });
}

// ----------------------------------------------------------------------------- metrics

fn metrics(out: &mut String, r: &ExportMetricsServiceRequest) {
    obj(out, |o| {
        o.list("resourceMetrics", &r.resource_metrics, resource_metrics)
    });
}

fn resource_metrics(out: &mut String, rm: &ResourceMetrics) {
    obj(out, |o| {
        resource(o, &rm.resource);
        o.list("scopeMetrics", &rm.scope_metrics, scope_metrics);
        o.str("schemaUrl", &rm.schema_url);
    });
}

fn scope_metrics(out: &mut String, sm: &ScopeMetrics) {
    obj(out, |o| {
        scope(o, &sm.scope);
        o.list("metrics", &sm.metrics, metric);
        o.str("schemaUrl", &sm.schema_url);
    });
}

fn metric(out: &mut String, m: &Metric) {
    obj(out, |o| {
        o.str("name", &m.name);
        o.str("description", &m.description);
        o.str("unit", &m.unit);
        match &m.data {
            None => {}
            Some(metric::Data::Gauge(g)) => o.object("gauge", |o| {
                o.list("dataPoints", &g.data_points, number_point);
            }),
            Some(metric::Data::Sum(s)) => o.object("sum", |o| {
                o.list("dataPoints", &s.data_points, number_point);
                o.i32("aggregationTemporality", s.aggregation_temporality);
                o.bool("isMonotonic", s.is_monotonic);
            }),
            Some(metric::Data::Histogram(h)) => o.object("histogram", |o| {
                o.list("dataPoints", &h.data_points, histogram_point);
                o.i32("aggregationTemporality", h.aggregation_temporality);
            }),
            Some(metric::Data::ExponentialHistogram(h)) => o.object("exponentialHistogram", |o| {
                o.list("dataPoints", &h.data_points, exp_histogram_point);
                o.i32("aggregationTemporality", h.aggregation_temporality);
            }),
            Some(metric::Data::Summary(s)) => o.object("summary", |o| {
                o.list("dataPoints", &s.data_points, summary_point);
            }),
        }
        o.list("metadata", &m.metadata, key_value);
    });
}

fn number_point(out: &mut String, p: &NumberDataPoint) {
    obj(out, |o| {
        o.list("attributes", &p.attributes, key_value);
        o.u64("startTimeUnixNano", p.start_time_unix_nano);
        o.u64("timeUnixNano", p.time_unix_nano);
        match p.value {
            Some(number_data_point::Value::AsDouble(d)) => double(o.key("asDouble"), d),
            Some(number_data_point::Value::AsInt(i)) => {
                let _ = write!(o.key("asInt"), "\"{i}\"");
            }
            None => {}
        }
        o.list("exemplars", &p.exemplars, exemplar);
        o.u32("flags", p.flags);
    });
}

fn histogram_point(out: &mut String, p: &HistogramDataPoint) {
    obj(out, |o| {
        o.list("attributes", &p.attributes, key_value);
        o.u64("startTimeUnixNano", p.start_time_unix_nano);
        o.u64("timeUnixNano", p.time_unix_nano);
        o.u64("count", p.count);
        o.opt_f64("sum", p.sum);
        o.list("bucketCounts", &p.bucket_counts, u64_string);
        o.list("explicitBounds", &p.explicit_bounds, double_item);
        o.list("exemplars", &p.exemplars, exemplar);
        o.u32("flags", p.flags);
        o.opt_f64("min", p.min);
        o.opt_f64("max", p.max);
    });
}

fn buckets(o: &mut Obj<'_>, name: &str, b: &Option<exponential_histogram_data_point::Buckets>) {
    if let Some(b) = b {
        o.object(name, |o| {
            o.i32("offset", b.offset);
            o.list("bucketCounts", &b.bucket_counts, u64_string);
        });
    }
}

fn exp_histogram_point(out: &mut String, p: &ExponentialHistogramDataPoint) {
    obj(out, |o| {
        o.list("attributes", &p.attributes, key_value);
        o.u64("startTimeUnixNano", p.start_time_unix_nano);
        o.u64("timeUnixNano", p.time_unix_nano);
        o.u64("count", p.count);
        o.opt_f64("sum", p.sum);
        o.i32("scale", p.scale);
        o.u64("zeroCount", p.zero_count);
        buckets(o, "positive", &p.positive);
        buckets(o, "negative", &p.negative);
        o.u32("flags", p.flags);
        o.list("exemplars", &p.exemplars, exemplar);
        o.opt_f64("min", p.min);
        o.opt_f64("max", p.max);
        o.f64("zeroThreshold", p.zero_threshold);
    });
}

fn summary_point(out: &mut String, p: &SummaryDataPoint) {
    obj(out, |o| {
        o.list("attributes", &p.attributes, key_value);
        o.u64("startTimeUnixNano", p.start_time_unix_nano);
        o.u64("timeUnixNano", p.time_unix_nano);
        o.u64("count", p.count);
        o.f64("sum", p.sum);
        o.list("quantileValues", &p.quantile_values, |out, q| {
            obj(out, |o| {
                o.f64("quantile", q.quantile);
                o.f64("value", q.value);
            })
        });
        o.u32("flags", p.flags);
    });
}

fn exemplar(out: &mut String, e: &Exemplar) {
    obj(out, |o| {
        o.list("filteredAttributes", &e.filtered_attributes, key_value);
        o.u64("timeUnixNano", e.time_unix_nano);
        match e.value {
            Some(exemplar::Value::AsDouble(d)) => double(o.key("asDouble"), d),
            Some(exemplar::Value::AsInt(i)) => {
                let _ = write!(o.key("asInt"), "\"{i}\"");
            }
            None => {}
        }
        o.hex("spanId", &e.span_id);
        o.hex("traceId", &e.trace_id);
    });
}
