use std::collections::{HashMap, HashSet};

use opentelemetry_proto::tonic::metrics::v1::metric;
use pipeline_api::config::{parse_typed, ConfigValue};

use super::config::{parse_byte_size, parse_prom_duration, PrometheusReceiverConfig};
use super::relabel::{process, LabelSet, Labels, RelabelConfig, SampleLabels};
use super::textparse::MetadataMap;
use super::textparse::{parse, Format, MetricType};
use super::translate::{stale_nan, Adjuster, FinalSample, TargetInfo};

/// A scrape's metrics as the receiver writes them, decoded; checks that the count it hands
/// on is the points written, and that the bytes pass the wire scan with that count.
fn build(
    t: &TargetInfo,
    samples: &[FinalSample<'_>],
    meta: &MetadataMap,
    adj: &mut Adjuster,
) -> opentelemetry_proto::tonic::metrics::v1::ResourceMetrics {
    let built = super::translate::build(t, samples, meta, adj);
    let mut req = built.decode();
    assert_eq!(req.resource_metrics.len(), 1);
    let points: usize = req.resource_metrics[0]
        .scope_metrics
        .iter()
        .flat_map(|s| &s.metrics)
        .map(|m| match &m.data {
            Some(metric::Data::Sum(d)) => d.data_points.len(),
            Some(metric::Data::Gauge(d)) => d.data_points.len(),
            Some(metric::Data::Histogram(d)) => d.data_points.len(),
            Some(metric::Data::Summary(d)) => d.data_points.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(built.items, points);
    assert_eq!(
        pipeline_api::wire::scan(pipeline_api::Signal::Metrics, &built.bytes).ok(),
        Some(points)
    );
    req.resource_metrics.remove(0)
}

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).unwrap()
}

fn parse_cfg(s: &str) -> Result<PrometheusReceiverConfig, String> {
    parse_typed::<PrometheusReceiverConfig>(&yaml(s)).map_err(|e| {
        e.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })
}

const MINIMAL: &str =
    "config: {scrape_configs: [{job_name: a, static_configs: [{targets: ['h:1']}]}]}";

// ---------- config ----------

#[test]
fn defaults_are_prometheus_defaults() {
    let c = parse_cfg(MINIMAL).unwrap();
    let r = c.config.scrape_configs[0].resolved(&c.config.global);
    assert_eq!(r.interval, std::time::Duration::from_secs(60));
    assert_eq!(r.timeout, std::time::Duration::from_secs(10));
    assert_eq!(r.metrics_path, "/metrics");
    assert_eq!(r.scheme, "http");
    assert!(r.honor_timestamps);
    // a 5s interval makes the default timeout 5s
    let c = parse_cfg("config: {global: {scrape_interval: 5s}, scrape_configs: [{job_name: a}]}")
        .unwrap();
    let r = c.config.scrape_configs[0].resolved(&c.config.global);
    assert_eq!(r.timeout, std::time::Duration::from_secs(5));
}

#[test]
fn the_empty_config_is_refused_as_go_refuses_it() {
    let e = parse_cfg("").unwrap_err();
    assert!(
        e.contains("no Prometheus scrape_configs or target_allocator set"),
        "{e}"
    );
}

#[test]
fn unknown_keys_get_a_suggestion_with_their_path() {
    let e =
        parse_cfg("config: {scrape_configs: [{job_name: a, scrape_intervall: 1s}]}").unwrap_err();
    assert!(e.contains("config::scrape_configs::0"), "{e}");
    assert!(e.contains("did you mean \"scrape_interval\""), "{e}");
}

#[test]
fn unsupported_discovery_and_target_allocator_are_refused_by_name() {
    let e = parse_cfg(
        "config: {scrape_configs: [{job_name: k, consul_sd_configs: [{server: 'c:8500'}]}]}",
    )
    .unwrap_err();
    assert!(e.contains("consul_sd_configs not supported"), "{e}");
    // kubernetes_sd_configs is run; its own problems carry their path
    parse_cfg("config: {scrape_configs: [{job_name: k, kubernetes_sd_configs: [{role: pod}]}]}")
        .unwrap();
    let e = parse_cfg(
        "config: {scrape_configs: [{job_name: k, kubernetes_sd_configs: [{role: service, selectors: [{role: node}]}]}]}",
    )
    .unwrap_err();
    assert!(
        e.contains("config::scrape_configs::0::kubernetes_sd_configs::0::selectors::0: service role supports only service selectors"),
        "{e}"
    );
    let e = parse_cfg(&format!(
        "{MINIMAL}\ntarget_allocator: {{endpoint: http://ta, collector_id: c}}"
    ))
    .unwrap_err();
    assert!(
        e.contains("target_allocator") && e.contains("not supported"),
        "{e}"
    );
    let e = parse_cfg(
        "config: {remote_write: [{url: http://x}], rule_files: [a], scrape_configs: [{job_name: a}]}",
    )
    .unwrap_err();
    assert!(
        e.contains("unsupported features:\n\tremote_write\n\trule_files"),
        "{e}"
    );
}

#[test]
fn prometheus_checks_are_made() {
    let e = parse_cfg(
        "config: {scrape_configs: [{job_name: a, scrape_interval: 5s, scrape_timeout: 10s}]}",
    )
    .unwrap_err();
    assert!(
        e.contains("scrape timeout greater than scrape interval"),
        "{e}"
    );
    let e = parse_cfg("config: {scrape_configs: [{job_name: a}, {job_name: a}]}").unwrap_err();
    assert!(
        e.contains("found multiple scrape configs with job name \"a\""),
        "{e}"
    );
    let e = parse_cfg("config: {scrape_configs: [{job_name: a, metric_relabel_configs: [{source_labels: [x], target_label: __name__}]}]}").unwrap_err();
    assert!(e.contains("renaming metrics is not supported"), "{e}");
    let e = parse_cfg("config: {scrape_configs: [{job_name: a, relabel_configs: [{action: hashmod, target_label: t}]}]}").unwrap_err();
    assert!(e.contains("requires non-zero modulus"), "{e}");
    let e = parse_cfg(
        "config: {scrape_configs: [{job_name: a, relabel_configs: [{action: explode}]}]}",
    )
    .unwrap_err();
    assert!(e.contains("unknown relabel action \"explode\""), "{e}");
    let e =
        parse_cfg("config: {scrape_configs: [{job_name: a, relabel_configs: [{regex: '(('}]}]}")
            .unwrap_err();
    assert!(e.contains("invalid regex"), "{e}");
    let e =
        parse_cfg("config: {scrape_configs: [{job_name: a, scrape_interval: 1.5s}]}").unwrap_err();
    assert!(e.contains("not a valid duration string"), "{e}");
}

#[test]
fn durations_and_sizes_parse_as_prometheus() {
    assert_eq!(parse_prom_duration("1m30s").unwrap().as_secs(), 90);
    assert_eq!(parse_prom_duration("1d").unwrap().as_secs(), 86400);
    assert_eq!(parse_prom_duration("250ms").unwrap().as_millis(), 250);
    assert!(parse_prom_duration("30s1m").is_err());
    assert!(parse_prom_duration("s").is_err());
    assert_eq!(parse_byte_size("10MB").unwrap(), 10 << 20);
    assert_eq!(parse_byte_size("1KiB").unwrap(), 1024);
    assert!(parse_byte_size("10 parsecs").is_err());
}

// ---------- relabel ----------

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn rc(s: &str) -> RelabelConfig {
    serde_yaml_ng::from_str(s).unwrap()
}

fn relabel(input: &[(&str, &str)], cfg: &str) -> Option<Labels> {
    let mut lb = labels(input);
    let configs: Vec<RelabelConfig> = serde_yaml_ng::from_str(cfg).unwrap();
    for c in &configs {
        assert!(c.validate().is_empty(), "{:?}", c.validate());
    }
    let kept = process(&mut lb, &configs);
    // a scraped sample's label set (borrowed, a sorted list) relabels alike
    let mut sample: SampleLabels<'_> = input.iter().copied().collect();
    assert_eq!(process(&mut sample, &configs), kept, "{cfg}: kept");
    if kept {
        let pairs: Vec<(&str, &str)> = sample.iter().collect();
        assert_eq!(pairs, lb.label_pairs(), "{cfg}: labels");
    }
    kept.then_some(lb)
}

#[test]
fn relabel_replace_with_defaults_and_templates() {
    // defaults: regex (.*), separator ;, replacement $1
    let out = relabel(
        &[("a", "x"), ("b", "y")],
        "[{source_labels: [a, b], target_label: c}]",
    );
    assert_eq!(out.unwrap()["c"], "x;y");
    // anchored: 'x' does not match 'xx'
    let out = relabel(
        &[("a", "xx")],
        "[{source_labels: [a], regex: x, target_label: c, replacement: hit}]",
    );
    assert!(!out.unwrap().contains_key("c"));
    // captures and a templated target label
    let out = relabel(
        &[("__address__", "host:9100")],
        "[{source_labels: [__address__], regex: '(.*):(\\d+)', target_label: 'port_${2}', replacement: '$1'}]",
    )
    .unwrap();
    assert_eq!(out["port_9100"], "host");
    // an empty result deletes the target label
    let out = relabel(
        &[("a", ""), ("c", "old")],
        "[{source_labels: [a], target_label: c}]",
    )
    .unwrap();
    assert!(!out.contains_key("c"));
}

#[test]
fn relabel_keep_drop_and_their_equal_forms() {
    let input = [
        ("__name__", "http_requests_total"),
        ("code", "200"),
        ("want", "200"),
    ];
    assert!(relabel(
        &input,
        "[{source_labels: [code], regex: '2..', action: keep}]"
    )
    .is_some());
    assert!(relabel(
        &input,
        "[{source_labels: [code], regex: '5..', action: keep}]"
    )
    .is_none());
    assert!(relabel(
        &input,
        "[{source_labels: [code], regex: '2..', action: drop}]"
    )
    .is_none());
    assert!(relabel(
        &input,
        "[{source_labels: [code], regex: '5..', action: drop}]"
    )
    .is_some());
    assert!(relabel(
        &input,
        "[{source_labels: [code], target_label: want, action: keepequal}]"
    )
    .is_some());
    assert!(relabel(
        &input,
        "[{source_labels: [__name__], target_label: want, action: keepequal}]"
    )
    .is_none());
    assert!(relabel(
        &input,
        "[{source_labels: [code], target_label: want, action: dropequal}]"
    )
    .is_none());
    // action names are case-insensitive, as in Prometheus
    assert!(relabel(
        &input,
        "[{source_labels: [code], regex: '2..', action: Drop}]"
    )
    .is_none());
}

#[test]
fn relabel_hashmod_matches_prometheus() {
    // Prometheus' own case (model/relabel/relabel_test.go): "baz" mod 1000 = 976
    let out = relabel(
        &[("c", "baz")],
        "[{source_labels: [c], target_label: d, modulus: 1000, action: hashmod}]",
    )
    .unwrap();
    assert_eq!(out["d"], "976");
}

#[test]
fn relabel_labelmap_labeldrop_labelkeep_case() {
    let out = relabel(
        &[("__meta_kubernetes_pod_label_app", "web"), ("x", "1")],
        "[{regex: '__meta_kubernetes_pod_label_(.+)', action: labelmap}]",
    )
    .unwrap();
    assert_eq!(out["app"], "web");
    assert_eq!(out["__meta_kubernetes_pod_label_app"], "web");
    let out = relabel(
        &[("a1", "1"), ("a2", "2"), ("b", "3")],
        "[{regex: 'a.', action: labeldrop}]",
    )
    .unwrap();
    assert_eq!(out, labels(&[("b", "3")]));
    let out = relabel(
        &[("a1", "1"), ("a2", "2"), ("b", "3")],
        "[{regex: 'a.', action: labelkeep}]",
    )
    .unwrap();
    assert_eq!(out, labels(&[("a1", "1"), ("a2", "2")]));
    let out = relabel(&[("a", "MiXed")], "[{source_labels: [a], target_label: l, action: lowercase}, {source_labels: [a], target_label: u, action: uppercase}]").unwrap();
    assert_eq!((out["l"].as_str(), out["u"].as_str()), ("mixed", "MIXED"));
}

#[test]
fn relabel_checks_use_prometheus_words() {
    let check = |s: &str| rc(s).validate().join("; ");
    assert!(check("{action: labeldrop, regex: a, target_label: b}")
        .contains("labeldrop action requires only 'regex', and no other fields"));
    assert!(
        check("{action: keepequal, source_labels: [a], target_label: b, regex: x}")
            .contains("requires only 'source_labels' and `target_label`")
    );
    assert!(check("{action: replace}").contains("requires 'target_label' value"));
    assert!(
        check("{action: uppercase, source_labels: [a], target_label: '1bad'}")
            .contains("invalid 'target_label'")
    );
    assert!(check("{action: labelmap, replacement: '-'}").contains("invalid 'replacement'"));
}

// ---------- parser ----------

const TEXT: &str = r#"# HELP http_requests_total The total.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400",} 3
# A plain comment
# TYPE h histogram
h_bucket{le="0.5"} 1
h_bucket{le="+Inf"} 2
h_sum 1.5
h_count 2
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9
nan_value NaN
minus_inf -Inf
"#;

#[test]
fn the_text_format_parses() {
    let p = parse(TEXT.as_bytes(), Format::Text).unwrap();
    assert_eq!(p.samples.len(), 9);
    assert_eq!(p.metadata["http_requests_total"].kind, MetricType::Counter);
    assert_eq!(p.metadata["http_requests_total"].help, "The total.");
    let s = &p.samples[0];
    assert_eq!(s.value, 1027.0);
    assert_eq!(s.timestamp_ms, Some(1395066363000));
    assert_eq!(p.samples[1].labels.len(), 2);
    let msdos = &p.samples[6];
    assert_eq!(msdos.labels[0].1, "C:\\DIR\\FILE.TXT");
    assert_eq!(msdos.labels[1].1, "Cannot find file:\n\"FILE.TXT\"");
    assert!(p.samples[7].value.is_nan());
    assert_eq!(p.samples[8].value, f64::NEG_INFINITY);
    // blanks are runs of spaces and tabs, before the value, between it and the timestamp,
    // and after them
    let p = parse(
        b"a{x=\"1\"}\t 2.5 \t\t1395066363000 \nb  \t-3\t\n  c 4\n",
        Format::Text,
    )
    .unwrap();
    let read: Vec<(&str, f64, Option<i64>)> = p
        .samples
        .iter()
        .map(|s| (s.name, s.value, s.timestamp_ms))
        .collect();
    assert_eq!(
        read,
        vec![
            ("a", 2.5, Some(1395066363000)),
            ("b", -3.0, None),
            ("c", 4.0, None)
        ]
    );
    let e = parse(b"a 1 2 3\n", Format::Text).unwrap_err();
    assert!(e.message.contains("unexpected \"3\""), "{e}");
}

#[test]
fn openmetrics_parses_and_needs_eof() {
    let body = "# TYPE c counter\n# UNIT c seconds\n# HELP c Help.\nc_total{a=\"b\"} 3 # {trace_id=\"x\"} 1 1.5\nc_created{a=\"b\"} 1700000000.5\n# EOF\n";
    let p = parse(body.as_bytes(), Format::OpenMetrics).unwrap();
    assert_eq!(p.samples.len(), 2);
    assert_eq!(p.metadata["c"].unit, "seconds");
    let e = parse(b"c_total 1\n", Format::OpenMetrics).unwrap_err();
    assert!(e.message.contains("# EOF"), "{e}");
    let e = parse(b"# EOF\nc_total 1\n", Format::OpenMetrics).unwrap_err();
    assert!(e.message.contains("after # EOF"), "{e}");
    // only the empty line the final newline leaves is allowed
    assert!(parse(b"c_total 1\n# EOF", Format::OpenMetrics).is_ok());
    let e = parse(b"# EOF\n\n", Format::OpenMetrics).unwrap_err();
    assert!(e.line == 2 && e.message.contains("after # EOF"), "{e}");
    let e = parse(b"c_total 1\n\nc_total 2\n# EOF\n", Format::OpenMetrics).unwrap_err();
    assert!(e.line == 2 && e.message.contains("empty line"), "{e}");
    assert_eq!(
        Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        Format::OpenMetrics
    );
    assert_eq!(
        Format::from_content_type("text/plain; version=0.0.4"),
        Format::Text
    );
}

#[test]
fn malformed_bodies_are_clear_errors_naming_the_line() {
    for (body, want) in [
        ("ok 1\nbad{a=\"b\" 1\n", "line 2"),
        ("m{a=b} 1", "quoted value"),
        ("m{a=\"b\"}", "expected a value"),
        ("m x", "invalid value"),
        ("m 1 notatime", "invalid timestamp"),
        ("m 1 2 3", "unexpected"),
        ("m{a=\"1\",a=\"2\"} 1", "duplicate label"),
        ("# TYPE m bogus", "invalid metric type"),
        ("{} 1", "expected a metric name"),
        ("m{a=\"unterminated} 1", "unterminated"),
    ] {
        let e = parse(body.as_bytes(), Format::Text).unwrap_err();
        assert!(e.to_string().contains(want), "{body:?}: {e}");
    }
    assert!(parse(&[0xff, 0xfe, b' ', b'1'], Format::Text).is_err());
}

#[test]
fn mutated_bodies_never_panic() {
    let base = TEXT.as_bytes();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"{}\",=\\# \n\t.-+eE0123456789aZ_:\xff\xc3";
    for _ in 0..20_000 {
        let mut b = base.to_vec();
        for _ in 0..(next() % 6 + 1) {
            let i = (next() as usize) % b.len();
            match next() % 3 {
                0 => b[i] = alphabet[(next() as usize) % alphabet.len()],
                1 => {
                    b.remove(i);
                }
                _ => b.insert(i, alphabet[(next() as usize) % alphabet.len()]),
            }
        }
        let _ = parse(&b, Format::Text);
        let _ = parse(&b, Format::OpenMetrics);
    }
}

// ---------- translation ----------

fn target() -> TargetInfo {
    TargetInfo {
        job: "job1".into(),
        instance: "10.0.0.1:8080".into(),
        scheme: "http".into(),
        scope_version: "v".into(),
        trim_suffixes: false,
        external_labels: Vec::new(),
        kubernetes: Vec::new(),
    }
}

fn sample(pairs: &[(&str, &str)], value: f64, t: u64) -> FinalSample<'static> {
    let mut l = labels(pairs);
    l.insert("job".into(), "job1".into());
    l.insert("instance".into(), "10.0.0.1:8080".into());
    FinalSample {
        labels: l.into_iter().collect(),
        value,
        time_ns: t,
    }
}

/// A parsed body's samples as a scrape of `target()` labels them, at time 1.
fn parsed_samples(p: &super::textparse::Parsed<'_>) -> Vec<FinalSample<'static>> {
    p.samples
        .iter()
        .map(|s| {
            let mut pairs: Vec<(&str, &str)> = vec![("__name__", s.name)];
            pairs.extend(s.labels.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
            sample(&pairs, s.value, 1)
        })
        .collect()
}

#[test]
fn histogram_counter_and_resource_as_go_builds_them() {
    let p = parse(TEXT.as_bytes(), Format::Text).unwrap();
    let samples = vec![
        sample(
            &[("__name__", "http_requests_total"), ("code", "200")],
            5.0,
            1_000,
        ),
        sample(&[("__name__", "h_bucket"), ("le", "0.5")], 1.0, 1_000),
        sample(&[("__name__", "h_bucket"), ("le", "+Inf")], 3.0, 1_000),
        sample(&[("__name__", "h_sum")], 2.5, 1_000),
        sample(&[("__name__", "h_count")], 3.0, 1_000),
        sample(&[("__name__", "target_info"), ("env", "prod")], 1.0, 1_000),
    ];
    let mut adj = Adjuster::default();
    let rm = build(&target(), &samples, &p.metadata, &mut adj);
    let attrs: HashMap<String, String> = rm
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|kv| {
            let v = match kv.value.as_ref().unwrap().value.as_ref().unwrap() {
                opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s) => {
                    s.clone()
                }
                _ => String::new(),
            };
            (kv.key.clone(), v)
        })
        .collect();
    assert_eq!(attrs["service.name"], "job1");
    assert_eq!(attrs["service.instance.id"], "10.0.0.1:8080");
    assert_eq!(attrs["server.address"], "10.0.0.1");
    assert_eq!(attrs["server.port"], "8080");
    assert_eq!(attrs["url.scheme"], "http");
    assert_eq!(attrs["env"], "prod");
    let metrics = &rm.scope_metrics[0].metrics;
    assert_eq!(metrics.len(), 2, "{metrics:#?}");
    let Some(metric::Data::Sum(sum)) = &metrics[0].data else {
        panic!()
    };
    assert!(sum.is_monotonic);
    assert_eq!(
        sum.data_points[0].attributes.len(),
        1,
        "job/instance are not attributes"
    );
    let Some(metric::Data::Histogram(h)) = &metrics[1].data else {
        panic!()
    };
    assert_eq!(metrics[1].name, "h");
    assert_eq!(h.data_points[0].explicit_bounds, vec![0.5]);
    assert_eq!(h.data_points[0].bucket_counts, vec![1, 2]);
    assert_eq!(h.data_points[0].count, 3);
    assert_eq!(h.data_points[0].sum, Some(2.5));
}

#[test]
fn start_times_follow_first_seen_and_resets_and_stale_points_are_flagged() {
    let meta = parse(b"# TYPE c_total counter\n", Format::Text)
        .unwrap()
        .metadata;
    let mut adj = Adjuster::default();
    let point = |adj: &mut Adjuster, v: f64, t: u64| {
        let rm = build(
            &target(),
            &[sample(&[("__name__", "c_total")], v, t)],
            &meta,
            adj,
        );
        let Some(metric::Data::Sum(s)) = rm.scope_metrics[0].metrics[0].data.clone() else {
            panic!()
        };
        s.data_points[0].clone()
    };
    assert_eq!(point(&mut adj, 5.0, 100).start_time_unix_nano, 100);
    assert_eq!(point(&mut adj, 7.0, 200).start_time_unix_nano, 100);
    // a drop is a reset: the series starts again at this point
    assert_eq!(point(&mut adj, 1.0, 300).start_time_unix_nano, 300);
    assert_eq!(point(&mut adj, 2.0, 400).start_time_unix_nano, 300);
    let stale = point(&mut adj, stale_nan(), 500);
    assert_eq!(stale.flags, 1);
    assert!(stale.value.is_none());
}

/// The adjuster keeps each series apart by its name and its attributes: a reset of one
/// does not restart another with the same attributes or the same name.
#[test]
fn start_times_are_kept_per_series() {
    let meta = parse(
        b"# TYPE a_total counter\n# TYPE b_total counter\n",
        Format::Text,
    )
    .unwrap()
    .metadata;
    let mut adj = Adjuster::default();
    let scrape = |adj: &mut Adjuster, values: [f64; 3], t: u64| {
        let samples = [
            sample(&[("__name__", "a_total")], values[0], t),
            sample(&[("__name__", "b_total")], values[1], t),
            sample(&[("__name__", "a_total"), ("x", "1")], values[2], t),
        ];
        let rm = build(&target(), &samples, &meta, adj);
        let mut starts = Vec::new();
        for m in &rm.scope_metrics[0].metrics {
            let Some(metric::Data::Sum(s)) = &m.data else {
                panic!()
            };
            for p in &s.data_points {
                starts.push((m.name.clone(), p.attributes.len(), p.start_time_unix_nano));
            }
        }
        starts
    };
    scrape(&mut adj, [5.0, 5.0, 5.0], 100);
    // the first series resets; the others go on
    let starts = scrape(&mut adj, [1.0, 9.0, 9.0], 200);
    assert_eq!(
        starts,
        vec![
            ("a_total".to_string(), 0, 200),
            ("a_total".to_string(), 1, 100),
            ("b_total".to_string(), 0, 100),
        ]
    );
}

#[test]
fn scope_labels_become_the_scope_and_external_labels_are_added() {
    let meta = parse(b"# TYPE g gauge\n", Format::Text).unwrap().metadata;
    let mut t = target();
    t.external_labels = vec![("cluster".into(), "c1".into()), ("a".into(), "ext".into())];
    let samples = vec![
        sample(
            &[
                ("__name__", "g"),
                ("otel_scope_name", "my.lib"),
                ("otel_scope_version", "1.2"),
                ("a", "own"),
                ("zone", "eu"),
            ],
            1.0,
            1,
        ),
        sample(&[("__name__", "g"), ("a", "other")], 2.0, 1),
    ];
    let rm = build(&t, &samples, &meta, &mut Adjuster::default());
    let scopes: Vec<(String, String)> = rm
        .scope_metrics
        .iter()
        .map(|s| {
            let sc = s.scope.as_ref().unwrap();
            (sc.name.clone(), sc.version.clone())
        })
        .collect();
    assert_eq!(
        scopes,
        vec![
            ("my.lib".to_string(), "1.2".to_string()),
            (super::translate::DEFAULT_SCOPE.to_string(), "v".to_string())
        ]
    );
    let Some(metric::Data::Gauge(g)) = &rm.scope_metrics[0].metrics[0].data else {
        panic!()
    };
    let keys: Vec<&str> = g.data_points[0]
        .attributes
        .iter()
        .map(|k| k.key.as_str())
        .collect();
    // the scraped `a` wins over the external label; scope labels are not attributes; an
    // external label takes its place by name among the scraped ones
    assert_eq!(keys, vec!["a", "cluster", "zone"]);
}

#[test]
fn loopback_targets_have_no_server_address() {
    let mut t = target();
    t.instance = "127.0.0.1:9090".into();
    let rm = build(&t, &[], &MetadataMap::default(), &mut Adjuster::default());
    let keys: Vec<&str> = rm
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|k| k.key.as_str())
        .collect();
    assert_eq!(
        keys,
        vec![
            "service.name",
            "service.instance.id",
            "server.port",
            "url.scheme"
        ]
    );
}

#[test]
fn honor_labels_decides_who_wins_a_collision() {
    use super::scrape::attach_target_labels;
    use super::targets::Target;
    let t = Target {
        labels: vec![
            ("instance".into(), "h:1".into()),
            ("job".into(), "j".into()),
        ],
        url: "http://h:1/metrics".into(),
        scheme: "http".into(),
        job: "j".into(),
        instance: "h:1".into(),
        interval: std::time::Duration::from_secs(1),
        timeout: std::time::Duration::from_secs(1),
        kubernetes: Vec::new(),
    };
    let mut lb: SampleLabels<'_> =
        labels(&[("__name__", "m"), ("job", "scraped"), ("exported_job", "x")])
            .into_iter()
            .collect();
    attach_target_labels(&mut lb, &t, false);
    assert_eq!(&lb["job"], "j");
    assert_eq!(&lb["exported_exported_job"], "scraped");
    let mut lb: SampleLabels<'_> = labels(&[("__name__", "m"), ("job", "scraped")])
        .into_iter()
        .collect();
    attach_target_labels(&mut lb, &t, true);
    assert_eq!(&lb["job"], "scraped");
    assert_eq!(&lb["instance"], "h:1");
}

#[test]
fn targets_get_prometheus_labels_and_urls() {
    use super::targets::{targets_from_group, TargetGroup};
    let c = parse_cfg(
        "config: {scrape_configs: [{job_name: j, scrape_interval: 15s, params: {module: [http_2xx]}, relabel_configs: [{source_labels: [__address__], target_label: __param_target}, {target_label: __address__, replacement: 'exporter:9115'}, {source_labels: [__param_target], target_label: instance}, {source_labels: [__address__], regex: 'drop.*', action: drop}]}]}",
    )
    .unwrap();
    let sc = &c.config.scrape_configs[0];
    let r = sc.resolved(&c.config.global);
    let group = TargetGroup {
        targets: vec!["example.com".into()],
        labels: [
            ("env".to_string(), "prod".to_string()),
            ("__meta_x".to_string(), "y".to_string()),
        ]
        .into(),
    };
    let (ts, errs) = targets_from_group(sc, &r, &group);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(ts.len(), 1);
    let t = &ts[0];
    assert_eq!(
        t.url,
        "http://exporter:9115/metrics?module=http_2xx&target=example.com"
    );
    assert_eq!(t.instance, "example.com");
    assert_eq!(
        t.labels,
        vec![
            ("env".to_string(), "prod".to_string()),
            ("instance".to_string(), "example.com".to_string()),
            ("job".to_string(), "j".to_string())
        ]
    );
    assert_eq!(t.interval, std::time::Duration::from_secs(15));
}

#[test]
fn file_sd_files_are_read_as_json_and_yaml() {
    use super::targets::read_sd_file;
    let dir = std::env::temp_dir().join(format!("ferrotel-promsd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let j = dir.join("a.json");
    std::fs::write(&j, r#"[{"targets": ["h:1", "h:2"], "labels": {"k": "v"}}]"#).unwrap();
    let y = dir.join("b.yml");
    std::fs::write(&y, "- targets: ['h:3']\n").unwrap();
    let bad = dir.join("c.json");
    std::fs::write(&bad, "[{").unwrap();
    let g = read_sd_file(&j).unwrap();
    assert_eq!(g[0].targets.len(), 2);
    assert_eq!(g[0].labels["k"], "v");
    assert_eq!(g[0].labels["__meta_filepath"], j.display().to_string());
    assert_eq!(
        read_sd_file(&y).unwrap()[0].targets,
        vec!["h:3".to_string()]
    );
    assert!(read_sd_file(&bad).unwrap_err().contains("invalid JSON"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn trim_metric_suffixes_as_go_trims_them() {
    use super::translate::trim_suffixes;
    assert_eq!(
        trim_suffixes("http_requests_total", MetricType::Counter, ""),
        "http_requests"
    );
    assert_eq!(
        trim_suffixes("req_duration_seconds_total", MetricType::Counter, "seconds"),
        "req_duration"
    );
    assert_eq!(
        trim_suffixes("latency_seconds", MetricType::Histogram, "seconds"),
        "latency"
    );
    assert_eq!(
        trim_suffixes("temp_total", MetricType::Gauge, ""),
        "temp_total"
    );
    assert_eq!(
        trim_suffixes("seconds", MetricType::Gauge, "seconds"),
        "seconds"
    );
}

#[test]
fn info_and_stateset_are_non_monotonic_sums_and_gauge_histograms_are_dropped() {
    let body = "# TYPE build info\nbuild_info{version=\"1\"} 1\n# TYPE gh gaugehistogram\ngh_bucket{le=\"+Inf\"} 1\ngh_gcount 1\ngh_gsum 1\n# TYPE u untyped\nu 3\n# EOF\n";
    let p = parse(body.as_bytes(), Format::OpenMetrics).unwrap();
    let samples = parsed_samples(&p);
    let rm = build(&target(), &samples, &p.metadata, &mut Adjuster::default());
    let metrics = &rm.scope_metrics[0].metrics;
    let kinds: Vec<(&str, &str)> = metrics
        .iter()
        .map(|m| {
            let k = match &m.data {
                Some(metric::Data::Sum(s)) if !s.is_monotonic => "sum",
                Some(metric::Data::Gauge(_)) => "gauge",
                _ => "other",
            };
            (m.name.as_str(), k)
        })
        .collect();
    assert_eq!(kinds, vec![("build", "sum"), ("u", "gauge")]);
}

fn job_context(extra: &str) -> super::scrape::JobContext {
    job_context_to(extra, pipeline_api::testing::Collect::new())
}

fn job_context_to(
    extra: &str,
    next: std::sync::Arc<pipeline_api::testing::Collect>,
) -> super::scrape::JobContext {
    use pipeline_api::{ComponentId, ComponentKind};
    let c = parse_cfg(&format!(
        "config: {{scrape_configs: [{{job_name: j, static_configs: [{{targets: ['h:1']}}]{extra}}}]}}"
    ))
    .unwrap();
    let sc = c.config.scrape_configs[0].clone();
    let id = ComponentId::parse("prometheus").unwrap();
    super::scrape::JobContext {
        receiver: id.clone(),
        resolved: sc.resolved(&c.config.global),
        config: sc,
        client: reqwest::Client::builder().build().unwrap(),
        next,
        obs: pipeline_api::telemetry::ComponentTelemetry::detached(ComponentKind::Receiver, &id)
            .receiver_obs("http"),
        trim_suffixes: false,
        external_labels: Vec::new(),
    }
}

fn scrape_target() -> super::targets::Target {
    super::targets::Target {
        labels: vec![
            ("instance".into(), "h:1".into()),
            ("job".into(), "j".into()),
        ],
        url: "http://h:1/metrics".into(),
        scheme: "http".into(),
        job: "j".into(),
        instance: "h:1".into(),
        interval: std::time::Duration::from_secs(1),
        timeout: std::time::Duration::from_secs(1),
        kubernetes: Vec::new(),
    }
}

#[test]
fn a_scrape_applies_metric_relabelling_limits_and_timestamps() {
    use super::scrape::process_for_test as process_body;
    let body = b"a{x=\"1\"} 1 5000\nb 2\nc 3\n";
    let job = job_context(
        ", metric_relabel_configs: [{source_labels: [__name__], regex: c, action: drop}]",
    );
    let target = scrape_target();
    let (samples, scraped) = process_body(&job, &target, body, Format::Text).unwrap();
    assert_eq!(scraped, 3);
    assert_eq!(samples.len(), 2, "c dropped by metric_relabel_configs");
    assert_eq!(samples[0].time_ns, 5_000_000_000, "honor_timestamps: true");
    assert_eq!(samples[1].time_ns, 1_000);
    assert_eq!(&samples[0].labels["job"], "j");
    let job = job_context(", honor_timestamps: false");
    let (samples, _) = process_body(&job, &target, body, Format::Text).unwrap();
    assert_eq!(samples[0].time_ns, 1_000);
    let job = job_context(", sample_limit: 2");
    let e = process_body(&job, &scrape_target(), body, Format::Text).unwrap_err();
    assert!(e.contains("sample limit exceeded"), "{e}");
    let job = job_context(", label_limit: 3");
    let e = process_body(&job, &scrape_target(), body, Format::Text).unwrap_err();
    assert!(e.contains("label_limit exceeded"), "{e}");
    let job = job_context("");
    let e = process_body(&job, &scrape_target(), b"a 1\nb{ 2\n", Format::Text).unwrap_err();
    assert!(e.starts_with("line 2:"), "{e}");
}

/// A loopback HTTP server answering each request with the next of `bodies` (`None`: status
/// 500), then 500 for good; its port.
async fn serve_bodies(bodies: Vec<Option<&'static str>>) -> u16 {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut bodies = bodies.into_iter();
        while let Ok((mut conn, _)) = listener.accept().await {
            if pipeline_api::testing::read_request_head(&mut conn)
                .await
                .is_none()
            {
                continue;
            }
            let answer = match bodies.next().flatten() {
                Some(b) => format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{b}",
                    b.len()
                ),
                None => "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into(),
            };
            let _ = conn.write_all(answer.as_bytes()).await;
        }
    });
    port
}

#[tokio::test]
async fn series_that_go_away_get_stale_markers_with_their_labels() {
    use crate::testing::points;
    let port = serve_bodies(vec![
        Some("# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\",y=\"q\\\"uote\"} 2\nb 3\n"),
        // a{x="2"} and b go away
        Some("# TYPE a gauge\na{x=\"1\"} 4\n"),
        // the scrape fails: a{x="1"} goes away
        None,
    ])
    .await;
    let next = pipeline_api::testing::Collect::new();
    let job = std::sync::Arc::new(job_context_to("", next.clone()));
    let mut target = scrape_target();
    target.url = format!("http://127.0.0.1:{port}/metrics");
    let mut l = super::scrape::Loop::new(job, target);
    let mut scrapes = Vec::new();
    for _ in 0..4 {
        l.scrape_once().await;
        let batches = next.take();
        assert_eq!(batches.len(), 1);
        let rm = batches[0].as_metrics().unwrap().resource_metrics[0].clone();
        let show = |name: &str| {
            let mut p: Vec<String> = points(&rm, name)
                .into_iter()
                .map(|(a, v)| format!("{a}={v}"))
                .collect();
            p.sort();
            p
        };
        scrapes.push((show("a"), show("b"), show("up")));
    }
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        scrapes[0],
        (v(&["x=1=1", "x=2,y=q\"uote=2"]), v(&["=3"]), v(&["=1"]))
    );
    // stale: NaN (no recorded value), with the labels they had (an escaped one too)
    assert_eq!(
        scrapes[1],
        (v(&["x=1=4", "x=2,y=q\"uote=NaN"]), v(&["=NaN"]), v(&["=1"]))
    );
    assert_eq!(scrapes[2], (v(&["x=1=NaN"]), v(&[]), v(&["=0"])));
    // nothing is left to go stale
    assert_eq!(scrapes[3], (v(&[]), v(&[]), v(&["=0"])));
}

#[test]
fn a_scrape_labels_samples_with_and_without_a_clash_alike() {
    use super::scrape::process_for_test as process_body;
    let body = b"m{job=\"scraped\",k=\"v\"} 1\nm2{k=\"v\",e=\"\"} 2\n";
    let target = scrape_target();
    let show = |s: &super::translate::FinalSample<'_>| {
        s.labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let (samples, _) = process_body(&job_context(""), &target, body, Format::Text).unwrap();
    let got: Vec<String> = samples.iter().map(show).collect();
    assert_eq!(
        got,
        [
            "__name__=m,exported_job=scraped,instance=h:1,job=j,k=v",
            "__name__=m2,instance=h:1,job=j,k=v",
        ]
    );
    let job = job_context(", honor_labels: true");
    let (samples, _) = process_body(&job, &target, body, Format::Text).unwrap();
    let got: Vec<String> = samples.iter().map(show).collect();
    assert_eq!(
        got,
        [
            "__name__=m,instance=h:1,job=scraped,k=v",
            "__name__=m2,instance=h:1,job=j,k=v",
        ]
    );
}

#[test]
fn units_are_ucum_and_each_metric_says_its_declared_type_as_go_writes_them() {
    let body = "# TYPE req_duration_seconds histogram\n# UNIT req_duration_seconds seconds\nreq_duration_seconds_bucket{le=\"+Inf\"} 1\nreq_duration_seconds_count 1\nreq_duration_seconds_sum 0.5\n# TYPE rx_bytes_per_second gauge\n# UNIT rx_bytes_per_second bytes_per_second\nrx_bytes_per_second 3\n# TYPE state stateset\nstate{state=\"a\"} 1\n# TYPE odd gauge\n# UNIT odd furlongs\nodd 1\nbare 2\n# EOF\n";
    let p = parse(body.as_bytes(), Format::OpenMetrics).unwrap();
    let mut samples = parsed_samples(&p);
    samples.push(sample(&[("__name__", "scrape_duration_seconds")], 0.1, 1));
    let rm = build(&target(), &samples, &p.metadata, &mut Adjuster::default());
    let got: Vec<(String, String, Vec<String>)> = rm.scope_metrics[0]
        .metrics
        .iter()
        .map(|m| {
            let meta = m.metadata.iter().map(crate::testing::kv_text).collect();
            (m.name.clone(), m.unit.clone(), meta)
        })
        .collect();
    let want = |n: &str, u: &str, t: &str| {
        (
            n.to_string(),
            u.to_string(),
            vec![format!("prometheus.type={t}")],
        )
    };
    assert_eq!(
        got,
        [
            want("req_duration_seconds", "s", "histogram"),
            want("rx_bytes_per_second", "By/s", "gauge"),
            want("state", "", "stateset"),
            want("odd", "furlongs", "gauge"),
            want("bare", "", "unknown"),
            want("scrape_duration_seconds", "s", "gauge"),
        ]
    );
}

#[tokio::test]
async fn a_target_that_goes_away_has_every_series_and_its_report_series_marked_stale() {
    use crate::testing::points;
    let port = serve_bodies(vec![Some("# TYPE a gauge\na{x=\"1\"} 1\n")]).await;
    let next = pipeline_api::testing::Collect::new();
    let job = std::sync::Arc::new(job_context_to("", next.clone()));
    let mut target = scrape_target();
    target.url = format!("http://127.0.0.1:{port}/metrics");
    let mut l = super::scrape::Loop::new(job, target);
    l.scrape_once().await;
    next.take();
    l.mark_all_stale().await;
    let batches = next.take();
    assert_eq!(batches.len(), 1);
    let rm = &batches[0].as_metrics().unwrap().resource_metrics[0];
    let mut stale: Vec<String> = super::translate::REPORT_SERIES
        .iter()
        .chain(&["a"])
        .flat_map(|n| {
            points(rm, n)
                .into_iter()
                .map(move |(a, v)| format!("{n}{{{a}}}={v}"))
        })
        .collect();
    stale.sort();
    assert_eq!(
        stale,
        [
            "a{x=1}=NaN",
            "scrape_duration_seconds{}=NaN",
            "scrape_samples_post_metric_relabeling{}=NaN",
            "scrape_samples_scraped{}=NaN",
            "scrape_series_added{}=NaN",
            "up{}=NaN",
        ]
    );
}

/// The series memory keys by label-set hashes without comparing labels: over many label
/// sets that differ in a digit or two, as real exporters' do, no two hashes may be equal,
/// and a pair split differently between key and value must not collide either.
#[test]
fn label_set_hashes_keep_many_similar_series_apart() {
    use std::hash::Hasher;
    let hash = |name: &str, pairs: &[(&str, &str)]| {
        super::translate::hash_labels(name, pairs.iter().copied()).finish()
    };
    assert_ne!(hash("m", &[("a", "bc")]), hash("m", &[("ab", "c")]));
    assert_ne!(hash("m", &[("a", "b")]), hash("ma", &[("", "b")]));
    let mut seen = std::collections::HashSet::new();
    let mut n = 0;
    for pod in 0..200 {
        let pod = format!("checkout-7d9f{pod:04}");
        for route in 0..25 {
            let route = format!("/api/v{}/items/{}", route % 3, route);
            for code in ["200", "201", "204", "400", "404", "500", "503"] {
                for le in ["0.005", "0.05", "0.5", "5", "+Inf"] {
                    let pairs = [
                        ("code", code),
                        ("le", le),
                        ("pod", pod.as_str()),
                        ("route", route.as_str()),
                    ];
                    seen.insert(hash("http_request_duration_seconds_bucket", &pairs));
                    n += 1;
                }
            }
        }
    }
    assert_eq!(
        seen.len(),
        n,
        "{} of {n} label sets collided",
        n - seen.len()
    );
}

/// The bytes a label set is hashed as tell label sets apart by themselves, whatever the
/// hasher makes of where one write ends and the next begins: pairs split differently between
/// name and value, or between pairs, and empty pairs added, are written differently.
#[test]
fn label_sets_are_written_in_one_way_only() {
    /// A hasher that keeps the bytes written, with no trace of the writes' bounds.
    #[derive(Default)]
    struct Bytes(Vec<u8>);
    impl std::hash::Hasher for Bytes {
        fn write(&mut self, b: &[u8]) {
            self.0.extend_from_slice(b);
        }
        fn finish(&self) -> u64 {
            0
        }
    }
    let sets: &[&[(&str, &str)]] = &[
        &[],
        &[("", "")],
        &[("", ""), ("", "")],
        &[("ab", "c")],
        &[("a", "bc")],
        &[("abc", "")],
        &[("", "abc")],
        &[("a", "b"), ("c", "d")],
        &[("a", "bc"), ("", "d")],
        &[("ab", ""), ("cd", "")],
        &[("a", "b"), ("cd", "")],
        &[("a", "b\u{0}\u{0}\u{0}\u{0}")],
    ];
    let mut written = HashSet::new();
    for set in sets {
        for prefix in ["", "m", "m\u{fd}"] {
            let mut h = Bytes::default();
            super::translate::write_labels(&mut h, prefix, set.iter().copied());
            assert!(
                written.insert(h.0),
                "{prefix:?} {set:?} written as another set"
            );
        }
    }
}
