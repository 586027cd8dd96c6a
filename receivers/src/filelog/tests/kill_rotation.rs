//! A kill (no final flush, no final checkpoint) and a restart with Docker json-file rotations
//! in between: `max-file` files, the live `<id>-json.log`, `.1`, `.2`; each rotation removes
//! the oldest, renames `.1` to `.2` and the live file to `.1`, and creates a new live file.
//! Every line still on disk at the restart arrives at least once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use pipeline_api::storage::MemoryStorage;

use super::*;

/// A container's json-file log as Docker keeps it.
struct DockerLog {
    live: PathBuf,
    max_files: usize,
    written: usize,
    /// The lines of each file ever created, by creation order, and whether it still exists.
    files: Vec<(Vec<usize>, bool)>,
}

impl DockerLog {
    fn new(dir: &TempDir, max_files: usize) -> DockerLog {
        let live = dir.path("c0ffee-json.log");
        std::fs::File::create(&live).unwrap();
        DockerLog {
            live,
            max_files,
            written: 0,
            files: vec![(Vec::new(), true)],
        }
    }

    fn line(i: usize) -> String {
        // about the size of a Docker json-file line of a structlog service
        format!(
            "{{\"log\":\"seq={i:06} level='info' event='order placed' order_id='o-{i}' logger='orders'\\n\",\"stream\":\"stdout\",\"time\":\"2026-12-02T19:03:40.123456789Z\"}}"
        )
    }

    fn seq(body: &str) -> Option<usize> {
        let at = body.find("seq=")? + 4;
        body.get(at..at + 6)?.parse().ok()
    }

    fn path(&self, n: usize) -> PathBuf {
        if n == 0 {
            self.live.clone()
        } else {
            PathBuf::from(format!("{}.{n}", self.live.display()))
        }
    }

    /// Append `n` lines to the live file, in one write.
    fn write(&mut self, n: usize) {
        let mut text = String::new();
        for _ in 0..n {
            text.push_str(&Self::line(self.written));
            text.push('\n');
            if let Some(f) = self.files.last_mut() {
                f.0.push(self.written);
            }
            self.written += 1;
        }
        append(&self.live, &text);
    }

    /// Docker's rotation (`max-file` > 1).
    fn rotate(&mut self) {
        let oldest = self.path(self.max_files - 1);
        if std::fs::remove_file(&oldest).is_ok() {
            if let Some(f) = self.files.iter_mut().find(|f| f.1) {
                f.1 = false;
            }
        }
        for n in (1..self.max_files - 1).rev() {
            let _ = std::fs::rename(self.path(n), self.path(n + 1));
        }
        std::fs::rename(&self.live, self.path(1)).unwrap();
        std::fs::File::create(&self.live).unwrap();
        self.files.push((Vec::new(), true));
    }

    /// Lines in files that were deleted.
    fn deleted(&self) -> BTreeSet<usize> {
        self.files
            .iter()
            .filter(|f| !f.1)
            .flat_map(|f| f.0.iter().copied())
            .collect()
    }
}

fn seqs(sinks: &[&Sink]) -> BTreeMap<usize, usize> {
    let mut m = BTreeMap::new();
    for s in sinks {
        for b in s.bodies() {
            let n = DockerLog::seq(&b).unwrap_or_else(|| panic!("a whole line: {b:?}"));
            *m.entry(n).or_default() += 1;
        }
    }
    m
}

fn agent(dir: &TempDir, storage: &MemoryStorage, sink: &Arc<Sink>, start_at: &str) -> Running {
    start(
        &cfg(&dir.glob("*-json.log*"), &format!("start_at: {start_at}")),
        sink,
        Some(storage),
    )
}

/// Wait until the sink holds every line written so far and that checkpoint is stored.
async fn settled(r: &Running, sink: &Sink, log: &DockerLog) {
    let want: BTreeSet<usize> = (0..log.written).collect();
    wait_for("every line delivered", || {
        seqs(&[sink]).keys().copied().collect::<BTreeSet<_>>() == want
    })
    .await;
    // the poll that delivered the last line stored its checkpoint before the next poll
    polls(&r.counters, 2).await;
}

/// Start, write with `running` (a live file of `before` lines, then `fresh` lines in a new
/// one after a rotation when `fresh` > 0), kill, then rotate `rotations` times while down
/// with `per_file` lines in each new file (and `tail` lines more in the file live at the kill
/// first), start again: every line not rotated out of existence arrives, at least once.
async fn kill_rotate_restart(
    before: usize,
    fresh: usize,
    tail: usize,
    rotations: usize,
    per_file: usize,
) -> (BTreeMap<usize, usize>, DockerLog) {
    let dir = TempDir::new("kill-rotate");
    let storage = MemoryStorage::default();
    let mut log = DockerLog::new(&dir, 3);
    let sink = Arc::new(Sink::default());
    let r = agent(&dir, &storage, &sink, "beginning");
    log.write(before);
    if fresh > 0 {
        settled(&r, &sink, &log).await;
        log.rotate();
        log.write(fresh);
    }
    settled(&r, &sink, &log).await;
    let saved = r.counters.checkpoints_saved.load(Ordering::SeqCst);
    assert!(saved > 0, "a checkpoint was stored");
    r.kill().await;

    log.write(tail);
    for _ in 0..rotations {
        log.rotate();
        log.write(per_file);
    }

    let sink2 = Arc::new(Sink::default());
    let r = agent(&dir, &storage, &sink2, "end");
    let deleted = log.deleted();
    let want: BTreeSet<usize> = (0..log.written).filter(|i| !deleted.contains(i)).collect();
    let got = || seqs(&[&sink, &sink2]).keys().copied().collect::<BTreeSet<_>>();
    let arrived = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !want.is_subset(&got()) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .is_ok();
    polls(&r.counters, 5).await;
    let all = seqs(&[&sink, &sink2]);
    r.stop().await;
    let missing: Vec<usize> = want.iter().copied().filter(|i| !all.contains_key(i)).collect();
    assert!(
        arrived && missing.is_empty(),
        "{} lines missing, from {:?} to {:?} (files: {:?})",
        missing.len(),
        missing.first(),
        missing.last(),
        log.files
            .iter()
            .map(|f| (f.0.first(), f.0.last(), f.1))
            .collect::<Vec<_>>()
    );
    (all, log)
}

fn duplicates(all: &BTreeMap<usize, usize>) -> usize {
    all.values().map(|c| c - 1).sum()
}

#[tokio::test]
async fn one_rotation_while_killed() {
    let (all, _) = kill_rotate_restart(60, 0, 40, 1, 50).await;
    assert_eq!(duplicates(&all), 0);
}

#[tokio::test]
async fn two_rotations_while_killed() {
    let (all, _) = kill_rotate_restart(60, 0, 40, 2, 50).await;
    assert_eq!(duplicates(&all), 0);
}

#[tokio::test]
async fn the_live_file_was_new_and_short_at_the_kill() {
    // the file live at the kill held fewer bytes than a fingerprint
    let (all, _) = kill_rotate_restart(60, 3, 40, 1, 50).await;
    assert_eq!(duplicates(&all), 0);
}

#[tokio::test]
async fn the_live_file_was_new_and_short_at_the_kill_two_rotations() {
    let (all, _) = kill_rotate_restart(60, 3, 40, 2, 50).await;
    assert_eq!(duplicates(&all), 0);
}

#[tokio::test]
async fn three_rotations_delete_the_file_live_at_the_kill() {
    // the file live at the kill is gone: its lines written after the kill are lost (they were
    // rotated out of existence); everything still on disk arrives
    let (_, log) = kill_rotate_restart(60, 0, 40, 3, 50).await;
    assert!(!log.deleted().is_empty());
}

#[tokio::test]
async fn a_backlog_larger_than_one_poll_across_rotations() {
    // more than a poll reads (10,000 lines): the first polls after the start stop mid-file
    let (all, _) = kill_rotate_restart(200, 0, 4_000, 2, 6_000).await;
    assert!(duplicates(&all) == 0);
}
