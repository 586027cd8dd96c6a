//! The `otlp` receiver's tests: config, lifecycle, and the consume contract over gRPC and
//! HTTP with real clients on 127.0.0.1 port 0.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use pipeline_api::config::{parse_typed, ConfigError, ConfigValue, Validate};
use pipeline_api::proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{
    async_trait, Batch, BatchData, BuildContext, BuildError, CancellationToken, ComponentConfig,
    ComponentId, ComponentKind, ConsumeError, Consumer, Receiver, Signal, SignalConsumers,
};
use prost::Message;
use tokio::sync::{oneshot, Notify};
use tonic::codec::CompressionEncoding;
use tonic::Code;

use super::compression::tests::compress;
use super::errors::RpcStatus;
use super::{factory, LocalAddrs, OtlpReceiver, OtlpReceiverConfig};

// ---------------------------------------------------------------------------------------
// helpers

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).unwrap()
}

fn parse(s: &str) -> Result<OtlpReceiverConfig, Vec<ConfigError>> {
    parse_typed::<OtlpReceiverConfig>(&yaml(s))
}

const BOTH: &str = "protocols: {grpc: {endpoint: '127.0.0.1:0'}, http: {endpoint: '127.0.0.1:0'}}";

/// Keeps every batch it is given.
#[derive(Default)]
struct Collect {
    batches: Mutex<Vec<Batch>>,
}

impl Collect {
    fn take(&self) -> Vec<Batch> {
        std::mem::take(&mut *self.batches.lock().unwrap())
    }
}

#[async_trait]
impl Consumer for Collect {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        self.batches.lock().unwrap().push(batch);
        Ok(())
    }
}

/// Refuses everything with one error, counting calls.
struct Refuse(ConsumeError, AtomicUsize);

impl Refuse {
    fn new(e: ConsumeError) -> Arc<Refuse> {
        Arc::new(Refuse(e, AtomicUsize::new(0)))
    }
}

#[async_trait]
impl Consumer for Refuse {
    async fn consume(&self, _batch: Batch) -> Result<(), ConsumeError> {
        self.1.fetch_add(1, Ordering::SeqCst);
        Err(self.0.clone())
    }
}

/// Holds each batch until the test opens the gate.
struct Gate {
    entered: Notify,
    open: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
    returned: AtomicBool,
}

impl Gate {
    fn new() -> (Arc<Gate>, oneshot::Sender<()>) {
        let (tx, rx) = oneshot::channel();
        (
            Arc::new(Gate {
                entered: Notify::new(),
                open: tokio::sync::Mutex::new(Some(rx)),
                returned: AtomicBool::new(false),
            }),
            tx,
        )
    }
}

#[async_trait]
impl Consumer for Gate {
    async fn consume(&self, _batch: Batch) -> Result<(), ConsumeError> {
        self.entered.notify_one();
        let rx = self.open.lock().await.take();
        if let Some(rx) = rx {
            let _ = rx.await;
        }
        self.returned.store(true, Ordering::SeqCst);
        Ok(())
    }
}

fn every_signal(c: Arc<dyn Consumer>) -> SignalConsumers {
    SignalConsumers {
        traces: Some(c.clone()),
        metrics: Some(c.clone()),
        logs: Some(c),
    }
}

fn context(telemetry: ComponentTelemetry) -> BuildContext {
    BuildContext {
        id: telemetry.id().clone(),
        telemetry,
        signals: Signal::ALL.to_vec(),
        extensions: Arc::new(BTreeMap::new()),
        memory: Default::default(),
    }
}

fn test_id() -> ComponentId {
    ComponentId::parse("otlp/test").unwrap()
}

struct Running {
    addrs: LocalAddrs,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), BuildError>>,
    telemetry: ComponentTelemetry,
}

impl Running {
    fn grpc(&self) -> SocketAddr {
        self.addrs.grpc.unwrap()
    }

    fn http(&self) -> SocketAddr {
        self.addrs.http.unwrap()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("run returns after shutdown")
            .unwrap()
            .unwrap();
    }

    /// The value of counter `name` with `transport` for this receiver.
    fn counter(&self, name: &str, transport: &str) -> u64 {
        let families = self.telemetry.telemetry().registry().gather();
        families
            .iter()
            .filter(|f| f.name() == name)
            .flat_map(|f| f.get_metric())
            .filter(|m| {
                m.get_label()
                    .iter()
                    .any(|l| l.name() == "transport" && l.value() == transport)
                    && m.get_label()
                        .iter()
                        .any(|l| l.name() == "receiver" && l.value() == "otlp/test")
            })
            .map(|m| m.get_counter().get_value() as u64)
            .sum()
    }
}

fn start(config: &str, next: SignalConsumers) -> Running {
    let cfg = parse(config).unwrap();
    let telemetry = ComponentTelemetry::detached(ComponentKind::Receiver, &test_id());
    let receiver = OtlpReceiver::build(context(telemetry.clone()), &cfg, next).unwrap();
    let addrs = receiver.local_addrs();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(Box::new(receiver).run(shutdown.clone()));
    Running {
        addrs,
        shutdown,
        task,
        telemetry,
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn traces(spans: usize) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "test")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..spans)
                    .map(|i| Span {
                        trace_id: vec![7; 16],
                        span_id: (i as u64 + 1).to_be_bytes().to_vec(),
                        name: format!("span-{i}"),
                        start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metrics(points: usize) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "g".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: (0..points)
                            .map(|i| NumberDataPoint {
                                time_unix_nano: i as u64,
                                value: Some(number_data_point::Value::AsInt(i as i64)),
                                ..Default::default()
                            })
                            .collect(),
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn logs(records: usize) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: (0..records)
                    .map(|i| LogRecord {
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(format!("log {i}"))),
                        }),
                        severity_number: 9,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn trace_client(addr: SocketAddr) -> TraceServiceClient<tonic::transport::Channel> {
    TraceServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
}

/// An HTTP/1.1 response: status, headers, body.
struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `google.rpc.Status` of an error response, from protobuf or JSON.
    fn rpc_status(&self) -> (i64, String) {
        if self.header("content-type") == Some("application/json") {
            let v: serde_json::Value = serde_json::from_slice(&self.body).unwrap();
            (
                v["code"].as_i64().unwrap(),
                v["message"].as_str().unwrap().to_string(),
            )
        } else {
            assert_eq!(self.header("content-type"), Some("application/x-protobuf"));
            let s = RpcStatus::decode(self.body.as_ref()).unwrap();
            (i64::from(s.code), s.message)
        }
    }
}

async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Resp {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client
        .request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        headers,
        body,
    }
}

async fn post(addr: SocketAddr, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
    send(
        addr,
        Method::POST,
        path,
        &[("content-type", content_type)],
        body,
    )
    .await
}

const PB: &str = "application/x-protobuf";
const JSON: &str = "application/json";

fn example(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../shared/testdata/otlp-examples/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ---------------------------------------------------------------------------------------
// config

#[test]
fn defaults_validate_and_are_both_protocols_with_go_defaults() {
    let d = OtlpReceiverConfig::default();
    assert!(d.validate().is_empty(), "{:?}", d.validate());
    assert_eq!(parse("protocols:\n  grpc:\n  http:\n").unwrap(), d);
    let g = d.protocols.grpc.as_ref().unwrap();
    let h = d.protocols.http.as_ref().unwrap();
    assert_eq!(g.endpoint, "localhost:4317");
    assert_eq!(g.max_recv_msg_size(), 4 * 1024 * 1024);
    assert_eq!(g.read_buffer_size, 512 * 1024);
    assert_eq!(h.endpoint, "localhost:4318");
    // Go confighttp defaultMaxRequestBodySize = 20 MiB.
    assert_eq!(h.max_body(), 20_971_520);
    // confighttp's header timeout, which Go's otlp receiver zeroes (docs/migration.md).
    assert_eq!(
        h.read_header_timeout.get(),
        std::time::Duration::from_secs(60)
    );
    assert_eq!(
        (h.traces_path(), h.metrics_path(), h.logs_path()),
        ("/v1/traces".into(), "/v1/metrics".into(), "/v1/logs".into())
    );
    assert_eq!(
        d.listen_addresses(),
        vec![
            (
                "protocols::grpc::endpoint".to_string(),
                "localhost:4317".to_string()
            ),
            (
                "protocols::http::endpoint".to_string(),
                "localhost:4318".to_string()
            )
        ]
    );
}

#[test]
fn unknown_keys_are_rejected_with_their_path() {
    let errs =
        parse("protocols: {grpc: {endpiont: 'localhost:1'}, http: {cors: {allowed_origin: [x]}}}")
            .unwrap_err();
    let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        errs[0].path_string(),
        "protocols::grpc::endpiont",
        "{msgs:?}"
    );
    assert!(msgs[0].contains("did you mean \"endpoint\""), "{msgs:?}");
    assert_eq!(
        errs[1].path_string(),
        "protocols::http::cors::allowed_origin",
        "{msgs:?}"
    );
    // the typo, and what the section without it lacks
    let errs = parse("protocol: {grpc: ~}").unwrap_err();
    let paths: Vec<String> = errs.iter().map(|e| e.path_string()).collect();
    assert!(paths.iter().any(|p| p == "protocol"), "{paths:?}");
}

#[test]
fn no_protocol_is_an_error_as_in_go() {
    for cfg in ["", "protocols: {}", "protocols:"] {
        let errs = parse(cfg).unwrap_err();
        assert_eq!(
            errs.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            vec!["must specify at least one protocol when using the OTLP receiver"],
            "{cfg:?}"
        );
    }
}

#[test]
fn a_protocol_is_enabled_iff_its_key_is_present() {
    let c = parse("protocols:\n  http:\n").unwrap();
    assert!(c.protocols.grpc.is_none());
    assert_eq!(
        c.protocols.http,
        OtlpReceiverConfig::default().protocols.http
    );
    let c = parse("protocols: {grpc: {endpoint: '0.0.0.0:5317'}}").unwrap();
    assert!(c.protocols.http.is_none());
    assert_eq!(c.protocols.grpc.unwrap().endpoint, "0.0.0.0:5317");
}

#[test]
fn go_config_keys_are_accepted() {
    let c = parse(
        r#"
protocols:
  grpc:
    endpoint: 0.0.0.0:4317
    transport: tcp
    max_recv_msg_size_mib: 16
    max_concurrent_streams: 100
    read_buffer_size: 1048576
    write_buffer_size: 1048576
    include_metadata: true
    keepalive:
      server_parameters: {max_connection_idle: 11s, max_connection_age: 12s, max_connection_age_grace: 13s, time: 30s, timeout: 5s}
      enforcement_policy: {min_time: 10s, permit_without_stream: true}
    tls: {cert_file: /c.pem, key_file: /k.pem, client_ca_file: /ca.pem, min_version: "1.2", reload_interval: 1h}
  http:
    endpoint: ":4318"
    include_metadata: true
    max_request_body_size: 1000
    cors: {allowed_origins: ["https://*.example.com"], allowed_headers: [X-Custom], max_age: 7200}
    response_headers: {x-served-by: ferrotel}
    compression_algorithms: [gzip, zstd, ""]
    read_header_timeout: 10s
    traces_url_path: custom/traces
    metrics_url_path: /custom/metrics
"#,
    )
    .unwrap();
    let g = c.protocols.grpc.as_ref().unwrap();
    assert_eq!(g.max_recv_msg_size(), 16 << 20);
    assert_eq!(
        g.tls.as_ref().unwrap().reload_interval.get(),
        Duration::from_secs(3600)
    );
    let h = c.protocols.http.as_ref().unwrap();
    // Go SanitizedURLPath: a relative path gets a leading slash.
    assert_eq!(h.traces_path(), "/custom/traces");
    assert_eq!(h.max_body(), 1000);
    assert_eq!(
        h.endpoint, ":4318",
        "Go's all-interfaces form, bound by transport::net"
    );
}

#[test]
fn invalid_values_are_reported_with_paths() {
    let errs = parse(
        "protocols: {grpc: {endpoint: 'nohost', transport: udp, tls: {cert_file: /c}}, http: {endpoint: 'x:99999', compression_algorithms: [br], traces_url_path: /v1/logs}}",
    )
    .unwrap_err();
    let paths: Vec<String> = errs.iter().map(|e| e.path_string()).collect();
    assert_eq!(
        paths,
        vec![
            "protocols::grpc::endpoint",
            "protocols::grpc::transport",
            "protocols::grpc::tls",
            "protocols::http::endpoint",
            "protocols::http::compression_algorithms",
            "protocols::http::logs_url_path",
        ]
    );
}

#[test]
fn the_factory_parses_and_lists_itself() {
    let f = factory();
    assert_eq!(f.type_name(), "otlp");
    let cfg = f.parse_config(&yaml("protocols:\n  grpc:\n")).unwrap();
    assert_eq!(
        cfg.listen_addresses(),
        vec![(
            "protocols::grpc::endpoint".to_string(),
            "localhost:4317".to_string()
        )]
    );
    assert!(f.parse_config(&ConfigValue::Null).is_err());
    assert!(crate::factories().iter().any(|f| f.type_name() == "otlp"));
}

// ---------------------------------------------------------------------------------------
// lifecycle

#[tokio::test]
async fn build_run_shutdown_twice_on_port_0() {
    for _ in 0..2 {
        let collect = Arc::new(Collect::default());
        let r = start(BOTH, every_signal(collect.clone()));
        let (g, h) = (r.grpc(), r.http());
        assert_ne!(g.port(), 0);
        assert_ne!(h.port(), 0);
        trace_client(g).await.export(traces(1)).await.unwrap();
        assert_eq!(
            post(h, "/v1/traces", PB, traces(1).encode_to_vec())
                .await
                .status,
            StatusCode::OK
        );
        r.stop().await;
        assert_eq!(collect.take().len(), 2);
        // Nothing listens any more.
        assert!(tokio::net::TcpStream::connect(g).await.is_err());
        assert!(tokio::net::TcpStream::connect(h).await.is_err());
    }
}

#[tokio::test]
async fn build_through_the_factory_boxes_a_receiver() {
    let cfg = factory().parse_config(&yaml(BOTH)).unwrap();
    let telemetry = ComponentTelemetry::detached(ComponentKind::Receiver, &test_id());
    let receiver = factory()
        .build(context(telemetry), cfg.as_ref(), SignalConsumers::default())
        .unwrap();
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    receiver.run(shutdown).await.unwrap();
}

#[tokio::test]
async fn a_port_in_use_fails_the_build_naming_the_endpoint() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let cfg = parse(&format!(
        "protocols: {{http: {{endpoint: '127.0.0.1:{port}'}}}}"
    ))
    .unwrap();
    let telemetry = ComponentTelemetry::detached(ComponentKind::Receiver, &test_id());
    let err =
        OtlpReceiver::build(context(telemetry), &cfg, SignalConsumers::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "protocols::http::endpoint: failed to listen on 127.0.0.1:{port}:"
        )),
        "{msg}"
    );
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight() {
    let (gate, open) = Gate::new();
    let r = start(BOTH, every_signal(gate.clone()));
    let h = r.http();
    let request = tokio::spawn(async move {
        post(h, "/v1/logs", PB, logs(1).encode_to_vec())
            .await
            .status
    });
    gate.entered.notified().await;
    r.shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !r.task.is_finished(),
        "run must wait for the request in flight"
    );
    assert!(!request.is_finished());
    open.send(()).unwrap();
    assert_eq!(request.await.unwrap(), StatusCode::OK);
    r.stop().await;
}

#[tokio::test]
async fn shutdown_finishes_grpc_calls_in_flight() {
    let (gate, open) = Gate::new();
    let r = start(BOTH, every_signal(gate.clone()));
    let mut client = trace_client(r.grpc()).await;
    let call = tokio::spawn(async move { client.export(traces(1)).await });
    gate.entered.notified().await;
    r.shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !r.task.is_finished(),
        "run must wait for the call in flight"
    );
    open.send(()).unwrap();
    call.await.unwrap().unwrap();
    r.stop().await;
}

// ---------------------------------------------------------------------------------------
// gRPC

#[tokio::test]
async fn grpc_delivers_each_signal_exactly_with_its_context() {
    let collect = Arc::new(Collect::default());
    let r = start(BOTH, every_signal(collect.clone()));
    let g = r.grpc();
    trace_client(g).await.export(traces(3)).await.unwrap();
    MetricsServiceClient::connect(format!("http://{g}"))
        .await
        .unwrap()
        .export(metrics(4))
        .await
        .unwrap();
    LogsServiceClient::connect(format!("http://{g}"))
        .await
        .unwrap()
        .export(logs(2))
        .await
        .unwrap();
    let got = collect.take();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].data(), &BatchData::Traces(traces(3)));
    assert_eq!(got[1].data(), &BatchData::Metrics(metrics(4)));
    assert_eq!(got[2].data(), &BatchData::Logs(logs(2)));
    assert_eq!(
        got.iter().map(Batch::items).collect::<Vec<_>>(),
        vec![3, 4, 2]
    );
    let ctx = got[0].context();
    assert_eq!(ctx.receiver, Some(test_id()));
    assert_eq!(ctx.client_address.unwrap().ip(), g.ip());
    assert!(ctx.metadata.is_empty(), "include_metadata is off");
    // receiverhelper counters: otelcol_receiver_accepted_{spans,metric_points,log_records}.
    assert_eq!(r.counter("otelcol_receiver_accepted_spans", "grpc"), 3);
    assert_eq!(
        r.counter("otelcol_receiver_accepted_metric_points", "grpc"),
        4
    );
    assert_eq!(
        r.counter("otelcol_receiver_accepted_log_records", "grpc"),
        2
    );
    assert_eq!(r.counter("otelcol_receiver_accepted_spans", "http"), 0);
    r.stop().await;
}

#[tokio::test]
async fn grpc_accepts_gzip_zstd_and_deflate_requests() {
    let collect = Arc::new(Collect::default());
    let r = start(BOTH, every_signal(collect.clone()));
    for enc in [
        CompressionEncoding::Gzip,
        CompressionEncoding::Zstd,
        CompressionEncoding::Deflate,
    ] {
        trace_client(r.grpc())
            .await
            .send_compressed(enc)
            .export(traces(2))
            .await
            .unwrap();
        assert_eq!(
            collect.take()[0].data(),
            &BatchData::Traces(traces(2)),
            "{enc:?}"
        );
    }
    r.stop().await;
}

#[tokio::test]
async fn grpc_refusals_map_to_go_status_codes() {
    let cases = [
        (
            ConsumeError::retryable("queue is full"),
            Code::Unavailable,
            None,
        ),
        (
            ConsumeError::throttled("slow down", Duration::from_secs(3)),
            Code::ResourceExhausted,
            Some(Duration::from_secs(3)),
        ),
        (
            ConsumeError::permanent("rejected by backend"),
            Code::InvalidArgument,
            None,
        ),
    ];
    for (err, code, delay) in cases {
        let refuse = Refuse::new(err.clone());
        let r = start(BOTH, every_signal(refuse.clone()));
        let status = trace_client(r.grpc())
            .await
            .export(traces(2))
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{err}");
        assert_eq!(status.message(), err.message());
        let details = if status.details().is_empty() {
            None
        } else {
            RpcStatus::decode(status.details()).unwrap().retry_delay()
        };
        assert_eq!(details, delay, "RetryInfo of {err}");
        assert_eq!(refuse.1.load(Ordering::SeqCst), 1);
        assert_eq!(r.counter("otelcol_receiver_refused_spans", "grpc"), 2);
        assert_eq!(r.counter("otelcol_receiver_accepted_spans", "grpc"), 0);
        r.stop().await;
    }
}

#[tokio::test]
async fn grpc_signal_without_consumer_is_unimplemented() {
    let collect = Arc::new(Collect::default());
    let next = SignalConsumers {
        traces: Some(collect.clone()),
        ..Default::default()
    };
    let r = start(BOTH, next);
    let g = r.grpc();
    let status = LogsServiceClient::connect(format!("http://{g}"))
        .await
        .unwrap()
        .export(logs(1))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    let status = MetricsServiceClient::connect(format!("http://{g}"))
        .await
        .unwrap()
        .export(metrics(1))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    trace_client(g).await.export(traces(1)).await.unwrap();
    assert_eq!(collect.take().len(), 1);
    r.stop().await;
}

#[tokio::test]
async fn grpc_responds_only_after_consume_returned() {
    let (gate, open) = Gate::new();
    let r = start(BOTH, every_signal(gate.clone()));
    let mut client = trace_client(r.grpc()).await;
    let call = tokio::spawn(async move { client.export(traces(1)).await });
    gate.entered.notified().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!call.is_finished(), "answered before consume returned");
    open.send(()).unwrap();
    call.await.unwrap().unwrap();
    assert!(gate.returned.load(Ordering::SeqCst));
    r.stop().await;
}

#[tokio::test]
async fn grpc_empty_request_is_acknowledged_without_consume() {
    // Go internal/trace/otlp.go: `if numSpans == 0 { return ptraceotlp.NewExportResponse(), nil }`.
    let refuse = Refuse::new(ConsumeError::permanent("must not be called"));
    let r = start(BOTH, every_signal(refuse.clone()));
    trace_client(r.grpc())
        .await
        .export(ExportTraceServiceRequest::default())
        .await
        .unwrap();
    assert_eq!(
        post(r.http(), "/v1/traces", JSON, b"{}".to_vec())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(refuse.1.load(Ordering::SeqCst), 0);
    r.stop().await;
}

#[tokio::test]
async fn grpc_include_metadata_passes_lower_case_headers() {
    let collect = Arc::new(Collect::default());
    let r = start(
        "protocols: {grpc: {endpoint: '127.0.0.1:0', include_metadata: true}}",
        every_signal(collect.clone()),
    );
    let mut req = tonic::Request::new(traces(1));
    req.metadata_mut()
        .insert("x-tenant", "Acme".parse().unwrap());
    trace_client(r.grpc()).await.export(req).await.unwrap();
    let got = collect.take();
    let ctx = got[0].context();
    assert_eq!(ctx.metadata_values("x-tenant"), vec!["Acme"]);
    assert_eq!(ctx.metadata_values("host"), vec![r.grpc().to_string()]);
    assert!(ctx
        .metadata
        .iter()
        .all(|(k, _)| k == &k.to_ascii_lowercase()));
    r.stop().await;
}

/// Protobuf requests are handed on as the bytes received (checked and counted, not decoded),
/// so a pass-through pipeline never decodes them; JSON is written into protobuf and arrives
/// in the wire form too.
#[tokio::test]
async fn protobuf_requests_are_handed_on_as_received_bytes() {
    let collect = Arc::new(Collect::default());
    let r = start(
        "protocols: {grpc: {endpoint: '127.0.0.1:0'}, http: {endpoint: '127.0.0.1:0'}}",
        every_signal(collect.clone()),
    );
    let req = traces(3);
    let sent = req.encode_to_vec();
    trace_client(r.grpc())
        .await
        .export(req.clone())
        .await
        .unwrap();
    let resp = post(r.http(), "/v1/traces", PB, sent.clone()).await;
    assert_eq!(resp.status, StatusCode::OK);
    let got = collect.take();
    assert_eq!(got.len(), 2);
    for b in &got {
        assert!(b.is_wire() && !b.is_decoded(), "{b:?}");
        assert_eq!(b.items(), 3);
        assert_eq!(b.encode(), sent);
        assert_eq!(b.as_traces(), Some(&req));
    }
    let json = serde_json::to_vec(&req).unwrap();
    let resp = post(r.http(), "/v1/traces", JSON, json).await;
    assert_eq!(resp.status, StatusCode::OK, "{:?}", resp.body);
    let b = collect.take().pop().unwrap();
    assert!(
        b.is_wire() && !b.is_decoded(),
        "JSON written into protobuf: {b:?}"
    );
    assert_eq!(b.as_traces(), Some(&req));
    r.stop().await;
}

#[tokio::test]
async fn grpc_message_over_max_recv_msg_size_is_refused_and_server_keeps_serving() {
    let collect = Arc::new(Collect::default());
    let r = start(
        "protocols: {grpc: {endpoint: '127.0.0.1:0', max_recv_msg_size_mib: 1}}",
        every_signal(collect.clone()),
    );
    let mut big = traces(1);
    big.resource_spans[0].scope_spans[0].spans[0].name = "x".repeat(1_100_000);
    let status = trace_client(r.grpc()).await.export(big).await.unwrap_err();
    // grpc-go's code ("received message larger than max"); tonic's own is OUT_OF_RANGE,
    // which clients retry
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let mut bad_ids = traces(1);
    bad_ids.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![1, 2, 3];
    let status = trace_client(r.grpc())
        .await
        .export(bad_ids)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("Span.trace_id"), "{status:?}");
    trace_client(r.grpc())
        .await
        .export(traces(1))
        .await
        .unwrap();
    assert_eq!(collect.take().len(), 1);
    r.stop().await;
}

// ---------------------------------------------------------------------------------------
// HTTP

#[tokio::test]
async fn http_protobuf_delivers_each_signal_exactly() {
    let collect = Arc::new(Collect::default());
    let r = start(BOTH, every_signal(collect.clone()));
    let h = r.http();
    for (path, body) in [
        ("/v1/traces", traces(2).encode_to_vec()),
        ("/v1/metrics", metrics(3).encode_to_vec()),
        ("/v1/logs", logs(4).encode_to_vec()),
    ] {
        let resp = post(h, path, PB, body).await;
        assert_eq!(resp.status, StatusCode::OK, "{path}");
        assert_eq!(resp.header("content-type"), Some(PB));
        assert_eq!(
            &resp.body[..],
            &[0x0a, 0x00],
            "Go encodes the empty partial success"
        );
    }
    let got = collect.take();
    assert_eq!(got[0].data(), &BatchData::Traces(traces(2)));
    assert_eq!(got[1].data(), &BatchData::Metrics(metrics(3)));
    assert_eq!(got[2].data(), &BatchData::Logs(logs(4)));
    assert_eq!(got[0].context().receiver, Some(test_id()));
    assert_eq!(got[0].context().client_address.unwrap().ip(), h.ip());
    assert_eq!(r.counter("otelcol_receiver_accepted_spans", "http"), 2);
    assert_eq!(
        r.counter("otelcol_receiver_accepted_metric_points", "http"),
        3
    );
    assert_eq!(
        r.counter("otelcol_receiver_accepted_log_records", "http"),
        4
    );
    r.stop().await;
}

#[tokio::test]
async fn http_json_spec_examples_decode_with_the_right_items() {
    let collect = Arc::new(Collect::default());
    let r = start(BOTH, every_signal(collect.clone()));
    let h = r.http();
    for (file, path, items) in [
        ("trace.json", "/v1/traces", 1),
        ("metrics.json", "/v1/metrics", 4),
        ("logs.json", "/v1/logs", 1),
        ("events.json", "/v1/logs", 1),
    ] {
        let resp = post(h, path, "application/json; charset=utf-8", example(file)).await;
        assert_eq!(resp.status, StatusCode::OK, "{file}: {:?}", resp.body);
        assert_eq!(resp.header("content-type"), Some(JSON));
        assert_eq!(&resp.body[..], br#"{"partialSuccess":{}}"#);
        let batch = collect.take().pop().unwrap();
        assert_eq!(batch.items(), items, "{file}");
        // The same data sent as protobuf arrives identical.
        let resp = post(h, path, PB, batch.encode()).await;
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(collect.take().pop().unwrap().data(), batch.data(), "{file}");
    }
    r.stop().await;
}

#[test]
fn spec_examples_decode_field_by_field() {
    use super::json::decode;
    let BatchData::Traces(t) = decode(Signal::Traces, &example("trace.json")).unwrap() else {
        panic!()
    };
    let span = &t.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(
        span.trace_id,
        vec![
            0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f,
            0xc6, 0x0c
        ]
    );
    assert_eq!(
        span.parent_span_id,
        vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73]
    );
    assert_eq!(
        (
            span.kind,
            span.start_time_unix_nano,
            span.end_time_unix_nano
        ),
        (2, 1544712660000000000, 1544712661000000000)
    );
    assert_eq!(
        t.resource_spans[0].scope_spans[0]
            .scope
            .as_ref()
            .unwrap()
            .version,
        "1.0.0"
    );

    let BatchData::Metrics(m) = decode(Signal::Metrics, &example("metrics.json")).unwrap() else {
        panic!()
    };
    let ms = &m.resource_metrics[0].scope_metrics[0].metrics;
    let Some(metric::Data::Sum(sum)) = &ms[0].data else {
        panic!("{:?}", ms[0])
    };
    assert!(sum.is_monotonic);
    assert_eq!(sum.aggregation_temporality, 1);
    assert_eq!(
        sum.data_points[0].value,
        Some(number_data_point::Value::AsDouble(5.0))
    );
    let Some(metric::Data::Histogram(hist)) = &ms[2].data else {
        panic!("{:?}", ms[2])
    };
    assert_eq!(hist.data_points[0].count, 2);
    assert_eq!(hist.data_points[0].bucket_counts, vec![1, 1]);
    assert!(matches!(
        ms[3].data,
        Some(metric::Data::ExponentialHistogram(_))
    ));

    let BatchData::Logs(l) = decode(Signal::Logs, &example("events.json")).unwrap() else {
        panic!()
    };
    let rec = &l.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(rec.event_name, "browser.page_view");
    let Some(any_value::Value::KvlistValue(kv)) = rec.body.as_ref().and_then(|b| b.value.as_ref())
    else {
        panic!()
    };
    assert_eq!(kv.values.len(), 4);
    assert_eq!(
        kv.values[0].value.as_ref().unwrap().value,
        Some(any_value::Value::IntValue(0))
    );
    let BatchData::Logs(l) = decode(Signal::Logs, &example("logs.json")).unwrap() else {
        panic!()
    };
    let rec = &l.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(
        (rec.severity_number, rec.trace_id.len(), rec.span_id.len()),
        (10, 16, 8)
    );
}

#[tokio::test]
async fn http_accepts_every_go_content_encoding() {
    let collect = Arc::new(Collect::default());
    let r = start(BOTH, every_signal(collect.clone()));
    let body = traces(3).encode_to_vec();
    for enc in [
        "gzip",
        "zstd",
        "deflate",
        "zlib",
        "snappy",
        "x-snappy-framed",
    ] {
        let resp = send(
            r.http(),
            Method::POST,
            "/v1/traces",
            &[("content-type", PB), ("content-encoding", enc)],
            compress(enc, &body),
        )
        .await;
        assert_eq!(resp.status, StatusCode::OK, "{enc}: {:?}", resp.body);
        assert_eq!(
            collect.take()[0].data(),
            &BatchData::Traces(traces(3)),
            "{enc}"
        );
    }
    // Bodies over 64 KiB are unpacked off the reactor; the data is the same.
    let big = traces(3000);
    let big_body = big.encode_to_vec();
    assert!(big_body.len() > 64 * 1024);
    for enc in ["", "zstd"] {
        let resp = send(
            r.http(),
            Method::POST,
            "/v1/traces",
            &[("content-type", PB), ("content-encoding", enc)],
            compress(enc, &big_body),
        )
        .await;
        assert_eq!(resp.status, StatusCode::OK, "{enc}");
        assert_eq!(collect.take()[0].data(), &BatchData::Traces(big.clone()));
    }
    // Go's snappyHandler: framed data sent as `snappy` is still read.
    let resp = send(
        r.http(),
        Method::POST,
        "/v1/traces",
        &[("content-type", PB), ("content-encoding", "snappy")],
        compress("x-snappy-framed", &body),
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(collect.take().len(), 1);
    r.stop().await;
}

#[tokio::test]
async fn http_malformed_requests_get_go_answers_and_the_server_keeps_serving() {
    let collect = Arc::new(Collect::default());
    let r = start(BOTH, every_signal(collect.clone()));
    let h = r.http();
    let good = traces(1).encode_to_vec();

    let resp = send(h, Method::GET, "/v1/traces", &[], vec![]).await;
    assert_eq!(resp.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.header("allow"), Some("POST"));
    assert_eq!(&resp.body[..], b"405 method not allowed, supported: [POST]");

    let resp = post(h, "/v1/traces", "text/plain", good.clone()).await;
    assert_eq!(resp.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        &resp.body[..],
        b"415 unsupported media type, supported: [application/json, application/x-protobuf]"
    );
    let resp = send(h, Method::POST, "/v1/traces", &[], good.clone()).await;
    assert_eq!(
        resp.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "no Content-Type"
    );

    let resp = post(h, "/v1/traces", PB, good[..good.len() - 3].to_vec()).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "truncated protobuf");
    let (code, msg) = resp.rpc_status();
    assert_eq!(code, 3);
    assert!(msg.contains("protobuf"), "{msg}");

    let resp = post(h, "/v1/logs", JSON, b"{\"resourceLogs\": [".to_vec()).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "invalid JSON");
    assert_eq!(resp.header("content-type"), Some(JSON));
    let (code, msg) = resp.rpc_status();
    assert_eq!(code, 3);
    assert!(msg.contains("invalid JSON"), "{msg}");

    let resp = post(
        h,
        "/v1/traces",
        JSON,
        br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}"#.to_vec(),
    )
    .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "bad hex id");

    let resp = send(
        h,
        Method::POST,
        "/v1/traces",
        &[("content-type", PB), ("content-encoding", "gzip")],
        good.clone(),
    )
    .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "bad gzip");
    assert!(
        resp.rpc_status().1.contains("gzip"),
        "{}",
        resp.rpc_status().1
    );

    let resp = send(
        h,
        Method::POST,
        "/v1/traces",
        &[("content-type", PB), ("content-encoding", "br")],
        good.clone(),
    )
    .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(resp.rpc_status().1, "unsupported Content-Encoding: br");

    let resp = post(h, "/v2/traces", PB, good.clone()).await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(&resp.body[..], b"404 page not found\n");

    assert!(collect.take().is_empty());
    assert_eq!(post(h, "/v1/traces", PB, good).await.status, StatusCode::OK);
    assert_eq!(collect.take().len(), 1);
    r.stop().await;
}

#[tokio::test]
async fn http_bodies_over_the_limit_are_413_sent_or_decompressed() {
    let collect = Arc::new(Collect::default());
    let r = start(
        "protocols: {http: {endpoint: '127.0.0.1:0', max_request_body_size: 2000}}",
        every_signal(collect.clone()),
    );
    let h = r.http();
    let mut big = logs(1);
    big.resource_logs[0].scope_logs[0].log_records[0].body = Some(AnyValue {
        value: Some(any_value::Value::StringValue("a".repeat(5000))),
    });
    let raw = big.encode_to_vec();
    let resp = post(h, "/v1/logs", PB, raw.clone()).await;
    assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(resp.rpc_status().1.contains("2000"));
    // A small gzip body that inflates past the limit: refused, never fully inflated.
    let packed = compress("gzip", &raw);
    assert!(packed.len() < 2000);
    let resp = send(
        h,
        Method::POST,
        "/v1/logs",
        &[("content-type", PB), ("content-encoding", "gzip")],
        packed,
    )
    .await;
    assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Chunked, so no Content-Length to refuse early: the read stops at the limit.
    let status = raw_http(h, &chunked_post("/v1/logs", &raw)).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert!(collect.take().is_empty());
    assert_eq!(
        post(h, "/v1/logs", PB, logs(1).encode_to_vec())
            .await
            .status,
        StatusCode::OK
    );
    r.stop().await;
}

fn chunked_post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req.extend_from_slice(b"\r\n0\r\n\r\n");
    req
}

/// Write raw bytes, return the first line of the answer ("" if the server just closed).
async fn raw_http(addr: SocketAddr, bytes: &[u8]) -> String {
    raw_http_within(addr, bytes, Duration::from_secs(5)).await
}

async fn raw_http_within(addr: SocketAddr, bytes: &[u8], wait: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(bytes).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn garbage_on_either_port_is_refused_and_the_server_keeps_serving() {
    let collect = Arc::new(Collect::default());
    let r = start(BOTH, every_signal(collect.clone()));
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for addr in [r.grpc(), r.http()] {
        let wait = Duration::from_millis(300);
        raw_http_within(addr, &junk, wait).await;
        // An HTTP/2 preface and a cut-off frame: the server waits for the rest, and drops it.
        raw_http_within(
            addr,
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x01\x04\x00",
            wait,
        )
        .await;
    }
    // Protobuf that is not an export request, and JSON nested past serde_json's depth limit.
    let h = r.http();
    assert_eq!(
        post(h, "/v1/traces", PB, junk.clone()).await.status,
        StatusCode::BAD_REQUEST
    );
    let deep = format!(
        "{{\"resourceSpans\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert_eq!(
        post(h, "/v1/traces", JSON, deep.into_bytes()).await.status,
        StatusCode::BAD_REQUEST
    );
    let status = raw_http(
        h,
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    )
    .await;
    assert!(!status.starts_with("HTTP/1.1 200"), "{status}");
    trace_client(r.grpc())
        .await
        .export(traces(1))
        .await
        .unwrap();
    assert_eq!(
        post(h, "/v1/traces", PB, traces(1).encode_to_vec())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(collect.take().len(), 2);
    r.stop().await;
}

#[tokio::test]
async fn http_signal_without_consumer_is_404_like_go() {
    let collect = Arc::new(Collect::default());
    let r = start(
        BOTH,
        SignalConsumers {
            metrics: Some(collect.clone()),
            ..Default::default()
        },
    );
    assert_eq!(
        post(r.http(), "/v1/traces", PB, traces(1).encode_to_vec())
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(r.http(), "/v1/logs", PB, logs(1).encode_to_vec())
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(r.http(), "/v1/metrics", PB, metrics(1).encode_to_vec())
            .await
            .status,
        StatusCode::OK
    );
    r.stop().await;
}

#[tokio::test]
async fn http_refusals_map_to_go_status_codes() {
    let cases = [
        (
            ConsumeError::retryable("queue is full"),
            StatusCode::SERVICE_UNAVAILABLE,
            14,
            None,
        ),
        (
            ConsumeError::throttled("slow down", Duration::from_secs(7)),
            StatusCode::TOO_MANY_REQUESTS,
            8,
            Some("7"),
        ),
        (
            ConsumeError::permanent("rejected"),
            StatusCode::BAD_REQUEST,
            3,
            None,
        ),
    ];
    for (err, status, code, retry_after) in cases {
        let r = start(BOTH, every_signal(Refuse::new(err.clone())));
        for ct in [PB, JSON] {
            let body = if ct == PB {
                traces(2).encode_to_vec()
            } else {
                example("trace.json")
            };
            let resp = post(r.http(), "/v1/traces", ct, body).await;
            assert_eq!(resp.status, status, "{err} {ct}");
            assert_eq!(resp.header("retry-after"), retry_after, "{err}");
            assert_eq!(resp.rpc_status(), (code, err.message().to_string()));
        }
        if retry_after.is_some() {
            let resp = post(r.http(), "/v1/traces", PB, traces(1).encode_to_vec()).await;
            let s = RpcStatus::decode(resp.body.as_ref()).unwrap();
            assert_eq!(s.retry_delay(), Some(Duration::from_secs(7)));
        }
        // 2 spans as protobuf, 1 in trace.json, and 1 more when throttled.
        let refused = if retry_after.is_some() { 4 } else { 3 };
        assert_eq!(r.counter("otelcol_receiver_refused_spans", "http"), refused);
        r.stop().await;
    }
}

#[tokio::test]
async fn http_responds_only_after_consume_returned() {
    let (gate, open) = Gate::new();
    let r = start(BOTH, every_signal(gate.clone()));
    let h = r.http();
    let call = tokio::spawn(async move {
        post(h, "/v1/traces", PB, traces(1).encode_to_vec())
            .await
            .status
    });
    gate.entered.notified().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!call.is_finished(), "answered before consume returned");
    open.send(()).unwrap();
    assert_eq!(call.await.unwrap(), StatusCode::OK);
    assert!(gate.returned.load(Ordering::SeqCst));
    r.stop().await;
}

#[tokio::test]
async fn http_custom_paths_metadata_and_response_headers() {
    let collect = Arc::new(Collect::default());
    let r = start(
        "protocols: {http: {endpoint: '127.0.0.1:0', include_metadata: true, traces_url_path: ingest/spans, response_headers: {x-served-by: ferrotel}}}",
        every_signal(collect.clone()),
    );
    let resp = send(
        r.http(),
        Method::POST,
        "/ingest/spans?x=1",
        &[("content-type", PB), ("X-Tenant", "Acme")],
        traces(1).encode_to_vec(),
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.header("x-served-by"), Some("ferrotel"));
    assert_eq!(
        post(r.http(), "/v1/traces", PB, traces(1).encode_to_vec())
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let got = collect.take();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].context().metadata_values("x-tenant"), vec!["Acme"]);
    assert_eq!(got[0].context().metadata_values("content-type"), vec![PB]);
    r.stop().await;
}

#[tokio::test]
async fn http_cors_preflight_and_simple_requests() {
    let collect = Arc::new(Collect::default());
    let r = start(
        "protocols: {http: {endpoint: '127.0.0.1:0', cors: {allowed_origins: ['https://*.example.com'], allowed_headers: [X-Custom], max_age: 600}}}",
        every_signal(collect.clone()),
    );
    let h = r.http();
    async fn preflight(h: SocketAddr, origin: &str, headers: &str) -> Resp {
        let hs = [
            ("origin", origin),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", headers),
        ];
        send(h, Method::OPTIONS, "/v1/traces", &hs, vec![]).await
    }
    let resp = preflight(h, "https://app.example.com", "content-type, x-custom").await;
    assert_eq!(resp.status, StatusCode::NO_CONTENT);
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(resp.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(
        resp.header("access-control-allow-headers"),
        Some("content-type, x-custom")
    );
    assert_eq!(resp.header("access-control-max-age"), Some("600"));
    let resp = preflight(h, "https://evil.test", "content-type").await;
    assert_eq!(resp.header("access-control-allow-origin"), None);
    let resp = preflight(h, "https://app.example.com", "x-other").await;
    assert_eq!(resp.header("access-control-allow-origin"), None);

    let resp = send(
        h,
        Method::POST,
        "/v1/traces",
        &[("content-type", PB), ("origin", "https://app.example.com")],
        traces(1).encode_to_vec(),
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    r.stop().await;
}

// ---------------------------------------------------------------------------------------
// TLS

fn testdata(name: &str) -> String {
    format!("{}/src/otlp/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_file(testdata("ca.crt")).unwrap())
        .unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

#[tokio::test]
async fn tls_serves_grpc_and_http_with_the_configured_certificate() {
    let collect = Arc::new(Collect::default());
    let tls = format!(
        "{{cert_file: '{}', key_file: '{}'}}",
        testdata("server.crt"),
        testdata("server.key")
    );
    let r = start(
        &format!("protocols: {{grpc: {{endpoint: '127.0.0.1:0', tls: {tls}}}, http: {{endpoint: '127.0.0.1:0', tls: {tls}}}}}"),
        every_signal(collect.clone()),
    );
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();

    // HTTP/1.1 over TLS.
    let tcp = tokio::net::TcpStream::connect(r.http()).await.unwrap();
    let tls_stream = tls_connector().connect(name.clone(), tcp).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls_stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::post("/v1/traces")
        .header("host", "localhost")
        .header("content-type", PB)
        .body(Full::new(Bytes::from(traces(1).encode_to_vec())))
        .unwrap();
    assert_eq!(
        sender.send_request(req).await.unwrap().status(),
        StatusCode::OK
    );

    // gRPC over TLS (ALPN h2).
    let addr = r.grpc();
    let connector = tower::service_fn(move |_uri: http::Uri| {
        let name = name.clone();
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            let tls = tls_connector().connect(name, tcp).await?;
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    let channel = tonic::transport::Endpoint::from_static("http://localhost")
        .connect_with_connector(connector)
        .await
        .unwrap();
    TraceServiceClient::new(channel)
        .export(traces(2))
        .await
        .unwrap();
    assert_eq!(
        collect.take().iter().map(Batch::items).collect::<Vec<_>>(),
        vec![1, 2]
    );

    // Plain text to a TLS port is not served.
    let plain = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = Request::post(format!("http://{}/v1/traces", r.http()))
        .header("content-type", PB)
        .body(Full::new(Bytes::from(traces(1).encode_to_vec())))
        .unwrap();
    assert!(plain.request(req).await.is_err());
    r.stop().await;
}

#[tokio::test]
async fn tls_with_a_missing_certificate_fails_the_build() {
    let cfg = parse("protocols: {http: {endpoint: '127.0.0.1:0', tls: {cert_file: /nonexistent.crt, key_file: /nonexistent.key}}}").unwrap();
    let telemetry = ComponentTelemetry::detached(ComponentKind::Receiver, &test_id());
    let err =
        OtlpReceiver::build(context(telemetry), &cfg, SignalConsumers::default()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("protocols::http::tls: failed to load TLS config:"),
        "{err}"
    );
    assert!(err.to_string().contains("/nonexistent.crt"), "{err}");
}

/// HTTP server timeouts Ferrotel does not enforce are reported, once, by the loader.
#[test]
fn unenforced_http_timeouts_are_reported() {
    use pipeline_api::ComponentConfig;
    let quiet = parse("protocols: {http: {read_header_timeout: 5s}}").unwrap();
    assert!(quiet.not_acted_on().is_empty());
    let c = parse("protocols: {http: {write_timeout: 30s, idle_timeout: 1m}}").unwrap();
    let keys: Vec<String> = c.not_acted_on().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "protocols::http::write_timeout",
            "protocols::http::idle_timeout"
        ]
    );
}

/// The gRPC listener advertises DATA frames of up to 256 KiB (SETTINGS_MAX_FRAME_SIZE), so
/// a client that honours it sends a request of tens of kilobytes as one frame instead of
/// 16 KiB pieces; such a frame is taken (HTTP/2's default would end the connection with
/// FRAME_SIZE_ERROR) and its request reaches the pipeline. The receive windows start at
/// HTTP/2's 65,535 bytes, as grpc-go's (they grow with use, see
/// `the_grpc_receive_windows_grow_with_the_bandwidth_delay_product`).
#[tokio::test]
async fn the_grpc_listener_takes_a_request_in_one_data_frame_over_16_kib() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let frame = |kind: u8, flags: u8, stream: u32, payload: &[u8]| {
        let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
        [&len[1..], &[kind, flags], &stream.to_be_bytes(), payload].concat()
    };
    let collect = Arc::new(Collect::default());
    let r = start(BOTH, every_signal(collect.clone()));
    let mut s = tokio::net::TcpStream::connect(r.grpc()).await.unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    s.write_all(&frame(0x4, 0, 0, &[])).await.unwrap();
    // the server's SETTINGS come first
    let mut head = [0u8; 9];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut head))
        .await
        .expect("no SETTINGS in 5 s")
        .unwrap();
    assert_eq!(head[3], 0x4, "SETTINGS first");
    let mut settings = vec![0u8; u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize];
    s.read_exact(&mut settings).await.unwrap();
    let setting = |id: u16| {
        settings
            .chunks_exact(6)
            .find(|c| c[..2] == id.to_be_bytes())
            .map(|c| u32::from_be_bytes([c[2], c[3], c[4], c[5]]))
    };
    assert_eq!(setting(5), Some(256 * 1024), "SETTINGS_MAX_FRAME_SIZE");
    assert_eq!(setting(4), Some(65_535), "SETTINGS_INITIAL_WINDOW_SIZE");
    s.write_all(&frame(0x4, 0x1, 0, &[])).await.unwrap();
    // a header block of literal fields, never indexed, short enough for one-byte lengths
    let mut block = Vec::new();
    for (name, value) in [
        (":method", "POST"),
        (":scheme", "http"),
        (
            ":path",
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        ),
        (":authority", "127.0.0.1"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ] {
        block.push(0x10);
        block.push(name.len() as u8);
        block.extend_from_slice(name.as_bytes());
        block.push(value.len() as u8);
        block.extend_from_slice(value.as_bytes());
    }
    // over HTTP/2's 16 KiB frames, under the first window
    let request = traces(700).encode_to_vec();
    assert!(
        (32 * 1024..60 * 1024).contains(&request.len()),
        "{}",
        request.len()
    );
    let message = grpc_message(&request);
    s.write_all(&frame(0x1, 0x4, 1, &block)).await.unwrap();
    // one DATA frame with END_STREAM: the whole request, under the stream's window
    s.write_all(&frame(0x0, 0x1, 1, &message)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while collect.take().first().map(Batch::items) != Some(700) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the request did not reach the pipeline"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(s);
    r.stop().await;
}

/// How [`h2_call`] sends the request message.
#[derive(Clone, Copy)]
enum Send {
    /// In one DATA frame that ends the stream.
    Whole,
    /// In one DATA frame, the stream ended by an empty one (as hyper's client does).
    WholeThenEmpty,
    /// Cut after this many bytes into two frames.
    Cut(usize),
}

/// One unary call over a plain HTTP/2 client; the answer's status, headers, body and
/// trailers.
async fn h2_call(
    addr: SocketAddr,
    path: &str,
    request: &[u8],
    how: Send,
    encoding: Option<&str>,
) -> (StatusCode, HeaderMap, Vec<u8>, Option<HeaderMap>) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    let driver = tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let (answer, mut send) = client
        .send_request(grpc_head(path, encoding), false)
        .unwrap();
    let message = grpc_message(request);
    match how {
        Send::Whole => send.send_data(message, true).unwrap(),
        Send::WholeThenEmpty => {
            send.send_data(message, false).unwrap();
            send.send_data(Bytes::new(), true).unwrap();
        }
        Send::Cut(n) => {
            send.send_data(message.slice(..n), false).unwrap();
            send.send_data(message.slice(n..), true).unwrap();
        }
    }
    let (status, mut headers, data, trailers) = h2_answer(answer.await.unwrap()).await;
    drop(client);
    driver.abort();
    // the one header that changes from call to call
    headers.remove(http::header::DATE);
    (status, headers, data, trailers)
}

/// A unary call's request head for `path`, with `grpc-encoding` when given.
fn grpc_head(path: &str, encoding: Option<&str>) -> Request<()> {
    let mut head = Request::post(format!("http://127.0.0.1{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(e) = encoding {
        head = head.header("grpc-encoding", e);
    }
    head.body(()).unwrap()
}

/// `request` as a gRPC message: uncompressed, behind its 5-byte prefix.
fn grpc_message(request: &[u8]) -> Bytes {
    let len = u32::try_from(request.len()).unwrap().to_be_bytes();
    [&[0][..], &len, request].concat().into()
}

/// An answer read whole over a plain HTTP/2 client: status, headers, body and trailers.
async fn h2_answer(
    answer: http::Response<h2::RecvStream>,
) -> (StatusCode, HeaderMap, Vec<u8>, Option<HeaderMap>) {
    let (parts, mut body) = answer.into_parts();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let trailers = body.trailers().await.unwrap();
    (parts.status, parts.headers, data, trailers)
}

#[tokio::test]
async fn a_request_in_one_data_frame_is_answered_as_tonic_answers_it_in_two() {
    const PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    let collect = Arc::new(Collect::default());
    let r = start(BOTH, every_signal(collect.clone()));
    // under 16 KiB, so that one DATA frame carries it before the client has read the
    // listener's SETTINGS
    let request = traces(20).encode_to_vec();
    assert!(request.len() < 16 * 1024, "{}", request.len());
    let whole = || super::grpc::WHOLE_MESSAGES.with(std::cell::Cell::get);

    let before = whole();
    let one = h2_call(r.grpc(), PATH, &request, Send::Whole, None).await;
    assert_eq!(
        whole(),
        before + 1,
        "the whole message was not taken as it came"
    );
    let two = h2_call(r.grpc(), PATH, &request, Send::Cut(3), None).await;
    assert_eq!(
        whole(),
        before + 1,
        "a message in two frames goes through tonic"
    );
    assert_eq!(one.0, StatusCode::OK);
    assert_eq!(
        one.3.as_ref().and_then(|t| t.get("grpc-status")),
        Some(&"0".parse().unwrap())
    );
    assert_eq!(one, two, "answers differ");
    let items: usize = collect.take().iter().map(Batch::items).sum();
    assert_eq!(items, 40);

    // a message that is not a request is refused alike both ways
    let bad = [0x0a, 0x05, 0x0a];
    let one = h2_call(r.grpc(), PATH, &bad, Send::Whole, None).await;
    let two = h2_call(r.grpc(), PATH, &bad, Send::Cut(2), None).await;
    assert_eq!(whole(), before + 2);
    assert_eq!(
        one.1.get("grpc-status"),
        Some(&"3".parse().unwrap()),
        "{one:?}"
    );
    assert_eq!(one, two, "refusals differ");

    // a `grpc-encoding` tonic does not take is refused by tonic, even with the message
    // sent plain; one it takes does not stop a plain message from being taken whole
    let snappy = h2_call(r.grpc(), PATH, &request, Send::Whole, Some("snappy")).await;
    assert_eq!(whole(), before + 2);
    assert_eq!(
        snappy.1.get("grpc-status"),
        Some(&"12".parse().unwrap()),
        "{snappy:?}"
    );
    // and a stream ended by an empty DATA frame after the message is taken whole too
    let gzip = h2_call(r.grpc(), PATH, &request, Send::WholeThenEmpty, Some("gzip")).await;
    assert_eq!(
        whole(),
        before + 3,
        "ended by an empty frame, not taken whole"
    );
    let gzip_two = h2_call(r.grpc(), PATH, &request, Send::Cut(3), Some("gzip")).await;
    assert_eq!(gzip, gzip_two, "answers differ");
    let items: usize = collect.take().iter().map(Batch::items).sum();
    assert_eq!(items, 40);
    r.stop().await;
}

/// Relays one connection to `to` with `delay` on each way: every chunk read is written
/// `delay` later, so the link has a round trip of twice `delay` but no bandwidth limit.
async fn delaying_relay(to: SocketAddr, delay: Duration) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.unwrap();
        let server = tokio::net::TcpStream::connect(to).await.unwrap();
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        tokio::spawn(delay_line(client_read, server_write, delay));
        delay_line(server_read, client_write, delay).await;
    });
    addr
}

async fn delay_line(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // unbounded, but HTTP/2's flow control bounds what is in flight
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf).await {
        let due = tokio::time::Instant::now() + delay;
        if tx.send((due, buf[..n].to_vec())).is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}

#[tokio::test]
async fn the_grpc_receive_windows_grow_with_the_bandwidth_delay_product() {
    const PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    // a fixed window as large as hyper's default for a connection would hold a client to
    // 1 MiB per round trip
    const FIXED_WINDOW: usize = 1 << 20;
    let collect = Arc::new(Collect::default());
    let r = start(BOTH, every_signal(collect.clone()));
    // a 100 ms round trip: a client keeps the windows full, so each ping's round trip
    // measures a window's worth of bytes, and the windows double
    let relay = delaying_relay(r.grpc(), Duration::from_millis(50)).await;
    let tcp = tokio::net::TcpStream::connect(relay).await.unwrap();
    let (client, connection) = h2::client::Builder::new()
        .max_send_buffer_size(32 << 20)
        .handshake::<_, Bytes>(tcp)
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    let request = traces(16_000).encode_to_vec();
    assert!(request.len() > 512 << 10, "{}", request.len());
    let message = grpc_message(&request);
    let mut answers = Vec::new();
    for _ in 0..24 {
        let mut c = client.clone().ready().await.unwrap();
        let (answer, mut send) = c.send_request(grpc_head(PATH, None), false).unwrap();
        send.send_data(message.clone(), true).unwrap();
        answers.push(answer);
    }
    for answer in answers {
        let answer = tokio::time::timeout(Duration::from_secs(30), answer)
            .await
            .expect("no answer in 30 s")
            .unwrap();
        let (status, _, _, trailers) = h2_answer(answer).await;
        assert_eq!(status, StatusCode::OK);
        let trailers = trailers.unwrap();
        assert_eq!(trailers.get("grpc-status"), Some(&"0".parse().unwrap()));
    }
    let items: usize = collect.take().iter().map(Batch::items).sum();
    assert_eq!(items, 24 * 16_000);

    // 24 MB sent: a new stream may now have in flight what the grown windows allow
    let mut c = client.ready().await.unwrap();
    let (_answer, mut send) = c.send_request(grpc_head(PATH, None), false).unwrap();
    send.reserve_capacity(16 << 20);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while send.capacity() <= FIXED_WINDOW {
        let polled =
            tokio::time::timeout_at(deadline, std::future::poll_fn(|cx| send.poll_capacity(cx)))
                .await;
        if !matches!(polled, Ok(Some(Ok(_)))) {
            break;
        }
    }
    assert!(
        send.capacity() > FIXED_WINDOW,
        "the windows did not grow: {} bytes may be sent",
        send.capacity()
    );
    driver.abort();
    r.stop().await;
}
