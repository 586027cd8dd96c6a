//! Request payloads: a realistic OTLP export request of the shape given by flags, encoded
//! once as a template, and stamped with fresh trace and span ids for every request, so the
//! load generator spends its time sending rather than encoding and the sink can count
//! duplicates by id.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;

use crate::Signal;

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Proto,
    Json,
}

/// The shape of every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub signal: Signal,
    /// Spans, log records or data points per request.
    pub items_per_request: usize,
    /// Attributes per span, log record or data point (the first 12 are realistic HTTP/DB
    /// attributes, the rest `app.attr.N`).
    pub attributes: usize,
    /// When set, every string attribute value is cut or padded to this many bytes.
    pub value_size: Option<usize>,
    /// Resource attributes (the first 6 are service/host/deployment ones).
    pub resource_attributes: usize,
    /// Spans per trace (and log records per trace id); the first span of a trace is its
    /// root, the others its children.
    pub spans_per_trace: usize,
    /// Metrics: explicit-bucket histograms (the `spanmetrics` connector's 16 default bounds,
    /// in seconds) instead of monotonic sums.
    pub histograms: bool,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            signal: Signal::Traces,
            items_per_request: 100,
            attributes: 12,
            value_size: None,
            resource_attributes: 6,
            spans_per_trace: 10,
            histograms: false,
        }
    }
}

const METHODS: [&str; 4] = ["GET", "GET", "POST", "PUT"];
const ROUTES: [&str; 4] = [
    "/api/v1/users/{id}",
    "/api/v1/orders/{id}",
    "/api/v1/orders",
    "/api/v1/carts/{id}",
];
const STATEMENTS: [&str; 4] = [
    "SELECT id, name, email FROM users WHERE id = $1",
    "SELECT id, total, state FROM orders WHERE id = $1",
    "INSERT INTO orders (user_id, total) VALUES ($1, $2)",
    "UPDATE carts SET items = $1 WHERE id = $2",
];

fn sv(s: impl Into<String>) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(s.into())),
    })
}

fn iv(i: i64) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::IntValue(i)),
    })
}

fn kv(key: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value,
        ..Default::default()
    }
}

/// Cut or pad a string value to `size` bytes (ASCII only, so any cut is a char boundary).
fn sized(s: String, size: Option<usize>) -> String {
    match size {
        None => s,
        Some(n) => {
            let mut s = s.into_bytes();
            if s.is_empty() {
                s.push(b'x');
            }
            let mut out = Vec::with_capacity(n);
            while out.len() < n {
                let take = (n - out.len()).min(s.len());
                out.extend_from_slice(&s[..take]);
            }
            String::from_utf8(out).unwrap_or_default()
        }
    }
}

/// `n` item attributes for item `i`: realistic HTTP server / DB client attributes, then
/// `app.attr.N`.
pub fn item_attributes(i: usize, n: usize, value_size: Option<usize>) -> Vec<KeyValue> {
    let v = |s: String| sv(sized(s, value_size));
    let r = i % 4;
    let status = if i % 50 == 49 { 500 } else { 200 };
    let mut attrs = vec![
        kv("http.request.method", v(METHODS[r].into())),
        kv("http.route", v(ROUTES[r].into())),
        kv("http.response.status_code", iv(status)),
        kv(
            "url.path",
            v(ROUTES[r].replace("{id}", &(10_000 + i * 7).to_string())),
        ),
        kv("url.scheme", v("https".into())),
        kv("server.address", v("api.example.internal".into())),
        kv("server.port", iv(8080)),
        kv("client.address", v(format!("10.1.{}.{}", i % 8, i % 250))),
        kv(
            "user_agent.original",
            v("Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0".into()),
        ),
        kv("network.protocol.version", v("1.1".into())),
        kv("db.system", v("postgresql".into())),
        kv("db.statement", v(STATEMENTS[r].into())),
    ];
    attrs.truncate(n);
    for k in attrs.len()..n {
        attrs.push(kv(
            &format!("app.attr.{k}"),
            v(format!("value-{k}-{:08x}", i * 31 + k)),
        ));
    }
    attrs
}

/// `n` resource attributes.
pub fn resource_attributes(n: usize, value_size: Option<usize>) -> Vec<KeyValue> {
    let v = |s: &str| sv(sized(s.to_string(), value_size));
    let mut attrs = vec![
        kv("service.name", v("checkout-service")),
        kv("service.version", v("1.4.2")),
        kv(
            "service.instance.id",
            v("6f1c2d8e-5b3a-4c1e-9f0a-2b7d4e8c1a90"),
        ),
        kv("host.name", v("node-7.example.internal")),
        kv("deployment.environment.name", v("production")),
        kv("telemetry.sdk.language", v("python")),
    ];
    attrs.truncate(n);
    for k in attrs.len()..n {
        attrs.push(kv(
            &format!("resource.attr.{k}"),
            v(&format!("resource-value-{k}")),
        ));
    }
    attrs
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "opentelemetry.instrumentation.flask".into(),
        version: "0.48b0".into(),
        ..Default::default()
    })
}

/// Placeholder span id of item `k` (unique bytes that cannot occur elsewhere in a request).
fn span_placeholder(k: usize) -> [u8; 8] {
    [
        0xB7,
        0xE5,
        0x1D,
        0x9C,
        (k >> 16) as u8,
        (k >> 8) as u8,
        k as u8,
        0xA3,
    ]
}

/// Placeholder trace id of trace `g`.
fn trace_placeholder(g: usize) -> [u8; 16] {
    [
        0xC4,
        0x2F,
        0x88,
        0x17,
        0x6D,
        0xE1,
        0x0B,
        0x93,
        0x5A,
        0x77,
        0x3C,
        0xD2,
        (g >> 16) as u8,
        (g >> 8) as u8,
        g as u8,
        0x4E,
    ]
}

/// Placeholder time of every data point (19 digits, as a real time in nanoseconds has): each
/// request gets its own time, so that a series' points of different requests are different
/// samples, as an application's are.
const TIME_PLACEHOLDER: u64 = 1_777_000_000_123_456_789;

/// The histogram bounds of `--histograms`: the `spanmetrics` connector's default buckets
/// (2 ms to 15 s) in seconds.
const BOUNDS: [f64; 16] = [
    0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.4, 2.0, 5.0, 10.0, 15.0,
];

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The request of `shape` with placeholder ids, and how many times each placeholder occurs.
fn build_request(shape: &Shape) -> (Request, Vec<usize>, Vec<usize>) {
    let n = shape.items_per_request;
    let per_trace = shape.spans_per_trace.max(1);
    let now = now_nanos();
    let mut span_uses = vec![0usize; n];
    let mut trace_uses = vec![0usize; n.div_ceil(per_trace)];
    let resource = Some(Resource {
        attributes: resource_attributes(shape.resource_attributes, shape.value_size),
        ..Default::default()
    });
    let req = match shape.signal {
        Signal::Traces => {
            let spans = (0..n)
                .map(|k| {
                    let g = k / per_trace;
                    let root = g * per_trace;
                    let is_root = k == root;
                    span_uses[k] += 1;
                    trace_uses[g] += 1;
                    let parent = if is_root {
                        Vec::new()
                    } else {
                        span_uses[root] += 1;
                        span_placeholder(root).to_vec()
                    };
                    let start = now + (k as u64) * 1_000;
                    let r = k % 4;
                    Span {
                        trace_id: trace_placeholder(g).to_vec(),
                        span_id: span_placeholder(k).to_vec(),
                        parent_span_id: parent,
                        flags: 0x101,
                        name: if is_root {
                            format!("{} {}", METHODS[r], ROUTES[r])
                        } else {
                            format!("db {}", &STATEMENTS[r][..6])
                        },
                        kind: if is_root {
                            span::SpanKind::Server as i32
                        } else {
                            span::SpanKind::Client as i32
                        },
                        start_time_unix_nano: start,
                        end_time_unix_nano: start + 1_250_000 + (k as u64 % 7) * 100_000,
                        attributes: item_attributes(k, shape.attributes, shape.value_size),
                        status: Some(Status {
                            code: if k % 50 == 49 {
                                status::StatusCode::Error as i32
                            } else {
                                status::StatusCode::Unset as i32
                            },
                            ..Default::default()
                        }),
                        ..Default::default()
                    }
                })
                .collect();
            Request::Traces(ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource,
                    scope_spans: vec![ScopeSpans {
                        scope: scope(),
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            })
        }
        Signal::Logs => {
            let log_records = (0..n)
                .map(|k| {
                    let g = k / per_trace;
                    span_uses[k] += 1;
                    trace_uses[g] += 1;
                    let r = k % 4;
                    let error = k % 50 == 49;
                    LogRecord {
                        time_unix_nano: now + (k as u64) * 1_000,
                        observed_time_unix_nano: now + (k as u64) * 1_000 + 50_000,
                        severity_number: if error { 17 } else { 9 },
                        severity_text: if error { "ERROR" } else { "INFO" }.into(),
                        body: sv(format!(
                            "Request completed {} {}",
                            METHODS[r],
                            ROUTES[r].replace("{id}", &(10_000 + k * 7).to_string())
                        )),
                        attributes: item_attributes(k, shape.attributes, shape.value_size),
                        flags: 1,
                        trace_id: trace_placeholder(g).to_vec(),
                        span_id: span_placeholder(k).to_vec(),
                        ..Default::default()
                    }
                })
                .collect();
            Request::Logs(ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    resource,
                    scope_logs: vec![ScopeLogs {
                        scope: scope(),
                        log_records,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            })
        }
        Signal::Metrics => {
            // Ten data points per metric, each with its own attribute values.
            let metrics = (0..n.div_ceil(10))
                .map(|m| {
                    let points = m * 10..((m + 1) * 10).min(n);
                    let start_time_unix_nano = now - 60_000_000_000;
                    let temporality = AggregationTemporality::Cumulative as i32;
                    let (name, unit, data) = if shape.histograms {
                        let data_points = points
                            .map(|k| {
                                let counts: Vec<u64> =
                                    (0..=BOUNDS.len()).map(|b| ((k + b) % 7) as u64).collect();
                                HistogramDataPoint {
                                    attributes: item_attributes(
                                        k,
                                        shape.attributes,
                                        shape.value_size,
                                    ),
                                    start_time_unix_nano,
                                    time_unix_nano: TIME_PLACEHOLDER,
                                    count: counts.iter().sum(),
                                    sum: Some(0.25 * k as f64),
                                    bucket_counts: counts,
                                    explicit_bounds: BOUNDS.to_vec(),
                                    ..Default::default()
                                }
                            })
                            .collect();
                        let data = metric::Data::Histogram(Histogram {
                            data_points,
                            aggregation_temporality: temporality,
                        });
                        (format!("http.server.duration.{m}"), "s", data)
                    } else {
                        let data_points = points
                            .map(|k| NumberDataPoint {
                                attributes: item_attributes(k, shape.attributes, shape.value_size),
                                start_time_unix_nano,
                                time_unix_nano: TIME_PLACEHOLDER,
                                value: Some(number_data_point::Value::AsInt(1_000 + k as i64)),
                                ..Default::default()
                            })
                            .collect();
                        let data = metric::Data::Sum(Sum {
                            data_points,
                            aggregation_temporality: temporality,
                            is_monotonic: true,
                        });
                        (format!("http.server.requests.{m}"), "{request}", data)
                    };
                    Metric {
                        name,
                        description: "Requests served".into(),
                        unit: unit.into(),
                        data: Some(data),
                        ..Default::default()
                    }
                })
                .collect();
            Request::Metrics(ExportMetricsServiceRequest {
                resource_metrics: vec![ResourceMetrics {
                    resource,
                    scope_metrics: vec![ScopeMetrics {
                        scope: scope(),
                        metrics,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            })
        }
    };
    if shape.signal == Signal::Metrics {
        span_uses.clear();
        trace_uses.clear();
    }
    (req, span_uses, trace_uses)
}

/// One export request of any signal.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Traces(ExportTraceServiceRequest),
    Logs(ExportLogsServiceRequest),
    Metrics(ExportMetricsServiceRequest),
}

impl Request {
    pub fn encode(&self, encoding: Encoding) -> Vec<u8> {
        match (self, encoding) {
            (Request::Traces(r), Encoding::Proto) => r.encode_to_vec(),
            (Request::Logs(r), Encoding::Proto) => r.encode_to_vec(),
            (Request::Metrics(r), Encoding::Proto) => r.encode_to_vec(),
            (Request::Traces(r), Encoding::Json) => serde_json::to_vec(r).unwrap_or_default(),
            (Request::Logs(r), Encoding::Json) => serde_json::to_vec(r).unwrap_or_default(),
            (Request::Metrics(r), Encoding::Json) => serde_json::to_vec(r).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Id {
    Span(usize),
    Trace(usize),
    /// A data point's time.
    Time,
}

/// An encoded request with the places of its ids.
#[derive(Debug, Clone)]
pub struct Template {
    bytes: Vec<u8>,
    patches: Vec<(usize, Id)>,
    encoding: Encoding,
    items: usize,
    traces: usize,
    nonce: u64,
    /// The time of the first request's data points.
    start: u64,
    /// Requests rendered (each a millisecond later than the one before), shared by clones.
    rendered: Arc<AtomicU64>,
}

fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= haystack.len() {
        if haystack[i] == first && &haystack[i..i + needle.len()] == needle {
            out.push(i);
            i += needle.len();
        } else {
            i += 1;
        }
    }
    out
}

fn hex(bytes: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[(b >> 4) as usize], DIGITS[(b & 15) as usize]])
        .collect()
}

impl Template {
    /// Encode the request of `shape` once and locate its ids.
    pub fn new(shape: &Shape, encoding: Encoding) -> anyhow::Result<Template> {
        anyhow::ensure!(
            shape.items_per_request > 0 && shape.items_per_request < (1 << 24),
            "items per request must be between 1 and 16777215"
        );
        let (req, span_uses, trace_uses) = build_request(shape);
        let bytes = req.encode(encoding);
        let as_text = |id: &[u8]| match encoding {
            Encoding::Proto => id.to_vec(),
            Encoding::Json => hex(id),
        };
        let mut patches = Vec::new();
        for (k, &uses) in span_uses.iter().enumerate() {
            let found = find_all(&bytes, &as_text(&span_placeholder(k)));
            anyhow::ensure!(
                found.len() == uses,
                "span id {k} found {} times, expected {uses}",
                found.len()
            );
            patches.extend(found.into_iter().map(|o| (o, Id::Span(k))));
        }
        for (g, &uses) in trace_uses.iter().enumerate() {
            let found = find_all(&bytes, &as_text(&trace_placeholder(g)));
            anyhow::ensure!(
                found.len() == uses,
                "trace id {g} found {} times, expected {uses}",
                found.len()
            );
            patches.extend(found.into_iter().map(|o| (o, Id::Trace(g))));
        }
        if shape.signal == Signal::Metrics {
            let placeholder = match encoding {
                Encoding::Proto => TIME_PLACEHOLDER.to_le_bytes().to_vec(),
                Encoding::Json => TIME_PLACEHOLDER.to_string().into_bytes(),
            };
            let found = find_all(&bytes, &placeholder);
            anyhow::ensure!(
                found.len() == shape.items_per_request,
                "data point time found {} times, expected {}",
                found.len(),
                shape.items_per_request
            );
            patches.extend(found.into_iter().map(|o| (o, Id::Time)));
        }
        patches.sort_by_key(|p| p.0);
        Ok(Template {
            bytes,
            patches,
            encoding,
            items: shape.items_per_request,
            traces: trace_uses.len(),
            nonce: fastrand::u64(1..u64::MAX),
            start: now_nanos(),
            rendered: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Items (spans, log records, data points) in each request.
    pub fn items(&self) -> usize {
        self.items
    }

    /// Encoded size of each request.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The span id of item `k` of request `seq` of `worker`: never zero, unique per
    /// (worker, seq, k) while `seq * items < 2^48`.
    pub fn span_id(&self, worker: u16, seq: u64, k: usize) -> [u8; 8] {
        let v = ((worker as u64 + 1) << 48)
            | (seq.wrapping_mul(self.items as u64).wrapping_add(k as u64) & 0xFFFF_FFFF_FFFF);
        v.to_be_bytes()
    }

    /// The trace id of trace `g` of request `seq` of `worker`.
    pub fn trace_id(&self, worker: u16, seq: u64, g: usize) -> [u8; 16] {
        let lo = ((worker as u64) << 48)
            | (seq.wrapping_mul(self.traces as u64).wrapping_add(g as u64) & 0xFFFF_FFFF_FFFF);
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.nonce.to_be_bytes());
        id[8..].copy_from_slice(&lo.to_be_bytes());
        id
    }

    /// Request `seq` of `worker`, with its own ids, into `out`.
    pub fn render(&self, worker: u16, seq: u64, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.bytes);
        let time = self.start + self.rendered.fetch_add(1, Ordering::Relaxed) * 1_000_000;
        for &(offset, id) in &self.patches {
            match (id, self.encoding) {
                (Id::Span(k), Encoding::Proto) => {
                    out[offset..offset + 8].copy_from_slice(&self.span_id(worker, seq, k))
                }
                (Id::Span(k), Encoding::Json) => {
                    out[offset..offset + 16].copy_from_slice(&hex(&self.span_id(worker, seq, k)))
                }
                (Id::Trace(g), Encoding::Proto) => {
                    out[offset..offset + 16].copy_from_slice(&self.trace_id(worker, seq, g))
                }
                (Id::Trace(g), Encoding::Json) => {
                    out[offset..offset + 32].copy_from_slice(&hex(&self.trace_id(worker, seq, g)))
                }
                (Id::Time, Encoding::Proto) => {
                    out[offset..offset + 8].copy_from_slice(&time.to_le_bytes())
                }
                (Id::Time, Encoding::Json) => {
                    out[offset..offset + 19].copy_from_slice(time.to_string().as_bytes())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_span_is_about_500_bytes() {
        let t = Template::new(&Shape::default(), Encoding::Proto).unwrap();
        let per_span = t.len() / t.items();
        assert!((400..=650).contains(&per_span), "{per_span} bytes per span");
    }

    #[test]
    fn rendered_requests_decode_with_distinct_ids() {
        let cases = [
            (Signal::Traces, false),
            (Signal::Logs, false),
            (Signal::Metrics, false),
            (Signal::Metrics, true),
        ];
        for (signal, histograms) in cases {
            for encoding in [Encoding::Proto, Encoding::Json] {
                let shape = Shape {
                    signal,
                    items_per_request: 25,
                    attributes: 14,
                    value_size: Some(20),
                    resource_attributes: 8,
                    spans_per_trace: 10,
                    histograms,
                };
                let t = Template::new(&shape, encoding).unwrap();
                let mut a = Vec::new();
                let mut b = Vec::new();
                t.render(0, 0, &mut a);
                t.render(3, 7, &mut b);
                assert_eq!(a.len(), b.len());
                assert_ne!(a, b, "{signal:?} {encoding:?}");
                for body in [&a, &b] {
                    let scan =
                        crate::wire::count(signal, crate::wire::Body::Otlp(encoding), body, true)
                            .unwrap();
                    assert_eq!(scan.items, 25, "{signal:?} {encoding:?}");
                }
                if signal == Signal::Traces {
                    let req: ExportTraceServiceRequest = match encoding {
                        Encoding::Proto => Message::decode(&b[..]).unwrap(),
                        Encoding::Json => serde_json::from_slice(&b).unwrap(),
                    };
                    let spans = &req.resource_spans[0].scope_spans[0].spans;
                    assert_eq!(spans[0].span_id, t.span_id(3, 7, 0));
                    assert_eq!(spans[3].parent_span_id, t.span_id(3, 7, 0));
                    assert_eq!(spans[12].trace_id, t.trace_id(3, 7, 1));
                    assert_eq!(spans[0].attributes.len(), 14);
                    let v = &spans[0].attributes[0].value;
                    assert_eq!(v, &sv("GETGETGETGETGETGETGE"));
                }
                if signal == Signal::Metrics {
                    // every point of a request at its time, a millisecond after the last
                    let times = |body: &[u8]| -> Vec<u64> {
                        let req: ExportMetricsServiceRequest = match encoding {
                            Encoding::Proto => Message::decode(body).unwrap(),
                            Encoding::Json => serde_json::from_slice(body).unwrap(),
                        };
                        req.resource_metrics[0].scope_metrics[0]
                            .metrics
                            .iter()
                            .flat_map(|m| match &m.data {
                                Some(metric::Data::Sum(s)) if !histograms => {
                                    s.data_points.iter().map(|p| p.time_unix_nano).collect()
                                }
                                Some(metric::Data::Histogram(h)) if histograms => h
                                    .data_points
                                    .iter()
                                    .inspect(|p| {
                                        assert_eq!(p.bucket_counts.len(), BOUNDS.len() + 1);
                                        assert_eq!(p.count, p.bucket_counts.iter().sum::<u64>());
                                    })
                                    .map(|p| p.time_unix_nano)
                                    .collect(),
                                _ => vec![],
                            })
                            .collect()
                    };
                    let (ta, tb) = (times(&a), times(&b));
                    assert_eq!(ta.len(), 25);
                    assert!(ta.iter().all(|t| *t == ta[0]) && tb.iter().all(|t| *t == tb[0]));
                    assert_eq!(tb[0] - ta[0], 1_000_000, "{encoding:?}");
                    assert!(ta[0].abs_diff(now_nanos()) < 60_000_000_000);
                }
            }
        }
    }
}
