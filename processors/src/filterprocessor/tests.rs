use std::sync::Arc;

use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span};
use pipeline_api::{Batch, BuildContext, Signal};

use super::*;
use crate::testutil::{ctx, kv, metric as counter, s, yaml, Collect};

fn messages(y: &str) -> Vec<String> {
    match factory().parse_config(&yaml(y)) {
        Ok(c) => c.check_when_used().iter().map(|e| e.to_string()).collect(),
        Err(errs) => errs.iter().map(|e| e.to_string()).collect(),
    }
}

struct Tel {
    telemetry: pipeline_api::telemetry::ComponentTelemetry,
}

fn processor(y: &str, signal: Signal) -> (Arc<dyn pipeline_api::Processor>, Arc<Collect>, Tel) {
    let cfg = factory().parse_config(&yaml(y)).expect("valid config");
    let next = Collect::new();
    let c: BuildContext = ctx("filter/test", signal);
    let t = Tel {
        telemetry: c.telemetry.clone(),
    };
    let p = factory()
        .build(c, &*cfg, signal, next.clone())
        .expect("build");
    (p, next, t)
}

fn res(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", s(service))],
        ..Default::default()
    })
}

fn spans() -> Batch {
    let sp = |name: &str, path: &str| Span {
        name: name.into(),
        attributes: vec![kv("http.path", s(path))],
        events: vec![
            span::Event {
                name: "exception".into(),
                ..Default::default()
            },
            span::Event {
                name: "log".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    Batch::from_traces(ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: res("api"),
                scope_spans: vec![ScopeSpans {
                    spans: vec![sp("GET /health", "/health"), sp("GET /users", "/users")],
                    ..Default::default()
                }],
                ..Default::default()
            },
            ResourceSpans {
                resource: res("probe"),
                scope_spans: vec![ScopeSpans {
                    spans: vec![sp("GET /health", "/health")],
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
    })
}

fn span_names(next: &Collect) -> Vec<Vec<String>> {
    next.take()
        .iter()
        .flat_map(|b| b.as_traces().cloned().unwrap_or_default().resource_spans)
        .map(|rs| {
            rs.scope_spans
                .iter()
                .flat_map(|ss| ss.spans.iter().map(|s| s.name.clone()))
                .collect()
        })
        .collect()
}

fn logs() -> Batch {
    let rec = |sev: i32, text: &str, body: &str| LogRecord {
        severity_number: sev,
        severity_text: text.into(),
        body: Some(s(body)),
        attributes: vec![kv("level", s(text))],
        ..Default::default()
    };
    Batch::from_logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: res("api"),
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    rec(5, "DEBUG", "debug detail"),
                    rec(9, "INFO", "started"),
                    rec(17, "ERROR", "failed"),
                    rec(0, "", "unknown"),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn log_bodies(next: &Collect) -> Vec<String> {
    next.take()
        .iter()
        .flat_map(|b| b.as_logs().cloned().unwrap_or_default().resource_logs)
        .flat_map(|rl| rl.scope_logs)
        .flat_map(|sl| sl.log_records)
        .map(|l| match l.body.and_then(|b| b.value) {
            Some(pipeline_api::proto::tonic::common::v1::any_value::Value::StringValue(s)) => s,
            _ => String::new(),
        })
        .collect()
}

fn metrics() -> Batch {
    let pts = |vals: &[(&str, i64)]| -> Vec<NumberDataPoint> {
        vals.iter()
            .map(|(m, v)| NumberDataPoint {
                attributes: vec![kv("method", s(m))],
                value: Some(number_data_point::Value::AsInt(*v)),
                ..Default::default()
            })
            .collect()
    };
    Batch::from_metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: res("api"),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "http.requests".into(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: pts(&[("GET", 1), ("OPTIONS", 2)]),
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "debug.gauge".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: pts(&[("OPTIONS", 3)]),
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "process.cpu".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: pts(&[("GET", 4)]),
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn metric_points(next: &Collect) -> Vec<(String, usize)> {
    next.take()
        .iter()
        .flat_map(|b| b.as_metrics().cloned().unwrap_or_default().resource_metrics)
        .flat_map(|rm| rm.scope_metrics)
        .flat_map(|sm| sm.metrics)
        .map(|m| (m.name.clone(), ottl::exec::point_count(&m)))
        .collect()
}

/// Drop health checks: the OTTL example of Go's filterprocessor README
/// (open-telemetry/opentelemetry-collector-contrib, processor/filterprocessor/README.md).
#[tokio::test]
async fn span_conditions_drop_spans_and_empty_resources() {
    let y = r#"
error_mode: ignore
traces:
  span:
    - 'attributes["http.path"] == "/health"'
"#;
    let (p, next, c) = processor(y, Signal::Traces);
    p.consume(spans()).await.unwrap();
    assert_eq!(span_names(&next), vec![vec!["GET /users".to_string()]]);
    assert_eq!(
        counter(
            &c.telemetry,
            "otelcol_processor_filter_spans_filtered",
            &[("filter", "filter/test")]
        ),
        2.0
    );
}

#[tokio::test]
async fn a_batch_left_empty_goes_no_further() {
    let (p, next, _) = processor(
        "traces: {span: ['IsMatch(name, \"^GET\")']}",
        Signal::Traces,
    );
    p.consume(spans()).await.unwrap();
    assert_eq!(next.count(), 0);
}

#[tokio::test]
async fn resource_and_spanevent_conditions() {
    let (p, next, _) = processor(
        "traces: {resource: ['attributes[\"service.name\"] == \"probe\"']}",
        Signal::Traces,
    );
    p.consume(spans()).await.unwrap();
    assert_eq!(
        span_names(&next),
        vec![vec!["GET /health".to_string(), "GET /users".to_string()]]
    );

    let (p, next, _) = processor("traces: {spanevent: ['name == \"log\"']}", Signal::Traces);
    p.consume(spans()).await.unwrap();
    let out = next.take().remove(0);
    for rs in &out.as_traces().unwrap().resource_spans {
        for sp in &rs.scope_spans[0].spans {
            assert_eq!(
                sp.events
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>(),
                vec!["exception"]
            );
        }
    }
}

#[tokio::test]
async fn context_inferred_trace_conditions() {
    let (p, next, _) = processor(
        r#"
trace_conditions:
  - 'span.attributes["http.path"] == "/health" and resource.attributes["service.name"] == "api"'
"#,
        Signal::Traces,
    );
    p.consume(spans()).await.unwrap();
    assert_eq!(
        span_names(&next),
        vec![
            vec!["GET /users".to_string()],
            vec!["GET /health".to_string()]
        ]
    );
    let (p, next, _) = processor(
        r#"
trace_conditions:
  - context: resource
    conditions: ['attributes["service.name"] == "probe"']
"#,
        Signal::Traces,
    );
    p.consume(spans()).await.unwrap();
    assert_eq!(span_names(&next).len(), 1);
}

#[tokio::test]
async fn log_conditions_and_counter() {
    let (p, next, c) = processor("logs: {log_record: ['severity_number < SEVERITY_NUMBER_INFO and severity_number != SEVERITY_NUMBER_UNSPECIFIED', 'IsMatch(body, \"^fail\")']}", Signal::Logs);
    p.consume(logs()).await.unwrap();
    assert_eq!(log_bodies(&next), vec!["started", "unknown"]);
    assert_eq!(
        counter(
            &c.telemetry,
            "otelcol_processor_filter_logs_filtered",
            &[("filter", "filter/test")]
        ),
        2.0
    );
}

/// Legacy forms (Go's filterprocessor testdata/config_logs_severity_strict.yaml and
/// config_logs_min_severity.yaml shapes).
#[tokio::test]
async fn legacy_log_include_exclude() {
    let (p, next, _) = processor(
        "logs: {include: {match_type: strict, severity_texts: [INFO, ERROR]}}",
        Signal::Logs,
    );
    p.consume(logs()).await.unwrap();
    assert_eq!(log_bodies(&next), vec!["started", "failed"]);
    let (p, next, _) = processor(
        "logs: {exclude: {match_type: regexp, bodies: ['^deb', 'fail']}}",
        Signal::Logs,
    );
    p.consume(logs()).await.unwrap();
    assert_eq!(log_bodies(&next), vec!["started", "unknown"]);
    let (p, next, _) = processor(
        "logs: {include: {severity_number: {min: INFO, match_undefined: true}}}",
        Signal::Logs,
    );
    p.consume(logs()).await.unwrap();
    assert_eq!(log_bodies(&next), vec!["started", "failed", "unknown"]);
    let (p, next, _) = processor(
        "logs: {exclude: {match_type: strict, record_attributes: [{key: level, value: DEBUG}]}}",
        Signal::Logs,
    );
    p.consume(logs()).await.unwrap();
    assert_eq!(log_bodies(&next), vec!["started", "failed", "unknown"]);
}

#[tokio::test]
async fn legacy_span_include_exclude() {
    let (p, next, _) = processor(
        "spans: {exclude: {match_type: strict, services: [probe]}}",
        Signal::Traces,
    );
    p.consume(spans()).await.unwrap();
    assert_eq!(
        span_names(&next),
        vec![vec!["GET /health".to_string(), "GET /users".to_string()]]
    );
    let (p, next, _) = processor(
        "spans: {include: {match_type: regexp, span_names: ['users$']}}",
        Signal::Traces,
    );
    p.consume(spans()).await.unwrap();
    assert_eq!(span_names(&next), vec![vec!["GET /users".to_string()]]);
}

#[tokio::test]
async fn metric_and_datapoint_conditions() {
    let (p, next, c) = processor("metrics: {metric: ['IsMatch(name, \"^debug\\\\.\")'], datapoint: ['attributes[\"method\"] == \"OPTIONS\"']}", Signal::Metrics);
    p.consume(metrics()).await.unwrap();
    assert_eq!(
        metric_points(&next),
        vec![
            ("http.requests".to_string(), 1),
            ("process.cpu".to_string(), 1)
        ]
    );
    assert_eq!(
        counter(
            &c.telemetry,
            "otelcol_processor_filter_datapoints_filtered",
            &[("filter", "filter/test")]
        ),
        2.0
    );
    // a metric whose points are all dropped goes too
    let (p, next, _) = processor(
        "metric_conditions: ['datapoint.attributes[\"method\"] == \"OPTIONS\"']",
        Signal::Metrics,
    );
    p.consume(metrics()).await.unwrap();
    assert_eq!(
        metric_points(&next),
        vec![
            ("http.requests".to_string(), 1),
            ("process.cpu".to_string(), 1)
        ]
    );
    let (p, next, _) = processor(
        "metrics: {metric: ['type == METRIC_DATA_TYPE_SUM']}",
        Signal::Metrics,
    );
    p.consume(metrics()).await.unwrap();
    assert_eq!(metric_points(&next).len(), 2);
}

#[tokio::test]
async fn has_attr_on_datapoint_functions() {
    let (p, next, _) = processor(
        "metrics: {metric: ['HasAttrOnDatapoint(\"method\", \"OPTIONS\")']}",
        Signal::Metrics,
    );
    p.consume(metrics()).await.unwrap();
    assert_eq!(metric_points(&next), vec![("process.cpu".to_string(), 1)]);
    let (p, next, _) = processor(
        "metrics: {metric: ['not HasAttrKeyOnDatapoint(\"method\")']}",
        Signal::Metrics,
    );
    p.consume(metrics()).await.unwrap();
    assert_eq!(metric_points(&next).len(), 3);
    assert!(!messages("metrics: {datapoint: ['HasAttrKeyOnDatapoint(\"method\")']}").is_empty());
}

#[tokio::test]
async fn legacy_metric_include_exclude() {
    let (p, next, _) = processor(
        "metrics: {include: {match_type: regexp, metric_names: ['^http\\..*', 'cpu$']}}",
        Signal::Metrics,
    );
    p.consume(metrics()).await.unwrap();
    assert_eq!(
        metric_points(&next)
            .iter()
            .map(|m| m.0.as_str())
            .collect::<Vec<_>>(),
        vec!["http.requests", "process.cpu"]
    );
    let (p, next, _) = processor(
        "metrics: {exclude: {match_type: strict, metric_names: [debug.gauge]}}",
        Signal::Metrics,
    );
    p.consume(metrics()).await.unwrap();
    assert_eq!(metric_points(&next).len(), 2);
    assert!(messages(
        "metrics: {include: {match_type: expr, expressions: ['MetricName == \"x\"']}}"
    )
    .iter()
    .any(|m| m.contains("expr")));
}

#[tokio::test]
async fn error_mode_propagate_fails_the_batch_ignore_keeps_the_item() {
    let y = "traces: {span: ['Int(attributes[\"http.path\"]) + 1 > 0']}";
    let (p, next, _) = processor(y, Signal::Traces);
    assert!(p.consume(spans()).await.is_err());
    assert_eq!(next.count(), 0);
    let (p, next, _) = processor(&format!("error_mode: ignore\n{y}"), Signal::Traces);
    p.consume(spans()).await.unwrap();
    assert_eq!(span_names(&next).iter().map(Vec::len).sum::<usize>(), 3);
}

#[test]
fn config_errors() {
    let m = messages("traces: {span: ['name == ']}");
    assert!(
        m.iter()
            .any(|e| e.contains("traces::span::0") && e.contains("1:9")),
        "{m:?}"
    );
    let m = messages(
        "traces: {span: ['name == \"x\"']}\nspans: {include: {match_type: strict, services: [a]}}",
    );
    assert!(m.iter().any(|e| e.contains("at the same time")), "{m:?}");
    let m = messages("trace_conditions: ['span.name == \"x\"']\ntraces: {span: ['name == \"x\"']}");
    assert!(
        m.iter()
            .any(|e| e.contains("context inferred trace conditions")),
        "{m:?}"
    );
    let m = messages("log_conditions: ['log.body == \"x\"', {context: log, conditions: []}]");
    assert!(
        m.iter()
            .any(|e| e.contains("multiple configuration styles")),
        "{m:?}"
    );
    let m = messages("log_conditions: [{context: span, conditions: ['name == \"x\"']}]");
    assert!(m.iter().any(|e| e.contains("not valid for logs")), "{m:?}");
    let m = messages("logs: {log_record: ['nosuch(body)']}");
    assert!(!m.is_empty(), "{m:?}");
    // Every condition that does not load is reported, in every list, each at its place.
    let deep = format!("{}span.name{} == \"x\"", "(".repeat(150), ")".repeat(150));
    let m = messages(&format!(
        r#"
traces:
  span: ['name == ', 'nme == "x"', 'name == "ok"']
  spanevent: ['IsMatch(name, "(")']
log_conditions:
  - 'log.body == "ok"'
  - 'log.body =='
  - '{deep}'
  - 'log.body == "ok" and'
metric_conditions:
  - context: metric
    conditions: ['name == "ok"', 'nme == "x"']
"#
    ));
    for (path, what) in [
        ("traces::span::0", "1:9"),
        ("traces::span::1", "nme"),
        ("traces::spanevent::0", "IsMatch"),
        ("log_conditions::1", "1:12"),
        ("log_conditions::2", "nested more than 100 levels"),
        ("log_conditions::3", "1:21"),
        ("metric_conditions::0::conditions::1", "nme"),
    ] {
        assert!(
            m.iter()
                .any(|e| e.starts_with(&format!("{path}:")) && e.contains(what)),
            "{path} {what}: {m:?}"
        );
    }
    assert_eq!(m.len(), 7, "{m:?}");
    assert!(messages("{}").is_empty());
    assert!(
        messages("error_mode: ignore\nlogs: {log_record: ['IsMatch(body, \".*\")']}").is_empty()
    );
}

/// Filters a trace batch in its wire form must run exactly as over the decoded form, with
/// how many of their rules run there. The keys are those of `pipeline_api::testing::random`,
/// whose requests hold empty scope and resource entries too (a filter removes them).
const WIRE_CASES: &[(&str, usize)] = &[
    // the usual health-check drop, over a key of every value type
    ("traces: {span: ['attributes[\"b\"] != nil']}", 1),
    (
        r#"
error_mode: ignore
traces:
  span:
    - 'kind == SPAN_KIND_SERVER and attributes["a"] == nil'
    - 'name == "op3" or status.code == STATUS_CODE_ERROR'
    - 'IsMatch(attributes["c"], "^v1")'
"#,
        1,
    ),
    // resource then span, resource last (pruned there), the scope read from a span
    (
        r#"
error_mode: ignore
traces:
  resource:
    - 'attributes["service.name"] != nil'
  span:
    - 'instrumentation_scope.name == "scope1" and resource.attributes["dup"] != nil'
"#,
        2,
    ),
    ("traces: {resource: ['attributes[\"a\"] == nil']}", 1),
    // a plain list: one rule, its context inferred (span)
    (
        r#"
trace_conditions:
  - 'span.name == "op1"'
  - 'resource.attributes["b"] != nil'
"#,
        1,
    ),
    // a failing condition under propagate: the same error from both forms
    (
        "traces: {span: ['name == \"op0\"', 'Int(attributes[\"c\"]) + 1 > 3']}",
        1,
    ),
    // a span event rule after a span rule: the span rule in the wire form, the event rule
    // over the decoded form
    (
        r#"
error_mode: ignore
traces:
  span: ['name == "op2"']
  spanevent: ['attributes["a"] != nil']
"#,
        1,
    ),
    // the legacy match properties (over the wire form: the attributes they read are lent
    // to each span)
    (
        "spans: {exclude: {match_type: strict, span_names: [op1]}}",
        0,
    ),
    (
        "spans: {exclude: {match_type: regexp, span_names: ['op[12]'], attributes: [{key: a, value: 'v1.*'}]}}",
        0,
    ),
    (
        r#"
spans:
  include:
    match_type: strict
    attributes: [{key: b}]
  exclude:
    match_type: regexp
    services: ['v1.*']
    span_kinds: ['SPAN_KIND_(SERVER|CLIENT)']
"#,
        0,
    ),
];

/// Log filters, as [`WIRE_CASES`].
const LOG_WIRE_CASES: &[(&str, usize)] = &[
    // the usual noise drop: by severity, by body, by attribute
    (
        r#"
error_mode: ignore
logs:
  log_record:
    - 'severity_number < SEVERITY_NUMBER_INFO and severity_number != SEVERITY_NUMBER_UNSPECIFIED'
    - 'IsMatch(body, "^v1")'
    - 'attributes["b"] != nil and event_name == "login"'
"#,
        1,
    ),
    // resource then log, resource last (pruned there)
    (
        r#"
error_mode: ignore
logs:
  resource:
    - 'attributes["service.name"] != nil'
  log_record:
    - 'instrumentation_scope.name == "scope1" and resource.attributes["dup"] != nil'
"#,
        2,
    ),
    ("logs: {resource: ['attributes[\"a\"] == nil']}", 1),
    // a plain list: one rule, its context inferred (log)
    (
        r#"
log_conditions:
  - 'log.severity_text == "INFO"'
  - 'resource.attributes["b"] != nil'
"#,
        1,
    ),
    // a failing condition under propagate: the same error from both forms
    (
        "logs: {log_record: ['flags == 1', 'Int(attributes[\"c\"]) + 1 > 3']}",
        1,
    ),
    // the legacy match properties (over the wire form, as for spans)
    (
        "logs: {exclude: {match_type: strict, severity_texts: [INFO]}}",
        0,
    ),
    (
        "logs: {exclude: {match_type: regexp, bodies: ['^v1'], record_attributes: [{key: c}]}}",
        0,
    ),
    (
        "logs: {exclude: {match_type: regexp, record_attributes: [{key: a, value: 'v[0-9]$'}], severity_number: {min: INFO, match_undefined: true}}}",
        0,
    ),
];

/// Metric filters, as [`WIRE_CASES`].
const METRIC_WIRE_CASES: &[(&str, usize)] = &[
    // by name, by type and unit, by metadata
    (
        r#"
error_mode: ignore
metrics:
  metric:
    - 'name == "m1"'
    - 'type == METRIC_DATA_TYPE_SUM and IsMatch(unit, "^m")'
    - 'metadata["b"] != nil and description == "d"'
    - 'aggregation_temporality == AGGREGATION_TEMPORALITY_DELTA and is_monotonic == false'
    - 'type == METRIC_DATA_TYPE_GAUGE and unit == "ms"'
"#,
        1,
    ),
    // resource then metric, resource last (pruned there)
    (
        r#"
error_mode: ignore
metrics:
  resource:
    - 'attributes["service.name"] != nil'
  metric:
    - 'instrumentation_scope.name == "scope1" and resource.attributes["dup"] != nil'
"#,
        2,
    ),
    (
        r#"
error_mode: ignore
metrics:
  metric:
    - 'name == "m0"'
  resource:
    - 'attributes["a"] == nil'
"#,
        2,
    ),
    // a rule that reads data points, and one after it: the decoded form from it
    (
        r#"
error_mode: ignore
metrics:
  metric:
    - 'name == "m2"'
    - 'HasAttrOnDatapoint("a", "x") or HasAttrKeyOnDatapoint("b")'
  datapoint:
    - 'attributes["c"] != nil'
"#,
        0,
    ),
    // a failing condition under propagate: the same error from both forms
    (
        "metrics: {metric: ['name == \"m3\"', 'Int(metadata[\"c\"]) + 1 > 3']}",
        1,
    ),
    // the legacy match properties (over the wire form for metrics; Go refuses them beside
    // rules)
    (
        "metrics: {exclude: {match_type: strict, metric_names: [m1, m2]}}",
        0,
    ),
    (
        r#"
metrics:
  include:
    match_type: regexp
    metric_names: ['m[0-2]']
  exclude:
    match_type: strict
    metric_names: [m0, m1]
    resource_attributes: [{key: dup}]
"#,
        0,
    ),
    // data point rules: by attributes, the metric's name, type and metadata, the point's
    // fields; every point of a metric (which then goes) by its name
    (
        r#"
error_mode: ignore
metrics:
  datapoint:
    - 'attributes["a"] != nil and metric.name == "m1"'
    - 'metric.type == METRIC_DATA_TYPE_SUMMARY and count > 3'
    - 'IsMatch(attributes["b"], "^v")'
    - 'flags == 1 and metric.type == METRIC_DATA_TYPE_GAUGE'
    - 'resource.attributes["dup"] != nil and value_int > 500'
    - 'metric.name == "m2" or metric.metadata["c"] != nil'
    - 'metric.aggregation_temporality == AGGREGATION_TEMPORALITY_DELTA and attributes["dup"] != nil'
"#,
        1,
    ),
    // a metric rule, then data point rules, the resource last (pruned there)
    (
        r#"
error_mode: ignore
metrics:
  metric:
    - 'name == "m0"'
  datapoint:
    - 'attributes["c"] != nil or time_unix_nano < start_time_unix_nano'
    - 'instrumentation_scope.name == "scope1" and Len(attributes) > 2'
  resource:
    - 'attributes["a"] == nil'
"#,
        3,
    ),
];

/// Run each case over random requests of `signal` through the wire form and the decoded
/// form (`testutil::wire_form_agrees`), with the rules that run over the wire form.
fn wire_form_agrees(signal: Signal, cases: &[(&str, usize)], seed: u64, failing: usize) {
    let mut rng = pipeline_api::testing::random::Rng(seed);
    for (case, (y, on_wire)) in cases.iter().enumerate() {
        let cfg: Config = serde_yaml_ng::from_str(y).expect("test yaml");
        let c = ctx("filter/test", signal);
        let p = FilterProcessor::new(&c, &cfg, signal, Collect::new()).expect("build");
        let what = format!("{signal} case {case}");
        let rules = p.plan.rules.len();
        let legacy = p.skip().is_some();
        let stays_wire = *on_wire == rules && (rules > 0 || legacy);
        let request = |_| pipeline_api::testing::random::request(signal, &mut rng);
        let failing = case == failing;
        crate::testutil::wire_form_agrees(
            signal,
            request,
            &what,
            stays_wire,
            failing,
            |b, wire| {
                if wire {
                    let ran = p.filter_wire(&mut b.clone()).map(|(skipped, ran, _)| {
                        assert_eq!(skipped, legacy, "{what}: match properties");
                        ran
                    });
                    if ran.is_ok() {
                        assert_eq!(ran, Ok(*on_wire), "{what}: rules run over the wire form");
                    }
                }
                p.process_batch(b)
            },
        );
    }
}

#[test]
fn filters_over_the_wire_form_give_the_bytes_of_the_decoded_form() {
    wire_form_agrees(Signal::Traces, WIRE_CASES, 0xf117, 5);
}

#[test]
fn log_filters_over_the_wire_form_give_the_bytes_of_the_decoded_form() {
    wire_form_agrees(Signal::Logs, LOG_WIRE_CASES, 0x10f1, 4);
}

#[test]
fn metric_filters_over_the_wire_form_give_the_bytes_of_the_decoded_form() {
    wire_form_agrees(Signal::Metrics, METRIC_WIRE_CASES, 0x3e71, 4);
}
