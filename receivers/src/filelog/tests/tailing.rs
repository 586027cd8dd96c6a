//! Tailing: start_at, appends, force flush, max_log_size, multiline, encodings, attributes,
//! gzip, delete_after_read, globs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

#[tokio::test]
async fn start_at_beginning_reads_existing_lines_then_appends() {
    let dir = TempDir::new("begin");
    let f = dir.path("a.log");
    append(&f, "one\ntwo\n");
    let sink = Arc::new(Sink::default());
    let r = start(&cfg(&dir.glob("*.log"), "start_at: beginning"), &sink, None);
    assert_eq!(wait_records(&sink, 2).await, vec!["one", "two"]);
    append(&f, "three\n");
    assert_eq!(wait_records(&sink, 3).await, vec!["one", "two", "three"]);
    let rec = &sink.records()[0];
    assert_eq!(attr(rec, "log.file.name").as_deref(), Some("a.log"));
    assert!(
        attr(rec, "log.file.path").is_none(),
        "include_file_path defaults to false"
    );
    assert!(rec.observed_time_unix_nano > 0);
    assert_eq!(rec.time_unix_nano, 0);
    r.stop().await;
}

#[tokio::test]
async fn start_at_end_skips_existing_content_but_new_files_are_read_whole() {
    let dir = TempDir::new("end");
    let f = dir.path("a.log");
    append(&f, "old\n");
    let sink = Arc::new(Sink::default());
    let r = start(&cfg(&dir.glob("*.log"), ""), &sink, None);
    polls(&r.counters, 2).await;
    append(&f, "new\n");
    // a file that appears after the first poll is read from its beginning (Go fact)
    append(&dir.path("b.log"), "b1\nb2\n");
    wait_records(&sink, 3).await;
    let mut bodies = sink.bodies();
    bodies.sort();
    assert_eq!(bodies, vec!["b1", "b2", "new"]);
    r.stop().await;
}

#[tokio::test]
async fn partial_last_line_is_flushed_after_force_flush_period() {
    let dir = TempDir::new("flush");
    let f = dir.path("a.log");
    let sink = Arc::new(Sink::default());
    let r = start(
        &format!(
            "include: ['{}']\npoll_interval: 20ms\nforce_flush_period: 300ms\nstart_at: beginning\n",
            dir.glob("*.log")
        ),
        &sink,
        None,
    );
    polls(&r.counters, 1).await;
    let written = Instant::now();
    append(&f, "no newline yet");
    let bodies = wait_records(&sink, 1).await;
    assert!(
        written.elapsed() >= Duration::from_millis(300),
        "flushed before force_flush_period"
    );
    assert_eq!(bodies, vec!["no newline yet"]);
    // the rest of that line, once written, is a new record; nothing is repeated
    append(&f, " and more\nnext\n");
    assert_eq!(
        wait_records(&sink, 3).await,
        vec!["no newline yet", "and more", "next"]
    );
    r.stop().await;
}

#[tokio::test]
async fn max_log_size_splits_by_default_and_truncates_when_asked() {
    let dir = TempDir::new("maxsize");
    append(&dir.path("a.log"), &format!("{}\nshort\n", "x".repeat(40)));
    let sink = Arc::new(Sink::default());
    let r = start(
        &cfg(&dir.glob("a.log"), "start_at: beginning\nmax_log_size: 16"),
        &sink,
        None,
    );
    assert_eq!(
        wait_records(&sink, 4).await,
        vec![
            "x".repeat(16),
            "x".repeat(16),
            "x".repeat(8),
            "short".to_string()
        ]
    );
    r.stop().await;

    append(&dir.path("b.log"), &format!("{}\nshort\n", "y".repeat(40)));
    let sink = Arc::new(Sink::default());
    let r = start(
        &cfg(
            &dir.glob("b.log"),
            "start_at: beginning\nmax_log_size: 16\nmax_log_size_behavior: truncate",
        ),
        &sink,
        None,
    );
    assert_eq!(
        wait_records(&sink, 2).await,
        vec!["y".repeat(16), "short".to_string()]
    );
    polls(&r.counters, 3).await;
    assert_eq!(sink.records().len(), 2);
    r.stop().await;
}

#[tokio::test]
async fn multiline_line_start_pattern_joins_stack_traces() {
    let dir = TempDir::new("multiline");
    let f = dir.path("a.log");
    append(
        &f,
        "2024-01-01 ERROR boom\n  at a.b(C.java:1)\n  at d.e(F.java:2)\n2024-01-01 INFO ok\n",
    );
    let sink = Arc::new(Sink::default());
    let r = start(
        &cfg(
            &dir.glob("*.log"),
            "start_at: beginning\nmultiline:\n  line_start_pattern: '^\\d{4}-\\d{2}-\\d{2}'",
        ),
        &sink,
        None,
    );
    // the last entry has no next start: it is flushed after force_flush_period
    let bodies = wait_records(&sink, 2).await;
    assert_eq!(
        bodies,
        vec![
            "2024-01-01 ERROR boom\n  at a.b(C.java:1)\n  at d.e(F.java:2)",
            "2024-01-01 INFO ok"
        ]
    );
    r.stop().await;
}

#[tokio::test]
async fn utf16le_file_is_decoded() {
    let dir = TempDir::new("utf16");
    let text = "héllo wörld\nzweite Zeile\n";
    let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    std::fs::write(dir.path("a.log"), bytes).unwrap();
    let sink = Arc::new(Sink::default());
    let r = start(
        &cfg(
            &dir.glob("*.log"),
            "start_at: beginning\nencoding: utf-16le",
        ),
        &sink,
        None,
    );
    assert_eq!(
        wait_records(&sink, 2).await,
        vec!["héllo wörld", "zweite Zeile"]
    );
    r.stop().await;
}

#[tokio::test]
async fn file_attributes_record_numbers_and_static_attributes() {
    let dir = TempDir::new("attrs");
    let f = dir.path("svc.log");
    append(&f, "  padded  \nb\n");
    let sink = Arc::new(Sink::default());
    let r = start(
        &cfg(
            &dir.glob("*.log"),
            "start_at: beginning\ninclude_file_path: true\ninclude_file_name_resolved: true\ninclude_file_record_number: true\ninclude_file_record_offset: true\npreserve_leading_whitespaces: true\nattributes: {team: core}\nresource: {service.name: svc}",
        ),
        &sink,
        None,
    );
    let bodies = wait_records(&sink, 2).await;
    assert_eq!(bodies, vec!["  padded", "b"]);
    let recs = sink.records();
    assert_eq!(
        attr(&recs[0], "log.file.path").as_deref(),
        Some(f.to_str().unwrap())
    );
    assert_eq!(
        attr(&recs[0], "log.file.name_resolved").as_deref(),
        Some("svc.log")
    );
    assert_eq!(
        attr(&recs[0], "log.file.record_number").as_deref(),
        Some("1")
    );
    assert_eq!(
        attr(&recs[1], "log.file.record_number").as_deref(),
        Some("2")
    );
    assert_eq!(
        attr(&recs[1], "log.file.record_offset").as_deref(),
        Some("11")
    );
    assert_eq!(attr(&recs[0], "team").as_deref(), Some("core"));
    let batch = &sink.batches()[0];
    let res = batch.as_logs().unwrap().resource_logs[0]
        .resource
        .clone()
        .unwrap();
    assert_eq!(res.attributes[0].key, "service.name");
    r.stop().await;
}

#[tokio::test]
async fn gzip_files_are_read() {
    use std::io::Write;
    let dir = TempDir::new("gzip");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(b"zipped one\nzipped two\n").unwrap();
    std::fs::write(dir.path("a.log.gz"), enc.finish().unwrap()).unwrap();
    let sink = Arc::new(Sink::default());
    let r = start(
        &cfg(&dir.glob("*.gz"), "start_at: beginning\ncompression: gzip"),
        &sink,
        None,
    );
    assert_eq!(
        wait_records(&sink, 2).await,
        vec!["zipped one", "zipped two"]
    );
    polls(&r.counters, 3).await;
    assert_eq!(sink.records().len(), 2, "a gzip file is read once");
    r.stop().await;
}

#[tokio::test]
async fn globs_with_double_star_and_exclude() {
    let dir = TempDir::new("globs");
    std::fs::create_dir_all(dir.path("x/y")).unwrap();
    append(&dir.path("x/y/deep.log"), "deep\n");
    append(&dir.path("top.log"), "top\n");
    append(&dir.path("x/skip.log"), "skipped\n");
    let sink = Arc::new(Sink::default());
    let r = start(
        &format!(
            "include: ['{}']\nexclude: ['{}']\npoll_interval: 20ms\nstart_at: beginning\n",
            dir.glob("**/*.log"),
            dir.glob("x/skip.log")
        ),
        &sink,
        None,
    );
    wait_records(&sink, 2).await;
    polls(&r.counters, 2).await;
    let mut b = sink.bodies();
    b.sort();
    assert_eq!(b, vec!["deep", "top"]);
    r.stop().await;
}

#[tokio::test]
async fn delete_after_read_removes_files_once_accepted() {
    let dir = TempDir::new("delete");
    let f = dir.path("a.log");
    append(&f, "bye\n");
    let sink = Arc::new(Sink::default());
    let r = start(
        &cfg(
            &dir.glob("*.log"),
            "start_at: beginning\ndelete_after_read: true",
        ),
        &sink,
        None,
    );
    assert_eq!(wait_records(&sink, 1).await, vec!["bye"]);
    wait_for("file deleted", || !f.exists()).await;
    r.stop().await;
}

/// The collector's own Docker log is not read (unless `include_own_container_logs`); the
/// other containers' logs are.
#[test]
fn the_own_container_log_is_skipped() {
    use crate::filelog::own_container::OwnContainer;
    use crate::filelog::tailer::Tailer;
    use stanza::operators::Pipeline;
    let me = "3f1c2a0b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";
    let other = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let dir = TempDir::new("own");
    for id in [me, other] {
        std::fs::create_dir_all(dir.path(&format!("containers/{id}"))).unwrap();
        append(
            &dir.path(&format!("containers/{id}/{id}-json.log")),
            &format!("line of {id}\n"),
        );
    }
    let glob = dir.glob("containers/*/*-json.log");
    let poll = |extra: &str, own: Option<OwnContainer>| {
        let cfg = parse(&cfg(&glob, &format!("start_at: beginning\n{extra}")));
        let mut t = Tailer::new(&cfg, Pipeline::default()).unwrap();
        if cfg.include_own_container_logs {
            assert!(t.own_container().is_none(), "no detection when allowed");
        } else {
            t.set_own_container(own);
        }
        t.poll(std::time::Instant::now()).logs.len()
    };
    let own = || {
        Some(OwnContainer {
            id: me.into(),
            source: "test",
        })
    };
    assert_eq!(poll("", own()), 1, "only the other container's line");
    assert_eq!(poll("", None), 2, "outside a container everything is read");
    assert_eq!(poll("include_own_container_logs: true\n", own()), 2);
}

/// Within a poll the older file is read first: a rotated `x.log.1` still matched by the
/// pattern comes before the new `x.log`, whatever their names' order.
#[test]
fn older_files_are_read_first() {
    use crate::filelog::tailer::Tailer;
    use stanza::operators::Pipeline;
    let dir = TempDir::new("order");
    append(&dir.path("x.log.1"), "older\n");
    std::thread::sleep(Duration::from_millis(20));
    append(&dir.path("x.log"), "newer\n");
    let cfg = parse(&cfg(&dir.glob("x.log*"), "start_at: beginning\n"));
    let mut t = Tailer::new(&cfg, Pipeline::default()).unwrap();
    let req = t.poll(Instant::now()).logs.into_request();
    let bodies: Vec<String> = req.resource_logs[0].scope_logs[0]
        .log_records
        .iter()
        .map(body)
        .collect();
    assert_eq!(bodies, ["older", "newer"]);
}
