use std::sync::Arc;

use pipeline_api::config::{parse_typed, ConfigValue};
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::proto::tonic::metrics::v1::{
    metric, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use pipeline_api::{Batch, RequestContext, Signal};

use super::*;
use crate::testutil::{attr, ctx, i, kv, s, yaml, Collect};

/// The problems the loader reports for this config in a pipeline: its own checks, then
/// those made when it is used (`check_when_used`).
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
        .build(ctx("attributes", signal), &*cfg, signal, next.clone())
        .expect("build");
    (p, next)
}

fn build_error(y: &str, signal: Signal) -> String {
    let cfg = factory().parse_config(&yaml(y)).expect("valid config");
    match factory().build(ctx("attributes", signal), &*cfg, signal, Collect::new()) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

/// A span: (service, scope name, scope version, span name, kind, attributes).
struct SpanSpec<'a> {
    service: Option<&'a str>,
    scope: (&'a str, &'a str),
    name: &'a str,
    kind: i32,
    attrs: Vec<KeyValue>,
}

fn traces(specs: Vec<SpanSpec<'_>>) -> Batch {
    Batch::from_traces(ExportTraceServiceRequest {
        resource_spans: specs
            .into_iter()
            .map(|sp| ResourceSpans {
                resource: Some(Resource {
                    attributes: sp
                        .service
                        .map(|svc| {
                            vec![
                                kv("service.name", s(svc)),
                                kv("host.type", s("n1-standard-1")),
                            ]
                        })
                        .unwrap_or_default(),
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: sp.scope.0.into(),
                        version: sp.scope.1.into(),
                        ..Default::default()
                    }),
                    spans: vec![Span {
                        name: sp.name.into(),
                        kind: sp.kind,
                        attributes: sp.attrs,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    })
}

fn span_attrs(b: &Batch) -> Vec<Vec<KeyValue>> {
    b.as_traces()
        .unwrap()
        .resource_spans
        .iter()
        .flat_map(|r| r.scope_spans.iter())
        .flat_map(|s| s.spans.iter().map(|sp| sp.attributes.clone()))
        .collect()
}

fn spec<'a>(service: &'a str, name: &'a str, attrs: Vec<KeyValue>) -> SpanSpec<'a> {
    SpanSpec {
        service: Some(service),
        scope: ("lib", "1.0"),
        name,
        kind: 2,
        attrs,
    }
}

/// Which of the spans had `credit_card` deleted.
async fn processed(y: &str, specs: Vec<SpanSpec<'_>>) -> Vec<bool> {
    let (p, next) = processor(y, Signal::Traces);
    p.consume(traces(specs)).await.unwrap();
    let out = next.take();
    span_attrs(&out[0])
        .iter()
        .map(|a| attr(a, "credit_card").is_none())
        .collect()
}

// ---------- config ----------

#[test]
fn default_config_fails_as_in_go() {
    // Go createDefaultConfig is empty; Validate: `missing required field "actions"`.
    assert_eq!(
        messages("{}"),
        vec!["actions: missing required field \"actions\""]
    );
    assert_eq!(Config::default().actions.len(), 0);
    let cfg: Config = parse_typed(&yaml("actions: [{key: a, action: delete}]")).unwrap();
    assert_eq!(cfg.actions[0].key, "a");
}

#[test]
fn unknown_keys_are_rejected_with_their_path() {
    assert_eq!(
        messages("actions: [{key: a, action: delete, patern: x}]"),
        vec!["actions::0::patern: unknown key \"patern\"; did you mean \"pattern\"?"]
    );
    assert_eq!(
        messages(
            "actions: [{key: a, action: delete}]\ninclude: {match_type: strict, servces: [a]}"
        ),
        vec!["include::servces: unknown key \"servces\"; did you mean \"services\"?"]
    );
    assert_eq!(
        messages(
            "actions: [{key: a, action: delete}]\ninclude: {match_type: exact, services: [a]}"
        )[0],
        "include::match_type: invalid value \"exact\"; expected one of strict, regexp"
    );
}

#[test]
fn invalid_regexes_are_config_errors_with_their_path() {
    let m = messages(
        "actions:\n  - {key: a, action: delete}\n  - {key: b, action: delete}\n  - {pattern: '(', action: delete}\n\
         exclude: {match_type: regexp, span_names: [ok, '*bad'], attributes: [{key: k, value: '[z'}]}\n",
    );
    assert_eq!(m.len(), 2, "{m:?}");
    assert!(
        m[0].starts_with("exclude::span_names::1: invalid regexp \"*bad\""),
        "{m:?}"
    );
    assert!(
        m[1].starts_with("exclude::attributes::0: invalid regexp \"[z\""),
        "{m:?}"
    );
    // the actions are checked when the processor is used (Go: when it is built)
    let m =
        messages("actions:\n  - {key: a, action: delete}\n  - {pattern: '(', action: delete}\n");
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].starts_with("actions::1::pattern: "), "{m:?}");
}

#[test]
fn signal_specific_properties_are_build_errors() {
    let y = "actions: [{key: a, action: delete}]\ninclude: {match_type: strict, log_bodies: [x]}";
    assert_eq!(
        build_error(y, Signal::Traces),
        "include: log_bodies should not be specified for trace spans"
    );
    assert_eq!(build_error(y, Signal::Logs), "");
    let y = "actions: [{key: a, action: delete}]\nexclude: {match_type: strict, services: [x]}";
    assert_eq!(
        build_error(y, Signal::Logs),
        "exclude: services, span_names, and span_kinds are not valid for log records"
    );
    let y = "actions: [{key: a, action: delete}]\ninclude: {match_type: strict}";
    assert!(build_error(y, Signal::Traces).contains("at least one of"));
    let y = "actions: [{key: a, action: delete}]\ninclude: {services: [x]}";
    assert_eq!(
        build_error(y, Signal::Traces),
        "include: unrecognized match_type: '', valid types are: [regexp strict]"
    );
}

// ---------- actions on every signal ----------

const EVERY_ACTION: &str = "actions:\n\
  - {key: ins, value: 1, action: insert}\n\
  - {key: upd, value: updated, action: update}\n\
  - {key: ups, from_attribute: src, action: upsert}\n\
  - {key: gone, action: delete}\n\
  - {key: email, action: hash}\n\
  - {key: url, pattern: '^(?P<scheme>\\w+):', action: extract}\n\
  - {key: code, action: convert, converted_type: int}\n";

fn every_action_input() -> Vec<KeyValue> {
    vec![
        kv("upd", s("old")),
        kv("src", s("from-src")),
        kv("gone", s("x")),
        kv("email", s("foo")),
        kv("url", s("https://x")),
        kv("code", s("404")),
    ]
}

fn check_every_action(a: &[KeyValue]) {
    assert_eq!(attr(a, "ins"), Some(&i(1)));
    assert_eq!(attr(a, "upd"), Some(&s("updated")));
    assert_eq!(attr(a, "ups"), Some(&s("from-src")));
    assert_eq!(attr(a, "gone"), None);
    assert_eq!(
        attr(a, "email"),
        Some(&s(
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        ))
    );
    assert_eq!(attr(a, "scheme"), Some(&s("https")));
    assert_eq!(attr(a, "code"), Some(&i(404)));
}

#[tokio::test]
async fn every_action_on_spans() {
    let (p, next) = processor(EVERY_ACTION, Signal::Traces);
    p.consume(traces(vec![spec("svc", "op", every_action_input())]))
        .await
        .unwrap();
    check_every_action(&span_attrs(&next.take()[0])[0]);
}

fn logs(records: Vec<LogRecord>, resource: Vec<KeyValue>) -> Batch {
    Batch::from_logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn log_attrs(b: &Batch) -> Vec<Vec<KeyValue>> {
    b.as_logs()
        .unwrap()
        .resource_logs
        .iter()
        .flat_map(|r| r.scope_logs.iter())
        .flat_map(|s| s.log_records.iter().map(|l| l.attributes.clone()))
        .collect()
}

#[tokio::test]
async fn every_action_on_log_records() {
    let (p, next) = processor(EVERY_ACTION, Signal::Logs);
    let rec = LogRecord {
        attributes: every_action_input(),
        ..Default::default()
    };
    p.consume(logs(vec![rec], vec![])).await.unwrap();
    check_every_action(&log_attrs(&next.take()[0])[0]);
}

fn metrics(name: &str) -> Batch {
    let a = every_action_input;
    let m = |data| Metric {
        name: name.into(),
        data: Some(data),
        ..Default::default()
    };
    Batch::from_metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("env", s("prod"))],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    m(metric::Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            attributes: a(),
                            ..Default::default()
                        }],
                    })),
                    m(metric::Data::Sum(Sum {
                        data_points: vec![NumberDataPoint {
                            attributes: a(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    })),
                    m(metric::Data::Histogram(Histogram {
                        data_points: vec![HistogramDataPoint {
                            attributes: a(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    })),
                    m(metric::Data::ExponentialHistogram(ExponentialHistogram {
                        data_points: vec![ExponentialHistogramDataPoint {
                            attributes: a(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    })),
                    m(metric::Data::Summary(Summary {
                        data_points: vec![SummaryDataPoint {
                            attributes: a(),
                            ..Default::default()
                        }],
                    })),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn point_attrs(b: &Batch) -> Vec<Vec<KeyValue>> {
    let mut out = Vec::new();
    for rm in &b.as_metrics().unwrap().resource_metrics {
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                let mut m = m.clone();
                pipeline_api::metric::for_each_point_attributes(&mut m, |a| out.push(a.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_action_on_data_points_of_every_metric_type() {
    let (p, next) = processor(EVERY_ACTION, Signal::Metrics);
    p.consume(metrics("m")).await.unwrap();
    let points = point_attrs(&next.take()[0]);
    assert_eq!(points.len(), 5);
    points.iter().for_each(|a| check_every_action(a));
}

#[tokio::test]
async fn metric_include_by_name_and_resource() {
    // Go filtermetric: metric_names and resources; other metrics are left alone.
    let y = "include: {match_type: regexp, metric_names: ['^http\\.'], resources: [{key: env, value: pr.d}]}\n\
             actions: [{key: gone, action: delete}]";
    let (p, next) = processor(y, Signal::Metrics);
    p.consume(metrics("http.duration")).await.unwrap();
    p.consume(metrics("db.duration")).await.unwrap();
    let out = next.take();
    assert!(point_attrs(&out[0])
        .iter()
        .all(|a| attr(a, "gone").is_none()));
    assert!(point_attrs(&out[1])
        .iter()
        .all(|a| attr(a, "gone").is_some()));
}

// ---------- the stack's use cases ----------

#[tokio::test]
async fn delete_python_log_correlation_fields_on_logs() {
    // config-examples: attributes/delete_unused.
    let y = "actions:\n\
      - {key: otelSpanID, action: delete}\n\
      - {key: otelTraceID, action: delete}\n\
      - {key: otelTraceSampled, action: delete}\n\
      - {key: otelServiceName, action: delete}\n";
    let (p, next) = processor(y, Signal::Logs);
    let rec = LogRecord {
        attributes: vec![
            kv("otelSpanID", s("1")),
            kv("otelTraceID", s("2")),
            kv("otelTraceSampled", s("true")),
            kv("otelServiceName", s("svc")),
            kv("message", s("hello")),
        ],
        ..Default::default()
    };
    p.consume(logs(vec![rec], vec![])).await.unwrap();
    let a = &log_attrs(&next.take()[0])[0];
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].key, "message");
}

#[tokio::test]
async fn set_loki_label_hints_and_hash_email() {
    let y = "actions:\n\
      - {key: loki.attribute.labels, value: 'level, service', action: insert}\n\
      - {key: user.email, action: hash}\n";
    let (p, next) = processor(y, Signal::Logs);
    let rec = LogRecord {
        attributes: vec![kv("user.email", s("jane@example.com"))],
        ..Default::default()
    };
    p.consume(logs(vec![rec], vec![])).await.unwrap();
    let a = &log_attrs(&next.take()[0])[0];
    assert_eq!(attr(a, "loki.attribute.labels"), Some(&s("level, service")));
    assert_eq!(
        attr(a, "user.email"),
        Some(&s(&crate::attraction::sha256_hex(b"jane@example.com")))
    );
}

#[tokio::test]
async fn from_context_uses_the_batch_request_context() {
    let y = "actions:\n\
      - {key: origin, from_context: metadata.x-origin, action: insert}\n\
      - {key: client.ip, from_context: client.address, action: insert}\n";
    let (p, next) = processor(y, Signal::Traces);
    let mut b = traces(vec![spec("svc", "op", vec![])]);
    b.set_context(RequestContext {
        metadata: vec![("X-Origin".into(), "web".into())],
        client_address: Some("[::1]:9999".parse().unwrap()),
        receiver: None,
    });
    p.consume(b).await.unwrap();
    let a = &span_attrs(&next.take()[0])[0];
    assert_eq!(attr(a, "origin"), Some(&s("web")));
    assert_eq!(attr(a, "client.ip"), Some(&s("::1")));
}

// ---------- include / exclude matrix ----------

#[tokio::test]
async fn exclude_multi_from_go_testdata() {
    // Go testdata attributes/excludemulti: services svcA|svcB AND env=dev AND test_request
    // present exclude a span.
    let y = "exclude:\n  match_type: strict\n  services: [svcA, svcB]\n  attributes: [{key: env, value: dev}, {key: test_request}]\n\
             actions: [{key: credit_card, action: delete}]";
    let cc = || kv("credit_card", s("1234"));
    let got = processed(
        y,
        vec![
            spec(
                "svcB",
                "s1",
                vec![kv("env", s("dev")), kv("test_request", i(123)), cc()],
            ),
            spec(
                "svcA",
                "s2",
                vec![kv("env", s("dev")), kv("test_request", s("false")), cc()],
            ),
            spec(
                "svcB",
                "s3",
                vec![kv("env", i(1)), kv("test_request", s("dev")), cc()],
            ),
            spec(
                "svcC",
                "s4",
                vec![kv("env", s("dev")), kv("test_request", s("false")), cc()],
            ),
        ],
    )
    .await;
    assert_eq!(got, vec![false, false, true, true]);
}

#[tokio::test]
async fn include_regexp_services_then_exclude_span_names() {
    // Go testdata attributes/regexp: service auth.* and span name not login.*
    let y = "include: {match_type: regexp, services: ['auth.*']}\n\
             exclude: {match_type: regexp, span_names: ['login.*']}\n\
             actions: [{key: credit_card, action: delete}]";
    let cc = || vec![kv("credit_card", s("1"))];
    let got = processed(
        y,
        vec![
            spec("authsvc", "update", cc()),
            spec("authsvc", "login-form", cc()),
            spec("billing", "update", cc()),
        ],
    )
    .await;
    assert_eq!(got, vec![true, false, false]);
}

#[tokio::test]
async fn include_strict_boolean_value_must_match_type() {
    // Go testdata attributes/selectiveprocessing: exclude redact_trace == false (a bool);
    // the string "false" does not match.
    let y = "include: {match_type: strict, services: [svcA, svcB]}\n\
             exclude: {match_type: strict, attributes: [{key: redact_trace, value: false}]}\n\
             actions: [{key: credit_card, action: delete}]";
    let cc = |v| vec![kv("redact_trace", v), kv("credit_card", s("1"))];
    let got = processed(
        y,
        vec![
            spec("svcB", "a", cc(s("false"))),
            spec("svcA", "b", cc(crate::testutil::b(true))),
            spec("svcB", "c", cc(crate::testutil::b(false))),
            spec("svcC", "d", cc(crate::testutil::b(true))),
        ],
    )
    .await;
    assert_eq!(got, vec![true, true, false, false]);
}

#[tokio::test]
async fn libraries_resources_and_span_kinds() {
    let y = "include:\n  match_type: strict\n  libraries: [{name: lib, version: '1.0'}]\n  resources: [{key: host.type, value: n1-standard-1}]\n  span_kinds: [SPAN_KIND_SERVER]\n\
             actions: [{key: credit_card, action: delete}]";
    let cc = || vec![kv("credit_card", s("1"))];
    let mut other_lib = spec("svc", "a", cc());
    other_lib.scope = ("lib", "2.0");
    let mut client = spec("svc", "b", cc());
    client.kind = 3;
    let mut no_resource = spec("svc", "c", cc());
    no_resource.service = None;
    let got = processed(
        y,
        vec![spec("svc", "ok", cc()), other_lib, client, no_resource],
    )
    .await;
    assert_eq!(got, vec![true, false, false, false]);
}

#[tokio::test]
async fn missing_service_name_uses_go_placeholder() {
    let y = "include: {match_type: strict, services: ['<nil-service-name>']}\nactions: [{key: credit_card, action: delete}]";
    let mut no_service = spec("svc", "a", vec![kv("credit_card", s("1"))]);
    no_service.service = None;
    let got = processed(
        y,
        vec![
            no_service,
            spec("svc", "b", vec![kv("credit_card", s("1"))]),
        ],
    )
    .await;
    assert_eq!(got, vec![true, false]);
}

#[tokio::test]
async fn log_bodies_severity_text_and_number() {
    let y = "include:\n  match_type: regexp\n  log_bodies: ['^AUTH']\n  log_severity_texts: ['(?i)warn']\n  log_severity_number: {min: WARN, match_undefined: true}\n\
             actions: [{key: password, value: obfuscated, action: update}]";
    let (p, next) = processor(y, Signal::Logs);
    let rec = |body: &str, text: &str, num: i32| LogRecord {
        body: Some(s(body)),
        severity_text: text.into(),
        severity_number: num,
        attributes: vec![kv("password", s("secret"))],
        ..Default::default()
    };
    p.consume(logs(
        vec![
            rec("AUTH failed", "WARN", 13),
            rec("AUTH failed", "WARN", 9),
            rec("AUTH failed", "Warn", 0),
            rec("other", "WARN", 13),
            rec("AUTH failed", "INFO", 17),
        ],
        vec![],
    ))
    .await
    .unwrap();
    let got: Vec<bool> = log_attrs(&next.take()[0])
        .iter()
        .map(|a| attr(a, "password") == Some(&s("obfuscated")))
        .collect();
    assert_eq!(got, vec![true, false, true, false, false]);
}

#[tokio::test]
async fn shared_batches_are_copied_on_write() {
    let (p, next) = processor(
        "actions: [{key: a, value: 1, action: insert}]",
        Signal::Traces,
    );
    let original = traces(vec![spec("svc", "op", vec![])]);
    p.consume(original.clone()).await.unwrap();
    assert!(
        span_attrs(&original)[0].is_empty(),
        "the other branch's data is untouched"
    );
    assert_eq!(attr(&span_attrs(&next.take()[0])[0], "a"), Some(&i(1)));
}

#[test]
fn config_value_shape() {
    // `value` keeps any YAML type until compiled.
    let cfg: Config = parse_typed(&yaml(
        "actions: [{key: a, value: {x: [1]}, action: insert}]",
    ))
    .unwrap();
    assert!(matches!(
        cfg.actions[0].value,
        Some(ConfigValue::Mapping(_))
    ));
}

/// With `include`/`exclude`, spans, log records and data points in the wire form are
/// selected and edited as the decoded ones: random requests, configs that read names, kinds,
/// services, libraries, bodies, severities, attributes (present, by value, by pattern),
/// metric names and resources; the same bytes.
#[test]
fn selected_items_are_edited_in_the_wire_form_as_in_the_decoded_form() {
    let actions = "actions: [{key: a, value: inserted, action: insert}, {key: b, from_attribute: a, action: update}, {key: dup, action: delete}, {key: c, action: hash}]";
    let cases = [
        (Signal::Traces, "include: {match_type: strict, span_names: [op1, op2]}"),
        (
            Signal::Traces,
            "exclude: {match_type: regexp, services: ['v1.*'], attributes: [{key: a, value: 'v[0-9]$'}]}",
        ),
        (
            Signal::Traces,
            "include: {match_type: strict, attributes: [{key: b}], span_kinds: [SPAN_KIND_SERVER, SPAN_KIND_CLIENT]}",
        ),
        (
            Signal::Logs,
            "exclude: {match_type: regexp, log_bodies: ['^v1'], attributes: [{key: c}]}",
        ),
        (
            Signal::Logs,
            "include: {match_type: strict, libraries: [{name: scope1}, {name: scope2}], log_severity_number: {min: WARN, match_undefined: true}}",
        ),
        (
            Signal::Metrics,
            "include: {match_type: strict, metric_names: [m1, m2]}",
        ),
        (
            Signal::Metrics,
            "exclude: {match_type: regexp, metric_names: ['m[0-1]'], resources: [{key: dup}]}",
        ),
    ];
    let mut rng = pipeline_api::testing::random::Rng(0xa77);
    for (case, (signal, select)) in cases.into_iter().enumerate() {
        let cfg: Config = parse_typed(&yaml(&format!("{{{select}, {actions}}}"))).expect("config");
        let p = AttributesProcessor::new(&cfg, signal, Collect::new()).expect("build");
        let ctx = RequestContext::default();
        let what = format!("{signal} case {case}");
        let request = |_| pipeline_api::testing::random::request(signal, &mut rng);
        crate::testutil::wire_form_agrees(signal, request, &what, true, false, |b, wire| {
            if wire {
                p.process_wire(&ctx, b).expect("a wire batch");
            } else {
                b.data();
                assert!(p.process_wire(&ctx, b).is_none());
                b.edit(|d| p.process(&ctx, d));
            }
            Ok::<_, String>(())
        });
    }
}
