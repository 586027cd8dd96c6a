use std::sync::Arc;

use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use pipeline_api::{Batch, Signal};

use super::*;
use crate::testutil::{attr, ctx, kv, s, yaml, Collect};

fn messages(y: &str) -> Vec<String> {
    match factory().parse_config(&yaml(y)) {
        Ok(c) => c.check_when_used().iter().map(|e| e.to_string()).collect(),
        Err(errs) => errs.iter().map(|e| e.to_string()).collect(),
    }
}

fn processor(y: &str, signal: Signal) -> (Arc<dyn pipeline_api::Processor>, Arc<Collect>) {
    let cfg = factory().parse_config(&yaml(y)).expect("valid config");
    let next = Collect::new();
    let p = factory()
        .build(ctx("transform", signal), &*cfg, signal, next.clone())
        .expect("build");
    (p, next)
}

fn spans() -> Batch {
    Batch::from_traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s("svc")),
                    kv("process.command_line", s("run --password=hunter2 -v")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![
                    Span {
                        name: "GET".into(),
                        attributes: vec![
                            kv("http.path", s("/health")),
                            kv("http.route", s("/health")),
                            kv("http.target", s("/user/12/list/7")),
                        ],
                        ..Default::default()
                    },
                    Span {
                        name: "other".into(),
                        attributes: vec![kv("http.route", s("/x"))],
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn logs(bodies: &[&str]) -> Batch {
    Batch::from_logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", s("svc"))],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: bodies
                    .iter()
                    .map(|b| LogRecord {
                        body: Some(s(b)),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn only_traces(next: &Collect) -> ExportTraceServiceRequest {
    let mut b = next.take();
    assert_eq!(b.len(), 1);
    b.remove(0).as_traces().cloned().expect("traces")
}

fn only_logs(next: &Collect) -> ExportLogsServiceRequest {
    let mut b = next.take();
    assert_eq!(b.len(), 1);
    b.remove(0).as_logs().cloned().expect("logs")
}

/// The example of Go's transformprocessor README (open-telemetry/opentelemetry-collector-contrib,
/// processor/transformprocessor/README.md), the advanced form with `context`.
const README_EXAMPLE: &str = r#"
error_mode: ignore
trace_statements:
  - context: resource
    statements:
      - keep_keys(attributes, ["service.name", "service.namespace", "cloud.region", "process.command_line"])
      - replace_pattern(attributes["process.command_line"], "password\\=[^\\s]*(\\s?)", "password=***")
      - limit(attributes, 100, [])
      - truncate_all(attributes, 4096)
  - context: span
    statements:
      - set(status.code, 1) where attributes["http.path"] == "/health"
      - set(name, attributes["http.route"])
      - replace_match(attributes["http.target"], "/user/*/list/*", "/user/{userId}/list/{listId}")
      - limit(attributes, 100, [])
      - truncate_all(attributes, 4096)
"#;

#[tokio::test]
async fn the_readme_example_runs_on_spans() {
    assert!(
        messages(README_EXAMPLE).is_empty(),
        "{:?}",
        messages(README_EXAMPLE)
    );
    let (p, next) = processor(README_EXAMPLE, Signal::Traces);
    p.consume(spans()).await.unwrap();
    let out = only_traces(&next);
    let rs = &out.resource_spans[0];
    let res = &rs.resource.as_ref().unwrap().attributes;
    assert_eq!(
        attr(res, "process.command_line"),
        Some(&s("run --password=***-v"))
    );
    let sp = &rs.scope_spans[0].spans;
    assert_eq!(sp[0].name, "/health");
    assert_eq!(sp[0].status.as_ref().map(|s| s.code), Some(1));
    assert_eq!(
        attr(&sp[0].attributes, "http.target"),
        Some(&s("/user/{userId}/list/{listId}"))
    );
    assert_eq!(sp[1].name, "/x");
    assert_eq!(sp[1].status, None);
}

#[tokio::test]
async fn the_flat_form_infers_each_list_s_context() {
    let y = r#"
log_statements:
  - set(log.attributes["svc"], resource.attributes["service.name"])
  - set(log.body, Concat(["[", log.body, "]"], "")) where IsMatch(log.body, "^e")
"#;
    let (p, next) = processor(y, Signal::Logs);
    p.consume(logs(&["error x", "info y"])).await.unwrap();
    let out = only_logs(&next);
    let recs = &out.resource_logs[0].scope_logs[0].log_records;
    assert_eq!(recs[0].body, Some(s("[error x]")));
    assert_eq!(recs[1].body, Some(s("info y")));
    assert_eq!(attr(&recs[1].attributes, "svc"), Some(&s("svc")));
}

#[test]
fn mixing_the_flat_and_the_group_forms_is_refused() {
    let m = messages(
        r#"
log_statements:
  - set(log.body, "x")
  - context: log
    statements: ['set(body, "y")']
"#,
    );
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(
        m[0].contains("log_statements") && m[0].contains(ERR_MIXED_STYLES),
        "{m:?}"
    );
    // a group then plain statements is accepted: they form a last group
    let y = r#"
log_statements:
  - context: log
    statements: ['set(body, "first")']
  - set(log.body, Concat([log.body, "second"], "+"))
"#;
    assert!(messages(y).is_empty(), "{:?}", messages(y));
}

#[tokio::test]
async fn plain_statements_after_groups_run_last() {
    let y = r#"
log_statements:
  - context: log
    statements: ['set(body, "first")']
  - set(log.body, Concat([log.body, "second"], "+"))
"#;
    let (p, next) = processor(y, Signal::Logs);
    p.consume(logs(&["x"])).await.unwrap();
    let out = only_logs(&next);
    assert_eq!(
        out.resource_logs[0].scope_logs[0].log_records[0].body,
        Some(s("first+second"))
    );
}

#[test]
fn load_errors_name_the_key_and_the_statement() {
    let m = messages(
        r#"
trace_statements:
  - context: span
    statements:
      - set(name, "ok")
      - set(name, "bear" where attributes["http.path"] == "/animal"
"#,
    );
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].contains("trace_statements::0::statements::1"), "{m:?}");
    assert!(m[0].contains("set(name, \\\"bear\\\" where"), "{m:?}");
    // Every statement that does not load is reported, each at its place in the list, plain
    // statements after groups included.
    let m = messages(
        r#"
trace_statements:
  - context: span
    statements:
      - set(nme, "x")
      - set(name, "y")
      - set(attributes["a"], Nope())
  - set(span.name, "ok")
  - set(span.name, "bear" where
  - set(span.name, ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("x"))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))
log_statements:
  - set(log.body, "x")
  - set(log.bdy, "x")
  - set(log.attributes["a"], Nope())
"#,
    );
    let at = |path: &str, what: &str| {
        assert!(
            m.iter()
                .any(|e| e.starts_with(&format!("{path}:")) && e.contains(what)),
            "{path} {what}: {m:?}"
        )
    };
    at("trace_statements::0::statements::0", "nme");
    at("trace_statements::0::statements::2", "Nope");
    at("trace_statements::2", "set(span.name, \\\"bear\\\" where");
    at("trace_statements::3", "nested more than 100 levels");
    at("log_statements::1", "bdy");
    at("log_statements::2", "Nope");
    assert_eq!(m.len(), 6, "{m:?}");
    let m = messages("metric_statements: [\"not_a_function(metric.name)\"]");
    assert!(
        m.iter()
            .any(|e| e.contains("undefined function \"not_a_function\"")),
        "{m:?}"
    );
    let m = messages("log_statements: [{context: profile, statements: []}]");
    assert!(m.iter().any(|e| e.contains("profile")), "{m:?}");
    let m = messages("log_statements: [{context: span, statements: []}]");
    assert!(m.iter().any(|e| e.contains("not valid for logs")), "{m:?}");
    let m = messages("error_mode: loud");
    assert!(!m.is_empty());
    assert!(messages("{}").is_empty());
}

#[tokio::test]
async fn error_modes() {
    let statements = r#"
  - context: log
    statements:
      - set(attributes["j"], ParseJSON(body))
      - set(attributes["done"], true)
"#;
    // propagate: the batch fails and goes no further
    let (p, next) = processor(&format!("log_statements:{statements}"), Signal::Logs);
    let e = p.consume(logs(&["not json"])).await.unwrap_err();
    assert!(e.to_string().contains("ParseJSON"), "{e}");
    assert_eq!(next.count(), 0);
    // ignore / silent: the failing statement is skipped, the next one runs
    for mode in ["ignore", "silent"] {
        let (p, next) = processor(
            &format!("error_mode: {mode}\nlog_statements:{statements}"),
            Signal::Logs,
        );
        p.consume(logs(&["not json", "{\"a\": 1}"])).await.unwrap();
        let out = only_logs(&next);
        let recs = &out.resource_logs[0].scope_logs[0].log_records;
        assert!(attr(&recs[0].attributes, "done").is_some(), "{mode}");
        assert!(attr(&recs[0].attributes, "j").is_none(), "{mode}");
        assert!(attr(&recs[1].attributes, "j").is_some(), "{mode}");
    }
    // a group's own error_mode wins over the processor's
    let (p, _next) = processor(
        "error_mode: ignore\nlog_statements:\n  - context: log\n    error_mode: propagate\n    statements: ['set(attributes[\"j\"], ParseJSON(body))']",
        Signal::Logs,
    );
    assert!(p.consume(logs(&["not json"])).await.is_err());
}

#[tokio::test]
async fn group_conditions_select_the_items() {
    let y = r#"
trace_statements:
  - context: span
    conditions:
      - name == "other"
      - attributes["http.path"] == "/nothing"
    statements:
      - set(attributes["picked"], true)
"#;
    let (p, next) = processor(y, Signal::Traces);
    p.consume(spans()).await.unwrap();
    let out = only_traces(&next);
    let sp = &out.resource_spans[0].scope_spans[0].spans;
    assert!(attr(&sp[0].attributes, "picked").is_none());
    assert!(attr(&sp[1].attributes, "picked").is_some());
}

#[tokio::test]
async fn groups_run_in_order_over_the_whole_batch() {
    let y = r#"
trace_statements:
  - set(span.attributes["n"], span.name)
  - context: resource
    statements: []
"#;
    assert!(!messages(y).is_empty());
    let y = r#"
trace_statements:
  - context: span
    statements: ['set(attributes["first"], resource.attributes["service.name"])']
  - context: resource
    statements: ['set(attributes["service.name"], "changed")']
  - context: span
    statements: ['set(attributes["second"], resource.attributes["service.name"])']
"#;
    let (p, next) = processor(y, Signal::Traces);
    p.consume(spans()).await.unwrap();
    let out = only_traces(&next);
    for sp in &out.resource_spans[0].scope_spans[0].spans {
        assert_eq!(attr(&sp.attributes, "first"), Some(&s("svc")));
        assert_eq!(attr(&sp.attributes, "second"), Some(&s("changed")));
    }
}

/// Statement lists the wire form of a trace batch must run exactly as the decoded form
/// does, with whether every group can stay in the wire form. The keys are those of
/// `pipeline_api::testing::random` (`a`, `b`, `c`, `dup`, `http.method`, `service.name`),
/// whose values are of every type, nested lists and maps included.
const WIRE_CASES: &[(&str, bool)] = &[
    // the bench's ten statements, over the random keys
    (
        r#"
error_mode: ignore
trace_statements:
  - set(resource.attributes["deployment.environment"], "production") where resource.attributes["deployment.environment"] == nil
  - set(span.attributes["copy"], span.attributes["a"]) where span.attributes["a"] != nil
  - set(span.name, Concat([span.attributes["http.method"], span.attributes["b"]], " ")) where span.kind == SPAN_KIND_SERVER
  - replace_pattern(span.attributes["b"], "[0-9a-f]+", "{n}")
  - replace_pattern(span.attributes["a"], "'[^']*'", "'?'")
  - set(span.attributes["c"], SHA256(span.attributes["c"]))
  - set(span.status.code, STATUS_CODE_ERROR) where span.attributes["dup"] != nil
  - delete_key(span.attributes, "service.name")
  - delete_matching_keys(span.attributes, "^d")
  - truncate_all(span.attributes, 2)
"#,
        true,
    ),
    // resource and scope groups, conditions, keep_keys, a nested set, the scope and the
    // resource written from spans
    (
        r#"
error_mode: ignore
trace_statements:
  - context: resource
    statements:
      - set(attributes["r"], "x")
      - delete_key(attributes, "a")
      - set(schema_url, "https://example.com/r") where attributes["b"] != nil
  - context: scope
    statements:
      - set(name, "scope-x") where name == ""
      - set(attributes["s"], 1)
      - set(schema_url, "") where version != ""
  - context: span
    conditions:
      - attributes["a"] != nil or attributes["b"] != nil
    statements:
      - keep_keys(attributes, ["a", "b", "dup", "c"])
      - set(attributes["a"]["nested"], "v")
      - set(scope.attributes["from.span"], name)
      - set(resource.attributes["spans"], name) where kind == SPAN_KIND_CLIENT
      - keep_matching_keys(attributes, "^[a-c]$")
"#,
        true,
    ),
    // comparisons read in the wire form, then editors that need the list itself, whole-map
    // reads and writes, span fields
    (
        r#"
error_mode: ignore
trace_statements:
  - context: span
    statements:
      - set(attributes["big"], attributes["a"]) where attributes["a"] > 0
      - set(attributes["named"], true) where attributes["c"] < "v15"
      - set(attributes["t"], 1) where attributes["dup"] == true
      - set(attributes["u"], 2) where attributes["b"] < 60.0
      - set(attributes["all"], attributes) where attributes["c"] != nil
      - limit(attributes, 3, ["b"]) where attributes["dup"] != nil
      - merge_maps(attributes, attributes["a"], "upsert") where IsMap(attributes["a"])
      - set(attributes, resource.attributes) where attributes["http.method"] == "GET"
      - set(kind, SPAN_KIND_CLIENT) where IsRootSpan()
      - set(status.message, "m") where status.code == STATUS_CODE_ERROR
      - set(attributes["dur"], end_time_unix_nano - start_time_unix_nano)
      - set(dropped_events_count, 3) where dropped_links_count > 0
      - set(trace_state, "k=v")
      - set(attributes["id"], span_id.string)
      - set(name, name) where kind == SPAN_KIND_SERVER
      - set(status.code, status.code)
      - set(kind, kind)
"#,
        true,
    ),
    // a failing statement under propagate: the same error from both forms
    (
        r#"
trace_statements:
  - context: span
    statements:
      - set(attributes["x"], "y")
      - set(attributes["a"]["k"], "v")
"#,
        true,
    ),
    // a span event group after a span group: the span group in the wire form, the event
    // group over the decoded form
    (
        r#"
error_mode: ignore
trace_statements:
  - context: span
    statements:
      - set(attributes["x"], name)
  - context: spanevent
    statements:
      - set(attributes["e"], span.attributes["x"])
"#,
        false,
    ),
];

/// Log statement lists the wire form of a logs batch must run exactly as the decoded form
/// does, as [`WIRE_CASES`].
const LOG_WIRE_CASES: &[(&str, bool)] = &[
    // what a log pipeline does: severity from an attribute, body reads and rewrites, keys
    // renamed and dropped, trace context, a resource default
    (
        r#"
error_mode: ignore
log_statements:
  - set(resource.attributes["deployment.environment"], "production") where resource.attributes["deployment.environment"] == nil
  - set(log.severity_text, "ERROR") where log.severity_number >= SEVERITY_NUMBER_ERROR
  - set(log.severity_number, SEVERITY_NUMBER_WARN) where log.attributes["a"] != nil and log.severity_number == 0
  - set(log.attributes["msg"], log.body) where IsString(log.body)
  - replace_pattern(log.body, "[0-9]+", "{n}")
  - 'set(log.body, Concat(["wrapped", log.attributes["c"]], ": ")) where IsMap(log.body)'
  - set(log.attributes["b"], SHA256(log.attributes["b"]))
  - delete_key(log.attributes, "service.name")
  - delete_matching_keys(log.attributes, "^d")
  - set(log.attributes["trace"], log.trace_id.string) where log.flags == 1
  - set(log.event_name, "seen") where log.event_name != ""
  - truncate_all(log.attributes, 2)
"#,
        true,
    ),
    // resource and scope groups, conditions, keep_keys, times, the scope written from logs
    (
        r#"
error_mode: ignore
log_statements:
  - context: resource
    statements:
      - set(attributes["r"], "x")
      - delete_key(attributes, "a")
  - context: scope
    statements:
      - set(name, "scope-x") where name == ""
  - context: log
    conditions:
      - attributes["a"] != nil or body != nil
    statements:
      - keep_keys(attributes, ["a", "b", "dup", "c"])
      - set(attributes["a"]["nested"], "v")
      - set(scope.attributes["from.log"], severity_text)
      - set(observed_time_unix_nano, time_unix_nano) where observed_time_unix_nano < time_unix_nano
      - set(attributes, resource.attributes) where attributes["http.method"] == "GET"
      - set(dropped_attributes_count, 7) where attributes["dup"] != nil
      - set(span_id.string, "0102030405060708") where severity_number > 12
      - set(severity_text, severity_text)
      - set(severity_number, severity_number) where flags == 1
"#,
        true,
    ),
    // a failing statement under propagate: the same error from both forms
    (
        r#"
log_statements:
  - context: log
    statements:
      - set(attributes["x"], "y")
      - set(attributes["a"]["k"], "v")
"#,
        true,
    ),
];

const METRIC_WIRE_CASES: &[(&str, bool)] = &[
    // resource, scope and metric groups that leave data points alone: names by type,
    // units, descriptions, metadata
    (
        r#"
error_mode: ignore
metric_statements:
  - context: resource
    statements:
      - set(attributes["deployment.environment"], "production") where attributes["deployment.environment"] == nil
      - delete_key(attributes, "a")
  - context: scope
    statements:
      - set(name, "scope-x") where name == ""
  - context: metric
    statements:
      - set(name, Concat(["app", name], ".")) where type == METRIC_DATA_TYPE_SUM
      - set(description, "a histogram") where type == METRIC_DATA_TYPE_HISTOGRAM or type == METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM
      - set(unit, "s") where unit == "ms"
      - set(metadata["kind"], type) where type != METRIC_DATA_TYPE_NONE
      - set(metadata["temporality"], aggregation_temporality) where is_monotonic == false
      - set(metadata["monotonic"], "yes") where is_monotonic == true
      - delete_key(metadata, "b")
      - set(metadata["service"], resource.attributes["service.name"])
      - set(scope.attributes["seen"], name) where name == "m2"
      - truncate_all(metadata, 2)
"#,
        true,
    ),
    // the flat form: one group, its context inferred (metric)
    (
        r#"
error_mode: ignore
metric_statements:
  - set(metric.name, "renamed") where metric.name == "m1" and metric.unit == ""
  - set(resource.attributes["x"], "y")
  - keep_keys(metric.metadata, ["a", "dup"])
"#,
        true,
    ),
    // a metric group that changes data points, after one that does not: decoded from it
    (
        r#"
error_mode: ignore
metric_statements:
  - context: metric
    statements:
      - set(name, "x") where name == "m0"
  - context: metric
    statements:
      - convert_sum_to_gauge() where name == "m1"
      - set(aggregation_temporality, AGGREGATION_TEMPORALITY_DELTA) where name == "m2"
  - context: datapoint
    statements:
      - set(attributes["p"], metric.name)
"#,
        false,
    ),
    // a failing statement under propagate: the same error from both forms
    (
        r#"
metric_statements:
  - context: metric
    statements:
      - set(metadata["x"], "y")
      - set(metadata["a"]["k"], "v")
"#,
        true,
    ),
    // data point groups that leave the metrics alone: attributes from the resource, the
    // metric and its metadata, keys dropped and kept, the points' fields of every kind
    (
        r#"
error_mode: ignore
metric_statements:
  - context: resource
    statements:
      - set(attributes["r"], "x")
  - context: datapoint
    conditions:
      - metric.type != METRIC_DATA_TYPE_NONE
    statements:
      - set(attributes["host"], resource.attributes["service.name"])
      - set(attributes["metric"], metric.name) where metric.unit == ""
      - delete_key(attributes, "a")
      - set(attributes["kind"], metric.type)
      - set(attributes["t"], metric.aggregation_temporality) where metric.is_monotonic == true
      - set(attributes["m"], metric.metadata["a"]) where metric.metadata["a"] != nil
      - set(flags, 1) where attributes["b"] != nil
      - set(time_unix_nano, start_time_unix_nano) where start_time_unix_nano > time_unix_nano
      - set(value_double, 2.5) where metric.name == "m1"
      - set(value_int, 7) where metric.type == METRIC_DATA_TYPE_GAUGE and value_int > 500
      - set(count, 9) where metric.type == METRIC_DATA_TYPE_HISTOGRAM
      - set(sum, 3.0) where metric.type == METRIC_DATA_TYPE_SUMMARY
      - set(scale, 2) where metric.type == METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM
      - set(scope.attributes["seen"], "y") where attributes["dup"] != nil
      - set(attributes, resource.attributes) where attributes["c"] != nil
      - keep_keys(attributes, ["b", "dup", "host", "metric", "kind", "t", "m", "service.name"])
"#,
        true,
    ),
    // the flat form, its context inferred (datapoint)
    (
        r#"
error_mode: ignore
metric_statements:
  - set(datapoint.attributes["x"], "y") where metric.name == "m2"
  - delete_matching_keys(datapoint.attributes, "^d")
  - replace_all_patterns(datapoint.attributes, "value", "v[0-9]", "n")
"#,
        true,
    ),
    // a data point group that changes only the points' fields
    (
        r#"
error_mode: ignore
metric_statements:
  - context: datapoint
    statements:
      - set(flags, 1) where attributes["b"] != nil
      - set(value_double, 2.5) where metric.name == "m1"
      - set(value_int, 3) where metric.name == "m2" and value_int < 500
      - set(start_time_unix_nano, 5) where metric.type == METRIC_DATA_TYPE_HISTOGRAM
      - set(zero_count, 3) where metric.type == METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM
      - set(positive.offset, 2) where zero_count == 3
      - set(count, 11) where metric.type == METRIC_DATA_TYPE_SUMMARY
"#,
        true,
    ),
    // a data point group that changes the metric: the decoded form
    (
        r#"
error_mode: ignore
metric_statements:
  - context: datapoint
    statements:
      - set(attributes["x"], "y")
      - set(metric.description, "seen") where attributes["a"] != nil
      - set(metric.metadata["p"], "seen") where attributes["b"] != nil
"#,
        false,
    ),
];

/// Run each case over random requests of `signal` through the wire form and the decoded
/// form (`testutil::wire_form_agrees`).
fn wire_form_agrees(signal: Signal, cases: &[(&str, bool)], seed: u64, failing: usize) {
    let mut rng = pipeline_api::testing::random::Rng(seed);
    for (case, (y, stays_wire)) in cases.iter().enumerate() {
        let cfg: Config = serde_yaml_ng::from_str(y).expect("test yaml");
        let p = TransformProcessor::new(&cfg, signal, Collect::new()).expect("build");
        let what = format!("{signal} case {case}");
        let request = |_| pipeline_api::testing::random::request(signal, &mut rng);
        let failing = case == failing;
        crate::testutil::wire_form_agrees(signal, request, &what, *stays_wire, failing, |b, _| {
            p.process_batch(b)
        });
    }
}

#[test]
fn statements_over_the_wire_form_give_the_bytes_of_the_decoded_form() {
    wire_form_agrees(Signal::Traces, WIRE_CASES, 0x7e57, 3);
}

#[test]
fn log_statements_over_the_wire_form_give_the_bytes_of_the_decoded_form() {
    wire_form_agrees(Signal::Logs, LOG_WIRE_CASES, 0x1065, 2);
}

#[test]
fn metric_statements_over_the_wire_form_give_the_bytes_of_the_decoded_form() {
    wire_form_agrees(Signal::Metrics, METRIC_WIRE_CASES, 0x3e7c, 3);
}

/// A statement that writes a span's or log record's field with the value it already holds
/// changes nothing: in the wire form the item keeps its bytes as they came (here, fields in
/// another order than prost writes them), while an item a write did change is written again.
#[test]
fn a_write_that_leaves_a_field_as_it_was_keeps_the_item_s_bytes() {
    use pipeline_api::proto::tonic::trace::v1::Status;
    use prost::Message;
    // field `number` of a message, length-delimited
    let ld = |number: u32, value: &[u8]| {
        let mut out = Vec::new();
        prost::encoding::bytes::encode(number, &value.to_vec(), &mut out);
        out
    };
    // an item written one field at a time, in the order given
    fn fields<M: Message>(parts: &[M]) -> Vec<u8> {
        parts.iter().flat_map(M::encode_to_vec).collect()
    }
    // the kind and the status before the name (prost writes the name first, the status last)
    let span = |name: &str, kind: i32| {
        fields(&[
            Span {
                status: Some(Status {
                    code: 2,
                    ..Default::default()
                }),
                ..Default::default()
            },
            Span {
                kind,
                ..Default::default()
            },
            Span {
                name: name.into(),
                ..Default::default()
            },
        ])
    };
    let spans = [span("GET /a", 2), span("db", 3)]
        .map(|b| ld(2, &b))
        .concat();
    let traces = ld(1, &ld(2, &spans));
    let record = |text: &str| {
        fields(&[
            LogRecord {
                severity_number: 9,
                ..Default::default()
            },
            LogRecord {
                severity_text: text.into(),
                ..Default::default()
            },
            LogRecord {
                time_unix_nano: 5,
                ..Default::default()
            },
        ])
    };
    let records = [record("INFO"), record("info")].map(|b| ld(2, &b)).concat();
    let logs = ld(1, &ld(2, &records));
    let cases = [
        (
            Signal::Traces,
            &traces,
            r#"
error_mode: ignore
trace_statements:
  - set(span.name, "GET /a") where span.kind == SPAN_KIND_SERVER
  - set(span.status.code, STATUS_CODE_ERROR) where span.name == "GET /a"
  - set(span.kind, SPAN_KIND_SERVER) where span.name == "GET /a"
  - set(span.name, "query") where span.name == "db"
"#,
        ),
        (
            Signal::Logs,
            &logs,
            r#"
error_mode: ignore
log_statements:
  - set(log.severity_text, "INFO") where log.severity_number == SEVERITY_NUMBER_INFO
  - set(log.time_unix_nano, 5)
"#,
        ),
    ];
    for (signal, bytes, y) in cases {
        let cfg: Config = serde_yaml_ng::from_str(y).expect("test yaml");
        let p = TransformProcessor::new(&cfg, signal, Collect::new()).expect("build");
        let mut wire = Batch::decode(signal, bytes, Default::default()).expect("scans");
        let mut decoded = Batch::decode(signal, bytes, Default::default()).expect("scans");
        decoded.data();
        p.process_batch(&mut wire).expect("runs");
        p.process_batch(&mut decoded).expect("runs");
        assert!(!wire.is_decoded(), "{signal}: the wire form was decoded");
        let (got, want) = (wire.encode(), decoded.encode());
        // the first item as it came, the second written again (prost's order)
        let (first, second) = match signal {
            Signal::Traces => {
                let r = ExportTraceServiceRequest::decode(&want[..]).expect("decodes");
                let spans = &r.resource_spans[0].scope_spans[0].spans;
                assert_eq!(spans[1].name, "query", "the second span changed");
                (span("GET /a", 2), spans[1].encode_to_vec())
            }
            _ => {
                let r = ExportLogsServiceRequest::decode(&want[..]).expect("decodes");
                let records = &r.resource_logs[0].scope_logs[0].log_records;
                assert_eq!(
                    records[1].severity_text, "INFO",
                    "the second record changed"
                );
                (record("INFO"), records[1].encode_to_vec())
            }
        };
        assert_eq!(
            got,
            ld(1, &ld(2, &[ld(2, &first), ld(2, &second)].concat())),
            "{signal}"
        );
    }
}
