//! Real OTLP clients this project did not write (the `opentelemetry-otlp` crate over gRPC
//! and HTTP/protobuf, and the OTLP specification's JSON examples over HTTP) → Ferrotel →
//! debug output and `/metrics` counters.

use std::time::Duration;

use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;

use crate::harness::{http_get, metric_value, Collector, Ports};

const CONFIG: &str = r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:GRPC_PORT
      http:
        endpoint: 127.0.0.1:HTTP_PORT
processors:
  batch:
    timeout: 100ms
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
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
"#;

fn resource(name: &str) -> Resource {
    Resource::builder()
        .with_service_name(name.to_string())
        .build()
}

/// Send one span, one counter point and one log record with the SDK over `protocol`.
/// Runs on a blocking thread: the SDK's processors block while they export.
fn send_with_sdk(endpoint_base: String, grpc: bool, tag: &'static str) {
    let url = |path: &str| {
        if grpc {
            endpoint_base.clone()
        } else {
            format!("{endpoint_base}{path}")
        }
    };
    // traces
    let span_exporter = if grpc {
        opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(url(""))
            .build()
    } else {
        opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url("/v1/traces"))
            .build()
    }
    .unwrap();
    let tracer_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(span_exporter)
        .with_resource(resource(tag))
        .build();
    let tracer = tracer_provider.tracer("e2e");
    tracer.in_span(format!("span-{tag}"), |_| {});
    tracer_provider.shutdown().unwrap();

    // metrics
    let metric_exporter = if grpc {
        opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(url(""))
            .build()
    } else {
        opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url("/v1/metrics"))
            .build()
    }
    .unwrap();
    let meter_provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_periodic_exporter(metric_exporter)
        .with_resource(resource(tag))
        .build();
    let counter = meter_provider
        .meter("e2e")
        .u64_counter(format!("requests_{tag}"))
        .build();
    counter.add(7, &[KeyValue::new("route", "/api")]);
    meter_provider.force_flush().unwrap();
    meter_provider.shutdown().unwrap();

    // logs
    let log_exporter = if grpc {
        opentelemetry_otlp::LogExporter::builder()
            .with_tonic()
            .with_endpoint(url(""))
            .build()
    } else {
        opentelemetry_otlp::LogExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url("/v1/logs"))
            .build()
    }
    .unwrap();
    let logger_provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
        .with_simple_exporter(log_exporter)
        .with_resource(resource(tag))
        .build();
    let logger = logger_provider.logger("e2e");
    let mut record = logger.create_log_record();
    record.set_severity_number(Severity::Warn);
    record.set_severity_text("WARN");
    record.set_body(format!("log-{tag}").into());
    logger.emit(record);
    logger_provider.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_clients_over_grpc_and_http_reach_the_debug_exporter_and_the_counters() {
    let ports = Ports::new();
    let collector = Collector::start("sdk", &ports.fill(CONFIG));

    let grpc = format!("http://127.0.0.1:{}", ports.grpc);
    tokio::task::spawn_blocking(move || send_with_sdk(grpc, true, "grpc"))
        .await
        .unwrap();
    let http = format!("http://127.0.0.1:{}", ports.http);
    tokio::task::spawn_blocking(move || send_with_sdk(http, false, "http"))
        .await
        .unwrap();

    for needle in [
        "span-grpc",
        "span-http",
        "requests_grpc",
        "requests_http",
        "log-grpc",
        "log-http",
    ] {
        assert!(
            collector.wait_for_stdout(needle, Duration::from_secs(10)),
            "{needle} not in the debug output:\n{}\nstderr:\n{}",
            collector.stdout_text(),
            collector.stderr_text()
        );
    }
    let out = collector.stdout_text();
    assert!(
        out.contains("service.name: Str(grpc)"),
        "resource attributes are printed:\n{out}"
    );
    assert!(out.contains("Body: Str(log-http)"));
    assert!(out.contains("SeverityText: WARN"));

    // the debug exporter prints before its send is counted: read the counters once both
    // sends are in (at most 5 s)
    let url = format!("http://127.0.0.1:{}/metrics", ports.metrics);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let (status, metrics) = loop {
        let (status, text) = http_get(&url);
        let sent = |what: &str| {
            metric_value(
                &text,
                &format!("otelcol_exporter_sent_{what}"),
                &[("exporter", "debug")],
            )
            .unwrap_or(0.0)
        };
        if (sent("spans") >= 2.0 && sent("log_records") >= 2.0)
            || std::time::Instant::now() > deadline
        {
            break (status, text);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status, 200);
    let accepted = |transport: &str, what: &str| {
        metric_value(
            &metrics,
            &format!("otelcol_receiver_accepted_{what}"),
            &[("receiver", "otlp"), ("transport", transport)],
        )
        .unwrap_or_else(|| panic!("no accepted {what} for {transport}:\n{metrics}"))
    };
    assert_eq!(accepted("grpc", "spans"), 1.0);
    assert_eq!(accepted("http", "spans"), 1.0);
    assert_eq!(accepted("grpc", "log_records"), 1.0);
    assert_eq!(accepted("http", "log_records"), 1.0);
    assert!(accepted("grpc", "metric_points") >= 1.0);
    assert_eq!(
        metric_value(
            &metrics,
            "otelcol_exporter_sent_spans",
            &[("exporter", "debug")]
        ),
        Some(2.0)
    );
    assert_eq!(
        metric_value(
            &metrics,
            "otelcol_exporter_sent_log_records",
            &[("exporter", "debug")]
        ),
        Some(2.0)
    );
    assert_eq!(
        metric_value(
            &metrics,
            "otelcol_processor_incoming_items",
            &[("processor", "batch"), ("otel_signal", "traces")]
        ),
        Some(2.0)
    );
    assert!(metric_value(&metrics, "otelcol_process_uptime", &[]).unwrap() > 0.0);
    assert!(metric_value(&metrics, "otelcol_process_memory_rss", &[]).unwrap() > 1e6);
    assert!(metrics.contains("target_info{"), "{metrics}");
    assert!(
        !metrics.contains("_total"),
        "Go's names carry no _total suffix"
    );
    let (code, _, stderr) = collector.stop();
    assert_eq!(code, 0, "{stderr}");
}

fn example(name: &str) -> String {
    let path = format!(
        "{}/../shared/testdata/otlp-examples/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_json_examples_of_the_specification_are_accepted() {
    let ports = Ports::new();
    let collector = Collector::start("json", &ports.fill(CONFIG));
    let client = reqwest::Client::new();
    for (path, file, needle) in [
        (
            "/v1/traces",
            "trace.json",
            "5b8efff798038103d269b633813fc60c",
        ),
        ("/v1/metrics", "metrics.json", "my.counter"),
        ("/v1/logs", "logs.json", "Example log record"),
    ] {
        let resp = client
            .post(format!("http://127.0.0.1:{}{path}", ports.http))
            .header("content-type", "application/json")
            .body(example(file))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{file}");
        assert_eq!(resp.headers()["content-type"], "application/json");
        assert!(
            collector.wait_for_stdout(needle, Duration::from_secs(10)),
            "{needle}:\n{}",
            collector.stdout_text()
        );
    }
    // malformed input is refused and the process keeps serving
    let bad = client
        .post(format!("http://127.0.0.1:{}/v1/traces", ports.http))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let truncated = client
        .post(format!("http://127.0.0.1:{}/v1/traces", ports.http))
        .header("content-type", "application/x-protobuf")
        .body(vec![0x0a, 0xff, 0x01])
        .send()
        .await
        .unwrap();
    assert_eq!(truncated.status(), 400);
    let wrong_type = client
        .post(format!("http://127.0.0.1:{}/v1/traces", ports.http))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 415);
    let get = client
        .get(format!("http://127.0.0.1:{}/v1/traces", ports.http))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    let again = client
        .post(format!("http://127.0.0.1:{}/v1/logs", ports.http))
        .header("content-type", "application/json")
        .body(example("logs.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "still serving after bad requests");
    let (code, _, stderr) = collector.stop();
    assert_eq!(code, 0, "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limiter_refusal_reaches_the_client_as_503_and_unavailable() {
    let ports = Ports::new();
    let config = ports.fill(
        r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:GRPC_PORT
      http:
        endpoint: 127.0.0.1:HTTP_PORT
processors:
  memory_limiter:
    check_interval: 50ms
    limit_mib: 1
exporters:
  debug:
service:
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
  pipelines:
    logs:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [debug]
"#,
    );
    let collector = Collector::start("memlimit", &config);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/v1/logs", ports.http))
        .header("content-type", "application/json")
        .body(example("logs.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503, "a process far above 1 MiB is refused");

    use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    let mut client = LogsServiceClient::connect(format!("http://127.0.0.1:{}", ports.grpc))
        .await
        .unwrap();
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    // one record: Go (and Ferrotel) acknowledge an empty request without consuming it
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default()],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let status = client.export(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");

    let (_, metrics) = http_get(&format!("http://127.0.0.1:{}/metrics", ports.metrics));
    let refused = metric_value(
        &metrics,
        "otelcol_receiver_refused_log_records",
        &[("receiver", "otlp"), ("transport", "http")],
    );
    assert!(refused.unwrap_or(0.0) >= 1.0, "{metrics}");
    collector.stop();
}

/// `readers: [periodic: {exporter: {otlp: …}}]` pushes the collector's own metrics over OTLP
/// (gRPC here) every interval, with the service identity as the resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_metrics_are_pushed_by_a_periodic_reader() {
    let (recorded, sink_addr, _stop) = crate::sink::start(0).await;
    let ports = crate::harness::Ports::new();
    let config = ports.fill(&format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:GRPC_PORT
exporters:
  nop:
service:
  telemetry:
    resource:
      deployment.environment: test
    metrics:
      readers:
        - periodic:
            interval: 200
            exporter:
              otlp:
                protocol: grpc
                endpoint: http://{sink_addr}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
"#
    ));
    let collector = crate::harness::Collector::start("periodic-reader", &config);
    let names = || -> Vec<String> {
        recorded
            .metrics
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| r.resource_metrics.iter())
            .flat_map(|r| r.scope_metrics.iter())
            .flat_map(|s| s.metrics.iter())
            .map(|m| m.name.clone())
            .collect()
    };
    assert!(
        crate::sink::eventually(Duration::from_secs(10), || !names().is_empty()).await,
        "nothing pushed:\n{}",
        collector.stderr_text()
    );
    let got = names();
    assert!(
        got.iter().all(|n| n.starts_with("otelcol_")),
        "only own metrics, no target_info: {got:?}"
    );
    let resource: Vec<(String, String)> = recorded.metrics.lock().unwrap()[0].resource_metrics[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => {
                    s.clone()
                }
                _ => String::new(),
            };
            (kv.key.clone(), v)
        })
        .collect();
    assert!(
        resource.contains(&("service.name".into(), "ferrotel".into())),
        "{resource:?}"
    );
    assert!(resource.contains(&("deployment.environment".into(), "test".into())));
    let (code, _, stderr) = collector.stop();
    assert_eq!(code, 0, "{stderr}");
}
