//! The Go collector oracle against Ferrotel for the authenticator extensions (`basicauth`,
//! `bearertokenauth`): the same requests, with every kind of credential and mistake, get
//! the same answers from both collectors' `otlp` receivers (HTTP status, content type and
//! `google.rpc.Status`; gRPC code and message); and each collector's exporters, with a
//! client authenticator, get their spans into the other collector's guarded receiver.

use std::path::Path;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::Value;

use crate::compat::{oracle, verdict};
use crate::harness::{self, Collector};
use crate::sink;

/// Users for `basicauth` in the encodings Go reads: `openssl passwd -apr1` ("pass-1"),
/// go-htpasswd's bcrypt test vector ("bar"), a plain password.
const HTPASSWD: &str = "apr1user:$apr1$Xy1zAb9q$Cgm1teZlXT4CAnNqiGym90\\nbcryptuser:$2y$05$bWBMg3oUStnhfy5rFvoyreviPySU6hvEmBub5wIlM/D.c5FeYJQ6O\\nplainuser:plain-pw\\n";

fn server_config(basic: u16, bearer: u16, grpc: u16, zipkin: u16, jaeger: u16) -> String {
    format!(
        r#"
extensions:
  basicauth/in:
    htpasswd:
      inline: "{HTPASSWD}"
  bearertokenauth/in:
    scheme: Token
    tokens: [t1, t2]
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{basic}
        auth: {{authenticator: basicauth/in}}
      grpc:
        endpoint: 127.0.0.1:{grpc}
        auth: {{authenticator: bearertokenauth/in}}
  otlp/bearer:
    protocols:
      http:
        endpoint: 127.0.0.1:{bearer}
        auth: {{authenticator: bearertokenauth/in, request_params: [authorization]}}
  zipkin:
    endpoint: 127.0.0.1:{zipkin}
    auth: {{authenticator: basicauth/in}}
  jaeger:
    protocols:
      thrift_http:
        endpoint: 127.0.0.1:{jaeger}
        auth: {{authenticator: bearertokenauth/in}}
exporters:
  nop:
service:
  extensions: [basicauth/in, bearertokenauth/in]
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp, otlp/bearer, zipkin, jaeger], exporters: [nop]}}
"#
    )
}

fn basic(user_password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_password)
    )
}

/// One span, as the request both receivers get.
fn request() -> ExportTraceServiceRequest {
    let mut r = ExportTraceServiceRequest::default();
    let span = opentelemetry_proto::tonic::trace::v1::Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "guarded".into(),
        ..Default::default()
    };
    r.resource_spans
        .push(opentelemetry_proto::tonic::trace::v1::ResourceSpans {
            scope_spans: vec![opentelemetry_proto::tonic::trace::v1::ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        });
    r
}

/// What a request got: status, content type, the body (a JSON body parsed, since Go's
/// protojson varies its spacing; a protobuf `google.rpc.Status` decoded).
async fn post(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    content_type: Option<&str>,
) -> String {
    let body = match content_type {
        Some("application/x-protobuf") => request().encode_to_vec(),
        _ => br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01010101010101010101010101010101","spanId":"0202020202020202","name":"guarded"}]}]}]}"#.to_vec(),
    };
    post_body(port, path, headers, content_type, body).await
}

async fn post_body(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    content_type: Option<&str>,
    body: Vec<u8>,
) -> String {
    let mut req = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}{path}"))
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("the receiver answers");
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = resp.bytes().await.unwrap();
    let body = if ct.starts_with("application/json") {
        serde_json::from_slice::<Value>(&bytes)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned())
    } else if ct.starts_with("application/x-protobuf") {
        match transport::status::RpcStatus::decode(&bytes[..]) {
            Ok(s) if s.code != 0 => format!("status {} {:?}", s.code, s.message),
            _ => format!("{} protobuf bytes", bytes.len()),
        }
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!("{status} {ct} {body}")
}

async fn grpc(port: u16, authorization: Option<&str>) -> String {
    let mut client = TraceServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("connect");
    let mut req = tonic::Request::new(request());
    if let Some(a) = authorization {
        req.metadata_mut()
            .insert("authorization", a.parse().unwrap());
    }
    match client.export(req).await {
        Ok(_) => "ok".into(),
        Err(s) => format!("{:?} {:?}", s.code(), s.message()),
    }
}

/// Every answer of one collector, in order.
async fn answers(program: &Path, name: &str) -> Vec<String> {
    let (basic_port, bearer_port, grpc_port) = (
        harness::free_port(),
        harness::free_port(),
        harness::free_port(),
    );
    let (zipkin_port, jaeger_port) = (harness::free_port(), harness::free_port());
    let config = server_config(basic_port, bearer_port, grpc_port, zipkin_port, jaeger_port);
    let program = program.to_path_buf();
    let name = name.to_string();
    let collector = tokio::task::spawn_blocking(move || {
        Collector::start_program(&program, &name, &config, &[])
    })
    .await
    .unwrap();
    let json = Some("application/json");
    let proto = Some("application/x-protobuf");
    let mut out = Vec::new();
    for (what, port, path, headers, ct) in [
        ("no credentials", basic_port, "/v1/traces", vec![], json),
        (
            "no credentials, no content type",
            basic_port,
            "/v1/traces",
            vec![],
            None,
        ),
        (
            "no credentials, text",
            basic_port,
            "/v1/traces",
            vec![],
            Some("text/plain"),
        ),
        (
            "no credentials, unknown path",
            basic_port,
            "/v1/nothing",
            vec![],
            json,
        ),
        (
            "a bearer token",
            basic_port,
            "/v1/traces",
            vec![("authorization", "Bearer x".to_string())],
            json,
        ),
        (
            "bad base64",
            basic_port,
            "/v1/traces",
            vec![("authorization", "Basic !!!".to_string())],
            proto,
        ),
        (
            "no colon",
            basic_port,
            "/v1/traces",
            vec![("authorization", basic("apr1user"))],
            json,
        ),
        (
            "a wrong password",
            basic_port,
            "/v1/traces",
            vec![("authorization", basic("apr1user:nope"))],
            proto,
        ),
        (
            "an unknown user",
            basic_port,
            "/v1/traces",
            vec![("authorization", basic("eve:pass-1"))],
            json,
        ),
        (
            "apr1",
            basic_port,
            "/v1/traces",
            vec![("authorization", basic("apr1user:pass-1"))],
            proto,
        ),
        (
            "bcrypt",
            basic_port,
            "/v1/traces",
            vec![("authorization", basic("bcryptuser:bar"))],
            json,
        ),
        (
            "plain, scheme in lower case",
            basic_port,
            "/v1/traces",
            vec![(
                "authorization",
                basic("plainuser:plain-pw").replace("Basic", "basic"),
            )],
            json,
        ),
        (
            "token",
            bearer_port,
            "/v1/traces",
            vec![("authorization", "Token t2".to_string())],
            json,
        ),
        (
            "token, another scheme",
            bearer_port,
            "/v1/traces",
            vec![("authorization", "Bearer t2".to_string())],
            json,
        ),
        ("no token", bearer_port, "/v1/traces", vec![], proto),
        (
            "token in the query",
            bearer_port,
            "/v1/traces?authorization=Token%20t1",
            vec![],
            json,
        ),
        (
            "a wrong token in the query",
            bearer_port,
            "/v1/traces?authorization=Token%20t3",
            vec![],
            json,
        ),
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        out.push(format!("{what}: {}", post(port, path, &headers, ct).await));
    }
    // the zipkin and jaeger receivers: Go's `http.Error` for a refusal
    let zipkin_span =
        br#"[{"traceId":"0101010101010101","id":"0202020202020202","name":"guarded"}]"#;
    for (what, port, path, headers, ct) in [
        (
            "zipkin, no credentials",
            zipkin_port,
            "/api/v2/spans",
            vec![],
            "application/json",
        ),
        (
            "zipkin, a wrong password",
            zipkin_port,
            "/api/v2/spans",
            vec![("authorization", basic("plainuser:x"))],
            "application/json",
        ),
        (
            "zipkin, the password",
            zipkin_port,
            "/api/v2/spans",
            vec![("authorization", basic("plainuser:plain-pw"))],
            "application/json",
        ),
        (
            "jaeger, no token",
            jaeger_port,
            "/api/traces",
            vec![],
            "application/x-thrift",
        ),
        (
            "jaeger, a wrong token",
            jaeger_port,
            "/api/traces",
            vec![("authorization", "Token t9".to_string())],
            "application/x-thrift",
        ),
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = post_body(port, path, &headers, Some(ct), zipkin_span.to_vec()).await;
        out.push(format!("{what}: {answer}"));
    }
    for (what, auth) in [
        ("gRPC, no token", None),
        ("gRPC, a wrong token", Some("Token nope")),
        ("gRPC, the token", Some("Token t1")),
    ] {
        out.push(format!("{what}: {}", grpc(grpc_port, auth).await));
    }
    drop(collector);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h_guarded_receivers_answer_alike() {
    let go = answers(&program("go"), "compat-auth-go").await;
    let fe = answers(&program("ferrotel"), "compat-auth-ferrotel").await;
    // the cases that must pass do pass, so the comparison is not of two refusals
    for ok in [
        "zipkin, the password: 202",
        "apr1: 200",
        "bcrypt: 200",
        "plain, scheme in lower case: 200",
        "token: 200",
        "token in the query: 200",
        "gRPC, the token: ok",
    ] {
        assert!(go.iter().any(|a| a.starts_with(ok)), "Go: {ok}\n{go:#?}");
    }
    let mismatch = (go != fe).then(|| {
        go.iter()
            .zip(&fe)
            .filter(|(g, f)| g != f)
            .map(|(g, f)| format!("go       {g}\nferrotel {f}"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    if let Err(e) = verdict("guarded_receivers", mismatch) {
        panic!("{e}");
    }
}

/// The Go oracle or Ferrotel.
fn program(who: &str) -> std::path::PathBuf {
    if who == "go" {
        oracle()
    } else {
        Path::new(harness::BIN).to_path_buf()
    }
}

/// Start the `receiving` config with `receiver` and the `sending` one with `sender`, post one
/// span to the sender's HTTP port `front`, and wait until the sink behind the receiver has
/// it: `what` goes from one to the other.
async fn relay(
    (sender, receiver): (&str, &str),
    (receiving, sending): (String, String),
    front: u16,
    recorded: &sink::Recorded,
    what: &str,
) {
    let (rp, sp) = (program(receiver), program(sender));
    // a directory of each collector's own (the tests run at once in one process)
    let (rn, sn) = (
        format!("auth-receiving-{front}"),
        format!("auth-sending-{front}"),
    );
    let r =
        tokio::task::spawn_blocking(move || Collector::start_program(&rp, &rn, &receiving, &[]))
            .await
            .unwrap();
    let s = tokio::task::spawn_blocking(move || Collector::start_program(&sp, &sn, &sending, &[]))
        .await
        .unwrap();
    let answer = post(front, "/v1/traces", &[], Some("application/json")).await;
    assert!(answer.starts_with("200"), "{sender} → {receiver}: {answer}");
    let arrived = sink::eventually(Duration::from_secs(20), || {
        !recorded.traces.lock().unwrap().is_empty()
    })
    .await;
    assert!(
        arrived,
        "{sender}'s {what} did not get through {receiver}'s receiver:\nsender {}\nreceiver {}",
        s.stderr_text(),
        r.stderr_text()
    );
}

/// Each collector's `otlphttp` exporter with a client authenticator sends to the other's
/// guarded receiver, which passes the spans on to the recording sink.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h_client_authenticators_reach_the_other_collector() {
    for (sender, receiver) in [("ferrotel", "go"), ("go", "ferrotel")] {
        let (recorded, sink_addr, _stop) = sink::start(0).await;
        let (front, guarded) = (harness::free_port(), harness::free_port());
        let receiving = format!(
            r#"
extensions:
  basicauth/in:
    htpasswd: {{inline: "{HTPASSWD}"}}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{guarded}
        auth: {{authenticator: basicauth/in}}
exporters:
  otlp:
    endpoint: {sink_addr}
    tls: {{insecure: true}}
service:
  extensions: [basicauth/in]
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [otlp]}}
"#
        );
        let dir = harness::temp_dir(&format!("auth-client-{sender}"));
        let pw = dir.join("password");
        std::fs::write(&pw, "bar\n").unwrap();
        let sending = format!(
            r#"
extensions:
  basicauth/out:
    client_auth: {{username: bcryptuser, password_file: {pw:?}}}
receivers:
  otlp:
    protocols:
      http: {{endpoint: 127.0.0.1:{front}}}
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:{guarded}
    compression: none
    retry_on_failure: {{enabled: false}}
    # the authenticator's header wins over a configured one, as Go's auth round tripper does
    headers: {{Authorization: "Basic bm9wZTpub3Bl"}}
    auth: {{authenticator: basicauth/out}}
service:
  extensions: [basicauth/out]
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [otlphttp]}}
"#
        );
        relay(
            (sender, receiver),
            (receiving, sending),
            front,
            &recorded,
            "otlphttp exporter (basicauth)",
        )
        .await;
    }
}

/// The same over gRPC with TLS (grpc-go sends per-call credentials only over TLS): each
/// collector's `otlp` exporter with `bearertokenauth` and the test CA sends to the other's
/// TLS receiver guarded by the same token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h_grpc_tokens_over_tls_reach_the_other_collector() {
    let testdata = concat!(env!("CARGO_MANIFEST_DIR"), "/receivers/src/otlp/testdata");
    for (sender, receiver) in [("ferrotel", "go"), ("go", "ferrotel")] {
        let (recorded, sink_addr, _stop) = sink::start(0).await;
        let (front, guarded) = (harness::free_port(), harness::free_port());
        let receiving = format!(
            r#"
extensions:
  bearertokenauth/in:
    tokens: [other, grpc-token]
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{guarded}
        tls: {{cert_file: {testdata}/server.crt, key_file: {testdata}/server.key}}
        auth: {{authenticator: bearertokenauth/in}}
exporters:
  otlp:
    endpoint: {sink_addr}
    tls: {{insecure: true}}
service:
  extensions: [bearertokenauth/in]
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [otlp]}}
"#
        );
        let sending = format!(
            r#"
extensions:
  bearertokenauth/out:
    token: grpc-token
receivers:
  otlp:
    protocols:
      http: {{endpoint: 127.0.0.1:{front}}}
exporters:
  otlp:
    endpoint: localhost:{guarded}
    tls: {{ca_file: {testdata}/ca.crt}}
    retry_on_failure: {{enabled: false}}
    auth: {{authenticator: bearertokenauth/out}}
service:
  extensions: [bearertokenauth/out]
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [otlp]}}
"#
        );
        relay(
            (sender, receiver),
            (receiving, sending),
            front,
            &recorded,
            "otlp exporter (bearertokenauth over gRPC with TLS)",
        )
        .await;
    }
}
