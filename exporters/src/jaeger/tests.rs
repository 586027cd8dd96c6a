//! The `jaeger` exporter's tests: config (the removed Go exporter's keys), golden OTLP →
//! Jaeger conversions, and `PostSpans` against an in-process gRPC server on 127.0.0.1:0.

use pipeline_api::config::{parse_typed, ConfigError, ConfigValue};
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValueList,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use pipeline_api::{Batch, ComponentId, Exporter, Signal};
use tonic::Code;

use super::model::{self, KeyValue as Tag, SpanRef, SpanRefType, Timestamp};
use super::translate::{batches, go_json_text, TraceId};
use super::{factory, Config, JaegerExporter};
use crate::common::testutil::{grpc_server, kv, str_kv, traces, Reply};
use transport::compression::Compression;

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).unwrap()
}

fn parse(s: &str) -> Result<Config, Vec<ConfigError>> {
    parse_typed::<Config>(&yaml(s))
}

const TRACE: [u8; 16] = [
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
];
const SPAN: [u8; 8] = [0, 0, 0, 0, 0, 0, 0x10, 0x01];
const PARENT: [u8; 8] = [0, 0, 0, 0, 0, 0, 0x10, 0x00];

fn one_span(span: Span, scope: Option<InstrumentationScope>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![str_kv("service.name", "checkout")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope,
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn base_span() -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: SPAN.to_vec(),
        name: "GET /cart".into(),
        start_time_unix_nano: 1_700_000_000_123_456_789,
        end_time_unix_nano: 1_700_000_001_000_000_000,
        ..Default::default()
    }
}

/// The single span of a converted single-span request.
fn convert(span: Span, scope: Option<InstrumentationScope>) -> model::Span {
    let mut b = batches(&one_span(span, scope));
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].spans.len(), 1);
    b[0].spans.remove(0)
}

// ------------------------------------------------------------------------------ config

#[test]
fn the_removed_go_exporters_keys_validate() {
    // Go exporter/jaegerexporter/testdata/config.yaml and README (timeout, sending_queue and
    // retry_on_failure are split off by the runtime before this parse).
    let cfg = parse(
        r#"
endpoint: "a.new.target:1234"
balancer_name: "round_robin"
"#,
    )
    .unwrap();
    assert_eq!(cfg.grpc.write_buffer_size, 512 * 1024);
    parse(
        r#"
endpoint: jaeger-all-in-one:14250
tls:
  insecure: false
  insecure_skip_verify: false
  ca_file: /ca.pem
  cert_file: file.cert
  key_file: file.key
  server_name_override: jaeger
  min_version: "1.2"
  max_version: "1.3"
  reload_interval: 10m
headers: {x-tenant: a}
compression: gzip
keepalive: {time: 30s, timeout: 10s, permit_without_stream: true}
read_buffer_size: 0
write_buffer_size: 524288
wait_for_ready: true
authority: jaeger
"#,
    )
    .unwrap();
    parse("endpoint: jaeger-all-in-one:14250\ntls: {insecure: true}").unwrap();
    // Go Config.Validate: `must have a non-empty "endpoint"`.
    let errs = parse("").unwrap_err();
    assert_eq!(errs[0].to_string(), "must have a non-empty \"endpoint\"");
    // Go's jaeger factory sets no compression.
    let cfg = parse("endpoint: j:14250").unwrap();
    assert_eq!(cfg.grpc.compression, None);
    assert_eq!(super::DEFAULT_COMPRESSION, Compression::None);
    assert!(cfg.grpc.tls.enabled(), "TLS is on by default, as in Go");
    let errs = parse("endpoint: j:14250\ncollector_endpoint: x").unwrap_err();
    assert!(errs[0]
        .to_string()
        .starts_with("collector_endpoint: unknown key"));
    assert_eq!(factory().signals(), &[Signal::Traces]);
}

// ------------------------------------------------------------------------------ golden

#[test]
fn ids_times_and_parent() {
    let mut s = base_span();
    s.parent_span_id = PARENT.to_vec();
    let j = convert(s, None);
    let id = TraceId::from_bytes(&TRACE);
    assert_eq!(id.high, 0x0102030405060708);
    assert_eq!(id.low, 0xf1f2f3f4f5f6f7f8);
    assert_eq!(j.trace_id, TRACE.to_vec());
    assert_eq!(j.span_id, SPAN.to_vec());
    assert_eq!(j.operation_name, "GET /cart");
    assert_eq!(
        j.start_time,
        Some(Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_456_789
        })
    );
    let d = j.duration.unwrap();
    assert_eq!((d.seconds, d.nanos), (0, 876_543_211));
    assert_eq!(
        j.references,
        vec![SpanRef {
            trace_id: TRACE.to_vec(),
            span_id: PARENT.to_vec(),
            ref_type: SpanRefType::ChildOf as i32,
        }]
    );
    assert!(j.tags.is_empty());
    assert!(j.logs.is_empty());
    assert_eq!(j.process, None);
    // End before start: a negative duration, as Go's time.Sub gives.
    let mut s = base_span();
    s.end_time_unix_nano = s.start_time_unix_nano - 1_500_000_000;
    let d = convert(s, None).duration.unwrap();
    assert_eq!((d.seconds, d.nanos), (-1, -500_000_000));
    // A zero parent id is no parent; short ids are big-endian numbers.
    let mut s = base_span();
    s.parent_span_id = vec![0; 8];
    s.trace_id = vec![0x01, 0x02];
    let j = convert(s, None);
    assert!(j.references.is_empty());
    assert_eq!(TraceId::from_bytes(&j.trace_id).low, 0x0102);
    assert_eq!(j.trace_id.len(), 16);
}

#[test]
fn span_kinds() {
    for (kind, want) in [
        (0, None),
        (1, Some("internal")),
        (2, Some("server")),
        (3, Some("client")),
        (4, Some("producer")),
        (5, Some("consumer")),
        (99, None),
    ] {
        let mut s = base_span();
        s.kind = kind;
        let tags = convert(s, None).tags;
        match want {
            None => assert!(tags.is_empty(), "{kind}: {tags:?}"),
            Some(w) => assert_eq!(tags, vec![Tag::string("span.kind", w)], "{kind}"),
        }
    }
}

#[test]
fn status_codes_messages_and_error_flag() {
    let status = |code, message: &str| {
        let mut s = base_span();
        s.status = Some(Status {
            code,
            message: message.into(),
        });
        convert(s, None).tags
    };
    assert_eq!(status(0, ""), vec![]);
    assert_eq!(status(1, ""), vec![Tag::string("otel.status_code", "OK")]);
    assert_eq!(
        status(2, "boom"),
        vec![
            Tag::string("otel.status_code", "ERROR"),
            Tag::bool("error", true),
            Tag::string("otel.status_description", "boom"),
        ]
    );
    // Go writes the description whenever there is one.
    assert_eq!(
        status(0, "note"),
        vec![Tag::string("otel.status_description", "note")]
    );
}

#[test]
fn attributes_scope_kind_status_and_tracestate_in_gos_order() {
    let mut s = base_span();
    s.kind = 3;
    s.trace_state = "vendor=x".into();
    s.status = Some(Status {
        code: 2,
        message: String::new(),
    });
    s.dropped_attributes_count = 2;
    s.dropped_links_count = 1;
    s.attributes = vec![
        str_kv("http.method", "GET"),
        kv("http.status_code", any_value::Value::IntValue(500)),
        kv("ratio", any_value::Value::DoubleValue(0.25)),
        kv("cached", any_value::Value::BoolValue(false)),
        kv("raw", any_value::Value::BytesValue(vec![1, 2, 3])),
        kv(
            "list",
            any_value::Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(any_value::Value::StringValue("a<b".into())),
                    },
                    AnyValue {
                        value: Some(any_value::Value::IntValue(2)),
                    },
                    AnyValue {
                        value: Some(any_value::Value::DoubleValue(1.0)),
                    },
                    AnyValue { value: None },
                ],
            }),
        ),
        kv(
            "map",
            any_value::Value::KvlistValue(KeyValueList {
                values: vec![
                    kv("z", any_value::Value::BoolValue(true)),
                    kv("a", any_value::Value::DoubleValue(1e21)),
                ],
            }),
        ),
        pipeline_api::proto::tonic::common::v1::KeyValue {
            key: "empty".into(),
            value: None,
            ..Default::default()
        },
    ];
    let scope = InstrumentationScope {
        name: "io.opentelemetry.http".into(),
        version: "1.2.3".into(),
        ..Default::default()
    };
    let tags = convert(s, Some(scope)).tags;
    assert_eq!(
        tags,
        vec![
            Tag::string("otel.scope.name", "io.opentelemetry.http"),
            Tag::string("otel.scope.version", "1.2.3"),
            Tag::string("http.method", "GET"),
            Tag::int64("http.status_code", 500),
            Tag::float64("ratio", 0.25),
            Tag::bool("cached", false),
            Tag::binary("raw", &[1, 2, 3]),
            Tag::string("list", r#"["a\u003cb",2,1,null]"#),
            Tag::string("map", r#"{"a":1e+21,"z":true}"#),
            Tag::string("empty", ""),
            Tag::string("span.kind", "client"),
            Tag::string("otel.status_code", "ERROR"),
            Tag::bool("error", true),
            Tag::string("w3c.tracestate", "vendor=x"),
            Tag::int64("otel.dropped_attributes_count", 2),
            Tag::int64("otel.dropped_links_count", 1),
        ]
    );
    // A scope with an empty name and version adds nothing.
    let tags = convert(base_span(), Some(InstrumentationScope::default())).tags;
    assert!(tags.is_empty());
}

#[test]
fn go_json_numbers_and_escapes() {
    let t = |v| go_json_text(&v);
    assert_eq!(t(any_value::Value::DoubleValue(1.5)), "1.5");
    assert_eq!(t(any_value::Value::DoubleValue(100.0)), "100");
    assert_eq!(t(any_value::Value::DoubleValue(1e-7)), "1e-7");
    assert_eq!(t(any_value::Value::DoubleValue(-2e22)), "-2e+22");
    assert_eq!(t(any_value::Value::DoubleValue(0.000001)), "0.000001");
    assert_eq!(
        t(any_value::Value::StringValue("a&\"\n".into())),
        r#""a\u0026\"\n""#
    );
    assert_eq!(t(any_value::Value::BytesValue(vec![0xff])), "\"/w==\"");
}

#[test]
fn events_become_logs() {
    let mut s = base_span();
    s.events = vec![
        span::Event {
            time_unix_nano: 1_700_000_000_200_000_000,
            name: "exception".into(),
            attributes: vec![str_kv("exception.type", "IOError")],
            dropped_attributes_count: 3,
        },
        // An `event` attribute wins over the name (spec; Go translator).
        span::Event {
            time_unix_nano: 5,
            name: "ignored".into(),
            attributes: vec![str_kv("event", "custom")],
            dropped_attributes_count: 0,
        },
        span::Event {
            time_unix_nano: 6,
            name: String::new(),
            attributes: vec![],
            dropped_attributes_count: 0,
        },
    ];
    let logs = convert(s, None).logs;
    assert_eq!(
        logs,
        vec![
            model::Log {
                timestamp: Some(Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 200_000_000
                }),
                fields: vec![
                    Tag::string("event", "exception"),
                    Tag::string("exception.type", "IOError"),
                    Tag::int64("otel.event.dropped_attributes_count", 3),
                ],
            },
            model::Log {
                timestamp: Some(Timestamp {
                    seconds: 0,
                    nanos: 5
                }),
                fields: vec![Tag::string("event", "custom")],
            },
            model::Log {
                timestamp: Some(Timestamp {
                    seconds: 0,
                    nanos: 6
                }),
                fields: vec![],
            },
        ]
    );
}

#[test]
fn links_become_references_after_the_parent() {
    let other_trace = [9u8; 16];
    let mut s = base_span();
    s.parent_span_id = PARENT.to_vec();
    s.links = vec![
        span::Link {
            trace_id: other_trace.to_vec(),
            span_id: vec![0, 0, 0, 0, 0, 0, 0, 7],
            attributes: vec![str_kv("note", "batch")],
            ..Default::default()
        },
        span::Link {
            trace_id: other_trace.to_vec(),
            span_id: vec![0, 0, 0, 0, 0, 0, 0, 8],
            attributes: vec![str_kv("opentracing.ref_type", "child_of")],
            ..Default::default()
        },
        // A link to the parent itself only sets the parent reference's type.
        span::Link {
            trace_id: TRACE.to_vec(),
            span_id: PARENT.to_vec(),
            attributes: vec![str_kv("opentracing.ref_type", "follows_from")],
            ..Default::default()
        },
    ];
    let refs = convert(s, None).references;
    assert_eq!(
        refs,
        vec![
            SpanRef {
                trace_id: TRACE.to_vec(),
                span_id: PARENT.to_vec(),
                ref_type: SpanRefType::FollowsFrom as i32,
            },
            SpanRef {
                trace_id: other_trace.to_vec(),
                span_id: vec![0, 0, 0, 0, 0, 0, 0, 7],
                ref_type: SpanRefType::FollowsFrom as i32,
            },
            SpanRef {
                trace_id: other_trace.to_vec(),
                span_id: vec![0, 0, 0, 0, 0, 0, 0, 8],
                ref_type: SpanRefType::ChildOf as i32,
            },
        ]
    );
}

#[test]
fn resources_become_processes_one_batch_each() {
    let rs = |attrs, spans: Vec<Span>| ResourceSpans {
        resource: Some(Resource {
            attributes: attrs,
            ..Default::default()
        }),
        scope_spans: if spans.is_empty() {
            vec![]
        } else {
            vec![ScopeSpans {
                spans,
                ..Default::default()
            }]
        },
        ..Default::default()
    };
    let req = ExportTraceServiceRequest {
        resource_spans: vec![
            rs(
                vec![
                    str_kv("host.name", "web-1"),
                    str_kv("service.name", "checkout"),
                    kv("process.pid", any_value::Value::IntValue(42)),
                ],
                vec![base_span(), base_span()],
            ),
            // No attributes and no scopes: skipped (Go).
            rs(vec![], vec![]),
            // No attributes: Go's placeholder service name.
            rs(vec![], vec![base_span()]),
            // Attributes without service.name: an empty service name; a non-string
            // service.name reads as empty too.
            rs(
                vec![
                    kv("service.name", any_value::Value::IntValue(1)),
                    str_kv("k", "v"),
                ],
                vec![],
            ),
        ],
    };
    let b = batches(&req);
    assert_eq!(b.len(), 3);
    assert_eq!(
        b[0].process,
        Some(model::Process {
            service_name: "checkout".into(),
            tags: vec![
                Tag::string("host.name", "web-1"),
                Tag::int64("process.pid", 42)
            ],
        })
    );
    assert_eq!(b[0].spans.len(), 2);
    assert_eq!(
        b[1].process.as_ref().unwrap().service_name,
        "OTLPResourceNoServiceName"
    );
    assert_eq!(b[1].spans.len(), 1);
    assert_eq!(
        b[2].process,
        Some(model::Process {
            service_name: String::new(),
            tags: vec![Tag::string("k", "v")],
        })
    );
    assert!(b[2].spans.is_empty());
}

// ------------------------------------------------------------------------------ export

#[tokio::test]
async fn post_spans_receives_the_converted_batches() {
    let (server, rec) = grpc_server(false).await;
    let cfg = parse(&format!(
        "endpoint: {}\ntls: {{insecure: true}}\nheaders: {{x-tenant: t1}}",
        server.addr
    ))
    .unwrap();
    let e = JaegerExporter::new(
        ComponentId::parse("jaeger").unwrap(),
        &cfg,
        &Default::default(),
    )
    .unwrap();
    e.start().await.unwrap();
    let mut req = traces(3);
    req.resource_spans.push(traces(1).resource_spans.remove(0));
    e.export(Batch::from_traces(req.clone())).await.unwrap();
    let got = rec.jaeger.lock().unwrap().clone();
    let want: Vec<model::PostSpansRequest> = batches(&req)
        .into_iter()
        .map(|b| model::PostSpansRequest { batch: Some(b) })
        .collect();
    assert_eq!(got.len(), 2, "one call per resource");
    assert_eq!(got, want);
    let h = rec.last_headers();
    assert_eq!(h["x-tenant"], "t1");
    assert!(
        h.get("grpc-encoding").is_none(),
        "no compression by default"
    );

    rec.set_reply(Reply::Fail(Code::Unavailable, None));
    let err = e.export(Batch::from_traces(traces(1))).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    rec.set_reply(Reply::Fail(Code::InvalidArgument, None));
    let err = e.export(Batch::from_traces(traces(1))).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");

    // gzip when configured.
    rec.set_reply(Reply::Ok);
    let cfg = parse(&format!(
        "endpoint: {}\ntls: {{insecure: true}}\ncompression: gzip",
        server.addr
    ))
    .unwrap();
    let e = JaegerExporter::new(
        ComponentId::parse("jaeger/gz").unwrap(),
        &cfg,
        &Default::default(),
    )
    .unwrap();
    e.export(Batch::from_traces(traces(2))).await.unwrap();
    assert_eq!(rec.last_headers()["grpc-encoding"], "gzip");
    assert_eq!(rec.jaeger.lock().unwrap().len(), 5);
}
