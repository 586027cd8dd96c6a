use pipeline_api::config::ConfigValue;
use pipeline_api::{Batch, ComponentId};

use super::fixture::{request, round_tripped};
use super::model::{from_json, from_proto, to_json, to_proto, Kind};
use super::translate::{from_otlp, to_otlp};
use super::*;
use crate::common::testutil::{http_server, HttpReply};

fn yaml(s: &str) -> ConfigValue {
    serde_yaml_ng::from_str(s).unwrap()
}

fn errors(s: &str) -> String {
    match factory().parse_config(&yaml(s)) {
        Ok(_) => String::new(),
        Err(es) => es
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn defaults_and_validation() {
    let c = Config::default();
    assert_eq!(c.format, "json");
    assert_eq!(c.default_service_name, "<missing service name>");
    assert_eq!(factory().default_timeout(), Duration::from_secs(5));
    assert!(factory().queue_and_retry_by_default());
    assert!(errors("{}").contains("endpoint required"));
    assert!(
        errors("endpoint: http://z:9411/api/v2/spans\nformat: thrift")
            .contains("thrift is not one of json or proto")
    );
    assert_eq!(
        errors("endpoint: http://z:9411/api/v2/spans\nformat: proto\ndefault_service_name: x\nheaders: {a: b}"),
        ""
    );
}

/// The Zipkin JSON written for the fixture: Go's field mapping.
#[test]
fn otlp_to_zipkin_json_fields() {
    let spans = from_otlp(&request(1)).unwrap();
    assert_eq!(spans.len(), 2);
    let v: serde_json::Value = serde_json::from_slice(&to_json(&spans)).unwrap();
    let a = &v[0];
    assert_eq!(a["traceId"], "abababababababababababababababab");
    assert_eq!(a["id"], "0101010101010101");
    assert_eq!(a["parentId"], "cccccccccccccccc");
    assert_eq!(a["kind"], "SERVER");
    assert_eq!(a["name"], "GET /item/0");
    assert_eq!(a["timestamp"], 1_700_000_000_123_456u64);
    assert_eq!(a["duration"], 2500);
    assert_eq!(a["localEndpoint"]["serviceName"], "checkout");
    assert_eq!(a["localEndpoint"]["ipv4"], "10.0.0.1");
    assert_eq!(a["localEndpoint"]["port"], 8080);
    assert_eq!(a["remoteEndpoint"]["serviceName"], "frontend");
    assert_eq!(a["remoteEndpoint"]["ipv6"], "2001:db8::1");
    assert_eq!(a["remoteEndpoint"]["port"], 443);
    let tags = &a["tags"];
    assert_eq!(tags["error"], "true");
    assert_eq!(tags["otel.status_code"], "Error");
    assert_eq!(tags["otel.status_description"], "upstream failed");
    assert_eq!(tags["otel.library.name"], "shop-lib");
    assert_eq!(tags["otel.library.version"], "1.0");
    assert_eq!(tags["host.name"], "node-1");
    assert_eq!(tags["http.status_code"], "500");
    assert_eq!(tags["w3c.tracestate"], "vendor=x");
    assert_eq!(
        tags["otlp.link.0"],
        "11111111111111111111111111111111|2222222222222222|a=b|{\"link.kind\":\"follows\"}|0"
    );
    assert!(tags.get("service.name").is_none());
    assert!(tags.get("net.host.ip").is_none());
    assert!(tags.get("peer.service").is_none());
    assert_eq!(a["annotations"][0]["value"], "retry");
    assert_eq!(
        a["annotations"][1]["value"],
        "exception|{\"attempt\":2,\"exception.type\":\"IOError\"}|1"
    );
    assert_eq!(a["annotations"][1]["timestamp"], 1_700_000_000_125_456u64);
    let b = &v[1];
    assert!(b.get("kind").is_none());
    assert_eq!(b["tags"]["span.kind"], "internal");
    assert_eq!(b["tags"]["otel.status_code"], "Ok");
    assert!(b["tags"].get("error").is_none());
    assert_eq!(b["duration"], 1);
    assert_eq!(spans[1].kind, None);
    assert_eq!(spans[0].kind, Some(Kind::Server));
}

/// OTLP → Zipkin (JSON and protobuf) → OTLP keeps every field the mapping carries.
#[test]
fn round_trip_golden_json_and_proto() {
    for parse in [false, true] {
        let spans = from_otlp(&request(3)).unwrap();
        let via_json = to_otlp(from_json(&to_json(&spans)).unwrap(), parse).unwrap();
        assert_eq!(
            via_json,
            round_tripped(3, parse),
            "json, parse_string_tags {parse}"
        );
        let via_proto = to_otlp(from_proto(&to_proto(&spans), false).unwrap(), parse).unwrap();
        assert_eq!(
            via_proto,
            round_tripped(3, parse),
            "proto, parse_string_tags {parse}"
        );
    }
}

#[test]
fn a_span_without_ids_is_refused() {
    let mut r = request(1);
    r.resource_spans[0].scope_spans[0].spans[0].span_id = vec![0; 8];
    assert_eq!(from_otlp(&r).unwrap_err(), "SpanID is invalid");
    let mut r = request(1);
    r.resource_spans[0].scope_spans[0].spans[0].trace_id.clear();
    assert_eq!(from_otlp(&r).unwrap_err(), "TraceID is invalid");
}

/// Zipkin's documented example span (zipkin-api `zipkin2-api.yaml`), with a 64-bit trace id.
#[test]
fn decodes_zipkin_api_example() {
    let body = br#"[{"id":"352bff9a74ca9ad2","traceId":"5af7183fb1d4cf5f","parentId":"6b221d5bc9e6496c","name":"get /api","timestamp":1556604172355737,"duration":1431,"kind":"SERVER","localEndpoint":{"serviceName":"backend","ipv4":"192.168.99.1","port":3306},"remoteEndpoint":{"ipv4":"172.19.0.2","port":58648},"tags":{"http.method":"GET","http.path":"/api"}}]"#;
    let req = to_otlp(from_json(body).unwrap(), false).unwrap();
    let rs = &req.resource_spans[0];
    assert_eq!(
        crate::zipkin::translate::as_string(
            rs.resource.as_ref().unwrap().attributes[0].value.as_ref()
        ),
        "backend"
    );
    let sp = &rs.scope_spans[0].spans[0];
    assert_eq!(sp.trace_id[..8], [0; 8]);
    assert_eq!(
        sp.trace_id[8..],
        [0x5a, 0xf7, 0x18, 0x3f, 0xb1, 0xd4, 0xcf, 0x5f]
    );
    assert_eq!(sp.start_time_unix_nano, 1_556_604_172_355_737_000);
    assert_eq!(sp.end_time_unix_nano - sp.start_time_unix_nano, 1_431_000);
    assert_eq!(sp.kind, 2);
    let keys: Vec<&str> = sp.attributes.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "http.method",
            "http.path",
            "network.local.address",
            "net.host.port",
            "network.peer.address",
            "net.peer.port"
        ]
    );
}

/// Malformed, truncated and hostile bodies are errors, never panics; a bounded random search
/// over mutated valid bodies and random bytes (both decoders and the translation).
#[test]
fn decoders_never_panic_on_bad_input() {
    let spans = from_otlp(&request(2)).unwrap();
    let json = to_json(&spans);
    let proto = to_proto(&spans);
    for bad in [
        &b""[..],
        b"[",
        b"{}",
        b"null",
        br#"[{"traceId":"zz","id":"01"}]"#,
        br#"[{"traceId":"0123456789abcdef0123456789abcdef0","id":"01"}]"#,
        br#"[{"traceId":"01","id":"01","localEndpoint":{"port":70000}}]"#,
        br#"[{"traceId":"01","id":"01","tags":{"otlp.link.0":"a|b|c|{}|x"}}]"#,
        br#"[{"traceId":"01","id":"01","annotations":[{"timestamp":1,"value":"e|{bad|1"}]}]"#,
        br#"[{"traceId":"01","id":"01","timestamp":18446744073709551615,"duration":18446744073709551615}]"#,
    ] {
        let _ = from_json(bad).and_then(|s| to_otlp(s, true));
    }
    assert!(from_json(&json[..json.len() / 2]).is_err());
    assert!(from_proto(&proto[..proto.len() - 3], false).is_err());
    let mut rng = fastrand::Rng::with_seed(18);
    for _ in 0..3000 {
        for base in [&json, &proto] {
            let mut b = base.to_vec();
            for _ in 0..rng.usize(1..8) {
                let i = rng.usize(..b.len());
                match rng.u8(..3) {
                    0 => b[i] = rng.u8(..),
                    1 => {
                        b.truncate(i);
                    }
                    _ => b.insert(i, rng.u8(..)),
                }
                if b.is_empty() {
                    break;
                }
            }
            let _ = from_json(&b).and_then(|s| to_otlp(s, true));
            let _ = from_proto(&b, true).and_then(|s| to_otlp(s, true));
        }
        let random: Vec<u8> = (0..rng.usize(..64)).map(|_| rng.u8(..)).collect();
        let _ = from_proto(&random, false).and_then(|s| to_otlp(s, false));
    }
}

#[tokio::test]
async fn posts_json_and_proto_with_content_type() {
    let (server, rec) = http_server(false).await;
    for (format, ct) in [
        ("json", "application/json"),
        ("proto", "application/x-protobuf"),
    ] {
        let any = factory()
            .parse_config(&yaml(&format!(
                "endpoint: http://{}/api/v2/spans\nformat: {format}\n",
                server.addr
            )))
            .unwrap();
        let any: &dyn std::any::Any = &*any;
        let cfg = any.downcast_ref::<Config>().unwrap();
        let e = ZipkinExporter::new(
            ComponentId::parse("zipkin").unwrap(),
            cfg,
            &Default::default(),
        )
        .unwrap();
        e.export(Batch::from_traces(request(2))).await.unwrap();
        let got = rec.take();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].path, "/api/v2/spans");
        assert_eq!(got[0].headers["content-type"], ct);
        let spans = if format == "json" {
            from_json(&got[0].body).unwrap()
        } else {
            from_proto(&got[0].body, false).unwrap()
        };
        assert_eq!(spans.len(), 3);
        rec.set_reply(HttpReply {
            status: http::StatusCode::SERVICE_UNAVAILABLE,
            ..Default::default()
        });
        let err = e.export(Batch::from_traces(request(1))).await.unwrap_err();
        assert!(err.is_retryable());
        assert!(err.to_string().contains("status code 503"), "{err}");
        rec.set_reply(HttpReply::default());
        rec.take();
    }
}
