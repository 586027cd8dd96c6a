//! Test servers on 127.0.0.1 port 0: a recording gRPC server (the three OTLP collector
//! services from `opentelemetry-proto` plus Jaeger's `PostSpans`) and a recording HTTP
//! server, each plaintext or TLS with the test CA's certificate; plus a log capture.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use pipeline_api::async_trait;
use pipeline_api::proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use pipeline_api::proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use pipeline_api::proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use pipeline_api::proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use pipeline_api::proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use pipeline_api::proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::codec::CompressionEncoding;
use tonic::{Code, Status};
use tower::ServiceExt;

use crate::jaeger::model::{PostSpansRequest, PostSpansResponse, POST_SPANS_PATH};
use transport::status::RpcStatus;

pub const CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/common/testdata/ca.crt");
const CERT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/common/testdata/server.crt"
);
const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/common/testdata/server.key"
);

/// A server task, stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// rustls acceptor with the test certificate.
pub fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(CERT)
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(KEY).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Serve HTTP/1.1 and HTTP/2 with `handler` until dropped.
pub async fn serve<H, F>(tls: bool, handler: H) -> TestServer
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<tonic::body::Body>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tls.then(tls_acceptor);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let svc = tower::service_fn(move |req: Request<Incoming>| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(req).await) }
                });
                let svc = TowerToHyperService::new(svc);
                let builder = Builder::new(TokioExecutor::new());
                match acceptor {
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                    }
                    Some(a) => {
                        if let Ok(s) = a.accept(stream).await {
                            let _ = builder.serve_connection(TokioIo::new(s), svc).await;
                        }
                    }
                }
            });
        }
    });
    TestServer { addr, task }
}

// ------------------------------------------------------------------------------- gRPC

/// What the gRPC server answers.
#[derive(Debug, Clone, Default)]
pub enum Reply {
    #[default]
    Ok,
    /// Partial success: rejected count and message.
    Partial(i64, String),
    /// A failure status, with a `RetryInfo` delay when set.
    Fail(Code, Option<Duration>),
}

/// Everything the gRPC server received.
#[derive(Default)]
pub struct Recorder {
    pub traces: Mutex<Vec<ExportTraceServiceRequest>>,
    pub metrics: Mutex<Vec<ExportMetricsServiceRequest>>,
    pub logs: Mutex<Vec<ExportLogsServiceRequest>>,
    pub jaeger: Mutex<Vec<PostSpansRequest>>,
    /// The HTTP/2 request headers of every call.
    pub headers: Mutex<Vec<HeaderMap>>,
    /// The `:authority` of every call.
    pub authorities: Mutex<Vec<String>>,
    pub reply: Mutex<Reply>,
}

impl Recorder {
    pub fn set_reply(&self, r: Reply) {
        *self.reply.lock().unwrap() = r;
    }

    fn answer<T>(&self, partial: impl FnOnce(i64, String) -> T) -> Result<T, Status>
    where
        T: Default,
    {
        match self.reply.lock().unwrap().clone() {
            Reply::Ok => Ok(T::default()),
            Reply::Partial(n, m) => Ok(partial(n, m)),
            Reply::Fail(code, None) => Err(Status::new(code, "test failure")),
            Reply::Fail(code, Some(delay)) => Err(Status::with_details(
                code,
                "test failure",
                Bytes::from(
                    RpcStatus::with_retry_info(code as i32, "test failure", delay).encode_to_vec(),
                ),
            )),
        }
    }

    pub fn last_headers(&self) -> HeaderMap {
        self.headers
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
    }
}

#[derive(Clone)]
struct Svc(Arc<Recorder>);

#[async_trait]
impl TraceService for Svc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, Status> {
        self.0.traces.lock().unwrap().push(request.into_inner());
        self.0
            .answer(|n, m| ExportTraceServiceResponse {
                partial_success: Some(ExportTracePartialSuccess {
                    rejected_spans: n,
                    error_message: m,
                }),
            })
            .map(tonic::Response::new)
    }
}

#[async_trait]
impl MetricsService for Svc {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, Status> {
        self.0.metrics.lock().unwrap().push(request.into_inner());
        self.0
            .answer(|n, m| ExportMetricsServiceResponse {
                partial_success: Some(ExportMetricsPartialSuccess {
                    rejected_data_points: n,
                    error_message: m,
                }),
            })
            .map(tonic::Response::new)
    }
}

#[async_trait]
impl LogsService for Svc {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, Status> {
        self.0.logs.lock().unwrap().push(request.into_inner());
        self.0
            .answer(|n, m| ExportLogsServiceResponse {
                partial_success: Some(ExportLogsPartialSuccess {
                    rejected_log_records: n,
                    error_message: m,
                }),
            })
            .map(tonic::Response::new)
    }
}

/// A gRPC server recording every call of the OTLP services and Jaeger's `PostSpans`.
pub async fn grpc_server(tls: bool) -> (TestServer, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let svc = Svc(recorder.clone());
    let mut builder = tonic::service::Routes::builder();
    builder
        .add_service(
            TraceServiceServer::new(svc.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                // answers compressed to a client that offers gzip
                .send_compressed(CompressionEncoding::Gzip),
        )
        .add_service(
            MetricsServiceServer::new(svc.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                // answers compressed to a client that offers gzip
                .send_compressed(CompressionEncoding::Gzip),
        )
        .add_service(
            LogsServiceServer::new(svc)
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                // answers compressed to a client that offers gzip
                .send_compressed(CompressionEncoding::Gzip),
        );
    let routes = builder.routes().prepare();
    let rec = recorder.clone();
    let server = serve(tls, move |req: Request<Incoming>| {
        let routes = routes.clone();
        let rec = rec.clone();
        async move {
            rec.headers.lock().unwrap().push(req.headers().clone());
            let authority = req.uri().authority().map(|a| a.to_string());
            rec.authorities
                .lock()
                .unwrap()
                .push(authority.unwrap_or_default());
            if req.uri().path() == POST_SPANS_PATH {
                let jaeger = tower::service_fn(move |r: tonic::Request<PostSpansRequest>| {
                    let rec = rec.clone();
                    async move {
                        rec.jaeger.lock().unwrap().push(r.into_inner());
                        rec.answer(|_, _| PostSpansResponse {})
                            .map(tonic::Response::new)
                    }
                });
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::<
                    PostSpansResponse,
                    PostSpansRequest,
                >::default())
                .accept_compressed(CompressionEncoding::Gzip);
                return grpc.unary(jaeger, req).await;
            }
            match routes.oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            }
        }
    })
    .await;
    (server, recorder)
}

// ------------------------------------------------------------------------------- HTTP

/// One request the HTTP server received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// What the HTTP server answers.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Default for HttpReply {
    fn default() -> Self {
        HttpReply {
            status: StatusCode::OK,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

#[derive(Default)]
pub struct HttpRecorder {
    pub requests: Mutex<Vec<Received>>,
    pub reply: Mutex<HttpReply>,
}

impl HttpRecorder {
    pub fn set_reply(&self, r: HttpReply) {
        *self.reply.lock().unwrap() = r;
    }

    pub fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

/// An HTTP server recording every request and answering with the configured reply.
pub async fn http_server(tls: bool) -> (TestServer, Arc<HttpRecorder>) {
    let recorder = Arc::new(HttpRecorder::default());
    let rec = recorder.clone();
    let server = serve(tls, move |req: Request<Incoming>| {
        let rec = rec.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .unwrap_or_default();
            rec.requests.lock().unwrap().push(Received {
                path: parts.uri.path().to_string(),
                headers: parts.headers,
                body,
            });
            let reply = rec.reply.lock().unwrap().clone();
            let mut builder = Response::builder().status(reply.status);
            for (k, v) in &reply.headers {
                builder = builder.header(*k, v);
            }
            builder
                .body(tonic::body::Body::new(Full::new(Bytes::from(reply.body))))
                .unwrap()
        }
    })
    .await;
    (server, recorder)
}

// ------------------------------------------------------------------------------- data

pub fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

pub fn str_kv(key: &str, v: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.to_string()))
}

pub fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![str_kv("service.name", service)],
        ..Default::default()
    })
}

pub fn traces(n: usize) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource("test-svc"),
            scope_spans: vec![ScopeSpans {
                spans: (0..n)
                    .map(|i| Span {
                        trace_id: vec![0xab; 16],
                        span_id: vec![i as u8 + 1; 8],
                        name: format!("span-{i}"),
                        kind: 2,
                        start_time_unix_nano: 1_700_000_000_000_000_000,
                        end_time_unix_nano: 1_700_000_000_500_000_000,
                        attributes: vec![kv("n", any_value::Value::IntValue(i as i64))],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

pub fn metrics(n: usize) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource("test-svc"),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "test.gauge".into(),
                    unit: "1".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: (0..n)
                            .map(|i| NumberDataPoint {
                                time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                                value: Some(number_data_point::Value::AsDouble(i as f64 + 0.5)),
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

pub fn logs(n: usize) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource("test-svc"),
            scope_logs: vec![ScopeLogs {
                log_records: (0..n)
                    .map(|i| LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                        severity_number: 9,
                        severity_text: "INFO".into(),
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(format!("line {i}"))),
                        }),
                        trace_id: vec![0xcd; 16],
                        span_id: vec![0xef; 8],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

// ------------------------------------------------------------------------------- logs

/// Captures the log lines emitted on this thread while the guard lives (use with a
/// current-thread runtime).
pub struct LogCapture {
    buf: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[derive(Clone)]
struct BufWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for BufWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    pub fn start() -> LogCapture {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = BufWriter(buf.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish();
        LogCapture {
            buf,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }
}
