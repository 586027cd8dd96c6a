//! `sink`: an OTLP/gRPC + OTLP/HTTP receiver on loopback that counts what arrives; `GET
//! /stats` on the HTTP port. Stops on SIGINT/SIGTERM, `POST /shutdown` or after --max-time,
//! and prints its final stats as JSON.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bench::parse_duration;
use bench::sink::{Sink, SinkOptions};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "sink",
    about = "Count OTLP data arriving over gRPC and HTTP (loopback only)"
)]
struct Cli {
    #[arg(long, default_value = "127.0.0.1:4317")]
    grpc: SocketAddr,
    /// Also serves GET /stats, POST /control, POST /reset, POST /shutdown.
    #[arg(long, default_value = "127.0.0.1:4318")]
    http: SocketAddr,
    /// Do not look for duplicate ids (saves a hash set entry per span or log record).
    #[arg(long)]
    no_dedup: bool,
    /// Track at most this many ids.
    #[arg(long, default_value_t = 200_000_000)]
    dedup_max: usize,
    /// Refuse every request from the start.
    #[arg(long)]
    fail: bool,
    /// Start refusing once this many items were accepted.
    #[arg(long)]
    fail_after: Option<u64>,
    /// HTTP status of a refusal (503 = gRPC UNAVAILABLE, 429 = RESOURCE_EXHAUSTED, 400 =
    /// INVALID_ARGUMENT, other = INTERNAL).
    #[arg(long, default_value_t = 503)]
    fail_status: u16,
    /// Wait this long before answering each request (e.g. 50ms).
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    delay: Duration,
    /// Stop by itself after this long.
    #[arg(long, value_parser = parse_duration, default_value = "1h")]
    max_time: Duration,
    /// Largest request accepted, in MiB (after decompression).
    #[arg(long, default_value_t = 256)]
    max_message_mib: usize,
    /// Runtime worker threads (default: the CPUs this process may run on).
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(t) = cli.threads {
        rt.worker_threads(t.max(1));
    }
    let rt = rt.build()?;
    let stats = rt.block_on(async {
        let sink = Sink::start(SinkOptions {
            grpc: cli.grpc,
            http: cli.http,
            dedup: !cli.no_dedup,
            dedup_max: cli.dedup_max,
            fail: cli.fail,
            fail_after: cli.fail_after,
            fail_status: cli.fail_status,
            delay: cli.delay,
            max_message: cli.max_message_mib.saturating_mul(1024 * 1024),
            max_time: Some(cli.max_time),
        })
        .await?;
        eprintln!(
            "sink: OTLP/gRPC on {}, OTLP/HTTP and /stats on {}",
            sink.grpc_addr(),
            sink.http_addr()
        );
        let token = sink.shutdown_token();
        tokio::spawn(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => token.cancel(),
                _ = term.recv() => token.cancel(),
                _ = token.cancelled() => {}
            }
        });
        anyhow::Ok(sink.wait().await)
    })?;
    println!("{}", serde_json::to_string(&stats)?);
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}
