//! Ferrotel's measuring instruments (issue 8): `loadgen`, an OTLP load generator, and
//! `sink`, an OTLP receiver that counts what arrives; both usable against any collector that
//! speaks OTLP. `bench/run.sh` puts them around a collector; see `bench/README.md`.
#![forbid(unsafe_code)]

pub mod dockerlog;
pub mod grpc;
pub mod histogram;
pub mod loadgen;
pub mod payload;
pub mod sink;
pub mod wire;

use serde::{Deserialize, Serialize};

/// A telemetry signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    /// The OTLP/HTTP path segment (`/v1/traces`).
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }
}

/// Parse `10s`, `500ms`, `2m`, `1h` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (e.g. 20s, 500ms, 2m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("invalid duration unit in {s:?} (ms, s, m, h)")),
    };
    std::time::Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}
