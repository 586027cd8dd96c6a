//! Ferrotel's own telemetry: the `/metrics` endpoint with the Go collector's process metrics
//! and `target_info`, and the log subscriber.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::header::CONTENT_TYPE;
use axum::Router;
use pipeline_api::telemetry::Telemetry;
use pipeline_api::BuildError;
use prometheus::{Counter, Encoder, IntGauge, Opts, TextEncoder};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::TelemetryConfig;
use crate::server;

/// Process metrics, refreshed at each scrape.
struct ProcessMetrics {
    started: Instant,
    uptime: Counter,
    cpu: Counter,
    rss: IntGauge,
    last: Mutex<(f64, f64)>,
}

impl ProcessMetrics {
    fn register(telemetry: &Telemetry) -> ProcessMetrics {
        let r = telemetry.registry();
        let uptime =
            Counter::with_opts(Opts::new("otelcol_process_uptime", "Uptime of the process"))
                .expect("valid");
        let cpu = Counter::with_opts(Opts::new(
            "otelcol_process_cpu_seconds",
            "Total CPU user and system time in seconds",
        ))
        .expect("valid");
        let rss = IntGauge::with_opts(Opts::new(
            "otelcol_process_memory_rss",
            "Total physical memory (resident set size)",
        ))
        .expect("valid");
        let _ = r.register(Box::new(uptime.clone()));
        let _ = r.register(Box::new(cpu.clone()));
        let _ = r.register(Box::new(rss.clone()));
        ProcessMetrics {
            started: Instant::now(),
            uptime,
            cpu,
            rss,
            last: Mutex::new((0.0, 0.0)),
        }
    }

    fn refresh(&self) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let up = self.started.elapsed().as_secs_f64();
        if up > last.0 {
            self.uptime.inc_by(up - last.0);
            last.0 = up;
        }
        if let Some(cpu) = process_cpu_seconds() {
            if cpu > last.1 {
                self.cpu.inc_by(cpu - last.1);
                last.1 = cpu;
            }
        }
        if let Some(rss) = process_rss_bytes() {
            self.rss.set(rss as i64);
        }
    }
}

/// Resident set size of this process (Linux `/proc/self/status` `VmRSS`, in kB there, so
/// no page size is needed).
pub fn process_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// User + system CPU seconds of this process (Linux `/proc/self/stat`, fields 14 and 15,
/// in clock ticks of 100 Hz, the value Linux exports to user space).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // the command name may hold spaces: fields start after the last ')'
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The `/metrics` server.
pub struct MetricsServer {
    token: CancellationToken,
    task: JoinHandle<()>,
    pub address: String,
}

/// The service identity (Go: `service.name`, `service.version`, `service.instance.id`,
/// overridden or removed by `service.telemetry.resource`), with dotted keys.
pub fn resource_attributes(cfg: &TelemetryConfig, version: &str) -> Vec<(String, String)> {
    let mut attrs: Vec<(String, String)> = vec![
        ("service.name".into(), "ferrotel".into()),
        ("service.version".into(), version.into()),
        ("service.instance.id".into(), instance_id()),
    ];
    for (k, v) in &cfg.resource {
        attrs.retain(|(a, _)| a != k);
        if let Some(v) = v {
            attrs.push((k.clone(), v.clone()));
        }
    }
    attrs
}

/// `target_info` with the service identity, its keys as Prometheus labels.
fn register_target_info(telemetry: &Telemetry, cfg: &TelemetryConfig, version: &str) {
    let mut attrs: Vec<(String, String)> = Vec::new();
    for (k, v) in resource_attributes(cfg, version) {
        let key = k.replace(['.', '-', '/'], "_");
        attrs.retain(|(a, _)| *a != key);
        attrs.push((key, v));
    }
    let names: Vec<&str> = attrs.iter().map(|(k, _)| k.as_str()).collect();
    let values: Vec<&str> = attrs.iter().map(|(_, v)| v.as_str()).collect();
    telemetry
        .gauge_vec("target_info", "Target metadata", &names)
        .with_label_values(&values)
        .set(1);
}

/// One id per process (the same in `target_info` and pushed metrics).
fn instance_id() -> String {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(new_instance_id).clone()
}

fn new_instance_id() -> String {
    // a random-enough id per process start, formatted as a UUID v4
    use std::hash::{BuildHasher, Hasher};
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        h.write_u32(std::process::id());
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = const_hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl MetricsServer {
    pub fn start(
        address: &str,
        telemetry: Arc<Telemetry>,
        cfg: &TelemetryConfig,
        version: &str,
    ) -> Result<MetricsServer, BuildError> {
        let listener = server::bind(address, "service::telemetry::metrics")?;
        let bound = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| address.to_string());
        register_target_info(&telemetry, cfg, version);
        let process = Arc::new(ProcessMetrics::register(&telemetry));
        let handler = move || {
            let telemetry = telemetry.clone();
            let process = process.clone();
            async move {
                process.refresh();
                let mut buf = Vec::new();
                let encoder = TextEncoder::new();
                if let Err(e) = encoder.encode(&telemetry.registry().gather(), &mut buf) {
                    tracing::error!(error = %e, "cannot encode own metrics");
                }
                (
                    [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                    buf,
                )
            }
        };
        let router = Router::new().route("/metrics", axum::routing::get(handler));
        let token = CancellationToken::new();
        let task = server::serve(listener, router, token.clone())?;
        tracing::info!(endpoint = %bound, "Serving own metrics at /metrics");
        Ok(MetricsServer {
            token,
            task,
            address: bound,
        })
    }

    pub async fn stop(self) {
        self.token.cancel();
        let _ = self.task.await;
    }
}
