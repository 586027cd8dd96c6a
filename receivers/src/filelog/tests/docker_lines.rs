//! Docker json-file lines cut across the reader's blocks arrive whole through the
//! `container` operator.

use std::sync::Arc;

use super::*;

fn docker(log: &str, stream: &str, time: &str) -> String {
    format!(r#"{{"log":"{log}","stream":"{stream}","time":"{time}"}}"#)
}

#[tokio::test]
async fn lines_cut_across_read_blocks_arrive_whole() {
    let dir = TempDir::new("blocks");
    let f = dir.path("c-json.log");
    let mut text = String::new();
    let mut expected = Vec::new();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..4000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // lengths from a few bytes to several KiB, and one line longer than a read block
        let len = if i == 1234 {
            300 * 1024
        } else {
            (x % 3000) as usize
        };
        let word: String = (0..len)
            .map(|k| char::from(b'a' + ((k as u64 ^ x) % 26) as u8))
            .collect();
        let log = format!("{i} {word} caf\u{e9} \\\"q\\\"\\n");
        expected.push(format!("{i} {word} caf\u{e9} \"q\""));
        text.push_str(&docker(&log, "stdout", "2024-01-01T12:00:00.5Z"));
        text.push('\n');
    }
    assert!(text.len() > 6 * 1024 * 1024);
    std::fs::write(&f, &text).unwrap();
    let sink = Arc::new(Sink::default());
    let r = start(
        &cfg(
            &dir.glob("*-json.log"),
            "start_at: beginning\noperators:\n  - type: container\n",
        ),
        &sink,
        None,
    );
    let bodies = wait_records(&sink, expected.len()).await;
    r.stop().await;
    assert_eq!(bodies.len(), expected.len());
    for (i, (got, want)) in bodies.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "line {i}");
    }
    assert_eq!(r_errors(&sink), 0);
}

/// Records whose body still looks like a Docker line (an entry the operator failed on).
fn r_errors(sink: &Sink) -> usize {
    sink.bodies().iter().filter(|b| b.starts_with('{')).count()
}
