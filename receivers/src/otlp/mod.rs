//! The `otlp` receiver: OTLP over gRPC (default `localhost:4317`) and over HTTP with
//! protobuf or JSON bodies (default `localhost:4318`), as the Go collector's
//! `receiver/otlpreceiver`.
//!
//! `build` binds both listeners (so a port in use fails the build, naming the endpoint) and
//! spawns nothing; `run` serves until the shutdown token fires, then stops accepting,
//! finishes the requests in flight and returns. Every request is acknowledged only after the
//! next consumer's `consume` returned, and its refusal is mapped to the protocol's code in
//! one place, [`errors`].

pub mod compression;
pub mod config;
pub mod errors;
mod grpc;
mod http;
pub mod json;
mod json_wire;
pub(crate) mod server;

#[cfg(test)]
mod tests;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{
    async_trait, Batch, BatchData, BuildContext, BuildError, CancellationToken, ComponentId,
    Receiver, ReceiverFactory, RequestContext, SharedConsumer, Signal, SignalConsumers,
};
use pipeline_api::{declare, Meta, Stability};

pub use config::OtlpReceiverConfig;
use errors::Refusal;

/// The factory of the `otlp` receiver.
pub const META: Meta = Meta::new("otlp")
    .traces(Stability::Stable)
    .metrics(Stability::Stable)
    .logs(Stability::Stable);

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<OtlpReceiverConfig>(META, |ctx, cfg, next| {
        Ok(Box::new(OtlpReceiver::build(ctx, cfg, next)?))
    })
}

/// The addresses a built receiver listens on (the real ports when the config said `:0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAddrs {
    pub grpc: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
}

/// A built `otlp` receiver: listeners bound, nothing running until [`Receiver::run`].
pub struct OtlpReceiver {
    id: ComponentId,
    grpc: Option<grpc::GrpcServer>,
    http: Option<http::HttpServer>,
}

impl std::fmt::Debug for OtlpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpReceiver")
            .field("id", &self.id)
            .field("local_addrs", &self.local_addrs())
            .finish()
    }
}

impl OtlpReceiver {
    /// Bind the configured listeners (blocking, non-spawning); the factory's `build`.
    pub fn build(
        ctx: BuildContext,
        cfg: &OtlpReceiverConfig,
        next: SignalConsumers,
    ) -> Result<OtlpReceiver, BuildError> {
        let grpc = match &cfg.protocols.grpc {
            Some(g) => Some(grpc::GrpcServer::build(&ctx, g, &next)?),
            None => None,
        };
        let http = match &cfg.protocols.http {
            Some(h) => Some(http::HttpServer::build(&ctx, h, &next)?),
            None => None,
        };
        Ok(OtlpReceiver {
            id: ctx.id,
            grpc,
            http,
        })
    }

    /// Where the servers listen.
    pub fn local_addrs(&self) -> LocalAddrs {
        LocalAddrs {
            grpc: self.grpc.as_ref().map(|g| g.local_addr),
            http: self.http.as_ref().map(|h| h.local_addr),
        }
    }
}

#[async_trait]
impl Receiver for OtlpReceiver {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        let OtlpReceiver { id, grpc, http } = *self;
        // Convert both listeners first, so neither server starts when the other cannot.
        let grpc = grpc.map(|g| g.into_running()).transpose()?;
        let http = http.map(|h| h.into_running()).transpose()?;
        let grpc_fut = async {
            if let Some(g) = grpc {
                g.serve(shutdown.clone()).await;
            }
        };
        let http_fut = async {
            if let Some(h) = http {
                h.serve(shutdown.clone()).await;
            }
        };
        tokio::join!(grpc_fut, http_fut);
        tracing::debug!(receiver = %id, "OTLP receiver stopped.");
        Ok(())
    }
}

/// Bind `endpoint` (Go syntax: `:4317`, `host:port`, `[v6]:port`) for a server; "address in
/// use" names the key and the endpoint.
fn bind(endpoint: &str, key: &str) -> Result<TcpListener, BuildError> {
    transport::net::bind_tcp(endpoint, key)
}

/// One signal's next consumer and the transport's counters: what a request handler needs.
#[derive(Clone)]
struct SignalSink {
    receiver: ComponentId,
    signal: Signal,
    next: SharedConsumer,
    obs: ReceiverObs,
}

impl SignalSink {
    /// Hand a batch on and wait for the answer. An export with no items is acknowledged
    /// without calling the pipeline (Go `internal/trace/otlp.go`: `if numSpans == 0 { return }`).
    async fn export(&self, mut batch: Batch, context: RequestContext) -> Result<(), Refusal> {
        let items = batch.items();
        if items == 0 {
            return Ok(());
        }
        batch.set_context(context);
        // Go's otlp receiver reports "protobuf" for JSON requests too
        let result = self
            .obs
            .observe(self.signal, items, "protobuf", self.next.consume(batch))
            .await;
        result.map_err(|e| {
            tracing::debug!(receiver = %self.receiver, signal = %self.signal, items, error = %e, "The pipeline refused data.");
            Refusal::from_consume(&e)
        })
    }

    /// A batch of protobuf bytes, kept as they are once checked ([`Batch::from_wire`]
    /// refuses what does not decode and trace or span ids of the wrong length).
    fn check_protobuf(&self, bytes: bytes::Bytes) -> Result<Batch, Refusal> {
        Batch::from_wire(self.signal, bytes, RequestContext::default()).map_err(|e| {
            let m = format!("invalid OTLP/protobuf {} request: {e}", self.signal);
            tracing::debug!(receiver = %self.receiver, signal = %self.signal, error = %m, "Refused a malformed export request.");
            Refusal::bad_data(m)
        })
    }

    fn context(
        &self,
        metadata: Vec<(String, String)>,
        client: Option<SocketAddr>,
    ) -> RequestContext {
        RequestContext {
            metadata,
            client_address: client,
            receiver: Some(self.receiver.clone()),
        }
    }
}

/// The sinks of the signals that have a consumer.
fn sinks(id: &ComponentId, next: &SignalConsumers, obs: &ReceiverObs) -> Vec<SignalSink> {
    Signal::ALL
        .iter()
        .filter_map(|&signal| {
            next.get(signal).map(|c| SignalSink {
                receiver: id.clone(),
                signal,
                next: c.clone(),
                obs: obs.clone(),
            })
        })
        .collect()
}

/// Client metadata from request headers: lower-case keys (as Go's `client.NewMetadata`),
/// values as sent; `host` from the authority when the request has no `Host` header (Go
/// configgrpc copies `:authority` to `host`).
fn metadata_from_headers(
    headers: &::http::HeaderMap,
    authority: Option<&str>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    if let Some(a) = authority {
        if !out.iter().any(|(k, _)| k == "host") {
            out.push(("host".into(), a.to_string()));
        }
    }
    out
}

/// Trace ids are 16 bytes and span ids 8, or empty: what the OTLP protocol allows (Go's
/// pdata refuses any other length when it unmarshals, for protobuf and JSON alike).
fn check_ids(data: &BatchData) -> Result<(), String> {
    fn id(bytes: &[u8], len: usize, what: &str) -> Result<(), String> {
        if bytes.is_empty() || bytes.len() == len {
            Ok(())
        } else {
            Err(format!(
                "invalid {what}: {} bytes, expected {len}",
                bytes.len()
            ))
        }
    }
    match data {
        BatchData::Traces(r) => {
            for span in r
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
            {
                id(&span.trace_id, 16, "trace id")?;
                id(&span.span_id, 8, "span id")?;
                id(&span.parent_span_id, 8, "parent span id")?;
                for link in &span.links {
                    id(&link.trace_id, 16, "link trace id")?;
                    id(&link.span_id, 8, "link span id")?;
                }
            }
        }
        BatchData::Logs(r) => {
            for rec in r
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .flat_map(|s| &s.log_records)
            {
                id(&rec.trace_id, 16, "trace id")?;
                id(&rec.span_id, 8, "span id")?;
            }
        }
        BatchData::Metrics(r) => {
            use pipeline_api::proto::tonic::metrics::v1::metric::Data;
            for m in r
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
            {
                let exemplars: Vec<&pipeline_api::proto::tonic::metrics::v1::Exemplar> = match &m
                    .data
                {
                    Some(Data::Gauge(g)) => {
                        g.data_points.iter().flat_map(|p| &p.exemplars).collect()
                    }
                    Some(Data::Sum(s)) => s.data_points.iter().flat_map(|p| &p.exemplars).collect(),
                    Some(Data::Histogram(h)) => {
                        h.data_points.iter().flat_map(|p| &p.exemplars).collect()
                    }
                    Some(Data::ExponentialHistogram(h)) => {
                        h.data_points.iter().flat_map(|p| &p.exemplars).collect()
                    }
                    Some(Data::Summary(_)) | None => Vec::new(),
                };
                for e in exemplars {
                    id(&e.trace_id, 16, "exemplar trace id")?;
                    id(&e.span_id, 8, "exemplar span id")?;
                }
            }
        }
    }
    Ok(())
}
