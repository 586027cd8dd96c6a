//! The real OpenTelemetry Python SDK as a client: its `BatchSpanProcessor` exports with one
//! thread and a 10 s deadline, and drops spans when its queue of 2048 is full, so a collector
//! that answers slowly makes it lose data. These tests run the SDK (pinned in
//! `tests/e2e/python/requirements.txt`, installed into `target/py-venv` on first use; `.ci/run`
//! installs it up front) against Ferrotel and read what the SDK itself reports.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::harness::{Collector, Ports};
use crate::sink::{self, eventually};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's python, created with the pinned SDK on first use (once per test process).
pub fn python() -> PathBuf {
    static READY: Mutex<bool> = Mutex::new(false);
    let venv = root().join("target").join("py-venv");
    let py = venv.join("bin").join("python");
    let mut ready = READY.lock().unwrap_or_else(|p| p.into_inner());
    if *ready {
        return py;
    }
    let reqs = root().join("tests/e2e/python/requirements.txt");
    let check = Command::new(&py)
        .args([
            "-c",
            "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.zipkin.json, logging_loki, prometheus_client, thrift, jaeger_client",
        ])
        .status();
    if !matches!(check, Ok(s) if s.success()) {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 is needed for the SDK tests");
        assert!(made.success(), "python3 -m venv {venv:?} failed");
        let pip = Command::new(venv.join("bin").join("pip"))
            .args(["install", "-q", "-r"])
            .arg(&reqs)
            .status()
            .expect("pip");
        assert!(
            pip.success(),
            "installing the Python packages from {reqs:?} failed (PyPI reachable?)"
        );
    }
    *ready = true;
    py
}

/// What the SDK client reported.
#[derive(Debug)]
pub struct SdkReport {
    pub created: u64,
    pub dropped: u64,
    pub exported: u64,
    pub export_failures: u64,
    pub export_max_ms: f64,
    /// Everything it printed.
    pub raw: serde_json::Value,
}

pub fn run_sdk(args: &[&str]) -> SdkReport {
    run_sdk_env(args, &[])
}

/// [`run_sdk`] with environment variables for the SDK (`OTEL_EXPORTER_OTLP_HEADERS`, ...).
pub fn run_sdk_env(args: &[&str], env: &[(&str, &str)]) -> SdkReport {
    let out = Command::new(python())
        .arg(root().join("tests/e2e/python/sdk_spans.py"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run the SDK client");
    assert!(
        out.status.success(),
        "SDK client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let raw: serde_json::Value =
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    let int = |k: &str| raw[k].as_u64().unwrap_or_else(|| panic!("{k} in {raw}"));
    SdkReport {
        created: int("created"),
        dropped: int("dropped"),
        exported: int("exported"),
        export_failures: int("export_failures"),
        export_max_ms: raw["export_max_ms"].as_f64().unwrap_or(f64::MAX),
        raw,
    }
}

fn span_names(reqs: &[ExportTraceServiceRequest]) -> Vec<String> {
    reqs.iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| s.name.clone())
        .collect()
}

/// `batch: { timeout: 10s }`, as public configs set it: the SDK's exports are answered at
/// once (not after the flush, which would pass its 10 s deadline) and every span arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_through_a_10s_batch_is_answered_at_once_and_loses_nothing() {
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let ports = Ports::new();
    let collector = Collector::start(
        "python-sdk-batch",
        &ports.fill(&format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:GRPC_PORT\nprocessors:\n  batch:\n    timeout: 10s\nexporters:\n  otlp:\n    endpoint: {sink_addr}\n    tls: {{insecure: true}}\nservice:\n  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}\n  pipelines:\n    traces: {{receivers: [otlp], processors: [batch], exporters: [otlp]}}\n"
        )),
    );
    let endpoint = format!("127.0.0.1:{}", ports.grpc);
    let report = tokio::task::spawn_blocking(move || {
        // 6,000 spans, paced so the SDK's own queue of 2048 never fills while exports are quick
        run_sdk(&[
            "--endpoint",
            &endpoint,
            "--spans",
            "6000",
            "--pause-every",
            "500",
            "--pause-ms",
            "30",
        ])
    })
    .await
    .unwrap();
    eprintln!("SDK report: {}", report.raw);
    assert_eq!(report.created, 6000);
    assert_eq!(report.dropped, 0, "the SDK dropped spans: {report:?}");
    assert_eq!(report.export_failures, 0, "{report:?}");
    assert_eq!(report.exported, 6000, "{report:?}");
    assert!(
        report.export_max_ms < 1000.0,
        "every export answered in under 1 s (an answer after the flush takes 10 s): {report:?}"
    );
    let all = eventually(Duration::from_secs(20), || {
        span_names(&recorded.traces.lock().unwrap()).len() >= 6000
    })
    .await;
    let mut names = span_names(&recorded.traces.lock().unwrap());
    assert!(
        all,
        "{} of 6000 arrived\n{}",
        names.len(),
        collector.stderr_text()
    );
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 6000, "every span once");
    collector.stop();
}

/// The SDK's exporters (gRPC and HTTP) with `OTEL_EXPORTER_OTLP_HEADERS` carrying a token,
/// against an `otlp` receiver guarded by `bearertokenauth`: the right token gets every span
/// through, a wrong one gets none, and the SDK counts its exports as failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_with_a_bearer_token_passes_bearertokenauth() {
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let ports = Ports::new();
    let collector = Collector::start(
        "python-sdk-bearer",
        &ports.fill(&format!(
            "extensions:\n  bearertokenauth:\n    token: sdk-token\nreceivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:GRPC_PORT\n        auth: {{authenticator: bearertokenauth}}\n      http:\n        endpoint: 127.0.0.1:HTTP_PORT\n        auth: {{authenticator: bearertokenauth}}\nexporters:\n  otlp:\n    endpoint: {sink_addr}\n    tls: {{insecure: true}}\nservice:\n  extensions: [bearertokenauth]\n  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}\n  pipelines:\n    traces: {{receivers: [otlp], exporters: [otlp]}}\n"
        )),
    );
    let grpc = format!("127.0.0.1:{}", ports.grpc);
    let http = format!("http://127.0.0.1:{}", ports.http);
    let mut expected = 0;
    for (endpoint, token, passes) in [
        (&grpc, "Bearer sdk-token", true),
        (&http, "Bearer sdk-token", true),
        (&grpc, "Bearer wrong", false),
        (&http, "Bearer wrong", false),
    ] {
        let (endpoint, header) = (endpoint.clone(), format!("authorization={token}"));
        let report = tokio::task::spawn_blocking(move || {
            run_sdk_env(
                &["--endpoint", &endpoint, "--spans", "50"],
                &[("OTEL_EXPORTER_OTLP_HEADERS", &header)],
            )
        })
        .await
        .unwrap();
        if passes {
            expected += 50;
            assert_eq!(report.exported, 50, "{report:?}");
            assert_eq!(report.export_failures, 0, "{report:?}");
        } else {
            assert_eq!(report.exported, 0, "{report:?}");
            assert!(report.export_failures > 0, "{report:?}");
        }
    }
    let arrived = eventually(Duration::from_secs(10), || {
        span_names(&recorded.traces.lock().unwrap()).len() >= expected
    })
    .await;
    // a moment for anything that should not have come
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = span_names(&recorded.traces.lock().unwrap()).len();
    assert!(
        arrived && n == expected,
        "{n} spans arrived, {expected} expected\n{}",
        collector.stderr_text()
    );
    collector.stop();
}
