//! A real Prometheus server (Debian's `prometheus` package, installed by `.ci/run`) scrapes
//! Ferrotel's `prometheus` exporter and Ferrotel's own `/metrics`, and receives
//! `prometheusremotewrite`; PromQL through its HTTP API sees the expected series.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::harness::{free_port, temp_dir, try_http_get, Collector, Ports};
use crate::sink::eventually;

/// A Prometheus server of the test's own, killed when dropped.
pub struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Prometheus binary (`PROMETHEUS_BIN`, else `prometheus`); fails the test clearly without one.
pub fn prometheus_bin() -> String {
    let bin = std::env::var("PROMETHEUS_BIN").unwrap_or_else(|_| "prometheus".into());
    let found = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        found.is_ok_and(|s| s.success()),
        "no Prometheus server: install Debian's package (`apt-get install prometheus`, as .ci/run does) or set PROMETHEUS_BIN"
    );
    bin
}

/// Start `bin` with `config` on 127.0.0.1:`port`, its data and log under `dir`, with the
/// remote-write receiver on.
pub fn start(bin: &str, dir: &std::path::Path, config: &std::path::Path, port: u16) -> Prometheus {
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    Prometheus(
        Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// A Prometheus (files under a temp dir named after `name`) scraping one target,
/// 127.0.0.1:`target`, every second as job `job`, started and ready; with its port.
pub async fn scraping(name: &str, job: &str, target: u16) -> (Prometheus, u16) {
    let bin = prometheus_bin();
    let port = free_port();
    let dir = temp_dir(name);
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: {job}\n    static_configs: [{{targets: ['127.0.0.1:{target}']}}]\n"
        ),
    )
    .unwrap();
    let prometheus = start(&bin, &dir, &config, port);
    assert!(
        eventually(Duration::from_secs(30), || {
            try_http_get(&format!("http://127.0.0.1:{port}/-/ready")).is_some_and(|(s, _)| s == 200)
        })
        .await,
        "Prometheus did not get ready"
    );
    (prometheus, port)
}

/// A PromQL query as a URL query value.
pub fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The first value of an instant query, if any series matched.
pub fn query(port: u16, q: &str) -> Option<f64> {
    let (status, body) = try_http_get(&format!(
        "http://127.0.0.1:{port}/api/v1/query?query={}",
        encode(q)
    ))?;
    if status != 200 {
        return None;
    }
    let body = body.trim();
    // chunked bodies: take the JSON object
    let start = body.find('{')?;
    let end = body.rfind('}')?;
    let v: serde_json::Value = serde_json::from_str(&body[start..=end]).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn attr(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn request() -> ExportMetricsServiceRequest {
    let t = now_nanos();
    let point = |v: f64| NumberDataPoint {
        start_time_unix_nano: t - 1_000_000_000,
        time_unix_nano: t,
        attributes: vec![attr("route", "/api")],
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![attr("service.name", "e2e-app")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "http.requests".into(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: vec![point(7.0)],
                            aggregation_temporality: AggregationTemporality::Cumulative as i32,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "queue.depth".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![point(3.5)],
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "http.latency".into(),
                        unit: "s".into(),
                        data: Some(metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                start_time_unix_nano: t - 1_000_000_000,
                                time_unix_nano: t,
                                attributes: vec![attr("route", "/api")],
                                count: 10,
                                sum: Some(15.0),
                                bucket_counts: vec![0, 10, 0, 0],
                                explicit_bounds: vec![1.0, 2.0, 5.0],
                                ..Default::default()
                            }],
                            aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_ferrotel_and_receives_remote_write() {
    let bin = prometheus_bin();
    let prom_port = free_port();
    let exporter_port = free_port();
    let ports = Ports::new();
    let dir = temp_dir("prometheus-server");
    let prom_config = dir.join("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ferrotel-exporter\n    honor_labels: true\n    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n  - job_name: ferrotel-self\n    static_configs: [{{targets: ['127.0.0.1:{}']}}]\n",
            ports.metrics
        ),
    )
    .unwrap();
    let _prom = start(&bin, &dir, &prom_config, prom_port);
    let config = ports.fill(&format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:GRPC_PORT
exporters:
  prometheus:
    endpoint: 127.0.0.1:{exporter_port}
  prometheusremotewrite:
    endpoint: http://127.0.0.1:{prom_port}/api/v1/write
    external_labels:
      collector: ferrotel
service:
  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheus, prometheusremotewrite]
"#
    ));
    let collector = Collector::start("prometheus", &config);
    assert!(
        eventually(Duration::from_secs(30), || {
            try_http_get(&format!("http://127.0.0.1:{prom_port}/-/ready"))
                .is_some_and(|(s, _)| s == 200)
        })
        .await,
        "Prometheus did not get ready"
    );
    let mut client = MetricsServiceClient::connect(format!("http://127.0.0.1:{}", ports.grpc))
        .await
        .unwrap();
    client.export(request()).await.unwrap();

    let expect = |q: &'static str, want: f64| async move {
        let ok = eventually(Duration::from_secs(30), || {
            query(prom_port, q) == Some(want)
        })
        .await;
        assert!(ok, "{q}: got {:?}, want {want}", query(prom_port, q));
    };
    // scraped from the prometheus exporter (job from service.name)
    expect(
        r#"http_requests_total{job="e2e-app",route="/api",collector=""}"#,
        7.0,
    )
    .await;
    expect(r#"queue_depth{job="e2e-app",collector=""}"#, 3.5).await;
    expect(
        r#"histogram_quantile(0.5, http_latency_seconds_bucket{job="e2e-app",collector=""})"#,
        1.5,
    )
    .await;
    // pushed by remote write (external label)
    expect(
        r#"http_requests_total{collector="ferrotel",route="/api"}"#,
        7.0,
    )
    .await;
    expect(r#"queue_depth{collector="ferrotel"}"#, 3.5).await;
    expect(
        r#"histogram_quantile(0.5, http_latency_seconds_bucket{collector="ferrotel"})"#,
        1.5,
    )
    .await;
    expect(r#"http_latency_seconds_count{collector="ferrotel"}"#, 10.0).await;
    // Ferrotel's own /metrics
    expect(r#"otelcol_receiver_accepted_metric_points{job="ferrotel-self",receiver="otlp",transport="grpc"}"#, 3.0).await;
    let sent = query(
        prom_port,
        r#"otelcol_exporter_sent_metric_points{job="ferrotel-self",exporter="prometheusremotewrite"}"#,
    );
    assert_eq!(sent, Some(3.0));
    collector.stop();
}
