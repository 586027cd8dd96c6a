//! Operators: container (Docker, CRI-O, containerd), parsers with embedded timestamp /
//! severity / trace, transformers, router, recombine.

use pipeline_api::config::ConfigValue;

use crate::entry::{Entry, EntryData, Field, Map, Origin, Value};
use crate::operators::{BuildMode, Pipeline, Stats};

pub fn pipeline(ops: &str) -> Pipeline {
    let v: Vec<ConfigValue> = serde_yaml_ng::from_str(ops).unwrap();
    match Pipeline::build(&v, BuildMode::Run) {
        Ok(p) => p,
        Err(e) => panic!("{e:?}"),
    }
}

pub fn line(text: &str, path: &str) -> Entry {
    let mut e = EntryData::new(Value::Str(text.into()), 1);
    e.attributes
        .insert("log.file.path".into(), Value::Str(path.into()));
    e.origin = Some(Origin {
        reader: 1,
        start: 0,
        path: None,
    });
    e
}

pub fn run(p: &mut Pipeline, entries: Vec<Entry>) -> (Vec<Entry>, Stats) {
    let mut stats = Stats::default();
    let out = p.process(entries, &mut stats);
    (out, stats)
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

const T: u64 = 1_704_110_400_000_000_000; // 2024-01-01T12:00:00Z

#[test]
fn docker_json_file_line_gives_body_stream_and_timestamp() {
    let mut p = pipeline("[{type: container}]");
    let (out, stats) = run(
        &mut p,
        vec![line(
            r#"{"log":"hello world\n","stream":"stdout","time":"2024-01-01T12:00:00.123456789Z"}"#,
            "/var/lib/docker/containers/abc/abc-json.log",
        )],
    );
    assert_eq!(stats.errors, 0);
    assert_eq!(out.len(), 1);
    let e = &out[0];
    assert_eq!(e.body, Some(s("hello world")));
    assert_eq!(e.attributes.get("log.iostream"), Some(&s("stdout")));
    assert_eq!(e.timestamp, Some(T + 123_456_789));
    assert!(!e.attributes.contains_key("time"));
    assert!(!e.attributes.contains_key("log"));
    assert!(!e.attributes.contains_key("stream"));
}

#[test]
fn docker_lines_split_at_16k_are_recombined_and_the_container_id_comes_from_the_path() {
    let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let path = format!("/var/lib/docker/containers/{id}/{id}-json.log");
    let mut p = pipeline("[{type: container, format: docker}]");
    let part = |t: &str| {
        line(
            &format!(r#"{{"log":"{t}","stream":"stderr","time":"2024-01-01T12:00:00Z"}}"#),
            &path,
        )
    };
    let (out, _) = run(
        &mut p,
        vec![
            part("first half, "),
            part("second half\\n"),
            part("next\\n"),
        ],
    );
    let bodies: Vec<_> = out.iter().map(|e| e.body.clone()).collect();
    assert_eq!(
        bodies,
        vec![Some(s("first half, second half")), Some(s("next"))]
    );
    assert_eq!(out[0].resource.get("container.id"), Some(&s(id)));
}

#[test]
fn cri_partial_lines_are_recombined_with_kubernetes_metadata_from_the_path() {
    let path = "/var/log/pods/shop_cart-7d9f_0123abcd-ef01-2345-6789-abcdef012345/cart/3.log";
    let mut p = pipeline("[{type: container}]");
    let (out, stats) = run(
        &mut p,
        vec![
            line("2024-01-01T12:00:00.000000001+00:00 stdout P hello ", path),
            line("2024-01-01T12:00:00.000000002+00:00 stdout P big ", path),
            line("2024-01-01T12:00:00.000000003+00:00 stdout F world", path),
            line("2024-01-01T12:00:01.5Z stderr F containerd says hi", path),
        ],
    );
    assert_eq!(stats.errors, 0);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].body, Some(s("hello big world")));
    assert_eq!(
        out[0].timestamp,
        Some(T + 1),
        "the oldest part carries the result"
    );
    assert_eq!(out[0].attributes.get("log.iostream"), Some(&s("stdout")));
    for (k, v) in [
        ("k8s.namespace.name", "shop"),
        ("k8s.pod.name", "cart-7d9f"),
        ("k8s.pod.uid", "0123abcd-ef01-2345-6789-abcdef012345"),
        ("k8s.container.name", "cart"),
        ("k8s.container.restart_count", "3"),
    ] {
        assert_eq!(out[0].resource.get(k), Some(&s(v)), "{k}");
    }
    assert_eq!(out[1].body, Some(s("containerd says hi")));
    assert_eq!(out[1].attributes.get("log.iostream"), Some(&s("stderr")));
    assert_eq!(out[1].timestamp, Some(T + 1_500_000_000));
    assert_eq!(out[1].attributes.get("logtag"), Some(&s("F")));
}

#[test]
fn held_partials_hold_the_checkpoint_back() {
    let mut p = pipeline("[{type: container}]");
    let mut e = line("2024-01-01T12:00:00.1Z stdout P half", "/x/0.log");
    e.origin = Some(Origin {
        reader: 7,
        start: 40,
        path: None,
    });
    let (out, _) = run(&mut p, vec![e]);
    assert!(out.is_empty());
    assert_eq!(p.held().get(&7), Some(&40));
    // at a shutdown whose checkpoint is stored, the half line is not sent cut short: the
    // checkpoint stays at its start, so the next start reads it whole
    let mut stats = Stats::default();
    let flushed = p.shutdown_flush(&mut stats, true);
    assert!(flushed.is_empty(), "{flushed:?}");
    assert_eq!(p.held().get(&7), Some(&40));
    // without a stored checkpoint it is flushed, as Go does
    let flushed = p.flush_all(&mut stats);
    assert_eq!(flushed[0].body, Some(s("half")));
    assert!(p.held().is_empty());
    // a part that came from no file is flushed either way
    let mut p = pipeline("[{type: container}]");
    let mut e = line("2024-01-01T12:00:00.1Z stdout P half", "/x/0.log");
    e.origin = None;
    let (out, _) = run(&mut p, vec![e]);
    assert!(out.is_empty());
    let flushed = p.shutdown_flush(&mut stats, true);
    assert_eq!(flushed[0].body, Some(s("half")));
}

/// Docker may rotate between two parts of a split line: the parts are joined across the
/// rotated file and the new one, per stream.
#[test]
fn a_split_docker_line_is_joined_across_a_rotation() {
    let mut p = pipeline("[{type: container}]");
    let id = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    let part = |text: &str, stream: &str, file: &str, reader: u64| {
        let mut e = EntryData::new(
            Value::Str(
                serde_json::json!({"log": text, "stream": stream, "time": "2024-01-01T12:00:00Z"})
                    .to_string(),
            ),
            1,
        );
        e.origin = Some(Origin {
            reader,
            start: 0,
            path: Some(format!("/var/lib/docker/containers/{id}/{id}-json.log{file}").into()),
        });
        e
    };
    let (out, _) = run(
        &mut p,
        vec![
            part("first half ", "stdout", ".1", 1),
            part("an error\n", "stderr", ".1", 1),
            part("second half\n", "stdout", "", 2),
        ],
    );
    let bodies: Vec<_> = out.iter().map(|e| e.body.clone()).collect();
    assert_eq!(
        bodies,
        [Some(s("an error")), Some(s("first half second half"))]
    );
}

const STRUCTLOG_OPS: &str = r#"
- type: container
- type: key_value_parser
  timestamp:
    parse_from: attributes.timestamp
    layout: '%Y-%m-%dT%H:%M:%SZ'
  severity:
    parse_from: attributes.level
  trace:
    trace_id:
      parse_from: attributes.trace_id
"#;

#[test]
fn structlog_line_through_container_key_value_severity_time_and_trace() {
    let log = "timestamp='2024-01-01T12:00:00Z' level='info' logger='service' event='Request completed' method='GET' path='/api/v1' status_code=200 trace_id='4bf92f3577b34da6a3ce929d0e0e4736'";
    let docker = serde_json::json!({"log": format!("{log}\n"), "stream": "stdout", "time": "2024-01-01T12:00:05.5Z"});
    let mut p = pipeline(STRUCTLOG_OPS);
    let (out, stats) = run(&mut p, vec![line(&docker.to_string(), "/c/x-json.log")]);
    assert_eq!(stats.errors, 0);
    let e = &out[0];
    assert_eq!(e.attributes.get("event"), Some(&s("Request completed")));
    assert_eq!(e.attributes.get("method"), Some(&s("GET")));
    assert_eq!(e.attributes.get("path"), Some(&s("/api/v1")));
    assert_eq!(e.attributes.get("status_code"), Some(&s("200")));
    assert_eq!(e.attributes.get("logger"), Some(&s("service")));
    assert_eq!(e.severity, 9);
    assert_eq!(e.severity_text, "info");
    assert_eq!(
        e.timestamp,
        Some(T),
        "the app's timestamp wins over Docker's"
    );
    assert_eq!(
        e.trace_id.as_deref(),
        Some(
            &[
                0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e,
                0x47, 0x36
            ][..]
        )
    );
    assert_eq!(e.body, Some(s(log)));
}

#[test]
fn json_app_line_with_embedded_timestamp_severity_and_trace() {
    let mut p = pipeline(
        r#"
- type: json_parser
  timestamp: {parse_from: attributes.ts, layout_type: gotime, layout: '2006-01-02T15:04:05Z07:00'}
  severity: {parse_from: attributes.level}
  trace:
    trace_id: {parse_from: attributes.trace_id}
    span_id: {parse_from: attributes.span_id}
"#,
    );
    let (out, stats) = run(
        &mut p,
        vec![line(
            r#"{"ts":"2024-01-01T12:00:00.25Z","level":"WARNING","msg":"slow","execution_id":"e1","task_id":7,"service.name":"api","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}"#,
            "/x.log",
        )],
    );
    assert_eq!(stats.errors, 0);
    let e = &out[0];
    assert_eq!(e.timestamp, Some(T + 250_000_000));
    assert_eq!(e.severity, 13);
    assert_eq!(e.attributes.get("task_id"), Some(&Value::Double(7.0)));
    assert_eq!(e.attributes.get("service.name"), Some(&s("api")));
    assert_eq!(e.span_id.as_ref().map(Vec::len), Some(8));
}

#[test]
fn move_remove_add_copy_flatten_retain() {
    let mut p = pipeline(
        r#"
- type: json_parser
  parse_to: body
- {type: move, from: body.msg, to: body.message}
- {type: copy, from: body.message, to: attributes.original}
- {type: add, field: attributes.env, value: prod}
- type: add
  id: add_service
  field: resource["service.name"]
  value: 'EXPR(body.svc)'
- {type: remove, field: body.noise}
- {type: flatten, field: body.nested}
- type: retain
  fields: [body.message, body.inner, attributes.original, attributes.env]
"#,
    );
    let (out, stats) = run(
        &mut p,
        vec![line(
            r#"{"msg":"hi","noise":1,"svc":"api","nested":{"inner":"x"},"other":true}"#,
            "/x.log",
        )],
    );
    assert_eq!(stats.errors, 0, "{out:?}");
    let e = &out[0];
    let mut body = Map::new();
    body.insert("message".into(), s("hi"));
    body.insert("inner".into(), s("x"));
    assert_eq!(e.body, Some(Value::Map(body)));
    assert_eq!(e.attributes.get("original"), Some(&s("hi")));
    assert_eq!(e.attributes.get("env"), Some(&s("prod")));
    assert!(
        !e.attributes.contains_key("log.file.path"),
        "retain removed it"
    );
    assert_eq!(e.resource.get("service.name"), Some(&s("api")));
}

#[test]
fn router_and_if_choose_the_parser_by_body_shape() {
    let mut p = pipeline(
        r#"
- type: router
  routes:
    - {output: json, expr: 'body matches "^{"', attributes: {format: json}}
  default: kv
- {type: json_parser, id: json, output: sev}
- {type: key_value_parser, id: kv, output: sev}
- {type: severity_parser, id: sev, parse_from: attributes.level, if: 'attributes.level != nil'}
"#,
    );
    let (out, stats) = run(
        &mut p,
        vec![
            line(r#"{"level":"error","a":"1"}"#, "/x"),
            line("level=debug b=2", "/x"),
            line("b=3", "/x"),
        ],
    );
    assert_eq!(stats.errors, 0);
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].severity, 17);
    assert_eq!(out[0].attributes.get("format"), Some(&s("json")));
    assert_eq!(out[1].severity, 5);
    assert_eq!(out[1].attributes.get("b"), Some(&s("2")));
    assert_eq!(out[2].severity, 0, "skipped by if");
}

#[test]
fn recombine_joins_a_stack_trace_with_is_first_entry() {
    let mut p = pipeline(
        r#"
- type: recombine
  combine_field: body
  is_first_entry: 'body matches "^\\d{4}-"'
"#,
    );
    let (out, _) = run(
        &mut p,
        vec![
            line("2024-01-01 Exception", "/x"),
            line("  at a", "/x"),
            line("  at b", "/x"),
            line("2024-01-01 next", "/x"),
        ],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].body, Some(s("2024-01-01 Exception\n  at a\n  at b")));
    let mut stats = Stats::default();
    let rest = p.flush_all(&mut stats);
    assert_eq!(rest[0].body, Some(s("2024-01-01 next")));
}

#[test]
fn field_access_in_expressions_and_remove_of_a_root() {
    let mut p = pipeline(
        r#"
- type: add
  field: attributes["k.with.dots"]
  value: 1
- type: remove
  field: resource
  if: 'attributes["k.with.dots"] == 1'
"#,
    );
    let mut e = line("x", "/p");
    e.resource.insert("a".into(), s("b"));
    let (out, stats) = run(&mut p, vec![e]);
    assert_eq!(stats.errors, 0);
    assert!(out[0].resource.is_empty());
    assert_eq!(
        Field::parse("attributes[\"k.with.dots\"]", false)
            .unwrap()
            .get(&out[0]),
        Some(&Value::Int(1))
    );
}

/// A failing operator logs the first few failures of each 10 s interval and then one line
/// with the count; every failure is counted; `on_error: send` still sends every entry.
#[test]
fn operator_failures_are_logged_as_a_bounded_sample() {
    use crate::operators::ERROR_LOG_SAMPLE;
    let mut p = pipeline("[{type: key_value_parser}, {type: noop}]");
    // a line the parser cannot split, several times longer than a log line may quote; kept
    // short enough that 1000 of them parse well within one ERROR_LOG_INTERVAL (10 s) in a
    // debug build on a busy machine (50 KB lines took 5 s alone and flaked under load)
    let long = "word ".repeat(200);
    assert!(long.len() > 3 * crate::operators::MAX_ERROR_TEXT);
    let entries: Vec<Entry> = (0..1000).map(|_| line(&long, "/x/a.log")).collect();
    let (out, stats) = run(&mut p, entries);
    assert_eq!(out.len(), 1000, "on_error: send keeps every entry");
    assert_eq!(stats.errors, 1000);
    let logs = p.error_logs();
    let (id, log) = logs[0];
    assert_eq!(id, "key_value_parser");
    assert_eq!(log.total, 1000);
    assert_eq!(log.lines, ERROR_LOG_SAMPLE, "only a sample is logged");
    assert_eq!(logs[1].1.total, 0);
    // the interval's end (here: shutdown) says how many failed
    let mut stats = Stats::default();
    p.flush_all(&mut stats);
    assert_eq!(p.error_logs()[0].1.lines, ERROR_LOG_SAMPLE + 1);
    // a new interval logs a new sample
    let (_, _) = run(&mut p, vec![line(&long, "/x/a.log")]);
    assert_eq!(p.error_logs()[0].1.lines, ERROR_LOG_SAMPLE + 2);
}

/// What a failure carries to the log is cut to a bounded length, whatever the input.
#[test]
fn failures_quote_a_bounded_part_of_the_input() {
    use crate::operators::{bounded, Base, OnError, Out, MAX_ERROR_TEXT};
    let base = Base::new("kv", OnError::Drop, &None).unwrap();
    let mut out = Out::default();
    let huge = format!("cannot split {:?}", "é".repeat(100_000));
    base.fail(line("x", "/x/a.log"), &huge, &mut out);
    assert_eq!(out.errors, 1);
    assert_eq!(out.dropped, 1);
    let text = &out.failures[0].error;
    assert!(text.len() <= MAX_ERROR_TEXT + 40, "{} bytes", text.len());
    assert!(
        text.ends_with(&format!("({} bytes in all)", huge.len())),
        "{text}"
    );
    assert_eq!(bounded("short", MAX_ERROR_TEXT), "short");
    // a cut never splits a character
    assert!(bounded("ééé", 3).starts_with('é'));
}

/// A multi-line record read from a file stays held at a shutdown whose checkpoint is stored
/// (the next start reads it whole); without storage it is flushed, as Go does at Stop.
#[test]
fn recombine_keeps_a_record_read_from_a_file_at_a_stored_shutdown() {
    let ops = r#"
- type: recombine
  combine_field: body
  is_first_entry: 'body matches "^Traceback"'
"#;
    let lines = || {
        let mut a = line("Traceback (most recent call last):", "/x/a.log");
        let mut b = line("  File \"app.py\", line 1", "/x/a.log");
        for (e, start) in [(&mut a, 100), (&mut b, 140)] {
            e.origin = Some(Origin {
                reader: 3,
                start,
                path: None,
            });
        }
        vec![a, b]
    };
    let mut p = pipeline(ops);
    let (out, _) = run(&mut p, lines());
    assert!(out.is_empty());
    let mut stats = Stats::default();
    assert!(p.shutdown_flush(&mut stats, true).is_empty());
    assert_eq!(p.held().get(&3), Some(&100));
    let mut p = pipeline(ops);
    run(&mut p, lines());
    let flushed = p.shutdown_flush(&mut stats, false);
    assert_eq!(flushed.len(), 1);
    assert!(p.held().is_empty());
}

/// Operators of one type without an `id` are named `type`, `type1`, … as Go does, so they
/// can follow each other and be routed to; an id given twice is still an error.
#[test]
fn operators_without_ids_are_numbered_as_go_numbers_them() {
    let mut p = pipeline(
        "[{type: add, field: attributes.a, value: '1'}, {type: add, field: attributes.b, value: '2'}, {type: add, field: attributes.c, value: '3', output: add4}, {type: add, id: add2, field: attributes.skipped, value: 'x'}, {type: add, field: attributes.d, value: '4'}]",
    );
    let (out, stats) = run(&mut p, vec![line("x", "/a.log")]);
    assert_eq!(stats.errors, 0);
    let a = &out[0].attributes;
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")] {
        assert_eq!(a.get(k), Some(&s(v)), "{k}");
    }
    // unnamed: add, add1, then add3 (add2 is taken by the given id), add4; the third goes
    // straight to add4, around add2
    assert!(!a.contains_key("skipped"), "routed around");
    let v: Vec<ConfigValue> =
        serde_yaml_ng::from_str("[{type: add, id: x, field: attributes.a, value: '1'}, {type: add, id: x, field: attributes.b, value: '2'}]").unwrap();
    assert!(Pipeline::build(&v, BuildMode::Validate).is_err());
}
