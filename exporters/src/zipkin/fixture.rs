//! A request that exercises every field the Zipkin mapping carries, and what comes back
//! after OTLP → Zipkin → OTLP (the golden of the round-trip tests here and in the zipkin
//! receiver's tests).

use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(k: &str, v: &str) -> KeyValue {
    kv(k, any_value::Value::StringValue(v.into()))
}

const T0: u64 = 1_700_000_000_123_456_000;

/// `n` server spans of `checkout` (scope `shop-lib` 1.0) with events, links, status,
/// endpoints, and one internal span of `billing` with no scope.
pub fn request(n: usize) -> ExportTraceServiceRequest {
    let spans = (0..n)
        .map(|i| Span {
            trace_id: vec![0xab; 16],
            span_id: vec![i as u8 + 1; 8],
            parent_span_id: vec![0xcc; 8],
            trace_state: "vendor=x".into(),
            name: format!("GET /item/{i}"),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: T0 + i as u64 * 1000,
            end_time_unix_nano: T0 + i as u64 * 1000 + 2_500_000,
            attributes: vec![
                s("http.method", "GET"),
                kv("http.status_code", any_value::Value::IntValue(500)),
                kv("cache.hit", any_value::Value::BoolValue(false)),
                s("net.host.ip", "10.0.0.1"),
                kv("net.host.port", any_value::Value::IntValue(8080)),
                s("peer.service", "frontend"),
                s("net.peer.ip", "2001:db8::1"),
                kv("net.peer.port", any_value::Value::IntValue(443)),
            ],
            events: vec![
                span::Event {
                    time_unix_nano: T0 + 1_000_000,
                    name: "retry".into(),
                    ..Default::default()
                },
                span::Event {
                    time_unix_nano: T0 + 2_000_000,
                    name: "exception".into(),
                    attributes: vec![
                        s("exception.type", "IOError"),
                        kv("attempt", any_value::Value::IntValue(2)),
                    ],
                    dropped_attributes_count: 1,
                },
            ],
            links: vec![span::Link {
                trace_id: vec![0x11; 16],
                span_id: vec![0x22; 8],
                trace_state: "a=b".into(),
                attributes: vec![s("link.kind", "follows")],
                dropped_attributes_count: 0,
                flags: 0,
            }],
            status: Some(Status {
                message: "upstream failed".into(),
                code: 2,
            }),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        s("service.name", "checkout"),
                        s("host.name", "node-1"),
                        s("service.version", "2.1"),
                    ],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "shop-lib".into(),
                        version: "1.0".into(),
                        ..Default::default()
                    }),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            },
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![s("service.name", "billing")],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope::default()),
                    spans: vec![Span {
                        trace_id: vec![0xab; 16],
                        span_id: vec![0x77; 8],
                        name: "compute".into(),
                        kind: span::SpanKind::Internal as i32,
                        start_time_unix_nano: T0,
                        end_time_unix_nano: T0 + 1000,
                        status: Some(Status {
                            message: String::new(),
                            code: 1,
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
    }
}

/// What [`request`] becomes after OTLP → Zipkin → OTLP with Go's translators: resources
/// sorted by service name; tags as string attributes sorted by key (typed with
/// `parse_string_tags`), the endpoint attributes last under Go v0.155's names.
pub fn round_tripped(n: usize, parse_string_tags: bool) -> ExportTraceServiceRequest {
    let mut r = request(n);
    r.resource_spans.reverse();
    // checkout: the resource keeps its semantic-convention keys.
    let checkout = &mut r.resource_spans[1];
    checkout.resource = Some(Resource {
        attributes: vec![
            s("service.name", "checkout"),
            s("host.name", "node-1"),
            s("service.version", "2.1"),
        ],
        ..Default::default()
    });
    for sp in &mut checkout.scope_spans[0].spans {
        let typed = |v: any_value::Value, text: &str| {
            if parse_string_tags {
                v
            } else {
                any_value::Value::StringValue(text.into())
            }
        };
        sp.attributes = vec![
            kv(
                "cache.hit",
                typed(any_value::Value::BoolValue(false), "false"),
            ),
            s("http.method", "GET"),
            kv(
                "http.status_code",
                typed(any_value::Value::IntValue(500), "500"),
            ),
            s("network.local.address", "10.0.0.1"),
            kv("net.host.port", any_value::Value::IntValue(8080)),
            s("service.peer.name", "frontend"),
            s("network.peer.address", "2001:db8::1"),
            kv("net.peer.port", any_value::Value::IntValue(443)),
        ];
        // Event attributes come back sorted by key.
        sp.events[1].attributes = vec![
            kv("attempt", any_value::Value::IntValue(2)),
            s("exception.type", "IOError"),
        ];
    }
    r
}
