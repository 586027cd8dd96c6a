//! What bounds one client of a receiver's listener, shared by every HTTP and gRPC server of
//! this crate (docs/security.md lists them per listener):
//! - a request body is read through its size limit (Go `max_request_body_size`), its
//!   whole-request deadline (Go `read_timeout`) and a stall bound: a body during which
//!   nothing arrives for the header timeout (Go `read_header_timeout`) is refused too, so a
//!   client that sends headers and then trickles nothing cannot hold a request open;
//! - a new plain-text connection must send its first bytes within a bound (the header
//!   timeout over HTTP; grpc-go's 120 s connection timeout over gRPC);
//! - each refusal for a limit is counted in `otelcol_receiver_requests_over_limit`, labelled
//!   with the Go key of the limit.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use pipeline_api::config::GoDuration;
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::IntCounter;

/// grpc-go's `ConnectionTimeout` default: how long a new connection may take to send the
/// HTTP/2 preface before it is closed.
pub const GRPC_CONNECTION_TIMEOUT: Duration = Duration::from_secs(120);

/// The bounds of reading one request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Largest body, in bytes.
    pub max: usize,
    /// The whole body must have arrived within this (Go `read_timeout`).
    pub read_timeout: Option<Duration>,
    /// Longest wait for the next piece of the body (the header timeout).
    pub stall: Option<Duration>,
}

impl BodyLimits {
    /// From Go's `confighttp` keys: `max_request_body_size` (`<= 0`: 20 MiB), `read_timeout`
    /// and `read_header_timeout` (zero: none).
    pub fn new(
        max_request_body_size: i64,
        read_timeout: GoDuration,
        read_header_timeout: GoDuration,
    ) -> BodyLimits {
        let max = if max_request_body_size <= 0 {
            crate::http_server::DEFAULT_MAX_BODY
        } else {
            max_request_body_size
        };
        BodyLimits {
            max: usize::try_from(max).unwrap_or(usize::MAX),
            read_timeout: Some(read_timeout.get()).filter(|d| !d.is_zero()),
            stall: Some(read_header_timeout.get()).filter(|d| !d.is_zero()),
        }
    }
}

/// Why a body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// Over [`BodyLimits::max`]: 413.
    TooLarge,
    /// `read_timeout` passed, or the body stalled: 408.
    Timeout,
    /// The client broke the body off or sent garbage.
    Read(String),
}

/// Read a whole request body within `limits` (a `Content-Length` over the limit is refused
/// at once).
pub async fn read_body<B>(body: B, limits: BodyLimits) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // a declared length over the limit is refused before anything is read
    if body.size_hint().lower() > limits.max as u64 {
        return Err(BodyError::TooLarge);
    }
    let read = async {
        let mut body = std::pin::pin!(Limited::new(body, limits.max));
        let mut chunks: Vec<Bytes> = Vec::new();
        loop {
            let next = body.frame();
            let frame = match limits.stall {
                Some(t) => tokio::time::timeout(t, next)
                    .await
                    .map_err(|_| BodyError::Timeout)?,
                None => next.await,
            };
            match frame {
                None => break,
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            chunks.push(data);
                        }
                    }
                }
                Some(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
                    return Err(BodyError::TooLarge)
                }
                Some(Err(e)) => return Err(BodyError::Read(e.to_string())),
            }
        }
        Ok(match chunks.len() {
            0 => Bytes::new(),
            1 => chunks.pop().unwrap_or_default(),
            _ => {
                let mut all = BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
                for c in &chunks {
                    all.extend_from_slice(c);
                }
                all.freeze()
            }
        })
    };
    match limits.read_timeout {
        Some(t) => tokio::time::timeout(t, read)
            .await
            .map_err(|_| BodyError::Timeout)?,
        None => read.await,
    }
}

/// The limits a request can be refused for, named by their Go keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// An HTTP body over `max_request_body_size`.
    MaxRequestBodySize,
    /// An HTTP body not read within `read_timeout`, or stalled past `read_header_timeout`.
    ReadTimeout,
    /// A gRPC message over `max_recv_msg_size_mib`.
    MaxRecvMsgSize,
}

impl Limit {
    pub fn key(self) -> &'static str {
        match self {
            Limit::MaxRequestBodySize => "max_request_body_size",
            Limit::ReadTimeout => "read_timeout",
            Limit::MaxRecvMsgSize => "max_recv_msg_size_mib",
        }
    }
}

/// `otelcol_receiver_requests_over_limit{receiver, transport, limit}`: requests a receiver
/// refused for one of its limits (they carry no item count, so the `refused_*` item
/// counters cannot show them).
#[derive(Clone)]
pub struct OverLimit {
    body_size: IntCounter,
    read_timeout: IntCounter,
    msg_size: IntCounter,
}

impl OverLimit {
    pub fn new(telemetry: &ComponentTelemetry, transport: &str) -> OverLimit {
        let make = |limit: Limit| {
            telemetry.counter(
                "otelcol_receiver_requests_over_limit",
                "Number of requests refused for a limit of the receiver's server (size or time).",
                &[("transport", transport), ("limit", limit.key())],
            )
        };
        OverLimit {
            body_size: make(Limit::MaxRequestBodySize),
            read_timeout: make(Limit::ReadTimeout),
            msg_size: make(Limit::MaxRecvMsgSize),
        }
    }

    pub fn count(&self, limit: Limit) {
        match limit {
            Limit::MaxRequestBodySize => self.body_size.inc(),
            Limit::ReadTimeout => self.read_timeout.inc(),
            Limit::MaxRecvMsgSize => self.msg_size.inc(),
        }
    }

    /// Count a body that was not read for a limit.
    pub fn count_body(&self, e: &BodyError) {
        match e {
            BodyError::TooLarge => self.count(Limit::MaxRequestBodySize),
            BodyError::Timeout => self.count(Limit::ReadTimeout),
            BodyError::Read(_) => {}
        }
    }

    /// A gRPC answer given before the method ran: a message refused for its size is counted
    /// and answered `RESOURCE_EXHAUSTED`, as grpc-go does (tonic answers an uncompressed
    /// message over the limit with `OUT_OF_RANGE`, which clients retry for ever, and one
    /// that inflates past it with `RESOURCE_EXHAUSTED`; both in the headers of a
    /// trailers-only reply).
    pub fn refuse_grpc<B>(&self, response: &mut http::Response<B>, method_ran: bool) {
        if method_ran {
            return;
        }
        let code = response.headers().get("grpc-status").map(|v| v.as_bytes());
        // 8: RESOURCE_EXHAUSTED, 11: OUT_OF_RANGE
        if matches!(code, Some(b"8") | Some(b"11")) {
            response
                .headers_mut()
                .insert("grpc-status", http::HeaderValue::from_static("8"));
            self.count(Limit::MaxRecvMsgSize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http_body_util::Full;

    fn limits(max: usize, stall_ms: Option<u64>) -> BodyLimits {
        BodyLimits {
            max,
            read_timeout: None,
            stall: stall_ms.map(Duration::from_millis),
        }
    }

    /// A body that sends each chunk after its delay; a `None` chunk never arrives.
    struct Script {
        steps: Vec<(Duration, Option<&'static [u8]>)>,
        sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    }

    impl hyper::body::Body for Script {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
            let Some((delay, chunk)) = self.steps.first().copied() else {
                return Poll::Ready(None);
            };
            let sleep = self
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let Some(chunk) = chunk else {
                return Poll::Pending;
            };
            self.sleep = None;
            self.steps.remove(0);
            Poll::Ready(Some(Ok(hyper::body::Frame::data(Bytes::from_static(
                chunk,
            )))))
        }
    }

    #[tokio::test]
    async fn reads_within_the_limit_and_refuses_past_it() {
        let ok = read_body(Full::new(Bytes::from_static(b"abcd")), limits(4, None)).await;
        assert_eq!(ok.unwrap(), Bytes::from_static(b"abcd"));
        let over = read_body(Full::new(Bytes::from_static(b"abcde")), limits(4, None)).await;
        assert!(matches!(over, Err(BodyError::TooLarge)), "{over:?}");
    }

    #[tokio::test]
    async fn a_stalled_body_times_out_and_a_slow_one_does_not() {
        let gap = Duration::from_millis(50);
        let slow = Script {
            steps: vec![(gap, Some(b"abc")), (gap, Some(b"def"))],
            sleep: None,
        };
        let r = read_body(slow, limits(100, Some(500))).await;
        assert_eq!(r.unwrap(), Bytes::from_static(b"abcdef"));
        let stalled = Script {
            steps: vec![(gap, Some(b"abc")), (gap, None)],
            sleep: None,
        };
        let r = read_body(stalled, limits(100, Some(200))).await;
        assert!(matches!(r, Err(BodyError::Timeout)), "{r:?}");
        // the whole-request deadline applies even while bytes keep coming
        let steady = Script {
            steps: vec![(gap, Some(b"a")); 20],
            sleep: None,
        };
        let deadline = BodyLimits {
            read_timeout: Some(Duration::from_millis(300)),
            ..limits(100, Some(500))
        };
        let r = read_body(steady, deadline).await;
        assert!(matches!(r, Err(BodyError::Timeout)), "{r:?}");
    }
}
