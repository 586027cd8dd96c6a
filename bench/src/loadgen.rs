//! The load generator: sends pre-encoded OTLP export requests over gRPC or HTTP from N
//! concurrent workers, at a fixed rate or as fast as the receiver answers, until a duration
//! or a count is reached (and never longer than `max_time`), and reports what happened.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::grpc::{export_path, RawCodec};
use crate::histogram::Histogram;
use crate::payload::{Encoding, Shape, Template};
use crate::Signal;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// OTLP/gRPC (protobuf).
    Grpc,
    /// OTLP/HTTP with protobuf bodies.
    HttpProto,
    /// OTLP/HTTP with JSON bodies.
    HttpJson,
}

impl Protocol {
    pub fn encoding(self) -> Encoding {
        match self {
            Protocol::HttpJson => Encoding::Json,
            _ => Encoding::Proto,
        }
    }

    pub fn default_endpoint(self) -> &'static str {
        match self {
            Protocol::Grpc => "http://127.0.0.1:4317",
            _ => "http://127.0.0.1:4318",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `http://host:port` (gRPC) or the OTLP/HTTP base URL (`/v1/<signal>` is appended).
    pub endpoint: Option<String>,
    pub protocol: Protocol,
    pub shape: Shape,
    /// Items per second over all workers; 0 = as fast as the receiver answers.
    pub rate: f64,
    /// Stop sending after this long.
    pub duration: Option<Duration>,
    /// Stop after this many items (rounded up to whole requests).
    pub count: Option<u64>,
    /// Connections (gRPC channels, HTTP clients).
    pub connections: usize,
    /// Requests in flight per connection.
    pub streams: usize,
    /// Per request.
    pub timeout: Duration,
    /// A hard bound on sending, whatever `duration` and `count` say.
    pub max_time: Duration,
    pub compression: Compression,
    /// Extra request headers (gRPC metadata).
    pub headers: Vec<(String, String)>,
    /// HTTP/2 without TLS (prior knowledge) instead of HTTP/1.1, for the HTTP protocols.
    pub http2: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            endpoint: None,
            protocol: Protocol::Grpc,
            shape: Shape::default(),
            rate: 0.0,
            duration: None,
            count: None,
            connections: 4,
            streams: 1,
            timeout: Duration::from_secs(10),
            max_time: Duration::from_secs(300),
            compression: Compression::None,
            headers: Vec::new(),
            http2: false,
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub sent: u64,
    pub acknowledged: u64,
    pub refused: u64,
    pub failed: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub signal: Signal,
    pub protocol: Protocol,
    pub endpoint: String,
    pub connections: usize,
    pub streams: usize,
    pub items_per_request: usize,
    pub bytes_per_request: usize,
    pub elapsed_s: f64,
    pub requests: Counts,
    pub items: Counts,
    /// Acknowledged items per second.
    pub rate: f64,
    /// Sent items per second.
    pub send_rate: f64,
    /// Request bytes (before compression) sent per second, in MB/s.
    pub mb_per_s: f64,
    /// Request latency in milliseconds.
    pub latency_ms: Latency,
    /// Why requests were refused or failed, with counts (at most 20 distinct reasons).
    pub errors: BTreeMap<String, u64>,
}

impl Report {
    pub fn text(&self) -> String {
        let mut s = format!(
            "loadgen: {:?} over {:?} to {}, {} connections x {} streams, {} items ({} bytes) per request\n",
            self.signal,
            self.protocol,
            self.endpoint,
            self.connections,
            self.streams,
            self.items_per_request,
            self.bytes_per_request
        );
        s += &format!(
            "elapsed {:.2} s; requests: sent {}, ok {}, refused {}, failed {}\n",
            self.elapsed_s,
            self.requests.sent,
            self.requests.acknowledged,
            self.requests.refused,
            self.requests.failed
        );
        s += &format!(
            "items: sent {}, acknowledged {}, refused {}, failed {}\n",
            self.items.sent, self.items.acknowledged, self.items.refused, self.items.failed
        );
        s += &format!(
            "rate: {:.0} items/s acknowledged ({:.0} sent/s, {:.1} MB/s)\n",
            self.rate, self.send_rate, self.mb_per_s
        );
        s += &format!(
            "latency ms: p50 {:.2}, p90 {:.2}, p99 {:.2}, max {:.2}\n",
            self.latency_ms.p50, self.latency_ms.p90, self.latency_ms.p99, self.latency_ms.max
        );
        for (e, n) in &self.errors {
            s += &format!("  {n} x {e}\n");
        }
        s
    }
}

enum Outcome {
    Ok { rejected: u64 },
    Refused(String),
    Failed(String),
}

enum Client {
    Grpc {
        grpc: tonic::client::Grpc<Channel>,
        path: http::uri::PathAndQuery,
        headers: Vec<(
            tonic::metadata::AsciiMetadataKey,
            tonic::metadata::AsciiMetadataValue,
        )>,
    },
    Http {
        client: hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>,
        uri: http::Uri,
        content_type: &'static str,
        gzip: bool,
        headers: Vec<(http::HeaderName, http::HeaderValue)>,
    },
}

fn rejected(signal: Signal, encoding: Encoding, body: &[u8]) -> Result<u64, String> {
    if body.is_empty() {
        return Ok(0);
    }
    let n = match (signal, encoding) {
        (Signal::Traces, Encoding::Proto) => ExportTraceServiceResponse::decode(body)
            .map_err(|e| e.to_string())?
            .partial_success
            .map_or(0, |p| p.rejected_spans),
        (Signal::Logs, Encoding::Proto) => ExportLogsServiceResponse::decode(body)
            .map_err(|e| e.to_string())?
            .partial_success
            .map_or(0, |p| p.rejected_log_records),
        (Signal::Metrics, Encoding::Proto) => ExportMetricsServiceResponse::decode(body)
            .map_err(|e| e.to_string())?
            .partial_success
            .map_or(0, |p| p.rejected_data_points),
        (Signal::Traces, Encoding::Json) => {
            serde_json::from_slice::<ExportTraceServiceResponse>(body)
                .map_err(|e| e.to_string())?
                .partial_success
                .map_or(0, |p| p.rejected_spans)
        }
        (Signal::Logs, Encoding::Json) => serde_json::from_slice::<ExportLogsServiceResponse>(body)
            .map_err(|e| e.to_string())?
            .partial_success
            .map_or(0, |p| p.rejected_log_records),
        (Signal::Metrics, Encoding::Json) => {
            serde_json::from_slice::<ExportMetricsServiceResponse>(body)
                .map_err(|e| e.to_string())?
                .partial_success
                .map_or(0, |p| p.rejected_data_points)
        }
    };
    Ok(n.max(0) as u64)
}

fn gzip(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default()
}

impl Client {
    async fn send(&mut self, signal: Signal, body: Bytes) -> Outcome {
        match self {
            Client::Grpc {
                grpc,
                path,
                headers,
            } => {
                if let Err(e) = grpc.ready().await {
                    return Outcome::Failed(format!("gRPC channel not ready: {e}"));
                }
                let mut req = tonic::Request::new(body);
                for (k, v) in headers.iter() {
                    req.metadata_mut().insert(k.clone(), v.clone());
                }
                match grpc.unary(req, path.clone(), RawCodec).await {
                    Ok(resp) => match rejected(signal, Encoding::Proto, resp.get_ref()) {
                        Ok(r) => Outcome::Ok { rejected: r },
                        Err(e) => Outcome::Failed(format!("undecodable response: {e}")),
                    },
                    Err(status) => {
                        let what = format!("gRPC {:?}", status.code());
                        match status.code() {
                            tonic::Code::Unavailable | tonic::Code::ResourceExhausted => {
                                Outcome::Refused(what)
                            }
                            _ => {
                                let msg: String = status.message().chars().take(120).collect();
                                Outcome::Failed(format!("{what}: {msg}"))
                            }
                        }
                    }
                }
            }
            Client::Http {
                client,
                uri,
                content_type,
                gzip: compress,
                headers,
            } => {
                let mut builder = http::Request::post(uri.clone())
                    .header(http::header::CONTENT_TYPE, *content_type);
                for (k, v) in headers.iter() {
                    builder = builder.header(k, v);
                }
                let body = if *compress {
                    builder = builder.header(http::header::CONTENT_ENCODING, "gzip");
                    Bytes::from(gzip(&body))
                } else {
                    body
                };
                let req = match builder.body(Full::new(body)) {
                    Ok(r) => r,
                    Err(e) => return Outcome::Failed(format!("bad request: {e}")),
                };
                let resp = match client.request(req).await {
                    Ok(r) => r,
                    Err(e) => return Outcome::Failed(format!("HTTP error: {e}")),
                };
                let status = resp.status();
                let body = match resp.into_body().collect().await {
                    Ok(b) => b.to_bytes(),
                    Err(e) => return Outcome::Failed(format!("HTTP body error: {e}")),
                };
                if status.is_success() {
                    let enc = if *content_type == "application/json" {
                        Encoding::Json
                    } else {
                        Encoding::Proto
                    };
                    match rejected(signal, enc, &body) {
                        Ok(r) => Outcome::Ok { rejected: r },
                        Err(e) => Outcome::Failed(format!("undecodable response: {e}")),
                    }
                } else if matches!(status.as_u16(), 429 | 502 | 503 | 504) {
                    Outcome::Refused(format!("HTTP {}", status.as_u16()))
                } else {
                    let text: String = String::from_utf8_lossy(&body).chars().take(120).collect();
                    Outcome::Failed(format!("HTTP {}: {}", status.as_u16(), text.trim()))
                }
            }
        }
    }
}

async fn clients(opts: &LoadOptions, endpoint: &str) -> anyhow::Result<Vec<Client>> {
    let signal = opts.shape.signal;
    let mut out = Vec::new();
    match opts.protocol {
        Protocol::Grpc => {
            let headers = opts
                .headers
                .iter()
                .map(|(k, v)| -> anyhow::Result<_> { Ok((k.parse()?, v.parse()?)) })
                .collect::<anyhow::Result<Vec<_>>>()?;
            for _ in 0..opts.connections {
                let channel = tonic::transport::Endpoint::from_shared(endpoint.to_string())?
                    .connect_timeout(Duration::from_secs(5))
                    .tcp_nodelay(true)
                    .initial_stream_window_size(Some(4 * 1024 * 1024))
                    .initial_connection_window_size(Some(16 * 1024 * 1024))
                    .connect()
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot connect to {endpoint}: {e}"))?;
                for _ in 0..opts.streams {
                    let mut grpc = tonic::client::Grpc::new(channel.clone());
                    if opts.compression == Compression::Gzip {
                        grpc = grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip);
                    }
                    out.push(Client::Grpc {
                        grpc: grpc.accept_compressed(tonic::codec::CompressionEncoding::Gzip),
                        path: http::uri::PathAndQuery::from_static(export_path(signal)),
                        headers: headers.clone(),
                    });
                }
            }
        }
        Protocol::HttpProto | Protocol::HttpJson => {
            let uri: http::Uri =
                format!("{}/v1/{}", endpoint.trim_end_matches('/'), signal.as_str()).parse()?;
            let headers = opts
                .headers
                .iter()
                .map(|(k, v)| -> anyhow::Result<_> {
                    Ok((
                        http::HeaderName::try_from(k.as_str())?,
                        http::HeaderValue::try_from(v.as_str())?,
                    ))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            for _ in 0..opts.connections {
                let mut connector = HttpConnector::new();
                connector.set_nodelay(true);
                let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                    .http2_only(opts.http2)
                    .pool_max_idle_per_host(opts.streams)
                    .build(connector);
                for _ in 0..opts.streams {
                    out.push(Client::Http {
                        client: client.clone(),
                        uri: uri.clone(),
                        content_type: if opts.protocol == Protocol::HttpJson {
                            "application/json"
                        } else {
                            "application/x-protobuf"
                        },
                        gzip: opts.compression == Compression::Gzip,
                        headers: headers.clone(),
                    });
                }
            }
        }
    }
    Ok(out)
}

struct Shared {
    template: Template,
    signal: Signal,
    start: Instant,
    /// The next request slot.
    next: AtomicU64,
    limit: Option<u64>,
    /// Time between two request slots, when a rate is set.
    interval: Option<Duration>,
    timeout: Duration,
    stop: CancellationToken,
}

#[derive(Default)]
struct WorkerResult {
    requests: Counts,
    items: Counts,
    bytes: u64,
    latency: Histogram,
    errors: BTreeMap<String, u64>,
}

async fn worker(id: u16, shared: Arc<Shared>, mut client: Client) -> WorkerResult {
    let mut r = WorkerResult::default();
    let items = shared.template.items() as u64;
    let mut buf = Vec::with_capacity(shared.template.len());
    let mut seq = 0u64;
    loop {
        if shared.stop.is_cancelled() {
            break;
        }
        let slot = shared.next.fetch_add(1, Ordering::Relaxed);
        if shared.limit.is_some_and(|l| slot >= l) {
            break;
        }
        if let Some(interval) = shared.interval {
            let at = shared.start + interval.mul_f64(slot as f64);
            if at > Instant::now() {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => {}
                    _ = shared.stop.cancelled() => break,
                }
            }
        }
        shared.template.render(id, seq, &mut buf);
        seq += 1;
        let body = Bytes::copy_from_slice(&buf);
        r.bytes += body.len() as u64;
        r.requests.sent += 1;
        r.items.sent += items;
        let t0 = Instant::now();
        let outcome =
            match tokio::time::timeout(shared.timeout, client.send(shared.signal, body)).await {
                Ok(o) => o,
                Err(_) => Outcome::Failed(format!("timeout after {:?}", shared.timeout)),
            };
        r.latency.record(t0.elapsed().as_micros() as u64);
        let mut note = |e: String| {
            if r.errors.len() < 20 || r.errors.contains_key(&e) {
                *r.errors.entry(e).or_default() += 1;
            }
        };
        match outcome {
            Outcome::Ok { rejected } => {
                let rejected = rejected.min(items);
                r.requests.acknowledged += 1;
                r.items.acknowledged += items - rejected;
                r.items.refused += rejected;
                if rejected > 0 {
                    note("partial success: items rejected".into());
                }
            }
            Outcome::Refused(e) => {
                r.requests.refused += 1;
                r.items.refused += items;
                note(e);
            }
            Outcome::Failed(e) => {
                r.requests.failed += 1;
                r.items.failed += items;
                note(e);
            }
        }
    }
    r
}

/// Run a load as `opts` says and report.
pub async fn run(opts: LoadOptions) -> anyhow::Result<Report> {
    anyhow::ensure!(opts.connections > 0, "--connections must be at least 1");
    anyhow::ensure!(opts.streams > 0, "--streams must be at least 1");
    anyhow::ensure!(
        opts.connections * opts.streams <= u16::MAX as usize,
        "at most 65535 workers"
    );
    anyhow::ensure!(opts.rate >= 0.0, "--rate must not be negative");
    let endpoint = opts
        .endpoint
        .clone()
        .unwrap_or_else(|| opts.protocol.default_endpoint().to_string());
    let template = Template::new(&opts.shape, opts.protocol.encoding())?;
    let items = template.items() as u64;
    let bytes_per_request = template.len();
    let clients = clients(&opts, &endpoint).await?;
    let stop = CancellationToken::new();
    let limit = opts.count.map(|c| c.div_ceil(items));
    let interval = (opts.rate > 0.0).then(|| Duration::from_secs_f64(items as f64 / opts.rate));
    let start = Instant::now();
    let shared = Arc::new(Shared {
        template,
        signal: opts.shape.signal,
        start,
        next: AtomicU64::new(0),
        limit,
        interval,
        timeout: opts.timeout,
        stop: stop.clone(),
    });
    // Without a duration or a count, run for 10 s; never longer than max_time.
    let run_for = match (opts.duration, opts.count) {
        (Some(d), _) => d.min(opts.max_time),
        (None, Some(_)) => opts.max_time,
        (None, None) => Duration::from_secs(10).min(opts.max_time),
    };
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(run_for) => stop.cancel(),
                _ = stop.cancelled() => {}
            }
        })
    };
    let handles: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, c)| tokio::spawn(worker(i as u16, shared.clone(), c)))
        .collect();
    let mut total = WorkerResult::default();
    for h in handles {
        let r = h.await?;
        total.requests.sent += r.requests.sent;
        total.requests.acknowledged += r.requests.acknowledged;
        total.requests.refused += r.requests.refused;
        total.requests.failed += r.requests.failed;
        total.items.sent += r.items.sent;
        total.items.acknowledged += r.items.acknowledged;
        total.items.refused += r.items.refused;
        total.items.failed += r.items.failed;
        total.bytes += r.bytes;
        total.latency.merge(&r.latency);
        for (e, n) in r.errors {
            *total.errors.entry(e).or_default() += n;
        }
    }
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    stop.cancel();
    let _ = timer.await;
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(Report {
        signal: opts.shape.signal,
        protocol: opts.protocol,
        endpoint,
        connections: opts.connections,
        streams: opts.streams,
        items_per_request: items as usize,
        bytes_per_request,
        elapsed_s: elapsed,
        rate: total.items.acknowledged as f64 / elapsed,
        send_rate: total.items.sent as f64 / elapsed,
        mb_per_s: total.bytes as f64 / elapsed / 1e6,
        latency_ms: Latency {
            p50: ms(total.latency.quantile(0.5)),
            p90: ms(total.latency.quantile(0.9)),
            p99: ms(total.latency.quantile(0.99)),
            max: ms(total.latency.max()),
        },
        requests: total.requests,
        items: total.items,
        errors: total.errors,
    })
}
