//! The LGTM stack's Grafana dashboard against a real Prometheus: Ferrotel runs the stack's
//! own config (`config-examples/compose/lgtm/ferrotel-config.yaml`, every address moved to
//! loopback, the backends pointed at closed ports), Prometheus scrapes it as the stack's
//! `prometheus.yml` says, one request per signal goes through, and every PromQL expression
//! of the dashboard runs without an error (Grafana's `$job` and `$__rate_interval` filled
//! in as Grafana would).

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use crate::harness::{free_port, temp_dir, try_http_get, Collector};
use crate::image::dashboard_exprs;
use crate::prometheus::{encode, prometheus_bin, start as start_prometheus};
use crate::sink::eventually;

fn lgtm(file: &str) -> String {
    let path = format!(
        "{}/config-examples/compose/lgtm/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Run an instant query: `Ok(number of series)` or `Err(Prometheus's error)`.
fn query(port: u16, q: &str) -> Result<usize, String> {
    let (_, body) = try_http_get(&format!(
        "http://127.0.0.1:{port}/api/v1/query?query={}",
        encode(q)
    ))
    .ok_or("no answer")?;
    let (start, end) = (
        body.find('{').ok_or("no JSON")?,
        body.rfind('}').ok_or("no JSON")?,
    );
    let v: serde_json::Value =
        serde_json::from_str(&body[start..=end]).map_err(|e| format!("{e}: {body}"))?;
    if v["status"] != "success" {
        return Err(format!("{}: {}", v["errorType"], v["error"]));
    }
    Ok(v["data"]["result"].as_array().map_or(0, Vec::len))
}

use pipeline_api::testing::string_attr as attr;

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![attr("service.name", "dashboard-test")],
        ..Default::default()
    })
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_runs_against_a_real_prometheus() {
    let bin = prometheus_bin();
    let [grpc, http, own, exporter, health, zpages, pprof, prom, closed] =
        std::array::from_fn(|_| free_port());
    // the stack's config, on loopback; the backends (tempo, jaeger, loki) are closed ports
    let config = lgtm("ferrotel-config.yaml")
        .replace("0.0.0.0:13133", &format!("127.0.0.1:{health}"))
        .replace("0.0.0.0:55679", &format!("127.0.0.1:{zpages}"))
        .replace("0.0.0.0:1777", &format!("127.0.0.1:{pprof}"))
        .replace("0.0.0.0:4317", &format!("127.0.0.1:{grpc}"))
        .replace("0.0.0.0:4318", &format!("127.0.0.1:{http}"))
        .replace("0.0.0.0:8889", &format!("127.0.0.1:{exporter}"))
        .replace("host: 0.0.0.0", "host: 127.0.0.1")
        .replace("port: 8888", &format!("port: {own}"))
        .replace("tempo:4317", &format!("127.0.0.1:{closed}"))
        .replace("jaeger:4317", &format!("127.0.0.1:{closed}"))
        .replace("http://loki:3100", &format!("http://127.0.0.1:{closed}"))
        .replace("prometheus:9090", &format!("127.0.0.1:{prom}"));
    assert!(!config.contains("0.0.0.0"), "{config}");
    // the stack's Prometheus config, scraping every second
    let prom_config = lgtm("prometheus.yml")
        .replace("otel-collector:8889", &format!("127.0.0.1:{exporter}"))
        .replace("otel-collector:8888", &format!("127.0.0.1:{own}"))
        .replace("15s", "1s");
    let dir = temp_dir("dashboard-prometheus");
    std::fs::write(dir.join("prometheus.yml"), prom_config).unwrap();
    let _prom = start_prometheus(&bin, &dir, &dir.join("prometheus.yml"), prom);
    let collector = Collector::start("dashboard", &config);

    // one request per signal, so each pipeline's series exist
    let endpoint = format!("http://127.0.0.1:{grpc}");
    TraceServiceClient::connect(endpoint.clone())
        .await
        .unwrap()
        .export(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        name: "GET /".into(),
                        start_time_unix_nano: now_nanos(),
                        end_time_unix_nano: now_nanos(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
        .await
        .unwrap();
    MetricsServiceClient::connect(endpoint.clone())
        .await
        .unwrap()
        .export(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: resource(),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "queue_depth".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint {
                                time_unix_nano: now_nanos(),
                                value: Some(number_data_point::Value::AsDouble(1.0)),
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
        .await
        .unwrap();
    LogsServiceClient::connect(endpoint)
        .await
        .unwrap()
        .export(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(),
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        time_unix_nano: now_nanos(),
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue("hello".into())),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
        .await
        .unwrap();

    // rates need two scrapes of every series
    let ready = eventually(Duration::from_secs(60), || {
        query(prom, r#"rate(otelcol_receiver_accepted_log_records[1m])"#).is_ok_and(|n| n > 0)
            && query(prom, r#"rate(otelcol_exporter_sent_metric_points[1m])"#).is_ok_and(|n| n > 0)
    })
    .await;
    assert!(
        ready,
        "Prometheus has no rates of Ferrotel's metrics; collector stderr:\n{}",
        collector.stderr_text()
    );

    let dash: serde_json::Value =
        serde_json::from_str(&lgtm("grafana/dashboards/ferrotel-dashboard.json")).unwrap();
    let exprs = dashboard_exprs(&dash);
    assert!(exprs.len() >= 10);
    let mut errors = Vec::new();
    let mut with_data = 0;
    for e in &exprs {
        let q = e.replace("$job", ".*").replace("$__rate_interval", "1m");
        match query(prom, &q) {
            Ok(n) => with_data += usize::from(n > 0),
            Err(err) => errors.push(format!("{e}\n    → {err}")),
        }
    }
    assert!(
        errors.is_empty(),
        "{} of {} dashboard queries fail in Prometheus:\n{}",
        errors.len(),
        exprs.len(),
        errors.join("\n")
    );
    // most panels show something after one request per signal
    assert!(
        with_data * 2 >= exprs.len(),
        "only {with_data} of {} queries return data",
        exprs.len()
    );
    collector.stop();
}
