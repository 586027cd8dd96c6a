//! The operator extensions through the binary: zpages shows the running graph (and follows
//! a reload), pprof serves a CPU profile that decodes as pprof protobuf.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use prost::Message;

use crate::harness::{free_port, http_get, Collector, Ports};

const TWO_SPANS: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"zpages-test"}}]},"scopeSpans":[{"spans":[{"traceId":"0123456789abcdef0123456789abcdef","spanId":"0123456789abcdef","name":"a","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000500000000"},{"traceId":"0123456789abcdef0123456789abcdef","spanId":"1123456789abcdef","name":"b","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000500000000"}]}]}]}"#;

/// POST a body over plain HTTP/1.1; returns the status.
fn post(port: u16, path: &str, body: &str) -> u16 {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// GET returning the raw body bytes (a gzipped profile is not text).
fn get_bytes(port: u16, path: &str) -> (u16, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers");
    let status = String::from_utf8_lossy(&buf[..end])
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    (status, buf[end + 4..].to_vec())
}

fn pipelinez(port: u16) -> serde_json::Value {
    let (status, body) = http_get(&format!(
        "http://127.0.0.1:{port}/debug/pipelinez?format=json"
    ));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("pipelinez JSON")
}

/// A pipeline as (id, receivers, processors, exporters).
type PipelineIds = (String, Vec<String>, Vec<String>, Vec<String>);

/// The pipelines of a config file, in id order.
fn config_pipelines(yaml: &str) -> Vec<PipelineIds> {
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
    let list = |p: &serde_yaml_ng::Value, k: &str| -> Vec<String> {
        p[k].as_sequence()
            .map(|s| {
                s.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out: Vec<_> = v["service"]["pipelines"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(id, p)| {
            (
                id.as_str().unwrap().to_string(),
                list(p, "receivers"),
                list(p, "processors"),
                list(p, "exporters"),
            )
        })
        .collect();
    out.sort();
    out
}

fn json_pipelines(z: &serde_json::Value) -> Vec<PipelineIds> {
    let ids = |p: &serde_json::Value, k: &str| -> Vec<String> {
        p[k].as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect()
    };
    let mut out: Vec<_> = z["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                ids(p, "receivers"),
                ids(p, "processors"),
                ids(p, "exporters"),
            )
        })
        .collect();
    out.sort();
    out
}

fn node<'a>(
    z: &'a serde_json::Value,
    pipeline: &str,
    kind: &str,
    id: &str,
) -> &'a serde_json::Value {
    z["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == pipeline)
        .and_then(|p| p[kind].as_array().unwrap().iter().find(|n| n["id"] == id))
        .unwrap_or_else(|| panic!("{pipeline} {kind} {id} in {z:#}"))
}

const CONFIG: &str = r#"
extensions:
  zpages:
    endpoint: 127.0.0.1:ZPAGES_PORT
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:HTTP_PORT
processors:
  batch:
    timeout: 100ms
  batch/small:
    send_batch_size: 10
    timeout: 100ms
exporters:
  debug:
    verbosity: basic
  nop:
service:
  extensions: [zpages]
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug, nop]
    traces/copy:
      receivers: [otlp]
      processors: [batch/small, batch]
      exporters: [nop]
    logs:
      receivers: [otlp]
      exporters: [debug]
"#;

#[test]
fn zpages_pipelinez_matches_the_running_graph_and_counts_items() {
    let ports = Ports::new();
    let zpages = free_port();
    let config = ports
        .fill(CONFIG)
        .replace("ZPAGES_PORT", &zpages.to_string());
    let c = Collector::start("zpages", &config);

    let z = pipelinez(zpages);
    assert_eq!(json_pipelines(&z), config_pipelines(&config), "{z:#}");
    assert_eq!(z["extensions"], serde_json::json!(["zpages"]));

    // items flow. Counts are per component id, as the metrics are: the one receiver accepted
    // 2 spans; `nop` (one instance, in both trace pipelines) and `batch` (an instance per
    // pipeline, one metric series per id and signal) saw them twice
    assert_eq!(post(ports.http, "/v1/traces", TWO_SPANS), 200);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let z = pipelinez(zpages);
        let done = ["traces", "traces/copy"].iter().all(|p| {
            node(&z, p, "exporters", "nop")["items"] == 4
                && node(&z, p, "receivers", "otlp")["items"] == 2
                && node(&z, p, "processors", "batch")["items"] == 4
        }) && node(&z, "traces", "exporters", "debug")["items"] == 2;
        if done {
            assert_eq!(node(&z, "traces", "receivers", "otlp")["errors"], 0);
            assert_eq!(node(&z, "traces", "exporters", "nop")["errors"], 0);
            assert_eq!(
                node(&z, "traces/copy", "processors", "batch/small")["items"],
                2
            );
            assert_eq!(node(&z, "logs", "receivers", "otlp")["items"], 0);
            assert_eq!(
                node(&z, "logs", "exporters", "debug")["items"],
                0,
                "spans are not log records"
            );
            break;
        }
        assert!(Instant::now() < deadline, "counts never reached 2: {z:#}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // the HTML page draws one graph per pipeline, every component named
    let (status, html) = http_get(&format!("http://127.0.0.1:{zpages}/debug/pipelinez"));
    assert_eq!(status, 200);
    assert_eq!(html.matches("<svg").count(), 3, "{html}");
    for id in [">otlp<", ">batch<", ">batch/small<", ">debug<", ">nop<"] {
        assert!(html.contains(id), "{id} missing from the page");
    }
    let (status, body) = http_get(&format!(
        "http://127.0.0.1:{zpages}/debug/servicez?format=json"
    ));
    assert_eq!(status, 200);
    let s: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        s["config"]["exporters"],
        serde_json::json!(["debug", "nop"])
    );
    assert_eq!(
        s["config"]["processors"],
        serde_json::json!(["batch", "batch/small"])
    );
    let (status, html) = http_get(&format!("http://127.0.0.1:{zpages}/debug/servicez"));
    assert_eq!(status, 200);
    assert!(html.contains("<td>uptime</td>"), "{html}");

    // after a reload the page shows the new graph, not the file it started with
    let reloaded = config.replace(
        "    logs:\n      receivers: [otlp]\n      exporters: [debug]\n",
        "    logs:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [debug, nop]\n",
    );
    assert_ne!(reloaded, config);
    std::fs::write(&c.config_path, &reloaded).unwrap();
    c.signal("HUP");
    c.wait_for_stderr("Config reloaded", Duration::from_secs(20));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match crate::harness::try_http_get(&format!(
            "http://127.0.0.1:{zpages}/debug/pipelinez?format=json"
        )) {
            Some((200, body)) => {
                let z: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(json_pipelines(&z), config_pipelines(&reloaded));
                break;
            }
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("zpages after reload: {other:?}"),
        }
    }
    let (code, _, stderr) = c.stop();
    assert_eq!(code, 0, "{stderr}");
}

/// The parts of pprof's `profile.proto` this test reads.
#[derive(Clone, PartialEq, Message)]
struct Profile {
    #[prost(message, repeated, tag = "1")]
    sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    sample: Vec<Sample>,
    #[prost(message, repeated, tag = "4")]
    location: Vec<Location>,
    #[prost(string, repeated, tag = "6")]
    string_table: Vec<String>,
    #[prost(int64, tag = "10")]
    duration_nanos: i64,
    #[prost(int64, tag = "12")]
    period: i64,
}

#[derive(Clone, PartialEq, Message)]
struct ValueType {
    #[prost(int64, tag = "1")]
    r#type: i64,
    #[prost(int64, tag = "2")]
    unit: i64,
}

#[derive(Clone, PartialEq, Message)]
struct Sample {
    #[prost(uint64, repeated, tag = "1")]
    location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    value: Vec<i64>,
}

#[derive(Clone, PartialEq, Message)]
struct Location {
    #[prost(uint64, tag = "1")]
    id: u64,
}

#[test]
fn pprof_serves_a_cpu_profile_that_decodes() {
    let ports = Ports::new();
    let pprof = free_port();
    let config = ports.fill(&format!(
        r#"
extensions:
  pprof:
    endpoint: 127.0.0.1:{pprof}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:HTTP_PORT
exporters:
  nop:
service:
  extensions: [pprof]
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
"#
    ));
    let c = Collector::start("pprof", &config);
    let (status, index) = http_get(&format!("http://127.0.0.1:{pprof}/debug/pprof/"));
    assert_eq!(status, 200);
    assert!(index.contains("profile"), "{index}");

    // keep the collector busy while it profiles itself
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            let port = ports.http;
            std::thread::spawn(move || {
                let mut sent = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && sent < 20_000 {
                    post(port, "/v1/traces", TWO_SPANS);
                    sent += 1;
                }
            })
        })
        .collect();
    let (status, gz) = get_bytes(pprof, "/debug/pprof/profile?seconds=2");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in load {
        l.join().unwrap();
    }
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&gz));

    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut raw)
        .expect("the profile is gzipped, as Go serves it");
    let p = Profile::decode(raw.as_slice()).expect("pprof protobuf");
    let s = |i: i64| p.string_table[i as usize].as_str();
    let types: Vec<(&str, &str)> = p
        .sample_type
        .iter()
        .map(|t| (s(t.r#type), s(t.unit)))
        .collect();
    assert_eq!(types, [("samples", "count"), ("cpu", "nanoseconds")]);
    assert!(!p.sample.is_empty(), "no samples in 2 busy seconds");
    assert!(!p.location.is_empty());
    assert_eq!(p.period, 10_000_000, "100 Hz, Go's rate");
    assert!(p.duration_nanos >= 1_900_000_000, "{}", p.duration_nanos);
    assert!(p.sample.iter().all(|x| x.value.len() == 2));
    // stacks resolved to locations (a sample whose unwinding failed may have none)
    assert!(p.sample.iter().any(|x| !x.location_id.is_empty()));

    // what is not supported says so
    let (status, body) = http_get(&format!("http://127.0.0.1:{pprof}/debug/pprof/heap"));
    assert_eq!(status, 404);
    assert!(body.contains("Unknown profile: heap"), "{body}");
    let (code, _, stderr) = c.stop();
    assert_eq!(code, 0, "{stderr}");
}
