//! Docker json-file lines read by the `container` operator's shortcut (the common line shape
//! read without a JSON document) give what the general path gives; lines of any other shape
//! still go through the general path, and bad lines are counted and handled by `on_error` as
//! before.

use super::operators::{line, pipeline, run};
use crate::entry::{Entry, Value};
use crate::operators::Stats;

/// The container operator as the shortcut reads it.
const SHORTCUT: &str = "[{type: container, format: docker}]";
/// The same, with an embedded `timestamp` block: that sets the timestamp to what the
/// container sets it to anyway, and keeps the shortcut off, so the line goes the general way.
const GENERAL: &str = "[{type: container, format: docker, timestamp: {parse_from: attributes.time, layout_type: gotime, layout: '2006-01-02T15:04:05.999Z'}}]";

const PATH: &str = "/var/lib/docker/containers/0123456789abcdef/0123456789abcdef-json.log";

fn both(lines: &[String]) -> ((Vec<Entry>, Stats), (Vec<Entry>, Stats)) {
    let go = |ops: &str| {
        let mut p = pipeline(ops);
        let entries = lines.iter().map(|l| line(l, PATH)).collect();
        let (mut out, mut stats) = run(&mut p, entries);
        out.extend(p.flush_all(&mut stats));
        (out, stats)
    };
    (go(SHORTCUT), go(GENERAL))
}

fn docker(log: &str, stream: &str, time: &str) -> String {
    format!(r#"{{"log":"{log}","stream":"{stream}","time":"{time}"}}"#)
}

#[test]
fn the_shortcut_gives_what_the_general_path_gives() {
    let pieces = [
        "a b",
        "key='v w'",
        "\\n",
        "\\r\\n",
        "\\\\",
        "\\\"",
        "\\/",
        "\\t",
        "\\b\\f",
        "\\u0041\\u00e9\\u20AC",
        "\\ud83d\\ude00",
        "\u{e9}\u{1F600}",
        "\\\\n",
    ];
    let mut lines = Vec::new();
    let mut x = 0x0123_4567_89AB_CDEFu64;
    for i in 0..3000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut log = String::new();
        let mut y = x;
        for _ in 0..(x % 7) {
            log.push_str(pieces[(y % pieces.len() as u64) as usize]);
            y /= pieces.len() as u64;
        }
        // most lines end with Docker's newline; the others are 16 KiB parts to recombine
        match i % 5 {
            0 => {}
            1 => log.push_str("\\r\\n"),
            _ => log.push_str("\\n"),
        }
        let stream = if x.is_multiple_of(3) {
            "stderr"
        } else {
            "stdout"
        };
        let frac = ["", ".5", ".123456789", ".1234567891"][(x % 4) as usize];
        let time = format!("2024-02-{:02}T{:02}:04:05{frac}Z", 1 + x % 29, x % 24);
        lines.push(match i % 11 {
            // the keys in another order, with whitespace
            3 => format!(r#" {{ "time" : "{time}", "stream":"{stream}" , "log":"{log}" }} "#),
            // another key: the general parser reads it, the extra key stays an attribute
            7 => format!(
                r#"{{"log":"{log}","stream":"{stream}","attrs":{{"tag":"x"}},"time":"{time}"}}"#
            ),
            _ => docker(&log, stream, &time),
        });
    }
    let ((fast, fast_stats), (general, general_stats)) = both(&lines);
    assert_eq!(fast_stats.errors, 0);
    assert_eq!(general_stats.errors, 0);
    assert!(fast.len() > 2000, "{}", fast.len());
    assert_eq!(fast, general);
    let with_attrs = fast
        .iter()
        .filter(|e| e.attributes.contains_key("attrs"))
        .count();
    assert!(with_attrs > 100, "{with_attrs}");
    assert_eq!(
        fast[0].resource.get("container.id"),
        Some(&Value::Str("0123456789abcdef".into()))
    );
}

#[test]
fn attributes_named_like_the_docker_fields_are_replaced_as_before() {
    let raw = docker("hi\\n", "stdout", "2024-01-01T12:00:00Z");
    let entry = |ops: &str| {
        let mut e = line(&raw, PATH);
        for k in ["log", "stream", "time", "log.iostream"] {
            e.attributes
                .insert(k.into(), Value::Str(format!("old {k}")));
        }
        let mut p = pipeline(ops);
        run(&mut p, vec![e]).0
    };
    let fast = entry(SHORTCUT);
    assert_eq!(fast, entry(GENERAL));
    let e = &fast[0];
    assert_eq!(e.body, Some(Value::Str("hi".into())));
    assert_eq!(
        e.attributes.get("log.iostream"),
        Some(&Value::Str("stdout".into()))
    );
    for k in ["log", "stream", "time"] {
        assert!(!e.attributes.contains_key(k), "{k}");
    }
}

#[test]
fn bad_docker_lines_are_counted_and_sent_unparsed_as_before() {
    let bad = [
        // not valid JSON: an invalid escape, a lone surrogate, a raw control character,
        // a cut line, trailing text
        docker("a\\x\\n", "stdout", "2024-01-01T12:00:00Z"),
        docker("a\\ud83d\\n", "stdout", "2024-01-01T12:00:00Z"),
        docker("a\tb\\n", "stdout", "2024-01-01T12:00:00Z"),
        r#"{"log":"a\n","stream":"stdout","time":"2024-01-01T12:00:00Z""#.to_string(),
        docker("a\\n", "stdout", "2024-01-01T12:00:00Z") + " x",
        // valid JSON the container operator cannot use: a bad time, no time, no stream
        docker("a\\n", "stdout", "2024-13-01T12:00:00Z"),
        r#"{"log":"a\n","stream":"stdout"}"#.to_string(),
        r#"{"log":"a\n","time":"2024-01-01T12:00:00Z"}"#.to_string(),
    ];
    let mut p = pipeline(SHORTCUT);
    let (out, stats) = run(&mut p, bad.iter().map(|l| line(l, PATH)).collect());
    assert_eq!(stats.errors, bad.len() as u64);
    assert_eq!(stats.dropped, 0);
    let bodies: Vec<_> = out.iter().map(|e| e.body.clone()).collect();
    let mut expected: Vec<_> = bad.iter().map(|l| Some(Value::Str(l.clone()))).collect();
    // without `stream`, the time and `log` had already been taken when the error came
    expected[7] = Some(Value::Str("a\n".into()));
    assert_eq!(bodies, expected, "on_error: send keeps the line as it was");
    assert!(out[..7].iter().all(|e| e.timestamp.is_none()));
    assert!(out[7].timestamp.is_some());

    let mut p = pipeline("[{type: container, format: docker, on_error: drop_quiet}]");
    let (out, stats) = run(&mut p, bad.iter().map(|l| line(l, PATH)).collect());
    assert!(out.is_empty());
    assert_eq!(stats.dropped, bad.len() as u64);
}
