//! The `transform` and `filter` processors through the binary: health-check spans and
//! debug logs are dropped, attributes set from the resource, a JSON body parsed, and the
//! dropped items counted in `otelcol_processor_filter_*`.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use crate::harness::{Collector, Ports};
use crate::sink::{self, eventually};

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn get<'a>(attrs: &'a [KeyValue], k: &str) -> Option<&'a any_value::Value> {
    attrs
        .iter()
        .find(|a| a.key == k)
        .and_then(|a| a.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transform_and_filter_edit_and_drop_through_the_binary() {
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
  filter/health:
    error_mode: ignore
    traces:
      span:
        - 'attributes["http.route"] == "/healthz"'
  filter/debug:
    log_conditions:
      - 'log.severity_number < SEVERITY_NUMBER_INFO'
  transform:
    error_mode: ignore
    trace_statements:
      - set(span.attributes["service"], resource.attributes["service.name"])
      - set(span.name, Concat([span.attributes["http.method"], span.attributes["http.route"]], " ")) where span.attributes["http.route"] != nil
    log_statements:
      - context: log
        statements:
          - merge_maps(attributes, ParseJSON(body), "upsert") where IsMatch(body, "^\\{{")
          - set(severity_text, attributes["level"]) where attributes["level"] != nil
          - delete_key(attributes, "level")
exporters:
  otlp:
    endpoint: {sink_addr}
    tls: {{insecure: true}}
service:
  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [filter/health, transform]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      processors: [filter/debug, transform]
      exporters: [otlp]
"#
    ));
    let collector = Collector::start("ottl", &config);
    let mut traces = TraceServiceClient::connect(format!("http://127.0.0.1:{}", ports.grpc))
        .await
        .unwrap();
    let span = |route: &str| Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "handler".into(),
        attributes: vec![kv("http.method", "GET"), kv("http.route", route)],
        ..Default::default()
    };
    traces
        .export(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", "checkout")],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![span("/healthz"), span("/cart"), span("/healthz")],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
        .await
        .unwrap();
    let mut logs = LogsServiceClient::connect(format!("http://127.0.0.1:{}", ports.grpc))
        .await
        .unwrap();
    let rec = |sev: i32, body: &str| LogRecord {
        severity_number: sev,
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(body.into())),
        }),
        ..Default::default()
    };
    logs.export(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    rec(5, "noise"),
                    rec(9, r#"{"level":"info","user":"ann"}"#),
                    rec(13, "plain text"),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
    .await
    .unwrap();

    assert!(
        eventually(Duration::from_secs(5), || !recorded
            .traces
            .lock()
            .unwrap()
            .is_empty()
            && !recorded.logs.lock().unwrap().is_empty())
        .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let spans: Vec<Span> = recorded
        .traces
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| r.resource_spans.clone())
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect();
    assert_eq!(spans.len(), 1, "the health checks are dropped");
    assert_eq!(spans[0].name, "GET /cart");
    assert_eq!(
        get(&spans[0].attributes, "service"),
        Some(&any_value::Value::StringValue("checkout".into()))
    );

    let records: Vec<LogRecord> = recorded
        .logs
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| r.resource_logs.clone())
        .flat_map(|r| r.scope_logs)
        .flat_map(|s| s.log_records)
        .collect();
    assert_eq!(records.len(), 2, "the debug log is dropped");
    assert_eq!(records[0].severity_text, "info");
    assert_eq!(
        get(&records[0].attributes, "user"),
        Some(&any_value::Value::StringValue("ann".into()))
    );
    assert!(get(&records[0].attributes, "level").is_none());
    assert!(records[1].attributes.is_empty());

    let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", ports.metrics))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = |name: &str, id: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && l.contains(&format!("filter=\"{id}\"")))
            .map(|l| l.rsplit(' ').next().unwrap_or("").to_string())
    };
    assert_eq!(
        line("otelcol_processor_filter_spans_filtered", "filter/health").as_deref(),
        Some("2"),
        "{metrics}"
    );
    assert_eq!(
        line("otelcol_processor_filter_logs_filtered", "filter/debug").as_deref(),
        Some("1"),
        "{metrics}"
    );
    collector.stop();
}
