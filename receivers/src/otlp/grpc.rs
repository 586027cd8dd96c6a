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
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes};
use hyper::body::{Body, Frame, SizeHint};
use pipeline_api::{BuildContext, BuildError, CancellationToken, Signal, SignalConsumers};
use tonic::codec::CompressionEncoding;
use tonic::codec::{
    BufferSettings, Codec, DecodeBuf, Decoder, EnabledCompressionEncodings, EncodeBuf, Encoder,
};
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
        let auth = (cfg.auth.as_ref())
            .map(|a| {
                pipeline_api::auth::Guard::new(
                    &ctx.extensions,
                    &a.authenticator,
                    &[],
                    "protocols::grpc::auth",
                )
            })
            .transpose()?;
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
                auth: auth.clone(),
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
    /// The server authenticator every call must pass (`auth::authenticator`).
    auth: Option<pipeline_api::auth::Guard>,
}

impl Svc {
    /// The request body stays as received: checked and counted, not decoded.
    async fn handle(&self, request: tonic::Request<Bytes>) -> Result<(), tonic::Status> {
        let (metadata, extensions, message) = request.into_parts();
        self.export(&extensions, metadata.as_ref(), message).await
    }

    /// Export one request message; the peer and authority are read from the request's
    /// `extensions`, and its `headers` are wanted only for `include_metadata`.
    async fn export(
        &self,
        extensions: &http::Extensions,
        headers: &http::HeaderMap,
        message: Bytes,
    ) -> Result<(), tonic::Status> {
        let peer = extensions.get::<PeerInfo>().map(|p| p.addr);
        let metadata = if self.include_metadata {
            let authority = extensions.get::<Authority>().map(|a| a.0.as_str());
            metadata_from_headers(headers, authority)
        } else {
            Vec::new()
        };
        let context = self.sink.context(metadata, peer);
        let batch = self
            .sink
            .check_protobuf(message)
            .map_err(|r| r.grpc_status())?;
        self.sink
            .export(batch, context)
            .await
            .map_err(|r| r.grpc_status())
    }

    /// One call, answered by `answer` inside the call's own server span: `answer` gets the
    /// request's head and yields the response and whether the method ran (a message refused
    /// for its size never reaches it). The memory limiter's refusal is written into the
    /// response, and the span ends with the response's status.
    async fn traced<M: ExportMethod, F>(
        &self,
        parts: http::request::Parts,
        answer: impl FnOnce(http::request::Parts) -> F,
    ) -> http::Response<tonic::body::Body>
    where
        F: Future<Output = (http::Response<tonic::body::Body>, bool)>,
    {
        let span = transport::spans::start_grpc(&self.tracer, M::PATH, &parts.headers, self.local);
        let span_context = span.as_ref().map(|s| s.current());
        let (mut response, ran) =
            pipeline_api::own_spans::in_span(span_context, answer(parts)).await;
        self.over_limit.refuse_grpc(&mut response, ran);
        if let Some(span) = span {
            // a refusal is a trailers-only answer: its status is in the headers
            let status = tonic::Status::from_header_map(response.headers());
            transport::spans::end_grpc(span, status.as_ref());
        }
        response
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
    B: Body<Data = Bytes> + Send + 'static,
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
        // Go checks the caller in a unary interceptor, before the service sees the call
        if let Some(Err(e)) = self.svc.auth.as_ref().map(|a| a.check(req.headers(), None)) {
            return Box::pin(async move {
                Ok(tonic::Status::unauthenticated(e).into_http::<tonic::body::Body>())
            });
        }
        let (svc, limit) = (self.svc.clone(), self.limit);
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let (mut body, first) = ReadAhead::new(body).await;
            // a `grpc-encoding` tonic would refuse is left to tonic to refuse
            let encoding = parts.headers.get("grpc-encoding").map(|v| v.as_bytes());
            let accepted = matches!(
                encoding,
                None | Some(b"identity" | b"gzip" | b"zstd" | b"deflate")
            );
            if accepted {
                if let Some(message) = body.whole_message(first, limit).await {
                    return Ok(answer_whole::<M>(&svc, parts, message).await);
                }
            }
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
            let codec = RawCodec {
                buffer: receive_buffer(first, limit),
            };
            let mut grpc = tonic::server::Grpc::new(codec)
                .apply_compression_config(accept, EnabledCompressionEncodings::default())
                .apply_max_message_size_config(Some(limit), None);
            let method = svc.clone();
            let response = svc
                .traced::<M, _>(parts, |parts| async move {
                    let ran = Arc::new(AtomicBool::new(false));
                    let req = http::Request::from_parts(parts, body);
                    let response = grpc.unary(Unary(method, ran.clone()), req).await;
                    (response, ran.load(Ordering::Relaxed))
                })
                .await;
            Ok(response)
        })
    }
}

/// Answer a request whose message came whole and uncompressed in one data frame, the body
/// ended: the message is handed on as a slice of that frame. Tonic's path copies every
/// frame into its own buffer before it decodes; a client that honours the listener's
/// 256 KiB frames (`transport::limits::grpc_builder`) sends most requests this way. The
/// answer is the one tonic gives for the same call: `content-type: application/grpc`, the
/// response message, `grpc-status: 0` in the trailers, or the error's trailers-only answer.
async fn answer_whole<M: ExportMethod>(
    svc: &Svc,
    parts: http::request::Parts,
    message: Bytes,
) -> http::Response<tonic::body::Body> {
    #[cfg(test)]
    WHOLE_MESSAGES.with(|n| n.set(n.get() + 1));
    svc.traced::<M, _>(parts, |parts| async move {
        let response = match svc.export(&parts.extensions, &parts.headers, message).await {
            Ok(()) => unary_answer(super::json::EMPTY_RESPONSE_PROTO),
            Err(status) => status.into_http(),
        };
        (response, true)
    })
    .await
}

#[cfg(test)]
thread_local! {
    /// Requests answered by [`answer_whole`] on this thread, for the tests (a test's
    /// runtime and the server it starts run on its thread).
    pub(super) static WHOLE_MESSAGES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A successful unary answer carrying `message`, as tonic writes it.
fn unary_answer(message: &[u8]) -> http::Response<tonic::body::Body> {
    let mut data = bytes::BytesMut::with_capacity(5 + message.len());
    data.put_u8(0);
    data.put_u32(u32::try_from(message.len()).unwrap_or(u32::MAX));
    data.put_slice(message);
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
    let mut response = http::Response::new(tonic::body::Body::new(Answer {
        data: Some(data.freeze()),
        trailers: Some(trailers),
    }));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    response
}

/// The body of [`unary_answer`]: one data frame, then the trailers.
struct Answer {
    data: Option<Bytes>,
    trailers: Option<http::HeaderMap>,
}

impl Body for Answer {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = self.get_mut();
        Poll::Ready(match this.data.take() {
            Some(d) => Some(Ok(Frame::data(d))),
            None => this.trailers.take().map(|t| Ok(Frame::trailers(t))),
        })
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
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

/// The size of tonic's receive buffer for a request that began with `ahead`: the bytes of
/// its first data frames, up to those completing the gRPC prefix, plus the uncompressed
/// message the prefix announces, when within `limit`. Tonic copies each frame into the
/// buffer and, once it has the prefix, reserves the message's length beyond what has
/// arrived; from its default 8 KiB the buffer is regrown on the way (twice a request in the
/// pass-through bench, copying what it holds each time), and ends this size. Sized so from
/// the start, the message is copied once. `None`: tonic's default (a compressed message, whose buffer is not the one kept;
/// or no prefix in the frames read ahead).
fn receive_buffer(ahead: Ahead, limit: usize) -> Option<usize> {
    let [0, a, b, c, d] = ahead.prefix? else {
        return None;
    };
    let len = usize::try_from(u32::from_be_bytes([a, b, c, d])).ok()?;
    (len <= limit).then(|| ahead.bytes + len)
}

/// What [`ReadAhead::new`] read: the data frames' bytes, and the gRPC prefix if they held
/// it whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Ahead {
    bytes: usize,
    prefix: Option<[u8; 5]>,
}

/// At most this many frames are read ahead for the prefix (a client may send empty ones).
const AHEAD_FRAMES: usize = 8;

/// What one poll of a body returned, its error boxed (so that what holds it stays `Unpin`).
type Polled<E> = Option<Result<Frame<Bytes>, Box<E>>>;

/// A request body whose first frames have been read ahead, and are handed on first.
struct ReadAhead<B: Body> {
    /// What the first polls returned, until handed on; `None`: the body's end.
    ahead: VecDeque<Polled<B::Error>>,
    /// The end was handed on.
    ended: bool,
    rest: Pin<Box<B>>,
}

impl<B: Body<Data = Bytes>> ReadAhead<B> {
    /// The body, its first data frames read until they hold the 5-byte gRPC prefix (HTTP/2
    /// flow control may cut it: clients send frames of a byte when the window is short),
    /// or until anything else comes.
    async fn new(body: B) -> (Self, Ahead) {
        let mut rest = Box::pin(body);
        let mut ahead = VecDeque::new();
        let (mut head, mut bytes) = ([0u8; 5], 0usize);
        let mut prefix = None;
        while ahead.len() < AHEAD_FRAMES {
            let polled = std::future::poll_fn(|cx| rest.as_mut().poll_frame(cx)).await;
            let data = match &polled {
                Some(Ok(frame)) => frame.data_ref(),
                _ => None,
            };
            let more = match data {
                Some(d) => {
                    let have = bytes.min(5);
                    let n = d.len().min(5 - have);
                    head[have..have + n].copy_from_slice(&d[..n]);
                    bytes += d.len();
                    if bytes >= 5 {
                        prefix = Some(head);
                    }
                    bytes < 5
                }
                None => false,
            };
            ahead.push_back(polled.map(|r| r.map_err(Box::new)));
            if !more {
                break;
            }
        }
        let body = ReadAhead {
            ahead,
            ended: false,
            rest,
        };
        (body, Ahead { bytes, prefix })
    }
}

impl<B: Body<Data = Bytes>> ReadAhead<B> {
    /// The request's message, when the one data frame read ahead holds it whole,
    /// uncompressed and within `limit`, and the body ends there (read on to its end if it
    /// has not said so yet, through empty data frames): the frame's bytes after the prefix. `None` otherwise, with
    /// whatever was read kept to be handed on.
    async fn whole_message(&mut self, ahead: Ahead, limit: usize) -> Option<Bytes> {
        let [0, a, b, c, d] = ahead.prefix? else {
            return None;
        };
        let len = usize::try_from(u32::from_be_bytes([a, b, c, d])).ok()?;
        if len > limit || ahead.bytes != 5 + len || self.ahead.len() != 1 {
            return None;
        }
        // what follows is the end, or empty data frames before it (a client that ends its
        // stream with an empty DATA frame), at most a few
        let mut empty = 0;
        while !self.rest.is_end_stream() {
            let polled = std::future::poll_fn(|cx| self.rest.as_mut().poll_frame(cx)).await;
            let more = match &polled {
                None => false,
                Some(Ok(f)) if f.data_ref().is_some_and(Bytes::is_empty) && empty < 2 => {
                    empty += 1;
                    true
                }
                Some(_) => {
                    self.ahead.push_back(polled.map(|r| r.map_err(Box::new)));
                    return None;
                }
            };
            self.ahead.push_back(polled.map(|r| r.map_err(Box::new)));
            if !more {
                break;
            }
        }
        match self.ahead.front() {
            Some(Some(Ok(frame))) => frame.data_ref().map(|d| d.slice(5..)),
            _ => None,
        }
    }
}

impl<B: Body<Data = Bytes>> Body for ReadAhead<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match this.ahead.pop_front() {
            Some(Some(frame)) => Poll::Ready(Some(frame.map_err(|e| *e))),
            Some(None) => {
                this.ended = true;
                Poll::Ready(None)
            }
            None => {
                let polled = this.rest.as_mut().poll_frame(cx);
                this.ended = matches!(polled, Poll::Ready(None));
                polled
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self.ahead.front() {
            Some(first) => first.is_none(),
            None => self.ended || self.rest.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        if self.ahead.is_empty() && !self.ended {
            self.rest.size_hint()
        } else {
            SizeHint::default()
        }
    }
}

/// Messages as bytes both ways: the request is kept as received, the response is written
/// as given.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec {
    /// The receive buffer's size, if not tonic's default.
    buffer: Option<usize>,
}

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        *self
    }

    fn decoder(&mut self) -> RawCodec {
        *self
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

    fn buffer_settings(&self) -> BufferSettings {
        match self.buffer {
            // 32 KiB: tonic's default yield threshold, which only its encoder reads
            Some(size) => BufferSettings::new(size, 32 * 1024),
            None => BufferSettings::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body of the given data frames, one a poll.
    struct Frames(VecDeque<Bytes>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.get_mut().0.pop_front().map(|d| Ok(Frame::data(d))))
        }
    }

    /// A gRPC message of `len` bytes, prefixed, cut into frames of the given sizes (the
    /// rest in the last frame).
    fn framed(len: usize, cuts: &[usize]) -> (Bytes, VecDeque<Bytes>) {
        let message: Bytes = (0..len).map(|i| (i % 251) as u8).collect::<Vec<_>>().into();
        let mut all = vec![0u8];
        all.extend_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
        all.extend_from_slice(&message);
        let mut all = Bytes::from(all);
        let mut frames = VecDeque::new();
        for &n in cuts {
            frames.push_back(all.split_to(n.min(all.len())));
        }
        frames.push_back(all);
        (message, frames)
    }

    #[test]
    fn the_receive_buffer_is_the_frames_read_ahead_and_the_message_announced() {
        let ahead = |flag: u8, len: u32, bytes: usize| Ahead {
            bytes,
            prefix: Some({
                let l = len.to_be_bytes();
                [flag, l[0], l[1], l[2], l[3]]
            }),
        };
        let limit = 4 << 20;
        assert_eq!(
            receive_buffer(ahead(0, 100_000, 16_384), limit),
            Some(116_384)
        );
        assert_eq!(receive_buffer(ahead(0, 3, 8), limit), Some(11));
        assert_eq!(
            receive_buffer(ahead(0, 4 << 20, 5), limit),
            Some(5 + (4 << 20))
        );
        // over the limit: tonic refuses it; nothing is reserved for it
        assert_eq!(receive_buffer(ahead(0, (4 << 20) + 1, 5), limit), None);
        // compressed: the buffer kept is the decompressed one
        assert_eq!(receive_buffer(ahead(1, 100, 105), limit), None);
        // no prefix read
        assert_eq!(receive_buffer(Ahead::default(), limit), None);
    }

    /// The bytes tonic holds when it reads the prefix: the frames up to the one completing
    /// it.
    fn bytes_ahead(frames: &VecDeque<Bytes>) -> usize {
        let mut n = 0;
        for f in frames {
            n += f.len();
            if n >= 5 {
                break;
            }
        }
        n
    }

    /// The message through tonic's own decoding, as the server runs it: its bytes, and the
    /// capacity of the buffer they ended in (from their first byte).
    async fn receive(frames: VecDeque<Bytes>, limit: usize, presize: bool) -> (Bytes, usize) {
        let (body, ahead) = ReadAhead::new(Frames(frames)).await;
        let codec = RawCodec {
            buffer: receive_buffer(ahead, limit).filter(|_| presize),
        };
        assert_eq!(codec.buffer.is_some(), presize, "{ahead:?}");
        let mut stream = tonic::Streaming::new_request(codec, body, None, Some(limit));
        let message = stream.message().await.unwrap().unwrap();
        assert!(stream.message().await.unwrap().is_none());
        drop(stream);
        let Ok(message) = message.try_into_mut() else {
            panic!("the message shares its buffer");
        };
        let held = message.capacity();
        (message.freeze(), held)
    }

    #[tokio::test]
    async fn a_message_in_many_frames_is_gathered_once_into_a_buffer_of_its_size() {
        // frames of all sizes, as HTTP/2 flow control cuts them: the prefix alone, cut, or
        // with the message's first bytes
        for (len, cuts) in [
            (10_000, vec![8, 1, 4_000, 900]),
            (52_000, vec![1, 2, 16_384, 7]),
            (52_000, vec![1, 16_384, 5_300]),
            (300_000, vec![16_384, 16_384, 1, 16_384]),
            (40, vec![5]),
            (40, vec![]),
        ] {
            let (message, frames) = framed(len, &cuts);
            let ahead = bytes_ahead(&frames);
            let (got, held) = receive(frames, 4 << 20, true).await;
            assert!(got == message, "{len} bytes in {cuts:?}: other bytes");
            // allocated once at the size asked: a regrowth would have left more (or the
            // buffer too small, a copy more)
            assert_eq!(held, ahead + len - 5, "{len} bytes in {cuts:?}");
        }
        // tonic's default grows its buffer from 8 KiB, and ends elsewhere
        let (message, frames) = framed(10_000, &[8, 1, 4_000, 900]);
        let (got, held) = receive(frames, 4 << 20, false).await;
        assert!(got == message);
        assert_ne!(held, 8 + 10_000 - 5);
    }

    async fn replayed(body: ReadAhead<Frames>) -> Vec<Bytes> {
        let mut body = std::pin::pin!(body);
        let mut got = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
            got.push(frame.unwrap().into_data().unwrap());
        }
        assert!(body.is_end_stream());
        assert!(std::future::poll_fn(|cx| body.as_mut().poll_frame(cx))
            .await
            .is_none());
        got
    }

    #[tokio::test]
    async fn a_body_read_ahead_hands_on_every_frame_and_its_end() {
        // the prefix in three frames: all three read ahead
        let (_, frames) = framed(100, &[1, 0, 2, 50]);
        let expected: Vec<Bytes> = frames.iter().cloned().collect();
        let (body, ahead) = ReadAhead::new(Frames(frames)).await;
        assert_eq!(body.ahead.len(), 4);
        assert_eq!(ahead.bytes, 53);
        assert_eq!(ahead.prefix, Some([0, 0, 0, 0, 100]));
        assert!(!body.is_end_stream());
        assert_eq!(replayed(body).await, expected);

        // a body shorter than a prefix, ended early
        let frames: VecDeque<Bytes> = [&[0u8, 0][..], &[0]].map(Bytes::copy_from_slice).into();
        let (body, ahead) = ReadAhead::new(Frames(frames.clone())).await;
        assert_eq!(
            ahead,
            Ahead {
                bytes: 3,
                prefix: None
            }
        );
        assert_eq!(replayed(body).await, Vec::from(frames));

        // empty frames: read ahead only so far
        let frames: VecDeque<Bytes> = std::iter::repeat_n(Bytes::new(), 20).collect();
        let (body, ahead) = ReadAhead::new(Frames(frames.clone())).await;
        assert_eq!(body.ahead.len(), AHEAD_FRAMES);
        assert_eq!(ahead, Ahead::default());
        assert_eq!(replayed(body).await, Vec::from(frames));

        let (body, ahead) = ReadAhead::new(Frames(VecDeque::new())).await;
        assert_eq!(ahead, Ahead::default());
        assert!(body.is_end_stream());
        assert!(replayed(body).await.is_empty());
    }
}
