//! Bad input never panics or stalls: invalid JSON (on_error send / drop), invalid UTF-8,
//! binary files, a 10 MiB line.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::operators::{line, pipeline, run};
use super::*;
use crate::filelog::entry::Value;

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

#[tokio::test]
async fn binary_garbage_and_invalid_utf8_are_read_without_panic() {
    let dir = TempDir::new("binary");
    let mut bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    bytes.extend_from_slice(b"\nvalid after garbage\n\xff\xfe bad utf8 \xc3\x28\n");
    std::fs::write(dir.path("blob.log"), &bytes).unwrap();
    let sink = Arc::new(Sink::default());
    let r = start(
        &cfg(
            &dir.glob("*.log"),
            "start_at: beginning\noperators:\n  - type: json_parser\n  - type: container\n    on_error: drop\n",
        ),
        &sink,
        None,
    );
    wait_for("garbage processed", || {
        r.counters.operator_errors.load(Ordering::SeqCst) >= 3
    })
    .await;
    append(
        &dir.path("blob.log"),
        r#"{"log":"fine\n","stream":"stdout","time":"2024-01-01T12:00:00Z"}"#,
    );
    append(&dir.path("blob.log"), "\n");
    wait_for("the good line after the garbage", || {
        sink.bodies().iter().any(|b| b == "fine")
    })
    .await;
    assert!(r.counters.dropped.load(Ordering::SeqCst) >= 1);
    r.stop().await;
}

#[tokio::test]
async fn a_10_mib_line_is_cut_and_the_next_line_still_arrives() {
    let dir = TempDir::new("huge");
    let f = dir.path("a.log");
    let mut text = "z".repeat(10 * 1024 * 1024);
    text.push('\n');
    text.push_str("after the huge line\n");
    std::fs::write(&f, text).unwrap();
    let sink = Arc::new(Sink::default());
    let r = start(&cfg(&dir.glob("*.log"), "start_at: beginning"), &sink, None);
    wait_for("the line after", || {
        sink.bodies().last().map(String::as_str) == Some("after the huge line")
    })
    .await;
    let bodies = sink.bodies();
    // 10 MiB in 1 MiB pieces (Go's default max_log_size, behaviour split), then the next line
    assert_eq!(bodies.len(), 11);
    assert!(bodies[..10].iter().all(|b| b.len() == 1024 * 1024));
    r.stop().await;
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
    let mut stats = crate::filelog::operators::Stats::default();
    for i in 0..3000 {
        let text = garbage(&mut seed, i % 40);
        let e = line(&text, "/var/log/pods/a_b_c/d/0.log");
        let _ = p.process(vec![e], &mut stats);
    }
    let _ = p.flush_all(&mut stats);
    assert!(stats.errors > 0);
}
