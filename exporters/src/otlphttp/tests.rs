//! The `otlphttp` exporter's tests: config, OTLP/JSON encoding, and export against an
//! in-process recording HTTP server on 127.0.0.1 port 0 (bodies, compression, URLs, status
//! handling, partial success, TLS).

use std::time::{Duration, SystemTime};

use bytes::Bytes;

use http::{HeaderMap, StatusCode};
use pipeline_api::config::{parse_typed, ConfigError, ConfigValue};
use pipeline_api::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use pipeline_api::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use pipeline_api::proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use pipeline_api::proto::tonic::common::v1::any_value;
use pipeline_api::proto::tonic::metrics::v1::{
    exemplar, metric, Exemplar, Histogram, HistogramDataPoint, Metric,
};
use pipeline_api::{Batch, BatchData, ComponentId, Exporter, Signal};
use prost::Message;

use super::{factory, failure, json, retry_after, Config, Encoding, OtlpHttpExporter};
use crate::common::testutil::{
    http_server, kv, logs, metrics, traces, HttpReply, LogCapture, Received, CA,
};
use transport::compression::testing::decompress;
use transport::compression::Compression;
use transport::status::RpcStatus;

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).unwrap()
}

fn parse(s: &str) -> Result<Config, Vec<ConfigError>> {
    parse_typed::<Config>(&yaml(s))
}

fn messages(errs: &[ConfigError]) -> Vec<String> {
    errs.iter().map(|e| e.to_string()).collect()
}

fn exporter(yaml_text: &str) -> OtlpHttpExporter {
    let cfg = parse(yaml_text).unwrap();
    OtlpHttpExporter::new(
        ComponentId::parse("otlphttp/test").unwrap(),
        &cfg,
        &Signal::ALL,
        &Default::default(),
    )
    .unwrap()
}

/// The export request a received body decodes to.
fn decode(r: &Received, signal: Signal) -> BatchData {
    let encoding = r
        .headers
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = decompress(&encoding, &r.body);
    match r.headers["content-type"].to_str().unwrap() {
        "application/x-protobuf" => Batch::decode(signal, &body, Default::default())
            .unwrap()
            .into_data(),
        "application/json" => json_decode(signal, &body),
        other => panic!("content type {other}"),
    }
}

/// Decode OTLP/JSON with `opentelemetry-proto`'s serde (which reads hex ids and 64-bit
/// integers as strings).
fn json_decode(signal: Signal, body: &[u8]) -> BatchData {
    match signal {
        Signal::Traces => BatchData::Traces(serde_json::from_slice(body).unwrap()),
        Signal::Metrics => BatchData::Metrics(serde_json::from_slice(body).unwrap()),
        Signal::Logs => BatchData::Logs(serde_json::from_slice(body).unwrap()),
    }
}

// ------------------------------------------------------------------------------ config

#[test]
fn defaults_are_gos() {
    let cfg = parse("endpoint: http://loki:3100/otlp").unwrap();
    assert_eq!(cfg.encoding, Encoding::Proto);
    assert_eq!(cfg.compression(), Compression::Gzip);
    assert_eq!(cfg.http.write_buffer_size, 512 * 1024);
    assert_eq!(cfg.http.max_idle_conns, 100);
    assert_eq!(cfg.http.idle_conn_timeout.get(), Duration::from_secs(90));
    assert!(cfg.http.force_attempt_http2);
    // Go Config.Validate, word for word.
    assert_eq!(
        messages(&parse("").unwrap_err()),
        vec!["at least one endpoint must be specified"]
    );
    assert_eq!(factory().aliases(), &[("otlp_http", false)]);
    assert_eq!(factory().default_timeout(), Duration::from_secs(30));
}

#[test]
fn signal_urls_are_composed_as_go_does() {
    let cfg = parse("endpoint: http://loki:3100/otlp").unwrap();
    assert_eq!(
        cfg.signal_url(Signal::Traces).unwrap(),
        "http://loki:3100/otlp/v1/traces"
    );
    let cfg =
        parse("endpoint: http://c:4318/\nlogs_endpoint: https://logs.example/ingest").unwrap();
    assert_eq!(
        cfg.signal_url(Signal::Metrics).unwrap(),
        "http://c:4318/v1/metrics"
    );
    assert_eq!(
        cfg.signal_url(Signal::Logs).unwrap(),
        "https://logs.example/ingest"
    );
    let cfg = parse("traces_endpoint: http://t:1/x").unwrap();
    assert_eq!(cfg.signal_url(Signal::Metrics), None);
    // Building for a signal without a URL fails, as Go's createMetrics does.
    let err = OtlpHttpExporter::new(
        ComponentId::parse("otlphttp").unwrap(),
        &cfg,
        &[Signal::Metrics],
        &Default::default(),
    )
    .err()
    .unwrap();
    assert!(
        err.to_string()
            .contains("either endpoint or metrics_endpoint must be specified"),
        "{err}"
    );
}

#[test]
fn every_confighttp_key_parses_and_unknown_keys_are_rejected() {
    parse(
        r#"
endpoint: https://collector:4318
traces_endpoint: https://collector:4318/v1/traces
metrics_endpoint: https://collector:4318/v1/metrics
logs_endpoint: https://collector:4318/v1/logs
profiles_endpoint: https://collector:4318/v1development/profiles
encoding: json
compression: zstd
compression_params: {level: 3}
headers: {authorization: "Bearer x"}
tls: {ca_file: /ca.pem, insecure_skip_verify: false, min_version: "1.3"}
proxy_url: http://proxy:3128
read_buffer_size: 0
write_buffer_size: 1024
max_idle_conns: 10
max_idle_conns_per_host: 5
max_conns_per_host: 0
idle_conn_timeout: 30s
disable_keep_alives: false
http2_read_idle_timeout: 10s
http2_ping_timeout: 5s
force_attempt_http2: false
cookies: {}
"#,
    )
    .unwrap();
    let errs = parse("endpoint: http://a:1\nencodng: json\ntls: {ca_fil: x}").unwrap_err();
    let msgs = messages(&errs);
    assert!(
        msgs[0].starts_with("encodng: unknown key \"encodng\"; did you mean \"encoding\"?"),
        "{msgs:?}"
    );
    assert!(msgs[1].starts_with("tls::ca_fil: unknown key"), "{msgs:?}");
    let errs = parse("endpoint: http://a:1\nencoding: xml").unwrap_err();
    assert_eq!(errs[0].path, vec!["encoding"]);
    let errs = parse("endpoint: collector:4318").unwrap_err();
    assert_eq!(errs[0].path, vec!["endpoint"], "a URL is needed: {errs:?}");
}

#[test]
fn compression_values() {
    for (text, c) in [
        ("gzip", Compression::Gzip),
        ("zstd", Compression::Zstd),
        ("snappy", Compression::Snappy),
        ("x-snappy-framed", Compression::SnappyFramed),
        ("deflate", Compression::Deflate),
        ("zlib", Compression::Zlib),
        ("none", Compression::None),
        ("''", Compression::None),
    ] {
        let cfg = parse(&format!("endpoint: http://a:1\ncompression: {text}")).unwrap();
        assert_eq!(cfg.compression(), c, "{text}");
    }
    let errs = parse("endpoint: http://a:1\ncompression: lz4").unwrap_err();
    assert!(
        messages(&errs)[0].contains("lz4 is not supported"),
        "{errs:?}"
    );
    assert!(parse("endpoint: http://a:1\ncompression: br").is_err());
    let errs = parse("endpoint: http://a:1\ncompression: gzip\ncompression_params: {level: 12}")
        .unwrap_err();
    assert_eq!(errs[0].path, vec!["compression_params", "level"]);
}

// ------------------------------------------------------------------------------ JSON

#[test]
fn json_is_otlp_json_with_hex_ids_and_string_int64() {
    let body = json::encode(&BatchData::Traces(traces(1)));
    let text = std::str::from_utf8(&body).unwrap();
    assert!(
        text.contains("\"traceId\":\"abababababababababababababababab\""),
        "{text}"
    );
    assert!(text.contains("\"spanId\":\"0101010101010101\""), "{text}");
    assert!(
        text.contains("\"startTimeUnixNano\":\"1700000000000000000\""),
        "{text}"
    );
    assert!(text.contains("\"intValue\":\"0\""), "{text}");
    assert!(text.contains("\"kind\":2"), "enums are numbers: {text}");
    assert!(!text.contains("null"), "{text}");
    assert!(
        !text.contains("parentSpanId"),
        "defaults are left out: {text}"
    );
    for data in [
        BatchData::Traces(traces(3)),
        BatchData::Metrics(metrics(3)),
        BatchData::Logs(logs(3)),
    ] {
        let signal = data.signal();
        assert_eq!(json_decode(signal, &json::encode(&data)), data, "{signal}");
    }
}

#[test]
fn json_writes_doubles_as_protojson_does() {
    // what Go's protojson writes for each (its `appendFloat`: 'f' with the shortest digits,
    // 'e' below 1e-6 and from 1e21 up, a one-digit negative exponent without its zero)
    for (v, want) in [
        (3.0, "3"),
        (-0.0, "-0"),
        (0.1, "0.1"),
        (1.5, "1.5"),
        (123456789.25, "123456789.25"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (-1.5e300, "-1.5e+300"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (2.5e-10, "2.5e-10"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
    ] {
        let mut req = traces(1);
        req.resource_spans[0].scope_spans[0].spans[0].attributes =
            vec![kv("d", any_value::Value::DoubleValue(v))];
        let text = String::from_utf8(json::encode(&BatchData::Traces(req))).unwrap();
        let field = format!(r#"{{"key":"d","value":{{"doubleValue":{want}}}}}"#);
        assert!(text.contains(&field), "{v:e}: {field} not in {text}");
    }
}

#[test]
fn json_keeps_non_finite_doubles_and_oneof_zero_values() {
    let mut req = traces(1);
    req.resource_spans[0].scope_spans[0].spans[0].attributes = vec![
        kv("nan", any_value::Value::DoubleValue(f64::NAN)),
        kv("inf", any_value::Value::DoubleValue(f64::NEG_INFINITY)),
        kv("zero", any_value::Value::DoubleValue(0.0)),
        kv("f", any_value::Value::BoolValue(false)),
        kv("s", any_value::Value::StringValue(String::new())),
        kv("b", any_value::Value::BytesValue(vec![0xff, 0x00])),
        kv("q", any_value::Value::StringValue("a\"b\\c\n\u{1}".into())),
    ];
    let text = String::from_utf8(json::encode(&BatchData::Traces(req))).unwrap();
    for want in [
        r#"{"key":"nan","value":{"doubleValue":"NaN"}}"#,
        r#"{"key":"inf","value":{"doubleValue":"-Infinity"}}"#,
        r#"{"key":"zero","value":{"doubleValue":0}}"#,
        r#"{"key":"f","value":{"boolValue":false}}"#,
        r#"{"key":"s","value":{"stringValue":""}}"#,
        r#"{"key":"b","value":{"bytesValue":"/wA="}}"#,
        r#"{"key":"q","value":{"stringValue":"a\"b\\c\n\u0001"}}"#,
    ] {
        assert!(text.contains(want), "{want} not in {text}");
    }
    let mut m = metrics(0);
    m.resource_metrics[0].scope_metrics[0].metrics = vec![Metric {
        name: "h".into(),
        data: Some(metric::Data::Histogram(Histogram {
            aggregation_temporality: 2,
            data_points: vec![HistogramDataPoint {
                count: 2,
                sum: Some(f64::INFINITY),
                bucket_counts: vec![1, 1],
                explicit_bounds: vec![f64::NAN],
                min: Some(0.0),
                exemplars: vec![Exemplar {
                    value: Some(exemplar::Value::AsDouble(f64::INFINITY)),
                    span_id: vec![7; 8],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })),
        ..Default::default()
    }];
    let text = String::from_utf8(json::encode(&BatchData::Metrics(m))).unwrap();
    assert!(
        text.contains(r#""count":"2","sum":"Infinity","bucketCounts":["1","1"],"explicitBounds":["NaN"],"exemplars":[{"asDouble":"Infinity","spanId":"0707070707070707"}],"min":0"#),
        "{text}"
    );
    assert!(text.contains(r#""aggregationTemporality":2"#), "{text}");
}

// ------------------------------------------------------------------------------ export

#[tokio::test]
async fn proto_and_json_bodies_decode_back_to_the_same_data() {
    let (server, rec) = http_server(false).await;
    for encoding in ["proto", "json"] {
        let e = exporter(&format!(
            "endpoint: http://{}\nencoding: {encoding}\nheaders: {{X-Scope-OrgID: t1}}",
            server.addr
        ));
        e.export(Batch::from_traces(traces(3))).await.unwrap();
        e.export(Batch::from_metrics(metrics(4))).await.unwrap();
        e.export(Batch::from_logs(logs(5))).await.unwrap();
        let got = rec.take();
        assert_eq!(got.len(), 3);
        let want_type = if encoding == "json" {
            "application/json"
        } else {
            "application/x-protobuf"
        };
        for (r, (path, signal, data)) in got.iter().zip([
            ("/v1/traces", Signal::Traces, BatchData::Traces(traces(3))),
            (
                "/v1/metrics",
                Signal::Metrics,
                BatchData::Metrics(metrics(4)),
            ),
            ("/v1/logs", Signal::Logs, BatchData::Logs(logs(5))),
        ]) {
            assert_eq!(r.path, path);
            assert_eq!(r.headers["content-type"], want_type);
            assert_eq!(r.headers["content-encoding"], "gzip", "gzip is the default");
            assert_eq!(r.headers["x-scope-orgid"], "t1");
            assert!(r.headers["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("Ferrotel/"));
            assert_eq!(decode(r, signal), data, "{encoding} {signal}");
        }
    }
}

#[tokio::test]
async fn a_batch_of_several_requests_goes_out_piece_by_piece_with_its_length() {
    // a batch put together from three received requests, as the `batch` processor hands
    // it on: sent uncompressed, its pieces go out one after the other (the large one as it
    // is, small ones gathered), not copied into one buffer first
    let (server, rec) = http_server(false).await;
    let wire = |n| {
        let bytes = Bytes::from(traces(n).encode_to_vec());
        Batch::from_wire(Signal::Traces, bytes, Default::default()).unwrap()
    };
    let parts = [wire(1), wire(250), wire(3)];
    assert!(
        parts[1].encode().len() > 16 * 1024,
        "one piece is sent as it is"
    );
    let whole: Vec<u8> = parts.iter().flat_map(Batch::encode).collect();
    let merged = Batch::merge(parts.to_vec()).unwrap();
    assert_eq!(merged.wire_pieces().map(<[Bytes]>::len), Some(3));
    for compression in ["none", "gzip"] {
        let e = exporter(&format!(
            "endpoint: http://{}\ncompression: {compression}",
            server.addr
        ));
        e.export(merged.clone()).await.unwrap();
        let got = rec.take();
        assert_eq!(got.len(), 1);
        let r = &got[0];
        // one length for the whole body, as one buffer has: not chunked
        assert_eq!(
            r.headers.get("content-length").map(|v| v.to_str().unwrap()),
            Some(r.body.len().to_string().as_str()),
            "{compression}"
        );
        assert!(
            !r.headers.contains_key("transfer-encoding"),
            "{compression}"
        );
        let encoding = r
            .headers
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        assert_eq!(decompress(&encoding, &r.body), whole, "{compression}");
    }
}

#[tokio::test]
async fn every_compression_arrives_decodable() {
    let (server, rec) = http_server(false).await;
    for c in [
        "none",
        "gzip",
        "zstd",
        "snappy",
        "x-snappy-framed",
        "deflate",
        "zlib",
    ] {
        let e = exporter(&format!(
            "endpoint: http://{}\ncompression: {c}",
            server.addr
        ));
        e.export(Batch::from_logs(logs(7))).await.unwrap();
        let got = rec.take();
        let enc = got[0].headers.get("content-encoding");
        if c == "none" {
            assert!(enc.is_none());
        } else {
            assert_eq!(enc.unwrap(), c);
        }
        assert_eq!(
            decode(&got[0], Signal::Logs),
            BatchData::Logs(logs(7)),
            "{c}"
        );
    }
}

#[tokio::test]
async fn per_signal_endpoints_override_the_base_url() {
    let (server, rec) = http_server(false).await;
    let e = exporter(&format!(
        "endpoint: http://{a}/otlp/\ntraces_endpoint: http://{a}/custom/spans",
        a = server.addr
    ));
    e.export(Batch::from_traces(traces(1))).await.unwrap();
    e.export(Batch::from_metrics(metrics(1))).await.unwrap();
    let paths: Vec<String> = rec.take().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, vec!["/custom/spans", "/otlp/v1/metrics"]);
    // Configured headers replace the exporter's own (Go's header round tripper runs last).
    let e = exporter(&format!(
        "endpoint: http://{}
headers: {{User-Agent: custom/1, Content-Type: application/x-protobuf; v=1}}",
        server.addr
    ));
    e.export(Batch::from_traces(traces(1))).await.unwrap();
    let got = rec.take();
    assert_eq!(got[0].headers["user-agent"], "custom/1");
    let types: Vec<_> = got[0].headers.get_all("content-type").iter().collect();
    assert_eq!(types, vec!["application/x-protobuf; v=1"]);
}

#[tokio::test]
async fn http_statuses_map_to_retryable_permanent_and_throttled() {
    let (server, rec) = http_server(false).await;
    let e = exporter(&format!("endpoint: http://{}", server.addr));
    let status_body = RpcStatus {
        code: 3,
        message: "bad span".into(),
        details: vec![],
    }
    .encode_to_vec();
    type Case = (u16, Vec<(&'static str, String)>, bool, Option<Duration>);
    let cases: Vec<Case> = vec![
        (400, vec![], false, None),
        (401, vec![], false, None),
        (404, vec![], false, None),
        (500, vec![], false, None),
        (502, vec![], true, None),
        (503, vec![], true, None),
        (504, vec![], true, None),
        (429, vec![], true, None),
        (
            429,
            vec![("retry-after", "7".into())],
            true,
            Some(Duration::from_secs(7)),
        ),
        (
            503,
            vec![("retry-after", "2".into())],
            true,
            Some(Duration::from_secs(2)),
        ),
        // Go honours Retry-After on 429 and 503 only.
        (502, vec![("retry-after", "9".into())], true, None),
    ];
    for (status, headers, retryable, after) in cases {
        rec.set_reply(HttpReply {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: status_body.clone(),
        });
        let err = e.export(Batch::from_traces(traces(1))).await.unwrap_err();
        assert_eq!(err.is_retryable(), retryable, "{status}: {err}");
        assert_eq!(err.retry_after(), after, "{status}");
        assert!(
            err.message()
                .contains(&format!("HTTP Status Code {status}")),
            "{err}"
        );
        assert!(err.message().contains("Message=bad span"), "{err}");
    }
    // A Retry-After HTTP date a minute ahead.
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(61));
    rec.set_reply(HttpReply {
        status: StatusCode::TOO_MANY_REQUESTS,
        headers: vec![("retry-after", date)],
        body: vec![],
    });
    let err = e.export(Batch::from_traces(traces(1))).await.unwrap_err();
    let after = err.retry_after().expect("throttled");
    assert!(
        after > Duration::from_secs(55) && after <= Duration::from_secs(61),
        "{after:?}"
    );
}

#[test]
fn retry_after_parses_seconds_and_http_dates() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
    let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
    assert_eq!(retry_after(&later, now), Some(Duration::from_secs(30)));
    let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
    assert_eq!(retry_after(&earlier, now), Some(Duration::ZERO));
    assert_eq!(retry_after("soon", now), None);
    let e = failure(
        "http://x/v1/traces",
        StatusCode::SERVICE_UNAVAILABLE,
        &HeaderMap::new(),
        b"not a status",
        now,
    );
    assert!(e.is_retryable());
    assert_eq!(
        e.message(),
        "error exporting items, request to http://x/v1/traces responded with HTTP Status Code 503"
    );
    // Go's error.type: the gRPC code its NewStatusFromMsgAndHTTPCode gives the HTTP status
    for (code, name) in [
        (StatusCode::SERVICE_UNAVAILABLE, "Unavailable"),
        (StatusCode::BAD_REQUEST, "InvalidArgument"),
        (StatusCode::TOO_MANY_REQUESTS, "ResourceExhausted"),
        (StatusCode::NOT_FOUND, "Unimplemented"),
        (StatusCode::INTERNAL_SERVER_ERROR, "Unknown"),
    ] {
        let e = failure("http://x/v1/traces", code, &HeaderMap::new(), b"", now);
        assert_eq!(e.error_type(), name, "{code}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn partial_success_is_ok_and_logged_as_a_warning() {
    let (server, rec) = http_server(false).await;
    let e = exporter(&format!("endpoint: http://{}", server.addr));
    let capture = LogCapture::start();
    rec.set_reply(HttpReply {
        status: StatusCode::OK,
        headers: vec![("content-type", "application/x-protobuf".into())],
        body: ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "too old".into(),
            }),
        }
        .encode_to_vec(),
    });
    e.export(Batch::from_traces(traces(4))).await.unwrap();
    rec.set_reply(HttpReply {
        status: StatusCode::OK,
        headers: vec![("content-type", "application/json".into())],
        body: br#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"dup"}}"#.to_vec(),
    });
    e.export(Batch::from_logs(logs(4))).await.unwrap();
    // An empty or unparseable 2xx body is still a success.
    rec.set_reply(HttpReply {
        status: StatusCode::OK,
        headers: vec![("content-type", "application/x-protobuf".into())],
        body: vec![0xff, 0xff, 0xff],
    });
    e.export(Batch::from_metrics(metrics(1))).await.unwrap();
    let text = capture.text();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Partial success response"))
        .collect();
    assert_eq!(warnings.len(), 2, "{text}");
    assert!(
        warnings[0].contains("dropped_spans=3") && warnings[0].contains("too old"),
        "{text}"
    );
    assert!(
        warnings[1].contains("dropped_log_records=2") && warnings[1].contains("dup"),
        "{text}"
    );
}

#[tokio::test]
async fn a_server_that_is_down_is_retryable() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let e = exporter(&format!("endpoint: http://{addr}"));
    let err = e.export(Batch::from_logs(logs(1))).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(
        err.message().starts_with("failed to make an HTTP request"),
        "{err}"
    );
}

#[tokio::test]
async fn https_verifies_with_ca_file_and_fails_without_it() {
    let (server, rec) = http_server(true).await;
    let url = format!("https://127.0.0.1:{}", server.addr.port());
    let e = exporter(&format!("endpoint: {url}\ntls: {{ca_file: '{CA}'}}"));
    e.export(Batch::from_traces(traces(2))).await.unwrap();
    let got = rec.take();
    assert_eq!(
        decode(&got[0], Signal::Traces),
        BatchData::Traces(traces(2))
    );
    let e = exporter(&format!("endpoint: {url}"));
    let err = e.export(Batch::from_traces(traces(1))).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.message().contains("certificate"), "{err}");
    let e = exporter(&format!(
        "endpoint: {url}\ntls: {{insecure_skip_verify: true}}"
    ));
    e.export(Batch::from_traces(traces(1))).await.unwrap();
    // Plain HTTP to the TLS server fails.
    let e = exporter(&format!(
        "endpoint: http://127.0.0.1:{}",
        server.addr.port()
    ));
    assert!(e.export(Batch::from_traces(traces(1))).await.is_err());
    assert_eq!(rec.take().len(), 1);
}

#[test]
fn json_round_trip_covers_every_metric_type() {
    use pipeline_api::proto::tonic::metrics::v1::{
        exponential_histogram_data_point::Buckets, summary_data_point::ValueAtQuantile,
        ExponentialHistogram, ExponentialHistogramDataPoint, Sum, Summary, SummaryDataPoint,
    };
    let mut m: ExportMetricsServiceRequest = metrics(2);
    let metrics_list = &mut m.resource_metrics[0].scope_metrics[0].metrics;
    metrics_list.push(Metric {
        name: "sum".into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: metrics(1).resource_metrics[0].scope_metrics[0].metrics[0]
                .data
                .clone()
                .map(|d| match d {
                    metric::Data::Gauge(g) => g.data_points,
                    _ => vec![],
                })
                .unwrap_or_default(),
            aggregation_temporality: 1,
            is_monotonic: true,
        })),
        ..Default::default()
    });
    metrics_list.push(Metric {
        name: "exp".into(),
        data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
            aggregation_temporality: 2,
            data_points: vec![ExponentialHistogramDataPoint {
                count: 3,
                sum: Some(4.5),
                scale: -2,
                zero_count: 1,
                positive: Some(Buckets {
                    offset: -3,
                    bucket_counts: vec![1, 1],
                }),
                zero_threshold: 0.25,
                ..Default::default()
            }],
        })),
        ..Default::default()
    });
    metrics_list.push(Metric {
        name: "summary".into(),
        data: Some(metric::Data::Summary(Summary {
            data_points: vec![SummaryDataPoint {
                count: 2,
                sum: 3.0,
                quantile_values: vec![ValueAtQuantile {
                    quantile: 0.5,
                    value: 1.5,
                }],
                ..Default::default()
            }],
        })),
        ..Default::default()
    });
    let data = BatchData::Metrics(m);
    assert_eq!(json_decode(Signal::Metrics, &json::encode(&data)), data);
    let t: ExportTraceServiceRequest = traces(2);
    let l: ExportLogsServiceRequest = logs(2);
    assert_eq!(
        json_decode(Signal::Traces, &json::encode(&BatchData::Traces(t.clone()))),
        BatchData::Traces(t)
    );
    assert_eq!(
        json_decode(Signal::Logs, &json::encode(&BatchData::Logs(l.clone()))),
        BatchData::Logs(l)
    );
}

#[test]
fn a_413_or_gos_request_body_too_large_is_marked_too_large() {
    let now = std::time::SystemTime::now();
    let headers = http::HeaderMap::new();
    let err = super::failure(
        "http://x/v1/logs",
        StatusCode::PAYLOAD_TOO_LARGE,
        &headers,
        b"",
        now,
    );
    assert!(err.is_too_large(), "{err}");
    let go_body = RpcStatus {
        code: 3,
        message: "http: request body too large".into(),
        details: vec![],
    }
    .encode_to_vec();
    let err = super::failure(
        "http://x/v1/logs",
        StatusCode::BAD_REQUEST,
        &headers,
        &go_body,
        now,
    );
    assert!(err.is_too_large(), "{err}");
    let err = super::failure(
        "http://x/v1/logs",
        StatusCode::BAD_REQUEST,
        &headers,
        b"",
        now,
    );
    assert!(!err.is_too_large(), "{err}");
    assert!(!err.is_retryable());
}
