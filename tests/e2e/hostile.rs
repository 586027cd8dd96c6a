//! Hostile clients against every listener of one running collector: OTLP gRPC and HTTP, own
//! metrics, `health_check`, `pprof`, `zpages`, and the `zipkin`, `jaeger` (gRPC and
//! `thrift_http`) and `loki` (HTTP and gRPC) receivers. Each attack (oversized headers and
//! bodies, slowloris headers, stalled bodies, silent connections by the hundred, HTTP/2
//! stream floods) must meet a limit with a clear status, while a normal client keeps being
//! served and the collector's memory stays bounded. Loopback only; each attack lasts
//! seconds. docs/security.md lists the limits.

use std::time::{Duration, Instant};

use bench::grpc::RawCodec;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{metric_value, try_http_get, Collector};

/// The body and message limit the receivers are configured with (1 MiB).
const LIMIT: usize = 1 << 20;

const OTLP_TRACES: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const JAEGER_POST_SPANS: &str = "/jaeger.api_v2.CollectorService/PostSpans";
const LOKI_PUSH: &str = "/logproto.Pusher/Push";

/// The HTTP receivers as their counters name them: (receiver, transport).
const HTTP_RECEIVERS: [(&str, &str); 4] = [
    ("otlp", "http"),
    ("zipkin", "http"),
    ("jaeger", "collector_http"),
    ("loki", "http"),
];

struct Listeners {
    otlp_grpc: u16,
    otlp_http: u16,
    metrics: u16,
    health: u16,
    pprof: u16,
    zpages: u16,
    zipkin: u16,
    jaeger_grpc: u16,
    jaeger_http: u16,
    loki_http: u16,
    loki_grpc: u16,
}

/// The HTTP/1 listeners that take data: (name, port, path).
fn data_http(l: &Listeners) -> Vec<(&'static str, u16, &'static str)> {
    vec![
        ("otlp http", l.otlp_http, "/v1/traces"),
        ("zipkin", l.zipkin, "/api/v2/spans"),
        ("jaeger thrift_http", l.jaeger_http, "/api/traces"),
        ("loki http", l.loki_http, "/loki/api/v1/push"),
    ]
}

/// The runtime's small HTTP servers: (name, port, path).
fn small_http(l: &Listeners) -> Vec<(&'static str, u16, &'static str)> {
    vec![
        ("own metrics", l.metrics, "/metrics"),
        ("health_check", l.health, "/"),
        ("pprof", l.pprof, "/debug/pprof/"),
        ("zpages", l.zpages, "/debug/servicez"),
    ]
}

/// The gRPC listeners: (name, port, method path, message limit).
fn grpc(l: &Listeners) -> Vec<(&'static str, u16, &'static str, usize)> {
    vec![
        ("otlp grpc", l.otlp_grpc, OTLP_TRACES, 4 << 20),
        ("jaeger grpc", l.jaeger_grpc, JAEGER_POST_SPANS, LIMIT),
        ("loki grpc", l.loki_grpc, LOKI_PUSH, LIMIT),
    ]
}

/// Every receiver listening, with a 1 s header timeout, 1 MiB bodies and messages (Go's
/// 4 MiB on OTLP gRPC) and 16 streams per gRPC connection.
fn start(name: &str) -> (Collector, Listeners) {
    // eleven distinct ports: held together while chosen
    let held: Vec<std::net::TcpListener> = (0..11)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let p: Vec<u16> = held
        .iter()
        .map(|h| h.local_addr().expect("addr").port())
        .collect();
    drop(held);
    let l = Listeners {
        otlp_grpc: p[0],
        otlp_http: p[1],
        metrics: p[2],
        health: p[3],
        pprof: p[4],
        zpages: p[5],
        zipkin: p[6],
        jaeger_grpc: p[7],
        jaeger_http: p[8],
        loki_http: p[9],
        loki_grpc: p[10],
    };
    let http = format!("read_header_timeout: 1s, max_request_body_size: {LIMIT}");
    let grpc = "max_recv_msg_size_mib: 1, max_concurrent_streams: 16";
    let config = format!(
        "extensions:
  health_check: {{endpoint: 127.0.0.1:{health}}}
  pprof: {{endpoint: 127.0.0.1:{pprof}}}
  zpages: {{endpoint: 127.0.0.1:{zpages}}}
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: 127.0.0.1:{otlp_grpc}, max_concurrent_streams: 16}}
      http: {{endpoint: 127.0.0.1:{otlp_http}, {http}}}
  zipkin: {{endpoint: 127.0.0.1:{zipkin}, {http}}}
  jaeger:
    protocols:
      grpc: {{endpoint: 127.0.0.1:{jaeger_grpc}, {grpc}}}
      thrift_http: {{endpoint: 127.0.0.1:{jaeger_http}, {http}}}
  loki:
    protocols:
      http: {{endpoint: 127.0.0.1:{loki_http}, {http}}}
      grpc: {{endpoint: 127.0.0.1:{loki_grpc}, {grpc}}}
exporters:
  nop:
service:
  extensions: [health_check, pprof, zpages]
  telemetry: {{metrics: {{address: 127.0.0.1:{metrics}}}}}
  pipelines:
    traces: {{receivers: [otlp, zipkin, jaeger], exporters: [nop]}}
    logs: {{receivers: [otlp, loki], exporters: [nop]}}
",
        health = l.health,
        pprof = l.pprof,
        zpages = l.zpages,
        otlp_grpc = l.otlp_grpc,
        otlp_http = l.otlp_http,
        zipkin = l.zipkin,
        jaeger_grpc = l.jaeger_grpc,
        jaeger_http = l.jaeger_http,
        loki_http = l.loki_http,
        loki_grpc = l.loki_grpc,
        metrics = l.metrics,
    );
    (Collector::start(name, &config), l)
}

/// The collector's resident memory, in bytes.
fn rss(c: &Collector) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", c.pid())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn over_limit(l: &Listeners, receiver: &str, transport: &str, limit: &str) -> f64 {
    let (_, text) = try_http_get(&format!("http://127.0.0.1:{}/metrics", l.metrics))
        .expect("own metrics answer");
    metric_value(
        &text,
        "otelcol_receiver_requests_over_limit",
        &[
            ("receiver", receiver),
            ("transport", transport),
            ("limit", limit),
        ],
    )
    .unwrap_or(0.0)
}

// ---------------------------------------------------------------------------------------
// HTTP/1 over a raw socket

async fn connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect")
}

/// The status of the first response on `s` (0 if the connection closed without one),
/// waiting at most `within`.
async fn read_status(s: &mut TcpStream, within: Duration) -> u16 {
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            return head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
        }
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return 0,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => panic!("no answer within {within:?}"),
        }
    }
}

/// Whether the server closes `s` within `within` (reading and dropping what it sends).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// How many of `streams` the server closes within `within` (all watched at once).
async fn count_closed(streams: Vec<TcpStream>, within: Duration) -> usize {
    let mut watch = tokio::task::JoinSet::new();
    for mut s in streams {
        watch.spawn(async move { closed_within(&mut s, within).await });
    }
    let mut closed = 0;
    while let Some(r) = watch.join_next().await {
        closed += usize::from(r.unwrap_or(false));
    }
    closed
}

/// A well-behaved request on a fresh connection: its status.
async fn normal_request(port: u16, method: &str, path: &str, content_type: &str) -> u16 {
    let mut s = connect(port).await;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.expect("write");
    read_status(&mut s, Duration::from_secs(10)).await
}

/// A normal OTLP/HTTP export (an empty request is a valid one): 200.
async fn otlp_http_ok(l: &Listeners) {
    let status = normal_request(l.otlp_http, "POST", "/v1/traces", "application/x-protobuf").await;
    assert_eq!(status, 200, "a normal OTLP/HTTP client was not served");
}

// ---------------------------------------------------------------------------------------
// gRPC through tonic, messages as bytes (the bench crate's codec)

/// One unary call with `message` as the request; the status code (Ok for success).
async fn grpc_call(port: u16, path: &'static str, message: Bytes) -> tonic::Code {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("gRPC connect");
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.expect("ready");
    let path = http::uri::PathAndQuery::from_static(path);
    match client
        .unary(tonic::Request::new(message), path, RawCodec)
        .await
    {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    }
}

/// A normal OTLP/gRPC export (an empty request): OK.
async fn otlp_grpc_ok(l: &Listeners) {
    let code = grpc_call(l.otlp_grpc, OTLP_TRACES, Bytes::new()).await;
    assert_eq!(
        code,
        tonic::Code::Ok,
        "a normal OTLP/gRPC client was not served"
    );
}

// ---------------------------------------------------------------------------------------
// HTTP/2 frames over a raw socket (a client that ignores the server's limits)

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(9 + payload.len());
    let len = payload.len() as u32;
    f.extend_from_slice(&len.to_be_bytes()[1..]);
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An HPACK integer with an `n`-bit prefix, the prefix's other bits in `first`.
fn hpack_int(out: &mut Vec<u8>, first: u8, n: u32, mut v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(first | v as u8);
        return;
    }
    out.push(first | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

/// A header block of literal fields (never indexed, no Huffman).
fn hpack(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.push(0x10);
        hpack_int(&mut out, 0, 7, name.len());
        out.extend_from_slice(name.as_bytes());
        hpack_int(&mut out, 0, 7, value.len());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

fn grpc_headers(path: &str) -> Vec<u8> {
    hpack(&[
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "127.0.0.1"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ])
}

struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

/// Read one frame, or None when the connection ends or `deadline` passes.
async fn read_frame(s: &mut TcpStream, deadline: tokio::time::Instant) -> Option<Frame> {
    let mut head = [0u8; 9];
    tokio::time::timeout_at(deadline, s.read_exact(&mut head))
        .await
        .ok()?
        .ok()?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    tokio::time::timeout_at(deadline, s.read_exact(&mut payload))
        .await
        .ok()?
        .ok()?;
    Some(Frame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5] & 0x7f, head[6], head[7], head[8]]),
        payload,
    })
}

/// Open an HTTP/2 connection: preface, our empty SETTINGS, the server's SETTINGS
/// acknowledged. Returns the server's SETTINGS_MAX_CONCURRENT_STREAMS, if it sent one.
async fn h2_open(port: u16) -> (TcpStream, Option<u32>) {
    let mut s = connect(port).await;
    s.write_all(PREFACE).await.expect("preface");
    s.write_all(&frame(0x4, 0, 0, &[])).await.expect("settings");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let f = read_frame(&mut s, deadline)
            .await
            .expect("the server's SETTINGS");
        if f.kind == 0x4 && f.flags & 0x1 == 0 {
            let max = f
                .payload
                .chunks_exact(6)
                .find(|c| u16::from_be_bytes([c[0], c[1]]) == 0x3)
                .map(|c| u32::from_be_bytes([c[2], c[3], c[4], c[5]]));
            s.write_all(&frame(0x4, 0x1, 0, &[])).await.expect("ack");
            return (s, max);
        }
    }
}

/// Open `n` streams at once (headers, no body) on one connection, without waiting for the
/// server's leave; how many the server refused with RST_STREAM(REFUSED_STREAM).
async fn h2_stream_flood(port: u16, path: &str, n: u32) -> (Option<u32>, u32) {
    let (mut s, advertised) = h2_open(port).await;
    let block = grpc_headers(path);
    let mut all = Vec::new();
    for i in 0..n {
        // END_HEADERS, not END_STREAM: each stream waits for a body that never comes
        all.extend(frame(0x1, 0x4, 1 + 2 * i, &block));
    }
    s.write_all(&all).await.expect("headers");
    let mut refused = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Some(f) = read_frame(&mut s, deadline).await {
        if f.kind == 0x3 && f.payload == 7u32.to_be_bytes() {
            refused += 1;
        }
        if f.kind == 0x7 {
            break; // GOAWAY
        }
    }
    (advertised, refused)
}

// ---------------------------------------------------------------------------------------
// the attacks

/// A header block over every server's limit (hyper's ~400 KB buffered head; Go's 1 MB
/// `MaxHeaderBytes` gives 431 too): 431 on every HTTP/1 listener; over HTTP/2, a header
/// list over 16 KiB gets 431 on its stream and the connection keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_oversized_headers_get_431() {
    let (c, l) = start("hostile-headers");
    let big = "a".repeat(600 * 1024);
    for (name, port, path) in data_http(&l).into_iter().chain(small_http(&l)) {
        let mut s = connect(port).await;
        let req = format!("POST {path} HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
        // the server may answer and close before it has read it all
        let _ = s.write_all(req.as_bytes()).await;
        let status = read_status(&mut s, Duration::from_secs(5)).await;
        assert_eq!(status, 431, "{name}: oversized headers");
    }
    // HTTP/2: a 32 KiB header list, split over HEADERS and CONTINUATION frames
    for (name, port, path, _) in grpc(&l) {
        let (mut s, _) = h2_open(port).await;
        let mut block = grpc_headers(path);
        block.extend(hpack(&[("x-big", &"b".repeat(32 * 1024))]));
        let mut chunks = block.chunks(16_000).peekable();
        let first = chunks.next().expect("a block");
        let end = |last: bool| if last { 0x4 } else { 0 };
        s.write_all(&frame(0x1, end(chunks.peek().is_none()), 1, first))
            .await
            .expect("headers");
        while let Some(chunk) = chunks.next() {
            s.write_all(&frame(0x9, end(chunks.peek().is_none()), 1, chunk))
                .await
                .expect("continuation");
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut status_431 = false;
        while let Some(f) = read_frame(&mut s, deadline).await {
            // `:status: 431` as the server writes it: the digits plain or Huffman-coded
            let p = &f.payload;
            if f.kind == 0x1
                && f.stream == 1
                && (p.windows(3).any(|w| w == b"431")
                    || p.windows(3).any(|w| w == [0x69, 0x90, 0xff]))
            {
                status_431 = true;
                break;
            }
        }
        assert!(status_431, "{name}: no 431 for a 32 KiB header list");
    }
    otlp_http_ok(&l).await;
    otlp_grpc_ok(&l).await;
    for (name, port, path) in small_http(&l) {
        let (status, _) = try_http_get(&format!("http://127.0.0.1:{port}{path}"))
            .unwrap_or_else(|| panic!("{name} answers after the attack"));
        assert_eq!(status, 200, "{name}");
    }
    c.stop();
}

/// Bodies and messages over the limit: 413 over HTTP (as declared, or as sent), and
/// RESOURCE_EXHAUSTED over gRPC, each counted; memory does not grow by the bodies' size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_oversized_bodies_get_413_and_resource_exhausted() {
    let (c, l) = start("hostile-bodies");
    let before = rss(&c);
    for (name, port, path) in data_http(&l) {
        // declared far over the limit, and never sent
        let mut s = connect(port).await;
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
            1u64 << 30
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let _ = s.write_all(&vec![b'x'; 64 * 1024]).await;
        let status = read_status(&mut s, Duration::from_secs(10)).await;
        assert_eq!(status, 413, "{name}: a 1 GiB Content-Length");
        // chunked, sent for real, one chunk past the limit: read, counted, refused
        let mut s = connect(port).await;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.expect("write");
        let (mut rd, mut wr) = s.into_split();
        let writer = tokio::spawn(async move {
            let chunk = vec![b'x'; 64 * 1024];
            let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
            framed.extend_from_slice(&chunk);
            framed.extend_from_slice(b"\r\n");
            for _ in 0..(2 * LIMIT / chunk.len()) {
                if wr.write_all(&framed).await.is_err() {
                    break;
                }
            }
            let _ = wr.write_all(b"0\r\n\r\n").await;
            wr
        });
        let mut buf = Vec::new();
        let mut piece = [0u8; 1024];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match tokio::time::timeout_at(deadline, rd.read(&mut piece)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&piece[..n]),
                _ => break,
            }
        }
        let head = String::from_utf8_lossy(&buf).into_owned();
        assert!(
            head.starts_with("HTTP/1.1 413"),
            "{name}: a 2 MiB chunked body: {head:?}"
        );
        drop(rd);
        let _ = writer.await;
    }
    for (name, port, path, limit) in grpc(&l) {
        let message = Bytes::from(vec![0u8; limit + 1024]);
        let code = grpc_call(port, path, message).await;
        assert_eq!(
            code,
            tonic::Code::ResourceExhausted,
            "{name}: a message over the limit"
        );
    }
    // the small servers do not read a body they have no use for
    for (name, port, path) in small_http(&l) {
        let mut s = connect(port).await;
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            1u64 << 30
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let status = read_status(&mut s, Duration::from_secs(5)).await;
        assert!(
            (200..500).contains(&status),
            "{name}: a 1 GiB body is answered without being read: {status}"
        );
    }
    otlp_http_ok(&l).await;
    otlp_grpc_ok(&l).await;
    for (receiver, transport) in HTTP_RECEIVERS {
        assert!(
            over_limit(&l, receiver, transport, "max_request_body_size") >= 2.0,
            "{receiver}/{transport}: refusals for max_request_body_size not counted"
        );
    }
    for receiver in ["otlp", "jaeger", "loki"] {
        assert!(
            over_limit(&l, receiver, "grpc", "max_recv_msg_size_mib") >= 1.0,
            "{receiver}/grpc: refusals for max_recv_msg_size_mib not counted"
        );
    }
    let after = rss(&c);
    assert!(
        after < before + 64 * 1024 * 1024,
        "resident memory grew from {before} to {after} bytes"
    );
    c.stop();
}

/// Headers trickled a byte at a time, and bodies that stop coming: the header timeout
/// (`read_header_timeout`, 1 s here) closes the first, and answers the second with 408,
/// counted; a normal client is served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_slowloris_and_stalled_bodies_are_cut_off() {
    let (c, l) = start("hostile-slow");
    let mut slow = Vec::new();
    let mut stalled = Vec::new();
    for (name, port, path) in data_http(&l) {
        let mut s = connect(port).await;
        s.write_all(format!("POST {path} HTTP/1.1\r\nHost: x\r\n").as_bytes())
            .await
            .expect("write");
        slow.push((name, s));
        let mut s = connect(port).await;
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n0123456789"
        );
        s.write_all(req.as_bytes()).await.expect("write");
        stalled.push((name, s));
    }
    // keep trickling header bytes for longer than the timeout, serving a normal client
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(2500) {
        for (_, s) in &mut slow {
            let _ = s.write_all(b"x").await;
        }
        otlp_http_ok(&l).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (name, s) in &mut slow {
        assert!(
            closed_within(s, Duration::from_secs(3)).await,
            "{name}: a slowloris connection was kept open past the header timeout"
        );
    }
    for (name, s) in &mut stalled {
        let status = read_status(s, Duration::from_secs(5)).await;
        assert_eq!(status, 408, "{name}: a stalled body");
    }
    for (receiver, transport) in HTTP_RECEIVERS {
        assert!(
            over_limit(&l, receiver, transport, "read_timeout") >= 1.0,
            "{receiver}/{transport}: the stalled body was not counted"
        );
    }
    otlp_grpc_ok(&l).await;
    c.stop();
}

/// Hundreds of connections that never send a byte: on the data HTTP listeners they are
/// closed at the header timeout; on gRPC they are held (grpc-go's 120 s connection timeout)
/// while normal clients are served; the small servers keep at most 256 and close the rest
/// at once. Memory stays bounded throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_idle_connection_floods_are_bounded() {
    let (c, l) = start("hostile-idle");
    let before = rss(&c);
    let mut http_idle = Vec::new();
    for (_, port, _) in data_http(&l) {
        for _ in 0..150 {
            http_idle.push(connect(port).await);
        }
    }
    let mut grpc_idle = Vec::new();
    for (_, port, _, _) in grpc(&l) {
        for _ in 0..150 {
            grpc_idle.push(connect(port).await);
        }
    }
    let mut metrics_idle: Vec<TcpStream> = Vec::new();
    for _ in 0..300 {
        metrics_idle.push(connect(l.metrics).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = rss(&c);
    // normal clients are served during the flood
    otlp_grpc_ok(&l).await;
    otlp_http_ok(&l).await;
    for (name, port, path, _) in grpc(&l).into_iter().skip(1) {
        // an empty message is a valid request of either API
        let code = grpc_call(port, path, Bytes::new()).await;
        assert_eq!(code, tonic::Code::Ok, "{name} during the flood");
    }
    // the small server closed what it could not take, at once
    let closed = count_closed(
        std::mem::take(&mut metrics_idle),
        Duration::from_millis(200),
    )
    .await;
    assert!(
        closed >= 300 - 256,
        "own metrics: {closed} of 300 idle connections closed"
    );
    // every silent HTTP connection is closed at the header timeout
    let n = http_idle.len();
    let closed = count_closed(http_idle, Duration::from_secs(4)).await;
    assert_eq!(
        closed, n,
        "silent HTTP connections kept past the header timeout"
    );
    assert!(
        during < before + 64 * 1024 * 1024,
        "resident memory grew from {before} to {during} bytes with 1,200 idle connections"
    );
    drop(grpc_idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = try_http_get(&format!("http://127.0.0.1:{}/metrics", l.metrics))
        .expect("own metrics after the flood");
    assert_eq!(status, 200);
    c.stop();
}

/// More streams on one HTTP/2 connection than allowed, opened at once by a client that
/// ignores the server's SETTINGS: the streams past `max_concurrent_streams` (16 here; 200,
/// hyper's, on OTLP/HTTP over h2c) are refused with RST_STREAM(REFUSED_STREAM), and the
/// server keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_http2_stream_floods_are_refused() {
    let (c, l) = start("hostile-streams");
    for (name, port, path, _) in grpc(&l) {
        let (advertised, refused) = h2_stream_flood(port, path, 40).await;
        assert_eq!(
            advertised,
            Some(16),
            "{name}: SETTINGS_MAX_CONCURRENT_STREAMS"
        );
        assert_eq!(refused, 40 - 16, "{name}: streams refused past the limit");
    }
    let (advertised, refused) = h2_stream_flood(l.otlp_http, "/v1/traces", 260).await;
    assert_eq!(advertised, Some(200), "otlp http (h2c)");
    assert_eq!(
        refused, 60,
        "otlp http (h2c): streams refused past the limit"
    );
    otlp_grpc_ok(&l).await;
    otlp_http_ok(&l).await;
    c.stop();
}
