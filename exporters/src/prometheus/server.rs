//! The scrape endpoint: `/metrics` over HTTP/1.1 or HTTP/2, optionally TLS, with content
//! negotiation and gzip; stops accepting when shut down and lets open connections finish.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use pipeline_api::{CancellationToken, ComponentId};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use transport::limits::{first_bytes, Limits};

use super::exposition::negotiate;
use super::Shared;

const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    id: ComponentId,
) {
    let limits = Limits::default();
    let open = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(exporter = %id, error = %e, "Accepting a scrape connection failed.");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // idle or slow clients cannot take the endpoint from Prometheus (docs/security.md)
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::debug!(exporter = %id, client = %peer, "Too many open scrape connections: closing a new one.");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            let _permit = permit;
            let ready = tokio::select! {
                ready = first_bytes(&stream, limits.header_read_timeout) => ready,
                _ = shutdown.cancelled() => false,
            };
            if !ready {
                return;
            }
            match tls {
                None => connection(stream, shared, shutdown).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                    let stream = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        r = handshake => match r {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(client = %peer, error = %e, "TLS handshake failed.");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(client = %peer, "TLS handshake timed out.");
                                return;
                            }
                        },
                    };
                    connection(stream, shared, shutdown).await
                }
            }
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

async fn connection<I>(io: I, shared: Arc<Shared>, shutdown: CancellationToken)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let shared = shared.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(&shared, &req)) }
    });
    let builder = Limits::default().builder();
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "Scrape connection ended with an error.");
            }
            return;
        }
        _ = shutdown.cancelled() => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
}

/// Whether `Accept-Encoding` accepts gzip (a `q` of 0 refuses it).
fn accepts_gzip(header: Option<&str>) -> bool {
    header.is_some_and(|h| {
        h.split(',').any(|part| {
            let mut it = part.split(';');
            let coding = it.next().unwrap_or("").trim();
            let refused = it.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f64>().ok())
                    == Some(0.0)
            });
            coding.eq_ignore_ascii_case("gzip") && !refused
        })
    })
}

fn handle(shared: &Shared, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let mut resp = if req.uri().path() != "/metrics" {
        let mut r = Response::new(Full::new(Bytes::from_static(b"404 page not found\n")));
        *r.status_mut() = StatusCode::NOT_FOUND;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        r
    } else {
        let text = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
        let format = negotiate(text(header::ACCEPT), shared.open_metrics);
        let body = shared.render(format);
        let mut r = if accepts_gzip(text(header::ACCEPT_ENCODING)) {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let gz = enc.write_all(body.as_bytes()).and_then(|_| enc.finish());
            match gz {
                Ok(gz) => {
                    let mut r = Response::new(Full::new(Bytes::from(gz)));
                    r.headers_mut().insert(
                        header::CONTENT_ENCODING,
                        http::HeaderValue::from_static("gzip"),
                    );
                    r
                }
                Err(_) => Response::new(Full::new(Bytes::from(body))),
            }
        } else {
            Response::new(Full::new(Bytes::from(body)))
        };
        if let Ok(v) = http::HeaderValue::from_str(&format.content_type()) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        r
    };
    for (k, v) in &shared.response_headers {
        resp.headers_mut().insert(k.clone(), v.clone());
    }
    resp
}
