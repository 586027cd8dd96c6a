use std::time::Duration;

use pipeline_api::config::{parse_typed, ConfigValue};
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use pipeline_api::testing::{context, Collect};
use pipeline_api::{ComponentKind, ConsumeError, Exporter};

use super::*;

fn parse(yaml: &str) -> Config {
    let v: ConfigValue = serde_yaml_ng::from_str(yaml).unwrap();
    parse_typed::<Config>(&v).unwrap_or_else(|e| panic!("{e:?}"))
}

fn errors(yaml: &str) -> String {
    let v: ConfigValue = serde_yaml_ng::from_str(yaml).unwrap();
    match parse_typed::<Config>(&v) {
        Ok(_) => String::new(),
        Err(es) => es
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn build_err(yaml: &str) -> String {
    let ctx = context(ComponentKind::Receiver, "jaeger", vec![Signal::Traces]);
    let next = SignalConsumers {
        traces: Some(Collect::new() as SharedConsumer),
        ..Default::default()
    };
    match JaegerReceiver::build(ctx, &parse(yaml), next) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn config_as_go_and_what_is_refused() {
    assert!(errors("{}").contains("must specify at least one protocol"));
    let c = parse("protocols:\n  grpc:\n");
    assert_eq!(c.protocols.grpc.unwrap().endpoint, "localhost:14250");
    let c = parse("protocols:\n  thrift_compact:\n    endpoint: 0.0.0.0:6831\n    queue_size: 5000\n    max_packet_size: 65000\n    workers: 50\n    socket_buffer_size: 8388608\n  thrift_http:\n    endpoint: 0.0.0.0:14268\n");
    assert_eq!(c.protocols.thrift_compact.unwrap().workers, 50);
    assert!(errors("protocols: {thrift_binary: {bogus: 1}}").contains("bogus"));
    for (yaml, key) in [
        ("protocols: {thrift_http: }", "protocols::thrift_http"),
        ("protocols: {thrift_compact: }", "protocols::thrift_compact"),
        ("protocols: {thrift_binary: }", "protocols::thrift_binary"),
        (
            "protocols: {grpc: {endpoint: 127.0.0.1:0}}\nremote_sampling: {host_endpoint: 0.0.0.0:5778}",
            "remote_sampling",
        ),
    ] {
        let e = build_err(yaml);
        assert!(e.contains(key) && e.contains("not supported"), "{yaml}: {e}");
    }
}

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(k: &str, v: &str) -> KeyValue {
    kv(k, any_value::Value::StringValue(v.into()))
}

const T0: u64 = 1_700_000_000_000_000_000;

fn input() -> ExportTraceServiceRequest {
    let server = Span {
        trace_id: vec![0x5a; 16],
        span_id: vec![1; 8],
        parent_span_id: vec![9; 8],
        trace_state: "k=v".into(),
        name: "GET /a".into(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 1_500_000,
        attributes: vec![
            s("http.method", "GET"),
            kv("http.status_code", any_value::Value::IntValue(503)),
            kv("retry", any_value::Value::BoolValue(true)),
            kv("ratio", any_value::Value::DoubleValue(0.25)),
            kv("raw", any_value::Value::BytesValue(vec![0, 1, 2])),
        ],
        events: vec![span::Event {
            time_unix_nano: T0 + 500,
            name: "cache miss".into(),
            attributes: vec![s("key", "user:1"), kv("n", any_value::Value::IntValue(3))],
            dropped_attributes_count: 0,
        }],
        links: vec![span::Link {
            trace_id: vec![0x11; 16],
            span_id: vec![0x22; 8],
            ..Default::default()
        }],
        status: Some(Status {
            message: "upstream down".into(),
            code: 2,
        }),
        ..Default::default()
    };
    let internal = Span {
        trace_id: vec![0x5a; 16],
        span_id: vec![2; 8],
        name: "compute".into(),
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 10,
        status: Some(Status {
            message: String::new(),
            code: 1,
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        s("service.name", "shop"),
                        s("host.name", "node-1"),
                        kv("cpus", any_value::Value::IntValue(8)),
                    ],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "lib".into(),
                        version: "1.2".into(),
                        ..Default::default()
                    }),
                    spans: vec![server, internal],
                    ..Default::default()
                }],
                ..Default::default()
            },
            ResourceSpans {
                resource: Some(Resource::default()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope::default()),
                    spans: vec![Span {
                        trace_id: vec![0x77; 16],
                        span_id: vec![7; 8],
                        name: "orphan".into(),
                        start_time_unix_nano: T0,
                        end_time_unix_nano: T0 + 1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
    }
}

/// What survives Jaeger: links come back with `opentracing.ref_type: follows_from`.
fn expected() -> ExportTraceServiceRequest {
    let mut r = input();
    r.resource_spans[0].scope_spans[0].spans[0].links[0]
        .attributes
        .push(s("opentracing.ref_type", "follows_from"));
    r
}

/// OTLP → Ferrotel's jaeger exporter → this receiver over gRPC → OTLP: every field the
/// mapping carries survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_through_the_jaeger_exporter() {
    let sink = Collect::new();
    let next = SignalConsumers {
        traces: Some(sink.clone() as SharedConsumer),
        ..Default::default()
    };
    let ctx = context(ComponentKind::Receiver, "jaeger", vec![Signal::Traces]);
    let r = JaegerReceiver::build(
        ctx,
        &parse("protocols: {grpc: {endpoint: 127.0.0.1:0}}"),
        next,
    )
    .unwrap();
    let addr = r.local_addr();
    let counters = r.counters();
    let token = CancellationToken::new();
    let handle = tokio::spawn(Box::new(r).run(token.clone()));

    let v: ConfigValue =
        serde_yaml_ng::from_str(&format!("endpoint: {addr}\ntls: {{insecure: true}}\n")).unwrap();
    let cfg: exporters::jaeger::Config = parse_typed(&v).unwrap();
    let e = exporters::jaeger::JaegerExporter::new(ComponentId::parse("jaeger").unwrap(), &cfg)
        .unwrap();
    e.export(Batch::from_traces(input())).await.unwrap();
    let got: Vec<ResourceSpans> = sink
        .take()
        .iter()
        .flat_map(|b| b.as_traces().unwrap().resource_spans.clone())
        .collect();
    assert_eq!(
        ExportTraceServiceRequest {
            resource_spans: got
        },
        expected()
    );
    assert_eq!(counters.accepted_spans.load(Ordering::Relaxed), 3);

    // A refusal downstream is UNAVAILABLE: the exporter sees a retryable error.
    *sink.fail.lock().unwrap() = Some(ConsumeError::retryable("full"));
    let err = e.export(Batch::from_traces(input())).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    token.cancel();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// Hostile batches (zero or short ids, unknown tag types, references to nowhere) translate
/// without panicking; a bounded random search over mutated protobuf bodies.
#[test]
fn decoding_never_panics() {
    use prost::Message;
    let batches = exporters::jaeger::translate::batches(&input());
    let body = PostSpansRequest {
        batch: Some(batches[0].clone()),
    }
    .encode_to_vec();
    let mut state = 0x9E3779B97F4A7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..5000 {
        let mut b = body.clone();
        for _ in 0..(next() % 6 + 1) {
            if b.is_empty() {
                break;
            }
            let i = (next() as usize) % b.len();
            match next() % 3 {
                0 => b[i] = next() as u8,
                1 => b.truncate(i),
                _ => b.insert(i, next() as u8),
            }
        }
        if let Ok(req) = PostSpansRequest::decode(b.as_slice()) {
            let _ = exporters::jaeger::to_otlp::to_otlp(&[req.batch.unwrap_or_default()]);
        }
    }
}
