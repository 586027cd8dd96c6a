use pipeline_api::config::ConfigError;
use pipeline_api::ComponentConfig;
use pipeline_api::Signal;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use pipeline_api::config::{parse_typed, ConfigValue};
use pipeline_api::telemetry::ComponentTelemetry;
use pipeline_api::{BuildContext, ComponentId, ComponentKind, ErrorKind, Exporter};

use super::prompb::{TimeSeries, WriteRequest};
use super::*;
use crate::promtranslate::testutil::*;

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).unwrap()
}

fn parse(s: &str) -> Result<Config, Vec<ConfigError>> {
    parse_typed::<Config>(&yaml(s))
}

/// A scripted answer: status, headers, body.
type Answer = (u16, Vec<(&'static str, &'static str)>, &'static str);

/// One request as the test server saw it.
pub(crate) struct Received {
    pub headers: http::HeaderMap,
    pub request: WriteRequest,
}

/// An in-process remote write receiver: records requests, answers from a script (204 when
/// the script is empty).
pub(crate) struct TestServer {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub answers: Arc<Mutex<VecDeque<Answer>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) async fn test_server() -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let answers: Arc<Mutex<VecDeque<_>>> = Arc::default();
    let (r, a) = (received.clone(), answers.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (r, a) = (r.clone(), a.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                    let (r, a) = (r.clone(), a.clone());
                    async move {
                        let headers = req.headers().clone();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
                        let request = WriteRequest::decode(raw.as_slice()).unwrap();
                        r.lock().unwrap().push(Received { headers, request });
                        let (status, hdrs, text) =
                            a.lock().unwrap().pop_front().unwrap_or((204, vec![], ""));
                        let mut resp =
                            http::Response::new(Full::new(Bytes::from_static(text.as_bytes())));
                        *resp.status_mut() = http::StatusCode::from_u16(status).unwrap();
                        for (k, v) in hdrs {
                            resp.headers_mut()
                                .insert(k, http::HeaderValue::from_static(v));
                        }
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    TestServer {
        addr,
        received,
        answers,
        task,
    }
}

fn exporter(cfg: &str) -> RemoteWriteExporter {
    RemoteWriteExporter::new(
        ComponentId::parse("prometheusremotewrite").unwrap(),
        &parse(cfg).unwrap(),
        &Default::default(),
    )
    .unwrap()
}

/// `name{k=v,...} value@ms,...` with the labels in the order sent.
fn show(ts: &TimeSeries) -> String {
    let labels: Vec<String> = ts
        .labels
        .iter()
        .map(|l| format!("{}={}", l.name, l.value))
        .collect();
    let samples: Vec<String> = ts
        .samples
        .iter()
        .map(|s| {
            format!(
                "{}@{}",
                crate::promtranslate::format::text_float(s.value),
                s.timestamp
            )
        })
        .collect();
    format!("{{{}}} {}", labels.join(","), samples.join(","))
}

fn all_series(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .flat_map(|r| r.request.timeseries.iter().map(show))
        .collect()
}

#[test]
fn go_snake_case_name_is_an_alias() {
    assert_eq!(factory().type_name(), "prometheusremotewrite");
    assert_eq!(factory().aliases(), &[("prometheus_remote_write", false)]);
}

#[test]
fn defaults_match_go_create_default_config() {
    let c = parse("endpoint: http://127.0.0.1:9090/api/v1/write").unwrap();
    assert_eq!(c.max_batch_size_bytes, 3_000_000);
    assert!(c.add_metric_suffixes && c.target_info.enabled);
    assert!(!c.send_metadata && !c.export_created_metric.enabled);
    assert_eq!(
        c.remote_write_queue,
        RemoteWriteQueue {
            enabled: true,
            queue_size: 10000,
            num_consumers: 5
        }
    );
    assert_eq!(c.protobuf_message, "prometheus.WriteRequest");
    assert!(c.wal.is_none() && c.external_labels.is_empty());
    assert!(c.listen_addresses().is_empty());
    // the runtime owns these: they are not this config's keys
    for key in ["timeout", "retry_on_failure", "sending_queue"] {
        let errs = parse(&format!("{{endpoint: 'http://x:1/w', {key}: {{}}}}")).unwrap_err();
        assert!(errs[0].message.contains("unknown key"), "{errs:?}");
    }
}

#[test]
fn invalid_configs_are_refused_with_go_messages() {
    let errs = parse(
        "{remote_write_queue: {queue_size: -1, num_consumers: -2}, external_labels: {'': x}, protobuf_message: io.prometheus.write.v2.Request, max_batch_size_bytes: 0, wal: {directory: /tmp/w}, remote_write_queu: {}}",
    )
    .unwrap_err();
    let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("remote_write_queu") && t.contains("did you mean")),
        "{text:?}"
    );
    // unknown keys are reported first; the rest once they are fixed
    let errs = parse(
        "{remote_write_queue: {queue_size: -1, num_consumers: -2}, external_labels: {'': x}, protobuf_message: io.prometheus.write.v2.Request, max_batch_size_bytes: 0, wal: {directory: /tmp/w}}",
    )
    .unwrap_err();
    let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    for want in [
        "endpoint: must not be empty",
        "remote_write_queue::queue_size: remote write queue size can't be negative",
        "remote_write_queue::num_consumers: remote write consumer number can't be negative",
        "external_labels: prometheus remote write: external labels configuration contains an empty key or value",
        "protobuf_message: \"io.prometheus.write.v2.Request\" (remote write 2.0) is not supported",
        "max_batch_size_bytes: must be greater than 0",
    ] {
        assert!(text.iter().any(|t| t.starts_with(want)), "missing {want:?} in {text:?}");
    }
    let errs =
        parse("{endpoint: 'http://x:1/w', remote_write_queue: {enabled: true, queue_size: 0}}")
            .unwrap_err();
    assert_eq!(errs[0].message, "a 0 size queue will drop all the data");
    assert!(parse("endpoint: 'not a url'").is_err());
}

#[tokio::test]
async fn build_and_shutdown_twice() {
    let f = factory();
    let cfg = f
        .parse_config(&yaml("endpoint: http://127.0.0.1:1/api/v1/write"))
        .unwrap();
    for _ in 0..2 {
        let id = ComponentId::parse("prometheusremotewrite/x").unwrap();
        let ctx = BuildContext {
            telemetry: ComponentTelemetry::detached(ComponentKind::Exporter, &id),
            id,
            signals: vec![Signal::Metrics],
            extensions: Default::default(),
            memory: Default::default(),
        };
        let e = f.build(ctx, cfg.as_ref()).unwrap();
        e.start().await.unwrap();
        e.shutdown().await;
        e.shutdown().await;
    }
}

#[tokio::test]
async fn remote_write_body_headers_labels_and_samples() {
    let server = test_server().await;
    let e = exporter(&format!(
        "{{endpoint: 'http://{}/api/v1/write', external_labels: {{cluster: c1, job: ignored}}, headers: {{X-Scope-OrgID: tenant-1, Content-Type: text/plain}}}}",
        server.addr
    ));
    e.export(batch(vec![resource_metrics(
        api_resource(),
        ("meter", "1.0"),
        every_kind(),
    )]))
    .await
    .unwrap();
    let received = server.received.lock().unwrap();
    assert_eq!(received.len(), 1);
    let h = &received[0].headers;
    // Go exporter.go execute: the four headers it sets itself
    assert_eq!(h["content-encoding"], "snappy");
    assert_eq!(h["content-type"], "application/x-protobuf");
    assert_eq!(h["x-prometheus-remote-write-version"], "0.1.0");
    assert!(h["user-agent"].to_str().unwrap().starts_with("Ferrotel/"));
    assert_eq!(h["x-scope-orgid"], "tenant-1");
    let common = "instance=i-1,job=api,otel_scope_name=meter,otel_scope_version=1.0";
    // labels sorted by name: `le` between `job` and `otel_scope_*`
    let le = |v: &str| {
        format!("instance=i-1,job=api,le={v},otel_scope_name=meter,otel_scope_version=1.0")
    };
    let got = all_series(&received);
    let expected = vec![
        format!("{{__name__=cpu_utilization_ratio,cluster=c1,{common}}} 0.25@2000"),
        format!("{{__name__=http_requests_total,cluster=c1,instance=i-1,job=api,method=GET,otel_scope_name=meter,otel_scope_version=1.0}} 10@2000"),
        // a point's buckets in bound order (a series' place in a request means nothing)
        format!("{{__name__=http_server_duration_seconds_bucket,cluster=c1,{}}} 1@2000", le("0.1")),
        format!("{{__name__=http_server_duration_seconds_bucket,cluster=c1,{}}} 3@2000", le("1")),
        format!("{{__name__=http_server_duration_seconds_bucket,cluster=c1,{}}} 4@2000", le("+Inf")),
        format!("{{__name__=http_server_duration_seconds_count,cluster=c1,{common}}} 4@2000"),
        format!("{{__name__=http_server_duration_seconds_sum,cluster=c1,{common}}} 2.5@2000"),
        // the exponential histogram: a native histogram, no samples (below)
        format!("{{__name__=payload_size_bytes,cluster=c1,{common}}} "),
        format!("{{__name__=queue_size,cluster=c1,{common}}} -3@2000"),
        format!("{{__name__=rpc_latency_milliseconds,cluster=c1,{common},quantile=0.5}} 10@2000"),
        format!("{{__name__=rpc_latency_milliseconds,cluster=c1,{common},quantile=0.99}} 20@2000"),
        format!("{{__name__=rpc_latency_milliseconds_count,cluster=c1,{common}}} 5@2000"),
        format!("{{__name__=rpc_latency_milliseconds_sum,cluster=c1,{common}}} 60@2000"),
        "{__name__=target_info,cluster=c1,host_name=h1,instance=i-1,job=api} 1@2000".to_string(),
    ];
    assert_eq!(got, expected);
    // exemplars: the counter's on its series, the histogram's on le=1 (first bound ≥ 0.5)
    let series = &received[0].request.timeseries;
    let counter = series
        .iter()
        .find(|s| show(s).contains("http_requests_total"))
        .unwrap();
    assert_eq!(counter.exemplars.len(), 1);
    assert_eq!(&*counter.exemplars[0].labels[0].name, "trace_id");
    assert_eq!(
        &*counter.exemplars[0].labels[0].value,
        "0102030405060708090a0b0c0d0e0f10"
    );
    assert_eq!(counter.exemplars[0].timestamp, 1_700_000_000_000);
    let le1 = series
        .iter()
        .find(|s| show(s).contains("duration_seconds_bucket") && show(s).contains("le=1,"))
        .unwrap();
    assert_eq!(le1.exemplars.len(), 1);
    assert_eq!(le1.exemplars[0].value, 0.5);
    assert!(received[0].request.metadata.is_empty());
    // scale 0, zero count 1, OTLP buckets 0 and 1 holding 2 and 3: Prometheus buckets 1 and 2
    let payload = series
        .iter()
        .find(|s| show(s).contains("payload_size_bytes"))
        .unwrap();
    assert_eq!(
        payload.histograms,
        vec![super::prompb::Histogram {
            count_int: Some(6),
            sum: 15.0,
            schema: 0,
            zero_threshold: 1e-128,
            zero_count_int: Some(1),
            positive_spans: vec![super::prompb::BucketSpan {
                offset: 1,
                length: 2
            }],
            positive_deltas: vec![2, 1],
            timestamp: 2000,
            ..Default::default()
        }]
    );
}

#[tokio::test]
async fn delta_sums_are_sent_cumulative_and_samples_sorted() {
    let server = test_server().await;
    let e = exporter(&format!(
        "{{endpoint: 'http://{}/w', target_info: {{enabled: false}}, send_metadata: true, export_created_metric: {{enabled: true}}}}",
        server.addr
    ));
    let delta = |start, time, v| {
        metric(
            "jobs",
            "",
            "Jobs",
            sum(vec![int_point(vec![], start, time, v)], true, DELTA),
        )
    };
    e.export(batch(vec![resource_metrics(
        vec![],
        ("", ""),
        vec![delta(SEC, 2 * SEC, 2)],
    )]))
    .await
    .unwrap();
    e.export(batch(vec![resource_metrics(
        vec![],
        ("", ""),
        vec![delta(2 * SEC, 3 * SEC, 3)],
    )]))
    .await
    .unwrap();
    // three gauge points of one series, out of order, in one batch
    let g = metric(
        "temp",
        "",
        "",
        gauge(vec![
            double_point(vec![], 0, 3 * SEC, 3.0),
            double_point(vec![], 0, SEC, 1.0),
            double_point(vec![], 0, 2 * SEC, 2.0),
        ]),
    );
    e.export(batch(vec![resource_metrics(vec![], ("", ""), vec![g])]))
        .await
        .unwrap();
    let received = server.received.lock().unwrap();
    assert_eq!(
        all_series(&received),
        vec![
            "{__name__=jobs_total} 2@2000",
            // Go names the created series after the full counter name
            "{__name__=jobs_total_created} 1000@2000",
            "{__name__=jobs_total} 5@3000",
            "{__name__=jobs_total_created} 1000@3000",
            "{__name__=temp} 1@1000,2@2000,3@3000",
        ]
    );
    let md = &received[0].request.metadata;
    assert_eq!(md.len(), 1);
    assert_eq!(
        (
            md[0].r#type,
            md[0].metric_family_name.as_str(),
            md[0].help.as_str()
        ),
        (prompb::MetricType::Counter as i32, "jobs_total", "Jobs")
    );
}

#[tokio::test]
async fn requests_are_split_at_max_batch_size_bytes() {
    let server = test_server().await;
    let e = exporter(&format!(
        "{{endpoint: 'http://{}/w', max_batch_size_bytes: 300, target_info: {{enabled: false}}}}",
        server.addr
    ));
    let points = (0..40)
        .map(|i| double_point(vec![kv("n", &format!("{i:03}"))], 0, SEC, i as f64))
        .collect();
    e.export(batch(vec![resource_metrics(
        vec![],
        ("", ""),
        vec![metric("g", "", "", gauge(points))],
    )]))
    .await
    .unwrap();
    let received = server.received.lock().unwrap();
    assert!(received.len() > 5, "{} requests", received.len());
    let mut all = Vec::new();
    for r in received.iter() {
        let size: usize = r.request.timeseries.iter().map(|t| t.encoded_len()).sum();
        assert!(size < 300, "a request of {size} bytes");
        all.extend(r.request.timeseries.iter().map(show));
    }
    let expected: Vec<String> = (0..40)
        .map(|i| {
            format!(
                "{{__name__=g,n={i:03}}} {}@1000",
                crate::promtranslate::format::text_float(i as f64)
            )
        })
        .collect();
    assert_eq!(all, expected);
}

#[tokio::test]
async fn answers_are_classified_as_go_does() {
    let server = test_server().await;
    let e = exporter(&format!("{{endpoint: 'http://{}/w'}}", server.addr));
    let b = || {
        batch(vec![resource_metrics(
            api_resource(),
            ("m", ""),
            every_kind(),
        )])
    };
    server.answers.lock().unwrap().extend([
        (500, vec![], "boom"),
        (400, vec![], "out of order sample"),
        (429, vec![("retry-after", "7")], "slow down"),
        (429, vec![], ""),
        (503, vec![("retry-after", "2")], ""),
    ]);
    let err = e.export(b()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable);
    assert_eq!(
        err.message(),
        "remote write returned HTTP status 500 Internal Server Error; err = <nil>: boom"
    );
    let err = e.export(b()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert!(err.message().ends_with("out of order sample"));
    let err = e.export(b()).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    let err = e.export(b()).await.unwrap_err();
    assert!(err.is_retryable() && err.retry_after().is_none());
    let err = e.export(b()).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
    e.export(b()).await.unwrap();
    drop(server);
    // nobody listening: retryable
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let e = exporter(&format!("{{endpoint: 'http://{closed}/w'}}"));
    let err = e.export(b()).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
        Some(Duration::ZERO)
    );
}

#[tokio::test]
async fn no_recorded_value_is_sent_as_stale_marker() {
    let server = test_server().await;
    let e = exporter(&format!("{{endpoint: 'http://{}/w'}}", server.addr));
    let mut p = double_point(vec![], 0, SEC, 5.0);
    p.flags = 1;
    e.export(batch(vec![resource_metrics(
        vec![],
        ("", ""),
        vec![metric("g", "", "", gauge(vec![p]))],
    )]))
    .await
    .unwrap();
    let received = server.received.lock().unwrap();
    let s = &received[0].request.timeseries[0].samples[0];
    assert_eq!(s.value.to_bits(), STALE_NAN_BITS);
}

/// Native histogram bucket layouts: the cases of Go's `TestConvertBucketsLayout`
/// (`pkg/translator/prometheusremotewrite/histograms_test.go`), at scale-downs 0, 1 and 2.
#[test]
fn exponential_buckets_become_native_spans_as_go_lays_them_out() {
    use super::prompb::BucketSpan;
    use crate::promtranslate::points::Buckets;
    let span = |offset, length| BucketSpan { offset, length };
    type Layout = (Vec<BucketSpan>, Vec<i64>);
    let cases: Vec<(i32, Vec<u64>, [Layout; 3])> = vec![
        (
            0,
            vec![4, 3, 2, 1],
            [
                (vec![span(1, 4)], vec![4, -1, -1, -1]),
                (vec![span(1, 2)], vec![7, -4]),
                (vec![span(1, 1)], vec![10]),
            ],
        ),
        (
            1,
            vec![4, 3, 2, 1],
            [
                (vec![span(2, 4)], vec![4, -1, -1, -1]),
                (vec![span(1, 3)], vec![4, 1, -4]),
                (vec![span(1, 2)], vec![9, -8]),
            ],
        ),
        (
            4,
            vec![4, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [
                (vec![span(5, 4), span(12, 1)], vec![4, -2, -2, 2, -1]),
                (vec![span(3, 2), span(6, 1)], vec![6, -4, -1]),
                (vec![span(2, 1), span(3, 1)], vec![8, -7]),
            ],
        ),
    ];
    for (offset, counts, layouts) in cases {
        let buckets = Buckets {
            offset,
            counts: counts.clone(),
        };
        for (scale_down, want) in layouts.into_iter().enumerate() {
            assert_eq!(
                translate::bucket_layout(&buckets, scale_down as i32),
                want,
                "offset {offset}, counts {counts:?}, scale down {scale_down}"
            );
        }
    }
    assert_eq!(
        translate::bucket_layout(&Buckets::default(), 0),
        (vec![], vec![])
    );
}

/// Label names that sort before `__name__` (capitals) and after it, on
/// every kind of point and on `target_info` (whose resource even has a `__name__`): every
/// series is sent with its labels sorted by name (Prometheus refuses them out of order),
/// `__name__` once, and its family's series all there.
#[test]
fn series_labels_are_sorted_with_the_name_among_them() {
    use opentelemetry_proto::tonic::common::v1::KeyValue;
    use opentelemetry_proto::tonic::metrics::v1::metric;
    // every point of every kind with those attributes
    fn set_all<P>(points: &mut [P], attributes: fn(&mut P) -> &mut Vec<KeyValue>, to: &[KeyValue]) {
        for p in points {
            *attributes(p) = to.to_vec();
        }
    }
    let to = vec![
        kv("Zone", "z1"),
        kv("A", "a1"),
        kv("_private", "p"),
        kv("method", "GET"),
    ];
    let mut metrics = every_kind();
    for m in &mut metrics {
        match m.data.as_mut().unwrap() {
            metric::Data::Sum(s) => set_all(&mut s.data_points, |p| &mut p.attributes, &to),
            metric::Data::Gauge(g) => set_all(&mut g.data_points, |p| &mut p.attributes, &to),
            metric::Data::Histogram(h) => set_all(&mut h.data_points, |p| &mut p.attributes, &to),
            metric::Data::ExponentialHistogram(h) => {
                set_all(&mut h.data_points, |p| &mut p.attributes, &to)
            }
            metric::Data::Summary(s) => set_all(&mut s.data_points, |p| &mut p.attributes, &to),
        }
    }
    let mut resource = api_resource();
    resource.push(kv("__name__", "not a name"));
    resource.push(kv("Region", "eu"));
    let e = exporter(
        "{endpoint: 'http://127.0.0.1:9/api/v1/write', export_created_metric: {enabled: true}}",
    );
    let requests = e.requests(&batch(vec![resource_metrics(
        resource,
        ("meter", "1.0"),
        metrics,
    )]));
    let series: Vec<&TimeSeries> = requests.iter().flat_map(|r| &r.timeseries).collect();
    let mut names = std::collections::BTreeSet::new();
    for s in &series {
        let labels: Vec<&str> = s.labels.iter().map(|l| &*l.name).collect();
        assert!(labels.windows(2).all(|w| w[0] < w[1]), "{}", show(s));
        let name: Vec<&str> = s
            .labels
            .iter()
            .filter(|l| &*l.name == "__name__")
            .map(|l| &*l.value)
            .collect();
        assert_eq!(name.len(), 1, "{}", show(s));
        names.insert(name[0].to_string());
        if name[0] != "target_info" {
            assert_eq!(labels[..3], ["A", "Zone", "__name__"], "{}", show(s));
            // a leading `_` becomes `key_` (Go `NormalizeLabel`)
            assert!(labels.contains(&"key_private"), "{}", show(s));
        } else {
            assert_eq!(labels[..2], ["Region", "__name__"], "{}", show(s));
        }
    }
    let want = [
        "cpu_utilization_ratio",
        "http_requests_total",
        "http_requests_total_created",
        "http_server_duration_seconds_bucket",
        "http_server_duration_seconds_count",
        "http_server_duration_seconds_created",
        "http_server_duration_seconds_sum",
        "payload_size_bytes",
        "payload_size_bytes_created",
        "queue_size",
        "rpc_latency_milliseconds",
        "rpc_latency_milliseconds_count",
        "rpc_latency_milliseconds_created",
        "rpc_latency_milliseconds_sum",
        "target_info",
    ];
    assert_eq!(names.iter().map(String::as_str).collect::<Vec<_>>(), want);
    // the histogram's three buckets, the summary's two quantiles
    let count = |n: &str| {
        series
            .iter()
            .filter(|s| {
                s.labels
                    .iter()
                    .any(|l| &*l.name == "__name__" && &*l.value == n)
            })
            .count()
    };
    assert_eq!(count("http_server_duration_seconds_bucket"), 3);
    assert_eq!(count("rpc_latency_milliseconds"), 2);
}

/// The hand-encoded `Label` writes the bytes prost's derive writes for two strings, and
/// reads them back, empty fields and long ones included.
#[test]
fn labels_encode_as_two_strings() {
    #[derive(Clone, PartialEq, prost::Message)]
    struct Derived {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(string, tag = "2")]
        value: String,
    }
    let long = "n".repeat(300);
    let cases = [
        ("", ""),
        ("__name__", ""),
        ("", "v"),
        ("job", "api"),
        (long.as_str(), "é"),
        ("le", long.as_str()),
    ];
    for (name, value) in cases {
        let label = super::prompb::Label {
            name: name.into(),
            value: value.into(),
        };
        let derived = Derived {
            name: name.into(),
            value: value.into(),
        };
        let bytes = label.encode_to_vec();
        assert_eq!(bytes, derived.encode_to_vec(), "{name:?} {value:?}");
        assert_eq!(label.encoded_len(), bytes.len());
        assert_eq!(
            super::prompb::Label::decode(bytes.as_slice()).unwrap(),
            label
        );
    }
    // within a series, as the receiver reads it
    let series = TimeSeries {
        labels: vec![super::prompb::Label {
            name: "a".into(),
            value: "b".into(),
        }],
        ..Default::default()
    };
    assert_eq!(
        TimeSeries::decode(series.encode_to_vec().as_slice()).unwrap(),
        series
    );
}

/// Labels order and compare as their (name, value) strings, whether two share a string or
/// hold equal copies of it.
#[test]
fn labels_order_as_their_strings_shared_or_not() {
    use super::prompb::Label;
    let words = ["", "a", "b", "le", "__name__", "job", "A"];
    let shared: Vec<Arc<str>> = words.iter().map(|w| Arc::from(*w)).collect();
    let mut labels = Vec::new();
    for (i, name) in words.iter().enumerate() {
        for (j, value) in words.iter().enumerate() {
            // one label sharing the pooled strings, one with copies of them
            labels.push(Label {
                name: shared[i].clone(),
                value: shared[j].clone(),
            });
            labels.push(Label {
                name: Arc::from(*name),
                value: Arc::from(*value),
            });
        }
    }
    for a in &labels {
        for b in &labels {
            let want = (&*a.name, &*a.value).cmp(&(&*b.name, &*b.value));
            assert_eq!(a.cmp(b), want, "{a:?} {b:?}");
            assert_eq!(a == b, want.is_eq(), "{a:?} {b:?}");
        }
    }
}

/// A point's buckets (and quantiles) are found with one lookup of its labels: points of the
/// same labels at other times add samples to the same series, whether their bounds are the
/// same, in another order, or others; points of other labels get series of their own.
#[test]
fn bucket_and_quantile_series_gather_the_samples_of_their_labels() {
    use opentelemetry_proto::tonic::metrics::v1::{
        metric, summary_data_point, Summary, SummaryDataPoint,
    };
    let (t1, t2) = (2 * SEC, 3 * SEC);
    let hist = |label: &str, t: u64, bounds: Vec<f64>, counts: Vec<u64>| {
        histogram_point(vec![kv("a", label)], t, bounds, counts, 1.0)
    };
    let quantiles = |t: u64, qs: &[(f64, f64)]| SummaryDataPoint {
        attributes: vec![kv("a", "1")],
        start_time_unix_nano: SEC,
        time_unix_nano: t,
        count: 3,
        sum: 6.0,
        quantile_values: qs
            .iter()
            .map(|&(quantile, value)| summary_data_point::ValueAtQuantile { quantile, value })
            .collect(),
        ..Default::default()
    };
    let metrics = vec![
        metric(
            "h",
            "",
            "",
            histogram(
                vec![
                    hist("1", t1, vec![1.0, 2.0], vec![1, 1, 1]),
                    hist("1", t2, vec![2.0, 5.0], vec![2, 2, 2]),
                    hist("2", t1, vec![1.0, 2.0], vec![3, 0, 0]),
                ],
                CUMULATIVE,
            ),
        ),
        metric(
            "s",
            "",
            "",
            metric::Data::Summary(Summary {
                data_points: vec![
                    quantiles(t1, &[(0.5, 1.0), (0.9, 2.0)]),
                    quantiles(t2, &[(0.9, 4.0), (0.5, 3.0), (0.99, 5.0)]),
                ],
            }),
        ),
    ];
    let e =
        exporter("{endpoint: 'http://127.0.0.1:9/api/v1/write', target_info: {enabled: false}}");
    let requests = e.requests(&batch(vec![resource_metrics(vec![], ("", ""), metrics)]));
    let mut got: Vec<String> = requests
        .iter()
        .flat_map(|r| r.timeseries.iter().map(show))
        .collect();
    got.sort();
    let want = [
        "{__name__=h_bucket,a=1,le=+Inf} 3@2000,6@3000",
        "{__name__=h_bucket,a=1,le=1} 1@2000",
        "{__name__=h_bucket,a=1,le=2} 2@2000,2@3000",
        "{__name__=h_bucket,a=1,le=5} 4@3000",
        "{__name__=h_bucket,a=2,le=+Inf} 3@2000",
        "{__name__=h_bucket,a=2,le=1} 3@2000",
        "{__name__=h_bucket,a=2,le=2} 3@2000",
        "{__name__=h_count,a=1} 3@2000,6@3000",
        "{__name__=h_count,a=2} 3@2000",
        "{__name__=h_sum,a=1} 1@2000,1@3000",
        "{__name__=h_sum,a=2} 1@2000",
        "{__name__=s,a=1,quantile=0.5} 1@2000,3@3000",
        "{__name__=s,a=1,quantile=0.99} 5@3000",
        "{__name__=s,a=1,quantile=0.9} 2@2000,4@3000",
        "{__name__=s_count,a=1} 3@2000,3@3000",
        "{__name__=s_sum,a=1} 6@2000,6@3000",
    ];
    assert_eq!(got, want);
}

/// Points of one series that fall on the same millisecond leave one sample, the last of
/// them in the batch's order, and the series' samples come out in time order.
#[test]
fn the_last_point_of_a_millisecond_is_the_sample_kept() {
    let g = metric(
        "temp",
        "",
        "",
        gauge(vec![
            double_point(vec![], 0, 2 * SEC + 1, 1.0),
            double_point(vec![], 0, 2 * SEC + 2, 2.0),
            double_point(vec![], 0, SEC, 0.5),
            double_point(vec![], 0, 2 * SEC + 3, 3.0),
            double_point(vec![], 0, 3 * SEC, 4.0),
        ]),
    );
    let e =
        exporter("{endpoint: 'http://127.0.0.1:9/api/v1/write', target_info: {enabled: false}}");
    let requests = e.requests(&batch(vec![resource_metrics(vec![], ("", ""), vec![g])]));
    let got: Vec<String> = requests
        .iter()
        .flat_map(|r| r.timeseries.iter().map(show))
        .collect();
    assert_eq!(got, ["{__name__=temp} 0.5@1000,3@2000,4@3000"]);
}
