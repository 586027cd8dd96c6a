//! Signals: SIGTERM drains what a batch still holds; SIGHUP reloads, and keeps the running
//! graph when the new config is invalid.

use std::time::{Duration, Instant};

use crate::harness::{http_get, Collector, Ports};

const ONE_SPAN: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"drain-test"}}]},"scopeSpans":[{"spans":[{"traceId":"0123456789abcdef0123456789abcdef","spanId":"0123456789abcdef","name":"held-by-batch","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000500000000"}]}]}]}"#;

fn post_span(port: u16) -> std::thread::JoinHandle<u16> {
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{ONE_SPAN}",
            ONE_SPAN.len()
        )
        .unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf)
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    })
}

#[test]
fn sigterm_drains_a_batch_that_was_still_buffered() {
    let ports = Ports::new();
    let config = ports.fill(
        r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:HTTP_PORT
processors:
  batch:
    timeout: 60s
    send_batch_size: 100000
exporters:
  debug:
    verbosity: detailed
service:
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
"#,
    );
    let collector = Collector::start("drain", &config);
    let client = post_span(ports.http);
    // the batch holds the span (60 s timeout, far from its size): nothing printed yet
    std::thread::sleep(Duration::from_millis(500));
    assert!(!collector.stdout_text().contains("held-by-batch"));
    let started = Instant::now();
    let (code, stdout, stderr) = collector.stop();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "drained promptly, not at the deadline"
    );
    assert!(
        stdout.contains("held-by-batch"),
        "the buffered span was exported on shutdown:\n{stdout}\n{stderr}"
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        client.join().unwrap(),
        200,
        "the client was answered once its span was handed on"
    );
}

#[test]
fn sighup_reloads_and_keeps_the_old_graph_when_the_new_config_is_invalid() {
    let ports = Ports::new();
    let template = r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:HTTP_PORT
exporters:
  debug:
    verbosity: VERBOSITY
service:
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
"#;
    let collector = Collector::start(
        "reload",
        &ports.fill(&template.replace("VERBOSITY", "basic")),
    );
    // an invalid config: the reload is refused and the old graph keeps serving
    std::fs::write(
        &collector.config_path,
        ports.fill(&template.replace("VERBOSITY", "shouty")),
    )
    .unwrap();
    collector.signal("HUP");
    collector.wait_for_stderr("Config reload failed", Duration::from_secs(10));
    // the problem's key path is on the error's next line, which may not have been read yet
    collector.wait_for_stderr("exporters::debug::verbosity", Duration::from_secs(10));
    assert_eq!(
        post_span(ports.http).join().unwrap(),
        200,
        "still serving after a failed reload"
    );

    // a valid config: the new graph replaces the old one (detailed prints span names)
    std::fs::write(
        &collector.config_path,
        ports.fill(&template.replace("VERBOSITY", "detailed")),
    )
    .unwrap();
    collector.signal("HUP");
    collector.wait_for_stderr("Config reloaded", Duration::from_secs(10));
    assert_eq!(post_span(ports.http).join().unwrap(), 200);
    assert!(
        collector.wait_for_stdout("held-by-batch", Duration::from_secs(5)),
        "{}",
        collector.stdout_text()
    );
    let (status, _) = http_get(&format!("http://127.0.0.1:{}/metrics", ports.metrics));
    assert_eq!(status, 200, "own metrics survive the reload");
    let (code, _, stderr) = collector.stop();
    assert_eq!(code, 0, "{stderr}");
}

/// A client sending steadily over gRPC through a receiver the reload does not change sees
/// no refused or failed request, and every span it sent arrives once: the receiver keeps
/// listening, the unchanged exporter keeps its queue, the changed pipeline is rebuilt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_keeps_an_unchanged_receiver_serving_through_the_reload() {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    let (recorded, sink_addr, _stop) = crate::sink::start(0).await;
    let ports = Ports::new();
    let template = format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:GRPC_PORT
processors:
  attributes:
    actions: [{{key: reloaded, value: "yes", action: insert}}]
exporters:
  otlp:
    endpoint: {sink_addr}
    tls: {{insecure: true}}
  debug:
    verbosity: VERBOSITY
service:
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
  pipelines:
    traces:
      receivers: [otlp]
      processors: [PROCESSORS]
      exporters: [otlp, debug]
"#
    );
    let config = |verbosity: &str, processors: &str| {
        ports.fill(
            &template
                .replace("VERBOSITY", verbosity)
                .replace("PROCESSORS", processors),
        )
    };
    let collector = Collector::start("reload-diff", &config("basic", ""));
    let mut client = TraceServiceClient::connect(format!("http://127.0.0.1:{}", ports.grpc))
        .await
        .unwrap();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let failures = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = {
        let (sent, failures, stop) = (sent.clone(), failures.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            // bounded: at most 2,000 requests
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && i < 2000 {
                let span = Span {
                    trace_id: (i as u128 + 1).to_be_bytes().to_vec(),
                    span_id: (i + 1).to_be_bytes().to_vec(),
                    name: format!("steady-{i}"),
                    ..Default::default()
                };
                let req = ExportTraceServiceRequest {
                    resource_spans: vec![ResourceSpans {
                        scope_spans: vec![ScopeSpans {
                            spans: vec![span],
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                };
                match client.export(req).await {
                    Ok(_) => {
                        sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    Err(e) => failures.lock().unwrap().push(format!("request {i}: {e}")),
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    std::fs::write(&collector.config_path, config("detailed", "attributes")).unwrap();
    collector.signal("HUP");
    let reloaded = crate::sink::eventually(Duration::from_secs(15), || {
        collector.stderr_text().contains("Config reloaded")
    })
    .await;
    assert!(reloaded, "{}", collector.stderr_text());
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    sender.await.unwrap();

    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "refused or failed during the reload: {failures:?}"
    );
    let sent = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(sent > 100, "the client kept sending: {sent}");
    let names = || -> Vec<(String, bool)> {
        recorded
            .traces
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| r.resource_spans.iter())
            .flat_map(|r| r.scope_spans.iter())
            .flat_map(|s| s.spans.iter())
            .map(|s| {
                (
                    s.name.clone(),
                    s.attributes.iter().any(|a| a.key == "reloaded"),
                )
            })
            .collect()
    };
    assert!(
        crate::sink::eventually(Duration::from_secs(10), || names().len() >= sent).await,
        "{} of {sent} arrived",
        names().len()
    );
    let got = names();
    let unique: std::collections::BTreeSet<&String> = got.iter().map(|(n, _)| n).collect();
    assert_eq!(unique.len(), sent, "every span once");
    assert_eq!(got.len(), sent, "no duplicates");
    assert!(got.iter().any(|(_, r)| *r), "the new pipeline ran");
    assert!(got.iter().any(|(_, r)| !*r), "the old pipeline ran before");
    let stderr = collector.stderr_text();
    assert!(
        stderr.contains("kept receivers: otlp") && stderr.contains("kept exporters: otlp"),
        "{stderr}"
    );
    let (code, _, stderr) = collector.stop();
    assert_eq!(code, 0, "{stderr}");
}
