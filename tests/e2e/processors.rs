//! Processors through the binary: the probabilistic sampler keeps its share of 10,000
//! traces, and `attributes/delete_unused` removes Python's log-correlation fields.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sampler_keeps_its_share_of_10000_traces_and_attributes_are_cleaned() {
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
  probabilistic_sampler:
    sampling_percentage: 10
    hash_seed: 22
  attributes/delete_unused:
    actions:
      - {{key: otelSpanID, action: delete}}
      - {{key: otelTraceID, action: delete}}
      - {{key: otelTraceSampled, action: delete}}
      - {{key: otelServiceName, action: delete}}
      - {{key: user.email, action: hash}}
exporters:
  otlp:
    endpoint: {sink_addr}
    tls: {{insecure: true}}
service:
  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [probabilistic_sampler]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      processors: [attributes/delete_unused]
      exporters: [otlp]
"#
    ));
    let collector = Collector::start("sampler", &config);
    let mut client = TraceServiceClient::connect(format!("http://127.0.0.1:{}", ports.grpc))
        .await
        .unwrap();
    // 10,000 traces of one span each, with trace ids from a fixed xorshift sequence
    let mut x: u64 = 0x2545f4914f6cdd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..100 {
        let spans: Vec<Span> = (0..100)
            .map(|_| {
                let mut trace_id = next().to_be_bytes().to_vec();
                trace_id.extend_from_slice(&next().to_be_bytes());
                Span {
                    trace_id,
                    span_id: next().to_be_bytes().to_vec(),
                    name: "op".into(),
                    ..Default::default()
                }
            })
            .collect();
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        client.export(req).await.unwrap();
    }
    let count = || -> usize {
        recorded
            .traces
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| r.resource_spans.iter())
            .flat_map(|r| r.scope_spans.iter())
            .map(|s| s.spans.len())
            .sum()
    };
    eventually(Duration::from_secs(5), || count() >= 850).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let kept = count();
    // binomial(10000, 0.1): sd 30; 850..1150 is 5 sd either side
    assert!((850..=1150).contains(&kept), "kept {kept} of 10000 at 10%");

    let mut logs = LogsServiceClient::connect(format!("http://127.0.0.1:{}", ports.grpc))
        .await
        .unwrap();
    let record = LogRecord {
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue("Request completed".into())),
        }),
        attributes: vec![
            kv("otelSpanID", "00f067aa0ba902b7"),
            kv("otelTraceID", "4bf92f3577b34da6a3ce929d0e0e4736"),
            kv("otelTraceSampled", "True"),
            kv("otelServiceName", "api"),
            kv("user.email", "a@example.com"),
            kv("path", "/api/v1"),
        ],
        ..Default::default()
    };
    logs.export(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![record],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
    .await
    .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || !recorded
            .logs
            .lock()
            .unwrap()
            .is_empty())
        .await
    );
    let got =
        recorded.logs.lock().unwrap()[0].resource_logs[0].scope_logs[0].log_records[0].clone();
    let keys: Vec<&str> = got.attributes.iter().map(|a| a.key.as_str()).collect();
    // Go's Map.Remove moves the last entry into the removed one's place: deleting
    // otelSpanID brings `path` to the front
    assert_eq!(
        keys,
        vec!["path", "user.email"],
        "the correlation fields are gone, the rest in Go's order"
    );
    let email = match got.attributes[1]
        .value
        .as_ref()
        .and_then(|v| v.value.as_ref())
    {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(email.len(), 64, "SHA-256 hex");
    assert_ne!(email, "a@example.com");
    collector.stop();
}
