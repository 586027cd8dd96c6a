//! The sink: an OTLP/gRPC and OTLP/HTTP receiver on loopback that counts what arrives
//! (items, requests, bytes, duplicate ids) without decoding it, answers `GET /stats` on its
//! HTTP port, and fails or slows down on command (`POST /control`) for backpressure tests.
//!
//! HTTP routes: `POST /v1/traces|metrics|logs` (protobuf or JSON, gzip, deflate, zstd,
//! snappy), `POST /loki/api/v1/push` (Loki's push API, protobuf; its entries counted as
//! logs), `POST /api/v1/write` (Prometheus remote write 1.0; its samples counted as
//! metrics, `target_info`'s left out), `GET /stats`, `POST /control {"mode":"ok"|"fail","delay_ms":N,"fail_after":N,
//! "fail_status":S}`, `POST /reset` (zero the counters), `POST /shutdown`.
//!
//! A request carrying the header `x-bench-branch: NAME` is counted under that branch too,
//! and its ids are deduplicated separately from other branches (a fan-out to three
//! exporters delivers every span three times, once per branch, without duplicates).

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::grpc::{LogsKind, MetricsKind, RawHandler, RawService, TraceKind, WireEncoding};
use crate::payload::Encoding;
use crate::wire;
use crate::wire::Body;
use crate::Signal;

/// The header naming a fan-out branch.
pub const BRANCH_HEADER: &str = "x-bench-branch";

#[derive(Debug, Clone)]
pub struct SinkOptions {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    /// Detect duplicate spans and log records (costs a hash set entry per item).
    pub dedup: bool,
    /// Stop tracking ids beyond this many (memory bound); duplicates are then undercounted
    /// and `dedup_saturated` says so.
    pub dedup_max: usize,
    /// Refuse everything from the start.
    pub fail: bool,
    /// Start refusing once this many items were accepted.
    pub fail_after: Option<u64>,
    /// The HTTP status of a refusal (503 → gRPC UNAVAILABLE, 429 → RESOURCE_EXHAUSTED,
    /// 400 → INVALID_ARGUMENT, anything else → INTERNAL).
    pub fail_status: u16,
    /// Wait this long before answering each request.
    pub delay: Duration,
    /// Largest accepted request (after decompression).
    pub max_message: usize,
    /// Stop by itself after this long.
    pub max_time: Option<Duration>,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            grpc: SocketAddr::from(([127, 0, 0, 1], 0)),
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            dedup: true,
            dedup_max: 200_000_000,
            fail: false,
            fail_after: None,
            fail_status: 503,
            delay: Duration::ZERO,
            max_message: 256 * 1024 * 1024,
            max_time: Some(Duration::from_secs(3600)),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    items: AtomicU64,
    requests: AtomicU64,
    bytes: AtomicU64,
    wire_bytes: AtomicU64,
    duplicates: AtomicU64,
    first_ms: AtomicU64,
    last_ms: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> SignalStats {
        SignalStats {
            items: self.items.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            wire_bytes: self.wire_bytes.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            first_ms: self.first_ms.load(Ordering::Relaxed),
            last_ms: self.last_ms.load(Ordering::Relaxed),
        }
    }

    fn reset(&self) {
        for c in [
            &self.items,
            &self.requests,
            &self.bytes,
            &self.wire_bytes,
            &self.duplicates,
            &self.first_ms,
            &self.last_ms,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Per signal: what was accepted.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalStats {
    pub items: u64,
    pub requests: u64,
    /// Message bytes (after decompression).
    pub bytes: u64,
    /// Bytes as received over HTTP (before decompression; gRPC does not report them).
    pub wire_bytes: u64,
    pub duplicates: u64,
    /// Unix milliseconds of the first and last accepted request (0 = none yet).
    pub first_ms: u64,
    pub last_ms: u64,
}

/// `GET /stats`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub traces: SignalStats,
    pub metrics: SignalStats,
    pub logs: SignalStats,
    /// Accepted items of every signal.
    pub items: u64,
    pub requests: u64,
    pub refused_requests: u64,
    pub refused_items: u64,
    pub invalid_requests: u64,
    pub mode: String,
    pub delay_ms: u64,
    pub fail_after: Option<u64>,
    pub fail_status: u16,
    pub dedup: bool,
    pub dedup_saturated: bool,
    /// Accepted items per `x-bench-branch`.
    pub branches: BTreeMap<String, u64>,
    /// Accepted requests per transfer encoding (`grpc-encoding` or `Content-Encoding`;
    /// `identity` = uncompressed).
    pub encodings: BTreeMap<String, u64>,
    pub uptime_ms: u64,
}

impl Stats {
    pub fn signal(&self, signal: Signal) -> &SignalStats {
        match signal {
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
            Signal::Logs => &self.logs,
        }
    }
}

/// `POST /control`: every field optional.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlUpdate {
    /// `ok` or `fail`.
    pub mode: Option<String>,
    pub delay_ms: Option<u64>,
    /// Start failing after this many accepted items in total; 0 turns it off.
    pub fail_after: Option<u64>,
    pub fail_status: Option<u16>,
}

#[derive(Debug, Clone)]
struct Control {
    fail: bool,
    delay: Duration,
    fail_after: Option<u64>,
    fail_status: u16,
}

/// Keys are already well mixed: hash them as they are.
#[derive(Default)]
struct PassHasher(u64);

impl Hasher for PassHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ *b as u64;
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type KeySet = HashSet<u64, BuildHasherDefault<PassHasher>>;

struct Dedup {
    set: KeySet,
    saturated: bool,
}

struct SinkState {
    opts: SinkOptions,
    traces: Counters,
    metrics: Counters,
    logs: Counters,
    refused_requests: AtomicU64,
    refused_items: AtomicU64,
    invalid_requests: AtomicU64,
    control: Mutex<Control>,
    dedup: Mutex<Dedup>,
    branches: Mutex<BTreeMap<String, u64>>,
    encodings: Mutex<BTreeMap<String, u64>>,
    started: Instant,
    shutdown: CancellationToken,
}

enum Outcome {
    Accepted,
    Refused(u16),
    Invalid(String),
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SinkState {
    fn counters(&self, signal: Signal) -> &Counters {
        match signal {
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
            Signal::Logs => &self.logs,
        }
    }

    fn total_items(&self) -> u64 {
        [&self.traces, &self.metrics, &self.logs]
            .iter()
            .map(|c| c.items.load(Ordering::Relaxed))
            .sum()
    }

    async fn accept(
        &self,
        signal: Signal,
        kind: Body,
        body: &[u8],
        wire_len: u64,
        branch: Option<&str>,
        transfer: &str,
    ) -> Outcome {
        let control = lock(&self.control).clone();
        if !control.delay.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(control.delay) => {}
                _ = self.shutdown.cancelled() => {}
            }
        }
        let scan = match wire::count(signal, kind, body, self.opts.dedup) {
            Ok(s) => s,
            Err(e) => {
                self.invalid_requests.fetch_add(1, Ordering::Relaxed);
                return Outcome::Invalid(e.to_string());
            }
        };
        let over = control
            .fail_after
            .is_some_and(|limit| self.total_items() >= limit);
        if control.fail || over {
            if over && !control.fail {
                lock(&self.control).fail = true;
            }
            self.refused_requests.fetch_add(1, Ordering::Relaxed);
            self.refused_items.fetch_add(scan.items, Ordering::Relaxed);
            return Outcome::Refused(control.fail_status);
        }
        let c = self.counters(signal);
        c.items.fetch_add(scan.items, Ordering::Relaxed);
        c.requests.fetch_add(1, Ordering::Relaxed);
        c.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        c.wire_bytes.fetch_add(wire_len, Ordering::Relaxed);
        let now = unix_ms();
        let _ = c
            .first_ms
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        c.last_ms.fetch_max(now, Ordering::Relaxed);
        let branch_hash = branch.map_or(0, |b| {
            let mut h = DefaultHasher::new();
            b.hash(&mut h);
            h.finish() | 1
        });
        *lock(&self.encodings)
            .entry(transfer.to_string())
            .or_default() += 1;
        if let Some(b) = branch {
            *lock(&self.branches).entry(b.to_string()).or_default() += scan.items;
        }
        if self.opts.dedup && !scan.keys.is_empty() {
            let mut d = lock(&self.dedup);
            let mut dups = 0;
            for k in scan.keys {
                if d.set.len() >= self.opts.dedup_max {
                    d.saturated = true;
                    if d.set.contains(&wire::branch_key(k, branch_hash)) {
                        dups += 1;
                    }
                } else if !d.set.insert(wire::branch_key(k, branch_hash)) {
                    dups += 1;
                }
            }
            drop(d);
            c.duplicates.fetch_add(dups, Ordering::Relaxed);
        }
        Outcome::Accepted
    }

    fn stats(&self) -> Stats {
        let control = lock(&self.control).clone();
        let (traces, metrics, logs) = (
            self.traces.snapshot(),
            self.metrics.snapshot(),
            self.logs.snapshot(),
        );
        Stats {
            items: traces.items + metrics.items + logs.items,
            requests: traces.requests + metrics.requests + logs.requests,
            traces,
            metrics,
            logs,
            refused_requests: self.refused_requests.load(Ordering::Relaxed),
            refused_items: self.refused_items.load(Ordering::Relaxed),
            invalid_requests: self.invalid_requests.load(Ordering::Relaxed),
            mode: if control.fail { "fail" } else { "ok" }.into(),
            delay_ms: control.delay.as_millis() as u64,
            fail_after: control.fail_after,
            fail_status: control.fail_status,
            dedup: self.opts.dedup,
            dedup_saturated: lock(&self.dedup).saturated,
            branches: lock(&self.branches).clone(),
            encodings: lock(&self.encodings).clone(),
            uptime_ms: self.started.elapsed().as_millis() as u64,
        }
    }

    fn reset(&self) {
        for c in [&self.traces, &self.metrics, &self.logs] {
            c.reset();
        }
        self.refused_requests.store(0, Ordering::Relaxed);
        self.refused_items.store(0, Ordering::Relaxed);
        self.invalid_requests.store(0, Ordering::Relaxed);
        let mut d = lock(&self.dedup);
        d.set = KeySet::default();
        d.saturated = false;
        drop(d);
        lock(&self.branches).clear();
        lock(&self.encodings).clear();
    }

    fn update(&self, u: ControlUpdate) -> Result<(), String> {
        let mut c = lock(&self.control);
        match u.mode.as_deref() {
            None => {}
            Some("ok") => c.fail = false,
            Some("fail") => c.fail = true,
            Some(other) => return Err(format!("mode must be \"ok\" or \"fail\", not {other:?}")),
        }
        if let Some(ms) = u.delay_ms {
            c.delay = Duration::from_millis(ms);
        }
        if let Some(n) = u.fail_after {
            c.fail_after = (n > 0).then_some(n);
        }
        if let Some(s) = u.fail_status {
            StatusCode::from_u16(s).map_err(|e| e.to_string())?;
            c.fail_status = s;
        }
        Ok(())
    }
}

fn grpc_refusal(status: u16) -> Status {
    let msg = "sink: refusing on command";
    match status {
        503 => Status::unavailable(msg),
        429 => Status::resource_exhausted(msg),
        400 => Status::invalid_argument(msg),
        _ => Status::internal(msg),
    }
}

impl RawHandler for SinkState {
    async fn handle(
        &self,
        signal: Signal,
        request: tonic::Request<Bytes>,
    ) -> Result<Bytes, Status> {
        let branch = request
            .metadata()
            .get(BRANCH_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let transfer = request
            .extensions()
            .get::<WireEncoding>()
            .map_or_else(|| "identity".to_string(), |e| e.0.clone());
        let body = request.into_inner();
        match self
            .accept(
                signal,
                Body::Otlp(Encoding::Proto),
                &body,
                0,
                branch.as_deref(),
                &transfer,
            )
            .await
        {
            // An empty Export*ServiceResponse encodes to no bytes.
            Outcome::Accepted => Ok(Bytes::new()),
            Outcome::Refused(s) => Err(grpc_refusal(s)),
            Outcome::Invalid(e) => Err(Status::invalid_argument(e)),
        }
    }
}

fn decompress(encoding: &str, body: &[u8], max: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let limit = max as u64 + 1;
    let res = match encoding {
        "gzip" | "x-gzip" => flate2::read::GzDecoder::new(body)
            .take(limit)
            .read_to_end(&mut out),
        "deflate" | "zlib" => {
            // Go's `deflate` is zlib-wrapped; accept raw deflate too.
            match flate2::read::ZlibDecoder::new(body)
                .take(limit)
                .read_to_end(&mut out)
            {
                Ok(n) => Ok(n),
                Err(_) => {
                    out.clear();
                    flate2::read::DeflateDecoder::new(body)
                        .take(limit)
                        .read_to_end(&mut out)
                }
            }
        }
        "zstd" => {
            zstd::stream::read::Decoder::new(body).and_then(|d| d.take(limit).read_to_end(&mut out))
        }
        "snappy" => {
            let n = snap::raw::decompress_len(body).map_err(|e| format!("snappy: {e}"))?;
            if n > max {
                return Err(format!("decompressed body larger than {max} bytes"));
            }
            return snap::raw::Decoder::new()
                .decompress_vec(body)
                .map_err(|e| format!("snappy: {e}"));
        }
        "x-snappy-framed" => snap::read::FrameDecoder::new(body)
            .take(limit)
            .read_to_end(&mut out),
        other => return Err(format!("unsupported Content-Encoding {other:?}")),
    };
    res.map_err(|e| format!("{encoding}: {e}"))?;
    if out.len() > max {
        return Err(format!("decompressed body larger than {max} bytes"));
    }
    Ok(out)
}

/// What an HTTP route receives.
#[derive(Clone, Copy)]
enum Route {
    /// OTLP/HTTP, protobuf or JSON by `Content-Type`.
    Otlp(Signal),
    /// Loki's push API: protobuf, snappy block-compressed without a `Content-Encoding`.
    LokiPush,
    /// Prometheus remote write 1.0: protobuf with `Content-Encoding: snappy`.
    RemoteWrite,
}

async fn http_export(
    state: Arc<SinkState>,
    route: Route,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    let (signal, kind, status, ctype, ok_body): (_, _, _, _, &'static [u8]) = match route {
        Route::Otlp(signal) if is_json => (
            signal,
            Body::Otlp(Encoding::Json),
            StatusCode::OK,
            "application/json",
            b"{}",
        ),
        Route::Otlp(signal) => (
            signal,
            Body::Otlp(Encoding::Proto),
            StatusCode::OK,
            "application/x-protobuf",
            b"",
        ),
        Route::LokiPush => (
            Signal::Logs,
            Body::LokiPush,
            StatusCode::NO_CONTENT,
            "text/plain",
            b"",
        ),
        Route::RemoteWrite => (
            Signal::Metrics,
            Body::RemoteWrite,
            StatusCode::NO_CONTENT,
            "text/plain",
            b"",
        ),
    };
    let content_encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty() && v != "identity")
        .or_else(|| matches!(route, Route::LokiPush).then(|| "snappy".to_string()));
    let decoded;
    let transfer = content_encoding
        .clone()
        .unwrap_or_else(|| "identity".to_string());
    let message: &[u8] = match content_encoding {
        None => &body,
        Some(ce) => match decompress(&ce, &body, state.opts.max_message) {
            Ok(d) => {
                decoded = d;
                &decoded
            }
            Err(e) => {
                state.invalid_requests.fetch_add(1, Ordering::Relaxed);
                return (StatusCode::BAD_REQUEST, e).into_response();
            }
        },
    };
    let branch = headers
        .get(BRANCH_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match state
        .accept(
            signal,
            kind,
            message,
            body.len() as u64,
            branch.as_deref(),
            &transfer,
        )
        .await
    {
        Outcome::Accepted => (status, [(header::CONTENT_TYPE, ctype)], ok_body).into_response(),
        Outcome::Refused(s) => (
            StatusCode::from_u16(s).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            "sink: refusing on command",
        )
            .into_response(),
        Outcome::Invalid(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

fn json_response<T: Serialize>(v: &T) -> Response {
    match serde_json::to_vec(v) {
        Ok(b) => ([(header::CONTENT_TYPE, "application/json")], b).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn router(state: Arc<SinkState>) -> Router {
    let export = |route: Route| {
        move |State(s): State<Arc<SinkState>>, headers: HeaderMap, body: Bytes| {
            http_export(s, route, headers, body)
        }
    };
    Router::new()
        .route("/v1/traces", post(export(Route::Otlp(Signal::Traces))))
        .route("/v1/metrics", post(export(Route::Otlp(Signal::Metrics))))
        .route("/v1/logs", post(export(Route::Otlp(Signal::Logs))))
        .route("/loki/api/v1/push", post(export(Route::LokiPush)))
        .route("/api/v1/write", post(export(Route::RemoteWrite)))
        .route(
            "/stats",
            get(|State(s): State<Arc<SinkState>>| async move { json_response(&s.stats()) }),
        )
        .route(
            "/control",
            post(|State(s): State<Arc<SinkState>>, body: Bytes| async move {
                let update: ControlUpdate = match serde_json::from_slice(&body) {
                    Ok(u) => u,
                    Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
                };
                match s.update(update) {
                    Ok(()) => json_response(&s.stats()),
                    Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
                }
            }),
        )
        .route(
            "/reset",
            post(|State(s): State<Arc<SinkState>>| async move {
                s.reset();
                json_response(&s.stats())
            }),
        )
        .route(
            "/shutdown",
            post(|State(s): State<Arc<SinkState>>| async move {
                s.shutdown.cancel();
                "stopping\n"
            }),
        )
        .layer(DefaultBodyLimit::max(state.opts.max_message))
        .with_state(state)
}

/// A running sink.
pub struct Sink {
    state: Arc<SinkState>,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Sink {
    /// Bind both listeners and serve until [`Sink::stop`], `POST /shutdown` or `max_time`.
    pub async fn start(opts: SinkOptions) -> anyhow::Result<Sink> {
        use tokio_stream::StreamExt;
        anyhow::ensure!(
            opts.grpc.ip().is_loopback() && opts.http.ip().is_loopback(),
            "the sink listens on loopback addresses only"
        );
        let grpc_listener = tokio::net::TcpListener::bind(opts.grpc)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", opts.grpc))?;
        let http_listener = tokio::net::TcpListener::bind(opts.http)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", opts.http))?;
        let grpc_addr = grpc_listener.local_addr()?;
        let http_addr = http_listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let state = Arc::new(SinkState {
            control: Mutex::new(Control {
                fail: opts.fail,
                delay: opts.delay,
                fail_after: opts.fail_after.filter(|n| *n > 0),
                fail_status: opts.fail_status,
            }),
            dedup: Mutex::new(Dedup {
                set: KeySet::default(),
                saturated: false,
            }),
            opts: opts.clone(),
            traces: Counters::default(),
            metrics: Counters::default(),
            logs: Counters::default(),
            refused_requests: AtomicU64::new(0),
            refused_items: AtomicU64::new(0),
            invalid_requests: AtomicU64::new(0),
            branches: Mutex::new(BTreeMap::new()),
            encodings: Mutex::new(BTreeMap::new()),
            started: Instant::now(),
            shutdown: shutdown.clone(),
        });
        let mut tasks = Vec::new();

        let incoming = tokio_stream::wrappers::TcpListenerStream::new(grpc_listener).map(|s| {
            s.inspect(|s| {
                let _ = s.set_nodelay(true);
            })
        });
        let max = opts.max_message;
        let grpc = tonic::transport::Server::builder()
            .initial_stream_window_size(Some(4 * 1024 * 1024))
            .initial_connection_window_size(Some(16 * 1024 * 1024))
            .add_service(RawService::<TraceKind, _>::new(state.clone(), max))
            .add_service(RawService::<MetricsKind, _>::new(state.clone(), max))
            .add_service(RawService::<LogsKind, _>::new(state.clone(), max))
            .serve_with_incoming_shutdown(incoming, shutdown.clone().cancelled_owned());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = grpc.await {
                eprintln!("sink: gRPC server failed: {e}");
            }
        }));

        use axum::serve::ListenerExt;
        let http_listener = http_listener.tap_io(|s| {
            let _ = s.set_nodelay(true);
        });
        let app = router(state.clone());
        let token = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let serve =
                axum::serve(http_listener, app).with_graceful_shutdown(token.cancelled_owned());
            if let Err(e) = serve.await {
                eprintln!("sink: HTTP server failed: {e}");
            }
        }));

        if let Some(max_time) = opts.max_time {
            let token = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(max_time) => token.cancel(),
                    _ = token.cancelled() => {}
                }
            }));
        }
        Ok(Sink {
            state,
            grpc_addr,
            http_addr,
            tasks,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    pub fn control(&self, update: ControlUpdate) -> Result<(), String> {
        self.state.update(update)
    }

    pub fn reset(&self) {
        self.state.reset()
    }

    /// Fires when the sink is asked to stop (or its `max_time` passed).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.state.shutdown.clone()
    }

    /// Serve until stopped, then wait for the servers to finish (at most 10 s more).
    pub async fn wait(self) -> Stats {
        self.state.shutdown.cancelled().await;
        self.finish().await
    }

    /// Stop now and wait for the servers to finish (at most 10 s).
    pub async fn stop(self) -> Stats {
        self.state.shutdown.cancel();
        self.finish().await
    }

    async fn finish(self) -> Stats {
        let all = futures_join(self.tasks);
        let _ = tokio::time::timeout(Duration::from_secs(10), all).await;
        self.state.stats()
    }
}

async fn futures_join(tasks: Vec<JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}
