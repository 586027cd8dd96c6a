//! OTLP/gRPC: the three collector services on one HTTP/2 server.
//!
//! A signal without a consumer is not registered, so its calls get `UNIMPLEMENTED` (Go
//! `otlp.go startGRPCServer` registers only the services with a next consumer). Requests may
//! be gzip, zstd or deflate compressed; the decompressed message is limited to
//! `max_recv_msg_size_mib`.

use std::net::SocketAddr;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use pipeline_api::proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use pipeline_api::proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use pipeline_api::proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use pipeline_api::proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use pipeline_api::proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use pipeline_api::proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use pipeline_api::{
    async_trait, BatchData, BuildContext, BuildError, CancellationToken, Signal, SignalConsumers,
};
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;
use tower::ServiceExt;

use super::config::GrpcConfig;
use super::server::{serve, PeerInfo};
use super::{bind, metadata_from_headers, sinks, tls, SignalSink};

/// Accept gzip, zstd and deflate requests (Go's configgrpc registers gzip, zstd and snappy;
/// tonic has no snappy codec) and limit the decoded size.
macro_rules! compressed {
    ($server:expr, $limit:expr) => {
        $server
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .accept_compressed(CompressionEncoding::Deflate)
            .max_decoding_message_size($limit)
    };
}

/// The request's authority, kept for `include_metadata` (tonic drops the URI).
#[derive(Debug, Clone)]
struct Authority(String);

pub(super) struct GrpcServer {
    pub(super) local_addr: SocketAddr,
    endpoint: String,
    listener: std::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    routes: Routes,
    builder: Builder<TokioExecutor>,
}

pub(super) struct RunningGrpc {
    local_addr: SocketAddr,
    endpoint: String,
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    routes: Routes,
    builder: Builder<TokioExecutor>,
}

impl GrpcServer {
    pub(super) fn build(
        ctx: &BuildContext,
        cfg: &GrpcConfig,
        next: &SignalConsumers,
    ) -> Result<GrpcServer, BuildError> {
        if let Some(auth) = &cfg.auth {
            return Err(BuildError::new(format!(
                "protocols::grpc::auth: authenticator {:?}: authentication extensions are not supported by Ferrotel yet",
                auth.authenticator
            )));
        }
        let tls = match &cfg.tls {
            Some(t) => Some(tls::acceptor(t, &[b"h2"], "protocols::grpc::tls")?),
            None => None,
        };
        let listener = bind(&cfg.endpoint, "protocols::grpc::endpoint")?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| BuildError::new(format!("protocols::grpc::endpoint: {e}")))?;

        let obs = ctx.telemetry.receiver_obs("grpc");
        let limit = cfg.max_recv_msg_size();
        let mut routes = Routes::builder();
        for sink in sinks(&ctx.id, next, &obs) {
            let svc = Svc {
                sink,
                include_metadata: cfg.include_metadata,
            };
            match svc.sink.signal {
                Signal::Traces => {
                    routes.add_service(compressed!(TraceServiceServer::new(svc), limit));
                }
                Signal::Metrics => {
                    routes.add_service(compressed!(MetricsServiceServer::new(svc), limit));
                }
                Signal::Logs => {
                    routes.add_service(compressed!(LogsServiceServer::new(svc), limit));
                }
            }
        }

        let mut builder = Builder::new(TokioExecutor::new()).http2_only();
        {
            let mut h2 = builder.http2();
            h2.timer(TokioTimer::new());
            if cfg.max_concurrent_streams > 0 {
                h2.max_concurrent_streams(cfg.max_concurrent_streams);
            }
            if cfg.read_buffer_size > 0 {
                // The receive window: how much a client may send before we read it.
                let window = u32::try_from(cfg.read_buffer_size)
                    .unwrap_or(u32::MAX)
                    .max(65_535);
                h2.initial_stream_window_size(window);
            }
            let params = cfg
                .keepalive
                .as_ref()
                .and_then(|k| k.server_parameters.as_ref());
            // grpc-go's defaults: ping after 2h idle, wait 20s for the answer.
            let time = params
                .and_then(|p| p.time)
                .map(|d| d.get())
                .filter(|d| !d.is_zero());
            let timeout = params
                .and_then(|p| p.timeout)
                .map(|d| d.get())
                .filter(|d| !d.is_zero());
            h2.keep_alive_interval(Some(time.unwrap_or(Duration::from_secs(2 * 60 * 60))));
            h2.keep_alive_timeout(timeout.unwrap_or(Duration::from_secs(20)));
        }

        Ok(GrpcServer {
            local_addr,
            endpoint: cfg.endpoint.clone(),
            listener,
            tls,
            routes: routes.routes().prepare(),
            builder,
        })
    }

    pub(super) fn into_running(self) -> Result<RunningGrpc, BuildError> {
        let GrpcServer {
            local_addr,
            endpoint,
            listener,
            tls,
            routes,
            builder,
        } = self;
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| BuildError::new(format!("protocols::grpc::endpoint: {e}")))?;
        Ok(RunningGrpc {
            local_addr,
            endpoint,
            listener,
            tls,
            routes,
            builder,
        })
    }
}

impl RunningGrpc {
    pub(super) async fn serve(self, shutdown: CancellationToken) {
        let RunningGrpc {
            local_addr,
            endpoint,
            listener,
            tls,
            routes,
            builder,
        } = self;
        tracing::info!(endpoint = %endpoint, address = %local_addr, "Starting GRPC server");
        let make = move |peer: PeerInfo| {
            let svc =
                routes
                    .clone()
                    .map_request(move |mut req: http::Request<hyper::body::Incoming>| {
                        let authority = req.uri().authority().map(|a| a.to_string());
                        req.extensions_mut().insert(peer);
                        if let Some(a) = authority {
                            req.extensions_mut().insert(Authority(a));
                        }
                        req
                    });
            TowerToHyperService::new(svc)
        };
        serve(listener, tls, builder, make, shutdown, "grpc").await;
    }
}

/// One signal's service.
struct Svc {
    sink: SignalSink,
    include_metadata: bool,
}

impl Svc {
    async fn handle<T>(
        &self,
        request: tonic::Request<T>,
        wrap: fn(T) -> BatchData,
    ) -> Result<(), tonic::Status> {
        let peer = request.extensions().get::<PeerInfo>().map(|p| p.addr);
        let metadata = if self.include_metadata {
            let authority = request.extensions().get::<Authority>().map(|a| a.0.clone());
            metadata_from_headers(
                &request.metadata().clone().into_headers(),
                authority.as_deref(),
            )
        } else {
            Vec::new()
        };
        let context = self.sink.context(metadata, peer);
        self.sink
            .export(wrap(request.into_inner()), context)
            .await
            .map_err(|r| r.grpc_status())
    }
}

#[async_trait]
impl TraceService for Svc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.handle(request, BatchData::Traces).await?;
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[async_trait]
impl MetricsService for Svc {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.handle(request, BatchData::Metrics).await?;
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[async_trait]
impl LogsService for Svc {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.handle(request, BatchData::Logs).await?;
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}
