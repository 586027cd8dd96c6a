//! Limits on what one client of a listener may hold: how long its request headers may take,
//! how many connections may be open at once, how long in-flight requests get at shutdown.
//! Shared by the runtime's small HTTP servers (health check, own metrics, pprof, zpages) and
//! the `prometheus` exporter's endpoint; docs/security.md lists every listener's limits.

use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;

/// What one small server allows a client.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Request headers (and, on a new connection, its first bytes) must arrive within this;
    /// it also bounds an idle keep-alive connection (hyper starts the timer when it waits
    /// for the next request). Go `confighttp`'s server default `read_header_timeout`.
    pub header_read_timeout: Duration,
    /// Open connections at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// How long in-flight requests get to finish at shutdown.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(60),
            max_connections: 256,
            drain: Duration::from_secs(5),
        }
    }
}

impl Limits {
    /// A connection builder (HTTP/1 and HTTP/2) with the header timeout armed.
    pub fn builder(&self) -> auto::Builder<TokioExecutor> {
        http_builder(true, Some(self.header_read_timeout))
    }
}

/// A connection builder (HTTP/1 and HTTP/2) with HTTP/1 keep-alive as configured and, when
/// given, a header read timeout (Go confighttp's `keep_alives_enabled`, `read_header_timeout`).
pub fn http_builder(
    keep_alive: bool,
    header_read_timeout: Option<Duration>,
) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(keep_alive)
        .header_read_timeout(header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    builder
}

/// A connection builder for a gRPC server (HTTP/2 only): Go `configgrpc`'s
/// `max_concurrent_streams` (0: hyper's 200 per connection; grpc-go has no limit), and pings
/// every `keepalive_time` answered within `keepalive_timeout` (grpc-go's 2 h and 20 s).
///
/// The receive windows are grpc-go's when none is configured (Go's `configgrpc` configures
/// none; its `read_buffer_size` sizes a read buffer, not a window): HTTP/2's 65,535 bytes at
/// first, then grown with the bandwidth-delay product that pings measure, up to 16 MiB. A
/// client with many requests in flight on one connection, or far away, is not held to a
/// fixed window: each request comes in one piece (the receiver hands it on without a copy)
/// and a connection with a 100 ms round trip is not capped at a window per round trip.
///
/// DATA frames of up to 256 KiB are allowed (HTTP/2's and grpc-go's 16 KiB otherwise): a
/// client that honours the setting sends a request of 55 KB in one frame instead of four,
/// which the server reads in half the reads (measured in bench/README.md).
pub fn grpc_builder(
    max_concurrent_streams: u32,
    keepalive_time: Option<Duration>,
    keepalive_timeout: Option<Duration>,
) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new()).http2_only();
    {
        let mut h2 = builder.http2();
        h2.timer(TokioTimer::new());
        if max_concurrent_streams > 0 {
            h2.max_concurrent_streams(max_concurrent_streams);
        }
        // hyper's estimator is grpc-go's: windows from 65,535 up to 16 MiB (setting either
        // window afterwards would turn it off)
        h2.adaptive_window(true);
        h2.max_frame_size(256 * 1024);
        h2.keep_alive_interval(Some(
            keepalive_time.unwrap_or(Duration::from_secs(2 * 60 * 60)),
        ));
        h2.keep_alive_timeout(keepalive_timeout.unwrap_or(Duration::from_secs(20)));
    }
    builder
}

/// Whether enough of the first bytes arrived within `timeout` to tell HTTP/1 from HTTP/2
/// (anything that is not the start of the HTTP/2 preface is HTTP/1).
pub async fn first_bytes(stream: &tokio::net::TcpStream, timeout: Duration) -> bool {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let deadline = tokio::time::Instant::now() + timeout;
    let mut buf = [0u8; 24];
    loop {
        let Ok(peeked) = tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await else {
            return false;
        };
        match peeked {
            Ok(0) | Err(_) => return false,
            Ok(n) if n >= PREFACE.len() || !PREFACE.starts_with(&buf[..n]) => return true,
            // part of the preface: wait for the rest
            Ok(_) => {
                if tokio::time::timeout_at(deadline, tokio::time::sleep(Duration::from_millis(10)))
                    .await
                    .is_err()
                {
                    return false;
                }
            }
        }
    }
}
