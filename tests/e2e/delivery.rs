//! Delivery through Ferrotel's exporters: Ferrotel → Ferrotel over gRPC and HTTP, a backend
//! that is down for a while, a full queue, and a persistent queue that survives kill -9.

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use crate::harness::{http_get, metric_value, temp_dir, Collector, Ports};
use crate::sink::{self, eventually};

fn example(name: &str) -> String {
    let path = format!(
        "{}/../shared/testdata/otlp-examples/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every (resource, scope, item) triple of a set of requests, protobuf-encoded and sorted:
/// two sets are equal when every item arrived byte-identical in content.
fn log_triples(reqs: &[ExportLogsServiceRequest]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = reqs
        .iter()
        .flat_map(|r| r.resource_logs.iter())
        .flat_map(|r| {
            r.scope_logs.iter().flat_map(move |s| {
                s.log_records.iter().map(move |l| {
                    [
                        r.resource
                            .as_ref()
                            .map(Message::encode_to_vec)
                            .unwrap_or_default(),
                        s.scope
                            .as_ref()
                            .map(Message::encode_to_vec)
                            .unwrap_or_default(),
                        l.encode_to_vec(),
                    ]
                    .concat()
                })
            })
        })
        .collect();
    out.sort();
    out
}

fn span_triples(reqs: &[ExportTraceServiceRequest]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = reqs
        .iter()
        .flat_map(|r| r.resource_spans.iter())
        .flat_map(|r| {
            r.scope_spans.iter().flat_map(move |s| {
                s.spans.iter().map(move |x| {
                    [
                        r.resource
                            .as_ref()
                            .map(Message::encode_to_vec)
                            .unwrap_or_default(),
                        s.scope
                            .as_ref()
                            .map(Message::encode_to_vec)
                            .unwrap_or_default(),
                        x.encode_to_vec(),
                    ]
                    .concat()
                })
            })
        })
        .collect();
    out.sort();
    out
}

fn metric_triples(reqs: &[ExportMetricsServiceRequest]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = reqs
        .iter()
        .flat_map(|r| r.resource_metrics.iter())
        .flat_map(|r| {
            r.scope_metrics.iter().flat_map(move |s| {
                s.metrics.iter().map(move |m| {
                    [
                        r.resource
                            .as_ref()
                            .map(Message::encode_to_vec)
                            .unwrap_or_default(),
                        s.scope
                            .as_ref()
                            .map(Message::encode_to_vec)
                            .unwrap_or_default(),
                        m.encode_to_vec(),
                    ]
                    .concat()
                })
            })
        })
        .collect();
    out.sort();
    out
}

fn repeat(v: Vec<Vec<u8>>, k: usize) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = v
        .iter()
        .flat_map(|x| std::iter::repeat_n(x.clone(), k))
        .collect();
    out.sort();
    out
}

const VARIANTS: [(&str, &str); 8] = [
    ("otlp/gzip", "otlp:\n    endpoint: 127.0.0.1:GATEWAY_GRPC\n    tls: {insecure: true}\n"),
    ("otlp/zstd", "otlp:\n    endpoint: http://127.0.0.1:GATEWAY_GRPC\n    tls: {insecure: true}\n    compression: zstd\n"),
    ("otlp/none", "otlp:\n    endpoint: 127.0.0.1:GATEWAY_GRPC\n    tls: {insecure: true}\n    compression: none\n"),
    ("otlphttp/proto", "otlphttp:\n    endpoint: http://127.0.0.1:GATEWAY_HTTP\n"),
    ("otlphttp/json", "otlphttp:\n    endpoint: http://127.0.0.1:GATEWAY_HTTP\n    encoding: json\n"),
    ("otlphttp/zstd", "otlphttp:\n    endpoint: http://127.0.0.1:GATEWAY_HTTP\n    compression: zstd\n"),
    ("otlphttp/deflate", "otlphttp:\n    endpoint: http://127.0.0.1:GATEWAY_HTTP\n    compression: deflate\n"),
    ("otlphttp/snappy", "otlphttp:\n    endpoint: http://127.0.0.1:GATEWAY_HTTP\n    compression: snappy\n    encoding: json\n"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrotel_to_ferrotel_over_grpc_and_http_every_item_arrives_identical() {
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let gateway_ports = Ports::new();
    let gateway = Collector::start(
        "gateway",
        &gateway_ports.fill(&format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:GRPC_PORT\n      http:\n        endpoint: 127.0.0.1:HTTP_PORT\nexporters:\n  otlp:\n    endpoint: {sink_addr}\n    tls: {{insecure: true}}\nservice:\n  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}\n  pipelines:\n    traces: {{receivers: [otlp], exporters: [otlp]}}\n    metrics: {{receivers: [otlp], exporters: [otlp]}}\n    logs: {{receivers: [otlp], exporters: [otlp]}}\n"
        )),
    );
    let mut exporters = String::new();
    for (name, body) in VARIANTS {
        let body = body
            .replace("GATEWAY_GRPC", &gateway_ports.grpc.to_string())
            .replace("GATEWAY_HTTP", &gateway_ports.http.to_string());
        exporters.push_str(&format!(
            "  {name}:\n    {}",
            body.split_once('\n').unwrap().1.trim_start()
        ));
        exporters.push('\n');
    }
    let names: Vec<&str> = VARIANTS.iter().map(|(n, _)| *n).collect();
    let list = names.join(", ");
    let agent_ports = Ports::new();
    let agent = Collector::start(
        "agent",
        &agent_ports.fill(&format!(
            "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:HTTP_PORT\nexporters:\n{exporters}service:\n  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}\n  pipelines:\n    traces: {{receivers: [otlp], exporters: [{list}]}}\n    metrics: {{receivers: [otlp], exporters: [{list}]}}\n    logs: {{receivers: [otlp], exporters: [{list}]}}\n"
        )),
    );
    let client = reqwest::Client::new();
    for (path, file) in [
        ("/v1/traces", "trace.json"),
        ("/v1/metrics", "metrics.json"),
        ("/v1/logs", "logs.json"),
    ] {
        let resp = client
            .post(format!("http://127.0.0.1:{}{path}", agent_ports.http))
            .header("content-type", "application/json")
            .body(example(file))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{file}: {}", resp.text().await.unwrap());
    }
    let k = VARIANTS.len();
    let sent_traces: ExportTraceServiceRequest =
        serde_json::from_str(&example("trace.json")).unwrap();
    let sent_metrics: ExportMetricsServiceRequest =
        serde_json::from_str(&example("metrics.json")).unwrap();
    let sent_logs: ExportLogsServiceRequest = serde_json::from_str(&example("logs.json")).unwrap();
    let want_spans = repeat(span_triples(&[sent_traces]), k);
    let want_metrics = repeat(metric_triples(&[sent_metrics]), k);
    let want_logs = repeat(log_triples(&[sent_logs]), k);
    let arrived = eventually(Duration::from_secs(20), || {
        span_triples(&recorded.traces.lock().unwrap()).len() >= want_spans.len()
            && metric_triples(&recorded.metrics.lock().unwrap()).len() >= want_metrics.len()
            && log_triples(&recorded.logs.lock().unwrap()).len() >= want_logs.len()
    })
    .await;
    assert!(
        arrived,
        "agent:\n{}\ngateway:\n{}",
        agent.stderr_text(),
        gateway.stderr_text()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        span_triples(&recorded.traces.lock().unwrap()),
        want_spans,
        "every span, once per exporter, identical"
    );
    assert_eq!(
        metric_triples(&recorded.metrics.lock().unwrap()),
        want_metrics
    );
    assert_eq!(log_triples(&recorded.logs.lock().unwrap()), want_logs);
    agent.stop();
    gateway.stop();
}

fn log_request(body: &str) -> String {
    format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"delivery"}}}}]}},"scopeLogs":[{{"logRecords":[{{"timeUnixNano":"1700000000000000000","body":{{"stringValue":"{body}"}}}}]}}]}}]}}"#
    )
}

fn post_log(port: u16, body: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let payload = log_request(body);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    String::from_utf8_lossy(&buf)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn agent_config(ports: &Ports, sink_port: u16, extra_exporter: &str, extensions: &str) -> String {
    ports.fill(&format!(
        "{extensions}receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:HTTP_PORT\nexporters:\n  otlp:\n    endpoint: 127.0.0.1:{sink_port}\n    tls: {{insecure: true}}\n    retry_on_failure:\n      initial_interval: 50ms\n      max_interval: 200ms\n      max_elapsed_time: 0\n{extra_exporter}service:\n  {}telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}\n  pipelines:\n    logs: {{receivers: [otlp], exporters: [otlp]}}\n",
        if extensions.is_empty() { "" } else { "extensions: [file_storage]\n  " }
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_down_for_a_while_gets_everything_once_it_is_back() {
    // The backend answers UNAVAILABLE until it "comes back": a port left free for a later
    // sink can be taken by another test's server meanwhile, whose answers are not retried.
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    recorded.set_down(true);
    let sink_port = sink_addr.port();
    let ports = Ports::new();
    let agent = Collector::start("down-up", &agent_config(&ports, sink_port, "", ""));
    for i in 0..30 {
        assert_eq!(
            post_log(ports.http, &format!("d{i}")),
            Some(200),
            "accepted into the queue"
        );
    }
    agent.wait_for_stderr(
        "Will retry the request after interval",
        Duration::from_secs(10),
    );
    recorded.set_down(false);
    let all = eventually(Duration::from_secs(20), || {
        recorded.log_bodies().len() >= 30
    })
    .await;
    assert!(all, "{}", agent.stderr_text());
    let mut got = recorded.log_bodies();
    got.sort();
    let mut want: Vec<String> = (0..30).map(|i| format!("d{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    // The sink has the last request before the exporter has read its answer and counted it.
    let sent = |metrics: &str| {
        metric_value(
            metrics,
            "otelcol_exporter_sent_log_records",
            &[("exporter", "otlp")],
        )
    };
    let url = format!("http://127.0.0.1:{}/metrics", ports.metrics);
    eventually(Duration::from_secs(5), || {
        sent(&http_get(&url).1) == Some(30.0)
    })
    .await;
    let (_, metrics) = http_get(&url);
    assert_eq!(sent(&metrics), Some(30.0), "{metrics}");
    let failed = metric_value(
        &metrics,
        "otelcol_exporter_send_failed_log_records",
        &[("exporter", "otlp")],
    );
    assert_eq!(
        failed.unwrap_or(0.0),
        0.0,
        "nothing failed for good: {metrics}"
    );
    agent.stop();
}

/// The memory budget fills while the backend is down: the `batch` processor must not drop what
/// it acknowledged. Its merged send used to be charged a second time by the sending queue;
/// refused for that, it was dropped after 10 s of retries ("Sender failed"). Now the queue
/// takes over the batch's reservation, a refused send waits for as long as it takes, and the
/// clients get 503 once the budget is spent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_memory_budget_behind_batch_loses_nothing_acknowledged() {
    // down (UNAVAILABLE, retried) rather than a port left free: see the test above
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    recorded.set_down(true);
    let sink_port = sink_addr.port();
    let ports = Ports::new();
    let config = agent_config(&ports, sink_port, "", "")
        .replace(
            "exporters:\n  otlp:",
            "processors:\n  batch:\n    send_batch_size: 8\n    timeout: 300ms\nexporters:\n  otlp:",
        )
        .replace(
            "{receivers: [otlp], exporters: [otlp]}",
            "{receivers: [otlp], processors: [batch], exporters: [otlp]}",
        );
    let agent = Collector::start_with("budget-batch", &config, &["--memory-budget=16KiB"]);
    // Post until the budget refuses (503 after the 2 s accept wait), and once more after that.
    let mut accepted = Vec::new();
    let mut refused = 0;
    for i in 0..300 {
        match post_log(ports.http, &format!("m{i}")) {
            Some(200) => accepted.push(format!("m{i}")),
            Some(503) => {
                refused += 1;
                if refused == 2 {
                    break;
                }
            }
            other => panic!("post {i}: {other:?}\n{}", agent.stderr_text()),
        }
    }
    assert_eq!(
        refused,
        2,
        "the budget never filled: {}",
        agent.stderr_text()
    );
    assert!(accepted.len() >= 8, "{accepted:?}");
    // longer than the batch processor's old retry window, with the backend still down
    tokio::time::sleep(Duration::from_secs(12)).await;
    recorded.set_down(false);
    let all = eventually(Duration::from_secs(20), || {
        recorded.log_bodies().len() >= accepted.len()
    })
    .await;
    let stderr = agent.stderr_text();
    assert!(!stderr.contains("Sender failed"), "{stderr}");
    assert!(
        all,
        "{} of {} arrived\n{stderr}",
        recorded.log_bodies().len(),
        accepted.len()
    );
    let mut got = recorded.log_bodies();
    got.sort();
    accepted.sort();
    assert_eq!(got, accepted, "every acknowledged record, and only those");
    let (_, metrics) = http_get(&format!("http://127.0.0.1:{}/metrics", ports.metrics));
    assert_eq!(
        metric_value(&metrics, "otelcol_processor_batch_send_failed_items", &[]).unwrap_or(0.0),
        0.0,
        "{metrics}"
    );
    agent.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_with_503_and_the_clients_retry_succeeds_later() {
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    recorded.set_down(true);
    let ports = Ports::new();
    let config = agent_config(&ports, sink_addr.port(), "", "").replace(
        "    retry_on_failure:",
        "    sending_queue: {queue_size: 3, num_consumers: 1}\n    retry_on_failure:",
    );
    let agent = Collector::start("queue-full", &config);
    let mut refused = Vec::new();
    for i in 0..6 {
        match post_log(ports.http, &format!("q{i}")) {
            Some(200) => {}
            Some(503) => refused.push(i),
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(
        refused,
        vec![3, 4, 5],
        "the queue holds 3; the rest are refused with 503"
    );
    agent.wait_for_stderr(
        "Requests refused by the sending queue",
        Duration::from_secs(5),
    );
    recorded.set_down(false);
    // the client retries what was refused
    for i in refused {
        let ok = eventually(Duration::from_secs(10), || {
            post_log(ports.http, &format!("q{i}")) == Some(200)
        })
        .await;
        assert!(ok);
    }
    assert!(eventually(Duration::from_secs(10), || recorded.log_bodies().len() == 6).await);
    let (_, metrics) = http_get(&format!("http://127.0.0.1:{}/metrics", ports.metrics));
    // every refusal (the first three and any client retry that still found the queue full)
    // is counted once by the queue and once by the receiver
    let enqueue_failed = metric_value(
        &metrics,
        "otelcol_exporter_enqueue_failed_log_records",
        &[("exporter", "otlp")],
    )
    .unwrap();
    let refused = metric_value(
        &metrics,
        "otelcol_receiver_refused_log_records",
        &[("receiver", "otlp"), ("transport", "http")],
    )
    .unwrap();
    assert!(enqueue_failed >= 3.0, "{metrics}");
    assert_eq!(enqueue_failed, refused, "{metrics}");
    agent.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_queue_loses_nothing_across_kill_9() {
    // down (UNAVAILABLE, retried) rather than a port left free: see the tests above
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    recorded.set_down(true);
    let sink_port = sink_addr.port();
    let dir = temp_dir("persistent-queue");
    let storage_dir = dir.join("storage");
    std::fs::create_dir_all(&storage_dir).unwrap();
    let extensions = format!(
        "extensions:\n  file_storage:\n    directory: {}\n",
        storage_dir.display()
    );
    let exporter_queue = "    sending_queue: {storage: file_storage, num_consumers: 2}\n";
    let mut acknowledged: Vec<String> = Vec::new();
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let kills = 3;
    for round in 0..kills {
        let ports = Ports::new();
        let config = agent_config(&ports, sink_port, "", &extensions).replace(
            "    retry_on_failure:",
            &format!("{exporter_queue}    retry_on_failure:"),
        );
        let mut agent = Collector::start(&format!("pq-{round}"), &config);
        // send while a thread kills the process at a pseudo-random point
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kill_after = Duration::from_millis(50 + seed % 250);
        let pid = agent.pid();
        let killer = std::thread::spawn(move || {
            std::thread::sleep(kill_after);
            std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .unwrap();
        });
        // bounded: the kill comes well before 5000 requests
        for i in 0..5000 {
            let body = format!("k{round}-{i}");
            match post_log(ports.http, &body) {
                Some(200) => acknowledged.push(body),
                _ => break,
            }
        }
        killer.join().unwrap();
        let _ = agent.child.wait();
    }
    assert!(
        acknowledged.len() >= kills,
        "some requests were acknowledged before each kill"
    );
    // the backend comes up, the agent starts again and sends everything it kept
    recorded.set_down(false);
    let ports = Ports::new();
    let config = agent_config(&ports, sink_port, "", &extensions).replace(
        "    retry_on_failure:",
        &format!("{exporter_queue}    retry_on_failure:"),
    );
    let agent = Collector::start("pq-final", &config);
    let all = eventually(Duration::from_secs(30), || {
        let got = recorded.log_bodies();
        acknowledged.iter().all(|a| got.contains(a))
    })
    .await;
    let got = recorded.log_bodies();
    let missing: Vec<&String> = acknowledged.iter().filter(|a| !got.contains(a)).collect();
    assert!(
        all,
        "{} acknowledged records never arrived: {:?}\n{}",
        missing.len(),
        &missing[..missing.len().min(10)],
        agent.stderr_text()
    );
    let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
    for g in &got {
        *counts.entry(g).or_default() += 1;
    }
    let duplicates: usize = counts.values().map(|c| c - 1).sum();
    eprintln!(
        "persistent queue: {} acknowledged over {kills} kills, {duplicates} duplicates",
        acknowledged.len()
    );
    // at most one request in flight per consumer (2) at each kill
    assert!(duplicates <= 2 * kills, "{duplicates} duplicates");
    agent.stop();
}

/// A filelog poll that catches up reads up to 10,000 records at once; handed on as one
/// request that would be ~7 MB, more than a gRPC server accepts by default (4 MiB, Go's and
/// tonic's), and the server's refusal is permanent. The receiver cuts each poll into
/// requests of about 1 MiB, so every line arrives (this lost a Docker scenario's lines
/// written while the agent was down).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filelog_poll_that_catches_up_fits_a_grpc_servers_default_limit() {
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let dir = temp_dir("filelog-catch-up-files");
    let file = dir.join("app.log");
    let n = 12_000;
    let pad = "x".repeat(600);
    let mut text = String::with_capacity(n * 640);
    for i in 0..n {
        text.push_str(&format!("line {i} {pad}\n"));
    }
    std::fs::write(&file, text).unwrap();
    let ports = Ports::new();
    let agent = Collector::start(
        "filelog-catch-up",
        &ports.fill(&format!(
            "receivers:\n  filelog:\n    include: [{}]\n    start_at: beginning\nexporters:\n  otlp:\n    endpoint: {sink_addr}\n    tls: {{insecure: true}}\nservice:\n  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}\n  pipelines:\n    logs: {{receivers: [filelog], exporters: [otlp]}}\n",
            file.display()
        )),
    );
    let all = eventually(Duration::from_secs(30), || recorded.log_bodies().len() >= n).await;
    let bodies = recorded.log_bodies();
    let metrics = http_get(&format!("http://127.0.0.1:{}/metrics", ports.metrics)).1;
    assert!(
        all,
        "{} of {n} lines arrived\n{}\n{metrics}",
        bodies.len(),
        agent.stderr_text()
    );
    // the exporter's 10 consumers send requests side by side: their order is not kept
    let mut got = bodies.clone();
    got.sort();
    let mut want: Vec<String> = (0..n).map(|i| format!("line {i} {pad}")).collect();
    want.sort();
    assert_eq!(got, want, "every line once");
    let biggest = recorded
        .logs
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.encoded_len())
        .max()
        .unwrap_or(0);
    // about 1 MiB: the estimate leaves out a few bytes of resource and scope framing
    assert!(biggest <= (1 << 20) + 1024, "a request of {biggest} bytes");
    assert_eq!(
        metric_value(&metrics, "otelcol_exporter_send_failed_log_records", &[]).unwrap_or(0.0),
        0.0,
        "{metrics}"
    );
    agent.stop();
}

/// A request bigger than the destination's gRPC limit (4 MiB by default, Go's and tonic's):
/// the server refuses it for its size, and the exporter sends its items again in smaller
/// requests instead of dropping them (Go's exporter drops it as a permanent error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_destinations_size_limit_arrives_in_smaller_requests() {
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let ports = Ports::new();
    let agent = Collector::start(
        "over-the-limit",
        &ports.fill(&format!(
            "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:HTTP_PORT\nexporters:\n  otlp:\n    endpoint: {sink_addr}\n    tls: {{insecure: true}}\nservice:\n  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}\n  pipelines:\n    logs: {{receivers: [otlp], exporters: [otlp]}}\n"
        )),
    );
    let n = 8000;
    let pad = "p".repeat(700);
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: (0..n)
                    .map(|i| LogRecord {
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(format!("{i} {pad}"))),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let bytes = request.encode_to_vec();
    assert!(bytes.len() > 5 << 20, "{} bytes", bytes.len());
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/v1/logs", ports.http))
        .header("content-type", "application/x-protobuf")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let all = eventually(Duration::from_secs(20), || recorded.log_bodies().len() >= n).await;
    let metrics = http_get(&format!("http://127.0.0.1:{}/metrics", ports.metrics)).1;
    assert!(
        all,
        "{} of {n} records arrived\n{}\n{metrics}",
        recorded.log_bodies().len(),
        agent.stderr_text()
    );
    let mut got = recorded.log_bodies();
    got.sort();
    let mut want: Vec<String> = (0..n).map(|i| format!("{i} {pad}")).collect();
    want.sort();
    assert_eq!(got, want, "every record once");
    assert_eq!(
        metric_value(&metrics, "otelcol_exporter_sent_log_records", &[]),
        Some(n as f64),
        "{metrics}"
    );
    assert!(
        agent
            .stderr_text()
            .contains("sending its items in smaller requests"),
        "{}",
        agent.stderr_text()
    );
    agent.stop();
}

/// Protobuf received and forwarded uncompressed goes out as the received bytes, the gRPC
/// body built from the batch's pieces (not tonic's codec): the Go collector must take it
/// as any gRPC client's request. Client → Ferrotel (HTTP protobuf, `batch` merging many
/// requests) → `otlp` with `compression: none` → the Go collector → the test sink: every
/// span arrives identical.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn received_protobuf_forwarded_uncompressed_is_taken_by_the_go_collector() {
    let oracle = crate::compat::oracle();
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let go_ports = Ports::new();
    let go = Collector::start_program(
        &oracle,
        "pieces-go",
        &go_ports.fill(&format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:GRPC_PORT\nexporters:\n  otlp:\n    endpoint: 127.0.0.1:{}\n    tls: {{insecure: true}}\nservice:\n  telemetry: {}\n  pipelines:\n    traces: {{receivers: [otlp], exporters: [otlp]}}\n",
            sink_addr.port(),
            crate::compat::TELEMETRY
        )),
        &[],
    );
    let agent_ports = Ports::new();
    let agent = Collector::start(
        "pieces-agent",
        &agent_ports.fill(&format!(
            "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:HTTP_PORT\nprocessors:\n  batch: {{send_batch_size: 400, timeout: 200ms}}\nexporters:\n  otlp:\n    endpoint: 127.0.0.1:{}\n    tls: {{insecure: true}}\n    compression: none\nservice:\n  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}\n  pipelines:\n    traces: {{receivers: [otlp], processors: [batch], exporters: [otlp]}}\n",
            go_ports.grpc
        )),
    );
    // 60 requests of the specification's example, each with its own span ids and, every
    // third, a long attribute, so that pieces of several sizes are merged and sent
    let example: ExportTraceServiceRequest = serde_json::from_str(&example("trace.json")).unwrap();
    let client = reqwest::Client::new();
    let mut sent = Vec::new();
    for i in 0..60u32 {
        let mut req = example.clone();
        for rs in &mut req.resource_spans {
            for ss in &mut rs.scope_spans {
                for (j, s) in ss.spans.iter_mut().enumerate() {
                    // never all zero, which Go reads as no id
                    s.span_id = [(i + 1).to_be_bytes(), (j as u32).to_be_bytes()].concat();
                    if i % 3 == 0 {
                        s.name = format!("{}-{}", s.name, "x".repeat(20_000));
                    }
                }
            }
        }
        let resp = client
            .post(format!("http://127.0.0.1:{}/v1/traces", agent_ports.http))
            .header("content-type", "application/x-protobuf")
            .body(req.encode_to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        sent.push(req);
    }
    // The Go collector re-encodes what it forwards (an empty `status` is written out), so
    // the spans are compared by id and name (the long names included), not by bytes.
    let ids = |reqs: &[ExportTraceServiceRequest]| {
        let mut out: Vec<(Vec<u8>, Vec<u8>, String)> = reqs
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .map(|s| (s.trace_id.clone(), s.span_id.clone(), s.name.clone()))
            .collect();
        out.sort();
        out
    };
    let want = ids(&sent);
    let arrived = eventually(Duration::from_secs(20), || {
        ids(&recorded.traces.lock().unwrap()).len() >= want.len()
    })
    .await;
    assert!(
        arrived,
        "agent:\n{}\nGo collector:\n{}",
        agent.stderr_text(),
        go.stderr_text()
    );
    let got = ids(&recorded.traces.lock().unwrap());
    let short = |v: &[(Vec<u8>, Vec<u8>, String)]| -> Vec<String> {
        v.iter()
            .map(|(t, s, n)| format!("{t:?}/{s:?}/{}", n.len()))
            .collect()
    };
    assert!(got == want, "{:?}\n{:?}", short(&got), short(&want));
    let (_, metrics) = http_get(&format!("http://127.0.0.1:{}/metrics", agent_ports.metrics));
    let failed = metric_value(&metrics, "otelcol_exporter_send_failed_spans", &[]).unwrap_or(0.0);
    assert_eq!(failed, 0.0, "{metrics}");
    agent.stop();
    go.stop();
}
