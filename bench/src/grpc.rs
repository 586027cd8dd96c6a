//! OTLP/gRPC with the message bodies kept as bytes: a tonic codec that passes encoded
//! messages through, used by the load generator (its requests are pre-encoded) and by the
//! sink (it scans requests instead of decoding them).

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes};
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::NamedService;
use tonic::Status;

use crate::Signal;

/// The gRPC path of a signal's `Export` method.
pub fn export_path(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    }
}

/// A codec whose messages are their encoded bytes.
#[derive(Debug, Default, Clone, Copy)]
pub struct RawCodec;

#[derive(Debug, Default, Clone, Copy)]
pub struct RawEncoder;

#[derive(Debug, Default, Clone, Copy)]
pub struct RawDecoder;

/// Requests are tens of kilobytes to megabytes: start with 64 KiB buffers.
fn buffer() -> BufferSettings {
    BufferSettings::new(64 * 1024, 32 * 1024)
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }

    fn buffer_settings(&self) -> BufferSettings {
        buffer()
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n)))
    }

    fn buffer_settings(&self) -> BufferSettings {
        buffer()
    }
}

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

/// What a server does with one request: its bytes, metadata and signal in, its response
/// message bytes or a status out.
pub trait RawHandler: Send + Sync + 'static {
    fn handle(
        &self,
        signal: Signal,
        request: tonic::Request<Bytes>,
    ) -> impl std::future::Future<Output = Result<Bytes, Status>> + Send;
}

/// The tonic names of the three OTLP services.
pub trait ServiceKind: Send + Sync + 'static {
    const NAME: &'static str;
    const SIGNAL: Signal;
}

pub struct TraceKind;
pub struct MetricsKind;
pub struct LogsKind;

impl ServiceKind for TraceKind {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    const SIGNAL: Signal = Signal::Traces;
}

impl ServiceKind for MetricsKind {
    const NAME: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    const SIGNAL: Signal = Signal::Metrics;
}

impl ServiceKind for LogsKind {
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    const SIGNAL: Signal = Signal::Logs;
}

/// The `grpc-encoding` a request arrived with (`identity` when none), in its extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireEncoding(pub String);

/// One OTLP gRPC service answering `Export` with a [`RawHandler`].
pub struct RawService<K, H> {
    handler: Arc<H>,
    max_message: usize,
    _kind: PhantomData<fn() -> K>,
}

impl<K, H> RawService<K, H> {
    pub fn new(handler: Arc<H>, max_message: usize) -> Self {
        RawService {
            handler,
            max_message,
            _kind: PhantomData,
        }
    }
}

impl<K, H> Clone for RawService<K, H> {
    fn clone(&self) -> Self {
        RawService {
            handler: self.handler.clone(),
            max_message: self.max_message,
            _kind: PhantomData,
        }
    }
}

impl<K: ServiceKind, H> NamedService for RawService<K, H> {
    const NAME: &'static str = K::NAME;
}

struct Unary<H> {
    handler: Arc<H>,
    signal: Signal,
}

impl<H: RawHandler> tonic::server::UnaryService<Bytes> for Unary<H> {
    type Response = Bytes;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<tonic::Response<Bytes>, Status>> + Send>,
    >;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let handler = self.handler.clone();
        let signal = self.signal;
        Box::pin(async move {
            handler
                .handle(signal, request)
                .await
                .map(tonic::Response::new)
        })
    }
}

impl<K, H, B> tonic::codegen::Service<http::Request<B>> for RawService<K, H>
where
    K: ServiceKind,
    H: RawHandler,
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>,
    >;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let encoding = req
            .headers()
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("identity")
            .to_string();
        req.extensions_mut().insert(WireEncoding(encoding));
        let handler = self.handler.clone();
        let max = self.max_message;
        let is_export = req.uri().path().ends_with("/Export");
        Box::pin(async move {
            if !is_export {
                return Ok(Status::unimplemented("only Export is served").into_http());
            }
            use tonic::codec::CompressionEncoding as C;
            let mut grpc = tonic::server::Grpc::new(RawCodec)
                .accept_compressed(C::Gzip)
                .accept_compressed(C::Zstd)
                .accept_compressed(C::Deflate)
                .max_decoding_message_size(max);
            let unary = Unary {
                handler,
                signal: K::SIGNAL,
            };
            Ok(grpc.unary(unary, req).await)
        })
    }
}
