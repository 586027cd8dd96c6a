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
    let c = parse("protocols: {thrift_http: , thrift_binary: , thrift_compact: }");
    assert_eq!(c.protocols.thrift_http.unwrap().endpoint, "localhost:14268");
    assert!(errors("protocols: {thrift_http: {endpoint: 'x'}}").contains("thrift_http::endpoint"));
    assert!(errors("protocols: {thrift_http: {bogus: 1}}").contains("bogus"));
    // every Thrift protocol builds, on the defaults of the key it sits under
    assert_eq!(
        build_err("protocols: {thrift_http: {endpoint: 127.0.0.1:0}, thrift_binary: {endpoint: 127.0.0.1:0}, thrift_compact: {endpoint: 127.0.0.1:0}}"),
        ""
    );
    let e = build_err(
        "protocols: {grpc: {endpoint: 127.0.0.1:0}}\nremote_sampling: {host_endpoint: 0.0.0.0:5778}",
    );
    assert!(
        e.contains("remote_sampling") && e.contains("not supported"),
        "{e}"
    );
}

const HTTP_BODY: &[u8] = include_bytes!("testdata/http.bin");
const UDP_BINARY: &[u8] = include_bytes!("testdata/binary.bin");
const UDP_COMPACT: &[u8] = include_bytes!("testdata/compact.bin");

/// The three payloads (written by Apache Thrift's Python writers, see testdata/README.md)
/// decode to the same batch, field for field.
#[test]
fn thrift_payloads_of_both_protocols_decode_alike() {
    let http = decode_batch(HTTP_BODY).unwrap();
    let binary = decode_agent_packet(UDP_BINARY, ThriftProtocol::Binary).unwrap();
    let compact = decode_agent_packet(UDP_COMPACT, ThriftProtocol::Compact).unwrap();
    assert_eq!(http, binary);
    assert_eq!(http, compact);
    let p = http.process.as_ref().unwrap();
    assert_eq!(p.service_name, "thrift-svc-0");
    assert_eq!(p.tags.len(), 4);
    assert_eq!(http.spans.len(), 3);
    let s1 = &http.spans[1];
    // batch 0, span 1: id (0 << 20) + 1 + 1
    assert_eq!(s1.span_id, 2);
    assert_eq!(s1.parent_span_id, 0);
    assert_eq!(s1.references.len(), 2);
    assert_eq!(s1.references[0].ref_type, 0);
    assert_eq!(s1.references[0].span_id, 1);
    assert_eq!(s1.trace_id_low, -0x1122334455667788);
    assert_eq!(s1.start_time, 1_700_000_000_000_000 + 1000);
    let types: Vec<i32> = s1.tags.iter().map(|t| t.v_type).collect();
    assert_eq!(&types[..6], &[0, 0, 1, 2, 3, 4]);
    assert_eq!(s1.tags[3].key, "cache.hit");
    assert!(!s1.tags[3].v_bool);
    assert!(http.spans[0].tags[3].v_bool);
    assert_eq!(s1.tags[4].v_long, -7);
    assert_eq!(s1.tags[5].v_binary, vec![1, 0, 255]);
    assert_eq!(s1.logs[0].fields[0].v_str, "retry");
    // in OTLP: the parent from the CHILD_OF reference, the other reference a link
    let otlp = super::thrift::to_otlp(&http);
    let span = &otlp.resource_spans[0].scope_spans[0].spans[1];
    assert_eq!(span.parent_span_id, 1u64.to_be_bytes().to_vec());
    assert_eq!(span.links.len(), 1);
    assert_eq!(span.kind, span::SpanKind::Client as i32);
    assert_eq!(span.events[0].name, "retry");
}

/// Every truncation and a bounded random search of mutations of the payloads are refused or
/// read, never a panic; a list claiming more elements than bytes is refused at once.
#[test]
fn thrift_decoding_never_panics() {
    for (bytes, which) in [
        (HTTP_BODY, None),
        (UDP_BINARY, Some(ThriftProtocol::Binary)),
        (UDP_COMPACT, Some(ThriftProtocol::Compact)),
    ] {
        let decode = |b: &[u8]| match which {
            None => decode_batch(b).map(|_| ()),
            Some(p) => decode_agent_packet(b, p).map(|_| ()),
        };
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "a cut at {n} decoded");
        }
        let mut state = 0x9E3779B97F4A7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let mut b = bytes.to_vec();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            if let Some(p) = which {
                let _ = decode_agent_packet(&b, p).map(|b| super::thrift::to_otlp(&b));
            } else {
                let _ = decode_batch(&b).map(|b| super::thrift::to_otlp(&b));
            }
        }
    }
    // Batch { 2: list<struct> of 2^31-1 elements } in 10 bytes
    let bomb = [0x0f, 0x00, 0x02, 0x0c, 0x7f, 0xff, 0xff, 0xff, 0x00, 0x00];
    let e = decode_batch(&bomb).unwrap_err();
    assert!(e.contains("list of 2147483647 elements"), "{e}");
    // an Agent call other than emitBatch is named
    let e = decode_agent_packet(
        b"\x80\x01\x00\x04\x00\x00\x00\x0femitZipkinBatch\x00\x00\x00\x01\x00",
        ThriftProtocol::Binary,
    )
    .unwrap_err();
    assert!(e.contains("emitZipkinBatch"), "{e}");
}

/// `thrift_http` and both UDP protocols through a running receiver: Go's answers over HTTP,
/// and packets that do not decode counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thrift_over_http_and_udp_reaches_the_pipeline() {
    let sink = Collect::new();
    let next = SignalConsumers {
        traces: Some(sink.clone() as SharedConsumer),
        ..Default::default()
    };
    let ctx = context(ComponentKind::Receiver, "jaeger", vec![Signal::Traces]);
    let r = JaegerReceiver::build(
        ctx,
        &parse("protocols: {thrift_http: {endpoint: 127.0.0.1:0}, thrift_binary: {endpoint: 127.0.0.1:0}, thrift_compact: {endpoint: 127.0.0.1:0}}"),
        next,
    )
    .unwrap();
    let http = r.http_addr().unwrap();
    let binary = r.udp_addr("thrift_binary").unwrap();
    let compact = r.udp_addr("thrift_compact").unwrap();
    let counters = r.counters();
    let token = CancellationToken::new();
    let handle = tokio::spawn(Box::new(r).run(token.clone()));

    let client = reqwest::Client::new();
    let post = |ct: &'static str, body: &'static [u8]| {
        client
            .post(format!("http://{http}/api/traces"))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let resp = post("application/x-thrift", HTTP_BODY).await.unwrap();
    assert_eq!(resp.status(), 202);
    let resp = post("application/vnd.apache.thrift.binary; charset=x", HTTP_BODY)
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let resp = post("application/json", HTTP_BODY).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.text().await.unwrap().trim(),
        "Unsupported content type: application/json"
    );
    let resp = post("application/x-thrift", b"\x0c\x00").await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp
        .text()
        .await
        .unwrap()
        .starts_with("Unable to process request body:"));
    let resp = client
        .get(format!("http://{http}/api/traces"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    let resp = client
        .post(format!("http://{http}/api/other"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(sink.items(), 6);

    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.send_to(UDP_BINARY, binary).await.unwrap();
    udp.send_to(UDP_COMPACT, compact).await.unwrap();
    udp.send_to(b"not thrift", compact).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while (sink.items() < 12 || counters.bad_requests.load(Ordering::Relaxed) < 3)
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sink.items(), 12);
    // the json body, the bad body, the bad packet
    assert_eq!(counters.bad_requests.load(Ordering::Relaxed), 3);
    assert_eq!(counters.accepted_spans.load(Ordering::Relaxed), 12);
    token.cancel();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
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
    let e = exporters::jaeger::JaegerExporter::new(
        ComponentId::parse("jaeger").unwrap(),
        &cfg,
        &Default::default(),
    )
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

/// A UDP packet longer than `max_packet_size` is refused and counted, not cut and read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_udp_packet_is_counted_and_dropped() {
    let sink = Collect::new();
    let next = SignalConsumers {
        traces: Some(sink.clone() as SharedConsumer),
        ..Default::default()
    };
    let ctx = context(ComponentKind::Receiver, "jaeger", vec![Signal::Traces]);
    let limit = UDP_COMPACT.len() - 1;
    let r = JaegerReceiver::build(
        ctx,
        &parse(&format!(
            "protocols: {{thrift_compact: {{endpoint: 127.0.0.1:0, max_packet_size: {limit}}}}}"
        )),
        next,
    )
    .unwrap();
    let compact = r.udp_addr("thrift_compact").unwrap();
    let counters = r.counters();
    let token = CancellationToken::new();
    let handle = tokio::spawn(Box::new(r).run(token.clone()));
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.send_to(UDP_COMPACT, compact).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while counters.bad_requests.load(Ordering::Relaxed) < 1 && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(counters.bad_requests.load(Ordering::Relaxed), 1);
    assert_eq!(sink.items(), 0, "nothing of the cut packet was read");
    token.cancel();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
