use std::sync::Arc;
use std::time::Duration;

use pipeline_api::config::{parse_typed, ConfigValue};
use pipeline_api::proto::tonic::logs::v1::LogRecord;
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::testing::{context, Collect};
use pipeline_api::{
    Batch, CancellationToken, ComponentKind, ConsumeError, Exporter, Receiver, SharedConsumer,
};

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

struct Started {
    addr: SocketAddr,
    token: CancellationToken,
    handle: tokio::task::JoinHandle<Result<(), BuildError>>,
    sink: Arc<Collect>,
    counters: Arc<Counters>,
}

fn start(extra: &str) -> Started {
    let cfg = parse(&format!(
        "protocols:\n  http:\n    endpoint: 127.0.0.1:0\n    max_request_body_size: 65536\n{extra}"
    ));
    let sink = Collect::new();
    let next = SignalConsumers {
        logs: Some(sink.clone() as SharedConsumer),
        ..Default::default()
    };
    let ctx = context(ComponentKind::Receiver, "loki", vec![Signal::Logs]);
    let r = LokiReceiver::build(ctx, &cfg, next).unwrap();
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
        format!("http://{}{PUSH_PATH}", self.addr)
    }
    fn records(&self) -> Vec<LogRecord> {
        self.sink
            .take()
            .iter()
            .flat_map(|b| b.as_logs().unwrap().resource_logs.clone())
            .flat_map(|r| r.scope_logs)
            .flat_map(|s| s.log_records)
            .collect()
    }
    async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.handle)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

fn attr(r: &LogRecord, key: &str) -> Option<String> {
    r.attributes.iter().find(|a| a.key == key).map(|a| {
        match a.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => s.clone(),
            other => format!("{other:?}"),
        }
    })
}

fn body(r: &LogRecord) -> String {
    match r.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        other => format!("{other:?}"),
    }
}

#[test]
fn config_as_go() {
    assert!(errors("{}").contains("must specify at least one protocol"));
    let c = parse("protocols:\n  http:\n");
    assert_eq!(c.protocols.http.unwrap().endpoint, "localhost:3500");
    assert!(!c.use_incoming_timestamp);
    let c =
        parse("protocols:\n  grpc:\n    endpoint: 0.0.0.0:3600\nuse_incoming_timestamp: true\n");
    assert!(c.protocols.grpc.is_some() && c.protocols.http.is_none());
    assert!(c.use_incoming_timestamp);
    assert!(errors("protocols: {http: {bogus: 1}}").contains("bogus"));
    assert_eq!(
        parse("protocols: {grpc: }")
            .protocols
            .grpc
            .unwrap()
            .endpoint,
        "localhost:3600"
    );
    assert!(errors("protocols: {grpc: {endpoint: 'x'}}").contains("protocols::grpc::endpoint"));
    assert!(errors("protocols: {grpc: {bogus: 1}}").contains("bogus"));
}

/// `logproto.Pusher/Push` over gRPC: the entries arrive as over HTTP; a stream whose labels
/// do not parse is INVALID_ARGUMENT, a refusal downstream UNAVAILABLE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_push_reaches_the_pipeline() {
    use exporters::loki::push::{EntryAdapter, StreamAdapter, Timestamp};
    let sink = Collect::new();
    let next = SignalConsumers {
        logs: Some(sink.clone() as SharedConsumer),
        ..Default::default()
    };
    let ctx = context(ComponentKind::Receiver, "loki", vec![Signal::Logs]);
    let r = LokiReceiver::build(
        ctx,
        &parse("protocols: {grpc: {endpoint: 127.0.0.1:0}}\nuse_incoming_timestamp: true\n"),
        next,
    )
    .unwrap();
    let addr = r.grpc_addr().unwrap();
    let counters = r.counters();
    let token = CancellationToken::new();
    let handle = tokio::spawn(Box::new(r).run(token.clone()));

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = tonic::client::Grpc::new(channel);
    let stream = |labels: &str, lines: &[&str]| StreamAdapter {
        labels: labels.into(),
        entries: lines
            .iter()
            .enumerate()
            .map(|(i, l)| EntryAdapter {
                timestamp: Some(Timestamp {
                    seconds: 1_700_000_000,
                    nanos: i as i32,
                }),
                line: l.to_string(),
                ..Default::default()
            })
            .collect(),
        hash: 0,
    };
    let push = |req: PushRequest| {
        let mut client = client.clone();
        async move {
            client.ready().await.unwrap();
            client
                .unary::<PushRequest, PushResponse, _>(
                    tonic::Request::new(req),
                    http::uri::PathAndQuery::from_static(PUSH_GRPC_PATH),
                    tonic_prost::ProstCodec::default(),
                )
                .await
        }
    };
    push(PushRequest {
        streams: vec![
            stream(r#"{job="api", level="error", __internal="x"}"#, &["a", "b"]),
            stream(r#"{job="db"}"#, &["c"]),
        ],
        format: String::new(),
    })
    .await
    .unwrap();
    let mut got: Vec<(String, Option<String>, u64)> = sink
        .take()
        .iter()
        .flat_map(|b| b.as_logs().unwrap().resource_logs.clone())
        .flat_map(|r| r.scope_logs)
        .flat_map(|s| s.log_records)
        .map(|r| (body(&r), attr(&r, "job"), r.time_unix_nano))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("a".into(), Some("api".into()), 1_700_000_000_000_000_000),
            ("b".into(), Some("api".into()), 1_700_000_000_000_000_001),
            ("c".into(), Some("db".into()), 1_700_000_000_000_000_000),
        ]
    );
    let err = push(PushRequest {
        streams: vec![stream("{job=}", &["x"])],
        format: String::new(),
    })
    .await
    .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    *sink.fail.lock().unwrap() = Some(ConsumeError::retryable("full"));
    let err = push(PushRequest {
        streams: vec![stream(r#"{job="api"}"#, &["y"])],
        format: String::new(),
    })
    .await
    .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err}");
    assert_eq!(counters.accepted_records.load(Ordering::Relaxed), 3);
    assert_eq!(counters.bad_requests.load(Ordering::Relaxed), 1);
    token.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[test]
fn labels_parse_as_promql_metric_selectors() {
    assert_eq!(
        parse_labels(r#"{job="api", level="error", msg="a \"q\" b"}"#).unwrap(),
        vec![
            ("job".to_string(), "api".to_string()),
            ("level".to_string(), "error".to_string()),
            ("msg".to_string(), "a \"q\" b".to_string()),
        ]
    );
    assert_eq!(
        parse_labels("up{a='1'}").unwrap(),
        vec![("__name__".into(), "up".into()), ("a".into(), "1".into())]
    );
    assert_eq!(parse_labels("{}").unwrap(), vec![]);
    for bad in [
        "",
        "{",
        "{a=}",
        "{a=\"x}",
        "{1a=\"x\"}",
        "{a=\"x\" b=\"y\"}",
        "{a=\"x\"} z",
        "{a=\"\\q\"}",
    ] {
        assert!(parse_labels(bad).is_err(), "{bad:?}");
    }
}

/// Ferrotel's own `loki` exporter pushes N records (snappy protobuf); N records arrive with
/// the line as body, the stream labels as attributes and, with `use_incoming_timestamp`,
/// the records' own times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrotels_loki_exporter_pushes_into_it() {
    const N: usize = 50;
    let r = start("use_incoming_timestamp: true\n");
    let v: ConfigValue = serde_yaml_ng::from_str(&format!(
        "endpoint: {}\nformat: raw\nlabels: {{attributes: {{component: ''}}}}\n",
        r.url()
    ))
    .unwrap();
    let cfg: exporters::loki::Config = parse_typed(&v).unwrap();
    let id = ComponentId::parse("loki").unwrap();
    let telemetry = ComponentTelemetry::detached(ComponentKind::Exporter, &id);
    let e = exporters::loki::LokiExporter::new(id, &cfg, &telemetry, &Default::default()).unwrap();
    let t0 = 1_700_000_000_000_000_000u64;
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("shop".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: (0..N)
                    .map(|i| LogRecord {
                        time_unix_nano: t0 + i as u64 * 1_000_000,
                        severity_number: 17,
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(format!("line {i}"))),
                        }),
                        attributes: vec![KeyValue {
                            key: "component".into(),
                            value: Some(AnyValue {
                                value: Some(any_value::Value::StringValue("db".into())),
                            }),
                            ..Default::default()
                        }],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    e.export(Batch::from_logs(req)).await.unwrap();
    let mut got = r.records();
    assert_eq!(got.len(), N);
    got.sort_by_key(|r| r.time_unix_nano);
    for (i, rec) in got.iter().enumerate() {
        assert_eq!(body(rec), format!("line {i}"));
        assert_eq!(rec.time_unix_nano, t0 + i as u64 * 1_000_000);
        assert!(rec.observed_time_unix_nano > t0);
        assert_eq!(attr(rec, "exporter").as_deref(), Some("OTLP"));
        assert_eq!(attr(rec, "job").as_deref(), Some("shop"));
        assert_eq!(attr(rec, "level").as_deref(), Some("ERROR"));
        assert_eq!(attr(rec, "component").as_deref(), Some("db"));
    }
    assert_eq!(
        r.counters.accepted_records.load(Ordering::Relaxed),
        N as u64
    );
    r.stop().await;
}

async fn post(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, String) {
    let mut req = reqwest::Client::new().post(url).body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let s = resp.status().as_u16();
    (s, resp.text().await.unwrap_or_default())
}

/// The JSON push API (promtail, `python-logging-loki`), gzip-compressed, with the receive
/// time when `use_incoming_timestamp` is off; `__` labels dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_push_gzip() {
    use std::io::Write;
    let r = start("");
    let body = br#"{"streams":[{"stream":{"job":"promtail","__path__":"/x"},"values":[["1700000000000000000","first"],["1700000000000000001","second",{"trace_id":"abc"}]]},{"stream":{"job":"b"},"values":[]}]}"#;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body).unwrap();
    let (status, text) = post(
        &r.url(),
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        gz.finish().unwrap(),
    )
    .await;
    assert_eq!(status, 204, "{text}");
    let got = r.records();
    assert_eq!(
        got.iter().map(body_of).collect::<Vec<_>>(),
        ["first", "second"]
    );
    for rec in &got {
        assert_eq!(rec.attributes.len(), 1);
        assert_eq!(attr(rec, "job").as_deref(), Some("promtail"));
        assert_eq!(rec.time_unix_nano, rec.observed_time_unix_nano);
        assert!(rec.time_unix_nano > 1_700_000_000_000_000_001);
    }
    r.stop().await;
}

/// Method, headers, body, expected status.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16);

fn body_of(r: &LogRecord) -> String {
    body(r)
}

/// Bad method, media type, encoding, truncated snappy, malformed protobuf and JSON, bad
/// labels and oversized bodies: refused, counted, never forwarded; the receiver keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_counted() {
    let r = start("");
    let good = exporters::loki::push::PushRequest {
        streams: vec![exporters::loki::push::StreamAdapter {
            labels: r#"{job="x"}"#.into(),
            entries: vec![exporters::loki::push::EntryAdapter {
                line: "ok".into(),
                ..Default::default()
            }],
            hash: 0,
        }],
        format: String::new(),
    };
    let snappy = |m: &exporters::loki::push::PushRequest| {
        snap::raw::Encoder::new()
            .compress_vec(&m.encode_to_vec())
            .unwrap()
    };
    let mut bad_labels = good.clone();
    bad_labels.streams[0].labels = "{job=".into();
    let good_body = snappy(&good);
    let proto = "application/x-protobuf";
    let json = "application/json";
    let cases: Vec<Case> = vec![
        ("GET", vec![("content-type", proto)], vec![], 405),
        (
            "POST",
            vec![("content-type", "text/plain")],
            good_body.clone(),
            415,
        ),
        (
            "POST",
            vec![("content-type", proto), ("content-encoding", "br")],
            good_body.clone(),
            400,
        ),
        (
            "POST",
            vec![("content-type", proto)],
            good_body[..good_body.len() - 3].to_vec(),
            400,
        ),
        (
            "POST",
            vec![("content-type", proto)],
            snap::raw::Encoder::new()
                .compress_vec(b"\xff\xff\xff")
                .unwrap(),
            400,
        ),
        (
            "POST",
            vec![("content-type", proto)],
            snappy(&bad_labels),
            400,
        ),
        (
            "POST",
            vec![("content-type", json)],
            b"{\"streams\":[{\"values\":[[1,\"x\"]]}]}".to_vec(),
            400,
        ),
        (
            "POST",
            vec![("content-type", json)],
            b"{not json".to_vec(),
            400,
        ),
        (
            "POST",
            vec![("content-type", json)],
            vec![b' '; 70_000],
            413,
        ),
        (
            "POST",
            vec![("content-type", proto), ("content-encoding", "gzip")],
            b"not gzip".to_vec(),
            400,
        ),
    ];
    let n = cases.len();
    for (method, headers, body, want) in cases {
        let mut req = reqwest::Client::new()
            .request(method.parse().unwrap(), r.url())
            .body(body);
        for (k, v) in &headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), want, "{method} {headers:?}");
    }
    assert_eq!(r.counters.bad_requests.load(Ordering::Relaxed), n as u64);
    assert_eq!(r.sink.count(), 0);
    let (status, _) = post(&r.url(), &[("content-type", proto)], good_body.clone()).await;
    assert_eq!(status, 204);
    assert_eq!(r.records().len(), 1);
    // A refusal downstream: 503, so the client retries.
    *r.sink.fail.lock().unwrap() = Some(ConsumeError::retryable("full"));
    let (status, _) = post(&r.url(), &[("content-type", proto)], good_body).await;
    assert_eq!(status, 503);
    r.stop().await;
}

/// A bounded randomized search over mutated bodies: the decoders never panic.
#[test]
fn decoders_never_panic() {
    let good = br#"{"streams":[{"stream":{"job":"a"},"values":[["1","l"]]}]}"#.to_vec();
    let mut rng_state = 0x2545F4914F6CDD1Du64;
    let mut next = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    let proto = snap::raw::Encoder::new()
        .compress_vec(
            &exporters::loki::push::PushRequest {
                streams: vec![exporters::loki::push::StreamAdapter {
                    labels: r#"{job="x", a="b"}"#.into(),
                    entries: vec![Default::default()],
                    hash: 1,
                }],
                format: String::new(),
            }
            .encode_to_vec(),
        )
        .unwrap();
    for _ in 0..5000 {
        for (ct, base) in [
            ("application/json", &good),
            ("application/x-protobuf", &proto),
        ] {
            let mut b = base.clone();
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
            let _ = decode_push(ct, &b, true, 1 << 20);
        }
        let labels: String = (0..(next() % 20))
            .map(|_| b"{}=\",'ab_\\ 1"[(next() % 12) as usize] as char)
            .collect();
        let _ = parse_labels(&labels);
    }
}
