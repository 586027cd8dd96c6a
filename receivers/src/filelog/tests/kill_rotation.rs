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
    /// Every 7th record is a Python traceback on stderr, four Docker lines, the sequence
    /// number on the last one.
    tracebacks: bool,
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
            tracebacks: false,
            max_files,
            written: 0,
            files: vec![(Vec::new(), true)],
        }
    }

    fn line(&self, i: usize) -> String {
        let json = |log: &str, stream: &str| {
            format!("{{\"log\":\"{log}\\n\",\"stream\":\"{stream}\",\"time\":\"2026-12-02T19:03:40.123456789Z\"}}\n")
        };
        if self.tracebacks && i.is_multiple_of(7) {
            [
                json("Traceback (most recent call last):", "stderr"),
                json(
                    "  File \\\"/app/orders.py\\\", line 42, in place_order",
                    "stderr",
                ),
                json("    charge(order)", "stderr"),
                json(
                    &format!("ValueError: payment declined seq={i:06}"),
                    "stderr",
                ),
            ]
            .concat()
        } else {
            // about the size of a Docker json-file line of a structlog service
            json(
                &format!(
                    "seq={i:06} level='info' event='order placed' order_id='o-{i}' logger='orders'"
                ),
                "stdout",
            )
        }
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
            text.push_str(&self.line(self.written));
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

/// The scenario's operators: Docker's json-file lines parsed, stderr tracebacks joined.
const OPERATORS: &str = r#"
operators:
  - type: container
    format: docker
  - type: router
    routes:
      - output: tracebacks
        expr: 'attributes["log.iostream"] == "stderr"'
    default: out
  - type: recombine
    id: tracebacks
    combine_field: body
    combine_with: "\n"
    is_first_entry: 'body matches "^Traceback"'
    force_flush_period: 1s
    output: out
  - type: noop
    id: out
"#;

fn agent(
    dir: &TempDir,
    storage: &MemoryStorage,
    sink: &Arc<Sink>,
    start_at: &str,
    operators: bool,
) -> Running {
    let extra = format!(
        "start_at: {start_at}{}",
        if operators { OPERATORS } else { "\n" }
    );
    start(&cfg(&dir.glob("*-json.log*"), &extra), sink, Some(storage))
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

#[derive(Default, Clone, Copy)]
struct Case {
    /// Lines in the live file, delivered and checkpointed before the kill.
    before: usize,
    /// Then a rotation and this many lines in the new live file, delivered too (0: none).
    fresh: usize,
    /// Then this many lines read but refused by the next consumer when the kill comes.
    unaccepted: usize,
    /// Lines written to the file live at the kill while the receiver is down.
    tail: usize,
    /// Rotations while down, each followed by `per_file` lines in the new live file.
    rotations: usize,
    per_file: usize,
    /// Stderr tracebacks joined by `recombine` (held entries hold the checkpoint back).
    tracebacks: bool,
}

/// Run a case: every line not rotated out of existence arrives, at least once. Returns how
/// often each line arrived, and the log.
async fn kill_rotate_restart(case: Case) -> (BTreeMap<usize, usize>, DockerLog) {
    let dir = TempDir::new("kill-rotate");
    let storage = MemoryStorage::default();
    let mut log = DockerLog::new(&dir, 3);
    log.tracebacks = case.tracebacks;
    let sink = Arc::new(Sink::default());
    let r = agent(&dir, &storage, &sink, "beginning", case.tracebacks);
    log.write(case.before);
    if case.fresh > 0 {
        settled(&r, &sink, &log).await;
        log.rotate();
        log.write(case.fresh);
    }
    settled(&r, &sink, &log).await;
    assert!(
        r.counters.checkpoints_saved.load(Ordering::SeqCst) > 0,
        "a checkpoint was stored"
    );
    if case.unaccepted > 0 {
        sink.always_refuse.store(true, Ordering::SeqCst);
        log.write(case.unaccepted);
        let last = log.written - 1;
        wait_for("read and refused", || {
            sink.offered
                .lock()
                .unwrap()
                .iter()
                .any(|b| DockerLog::seq(b) == Some(last))
        })
        .await;
    }
    r.kill().await;

    log.write(case.tail);
    for _ in 0..case.rotations {
        log.rotate();
        log.write(case.per_file);
    }

    let sink2 = Arc::new(Sink::default());
    let r = agent(&dir, &storage, &sink2, "end", case.tracebacks);
    let deleted = log.deleted();
    let want: BTreeSet<usize> = (0..log.written).filter(|i| !deleted.contains(i)).collect();
    let got = || {
        seqs(&[&sink, &sink2])
            .keys()
            .copied()
            .collect::<BTreeSet<_>>()
    };
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
    let missing: Vec<usize> = want
        .iter()
        .copied()
        .filter(|i| !all.contains_key(i))
        .collect();
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

const BASE: Case = Case {
    before: 60,
    fresh: 0,
    unaccepted: 0,
    tail: 40,
    rotations: 1,
    per_file: 50,
    tracebacks: false,
};

#[tokio::test]
async fn one_rotation_while_killed() {
    let (all, _) = kill_rotate_restart(BASE).await;
    assert_eq!(duplicates(&all), 0);
}

#[tokio::test]
async fn two_rotations_while_killed() {
    let (all, _) = kill_rotate_restart(Case {
        rotations: 2,
        ..BASE
    })
    .await;
    assert_eq!(duplicates(&all), 0);
}

#[tokio::test]
async fn the_live_file_was_new_and_short_at_the_kill() {
    // the file live at the kill held fewer bytes than a fingerprint
    for rotations in [1, 2] {
        let (all, _) = kill_rotate_restart(Case {
            fresh: 3,
            rotations,
            ..BASE
        })
        .await;
        assert_eq!(duplicates(&all), 0);
    }
}

#[tokio::test]
async fn three_rotations_delete_the_file_live_at_the_kill() {
    // the file live at the kill is gone: its lines written after the kill are lost (they were
    // rotated out of existence); everything still on disk arrives
    let (_, log) = kill_rotate_restart(Case {
        rotations: 3,
        ..BASE
    })
    .await;
    assert!(!log.deleted().is_empty());
}

#[tokio::test]
async fn a_backlog_larger_than_one_poll_across_rotations() {
    // more than a poll reads (10,000 lines): the first polls after the start stop mid-file
    let (all, _) = kill_rotate_restart(Case {
        before: 200,
        tail: 4_000,
        rotations: 2,
        per_file: 6_000,
        ..BASE
    })
    .await;
    assert_eq!(duplicates(&all), 0);
}

#[tokio::test]
async fn lines_read_but_not_accepted_at_the_kill_are_read_again_after_rotations() {
    for rotations in [1, 2] {
        for fresh in [0, 3] {
            let (all, _) = kill_rotate_restart(Case {
                fresh,
                unaccepted: 30,
                rotations,
                ..BASE
            })
            .await;
            assert!(duplicates(&all) <= 30, "{}", duplicates(&all));
        }
    }
}

#[tokio::test]
async fn held_tracebacks_across_rotations_and_a_kill() {
    // a traceback that recombine holds at the kill keeps the checkpoint before it
    for rotations in [1, 2] {
        for (fresh, unaccepted) in [(0, 0), (3, 0), (0, 30), (3, 30), (1, 1)] {
            kill_rotate_restart(Case {
                fresh,
                unaccepted,
                rotations,
                tracebacks: true,
                ..BASE
            })
            .await;
        }
    }
}

#[tokio::test]
async fn held_tracebacks_with_a_backlog_larger_than_one_poll() {
    kill_rotate_restart(Case {
        before: 200,
        tail: 4_000,
        rotations: 2,
        per_file: 6_000,
        tracebacks: true,
        ..BASE
    })
    .await;
}

#[tokio::test]
async fn docker_rotations_between_polls_while_running() {
    // Go's default poll_interval (200ms) and one or two rotations between two polls (three
    // would delete a file created after the last poll before any poll saw it)
    for tracebacks in [false, true] {
        let dir = TempDir::new("docker-running");
        let storage = MemoryStorage::default();
        let mut log = DockerLog::new(&dir, 3);
        log.tracebacks = tracebacks;
        let sink = Arc::new(Sink::default());
        let extra = format!(
            "start_at: beginning{}",
            if tracebacks { OPERATORS } else { "\n" }
        );
        let yaml = cfg(&dir.glob("*-json.log*"), &extra)
            .replace("poll_interval: 20ms", "poll_interval: 200ms");
        let r = start(&yaml, &sink, Some(&storage));
        for round in 0..30 {
            log.write(7 + round % 5);
            if round % 2 == 1 {
                log.rotate();
            }
            tokio::time::sleep(std::time::Duration::from_millis(70)).await;
        }
        let want: BTreeSet<usize> = (0..log.written).collect();
        wait_for("every line delivered", || {
            seqs(&[&sink]).keys().copied().collect::<BTreeSet<_>>() == want
        })
        .await;
        polls(&r.counters, 2).await;
        assert_eq!(duplicates(&seqs(&[&sink])), 0);
        r.stop().await;
    }
}

#[test]
fn a_checkpointed_file_rotated_out_of_existence_is_counted() {
    use crate::filelog::tailer::Tailer;
    let dir = TempDir::new("gone");
    let mut log = DockerLog::new(&dir, 3);
    let cfg = parse(&cfg(&dir.glob("*-json.log*"), "start_at: beginning"));
    let tailer = |cfg: &FileLogConfig| {
        let pipeline = stanza::Pipeline::build(&cfg.operators, stanza::BuildMode::Run).unwrap();
        let mut t = Tailer::new(cfg, pipeline).unwrap();
        t.set_own_container(None);
        t
    };
    let mut first = tailer(&cfg);
    log.write(20);
    let out = first.poll(std::time::Instant::now());
    assert_eq!(out.logs.len(), 20);
    let checkpoint = out.checkpoint;
    drop(first); // killed
    log.write(5);
    for _ in 0..3 {
        log.rotate();
        log.write(5);
    }
    let mut second = tailer(&cfg);
    second.load(checkpoint);
    let mut read = 0;
    for _ in 0..4 {
        read += second.poll(std::time::Instant::now()).logs.len();
    }
    // the three files on disk, 5 lines each; the file of the checkpoint is gone with the 5
    // lines written to it after the kill, and that is counted
    assert_eq!(read, 15);
    assert_eq!(second.checkpointed_gone, 1);

    // a restart that finds its files again counts nothing
    let mut third = tailer(&cfg);
    let out = second.poll(std::time::Instant::now());
    third.load(out.checkpoint);
    for _ in 0..4 {
        assert_eq!(third.poll(std::time::Instant::now()).logs.len(), 0);
    }
    assert_eq!(third.checkpointed_gone, 0);
}

#[tokio::test]
async fn a_line_half_written_at_the_kill_arrives_whole_after_rotations() {
    for rotations in [1, 2] {
        let dir = TempDir::new("half-line");
        let storage = MemoryStorage::default();
        let mut log = DockerLog::new(&dir, 3);
        let sink = Arc::new(Sink::default());
        // the half line must not be flushed on its own before the kill
        let yaml = |start_at: &str| {
            cfg(&dir.glob("*-json.log*"), &format!("start_at: {start_at}"))
                .replace("force_flush_period: 150ms", "force_flush_period: 30s")
        };
        let r = start(&yaml("beginning"), &sink, Some(&storage));
        log.write(10);
        let whole = log.line(log.written);
        let (head, rest) = whole.split_at(40);
        append(&log.live, head);
        settled(&r, &sink, &log).await;
        r.kill().await;

        append(&log.live, rest);
        if let Some(f) = log.files.last_mut() {
            f.0.push(log.written);
        }
        log.written += 1;
        log.write(5);
        for _ in 0..rotations {
            log.rotate();
            log.write(5);
        }
        let sink2 = Arc::new(Sink::default());
        let r = start(&yaml("end"), &sink2, Some(&storage));
        let n = log.written;
        wait_for("every line", || seqs(&[&sink, &sink2]).len() == n).await;
        polls(&r.counters, 3).await;
        r.stop().await;
        let all = seqs(&[&sink, &sink2]);
        assert_eq!(duplicates(&all), 0);
        let bodies = sink2.bodies();
        assert!(
            bodies.iter().any(|b| *b == whole.trim_end()),
            "the half-written line arrives whole: {:?}",
            &bodies[..bodies.len().min(3)]
        );
    }
}
