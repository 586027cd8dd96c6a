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
