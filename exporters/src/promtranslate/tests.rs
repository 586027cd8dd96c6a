use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use pipeline_api::proto::tonic::resource::v1::Resource;

use super::cumulative::{self, downscale, Merge, State};
use super::exphist::{classic_buckets, upper_bound};
use super::format::*;
use super::naming::*;
use super::points::*;
use super::*;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn kv_int(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

fn name(n: &str, unit: &str, kind: MetricKind) -> Option<String> {
    MetricNamer::new("", true).build(n, unit, kind)
}

#[test]
fn golden_names_with_unit_and_type_suffixes() {
    use MetricKind::*;
    // otlptranslator MetricNamer doc example: http.server.duration, unit s → ..._seconds.
    assert_eq!(
        name("http.server.duration", "s", Histogram).unwrap(),
        "http_server_duration_seconds"
    );
    // unitMap: By → bytes, ms → milliseconds, KiBy → kibibytes, Cel → celsius, % → percent.
    assert_eq!(
        name("memory.usage", "By", Gauge).unwrap(),
        "memory_usage_bytes"
    );
    assert_eq!(
        name("rpc.latency", "ms", Histogram).unwrap(),
        "rpc_latency_milliseconds"
    );
    assert_eq!(name("heap", "KiBy", Gauge).unwrap(), "heap_kibibytes");
    assert_eq!(name("temp", "Cel", Gauge).unwrap(), "temp_celsius");
    assert_eq!(name("cpu.util", "%", Gauge).unwrap(), "cpu_util_percent");
    // unit "1" → `_ratio` on gauges only; nothing on counters or non-monotonic sums.
    assert_eq!(
        name("cpu.utilization", "1", Gauge).unwrap(),
        "cpu_utilization_ratio"
    );
    assert_eq!(name("hits", "1", MonotonicCounter).unwrap(), "hits_total");
    assert_eq!(
        name("queue.fill", "1", NonMonotonicCounter).unwrap(),
        "queue_fill"
    );
    assert_eq!(name("cache.ratio", "1", Gauge).unwrap(), "cache_ratio");
    // {annotations} are dropped, in the main and the per part.
    assert_eq!(
        name("http.requests", "{requests}", MonotonicCounter).unwrap(),
        "http_requests_total"
    );
    assert_eq!(
        name("throughput", "{requests}/s", Gauge).unwrap(),
        "throughput_per_second"
    );
    // a/b → a_per_b; perUnitMap s → second, m → minute; unknown units kept.
    assert_eq!(
        name("speed", "m/s", Gauge).unwrap(),
        "speed_meters_per_second"
    );
    assert_eq!(name("x", "a/b", Gauge).unwrap(), "x_a_per_b");
    assert_eq!(
        name("net.io", "By/min", Gauge).unwrap(),
        "net_io_bytes_per_min"
    );
    assert_eq!(
        name("jobs", "1/h", MonotonicCounter).unwrap(),
        "jobs_per_hour_total"
    );
    // monotonic sum → _total once, moved to the end.
    assert_eq!(
        name("requests.total", "", MonotonicCounter).unwrap(),
        "requests_total"
    );
    assert_eq!(
        name("total.requests", "", MonotonicCounter).unwrap(),
        "requests_total"
    );
    assert_eq!(
        name("process.cpu.time", "s", MonotonicCounter).unwrap(),
        "process_cpu_time_seconds_total"
    );
    // the unit is not repeated when the name already has it as a token.
    assert_eq!(
        name("request.duration.seconds", "s", Histogram).unwrap(),
        "request_duration_seconds"
    );
    assert_eq!(name("up.down", "", NonMonotonicCounter).unwrap(), "up_down");
}

#[test]
fn invalid_characters_in_metric_names_are_sanitized() {
    use MetricKind::*;
    // every character outside [a-zA-Z0-9:] separates tokens; `_` runs collapse.
    assert_eq!(name("foo--bar__baz", "", Gauge).unwrap(), "foo_bar_baz");
    assert_eq!(
        name("my.metric/with spaces", "", Gauge).unwrap(),
        "my_metric_with_spaces"
    );
    assert_eq!(name("ns:sub.metric", "", Gauge).unwrap(), "ns:sub_metric");
    assert_eq!(name("température", "", Gauge).unwrap(), "temp_rature");
    // leading digit → `_` prefix.
    assert_eq!(
        name("2xx.count", "", MonotonicCounter).unwrap(),
        "_2xx_count_total"
    );
    // nothing valid left → dropped.
    assert_eq!(name("...", "", Gauge), None);
    assert_eq!(name("", "", Gauge), None);
}

#[test]
fn namespace_and_no_suffix_mode() {
    let n = MetricNamer::new("app", true);
    assert_eq!(
        n.build("requests", "1", MetricKind::MonotonicCounter)
            .unwrap(),
        "app_requests_total"
    );
    // Go prepends the namespace raw; Ferrotel sanitizes it.
    let n = MetricNamer::new("test-space", true);
    assert_eq!(n.build("x", "", MetricKind::Gauge).unwrap(), "test_space_x");
    // add_metric_suffixes: false → Go's simple case: no unit, no _total; `_` runs kept.
    let n = MetricNamer::new("", false);
    assert_eq!(
        n.build("http.server.duration", "s", MetricKind::Histogram)
            .unwrap(),
        "http_server_duration"
    );
    assert_eq!(
        n.build("hits", "1", MetricKind::MonotonicCounter).unwrap(),
        "hits"
    );
    assert_eq!(n.build("a__b", "", MetricKind::Gauge).unwrap(), "a__b");
    assert_eq!(n.build("9lives", "", MetricKind::Gauge).unwrap(), "_9lives");
    let n = MetricNamer::new("ns", false);
    assert_eq!(
        n.build("9lives", "", MetricKind::Gauge).unwrap(),
        "ns_9lives"
    );
}

#[test]
fn unit_suffixes_follow_go_build_unit_suffixes() {
    assert_eq!(unit_suffixes("s"), ("seconds".into(), "".into()));
    assert_eq!(unit_suffixes("By/s"), ("bytes".into(), "per_second".into()));
    assert_eq!(unit_suffixes(" ms "), ("milliseconds".into(), "".into()));
    assert_eq!(unit_suffixes("{packets}"), ("".into(), "".into()));
    assert_eq!(unit_suffixes("1"), ("".into(), "".into()));
    assert_eq!(unit_suffixes("By/"), ("bytes".into(), "".into()));
    assert_eq!(unit_suffixes("/s"), ("".into(), "per_second".into()));
}

#[test]
fn label_names_are_sanitized_as_go_label_namer() {
    assert_eq!(label_name("http.method").unwrap(), "http_method");
    assert_eq!(label_name("http.status_code").unwrap(), "http_status_code");
    // leading digit → key_; single leading underscore → key; `__` kept.
    assert_eq!(label_name("123invalid").unwrap(), "key_123invalid");
    assert_eq!(label_name("_private").unwrap(), "key_private");
    assert_eq!(label_name("__reserved__").unwrap(), "__reserved__");
    // no collapsing of `_` runs in label names (Go's label namer does not).
    assert_eq!(label_name("a..b").unwrap(), "a__b");
    assert_eq!(label_name("ünïcode").unwrap(), "key_n_code");
    assert_eq!(label_name(""), None);
    assert_eq!(label_name("..."), None);
}

#[test]
fn clashing_attribute_names_are_joined_by_original_key_order() {
    // Spec "Metric Attributes": values joined with `;` ordered by the original keys.
    let attrs = vec![kv("a_b", "2"), kv("a.b", "1"), kv("c", "3"), kv_int("n", 7)];
    let labels = sanitize_attributes(&attrs);
    assert_eq!(labels.get("a_b").unwrap(), "1;2");
    assert_eq!(labels.get("c").unwrap(), "3");
    assert_eq!(labels.get("n").unwrap(), "7");
}

/// The label layout worked out for one point's keys serves the next points only when they
/// have the same keys in the same order: each point's labels are those of its own attributes.
#[test]
fn points_with_other_keys_get_their_own_labels() {
    let lists = vec![
        vec![kv("a_b", "2"), kv("a.b", "1"), kv("c", "3")],
        vec![kv("a_b", "5"), kv("a.b", "4"), kv("c", "6")],
        vec![kv("a.b", "1"), kv("a_b", "2"), kv("c", "3")],
        vec![kv("c", "3"), kv("a.b", "1")],
        vec![],
        vec![
            kv("x", "1"),
            kv("x", "2"),
            kv("9", "n"),
            kv("...", "dropped"),
        ],
        vec![
            kv("x", "3"),
            kv("x", "4"),
            kv("9", "m"),
            kv("...", "dropped"),
        ],
        vec![kv("a_b", "2"), kv("a.b", "1"), kv("d", "3")],
    ];
    let points = lists
        .iter()
        .map(|attrs| NumberDataPoint {
            attributes: attrs.clone(),
            value: Some(number_data_point::Value::AsInt(1)),
            ..Default::default()
        })
        .collect();
    let gauge = Metric {
        name: "g".into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: points,
        })),
        ..Default::default()
    };
    let req = request(vec![], InstrumentationScope::default(), vec![gauge]);
    let (points, _) = translate(&req, &opts(ScopeLabels::None));
    assert_eq!(points.len(), lists.len());
    for (p, attrs) in points.iter().zip(&lists) {
        let want: Labels = sanitize_attributes(attrs)
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        assert_eq!(p.labels, want, "{attrs:?}");
    }
    assert_eq!(points[5].labels, labels(&[("key_9", "n"), ("x", "1;2")]));
}

#[test]
fn job_and_instance_from_service_attributes() {
    let attrs = vec![
        kv("service.name", "api"),
        kv("service.namespace", "shop"),
        kv("service.instance.id", "pod-1"),
        kv("host.name", "h1"),
    ];
    assert_eq!(
        job_and_instance(&attrs),
        (Some("shop/api".into()), Some("pod-1".into()))
    );
    assert_eq!(job_and_instance(&attrs[..1]), (Some("api".into()), None));
    assert_eq!(job_and_instance(&attrs[1..2]), (None, None));
    let info = resource_info(&attrs);
    assert_eq!(info.labels, labels(&[("host_name", "h1")]));
}

fn request(
    resource: Vec<KeyValue>,
    scope: InstrumentationScope,
    metrics: Vec<Metric>,
) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope),
                metrics,
                schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn gauge(name: &str, attrs: Vec<KeyValue>, v: f64) -> Metric {
    Metric {
        name: name.into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                attributes: attrs,
                time_unix_nano: 1_000_000_000,
                value: Some(number_data_point::Value::AsDouble(v)),
                ..Default::default()
            }],
        })),
        ..Default::default()
    }
}

fn opts(scope: ScopeLabels) -> TranslateOptions {
    TranslateOptions {
        namer: MetricNamer::new("", true),
        scope_labels: scope,
        resource_to_telemetry: ResourceToTelemetry::default(),
        extra: ExtraLabels::default(),
        drop_reserved: false,
    }
}

fn labels(v: &[(&str, &str)]) -> Labels {
    v.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
}

#[test]
fn scope_labels_full_for_pull_and_if_set_for_remote_write() {
    let scope = InstrumentationScope {
        name: "io.meter".into(),
        version: "".into(),
        attributes: vec![kv("lib.kind", "x")],
        ..Default::default()
    };
    let req = request(
        vec![kv("service.name", "api")],
        scope,
        vec![gauge("g", vec![kv("k", "v")], 1.0)],
    );
    let (points, _) = translate(&req, &opts(ScopeLabels::Full));
    assert_eq!(
        points[0].labels,
        labels(&[
            ("job", "api"),
            ("k", "v"),
            ("otel_scope_lib_kind", "x"),
            ("otel_scope_name", "io.meter"),
            (
                "otel_scope_schema_url",
                "https://opentelemetry.io/schemas/1.26.0"
            ),
            ("otel_scope_version", ""),
        ])
    );
    let (points, _) = translate(&req, &opts(ScopeLabels::NameAndVersionIfSet));
    assert_eq!(
        points[0].labels,
        labels(&[("job", "api"), ("k", "v"), ("otel_scope_name", "io.meter")])
    );
    let (points, _) = translate(&req, &opts(ScopeLabels::None));
    assert_eq!(points[0].labels, labels(&[("job", "api"), ("k", "v")]));
}

/// The scope's labels, job and instance replace a point's attributes of the same names;
/// the point's other labels stay, in name order.
#[test]
fn scope_job_and_instance_replace_point_labels_of_their_names() {
    let point = |attrs| NumberDataPoint {
        attributes: attrs,
        value: Some(number_data_point::Value::AsInt(1)),
        ..Default::default()
    };
    let gauge = Metric {
        name: "g".into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: vec![
                point(vec![
                    kv("zz", "1"),
                    kv("job", "mine"),
                    kv("instance", "me"),
                    kv("otel.scope.name", "spoof"),
                    kv("a", "2"),
                ]),
                point(vec![kv("a", "3")]),
            ],
        })),
        ..Default::default()
    };
    let req = request(
        vec![kv("service.name", "api"), kv("service.instance.id", "i-1")],
        InstrumentationScope {
            name: "lib".into(),
            version: "1.0".into(),
            ..Default::default()
        },
        vec![gauge],
    );
    let (points, _) = translate(&req, &opts(ScopeLabels::NameAndVersionIfSet));
    let want = |a: &str, extra: &[(&str, &str)]| {
        let mut l = vec![("a", a), ("instance", "i-1"), ("job", "api")];
        l.extend_from_slice(extra);
        l.extend([("otel_scope_name", "lib"), ("otel_scope_version", "1.0")]);
        l.sort();
        labels(&l)
    };
    assert_eq!(points[0].labels, want("2", &[("zz", "1")]));
    assert_eq!(points[1].labels, want("3", &[]));
}

#[test]
fn resource_to_telemetry_copies_resource_attributes_over_point_attributes() {
    let req = request(
        vec![
            kv("service.name", "api"),
            kv("host.name", "h1"),
            kv("k", "from-resource"),
        ],
        InstrumentationScope::default(),
        vec![gauge("g", vec![kv("k", "from-point")], 1.0)],
    );
    let mut o = opts(ScopeLabels::None);
    o.resource_to_telemetry = ResourceToTelemetry {
        enabled: true,
        exclude_service_attributes: false,
    };
    let (points, _) = translate(&req, &o);
    assert_eq!(
        points[0].labels,
        labels(&[
            ("host_name", "h1"),
            ("job", "api"),
            ("k", "from-resource"),
            ("service_name", "api")
        ])
    );
    o.resource_to_telemetry.exclude_service_attributes = true;
    let (points, _) = translate(&req, &o);
    assert_eq!(
        points[0].labels,
        labels(&[("host_name", "h1"), ("job", "api"), ("k", "from-resource")])
    );
}

#[test]
fn extra_labels_override_or_give_way() {
    let req = request(
        vec![kv("service.name", "api")],
        InstrumentationScope::default(),
        vec![gauge("g", vec![kv("env", "point")], 1.0)],
    );
    let mut o = opts(ScopeLabels::None);
    o.extra = ExtraLabels {
        labels: vec![
            ("env".into(), "config".into()),
            ("region".into(), "eu".into()),
        ],
        override_data: false,
    };
    let (points, _) = translate(&req, &o);
    assert_eq!(
        points[0].labels,
        labels(&[("env", "point"), ("job", "api"), ("region", "eu")])
    );
    o.extra.override_data = true;
    let (points, _) = translate(&req, &o);
    assert_eq!(
        points[0].labels,
        labels(&[("env", "config"), ("job", "api"), ("region", "eu")])
    );
}

#[test]
fn sum_types_and_temporalities() {
    let sum = |monotonic: bool, temporality: i32| Metric {
        name: "s".into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                value: Some(number_data_point::Value::AsInt(3)),
                ..Default::default()
            }],
            aggregation_temporality: temporality,
            is_monotonic: monotonic,
        })),
        ..Default::default()
    };
    let req = request(
        vec![],
        InstrumentationScope::default(),
        vec![sum(true, 2), sum(false, 2), sum(true, 1), sum(true, 0)],
    );
    let (points, dropped) = translate(&req, &opts(ScopeLabels::None));
    assert_eq!(points.len(), 3);
    assert_eq!(
        (&*points[0].name, points[0].family),
        ("s_total", FamilyType::Counter)
    );
    assert_eq!(
        (&*points[1].name, points[1].family),
        ("s", FamilyType::Gauge)
    );
    assert_eq!(points[2].temporality, Temporality::Delta);
    assert_eq!(points[2].value, Value::Number(3.0));
    assert_eq!(dropped.unspecified_temporality, 1);
}

#[test]
fn gauge_with_unknown_prometheus_type_is_untyped() {
    let mut m = gauge("g", vec![], 1.0);
    m.metadata = vec![kv("prometheus.type", "unknown")];
    let req = request(vec![], InstrumentationScope::default(), vec![m]);
    let (points, _) = translate(&req, &opts(ScopeLabels::None));
    assert_eq!(points[0].family, FamilyType::Unknown);
}

#[test]
fn config_labels_are_sanitized() {
    let m: std::collections::BTreeMap<String, String> = [
        ("another label".to_string(), "spaced value".to_string()),
        ("__tenant__".to_string(), "a".to_string()),
        ("ok".to_string(), "b".to_string()),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        config_labels(&m),
        vec![
            ("__tenant__".to_string(), "a".to_string()),
            ("another_label".to_string(), "spaced value".to_string()),
            ("ok".to_string(), "b".to_string()),
        ]
    );
}

#[test]
fn float_formats_match_go() {
    // text_create.go writeFloat: 'g' shortest.
    assert_eq!(text_float(1.0), "1");
    assert_eq!(text_float(0.0), "0");
    assert_eq!(text_float(-0.0), "0");
    assert_eq!(text_float(0.005), "0.005");
    assert_eq!(text_float(1e6), "1e+06");
    assert_eq!(text_float(123456.0), "123456");
    assert_eq!(text_float(1.5e-7), "1.5e-07");
    assert_eq!(text_float(f64::INFINITY), "+Inf");
    assert_eq!(text_float(f64::NAN), "NaN");
    // openmetrics_create.go writeOpenMetricsFloat: `.0` on integral values.
    assert_eq!(om_float(1.0), "1.0");
    assert_eq!(om_float(0.0), "0.0");
    assert_eq!(om_float(5.0), "5.0");
    assert_eq!(om_float(2.5), "2.5");
    assert_eq!(om_float(1e6), "1e+06");
    assert_eq!(om_float(f64::NEG_INFINITY), "-Inf");
    // remote write `le`: 'f' -1.
    assert_eq!(plain_float(1e6), "1000000");
    assert_eq!(plain_float(0.25), "0.25");
    assert_eq!(plain_float(f64::INFINITY), "+Inf");
    let mut s = String::new();
    escape_label_value("a\"b\\c\nd", &mut s);
    assert_eq!(s, "a\\\"b\\\\c\\nd");
}

fn point(temporality: Temporality, start: u64, time: u64, value: Value) -> Point {
    Point {
        name: "x".into(),
        family: FamilyType::Counter,
        help: "".into(),
        unit: "".into(),
        labels: vec![],
        resource: Default::default(),
        start_ns: start,
        time_ns: time,
        temporality,
        value,
        exemplars: vec![],
        no_recorded_value: false,
    }
}

#[test]
fn delta_sums_accumulate_and_retries_do_not_count_twice() {
    let mut s = State::new(&point(Temporality::Delta, 0, 10, Value::Number(2.0)));
    assert_eq!(
        s.merge(&point(Temporality::Delta, 10, 20, Value::Number(3.0))),
        Merge::Updated
    );
    assert_eq!(s.value, Value::Number(5.0));
    // a gap in start times is not a reset (deltatocumulative semantics)
    assert_eq!(
        s.merge(&point(Temporality::Delta, 25, 30, Value::Number(1.0))),
        Merge::Updated
    );
    assert_eq!(s.value, Value::Number(6.0));
    assert_eq!((s.start_ns, s.time_ns), (0, 30));
    // the same point again (a retried batch) and an older one change nothing
    assert_eq!(
        s.merge(&point(Temporality::Delta, 25, 30, Value::Number(1.0))),
        Merge::AlreadyCounted
    );
    assert_eq!(
        s.merge(&point(Temporality::Delta, 5, 8, Value::Number(1.0))),
        Merge::Stale
    );
    assert_eq!(s.value, Value::Number(6.0));
    // cumulative: newest wins, older ignored
    let mut c = State::new(&point(Temporality::Cumulative, 0, 10, Value::Number(5.0)));
    assert_eq!(
        c.merge(&point(Temporality::Cumulative, 0, 5, Value::Number(1.0))),
        Merge::Stale
    );
    c.merge(&point(Temporality::Cumulative, 0, 20, Value::Number(7.0)));
    assert_eq!(c.value, Value::Number(7.0));
}

#[test]
fn delta_histograms_add_when_bounds_match() {
    let h = |counts: Vec<u64>, bounds: Vec<f64>| {
        Value::Histogram(Histogram {
            count: counts.iter().sum(),
            sum: Some(counts.iter().sum::<u64>() as f64),
            bounds,
            counts,
        })
    };
    let mut s = State::new(&point(
        Temporality::Delta,
        0,
        10,
        h(vec![1, 2, 3], vec![1.0, 2.0]),
    ));
    s.merge(&point(
        Temporality::Delta,
        10,
        20,
        h(vec![1, 0, 1], vec![1.0, 2.0]),
    ));
    assert_eq!(s.value, h(vec![2, 2, 4], vec![1.0, 2.0]));
    // other bounds: the newer point is taken (Go accumulateHistogramValues)
    s.merge(&point(
        Temporality::Delta,
        20,
        30,
        h(vec![5, 5], vec![10.0]),
    ));
    assert_eq!(s.value, h(vec![5, 5], vec![10.0]));
}

#[test]
fn exponential_histograms_downscale_and_merge() {
    // indexes 0..3 at scale 1 → scale 0: 0,0,1,1
    let b = Buckets {
        offset: 0,
        counts: vec![1, 2, 3, 4],
    };
    assert_eq!(
        downscale(&b, 1, 0),
        Buckets {
            offset: 0,
            counts: vec![3, 7]
        }
    );
    let neg = Buckets {
        offset: -3,
        counts: vec![1, 1, 1],
    };
    // -3,-2,-1 → floor(/2) = -2,-1,-1
    assert_eq!(
        downscale(&neg, 1, 0),
        Buckets {
            offset: -2,
            counts: vec![1, 2]
        }
    );
    let e = |scale, offset, counts: Vec<u64>| {
        Value::Exponential(ExpHistogram {
            scale,
            zero_count: 1,
            zero_threshold: 0.0,
            count: counts.iter().sum::<u64>() + 1,
            positive: Buckets { offset, counts },
            negative: Buckets::default(),
            sum: Some(1.0),
        })
    };
    let mut s = State::new(&point(Temporality::Delta, 0, 10, e(1, 0, vec![1, 2, 3, 4])));
    s.merge(&point(Temporality::Delta, 10, 20, e(0, 1, vec![5])));
    let Value::Exponential(m) = &s.value else {
        panic!()
    };
    assert_eq!(m.scale, 0);
    assert_eq!(
        m.positive,
        Buckets {
            offset: 0,
            counts: vec![3, 12]
        }
    );
    assert_eq!((m.zero_count, m.count, m.sum), (2, 17, Some(2.0)));
}

#[test]
fn exponential_histogram_as_classic_buckets() {
    // scale 0: base 2. positive index 0 → (1,2], 1 → (2,4]; negative index 0 → [-2,-1).
    assert_eq!(upper_bound(0, 0), 2.0);
    assert_eq!(upper_bound(-1, 0), 1.0);
    assert_eq!(upper_bound(1, -1), 16.0);
    let e = ExpHistogram {
        scale: 0,
        zero_count: 2,
        zero_threshold: 0.0,
        positive: Buckets {
            offset: 0,
            counts: vec![3, 4],
        },
        negative: Buckets {
            offset: 0,
            counts: vec![1],
        },
        count: 10,
        sum: Some(12.0),
    };
    assert_eq!(
        classic_buckets(&e),
        vec![(-1.0, 1), (0.0, 3), (2.0, 6), (4.0, 10)]
    );
    // a zero threshold above the first positive bound folds that bucket into it
    let e = ExpHistogram {
        zero_threshold: 3.0,
        negative: Buckets::default(),
        ..e
    };
    assert_eq!(classic_buckets(&e), vec![(3.0, 5), (4.0, 9)]);
}

#[test]
fn far_apart_exponential_buckets_are_downscaled_not_allocated() {
    let e = |offset| {
        Value::Exponential(ExpHistogram {
            scale: 20,
            zero_count: 0,
            zero_threshold: 0.0,
            positive: Buckets {
                offset,
                counts: vec![1],
            },
            negative: Buckets::default(),
            count: 1,
            sum: None,
        })
    };
    let mut s = State::new(&point(Temporality::Delta, 0, 10, e(i32::MIN)));
    s.merge(&point(Temporality::Delta, 10, 20, e(i32::MAX)));
    let Value::Exponential(m) = &s.value else {
        panic!()
    };
    assert!(
        m.positive.counts.len() <= cumulative::MAX_EXP_BUCKETS,
        "{}",
        m.positive.counts.len()
    );
    assert_eq!(m.positive.counts.iter().sum::<u64>(), 2);
    assert!(!classic_buckets(m).is_empty());
}

#[test]
fn histogram_bounds_are_sorted_and_deduplicated_as_go() {
    // Go convertDoubleHistogram: first index of each bound kept, bounds sorted.
    let h = Histogram {
        bounds: vec![5.0, 1.0, 5.0, f64::NAN],
        counts: vec![1, 2, 4, 8, 16],
        count: 31,
        sum: None,
    };
    assert_eq!(h.cumulative_buckets(), vec![(1.0, 2), (5.0, 3)]);
}

/// Random requests translated from their wire form give the points their decoded form
/// gives, under each kind of option (scope labels, resource attributes on every point,
/// extra labels either way, namespaces and suffixes, reserved names dropped).
#[test]
fn the_wire_form_translates_as_the_decoded_form() {
    use pipeline_api::testing::random::{self, Rng};
    use pipeline_api::Signal;
    let options = [
        opts(ScopeLabels::NameAndVersionIfSet),
        TranslateOptions {
            namer: MetricNamer::new("ns", false),
            scope_labels: ScopeLabels::Full,
            resource_to_telemetry: ResourceToTelemetry {
                enabled: true,
                exclude_service_attributes: false,
            },
            extra: ExtraLabels {
                labels: vec![("job".into(), "fixed".into()), ("a".into(), "x".into())],
                override_data: true,
            },
            drop_reserved: true,
        },
        TranslateOptions {
            namer: MetricNamer::new("", true),
            scope_labels: ScopeLabels::None,
            resource_to_telemetry: ResourceToTelemetry {
                enabled: true,
                exclude_service_attributes: true,
            },
            extra: ExtraLabels {
                labels: vec![("env".into(), "prod".into())],
                override_data: false,
            },
            drop_reserved: false,
        },
    ];
    let mut rng = Rng(0x9e11);
    let mut points = 0;
    for round in 0..300 {
        let (wire, decoded) = random::both_forms(random::request(Signal::Metrics, &mut rng));
        let chunks = wire.wire_pieces().expect("the wire form");
        let req = decoded.as_metrics().unwrap();
        let o = &options[round % options.len()];
        let (got, got_dropped) = translate_wire(chunks, o).expect("the bytes walk");
        let (want, want_dropped) = translate(req, o);
        assert_eq!(format!("{got:?}"), format!("{want:?}"), "round {round}");
        assert_eq!(
            got_dropped.unspecified_temporality,
            want_dropped.unspecified_temporality
        );
        points += got.len();
    }
    assert!(points > 500, "{points} points");
}
