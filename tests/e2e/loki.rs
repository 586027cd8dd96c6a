//! The `ferrotel` binary tails a Docker json-file log (`filelog` with `container`,
//! `key_value_parser` and `severity_parser`) and pushes it with the `loki` exporter to an
//! in-test push endpoint that decodes the body as Loki does (snappy block format, then
//! `logproto.PushRequest`, then the stream's label text): every line arrives exactly once,
//! with its labels and its trace id in structured metadata.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prost::Message;

use crate::harness::{http_get, metric_value, temp_dir, Collector, Ports};
use crate::sink::eventually;

/// `logproto` as Loki declares it in `pkg/push/push.proto`.
mod logproto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PushRequest {
        #[prost(message, repeated, tag = "1")]
        pub streams: Vec<Stream>,
        #[prost(string, tag = "2")]
        pub format: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Stream {
        #[prost(string, tag = "1")]
        pub labels: String,
        #[prost(message, repeated, tag = "2")]
        pub entries: Vec<Entry>,
        #[prost(uint64, tag = "3")]
        pub hash: u64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Entry {
        #[prost(message, optional, tag = "1")]
        pub timestamp: Option<Timestamp>,
        #[prost(string, tag = "2")]
        pub line: String,
        #[prost(message, repeated, tag = "3")]
        pub structured_metadata: Vec<LabelPair>,
        #[prost(message, repeated, tag = "4")]
        pub parsed: Vec<LabelPair>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPair {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Timestamp {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

/// One entry as the endpoint received it.
#[derive(Debug, Clone)]
struct Received {
    tenant: Option<String>,
    labels: BTreeMap<String, String>,
    nanos: i128,
    line: String,
    metadata: BTreeMap<String, String>,
}

/// `{name="value", ...}` read strictly: valid names, quoted values, no duplicates.
fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| format!("not a label set: {text}"))?;
    let mut out = BTreeMap::new();
    let mut rest = inner.trim_start();
    if rest.is_empty() {
        return Err("error at least one label pair is required per stream".into());
    }
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or("missing =")?;
        let name = rest[..eq].trim();
        let valid = name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if name.is_empty() || !valid {
            return Err(format!("invalid label name {name:?}"));
        }
        rest = rest[eq + 1..].strip_prefix('"').ok_or("value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().ok_or("unterminated value")? {
                (i, '"') => break i + 1,
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    'n' => value.push('\n'),
                    't' => value.push('\t'),
                    c @ ('"' | '\\') => value.push(c),
                    c => return Err(format!("unexpected escape \\{c}")),
                },
                (_, c) => value.push(c),
            }
        };
        if out.insert(name.to_string(), value).is_some() {
            return Err(format!("duplicate label {name}"));
        }
        rest = rest[end..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(out)
}

/// An in-test Loki push endpoint: decodes each request, records its entries, answers 204
/// (400 with the reason when the body is not what Loki accepts).
struct PushEndpoint {
    addr: SocketAddr,
    entries: Arc<Mutex<Vec<Received>>>,
    errors: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PushEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn decode(req: &hyper::http::request::Parts, body: &[u8]) -> Result<Vec<Received>, String> {
    if req.uri.path() != "/loki/api/v1/push" {
        return Err(format!("unexpected path {}", req.uri.path()));
    }
    let content_type = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type != "application/x-protobuf" {
        return Err(format!("unexpected content type {content_type:?}"));
    }
    let tenant = req
        .headers
        .get("x-scope-orgid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("snappy: {e}"))?;
    let push =
        logproto::PushRequest::decode(raw.as_slice()).map_err(|e| format!("protobuf: {e}"))?;
    let mut out = Vec::new();
    for stream in push.streams {
        let labels = parse_labels(&stream.labels)?;
        for e in stream.entries {
            let ts = e.timestamp.ok_or("entry without timestamp")?;
            out.push(Received {
                tenant: tenant.clone(),
                labels: labels.clone(),
                nanos: ts.seconds as i128 * 1_000_000_000 + ts.nanos as i128,
                line: e.line,
                metadata: e
                    .structured_metadata
                    .into_iter()
                    .map(|p| (p.name, p.value))
                    .collect(),
            });
        }
    }
    Ok(out)
}

async fn push_endpoint() -> PushEndpoint {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let entries: Arc<Mutex<Vec<Received>>> = Arc::default();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let (e, errs) = (entries.clone(), errors.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (e, errs) = (e.clone(), errs.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let (e, errs) = (e.clone(), errs.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.map(|b| b.to_bytes());
                        let result = match body {
                            Ok(body) => decode(&parts, &body),
                            Err(err) => Err(err.to_string()),
                        };
                        let (status, text) = match result {
                            Ok(received) => {
                                e.lock().unwrap().extend(received);
                                (StatusCode::NO_CONTENT, String::new())
                            }
                            Err(reason) => {
                                errs.lock().unwrap().push(reason.clone());
                                (StatusCode::BAD_REQUEST, reason)
                            }
                        };
                        let mut resp = Response::new(Full::new(Bytes::from(text)));
                        *resp.status_mut() = status;
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    PushEndpoint {
        addr,
        entries,
        errors,
        task,
    }
}

const CONTAINER_ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The structlog body of line `i`, its level and its trace id.
fn body(i: usize) -> (String, &'static str, String) {
    let level = ["info", "error", "warning"][i % 3];
    let trace_id = format!("4bf92f3577b34da6a3ce929d0e0e{i:04x}");
    let body = format!(
        "timestamp='2024-05-01T12:00:{:02}Z' level='{level}' event='order {i} placed' order_id={i} trace_id='{trace_id}'",
        i % 60
    );
    (body, level, trace_id)
}

/// Docker's json-file line for line `i`.
fn docker_line(i: usize) -> String {
    let (log, _, _) = body(i);
    format!(
        "{}\n",
        serde_json::json!({"log": format!("{log}\n"), "stream": "stdout", "time": "2024-05-01T12:30:00.000000001Z"})
    )
}

fn append(path: &std::path::Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_json_file_lines_arrive_in_loki_once_with_labels_and_metadata() {
    let endpoint = push_endpoint().await;
    let dir = temp_dir("loki-docker-files");
    let cdir = dir.join("containers").join(CONTAINER_ID);
    std::fs::create_dir_all(&cdir).unwrap();
    std::fs::write(
        cdir.join("config.v2.json"),
        serde_json::json!({
            "ID": CONTAINER_ID,
            "Name": "/shop-api-1",
            "Config": {
                "Image": "ghcr.io/acme/shop-api:1.4.2",
                "Labels": {
                    "com.docker.compose.service": "api",
                    "com.docker.compose.project": "shop"
                }
            }
        })
        .to_string(),
    )
    .unwrap();
    let log = cdir.join(format!("{CONTAINER_ID}-json.log"));
    const FIRST: usize = 6;
    const TOTAL: usize = 10;
    for i in 0..FIRST {
        append(&log, &docker_line(i));
    }
    let ports = Ports::new();
    let config = ports.fill(&format!(
        r#"
receivers:
  filelog:
    include: ["{dir}/containers/*/*-json.log"]
    start_at: beginning
    include_file_path: true
    poll_interval: 50ms
    operators:
      - type: container
        format: docker
        docker_metadata: true
      - type: key_value_parser
        timestamp:
          parse_from: attributes.timestamp
          layout: '%Y-%m-%dT%H:%M:%SZ'
      - type: severity_parser
        parse_from: attributes.level
exporters:
  loki:
    endpoint: http://{addr}/loki/api/v1/push
    tenant: {{source: static, value: team-a}}
    format: raw
    labels:
      resource: {{service.name: service, container.name: container, docker.compose.project: project}}
      attributes: {{level: level}}
    structured_metadata:
      attributes: [trace_id]
service:
  telemetry: {{metrics: {{address: 127.0.0.1:METRICS_PORT}}}}
  pipelines:
    logs:
      receivers: [filelog]
      exporters: [loki]
"#,
        dir = dir.display(),
        addr = endpoint.addr,
    ));
    let collector = Collector::start("loki-docker", &config);
    let entries = endpoint.entries.clone();
    let count = || entries.lock().unwrap().len();
    assert!(
        eventually(Duration::from_secs(30), || count() >= FIRST).await,
        "{} of {FIRST} entries arrived; endpoint errors: {:?}\n{}",
        count(),
        endpoint.errors.lock().unwrap(),
        collector.stderr_text()
    );
    // lines written while the collector runs are tailed too
    for i in FIRST..TOTAL {
        append(&log, &docker_line(i));
    }
    assert!(
        eventually(Duration::from_secs(30), || count() >= TOTAL).await,
        "{} of {TOTAL} entries arrived; endpoint errors: {:?}\n{}",
        count(),
        endpoint.errors.lock().unwrap(),
        collector.stderr_text()
    );
    // nothing more arrives: every line exactly once
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(endpoint.errors.lock().unwrap().is_empty());
    let received = endpoint.entries.lock().unwrap().clone();
    assert_eq!(received.len(), TOTAL, "{received:#?}");
    for i in 0..TOTAL {
        let (line, level, trace_id) = body(i);
        let got: Vec<&Received> = received.iter().filter(|r| r.line == line).collect();
        assert_eq!(got.len(), 1, "line {i} arrived {} times", got.len());
        let r = got[0];
        let want: BTreeMap<String, String> = [
            ("container", "shop-api-1"),
            ("exporter", "OTLP"),
            ("job", "api"),
            ("level", level),
            ("project", "shop"),
            ("service", "api"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(r.labels, want, "labels of line {i}");
        assert_eq!(
            r.metadata,
            BTreeMap::from([("trace_id".to_string(), trace_id)]),
            "structured metadata of line {i}"
        );
        assert_eq!(r.tenant.as_deref(), Some("team-a"));
        // the app's timestamp (key_value_parser), not Docker's
        let want_ns = (1_714_564_800 + (i % 60) as i128) * 1_000_000_000;
        assert_eq!(r.nanos, want_ns, "time of line {i}");
    }
    // within a stream, entries are in time order
    let mut streams: BTreeMap<String, Vec<i128>> = BTreeMap::new();
    for r in &received {
        streams
            .entry(format!("{:?}", r.labels))
            .or_default()
            .push(r.nanos);
    }
    assert_eq!(streams.len(), 3, "one stream per level");
    for (labels, times) in &streams {
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "{labels}: {times:?}"
        );
    }
    // the runtime counted them as sent
    let metrics_url = format!("http://127.0.0.1:{}/metrics", ports.metrics);
    let sent = || {
        metric_value(
            &http_get(&metrics_url).1,
            "otelcol_exporter_sent_log_records",
            &[("exporter", "loki")],
        )
    };
    assert!(
        eventually(Duration::from_secs(10), || sent() == Some(TOTAL as f64)).await,
        "sent log records: {:?}",
        sent()
    );
    let (code, _, stderr) = collector.stop();
    assert_eq!(code, 0, "{stderr}");
}
