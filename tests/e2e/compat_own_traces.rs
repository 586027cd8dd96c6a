//! `service.telemetry.traces` against the Go collector: the same config and traffic (OTLP/JSON
//! posts with a `traceparent`, then traces over gRPC), and the collectors' own spans, sent to
//! the recording sink, compared after normalizing ids, times and the client's port. Each span
//! is compared by scope, name, kind, flags, its parent's name, attributes, event names and
//! status; parents are named, so the tree must be the same too.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::compat::{attributes_input, example, run_both, verdict, Case, Input};

const CONFIG: &str = r#"
receivers:
  otlp:
    protocols:
      grpc: {endpoint: 127.0.0.1:GRPC_PORT}
      http: {endpoint: 127.0.0.1:HTTP_PORT}
processors:
  batch: {timeout: 100ms}
exporters:
  otlp:
    endpoint: SINK
    tls: {insecure: true}
  debug: {}
service:
  telemetry:
    metrics: {level: none}
    resource: {service.name: collector, service.version: "1", service.instance.id: one}
    traces:
      propagators: [tracecontext]
      processors:
        - batch:
            schedule_delay: 100
            exporter:
              otlp:
                protocol: grpc
                endpoint: http://SINK
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [otlp]}
    logs: {receivers: [otlp], exporters: [debug]}
"#;

const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// Attributes whose values differ between any two runs (ports): compared for presence.
const VOLATILE: &[&str] = &["network.peer.port", "server.port"];

/// The own spans (resource `service.name: collector`) as comparable values, sorted.
fn own_spans(traces: &[Value]) -> Vec<Value> {
    let mut spans = Vec::new();
    for req in traces {
        for rs in req["resourceSpans"].as_array().into_iter().flatten() {
            let own = rs["resource"]["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["key"] == "service.name" && a["value"]["stringValue"] == "collector");
            if !own {
                continue;
            }
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                for s in ss["spans"].as_array().into_iter().flatten() {
                    spans.push((ss["scope"].clone(), s.clone()));
                }
            }
        }
    }
    let names: BTreeMap<String, String> = spans
        .iter()
        .map(|(_, s)| {
            (
                s["spanId"].as_str().unwrap_or("").to_string(),
                s["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let attrs = |v: &Value| -> BTreeMap<String, Value> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                let key = a["key"].as_str().unwrap_or("").to_string();
                let value = if VOLATILE.contains(&key.as_str()) {
                    json!("*")
                } else {
                    a["value"].clone()
                };
                (key, value)
            })
            .collect()
    };
    let mut out: Vec<Value> = spans
        .iter()
        .map(|(scope, s)| {
            let parent = s["parentSpanId"].as_str().unwrap_or("");
            let parent = match names.get(parent) {
                Some(n) => n.clone(),
                None if parent.is_empty() => String::new(),
                None => format!("remote:{parent}"),
            };
            json!({
                "scope": scope["name"],
                "scope_attributes": attrs(&scope["attributes"]),
                "name": s["name"],
                "kind": s["kind"],
                "flags": s["flags"],
                "parent": parent,
                "attributes": attrs(&s["attributes"]),
                "events": s["events"].as_array().into_iter().flatten()
                    .map(|e| json!({"name": e["name"], "attributes": attrs(&e["attributes"])}))
                    .collect::<Vec<_>>(),
                "status": s["status"]["code"],
                "links": s["links"].as_array().map_or(0, |l| l.len()),
            })
        })
        .collect();
    out.sort_by_key(|v| v.to_string());
    out
}

/// Run `case` through both collectors: their own spans, after checking that Go made each of
/// `expected`.
async fn own_spans_of_both(case: &Case<'_>, expected: &[&str]) -> (Vec<Value>, Vec<Value>) {
    let (go, fe) = run_both(case).await;
    let fe = fe.unwrap_or_else(|e| panic!("{e}"));
    let (go, fe) = (own_spans(&go.traces), own_spans(&fe.traces));
    for name in expected {
        assert!(
            go.iter().any(|s| s["name"] == *name),
            "Go made no span {name}: {go:#?}"
        );
    }
    (go, fe)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_traces_have_the_same_spans_and_tree() {
    let Input::Grpc(traces, _, _) = attributes_input() else {
        unreachable!()
    };
    let case = Case {
        name: "own_traces",
        config: CONFIG,
        files: &[],
        input: Input::Traced {
            json: vec![
                ("/v1/logs", example("logs.json")),
                ("/v1/traces", example("trace.json")),
            ],
            traceparent: TRACEPARENT,
            grpc_traces: traces,
        },
        wait_for: 0,
        scrape: false,
        scrape_url: None,
    };
    // the receive, the HTTP and gRPC server spans, the exports: at least these
    let (go, fe) = own_spans_of_both(
        &case,
        &[
            "receiver/otlp/LogsReceived",
            "receiver/otlp/TraceDataReceived",
            "POST /v1/logs",
            "exporter/debug/logs",
            "exporter/enqueue",
            "exporter/otlp/traces",
            "opentelemetry.proto.collector.trace.v1.TraceService/Export",
        ],
    )
    .await;
    let pretty = |v: &[Value]| {
        v.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mismatch = (go != fe).then(|| {
        let only_go: Vec<Value> = go.iter().filter(|s| !fe.contains(s)).cloned().collect();
        let only_fe: Vec<Value> = fe.iter().filter(|s| !go.contains(s)).cloned().collect();
        format!(
            "Go only:\n{}\nFerrotel only:\n{}",
            pretty(&only_go),
            pretty(&only_fe)
        )
    });
    verdict("own_traces", mismatch).unwrap_or_else(|e| panic!("{e}"));
}

/// A receiver on Go's shared HTTP server other than `otlp`: `zipkin`'s server span (no
/// route: `POST`), its receive operation with the Zipkin format, and the `debug` export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zipkin_receivers_own_spans_are_gos() {
    const ZIPKIN: &str = r#"
receivers:
  zipkin: {endpoint: 127.0.0.1:HTTP_PORT}
exporters:
  debug: {}
service:
  telemetry:
    metrics: {level: none}
    resource: {service.name: collector, service.version: "1", service.instance.id: one}
    traces:
      processors:
        - batch:
            schedule_delay: 100
            exporter:
              otlp: {protocol: grpc, endpoint: http://SINK}
  pipelines:
    traces: {receivers: [zipkin], exporters: [debug]}
"#;
    let body = br#"[{"traceId":"5af7183fb1d4cf5f","id":"6b221d5bc9e6496c","name":"get","timestamp":1556604172355737,"duration":1431,"localEndpoint":{"serviceName":"frontend"}}]"#;
    let case = Case {
        name: "own_traces_zipkin",
        config: ZIPKIN,
        files: &[],
        input: Input::Zipkin(vec![("/api/v2/spans", "application/json", body.to_vec())]),
        wait_for: 0,
        scrape: false,
        scrape_url: None,
    };
    let (go, fe) = run_both(&case).await;
    let fe = fe.unwrap_or_else(|e| panic!("{e}"));
    let (go, fe) = (own_spans(&go.traces), own_spans(&fe.traces));
    for name in [
        "POST",
        "receiver/zipkin/TraceDataReceived",
        "exporter/debug/traces",
    ] {
        assert!(
            go.iter().any(|s| s["name"] == name),
            "Go made no span {name}: {go:#?}"
        );
    }
    assert_eq!(go, fe, "Go:\n{go:#?}\nFerrotel:\n{fe:#?}");
}
