//! The Go collector oracle against Ferrotel for the formats of other systems: the `file`
//! exporter (the files each writes decoded and compared item by item, in both formats), the
//! `zipkin` receiver (v2 JSON and protobuf, v1 JSON and Thrift) and the `jaeger` receiver
//! (`api_v2` over gRPC, Thrift over HTTP and UDP). The loki and otlpjsonfile receivers and the
//! zipkin exporter get their cases when the oracle's build can carry them (the module proxy
//! here does not serve them at v0.155.0).

use std::path::Path;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::{BatchData, Signal};
use prost::Message;
use serde_json::Value;

use crate::compat::{attributes_input, diff, example, run_both, verdict, Case, Input};

fn config(format: &str) -> String {
    format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:GRPC_PORT"}}
      http: {{endpoint: "127.0.0.1:HTTP_PORT"}}
exporters:
  otlp:
    endpoint: SINK
    tls: {{insecure: true}}
  file/traces: {{path: DIR/traces.out, format: {format}}}
  file/metrics: {{path: DIR/metrics.out, format: {format}}}
  file/logs: {{path: DIR/logs.out, format: {format}}}
service:
  telemetry: TELEMETRY
  pipelines:
    traces: {{receivers: [otlp], exporters: [otlp, file/traces]}}
    metrics: {{receivers: [otlp], exporters: [otlp, file/metrics]}}
    logs: {{receivers: [otlp], exporters: [otlp, file/logs]}}
"#
    )
}

/// The requests in one signal's file, as OTLP/JSON values (the sink's form).
fn read(dir: &Path, signal: Signal, format: &str) -> Vec<Value> {
    let name = format!("{}.out", signal.as_str());
    let bytes = std::fs::read(dir.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let payloads: Vec<Vec<u8>> = if format == "json" {
        bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    } else {
        let mut out = Vec::new();
        let mut rest = &bytes[..];
        while rest.len() >= 4 {
            let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            out.push(rest[4..4 + n].to_vec());
            rest = &rest[4 + n..];
        }
        assert!(rest.is_empty(), "{name}: trailing bytes");
        out
    };
    payloads
        .iter()
        .map(|p| {
            let data = if format == "json" {
                receivers::otlp::json::decode(signal, p)
                    .unwrap_or_else(|e| panic!("{name}: a line does not decode: {e}"))
            } else {
                match signal {
                    Signal::Traces => {
                        BatchData::Traces(ExportTraceServiceRequest::decode(&p[..]).unwrap())
                    }
                    Signal::Metrics => {
                        BatchData::Metrics(ExportMetricsServiceRequest::decode(&p[..]).unwrap())
                    }
                    Signal::Logs => {
                        BatchData::Logs(ExportLogsServiceRequest::decode(&p[..]).unwrap())
                    }
                }
            };
            match data {
                BatchData::Traces(r) => serde_json::to_value(r).unwrap(),
                BatchData::Metrics(r) => serde_json::to_value(r).unwrap(),
                BatchData::Logs(r) => serde_json::to_value(r).unwrap(),
            }
        })
        .collect()
}

async fn compare_files(name: &str, format: &str, input: Input) {
    let config = config(format);
    let case = Case {
        name,
        config: &config,
        files: &[],
        input,
        wait_for: 0,
        scrape: false,
        scrape_url: None,
    };
    let (go, fe) = run_both(&case).await;
    let mismatch = match fe {
        Err(e) => Some(e),
        Ok(fe) => {
            let mut reports = Vec::new();
            for signal in Signal::ALL {
                let g = read(&go.dir, signal, format);
                let f = read(&fe.dir, signal, format);
                assert!(!g.is_empty(), "{name}: Go wrote no {signal}");
                if let Some(r) = diff(signal.as_str(), &g, &go.dir, &f, &fe.dir) {
                    reports.push(r);
                }
                if g.len() != f.len() {
                    reports.push(format!(
                        "{signal}: Go wrote {} requests, Ferrotel {}",
                        g.len(),
                        f.len()
                    ));
                }
            }
            (!reports.is_empty()).then(|| reports.join("\n"))
        }
    };
    if let Err(e) = verdict(name, mismatch) {
        panic!("{e}");
    }
}

/// The specification's OTLP/JSON examples through the file exporter, one request per line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p_file_exporter_json_lines_alike() {
    compare_files(
        "file_exporter_json",
        "json",
        Input::Json(vec![
            ("/v1/traces", example("trace.json")),
            ("/v1/metrics", example("metrics.json")),
            ("/v1/logs", example("logs.json")),
        ]),
    )
    .await;
}

/// Every attribute type, resource and scope shape, length-prefixed protobuf.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p_file_exporter_proto_alike() {
    compare_files("file_exporter_proto", "proto", attributes_input()).await;
}

fn receiver_config(receivers: &str, name: &str) -> String {
    crate::compat::to_sink(receivers, "traces", name)
}

async fn compare_traces(case: Case<'_>) {
    let (go, fe) = run_both(&case).await;
    assert!(!go.traces.is_empty(), "{}: Go exported nothing", case.name);
    let mismatch = match fe {
        Err(e) => Some(e),
        Ok(fe) => diff("traces", &go.traces, &go.dir, &fe.traces, &fe.dir),
    };
    if let Err(e) = verdict(case.name, mismatch) {
        panic!("{e}");
    }
}

/// Zipkin v2 JSON (the zipkin-api example and every field of the mapping) and protobuf into
/// both zipkin receivers, with and without `parse_string_tags`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p_zipkin_receiver_alike() {
    let spans =
        exporters::zipkin::translate::from_otlp(&exporters::zipkin::fixture::request(3)).unwrap();
    let example = br#"[{"id":"352bff9a74ca9ad2","traceId":"5af7183fb1d4cf5f","parentId":"6b221d5bc9e6496c","name":"get /api","timestamp":1556604172355737,"duration":1431,"kind":"SERVER","localEndpoint":{"serviceName":"backend","ipv4":"192.168.99.1","port":3306},"remoteEndpoint":{"ipv4":"172.19.0.2","port":58648},"tags":{"http.method":"GET","http.path":"/api","retries":"3","ratio":"0.5","ok":"true"}}]"#.to_vec();
    for parse in [false, true] {
        let config = receiver_config(
            &format!(
                "  zipkin:\n    endpoint: 127.0.0.1:HTTP_PORT\n    parse_string_tags: {parse}"
            ),
            "zipkin",
        );
        compare_traces(Case {
            name: if parse {
                "zipkin_receiver_parse_tags"
            } else {
                "zipkin_receiver"
            },
            config: &config,
            files: &[],
            input: Input::Zipkin(vec![
                ("/api/v2/spans", "application/json", example.clone()),
                (
                    "/api/v2/spans",
                    "application/json",
                    exporters::zipkin::model::to_json(&spans),
                ),
                (
                    "/api/v2/spans",
                    "application/x-protobuf",
                    exporters::zipkin::model::to_proto(&spans),
                ),
            ]),
            wait_for: 0,
            scrape: false,
            scrape_url: None,
        })
        .await;
    }
}

/// Jaeger `api_v2` `PostSpans` (what Ferrotel's jaeger exporter sends for a request with
/// every field the mapping carries) into both jaeger receivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p_jaeger_receiver_alike() {
    let config = receiver_config(
        "  jaeger:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:GRPC_PORT",
        "jaeger",
    );
    compare_traces(Case {
        name: "jaeger_receiver",
        config: &config,
        files: &[],
        input: Input::Jaeger(vec![exporters::zipkin::fixture::request(3)]),
        wait_for: 0,
        scrape: false,
        scrape_url: None,
    })
    .await;
}

/// Jaeger Thrift payloads written by Apache Thrift's Python protocol writers
/// (`tests/e2e/python/jaeger_thrift.py`): `(kind, bytes)` for `batches` batches of `spans`
/// spans, each batch as an HTTP body, a binary-protocol and a compact-protocol UDP packet.
pub(crate) fn jaeger_thrift_payloads(batches: usize, spans: usize) -> Vec<(&'static str, Vec<u8>)> {
    // a directory of each call's own: tests run side by side
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = crate::harness::temp_dir(&format!("jaeger-thrift-payloads-{call}"));
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e/python/jaeger_thrift.py");
    let status = std::process::Command::new(crate::python_sdk::python())
        .arg(script)
        .arg(&dir)
        .arg(batches.to_string())
        .arg(spans.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "jaeger_thrift.py failed");
    let mut out = Vec::new();
    for kind in ["http", "binary", "compact"] {
        for b in 0..batches {
            let bytes = std::fs::read(dir.join(format!("{kind}-{b}.bin"))).unwrap();
            out.push((kind, bytes));
        }
    }
    out
}

/// Jaeger Thrift over HTTP (`thrift_http`) and in UDP packets of both protocols
/// (`thrift_binary`, `thrift_compact`) into both jaeger receivers: every tag type, parents by
/// `parentSpanId` and by reference, links, logs, statuses from `error`, `otel.status_code` and
/// `http.status_code`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p_jaeger_thrift_receiver_alike() {
    let config = receiver_config(
        "  jaeger:\n    protocols:\n      thrift_http:\n        endpoint: 127.0.0.1:HTTP_PORT\n      thrift_binary:\n        endpoint: 127.0.0.1:HEALTH_PORT\n      thrift_compact:\n        endpoint: 127.0.0.1:GRPC_PORT",
        "jaeger",
    );
    let (batches, spans) = (3, 12);
    compare_traces(Case {
        name: "jaeger_thrift_receiver",
        config: &config,
        files: &[],
        input: Input::JaegerThrift(jaeger_thrift_payloads(batches, spans)),
        // UDP is not answered: wait for every span
        wait_for: 3 * batches * spans,
        scrape: false,
        scrape_url: None,
    })
    .await;
}

/// Zipkin v1 JSON: every branch of the v1 mapping (kinds from annotations, endpoints and
/// their fallbacks, `lc`, the four status sources, 16- and 32-digit trace ids).
const ZIPKIN_V1_JSON: &str = r#"[
 {"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","parentId":"6b221d5bc9e6496c","name":"get /api","timestamp":1556604172355737,"duration":1431,
  "annotations":[{"timestamp":1556604172355737,"value":"sr","endpoint":{"serviceName":"backend","ipv4":"192.168.99.1","port":3306}},
                 {"timestamp":1556604172356000,"value":"cache miss","endpoint":{"serviceName":"backend","ipv4":"192.168.99.1","port":3306}},
                 {"timestamp":1556604172357168,"value":"ss","endpoint":{"serviceName":"backend","ipv4":"192.168.99.1","port":3306}},
                 {"timestamp":1556604172357000,"value":""}],
  "binaryAnnotations":[{"key":"http.path","value":"/api","endpoint":{"serviceName":"backend"}},
                       {"key":"http.status_code","value":"503"},{"key":"http.status_message","value":"down"},
                       {"key":"retries","value":"3"},{"key":"ratio","value":"0.5"},{"key":"ok","value":"true"},
                       {"key":"retries","value":"4"}]},
 {"traceId":"0af7651916cd43dd8448eb211c80319c","id":"b7ad6b7169203331","name":"call db","timestamp":1556604172356000,"duration":500,
  "annotations":[{"timestamp":1556604172356000,"value":"cs","endpoint":{"serviceName":"frontend","ipv6":"2001:db8::1","port":80}},
                 {"timestamp":1556604172356500,"value":"cr","endpoint":{"serviceName":"frontend","ipv6":"2001:db8::1","port":80}}],
  "binaryAnnotations":[{"key":"census.status_code","value":"0"},{"key":"census.status_description","value":"fine"},{"key":"error","value":"x"}]},
 {"traceId":"0af7651916cd43dd8448eb211c80319c","id":"b7ad6b7169203332","parentId":"b7ad6b7169203331","name":"job",
  "annotations":[{"timestamp":1556604172356100,"value":"ms"},{"timestamp":1556604172356200,"value":"queued"}],
  "binaryAnnotations":[{"key":"lc","value":"scheduler"},{"key":"otel.status_code","value":"2"},{"key":"otel.status_description","value":"late"}]},
 {"traceId":"0af7651916cd43dd8448eb211c80319c","id":"b7ad6b7169203333","name":"consume","timestamp":1556604172357000,"duration":10,
  "annotations":[{"timestamp":1556604172357000,"value":"mr","endpoint":{"serviceName":""}}],
  "binaryAnnotations":[{"key":"error","value":"bad"},{"key":"otel.status_description","value":"why"},{"key":"k","value":"v","endpoint":{"serviceName":"from-binary"}}]}
]"#;

/// Zipkin v1, JSON (with and without `parse_string_tags`) and Thrift (written by Apache
/// Thrift's Python binary-protocol writer, `tests/e2e/python/zipkin_v1_thrift.py`), into both
/// zipkin receivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p_zipkin_v1_receiver_alike() {
    let thrift = include_bytes!("../../receivers/src/zipkin/testdata/v1.thrift.bin").to_vec();
    for parse in [false, true] {
        let config = receiver_config(
            &format!(
                "  zipkin:\n    endpoint: 127.0.0.1:HTTP_PORT\n    parse_string_tags: {parse}"
            ),
            "zipkin",
        );
        compare_traces(Case {
            name: if parse {
                "zipkin_v1_receiver_parse_string_tags"
            } else {
                "zipkin_v1_receiver"
            },
            config: &config,
            files: &[],
            input: Input::Zipkin(vec![
                (
                    "/api/v1/spans",
                    "application/json",
                    ZIPKIN_V1_JSON.as_bytes().to_vec(),
                ),
                ("/api/v1/spans", "application/x-thrift", thrift.clone()),
            ]),
            wait_for: 0,
            scrape: false,
            scrape_url: None,
        })
        .await;
    }
}
