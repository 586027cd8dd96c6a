//! The `otlp` exporter's tests: config (defaults, unknown keys, compression, endpoints,
//! TLS on by default), and export against an in-process recording gRPC server on
//! 127.0.0.1 port 0: data, metadata, compression, status classification, partial success,
//! and client TLS.

use std::time::Duration;

use pipeline_api::config::{parse_typed, ConfigError, ConfigValue};
use pipeline_api::{Batch, ComponentId, ErrorKind, RequestContext};
use tonic::Code;

use super::{factory, Config, OtlpExporter};
use crate::common::testutil::{
    grpc_server, logs, metrics, traces, LogCapture, Recorder, Reply, CA,
};
use pipeline_api::Exporter;
use prost::Message;
use transport::compression::Compression;

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).unwrap()
}

fn parse(s: &str) -> Result<Config, Vec<ConfigError>> {
    parse_typed::<Config>(&yaml(s))
}

fn messages(errs: &[ConfigError]) -> Vec<String> {
    errs.iter().map(|e| e.to_string()).collect()
}

fn id() -> ComponentId {
    ComponentId::parse("otlp/test").unwrap()
}

fn exporter(yaml_text: &str) -> OtlpExporter {
    let cfg = parse(yaml_text).unwrap();
    OtlpExporter::new(id(), &cfg, &Default::default()).unwrap()
}

/// The batch as received bytes, in pieces of `per` items at most, as `batch` merges
/// requests: an exporter without compression sends the pieces as they are.
fn wire(b: Batch, per: usize) -> Batch {
    let pieces = b.split(per).into_iter().map(|p| {
        Batch::from_wire(
            p.signal(),
            bytes::Bytes::from(p.encode()),
            RequestContext::default(),
        )
        .unwrap()
    });
    let merged = Batch::merge(pieces.collect()).unwrap();
    assert!(merged.is_wire());
    merged
}

type BatchMaker = fn(Batch) -> Batch;

/// The two ways a batch goes out: encoded by tonic's codec (compressed, or decoded data),
/// and as its wire pieces (`compression: none`, received bytes). Each test that goes through
/// both gets the endpoint keys and a batch maker.
fn both_paths(endpoint: &str) -> [(String, BatchMaker); 2] {
    [
        (endpoint.to_string(), |b| b),
        (format!("{endpoint}compression: none\n"), |b| wire(b, 1)),
    ]
}

// ------------------------------------------------------------------------------ config

#[test]
fn defaults_are_gos_and_need_an_endpoint() {
    let cfg = parse("endpoint: tempo:4317").unwrap();
    // Go createDefaultConfig: gzip, write buffer 512 KiB, keepalive off, TLS on.
    assert_eq!(cfg.compression(), Compression::Gzip);
    assert_eq!(cfg.grpc.write_buffer_size, 512 * 1024);
    assert_eq!(cfg.grpc.keepalive, None);
    assert!(cfg.grpc.tls.enabled(), "TLS is on unless tls::insecure");
    assert!(!cfg.grpc.wait_for_ready);
    // Go Config.Validate: `requires a non-empty "endpoint"`.
    let errs = parse("").unwrap_err();
    assert_eq!(messages(&errs), vec!["requires a non-empty \"endpoint\""]);
    let errs = parse("endpoint: https://").unwrap_err();
    assert!(messages(&errs)[0].starts_with("endpoint: "), "{errs:?}");
}

#[test]
fn otlp_grpc_is_a_non_deprecated_alias() {
    assert_eq!(factory().type_name(), "otlp");
    assert_eq!(factory().aliases(), &[("otlp_grpc", false)]);
}

#[test]
fn unknown_keys_are_rejected_with_their_path() {
    let errs =
        parse("endpoint: a:1\ntls: {insecure_skip_verfy: true}\nkeepalive: {tme: 1s}\nbogus: 1")
            .unwrap_err();
    let msgs = messages(&errs);
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert!(msgs[0].starts_with("bogus: unknown key"), "{msgs:?}");
    assert!(
        msgs[1].starts_with("keepalive::tme: unknown key \"tme\"; did you mean \"time\"?"),
        "{msgs:?}"
    );
    assert!(
        msgs[2].starts_with(
            "tls::insecure_skip_verfy: unknown key \"insecure_skip_verfy\"; did you mean \"insecure_skip_verify\"?"
        ),
        "{msgs:?}"
    );
    // The runtime owns these and removes them first; here they are unknown.
    assert!(parse("endpoint: a:1\ntimeout: 5s").is_err());
}

#[test]
fn every_configgrpc_key_parses() {
    let cfg = parse(
        r#"
endpoint: https://collector.example:4317
compression: zstd
tls:
  insecure: false
  insecure_skip_verify: true
  ca_file: /etc/ca.pem
  include_system_ca_certs_pool: true
  server_name_override: collector
  min_version: "1.2"
  max_version: "1.3"
  reload_interval: 1h
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]
  curve_preferences: [X25519, P256]
keepalive:
  time: 20s
  timeout: 5s
  permit_without_stream: true
read_buffer_size: 1024
write_buffer_size: 2048
wait_for_ready: true
headers:
  x-scope-orgid: tenant-1
  x-number: 123
balancer_name: round_robin
authority: collector.internal
"#,
    )
    .unwrap();
    assert_eq!(cfg.compression(), Compression::Zstd);
    assert_eq!(
        cfg.grpc.headers.0,
        vec![
            ("x-scope-orgid".to_string(), "tenant-1".to_string()),
            ("x-number".to_string(), "123".to_string())
        ]
    );
    let k = cfg.grpc.keepalive.unwrap();
    assert_eq!(k.time.get(), Duration::from_secs(20));
    assert!(k.permit_without_stream);
    // `keepalive:` with no value enables Go's defaults (10s / 10s).
    let cfg = parse("endpoint: a:1\nkeepalive:").unwrap();
    assert_eq!(
        cfg.grpc.keepalive.unwrap().timeout.get(),
        Duration::from_secs(10)
    );
    // Headers in Go's list form.
    let cfg = parse("endpoint: a:1\nheaders: [{name: a, value: b}]").unwrap();
    assert_eq!(cfg.grpc.headers.0, vec![("a".to_string(), "b".to_string())]);
}

#[test]
fn compression_values() {
    for ok in ["gzip", "zstd", "none", "''"] {
        parse(&format!("endpoint: a:1\ncompression: {ok}")).unwrap();
    }
    assert_eq!(
        parse("endpoint: a:1\ncompression: none")
            .unwrap()
            .compression(),
        Compression::None
    );
    let errs = parse("endpoint: a:1\ncompression: snappy").unwrap_err();
    assert!(
        messages(&errs)[0].contains("snappy is not supported over gRPC"),
        "{errs:?}"
    );
    for bad in ["deflate", "lz4", "zlib"] {
        let errs = parse(&format!("endpoint: a:1\ncompression: {bad}")).unwrap_err();
        assert_eq!(errs[0].path, vec!["compression"], "{bad}");
    }
    let errs = parse("endpoint: a:1\ncompression: brotli").unwrap_err();
    assert!(
        messages(&errs)[0].contains("unsupported compression type \"brotli\""),
        "{errs:?}"
    );
}

#[test]
fn endpoint_forms_follow_configgrpc() {
    for ok in [
        "collector:4317",
        "http://collector:4317",
        "https://collector:4317",
        "dns:///collector:4317",
        "[::1]:4317",
        "127.0.0.1:4317",
    ] {
        parse(&format!("endpoint: '{ok}'")).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
    }
    for bad in ["collector", "collector:http", "::1:4317", "unix:///tmp/s"] {
        let errs = parse(&format!("endpoint: '{bad}'")).unwrap_err();
        assert_eq!(errs[0].path, vec!["endpoint"], "{bad}: {errs:?}");
    }
}

#[test]
fn invalid_tls_headers_and_balancer_are_reported() {
    let errs = parse(
        "endpoint: a:1\ntls: {cert_file: /c.pem, ca_file: /a, ca_pem: x, min_version: '1.4'}\nheaders: {'bad header': x}\nbalancer_name: random",
    )
    .unwrap_err();
    let msgs = messages(&errs).join("\n");
    assert!(msgs.contains("both certificate and key"), "{msgs}");
    assert!(
        msgs.contains("tls::ca_file: provide either a CA file"),
        "{msgs}"
    );
    assert!(
        msgs.contains("tls::min_version: invalid TLS min_version"),
        "{msgs}"
    );
    assert!(msgs.contains("headers::bad header"), "{msgs}");
    assert!(msgs.contains("invalid balancer_name: random"), "{msgs}");
}

#[test]
fn build_spawns_nothing_and_needs_no_runtime() {
    // Outside any tokio runtime: building must neither spawn nor connect.
    let e = exporter("endpoint: 127.0.0.1:1\ntls: {insecure: true}");
    drop(e);
    let cfg = parse("endpoint: a:1\nauth: {authenticator: oauth2client}").unwrap();
    let err = OtlpExporter::new(id(), &cfg, &Default::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains(
        "auth: failed to resolve authenticator \"oauth2client\": authenticator not found"
    ));
    let cfg = parse("endpoint: a:1\ntls: {ca_file: /nonexistent/ca.pem}").unwrap();
    let err = OtlpExporter::new(id(), &cfg, &Default::default())
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("failed to load TLS config"),
        "{err}"
    );
}

// ------------------------------------------------------------------------------ export

async fn plaintext() -> (
    crate::common::testutil::TestServer,
    std::sync::Arc<Recorder>,
    String,
) {
    let (server, rec) = grpc_server(false).await;
    let endpoint = format!("endpoint: {}\ntls: {{insecure: true}}\n", server.addr);
    (server, rec, endpoint)
}

#[tokio::test]
async fn data_arrives_identical_with_headers_as_metadata_and_gzip() {
    let (_server, rec, endpoint) = plaintext().await;
    let e = exporter(&format!(
        "{endpoint}headers: {{X-Scope-OrgID: tenant-1, x-n: 7}}"
    ));
    e.start().await.unwrap();
    e.export(Batch::from_traces(traces(3))).await.unwrap();
    e.export(Batch::from_metrics(metrics(4))).await.unwrap();
    e.export(Batch::from_logs(logs(5))).await.unwrap();
    assert_eq!(*rec.traces.lock().unwrap(), vec![traces(3)]);
    assert_eq!(*rec.metrics.lock().unwrap(), vec![metrics(4)]);
    assert_eq!(*rec.logs.lock().unwrap(), vec![logs(5)]);
    let h = rec.last_headers();
    // Go lower-cases metadata names (metadata.New).
    assert_eq!(h["x-scope-orgid"], "tenant-1");
    assert_eq!(h["x-n"], "7");
    assert_eq!(h["grpc-encoding"], "gzip", "gzip is the default");
    assert!(h["user-agent"].to_str().unwrap().starts_with("Ferrotel/"));
    // An empty batch sends nothing.
    e.export(Batch::from_traces(Default::default()))
        .await
        .unwrap();
    assert_eq!(rec.traces.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn received_bytes_go_out_as_they_are_with_the_same_headers() {
    let (_server, rec, endpoint) = plaintext().await;
    let e = exporter(&format!(
        "{endpoint}compression: none\nheaders: {{X-Scope-OrgID: tenant-1, te: nope, content-type: text/plain}}"
    ));
    // one piece, many small pieces (gathered), and pieces of several sizes: what arrives
    // is the batch's bytes
    let sent = [
        wire(Batch::from_traces(traces(3)), 3),
        wire(Batch::from_metrics(metrics(4)), 1),
        wire(Batch::from_logs(logs(500)), 7),
        wire(Batch::from_traces(traces(250)), 40),
    ];
    for b in &sent {
        e.export(b.clone()).await.unwrap();
    }
    let traces_in = rec.traces.lock().unwrap().clone();
    let metrics_in = rec.metrics.lock().unwrap().clone();
    let logs_in = rec.logs.lock().unwrap().clone();
    assert_eq!(traces_in.len(), 2);
    let arrived = [
        traces_in[0].encode_to_vec(),
        metrics_in[0].encode_to_vec(),
        logs_in[0].encode_to_vec(),
        traces_in[1].encode_to_vec(),
    ];
    for (b, got) in sent.iter().zip(arrived) {
        assert_eq!(b.encode(), got);
    }
    let h = rec.last_headers();
    assert_eq!(h["x-scope-orgid"], "tenant-1");
    assert_eq!(h["content-type"], "application/grpc");
    assert_eq!(h["te"], "trailers");
    assert!(h.get("grpc-encoding").is_none());
    assert!(h["user-agent"].to_str().unwrap().starts_with("Ferrotel/"));
    assert_eq!(
        rec.authorities.lock().unwrap().last().unwrap(),
        &_server.addr.to_string()
    );
    // the same through tonic's codec, for comparison
    let gz = exporter(&format!("{endpoint}headers: {{X-Scope-OrgID: tenant-1}}"));
    gz.export(Batch::from_traces(traces(3))).await.unwrap();
    let g = rec.last_headers();
    for name in [
        "content-type",
        "te",
        "x-scope-orgid",
        "grpc-accept-encoding",
    ] {
        assert_eq!(g[name], h[name], "{name}");
    }
}

#[tokio::test]
async fn zstd_and_uncompressed_requests() {
    let (_server, rec, endpoint) = plaintext().await;
    let e = exporter(&format!("{endpoint}compression: zstd"));
    e.export(Batch::from_traces(traces(2))).await.unwrap();
    assert_eq!(rec.last_headers()["grpc-encoding"], "zstd");
    let e = exporter(&format!("{endpoint}compression: none"));
    e.export(Batch::from_traces(traces(2))).await.unwrap();
    assert!(rec.last_headers().get("grpc-encoding").is_none());
    assert_eq!(*rec.traces.lock().unwrap(), vec![traces(2), traces(2)]);
}

#[tokio::test]
async fn authority_overrides_the_http2_authority() {
    let (_server, rec, endpoint) = plaintext().await;
    let e = exporter(&format!("{endpoint}authority: collector.internal:4317"));
    e.export(Batch::from_logs(logs(1))).await.unwrap();
    assert_eq!(rec.logs.lock().unwrap().len(), 1);
    assert_eq!(
        rec.authorities.lock().unwrap().last().unwrap(),
        "collector.internal:4317"
    );
    let e = exporter(&endpoint);
    e.export(Batch::from_logs(logs(1))).await.unwrap();
    assert_eq!(
        rec.authorities.lock().unwrap().last().unwrap(),
        &_server.addr.to_string()
    );
}

#[tokio::test]
async fn grpc_status_codes_map_to_retryable_or_permanent_as_the_otlp_spec_says() {
    let (_server, rec, endpoint) = plaintext().await;
    for (keys, batch) in both_paths(&endpoint) {
        let e = exporter(&keys);
        let cases = [
            (Code::Cancelled, ErrorKind::Retryable),
            (Code::DeadlineExceeded, ErrorKind::Retryable),
            (Code::Aborted, ErrorKind::Retryable),
            (Code::OutOfRange, ErrorKind::Retryable),
            (Code::Unavailable, ErrorKind::Retryable),
            (Code::DataLoss, ErrorKind::Retryable),
            (Code::ResourceExhausted, ErrorKind::Permanent),
            (Code::Unknown, ErrorKind::Permanent),
            (Code::InvalidArgument, ErrorKind::Permanent),
            (Code::NotFound, ErrorKind::Permanent),
            (Code::AlreadyExists, ErrorKind::Permanent),
            (Code::PermissionDenied, ErrorKind::Permanent),
            (Code::FailedPrecondition, ErrorKind::Permanent),
            (Code::Unimplemented, ErrorKind::Permanent),
            (Code::Internal, ErrorKind::Permanent),
            (Code::Unauthenticated, ErrorKind::Permanent),
        ];
        for (code, kind) in cases {
            rec.set_reply(Reply::Fail(code, None));
            let err = e
                .export(batch(Batch::from_traces(traces(1))))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), kind, "{code:?}: {err}");
            assert_eq!(err.retry_after(), None, "{code:?}");
            assert!(err.message().contains("test failure"), "{err}");
        }
    }
}

#[tokio::test]
async fn resource_exhausted_is_retryable_only_with_retry_info_whose_delay_is_the_throttle() {
    let (_server, rec, endpoint) = plaintext().await;
    for (keys, batch) in both_paths(&endpoint) {
        let e = exporter(&keys);
        rec.set_reply(Reply::Fail(
            Code::ResourceExhausted,
            Some(Duration::from_millis(3500)),
        ));
        let err = e
            .export(batch(Batch::from_metrics(metrics(1))))
            .await
            .unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert_eq!(err.retry_after(), Some(Duration::from_millis(3500)));
        rec.set_reply(Reply::Fail(Code::ResourceExhausted, None));
        let err = e
            .export(batch(Batch::from_metrics(metrics(1))))
            .await
            .unwrap_err();
        assert!(!err.is_retryable(), "{err}");
        // RetryInfo on another retryable code is honoured too (Go processError).
        rec.set_reply(Reply::Fail(Code::Unavailable, Some(Duration::from_secs(2))));
        let err = e
            .export(batch(Batch::from_logs(logs(1))))
            .await
            .unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
        // A zero delay is no throttle, but RESOURCE_EXHAUSTED is still retryable.
        rec.set_reply(Reply::Fail(Code::ResourceExhausted, Some(Duration::ZERO)));
        let err = e
            .export(batch(Batch::from_logs(logs(1))))
            .await
            .unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), None);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn partial_success_is_ok_and_logged_as_a_warning() {
    let (_server, rec, endpoint) = plaintext().await;
    for (keys, batch) in both_paths(&endpoint) {
        let e = exporter(&keys);
        let logs_capture = LogCapture::start();
        rec.set_reply(Reply::Partial(2, "2 spans too old".into()));
        e.export(batch(Batch::from_traces(traces(3))))
            .await
            .unwrap();
        rec.set_reply(Reply::Partial(0, String::new()));
        e.export(batch(Batch::from_metrics(metrics(3))))
            .await
            .unwrap();
        rec.set_reply(Reply::Partial(1, String::new()));
        e.export(batch(Batch::from_logs(logs(3)))).await.unwrap();
        let text = logs_capture.text();
        let warnings: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("Partial success response"))
            .collect();
        assert_eq!(warnings.len(), 2, "{text}");
        assert!(warnings[0].contains("WARN"), "{text}");
        assert!(warnings[0].contains("dropped_spans=2"), "{text}");
        assert!(warnings[0].contains("2 spans too old"), "{text}");
        assert!(warnings[1].contains("dropped_log_records=1"), "{text}");
    }
}

#[tokio::test]
async fn a_server_that_is_down_is_a_retryable_error() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    for (keys, batch) in both_paths(&format!("endpoint: {addr}\ntls: {{insecure: true}}\n")) {
        let e = exporter(&keys);
        let err = e
            .export(batch(Batch::from_traces(traces(1))))
            .await
            .unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert!(err.message().contains("Unavailable"), "{err}");
    }
}

#[tokio::test]
async fn wait_for_ready_waits_for_the_server_to_come_up() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    for (keys, batch) in both_paths(&format!(
        "endpoint: {addr}\ntls: {{insecure: true}}\nwait_for_ready: true\n"
    )) {
        let e = exporter(&keys);
        // Bounded by the caller's timeout, as the runtime bounds every attempt.
        let r = tokio::time::timeout(
            Duration::from_millis(400),
            e.export(batch(Batch::from_traces(traces(1)))),
        )
        .await;
        assert!(
            r.is_err(),
            "wait_for_ready keeps waiting while the server is down"
        );
    }
}

// ------------------------------------------------------------------------------ TLS

#[tokio::test]
async fn tls_with_ca_file_connects() {
    let (server, rec) = grpc_server(true).await;
    let e = exporter(&format!(
        "endpoint: 127.0.0.1:{}\ntls: {{ca_file: '{CA}'}}",
        server.addr.port()
    ));
    e.export(Batch::from_traces(traces(2))).await.unwrap();
    assert_eq!(*rec.traces.lock().unwrap(), vec![traces(2)]);
    // The name verified can be overridden (the certificate is for localhost).
    let e = exporter(&format!(
        "endpoint: 127.0.0.1:{}\ntls: {{ca_file: '{CA}', server_name_override: localhost}}",
        server.addr.port()
    ));
    e.export(Batch::from_traces(traces(1))).await.unwrap();
    let e = exporter(&format!(
        "endpoint: 127.0.0.1:{}\ntls: {{ca_file: '{CA}', server_name_override: other.example}}",
        server.addr.port()
    ));
    let err = e.export(Batch::from_traces(traces(1))).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    // insecure_skip_verify connects without the CA.
    let e = exporter(&format!(
        "endpoint: https://127.0.0.1:{}\ntls: {{insecure_skip_verify: true}}",
        server.addr.port()
    ));
    e.export(Batch::from_traces(traces(1))).await.unwrap();
    assert_eq!(rec.traces.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn tls_without_ca_file_fails_against_the_system_roots() {
    let (server, rec) = grpc_server(true).await;
    let e = exporter(&format!("endpoint: 127.0.0.1:{}", server.addr.port()));
    let err = e.export(Batch::from_traces(traces(1))).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.message().contains("certificate"), "{err}");
    assert!(rec.traces.lock().unwrap().is_empty());
}

#[tokio::test]
async fn insecure_against_a_tls_server_fails() {
    let (server, rec) = grpc_server(true).await;
    let e = exporter(&format!(
        "endpoint: 127.0.0.1:{}\ntls: {{insecure: true}}",
        server.addr.port()
    ));
    assert!(e.export(Batch::from_traces(traces(1))).await.is_err());
    assert!(rec.traces.lock().unwrap().is_empty());
}

#[tokio::test]
async fn default_tls_against_a_plaintext_server_fails() {
    let (server, rec) = grpc_server(false).await;
    for endpoint in [
        format!("127.0.0.1:{}", server.addr.port()),
        // As in Go, an http:// prefix does not turn TLS off.
        format!("http://127.0.0.1:{}", server.addr.port()),
    ] {
        let e = exporter(&format!("endpoint: {endpoint}\ntls: {{ca_file: '{CA}'}}"));
        let err = e.export(Batch::from_traces(traces(1))).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
    }
    assert!(rec.traces.lock().unwrap().is_empty());
    // tls::insecure with a CA keeps TLS on (Go LoadTLSConfig: insecure && !hasCA).
    let cfg = parse(&format!(
        "endpoint: 127.0.0.1:{}\ntls: {{insecure: true, ca_file: '{CA}'}}",
        server.addr.port()
    ))
    .unwrap();
    assert!(cfg.grpc.tls.enabled());
}

// ------------------------------------------------------------------------------ lifecycle

#[tokio::test]
async fn each_factory_builds_starts_exports_and_shuts_down_twice() {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use pipeline_api::telemetry::ComponentTelemetry;
    use pipeline_api::{BuildContext, ComponentKind, ExporterFactory, Signal};

    use crate::common::testutil::http_server;

    let (grpc, grpc_rec) = grpc_server(false).await;
    let (http, http_rec) = http_server(false).await;
    let cases: Vec<(std::sync::Arc<dyn ExporterFactory>, String, Vec<Signal>)> = vec![
        (
            factory(),
            format!("endpoint: {}\ntls: {{insecure: true}}", grpc.addr),
            Signal::ALL.to_vec(),
        ),
        (
            crate::otlphttp::factory(),
            format!("endpoint: http://{}", http.addr),
            Signal::ALL.to_vec(),
        ),
        (
            crate::jaeger::factory(),
            format!("endpoint: {}\ntls: {{insecure: true}}", grpc.addr),
            vec![Signal::Traces],
        ),
    ];
    for (factory, config, signals) in cases {
        let cfg = factory.parse_config(&yaml(&config)).unwrap();
        let id = ComponentId::parse(factory.type_name()).unwrap();
        let ctx = BuildContext {
            telemetry: ComponentTelemetry::detached(ComponentKind::Exporter, &id),
            id,
            signals,
            extensions: Arc::new(BTreeMap::new()),
            memory: Default::default(),
        };
        let e = factory.build(ctx, cfg.as_ref()).unwrap();
        for _ in 0..2 {
            e.start().await.unwrap();
            e.export(Batch::from_traces(traces(1))).await.unwrap();
            e.shutdown().await;
        }
    }
    assert_eq!(grpc_rec.traces.lock().unwrap().len(), 2);
    assert_eq!(grpc_rec.jaeger.lock().unwrap().len(), 2);
    assert_eq!(http_rec.take().len(), 2);
}

#[test]
fn a_message_refused_for_its_size_is_marked_too_large_and_other_refusals_are_not() {
    use crate::common::grpc::classify;
    use tonic::Status;
    let too_large = [
        // grpc-go (Go collector's receivers)
        (Code::ResourceExhausted, "grpc: received message larger than max (5242880 vs. 4194304)"),
        (Code::ResourceExhausted, "grpc: received message after decompression larger than max (5242880 vs. 4194304)"),
        // tonic
        (Code::OutOfRange, "Error, decoded message length too large: found 5242880 bytes, the limit is: 4194304 bytes"),
        (Code::ResourceExhausted, "Error decompressing: size limit, of 4194304 bytes, exceeded while decompressing message"),
    ];
    for (code, message) in too_large {
        let err = classify(&Status::new(code, message), "log data");
        assert!(err.is_too_large(), "{code:?} {message}: {err}");
        assert!(!err.is_retryable(), "{err}");
    }
    for (code, message) in [
        (Code::ResourceExhausted, "memory limiter: data refused"),
        (Code::OutOfRange, "seek past end"),
        (Code::InvalidArgument, "message larger than max"),
    ] {
        let err = classify(&Status::new(code, message), "log data");
        assert!(!err.is_too_large(), "{code:?} {message}: {err}");
    }
    // Go's error.type of a failure is the gRPC code's name
    for (code, name) in [
        (Code::Unavailable, "Unavailable"),
        (Code::ResourceExhausted, "ResourceExhausted"),
        (Code::InvalidArgument, "InvalidArgument"),
        (Code::DeadlineExceeded, "DeadlineExceeded"),
        (Code::Cancelled, "Canceled"),
    ] {
        assert_eq!(
            classify(&Status::new(code, "x"), "log data").error_type(),
            name
        );
    }
}
