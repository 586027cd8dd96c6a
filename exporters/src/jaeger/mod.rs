//! `jaeger` exporter: traces to a Jaeger collector's gRPC `api_v2` endpoint (port 14250),
//! the exporter the Go collector removed in v0.85.0 (`exporter/jaegerexporter`), for the
//! configs that still use it.
//!
//! Each resource becomes one Jaeger batch ([`translate::batches`]), sent with one
//! `jaeger.api_v2.CollectorService/PostSpans` call; the first failing call ends the export
//! (Go `pushTraces`). Go returned every call failure as retryable; Ferrotel classifies the
//! gRPC status as the `otlp` exporter does (see `common/grpc.rs`), so a request the
//! collector refuses as invalid is not retried forever. Go's connection-state gauge
//! (`jaegerexporter_conn_state`) is not kept: tonic does not expose the connection state.

mod config;
pub mod model;
#[cfg(test)]
mod tests;
pub mod to_otlp;
pub mod translate;

use std::sync::Arc;

use http::uri::PathAndQuery;
use pipeline_api::{
    async_trait, Batch, BuildError, ComponentId, ConsumeError, Exporter, ExporterFactory,
};
use pipeline_api::{declare, Meta, Stability};
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::Status;
use tonic_prost::ProstCodec;

use crate::common::grpc::classify;
use transport::grpc::GrpcConnection;

pub use config::{Config, DEFAULT_COMPRESSION};

pub const TYPE_NAME: &str = "jaeger";

/// Removed from Go's contrib; its last level was deprecated.
pub const META: Meta = Meta::new(TYPE_NAME).traces(Stability::Deprecated);

pub fn factory() -> Arc<dyn ExporterFactory> {
    declare::exporter::<Config>(META, |ctx, cfg| {
        Ok(Arc::new(JaegerExporter::new(ctx.id, cfg, &ctx.extensions)?))
    })
    .into_factory()
}

pub struct JaegerExporter {
    id: ComponentId,
    conn: GrpcConnection,
    metadata: MetadataMap,
    compression: Option<CompressionEncoding>,
}

impl JaegerExporter {
    /// `extensions`: the running ones, for `auth::authenticator`.
    pub fn new(
        id: ComponentId,
        cfg: &Config,
        extensions: &pipeline_api::auth::Extensions,
    ) -> Result<JaegerExporter, BuildError> {
        let conn = GrpcConnection::new(&cfg.grpc, &id.to_string(), extensions)?;
        Ok(JaegerExporter {
            id,
            conn,
            metadata: cfg.grpc.metadata(),
            compression: cfg.grpc.send_compression(DEFAULT_COMPRESSION),
        })
    }

    async fn post(&self, batch: &model::Batch) -> Result<(), Status> {
        self.conn
            .call(|channel| {
                let request = model::PostSpansRequest {
                    batch: Some(batch.clone()),
                };
                let metadata = self.conn.metadata(&self.metadata);
                let compression = self.compression;
                async move {
                    let metadata = metadata?;
                    let mut grpc = tonic::client::Grpc::new(channel)
                        .accept_compressed(CompressionEncoding::Gzip)
                        .accept_compressed(CompressionEncoding::Zstd);
                    if let Some(c) = compression {
                        grpc = grpc.send_compressed(c);
                    }
                    grpc.ready().await.map_err(|e| {
                        Status::unavailable(format!("the connection is not ready: {e}"))
                    })?;
                    let mut request = tonic::Request::new(request);
                    *request.metadata_mut() = metadata;
                    grpc.unary::<_, model::PostSpansResponse, _>(
                        request,
                        PathAndQuery::from_static(model::POST_SPANS_PATH),
                        ProstCodec::default(),
                    )
                    .await
                    .map(|_| ())
                }
            })
            .await
    }
}

#[async_trait]
impl Exporter for JaegerExporter {
    async fn start(&self) -> Result<(), BuildError> {
        let _ = self.conn.channel();
        Ok(())
    }

    async fn export(&self, batch: Batch) -> Result<(), ConsumeError> {
        let Some(req) = batch.as_traces() else {
            return Err(ConsumeError::permanent(format!(
                "the jaeger exporter takes traces, not {}",
                batch.signal()
            )));
        };
        for b in translate::batches(req) {
            if let Err(status) = self.post(&b).await {
                let err = classify(&status, "trace data via Jaeger exporter");
                tracing::debug!(exporter = %self.id, error = %err, "failed to push trace data to Jaeger");
                return Err(err);
            }
        }
        Ok(())
    }
}
