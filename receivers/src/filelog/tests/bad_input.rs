//! Bad input never panics or stalls: binary files, invalid UTF-8, a 10 MiB line.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::*;

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
