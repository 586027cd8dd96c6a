//! OTLP/gRPC: the three collector services on one HTTP/2 server.
//!
//! A signal without a consumer is not registered, so its calls get `UNIMPLEMENTED` (Go
//! `otlp.go startGRPCServer` registers only the services with a next consumer). Requests may
//! be gzip, zstd or deflate compressed; the decompressed message is limited to
//! `max_recv_msg_size_mib`.

use std::net::SocketAddr;

use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes};
use pipeline_api::{BuildContext, BuildError, CancellationToken, Signal, SignalConsumers};
use tonic::codec::CompressionEncoding;
use tonic::codec::{Codec, DecodeBuf, Decoder, EnabledCompressionEncodings, EncodeBuf, Encoder};
use tonic::server::{NamedService, UnaryService};
use tonic::service::Routes;
use tower::ServiceExt;

use super::config::GrpcConfig;
use super::server::{serve, PeerInfo};
use super::{bind, metadata_from_headers, sinks, SignalSink};

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
            Some(t) => Some(transport::tls::server_acceptor(
                t,
                &[b"h2"],
                "protocols::grpc::tls",
            )?),
            None => None,
        };
        let listener = bind(&cfg.endpoint, "protocols::grpc::endpoint")?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| BuildError::new(format!("protocols::grpc::endpoint: {e}")))?;

        let obs = ctx.telemetry.receiver_obs("grpc");
        let limit = cfg.max_recv_msg_size();
        let over_limit = crate::limits::OverLimit::new(&ctx.telemetry, "grpc");
        let mut routes = Routes::builder();
        for sink in sinks(&ctx.id, next, &obs) {
            let svc = Arc::new(Svc {
                sink,
                include_metadata: cfg.include_metadata,
                tracer: transport::spans::grpc_tracer(&ctx.telemetry),
                local: local_addr,
                over_limit: over_limit.clone(),
            });
            match svc.sink.signal {
                Signal::Traces => routes.add_service(ExportServer::<TraceExport>::new(svc, limit)),
                Signal::Metrics => {
                    routes.add_service(ExportServer::<MetricsExport>::new(svc, limit))
                }
                Signal::Logs => routes.add_service(ExportServer::<LogsExport>::new(svc, limit)),
            };
        }

        let params = cfg
            .keepalive
            .as_ref()
            .and_then(|k| k.server_parameters.as_ref());
        let nonzero = |d: Option<pipeline_api::config::GoDuration>| {
            d.map(|d| d.get()).filter(|d| !d.is_zero())
        };
        let builder = transport::limits::grpc_builder(
            cfg.max_concurrent_streams,
            cfg.read_buffer_size,
            nonzero(params.and_then(|p| p.time)),
            nonzero(params.and_then(|p| p.timeout)),
        );

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
        serve(
            listener,
            tls,
            builder,
            make,
            shutdown,
            "grpc",
            Some(crate::limits::GRPC_CONNECTION_TIMEOUT),
        )
        .await;
    }
}

/// One signal's service.
struct Svc {
    sink: SignalSink,
    include_metadata: bool,
    /// The server spans of own traces.
    tracer: pipeline_api::own_spans::Tracer,
    local: std::net::SocketAddr,
    over_limit: crate::limits::OverLimit,
}

impl Svc {
    /// The request body stays as received: checked and counted, not decoded.
    async fn handle(&self, request: tonic::Request<Bytes>) -> Result<(), tonic::Status> {
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
        let batch = self
            .sink
            .check_protobuf(request.into_inner())
            .map_err(|r| r.grpc_status())?;
        self.sink
            .export(batch, context)
            .await
            .map_err(|r| r.grpc_status())
    }
}

/// Which collector service an [`ExportServer`] answers.
trait ExportMethod: Send + Sync + 'static {
    const SERVICE: &'static str;
    const PATH: &'static str;
}

struct TraceExport;
struct MetricsExport;
struct LogsExport;

impl ExportMethod for TraceExport {
    const SERVICE: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    const PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
}

impl ExportMethod for MetricsExport {
    const SERVICE: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    const PATH: &'static str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
}

impl ExportMethod for LogsExport {
    const SERVICE: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    const PATH: &'static str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
}

/// One collector service's `Export` method over tonic's gRPC framing, taking the request
/// message as bytes (the generated servers would decode it into structs first). Other
/// methods of the service get `UNIMPLEMENTED`, as from a generated server.
struct ExportServer<M> {
    svc: Arc<Svc>,
    limit: usize,
    method: PhantomData<M>,
}

impl<M> Clone for ExportServer<M> {
    fn clone(&self) -> Self {
        ExportServer {
            svc: self.svc.clone(),
            limit: self.limit,
            method: PhantomData,
        }
    }
}

impl<M: ExportMethod> ExportServer<M> {
    fn new(svc: Arc<Svc>, limit: usize) -> Self {
        ExportServer {
            svc,
            limit,
            method: PhantomData,
        }
    }
}

impl<M: ExportMethod> NamedService for ExportServer<M> {
    const NAME: &'static str = M::SERVICE;
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

impl<M, B> tower::Service<http::Request<B>> for ExportServer<M>
where
    M: ExportMethod,
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != M::PATH {
            return Box::pin(async {
                Ok(tonic::Status::unimplemented("").into_http::<tonic::body::Body>())
            });
        }
        let (svc, limit) = (self.svc.clone(), self.limit);
        Box::pin(async move {
            // Accept gzip, zstd and deflate requests (Go's configgrpc registers gzip, zstd and
            // snappy; tonic has no snappy codec) and limit the decompressed size.
            let mut accept = EnabledCompressionEncodings::default();
            for e in [
                CompressionEncoding::Gzip,
                CompressionEncoding::Zstd,
                CompressionEncoding::Deflate,
            ] {
                accept.enable(e);
            }
            let mut grpc = tonic::server::Grpc::new(RawCodec)
                .apply_compression_config(accept, EnabledCompressionEncodings::default())
                .apply_max_message_size_config(Some(limit), None);
            let ran = Arc::new(AtomicBool::new(false));
            let over_limit = svc.over_limit.clone();
            let span = transport::spans::start_grpc(&svc.tracer, M::PATH, req.headers(), svc.local);
            let span_context = span.as_ref().map(|s| s.current());
            let mut response = pipeline_api::own_spans::in_span(
                span_context,
                grpc.unary(Unary(svc, ran.clone()), req),
            )
            .await;
            over_limit.refuse_grpc(&mut response, ran.load(Ordering::Relaxed));
            if let Some(span) = span {
                // a refusal is a trailers-only answer: its status is in the headers
                let status = tonic::Status::from_header_map(response.headers());
                transport::spans::end_grpc(span, status.as_ref());
            }
            Ok(response)
        })
    }
}

/// The method, and whether it ran (a message refused for its size never reaches it).
struct Unary(Arc<Svc>, Arc<AtomicBool>);

impl UnaryService<Bytes> for Unary {
    type Response = Bytes;
    type Future = BoxFuture<tonic::Response<Bytes>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let svc = self.0.clone();
        self.1.store(true, Ordering::Relaxed);
        Box::pin(async move {
            svc.handle(request).await?;
            // Go's answer: an empty partial success, encoded though it is empty.
            Ok(tonic::Response::new(Bytes::from_static(
                super::json::EMPTY_RESPONSE_PROTO,
            )))
        })
    }
}

/// Messages as bytes both ways: the request is kept as received, the response is written
/// as given.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n)))
    }
}
