//! Small HTTP servers of the runtime (health check, own metrics, pprof, zpages, the
//! `prometheus` exporter's endpoint): bind at build time so an address in use fails the start
//! with a clear message, serve until cancelled.
//!
//! Every connection is bounded (docs/security.md): request headers must arrive within
//! [`Limits::header_read_timeout`] (Go `confighttp`'s server default `read_header_timeout`,
//! 1 minute), which also closes a connection that sends nothing at all; at most
//! [`Limits::max_connections`] are open at once, and one more is closed as soon as it is
//! accepted (and counted in the log), so idle or slow clients cannot take the endpoint from
//! Prometheus or a health probe for good. On shutdown, in-flight requests get
//! [`Limits::drain`] to finish.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use pipeline_api::BuildError;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use transport::limits::first_bytes;
pub use transport::limits::Limits;

/// Bind a listen address as Go writes it (`:PORT`, `host:port`, `[v6]:port`).
pub use transport::net::bind_tcp as bind;

/// Serve `router` on `listener` until `token` fires, then finish in-flight requests.
pub fn serve(
    listener: TcpListener,
    router: Router,
    token: CancellationToken,
) -> Result<JoinHandle<()>, BuildError> {
    serve_with(listener, router, token, Limits::default())
}

/// [`serve`] with other limits (tests).
pub fn serve_with(
    listener: TcpListener,
    router: Router,
    token: CancellationToken,
    limits: Limits,
) -> Result<JoinHandle<()>, BuildError> {
    listener
        .set_nonblocking(true)
        .map_err(|e| BuildError::new(e.to_string()))?;
    let listener =
        tokio::net::TcpListener::from_std(listener).map_err(|e| BuildError::new(e.to_string()))?;
    Ok(tokio::spawn(accept_loop(listener, router, token, limits)))
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    router: Router,
    token: CancellationToken,
    limits: Limits,
) {
    let builder = limits.builder();
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let local = listener.local_addr().ok();
    let mut refused: u64 = 0;
    loop {
        let stream = tokio::select! {
            _ = token.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // out of file descriptors and the like: wait instead of spinning
                    tracing::warn!(error = %e, address = ?local, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    address = ?local,
                    limit = limits.max_connections,
                    refused,
                    "too many open connections: closing new ones"
                );
            }
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let stop = token.clone();
        tokio::spawn(async move {
            // HTTP/1 or HTTP/2 is told from the first bytes, before hyper's header timer
            // runs: a client that sends nothing (or half an HTTP/2 preface) is bounded here
            let ready = tokio::select! {
                ready = first_bytes(&stream, limits.header_read_timeout) => ready,
                _ = stop.cancelled() => false,
            };
            if !ready {
                drop(permit);
                return;
            }
            let conn = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            // a client that goes away or breaks the protocol ends its own connection only
            let _ = watcher.watch(conn).await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!(address = ?local, "connections still open after the drain period");
    }
}

/// RFC 3339 with nanoseconds in UTC, as Go's `time.RFC3339Nano` prints it.
pub fn rfc3339_nanos(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil-from-days (proleptic Gregorian)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    );
    let nanos = d.subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant, UNIX_EPOCH};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn start(limits: Limits) -> (std::net::SocketAddr, CancellationToken, JoinHandle<()>) {
        let listener = bind("127.0.0.1:0", "test").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let token = CancellationToken::new();
        let task = serve_with(listener, router, token.clone(), limits).expect("serve");
        (addr, token, task)
    }

    /// The whole response to one plain request on a fresh connection.
    async fn get(addr: std::net::SocketAddr) -> String {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out))
            .await
            .expect("answered in time")
            .expect("read");
        out
    }

    /// Waits until the server closes `s`; how long that took.
    async fn closed_after(mut s: TcpStream, within: Duration) -> Duration {
        let t = Instant::now();
        let mut buf = [0u8; 512];
        loop {
            match tokio::time::timeout(within, s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return t.elapsed(),
                Ok(Ok(_)) => continue,
                Err(_) => panic!("the server kept the connection open for {within:?}"),
            }
        }
    }

    #[tokio::test]
    async fn slow_and_silent_clients_are_cut_off_at_the_header_timeout() {
        let limits = Limits {
            header_read_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let (addr, token, task) = start(limits).await;
        // slowloris: a request line and one header, then nothing
        let mut slow = TcpStream::connect(addr).await.expect("connect");
        slow.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n")
            .await
            .expect("write");
        // a client that connects and never sends a byte
        let silent = TcpStream::connect(addr).await.expect("connect");
        let (a, b) = tokio::join!(
            closed_after(slow, Duration::from_secs(5)),
            closed_after(silent, Duration::from_secs(5))
        );
        assert!(a >= Duration::from_millis(250), "{a:?}");
        assert!(b >= Duration::from_millis(250), "{b:?}");
        assert!(get(addr).await.ends_with("ok"));
        token.cancel();
        task.await.expect("server ends");
    }

    #[tokio::test]
    async fn connections_over_the_limit_are_closed_and_the_rest_keep_serving() {
        let limits = Limits {
            max_connections: 4,
            ..Limits::default()
        };
        let (addr, token, task) = start(limits).await;
        // four idle connections take every slot
        let mut idle = Vec::new();
        for _ in 0..4 {
            idle.push(TcpStream::connect(addr).await.expect("connect"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        // one more is closed at once, without an answer
        let extra = TcpStream::connect(addr).await.expect("connect");
        closed_after(extra, Duration::from_secs(2)).await;
        // a slot freed is a slot served
        drop(idle.pop());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(get(addr).await.ends_with("ok"));
        token.cancel();
        task.await.expect("server ends");
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339_nanos(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::new(1_605_068_351, 684_717_400);
        assert_eq!(rfc3339_nanos(t), "2020-11-11T04:19:11.6847174Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339_nanos(t), "2000-02-29T00:00:00Z");
    }
}
