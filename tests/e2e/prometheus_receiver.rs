//! The `prometheus` receiver against real targets: a Python service instrumented with the
//! official `prometheus_client`, and Ferrotel's own `/metrics` (the Helm chart's shape). What
//! Ferrotel scrapes and writes into a real Prometheus with `prometheusremotewrite` must read,
//! in PromQL, as what that Prometheus scrapes itself from the same target.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};

use crate::harness::{free_port, temp_dir, try_http_get, Collector, Ports};
use crate::prometheus::{encode, prometheus_bin, start};
use crate::python_sdk::python;
use crate::sink::{self, eventually};

/// The Python target, killed when dropped.
pub(crate) struct App(Child);

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn start_app(port: u16) -> App {
    start_app_with(port, &[])
}

fn start_app_with(port: u16, extra: &[&str]) -> App {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/python/prom_app.py");
    App(Command::new(python())
        .arg(script)
        .args(["--port", &port.to_string(), "--lifetime", "240"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the Python target"))
}

/// The result vector of an instant query.
fn query_all(port: u16, q: &str) -> Vec<serde_json::Value> {
    let Some((200, body)) = try_http_get(&format!(
        "http://127.0.0.1:{port}/api/v1/query?query={}",
        encode(q)
    )) else {
        return Vec::new();
    };
    let (Some(s), Some(e)) = (body.find('{'), body.rfind('}')) else {
        return Vec::new();
    };
    serde_json::from_str::<serde_json::Value>(&body[s..=e])
        .ok()
        .and_then(|v| v["data"]["result"].as_array().cloned())
        .unwrap_or_default()
}

fn value(port: u16, q: &str) -> Option<f64> {
    query_all(port, q)
        .first()
        .and_then(|r| r["value"][1].as_str()?.parse().ok())
}

/// The label sets of a query's series, without `job` and `instance`, and without the scope
/// labels `prometheusremotewrite` adds (`otel_scope_name`, `otel_scope_version`: the receiver's
/// scope, as the Go exporter writes it).
fn label_sets(port: u16, q: &str) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = query_all(port, q)
        .iter()
        .map(|r| {
            let mut l: Vec<(String, String)> = r["metric"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| {
                            !matches!(
                                k.as_str(),
                                "job" | "instance" | "otel_scope_name" | "otel_scope_version"
                            )
                        })
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect()
                })
                .unwrap_or_default();
            l.sort();
            l
        })
        .collect();
    out.sort();
    out
}

/// The same rules for Prometheus and for Ferrotel: in a collector config a literal `$` is
/// written `$$` (Go's confmap), in Prometheus' own config it is not.
const RELABEL: &str = "[{source_labels: [method], regex: '(g)et', target_label: verb, replacement: '${1}ood'}, {regex: code, action: labeldrop}]";
const RELABEL_COLLECTOR: &str = "[{source_labels: [method], regex: '(g)et', target_label: verb, replacement: '$${1}ood'}, {regex: code, action: labeldrop}]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_target_scraped_by_ferrotel_reads_in_promql_as_prometheus_own_scrape() {
    let bin = prometheus_bin();
    let app_port = free_port();
    let _app = tokio::task::spawn_blocking(move || start_app(app_port))
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(60), || {
            try_http_get(&format!("http://127.0.0.1:{app_port}/metrics"))
                .is_some_and(|(s, _)| s == 200)
        })
        .await,
        "the Python target did not start"
    );
    let prom_port = free_port();
    let dir = temp_dir("prometheus-receiver-python-server");
    let prom_config = dir.join("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: direct\n    static_configs: [{{targets: ['127.0.0.1:{app_port}']}}]\n    metric_relabel_configs: {RELABEL}\n"
        ),
    )
    .unwrap();
    let _prom = start(&bin, &dir, &prom_config, prom_port);
    let ports = Ports::new();
    let collector = Collector::start(
        "prometheus-receiver-python",
        &ports.fill(&format!(
            r#"
receivers:
  prometheus:
    config:
      global:
        scrape_interval: 1s
      scrape_configs:
        - job_name: via-ferrotel
          static_configs: [{{targets: ['127.0.0.1:{app_port}']}}]
          metric_relabel_configs: {RELABEL_COLLECTOR}
exporters:
  prometheusremotewrite:
    endpoint: http://127.0.0.1:{prom_port}/api/v1/write
service:
  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}
  pipelines:
    metrics:
      receivers: [prometheus]
      exporters: [prometheusremotewrite]
"#
        )),
    );
    // the same number through both paths
    for q in [
        r#"app_requests_total{JOB,verb="good"}"#,
        r#"app_requests_total{JOB,method="post"}"#,
        r#"app_temperature{JOB}"#,
        r#"histogram_quantile(0.9, app_latency_seconds_bucket{JOB})"#,
        r#"histogram_quantile(0.5, app_latency_seconds_bucket{JOB})"#,
        r#"app_latency_seconds_count{JOB}"#,
        r#"app_payload_bytes_sum{JOB}"#,
        r#"up{JOB}"#,
    ] {
        let direct = q.replace("JOB", r#"job="direct""#);
        let via = q.replace("JOB", r#"job="via-ferrotel""#);
        let same = eventually(Duration::from_secs(60), || {
            let d = value(prom_port, &direct);
            d.is_some() && d == value(prom_port, &via)
        })
        .await;
        assert!(
            same,
            "{q}: Prometheus' scrape {:?}, Ferrotel's {:?}\n{}",
            value(prom_port, &direct),
            value(prom_port, &via),
            collector.stderr_text()
        );
    }
    // label sets after metric_relabel_configs
    let direct = label_sets(prom_port, r#"app_requests_total{job="direct"}"#);
    let via = label_sets(prom_port, r#"app_requests_total{job="via-ferrotel"}"#);
    assert_eq!(direct.len(), 2, "{direct:?}");
    assert!(
        direct.iter().all(|l| !l.iter().any(|(k, _)| k == "code")),
        "{direct:?}"
    );
    assert_eq!(direct, via);
    // a rate over the ticking counter (10/s): within 20% of each other once both have 10 s
    let ok = eventually(Duration::from_secs(60), || {
        let d = value(prom_port, r#"rate(app_ticks_total{job="direct"}[10s])"#);
        let v = value(
            prom_port,
            r#"rate(app_ticks_total{job="via-ferrotel"}[10s])"#,
        );
        matches!((d, v), (Some(d), Some(v)) if d > 5.0 && (d - v).abs() / d < 0.2)
    })
    .await;
    assert!(
        ok,
        "rate: Prometheus' scrape {:?}, Ferrotel's {:?}",
        value(prom_port, r#"rate(app_ticks_total{job="direct"}[10s])"#),
        value(
            prom_port,
            r#"rate(app_ticks_total{job="via-ferrotel"}[10s])"#
        )
    );
    collector.stop();
}

/// The Helm chart's base config: a `prometheus` receiver, job `opentelemetry-collector`,
/// scraping the collector's own metrics port at `${env:MY_POD_IP}` (a 1 s interval instead of
/// the chart's 10 s, to keep the test short). It validates, runs, and `up` is 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrotel_scrapes_its_own_metrics_as_the_helm_chart_configures_it() {
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let ports = Ports::new();
    let collector = Collector::start_with_env(
        "prometheus-receiver-self",
        &ports.fill(&format!(
            r#"
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: opentelemetry-collector
          scrape_interval: 1s
          static_configs:
            - targets:
                - ${{env:MY_POD_IP}}:METRICS_PORT
exporters:
  otlp:
    endpoint: {sink_addr}
    tls: {{insecure: true}}
service:
  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}
  pipelines:
    metrics:
      receivers: [prometheus]
      exporters: [otlp]
"#
        )),
        &[],
        &[("MY_POD_IP", "127.0.0.1")],
    );
    let up_is_one = |reqs: &[opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest]| {
        reqs.iter().flat_map(|r| &r.resource_metrics).any(|rm| {
            let job = rm.resource.as_ref().is_some_and(|r| {
                r.attributes.iter().any(|kv| {
                    kv.key == "service.name"
                        && matches!(kv.value.as_ref().and_then(|v| v.value.as_ref()), Some(any_value::Value::StringValue(s)) if s == "opentelemetry-collector")
                })
            });
            let own = rm.scope_metrics.iter().flat_map(|s| &s.metrics).any(|m| m.name.starts_with("otelcol_"));
            let up = rm.scope_metrics.iter().flat_map(|s| &s.metrics).any(|m| {
                m.name == "up"
                    && matches!(&m.data, Some(metric::Data::Gauge(g)) if g.data_points.iter().any(|p| p.value == Some(number_data_point::Value::AsDouble(1.0))))
            });
            job && own && up
        })
    };
    let ok = eventually(Duration::from_secs(30), || {
        up_is_one(&recorded.metrics.lock().unwrap())
    })
    .await;
    assert!(
        ok,
        "no scrape with up=1 and the collector's own metrics arrived\n{}",
        collector.stderr_text()
    );
    let (code, _, stderr) = collector.stop();
    assert_eq!(code, 0, "{stderr}");
}

fn string_attr(
    attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<String> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            _ => None,
        }
    })
}

/// `up` points seen so far: (the `source` attribute, value or `None` when flagged stale).
fn up_points(
    reqs: &[opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest],
) -> Vec<(String, Option<f64>)> {
    let mut out = Vec::new();
    for m in reqs
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|s| &s.metrics)
        .filter(|m| m.name == "up")
    {
        if let Some(metric::Data::Gauge(g)) = &m.data {
            for p in &g.data_points {
                let source = string_attr(&p.attributes, "source").unwrap_or_default();
                let v = match p.value {
                    Some(number_data_point::Value::AsDouble(v)) if p.flags & 1 == 0 => Some(v),
                    _ => None,
                };
                out.push((source, v));
            }
        }
    }
    out
}

/// file_sd: targets from a JSON file, then from a YAML file written later while the JSON one
/// is removed. The JSON target's series are marked stale when it goes away; the YAML target
/// (a closed port) is down: `up` 0, and its failure is logged once, not once per scrape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sd_targets_follow_the_files_and_a_failing_target_is_logged_once() {
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let ports = Ports::new();
    let sd = temp_dir("prometheus-receiver-file-sd");
    let json = sd.join("targets.json");
    std::fs::write(
        &json,
        format!(
            r#"[{{"targets": ["127.0.0.1:{}"], "labels": {{"source": "json"}}}}]"#,
            ports.metrics
        ),
    )
    .unwrap();
    let collector = Collector::start(
        "prometheus-receiver-file-sd-collector",
        &ports.fill(&format!(
            r#"
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: files
          scrape_interval: 1s
          file_sd_configs:
            - files: ['{dir}/*.json', '{dir}/*.yaml']
exporters:
  otlp:
    endpoint: {sink_addr}
    tls: {{insecure: true}}
service:
  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}
  pipelines:
    metrics:
      receivers: [prometheus]
      exporters: [otlp]
"#,
            dir = sd.display()
        )),
    );
    let seen = |want: &(&str, Option<f64>)| {
        up_points(&recorded.metrics.lock().unwrap())
            .iter()
            .any(|(s, v)| s == want.0 && *v == want.1)
    };
    assert!(
        eventually(Duration::from_secs(30), || seen(&("json", Some(1.0)))).await,
        "no up=1 from the JSON file's target\n{}",
        collector.stderr_text()
    );
    std::fs::write(
        sd.join("targets.yaml"),
        "- targets: ['127.0.0.1:1']\n  labels:\n    source: yaml\n",
    )
    .unwrap();
    std::fs::remove_file(&json).unwrap();
    assert!(
        eventually(Duration::from_secs(30), || seen(&("json", None))).await,
        "the JSON target's series were not marked stale\n{}",
        collector.stderr_text()
    );
    assert!(
        eventually(Duration::from_secs(30), || seen(&("yaml", Some(0.0)))).await,
        "no up=0 from the YAML file's target\n{}",
        collector.stderr_text()
    );
    // several failed scrapes later, still one log line
    let failures = |c: &Collector| {
        c.stderr_text()
            .lines()
            .filter(|l| {
                l.contains("Failed to scrape Prometheus endpoint") && l.contains("127.0.0.1:1/")
            })
            .count()
    };
    assert!(
        eventually(Duration::from_secs(15), || {
            up_points(&recorded.metrics.lock().unwrap())
                .iter()
                .filter(|(s, v)| s == "yaml" && *v == Some(0.0))
                .count()
                >= 3
        })
        .await
    );
    assert_eq!(failures(&collector), 1, "{}", collector.stderr_text());
    collector.stop();
}

/// Points of one metric seen so far, as (start, time, flags, value).
fn number_points(
    reqs: &[opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest],
    name: &str,
) -> Vec<(u64, u64, u32, Option<f64>)> {
    let mut out = Vec::new();
    for m in reqs
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|s| &s.metrics)
        .filter(|m| m.name == name)
    {
        let points = match &m.data {
            Some(metric::Data::Gauge(g)) => &g.data_points,
            Some(metric::Data::Sum(s)) => &s.data_points,
            _ => continue,
        };
        for p in points {
            let v = match p.value {
                Some(number_data_point::Value::AsDouble(v)) => Some(v),
                _ => None,
            };
            out.push((p.start_time_unix_nano, p.time_unix_nano, p.flags, v));
        }
    }
    out
}

/// A series the Python target stops exposing gets one point flagged NoRecordedValue; a
/// counter's start time is its OpenMetrics `_created`, the same at every scrape, and its
/// value is the cumulative total.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_target_series_that_disappear_are_marked_stale_and_counters_start_at_created() {
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let app_port = free_port();
    let _app =
        tokio::task::spawn_blocking(move || start_app_with(app_port, &["--ephemeral-for", "4"]))
            .await
            .unwrap();
    assert!(
        eventually(Duration::from_secs(60), || {
            try_http_get(&format!("http://127.0.0.1:{app_port}/metrics"))
                .is_some_and(|(s, _)| s == 200)
        })
        .await,
        "the Python target did not start"
    );
    let ports = Ports::new();
    let collector = Collector::start(
        "prometheus-receiver-python-stale",
        &ports.fill(&format!(
            r#"
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: app
          scrape_interval: 1s
          static_configs: [{{targets: ['127.0.0.1:{app_port}']}}]
exporters:
  otlp:
    endpoint: {sink_addr}
    tls: {{insecure: true}}
service:
  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}
  pipelines:
    metrics:
      receivers: [prometheus]
      exporters: [otlp]
"#
        )),
    );
    let stale_seen = eventually(Duration::from_secs(30), || {
        let points = number_points(&recorded.metrics.lock().unwrap(), "app_ephemeral");
        points.iter().any(|p| p.3 == Some(1.0)) && points.iter().any(|p| p.2 == 1 && p.3.is_none())
    })
    .await;
    assert!(
        stale_seen,
        "app_ephemeral: {:?}\n{}",
        number_points(&recorded.metrics.lock().unwrap(), "app_ephemeral"),
        collector.stderr_text()
    );
    let ticks = number_points(&recorded.metrics.lock().unwrap(), "app_ticks_total");
    assert!(ticks.len() >= 2, "{ticks:?}");
    let start = ticks[0].0;
    assert!(
        start > 0 && ticks.iter().all(|p| p.0 == start && p.0 < p.1),
        "{ticks:?}"
    );
    let values: Vec<f64> = ticks.iter().filter_map(|p| p.3).collect();
    assert!(
        values.windows(2).all(|w| w[0] <= w[1]),
        "cumulative: {values:?}"
    );
    collector.stop();
}

/// A real Prometheus server's own `/metrics` as the target: what Ferrotel scrapes and writes
/// back reads as what the server scrapes of itself (a gauge, and the label set of
/// `prometheus_build_info`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_own_metrics_scraped_by_ferrotel_read_as_its_self_scrape() {
    let bin = prometheus_bin();
    let prom_port = free_port();
    let dir = temp_dir("prometheus-receiver-promself-server");
    let prom_config = dir.join("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs: [{{targets: ['127.0.0.1:{prom_port}']}}]\n"
        ),
    )
    .unwrap();
    let _prom = start(&bin, &dir, &prom_config, prom_port);
    let ports = Ports::new();
    let collector = Collector::start(
        "prometheus-receiver-promself",
        &ports.fill(&format!(
            r#"
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: via-ferrotel
          scrape_interval: 1s
          static_configs: [{{targets: ['127.0.0.1:{prom_port}']}}]
exporters:
  prometheusremotewrite:
    endpoint: http://127.0.0.1:{prom_port}/api/v1/write
service:
  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}
  pipelines:
    metrics:
      receivers: [prometheus]
      exporters: [prometheusremotewrite]
"#
        )),
    );
    for q in [
        r#"prometheus_config_last_reload_successful{JOB}"#,
        r#"up{JOB}"#,
    ] {
        let direct = q.replace("JOB", r#"job="self""#);
        let via = q.replace("JOB", r#"job="via-ferrotel""#);
        let same = eventually(Duration::from_secs(60), || {
            let d = value(prom_port, &direct);
            d.is_some() && d == value(prom_port, &via)
        })
        .await;
        assert!(
            same,
            "{q}: Prometheus' scrape {:?}, Ferrotel's {:?}\n{}",
            value(prom_port, &direct),
            value(prom_port, &via),
            collector.stderr_text()
        );
    }
    let direct = label_sets(prom_port, r#"prometheus_build_info{job="self"}"#);
    let via = label_sets(prom_port, r#"prometheus_build_info{job="via-ferrotel"}"#);
    assert_eq!(direct.len(), 1, "{direct:?}");
    assert_eq!(direct, via);
    collector.stop();
}

/// `scheme: https` with `tls_config.ca_file`: the Python target serves TLS with a certificate
/// made for the test (openssl); the scrape verifies it and `up` is 1. Without the CA the
/// certificate is refused and `up` is 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_are_verified_with_tls_config() {
    let dir = temp_dir("prometheus-receiver-tls-files");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "openssl is needed to make the test certificate"
    );
    let (recorded, sink_addr, _stop) = sink::start(0).await;
    let app_port = free_port();
    let (c, k) = (cert.display().to_string(), key.display().to_string());
    let _app = tokio::task::spawn_blocking(move || {
        start_app_with(app_port, &["--certfile", &c, "--keyfile", &k])
    })
    .await
    .unwrap();
    assert!(
        eventually(Duration::from_secs(60), || {
            std::net::TcpStream::connect(("127.0.0.1", app_port)).is_ok()
        })
        .await,
        "the Python target did not start"
    );
    let ports = Ports::new();
    let collector = Collector::start(
        "prometheus-receiver-tls",
        &ports.fill(&format!(
            r#"
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: verified
          scheme: https
          scrape_interval: 1s
          tls_config: {{ca_file: {cert}}}
          static_configs: [{{targets: ['127.0.0.1:{app_port}'], labels: {{source: verified}}}}]
        - job_name: unverified
          scheme: https
          scrape_interval: 1s
          static_configs: [{{targets: ['127.0.0.1:{app_port}'], labels: {{source: unverified}}}}]
exporters:
  otlp:
    endpoint: {sink_addr}
    tls: {{insecure: true}}
service:
  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}
  pipelines:
    metrics:
      receivers: [prometheus]
      exporters: [otlp]
"#,
            cert = cert.display()
        )),
    );
    let seen = |source: &str, v: f64| {
        up_points(&recorded.metrics.lock().unwrap())
            .iter()
            .any(|(s, x)| s == source && *x == Some(v))
    };
    assert!(
        eventually(Duration::from_secs(60), || seen("verified", 1.0)
            && seen("unverified", 0.0))
        .await,
        "up: {:?}\n{}",
        up_points(&recorded.metrics.lock().unwrap()),
        collector.stderr_text()
    );
    assert!(!seen("unverified", 1.0));
    let ticks = number_points(&recorded.metrics.lock().unwrap(), "app_ticks_total");
    assert!(!ticks.is_empty(), "scraped over https");
    collector.stop();
}
