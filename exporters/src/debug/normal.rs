//! `verbosity: normal`: about one line per span, log record or data point, as the Go
//! collector's `exporter/debugexporter/internal/normal` writes them.

use std::fmt::Write;

use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::metrics::v1::{metric, number_data_point, Metric, NumberDataPoint};
use pipeline_api::proto::tonic::resource::v1::Resource;

use super::gofmt::{go_f, go_g, hex_id, value_as_string};

/// Go `writeAttributes`: `key=AsString` each.
fn attributes(attrs: &[KeyValue]) -> Vec<String> {
    attrs
        .iter()
        .map(|kv| format!("{}={}", kv.key, value_as_string(kv.value.as_ref())))
        .collect()
}

/// Go `writeAttributesString`: ` k=v k2=v2`, or nothing.
fn attributes_string(attrs: &[KeyValue]) -> String {
    let a = attributes(attrs);
    if a.is_empty() {
        String::new()
    } else {
        format!(" {}", a.join(" "))
    }
}

/// Go `writeResourceDetails`.
fn resource_details(schema_url: &str) -> String {
    if schema_url.is_empty() {
        String::new()
    } else {
        format!(" [{schema_url}]")
    }
}

/// Go `writeScopeDetails`: ` name@version [schema]`.
fn scope_details(scope: Option<&InstrumentationScope>, schema_url: &str) -> String {
    let (name, version) = scope
        .map(|s| (s.name.as_str(), s.version.as_str()))
        .unwrap_or(("", ""));
    let mut d = String::new();
    d.push_str(name);
    if !version.is_empty() {
        d.push('@');
        d.push_str(version);
    }
    if !schema_url.is_empty() {
        if !d.is_empty() {
            d.push(' ');
        }
        d.push('[');
        d.push_str(schema_url);
        d.push(']');
    }
    if d.is_empty() {
        d
    } else {
        format!(" {d}")
    }
}

fn resource_attrs(r: Option<&Resource>) -> &[KeyValue] {
    r.map(|r| r.attributes.as_slice()).unwrap_or_default()
}

fn scope_attrs(s: Option<&InstrumentationScope>) -> &[KeyValue] {
    s.map(|s| s.attributes.as_slice()).unwrap_or_default()
}

/// Go `normalTracesMarshaler.MarshalTraces`. (Go numbers the scope lines with the resource's
/// index — `ScopeTraces #%d` gets `i` — and so does this, to print the same.)
pub fn traces(req: &ExportTraceServiceRequest) -> String {
    let mut out = String::new();
    for (i, rs) in req.resource_spans.iter().enumerate() {
        let r = rs.resource.as_ref();
        let _ = writeln!(
            out,
            "ResourceTraces #{i}{}{}",
            resource_details(&rs.schema_url),
            attributes_string(resource_attrs(r))
        );
        for ss in &rs.scope_spans {
            let s = ss.scope.as_ref();
            let _ = writeln!(
                out,
                "ScopeTraces #{i}{}{}",
                scope_details(s, &ss.schema_url),
                attributes_string(scope_attrs(s))
            );
            for span in &ss.spans {
                out.push_str(&span.name);
                out.push(' ');
                out.push_str(&hex_id(&span.trace_id));
                out.push(' ');
                out.push_str(&hex_id(&span.span_id));
                if !span.attributes.is_empty() {
                    out.push(' ');
                    out.push_str(&attributes(&span.attributes).join(" "));
                }
                out.push('\n');
            }
        }
    }
    out
}

/// Go `normalLogsMarshaler.MarshalLogs`: `body attrs` (a trailing space when there are no
/// attributes, as Go's `"%s %s"`).
pub fn logs(req: &ExportLogsServiceRequest) -> String {
    let mut out = String::new();
    for (i, rl) in req.resource_logs.iter().enumerate() {
        let r = rl.resource.as_ref();
        let _ = writeln!(
            out,
            "ResourceLog #{i}{}{}",
            resource_details(&rl.schema_url),
            attributes_string(resource_attrs(r))
        );
        for sl in &rl.scope_logs {
            let s = sl.scope.as_ref();
            let _ = writeln!(
                out,
                "ScopeLog #{i}{}{}",
                scope_details(s, &sl.schema_url),
                attributes_string(scope_attrs(s))
            );
            for lr in &sl.log_records {
                let _ = writeln!(
                    out,
                    "{} {}",
                    value_as_string(lr.body.as_ref()),
                    attributes(&lr.attributes).join(" ")
                );
            }
        }
    }
    out
}

/// Go `normalMetricsMarshaler.MarshalMetrics`: `name{attrs} value` per data point.
pub fn metrics(req: &ExportMetricsServiceRequest) -> String {
    let mut out = String::new();
    for (i, rm) in req.resource_metrics.iter().enumerate() {
        let r = rm.resource.as_ref();
        let _ = writeln!(
            out,
            "ResourceMetrics #{i}{}{}",
            resource_details(&rm.schema_url),
            attributes_string(resource_attrs(r))
        );
        for sm in &rm.scope_metrics {
            let s = sm.scope.as_ref();
            let _ = writeln!(
                out,
                "ScopeMetrics #{i}{}{}",
                scope_details(s, &sm.schema_url),
                attributes_string(scope_attrs(s))
            );
            for m in &sm.metrics {
                data_points(&mut out, m);
            }
        }
    }
    out
}

fn data_points(out: &mut String, m: &Metric) {
    let line = |out: &mut String, attrs: &[KeyValue], value: &str| {
        let _ = writeln!(out, "{}{{{}}} {value}", m.name, attributes(attrs).join(","));
    };
    let number = |out: &mut String, points: &[NumberDataPoint]| {
        for p in points {
            let value = match p.value {
                Some(number_data_point::Value::AsInt(v)) => v.to_string(),
                Some(number_data_point::Value::AsDouble(v)) => go_g(v),
                None => String::new(),
            };
            line(out, &p.attributes, &value);
        }
    };
    match &m.data {
        None => {}
        Some(metric::Data::Gauge(g)) => number(out, &g.data_points),
        Some(metric::Data::Sum(s)) => number(out, &s.data_points),
        Some(metric::Data::Histogram(h)) => {
            for p in &h.data_points {
                let mut v = format!("count={}", p.count);
                push_sum_min_max(&mut v, p.sum, p.min, p.max);
                for (j, count) in p.bucket_counts.iter().enumerate() {
                    let bound = p
                        .explicit_bounds
                        .get(j)
                        .map(|b| format!("le{}=", go_g(*b)))
                        .unwrap_or_default();
                    let _ = write!(v, " {bound}{count}");
                }
                line(out, &p.attributes, &v);
            }
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            for p in &h.data_points {
                let mut v = format!("count={}", p.count);
                push_sum_min_max(&mut v, p.sum, p.min, p.max);
                line(out, &p.attributes, &v);
            }
        }
        Some(metric::Data::Summary(s)) => {
            for p in &s.data_points {
                let mut v = format!("count={} sum={}", p.count, go_f(p.sum));
                for q in &p.quantile_values {
                    let _ = write!(v, " q{}={}", go_g(q.quantile), go_g(q.value));
                }
                line(out, &p.attributes, &v);
            }
        }
    }
}

fn push_sum_min_max(v: &mut String, sum: Option<f64>, min: Option<f64>, max: Option<f64>) {
    if let Some(s) = sum {
        let _ = write!(v, " sum={}", go_g(s));
    }
    if let Some(m) = min {
        let _ = write!(v, " min={}", go_g(m));
    }
    if let Some(m) = max {
        let _ = write!(v, " max={}", go_g(m));
    }
}
