//! The Go collector as a test oracle. The same config and the same input run through the Go
//! OpenTelemetry Collector (built once by `compat/build.sh` from `compat/builder-config.yaml`,
//! on first use) and through Ferrotel, both exporting over OTLP/gRPC to recording sinks; what
//! reaches the sinks is normalized (observed timestamps reduced to set or unset, items sorted,
//! attributes in key order, the run's temporary directory replaced by `DIR`) and compared.
//!
//! Every deliberate difference and every known Ferrotel bug is listed once, in
//! [`DIFFERENCES`], with its reason (and under "Differences the Go collector oracle shows" in
//! docs/migration.md). The harness skips exactly those, and fails when a listed difference no
//! longer shows, so the table stays true.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{json, Value};

use crate::harness::{self, Collector, Ports};
use crate::sink::{self, Recorded};

// ------------------------------------------------------------------------------------------
// The one table of differences

/// Why the Go collector and Ferrotel may disagree on a case.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Ferrotel differs on purpose (docs/migration.md says why).
    Deliberate,
    /// A Ferrotel bug, kept here as a known failure until it is fixed (none is listed at
    /// the moment: every bug the harness found so far is fixed).
    #[allow(dead_code)]
    Bug,
    /// Something the Go collector has that Ferrotel does not have yet (none is listed at
    /// the moment).
    #[allow(dead_code)]
    Missing,
}

pub struct Difference {
    /// The case it applies to: a data case's name, `validate:<path>` for a config, or
    /// `metric:<name>` / `labels:<name>` for an own metric; a final `*` matches any rest.
    pub case: &'static str,
    pub kind: Kind,
    pub reason: &'static str,
}

/// Every difference the harness accepts. Keep docs/migration.md's list in step (a test checks
/// that every case named here is named there).
pub const DIFFERENCES: &[Difference] = &[
    // own metrics (case e)
    Difference {
        case: "metric:otelcol_processor_memory_limiter_refused_*",
        kind: Kind::Deliberate,
        reason: "served at 0 from the start, as the other failure counters \
                 (see metric:otelcol_exporter_send_failed_*); Go serves it once something was \
                 refused",
    },
    Difference {
        case: "metric:otelcol_process_runtime_*",
        kind: Kind::Deliberate,
        reason: "Go runtime memory statistics (heap_alloc, total_alloc, total_sys_memory); \
                 Ferrotel has no Go runtime: otelcol_process_memory_rss is the memory figure",
    },
    Difference {
        case: "metric:otelcol_exporter_send_failed_*",
        kind: Kind::Deliberate,
        reason: "served at 0 from the start; Go's metrics SDK serves a counter only after its \
                 first increment (a failure), so a query or alert sees 0 instead of no series",
    },
    Difference {
        case: "metric:otelcol_exporter_enqueue_failed_*",
        kind: Kind::Deliberate,
        reason: "served at 0 from the start (see metric:otelcol_exporter_send_failed_*)",
    },
    Difference {
        case: "metric:otelcol_processor_batch_batch_size_trigger_send",
        kind: Kind::Deliberate,
        reason: "served at 0 from the start (see metric:otelcol_exporter_send_failed_*)",
    },
    Difference {
        case: "metric:otelcol_processor_batch_send_failed_items",
        kind: Kind::Deliberate,
        reason: "Ferrotel only: items the batch processor could not hand on, which Go's batch \
                 processor drops without counting",
    },
    Difference {
        case: "metric:otelcol_receiver_requests_over_limit",
        kind: Kind::Deliberate,
        reason: "Ferrotel only: requests a receiver refused for a limit (`max_request_body_size`, \
                 `read_timeout`, `max_recv_msg_size_mib`), by that limit's key; Go counts none",
    },
    // validate (case f)
    Difference {
        case: "validate:compat/corpus/collector-demo-collector.yaml",
        kind: Kind::Deliberate,
        reason: "the `logging` exporter (see validate:compat/corpus/contrib-secure-tracing.yaml)",
    },
    Difference {
        case: "validate:compat/corpus/contrib-secure-tracing.yaml",
        kind: Kind::Deliberate,
        reason: "Ferrotel still takes what older Go releases took: the `logging` exporter (run as \
                 `debug`, with a warning) and `service.telemetry.metrics.address`; Go v0.155 \
                 refuses both",
    },
    Difference {
        case: "validate:compat/corpus/envoy-opentelemetry-example.yaml",
        kind: Kind::Deliberate,
        reason: "the `memory_ballast` extension, which Go v0.155 no longer has; Ferrotel accepts \
                 it and does nothing",
    },
    Difference {
        case: "validate:compat/corpus/grafana-lgtm-otelcol.yaml",
        kind: Kind::Deliberate,
        reason: "the `logging` exporter (see validate:compat/corpus/contrib-secure-tracing.yaml) \
                 and the `loki` exporter, which Go releases after v0.130.0 no longer have",
    },
    Difference {
        case: "validate:compat/corpus/newrelic-host-monitoring.yaml",
        kind: Kind::Deliberate,
        reason: "`otlphttp` `endpoint: $NEW_RELIC_OTLP_ENDPOINT`, a bare $VAR that neither \
                 expands: Go takes the text as a URL and fails every send; Ferrotel refuses a URL \
                 that does not start with http:// or https:// (and warns that $VAR is text)",
    },
    Difference {
        case: "validate:compat/corpus/releases-otelcol.yaml",
        kind: Kind::Deliberate,
        reason: "`service.telemetry.metrics.address` (see \
                 validate:compat/corpus/contrib-secure-tracing.yaml)",
    },
    Difference {
        case: "validate:config-examples/compose/docker-logs/ferrotel-config.yaml",
        kind: Kind::Deliberate,
        reason: "uses the `loki` exporter, which Go releases after v0.130.0 no longer have",
    },
    Difference {
        case: "validate:config-examples/compose/lgtm/ferrotel-config.yaml",
        kind: Kind::Deliberate,
        reason: "uses the `loki` exporter, which Go releases after v0.130.0 no longer have",
    },
    Difference {
        case: "validate:config-examples/loki-docker-logs-config.yaml",
        kind: Kind::Deliberate,
        reason: "uses the `loki` exporter, which Go releases after v0.130.0 no longer have",
    },
    Difference {
        case: "validate:config-examples/loki-otlp-hints-config.yaml",
        kind: Kind::Deliberate,
        reason: "uses the `loki` exporter, which Go releases after v0.130.0 no longer have",
    },
    // data cases
    Difference {
        case: "filelog_docker_lines",
        kind: Kind::Deliberate,
        reason: "the `container` operator drops the one trailing newline of a Docker json-file \
                 `log` and joins the parts of a line Docker split at 16 KiB into one record \
                 (Go keeps the newline and passes each part as a record of its own)",
    },
    Difference {
        case: "prometheus_exporter_text:exponential_histogram",
        kind: Kind::Deliberate,
        reason: "the `prometheus` exporter serves the text format only, and an exponential \
                 histogram in it as classic `_bucket` series (the bounds of its buckets); Go \
                 serves a native histogram, which a text scrape sees as `+Inf`, `_sum` and \
                 `_count` only",
    },
    Difference {
        case: "prometheus_exporter_text_options:exponential_histogram",
        kind: Kind::Deliberate,
        reason: "as `prometheus_exporter_text:exponential_histogram`",
    },
    Difference {
        case: "prometheusremotewrite_series:delta",
        kind: Kind::Deliberate,
        reason: "the `prometheusremotewrite` exporter adds delta sums and histograms up into \
                 cumulative series, as the `prometheus` exporter does; Go's drops them \
                 (\"invalid temporality and type combination\")",
    },
    Difference {
        case: "prometheusremotewrite_series_options:delta",
        kind: Kind::Deliberate,
        reason: "as `prometheusremotewrite_series:delta`",
    },
];

fn listed(case: &str) -> Option<&'static Difference> {
    DIFFERENCES.iter().find(|d| match d.case.strip_suffix('*') {
        Some(prefix) => case.starts_with(prefix),
        None => d.case == case,
    })
}

/// Apply the table to one comparison: a mismatch passes only when listed, and a listed case
/// must still differ.
pub(crate) fn verdict(case: &str, mismatch: Option<String>) -> Result<(), String> {
    match (listed(case), mismatch) {
        (None, None) => Ok(()),
        (None, Some(report)) => Err(format!(
            "{case}: the Go collector and Ferrotel differ:\n{report}"
        )),
        (Some(d), Some(report)) => {
            eprintln!(
                "{case}: known difference ({:?}: {}):\n{report}",
                d.kind, d.reason
            );
            Ok(())
        }
        (Some(d), None) => Err(format!(
            "{case}: listed in compat.rs DIFFERENCES ({:?}: {}) but Go and Ferrotel now agree: \
             remove the entry (and its line in docs/migration.md)",
            d.kind, d.reason
        )),
    }
}

#[test]
fn every_difference_is_documented_in_the_migration_guide() {
    let guide = std::fs::read_to_string(root().join("docs/migration.md")).unwrap();
    let section = guide
        .split_once("## Differences the Go collector oracle shows")
        .expect("docs/migration.md has a section listing the oracle's differences")
        .1;
    for d in DIFFERENCES {
        assert!(
            section.contains(&format!("`{}`", d.case)),
            "docs/migration.md does not list `{}`",
            d.case
        );
    }
}

// ------------------------------------------------------------------------------------------
// The two collectors

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Go collector, built by compat/build.sh on first use (once per test process; the
/// script itself caches the binary across runs).
pub fn oracle() -> PathBuf {
    static BIN: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut bin = BIN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(b) = bin.as_ref() {
        return b.clone();
    }
    let start = Instant::now();
    let out = Command::new("bash")
        .arg(root().join("compat/build.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run compat/build.sh");
    assert!(
        out.status.code() != Some(127),
        "the Go toolchain (go >= 1.26, https://go.dev/dl/) is needed: the compat tests compare \
         Ferrotel with the Go collector, which compat/build.sh builds once from \
         compat/builder-config.yaml"
    );
    assert!(
        out.status.success(),
        "compat/build.sh failed ({}); its log is above",
        out.status
    );
    let path = PathBuf::from(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .expect("compat/build.sh prints the binary's path last"),
    );
    assert!(
        path.is_file(),
        "compat/build.sh printed {path:?}, not a file"
    );
    if start.elapsed() > Duration::from_secs(5) {
        eprintln!("the Go collector oracle was built in {:?}", start.elapsed());
    }
    *bin = Some(path.clone());
    path
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Impl {
    Go,
    Ferrotel,
}

impl Impl {
    fn program(self) -> PathBuf {
        match self {
            Impl::Go => oracle(),
            Impl::Ferrotel => PathBuf::from(harness::BIN),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Impl::Go => "go",
            Impl::Ferrotel => "ferrotel",
        }
    }
}

/// Own metrics served on 127.0.0.1:METRICS_PORT, in the `readers` form both accept.
pub(crate) const TELEMETRY: &str = "{metrics: {readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: METRICS_PORT}}}}]}}";

/// What a case sends to the collector once it is ready.
pub(crate) enum Input {
    /// `(path, body)` posted as OTLP/JSON to the otlp receiver's HTTP port.
    Json(Vec<(&'static str, String)>),
    /// OTLP/JSON posts carrying a `traceparent` header, then traces over gRPC (own traces).
    Traced {
        json: Vec<(&'static str, String)>,
        traceparent: &'static str,
        grpc_traces: Vec<ExportTraceServiceRequest>,
    },
    /// Traces, metrics and logs over gRPC.
    Grpc(
        Vec<ExportTraceServiceRequest>,
        Vec<ExportMetricsServiceRequest>,
        Vec<ExportLogsServiceRequest>,
    ),
    /// Nothing: the collector reads the case's files.
    Nothing,
    /// Zipkin bodies `(path, content type, body)` posted to the HTTP port (a zipkin receiver).
    Zipkin(Vec<(&'static str, &'static str, Vec<u8>)>),
    /// Traces sent by Ferrotel's `jaeger` exporter (`PostSpans`) to the gRPC port.
    Jaeger(Vec<ExportTraceServiceRequest>),
    /// Jaeger Thrift payloads `(kind, bytes)`: `http` posted to the HTTP port's
    /// `/api/traces`, `binary` sent as a UDP packet to the port numbered `HEALTH_PORT`,
    /// `compact` to the one numbered `GRPC_PORT` (UDP ports: the TCP listeners do not
    /// collide).
    JaegerThrift(Vec<(&'static str, Vec<u8>)>),
}

pub(crate) struct Case<'a> {
    pub(crate) name: &'a str,
    /// The config; `GRPC_PORT`, `HTTP_PORT`, `METRICS_PORT`, `HEALTH_PORT`, `SINK` (the
    /// recording sink's host:port), `RECORDER` (a loopback HTTP server's host:port that keeps
    /// every request, for exporters that speak plain HTTP), `DIR` (a fresh directory holding
    /// `files`) and `TELEMETRY` are filled in.
    pub(crate) config: &'a str,
    pub(crate) files: &'a [(&'a str, &'a str)],
    pub(crate) input: Input,
    /// Items to wait for at the sink before stopping (for receivers that read on their own
    /// time); 0 stops right after the input was answered: a graceful stop exports everything.
    pub(crate) wait_for: usize,
    /// Also scrape the collector's own metrics before stopping.
    pub(crate) scrape: bool,
    /// Also read this URL (port placeholders filled in) before stopping, until its text holds
    /// the second string and two reads in a row agree (bounded); kept in `Output::scraped`.
    pub(crate) scrape_url: Option<(&'a str, &'a str)>,
}

/// What one collector did with a case.
pub(crate) struct Output {
    pub(crate) traces: Vec<Value>,
    pub(crate) metrics: Vec<Value>,
    pub(crate) logs: Vec<Value>,
    pub(crate) own_metrics: String,
    /// What `Case::scrape_url` served last.
    pub(crate) scraped: String,
    /// The requests the `RECORDER` server took, in the order they came.
    pub(crate) posted: Vec<crate::sink::Posted>,
    pub(crate) dir: PathBuf,
}

fn items(r: &Recorded) -> usize {
    let spans: usize = r
        .traces
        .lock()
        .unwrap()
        .iter()
        .flat_map(|t| &t.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    let metrics: usize = r
        .metrics
        .lock()
        .unwrap()
        .iter()
        .flat_map(|t| &t.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .map(|s| s.metrics.len())
        .sum();
    let logs: usize = r
        .logs
        .lock()
        .unwrap()
        .iter()
        .flat_map(|t| &t.resource_logs)
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum();
    spans + metrics + logs
}

async fn post_json(posts: &[(&str, String)], traceparent: Option<&str>, ports: &Ports) {
    let client = reqwest::Client::new();
    for (path, body) in posts {
        let mut req = client
            .post(format!("http://127.0.0.1:{}{path}", ports.http))
            .header("content-type", "application/json");
        if let Some(t) = traceparent {
            req = req.header("traceparent", t);
        }
        let resp = req.body(body.clone()).send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(status, 200, "POST {path}: {text}");
    }
}

async fn send(input: &Input, ports: &Ports) {
    let grpc = format!("http://127.0.0.1:{}", ports.grpc);
    let (traces, metrics, logs) = match input {
        Input::Json(posts) => {
            post_json(posts, None, ports).await;
            return;
        }
        Input::Traced {
            json,
            traceparent,
            grpc_traces,
        } => {
            post_json(json, Some(traceparent), ports).await;
            (grpc_traces.as_slice(), &[][..], &[][..])
        }
        Input::Grpc(t, m, l) => (t.as_slice(), m.as_slice(), l.as_slice()),
        Input::Nothing => return,
        Input::Zipkin(posts) => {
            let client = reqwest::Client::new();
            for (path, content_type, body) in posts {
                let resp = client
                    .post(format!("http://127.0.0.1:{}{path}", ports.http))
                    .header("content-type", *content_type)
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                assert!(status.is_success(), "POST {path}: {status} {text}");
            }
            return;
        }
        Input::JaegerThrift(payloads) => {
            let client = reqwest::Client::new();
            let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            for (kind, body) in payloads {
                match *kind {
                    "http" => {
                        let resp = client
                            .post(format!("http://127.0.0.1:{}/api/traces", ports.http))
                            .header("content-type", "application/x-thrift")
                            .body(body.clone())
                            .send()
                            .await
                            .unwrap();
                        let status = resp.status();
                        let text = resp.text().await.unwrap_or_default();
                        assert!(status.is_success(), "POST /api/traces: {status} {text}");
                    }
                    kind => {
                        let port = if kind == "binary" {
                            ports.health
                        } else {
                            ports.grpc
                        };
                        udp.send_to(body, ("127.0.0.1", port)).await.unwrap();
                        // one packet at a time: a burst could outrun a socket buffer
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            return;
        }
        Input::Jaeger(requests) => {
            use pipeline_api::Exporter;
            let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&format!(
                "endpoint: 127.0.0.1:{}\ntls: {{insecure: true}}\n",
                ports.grpc
            ))
            .unwrap();
            let cfg: exporters::jaeger::Config = pipeline_api::config::parse_typed(&v).unwrap();
            let e = exporters::jaeger::JaegerExporter::new(
                pipeline_api::ComponentId::parse("jaeger").unwrap(),
                &cfg,
                &Default::default(),
            )
            .unwrap();
            for r in requests {
                e.export(pipeline_api::Batch::from_traces(r.clone()))
                    .await
                    .unwrap();
            }
            return;
        }
    };
    if !traces.is_empty() {
        let mut c = TraceServiceClient::connect(grpc.clone()).await.unwrap();
        for r in traces {
            c.export(r.clone()).await.unwrap();
        }
    }
    if !metrics.is_empty() {
        let mut c = MetricsServiceClient::connect(grpc.clone()).await.unwrap();
        for r in metrics {
            c.export(r.clone()).await.unwrap();
        }
    }
    if !logs.is_empty() {
        let mut c = LogsServiceClient::connect(grpc).await.unwrap();
        for r in logs {
            c.export(r.clone()).await.unwrap();
        }
    }
}

/// Every request a sink recorded, as OTLP/JSON values.
macro_rules! json_all {
    ($requests:expr) => {
        $requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| serde_json::to_value(r).unwrap())
            .collect::<Vec<Value>>()
    };
}

/// Run one collector on a case; `Err` with its message when it refuses the config.
async fn run(imp: Impl, case: &Case<'_>) -> Result<Output, String> {
    let program = imp.program();
    let (recorded, sink_addr, stop_sink) = sink::start(0).await;
    let recorder = sink::http_recorder().await;
    let ports = Ports::new();
    let dir = harness::temp_dir(&format!("compat-data-{}-{}", case.name, imp.name()));
    for (name, content) in case.files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
    }
    let config = ports.fill(
        &case
            .config
            .replace("TELEMETRY", TELEMETRY)
            .replace("SINK", &sink_addr.to_string())
            .replace("RECORDER", &recorder.addr.to_string())
            .replace("DIR", dir.to_str().unwrap()),
    );
    let name = format!("compat-{}-{}", case.name, imp.name());
    let config_file = dir.join("validate.yaml");
    std::fs::write(&config_file, &config).unwrap();
    let (valid, why) = validates(&program, &config_file);
    if !valid {
        return Err(format!("{} refused the config:\n{why}", imp.name()));
    }
    let collector = tokio::task::spawn_blocking(move || {
        Collector::start_program(&program, &name, &config, &[])
    })
    .await
    .unwrap();
    send(&case.input, &ports).await;
    if case.wait_for > 0 {
        // until the expected count arrived, or nothing new came for 3 s (10 s before the
        // first item); a collector that sends less than expected shows in the comparison
        let (mut seen, mut since) = (0, Instant::now());
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let now = items(&recorded);
            if now >= case.wait_for {
                break;
            }
            if now != seen {
                (seen, since) = (now, Instant::now());
            } else if since.elapsed() > Duration::from_secs(if now > 0 { 3 } else { 10 }) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut own_metrics = String::new();
    if case.scrape {
        // the counters settle after the answer, and the batch is exported later still: scrape
        // until each signal was exported and two scrapes in a row count the same (bounded; a
        // busy machine can take well over a second for the batch's export)
        let url = format!("http://127.0.0.1:{}/metrics", ports.metrics);
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut last: Option<BTreeMap<(String, String), f64>> = None;
        loop {
            own_metrics = harness::http_get(&url).1;
            let series = counter_series(&own_metrics);
            // the case sends all three signals
            let exported = ["spans", "metric_points", "log_records"]
                .iter()
                .all(|signal| {
                    let name = format!("otelcol_exporter_sent_{signal}");
                    series.iter().any(|((n, _), v)| *n == name && *v > 0.0)
                });
            let settled = exported && items(&recorded) > 0 && last.as_ref() == Some(&series);
            if settled || Instant::now() > deadline {
                break;
            }
            last = Some(series);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    let mut scraped = String::new();
    if let Some((url, until)) = case.scrape_url {
        let url = ports.fill(url);
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut last = None;
        let client = reqwest::Client::new();
        loop {
            scraped = match client.get(&url).send().await {
                Ok(resp) => resp.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            // the process's own figures (CPU, memory, uptime) move between any two reads
            let steady: String = scraped
                .lines()
                .filter(|l| !l.starts_with("otelcol_process_"))
                .collect();
            let settled = scraped.contains(until) && last.as_ref() == Some(&steady);
            if settled || Instant::now() > deadline {
                break;
            }
            last = Some(steady);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    let (code, _, stderr) = tokio::task::spawn_blocking(move || collector.stop())
        .await
        .unwrap();
    assert_eq!(
        code,
        0,
        "{} ({}) exited {code}:\n{stderr}",
        case.name,
        imp.name()
    );
    let out = Output {
        traces: json_all!(recorded.traces),
        metrics: json_all!(recorded.metrics),
        logs: json_all!(recorded.logs),
        own_metrics,
        scraped,
        posted: std::mem::take(&mut *recorder.posted.lock().unwrap()),
        dir,
    };
    let _ = stop_sink.send(());
    Ok(out)
}

/// Both collectors on a case. The Go collector must take the config (the cases are valid Go
/// configs); Ferrotel refusing it is a difference like any other.
pub(crate) async fn run_both(case: &Case<'_>) -> (Output, Result<Output, String>) {
    let go = run(Impl::Go, case)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let ferrotel = run(Impl::Ferrotel, case).await;
    (go, ferrotel)
}

// ------------------------------------------------------------------------------------------
// Normalization and comparison

/// Members of a protobuf `oneof`: set even when they hold a default value.
const ONEOF: &[&str] = &[
    "stringValue",
    "boolValue",
    "intValue",
    "doubleValue",
    "bytesValue",
    "arrayValue",
    "kvlistValue",
    "asDouble",
    "asInt",
];

/// A field at its default value, which protobuf does not tell apart from an absent one (an
/// empty `status` message written or left out is the same span).
fn is_default(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty() || s == "0",
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Attribute lists sorted by key, data points sorted, `observedTimeUnixNano` reduced to
/// "set"/"unset" (a receiver stamps it with the time it read the item), fields at their
/// default value dropped.
fn canonical(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(observed) = map.get_mut("observedTimeUnixNano") {
                let set = !matches!(observed.as_str(), Some("0") | None)
                    || observed.as_u64().is_some_and(|n| n != 0);
                *observed = Value::String(if set { "set" } else { "unset" }.into());
            }
            for (key, value) in map.iter_mut() {
                canonical(value);
                if let (true, Value::Array(list)) = (
                    key == "attributes" || key == "dataPoints" || key == "values",
                    value,
                ) {
                    list.sort_by_key(|a| {
                        a.get("key")
                            .map(|k| k.to_string())
                            .unwrap_or_else(|| a.to_string())
                    });
                }
            }
            map.retain(|k, v| ONEOF.contains(&k.as_str()) || !is_default(v));
        }
        Value::Array(list) => list.iter_mut().for_each(canonical),
        _ => {}
    }
}

/// One flat, canonical line per span, metric or log record, with its resource and scope;
/// sorted, so grouping and order do not matter.
fn flatten(requests: &[Value], dir: &Path) -> Vec<String> {
    let dir = dir.to_str().unwrap();
    let mut out = Vec::new();
    for request in requests {
        for (groups, scopes, list) in [
            ("resourceSpans", "scopeSpans", "spans"),
            ("resourceMetrics", "scopeMetrics", "metrics"),
            ("resourceLogs", "scopeLogs", "logRecords"),
        ] {
            for group in request[groups].as_array().into_iter().flatten() {
                for scope in group[scopes].as_array().into_iter().flatten() {
                    for item in scope[list].as_array().into_iter().flatten() {
                        let mut line = serde_json::json!({
                            "resource": group["resource"],
                            "resourceSchemaUrl": group["schemaUrl"],
                            "scope": scope["scope"],
                            "scopeSchemaUrl": scope["schemaUrl"],
                            "item": item,
                        });
                        canonical(&mut line);
                        out.push(line.to_string().replace(dir, "DIR"));
                    }
                }
            }
        }
    }
    out.sort();
    out
}

/// `None` when both saw the same items, else a readable report of what differs.
pub(crate) fn diff(
    what: &str,
    go: &[Value],
    go_dir: &Path,
    fe: &[Value],
    fe_dir: &Path,
) -> Option<String> {
    let go = flatten(go, go_dir);
    let fe = flatten(fe, fe_dir);
    if go == fe {
        return None;
    }
    let mut report = format!(
        "{what}: the Go collector exported {} items, Ferrotel {}\n",
        go.len(),
        fe.len()
    );
    let count = |v: &[String]| {
        let mut m = BTreeMap::<String, usize>::new();
        for s in v {
            *m.entry(s.clone()).or_default() += 1;
        }
        m
    };
    let (g, f) = (count(&go), count(&fe));
    let pretty =
        |s: &str| serde_json::to_string_pretty(&serde_json::from_str::<Value>(s).unwrap()).unwrap();
    for (label, a, b) in [("only from Go", &g, &f), ("only from Ferrotel", &f, &g)] {
        let only: Vec<&String> = a
            .iter()
            .filter(|(k, n)| b.get(*k).copied().unwrap_or(0) < **n)
            .map(|(k, _)| k)
            .collect();
        for s in only.iter().take(4) {
            report.push_str(&format!("--- {label}:\n{}\n", pretty(s)));
        }
        if only.len() > 4 {
            report.push_str(&format!("... and {} more {label}\n", only.len() - 4));
        }
    }
    Some(report)
}

fn diff_outputs(go: &Output, fe: &Result<Output, String>) -> Option<String> {
    let fe = match fe {
        Ok(fe) => fe,
        Err(e) => return Some(e.clone()),
    };
    let reports: Vec<String> = [
        diff("traces", &go.traces, &go.dir, &fe.traces, &fe.dir),
        diff("metrics", &go.metrics, &go.dir, &fe.metrics, &fe.dir),
        diff("logs", &go.logs, &go.dir, &fe.logs, &fe.dir),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!reports.is_empty()).then(|| reports.join("\n"))
}

pub(crate) async fn compare(case: Case<'_>) {
    let (go, fe) = run_both(&case).await;
    assert!(
        !(go.traces.is_empty() && go.metrics.is_empty() && go.logs.is_empty()),
        "{}: the Go collector exported nothing",
        case.name
    );
    if let Err(e) = verdict(case.name, diff_outputs(&go, &fe)) {
        panic!("{e}");
    }
}

// ------------------------------------------------------------------------------------------
// Inputs

pub(crate) fn s(k: &str, v: &str) -> KeyValue {
    attr(k, any_value::Value::StringValue(v.into()))
}

pub(crate) fn i(k: &str, v: i64) -> KeyValue {
    attr(k, any_value::Value::IntValue(v))
}

pub(crate) fn d(k: &str, v: f64) -> KeyValue {
    attr(k, any_value::Value::DoubleValue(v))
}

pub(crate) fn b(k: &str, v: bool) -> KeyValue {
    attr(k, any_value::Value::BoolValue(v))
}

fn attr(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

pub(crate) fn resource(attributes: Vec<KeyValue>) -> Option<Resource> {
    Some(Resource {
        attributes,
        ..Default::default()
    })
}

pub(crate) fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "compat".into(),
        version: "1.0.0".into(),
        ..Default::default()
    })
}

/// A fixed xorshift sequence: the same ids on every run.
struct Ids(u64);

impl Ids {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn trace_id(&mut self) -> Vec<u8> {
        let mut id = self.next().to_be_bytes().to_vec();
        id.extend(self.next().to_be_bytes());
        id
    }

    fn span_id(&mut self) -> Vec<u8> {
        self.next().to_be_bytes().to_vec()
    }
}

pub(crate) const T0: u64 = 1_714_557_600_000_000_000; // 2024-05-01T10:00:00Z

pub(crate) fn example(name: &str) -> String {
    let path = root().join("../shared/testdata/otlp-examples").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

// ------------------------------------------------------------------------------------------
// a. OTLP pass-through of the specification's examples

const PASS_THROUGH: &str = r#"
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
      http: {endpoint: "127.0.0.1:HTTP_PORT"}
exporters:
  otlp:
    endpoint: SINK
    tls: {insecure: true}
service:
  telemetry: TELEMETRY
  pipelines:
    traces: {receivers: [otlp], exporters: [otlp]}
    metrics: {receivers: [otlp], exporters: [otlp]}
    logs: {receivers: [otlp], exporters: [otlp]}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_otlp_json_examples_pass_through_alike() {
    compare(Case {
        name: "otlp_json_examples",
        config: PASS_THROUGH,
        files: &[],
        input: Input::Json(vec![
            ("/v1/traces", example("trace.json")),
            ("/v1/metrics", example("metrics.json")),
            ("/v1/logs", example("logs.json")),
            ("/v1/logs", example("events.json")),
        ]),
        wait_for: 0,
        scrape: false,
        scrape_url: None,
    })
    .await;
}

/// `batch` cutting requests at 7 items (spans, data points, log records) and the `forward`
/// connector handing them to a second pipeline.
const BATCH_FORWARD: &str = r#"
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
processors:
  batch:
    send_batch_size: 7
    send_batch_max_size: 7
    timeout: 200ms
  resource/forwarded: {attributes: [{key: hop, value: forwarded, action: insert}]}
connectors:
  forward:
exporters:
  otlp:
    endpoint: SINK
    tls: {insecure: true}
service:
  telemetry: TELEMETRY
  pipelines:
    traces/in: {receivers: [otlp], processors: [batch], exporters: [forward]}
    metrics/in: {receivers: [otlp], processors: [batch], exporters: [forward]}
    logs/in: {receivers: [otlp], processors: [batch], exporters: [forward]}
    traces/out: {receivers: [forward], processors: [resource/forwarded], exporters: [otlp]}
    metrics/out: {receivers: [forward], processors: [resource/forwarded], exporters: [otlp]}
    logs/out: {receivers: [forward], processors: [resource/forwarded], exporters: [otlp]}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_and_forward_connector_pass_alike() {
    compare(Case {
        name: "batch_forward",
        config: BATCH_FORWARD,
        files: &[],
        input: attributes_input(),
        wait_for: 0,
        scrape: false,
        scrape_url: None,
    })
    .await;
}

// ------------------------------------------------------------------------------------------
// b. attributes and resource processors

/// Every action of the attributes processor, on spans, metric data points and log records;
/// the resource processor's on the resource.
const ATTRIBUTES: &str = r#"
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
processors:
  attributes/spans:
    actions: &actions
      - {key: inserted, value: new, action: insert}
      - {key: existing.insert, value: replaced, action: insert}
      - {key: http.method, value: PATCHED, action: update}
      - {key: missing.update, value: nope, action: update}
      - {key: upserted, value: 42, action: upsert}
      - {key: env, from_attribute: deployment, action: upsert}
      - {key: env.copy, from_attribute: missing.source, action: insert}
      - {key: secret, action: delete}
      - {pattern: ^tmp\..*, action: delete}
      - {key: user.email, action: hash}
      - {key: http.url, pattern: '^(?P<scheme>\w+)://(?P<host>[^/?]+)(?P<path>/[^?]*)', action: extract}
      - {key: http.status_code, converted_type: int, action: convert}
      - {key: ratio, converted_type: double, action: convert}
      - {key: flag, converted_type: string, action: convert}
      - {key: rounded, converted_type: int, action: convert}
      - {key: list, value: [a, b], action: insert}
  attributes/checkout_spans:
    include:
      match_type: strict
      services: [checkout]
    actions:
      - {key: checkout.only, value: true, action: insert}
  attributes/not_render:
    exclude:
      match_type: regexp
      span_names: ['^render.*']
    actions:
      - {key: not.render, value: 1.5, action: insert}
  attributes/metrics:
    actions: *actions
  attributes/logs:
    actions: *actions
  attributes/error_logs:
    include:
      match_type: regexp
      log_bodies: ['.*failed.*']
    actions:
      - {key: failure, value: true, action: insert}
  resource:
    attributes:
      - {key: service.namespace, value: shop, action: insert}
      - {key: service.name, value: renamed, action: update}
      - {key: cloud.region, value: eu-west-1, action: upsert}
      - {key: host.name, action: delete}
      - {key: k8s.pod.uid, action: hash}
      - {key: k8s.pod.name, pattern: '^(?P<workload>[a-z]+)-(?P<pod_hash>[0-9a-z]+)-', action: extract}
      - {key: replicas, converted_type: int, action: convert}
exporters:
  otlp:
    endpoint: SINK
    tls: {insecure: true}
service:
  telemetry: TELEMETRY
  pipelines:
    traces:
      receivers: [otlp]
      processors: [attributes/spans, attributes/checkout_spans, attributes/not_render, resource]
      exporters: [otlp]
    metrics:
      receivers: [otlp]
      processors: [attributes/metrics, resource]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      processors: [attributes/logs, attributes/error_logs, resource]
      exporters: [otlp]
"#;

/// Attribute sets the actions above find in every state: present, absent, of another type,
/// convertible or not.
fn attribute_sets() -> Vec<Vec<KeyValue>> {
    vec![
        vec![
            s("http.method", "GET"),
            s("http.url", "https://shop.example.com/cart/items?id=1"),
            s("http.status_code", "200"),
            s("ratio", "0.25"),
            b("flag", true),
            s("secret", "s3cr3t"),
            s("tmp.debug", "x"),
            s("tmp.trace", "y"),
            s("user.email", "a@example.com"),
            s("deployment", "prod"),
            s("existing.insert", "keep"),
            d("rounded", 2.7),
        ],
        vec![
            s("http.status_code", "abc"),
            i("ratio", 3),
            i("flag", 1),
            i("user.email", 12345),
            s("http.url", "not a url"),
            i("deployment", 7),
            s("rounded", "-4"),
        ],
        vec![
            i("http.status_code", 404),
            d("ratio", 1.5),
            d("flag", 0.5),
            b("user.email", false),
            s("upserted", "before"),
            s("rounded", "3.9"),
        ],
        vec![],
    ]
}

fn resources() -> Vec<Vec<KeyValue>> {
    vec![
        vec![
            s("service.name", "checkout"),
            s("host.name", "node-1"),
            s("k8s.pod.uid", "0e1f7a2b-uid"),
            s("k8s.pod.name", "checkout-7d9f8b-abcde"),
            s("replicas", "3"),
            s("cloud.region", "us-east-1"),
        ],
        vec![
            s("service.name", "frontend"),
            s("replicas", "three"),
            s("service.namespace", "web"),
        ],
        vec![],
    ]
}

pub(crate) fn attributes_input() -> Input {
    let mut ids = Ids(0x9e3779b97f4a7c15);
    let names = ["GET /cart", "render page", "POST /pay", "render"];
    let traces = ExportTraceServiceRequest {
        resource_spans: resources()
            .into_iter()
            .map(|r| ResourceSpans {
                resource: resource(r),
                scope_spans: vec![ScopeSpans {
                    scope: scope(),
                    spans: attribute_sets()
                        .into_iter()
                        .zip(names)
                        .map(|(attributes, name)| Span {
                            trace_id: ids.trace_id(),
                            span_id: ids.span_id(),
                            name: name.into(),
                            kind: span::SpanKind::Server as i32,
                            start_time_unix_nano: T0,
                            end_time_unix_nano: T0 + 1_000_000,
                            attributes,
                            status: Some(Status::default()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    };
    let bodies = ["payment failed", "ok", "render failed twice", "done"];
    let logs = ExportLogsServiceRequest {
        resource_logs: resources()
            .into_iter()
            .map(|r| ResourceLogs {
                resource: resource(r),
                scope_logs: vec![ScopeLogs {
                    scope: scope(),
                    log_records: attribute_sets()
                        .into_iter()
                        .zip(bodies)
                        .map(|(attributes, body)| LogRecord {
                            time_unix_nano: T0,
                            observed_time_unix_nano: T0 + 5,
                            severity_number: 9,
                            severity_text: "INFO".into(),
                            body: Some(AnyValue {
                                value: Some(any_value::Value::StringValue(body.into())),
                            }),
                            attributes,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    };
    let point = |attributes: Vec<KeyValue>, v: f64| NumberDataPoint {
        attributes,
        start_time_unix_nano: T0,
        time_unix_nano: T0 + 1_000_000_000,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    };
    let metrics = ExportMetricsServiceRequest {
        resource_metrics: resources()
            .into_iter()
            .map(|r| ResourceMetrics {
                resource: resource(r),
                scope_metrics: vec![ScopeMetrics {
                    scope: scope(),
                    metrics: vec![
                        Metric {
                            name: "queue.depth".into(),
                            unit: "{item}".into(),
                            data: Some(metric::Data::Gauge(Gauge {
                                data_points: attribute_sets()
                                    .into_iter()
                                    .enumerate()
                                    .map(|(n, a)| point(a, n as f64))
                                    .collect(),
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "requests".into(),
                            data: Some(metric::Data::Sum(Sum {
                                data_points: attribute_sets()
                                    .into_iter()
                                    .take(2)
                                    .map(|a| point(a, 10.0))
                                    .collect(),
                                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                                is_monotonic: true,
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "latency".into(),
                            unit: "ms".into(),
                            data: Some(metric::Data::Histogram(Histogram {
                                data_points: vec![HistogramDataPoint {
                                    attributes: attribute_sets().remove(0),
                                    start_time_unix_nano: T0,
                                    time_unix_nano: T0 + 1_000_000_000,
                                    count: 3,
                                    sum: Some(12.0),
                                    bucket_counts: vec![1, 2, 0],
                                    explicit_bounds: vec![1.0, 10.0],
                                    ..Default::default()
                                }],
                                aggregation_temporality: AggregationTemporality::Delta as i32,
                            })),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    };
    Input::Grpc(vec![traces], vec![metrics], vec![logs])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_attributes_and_resource_processors_act_alike() {
    compare(Case {
        name: "attributes_resource",
        config: ATTRIBUTES,
        files: &[],
        input: attributes_input(),
        wait_for: 0,
        scrape: false,
        scrape_url: None,
    })
    .await;
}

// ------------------------------------------------------------------------------------------
// c. probabilistic_sampler

/// The three sampler modes side by side on the same data (fan-out from one receiver), each
/// pipeline tagging what it kept.
const SAMPLER: &str = r#"
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
processors:
  probabilistic_sampler/hash_seed:
    sampling_percentage: 25
    hash_seed: 22
  probabilistic_sampler/proportional:
    mode: proportional
    sampling_percentage: 25
  probabilistic_sampler/equalizing:
    mode: equalizing
    sampling_percentage: 33.3
  probabilistic_sampler/logs:
    sampling_percentage: 40
    hash_seed: 7
  probabilistic_sampler/logs_by_attribute:
    sampling_percentage: 50
    attribute_source: record
    from_attribute: user.id
  resource/hash_seed: {attributes: [{key: pipeline, value: hash_seed, action: insert}]}
  resource/proportional: {attributes: [{key: pipeline, value: proportional, action: insert}]}
  resource/equalizing: {attributes: [{key: pipeline, value: equalizing, action: insert}]}
  resource/logs: {attributes: [{key: pipeline, value: logs, action: insert}]}
  resource/logs_by_attribute: {attributes: [{key: pipeline, value: logs_by_attribute, action: insert}]}
exporters:
  otlp:
    endpoint: SINK
    tls: {insecure: true}
service:
  telemetry: TELEMETRY
  pipelines:
    traces/hash_seed:
      receivers: [otlp]
      processors: [probabilistic_sampler/hash_seed, resource/hash_seed]
      exporters: [otlp]
    traces/proportional:
      receivers: [otlp]
      processors: [probabilistic_sampler/proportional, resource/proportional]
      exporters: [otlp]
    traces/equalizing:
      receivers: [otlp]
      processors: [probabilistic_sampler/equalizing, resource/equalizing]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      processors: [probabilistic_sampler/logs, resource/logs]
      exporters: [otlp]
    logs/by_attribute:
      receivers: [otlp]
      processors: [probabilistic_sampler/logs_by_attribute, resource/logs_by_attribute]
      exporters: [otlp]
"#;

/// 1,000 traces of two spans each from a fixed seed, in 10 requests; every 7th trace carries
/// W3C tracestate with explicit randomness (`ot=rv:`), every 11th a threshold already set
/// (`ot=th:`); 1,000 log records with trace ids, a third with a `user.id`.
fn sampler_input() -> Input {
    let mut ids = Ids(0x2545f4914f6cdd1d);
    let mut traces = Vec::new();
    let mut n = 0u64;
    for _ in 0..10 {
        let mut spans = Vec::new();
        for _ in 0..100 {
            n += 1;
            let trace_id = ids.trace_id();
            let trace_state = if n.is_multiple_of(7) {
                format!("ot=rv:{:014x}", ids.next() >> 8)
            } else if n.is_multiple_of(11) {
                "ot=th:8".to_string()
            } else {
                String::new()
            };
            let root = ids.span_id();
            for (k, parent) in [(0, vec![]), (1, root.clone())] {
                spans.push(Span {
                    trace_id: trace_id.clone(),
                    span_id: if k == 0 { root.clone() } else { ids.span_id() },
                    parent_span_id: parent,
                    trace_state: trace_state.clone(),
                    name: format!("op-{k}"),
                    start_time_unix_nano: T0 + n,
                    end_time_unix_nano: T0 + n + 1_000,
                    attributes: vec![i("n", n as i64)],
                    ..Default::default()
                });
            }
        }
        traces.push(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(vec![s("service.name", "sampled")]),
                scope_spans: vec![ScopeSpans {
                    scope: scope(),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        });
    }
    let mut logs = Vec::new();
    for chunk in 0..10 {
        let records = (0..100)
            .map(|k| {
                let n = chunk * 100 + k;
                let mut attributes = vec![i("n", n)];
                if n % 3 == 0 {
                    attributes.push(s("user.id", &format!("user-{}", n % 97)));
                }
                LogRecord {
                    time_unix_nano: T0 + n as u64,
                    observed_time_unix_nano: T0 + n as u64,
                    trace_id: ids.trace_id(),
                    span_id: ids.span_id(),
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(format!("record {n}"))),
                    }),
                    attributes,
                    ..Default::default()
                }
            })
            .collect();
        logs.push(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(vec![s("service.name", "sampled")]),
                scope_logs: vec![ScopeLogs {
                    scope: scope(),
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        });
    }
    Input::Grpc(traces, vec![], logs)
}

/// The explicit randomness a sampler writes (`rv` in tracestate, `sampling.randomness` on a
/// log record) replaced by a mark: what is left is which items were kept, and their
/// thresholds.
fn mask_randomness(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(ts)) = map.get_mut("traceState") {
                *ts = ts
                    .split(';')
                    .map(|kv| {
                        if kv.starts_with("ot=rv:") {
                            "ot=rv:masked"
                        } else if kv.starts_with("rv:") {
                            "rv:masked"
                        } else {
                            kv
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(";");
            }
            if map.get("key").and_then(Value::as_str) == Some("sampling.randomness") {
                map.insert("value".into(), Value::String("masked".into()));
            }
            map.values_mut().for_each(mask_randomness);
        }
        Value::Array(list) => list.iter_mut().for_each(mask_randomness),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_probabilistic_sampler_keeps_the_same_items() {
    let case = Case {
        name: "probabilistic_sampler",
        config: SAMPLER,
        files: &[],
        input: sampler_input(),
        wait_for: 0,
        scrape: false,
        scrape_url: None,
    };
    let (mut go, mut fe) = run_both(&case).await;
    assert!(
        go.traces.len() + go.logs.len() > 0,
        "the Go collector kept nothing"
    );
    let whole = verdict("probabilistic_sampler", diff_outputs(&go, &fe));
    // the decisions alone: the same items kept, with the same thresholds
    go.traces
        .iter_mut()
        .chain(go.logs.iter_mut())
        .for_each(mask_randomness);
    if let Ok(fe) = &mut fe {
        fe.traces
            .iter_mut()
            .chain(fe.logs.iter_mut())
            .for_each(mask_randomness);
    }
    let decisions = verdict("probabilistic_sampler_decisions", diff_outputs(&go, &fe));
    let failures: Vec<String> = [whole, decisions]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ------------------------------------------------------------------------------------------
// c. tail_sampling

/// Every deterministic policy type in one processor, and inverted matches in another (fan-out
/// from one receiver, each pipeline tagging what it kept); rate limits are left out, since
/// what they keep depends on timing.
const TAIL_SAMPLING: &str = r#"
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
processors:
  tail_sampling/policies:
    decision_wait: 1s
    num_traces: 10000
    policies:
      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
      - {name: slow, type: latency, latency: {threshold_ms: 500}}
      - {name: gold, type: string_attribute, string_attribute: {key: customer.tier, values: [gold]}}
      - name: orders
        type: string_attribute
        string_attribute: {key: http.route, values: ['^/api/v[0-9]+/orders'], enabled_regex_matching: true}
      - {name: big, type: numeric_attribute, numeric_attribute: {key: items, min_value: 1000, max_value: 1200}}
      - {name: some, type: probabilistic, probabilistic: {sampling_percentage: 10}}
      - {name: long, type: span_count, span_count: {min_spans: 5}}
      - {name: vendor, type: trace_state, trace_state: {key: vendor, values: [x]}}
      - name: prod_retries
        type: and
        and:
          and_sub_policy:
            - {name: prod, type: string_attribute, string_attribute: {key: env, values: [prod]}}
            - {name: retry, type: boolean_attribute, boolean_attribute: {key: retry, value: true}}
  tail_sampling/inverted:
    decision_wait: 1s
    num_traces: 10000
    policies:
      - name: not_health
        type: string_attribute
        string_attribute: {key: http.route, values: [/health], invert_match: true}
      - {name: not_bronze, type: string_attribute, string_attribute: {key: customer.tier, values: [bronze], invert_match: true}}
  resource/policies: {attributes: [{key: pipeline, value: policies, action: insert}]}
  resource/inverted: {attributes: [{key: pipeline, value: inverted, action: insert}]}
exporters:
  otlp:
    endpoint: SINK
    tls: {insecure: true}
service:
  telemetry: TELEMETRY
  pipelines:
    traces/policies:
      receivers: [otlp]
      processors: [tail_sampling/policies, resource/policies]
      exporters: [otlp]
    traces/inverted:
      receivers: [otlp]
      processors: [tail_sampling/inverted, resource/inverted]
      exporters: [otlp]
"#;

/// 300 traces of one to five spans with routes, tiers, item counts, environments, retries,
/// error statuses, durations and tracestates in fixed patterns, in 6 requests.
fn tail_sampling_input() -> Input {
    let mut ids = Ids(0x5851f42d4c957f2d);
    let routes = [
        "/api/v1/orders",
        "/health",
        "/api/v2/orders/7",
        "/cart",
        "/api/users",
        "/health",
    ];
    let tiers = ["gold", "silver", "bronze"];
    let mut requests = Vec::new();
    for chunk in 0..6u64 {
        let mut spans = Vec::new();
        for t in chunk * 50..chunk * 50 + 50 {
            let trace_id = ids.trace_id();
            let root = ids.span_id();
            let start = T0 + t * 1_000_000_000;
            let duration = (t % 9) * 100_000_000;
            for k in 0..=(t % 5) {
                let mut attributes = vec![];
                if k == 0 {
                    attributes = vec![
                        s("http.route", routes[(t % 6) as usize]),
                        s("customer.tier", tiers[(t % 7 % 3) as usize]),
                        i("items", ((t * 37) % 1500) as i64),
                        s("env", if t % 2 == 0 { "prod" } else { "staging" }),
                        b("retry", t.is_multiple_of(3)),
                    ];
                }
                spans.push(Span {
                    trace_id: trace_id.clone(),
                    span_id: if k == 0 { root.clone() } else { ids.span_id() },
                    parent_span_id: if k == 0 { vec![] } else { root.clone() },
                    trace_state: if t.is_multiple_of(17) {
                        "vendor=x".into()
                    } else {
                        String::new()
                    },
                    name: format!("op-{k}"),
                    start_time_unix_nano: start + k,
                    end_time_unix_nano: start + duration / (k + 1),
                    attributes,
                    status: (k == 0 && t.is_multiple_of(13)).then(|| Status {
                        code: 2,
                        message: "boom".into(),
                    }),
                    ..Default::default()
                });
            }
        }
        requests.push(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(vec![s("service.name", "tails")]),
                scope_spans: vec![ScopeSpans {
                    scope: scope(),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        });
    }
    Input::Grpc(requests, vec![], vec![])
}

/// The part of an output one pipeline tagged (resource attribute `pipeline`).
fn pipeline_part(out: &Output, pipeline: &str) -> Output {
    let keep = |requests: &[Value]| -> Vec<Value> {
        requests
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if let Some(Value::Array(groups)) = r.get_mut("resourceSpans") {
                    groups.retain(|g| {
                        g["resource"]["attributes"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|a| {
                                a["key"] == "pipeline" && a["value"]["stringValue"] == pipeline
                            })
                    });
                }
                r
            })
            .collect()
    };
    Output {
        traces: keep(&out.traces),
        metrics: vec![],
        logs: vec![],
        own_metrics: String::new(),
        scraped: String::new(),
        posted: vec![],
        dir: out.dir.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_tail_sampling_keeps_the_same_traces() {
    let case = Case {
        name: "tail_sampling",
        config: TAIL_SAMPLING,
        files: &[],
        input: tail_sampling_input(),
        wait_for: usize::MAX,
        scrape: false,
        scrape_url: None,
    };
    let (go, fe) = run_both(&case).await;
    let mut failures = Vec::new();
    for (pipeline, name) in [
        ("policies", "tail_sampling"),
        ("inverted", "tail_sampling_invert_match"),
    ] {
        let go = pipeline_part(&go, pipeline);
        assert!(
            !go.traces.is_empty(),
            "{name}: the Go collector kept nothing"
        );
        let fe = fe
            .as_ref()
            .map(|fe| pipeline_part(fe, pipeline))
            .map_err(Clone::clone);
        if let Err(e) = verdict(name, diff_outputs(&go, &fe)) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ------------------------------------------------------------------------------------------
// d. filelog: the container operator on Docker json-file and CRI logs, then parsers

/// Parsers after `container`, the same for both files: JSON lines parsed with their time and
/// level, key=value lines by a regex, the message moved to the body, fields removed and added.
const LOG_PARSERS: &str = r#"
      - type: json_parser
        if: 'body matches "^\\{"'
        timestamp:
          parse_from: attributes.ts
          layout: '%Y-%m-%dT%H:%M:%S.%LZ'
        severity:
          parse_from: attributes.level
      - type: regex_parser
        if: 'body matches "^level="'
        regex: '^level=(?P<level>\w+) msg="(?P<msg>[^"]*)"( pct=(?P<pct>\d+))?'
        severity:
          parse_from: attributes.level
      - type: move
        if: 'attributes.msg != nil'
        from: attributes.msg
        to: body
      - type: remove
        if: 'attributes.ts != nil'
        field: attributes.ts
      - type: add
        id: add_source
        field: resource.source
        value: compat
      - type: add
        id: add_stream_copy
        field: attributes.stream_copy
        value: 'EXPR(attributes["log.iostream"])'
"#;

fn filelog_config() -> String {
    format!(
        r#"
receivers:
  filelog/docker:
    include: [DIR/containers/*/*-json.log]
    start_at: beginning
    operators:
      - type: container
        format: docker
        add_metadata_from_filepath: false
{LOG_PARSERS}
  filelog/cri:
    include: [DIR/pods/*/*/*.log]
    start_at: beginning
    include_file_path: true
    operators:
      - type: container
{LOG_PARSERS}
exporters:
  otlp:
    endpoint: SINK
    tls: {{insecure: true}}
service:
  telemetry: TELEMETRY
  pipelines:
    logs:
      receivers: [filelog/docker, filelog/cri]
      exporters: [otlp]
"#
    )
}

const DOCKER_LOG: &str = concat!(
    r#"{"log":"{\"level\":\"error\",\"msg\":\"payment failed\",\"ts\":\"2024-05-01T10:00:00.123Z\",\"user\":\"u1\"}\n","stream":"stdout","time":"2024-05-01T10:00:00.200000000Z"}"#,
    "\n",
    r#"{"log":"level=warn msg=\"disk almost full\" pct=91\n","stream":"stderr","time":"2024-05-01T10:00:01.000000000Z"}"#,
    "\n",
    r#"{"log":"plain line\n","stream":"stdout","time":"2024-05-01T10:00:02.5Z"}"#,
    "\n",
);

/// A line Docker split at 16 KiB (the first part's `log` has no trailing newline) between two
/// whole lines.
const DOCKER_SPLIT_LOG: &str = concat!(
    r#"{"log":"before\n","stream":"stdout","time":"2024-05-01T10:00:02.000000000Z"}"#,
    "\n",
    r#"{"log":"a line Docker split ","stream":"stdout","time":"2024-05-01T10:00:03.000000000Z"}"#,
    "\n",
    r#"{"log":"at 16 KiB\n","stream":"stdout","time":"2024-05-01T10:00:03.000000100Z"}"#,
    "\n",
    r#"{"log":"after\n","stream":"stderr","time":"2024-05-01T10:00:04.000000000Z"}"#,
    "\n",
);

const CRI_LOG: &str = concat!(
    r#"2024-05-01T10:00:00.123456789Z stdout F {"level":"info","msg":"started","ts":"2024-05-01T10:00:00.100Z"}"#,
    "\n",
    "2024-05-01T10:00:01.000000000Z stderr P part one, \n",
    "2024-05-01T10:00:01.000000001Z stderr F part two\n",
    r#"2024-05-01T10:00:02.000000000Z stdout F level=debug msg="tick""#,
    "\n",
    "2024-05-01T10:00:03+00:00 stdout F offset time\n",
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d_filelog_container_and_parsers_read_alike() {
    let config = filelog_config();
    let case = Case {
        name: "filelog_container",
        config: &config,
        files: &[
            ("containers/0123abcd/0123abcd-json.log", DOCKER_LOG),
            (
                "pods/shop_checkout-7d9f8b-abcde_0e1f7a2b-4c3d-11ee-be56-0242ac120002/app/0.log",
                CRI_LOG,
            ),
        ],
        input: Input::Nothing,
        wait_for: 7,
        scrape: false,
        scrape_url: None,
    };
    let (mut go, fe) = run_both(&case).await;
    // Ferrotel drops the one trailing newline of Docker's `log` on purpose (case
    // filelog_docker_lines compares it raw); the rest must be alike
    go.logs.iter_mut().for_each(trim_docker_newline);
    if let Err(e) = verdict(case.name, diff_outputs(&go, &fe)) {
        panic!("{e}");
    }
}

/// RFC 3164 lines: the usual shapes (a tag with and without a PID, a day written ` 5` and
/// `05`, no hostname, a tag not followed by `: `, tabs, a date more than a week ahead that
/// belongs to last year) and lines each collector must refuse alike (PRI out of range, an
/// RFC 3339 time, Feb 30, no PRI).
const SYSLOG_3164: &str =
    "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8
<13>Feb  5 17:32:18 host app[123]: hi there
<13>Feb 05 17:32:18 host app[123]: lenient day
<165>Dec 25 09:00:00 10.0.0.1 nginx: GET /index.html 200
<30>Mar  1 00:00:01 web-1 systemd[1]: Started Session 4 of user root.
<86>Jul 14 12:00:00 host sshd[2211]: Accepted publickey for deploy from 10.0.0.5 port 52144 ssh2
<13>Jan  1 00:00:00 host kernel:message without space
<13>Jan  1 00:00:00 app: no hostname here
<13>Jan  1 00:00:00 myhost just a message
<13>Jan  1 00:00:00 host app[12]x trailing
<0>Aug 31 23:59:59 h t: m
<191>Aug 31 23:59:59 h t: m
<192>Aug 31 23:59:59 h t: bad pri
<13>2023-08-01T23:20:00Z host grafana[1]: rfc3339 is not a Stamp
<13>Feb 30 10:00:00 host app: bad day
<13>Feb 29 10:00:00 host app: leap day
no pri at all
Feb  5 17:32:18 host app: no pri
<13>Jan  1 00:00:00 host tab\tseparated\tvalues
<13>Jan  1 00:00:00 host
";

/// RFC 5424 lines: the RFC's examples, nil fields, escapes in a param value, an element
/// without params, a repeated param, offsets, and lines refused alike (a repeated SD-ID,
/// Feb 30, version 0, seven fraction digits, an unescaped `]`).
const SYSLOG_5424: &str = r#"<86>1 2015-08-05T21:58:59.693Z 192.168.2.132 SecureAuth0 23108 ID52020 [SecureAuth@27389 UserHostAddress="192.168.2.132" Realm="SecureAuth0" UserID="Tester2" PEN="27389"] Found the user for retrieving user's profile
<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] An application event
<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.
<14>1 2024-01-01T00:00:00+05:30 host app - - - offset
<14>1 2024-01-01T00:00:00Z host app - - [a@1 k="v\"q\]\\"] escaped
<14>1 2024-01-01T00:00:00Z host app - - [a@1] no params
<14>1 2024-01-01T00:00:00Z host app - - [a@1 x="1" x="2"] repeated param
<14>1 2024-01-01T00:00:00Z host app - - -
<14>1 - host app - - - no time
<14>1 2024-01-01T00:00:00Z host app - - [a@1 k="v"][a@1 k="w"] repeated id
<14>1 2024-02-30T00:00:00Z host app - - - bad date
<14>0 2024-01-01T00:00:00Z host app - - - bad version
<14>1 2024-01-01T00:00:00.1234567Z host app - - - seven digits
<14>1 2024-01-01T00:00:00Z host app - - [a@1 k="v]"] unescaped
1 2024-01-01T00:00:00Z host app - - - no pri
"#;

/// Octet-counted RFC 5424 frames, one a line: a whole frame, a frame longer than its line,
/// two frames in a line (the last counts), no length.
const SYSLOG_OCTETS: &str = "45 <14>1 2024-01-01T00:00:00Z host app - - - hi
99 <14>1 2024-01-01T00:00:00Z host app - - - short
45 <14>1 2024-01-01T00:00:00Z host app - - - hi45 <14>1 2024-01-01T00:00:00Z host bpp - - - ho
<14>1 2024-01-01T00:00:00Z host app - - - no length
";

/// `syslog_parser` in every mode Go has, each in a `filelog` receiver of its own over the same
/// lines: both collectors give the same records (attributes, timestamps, severities, and the
/// lines they refuse passed on unchanged).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d_filelog_syslog_parser_reads_alike() {
    let mut receivers = String::new();
    let mut ids = Vec::new();
    for (id, file, parser) in [
        ("r3164", "3164.log", "protocol: rfc3164"),
        (
            "r3164tz",
            "3164.log",
            "protocol: RFC3164, location: America/Detroit",
        ),
        (
            "r3164skip",
            "3164.log",
            "protocol: rfc3164, allow_skip_pri_header: true",
        ),
        ("r5424", "5424.log", "protocol: rfc5424"),
        (
            "r5424skip",
            "5424.log",
            "protocol: rfc5424, allow_skip_pri_header: true",
        ),
        ("none", "3164.log", "protocol: none"),
        (
            "octets",
            "octets.log",
            "protocol: rfc5424, enable_octet_counting: true, max_octets: 90",
        ),
        (
            "noneoctets",
            "octets.log",
            "protocol: none, enable_octet_counting: true",
        ),
    ] {
        receivers.push_str(&format!(
            "  filelog/{id}:\n    include: [DIR/{file}]\n    start_at: beginning\n    \
             operators: [{{type: syslog_parser, {parser}}}]\n"
        ));
        ids.push(format!("filelog/{id}"));
    }
    let config = to_sink(&receivers, "logs", &ids.join(", "));
    let lines = |s: &str| s.lines().count();
    let expected = 4 * lines(SYSLOG_3164) + 2 * lines(SYSLOG_5424) + 2 * lines(SYSLOG_OCTETS);
    let case = Case {
        name: "filelog_syslog_parser",
        config: &config,
        files: &[
            ("3164.log", SYSLOG_3164),
            ("5424.log", SYSLOG_5424),
            ("octets.log", SYSLOG_OCTETS),
        ],
        input: Input::Nothing,
        wait_for: expected,
        scrape: false,
        scrape_url: None,
    };
    let (go, fe) = run_both(&case).await;
    let records: usize = go
        .logs
        .iter()
        .flat_map(|r| r["resourceLogs"].as_array().cloned().unwrap_or_default())
        .flat_map(|r| r["scopeLogs"].as_array().cloned().unwrap_or_default())
        .map(|s| s["logRecords"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(records, expected, "the Go collector's records");
    if let Err(e) = verdict(case.name, diff_outputs(&go, &fe)) {
        panic!("{e}");
    }
}

/// One trailing newline removed from the body of every record read from a Docker json-file
/// log (`log.file.name` ending in `-json.log`).
fn trim_docker_newline(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let docker = map
                .get("attributes")
                .and_then(Value::as_array)
                .is_some_and(|attrs| {
                    attrs.iter().any(|a| {
                        a["key"] == "log.file.name"
                            && a["value"]["stringValue"]
                                .as_str()
                                .is_some_and(|n| n.ends_with("-json.log"))
                    })
                });
            if docker {
                if let Some(Value::String(body)) =
                    map.get_mut("body").and_then(|b| b.get_mut("stringValue"))
                {
                    if let Some(trimmed) = body.strip_suffix('\n') {
                        *body = trimmed.to_string();
                    }
                }
            }
            map.values_mut().for_each(trim_docker_newline);
        }
        Value::Array(list) => list.iter_mut().for_each(trim_docker_newline),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d_filelog_docker_lines_as_read() {
    let config = filelog_docker_config("");
    compare(Case {
        name: "filelog_docker_lines",
        config: &config,
        files: &[("containers/4567cdef/4567cdef-json.log", DOCKER_SPLIT_LOG)],
        input: Input::Nothing,
        wait_for: 3,
        scrape: false,
        scrape_url: None,
    })
    .await;
}

/// One filelog receiver on the Docker file with `operators` after `container`.
fn filelog_docker_config(operators: &str) -> String {
    format!(
        r#"
receivers:
  filelog:
    include: [DIR/containers/*/*-json.log]
    start_at: beginning
    operators:
      - type: container
        format: docker
        add_metadata_from_filepath: false
{operators}
exporters:
  otlp:
    endpoint: SINK
    tls: {{insecure: true}}
service:
  telemetry: TELEMETRY
  pipelines:
    logs:
      receivers: [filelog]
      exporters: [otlp]
"#
    )
}

const DOCKER_FILES: &[(&str, &str)] = &[("containers/0123abcd/0123abcd-json.log", DOCKER_LOG)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d_filelog_operators_of_one_type_without_ids() {
    // Go names them add, add1 (pkg/stanza/pipeline dedeplucateIDs)
    let config = filelog_docker_config(
        r#"
      - type: add
        field: attributes.first
        value: one
      - type: add
        field: attributes.second
        value: two
"#,
    );
    compare_docker(Case {
        name: "filelog_operators_of_one_type_without_ids",
        config: &config,
        files: DOCKER_FILES,
        input: Input::Nothing,
        wait_for: 4,
        scrape: false,
        scrape_url: None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d_filelog_expression_with_a_conditional() {
    let config = filelog_docker_config(
        r#"
      - type: add
        field: attributes.kind
        value: 'EXPR(body matches "^level=" ? "key_value" : "other")'
"#,
    );
    compare_docker(Case {
        name: "filelog_expression_conditional",
        config: &config,
        files: DOCKER_FILES,
        input: Input::Nothing,
        wait_for: 4,
        scrape: false,
        scrape_url: None,
    })
    .await;
}

/// [`compare`] for Docker json-file cases: the trailing newline is the deliberate difference
/// of `filelog_docker_lines`, taken off Go's records first.
async fn compare_docker(case: Case<'_>) {
    let (mut go, fe) = run_both(&case).await;
    go.logs.iter_mut().for_each(trim_docker_newline);
    if let Err(e) = verdict(case.name, diff_outputs(&go, &fe)) {
        panic!("{e}");
    }
}

// ------------------------------------------------------------------------------------------
// e. own metrics: names and label names on /metrics after the same traffic

const OWN_METRICS: &str = r#"
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
      http: {endpoint: "127.0.0.1:HTTP_PORT"}
processors:
  batch:
    timeout: 100ms
  memory_limiter:
    check_interval: 1s
    limit_mib: 4000
    spike_limit_mib: 800
exporters:
  otlp:
    endpoint: SINK
    tls: {insecure: true}
service:
  telemetry: TELEMETRY
  pipelines:
    traces: {receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlp]}
    metrics: {receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlp]}
    logs: {receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlp]}
"#;

/// `otelcol_*` series names (a histogram's `_bucket`/`_sum`/`_count` folded into its name)
/// with the label names each carries.
pub(crate) fn own_metric_names(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::<String, BTreeSet<String>>::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let series = line.rsplit_once(' ').map(|(s, _)| s).unwrap_or(line);
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if !name.starts_with("otelcol_") {
            continue;
        }
        let mut labels: BTreeSet<String> = labels
            .split("\",")
            .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.trim().to_string()))
            .filter(|k| !k.is_empty())
            .collect();
        let name = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                let base = name.strip_suffix(suffix)?;
                text.contains(&format!("# TYPE {base} histogram"))
                    .then_some(base)
            })
            .unwrap_or(name);
        labels.remove("le");
        out.entry(name.to_string()).or_default().extend(labels);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_own_metrics_have_the_same_names_and_labels() {
    let case = Case {
        name: "own_metrics",
        config: OWN_METRICS,
        files: &[],
        input: attributes_input(),
        wait_for: 0,
        scrape: true,
        scrape_url: None,
    };
    let (go, fe) = run_both(&case).await;
    let fe = fe.unwrap_or_else(|e| panic!("{e}"));
    let (go_text, fe_text) = (go.own_metrics, fe.own_metrics);
    let (go, fe) = (own_metric_names(&go_text), own_metric_names(&fe_text));
    assert!(!go.is_empty(), "the Go collector served no otelcol_ metric");
    let mut failures = Vec::new();
    let mut table = String::from("metric | go | ferrotel\n");
    for name in go.keys().chain(fe.keys()).collect::<BTreeSet<_>>() {
        let (g, f) = (go.get(name), fe.get(name));
        table.push_str(&format!(
            "{name} | {} | {}\n",
            g.map_or("-".into(), |l| format!("{l:?}")),
            f.map_or("-".into(), |l| format!("{l:?}"))
        ));
        let case = format!("metric:{name}");
        let mismatch = match (g, f) {
            (Some(_), None) => Some("served by Go only".to_string()),
            (None, Some(_)) => Some("served by Ferrotel only".to_string()),
            _ => None,
        };
        if let Err(e) = verdict(&case, mismatch) {
            failures.push(e);
        }
        if let (Some(g), Some(f)) = (g, f) {
            let mismatch = (g != f).then(|| format!("labels: go {g:?}, ferrotel {f:?}"));
            if let Err(e) = verdict(&format!("labels:{name}"), mismatch) {
                failures.push(e);
            }
        }
    }
    // the counts of the same traffic: every series Go serves of these counters, Ferrotel
    // serves with the same value (labels only one side has are left out of the match)
    let (go_series, fe_series) = (counter_series(&go_text), counter_series(&fe_text));
    assert!(go_series.len() >= 9, "{go_series:?}");
    for ((name, labels), value) in &go_series {
        let found = fe_series.get(&(name.clone(), labels.clone()));
        let mismatch = (found != Some(value))
            .then(|| format!("{name}{{{labels}}}: go {value}, ferrotel {found:?}"));
        if let Err(e) = verdict(&format!("value:{name}{{{labels}}}"), mismatch) {
            failures.push(e);
        }
    }
    eprintln!("{table}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The traffic counters (received, refused, exported, in and out of processors) by name and
/// label set, without the labels only one collector sets (`server_address`, `server_port`).
fn counter_series(text: &str) -> BTreeMap<(String, String), f64> {
    const COUNTERS: &[&str] = &[
        "otelcol_receiver_accepted_",
        "otelcol_receiver_refused_",
        "otelcol_exporter_sent_",
        "otelcol_processor_incoming_items",
        "otelcol_processor_outgoing_items",
    ];
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (name, labels) = series
            .split_once('{')
            .map(|(n, l)| (n, l.trim_end_matches('}')))
            .unwrap_or((series, ""));
        if !COUNTERS.iter().any(|c| name.starts_with(c)) {
            continue;
        }
        let labels: Vec<&str> = labels
            .split(',')
            .filter(|kv| !kv.is_empty() && !kv.starts_with("server_"))
            .collect();
        if let Ok(v) = value.parse::<f64>() {
            out.insert((name.to_string(), labels.join(",")), v);
        }
    }
    out
}

// ------------------------------------------------------------------------------------------
// f. validate parity on the examples and on real public configs

/// Run `program validate --config path` (bounded); true when it accepts the config.
fn validates(program: &Path, path: &Path) -> (bool, String) {
    let mut child = Command::new(program)
        .arg("validate")
        .arg("--config")
        .arg(path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program:?}: {e}"));
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::BufReader::new(stderr), &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("{program:?} validate --config {path:?} did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.success(), reader.join().unwrap_or_default())
}

fn configs_to_validate() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>, all: bool) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                walk(&p, out, all);
            } else if (name.ends_with(".yaml") || name.ends_with(".yml"))
                && (all || name.contains("config"))
            {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("config-examples"), &mut out, false);
    walk(&root().join("compat/corpus"), &mut out, true);
    out
}

/// Component types Ferrotel ships that the oracle cannot be built with at its release (the
/// module proxy here does not serve them at v0.155.0; compat/builder-config.yaml says which).
const ORACLE_LACKS: &[&str] = &[
    "spanmetrics",
    "servicegraph",
    "count",
    "routing",
    "docker_stats",
    "otlpjsonfile",
];

#[test]
fn f_validate_accepts_and_rejects_the_same_configs() {
    let go_bin = oracle();
    let configs = configs_to_validate();
    assert!(configs.len() > 10, "{configs:?}");
    let results = Arc::new(Mutex::new(Vec::new()));
    // two at a time: each run is a short process
    let queue = Arc::new(Mutex::new(configs.clone()));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (queue, results, go_bin) = (queue.clone(), results.clone(), go_bin.clone());
            std::thread::spawn(move || loop {
                let Some(path) = queue.lock().unwrap().pop() else {
                    return;
                };
                let go = validates(&go_bin, &path);
                let fe = validates(Path::new(harness::BIN), &path);
                results.lock().unwrap().push((path, go, fe));
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut results = Arc::try_unwrap(results).unwrap().into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let verdict_word = |ok: bool| if ok { "accepts" } else { "rejects" };
    let mut table = format!("{:<70} {:<8} {:<8}\n", "config", "go", "ferrotel");
    let mut failures = Vec::new();
    let mut agree = 0;
    for (path, (go_ok, go_err), (fe_ok, fe_err)) in &results {
        let rel = path
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .to_string();
        table.push_str(&format!(
            "{rel:<70} {:<8} {:<8}\n",
            verdict_word(*go_ok),
            verdict_word(*fe_ok)
        ));
        if go_ok == fe_ok {
            agree += 1;
        }
        let last_line = |s: &str| {
            s.lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("")
                .chars()
                .take(400)
                .collect::<String>()
        };
        // the oracle's build lacks some components Ferrotel ships (see
        // compat/builder-config.yaml): a config Go refuses only for naming one is not compared
        if !go_ok && *fe_ok {
            if let Some(t) = ORACLE_LACKS
                .iter()
                .find(|t| go_err.contains(&format!("unknown type: \"{t}\"")))
            {
                eprintln!("validate:{rel}: not compared: the oracle has no `{t}`");
                continue;
            }
        }
        let mismatch = (go_ok != fe_ok).then(|| {
            format!(
                "Go {}, Ferrotel {}\n  go: {}\n  ferrotel: {}",
                verdict_word(*go_ok),
                verdict_word(*fe_ok),
                last_line(go_err),
                last_line(fe_err)
            )
        });
        if let Err(e) = verdict(&format!("validate:{rel}"), mismatch) {
            failures.push(e);
        }
    }
    eprintln!("{table}{} configs, {agree} agree", results.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The `prometheus` receivers of public collector configs that discover their targets in
/// Kubernetes (`compat/k8s-sd/`, each file's origin in its first line): each file's
/// prometheus receiver sections, alone in a metrics pipeline, are accepted or refused alike by
/// both collectors, and as expected: once as written (the service account's token, absent
/// here, is checked by both) and once with the service account directory made here (the
/// node-name variables the files read are given a value).
#[test]
fn g_kubernetes_sd_public_configs_validate_alike() {
    let go_bin = oracle();
    let dir = harness::temp_dir("compat-k8s-sd");
    let sa = dir.join("serviceaccount");
    std::fs::create_dir_all(&sa).unwrap();
    std::fs::write(sa.join("token"), "token").unwrap();
    std::fs::copy(
        root().join("receivers/src/otlp/testdata/ca.crt"),
        sa.join("ca.crt"),
    )
    .unwrap();
    // `replacement: ${1}:2020` in 04: `${1}` is read as an environment variable by both
    let refused_anyway = ["04-aws-eks-haproxy-pod-endpoints.yaml"];
    let mut seen = 0;
    for entry in std::fs::read_dir(root().join("compat/k8s-sd")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("${env:OTEL_K8S_NODE_NAME}", "node-a")
            .replace("${MY_NODE_NAME}", "node-a");
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        let mut receivers = serde_yaml_ng::Mapping::new();
        for (k, v) in doc["receivers"].as_mapping().unwrap() {
            let id = k.as_str().unwrap();
            if id == "prometheus" || id.starts_with("prometheus/") {
                receivers.insert(k.clone(), v.clone());
            }
        }
        assert!(!receivers.is_empty(), "{name}: no prometheus receiver");
        let ids: Vec<serde_yaml_ng::Value> = receivers.keys().cloned().collect();
        let rest = serde_yaml_ng::to_string(&serde_json::json!({
            "exporters": {"debug": {}},
            "service": {"pipelines": {"metrics": {"receivers": ids, "exporters": ["debug"]}}}
        }))
        .unwrap();
        let as_written = format!(
            "receivers:\n{}{rest}",
            serde_yaml_ng::to_string(&receivers)
                .unwrap()
                .lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
        );
        let reads_token =
            as_written.contains("/var/run/secrets/kubernetes.io/serviceaccount/token");
        let anyway = refused_anyway.contains(&name.as_str());
        let here = as_written.replace(
            "/var/run/secrets/kubernetes.io/serviceaccount",
            sa.to_str().unwrap(),
        );
        for (variant, config, want) in [
            ("as written", as_written, !anyway && !reads_token),
            ("with a service account", here, !anyway),
        ] {
            let file = dir.join(&name);
            std::fs::write(&file, &config).unwrap();
            let (go_ok, go_err) = validates(&go_bin, &file);
            let (fe_ok, fe_err) = validates(Path::new(harness::BIN), &file);
            assert_eq!(
                (go_ok, fe_ok),
                (want, want),
                "{name} ({variant}): Go {go_ok}, Ferrotel {fe_ok} (both should be {want})\n{config}\ngo: {go_err}\nferrotel: {fe_err}"
            );
        }
        seen += 1;
    }
    assert_eq!(seen, 6);
}

/// `kubernetes_sd_configs` entries, each alone in a job, are accepted or refused alike by
/// both collectors: the role, the API settings that exclude each other, the HTTP client keys
/// without `api_server`, selector roles, and label and field selector syntax.
#[test]
fn g_kubernetes_sd_configs_are_checked_alike() {
    let go_bin = oracle();
    let dir = harness::temp_dir("compat-k8s-sd-checks");
    let cases: &[(&str, bool)] = &[
        ("{role: pod}", true),
        ("{}", false),
        ("{role: pods}", false),
        ("{role: endpointslice, api_server: 'https://10.0.0.1:6443', bearer_token: t, tls_config: {insecure_skip_verify: true}}", true),
        ("{role: pod, api_server: 'https://10.0.0.1:6443', kubeconfig_file: /nonexistent}", false),
        ("{role: pod, bearer_token: t}", false),
        ("{role: pod, follow_redirects: true}", true),
        ("{role: pod, api_server: 'https://10.0.0.1:6443', namespaces: {own_namespace: true}}", false),
        ("{role: service, namespaces: {names: [a, b]}, attach_metadata: {namespace: true}}", true),
        ("{role: endpoints, selectors: [{role: pod, label: 'app=web'}, {role: service}, {role: endpoints}]}", true),
        ("{role: endpoints, selectors: [{role: pod}, {role: pod}]}", false),
        ("{role: pod, selectors: [{role: node, field: 'metadata.name=n'}]}", true),
        ("{role: service, selectors: [{role: node}]}", false),
        ("{role: pod, attach_metadata: {deployment: true, job: true, cronjob: true}}", true),
        ("{role: pod, selectors: [{role: pod, label: 'app in (a,b),!canary,tier!=db'}]}", true),
        ("{role: pod, selectors: [{role: pod, label: 'app in a'}]}", false),
        ("{role: pod, selectors: [{role: pod, label: 'app='}]}", true),
        ("{role: pod, selectors: [{role: pod, label: '=x'}]}", false),
        ("{role: pod, selectors: [{role: pod, label: 'app=x,'}]}", false),
        ("{role: pod, selectors: [{role: pod, label: 'a b'}]}", false),
        ("{role: pod, selectors: [{role: pod, label: 'example.com/app=web'}]}", true),
        ("{role: pod, selectors: [{role: pod, label: 'Bad_Prefix.com/app=web'}]}", false),
        ("{role: pod, selectors: [{role: pod, label: 'app notin (x)'}]}", true),
        ("{role: pod, selectors: [{role: pod, label: 'app>1'}]}", true),
        ("{role: pod, selectors: [{role: pod, field: 'status.phase!=Running,spec.nodeName=n'}]}", true),
        ("{role: pod, selectors: [{role: pod, field: 'metadata.name'}]}", false),
    ];
    for (i, (entry, want)) in cases.iter().enumerate() {
        let config = format!(
            "receivers:\n  prometheus:\n    config:\n      scrape_configs:\n        - job_name: k\n          \
             kubernetes_sd_configs: [{entry}]\nexporters:\n  debug: {{}}\nservice:\n  pipelines:\n    \
             metrics: {{receivers: [prometheus], exporters: [debug]}}\n"
        );
        let file = dir.join(format!("{i}.yaml"));
        std::fs::write(&file, &config).unwrap();
        let (go_ok, go_err) = validates(&go_bin, &file);
        let (fe_ok, fe_err) = validates(Path::new(harness::BIN), &file);
        assert_eq!(
            (go_ok, fe_ok),
            (*want, *want),
            "{entry}: Go {go_ok}, Ferrotel {fe_ok} (both should be {want})\ngo: {go_err}\nferrotel: {fe_err}"
        );
    }
}

/// An empty value where a scalar is expected, written with no value (`timeout:`) or as a
/// reference to an unset variable, is the field's zero value in Go (its resolver makes the
/// reference no value; mapstructure zeroes a field given none): both collectors take the
/// first configs, and both refuse the last, where the zero fails validation.
#[test]
fn f_empty_values_are_zero_values_in_both() {
    let go_bin = oracle();
    // names no environment sets
    let unset = |n: &str| format!("${{env:FERROTEL_COMPAT_UNSET_{n}}}");
    let pipeline = "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n";
    let receiver =
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\n";
    let cases = [
        (
            "no-values",
            format!(
                "{receiver}        include_metadata:\nprocessors:\n  batch:\n    send_batch_size:\n    timeout:\n  \
                 tail_sampling:\n    policies:\n      - name: p\n        type: probabilistic\n        \
                 probabilistic:\n          sampling_percentage:\nexporters:\n  otlp:\n    \
                 endpoint: 127.0.0.1:4317\n    tls:\n      insecure:\n{pipeline}      \
                 processors: [tail_sampling, batch]\n      exporters: [otlp]\n"
            ),
            true,
        ),
        (
            "unset-variables",
            format!(
                "{receiver}        include_metadata: {}\nprocessors:\n  batch:\n    send_batch_size: {}\n    \
                 timeout: {}\n  tail_sampling:\n    policies:\n      - name: p\n        \
                 type: probabilistic\n        probabilistic:\n          sampling_percentage: {}\n\
                 exporters:\n  otlp:\n    endpoint: 127.0.0.1:4317\n    tls:\n      insecure: {}\n\
                 {pipeline}      processors: [tail_sampling, batch]\n      exporters: [otlp]\n",
                unset("A"),
                unset("B"),
                unset("C"),
                unset("D"),
                unset("E"),
            ),
            true,
        ),
        (
            "zero-consumers",
            format!(
                "{receiver}exporters:\n  otlp:\n    endpoint: 127.0.0.1:4317\n    sending_queue:\n      \
                 num_consumers: {}\n{pipeline}      exporters: [otlp]\n",
                unset("F")
            ),
            false,
        ),
    ];
    let dir = harness::temp_dir("compat-empty-values");
    for (name, yaml, expected) in cases {
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, &yaml).unwrap();
        let (go_ok, go_err) = validates(&go_bin, &path);
        let (fe_ok, fe_err) = validates(Path::new(harness::BIN), &path);
        assert_eq!(
            (go_ok, fe_ok),
            (expected, expected),
            "{name}: Go {go_ok}, Ferrotel {fe_ok} (both should be {expected})\n{yaml}\ngo: {go_err}\nferrotel: {fe_err}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// g. the prometheus receiver: the same prometheus_client target scraped by both

/// A config with `receivers` (the YAML under `receivers:`, indented) whose `signal` pipeline
/// sends what receivers `ids` give to the recording sink.
pub(crate) fn to_sink(receivers: &str, signal: &str, ids: &str) -> String {
    format!(
        r#"
receivers:
{receivers}
exporters:
  otlp:
    endpoint: SINK
    tls: {{insecure: true}}
service:
  telemetry: TELEMETRY
  pipelines:
    {signal}: {{receivers: [{ids}], exporters: [otlp]}}
"#
    )
}

/// A `prometheus_client` app serving `/metrics` on a free loopback port, once it answers.
async fn scrape_target() -> (u16, crate::prometheus_receiver::App) {
    let port = harness::free_port();
    let app = crate::prometheus_receiver::start_app(port);
    let served = crate::sink::eventually(Duration::from_secs(30), || {
        harness::try_http_get(&format!("http://127.0.0.1:{port}/metrics")).is_some()
    })
    .await;
    assert!(served, "the Python target did not start");
    (port, app)
}

/// The last data point of every series in `requests` (ExportMetricsServiceRequest as JSON)
/// whose metric name `keep` accepts, keyed by resource, scope, metric and point attributes;
/// times are reduced to set/unset (the two collectors scrape at their own moments) and the
/// exemplars left out.
fn last_points(requests: &[Value], keep: &dyn Fn(&str) -> bool) -> BTreeMap<String, Value> {
    fn sorted_attrs(v: Option<&Value>) -> Value {
        let mut list: Vec<Value> = v.and_then(Value::as_array).cloned().unwrap_or_default();
        list.sort_by_key(|a| a["key"].as_str().unwrap_or_default().to_string());
        Value::Array(list)
    }
    let mut out = BTreeMap::new();
    for req in requests {
        for rm in req["resourceMetrics"].as_array().into_iter().flatten() {
            let resource = sorted_attrs(rm["resource"].get("attributes"));
            for sm in rm["scopeMetrics"].as_array().into_iter().flatten() {
                // the scope's version is each collector's own version
                let scope = json!(sm["scope"]["name"]);
                for m in sm["metrics"].as_array().into_iter().flatten() {
                    let name = m["name"].as_str().unwrap_or_default();
                    if !keep(name) {
                        continue;
                    }
                    for kind in [
                        "gauge",
                        "sum",
                        "histogram",
                        "summary",
                        "exponentialHistogram",
                    ] {
                        let Some(data) = m.get(kind).filter(|d| !d.is_null()) else {
                            continue;
                        };
                        for dp in data["dataPoints"].as_array().into_iter().flatten() {
                            let mut point = dp.clone();
                            if let Value::Object(p) = &mut point {
                                for t in ["timeUnixNano", "startTimeUnixNano"] {
                                    let set = p.get(t).is_some_and(|v| {
                                        !v.is_null() && *v != json!(0) && *v != json!("0")
                                    });
                                    p.insert(t.into(), json!(if set { "set" } else { "unset" }));
                                }
                                p.remove("exemplars");
                                let attrs = sorted_attrs(p.get("attributes"));
                                p.insert("attributes".into(), attrs);
                            }
                            let key = json!([resource, scope, name, kind, point["attributes"]])
                                .to_string();
                            let mut shape = data.clone();
                            if let Value::Object(s) = &mut shape {
                                s.remove("dataPoints");
                            }
                            out.insert(
                                key,
                                json!({"unit": m["unit"], "description": m["description"], "metadata": m["metadata"], "data": shape, "point": point}),
                            );
                        }
                    }
                }
            }
        }
    }
    out
}

fn diff_points(go: &BTreeMap<String, Value>, fe: &BTreeMap<String, Value>) -> Option<String> {
    let mut report = String::new();
    for (k, v) in go {
        match fe.get(k) {
            None => report.push_str(&format!("only from Go: {k}\n  {v}\n")),
            Some(f) if f != v => {
                report.push_str(&format!("differs: {k}\n  go:       {v}\n  ferrotel: {f}\n"))
            }
            _ => {}
        }
    }
    for (k, v) in fe {
        if !go.contains_key(k) {
            report.push_str(&format!("only from Ferrotel: {k}\n  {v}\n"));
        }
    }
    (!report.is_empty()).then_some(report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g_prometheus_receiver_scrapes_alike() {
    let (port, _app) = scrape_target().await;
    let config = to_sink(
        &format!(
            "  prometheus:\n    config:\n      scrape_configs:\n        - job_name: app\n          \
             scrape_interval: 1s\n          static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
        ),
        "metrics",
        "prometheus",
    );
    let case = Case {
        name: "prometheus_receiver",
        config: &config,
        files: &[],
        input: Input::Nothing,
        // a few scrapes of the app's series and the report series
        wait_for: 100,
        scrape: false,
        scrape_url: None,
    };
    let (go, fe) = run_both(&case).await;
    // the app's fixed series and `up` (the ticking counter, the process and runtime
    // series, and the scrape timings change from one scrape to the next)
    let keep = |n: &str| n == "up" || (n.starts_with("app_") && !n.starts_with("app_ticks"));
    let mismatch = match &fe {
        Ok(fe) => {
            let (g, f) = (
                last_points(&go.metrics, &keep),
                last_points(&fe.metrics, &keep),
            );
            assert!(!g.is_empty(), "the Go collector scraped nothing");
            diff_points(&g, &f)
        }
        Err(e) => Some(e.clone()),
    };
    if let Err(e) = verdict(case.name, mismatch) {
        panic!("{e}");
    }
}

/// The objects of a small cluster, as a loopback Kubernetes API serves them to both
/// collectors: every role's objects, with the shapes that decide labels (a controller, init
/// and port-less containers, a pod without an IP, ready and not-ready endpoints, a slice
/// endpoint with conditions, zone and topology, TLS and plain ingress rules, the three
/// service types). Every address is loopback; `port` is the scrape target's.
fn kube_objects(api: &pipeline_api::testing::kube::FakeApi, port: u16) {
    let pod_ref = json!({"kind": "Pod", "name": "web-1", "namespace": "shop"});
    api.put(
        "/api/v1/namespaces",
        vec![json!({"metadata": {"name": "shop", "labels": {"team": "web"}, "annotations": {"owner": "ops@example.com"}}})],
    );
    api.put(
        "/api/v1/nodes",
        vec![json!({
            "metadata": {"name": "node-a", "labels": {"kubernetes.io/hostname": "node-a", "topology.kubernetes.io/zone": "z1"},
                         "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
            "spec": {"providerID": "kind://docker/kind/node-a"},
            "status": {"addresses": [{"type": "Hostname", "address": "node-a"}, {"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}
        })],
    );
    api.put(
        "/api/v1/pods",
        vec![
            json!({
                "metadata": {"name": "web-1", "namespace": "shop", "uid": "7f3c-11",
                             "labels": {"app": "web", "pod-template-hash": "5d8f"},
                             "annotations": {"prometheus.io/scrape": "true"},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f", "uid": "rs-1", "controller": true}]},
                "spec": {"nodeName": "node-a",
                         "containers": [
                             {"name": "app", "image": "shop/web:1.4", "ports": [
                                 {"name": "metrics", "containerPort": 9100, "protocol": "TCP"},
                                 {"containerPort": 9101, "protocol": "UDP"}]},
                             {"name": "sidecar", "image": "busybox:1.36"}],
                         "initContainers": [
                             {"name": "proxy", "image": "envoy:1.30", "restartPolicy": "Always",
                              "ports": [{"name": "admin", "containerPort": 9901, "protocol": "TCP"}]}]},
                "status": {"phase": "Running", "podIP": "127.0.0.1", "hostIP": "127.0.0.2",
                           "conditions": [{"type": "Ready", "status": "True"}],
                           "containerStatuses": [{"name": "app", "containerID": "containerd://a1b2"}],
                           "initContainerStatuses": [{"name": "proxy", "containerID": "containerd://c3d4"}]}
            }),
            json!({
                "metadata": {"name": "report-29160-x1", "namespace": "shop", "uid": "5a5a",
                             "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "report-29160", "uid": "j-1", "controller": true}]},
                "spec": {"nodeName": "node-a", "containers": [{"name": "report", "image": "shop/report:3", "ports": [{"containerPort": 9300}]}]},
                "status": {"phase": "Succeeded", "podIP": "127.0.0.1"}
            }),
            json!({
                "metadata": {"name": "pending-1", "namespace": "shop", "uid": "9e9e"},
                "spec": {"containers": [{"name": "app", "image": "shop/web:1.4"}]},
                "status": {"phase": "Pending"}
            }),
        ],
    );
    api.put(
        "/apis/apps/v1/replicasets",
        vec![json!({"metadata": {"name": "web-5d8f", "namespace": "shop",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d-1", "controller": true}]}})],
    );
    api.put(
        "/apis/batch/v1/jobs",
        vec![json!({"metadata": {"name": "report-29160", "namespace": "shop",
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "report", "uid": "cj-1", "controller": true}]}})],
    );
    api.put(
        "/api/v1/services",
        vec![
            json!({"metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}, "annotations": {"prometheus.io/port": "9100"}},
                   "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.5", "ports": [{"name": "http", "port": 9100, "protocol": "TCP"}]}}),
            json!({"metadata": {"name": "edge", "namespace": "shop"},
                   "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.6", "loadBalancerIP": "192.0.2.10",
                            "ports": [{"port": 443, "protocol": "TCP"}]}}),
            json!({"metadata": {"name": "dual", "namespace": "shop"},
                   "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.7", "ipFamilyPolicy": "PreferDualStack",
                            "ipFamilies": ["IPv4", "IPv6"], "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}}),
            json!({"metadata": {"name": "billing", "namespace": "shop"},
                   "spec": {"type": "ExternalName", "externalName": "billing.example.com",
                            "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}]}}),
        ],
    );
    api.put(
        "/api/v1/endpoints",
        vec![json!({
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
            "subsets": [{
                "addresses": [{"ip": "127.0.0.1", "nodeName": "node-a", "targetRef": pod_ref}],
                "notReadyAddresses": [{"ip": "127.0.0.3", "hostname": "web-2"}],
                "ports": [{"name": "http", "port": 9100, "protocol": "TCP"}]
            }]
        })],
    );
    api.put(
        "/apis/discovery.k8s.io/v1/endpointslices",
        vec![json!({
            "metadata": {"name": "web-x7k2p", "namespace": "shop",
                         "labels": {"kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["127.0.0.1"], "conditions": {"ready": true, "serving": true, "terminating": false},
                 "nodeName": "node-a", "zone": "z1", "targetRef": pod_ref},
                {"addresses": ["127.0.0.3"], "conditions": {"ready": false}, "hostname": "web-2",
                 "deprecatedTopology": {"kubernetes.io/hostname": "node-b"}}
            ],
            "ports": [{"name": "http", "port": 9100, "protocol": "TCP", "appProtocol": "http"}]
        }),
        json!({
            "metadata": {"name": "dual-v4", "namespace": "shop", "labels": {"kubernetes.io/service-name": "dual"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.4"], "conditions": {"ready": true}}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
        }),
        json!({
            "metadata": {"name": "dual-v6", "namespace": "shop", "labels": {"kubernetes.io/service-name": "dual"}},
            "addressType": "IPv6",
            "endpoints": [{"addresses": ["fd00::4"], "conditions": {"ready": true}}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
        })],
    );
    api.put(
        "/apis/networking.k8s.io/v1/ingresses",
        vec![json!({
            "metadata": {"name": "web", "namespace": "shop", "annotations": {"kubernetes.io/tls-acme": "true"}},
            "spec": {"ingressClassName": "nginx",
                     "tls": [{"hosts": ["*.example.com"]}],
                     "rules": [
                         {"host": "web.example.com", "http": {"paths": [
                             {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 9100}}}},
                             {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 9100}}}}]}},
                         {"host": "example.org"}]}
        })],
    );
}

/// `kubernetes_sd_configs` of every role against the same loopback Kubernetes API: every
/// discovered target's labels (all `__meta_kubernetes_*` labels kept by a `labelmap`) are on
/// its `up` series, and both collectors have the same series with the same labels. Each
/// target's address is rewritten to the Python app so that every one is scraped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g_prometheus_receiver_discovers_kubernetes_targets_alike() {
    let (port, _app) = scrape_target().await;
    let api = pipeline_api::testing::kube::FakeApi::start().await;
    kube_objects(&api, port);
    let mut jobs = String::new();
    for (role, extra) in [
        ("pod", ", attach_metadata: {node: true, namespace: true, deployment: true, job: true, cronjob: true}"),
        ("node", ""),
        ("service", ", namespaces: {names: [shop]}"),
        ("endpoints", ", attach_metadata: {node: true}"),
        (
            "endpointslice",
            ", attach_metadata: {node: true, namespace: true}",
        ),
        ("ingress", ""),
    ] {
        jobs.push_str(&format!(
            r#"
        - job_name: {role}
          scrape_interval: 1s
          kubernetes_sd_configs: [{{role: {role}, api_server: "{api}"{extra}}}]
          relabel_configs:
            - {{action: labelmap, regex: __meta_kubernetes_(.+)}}
            - {{target_label: __address__, replacement: "127.0.0.1:{port}"}}"#,
            api = api.base()
        ));
    }
    let config = to_sink(
        &format!("  prometheus:\n    config:\n      scrape_configs:{jobs}\n"),
        "metrics",
        "prometheus",
    );
    let case = Case {
        name: "prometheus_receiver_kubernetes_sd",
        config: &config,
        files: &[],
        input: Input::Nothing,
        // Go hands discovered targets to its scrapers every 5 s: scrape for the whole
        // 20 s the harness allows
        wait_for: usize::MAX,
        scrape: false,
        scrape_url: None,
    };
    let (go, fe) = run_both(&case).await;
    let keep = |n: &str| n == "up";
    let mismatch = match &fe {
        Ok(fe) => {
            let (g, f) = (
                last_points(&go.metrics, &keep),
                last_points(&fe.metrics, &keep),
            );
            // every role gives targets (19 and more with these objects)
            assert!(
                g.len() >= 17,
                "the Go collector found {} targets:\n{g:#?}\nrequests: {:#?}",
                g.len(),
                api.requests(),
            );
            diff_points(&g, &f)
        }
        Err(e) => Some(e.clone()),
    };
    if let Err(e) = verdict(case.name, mismatch) {
        panic!("{e}");
    }
}

/// A backend that is down: both collectors count the failed spans on
/// `otelcol_exporter_send_failed_spans`, at the default level without and at `detailed`
/// with Go's failure labels (`error_type` from the gRPC code, `error_permanent`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_send_failures_carry_the_error_labels_at_level_detailed() {
    for level in ["normal", "detailed"] {
        let closed = harness::free_port();
        let config = format!(
            r#"
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:GRPC_PORT"}}
exporters:
  otlp:
    endpoint: 127.0.0.1:{closed}
    tls: {{insecure: true}}
    retry_on_failure: {{enabled: false}}
service:
  telemetry: {{metrics: {{level: {level}, readers: [{{pull: {{exporter: {{prometheus: {{host: 127.0.0.1, port: METRICS_PORT}}}}}}}}]}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [otlp]}}
"#
        );
        let input = match attributes_input() {
            Input::Grpc(t, _, _) => Input::Grpc(t, vec![], vec![]),
            _ => unreachable!(),
        };
        let spans: usize = match &input {
            Input::Grpc(t, _, _) => t
                .iter()
                .flat_map(|r| &r.resource_spans)
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum(),
            _ => 0,
        };
        // the failure line, once every span was counted
        let marker = format!("server_port=\"{closed}\"}} {spans}");
        let name = format!("send_failed_labels_{level}");
        let case = Case {
            name: &name,
            config: &config,
            files: &[],
            input,
            wait_for: 0,
            scrape: false,
            scrape_url: Some(("http://127.0.0.1:METRICS_PORT/metrics", &marker)),
        };
        let (go, fe) = run_both(&case).await;
        let fe = fe.unwrap_or_else(|e| panic!("{e}"));
        // the failure series (value above 0), without the endpoint labels
        let failures = |text: &str| -> Vec<String> {
            let mut out: Vec<String> = text
                .lines()
                .filter(|l| l.starts_with("otelcol_exporter_send_failed_spans{"))
                .filter(|l| !l.ends_with(" 0"))
                .map(|l| {
                    let (series, value) = l.rsplit_once(' ').unwrap();
                    let labels = series
                        .split_once('{')
                        .unwrap()
                        .1
                        .trim_end_matches('}')
                        .split(',')
                        .filter(|kv| !kv.starts_with("server_"))
                        .collect::<Vec<_>>()
                        .join(",");
                    format!("{{{labels}}} {value}")
                })
                .collect();
            out.sort();
            out
        };
        let (g, f) = (failures(&go.scraped), failures(&fe.scraped));
        assert!(!g.is_empty(), "Go counted no failure:\n{}", go.scraped);
        if level == "detailed" {
            assert!(g[0].contains("error_type="), "{g:?}");
        }
        let mismatch = (g != f).then(|| format!("go {g:?}\nferrotel {f:?}"));
        if let Err(e) = verdict(&name, mismatch) {
            panic!("{e}");
        }
    }
}
