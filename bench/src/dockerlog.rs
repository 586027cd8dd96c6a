//! Docker json-file logs for the `filelog-docker` scenarios: `<root>/containers/<id>/<id>-json.log`
//! files, one JSON object per line as Docker's json-file driver writes them, each `log` a
//! structlog key=value line with single-quoted values (some with spaces), as the Python
//! services of the stack print them, or ([`Body::Json`]) the same fields as a JSON object, as
//! structlog's JSON renderer prints them.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub files: Vec<PathBuf>,
    pub lines: u64,
    pub bytes: u64,
}

/// The container id of container `c` (64 hex digits, as Docker's).
pub fn container_id(c: usize) -> String {
    let mut id = String::with_capacity(64);
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (c as u64 + 1);
    while id.len() < 64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        id.push_str(&format!("{x:016x}"));
    }
    id.truncate(64);
    id
}

const LEVELS: [&str; 8] = [
    "info", "info", "info", "debug", "info", "warning", "info", "error",
];
const EVENTS: [&str; 4] = [
    "Request completed",
    "Cache miss",
    "Request completed",
    "Order created",
];
const PATHS: [&str; 4] = [
    "/api/v1/users/",
    "/api/v1/orders/",
    "/api/v1/carts/",
    "/healthz?probe=",
];

/// What each line's `log` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Body {
    /// `key='value'` pairs.
    #[default]
    Structlog,
    /// A JSON object with the same fields (`status_code` and `duration_ms` as numbers).
    Json,
}

/// Line `i` as Docker's json-file driver stores it (with its trailing newline).
pub fn line(i: u64, out: &mut String) {
    line_with(Body::Structlog, i, out)
}

/// Line `i` with a body of the given kind, as Docker's json-file driver stores it.
pub fn line_with(body: Body, i: u64, out: &mut String) {
    use std::fmt::Write;
    out.clear();
    // One line per millisecond from 2024-01-01T00:00:00Z (wrapping after 86.4M lines).
    let secs = i / 1000 % 86_400;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let nanos = (i % 1000) * 1_000_000 + (i * 7919) % 1_000_000;
    let r = (i % 4) as usize;
    let level = LEVELS[(i % 8) as usize];
    let status = if level == "error" { 500 } else { 200 };
    let event = EVENTS[r];
    let method = if r == 3 {
        "GET"
    } else {
        ["GET", "POST", "PUT"][r % 3]
    };
    let path = PATHS[r];
    let n = 10_000 + i % 50_000;
    let (ms, frac) = (i % 250, i % 10);
    let trace = (
        0x4bf9_2f35_77b3_4da6u64 ^ i,
        0xa3ce_929d_0e0e_4736u64.wrapping_mul(i + 1),
    );
    let stream = if level == "error" { "stderr" } else { "stdout" };
    let _ = match body {
        Body::Structlog => write!(
            out,
            "{{\"log\":\"timestamp='2024-01-01T{h:02}:{m:02}:{s:02}Z' level='{level}' logger='app.api' event='{event}' method='{method}' path='{path}{n}' status_code={status} duration_ms={ms}.{frac} trace_id='{:016x}{:016x}' request_id='req-{i:012x}'\\n\"",
            trace.0, trace.1,
        ),
        Body::Json => write!(
            out,
            "{{\"log\":\"{{\\\"timestamp\\\": \\\"2024-01-01T{h:02}:{m:02}:{s:02}Z\\\", \\\"level\\\": \\\"{level}\\\", \\\"logger\\\": \\\"app.api\\\", \\\"event\\\": \\\"{event}\\\", \\\"method\\\": \\\"{method}\\\", \\\"path\\\": \\\"{path}{n}\\\", \\\"status_code\\\": {status}, \\\"duration_ms\\\": {ms}.{frac}, \\\"trace_id\\\": \\\"{:016x}{:016x}\\\", \\\"request_id\\\": \\\"req-{i:012x}\\\"}}\\n\"",
            trace.0, trace.1,
        ),
    };
    let _ = writeln!(
        out,
        ",\"stream\":\"{stream}\",\"time\":\"2024-01-01T{h:02}:{m:02}:{s:02}.{nanos:09}Z\"}}"
    );
}

/// Write `lines` lines spread round-robin over `containers` files under `root`.
pub fn write(root: &Path, lines: u64, containers: usize) -> std::io::Result<Written> {
    write_with(Body::Structlog, root, lines, containers)
}

/// [`write`] with bodies of the given kind.
pub fn write_with(
    body: Body,
    root: &Path,
    lines: u64,
    containers: usize,
) -> std::io::Result<Written> {
    let containers = containers.max(1);
    let mut files = Vec::new();
    let mut writers = Vec::new();
    for c in 0..containers {
        let id = container_id(c);
        let dir = root.join("containers").join(&id);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{id}-json.log"));
        writers.push(BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&path)?,
        ));
        files.push(path);
    }
    let mut buf = String::new();
    let mut bytes = 0u64;
    for i in 0..lines {
        line_with(body, i, &mut buf);
        bytes += buf.len() as u64;
        writers[(i % containers as u64) as usize].write_all(buf.as_bytes())?;
    }
    for mut w in writers {
        w.flush()?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    Ok(Written {
        files,
        lines,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_docker_json_with_a_structlog_body() {
        let mut s = String::new();
        line(123_456, &mut s);
        assert!(s.ends_with("}\n"));
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        let log = v["log"].as_str().unwrap();
        assert!(
            log.starts_with("timestamp='2024-01-01T00:02:03Z' level="),
            "{log}"
        );
        assert!(log.ends_with("'\n"));
        assert!(log.contains(" event='"));
        assert_eq!(v["time"].as_str().unwrap().len(), 30);
        assert!(matches!(v["stream"].as_str(), Some("stdout" | "stderr")));
        assert_eq!(container_id(0).len(), 64);

        let mut j = String::new();
        line_with(Body::Json, 123_456, &mut j);
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(
            v["time"],
            serde_json::from_str::<serde_json::Value>(&s).unwrap()["time"]
        );
        let log = v["log"].as_str().unwrap();
        assert!(log.ends_with("}\n"), "{log}");
        let body: serde_json::Value = serde_json::from_str(log).unwrap();
        assert_eq!(body["timestamp"], "2024-01-01T00:02:03Z");
        assert_eq!(body["level"], "info");
        assert_eq!(body["status_code"], 200);
        assert!(body["duration_ms"].is_f64());
        assert_eq!(body.as_object().unwrap().len(), 10);
        assert_ne!(container_id(0), container_id(1));
    }
}
