//! The accept loop both protocols share: optional TLS, hyper's HTTP/1.1 + HTTP/2 connection
//! driver, and a graceful stop (stop accepting, let every connection finish the requests it
//! has in flight, then return).

use std::net::SocketAddr;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use pipeline_api::CancellationToken;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a client may take to finish its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a request handler learns about its connection.
#[derive(Debug, Clone, Copy)]
pub struct PeerInfo {
    pub addr: SocketAddr,
}

/// Serve `listener` until `shutdown` fires, then drain. A plain-text connection whose first
/// bytes do not arrive within `first_bytes` is closed (over TLS, the handshake timeout
/// bounds it).
pub async fn serve<F, S, B>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    builder: Builder<TokioExecutor>,
    make_service: F,
    shutdown: CancellationToken,
    what: &'static str,
    first_bytes: Option<Duration>,
) where
    F: Fn(PeerInfo) -> S,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        let (stream, addr) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                tracing::warn!(server = what, error = %e, "Accepting a connection failed.");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = make_service(PeerInfo { addr });
        let builder = builder.clone();
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        tracker.spawn(async move {
            match tls {
                None => {
                    if let Some(t) = first_bytes {
                        let ready = tokio::select! {
                            ready = transport::limits::first_bytes(&stream, t) => ready,
                            _ = shutdown.cancelled() => false,
                        };
                        if !ready {
                            tracing::debug!(server = what, client = %addr, "Closed a connection that sent nothing in time.");
                            return;
                        }
                    }
                    serve_connection(stream, service, builder, shutdown).await
                }
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                    let stream = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        r = handshake => match r {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(server = what, client = %addr, error = %e, "TLS handshake failed.");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(server = what, client = %addr, "TLS handshake timed out.");
                                return;
                            }
                        },
                    };
                    serve_connection(stream, service, builder, shutdown).await
                }
            }
        });
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
}

async fn serve_connection<I, S, B>(
    io: I,
    service: S,
    builder: Builder<TokioExecutor>,
    shutdown: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "Connection ended with an error.");
            }
            return;
        }
        _ = shutdown.cancelled() => {}
    }
    // HTTP/1: finish the request in flight, then close; HTTP/2: GOAWAY, finish open streams.
    conn.as_mut().graceful_shutdown();
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "Connection ended with an error while draining.");
    }
}
