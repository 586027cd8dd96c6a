use pipeline_api::config::ConfigValue;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};
use pipeline_api::testing::{context, string_attr, Collect};
use pipeline_api::{ComponentKind, ConnectorNext, PipelineId};

use super::*;

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).expect("test yaml")
}

fn parse(s: &str) -> Result<Config, Vec<String>> {
    pipeline_api::config::parse_typed::<Config>(&yaml(s))
        .map_err(|e| e.iter().map(|e| e.to_string()).collect())
}

fn span(name: &str, kind: span::SpanKind, ms: u64, error: bool, attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: name.into(),
        kind: kind as i32,
        start_time_unix_nano: 1_000_000_000,
        end_time_unix_nano: 1_000_000_000 + ms * 1_000_000,
        status: Some(Status {
            code: if error {
                status::StatusCode::Error as i32
            } else {
                status::StatusCode::Unset as i32
            },
            ..Default::default()
        }),
        attributes: attrs,
        ..Default::default()
    }
}

fn traces(service: Option<&str>, extra: Vec<KeyValue>, spans: Vec<Span>) -> Batch {
    let mut attributes = extra;
    if let Some(s) = service {
        attributes.push(string_attr("service.name", s));
    }
    Batch::from_traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn build(cfg: &str) -> (Arc<dyn Processor>, Arc<Collect>) {
    let target = Collect::new();
    let next = ConnectorNext {
        all: target.clone(),
        pipelines: vec![(
            PipelineId::parse("metrics").unwrap(),
            target.clone() as SharedConsumer,
        )],
    };
    let f = factory();
    let c = f.parse_config(&yaml(cfg)).unwrap();
    let p = f
        .build(
            context(
                ComponentKind::Connector,
                "spanmetrics",
                vec![Signal::Traces, Signal::Metrics],
            ),
            c.as_ref(),
            Signal::Traces,
            Signal::Metrics,
            next,
        )
        .unwrap();
    (p, target)
}

fn metrics(target: &Collect) -> Vec<ExportMetricsServiceRequest> {
    target
        .take()
        .iter()
        .map(|b| b.as_metrics().unwrap().clone())
        .collect()
}

fn attr_str(attrs: &[KeyValue], key: &str) -> Option<String> {
    attr(attrs, key).map(as_string)
}

#[test]
fn defaults_and_checks_are_go_s() {
    let c = parse("").unwrap();
    assert_eq!(c.namespace, "traces.span.metrics");
    assert_eq!(
        c.aggregation_temporality,
        "AGGREGATION_TEMPORALITY_CUMULATIVE"
    );
    assert_eq!(c.metrics_flush_interval.get(), Duration::from_secs(60));
    assert_eq!(c.bounds(), config::DEFAULT_BUCKETS_MS.to_vec());
    let s = parse("histogram: {unit: s, explicit: {buckets: [100ms, 1s]}}").unwrap();
    assert_eq!(s.bounds(), vec![0.1, 1.0]);
    assert_eq!(
        parse("dimensions: [{name: span.kind}]").unwrap_err(),
        vec!["dimensions: failed validating dimensions: duplicate dimension name span.kind"]
    );
    assert!(
        parse("histogram: {explicit: {}, exponential: {}}").unwrap_err()[0]
            .contains("use either `explicit` or `exponential`")
    );
    assert!(parse("aggregation_cardinality_limit: -1").is_err());
    assert!(parse("dimensoins: []").unwrap_err()[0].contains("did you mean"));
    assert_eq!(factory().aliases(), &[("span_metrics", false)]);
}

#[tokio::test]
async fn calls_and_durations_per_series_as_go_counts_them() {
    let (c, target) = build("dimensions: [{name: http.method}, {name: region, default: eu}]");
    c.consume(traces(
        Some("api"),
        vec![string_attr("region", "us")],
        vec![
            span(
                "GET /",
                span::SpanKind::Server,
                3,
                false,
                vec![string_attr("http.method", "GET")],
            ),
            span(
                "GET /",
                span::SpanKind::Server,
                5,
                false,
                vec![string_attr("http.method", "GET")],
            ),
            span(
                "GET /",
                span::SpanKind::Server,
                700,
                true,
                vec![string_attr("http.method", "GET")],
            ),
            span("db", span::SpanKind::Client, 50, false, vec![]),
        ],
    ))
    .await
    .unwrap();
    // a resource without service.name is left out (Go)
    c.consume(traces(
        None,
        vec![],
        vec![span("x", span::SpanKind::Server, 1, false, vec![])],
    ))
    .await
    .unwrap();
    c.shutdown().await;
    let got = metrics(&target);
    assert_eq!(got.len(), 1, "one flush at shutdown");
    let rm = &got[0].resource_metrics;
    assert_eq!(rm.len(), 1);
    assert_eq!(
        attr_str(&rm[0].resource.as_ref().unwrap().attributes, "service.name").as_deref(),
        Some("api")
    );
    let sm = &rm[0].scope_metrics[0];
    assert_eq!(sm.scope.as_ref().unwrap().name, "spanmetricsconnector");
    let names: Vec<&str> = sm.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["traces.span.metrics.calls", "traces.span.metrics.duration"]
    );
    assert_eq!(sm.metrics[1].unit, "ms");
    let Some(metric::Data::Sum(calls)) = &sm.metrics[0].data else {
        panic!("calls is a sum")
    };
    assert!(calls.is_monotonic);
    assert_eq!(
        calls.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    let count_of = |name: &str, status: &str| -> i64 {
        calls
            .data_points
            .iter()
            .filter(|p| {
                attr_str(&p.attributes, "span.name").as_deref() == Some(name)
                    && attr_str(&p.attributes, "status.code").as_deref() == Some(status)
            })
            .map(|p| match p.value {
                Some(number_data_point::Value::AsInt(v)) => v,
                _ => 0,
            })
            .sum()
    };
    assert_eq!(count_of("GET /", "STATUS_CODE_UNSET"), 2);
    assert_eq!(count_of("GET /", "STATUS_CODE_ERROR"), 1);
    assert_eq!(count_of("db", "STATUS_CODE_UNSET"), 1);
    let get = calls
        .data_points
        .iter()
        .find(|p| attr_str(&p.attributes, "span.name").as_deref() == Some("GET /"))
        .unwrap();
    let keys: Vec<&str> = get.attributes.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "service.name",
            "span.name",
            "span.kind",
            "status.code",
            "http.method",
            "region"
        ]
    );
    assert_eq!(
        attr_str(&get.attributes, "span.kind").as_deref(),
        Some("SPAN_KIND_SERVER")
    );
    assert_eq!(
        attr_str(&get.attributes, "region").as_deref(),
        Some("us"),
        "from the resource"
    );
    let db = calls
        .data_points
        .iter()
        .find(|p| attr_str(&p.attributes, "span.name").as_deref() == Some("db"))
        .unwrap();
    assert_eq!(
        attr_str(&db.attributes, "http.method"),
        None,
        "no value, no default"
    );
    let Some(metric::Data::Histogram(h)) = &sm.metrics[1].data else {
        panic!("duration is a histogram")
    };
    let ok = h
        .data_points
        .iter()
        .find(|p| {
            attr_str(&p.attributes, "span.name").as_deref() == Some("GET /")
                && attr_str(&p.attributes, "status.code").as_deref() == Some("STATUS_CODE_UNSET")
        })
        .unwrap();
    assert_eq!(ok.count, 2);
    assert_eq!(ok.sum, Some(8.0));
    // 3 ms in (2, 4], 5 ms in (4, 6]
    assert_eq!(&ok.bucket_counts[..4], &[0, 1, 1, 0]);
    assert_eq!(ok.bucket_counts.iter().sum::<u64>(), 2);
    assert_eq!(ok.explicit_bounds, config::DEFAULT_BUCKETS_MS.to_vec());
}

#[tokio::test]
async fn cumulative_keeps_totals_and_delta_starts_again() {
    for (temporality, second) in [
        ("AGGREGATION_TEMPORALITY_CUMULATIVE", 3),
        ("AGGREGATION_TEMPORALITY_DELTA", 1),
    ] {
        let target = Collect::new();
        let cfg = parse(&format!(
            "aggregation_temporality: {temporality}\nmetrics_flush_interval: 1h"
        ))
        .unwrap();
        let inner = Arc::new(SpanMetrics::new(
            ComponentId::parse("spanmetrics").unwrap(),
            cfg,
            target.clone(),
        ));
        let node = Node(inner.clone());
        let one = || {
            traces(
                Some("svc"),
                vec![],
                vec![span("op", span::SpanKind::Server, 1, false, vec![])],
            )
        };
        node.consume(one()).await.unwrap();
        node.consume(one()).await.unwrap();
        // flush by hand twice, with one more span in between
        let first = inner.flush().unwrap();
        node.consume(one()).await.unwrap();
        let second_req = inner.flush().unwrap();
        let value = |r: &ExportMetricsServiceRequest| -> (i64, u64, u64) {
            let Some(metric::Data::Sum(s)) =
                &r.resource_metrics[0].scope_metrics[0].metrics[0].data
            else {
                panic!()
            };
            let p = &s.data_points[0];
            let v = match p.value {
                Some(number_data_point::Value::AsInt(v)) => v,
                _ => 0,
            };
            (v, p.start_time_unix_nano, p.time_unix_nano)
        };
        let (v1, s1, t1) = value(&first);
        let (v2, s2, _) = value(&second_req);
        assert_eq!(v1, 2, "{temporality}");
        assert_eq!(v2, second, "{temporality}");
        if temporality.ends_with("DELTA") {
            assert_eq!(s2, t1, "a delta point starts where the last one ended");
            assert!(inner.flush().is_none(), "nothing new, nothing sent");
        } else {
            assert_eq!(s2, s1, "a cumulative series keeps its start");
        }
        drop(target);
    }
}

/// A duration equal to a bound counts in that bound's bucket (`le`), as Go's
/// `sort.SearchFloat64s` places it.
#[tokio::test]
async fn a_duration_on_a_bound_counts_in_its_bucket() {
    let (c, target) = build("");
    c.consume(traces(
        Some("api"),
        vec![],
        vec![span("op", span::SpanKind::Server, 2, false, vec![])],
    ))
    .await
    .unwrap();
    c.shutdown().await;
    let got = metrics(&target);
    let Some(metric::Data::Histogram(h)) =
        &got[0].resource_metrics[0].scope_metrics[0].metrics[1].data
    else {
        panic!("duration is a histogram")
    };
    assert_eq!(h.data_points[0].bucket_counts[0], 1, "2 ms is in le=2");
}

/// `events` as the Go README shows it (`events: {enabled: true, dimensions: [{name:
/// exception.type}, {name: exception.message}]}`): span events counted per series of the
/// span's fixed dimensions and the event dimensions, looked up in the span, then the
/// event over the resource.
#[tokio::test]
async fn events_are_counted_per_event_dimensions() {
    use pipeline_api::proto::tonic::trace::v1::span::Event;
    let cfg = parse(
        "events:\n  enabled: true\n  dimensions:\n    - name: exception.type\n    - name: region\n      default: none\nmetrics_flush_interval: 1h\n",
    )
    .unwrap();
    let (inner, node) = instance(cfg);
    let event = |t: &str, extra: Vec<KeyValue>| Event {
        name: "exception".into(),
        attributes: [vec![string_attr("exception.type", t)], extra].concat(),
        ..Default::default()
    };
    let mut failing = span("pay", span::SpanKind::Server, 5, true, vec![]);
    failing.events = vec![
        event("ValueError", vec![]),
        event("ValueError", vec![]),
        event("KeyError", vec![string_attr("region", "eu")]),
    ];
    let ok = span("pay", span::SpanKind::Server, 5, false, vec![]);
    node.consume(traces(
        Some("payments"),
        vec![string_attr("region", "us")],
        vec![failing, ok],
    ))
    .await
    .unwrap();
    let req = inner.flush().unwrap();
    let ms = &req.resource_metrics[0].scope_metrics[0].metrics;
    let names: Vec<&str> = ms.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "traces.span.metrics.calls",
            "traces.span.metrics.duration",
            "traces.span.metrics.events"
        ]
    );
    let Some(metric::Data::Sum(s)) = &ms[2].data else {
        panic!("a sum")
    };
    assert!(s.is_monotonic);
    let mut got: Vec<String> = s
        .data_points
        .iter()
        .map(|p| {
            let v = match p.value {
                Some(number_data_point::Value::AsInt(v)) => v,
                _ => -1,
            };
            let a = |k| attr_str(&p.attributes, k).unwrap_or_default();
            format!(
                "{} {} {} = {v}",
                a("exception.type"),
                a("region"),
                a("status.code")
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            "KeyError eu STATUS_CODE_ERROR = 1",
            "ValueError us STATUS_CODE_ERROR = 2"
        ],
        "the event's region over the resource's"
    );
    // the span series do not carry the event dimensions
    let Some(metric::Data::Sum(calls)) = &ms[0].data else {
        panic!("a sum")
    };
    assert!(calls
        .data_points
        .iter()
        .all(|p| attr(&p.attributes, "exception.type").is_none()));
}

/// `histogram: {exponential: {max_size: 10}}` (Go README): the duration is a base-2
/// exponential histogram of at most `max_size` buckets; `exponential:` alone takes Go's
/// default of 160.
#[tokio::test]
async fn exponential_histograms_hold_every_duration_in_max_size_buckets() {
    assert_eq!(
        parse("histogram: {exponential: }")
            .unwrap()
            .histogram
            .exponential,
        Some(config::Exponential { max_size: 0 })
    );
    let cfg = parse("histogram:\n  exponential:\n    max_size: 10\nmetrics_flush_interval: 1h\n")
        .unwrap();
    let (inner, node) = instance(cfg);
    let durations = [1u64, 3, 7, 20, 150, 900, 4000];
    node.consume(traces(
        Some("svc"),
        vec![],
        durations
            .iter()
            .map(|ms| span("op", span::SpanKind::Server, *ms, false, vec![]))
            .collect(),
    ))
    .await
    .unwrap();
    let req = inner.flush().unwrap();
    let m = &req.resource_metrics[0].scope_metrics[0].metrics[1];
    assert_eq!(m.name, "traces.span.metrics.duration");
    assert_eq!(m.unit, "ms");
    let Some(metric::Data::ExponentialHistogram(h)) = &m.data else {
        panic!("an exponential histogram: {m:?}")
    };
    let p = &h.data_points[0];
    let buckets = p.positive.as_ref().unwrap();
    assert_eq!(p.count, durations.len() as u64);
    assert_eq!(p.sum, Some(durations.iter().sum::<u64>() as f64));
    assert_eq!((p.min, p.max), (Some(1.0), Some(4000.0)));
    assert!(buckets.bucket_counts.len() <= 10, "{buckets:?}");
    assert_eq!(buckets.bucket_counts.iter().sum::<u64>(), p.count);
    for ms in durations {
        let i = crate::expohisto::index_of(ms as f64, p.scale) - buckets.offset;
        assert!(
            buckets.bucket_counts[i as usize] > 0,
            "{ms} ms in bucket {i}"
        );
    }
}

/// An instance flushed by hand, and the node the graph would hold.
fn instance(cfg: Config) -> (Arc<SpanMetrics>, Node) {
    let inner = Arc::new(SpanMetrics::new(
        ComponentId::parse("spanmetrics").unwrap(),
        cfg,
        Collect::new(),
    ));
    (inner.clone(), Node(inner))
}

/// Zero every time of a flushed request and sort its resources and metrics, so that two
/// instances' outputs compare (their clocks and map orders differ).
fn normalized(mut req: ExportMetricsServiceRequest) -> Vec<Vec<u8>> {
    use pipeline_api::proto::tonic::metrics::v1::metric::Data;
    let mut out: Vec<Vec<u8>> = req
        .resource_metrics
        .iter_mut()
        .map(|rm| {
            for sm in &mut rm.scope_metrics {
                for m in &mut sm.metrics {
                    match &mut m.data {
                        Some(Data::Sum(s)) => s.data_points.iter_mut().for_each(|p| {
                            (p.start_time_unix_nano, p.time_unix_nano) = (0, 0);
                            p.exemplars.iter_mut().for_each(|e| e.time_unix_nano = 0);
                        }),
                        Some(Data::Histogram(h)) => h.data_points.iter_mut().for_each(|p| {
                            (p.start_time_unix_nano, p.time_unix_nano) = (0, 0);
                            p.exemplars.iter_mut().for_each(|e| e.time_unix_nano = 0);
                        }),
                        Some(Data::ExponentialHistogram(h)) => {
                            h.data_points.iter_mut().for_each(|p| {
                                (p.start_time_unix_nano, p.time_unix_nano) = (0, 0);
                                p.exemplars.iter_mut().for_each(|e| e.time_unix_nano = 0);
                            })
                        }
                        _ => {}
                    }
                }
                sm.metrics.sort_by_key(|m| format!("{m:?}"));
            }
            Batch::from_metrics(ExportMetricsServiceRequest {
                resource_metrics: vec![rm.clone()],
            })
            .encode()
            .to_vec()
        })
        .collect();
    out.sort();
    out
}

/// Spans still in the wire form are counted as the decoded form counts them: random
/// requests (resources with and without `service.name`, repeated keys, values of every
/// type, entries without a value) through two instances, one fed each form, flush to the
/// same metrics.
#[tokio::test]
async fn spans_in_the_wire_form_count_as_the_decoded_form() {
    use pipeline_api::testing::random::{self, Rng};
    let cases = [
        // span attributes, resource attributes, defaults, a missing key
        "{dimensions: [{name: a}, {name: b, default: none}, {name: http.method}, {name: dup}, {name: ''}], exemplars: {enabled: true}}",
        // few series: the overflow series, the instrumentation scope, seconds
        "{dimensions: [{name: c}], aggregation_cardinality_limit: 3, include_instrumentation_scope: [scope1], histogram: {unit: s}}",
        "{dimensions: [{name: a}], histogram: {exponential: {max_size: 10}}, resource_metrics_key_attributes: [service.name]}",
        // events counted by their attributes and the span's, over the resource's
        "{dimensions: [{name: b}], events: {enabled: true, dimensions: [{name: a}, {name: c, default: none}, {name: http.method}]}, exemplars: {enabled: true}}",
        "{events: {enabled: true, dimensions: [{name: dup}]}, aggregation_cardinality_limit: 4}",
    ];
    let mut rng = Rng(0x5e7);
    for (case, y) in cases.iter().enumerate() {
        let cfg = parse(y).unwrap();
        let (wire_sm, wire_node) = instance(cfg.clone());
        let (decoded_sm, decoded_node) = instance(cfg);
        let mut spans = 0;
        for _ in 0..200 {
            let data = random::request(Signal::Traces, &mut rng);
            let (wire, decoded) = random::both_forms(data);
            spans += wire.items();
            let shared = wire.clone();
            wire_node.consume(wire).await.unwrap();
            assert!(
                !shared.is_decoded(),
                "case {case}: the wire form was decoded"
            );
            decoded_node.consume(decoded).await.unwrap();
        }
        let (w, d) = (wire_sm.flush().unwrap(), decoded_sm.flush().unwrap());
        let points = Batch::from_metrics(d.clone()).items();
        eprintln!("case {case}: {spans} spans, {points} points");
        assert!(points > 20, "case {case}: only {points} points");
        assert!(
            normalized(w) == normalized(d),
            "case {case}: the forms count differently"
        );
    }
}
