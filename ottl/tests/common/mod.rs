//! Fixtures and a JSON dump of OTLP items for the conformance tables.
#![allow(dead_code)]

use ottl::value::{any_to_json, map_to_json};
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{json, Value as J};

pub fn s(v: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    }
}
pub fn i(v: i64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::IntValue(v)),
    }
}
pub fn d(v: f64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::DoubleValue(v)),
    }
}
pub fn kv(k: &str, v: AnyValue) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(v),
        ..Default::default()
    }
}

pub fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", s("svc")), kv("host.name", s("h1"))],
        ..Default::default()
    })
}

pub fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "lib".into(),
        version: "1.0".into(),
        ..Default::default()
    })
}

pub const TRACE_ID: [u8; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
pub const SPAN_ID: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

pub fn span_attrs() -> Vec<KeyValue> {
    vec![
        kv("http.method", s("get")),
        kv("http.path", s("/health")),
        kv("http.url", s("http://localhost/health?user=alice")),
        kv("total.string", s("123456789")),
        kv("count", i(10)),
        kv("ratio", d(0.5)),
        kv(
            "flag",
            AnyValue {
                value: Some(any_value::Value::BoolValue(true)),
            },
        ),
    ]
}

pub fn traces() -> ExportTraceServiceRequest {
    let a = Span {
        trace_id: TRACE_ID.to_vec(),
        span_id: SPAN_ID.to_vec(),
        name: "operationA".into(),
        kind: 2,
        start_time_unix_nano: 1_581_452_772_000_000_000,
        end_time_unix_nano: 1_581_452_772_500_000_000,
        attributes: span_attrs(),
        events: vec![
            span::Event {
                name: "event1".into(),
                time_unix_nano: 1_581_452_772_100_000_000,
                attributes: vec![kv("k", s("v"))],
                ..Default::default()
            },
            span::Event {
                name: "event2".into(),
                ..Default::default()
            },
        ],
        status: Some(Status {
            code: 0,
            message: String::new(),
        }),
        ..Default::default()
    };
    let b = Span {
        trace_id: TRACE_ID.to_vec(),
        span_id: vec![8, 7, 6, 5, 4, 3, 2, 1],
        parent_span_id: SPAN_ID.to_vec(),
        name: "operationB".into(),
        kind: 3,
        attributes: vec![
            kv("http.method", s("post")),
            kv("db.statement", s("SELECT * FROM users WHERE id = 42")),
        ],
        status: Some(Status {
            code: 2,
            message: "boom".into(),
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans: vec![a, b],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

pub fn log_attrs() -> Vec<KeyValue> {
    vec![
        kv("http.method", s("get")),
        kv("http.path", s("/health")),
        kv("flags", s("A|B|C")),
        kv("json", s(r#"{"a":1,"b":"x","c":{"d":true}}"#)),
        kv("kv", s("k1=v1 k2=\"v 2\"")),
        kv("n", i(3)),
    ]
}

pub fn logs() -> ExportLogsServiceRequest {
    let a = LogRecord {
        time_unix_nano: 1_581_452_773_000_000_789,
        severity_number: 9,
        severity_text: "INFO".into(),
        body: Some(s("operationA")),
        attributes: log_attrs(),
        trace_id: TRACE_ID.to_vec(),
        span_id: SPAN_ID.to_vec(),
        ..Default::default()
    };
    let b = LogRecord {
        severity_number: 5,
        severity_text: "DEBUG".into(),
        body: Some(s("debug details")),
        attributes: vec![kv("http.method", s("post"))],
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: vec![a, b],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn nums(points: &[(&str, i64)]) -> Vec<NumberDataPoint> {
    points
        .iter()
        .map(|(m, v)| NumberDataPoint {
            attributes: vec![kv("method", s(m))],
            value: Some(number_data_point::Value::AsInt(*v)),
            time_unix_nano: 100,
            ..Default::default()
        })
        .collect()
}

pub fn metrics() -> ExportMetricsServiceRequest {
    let sum = Metric {
        name: "http.requests".into(),
        description: "requests".into(),
        unit: "1".into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: nums(&[("GET", 10), ("POST", 20)]),
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
        ..Default::default()
    };
    let gauge = Metric {
        name: "temperature".into(),
        unit: "Cel".into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                attributes: vec![kv("room", s("a"))],
                value: Some(number_data_point::Value::AsDouble(21.5)),
                ..Default::default()
            }],
        })),
        ..Default::default()
    };
    let hist = Metric {
        name: "latency".into(),
        unit: "ms".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                count: 3,
                sum: Some(30.0),
                bucket_counts: vec![1, 2],
                explicit_bounds: vec![10.0],
                ..Default::default()
            }],
            aggregation_temporality: 1,
        })),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: vec![sum, gauge, hist],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn res_json(r: &Option<Resource>, sc: &Option<InstrumentationScope>) -> (J, J) {
    let r = r.clone().unwrap_or_default();
    let sc = sc.clone().unwrap_or_default();
    (
        json!({"attributes": map_to_json(&r.attributes), "dropped_attributes_count": r.dropped_attributes_count}),
        json!({"name": sc.name, "version": sc.version, "attributes": map_to_json(&sc.attributes)}),
    )
}

/// Every span as JSON, with its resource and scope.
pub fn dump_traces(req: &ExportTraceServiceRequest) -> Vec<J> {
    let mut out = Vec::new();
    for rs in &req.resource_spans {
        for ss in &rs.scope_spans {
            let (r, sc) = res_json(&rs.resource, &ss.scope);
            for sp in &ss.spans {
                out.push(json!({
                    "resource": r, "scope": sc,
                    "name": sp.name, "kind": sp.kind,
                    "trace_id": hex(&sp.trace_id), "span_id": hex(&sp.span_id), "parent_span_id": hex(&sp.parent_span_id),
                    "trace_state": sp.trace_state,
                    "start": sp.start_time_unix_nano, "end": sp.end_time_unix_nano,
                    "attributes": map_to_json(&sp.attributes),
                    "status": {"code": sp.status.as_ref().map_or(0, |s| s.code), "message": sp.status.as_ref().map_or("", |s| s.message.as_str())},
                    "events": sp.events.iter().map(|e| json!({"name": e.name, "attributes": map_to_json(&e.attributes)})).collect::<Vec<_>>(),
                    "dropped_attributes_count": sp.dropped_attributes_count,
                }));
            }
        }
    }
    out
}

pub fn dump_logs(req: &ExportLogsServiceRequest) -> Vec<J> {
    let mut out = Vec::new();
    for rl in &req.resource_logs {
        for sl in &rl.scope_logs {
            let (r, sc) = res_json(&rl.resource, &sl.scope);
            for l in &sl.log_records {
                out.push(json!({
                    "resource": r, "scope": sc,
                    "body": l.body.as_ref().map_or(J::Null, any_to_json),
                    "attributes": map_to_json(&l.attributes),
                    "severity_number": l.severity_number, "severity_text": l.severity_text,
                    "time": l.time_unix_nano, "observed_time": l.observed_time_unix_nano,
                    "trace_id": hex(&l.trace_id), "span_id": hex(&l.span_id), "flags": l.flags,
                }));
            }
        }
    }
    out
}

pub fn dump_metrics(req: &ExportMetricsServiceRequest) -> Vec<J> {
    let mut out = Vec::new();
    for rm in &req.resource_metrics {
        for sm in &rm.scope_metrics {
            let (r, sc) = res_json(&rm.resource, &sm.scope);
            for m in &sm.metrics {
                let (ty, points): (&str, Vec<J>) = match &m.data {
                    Some(metric::Data::Sum(s)) => ("sum", s.data_points.iter().map(num_json).collect()),
                    Some(metric::Data::Gauge(g)) => ("gauge", g.data_points.iter().map(num_json).collect()),
                    Some(metric::Data::Histogram(h)) => ("histogram", h.data_points.iter().map(|p| json!({"attributes": map_to_json(&p.attributes), "count": p.count, "sum": p.sum, "bucket_counts": p.bucket_counts, "explicit_bounds": p.explicit_bounds})).collect()),
                    _ => ("other", Vec::new()),
                };
                let temporality = match &m.data {
                    Some(metric::Data::Sum(s)) => s.aggregation_temporality,
                    Some(metric::Data::Histogram(h)) => h.aggregation_temporality,
                    _ => 0,
                };
                out.push(json!({
                    "resource": r, "scope": sc,
                    "name": m.name, "description": m.description, "unit": m.unit, "type": ty,
                    "temporality": temporality, "points": points,
                }));
            }
        }
    }
    out
}

fn num_json(p: &NumberDataPoint) -> J {
    let v = match p.value {
        Some(number_data_point::Value::AsInt(i)) => json!(i),
        Some(number_data_point::Value::AsDouble(d)) => json!(d),
        None => J::Null,
    };
    json!({"attributes": map_to_json(&p.attributes), "value": v, "time": p.time_unix_nano, "flags": p.flags})
}

/// `expected` is a list (one per item) of objects whose keys must equal the dump's.
pub fn check_subset(case: &str, got: &[J], expected: &J) {
    let exp = expected.as_array().expect("expected is a list");
    assert_eq!(
        got.len(),
        exp.len(),
        "{case}: item count; got {}",
        serde_json::to_string_pretty(&got).unwrap_or_default()
    );
    for (g, e) in got.iter().zip(exp) {
        for (k, v) in e.as_object().expect("object") {
            assert_eq!(
                &g[k],
                v,
                "{case}: key {k} of {}",
                serde_json::to_string(g).unwrap_or_default()
            );
        }
    }
}
