//! A measurement, not a check (run with `cargo test --release -p ottl --test bench --
//! --ignored --nocapture`): a realistic 10-statement transform over 100-span requests,
//! spans per second and CPU seconds per million spans, beside the same loop without it.

use std::time::Instant;

use ottl::{exec, ContextKind, ErrorMode, PathStyle, Statement, StatementSeq};
use pipeline_api::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pipeline_api::proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use pipeline_api::proto::tonic::resource::v1::Resource;
use pipeline_api::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn request() -> ExportTraceServiceRequest {
    let spans = (0..100)
        .map(|n| Span {
            trace_id: vec![n as u8; 16],
            span_id: vec![n as u8; 8],
            name: format!("GET /api/v1/items/{n}"),
            kind: 2,
            start_time_unix_nano: 1_000_000_000,
            end_time_unix_nano: 1_000_000_000 + n * 1_000_000,
            attributes: vec![
                kv("http.method", "GET"),
                kv("http.route", "/api/v1/items/{id}"),
                kv(
                    "http.target",
                    &format!("/api/v1/items/{n}?user=alice&token=secret"),
                ),
                kv(
                    "http.user_agent",
                    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
                ),
                kv("net.peer.ip", "10.0.0.1"),
                kv("db.statement", "SELECT * FROM items WHERE id = 42"),
                kv("internal.debug", "x"),
                kv("user.email", "alice@example.com"),
            ],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "shop"), kv("k8s.pod.name", "shop-1")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

const STATEMENTS: &[&str] = &[
    r#"set(span.attributes["service"], resource.attributes["service.name"])"#,
    r#"set(span.name, Concat([span.attributes["http.method"], span.attributes["http.route"]], " ")) where span.attributes["http.route"] != nil"#,
    r#"replace_pattern(span.attributes["http.target"], "token=[^&]*", "token=***")"#,
    r#"replace_pattern(span.attributes["db.statement"], "\\d+", "?")"#,
    r#"delete_matching_keys(span.attributes, "^internal\\.")"#,
    r#"set(span.attributes["user.email"], SHA256(span.attributes["user.email"])) where span.attributes["user.email"] != nil"#,
    r#"set(span.status.code, STATUS_CODE_ERROR) where span.attributes["http.status_code"] >= 500"#,
    r#"set(span.attributes["slow"], true) where span.end_time_unix_nano - span.start_time_unix_nano > 50000000"#,
    r#"truncate_all(span.attributes, 64)"#,
    r#"limit(span.attributes, 12, ["service"])"#,
];

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn ten_statements_over_100_span_requests() {
    let seq = StatementSeq {
        statements: STATEMENTS
            .iter()
            .map(|s| Statement::compile(s, ContextKind::Span, PathStyle::Prefixed).unwrap())
            .collect(),
        error_mode: ErrorMode::Ignore,
    };
    let base = request();
    let n = 2_000;
    for with in [false, true] {
        let (t0, c0) = (Instant::now(), cpu_seconds());
        let mut names = 0usize;
        for _ in 0..n {
            let mut r = base.clone();
            if with {
                exec::visit_traces(&mut r, ContextKind::Span, &mut |c| seq.execute(c)).unwrap();
            }
            names += r.resource_spans[0].scope_spans[0].spans[0].name.len();
        }
        let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
        let spans = (n * 100) as f64;
        println!(
            "{}: {:.0} spans/s, {:.2} CPU s per million spans ({names})",
            if with {
                "with the transform"
            } else {
                "clone only"
            },
            spans / wall,
            cpu / spans * 1e6
        );
    }
}
