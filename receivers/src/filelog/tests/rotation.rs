//! Rotation: rename (the old file read to its end), copytruncate (the copy is not read
//! again, the truncated file from 0), and a new file starting with the same bytes.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::*;

fn assert_exactly_once(bodies: &[String], want: usize) {
    let set: BTreeSet<&String> = bodies.iter().collect();
    let mut seen = BTreeSet::new();
    let dups: Vec<&String> = bodies.iter().filter(|b| !seen.insert(*b)).collect();
    assert!(
        dups.is_empty(),
        "{} duplicated, e.g. {:?}",
        dups.len(),
        &dups[..dups.len().min(5)]
    );
    assert_eq!(bodies.len(), want, "{} records", bodies.len());
    for i in 0..want {
        assert!(set.contains(&format!("line {i:05}")), "line {i} lost");
    }
}

/// Write `count` lines, rotating with `rotate` every `every` lines, while the receiver reads.
async fn write_with_rotation(
    path: &std::path::Path,
    count: usize,
    every: usize,
    mut rotate: impl FnMut(usize),
) {
    for i in 0..count {
        append(path, &format!("line {i:05}\n"));
        if i % every == every - 1 {
            rotate(i);
        }
        if i % 7 == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        }
    }
}

#[tokio::test]
async fn rename_rotation_out_of_the_pattern_loses_and_repeats_nothing() {
    let dir = TempDir::new("rename");
    let f = dir.path("app.log");
    let sink = Arc::new(Sink::default());
    // Docker-style: only the live file matches; `app.log.1` is out of the pattern
    let r = start(
        &cfg(&dir.glob("app.log"), "start_at: beginning"),
        &sink,
        None,
    );
    let dir_path = dir.0.clone();
    write_with_rotation(&f, 600, 150, |i| {
        std::fs::rename(
            dir_path.join("app.log"),
            dir_path.join(format!("app.log.{i}")),
        )
        .unwrap();
    })
    .await;
    wait_records(&sink, 600).await;
    polls(&r.counters, 5).await;
    assert_exactly_once(&sink.bodies(), 600);
    r.stop().await;
}

#[tokio::test]
async fn rename_rotation_within_the_pattern_follows_the_inode() {
    let dir = TempDir::new("rename-in");
    let f = dir.path("app-json.log");
    let sink = Arc::new(Sink::default());
    // both `app-json.log` and `app-json.log.1` match: the renamed file continues at its offset
    let r = start(
        &cfg(&dir.glob("app-json.log*"), "start_at: beginning"),
        &sink,
        None,
    );
    let dir_path = dir.0.clone();
    write_with_rotation(&f, 400, 100, |_| {
        let _ = std::fs::remove_file(dir_path.join("app-json.log.1"));
        std::fs::rename(
            dir_path.join("app-json.log"),
            dir_path.join("app-json.log.1"),
        )
        .unwrap();
    })
    .await;
    wait_records(&sink, 400).await;
    polls(&r.counters, 5).await;
    assert_exactly_once(&sink.bodies(), 400);
    r.stop().await;
}

#[tokio::test]
async fn copytruncate_rotation_reads_the_new_content_from_zero_and_not_the_copy() {
    let dir = TempDir::new("copytruncate");
    let f = dir.path("app.log");
    let sink = Arc::new(Sink::default());
    let r = start(
        &cfg(&dir.glob("app.log*"), "start_at: beginning"),
        &sink,
        None,
    );
    let dir_path = dir.0.clone();
    let mut n = 0;
    write_with_rotation(&f, 400, 100, |_| {
        n += 1;
        let copy = dir_path.join(format!("app.log.{n}"));
        std::fs::copy(dir_path.join("app.log"), copy).unwrap();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(dir_path.join("app.log"))
            .unwrap();
        file.set_len(0).unwrap();
    })
    .await;
    wait_records(&sink, 400).await;
    polls(&r.counters, 5).await;
    assert_exactly_once(&sink.bodies(), 400);
    r.stop().await;
}

#[tokio::test]
async fn a_new_file_with_the_same_first_bytes_is_not_mistaken_for_the_old_one() {
    let dir = TempDir::new("samehead");
    let f = dir.path("svc.log");
    let header = "=== service starting, version 1.2.3 ===\n";
    append(&f, &format!("{header}first run a\nfirst run b\n"));
    let sink = Arc::new(Sink::default());
    let r = start(
        &cfg(
            &dir.glob("svc.log"),
            "start_at: beginning\nfingerprint_size: 16",
        ),
        &sink,
        None,
    );
    wait_records(&sink, 3).await;
    // the service restarts: the old file is replaced by a new one with the same header
    std::fs::rename(&f, dir.path("svc.old")).unwrap();
    append(&f, &format!("{header}second run\n"));
    let bodies = wait_records(&sink, 5).await;
    assert_eq!(
        bodies,
        vec![
            header.trim_end().to_string(),
            "first run a".into(),
            "first run b".into(),
            header.trim_end().to_string(),
            "second run".into()
        ]
    );
    r.stop().await;
}

#[tokio::test]
async fn truncation_in_place_restarts_at_zero() {
    let dir = TempDir::new("truncate");
    let f = dir.path("a.log");
    append(&f, "aaaa 1\naaaa 2\naaaa 3\n");
    let sink = Arc::new(Sink::default());
    let r = start(
        &cfg(
            &dir.glob("a.log"),
            "start_at: beginning\nfingerprint_size: 16",
        ),
        &sink,
        None,
    );
    wait_records(&sink, 3).await;
    // rewritten shorter, with the same first bytes
    std::fs::write(&f, "aaaa 1\n").unwrap();
    let bodies = wait_records(&sink, 4).await;
    assert_eq!(bodies[3], "aaaa 1");
    r.stop().await;
}
