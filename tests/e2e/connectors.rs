//! Connectors through the binary: one intake pipeline split by the `forward` connector into
//! two pipelines that process the same logs differently (the shape of public configs that
//! split logs by severity: `logs/intake` → `forward` → `logs/error`, `logs/warn`, …).

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};

use crate::harness::{Collector, Ports};
use crate::sink::{self, eventually};

fn route_of(r: &LogRecord) -> Option<String> {
    r.attributes
        .iter()
        .find(|kv| kv.key == "route")
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_splits_one_intake_into_two_pipelines() {
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let ports = Ports::new();
    let config = ports.fill(&format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:GRPC_PORT
processors:
  attributes/a:
    actions: [{{key: route, value: a, action: insert}}]
  attributes/b:
    actions: [{{key: route, value: b, action: insert}}]
exporters:
  otlp:
    endpoint: {sink_addr}
    tls: {{insecure: true}}
connectors:
  forward:
service:
  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}
  pipelines:
    logs/intake:
      receivers: [otlp]
      exporters: [forward]
    logs/a:
      receivers: [forward]
      processors: [attributes/a]
      exporters: [otlp]
    logs/b:
      receivers: [forward]
      processors: [attributes/b]
      exporters: [otlp]
"#
    ));
    let collector = Collector::start("forward", &config);
    let mut client = LogsServiceClient::connect(format!("http://127.0.0.1:{}", ports.grpc))
        .await
        .unwrap();
    let records: Vec<LogRecord> = (0..10)
        .map(|i| LogRecord {
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(format!("line {i}"))),
            }),
            ..Default::default()
        })
        .collect();
    client
        .export(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
        .await
        .unwrap();
    let routes = || -> Vec<String> {
        recorded
            .logs
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| r.resource_logs.iter())
            .flat_map(|r| r.scope_logs.iter())
            .flat_map(|s| s.log_records.iter())
            .map(|l| route_of(l).unwrap_or_default())
            .collect()
    };
    assert!(
        eventually(Duration::from_secs(10), || routes().len() >= 20).await,
        "{:?}",
        routes()
    );
    let got = routes();
    assert_eq!(got.len(), 20, "each pipeline once, nothing more");
    assert_eq!(got.iter().filter(|r| *r == "a").count(), 10);
    assert_eq!(got.iter().filter(|r| *r == "b").count(), 10);
    let (code, _, stderr) = collector.stop();
    assert_eq!(code, 0, "{stderr}");
}

/// Spans from the real Python SDK through `spanmetrics` and `servicegraph` (the LGTM shape:
/// traces → connectors → metrics pipeline → remote write) into a real Prometheus: PromQL
/// returns the call counts, error counts, latency quantile and service-graph requests the
/// test computes from what it sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spanmetrics_and_servicegraph_reach_a_real_prometheus() {
    use crate::prometheus::{prometheus_bin, query, start};

    let bin = prometheus_bin();
    let prom_port = crate::harness::free_port();
    let dir = crate::harness::temp_dir("spanmetrics-prometheus");
    let prom_config = dir.join("prometheus.yml");
    std::fs::write(&prom_config, "global:\n  scrape_interval: 1s\n").unwrap();
    let _prom = start(&bin, &dir, &prom_config, prom_port);
    let ports = Ports::new();
    // config-examples/lgtm-red-metrics-config.yaml, its addresses moved to loopback ports and
    // its flush intervals shortened; Tempo is a loopback OTLP sink
    let (tempo, tempo_addr, _tempo_stop) = crate::sink::start(0).await;
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config-examples/lgtm-red-metrics-config.yaml"
    ))
    .unwrap();
    let config = example
        .replace("0.0.0.0:4317", &format!("127.0.0.1:{}", ports.grpc))
        .replace("0.0.0.0:4318", &format!("127.0.0.1:{}", ports.http))
        .replace("tempo:4317", &tempo_addr.to_string())
        .replace("prometheus:9090", &format!("127.0.0.1:{prom_port}"))
        .replace("metrics_flush_interval: 15s", "metrics_flush_interval: 1s")
        + &format!(
            "  telemetry: {{metrics: {{address: 127.0.0.1:{}}}}}\n",
            ports.metrics
        );
    let collector = Collector::start("spanmetrics", &config);
    // what is sent: name, kind, duration ms, count, errors
    let sent = [
        ("GET /users", "server", 5.0, 40, 10),
        ("SELECT users", "client", 30.0, 20, 0),
    ];
    let specs: Vec<String> = sent
        .iter()
        .map(|(n, k, ms, c, e)| format!("{n},{k},{ms},{c},{e}"))
        .collect();
    let endpoint = format!("127.0.0.1:{}", ports.grpc);
    // and 12 requests from frontend to shop, 3 of them failed on the server
    let mut args = vec![
        "--endpoint",
        endpoint.as_str(),
        "--service",
        "shop",
        "--call",
        "frontend,shop,12,3",
    ];
    for s in &specs {
        args.push("--span");
        args.push(s);
    }
    let out = std::process::Command::new(crate::python_sdk::python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/e2e/python/red_spans.py"
        ))
        .args(&args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let calls = |filter: &str| format!("sum(traces_span_metrics_calls_total{{{filter}}})");
    let expect = |q: String, want: f64| {
        let port = prom_port;
        async move {
            let ok = eventually(Duration::from_secs(20), || {
                query(port, &q).is_some_and(|v| (v - want).abs() < 1e-9)
            })
            .await;
            assert!(ok, "{q} = {:?}, want {want}", query(port, &q));
        }
    };
    for (name, _, _, count, errors) in sent {
        expect(
            calls(&format!("span_name=\"{name}\",service_name=\"shop\"")),
            count as f64,
        )
        .await;
        let failed = calls(&format!(
            "span_name=\"{name}\",status_code=\"STATUS_CODE_ERROR\""
        ));
        if errors > 0 {
            expect(failed, errors as f64).await;
        } else {
            assert_eq!(query(prom_port, &failed), None, "no error series");
        }
    }
    expect(
        calls("span_kind=\"SPAN_KIND_CLIENT\",service_name=\"shop\""),
        20.0,
    )
    .await;
    // 20 spans of 30 ms, all in the (10, 50] ms bucket: Prometheus interpolates the median
    // to the middle of it
    expect(
        "histogram_quantile(0.5, sum by (le) (traces_span_metrics_duration_milliseconds_bucket{span_name=\"SELECT users\"}))".into(),
        30.0,
    )
    .await;
    // the service graph Tempo and Grafana read
    expect(
        "sum(traces_service_graph_request_total{client=\"frontend\",server=\"shop\"})".into(),
        12.0,
    )
    .await;
    expect(
        "sum(traces_service_graph_request_failed_total{client=\"frontend\",server=\"shop\"})"
            .into(),
        3.0,
    )
    .await;
    expect(
        "sum(traces_service_graph_request_server_seconds_count{client=\"frontend\",server=\"shop\"})".into(),
        12.0,
    )
    .await;
    // the service graph Tempo and Grafana read
    expect(
        "sum(traces_service_graph_request_total{client=\"frontend\",server=\"shop\"})".into(),
        12.0,
    )
    .await;
    expect(
        "sum(traces_service_graph_request_failed_total{client=\"frontend\",server=\"shop\"})"
            .into(),
        3.0,
    )
    .await;
    expect(
        "sum(traces_service_graph_request_server_seconds_count{client=\"frontend\",server=\"shop\"})".into(),
        12.0,
    )
    .await;
    // and the spans themselves reached Tempo
    let spans = 40 + 20 + 2 * 12;
    assert!(
        eventually(Duration::from_secs(10), || tempo.span_names().len()
            >= spans)
        .await,
        "{} spans reached Tempo",
        tempo.span_names().len()
    );
    let (code, _, stderr) = collector.stop();
    assert_eq!(code, 0, "{stderr}");
}

/// The `routing` connector through the binary, with the config of
/// openshift/distributed-tracing-qe tests/e2e-otel/routingconnector (traces of tenants `red`
/// and `blue` to their own backend, the rest to `green`; there, three Tempo instances, here
/// three loopback OTLP sinks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_sends_each_tenants_traces_to_its_backend() {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::KeyValue;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    let (red, red_addr, _s1) = sink::start(0).await;
    let (blue, blue_addr, _s2) = sink::start(0).await;
    let (green, green_addr, _s3) = sink::start(0).await;
    let ports = Ports::new();
    let config = ports.fill(&format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:GRPC_PORT
exporters:
  otlp/red:
    endpoint: {red_addr}
    tls:
      insecure: true
  otlp/green:
    endpoint: {green_addr}
    tls:
      insecure: true
  otlp/blue:
    endpoint: {blue_addr}
    tls:
      insecure: true
processors:
connectors:
  routing:
    error_mode: ignore
    default_pipelines: [traces/green]
    table:
      - statement: route() where attributes["X-Tenant"] == "red"
        pipelines: [traces/red]
      - statement: route() where attributes["X-Tenant"] == "blue"
        pipelines: [traces/blue]
service:
  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}
  pipelines:
    traces/in:
      receivers: [otlp]
      processors: []
      exporters: [routing]
    traces/red:
      receivers: [routing]
      exporters: [otlp/red]
    traces/blue:
      receivers: [routing]
      exporters: [otlp/blue]
    traces/green:
      receivers: [routing]
      exporters: [otlp/green]
"#
    ));
    let agent = Collector::start("routing", &config);
    let tenant = |t: Option<&str>, n: usize| ResourceSpans {
        resource: Some(Resource {
            attributes: t
                .map(|t| {
                    vec![KeyValue {
                        key: "X-Tenant".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(t.into())),
                        }),
                        ..Default::default()
                    }]
                })
                .unwrap_or_default(),
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: (0..n)
                .map(|i| Span {
                    trace_id: vec![1; 16],
                    span_id: vec![i as u8 + 1; 8],
                    name: format!("{}-{i}", t.unwrap_or("none")),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut client = TraceServiceClient::connect(format!("http://127.0.0.1:{}", ports.grpc))
        .await
        .unwrap();
    client
        .export(ExportTraceServiceRequest {
            resource_spans: vec![
                tenant(Some("red"), 2),
                tenant(Some("blue"), 3),
                tenant(None, 1),
                tenant(Some("teal"), 1),
            ],
        })
        .await
        .unwrap();
    let names = |r: &sink::Recorded| r.span_names();
    let all = eventually(Duration::from_secs(10), || {
        names(&red).len() + names(&blue).len() + names(&green).len() >= 7
    })
    .await;
    assert!(all, "{}", agent.stderr_text());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(names(&red), vec!["red-0", "red-1"]);
    assert_eq!(names(&blue), vec!["blue-0", "blue-1", "blue-2"]);
    assert_eq!(names(&green), vec!["none-0", "teal-0"]);
    agent.stop();
}
