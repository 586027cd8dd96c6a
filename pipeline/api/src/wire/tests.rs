use std::collections::BTreeMap;

use prost::Message;

use super::*;
use crate::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use crate::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use crate::proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use crate::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use crate::proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point, metric, number_data_point, summary_data_point,
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint,
};
use crate::proto::tonic::resource::v1::Resource;
use crate::proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};

// ---------------------------------------------------------------------------------------
// Hand encoding.

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(tag: u32, wire_type: u8) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, u64::from(tag) << 3 | u64::from(wire_type));
    out
}

/// A length-delimited field.
fn ld(tag: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = key(tag, LEN);
    put_varint(&mut out, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

/// A varint field.
fn vi(tag: u32, v: u64) -> Vec<u8> {
    let mut out = key(tag, VARINT);
    put_varint(&mut out, v);
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A traces request holding one span made of `span` bytes.
fn with_span(span: &[u8]) -> Vec<u8> {
    ld(1, &ld(2, &ld(2, span)))
}

/// A logs request holding one log record made of `record` bytes.
fn with_log(record: &[u8]) -> Vec<u8> {
    ld(1, &ld(2, &ld(2, record)))
}

/// A metrics request holding one metric made of `metric` bytes.
fn with_metric(metric: &[u8]) -> Vec<u8> {
    ld(1, &ld(2, &ld(2, metric)))
}

// ---------------------------------------------------------------------------------------
// prost, the reference.

fn spans(r: &ExportTraceServiceRequest) -> usize {
    r.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

fn log_records(r: &ExportLogsServiceRequest) -> usize {
    r.resource_logs
        .iter()
        .flat_map(|rl| &rl.scope_logs)
        .map(|sl| sl.log_records.len())
        .sum()
}

fn points(m: &Metric) -> usize {
    match &m.data {
        None => 0,
        Some(metric::Data::Gauge(g)) => g.data_points.len(),
        Some(metric::Data::Sum(s)) => s.data_points.len(),
        Some(metric::Data::Histogram(h)) => h.data_points.len(),
        Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(metric::Data::Summary(s)) => s.data_points.len(),
    }
}

fn metric_points(r: &ExportMetricsServiceRequest) -> usize {
    r.resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .map(points)
        .sum()
}

/// prost's verdict on `bytes` as a request of `signal`, with the item count of the result.
fn prost_count(signal: Signal, bytes: &[u8]) -> Result<usize, prost::DecodeError> {
    match signal {
        Signal::Traces => ExportTraceServiceRequest::decode(bytes).map(|r| spans(&r)),
        Signal::Metrics => ExportMetricsServiceRequest::decode(bytes).map(|r| metric_points(&r)),
        Signal::Logs => ExportLogsServiceRequest::decode(bytes).map(|r| log_records(&r)),
    }
}

fn problem(signal: Signal, bytes: &[u8]) -> Problem {
    scan(signal, bytes).unwrap_err().problem()
}

/// `bytes` are accepted by prost and refused by `scan` for a rule prost does not have.
fn stricter(signal: Signal, bytes: &[u8]) -> WireError {
    prost_count(signal, bytes).expect("prost accepts it");
    let e = scan(signal, bytes).unwrap_err();
    assert!(
        matches!(e.problem(), Problem::IdLength { .. } | Problem::TooDeep),
        "{e}"
    );
    e
}

/// A scanner over `bytes` that has seen nothing yet.
fn fresh(bytes: &[u8]) -> Scanner<'_> {
    Scanner {
        base: bytes,
        error: Cell::new(None),
        groups: Cell::new(false),
    }
}

/// `scan` and prost agree on `bytes`: both refuse, or both accept with the same count.
fn agree(signal: Signal, bytes: &[u8]) -> Result<usize, WireError> {
    let ours = scan(signal, bytes);
    match (&ours, prost_count(signal, bytes)) {
        (Ok(n), Ok(m)) => assert_eq!(*n, m, "item count"),
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => panic!("scan accepts what prost refuses ({e}): {bytes:02x?}"),
        (Err(e), Ok(_)) => panic!("scan refuses what prost accepts ({e}): {bytes:02x?}"),
    }
    ours
}

// ---------------------------------------------------------------------------------------
// Rich requests: every field set.

fn s(v: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    })
}

fn kv(key: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value,
        key_strindex: 0,
    }
}

fn any(v: any_value::Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(v) })
}

fn attributes(n: usize) -> Vec<KeyValue> {
    use any_value::Value as V;
    let mut out = vec![
        kv("str", s("välue")),
        kv("bool", any(V::BoolValue(true))),
        kv("int", any(V::IntValue(-42))),
        kv("double", any(V::DoubleValue(1.5))),
        kv("bytes", any(V::BytesValue(vec![0, 0xff, 0x80]))),
        kv("strindex", any(V::StringValueStrindex(7))),
        kv("none", None),
        KeyValue {
            key: String::new(),
            value: s("by index"),
            key_strindex: 3,
        },
        kv(
            "array",
            any(V::ArrayValue(ArrayValue {
                values: vec![
                    s("a").unwrap(),
                    any(V::IntValue(1)).unwrap(),
                    AnyValue::default(),
                    any(V::ArrayValue(ArrayValue {
                        values: vec![any(V::KvlistValue(KeyValueList {
                            values: vec![kv("deep", s("x"))],
                        }))
                        .unwrap()],
                    }))
                    .unwrap(),
                ],
            })),
        ),
        kv(
            "kvlist",
            any(V::KvlistValue(KeyValueList {
                values: vec![
                    kv("k1", s("v1")),
                    kv("k2", any(V::DoubleValue(-0.0))),
                    kv(
                        "k3",
                        any(V::ArrayValue(ArrayValue {
                            values: vec![any(V::BoolValue(false)).unwrap()],
                        })),
                    ),
                ],
            })),
        ),
    ];
    out.truncate(n);
    out
}

fn resource(i: usize) -> Option<Resource> {
    Some(Resource {
        attributes: attributes(3 + i),
        dropped_attributes_count: 2,
        entity_refs: vec![EntityRef {
            schema_url: "https://opentelemetry.io/schemas/1.0".into(),
            r#type: "service".into(),
            id_keys: vec!["service.name".into(), "service.namespace".into()],
            description_keys: vec!["service.version".into()],
        }],
    })
}

fn scope(i: usize) -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: format!("scope-{i}"),
        version: "1.2.3".into(),
        attributes: attributes(i % 3),
        dropped_attributes_count: 1,
    })
}

fn rich_span(i: usize) -> Span {
    Span {
        trace_id: vec![i as u8 + 1; 16],
        span_id: vec![2; 8],
        trace_state: "k=v".into(),
        parent_span_id: if i.is_multiple_of(2) {
            vec![3; 8]
        } else {
            vec![]
        },
        flags: 0x301,
        name: format!("span-{i}"),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_000_001_000,
        attributes: attributes(10),
        dropped_attributes_count: 1,
        events: vec![
            span::Event {
                time_unix_nano: 1_700_000_000_000_000_500,
                name: "event".into(),
                attributes: attributes(2),
                dropped_attributes_count: 3,
            },
            span::Event::default(),
        ],
        dropped_events_count: 4,
        links: vec![
            span::Link {
                trace_id: vec![5; 16],
                span_id: vec![6; 8],
                trace_state: "a=b".into(),
                attributes: attributes(1),
                dropped_attributes_count: 5,
                flags: 0x100,
            },
            span::Link::default(),
        ],
        dropped_links_count: 6,
        status: Some(Status {
            message: "error".into(),
            code: 2,
        }),
    }
}

fn rich_traces() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: resource(0),
                scope_spans: vec![
                    ScopeSpans {
                        scope: scope(0),
                        spans: vec![rich_span(0), rich_span(1)],
                        schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
                    },
                    ScopeSpans {
                        scope: scope(1),
                        spans: vec![Span::default()],
                        schema_url: String::new(),
                    },
                    ScopeSpans::default(),
                ],
                schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
            },
            ResourceSpans::default(),
            ResourceSpans {
                resource: None,
                scope_spans: vec![ScopeSpans {
                    scope: None,
                    spans: vec![rich_span(2)],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
        ],
    }
}

fn rich_log(i: usize) -> LogRecord {
    LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000,
        observed_time_unix_nano: 1_700_000_000_000_000_001,
        severity_number: 9,
        severity_text: "INFO".into(),
        body: if i.is_multiple_of(2) {
            s("a log line")
        } else {
            attributes(10).pop().and_then(|kv| kv.value)
        },
        attributes: attributes(5 + i),
        dropped_attributes_count: 2,
        flags: 1,
        trace_id: vec![7; 16],
        span_id: vec![8; 8],
        event_name: "event.name".into(),
    }
}

fn rich_logs() -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![
            ResourceLogs {
                resource: resource(1),
                scope_logs: vec![
                    ScopeLogs {
                        scope: scope(2),
                        log_records: vec![rich_log(0), rich_log(1), LogRecord::default()],
                        schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
                    },
                    ScopeLogs::default(),
                ],
                schema_url: "u".into(),
            },
            ResourceLogs {
                resource: None,
                scope_logs: vec![ScopeLogs {
                    scope: None,
                    log_records: vec![rich_log(2)],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
        ],
    }
}

fn exemplars() -> Vec<Exemplar> {
    vec![
        Exemplar {
            filtered_attributes: attributes(2),
            time_unix_nano: 1_700_000_000_000_000_000,
            span_id: vec![1; 8],
            trace_id: vec![2; 16],
            value: Some(exemplar::Value::AsDouble(0.25)),
        },
        Exemplar {
            filtered_attributes: vec![],
            time_unix_nano: 1,
            span_id: vec![],
            trace_id: vec![],
            value: Some(exemplar::Value::AsInt(-3)),
        },
        Exemplar::default(),
    ]
}

fn number_point(i: usize) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attributes(i % 4),
        start_time_unix_nano: 1,
        time_unix_nano: 2,
        exemplars: if i == 0 { exemplars() } else { vec![] },
        flags: 1,
        value: Some(if i.is_multiple_of(2) {
            number_data_point::Value::AsDouble(1.5)
        } else {
            number_data_point::Value::AsInt(-7)
        }),
    }
}

fn metric(name: &str, data: Option<metric::Data>) -> Metric {
    Metric {
        name: name.into(),
        description: "a metric".into(),
        unit: "ms".into(),
        metadata: attributes(2),
        data,
    }
}

fn buckets() -> Option<exponential_histogram_data_point::Buckets> {
    Some(exponential_histogram_data_point::Buckets {
        offset: -3,
        bucket_counts: vec![1, 0, 300, u64::MAX],
    })
}

fn rich_metrics_list() -> Vec<Metric> {
    vec![
        metric(
            "gauge",
            Some(metric::Data::Gauge(Gauge {
                data_points: vec![number_point(0), number_point(1)],
            })),
        ),
        metric(
            "sum",
            Some(metric::Data::Sum(Sum {
                data_points: vec![number_point(2), number_point(3), number_point(4)],
                aggregation_temporality: 2,
                is_monotonic: true,
            })),
        ),
        metric(
            "histogram",
            Some(metric::Data::Histogram(Histogram {
                data_points: vec![
                    HistogramDataPoint {
                        attributes: attributes(3),
                        start_time_unix_nano: 1,
                        time_unix_nano: 2,
                        count: 10,
                        sum: Some(12.5),
                        bucket_counts: vec![1, 2, 3, 4],
                        explicit_bounds: vec![0.5, 1.0, 10.0],
                        exemplars: exemplars(),
                        flags: 0,
                        min: Some(0.1),
                        max: Some(99.0),
                    },
                    HistogramDataPoint::default(),
                ],
                aggregation_temporality: 1,
            })),
        ),
        metric(
            "exponential_histogram",
            Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    attributes: attributes(1),
                    start_time_unix_nano: 1,
                    time_unix_nano: 2,
                    count: 305,
                    sum: Some(-1.0),
                    scale: -2,
                    zero_count: 4,
                    positive: buckets(),
                    negative: buckets(),
                    flags: 1,
                    exemplars: exemplars(),
                    min: Some(-5.0),
                    max: Some(5.0),
                    zero_threshold: 1e-9,
                }],
                aggregation_temporality: 2,
            })),
        ),
        metric(
            "summary",
            Some(metric::Data::Summary(Summary {
                data_points: vec![
                    SummaryDataPoint {
                        attributes: attributes(2),
                        start_time_unix_nano: 1,
                        time_unix_nano: 2,
                        count: 3,
                        sum: 4.5,
                        quantile_values: vec![
                            summary_data_point::ValueAtQuantile {
                                quantile: 0.5,
                                value: 1.0,
                            },
                            summary_data_point::ValueAtQuantile {
                                quantile: 0.99,
                                value: 2.0,
                            },
                        ],
                        flags: 0,
                    },
                    SummaryDataPoint::default(),
                    SummaryDataPoint::default(),
                    SummaryDataPoint::default(),
                ],
            })),
        ),
        metric("no data", None),
        metric("empty gauge", Some(metric::Data::Gauge(Gauge::default()))),
    ]
}

fn rich_metrics() -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![
            ResourceMetrics {
                resource: resource(2),
                scope_metrics: vec![
                    ScopeMetrics {
                        scope: scope(3),
                        metrics: rich_metrics_list(),
                        schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
                    },
                    ScopeMetrics::default(),
                    ScopeMetrics {
                        scope: None,
                        metrics: rich_metrics_list().split_off(3),
                        schema_url: String::new(),
                    },
                ],
                schema_url: "u".into(),
            },
            ResourceMetrics::default(),
        ],
    }
}

/// The example payloads of the OTLP specification (`shared/testdata/otlp-examples`).
fn spec_examples() -> Vec<(Signal, Vec<u8>)> {
    let read = |name: &str| {
        let path = format!(
            "{}/../../../shared/testdata/otlp-examples/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let traces: ExportTraceServiceRequest = serde_json::from_slice(&read("trace.json")).unwrap();
    let metrics: ExportMetricsServiceRequest =
        serde_json::from_slice(&read("metrics.json")).unwrap();
    let logs: ExportLogsServiceRequest = serde_json::from_slice(&read("logs.json")).unwrap();
    let events: ExportLogsServiceRequest = serde_json::from_slice(&read("events.json")).unwrap();
    vec![
        (Signal::Traces, traces.encode_to_vec()),
        (Signal::Metrics, metrics.encode_to_vec()),
        (Signal::Logs, logs.encode_to_vec()),
        (Signal::Logs, events.encode_to_vec()),
    ]
}

fn seeds() -> Vec<(Signal, Vec<u8>)> {
    let mut out = vec![
        (Signal::Traces, rich_traces().encode_to_vec()),
        (Signal::Metrics, rich_metrics().encode_to_vec()),
        (Signal::Logs, rich_logs().encode_to_vec()),
        // Small ones, so that mutations also hit the outer structure often.
        (
            Signal::Traces,
            ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: None,
                    scope_spans: vec![ScopeSpans {
                        scope: None,
                        spans: vec![rich_span(3)],
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            }
            .encode_to_vec(),
        ),
        (
            Signal::Logs,
            ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    resource: None,
                    scope_logs: vec![ScopeLogs {
                        scope: None,
                        log_records: vec![rich_log(3)],
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            }
            .encode_to_vec(),
        ),
    ];
    for m in rich_metrics_list() {
        out.push((
            Signal::Metrics,
            ExportMetricsServiceRequest {
                resource_metrics: vec![ResourceMetrics {
                    resource: None,
                    scope_metrics: vec![ScopeMetrics {
                        scope: None,
                        metrics: vec![m],
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            }
            .encode_to_vec(),
        ));
    }
    out.extend(spec_examples());
    out
}

// ---------------------------------------------------------------------------------------
// Item counts.

#[test]
fn counts_spans_across_resources_and_scopes() {
    let req = rich_traces();
    assert_eq!(spans(&req), 4);
    assert_eq!(scan(Signal::Traces, &req.encode_to_vec()), Ok(4));

    let mut req = ExportTraceServiceRequest::default();
    for r in 0..3 {
        let mut rs = ResourceSpans::default();
        for s in 0..4 {
            let mut ss = ScopeSpans::default();
            for i in 0..(r * 4 + s) {
                ss.spans.push(rich_span(i));
            }
            rs.scope_spans.push(ss);
        }
        req.resource_spans.push(rs);
    }
    assert_eq!(scan(Signal::Traces, &req.encode_to_vec()), Ok(spans(&req)));
    assert_eq!(spans(&req), 66);
}

#[test]
fn counts_log_records() {
    let req = rich_logs();
    assert_eq!(scan(Signal::Logs, &req.encode_to_vec()), Ok(4));
    let mut req = ExportLogsServiceRequest::default();
    for r in 0..2 {
        let mut rl = ResourceLogs::default();
        for s in 0..3 {
            rl.scope_logs.push(ScopeLogs {
                log_records: (0..r + s + 1).map(rich_log).collect(),
                ..Default::default()
            });
        }
        req.resource_logs.push(rl);
    }
    assert_eq!(scan(Signal::Logs, &req.encode_to_vec()), Ok(15));
}

#[test]
fn counts_data_points_of_each_metric_kind() {
    let expected = [2, 3, 2, 1, 4, 0, 0];
    let list = rich_metrics_list();
    assert_eq!(list.len(), expected.len());
    for (m, n) in list.into_iter().zip(expected) {
        let name = m.name.clone();
        let bytes = with_metric(&m.encode_to_vec());
        assert_eq!(scan(Signal::Metrics, &bytes), Ok(n), "{name}");
        assert_eq!(prost_count(Signal::Metrics, &bytes).unwrap(), n, "{name}");
    }
    // Two resources, three scopes.
    assert_eq!(
        scan(Signal::Metrics, &rich_metrics().encode_to_vec()),
        Ok(12 + 5)
    );
}

#[test]
fn counts_nothing_in_empty_requests() {
    for signal in Signal::ALL {
        assert_eq!(scan(signal, &[]), Ok(0));
        // A resource with an empty scope, an empty resource.
        assert_eq!(
            scan(signal, &cat(&[&ld(1, &ld(2, &[])), &ld(1, &[])])),
            Ok(0)
        );
    }
}

#[test]
fn counts_metric_data_as_prost_keeps_it() {
    let point = ld(1, &[]);
    let gauge = |n: usize| ld(5, &point.repeat(n));
    let sum = |n: usize| ld(7, &point.repeat(n));
    let summary = |n: usize| ld(11, &point.repeat(n));
    let name = ld(1, b"m");
    let cases: Vec<(Vec<u8>, usize)> = vec![
        // The same variant again is merged into the first.
        (cat(&[&gauge(2), &gauge(3)]), 5),
        (cat(&[&gauge(2), &name, &gauge(3)]), 5),
        // Another variant replaces it.
        (cat(&[&gauge(2), &sum(3)]), 3),
        (cat(&[&gauge(2), &sum(3), &gauge(1)]), 1),
        (
            cat(&[&gauge(2), &sum(3), &sum(4), &summary(1), &summary(2)]),
            3,
        ),
        (cat(&[&sum(0), &gauge(4), &name]), 4),
        (cat(&[&gauge(4), &sum(0)]), 0),
        (name.clone(), 0),
    ];
    for (metric, n) in cases {
        let bytes = with_metric(&metric);
        assert_eq!(agree(Signal::Metrics, &bytes), Ok(n), "{metric:02x?}");
    }
    // Two metrics in a scope are counted apart.
    let two = ld(1, &ld(2, &cat(&[&ld(2, &gauge(2)), &ld(2, &sum(3))])));
    assert_eq!(agree(Signal::Metrics, &two), Ok(5));
}

#[test]
fn counts_the_spec_examples() {
    let counts: Vec<(Signal, usize)> = spec_examples()
        .iter()
        .map(|(signal, bytes)| (*signal, agree(*signal, bytes).unwrap()))
        .collect();
    // trace.json: one span; metrics.json: a sum, a gauge, a histogram and an exponential
    // histogram of one point each; logs.json and events.json: one record each.
    assert_eq!(
        counts,
        [
            (Signal::Traces, 1),
            (Signal::Metrics, 4),
            (Signal::Logs, 1),
            (Signal::Logs, 1)
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Rules stricter than prost.

#[test]
fn refuses_ids_of_the_wrong_length() {
    let span = |tag: u32, id: &[u8]| with_span(&cat(&[&ld(5, b"s"), &ld(tag, id)]));
    let link = |tag: u32, id: &[u8]| with_span(&ld(13, &ld(tag, id)));
    let log = |tag: u32, id: &[u8]| with_log(&ld(tag, id));
    let exemplar = |tag: u32, id: &[u8]| {
        let point = ld(5, &ld(tag, id)); // NumberDataPoint.exemplars
        with_metric(&ld(5, &ld(1, &point))) // Metric.gauge.data_points
    };
    type Build = Box<dyn Fn(u32, &[u8]) -> Vec<u8>>;
    let cases: Vec<(Signal, &str, &str, u32, usize, Build)> = vec![
        (Signal::Traces, "Span", "trace_id", 1, 16, Box::new(span)),
        (Signal::Traces, "Span", "span_id", 2, 8, Box::new(span)),
        (
            Signal::Traces,
            "Span",
            "parent_span_id",
            4,
            8,
            Box::new(span),
        ),
        (
            Signal::Traces,
            "Span.Link",
            "trace_id",
            1,
            16,
            Box::new(link),
        ),
        (Signal::Traces, "Span.Link", "span_id", 2, 8, Box::new(link)),
        (Signal::Logs, "LogRecord", "trace_id", 9, 16, Box::new(log)),
        (Signal::Logs, "LogRecord", "span_id", 10, 8, Box::new(log)),
        (
            Signal::Metrics,
            "Exemplar",
            "trace_id",
            5,
            16,
            Box::new(exemplar),
        ),
        (
            Signal::Metrics,
            "Exemplar",
            "span_id",
            4,
            8,
            Box::new(exemplar),
        ),
    ];
    for (signal, message, field, tag, len, build) in cases {
        // Empty and the right length are fine.
        for ok in [0, len] {
            let bytes = build(tag, &vec![1; ok]);
            assert_eq!(
                agree(signal, &bytes).map(|_| ()),
                Ok(()),
                "{message}.{field}"
            );
        }
        // Any other length is refused, though prost takes it.
        for bad in [1, 5, len - 1, len + 1, 24, 32] {
            let e = stricter(signal, &build(tag, &vec![1; bad]));
            assert_eq!(
                e.problem(),
                Problem::IdLength {
                    len: bad,
                    expected: len
                }
            );
            assert_eq!((e.message(), e.field()), (message, tag));
            assert!(
                e.to_string().starts_with(&format!(
                    "{message}.{field} (field {tag}): {bad} bytes, expected {len} (or none) at byte "
                )),
                "{e}"
            );
        }
    }
    // A bad first occurrence and a good last one: prost keeps a 16-byte id, scan refuses.
    let span = with_span(&cat(&[&ld(1, &[1; 5]), &ld(1, &[1; 16])]));
    assert_eq!(prost_count(Signal::Traces, &span).unwrap(), 1);
    stricter(Signal::Traces, &span);
    // Swapped lengths.
    stricter(Signal::Traces, &with_span(&ld(1, &[1; 8])));
    stricter(Signal::Traces, &with_span(&ld(2, &[1; 16])));
}

// ---------------------------------------------------------------------------------------
// Explicit wire rules.

#[test]
fn refuses_invalid_utf8_in_strings() {
    let bad = [b'a', 0xff, b'b'];
    let kv_key = with_span(&ld(9, &ld(1, &bad)));
    let string_value = with_log(&ld(5, &ld(1, &bad)));
    let span_name = with_span(&ld(5, &bad));
    let id_key = ld(1, &ld(1, &ld(3, &ld(3, &bad)))); // ResourceSpans.resource.entity_refs
    let metric_unit = with_metric(&ld(3, &[0xc3])); // cut-off 2-byte sequence
                                                    // Past the first 8 bytes, in each byte of an 8-byte word.
    let long_names: Vec<Vec<u8>> = (0..16)
        .map(|i| {
            let mut name = b"0123456789abcdef0123".to_vec();
            name[i] = 0xff;
            with_span(&ld(5, &name))
        })
        .collect();
    let cases = [
        (
            Signal::Traces,
            kv_key,
            "invalid UTF-8 in KeyValue.key (field 1)",
        ),
        (
            Signal::Logs,
            string_value,
            "invalid UTF-8 in AnyValue.string_value (field 1)",
        ),
        (
            Signal::Traces,
            span_name,
            "invalid UTF-8 in Span.name (field 5)",
        ),
        (
            Signal::Traces,
            id_key,
            "invalid UTF-8 in EntityRef.id_keys (field 3)",
        ),
        (
            Signal::Metrics,
            metric_unit,
            "invalid UTF-8 in Metric.unit (field 3)",
        ),
    ];
    let long_names = long_names.into_iter().map(|bytes| {
        (
            Signal::Traces,
            bytes,
            "invalid UTF-8 in Span.name (field 5)",
        )
    });
    for (signal, bytes, message) in cases.into_iter().chain(long_names) {
        assert!(prost_count(signal, &bytes).is_err());
        let e = scan(signal, &bytes).unwrap_err();
        assert_eq!(e.problem(), Problem::InvalidUtf8);
        assert!(e.to_string().starts_with(message), "{e}");
    }
    // Bytes fields take anything, strings any valid UTF-8.
    assert_eq!(agree(Signal::Logs, &with_log(&ld(5, &ld(7, &bad)))), Ok(1));
    let utf8 = "ü€𝄞".as_bytes();
    assert_eq!(agree(Signal::Traces, &with_span(&ld(5, utf8))), Ok(1));
}

#[test]
fn refuses_invalid_and_wrong_wire_types() {
    // Wire types 6 and 7, known or unknown field.
    for wire_type in [6, 7] {
        for tag in [5, 99] {
            let bytes = with_span(&cat(&[&key(tag, wire_type), &[0; 8]]));
            assert!(prost_count(Signal::Traces, &bytes).is_err());
            assert_eq!(
                problem(Signal::Traces, &bytes),
                Problem::InvalidWireType {
                    wire_type,
                    field: tag
                }
            );
        }
    }
    // A known field with another valid wire type.
    let cases: [(Vec<u8>, u8, u8); 7] = [
        (cat(&[&key(5, I64), &[0; 8]]), I64, LEN), // Span.name: string
        (cat(&[&key(7, VARINT), &[1]]), VARINT, I64), // Span.start_time_unix_nano
        (cat(&[&key(16, I64), &[0; 8]]), I64, I32), // Span.flags: fixed32
        (cat(&[&key(10, I32), &[0; 4]]), I32, VARINT), // dropped_attributes_count
        (ld(10, &[1]), LEN, VARINT),               // not repeated: no packed form
        (cat(&[&key(9, VARINT), &[0]]), VARINT, LEN), // attributes: message
        (
            cat(&[&key(9, START_GROUP), &key(9, END_GROUP)]),
            START_GROUP,
            LEN,
        ),
    ];
    for (span, actual, expected) in cases {
        let bytes = with_span(&span);
        assert!(prost_count(Signal::Traces, &bytes).is_err(), "{span:02x?}");
        assert_eq!(
            problem(Signal::Traces, &bytes),
            Problem::WrongWireType { actual, expected }
        );
    }
    let e = scan(Signal::Traces, &with_span(&cat(&[&key(5, I64), &[0; 8]]))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Span.name (field 5): wire type 1 (64-bit), expected 2 (length-delimited) at byte 6"
    );
}

#[test]
fn skips_unknown_fields_of_every_wire_type() {
    let unknown: Vec<Vec<u8>> = vec![
        vi(99, 300),
        vi(17, u64::MAX),
        cat(&[&key(100, I64), &[7; 8]]),
        cat(&[&key(1000, I32), &[7; 4]]),
        ld(18, b"\xff not UTF-8, not a message"),
        ld(536_870_911, &[]), // the largest field number
        // Groups, empty, with fields of every wire type, nested.
        cat(&[&key(20, START_GROUP), &key(20, END_GROUP)]),
        cat(&[
            &key(21, START_GROUP),
            &vi(1, 1),
            &key(2, I64),
            &[0; 8],
            &ld(3, &[0xff]),
            &key(4, I32),
            &[0; 4],
            &key(5, START_GROUP),
            &vi(5, 1),
            &key(5, END_GROUP),
            &key(21, END_GROUP),
        ]),
        // Inside a group, field numbers of the enclosing message are unknown fields too.
        cat(&[&key(22, START_GROUP), &vi(5, 1), &key(22, END_GROUP)]),
    ];
    for field in &unknown {
        // In a span, around its known fields; in the request; in an AnyValue.
        let span = with_span(&cat(&[field, &ld(5, b"name"), field]));
        assert_eq!(agree(Signal::Traces, &span), Ok(1), "{field:02x?}");
        let request = cat(&[field, &with_span(&[]), field]);
        assert_eq!(agree(Signal::Traces, &request), Ok(1), "{field:02x?}");
        let body = with_log(&ld(5, &cat(&[field, &ld(1, b"x")])));
        assert_eq!(agree(Signal::Logs, &body), Ok(1), "{field:02x?}");
        // Status field 1 is reserved: unknown.
        let status = with_span(&ld(15, field));
        assert_eq!(agree(Signal::Traces, &status), Ok(1), "{field:02x?}");
    }
}

#[test]
fn refuses_broken_groups() {
    let cases: Vec<(Vec<u8>, Problem)> = vec![
        // An end-group with no group.
        (key(99, END_GROUP), Problem::UnexpectedEndGroup),
        (
            key(5, END_GROUP),
            Problem::WrongWireType {
                actual: END_GROUP,
                expected: LEN,
            },
        ),
        // Closed by another field number.
        (
            cat(&[&key(99, START_GROUP), &key(98, END_GROUP)]),
            Problem::EndGroupMismatch { found: 98 },
        ),
        (
            cat(&[
                &key(99, START_GROUP),
                &key(98, START_GROUP),
                &key(99, END_GROUP),
                &key(98, END_GROUP),
            ]),
            Problem::EndGroupMismatch { found: 99 },
        ),
        // Not closed before the end of the span.
        (key(99, START_GROUP), Problem::UnterminatedGroup),
        (
            cat(&[&key(99, START_GROUP), &vi(1, 1)]),
            Problem::UnterminatedGroup,
        ),
        // A broken field inside.
        (
            cat(&[&key(99, START_GROUP), &key(1, I64), &[0; 7]]),
            Problem::Truncated {
                wire_type: I64,
                need: 8,
                left: 7,
            },
        ),
        (cat(&[&key(99, START_GROUP), &[0x00]]), Problem::FieldZero),
    ];
    for (span, expected) in cases {
        let bytes = with_span(&span);
        assert!(prost_count(Signal::Traces, &bytes).is_err(), "{span:02x?}");
        assert_eq!(problem(Signal::Traces, &bytes), expected, "{span:02x?}");
    }
    // A group closed only after the end of the span, in the next bytes of the request.
    let span = cat(&[&key(99, START_GROUP)]);
    let bytes = cat(&[&with_span(&span), &key(99, END_GROUP)]);
    assert!(prost_count(Signal::Traces, &bytes).is_err());
    assert_eq!(problem(Signal::Traces, &bytes), Problem::UnterminatedGroup);
}

#[test]
fn takes_repeated_scalars_packed_and_unpacked() {
    let point = |fields: &[u8]| with_metric(&ld(9, &ld(1, fields))); // Metric.histogram
    let fixed = |v: u64| v.to_le_bytes().to_vec();
    let bounds: Vec<u8> = [0.5f64, 1.0, 2.0]
        .iter()
        .flat_map(|f| f.to_le_bytes())
        .collect();
    let counts: Vec<u8> = [1u64, 2, 3, 4]
        .iter()
        .flat_map(|c| c.to_le_bytes())
        .collect();
    let accepted: Vec<Vec<u8>> = vec![
        // HistogramDataPoint.bucket_counts (fixed64) and explicit_bounds (double).
        ld(6, &counts),
        ld(7, &bounds),
        cat(&[&key(6, I64), &fixed(1), &key(6, I64), &fixed(2)]),
        cat(&[&key(7, I64), &fixed(1)]),
        // Mixed, and empty runs.
        cat(&[
            &ld(6, &counts),
            &key(6, I64),
            &fixed(9),
            &ld(6, &[]),
            &ld(7, &[]),
        ]),
    ];
    for fields in &accepted {
        assert_eq!(
            agree(Signal::Metrics, &point(fields)),
            Ok(1),
            "{fields:02x?}"
        );
    }
    let decoded = ExportMetricsServiceRequest::decode(&point(&accepted[4])[..]).unwrap();
    let Some(metric::Data::Histogram(h)) =
        &decoded.resource_metrics[0].scope_metrics[0].metrics[0].data
    else {
        panic!("{decoded:?}")
    };
    assert_eq!(h.data_points[0].bucket_counts, [1, 2, 3, 4, 9]);

    let refused: Vec<(Vec<u8>, Problem)> = vec![
        (ld(6, &[0; 12]), Problem::PackedLength { len: 12, width: 8 }),
        (ld(7, &[0; 7]), Problem::PackedLength { len: 7, width: 8 }),
        (
            cat(&[&key(6, I32), &[0; 4]]),
            Problem::WrongWireType {
                actual: I32,
                expected: I64,
            },
        ),
        (
            vi(7, 1),
            Problem::WrongWireType {
                actual: VARINT,
                expected: I64,
            },
        ),
        // Not repeated: HistogramDataPoint.count has no packed form.
        (
            ld(4, &fixed(1)),
            Problem::WrongWireType {
                actual: LEN,
                expected: I64,
            },
        ),
    ];
    for (fields, expected) in refused {
        let bytes = point(&fields);
        assert!(
            prost_count(Signal::Metrics, &bytes).is_err(),
            "{fields:02x?}"
        );
        assert_eq!(problem(Signal::Metrics, &bytes), expected, "{fields:02x?}");
    }

    // ExponentialHistogramDataPoint.Buckets.bucket_counts (uint64).
    let buckets = |fields: &[u8]| with_metric(&ld(10, &ld(1, &ld(8, fields))));
    let mut packed = Vec::new();
    for v in [0, 1, 300, u64::MAX] {
        put_varint(&mut packed, v);
    }
    for fields in [
        ld(2, &packed),
        cat(&[&vi(2, 5), &vi(2, u64::MAX)]),
        cat(&[&ld(2, &packed), &vi(2, 1), &vi(1, 3)]),
    ] {
        assert_eq!(
            agree(Signal::Metrics, &buckets(&fields)),
            Ok(1),
            "{fields:02x?}"
        );
    }
    for (fields, expected) in [
        // A varint cut off at the end of the run.
        (ld(2, &[0x01, 0x80]), Problem::InvalidVarint),
        (
            cat(&[&key(2, I64), &fixed(1)]),
            Problem::WrongWireType {
                actual: I64,
                expected: VARINT,
            },
        ),
    ] {
        let bytes = buckets(&fields);
        assert!(
            prost_count(Signal::Metrics, &bytes).is_err(),
            "{fields:02x?}"
        );
        assert_eq!(problem(Signal::Metrics, &bytes), expected);
    }
}

#[test]
fn reads_varints_as_prost_does() {
    let with_count = |v: &[u8]| with_span(&cat(&[&key(10, VARINT), v]));
    // Non-minimal encodings, the 10-byte maximum, u64::MAX.
    for ok in [
        vec![0x80, 0x00],
        vec![0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
        vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    ] {
        assert_eq!(agree(Signal::Traces, &with_count(&ok)), Ok(1), "{ok:02x?}");
    }
    for bad in [
        // 11 bytes.
        vec![
            0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
        ],
        // u64::MAX + 1.
        vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
        vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f],
        // Cut off by the end of the span.
        vec![0x80],
    ] {
        let bytes = with_count(&bad);
        assert!(prost_count(Signal::Traces, &bytes).is_err());
        assert_eq!(
            problem(Signal::Traces, &bytes),
            Problem::InvalidVarint,
            "{bad:02x?}"
        );
    }
    // A varint running on past its message into the next bytes of the request.
    let bytes = cat(&[&with_span(&[0x50, 0x80]), &[0x01]]);
    assert!(prost_count(Signal::Traces, &bytes).is_err());
    assert_eq!(problem(Signal::Traces, &bytes), Problem::InvalidVarint);

    // Keys: at most u32::MAX (a 5-byte varint), field number at least 1.
    let max_key = cat(&[&[0xfd, 0xff, 0xff, 0xff, 0x0f], &[0; 4]]); // field 2^29-1, I32
    assert_eq!(agree(Signal::Traces, &with_span(&max_key)), Ok(1));
    let wide_key = [0x80, 0x80, 0x80, 0x80, 0x10]; // 2^32, wire type 0
    let bytes = with_span(&cat(&[&wide_key, &[0]]));
    assert!(prost_count(Signal::Traces, &bytes).is_err());
    assert_eq!(
        problem(Signal::Traces, &bytes),
        Problem::InvalidKey { key: 1 << 32 }
    );
    for zero in [vec![0x00, 0x00], vec![0x02, 0x00], vec![0x80, 0x00, 0x00]] {
        let bytes = with_span(&zero);
        assert!(prost_count(Signal::Traces, &bytes).is_err());
        assert_eq!(problem(Signal::Traces, &bytes), Problem::FieldZero);
    }
}

#[test]
fn refuses_lengths_past_the_message() {
    // A string longer than what is left of the span, though not of the request.
    let span = cat(&[&key(5, LEN), &[10], b"abc"]);
    let bytes = cat(&[&with_span(&span), &[0; 10]]);
    assert!(prost_count(Signal::Traces, &bytes).is_err());
    let e = scan(Signal::Traces, &bytes).unwrap_err();
    assert_eq!(
        e.problem(),
        Problem::Truncated {
            wire_type: LEN,
            need: 10,
            left: 3
        }
    );
    assert_eq!(
        e.to_string(),
        "truncated length-delimited Span.name (field 5): 10 bytes, 3 left in the message at byte 6"
    );
    // The request cut anywhere.
    let full = rich_traces().encode_to_vec();
    let mut refused = 0;
    for cut in 0..full.len() {
        refused += agree(Signal::Traces, &full[..cut]).is_err() as usize;
    }
    // Cuts between two resources are whole requests.
    assert_eq!(refused, full.len() - 3);
    // A length of 2^64 - 1.
    let huge = with_span(&cat(&[&key(5, LEN), &[0xff; 9], &[0x01]]));
    assert!(matches!(
        problem(Signal::Traces, &huge),
        Problem::Truncated { need: u64::MAX, .. }
    ));
    let e = scan(Signal::Traces, &with_span(&cat(&[&key(16, I32), &[0; 3]]))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "truncated 32-bit Span.flags (field 16): 4 bytes, 3 left in the message at byte 6"
    );
}

/// A log record whose body is an AnyValue nested in `levels` array values.
fn nested_body(levels: usize) -> Vec<u8> {
    let mut value = AnyValue {
        value: Some(any_value::Value::StringValue("leaf".into())),
    };
    for _ in 0..levels {
        value = AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![value],
            })),
        };
    }
    LogRecord {
        body: Some(value),
        ..Default::default()
    }
    .encode_to_vec()
}

#[test]
fn refuses_nesting_deeper_than_the_limit() {
    // Request 0, ResourceLogs 1, ScopeLogs 2, LogRecord 3, body 4; each level adds an
    // ArrayValue and an AnyValue.
    let depth = |levels: usize| 4 + 2 * levels as u32;
    let mut prost_limit = None;
    for levels in 0..60 {
        let bytes = with_log(&nested_body(levels));
        let prost = prost_count(Signal::Logs, &bytes);
        match scan(Signal::Logs, &bytes) {
            Ok(n) => {
                assert!(depth(levels) <= MAX_DEPTH);
                assert_eq!(prost.unwrap(), n);
            }
            Err(e) => {
                assert_eq!(e.problem(), Problem::TooDeep, "{e}");
                assert!(depth(levels) > MAX_DEPTH, "{levels}");
                if prost.is_err() && prost_limit.is_none() {
                    prost_limit = Some(depth(levels));
                }
            }
        }
    }
    // prost 0.14 refuses a message at level 101: here the ArrayValue around an innermost
    // AnyValue at 102.
    assert_eq!(prost_limit, Some(102));
    let at_limit = with_log(&nested_body(30));
    assert_eq!(scan(Signal::Logs, &at_limit), Ok(1));
    // The AnyValue at level 64 may not hold an ArrayValue.
    let e = stricter(Signal::Logs, &with_log(&nested_body(31)));
    assert_eq!((e.message(), e.field()), ("AnyValue", 5));
    assert!(
        e.to_string().contains("nested deeper than 64 levels"),
        "{e}"
    );

    // A kvlist chain: KeyValueList, KeyValue, AnyValue per level.
    let mut value = AnyValue::default();
    for i in 0..25 {
        value = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![kv(&i.to_string(), Some(value))],
            })),
        };
    }
    let bytes = with_log(
        &LogRecord {
            body: Some(value),
            ..Default::default()
        }
        .encode_to_vec(),
    );
    assert_eq!(stricter(Signal::Logs, &bytes).problem(), Problem::TooDeep);

    // Groups: each nested group is one level. prost takes 100 levels of empty groups.
    let groups = |n: usize| {
        cat(&[
            &key(99, START_GROUP).repeat(n),
            &key(99, END_GROUP).repeat(n),
        ])
    };
    assert_eq!(agree(Signal::Traces, &groups(MAX_DEPTH as usize)), Ok(0));
    stricter(Signal::Traces, &groups(MAX_DEPTH as usize + 1));
    stricter(Signal::Traces, &groups(100));
    assert!(prost_count(Signal::Traces, &groups(101)).is_err());
    assert_eq!(problem(Signal::Traces, &groups(101)), Problem::TooDeep);
    // Inside a span (level 3), 61 more levels.
    let span = with_span(&groups(MAX_DEPTH as usize - 3));
    assert_eq!(agree(Signal::Traces, &span), Ok(1));
    stricter(Signal::Traces, &with_span(&groups(MAX_DEPTH as usize - 2)));
    // Far deeper than anything: no stack overflow.
    let deep = groups(100_000);
    assert_eq!(problem(Signal::Traces, &deep), Problem::TooDeep);
    // AnyValue.array_value, ArrayValue.values, ... 100 000 levels, built back to front.
    let mut back = Vec::new();
    for level in 0..100_000 {
        let mut len = Vec::new();
        put_varint(&mut len, back.len() as u64);
        back.extend(len.iter().rev());
        back.push(if level % 2 == 0 { 0x0a } else { 0x2a });
    }
    back.reverse();
    let bytes = with_log(&ld(5, &back));
    assert!(prost_count(Signal::Logs, &bytes).is_err());
    assert_eq!(problem(Signal::Logs, &bytes), Problem::TooDeep);
}

#[test]
fn error_messages_name_the_place() {
    let e = scan(Signal::Traces, &with_span(&ld(1, &[1; 5]))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Span.trace_id (field 1): 5 bytes, expected 16 (or none) at byte 6"
    );
    assert_eq!(e.offset(), 6);
    let e = scan(Signal::Traces, &with_span(&ld(9, &ld(1, &[0xff])))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid UTF-8 in KeyValue.key (field 1) at byte 8"
    );
    let e = scan(Signal::Traces, &ld(1, &cat(&[&key(3, LEN), &[5]]))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "truncated length-delimited ResourceSpans.schema_url (field 3): 5 bytes, 0 left in the message at byte 2"
    );
    let e = scan(Signal::Traces, &ld(1, &cat(&[&key(99, LEN), &[5]]))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "truncated length-delimited unknown field 99 of ResourceSpans: 5 bytes, 0 left in the message at byte 2"
    );
    let e = scan(Signal::Metrics, &[0x0f]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid wire type 7 (field 1) in ExportMetricsServiceRequest at byte 0"
    );
    let e = scan(Signal::Logs, &[0x80]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid or truncated varint in ExportLogsServiceRequest at byte 0"
    );
}

// ---------------------------------------------------------------------------------------
// The schema against the generated structs, field number by field number.

/// Decodes `bytes` as the struct `desc` stands for.
fn prost_accepts(desc: &Desc, bytes: &[u8]) -> bool {
    use crate::proto::tonic::trace::v1 as t;
    fn ok<M: Message + Default>(bytes: &[u8]) -> bool {
        M::decode(bytes).is_ok()
    }
    match desc.name {
        "ExportTraceServiceRequest" => ok::<ExportTraceServiceRequest>(bytes),
        "ResourceSpans" => ok::<ResourceSpans>(bytes),
        "ScopeSpans" => ok::<ScopeSpans>(bytes),
        "Span" => ok::<Span>(bytes),
        "Span.Event" => ok::<span::Event>(bytes),
        "Span.Link" => ok::<span::Link>(bytes),
        "Status" => ok::<t::Status>(bytes),
        "Resource" => ok::<Resource>(bytes),
        "EntityRef" => ok::<EntityRef>(bytes),
        "InstrumentationScope" => ok::<InstrumentationScope>(bytes),
        "KeyValue" => ok::<KeyValue>(bytes),
        "AnyValue" => ok::<AnyValue>(bytes),
        "ArrayValue" => ok::<ArrayValue>(bytes),
        "KeyValueList" => ok::<KeyValueList>(bytes),
        "ExportLogsServiceRequest" => ok::<ExportLogsServiceRequest>(bytes),
        "ResourceLogs" => ok::<ResourceLogs>(bytes),
        "ScopeLogs" => ok::<ScopeLogs>(bytes),
        "LogRecord" => ok::<LogRecord>(bytes),
        "ExportMetricsServiceRequest" => ok::<ExportMetricsServiceRequest>(bytes),
        "ResourceMetrics" => ok::<ResourceMetrics>(bytes),
        "ScopeMetrics" => ok::<ScopeMetrics>(bytes),
        "Metric" => ok::<Metric>(bytes),
        "Gauge" => ok::<Gauge>(bytes),
        "Sum" => ok::<Sum>(bytes),
        "Histogram" => ok::<Histogram>(bytes),
        "ExponentialHistogram" => ok::<ExponentialHistogram>(bytes),
        "Summary" => ok::<Summary>(bytes),
        "NumberDataPoint" => ok::<NumberDataPoint>(bytes),
        "HistogramDataPoint" => ok::<HistogramDataPoint>(bytes),
        "ExponentialHistogramDataPoint" => ok::<ExponentialHistogramDataPoint>(bytes),
        "ExponentialHistogramDataPoint.Buckets" => {
            ok::<exponential_histogram_data_point::Buckets>(bytes)
        }
        "SummaryDataPoint" => ok::<SummaryDataPoint>(bytes),
        "SummaryDataPoint.ValueAtQuantile" => ok::<summary_data_point::ValueAtQuantile>(bytes),
        "Exemplar" => ok::<Exemplar>(bytes),
        other => panic!("no struct for {other}"),
    }
}

/// Every message the three requests reach, through the schema.
fn all_descs() -> Vec<&'static Desc> {
    let mut out: Vec<&'static Desc> = vec![&TRACE_REQUEST, &METRICS_REQUEST, &LOGS_REQUEST];
    let mut i = 0;
    while i < out.len() {
        for field in out[i].fields {
            if let Kind::Msg(d) | Kind::Item(d) | Kind::Data(d) = field.kind {
                if !out.iter().any(|known| std::ptr::eq(*known, d)) {
                    out.push(d);
                }
            }
        }
        i += 1;
    }
    out
}

#[test]
fn schema_matches_the_generated_structs() {
    let descs = all_descs();
    assert_eq!(descs.len(), 34);
    // One field of each wire type, with payloads that tell the field types apart: UTF-8
    // or not, id lengths, whole packed fixed64 runs or not, packed varints or not, valid
    // nested messages or not.
    let payloads: Vec<Vec<u8>> = vec![
        vec![],
        b"ab".to_vec(),
        vec![0xff],
        vec![0x08, 0x01],
        vec![0x0d, 0, 0, 0, 0],
        vec![0x11, 0, 0, 0, 0, 0, 0, 0, 0],
        vec![0x0a, 0x00],
        vec![0x12, 0x00],
        vec![0x80],
        vec![1; 8],
        vec![1; 16],
        vec![1; 5],
        vec![0x7f; 16],
    ];
    let mut probes: Vec<(u8, Vec<u8>)> = vec![
        (VARINT, vec![0x00]),
        (VARINT, vec![0x96, 0x01]),
        (I64, vec![0; 8]),
        (I32, vec![0; 4]),
        (START_GROUP, vec![]),
        (END_GROUP, vec![]),
        (6, vec![]),
    ];
    for p in payloads {
        let mut v = Vec::new();
        put_varint(&mut v, p.len() as u64);
        v.extend(p);
        probes.push((LEN, v));
    }
    let mut checked = 0;
    for desc in descs {
        // The table has no field a struct lacks, and vice versa.
        for tag in 1..=20u32 {
            for (wire_type, rest) in &probes {
                let mut bytes = key(tag, *wire_type);
                bytes.extend(rest);
                if *wire_type == START_GROUP {
                    bytes.extend(key(tag, END_GROUP));
                }
                let scanner = fresh(&bytes);
                let ours = scanner
                    .message(&bytes, desc, 0)
                    .map_err(|Failed| scanner.error.get().unwrap());
                let theirs = prost_accepts(desc, &bytes);
                match ours {
                    Ok(_) => assert!(theirs, "{}: {bytes:02x?}", desc.name),
                    Err(e) if theirs => assert!(
                        matches!(e.problem(), Problem::IdLength { .. }),
                        "{}: {e}: {bytes:02x?}",
                        desc.name
                    ),
                    Err(_) => {}
                }
                checked += 1;
            }
        }
        // Field names are unique in a message.
        let names: Vec<&str> = desc
            .fields
            .iter()
            .map(|f| f.name)
            .filter(|n| !n.is_empty())
            .collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(names.len(), unique.len(), "{}", desc.name);
    }
    assert_eq!(checked, 34 * 20 * 20);
}

// ---------------------------------------------------------------------------------------
// Differential test against prost on mutated requests.

use crate::testing::random::Rng;

/// A request parsed generically into fields, length-delimited ones that parse as messages
/// kept as trees, so that mutations can move whole fields and re-encode the lengths.
#[derive(Clone, Debug)]
enum Node {
    /// A whole field, key included.
    Leaf(Vec<u8>),
    /// The key of a length-delimited field, and its payload's fields.
    Msg(Vec<u8>, Vec<Node>),
}

fn parse(mut b: &[u8], depth: usize) -> Option<Vec<Node>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let start = b;
        let k = varint(&mut b)?;
        let key_bytes = start[..start.len() - b.len()].to_vec();
        match (k & 7) as u8 {
            VARINT => {
                varint(&mut b)?;
            }
            I64 => {
                take(&mut b, 8)?;
            }
            I32 => {
                take(&mut b, 4)?;
            }
            LEN => {
                let len = varint(&mut b)?;
                let payload = take(&mut b, len)?;
                if depth < 12 && !payload.is_empty() {
                    if let Some(children) = parse(payload, depth + 1) {
                        out.push(Node::Msg(key_bytes, children));
                        continue;
                    }
                }
            }
            _ => return None,
        }
        out.push(Node::Leaf(start[..start.len() - b.len()].to_vec()));
    }
    Some(out)
}

fn encode(nodes: &[Node], out: &mut Vec<u8>) {
    for node in nodes {
        match node {
            Node::Leaf(bytes) => out.extend_from_slice(bytes),
            Node::Msg(key, children) => {
                let mut payload = Vec::new();
                encode(children, &mut payload);
                out.extend_from_slice(key);
                put_varint(out, payload.len() as u64);
                out.extend(payload);
            }
        }
    }
}

fn count_nodes(nodes: &[Node]) -> usize {
    nodes
        .iter()
        .map(|n| match n {
            Node::Leaf(_) => 1,
            Node::Msg(_, c) => 1 + count_nodes(c),
        })
        .sum()
}

/// A field-level change at one node, made while encoding, so that every length is right.
enum Op<'t> {
    Delete,
    /// Repeats a non-repeated field, merges a oneof, doubles a message or an item.
    Duplicate,
    /// A field from elsewhere, in a message that may not have it.
    Insert(&'t Node),
    /// Another field number or wire type, same payload.
    Rekey(u64),
    /// Swaps the node with its next sibling.
    Swap,
    /// Replaces a message by one of its fields, one level up.
    Hoist(usize),
}

/// Encodes `nodes` with `op` applied at pre-order node `target` (`next` counts nodes).
fn encode_with(nodes: &[Node], target: usize, next: &mut usize, op: &Op, out: &mut Vec<u8>) {
    let mut i = 0;
    while i < nodes.len() {
        let node = &nodes[i];
        i += 1;
        let here = *next == target;
        *next += 1;
        if !here {
            match node {
                Node::Leaf(bytes) => out.extend_from_slice(bytes),
                Node::Msg(key, children) => {
                    let mut payload = Vec::new();
                    encode_with(children, target, next, op, &mut payload);
                    out.extend_from_slice(key);
                    put_varint(out, payload.len() as u64);
                    out.extend(payload);
                }
            }
            continue;
        }
        let plain = |n: &Node, out: &mut Vec<u8>| encode(std::slice::from_ref(n), out);
        let (key_bytes, children) = match node {
            Node::Leaf(b) => (b, None),
            Node::Msg(k, c) => (k, Some(c)),
        };
        match op {
            Op::Delete => {}
            Op::Duplicate => {
                plain(node, out);
                plain(node, out);
            }
            Op::Insert(other) => {
                plain(other, out);
                plain(node, out);
            }
            Op::Rekey(key) => {
                let mut rest = &key_bytes[..];
                varint(&mut rest);
                let mut new_key = Vec::new();
                put_varint(&mut new_key, *key);
                new_key.extend_from_slice(rest);
                match children {
                    None => plain(&Node::Leaf(new_key), out),
                    Some(c) => plain(&Node::Msg(new_key, c.clone()), out),
                }
            }
            Op::Swap => {
                if let Some(sibling) = nodes.get(i) {
                    plain(sibling, out);
                    i += 1;
                }
                plain(node, out);
            }
            Op::Hoist(j) => match children {
                Some(c) if !c.is_empty() => plain(&c[j % c.len()], out),
                _ => plain(node, out),
            },
        }
        // The node's descendants are not targets any more.
        *next += children.map_or(0, |c| count_nodes(c));
    }
}

/// `tree` re-encoded with one random field-level change.
fn mutate_tree(tree: &[Node], flat: &[&Node], rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    if flat.is_empty() {
        return vi(1 + rng.below(20) as u32, 1);
    }
    let target = rng.below(flat.len());
    let key = match flat[target] {
        Node::Leaf(b) | Node::Msg(b, _) => varint(&mut &b[..]).unwrap_or(0),
    };
    let op = match rng.below(7) {
        0 => Op::Delete,
        1 => Op::Duplicate,
        2 => Op::Insert(flat[rng.below(flat.len())]),
        3 => {
            const TAGS: [u64; 17] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 99];
            Op::Rekey(TAGS[rng.below(TAGS.len())] << 3 | (key & 7))
        }
        4 => Op::Rekey((key & !7) | rng.below(8) as u64),
        5 => Op::Swap,
        _ => Op::Hoist(rng.below(8)),
    };
    encode_with(tree, target, &mut 0, &op, &mut out);
    out
}

fn flatten<'t>(nodes: &'t [Node], out: &mut Vec<&'t Node>) {
    for node in nodes {
        out.push(node);
        if let Node::Msg(_, children) = node {
            flatten(children, out);
        }
    }
}

/// Byte-level damage: the lengths are not fixed.
fn mutate_bytes(bytes: &mut Vec<u8>, rng: &mut Rng) {
    const INTERESTING: [u8; 10] = [0x00, 0x01, 0x02, 0x07, 0x0f, 0x7f, 0x80, 0xc0, 0xfe, 0xff];
    if bytes.is_empty() {
        bytes.push(rng.byte());
        return;
    }
    let at = rng.below(bytes.len());
    match rng.below(9) {
        0 => bytes[at] ^= 1 << rng.below(8),
        1 => bytes[at] = INTERESTING[rng.below(INTERESTING.len())],
        2 => bytes[at] = rng.byte(),
        3 => {
            let n = 1 + rng.below(4);
            for _ in 0..n {
                bytes.insert(at, rng.byte());
            }
        }
        4 => {
            let n = (1 + rng.below(8)).min(bytes.len() - at);
            bytes.drain(at..at + n);
        }
        5 => bytes.truncate(at),
        // Wire type of what may be a key.
        6 => bytes[at] = (bytes[at] & !7) | rng.below(8) as u8,
        // What may be a length prefix, one up or down.
        7 => {
            bytes[at] = if rng.below(2) == 0 {
                bytes[at].wrapping_add(1)
            } else {
                bytes[at].wrapping_sub(1)
            }
        }
        _ => {
            let n = (1 + rng.below(16)).min(bytes.len() - at);
            let copy = bytes[at..at + n].to_vec();
            let to = rng.below(bytes.len());
            bytes.splice(to..to, copy);
        }
    }
}

/// An attribute edit of accepted (possibly non-canonical) bytes through the wire form
/// decodes to what the same edit of the decoded request gives; only bytes the walk cannot
/// read (groups) are left to the decoded path.
fn edit_agrees(signal: Signal, bytes: &[u8], rng: &mut Rng) {
    use crate::testing::random;
    let seed = rng.next_u64();
    let Some(edited) =
        crate::wire_edit::edit_item_attributes(bytes, signal, &mut |m| random::edit(seed, m))
    else {
        return;
    };
    let ctx = crate::RequestContext::default;
    let mut expected = crate::Batch::decode(signal, bytes, ctx()).unwrap();
    expected.data(); // decoded: the edit takes the decoded path
    expected.edit_item_attributes(|m| random::edit(seed, m));
    let got = crate::Batch::decode(signal, edited.as_deref().unwrap_or(bytes), ctx())
        .expect("the edited bytes scan");
    // compared encoded: a NaN is not equal to itself
    let encoded = |d: &crate::BatchData| crate::Batch::new(d.clone(), ctx()).encode();
    assert!(
        encoded(got.data()) == encoded(expected.data()),
        "{signal}: the wire edit of {bytes:02x?} decodes differently"
    );
}

/// `cases` mutations of the seeds of `signal`: `scan` must accept only what prost accepts,
/// with prost's count, and refuse what prost refuses. The problems `scan` found are returned
/// by name with their number.
fn differential(signal: Signal, cases: usize, rng: &mut Rng) -> BTreeMap<String, usize> {
    let seeds: Vec<(Vec<u8>, Vec<Node>)> = seeds()
        .into_iter()
        .filter(|(s, _)| *s == signal)
        .map(|(_, bytes)| {
            let tree = parse(&bytes, 0).unwrap();
            let mut again = Vec::new();
            encode(&tree, &mut again);
            assert_eq!(again, bytes);
            assert!(agree(signal, &bytes).is_ok());
            (bytes, tree)
        })
        .collect();
    let flat: Vec<Vec<&Node>> = seeds
        .iter()
        .map(|(_, tree)| {
            let mut flat = Vec::new();
            flatten(tree, &mut flat);
            flat
        })
        .collect();
    let (mut both_ok, mut both_err, mut only_scan) = (0, 0, 0);
    let mut problems = BTreeMap::new();
    for _ in 0..cases {
        let which = rng.below(seeds.len());
        let (seed, tree) = &seeds[which];
        let mut bytes = match rng.below(4) {
            0 => seed.clone(),
            _ => mutate_tree(tree, &flat[which], rng),
        };
        for _ in 0..rng.below(3) {
            mutate_bytes(&mut bytes, rng);
        }
        let ours = scan(signal, &bytes);
        match (ours, prost_count(signal, &bytes)) {
            (Ok(n), Ok(m)) => {
                assert_eq!(n, m, "item count of {signal} {bytes:02x?}");
                if rng.one_in(3) {
                    edit_agrees(signal, &bytes, rng);
                }
                both_ok += 1;
            }
            (Ok(_), Err(e)) => panic!("prost refuses ({e}) what scan accepts: {bytes:02x?}"),
            (Err(e), Ok(_)) => {
                assert!(
                    matches!(e.problem(), Problem::IdLength { .. } | Problem::TooDeep),
                    "scan refuses ({e}) what prost accepts: {bytes:02x?}"
                );
                only_scan += 1;
            }
            (Err(e), Err(_)) => {
                let name = format!("{:?}", e.problem());
                let name = name.split([' ', '{']).next().unwrap_or("").to_string();
                *problems.entry(name).or_insert(0) += 1;
                both_err += 1;
            }
        }
    }
    // The cases are varied enough to mean something.
    assert!(both_ok > cases / 5, "{both_ok} accepted");
    assert!(both_err > cases / 5, "{both_err} refused");
    assert!(only_scan > cases / 1000, "{only_scan} only refused by scan");
    for p in [
        "InvalidVarint",
        "InvalidWireType",
        "FieldZero",
        "WrongWireType",
        "Truncated",
        "InvalidUtf8",
        "UnexpectedEndGroup",
        "EndGroupMismatch",
        "UnterminatedGroup",
    ] {
        assert!(
            problems.get(p).copied().unwrap_or(0) > 0,
            "{p} never seen: {problems:?}"
        );
    }
    problems
}

#[test]
fn agrees_with_prost_on_mutated_traces() {
    differential(Signal::Traces, 70_000, &mut Rng(0x7ace5));
}

#[test]
fn agrees_with_prost_on_mutated_metrics() {
    let problems = differential(Signal::Metrics, 70_000, &mut Rng(0x3e7a1c5));
    assert!(
        problems.get("PackedLength").copied().unwrap_or(0) > 0,
        "{problems:?}"
    );
}

#[test]
fn agrees_with_prost_on_mutated_logs() {
    differential(Signal::Logs, 60_000, &mut Rng(0x1095));
}

#[test]
fn key_value_fast_path_agrees_with_the_generic_loop() {
    let keys: Vec<Vec<u8>> = vec![
        ld(1, b"http.method"),
        ld(1, b""),
        ld(1, &[b'k'; 200]),
        ld(1, b"\xff"),
        cat(&[&key(1, LEN), &[0x05], b"ab"]),
        vec![],
    ];
    let f64_bytes = 1.5f64.to_le_bytes();
    let values: Vec<Vec<u8>> = vec![
        vec![],
        ld(1, b"GET"),
        ld(1, &[b'v'; 130]),
        ld(1, b"\xc3"),
        vi(2, 1),
        vi(3, u64::MAX),
        cat(&[&[0x18], &[0xff; 10]]),
        // two-byte ints, whole, cut, and followed by a stray byte
        vi(3, 8080),
        vec![0x18, 0x80],
        cat(&[&vi(3, 8080), &[0x01]]),
        cat(&[&key(4, I64), &f64_bytes]),
        cat(&[&key(4, I64), &f64_bytes[..7]]),
        ld(5, &ld(1, &ld(1, b"x"))),
        ld(6, &ld(1, &ld(1, b"k"))),
        cat(&[&ld(1, b"a"), &vi(3, 1)]),
        vi(99, 1),
        ld(7, b"\xff"),
        vi(8, 3),
        // A simple value followed by a broken field.
        cat(&[&ld(1, b"a"), &[0x0f]]),
        cat(&[&vi(3, 1), &[0x0f]]),
        cat(&[&key(4, I64), &f64_bytes, &[0x0f]]),
        ld(1, b"0123456\xff89"),
    ];
    let trailers: Vec<Vec<u8>> = vec![
        vec![],
        vi(3, 7),
        ld(1, b"again"),
        ld(2, &ld(1, b"again")),
        vi(99, 1),
        vec![0x1a],
    ];
    let mut checked = 0;
    for k in &keys {
        for v in &values {
            for value in [ld(2, v), vec![]] {
                for t in &trailers {
                    let kv = cat(&[k, &value, t]);
                    for depth in [1, MAX_DEPTH - 1, MAX_DEPTH] {
                        let (generic, fast) = (fresh(&kv), fresh(&kv));
                        let g = generic.message(&kv, &KEY_VALUE, depth);
                        let f = fast.key_value(&kv, depth);
                        assert_eq!(g.is_ok(), f.is_ok(), "{kv:02x?} at {depth}");
                        assert_eq!(generic.error.get(), fast.error.get(), "{kv:02x?}");
                        checked += 1;
                    }
                    // And through a whole request, against prost.
                    let _ = agree(Signal::Traces, &with_span(&ld(9, &kv)));
                }
            }
        }
    }
    assert_eq!(checked, 6 * 22 * 2 * 6 * 3);
}

/// One of `options`: mostly one of the first two (a field missing or as usual), otherwise
/// any.
fn usual_or_any<'o>(rng: &mut Rng, options: &'o [Vec<u8>]) -> &'o [u8] {
    if rng.one_in(8) {
        rng.pick(options).as_slice()
    } else {
        &options[rng.below(2)]
    }
}

/// Random items made of a choice from each of `fields` in turn, some cut anywhere: the
/// item's fast path (spans', log records') and the generic loop give the same result and
/// the same error at several depths, and the request holding the item agrees with prost
/// (which takes ids of any length).
fn fast_path_agrees(signal: Signal, fields: &[&[Vec<u8>]], rng: &mut Rng) {
    let desc: &'static Desc = match signal {
        Signal::Traces => &SPAN,
        Signal::Logs => &LOG_RECORD,
        Signal::Metrics => unreachable!("no fast path"),
    };
    let (mut checked, mut refused) = (0, 0);
    for _ in 0..20_000 {
        let mut item: Vec<u8> = fields
            .iter()
            .flat_map(|f| usual_or_any(rng, f).to_vec())
            .collect();
        if rng.one_in(4) && !item.is_empty() {
            item.truncate(rng.below(item.len()));
        }
        for depth in [3, MAX_DEPTH - 1, MAX_DEPTH] {
            let (generic, fast) = (fresh(&item), fresh(&item));
            let g = generic.message(&item, desc, depth);
            let f = match signal {
                Signal::Traces => fast.span(&item, depth),
                _ => fast.log_record(&item, depth),
            };
            assert_eq!(g.is_ok(), f.is_ok(), "{item:02x?} at {depth}");
            assert_eq!(generic.error.get(), fast.error.get(), "{item:02x?}");
            refused += usize::from(g.is_err());
            checked += 1;
        }
        let request = match signal {
            Signal::Traces => with_span(&item),
            _ => with_log(&item),
        };
        match (scan(signal, &request), prost_count(signal, &request)) {
            (Ok(n), Ok(m)) => assert_eq!(n, m, "{item:02x?}"),
            (Err(_), Err(_)) => {}
            (Err(e), Ok(_)) => assert!(
                matches!(e.problem(), Problem::IdLength { .. }),
                "scan refuses what prost accepts ({e}): {item:02x?}"
            ),
            (Ok(_), Err(e)) => panic!("scan accepts what prost refuses ({e}): {item:02x?}"),
        }
    }
    // both outcomes are well represented
    assert!(
        refused > checked / 10 && refused < checked * 9 / 10,
        "{refused} of {checked}"
    );
}

/// A fixed-width field of `n` bytes (the 64-bit wire type whatever `n`, so that a wrong
/// width is a truncation or a stray byte).
fn fixed(tag: u32, n: usize) -> Vec<u8> {
    cat(&[&key(tag, I64), &vec![7u8; n]])
}

/// Attribute lists as field `tag`: none, usual, a long entry, a two-byte int, broken ones.
fn attribute_runs(tag: u32) -> Vec<Vec<u8>> {
    let entry = |k: &[u8], v: &[u8]| ld(tag, &cat(&[&ld(1, k), &ld(2, v)]));
    vec![
        vec![],
        cat(&[&entry(b"http.route", &ld(1, b"/x")), &ld(tag, &ld(1, b"k"))]),
        entry(b"db.statement", &ld(1, &[b'q'; 140])),
        entry(b"port", &vi(3, 8080)),
        ld(tag, &cat(&[&key(1, LEN), &[0x05], b"ab"])),
        ld(tag, &ld(1, b"\xc3")),
        cat(&[&key(tag, LEN), &[0x05], &ld(1, b"ab")]),
    ]
}

/// Fields that may follow an item's usual run: as usual, unusual, or broken.
fn tails(usual: Vec<u8>, repeated_id: Vec<u8>, late_attribute: Vec<u8>) -> Vec<Vec<u8>> {
    vec![
        vec![],
        usual,
        vi(1, 5),
        repeated_id,
        late_attribute,
        vec![0x0f],
        vec![0x4a],
    ]
}

#[test]
fn span_fast_path_agrees_with_the_generic_loop() {
    let attributes = attribute_runs(9);
    fast_path_agrees(
        Signal::Traces,
        &[
            &[
                vec![],
                ld(1, &[1; 16]),
                ld(1, &[]),
                ld(1, &[1; 15]),
                ld(1, &[1; 17]),
            ],
            &[vec![], ld(2, &[2; 8]), ld(2, &[]), ld(2, &[2; 7]), vi(2, 8)],
            &[vec![], ld(3, b"k=v"), ld(3, b"\xff"), ld(3, &[b's'; 130])],
            &[vec![], ld(4, &[4; 8]), ld(4, &[]), ld(4, &[4; 9])],
            &[
                vec![],
                ld(5, b"GET /users/{id}"),
                ld(5, b"ab\xffcdefghij"),
                ld(5, &[b'n'; 200]),
            ],
            &[
                vec![],
                vi(6, 2),
                // a two-byte value whose first byte is 0x80
                vi(6, 128),
                vi(6, 300),
                vi(6, u64::MAX),
                cat(&[&[0x30], &[0xff; 11]]),
            ],
            &[
                vec![],
                cat(&[&fixed(7, 8), &fixed(8, 8)]),
                fixed(7, 8),
                fixed(8, 7),
            ],
            &attributes,
            &attributes,
            &tails(
                cat(&[&ld(15, &vi(3, 2)), &key(16, I32), &[1, 1, 0, 0]]),
                ld(1, &[1; 16]),
                ld(9, &ld(1, b"late")),
            ),
        ],
        &mut Rng(0x5ba4),
    );
}

#[test]
fn log_record_fast_path_agrees_with_the_generic_loop() {
    let attributes = attribute_runs(6);
    let fixed32 = |tag: u32, n: usize| cat(&[&key(tag, I32), &vec![1u8; n]]);
    fast_path_agrees(
        Signal::Logs,
        &[
            &[vec![], fixed(1, 8), fixed(1, 4)],
            &[
                vec![],
                vi(2, 9),
                vi(2, 128),
                vi(2, 300),
                cat(&[&[0x10], &[0xff; 11]]),
            ],
            &[vec![], ld(3, b"INFO"), ld(3, b"\xff"), ld(3, &[b'W'; 128])],
            &[
                vec![],
                ld(5, &ld(1, b"GET /users/42 200")),
                ld(5, &ld(1, &[b'l'; 300])),
                ld(5, &ld(1, b"caf\xc3")),
                ld(5, &vi(3, 7)),
                ld(5, &ld(6, &ld(1, &ld(1, b"k")))),
                ld(5, &[]),
                ld(5, &cat(&[&ld(1, b"a"), &vi(3, 1)])),
                ld(5, &cat(&[&ld(1, b"a"), &[0x0f]])),
                cat(&[&[0x2a, 0x90], &ld(1, b"short")]),
            ],
            &attributes,
            &attributes,
            &[vec![], vi(7, 1), vi(7, 1000)],
            &[vec![], fixed32(8, 4), fixed32(8, 3)],
            &[vec![], ld(9, &[9; 16]), ld(9, &[]), ld(9, &[9; 8])],
            &[vec![], ld(10, &[1; 8]), ld(10, &[]), ld(10, &[1; 16])],
            &[vec![], fixed(11, 8), fixed(11, 2)],
            &[vec![], ld(12, b"user.login"), ld(12, b"\xfe")],
            &tails(ld(12, b"again"), ld(9, &[9; 16]), ld(6, &ld(1, b"late"))),
        ],
        &mut Rng(0x1095b),
    );
}

// ---------------------------------------------------------------------------------------
// The batch's encoder of decoded data (crate::encode) against prost's.

#[test]
fn batch_encoding_of_decoded_data_is_byte_identical_to_prost() {
    use crate::Batch;
    let mut cases: Vec<(Vec<u8>, Batch)> = vec![
        (
            rich_traces().encode_to_vec(),
            Batch::from_traces(rich_traces()),
        ),
        (rich_logs().encode_to_vec(), Batch::from_logs(rich_logs())),
        (
            rich_metrics().encode_to_vec(),
            Batch::from_metrics(rich_metrics()),
        ),
    ];
    // Missing resource and scope, empty levels, schema urls only.
    let sparse = ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans::default(),
            ResourceSpans {
                scope_spans: vec![
                    ScopeSpans::default(),
                    ScopeSpans {
                        schema_url: "s".into(),
                        spans: vec![Span::default(), rich_span(3)],
                        ..Default::default()
                    },
                ],
                schema_url: "r".into(),
                ..Default::default()
            },
        ],
    };
    cases.push((sparse.encode_to_vec(), Batch::from_traces(sparse)));
    for (signal, bytes) in spec_examples() {
        let decoded = Batch::decode(signal, &bytes, Default::default()).unwrap();
        let data = decoded.data().clone();
        cases.push((bytes, Batch::new(data, Default::default())));
    }
    for (want, batch) in cases {
        assert!(!batch.is_wire());
        assert_eq!(batch.encode(), want, "{:?}", batch.signal());
        assert_eq!(batch.encode_bytes().to_vec(), want);
        assert_eq!(batch.encoded_len(), want.len());
    }
}

/// The item walk over a metric whose `data` oneof occurs several times: the metric handed
/// over has the kind and header prost decodes, an edited metric keeps the occurrences in
/// their order (so the same one still wins), and a dropped one counts the data points
/// prost would hold.
#[test]
fn the_item_walk_reads_and_keeps_a_metric_s_data_as_prost_decodes_it() {
    use crate::wire_items::{filter_items, Level};
    let point = |v: i64| NumberDataPoint {
        value: Some(number_data_point::Value::AsInt(v)),
        ..Default::default()
    };
    let gauge = |n: i64| {
        Gauge {
            data_points: (0..n).map(point).collect(),
        }
        .encode_to_vec()
    };
    let sum = |n: i64, temporality: i32, monotonic: bool| {
        Sum {
            data_points: (0..n).map(point).collect(),
            aggregation_temporality: temporality,
            is_monotonic: monotonic,
        }
        .encode_to_vec()
    };
    // (the metric's bytes, the kind and header the walk hands over)
    let cases: Vec<(Vec<u8>, Option<metric::Data>)> = vec![
        // gauge, sum, gauge: the last gauge alone (1 point)
        (
            cat(&[
                &ld(1, b"g"),
                &ld(5, &gauge(3)),
                &ld(7, &sum(2, 1, true)),
                &ld(5, &gauge(1)),
                &ld(12, &KeyValue::default().encode_to_vec()),
            ]),
            Some(metric::Data::Gauge(Gauge::default())),
        ),
        // two sums merged: 5 points, the temporality of the second, monotonic from the first
        (
            cat(&[
                &ld(1, b"s"),
                &ld(5, &gauge(4)),
                &ld(7, &sum(2, 1, true)),
                &ld(7, &sum(3, 2, false)),
            ]),
            Some(metric::Data::Sum(Sum {
                aggregation_temporality: 2,
                is_monotonic: true,
                ..Default::default()
            })),
        ),
        (ld(1, b"none"), None),
    ];
    for (m, header) in cases {
        let bytes = with_metric(&m);
        let want = ExportMetricsServiceRequest::decode(&bytes[..]).unwrap();
        let points = scan(Signal::Metrics, &bytes).unwrap();
        // renamed: decodes as the renamed original
        let out = filter_items::<Metric>(&bytes, Level::Item, false, &mut |parts| {
            let item = parts.item.expect("an item");
            assert_eq!(item.item.data, header);
            item.item.name.push('x');
            *item.changed = true;
            Ok(())
        })
        .unwrap();
        let got = ExportMetricsServiceRequest::decode(&out.0.expect("changed")[..]).unwrap();
        let mut renamed = want.clone();
        renamed.resource_metrics[0].scope_metrics[0].metrics[0]
            .name
            .push('x');
        assert_eq!(got, renamed);
        assert_eq!(scan(Signal::Metrics, &got.encode_to_vec()).unwrap(), points);
        // dropped: its points counted
        let (_, dropped) = filter_items::<Metric>(&bytes, Level::Item, true, &mut |parts| {
            *parts.drop = true;
            Ok(())
        })
        .unwrap();
        assert_eq!(dropped, points);
    }
}

/// The item walk hands over a span's status as prost decodes it, whatever the status field
/// holds: nothing, either field, both in either order, a status field twice (merged), a
/// field prost does not know, a negative code.
#[test]
fn the_item_walk_reads_a_span_s_status_as_prost_decodes_it() {
    use crate::wire_items::{filter_items, Level};
    let name = ld(5, b"op");
    let statuses: Vec<Vec<u8>> = vec![
        ld(15, b""),
        ld(15, &vi(3, 2)),
        ld(15, &cat(&[&ld(2, b"boom"), &vi(3, 2)])),
        ld(15, &cat(&[&vi(3, 1), &ld(2, b"late")])),
        cat(&[
            &ld(15, &cat(&[&ld(2, b"a"), &vi(3, 2)])),
            &ld(15, &vi(3, 1)),
        ]),
        ld(15, &cat(&[&vi(1, 5), &vi(3, 2)])),
        ld(15, &vi(3, u64::MAX)),
        ld(15, &cat(&[&ld(2, b"x"), &ld(2, b"y")])),
        Vec::new(),
    ];
    for status in statuses {
        let bytes = with_span(&cat(&[&name, &status, &vi(6, 2)]));
        let want = ExportTraceServiceRequest::decode(&bytes[..]).unwrap();
        let want = want.resource_spans[0].scope_spans[0].spans[0]
            .status
            .clone();
        let mut seen = Vec::new();
        filter_items::<Span>(&bytes, Level::Item, false, &mut |parts| {
            let item = parts.item.expect("an item");
            seen.push((item.item.status.clone(), item.item.kind));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![(want, 2)], "{status:02x?}");
    }
}

/// The item walk hands over a log record's body as prost decodes it: a string, a body
/// twice (the later one's value), a value of another type, a body with two fields, none.
#[test]
fn the_item_walk_reads_a_log_record_s_body_as_prost_decodes_it() {
    use crate::wire_items::{filter_items, Level};
    let bodies: Vec<Vec<u8>> = vec![
        ld(5, &ld(1, b"hello")),
        ld(5, &ld(1, b"")),
        ld(5, b""),
        cat(&[&ld(5, &ld(1, b"first")), &ld(5, &ld(1, b"second"))]),
        cat(&[&ld(5, &ld(1, b"first")), &ld(5, &vi(3, 7))]),
        ld(5, &vi(3, 7)),
        ld(5, &cat(&[&ld(1, b"a"), &ld(1, b"b")])),
        ld(5, &cat(&[&ld(1, b"a"), &vi(3, 7)])),
        Vec::new(),
    ];
    for body in bodies {
        let bytes = with_log(&cat(&[&vi(2, 9), &body, &ld(3, b"INFO")]));
        let want = ExportLogsServiceRequest::decode(&bytes[..]).unwrap();
        let want = &want.resource_logs[0].scope_logs[0].log_records[0];
        let mut seen = Vec::new();
        filter_items::<LogRecord>(&bytes, Level::Item, false, &mut |parts| {
            let item = parts.item.expect("an item");
            seen.push((item.item.body.clone(), item.item.severity_text.clone()));
            Ok(())
        })
        .unwrap();
        let want = vec![(want.body.clone(), want.severity_text.clone())];
        assert_eq!(seen, want, "{body:02x?}");
    }
}

/// A span of which only the attributes change keeps its other bytes as they came, the
/// attributes written in place of their run: byte for byte prost's encoding when prost
/// wrote the span; decoding as the decoded edit when its fields came in another order,
/// when another field splits its attributes, or when it had none.
#[test]
fn an_item_whose_attributes_alone_change_keeps_its_other_bytes() {
    use crate::attrs::AttrMap;
    use crate::wire_items::{edit_items, Level, WireMap};
    let kv = |k: &str, v: any_value::Value| KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    };
    let s = |v: &str| any_value::Value::StringValue(v.into());
    let (a, b) = (
        ld(9, &kv("a", s("1")).encode_to_vec()),
        ld(9, &kv("b", s("2")).encode_to_vec()),
    );
    let c = kv("c", any_value::Value::IntValue(7));
    let (name, kind, events) = (ld(5, b"op"), vi(6, 2), ld(11, &ld(2, b"ev")));
    // (the span's bytes, the edited span's bytes when they are not prost's)
    let cases: Vec<(Vec<u8>, Option<Vec<u8>>)> = vec![
        (cat(&[&name, &kind, &a, &b, &vi(10, 3), &events]), None),
        // the attributes first and last in the span
        (cat(&[&a, &b]), None),
        // another order: the other fields kept as they came, the attributes in their place
        (
            cat(&[&events, &a, &b, &name, &vi(6, 1), &kind]),
            Some(cat(&[
                &events,
                &b,
                &ld(9, &c.encode_to_vec()),
                &name,
                &vi(6, 1),
                &kind,
            ])),
        ),
        // a field between the attributes: written as prost writes it
        (cat(&[&name, &a, &kind, &b]), None),
        // no attributes: written as prost writes it
        (cat(&[&name, &kind, &events]), None),
    ];
    for (span, kept) in cases {
        let bytes = with_span(&span);
        let out = edit_items::<Span>(&bytes, Level::Item, &mut |parts| {
            let item = parts.item.expect("an item");
            item.attrs.edit(&mut |m: &mut dyn AttrMap| {
                m.remove("a");
                m.push("c", c.value.clone().unwrap());
            });
            Ok(())
        })
        .unwrap()
        .expect("changed");
        let mut want = ExportTraceServiceRequest::decode(&bytes[..]).unwrap();
        let attrs = &mut want.resource_spans[0].scope_spans[0].spans[0].attributes;
        attrs.retain(|kv| kv.key != "a");
        attrs.push(c.clone());
        let got = ExportTraceServiceRequest::decode(&out[..]).unwrap();
        assert_eq!(got, want, "{span:02x?}");
        let want = kept.map_or_else(|| want.encode_to_vec(), |k| with_span(&k));
        assert_eq!(out, want, "{span:02x?}");
    }
}

/// A data point walk hands over each point with its metric, and leaves a metric whose
/// data field comes more than once (which prost merges or replaces) to the decoded form.
#[test]
fn the_data_point_walk_hands_over_points_with_their_metric_and_refuses_repeated_data() {
    use crate::wire_items::{filter_items, DataPoint, Level};
    let point = |v: i64| NumberDataPoint {
        value: Some(number_data_point::Value::AsInt(v)),
        ..Default::default()
    };
    let sum = Sum {
        data_points: (0..3).map(point).collect(),
        aggregation_temporality: 1,
        is_monotonic: true,
    }
    .encode_to_vec();
    let once = with_metric(&cat(&[&ld(1, b"s"), &ld(7, &sum)]));
    let mut seen = Vec::new();
    let (out, dropped) = filter_items::<DataPoint>(&once, Level::Item, true, &mut |parts| {
        let metric = parts.metric.expect("the point's metric");
        let item = parts.item.expect("a point");
        let DataPoint::Number(p) = &*item.item else {
            panic!("a sum's point is a number point")
        };
        assert_eq!(metric.name, "s");
        assert_eq!(
            metric.data,
            Some(metric::Data::Sum(Sum {
                aggregation_temporality: 1,
                is_monotonic: true,
                ..Default::default()
            }))
        );
        seen.push(p.value);
        *parts.drop = p.value == Some(number_data_point::Value::AsInt(1));
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, (0..3).map(|v| point(v).value).collect::<Vec<_>>());
    assert_eq!(dropped, 1);
    let got = ExportMetricsServiceRequest::decode(&out.expect("changed")[..]).unwrap();
    let mut want = ExportMetricsServiceRequest::decode(&once[..]).unwrap();
    if let Some(metric::Data::Sum(s)) =
        &mut want.resource_metrics[0].scope_metrics[0].metrics[0].data
    {
        s.data_points.remove(1);
    }
    assert_eq!(got, want);
    // every point dropped: the metric goes, and its scope and resource with it
    let (out, dropped) = filter_items::<DataPoint>(&once, Level::Item, true, &mut |parts| {
        *parts.drop = true;
        Ok(())
    })
    .unwrap();
    assert_eq!((out.expect("changed").len(), dropped), (0, 3));
    let twice = with_metric(&cat(&[&ld(1, b"s"), &ld(7, &sum), &ld(7, &sum)]));
    let r = filter_items::<DataPoint>(&twice, Level::Item, false, &mut |_| Ok(()));
    assert!(matches!(r, Err(crate::wire_items::ItemEditError::Walk)));
}
