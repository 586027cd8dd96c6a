use std::collections::BTreeMap;
use std::sync::Arc;

use pipeline_api::config::{parse_typed, ConfigValue};
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point::Buckets, metric, number_data_point,
    summary_data_point, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{Batch, BuildContext, ComponentId, ComponentKind, Exporter};

use super::gofmt::*;
use super::*;

// Go otlptext testdata timestamps: 2020-02-11 20:26:12.000000321 / 20:26:13.000000789 / .000000123
const START: u64 = 1_581_452_772_000_000_321;
const END: u64 = 1_581_452_773_000_000_789;
const EVENT: u64 = 1_581_452_773_000_000_123;

fn s(v: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    })
}
fn int(v: i64) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::IntValue(v)),
    })
}
fn dbl(v: f64) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::DoubleValue(v)),
    })
}
fn boolean(v: bool) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::BoolValue(v)),
    })
}
fn map(kvs: Vec<KeyValue>) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList { values: kvs })),
    })
}
fn slice(vs: Vec<Option<AnyValue>>) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::ArrayValue(ArrayValue {
            values: vs.into_iter().map(|v| v.unwrap_or_default()).collect(),
        })),
    })
}
fn bytes(b: &[u8]) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::BytesValue(b.to_vec())),
    })
}
fn kv(k: &str, v: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: v,
        ..Default::default()
    }
}
fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
fn resource(attrs: Vec<KeyValue>) -> Option<Resource> {
    Some(Resource {
        attributes: attrs,
        ..Default::default()
    })
}

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).unwrap()
}

fn exporter(cfg_yaml: &str) -> DebugExporter {
    let cfg: Config = parse_typed(&yaml(cfg_yaml)).unwrap();
    DebugExporter::new(ComponentId::parse("debug").unwrap(), &cfg).unwrap()
}

fn every_value_type() -> Vec<KeyValue> {
    vec![
        kv("str", s("text")),
        kv("int", int(42)),
        kv("double", dbl(3.5)),
        kv("bool", boolean(true)),
        kv(
            "map",
            map(vec![
                kv("b", int(1)),
                kv("a", s("x<y")),
                kv("n", map(vec![kv("k", dbl(1e21))])),
            ]),
        ),
        kv(
            "slice",
            slice(vec![
                s("a"),
                int(1),
                boolean(false),
                dbl(0.000001),
                dbl(0.0000001),
                None,
            ]),
        ),
        kv("bytes", bytes(&[1, 2, 3, 255])),
        kv("empty", None),
    ]
}

fn trace_batch() -> Batch {
    let span = Span {
        trace_id: hex("5b8efff798038103d269b633813fc60c"),
        span_id: hex("eee19b7ec3c1b174"),
        parent_span_id: hex("eee19b7ec3c1b173"),
        trace_state: "ot=th:0".into(),
        name: "GET /users".into(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: START,
        end_time_unix_nano: END,
        attributes: every_value_type(),
        dropped_attributes_count: 1,
        events: vec![
            span::Event {
                time_unix_nano: EVENT,
                name: "event-with-attr".into(),
                attributes: vec![kv("span-event-attr", s("span-event-attr-val"))],
                dropped_attributes_count: 2,
            },
            span::Event {
                time_unix_nano: EVENT,
                name: "event".into(),
                attributes: vec![],
                dropped_attributes_count: 2,
            },
        ],
        dropped_events_count: 1,
        links: vec![span::Link {
            trace_id: hex("0102030405060708090a0b0c0d0e0f10"),
            span_id: hex("1112131415161718"),
            trace_state: "ot=th:0".into(),
            attributes: vec![kv("span-link-attr", s("span-link-attr-val"))],
            dropped_attributes_count: 4,
            flags: 0,
        }],
        dropped_links_count: 3,
        status: Some(Status {
            message: "status-cancelled".into(),
            code: 2,
        }),
        flags: 0,
    };
    let bare = Span {
        name: "operationB".into(),
        start_time_unix_nano: START,
        end_time_unix_nano: END,
        ..Default::default()
    };
    Batch::from_traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(vec![kv("service.name", s("my.service"))]),
            schema_url: "https://opentelemetry.io/schemas/1.25.0".into(),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "my-scope".into(),
                    version: "1.0.0".into(),
                    attributes: vec![kv("scope.attr", boolean(true))],
                    dropped_attributes_count: 0,
                }),
                spans: vec![span, bare],
                schema_url: String::new(),
            }],
        }],
    })
}

const TRACE_DETAILED: &str = "\
ResourceSpans #0
Resource SchemaURL: https://opentelemetry.io/schemas/1.25.0
Resource attributes:
     -> service.name: Str(my.service)
ScopeSpans #0
ScopeSpans SchemaURL: 
InstrumentationScope my-scope 1.0.0
InstrumentationScope attributes:
     -> scope.attr: Bool(true)
Span #0
    Trace ID       : 5b8efff798038103d269b633813fc60c
    Parent ID      : eee19b7ec3c1b173
    ID             : eee19b7ec3c1b174
    Name           : GET /users
    Kind           : Server
    TraceState     : ot=th:0
    Start time     : 2020-02-11 20:26:12.000000321 +0000 UTC
    End time       : 2020-02-11 20:26:13.000000789 +0000 UTC
    Status code    : Error
    Status message : status-cancelled
    DroppedAttributesCount: 1
    DroppedEventsCount: 1
    DroppedLinksCount: 3
Attributes:
     -> str: Str(text)
     -> int: Int(42)
     -> double: Double(3.5)
     -> bool: Bool(true)
     -> map: Map({\"a\":\"x\\u003cy\",\"b\":1,\"n\":{\"k\":1e+21}})
     -> slice: Slice([\"a\",1,false,0.000001,1e-7,null])
     -> bytes: Bytes(AQID/w==)
     -> empty: Empty()
Events:
SpanEvent #0
     -> Name: event-with-attr
     -> Timestamp: 2020-02-11 20:26:13.000000123 +0000 UTC
     -> DroppedAttributesCount: 2
     -> Attributes::
          -> span-event-attr: Str(span-event-attr-val)
SpanEvent #1
     -> Name: event
     -> Timestamp: 2020-02-11 20:26:13.000000123 +0000 UTC
     -> DroppedAttributesCount: 2
Links:
SpanLink #0
     -> Trace ID: 0102030405060708090a0b0c0d0e0f10
     -> ID: 1112131415161718
     -> TraceState: ot=th:0
     -> DroppedAttributesCount: 4
     -> Attributes::
          -> span-link-attr: Str(span-link-attr-val)
Span #1
    Trace ID       : 
    Parent ID      : 
    ID             : 
    Name           : operationB
    Kind           : Unspecified
    Start time     : 2020-02-11 20:26:12.000000321 +0000 UTC
    End time       : 2020-02-11 20:26:13.000000789 +0000 UTC
    Status code    : Unset
    Status message : 
    DroppedAttributesCount: 0
    DroppedEventsCount: 0
    DroppedLinksCount: 0
";

#[test]
fn detailed_traces_match_go_otlptext_with_every_value_type_events_links_status() {
    assert_eq!(
        format_text(trace_batch().data(), Verbosity::Detailed),
        TRACE_DETAILED
    );
}

#[test]
fn detailed_resource_entity_refs_as_go() {
    let mut batch = trace_batch();
    batch.edit(|d| {
        if let BatchData::Traces(r) = d {
            r.resource_spans[0].resource.as_mut().unwrap().entity_refs = vec![EntityRef {
                schema_url: String::new(),
                r#type: "service".into(),
                id_keys: vec!["service.name".into()],
                description_keys: vec![],
            }];
        }
    });
    let text = format_text(batch.data(), Verbosity::Detailed);
    assert!(text.contains(
        "     -> service.name: Str(my.service)\nResource entity refs:\n     -> Entity ref #0:\n          -> Type: service\n          -> ID keys:\n               -> service.name\nScopeSpans #0\n"
    ));
}

// Go otlptext testdata/logs/one_record.out
const ONE_RECORD: &str = "\
ResourceLog #0
Resource SchemaURL: 
Resource attributes:
     -> resource-attr: Str(resource-attr-val-1)
ScopeLogs #0
ScopeLogs SchemaURL: 
InstrumentationScope  
LogRecord #0
ObservedTimestamp: 1970-01-01 00:00:00 +0000 UTC
Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC
SeverityText: Info
SeverityNumber: Info(9)
Body: Str(This is a log message)
Attributes:
     -> app: Str(server)
     -> instance_num: Int(1)
Trace ID: 08040201000000000000000000000000
Span ID: 0102040800000000
Flags: 0
";

fn log_batch() -> Batch {
    Batch::from_logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(vec![kv("resource-attr", s("resource-attr-val-1"))]),
            scope_logs: vec![ScopeLogs {
                scope: None,
                log_records: vec![LogRecord {
                    time_unix_nano: END,
                    severity_number: 9,
                    severity_text: "Info".into(),
                    body: s("This is a log message"),
                    attributes: vec![kv("app", s("server")), kv("instance_num", int(1))],
                    trace_id: hex("08040201000000000000000000000000"),
                    span_id: hex("0102040800000000"),
                    ..Default::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    })
}

#[test]
fn detailed_log_matches_go_one_record_out() {
    assert_eq!(
        format_text(log_batch().data(), Verbosity::Detailed),
        ONE_RECORD
    );
}

#[test]
fn detailed_log_with_event_name_and_embedded_maps_matches_go() {
    // Go otlptext testdata/logs/embedded_maps.out
    let batch = Batch::from_logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: END,
                    severity_number: 9,
                    severity_text: "INFO".into(),
                    event_name: "my.event".into(),
                    body: map(vec![
                        kv("key1", s("val1")),
                        kv(
                            "key2",
                            map(vec![kv("key21", s("val21")), kv("key22", s("val22"))]),
                        ),
                    ]),
                    attributes: vec![
                        kv(
                            "key1",
                            map(vec![
                                kv("key11", s("val11")),
                                kv("key12", s("val12")),
                                kv("key13", map(vec![kv("key131", s("val131"))])),
                            ]),
                        ),
                        kv("key2", s("val2")),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    assert_eq!(
        format_text(batch.data(), Verbosity::Detailed),
        "\
ResourceLog #0
Resource SchemaURL: 
ScopeLogs #0
ScopeLogs SchemaURL: 
InstrumentationScope  
LogRecord #0
ObservedTimestamp: 1970-01-01 00:00:00 +0000 UTC
Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC
SeverityText: INFO
SeverityNumber: Info(9)
EventName: my.event
Body: Map({\"key1\":\"val1\",\"key2\":{\"key21\":\"val21\",\"key22\":\"val22\"}})
Attributes:
     -> key1: Map({\"key11\":\"val11\",\"key12\":\"val12\",\"key13\":{\"key131\":\"val131\"}})
     -> key2: Str(val2)
Trace ID: 
Span ID: 
Flags: 0
"
    );
}

fn ndp(attrs: Vec<KeyValue>, v: number_data_point::Value) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: START,
        time_unix_nano: END,
        value: Some(v),
        ..Default::default()
    }
}

fn m(name: &str, data: metric::Data) -> Metric {
    Metric {
        name: name.into(),
        unit: "1".into(),
        data: Some(data),
        ..Default::default()
    }
}

fn l1() -> KeyValue {
    kv("label-1", s("label-value-1"))
}
fn l2() -> KeyValue {
    kv("label-2", s("label-value-2"))
}
fn l3() -> KeyValue {
    kv("label-3", s("label-value-3"))
}

fn ex(v: exemplar::Value) -> Exemplar {
    Exemplar {
        filtered_attributes: vec![kv("exemplar-attachment", s("exemplar-attachment-value"))],
        time_unix_nano: EVENT,
        span_id: hex("1112131415161718"),
        trace_id: hex("0102030405060708090a0b0c0d0e0f10"),
        value: Some(v),
    }
}

/// Go's `testdata.GenerateMetricsAllTypes` as far as the text shows it.
fn metrics_all_types() -> Batch {
    use number_data_point::Value::{AsDouble, AsInt};
    let ints = || vec![ndp(vec![l1()], AsInt(123)), ndp(vec![l2()], AsInt(456))];
    let doubles = || {
        vec![
            ndp(vec![l1(), l2()], AsDouble(1.23)),
            ndp(vec![l1(), l3()], AsDouble(4.56)),
        ]
    };
    let hdp =
        |attrs, min, max, bounds: Vec<f64>, buckets: Vec<u64>, exemplars| HistogramDataPoint {
            attributes: attrs,
            start_time_unix_nano: START,
            time_unix_nano: END,
            count: 1,
            sum: Some(15.0),
            min,
            max,
            explicit_bounds: bounds,
            bucket_counts: buckets,
            exemplars,
            ..Default::default()
        };
    let metrics = vec![
        m(
            "gauge-int",
            metric::Data::Gauge(Gauge {
                data_points: ints(),
            }),
        ),
        m(
            "gauge-double",
            metric::Data::Gauge(Gauge {
                data_points: doubles(),
            }),
        ),
        m(
            "sum-int",
            metric::Data::Sum(Sum {
                data_points: ints(),
                aggregation_temporality: 2,
                is_monotonic: true,
            }),
        ),
        m(
            "sum-double",
            metric::Data::Sum(Sum {
                data_points: doubles(),
                aggregation_temporality: 2,
                is_monotonic: true,
            }),
        ),
        m(
            "histogram",
            metric::Data::Histogram(Histogram {
                data_points: vec![
                    hdp(vec![l1(), l3()], None, None, vec![], vec![], vec![]),
                    hdp(
                        vec![l2()],
                        Some(15.0),
                        Some(15.0),
                        vec![1.0],
                        vec![0, 1],
                        vec![ex(exemplar::Value::AsDouble(15.0))],
                    ),
                ],
                aggregation_temporality: 2,
            }),
        ),
        m(
            "exponential-histogram",
            metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![
                    ExponentialHistogramDataPoint {
                        attributes: vec![l1(), l3()],
                        start_time_unix_nano: START,
                        time_unix_nano: END,
                        count: 5,
                        sum: Some(0.15),
                        scale: 1,
                        zero_count: 1,
                        positive: Some(Buckets {
                            offset: 1,
                            bucket_counts: vec![1, 1],
                        }),
                        negative: Some(Buckets {
                            offset: -1,
                            bucket_counts: vec![1, 1],
                        }),
                        ..Default::default()
                    },
                    ExponentialHistogramDataPoint {
                        attributes: vec![l2()],
                        start_time_unix_nano: START,
                        time_unix_nano: END,
                        count: 3,
                        sum: Some(1.25),
                        min: Some(0.0),
                        max: Some(1.0),
                        scale: -1,
                        zero_count: 1,
                        positive: Some(Buckets {
                            offset: -1,
                            bucket_counts: vec![1, 1],
                        }),
                        exemplars: vec![ex(exemplar::Value::AsInt(15))],
                        ..Default::default()
                    },
                ],
                aggregation_temporality: 1,
            }),
        ),
        m(
            "summary",
            metric::Data::Summary(Summary {
                data_points: vec![
                    SummaryDataPoint {
                        attributes: vec![l1(), l3()],
                        start_time_unix_nano: START,
                        time_unix_nano: END,
                        count: 1,
                        sum: 15.0,
                        ..Default::default()
                    },
                    SummaryDataPoint {
                        attributes: vec![l2()],
                        start_time_unix_nano: START,
                        time_unix_nano: END,
                        count: 1,
                        sum: 15.0,
                        quantile_values: vec![summary_data_point::ValueAtQuantile {
                            quantile: 0.01,
                            value: 15.0,
                        }],
                        ..Default::default()
                    },
                ],
            }),
        ),
    ];
    Batch::from_metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(vec![kv("resource-attr", s("resource-attr-val-1"))]),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    })
}

// Go otlptext testdata/metrics/metrics_with_all_types.out, verbatim.
const METRICS_ALL_TYPES: &str = "\
ResourceMetrics #0
Resource SchemaURL: 
Resource attributes:
     -> resource-attr: Str(resource-attr-val-1)
ScopeMetrics #0
ScopeMetrics SchemaURL: 
InstrumentationScope  
Metric #0
Descriptor:
     -> Name: gauge-int
     -> Description: 
     -> Unit: 1
     -> DataType: Gauge
NumberDataPoints #0
Data point attributes:
     -> label-1: Str(label-value-1)
StartTimestamp: 2020-02-11 20:26:12.000000321 +0000 UTC
Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC
Value: 123
NumberDataPoints #1
Data point attributes:
     -> label-2: Str(label-value-2)
StartTimestamp: 2020-02-11 20:26:12.000000321 +0000 UTC
Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC
Value: 456
Metric #1
Descriptor:
     -> Name: gauge-double
     -> Description: 
     -> Unit: 1
     -> DataType: Gauge
NumberDataPoints #0
Data point attributes:
     -> label-1: Str(label-value-1)
     -> label-2: Str(label-value-2)
StartTimestamp: 2020-02-11 20:26:12.000000321 +0000 UTC
Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC
Value: 1.230000
NumberDataPoints #1
Data point attributes:
     -> label-1: Str(label-value-1)
     -> label-3: Str(label-value-3)
StartTimestamp: 2020-02-11 20:26:12.000000321 +0000 UTC
Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC
Value: 4.560000
Metric #2
Descriptor:
     -> Name: sum-int
     -> Description: 
     -> Unit: 1
     -> DataType: Sum
     -> IsMonotonic: true
     -> AggregationTemporality: Cumulative
NumberDataPoints #0
Data point attributes:
     -> label-1: Str(label-value-1)
StartTimestamp: 2020-02-11 20:26:12.000000321 +0000 UTC
Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC
Value: 123
NumberDataPoints #1
Data point attributes:
     -> label-2: Str(label-value-2)
StartTimestamp: 2020-02-11 20:26:12.000000321 +0000 UTC
Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC
Value: 456
Metric #3
Descriptor:
     -> Name: sum-double
     -> Description: 
     -> Unit: 1
     -> DataType: Sum
     -> IsMonotonic: true
     -> AggregationTemporality: Cumulative
NumberDataPoints #0
Data point attributes:
     -> label-1: Str(label-value-1)
     -> label-2: Str(label-value-2)
StartTimestamp: 2020-02-11 20:26:12.000000321 +0000 UTC
Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC
Value: 1.230000
NumberDataPoints #1
Data point attributes:
     -> label-1: Str(label-value-1)
     -> label-3: Str(label-value-3)
StartTimestamp: 2020-02-11 20:26:12.000000321 +0000 UTC
Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC
Value: 4.560000
Metric #4
Descriptor:
     -> Name: histogram
     -> Description: 
     -> Unit: 1
     -> DataType: Histogram
     -> AggregationTemporality: Cumulative
HistogramDataPoints #0
Data point attributes:
     -> label-1: Str(label-value-1)
     -> label-3: Str(label-value-3)
StartTimestamp: 2020-02-11 20:26:12.000000321 +0000 UTC
Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC
Count: 1
Sum: 15.000000
HistogramDataPoints #1
Data point attributes:
     -> label-2: Str(label-value-2)
StartTimestamp: 2020-02-11 20:26:12.000000321 +0000 UTC
Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC
Count: 1
Sum: 15.000000
Min: 15.000000
Max: 15.000000
ExplicitBounds #0: 1.000000
Buckets #0, Count: 0
Buckets #1, Count: 1
Exemplars:
Exemplar #0
     -> Trace ID: 0102030405060708090a0b0c0d0e0f10
     -> Span ID: 1112131415161718
     -> Timestamp: 2020-02-11 20:26:13.000000123 +0000 UTC
     -> Value: 15.000000
     -> FilteredAttributes:
          -> exemplar-attachment: Str(exemplar-attachment-value)
Metric #5
Descriptor:
     -> Name: exponential-histogram
     -> Description: 
     -> Unit: 1
     -> DataType: ExponentialHistogram
     -> AggregationTemporality: Delta
ExponentialHistogramDataPoints #0
Data point attributes:
     -> label-1: Str(label-value-1)
     -> label-3: Str(label-value-3)
StartTimestamp: 2020-02-11 20:26:12.000000321 +0000 UTC
Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC
Count: 5
Sum: 0.150000
Bucket [-1.414214, -1.000000), Count: 1
Bucket [-1.000000, -0.707107), Count: 1
Bucket [0, 0], Count: 1
Bucket (1.414214, 2.000000], Count: 1
Bucket (2.000000, 2.828427], Count: 1
ExponentialHistogramDataPoints #1
Data point attributes:
     -> label-2: Str(label-value-2)
StartTimestamp: 2020-02-11 20:26:12.000000321 +0000 UTC
Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC
Count: 3
Sum: 1.250000
Min: 0.000000
Max: 1.000000
Bucket [0, 0], Count: 1
Bucket (0.250000, 1.000000], Count: 1
Bucket (1.000000, 4.000000], Count: 1
Exemplars:
Exemplar #0
     -> Trace ID: 0102030405060708090a0b0c0d0e0f10
     -> Span ID: 1112131415161718
     -> Timestamp: 2020-02-11 20:26:13.000000123 +0000 UTC
     -> Value: 15
     -> FilteredAttributes:
          -> exemplar-attachment: Str(exemplar-attachment-value)
Metric #6
Descriptor:
     -> Name: summary
     -> Description: 
     -> Unit: 1
     -> DataType: Summary
SummaryDataPoints #0
Data point attributes:
     -> label-1: Str(label-value-1)
     -> label-3: Str(label-value-3)
StartTimestamp: 2020-02-11 20:26:12.000000321 +0000 UTC
Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC
Count: 1
Sum: 15.000000
SummaryDataPoints #1
Data point attributes:
     -> label-2: Str(label-value-2)
StartTimestamp: 2020-02-11 20:26:12.000000321 +0000 UTC
Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC
Count: 1
Sum: 15.000000
QuantileValue #0: Quantile 0.010000, Value 15.000000
";

#[test]
fn detailed_metrics_match_go_metrics_with_all_types_out() {
    let text = format_text(metrics_all_types().data(), Verbosity::Detailed);
    for (i, (got, want)) in text.lines().zip(METRICS_ALL_TYPES.lines()).enumerate() {
        assert_eq!(got, want, "line {}", i + 1);
    }
    assert_eq!(text, METRICS_ALL_TYPES);
}

#[test]
fn detailed_metric_metadata_matches_go_metrics_with_metadata_out() {
    let batch = Batch::from_metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(vec![kv("service.name", s("test-service"))]),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "test-scope".into(),
                    ..Default::default()
                }),
                metrics: vec![Metric {
                    name: "test-metric-metadata".into(),
                    description: "A test metric with metadata".into(),
                    unit: "1".into(),
                    metadata: vec![kv("meta.key", s("meta-value")), kv("meta.id", int(101))],
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            value: Some(number_data_point::Value::AsInt(1)),
                            ..Default::default()
                        }],
                    })),
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    });
    assert_eq!(
        format_text(batch.data(), Verbosity::Detailed),
        "\
ResourceMetrics #0
Resource SchemaURL: 
Resource attributes:
     -> service.name: Str(test-service)
ScopeMetrics #0
ScopeMetrics SchemaURL: 
InstrumentationScope test-scope 
Metric #0
Descriptor:
     -> Name: test-metric-metadata
     -> Description: A test metric with metadata
     -> Unit: 1
     -> DataType: Gauge
     -> Metadata:
          -> meta.key: Str(meta-value)
          -> meta.id: Int(101)
NumberDataPoints #0
StartTimestamp: 1970-01-01 00:00:00 +0000 UTC
Timestamp: 1970-01-01 00:00:00 +0000 UTC
Value: 1
"
    );
}

// ---------- normal ----------

#[test]
fn normal_traces_match_go_normal_marshaler() {
    // Go internal/normal/traces_test.go "one span with resource and scope attributes"
    let batch = Batch::from_traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(vec![
                kv("resourceKey1", s("resourceValue1")),
                kv("resourceKey2", boolean(false)),
            ]),
            schema_url: "https://opentelemetry.io/resource-schema-url".into(),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "scope-name".into(),
                    version: "1.2.3".into(),
                    attributes: vec![
                        kv("scopeKey1", s("scopeValue1")),
                        kv("scopeKey2", boolean(true)),
                    ],
                    dropped_attributes_count: 0,
                }),
                schema_url: "http://opentelemetry.io/scope-schema-url".into(),
                spans: vec![Span {
                    name: "span-name".into(),
                    trace_id: hex("0102030405060708090a0b0c0d0e0f10"),
                    span_id: hex("1112131415161718"),
                    attributes: vec![kv("key1", s("value1")), kv("key2", s("value2"))],
                    ..Default::default()
                }],
            }],
        }],
    });
    assert_eq!(
        format_text(batch.data(), Verbosity::Normal),
        "ResourceTraces #0 [https://opentelemetry.io/resource-schema-url] resourceKey1=resourceValue1 resourceKey2=false\n\
ScopeTraces #0 scope-name@1.2.3 [http://opentelemetry.io/scope-schema-url] scopeKey1=scopeValue1 scopeKey2=true\n\
span-name 0102030405060708090a0b0c0d0e0f10 1112131415161718 key1=value1 key2=value2\n"
    );
}

#[test]
fn normal_logs_print_body_and_attributes_per_record() {
    let text = format_text(log_batch().data(), Verbosity::Normal);
    assert_eq!(
        text,
        "ResourceLog #0 resource-attr=resource-attr-val-1\nScopeLog #0\nThis is a log message app=server instance_num=1\n"
    );
    // Go's "%s %s": a record without attributes keeps the space
    let mut b = log_batch();
    b.edit(|d| {
        if let BatchData::Logs(r) = d {
            r.resource_logs[0].scope_logs[0].log_records[0]
                .attributes
                .clear();
        }
    });
    assert!(format_text(b.data(), Verbosity::Normal).ends_with("\nThis is a log message \n"));
}

#[test]
fn normal_metrics_match_go_normal_marshaler() {
    let dp_attrs = || {
        vec![
            kv("http.response.status_code", int(200)),
            kv("http.request.method", s("GET")),
        ]
    };
    let metrics = vec![
        Metric {
            name: "system.cpu.time".into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: vec![NumberDataPoint {
                    attributes: vec![kv("state", s("user")), kv("cpu", s("0"))],
                    value: Some(number_data_point::Value::AsDouble(123.456)),
                    ..Default::default()
                }],
                ..Default::default()
            })),
            ..Default::default()
        },
        Metric {
            name: "http.server.request.duration".into(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    attributes: dp_attrs(),
                    explicit_bounds: vec![0.125, 0.5, 1.0, 3.0],
                    bucket_counts: vec![1324, 13, 0, 2, 1],
                    count: 1340,
                    sum: Some(99.573),
                    min: Some(0.017),
                    max: Some(8.13),
                    ..Default::default()
                }],
                ..Default::default()
            })),
            ..Default::default()
        },
        Metric {
            name: "http.server.request.duration".into(),
            data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    attributes: dp_attrs(),
                    count: 1340,
                    sum: Some(99.573),
                    min: Some(0.017),
                    max: Some(8.13),
                    ..Default::default()
                }],
                ..Default::default()
            })),
            ..Default::default()
        },
        Metric {
            name: "summary".into(),
            data: Some(metric::Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    attributes: dp_attrs(),
                    count: 1340,
                    sum: 99.573,
                    quantile_values: vec![summary_data_point::ValueAtQuantile {
                        quantile: 0.01,
                        value: 15.0,
                    }],
                    ..Default::default()
                }],
            })),
            ..Default::default()
        },
    ];
    let batch = Batch::from_metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    assert_eq!(
        format_text(batch.data(), Verbosity::Normal),
        "ResourceMetrics #0\nScopeMetrics #0\n\
system.cpu.time{state=user,cpu=0} 123.456\n\
http.server.request.duration{http.response.status_code=200,http.request.method=GET} count=1340 sum=99.573 min=0.017 max=8.13 le0.125=1324 le0.5=13 le1=0 le3=2 1\n\
http.server.request.duration{http.response.status_code=200,http.request.method=GET} count=1340 sum=99.573 min=0.017 max=8.13\n\
summary{http.response.status_code=200,http.request.method=GET} count=1340 sum=99.573000 q0.01=15\n"
    );
}

// ---------- entries, sampling, export ----------

const T: i64 = 1_581_452_772_000_000_321;

#[test]
fn basic_is_one_summary_line_per_batch_like_go() {
    let plain = exporter("use_internal_logger: false");
    assert_eq!(
        plain.render(&trace_batch(), T),
        "Traces\t{\"resource spans\": 1, \"spans\": 2}\n"
    );
    assert_eq!(
        plain.render(&log_batch(), T),
        "Logs\t{\"resource logs\": 1, \"log records\": 1}\n"
    );
    assert_eq!(
        plain.render(&metrics_all_types(), T),
        "Metrics\t{\"resource metrics\": 1, \"metrics\": 7, \"data points\": 14}\n"
    );
    let internal = exporter("{}");
    assert_eq!(
        internal.render(&trace_batch(), T),
        "2020-02-11T20:26:12.000Z\tinfo\tTraces\t{\"otelcol.component.id\": \"debug\", \"otelcol.component.kind\": \"exporter\", \"otelcol.signal\": \"traces\", \"resource spans\": 1, \"spans\": 2}\n"
    );
}

#[test]
fn detailed_entry_is_summary_then_text_then_component_fields() {
    let e = exporter("verbosity: detailed");
    let out = e.render(&log_batch(), T);
    let expected = format!(
        "2020-02-11T20:26:12.000Z\tinfo\tLogs\t{{\"otelcol.component.id\": \"debug\", \"otelcol.component.kind\": \"exporter\", \"otelcol.signal\": \"logs\", \"resource logs\": 1, \"log records\": 1}}\n\
2020-02-11T20:26:12.000Z\tinfo\t{ONE_RECORD}\t{{\"otelcol.component.id\": \"debug\", \"otelcol.component.kind\": \"exporter\", \"otelcol.signal\": \"logs\"}}\n"
    );
    assert_eq!(out, expected);
    let plain = exporter("verbosity: detailed\nuse_internal_logger: false");
    assert_eq!(
        plain.render(&log_batch(), T),
        format!("Logs\t{{\"resource logs\": 1, \"log records\": 1}}\n{ONE_RECORD}\n")
    );
}

#[test]
fn sampling_initial_then_thereafter_per_second() {
    let e = exporter("use_internal_logger: false\nsampling_initial: 1\nsampling_thereafter: 2");
    let outs: Vec<bool> = (0..5)
        .map(|i| !e.render(&trace_batch(), T + i).is_empty())
        .collect();
    assert_eq!(outs, vec![true, false, true, false, true]);
    // a new second starts over
    assert!(!e.render(&trace_batch(), T + 1_000_000_000).is_empty());
    // defaults (2 / 1) write everything
    let d = exporter("use_internal_logger: false");
    assert!((0..50).all(|i| !d.render(&trace_batch(), T + i).is_empty()));
}

#[tokio::test]
async fn export_writes_one_rendered_block_to_the_output() {
    let path = std::env::temp_dir().join(format!("ferrotel-debug-{}.out", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let e = exporter(&format!(
        "verbosity: normal\nuse_internal_logger: false\noutput_paths: [{:?}]",
        path.display().to_string()
    ));
    e.export(log_batch()).await.unwrap();
    e.export(trace_batch()).await.unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        written,
        "Logs\t{\"resource logs\": 1, \"log records\": 1}\n\
ResourceLog #0 resource-attr=resource-attr-val-1\nScopeLog #0\nThis is a log message app=server instance_num=1\n\n\
Traces\t{\"resource spans\": 1, \"spans\": 2}\n\
ResourceTraces #0 [https://opentelemetry.io/schemas/1.25.0] service.name=my.service\n\
ScopeTraces #0 my-scope@1.0.0 scope.attr=true\n\
GET /users 5b8efff798038103d269b633813fc60c eee19b7ec3c1b174 str=text int=42 double=3.5 bool=true map={\"a\":\"x\\u003cy\",\"b\":1,\"n\":{\"k\":1e+21}} slice=[\"a\",1,false,0.000001,1e-7,null] bytes=AQID/w== empty=\n\
operationB  \n\n"
    );
}

#[tokio::test]
async fn factory_builds_and_exports_start_export_shutdown_twice() {
    let path =
        std::env::temp_dir().join(format!("ferrotel-debug-factory-{}.out", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let f = factory();
    let cfg = f
        .parse_config(&yaml(&format!(
            "use_internal_logger: false\noutput_paths: [{:?}]",
            path.display().to_string()
        )))
        .unwrap();
    let id = ComponentId::parse("debug").unwrap();
    let ctx = BuildContext {
        telemetry: ComponentTelemetry::detached(ComponentKind::Exporter, &id),
        id,
        signals: vec![],
        extensions: Arc::new(BTreeMap::new()),
        memory: Default::default(),
    };
    let e = f.build(ctx, cfg.as_ref()).unwrap();
    for _ in 0..2 {
        e.start().await.unwrap();
        e.export(trace_batch()).await.unwrap();
        e.shutdown().await;
    }
    let written = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        written,
        "Traces\t{\"resource spans\": 1, \"spans\": 2}\n".repeat(2)
    );
}

#[test]
fn unwritable_output_path_fails_the_build() {
    let cfg: Config = parse_typed(&yaml(
        "use_internal_logger: false\noutput_paths: [/nonexistent-dir/x/out.log]",
    ))
    .unwrap();
    let err = DebugExporter::new(ComponentId::parse("debug").unwrap(), &cfg)
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .starts_with("cannot open output path \"/nonexistent-dir/x/out.log\""),
        "{err}"
    );
}

// ---------- config ----------

#[test]
fn defaults_are_gos_and_validate() {
    let cfg: Config = parse_typed(&ConfigValue::Null).unwrap();
    assert_eq!(cfg, Config::default());
    assert_eq!(cfg.effective_verbosity(), Verbosity::Basic);
    assert_eq!((cfg.sampling_initial, cfg.sampling_thereafter), (2, 1));
    assert!(cfg.use_internal_logger);
    assert_eq!(cfg.outputs(), vec!["stdout"]);
}

#[test]
fn alias_logging_is_deprecated() {
    assert_eq!(factory().aliases(), &[("logging", true)]);
    let names: Vec<&str> = crate::factories().iter().map(|f| f.type_name()).collect();
    assert!(names.contains(&"debug"), "{names:?}");
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "each factory once: {names:?}");
}

fn errors(s: &str) -> Vec<String> {
    match factory().parse_config(&yaml(s)) {
        Ok(_) => vec![],
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn unknown_key_is_rejected_like_go_verbosity_typo() {
    // Go testdata config_verbosity_typo.yaml: "verBosity: detailed" → invalid keys
    assert_eq!(
        errors("verBosity: detailed"),
        vec!["verBosity: unknown key \"verBosity\"; did you mean \"verbosity\"?"]
    );
}

#[test]
fn verbosity_is_case_insensitive_and_none_is_unsupported() {
    let cfg: Config = parse_typed(&yaml("verbosity: Detailed")).unwrap();
    assert_eq!(cfg.effective_verbosity(), Verbosity::Detailed);
    assert_eq!(
        errors("verbosity: none"),
        vec!["verbosity: verbosity level \"None\" is not supported"]
    );
    assert_eq!(
        errors("verbosity: detialed"),
        vec!["verbosity: unknown metrics level \"detialed\"; expected one of basic, normal, detailed (did you mean \"detailed\"?)"]
    );
}

#[test]
fn loglevel_maps_like_go_logging_exporter() {
    // Go mapLevel: debug → detailed, info → normal, warn/error/dpanic/panic/fatal → basic
    for (level, v) in [
        ("debug", Verbosity::Detailed),
        ("info", Verbosity::Normal),
        ("INFO", Verbosity::Normal),
        ("warn", Verbosity::Basic),
        ("error", Verbosity::Basic),
        ("fatal", Verbosity::Basic),
    ] {
        let cfg: Config = parse_typed(&yaml(&format!("loglevel: {level}"))).unwrap();
        assert_eq!(cfg.effective_verbosity(), v, "{level}");
    }
    assert_eq!(
        errors("loglevel: verbose"),
        vec!["loglevel: unrecognized level: \"verbose\""]
    );
}

#[test]
fn loglevel_and_verbosity_together_are_refused_with_go_message() {
    assert_eq!(
        errors("loglevel: debug\nverbosity: detailed"),
        vec!["'loglevel' and 'verbosity' are incompatible. Use only 'verbosity' instead"]
    );
}

#[test]
fn output_paths_rules_are_gos() {
    assert_eq!(
        errors("output_paths: [stderr]"),
        vec!["output_paths: output_paths is not supported when use_internal_logger is true"]
    );
    assert_eq!(
        errors("use_internal_logger: false\noutput_paths: []"),
        vec!["output_paths: output_paths must not be empty when use_internal_logger is false"]
    );
    let cfg: Config =
        parse_typed(&yaml("use_internal_logger: false\noutput_paths: [stderr]")).unwrap();
    assert_eq!(cfg.outputs(), vec!["stderr"]);
    assert!(errors("use_internal_logger: false").is_empty());
}

// ---------- Go value formatting ----------

#[test]
fn go_float_verbs() {
    assert_eq!(go_g(123.456), "123.456");
    assert_eq!(go_g(15.0), "15");
    assert_eq!(go_g(123456.0), "123456");
    assert_eq!(go_g(1e6), "1e+06");
    assert_eq!(go_g(1.5e-5), "1.5e-05");
    assert_eq!(go_g(0.0001), "0.0001");
    assert_eq!(go_g(f64::INFINITY), "+Inf");
    assert_eq!(go_f(1.23), "1.230000");
    assert_eq!(go_f(f64::NEG_INFINITY), "-Inf");
    assert_eq!(go_f(f64::NAN), "NaN");
    assert_eq!(json_float(1e21), "1e+21");
    assert_eq!(json_float(1e20), "100000000000000000000");
    assert_eq!(json_float(1e-7), "1e-7");
    assert_eq!(json_float(-2.5e-10), "-2.5e-10");
    assert_eq!(
        value_as_string(dbl(f64::NAN).as_ref()),
        "json: unsupported value: NaN"
    );
}

#[test]
fn go_timestamps_and_ids() {
    assert_eq!(go_timestamp(0), "1970-01-01 00:00:00 +0000 UTC");
    assert_eq!(
        go_timestamp(START),
        "2020-02-11 20:26:12.000000321 +0000 UTC"
    );
    assert_eq!(
        go_timestamp(1_709_251_200_500_000_000),
        "2024-03-01 00:00:00.5 +0000 UTC"
    );
    assert_eq!(
        iso8601_millis(1_709_251_200_500_000_000),
        "2024-03-01T00:00:00.500Z"
    );
    assert_eq!(hex_id(&[0; 16]), "");
    assert_eq!(hex_id(&[]), "");
    assert_eq!(hex_id(&[0xab, 0x01]), "ab01");
}

#[test]
fn json_strings_are_escaped_as_go_encoding_json() {
    let mut out = String::new();
    json_string("a\"b\\c\n<&>\u{1}\u{2028}", &mut out);
    assert_eq!(out, "\"a\\\"b\\\\c\\n\\u003c\\u0026\\u003e\\u0001\\u2028\"");
}
