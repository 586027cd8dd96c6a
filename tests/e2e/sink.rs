//! A recording OTLP/gRPC backend for end-to-end tests: it stores every request it accepts,
//! and can be told to refuse (UNAVAILABLE) to play a backend that is down.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::{Request, Response, Status};

#[derive(Default)]
pub struct Recorded {
    pub traces: Mutex<Vec<ExportTraceServiceRequest>>,
    pub metrics: Mutex<Vec<ExportMetricsServiceRequest>>,
    pub logs: Mutex<Vec<ExportLogsServiceRequest>>,
    pub down: AtomicBool,
}

impl Recorded {
    /// Play a backend that is down (every export answered UNAVAILABLE) or back up.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn log_bodies(&self) -> Vec<String> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| r.resource_logs.iter())
            .flat_map(|r| r.scope_logs.iter())
            .flat_map(|s| s.log_records.iter())
            .filter_map(|l| match l.body.as_ref()?.value.as_ref()? {
                opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s) => {
                    Some(s.clone())
                }
                _ => None,
            })
            .collect()
    }

    /// The names of the spans received, sorted.
    pub fn span_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .traces
            .lock()
            .unwrap()
            .iter()
            .flat_map(|t| t.resource_spans.iter())
            .flat_map(|r| r.scope_spans.iter())
            .flat_map(|s| s.spans.iter())
            .map(|s| s.name.clone())
            .collect();
        names.sort();
        names
    }
}

#[derive(Clone)]
pub struct Sink(pub Arc<Recorded>);

impl Sink {
    fn check(&self) -> Result<(), Status> {
        if self.0.down.load(Ordering::SeqCst) {
            Err(Status::unavailable("backend down"))
        } else {
            Ok(())
        }
    }
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        r: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.check()?;
        self.0.traces.lock().unwrap().push(r.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        r: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.check()?;
        self.0.metrics.lock().unwrap().push(r.into_inner());
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Sink {
    async fn export(
        &self,
        r: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.check()?;
        self.0.logs.lock().unwrap().push(r.into_inner());
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}

/// Start a sink on `port` (0: any) of 127.0.0.1; it stops when the returned sender drops
/// or is sent to.
pub async fn start(port: u16) -> (Arc<Recorded>, SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let recorded = Arc::new(Recorded::default());
    let sink = Sink(recorded.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(
                TraceServiceServer::new(sink.clone())
                    .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                    .accept_compressed(tonic::codec::CompressionEncoding::Zstd),
            )
            .add_service(
                MetricsServiceServer::new(sink.clone())
                    .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                    .accept_compressed(tonic::codec::CompressionEncoding::Zstd),
            )
            .add_service(
                LogsServiceServer::new(sink)
                    .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                    .accept_compressed(tonic::codec::CompressionEncoding::Zstd),
            )
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            })
            .await;
    });
    (recorded, addr, stop)
}

/// Poll `f` until it holds or `timeout` passes.
pub async fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

/// One HTTP request an [`HttpRecorder`] took: its path, `content-encoding` and body as sent.
pub struct Posted {
    pub path: String,
    pub content_encoding: String,
    pub body: Vec<u8>,
}

/// A loopback HTTP server that answers every request with 204 and keeps it (for exporters
/// whose destination speaks plain HTTP, as Prometheus remote write). Stops when dropped.
pub struct HttpRecorder {
    pub addr: SocketAddr,
    pub posted: Arc<Mutex<Vec<Posted>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpRecorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn http_recorder() -> HttpRecorder {
    use http_body_util::{BodyExt, Full};
    use hyper::body::{Bytes, Incoming};
    use hyper_util::rt::TokioIo;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let posted: Arc<Mutex<Vec<Posted>>> = Arc::default();
    let keep = posted.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let keep = keep.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.map(|b| b.to_bytes().to_vec());
                        let status = match body {
                            Ok(body) => {
                                keep.lock().unwrap().push(Posted {
                                    path: parts.uri.path().to_string(),
                                    content_encoding: parts
                                        .headers
                                        .get("content-encoding")
                                        .and_then(|v| v.to_str().ok())
                                        .unwrap_or("")
                                        .to_string(),
                                    body,
                                });
                                hyper::StatusCode::NO_CONTENT
                            }
                            Err(_) => hyper::StatusCode::BAD_REQUEST,
                        };
                        let mut resp = hyper::Response::new(Full::new(Bytes::new()));
                        *resp.status_mut() = status;
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    HttpRecorder { addr, posted, task }
}
