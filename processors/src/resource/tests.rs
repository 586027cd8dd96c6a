use std::sync::Arc;

use pipeline_api::config::parse_typed;
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::KeyValue;
use pipeline_api::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pipeline_api::proto::tonic::metrics::v1::{
    metric, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use pipeline_api::{Batch, BatchData, Consumer, RequestContext, Signal};

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

const ACTIONS: &str = "attributes:\n\
  - {key: deployment.environment, value: prod, action: upsert}\n\
  - {key: cloud.zone, value: z, action: insert}\n\
  - {key: host.name, action: delete}\n\
  - {key: k8s.pod.uid, action: hash}\n\
  - {key: tenant, from_context: metadata.x-tenant, action: insert}\n\
  - {key: port, action: convert, converted_type: int}\n";

fn resource(b: &Batch) -> Vec<Vec<KeyValue>> {
    let r = |r: &Option<Resource>| r.as_ref().map(|r| r.attributes.clone()).unwrap_or_default();
    match b.data() {
        BatchData::Traces(t) => t.resource_spans.iter().map(|x| r(&x.resource)).collect(),
        BatchData::Metrics(m) => m.resource_metrics.iter().map(|x| r(&x.resource)).collect(),
        BatchData::Logs(l) => l.resource_logs.iter().map(|x| r(&x.resource)).collect(),
    }
}

fn input() -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            kv("deployment.environment", s("dev")),
            kv("host.name", s("h1")),
            kv("k8s.pod.uid", s("foo")),
            kv("port", s("8080")),
        ],
        ..Default::default()
    })
}

fn check(a: &[KeyValue]) {
    assert_eq!(attr(a, "deployment.environment"), Some(&s("prod")));
    assert_eq!(attr(a, "cloud.zone"), Some(&s("z")));
    assert_eq!(attr(a, "host.name"), None);
    assert_eq!(
        attr(a, "k8s.pod.uid"),
        Some(&s(
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        ))
    );
    assert_eq!(attr(a, "tenant"), Some(&s("acme")));
    assert_eq!(attr(a, "port"), Some(&i(8080)));
}

async fn run(signal: Signal, mut batch: Batch) -> Batch {
    let cfg = factory().parse_config(&yaml(ACTIONS)).unwrap();
    let next = Collect::new();
    let p = factory()
        .build(
            ctx("resource", signal),
            &*cfg,
            signal,
            next.clone() as Arc<dyn Consumer>,
        )
        .unwrap();
    batch.set_context(RequestContext {
        metadata: vec![("x-tenant".into(), "acme".into())],
        ..Default::default()
    });
    p.consume(batch).await.unwrap();
    next.take().remove(0)
}

#[test]
fn default_config_fails_as_in_go() {
    assert_eq!(
        messages("{}"),
        vec!["attributes: missing required field \"attributes\""]
    );
    let cfg: Config = parse_typed(&yaml(ACTIONS)).unwrap();
    assert_eq!(cfg.attributes.len(), 6);
}

#[test]
fn unknown_keys_and_invalid_patterns_have_paths() {
    assert_eq!(
        messages("attributes: [{key: a, action: upsert, value: 1}]\nactions: []"),
        vec!["actions: unknown key \"actions\"; valid keys: attributes"]
    );
    let m = messages("attributes: [{key: a, action: delete}, {pattern: '[', action: hash}]");
    assert_eq!(m.len(), 1);
    assert!(m[0].starts_with("attributes::1::pattern: "), "{m:?}");
}

#[tokio::test]
async fn actions_on_resource_attributes_of_traces() {
    let b = Batch::from_traces(ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: input(),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span::default()],
                    ..Default::default()
                }],
                ..Default::default()
            },
            ResourceSpans {
                resource: input(),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        attributes: vec![kv("host.name", s("span-level"))],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
    });
    let out = run(Signal::Traces, b).await;
    let res = resource(&out);
    assert_eq!(res.len(), 2);
    res.iter().for_each(|a| check(a));
    // Span attributes are not touched.
    let span = &out.as_traces().unwrap().resource_spans[1].scope_spans[0].spans[0];
    assert_eq!(attr(&span.attributes, "host.name"), Some(&s("span-level")));
}

#[tokio::test]
async fn actions_on_resource_attributes_of_metrics() {
    let b = Batch::from_metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: input(),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "m".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint::default()],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    let out = run(Signal::Metrics, b).await;
    check(&resource(&out)[0]);
}

#[tokio::test]
async fn actions_on_resource_attributes_of_logs_including_a_missing_resource() {
    let b = Batch::from_logs(ExportLogsServiceRequest {
        resource_logs: vec![
            ResourceLogs {
                resource: input(),
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord::default()],
                    ..Default::default()
                }],
                ..Default::default()
            },
            ResourceLogs {
                resource: None,
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord::default()],
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
    });
    let out = run(Signal::Logs, b).await;
    let res = resource(&out);
    check(&res[0]);
    // pdata always has a resource: actions apply to the empty one too.
    assert_eq!(attr(&res[1], "deployment.environment"), Some(&s("prod")));
    assert_eq!(attr(&res[1], "cloud.zone"), Some(&s("z")));
}

/// A batch that arrived as bytes leaves as bytes: only the resources were re-encoded, and
/// the result is what editing the decoded request gives.
#[tokio::test]
async fn a_wire_batch_stays_wire_and_reads_as_the_decoded_edit() {
    use prost::Message;
    let req = ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: input(),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        name: "a".into(),
                        attributes: vec![kv("host.name", s("span-level"))],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
            },
            // no resource: an empty one is edited, as in the decoded path
            ResourceSpans::default(),
        ],
    };
    let wire = Batch::from_wire(
        Signal::Traces,
        req.encode_to_vec().into(),
        RequestContext::default(),
    )
    .unwrap();
    let out = run(Signal::Traces, wire).await;
    assert!(out.is_wire(), "only the resources were rewritten");
    let decoded = run(Signal::Traces, Batch::from_traces(req)).await;
    assert!(!decoded.is_wire());
    assert_eq!(out.data(), decoded.data());
    assert_eq!(out.items(), 1);
    check(&resource(&out)[0]);
}
