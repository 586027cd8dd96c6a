//! More ways in and out, end to end through the binary: the real OpenTelemetry Python SDK's
//! Zipkin exporter into the `zipkin` receiver; the `file` exporter's output replayed by the
//! `otlpjsonfile` receiver.

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::harness::{temp_dir, Collector, Ports};
use crate::python_sdk::python;
use crate::sink::{self, eventually};

fn attr(kvs: &[KeyValue], key: &str) -> Option<String> {
    kvs.iter().find(|kv| kv.key == key).map(|kv| {
        match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => s.clone(),
            other => format!("{other:?}"),
        }
    })
}

/// Spans of every request, with their resource's `service.name`.
fn spans(
    reqs: &[opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest],
) -> Vec<(String, Span)> {
    reqs.iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| {
            let svc = rs
                .resource
                .as_ref()
                .and_then(|r| attr(&r.attributes, "service.name"))
                .unwrap_or_default();
            rs.scope_spans
                .iter()
                .flat_map(|s| s.spans.clone())
                .map(move |s| (svc.clone(), s))
        })
        .collect()
}

fn run_python_zipkin(endpoint: &str, n: usize) -> serde_json::Value {
    let out = std::process::Command::new(python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/e2e/python/zipkin_spans.py"
        ))
        .args(["--endpoint", endpoint, "--spans", &n.to_string()])
        .output()
        .expect("run the Python Zipkin client");
    assert!(
        out.status.success(),
        "Python Zipkin client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// N spans sent by the Python SDK's Zipkin exporter arrive once each, with their service,
/// kind, times, attributes (string tags, as Go keeps them without `parse_string_tags`) and
/// the error tag the SDK writes; then a Ferrotel with the `file` exporter writes them and a
/// second Ferrotel replays the file with `otlpjsonfile`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_zipkin_spans_arrive_then_replay_from_a_file() {
    const N: usize = 300;
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let dir = temp_dir("protocols-file");
    let file = dir.join("spans.json");
    let ports = Ports::new();
    let collector = Collector::start(
        "zipkin-python",
        &ports.fill(&format!(
            "receivers:\n  zipkin:\n    endpoint: 127.0.0.1:HTTP_PORT\nexporters:\n  otlp:\n    endpoint: {sink_addr}\n    tls: {{insecure: true}}\n  file:\n    path: {}\n    flush_interval: 100ms\nservice:\n  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}\n  pipelines:\n    traces: {{receivers: [zipkin], exporters: [otlp, file]}}\n",
            file.display()
        )),
    );
    let endpoint = format!("http://127.0.0.1:{}/api/v2/spans", ports.http);
    let report = tokio::task::spawn_blocking(move || run_python_zipkin(&endpoint, N))
        .await
        .unwrap();
    assert_eq!(report["exported"], N as u64, "{report}");
    assert_eq!(report["failures"], 0, "{report}");
    let all = eventually(Duration::from_secs(20), || {
        spans(&recorded.traces.lock().unwrap()).len() >= N
    })
    .await;
    assert!(all, "{}", collector.stderr_text());
    let got = spans(&recorded.traces.lock().unwrap());
    assert_eq!(got.len(), N, "each span once");
    let by_name: BTreeMap<String, (String, Span)> = got
        .into_iter()
        .map(|(svc, s)| (s.name.clone(), (svc, s)))
        .collect();
    assert_eq!(by_name.len(), N);
    for i in 0..N {
        let (svc, s) = &by_name[&format!("zipkin-op-{i}")];
        assert_eq!(svc, "py-zipkin");
        assert_eq!(s.kind, 2, "SERVER");
        assert_eq!(s.trace_id.len(), 16);
        assert_eq!(s.span_id.len(), 8);
        assert!(s.end_time_unix_nano >= s.start_time_unix_nano);
        assert!(s.start_time_unix_nano > 1_600_000_000_000_000_000);
        assert_eq!(
            attr(&s.attributes, "order.id").as_deref(),
            Some(&*i.to_string())
        );
        assert_eq!(attr(&s.attributes, "region").as_deref(), Some("eu"));
        let cached = if i % 2 == 0 { "true" } else { "false" };
        assert_eq!(attr(&s.attributes, "cached").as_deref(), Some(cached));
        assert_eq!(s.events.len(), 1, "{s:?}");
        assert!(s.events[0].name.contains("checkpoint"), "{:?}", s.events[0]);
        if i % 3 == 0 {
            // The SDK writes `error: <description>`: Go's mapping keeps it as an attribute
            // (only `error: "true"` sets the status).
            assert_eq!(
                attr(&s.attributes, "error"),
                Some(format!("boom-{i}")),
                "{s:?}"
            );
        } else {
            assert_eq!(attr(&s.attributes, "error"), None);
        }
    }
    let (code, _, stderr) = collector.stop();
    assert_eq!(code, 0, "{stderr}");

    // What the file exporter wrote, replayed.
    let lines = std::fs::read_to_string(&file).unwrap();
    assert!(lines.lines().count() >= 1);
    let before = recorded.traces.lock().unwrap().len();
    let ports = Ports::new();
    let replay = Collector::start(
        "otlpjsonfile-replay",
        &ports.fill(&format!(
            "receivers:\n  otlpjsonfile:\n    include: [{}]\n    start_at: beginning\nexporters:\n  otlp:\n    endpoint: {sink_addr}\n    tls: {{insecure: true}}\nservice:\n  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}\n  pipelines:\n    traces: {{receivers: [otlpjsonfile], exporters: [otlp]}}\n",
            file.display()
        )),
    );
    let all = eventually(Duration::from_secs(20), || {
        spans(&recorded.traces.lock().unwrap()[before..]).len() >= N
    })
    .await;
    assert!(all, "{}", replay.stderr_text());
    let first = recorded.traces.lock().unwrap()[..before].to_vec();
    let again = recorded.traces.lock().unwrap()[before..].to_vec();
    let key = |v: Vec<(String, Span)>| {
        let mut v: Vec<(String, Vec<u8>, Span)> = v
            .into_iter()
            .map(|(a, s)| (a, s.span_id.clone(), s))
            .collect();
        v.sort_by(|a, b| a.1.cmp(&b.1));
        v
    };
    assert_eq!(
        key(spans(&again)),
        key(spans(&first)),
        "the replay equals what went in"
    );
    replay.stop();
}

/// Push `lines` lines to `url` with `python-logging-loki` (`tests/e2e/python/loki_logs.py`,
/// with `extra` arguments); what it reports.
async fn loki_client(url: &str, lines: usize, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--url".to_string(), url.to_string()];
    args.extend(["--lines".to_string(), lines.to_string()]);
    args.extend(extra.iter().map(|a| a.to_string()));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python())
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/e2e/python/loki_logs.py"
            ))
            .args(&args)
            .output()
            .expect("run the Python Loki client")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `python-logging-loki` with HTTP Basic credentials (its `auth`) against a `loki` receiver
/// guarded by `basicauth`: the right password gets every line through; a wrong one gets
/// each push refused (the handler reports each as an error) and nothing through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_logging_loki_with_basic_auth_passes_basicauth() {
    const N: usize = 20;
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let ports = Ports::new();
    // `openssl passwd -apr1 -salt Xy1zAb9q pass-1`
    let collector = Collector::start(
        "loki-python-auth",
        &ports.fill(&format!(
            "extensions:\n  basicauth:\n    htpasswd:\n      inline: 'shipper:$apr1$Xy1zAb9q$Cgm1teZlXT4CAnNqiGym90'\nreceivers:\n  loki:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:HTTP_PORT\n        auth: {{authenticator: basicauth}}\nexporters:\n  otlp:\n    endpoint: {sink_addr}\n    tls: {{insecure: true}}\nservice:\n  extensions: [basicauth]\n  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}\n  pipelines:\n    logs: {{receivers: [loki], exporters: [otlp]}}\n"
        )),
    );
    let url = format!("http://127.0.0.1:{}/loki/api/v1/push", ports.http);
    for (password, errors) in [("pass-1", 0), ("wrong", N)] {
        let report = loki_client(&url, N, &["--user", "shipper", "--password", password]).await;
        assert_eq!(report["errors"], errors, "{password}: {report}");
    }
    let count = || recorded.log_bodies().len();
    let all = eventually(Duration::from_secs(20), || count() >= N).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        all && count() == N,
        "{} of {N}\n{}",
        count(),
        collector.stderr_text()
    );
    collector.stop();
}

/// N lines pushed by `python-logging-loki` (the JSON push API) arrive once each through the
/// `loki` receiver, the line as body and the stream labels as attributes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_logging_loki_lines_arrive() {
    const N: usize = 200;
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let ports = Ports::new();
    let collector = Collector::start(
        "loki-python",
        &ports.fill(&format!(
            "receivers:\n  loki:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:HTTP_PORT\nexporters:\n  otlp:\n    endpoint: {sink_addr}\n    tls: {{insecure: true}}\nservice:\n  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}\n  pipelines:\n    logs: {{receivers: [loki], exporters: [otlp]}}\n"
        )),
    );
    let url = format!("http://127.0.0.1:{}/loki/api/v1/push", ports.http);
    let report = loki_client(&url, N, &[]).await;
    assert_eq!(report["errors"], 0, "{report}");
    let records = || {
        recorded
            .logs
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| r.resource_logs.clone())
            .flat_map(|r| r.scope_logs)
            .flat_map(|s| s.log_records)
            .collect::<Vec<_>>()
    };
    let all = eventually(Duration::from_secs(20), || records().len() >= N).await;
    assert!(
        all,
        "{} of {N}\n{}",
        records().len(),
        collector.stderr_text()
    );
    let got = records();
    assert_eq!(got.len(), N);
    let mut bodies: Vec<String> = got
        .iter()
        .map(|r| match r.body.as_ref().and_then(|b| b.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => s.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    bodies.sort();
    let mut want: Vec<String> = (0..N).map(|i| format!("loki line {i}")).collect();
    want.sort();
    assert_eq!(bodies, want);
    for r in &got {
        assert_eq!(
            attr(&r.attributes, "application").as_deref(),
            Some("py-loki")
        );
        assert_eq!(attr(&r.attributes, "severity").as_deref(), Some("warning"));
        assert_eq!(
            attr(&r.attributes, "logger").as_deref(),
            Some("ferrotel-e2e")
        );
        assert!(r.time_unix_nano > 1_600_000_000_000_000_000);
    }
    collector.stop();
}

/// The Helm chart's `jaeger` receiver (all four protocols, as its merged default config has
/// them) through the binary: Jaeger Thrift payloads written by Apache Thrift's Python writers
/// arrive over HTTP and both UDP protocols, each span once, and the receiver's counters carry
/// Go's transport names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jaeger_thrift_from_apache_thrift_over_http_and_udp_arrives() {
    let (batches, per) = (4, 25);
    let payloads = crate::compat_protocols::jaeger_thrift_payloads(batches, per);
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let ports = Ports::new();
    // UDP ports numbered as TCP ones Ports reserved (separate namespaces)
    let collector = Collector::start(
        "jaeger-thrift",
        &ports.fill(&format!(
            "receivers:\n  jaeger:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:GRPC_PORT\n      thrift_http:\n        endpoint: 127.0.0.1:HTTP_PORT\n      thrift_compact:\n        endpoint: 127.0.0.1:GRPC_PORT\n      thrift_binary:\n        endpoint: 127.0.0.1:HEALTH_PORT\nexporters:\n  otlp:\n    endpoint: {sink_addr}\n    tls: {{insecure: true}}\nservice:\n  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}\n  pipelines:\n    traces: {{receivers: [jaeger], exporters: [otlp]}}\n"
        )),
    );
    let client = reqwest::Client::new();
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for (kind, body) in &payloads {
        match *kind {
            "http" => {
                let resp = client
                    .post(format!("http://127.0.0.1:{}/api/traces", ports.http))
                    .header("content-type", "application/x-thrift")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 202);
            }
            "binary" => {
                udp.send_to(body, ("127.0.0.1", ports.health))
                    .await
                    .unwrap();
            }
            _ => {
                udp.send_to(body, ("127.0.0.1", ports.grpc)).await.unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let n = 3 * batches * per;
    let all = eventually(Duration::from_secs(20), || {
        spans(&recorded.traces.lock().unwrap()).len() >= n
    })
    .await;
    assert!(all, "{}", collector.stderr_text());
    let got = spans(&recorded.traces.lock().unwrap());
    assert_eq!(got.len(), n, "each span once");
    // each (batch, span) arrived once per protocol
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (svc, s) in &got {
        assert!(svc.starts_with("thrift-svc-"), "{svc}");
        *seen.entry(s.name.clone()).or_default() += 1;
    }
    assert_eq!(seen.len(), batches * per);
    assert!(seen.values().all(|c| *c == 3), "{seen:?}");
    let text = crate::harness::http_get(&format!("http://127.0.0.1:{}/metrics", ports.metrics)).1;
    for transport in ["collector_http", "udp_thrift_binary", "udp_thrift_compact"] {
        let accepted = crate::harness::metric_value(
            &text,
            "otelcol_receiver_accepted_spans",
            &[("receiver", "jaeger"), ("transport", transport)],
        );
        assert_eq!(
            accepted,
            Some((batches * per) as f64),
            "{transport}:\n{text}"
        );
    }
    let (code, _, stderr) = collector.stop();
    assert_eq!(code, 0, "{stderr}");
}

/// The real Jaeger Python client (`jaeger-client`, compact Thrift over UDP, as to a Jaeger
/// agent's 6831) into the `thrift_compact` protocol: every span arrives once, with its
/// service, kind, typed tags, the child's parent and its log as an event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_jaeger_client_spans_arrive_over_udp() {
    const N: usize = 100;
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let ports = Ports::new();
    let collector = Collector::start(
        "jaeger-client",
        &ports.fill(&format!(
            "receivers:\n  jaeger:\n    protocols:\n      thrift_compact:\n        endpoint: 127.0.0.1:GRPC_PORT\nexporters:\n  otlp:\n    endpoint: {sink_addr}\n    tls: {{insecure: true}}\nservice:\n  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}\n  pipelines:\n    traces: {{receivers: [jaeger], exporters: [otlp]}}\n"
        )),
    );
    let port = ports.grpc;
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python())
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/e2e/python/jaeger_client_spans.py"
            ))
            .args([port.to_string(), N.to_string()])
            .output()
            .expect("run the Python Jaeger client")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "Python Jaeger client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["sent"], 2 * N as u64, "{report}");
    let all = eventually(Duration::from_secs(20), || {
        spans(&recorded.traces.lock().unwrap()).len() >= 2 * N
    })
    .await;
    assert!(all, "{}", collector.stderr_text());
    let got = spans(&recorded.traces.lock().unwrap());
    assert_eq!(got.len(), 2 * N, "each span once");
    let by_name: BTreeMap<String, (String, Span)> = got
        .into_iter()
        .map(|(svc, s)| (s.name.clone(), (svc, s)))
        .collect();
    for i in 0..N {
        let (svc, parent) = &by_name[&format!("parent-{i}")];
        let (_, child) = &by_name[&format!("child-{i}")];
        assert_eq!(svc, "py-jaeger");
        assert_eq!(parent.kind, 2, "SERVER");
        assert_eq!(child.kind, 3, "CLIENT");
        assert_eq!(child.parent_span_id, parent.span_id);
        assert_eq!(child.trace_id, parent.trace_id);
        assert_eq!(
            attr(&parent.attributes, "order.id"),
            Some(format!(
                "{:?}",
                Some(opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(i as i64))
            ))
        );
        assert_eq!(child.events.len(), 1);
        assert_eq!(child.events[0].name, "retry");
        let status = parent.status.clone().unwrap_or_default().code;
        assert_eq!(status, if i % 3 == 0 { 2 } else { 0 }, "{parent:?}");
    }
    let (code, _, stderr) = collector.stop();
    assert_eq!(code, 0, "{stderr}");
}
