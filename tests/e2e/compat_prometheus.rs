//! The Go collector oracle against Ferrotel for the `prometheus` exporter (the text a scrape
//! reads) and the `prometheusremotewrite` exporter (the remote-write requests it sends), with
//! the same OTLP metrics: gauges (double and int), sums (cumulative and delta, monotonic and
//! not), histograms (cumulative and delta), an exponential histogram and a summary, sent in
//! two requests so that deltas have something to add up.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exponential_histogram_data_point::Buckets, metric, number_data_point,
    summary_data_point::ValueAtQuantile, AggregationTemporality, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use crate::compat::{run_both, verdict, Case, Input};

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// One request of every metric kind; `round` 0 or 1, the second with later times and grown
/// values (a delta point holds only what was added since the first).
fn request(t0: u64, round: u64) -> ExportMetricsServiceRequest {
    let second = 1_000_000_000;
    let (start, time) = (t0, t0 + (round + 1) * second);
    // deltas start where the last point ended
    let delta_start = t0 + round * second;
    let n = round as f64 + 1.0;
    let number = |attrs: Vec<KeyValue>, start: u64, v: number_data_point::Value| NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(v),
        ..Default::default()
    };
    let route = |r: &str| vec![kv("http.route", r), kv("http.request.method", "GET")];
    let sum =
        |name: &str, unit: &str, temporality: AggregationTemporality, monotonic, points| Metric {
            name: name.into(),
            description: format!("{name} described"),
            unit: unit.into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: points,
                aggregation_temporality: temporality as i32,
                is_monotonic: monotonic,
            })),
            ..Default::default()
        };
    let histogram = |temporality: AggregationTemporality, start: u64, counts: Vec<u64>| {
        let count = counts.iter().sum::<u64>();
        Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: route("/cart"),
                start_time_unix_nano: start,
                time_unix_nano: time,
                count,
                sum: Some(count as f64 * 0.3),
                bucket_counts: counts,
                explicit_bounds: vec![0.1, 0.5, 1.0],
                ..Default::default()
            }],
            aggregation_temporality: temporality as i32,
        }
    };
    use AggregationTemporality::{Cumulative, Delta};
    let metrics = vec![
        Metric {
            name: "app.queue.depth".into(),
            description: "items waiting".into(),
            unit: "{item}".into(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: vec![
                    number(
                        vec![kv("queue", "a")],
                        0,
                        number_data_point::Value::AsDouble(2.5 * n),
                    ),
                    number(
                        vec![kv("queue", "b")],
                        0,
                        number_data_point::Value::AsDouble(7.0),
                    ),
                ],
            })),
            ..Default::default()
        },
        Metric {
            name: "app.temperature".into(),
            unit: "Cel".into(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: vec![number(vec![], 0, number_data_point::Value::AsInt(21))],
            })),
            ..Default::default()
        },
        sum(
            "http.server.requests",
            "{request}",
            Cumulative,
            true,
            vec![
                number(
                    route("/cart"),
                    start,
                    number_data_point::Value::AsInt(10 * round as i64 + 10),
                ),
                number(route("/pay"), start, number_data_point::Value::AsInt(3)),
            ],
        ),
        sum(
            "app.bytes.sent",
            "By",
            Delta,
            true,
            vec![number(
                vec![],
                delta_start,
                number_data_point::Value::AsInt(100),
            )],
        ),
        sum(
            "app.sessions.active",
            "1",
            Cumulative,
            false,
            vec![number(
                vec![],
                start,
                number_data_point::Value::AsDouble(4.0 - n),
            )],
        ),
        Metric {
            name: "http.server.duration".into(),
            description: "request time".into(),
            unit: "s".into(),
            data: Some(metric::Data::Histogram(histogram(
                Cumulative,
                start,
                vec![2 * round + 2, 1, 0, 1],
            ))),
            ..Default::default()
        },
        Metric {
            name: "app.job.duration".into(),
            unit: "ms".into(),
            data: Some(metric::Data::Histogram(histogram(
                Delta,
                delta_start,
                vec![1, 2, 0, 0],
            ))),
            ..Default::default()
        },
        Metric {
            name: "app.payload.size".into(),
            unit: "By".into(),
            data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    count: 6 + round,
                    sum: Some(600.0 + round as f64 * 40.0),
                    scale: 2,
                    zero_count: 1,
                    positive: Some(Buckets {
                        offset: 20,
                        bucket_counts: vec![2, 0, 3 + round],
                    }),
                    negative: None,
                    ..Default::default()
                }],
                aggregation_temporality: Cumulative as i32,
            })),
            ..Default::default()
        },
        Metric {
            name: "rpc.latency".into(),
            unit: "s".into(),
            data: Some(metric::Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    attributes: vec![kv("rpc.method", "Get")],
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    count: 5 * (round + 1),
                    sum: 2.5 * n,
                    quantile_values: vec![
                        ValueAtQuantile {
                            quantile: 0.5,
                            value: 0.4,
                        },
                        ValueAtQuantile {
                            quantile: 0.99,
                            value: 0.9,
                        },
                    ],
                    ..Default::default()
                }],
            })),
            ..Default::default()
        },
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "checkout"),
                    kv("service.namespace", "shop"),
                    kv("service.instance.id", "checkout-1"),
                    kv("deployment.environment", "test"),
                    kv("host.name", "web-1"),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "compat.meter".into(),
                    version: "1.2.3".into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn input() -> Input {
    // recent enough for both exporters to keep (neither expires points by their own time
    // within a test); whole seconds so millisecond timestamps are exact
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t0 = (now - 30) * 1_000_000_000;
    Input::Grpc(vec![], vec![request(t0, 0), request(t0, 1)], vec![])
}

const RECEIVER: &str = r#"
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:GRPC_PORT"}
      http: {endpoint: "127.0.0.1:HTTP_PORT"}
"#;

/// Metrics of the input whose output differs on purpose, and the case name each difference
/// is checked under (`<case>:<suffix>`, listed in compat.rs DIFFERENCES); every other line must
/// agree under the case itself.
const SUBCASES: &[(&str, &[&str])] = &[
    // exported as classic buckets to a text scrape; Go serves a native histogram, which text
    // shows as `+Inf`, `_sum` and `_count` only
    ("exponential_histogram", &["app_payload_size"]),
    // Go's remote write drops delta sums and histograms; Ferrotel adds them up
    ("delta", &["app_bytes_sent", "app_job_duration"]),
];

/// Sort report lines into their subcases and give each its verdict.
fn verdicts(name: &str, report: Vec<String>) -> Result<(), String> {
    let mut by_case: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in report {
        let case = SUBCASES
            .iter()
            .find(|(_, metrics)| metrics.iter().any(|m| line.contains(m)))
            .map_or(name.to_string(), |(suffix, _)| format!("{name}:{suffix}"));
        by_case.entry(case).or_default().push(line);
    }
    let mut failures = Vec::new();
    let cases = std::iter::once(name.to_string()).chain(
        SUBCASES
            .iter()
            .map(|(suffix, _)| format!("{name}:{suffix}")),
    );
    for case in cases {
        let mismatch = by_case.remove(&case).map(|lines| lines.join("\n"));
        if let Err(e) = verdict(&case, mismatch) {
            failures.push(e);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// The lines of a text exposition that differ: in Go only, in Ferrotel only (as sets; the
/// order of families and series is not compared).
fn text_diff(go: &str, fe: &str) -> Vec<String> {
    let lines = |t: &str| -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for l in t.lines().filter(|l| !l.trim().is_empty()) {
            *m.entry(l.to_string()).or_insert(0) += 1;
        }
        m
    };
    let (g, f) = (lines(go), lines(fe));
    let mut out = Vec::new();
    for (l, n) in &g {
        if f.get(l) != Some(n) {
            out.push(format!("  go only:       {l}"));
        }
    }
    for (l, n) in &f {
        if g.get(l) != Some(n) {
            out.push(format!("  ferrotel only: {l}"));
        }
    }
    out
}

async fn compare_exposition(name: &str, exporter: &str) {
    let config = format!(
        "{RECEIVER}exporters:\n  prometheus:\n{exporter}\nservice:\n  telemetry: TELEMETRY\n  pipelines:\n    metrics: {{receivers: [otlp], exporters: [prometheus]}}\n"
    );
    let case = Case {
        name,
        config: &config,
        files: &[],
        input: input(),
        wait_for: 0,
        scrape: false,
        // the summary is the last metric of the second request
        scrape_url: Some(("http://127.0.0.1:HEALTH_PORT/metrics", "rpc_latency")),
    };
    let (go, fe) = run_both(&case).await;
    assert!(
        go.scraped.contains("http_server_requests"),
        "{name}: the Go collector served no metric:\n{}",
        go.scraped
    );
    let report = match fe {
        Err(e) => vec![e],
        Ok(fe) => text_diff(&go.scraped, &fe.scraped),
    };
    if let Err(e) = verdicts(name, report) {
        panic!("{e}");
    }
}

/// The exporter with Go's defaults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q_prometheus_exporter_serves_the_same_text() {
    compare_exposition(
        "prometheus_exporter_text",
        "    endpoint: 127.0.0.1:HEALTH_PORT",
    )
    .await;
}

/// With a namespace, constant labels, resource attributes as labels and the points' own
/// timestamps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q_prometheus_exporter_options_serve_the_same_text() {
    compare_exposition(
        "prometheus_exporter_text_options",
        "    endpoint: 127.0.0.1:HEALTH_PORT\n    namespace: shop\n    const_labels: {region: eu}\n    send_timestamps: true\n    resource_to_telemetry_conversion: {enabled: true}",
    )
    .await;
}

// ---- remote write

/// Remote write 1.0's `TimeSeries`, with the native histograms (field 4) kept as bytes so that
/// a collector sending them shows in the comparison.
#[derive(Clone, PartialEq, Message)]
struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<TimeSeries>,
    #[prost(message, repeated, tag = "3")]
    metadata: Vec<exporters::prometheusremotewrite::prompb::MetricMetadata>,
}

#[derive(Clone, PartialEq, Message)]
struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<exporters::prometheusremotewrite::prompb::Label>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<exporters::prometheusremotewrite::prompb::Sample>,
    #[prost(message, repeated, tag = "3")]
    exemplars: Vec<exporters::prometheusremotewrite::prompb::Exemplar>,
    #[prost(bytes = "vec", repeated, tag = "4")]
    histograms: Vec<Vec<u8>>,
}

/// One series over all requests: its samples (time, value), native histograms (as bytes) and
/// a count of unsorted label sets and exemplars.
type Joined = (Vec<(i64, String)>, Vec<String>, usize);

/// Every series the requests carried, one line each: labels, then the samples in time order
/// (a series split over requests is joined), then native histograms; plus the request
/// encodings and the metadata.
fn series(posted: &[crate::sink::Posted]) -> Vec<String> {
    let mut by_labels: BTreeMap<String, Joined> = BTreeMap::new();
    let mut other = Vec::new();
    for p in posted {
        other.push(format!(
            "request to {} encoded {:?}",
            p.path, p.content_encoding
        ));
        let body = match p.content_encoding.as_str() {
            "snappy" => snap::raw::Decoder::new()
                .decompress_vec(&p.body)
                .unwrap_or_else(|e| panic!("a remote-write body does not unsnappy: {e}")),
            _ => p.body.clone(),
        };
        let req = WriteRequest::decode(&body[..])
            .unwrap_or_else(|e| panic!("a remote-write body does not decode: {e}"));
        for m in req.metadata {
            other.push(format!("metadata {m:?}"));
        }
        for ts in req.timeseries {
            let mut labels: Vec<String> = ts
                .labels
                .iter()
                .map(|l| format!("{}={:?}", l.name, l.value))
                .collect();
            // label order inside a series is part of the format (sorted by name)
            let sorted = labels.windows(2).all(|w| w[0] <= w[1]);
            labels.sort();
            let entry = by_labels.entry(labels.join(",")).or_default();
            entry.0.extend(
                ts.samples
                    .iter()
                    .map(|s| (s.timestamp, format!("{}", s.value))),
            );
            entry
                .1
                .extend(ts.histograms.iter().map(|h| format!("{h:02x?}")));
            entry.2 += usize::from(!sorted) + ts.exemplars.len() * 1000;
        }
    }
    other.sort();
    other.dedup();
    let mut out = other;
    for (labels, (mut samples, mut histograms, flags)) in by_labels {
        samples.sort();
        // (a series split over requests arrives in any order: the exporters send in parallel)
        histograms.sort();
        out.push(format!(
            "{{{labels}}} samples {samples:?} histograms {histograms:?} unsorted-labels/exemplars {flags}"
        ));
    }
    out
}

async fn compare_remote_write(name: &str, exporter: &str) {
    let config = format!(
        "{RECEIVER}exporters:\n  prometheusremotewrite:\n{exporter}\nservice:\n  telemetry: TELEMETRY\n  pipelines:\n    metrics: {{receivers: [otlp], exporters: [prometheusremotewrite]}}\n"
    );
    let case = Case {
        name,
        config: &config,
        files: &[],
        input: input(),
        // a graceful stop sends what the exporters' queues hold
        wait_for: 0,
        scrape: false,
        scrape_url: None,
    };
    let (go, fe) = run_both(&case).await;
    let g = series(&go.posted);
    assert!(
        g.iter().any(|s| s.contains("http_server_requests")),
        "{name}: the Go collector sent no series: {g:#?}"
    );
    let report = match fe {
        Err(e) => vec![e],
        Ok(fe) => {
            let f = series(&fe.posted);
            let mut report = Vec::new();
            for s in &g {
                if !f.contains(s) {
                    report.push(format!("  go only:       {s}"));
                }
            }
            for s in &f {
                if !g.contains(s) {
                    report.push(format!("  ferrotel only: {s}"));
                }
            }
            report
        }
    };
    if let Err(e) = verdicts(name, report) {
        panic!("{e}");
    }
}

/// The exporter with Go's defaults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q_remote_write_sends_the_same_series() {
    compare_remote_write(
        "prometheusremotewrite_series",
        "    endpoint: http://RECORDER/api/v1/write\n    tls: {insecure: true}",
    )
    .await;
}

/// With a namespace, external labels, resource attributes as labels and metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q_remote_write_options_send_the_same_series() {
    compare_remote_write(
        "prometheusremotewrite_series_options",
        "    endpoint: http://RECORDER/api/v1/write\n    namespace: shop\n    external_labels: {region: eu}\n    send_metadata: true\n    resource_to_telemetry_conversion: {enabled: true}",
    )
    .await;
}
