//! A unary gRPC call whose request is a wire batch's pieces as they are.
//!
//! tonic's codecs encode a request into one buffer: for a batch kept as received bytes
//! (uncompressed), that is a copy of every byte, about a tenth of a pass-through pipeline's
//! CPU. Here the request body is the 5-byte gRPC message prefix and then the batch's own
//! `Bytes`, which HTTP/2 sends without copying them again. The call goes through the same
//! tonic channel (connection, TLS, authority, user agent, keepalive), and the response is
//! read with tonic's own `Streaming` decoder, so statuses, trailers-only answers, HTTP
//! errors and transport errors come out as the tonic path's do.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, TE};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use prost::Message;
use tonic::codec::{CompressionEncoding, Streaming};
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tower::Service;

use super::ResponseDecoder;

/// Request headers tonic removes from user metadata (`SanitizeHeaders::Yes`): the channel
/// and this call set them.
const RESERVED: [&str; 6] = [
    "te",
    "user-agent",
    "content-type",
    "grpc-message",
    "grpc-message-type",
    "grpc-status",
];

const ACCEPT_ENCODING: HeaderName = HeaderName::from_static("grpc-accept-encoding");

/// One unary call of `path` whose request message is the concatenation of `pieces`.
pub(crate) async fn unary<R: Message + Default + Send + 'static>(
    mut channel: Channel,
    pieces: &[Bytes],
    path: &'static str,
    metadata: MetadataMap,
) -> Result<R, Status> {
    std::future::poll_fn(|cx| channel.poll_ready(cx))
        .await
        .map_err(|e| Status::unavailable(format!("the connection is not ready: {e}")))?;
    let len: usize = pieces.iter().map(Bytes::len).sum();
    let Ok(len32) = u32::try_from(len) else {
        return Err(Status::resource_exhausted(format!(
            "message of {len} bytes is over gRPC's 4 GiB"
        )));
    };
    let mut prefix = [0u8; 5];
    prefix[1..].copy_from_slice(&len32.to_be_bytes());
    let body = Pieces::of(&prefix, pieces);
    let mut headers = metadata.into_headers();
    for name in RESERVED {
        headers.remove(name);
    }
    headers.insert(TE, HeaderValue::from_static("trailers"));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    // what the tonic path's channel offers (`accept_compressed(Gzip)`, then `Zstd`)
    headers.insert(
        ACCEPT_ENCODING,
        HeaderValue::from_static("gzip,zstd,identity"),
    );
    let mut request = http::Request::new(tonic::body::Body::new(body));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = http::Uri::from_static(path);
    *request.version_mut() = http::Version::HTTP_2;
    *request.headers_mut() = headers;

    let response = channel
        .call(request)
        .await
        .map_err(|e| Status::from_error(e.into()))?;
    let encoding = response_encoding(response.headers())?;
    // A trailers-only answer (the usual form of an error) carries the status in its headers.
    if let Some(status) = Status::from_header_map(response.headers()) {
        if status.code() != Code::Ok {
            return Err(status);
        }
    }
    let status_code = response.status();
    let mut stream = Streaming::new_response(
        ResponseDecoder::<R>(PhantomData),
        response.into_body(),
        status_code,
        encoding,
        None,
    );
    let message = stream
        .message()
        .await?
        .ok_or_else(|| Status::internal("Missing response message."))?;
    stream.trailers().await?;
    Ok(message)
}

/// The answer's `grpc-encoding`, read as tonic's client reads it: one of those offered,
/// `identity` or none; anything else is `UNIMPLEMENTED`.
fn response_encoding(headers: &http::HeaderMap) -> Result<Option<CompressionEncoding>, Status> {
    match headers.get("grpc-encoding").map(HeaderValue::as_bytes) {
        None | Some(b"identity") => Ok(None),
        Some(b"gzip") => Ok(Some(CompressionEncoding::Gzip)),
        Some(b"zstd") => Ok(Some(CompressionEncoding::Zstd)),
        Some(other) => Err(Status::unimplemented(format!(
            "Content is compressed with `{}` which isn't supported",
            String::from_utf8_lossy(other)
        ))),
    }
}

/// Pieces shorter than this are gathered with their neighbours into one buffer rather than
/// each sent as a data frame of its own (a batch of many small requests would otherwise go
/// out as thousands of small HTTP/2 frames, or HTTP/1 writes).
const GATHER_BELOW: usize = 16 * 1024;

/// The body's chunks: `prefix` (the gRPC message prefix, or nothing) and the small pieces
/// gathered, large pieces as they are.
pub(crate) fn frames(prefix: &[u8], pieces: &[Bytes]) -> VecDeque<Bytes> {
    let mut out = VecDeque::new();
    let mut gathered = BytesMut::with_capacity(GATHER_BELOW);
    gathered.put_slice(prefix);
    for p in pieces {
        if p.len() >= GATHER_BELOW {
            if !gathered.is_empty() {
                out.push_back(gathered.split().freeze());
            }
            out.push_back(p.clone());
        } else {
            gathered.extend_from_slice(p);
            if gathered.len() >= GATHER_BELOW {
                out.push_back(gathered.split().freeze());
            }
        }
    }
    if !gathered.is_empty() {
        out.push_back(gathered.freeze());
    }
    out
}

/// A request body of chunks ([`frames`]), one data frame each. Its length is known, so an
/// HTTP/1 request carries a `Content-Length` as for one buffer (and writes the chunks with
/// vectored writes).
pub(crate) struct Pieces(pub(crate) VecDeque<Bytes>);

impl Pieces {
    /// The body of `prefix` and `pieces`, as [`frames`] cuts them.
    pub(crate) fn of(prefix: &[u8], pieces: &[Bytes]) -> Self {
        Pieces(frames(prefix, pieces))
    }
}

impl HttpBody for Pieces {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.iter().map(|b| b.len() as u64).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_s_encoding_is_one_offered_or_unimplemented() {
        let with = |v: Option<&'static str>| {
            let mut h = http::HeaderMap::new();
            if let Some(v) = v {
                h.insert("grpc-encoding", HeaderValue::from_static(v));
            }
            response_encoding(&h)
        };
        assert_eq!(with(None).unwrap(), None);
        assert_eq!(with(Some("identity")).unwrap(), None);
        assert_eq!(with(Some("gzip")).unwrap(), Some(CompressionEncoding::Gzip));
        assert_eq!(with(Some("zstd")).unwrap(), Some(CompressionEncoding::Zstd));
        let err = with(Some("snappy")).unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented);
        assert!(err.message().contains("`snappy`"), "{err:?}");
    }

    /// The chunks are the prefix and the pieces in order; a large piece goes as it is (the
    /// same memory), small ones are gathered up to the threshold.
    #[test]
    fn frames_are_the_prefix_and_the_pieces_with_small_ones_gathered() {
        let piece = |n: usize, b: u8| Bytes::from(vec![b; n]);
        let large = piece(GATHER_BELOW, 9);
        let cases: Vec<Vec<Bytes>> = vec![
            vec![],
            vec![piece(10, 1)],
            vec![large.clone()],
            vec![piece(10, 1), large.clone(), piece(3, 2), Bytes::new()],
            (0..100).map(|i| piece(1000, i)).collect(),
            vec![
                large.clone(),
                large.clone(),
                piece(GATHER_BELOW - 1, 3),
                piece(1, 4),
            ],
        ];
        for pieces in cases {
            let len: usize = pieces.iter().map(Bytes::len).sum();
            let mut want = vec![0u8];
            want.extend_from_slice(&(len as u32).to_be_bytes());
            let out = frames(&want, &pieces);
            for p in &pieces {
                want.extend_from_slice(p);
            }
            let got: Vec<u8> = out.iter().flat_map(|b| b.iter().copied()).collect();
            assert_eq!(got, want, "{} pieces", pieces.len());
            assert!(out.iter().all(|b| !b.is_empty()));
            let large_sent = out.iter().filter(|b| b.as_ptr() == large.as_ptr()).count();
            let large_given = pieces
                .iter()
                .filter(|p| p.as_ptr() == large.as_ptr())
                .count();
            assert_eq!(large_sent, large_given);
            // small pieces gathered: a chunk under the threshold only ends the body or
            // comes before a large piece
            let short = out.iter().filter(|b| b.len() < GATHER_BELOW).count();
            assert!(
                short <= large_given + 1,
                "{:?}",
                out.iter().map(Bytes::len).collect::<Vec<_>>()
            );
        }
        // 100 pieces of 1000 bytes go out in 6 chunks (5 of 17 pieces), not 101
        let pieces: Vec<Bytes> = (0..100).map(|i| piece(1000, i)).collect();
        assert_eq!(frames(&[0, 0, 1, 0x86, 0xa0], &pieces).len(), 6);
        // without a prefix (an OTLP/HTTP body), the same
        assert_eq!(frames(&[], &pieces).len(), 6);
        assert!(frames(&[], &[]).is_empty());
    }
}
