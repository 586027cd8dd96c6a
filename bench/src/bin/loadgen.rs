//! `loadgen`: send OTLP traces, logs or metrics to a collector and report what happened.
//! `loadgen docker-logs` writes Docker json-file logs for the filelog scenario.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Duration;

use bench::loadgen::{self, Compression, LoadOptions, Protocol};
use bench::payload::Shape;
use bench::{parse_duration, Signal};
use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    about = "Send OTLP load to a collector (bounded: it always stops by itself)",
    args_conflicts_with_subcommands = true,
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    send: SendArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write Docker json-file logs (`<dir>/containers/<id>/<id>-json.log`) with structlog lines.
    DockerLogs {
        /// The root directory (what /var/lib/docker is for Docker).
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        lines: u64,
        /// Files (containers) the lines are spread over, round-robin.
        #[arg(long, default_value_t = 1)]
        containers: usize,
        /// What each line's `log` holds: structlog `key='value'` pairs, or the same fields as
        /// a JSON object.
        #[arg(long, value_enum, default_value_t = DockerBody::Structlog)]
        body: DockerBody,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum DockerBody {
    Structlog,
    Json,
}

#[derive(Args, Debug)]
struct SendArgs {
    #[arg(long, value_enum, default_value_t = Signal::Traces)]
    signal: Signal,
    #[arg(long, value_enum, default_value_t = Protocol::Grpc)]
    protocol: Protocol,
    /// gRPC: http://host:port (default http://127.0.0.1:4317); HTTP: the base URL, /v1/<signal>
    /// is appended (default http://127.0.0.1:4318).
    #[arg(long)]
    endpoint: Option<String>,
    /// Items per second over all connections; 0 = as fast as the receiver answers.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Send for this long (e.g. 20s). Without --duration and --count: 10s.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Send this many items (rounded up to whole requests).
    #[arg(long)]
    count: Option<u64>,
    /// Connections (gRPC channels / HTTP clients).
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Requests in flight per connection (HTTP/1.1: one connection each).
    #[arg(long, default_value_t = 1)]
    streams: usize,
    /// Spans, log records or data points per request.
    #[arg(long, alias = "batch", default_value_t = 100)]
    items_per_request: usize,
    /// Attributes per item (the first 12 are realistic HTTP/DB ones).
    #[arg(long, default_value_t = 12)]
    attributes: usize,
    /// Cut or pad every string attribute value to this many bytes.
    #[arg(long)]
    value_size: Option<usize>,
    #[arg(long, default_value_t = 6)]
    resource_attributes: usize,
    #[arg(long, default_value_t = 10)]
    spans_per_trace: usize,
    /// Metrics: explicit-bucket histograms (16 bounds) instead of monotonic sums.
    #[arg(long)]
    histograms: bool,
    /// Per request.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    timeout: Duration,
    /// Hard bound on sending, whatever --duration and --count say.
    #[arg(long, value_parser = parse_duration, default_value = "300s")]
    max_time: Duration,
    #[arg(long, value_enum, default_value_t = Compression::None)]
    compression: Compression,
    /// Extra header (gRPC metadata), NAME=VALUE; repeatable.
    #[arg(long = "header", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// HTTP/2 without TLS instead of HTTP/1.1 (HTTP protocols).
    #[arg(long)]
    http2: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Runtime worker threads (default: the CPUs this process may run on).
    #[arg(long)]
    threads: Option<usize>,
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| format!("expected NAME=VALUE, got {s:?}"))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::DockerLogs {
        dir,
        lines,
        containers,
        body,
    }) = cli.command
    {
        let body = match body {
            DockerBody::Structlog => bench::dockerlog::Body::Structlog,
            DockerBody::Json => bench::dockerlog::Body::Json,
        };
        let w = bench::dockerlog::write_with(body, &dir, lines, containers)?;
        for f in &w.files {
            println!("{}", f.display());
        }
        eprintln!(
            "docker-logs: {} lines, {} bytes in {} file(s)",
            w.lines,
            w.bytes,
            w.files.len()
        );
        return Ok(());
    }
    let a = cli.send;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(t) = a.threads {
        rt.worker_threads(t.max(1));
    }
    let rt = rt.build()?;
    let opts = LoadOptions {
        endpoint: a.endpoint,
        protocol: a.protocol,
        shape: Shape {
            signal: a.signal,
            items_per_request: a.items_per_request,
            attributes: a.attributes,
            value_size: a.value_size,
            resource_attributes: a.resource_attributes,
            spans_per_trace: a.spans_per_trace,
            histograms: a.histograms,
        },
        rate: a.rate,
        duration: a.duration,
        count: a.count,
        connections: a.connections,
        streams: a.streams,
        timeout: a.timeout,
        max_time: a.max_time,
        compression: a.compression,
        headers: a.headers,
        http2: a.http2,
    };
    let report = rt.block_on(loadgen::run(opts))?;
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.text());
    }
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}
