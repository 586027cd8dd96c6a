//! Prometheus scrape targets for the `prometheus` receiver benchmark: `--targets` HTTP
//! servers on consecutive loopback ports from `--base-port`, each answering `GET /metrics`
//! with about `--series` series in the text format 0.0.4 as `prometheus_client` writes it
//! (counters with `_total` and `_created`, gauges, a histogram with 10 buckets per label set).
//! The counters grow by one every scrape of a target. Runs until killed.
//!
//! ```sh
//! target/release/promtargets --targets 1000 --series 1000 --base-port 30000
//! ```

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Loopback Prometheus targets for the prometheus receiver benchmark")]
struct Args {
    #[arg(long, default_value_t = 1000)]
    targets: u16,
    /// About this many series per target.
    #[arg(long, default_value_t = 1000)]
    series: usize,
    #[arg(long, default_value_t = 30000)]
    base_port: u16,
}

const ROUTES: [&str; 8] = [
    "/api/orders",
    "/api/orders/{id}",
    "/api/users",
    "/api/users/{id}",
    "/api/carts",
    "/api/carts/{id}",
    "/api/payments",
    "/healthz",
];
const BUCKETS: [&str; 10] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "+Inf",
];

/// One exposition; `n` is the scrape number (counters grow with it).
fn exposition(series: usize, n: u64) -> String {
    // a fifth of the series in histograms (12 lines per label set), two fifths counters,
    // the rest gauges
    let histograms = (series / 5 / 12).max(1);
    let counters = (series * 2 / 5).max(1);
    let gauges = series.saturating_sub(histograms * 12 + counters).max(1);
    let mut out = String::with_capacity(series * 90);
    out.push_str(
        "# HELP http_requests_total Requests handled.\n# TYPE http_requests_total counter\n",
    );
    for i in 0..counters {
        let (route, status) = (ROUTES[i % ROUTES.len()], 200 + (i / ROUTES.len()) % 5 * 100);
        let _ = writeln!(
            out,
            "http_requests_total{{method=\"GET\",route=\"{route}\",status=\"{status}\",shard=\"{}\"}} {}.0",
            i / 40,
            n * (i as u64 + 1)
        );
    }
    out.push_str(
        "# HELP http_requests_created Requests handled.\n# TYPE http_requests_created gauge\n",
    );
    for i in 0..counters.min(20) {
        let (route, status) = (ROUTES[i % ROUTES.len()], 200 + (i / ROUTES.len()) % 5 * 100);
        let _ = writeln!(
            out,
            "http_requests_created{{method=\"GET\",route=\"{route}\",status=\"{status}\",shard=\"{}\"}} 1.7330e+09",
            i / 40
        );
    }
    out.push_str("# HELP http_request_duration_seconds Request latency.\n# TYPE http_request_duration_seconds histogram\n");
    for h in 0..histograms {
        let route = ROUTES[h % ROUTES.len()];
        let shard = h / ROUTES.len();
        for (b, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{le=\"{le}\",route=\"{route}\",shard=\"{shard}\"}} {}.0",
                n * (b as u64 + 1)
            );
        }
        let _ = writeln!(
            out,
            "http_request_duration_seconds_count{{route=\"{route}\",shard=\"{shard}\"}} {}.0",
            n * BUCKETS.len() as u64
        );
        let _ = writeln!(
            out,
            "http_request_duration_seconds_sum{{route=\"{route}\",shard=\"{shard}\"}} {}",
            n as f64 * 1.25
        );
    }
    out.push_str("# HELP app_queue_depth Items waiting.\n# TYPE app_queue_depth gauge\n");
    for g in 0..gauges {
        let _ = writeln!(
            out,
            "app_queue_depth{{queue=\"q{g}\"}} {}",
            (g as u64 * 7 + n) % 100
        );
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args = Args::parse();
    let mut tasks = Vec::new();
    for t in 0..args.targets {
        let port = args.base_port + t;
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("promtargets: port {port}: {e}");
                std::process::exit(1);
            }
        };
        let series = args.series;
        let scrapes = Arc::new(AtomicU64::new(0));
        let app = Router::new().route(
            "/metrics",
            get(move || {
                let n = scrapes.fetch_add(1, Ordering::Relaxed) + 1;
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        exposition(series, n),
                    )
                        .into_response()
                }
            }),
        );
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }
    eprintln!(
        "promtargets: {} targets on 127.0.0.1:{}-{}, about {} series each",
        args.targets,
        args.base_port,
        args.base_port + args.targets - 1,
        args.series
    );
    for t in tasks {
        let _ = t.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exposition_has_about_the_series_asked_for() {
        let text = exposition(1000, 3);
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        assert!((980..=1040).contains(&samples), "{samples} samples");
        assert!(text.contains("http_requests_total{"));
        assert!(text.contains("le=\"+Inf\""));
    }
}
