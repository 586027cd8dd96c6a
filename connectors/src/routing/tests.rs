use pipeline_api::config::ConfigValue;
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::KeyValue;
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use pipeline_api::testing::{context, string_attr, Collect};
use pipeline_api::{ComponentKind, ConnectorNext, PipelineId, SharedConsumer};

use super::*;

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).expect("test yaml")
}

/// A built connector and the collector of each pipeline it feeds.
type Built = (Arc<dyn Processor>, Vec<Arc<Collect>>);

/// The connector for `signal` over pipelines named `names`, each with its collector.
fn build(config: &str, signal: Signal, names: &[&str]) -> Result<Built, BuildError> {
    let targets: Vec<Arc<Collect>> = names.iter().map(|_| Collect::new()).collect();
    let pipelines: Vec<(PipelineId, SharedConsumer)> = names
        .iter()
        .zip(&targets)
        .map(|(n, c)| (PipelineId::parse(n).unwrap(), c.clone() as SharedConsumer))
        .collect();
    let next = ConnectorNext {
        all: FanOut::consumer(pipelines.iter().map(|(_, c)| c.clone()).collect()),
        pipelines,
    };
    let f = factory();
    let cfg = f
        .parse_config(&yaml(config))
        .map_err(|e| BuildError::new(format!("{e:?}")))?;
    let c = f.build(
        context(ComponentKind::Connector, "routing", vec![signal]),
        cfg.as_ref(),
        signal,
        signal,
        next,
    )?;
    Ok((c, targets))
}

fn resource(attrs: Vec<KeyValue>) -> Option<Resource> {
    Some(Resource {
        attributes: attrs,
        ..Default::default()
    })
}

/// One resource per tenant (`None`: no `X-Tenant`), each with logs named `{tenant}-{i}`.
fn logs_by_tenant(tenants: &[Option<&str>], per: usize) -> Batch {
    Batch::from_logs(ExportLogsServiceRequest {
        resource_logs: tenants
            .iter()
            .map(|t| ResourceLogs {
                resource: resource(
                    t.map(|t| vec![string_attr("X-Tenant", t)])
                        .unwrap_or_default(),
                ),
                scope_logs: vec![ScopeLogs {
                    log_records: (0..per)
                        .map(|i| LogRecord {
                            event_name: format!("{}-{i}", t.unwrap_or("none")),
                            severity_text: if i % 2 == 0 { "ERROR" } else { "INFO" }.into(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    })
}

fn log_names(c: &Collect) -> Vec<String> {
    let mut out: Vec<String> = c
        .batches
        .lock()
        .unwrap()
        .iter()
        .flat_map(|b| b.as_logs().unwrap().resource_logs.clone())
        .flat_map(|r| r.scope_logs)
        .flat_map(|s| s.log_records)
        .map(|l| l.event_name)
        .collect();
    out.sort();
    out
}

// The shape of openshift/distributed-tracing-qe tests/e2e-otel/routingconnector (a Go
// collector 0.129 config routing traces to three Tempo tenants), here for logs.
const TENANTS: &str = r#"
error_mode: ignore
default_pipelines: [logs/green]
table:
  - statement: route() where attributes["X-Tenant"] == "red"
    pipelines: [logs/red]
  - statement: route() where attributes["X-Tenant"] == "blue"
    pipelines: [logs/blue]
"#;

#[tokio::test]
async fn resources_go_to_their_tenants_pipelines_and_the_rest_to_the_default() {
    let (c, t) = build(
        TENANTS,
        Signal::Logs,
        &["logs/red", "logs/blue", "logs/green"],
    )
    .unwrap();
    c.consume(logs_by_tenant(
        &[Some("red"), Some("blue"), None, Some("other")],
        2,
    ))
    .await
    .unwrap();
    assert_eq!(log_names(&t[0]), vec!["red-0", "red-1"]);
    assert_eq!(log_names(&t[1]), vec!["blue-0", "blue-1"]);
    assert_eq!(
        log_names(&t[2]),
        vec!["none-0", "none-1", "other-0", "other-1"]
    );
    // one request per destination
    assert_eq!(
        t.iter().map(|c| c.count()).collect::<Vec<_>>(),
        vec![1, 1, 1]
    );
}

#[tokio::test]
async fn move_takes_items_out_and_copy_leaves_them_for_later_routes() {
    let config = r#"
default_pipelines: [logs/rest]
table:
  - context: log
    condition: severity_text == "ERROR"
    action: copy
    pipelines: [logs/errors]
  - context: log
    condition: IsMatch(event_name, "^red-")
    pipelines: [logs/red]
"#;
    let (c, t) = build(
        config,
        Signal::Logs,
        &["logs/errors", "logs/red", "logs/rest"],
    )
    .unwrap();
    c.consume(logs_by_tenant(&[Some("red"), Some("blue")], 4))
        .await
        .unwrap();
    assert_eq!(
        log_names(&t[0]),
        vec!["blue-0", "blue-2", "red-0", "red-2"],
        "the copy route sees every error"
    );
    assert_eq!(
        log_names(&t[1]),
        vec!["red-0", "red-1", "red-2", "red-3"],
        "the errors were copied, so the next route still finds them"
    );
    assert_eq!(
        log_names(&t[2]),
        vec!["blue-0", "blue-1", "blue-2", "blue-3"],
        "the default gets what no move route took, copied errors included"
    );
}

#[tokio::test]
async fn span_routes_split_a_resource_and_keep_its_attributes() {
    let config = r#"
default_pipelines: [traces/rest]
table:
  - context: span
    condition: attributes["http.route"] == "/health"
    pipelines: [traces/health]
"#;
    let (c, t) = build(config, Signal::Traces, &["traces/health", "traces/rest"]).unwrap();
    let spans: Vec<Span> = ["/health", "/orders", "/health"]
        .iter()
        .map(|r| Span {
            name: r.to_string(),
            attributes: vec![string_attr("http.route", r)],
            ..Default::default()
        })
        .collect();
    c.consume(Batch::from_traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(vec![string_attr("service.name", "orders")]),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }))
    .await
    .unwrap();
    let health = t[0].take();
    let rest = t[1].take();
    assert_eq!(health[0].items(), 2);
    assert_eq!(rest[0].items(), 1);
    for b in health.iter().chain(&rest) {
        let rs = &b.as_traces().unwrap().resource_spans[0];
        assert_eq!(
            rs.resource.as_ref().unwrap().attributes,
            vec![string_attr("service.name", "orders")]
        );
    }
    assert_eq!(
        rest[0].as_traces().unwrap().resource_spans[0].scope_spans[0].spans[0].name,
        "/orders"
    );
}

#[tokio::test]
async fn datapoint_routes_split_a_metric() {
    let config = r#"
default_pipelines: [metrics/rest]
table:
  - context: datapoint
    condition: attributes["env"] == "prod"
    pipelines: [metrics/prod]
"#;
    let (c, t) = build(config, Signal::Metrics, &["metrics/prod", "metrics/rest"]).unwrap();
    let point = |env: &str, v: f64| NumberDataPoint {
        attributes: vec![string_attr("env", env)],
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    };
    c.consume(Batch::from_metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "queue_depth".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![
                            point("prod", 1.0),
                            point("dev", 2.0),
                            point("prod", 3.0),
                        ],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }))
    .await
    .unwrap();
    assert_eq!(t[0].items(), 2);
    assert_eq!(t[1].items(), 1);
}

#[tokio::test]
async fn request_routes_read_the_client_metadata() {
    let config = r#"
default_pipelines: [logs/rest]
table:
  - context: request
    condition: request["X-Tenant"] == "acme"
    pipelines: [logs/acme]
"#;
    let (c, t) = build(config, Signal::Logs, &["logs/acme", "logs/rest"]).unwrap();
    let mut b = logs_by_tenant(&[None], 3);
    b.set_context(RequestContext {
        metadata: vec![("x-tenant".into(), "acme".into())],
        ..Default::default()
    });
    c.consume(b).await.unwrap();
    c.consume(logs_by_tenant(&[None], 2)).await.unwrap();
    assert_eq!(t[0].items(), 3);
    assert_eq!(t[1].items(), 2);
}

#[tokio::test]
async fn without_a_default_unmatched_data_goes_nowhere_and_errors_follow_the_error_mode() {
    let config = r#"
table:
  - condition: attributes["X-Tenant"] == "red"
    pipelines: [logs/red]
"#;
    let (c, t) = build(config, Signal::Logs, &["logs/red"]).unwrap();
    c.consume(logs_by_tenant(&[Some("red"), Some("blue")], 1))
        .await
        .unwrap();
    assert_eq!(log_names(&t[0]), vec!["red-0"]);

    // a condition that cannot be evaluated: propagate returns the error and sends nothing,
    // ignore counts it as no match
    let failing = |mode: &str| {
        format!(
            "error_mode: {mode}\ndefault_pipelines: [logs/rest]\ntable:\n  - condition: ParseJSON(attributes[\"X-Tenant\"])[\"a\"] == 1\n    pipelines: [logs/red]\n"
        )
    };
    let (c, t) = build(
        &failing("propagate"),
        Signal::Logs,
        &["logs/red", "logs/rest"],
    )
    .unwrap();
    assert!(c.consume(logs_by_tenant(&[Some("red")], 1)).await.is_err());
    assert_eq!(t[0].items() + t[1].items(), 0);
    let (c, t) = build(&failing("ignore"), Signal::Logs, &["logs/red", "logs/rest"]).unwrap();
    c.consume(logs_by_tenant(&[Some("red")], 1)).await.unwrap();
    assert_eq!((t[0].items(), t[1].items()), (0, 1));
}

#[test]
fn a_route_to_a_pipeline_the_connector_does_not_feed_fails_the_build() {
    let err = build(TENANTS, Signal::Logs, &["logs/red", "logs/green"])
        .err()
        .expect("logs/blue is not fed");
    assert!(err.to_string().contains("pipeline not found"), "{err}");
    assert!(err.to_string().contains("logs/blue"), "{err}");
}

#[tokio::test]
async fn a_repeated_statement_keeps_the_first_route_with_the_later_pipelines() {
    let config = r#"
table:
  - statement: route() where attributes["X-Tenant"] == "red"
    pipelines: [logs/a]
  - statement: route() where attributes["X-Tenant"] == "red"
    pipelines: [logs/b]
"#;
    let (c, t) = build(config, Signal::Logs, &["logs/a", "logs/b"]).unwrap();
    c.consume(logs_by_tenant(&[Some("red")], 1)).await.unwrap();
    assert_eq!((t[0].items(), t[1].items()), (0, 1));
}

#[tokio::test]
async fn a_statement_without_where_routes_everything() {
    let config = "table:\n  - statement: route()\n    pipelines: [logs/all]\n";
    let (c, t) = build(config, Signal::Logs, &["logs/all"]).unwrap();
    c.consume(logs_by_tenant(&[Some("red"), None], 2))
        .await
        .unwrap();
    assert_eq!(t[0].items(), 4);
}

#[test]
fn every_config_problem_is_reported_with_its_path_and_gos_message() {
    let f = factory();
    let errs = f.parse_config(&ConfigValue::Null).unwrap_err();
    assert!(
        errs[0]
            .to_string()
            .contains("invalid routing table: the routing table is empty"),
        "{errs:?}"
    );
    let errs = f
        .parse_config(&yaml(
            r#"
error_mode: loud
default_pipelines: [nope/x]
table:
  - pipelines: [logs/a]
  - statement: route()
    condition: "true"
    pipelines: [logs/a]
  - condition: "true"
  - condition: "true"
    action: mirror
    pipelines: [logs/a]
  - condition: "true"
    context: profile
    pipelines: [logs/a]
  - context: request
    statement: route()
    pipelines: [logs/a]
  - context: request
    condition: attributes["x"] == "y"
    pipelines: [logs/a]
  - condition: attributes["x"] ==
    pipelines: [logs/a]
  - statement: set(attributes["x"], 1)
    pipelines: [logs/a]
"#,
        ))
        .unwrap_err();
    let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    let all = text.join("\n");
    for (path, message) in [
        ("error_mode", "unknown error mode loud"),
        ("default_pipelines::0", "nope"),
        (
            "table::0",
            "invalid route: no condition or statement provided",
        ),
        (
            "table::1",
            "invalid route: both condition and statement provided",
        ),
        ("table::2::pipelines", "invalid route: no pipelines defined"),
        (
            "table::3::action",
            "invalid routing action: if provided should be one of move/copy",
        ),
        ("table::4::context", "invalid context: profile"),
        ("table::5", "\"request\" context requires a 'condition'"),
        ("table::6::condition", "condition must have format"),
        ("table::7::condition", "unable to parse OTTL condition"),
        ("table::8::statement", "route() where <condition>"),
    ] {
        assert!(
            text.iter().any(|t| t.contains(path) && t.contains(message)),
            "no {path}: {message} in\n{all}"
        );
    }
    assert_eq!(errs.len(), 11, "{all}");
}

#[test]
fn request_conditions_are_read_as_go_reads_them() {
    let m = request_condition(r#"request["X-Tenant"] != "acme""#).unwrap();
    match m {
        Matcher::Request { key, value, equal } => {
            assert_eq!(
                (key.as_str(), value.as_str(), equal),
                ("X-Tenant", "acme", false)
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(request_condition(r#"request["a"] == "b" == "c""#)
        .unwrap_err()
        .contains("multiple comparators"));
    assert!(request_condition(r#"request["a"] > "b""#)
        .unwrap_err()
        .contains("valid comparator"));
    assert!(request_condition(r#"request["a"] == b"#)
        .unwrap_err()
        .contains("<value>"));
}

#[test]
fn a_route_with_several_problems_reports_each() {
    let errs = factory()
        .parse_config(&yaml(
            "table:\n  - condition: attributes[\"x\"] ==\n    action: mirror\n    pipelines: [logs/a]\n",
        ))
        .unwrap_err();
    let all = errs
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all.contains("table::0::action"), "{all}");
    assert!(all.contains("table::0::condition"), "{all}");
}

/// Routing tables the wire form must route exactly as the decoded form: resource, item and
/// data point routes, `move` and `copy`, a `request` route, a default, and a failing
/// condition under `propagate`.
const WIRE_CASES: &[(Signal, &str, bool)] = &[
    (
        Signal::Traces,
        r#"
error_mode: ignore
default_pipelines: [p/d]
table:
  - statement: route() where attributes["service.name"] != nil
    pipelines: [p/a]
  - condition: attributes["a"] != nil
    action: copy
    pipelines: [p/b]
  - context: span
    condition: attributes["b"] != nil or name == "s1"
    pipelines: [p/c]
  - context: request
    condition: request["x-tenant"] == "red"
    pipelines: [p/c]
"#,
        false,
    ),
    (
        Signal::Metrics,
        r#"
error_mode: ignore
table:
  - context: metric
    condition: name == "m1"
    action: copy
    pipelines: [p/a]
  - context: datapoint
    condition: attributes["c"] != nil or metric.name == "m2"
    pipelines: [p/b]
  - condition: attributes["dup"] != nil
    pipelines: [p/c]
default_pipelines: [p/d]
"#,
        false,
    ),
    (
        Signal::Logs,
        r#"
error_mode: ignore
default_pipelines: [p/d]
table:
  - context: log
    condition: severity_number > 12 or attributes["a"] != nil
    pipelines: [p/a]
  - condition: attributes["service.name"] == nil
    pipelines: [p/b]
  - context: log
    condition: body != nil
    action: copy
    pipelines: [p/c]
"#,
        false,
    ),
    (
        Signal::Logs,
        r#"
error_mode: propagate
default_pipelines: [p/d]
table:
  - context: log
    condition: attributes["a"]["k"] == "v"
    pipelines: [p/a]
"#,
        true,
    ),
];

/// What each pipeline received, encoded, and whether every batch with items came in its
/// wire form.
fn received(targets: &[Arc<Collect>]) -> (Vec<Vec<Vec<u8>>>, bool) {
    let mut wire = true;
    let got = targets
        .iter()
        .map(|c| {
            let batches = c.batches.lock().unwrap();
            wire &= batches.iter().all(|b| b.items() == 0 || !b.is_decoded());
            batches.iter().map(Batch::encode).collect()
        })
        .collect();
    (got, wire)
}

/// Random requests routed in their wire form and in the decoded form reach the same
/// pipelines with the same bytes; the wire form stays undecoded.
#[tokio::test]
async fn the_wire_form_is_routed_as_the_decoded_form() {
    let mut rng = pipeline_api::testing::random::Rng(0x7007);
    for (case, (signal, config, failing)) in WIRE_CASES.iter().enumerate() {
        // pipelines of the connector's signal
        let config = config.replace("p/", &format!("{signal}/"));
        let names: Vec<String> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| format!("{signal}/{n}"))
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let (wire_c, wire_t) = build(&config, *signal, &names).unwrap();
        let (dec_c, dec_t) = build(&config, *signal, &names).unwrap();
        let mut failed = 0;
        for _ in 0..200 {
            let data = pipeline_api::testing::random::request(*signal, &mut rng);
            let (wire, decoded) = pipeline_api::testing::random::both_forms(data);
            let (a, b) = (wire_c.consume(wire).await, dec_c.consume(decoded).await);
            assert_eq!(a.is_err(), b.is_err(), "case {case}: results differ");
            failed += usize::from(a.is_err());
        }
        let (got, stayed) = received(&wire_t);
        let (want, _) = received(&dec_t);
        assert_eq!(got, want, "case {case}: the pipelines received other bytes");
        assert!(stayed, "case {case}: the wire form was decoded");
        let sent: Vec<usize> = got.iter().map(Vec::len).collect();
        eprintln!("case {case}: batches per pipeline {sent:?}, failed {failed}");
        if *failing {
            assert!(failed > 10, "case {case}: only {failed} requests failed");
        } else {
            // every route and the default were exercised
            let used = sent.iter().filter(|n| **n > 20).count();
            assert!(used >= 3, "case {case}: pipelines used {sent:?}");
        }
    }
}
