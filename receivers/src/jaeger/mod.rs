//! `jaeger` receiver: Jaeger `api_v2` spans over gRPC (`jaeger.api_v2.CollectorService/
//! PostSpans`), as Go's `receiver/jaegerreceiver`, translated to OTLP by
//! `exporters::jaeger::to_otlp` (Go's `jaeger.ProtoToTraces`).
//!
//! Go facts relied on (`config.go`, `factory.go`): `protocols` has `grpc`
//! (`localhost:14250`), `thrift_http` (`localhost:14268`), `thrift_binary`
//! (`localhost:6832`) and `thrift_compact` (`localhost:6831`); a protocol is on only when its
//! key is present; none is "must specify at least one protocol when using the Jaeger
//! receiver". The UDP protocols take `endpoint`, `queue_size`, `max_packet_size`, `workers`,
//! `socket_buffer_size`.
//!
//! Not built yet: the Thrift protocols (HTTP and both UDP ones) and `remote_sampling`: a
//! config that turns one on fails to build with a clear error naming it. A refused batch is
//! `UNAVAILABLE` (retryable) or `INVALID_ARGUMENT` (permanent).

#[cfg(test)]
mod tests;

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use pipeline_api::config::{ConfigError, ConfigValue, Validate};
use pipeline_api::telemetry::ReceiverObs;
use pipeline_api::{
    async_trait, Batch, BatchData, BuildContext, BuildError, CancellationToken, ComponentConfig,
    ComponentId, Receiver, ReceiverFactory, RequestContext, SharedConsumer, Signal,
    SignalConsumers,
};
use pipeline_api::{declare, Meta, Stability};
use serde::{Deserialize, Deserializer};
use tokio_rustls::TlsAcceptor;
use tonic::codec::CompressionEncoding;
use transport::tls::TlsServerConfig;

use exporters::jaeger::model::{PostSpansRequest, PostSpansResponse, POST_SPANS_PATH};

use crate::otlp::server::serve;

pub const META: Meta = Meta::new("jaeger").traces(Stability::Beta);

pub fn factory() -> Arc<dyn ReceiverFactory> {
    declare::receiver::<Config>(META, |ctx, cfg, next| {
        Ok(Box::new(JaegerReceiver::build(ctx, cfg, next)?))
    })
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d).map(|v| Some(v.unwrap_or_default()))
}

/// `receivers: jaeger:`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub protocols: Protocols,
    /// Go's old remote sampling section: refused at build (not served).
    pub remote_sampling: Option<ConfigValue>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Protocols {
    #[serde(deserialize_with = "present")]
    pub grpc: Option<GrpcServerConfig>,
    #[serde(deserialize_with = "present")]
    pub thrift_http: Option<Keys>,
    #[serde(deserialize_with = "present")]
    pub thrift_binary: Option<UdpConfig>,
    #[serde(deserialize_with = "present")]
    pub thrift_compact: Option<UdpConfig>,
}

/// A section kept as it is (accepted, not served).
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Keys(pub ConfigValue);

impl Default for Keys {
    fn default() -> Self {
        Keys(ConfigValue::Null)
    }
}

/// `protocols::thrift_binary` / `thrift_compact`: Go's UDP server keys.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct UdpConfig {
    pub endpoint: String,
    pub queue_size: i64,
    pub max_packet_size: i64,
    pub workers: i64,
    pub socket_buffer_size: i64,
}

/// `protocols::grpc` (Go `configgrpc.ServerConfig`): `endpoint` and `tls` are served; the
/// other keys are accepted.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcServerConfig {
    pub endpoint: String,
    pub transport: String,
    pub tls: Option<TlsServerConfig>,
    pub max_recv_msg_size_mib: u64,
    pub max_concurrent_streams: u32,
    pub read_buffer_size: i64,
    pub write_buffer_size: i64,
    pub keepalive: Option<ConfigValue>,
    pub include_metadata: bool,
    pub auth: Option<ConfigValue>,
}

impl Default for GrpcServerConfig {
    fn default() -> Self {
        GrpcServerConfig {
            endpoint: "localhost:14250".into(),
            transport: "tcp".into(),
            tls: None,
            max_recv_msg_size_mib: 0,
            max_concurrent_streams: 0,
            read_buffer_size: 512 * 1024,
            write_buffer_size: 0,
            keepalive: None,
            include_metadata: false,
            auth: None,
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<ConfigError> {
        let p = &self.protocols;
        let mut errors = Vec::new();
        if p.grpc.is_none()
            && p.thrift_http.is_none()
            && p.thrift_binary.is_none()
            && p.thrift_compact.is_none()
        {
            errors.push(ConfigError::new(
                &["protocols"],
                "must specify at least one protocol when using the Jaeger receiver",
            ));
        }
        if let Some(g) = &p.grpc {
            if let Err(e) = transport::net::check_endpoint(&g.endpoint, 14250) {
                errors.push(ConfigError::new(&["protocols", "grpc", "endpoint"], e));
            }
            if let Some(tls) = &g.tls {
                transport::tls::check_server(tls, &["protocols", "grpc", "tls"], &mut errors);
            }
            if g.auth.is_some() {
                errors.push(ConfigError::new(
                    &["protocols", "grpc", "auth"],
                    "authentication extensions are not supported by Ferrotel yet",
                ));
            }
        }
        errors
    }
}

impl ComponentConfig for Config {
    fn listen_addresses(&self) -> Vec<(String, String)> {
        self.protocols
            .grpc
            .iter()
            .map(|g| ("protocols::grpc::endpoint".to_string(), g.endpoint.clone()))
            .collect()
    }

    fn not_acted_on(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(g) = &self.protocols.grpc {
            if g.keepalive.is_some() {
                out.push((
                    "protocols::grpc::keepalive".into(),
                    "the server's own keepalive settings apply".into(),
                ));
            }
        }
        out
    }
}

/// What the receiver counted.
#[derive(Debug, Default)]
pub struct Counters {
    pub calls: AtomicU64,
    pub accepted_spans: AtomicU64,
}

struct Handler {
    id: ComponentId,
    next: SharedConsumer,
    include_metadata: bool,
    obs: ReceiverObs,
    counters: Arc<Counters>,
}

impl Handler {
    async fn post_spans(
        &self,
        req: tonic::Request<PostSpansRequest>,
        peer: SocketAddr,
    ) -> Result<tonic::Response<PostSpansResponse>, tonic::Status> {
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        let metadata: Vec<(String, String)> = if self.include_metadata {
            req.metadata()
                .clone()
                .into_headers()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect()
        } else {
            Vec::new()
        };
        let batch = req.into_inner().batch.unwrap_or_default();
        let traces = exporters::jaeger::to_otlp::to_otlp(std::slice::from_ref(&batch));
        let batch = Batch::new(
            BatchData::Traces(traces),
            RequestContext {
                receiver: Some(self.id.clone()),
                metadata,
                client_address: Some(peer),
            },
        );
        let items = batch.items();
        if items == 0 {
            return Ok(tonic::Response::new(PostSpansResponse {}));
        }
        let result = self.next.consume(batch).await;
        self.obs.record(Signal::Traces, items, &result);
        match result {
            Ok(()) => {
                self.counters
                    .accepted_spans
                    .fetch_add(items as u64, Ordering::Relaxed);
                Ok(tonic::Response::new(PostSpansResponse {}))
            }
            Err(e) if e.is_retryable() => Err(tonic::Status::unavailable(e.to_string())),
            Err(e) => Err(tonic::Status::invalid_argument(e.to_string())),
        }
    }
}

pub struct JaegerReceiver {
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: Option<TlsAcceptor>,
    handler: Arc<Handler>,
    max_recv: usize,
}

impl JaegerReceiver {
    pub fn build(
        ctx: BuildContext,
        cfg: &Config,
        next: SignalConsumers,
    ) -> Result<JaegerReceiver, BuildError> {
        let next = next
            .traces
            .ok_or_else(|| BuildError::new("the jaeger receiver must be in a traces pipeline"))?;
        let p = &cfg.protocols;
        for (key, on) in [
            ("thrift_http", p.thrift_http.is_some()),
            ("thrift_binary", p.thrift_binary.is_some()),
            ("thrift_compact", p.thrift_compact.is_some()),
        ] {
            if on {
                return Err(BuildError::new(format!(
                    "protocols::{key}: Jaeger Thrift is not supported by Ferrotel yet; send Jaeger api_v2 over gRPC (protocols::grpc, port 14250) or OTLP"
                )));
            }
        }
        if cfg.remote_sampling.is_some() {
            return Err(BuildError::new(
                "remote_sampling: serving Jaeger sampling strategies is not supported by Ferrotel",
            ));
        }
        let Some(g) = &p.grpc else {
            return Err(BuildError::new(
                "must specify at least one protocol when using the Jaeger receiver",
            ));
        };
        let tls = match &g.tls {
            Some(t) => Some(transport::tls::server_acceptor(
                t,
                &[b"h2"],
                "protocols::grpc::tls",
            )?),
            None => None,
        };
        let listener = transport::net::bind_tcp(&g.endpoint, "protocols::grpc::endpoint")?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| BuildError::new(format!("protocols::grpc::endpoint: {e}")))?;
        let mib = if g.max_recv_msg_size_mib == 0 {
            4
        } else {
            g.max_recv_msg_size_mib
        };
        Ok(JaegerReceiver {
            listener,
            local_addr,
            tls,
            max_recv: usize::try_from(mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX),
            handler: Arc::new(Handler {
                id: ctx.id.clone(),
                next,
                include_metadata: g.include_metadata,
                obs: ctx.telemetry.receiver_obs("grpc"),
                counters: Arc::new(Counters::default()),
            }),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn counters(&self) -> Arc<Counters> {
        self.handler.counters.clone()
    }
}

#[async_trait]
impl Receiver for JaegerReceiver {
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<(), BuildError> {
        let JaegerReceiver {
            listener,
            tls,
            handler,
            max_recv,
            ..
        } = *self;
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| BuildError::new(format!("protocols::grpc::endpoint: {e}")))?;
        let mut builder = Builder::new(TokioExecutor::new()).http2_only();
        builder.http2().timer(TokioTimer::new());
        serve(
            listener,
            tls,
            builder,
            move |peer| {
                let handler = handler.clone();
                hyper::service::service_fn(move |req: Request<Incoming>| {
                    let handler = handler.clone();
                    async move {
                        if req.uri().path() != POST_SPANS_PATH {
                            return Ok::<_, Infallible>(
                                tonic::Status::unimplemented(format!(
                                    "unknown method {}",
                                    req.uri().path()
                                ))
                                .into_http::<tonic::body::Body>(),
                            );
                        }
                        let svc = tower::service_fn(move |r: tonic::Request<PostSpansRequest>| {
                            let handler = handler.clone();
                            async move { handler.post_spans(r, peer.addr).await }
                        });
                        let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::<
                            PostSpansResponse,
                            PostSpansRequest,
                        >::default(
                        ))
                        .accept_compressed(CompressionEncoding::Gzip)
                        .max_decoding_message_size(max_recv);
                        Ok(grpc.unary(svc, req).await)
                    }
                })
            },
            shutdown,
            "jaeger",
        )
        .await;
        Ok(())
    }
}
