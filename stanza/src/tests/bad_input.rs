//! Bad input never panics: invalid JSON (on_error send / drop), hostile strings through
//! every parser.

use super::operators::{line, pipeline, run};
use crate::entry::Value;

#[test]
fn invalid_json_is_sent_unparsed_by_default_and_dropped_with_on_error_drop() {
    let mut p = pipeline("[{type: json_parser}]");
    let (out, stats) = run(
        &mut p,
        vec![line("{not json", "/x"), line(r#"{"ok":1}"#, "/x")],
    );
    assert_eq!(
        out.len(),
        2,
        "on_error: send (Go's default) keeps the entry"
    );
    assert_eq!(out[0].body, Some(Value::Str("{not json".into())));
    assert_eq!(stats.errors, 1);
    assert_eq!(stats.dropped, 0);

    let mut p = pipeline("[{type: json_parser, on_error: drop_quiet}]");
    let (out, stats) = run(
        &mut p,
        vec![line("{not json", "/x"), line(r#"{"ok":1}"#, "/x")],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(stats.errors, 1);
    assert_eq!(stats.dropped, 1);

    // invalid JSON inside Docker's `log` field, and a Docker line that is not JSON
    let mut p = pipeline("[{type: container}, {type: json_parser, on_error: send_quiet}]");
    let (out, stats) = run(
        &mut p,
        vec![
            line(
                r#"{"log":"{broken\n","stream":"stdout","time":"2024-01-01T12:00:00Z"}"#,
                "/x",
            ),
            line(r#"{"log": truncated"#, "/x"),
            line("not a container line at all", "/x"),
        ],
    );
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].body, Some(Value::Str("{broken".into())));
    // each of the three fails json_parser; the last two fail the container parser too
    assert_eq!(stats.errors, 5);
}

/// A small deterministic generator of hostile strings.
fn garbage(seed: &mut u64, len: usize) -> String {
    const PIECES: &[&str] = &[
        "{", "}", "\"", "'", "\\", "=", " ", ":", "T", "Z", "+", "-", ".", ",", "2024", "12",
        "stdout", "F", "P", "log", "é", "\u{fffd}", "\0", "\n", "[", "]", "%", "9", "0x",
    ];
    let mut s = String::new();
    for _ in 0..len {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s.push_str(PIECES[(*seed >> 33) as usize % PIECES.len()]);
    }
    s
}

#[test]
fn hostile_strings_through_every_parser_never_panic() {
    let mut p = pipeline(
        r#"
- type: container
- type: json_parser
  timestamp: {parse_from: attributes.time, layout: '%Y-%m-%dT%H:%M:%S.%fZ'}
- type: key_value_parser
  parse_from: body
  severity: {parse_from: attributes.level}
  trace:
    trace_id: {parse_from: attributes.trace_id}
- type: regex_parser
  regex: '^(?P<a>\d+)-(?P<b>\w*)$'
- type: time_parser
  parse_from: body
  layout_type: gotime
  layout: 'Jan _2 15:04:05.000 MST 2006'
- type: time_parser
  id: epoch
  parse_from: body
  layout_type: epoch
  layout: s.us
- type: recombine
  combine_field: body
  is_last_entry: 'body matches "x$" or body == nil'
  max_log_size: 64
- type: flatten
  field: body.a
"#,
    );
    let mut seed = 42u64;
    let mut stats = crate::operators::Stats::default();
    for i in 0..3000 {
        let text = garbage(&mut seed, i % 40);
        let e = line(&text, "/var/log/pods/a_b_c/d/0.log");
        let _ = p.process(vec![e], &mut stats);
    }
    let _ = p.flush_all(&mut stats);
    assert!(stats.errors > 0);
}
