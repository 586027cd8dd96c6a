use std::sync::Arc;
use std::time::Duration;

use pipeline_api::config::{parse_typed, ConfigValue};
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::any_value;
use pipeline_api::proto::tonic::trace::v1::{span, Span};
use pipeline_api::testing::{context, Collect};
use pipeline_api::{
    Batch, CancellationToken, ComponentId, ComponentKind, ConsumeError, Exporter, Receiver,
    SharedConsumer, SignalConsumers,
};

use exporters::zipkin::fixture::{request, round_tripped};

use super::*;

fn parse(yaml: &str) -> Config {
    let v: ConfigValue = serde_yaml_ng::from_str(yaml).unwrap();
    parse_typed::<Config>(&v).unwrap_or_else(|e| panic!("{e:?}"))
}

struct Started {
    addr: SocketAddr,
    token: CancellationToken,
    handle: tokio::task::JoinHandle<Result<(), BuildError>>,
    sink: Arc<Collect>,
    counters: Arc<Counters>,
}

fn start(extra: &str) -> Started {
    let cfg = parse(&format!("endpoint: 127.0.0.1:0\n{extra}"));
    let sink = Collect::new();
    let next = SignalConsumers {
        traces: Some(sink.clone() as SharedConsumer),
        ..Default::default()
    };
    let ctx = context(ComponentKind::Receiver, "zipkin", vec![Signal::Traces]);
    let r = ZipkinReceiver::build(ctx, &cfg, next).unwrap();
    let addr = r.local_addr();
    let counters = r.counters();
    let token = CancellationToken::new();
    let handle = tokio::spawn(Box::new(r).run(token.clone()));
    Started {
        addr,
        token,
        handle,
        sink,
        counters,
    }
}

impl Started {
    fn url(&self) -> String {
        format!("http://{}/api/v2/spans", self.addr)
    }
    async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.handle)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
    fn received(&self) -> Vec<ExportTraceServiceRequest> {
        self.sink
            .take()
            .iter()
            .map(|b| b.as_traces().unwrap().clone())
            .collect()
    }
}

fn exporter(url: &str, format: &str) -> exporters::zipkin::ZipkinExporter {
    let v: ConfigValue =
        serde_yaml_ng::from_str(&format!("endpoint: {url}\nformat: {format}\n")).unwrap();
    let cfg: exporters::zipkin::Config = parse_typed(&v).unwrap();
    exporters::zipkin::ZipkinExporter::new(
        ComponentId::parse("zipkin").unwrap(),
        &cfg,
        &Default::default(),
    )
    .unwrap()
}

#[test]
fn defaults_match_go() {
    let c = Config::default();
    assert_eq!(c.http.endpoint, "localhost:9411");
    assert!(!c.parse_string_tags);
    let c = parse("parse_string_tags: true\nendpoint: 0.0.0.0:9411\n");
    assert!(c.parse_string_tags);
    let v: ConfigValue = serde_yaml_ng::from_str("bogus: 1").unwrap();
    assert!(parse_typed::<Config>(&v).is_err());
    let v: ConfigValue = serde_yaml_ng::from_str("auth: {authenticator: basicauth}").unwrap();
    let c = parse_typed::<Config>(&v).unwrap();
    assert_eq!(c.http.auth.unwrap().authenticator, "basicauth");
}

/// OTLP → Ferrotel's zipkin exporter (JSON, then protobuf) → this receiver over HTTP → OTLP:
/// every field the mapping carries survives (the golden of `exporters::zipkin::fixture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_through_the_zipkin_exporter() {
    for parse_tags in [false, true] {
        let r = start(&format!("parse_string_tags: {parse_tags}\n"));
        for format in ["json", "proto"] {
            let e = exporter(&r.url(), format);
            e.export(Batch::from_traces(request(4))).await.unwrap();
            let got = r.received();
            assert_eq!(got, vec![round_tripped(4, parse_tags)], "{format}");
        }
        assert_eq!(r.counters.accepted_spans.load(Ordering::Relaxed), 10);
        r.stop().await;
    }
}

async fn post(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, String) {
    let client = reqwest::Client::new();
    let mut req = client.post(url).body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bodies_are_decompressed() {
    use std::io::Write;
    let r = start("");
    let spans = exporters::zipkin::translate::from_otlp(&request(2)).unwrap();
    let json = exporters::zipkin::model::to_json(&spans);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&json).unwrap();
    let (status, _) = post(
        &r.url(),
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        gz.finish().unwrap(),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(r.received(), vec![round_tripped(2, false)]);
    r.stop().await;
}

/// Truncated, malformed and oversized bodies and v1 requests are refused with 400/413 and
/// counted; nothing reaches the pipeline and the receiver keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_counted() {
    let r = start("max_request_body_size: 4096\n");
    let spans = exporters::zipkin::translate::from_otlp(&request(2)).unwrap();
    let json = exporters::zipkin::model::to_json(&spans);
    let proto = exporters::zipkin::model::to_proto(&spans);
    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        (
            "/api/v2/spans",
            "application/json",
            json[..json.len() / 2].to_vec(),
            400,
        ),
        (
            "/api/v2/spans",
            "application/json",
            b"{not json".to_vec(),
            400,
        ),
        (
            "/api/v2/spans",
            "application/json",
            br#"[{"traceId":"xyz","id":"1"}]"#.to_vec(),
            400,
        ),
        (
            "/api/v2/spans",
            "application/x-protobuf",
            proto[..proto.len() - 5].to_vec(),
            400,
        ),
        ("/api/v2/spans", "application/json", vec![b' '; 10_000], 413),
        (
            "/api/v1/spans",
            "application/json",
            br#"[{"traceId":"5af7183fb1d4cf5","id":"352bff9a74ca9ad2"}]"#.to_vec(),
            400,
        ),
        (
            "/api/v1/spans",
            "application/x-thrift",
            V1_THRIFT[..V1_THRIFT.len() - 3].to_vec(),
            400,
        ),
    ];
    let n = cases.len();
    for (path, ct, body, want) in cases {
        let (status, text) = post(
            &format!("http://{}{path}", r.addr),
            &[("content-type", ct)],
            body,
        )
        .await;
        assert_eq!(status, want, "{path} {ct}: {text}");
    }
    assert_eq!(r.counters.bad_requests.load(Ordering::Relaxed), n as u64);
    assert_eq!(r.sink.count(), 0);
    let (status, _) = post(&r.url(), &[("content-type", "application/json")], json).await;
    assert_eq!(status, 202);
    assert_eq!(r.sink.count(), 1);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_downstream_is_500() {
    let r = start("");
    *r.sink.fail.lock().unwrap() = Some(ConsumeError::retryable("full"));
    let json = exporters::zipkin::model::to_json(
        &exporters::zipkin::translate::from_otlp(&request(1)).unwrap(),
    );
    let (status, body) = post(&r.url(), &[("content-type", "application/json")], json).await;
    assert_eq!(status, 500);
    assert_eq!(body, "\"Internal Server Error\"");
    r.stop().await;
}

const V1_THRIFT: &[u8] = include_bytes!("testdata/v1.thrift.bin");

/// Zipkin v1: the Thrift body (written by Apache Thrift's Python writer, see
/// tests/e2e/python/zipkin_v1_thrift.py) and a JSON one arrive, typed and grouped by endpoint;
/// a malformed id is refused with Go's message; no truncation or mutation of the Thrift body
/// panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zipkin_v1_json_and_thrift_arrive() {
    let r = start("");
    let (status, text) = post(
        &format!("http://{}/api/v1/spans", r.addr),
        &[("content-type", "application/x-thrift")],
        V1_THRIFT.to_vec(),
    )
    .await;
    assert_eq!(status, 202, "{text}");
    let json = br#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","name":"get","timestamp":1556604172355737,"duration":10,
      "annotations":[{"timestamp":1556604172355737,"value":"sr","endpoint":{"serviceName":"backend","ipv4":"10.0.0.1","port":80}}],
      "binaryAnnotations":[{"key":"error","value":"x"},{"key":"http.method","value":"GET"}]}]"#;
    let (status, text) = post(
        &format!("http://{}/api/v1/spans", r.addr),
        &[("content-type", "application/json")],
        json.to_vec(),
    )
    .await;
    assert_eq!(status, 202, "{text}");
    let (status, text) = post(
        &format!("http://{}/api/v1/spans", r.addr),
        &[("content-type", "application/json")],
        br#"[{"traceId":"5af7183fb1d4cf5","id":"352bff9a74ca9ad2"}]"#.to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        text.trim(),
        "zipkinV1 span traceId: hex traceId span has wrong length (expected 16 or 32)"
    );
    let batches = r.sink.take();
    let reqs: Vec<_> = batches
        .iter()
        .map(|b| b.as_traces().unwrap().clone())
        .collect();
    // Thrift: 5 spans of two services; JSON: 1
    let spans: Vec<_> = reqs
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| {
            let svc = rs.resource.as_ref().unwrap().attributes[0].clone();
            rs.scope_spans[0]
                .spans
                .iter()
                .map(move |s| (svc.clone(), s.clone()))
        })
        .collect();
    assert_eq!(spans.len(), 6);
    let json_span = &spans[5].1;
    assert_eq!(json_span.kind, span::SpanKind::Server as i32);
    assert_eq!(json_span.status.as_ref().unwrap().code, 2);
    assert_eq!(
        json_span.attributes.len(),
        1,
        "error dropped, http.method kept"
    );
    let thrift0 = &spans[0].1;
    assert_eq!(thrift0.kind, span::SpanKind::Client as i32);
    assert_eq!(thrift0.events.len(), 1);
    assert_eq!(thrift0.events[0].name, "cache miss");
    let attr = |s: &Span, k: &str| {
        s.attributes
            .iter()
            .find(|kv| kv.key == k)
            .and_then(|kv| kv.value.clone())
            .and_then(|v| v.value)
    };
    assert_eq!(
        attr(thrift0, "retries"),
        Some(any_value::Value::IntValue(0))
    );
    assert_eq!(
        attr(thrift0, "bytes"),
        Some(any_value::Value::IntValue(1 << 40))
    );
    assert_eq!(
        attr(thrift0, "short"),
        Some(any_value::Value::StringValue(
            "<not enough bytes representing the number>".into()
        ))
    );
    assert_eq!(
        attr(thrift0, "blob"),
        Some(any_value::Value::StringValue("AAH/".into()))
    );
    assert_eq!(
        attr(thrift0, "component"),
        Some(any_value::Value::StringValue("worker".into()))
    );
    r.stop().await;

    for n in 0..V1_THRIFT.len() {
        let _ = v1::from_thrift(&V1_THRIFT[..n]);
    }
    let mut state = 0x9E3779B97F4A7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let mut b = V1_THRIFT.to_vec();
        for _ in 0..(next() % 4 + 1) {
            let i = (next() as usize) % b.len();
            b[i] = next() as u8;
        }
        let _ = v1::from_thrift(&b);
    }
}
