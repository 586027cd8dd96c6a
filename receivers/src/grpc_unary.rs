//! A gRPC server for receivers that serve one unary method of a foreign API (Jaeger's
//! `CollectorService/PostSpans`, Loki's `Pusher/Push`): Go's `configgrpc.ServerConfig` keys
//! with the receiver's default port, and the serving loop (HTTP/2 only, gzip accepted, the
//! message size limit, `UNIMPLEMENTED` for any other method).

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto::Builder;
use pipeline_api::config::{ConfigError, ConfigValue};
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{BuildError, CancellationToken};
use serde::Deserialize;
use tokio_rustls::TlsAcceptor;
use tonic::codec::CompressionEncoding;
use transport::tls::TlsServerConfig;

use crate::limits::OverLimit;
use crate::otlp::server::serve;

/// The default port of a receiver's gRPC endpoint.
pub trait DefaultPort {
    const PORT: u16;
}

/// `protocols::grpc` (Go `configgrpc.ServerConfig`) with `localhost:<P::PORT>` as the
/// default endpoint: `endpoint`, `tls`, `max_recv_msg_size_mib`, `max_concurrent_streams`
/// and `include_metadata` are served; the other keys are accepted (`read_buffer_size` sizes
/// grpc-go's read buffer: the receive windows grow by themselves, see
/// `transport::limits::grpc_builder`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, bound = "")]
pub struct GrpcServerConfig<P: DefaultPort> {
    pub endpoint: String,
    pub transport: String,
    pub tls: Option<TlsServerConfig>,
    pub max_recv_msg_size_mib: u64,
    pub max_concurrent_streams: u32,
    pub read_buffer_size: i64,
    pub write_buffer_size: i64,
    pub keepalive: Option<ConfigValue>,
    pub include_metadata: bool,
    pub auth: Option<pipeline_api::auth::AuthConfig>,
    #[serde(skip)]
    pub port: PhantomData<P>,
}

impl<P: DefaultPort> Default for GrpcServerConfig<P> {
    fn default() -> Self {
        GrpcServerConfig {
            endpoint: format!("localhost:{}", P::PORT),
            transport: "tcp".into(),
            tls: None,
            max_recv_msg_size_mib: 0,
            max_concurrent_streams: 0,
            read_buffer_size: 512 * 1024,
            write_buffer_size: 0,
            keepalive: None,
            include_metadata: false,
            auth: None,
            port: PhantomData,
        }
    }
}

impl<P: DefaultPort> GrpcServerConfig<P> {
    /// The checks of `protocols::grpc`, with `path` leading to it.
    pub fn validate(&self, path: &[&str], errors: &mut Vec<ConfigError>) {
        let at = |key: &'static str| -> Vec<&str> {
            let mut p = path.to_vec();
            p.push(key);
            p
        };
        if let Err(e) = transport::net::check_endpoint(&self.endpoint, P::PORT) {
            errors.push(ConfigError::new(&at("endpoint"), e));
        }
        if let Some(tls) = &self.tls {
            transport::tls::check_server(tls, &at("tls"), errors);
        }
    }

    /// Bind the listener (and load TLS) at build; `what` names the key in errors.
    pub fn bind(
        &self,
        what: &str,
        telemetry: &ComponentTelemetry,
    ) -> Result<GrpcListener, BuildError> {
        let tls = match &self.tls {
            Some(t) => Some(transport::tls::server_acceptor(
                t,
                &[b"h2"],
                &format!("{what}::tls"),
            )?),
            None => None,
        };
        let listener = transport::net::bind_tcp(&self.endpoint, &format!("{what}::endpoint"))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| BuildError::new(format!("{what}::endpoint: {e}")))?;
        let mib = if self.max_recv_msg_size_mib == 0 {
            4
        } else {
            self.max_recv_msg_size_mib
        };
        Ok(GrpcListener {
            listener,
            local_addr,
            tls,
            max_recv: usize::try_from(mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX),
            builder: transport::limits::grpc_builder(self.max_concurrent_streams, None, None),
            over_limit: OverLimit::new(telemetry, "grpc"),
            guard: None,
        })
    }
}

/// A bound gRPC listener, ready to serve.
pub struct GrpcListener {
    listener: TcpListener,
    pub local_addr: SocketAddr,
    tls: Option<TlsAcceptor>,
    max_recv: usize,
    builder: Builder<TokioExecutor>,
    over_limit: OverLimit,
    /// The server authenticator every call must pass (`auth`).
    guard: Option<pipeline_api::auth::Guard>,
}

impl GrpcListener {
    /// Check every call with the `auth` section's authenticator (Go configgrpc's unary
    /// interceptor; a refusal is `UNAUTHENTICATED` with the authenticator's words).
    pub fn guarded(
        mut self,
        auth: Option<&pipeline_api::auth::AuthConfig>,
        extensions: &pipeline_api::auth::Extensions,
        what: &str,
    ) -> Result<GrpcListener, BuildError> {
        let key = crate::http_server::auth_key(what);
        self.guard = auth
            .map(|a| pipeline_api::auth::Guard::new(extensions, &a.authenticator, &[], &key))
            .transpose()?;
        Ok(self)
    }
}

/// Serve the one method at `path` until `shutdown`: `handle(request, peer)` answers each
/// call; a message refused for its size is counted (`otelcol_receiver_requests_over_limit`).
pub async fn serve_unary<Req, Resp, H, Fut>(
    l: GrpcListener,
    path: &'static str,
    handle: H,
    shutdown: CancellationToken,
    what: &'static str,
) where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    H: Fn(tonic::Request<Req>, SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>> + Send + 'static,
{
    let GrpcListener {
        listener,
        tls,
        max_recv,
        builder,
        over_limit,
        guard,
        ..
    } = l;
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "Cannot serve the {what} gRPC endpoint.");
            return;
        }
    };
    let handle = Arc::new(handle);
    serve(
        listener,
        tls,
        builder,
        move |peer| {
            let handle = handle.clone();
            let over_limit = over_limit.clone();
            let guard = guard.clone();
            hyper::service::service_fn(move |req: Request<Incoming>| {
                let handle = handle.clone();
                let over_limit = over_limit.clone();
                let refused = guard
                    .as_ref()
                    .and_then(|g| g.check(req.headers(), None).err());
                async move {
                    if req.uri().path() != path {
                        return Ok::<_, Infallible>(
                            tonic::Status::unimplemented(format!(
                                "unknown method {}",
                                req.uri().path()
                            ))
                            .into_http::<tonic::body::Body>(),
                        );
                    }
                    if let Some(e) = refused {
                        return Ok(tonic::Status::unauthenticated(e).into_http());
                    }
                    let ran = Arc::new(AtomicBool::new(false));
                    let ran_in = ran.clone();
                    let svc = tower::service_fn(move |r: tonic::Request<Req>| {
                        let handle = handle.clone();
                        ran_in.store(true, Ordering::Relaxed);
                        async move { handle(r, peer.addr).await }
                    });
                    let mut grpc =
                        tonic::server::Grpc::new(tonic_prost::ProstCodec::<Resp, Req>::default())
                            .accept_compressed(CompressionEncoding::Gzip)
                            .max_decoding_message_size(max_recv);
                    let mut response = grpc.unary(svc, req).await;
                    over_limit.refuse_grpc(&mut response, ran.load(Ordering::Relaxed));
                    Ok(response)
                }
            })
        },
        shutdown,
        what,
        Some(crate::limits::GRPC_CONNECTION_TIMEOUT),
    )
    .await;
}
