//! `otlp` exporter (alias `otlp_grpc`): OTLP over gRPC, Go `exporter/otlpexporter`.
//!
//! One export is one unary `Export` call of the signal's collector service. The request is
//! encoded straight from the batch (no copy of the data); headers go as metadata; the
//! answer's partial success is logged as a warning (Go `pushTraces`: "Partial success
//! response" with `message` and `dropped_spans` / `dropped_data_points` /
//! `dropped_log_records`, only when the message is non-empty or the count non-zero).

mod config;
pub(crate) mod pieces;
#[cfg(test)]
mod tests;

use std::marker::PhantomData;
use std::sync::Arc;

use http::uri::PathAndQuery;
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use pipeline_api::{
    async_trait, Batch, BuildError, ComponentId, ConsumeError, Exporter, ExporterFactory, Signal,
};
use pipeline_api::{declare, Meta, Stability};
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataMap;
use tonic::Status;

use crate::common::grpc::classify;
use transport::grpc::GrpcConnection;

pub use config::{Config, DEFAULT_COMPRESSION};

pub const TYPE_NAME: &str = "otlp";

/// `otlp_grpc` is accepted too (not deprecated).
pub const META: Meta = Meta::new(TYPE_NAME)
    .aliases(&[("otlp_grpc", false)])
    .traces(Stability::Stable)
    .metrics(Stability::Stable)
    .logs(Stability::Stable);

/// Go `exporterhelper.NewDefaultTimeoutConfig()`: 5s.
pub fn factory() -> Arc<dyn ExporterFactory> {
    declare::exporter::<Config>(META, |ctx, cfg| {
        let mut e = OtlpExporter::new(ctx.id.clone(), cfg, &ctx.extensions)?;
        e.tracers = Some(
            Signal::ALL
                .map(|s| transport::spans::grpc_tracer(&ctx.telemetry.clone().with_signal(s))),
        );
        Ok(Arc::new(e))
    })
    .into_factory()
}

pub struct OtlpExporter {
    id: ComponentId,
    /// The configured endpoint, for the labels of the exporter's counters.
    endpoint: String,
    conn: GrpcConnection,
    metadata: MetadataMap,
    compression: Option<CompressionEncoding>,
    /// The client spans of own traces, per signal (`None` in tests built without a context).
    tracers: Option<[pipeline_api::own_spans::Tracer; 3]>,
}

impl OtlpExporter {
    /// `extensions`: the running ones, for `auth::authenticator`.
    pub fn new(
        id: ComponentId,
        cfg: &Config,
        extensions: &pipeline_api::auth::Extensions,
    ) -> Result<OtlpExporter, BuildError> {
        let conn = GrpcConnection::new(&cfg.grpc, &id.to_string(), extensions)?;
        Ok(OtlpExporter {
            id,
            endpoint: cfg.grpc.endpoint.clone(),
            conn,
            metadata: cfg.grpc.metadata(),
            compression: cfg.grpc.send_compression(DEFAULT_COMPRESSION),
            tracers: None,
        })
    }

    /// One call, inside its client span when the collector traces itself.
    async fn send<R: Message + Default + Send + Sync + 'static>(
        &self,
        batch: &Batch,
        path: &'static str,
    ) -> Result<R, Status> {
        let tracer = self.tracers.as_ref().map(|t| &t[batch.signal() as usize]);
        let span =
            tracer.and_then(|t| transport::spans::start_grpc_client(t, path, &self.endpoint));
        let Some(span) = span else {
            return self.call(batch, path, None).await;
        };
        let parent = tracer.and_then(|t| transport::spans::traceparent(t, &span));
        let result = self.call(batch, path, parent).await;
        transport::spans::end_grpc(span, result.as_ref().err());
        result
    }

    async fn call<R: Message + Default + Send + Sync + 'static>(
        &self,
        batch: &Batch,
        path: &'static str,
        traceparent: Option<String>,
    ) -> Result<R, Status> {
        self.conn
            .call(|channel| {
                let batch = batch.clone();
                let metadata = self.conn.metadata(&self.metadata);
                let traceparent = traceparent.as_deref().and_then(|v| v.parse().ok());
                let compression = self.compression;
                async move {
                    let mut metadata = metadata?;
                    if let Some(v) = traceparent {
                        metadata.insert("traceparent", v);
                    }
                    // Received bytes sent as they are: no copy into an encode buffer.
                    if compression.is_none() {
                        if let Some(pieces) = batch.wire_pieces() {
                            return pieces::unary(channel, pieces, path, metadata).await;
                        }
                    }
                    let mut grpc = tonic::client::Grpc::new(channel)
                        .accept_compressed(CompressionEncoding::Gzip)
                        .accept_compressed(CompressionEncoding::Zstd);
                    if let Some(c) = compression {
                        grpc = grpc.send_compressed(c);
                    }
                    grpc.ready().await.map_err(|e| {
                        Status::unavailable(format!("the connection is not ready: {e}"))
                    })?;
                    let mut request = tonic::Request::new(batch);
                    *request.metadata_mut() = metadata;
                    let response = grpc
                        .unary(
                            request,
                            PathAndQuery::from_static(path),
                            BatchCodec::<R>::default(),
                        )
                        .await?;
                    Ok(response.into_inner())
                }
            })
            .await
    }

    fn partial_success(&self, message: &str, rejected: i64, count_key: &str) {
        if !message.is_empty() || rejected != 0 {
            match count_key {
                "dropped_spans" => {
                    tracing::warn!(exporter = %self.id, message, dropped_spans = rejected, "Partial success response")
                }
                "dropped_data_points" => {
                    tracing::warn!(exporter = %self.id, message, dropped_data_points = rejected, "Partial success response")
                }
                _ => {
                    tracing::warn!(exporter = %self.id, message, dropped_log_records = rejected, "Partial success response")
                }
            }
        }
    }
}

#[async_trait]
impl Exporter for OtlpExporter {
    fn metric_labels(&self, _signal: Signal) -> Vec<(&'static str, String)> {
        crate::common::endpoint::grpc_labels(&self.endpoint)
    }

    async fn start(&self) -> Result<(), BuildError> {
        // Creates the (lazily connecting) channel: nothing is dialled until the first export.
        let _ = self.conn.channel();
        Ok(())
    }

    async fn export(&self, batch: Batch) -> Result<(), ConsumeError> {
        if batch.is_empty() {
            return Ok(());
        }
        match batch.signal() {
            Signal::Traces => {
                let r: ExportTraceServiceResponse = self
                    .send(
                        &batch,
                        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                    )
                    .await
                    .map_err(|s| classify(&s, "trace data via OTLP exporter"))?;
                if let Some(p) = r.partial_success {
                    self.partial_success(&p.error_message, p.rejected_spans, "dropped_spans");
                }
            }
            Signal::Metrics => {
                let r: ExportMetricsServiceResponse = self
                    .send(
                        &batch,
                        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
                    )
                    .await
                    .map_err(|s| classify(&s, "metrics data via OTLP exporter"))?;
                if let Some(p) = r.partial_success {
                    self.partial_success(
                        &p.error_message,
                        p.rejected_data_points,
                        "dropped_data_points",
                    );
                }
            }
            Signal::Logs => {
                let r: ExportLogsServiceResponse = self
                    .send(
                        &batch,
                        "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
                    )
                    .await
                    .map_err(|s| classify(&s, "log data via OTLP exporter"))?;
                if let Some(p) = r.partial_success {
                    self.partial_success(
                        &p.error_message,
                        p.rejected_log_records,
                        "dropped_log_records",
                    );
                }
            }
        }
        Ok(())
    }
}

/// Encodes a [`Batch`] as its export request straight into tonic's buffer, and decodes the
/// service's response `R`.
pub(crate) struct BatchCodec<R>(PhantomData<R>);

impl<R> Default for BatchCodec<R> {
    fn default() -> Self {
        BatchCodec(PhantomData)
    }
}

impl<R: Message + Default + Send + 'static> Codec for BatchCodec<R> {
    type Encode = Batch;
    type Decode = R;
    type Encoder = BatchEncoder;
    type Decoder = ResponseDecoder<R>;

    fn encoder(&mut self) -> BatchEncoder {
        BatchEncoder
    }

    fn decoder(&mut self) -> ResponseDecoder<R> {
        ResponseDecoder(PhantomData)
    }
}

pub(crate) struct BatchEncoder;

impl Encoder for BatchEncoder {
    type Item = Batch;
    type Error = Status;

    /// Bytes a batch was received as go out as they are; decoded data is encoded here.
    fn encode(&mut self, item: Batch, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        // Received bytes: one allocation for the whole message instead of growing chunk by
        // chunk (for decoded data, measuring first would cost a pass over the structs).
        if item.is_wire() {
            dst.reserve(item.encoded_len());
        }
        item.encode_to(dst);
        Ok(())
    }
}

pub(crate) struct ResponseDecoder<R>(PhantomData<R>);

impl<R: Message + Default> Decoder for ResponseDecoder<R> {
    type Item = R;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<R>, Status> {
        R::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(format!("decoding the response: {e}")))
    }
}
